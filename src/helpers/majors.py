"""学科专业点 (university, level, major) evidence for the major-adjustment list (notice §六).

A 专业点 is one major at one education level of one university. The notice asks every university
with 专业点 whose initial placement rate (初次毕业去向落实率, the 08-31 snapshot) is below 50% to send an
adjustment plan by 1 April of the following year. Everything here is pure: processed graduates
frames (``helpers.load.load_graduate_history``) and the policy in, small aggregate frames out.

Pieces, in the order a report uses them:

- :func:`review_snapshot`: which cohort is under review and which snapshot gives its initial rate;
- :func:`point_rates`: graduates, placed, rate, Wilson interval and :func:`evidence_level` per point;
- :func:`cohort_trend` / :func:`trend_flags`: the same point in earlier cohorts, consecutive years below;
- :func:`peer_comparison`: the same major at the *other* universities, pooled (never one university);
- :func:`fit_beta_binomial`, :func:`eb_priors`, :func:`eb_estimates`: beta-binomial empirical Bayes per
  discipline for ranking and steadier small points (raw rates stay the official figures);
- :func:`destination_mix`: where the graduates of a point went (waiting for 升学, 待就业, …);
- :func:`evidence_summary`: points per evidence level by discipline / university;
- :func:`adjustment_plan_status`: universities with flagged points vs plans received and the deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from helpers import grouping
from helpers.codes import UNKNOWN_BUCKET
from helpers.rates import placement_rate, wilson_interval

EVIDENCE_LEVELS = ("insufficient", "below_confident", "below_point", "not_below")
EVIDENCE_LABELS = {
    "insufficient": "人数不足",
    "below_confident": "确定低于阈值",
    "below_point": "点估计低于阈值",
    "not_below": "未低于阈值",
}
# Evidence levels that put a point on the department's list (rate below the threshold and enough
# graduates to judge); `below_confident` is the stronger of the two.
FLAGGED_LEVELS = ("below_confident", "below_point")

POINT_KEYS = ("university_code", "education_level", "major_code")
PEER_KEYS = ("education_level", "major_code")
DISCIPLINE_KEYS = ("education_level", "discipline_code")

UNKNOWN_DISCIPLINE = "未知学科"
# A pooled figure of fewer than two other universities would show one university's point (a
# "pool" of one is that point): peer figures need at least this many other points.
MIN_PEER_POINTS = 2
# A discipline needs this many points with graduates for its own beta prior; fewer: the prior of
# its education level (and fewer again: all points of the cohort).
MIN_POINTS_FOR_PRIOR = 10

# Destination-mix categories: the 2024 buckets, with 暂不就业 split into 71 (waiting for 升学) and 72.
MIX_CATEGORIES = {
    "单位就业": "mix_employed",
    "自主创业": "mix_self_employed",
    "自由职业": "mix_freelance",
    "升学": "mix_further_study",
    "待就业": "mix_unemployed",
    "不就业拟升学": "mix_awaiting_study",
    "其他暂不就业": "mix_not_working_other",
    "未登记": "mix_unrecorded",
}
UNPLACED_MIX = ("待就业", "不就业拟升学", "其他暂不就业", "未登记")

# "Is it the major or the school?" for a point below the threshold, from the pooled rate of the
# same major at the other universities.
PEER_VERDICTS = {
    "major": "同专业全省普遍偏低（专业因素）",
    "school": "明显低于省内同专业（学校因素）",
    "unclear": "与省内同专业的差异在误差范围内",
}

PLAN_STATUSES = ("按期报送", "逾期报送", "未报送（已逾期）", "未报送（未到截止日期）")

# Chinese headers of the columns the major-evidence tables add (columns shared with other tables,
# e.g. university_code, graduates, placement_rate, ci_low, evidence_level, are registered by
# helpers.tables itself).
ZH_HEADERS = {
    "is_initial": "是否初次统计日",
    "below_threshold": "低于阈值",
    "cohorts_observed": "有数据届数",
    "cohorts_below": "低于阈值届数",
    "consecutive_below": "截至本届连续低于阈值届数",
    "below_two_consecutive": "连续两届低于阈值",
    "previous_cohort": "上一届",
    "previous_cohort_graduates": "上届毕业生数",
    "two_cohort_graduates": "本届与上届合计毕业生数",
    "two_cohort_rate": "本届与上届合计落实率",
    "two_cohort_ci_low": "两届合计置信区间下限",
    "two_cohort_ci_high": "两届合计置信区间上限",
    "two_cohort_confirmed": "两届合计确认低于阈值",
    "peer_points": "省内同专业其他专业点数",
    "peer_graduates": "同专业其他院校毕业生数",
    "peer_placed": "同专业其他院校已落实人数",
    "peer_rate": "同专业其他院校合计落实率",
    "peer_ci_low": "同专业合计置信区间下限",
    "peer_ci_high": "同专业合计置信区间上限",
    "gap_to_peers": "与同专业其他院校差距",
    "peer_verdict": "同专业比较结论",
    "prior_source": "先验来源",
    "prior_a": "先验参数a",
    "prior_b": "先验参数b",
    "prior_mean": "先验均值",
    "prior_strength": "先验强度（a+b）",
    "points_used": "拟合所用专业点数",
    "converged": "拟合收敛",
    "eb_rate": "经验贝叶斯估计",
    "eb_low": "贝叶斯可信区间下限",
    "eb_high": "贝叶斯可信区间上限",
    "eb_prob_below": "低于阈值的后验概率",
    "eb_weight": "本点数据权重",
    **{col: f"{label}占比" for label, col in MIX_CATEGORIES.items()},
    "main_unplaced": "未落实者主要去向",
    "points": "专业点数",
    "insufficient": EVIDENCE_LABELS["insufficient"],
    "below_confident": EVIDENCE_LABELS["below_confident"],
    "below_point": EVIDENCE_LABELS["below_point"],
    "not_below": EVIDENCE_LABELS["not_below"],
    "flagged_points": "列入名单专业点数",
    "watch": "人数不足但低于阈值",
    "flagged_graduates": "名单专业点毕业生数",
    "below_confident_points": "确定低于阈值专业点数",
    "deadline": "报送截止日期",
    "received_date": "报送日期",
    "plan_status": "方案报送状态",
    "days_late": "逾期天数",
}
RATE_COLUMNS = (
    "prior_mean",
    "eb_rate",
    "eb_low",
    "eb_high",
    "eb_prob_below",
    "eb_weight",
    *MIX_CATEGORIES.values(),
)
TABLE_TITLES = {
    "major_points": "专业点落实率与证据等级",
    "major_flagged": "列入名单的专业点",
    "major_trend": "专业点历届趋势",
    "major_peers": "同专业省内比较",
    "major_eb_priors": "经验贝叶斯先验",
    "major_summary": "专业点证据汇总",
    "adjustment_plan_status": "调整改革实施方案报送",
}


def evidence_level(
    graduates, placement_rate, ci_high, threshold: float, min_graduates: int
) -> pd.Series:
    """Evidence level of each 专业点 (vectorised).

    ``insufficient``: fewer graduates than ``min_graduates``; ``below_confident``: the upper
    confidence limit is below the threshold; ``below_point``: the rate is below the threshold but
    the interval reaches it; ``not_below`` otherwise.
    """
    n = np.asarray(graduates, dtype=float)
    rate = np.asarray(placement_rate, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    level = np.select(
        [n < min_graduates, hi < threshold, rate < threshold],
        ["insufficient", "below_confident", "below_point"],
        default="not_below",
    )
    index = graduates.index if isinstance(graduates, pd.Series) else None
    return pd.Series(
        pd.Categorical(level, categories=EVIDENCE_LEVELS), index=index, name="evidence_level"
    )


# --- which cohort and which snapshot ----------------------------------------------------------


@dataclass(frozen=True)
class ReviewSnapshot:
    """The cohort under review and the snapshot that gives its (initial) rate.

    ``is_initial`` is False when the policy's initial snapshot (08-31) of that cohort is not in the
    data yet and another snapshot stands in for it; ``note`` says so in Chinese for the report.
    """

    cohort: int
    snapshot_date: dt.date
    initial_date: dt.date
    is_initial: bool
    note: str

    @property
    def deadline_year(self) -> int:
        """Adjustment plans for this cohort are due in the following year."""
        return self.cohort + 1


def available_snapshots(history: pd.DataFrame) -> pd.DataFrame:
    """Distinct (cohort, snapshot_date) pairs of a graduates history frame, oldest first."""
    pairs = history[["cohort", "snapshot_date"]].drop_duplicates()
    if pairs["snapshot_date"].isna().any():
        raise ValueError("graduates history has rows without snapshot_date")
    pairs = pairs.assign(
        cohort=pairs["cohort"].astype(int),
        snapshot_date=pd.to_datetime(pairs["snapshot_date"]).dt.date,
    )
    return pairs.sort_values(["cohort", "snapshot_date"]).reset_index(drop=True)


def _cohort_snapshot(dates: list[dt.date], initial: dt.date) -> tuple[dt.date, bool]:
    """The initial snapshot when present; else the newest one before it; else the nearest after."""
    if initial in dates:
        return initial, True
    before = [d for d in dates if d < initial]
    if before:
        return max(before), False
    return min(dates), False


def review_snapshot(snapshots: pd.DataFrame, as_of: dt.date, policy) -> ReviewSnapshot:
    """Choose the cohort under review and its snapshot for a reporting date.

    Rule (documented in the report): for ``as_of`` in year Y the cohort under review is Y once Y's
    initial snapshot date (policy ``placement.initial_snapshot``, 08-31) has been reached, and Y-1
    before that: the department sends the list of the previous cohort early in the year and the
    plans are due on ``majors.adjustment_plan_deadline`` (04-01) of the year after the cohort. When
    that cohort has no snapshot in the data, the newest cohort that has one is used instead. The
    rate comes from the cohort's initial snapshot; before it exists, from the newest earlier
    snapshot (``is_initial`` False, and the note says so).

    ``snapshots``: frame with ``cohort`` and ``snapshot_date`` (see :func:`available_snapshots`),
    only snapshots on or before ``as_of`` are considered.
    """
    initial_md = policy.placement.initial_snapshot
    pairs = available_snapshots(snapshots)
    pairs = pairs[pairs["snapshot_date"] <= as_of]
    if pairs.empty:
        raise ValueError(
            f"没有 {as_of} 及以前的毕业去向快照 (no graduates snapshot on or before {as_of})"
        )
    year_initial = policy.date(initial_md, as_of.year)
    wanted = as_of.year if as_of >= year_initial else as_of.year - 1
    cohorts = set(pairs["cohort"])
    cohort = wanted if wanted in cohorts else int(max(cohorts))
    initial = policy.date(initial_md, cohort)
    dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
    snapshot, is_initial = _cohort_snapshot(dates, initial)

    why = (
        f"报告日期 {as_of.isoformat()} 已到 {as_of.year} 届初次统计日（{year_initial.isoformat()}），审核对象为 {as_of.year} 届"
        if wanted == as_of.year
        else f"报告日期 {as_of.isoformat()} 早于 {as_of.year} 届初次统计日（{year_initial.isoformat()}），"
        f"审核对象为上一届（{wanted} 届）：名单于次年初下发，调整改革实施方案于次年截止日前报送"
    )
    if cohort != wanted:
        why += f"；数据中没有 {wanted} 届，改用数据中最新的 {cohort} 届"
    if is_initial:
        which = (
            f"专业点落实率取 {cohort} 届 {snapshot.isoformat()} 快照（初次毕业去向落实率统计日）。"
        )
    elif snapshot < initial:
        which = (
            f"{cohort} 届尚无 {initial.isoformat()}（初次统计日）快照，暂用最新快照 {snapshot.isoformat()} 计算："
            "结果为阶段性数据，正式名单以初次统计日快照为准。"
        )
    else:
        which = (
            f"{cohort} 届缺少 {initial.isoformat()}（初次统计日）快照，改用最接近的快照 {snapshot.isoformat()}，"
            "结果不是初次毕业去向落实率，请谨慎使用。"
        )
    return ReviewSnapshot(cohort, snapshot, initial, is_initial, f"{why}。{which}")


def _snapshot_mask(history: pd.DataFrame, pairs) -> np.ndarray:
    """Rows of any of the (cohort, snapshot date) ``pairs`` (compared as datetime64, vectorised)."""
    cohorts = history["cohort"].to_numpy(dtype=np.int64)
    dates = pd.to_datetime(history["snapshot_date"]).to_numpy(dtype="datetime64[D]")
    mask = np.zeros(len(history), dtype=bool)
    for cohort, day in pairs:  # a handful of cohorts, never rows
        mask |= (cohorts == int(cohort)) & (dates == np.datetime64(day, "D"))
    return mask


def snapshot_rows(history: pd.DataFrame, cohort: int, snapshot_date: dt.date) -> pd.DataFrame:
    """Rows of one cohort in one snapshot of a history frame."""
    return history[_snapshot_mask(history, [(cohort, snapshot_date)])]


# --- per-point rates and evidence -------------------------------------------------------------


def point_rates(graduates: pd.DataFrame, policy, keys=POINT_KEYS) -> pd.DataFrame:
    """Graduates, placed, rate, Wilson interval and evidence level per 专业点 and cohort.

    ``graduates``: processed graduates rows (one snapshot per cohort). Only ``in_denominator`` rows
    count (结业/肄业 per policy); a point whose graduates are all outside the denominator keeps a
    row with 0 graduates (evidence ``insufficient``), so nothing disappears.
    """
    keys = [*keys, "cohort"]
    missing = {
        *keys,
        "major_name",
        "discipline_code",
        "discipline_name",
        "in_denominator",
        "placed",
    } - set(graduates.columns)
    if missing:
        raise ValueError(f"graduates frame lacks columns {sorted(missing)}")
    # one pass over integer codes (helpers.grouping): counts, the most frequent name (ties: the
    # smallest; a missing name counts as a value) and the first row's discipline per point;
    # rows with a missing key value are left out, as groupby leaves them out
    counted = grouping.as_bool(graduates["in_denominator"])
    c = grouping.count_groups(
        graduates,
        keys,
        {"counted": counted, "placed": counted & grouping.as_bool(graduates["placed"])},
        mode=["major_name"],
        first_row=["discipline_code", "discipline_name"],
    )
    out = c.keys.copy()
    out["graduates"] = c.count("counted")
    out["placed"] = c.count("placed")
    for col, values in c.first.items():
        out[col] = values.array
    for col in keys[:-1]:
        out[col] = out[col].astype("string")
    # a point without a discipline (not expected from ingest) is grouped as 未知, never dropped
    out["discipline_code"] = out["discipline_code"].astype("string").fillna("")
    out["discipline_name"] = out["discipline_name"].astype("string").fillna(UNKNOWN_DISCIPLINE)
    out["major_name"] = out["major_name"].astype("string")
    conf = policy.statistics.confidence
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["placed"], out["graduates"], conf)
    out["evidence_level"] = evidence_level(
        out["graduates"],
        out["placement_rate"],
        out["ci_high"],
        policy.majors.threshold,
        policy.majors.min_graduates,
    )
    out["evidence_label"] = out["evidence_level"].map(EVIDENCE_LABELS).astype("string")
    out["cohort"] = out["cohort"].astype(int)
    columns = [
        *keys[:-1],
        "major_name",
        "discipline_code",
        "discipline_name",
        "cohort",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "evidence_level",
        "evidence_label",
    ]
    return out[columns].sort_values([*keys]).reset_index(drop=True)


# --- trend over cohorts -----------------------------------------------------------------------


def trend_snapshots(snapshots: pd.DataFrame, review: ReviewSnapshot, policy) -> pd.DataFrame:
    """(cohort, snapshot_date, is_initial) of the cohort under review and up to
    ``majors.trend_cohorts`` earlier cohorts, each at its initial snapshot (or the stand-in rule of
    :func:`review_snapshot`). Cohorts without any snapshot are left out."""
    pairs = available_snapshots(snapshots)
    rows = []
    for cohort in range(review.cohort - policy.majors.trend_cohorts, review.cohort):
        dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
        if not dates:
            continue
        snapshot, is_initial = _cohort_snapshot(
            dates, policy.date(policy.placement.initial_snapshot, cohort)
        )
        rows.append((cohort, snapshot, is_initial))
    rows.append((review.cohort, review.snapshot_date, review.is_initial))
    return pd.DataFrame(rows, columns=["cohort", "snapshot_date", "is_initial"])


def cohort_trend(
    history: pd.DataFrame, review: ReviewSnapshot, policy, snapshots: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per-point rates of the cohort under review and its earlier cohorts (long: one row per point
    and cohort), each cohort at its own initial snapshot; ``below_threshold`` marks rate < threshold.
    Points of earlier cohorts that no longer exist stay in the frame (their own history)."""
    chosen = trend_snapshots(history if snapshots is None else snapshots, review, policy)
    pairs = zip(chosen["cohort"], chosen["snapshot_date"], strict=True)
    rows = history[_snapshot_mask(history, pairs)]
    trend = point_rates(rows, policy)
    trend = trend.merge(chosen, on="cohort", how="left")
    trend["below_threshold"] = (trend["placement_rate"] < policy.majors.threshold).astype(bool)
    return trend


