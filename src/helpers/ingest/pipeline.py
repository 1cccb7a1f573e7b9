"""``ingest(as_of, data_dir)``: raw folders -> data/processed/<date>/ (see docs/ingest.md).

For a reporting date D the processed folder holds graduates and platform from the newest raw
folder <= D that has them, recruitment / visits / assistance from every raw folder <= D (the same
natural key counted once), the reference tables, and the quarantine, repairs, per-file counts,
personal-value fingerprints and a manifest. Every earlier raw folder gets its own processed folder
too (progress through the year, earlier cohorts). A processed folder whose manifest records the
same inputs (file hashes, ingest code, key fingerprint) is left alone, so re-running is cheap.

Files are read, normalised, validated and typed in worker processes (Excel parsing dominates);
duplicates across files and folders are resolved here in the parent.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from importlib import metadata
from multiprocessing import forkserver
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from helpers.config import PACKAGE_DIR, REFERENCE_DIR, data_paths, parse_as_of
from helpers.datasets import BY_NAME, INPUT_DATASETS, PROCESSED_COLUMNS, REFERENCE_DATASETS
from helpers.errors import MissingInputError
from helpers.ingest import bulk
from helpers.ingest import limits as read_limits
from helpers.ingest import normalise as nz
from helpers.ingest.process import (
    FILE_COLUMNS,
    NATURAL_KEYS,
    BatchResult,
    Context,
    FileTask,
    empty_fingerprints,
    light_records,
    process_batch,
    signature,
)
from helpers.ingest.pseudonym import key_fingerprint, load_key, words_hex
from helpers.ingest.quarantine import (
    BOUND_REASONS,
    QUARANTINE_COLUMNS,
    REASONS,
    REPAIR_COLUMNS,
    REPAIRS,
    empty_frame,
    raw_json,
)
from helpers.ingest.readers import dataset_for_file, find_header, list_files, read_file
from helpers.ingest.workers import ReaderPool, WorkerCrashed
from helpers.logs import progress

INGEST_VERSION = 1
SHIPPED_UNIVERSITIES = REFERENCE_DIR / "fujian_universities_moe2018.csv"
SHIPPED_MAJORS = REFERENCE_DIR / "majors.csv"
SNAPSHOT = tuple(d.name for d in INPUT_DATASETS if d.kind == "snapshot")
ACTIVITY = tuple(d.name for d in INPUT_DATASETS if d.kind == "activity")
REFERENCE = tuple(d.name for d in REFERENCE_DATASETS)
# below this much input, a process pool costs more than it saves (auto mode only)
POOL_MIN_BYTES = 4 * 1024 * 1024
BATCH_BYTES = 6 * 1024 * 1024
_PACKAGES = ("pandas", "numpy", "pyarrow", "pandera", "python-calamine", "helpers")


# --- discovery -------------------------------------------------------------------------------
@dataclass
class Inputs:
    folders: list[dt.date]
    tasks: dict[str, list[FileTask]]  # folder ISO (or "reference") -> tasks
    ignored: list[str]  # files and folders that are not inputs
    shipped_universities: bool  # the fallback list is used


def _folder_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def _rel(path: Path, raw: Path) -> str:
    try:
        return path.relative_to(raw).as_posix()
    except ValueError:
        return "helpers/" + path.relative_to(PACKAGE_DIR).as_posix()


def discover(raw: Path, as_of: dt.date) -> Inputs:
    """Raw folders <= as_of, their input files by dataset, and the reference files."""
    folders: list[dt.date] = []
    tasks: dict[str, list[FileTask]] = {}
    ignored: list[str] = []
    for child in sorted(raw.iterdir()) if raw.is_dir() else []:
        if child.name.startswith("."):
            continue
        if not child.is_dir():
            ignored.append(child.name)
            continue
        if child.name == "reference":
            continue
        d = _folder_date(child.name)
        if d is None:
            ignored.append(child.name + "/")
            continue
        if d > as_of:
            continue
        folders.append(d)
        found = []
        for p in list_files(child):
            ds = dataset_for_file(p, INPUT_DATASETS)
            if ds is None:
                ignored.append(_rel(p, raw))
            else:
                found.append(FileTask(str(p), _rel(p, raw), ds.name, d.isoformat()))
        tasks[d.isoformat()] = found
    ref: list[FileTask] = []
    for p in list_files(raw / "reference"):
        ds = dataset_for_file(p, REFERENCE_DATASETS)
        if ds is None:
            ignored.append(_rel(p, raw))
        else:
            ref.append(FileTask(str(p), _rel(p, raw), ds.name, None))
    shipped = not any(t.dataset == "universities" for t in ref)
    if shipped:
        ref.append(
            FileTask(
                str(SHIPPED_UNIVERSITIES), _rel(SHIPPED_UNIVERSITIES, raw), "universities", None
            )
        )
    if SHIPPED_MAJORS.exists():
        ref.insert(0, FileTask(str(SHIPPED_MAJORS), _rel(SHIPPED_MAJORS, raw), "majors", None))
    tasks["reference"] = ref
    return Inputs(sorted(folders), tasks, ignored, shipped)


@dataclass
class Target:
    """One processed folder to write and the raw folders it draws on."""

    date: dt.date
    snapshot_folders: dict[str, str | None]  # graduates / platform -> folder ISO
    activity_folders: list[str]

    def tasks(self, inputs: Inputs) -> list[FileTask]:
        out = list(inputs.tasks["reference"])
        for name, folder in self.snapshot_folders.items():
            if folder:
                out += [t for t in inputs.tasks[folder] if t.dataset == name]
        for folder in self.activity_folders:
            out += [t for t in inputs.tasks[folder] if t.dataset in ACTIVITY]
        return out


def plan_targets(inputs: Inputs, as_of: dt.date) -> list[Target]:
    """Every raw folder <= as_of, and as_of itself."""
    dates = list(inputs.folders)
    if as_of not in dates:
        dates.append(as_of)
    targets = []
    for date in sorted(dates):
        upto = [f.isoformat() for f in inputs.folders if f <= date]
        snap = {}
        for name in SNAPSHOT:
            having = [f for f in upto if any(t.dataset == name for t in inputs.tasks[f])]
            snap[name] = having[-1] if having else None
        targets.append(Target(date, snap, upto))
    return targets


# --- hashes ----------------------------------------------------------------------------------
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_CODE_HASH: str | None = None


def code_hash() -> str:
    """Digest of the code and tables that shape processed data (a change re-ingests)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        h = hashlib.sha256(str(INGEST_VERSION).encode())
        paths = sorted((PACKAGE_DIR / "ingest").glob("*.py"))
        paths += [PACKAGE_DIR / n for n in ("codes.py", "datasets.py", "config.py")]
        paths += sorted((PACKAGE_DIR / "policy").glob("*.yaml"))
        for p in paths:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        _CODE_HASH = h.hexdigest()[:16]
    return _CODE_HASH


