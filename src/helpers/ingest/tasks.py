"""What the ingest works on and hands back: file tasks, the reading context, a batch's result,
the natural keys, and the small frame builders every reader uses (quarantine, files, typed
columns). Shared by the regular reader (:mod:`helpers.ingest.process`), the bulk reader
(:mod:`helpers.ingest.bulk`) and the merge (:mod:`helpers.ingest.merge`).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.datasets import BY_NAME, Dataset
from helpers.ingest.limits import ReadLimits
from helpers.ingest.quarantine import BOUND_REASONS, QUARANTINE_COLUMNS, REASONS, empty_frame
from helpers.ingest.university_codes import UniversityLookup

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
PSEUDONYMISED = frozenset(_KEY_RENAMES)
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


@dataclass(frozen=True)
class FileTask:
    path: str  # absolute path
    rel: str  # as shown to analysts: relative to raw/ (or 'helpers/reference/…')
    dataset: str
    folder: str | None  # ISO date of the raw snapshot folder; None for reference files


@dataclass(frozen=True)
class Context:
    key: bytes
    universities: UniversityLookup
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


def zh_header(dataset: str, column: str) -> str:
    return {c.name: c.zh for c in BY_NAME[dataset].columns}.get(column, column)


def missing_required(d: Dataset, columns: dict[str, int]) -> list[str]:
    """Required columns (and one-of groups) the header does not name, as Chinese headers."""
    missing = [c.zh for c in d.columns if c.required and c.name not in columns]
    for group in d.one_of:
        if not any(g in columns for g in group):
            missing.append("/".join(zh_header(d.name, g) for g in group))
    return missing


def file_failure(
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


def values_at(s: pd.Series, pos: np.ndarray) -> np.ndarray:
    """The values at some positions (of a categorical: without making every row's value)."""
    return np.asarray(s.array.take(np.asarray(pos, dtype=np.int64)))


def process_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def typed_frame(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[list(columns)].astype(columns)


def quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(QUARANTINE_COLUMNS)
    return typed_frame(pd.DataFrame(rows), QUARANTINE_COLUMNS)


def files_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame(FILE_COLUMNS)
    df = pd.DataFrame(rows)
    for c in ("rows_read", "blank_rows", "footer_rows"):
        if c not in df.columns:
            df[c] = 0
        df[c] = df[c].fillna(0)
    return typed_frame(df, FILE_COLUMNS)