def trend_flags(trend: pd.DataFrame, review_cohort: int, policy) -> pd.DataFrame:
    """Per point (of any cohort in ``trend``): cohorts observed, cohorts below the threshold, the
    run of consecutive cohorts below the threshold ending at the cohort under review, whether that
    run is at least two cohorts ("连续两届低于50%"), and the previous cohort's rate and size.

    A cohort missing from the data breaks a run; so does a cohort with no counted graduates.
    """
    keys = list(POINT_KEYS)
    cohorts = list(range(review_cohort - policy.majors.trend_cohorts, review_cohort + 1))
    observed = trend[trend["graduates"] > 0]
    below = observed.pivot_table(
        index=keys, columns="cohort", values="below_threshold", aggfunc="max", observed=True
    )
    below = below.reindex(columns=cohorts[::-1]).astype(float).fillna(0.0).astype(bool)
    run = np.cumprod(below.to_numpy(), axis=1).sum(axis=1)
    out = pd.DataFrame(
        {
            "cohorts_observed": observed.groupby(keys, observed=True)["cohort"]
            .nunique()
            .reindex(below.index)
            .to_numpy(),
            "cohorts_below": below.sum(axis=1).to_numpy(),
            "consecutive_below": run,
        },
        index=below.index,
    ).reset_index()
    out["below_two_consecutive"] = out["consecutive_below"] >= 2
    prev = trend.loc[trend["cohort"] == review_cohort - 1, [*keys, "graduates", "placement_rate"]]
    prev = prev.rename(
        columns={"graduates": "previous_cohort_graduates", "placement_rate": "previous_cohort_rate"}
    )
    out = out.merge(prev, on=keys, how="left")
    out["previous_cohort"] = review_cohort - 1
    out["previous_cohort_graduates"] = out["previous_cohort_graduates"].astype("Int64")
    # two cohorts pooled (this one and the previous one), as the College Scorecard pools years for
    # small units and the MOE two-year rule confirms flags: confirmed when this cohort's rate is
    # below the threshold and the pooled interval lies wholly below it
    this = trend.loc[
        trend["cohort"] == review_cohort, [*keys, "graduates", "placed", "placement_rate"]
    ]
    last = trend.loc[trend["cohort"] == review_cohort - 1, [*keys, "graduates", "placed"]]
    both = this.merge(last, on=keys, how="left", suffixes=("", "_prev"))
    n2 = both["graduates"] + both["graduates_prev"].fillna(0)
    x2 = both["placed"] + both["placed_prev"].fillna(0)
    lo2, hi2 = wilson_interval(x2, n2, policy.statistics.confidence)
    pooled = both[keys].assign(
        two_cohort_graduates=n2.astype(np.int64),
        two_cohort_rate=placement_rate(x2, n2),
        two_cohort_ci_low=lo2,
        two_cohort_ci_high=hi2,
    )
    pooled["two_cohort_confirmed"] = (
        (both["graduates_prev"].fillna(0).to_numpy() > 0)
        & (both["placement_rate"].to_numpy() < policy.majors.threshold)
        & (hi2 < policy.majors.threshold)
    )
    return out.merge(pooled, on=keys, how="left")


