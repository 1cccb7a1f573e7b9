"""Every university's rate, its baseline, the policy line and its funnel position; university names
and the university-mode checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers import memo
from helpers.placement.aggregate import (
    ALL,
    PROVINCE_NAME,
    UNIVERSITY_COLUMNS,
    memoized,
    one_university,
    rate_table,
)
from helpers.rates import FUNNEL_ZONE_LABELS, Overdispersion, funnel_assessment, pooled_rate
from helpers.tables import register_headers

register_headers(
    {
        "funnel_method": "控制限方法",
        "overdispersion_phi": "离散度φ",
        "overdispersion_chi2": "卡方统计量",
        "overdispersion_dof": "自由度",
        "overdispersion_p": "卡方检验p值",
        "overdispersion_tau2": "随机效应方差τ²（反正弦尺度）",
        "overdispersed": "存在过度离散",
        "units": "单位数",
    },
)


def _names(universities: pd.DataFrame | None) -> pd.DataFrame | None:
    if universities is None:
        return None
    cols = [c for c in UNIVERSITY_COLUMNS if c in universities.columns]
    return universities[cols].drop_duplicates("university_code")


def attach_names(
    df: pd.DataFrame,
    universities: pd.DataFrame | None,
    columns: Sequence[str] = ("university_name",),
) -> pd.DataFrame:
    """Add university columns after ``university_code``; ALL rows are named 全省."""
    ref = _names(universities)
    out = df.copy()
    pos = out.columns.get_loc("university_code") + 1
    for i, col in enumerate(columns):
        if ref is not None and col in ref.columns:
            values = out["university_code"].map(ref.set_index("university_code")[col])
        else:
            values = pd.Series(pd.NA, index=out.index, dtype="object")
        if col == "university_name":
            values = values.astype("object")
            values[out["university_code"] == ALL] = PROVINCE_NAME
            unknown = values.isna()
            values[unknown] = out.loc[unknown, "university_code"]  # unnamed: show the code
        out.insert(pos + i, col, values)
    return out


def by_university(
    current: pd.DataFrame, universities: pd.DataFrame | None, policy
) -> tuple[pd.DataFrame, Overdispersion]:
    """Every university: rate with interval, baseline, the policy line and its funnel position.

    ``baseline_rate`` is the university's previous initial rate (universities reference);
    ``below_baseline`` is <NA> when there is none. The funnel is centred on the pooled provincial
    rate with exact binomial limits at ``statistics.funnel_alert`` / ``funnel_alarm``, or the
    random-effects limits when the universities are overdispersed (methods.md §2.2). Ranked by
    rate (1 = highest).
    """
    return memoized(
        "by_university",
        current,
        (policy, memo.frame_token(universities)),
        lambda: _by_university(current, universities, policy),
    )


def _by_university(
    current: pd.DataFrame, universities: pd.DataFrame | None, policy
) -> tuple[pd.DataFrame, Overdispersion]:
    st = policy.statistics
    t = rate_table(current, ["university_code"], st.confidence)
    pooled = pooled_rate(t["placed"], t["graduates"])
    t = attach_names(t, universities, ("university_name", "school_level", "ownership"))
    ref = _names(universities)
    if ref is not None and "baseline_rate" in ref.columns:
        t["baseline_rate"] = (
            t["university_code"]
            .map(ref.set_index("university_code")["baseline_rate"])
            .astype(float)
        )
    else:
        t["baseline_rate"] = np.nan
    below = t["placement_rate"] < t["baseline_rate"]
    t["below_baseline"] = pd.array(below, dtype="boolean")
    t.loc[t["baseline_rate"].isna(), "below_baseline"] = pd.NA
    t["policy_rate"] = policy.placement.provincial_average
    t["below_policy_rate"] = t["placement_rate"] < t["policy_rate"]
    t["provincial_rate"] = pooled
    funnel, od = funnel_assessment(
        t["placed"],
        t["graduates"],
        target=pooled,
        alert=st.funnel_alert,
        alarm=st.funnel_alarm,
        winsor=st.winsor,
    )
    t = pd.concat([t, funnel.reset_index(drop=True)], axis=1)
    t["funnel_zone"] = t["funnel_zone"].map(FUNNEL_ZONE_LABELS).astype("object")
    t["rank"] = t["placement_rate"].rank(ascending=False, method="min").astype("Int64")
    return t.sort_values(["rank", "university_code"], kind="stable").reset_index(drop=True), od


def overdispersion_table(od: Overdispersion, scope: str = "各高校落实率") -> pd.DataFrame:
    """One row describing the overdispersion test and which limits were used."""
    return pd.DataFrame(
        [
            {
                "category": scope,
                "units": od.units,
                "provincial_rate": od.target,
                "overdispersion_phi": od.phi,
                "overdispersion_chi2": od.chi2,
                "overdispersion_dof": od.dof,
                "overdispersion_p": od.p_value,
                "overdispersion_tau2": od.tau2,
                "overdispersed": od.overdispersed,
                "funnel_method": "随机效应调整（反正弦尺度）" if od.overdispersed else "精确二项",
            }
        ]
    )


def university_row(table: pd.DataFrame, university: str) -> pd.DataFrame:
    """The university's own row of :func:`by_university` (university mode: nothing else)."""
    row = table[table["university_code"] == university]
    if row.empty:
        raise ValueError(f"院校代码 {university} is not in the placement table of this date")
    return row.drop(columns=["rank"]).reset_index(drop=True)


def university_name(universities: pd.DataFrame | None, university: str) -> str:
    """The university's name from the reference (its code when the reference lacks it)."""
    if universities is not None:
        hit = universities.loc[universities["university_code"] == university, "university_name"]
        if len(hit) and pd.notna(hit.iloc[0]):
            return str(hit.iloc[0])
    return university


def check_university(current: pd.DataFrame, university: str | None) -> str | None:
    """Normalise and check the ``university`` parameter of a report (None = province)."""
    if university is None:
        return None
    code = str(university).strip()
    if not (len(code) == 5 and code.isdigit()):
        raise ValueError(f"university must be a 5-digit 院校代码 or None, got {university!r}")
    one_university(current, code)
    return code


def with_names(df: pd.DataFrame, universities: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``university_name`` after ``university_code`` (ALL rows: 全省)."""
    if "university_name" in df.columns:
        return df
    return attach_names(df, universities)
