"""Platform figures: rates, newest date, pooled province figures, laggards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_followup_frames import typed, universities

from helpers.config import load_policy
from helpers.followup import platform as P

POLICY = load_policy(2023)


def row(code, day="2023-08-31", grads=100, followers=90, counsellors=10, bound=10, registered=90):
    return dict(
        university_code=code,
        stat_date=day,
        graduates=grads,
        platform_followers=followers,
        counsellors=counsellors,
        counsellors_bound=bound,
        registered=registered,
    )


def test_rates_and_newest_date_on_or_before_as_of():
    df = typed(
        "platform",
        [
            row("10386", "2023-07-31", followers=10),
            row("10386", "2023-08-31", followers=85),
            row("10386", "2023-09-30", followers=99),
        ],
    )
    latest, later = P.latest_platform(df, "2023-08-31")
    assert later == 1
    assert latest["platform_followers"].tolist() == [85]
    unis = universities([("10386", "福州大学", 0.8)])
    t = P.platform_progress(df, unis, POLICY, "2023-08-31")
    assert t.loc[0, "follow_rate"] == pytest.approx(0.85)
    assert t.loc[0, "binding_rate"] == pytest.approx(1.0)
    assert t.loc[0, "registration_rate"] == pytest.approx(0.90)


def test_threshold_laggards_and_reasons():
    unis = universities([("10386", "福州大学", 0.8), ("12345", "甲学院", 0.6)])
    df = typed(
        "platform",
        [
            row("10386", followers=79, bound=9, registered=95),
            row("12345", followers=80, bound=9, registered=95),
        ],
    )
    t = P.platform_progress(df, unis, POLICY, "2023-08-31").set_index("university_code")
    assert t.loc["10386", "follow_rate_laggard"] == True  # noqa: E712  (79% < 80%)
    assert t.loc["12345", "follow_rate_laggard"] == False  # noqa: E712  (80% is not below)
    assert t.loc["10386", "binding_rate_laggard"] == False  # noqa: E712  (90% is not below)
    assert t.loc["10386", "laggard_reason"] == "关注率79.0%低于80.0%"
    assert pd.isna(t.loc["12345", "laggard_reason"])


def test_bottom_share_flags_floor_of_n_times_share():
    rates = pd.Series(np.linspace(0.91, 1.0, 10))
    assert P.bottom_flags(rates, 0.10).tolist() == [True] + [False] * 9
    assert P.bottom_flags(rates.iloc[:9], 0.10).sum() == 0  # floor(0.9) = 0
    tied = pd.Series([0.95, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert P.bottom_flags(tied, 0.10).sum() == 0  # a tie crosses the boundary
    assert P.bottom_flags(tied, 0.20).tolist() == [True, True] + [False] * 8
    assert P.bottom_flags(pd.Series([1.0] * 20), 0.10).sum() == 0  # all equal: nobody lags
    with_nan = pd.Series([np.nan, *np.linspace(0.91, 1.0, 10)])
    assert P.bottom_flags(with_nan, 0.10).tolist() == [False, True] + [False] * 9


def test_bottom_decile_makes_a_laggard_above_the_threshold():
    codes = [f"{10000 + i}" for i in range(10)]
    unis = universities([(c, f"学院{c}", 0.7) for c in codes])
    df = typed("platform", [row(c, followers=90 + i, registered=95) for i, c in enumerate(codes)])
    t = P.platform_progress(df, unis, POLICY, "2023-08-31")
    lag = t.loc[t["follow_rate_laggard"].astype(bool)]
    assert lag["university_code"].tolist() == ["10000"]
    assert lag["laggard_reason"].iloc[0] == "关注率90.0%处于全省后10%"


def test_missing_university_is_reported_and_counts_are_not_zero():
    unis = universities([("10386", "福州大学", 0.8), ("12345", "甲学院", 0.6)])
    df = typed("platform", [row("10386")])
    t = P.platform_progress(df, unis, POLICY, "2023-08-31").set_index("university_code")
    assert t.loc["12345", "laggard_reason"] == "未报送平台数据"
    assert pd.isna(t.loc["12345", "follow_rate"]) and pd.isna(t.loc["12345", "graduates"])


def test_province_rates_are_pooled_not_averaged():
    unis = universities([("10386", "福州大学", 0.8), ("12345", "甲学院", 0.6)])
    df = typed(
        "platform",
        [
            row("10386", grads=1000, followers=900, registered=900),
            row("12345", grads=10, followers=1, registered=1),
        ],
    )
    t = P.platform_progress(df, unis, POLICY, "2023-08-31")
    prov = P.province_platform(t)
    assert prov["follow_rate"] == pytest.approx(901 / 1010)
    assert prov["follow_rate"] != pytest.approx(t["follow_rate"].mean())
    assert prov["universities"] == 2


def test_numerator_above_denominator_is_refused_with_file_and_row():
    df = typed("platform", [row("10386", followers=120)])
    df["source_file"] = "平台_10386.csv"
    with pytest.raises(ValueError, match=r"平台_10386\.csv row 2"):
        P.latest_platform(df, "2023-08-31")