# --- peers ------------------------------------------------------------------------------------


def peer_comparison(
    points: pd.DataFrame, policy, min_peer_points: int = MIN_PEER_POINTS
) -> pd.DataFrame:
    """The same major (code and level) at the OTHER universities of the province, pooled.

    Per point: ``peer_points`` (other points with graduates), their pooled graduates, placed, rate
    and Wilson interval, ``gap_to_peers`` and a verdict ("is it the major or the school?"). With
    fewer than ``min_peer_points`` other points the pooled figures would show another university's
    point: they are left empty and ``suppressed`` says why. ``points`` must hold every point of the
    province for one cohort (from :func:`point_rates`), also in a university's report.
    """
    if points["cohort"].nunique() > 1:
        raise ValueError("peer_comparison expects the points of one cohort")
    keys = list(PEER_KEYS)
    has = points["graduates"] > 0
    totals = (
        points.assign(_has=has.astype(np.int64))
        .groupby(keys, observed=True)
        .agg(_pts=("_has", "sum"), _n=("graduates", "sum"), _x=("placed", "sum"))
    )
    joined = points.join(totals, on=keys)
    peer_points = joined["_pts"] - has.astype(np.int64)
    peer_n = (joined["_n"] - joined["graduates"]).astype(float)
    peer_x = (joined["_x"] - joined["placed"]).astype(float)
    shown = peer_points >= min_peer_points
    peer_n = peer_n.where(shown)
    peer_x = peer_x.where(shown)
    out = points[
        [
            *POINT_KEYS,
            "major_name",
            "cohort",
            "graduates",
            "placed",
            "placement_rate",
            "evidence_level",
        ]
    ].copy()
    out["peer_points"] = peer_points.astype(np.int64)
    out["peer_graduates"] = peer_n.astype("Int64")
    out["peer_placed"] = peer_x.astype("Int64")
    n_arr = peer_n.fillna(0).to_numpy()
    x_arr = peer_x.fillna(0).to_numpy()
    out["peer_rate"] = placement_rate(x_arr, n_arr)
    lo, hi = wilson_interval(x_arr, n_arr, policy.statistics.confidence)
    out["peer_ci_low"], out["peer_ci_high"] = lo, hi
    out["gap_to_peers"] = out["placement_rate"] - out["peer_rate"]
    t = policy.majors.threshold
    own_below = out["placement_rate"].to_numpy() < t
    peer_rate = out["peer_rate"].to_numpy()
    verdict = np.select(
        [
            ~shown.to_numpy() | ~has.to_numpy(),
            ~own_below,
            peer_rate < t,
            points["ci_high"].to_numpy() < peer_rate,
        ],
        ["", "不低于阈值", PEER_VERDICTS["major"], PEER_VERDICTS["school"]],
        default=PEER_VERDICTS["unclear"],
    )
    out["peer_verdict"] = pd.array(np.where(verdict == "", pd.NA, verdict), dtype="string")
    out["suppressed"] = pd.array(
        np.select(
            [shown.to_numpy(), peer_points.to_numpy() == 0],
            [None, "省内其他院校没有该专业点"],
            default=f"省内同专业其他专业点少于{min_peer_points}个，合计数会暴露其他院校，不公布",
        ),
        dtype="string",
    )
    return out.reset_index(drop=True)


