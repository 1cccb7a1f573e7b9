"""Hostile and careless input files (issue 13, reader safety): each is built here, quarantined with
a named reason (file and row), every other file still loads, and for every file
rows read = accepted + merged + quarantined, with the true number of lines.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_support import (
    AS_OF,
    GRAD_HEADER,
    file_row,
    grad_row,
    make_data_dir,
    processed,
    quarantine,
    raw_dir,
    write_csv,
    write_xlsx,
)

from helpers.ingest import ingest
from helpers.ingest.limits import ReadLimits
from helpers.ingest.readers import UnreadableFile, csv_records, read_file

HEADER = [*GRAD_HEADER, "单位名称"]
GIB = 1024**3


def row(i: int, **over) -> list[str]:
    return [
        *grad_row(i, **{k: v for k, v in over.items() if k != "单位名称"}),
        over.get("单位名称", f"公司{i}"),
    ]


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def counts(data: Path, name: str) -> tuple[int, int, int, int]:
    r = file_row(data, name)
    assert r["balanced"], r
    return r["rows_read"], r["accepted"], r["merged"], r["quarantined"]


def file_reason(data: Path, name: str) -> tuple[str, str]:
    q = quarantine(data)
    q = q[q["source_file"].str.endswith(name) & (q["level"] == "file")]
    assert len(q) == 1, q
    return q["reason_code"].iloc[0], q["reason"].iloc[0]


def good_file(data: Path) -> None:
    write_csv(raw_dir(data) / "毕业去向_good.csv", [HEADER, row(9001), row(9002)])


def assert_good_loaded(data: Path) -> None:
    assert counts(data, "毕业去向_good.csv") == (2, 2, 0, 0)


# --- xlsx builders (the zip written by hand: hostile parts no writer library makes) ------------
_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _ref(r: int, c: int) -> str:
    letters = ""
    while c:
        c, rem = divmod(c - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{r}"


def sheet_xml(cells: dict[tuple[int, int], str], dimension: str | None) -> str:
    """cells: (row, column) 1-based -> inline text, or ``"#s0"`` for shared string 0."""
    rows: dict[int, list[str]] = {}
    for (r, c), v in sorted(cells.items()):
        if v.startswith("#s"):
            rows.setdefault(r, []).append(f'<c r="{_ref(r, c)}" t="s"><v>{v[2:]}</v></c>')
        else:
            rows.setdefault(r, []).append(
                f'<c r="{_ref(r, c)}" t="inlineStr"><is><t>{v}</t></is></c>'
            )
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in rows.items())
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{body}</sheetData></worksheet>'


def grad_cells(n: int) -> dict[tuple[int, int], str]:
    rows = [HEADER] + [row(i) for i in range(n)]
    return {(r + 1, c + 1): v for r, cells in enumerate(rows) for c, v in enumerate(cells) if v}


def write_raw_xlsx(path: Path, sheet: str, shared=None, pad_sheet: int = 0) -> Path:
    """A minimal workbook; ``shared``: an iterable of text blocks streamed into one shared
    string (never all in memory); ``pad_sheet``: bytes of whitespace streamed into the sheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            head, tail = sheet.split("</sheetData>")
            fh.write(head.encode())
            block = b" " * (1 << 20)
            for _ in range(pad_sheet // len(block)):
                fh.write(block)
            fh.write(("</sheetData>" + tail).encode())
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(
                f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="1" uniqueCount="1"><si><t>'.encode()
            )
            for part in shared or ["x"]:
                fh.write(part.encode())
            fh.write(b"</t></si></sst>")
    return path


# --- CSV ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["never", "always"])  # the regular reader, the bulk reader
def test_unclosed_quote_loses_no_row(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("PLACEMENT_INGEST_BULK", mode)
    data = make_data_dir(tmp_path)
    text = csv_text([HEADER] + [row(i) for i in range(2000)])
    # 单位名称 on line 12 opens a quote that is never closed
    text = text.replace(",公司10\r\n", ',"公司10\r\n', 1)
    assert text.count('"') == 1
    (raw_dir(data) / "毕业去向_quote.csv").write_text(text, encoding="utf-8")
    good_file(data)
    result = ingest(AS_OF, data, workers=1)
    assert counts(data, "毕业去向_quote.csv") == (2000, 1999, 0, 1)
    q = quarantine(data)
    q = q[q["source_file"].str.endswith("毕业去向_quote.csv")]
    assert q[["row", "reason_code", "column"]].values.tolist() == [
        [12, "row_unclosed_quote", "单位名称"]
    ]
    assert "引号未闭合" in q["reason"].iloc[0]
    assert json.loads(q["raw"].iloc[0])["单位名称"] == '"公司10'
    assert_good_loaded(data)
    assert "row_unclosed_quote" in result.summary()
    g = processed(data, "graduates")
    rows = g.loc[g["source_file"].str.endswith("毕业去向_quote.csv"), "source_row"].astype(int)
    assert sorted(rows) == [*range(2, 12), *range(13, 2002)]


@pytest.mark.parametrize("mode", ["never", "always"])
def test_ragged_rows_and_text_after_a_closing_quote(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("PLACEMENT_INGEST_BULK", mode)
    data = make_data_dir(tmp_path)
    lines = csv_text([HEADER] + [row(i) for i in range(6)]).split("\r\n")
    lines[2] += ",多出一列"  # line 3: one field too many
    lines[3] = lines[3].rsplit(",", 1)[0]  # line 4: one field short
    lines[5] = lines[5].rsplit(",", 1)[0] + ',"公司"有限'  # line 6: text after the closing quote
    (raw_dir(data) / "毕业去向_ragged.csv").write_text("\r\n".join(lines), encoding="utf-8")
    ingest(AS_OF, data, workers=1)
    assert counts(data, "毕业去向_ragged.csv") == (6, 3, 0, 3)
    q = quarantine(data).set_index("row")
    assert q.loc[3, "reason_code"] == "row_field_count"
    assert q.loc[4, "reason_code"] == "row_field_count"
    assert q.loc[6, "reason_code"] == "row_bad_quoting"


@pytest.mark.parametrize("mode", ["never", "always"])
def test_csv_cell_over_128_kib(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("PLACEMENT_INGEST_BULK", mode)
    data = make_data_dir(tmp_path)
    rows = [HEADER] + [row(i) for i in range(5)]
    rows[3][-1] = "公" * (130 * 1024)  # unquoted, beyond the csv module's 128 KiB field limit
    write_csv(raw_dir(data) / "毕业去向_long.csv", rows)
    good_file(data)
    ingest(AS_OF, data, workers=1)
    assert counts(data, "毕业去向_long.csv") == (5, 4, 0, 1)
    q = quarantine(data)
    q = q[q["source_file"].str.endswith("毕业去向_long.csv")]
    assert q[["row", "reason_code", "column"]].values.tolist() == [[4, "cell_too_long", "单位名称"]]
    assert len(q["raw"].iloc[0]) < 1000  # the cell is cut in the quarantine, its length named
    assert "133,120 字符" in q["raw"].iloc[0]
    assert_good_loaded(data)


def test_a_legitimate_line_break_in_a_quoted_cell_is_kept():
    text = csv_text([HEADER, row(1, 单位名称="福州\n某公司"), row(2)])
    rec = csv_records(text, ",")
    assert rec.problems == {} and rec.starts == [1, 2, 4]
    assert rec.rows[1][-1] == "福州\n某公司"


def test_file_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INGEST_MAX_CSV_REGULAR_BYTES", "2000")
    data = make_data_dir(tmp_path)
    write_csv(raw_dir(data) / "毕业去向_big.csv", [HEADER] + [row(i) for i in range(40)])
    good_file(data)
    result = ingest(AS_OF, data, workers=1)
    code, reason = file_reason(data, "毕业去向_big.csv")
    assert code == "file_too_large" and "> 2.0 KiB" in reason
    assert "(file_too_large: 5.4 KiB > 2.0 KiB)" in result.summary()
    assert result.manifest()["read_limits"]["max_csv_regular_bytes"] == 2000
    assert_good_loaded(data)


# --- workbooks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dimension", ["XFD1048576", "A1:XFD1048576", None])
def test_workbook_whose_only_cell_is_xfd1048576(tmp_path, dimension):
    data = make_data_dir(tmp_path)
    path = write_raw_xlsx(
        raw_dir(data) / "毕业去向_far.xlsx", sheet_xml({(1048576, 16384): "x"}, dimension)
    )
    assert path.stat().st_size < 4096
    good_file(data)
    ingest(AS_OF, data, workers=1)
    code, reason = file_reason(data, "毕业去向_far.xlsx")
    assert code == "file_sheet_too_large"
    assert "17,179,869,184 cells" in reason
    assert_good_loaded(data)


def test_workbook_with_a_300_million_character_shared_string(tmp_path):
    data = make_data_dir(tmp_path)
    cells = grad_cells(3)
    cells[(2, len(HEADER))] = "#s0"
    path = write_raw_xlsx(
        raw_dir(data) / "毕业去向_sst.xlsx",
        sheet_xml(cells, None),
        shared=("x" * (1 << 20) for _ in range(300)),
    )
    assert path.stat().st_size < 2 * 1024**2
    good_file(data)
    ingest(AS_OF, data, workers=1)
    code, reason = file_reason(data, "毕业去向_sst.xlsx")
    assert code in ("file_compression_ratio", "file_shared_strings_too_large")
    assert "sharedStrings.xml" in reason
    assert_good_loaded(data)


def test_zip_bomb_like_workbook(tmp_path, monkeypatch):
    data = make_data_dir(tmp_path)
    write_raw_xlsx(
        raw_dir(data) / "毕业去向_bomb.xlsx",
        sheet_xml(grad_cells(3), None),
        pad_sheet=200 * 1024**2,
    )
    good_file(data)
    ingest(AS_OF, data, workers=1)
    code, reason = file_reason(data, "毕业去向_bomb.xlsx")
    assert code == "file_compression_ratio" and "sheet1.xml" in reason
    assert_good_loaded(data)


def test_decompressed_size_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INGEST_MAX_UNZIPPED_BYTES", str(64 * 1024))
    data = make_data_dir(tmp_path)
    write_raw_xlsx(raw_dir(data) / "毕业去向_wide.xlsx", sheet_xml(grad_cells(400), "A1:N401"))
    good_file(data)
    ingest(AS_OF, data, workers=1)
    assert file_reason(data, "毕业去向_wide.xlsx")[0] == "file_unzipped_too_large"
    assert_good_loaded(data)


def test_bounds_leave_an_ordinary_workbook_alone(tmp_path):
    data = make_data_dir(tmp_path)
    write_xlsx(
        raw_dir(data) / "毕业去向_ok.xlsx", {"Sheet1": [HEADER] + [row(i) for i in range(50)]}
    )
    write_raw_xlsx(raw_dir(data) / "毕业去向_raw.xlsx", sheet_xml(grad_cells(20), "A1:N21"))
    ingest(AS_OF, data, workers=1)
    assert counts(data, "毕业去向_ok.xlsx") == (50, 50, 0, 0)
    assert counts(data, "毕业去向_raw.xlsx") == (20, 0, 20, 0)  # the same 学号 as _ok: merged


def test_read_file_raises_the_bound_reason(tmp_path):
    path = write_raw_xlsx(tmp_path / "far.xlsx", sheet_xml({(3, 3): "x"}, None))
    with pytest.raises(UnreadableFile) as exc:
        read_file(path, ReadLimits(max_sheet_cells=8))
    assert exc.value.code == "file_sheet_too_large" and "3 rows x 3 columns" in exc.value.detail
    assert read_file(path, ReadLimits(max_sheet_cells=9)).sheets[0].cells.shape == (3, 3)


# --- a reader process that crashes ---------------------------------------------------------------
def crashing_workbook(path: Path) -> Path:
    """Cells at A1 and XFD1048576 under a declared dimension of A1: python-calamine asks for
    550 GB while building the sheet and aborts (SIGABRT) before any bound can see the range."""
    return write_raw_xlsx(path, sheet_xml({(1, 1): "学号", (1048576, 16384): "x"}, "A1"))


@pytest.mark.parametrize("batch_bytes", [1, None])  # one batch per file; all files in one batch
def test_crashing_reader_is_named_and_the_pool_goes_on(tmp_path, monkeypatch, batch_bytes):
    from helpers.ingest import batches

    if batch_bytes:
        monkeypatch.setattr(batches, "BATCH_BYTES", batch_bytes)
    data = make_data_dir(tmp_path)
    crashing_workbook(raw_dir(data) / "毕业去向_crash.xlsx")
    good_file(data)
    write_xlsx(
        raw_dir(data) / "毕业去向_ok.xlsx", {"Sheet1": [HEADER] + [row(i) for i in range(5)]}
    )
    result = ingest(AS_OF, data, workers=2)
    code, reason = file_reason(data, "毕业去向_crash.xlsx")
    assert code == "file_reader_crashed" and "读取进程异常退出" in reason
    assert_good_loaded(data)
    assert counts(data, "毕业去向_ok.xlsx") == (5, 5, 0, 0)
    assert "毕业去向_crash.xlsx" in result.summary()


def test_placement_ingest_survives_a_crashing_reader(tmp_path):
    data = make_data_dir(tmp_path)
    crashing_workbook(raw_dir(data) / "毕业去向_crash.xlsx")
    good_file(data)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.cli",
            "ingest",
            "--as-of",
            AS_OF.isoformat(),
            "--data-dir",
            str(data),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "file_reader_crashed" in done.stdout
    assert_good_loaded(data)


# --- memory ------------------------------------------------------------------------------------
_MEASURE = """
import resource, sys
from helpers.ingest import ingest
result = ingest(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]))
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(max(own, kids, int(result.worker_peak_rss_mb * 1024 * 1024)))
"""


def _peak_bytes(data: Path, workers: int) -> int:
    """Peak RSS of an ingest run in a fresh process: its own ru_maxrss, its reaped children's
    (RUSAGE_CHILDREN) and the peak its pool workers report."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, AS_OF.isoformat(), str(data), str(workers)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "kind", ["quote", "long_cell", "far_cell", "shared_string", "zip_bomb", "crash"]
)
def test_peak_memory_on_each_hostile_file_stays_under_1_gb(tmp_path, kind):
    data = make_data_dir(tmp_path)
    raw = raw_dir(data)
    workers = 1
    if kind == "quote":
        rows = [HEADER] + [row(i) for i in range(2000)]
        text = csv_text(rows).replace(",公司10\r\n", ',"公司10\r\n', 1)
        (raw / "毕业去向_h.csv").write_text(text, encoding="utf-8")
    elif kind == "long_cell":
        rows = [HEADER, row(1, 单位名称="公" * (1 << 20))]
        write_csv(raw / "毕业去向_h.csv", rows)
    elif kind == "far_cell":
        write_raw_xlsx(raw / "毕业去向_h.xlsx", sheet_xml({(1048576, 16384): "x"}, None))
    elif kind == "shared_string":
        cells = grad_cells(2)
        cells[(2, len(HEADER))] = "#s0"
        write_raw_xlsx(
            raw / "毕业去向_h.xlsx",
            sheet_xml(cells, None),
            shared=("x" * (1 << 20) for _ in range(300)),
        )
    elif kind == "zip_bomb":
        write_raw_xlsx(
            raw / "毕业去向_h.xlsx", sheet_xml(grad_cells(2), None), pad_sheet=512 * 1024**2
        )
    else:
        crashing_workbook(raw / "毕业去向_h.xlsx")
        workers = 2
    good_file(data)
    assert _peak_bytes(data, workers) < GIB
    f = processed(data, "files")
    assert f["balanced"].all()
    assert_good_loaded(data)


# --- property: broken quoting never loses a row --------------------------------------------------
_KINDS = st.sampled_from(["good", "good", "good", "quote", "extra", "short", "blank"])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kinds=st.lists(
        st.tuples(_KINDS, st.integers(0, 13), st.integers(0, 8)), min_size=1, max_size=30
    ),
    mode=st.sampled_from(["never", "always"]),
)
def test_no_row_is_silently_lost_whatever_the_quoting(tmp_path_factory, kinds, mode):
    """Each physical line below the header is a data row (accepted, or quarantined under its
    line number) or a blank line; nothing vanishes into another row's field."""
    data = make_data_dir(tmp_path_factory.mktemp("prop"))
    lines = [",".join(HEADER)]
    data_lines, blank_lines = [], 0
    for n, (kind, col, at) in enumerate(kinds):
        cells = row(100 + n)
        if kind == "blank":
            lines.append("")
            blank_lines += 1
            continue
        if kind == "quote":
            c = cells[col]
            cells[col] = c[: at % (len(c) + 1)] + '"' + c[at % (len(c) + 1) :]
        elif kind == "extra":
            cells.insert(col, "多")
        elif kind == "short":
            cells.pop(col)
        lines.append(",".join(cells))
        data_lines.append(len(lines))
    (raw_dir(data) / "毕业去向_p.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = os.environ.get("PLACEMENT_INGEST_BULK")
    os.environ["PLACEMENT_INGEST_BULK"] = mode
    try:
        ingest(AS_OF, data, workers=1)
    finally:
        if env is None:
            os.environ.pop("PLACEMENT_INGEST_BULK")
        else:
            os.environ["PLACEMENT_INGEST_BULK"] = env
    r = file_row(data, "毕业去向_p.csv")
    assert r["balanced"]
    assert r["rows_read"] + r["blank_rows"] + r["footer_rows"] == len(lines) - 1
    accepted = processed(data, "graduates")["source_row"].astype(int).tolist()
    q = quarantine(data)
    held = q.loc[q["source_file"].str.endswith("毕业去向_p.csv"), "row"].astype(int).tolist()
    assert sorted(accepted + held) == data_lines
    assert r["rows_read"] == len(data_lines)


def test_bounds_are_configuration(monkeypatch):
    from helpers.ingest import limits

    assert limits.current() == ReadLimits()
    monkeypatch.setenv("PLACEMENT_INGEST_MAX_CELL_CHARS", "65_535")
    assert limits.current().max_cell_chars == 65535
    monkeypatch.setenv("PLACEMENT_INGEST_MAX_CELL_CHARS", "many")
    with pytest.raises(ValueError, match="PLACEMENT_INGEST_MAX_CELL_CHARS"):
        limits.current()


@pytest.mark.parametrize("far", [(1048576, 16384), (1000000, 200)])
def test_without_a_pool_a_lying_dimension_is_caught_before_reading(tmp_path, far):
    """Read in the ingest's own process (no pool, nothing would survive a crash), a workbook's
    cell positions are scanned first: cells at A1 and far away under a dimension of A1 (550 GB,
    or 6 GB and a minute, in python-calamine) are quarantined without being read."""
    data = make_data_dir(tmp_path)
    write_raw_xlsx(raw_dir(data) / "毕业去向_lie.xlsx", sheet_xml({(1, 1): "学号", far: "x"}, "A1"))
    good_file(data)
    ingest(AS_OF, data)  # automatic mode: small inputs are read without a pool
    code, reason = file_reason(data, "毕业去向_lie.xlsx")
    assert code == "file_sheet_too_large" and f"{far[0]:,} rows" in reason
    assert_good_loaded(data)
