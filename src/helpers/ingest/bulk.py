"""Bulk (national-size) ingest of graduates exports: streamed, column-wise, memory-bounded.

``placement ingest`` sends a graduates file here instead of the regular reader
(:mod:`helpers.ingest.process`, which holds a whole file as cell objects) when

- it is a Parquet file (a national export; any size), or
- it is a CSV file of at least :data:`CSV_MIN_BYTES` (64 MiB, about 450,000 rows),

or always / never with ``PLACEMENT_INGEST_BULK=always|never`` (default ``auto``). Excel files
never: a worksheet holds at most 1,048,576 rows and the regular reader handles them.

The rules are those of the regular path, applied to the same batch frame of clean text: the
normalisers, pandera checks, typers, reason codes, repairs and pseudonyms of
:mod:`helpers.ingest.process`, and the duplicate rules and per-file equation of
:mod:`helpers.ingest.pipeline`. Only reading differs:

- a file is cut into chunks of about :data:`CHUNK_ROWS` rows (Parquet: row-group slices; CSV:
  byte ranges that end at a line break outside quotes); each chunk is read straight into Arrow
  string columns, cleaned with pyarrow compute, normalised, validated and typed in a worker of
  the ingest process pool, and its accepted rows are written to a spill Parquet part under
  ``processed/.bulk-<pid>/``; the worker returns only small arrays (key hash, row numbers) and
  the chunk's quarantine, repairs and fingerprints;
- blank and footer rows, the header row (first 30 rows) and CSV line numbers follow the regular
  reader exactly. A CSV range whose lines are not one record each (a quoted line break, a row
  with more or fewer cells than the header, a lone ``\\r``) is parsed with Python's csv module
  instead, as the regular reader does; a file whose quoting defeats the range split is read
  record by record in the parent (slow, still streamed);
- the parent finds duplicate natural keys across all chunks from the key hashes, compares the
  few candidate rows exactly (read back from the spill), quarantines conflicts with their raw
  rows, checks ``rows read = accepted + merged + quarantined`` per file, and writes
  ``graduates.parquet`` by streaming the spill parts (dropping merged / conflicting rows).

Peak memory is a few chunks (one per worker) plus 8-byte key hashes per row, independent of the
file size. See docs/national.md.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import resource
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.datasets import BY_NAME, PROCESSED_COLUMNS
from helpers.ingest import normalise as nz
from helpers.ingest.limits import mib
from helpers.ingest.process import (
    FILE_COLUMNS,
    NATURAL_KEYS,
    NORMALISERS,
    BatchResult,
    Context,
    FileTask,
    _at,
    _file_failure,
    _files_frame,
    _fingerprints,
    _missing_required,
    _peak_rss_mb,
    _quarantine_frame,
    _Repairs,
    _repairs_frame,
    _typed,
    _zh,
    accepted_records,
    empty_fingerprints,
    processed_frame,
    signature,
)
from helpers.ingest.pseudonym import Digester
from helpers.ingest.quarantine import (
    QUARANTINE_COLUMNS,
    REPAIR_COLUMNS,
    empty_frame,
    issues_frame,
    raw_json,
    summarise_issues,
)
from helpers.ingest.readers import (
    _OLE_MAGIC,
    FOOTER,
    HEADER_SCAN_ROWS,
    HeaderMatch,
    RawSheet,
    csv_records,
    find_header,
    iter_records,
)
from helpers.ingest.schemas import validate
from helpers.ingest.workers import WorkerCrashed

BULK_DATASETS = ("graduates",)
MODE_ENV = "PLACEMENT_INGEST_BULK"  # auto | always | never
CSV_MIN_BYTES = 64 * 1024 * 1024
CHUNK_ROWS = 500_000
CSV_RANGE_BYTES = 64 * 1024 * 1024  # about 450,000 rows of a typical graduates export
_HEAD_BYTES = 1024 * 1024
_BLOCK = 16 * 1024 * 1024
SPILL_PREFIX = ".bulk-"
ENGINES = {"parquet": "pyarrow (bulk)", "csv": "pyarrow-csv (bulk)", "csv-records": "csv (bulk)"}


# --- which files ---------------------------------------------------------------------------
def mode() -> str:
    value = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if value not in ("auto", "always", "never"):
        raise ValueError(f"{MODE_ENV} must be auto, always or never, not {value!r}")
    return value


def is_bulk(task: FileTask, size: int) -> bool:
    """Whether ``task`` goes through the bulk path (see the module docstring)."""
    if task.dataset not in BULK_DATASETS or task.folder is None:
        return False
    suffix = Path(task.path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        return False
    m = mode()
    if m == "never":
        return False
    if m == "always" or suffix == ".parquet":
        return True
    return size >= CSV_MIN_BYTES


def split_tasks(
    needed: dict[str, FileTask], sizes: dict[str, int]
) -> tuple[dict[str, FileTask], list[FileTask]]:
    """(tasks for the regular path, tasks for the bulk path)."""
    bulk = [t for p, t in needed.items() if is_bulk(t, sizes[p])]
    chosen = {t.path for t in bulk}
    return {p: t for p, t in needed.items() if p not in chosen}, sorted(bulk, key=lambda t: t.rel)


# --- plans ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilePlan:
    """How one file is read: its header and format details (made in the parent)."""

    task: FileTask
    kind: str  # parquet | csv | csv-records
    header: HeaderMatch
    width: int  # cells per row (header width)
    header_row: int  # row number the analyst sees
    encoding: str | None = None  # csv: utf-8-sig | gb18030
    delimiter: str = ","
    skip: int = 0  # parquet: body rows above (and including) the header
    promote: tuple[int, ...] = ()  # parquet: integer columns with missing values (read as floats)
    fields: int = 0  # csv: fields of the header record as written (a data row must have as many)


@dataclass(frozen=True)
class Chunk:
    plan: FilePlan
    number: int  # within the file
    spill: str  # spill part path
    # parquet: body rows [start, stop) of the file (body = rows below the column names)
    start: int = 0
    stop: int = 0
    # csv: bytes [start, stop) and the line number of the first line
    first_line: int = 0
    slice_rows: int = 0  # rows processed at a time (CHUNK_ROWS of the parent when planned)


@dataclass
class ChunkResult:
    """What a worker returns for one chunk (small: no records)."""

    plan: FilePlan
    number: int
    spill: str | None  # None when no row was accepted
    khash: np.ndarray  # uint64 per accepted row, in spill order
    rows: np.ndarray  # int64 row number per accepted row
    quarantine: pd.DataFrame
    repairs: pd.DataFrame
    fingerprints: pd.DataFrame
    dup_raw: dict  # (row) -> raw JSON of rows whose key repeats within the chunk
    rows_read: int
    blank_rows: int
    footer_rows: int
    peak_rss_mb: float = 0.0
    pid: int = 0
    cpu_seconds: float = 0.0  # CPU time of that process so far (user + system)


@dataclass
class FileFailure:
    """A bulk file that cannot be read at all (same reason codes as the regular reader)."""

    task: FileTask
    code: str
    detail: str
    encoding: str | None = None
    engine: str | None = None


class _Fallback(Exception):
    """This CSV range (or file) must be read another way."""


class _EncodingMismatch(Exception):
    """A range of a CSV that looked like UTF-8 is not: the file is read as GB18030."""


def _head_sheet_parquet(pf: pq.ParquetFile, promote: tuple[int, ...]) -> RawSheet:
    names = list(pf.schema_arrow.names)
    rows = [np.array(names, dtype=object)]
    if pf.metadata.num_rows:
        batches, got = [], 0
        for b in pf.iter_batches(batch_size=HEADER_SCAN_ROWS - 1):
            batches.append(b)
            got += b.num_rows
            if got >= HEADER_SCAN_ROWS - 1:
                break
        head = pa.Table.from_batches(batches).slice(0, HEADER_SCAN_ROWS - 1)
        cols = _raw_columns(head, promote)
        if cols:
            body = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])
            rows += list(body)
    cells = np.vstack(rows).astype(object)
    return RawSheet("", cells, np.arange(1, len(cells) + 1, dtype=np.int64))


def _int_columns_with_nulls(pf: pq.ParquetFile) -> tuple[int, ...]:
    md = pf.metadata
    out = []
    for j, f in enumerate(pf.schema_arrow):
        if not pa.types.is_integer(f.type):
            continue
        nulls = 0
        for i in range(md.num_row_groups):
            stats = md.row_group(i).column(j).statistics
            if stats is None or not stats.has_null_count:
                nulls = pf.read(columns=[f.name]).column(0).null_count
                break
            nulls += stats.null_count
        if nulls:
            out.append(j)
    return tuple(out)


def _plan_parquet(task: FileTask) -> FilePlan | FileFailure:
    try:
        pf = pq.ParquetFile(task.path)
        promote = _int_columns_with_nulls(pf)
        sheet = _head_sheet_parquet(pf, promote)
    except Exception as exc:  # any unreadable Parquet, in the regular reader's words
        detail = f"{type(exc).__name__}: {exc}"
        try:
            pq.read_table(task.path)
        except Exception as again:
            detail = f"{type(again).__name__}: {again}"
        return FileFailure(task, "file_corrupt", detail)
    header = find_header(sheet, BY_NAME[task.dataset])
    if header is None:
        return FileFailure(
            task, "file_no_header", "no sheet has a header row of this dataset", None, "pyarrow"
        )
    return FilePlan(
        task,
        "parquet",
        header,
        len(header.headers),
        int(sheet.row_numbers[header.row]),
        skip=header.row,
        promote=promote,
    )


def _read_head(path: str) -> bytes | None:
    """The first bytes of a CSV (its encoding is decided on them, and checked on every range);
    None when the file holds nothing but whitespace."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if not head.strip():
            while block := fh.read(_BLOCK):  # only whitespace so far: is there anything else?
                if block.strip():
                    break
            else:
                return None
    return head


