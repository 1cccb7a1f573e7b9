"""Placement rates and binomial confidence intervals (vectorised over arrays / Series).

Conventions: ``placed`` successes out of ``n`` graduates; n = 0 gives NaN rate and NaN limits
(no graduates means no rate, never 0%).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def _arrays(placed, n):
    x = np.asarray(placed, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(x < 0) or np.any(m < 0) or np.any(x > m):
        raise ValueError("need 0 <= placed <= n for every group")
    return x, m


def placement_rate(placed, n):
    """placed / n, NaN where n = 0."""
    x, m = _arrays(placed, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m > 0, x / m, np.nan)


def wilson_interval(placed, n, confidence: float = 0.95):
    """Wilson score interval (lower, upper); NaN where n = 0."""
    x, m = _arrays(placed, n)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
        lo = np.clip(centre - half, 0, 1)
        hi = np.clip(centre + half, 0, 1)
    # exact bounds at the edges (rounding noise otherwise leaves 1e-17 instead of 0)
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where(x == m, 1.0, hi)
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


def exact_interval(placed, n, confidence: float = 0.95):
    """Clopper-Pearson interval (lower, upper); 0 / 1 at x = 0 / x = n; NaN where n = 0."""
    x, m = _arrays(placed, n)
    a = 1 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x > 0, stats.beta.ppf(a / 2, x, m - x + 1), 0.0)
        hi = np.where(x < m, stats.beta.ppf(1 - a / 2, x + 1, m - x), 1.0)
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


def with_rates(
    df: pd.DataFrame,
    placed: str = "placed",
    n: str = "graduates",
    confidence: float = 0.95,
    prefix: str = "",
) -> pd.DataFrame:
    """Add ``placement_rate``, ``ci_low``, ``ci_high`` (Wilson) columns to an aggregate frame."""
    out = df.copy()
    out[f"{prefix}placement_rate"] = placement_rate(out[placed], out[n])
    lo, hi = wilson_interval(out[placed], out[n], confidence)
    out[f"{prefix}ci_low"] = lo
    out[f"{prefix}ci_high"] = hi
    return out


def pooled_rate(placed, n) -> float:
    """Σplaced / Σn (the provincial average is pooled, never a mean of rates); NaN if Σn = 0."""
    x, m = _arrays(placed, n)
    total = m.sum()
    return float(x.sum() / total) if total > 0 else float("nan")


# --- funnel plots (Spiegelhalter 2005) ----------------------------------------------------------
def tail_probabilities(coverage: float) -> tuple[float, float]:
    """Two-sided tail probabilities of a coverage: 0.95 -> (0.025, 0.975)."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    a = (1 - coverage) / 2
    return a, 1 - a


