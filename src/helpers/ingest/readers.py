"""Read input files into sheets of cell text, with the header row located (strict CSV
records: :mod:`helpers.ingest.strict_csv`; which files: :mod:`helpers.ingest.sources`).

Only this module knows file formats:

- ``.xlsx`` / ``.xls`` (and ``.xlsm``, ``.xlsb``, ``.ods``) through python-calamine, called directly:
  it is the engine ``pandas.read_excel(engine="calamine")`` uses, but pandas' adapter turns a
  numeric cell ``3.50102199901E+17`` into the integer ``350102199901000000``, hiding that an ID number
  lost its last digits; reading the typed cells ourselves keeps that visible.
- ``.csv`` decoded strictly: UTF-8 (with or without BOM), else GB18030 (a superset of GBK), else
  the file is unreadable. Never ``errors="replace"``. Parsed strictly (:func:`csv_records`): a
  quote that is never closed, text after a closing quote, or a quoted field that swallows whole
  records is not allowed to eat the lines that follow: that line is kept as a broken row (its
  cells split at the separators, quotes as written) and reading resumes on the next physical line.
  Every physical line therefore ends up in a row, a blank row or a footer row.
- ``.parquet`` (national exports): every column read as text.

A sheet becomes a 2-D array of cell text (``str``; empty cells are ``""``) plus the row number the
analyst sees (Excel row, CSV line). Numeric cells become their digits (``80901.0`` -> ``'80901'``;
floats of 16 or more digits keep Python's scientific notation, the visible sign of damage);
dates become ISO text.

Every file is bounded before it is read (:mod:`helpers.ingest.limits`): file size; for workbooks
the zip's decompressed size and compression ratio, the shared-strings part, each worksheet's
declared dimension and the range python-calamine reports before it builds the cells. A cell
longer than the limit is cut (its row is quarantined, see :attr:`RawSheet.problems`).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pac

from helpers.datasets import Dataset
from helpers.ingest.limits import ReadLimits, mib
from helpers.ingest.limits import current as current_limits
from helpers.ingest.strict_csv import csv_records, cut_long

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
TEXT_SUFFIXES = (".csv", ".txt")
SUPPORTED_SUFFIXES = (*EXCEL_SUFFIXES, *TEXT_SUFFIXES, ".parquet")
HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 2

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
# first non-empty cell of a footer row (after NFKC and without spaces)
FOOTER = re.compile(
    r"^(?:合计|总计|小计|共计|总数|合计[:：].*|总计[:：].*"
    r"|(?:填表人|填报人|制表人|制表|制表日期|填表日期|填报日期|审核人|审核|负责人|单位负责人|联系人|联系电话"
    r"|填报单位|备注|注|说明)[:：].*)$"
)


class UnreadableFile(Exception):
    """A file that cannot be read at all; ``code`` is a helpers.ingest.quarantine reason code."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class RawSheet:
    """One sheet (or a whole CSV) as cell text."""

    name: str
    cells: np.ndarray  # 2-D object array of str
    row_numbers: np.ndarray  # 1-based row number (Excel row / CSV line) of each array row
    # the same cell text column by column as Arrow strings (made while reading; else on demand)
    arrow: list[pa.Array] | None = None
    # CSV: the number of fields of each record as written (before padding to the widest)
    fields: np.ndarray | None = None
    # array row -> (reason code, column index or -1): broken quoting, a cell over the limit
    problems: dict[int, tuple[str, int]] = field(default_factory=dict)

    def column(self, j: int) -> pa.Array:
        """Column ``j`` of the cell text as an Arrow ``large_string`` array (no nulls)."""
        if self.arrow is None:
            self.arrow = [None] * self.cells.shape[1]
        if self.arrow[j] is None:
            self.arrow[j] = pa.array(self.cells[:, j], type=pa.large_string())
        return self.arrow[j]


@dataclass
class RawFile:
    sheets: list[RawSheet]
    encoding: str | None  # CSV only
    engine: str


@dataclass
class HeaderMatch:
    """Where the header is and which columns it names."""

    row: int  # index into RawSheet.cells
    columns: dict[str, int]  # canonical name -> column index (first occurrence)
    headers: list[str]  # header text per column index (as in the file, cleaned)
    duplicates: list[str] = field(default_factory=list)  # canonical names named twice


# --- cell conversion -------------------------------------------------------------------------
def _float_text(values: np.ndarray) -> np.ndarray:
    f = values.astype(np.float64)
    out = np.empty(len(f), dtype=object)
    integral = np.isfinite(f) & (np.abs(f) < 1e16) & (np.floor(f) == f)
    out[integral] = f[integral].astype(np.int64).astype(str)
    rest = ~integral
    if rest.any():
        out[rest] = [repr(float(v)) if np.isfinite(v) else "" for v in f[rest]]
    return out


