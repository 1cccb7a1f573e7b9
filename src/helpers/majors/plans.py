"""Adjustment-plan tracking: which list a year's plans answer, the deadline, and who sent one."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.majors.evidence import FLAGGED_LEVELS
from helpers.majors.points import point_rates
from helpers.majors.snapshots import available_snapshots, cohort_snapshot, snapshot_rows

PLAN_STATUSES = ("按期报送", "逾期报送", "未报送（已逾期）", "未报送（未到截止日期）")


def plan_cohort(as_of: dt.date) -> int:
    """The cohort whose adjustment plans fall due in the calendar year of ``as_of``.

    The list of cohort C is sent early in C+1 and its plans are due on the policy deadline (04-01)
    of C+1, so the plans a report of year Y tracks are those of cohort Y-1 — before and after the
    deadline (received so far; then on time, late, missing).
    """
    return as_of.year - 1


def plan_deadline(cohort: int, policy) -> dt.date:
    """Deadline of the adjustment plans for the list of ``cohort`` (in the following year)."""
    return policy.date(policy.majors.adjustment_plan_deadline, cohort + 1)


def cohort_points(
    history: pd.DataFrame, cohort: int, policy, snapshots: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dt.date | None]:
    """Points of one cohort at its initial snapshot (or the stand-in of :func:`review_snapshot`)
    and the snapshot date; an empty frame and None when the cohort is not in ``history``."""
    pairs = available_snapshots(history if snapshots is None else snapshots)
    dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
    if not dates:
        return point_rates(history.iloc[:0], policy), None
    snapshot, _ = cohort_snapshot(dates, policy.date(policy.placement.initial_snapshot, cohort))
    return point_rates(snapshot_rows(history, cohort, snapshot), policy), snapshot


def adjustment_plan_status(
    points: pd.DataFrame, plans: pd.DataFrame, cohort: int, as_of: dt.date, policy
) -> pd.DataFrame:
    """Universities with flagged points in the list of ``cohort`` vs the plans received.

    ``points``: the points of ``cohort`` (from :func:`point_rates`); ``plans``: the processed
    ``adjustment_plans`` (university_code, received_date). A plan counts for this list when it was
    received after the cohort's initial snapshot date (the list's data) and on or before ``as_of``
    (a plan received later is not known yet); the earliest such plan of a university counts.
    Status: 按期报送 (on or before the deadline), 逾期报送 (after it), 未报送（已逾期） (none and the
    deadline has passed), 未报送（未到截止日期）; ``days_late``: days after the deadline (of the
    plan, or until ``as_of`` when none arrived).
    """
    deadline = plan_deadline(cohort, policy)
    list_date = policy.date(policy.placement.initial_snapshot, cohort)
    flagged = points[points["evidence_level"].isin(FLAGGED_LEVELS)]
    per_uni = (
        flagged.assign(_conf=(flagged["evidence_level"] == "below_confident").astype(np.int64))
        .groupby("university_code", observed=True)
        .agg(flagged_points=("major_code", "size"), below_confident_points=("_conf", "sum"))
    )
    received = pd.to_datetime(plans["received_date"]).dt.date
    bad = received.isna()
    if bad.any():
        raise ValueError(
            f"adjustment_plans: {int(bad.sum())} 行缺少报送日期 (received_date empty in rows "
            f"{list(plans.index[bad][:5])})"
        )
    valid = plans.assign(received_date=received)
    valid = valid[(valid["received_date"] > list_date) & (valid["received_date"] <= as_of)]
    first = valid.groupby("university_code", observed=True)["received_date"].min()
    out = per_uni.reset_index()
    out.insert(1, "cohort", cohort)
    out["deadline"] = deadline
    out["received_date"] = out["university_code"].map(first)
    has = out["received_date"].notna()
    late_days = (
        (pd.to_datetime(out["received_date"]) - pd.Timestamp(deadline))
        .dt.days.fillna(0)
        .to_numpy(np.int64)
    )
    overdue_days = (as_of - deadline).days
    status = np.select(
        [has & (late_days <= 0), has, overdue_days > 0],
        [PLAN_STATUSES[0], PLAN_STATUSES[1], PLAN_STATUSES[2]],
        default=PLAN_STATUSES[3],
    )
    out["plan_status"] = pd.array(status, dtype="string")
    days_late = np.where(has, np.maximum(late_days, 0), np.maximum(overdue_days, 0))
    out["days_late"] = days_late.astype(np.int64)
    order = pd.Categorical(out["plan_status"], categories=PLAN_STATUSES[::-1], ordered=True)
    return (
        out.assign(_o=order)
        .sort_values(["_o", "days_late", "university_code"], ascending=[True, False, True])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