# --- beta-binomial empirical Bayes ------------------------------------------------------------


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


# --- destination mix --------------------------------------------------------------------------


def destination_mix(graduates: pd.DataFrame, keys=POINT_KEYS) -> pd.DataFrame:
    """Share of each destination category per point (``in_denominator`` graduates only).

    Categories: the 2024 buckets with 暂不就业 split into 不就业拟升学 (71) and 其他暂不就业 (72);
    ``main_unplaced`` names the largest category among those not placed.
    """
    keys = list(keys)
    counted = graduates[graduates["in_denominator"].astype(bool)]
    # work on the distinct (code, bucket) pairs, then map back by position: a handful of strings
    pair_codes, pairs = pd.factorize(
        pd.MultiIndex.from_arrays([counted["destination_code"], counted["bucket_2024"]])
    )
    code = pd.Series(pairs.get_level_values(0), dtype="string")
    label = pd.Series(pairs.get_level_values(1), dtype="string")
    label = label.mask(code.str.startswith("71").fillna(False), "不就业拟升学")
    label = label.mask(code.str.startswith("72").fillna(False), "其他暂不就业")
    label = label.fillna(UNKNOWN_BUCKET).to_numpy(dtype=object)
    category = label[pair_codes] if len(pair_codes) else np.array([], dtype=object)
    counts = (
        counted[keys]
        .assign(_cat=pd.Categorical(category, categories=list(MIX_CATEGORIES)))
        .groupby([*keys, "_cat"], observed=True)
        .size()
        .unstack("_cat", fill_value=0)
        .reindex(columns=list(MIX_CATEGORIES), fill_value=0)
    )
    totals = counts.sum(axis=1)
    counts = counts[totals > 0]
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns = [MIX_CATEGORIES[c] for c in shares.columns]
    unplaced = counts[list(UNPLACED_MIX)]
    main = pd.Series(unplaced.to_numpy().argmax(axis=1), index=unplaced.index).map(
        dict(enumerate(UNPLACED_MIX))
    )
    shares["main_unplaced"] = main.where(unplaced.sum(axis=1) > 0).astype("string")
    return shares.reset_index()


