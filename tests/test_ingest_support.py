"""Builders for ingest tests: raw folders and files (xlsx, xls, csv) made inside the tests.

Not a test module itself (pytest collects it, finds no tests); the ingest tests import it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd

AS_OF = dt.date(2023, 8, 31)
UNIVERSITIES = [
    [
        "学校标识码",
        "院校代码",
        "院校名称",
        "办学层次",
        "办学性质",
        "所在地",
        "上年初次毕业去向落实率",
    ],
    ["4135010386", "10386", "福州大学", "本科", "公办", "福州市", "0.72"],
    ["4135010384", "10384", "厦门大学", "本科", "公办", "厦门市", "75%"],
    ["4135012631", "12631", "福建船政交通职业学院", "专科", "公办", "福州市", ""],
]
GRAD_HEADER = [
    "学号",
    "姓名",
    "身份证号",
    "性别",
    "院校代码",
    "学历层次",
    "专业代码",
    "专业名称",
    "毕业去向类别代码",
    "毕业去向",
    "帮扶群体",
    "签约日期",
    "手机号码",
]

VISITS_HEADER = [
    "院校代码",
    "走访日期",
    "走访人",
    "走访人职务",
    "走访单位名称",
    "是否新开拓",
    "拓展岗位数",
]


def grad_row(i: int, **over) -> list:
    """One valid graduates row; keyword arguments replace columns by Chinese header."""
    row = {
        "学号": f"2019{i:05d}",
        "姓名": f"测试{chr(0x4E00 + i)}",
        "身份证号": "11010519491231002X",
        "性别": "男" if i % 2 else "女",
        "院校代码": "10386",
        "学历层次": "本科生毕业",
        "专业代码": "080901",
        "专业名称": "计算机科学与技术",
        "毕业去向类别代码": "10" if i % 3 else "70",
        "毕业去向": "",
        "帮扶群体": "",
        "签约日期": "2023-06-30",
        "手机号码": f"138{i:08d}",
    }
    row.update(over)
    return [row[h] for h in GRAD_HEADER]


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Cells: str, int/float (numeric cells), datetime (date cells), None (empty)."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, dt.datetime | dt.date):
                    if not isinstance(v, dt.datetime):
                        v = dt.datetime(v.year, v.month, v.day)
                    ws.write_datetime(r, c, v, date_fmt)
                elif isinstance(v, int | float):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
    wb.close()
    return path


def write_xls(path: Path, rows: list[list], sheet: str = "Sheet1") -> Path:
    import xlwt

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet(sheet)
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            ws.write(r, c, v)
    wb.save(str(path))
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def make_data_dir(root: Path, universities: bool = True) -> Path:
    """An empty data dir with the reference list and a raw folder for AS_OF."""
    data = root / "data"
    (data / "raw" / AS_OF.isoformat()).mkdir(parents=True)
    if universities:
        write_csv(data / "raw" / "reference" / "universities.csv", UNIVERSITIES)
    return data


def raw_dir(data: Path, date: dt.date = AS_OF) -> Path:
    p = data / "raw" / date.isoformat()
    p.mkdir(parents=True, exist_ok=True)
    return p


def processed(data: Path, name: str, date: dt.date = AS_OF) -> pd.DataFrame:
    return pd.read_parquet(data / "processed" / date.isoformat() / f"{name}.parquet")


def files_table(data: Path, date: dt.date = AS_OF) -> pd.DataFrame:
    return processed(data, "files", date)


def file_row(data: Path, name_part: str, date: dt.date = AS_OF) -> dict:
    """The files.parquet row of the (single-sheet) file whose path contains name_part."""
    f = files_table(data, date)
    rows = f[f["source_file"].str.contains(name_part, regex=False) & (f["status"] != "empty_sheet")]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def quarantine(data: Path, date: dt.date = AS_OF) -> pd.DataFrame:
    return processed(data, "quarantine", date)
