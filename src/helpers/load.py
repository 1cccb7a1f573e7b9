"""Read processed data (``data/processed/<as_of>/``) for notebooks and helpers.

Only ingest writes there; everything downstream reads through these functions, so the layout
(one folder per snapshot date, one Parquet per dataset) is known in one place.

Text columns with few distinct values (``helpers.datasets.CATEGORICAL_COLUMNS``: codes and labels
of the graduates) come back as pandas categoricals by default: the Parquet pages are
dictionary-encoded already, so they are read as dictionaries (no Python string per row), the
categories are put in ascending order (code order = value order, as ``sort_values`` and
``groupby(sort=True)`` on the text would give) and have the column's text dtype. A fraction of the
memory of the text, and :mod:`helpers.grouping` counts them by their integer codes (national
scale: 11.6 million rows). ``categories=False`` gives plain text columns.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.config import data_paths, processed_dir
from helpers.datasets import CATEGORICAL_COLUMNS, PROCESSED_COLUMNS


class MissingDataError(FileNotFoundError):
    """Processed data for a date is missing: say which command makes it."""


def processed_dates(data_dir: str | Path) -> list[dt.date]:
    """Snapshot dates that have processed data, oldest first."""
    base = data_paths(data_dir)[1]
    out = []
    if base.is_dir():
        for p in base.iterdir():
            try:
                d = dt.date.fromisoformat(p.name)
            except ValueError:
                continue
            if (p / "manifest.json").exists():
                out.append(d)
    return sorted(out)


def load_dataset(
    data_dir: str | Path,
    as_of: dt.date,
    name: str,
    columns: list[str] | None = None,
    categories: bool | Sequence[str] = True,
) -> pd.DataFrame:
    """One processed dataset of one reporting date.

    ``categories``: True reads the dataset's low-cardinality text columns
    (``helpers.datasets.CATEGORICAL_COLUMNS``) as categoricals with sorted categories, False
    reads every text column as text, a list of column names reads those as categoricals.
    """
    path = processed_dir(data_dir, as_of) / f"{name}.parquet"
    if not path.exists():
        raise MissingDataError(
            f"{path} is missing: run `placement ingest --as-of {as_of} --data-dir {data_dir}` first"
            " (or `make demo` for the demo data)"
        )
    # pandas' copy-on-write makes the shallow copy safe: a caller's change never reaches the cache
    key = _file_key(path, columns, _categorical_columns(name, categories))
    return _read_parquet_cached(*key).copy(deep=False)


def _categorical_columns(name: str, categories: bool | Sequence[str]) -> tuple[str, ...]:
    if categories is True:
        return tuple(CATEGORICAL_COLUMNS.get(name, ()))
    if categories is False or categories is None:
        return ()
    if isinstance(categories, str):
        raise TypeError(
            f"categories must be True, False or a list of column names, not {categories!r}"
        )
    return tuple(categories)


def _file_key(path: Path, columns, categorical: tuple[str, ...] = ()) -> tuple:
    stat = path.stat()
    cols = tuple(columns) if columns is not None else None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size, cols, categorical


@lru_cache(maxsize=32)
def _read_parquet_cached(
    path: str, mtime_ns: int, size: int, columns, categorical: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Parquet reads cached per process, keyed by file identity: a warm report kernel that runs
    ~90 university reports in a row reads each processed file once, and a rewritten file
    (new mtime/size) is read again."""
    df = read_parquet(path, list(columns) if columns is not None else None, categorical)
    # lets helpers.placement remember province-wide aggregates of this exact data across reports
    df.attrs["source"] = (path, mtime_ns, size, columns, categorical)
    return df


def read_parquet(
    path: str | Path, columns: list[str] | None = None, categorical: Sequence[str] = ()
) -> pd.DataFrame:
    """A Parquet file as pandas (as ``pandas.read_parquet``), the text columns named in
    ``categorical`` (those the file has) as categoricals with sorted categories of the column's
    text dtype, read from the Parquet dictionaries without building a string per row."""
    schema = pq.read_schema(path)
    wanted = schema.names if columns is None else list(columns)
    text = [
        c
        for c in dict.fromkeys(categorical)
        if c in wanted and c in schema.names and _is_text(schema.field(c).type)
    ]
    if not text:
        return pd.read_parquet(path, columns=columns)
    df = pd.read_parquet(path, columns=[c for c in wanted if c not in text])
    table = pq.read_table(path, columns=text, read_dictionary=text)
    name = Path(path).stem
    for col in text:
        values = _arrow_categorical(table.column(col), _text_dtype(name, col))
        df[col] = pd.Series(values, index=df.index, name=col)
    return df[wanted]


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _arrow_categorical(column: pa.ChunkedArray, dtype) -> pd.Categorical:
    """A dictionary-encoded Arrow column (one dictionary per row group) as one categorical.

    The categories are the distinct dictionary values in ascending order (Arrow's binary order
    of UTF-8 is code-point order, as Python sorts ``str``); each chunk's indices go through a
    small table from its dictionary to those categories, straight into the codes array."""
    chunks = [c for c in column.chunks if len(c)]
    if not chunks or not all(isinstance(c, pa.DictionaryArray) for c in chunks):
        plain = column.to_pandas().astype("object").astype("category")
        return sorted_categorical(plain, dtype).array
    union = pc.unique(pa.chunked_array([c.dictionary for c in chunks]).combine_chunks())
    union = union.drop_null()
    union = union.take(pc.array_sort_indices(union))
    n = len(union)
    code_type = np.int8 if n < 2**7 else np.int16 if n < 2**15 else np.int32
    codes = np.empty(len(column), dtype=code_type)
    at = 0
    for chunk in column.chunks:
        size = len(chunk)
        if not size:
            continue
        # the chunk's dictionary positions -> positions in the sorted categories; slot -1: missing
        lut = pc.index_in(chunk.dictionary, value_set=union).fill_null(-1).to_numpy()
        lut = np.append(lut, -1).astype(code_type)
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(-1)
        codes[at : at + size] = lut[indices.to_numpy(zero_copy_only=False)]
        at += size
    categories = pd.Index(np.asarray(union.to_pylist(), dtype=object), dtype=dtype)
    return pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(categories, ordered=False), validate=False
    )