# --- summaries --------------------------------------------------------------------------------


def evidence_summary(points: pd.DataFrame, by: list[str], threshold: float) -> pd.DataFrame:
    """Points per evidence level for each group of ``by`` (plus points, flagged, watch and the
    graduates of flagged points). ``watch``: too few graduates to judge but a rate below the
    threshold."""
    levels = points["evidence_level"].astype(pd.CategoricalDtype(EVIDENCE_LEVELS))
    flagged = levels.isin(FLAGGED_LEVELS)
    frame = points.assign(
        _lvl=levels,
        _flag=flagged.astype(np.int64),
        _watch=((levels == "insufficient") & (points["placement_rate"] < threshold)).astype(
            np.int64
        ),
        _fgrad=points["graduates"].where(flagged, 0),
    )
    counts = (
        frame.groupby([*by, "_lvl"], observed=True, dropna=False)
        .size()
        .unstack("_lvl", fill_value=0)
        .reindex(columns=list(EVIDENCE_LEVELS), fill_value=0)
    )
    counts.columns = [str(c) for c in counts.columns]
    extra = frame.groupby(by, observed=True, dropna=False).agg(
        points=("_lvl", "size"),
        flagged_points=("_flag", "sum"),
        watch=("_watch", "sum"),
        flagged_graduates=("_fgrad", "sum"),
    )
    out = extra.join(counts).reset_index()
    return out[[*by, "points", *EVIDENCE_LEVELS, "flagged_points", "watch", "flagged_graduates"]]


# --- adjustment-plan tracking -----------------------------------------------------------------


def plan_cohort(as_of: dt.date) -> int:
    """The cohort whose adjustment plans fall due in the calendar year of ``as_of``.

    The list of cohort C is sent early in C+1 and its plans are due on the policy deadline (04-01)
    of C+1, so the plans a report of year Y tracks are those of cohort Y-1 — before and after the
    deadline (received so far; then on time, late, missing).
    """
    return as_of.year - 1


def plan_deadline(cohort: int, policy) -> dt.date:
    """Deadline of the adjustment plans for the list of ``cohort`` (in the following year)."""
    return policy.date(policy.majors.adjustment_plan_deadline, cohort + 1)


def cohort_points(
    history: pd.DataFrame, cohort: int, policy, snapshots: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dt.date | None]:
    """Points of one cohort at its initial snapshot (or the stand-in of :func:`review_snapshot`)
    and the snapshot date; an empty frame and None when the cohort is not in ``history``."""
    pairs = available_snapshots(history if snapshots is None else snapshots)
    dates = sorted(pairs.loc[pairs["cohort"] == cohort, "snapshot_date"])
    if not dates:
        return point_rates(history.iloc[:0], policy), None
    snapshot, _ = _cohort_snapshot(dates, policy.date(policy.placement.initial_snapshot, cohort))
    return point_rates(snapshot_rows(history, cohort, snapshot), policy), snapshot


