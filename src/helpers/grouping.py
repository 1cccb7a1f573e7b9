"""Group-by kernels for national-size frames: integer codes and one ``bincount``.

``pandas.groupby`` on text keys hashes the text of every row (11.6 million graduates: seconds per
key, plus a copy of the keys); counting several boolean columns then takes one pass each. Here
each key column becomes integer codes once (categoricals: their codes; Arrow-backed text:
``pyarrow.compute.dictionary_encode`` over the Arrow buffers, without Python strings), the codes
of all keys are combined into one number per row, the boolean columns (and the row selection,
as one more bit) into a bit pattern, and a single ``numpy.bincount`` over (group, pattern) gives
every count at once: the number of rows of a group where any combination of the flags holds is a
sum over the matching patterns. Per-group values (first, first row, most frequent) start from
each group's first row and read values by position (categoricals: by code).

Results equal ``df.groupby(by, observed=True, sort=True)`` on the text columns: groups in
ascending order of the key values, missing key values grouped under a label of the caller's
choice (or left out, as ``dropna=True``). Used by :mod:`helpers.placement` and
:func:`helpers.majors.point_rates`. Pure functions:
frames in, small frames out.

Rows are counted in slices of :data:`SLICE_ROWS` on a small thread pool (numpy releases the GIL
in these loops): both cores work, and the temporary arrays stay small.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_FLAGS = 12  # boolean columns counted in one pass (2**12 patterns per group at most)
_MAX_BINS = 1 << 20  # (key combinations x flag patterns) counted directly, per slice
SLICE_ROWS = 1 << 20
THREADS = min(4, os.cpu_count() or 1)
_EXECUTOR: ThreadPoolExecutor | None = None


def _map(fn: Callable, n: int) -> list:
    """``fn(a, z)`` over slices [a, z) of n rows, on the thread pool when there are several."""
    global _EXECUTOR
    ranges = [(a, min(a + SLICE_ROWS, n)) for a in range(0, n, SLICE_ROWS)] or [(0, 0)]
    if len(ranges) == 1 or THREADS == 1:
        return [fn(a, z) for a, z in ranges]
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(THREADS, thread_name_prefix="grouping")
    return list(_EXECUTOR.map(lambda r: fn(*r), ranges))


def as_bool(s) -> np.ndarray:
    """A boolean column as numpy bool (missing counts as False, as ``sum`` skips it)."""
    if isinstance(s, np.ndarray):
        return s.astype(bool, copy=False)
    return s.to_numpy(dtype=bool, na_value=False)


def _arrow_text(s: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow data behind an Arrow-backed text column (no copy), else None."""
    if isinstance(s.dtype, pd.CategoricalDtype) or not hasattr(s.array, "__arrow_array__"):
        return None
    try:
        data = s.array.__arrow_array__()
    except (TypeError, NotImplementedError):
        return None
    if isinstance(data, pa.Array):
        data = pa.chunked_array([data])
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return None
    return data


def _key_map(s: pd.Series, missing: str | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(raw codes per row, -1 for missing; rank table or None; sorted labels).

    The code of row i is ``rank[raw[i]]`` (``raw[i]`` when rank is None); ``rank[-1]`` is the
    code of a missing value: that of ``missing`` (added to the labels when absent) or -1."""
    text = _arrow_text(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = np.asarray(s.array.codes)
        labels = np.asarray(s.cat.categories, dtype=object)
    elif text is not None:
        raw, labels = _encode_text(text)
    else:
        raw, labels = pd.factorize(s, use_na_sentinel=True)
        labels = np.asarray(labels, dtype=object)
    if raw.dtype.kind != "i":
        raw = raw.astype(np.int32)
    n_raw = len(labels)
    na_code = -1
    if missing is not None and len(raw) and (raw < 0).any():
        hit = np.flatnonzero(labels == missing) if n_raw else np.empty(0, dtype=np.int64)
        if len(hit):
            na_code = int(hit[0])
        else:
            labels = np.append(labels, np.asarray([missing], dtype=object))
            na_code = len(labels) - 1
    order = np.argsort(labels, kind="stable") if len(labels) > 1 else np.arange(len(labels))
    if na_code < 0 and (order == np.arange(len(labels))).all():
        return raw, None, labels
    rank = np.empty(len(labels) + 1, dtype=np.int32)
    rank[order] = np.arange(len(labels), dtype=np.int32)
    rank[-1] = -1 if na_code < 0 else rank[na_code]  # raw -1 reads the last slot
    if len(labels) > n_raw:  # the added label is no raw code: only missing rows reach it
        rank = np.r_[rank[:n_raw], rank[-1]].astype(np.int32)
    return raw, rank, labels[order]


def _encode_text(text: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary codes (-1 for missing) and the distinct values of Arrow text."""
    enc = pc.dictionary_encode(text)
    if enc.num_chunks == 0:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=object)
    enc = enc.unify_dictionaries()
    codes = np.concatenate(
        [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in enc.chunks]
    )
    return codes, np.asarray(enc.chunk(0).dictionary.to_pylist(), dtype=object)


