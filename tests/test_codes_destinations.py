"""codes.classify_destinations classifies each distinct code once: the result equals a
straightforward row-by-row classification, for text, object and categorical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from helpers.codes import (
    BUCKETS_2021,
    BUCKETS_2024,
    DESTINATIONS,
    UNKNOWN_BUCKET,
    classify_destinations,
)
from helpers.config import load_policy

POLICY = load_policy(2023).placement
CODES = [*DESTINATIONS, "271", "502", "801", "802", "701", "709", "99", "1", "", "8O"]


def plain(codes: pd.Series) -> pd.DataFrame:
    """One row at a time, as the rules read."""
    rows = []
    for code in codes.astype(object):
        if code is None or code is pd.NA or (isinstance(code, float) and np.isnan(code)):
            rows.append((False, False, UNKNOWN_BUCKET, UNKNOWN_BUCKET))
            continue
        excluded = code in POLICY.not_placed_codes or any(
            code.startswith(p) for p in POLICY.not_placed_prefixes
        )
        parent = DESTINATIONS.get(code[:2])
        rows.append(
            (
                not excluded,
                True,
                parent[1] if parent else UNKNOWN_BUCKET,
                parent[2] if parent else UNKNOWN_BUCKET,
            )
        )
    out = pd.DataFrame(
        rows, columns=["placed", "destination_known", "bucket_2024", "bucket_2021"], dtype=object
    )
    out.index = codes.index
    out["placed"] = out["placed"].astype(bool)
    out["destination_known"] = out["destination_known"].astype(bool)
    out["bucket_2024"] = pd.Categorical(out["bucket_2024"], categories=BUCKETS_2024)
    out["bucket_2021"] = pd.Categorical(out["bucket_2021"], categories=BUCKETS_2021)
    return out


@pytest.mark.parametrize("kind", ["string", "object", "category"])
def test_distinct_codes_classified_as_row_by_row(kind):
    rng = np.random.default_rng(5)
    values = np.array([*CODES, None], dtype=object)[rng.integers(0, len(CODES) + 1, 3_000)]
    index = pd.Index(rng.permutation(10_000)[:3_000])  # the caller's index is kept
    codes = pd.Series(values, index=index, dtype="string" if kind == "string" else object)
    if kind == "category":
        codes = codes.astype("category")
    got = classify_destinations(codes, POLICY.not_placed_codes, POLICY.not_placed_prefixes)
    assert_frame_equal(got, plain(codes))


def test_empty_and_all_missing():
    empty = pd.Series([], dtype="string")
    got = classify_destinations(empty, POLICY.not_placed_codes, POLICY.not_placed_prefixes)
    assert_frame_equal(got, plain(empty))
    none = pd.Series([None, None], dtype=object)
    got = classify_destinations(none, POLICY.not_placed_codes, POLICY.not_placed_prefixes)
    assert got["bucket_2024"].tolist() == [UNKNOWN_BUCKET] * 2 and not got["placed"].any()
