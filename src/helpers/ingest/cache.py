"""Per-file ingest cache: a resubmitted file is read again, the others are not.

Every batch the regular reader reads leaves its processed result in
``data/processed/.cache/<version>/<folder>/<dataset>/<chunk>.<part>.arrow``: the accepted rows
(processed columns plus the merge's key hash and personal-value signature), quarantine rows,
repairs, per-sheet counts and personal-value fingerprints, each row tagged with its file's path
and content hash (SHA-256); ``<chunk>`` names the batch's (path, hash) list. A batch is written
as it comes from the reader (tagging is a column, not a copy per file), in Arrow IPC files (LZ4):
about twice the size of Parquet, but several times cheaper to write and to read back, so filling
the cache costs a from-scratch ingest little.

A later ingest takes a batch whole when a chunk holds exactly its files (the usual case: nothing
or something elsewhere changed), else each file's rows from whichever chunk holds the file with
that hash, reads only the files no chunk holds, and merges everything as a from-scratch ingest
would: per file, the processing core's results do not depend on which other files share its
batch (helpers.ingest.frame), and the batches are assembled in the order a from-scratch ingest
reads them. Once a (folder, dataset) is done, it keeps one chunk per batch of this run; the
others are removed.

``version`` covers everything else a file's result depends on: the ingest code, codes, datasets,
config and policy files (:func:`helpers.ingest.sources.code_hash`, a hash of the source files
rather than a hand-kept constant, so that no code change can ever reuse a stale result), the
pseudonym key's fingerprint, the read limits in force and the reference files (the universities
list resolves 院校代码). Entries of other versions and of files no longer present are pruned.

Not cached: the bulk reader's files (they stream through their own spill), reference tables
(small, read every time), files whose reader process crashed (maybe not the file's fault), and
the raw JSON of duplicate rows (raw personal data that processed/ does not hold: when duplicates
conflict, taken from the processed quarantine for unchanged files, else read from the raw file:
helpers.ingest.targets). Everything cached is what processed/ holds already
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
import pyarrow.compute as pc
import pyarrow.feather as feather
from pandas.api.types import union_categoricals

from helpers.datasets import PROCESSED_COLUMNS
from helpers.ingest import limits as read_limits
from helpers.ingest.frame import KIND_DTYPE
from helpers.ingest.quarantine import QUARANTINE_COLUMNS, REPAIR_COLUMNS
from helpers.ingest.tasks import FILE_COLUMNS, NATURAL_KEYS, BatchResult, FileTask
from helpers.ingest.typers import as_string, empty_records, light_records, records_table

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


Key = tuple[str, str]  # (path relative to raw/, SHA-256 of the file)


@dataclass
class _Group:
    """The chunks of one (raw folder, dataset) on disk: which holds which files, in order."""

    folder: Path
    keys: dict[str, list[Key]]  # chunk -> its files in batch order
    where: dict[Key, str]  # file -> a chunk holding it
    loaded: dict[str, _Chunk] = field(default_factory=dict)
    pooled: _Chunk | None = None  # every chunk as one, for batches taken file by file


@dataclass
class _Chunk:
    records: pa.Table | None
    parts: dict[str, pd.DataFrame | None]  # the small parts, tagged
    _rows: dict[str, dict[Key, np.ndarray]] = field(default_factory=dict)

    def rows(self, part: str) -> dict[Key, np.ndarray]:
        """file -> its rows in ``part`` (grouped once, when files are first taken alone)."""
        if part not in self._rows:
            data = self.records if part == "records" else self.parts[part]
            self._rows[part] = {} if data is None else _groups(data[_REL], data[_SHA])
        return self._rows[part]


@dataclass
class FileCache:
    """The cache of one processed/ folder, for one version."""

    processed: Path
    version: str
    _groups: dict[tuple[str, str], _Group] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.processed / CACHE_DIR / self.version

    def _group(self, folder: str, dataset: str) -> _Group:
        key = (folder, dataset)
        if key not in self._groups:
            self._groups[key] = _read_index(self.root / folder / dataset)
        return self._groups[key]

    def holds(self, folder: str, dataset: str, key: Key) -> bool:
        return key in self._group(folder, dataset).where

    def holds_batch(self, folder: str, dataset: str, keys: list[Key]) -> bool:
        return self._group(folder, dataset).keys.get(chunk_name(keys)) == keys

    def whole(self, folder: str, dataset: str, keys: list[Key]) -> BatchResult | None:
        """The batch's result when one chunk holds exactly ``keys`` (in this order)."""
        if not self.holds_batch(folder, dataset, keys):
            return None
        loaded = self._load(self._group(folder, dataset), chunk_name(keys))
        return None if loaded is None else _chunk_result(loaded, None, dataset, folder)

    def files(self, folder: str, dataset: str, keys: list[Key]) -> BatchResult | None:
        """The result of some files the cache holds, in this order: one selection from the chunk
        that holds them all, else from all the group's chunks pooled (after a resubmission changed
        the batches, their files come from many)."""
        group = self._group(folder, dataset)
        if any(k not in group.where for k in keys):
            return None
        holders = {group.where[k] for k in keys}
        if len(holders) == 1:  # the usual resubmission: the rest of its batch, from one chunk
            one = self._load(group, holders.pop())
            return None if one is None else _chunk_result(one, keys, dataset, folder)
        if group.pooled is None:
            chunks = [self._load(group, chunk) for chunk in group.keys]
            if any(c is None for c in chunks):
                return None
            try:
                group.pooled = _pool(chunks)
            except (ValueError, pa.ArrowException):
                return None  # chunks of unlike schemas: the caller reads the files again
        return _chunk_result(group.pooled, keys, dataset, folder)

    def _load(self, group: _Group, chunk: str) -> _Chunk | None:
        if chunk not in group.loaded:
            try:
                group.loaded[chunk] = _read_chunk(group.folder, chunk)
            except (OSError, ValueError, KeyError, pa.ArrowException):
                return None  # damaged: the caller reads the files again
        return group.loaded[chunk]

    def put(self, folder: str, dataset: str, keys: list[Key], res: BatchResult) -> str | None:
        """Keep a batch's result (written unless a chunk holds it already); its chunk's name.
        A batch with a file whose reader crashed is not kept (None)."""
        if res.files["reason_code"].isin(list(_NOT_CACHED_REASONS)).any():
            return None
        chunk = chunk_name(keys)
        if not self.holds_batch(folder, dataset, keys):
            _write_chunk(self.root / folder / dataset, chunk, res, dict(keys))
        return chunk

    def keep_only(self, folder: str, dataset: str, live: set[str | None]) -> None:
        """Remove the group's chunks that hold none of this run's batches, let go of its frames."""
        group = self._group(folder, dataset)
        for chunk in set(group.keys) - live:
            for p in group.folder.glob(f"{chunk}.*"):
                p.unlink(missing_ok=True)
        self._groups.pop((folder, dataset), None)

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