def key_codes(s: pd.Series, missing: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of one key column: ``labels[codes[i]]`` is row i's value.

    ``labels`` are the distinct values in ascending order (code order is value order); missing
    values get the code of ``missing`` (added to the labels when absent), or -1 when ``missing``
    is None. Categorical columns use their codes, Arrow-backed text a dictionary encoding,
    anything else ``pandas.factorize``.
    """
    raw, rank, labels = _key_map(s, missing)
    return (raw if rank is None else rank[raw]), labels


def _label_array(labels: np.ndarray, dtype):
    """Key labels in the column's dtype (categoricals: their categories' dtype)."""
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    try:
        return pd.array(labels, dtype=dtype)
    except (TypeError, ValueError):
        return labels


def _key_values(labels: np.ndarray, positions: np.ndarray, dtype):
    """``labels[positions]`` in the column's dtype: the distinct labels converted once, then
    taken (a label the dtype cannot hold, e.g. 未填报 in an integer column: the taken ones)."""
    typed = _label_array(labels, dtype)
    if isinstance(typed, np.ndarray):
        return _label_array(labels[positions], dtype)
    return typed.take(positions)


@dataclass
class Counts:
    """Per group: the key values, and the number of rows for every pattern of the flags."""

    keys: pd.DataFrame  # one row per group, ascending key order
    hist: np.ndarray  # (groups, 2**len(names)) int64
    names: list[str]
    first: dict[str, pd.Series] = field(default_factory=dict)  # first values, see count_groups

    def size(self) -> np.ndarray:
        """Rows per group."""
        return self.hist.sum(axis=1)

    def count(self, *names: str) -> np.ndarray:
        """Rows per group where every flag of ``names`` is true."""
        bits = 0
        for name in names:
            bits |= 1 << self.names.index(name)
        patterns = np.arange(self.hist.shape[1])
        return self.hist[:, (patterns & bits) == bits].sum(axis=1)

    def frame(self) -> pd.DataFrame:
        """Keys, ``size`` and one count column per flag."""
        out = self.keys.copy()
        out["size"] = self.size()
        for name in self.names:
            out[name] = self.count(name)
        for name, values in self.first.items():
            out[name] = values.array
        return out


def count_groups(
    df: pd.DataFrame,
    by: Sequence[str],
    flags: Mapping[str, object] | None = None,
    mask: np.ndarray | None = None,
    missing: str | None = None,
    first: Sequence[str] = (),
    first_row: Sequence[str] = (),
    mode: Sequence[str] = (),
) -> Counts:
    """Group the rows of ``df`` selected by ``mask`` (default: all) by the columns ``by``.

    ``flags``: name -> boolean column (a column name of ``df``, a Series or an array over the
    rows); :meth:`Counts.count` gives the rows of each group where any combination of them holds.
    ``first``: columns whose first non-missing value per group (in row order) is wanted, as
    ``groupby.first`` (rows with a missing key value are left out of it, as groupby drops them).
    ``first_row``: columns whose value in the first row of each group is wanted, missing or not
    (``drop_duplicates(by)``). ``mode``: columns whose most frequent value per group is wanted
    (missing counts as a value; ties: the smallest value, missing last). All in ``Counts.first``.
    Groups: ascending key order, only those with a selected row (``observed=True``). Missing
    key values form the group ``missing``, or the row is left out when ``missing`` is None.
    """
    by = list(by)
    flags = dict(flags or {})
    if len(flags) > MAX_FLAGS:
        raise ValueError(f"at most {MAX_FLAGS} flags at once, got {len(flags)}")
    n = len(df)
    sel = None if mask is None else np.asarray(mask, dtype=bool)
    if sel is not None and sel.all():
        sel = None
    keys, na_key = [], None
    for col in by:
        keys.append(_key_map(df[col], missing))
        if missing is not None and first and keys[-1][1] is not None and keys[-1][1][-1] >= 0:
            na = keys[-1][0] < 0  # rows with a missing key value (grouped under ``missing``)
            na_key = na if na_key is None else na_key | na
    labels = [k[2] for k in keys]
    sizes = [max(len(lab), 1) for lab in labels]
    total = int(np.prod(np.asarray(sizes, dtype=np.float64))) if by else 1
    if total >= 2**62:
        raise ValueError("too many key combinations to count at once")
    bits = [as_bool(df[v] if isinstance(v, str) else v).view(np.uint8) for v in flags.values()]
    width = 1 << len(bits)
    ptype = np.uint8 if len(bits) <= 8 else np.uint16

    def combined(a: int, z: int) -> np.ndarray:
        """Key combination of rows [a, z); rows left out (mask, missing key) get ``total``."""
        flat, bad = None, None
        for (raw, rank, _), size in zip(keys, sizes, strict=True):
            c = raw[a:z] if rank is None else rank[raw[a:z]]
            if missing is None:  # a missing key leaves the row out
                neg = c < 0
                if neg.any():
                    bad = neg if bad is None else bad | neg
            if flat is None:
                flat = c.astype(np.intp)
            else:
                flat *= size
                flat += c
        if flat is None:
            flat = np.zeros(z - a, dtype=np.intp)
        if sel is not None:
            out = ~sel[a:z]
            bad = out if bad is None else bad | out
        if bad is not None:
            flat[bad] = total
        return flat

    def histogram(ids: np.ndarray, a: int, z: int, cells: int) -> np.ndarray:
        """Counts of rows [a, z) per (group, flag pattern); ``ids`` may be changed in place."""
        if bits:  # the flag pattern in small integers first, then added to the ids once
            pattern = bits[0][a:z].astype(ptype)
            shifted = np.empty_like(pattern)
            for bit, b in enumerate(bits[1:], start=1):
                np.left_shift(b[a:z], bit, out=shifted, dtype=ptype)
                pattern |= shifted
            ids *= width
            ids += pattern
        return np.bincount(ids, minlength=(cells + 1) * width)

    need_ids = bool(first or first_row or mode)
    ids_all = None
    # the row selection as one more flag bit (the highest): no per-row assignment for it
    keep_bit = sel is not None and not need_ids
    wide = width * 2 if keep_bit else width
    if not need_ids and total * wide <= _MAX_BINS:  # counts only: one histogram pass per slice
        strides = [int(np.prod(sizes[i + 1 :], dtype=np.int64)) * wide for i in range(len(by))]
        flag_bits = [*bits, sel.view(np.uint8)] if keep_bit else bits
        ftype = np.uint8 if len(flag_bits) <= 8 else np.uint16

        def counts(a: int, z: int) -> np.ndarray:
            ids, bad = None, None
            for (raw, rank, _), stride in zip(keys, strides, strict=True):
                c = raw[a:z] if rank is None else rank[raw[a:z]]
                if missing is None:  # a missing key leaves the row out
                    neg = c < 0
                    if neg.any():
                        bad = neg if bad is None else bad | neg
                if ids is None:
                    ids = np.multiply(c, stride, dtype=np.intp)
                else:
                    ids += np.multiply(c, stride, dtype=np.intp)
            if ids is None:
                ids = np.zeros(z - a, dtype=np.intp)
            if sel is not None and not keep_bit:
                out = ~sel[a:z]
                bad = out if bad is None else bad | out
            if bad is not None:
                ids[bad] = total * wide
            if flag_bits:
                pattern = flag_bits[0][a:z].astype(ftype)
                shifted = np.empty_like(pattern)
                for bit, b in enumerate(flag_bits[1:], start=1):
                    np.left_shift(b[a:z], bit, out=shifted, dtype=ftype)
                    pattern |= shifted
                ids += pattern
            return np.bincount(ids, minlength=(total + 1) * wide)

        hist = np.sum(_map(counts, n), axis=0)[: total * wide].reshape(total, wide)
        if keep_bit:
            hist = hist[:, width:]  # patterns with the selection bit set
        cells = np.flatnonzero(hist.any(axis=1))
        hist = hist[cells]
    elif total * width <= _MAX_BINS:  # small key space: a histogram over every cell, per slice
        flat_all = np.empty(n, dtype=np.intp) if need_ids else None

        def direct(a: int, z: int) -> np.ndarray:
            flat = combined(a, z)
            if flat_all is not None:
                flat_all[a:z] = flat
            return histogram(flat, a, z, total)

        hist = np.sum(_map(direct, n), axis=0)[: total * width].reshape(total, width)
        cells = np.flatnonzero(hist.any(axis=1))
        hist = hist[cells]
        if need_ids:
            lookup = np.full(total + 1, len(cells), dtype=np.intp)
            lookup[cells] = np.arange(len(cells))
            ids_all = lookup[flat_all]
    else:  # dense group numbers first (ascending cell order; rows left out last), then counts
        flat_all = np.empty(n, dtype=np.intp)

        def fill(a: int, z: int) -> None:
            flat_all[a:z] = combined(a, z)

        _map(fill, n)
        if total + 1 <= max(_MAX_BINS, 4 * n):
            present = np.zeros(total + 1, dtype=bool)

            def mark(a: int, z: int) -> None:
                present[flat_all[a:z]] = True

            _map(mark, n)
            cells = np.flatnonzero(present[:total])
            lookup = np.empty(total + 1, dtype=np.intp)
            lookup[:total] = np.cumsum(present[:total]) - 1
            lookup[total] = len(cells)
        else:  # a key space far larger than the rows: factorize the combinations
            codes, cells = pd.factorize(flat_all, sort=True)
            cells = np.asarray(cells, dtype=np.int64)
            if len(cells) and cells[-1] == total:  # the extra cell sorts last
                cells = cells[:-1]
            flat_all[:] = codes
            lookup = None
        if need_ids:
            ids_all = np.empty(n, dtype=np.intp)

        def dense(a: int, z: int) -> np.ndarray:
            ids = flat_all[a:z] if lookup is None else lookup[flat_all[a:z]]
            if ids_all is not None:
                ids_all[a:z] = ids
            return histogram(ids.copy() if lookup is None else ids, a, z, len(cells))

        hist = np.sum(_map(dense, n), axis=0)[: len(cells) * width]
        hist = hist.reshape(len(cells), width)
    parts = np.unravel_index(cells, sizes) if by else []
    frame = pd.DataFrame(
        {
            col: _key_values(lab, p, df[col].dtype)
            for col, lab, p in zip(by, labels, parts, strict=True)
        },
        index=pd.RangeIndex(len(cells)),
    )
    out = Counts(frame, hist.astype(np.int64, copy=False), list(flags))
    if need_ids:
        g = len(cells)  # group g (the extra one) holds the rows left out
        start = _first_position(ids_all, g + 1)  # shared by every column
        for col in first:
            out.first[col] = _first_valid(df[col], ids_all, start, na_key)[:g]
        for col in first_row:
            out.first[col] = _values_at(df[col], start[:g])
        for col in mode:
            out.first[col] = _mode(df[col], ids_all, g + 1, start)[:g]
    return out


def _result_dtype(column: pd.Series):
    dtype = column.dtype
    return dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype


def _take(column: pd.Series, pos: np.ndarray):
    """column's values at row positions ``pos`` as an array of the result dtype (categoricals:
    their categories' dtype, taken by code without decoding the other rows)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.array.codes)[pos]
        return column.cat.categories.array.take(codes.astype(np.intp), allow_fill=True)
    return column.iloc[pos].array