def _plan_csv(task: FileTask) -> FilePlan | FileFailure:
    path = task.path
    head = _read_head(path)
    if head is None:
        return FileFailure(task, "file_empty", "0 bytes")
    if head.startswith(b"PK\x03\x04") or head.startswith(_OLE_MAGIC) or b"\x00" in head[:4096]:
        return FileFailure(task, "file_wrong_type", "binary content in a text file")
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)("strict").decode(head, final=False)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return FileFailure(task, "file_encoding", "neither UTF-8 nor GB18030")
    return _plan_csv_text(task, text, encoding, len(head) < _HEAD_BYTES)


def _plan_csv_text(task: FileTask, text: str, encoding: str, whole: bool) -> FilePlan | FileFailure:
    if not text.strip() and whole:
        return FileFailure(task, "file_empty", "no text")
    first = text[:4096].splitlines()[:5]
    delimiter = (
        "\t" if sum(x.count("\t") for x in first) > sum(x.count(",") for x in first) else ","
    )
    if not whole:  # complete lines only (a record cut at the end is not needed for the header)
        text = text[: text.rfind("\n") + 1]
    records, starts = _csv_records(text, delimiter, 1, limit=HEADER_SCAN_ROWS + 1)
    widths = [len(r) for r in records]
    cells = _pad(records)
    sheet = RawSheet("", cells, np.asarray(starts, dtype=np.int64))
    header = find_header(sheet, BY_NAME[task.dataset])
    if header is None:
        return FileFailure(
            task, "file_no_header", "no sheet has a header row of this dataset", encoding, "csv"
        )
    return FilePlan(
        task,
        "csv",
        header,
        len(header.headers),
        int(starts[header.row]),
        encoding=encoding,
        delimiter=delimiter,
        skip=header.row,
        fields=widths[header.row],
    )