def inputs_digest(tasks: list[FileTask], hashes: dict[str, str], fingerprint: str) -> str:
    h = hashlib.sha256()
    h.update(f"{code_hash()}|{fingerprint}".encode())
    # the read limits in force (environment overrides included): a change re-ingests
    h.update(json.dumps(read_limits.current().describe(), sort_keys=True).encode())
    for rel, sha in sorted((t.rel, hashes[t.path]) for t in tasks):
        h.update(f"\n{rel}\t{sha}".encode())
    return h.hexdigest()


def _existing_digest(folder: Path) -> str | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get(
            "inputs_digest"
        )
    except (OSError, ValueError):
        return None


# --- running batches -------------------------------------------------------------------------
def _batches(tasks: list[FileTask], sizes: dict[str, int]) -> list[list[FileTask]]:
    """Tasks grouped by (dataset, raw folder), split into chunks of about BATCH_BYTES.

    Few, large batches: fixed costs per batch (pandera, Arrow calls) then weigh little. The chunk
    size does not depend on the worker count, so the same inputs give the same batches and the
    processed rows come out in the same order whatever the number of workers. Oldest folder first,
    and within a folder graduates (the bulk of the work) before the small activity datasets,
    largest chunk first: a target can be merged and written while later folders are read, and
    the last batches are small ones, so that both workers finish together.
    """
    groups: dict[tuple[str, str], list[FileTask]] = {}
    for t in tasks:
        groups.setdefault((t.folder or "", t.dataset), []).append(t)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "graduates", k[1])):
        group = sorted(groups[key], key=lambda t: (-sizes[t.path], t.rel))
        n_chunks = max(
            1, min(len(group), math.ceil(sum(sizes[t.path] for t in group) / BATCH_BYTES))
        )
        chunks: list[list[FileTask]] = [[] for _ in range(n_chunks)]
        loads = [0] * n_chunks
        for t in group:  # largest first into the lightest chunk
            i = loads.index(min(loads))
            chunks[i].append(t)
            loads[i] += sizes[t.path]
        chunks = [sorted(c, key=lambda t: t.rel) for c in chunks if c]
        out += sorted(chunks, key=lambda c: -sum(sizes[t.path] for t in c))
    return out


def _warm() -> int:
    return os.getpid()


def _forkserver():
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["helpers.ingest.process"])
    return mp


def _prestart_forkserver() -> None:
    """Launch the fork server now (it imports the ingest code, about a second) without waiting
    for it: the parent hashes the inputs meanwhile."""
    _forkserver()
    forkserver.ensure_running()


def _executor(workers: int) -> ProcessPoolExecutor:
    mp = _forkserver()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp)
    for _ in range(workers):
        pool.submit(_warm)
    return pool


def _start_pool(workers: int) -> ReaderPool:
    """Worker processes forked from a server that has imported the ingest code once; started
    early (and warmed) so that their start-up overlaps the parent's own work. A worker that
    crashes is survived (helpers.ingest.workers)."""
    return ReaderPool(lambda: _executor(workers))


def _run(batches: list[list[FileTask]], ctx: Context, pool: ReaderPool | None):
    """(batch index, result) as batches finish (in order without a pool). With a pool every
    batch is submitted now, so that the pool works while the caller does something else."""
    if pool is None:  # read here: a crash would end the ingest, so workbooks are scanned first
        here = replace(ctx, scan=True)
        return ((i, process_batch(b, here)) for i, b in enumerate(batches))
    futures = {pool.submit(process_batch, b, ctx): i for i, b in enumerate(batches)}
    return (
        (futures[f], _batch_outcome(pool, f, batches[futures[f]], ctx))
        for f in as_completed(futures)
    )


def _batch_outcome(pool: ReaderPool, future, batch: list[FileTask], ctx: Context) -> BatchResult:
    """The batch's result; when its reader process crashed, each file is read alone to find the
    one(s) that crash, which are quarantined (file_reader_crashed), and the batch runs again
    without reading them."""
    try:
        return pool.outcome(future, process_batch, batch, ctx)
    except WorkerCrashed as crash:
        if len(batch) == 1:  # it crashed alone already
            failed = [(batch[0].path, "file_reader_crashed", crash.detail)]
        else:
            failed = []
            for t in batch:
                try:
                    pool.alone(process_batch, [t], ctx)
                except WorkerCrashed as exc:
                    failed.append((t.path, "file_reader_crashed", exc.detail))
            if not failed:  # no file crashes by itself: the batch once more, else all suspects
                try:
                    return pool.alone(process_batch, batch, ctx)
                except WorkerCrashed as again:
                    failed = [(t.path, "file_reader_crashed", again.detail) for t in batch]
        return pool.alone(process_batch, batch, replace(ctx, failed=ctx.failed + tuple(failed)))


