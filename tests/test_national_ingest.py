"""The bulk ingest path (helpers/ingest/bulk*.py) against the regular path, on the same files.

Every file here is ingested twice, once forced through the bulk path (tiny chunks and CSV ranges,
so that duplicates and mess fall across chunk borders) and once through the regular reader; the
processed graduates, quarantine (reasons and raw rows), repairs, per-file counts, personal-value
fingerprints and manifest counts must be the same.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from helpers.ingest import bulk, bulk_plan, ingest
from helpers.ingest.process import FileTask

AS_OF = "2023-08-31"
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
HEADER = [
    "学号",
    "姓名",
    "身份证号",
    "性别",
    "院校代码",
    "学历层次",
    "所在院系",
    "专业代码",
    "专业名称",
    "毕业去向类别代码",
    "毕业去向",
    "帮扶群体",
    "就业意愿",
    "签约日期",
]


def row(i: int, **over) -> list[str]:
    r = {
        "学号": f"2019{i:05d}",
        "姓名": f"测试{chr(0x4E00 + i)}",
        "身份证号": "11010519491231002X",
        "性别": "男" if i % 2 else "女",
        "院校代码": ("10386", "10384", "12631")[i % 3],
        "学历层次": "专科生毕业" if i % 3 == 2 else "本科生毕业",
        "所在院系": "信息学院",
        "专业代码": "510201" if i % 3 == 2 else "080901",
        "专业名称": "计算机应用技术" if i % 3 == 2 else "计算机科学与技术",
        "毕业去向类别代码": ("10", "70", "80", "76", "11")[i % 5],
        "毕业去向": "",
        "帮扶群体": "脱贫家庭" if i % 7 == 0 else "",
        "就业意愿": "否" if i % 11 == 0 else "是",
        "签约日期": "2023-06-30" if i % 5 != 1 else "",
    }
    r.update(over)
    return [r[h] for h in HEADER]


def messy_rows() -> list[list[str]]:
    """Data rows with the mess of data-contract §2 spread over the file."""
    rows = [row(i) for i in range(60)]
    rows[3] = row(3, 专业代码="80901")  # lost leading zero
    rows[5] = row(5, 院校代码="４１３５０１０３８６")  # full-width 学校标识码 in the code column
    rows[8] = row(8, 专业名称="计算机 科学与技术（中外合作）")
    rows[9] = row(9, 身份证号="3.50102199901E+17")  # scientific notation: quarantined
    rows[12] = row(12, 院校代码="99999")  # unknown university
    rows[14] = row(14, 毕业去向类别代码="99")  # unknown destination
    rows[17] = row(17, 专业名称="")  # empty required
    rows[19] = row(19, 毕业去向类别代码="", 毕业去向="境内升学")  # label only
    rows[21] = row(21, 签约日期="2023年6月30日", 性别="2")
    rows[23] = row(23, 学号="201900023.0", 所在院系="经济与管理学院,国际商学院")
    rows[25] = row(25, 所在院系="信息\n学院")  # a quoted line break (CSV)
    rows[27] = row(27, 学历层次="31", 帮扶群体="低保家庭、残疾")
    rows[29] = row(29, 专业代码="120203k", 专业名称="会计学", 就业意愿="maybe")
    rows[31] = row(31, 学历层次="结业")
    rows[33] = row(33, 学历层次="硕士研究生", 签约日期="not a date")
    rows[40] = row(2)  # identical duplicate of row 2 (another chunk): merged
    rows[47] = row(4, 专业名称="软件工程")  # conflicting duplicate of row 4: both quarantined
    rows[52] = row(6, 姓名="另一个人")  # same 学号, another person: conflict
    rows[55] = ["", "", "", "", "", "", "", "", "", "", "", "", "", ""]  # blank row
    return rows


def csv_text(records: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(records)
    return buf.getvalue()


def messy_csv(encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    body = messy_rows()
    header = ["专业\n名称" if h == "专业名称" else h for h in HEADER]  # a line break in a cell
    records = [["2023届毕业生就业方案"], ["填报单位：福建省教育厅"], header]
    records += [*body[:30], [], *body[30:]]  # an empty line in the middle
    records += [["合计", "60"], ["填表人：张老师"], ["制表日期：2023-09-01"]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n", delimiter=delimiter).writerows(records)
    return buf.getvalue().encode(encoding)


def make_data(root: Path, files: dict[str, bytes]) -> Path:
    data = root / "data"
    raw = data / "raw" / AS_OF
    raw.mkdir(parents=True)
    ref = data / "raw" / "reference"
    ref.mkdir()
    (ref / "universities.csv").write_text(csv_text(UNIVERSITIES), encoding="utf-8-sig")
    for name, content in files.items():
        (raw / name).write_bytes(content)
    return data


def parquet_bytes(columns: dict[str, pa.Array], row_group_size: int | None = None) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf, row_group_size=row_group_size)
    return buf.getvalue()


def messy_parquet(row_group_size: int = 16) -> bytes:
    body = [r for r in messy_rows() if any(r)]
    cols = list(zip(*body, strict=True))
    data = {
        h: pa.array([v or None for v in cols[j]], type=pa.string()) for j, h in enumerate(HEADER)
    }
    return parquet_bytes(data, row_group_size)


def run_both(tmp_path, monkeypatch, files: dict[str, bytes], chunk_rows=7, range_bytes=600):
    """Ingest the same files through the bulk path and through the regular path."""
    out = {}
    for mode in ("always", "never"):
        data = make_data(tmp_path / mode, files)
        monkeypatch.setenv(bulk.MODE_ENV, mode)
        monkeypatch.setattr(bulk_plan, "CHUNK_ROWS", chunk_rows)
        monkeypatch.setattr(bulk_plan, "CSV_RANGE_BYTES", range_bytes)
        ingest(AS_OF, data, workers=1)
        out[mode] = data / "processed" / AS_OF
    return out["always"], out["never"]


def table(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{name}.parquet")


SORT = {
    "graduates": ["source_file", "source_row"],
    "quarantine": ["source_file", "sheet", "row", "reason_code"],
    "repairs": ["source_file", "sheet", "row", "column", "repair_code"],
    "files": ["source_file", "sheet"],
    "pii_fingerprints": ["kind", "digest"],
}


def assert_same(a: Path, b: Path) -> None:
    for name, keys in SORT.items():
        x, y = table(a, name), table(b, name)
        if name == "files":  # the engine names the path taken; all else must agree
            ok = (x["dataset"] == "graduates") & (x["status"] == "ok")
            assert x.loc[ok, "engine"].str.contains("bulk").all()
            x, y = x.drop(columns="engine"), y.drop(columns="engine")
            # error texts may name the file with its path: the two data dirs differ
            x["detail"] = x["detail"].str.replace(str(a.parents[1]), "<data>", regex=False)
            y["detail"] = y["detail"].str.replace(str(b.parents[1]), "<data>", regex=False)
        x = x.sort_values(keys, kind="stable").reset_index(drop=True)
        y = y.sort_values(keys, kind="stable").reset_index(drop=True)
        assert_frame_equal(x, y, obj=name)
    ma = json.loads((a / "manifest.json").read_text(encoding="utf-8"))
    mb = json.loads((b / "manifest.json").read_text(encoding="utf-8"))
    for key in ("datasets", "quarantine", "repairs"):
        assert ma[key] == mb[key], key
    assert not list(a.parent.glob(".bulk-*")), "spill folder left behind"


def test_messy_csv_same_as_regular_path(tmp_path, monkeypatch):
    a, b = run_both(tmp_path, monkeypatch, {"毕业去向_全省.csv": messy_csv()})
    assert_same(a, b)
    files = table(a, "files").set_index("dataset").loc["graduates"]
    assert files["rows_read"] == 59 and files["footer_rows"] == 3 and files["balanced"]
    q = table(a, "quarantine")
    assert {
        "unknown_university",
        "unknown_destination",
        "empty_required",
        "duplicate_conflict",
        "scientific_notation",
    } <= set(q["reason_code"])
    # the conflicting duplicates (rows 4 / 47 and 6 / 52 of the body) are quarantined together
    assert (q["reason_code"] == "duplicate_conflict").sum() == 4
    assert table(a, "graduates")["student_key"].str.fullmatch("[0-9a-f]{64}").all()


def test_messy_parquet_same_as_regular_path(tmp_path, monkeypatch):
    a, b = run_both(tmp_path, monkeypatch, {"graduates_national_part000.parquet": messy_parquet()})
    assert_same(a, b)
    assert table(a, "files").set_index("dataset").loc["graduates", "rows_read"] == 59


def test_typed_parquet_columns_read_as_the_regular_reader_does(tmp_path, monkeypatch):
    n = 20
    cols = {
        "学号": pa.array([f"S{i:04d}" for i in range(n)]),
        "院校代码": pa.array([10386 if i % 4 else None for i in range(n)], type=pa.int64()),
        "学历层次": pa.array(["本科"] * n),
        "专业代码": pa.array([80901.0] * n),  # a number: '80901.0' -> float_suffix, zero_pad
        "专业名称": pa.array(["计算机科学与技术"] * n),
        "毕业去向类别代码": pa.array([10 + (i % 2) for i in range(n)], type=pa.int32()),
        "签约日期": pa.array([pd.Timestamp("2023-06-30").date()] * n, type=pa.date32()),
    }
    a, b = run_both(tmp_path, monkeypatch, {"graduates.parquet": parquet_bytes(cols, 6)})
    assert_same(a, b)
    assert len(table(a, "graduates")) == 15


def test_gb18030_tab_separated_csv(tmp_path, monkeypatch):
    a, b = run_both(
        tmp_path, monkeypatch, {"毕业去向_全省.csv": messy_csv("gb18030", "\t")}, range_bytes=400
    )
    assert_same(a, b)
    assert table(a, "files").set_index("dataset").loc["graduates", "encoding"] == "gb18030"


def test_utf8_start_then_gb18030_bytes_is_read_as_gb18030(tmp_path, monkeypatch):
    # the head of the file is ASCII (valid UTF-8); Chinese GB18030 text comes later, in another
    # range: the whole file is then read as GB18030, as the regular reader decides
    header = [
        "student_id",
        "university_code",
        "education_level",
        "major_code",
        "major_name",
        "destination_code",
    ]
    first = [[f"S{i:04d}", "10386", "31", "080901", "CS", "10"] for i in range(40)]
    later = [
        [f"T{i:04d}", "10384", "本科生毕业", "080901", "计算机科学与技术", "70"] for i in range(5)
    ]
    content = csv_text([header, *first]).encode("ascii") + csv_text(later).encode("gb18030")
    monkeypatch.setattr(bulk_plan, "HEAD_BYTES", 256)
    a, b = run_both(tmp_path, monkeypatch, {"毕业去向_全省.csv": content}, range_bytes=300)
    assert_same(a, b)
    assert table(a, "files").set_index("dataset").loc["graduates", "encoding"] == "gb18030"
    assert len(table(a, "graduates")) == 45


def test_stray_quotes_fall_back_to_reading_record_by_record(tmp_path, monkeypatch):
    # an unquoted field with a quote character inside: quote parity says "inside quotes" for
    # the rest of the file, so no range can be cut; the csv module reads it as the regular path
    rows = [row(i) for i in range(40)]
    rows[1] = row(1, 专业名称='计算机"科学')
    text = (csv_text([HEADER]) + "".join(",".join(r) + "\r\n" for r in rows)).encode("utf-8")
    a, b = run_both(tmp_path, monkeypatch, {"毕业去向_全省.csv": text}, range_bytes=200)
    assert_same(a, b)
    files = table(a, "files").set_index("dataset")
    assert files.loc["graduates", "engine"] == bulk.ENGINES["csv-records"]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("毕业去向_空.csv", b"", "file_empty"),
        ("毕业去向_二进制.csv", b"PK\x03\x04" + b"\x00" * 100, "file_wrong_type"),
        ("毕业去向_无表头.csv", "甲,乙,丙\r\n1,2,3\r\n".encode(), "file_no_header"),
        ("毕业去向_坏编码.csv", b"\xff\xfe\xfa\xfb" * 50, "file_encoding"),
        ("graduates_bad.parquet", b"PAR1 not really parquet", "file_corrupt"),
    ],
)
def test_unreadable_files_same_reason_as_regular(tmp_path, monkeypatch, name, content, code):
    good = {"毕业去向_全省.csv": csv_text([HEADER, *[row(i) for i in range(5)]]).encode()}
    a, b = run_both(tmp_path, monkeypatch, {**good, name: content}, chunk_rows=100)
    assert_same(a, b)
    files = table(a, "files")
    assert files.loc[files["source_file"].str.endswith(name), "reason_code"].tolist() == [code]


def test_bulk_and_regular_files_in_one_folder_share_duplicate_rules(tmp_path, monkeypatch):
    # a national Parquet export plus a small CSV correction that repeats some of its rows
    extra = csv_text([HEADER, row(2), row(4, 专业名称="软件工程"), row(100)]).encode("utf-8")
    files = {"graduates_national.parquet": messy_parquet(), "毕业去向_补充.csv": extra}
    monkeypatch.setattr(bulk_plan, "CSV_MIN_BYTES", 10**9)  # the CSV stays on the regular path
    out = {}
    for mode in ("auto", "never"):
        data = make_data(tmp_path / mode, files)
        monkeypatch.setenv(bulk.MODE_ENV, mode)
        monkeypatch.setattr(bulk_plan, "CHUNK_ROWS", 9)
        ingest(AS_OF, data, workers=1)
        out[mode] = data / "processed" / AS_OF
    for name, keys in SORT.items():
        x, y = table(out["auto"], name), table(out["never"], name)
        if name == "files":
            x, y = x.drop(columns="engine"), y.drop(columns="engine")
        assert_frame_equal(
            x.sort_values(keys, kind="stable").reset_index(drop=True),
            y.sort_values(keys, kind="stable").reset_index(drop=True),
            obj=name,
        )
    files_a = table(out["auto"], "files").set_index("source_file")
    assert files_a.filter(like="补充", axis=0)["merged"].sum() == 1


def test_pool_workers_and_generated_national_export(tmp_path, monkeypatch):
    from helpers.generate.national import generate_national

    raw_root = tmp_path / "gen"
    generate_national(raw_root, seed=11, total=6_000, institutions=120)
    out = {}
    for mode, workers in (("auto", 2), ("never", 1)):
        data = tmp_path / mode
        data.mkdir()
        (data / "raw").symlink_to(raw_root / "raw", target_is_directory=True)
        monkeypatch.setenv(bulk.MODE_ENV, mode)
        monkeypatch.setattr(bulk_plan, "CHUNK_ROWS", 1_000)
        ingest(AS_OF, data, workers=workers)
        out[mode] = data / "processed" / AS_OF
    g = table(out["auto"], "graduates")
    assert len(g) > 5_000
    for name, keys in SORT.items():
        x, y = table(out["auto"], name), table(out["never"], name)
        if name == "files":
            x, y = x.drop(columns="engine"), y.drop(columns="engine")
        assert_frame_equal(
            x.sort_values(keys, kind="stable").reset_index(drop=True),
            y.sort_values(keys, kind="stable").reset_index(drop=True),
            obj=name,
        )


def task(tmp_path, name: str, size: int = 10) -> tuple[FileTask, int]:
    p = tmp_path / name
    p.write_bytes(b"x" * size)
    return FileTask(str(p), f"{AS_OF}/{name}", "graduates", AS_OF), size


def test_trigger(tmp_path, monkeypatch):
    monkeypatch.delenv(bulk.MODE_ENV, raising=False)
    assert bulk.is_bulk(*task(tmp_path, "g.parquet"))
    assert not bulk.is_bulk(*task(tmp_path, "g.csv"))
    monkeypatch.setattr(bulk_plan, "CSV_MIN_BYTES", 5)
    assert bulk.is_bulk(*task(tmp_path, "g.csv"))
    assert not bulk.is_bulk(*task(tmp_path, "g.xlsx"))
    t, size = task(tmp_path, "v.parquet")
    assert not bulk.is_bulk(FileTask(t.path, t.rel, "visits", AS_OF), size)
    monkeypatch.setenv(bulk.MODE_ENV, "never")
    assert not bulk.is_bulk(*task(tmp_path, "g.parquet"))
    monkeypatch.setenv(bulk.MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="PLACEMENT_INGEST_BULK"):
        bulk.is_bulk(*task(tmp_path, "g.parquet"))


def test_csv_ranges_end_outside_quotes(tmp_path, monkeypatch):
    content = messy_csv()
    p = tmp_path / "g.csv"
    p.write_bytes(content)
    monkeypatch.setattr(bulk_plan, "CSV_RANGE_BYTES", 100)
    plan = bulk.plan_file(FileTask(str(p), "g.csv", "graduates", AS_OF))
    chunks = bulk.file_chunks(plan, tmp_path, 0)
    assert len(chunks) > 5
    assert chunks[0].start == content.index(b"\r\n", content.index("学号".encode())) + 2
    assert chunks[-1].stop == len(content)
    for c in chunks:  # every range is whole records: an even number of quote characters
        assert content[c.start : c.stop].count(b'"') % 2 == 0
        assert content[c.stop - 1 : c.stop] == b"\n"
    lines = [content[: c.start].count(b"\n") + 1 for c in chunks]
    assert [c.first_line for c in chunks] == lines