def _text_dtype(dataset: str, column: str):
    """The pandas dtype of a text column as plain loading gives it (processed columns: "string")."""
    return PROCESSED_COLUMNS.get(dataset, {}).get(column, "string")


def sorted_categorical(s: pd.Series, dtype="string") -> pd.Series:
    """``s`` as a categorical whose categories are in ascending order and of text dtype ``dtype``
    (a Parquet dictionary lists its values in order of appearance). Values and missing values
    are unchanged; categories no row uses stay (a Parquet dictionary has none)."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return sorted_categorical(s.astype("category"), dtype)
    cat = s.array
    values = np.asarray(cat.categories, dtype=object)
    order = np.argsort(values, kind="stable")
    new = pd.CategoricalDtype(pd.Index(values[order], dtype=dtype), ordered=False)
    codes = np.asarray(cat.codes)
    if (order != np.arange(len(order))).any():
        # rank[old code] = new code; a missing value (code -1) reads the last slot: -1
        rank = np.empty(len(order) + 1, dtype=codes.dtype)
        rank[order] = np.arange(len(order))
        rank[-1] = -1
        codes = rank[codes]
    elif cat.categories.dtype == new.categories.dtype and not cat.ordered:
        return s
    return pd.Series(pd.Categorical.from_codes(codes, dtype=new), index=s.index, name=s.name)


def load_graduate_history(
    data_dir: str | Path,
    as_of: dt.date,
    columns: list[str] | None = None,
    snapshots: Sequence[dt.date] | None = None,
    categories: bool | Sequence[str] = True,
) -> pd.DataFrame:
    """Every processed graduates snapshot up to ``as_of`` (all cohorts), stacked.

    Each snapshot's rows carry ``snapshot_date``; use it for progress through the year and the
    ``cohort`` column for trends across cohorts. ``snapshots`` (dates) keeps only those snapshot
    dates, without reading the others. ``categories`` as for
    :func:`load_dataset` (the categories of a column are the union over the snapshots, sorted).
    """
    wanted = None if snapshots is None else set(snapshots)
    paths, seen = [], set()
    for d in processed_dates(data_dir):
        if d > as_of:
            continue
        # processed/<d> holds the newest raw snapshot <= d: two dates can share one snapshot
        snapshot = graduates_snapshot_date(data_dir, d)
        if snapshot in seen or (wanted is not None and snapshot not in wanted):
            continue
        seen.add(snapshot)
        paths.append(processed_dir(data_dir, d) / "graduates.parquet")
    if not paths:
        raise MissingDataError(
            f"no processed graduates snapshot on or before {as_of} in {data_dir}"
        )
    categorical = _categorical_columns("graduates", categories)
    key = tuple(_file_key(p, columns, categorical) for p in paths)
    return _stack_cached(key).copy(deep=False)


@lru_cache(maxsize=2)
def _stack_cached(keys: tuple) -> pd.DataFrame:
    out = stack_frames([_read_parquet_cached(*k) for k in keys])
    out.attrs["source"] = ("graduate_history", keys)
    return out


def stack_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` of frames with the same columns, keeping categorical columns categorical:
    the categories become the sorted union of the frames' categories (``pd.concat`` would turn
    differing categories into text)."""
    frames = list(frames)
    if len(frames) > 1:
        for col in frames[0].columns:
            dtypes = [f[col].dtype for f in frames if col in f.columns]
            if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes):
                continue
            if all(d.categories.equals(dtypes[0].categories) for d in dtypes[1:]):
                continue
            values = np.unique(
                np.concatenate([np.asarray(d.categories, dtype=object) for d in dtypes])
            )
            union = pd.CategoricalDtype(
                pd.Index(values, dtype=dtypes[0].categories.dtype), ordered=False
            )
            frames = [
                f.assign(**{col: f[col].cat.set_categories(union.categories)})
                if col in f.columns
                else f
                for f in frames
            ]
    return pd.concat(frames, ignore_index=True)


def read_manifest(data_dir: str | Path, as_of: dt.date) -> dict:
    path = processed_dir(data_dir, as_of) / "manifest.json"
    if not path.exists():
        raise MissingDataError(f"{path} is missing: run `placement ingest --as-of {as_of}` first")
    return json.loads(path.read_text(encoding="utf-8"))


def graduates_snapshot_date(data_dir: str | Path, as_of: dt.date) -> dt.date | None:
    """Date of the raw snapshot folder behind ``processed/<as_of>/graduates.parquet``."""
    path = processed_dir(data_dir, as_of) / "manifest.json"
    if not path.exists():
        return read_manifest(data_dir, as_of)  # raises MissingDataError with the command to run
    stat = path.stat()
    # a report kernel asks for every snapshot twice per report; a province manifest is large
    return _snapshot_date_of(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _snapshot_date_of(path: str, mtime_ns: int, size: int) -> dt.date | None:
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    value = manifest["datasets"]["graduates"].get("snapshot_date")
    return None if value is None else dt.date.fromisoformat(value)
