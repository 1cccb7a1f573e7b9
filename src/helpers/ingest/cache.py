"""Per-file ingest cache: a resubmitted file is read again, the others are not.

Every raw file the regular reader reads leaves its processed result in
``data/processed/.cache/<version>/<folder>/<dataset>.<part>.parquet``: the file's accepted rows
(processed columns plus the merge's key hash and personal-value signature), its quarantine rows,
repairs, per-sheet counts and personal-value fingerprints, each row tagged with the file's path
and content hash (SHA-256). One set of Parquet files per raw folder and dataset holds the entries
of all its files (reading a thousand small files would cost more than the reading it saves).

A later ingest takes a file's entry when the path and content hash match, reads only the files
that have none, and merges everything as a from-scratch ingest would: per file, the processing
core's results do not depend on which other files share its batch (helpers.ingest.frame), and
the batches are assembled in the order a from-scratch ingest reads them.

``version`` covers everything else a file's result depends on: the ingest code, codes, datasets,
config and policy files (:func:`helpers.ingest.sources.code_hash`, a hash of the source files
rather than a hand-kept constant, so that no code change can ever reuse a stale result), the
pseudonym key's fingerprint, the read limits in force and the reference files (the universities
list resolves 院校代码). Entries of other versions and of files no longer present are pruned.

Not cached: the bulk reader's files (they stream through their own spill), reference tables
(small, read every time), files whose reader process crashed (maybe not the file's fault), and
the raw JSON of duplicate rows (raw personal data that processed/ does not hold: re-read from the
raw file when duplicates conflict). Everything cached is what processed/ holds already
(pseudonymised keys, quarantined raw rows, repairs, fingerprints), plus two 64-bit hashes per row.
See docs/privacy.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.datasets import PROCESSED_COLUMNS
from helpers.ingest import limits as read_limits
from helpers.ingest.frame import KIND_DTYPE
from helpers.ingest.quarantine import QUARANTINE_COLUMNS, REPAIR_COLUMNS
from helpers.ingest.tasks import FILE_COLUMNS, NATURAL_KEYS, BatchResult, FileTask
from helpers.ingest.typers import empty_records, light_records, records_table

CACHE_DIR = ".cache"
PARTS = ("records", "quarantine", "repairs", "files", "fingerprints")
_REL, _SHA = "_cache_rel", "_cache_sha"
# a reader crash may be the machine's fault (memory), not the file's: such a file is read again
_NOT_CACHED_REASONS = frozenset({"file_reader_crashed"})


def cache_version(code: str, fingerprint: str, reference: list[tuple[str, str]]) -> str:
    """The part of an entry's key that is not the file itself (see the module docstring)."""
    h = hashlib.sha256(f"{code}|{fingerprint}".encode())
    h.update(json.dumps(read_limits.current().describe(), sort_keys=True).encode())
    for rel, sha in sorted(reference):
        h.update(f"\n{rel}\t{sha}".encode())
    return h.hexdigest()[:16]


@dataclass
class Entry:
    """One file's cached result, as frames (source columns restored)."""

    table: pa.Table
    records: pd.DataFrame
    quarantine: pd.DataFrame
    repairs: pd.DataFrame
    files: pd.DataFrame
    fingerprints: pd.DataFrame