# --- on disk ---------------------------------------------------------------------------------
_KEYS_META = b"placement_cache_keys"


def chunk_name(keys: list[Key]) -> str:
    return hashlib.sha256("\n".join(f"{r}\t{h}" for r, h in keys).encode()).hexdigest()[:20]


def _labels(s: pd.Series) -> pa.Array:
    """A text or categorical column as Arrow large strings (categories not expanded in Python)."""
    arr = pa.array(as_string(s), type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _tag(table: pa.Table, rels: pa.Array, sha_of: dict[str, str]) -> pa.Table:
    """``table`` with each row's file path and hash, dictionary-encoded (a handful of files
    per chunk: the 64-character hash is not written once per row)."""
    enc = pc.dictionary_encode(rels)
    shas = pa.array([sha_of.get(r, "") for r in enc.dictionary.to_pylist()], pa.large_string())
    enc = enc.cast(pa.dictionary(pa.int32(), pa.large_string()))
    sha = pa.DictionaryArray.from_arrays(enc.indices, shas)
    return table.append_column(_REL, enc).append_column(_SHA, sha)


def _write_chunk(folder: Path, chunk: str, res: BatchResult, sha_of: dict[str, str]) -> None:
    """The batch's result as it came from the reader, tagged; the ``files`` part (which carries
    the chunk's file list in its metadata) written last: a chunk without it is not read."""
    folder.mkdir(parents=True, exist_ok=True)
    r = res.records
    if len(r):
        t = (
            res.table.append_column("_psig", pa.array(r["_psig"].to_numpy(), pa.uint64()))
            .append_column("_khash", pa.array(r["_khash"].to_numpy(), pa.uint64()))
            .append_column("_sheet", _labels(r["_sheet"]))
        )
        _write(_tag(t, _labels(r["_file"]), sha_of), folder / f"{chunk}.records.arrow")
    for part, column in _PART_FILE_COLUMN.items():
        frame = getattr(res, part)
        if part != "files" and not len(frame):
            continue
        t = _tag(
            _arrow_table(frame),
            _labels(frame[column]),
            sha_of,
        )
        if part == "files":
            keys = json.dumps(list(sha_of.items()), ensure_ascii=False).encode()
            t = t.replace_schema_metadata({**(t.schema.metadata or {}), _KEYS_META: keys})
        _write(t, folder / f"{chunk}.{part}.arrow")


# the small parts, written "files" last, and the column naming each row's file
_PART_FILE_COLUMN = {
    "quarantine": "source_file",
    "repairs": "source_file",
    "fingerprints": "_file",
    "files": "source_file",
}


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    feather.write_feather(table, tmp, compression="lz4")
    tmp.replace(path)


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` in Arrow with categorical columns as plain text (each batch has its own
    categories), decoded in Arrow rather than through a Python string per row."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def _read_index(folder: Path) -> _Group:
    """Which chunk holds which files, from the ``files`` parts' metadata (no rows read)."""
    group = _Group(folder, {}, {})
    for path in sorted(folder.glob("*.files.arrow")) if folder.is_dir() else ():
        try:
            with pa.ipc.open_file(path) as reader:
                meta = reader.schema.metadata or {}
            keys = [tuple(k) for k in json.loads(meta[_KEYS_META])]
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            continue  # damaged: its files are read again
        chunk = path.name.split(".")[0]
        group.keys[chunk] = keys
        for k in keys:
            group.where.setdefault(k, chunk)
    return group


def _read_chunk(folder: Path, chunk: str) -> _Chunk:
    path = folder / f"{chunk}.records.arrow"
    records = feather.read_table(path) if path.exists() else None
    parts = {}
    for part in _PART_FILE_COLUMN:
        path = folder / f"{chunk}.{part}.arrow"
        parts[part] = feather.read_table(path).to_pandas() if path.exists() else None
    return _Chunk(records, parts)


_FINGERPRINT_COLUMNS = {
    "kind": KIND_DTYPE,
    **{f"d{i}": np.uint64 for i in range(4)},
    "_file": "category",
}


_PART_COLUMNS = {
    "quarantine": QUARANTINE_COLUMNS,
    "repairs": REPAIR_COLUMNS,
    "files": FILE_COLUMNS,
    "fingerprints": _FINGERPRINT_COLUMNS,
}


def _pool(chunks: list[_Chunk]) -> _Chunk:
    tables = [c.records for c in chunks if c.records is not None]
    parts = {}
    for part in _PART_FILE_COLUMN:
        frames = [c.parts[part] for c in chunks if c.parts[part] is not None]
        parts[part] = _stack_tagged(frames) if frames else None
    return _Chunk(pa.concat_tables(tables) if tables else None, parts)


def _stack_tagged(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Parts of several chunks as one; the tag columns (categoricals of each chunk's own files)
    united by their codes rather than through a Python string per row."""
    tags = {c: union_categoricals([f[c] for f in frames]) for c in (_REL, _SHA)}
    out = pd.concat([f.drop(columns=list(tags)) for f in frames], ignore_index=True)
    return out.assign(**tags)


def _chunk_result(c: _Chunk, keys: list[Key] | None, dataset: str, raw_folder: str) -> BatchResult:
    """The result of a whole chunk (``keys`` None) or of some of its files, in that order."""

    def at(part: str) -> np.ndarray:
        rows = c.rows(part)
        none = np.empty(0, dtype=np.int64)
        return np.concatenate([rows.get(k, none) for k in keys]) if keys else none

    parts = {}
    for part, frame in c.parts.items():
        columns = _PART_COLUMNS[part]
        if frame is None:
            frame = pd.DataFrame({col: pd.Series(dtype=t) for col, t in columns.items()})
        else:
            if keys is not None:
                frame = frame.iloc[at(part)]
            frame = frame.drop(columns=[_REL, _SHA]).reset_index(drop=True)
        parts[part] = frame.astype(columns)
    rows = None if keys is None else at("records")
    if c.records is None or c.records.num_rows == 0 or (rows is not None and not len(rows)):
        table, light = _empty(dataset)
    else:
        table, light = _records_of(c.records, rows, dataset, raw_folder)
    return BatchResult(dataset, light, **parts, table=table)


def _empty(dataset: str):
    none = empty_records(dataset)
    return records_table(dataset, none), light_records(dataset, none)


@functools.cache
def _schema(dataset: str) -> pa.Schema:
    return records_table(dataset, empty_records(dataset)).schema


def _groups(rels, shas) -> dict[Key, np.ndarray]:
    """(rel, sha) -> positions of its rows (grouped once for the whole chunk), by the tag
    columns' codes: a chunk's rows are not turned into Python strings."""
    rel_codes, rel_names = _factorized(rels)
    sha_codes, sha_names = _factorized(shas)
    if not len(rel_codes):
        return {}
    key = rel_codes.astype(np.int64) * (len(sha_names) + 1) + sha_codes
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    out = {}
    for rows in np.split(order, starts[1:]):
        k = key[rows[0]]
        out[(rel_names[k // (len(sha_names) + 1)], sha_names[k % (len(sha_names) + 1)])] = rows
    return out


def _factorized(values) -> tuple[np.ndarray, list]:
    """Codes and distinct values of a tag column (Arrow dictionary or pandas categorical)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_pandas()
    codes, uniques = pd.factorize(values)
    return codes, list(uniques)


def _records_of(records: pa.Table, at: np.ndarray | None, dataset: str, raw_folder: str):
    """The processed table and the merge's light records of rows ``at`` (None: all)."""
    spec = list(PROCESSED_COLUMNS[dataset])
    sub = records if at is None else records.take(pa.array(at, type=pa.int64()))
    # as a batch makes it (Parquet gives back some types in another width)
    table = sub.select(spec).cast(_schema(dataset))
    keys = [k for k in NATURAL_KEYS[dataset] if k in spec]
    frame = sub.select(keys).to_pandas()
    n = sub.num_rows
    frame["_psig"] = sub.column("_psig").to_numpy().astype(np.uint64)
    frame["_khash"] = sub.column("_khash").to_numpy().astype(np.uint64)
    frame["_file"] = pd.Categorical(sub.column(_REL).to_pandas())
    frame["_sheet"] = pd.Categorical(sub.column("_sheet").to_pandas())
    frame["_folder"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [raw_folder])
    frame["_row"] = sub.column("source_row").to_numpy().astype(np.int64)
    return table, light_records(dataset, frame)