def _csv_records(
    text: str, delimiter: str, first_line: int, limit: int | None = None
) -> tuple[list[list[str]], list[int]]:
    """Records and their start lines, as the regular reader numbers them."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    starts: list[int] = []
    line = first_line
    for record in reader:
        rows.append(record)
        starts.append(line)
        line = first_line + reader.line_num
        if limit is not None and len(rows) >= limit:
            break
    return rows, starts


def _pad(rows: list[list[str]], width: int = 0) -> np.ndarray:
    width = max([width, *(len(r) for r in rows)]) if rows else width
    arr = np.empty((len(rows), width), dtype=object)
    arr[:] = [r + [""] * (width - len(r)) for r in rows] if rows else arr
    return arr


def _data_offset(path: str, plan: FilePlan) -> tuple[int, int]:
    """Byte offset and line number where the data (the line after the header record) starts."""
    # the header record may span lines (a quoted line break in a header cell)
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    text = codecs.getincrementaldecoder(plan.encoding)("strict").decode(head, final=False)
    text = text[: text.rfind("\n") + 1] if len(head) == _HEAD_BYTES else text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=plan.delimiter)
    for _ in range(plan.skip + 1):
        next(reader)
    lines = reader.line_num  # physical lines consumed by the rows up to the header
    pos = -1
    for _ in range(lines):
        pos = head.find(b"\n", pos + 1)
        if pos < 0:  # the header is the last line, without a line break
            return os.path.getsize(path), lines + 1
    return pos + 1, lines + 1


def _csv_chunks(plan: FilePlan, spill_dir: Path, file_no: int) -> list[Chunk]:
    """Byte ranges of about CSV_RANGE_BYTES ending at a line break with an even number of quote
    characters before it (never inside a quoted field of a well-formed file)."""
    path = plan.task.path
    size = os.path.getsize(path)
    start, line = _data_offset(path, plan)
    chunks: list[Chunk] = []
    quotes = 0
    pos = start
    cut = start
    target = start + CSV_RANGE_BYTES
    with open(path, "rb") as fh:
        fh.seek(start)
        while pos < size:
            block = fh.read(_BLOCK)
            if not block:
                break
            end = pos + len(block)
            local = 0
            while target < end:
                i = block.find(b"\n", max(target - pos, local))
                if i < 0:
                    break
                q = quotes + block.count(b'"', 0, i)
                if q % 2 and pos + i - cut > 4 * CSV_RANGE_BYTES:
                    # no line break outside quotes for a long way: quoting is not RFC 4180
                    raise _Fallback("no record boundary found")
                if q % 2 == 0:
                    chunks.append(
                        _range_chunk(plan, spill_dir, file_no, len(chunks), cut, pos + i + 1)
                    )
                    cut = pos + i + 1
                    target = cut + CSV_RANGE_BYTES
                local = i + 1
            quotes += block.count(b'"')
            pos = end
            if target < pos and pos - cut > 4 * CSV_RANGE_BYTES:
                raise _Fallback("no record boundary found")
    if cut < size or not chunks:
        chunks.append(_range_chunk(plan, spill_dir, file_no, len(chunks), cut, size))
    # line numbers: the lines before each cut
    out = []
    with open(path, "rb") as fh:
        fh.seek(start)
        for c in chunks:
            out.append(
                Chunk(c.plan, c.number, c.spill, c.start, c.stop, line, slice_rows=CHUNK_ROWS)
            )
            line += _count_newlines(fh, c.stop - c.start)
    return out


def _count_newlines(fh, n: int) -> int:
    count = 0
    while n > 0:
        block = fh.read(min(n, _BLOCK))
        if not block:
            break
        count += block.count(b"\n")
        n -= len(block)
    return count


def _range_chunk(plan, spill_dir: Path, file_no: int, number: int, start: int, stop: int) -> Chunk:
    return Chunk(plan, number, str(spill_dir / f"{file_no:05d}-{number:05d}"), start, stop)


def _parquet_chunks(plan: FilePlan, spill_dir: Path, file_no: int) -> list[Chunk]:
    """Row groups (each read once), cut only when one holds more than 4 x CHUNK_ROWS rows; the
    worker processes a chunk in slices of CHUNK_ROWS."""
    md = pq.ParquetFile(plan.task.path).metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    edges = [0]
    for size in sizes:
        parts = max(1, -(-size // (4 * CHUNK_ROWS)))
        edges += [edges[-1] + size * (k + 1) // parts for k in range(parts)]
    edges = sorted({max(e, plan.skip) for e in edges})
    if len(edges) == 1:
        edges.append(edges[0])
    return [
        Chunk(plan, i, str(spill_dir / f"{file_no:05d}-{i:05d}"), a, b, slice_rows=CHUNK_ROWS)
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    ]


def plan_file(task: FileTask) -> FilePlan | FileFailure:
    suffix = Path(task.path).suffix.lower()
    return _plan_parquet(task) if suffix == ".parquet" else _plan_csv(task)


def file_chunks(plan: FilePlan, spill_dir: Path, file_no: int) -> list[Chunk]:
    if plan.kind == "parquet":
        return _parquet_chunks(plan, spill_dir, file_no)
    return _csv_chunks(plan, spill_dir, file_no)


# --- reading a chunk -----------------------------------------------------------------------
def _raw_columns(table: pa.Table, promote: tuple[int, ...] = ()) -> list[pa.Array]:
    """Every column as cell text, exactly as the regular Parquet reader makes it (missing -> '').

    ``promote``: integer columns with a missing value somewhere in the file, which pandas reads
    as floats (``80901.0``) when it converts the whole file, as the regular reader does."""
    out = []
    for j, col in enumerate(table.columns):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            a = pc.fill_null(col.combine_chunks().cast(pa.large_string()), "")
        else:  # the regular reader: pandas astype("str"), missing -> ""
            if j in promote:
                col = col.cast(pa.float64())
            s = col.to_pandas().astype("str").fillna("")
            a = pa.array(s.to_numpy(dtype=object), type=pa.large_string())
        out.append(a)
    return out


def _read_parquet_chunk(chunk: Chunk) -> tuple[list[pa.Array], np.ndarray]:
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
    return _raw_columns(table, chunk.plan.promote), rows


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


def _read_csv_range(chunk: Chunk, limits=None) -> tuple[list[pa.Array], np.ndarray, int, dict]:
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
            raise _EncodingMismatch(str(exc)) from exc
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
    cols, problems = _record_columns(plan, rec.rows, rec.problems, limits)
    return cols, np.asarray(rec.starts, dtype=np.int64), 0, problems


def _record_columns(plan: FilePlan, rows: list[list[str]], problems: dict, limits):
    """Records -> Arrow columns (padded to the header), over-long cells cut, ragged rows added
    to the problems (as the regular reader does)."""
    from helpers.ingest.readers import _cut_long

    _cut_long(rows, problems, (limits or _limits()).max_cell_chars)
    if plan.fields:
        for i, r in enumerate(rows):
            if r and len(r) != plan.fields and i not in problems:
                problems[i] = ("row_field_count", -1)
    cells = _pad(rows, plan.width)
    cols = [pa.array(cells[:, j], type=pa.large_string()) for j in range(cells.shape[1])]
    return cols, problems


def _limits():
    from helpers.ingest.limits import current

    return current()


def _lengths_ok(cols: list[pa.Array], limits) -> bool:
    cap = (limits or _limits()).max_cell_chars
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
        raise _EncodingMismatch(str(exc)) from exc


# --- cleaning (as helpers.ingest.process) --------------------------------------------------
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _text(a: pa.Array) -> pd.Series:
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
    return pd.Series(pd.array(a, dtype=_STR))


def _masks(cols: list[pa.Array], n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
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
def _chunk_cells(chunk: Chunk, limits=None) -> tuple[list[pa.Array], np.ndarray, int, dict]:
    if chunk.plan.kind == "parquet":
        cols, rows = _read_parquet_chunk(chunk)
        return cols, rows, 0, _long_cells(cols, limits)
    return _read_csv_range(chunk, limits)


def _long_cells(cols: list[pa.Array], limits) -> dict:
    """Parquet: rows with a cell over the limit (cut in place, as the regular reader does)."""
    if _lengths_ok(cols, limits):
        return {}
    cap = (limits or _limits()).max_cell_chars
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


def process_chunk(chunk: Chunk, ctx: Context) -> list[ChunkResult]:
    """Read, clean, normalise, validate and type one chunk (in slices of CHUNK_ROWS rows); write
    the accepted rows of each slice to a spill part."""
    cols, rows, blank_lines, problems = _chunk_cells(chunk, ctx.limits)
    n = len(rows)
    step = chunk.slice_rows or CHUNK_ROWS
    out = []
    for k, a in enumerate(range(0, max(n, 1), step)):
        b = min(a + step, n)
        part = [c.slice(a, b - a) for c in cols]
        spill = f"{chunk.spill}-{k:03d}.parquet"
        first = chunk.number == 0 and k == 0
        sub = {i - a: p for i, p in problems.items() if a <= i < b}
        out.append(
            process_cells(
                chunk, part, rows[a:b], blank_lines if k == 0 else 0, ctx, spill, first, sub
            )
        )
    return out


def process_cells(
    chunk: Chunk,
    cols: list[pa.Array],
    rownums: np.ndarray,
    blank_lines: int,
    ctx: Context,
    spill: str,
    first: bool,
    problems: dict | None = None,
) -> ChunkResult:
    plan, task = chunk.plan, chunk.plan.task
    d = BY_NAME[task.dataset]
    dataset = d.name
    n_all = len(rownums)
    blank, footer, keywords = _masks(cols, n_all)
    src = {"source_file": task.rel, "sheet": "", "dataset": dataset, "snapshot_date": task.folder}
    repair_rows = [
        {
            **src,
            "row": int(rownums[i]),
            "column": "",
            "repair_code": "footer_row",
            "before": kw,
            "after": "",
        }
        for i, kw in zip(np.flatnonzero(footer), keywords, strict=True)
    ]
    if first:
        repair_rows += [
            {
                **src,
                "row": plan.header_row,
                "column": _zh(dataset, name),
                "repair_code": "duplicate_header",
                "before": "",
                "after": "",
            }
            for name in plan.header.duplicates
        ]
    keep = np.flatnonzero(~blank & ~footer)
    take = pa.array(keep)
    data = [c.take(take) for c in cols]
    rows = rownums[keep]
    n = len(keep)
    columns = plan.header.columns
    names = [c.name for c in d.columns if c.name in columns]
    f = pd.DataFrame(
        {
            name: _text(data[columns[name]])
            if columns[name] < len(data)
            else pd.Series(np.nan, index=range(n), dtype=_STR)
            for name in names
        },
        index=pd.RangeIndex(n),
    )
    f["_file"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=[task.rel])
    f["_sheet"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=[""])
    f["_folder"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=[task.folder])
    f["_row"] = rows.astype(np.int64)
    extra = [
        issues_frame(np.arange(n), "missing_column", col) for col in _missing_required(d, columns)
    ]
    if problems:  # broken rows (quoting, field count, over-long cells): by data-row position
        rank = np.cumsum(~blank & ~footer) - 1
        kept = ~blank & ~footer
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (code, j) in sorted(problems.items()):
            if kept[i]:
                name = plan.header.headers[j] if 0 <= j < len(plan.header.headers) else ""
                column = (name or f"第{j + 1}列") if j >= 0 else ""
                groups.setdefault((code, column), []).append(int(rank[i]))
        extra += [issues_frame(pos, code, column) for (code, column), pos in groups.items()]

    def raw_for(pos: np.ndarray) -> list[str]:
        idx = pa.array(np.asarray(pos, dtype=np.int64))
        cells = (
            np.column_stack([c.take(idx).to_numpy(zero_copy_only=False) for c in data])
            if data
            else np.empty((len(pos), 0), dtype=object)
        )
        return raw_json(plan.header.headers, cells)

    out = _process_frame(dataset, f, raw_for, extra, repair_rows, ctx)
    records, quarantine, repairs, fingerprints, dup_raw = out
    if len(records):
        khash = records.pop("_khash").to_numpy(dtype=np.uint64)
        acc_rows = records["_row"].to_numpy(dtype=np.int64)
        records.drop(columns=["_file", "_sheet", "_folder", "_row"]).to_parquet(spill, index=False)
    else:
        spill = None
        khash = np.empty(0, dtype=np.uint64)
        acc_rows = np.empty(0, dtype=np.int64)
    return ChunkResult(
        plan,
        chunk.number,
        spill,
        khash,
        acc_rows,
        quarantine,
        repairs,
        fingerprints,
        dup_raw,
        n,
        int(blank.sum()) + blank_lines,
        int(footer.sum()),
        _peak_rss_mb(),
        os.getpid(),
        _cpu_seconds(),
    )


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _process_frame(
    dataset: str,
    f: pd.DataFrame,
    raw_for: Callable[[np.ndarray], list[str]],
    extra_issues: list[pd.DataFrame],
    repair_rows: list[dict],
    ctx: Context,
):
    """process.process_batch from the batch frame on (same functions, same order)."""
    d = BY_NAME[dataset]
    digester = Digester(ctx.key)
    if len(f) == 0:
        empty = processed_frame(
            dataset,
            pd.DataFrame(
                {
                    c: pd.Series(dtype=t if t != "category" else object)
                    for c, t in PROCESSED_COLUMNS[dataset].items()
                }
            ),
            pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
        )
        return (
            empty,
            _quarantine_frame([]),
            _repairs_frame(dataset, repair_rows, None, None),
            empty_fingerprints(),
            {},
        )
    row_words: dict[str, np.ndarray] = {}
    fingerprints = _fingerprints(f, digester, row_words)
    rep = _Repairs(f, dataset)
    v = NORMALISERS[dataset](f, ctx, rep)
    issues = validate(dataset, v.copy(), ctx.universities.codes)
    if extra_issues:
        issues = pd.concat([issues, *extra_issues], ignore_index=True)
    summary = summarise_issues(issues)
    bad_pos = summary["pos"].to_numpy(dtype=np.int64)
    if len(bad_pos):
        q = pd.DataFrame(
            {
                "source_file": _at(f["_file"], bad_pos),
                "sheet": _at(f["_sheet"], bad_pos),
                "row": _at(f["_row"], bad_pos),
                "snapshot_date": _at(f["_folder"], bad_pos),
                "dataset": dataset,
                "level": "row",
                "reason_code": summary["reason_code"].to_numpy(),
                "reason": summary["reason"].to_numpy(),
                "column": summary["column"].to_numpy(),
                "reason_codes": summary["reason_codes"].to_numpy(),
                "raw": raw_for(bad_pos),
            }
        )
        quarantine = _typed(q, QUARANTINE_COLUMNS)
    else:
        quarantine = _quarantine_frame([])
    records, pos = accepted_records(dataset, d, v, f, bad_pos, digester, row_words)
    dup_raw = {}
    if len(pos):
        dup_raw = dict(zip(_at(f["_row"], pos).astype(int).tolist(), raw_for(pos), strict=True))
    repairs = _repairs_frame(dataset, repair_rows, rep.result(), f)
    return records.reset_index(drop=True), quarantine, repairs, fingerprints, dup_raw


# --- the exact record-by-record fallback for a CSV (parent) --------------------------------
def _records_stream(
    plan: FilePlan, limits=None
) -> Iterator[tuple[list[pa.Array], np.ndarray, dict]]:
    """Records of the data part of a CSV, strictly (helpers.ingest.readers.iter_records),
    CHUNK_ROWS at a time: (columns, row numbers, problems by row index)."""
    limits = limits or _limits()
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
                if len(rows) >= CHUNK_ROWS:
                    break
            if not rows:
                return
            cols, problems = _record_columns(plan, rows, problems, limits)
            yield cols, np.asarray(starts, dtype=np.int64), problems
            if len(rows) < CHUNK_ROWS:
                return


# --- running (parent) ----------------------------------------------------------------------
@dataclass
class BulkFile:
    """Every chunk of one bulk file (or its failure), as a result in the pipeline's ``done``."""

    dataset: str
    task: FileTask
    plan: FilePlan | None
    chunks: list[ChunkResult] = field(default_factory=list)
    failure: FileFailure | None = None
    peak_rss_mb: float = 0.0
    spill_dir: str | None = None


