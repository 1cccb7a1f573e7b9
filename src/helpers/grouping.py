"""Group-by kernels for national-size frames: integer codes, ``bincount``, no Python per group.

``pandas.groupby`` on text keys hashes every string of every row (11.6 million graduates: seconds
per key and a copy of the keys); these kernels turn each key column into integer codes once
(categoricals: their codes; Arrow-backed text: ``pyarrow.compute.dictionary_encode``, which reads
the Arrow buffers without making Python strings), combine the codes of several keys into one group
number and count with ``numpy.bincount``. Results are the same as
``df.groupby(keys, observed=True, sort=True)`` on the text columns: groups in ascending order of
the key values, missing values grouped under a label of your choice (or left out).

Used by :mod:`helpers.placement` (``rate_table``, ``by_major``, ``by_group``). Pure functions:
frames in, arrays / small frames out; nothing is read or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# combined key codes at most this large are counted directly (bincount over the code space)
_DIRECT_MAX = 1 << 24


def _arrow_chunks(s: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow data behind an Arrow-backed text column (no copy), else None."""
    arr = s.array
    if not hasattr(arr, "__arrow_array__"):
        return None
    if isinstance(s.dtype, pd.CategoricalDtype):
        return None
    try:
        data = arr.__arrow_array__()
    except (TypeError, NotImplementedError):
        return None
    if isinstance(data, pa.Array):
        data = pa.chunked_array([data])
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return None
    return data