@dataclass
class FileCache:
    """The cache of one processed/ folder, for one version."""

    processed: Path
    version: str
    hits: int = 0
    reads: int = 0
    _groups: dict[tuple[str, str], dict[tuple[str, str], Entry]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.processed / CACHE_DIR / self.version

    def _folder(self, folder: str, dataset: str) -> Path:
        return self.root / folder / dataset

    def lookup(self, task: FileTask, sha: str) -> Entry | None:
        group = self._load(task.folder, task.dataset)
        return group.get((task.rel, sha))

    def _load(self, folder: str, dataset: str) -> dict[tuple[str, str], Entry]:
        key = (folder, dataset)
        if key not in self._groups:
            try:
                self._groups[key] = _read_group(self._folder(folder, dataset), dataset, folder)
            except (OSError, ValueError, KeyError, pa.ArrowException):
                self._groups[key] = {}  # missing or damaged: read the files again
        return self._groups[key]

    def store(self, folder: str, dataset: str, entries: dict[tuple[str, str], Entry]) -> None:
        """Replace the group's entries (entries of files no longer read are dropped)."""
        keep = {
            k: e
            for k, e in entries.items()
            if not e.files["reason_code"].isin(list(_NOT_CACHED_REASONS)).any()
        }
        old = self._load(folder, dataset)
        if set(old) == set(keep):
            return
        if not keep:
            shutil.rmtree(self._folder(folder, dataset), ignore_errors=True)
        else:
            _write_group(self._folder(folder, dataset), dataset, keep)
        self._groups[(folder, dataset)] = keep

    def prune(self, present: list[str], live: set[tuple[str, str]], read: list[str]) -> None:
        """Remove other versions' entries, the groups of raw folders no longer ``present``, and,
        in the raw folders this run ``read``, the groups of datasets that have no file left
        (``live``: (folder, dataset) of the files read or taken from the cache)."""
        base = self.processed / CACHE_DIR
        for p in base.iterdir() if base.is_dir() else ():
            if p.name != self.version:
                shutil.rmtree(p, ignore_errors=True)
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if folder.name not in present:
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.name in read:
                for group in folder.iterdir():
                    if (folder.name, group.name) not in live:
                        shutil.rmtree(group, ignore_errors=True)


# --- one file's slice of a batch result ------------------------------------------------------
def split(result: BatchResult, tasks: list[FileTask]) -> dict[str, BatchResult]:
    """The result of a batch cut into the result of each of its files (rel -> result)."""
    records = _by_file(result.records, "_file")
    frames = {
        name: _by_file(getattr(result, name), column)
        for name, column in (
            ("quarantine", "source_file"),
            ("repairs", "source_file"),
            ("files", "source_file"),
            ("fingerprints", "_file"),
        )
    }
    out = {}
    for t in tasks:
        rows = records(t.rel)
        part = {name: take(t.rel) for name, take in frames.items()}
        out[t.rel] = BatchResult(
            result.dataset,
            result.records.iloc[rows].reset_index(drop=True),
            **part,
            dup_raw={k: v for k, v in result.dup_raw.items() if k[0] == t.rel},
            peak_rss_mb=result.peak_rss_mb,
            pid=result.pid,
            cpu_seconds=result.cpu_seconds,
            table=result.table.take(pa.array(rows, type=pa.int64())),
        )
    return out


def _by_file(frame: pd.DataFrame, column: str):
    """rel -> the rows of ``frame`` whose ``column`` is rel: positions for the records, a frame
    otherwise (labels grouped once, not compared once per file)."""
    labels = frame[column].astype(str).to_numpy(dtype=object) if len(frame) else np.array([])
    groups = pd.Series(np.arange(len(labels))).groupby(labels).indices if len(labels) else {}
    empty = np.empty(0, dtype=np.int64)
    if column == "_file" and "_khash" in frame.columns:
        return lambda rel: groups.get(rel, empty)
    return lambda rel: frame.iloc[groups.get(rel, empty)].reset_index(drop=True)


def join(dataset: str, parts: list[BatchResult]) -> BatchResult:
    """Per-file results in batch order -> the batch's result."""
    kept = [p for p in parts if len(p.records)] or parts[:1]
    last = parts[-1]
    return BatchResult(
        dataset,
        pd.concat([p.records for p in kept], ignore_index=True),
        _concat([p.quarantine for p in parts]),
        _concat([p.repairs for p in parts]),
        _concat([p.files for p in parts]),
        _concat([p.fingerprints for p in parts]),
        {k: v for p in parts for k, v in p.dup_raw.items()},
        last.peak_rss_mb,
        last.pid,
        last.cpu_seconds,
        pa.concat_tables([p.table for p in kept]),
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    nonempty = [f for f in frames if len(f)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else frames[0]


def entry_result(dataset: str, e: Entry) -> BatchResult:
    return BatchResult(
        dataset, e.records, e.quarantine, e.repairs, e.files, e.fingerprints, table=e.table
    )


def as_entry(res: BatchResult) -> Entry:
    return Entry(res.table, res.records, res.quarantine, res.repairs, res.files, res.fingerprints)


# --- on disk ---------------------------------------------------------------------------------
def _tagged(frame: pd.DataFrame | pa.Table, rel: str, sha: str):
    n = len(frame)
    if isinstance(frame, pa.Table):
        rels = pa.array([rel] * n, type=pa.string())
        shas = pa.array([sha] * n, type=pa.string())
        return frame.append_column(_REL, rels).append_column(_SHA, shas)
    return frame.assign(**{_REL: rel, _SHA: sha})


def _write_group(folder: Path, dataset: str, entries: dict[tuple[str, str], Entry]) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    items = sorted(entries.items())
    tables = []
    for (rel, sha), e in items:
        r = e.records
        sheets = r["_sheet"].astype(str).to_numpy(dtype=object)
        t = (
            e.table.append_column("_psig", pa.array(r["_psig"].to_numpy(), type=pa.uint64()))
            .append_column("_khash", pa.array(r["_khash"].to_numpy(), type=pa.uint64()))
            .append_column("_sheet", pa.array(sheets, type=pa.large_string()))
        )
        tables.append(_tagged(t, rel, sha))
    if tables:
        pq.write_table(pa.concat_tables(tables), tmp / "records.parquet")
    for part in ("quarantine", "repairs", "files", "fingerprints"):
        frames = [_tagged(_plain(getattr(e, part)), rel, sha) for (rel, sha), e in items]
        if frames:
            pd.concat(frames, ignore_index=True).to_parquet(tmp / f"{part}.parquet", index=False)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as text (each batch has its own categories)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(str)
    return out


def _read_group(folder: Path, dataset: str, raw_folder: str) -> dict[tuple[str, str], Entry]:
    files = pd.read_parquet(folder / "files.parquet")
    keys = list(dict.fromkeys(zip(files[_REL], files[_SHA], strict=True)))
    parts = {"files": (files, FILE_COLUMNS)}
    for name, columns in (
        ("quarantine", QUARANTINE_COLUMNS),
        ("repairs", REPAIR_COLUMNS),
        ("fingerprints", _FINGERPRINT_COLUMNS),
    ):
        path = folder / f"{name}.parquet"
        frame = pd.read_parquet(path) if path.exists() else None
        parts[name] = (frame, columns)
    slices = {name: _slicer(frame, columns) for name, (frame, columns) in parts.items()}
    path = folder / "records.parquet"
    records = pq.read_table(path) if path.exists() else None
    rows = _groups(records.column(_REL), records.column(_SHA)) if records is not None else {}
    out = {}
    for key in keys:
        at = rows.get(key)
        table, light = (
            _empty(dataset) if at is None else _records_of(records, at, dataset, raw_folder)
        )
        out[key] = Entry(
            table,
            light,
            slices["quarantine"](key),
            slices["repairs"](key),
            slices["files"](key),
            slices["fingerprints"](key),
        )
    return out


_FINGERPRINT_COLUMNS = {
    "kind": KIND_DTYPE,
    **{f"d{i}": np.uint64 for i in range(4)},
    "_file": object,
}


def _groups(rels, shas) -> dict[tuple[str, str], np.ndarray]:
    """(rel, sha) -> positions of its rows (grouped once for the whole group file)."""
    rels = np.asarray(rels, dtype=object)
    if not len(rels):
        return {}
    by = [pd.Series(rels), pd.Series(np.asarray(shas, dtype=object))]
    return pd.Series(np.arange(len(rels))).groupby(by).indices


def _slicer(frame: pd.DataFrame | None, columns: dict):
    """key -> the rows of one file, typed as written (an empty frame when it has none)."""
    if frame is None:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
        return lambda key: empty
    at = _groups(frame[_REL], frame[_SHA])
    body = frame.drop(columns=[_REL, _SHA])
    none = np.empty(0, dtype=np.int64)
    return lambda key: body.iloc[at.get(key, none)].reset_index(drop=True).astype(columns)


def _records_of(records: pa.Table, at: np.ndarray, dataset: str, raw_folder: str):
    """The processed table and the merge's light records of one file (rows ``at``)."""
    spec = list(PROCESSED_COLUMNS[dataset])
    sub = records.take(pa.array(at, type=pa.int64()))
    # as a batch makes it (Parquet gives back some types in another width)
    table = sub.select(spec).cast(_schema(dataset))
    keys = [k for k in NATURAL_KEYS[dataset] if k in spec]
    frame = sub.select(keys).to_pandas()
    n = sub.num_rows
    rel = sub.column(_REL)[0].as_py()
    frame["_psig"] = sub.column("_psig").to_numpy().astype(np.uint64)
    frame["_khash"] = sub.column("_khash").to_numpy().astype(np.uint64)
    frame["_file"] = pd.Categorical([rel] * n)
    frame["_sheet"] = pd.Categorical(sub.column("_sheet").to_pylist())
    frame["_folder"] = pd.Categorical([raw_folder] * n)
    frame["_row"] = sub.column("source_row").to_numpy().astype(np.int64)
    return table, light_records(dataset, frame)


def _empty(dataset: str):
    none = empty_records(dataset)
    return records_table(dataset, none), light_records(dataset, none)


@functools.cache
def _schema(dataset: str) -> pa.Schema:
    return records_table(dataset, empty_records(dataset)).schema