def _values_at(column: pd.Series, pos: np.ndarray) -> pd.Series:
    """column's values at row positions ``pos`` (one per group; all groups have a row)."""
    return pd.Series(_take(column, pos), index=pd.RangeIndex(len(pos)))


def _mode(column: pd.Series, ids: np.ndarray, n_groups: int, start: np.ndarray) -> pd.Series:
    """Most frequent value per group (missing is a value; ties: smallest value, missing last).

    ``start``: each group's first row. A group whose rows all hold its first row's value (the
    usual case: one name per 专业点) has that value; only the rows of the other groups are
    counted per (group, value)."""
    codes, labels = key_codes(column)
    dtype = _result_dtype(column)
    n = len(ids)
    has_row = start < n
    head = np.full(n_groups, -2, dtype=np.int64)  # -2: the group has no row
    head[has_row] = codes[start[has_row]]
    mixed = np.zeros(n_groups, dtype=bool)
    small = head.astype(codes.dtype) if codes.dtype.kind == "i" else head  # -2 fits: signed
    mixed[ids[codes != small[ids]]] = True
    chosen = np.where(head >= 0, head, -1)  # -1: missing (or no row)
    if mixed.any():
        rows = np.flatnonzero(mixed[ids])
        c = codes[rows].astype(np.int64)
        c[c < 0] = len(labels)  # missing sorts after every value
        width = len(labels) + 1
        pair_codes, pairs = pd.factorize(ids[rows].astype(np.int64) * width + c)
        counts = np.bincount(pair_codes, minlength=len(pairs))
        gid, val = pairs // width, pairs % width
        order = np.lexsort((val, -counts, gid))  # per group: most rows, then smallest value
        first = order[np.r_[True, gid[order][1:] != gid[order][:-1]]]
        chosen[gid[first]] = np.where(val[first] < len(labels), val[first], -1)
    typed = _label_array(labels, dtype)
    if not isinstance(typed, np.ndarray):
        return pd.Series(typed.take(chosen, allow_fill=True), index=pd.RangeIndex(n_groups))
    out = pd.Series(pd.NA, index=pd.RangeIndex(n_groups), dtype=dtype)
    has = chosen >= 0
    out.iloc[np.flatnonzero(has)] = labels[chosen[has]]
    return out


