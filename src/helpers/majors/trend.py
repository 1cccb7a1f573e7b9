"""The same 专业点 in earlier cohorts: rates per cohort and runs of cohorts below the threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.majors.points import POINT_KEYS, point_rates
from helpers.majors.snapshots import (
    ReviewSnapshot,
    available_snapshots,
    cohort_snapshot,
    snapshot_mask,
)
from helpers.rates import placement_rate, wilson_interval


def trend_snapshots(snapshots: pd.DataFrame, review: ReviewSnapshot, policy) -> pd.DataFrame:
    """(cohort, snapshot_date, is_initial) of the cohort under review and up to
    ``majors.trend_cohorts`` earlier cohorts, each at its initial snapshot (or the stand-in rule of
    :func:`review_snapshot`). Cohorts without any snapshot are left out."""
    pairs = available_snapshots(snapshots)
    rows = []
    for cohort in range(review.cohort - policy.majors.trend_cohorts, review.cohort):
        dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
        if not dates:
            continue
        snapshot, is_initial = cohort_snapshot(
            dates, policy.date(policy.placement.initial_snapshot, cohort)
        )
        rows.append((cohort, snapshot, is_initial))
    rows.append((review.cohort, review.snapshot_date, review.is_initial))
    return pd.DataFrame(rows, columns=["cohort", "snapshot_date", "is_initial"])


def cohort_trend(
    history: pd.DataFrame, review: ReviewSnapshot, policy, snapshots: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per-point rates of the cohort under review and its earlier cohorts (long: one row per point
    and cohort), each cohort at its own initial snapshot; ``below_threshold`` marks rate < threshold.
    Points of earlier cohorts that no longer exist stay in the frame (their own history)."""
    chosen = trend_snapshots(history if snapshots is None else snapshots, review, policy)
    pairs = zip(chosen["cohort"], chosen["snapshot_date"], strict=True)
    rows = history[snapshot_mask(history, pairs)]
    trend = point_rates(rows, policy)
    trend = trend.merge(chosen, on="cohort", how="left")
    trend["below_threshold"] = (trend["placement_rate"] < policy.majors.threshold).astype(bool)
    return trend


def trend_flags(trend: pd.DataFrame, review_cohort: int, policy) -> pd.DataFrame:
    """Per point (of any cohort in ``trend``): cohorts observed, cohorts below the threshold, the
    run of consecutive cohorts below the threshold ending at the cohort under review, whether that
    run is at least two cohorts ("连续两届低于50%"), and the previous cohort's rate and size.

    A cohort missing from the data breaks a run; so does a cohort with no counted graduates.
    """
    keys = list(POINT_KEYS)
    cohorts = list(range(review_cohort - policy.majors.trend_cohorts, review_cohort + 1))
    observed = trend[trend["graduates"] > 0]
    below = observed.pivot_table(
        index=keys, columns="cohort", values="below_threshold", aggfunc="max", observed=True
    )
    below = below.reindex(columns=cohorts[::-1]).astype(float).fillna(0.0).astype(bool)
    run = np.cumprod(below.to_numpy(), axis=1).sum(axis=1)
    out = pd.DataFrame(
        {
            "cohorts_observed": observed.groupby(keys, observed=True)["cohort"]
            .nunique()
            .reindex(below.index)
            .to_numpy(),
            "cohorts_below": below.sum(axis=1).to_numpy(),
            "consecutive_below": run,
        },
        index=below.index,
    ).reset_index()
    out["below_two_consecutive"] = out["consecutive_below"] >= 2
    prev = trend.loc[trend["cohort"] == review_cohort - 1, [*keys, "graduates", "placement_rate"]]
    prev = prev.rename(
        columns={"graduates": "previous_cohort_graduates", "placement_rate": "previous_cohort_rate"}
    )
    out = out.merge(prev, on=keys, how="left")
    out["previous_cohort"] = review_cohort - 1
    out["previous_cohort_graduates"] = out["previous_cohort_graduates"].astype("Int64")
    # two cohorts pooled (this one and the previous one), as the College Scorecard pools years for
    # small units and the MOE two-year rule confirms flags: confirmed when this cohort's rate is
    # below the threshold and the pooled interval lies wholly below it
    this = trend.loc[
        trend["cohort"] == review_cohort, [*keys, "graduates", "placed", "placement_rate"]
    ]
    last = trend.loc[trend["cohort"] == review_cohort - 1, [*keys, "graduates", "placed"]]
    both = this.merge(last, on=keys, how="left", suffixes=("", "_prev"))
    n2 = both["graduates"] + both["graduates_prev"].fillna(0)
    x2 = both["placed"] + both["placed_prev"].fillna(0)
    lo2, hi2 = wilson_interval(x2, n2, policy.statistics.confidence)
    pooled = both[keys].assign(
        two_cohort_graduates=n2.astype(np.int64),
        two_cohort_rate=placement_rate(x2, n2),
        two_cohort_ci_low=lo2,
        two_cohort_ci_high=hi2,
    )
    pooled["two_cohort_confirmed"] = (
        (both["graduates_prev"].fillna(0).to_numpy() > 0)
        & (both["placement_rate"].to_numpy() < policy.majors.threshold)
        & (hi2 < policy.majors.threshold)
    )
    return out.merge(pooled, on=keys, how="left")