def _other_text(v) -> str:
    if isinstance(v, dt.datetime):
        if v.hour == v.minute == v.second == v.microsecond == 0:
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


def cells_to_text(column: np.ndarray) -> np.ndarray:
    """One column of typed cells (str, float, int, bool, date, datetime...) -> str."""
    types = np.fromiter(map(type, column), dtype=object, count=len(column))
    is_str = types == str  # noqa: E721 - element-wise comparison of an array of types
    if is_str.all():
        return column
    out = column.copy()
    for t in set(types[~is_str].tolist()):
        m = types == t
        if t is float or t is int:
            out[m] = _float_text(column[m])
        elif t is type(None):  # empty cells
            out[m] = ""
        elif t is dt.date:  # date cells (the common non-text cell): ISO text, no other step
            out[m] = np.fromiter(map(dt.date.isoformat, column[m]), dtype=object, count=m.sum())
        else:
            out[m] = [_other_text(v) for v in column[m]]
    return out


def _to_text_array(rows: list[list]) -> tuple[np.ndarray, list[pa.Array]]:
    """Rows of typed cells -> (2-D object array of cell text, the same columns in Arrow).

    A column of nothing but text (the usual case) goes to Arrow in one call, which also tells
    that it is all text; any other column is converted cell type by cell type first."""
    if not rows:
        return np.empty((0, 0), dtype=object), []
    lengths = set(map(len, rows))
    width = max(lengths)
    if len(lengths) > 1:
        rows = [r + [""] * (width - len(r)) for r in rows]
    arr = np.empty((len(rows), width), dtype=object)
    arr[:] = rows
    columns = []
    for j in range(width):
        try:
            a = pa.array(arr[:, j], type=pa.large_string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            a = None
        if a is None or a.null_count:  # numbers, dates, booleans or empty (None) cells
            arr[:, j] = cells_to_text(arr[:, j])
            a = pa.array(arr[:, j], type=pa.large_string())
        columns.append(a)
    return arr, columns


# --- bounds ----------------------------------------------------------------------------------
_DIMENSION = re.compile(
    rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z$]*[0-9$]*:)?\$?([A-Za-z]{1,3})\$?([0-9]{1,7})\""
)
_SHEET_DATA = b"sheetData"
_HEAD_BYTES = 64 * 1024


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def check_zip(fileobj, limits: ReadLimits, scan: bool = False) -> None:
    """Bounds of a zip-based workbook from its central directory and the first bytes of each
    worksheet (never the whole of any part): raises UnreadableFile over a bound.

    ``scan``: also stream every worksheet once and bound the positions of all its cells (for a
    read in a process whose crash nobody would survive: see :func:`_scan_positions`)."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a readable zip: python-calamine says why (file_corrupt)
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > limits.max_unzipped_bytes:
            raise UnreadableFile(
                "file_unzipped_too_large",
                f"{mib(total)} decompressed > {mib(limits.max_unzipped_bytes)}",
            )
        for info in infos:
            if (
                info.file_size >= limits.ratio_min_bytes
                and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise UnreadableFile(
                    "file_compression_ratio",
                    f"{info.filename}: {mib(info.compress_size)} -> {mib(info.file_size)} "
                    f"({ratio:,.0f}:1 > {limits.max_compression_ratio}:1)",
                )
            name = info.filename.lower()
            if name.endswith("sharedstrings.xml") and info.file_size > (
                limits.max_shared_strings_bytes
            ):
                raise UnreadableFile(
                    "file_shared_strings_too_large",
                    f"{info.filename}: {mib(info.file_size)} > "
                    f"{mib(limits.max_shared_strings_bytes)}",
                )
        for info in infos:
            name = info.filename.lower()
            if "worksheets/" in name and name.endswith(".xml"):
                _check_dimension(zf, info, limits)
                if scan:
                    _scan_positions(zf, info, limits)


def _check_dimension(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """The worksheet's declared ``<dimension ref=…>``, read from its first bytes (streamed)."""
    head = b""
    try:
        with zf.open(info) as fh:
            while len(head) < _HEAD_BYTES:
                block = fh.read(8192)
                if not block:
                    break
                head += block
                if _SHEET_DATA in head:
                    break
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return  # python-calamine reports a broken part
    m = _DIMENSION.search(head)
    if m is None:
        return
    rows, cols = int(m[3]), _column_number(m[2].decode("ascii"))
    _check_area(info.filename, rows, cols, limits)