def _first_position(ids: np.ndarray, n_groups: int) -> np.ndarray:
    """The first row (position in the frame) of each group; the row count where it has none.

    A group's first row starts a run of equal ids, so only run starts are compared (rows of a
    group usually come together: far fewer runs than rows)."""
    n = len(ids)

    def part(a: int, z: int) -> np.ndarray:
        pos = np.full(n_groups, n, dtype=np.int64)
        seg = ids[a:z]
        if len(seg):
            starts = np.flatnonzero(seg[1:] != seg[:-1])
            starts += 1
            starts = np.r_[0, starts]
            np.minimum.at(pos, seg[starts], starts + a)
        return pos

    return np.minimum.reduce(_map(part, n))


def _first_valid(
    column: pd.Series, ids: np.ndarray, start: np.ndarray, na_key: np.ndarray | None
) -> pd.Series:
    """First value per group that is not missing, from a row without a missing key (``start``:
    each group's first row)."""
    n_groups, n = len(start), len(column)
    pos = start
    found = pos < n
    at = pos[found]
    bad = np.zeros(n_groups, dtype=bool)
    if len(at):
        bad[found] = column.iloc[at].isna().to_numpy(dtype=bool)
        if na_key is not None:
            bad[found] |= na_key[at]
    if bad.any():  # the first row does not do: the first one that does (rare)
        ok = column.notna().to_numpy(dtype=bool)
        if na_key is not None:
            ok = ok & ~na_key
        redo = np.flatnonzero(bad[ids] & ok)
        pos2 = np.full(n_groups, n, dtype=np.int64)
        np.minimum.at(pos2, ids[redo], redo)
        pos = np.where(bad, pos2, pos)
        found = pos < n
    if not found.any():
        return pd.Series(pd.NA, index=pd.RangeIndex(n_groups), dtype=_result_dtype(column))
    out = pd.Series(_take(column, np.where(found, pos, 0)), index=pd.RangeIndex(n_groups))
    return out if found.all() else out.where(found)
