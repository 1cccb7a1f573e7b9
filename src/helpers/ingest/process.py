"""Read, normalise, validate and type one batch of files of one dataset (runs in a worker process).

A batch is a list of files of the same dataset (usually from the same raw folder). The result
holds the typed rows that passed validation (with their source, a natural key and a content
signature, so the parent can merge duplicates across batches), the quarantined rows with reasons
and raw content, the repairs, per-file/sheet counts and the keyed fingerprints of every personal
value seen. Cross-file duplicates are the parent's job (helpers.ingest.pipeline).
"""

from __future__ import annotations

import os
import re
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.codes import (
    BUCKETS_2021,
    BUCKETS_2024,
    SUBMISSION_ITEM_ALIASES,
    classify_destinations,
    discipline_of,
)
from helpers.config import load_policy
from helpers.datasets import BY_NAME, PROCESSED_COLUMNS, Dataset
from helpers.ingest import normalise as nz
from helpers.ingest.limits import ReadLimits
from helpers.ingest.pseudonym import (
    Digester,
    digest_words,
    pseudonymise,
    pseudonymise_words,
    utf8_values,
)
from helpers.ingest.quarantine import (
    BOUND_REASONS,
    QUARANTINE_COLUMNS,
    REASONS,
    REPAIR_COLUMNS,
    REPAIRS,
    empty_frame,
    issues_frame,
    raw_json,
    summarise_issues,
)
from helpers.ingest.readers import (
    FOOTER,
    RawSheet,
    UnreadableFile,
    find_header,
    read_file,
    row_problems,
)
from helpers.ingest.schemas import COUNT_COLUMNS, validate

# Natural keys on processed columns (helpers.datasets names 学号/走访人/帮扶责任人 by their keys).
_KEY_RENAMES = {"student_id": "student_key", "visitor": "visitor_key", "helper": "helper_key"}
NATURAL_KEYS = {
    name: tuple(_KEY_RENAMES.get(c, c) for c in d.natural_key) for name, d in BY_NAME.items()
}
PERSONAL_KINDS = {
    "student_id": "student_id",
    "name": "name",
    "id_number": "id_number",
    "phone": "phone",
    "email": "email",
    "visitor": "visitor",
    "helper": "helper",
}
# personal columns that are pseudonymised too (their digests are kept for the typer)
_PSEUDONYMISED = frozenset(_KEY_RENAMES)
META_COLUMNS = ("source_file", "source_row", "snapshot_date")
FILE_COLUMNS = {
    "source_file": "string",
    "sheet": "string",
    "dataset": "string",
    "snapshot_date": "string",
    "encoding": "string",
    "engine": "string",
    "status": "string",
    "reason_code": "string",
    "detail": "string",
    "header_row": "Int64",
    "rows_read": "int64",
    "blank_rows": "int64",
    "footer_rows": "int64",
    "columns": "string",
}


# Header names accepted for one particular shipped file (the MoE list says 学校名称).
@dataclass(frozen=True)
class FileTask:
    path: str  # absolute path
    rel: str  # as shown to analysts: relative to raw/ (or 'helpers/reference/…')
    dataset: str
    folder: str | None  # ISO date of the raw snapshot folder; None for reference files


@dataclass(frozen=True)
class Context:
    key: bytes
    universities: nz.UniversityLookup
    limits: ReadLimits = field(default_factory=ReadLimits)  # bounds (helpers.ingest.limits)
    # path -> (reason code, detail): files not to read (their reader process crashed)
    failed: tuple[tuple[str, str, str], ...] = ()
    # reading in a process whose crash nothing survives (no pool): scan workbooks' cell positions
    scan: bool = False


@dataclass
class BatchResult:
    dataset: str
    # per accepted row: the natural key, _psig, _khash and source columns (see light_records)
    records: pd.DataFrame
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS
    repairs: pd.DataFrame  # REPAIR_COLUMNS
    files: pd.DataFrame  # FILE_COLUMNS
    fingerprints: pd.DataFrame  # kind, d0..d3 (digest words)
    dup_raw: dict = field(default_factory=dict)  # (source_file, sheet, row) -> raw JSON
    peak_rss_mb: float = 0.0  # of the process that made it (a pool worker or the parent)
    pid: int = 0
    cpu_seconds: float = 0.0  # CPU time of that process so far (user + system)
    table: pa.Table | None = None  # the accepted rows' processed columns, in records' order


SOURCE_COLUMNS = ("_file", "_sheet", "_folder", "_row")


def light_records(dataset: str, records: pd.DataFrame) -> pd.DataFrame:
    """What the parent needs of every accepted row to merge duplicates and count rows: the
    natural key, the personal-value signature, the key hash and the source columns."""
    keys = [k for k in NATURAL_KEYS[dataset] if k in records.columns]
    return records[[*keys, "_psig", "_khash", *SOURCE_COLUMNS]]


def records_table(dataset: str, records: pd.DataFrame) -> pa.Table:
    """The processed columns as an Arrow table (with pandas' metadata: read back, the Parquet
    has the dtypes of PROCESSED_COLUMNS)."""
    return pa.Table.from_pandas(records[list(PROCESSED_COLUMNS[dataset])], preserve_index=False)


def empty_records(dataset: str) -> pd.DataFrame:
    """No accepted rows: the processed columns with their dtypes, and the merge columns."""
    spec = PROCESSED_COLUMNS[dataset]
    out = processed_frame(
        dataset,
        pd.DataFrame(
            {c: pd.Series(dtype=t if t != "category" else object) for c, t in spec.items()}
        ),
        pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
    )
    out["_psig"] = pd.Series(dtype="uint64")
    out["_khash"] = pd.Series(dtype="uint64")
    for c in ("_file", "_sheet", "_folder"):
        out[c] = pd.Series(dtype="string")
    out["_row"] = pd.Series(dtype="int64")
    return out


