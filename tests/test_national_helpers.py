"""The vectorised placement and major helpers on a mid-size national-shaped set (200,000
graduates) give exactly the tables of a straightforward pandas implementation written here,
whether the text columns are categoricals as helpers.load reads them by default, Arrow strings
(``categories=False``) or categoricals whose categories are not in sorted order."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from helpers import load, majors, placement
from helpers.codes import GROUP_COLUMNS
from helpers.config import load_policy
from helpers.majors import EVIDENCE_LABELS, evidence_level
from helpers.rates import placement_rate, wilson_interval

AS_OF = dt.date(2023, 8, 31)
NOT_RECORDED = placement.NOT_RECORDED
KINDS = ["default", "strings", "categories"]


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """Processed graduates and universities of a generated national-shaped export, with some
    rows outside the denominator and some missing category values added."""
    from helpers.generate.national import generate_national
    from helpers.ingest import ingest

    data = tmp_path_factory.mktemp("national200k")
    generate_national(data, seed=8, total=200_000, institutions=400)
    ingest(AS_OF, data, workers=1)
    folder = data / "processed" / AS_OF.isoformat()
    path = folder / "graduates.parquet"
    columns = placement.CURRENT_COLUMNS
    frames = {
        "default": load.load_dataset(data, AS_OF, "graduates", columns=columns),
        "strings": load.load_dataset(data, AS_OF, "graduates", columns=columns, categories=False),
    }
    n = len(frames["strings"])
    rng = np.random.default_rng(8)
    masks = [rng.random(n) < p for p in (0.03, 0.02, 0.02, 0.02, 0.02, 0.01)]
    for g in frames.values():
        g.loc[masks[0], "in_denominator"] = False
        for col, mask in zip(("gender", "department", "urban_rural"), masks[1:4], strict=True):
            g.loc[mask, col] = pd.NA
        g.loc[masks[4], "willing_to_work"] = pd.NA
        g.loc[masks[5], "major_name"] = pd.NA  # a point's name from its next row
    assert (frames["default"].dtypes == "category").sum() >= 9
    unsorted = frames["strings"].copy()
    for col in unsorted.columns:
        if unsorted[col].dtype == "string" or unsorted[col].dtype == "str":
            values = sorted(unsorted[col].dropna().unique())[::-1]  # codes not in value order
            unsorted[col] = pd.Categorical(unsorted[col].astype(object), categories=values)
    frames["categories"] = unsorted
    u = load.load_dataset(data, AS_OF, "universities")
    assert pq.ParquetFile(path).metadata.num_rows == n >= 190_000
    return {**frames, "universities": u}


@pytest.fixture(scope="module")
def policy():
    return load_policy(2023)


# --- straightforward implementations -------------------------------------------------------
def plain_counts(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    d = df[df["in_denominator"].astype(bool)].copy()
    for c in by:
        d[c] = d[c].astype(object).where(d[c].notna(), NOT_RECORDED).astype(str)
    return (
        d.groupby(by, sort=True)
        .agg(
            graduates=("placed", "size"),
            placed=("placed", "sum"),
            known=("destination_known", "sum"),
        )
        .reset_index()
    )


def with_rates(t: pd.DataFrame, conf: float) -> pd.DataFrame:
    t = t.copy()
    t["placement_rate"] = placement_rate(t["placed"], t["graduates"])
    t["ci_low"], t["ci_high"] = wilson_interval(t["placed"], t["graduates"], conf)
    return t


def plain_by_university(df, universities, policy) -> pd.DataFrame:
    t = with_rates(plain_counts(df, ["university_code"]), policy.statistics.confidence)
    ref = universities.set_index("university_code")
    t["university_name"] = t["university_code"].map(ref["university_name"])
    t["baseline_rate"] = t["university_code"].map(ref["baseline_rate"]).astype(float)
    t["below_baseline"] = [
        pd.NA if pd.isna(b) else bool(r < b)
        for r, b in zip(t["placement_rate"], t["baseline_rate"], strict=True)
    ]
    return t


def plain_by_major(df, policy) -> pd.DataFrame:
    """placement.by_major: the 专业点 rates of plain_point_rates, without cohort, with coverage."""
    keys = ["university_code", "education_level", "major_code"]
    t = plain_point_rates(df, policy, keys)
    d = df[keys].astype(object).where(df[keys].notna(), NOT_RECORDED)
    d["_known"] = (df["in_denominator"] & df["destination_known"]).astype(np.int64)
    known = d.groupby(keys, sort=True)["_known"].sum().rename("known").reset_index()
    t = t.merge(known, on=keys, how="left")
    t["coverage_rate"] = placement_rate(t["known"], t["graduates"])
    t["evidence_label"] = t["evidence_level"].map(EVIDENCE_LABELS)
    return t


def plain_by_group(df, policy) -> pd.DataFrame:
    d = df[df["in_denominator"].astype(bool)]
    rows = []
    scopes = [(str(code), part) for code, part in d.groupby("university_code", sort=True)]
    scopes.append((placement.ALL, d))
    order = placement.group_order(policy)
    willing_groups = set(policy.assistance.willing_all_placed_groups)
    for group in order:
        col = GROUP_COLUMNS[group]
        for code, part in scopes:  # a loop over universities, then the province
            members = part[part[col].astype(bool)]
            if len(members) == 0 and code != placement.ALL:
                continue
            uni_rate = part["placed"].sum() / len(part)
            willing = members["willing_to_work"].fillna(True).astype(bool)
            rows.append(
                {
                    "university_code": code,
                    "group": group,
                    "graduates": len(members),
                    "placed": int(members["placed"].sum()),
                    "university_rate": uni_rate,
                    "willing_unplaced": int((willing & ~members["placed"]).sum()),
                }
            )
    t = with_rates(pd.DataFrame(rows), policy.statistics.confidence)
    t["gap"] = t["placement_rate"] - t["university_rate"]
    met = []
    for r in t.itertuples():
        if r.graduates == 0:
            met.append(pd.NA)
        elif r.group in policy.assistance.all_placed_groups:
            met.append(r.placed == r.graduates)
        elif r.group in willing_groups:
            met.append(r.willing_unplaced == 0)
        elif r.group in policy.assistance.rate_above_school_groups:
            met.append(bool(r.placement_rate > r.university_rate))
        else:
            met.append(pd.NA)
    t["target_met"] = pd.array(met, dtype="boolean")
    return t


def plain_point_rates(df, policy, keys=None) -> pd.DataFrame:
    """majors.point_rates with groupby, sort and merge: a missing key value is 未填报, a point
    without counted graduates keeps a row, the most frequent name, the first row's discipline."""
    keys = keys or ["university_code", "education_level", "major_code", "cohort"]
    text = [c for c in keys if c != "cohort"]
    d = df[[*keys, "major_name", "discipline_code", "discipline_name"]].astype(
        {c: object for c in (*text, "major_name", "discipline_code", "discipline_name")}
    )
    for c in text:
        d[c] = d[c].where(d[c].notna(), NOT_RECORDED)
    counted = df["in_denominator"].astype(bool).to_numpy()
    d["_n"] = counted.astype(np.int64)
    d["_placed"] = (counted & df["placed"].astype(bool).to_numpy()).astype(np.int64)
    t = d.groupby(keys, sort=True).agg(graduates=("_n", "sum"), placed=("_placed", "sum"))
    t = t.reset_index()
    names = d.groupby([*keys, "major_name"], dropna=False).size().rename("_c").reset_index()
    names = names.sort_values(  # most rows, then the smallest name, a missing name last
        [*keys, "_c", "major_name"], ascending=[True] * len(keys) + [False, True]
    ).drop_duplicates(keys)
    first = d.drop_duplicates(keys)
    first["discipline_code"] = first["discipline_code"].fillna("")
    first["discipline_name"] = first["discipline_name"].fillna("未知学科")
    t = t.merge(names[[*keys, "major_name"]], on=keys, how="left")
    t = t.merge(first[[*keys, "discipline_code", "discipline_name"]], on=keys, how="left")
    t = with_rates(t, policy.statistics.confidence)
    m = policy.majors
    t["evidence_level"] = evidence_level(
        t["graduates"], t["placement_rate"], t["ci_high"], m.threshold, m.min_graduates
    ).astype(str)
    return t


