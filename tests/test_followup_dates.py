"""Date logic of the follow-up checks: fortnightly grid, pro-rating, first half, checkpoints."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from helpers.config import load_policy
from helpers.followup import dates

POLICY = load_policy(2023)
D = dt.date.fromisoformat


def _with(policy, section: str, **changes):
    part = getattr(policy, section).model_copy(update=changes)
    return policy.model_copy(update={section: part})


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2023-01-01", 1 / 365),
        ("2023-06-30", 181 / 365),
        ("2023-08-31", 243 / 365),
        ("2023-12-31", 1.0),
        ("2024-02-29", 60 / 366),  # leap day: day 60 of 366
        ("2024-03-01", 61 / 366),
        ("2024-12-31", 1.0),
    ],
)
def test_year_fraction_counts_leap_years(day, expected):
    assert dates.year_fraction(D(day)) == pytest.approx(expected)


def test_prorated_target_rounds_up_and_keeps_full_target():
    assert dates.prorated_target(200, dates.year_fraction(D("2023-12-31"))) == 200
    assert dates.prorated_target(200, dates.year_fraction(D("2023-08-31"))) == 134  # 133.15
    assert dates.prorated_target(200, dates.year_fraction(D("2024-02-29"))) == 33  # 32.79
    assert dates.prorated_target(200, dates.year_fraction(D("2023-02-28"))) == 33  # 59/365: 32.33
    assert dates.prorated_target(100, 0.5) == 50


def test_first_half_ends_on_policy_date_and_counts_leap_day():
    assert dates.first_half_end(POLICY, D("2023-03-01")) == D("2023-06-30")
    assert dates.first_half_fraction(POLICY, D("2023-06-30")) == 1.0
    assert dates.first_half_fraction(POLICY, D("2023-07-01")) == 1.0
    assert dates.first_half_fraction(POLICY, D("2023-06-29")) == pytest.approx(180 / 181)
    assert dates.first_half_fraction(POLICY, D("2023-03-31")) == pytest.approx(90 / 181)
    # 2024: 182 days in the first half
    assert dates.first_half_fraction(POLICY, D("2024-03-31")) == pytest.approx(91 / 182)
    assert dates.first_half_fraction(POLICY, D("2024-02-29")) == pytest.approx(60 / 182)


def test_grid_windows_straddle_month_ends():
    anchor = dates.grid_anchor(POLICY, D("2023-08-31"))
    assert anchor == D("2023-02-13")
    days = POLICY.recruitment.window_days
    idx = dates.window_index(
        pd.to_datetime(["2023-02-13", "2023-02-26", "2023-02-27", "2023-03-12", "2023-03-13"]),
        anchor,
        days,
    )
    assert idx.tolist() == [0, 0, 1, 1, 2]
    start, end = dates.window_bounds([1], anchor, days)
    # window 1 runs from February into March
    assert pd.Timestamp(start[0]).date() == D("2023-02-27")
    assert pd.Timestamp(end[0]).date() == D("2023-03-12")


def test_grid_in_leap_year_contains_february_29():
    anchor = dates.grid_anchor(POLICY, D("2024-05-01"))
    assert anchor == D("2024-02-13")
    days = POLICY.recruitment.window_days
    assert dates.window_index(pd.to_datetime(["2024-02-29"]), anchor, days).tolist() == [1]
    start, end = dates.window_bounds([1], anchor, days)
    assert pd.Timestamp(start[0]).date() == D("2024-02-27")
    assert pd.Timestamp(end[0]).date() == D("2024-03-11")  # 14 days incl. 02-29


def test_grid_extends_backwards_before_the_first_window():
    anchor = dates.grid_anchor(POLICY, D("2023-08-31"))
    idx = dates.window_index(
        pd.to_datetime(["2023-02-12", "2023-01-30", "2023-01-29"]),
        anchor,
        POLICY.recruitment.window_days,
    )
    assert idx.tolist() == [-1, -1, -2]
    start, _ = dates.window_bounds([-1], anchor, POLICY.recruitment.window_days)
    assert pd.Timestamp(start[0]).date() == D("2023-01-30")


def test_policy_month_day_feb_29_falls_back_in_common_years():
    p = _with(POLICY, "recruitment", first_window_start="02-29")
    assert dates.grid_anchor(p, D("2023-05-01")) == D("2023-02-28")
    assert dates.grid_anchor(p, D("2024-05-01")) == D("2024-02-29")


def test_window_days_come_from_the_policy():
    p = _with(POLICY, "recruitment", window_days=7)
    idx, start, end = dates.current_window(p, D("2023-02-21"))
    assert (idx, start, end) == (1, D("2023-02-20"), D("2023-02-26"))


@pytest.mark.parametrize(
    ("as_of", "current", "latest"),
    [
        ("2023-08-31", ("2023-08-28", "2023-09-10"), ("2023-08-14", "2023-08-27")),
        ("2023-08-27", ("2023-08-14", "2023-08-27"), ("2023-08-14", "2023-08-27")),
        ("2023-08-28", ("2023-08-28", "2023-09-10"), ("2023-08-14", "2023-08-27")),
        ("2023-02-13", ("2023-02-13", "2023-02-26"), ("2023-01-30", "2023-02-12")),
    ],
)
def test_current_and_latest_complete_window(as_of, current, latest):
    _, s, e = dates.current_window(POLICY, D(as_of))
    assert (s, e) == (D(current[0]), D(current[1]))
    _, s, e = dates.latest_complete_window(POLICY, D(as_of))
    assert (s, e) == (D(latest[0]), D(latest[1]))


@pytest.mark.parametrize(
    ("as_of", "due", "next_"),
    [
        ("2023-06-29", [], "2023-07-01"),
        ("2023-06-30", ["2023-07-01"], "2023-09-01"),  # the 7月1日 check judges 6月30日
        ("2023-07-01", ["2023-07-01"], "2023-09-01"),
        ("2023-08-30", ["2023-07-01"], "2023-09-01"),
        ("2023-08-31", ["2023-07-01", "2023-09-01"], None),  # 9月1日 judges the 8月31日 deadline
        ("2023-12-31", ["2023-07-01", "2023-09-01"], None),
    ],
)
def test_checkpoints_before_and_after_the_date(as_of, due, next_):
    got = dates.due_checkpoints(POLICY, D(as_of))
    assert [c.date.isoformat() for c in got] == due
    assert all(c.data_date == c.date - dt.timedelta(days=1) for c in got)
    nxt = dates.next_checkpoint(POLICY, D(as_of))
    assert (nxt.date.isoformat() if nxt else None) == next_


def test_checkpoint_labels_and_policy_dates():
    labels = [c.label for c in dates.checkpoints(POLICY, D("2023-08-31"))]
    assert labels == ["7月1日", "9月1日"]
    p = _with(POLICY, "assistance", interview_dates=("10-15",))
    assert [c.date for c in dates.checkpoints(p, D("2024-01-01"))] == [D("2024-10-15")]
    assert dates.due_checkpoints(p, D("2024-10-14"))[0].data_date == D("2024-10-14")


def test_window_index_is_vectorised_over_many_dates():
    many = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    idx = dates.window_index(many, D("2023-02-13"), 14)
    assert len(idx) == 365
    assert np.all(np.diff(idx) >= 0)
    assert np.bincount(idx - idx.min()).max() == 14
