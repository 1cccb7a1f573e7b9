"""Employer visits: employer identity, distinct counting, targets pro-rated by date, 二级学院."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_followup_frames import typed, universities

from helpers.config import load_policy
from helpers.followup import visits as V

POLICY = load_policy(2023)
CODE = "91350100MA2Y000001"


def visit(code, day, role="校长", name="甲公司", credit=None, new=False, positions=1):
    return dict(
        university_code=code,
        visit_date=day,
        visitor_role=role,
        employer_name=name,
        employer_credit_code=credit,
        new_employer=new,
        positions=positions,
        visitor_key="v",
    )


def progress(rows, as_of=dt.date(2023, 8, 31), unis=None):
    unis = (
        unis
        if unis is not None
        else universities(
            [("10386", "福州大学", 0.80), ("12345", "甲职业学院", 0.60), ("99999", "乙学院", None)]
        )
    )
    prepared = V.prepare_visits(typed("visits", rows), POLICY, as_of)
    return V.visits_progress(prepared, unis, POLICY, as_of).set_index("university_code")


def test_employer_identity_credit_code_else_normalised_name():
    df = typed(
        "visits",
        [
            visit("10386", "2023-03-01", name="甲公司", credit=CODE),
            visit("10386", "2023-03-02", name="甲 公司"),  # same name: borrows the code
            visit("10386", "2023-03-03", name="甲公司（福州）"),
            visit("10386", "2023-03-04", name="甲公司(福州)"),  # full-width brackets normalised
            visit(
                "10386", "2023-03-05", name="其他名称", credit=CODE.lower()
            ),  # code case-insensitive
        ],
    )
    keys = V.employer_keys(df)
    assert keys.tolist() == [CODE, CODE, "名称:甲公司(福州)", "名称:甲公司(福州)", CODE]


def test_a_repeat_visit_counts_once():
    p = progress(
        [
            visit("10386", "2023-03-01", credit=CODE, positions=5),
            visit("10386", "2023-05-01", credit=CODE, positions=7),
            visit("10386", "2023-05-02", name="乙公司", positions=1),
        ]
    )
    row = p.loc["10386"]
    assert (row["visits"], row["distinct_employers"], row["positions"]) == (3, 2, 13)


def test_new_employers_opened_by_leaders_in_the_first_half():
    p = progress(
        [
            visit("12345", "2023-06-30", role="党委书记", name="A", new=True),  # counts
            visit(
                "12345", "2023-06-30", role="校领导班子成员", name="A", new=True
            ),  # same employer
            visit("12345", "2023-07-01", role="校长", name="B", new=True),  # after 06-30
            visit("12345", "2023-03-01", role="二级学院负责人", name="C", new=True),  # not a leader
            visit("12345", "2023-03-01", role="校长", name="D", new=False),  # not new
        ]
    )
    row = p.loc["12345"]
    assert row["new_employers_h1"] == 1
    assert row["new_employers"] == 3
    assert (row["leader_visits"], row["college_visits"], row["other_visits"]) == (4, 1, 0)
    assert row["college_distinct_employers"] == 1
    assert row["distinct_employers"] == 4  # college visits count toward the university total


def test_targets_pro_rated_by_date_and_applied_by_baseline():
    p = progress([visit("10386", "2023-03-01")])
    assert (p["target_visits"] == POLICY.visits.employers_per_year).all()
    assert (p["expected_to_date"] == 134).all()  # ceil(200 x 243/365)
    # 0.80 >= 0.70: no target; 0.60 < 0.70: target; no baseline: unknown (NA)
    assert p["new_target_applies"].astype("string").fillna("NA").tolist() == ["False", "True", "NA"]
    assert p.loc["12345", "target_new_employers"] == 100
    assert pd.isna(p.loc["10386", "target_new_employers"])  # empty, never 0
    assert p.loc["12345", "expected_new_to_date"] == 100  # first half is over


def test_baseline_exactly_at_the_average_has_no_new_employer_target():
    unis = universities([("10386", "福州大学", POLICY.placement.provincial_average)])
    p = progress([visit("10386", "2023-03-01")], unis=unis)
    assert p.loc["10386", "new_target_applies"] == False  # noqa: E712


def test_on_track_before_and_after_the_first_half():
    unis = universities([("12345", "甲职业学院", 0.60)])
    # 2023-03-31: 90/365 of 200 -> 50 employers; 90/181 of 100 -> 50 new employers
    rows = [visit("12345", "2023-03-01", role="校长", name=f"E{i}", new=True) for i in range(50)]
    p = progress(rows, as_of=dt.date(2023, 3, 31), unis=unis)
    row = p.loc["12345"]
    assert (row["expected_to_date"], row["expected_new_to_date"]) == (50, 50)
    assert row["on_track_employers"] and row["on_track_new"] and row["on_track"]
    p = progress(rows[:49], as_of=dt.date(2023, 3, 31), unis=unis)
    assert not p.loc["12345", "on_track"]
    # after 06-30 the full 100 is due
    p = progress(rows * 1, as_of=dt.date(2023, 7, 1), unis=unis)
    assert p.loc["12345", "expected_new_to_date"] == 100
    assert p.loc["12345", "on_track_new"] == False  # noqa: E712


def test_leap_year_pro_rating():
    unis = universities([("10386", "福州大学", 0.80)])
    rows = [visit("10386", "2024-02-01", name=f"E{i}") for i in range(33)]
    p = progress(rows, as_of=dt.date(2024, 2, 29), unis=unis)
    assert p.loc["10386", "expected_to_date"] == 33  # ceil(200 x 60/366)
    assert p.loc["10386", "on_track"]
    p = progress(rows[:32], as_of=dt.date(2024, 2, 29), unis=unis)
    assert not p.loc["10386", "on_track"]


def test_visits_outside_the_year_or_after_as_of_are_left_out_and_counted():
    df = typed(
        "visits",
        [
            visit("10386", "2022-12-31", name="A"),
            visit("10386", "2023-09-01", name="B"),
            visit("10386", "2023-08-31", name="C"),
        ],
    )
    prepared = V.prepare_visits(df, POLICY, dt.date(2023, 8, 31))
    assert prepared["in_scope"].tolist() == [False, False, True]
    assert V.visits_scope(prepared)["records"].tolist() == [1, 1]


def test_university_without_visits_has_zeros_and_is_behind():
    p = progress([visit("10386", "2023-03-01")])
    assert p.loc["99999", "visits"] == 0
    assert not p.loc["99999", "on_track"]


def test_bad_rows_name_file_and_row():
    df = typed("visits", [visit("10386", "2023-03-01", name=None)])
    df["source_file"] = "访企拓岗_10386.xlsx"
    with pytest.raises(ValueError, match=r"访企拓岗_10386\.xlsx row 2"):
        V.prepare_visits(df, POLICY, dt.date(2023, 8, 31))


def test_by_role_and_cumulative_by_month():
    df = typed(
        "visits",
        [
            visit("10386", "2023-01-15", role="校长", name="A", new=True),
            visit("10386", "2023-02-28", role="二级学院负责人", name="B"),
            visit("10386", "2023-03-10", role="其他", name="A"),
            visit("10386", "2023-08-31", role="校长", name="C"),
        ],
    )
    prepared = V.prepare_visits(df, POLICY, dt.date(2023, 8, 31))
    roles = V.visits_by_role(prepared).set_index("role_group")
    assert roles.loc["二级学院", "visits"] == 1
    assert roles.loc["校领导", "new_employers"] == 1
    cum = V.cumulative_by_month(prepared, dt.date(2023, 8, 31))
    assert cum["date"].dt.strftime("%m-%d").tolist() == [
        "01-31",
        "02-28",
        "03-31",
        "04-30",
        "05-31",
        "06-30",
        "07-31",
        "08-31",
    ]
    assert cum["distinct_employers"].tolist() == [1, 2, 2, 2, 2, 2, 2, 3]
    prov = V.province_cumulative(cum, 1, POLICY)
    assert prov["on_track_line"].iloc[-1] == pytest.approx(200 * 243 / 365)
