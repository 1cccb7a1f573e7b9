"""Rates by category (学历层次, discipline, any categorical column, 院系), by 专业点, and the
destination mix under both rules.
"""

from __future__ import annotations

import pandas as pd

from helpers.codes import BUCKETS_2021, BUCKETS_2024
from helpers.majors.evidence import EVIDENCE_LABELS
from helpers.majors.points import point_rates
from helpers.placement.aggregate import (
    ALL,
    denominator,
    memoized,
    one_university,
    rate_table,
    with_province,
)
from helpers.placement.universities import attach_names
from helpers.rates import placement_rate

RULES = {"2024": ("bucket_2024", BUCKETS_2024), "2021": ("bucket_2021", BUCKETS_2021)}
RULE_LABELS = {"2024": "2024年口径", "2021": "2021年口径"}


def by_level(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """By 学历层次 (province; in university mode the university first)."""
    return with_province(current, ["education_level"], policy.statistics.confidence, university)


def by_discipline(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """By discipline within level: 学科门类 (本科/研究生) and 专业大类 (专科)."""
    return with_province(
        current,
        ["education_level", "discipline_code", "discipline_name"],
        policy.statistics.confidence,
        university,
    )


def by_category(
    current: pd.DataFrame, column: str, policy, university: str | None = None
) -> pd.DataFrame:
    """By one categorical column (``gender``, ``urban_rural``, ``department``, ...)."""
    return with_province(current, [column], policy.statistics.confidence, university)


def by_department(current: pd.DataFrame, policy, university: str) -> pd.DataFrame:
    """A university's departments (所在院系), with the university total last."""
    own = one_university(current, university)
    t = rate_table(own, ["department"], policy.statistics.confidence)
    total = rate_table(own, [], policy.statistics.confidence)
    total.insert(0, "department", "全校合计")
    out = pd.concat([t, total], ignore_index=True)
    out.insert(0, "university_code", university)
    return out


def by_major(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """Every 专业点 (university, 学历层次, major): rate, interval, coverage and evidence level.

    The figures are those of :func:`helpers.majors.point_rates`, the one 专业点-rate function the
    major-evidence report uses too (its rules: a missing key is 未填报, a point without counted
    graduates keeps a row with 0, the name is the most frequent one). ``evidence_level`` uses
    ``policy.majors.threshold`` / ``min_graduates``; ``evidence_label`` is its Chinese label. A
    major code the catalogue does not list is kept as it is (its discipline may be 其他).
    """
    if university is None:
        return memoized("by_major", current, (policy,), lambda: _by_major(current, policy))
    return _by_major(one_university(current, university), policy)


def _by_major(d: pd.DataFrame, policy) -> pd.DataFrame:
    t = point_rates(d, policy, by=(), coverage=True).drop(columns="known")
    t["evidence_level"] = t["evidence_level"].astype("object")
    t["evidence_label"] = t["evidence_level"].map(EVIDENCE_LABELS)
    return t


def evidence_counts(majors: pd.DataFrame) -> pd.DataFrame:
    """Number of 专业点 per evidence level (and their graduates)."""
    g = majors.groupby("evidence_level", observed=True).agg(
        count=("major_code", "size"), graduates=("graduates", "sum")
    )
    g = g.reindex(list(EVIDENCE_LABELS), fill_value=0).reset_index()
    g["evidence_label"] = g["evidence_level"].map(EVIDENCE_LABELS)
    return g[["evidence_level", "evidence_label", "count", "graduates"]]


# --- destination mix -----------------------------------------------------------------------------
def _mix_counts(current: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Graduates per (university, bucket) under each rule, with the ALL row."""
    d = denominator(current)
    out = []
    for col, buckets in RULES.values():
        counts = pd.crosstab(
            d["university_code"].astype(str), d[col].astype("string").fillna(buckets[-1])
        )
        counts = counts.reindex(columns=list(buckets), fill_value=0)
        counts.loc[ALL] = counts.sum()
        out.append(counts)
    return tuple(out)


def destination_mix(
    current: pd.DataFrame, universities: pd.DataFrame | None = None, university: str | None = None
) -> pd.DataFrame:
    """Shares of each destination bucket under both rules, per university and for the province.

    Long table: university_code, university_name, rule, bucket, count, graduates, share; every
    bucket of a rule is listed (0 counts included), shares of a university sum to 1 per rule.
    """
    if university is not None:
        one_university(current, university)
    tables = memoized("mix_counts", current, (), lambda: _mix_counts(current))
    frames = []
    for rule, counts in zip(RULES, tables, strict=True):
        if university is not None:
            counts = counts.loc[[university, ALL]]
        long = counts.stack().rename("count").reset_index()
        long.columns = ["university_code", "bucket", "count"]
        long["graduates"] = long.groupby("university_code")["count"].transform("sum")
        long.insert(1, "rule", RULE_LABELS[rule])
        frames.append(long)
    out = pd.concat(frames, ignore_index=True)
    out["count"] = out["count"].astype("int64")
    out["graduates"] = out["graduates"].astype("int64")
    out["share"] = placement_rate(out["count"], out["graduates"])
    return attach_names(out, universities)