_REF_MARK = np.frombuffer(b' r="', dtype=np.uint8)
_REF_WIDTH = 11  # up to 3 letters, 7 digits and the closing quote


def _refs_max(buf: np.ndarray, stop: int) -> tuple[int, int]:
    """The largest row and column of the ``r="…"`` attributes (cells' ``A1`` references and rows'
    numbers) that start before ``stop`` in ``buf`` (vectorised: no Python step per cell)."""
    n = len(buf) - len(_REF_MARK)
    if n <= 0:
        return 0, 0
    hit = buf[:n] == _REF_MARK[0]
    for i in range(1, len(_REF_MARK)):
        hit &= buf[i : n + i] == _REF_MARK[i]
    pos = np.flatnonzero(hit[:stop])
    if not len(pos):
        return 0, 0
    col = np.zeros(len(pos), dtype=np.int64)
    row = np.zeros(len(pos), dtype=np.int64)
    in_letters = np.ones(len(pos), dtype=bool)
    stopped = np.zeros(len(pos), dtype=bool)
    last = len(buf) - 1
    for k in range(_REF_WIDTH):  # character by character, every reference at once
        c = buf[np.minimum(pos + len(_REF_MARK) + k, last)].astype(np.int64)
        letter = in_letters & (c >= 65) & (c <= 90)
        col = np.where(letter, col * 26 + c - 64, col)
        in_letters = letter
        digit = ~letter & ~stopped & (c >= 48) & (c <= 57)
        row = np.where(digit, row * 10 + c - 48, row)
        stopped |= ~letter & ~digit
    return int(row.max()), int(col.max())


def _scan_positions(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """The largest row and column any cell or row element of the worksheet names (one streamed
    pass, vectorised, in bounded memory). A declared dimension can lie: cells at A1 and
    XFD1048576 under ``A1`` make python-calamine ask for 550 GB and abort the process. Elements
    without a position (placed after the previous one) count as one more row and column each."""
    max_row = max_col = unplaced = 0
    tail = b""
    keep = len(_REF_MARK) + _REF_WIDTH
    try:
        with zf.open(info) as fh:
            while True:
                block = fh.read(1 << 20)
                data = tail + block
                stop = len(data) if not block else max(len(data) - keep, 0)
                r, c = _refs_max(np.frombuffer(data, dtype=np.uint8), stop)
                max_row, max_col = max(max_row, r), max(max_col, c)
                unplaced += data[:stop].count(b"<c>") + data[:stop].count(b"<row>")
                if not block:
                    break
                tail = data[stop:]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return  # python-calamine reports a broken part
    if max_row or max_col or unplaced:
        _check_area(info.filename, max_row + unplaced, max(max_col, 1) + unplaced, limits)


def _check_area(sheet: str, rows: int, cols: int, limits: ReadLimits) -> None:
    """Rows x columns counted from A1 (the area read with its row numbers kept)."""
    if rows * cols > limits.max_sheet_cells:
        raise UnreadableFile(
            "file_sheet_too_large",
            f"{sheet}: {rows:,} rows x {cols:,} columns from A1 = {rows * cols:,} cells "
            f"> {limits.max_sheet_cells:,}",
        )


def _max_bytes(col: pa.Array) -> int:
    """The longest value's length in bytes, from the offsets (large strings) without a kernel."""
    if not pa.types.is_large_string(col.type):
        return int(pac.max(pac.binary_length(col)).as_py() or 0)
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int64)[
        col.offset : col.offset + len(col) + 1
    ]
    return int(np.diff(offsets).max())


def _bound_cells(arr: np.ndarray, columns: list[pa.Array], limits: ReadLimits) -> dict:
    """Cells longer than ``limits.max_cell_chars``: cut (a prefix and the length are kept, so
    the quarantine stays small) and their rows reported as (code, column)."""
    problems: dict[int, tuple[str, int]] = {}
    cap = limits.max_cell_chars
    for j, col in enumerate(columns):
        if len(col) == 0 or _max_bytes(col) <= cap:  # no more characters than bytes
            continue
        if pac.max(pac.utf8_length(col)).as_py() <= cap:
            continue
        long_rows = np.flatnonzero(pac.greater(pac.utf8_length(col), cap).to_numpy(False))
        for i in long_rows:
            text = arr[i, j]
            arr[i, j] = f"{text[:200]}…（共 {len(text):,} 字符，超过上限 {cap:,}）"
            problems.setdefault(int(i), ("cell_too_long", j))
        columns[j] = pa.array(arr[:, j], type=pa.large_string())
    return problems


