"""Keyed pseudonyms (HMAC-SHA256) for personal identifiers.

学号 becomes ``student_key``, 走访人 ``visitor_key`` and 帮扶责任人 ``helper_key``: the same input and the
same key always give the same digest, so graduates and help records still link, while the value
itself cannot be recovered by enumerating the (small) space of student or ID numbers without the
key (methods.md §3.5).

The key comes from, in this order:

1. the environment variable ``PLACEMENT_PSEUDONYM_KEY`` (any string, used as its UTF-8 bytes);
2. the key file named by ``PLACEMENT_KEY_FILE``, else ``<project root>/.secrets/pseudonym.key``
   (git-ignored). The file holds 32 random bytes, hex-encoded; it is created on first use with
   mode 0600. A file that does not hold 64 hex characters is used as UTF-8 text.

Losing or rotating the key breaks linkage with everything processed before: re-ingest all raw data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import PROJECT_ROOT

KEY_ENV = "PLACEMENT_PSEUDONYM_KEY"
KEY_FILE_ENV = "PLACEMENT_KEY_FILE"
DEFAULT_KEY_FILE = PROJECT_ROOT / ".secrets" / "pseudonym.key"


def key_file_path() -> Path:
    """Where the key file is (or will be created)."""
    override = os.environ.get(KEY_FILE_ENV)
    return Path(override).expanduser() if override else DEFAULT_KEY_FILE


def _decode_key_text(text: str) -> bytes:
    text = text.strip()
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    if not text:
        raise ValueError("empty pseudonym key")
    return text.encode("utf-8")


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: two processes creating the key at once must not end up with different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_bytes(32).hex() + "\n")


def load_key() -> bytes:
    """The pseudonymisation key (see the module docstring for where it comes from)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    path = key_file_path()
    if not path.exists():
        _create_key_file(path)
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"pseudonym key file {path} is empty: delete it to create a new key")
    return _decode_key_text(text)


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible label of a key for manifests (never the key itself)."""
    return hmac.new(key, b"fingerprint", hashlib.sha256).hexdigest()[:8]


def normalise_identifier(value: str) -> str:
    """NFKC, surrounding spaces removed, upper case (a lower-case 'x' check digit is an 'X')."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def keyed_digest(value: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of the normalised value."""
    return hmac.new(key, normalise_identifier(value).encode("utf-8"), hashlib.sha256).hexdigest()


class _Hmac:
    """HMAC-SHA256 with the key's inner and outer states computed once (RFC 2104).

    About three times faster than ``hmac.new`` per value, which matters for millions of values;
    gives exactly ``hmac.new(key, msg, sha256)``.
    """

    def __init__(self, key: bytes):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, message: bytes) -> str:
        return self.digest(message).hex()

    def digest_all(self, messages: list[bytes]) -> list[bytes]:
        """Raw digests of many messages (UTF-8 bytes), in one tight loop."""
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        out = []
        append = out.append
        for m in messages:
            inner = inner_copy()
            inner.update(m)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest())
        return out


class Digester:
    """keyed_digest with a memo: the same value (a 学号 in the graduates file and again in its
    fingerprint) is hashed once per batch. ``remember=False`` skips the memo for values that are
    hashed only once (names, ID numbers, phones: fingerprints only). Values are normalised text
    (:func:`normalise_identifier`), given as ``str`` or as their UTF-8 bytes."""

    def __init__(self, key: bytes):
        self._mac = _Hmac(key)
        self._memo: dict[bytes, bytes] = {}

    def many_bytes(self, normalised, remember: bool = True) -> list[bytes]:
        """Raw 32-byte digests of normalised text values."""
        return self.many_utf8([v.encode("utf-8") for v in normalised], remember)

    def many_utf8(self, values: list[bytes], remember: bool = True) -> list[bytes]:
        """Raw 32-byte digests of normalised values given as UTF-8 bytes."""
        if not remember:
            return self._mac.digest_all(values)
        memo = self._memo
        if not memo:
            out = self._mac.digest_all(values)
            memo.update(zip(values, out, strict=True))
            return out
        out = list(map(memo.get, values))
        if None in out:
            todo = [v for v, d in zip(values, out, strict=True) if d is None]
            memo.update(zip(todo, self._mac.digest_all(todo), strict=True))
            out = list(map(memo.__getitem__, values))
        return out

    def many(self, normalised) -> list[str]:
        """Hex digests (keyed_digest)."""
        return [d.hex() for d in self.many_bytes(normalised)]


