"""The privacy scan's lookup of personal-value fingerprints: digest -> kind, for millions of rows.

A province period carries about six million fingerprints (``pii_fingerprints.parquet`` of every
processed folder up to the period). As a Python dict of hex strings they cost ~14 s and ~1.5 GB
to build, in every process that scans (the runner's main process and each worker). Here they are
four sorted ``uint64`` words per digest, built from the Parquet column's bytes without making a
Python string per row (~1 s), and looked up in batches with :func:`numpy.searchsorted`.

Same answers as the dict ``{digest.lower(): kind}`` built from the (kind, digest) pairs in file
order, duplicates dropped (first occurrence kept): for a digest held under several kinds, the kind
that appeared last wins. A value that is not 64 hexadecimal characters is not an
HMAC-SHA256 digest, can never equal one, and is left out.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HEX_LEN = 64
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX_VALUE[ord(_c)] = _i
    _HEX_VALUE[ord(_c.upper())] = _i


def _words(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 64) hex characters as uint8 -> ((n, 4) uint64 words in reading order, valid rows)."""
    nibbles = _HEX_VALUE[chars]
    valid = ~(nibbles == 255).any(axis=1)
    octets = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    words = np.ascontiguousarray(octets).view(">u8").astype(np.uint64)
    return words.reshape(len(chars), 4), valid


def _hex_words(digests: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Words and validity of an Arrow string array, read from its buffers (no Python strings)."""
    digests = digests.cast(pa.large_string())
    n = len(digests)
    lengths = pc.fill_null(pc.binary_length(digests), 0).to_numpy(zero_copy_only=False)
    ok = lengths == HEX_LEN
    if digests.null_count:
        ok &= digests.is_valid().to_numpy(zero_copy_only=False)
    _, offsets, data = digests.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64)[digests.offset : digests.offset + n]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
    words = np.zeros((n, 4), dtype=np.uint64)
    if n and ok.all() and (starts == starts[0] + HEX_LEN * np.arange(n)).all():
        # the usual case: back to back, all hex: decoded in one C call
        try:
            octets = binascii.unhexlify(raw[starts[0] : starts[0] + HEX_LEN * n])
        except binascii.Error:
            pass  # some value is not hex: character by character below
        else:
            words = np.frombuffer(octets, dtype=">u8").astype(np.uint64).reshape(n, 4)
            return words, ok
    for block in np.array_split(np.flatnonzero(ok), max(1, n // 65536)):
        if len(block):
            w, valid = _words(raw[starts[block][:, None] + np.arange(HEX_LEN)])
            words[block] = w
            ok[block] = valid
    return words, ok


class FingerprintIndex:
    """Digest (hex, any case) -> kind, for the scanner: ``in``, ``[]``, ``len`` and
    :meth:`kinds_of` for a batch."""

    def __init__(self, words: np.ndarray, kinds: np.ndarray, labels: list[str]):
        # by the first word; ties keep file order, which settles a digest held under two kinds
        order = np.argsort(words[:, 0], kind="stable")
        self._words = words[order]
        self._first = np.ascontiguousarray(self._words[:, 0])
        self._kinds = kinds[order]  # codes into labels
        self._labels = labels
        self._memo: dict[str, int] = {}  # digest -> row (-1: absent); report text repeats a lot

    @classmethod
    def from_arrow(cls, table: pa.Table, kind_map: Mapping[str, str] | None = None):
        """From a table with ``kind`` and ``digest`` columns, rows in file order;
        ``kind_map`` renames kinds (e.g. ``visitor`` -> ``name``)."""
        words, valid = _hex_words(table.column("digest").combine_chunks())
        kind = table.column("kind").combine_chunks().cast(pa.large_string())
        encoded = pc.dictionary_encode(pc.fill_null(kind, ""))
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        labels = [(kind_map or {}).get(k, k) for k in encoded.dictionary.to_pylist()]
        return cls(words[valid], codes[valid], labels)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, kind_map: Mapping[str, str] | None = None):
        fp = frame[["kind", "digest"]].dropna()
        table = pa.table(
            {
                "kind": pa.array(fp["kind"].astype(str).tolist(), type=pa.large_string()),
                "digest": pa.array(fp["digest"].astype(str).tolist(), type=pa.large_string()),
            }
        )
        return cls.from_arrow(table, kind_map)

    @classmethod
    def empty(cls) -> FingerprintIndex:
        return cls(np.zeros((0, 4), dtype=np.uint64), np.zeros(0, dtype=np.int32), [])

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self._rows([digest])[digest] >= 0

    def __getitem__(self, digest: str) -> str:
        at = self._rows([digest])[digest] if isinstance(digest, str) else -1
        if at < 0:
            raise KeyError(digest)
        return self._labels[self._kinds[at]]

    def kinds_of(self, digests: Mapping[str, str]) -> dict[str, str]:
        """{candidate: digest} -> {candidate: kind} for the candidates whose digest is held."""
        rows = self._rows(digests.values())
        labels, kinds = self._labels, self._kinds
        return {c: labels[kinds[rows[d]]] for c, d in digests.items() if rows[d] >= 0}

    def _rows(self, digests: Iterable[str]) -> dict[str, int]:
        """The memo, after looking up the digests it lacks: a few one by one, many at once."""
        memo = self._memo
        todo = list({d: None for d in digests if d not in memo})
        if len(todo) > 32:
            memo.update(zip(todo, self._find(todo).tolist(), strict=True))
        else:
            for d in todo:
                memo[d] = self._find_one(d)
        return memo

    def _find_one(self, digest: str) -> int:
        try:
            raw = bytes.fromhex(digest) if len(digest) == HEX_LEN else None
        except ValueError:
            raw = None
        if raw is None or not len(self._words):
            return -1
        words = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
        lo = int(np.searchsorted(self._first, words[0], side="left"))
        hi = int(np.searchsorted(self._first, words[0], side="right"))
        return self._match(lo, hi, words)

    def _find(self, digests: Iterable[str]) -> np.ndarray:
        """Row of each digest (-1 when absent); see :meth:`_settle` for a digest held twice."""
        digests = list(digests)
        if not digests or not len(self._words):
            return np.full(len(digests), -1, dtype=np.int64)
        words, valid = _hex_words(pa.array(digests, type=pa.large_string()))
        lo = np.searchsorted(self._first, words[:, 0], side="left")
        hi = np.searchsorted(self._first, words[:, 0], side="right")
        out = np.full(len(digests), -1, dtype=np.int64)
        for i in np.flatnonzero(valid & (hi > lo)):
            out[i] = self._match(lo[i], hi[i], words[i])
        return out

    def _match(self, lo: int, hi: int, words: np.ndarray) -> int:
        """The row of ``words`` among rows ``lo:hi`` (those of its first word), -1 if none."""
        rows = np.arange(lo, hi)
        rows = rows[(self._words[rows] == words).all(axis=1)]
        return self._settle(rows) if len(rows) else -1

    def _settle(self, rows: np.ndarray) -> int:
        """Of the rows of one digest (in file order), the first row of the kind that appeared
        last: the dict built from the de-duplicated (kind, digest) pairs keeps that kind."""
        first: dict[int, int] = {}
        for r in rows.tolist():
            first.setdefault(int(self._kinds[r]), r)
        return max(first.values())
