"""Ingest: raw exports (xlsx / xls / csv / parquet) -> validated, pseudonymised Parquet in
data/processed/.

``ingest(as_of, data_dir, workers=None)`` is the entry point (``placement ingest``); see
docs/ingest.md for what is accepted, repaired and quarantined. The names below are imported on
first use, so that a light module (``helpers.ingest.sources``, used by the runner) does not load
the whole ingest.
"""

from __future__ import annotations

__all__ = ["IngestResult", "ingest", "needs_ingest"]


def __getattr__(name: str):
    if name in ("ingest", "IngestResult"):
        from helpers.ingest import pipeline

        return getattr(pipeline, name)
    if name == "needs_ingest":
        from helpers.ingest.sources import needs_ingest

        return needs_ingest
    raise AttributeError(f"module 'helpers.ingest' has no attribute {name!r}")