def utf8_values(values) -> list[bytes]:
    """The UTF-8 bytes of text values (pandas text or Arrow strings without missing values),
    straight from Arrow's buffers: no Python string per value."""
    import pyarrow as pa

    a = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    return a.cast(pa.large_binary()).to_pylist()


def digest_words(digests: list[bytes]) -> np.ndarray:
    """32-byte digests -> (n, 4) uint64: compact, and fast to compare and deduplicate."""
    if not digests:
        return np.empty((0, 4), dtype=np.uint64)
    return np.frombuffer(b"".join(digests), dtype=np.uint64).reshape(-1, 4)


# byte -> its two hex characters, as one little-endian 16-bit word (first character low)
_HEX_PAIRS = np.array(
    [ord(hi) | (ord(lo) << 8) for hi in "0123456789abcdef" for lo in "0123456789abcdef"],
    dtype="<u2",
)


def words_hex(words: np.ndarray) -> pd.Series:
    """(n, 4) uint64 digest words -> hex digests (pandas string), without a Python loop: every
    digest byte looked up as its two characters, straight into an Arrow buffer."""
    import pyarrow as pa

    n = len(words)
    if n == 0:
        return pd.Series([], dtype="string")
    raw = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint8)
    text = _HEX_PAIRS[raw]
    offsets = np.arange(0, 64 * n + 1, 64, dtype=np.int64)
    arrow = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return pd.Series(pd.array(arrow, dtype=pd.StringDtype("pyarrow")))


def digest_many(normalised: list[str], key: bytes) -> list[str]:
    """keyed_digest of values that are already normalised (normalise_identifier)."""
    return [d.hex() for d in _Hmac(key).digest_all([v.encode("utf-8") for v in normalised])]


def normalise_identifiers(values: pd.Series) -> pd.Series:
    """Vectorised normalise_identifier (in Arrow); blank values become missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    s = values.astype("str")
    a = pa.array(s.array, type=pa.large_string())  # zero-copy for Arrow-backed text
    if not pc.all(pc.string_is_ascii(a)).as_py():  # ASCII text is its own NFKC form
        a = pc.utf8_normalize(a, "NFKC")
    a = pc.utf8_upper(pc.utf8_trim_whitespace(a))
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)
    return pd.Series(
        pd.array(a, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
        index=values.index,
        name=values.name,
    )


def pseudonymise(values: pd.Series, key: bytes | Digester) -> pd.Series:
    """keyed_digest of every value; missing and blank values stay missing.

    Computed once per distinct value (a column of 300k student numbers has 300k distinct values,
    but columns such as 走访人 repeat a lot). ``key`` may be a :class:`Digester` sharing its memo.
    """
    norm = normalise_identifiers(values)
    codes, uniques = pd.factorize(norm, use_na_sentinel=True)
    values_u = list(uniques.astype(object))
    hashed = key.many(values_u) if isinstance(key, Digester) else digest_many(values_u, key)
    digests = np.array([*hashed, None], dtype=object)
    # code -1 (missing) picks the trailing None
    return pd.Series(digests[codes], index=values.index, dtype="string", name=values.name)


def pseudonymise_words(values: pd.Series, digester: Digester) -> tuple[pd.Series, np.ndarray]:
    """pseudonymise, plus the first 64-bit word of each digest (0 where missing): a ready-made
    hash of the pseudonym for finding duplicates."""
    norm = normalise_identifiers(values)
    codes, uniques = pd.factorize(norm, use_na_sentinel=True)
    words = digest_words(digester.many_utf8(utf8_values(uniques)))
    hexes = words_hex(words)
    out = (
        hexes.take(np.where(codes >= 0, codes, 0)).reset_index(drop=True)
        if len(words)
        else pd.Series(pd.NA, index=range(len(codes)), dtype="string")
    )
    out = out.where(pd.Series(codes >= 0)).astype("string")
    out.index = values.index
    out.name = values.name
    d0 = np.where(codes >= 0, words[np.where(codes >= 0, codes, 0), 0] if len(words) else 0, 0)
    return out, d0.astype(np.uint64)
