"""The 约谈 list: every reason per university, with the figures, and only when due."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from test_followup_frames import scenario

from helpers.followup import interviews as I


def reasons(s: dict) -> dict[str, list[str]]:
    t = s["interviews"]
    return {
        code: sorted(t.loc[t["university_code"] == code, "reason_code"])
        for code in t["university_code"].unique()
    }


def test_every_reason_with_one_row_per_university_and_reason():
    s = scenario()
    t = s["interviews"]
    assert list(t.columns) == I.COLUMNS
    assert not t.duplicated(["university_code", "reason_code"]).any()
    got = reasons(s)
    assert got["12345"] == sorted(
        ["group_rate_below", "placement_lagging", "platform_lagging", "visits_off_track"]
    )
    assert got["10386"] == ["all_placed_unmet"]
    assert got["13000"] == ["platform_lagging"]
    assert set(t["reason"]) <= set(I.REASONS.values())
    assert t["university_name"].notna().all()


def test_evidence_holds_the_figures():
    s = scenario()
    t = s["interviews"].set_index(["university_code", "reason_code"])["evidence"]
    group = t[("12345", "group_rate_below")]
    # 7月1日 (06-30 data): 8/40 = 20.0% vs 122/246 = 49.6%; 9月1日: 16/40 vs 130/246
    assert (
        "7月1日约谈节点（数据截至6月30日）：低保家庭毕业生40人，落实率20.0%，低于本校49.6%，差距29.6个百分点"
        in group
    )
    assert (
        "9月1日约谈节点（数据截至8月31日）：低保家庭毕业生40人，落实率40.0%，低于本校52.8%，差距12.8个百分点"
        in group
    )
    lag = t[("12345", "placement_lagging")]
    assert lag == (
        "截至8月31日毕业去向落实率52.8%（130/246人），低于全省2022届平均水平70.0%，"
        "也低于本校上届65.0%"
    )
    assert "关注率61.0%，低于80.0%" in t[("12345", "platform_lagging")]
    assert t[("13000", "platform_lagging")] == "辅导员绑定率80.0%，低于90.0%"
    v = t[("12345", "visits_off_track")]
    assert "走访用人单位20家，按进度应达134家（全年目标200家）" in v
    assert "校领导上半年新开拓用人单位20家，按进度应达100家（目标100家）" in v


def test_small_groups_never_show_hidden_figures():
    s = scenario()
    zero = (
        s["interviews"]
        .set_index(["university_code", "reason_code"])
        .loc[("10386", "all_placed_unmet"), "evidence"]
    )
    # 3 零就业 graduates, 1 not placed: size and count hidden, the requirement is not met
    assert zero == "截至8月31日，零就业家庭毕业生尚未全部落实（人数较少，具体人数不公开）"
    assert "1人" not in zero and "3人" not in zero and "66.7%" not in zero


def test_suppressed_group_rate_below_is_listed_without_figures():
    gaps = pd.DataFrame(
        {
            "checkpoint": [pd.Timestamp("2023-09-01")],
            "checkpoint_label": ["9月1日"],
            "snapshot_date": [pd.Timestamp("2023-08-31")],
            "university_code": ["10386"],
            "group": ["脱贫家庭"],
            "graduates": [6],
            "placement_rate": [float("nan")],
            "placement_rate_display": ["—"],
            "university_rate": [0.8],
            "gap": [float("nan")],
            "below": [True],
        }
    )
    r = I.group_rate_reasons(gaps)
    assert r["evidence"].iloc[0] == (
        "9月1日约谈节点（数据截至8月31日）：脱贫家庭毕业生6人，"
        "落实率低于本校平均水平（人数较少，具体数值按数据保护规则不公开）"
    )


def test_checkpoint_reasons_wait_for_the_checkpoint_and_placement_for_08_31():
    s = scenario(as_of=dt.date(2023, 6, 29))
    listed = set(s["interviews"]["reason_code"])
    assert "group_rate_below" not in listed
    assert "all_placed_unmet" not in listed
    assert "placement_lagging" not in listed  # initial rate not comparable yet
    s = scenario(as_of=dt.date(2023, 6, 30))
    got = reasons(s)
    assert "group_rate_below" in got["12345"]  # the 7月1日 check is due
    assert "all_placed_unmet" in got["10386"]
    assert "placement_lagging" not in got["12345"]
    t = s["interviews"]
    ev = t.loc[t["reason_code"] == "group_rate_below", "evidence"].iloc[0]
    assert "9月1日" not in ev


def test_placement_lagging_needs_both_tests():
    s = scenario()
    p = s["placement"].set_index("university_code")
    # 13000: 131/162 = 80.9% above the average; 10386 above both
    assert not p.loc["13000", "lagging"] and not p.loc["10386", "lagging"]
    assert p.loc["12345", "below_average"] and p.loc["12345", "below_baseline"]
    # below the average but above its own baseline: not lagging
    changed = s["placement"].assign(baseline_rate=0.40)
    changed["below_baseline"] = changed["placement_rate"] < changed["baseline_rate"]
    changed["lagging"] = changed["below_average"] & changed["below_baseline"]
    assert I.placement_reasons(changed, s["policy"], s["as_of"]).empty


def test_summary_per_reason():
    s = scenario()
    summary = I.interview_summary(s["interviews"]).set_index("reason_code")
    assert summary.loc["platform_lagging", "universities"] == 2
    assert summary.loc["platform_lagging", "names"] == "甲职业学院、乙学院"
    assert list(summary.index) == [c for c in I.REASONS if c in summary.index]
