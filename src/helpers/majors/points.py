"""专业点 rates: the one function behind every per-point figure of both reports.

A 专业点 is one major at one education level of one university (``POINT_KEYS``).
:func:`point_rates` gives its graduates, placed, rate, Wilson interval and evidence level; the
placement report's by-major table (:func:`helpers.placement.by_major`) and the major-evidence
report (:func:`helpers.majors.major_evidence`) both call it, so they cannot disagree about a
point. The rules, one for both reports:

- only ``in_denominator`` rows count (结业/肄业 per policy), but a point whose graduates are all
  outside the denominator keeps a row with 0 graduates (rate and interval empty, evidence
  ``insufficient``): a point the data holds never disappears from a list of points;
- a missing key value (院校代码, 学历层次, 专业代码) is grouped as 未填报, never dropped;
- the name is the most frequent 专业名称 among the point's rows (ties: the smallest; a missing
  name counts as a value), so it does not depend on the order of the rows; the discipline is
  that of the point's first row (ingest derives it from the code: all rows agree), 未知学科
  when it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from helpers import grouping
from helpers.majors.evidence import EVIDENCE_LABELS, evidence_level
from helpers.rates import placement_rate, wilson_interval

POINT_KEYS = ("university_code", "education_level", "major_code")
NOT_RECORDED = "未填报"  # a missing key or category value, grouped and shown, never dropped
UNKNOWN_DISCIPLINE = "未知学科"


def point_rates(
    graduates: pd.DataFrame,
    policy,
    keys: Sequence[str] = POINT_KEYS,
    by: Sequence[str] = ("cohort",),
    coverage: bool = False,
) -> pd.DataFrame:
    """Graduates, placed, rate, Wilson interval and evidence level per 专业点 and ``by``.

    ``graduates``: processed graduates rows (one snapshot per cohort). ``by``: further keys
    (default: per cohort; the placement report, on one snapshot, passes none). ``coverage``: also
    ``known`` (rows with ``destination_known``) and ``coverage_rate``. The rules (missing keys,
    points without counted graduates, the name) are the module's. Rows come in ascending key
    order; keys are text, ``cohort`` an integer, ``evidence_level`` categorical.
    """
    keys = [*keys, *by]
    needed = {*keys, "major_name", "discipline_code", "discipline_name", "in_denominator", "placed"}
    if coverage:
        needed.add("destination_known")
    missing = needed - set(graduates.columns)
    if missing:
        raise ValueError(f"graduates frame lacks columns {sorted(missing)}")
    for col in by:  # not a 专业点 key: a row without it cannot be placed in a group
        blank = int(graduates[col].isna().sum())
        if blank:
            raise ValueError(f"graduates frame: {blank} rows without {col}")
    # one pass over integer codes (helpers.grouping): counts, the most frequent name and the
    # first row's discipline per point
    counted = grouping.as_bool(graduates["in_denominator"])
    flags = {"counted": counted, "placed": counted & grouping.as_bool(graduates["placed"])}
    if coverage:
        flags["known"] = counted & grouping.as_bool(graduates["destination_known"])
    c = grouping.count_groups(
        graduates,
        keys,
        flags,
        missing=NOT_RECORDED,
        mode=["major_name"],
        first_row=["discipline_code", "discipline_name"],
    )
    out = c.keys.copy()
    for col in keys:
        out[col] = out[col].astype(int) if col == "cohort" else out[col].astype("string")
    out["major_name"] = c.first["major_name"].array
    out["major_name"] = out["major_name"].astype("string")
    out["discipline_code"] = c.first["discipline_code"].astype("string").fillna("").array
    out["discipline_name"] = (
        c.first["discipline_name"].astype("string").fillna(UNKNOWN_DISCIPLINE).array
    )
    out["graduates"] = c.count("counted")
    out["placed"] = c.count("placed")
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    out["ci_low"], out["ci_high"] = wilson_interval(
        out["placed"], out["graduates"], policy.statistics.confidence
    )
    if coverage:
        out["known"] = c.count("known")
        out["coverage_rate"] = placement_rate(out["known"], out["graduates"])
    out["evidence_level"] = evidence_level(
        out["graduates"],
        out["placement_rate"],
        out["ci_high"],
        policy.majors.threshold,
        policy.majors.min_graduates,
    )
    out["evidence_label"] = out["evidence_level"].map(EVIDENCE_LABELS).astype("string")
    columns = [
        *keys[: len(keys) - len(by)],
        "major_name",
        "discipline_code",
        "discipline_name",
        *by,
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        *(["known", "coverage_rate"] if coverage else []),
        "evidence_level",
        "evidence_label",
    ]
    return out[columns].sort_values(keys, kind="stable").reset_index(drop=True)