def same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], cols: list[str]):
    a = actual[keys + cols].copy()
    e = expected[keys + cols].copy()
    for k in keys:
        a[k], e[k] = a[k].astype(str), e[k].astype(str)
    a = a.sort_values(keys).reset_index(drop=True)
    e = e.sort_values(keys).reset_index(drop=True)
    for c in cols:
        if a[c].dtype.kind in "iub" or e[c].dtype.kind in "iub":
            a[c], e[c] = a[c].astype("Int64"), e[c].astype("Int64")
        elif c in ("target_met", "below_baseline"):
            a[c], e[c] = a[c].astype("boolean"), e[c].astype("boolean")
        elif a[c].dtype.kind != "f":
            a[c], e[c] = a[c].astype(object), e[c].astype(object)
    assert_frame_equal(a, e, check_dtype=False, rtol=1e-12, atol=0)


# --- the checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_by_university_matches_plain_groupby(national, policy, kind):
    placement.clear_memo()
    t, _ = placement.by_university(national[kind], national["universities"], policy)
    e = plain_by_university(national["strings"], national["universities"], policy)
    same(
        t,
        e,
        ["university_code"],
        [
            "university_name",
            "graduates",
            "placed",
            "known",
            "placement_rate",
            "ci_low",
            "ci_high",
            "baseline_rate",
            "below_baseline",
        ],
    )
    assert len(t) == 400 and t["graduates"].sum() == national["strings"]["in_denominator"].sum()


