"""Campus recruitment (校园招聘) per university and fortnightly statistics window (notice §一).

Windows follow the policy grid: ``recruitment.window_days``-day windows starting on
``recruitment.first_window_start`` of the monitoring year (and continuing backwards on the same
rhythm for earlier reports).

Rule for reports that do not match the grid: a report row is assigned whole to the grid window
that contains its 统计截止日期 (``window_end``): the counts are integers about events that cannot be
dated inside the reported period, so they are not split; the report is counted in the fortnight in
which it was closed. A row whose reported period spans more than one grid window is counted in
``straddling_records`` so the reader sees how many were re-assigned. Rows closed before the
monitoring year, or after the grid window that contains ``as_of``, are left out and counted in the
scope summary, never dropped silently.

Employers and student visits are summed over activities (the reports carry counts, not names: an
employer at two fairs counts twice).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy
from helpers.followup import dates
from helpers.followup.common import bad_rows_message, require_columns, scope_summary

COUNTS = ("events", "employers", "positions", "student_visits")
_INPUT = ("university_code", "window_start", "window_end", "activity_type", *COUNTS)


def assign_windows(recruitment: pd.DataFrame, policy: Policy, as_of: dt.date) -> pd.DataFrame:
    """Add the grid window of each report row: ``grid_index``, ``grid_start``, ``grid_end``,
    ``straddles`` (reported period spans several grid windows) and ``in_scope``.

    Raises ValueError naming file and row for a period that ends before it starts or a negative
    count (ingest quarantines both; this guards hand-made frames).
    """
    require_columns(recruitment, _INPUT, "recruitment")
    df = recruitment.copy()
    start = pd.to_datetime(df["window_start"])
    end = pd.to_datetime(df["window_end"])
    reversed_ = (end < start).to_numpy()
    if reversed_.any():
        raise ValueError(
            bad_rows_message(
                df, reversed_, "recruitment", "window_end", "统计截止日期早于统计起始日期"
            )
        )
    for col in COUNTS:
        negative = (df[col] < 0).to_numpy()
        if negative.any():
            raise ValueError(bad_rows_message(df, negative, "recruitment", col, "负数计数"))
    anchor, days = dates.grid_anchor(policy, as_of), policy.recruitment.window_days
    end_idx = dates.window_index(end, anchor, days)
    start_idx = dates.window_index(start, anchor, days)
    grid_start, grid_end = dates.window_bounds(end_idx, anchor, days)
    current_idx, _, _ = dates.current_window(policy, as_of)
    df["grid_index"] = end_idx
    df["grid_start"] = grid_start
    df["grid_end"] = grid_end
    df["straddles"] = start_idx != end_idx
    df["before_year"] = (end < pd.Timestamp(dt.date(as_of.year, 1, 1))).to_numpy()
    df["after_as_of"] = end_idx > current_idx
    df["in_scope"] = ~df["before_year"] & ~df["after_as_of"]
    return df


def recruitment_scope(assigned: pd.DataFrame) -> pd.DataFrame:
    """Report rows left out of this period, by reason (Chinese)."""
    return scope_summary("校园招聘", assigned["before_year"], assigned["after_as_of"])


def recruitment_by_window(
    assigned: pd.DataFrame, universities: pd.DataFrame, policy: Policy, as_of: dt.date
) -> pd.DataFrame:
    """The contract table: one row per monitored university and grid window, from the first
    window with a report (the grid's first window at the latest) to the window containing
    ``as_of``. A university without reports in a window has true zeros.

    Columns: university_code, university_name, window_start, window_end, complete (the window
    ended on or before as_of), events, employers, positions, student_visits, records,
    straddling_records.
    """
    anchor, days = dates.grid_anchor(policy, as_of), policy.recruitment.window_days
    current_idx, _, _ = dates.current_window(policy, as_of)
    scoped = assigned.loc[assigned["in_scope"]]
    first_idx = min(0, current_idx)
    if len(scoped):
        first_idx = min(first_idx, int(scoped["grid_index"].min()))
    idx = np.arange(first_idx, current_idx + 1, dtype="int64")
    uni = universities[["university_code", "university_name"]].drop_duplicates("university_code")
    grid = pd.MultiIndex.from_product(
        [uni["university_code"].astype("string"), idx], names=["university_code", "grid_index"]
    )
    agg = (
        scoped.assign(
            university_code=scoped["university_code"].astype("string"),
            records=1,
            straddling_records=scoped["straddles"].astype("int64"),
        )
        .groupby(["university_code", "grid_index"], observed=True)[
            [*COUNTS, "records", "straddling_records"]
        ]
        .sum()
    )
    out = agg.reindex(grid, fill_value=0).reset_index()
    extra = agg.index.difference(grid)
    if len(extra):  # reports from universities not in the list: keep them, never drop
        out = pd.concat([out, agg.loc[extra].reset_index()], ignore_index=True)
    start, end = dates.window_bounds(out["grid_index"].to_numpy(), anchor, days)
    out["window_start"] = start
    out["window_end"] = end
    out["complete"] = out["window_end"] <= pd.Timestamp(as_of)
    out = out.merge(
        uni.assign(university_code=uni["university_code"].astype("string")),
        on="university_code",
        how="left",
    )
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    cols = [
        "university_code",
        "university_name",
        "window_start",
        "window_end",
        "complete",
        *COUNTS,
        "records",
        "straddling_records",
    ]
    out = out[cols].sort_values(["university_code", "window_start"], ignore_index=True)
    for col in (*COUNTS, "records", "straddling_records"):
        out[col] = out[col].astype("int64")
    return out


def recruitment_by_type(assigned: pd.DataFrame) -> pd.DataFrame:
    """Counts per university, grid window and activity type (in-scope rows only)."""
    scoped = assigned.loc[assigned["in_scope"]]
    out = (
        scoped.groupby(
            ["university_code", "grid_start", "grid_end", "activity_type"], observed=True
        )[list(COUNTS)]
        .sum()
        .reset_index()
        .rename(columns={"grid_start": "window_start", "grid_end": "window_end"})
    )
    return out


def province_by_window(by_window: pd.DataFrame) -> pd.DataFrame:
    """Province totals per window, with how many universities reported any event."""
    g = by_window.assign(active=by_window["events"] > 0).groupby(
        ["window_start", "window_end", "complete"], observed=True
    )
    out = g[list(COUNTS)].sum()
    out["universities"] = g["university_code"].nunique()
    out["active_universities"] = g["active"].sum()
    return out.reset_index().sort_values("window_start", ignore_index=True)


def province_by_type(assigned: pd.DataFrame) -> pd.DataFrame:
    """Province events per grid window (rows) and activity type (columns)."""
    by_type = recruitment_by_type(assigned)
    return by_type.pivot_table(
        index=["window_start", "window_end"],
        columns="activity_type",
        values="events",
        aggfunc="sum",
        fill_value=0,
        observed=True,
    ).reset_index()


def inactive_in_latest_window(
    by_window: pd.DataFrame, policy: Policy, as_of: dt.date
) -> tuple[pd.DataFrame, dt.date | None, dt.date | None]:
    """Universities without any event (场次 = 0) in the newest complete window.

    Returns (universities, window first day, window last day); the window is None when no
    complete window exists yet in the table.
    """
    _, start, end = dates.latest_complete_window(policy, as_of)
    latest = by_window.loc[by_window["window_end"] == pd.Timestamp(end)]
    if latest.empty:
        return by_window.iloc[0:0][["university_code", "university_name"]], None, None
    none = latest.loc[latest["events"] == 0, ["university_code", "university_name"]]
    return none.reset_index(drop=True), start, end


def university_summary(by_window: pd.DataFrame, policy: Policy, as_of: dt.date) -> pd.DataFrame:
    """Per university: totals of the monitoring year, the latest complete window, and the share
    of complete windows with at least one event."""
    _, _, end = dates.latest_complete_window(policy, as_of)
    complete = by_window.loc[by_window["complete"]]
    g = by_window.groupby(["university_code", "university_name"], observed=True)
    out = g[list(COUNTS)].sum()
    cg = complete.assign(active=complete["events"] > 0).groupby(
        ["university_code", "university_name"], observed=True
    )
    out["complete_windows"] = cg.size()
    out["active_windows"] = cg["active"].sum()
    latest = complete.loc[complete["window_end"] == pd.Timestamp(end)].set_index(
        ["university_code", "university_name"]
    )
    out["events_latest"] = latest["events"]
    out["positions_latest"] = latest["positions"]
    out = out.reset_index()
    for col in ("complete_windows", "active_windows"):
        out[col] = out[col].fillna(0).astype("int64")
    return out.sort_values("university_code", ignore_index=True)