# --- readers ---------------------------------------------------------------------------------
def _read_excel(path: Path, data: bytes, limits: ReadLimits, scan: bool = False) -> RawFile:
    import python_calamine as pc

    if data.startswith(OLE_MAGIC) and any(m in data for m in _ENCRYPTED_MARKERS):
        raise UnreadableFile("file_password", "encrypted workbook")
    if data.startswith(b"PK\x03\x04"):
        check_zip(io.BytesIO(data), limits, scan)
    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError as exc:
        raise UnreadableFile("file_password", str(exc)) from exc
    except Exception as exc:  # calamine raises several error types for broken files
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise UnreadableFile("file_password", str(exc)) from exc
        raise UnreadableFile("file_corrupt", f"{type(exc).__name__}: {exc}") from exc
    sheets = []
    for name in wb.sheet_names:
        try:
            sheet = wb.get_sheet_by_name(name)
            end = sheet.end
            if end is not None:  # the cells are read from A1 (row numbers as in Excel)
                _check_area(name, end[0] + 1, end[1] + 1, limits)
            rows = sheet.to_python(skip_empty_area=False)
        except UnreadableFile:
            raise
        except Exception as exc:
            raise UnreadableFile(
                "file_corrupt", f"sheet {name}: {type(exc).__name__}: {exc}"
            ) from exc
        arr, columns = _to_text_array(rows)
        del rows
        problems = _bound_cells(arr, columns, limits)
        sheets.append(
            RawSheet(
                name,
                arr,
                np.arange(1, arr.shape[0] + 1, dtype=np.int64),
                columns,
                problems=problems,
            )
        )
    if not any(s.cells.size for s in sheets):
        raise UnreadableFile("file_empty", "no cells in any sheet")
    return RawFile(sheets, None, "calamine")


