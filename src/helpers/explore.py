"""Small building blocks for the analyst's own questions (``notebooks/explore.ipynb``).

The report notebooks answer the notice's questions; these functions help with the others — two
dates or two cohorts side by side, one snapshot out of the history, one university's departments
through the spring — with the same pooled rates and Wilson intervals as the reports
(:func:`helpers.placement.rate_table`). Exploration charts are seaborn's (a statistical chart from
a tidy frame in one call) drawn in the house style (:func:`helpers.charts.use_house_style`); the
report charts stay plain matplotlib (:mod:`helpers.charts`). ``docs/analysis.md`` lists these
with the rest of the public functions an analyst uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from helpers.charts import PALETTE
from helpers.placement import rate_table
from helpers.tables import register_headers


def snapshot(history: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    """The rows of one snapshot of a graduates history (``snapshot_date`` equal to ``date``)."""
    d = pd.Timestamp(date)
    rows = history.loc[pd.to_datetime(history["snapshot_date"]) == d]
    if rows.empty:
        dates = sorted({x.date().isoformat() for x in pd.to_datetime(history["snapshot_date"])})
        raise ValueError(f"no snapshot dated {d.date()} in the history; snapshots: {dates}")
    return rows


def same_day_previous_cohort(history: pd.DataFrame, date: dt.date) -> dt.date | None:
    """The previous cohort's snapshot to compare ``date`` with: the same month-day a year
    earlier, else its newest snapshot before that day; None when the previous cohort has none."""
    try:
        target = date.replace(year=date.year - 1)
    except ValueError:  # 29 February
        target = dt.date(date.year - 1, 2, 28)
    dates = pd.to_datetime(
        history.loc[history["cohort"].astype("int64") == date.year - 1, "snapshot_date"]
    ).unique()
    earlier = sorted(x.date() for x in pd.DatetimeIndex(dates) if x.date() <= target)
    return earlier[-1] if earlier else None


def compare_rates(
    before: pd.DataFrame,
    after: pd.DataFrame,
    by: Sequence[str],
    confidence: float = 0.95,
    min_graduates: int = 0,
) -> pd.DataFrame:
    """Placement rates of two sets of graduates rows (two dates, two cohorts) side by side.

    One row per combination of ``by`` present in either: graduates / placed / rate / interval of
    each (suffixes ``_before`` and ``_after``), ``rate_change`` (after − before) and
    ``significant`` (the two Wilson intervals do not overlap: a conservative reading). Rows where
    either side has fewer than ``min_graduates`` graduates get no change (small groups are not
    over-read). Sorted by ``rate_change``, the largest fall first.
    """
    by = list(by)
    cols = [*by, "graduates", "placed", "placement_rate", "ci_low", "ci_high"]
    a = rate_table(before, by, confidence)[cols]
    b = rate_table(after, by, confidence)[cols]
    out = a.merge(b, on=by, how="outer", suffixes=("_before", "_after"))
    for side in ("before", "after"):
        for c in ("graduates", "placed"):
            out[f"{c}_{side}"] = out[f"{c}_{side}"].fillna(0).astype("int64")
    enough = (out["graduates_before"] >= max(min_graduates, 1)) & (
        out["graduates_after"] >= max(min_graduates, 1)
    )
    change = out["placement_rate_after"] - out["placement_rate_before"]
    out["rate_change"] = change.where(enough)
    apart = (out["ci_high_after"] < out["ci_low_before"]) | (
        out["ci_low_after"] > out["ci_high_before"]
    )
    out["significant"] = (apart & enough).to_numpy(dtype=bool)
    return out.sort_values(["rate_change", *by], na_position="last").reset_index(drop=True)


def department_trend(
    history: pd.DataFrame,
    university: str,
    cohort: int,
    confidence: float = 0.95,
    min_graduates: int = 0,
    department: str | None = None,
) -> pd.DataFrame:
    """Placement rate of each department of ``university`` at every snapshot of ``cohort`` (only
    ``department`` when given): one row per snapshot and department with :func:`rate_table`'s
    columns. Departments with fewer than ``min_graduates`` graduates in every snapshot are left
    out: their lines would be noise."""
    rows = history.loc[
        (history["university_code"] == university) & (history["cohort"].astype("int64") == cohort)
    ]
    if department is not None:
        rows = rows.loc[rows["department"] == department]
    trend = rate_table(rows, ["snapshot_date", "department"], confidence)
    size = trend.groupby("department", observed=True)["graduates"].transform("max")
    return trend.loc[size >= min_graduates].reset_index(drop=True)


def trend_chart(trend: pd.DataFrame, title: str) -> Figure:
    """A line per department of :func:`department_trend` through the snapshots (seaborn's
    ``lineplot``, house colours while there are enough of them), rates as percentages, the legend
    beside the plot. Call :func:`helpers.charts.use_house_style` first; close the figure after
    showing it."""
    departments = trend["department"].astype("string").unique().tolist()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    sns.lineplot(
        data=trend.assign(department=trend["department"].astype("string")),
        x="snapshot_date",
        y="placement_rate",
        hue="department",
        hue_order=departments,
        marker="o",
        palette=PALETTE[: len(departments)] if len(departments) <= len(PALETTE) else None,
        ax=ax,
    )
    ax.set_xlabel("统计日期")
    ax.set_ylabel("毕业去向落实率")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_title(title)
    if departments:
        ax.legend(title="院系", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


register_headers(
    {
        "graduates_before": "比较期毕业生数",
        "placed_before": "比较期已落实人数",
        "placement_rate_before": "比较期落实率",
        "ci_low_before": "比较期置信区间下限",
        "ci_high_before": "比较期置信区间上限",
        "graduates_after": "本期毕业生数",
        "placed_after": "本期已落实人数",
        "placement_rate_after": "本期落实率",
        "ci_low_after": "本期置信区间下限",
        "ci_high_after": "本期置信区间上限",
        "significant": "差异显著",
    },
    rates=(
        "placement_rate_before",
        "placement_rate_after",
        "ci_low_before",
        "ci_high_before",
        "ci_low_after",
        "ci_high_after",
    ),
)
