"""report.build: every table from processed-shaped inputs; decisions hidden with the figures."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_followup_frames import scenario, typed

from helpers.followup import report
from helpers.tables import TABLE_TITLES, ZH_HEADERS


@pytest.fixture(scope="module")
def built():
    s = scenario()
    assistance = typed(
        "assistance",
        [
            dict(
                student_key=k,
                university_code="10386",
                help_type="谈心谈话",
                help_date="2023-05-01",
                helper_key="h",
            )
            for k in s["graduates"]["student_key"].head(3)
        ],
    )
    return report.build(
        graduates=s["graduates"],
        history=s["history"],
        recruitment=s["assigned"][list(typed("recruitment", []).columns)],
        visits=s["prepared"][list(typed("visits", []).columns)],
        platform=typed(
            "platform",
            [
                dict(
                    university_code="10386",
                    stat_date="2023-08-31",
                    graduates=10,
                    platform_followers=9,
                    counsellors=1,
                    counsellors_bound=1,
                    registered=9,
                )
            ],
        ),
        assistance=assistance,
        universities=s["universities"],
        policy=s["policy"],
        as_of=s["as_of"],
    )


def test_every_table_has_headers_titles_and_no_display_columns(built):
    for name in report.TABLE_NAMES:
        t = built.table(name)
        assert name in TABLE_TITLES
        assert all(c in ZH_HEADERS for c in t.columns), name
        assert not [c for c in t.columns if c.endswith("_display")]


def test_decisions_are_hidden_in_protected_rows(built):
    zero = built.table("all_placed_check").set_index("university_code")
    # 10386: 3 零就业 graduates, one not placed -> the yes/no would reveal it
    assert zero.loc["10386", "suppressed"]
    assert pd.isna(zero.loc["10386", "target_met"])
    assert pd.isna(zero.loc["10386", "placed"])
    # the raw decision still drives the 约谈 list
    assert "all_placed_unmet" in set(
        built.interviews.loc[built.interviews["university_code"] == "10386", "reason_code"]
    )
    gaps = built.table("checkpoint_gaps")
    hidden = gaps["suppressed"].fillna("") != ""
    assert gaps.loc[hidden, "below"].isna().all()
    assert gaps.loc[~hidden, "below"].notna().all()


def test_scope_and_help_records(built):
    assert set(built.scope["dataset"]) == {"校园招聘", "访企拓岗", "帮扶台账", "平台"}
    # the three graduates with records are not in any group
    assert built.unmatched_help == 3
    assert not built.compliance_counts["compliant"].any()


def test_platform_missing_universities_are_listed(built):
    p = built.platform.set_index("university_code")
    assert p.loc["12345", "laggard_reason"] == "未报送平台数据"


def test_university_rows_and_check():
    df = pd.DataFrame({"university_code": ["10386", "12345", "ALL"], "x": [1, 2, 3]})
    assert report.university_rows(df, "10386")["university_code"].tolist() == ["10386", "ALL"]
    assert report.university_rows(df, "10386", False)["x"].tolist() == [1]
    assert len(report.university_rows(df, None)) == 3
    uni = pd.DataFrame({"university_code": ["10386"]})
    assert report.check_university(uni, " 10386 ") == "10386"
    with pytest.raises(ValueError, match="5-digit"):
        report.check_university(uni, "abc")
    with pytest.raises(ValueError, match="no data"):
        report.check_university(uni, "99999")


def test_checkpoint_note():
    from helpers.config import load_policy

    p = load_policy(2023)
    assert report.checkpoint_note(p, dt.date(2023, 6, 1)) == (
        "本期尚无到期的约谈节点。下一约谈节点为2023年7月1日，以6月30日数据为准。"
    )
    assert report.checkpoint_note(p, dt.date(2023, 8, 31)) == (
        "已到期的约谈节点：7月1日（以6月30日数据为准）、9月1日（以8月31日数据为准）。"
    )


def test_a_period_without_activity_reports_is_not_an_error():
    s = scenario()
    ft = report.build(
        graduates=s["graduates"],
        history=s["history"],
        recruitment=typed("recruitment", []),
        visits=typed("visits", []),
        platform=typed("platform", []),
        assistance=typed("assistance", []),
        universities=s["universities"],
        policy=s["policy"],
        as_of=s["as_of"],
    )
    assert ft.by_window["events"].sum() == 0 and len(ft.inactive) == 3
    assert (ft.visits["visits"] == 0).all() and not ft.visits["on_track"].any()
    assert (ft.platform["laggard_reason"] == "未报送平台数据").all()
    assert not ft.compliance_counts["compliant"].any()
    assert set(ft.interviews["reason_code"]) >= {"visits_off_track", "group_rate_below"}
