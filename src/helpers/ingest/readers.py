"""Find input files and read them into sheets of cell text, with the header row located.

Only this module knows file formats:

- ``.xlsx`` / ``.xls`` (and ``.xlsm``, ``.xlsb``, ``.ods``) through python-calamine, called directly:
  it is the engine ``pandas.read_excel(engine="calamine")`` uses, but pandas' adapter turns a
  numeric cell ``3.50102199901E+17`` into the integer ``350102199901000000``, hiding that an ID number
  lost its last digits; reading the typed cells ourselves keeps that visible.
- ``.csv`` decoded strictly: UTF-8 (with or without BOM), else GB18030 (a superset of GBK), else
  the file is unreadable. Never ``errors="replace"``.
- ``.parquet`` (national exports): every column read as text.

A sheet becomes a 2-D array of cell text (``str``; empty cells are ``""``) plus the row number the
analyst sees (Excel row, CSV line). Numeric cells become their digits (``80901.0`` -> ``'80901'``;
floats of 16 or more digits keep Python's scientific notation, the visible sign of damage);
dates become ISO text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from helpers.datasets import Dataset

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
TEXT_SUFFIXES = (".csv", ".txt")
SUPPORTED_SUFFIXES = (*EXCEL_SUFFIXES, *TEXT_SUFFIXES, ".parquet")
HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 2

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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
    if v is None:
        return ""
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
        elif t is dt.date:  # date cells: ISO text in numpy (what date.isoformat() gives)
            days = np.array(column[m].tolist(), dtype="datetime64[D]")
            out[m] = np.datetime_as_string(days, unit="D").astype(object)
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


# --- readers ---------------------------------------------------------------------------------
def _read_excel(path: Path, data: bytes) -> RawFile:
    import python_calamine as pc

    if data.startswith(_OLE_MAGIC) and any(m in data for m in _ENCRYPTED_MARKERS):
        raise UnreadableFile("file_password", "encrypted workbook")
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
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise UnreadableFile(
                "file_corrupt", f"sheet {name}: {type(exc).__name__}: {exc}"
            ) from exc
        arr, columns = _to_text_array(rows)
        sheets.append(RawSheet(name, arr, np.arange(1, arr.shape[0] + 1, dtype=np.int64), columns))
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


def _read_csv(path: Path, data: bytes) -> RawFile:
    if data.startswith(b"PK\x03\x04") or data.startswith(_OLE_MAGIC) or b"\x00" in data[:4096]:
        raise UnreadableFile("file_wrong_type", "binary content in a text file")
    text, encoding = decode_text(data)
    if not text.strip():
        raise UnreadableFile("file_empty", "no text")
    first = text[:4096].splitlines()[:5]
    delimiter = (
        "\t" if sum(x.count("\t") for x in first) > sum(x.count(",") for x in first) else ","
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    starts: list[int] = []
    line = 1
    for record in reader:  # the csv module's loop (C); a Python step per record for line numbers
        rows.append(record)
        starts.append(line)
        line = reader.line_num + 1
    arr, columns = _to_text_array(rows)
    return RawFile(
        [RawSheet("", arr, np.asarray(starts, dtype=np.int64), columns)], encoding, "csv"
    )


def _read_parquet(path: Path) -> RawFile:
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
    return RawFile(
        [RawSheet("", arr, np.arange(1, arr.shape[0] + 1, dtype=np.int64))], None, "pyarrow"
    )


def read_file(path: Path) -> RawFile:
    """Read any supported file; raises UnreadableFile with a reason code when it cannot."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile("file_wrong_type", f"unsupported file type {suffix or '(none)'}")
    if suffix == ".parquet":
        return _read_parquet(path)
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("file_empty", "0 bytes")
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, data)
    return _read_csv(path, data)


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


def is_hidden(path: Path, root: Path) -> bool:
    """Hidden files and Excel lock files (~$...) are not inputs."""
    parts = path.relative_to(root).parts
    return any(p.startswith((".", "~$")) for p in parts)


def list_files(folder: Path) -> list[Path]:
    """Every regular, non-hidden file under ``folder`` (sub-folders too), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not is_hidden(p, folder))
