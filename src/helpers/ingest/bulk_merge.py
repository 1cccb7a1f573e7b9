"""Bulk reader, merging (in the parent): the rows of the bulk files (and of regular batches of
the same dataset and folder) stay in spill Parquet parts; the one merge's rules
(:mod:`helpers.ingest.merge`) run on their key hashes and the few candidate rows read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.datasets import PROCESSED_COLUMNS
from helpers.ingest.bulk_plan import ENGINES, BulkFile
from helpers.ingest.bulk_read import raw_rows
from helpers.ingest.frame import FINGERPRINT_COLUMNS, empty_fingerprints
from helpers.ingest.merge import (
    Merged,
    concat_frames,
    conflict_rows,
    count_rows,
    mark_duplicates,
    merge_counts,
    parquet_options,
    unique_words,
)
from helpers.ingest.quarantine import QUARANTINE_COLUMNS, REPAIR_COLUMNS, empty_frame
from helpers.ingest.tasks import (
    FILE_COLUMNS,
    NATURAL_KEYS,
    BatchResult,
    file_failure,
    files_frame,
    quarantine_frame,
)
from helpers.ingest.typers import processed_frame


@dataclass
class _Part:
    path: str
    file: str
    folder: str | None
    n: int


class SpilledRecords:
    """The accepted rows of a dataset, still in spill parts: written by streaming them.

    Stands in for the records frame of :class:`helpers.ingest.pipeline.Merged` (``len()`` and
    ``to_parquet()``, which is all the writer uses)."""

    def __init__(self, dataset: str, parts: list[_Part], drop: np.ndarray):
        self.dataset = dataset
        self.parts = parts
        self.drop = drop  # over all rows of all parts, in order
        self.columns = list(PROCESSED_COLUMNS[dataset])

    def __len__(self) -> int:
        return int(len(self.drop) - self.drop.sum())

    def _schema(self) -> pa.Schema:
        spec = PROCESSED_COLUMNS[self.dataset]
        empty = processed_frame(
            self.dataset,
            pd.DataFrame(
                {c: pd.Series(dtype=t if t != "category" else object) for c, t in spec.items()}
            ),
            pd.DataFrame({"_file": [], "_row": [], "_folder": []}),
        )
        return pa.Schema.from_pandas(empty, preserve_index=False)

    def tables(self) -> Iterator[pa.Table]:
        schema = self._schema()
        at = 0
        for part in self.parts:
            keep = ~self.drop[at : at + part.n]
            at += part.n
            if not keep.any():
                continue
            t = pq.read_table(part.path, columns=self.columns)
            if not keep.all():
                t = t.filter(pa.array(keep))
            yield pa.Table.from_arrays(
                [t.column(c).cast(schema.field(c).type) for c in self.columns], schema=schema
            )

    def to_parquet(self, path, index: bool = False) -> None:
        schema = self._schema()
        options = parquet_options(schema, self.dataset)
        with pq.ParquetWriter(str(path), schema, **options) as writer:
            for t in self.tables():
                writer.write_table(t)


class _Rows:
    """Key hash, row number and source labels of every spilled row, part by part."""

    def __init__(self):
        self.parts: list[_Part] = []
        self.khash: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.labels: list[tuple] = []  # per part: (file, sheet, folder), scalars or arrays

    def add(self, part: _Part, khash, rows, file, sheet, folder) -> None:
        self.parts.append(part)
        self.khash.append(np.asarray(khash, dtype=np.uint64))
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.labels.append((file, sheet, folder))

    def column(self, i: int) -> pd.Categorical:
        """Source label i (0 file, 1 sheet, 2 folder) of every row, as a categorical."""
        values = [lab[i] for lab in self.labels]
        cats = sorted(
            {v for lab in values for v in (lab if isinstance(lab, np.ndarray) else [lab])}
        )
        lookup = {c: k for k, c in enumerate(cats)}
        codes = [
            pd.Series(lab).map(lookup).to_numpy(dtype=np.int32)
            if isinstance(lab, np.ndarray)
            else np.full(p.n, lookup[lab], dtype=np.int32)
            for lab, p in zip(values, self.parts, strict=True)
        ]
        codes_all = np.concatenate(codes) if codes else np.empty(0, dtype=np.int32)
        return pd.Categorical.from_codes(codes_all, categories=pd.Index(cats, dtype=object))


def _spill_regular(res: BatchResult, path: Path, acc: _Rows) -> None:
    """Records of a regular batch of the same dataset and folder, spilled like a chunk."""
    rec = res.records  # the merge columns; the processed columns are in res.table
    if len(rec) == 0:
        return
    psig = pa.array(rec["_psig"].to_numpy(dtype=np.uint64), type=pa.uint64())
    pq.write_table(res.table.append_column("_psig", psig), str(path))
    acc.add(
        _Part(str(path), "", None, len(rec)),
        rec["_khash"].to_numpy(dtype=np.uint64),
        rec["_row"].to_numpy(dtype=np.int64),
        rec["_file"].astype(str).to_numpy(dtype=object),
        rec["_sheet"].astype(str).to_numpy(dtype=object),
        rec["_folder"].astype(str).to_numpy(dtype=object),
    )


@dataclass
class _Collected:
    """Everything but the rows, gathered over the results of one dataset."""

    quarantine: list = field(default_factory=list)
    repairs: list = field(default_factory=list)
    fingerprints: list = field(default_factory=list)
    file_rows: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    dup_raw: dict = field(default_factory=dict)

    def add(self, quarantine, repairs, fingerprints, dup_raw) -> None:
        self.quarantine.append(quarantine)
        self.repairs.append(repairs)
        if len(fingerprints):
            self.fingerprints.append(fingerprints[FINGERPRINT_COLUMNS])
        self.dup_raw.update(dup_raw)


def _collect(dataset: str, results: list, acc: _Rows) -> _Collected:
    """Regular batches spilled like chunks; a bulk file's counts, chunks and failure."""
    got = _Collected()
    spill_dir = _any_spill_dir(results)
    for number, res in enumerate(results):
        if not isinstance(res, BulkFile):
            got.add(res.quarantine, res.repairs, res.fingerprints, res.dup_raw)
            got.file_rows.extend(res.files.to_dict("records"))
            _spill_regular(res, spill_dir / f"regular-{number:05d}.parquet", acc)
            continue
        t = res.task
        if res.failure is not None:
            fl = res.failure
            base = {"source_file": t.rel, "dataset": dataset, "snapshot_date": t.folder}
            file_failure(
                base,
                fl.code,
                fl.detail,
                got.file_rows,
                got.failed,
                encoding=fl.encoding,
                engine=fl.engine,
            )
            continue
        got.file_rows.append(_file_row(dataset, res))
        for c in res.chunks:
            got.add(c.quarantine, c.repairs, c.fingerprints, c.dup_raw)
            if c.spill is not None:
                part = _Part(c.spill, t.rel, t.folder, len(c.khash))
                acc.add(part, c.khash, c.rows, t.rel, "", t.folder)
    return got


