"""One merge for both readers: the rows of one dataset of one processed folder, from every batch
(regular reader) or chunk (bulk reader) that feeds it -> identical duplicates merged, conflicting
duplicates quarantined with their raw rows, the user's majors over the shipped ones, and per file
and sheet the row equation ``rows read = accepted + merged + quarantined`` checked.

Duplicates are found by the natural key's 64-bit hash, then compared exactly on the few
candidates (:func:`mark_duplicates`); the bulk reader supplies its candidates from its spill
(:mod:`helpers.ingest.bulk_merge`), the regular one from the batches' Arrow tables (:func:`merge`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals

from helpers.datasets import BY_NAME, PROCESSED_COLUMNS
from helpers.ingest.frame import FINGERPRINT_COLUMNS, empty_fingerprints, signature
from helpers.ingest.quarantine import (
    QUARANTINE_COLUMNS,
    REASONS,
    REPAIR_COLUMNS,
    REPAIRS,
    empty_frame,
    raw_json,
)
from helpers.ingest.readers import find_header, read_file
from helpers.ingest.tasks import FILE_COLUMNS, NATURAL_KEYS, BatchResult
from helpers.ingest.typers import light_records, with_merge_columns


@dataclass
class Merged:
    records: TableRecords  # or bulk.SpilledRecords / _Rows: len() and to_parquet()
    quarantine: pd.DataFrame
    repairs: pd.DataFrame
    files: pd.DataFrame
    fingerprints: pd.DataFrame
    counts: dict


def concat_frames(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame(columns)
    return pd.concat(frames, ignore_index=True)


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


def unique_words(fp: pd.DataFrame) -> pd.DataFrame:
    """Distinct (kind, digest) rows: candidates by the first digest word (a uint64 hash table),
    exact comparison of all words on the few candidates."""
    fp = fp[FINGERPRINT_COLUMNS].reset_index(drop=True)
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


LABEL_COLUMNS = ("_file", "_sheet", "_folder")


def stack_records(recs: list[pd.DataFrame]) -> pd.DataFrame:
    """Batch records stacked; their categorical source columns (each batch has its own
    categories) combined as categoricals, without a round trip through Python strings. The
    categories come out as ``astype("category")`` makes them: batches of one set of categories
    keep it, others get the sorted values present."""
    out = pd.concat([r.drop(columns=list(LABEL_COLUMNS)) for r in recs], ignore_index=True)
    for c in LABEL_COLUMNS:
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


def _empty_records(dataset: str) -> pd.DataFrame:
    spec = PROCESSED_COLUMNS[dataset]
    return with_merge_columns(pd.DataFrame({c: pd.Series(dtype=t) for c, t in spec.items()}))


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
        fps = [r.fingerprints[FINGERPRINT_COLUMNS] for r in results if len(r.fingerprints)]
        dup_raw: dict = {}
        for r in results:
            dup_raw.update(r.dup_raw)
        # categorical source columns: selecting folders and counting per file stay cheap
        if kept:
            records = stack_records([r.records for r in kept])
            table = pa.concat_tables([r.table for r in kept])
        else:
            empty = _empty_records(dataset)
            table = pa.Table.from_pandas(
                empty[list(PROCESSED_COLUMNS[dataset])], preserve_index=False
            )
            records = light_records(dataset, empty)
            for c in LABEL_COLUMNS:
                records[c] = records[c].astype("category")
        fingerprints = (
            pd.concat(fps, ignore_index=True) if fps else empty_fingerprints()[FINGERPRINT_COLUMNS]
        )
        return cls(
            records,
            concat_frames([r.quarantine for r in results], QUARANTINE_COLUMNS),
            concat_frames([r.repairs for r in results], REPAIR_COLUMNS),
            concat_frames([r.files for r in results], FILE_COLUMNS),
            fingerprints,
            dup_raw,
            table,
        )


def mark_duplicates(
    grp: pd.DataFrame,
    keys: list[str],
    content: Callable[[pd.DataFrame], pd.DataFrame],
    merged: np.ndarray,
    conflict: np.ndarray,
) -> None:
    """The duplicate rules, for both readers. ``grp``: candidate rows (same 64-bit key hash),
    indexed by their position among the dataset's rows, with the natural key and the source
    columns; ``content(rows)``: their processed columns and ``_psig``. Rows of one natural key
    with one content signature are identical duplicates: the first (oldest folder, then file,
    sheet, row) is kept and the others marked ``merged``; keys with differing content mark every
    row ``conflict`` (quarantined as duplicate_conflict)."""
    grp = grp.sort_values(["_folder", "_file", "_sheet", "_row"], kind="stable")
    grp = grp.loc[grp.duplicated(keys, keep=False).to_numpy()]
    grp = grp.assign(_sig=signature(content(grp)).to_numpy())
    nsig = grp.groupby(keys, observed=True, dropna=False)["_sig"].transform("nunique").to_numpy()
    conflict[grp.index[nsig > 1]] = True
    same = grp.loc[nsig == 1]
    merged[same.index[same.duplicated(keys, keep="first").to_numpy()]] = True


def merge_counts(files: pd.DataFrame, accepted: int, merged: np.ndarray, conflict: np.ndarray):
    """The manifest's counts of one dataset."""
    return {
        "files": int(files["source_file"].nunique()),
        "unreadable_files": int((files["status"] == "unreadable").sum()),
        "rows_read": int(files["rows_read"].sum()),
        "accepted": accepted,
        "merged": int(merged.sum()),
        "quarantined": int(files["quarantined"].sum()),
        "quarantined_duplicates": int(conflict.sum()),
    }