def spill_root(processed: Path) -> Path:
    return Path(processed) / f"{SPILL_PREFIX}{os.getpid()}"


def cleanup(processed: Path) -> None:
    """Remove spill folders (ours, and stale ones of runs that died: ingest holds a lock)."""
    for p in Path(processed).glob(f"{SPILL_PREFIX}*"):
        shutil.rmtree(p, ignore_errors=True)


class _Submitted:
    """The chunks of one file, submitted to the pool (all files at once: both cores busy even
    when each file is a single row group), or run when their results are asked for."""

    def __init__(self, chunks: list[Chunk], ctx: Context, pool):
        self.chunks, self.ctx, self.pool = chunks, ctx, pool
        self.futures = [pool.submit(process_chunk, c, ctx) for c in chunks] if pool else None

    def results(self) -> list[ChunkResult]:
        if self.futures is None:
            return [r for c in self.chunks for r in process_chunk(c, self.ctx)]
        out, error = [], None
        for fut, chunk in zip(self.futures, self.chunks, strict=True):
            # wait for all: no worker still writes to the spill afterwards
            try:
                if hasattr(self.pool, "outcome"):  # a ReaderPool: a crashed chunk runs alone
                    out += self.pool.outcome(fut, process_chunk, chunk, self.ctx)
                else:
                    out += fut.result()
            except (_Fallback, _EncodingMismatch, WorkerCrashed) as exc:
                error = error or exc
        if error is not None:
            raise error
        return out