def _exact_quantile(n: np.ndarray, target: float, p: float) -> np.ndarray:
    """Interpolated binomial quantile (r_p - alpha) / n of Spiegelhalter (2005), appendix A.1.1.

    r_p is the smallest r with P(R <= r | n, target) >= p, and
    alpha = [P(R <= r_p) - p] / [P(R <= r_p) - P(R <= r_p - 1)] spreads the discrete step linearly.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r = stats.binom.ppf(p, n, target)
        # guard against floating point in ppf: r must be the smallest value reaching p
        r = np.where((r > 0) & (stats.binom.cdf(r - 1, n, target) >= p), r - 1, r)
        c = stats.binom.cdf(r, n, target)
        c_prev = np.where(r > 0, stats.binom.cdf(r - 1, n, target), 0.0)
        step = c - c_prev
        alpha = np.where(step > 0, (c - p) / step, 0.0)
        limit = (r - alpha) / n
    return np.clip(limit, 0.0, 1.0)


def funnel_limits(n, target: float, coverage: float):
    """Exact binomial funnel limits (lower, upper) around ``target`` for sizes ``n``.

    ``coverage`` is two-sided (0.95 alert, 0.998 alarm). NaN where n = 0. Verified against
    methods.md §2.2 (target 0.70, n = 10: 0.339–0.911 at 95%).
    """
    if not 0 <= target <= 1:
        raise ValueError(f"target must be a fraction in [0, 1], got {target!r}")
    m = np.asarray(n, dtype=float)
    if np.any(m < 0) or np.any(m != np.round(m)):
        raise ValueError("funnel sizes must be non-negative whole numbers")
    lo_p, hi_p = tail_probabilities(coverage)
    safe = np.where(m > 0, m, 1.0)
    lo = _exact_quantile(safe, target, lo_p)
    hi = _exact_quantile(safe, target, hi_p)
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


# Overdispersion works on the arcsine (variance-stabilising) scale, as FunnelPlotR does for
# proportions: Y = asin(sqrt(p)) has standard error 1 / (2 sqrt(n)) whatever p is, so a single
# between-university variance tau^2 is meaningful for universities with rates of 55% and of 95%
# alike, the limits sin^2(.) never leave [0, 1], and the result can be checked against a
# maintained reference implementation (nhs-r-community/FunnelPlotR, R/od_adjustment.R).
def arcsine(p):
    """Y = asin(sqrt(p))."""
    return np.arcsin(np.sqrt(np.clip(np.asarray(p, dtype=float), 0.0, 1.0)))


def funnel_z_scores(placed, n, target: float):
    """Unadjusted z-scores on the arcsine scale: (asin√p − asin√target) · 2√n; NaN where n = 0."""
    x, m = _arrays(placed, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(m > 0, x / np.where(m > 0, m, 1), np.nan)
        z = (arcsine(p) - arcsine(target)) * 2 * np.sqrt(m)
    return np.where(m > 0, z, np.nan)


def winsorise(values, fraction: float):
    """Clip values at their ``fraction`` and ``1 - fraction`` quantiles (NaN kept, ignored)."""
    v = np.asarray(values, dtype=float)
    if not 0 <= fraction < 0.5:
        raise ValueError(f"winsorisation fraction must be in [0, 0.5), got {fraction!r}")
    ok = ~np.isnan(v)
    if fraction == 0 or not ok.any():
        return v.copy()
    lo, hi = np.quantile(v[ok], [fraction, 1 - fraction])  # linear, as R's default type 7
    return np.where(ok, np.clip(v, lo, hi), np.nan)


@dataclass(frozen=True)
class Overdispersion:
    """Result of the overdispersion test of a set of units around a target."""

    units: int  # I: units with at least one graduate
    target: float  # θ0 (a fraction)
    phi: float  # φ̂ = mean of squared winsorised z-scores
    chi2: float  # I·φ̂, compared with χ²(I−1)
    dof: int
    p_value: float
    tau2: float  # DerSimonian–Laird between-unit variance on the arcsine scale
    winsor: float
    alpha: float  # significance level of the test

    @property
    def overdispersed(self) -> bool:
        """True when the χ² test rejects "no overdispersion" and τ² > 0."""
        return bool(self.units > 1 and self.p_value < self.alpha and self.tau2 > 0)


def overdispersion(
    placed, n, target: float | None = None, winsor: float = 0.10, alpha: float = 0.05
) -> Overdispersion:
    """Spiegelhalter (2005) overdispersion: φ̂, the χ² test, and the additive τ² (arcsine scale).

    z_i = (asin√y_i − asin√θ0) / s_i with s_i = 1/(2√n_i); z winsorised at ``winsor`` / 1 −
    ``winsor``; φ̂ = Σz²/I; τ̂² = max(0, (Iφ̂ − (I−1)) / (Σw − Σw²/Σw)), w = 1/s² = 4n.
    ``target`` defaults to the pooled rate. Units with n = 0 are left out.
    """
    x, m = _arrays(placed, n)
    keep = m > 0
    x, m = x[keep], m[keep]
    units = int(keep.sum())
    if target is None:
        target = float(x.sum() / m.sum()) if units else float("nan")
    if units == 0:
        return Overdispersion(
            0, target, float("nan"), float("nan"), 0, float("nan"), 0.0, winsor, alpha
        )
    z = winsorise(funnel_z_scores(x, m, target), winsor)
    phi = float(np.mean(z**2))
    chi2 = units * phi
    dof = units - 1
    p_value = float(stats.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    w = 4.0 * m
    denom = w.sum() - (w**2).sum() / w.sum()
    tau2 = max(0.0, (chi2 - dof) / denom) if denom > 0 and chi2 >= dof else 0.0
    return Overdispersion(units, float(target), phi, chi2, dof, p_value, float(tau2), winsor, alpha)


def random_effects_limits(n, target: float, coverage: float, tau2: float):
    """Overdispersion-adjusted limits sin²(asin√θ0 ± z·√(1/(4n) + τ²)); NaN where n = 0."""
    m = np.asarray(n, dtype=float)
    z = stats.norm.ppf(tail_probabilities(coverage)[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = z * np.sqrt(1.0 / (4.0 * m) + tau2)
        centre = arcsine(target)
        lo = np.sin(np.clip(centre - spread, 0.0, np.pi / 2)) ** 2
        hi = np.sin(np.clip(centre + spread, 0.0, np.pi / 2)) ** 2
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


FUNNEL_ZONES = ("high_alarm", "high_alert", "within", "low_alert", "low_alarm")
FUNNEL_ZONE_LABELS = {
    "high_alarm": "高于99.8%控制限",
    "high_alert": "高于95%控制限",
    "within": "控制限内",
    "low_alert": "低于95%控制限",
    "low_alarm": "低于99.8%控制限",
}


def funnel_assessment(
    placed, n, *, target: float, alert: float, alarm: float, winsor: float
) -> tuple[pd.DataFrame, Overdispersion]:
    """Each unit's funnel position around ``target``.

    Limits are exact binomial; when the units are overdispersed (χ² test at 1 − ``alert``) they are
    the random-effects limits instead, so that large but ordinary units are not flagged. Returns a
    frame (one row per unit, in input order) with the limits used, ``funnel_z`` (arcsine z-score,
    adjusted for τ² when applied) and ``funnel_zone`` (one of :data:`FUNNEL_ZONES`, <NA> where
    n = 0), and the :class:`Overdispersion` result.
    """
    x, m = _arrays(placed, n)
    od = overdispersion(x, m, target=target, winsor=winsor, alpha=1 - alert)
    if od.overdispersed:
        a_lo, a_hi = random_effects_limits(m, target, alert, od.tau2)
        b_lo, b_hi = random_effects_limits(m, target, alarm, od.tau2)
    else:
        a_lo, a_hi = funnel_limits(m, target, alert)
        b_lo, b_hi = funnel_limits(m, target, alarm)
    tau2 = od.tau2 if od.overdispersed else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(m > 0, x / np.where(m > 0, m, 1), np.nan)
        z = (arcsine(rate) - arcsine(target)) / np.sqrt(1.0 / (4.0 * m) + tau2)
    zone = np.select(
        [m == 0, rate > b_hi, rate > a_hi, rate < b_lo, rate < a_lo],
        ["", "high_alarm", "high_alert", "low_alarm", "low_alert"],
        default="within",
    )
    out = pd.DataFrame(
        {
            "alert_low_limit": a_lo,
            "alert_high_limit": a_hi,
            "alarm_low_limit": b_lo,
            "alarm_high_limit": b_hi,
            "funnel_z": np.where(m > 0, z, np.nan),
            "funnel_zone": pd.Categorical(
                np.where(zone == "", None, zone), categories=FUNNEL_ZONES
            ),
        }
    )
    if isinstance(n, pd.Series):
        out.index = n.index
    return out, od