# --- merging ---------------------------------------------------------------------------------
@dataclass
class Pool:
    """Every batch result of one dataset, stacked; a target takes the rows of its folders.

    ``records`` holds what merging needs of each accepted row (natural key, signatures, source
    columns), ``table`` the processed columns of the same rows, as Arrow (stacking costs nothing
    and dropping merged rows is one filter)."""

    records: pd.DataFrame
    quarantine: pd.DataFrame
    repairs: pd.DataFrame
    files: pd.DataFrame
    fingerprints: pd.DataFrame
    dup_raw: dict
    table: pa.Table

    @classmethod
    def of(cls, dataset: str, results: list[BatchResult]) -> Pool:
        kept = [r for r in results if len(r.records)]
        fps = [r.fingerprints for r in results if len(r.fingerprints)]
        dup_raw: dict = {}
        for r in results:
            dup_raw.update(r.dup_raw)
        # categorical source columns: selecting folders and counting per file stay cheap
        if kept:
            records = _stack_records([r.records for r in kept])
            table = pa.concat_tables([r.table for r in kept])
        else:
            empty = _empty_records(dataset)
            table = pa.Table.from_pandas(
                empty[list(PROCESSED_COLUMNS[dataset])], preserve_index=False
            )
            records = light_records(dataset, empty)
            for c in _SOURCE_COLUMNS:
                records[c] = records[c].astype("category")
        fingerprints = pd.concat(fps, ignore_index=True) if fps else empty_fingerprints()
        return cls(
            records,
            _concat([r.quarantine for r in results], QUARANTINE_COLUMNS),
            _concat([r.repairs for r in results], REPAIR_COLUMNS),
            _concat([r.files for r in results], FILE_COLUMNS),
            fingerprints,
            dup_raw,
            table,
        )


_SOURCE_COLUMNS = ("_file", "_sheet", "_folder")


def _as_string(s: pd.Series) -> pd.Series:
    """``s.astype("string")``; a categorical by its categories (not value by value)."""
    if not isinstance(s.dtype, pd.CategoricalDtype) or len(s) == 0:
        return s.astype("string")
    codes = s.cat.codes.to_numpy()
    cats = pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.large_string())
    taken = cats.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="string"), index=s.index, name=s.name)


def _stack_records(recs: list[pd.DataFrame]) -> pd.DataFrame:
    """Batch records stacked; their categorical source columns (each batch has its own
    categories) combined as categoricals, without a round trip through Python strings. The
    categories come out as ``astype("category")`` makes them: batches of one set of categories
    keep it, others get the sorted values present."""
    out = pd.concat([r.drop(columns=list(_SOURCE_COLUMNS)) for r in recs], ignore_index=True)
    for c in _SOURCE_COLUMNS:
        parts = [r[c] for r in recs]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            if all(p.dtype == parts[0].dtype for p in parts):
                col = pd.Categorical.from_codes(
                    np.concatenate([p.cat.codes.to_numpy() for p in parts]),
                    dtype=parts[0].dtype,
                )
            else:
                col = union_categoricals(parts, sort_categories=True).remove_unused_categories()
        else:
            col = pd.concat(parts, ignore_index=True).astype("category")
        out[c] = col
    return out[list(recs[0].columns)]


class TableRecords:
    """The processed rows of one dataset as an Arrow table (with pandas' schema metadata, so
    that reading the Parquet back gives the dtypes of PROCESSED_COLUMNS). Stands in for a frame
    where the writer needs ``len()`` and ``to_parquet()``; dropping merged rows is one Arrow
    filter instead of a pandas row selection of every column."""

    def __init__(self, table: pa.Table, dataset: str | None = None):
        self.table = table
        self.dataset = dataset

    def __len__(self) -> int:
        return self.table.num_rows

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def to_parquet(self, path, index: bool = False) -> None:
        write_parquet(self.table, path, self.dataset)


# keyed digests that are all distinct (64 hex characters): neither compression nor a dictionary
# nor min/max statistics gain anything on them, and they cost most of the writing time. (Keys
# that repeat, such as a helper's or a student's in the help records, keep their dictionary.)
DIGEST_COLUMNS = {"graduates": ("student_key",), "pii_fingerprints": ("digest",)}


def parquet_options(schema: pa.Schema, dataset: str | None = None) -> dict:
    """pyarrow.parquet writer options: snappy (as DataFrame.to_parquet), except for the distinct
    digests of ``dataset``."""
    names = schema.names
    plain = [c for c in DIGEST_COLUMNS.get(dataset, ()) if c in names]
    if not plain:
        return {"compression": "snappy"}
    rest = [c for c in names if c not in plain]
    return {
        "compression": {c: "none" if c in plain else "snappy" for c in names},
        "use_dictionary": rest,
        "write_statistics": rest,
    }


def write_parquet(table: pa.Table, path, dataset: str | None = None) -> None:
    pq.write_table(table, str(path), **parquet_options(table.schema, dataset))


@dataclass
class Merged:
    records: TableRecords  # or bulk.SpilledRecords / _Rows: len() and to_parquet()
    quarantine: pd.DataFrame
    repairs: pd.DataFrame
    files: pd.DataFrame
    fingerprints: pd.DataFrame
    counts: dict