@pytest.mark.parametrize("kind", KINDS)
def test_by_major_matches_plain_groupby(national, policy, kind):
    placement.clear_memo()
    t = placement.by_major(national[kind], policy)
    e = plain_by_major(national["strings"], policy)
    same(
        t,
        e,
        ["university_code", "education_level", "major_code"],
        [
            "major_name",
            "discipline_code",
            "discipline_name",
            "graduates",
            "placed",
            "placement_rate",
            "ci_low",
            "ci_high",
            "coverage_rate",
            "evidence_level",
            "evidence_label",
        ],
    )
    keys = ["university_code", "education_level", "major_code"]
    assert list(t[keys].astype(str).itertuples(index=False)) == sorted(
        t[keys].astype(str).itertuples(index=False)
    )


@pytest.fixture(scope="module")
def plain_groups(national, policy) -> pd.DataFrame:
    """plain_by_group of the Arrow-string frame: the expectation of every kind, computed once."""
    return plain_by_group(national["strings"], policy)


@pytest.mark.parametrize("kind", KINDS)
def test_by_group_matches_plain_loops(national, policy, plain_groups, kind):
    placement.clear_memo()
    t = placement.by_group(national[kind], policy, national["universities"], protect=False)
    e = plain_groups
    same(
        t,
        e,
        ["university_code", "group"],
        [
            "graduates",
            "placed",
            "placement_rate",
            "ci_low",
            "ci_high",
            "university_rate",
            "gap",
            "target_met",
        ],
    )
    protected = placement.by_group(national[kind], policy, national["universities"])
    assert len(protected) == len(t) and "suppressed" in protected.columns


@pytest.mark.parametrize("by", [["gender"], ["department"], ["education_level", "urban_rural"]])
def test_rate_table_missing_values_are_a_group(national, policy, by):
    conf = policy.statistics.confidence
    for kind in KINDS:
        t = placement.rate_table(national[kind], by, conf)
        e = with_rates(plain_counts(national["strings"], by), conf)
        same(t, e, by, ["graduates", "placed", "known", "placement_rate", "ci_low", "ci_high"])
        assert (t[by[-1]].astype(str) == NOT_RECORDED).any()


def test_whole_frame_and_empty_frame(national, policy):
    conf = policy.statistics.confidence
    g = national["strings"]
    t = placement.rate_table(g, [], conf)
    d = g[g["in_denominator"]]
    assert t[["graduates", "placed", "known"]].iloc[0].tolist() == [
        len(d),
        int(d["placed"].sum()),
        int(d["destination_known"].sum()),
    ]
    none = placement.rate_table(g.iloc[:0], [], conf)
    assert none["graduates"].tolist() == [0] and none["placement_rate"].isna().all()
    assert placement.rate_table(g.iloc[:0], ["gender"], conf).empty


@pytest.mark.parametrize("kind", KINDS)
def test_point_rates_match_plain_groupby(national, policy, kind):
    g = national[kind].copy()
    g.loc[np.random.default_rng(9).random(len(g)) < 0.005, "major_code"] = pd.NA  # 未填报
    t = majors.point_rates(g, policy)
    e = plain_point_rates(g, policy)
    keys = ["university_code", "education_level", "major_code", "cohort"]
    same(
        t,
        e,
        keys,
        [
            "major_name",
            "discipline_code",
            "discipline_name",
            "graduates",
            "placed",
            "placement_rate",
            "ci_low",
            "ci_high",
            "evidence_level",
        ],
    )
    assert list(t[keys].astype(str).itertuples(index=False)) == sorted(
        t[keys].astype(str).itertuples(index=False)
    )
    assert t["graduates"].sum() == g["in_denominator"].sum()  # nothing left out
    assert (t["major_code"] == NOT_RECORDED).any()  # the rows without a code, as their own point
