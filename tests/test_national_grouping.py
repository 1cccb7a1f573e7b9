"""helpers.grouping: integer-code group counts equal plain pandas groupby, for every key dtype,
missing keys, every counting path (direct histogram, dense ids, factorized codes) and first
values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import grouping

MISSING = "未填报"


def frame(n: int = 5_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    uni = rng.choice(["10386", "10384", "12631", "99999"], n)
    level = rng.choice(["本科", "专科", "硕士"], n).astype(object)
    level[rng.random(n) < 0.05] = None
    dept = rng.choice([f"学院{i:02d}" for i in range(30)], n).astype(object)
    dept[rng.random(n) < 0.05] = None
    name = rng.choice(["甲", "乙", "丙"], n).astype(object)
    name[rng.random(n) < 0.3] = None
    return pd.DataFrame(
        {
            "uni": pd.array(uni, dtype="string"),
            "level": pd.array(level, dtype="str"),
            "dept": pd.Series(dept, dtype=object),
            "cohort": rng.choice([2021, 2022, 2023], n).astype(np.int16),
            "name": pd.array(name, dtype="string"),
            "placed": rng.random(n) < 0.7,
            "known": pd.array(rng.random(n) < 0.9, dtype="boolean"),
            "flag": rng.random(n) < 0.1,
            "keep": rng.random(n) < 0.9,
        }
    )


def as_categories(df: pd.DataFrame, cols) -> pd.DataFrame:
    out = df.copy()
    for c in cols:  # categories in an unsorted order, as a Parquet dictionary gives them
        cats = list(pd.unique(df[c].dropna()))
        out[c] = pd.Categorical(df[c].astype(object), categories=cats[::-1])
    return out


def plain(df, by, mask=None, missing=None) -> pd.DataFrame:
    d = df if mask is None else df[mask]
    d = d.copy()
    if missing is not None:
        for c in by:
            d[c] = d[c].astype(object).where(d[c].notna(), missing)
    d = d.assign(
        _placed=d["placed"].astype(bool).astype(int),
        _both=(d["placed"].astype(bool) & d["flag"]).astype(int),
        _known=d["known"].fillna(False).astype(bool).astype(int),
    )
    g = d.groupby(by, sort=True, dropna=missing is None).agg(
        size=("placed", "size"),
        placed=("_placed", "sum"),
        both=("_both", "sum"),
        known=("_known", "sum"),
    )
    out = g.reset_index()
    for c in by:
        out[c] = out[c].astype(object)
    return out


def counted(df, by, mask=None, missing=None) -> pd.DataFrame:
    c = grouping.count_groups(
        df, by, {"placed": "placed", "flag": "flag", "known": df["known"]}, mask, missing
    )
    out = c.keys.copy()
    out["size"] = c.size()
    out["placed"] = c.count("placed")
    out["both"] = c.count("placed", "flag")
    out["known"] = c.count("known")
    for col in by:
        out[col] = out[col].astype(object)
    return out


CASES = [["uni"], ["level"], ["dept"], ["uni", "level"], ["uni", "dept", "cohort"], ["cohort"]]


@pytest.fixture(params=["one slice", "slices on threads"])
def slicing(request, monkeypatch):
    if request.param != "one slice":  # slices of 97 rows on two threads
        monkeypatch.setattr(grouping, "SLICE_ROWS", 97)
        monkeypatch.setattr(grouping, "THREADS", 2)
    return request.param


@pytest.mark.parametrize("by", CASES)
@pytest.mark.parametrize("missing", [None, MISSING])
@pytest.mark.parametrize("cats", [False, True])
def test_counts_equal_groupby(by, missing, cats, slicing):
    df = frame()
    src = as_categories(df, [c for c in by if c != "cohort"]) if cats else df
    e = plain(df, by, df["keep"].to_numpy(), missing)
    a = counted(src, by, df["keep"].to_numpy(), missing)
    pd.testing.assert_frame_equal(a, e, check_dtype=False)


@pytest.mark.parametrize(("limit", "n"), [(64, 400), (1, 30)])
def test_dense_and_factorized_paths(monkeypatch, limit, n, slicing):
    # a tiny histogram limit sends the counting through dense group numbers (400 rows) or
    # through factorized key combinations (30 rows: the key space is larger than 4x the rows)
    monkeypatch.setattr(grouping, "_MAX_BINS", limit)
    calls = []
    factorize = pd.factorize
    monkeypatch.setattr(  # key combinations are factorized with sort=True (codes: without)
        pd, "factorize", lambda *a, **k: calls.append(k.get("sort")) or factorize(*a, **k)
    )
    df = frame(n=n)
    for by in (["uni", "dept", "cohort"], ["dept", "level"]):
        e = plain(df, by, None, MISSING)
        a = counted(df, by, None, MISSING)
        pd.testing.assert_frame_equal(a, e, check_dtype=False)
        c = grouping.count_groups(df, by, missing=MISSING, first=["name"])
        first = c.first["name"].astype(object).where(c.first["name"].notna(), None)
        assert first.tolist() == plain_first(df, by, "name")
    assert (True in calls) == (n == 30)


def plain_first(df, by, col) -> list:
    """groupby.first of ``col`` for every group of count_groups(missing=MISSING), in its order:
    groups made only of rows with a missing key have no first value."""
    d = df.copy()
    filled = d.copy()
    for c in by:
        filled[c] = d[c].astype(object).where(d[c].notna(), MISSING)
    keys = filled.groupby(by, sort=True).size().index
    first = d.groupby(by, sort=True)[col].first()  # rows with a missing key are dropped
    out = []
    for k in keys:
        k = k if isinstance(k, tuple) else (k,)
        v = first.get(k if len(k) > 1 else k[0], None)
        out.append(None if v is None or pd.isna(v) else v)
    return out


@pytest.mark.parametrize("by", [["uni"], ["uni", "level"], ["dept", "cohort"]])
def test_first_values_equal_groupby_first(by, slicing):
    df = frame()
    c = grouping.count_groups(df, by, missing=MISSING, first=["name", "dept"])
    first = c.first["name"].astype(object).where(c.first["name"].notna(), None)
    assert first.tolist() == plain_first(df, by, "name")
    cats = grouping.count_groups(as_categories(df, ["name"]), by, missing=MISSING, first=["name"])
    assert cats.first["name"].astype(object).where(cats.first["name"].notna(), None).tolist() == (
        first.tolist()
    )


def test_key_codes_sorted_labels_and_missing():
    s = pd.Series(["b", None, "a", "c", "a"], dtype="string")
    codes, labels = grouping.key_codes(s)
    assert labels.tolist() == ["a", "b", "c"] and codes.tolist() == [1, -1, 0, 2, 0]
    codes, labels = grouping.key_codes(s, missing="z")
    assert labels.tolist() == ["a", "b", "c", "z"] and codes.tolist() == [1, 3, 0, 2, 0]
    codes, labels = grouping.key_codes(s, missing="b")  # a real value equal to the label
    assert labels.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 1, 0, 2, 0]
    cat = pd.Series(pd.Categorical(["b", None, "a"], categories=["c", "b", "a"]))
    codes, labels = grouping.key_codes(cat)
    assert labels.tolist() == ["a", "b", "c"] and codes.tolist() == [1, -1, 0]
    codes, labels = grouping.key_codes(pd.Series([2023, 2021, 2023], dtype=np.int16))
    assert labels.tolist() == [2021, 2023] and codes.tolist() == [1, 0, 1]


def test_empty_frames_and_no_keys():
    df = frame(n=50)
    c = grouping.count_groups(df.iloc[:0], ["uni"], {"placed": "placed"})
    assert c.keys.empty and c.size().size == 0
    whole = grouping.count_groups(df, [], {"placed": "placed"})
    assert whole.size().tolist() == [50] and whole.count("placed")[0] == df["placed"].sum()


def test_too_many_flags():
    df = frame(n=10)
    flags = {f"f{i}": "placed" for i in range(grouping.MAX_FLAGS + 1)}
    with pytest.raises(ValueError, match="at most"):
        grouping.count_groups(df, ["uni"], flags)


def test_mode_and_first_row_equal_pandas(slicing):
    df = frame()
    df["name2"] = df["name"].astype(object)
    by = ["uni", "level"]
    c = grouping.count_groups(df, by, mode=["name", "dept"], first_row=["name2", "cohort"])
    # groups of count_groups(missing=None): rows with a missing key belong to none
    d = df[df[by].notna().all(axis=1)]

    def listed(s: pd.Series) -> list:
        return s.astype(object).where(s.notna(), None).tolist()

    for col in ("name", "dept"):  # most rows; ties: smallest value, missing last
        counts = d.groupby([*by, col], dropna=False).size().rename("_n").reset_index()
        counts["_na"] = counts[col].isna()
        counts = counts.sort_values(
            [*by, "_n", "_na", col], ascending=[True, True, False, True, True]
        )
        assert listed(c.first[col]) == listed(counts.drop_duplicates(by)[col])
    first = d.drop_duplicates(by).sort_values(by)  # the first row, missing values included
    assert listed(c.first["name2"]) == listed(first["name2"])
    assert c.first["cohort"].tolist() == first["cohort"].tolist()
    assert c.first["name2"].isna().any()


@pytest.mark.parametrize("cats", [False, True])
def test_counts_without_selection_and_mode_of_single_valued_groups(cats, slicing):
    df = frame()
    # one value per (uni, level) group, except where a few rows say otherwise or nothing at all
    rng = np.random.default_rng(4)
    single = (df["uni"].astype(str) + "-" + df["level"].astype(str)).astype(object)
    single[df["uni"] == "10384"] = None  # a group of missing values only
    odd = rng.random(len(df)) < 0.01
    single[odd] = "其他"
    df["single"] = pd.array(single, dtype="string")
    src = as_categories(df, ["uni", "level", "single"]) if cats else df
    for by in (["uni"], ["uni", "level"], ["level", "dept"]):
        e = plain(df, by, None, MISSING)
        a = counted(src, by, None, MISSING)
        pd.testing.assert_frame_equal(a, e, check_dtype=False)
    by = ["uni", "level"]
    c = grouping.count_groups(src, by, mode=["single"])
    d = df[df[by].notna().all(axis=1)]
    counts = d.groupby([*by, "single"], dropna=False).size().rename("_n").reset_index()
    counts["_na"] = counts["single"].isna()
    counts = counts.sort_values(
        [*by, "_n", "_na", "single"], ascending=[True, True, False, True, True]
    )
    expected = counts.drop_duplicates(by)["single"].astype(object)
    got = c.first["single"].astype(object)
    assert got.where(got.notna(), None).tolist() == expected.where(expected.notna(), None).tolist()
    assert got.isna().any() and (got == "其他").sum() == 0


def test_empty_frame_with_first_and_mode():
    df = frame(n=50).iloc[:0]
    c = grouping.count_groups(df, ["uni"], mask=np.zeros(0, bool), first=["name"], mode=["dept"])
    assert c.keys.empty and len(c.first["name"]) == 0 and len(c.first["dept"]) == 0