def _concat(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame(columns)
    return pd.concat(frames, ignore_index=True)


def _reread_raw(path: str, dataset: str, sheet: str, rows: list[int]) -> dict[int, str]:
    """Raw JSON of some rows of a file (rare: duplicates that conflict across batches)."""
    raw = read_file(Path(path))
    for s in raw.sheets:
        if s.name != sheet:
            continue
        header = find_header(s, BY_NAME[dataset])
        headers = header.headers if header else [""] * s.cells.shape[1]
        idx = {int(r): i for i, r in enumerate(s.row_numbers)}
        return {r: raw_json(headers, s.cells[[idx[r]]])[0] for r in rows if r in idx}
    return {}


def _unique_words(fp: pd.DataFrame) -> pd.DataFrame:
    """Distinct (kind, digest) rows: candidates by the first digest word (a uint64 hash table),
    exact comparison of all words on the few candidates."""
    fp = fp[["kind", "d0", "d1", "d2", "d3"]].reset_index(drop=True)
    cand = pd.Series(fp["d0"].to_numpy()).duplicated(keep=False).to_numpy()
    if not cand.any():
        return fp
    sub = fp.loc[cand]
    kind = sub["kind"]  # compared by code when every batch has the one kind dtype
    sub = sub.assign(
        kind=kind.cat.codes if isinstance(kind.dtype, pd.CategoricalDtype) else kind.astype(str)
    )
    keep = np.ones(len(fp), dtype=bool)
    keep[np.flatnonzero(cand)[sub.duplicated(keep="first").to_numpy()]] = False
    return fp[keep].reset_index(drop=True)


_KEY_ZH = {
    "student_key": "学号",
    "visitor_key": "走访人",
    "helper_key": "帮扶责任人",
    "employer_key": "统一社会信用代码/走访单位名称",
}


def _empty_records(dataset: str) -> pd.DataFrame:
    spec = PROCESSED_COLUMNS[dataset]
    df = pd.DataFrame({c: pd.Series(dtype=t) for c, t in spec.items()})
    df["_psig"] = pd.Series(dtype="uint64")
    df["_khash"] = pd.Series(dtype="uint64")
    for c in ("_file", "_sheet", "_folder"):
        df[c] = pd.Series(dtype="string")
    df["_row"] = pd.Series(dtype="int64")
    return df


def merge(dataset: str, pool: Pool, paths: dict[str, str]) -> Merged:
    """One dataset of one target: merge identical duplicates, quarantine conflicting ones; count
    rows per file and sheet (rows read = accepted + merged + quarantined)."""
    spec = PROCESSED_COLUMNS[dataset]
    records = pool.records  # in the order of pool.table's rows
    if not isinstance(records.index, pd.RangeIndex) or records.index.start != 0:
        records = records.reset_index(drop=True)
    quarantine, repairs, files = pool.quarantine, pool.repairs, pool.files
    # made distinct over every dataset of the folder when it is written (_target_extras)
    fingerprints = pool.fingerprints

    n = len(records)
    merged_mask = np.zeros(n, dtype=bool)
    conflict_mask = np.zeros(n, dtype=bool)
    override_mask = np.zeros(n, dtype=bool)
    if dataset == "majors" and n:
        # the user's catalogue (raw/reference/majors.*) replaces the shipped row of the same code
        shipped = records["_file"].astype(str).str.startswith("helpers/").to_numpy(dtype=bool)
        user_codes = records.loc[~shipped, "major_code"].dropna().unique()
        override_mask = shipped & records["major_code"].isin(user_codes).fillna(False).to_numpy(
            dtype=bool
        )
    keys = list(NATURAL_KEYS[dataset])
    if n:
        # candidates by the natural key's 64-bit hash (fast), then exact keys on the few candidates
        khash = pd.Series(records["_khash"].to_numpy())
        cand = khash.duplicated(keep=False).to_numpy() & ~override_mask
        if cand.any():
            grp = records.loc[cand].sort_values(
                ["_folder", "_file", "_sheet", "_row"], kind="stable"
            )
            grp = grp.loc[grp.duplicated(keys, keep=False).to_numpy()]
            # the processed columns of these few rows, for their content signature
            rows = pool.table.take(pa.array(grp.index.to_numpy())).to_pandas()
            rows["_psig"] = grp["_psig"].to_numpy()
            grp = grp.assign(_sig=signature(rows).to_numpy())
            nsig = (
                grp.groupby(keys, observed=True, dropna=False)["_sig"]
                .transform("nunique")
                .to_numpy()
            )
            conflict_mask[grp.index[nsig > 1]] = True
            same = grp.loc[nsig == 1]
            merged_mask[same.index[same.duplicated(keys, keep="first").to_numpy()]] = True
    if conflict_mask.any():
        quarantine = pd.concat(
            [quarantine, _conflict_rows(dataset, records.loc[conflict_mask], pool, paths)],
            ignore_index=True,
        )
    if override_mask.any():
        o = records.loc[override_mask]
        repairs = pd.concat(
            [
                repairs,
                pd.DataFrame(
                    {
                        "source_file": o["_file"],
                        "sheet": o["_sheet"],
                        "row": o["_row"],
                        "snapshot_date": None,
                        "dataset": dataset,
                        "column": "专业代码",
                        "repair_code": "majors_user_override",
                        "repair": REPAIRS["majors_user_override"],
                        "before": o["major_code"],
                        "after": o["major_code"],
                    }
                ).astype(REPAIR_COLUMNS),
            ],
            ignore_index=True,
        )
    merged_mask |= override_mask
    drop = merged_mask | conflict_mask
    files = _count_rows(files, records, merged_mask, conflict_mask, quarantine, dataset)
    table = pool.table
    if table.column_names != list(spec):
        raise RuntimeError(f"{dataset}: processed columns {table.column_names} != {list(spec)}")
    out = TableRecords(table.filter(pa.array(~drop)) if drop.any() else table, dataset)
    counts = {
        "files": int(files["source_file"].nunique()),
        "unreadable_files": int((files["status"] == "unreadable").sum()),
        "rows_read": int(files["rows_read"].sum()),
        "accepted": len(out),
        "merged": int(merged_mask.sum()),
        "quarantined": int(files["quarantined"].sum()),
        "quarantined_duplicates": int(conflict_mask.sum()),
    }
    return Merged(out, quarantine, repairs, files, fingerprints, counts)


def _conflict_rows(
    dataset: str, rows: pd.DataFrame, pool: Pool, paths: dict[str, str]
) -> pd.DataFrame:
    dup_raw = dict(pool.dup_raw)
    where = list(zip(rows["_file"], rows["_sheet"], rows["_row"].astype(int), strict=True))
    missing: dict[tuple[str, str], list[int]] = {}
    for f, s, row in where:
        if (f, s, row) not in dup_raw:
            missing.setdefault((f, s), []).append(row)
    for (f, s), rws in missing.items():
        for row, js in _reread_raw(paths[f], dataset, s, rws).items():
            dup_raw[(f, s, row)] = js
    zh = {c.name: c.zh for c in BY_NAME[dataset].columns} | _KEY_ZH
    column = "、".join(zh.get(k, k) for k in NATURAL_KEYS[dataset])
    out = pd.DataFrame(
        {
            "source_file": rows["_file"].to_numpy(),
            "sheet": rows["_sheet"].to_numpy(),
            "row": rows["_row"].to_numpy(),
            "snapshot_date": rows["_folder"].to_numpy(),
            "dataset": dataset,
            "level": "row",
            "reason_code": "duplicate_conflict",
            "reason": REASONS["duplicate_conflict"] + "：" + column,
            "column": column,
            "reason_codes": "duplicate_conflict",
            "raw": [dup_raw.get(k, "{}") for k in where],
        }
    )
    return out.astype(QUARANTINE_COLUMNS)


_NA_LABEL = "\x00<NA>"  # a missing file or sheet label, as a label of its own


def _codes(labels) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and their labels, for a categorical (its own codes) or any array."""
    cat = labels.array if isinstance(labels, pd.Series) else labels
    if not isinstance(cat, pd.Categorical):
        cat = pd.Categorical(np.asarray(labels, dtype=object))
    codes = np.asarray(cat.codes, dtype=np.int64)
    cats = pd.Index(np.asarray(cat.categories, dtype=object))
    if (codes < 0).any():  # missing labels get a label of their own
        codes = np.where(codes < 0, len(cats), codes)
        cats = cats.append(pd.Index([_NA_LABEL], dtype=object))
    return codes, cats


def _sums_per_file(files, file_labels, sheet_labels, values: dict[str, np.ndarray]) -> dict:
    """Per row of ``files`` (source_file, sheet): the sums of ``values`` over the rows with that
    file and sheet label (0 where none). Summed by integer codes, not by text."""
    fcodes, fcats = _codes(file_labels)
    scodes, scats = _codes(sheet_labels)
    ns = max(len(scats), 1)
    combo = fcodes * ns + scodes
    size = max(len(fcats), 1) * ns

    def plain(col: str) -> np.ndarray:
        v = files[col].to_numpy(dtype=object)
        return np.where(pd.isna(v), _NA_LABEL, v)

    fi = fcats.get_indexer(plain("source_file"))
    si = scats.get_indexer(plain("sheet"))
    where = np.where((fi >= 0) & (si >= 0), fi * ns + si, -1)
    out = {}
    for name, v in values.items():
        totals = np.bincount(combo, weights=np.asarray(v, dtype=np.float64), minlength=size)
        got = np.append(totals, 0.0)[where]  # -1 (no such label): the appended 0
        out[name] = np.rint(got).astype(np.int64)
    return out


def _count_rows(
    files: pd.DataFrame,
    records: pd.DataFrame,
    merged: np.ndarray,
    conflict: np.ndarray,
    quarantine: pd.DataFrame,
    dataset: str,
) -> pd.DataFrame:
    files = files.copy()
    accepted = (~merged & ~conflict).astype(np.int64)
    sums = _sums_per_file(
        files, records["_file"], records["_sheet"], {"accepted": accepted, "merged": merged}
    )
    row = (quarantine["level"] == "row").to_numpy(dtype=bool, na_value=False)
    sums |= _sums_per_file(
        files,
        quarantine["source_file"].to_numpy(dtype=object)[row],
        quarantine["sheet"].to_numpy(dtype=object)[row],
        {"quarantined": np.ones(int(row.sum()), dtype=np.int64)},
    )
    for c in ("accepted", "merged", "quarantined"):
        files[c] = sums[c]
    files["balanced"] = (
        files["rows_read"] == files["accepted"] + files["merged"] + files["quarantined"]
    )
    if not files["balanced"].all():
        bad = files.loc[
            ~files["balanced"],
            ["source_file", "sheet", "rows_read", "accepted", "merged", "quarantined"],
        ]
        raise RuntimeError(f"ingest lost track of rows in {dataset}: {bad.to_dict('records')}")
    return files


# --- writing ---------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _lock(processed: Path):
    processed.mkdir(parents=True, exist_ok=True)
    fh = open(processed / ".ingest.lock", "w")  # noqa: SIM115 - held for the whole run
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


# --- result ----------------------------------------------------------------------------------
@dataclass
class IngestResult:
    """What ``ingest`` did; ``summary()`` is the text for staff (bilingual)."""

    as_of: dt.date
    data_dir: Path
    built: list[dt.date] = field(default_factory=list)
    up_to_date: list[dt.date] = field(default_factory=list)
    seconds: float = 0.0
    worker_peak_rss_mb: float = 0.0  # largest peak RSS among the processes that read files
    # CPU time (user + system) of the pool's worker processes; 0 when everything ran in this
    # process (then time.process_time() of the caller holds it all)
    worker_cpu_seconds: float = 0.0

    @property
    def processed_dir(self) -> Path:
        return Path(self.data_dir) / "processed" / self.as_of.isoformat()

    def manifest(self) -> dict:
        return json.loads((self.processed_dir / "manifest.json").read_text(encoding="utf-8"))

    def files(self) -> pd.DataFrame:
        return pd.read_parquet(self.processed_dir / "files.parquet")

    def reason_counts(self) -> pd.Series:
        q = pd.read_parquet(
            self.processed_dir / "quarantine.parquet", columns=["level", "reason_code"]
        )
        return q.loc[q["level"] == "row", "reason_code"].value_counts()

    def summary(self) -> str:
        m = self.manifest()
        files = self.files()
        lines = [f"入库 ingest {self.as_of.isoformat()} → {self.processed_dir}"]
        if self.built:
            lines.append(
                "  已处理 processed: "
                + ", ".join(d.isoformat() for d in self.built)
                + f"  ({self.seconds:.1f} s)"
            )
        if self.up_to_date:
            lines.append(
                "  无变化，未重算 up to date: " + ", ".join(d.isoformat() for d in self.up_to_date)
            )
        lines.append(
            f"  {'数据集 dataset':<26}{'文件 files':>11}{'读取 read':>11}{'接受 accepted':>15}"
            f"{'合并 merged':>13}{'隔离 quarantined':>18}"
        )
        for name in (*INPUT_DATASETS, *REFERENCE_DATASETS):
            c = m["datasets"][name.name]["counts"]
            label = f"{name.zh} {name.name}"
            lines.append(
                f"  {label:<26}{c['files']:>11,}{c['rows_read']:>11,}{c['accepted']:>15,}"
                f"{c['merged']:>13,}{c['quarantined']:>18,}"
            )
        snap = {n: m["datasets"][n].get("snapshot_date") for n in SNAPSHOT}
        lines.append(
            "  快照 snapshot: " + ", ".join(f"{n}={v or '无 none'}" for n, v in snap.items())
        )
        if m["datasets"]["universities"].get("fallback"):
            lines.append(
                "  院校名单 universities: 未提供 raw/reference/universities.*，使用项目自带名单 "
                "(shipped MoE 2018 list)"
            )
        reasons = self.reason_counts()
        if len(reasons):
            lines.append("  主要隔离原因 top quarantine reasons:")
            for code, n in reasons.head(8).items():
                lines.append(f"    {code:<28}{n:>8,}  {REASONS.get(code, code)}")
        unreadable = files[files["status"] == "unreadable"]
        if len(unreadable):
            lines.append("  无法读取的文件 unreadable files:")
            for _, r in unreadable.iterrows():
                detail = r["detail"] if r["reason_code"] in BOUND_REASONS else None
                lines.append(
                    f"    {r['source_file']} — {REASONS.get(r['reason_code'], r['reason_code'])}"
                    f" ({r['reason_code']}{': ' + detail if isinstance(detail, str) else ''})"
                )
        if m.get("ignored_files"):
            lines.append(
                f"  未识别的文件（文件名不以数据集前缀开头）unrecognised files: {len(m['ignored_files'])}: "
                + ", ".join(m["ignored_files"][:5])
                + (" …" if len(m["ignored_files"]) > 5 else "")
            )
        lines.append(
            f"  对账 reconciliation: 每个文件 读取 = 接受 + 合并 + 隔离 — "
            f"{'全部平衡 all balanced' if bool(files['balanced'].all()) else '有不平衡 NOT balanced'}"
        )
        return "\n".join(lines)


# --- the pipeline ----------------------------------------------------------------------------
def needs_ingest(as_of: dt.date | str, data_dir: str | Path) -> bool:
    """True when some processed folder that ``ingest(as_of)`` maintains is missing or stale."""
    as_of = parse_as_of(as_of)
    raw, processed = data_paths(data_dir)
    inputs = discover(raw, as_of)
    if not inputs.folders:
        return True
    fp = key_fingerprint(load_key())
    hashes: dict[str, str] = {}
    for target in plan_targets(inputs, as_of):
        tasks = target.tasks(inputs)
        for t in tasks:
            if t.path not in hashes:
                hashes[t.path] = sha256_file(t.path)
        if _existing_digest(processed / target.date.isoformat()) != inputs_digest(
            tasks, hashes, fp
        ):
            return True
    return False


def ingest(as_of: dt.date | str, data_dir: str | Path, workers: int | None = None) -> IngestResult:
    """Ingest every raw folder <= as_of into data_dir/processed/ (see the module docstring)."""
    started = time.perf_counter()
    as_of = parse_as_of(as_of)
    data_dir = Path(data_dir)
    raw, processed = data_paths(data_dir)
    if not raw.is_dir():
        raise MissingInputError(
            f"{raw} does not exist: put the raw exports in {raw}/<YYYY-MM-DD>/ "
            "(or run `placement generate --size demo --out DIR`)"
        )
    inputs = discover(raw, as_of)
    if not inputs.folders:
        raise MissingInputError(
            f"no raw snapshot folder (YYYY-MM-DD) on or before {as_of} in {raw}"
        )
    key = load_key()
    fp = key_fingerprint(key)
    auto = workers is None
    workers = max(1, workers or os.cpu_count() or 1)

    lock = _lock(processed)
    try:
        targets = plan_targets(inputs, as_of)
        sizes = {t.path: os.path.getsize(t.path) for tg in targets for t in tg.tasks(inputs)}
        raw_bytes = sum(size for p, size in sizes.items() if not p.startswith(str(PACKAGE_DIR)))
        if (
            workers > 1
            and (not auto or raw_bytes >= POOL_MIN_BYTES)
            and any(not (processed / t.date.isoformat()).is_dir() for t in targets)
        ):
            _prestart_forkserver()  # a folder is missing: a pool will be needed
        hashes: dict[str, str] = {}
        todo, fresh = [], []
        for target in targets:
            tasks = target.tasks(inputs)
            for t in tasks:
                if t.path not in hashes:
                    hashes[t.path] = sha256_file(t.path)
            digest = inputs_digest(tasks, hashes, fp)
            if _existing_digest(processed / target.date.isoformat()) == digest:
                fresh.append(target.date)
            else:
                todo.append((target, digest))
        result = IngestResult(as_of, data_dir, up_to_date=fresh)
        if not todo:
            result.seconds = time.perf_counter() - started
            return result

        needed: dict[str, FileTask] = {}
        for target, _ in todo:
            for t in target.tasks(inputs):
                if t.folder is not None:
                    needed[t.path] = t
        use_pool = workers > 1 and (not auto or sum(sizes[p] for p in needed) >= POOL_MIN_BYTES)
        _ingest_targets(
            todo, needed, inputs, key, processed, hashes, sizes, fp, workers, use_pool, result
        )
        result.seconds = time.perf_counter() - started
        return result
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _ingest_targets(
    todo,
    needed: dict[str, FileTask],
    inputs: Inputs,
    key: bytes,
    processed: Path,
    hashes,
    sizes,
    fp: str,
    workers: int,
    use_pool: bool,
    result: IngestResult,
) -> None:
    """Reference tables, then every batch (in the pool), writing each target once it is ready."""
    # reference tables first: universities give the lookup every other dataset needs
    ref_tasks = inputs.tasks["reference"]
    paths = {t.rel: t.path for ts in inputs.tasks.values() for t in ts}
    limits = read_limits.current()
    uni_res = process_batch(
        [t for t in ref_tasks if t.dataset == "universities"],
        Context(key, nz.UniversityLookup.empty(), limits, scan=True),
    )
    reference: dict[str, Merged] = {
        "universities": merge("universities", Pool.of("universities", [uni_res]), paths)
    }
    ctx = Context(
        key, nz.UniversityLookup.from_frame(reference["universities"].records.to_pandas()), limits
    )
    # the fork server (launched before hashing) has been importing the code meanwhile
    pool = _start_pool(workers) if use_pool else None
    try:
        _ingest_batches(
            todo, needed, inputs, ctx, reference, paths, processed, hashes, sizes, fp, pool, result
        )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _ingest_batches(
    todo, needed, inputs, ctx, reference, paths, processed, hashes, sizes, fp, pool, result
) -> None:
    """Submit every batch, process the other reference tables meanwhile, then merge, write and
    finish targets as the batches come in."""
    ref_tasks = inputs.tasks["reference"]
    needed, bulk_tasks = bulk.split_tasks(needed, sizes)  # national-size graduates exports
    batches = _batches(list(needed.values()), sizes)
    results = _run(batches, ctx, pool)  # the pool starts reading
    for name in ("majors", "adjustment_plans", "submissions"):  # meanwhile, the other references
        ts = [t for t in ref_tasks if t.dataset == name]
        here = replace(ctx, scan=True)  # read in this process
        reference[name] = merge(name, Pool.of(name, [process_batch(ts, here)] if ts else []), paths)

    # each dataset of a target is merged and written as soon as its batches are in, the target
    # finished (extras, manifest, swap) once all are: the parent works while the pool reads on
    pending_batches = {(b[0].dataset, b[0].folder): 0 for b in batches}
    for b in batches:
        pending_batches[(b[0].dataset, b[0].folder)] += 1
    done: dict[tuple[str, str], list[tuple[int, BatchResult]]] = {}
    builds: list[_TargetBuild] = []
    with ThreadPoolExecutor(max_workers=2) as writers:  # Parquet encoding releases the GIL
        try:
            bulk_cpu = bulk.run(bulk_tasks, ctx, pool, processed, done, len(batches), result)
            builds = [
                _TargetBuild(target, digest, processed, reference, writers)
                for target, digest in todo
            ]
            worker_cpu: dict[int, float] = dict(bulk_cpu)
            for index, res in progress(results, total=len(batches), desc="入库 batches", unit="批"):
                result.worker_peak_rss_mb = max(result.worker_peak_rss_mb, res.peak_rss_mb)
                if res.pid != os.getpid():
                    worker_cpu[res.pid] = max(worker_cpu.get(res.pid, 0.0), res.cpu_seconds)
                    result.worker_cpu_seconds = sum(worker_cpu.values())
                key_ = (res.dataset, batches[index][0].folder)
                done.setdefault(key_, []).append((index, res))
                pending_batches[key_] -= 1
                _advance(builds, done, pending_batches, paths, inputs, hashes, sizes, fp, result)
            _advance(builds, done, pending_batches, paths, inputs, hashes, sizes, fp, result)
            if builds:
                raise RuntimeError(f"targets left unbuilt: {[b.target.date for b in builds]}")
        except BaseException:
            writers.shutdown(wait=True, cancel_futures=True)
            for b in builds:
                shutil.rmtree(b.tmp, ignore_errors=True)
            raise
    bulk.cleanup(processed)


def _advance(builds: list, done, pending, paths, inputs, hashes, sizes, fp, result) -> None:
    """Merge every dataset whose batches are all in, for every target; finish targets whose
    datasets are all merged, oldest first; free batches no unfinished target needs."""
    for b in builds:
        b.merge_ready(done, pending, paths)
    while builds and builds[0].complete:
        b = builds.pop(0)
        b.finish(inputs, hashes, sizes, fp)
        result.built.append(b.target.date)
        _forget(done, builds)


def _results_for(done, dataset: str, folders: list[str]) -> list[BatchResult]:
    keep = set(folders)
    picked = [ir for (d, f), irs in done.items() if d == dataset and f in keep for ir in irs]
    return [r for _, r in sorted(picked, key=lambda ir: ir[0])]  # batch order: deterministic


class _Rows:
    """Stands in for a dataset's records once they are on their way to disk: only the count is
    kept (the manifest's ``rows``)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


class _TargetBuild:
    """One processed folder in the making, in a fresh sibling folder that is swapped in at the
    end (readers never see half a folder). Each dataset is merged and its Parquet written (in a
    writer thread) as soon as every batch it draws on is in."""

    def __init__(self, target: Target, digest: str, processed: Path, reference, writers):
        self.target = target
        self.digest = digest
        self.folder = processed / target.date.isoformat()
        self.tmp = self.folder.with_name(f".{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.writers = writers
        self.writes: list = []
        self.merged: dict[str, Merged] = {}
        for name, m in reference.items():
            self._keep(name, m)

    def folders(self, name: str) -> list[str]:
        if name in SNAPSHOT:
            folder = self.target.snapshot_folders[name]
            return [folder] if folder else []
        return list(self.target.activity_folders)

    @property
    def complete(self) -> bool:
        return all(name in self.merged for name in (*SNAPSHOT, *ACTIVITY))

    def merge_ready(self, done, pending: dict[tuple[str, str], int], paths) -> None:
        for name in (*SNAPSHOT, *ACTIVITY):
            if name in self.merged:
                continue
            folders = self.folders(name)
            if any(pending.get((name, f), 0) for f in folders):
                continue
            results = _results_for(done, name, folders)
            if name in SNAPSHOT and bulk.has_bulk(results):
                self._keep(name, bulk.merge(name, results, paths))
            else:
                self._keep(name, merge(name, Pool.of(name, results), paths))

    def _keep(self, name: str, m: Merged) -> None:
        records = m.records
        self.writes.append(self.writers.submit(records.to_parquet, self.tmp / f"{name}.parquet"))
        self.merged[name] = Merged(
            _Rows(len(records)), m.quarantine, m.repairs, m.files, m.fingerprints, m.counts
        )

    def finish(self, inputs: Inputs, hashes, sizes, fp: str) -> None:
        extra, manifest = _target_extras(
            self.target, self.digest, self.merged, inputs, hashes, sizes, fp
        )
        for name, df in extra.items():
            table = pa.Table.from_pandas(df, preserve_index=False)
            self.writes.append(
                self.writers.submit(write_parquet, table, self.tmp / f"{name}.parquet", name)
            )
        (self.tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        for w in self.writes:
            w.result()
        old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}")
        if self.folder.exists():
            self.folder.rename(old)
        self.tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)


def _forget(done, builds: list) -> None:
    """Free snapshot batches no unfinished target still has to merge (graduates dominate
    memory)."""
    needed = {
        (name, b.target.snapshot_folders[name])
        for b in builds
        for name in SNAPSHOT
        if name not in b.merged
    }
    for key in [k for k in done if k[0] in SNAPSHOT and k not in needed]:
        del done[key]


def _target_extras(
    target: Target,
    digest: str,
    merged: dict[str, Merged],
    inputs: Inputs,
    hashes: dict[str, str],
    sizes: dict[str, int],
    fp: str,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """The quarantine, repairs, per-file counts and fingerprints of a processed folder, and its
    manifest."""
    ordered = {name: merged[name] for name in PROCESSED_COLUMNS}
    files = pd.concat([m.files for m in ordered.values() if len(m.files)], ignore_index=True)
    quarantine = _concat([m.quarantine for m in ordered.values()], QUARANTINE_COLUMNS)
    quarantine = quarantine.sort_values(
        ["dataset", "source_file", "sheet", "row"], kind="stable", ignore_index=True
    )
    repairs = _concat([m.repairs for m in ordered.values()], REPAIR_COLUMNS)
    words = _unique_words(pd.concat([m.fingerprints for m in ordered.values()], ignore_index=True))
    fingerprints = pd.DataFrame(
        {
            "kind": _as_string(words["kind"]),
            "digest": words_hex(words[["d0", "d1", "d2", "d3"]].to_numpy(dtype=np.uint64)),
        }
    )
    by_path = {t.rel: t for t in target.tasks(inputs)}
    file_info = []
    first = files.drop_duplicates("source_file")
    info_of = dict(
        zip(
            first["source_file"].to_numpy(dtype=object),
            zip(
                *(first[c].to_numpy(dtype=object) for c in ("encoding", "engine", "status")),
                strict=True,
            ),
            strict=True,
        )
    )
    for rel, t in sorted(by_path.items()):
        encoding, engine, status = info_of.get(rel, (None, None, None))
        file_info.append(
            {
                "path": rel,
                "dataset": t.dataset,
                "snapshot_date": t.folder,
                "sha256": hashes.get(t.path) or sha256_file(t.path),
                "bytes": sizes.get(t.path) or os.path.getsize(t.path),
                "encoding": None if pd.isna(encoding) else encoding,
                "engine": None if pd.isna(engine) else engine,
                "status": status,
            }
        )
    datasets = {}
    for name, m in ordered.items():
        entry: dict = {"rows": len(m.records), "counts": m.counts}
        if name in SNAPSHOT:
            entry["snapshot_date"] = target.snapshot_folders[name]
        elif name in ACTIVITY:
            used = sorted({f for f in m.files["snapshot_date"].dropna()}) if len(m.files) else []
            entry["snapshot_date"] = used[-1] if used else None
            entry["folders"] = used
        if name == "universities":
            entry["fallback"] = inputs.shipped_universities
            entry["source"] = (
                "shipped: " + _rel(SHIPPED_UNIVERSITIES, Path("/"))
                if inputs.shipped_universities
                else "raw/reference"
            )
        datasets[name] = entry
    manifest = {
        "as_of": target.date.isoformat(),
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "ingest_version": INGEST_VERSION,
        "code_hash": code_hash(),
        "inputs_digest": digest,
        "pseudonym_key_fingerprint": fp,
        "read_limits": read_limits.current().describe(),
        "datasets": datasets,
        "files": file_info,
        "ignored_files": inputs.ignored,
        "quarantine": {
            "rows": int((quarantine["level"] == "row").sum()),
            "files": int((quarantine["level"] == "file").sum()),
            "reasons": dict(
                Counter(quarantine.loc[quarantine["level"] == "row", "reason_code"].astype(str))
            ),
        },
        "repairs": dict(Counter(repairs["repair_code"].astype(str))),
        "versions": _versions(),
        "platform": f"{platform.system()} {platform.machine()} (python {sys.version.split()[0]})",
    }
    files = files.astype({c: t for c, t in FILE_COLUMNS.items()})
    extra = {
        "quarantine": quarantine,
        "repairs": repairs,
        "files": files,
        "pii_fingerprints": fingerprints,
    }
    return extra, manifest
