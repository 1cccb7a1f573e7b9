"""Which cohort a major-evidence report reviews and which snapshot gives its (initial) rate.

The notice judges a 专业点 by its initial placement rate (初次毕业去向落实率, the 08-31 snapshot);
:func:`review_snapshot` picks the cohort under review for a reporting date and the snapshot that
stands for its initial rate, and says in Chinese which one it took.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ReviewSnapshot:
    """The cohort under review and the snapshot that gives its (initial) rate.

    ``is_initial`` is False when the policy's initial snapshot (08-31) of that cohort is not in the
    data yet and another snapshot stands in for it; ``note`` says so in Chinese for the report.
    """

    cohort: int
    snapshot_date: dt.date
    initial_date: dt.date
    is_initial: bool
    note: str

    @property
    def deadline_year(self) -> int:
        """Adjustment plans for this cohort are due in the following year."""
        return self.cohort + 1


def available_snapshots(history: pd.DataFrame) -> pd.DataFrame:
    """Distinct (cohort, snapshot_date) pairs of a graduates history frame, oldest first."""
    pairs = history[["cohort", "snapshot_date"]].drop_duplicates()
    if pairs["snapshot_date"].isna().any():
        raise ValueError("graduates history has rows without snapshot_date")
    pairs = pairs.assign(
        cohort=pairs["cohort"].astype(int),
        snapshot_date=pd.to_datetime(pairs["snapshot_date"]).dt.date,
    )
    return pairs.sort_values(["cohort", "snapshot_date"]).reset_index(drop=True)


def cohort_snapshot(dates: list[dt.date], initial: dt.date) -> tuple[dt.date, bool]:
    """The initial snapshot when present; else the newest one before it; else the nearest after."""
    if initial in dates:
        return initial, True
    before = [d for d in dates if d < initial]
    if before:
        return max(before), False
    return min(dates), False


def review_snapshot(snapshots: pd.DataFrame, as_of: dt.date, policy) -> ReviewSnapshot:
    """Choose the cohort under review and its snapshot for a reporting date.

    Rule (documented in the report): for ``as_of`` in year Y the cohort under review is Y once Y's
    initial snapshot date (policy ``placement.initial_snapshot``, 08-31) has been reached, and Y-1
    before that: the department sends the list of the previous cohort early in the year and the
    plans are due on ``majors.adjustment_plan_deadline`` (04-01) of the year after the cohort. When
    that cohort has no snapshot in the data, the newest cohort that has one is used instead. The
    rate comes from the cohort's initial snapshot; before it exists, from the newest earlier
    snapshot (``is_initial`` False, and the note says so).

    ``snapshots``: frame with ``cohort`` and ``snapshot_date`` (see :func:`available_snapshots`),
    only snapshots on or before ``as_of`` are considered.
    """
    initial_md = policy.placement.initial_snapshot
    pairs = available_snapshots(snapshots)
    pairs = pairs[pairs["snapshot_date"] <= as_of]
    if pairs.empty:
        raise ValueError(
            f"没有 {as_of} 及以前的毕业去向快照 (no graduates snapshot on or before {as_of})"
        )
    year_initial = policy.date(initial_md, as_of.year)
    wanted = as_of.year if as_of >= year_initial else as_of.year - 1
    cohorts = set(pairs["cohort"])
    cohort = wanted if wanted in cohorts else int(max(cohorts))
    initial = policy.date(initial_md, cohort)
    dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
    snapshot, is_initial = cohort_snapshot(dates, initial)

    why = (
        f"报告日期 {as_of.isoformat()} 已到 {as_of.year} 届初次统计日（{year_initial.isoformat()}），审核对象为 {as_of.year} 届"
        if wanted == as_of.year
        else f"报告日期 {as_of.isoformat()} 早于 {as_of.year} 届初次统计日（{year_initial.isoformat()}），"
        f"审核对象为上一届（{wanted} 届）：名单于次年初下发，调整改革实施方案于次年截止日前报送"
    )
    if cohort != wanted:
        why += f"；数据中没有 {wanted} 届，改用数据中最新的 {cohort} 届"
    if is_initial:
        which = (
            f"专业点落实率取 {cohort} 届 {snapshot.isoformat()} 快照（初次毕业去向落实率统计日）。"
        )
    elif snapshot < initial:
        which = (
            f"{cohort} 届尚无 {initial.isoformat()}（初次统计日）快照，暂用最新快照 {snapshot.isoformat()} 计算："
            "结果为阶段性数据，正式名单以初次统计日快照为准。"
        )
    else:
        which = (
            f"{cohort} 届缺少 {initial.isoformat()}（初次统计日）快照，改用最接近的快照 {snapshot.isoformat()}，"
            "结果不是初次毕业去向落实率，请谨慎使用。"
        )
    return ReviewSnapshot(cohort, snapshot, initial, is_initial, f"{why}。{which}")


def snapshot_mask(history: pd.DataFrame, pairs) -> np.ndarray:
    """Rows of any of the (cohort, snapshot date) ``pairs`` (compared as datetime64, vectorised)."""
    cohorts = history["cohort"].to_numpy(dtype=np.int64)
    dates = pd.to_datetime(history["snapshot_date"]).to_numpy(dtype="datetime64[D]")
    mask = np.zeros(len(history), dtype=bool)
    for cohort, day in pairs:  # a handful of cohorts, never rows
        mask |= (cohorts == int(cohort)) & (dates == np.datetime64(day, "D"))
    return mask


def snapshot_rows(history: pd.DataFrame, cohort: int, snapshot_date: dt.date) -> pd.DataFrame:
    """Rows of one cohort in one snapshot of a history frame."""
    return history[snapshot_mask(history, [(cohort, snapshot_date)])]