def _file_row(dataset: str, res: BulkFile) -> dict:
    t, plan = res.task, res.plan
    return {
        "source_file": t.rel,
        "sheet": "",
        "dataset": dataset,
        "snapshot_date": t.folder,
        "encoding": plan.encoding,
        "engine": ENGINES[plan.kind],
        "status": "ok",
        "header_row": plan.header_row,
        "rows_read": sum(c.rows_read for c in res.chunks),
        "blank_rows": sum(c.blank_rows for c in res.chunks),
        "footer_rows": sum(c.footer_rows for c in res.chunks),
        "columns": ",".join(plan.header.columns),
    }


def merge(dataset: str, results: list, paths: dict[str, str]) -> Merged:
    """helpers.ingest.merge.merge for results that include bulk files: the same duplicate rules
    and counts, with the records left in the spill."""
    acc = _Rows()
    got = _collect(dataset, results, acc)
    quarantine = concat_frames([*got.quarantine, quarantine_frame(got.failed)], QUARANTINE_COLUMNS)
    repairs = concat_frames(got.repairs, REPAIR_COLUMNS)
    files = files_frame(got.file_rows) if got.file_rows else empty_frame(FILE_COLUMNS)
    fps = got.fingerprints
    fingerprints = pd.concat(fps, ignore_index=True) if fps else empty_fingerprints()
    fingerprints["kind"] = fingerprints["kind"].astype("category")
    fingerprints = unique_words(fingerprints)

    kh = np.concatenate(acc.khash) if acc.khash else np.empty(0, dtype=np.uint64)
    n = len(kh)
    file_cat, sheet_cat = acc.column(0), acc.column(1)
    merged_mask = np.zeros(n, dtype=bool)
    conflict_mask = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(pd.Series(kh).duplicated(keep=False).to_numpy()) if n else []
    if len(cand):
        # candidates by the key's 64-bit hash, read back from the spill with every column
        grp = _read_rows(acc.parts, cand)
        grp.index = cand
        grp["_file"] = np.asarray(file_cat[cand], dtype=object)
        grp["_sheet"] = np.asarray(sheet_cat[cand], dtype=object)
        grp["_folder"] = np.asarray(acc.column(2)[cand], dtype=object)
        grp["_row"] = np.concatenate(acc.rows)[cand]
        keys = list(NATURAL_KEYS[dataset])
        mark_duplicates(grp, keys, lambda g: g, merged_mask, conflict_mask)
        if conflict_mask.any():
            conf = grp.loc[conflict_mask[grp.index]]
            _fill_raw(got.dup_raw, conf, results)
            conflicts = conflict_rows(dataset, conf, got.dup_raw, paths)
            quarantine = pd.concat([quarantine, conflicts], ignore_index=True)
    light = pd.DataFrame({"_file": file_cat, "_sheet": sheet_cat})
    files = count_rows(files, light, merged_mask, conflict_mask, quarantine, dataset)
    records = SpilledRecords(dataset, acc.parts, merged_mask | conflict_mask)
    counts = merge_counts(files, len(records), merged_mask, conflict_mask)
    return Merged(records, quarantine, repairs, files, fingerprints, counts)