@dataclass
class _Sheets:
    """The data rows of every sheet of a batch; ``pos`` = row in the stacked batch frame."""

    columns: list[dict[str, int]] = field(default_factory=list)  # canonical -> column, per sheet
    # cell text of every body row (below the header), column by column in Arrow, per sheet
    bodies: list[list[pa.Array]] = field(default_factory=list)
    data: list[np.ndarray | None] = field(default_factory=list)  # data rows of the body (None: all)
    headers: list[list[str]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)  # row numbers of the data rows, per sheet
    meta: list[tuple[str, str, str | None]] = field(default_factory=list)  # file, sheet, folder
    starts: list[int] = field(default_factory=list)
    issues: list[pd.DataFrame] = field(default_factory=list)
    n: int = 0

    def column(self, i: int, j: int) -> pa.Array:
        """Cell text of column ``j`` of sheet ``i``, data rows only."""
        a = self.bodies[i][j]
        rows = self.data[i]
        return a if rows is None else a.take(pa.array(rows))

    def raw_rows(self, i: int, body_rows: np.ndarray) -> np.ndarray:
        """Cell text of some body rows of sheet ``i`` (2-D object array)."""
        idx = pa.array(body_rows)
        cols = [np.asarray(a.take(idx).to_pylist(), dtype=object) for a in self.bodies[i]]
        out = np.empty((len(body_rows), len(cols)), dtype=object)
        for j, c in enumerate(cols):
            out[:, j] = c
        return out


def _zh(dataset: str, column: str) -> str:
    return {c.name: c.zh for c in BY_NAME[dataset].columns}.get(column, column)


