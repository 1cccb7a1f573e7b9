"""Building processed folders: each dataset of a target merged (helpers.ingest.merge, or the bulk
merge when a bulk file feeds it) and its Parquet written as soon as every batch it draws on is in;
then the quarantine, repairs, per-file counts, personal-value fingerprints and the manifest, and
the folder swapped in whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.datasets import PROCESSED_COLUMNS
from helpers.ingest import bulk
from helpers.ingest import limits as read_limits
from helpers.ingest.cache import FileCache
from helpers.ingest.frame import FINGERPRINT_COLUMNS
from helpers.ingest.merge import Merged, Pool, concat_frames, merge, write_parquet
from helpers.ingest.pseudonym import words_hex
from helpers.ingest.quarantine import QUARANTINE_COLUMNS, REPAIR_COLUMNS
from helpers.ingest.sources import (
    ACTIVITY,
    INGEST_VERSION,
    MANIFEST_NAME,
    SNAPSHOT,
    Inputs,
    Target,
    code_hash,
    package_versions,
    sha256_file,
    shipped_source,
)
from helpers.ingest.tasks import FILE_COLUMNS, BatchResult, Context
from helpers.ingest.typers import as_string

PACKAGES = ("pandas", "numpy", "pyarrow", "pandera", "python-calamine", "helpers")


@dataclass
class IngestRun:
    """What the steps of one ingest run share (instead of a dozen positional parameters)."""

    inputs: Inputs
    processed: Path  # data/processed
    hashes: dict[str, str]  # path -> sha256
    sizes: dict[str, int]  # path -> bytes
    fingerprint: str  # of the pseudonym key
    result: object  # the IngestResult being filled in
    cache: FileCache  # per-file results of earlier runs
    paths: dict[str, str] = field(default_factory=dict)  # rel -> path, for re-reading raw rows
    ctx: Context | None = None  # once the universities are known
    reference: dict[str, Merged] = field(default_factory=dict)

    def __post_init__(self):
        self.paths = {t.rel: t.path for ts in self.inputs.tasks.values() for t in ts}


def results_for(done, dataset: str, folders: list[str]) -> list[BatchResult]:
    keep = set(folders)
    picked = [ir for (d, f), irs in done.items() if d == dataset and f in keep for ir in irs]
    return [r for _, r in sorted(picked, key=lambda ir: ir[0])]  # batch order: deterministic


class _RowCount:
    """Stands in for a dataset's records once they are on their way to disk: only the count is
    kept (the manifest's ``rows``)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


class TargetBuild:
    """One processed folder in the making, in a fresh sibling folder that is swapped in at the
    end (readers never see half a folder). Each dataset is merged and its Parquet written (in a
    writer thread) as soon as every batch it draws on is in."""

    def __init__(self, target: Target, digest: str, run: IngestRun, writers):
        self.target = target
        self.digest = digest
        self.folder = run.processed / target.date.isoformat()
        self.tmp = self.folder.with_name(f".{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.writers = writers
        self.writes: list = []
        self.merged: dict[str, Merged] = {}
        self.earlier_raw = earlier_conflict_raw(self.folder, run)
        for name, m in run.reference.items():
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
            results = results_for(done, name, folders)
            if name in SNAPSHOT and bulk.has_bulk(results):
                self._keep(name, bulk.merge(name, results, paths))
            else:
                pool = Pool.of(name, results)
                pool.dup_raw = {**self.earlier_raw.get(name, {}), **pool.dup_raw}
                self._keep(name, merge(name, pool, paths))

    def _keep(self, name: str, m: Merged) -> None:
        records = m.records
        self.writes.append(self.writers.submit(records.to_parquet, self.tmp / f"{name}.parquet"))
        self.merged[name] = Merged(
            _RowCount(len(records)), m.quarantine, m.repairs, m.files, m.fingerprints, m.counts
        )

    def finish(self, run: IngestRun) -> None:
        extra, manifest = target_extras(self.target, self.digest, self.merged, run)
        for name, df in extra.items():
            table = pa.Table.from_pandas(df, preserve_index=False)
            self.writes.append(
                self.writers.submit(write_parquet, table, self.tmp / f"{name}.parquet", name)
            )
        (self.tmp / MANIFEST_NAME).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        for w in self.writes:
            w.result()
        old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}")
        if self.folder.exists():
            self.folder.rename(old)
        self.tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)