def adjustment_plan_status(
    points: pd.DataFrame, plans: pd.DataFrame, cohort: int, as_of: dt.date, policy
) -> pd.DataFrame:
    """Universities with flagged points in the list of ``cohort`` vs the plans received.

    ``points``: the points of ``cohort`` (from :func:`point_rates`); ``plans``: the processed
    ``adjustment_plans`` (university_code, received_date). A plan counts for this list when it was
    received after the cohort's initial snapshot date (the list's data) and on or before ``as_of``
    (a plan received later is not known yet); the earliest such plan of a university counts.
    Status: 按期报送 (on or before the deadline), 逾期报送 (after it), 未报送（已逾期） (none and the
    deadline has passed), 未报送（未到截止日期）; ``days_late``: days after the deadline (of the
    plan, or until ``as_of`` when none arrived).
    """
    deadline = plan_deadline(cohort, policy)
    list_date = policy.date(policy.placement.initial_snapshot, cohort)
    flagged = points[points["evidence_level"].isin(FLAGGED_LEVELS)]
    per_uni = (
        flagged.assign(_conf=(flagged["evidence_level"] == "below_confident").astype(np.int64))
        .groupby("university_code", observed=True)
        .agg(flagged_points=("major_code", "size"), below_confident_points=("_conf", "sum"))
    )
    received = pd.to_datetime(plans["received_date"]).dt.date
    bad = received.isna()
    if bad.any():
        raise ValueError(
            f"adjustment_plans: {int(bad.sum())} 行缺少报送日期 (received_date empty in rows "
            f"{list(plans.index[bad][:5])})"
        )
    valid = plans.assign(received_date=received)
    valid = valid[(valid["received_date"] > list_date) & (valid["received_date"] <= as_of)]
    first = valid.groupby("university_code", observed=True)["received_date"].min()
    out = per_uni.reset_index()
    out.insert(1, "cohort", cohort)
    out["deadline"] = deadline
    out["received_date"] = out["university_code"].map(first)
    has = out["received_date"].notna()
    late_days = (
        (pd.to_datetime(out["received_date"]) - pd.Timestamp(deadline))
        .dt.days.fillna(0)
        .to_numpy(np.int64)
    )
    overdue_days = (as_of - deadline).days
    status = np.select(
        [has & (late_days <= 0), has, overdue_days > 0],
        [PLAN_STATUSES[0], PLAN_STATUSES[1], PLAN_STATUSES[2]],
        default=PLAN_STATUSES[3],
    )
    out["plan_status"] = pd.array(status, dtype="string")
    days_late = np.where(has, np.maximum(late_days, 0), np.maximum(overdue_days, 0))
    out["days_late"] = days_late.astype(np.int64)
    order = pd.Categorical(out["plan_status"], categories=PLAN_STATUSES[::-1], ordered=True)
    return (
        out.assign(_o=order)
        .sort_values(["_o", "days_late", "university_code"], ascending=[True, False, True])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def for_university(df: pd.DataFrame, university: str | None) -> pd.DataFrame:
    """Rows of one university (all rows when ``university`` is None)."""
    if university is None:
        return df
    return df[df["university_code"] == university].reset_index(drop=True)


# --- the whole evidence of a reporting date ---------------------------------------------------

# Columns of the graduates history the evidence needs (load only these).
HISTORY_COLUMNS = [
    "university_code",
    "cohort",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "in_denominator",
    "placed",
    "destination_code",
    "bucket_2024",
    "snapshot_date",
]
POINT_TABLE_COLUMNS = (
    "university_code",
    "university_name",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "cohort",
    "snapshot_date",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "evidence_level",
    "evidence_label",
    "eb_rate",
    "eb_low",
    "eb_high",
    "eb_prob_below",
    "previous_cohort_graduates",
    "previous_cohort_rate",
    "cohorts_below",
    "consecutive_below",
    "below_two_consecutive",
    "two_cohort_rate",
    "two_cohort_ci_high",
    "two_cohort_confirmed",
    "peer_points",
    "peer_rate",
    "peer_verdict",
)
FLAGGED_TABLE_COLUMNS = (
    "university_code",
    "university_name",
    "education_level",
    "major_code",
    "major_name",
    "discipline_name",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "evidence_level",
    "evidence_label",
    "eb_rate",
    "eb_prob_below",
    "previous_cohort_rate",
    "below_two_consecutive",
    "two_cohort_rate",
    "two_cohort_confirmed",
    "peer_rate",
    "peer_verdict",
    *MIX_CATEGORIES.values(),
    "main_unplaced",
)
PEER_TABLE_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "graduates",
    "placement_rate",
    "evidence_level",
    "peer_points",
    "peer_graduates",
    "peer_placed",
    "peer_rate",
    "peer_ci_low",
    "peer_ci_high",
    "gap_to_peers",
    "peer_verdict",
    "suppressed",
)
TREND_TABLE_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "cohort",
    "snapshot_date",
    "is_initial",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "below_threshold",
)
SUMMARY_TABLE_COLUMNS = (
    "scope",
    "university_code",
    "university_name",
    "education_level",
    "discipline_code",
    "discipline_name",
    "points",
    *EVIDENCE_LEVELS,
    "flagged_points",
    "watch",
    "flagged_graduates",
)


