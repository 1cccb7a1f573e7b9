"""Bulk reader, reading (in a worker): the cells of one chunk as Arrow string columns, exactly as
the regular reader would have made them (row numbers, blank and footer rows, over-long cells,
broken CSV rows), and the raw rows of a bulk file read again (conflicting duplicates).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.ingest import bulk_plan
from helpers.ingest import limits as read_limits
from helpers.ingest import normalise as nz
from helpers.ingest.bulk_plan import (
    Chunk,
    EncodingMismatch,
    FilePlan,
    csv_chunks,
    pad,
    raw_columns,
)
from helpers.ingest.quarantine import raw_json
from helpers.ingest.readers import FOOTER
from helpers.ingest.strict_csv import csv_records, cut_long, iter_records


def read_parquet_chunk(chunk: Chunk) -> tuple[list[pa.Array], np.ndarray]:
    pf = pq.ParquetFile(chunk.plan.task.path)
    md = pf.metadata
    bounds = np.cumsum([0] + [md.row_group(i).num_rows for i in range(md.num_row_groups)])
    groups = [
        i
        for i in range(md.num_row_groups)
        if bounds[i] < chunk.stop and bounds[i + 1] > chunk.start
    ]
    if groups:
        table = pf.read_row_groups(groups)
        table = table.slice(chunk.start - bounds[groups[0]], chunk.stop - chunk.start)
    else:
        table = pf.schema_arrow.empty_table()
    # rows: the column names are row 1, body row k is row k + 2
    rows = np.arange(chunk.start + 2, chunk.stop + 2, dtype=np.int64)
    return raw_columns(table, chunk.plan.promote), rows


def _line_table(data: bytes, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """Line numbers of the non-empty lines of ``data`` and the number of empty lines (a line of
    nothing, or only ``\\r`` before ``\\n``)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if (len(data) and data[-1:] == b"\n") else np.r_[nl, len(buf)]
    starts = np.r_[0, nl + 1][: len(ends)]
    length = ends - starts
    cr = np.zeros(len(ends), dtype=bool)
    has = length > 0
    cr[has] = buf[ends[has] - 1] == 13
    empty = (length - cr) == 0
    lines = first_line + np.arange(len(ends), dtype=np.int64)
    return lines[~empty], lines[empty]


def read_csv_range(chunk: Chunk, limits=None) -> tuple[list[pa.Array], np.ndarray, int, dict]:
    """Cells of a CSV byte range, row numbers, blank lines (read as empty records) and the
    problems of broken rows (readers.row_problems' codes, by row index in the range)."""
    import pyarrow.csv as pacsv

    plan = chunk.plan
    with open(plan.task.path, "rb") as fh:
        fh.seek(chunk.start)
        data = fh.read(chunk.stop - chunk.start)
    if plan.encoding == "gb18030":
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise EncodingMismatch(str(exc)) from exc
        utf8 = text.encode("utf-8")
    else:
        utf8 = data
        text = None
    simple = data.count(b"\r") == data.count(b"\r\n")
    if simple:
        lines, empty_lines = _line_table(data, chunk.first_line)
        names = [f"c{i}" for i in range(plan.width)]
        try:
            table = pacsv.read_csv(
                io.BytesIO(utf8),
                read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(
                    delimiter=plan.delimiter, newlines_in_values=False, ignore_empty_lines=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.large_string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc).upper() and text is None:
                _check_utf8(data)
            table = None
        if table is not None and table.num_rows == len(lines):
            cols = [c.combine_chunks() for c in table.columns]
            if _quotes_ok(cols) and _lengths_ok(cols, limits):
                return cols, lines, len(empty_lines), {}
            table = None
    # the csv module, as the regular reader (a quoted line break, ragged rows, a lone \r ...)
    if text is None:
        text = _check_utf8(data)
    rec = csv_records(text, plan.delimiter, chunk.first_line, plan.fields or plan.width, limits)
    cols, problems = record_columns(plan, rec.rows, rec.problems, limits)
    return cols, np.asarray(rec.starts, dtype=np.int64), 0, problems


def record_columns(plan: FilePlan, rows: list[list[str]], problems: dict, limits):
    """Records -> Arrow columns (padded to the header), over-long cells cut, ragged rows added
    to the problems (as the regular reader does)."""
    cut_long(rows, problems, (limits or current_limits()).max_cell_chars)
    if plan.fields:
        for i, r in enumerate(rows):
            if r and len(r) != plan.fields and i not in problems:
                problems[i] = ("row_field_count", -1)
    cells = pad(rows, plan.width)
    cols = [pa.array(cells[:, j], type=pa.large_string()) for j in range(cells.shape[1])]
    return cols, problems


def current_limits():
    return read_limits.current()


def _lengths_ok(cols: list[pa.Array], limits) -> bool:
    cap = (limits or current_limits()).max_cell_chars
    return not any(len(c) and pc.max(pc.utf8_length(c)).as_py() > cap for c in cols)


def _quotes_ok(cols: list[pa.Array]) -> bool:
    """pyarrow and the csv module differ on quote characters inside a field (``a"b``,
    ``"a"b``): a range with a parsed cell containing a quote character is left to the csv
    module."""
    return not any(pc.any(pc.match_substring(c, '"')).as_py() for c in cols)


def _check_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingMismatch(str(exc)) from exc


# --- cleaning (as helpers.ingest.process) --------------------------------------------------
TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def text_cells(a: pa.Array) -> pd.Series:
    """process.text_column for an Arrow array: NFKC (non-ASCII only), stripped, '' -> missing."""
    a = a.cast(pa.large_string())
    ascii_ = pc.string_is_ascii(a)
    if not pc.all(ascii_).as_py():
        rest = pc.invert(ascii_)
        other = pc.filter(a, rest)
        enc = pc.dictionary_encode(other)
        if len(enc.dictionary) * 4 < len(other):
            normal = pc.take(pc.utf8_normalize(enc.dictionary, "NFKC"), enc.indices)
        else:
            normal = pc.utf8_normalize(other, "NFKC")
        a = pc.replace_with_mask(a, rest, normal.cast(pa.large_string()))
    a = pc.utf8_trim_whitespace(a)
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.large_string()), a)
    return pd.Series(pd.array(a, dtype=TEXT_DTYPE))


