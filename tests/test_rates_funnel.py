"""Rates, intervals, funnel limits and overdispersion against hand-computed values.

Hand computations (z = Φ⁻¹(0.975) = 1.959964, z² = 3.841459):
- Wilson, x = n: lower = n / (n + z²); x = 0: upper = z² / (n + z²).
- Clopper-Pearson, x = n: lower = (α/2)^(1/n); x = 0: upper = 1 − (α/2)^(1/n).
- Exact funnel limit (Spiegelhalter 2005, appendix): r_p = smallest r with P(R ≤ r) ≥ p,
  α = [P(R ≤ r_p) − p] / [P(R ≤ r_p) − P(R ≤ r_p − 1)], limit = (r_p − α) / n.
  n = 1, θ0 = 0.7: P(R ≤ 0) = 0.3, P(R ≤ 1) = 1 → upper 97.5%: r = 1, α = 0.025 / 0.7,
  limit = 1 − 0.0357143 = 0.9642857; lower 2.5%: r = 0, α = 0.275 / 0.3 → −0.917 → 0.
  n = 2, θ0 = 0.5: CDF 0.25, 0.75, 1 → upper: r = 2, α = 0.025 / 0.25 = 0.1 → 0.95.
- Overdispersion example (θ0 = 0.5; units 60/100, 40/100, 200/400): z = ±(asin√0.6 − π/4)·20 =
  ±2.0135792, 0; φ = 2·z²/3 = 2.7030008; χ² = 8.1090025 on 2 df, p = e^(−χ²/2) = 0.0173441;
  w = 4n = 400, 400, 1600: Σw − Σw²/Σw = 2400 − 1200 = 1200; τ² = (8.1090025 − 2)/1200 = 0.0050908.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers.config import load_policy
from helpers.rates import (
    FUNNEL_ZONE_LABELS,
    FUNNEL_ZONES,
    arcsine,
    exact_interval,
    funnel_assessment,
    funnel_limits,
    funnel_z_scores,
    overdispersion,
    placement_rate,
    pooled_rate,
    random_effects_limits,
    tail_probabilities,
    wilson_interval,
    winsorise,
    with_rates,
)

Z2 = 1.959963984540054**2


# --- rates and intervals ------------------------------------------------------------------------
def test_placement_rate_edges():
    r = placement_rate([0, 1, 0, 5, 9], [0, 1, 1, 5, 20])
    assert math.isnan(r[0])
    np.testing.assert_allclose(r[1:], [1.0, 0.0, 1.0, 0.45])


def test_rates_reject_impossible_counts():
    with pytest.raises(ValueError, match="placed <= n"):
        placement_rate([3], [2])
    with pytest.raises(ValueError):
        wilson_interval([-1], [2])


def test_pooled_rate_is_not_mean_of_rates():
    # 1/1 and 10/100: mean of rates 0.55, pooled 11/101
    assert pooled_rate([1, 10], [1, 100]) == pytest.approx(11 / 101)
    assert math.isnan(pooled_rate([0], [0]))


def test_wilson_methods_table_and_edges():
    lo, hi = wilson_interval([9, 1, 0, 10, 0, 0], [20, 1, 1, 10, 10, 0])
    assert lo[0] == pytest.approx(0.258, abs=5e-4) and hi[0] == pytest.approx(0.658, abs=5e-4)
    assert lo[1] == pytest.approx(1 / (1 + Z2)) and hi[1] == 1.0  # n = 1, placed
    assert lo[2] == 0.0 and hi[2] == pytest.approx(Z2 / (1 + Z2))  # n = 1, not placed
    assert lo[3] == pytest.approx(10 / (10 + Z2)) and hi[3] == 1.0  # all placed
    assert lo[4] == 0.0 and hi[4] == pytest.approx(Z2 / (10 + Z2))  # none placed
    assert math.isnan(lo[5]) and math.isnan(hi[5])  # n = 0
    assert lo[1] == pytest.approx(0.2065493) and hi[4] == pytest.approx(0.2775328)


def test_exact_interval_methods_table_and_edges():
    lo, hi = exact_interval([9, 2, 4, 10, 0, 1, 0, 0], [20, 6, 10, 10, 10, 1, 1, 0])
    np.testing.assert_allclose(lo[:3], [0.231, 0.043, 0.122], atol=5e-4)
    np.testing.assert_allclose(hi[:3], [0.685, 0.777, 0.738], atol=5e-4)
    assert lo[3] == pytest.approx(0.025 ** (1 / 10)) and hi[3] == 1.0
    assert lo[4] == 0.0 and hi[4] == pytest.approx(1 - 0.025 ** (1 / 10))
    assert lo[5] == pytest.approx(0.025) and hi[5] == 1.0
    assert lo[6] == 0.0 and hi[6] == pytest.approx(0.975)
    assert math.isnan(lo[7]) and math.isnan(hi[7])


def test_with_rates_adds_columns():
    df = pd.DataFrame({"placed": [9, 0], "graduates": [20, 0]})
    out = with_rates(df)
    assert list(out.columns[-3:]) == ["placement_rate", "ci_low", "ci_high"]
    assert out["placement_rate"].iloc[0] == 0.45 and out["ci_low"].isna().iloc[1]


# --- exact funnel limits ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "lo95", "hi95", "lo998", "hi998"),
    [
        (10, 0.339, 0.911, 0.159, 0.996),
        (20, 0.463, 0.869, 0.336, 0.949),
        (50, 0.560, 0.814, 0.481, 0.877),
        (200, 0.633, 0.760, 0.595, 0.794),
        (1000, 0.671, 0.728, 0.654, 0.744),
    ],
)
def test_funnel_limits_methods_table(n, lo95, hi95, lo998, hi998):
    lo, hi = funnel_limits([n], 0.70, 0.95)
    assert lo[0] == pytest.approx(lo95, abs=6e-4) and hi[0] == pytest.approx(hi95, abs=6e-4)
    lo, hi = funnel_limits([n], 0.70, 0.998)
    assert lo[0] == pytest.approx(lo998, abs=6e-4) and hi[0] == pytest.approx(hi998, abs=6e-4)


def test_funnel_limits_hand_computed_small_n():
    lo, hi = funnel_limits([0, 1, 10], 0.70, 0.95)
    assert math.isnan(lo[0]) and math.isnan(hi[0])
    assert lo[1] == 0.0 and hi[1] == pytest.approx(1 - 0.025 / 0.7)
    # n = 10 lower limit with more digits: CDF(3) = 0.0105920, CDF(4) = 0.0473489
    cdf3, cdf4 = 0.0105920784, 0.0473489874
    assert lo[2] == pytest.approx((4 - (cdf4 - 0.025) / (cdf4 - cdf3)) / 10, abs=1e-9)
    lo, hi = funnel_limits([2], 0.5, 0.95)
    assert lo[0] == 0.0 and hi[0] == pytest.approx(0.95)
    lo, hi = funnel_limits([1], 0.70, 0.998)
    assert hi[0] == pytest.approx(1 - 0.001 / 0.7)


def test_funnel_limits_properties():
    n = np.arange(1, 400)
    lo, hi = funnel_limits(n, 0.55, 0.95)
    assert np.all(lo <= 0.55) and np.all(hi >= 0.55)
    assert np.all((lo >= 0) & (hi <= 1))
    lo2, hi2 = funnel_limits(n, 0.55, 0.998)
    assert np.all(lo2 <= lo + 1e-12) and np.all(hi2 >= hi - 1e-12)  # 99.8% wider than 95%
    # limits narrow as n grows (compare far-apart sizes: exact limits wiggle locally)
    assert hi[-1] - lo[-1] < hi[49] - lo[49] < hi[9] - lo[9]


def test_funnel_limits_bad_input():
    with pytest.raises(ValueError, match="whole numbers"):
        funnel_limits([2.5], 0.7, 0.95)
    with pytest.raises(ValueError, match="target"):
        funnel_limits([10], 1.2, 0.95)
    with pytest.raises(ValueError, match="coverage"):
        tail_probabilities(1.0)


# --- overdispersion -----------------------------------------------------------------------------
def test_z_scores_hand_computed():
    z = funnel_z_scores([4, 0, 0, 0], [4, 4, 0, 0], 0.7)
    assert z[0] == pytest.approx(2.318558961)  # all placed: (π/2 − asin√0.7)·2·2
    assert z[1] == pytest.approx(-3.964626346)  # none placed: −asin√0.7·2·2
    assert math.isnan(z[2]) and math.isnan(z[3])  # n = 0
    assert arcsine(0.5) == pytest.approx(math.pi / 4)


def test_winsorise_clips_at_quantiles():
    v = np.array([-2.0, 0.0, 2.0, np.nan])
    w = winsorise(v, 0.1)
    # linear quantiles of (−2, 0, 2) at 10% / 90%: −1.6 / 1.6
    np.testing.assert_allclose(w[:3], [-1.6, 0.0, 1.6])
    assert math.isnan(w[3])
    np.testing.assert_array_equal(winsorise(v[:3], 0.0), v[:3])
    with pytest.raises(ValueError):
        winsorise(v, 0.5)


def test_overdispersion_hand_computed():
    od = overdispersion([60, 40, 200], [100, 100, 400], target=0.5, winsor=0.0)
    assert od.units == 3 and od.dof == 2
    assert od.phi == pytest.approx(2.703000818)
    assert od.chi2 == pytest.approx(8.109002453)
    assert od.p_value == pytest.approx(0.017344129)
    assert od.tau2 == pytest.approx(0.005090835)
    assert od.overdispersed


def test_overdispersion_winsorised_and_default_target():
    od = overdispersion([60, 40, 200], [100, 100, 400], target=0.5, winsor=0.1)
    z = 2.013579208
    zw = -z + 0.2 * z  # 10% linear quantile of (−z, 0, z)
    assert od.phi == pytest.approx(2 * zw**2 / 3)
    # default target is the pooled rate: 150/600
    assert overdispersion([60, 40, 50], [100, 100, 400]).target == pytest.approx(0.25)


def test_overdispersion_none_when_consistent_and_edge_cases():
    od = overdispersion([70, 140, 700], [100, 200, 1000], target=0.7, winsor=0.1)
    assert od.phi == pytest.approx(0.0) and od.tau2 == 0.0 and not od.overdispersed
    empty = overdispersion([0], [0])
    assert empty.units == 0 and not empty.overdispersed
    one = overdispersion([5], [10], target=0.7)
    assert one.dof == 0 and not one.overdispersed


def test_random_effects_limits_hand_computed():
    lo, hi = random_effects_limits([100, 0], 0.7, 0.95, 0.0)
    assert lo[0] == pytest.approx(0.606927932) and hi[0] == pytest.approx(0.785413714)
    assert math.isnan(lo[1])
    lo, hi = random_effects_limits([100], 0.7, 0.95, 0.01)
    assert lo[0] == pytest.approx(0.486629382) and hi[0] == pytest.approx(0.875566974)
    # limits stay inside [0, 1] even for tiny n near the edge
    lo, hi = random_effects_limits([1], 0.98, 0.998, 0.05)
    assert 0 <= lo[0] <= hi[0] <= 1


def _ordinary_province():
    """25 universities with a real spread of rates and one very large ordinary university."""
    rng = np.random.default_rng(5)
    n = rng.integers(300, 3000, 25)
    p = np.clip(0.72 + rng.normal(0, 0.06, 25), 0.4, 0.95)
    x = np.round(n * p).astype(int)
    n = np.append(n, [30_000, 800])
    x = np.append(x, [round(30_000 * 0.755), 240])  # big & ordinary; small & truly low (30%)
    return x, n


def test_funnel_assessment_large_ordinary_university_not_flagged():
    x, n = _ordinary_province()
    target = x.sum() / n.sum()
    table, od = funnel_assessment(x, n, target=target, alert=0.95, alarm=0.998, winsor=0.1)
    assert od.overdispersed and od.tau2 > 0
    # exact binomial limits alone would flag the large university ...
    _lo, hi = funnel_limits([30_000], target, 0.998)
    assert x[-2] / 30_000 > hi[0]
    # ... the random-effects limits do not, and the truly low one stays flagged
    assert table["funnel_zone"].iloc[-2] == "within"
    assert table["funnel_zone"].iloc[-1] == "low_alarm"
    assert set(table["funnel_zone"].dropna()) <= set(FUNNEL_ZONES)
    assert set(FUNNEL_ZONE_LABELS) == set(FUNNEL_ZONES)
    assert (table["alarm_low_limit"] <= table["alert_low_limit"]).all()


def test_funnel_assessment_exact_when_not_overdispersed():
    x = np.array([70, 140, 700, 0, 7])
    n = np.array([100, 200, 1000, 0, 20])
    table, od = funnel_assessment(x, n, target=0.7, alert=0.95, alarm=0.998, winsor=0.1)
    assert not od.overdispersed
    lo, hi = funnel_limits(n, 0.7, 0.95)
    np.testing.assert_allclose(table["alert_low_limit"], lo)
    np.testing.assert_allclose(table["alert_high_limit"], hi)
    assert pd.isna(table["funnel_zone"].iloc[3])  # n = 0: no zone
    assert table["funnel_zone"].iloc[4] == "low_alert"  # 7/20 = 35%: 0.336 < 35% < 0.463
    assert list(table["funnel_zone"].iloc[:3]) == ["within"] * 3


def test_policy_statistics_drive_coverages():
    st = load_policy(2023).statistics
    lo, _hi = funnel_limits([10], 0.70, st.funnel_alert)
    assert lo[0] == pytest.approx(0.339, abs=6e-4)