@dataclass(frozen=True)
class MajorEvidence:
    """Everything the major-evidence report shows, computed once for the whole province.

    ``points``: one row per 专业点 of the cohort under review with rates, evidence, empirical-Bayes
    estimate, trend flags, peer figures and destination mix; ``trend``: the same points and their
    earlier cohorts (long); ``priors``: the beta prior per discipline; ``plan_status``: universities
    with flagged points vs their adjustment plans. Use :meth:`tables` for one report's tables.
    """

    as_of: dt.date
    review: ReviewSnapshot
    deadline: dt.date
    points: pd.DataFrame
    trend: pd.DataFrame
    priors: pd.DataFrame
    plan_status: pd.DataFrame
    plan_cohort: int
    plan_deadline: dt.date
    plan_snapshot: dt.date | None
    universities: pd.DataFrame

    def check_university(self, university: str | int | None) -> str | None:
        """The 院校代码 as text (an analyst may type 10386 as a number); a clear error when it is
        not in the universities reference."""
        if university is None:
            return None
        code = str(university).strip()
        if code not in set(self.universities["university_code"]):
            raise ValueError(
                f"院校代码 {code!r} 不在院校名单中 (university {code!r} is not in the "
                "universities reference of this reporting date)"
            )
        return code

    def university_name(self, university: str) -> str:
        self.check_university(university)
        names = self.universities.set_index("university_code")["university_name"]
        return str(names[university])

    def tables(self, university: str | None = None) -> dict[str, pd.DataFrame]:
        """The report's tables (name -> frame), restricted to one university's own points when
        ``university`` is given: peers stay pooled, the summary covers its own points only."""
        self.check_university(university)
        pts = for_university(self.points, university)
        flagged = pts[pts["evidence_level"].isin(FLAGGED_LEVELS)]
        flagged = flagged.sort_values(["eb_rate", "placement_rate"], kind="stable")
        own_keys = pts[list(POINT_KEYS)]
        trend = self.trend.merge(own_keys, on=list(POINT_KEYS), how="inner")
        by = [
            ("学历层次", ["education_level"]),
            ("学科", ["education_level", "discipline_code", "discipline_name"]),
        ]
        if university is None:
            by.append(("院校", ["university_code", "university_name"]))
        threshold = float(self.points.attrs.get("threshold", np.nan))
        total = evidence_summary(
            pts.assign(scope="全省" if university is None else "本校"), ["scope"], threshold
        )
        parts = [total]
        for scope, keys in by:
            parts.append(evidence_summary(pts, keys, threshold).assign(scope=scope))
        summary = pd.concat(parts, ignore_index=True).reindex(columns=list(SUMMARY_TABLE_COLUMNS))
        if university is not None:
            summary["university_code"] = university
            summary["university_name"] = self.university_name(university)
        return {
            "major_points": pts.sort_values(list(POINT_KEYS)).reset_index(drop=True)[
                list(POINT_TABLE_COLUMNS)
            ],
            "major_flagged": flagged.reset_index(drop=True)[list(FLAGGED_TABLE_COLUMNS)],
            "major_trend": trend.sort_values([*POINT_KEYS, "cohort"]).reset_index(drop=True)[
                list(TREND_TABLE_COLUMNS)
            ],
            "major_peers": pts.sort_values(list(POINT_KEYS)).reset_index(drop=True)[
                list(PEER_TABLE_COLUMNS)
            ],
            "major_eb_priors": self.priors.merge(
                pts[list(DISCIPLINE_KEYS)].drop_duplicates(), on=list(DISCIPLINE_KEYS)
            ).drop(columns=["converged"])
            if university is not None
            else self.priors.drop(columns=["converged"]),
            "major_summary": summary,
            "adjustment_plan_status": for_university(self.plan_status, university),
        }


# text columns grouped on: dictionary-encoded once per report (grouping on codes is much faster
# than on Arrow strings at province scale); aggregates get plain strings back
_CODED_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "destination_code",
)


def _needed_rows(
    history: pd.DataFrame, snapshots: pd.DataFrame, review: ReviewSnapshot, as_of: dt.date, policy
) -> pd.DataFrame:
    """Only the snapshots the evidence uses (the trend cohorts at their initial snapshots and the
    cohort of the plan tracking), with the grouped text columns dictionary-encoded first (so the
    row selection moves integer codes, not strings)."""
    chosen = trend_snapshots(snapshots, review, policy)
    pairs = list(zip(chosen["cohort"], chosen["snapshot_date"], strict=True))
    t_cohort = plan_cohort(as_of)
    if t_cohort not in set(chosen["cohort"]):
        dates = sorted(snapshots.loc[snapshots["cohort"] == t_cohort, "snapshot_date"])
        if dates:
            initial = policy.date(policy.placement.initial_snapshot, t_cohort)
            pairs.append((t_cohort, _cohort_snapshot(dates, initial)[0]))
    coded = {c: history[c].astype("category") for c in _CODED_COLUMNS if c in history.columns}
    history = history.assign(**coded)
    return history[_snapshot_mask(history, pairs)]


def major_evidence(
    history: pd.DataFrame,
    universities: pd.DataFrame,
    plans: pd.DataFrame | None,
    as_of: dt.date,
    policy,
) -> MajorEvidence:
    """Compute the evidence of a reporting date from the graduates history (every snapshot up to
    ``as_of``, :func:`helpers.load.load_graduate_history`), the universities reference (codes and
    names) and the adjustment plans received (None when the reference file is absent: no plans).

    The evidence covers the whole province whichever report asks; a history read by
    :mod:`helpers.load` is computed once per process and reused (:mod:`helpers.memo`: keyed by
    the files read, the reference tables, ``as_of`` and the policy; callers get copies).
    """
    from helpers import memo

    key = memo.key(
        "major_evidence",
        history,
        memo.frame_token(universities),
        memo.frame_token(plans),
        as_of,
        policy,
    )
    return memo.named("major_evidence", maxsize=4).get(
        key, lambda: _major_evidence(history, universities, plans, as_of, policy)
    )


