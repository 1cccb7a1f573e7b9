"""Per-process memo of results computed from processed data, for warm report kernels.

A period run makes ~90 university reports on a few reused kernels from the same processed data;
the province-wide results behind them (rates of every university, the 专业点 evidence of the whole
province) are the same in each. :func:`helpers.load.load_dataset` and
:func:`~helpers.load.load_graduate_history` stamp every frame they return with
``attrs["source"]``: the path, modification time (ns), size and columns of each file read. A
:class:`Memo` keys a result on that stamp, so the first report of a kernel pays and the others
reuse; a different reporting date, data folder or a re-ingested (rewritten) file is a different
key, never a stale hit.

Rules:

- frames without a source (built in a test, or by hand) are never memoised: always computed;
- the key also holds the frame's length, columns and number placed, so a subset or an edited
  copy of a loaded frame does not hit (attrs travel with subsets and copies);
- small reference frames without a source are keyed by their content (:func:`frame_token`);
- callers get copies (shallow: pandas' copy-on-write keeps the memoised frames unchanged);
- each memo is bounded (least recently used entries go first).

The runner's reset cell (:mod:`helpers.runner.kernel`) clears the user namespace between reports,
not these module-level memos: keeping them is the point. :func:`clear_all` forgets everything.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

SOURCE_ATTR = "source"

_MEMOS: list[Memo] = []


class Memo:
    """A bounded least-recently-used map from keys to results (one per kind of result)."""

    def __init__(self, name: str, maxsize: int):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.maxsize = maxsize
        self._entries: OrderedDict = OrderedDict()
        _MEMOS.append(self)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return key in self._entries

    def get(self, key: Hashable | None, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered under ``key`` (``None``: computed every time); a copy."""
        if key is None:
            return compute()
        if key in self._entries:
            self._entries.move_to_end(key)
        else:
            value = compute()
            self._entries[key] = value
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return copy_result(self._entries[key])

    def clear(self) -> None:
        self._entries.clear()


def clear_all() -> None:
    """Forget every memoised result of this process."""
    for memo in _MEMOS:
        memo.clear()


def copy_result(value: Any) -> Any:
    """A copy a caller may change: frames copied shallowly (copy-on-write), tuples and frozen
    dataclasses rebuilt with copied frames, anything else as it is."""
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=False)
    if isinstance(value, tuple):
        return tuple(copy_result(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: copy_result(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), pd.DataFrame | pd.Series)
        }
        return dataclasses.replace(value, **changes) if changes else value
    return value


def frame_key(df: pd.DataFrame) -> tuple | None:
    """The identity of a loaded frame: its source stamp, length, columns and number placed;
    ``None`` when it has no (hashable) source."""
    src = df.attrs.get(SOURCE_ATTR)
    if src is None:
        return None
    try:
        hash(src)
    except TypeError:
        return None
    placed = None
    if "placed" in df.columns:
        col = df["placed"]
        # counted on the boolean values as they are (no int64 copy of 11.6 million rows)
        values = col.to_numpy() if col.dtype == bool else col.to_numpy(dtype=bool, na_value=False)
        placed = int(np.count_nonzero(values))
    return (src, len(df), tuple(df.columns), placed)


def frame_token(df: pd.DataFrame | None) -> Hashable:
    """A hashable token of a (small) reference frame: its source key when it has one, else its
    content hash."""
    if df is None:
        return None
    key = frame_key(df)
    if key is not None:
        return key
    return int(pd.util.hash_pandas_object(df, index=False).sum()), tuple(df.columns)


def key(name: str, df: pd.DataFrame, *extra: Hashable) -> tuple | None:
    """Memo key of a result computed from ``df`` and ``extra``; ``None`` (not memoised) when
    ``df`` has no source or ``extra`` is not hashable."""
    fk = frame_key(df)
    if fk is None:
        return None
    k = (name, fk, extra)
    try:
        hash(k)
    except TypeError:
        return None
    return k


_NAMED: dict[str, Memo] = {}


def named(name: str, maxsize: int) -> Memo:
    """The process's memo called ``name`` (created with ``maxsize`` on first use)."""
    memo = _NAMED.get(name)
    if memo is None:
        memo = _NAMED[name] = Memo(name, maxsize)
    return memo