_NOT_TEXT = ("file_encoding", "neither UTF-8 nor GB18030")


@dataclass
class _Started:
    task: FileTask
    file_no: int
    plan: FilePlan | FileFailure
    submitted: _Submitted | None = None
    fallback: bool = False  # no CSV range could be cut: read record by record


def _start_file(task: FileTask, file_no: int, ctx: Context, pool, spill_dir: Path) -> _Started:
    size = os.path.getsize(task.path)
    if size > ctx.limits.max_file_bytes:
        detail = f"{mib(size)} > {mib(ctx.limits.max_file_bytes)}"
        return _Started(task, file_no, FileFailure(task, "file_too_large", detail))
    plan = plan_file(task)
    if isinstance(plan, FileFailure):
        return _Started(task, file_no, plan)
    try:
        chunks = file_chunks(plan, spill_dir, file_no)
    except _Fallback:
        return _Started(task, file_no, plan, fallback=True)
    return _Started(task, file_no, plan, _Submitted(chunks, ctx, pool))


def _finish_file(st: _Started, ctx: Context, pool, spill_dir: Path) -> BulkFile:
    task, file_no, plan = st.task, st.file_no, st.plan

    def failed(f: FileFailure) -> BulkFile:
        return BulkFile(task.dataset, task, None, failure=f, spill_dir=str(spill_dir))

    if isinstance(plan, FileFailure):
        return failed(plan)
    chunks: list[ChunkResult] = []
    submitted, fallback = st.submitted, st.fallback
    for attempt in range(2):
        try:
            if fallback:
                raise _Fallback("no record boundary found")
            chunks = submitted.results()
        except WorkerCrashed as exc:
            return failed(FileFailure(task, "file_reader_crashed", exc.detail))
        except _EncodingMismatch:
            # a CSV that looked like UTF-8 at the start is not: all of it as GB18030, else none
            if plan.encoding == "gb18030" or attempt:
                return failed(FileFailure(task, *_NOT_TEXT))
            plan = _replan_gb18030(task)
            if isinstance(plan, FileFailure):
                return failed(plan)
            try:
                submitted = _Submitted(file_chunks(plan, spill_dir, file_no), ctx, pool)
            except _Fallback:
                fallback = True
            continue
        except _Fallback:
            plan = FilePlan(**{**plan.__dict__, "kind": "csv-records"})
            try:
                chunks = _records_fallback(plan, spill_dir, file_no, ctx)
            except UnicodeDecodeError:
                return failed(FileFailure(task, *_NOT_TEXT))
        break
    peak = max((c.peak_rss_mb for c in chunks), default=0.0)
    return BulkFile(task.dataset, task, plan, chunks, None, peak, str(spill_dir))


