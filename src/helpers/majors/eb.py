"""Beta-binomial empirical Bayes per discipline: steadier estimates of small 专业点 for ranking
(the raw rates stay the official figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

DISCIPLINE_KEYS = ("education_level", "discipline_code")

# A discipline needs this many points with graduates for its own beta prior; fewer: the prior of
# its education level (and fewer again: all points of the cohort).
MIN_POINTS_FOR_PRIOR = 10


@dataclass(frozen=True)
class BetaPrior:
    a: float
    b: float
    points_used: int
    converged: bool
    loglik: float

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


_LOG_BOUNDS = (np.log(1e-3), np.log(1e6))


def fit_beta_binomial(placed, n) -> BetaPrior:
    """Maximum-likelihood Beta(a, b) prior of binomial rates: y_i ~ BetaBinomial(n_i, a, b).

    Minimises the negative log-likelihood (``scipy.stats.betabinom.logpmf``) over (log a, log b)
    with SLSQP (bounded) and the analytic gradient, from a method-of-moments start. (SLSQP rather
    than L-BFGS-B: the latter calls multithreaded BLAS on 2-vectors, which costs ~100 ms per fit
    when the cores are busy with other work; SLSQP needs a few ms.) Groups with n = 0 are
    ignored. When the rates vary no more than binomial noise allows, the likelihood keeps rising
    with a + b: the fit stops at the bound (a + b up to 1e6), i.e. complete pooling.
    """
    y = np.asarray(placed, dtype=float)
    m = np.asarray(n, dtype=float)
    keep = m > 0
    y, m = y[keep], m[keep]
    if len(y) < 2:
        raise ValueError("a beta-binomial fit needs at least two groups with graduates")
    p = y / m
    mean = float(np.clip(y.sum() / m.sum(), 0.01, 0.99))
    var = float(np.var(p))
    binom_var = float(np.mean(mean * (1 - mean) / m))
    excess = var - binom_var
    strength = mean * (1 - mean) / excess - 1 if excess > 1e-6 else 1e3
    strength = float(np.clip(strength, 0.5, 1e5))
    x0 = np.log([mean * strength, (1 - mean) * strength])
    x0 = np.clip(x0, *_LOG_BOUNDS)

    def nll(theta):
        a, b = np.exp(theta)
        value = -stats.betabinom.logpmf(y, m, a, b).sum()
        psi_ab = special.digamma(a + b)
        psi_mab = special.digamma(m + a + b)
        ga = special.digamma(y + a) - psi_mab - special.digamma(a) + psi_ab
        gb = special.digamma(m - y + b) - psi_mab - special.digamma(b) + psi_ab
        return value, -np.array([ga.sum() * a, gb.sum() * b])

    res = optimize.minimize(
        nll,
        x0,
        jac=True,
        method="SLSQP",
        bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
        options={"maxiter": 200, "ftol": 1e-10},
    )
    a, b = np.exp(res.x)
    return BetaPrior(float(a), float(b), len(y), bool(res.success), float(-res.fun))


def eb_priors(points: pd.DataFrame, min_points: int = MIN_POINTS_FOR_PRIOR) -> pd.DataFrame:
    """One beta prior per discipline (discipline_code within education level).

    A discipline with at least ``min_points`` points with graduates gets its own maximum-likelihood
    prior (``prior_source`` 学科); a smaller one takes the prior fitted on every point of its
    education level (学历层次); a level with too few points takes the prior of all points (全部).
    With fewer than two points in all there is nothing to pool: the Jeffreys prior Beta(½, ½)
    (无可合并的专业点), whose posterior mean stays close to the raw rate.
    """
    valid = points[points["graduates"] > 0]
    keys = list(DISCIPLINE_KEYS)
    if len(valid) < 2:
        overall = BetaPrior(0.5, 0.5, len(valid), True, float("nan"))
        level_source = "无可合并的专业点"
    else:
        overall = fit_beta_binomial(valid["placed"], valid["graduates"])
        level_source = "全部专业点"
    level_priors: dict[str, tuple[BetaPrior, str]] = {}
    for level, grp in valid.groupby("education_level", observed=True):
        if len(grp) >= min_points:
            level_priors[level] = (fit_beta_binomial(grp["placed"], grp["graduates"]), "学历层次")
        else:
            level_priors[level] = (overall, level_source)
    rows = []
    disciplines = points.drop_duplicates(keys)[[*keys, "discipline_name"]]
    sizes = valid.groupby(keys, observed=True).size()
    groups = dict(list(valid.groupby(keys, observed=True)))
    for level, code, name in disciplines.itertuples(index=False):
        n_pts = int(sizes.get((level, code), 0))
        if n_pts >= min_points:
            grp = groups[(level, code)]
            prior, source = fit_beta_binomial(grp["placed"], grp["graduates"]), "学科"
        else:
            prior, source = level_priors.get(level, (overall, level_source))
        rows.append(
            (
                level,
                code,
                name,
                source,
                prior.a,
                prior.b,
                prior.mean,
                prior.a + prior.b,
                n_pts if source == "学科" else prior.points_used,
                prior.converged,
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            *keys,
            "discipline_name",
            "prior_source",
            "prior_a",
            "prior_b",
            "prior_mean",
            "prior_strength",
            "points_used",
            "converged",
        ],
    )


def eb_estimates(points: pd.DataFrame, priors: pd.DataFrame, policy) -> pd.DataFrame:
    """Posterior Beta(a + placed, b + graduates - placed) per point: mean (``eb_rate``), equal-tailed
    credible interval at the policy confidence, ``eb_prob_below`` = P(true rate < threshold) and
    ``eb_weight`` = n / (n + a + b), the weight of the point's own data. Points without graduates
    keep NaN. Raw rates stay the official figures; these order tables and steady small points."""
    keys = list(DISCIPLINE_KEYS)
    merged = points.merge(priors[[*keys, "prior_a", "prior_b"]], on=keys, how="left")
    if merged["prior_a"].isna().any():
        raise ValueError("a point's discipline has no prior: fit eb_priors on the same points")
    n = merged["graduates"].to_numpy(dtype=float)
    y = merged["placed"].to_numpy(dtype=float)
    pa = merged["prior_a"].to_numpy() + y
    pb = merged["prior_b"].to_numpy() + n - y
    alpha = 1 - policy.statistics.confidence
    has = n > 0
    out = points.copy()
    out["eb_rate"] = np.where(has, pa / (pa + pb), np.nan)
    out["eb_low"] = np.where(has, stats.beta.ppf(alpha / 2, pa, pb), np.nan)
    out["eb_high"] = np.where(has, stats.beta.ppf(1 - alpha / 2, pa, pb), np.nan)
    out["eb_prob_below"] = np.where(has, stats.beta.cdf(policy.majors.threshold, pa, pb), np.nan)
    out["eb_weight"] = np.where(
        has, n / (n + merged["prior_a"] + merged["prior_b"]).to_numpy(), np.nan
    )
    return out
