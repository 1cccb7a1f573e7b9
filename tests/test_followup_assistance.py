"""Graduates in difficulty: group rates vs the university's own rate, 3个3, must-be-placed groups,
checkpoints, and disclosure control of every group table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_followup_frames import graduates, typed

from helpers.config import load_policy
from helpers.followup import assistance as A

POLICY = load_policy(2023)


def help_rows(keys, code="10386", day="2023-05-01", talks=3, activities=3, recommendations=3):
    rows = []
    for key in keys:
        for kind, times in (
            ("谈心谈话", talks),
            ("就业促进活动", activities),
            ("岗位推荐", recommendations),
        ):
            rows += [
                dict(
                    student_key=key,
                    university_code=code,
                    help_type=kind,
                    help_date=day,
                    helper_key=f"h{i}",
                )
                for i in range(times)
            ]
    return rows


def test_group_rate_against_the_university_own_rate():
    g = graduates(
        [
            dict(university_code="10386", n=80, placed=64),  # 80%
            dict(university_code="10386", n=20, placed=10, group="脱贫家庭"),  # 50%
            dict(university_code="10386", n=5, placed=0, in_denominator=False, group="脱贫家庭"),
            dict(university_code="12345", n=50, placed=25),
        ]
    )
    t = A.group_rates(g, POLICY).set_index(["university_code", "group"])
    row = t.loc[("10386", "脱贫家庭")]
    assert (row["graduates"], row["placed"]) == (20, 10)  # 结业/肄业 not in rates
    assert row["university_rate"] == pytest.approx(74 / 100)
    assert row["gap"] == pytest.approx(0.5 - 0.74)
    assert row["below"]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert t.loc[("12345", "脱贫家庭"), "graduates"] == 0
    assert np.isnan(t.loc[("12345", "脱贫家庭"), "placement_rate"])  # no rate, never 0
    assert not t.loc[("12345", "脱贫家庭"), "below"]
    prov = t.loc[("ALL", "脱贫家庭")]
    assert prov["university_rate"] == pytest.approx(99 / 150)  # pooled province rate
    assert set(t.index.get_level_values("group")) == set(POLICY.assistance.groups)


def test_a_graduate_in_two_groups_counts_in_both():
    g = graduates([dict(university_code="10386", n=3, placed=1, groups=["脱贫家庭", "残疾"])])
    members = A.group_members(g, POLICY.assistance.groups)
    assert sorted(members["group"].astype(str).tolist()) == ["残疾"] * 3 + ["脱贫家庭"] * 3


def test_3x3_counts_each_type_against_the_policy_on_the_date():
    g = graduates([dict(university_code="10386", n=5, placed=0, group="低保家庭")])
    keys = g["student_key"].tolist()
    rows = (
        help_rows(keys[:1])  # exactly 3/3/3: compliant
        + help_rows(keys[1:2], recommendations=2)  # one recommendation short
        + help_rows(keys[2:3], day="2023-09-01")  # after as_of: not counted
        + help_rows(keys[3:4], talks=5, activities=4, recommendations=3)
    )
    rows.append(
        dict(
            student_key=keys[4],
            university_code="10386",
            help_type="电话回访",
            help_date="2023-05-01",
            helper_key="h",
        )
    )  # unknown type
    counts, scope = A.help_counts(typed("assistance", rows), dt.date(2023, 8, 31))
    assert scope["records"].tolist() == [9, 1]
    members = A.group_members(g, POLICY.assistance.groups)
    per = A.compliance_per_graduate(members, counts, POLICY).set_index("student_key")
    assert per["compliant"].tolist() == [True, False, False, True, False]
    assert per.loc[keys[1], "岗位推荐"] == 2
    assert per.loc[keys[4], ["谈心谈话", "就业促进活动", "岗位推荐"]].tolist() == [0, 0, 0]
    table = A.assistance_compliance(members, per.reset_index()).set_index(
        ["university_code", "group"]
    )
    assert table.loc[("10386", "低保家庭"), "compliant_3x3"] == 2
    assert table.loc[("10386", "低保家庭"), "compliance_rate"] == pytest.approx(0.4)
    assert table.loc[("ALL", "低保家庭"), "graduates"] == 5


def test_3x3_requirements_come_from_the_policy():
    p = POLICY.model_copy(
        update={"assistance": POLICY.assistance.model_copy(update={"recommendations": 2})}
    )
    g = graduates([dict(university_code="10386", n=1, placed=0, group="低保家庭")])
    counts, _ = A.help_counts(
        typed("assistance", help_rows(g["student_key"], recommendations=2)), dt.date(2023, 8, 31)
    )
    members = A.group_members(g, p.assistance.groups)
    assert A.compliance_per_graduate(members, counts, p)["compliant"].all()
    assert not A.compliance_per_graduate(members, counts, POLICY)["compliant"].any()


def test_help_records_of_graduates_outside_the_groups_are_counted():
    g = graduates(
        [
            dict(university_code="10386", n=2, placed=0, group="低保家庭"),
            dict(university_code="10386", n=2, placed=0),
        ]
    )
    keys = g["student_key"].tolist()
    counts, _ = A.help_counts(typed("assistance", help_rows(keys)), dt.date(2023, 8, 31))
    members = A.group_members(g, POLICY.assistance.groups)
    assert A.unmatched_help_records(members, counts) == 2


def test_zero_employment_must_be_all_placed():
    g = graduates(
        [
            dict(university_code="10386", n=4, placed=3, group="零就业家庭"),
            dict(university_code="12345", n=2, placed=2, group="零就业家庭"),
            dict(
                university_code="12345", n=1, placed=0, group="零就业家庭", in_denominator=False
            ),  # 结业: still counted
            dict(university_code="99999", n=10, placed=5),
        ]
    )
    t = A.all_placed_check(g, POLICY).set_index("university_code")
    assert t.loc["10386", "target_met"] == False  # noqa: E712
    assert t.loc["12345", ["graduates", "placed"]].tolist() == [3, 2]
    assert t.loc["99999", "graduates"] == 0 and t.loc["99999", "target_met"]
    assert t.loc["ALL", ["graduates", "placed"]].tolist() == [7, 5]


def test_disabled_graduates_willing_to_work():
    g = graduates(
        [
            dict(university_code="10386", n=3, placed=3, group="残疾", willing=True),
            dict(university_code="10386", n=2, placed=1, group="残疾", willing=True),
            dict(university_code="10386", n=2, placed=0, group="残疾", willing=False),
            dict(university_code="10386", n=1, placed=0, group="残疾", willing=None),
        ]
    )
    t = A.willing_check(g, POLICY).set_index("university_code")
    row = t.loc["10386"]
    assert (row["graduates"], row["placed"], row["willing_unknown"]) == (5, 4, 1)
    assert not row["target_met"]


def test_checkpoints_judge_the_snapshot_before_the_interview():
    def snap(day, placed):
        return graduates(
            [
                dict(university_code="10386", n=100, placed=70),
                dict(university_code="10386", n=20, placed=placed, group="脱贫家庭"),
            ],
            snapshot=day,
        )

    history = pd.concat(
        [
            snap("2023-05-31", 2),
            snap("2023-06-30", 10),
            snap("2023-07-31", 12),
            snap("2023-08-31", 19),
        ]
    )
    # before the first checkpoint is due: nothing
    assert A.checkpoint_gaps(history, POLICY, dt.date(2023, 6, 29), 2023).empty
    s = A.checkpoint_snapshots(history, POLICY, dt.date(2023, 8, 31), 2023)
    assert s["snapshot_date"].dt.strftime("%m-%d").tolist() == ["06-30", "08-31"]
    gaps = A.checkpoint_gaps(history, POLICY, dt.date(2023, 8, 31), 2023)
    g = gaps.loc[(gaps["university_code"] == "10386") & (gaps["group"] == "脱贫家庭")]
    assert g["placed"].tolist() == [10, 19]
    assert g["below"].tolist() == [True, False]  # 50% < 66.7%; 95% > 74.2%
    assert set(gaps["group"]) == set(POLICY.assistance.rate_above_school_groups)
    # as_of between the checkpoints: only 7月1日, from the 06-30 snapshot even if later exist
    gaps = A.checkpoint_gaps(history, POLICY, dt.date(2023, 7, 15), 2023)
    assert gaps["checkpoint_label"].unique().tolist() == ["7月1日"]


def test_checkpoint_without_a_snapshot_yet():
    history = graduates([dict(university_code="10386", n=10, placed=5)], snapshot="2023-08-31")
    s = A.checkpoint_snapshots(history, POLICY, dt.date(2023, 8, 31), 2023)
    assert s["snapshot_date"].isna().tolist() == [True, False]
    gaps = A.checkpoint_gaps(history, POLICY, dt.date(2023, 8, 31), 2023)
    assert gaps["checkpoint_label"].unique().tolist() == ["9月1日"]


def test_group_tables_are_protected_and_hidden_values_are_never_zero():
    g = graduates(
        [
            dict(university_code="10386", n=200, placed=150),
            dict(university_code="10386", n=4, placed=0, group="残疾"),
            dict(university_code="10386", n=40, placed=30, group="脱贫家庭"),
            dict(university_code="12345", n=100, placed=60),
            dict(university_code="12345", n=30, placed=20, group="脱贫家庭"),
        ]
    )
    audit: list = []
    t = A.protect(A.group_rates(g, POLICY), POLICY, table="assistance_by_group", audit=audit)
    small = t.loc[(t["university_code"] == "10386") & (t["group"] == "残疾")].iloc[0]
    assert pd.isna(small["placed"]) and np.isnan(small["placement_rate"])
    assert np.isnan(small["gap"])
    assert small["suppressed"]
    assert small["placement_rate_display"] != "0.0%"
    assert audit
    exact = t.loc[(t["university_code"] == "10386") & (t["group"] == "脱贫家庭")].iloc[0]
    assert exact["placed"] == 30 and exact["suppressed"] == ""
    comp = A.protect(
        A.assistance_compliance(
            A.group_members(g, POLICY.assistance.groups),
            A.compliance_per_graduate(
                A.group_members(g, POLICY.assistance.groups),
                A.help_counts(typed("assistance", []), dt.date(2023, 8, 31))[0],
                POLICY,
            ),
        ),
        POLICY,
        placed_col="compliant_3x3",
        rate_cols=("compliance_rate",),
    )
    assert "not_compliant_3x3" in comp.columns
    assert comp.loc[comp["graduates"].between(1, 9), "compliance_rate"].isna().all()
