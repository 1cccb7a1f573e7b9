"""Date logic of the follow-up checks: the fortnightly recruitment grid, pro-rating of yearly
targets, the first half of the year and the interview checkpoints.

Every date comes from the policy file as a month-day (``"MM-DD"``) resolved in the *monitoring
year*, which is the calendar year of the reporting date ``as_of`` (the 2023 notice governs the
calendar year 2023). A policy month-day of ``02-29`` falls back to ``02-28`` in common years
(:func:`helpers.config.month_day`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.config import Policy, month_day

_DAY = np.timedelta64(1, "D")


def year_start(as_of: dt.date) -> dt.date:
    """1 January of the monitoring year."""
    return dt.date(as_of.year, 1, 1)


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def year_fraction(as_of: dt.date) -> float:
    """Share of the calendar year elapsed by the end of ``as_of`` (1 Jan -> 1/365, 31 Dec -> 1).

    Leap years count 366 days, so 2024-02-29 is day 60 of 366.
    """
    return ((as_of - dt.date(as_of.year, 1, 1)).days + 1) / days_in_year(as_of.year)


def first_half_end(policy: Policy, as_of: dt.date) -> dt.date:
    """Last day of the first half of the monitoring year (policy ``visits.first_half_end``)."""
    return month_day(policy.visits.first_half_end, as_of.year)


def first_half_fraction(policy: Policy, as_of: dt.date) -> float:
    """Share of the first half (1 Jan .. ``first_half_end``, inclusive) elapsed by ``as_of``.

    1.0 on and after ``first_half_end``. 2023: 181 days; 2024 (leap year): 182 days.
    """
    start, end = dt.date(as_of.year, 1, 1), first_half_end(policy, as_of)
    total = (end - start).days + 1
    elapsed = (min(as_of, end) - start).days + 1
    return min(max(elapsed / total, 0.0), 1.0)


def prorated_target(target: float, fraction: float) -> int:
    """Whole units needed by now to stay on track for ``target``: ceil(target x fraction)."""
    # round first so that 200 x 365/365 stays 200 despite float noise
    return int(np.ceil(round(target * fraction, 9)))


# --- the fortnightly recruitment grid -------------------------------------------------------


def grid_anchor(policy: Policy, as_of: dt.date) -> dt.date:
    """Start of the first statistics window of the monitoring year (``first_window_start``)."""
    return month_day(policy.recruitment.first_window_start, as_of.year)


def window_index(dates, anchor: dt.date, window_days: int) -> np.ndarray:
    """Grid window number of each date (0 = the window starting at ``anchor``; dates before the
    anchor get negative numbers, so the grid extends backwards on the same rhythm)."""
    values = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[D]")
    offset = (values - np.datetime64(anchor, "D")) / _DAY
    return np.floor_divide(offset, window_days).astype("int64")


def window_bounds(index, anchor: dt.date, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(first day, last day) of grid windows, as datetime64[ms] arrays."""
    idx = np.asarray(index, dtype="int64")
    start = np.datetime64(anchor, "D") + idx * window_days * _DAY
    end = start + (window_days - 1) * _DAY
    return start.astype("datetime64[ms]"), end.astype("datetime64[ms]")


def current_window(policy: Policy, as_of: dt.date) -> tuple[int, dt.date, dt.date]:
    """The grid window that contains ``as_of``: (index, first day, last day)."""
    anchor, days = grid_anchor(policy, as_of), policy.recruitment.window_days
    idx = int(window_index([as_of], anchor, days)[0])
    start, end = window_bounds([idx], anchor, days)
    return idx, _to_date(start[0]), _to_date(end[0])


def latest_complete_window(policy: Policy, as_of: dt.date) -> tuple[int, dt.date, dt.date]:
    """The newest grid window whose last day is on or before ``as_of``."""
    idx, _, end = current_window(policy, as_of)
    if end > as_of:
        idx -= 1
    start, stop = window_bounds([idx], grid_anchor(policy, as_of), policy.recruitment.window_days)
    return idx, _to_date(start[0]), _to_date(stop[0])


def _to_date(value: np.datetime64) -> dt.date:
    return pd.Timestamp(value).date()


# --- interview checkpoints -----------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """An interview date of the notice (§五: 7月1日、9月1日) and the data it judges.

    The interview on day C judges the figures up to the day before (C - 1 day: the 9月1日
    interview judges the 8月31日 deadline), so the check is *due* once ``as_of >= data_date``.
    """

    date: dt.date
    data_date: dt.date

    @property
    def label(self) -> str:
        return f"{self.date.month}月{self.date.day}日"


def checkpoints(policy: Policy, as_of: dt.date) -> list[Checkpoint]:
    """Every interview checkpoint of the monitoring year, in date order."""
    year = as_of.year
    dates = sorted(month_day(v, year) for v in policy.assistance.interview_dates)
    return [Checkpoint(date=d, data_date=d - dt.timedelta(days=1)) for d in dates]


def due_checkpoints(policy: Policy, as_of: dt.date) -> list[Checkpoint]:
    """Checkpoints whose judged figures exist by ``as_of`` (``data_date <= as_of``)."""
    return [c for c in checkpoints(policy, as_of) if c.data_date <= as_of]


def next_checkpoint(policy: Policy, as_of: dt.date) -> Checkpoint | None:
    """The first checkpoint not yet due on ``as_of`` (None after the last one)."""
    later = [c for c in checkpoints(policy, as_of) if c.data_date > as_of]
    return later[0] if later else None