def earlier_conflict_raw(folder: Path, run: IngestRun) -> dict[str, dict]:
    """dataset -> {(file, sheet, row): raw JSON} of the conflicting duplicates the folder's
    current quarantine holds, for files unchanged since (same hash): the merge needs the raw row
    of a conflict, which the cache does not keep (helpers.ingest.cache), and would otherwise read
    those files again. Nothing when the folder or its manifest is missing or unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        q = pd.read_parquet(
            folder / "quarantine.parquet",
            columns=["dataset", "source_file", "sheet", "row", "reason_code", "raw"],
        )
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return {}
    unchanged = {
        f.get("path")
        for f in manifest.get("files", [])
        if isinstance(f, dict)
        and run.hashes.get(run.paths.get(f.get("path"), "")) == f.get("sha256")
    }
    q = q[(q["reason_code"] == "duplicate_conflict") & q["source_file"].isin(unchanged)]
    q = q.dropna(subset=["sheet", "row", "raw"])
    out: dict[str, dict] = {}
    for d, f, s, r, raw in zip(
        q["dataset"], q["source_file"], q["sheet"], q["row"], q["raw"], strict=True
    ):
        out.setdefault(str(d), {})[(str(f), str(s), int(r))] = str(raw)
    return out


def forget(done, builds: list[TargetBuild]) -> None:
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


# --- the folder's extras and manifest --------------------------------------------------------
def target_extras(
    target: Target, digest: str, merged: dict[str, Merged], run: IngestRun
) -> tuple[dict[str, pd.DataFrame], dict]:
    """The quarantine, repairs, per-file counts and fingerprints of a processed folder, and its
    manifest."""
    ordered = {name: merged[name] for name in PROCESSED_COLUMNS}
    files = pd.concat([m.files for m in ordered.values() if len(m.files)], ignore_index=True)
    quarantine = concat_frames([m.quarantine for m in ordered.values()], QUARANTINE_COLUMNS)
    quarantine = quarantine.sort_values(
        ["dataset", "source_file", "sheet", "row"], kind="stable", ignore_index=True
    )
    # per file, as the quarantine: a file's rows then do not depend on its batch (the cache)
    repairs = concat_frames([m.repairs for m in ordered.values()], REPAIR_COLUMNS)
    repairs = repairs.sort_values(
        ["dataset", "source_file", "sheet", "row"], kind="stable", ignore_index=True
    )
    manifest = {
        "as_of": target.date.isoformat(),
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "ingest_version": INGEST_VERSION,
        "code_hash": code_hash(),
        "inputs_digest": digest,
        "pseudonym_key_fingerprint": run.fingerprint,
        "read_limits": read_limits.current().describe(),
        "datasets": _dataset_entries(target, ordered, run.inputs),
        "files": _file_info(target, files, run),
        "ignored_files": run.inputs.ignored,
        "quarantine": {
            "rows": int((quarantine["level"] == "row").sum()),
            "files": int((quarantine["level"] == "file").sum()),
            "reasons": dict(
                Counter(quarantine.loc[quarantine["level"] == "row", "reason_code"].astype(str))
            ),
        },
        "repairs": dict(Counter(repairs["repair_code"].astype(str))),
        "versions": package_versions(PACKAGES, "unknown"),
        "platform": f"{platform.system()} {platform.machine()} (python {sys.version.split()[0]})",
    }
    extra = {
        "quarantine": quarantine,
        "repairs": repairs,
        "files": files.astype({c: t for c, t in FILE_COLUMNS.items()}),
        "pii_fingerprints": _fingerprints_table(ordered),
    }
    return extra, manifest


def _fingerprints_table(ordered: dict[str, Merged]) -> pd.DataFrame:
    """Distinct (kind, digest) over every dataset of the folder, digests in hex, sorted by kind
    then digest text: the same table whichever files were read and which came from the cache."""
    words = pd.concat(
        [m.fingerprints[FINGERPRINT_COLUMNS] for m in ordered.values()], ignore_index=True
    )
    d = words[["d0", "d1", "d2", "d3"]].to_numpy(dtype=np.uint64)
    return fingerprint_frame(words["kind"], d)


def fingerprint_frame(kind: pd.Series, d: np.ndarray) -> pd.DataFrame:
    """Distinct (kind, hex digest) rows of ``kind`` and the (n, 4) digest words, sorted by kind
    then digest text (the order a string sort gives, without sorting a million strings): the hex
    text spells each word's bytes in memory order, so the byte-swapped words sort as the text
    does. Sorting brings duplicates together, so they are dropped on the way."""
    rank, _ = pd.factorize(kind, sort=True)
    rank = np.where(rank < 0, rank.max(initial=0) + 1, rank)  # a missing kind last, as sort_values
    first = d[:, 0].byteswap() if np.little_endian else d[:, 0]
    groups = [np.flatnonzero(rank == r) for r in np.unique(rank)]  # by kind, then first word
    order = np.concatenate([g[np.argsort(first[g])] for g in groups] or [np.empty(0, np.int64)])
    same = _same_as_previous(rank[order], d[order])  # equality: byte order does not matter
    if (same[:, 0] & ~same.all(axis=1)).any():  # a first word shared by two digests: all four
        b = d.byteswap() if np.little_endian else d
        order = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], rank))
        same = _same_as_previous(rank[order], d[order])
    order = order[~same.all(axis=1)]
    return pd.DataFrame(
        {
            "kind": as_string(kind.iloc[order].reset_index(drop=True)),
            "digest": words_hex(d[order]),
        }
    )


def _same_as_previous(rank: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 4): whether each sorted row's kind and word k equal the row before's (row 0: never)."""
    same = np.zeros(b.shape, dtype=bool)
    same[1:] = (b[1:] == b[:-1]) & (rank[1:] == rank[:-1])[:, None]
    return same


def _file_info(target: Target, files: pd.DataFrame, run: IngestRun) -> list[dict]:
    """The manifest's ``files``: every input of the target with its hash, size and reading."""
    by_path = {t.rel: t for t in target.tasks(run.inputs)}
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
    out = []
    for rel, t in sorted(by_path.items()):
        encoding, engine, status = info_of.get(rel, (None, None, None))
        out.append(
            {
                "path": rel,
                "dataset": t.dataset,
                "snapshot_date": t.folder,
                "sha256": run.hashes.get(t.path) or sha256_file(t.path),
                "bytes": run.sizes.get(t.path) or os.path.getsize(t.path),
                "encoding": None if pd.isna(encoding) else encoding,
                "engine": None if pd.isna(engine) else engine,
                "status": status,
            }
        )
    return out


def _dataset_entries(target: Target, ordered: dict[str, Merged], inputs: Inputs) -> dict:
    """The manifest's ``datasets``: rows, counts and the snapshot folder(s) of each."""
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
            entry["source"] = shipped_source(inputs.shipped_universities)
        datasets[name] = entry
    return datasets