def _replan_gb18030(task: FileTask) -> FilePlan | FileFailure:
    with open(task.path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    try:
        text = codecs.getincrementaldecoder("gb18030")("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return FileFailure(task, *_NOT_TEXT)
    return _plan_csv_text(task, text, "gb18030", len(head) < _HEAD_BYTES)


def _records_fallback(
    plan: FilePlan, spill_dir: Path, file_no: int, ctx: Context
) -> list[ChunkResult]:
    out = []
    for i, (cols, rows, problems) in enumerate(_records_stream(plan, ctx.limits)):
        chunk = Chunk(plan, i, str(spill_dir / f"{file_no:05d}-r{i:05d}"))
        spill = f"{chunk.spill}.parquet"
        out.append(process_cells(chunk, cols, rows, 0, ctx, spill, i == 0, problems))
    if not out:
        empty = [pa.array([], type=pa.large_string()) for _ in range(plan.width)]
        chunk = Chunk(plan, 0, str(spill_dir / f"{file_no:05d}-r00000"))
        out.append(
            process_cells(
                chunk, empty, np.empty(0, dtype=np.int64), 0, ctx, f"{chunk.spill}.parquet", True
            )
        )
    return out


def run(
    tasks: list[FileTask],
    ctx: Context,
    pool: ProcessPoolExecutor | None,
    processed: Path,
    done: dict,
    first_index: int,
    result=None,
) -> dict[int, float]:
    """Process every bulk file; put one BulkFile per file into the pipeline's ``done`` (keyed
    like its batch results, after them). Updates ``result`` (an IngestResult) with the workers'
    peak RSS and CPU; returns CPU seconds per worker process id (not the parent's)."""
    cpu: dict[int, float] = {}
    if not tasks:
        return cpu
    cleanup(processed)
    spill_dir = spill_root(processed)
    spill_dir.mkdir(parents=True)
    started = [_start_file(task, i, ctx, pool, spill_dir) for i, task in enumerate(tasks)]
    for i, (task, st) in enumerate(zip(tasks, started, strict=True)):
        res = _finish_file(st, ctx, pool, spill_dir)
        done.setdefault((task.dataset, task.folder), []).append((first_index + i, res))
        for c in res.chunks:
            if c.pid != os.getpid():
                cpu[c.pid] = max(cpu.get(c.pid, 0.0), c.cpu_seconds)
        if result is not None:
            result.worker_peak_rss_mb = max(result.worker_peak_rss_mb, res.peak_rss_mb)
    if result is not None:
        result.worker_cpu_seconds = sum(cpu.values())
    return cpu


def has_bulk(results: list) -> bool:
    return any(isinstance(r, BulkFile) for r in results)


# --- merging (parent) ----------------------------------------------------------------------
@dataclass
class _Part:
    path: str
    file: str
    folder: str | None
    n: int


class SpilledRecords:
    """The accepted rows of a dataset, still in spill parts: written by streaming them.

    Stands in for the records frame of :class:`helpers.ingest.pipeline.Merged` (``len()`` and
    ``to_parquet()``, which is all the writer uses)."""

    def __init__(self, dataset: str, parts: list[_Part], drop: np.ndarray):
        self.dataset = dataset
        self.parts = parts
        self.drop = drop  # over all rows of all parts, in order
        self.columns = list(PROCESSED_COLUMNS[dataset])

    def __len__(self) -> int:
        return int(len(self.drop) - self.drop.sum())

    def _schema(self) -> pa.Schema:
        spec = PROCESSED_COLUMNS[self.dataset]
        empty = processed_frame(
            self.dataset,
            pd.DataFrame(
                {c: pd.Series(dtype=t if t != "category" else object) for c, t in spec.items()}
            ),
            pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
        )
        return pa.Schema.from_pandas(empty, preserve_index=False)

    def tables(self) -> Iterator[pa.Table]:
        schema = self._schema()
        at = 0
        for part in self.parts:
            keep = ~self.drop[at : at + part.n]
            at += part.n
            if not keep.any():
                continue
            t = pq.read_table(part.path, columns=self.columns)
            if not keep.all():
                t = t.filter(pa.array(keep))
            yield pa.Table.from_arrays(
                [t.column(c).cast(schema.field(c).type) for c in self.columns], schema=schema
            )

    def to_parquet(self, path, index: bool = False) -> None:
        from helpers.ingest.pipeline import parquet_options

        schema = self._schema()
        options = parquet_options(schema, self.dataset)
        with pq.ParquetWriter(str(path), schema, **options) as writer:
            for t in self.tables():
                writer.write_table(t)


class _Rows:
    """Key hash, row number and source labels of every spilled row, part by part."""

    def __init__(self):
        self.parts: list[_Part] = []
        self.khash: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.labels: list[tuple] = []  # per part: (file, sheet, folder), scalars or arrays

    def add(self, part: _Part, khash, rows, file, sheet, folder) -> None:
        self.parts.append(part)
        self.khash.append(np.asarray(khash, dtype=np.uint64))
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.labels.append((file, sheet, folder))

    def column(self, i: int) -> pd.Categorical:
        """Source label i (0 file, 1 sheet, 2 folder) of every row, as a categorical."""
        values = [lab[i] for lab in self.labels]
        cats = sorted(
            {v for lab in values for v in (lab if isinstance(lab, np.ndarray) else [lab])}
        )
        lookup = {c: k for k, c in enumerate(cats)}
        codes = [
            pd.Series(lab).map(lookup).to_numpy(dtype=np.int32)
            if isinstance(lab, np.ndarray)
            else np.full(p.n, lookup[lab], dtype=np.int32)
            for lab, p in zip(values, self.parts, strict=True)
        ]
        codes_all = np.concatenate(codes) if codes else np.empty(0, dtype=np.int32)
        return pd.Categorical.from_codes(codes_all, categories=pd.Index(cats, dtype=object))


def _spill_regular(res: BatchResult, path: Path, acc: _Rows) -> None:
    """Records of a regular batch of the same dataset and folder, spilled like a chunk."""
    rec = res.records  # the merge columns; the processed columns are in res.table
    if len(rec) == 0:
        return
    psig = pa.array(rec["_psig"].to_numpy(dtype=np.uint64), type=pa.uint64())
    pq.write_table(res.table.append_column("_psig", psig), str(path))
    acc.add(
        _Part(str(path), "", None, len(rec)),
        rec["_khash"].to_numpy(dtype=np.uint64),
        rec["_row"].to_numpy(dtype=np.int64),
        rec["_file"].astype(str).to_numpy(dtype=object),
        rec["_sheet"].astype(str).to_numpy(dtype=object),
        rec["_folder"].astype(str).to_numpy(dtype=object),
    )


def merge(dataset: str, results: list, paths: dict[str, str]):
    """pipeline.merge for results that include bulk files: the same duplicate rules and counts,
    with the records left in the spill."""
    from helpers.ingest import pipeline as pl

    acc = _Rows()
    quarantine, repairs, fps = [], [], []
    file_rows: list[dict] = []
    dup_raw: dict = {}
    failed: list[dict] = []
    spill_dir = _any_spill_dir(results)
    for number, res in enumerate(results):
        if not isinstance(res, BulkFile):
            quarantine.append(res.quarantine)
            repairs.append(res.repairs)
            file_rows.extend(res.files.to_dict("records"))
            if len(res.fingerprints):
                fps.append(res.fingerprints)
            dup_raw.update(res.dup_raw)
            _spill_regular(res, spill_dir / f"regular-{number:05d}.parquet", acc)
            continue
        t = res.task
        if res.failure is not None:
            fl = res.failure
            base = {"source_file": t.rel, "dataset": dataset, "snapshot_date": t.folder}
            _file_failure(
                base, fl.code, fl.detail, file_rows, failed, encoding=fl.encoding, engine=fl.engine
            )
            continue
        plan = res.plan
        file_rows.append(
            {
                "source_file": t.rel,
                "sheet": "",
                "dataset": dataset,
                "snapshot_date": t.folder,
                "encoding": plan.encoding,
                "engine": ENGINES[plan.kind],
                "status": "ok",
                "header_row": plan.header_row,
                "rows_read": sum(c.rows_read for c in res.chunks),
                "blank_rows": sum(c.blank_rows for c in res.chunks),
                "footer_rows": sum(c.footer_rows for c in res.chunks),
                "columns": ",".join(plan.header.columns),
            }
        )
        for c in res.chunks:
            quarantine.append(c.quarantine)
            repairs.append(c.repairs)
            if len(c.fingerprints):
                fps.append(c.fingerprints)
            dup_raw.update({(t.rel, "", r): js for r, js in c.dup_raw.items()})
            if c.spill is not None:
                acc.add(
                    _Part(c.spill, t.rel, t.folder, len(c.khash)),
                    c.khash,
                    c.rows,
                    t.rel,
                    "",
                    t.folder,
                )
    quarantine_df = pl._concat([*quarantine, _quarantine_frame(failed)], QUARANTINE_COLUMNS)
    repairs_df = pl._concat(repairs, REPAIR_COLUMNS)
    files_df = _files_frame(file_rows) if file_rows else empty_frame(FILE_COLUMNS)
    fingerprints = pd.concat(fps, ignore_index=True) if fps else empty_fingerprints()
    fingerprints["kind"] = fingerprints["kind"].astype("category")
    fingerprints = pl._unique_words(fingerprints)

    kh = np.concatenate(acc.khash) if acc.khash else np.empty(0, dtype=np.uint64)
    n = len(kh)
    file_cat, sheet_cat = acc.column(0), acc.column(1)
    merged_mask = np.zeros(n, dtype=bool)
    conflict_mask = np.zeros(n, dtype=bool)
    keys = list(NATURAL_KEYS[dataset])
    cand = np.flatnonzero(pd.Series(kh).duplicated(keep=False).to_numpy()) if n else []
    if len(cand):
        # candidates by the key's 64-bit hash, then exact keys and content (pipeline.merge)
        folder_cat = acc.column(2)
        row_arr = np.concatenate(acc.rows)
        grp = _read_rows(acc.parts, cand)
        grp.index = cand
        grp["_file"] = np.asarray(file_cat[cand], dtype=object)
        grp["_sheet"] = np.asarray(sheet_cat[cand], dtype=object)
        grp["_folder"] = np.asarray(folder_cat[cand], dtype=object)
        grp["_row"] = row_arr[cand]
        grp = grp.sort_values(["_folder", "_file", "_sheet", "_row"], kind="stable")
        grp = grp.loc[grp.duplicated(keys, keep=False).to_numpy()]
        grp = grp.assign(_sig=signature(grp))
        nsig = (
            grp.groupby(keys, observed=True, dropna=False)["_sig"].transform("nunique").to_numpy()
        )
        conflict_mask[grp.index[nsig > 1]] = True
        same = grp.loc[nsig == 1]
        merged_mask[same.index[same.duplicated(keys, keep="first").to_numpy()]] = True
        if conflict_mask.any():
            conf = grp.loc[conflict_mask[grp.index]].sort_index()
            _fill_raw(dup_raw, conf, results)
            quarantine_df = pd.concat(
                [quarantine_df, pl._conflict_rows(dataset, conf, _RawOnly(dup_raw), paths)],
                ignore_index=True,
            )
    light = pd.DataFrame({"_file": file_cat, "_sheet": sheet_cat})
    files_df = pl._count_rows(files_df, light, merged_mask, conflict_mask, quarantine_df, dataset)
    records = SpilledRecords(dataset, acc.parts, merged_mask | conflict_mask)
    counts = {
        "files": int(files_df["source_file"].nunique()),
        "unreadable_files": int((files_df["status"] == "unreadable").sum()),
        "rows_read": int(files_df["rows_read"].sum()),
        "accepted": len(records),
        "merged": int(merged_mask.sum()),
        "quarantined": int(files_df["quarantined"].sum()),
        "quarantined_duplicates": int(conflict_mask.sum()),
    }
    return pl.Merged(records, quarantine_df, repairs_df, files_df, fingerprints, counts)


def _any_spill_dir(results: list) -> Path:
    for r in results:
        if isinstance(r, BulkFile) and r.spill_dir is not None:
            return Path(r.spill_dir)
    raise RuntimeError("bulk merge without a bulk file")


@dataclass
class _RawOnly:
    dup_raw: dict


def _read_rows(parts: list[_Part], positions: np.ndarray) -> pd.DataFrame:
    """Rows at global ``positions`` (sorted) of the spill parts, with every spilled column."""
    bounds = np.cumsum([0] + [p.n for p in parts])
    frames = []
    for i, part in enumerate(parts):
        sel = positions[(positions >= bounds[i]) & (positions < bounds[i + 1])] - bounds[i]
        if len(sel):
            t = pq.read_table(part.path).take(pa.array(sel))
            frames.append(t.to_pandas())
    return pd.concat(frames, ignore_index=True)


def _fill_raw(dup_raw: dict, rows: pd.DataFrame, results: list) -> None:
    """Raw JSON of conflicting rows that no chunk kept (duplicates across chunks): re-read."""
    missing = [
        (f, int(r))
        for f, s, r in zip(rows["_file"], rows["_sheet"], rows["_row"], strict=True)
        if (f, s, int(r)) not in dup_raw
    ]
    if not missing:
        return
    by_file: dict[str, set[int]] = {}
    for f, r in missing:
        by_file.setdefault(f, set()).add(r)
    for res in results:
        if not isinstance(res, BulkFile) or res.task.rel not in by_file:
            continue
        wanted = by_file[res.task.rel]
        for row, js in raw_rows(res.plan, wanted).items():
            dup_raw[(res.task.rel, "", row)] = js


def raw_rows(plan: FilePlan, wanted: set[int]) -> dict[int, str]:
    """Raw JSON of some rows of a bulk file (re-read chunk by chunk; rare)."""
    out: dict[int, str] = {}
    if plan.kind == "parquet":
        for row in sorted(wanted):
            k = row - 2
            chunk = Chunk(plan, -1, "", k, k + 1)
            cols, _ = _read_parquet_chunk(chunk)
            cells = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])
            out[row] = raw_json(plan.header.headers, cells)[0]
        return out
    if plan.kind == "csv":
        chunks = _csv_chunks(plan, Path("."), 0)
        for chunk in chunks:
            cols, rows, _, _ = _read_csv_range(chunk)
            hit = np.flatnonzero(np.isin(rows, list(wanted)))
            if len(hit):
                idx = pa.array(hit)
                cells = np.column_stack([c.take(idx).to_numpy(zero_copy_only=False) for c in cols])
                for r, js in zip(rows[hit], raw_json(plan.header.headers, cells), strict=True):
                    out[int(r)] = js
        return out
    for cols, rows, _ in _records_stream(plan):
        hit = np.flatnonzero(np.isin(rows, list(wanted)))
        if len(hit):
            idx = pa.array(hit)
            cells = np.column_stack([c.take(idx).to_numpy(zero_copy_only=False) for c in cols])
            for r, js in zip(rows[hit], raw_json(plan.header.headers, cells), strict=True):
                out[int(r)] = js
    return out