def decode_text(data: bytes) -> tuple[str, str]:
    """Strict decoding: UTF-8 (BOM or not), else GB18030; raises UnreadableFile otherwise."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding, errors="strict"), encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("file_encoding", "neither UTF-8 nor GB18030")


def sniff_delimiter(text: str) -> str:
    first = text[:4096].splitlines()[:5]
    return "\t" if sum(x.count("\t") for x in first) > sum(x.count(",") for x in first) else ","


def _read_csv(path: Path, data: bytes, limits: ReadLimits) -> RawFile:
    if data.startswith(b"PK\x03\x04") or data.startswith(OLE_MAGIC) or b"\x00" in data[:4096]:
        raise UnreadableFile("file_wrong_type", "binary content in a text file")
    text, encoding = decode_text(data)
    del data
    if not text.strip():
        raise UnreadableFile("file_empty", "no text")
    delimiter = sniff_delimiter(text)
    rec = csv_records(text, delimiter, limits=limits, lengths=False)
    del text
    cut_long(rec.rows, rec.problems, limits.max_cell_chars)
    fields = np.fromiter(map(len, rec.rows), dtype=np.int64, count=len(rec.rows))
    arr, columns = _to_text_array(rec.rows)
    for i, problem in _bound_cells(arr, columns, limits).items():
        rec.problems.setdefault(i, problem)
    return RawFile(
        [
            RawSheet(
                "",
                arr,
                np.asarray(rec.starts, dtype=np.int64),
                columns,
                fields=fields,
                problems=rec.problems,
            )
        ],
        encoding,
        "csv",
    )


def _read_parquet(path: Path, limits: ReadLimits) -> RawFile:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise UnreadableFile("file_corrupt", f"{type(exc).__name__}: {exc}") from exc
    df = table.to_pandas()
    header = np.array([list(df.columns)], dtype=object)
    body = df.astype("str").fillna("").to_numpy(dtype=object)
    arr = np.vstack([header, body]) if len(body) else header
    for j in range(arr.shape[1]):
        arr[:, j] = cells_to_text(arr[:, j])
    columns = [pa.array(arr[:, j], type=pa.large_string()) for j in range(arr.shape[1])]
    problems = _bound_cells(arr, columns, limits)
    return RawFile(
        [
            RawSheet(
                "", arr, np.arange(1, arr.shape[0] + 1, dtype=np.int64), columns, problems=problems
            )
        ],
        None,
        "pyarrow",
    )


def check_size(path: Path, size: int, limits: ReadLimits) -> None:
    """File-size bounds (see helpers.ingest.limits); raises UnreadableFile over one."""
    suffix = path.suffix.lower()
    cap = limits.max_file_bytes
    if suffix in EXCEL_SUFFIXES:
        cap = min(cap, limits.max_workbook_bytes)
    elif suffix in TEXT_SUFFIXES:
        cap = min(cap, limits.max_csv_regular_bytes)
    if size > cap:
        raise UnreadableFile("file_too_large", f"{mib(size)} > {mib(cap)}")


def read_file(path: Path, limits: ReadLimits | None = None, scan: bool = False) -> RawFile:
    """Read any supported file; raises UnreadableFile with a reason code when it cannot.

    ``scan``: bound every cell position of a workbook before reading it (one streamed pass over
    its worksheets), for reads outside a reader process (see :func:`_scan_positions`)."""
    limits = limits or current_limits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile("file_wrong_type", f"unsupported file type {suffix or '(none)'}")
    check_size(path, path.stat().st_size, limits)
    if suffix == ".parquet":
        return _read_parquet(path, limits)
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("file_empty", "0 bytes")
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, data, limits, scan)
    return _read_csv(path, data, limits)


def row_problems(sheet: RawSheet, header_row: int) -> list[tuple[int, str, int]]:
    """(row index below the header, reason code, column index or -1) of every body row that is
    broken: the reader's problems, and CSV records whose field count differs from the header
    record's (blank and footer rows are the caller's to leave out)."""
    out = [
        (i - header_row - 1, code, j) for i, (code, j) in sheet.problems.items() if i > header_row
    ]
    if sheet.fields is not None and len(sheet.fields) > header_row + 1:
        body = sheet.fields[header_row + 1 :]
        ragged = np.flatnonzero(body != sheet.fields[header_row])
        known = {i - header_row - 1 for i in sheet.problems}
        out += [(int(i), "row_field_count", -1) for i in ragged if int(i) not in known]
    return sorted(out)


# --- headers ---------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 16)
def header_key(text: str) -> str:
    """Header text -> matching key: NFKC, no spaces or line breaks, no '*' marks or trailing
    colon, case-insensitive, '_' / '-' ignored (so 'Student ID' matches student_id)."""
    t = unicodedata.normalize("NFKC", str(text))
    t = re.sub(r"\s+", "", t).strip("*:")
    return t.lower().replace("_", "").replace("-", "")


def _alias_keys(dataset: Dataset, extra: dict[str, str] | None = None) -> dict[str, str]:
    keys = {header_key(h): name for h, name in dataset.aliases.items()}
    for h, name in (extra or {}).items():
        keys.setdefault(header_key(h), name)
    return keys


def match_header(cell: str, keys: dict[str, str]) -> str | None:
    k = header_key(cell)
    if not k:
        return None
    if k in keys:
        return keys[k]
    # '毕业年份(届)' / '院校代码（5位）': a trailing bracketed note
    stripped = re.sub(r"\([^()]*\)$", "", k)
    return keys.get(stripped) if stripped != k else None


def find_header(
    sheet: RawSheet, dataset: Dataset, extra: dict[str, str] | None = None
) -> HeaderMatch | None:
    """The row (within the first HEADER_SCAN_ROWS) naming the most columns of ``dataset``."""
    keys = _alias_keys(dataset, extra)
    best: tuple[int, int] | None = None
    n = min(HEADER_SCAN_ROWS, sheet.cells.shape[0])
    after = 0
    for i in range(n):
        names = {match_header(c, keys) for c in sheet.cells[i] if c and len(c) <= 40}
        names.discard(None)
        if len(names) >= MIN_HEADER_MATCHES and (best is None or len(names) > best[1]):
            best = (i, len(names))
            after = 0
        elif best is not None:
            after += 1
            if after >= 3:  # data rows follow the header: stop looking
                break
    if best is None:
        return None
    row = best[0]
    headers = [re.sub(r"\s+", "", unicodedata.normalize("NFKC", c)) for c in sheet.cells[row]]
    columns: dict[str, int] = {}
    duplicates: list[str] = []
    for j, cell in enumerate(sheet.cells[row]):
        name = match_header(cell, keys) if cell else None
        if name is None:
            continue
        if name in columns:
            duplicates.append(name)
            continue
        columns[name] = j
    return HeaderMatch(row, columns, headers, duplicates)


# --- discovery -------------------------------------------------------------------------------
def _name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().lower()


def dataset_for_file(path: Path, datasets) -> Dataset | None:
    """The dataset whose prefix starts the file name (Chinese or English, case-insensitive)."""
    name = _name_key(path.name)
    for d in datasets:
        for prefix in d.prefixes:
            if name.startswith(_name_key(prefix)):
                return d
    return None
