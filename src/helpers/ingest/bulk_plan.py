"""Bulk reader, planning (in the parent): which graduates files take the bulk path, and for each
its header, format details and chunks (Parquet row-group slices, CSV byte ranges); the types a
bulk file's processing returns. See :mod:`helpers.ingest.bulk`.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.datasets import BY_NAME
from helpers.ingest.readers import HEADER_SCAN_ROWS, OLE_MAGIC, HeaderMatch, RawSheet, find_header
from helpers.ingest.tasks import FileTask

BULK_DATASETS = ("graduates",)
MODE_ENV = "PLACEMENT_INGEST_BULK"  # auto | always | never
CSV_MIN_BYTES = 64 * 1024 * 1024
CHUNK_ROWS = 500_000
CSV_RANGE_BYTES = 64 * 1024 * 1024  # about 450,000 rows of a typical graduates export
HEAD_BYTES = 1024 * 1024
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


class Fallback(Exception):
    """This CSV range (or file) must be read another way."""


class EncodingMismatch(Exception):
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
        cols = raw_columns(head, promote)
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
        head = fh.read(HEAD_BYTES)
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
    if head.startswith(b"PK\x03\x04") or head.startswith(OLE_MAGIC) or b"\x00" in head[:4096]:
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
    return _plan_csv_text(task, text, encoding, len(head) < HEAD_BYTES)


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
    cells = pad(records)
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


def pad(rows: list[list[str]], width: int = 0) -> np.ndarray:
    width = max([width, *(len(r) for r in rows)]) if rows else width
    arr = np.empty((len(rows), width), dtype=object)
    arr[:] = [r + [""] * (width - len(r)) for r in rows] if rows else arr
    return arr


def _data_offset(path: str, plan: FilePlan) -> tuple[int, int]:
    """Byte offset and line number where the data (the line after the header record) starts."""
    # the header record may span lines (a quoted line break in a header cell)
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    text = codecs.getincrementaldecoder(plan.encoding)("strict").decode(head, final=False)
    text = text[: text.rfind("\n") + 1] if len(head) == HEAD_BYTES else text
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


def csv_chunks(plan: FilePlan, spill_dir: Path, file_no: int) -> list[Chunk]:
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
                    raise Fallback("no record boundary found")
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
                raise Fallback("no record boundary found")
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
    return csv_chunks(plan, spill_dir, file_no)


def replan_gb18030(task: FileTask) -> FilePlan | FileFailure:
    with open(task.path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    try:
        text = codecs.getincrementaldecoder("gb18030")("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return FileFailure(task, *NOT_TEXT)
    return _plan_csv_text(task, text, "gb18030", len(head) < HEAD_BYTES)


NOT_TEXT = ("file_encoding", "neither UTF-8 nor GB18030")


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


def raw_columns(table: pa.Table, promote: tuple[int, ...] = ()) -> list[pa.Array]:
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
