"""The sentences of the 全省通报, generated from constructed figures."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_followup_frames import scenario, universities

from helpers.config import load_policy
from helpers.followup import circular as T
from helpers.followup import interviews as I
from helpers.followup import platform as P
from helpers.followup import text
from helpers.followup.common import university_placement

POLICY = load_policy(2023)


def test_formatters():
    assert [text.numeral(i) for i in (1, 6, 10, 11, 20, 23)] == [
        "一",
        "六",
        "十",
        "十一",
        "二十",
        "二十三",
    ]
    with pytest.raises(ValueError):
        text.numeral(0)
    assert text.pct(0.7234) == "72.3%" and text.pct(float("nan")) == "—"
    assert text.pp(-0.032) == "3.2个百分点"
    assert text.date_zh(dt.date(2024, 2, 29)) == "2024年2月29日"
    assert text.date_zh(pd.Timestamp("2023-07-01"), year=False) == "7月1日"
    assert text.names(["甲", "乙", "丙"], limit=2) == "甲、乙等3所"
    assert T.small_count(3, POLICY) == "少于5" and T.small_count(12, POLICY) == "12"


def test_overall_rate_is_pooled_and_compared_with_the_policy_line():
    from test_followup_frames import graduates

    uni = universities([("10386", "福州大学", 0.75), ("12345", "甲学院", 0.80)])
    g = graduates(
        [
            dict(university_code="10386", n=900, placed=720),  # 80%
            dict(university_code="12345", n=100, placed=40),
        ]
    )  # 40%
    p = university_placement(g, uni, POLICY)
    s = T.overall_text(p, POLICY, dt.date(2023, 8, 31), 2023)
    # pooled 760/1000 = 76.0% (the mean of rates would be 60%)
    assert "全省2所高校2023届毕业生共1,000人，已落实毕业去向760人，毕业去向落实率为76.0%" in s
    assert "95%置信区间73.3%至78.5%" in s
    assert "全省2022届初次毕业去向落实率平均水平为70.0%，高于该水平6.0个百分点" in s
    assert "落实率低于全省平均水平的高校1所，其中1所同时低于本校上届水平：甲学院。" in s
    assert "仅供参考" not in s
    early = T.overall_text(p, POLICY, dt.date(2023, 5, 31), 2023)
    assert "当前落实率仍在进展中，比较仅供参考" in early


def test_recruitment_text_names_the_inactive_universities():
    s = scenario()
    t = T.recruitment_text(s["by_window"], s["by_type"], s["policy"], s["as_of"])
    assert t.startswith(
        "2023年2月13日以来，全省高校累计举办各类校园招聘活动3场，参会用人单位80家次，"
        "提供岗位1,200个，学生参与1,600人次。"
    )
    assert "最近一个统计周期（8月14日至8月27日），全省举办招聘活动3场，提供岗位1,200个" in t
    assert "场次较上一周期增加3场，其中双选会3场" in t
    assert t.endswith("1所高校在该周期未开展招聘活动：甲职业学院。")


def test_visits_text():
    s = scenario()
    t = T.visits_text(s["visits"], s["policy"], s["as_of"])
    assert (
        "累计走访320次，走访用人单位320家（各校分别计数），新开拓用人单位320家，拓展岗位640个" in t
    )
    assert "截至目前应达到134家，2所高校达到进度，1所高校滞后：甲职业学院。" in t
    assert (
        "上届初次毕业去向落实率低于全省平均水平的2所高校，其领导班子应在6月30日前新开拓用人单位"
        "不少于100家，1所达到要求，1所未达到：甲职业学院。"
    ) in t
    before = T.visits_text(
        scenario(dt.date(2023, 6, 29))["visits"], s["policy"], dt.date(2023, 6, 29)
    )
    assert "（按进度目前应达100家）" in before  # ceil(100 x 180/181)


def test_assistance_text_uses_protected_figures_only():
    s = scenario()
    t = T.assistance_text(
        s["groups"],
        s["compliance"],
        s["per_graduate"],
        s["zero"],
        s["willing"],
        s["gaps"],
        s["policy"],
        s["as_of"],
    )
    assert "脱贫家庭毕业生42人，落实率>=90.4%；" in t  # 4 not placed: shown as a bound
    assert "零就业家庭毕业生3人（人数较少，落实率不公布）" in t
    assert "2所高校存在未达到“3个3”要求的困难毕业生" in t
    assert "零就业家庭毕业生尚未全部落实的高校1所：福州大学，须实行动态清零。" in t
    assert "有就业意愿的残疾毕业生6人，尚有毕业生未落实（人数较少，具体人数不公布）。" in t
    assert (
        "7月1日约谈节点（数据截至6月30日），脱贫家庭、低保家庭毕业生落实率低于本校平均水平的高校1所：甲职业学院。"
        in t
    )
    assert "66.7%" not in t  # 2 of 3 零就业 placed: hidden


def test_assistance_text_before_the_first_checkpoint_names_the_next_one():
    s = scenario(dt.date(2023, 6, 29))
    t = T.assistance_text(
        s["groups"],
        s["compliance"],
        s["per_graduate"],
        s["zero"],
        s["willing"],
        s["gaps"],
        s["policy"],
        s["as_of"],
    )
    assert "下一约谈节点为7月1日，以6月30日数据为准" in t


def test_platform_text_pooled_and_laggards():
    s = scenario()
    prov = P.province_platform(s["platform"])
    t = T.platform_text(s["platform"], prov, s["policy"], s["as_of"])
    assert "关注率83.7%（620/741人）" in t
    assert "辅导员绑定率90.0%（27/30人）" in t
    assert "关注率低于80.0%或处于全省后10%的高校1所：甲职业学院。" in t
    assert "辅导员绑定率低于90.0%或处于全省后10%的高校1所：乙学院。" in t


def test_interview_text():
    s = scenario()
    summary = I.interview_summary(s["interviews"])
    t = T.interview_text(
        summary, s["interviews"]["university_code"].nunique(), s["policy"], s["as_of"]
    )
    assert t.startswith("根据通知要求，拟约谈高校3所")
    assert "平台关注率或辅导员绑定率滞后的2所（甲职业学院、乙学院）" in t
    assert T.interview_text(summary.iloc[0:0], 0, s["policy"], s["as_of"]) == (
        "根据通知要求，本期无需约谈的高校。"
    )


def test_title_and_opening():
    assert T.title(2023) == "关于2023届全省普通高校毕业生就业工作进展情况的通报"
    assert "截至2023年8月31日" in T.opening_text(dt.date(2023, 8, 31), POLICY)
