"""The disclosure audit: every decision of :func:`helpers.disclosure.protect_group_table` is
collected in this process and written under ``data/processed/<as_of>/disclosure_audit/`` (never
``reports/``); the runner merges the parts at the end of a period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

AUDIT_COLUMNS = (
    "table",
    "unit",
    "group",
    "keys",
    "rule",
    "reason",
    "hidden_columns",
    "graduates",
    "value",
    "recorded_at",
)

_COLLECTOR: list[dict[str, Any]] = []


def collect(records: list[dict[str, Any]]) -> None:
    """Keep audit records until the report flushes them."""
    _COLLECTOR.extend(records)


def recorded_now() -> str:
    """The ``recorded_at`` of a record made now (local time, to the second)."""
    return dt.datetime.now().isoformat(timespec="seconds")


def collect_again(records: list[dict[str, Any]]) -> None:
    """Keep decisions taken earlier (a remembered table's) as if taken now: the same records with
    ``recorded_at`` of this moment, as a fresh computation would have stamped them."""
    now = recorded_now()
    collect([{**r, "recorded_at": now} for r in records])


def audit_frame(records: list[dict] | None = None) -> pd.DataFrame:
    """Audit records (default: the module collector) as a DataFrame with stable columns."""
    recs = _COLLECTOR if records is None else records
    frame = pd.DataFrame.from_records(recs, columns=list(AUDIT_COLUMNS))
    return frame.astype(
        {c: "string" for c in AUDIT_COLUMNS if c not in ("graduates", "value")}
        | {"graduates": "int64", "value": "int64"}
    )


def reset_audit() -> None:
    """Forget the collected audit records (e.g. at the start of a report on a warm kernel)."""
    _COLLECTOR.clear()


def audit_dir(data_dir: str | Path, as_of: dt.date) -> Path:
    """Where audit parts of a period go: ``data/processed/<as_of>/disclosure_audit/``."""
    from helpers.config import processed_dir

    return processed_dir(data_dir, as_of) / "disclosure_audit"


def flush_audit(
    data_dir: str | Path, as_of: dt.date, report: str, university: str | None = None
) -> Path:
    """Write the collected records to ``<audit_dir>/<report>[-<university>].parquet`` (also when
    empty, so a run shows the report was protected) and clear the collector.

    The folder is under ``data/processed/``; refuse anything under a ``reports`` folder.
    """
    folder = audit_dir(data_dir, as_of)
    if "reports" in Path(folder).resolve().parts:
        raise ValueError(f"the disclosure audit must stay out of reports/: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{report}-{university}" if university else report
    frame = audit_frame()
    frame.insert(0, "report", pd.Series([name] * len(frame), dtype="string"))
    path = folder / f"{name}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    reset_audit()
    return path


def merge_audit(data_dir: str | Path, as_of: dt.date) -> Path:
    """Gather every audit part of a period into ``data/processed/<as_of>/disclosure_audit.parquet``
    (for the runner, at the end of ``placement run``)."""
    folder = audit_dir(data_dir, as_of)
    parts = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = [pd.read_parquet(p) for p in parts]
    if frames:
        frame = pd.concat(frames, ignore_index=True)
    else:
        frame = audit_frame([])
        frame.insert(0, "report", pd.Series([], dtype="string"))
    path = folder.parent / "disclosure_audit.parquet"
    frame.to_parquet(path, index=False)
    return path