def body_masks(cols: list[pa.Array], n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """process._body_masks, column-wise: blank rows, footer rows and their keywords."""
    if n == 0 or not cols:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), []
    ne = [pc.not_equal(c, "").to_numpy(zero_copy_only=False) for c in cols]
    count = np.sum(ne, axis=0)
    sparse = np.flatnonzero(count <= 3)  # blank-looking rows: cells of only spaces?
    if len(sparse):
        idx = pa.array(sparse)
        for j, c in enumerate(cols):
            vals = c.take(idx).to_pylist()
            ne[j][sparse] = [bool(v.strip()) for v in vals]
    nonempty = np.any(ne, axis=0)
    first = cols[-1]
    for j in range(len(cols) - 2, -1, -1):  # the first non-empty cell of each row
        first = pc.if_else(pa.array(ne[j]), cols[j], first)
    footer = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(~pc.string_is_ascii(first).to_numpy(zero_copy_only=False) & nonempty)
    keywords: list[str] = []
    if len(cand):  # footer words are Chinese: an ASCII first cell is never a footer
        sub = first.take(pa.array(cand))
        key = pc.replace_substring_regex(pc.utf8_normalize(sub, "NFKC"), nz.WS, "")
        hit = pc.match_substring_regex(key, FOOTER.pattern).to_numpy(zero_copy_only=False)
        footer[cand[hit]] = True
        keywords = [re.split(r"[:：]", k)[0] for k in key.filter(pa.array(hit)).to_pylist()]
    return ~nonempty, footer, keywords


# --- processing a chunk (in a worker) ------------------------------------------------------
def chunk_cells(chunk: Chunk, limits=None) -> tuple[list[pa.Array], np.ndarray, int, dict]:
    if chunk.plan.kind == "parquet":
        cols, rows = read_parquet_chunk(chunk)
        return cols, rows, 0, _long_cells(cols, limits)
    return read_csv_range(chunk, limits)


def _long_cells(cols: list[pa.Array], limits) -> dict:
    """Parquet: rows with a cell over the limit (cut in place, as the regular reader does)."""
    if _lengths_ok(cols, limits):
        return {}
    cap = (limits or current_limits()).max_cell_chars
    problems: dict[int, tuple[str, int]] = {}
    for j, c in enumerate(cols):
        length = pc.utf8_length(c)
        long_rows = np.flatnonzero(pc.greater(length, cap).to_numpy(zero_copy_only=False))
        if not len(long_rows):
            continue
        values = c.to_pylist()
        for i in long_rows:
            text = values[i]
            values[i] = f"{text[:200]}…（共 {len(text):,} 字符，超过上限 {cap:,}）"
            problems.setdefault(int(i), ("cell_too_long", j))
        cols[j] = pa.array(values, type=pa.large_string())
    return problems


def records_stream(
    plan: FilePlan, limits=None
) -> Iterator[tuple[list[pa.Array], np.ndarray, dict]]:
    """Records of the data part of a CSV, strictly (helpers.ingest.readers.iter_records),
    CHUNK_ROWS at a time: (columns, row numbers, problems by row index)."""
    limits = limits or current_limits()
    with open(plan.task.path, encoding=plan.encoding, errors="strict", newline="") as fh:
        reader = csv.reader(fh, delimiter=plan.delimiter)
        line = 1
        for _ in range(plan.skip + 1):
            next(reader)
            line = reader.line_num + 1
        records = iter_records(fh, plan.delimiter, line, plan.fields or plan.width, limits)
        while True:
            rows: list[list[str]] = []
            starts: list[int] = []
            problems: dict[int, tuple[str, int]] = {}
            for start, cells, problem in records:
                if problem is not None:
                    problems[len(rows)] = problem
                rows.append(cells)
                starts.append(start)
                if len(rows) >= bulk_plan.CHUNK_ROWS:
                    break
            if not rows:
                return
            cols, problems = record_columns(plan, rows, problems, limits)
            yield cols, np.asarray(starts, dtype=np.int64), problems
            if len(rows) < bulk_plan.CHUNK_ROWS:
                return


def raw_rows(plan: FilePlan, wanted: set[int]) -> dict[int, str]:
    """Raw JSON of some rows of a bulk file (re-read chunk by chunk; rare)."""
    out: dict[int, str] = {}
    if plan.kind == "parquet":
        for row in sorted(wanted):
            k = row - 2
            chunk = Chunk(plan, -1, "", k, k + 1)
            cols, _ = read_parquet_chunk(chunk)
            cells = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])
            out[row] = raw_json(plan.header.headers, cells)[0]
        return out
    if plan.kind == "csv":
        pieces = (read_csv_range(c)[:2] for c in csv_chunks(plan, Path("."), 0))
    else:
        pieces = ((cols, rows) for cols, rows, _ in records_stream(plan))
    for cols, rows in pieces:
        hit = np.flatnonzero(np.isin(rows, list(wanted)))
        if len(hit):
            idx = pa.array(hit)
            cells = np.column_stack([c.take(idx).to_numpy(zero_copy_only=False) for c in cols])
            for r, js in zip(rows[hit], raw_json(plan.header.headers, cells), strict=True):
                out[int(r)] = js
    return out
