"""The PII scanner (helpers.scanner) on planted values in every output format."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers import scanner as S

KEY = b"scanner-test-key"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(first17: str) -> str:
    """An 18-character ID number with the GB 11643 check character (independent of the scanner)."""
    return (
        first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]
    )


def wrong_check(valid: str) -> str:
    alt = "0" if valid[-1] != "0" else "1"
    return valid[:17] + alt


def digest(value: str, key: bytes = KEY) -> str:
    norm = unicodedata.normalize("NFKC", value).strip().upper()
    return hmac.new(key, norm.encode("utf-8"), hashlib.sha256).hexdigest()


VALID_ID = make_id("35010220010315123")
STUDENT_ID = "2019030512"
NAME = "林晓彤"
NAME2 = "陈鹏"
PHONE = "13812345678"
FINGERPRINTS = pd.DataFrame(
    {
        "kind": ["student_id", "name", "name", "id_number", "phone", "visitor"],
        "digest": [
            digest(STUDENT_ID),
            digest(NAME),
            digest(NAME2),
            digest(VALID_ID),
            digest(PHONE),
            digest("郑书记"),
        ],
    }
)

ORDINARY = """<html><head><title>2023届福建省普通高校毕业生毕业去向落实情况</title></head><body>
<h1>一、总体情况</h1>
<p>截至2023-08-31，全省毕业生毕业去向落实率为72.5%（2023年8月31日），高于全省平均水平70%。</p>
<table><tr><th>院校代码</th><th>学校标识码</th><th>院校名称</th><th>专业代码</th><th>专业名称</th>
<th>毕业生数</th><th>落实率</th></tr>
<tr><td>10386</td><td>4135010386</td><td>福州大学</td><td>080901</td><td>计算机科学与技术</td>
<td>1234</td><td>0.812345</td></tr>
<tr><td>10384</td><td>4135010384</td><td>厦门大学</td><td>120203K</td><td>会计学</td>
<td>987</td><td>0.7654321</td></tr>
<tr><td>10389</td><td>4135010389</td><td>福建农林大学</td><td>090501</td><td>林学</td>
<td>88</td><td>0.13812345678901</td></tr>
<tr><td>12345</td><td>4135012345</td><td>福建师范大学</td><td>040101</td><td>教育学</td>
<td>56</td><td>20230831</td></tr></table>
<p>脱贫家庭、低保家庭、零就业家庭、残疾毕业生帮扶：谈心谈话、就业促进活动、岗位推荐。</p>
<p>统一社会信用代码 91350100MA2XYZ1234，统计日期 2023/6/30，生成于 2023-09-01 10:15:00。</p>
<p>数据版本 3f9a1c2b7d，文件 sha256 9b74c9897bac770ffc029102a200c5de。</p>
</body></html>
"""


def scan_one(path: Path, fingerprints=FINGERPRINTS, key=KEY, words=None):
    return S.scan_paths([path], fingerprints, key, words)


def kinds(hits):
    return sorted(h.kind for h in hits)


def test_gb11643_check_digit():
    assert S.id_check_ok(["11010519491231002X", "11010519491231002x"]).all()
    assert not S.id_check_ok(["110105194912310021"]).any()
    assert S.id_check_ok([VALID_ID]).all()
    assert not S.id_check_ok([wrong_check(VALID_ID)]).any()
    # a valid check character but no valid birth date / province is not an ID number
    assert not S.id_check_ok([make_id("35010220011315123")]).any()
    assert not S.id_check_ok([make_id("99010220010315123")]).any()


def test_ordinary_report_text_has_no_hits(tmp_path):
    p = tmp_path / "report.html"
    p.write_text(ORDINARY, encoding="utf-8")
    assert scan_one(p) == []


def test_generated_names_do_not_match_ordinary_text(tmp_path):
    """Thousands of realistic names: ordinary report text must not produce a name hit."""
    from helpers.generate.people import chinese_names

    names = chinese_names(np.random.default_rng(7), 20_000)
    fp = pd.DataFrame({"kind": "name", "digest": [digest(n) for n in np.unique(names)]})
    p = tmp_path / "report.html"
    p.write_text(ORDINARY, encoding="utf-8")
    assert scan_one(p, fingerprints=fp) == []


def test_planted_id_number_valid_found_invalid_not(tmp_path):
    p = tmp_path / "r.html"
    p.write_text(
        ORDINARY.replace("</body>", f"<p>身份证 {VALID_ID}</p>\n</body>"), encoding="utf-8"
    )
    hits = scan_one(p, fingerprints=None, key=None)
    assert kinds(hits) == ["id_number"]
    h = hits[0]
    assert h.file == str(p) and h.location == f"line {ORDINARY.count(chr(10)) - 1 + 1}"
    assert VALID_ID not in str(h) and VALID_ID[3:] not in h.masked
    assert h.masked.startswith("350") and set(h.masked[3:]) == {"*"}
    p.write_text(ORDINARY.replace("</body>", f"<p>{wrong_check(VALID_ID)}</p></body>"))
    assert scan_one(p, fingerprints=None, key=None) == []
    p.write_text(ORDINARY.replace("</body>", f"<p>9{VALID_ID}</p></body>"))  # longer digit run
    assert scan_one(p, fingerprints=None, key=None) == []
    p.write_text(f"sha256 ab{VALID_ID}cdef0123\n")  # inside a long hex digest
    assert scan_one(p, fingerprints=None, key=None) == []
    p.write_text("x,11010519491231002x\n")  # lower-case check character
    assert kinds(scan_one(p, fingerprints=None, key=None)) == ["id_number"]
    p.write_text("证件号,3.50102200103E+17\n")  # damaged into scientific notation
    assert kinds(scan_one(p, fingerprints=None, key=None)) == ["id_number"]


@pytest.mark.parametrize(
    "text,found",
    [
        ("联系电话：13812345678。", True),
        ("tel +8613912345678", True),
        ("手机 138 1234 5678", True),
        ("手机 159-1234-5678", True),
        ("代码 4135010386 与 12345678901", False),
        ("流水号 2013812345678", False),
        ("比率 0.13812345678", False),
        ("13812345678901", False),
        ("sha256 9b74c9897bac770ffc02910ab17712345678cd200c5de0d1a2b3c4d5e6f70", False),
        ("id 3f2a13812345678e", False),  # a hex token of 16+ characters: a digest
        ("编号ab13812345678", True),  # a short letter prefix is not a hash
    ],
)
def test_mobile_numbers(tmp_path, text, found):
    p = tmp_path / "log.txt"
    p.write_text("第一行\n" + text + "\n", encoding="utf-8")
    hits = scan_one(p, fingerprints=None, key=None)
    assert kinds(hits) == (["mobile"] if found else [])
    if found:
        assert hits[0].location == "line 2" and "5678" not in hits[0].masked


def test_fingerprinted_student_id_and_name_in_html(tmp_path):
    p = tmp_path / "r.html"
    leak = f"<tr><td>{STUDENT_ID}</td><td>本学期{NAME}同学尚未落实</td></tr>"
    p.write_text(ORDINARY.replace("</table>", leak + "</table>"), encoding="utf-8")
    hits = scan_one(p)
    assert kinds(hits) == ["name", "student_id"]
    for h in hits:
        assert STUDENT_ID not in str(h) and NAME not in str(h) and h.rule == "fingerprint"
    # an HTML entity or a full-width form is still the value
    encoded = "".join(f"&#{ord(c)};" for c in NAME)
    p.write_text(f"<p>{encoded}</p><p>２０１９０３０５１２</p>", encoding="utf-8")
    assert kinds(scan_one(p)) == ["name", "student_id"]


def test_fingerprint_hits_in_csv_xlsx_json(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(f"university_code,student\n10386,{STUDENT_ID}\n", encoding="utf-8-sig")
    hits = scan_one(csv)
    assert kinds(hits) == ["student_id"] and hits[0].location == "line 2"
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(f"姓名\n{NAME}\n".encode("gb18030"))
    assert kinds(scan_one(gbk)) == ["name"]

    xlsx = tmp_path / "t.xlsx"
    with pd.ExcelWriter(xlsx, engine="xlsxwriter") as xw:
        pd.DataFrame({"院校名称": ["福州大学"], "人数": [12]}).to_excel(
            xw, sheet_name="汇总", index=False
        )
        pd.DataFrame({"a": ["x"], "b": [f"帮扶：{NAME2}"], "c": [int(PHONE)]}).to_excel(
            xw, sheet_name="明细", index=False
        )
    hits = scan_one(xlsx)
    assert kinds(hits) == ["mobile", "name"]
    locs = {h.kind: h.location for h in hits}
    assert locs == {"name": "sheet 明细 row 2 col B", "mobile": "sheet 明细 row 2 col C"}
    multi = tmp_path / "multi.xlsx"  # a line break inside a cell does not shift locations
    pd.DataFrame({"a": ["第一行\n第二行"], "b": [f"{NAME2}"]}).to_excel(multi, index=False)
    assert [h.location for h in scan_one(multi)] == ["sheet Sheet1 row 2 col B"]
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"a": ["x\ny", "z"], "b": ["", STUDENT_ID]}).to_parquet(pq)
    assert [(h.kind, h.location) for h in scan_one(pq)] == [("student_id", "row 3 col B")]

    js = tmp_path / "manifest.json"
    js.write_text(json.dumps({"parameters": {"note": f"{NAME2}"}, "郑书记": 1}, ensure_ascii=False))
    assert kinds(scan_one(js)) == ["name", "name"]


def test_ipynb_outputs_and_sources(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## 一、总体情况\n福州大学、厦门大学"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(f"print('{STUDENT_ID}')"),
    ]
    nb.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"第一行\n{NAME} 未落实\n"),
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": "iVBORw0KGgo" + "13812345678" * 3, "text/plain": "<Figure>"},
        ),
    ]
    p = tmp_path / "report.ipynb"
    nbformat.write(nb, p)
    hits = scan_one(p)
    assert kinds(hits) == ["name", "student_id"]  # base64 image data is not text
    locs = {h.kind: h.location for h in hits}
    assert locs["name"] == "cells[1].outputs[0].text line 2"
    assert locs["student_id"] == "cells[2].source line 1"


def test_pseudonym_keys_are_individual_records(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(f"student_key,placed\n{digest(STUDENT_ID)},True\n{'ab' * 32},False\n")
    hits = scan_one(p)
    assert [(h.kind, h.location) for h in hits] == [("pseudonym", "line 2")]
    assert digest(STUDENT_ID) not in str(hits[0])


def test_vocabulary_is_not_a_name_but_the_name_elsewhere_is(tmp_path):
    fp = pd.DataFrame({"kind": ["name"], "digest": [digest("林大")]})
    p = tmp_path / "r.html"
    p.write_text("<td>福建农林大学</td>", encoding="utf-8")
    assert scan_one(p, fingerprints=fp) == []
    p.write_text("<td>福建农林大学</td><td>林大</td>", encoding="utf-8")
    assert kinds(scan_one(p, fingerprints=fp)) == ["name"]


def test_two_character_name_inside_prose_is_not_a_hit_but_three_is(tmp_path):
    fp = pd.DataFrame({"kind": ["name", "name"], "digest": [digest("余文"), digest("陈晓明")]})
    p = tmp_path / "r.html"
    p.write_text("<p>其余文件已归档</p>", encoding="utf-8")
    assert scan_one(p, fingerprints=fp) == []
    p.write_text("<p>联系人陈晓明负责</p>", encoding="utf-8")
    assert kinds(scan_one(p, fingerprints=fp)) == ["name"]


def test_unreadable_file_is_a_hit_and_binaries_are_skipped(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp_path / "chart.png").write_bytes(b"\x89PNG 13812345678")
    hits = S.scan_paths([tmp_path], FINGERPRINTS, KEY)
    assert [(Path(h.file).name, h.kind) for h in hits] == [("broken.xlsx", "unreadable")]


def test_fingerprints_need_the_key():
    with pytest.raises(ValueError, match="key"):
        S.Scanner(FINGERPRINTS, None)


def test_digest_matches_ingest_pseudonym():
    pseudonym = pytest.importorskip("helpers.ingest.pseudonym")
    for v in [STUDENT_ID, NAME, VALID_ID.lower(), " ２０１９０３０５１２ "]:
        assert S._Digester(KEY).many([v])[v] == pseudonym.keyed_digest(v, KEY)


def _period(tmp_path, fingerprints=FINGERPRINTS):
    data = tmp_path / "data"
    proc = data / "processed" / "2023-08-31"
    proc.mkdir(parents=True)
    if fingerprints is not None:
        fingerprints.to_parquet(proc / "pii_fingerprints.parquet")
    reports = tmp_path / "reports" / "2023-08-31"
    (reports / "tables").mkdir(parents=True)
    (reports / "index.html").write_text(ORDINARY, encoding="utf-8")
    return data, reports


def test_scan_run_clean_and_leaky(tmp_path):
    data, reports = _period(tmp_path)
    assert S.scan_run(reports, data, key=KEY) == []
    (reports / "tables" / "x.csv").write_text(f"a\n{NAME}\n", encoding="utf-8-sig")
    hits = S.scan_run(reports, data, key=KEY)
    assert [(h.file, h.kind) for h in hits] == [("tables/x.csv", "name")]
    text = S.format_hits(hits)
    assert "x.csv" in text and NAME not in text and "姓名" in text
    # an earlier snapshot's fingerprints count too
    old = data / "processed" / "2023-06-30"
    old.mkdir()
    pd.DataFrame({"kind": ["name"], "digest": [digest("黄思雨")]}).to_parquet(
        old / "pii_fingerprints.parquet"
    )
    (reports / "y.txt").write_text("黄思雨", encoding="utf-8")
    assert len(S.scan_run(reports, data, key=KEY)) == 2


def test_scan_run_refuses_another_key(tmp_path):
    pseudonym = pytest.importorskip("helpers.ingest.pseudonym")
    data, reports = _period(tmp_path)
    manifest = data / "processed" / "2023-08-31" / "manifest.json"
    manifest.write_text(json.dumps({"pseudonym_key_fingerprint": pseudonym.key_fingerprint(KEY)}))
    assert S.scan_run(reports, data, key=KEY) == []
    with pytest.raises(ValueError, match="another key"):
        S.scan_run(reports, data, key=b"a-different-key")


def test_scan_run_without_fingerprints_refuses(tmp_path):
    data, reports = _period(tmp_path, fingerprints=None)
    with pytest.raises(FileNotFoundError, match="pii_fingerprints"):
        S.scan_run(reports, data, key=KEY)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        S.scan_run(tmp_path, data, key=KEY)


# --- formatted forms (issue 13): what ingest scrubs, the scanner finds -------------------------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    "text",
    [
        f"院系 {VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}",  # 6-8-4, spaces
        f"院系,{VALID_ID[:6]}-{VALID_ID[6:14]}-{VALID_ID[14:]}",  # hyphens
        f"院系 {VALID_ID[:3]} {VALID_ID[3:6]} {VALID_ID[6:10]} {VALID_ID[10:14]} {VALID_ID[14:]}",
        "院系：" + VALID_ID.translate(FULL_WIDTH),  # full-width digits
        "院系：11010519491231002x",  # lower-case check character
        f"12 {VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]} 7",  # between other numbers
    ],
)
def test_formatted_id_numbers_are_found(tmp_path, text):
    p = tmp_path / "t.csv"
    p.write_text("列\n" + text + "\n", encoding="utf-8")
    hits = scan_one(p, fingerprints=None, key=None)
    assert kinds(hits) == ["id_number"], text
    assert VALID_ID[6:] not in hits[0].masked


@pytest.mark.parametrize(
    "text",
    [
        f"{wrong_check(VALID_ID)[:6]} {wrong_check(VALID_ID)[6:14]} {wrong_check(VALID_ID)[14:]}",
        "2023-08-31 2023-06-30 2023-09-01",  # dates: no province prefix 20
        f"0.{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}",  # after a decimal point
        f"9{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}",  # inside a longer digit run
    ],
)
def test_formatted_lookalikes_are_not_id_numbers(tmp_path, text):
    p = tmp_path / "t.csv"
    p.write_text("列\n" + text + "\n", encoding="utf-8")
    assert scan_one(p, fingerprints=None, key=None) == []


@pytest.mark.parametrize(
    "text", ["1381-234-5678", "138 1234-5678", "+86-138-1234-5678", "１３８１２３４５６７８"]
)
def test_mobile_numbers_in_any_grouping(tmp_path, text):
    p = tmp_path / "t.txt"
    p.write_text(f"电话 {text}。\n", encoding="utf-8")
    assert kinds(scan_one(p, fingerprints=None, key=None)) == ["mobile"]


@pytest.mark.parametrize(
    "form",
    [
        "2019-0305-12",  # hyphens (one token before issue 13)
        "2019 0305 12",  # spaces
        "2019_030_512",
        "２０１９０３０５１２",  # full-width
        "院系2019-030512学院",
    ],
)
def test_student_id_in_any_separator_form_is_found(tmp_path, form):
    assert STUDENT_ID == "2019030512"
    p = tmp_path / "placement_by_department.csv"
    p.write_text(f"department,graduates\n{form},12\n", encoding="utf-8")
    hits = scan_one(p)
    assert "student_id" in kinds(hits), form
    assert all("2019" not in h.masked for h in hits)


def test_hyphenated_student_id_is_found_in_html_and_workbook(tmp_path):
    p = tmp_path / "r.html"
    p.write_text(ORDINARY.replace("计算机科学与技术", "2019-3-0512"), encoding="utf-8")
    assert "student_id" not in kinds(scan_one(p))  # 201930512 is not the student's number
    p.write_text(ORDINARY.replace("计算机科学与技术", "2019-0305-12"), encoding="utf-8")
    assert kinds(scan_one(p)) == ["student_id"]
    import xlsxwriter

    x = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(str(x))
    wb.add_worksheet("表").write_string(1, 2, "2019 0305 12")
    wb.close()
    hits = scan_one(x)
    assert kinds(hits) == ["student_id"] and hits[0].location == "sheet 表 row 2 col C"


@pytest.mark.parametrize(
    "name",
    [
        f"毕业去向_10386_福州大学_{STUDENT_ID}.xlsx",
        f"访企拓岗_10386_联系人{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}.csv",
        f"帮扶台账_{VALID_ID[:6]}-{VALID_ID[6:14]}-{VALID_ID[14:]}.xls",
        f"帮扶台账_10386_{NAME}老师.xlsx",
        f"Sheet_{STUDENT_ID[:4]}-{STUDENT_ID[4:]}",
    ],
)
def test_redact_hides_what_the_scan_finds_and_keeps_the_rest(name):
    scanner = S.Scanner(FINGERPRINTS, KEY)
    shown = scanner.redact(name)
    assert "已隐去" in shown and shown.split("_")[0] == name.split("_")[0]  # the rest stays
    seg = S._Segment("name", shown)  # the same rules find nothing left
    assert scanner._patterns("x", seg) + scanner._fingerprints("x", seg) == []
    for value in (STUDENT_ID, PHONE, VALID_ID, NAME):
        assert value not in shown.replace(" ", "").replace("-", "")


def test_redact_leaves_clean_names_alone():
    scanner = S.Scanner(FINGERPRINTS, KEY)
    for name in ("毕业去向_10386_福州大学.xlsx", "2023届汇总", "平台_全省汇总.xls"):
        assert scanner.redact(name) == name
