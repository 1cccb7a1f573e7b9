"""Placement rates and binomial confidence intervals (vectorised over arrays / Series).

Conventions: ``placed`` successes out of ``n`` graduates; n = 0 gives NaN rate and NaN limits
(no graduates means no rate, never 0%).
"""

from __future__ import annotations

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


def with_rates(df: pd.DataFrame, placed: str = "placed", n: str = "graduates",
               confidence: float = 0.95, prefix: str = "") -> pd.DataFrame:
    """Add ``placement_rate``, ``ci_low``, ``ci_high`` (Wilson) columns to an aggregate frame."""
    out = df.copy()
    out[f"{prefix}placement_rate"] = placement_rate(out[placed], out[n])
    lo, hi = wilson_interval(out[placed], out[n], confidence)
    out[f"{prefix}ci_low"] = lo
    out[f"{prefix}ci_high"] = hi
    return out