def key_codes(s: pd.Series, missing: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of one key column: ``labels[codes[i]]`` is row i's value.

    ``labels`` are the distinct values in ascending order (so code order is value order);
    missing values get the code of ``missing`` (added to the labels when absent), or -1 when
    ``missing`` is None. Categorical columns use their codes, Arrow-backed text a dictionary
    encoding, anything else ``pandas.factorize``.
    """
    chunks = _arrow_chunks(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        labels = np.asarray(s.cat.categories, dtype=object)
    elif chunks is not None:
        enc = pc.dictionary_encode(chunks)
        if enc.num_chunks == 0:
            codes, labels = np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        else:
            enc = enc.unify_dictionaries()
            labels = np.asarray(enc.chunk(0).dictionary.to_pylist(), dtype=object)
            parts = [c.indices.fill_null(-1).to_numpy() for c in enc.chunks]
            codes = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
    else:
        c, u = pd.factorize(s, use_na_sentinel=True)
        codes, labels = c.astype(np.int64), np.asarray(u, dtype=object)
    na = codes < 0
    if missing is not None and na.any():
        hit = np.flatnonzero(labels == missing) if len(labels) else np.empty(0, dtype=np.int64)
        if len(hit):
            codes[na] = hit[0]
        else:
            labels = np.append(labels, np.asarray([missing], dtype=object))
            codes[na] = len(labels) - 1
    if len(labels) > 1:
        order = np.argsort(labels, kind="stable")
        if (order != np.arange(len(labels))).any():
            rank = np.empty(len(labels) + 1, dtype=np.int64)
            rank[order] = np.arange(len(labels))
            rank[-1] = -1  # code -1 (missing, left out) stays -1
            codes = rank[codes]
            labels = labels[order]
    return codes, labels


@dataclass(frozen=True)
class Groups:
    """Group number of every selected row and the key values of each group (sorted)."""

    ids: np.ndarray  # group number per selected row, 0..n_groups-1
    rows: np.ndarray | None  # positions of the selected rows in the frame (None: all rows)
    keys: pd.DataFrame  # one row per group, in ascending key order

    @property
    def n(self) -> int:
        return len(self.keys)

    def size(self) -> np.ndarray:
        return np.bincount(self.ids, minlength=self.n).astype(np.int64)

    def select(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def count(self, flag) -> np.ndarray:
        """Number of selected rows per group where ``flag`` (a boolean column) is true."""
        f = self.select(as_bool(flag))
        return np.bincount(self.ids[f], minlength=self.n).astype(np.int64)

    def first_valid(self, column: pd.Series, exclude: np.ndarray | None = None) -> pd.Series:
        """The first non-missing value of ``column`` per group (``groupby.first``), ignoring
        the rows where ``exclude`` (over the frame) is true."""
        ok = column.notna().to_numpy(dtype=bool)
        if exclude is not None:
            ok &= ~exclude
        return self._take_first(column, self.select(ok))

    def first_row(self, column: pd.Series) -> pd.Series:
        """The value of the first row of each group, missing or not (``drop_duplicates``)."""
        return self._take_first(column, None)

    def _take_first(self, column: pd.Series, valid: np.ndarray | None) -> pd.Series:
        n_rows = len(self.ids)
        pos = np.full(self.n, n_rows, dtype=np.int64)
        ids = self.ids if valid is None else self.ids[valid]
        order = np.arange(n_rows, dtype=np.int64)
        np.minimum.at(pos, ids, order if valid is None else order[valid])
        found = pos < n_rows
        rows = np.arange(len(column)) if self.rows is None else self.rows
        taken = column.iloc[rows[pos[found]]]
        if found.all():
            return taken.reset_index(drop=True)
        out = pd.Series(pd.NA, index=range(self.n), dtype=column.dtype)
        out.iloc[np.flatnonzero(found)] = taken.to_numpy()
        return out

    def most_frequent(self, column: pd.Series) -> pd.Series:
        """The most frequent non-missing value per group; ties: the smallest value."""
        codes, labels = key_codes(column)
        c = self.select(codes)
        ok = c >= 0
        pair = self.ids[ok].astype(np.int64) * max(len(labels), 1) + c[ok]
        uniq, counts = np.unique(pair, return_counts=True)
        gid, code = uniq // max(len(labels), 1), uniq % max(len(labels), 1)
        order = np.lexsort((code, -counts, gid))
        first = order[np.r_[True, gid[order][1:] != gid[order][:-1]]] if len(order) else order
        out = pd.Series(pd.NA, index=range(self.n), dtype=column.dtype)
        if len(first):
            values = pd.Series(labels[code[first]], dtype=column.dtype)
            out.iloc[gid[first]] = values.to_numpy()
        return out


def as_bool(s) -> np.ndarray:
    """A boolean column as numpy bool (missing counts as False, as ``sum`` skips it)."""
    if isinstance(s, np.ndarray):
        return s.astype(bool, copy=False)
    return s.to_numpy(dtype=bool, na_value=False)


def _label_array(labels: np.ndarray, dtype) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Key labels in the column's dtype (text stays text; categoricals become their values)."""
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    try:
        return pd.array(labels, dtype=dtype)
    except (TypeError, ValueError):
        return labels


def groups(
    df: pd.DataFrame,
    by: Sequence[str],
    mask: np.ndarray | None = None,
    missing: str | None = None,
) -> Groups:
    """Group the rows of ``df`` selected by ``mask`` (default all) by the columns ``by``.

    Groups come in ascending order of their key values (as ``groupby(sort=True)``); only groups
    with at least one selected row exist (``observed=True``). Missing key values form the group
    ``missing``, or the row is left out when ``missing`` is None (``dropna=True``).
    """
    by = list(by)
    rows = None if mask is None else np.flatnonzero(mask)
    n = len(df) if rows is None else len(rows)
    if not by:
        return Groups(np.zeros(n, dtype=np.int64), rows, pd.DataFrame(index=range(1 if n else 0)))
    codes, labels = [], []
    for col in by:
        c, lab = key_codes(df[col], missing)
        codes.append(c if rows is None else c[rows])
        labels.append(lab)
    keep = np.ones(n, dtype=bool)
    for c in codes:
        keep &= c >= 0
    if not keep.all():  # rows with a missing key (missing=None) belong to no group
        rows = np.flatnonzero(keep) if rows is None else rows[keep]
        codes = [c[keep] for c in codes]
    sizes = tuple(max(len(lab), 1) for lab in labels)
    total = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    if total < 2**62:
        flat = np.ravel_multi_index(codes, sizes) if codes[0].size else np.empty(0, np.int64)
    else:  # a huge code space: combine pairwise through factorize (order-preserving)
        flat = codes[0]
        for c, size in zip(codes[1:], sizes[1:], strict=True):
            flat, _ = pd.factorize(flat * size + c, sort=True)
            flat = flat.astype(np.int64)
    if total <= max(_DIRECT_MAX, 4 * len(flat)):
        present = np.bincount(flat, minlength=total) > 0
        cells = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        ids = lookup[flat]
    else:
        ids, cells = pd.factorize(flat, sort=True)
        cells = np.asarray(cells, dtype=np.int64)
    ids = ids.astype(np.int64)
    if total < 2**62:
        parts = np.unravel_index(cells, sizes) if len(cells) else [cells] * len(by)
    else:  # each key's code at the group's first row
        first = np.full(len(cells), len(ids), dtype=np.int64)
        np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
        parts = [c[first] for c in codes]
    keys = pd.DataFrame(
        {
            col: _label_array(lab[p], df[col].dtype)
            for col, lab, p in zip(by, labels, parts, strict=True)
        }
    )
    return Groups(ids, rows, keys)


def group_counts(
    df: pd.DataFrame,
    by: Sequence[str],
    flags: dict[str, str],
    mask: np.ndarray | None = None,
    missing: str | None = None,
) -> pd.DataFrame:
    """``by`` columns, ``size`` and, for each ``name: column`` of ``flags``, the number of rows
    where the boolean ``column`` is true, per group (see :func:`groups`)."""
    g = groups(df, by, mask, missing)
    out = g.keys.copy()
    out["size"] = g.size()
    for name, col in flags.items():
        out[name] = g.count(df[col])
    return out
