"""The demo province with hostile values planted in its raw files, and one `placement run` of it
(issue 13): markup and script payloads as university names of the reference table, spreadsheet
formulas as 专业名称 / 所在院系 / a sheet name, and personal numbers typed into 所在院系 (an ID
number written 6-8-4 with spaces, a 学号 with hyphens, a plain 学号).

:func:`plant` changes a copy of the demo data; the run of it (``hostile_run`` in
tests/conftest.py) is made once per test session and read by the privacy and browser tests.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

AS_OF = "2023-08-31"

# university code -> name planted in raw/reference/universities.csv
SCRIPT_NAME = '福州大学<img src=x onerror="window.__pwned=1">'
LINK_NAME = "闽江学院[点我](javascript:window.__pwned=2)"
IMAGE_NAME = "泉州师范学院![图](http://127.0.0.1:9/pwned.png)"
HOSTILE_NAMES = {"10386": SCRIPT_NAME, "10395": LINK_NAME, "10399": IMAGE_NAME}
FORMULA_MAJOR = '=HYPERLINK("http://evil.example/x","m")'
FORMULA_DEPARTMENT = "=1+1"
FORMULA_SHEET = "=1+2"
GRADUATES_CSV = "毕业去向_10395_闽江学院.csv"  # GB18030, title row, header on row 2
SHEET_XLSX = "毕业去向_12708_福州英华职业学院.xlsx"


def _plant_universities(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    head = rows[0]
    code, name = head.index("院校代码"), head.index("院校名称")
    for r in rows[1:]:
        if r and r[code] in HOSTILE_NAMES:
            r[name] = HOSTILE_NAMES[r[code]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def _plant_graduates(path: Path) -> dict:
    raw = path.read_bytes()
    text = raw.decode("gb18030")
    rows = list(csv.reader(io.StringIO(text)))
    header_at = next(i for i, r in enumerate(rows) if "学号" in [c.strip() for c in r])
    head = [c.replace(" ", "") for c in rows[header_at]]
    sid, idn, dept, major = (head.index(c) for c in ("学号", "身份证号", "所在院系", "专业名称"))
    body = [
        i for i in range(header_at + 1, len(rows)) if len(rows[i]) == len(head) and rows[i][sid]
    ]
    a, b, c, d, e = body[:5]
    from helpers import pii

    other_id = next(
        rows[i][idn].strip()
        for i in body[10:]
        if len(rows[i][idn].strip()) == 18 and pii.id_number_ok([rows[i][idn].strip()])[0]
    )
    other_sid = rows[body[11]][sid].strip()
    plain_sid = rows[body[12]][sid].strip()
    formatted_id = f"{other_id[:6]} {other_id[6:14]} {other_id[14:]}"
    hyphen_sid = "-".join(other_sid[i : i + 4] for i in range(0, len(other_sid), 4))
    # every row of row a's 专业点: the formula is the point's name in both reports (most frequent)
    code, level = head.index("专业代码"), head.index("学历层次")
    point = (rows[a][code].strip(), rows[a][level].strip())
    for i in body:
        if (rows[i][code].strip(), rows[i][level].strip()) == point:
            rows[i][major] = FORMULA_MAJOR
    rows[b][dept] = FORMULA_DEPARTMENT
    rows[c][dept] = formatted_id
    rows[d][dept] = f"{hyphen_sid}"
    rows[e][dept] = plain_sid
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("gb18030"))
    line = {i: i + 1 for i in (a, b, c, d, e)}  # CSV line numbers as ingest counts them
    return {
        "file": path.name,
        "formula_major_line": line[a],
        "formula_department_line": line[b],
        "scrubbed_lines": sorted([line[c], line[d], line[e]]),
        "formatted_id": formatted_id,
        "hyphen_sid": hyphen_sid,
        "plain_sid": plain_sid,
    }


def _rename_sheet(path: Path, name: str) -> None:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode("utf-8")
                start = text.index('<sheet name="') + len('<sheet name="')
                end = text.index('"', start)
                data = (text[:start] + name + text[end:]).encode("utf-8")
            dst.writestr(item, data)
    tmp.replace(path)


def _id_number(first17: str) -> str:
    from helpers import pii

    return first17 + str(pii.check_character([first17])[0])


# a sender's slip: the contact's mobile and an ID number in a file name
NAMED_FILE = "访企拓岗_10399_泉州师范学院.xlsx"
NAME_MOBILE = "139 1234 5678"
NAME_ID_17 = "35010219900307123"


def plant(data: Path) -> dict:
    """Plant every hostile value into the raw files of a copy of the demo data."""
    _plant_universities(data / "raw" / "reference" / "universities.csv")
    planted = _plant_graduates(data / "raw" / AS_OF / GRADUATES_CSV)
    _rename_sheet(data / "raw" / AS_OF / SHEET_XLSX, FORMULA_SHEET)
    planted["sheet_file"] = SHEET_XLSX
    id_number = _id_number(NAME_ID_17)
    sid = planted["plain_sid"]  # a 学号 of the inputs, as the scan knows it (fingerprint)
    renamed = NAMED_FILE.replace(".xlsx", f"_联系人{NAME_MOBILE}_{id_number}_学号{sid}.xlsx")
    (data / "raw" / AS_OF / NAMED_FILE).rename(data / "raw" / AS_OF / renamed)
    planted["named_file"] = {"name": renamed, "mobile": NAME_MOBILE, "id": id_number, "sid": sid}
    shutil.rmtree(data / "processed", ignore_errors=True)  # the run ingests the planted files
    return planted