def _any_spill_dir(results: list) -> Path:
    for r in results:
        if isinstance(r, BulkFile) and r.spill_dir is not None:
            return Path(r.spill_dir)
    raise RuntimeError("bulk merge without a bulk file")


def _read_rows(parts: list[_Part], positions: np.ndarray) -> pd.DataFrame:
    """Rows at global ``positions`` (sorted) of the spill parts, with every spilled column."""
    bounds = np.cumsum([0] + [p.n for p in parts])
    frames = []
    for i, part in enumerate(parts):
        sel = positions[(positions >= bounds[i]) & (positions < bounds[i + 1])] - bounds[i]
        if len(sel):
            t = pq.read_table(part.path).take(pa.array(sel))
            frames.append(t.to_pandas())
    return pd.concat(frames, ignore_index=True)


def _fill_raw(dup_raw: dict, rows: pd.DataFrame, results: list) -> None:
    """Raw JSON of conflicting rows that no chunk kept (duplicates across chunks): re-read."""
    missing = [
        (f, int(r))
        for f, s, r in zip(rows["_file"], rows["_sheet"], rows["_row"], strict=True)
        if (f, s, int(r)) not in dup_raw
    ]
    if not missing:
        return
    by_file: dict[str, set[int]] = {}
    for f, r in missing:
        by_file.setdefault(f, set()).add(r)
    for res in results:
        if not isinstance(res, BulkFile) or res.task.rel not in by_file:
            continue
        wanted = by_file[res.task.rel]
        for row, js in raw_rows(res.plan, wanted).items():
            dup_raw[(res.task.rel, "", row)] = js
