"""Recruitment windows: grid assignment, straddling reports, zero-filled table, inactive list."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_followup_frames import typed, universities

from helpers.config import load_policy
from helpers.followup import recruitment as R

POLICY = load_policy(2023)
AS_OF = dt.date(2023, 8, 31)
UNI = universities([("10386", "福州大学", 0.8), ("12345", "甲职业学院", 0.6)])


def rec(code, start, end, kind="双选会", events=1, employers=10, positions=100, visits=200):
    return dict(
        university_code=code,
        window_start=start,
        window_end=end,
        activity_type=kind,
        events=events,
        employers=employers,
        positions=positions,
        student_visits=visits,
    )


def test_grid_report_straddling_report_and_report_inside_a_window():
    df = typed(
        "recruitment",
        [
            rec("10386", "2023-08-14", "2023-08-27"),  # exactly a grid window
            rec(
                "10386", "2023-08-20", "2023-09-02", "宣讲会"
            ),  # straddles 08-27/08-28: end decides
            rec("10386", "2023-03-01", "2023-03-05", "网络招聘"),  # inside 02-27..03-12
        ],
    )
    a = R.assign_windows(df, POLICY, AS_OF)
    assert a["grid_start"].dt.strftime("%m-%d").tolist() == ["08-14", "08-28", "02-27"]
    assert a["grid_end"].dt.strftime("%m-%d").tolist() == ["08-27", "09-10", "03-12"]
    assert a["straddles"].tolist() == [False, True, False]
    assert a["in_scope"].all()


def test_reports_outside_the_period_are_counted_not_dropped():
    df = typed(
        "recruitment",
        [
            rec("10386", "2022-12-01", "2022-12-14"),  # previous year
            rec("10386", "2023-09-11", "2023-09-24"),  # after the window holding as_of
            rec("10386", "2023-08-28", "2023-09-10"),  # the running window: counted
        ],
    )
    a = R.assign_windows(df, POLICY, AS_OF)
    assert a["in_scope"].tolist() == [False, False, True]
    scope = R.recruitment_scope(a)
    assert scope["records"].tolist() == [1, 1]
    table = R.recruitment_by_window(a, UNI, POLICY, AS_OF)
    assert table["events"].sum() == 1


def test_table_is_zero_filled_per_university_and_window():
    df = typed(
        "recruitment",
        [
            rec(
                "10386",
                "2023-02-13",
                "2023-02-26",
                events=2,
                employers=30,
                positions=300,
                visits=500,
            ),
            rec(
                "10386",
                "2023-02-13",
                "2023-02-26",
                "宣讲会",
                events=3,
                employers=3,
                positions=40,
                visits=90,
            ),
        ],
    )
    a = R.assign_windows(df, POLICY, AS_OF)
    t = R.recruitment_by_window(a, UNI, POLICY, AS_OF)
    # 02-13 .. the window containing 08-31 (08-28..09-10): 15 windows per university
    assert t.groupby("university_code").size().tolist() == [15, 15]
    assert list(t.columns[:5]) == [
        "university_code",
        "university_name",
        "window_start",
        "window_end",
        "complete",
    ]
    first = t.loc[(t["university_code"] == "10386") & (t["window_start"] == "2023-02-13")].iloc[0]
    assert (first["events"], first["employers"], first["positions"], first["student_visits"]) == (
        5,
        33,
        340,
        590,
    )
    assert first["records"] == 2
    other = t.loc[t["university_code"] == "12345"]
    assert (other[["events", "employers", "positions", "student_visits"]] == 0).all().all()
    assert t["complete"].sum() == 28  # the running window is not complete
    assert ((t["window_end"] - t["window_start"]).dt.days == 13).all()


def test_early_reports_extend_the_grid_backwards():
    df = typed("recruitment", [rec("10386", "2023-01-16", "2023-01-29")])
    t = R.recruitment_by_window(R.assign_windows(df, POLICY, AS_OF), UNI, POLICY, AS_OF)
    assert t["window_start"].min() == pd.Timestamp("2023-01-16")
    assert t.loc[t["window_start"] == "2023-01-16", "events"].sum() == 1


def test_unknown_university_is_kept():
    df = typed("recruitment", [rec("99999", "2023-02-13", "2023-02-26")])
    t = R.recruitment_by_window(R.assign_windows(df, POLICY, AS_OF), UNI, POLICY, AS_OF)
    assert t.loc[t["university_code"] == "99999", "events"].sum() == 1


def test_straddling_records_are_counted_in_the_table():
    df = typed("recruitment", [rec("10386", "2023-08-20", "2023-09-02")])
    t = R.recruitment_by_window(R.assign_windows(df, POLICY, AS_OF), UNI, POLICY, AS_OF)
    row = t.loc[t["straddling_records"] > 0]
    assert len(row) == 1 and row["window_start"].iloc[0] == pd.Timestamp("2023-08-28")


def test_bad_rows_name_file_and_row():
    df = typed("recruitment", [rec("10386", "2023-03-10", "2023-03-01")])
    df["source_file"] = "校园招聘_10386.xlsx"
    df["source_row"] = 7
    with pytest.raises(ValueError, match=r"window_end.*校园招聘_10386\.xlsx row 7"):
        R.assign_windows(df, POLICY, AS_OF)
    df = typed("recruitment", [rec("10386", "2023-03-01", "2023-03-10", events=-1)])
    with pytest.raises(ValueError, match="events"):
        R.assign_windows(df, POLICY, AS_OF)


def test_inactive_universities_in_latest_complete_window():
    df = typed(
        "recruitment",
        [
            rec("10386", "2023-08-14", "2023-08-27"),
            rec("12345", "2023-07-31", "2023-08-13"),
            rec("12345", "2023-08-28", "2023-09-03"),  # the running window does not count
        ],
    )
    t = R.recruitment_by_window(R.assign_windows(df, POLICY, AS_OF), UNI, POLICY, AS_OF)
    inactive, start, end = R.inactive_in_latest_window(t, POLICY, AS_OF)
    assert (start, end) == (dt.date(2023, 8, 14), dt.date(2023, 8, 27))
    assert inactive["university_code"].tolist() == ["12345"]
    # reported activity with zero events is no activity
    df = typed("recruitment", [rec("10386", "2023-08-14", "2023-08-27", events=0)])
    t = R.recruitment_by_window(R.assign_windows(df, POLICY, AS_OF), UNI, POLICY, AS_OF)
    inactive, _, _ = R.inactive_in_latest_window(t, POLICY, AS_OF)
    assert inactive["university_code"].tolist() == ["10386", "12345"]


def test_province_totals_types_and_summary():
    df = typed(
        "recruitment",
        [
            rec("10386", "2023-08-14", "2023-08-27", "双选会", events=2, positions=500),
            rec("12345", "2023-08-14", "2023-08-27", "宣讲会", events=1, positions=20),
            rec("12345", "2023-07-31", "2023-08-13", "宣讲会", events=4, positions=80),
        ],
    )
    a = R.assign_windows(df, POLICY, AS_OF)
    t = R.recruitment_by_window(a, UNI, POLICY, AS_OF)
    prov = R.province_by_window(t)
    latest = prov.loc[prov["window_start"] == "2023-08-14"].iloc[0]
    assert (latest["events"], latest["positions"], latest["active_universities"]) == (3, 520, 2)
    assert prov["events"].sum() == t["events"].sum() == 7
    types = R.province_by_type(a)
    assert types.loc[types["window_start"] == "2023-08-14", ["双选会", "宣讲会"]].iloc[
        0
    ].tolist() == [2, 1]
    s = R.university_summary(t, POLICY, AS_OF).set_index("university_code")
    assert s.loc["12345", "events"] == 5
    assert s.loc["12345", "active_windows"] == 2
    assert s.loc["12345", "events_latest"] == 1
    assert s.loc["10386", "complete_windows"] == 14