def text_column(cells: np.ndarray | pa.Array) -> pd.Series:
    """Cell text (object array of str, or Arrow strings) -> pandas ``str``: NFKC, stripped,
    empty -> missing.

    Done in Arrow on the whole batch column at once (per-call overhead dominates small arrays).
    """
    a = cells if isinstance(cells, pa.Array) else pa.array(cells, type=pa.large_string())
    if a.type != pa.large_string():
        a = a.cast(pa.large_string())
    if not pc.all(pc.string_is_ascii(a)).as_py():  # ASCII text is its own NFKC form
        enc = pc.dictionary_encode(a)  # labels, majors, departments: few distinct values
        if 4 * len(enc.dictionary) < len(a):
            a = pc.take(pc.utf8_normalize(enc.dictionary, "NFKC"), enc.indices)
        else:
            a = pc.utf8_normalize(a, "NFKC")
    a = pc.utf8_trim_whitespace(a)
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.large_string()), a)
    return pd.Series(pd.array(a, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _body_masks(
    body: np.ndarray, columns: list[pa.Array]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Blank rows, footer rows (合计, 填表人：…) and the footer keywords (for the repairs log).

    ``body``: the cell text below the header (2-D object array); ``columns``: the same cells
    column by column in Arrow (empty cells are found there, without a Python step per cell).
    """
    n = body.shape[0]
    if n == 0 or body.shape[1] == 0:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), []
    count = np.zeros(n, dtype=np.int64)
    first_col = np.full(n, -1, dtype=np.int64)
    for j, a in enumerate(columns):
        ne = pc.not_equal(a, "").to_numpy(zero_copy_only=False)
        count += ne
        first_col[(first_col < 0) & ne] = j
    nonempty = count > 0
    sparse = np.flatnonzero(count <= 3)  # blank-looking rows: cells of only spaces?
    if len(sparse):
        ne = np.frompyfunc(lambda c: bool(c.strip()), 1, 1)(body[sparse]).astype(bool)
        nonempty[sparse] = ne.any(axis=1)
        first_col[sparse] = ne.argmax(axis=1)
    footer = np.zeros(n, dtype=bool)
    keywords: list[str] = []
    rows = np.flatnonzero(nonempty)
    if len(rows) == 0:
        return ~nonempty, footer, keywords
    # every footer keyword is Chinese: a first cell of ASCII text is never a footer
    candidate = np.zeros(n, dtype=bool)
    firsts = first_col[rows]
    for j in np.unique(firsts):
        at = rows[firsts == j]
        cells = columns[j].take(pa.array(at))
        candidate[at] = ~pc.string_is_ascii(cells).to_numpy(zero_copy_only=False)
    maybe = np.flatnonzero(candidate)
    if len(maybe):
        first = pa.array(body[maybe, first_col[maybe]], type=pa.large_string())
        key = pc.replace_substring_regex(pc.utf8_normalize(first, "NFKC"), nz.WS, "")
        hit = pc.match_substring_regex(key, FOOTER.pattern).to_numpy(zero_copy_only=False)
        footer[maybe[hit]] = True
        keywords = [re.split(r"[:：]", k)[0] for k in key.filter(pa.array(hit)).to_pylist()]
    return ~nonempty, footer, keywords


def _missing_required(d: Dataset, columns: dict[str, int]) -> list[str]:
    """Required columns (and one-of groups) the header does not name, as Chinese headers."""
    missing = [c.zh for c in d.columns if c.required and c.name not in columns]
    for group in d.one_of:
        if not any(g in columns for g in group):
            missing.append("/".join(_zh(d.name, g) for g in group))
    return missing


def _file_failure(
    base: dict, code: str, detail: str, files: list[dict], quarantine: list[dict], **info
) -> None:
    files.append(
        {**base, **info, "sheet": "", "status": "unreadable", "reason_code": code, "detail": detail}
    )
    quarantine.append(
        {
            **base,
            "sheet": "",
            "row": None,
            "level": "file",
            "reason_code": code,
            "reason": REASONS[code] + (f"（{detail}）" if code in BOUND_REASONS and detail else ""),
            "column": "",
            "reason_codes": code,
            "raw": "{}",
        }
    )


def _any_text(sheet: RawSheet) -> bool:
    """Whether any cell of the sheet holds text (column by column, usually the first decides)."""
    return any(
        pc.any(pc.not_equal(sheet.column(j), "")).as_py() for j in range(sheet.cells.shape[1])
    )


def _read_task(
    task: FileTask,
    d: Dataset,
    sheets: _Sheets,
    files: list[dict],
    quarantine: list[dict],
    repairs: list[dict],
    ctx: Context | None = None,
) -> None:
    base = {"source_file": task.rel, "dataset": d.name, "snapshot_date": task.folder}
    try:
        for path, code, detail in ctx.failed if ctx is not None else ():
            if path == task.path:
                raise UnreadableFile(code, detail)
        raw = read_file(
            Path(task.path),
            ctx.limits if ctx is not None else None,
            scan=ctx is None or ctx.scan,
        )
    except UnreadableFile as exc:
        _file_failure(base, exc.code, exc.detail, files, quarantine)
        return
    found_any = False
    pending: list[dict] = []
    for sheet in raw.sheets:
        info = {**base, "sheet": sheet.name, "encoding": raw.encoding, "engine": raw.engine}
        if sheet.cells.size == 0 or not _any_text(sheet):
            pending.append({**info, "status": "empty_sheet"})
            continue
        header = find_header(sheet, d)
        if header is None:
            pending.append(
                {
                    **info,
                    "status": "ignored_sheet",
                    "reason_code": "file_no_header",
                    "detail": "no header row of this dataset in this sheet",
                }
            )
            continue
        found_any = True
        _add_sheet(task, d, sheet, header, info, sheets, files, repairs)
    if not found_any:
        _file_failure(
            base,
            "file_no_header",
            "no sheet has a header row of this dataset",
            files,
            quarantine,
            encoding=raw.encoding,
            engine=raw.engine,
        )
    else:
        files.extend(pending)


def _add_sheet(task, d, sheet: RawSheet, header, info, sheets: _Sheets, files, repairs) -> None:
    start_row = header.row + 1
    body = sheet.cells[start_row:]
    columns = [sheet.column(j).slice(start_row) for j in range(sheet.cells.shape[1])]
    rownums = sheet.row_numbers[start_row:]
    blank, footer, keywords = _body_masks(body, columns)
    for i, kw in zip(np.flatnonzero(footer), keywords, strict=True):
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(rownums[i]),
                "column": "",
                "repair_code": "footer_row",
                "before": kw,
                "after": "",
            }
        )
    for name in header.duplicates:
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(sheet.row_numbers[header.row]),
                "column": _zh(d.name, name),
                "repair_code": "duplicate_header",
                "before": "",
                "after": "",
            }
        )
    data = ~blank & ~footer
    n = int(data.sum())
    start = sheets.n
    _add_row_problems(sheet, header, data, start, sheets)
    for col in _missing_required(d, header.columns):
        sheets.issues.append(issues_frame(np.arange(start, start + n), "missing_column", col))
    sheets.columns.append(header.columns)
    sheets.bodies.append(columns)
    sheets.data.append(None if n == len(data) else np.flatnonzero(data))
    sheets.headers.append(header.headers)
    sheets.rows.append(rownums[data].astype(np.int64))
    sheets.meta.append((task.rel, sheet.name, task.folder))
    sheets.starts.append(start)
    sheets.n += n
    files.append(
        {
            **info,
            "status": "ok",
            "header_row": int(sheet.row_numbers[header.row]),
            "rows_read": n,
            "blank_rows": int(blank.sum()),
            "footer_rows": int(footer.sum()),
            "columns": ",".join(header.columns),
        }
    )


def _add_row_problems(sheet: RawSheet, header, data: np.ndarray, start: int, sheets) -> None:
    """Broken rows (quoting, field count, over-long cells) become issues of their data rows."""
    found = [(i, code, j) for i, code, j in row_problems(sheet, header.row) if data[i]]
    if not found:
        return
    rank = np.cumsum(data) - 1
    groups: dict[tuple[str, str], list[int]] = {}
    for i, code, j in found:
        name = header.headers[j] if 0 <= j < len(header.headers) else ""
        column = (name or f"第{j + 1}列") if j >= 0 else ""
        groups.setdefault((code, column), []).append(start + int(rank[i]))
    for (code, column), pos in groups.items():
        sheets.issues.append(issues_frame(pos, code, column))


def _batch_frame(d: Dataset, sheets: _Sheets) -> pd.DataFrame:
    """Stack the mapped columns of every sheet into one frame of clean text (+ source columns)."""
    names = [c.name for c in d.columns if any(c.name in cols for cols in sheets.columns)]
    data = {}
    for name in names:
        parts = [
            sheets.column(i, cols[name])
            if name in cols
            else pa.nulls(len(sheets.rows[i]), pa.large_string())
            for i, cols in enumerate(sheets.columns)
        ]
        data[name] = text_column(pa.concat_arrays(parts))
    f = pd.DataFrame(data, index=pd.RangeIndex(sheets.n))
    lengths = [len(r) for r in sheets.rows]
    for i, col in enumerate(("_file", "_sheet", "_folder")):
        per_sheet = [m[i] for m in sheets.meta]
        cats = list(dict.fromkeys(v for v in per_sheet if v is not None))
        sheet_codes = np.array(
            [cats.index(v) if v is not None else -1 for v in per_sheet], dtype=np.int64
        )
        f[col] = pd.Categorical.from_codes(np.repeat(sheet_codes, lengths), categories=cats)
    f["_row"] = np.concatenate(sheets.rows) if sheets.rows else np.empty(0, dtype=np.int64)
    return f


def _src(task: FileTask, d: Dataset, sheet: str) -> dict:
    return {
        "source_file": task.rel,
        "sheet": sheet,
        "dataset": d.name,
        "snapshot_date": task.folder,
    }


# --- repairs ---------------------------------------------------------------------------------
class _Repairs:
    def __init__(self, frame: pd.DataFrame, dataset: str):
        self.frame = frame
        self.dataset = dataset
        self.parts: list[pd.DataFrame] = []

    def add(self, mask, column: str, code: str, before=None, after=None, personal: bool = False):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        pos = np.flatnonzero(mask)
        n = len(pos)

        def values(v):
            if personal or v is None:
                return np.full(n, "", dtype=object)
            return (
                pd.Series(v)
                .iloc[pos]
                .astype(object)
                .where(lambda x: x.notna(), "")
                .astype(str)
                .to_numpy()
            )

        self.parts.append(
            pd.DataFrame(
                {
                    "pos": pos,
                    "column": _zh(self.dataset, column),
                    "repair_code": code,
                    "before": values(before),
                    "after": values(after),
                }
            )
        )

    def result(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["pos", "column", "repair_code", "before", "after"])
        return pd.concat(self.parts, ignore_index=True)


class _Columns(dict):
    """Columns collected by name, made into one frame at the end (assigning columns to a frame
    one by one costs more than the column work itself on small batches)."""

    def __init__(self, index: pd.Index):
        super().__init__()
        self.index = index

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(dict(self), index=self.index)


def _at(s: pd.Series, pos: np.ndarray) -> np.ndarray:
    """The values at some positions (of a categorical: without making every row's value)."""
    return np.asarray(s.array.take(np.asarray(pos, dtype=np.int64)))


def _float_suffix_removed(s: pd.Series) -> pd.Series:
    """'2023001.0' -> '2023001' (a number stored as a decimal); only where a '.' occurs."""
    if not nz.may_contain(s, b"."):
        return s
    return s.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)


def _col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return frame[name] if name in frame.columns else None


def _text_or_na(frame: pd.DataFrame, name: str) -> pd.Series:
    """A clean text column of the batch frame, or all-missing when no file had it."""
    s = _col(frame, name)
    return s if s is not None else pd.Series(np.nan, index=frame.index, dtype="str")


def _university(frame: pd.DataFrame, ctx: Context, rep: _Repairs, v: pd.DataFrame) -> None:
    r = nz.resolve_university(
        _col(frame, "university_code"),
        _col(frame, "university_id"),
        _col(frame, "university_name"),
        ctx.universities,
        frame.index,
    )
    rep.add(
        r.code_floats,
        "university_code",
        "float_suffix",
        r.code_before,
        r.code_before.str.replace(r"\.0+$", "", regex=True),
    )
    rep.add(r.id_floats, "university_id", "float_suffix", _col(frame, "university_id"), r.id_text)
    rep.add(r.id_used, "university_code", "university_id_to_code", r.id_text, r.code)
    rep.add(
        r.name_used,
        "university_code",
        "university_name_to_code",
        _col(frame, "university_name"),
        r.code,
    )
    v["university_code"] = r.code
    v["_university_conflict"] = r.conflict


def _code(frame, name, rep: _Repairs, v, personal=False) -> None:
    s = _col(frame, name)
    if s is None:
        v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
        return
    clean, floats = nz.clean_code(s)
    rep.add(floats, name, "float_suffix", s, clean, personal)
    v[name] = clean


def _count_cols(frame, dataset, rep: _Repairs, v) -> None:
    for name in COUNT_COLUMNS.get(dataset, ()):
        s = _col(frame, name)
        if s is None:
            v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
            continue
        clean, thousands, floats = nz.clean_counts(s)
        rep.add(thousands, name, "thousands_separator", s, clean)
        rep.add(floats, name, "float_suffix", s, clean)
        v[name] = clean


def _optional(mask_bad, name, rep: _Repairs, raw, personal=False) -> None:
    rep.add(mask_bad, name, "unrecognised_to_na", raw, None, personal)


# Free-text columns that reach reports, per dataset: a cell holding an ID number, a mobile number
# or a 学号 of the batch (in any formatting) is replaced whole by nz.SCRUBBED and logged (file, row,
# column; the value itself never), so that one careless cell does not withhold the whole run.
FREE_TEXT = {
    "graduates": ("department", "major_name", "employer_name", "difficulty_category"),
    "visits": ("employer_name",),
    "universities": ("university_name", "school_level", "ownership", "city"),
    "majors": ("major_name", "discipline_name"),
}


def _scrub(dataset: str, v: _Columns, rep: _Repairs, student_ids: pd.Series | None = None):
    """Replace free-text cells that hold personal data (see :data:`FREE_TEXT`)."""
    from helpers import pii

    def identifiers():
        ids = student_ids.dropna().unique() if student_ids is not None else ()
        return {
            x
            for x in (pii.normalise_identifier(str(i)) for i in ids)
            if len(x) >= pii.MIN_IDENTIFIER
        }

    for name in FREE_TEXT.get(dataset, ()):
        hit = nz.personal_text(v[name], identifiers if student_ids is not None else None)
        if hit.any():
            rep.add(hit, name, "personal_data_scrubbed", personal=True)
            v[name] = v[name].mask(hit, nz.SCRUBBED)


# --- normalisers: cell text -> validation frame (text) --------------------------------------
def _normalise_graduates(f: pd.DataFrame, ctx: Context, rep: _Repairs) -> pd.DataFrame:
    v = _Columns(f.index)
    sid = _text_or_na(f, "student_id")
    fixed = _float_suffix_removed(sid)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    level, status, one_digit = nz.parse_levels(_text_or_na(f, "education_level"))
    rep.add(one_digit, "education_level", "zero_pad", f.get("education_level"), level)
    v["education_level"], v["graduation_status"] = level, status
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    dest, from_label, dfloats = nz.destination_codes(
        _col(f, "destination_code"), _col(f, "destination"), f.index
    )
    rep.add(dfloats, "destination_code", "float_suffix", f.get("destination_code"), dest)
    rep.add(from_label, "destination_code", "destination_from_label", f.get("destination"), dest)
    v["destination_code"] = dest
    v["id_number"] = _text_or_na(f, "id_number")
    cohort, cfloats = nz.clean_code(_text_or_na(f, "cohort"))
    cohort = cohort.str.replace(r"^([0-9]{4})届?$", r"\1", regex=True)
    rep.add(cfloats, "cohort", "float_suffix", f.get("cohort"), cohort)
    default_year = f["_folder"].astype("str").str.slice(0, 4)
    v["cohort"] = cohort.fillna(default_year)
    gender, bad = nz.parse_gender(_text_or_na(f, "gender"))
    _optional(bad, "gender", rep, f.get("gender"))
    v["gender"] = gender
    ur, bad = nz.parse_urban_rural(_text_or_na(f, "urban_rural"))
    _optional(bad, "urban_rural", rep, f.get("urban_rural"))
    v["urban_rural"] = ur
    willing, bad = nz.parse_yes_no(_text_or_na(f, "willing_to_work"))
    _optional(bad, "willing_to_work", rep, f.get("willing_to_work"))
    v["willing_to_work"] = willing
    groups, unknown = nz.split_groups(_text_or_na(f, "assistance_groups"))
    rep.add(unknown.notna(), "assistance_groups", "unknown_group", unknown, None)
    for c in groups.columns:
        v[c] = groups[c]
    pdate = nz.parse_dates(_text_or_na(f, "placement_date"))
    _optional(
        _text_or_na(f, "placement_date").notna() & pdate.isna(),
        "placement_date",
        rep,
        f.get("placement_date"),
    )
    v["placement_date"] = pdate
    for name in ("department", "difficulty_category", "employer_name"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    for name in (
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
    ):
        _code(f, name, rep, v)
    _credit_code(f, rep, v)
    _scrub("graduates", v, rep, fixed)
    return v.frame()


def _credit_code(f, rep: _Repairs, v) -> None:
    cc, floats = nz.clean_code(_text_or_na(f, "employer_credit_code"))
    rep.add(floats, "employer_credit_code", "float_suffix", f.get("employer_credit_code"), cc)
    bad = cc.notna() & ~cc.str.fullmatch(nz.CREDIT_CODE).fillna(False)
    _optional(bad, "employer_credit_code", rep, f.get("employer_credit_code"))
    # right shape, wrong check character: a mistyped code would count as a second employer
    mistyped = cc.notna() & ~bad & ~nz.credit_codes_valid(cc)
    rep.add(mistyped, "employer_credit_code", "credit_code_check", f.get("employer_credit_code"))
    v["employer_credit_code"] = cc.mask(bad | mistyped)


def _normalise_recruitment(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    _university(f, ctx, rep, v)
    for name in ("window_start", "window_end"):
        v[name] = _text_or_na(f, name)
    v["activity_type"] = nz.match_name(_text_or_na(f, "activity_type"))
    _count_cols(f, "recruitment", rep, v)
    return v.frame()


def _normalise_visits(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    _university(f, ctx, rep, v)
    v["visit_date"] = _text_or_na(f, "visit_date")
    v["visitor"] = _text_or_na(f, "visitor")
    v["visitor_role"] = nz.match_name(_text_or_na(f, "visitor_role"))
    v["employer_name"] = nz.clean_name(_text_or_na(f, "employer_name"))
    _credit_code(f, rep, v)
    v["new_employer"] = _text_or_na(f, "new_employer")
    _count_cols(f, "visits", rep, v)
    _scrub("visits", v, rep)
    return v.frame()


def _normalise_platform(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    _university(f, ctx, rep, v)
    v["stat_date"] = _text_or_na(f, "stat_date")
    _count_cols(f, "platform", rep, v)
    return v.frame()


def _normalise_assistance(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    sid = _text_or_na(f, "student_id")
    fixed = _float_suffix_removed(sid)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    v["help_date"] = _text_or_na(f, "help_date")
    v["help_type"] = nz.match_name(_text_or_na(f, "help_type"))
    v["helper"] = _text_or_na(f, "helper")
    return v.frame()


def _normalise_universities(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    code, cfloats = nz.clean_code(_text_or_na(f, "university_code"))
    uid, ifloats = nz.clean_code(_text_or_na(f, "university_id"))
    rep.add(cfloats, "university_code", "float_suffix", f.get("university_code"), code)
    rep.add(ifloats, "university_id", "float_suffix", f.get("university_id"), uid)
    from_id = uid.where(uid.str.fullmatch(r"41[0-9]{2}0[0-9]{5}").fillna(False)).str.slice(5, 10)
    rep.add(code.isna() & from_id.notna(), "university_code", "university_id_to_code", uid, from_id)
    v["university_code"] = code.fillna(from_id)
    v["university_id"] = uid
    v["_university_conflict"] = (code.notna() & from_id.notna() & (code != from_id)).fillna(False)
    v["university_name"] = nz.clean_name(_text_or_na(f, "university_name"))
    for name in ("school_level", "ownership", "city"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    rate, bad = nz.parse_rate(_text_or_na(f, "baseline_rate"))
    _optional(bad, "baseline_rate", rep, f.get("baseline_rate"))
    v["baseline_rate"] = rate
    _scrub("universities", v, rep)
    return v.frame()


def _normalise_majors(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    v["education_level"] = nz.match_name(_text_or_na(f, "education_level"))
    dc, dfloats = nz.clean_code(_text_or_na(f, "discipline_code"))
    rep.add(dfloats, "discipline_code", "float_suffix", f.get("discipline_code"), dc)
    one = dc.str.fullmatch(r"[0-9]").fillna(False)
    rep.add(one, "discipline_code", "zero_pad", dc, "0" + dc)
    v["discipline_code"] = dc.mask(one, "0" + dc)
    v["discipline_name"] = nz.clean_name(_text_or_na(f, "discipline_name"))
    _scrub("majors", v, rep)
    return v.frame()


def _normalise_adjustment_plans(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    _university(f, ctx, rep, v)
    v["received_date"] = _text_or_na(f, "received_date")
    return v.frame()


def _normalise_submissions(f, ctx, rep) -> pd.DataFrame:
    v = _Columns(f.index)
    _university(f, ctx, rep, v)
    item = nz.match_name(_text_or_na(f, "item"))
    v["item"] = item.replace(SUBMISSION_ITEM_ALIASES)
    v["received_date"] = _text_or_na(f, "received_date")
    return v.frame()


NORMALISERS = {
    "graduates": _normalise_graduates,
    "recruitment": _normalise_recruitment,
    "visits": _normalise_visits,
    "platform": _normalise_platform,
    "assistance": _normalise_assistance,
    "universities": _normalise_universities,
    "majors": _normalise_majors,
    "adjustment_plans": _normalise_adjustment_plans,
    "submissions": _normalise_submissions,
}


# --- typing: validation frame (valid rows) -> processed columns ------------------------------
def _derived_graduates(v: pd.DataFrame) -> pd.DataFrame:
    """placed / destination_known / buckets / in_denominator, with the policy of each cohort.

    Each distinct destination code is classified once per cohort year (a batch has a few dozen
    codes and one or two cohorts); rows take their code's result by position."""
    n = len(v)
    ids, distinct = pd.factorize(v["destination_code"].astype("string"), use_na_sentinel=True)
    # one extra slot for the missing code: id -1 reads the last slot
    codes = pd.Series([*np.asarray(distinct, dtype=object), None], dtype="string")
    status = v["graduation_status"].to_numpy(dtype=object, na_value=None)
    graduated, jieye, yiye = (status == "毕业"), (status == "结业"), (status == "肄业")
    placed = np.zeros(n, dtype=bool)
    known = np.zeros(n, dtype=bool)
    in_denominator = np.zeros(n, dtype=bool)
    b24 = np.zeros(n, dtype=np.int8)
    b21 = np.zeros(n, dtype=np.int8)
    years, year_of_row = np.unique(v["cohort"].to_numpy(dtype=np.int64), return_inverse=True)
    for k, year in enumerate(years):
        m = year_of_row == k
        policy = load_policy(int(year)).placement
        cls = classify_destinations(codes, policy.not_placed_codes, policy.not_placed_prefixes)
        rows = ids[m]
        placed[m] = cls["placed"].to_numpy(dtype=bool)[rows]
        known[m] = cls["destination_known"].to_numpy(dtype=bool)[rows]
        b24[m] = np.asarray(cls["bucket_2024"].cat.codes, dtype=np.int8)[rows]
        b21[m] = np.asarray(cls["bucket_2021"].cat.codes, dtype=np.int8)[rows]
        in_denominator[m] = (
            graduated[m]
            | (jieye[m] & policy.include_jieye_in_denominator)
            | (yiye[m] & policy.include_yiye_in_denominator)
        )
    return pd.DataFrame(
        {
            "placed": placed,
            "destination_known": known,
            "bucket_2024": pd.Categorical.from_codes(b24, categories=BUCKETS_2024),
            "bucket_2021": pd.Categorical.from_codes(b21, categories=BUCKETS_2021),
            "in_denominator": in_denominator,
        },
        index=v.index,
    )


def _disciplines(level: pd.Series, major_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """helpers.codes.discipline_of for every row, computed once per distinct (level, prefix)."""
    d = nz.distinct_rows([level, major_code])
    if d is not None:
        ids, first = d
        heads = [level.iloc[first].reset_index(drop=True), major_code.iloc[first]]
        return nz.spread(
            _discipline_rows(heads[0], heads[1].reset_index(drop=True)), ids, level.index
        )
    return _discipline_rows(level, major_code)


def _discipline_rows(level: pd.Series, major_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    pairs = level.astype(str) + "|" + major_code.str.slice(0, 2).astype(str)
    codes, uniques = pd.factorize(pairs)
    mapped = [discipline_of(*u.split("|", 1)) for u in uniques]
    code = np.array([m[0] for m in mapped], dtype=object)[codes]
    name = np.array([m[1] for m in mapped], dtype=object)[codes]
    return pd.Series(code, index=level.index, dtype="str"), pd.Series(
        name, index=level.index, dtype="str"
    )


def _type_graduates(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["student_key"], out["_skey_d0"] = pseudonymise_words(v["student_id"], digester)
    out["university_code"] = v["university_code"]
    out["cohort"] = v["cohort"].astype(int)
    out["education_level"] = v["education_level"]
    out["graduation_status"] = v["graduation_status"]
    out["major_code"] = v["major_code"]
    out["major_name"] = v["major_name"]
    out["discipline_code"], out["discipline_name"] = _disciplines(
        v["education_level"], v["major_code"]
    )
    for c in (
        "department",
        "gender",
        "urban_rural",
        "difficulty_category",
        "destination_code",
        "placement_date",
        "employer_name",
        "employer_credit_code",
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
        "willing_to_work",
    ):
        out[c] = v[c]
    for c in v.columns:
        if c.startswith("group_"):
            out[c] = v[c]
    out.update(_derived_graduates(v))
    return out.frame()


def _type_recruitment(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["university_code"] = v["university_code"]
    out["window_start"] = nz.parse_dates(v["window_start"])
    out["window_end"] = nz.parse_dates(v["window_end"])
    out["activity_type"] = v["activity_type"]
    for c in COUNT_COLUMNS["recruitment"]:
        out[c] = v[c].astype("int64")
    return out.frame()


def _type_visits(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["university_code"] = v["university_code"]
    out["visit_date"] = nz.parse_dates(v["visit_date"])
    out["visitor_key"] = pseudonymise(v["visitor"], digester)
    out["visitor_role"] = v["visitor_role"]
    out["employer_name"] = v["employer_name"]
    out["employer_credit_code"] = v["employer_credit_code"]
    out["employer_key"] = v["employer_credit_code"].fillna(nz.match_name(v["employer_name"]))
    out["new_employer"] = v["new_employer"].str.upper().isin(nz.YES).astype(bool)
    out["positions"] = v["positions"].astype("int64")
    return out.frame()


def _type_platform(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["university_code"] = v["university_code"]
    out["stat_date"] = nz.parse_dates(v["stat_date"])
    for c in COUNT_COLUMNS["platform"]:
        out[c] = v[c].astype("int64")
    return out.frame()


def _type_assistance(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["student_key"] = pseudonymise(v["student_id"], digester)
    out["university_code"] = v["university_code"]
    out["help_date"] = nz.parse_dates(v["help_date"])
    out["help_type"] = v["help_type"]
    out["helper_key"] = pseudonymise(v["helper"], digester)
    return out.frame()


def _type_universities(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    cols = (
        "university_id",
        "university_code",
        "university_name",
        "school_level",
        "ownership",
        "city",
        "baseline_rate",
    )
    return v[list(cols)].copy()


def _type_majors(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = v[
        ["major_code", "major_name", "education_level", "discipline_code", "discipline_name"]
    ].copy()
    missing = out["discipline_code"].isna() | out["discipline_name"].isna()
    if missing.any():
        level = out["education_level"].where(out["education_level"] != "专科", "专科")
        code, name = _disciplines(level[missing], out.loc[missing, "major_code"])
        out.loc[missing, "discipline_code"] = out.loc[missing, "discipline_code"].fillna(code)
        out.loc[missing, "discipline_name"] = out.loc[missing, "discipline_name"].fillna(name)
    return out


def _type_adjustment_plans(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["university_code"] = v["university_code"]
    out["received_date"] = nz.parse_dates(v["received_date"])
    return out.frame()


def _type_submissions(v: pd.DataFrame, digester: Digester) -> pd.DataFrame:
    out = _Columns(v.index)
    out["university_code"] = v["university_code"]
    out["item"] = v["item"]
    out["received_date"] = nz.parse_dates(v["received_date"])
    return out.frame()


TYPERS = {
    "graduates": _type_graduates,
    "recruitment": _type_recruitment,
    "visits": _type_visits,
    "platform": _type_platform,
    "assistance": _type_assistance,
    "universities": _type_universities,
    "majors": _type_majors,
    "adjustment_plans": _type_adjustment_plans,
    "submissions": _type_submissions,
}


def processed_frame(dataset: str, typed: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Exactly PROCESSED_COLUMNS[dataset], in order and dtype, with source columns from meta."""
    spec = PROCESSED_COLUMNS[dataset]
    data = {}
    for col, dtype in spec.items():
        if col == "source_file":
            s = meta["_file"]
            if isinstance(s.dtype, pd.CategoricalDtype) and dtype == "string":
                s = categorical_text(s)
        elif col == "source_row":
            s = meta["_row"]
        elif col == "snapshot_date":
            s = pd.to_datetime(meta["_folder"], errors="coerce")
        else:
            s = typed[col]
        if dtype == "category":
            cats = BUCKETS_2024 if col == "bucket_2024" else BUCKETS_2021
            data[col] = pd.Categorical(s, categories=cats)
        else:
            data[col] = s.astype(dtype) if str(s.dtype) != dtype else s
    return pd.DataFrame(data, index=typed.index)


def categorical_text(s: pd.Series) -> pd.Series:
    """``s.astype("string")`` of a categorical, by its categories (not value by value)."""
    codes = s.cat.codes.to_numpy()
    cats = pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.large_string())
    taken = cats.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="string"), index=s.index, name=s.name)


def signature(frame: pd.DataFrame) -> pd.Series:
    """Content hash of processed rows (source columns excluded) and their personal values' hash
    (``_psig``): two rows with one natural key are identical duplicates when these agree."""
    cols = [c for c in frame.columns if c not in META_COLUMNS and not c.startswith("_")]
    return pd.util.hash_pandas_object(frame[[*cols, "_psig"]], index=False)


# --- fingerprints ----------------------------------------------------------------------------
FINGERPRINT_COLUMNS = ("kind", "d0", "d1", "d2", "d3")


# one categorical dtype for every batch: stacking the fingerprints of many batches stays cheap
KIND_DTYPE = pd.CategoricalDtype(sorted(set(PERSONAL_KINDS.values())))


def empty_fingerprints() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": pd.Series(dtype=KIND_DTYPE),
            **{f"d{i}": pd.Series(dtype=np.uint64) for i in range(4)},
        }
    )


def _fingerprints(
    f: pd.DataFrame, digester: Digester, row_words: dict | None = None
) -> pd.DataFrame:
    """Keyed digests of every distinct personal value of the batch: kind and the digest as four
    uint64 words (d0..d3; hex only when written). Each value counts as written and in the forms a
    leak may take (no internal spaces; no '.0' of a number stored as a decimal). Batch text is
    already NFKC and stripped: upper case completes keyed_digest's form. The same value in other
    batches is counted once when a processed folder is written."""
    parts = []
    if len(f) == 0:
        return empty_fingerprints()
    for col, kind in PERSONAL_KINDS.items():
        if col not in f.columns:
            continue
        codes, uniques = pd.factorize(f[col].str.upper(), use_na_sentinel=True)
        if len(uniques) == 0:
            continue
        u = pd.Series(uniques, dtype="str")
        forms = [u]
        for chars, probe, pattern, repl in (
            (nz._ASCII_WS, nz.WS, nz.WS, ""),
            (b".", r"\.0+$", r"^([0-9]+)\.0+$", r"\1"),
        ):
            if nz.may_contain(u, chars) and u.str.contains(probe, regex=True).any():
                alt = u.str.replace(pattern, repl, regex=True)
                forms.append(alt.where(alt != u))
        for form in forms:
            present = (form.notna() & (form != "")).to_numpy(dtype=bool)
            if not present.any():
                continue
            values = utf8_values(pa.array(form.array).filter(pa.array(present)))
            sel = digest_words(digester.many_utf8(values, col in _PSEUDONYMISED))
            if form is u and row_words is not None:  # per row: the first word, 0 when missing
                first = np.zeros(len(form), dtype=np.uint64)
                first[present] = sel[:, 0]
                row_words[col] = np.where(codes >= 0, first[np.where(codes >= 0, codes, 0)], 0)
            parts.append(
                pd.DataFrame(
                    {
                        "kind": pd.Categorical.from_codes(
                            np.full(len(sel), KIND_DTYPE.categories.get_loc(kind)),
                            dtype=KIND_DTYPE,
                        ),
                        **{f"d{i}": sel[:, i] for i in range(4)},
                    }
                )
            )
    if not parts:
        return empty_fingerprints()
    return pd.concat(parts, ignore_index=True)


# --- the batch -------------------------------------------------------------------------------
def _raw_for(sheets: _Sheets, pos: np.ndarray) -> list[str]:
    """Raw JSON of some rows (quarantined or duplicated), by position in the batch frame."""
    pos = np.asarray(pos, dtype=np.int64)
    out = np.empty(len(pos), dtype=object)
    starts = np.asarray(sheets.starts, dtype=np.int64)
    idx = np.searchsorted(starts, pos, side="right") - 1
    for i in np.unique(idx):
        m = np.flatnonzero(idx == i)
        local = pos[m] - starts[i]
        data = sheets.data[i]
        body_rows = local if data is None else data[local]
        out[m] = raw_json(sheets.headers[i], sheets.raw_rows(int(i), body_rows))
    return out.tolist()


def process_batch(tasks: list[FileTask], ctx: Context) -> BatchResult:
    """Read, normalise, validate and type every file of ``tasks`` (one dataset)."""
    dataset = tasks[0].dataset
    d = BY_NAME[dataset]
    sheets = _Sheets()
    files: list[dict] = []
    quarantine: list[dict] = []
    repair_rows: list[dict] = []
    for task in tasks:
        _read_task(task, d, sheets, files, quarantine, repair_rows, ctx)

    if sheets.n == 0:
        none = empty_records(dataset)
        return BatchResult(
            dataset,
            light_records(dataset, none),
            _quarantine_frame(quarantine),
            _repairs_frame(dataset, repair_rows, None, None),
            _files_frame(files),
            _fingerprints(pd.DataFrame(), Digester(ctx.key)),
            table=records_table(dataset, none),
        )

    f = _batch_frame(d, sheets)
    digester = Digester(ctx.key)
    row_words: dict[str, np.ndarray] = {}
    fingerprints = _fingerprints(f, digester, row_words)
    rep = _Repairs(f, dataset)
    v = NORMALISERS[dataset](f, ctx, rep)
    issues = validate(dataset, v.copy(), ctx.universities.codes)
    if sheets.issues:
        issues = pd.concat([issues, *sheets.issues], ignore_index=True)
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
                "raw": _raw_for(sheets, bad_pos),
            }
        )
        quarantine_frame = pd.concat(
            [_quarantine_frame(quarantine), _typed(q, QUARANTINE_COLUMNS)], ignore_index=True
        )
    else:
        quarantine_frame = _quarantine_frame(quarantine)

    records, dup_pos = accepted_records(dataset, d, v, f, bad_pos, digester, row_words)
    dup_raw = {}
    if len(dup_pos):
        pos = dup_pos
        where = zip(
            _at(f["_file"], pos),
            _at(f["_sheet"], pos),
            _at(f["_row"], pos),
            strict=True,
        )
        dup_raw = {
            (fi, sh, int(r)): js
            for (fi, sh, r), js in zip(where, _raw_for(sheets, pos), strict=True)
        }

    repairs = _repairs_frame(dataset, repair_rows, rep.result(), f)
    records = records.reset_index(drop=True)
    table = records_table(dataset, records)
    return BatchResult(
        dataset,
        light_records(dataset, records),
        quarantine_frame,
        repairs,
        _files_frame(files),
        fingerprints,
        dup_raw,
        _peak_rss_mb(),
        os.getpid(),
        time.process_time(),
        table,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _typed(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[list(columns)].astype(columns)


def _quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(QUARANTINE_COLUMNS)
    return _typed(pd.DataFrame(rows), QUARANTINE_COLUMNS)


def _files_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(FILE_COLUMNS)
    df = pd.DataFrame(rows)
    for c in ("rows_read", "blank_rows", "footer_rows"):
        if c not in df.columns:
            df[c] = 0
        df[c] = df[c].fillna(0)
    return _typed(df, FILE_COLUMNS)


def _repairs_frame(
    dataset: str, rows: list[dict], vector: pd.DataFrame | None, f: pd.DataFrame | None
) -> pd.DataFrame:
    parts = []
    if rows:
        parts.append(pd.DataFrame(rows))
    if vector is not None and len(vector):
        pos = vector["pos"].to_numpy(dtype=np.int64)
        parts.append(
            pd.DataFrame(
                {
                    "source_file": _at(f["_file"], pos),
                    "sheet": _at(f["_sheet"], pos),
                    "row": _at(f["_row"], pos),
                    "snapshot_date": _at(f["_folder"], pos),
                    "dataset": dataset,
                    "column": vector["column"].to_numpy(),
                    "repair_code": vector["repair_code"].to_numpy(),
                    "before": vector["before"].to_numpy(),
                    "after": vector["after"].to_numpy(),
                }
            )
        )
    if not parts:
        return empty_frame(REPAIR_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df["repair"] = df["repair_code"].map(REPAIRS)
    return _typed(df, REPAIR_COLUMNS)


def accepted_records(dataset, d, v, f, bad_pos, digester, row_words):
    """Typed processed rows of a batch's accepted rows, with provenance, the personal-value
    signature and the natural-key hash; plus the batch positions of rows whose key repeats.
    Shared by the regular and the bulk (national) paths so both merge duplicates alike."""
    good = np.ones(len(f), dtype=bool)
    good[bad_pos] = False
    rows = np.flatnonzero(good)
    every = len(rows) == len(f)
    meta = f[["_file", "_sheet", "_folder", "_row"]]
    if not every:  # positional selections of the accepted rows
        v, meta = v.take(rows), meta.take(rows)
    typed = TYPERS[dataset](v, digester)
    records = processed_frame(dataset, typed, meta)
    # hash of the personal values (姓名, 身份证号): two rows of one 学号 with different people conflict
    psig = np.zeros(len(rows), dtype=np.uint64)
    if dataset == "graduates":
        for i, col in enumerate(("name", "id_number")):
            if col in row_words:
                psig ^= row_words[col][rows].astype(np.uint64) * np.uint64(2 * i + 1)
    records["_psig"] = psig
    for c in ("_file", "_sheet", "_folder"):
        records[c] = meta[c]
    records["_row"] = meta["_row"].astype("int64")

    # a 64-bit hash of the natural key: the parent finds duplicates across batches with it
    keys = list(NATURAL_KEYS[dataset])
    if "_skey_d0" in typed.columns and keys == ["university_code", "student_key"]:
        # the pseudonym is itself a keyed hash: its first word and the university's code suffice
        # (院校代码 is five digits here: validated against the reference list)
        ids, codes = pd.factorize(records["university_code"], use_na_sentinel=True)
        values = pd.Series(codes).astype("uint64").to_numpy()
        ucode = values[ids] * np.uint64(0x9E3779B97F4A7C15)
        records["_khash"] = typed["_skey_d0"].to_numpy(dtype=np.uint64) ^ ucode
    else:
        records["_khash"] = pd.util.hash_pandas_object(records[keys], index=False).to_numpy()
    # raw rows of duplicates (the parent quarantines the conflicting ones); snapshot datasets only
    # compare rows of the same raw folder
    probe = records[["_khash", "_folder"]] if d.kind == "snapshot" else records[["_khash"]]
    dup = probe.duplicated(keep=False).to_numpy()
    return records, rows[dup]