def merge(dataset: str, pool: Pool, paths: dict[str, str]) -> Merged:
    """One dataset of one target from the regular reader's batches: merge identical duplicates,
    quarantine conflicting ones; count rows per file and sheet (rows read = accepted + merged +
    quarantined)."""
    spec = PROCESSED_COLUMNS[dataset]
    records = pool.records  # in the order of pool.table's rows
    if not isinstance(records.index, pd.RangeIndex) or records.index.start != 0:
        records = records.reset_index(drop=True)
    quarantine, repairs, files = pool.quarantine, pool.repairs, pool.files
    n = len(records)
    merged_mask = np.zeros(n, dtype=bool)
    conflict_mask = np.zeros(n, dtype=bool)
    override_mask = _user_majors(dataset, records)
    if n:
        # candidates by the natural key's 64-bit hash (fast), then exact keys on the few candidates
        khash = pd.Series(records["_khash"].to_numpy())
        cand = khash.duplicated(keep=False).to_numpy() & ~override_mask
        if cand.any():

            def content(grp: pd.DataFrame) -> pd.DataFrame:
                rows = pool.table.take(pa.array(grp.index.to_numpy())).to_pandas()
                rows["_psig"] = grp["_psig"].to_numpy()
                return rows

            keys = list(NATURAL_KEYS[dataset])
            mark_duplicates(records.loc[cand], keys, content, merged_mask, conflict_mask)
    if conflict_mask.any():
        conflicts = conflict_rows(dataset, records.loc[conflict_mask], pool.dup_raw, paths)
        quarantine = pd.concat([quarantine, conflicts], ignore_index=True)
    if override_mask.any():
        repairs = pd.concat(
            [repairs, _override_repairs(dataset, records.loc[override_mask])], ignore_index=True
        )
    merged_mask |= override_mask
    drop = merged_mask | conflict_mask
    files = count_rows(files, records, merged_mask, conflict_mask, quarantine, dataset)
    table = pool.table
    if table.column_names != list(spec):
        raise RuntimeError(f"{dataset}: processed columns {table.column_names} != {list(spec)}")
    out = TableRecords(table.filter(pa.array(~drop)) if drop.any() else table, dataset)
    counts = merge_counts(files, len(out), merged_mask, conflict_mask)
    # fingerprints are made distinct over every dataset of the folder when it is written
    return Merged(out, quarantine, repairs, files, pool.fingerprints, counts)


def _user_majors(dataset: str, records: pd.DataFrame) -> np.ndarray:
    """Shipped majors rows that the user's catalogue (raw/reference/majors.*) replaces: the
    shipped row of a code the user's file has."""
    if dataset != "majors" or not len(records):
        return np.zeros(len(records), dtype=bool)
    shipped = records["_file"].astype(str).str.startswith("helpers/").to_numpy(dtype=bool)
    user_codes = records.loc[~shipped, "major_code"].dropna().unique()
    return shipped & records["major_code"].isin(user_codes).fillna(False).to_numpy(dtype=bool)


def _override_repairs(dataset: str, o: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
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
    ).astype(REPAIR_COLUMNS)


_KEY_ZH = {
    "student_key": "学号",
    "visitor_key": "走访人",
    "helper_key": "帮扶责任人",
    "employer_key": "统一社会信用代码/走访单位名称",
}


def conflict_rows(
    dataset: str, rows: pd.DataFrame, known_raw: dict, paths: dict[str, str]
) -> pd.DataFrame:
    """Quarantine rows (duplicate_conflict) for conflicting duplicates, with their raw rows
    (``known_raw``: (file, sheet, row) -> raw JSON; others are read again from ``paths``)."""
    dup_raw = dict(known_raw)
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


def count_rows(
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
