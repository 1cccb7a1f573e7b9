"""Ingest: raw exports (xlsx / xls / csv) -> validated, pseudonymised Parquet in data/processed/.

``ingest(as_of, data_dir, workers=None)`` is the entry point (``placement ingest``); see
docs/ingest.md for what is accepted, repaired and quarantined.
"""

from helpers.ingest.pipeline import IngestResult, ingest, needs_ingest

__all__ = ["IngestResult", "ingest", "needs_ingest"]
