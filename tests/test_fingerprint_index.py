"""The scanner's fingerprint lookup answers exactly as the dict it replaces."""

from __future__ import annotations

import hashlib
import random

import pandas as pd
import pyarrow as pa
import pytest

from helpers.fingerprint_index import FingerprintIndex
from helpers.scanner import KIND_OF_FINGERPRINT


def _hex(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _as_dict(frame: pd.DataFrame) -> dict[str, str]:
    """The lookup the scanner built before: pairs de-duplicated, then one dict."""
    fp = frame[["kind", "digest"]].dropna().drop_duplicates()
    return {
        d.lower(): KIND_OF_FINGERPRINT.get(k, k)
        for k, d in zip(fp["kind"].astype(str), fp["digest"].astype(str), strict=True)
    }


def _frame() -> pd.DataFrame:
    rng = random.Random(7)
    kinds = list(KIND_OF_FINGERPRINT)
    rows = [(rng.choice(kinds), _hex(i)) for i in range(3000)]
    rows += [("name", _hex(5).upper()), ("student_id", _hex(6))]  # upper case; a second kind
    rows += [("phone", _hex(6)), ("student_id", _hex(6))]  # repeated: the phone pair is newer
    rows += [("name", _hex(9)), ("visitor", _hex(9)), ("name", _hex(9))]
    rows += [("name", "not-a-digest"), ("name", "zz" * 32), ("name", None), ("name", _hex(1)[:63])]
    return pd.DataFrame(rows, columns=["kind", "digest"])


def test_answers_as_the_dict_did():
    frame = _frame()
    expected = _as_dict(frame)
    index = FingerprintIndex.from_frame(frame, KIND_OF_FINGERPRINT)
    queries = {f"q{i}": _hex(i) for i in range(0, 3200)}
    queries |= {"upper": _hex(12).upper(), "junk": "x" * 64, "short": "abc"}
    got = index.kinds_of(queries)
    assert got == {q: expected[d.lower()] for q, d in queries.items() if d.lower() in expected}
    assert got["q6"] == "mobile"  # the kind that appeared last
    assert got["q9"] == "name"
    for d in [*expected, _hex(99999)]:
        if all(c in "0123456789abcdef" for c in d) and len(d) == 64:
            assert (d in index) == (d in expected)
    assert index[_hex(5)] == "name"
    with pytest.raises(KeyError):
        index[_hex(99999)]


def test_reads_sliced_and_chunked_arrow_columns():
    frame = _frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = pa.concat_tables([table.slice(0, 1000), table.slice(1000)])  # two chunks, offsets
    index = FingerprintIndex.from_arrow(table, KIND_OF_FINGERPRINT)
    expected = _as_dict(frame)
    queries = {f"q{i}": _hex(i) for i in range(3100)}
    assert index.kinds_of(queries) == {q: expected[d] for q, d in queries.items() if d in expected}
    assert len(index) == len(frame) - 4  # the four values that are no digest are left out


def test_empty():
    index = FingerprintIndex.empty()
    assert not index and len(index) == 0
    assert index.kinds_of({"a": _hex(1)}) == {}
    assert _hex(1) not in index


@pytest.mark.parametrize("bad", [None, "g" * 64])
def test_whole_column_decoding_and_its_fallback(bad):
    """All values 64 hex characters (decoded in one call), or one 64-character non-hex value
    among them (the call fails: decoded value by value, the bad one left out)."""
    rows = [("student_id", _hex(i)) for i in range(500)] + ([("name", bad)] if bad else [])
    index = FingerprintIndex.from_frame(pd.DataFrame(rows, columns=["kind", "digest"]))
    assert len(index) == 500
    assert index.kinds_of({"a": _hex(3), "b": _hex(600), "c": "g" * 64}) == {"a": "student_id"}