def _major_evidence(
    history: pd.DataFrame,
    universities: pd.DataFrame,
    plans: pd.DataFrame | None,
    as_of: dt.date,
    policy,
) -> MajorEvidence:
    """:func:`major_evidence` without the memo."""
    snapshots = available_snapshots(history)
    review = review_snapshot(snapshots, as_of, policy)
    history = _needed_rows(history, snapshots, review, as_of, policy)
    rows = snapshot_rows(history, review.cohort, review.snapshot_date)
    points = point_rates(rows, policy)
    points["snapshot_date"] = review.snapshot_date
    names = universities[["university_code", "university_name"]].drop_duplicates("university_code")
    unknown = sorted(set(points["university_code"]) - set(names["university_code"]))
    if unknown:
        raise ValueError(f"院校名单中没有这些院校代码 (universities reference lacks): {unknown}")
    points = points.merge(names, on="university_code", how="left")
    priors = eb_priors(points)
    points = eb_estimates(points, priors, policy)
    trend = cohort_trend(history, review, policy, snapshots)
    flags = trend_flags(trend, review.cohort, policy)
    points = points.merge(flags, on=list(POINT_KEYS), how="left")
    peers = peer_comparison(points, policy)
    peer_cols = [
        "peer_points",
        "peer_graduates",
        "peer_placed",
        "peer_rate",
        "peer_ci_low",
        "peer_ci_high",
        "gap_to_peers",
        "peer_verdict",
        "suppressed",
    ]
    points = pd.concat([points.reset_index(drop=True), peers[peer_cols]], axis=1)
    points = points.merge(destination_mix(rows), on=list(POINT_KEYS), how="left")
    points.attrs["threshold"] = policy.majors.threshold
    plan_frame = (
        plans
        if plans is not None
        else pd.DataFrame(
            {
                "university_code": pd.Series(dtype="string"),
                "received_date": pd.Series(dtype="datetime64[ms]"),
            }
        )
    )
    t_cohort = plan_cohort(as_of)
    if t_cohort == review.cohort:
        t_points, t_snapshot = points, review.snapshot_date
    else:
        t_points, t_snapshot = cohort_points(history, t_cohort, policy, snapshots)
    status = adjustment_plan_status(t_points, plan_frame, t_cohort, as_of, policy)
    status = status.merge(names, on="university_code", how="left")
    status = status[
        [
            "university_code",
            "university_name",
            *[c for c in status.columns if c not in ("university_code", "university_name")],
        ]
    ]
    return MajorEvidence(
        as_of,
        review,
        plan_deadline(review.cohort, policy),
        points,
        trend,
        priors,
        status,
        t_cohort,
        plan_deadline(t_cohort, policy),
        t_snapshot,
        names,
    )


def overview_text(ev: MajorEvidence, policy, university: str | None = None) -> str:
    """The report's opening paragraph (Chinese markdown): cohort and snapshot used, the rule, and
    the counts of the report's own points."""
    pts = for_university(ev.points, university)
    counts = pts["evidence_level"].value_counts()
    n_flag = int(pts["evidence_level"].isin(FLAGGED_LEVELS).sum())
    whose = "全省" if university is None else "本校"
    conf = policy.statistics.confidence
    lines = [
        f"**审核口径**：{ev.review.note}",
        "",
        f"**判定规则**：初次毕业去向落实率低于 {policy.majors.threshold:.0%} 的学科专业点"
        f"（院校 × 学历层次 × 专业）。毕业生少于 {policy.majors.min_graduates} 人的专业点记为“人数不足”，"
        f"不作判定；其余按 {conf:.0%} Wilson 置信区间分为“确定低于阈值”（区间上限低于阈值）、"
        "“点估计低于阈值”（落实率低于阈值但区间跨过阈值）和“未低于阈值”。",
        "",
        f"**{whose}情况**：共 {len(pts):,} 个专业点，其中列入名单 {n_flag:,} 个"
        f"（确定低于阈值 {int(counts.get('below_confident', 0)):,} 个，"
        f"点估计低于阈值 {int(counts.get('below_point', 0)):,} 个），"
        f"人数不足 {int(counts.get('insufficient', 0)):,} 个。"
        f"调整改革实施方案报送截止日期：{ev.deadline.isoformat()}。",
    ]
    if not ev.review.is_initial:
        lines += ["", "> 注意：本期数据尚非初次统计日快照，名单为阶段性结果，仅供预警。"]
    return "\n".join(lines)


def plan_text(ev: MajorEvidence) -> str:
    """Which list the adjustment-plan tracking covers (Chinese markdown)."""
    if ev.plan_snapshot is None:
        return (
            f"数据中没有 {ev.plan_cohort} 届的毕业去向快照，无法确定本年度（{ev.as_of.year}年）"
            f"应报送调整改革实施方案（截止 {ev.plan_deadline.isoformat()}）的院校。"
        )
    text = (
        f"本年度（{ev.as_of.year}年）跟踪 {ev.plan_cohort} 届名单（依据 {ev.plan_snapshot.isoformat()} "
        f"快照）所列专业点的调整改革实施方案，报送截止日期为 {ev.plan_deadline.isoformat()}；"
        f"只计 {ev.plan_cohort} 届初次统计日之后、报告日期 {ev.as_of.isoformat()} 及以前收到的方案。"
    )
    if ev.plan_cohort != ev.review.cohort:
        text += (
            f"本期（{ev.review.cohort} 届）名单的方案将于 {ev.deadline.isoformat()} 前报送，"
            "届时在下一年度的报告中跟踪。"
        )
    return text


def point_labels(df: pd.DataFrame, with_university: bool) -> pd.Series:
    """Chart labels of points: "专业名称（层次）", prefixed by the university name only when asked
    (never in a university's own report)."""
    label = df["major_name"].astype(str) + "（" + df["education_level"].astype(str) + "）"
    if with_university:
        label = df["university_name"].astype(str) + "·" + label
    return label


def _register_tables() -> None:
    from helpers.tables import register_headers, register_table_titles

    register_headers(ZH_HEADERS, rates=RATE_COLUMNS, differences=("gap_to_peers",))
    register_table_titles(TABLE_TITLES)


_register_tables()
