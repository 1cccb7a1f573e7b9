"""国家大学生就业服务平台 figures and 毕业去向登记 (notice §七): 关注率, 辅导员绑定率, 登记率.

Definitions (data contract §3.4): 关注率 = 平台关注人数 / 毕业生数; 辅导员绑定率 = 已绑定辅导员数 /
毕业班辅导员数; 登记率 = 毕业去向登记人数 / 毕业生数. Each university's figures come from its newest
统计日期 on or before ``as_of``; province figures are pooled (sum of numerators over sum of
denominators), never an average of university rates.

Laggard (policy ``platform``): a rate below its ``*_min`` threshold, or among the lowest
``bottom_share`` of universities with that rate: the floor(n x bottom_share) lowest, where a rate
tied with a university outside that number is not flagged (so never more than that number, and
equal rates everywhere flag nobody); none when the number is 0.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy
from helpers.followup.common import bad_rows_message, require_columns

# rate column -> (numerator, denominator, policy threshold attribute, Chinese label)
RATES = {
    "follow_rate": ("platform_followers", "graduates", "follow_rate_min", "关注率"),
    "binding_rate": ("counsellors_bound", "counsellors", "binding_rate_min", "辅导员绑定率"),
    "registration_rate": ("registered", "graduates", "registration_rate_min", "登记率"),
}
COUNTS = ("graduates", "platform_followers", "counsellors", "counsellors_bound", "registered")


def latest_platform(platform: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, int]:
    """Each university's newest row with ``stat_date <= as_of``; returns (rows, rows dated after
    as_of that were left out)."""
    require_columns(platform, ("university_code", "stat_date", *COUNTS), "platform")
    d = pd.Timestamp(as_of)
    stat = pd.to_datetime(platform["stat_date"])
    for num, den in (
        ("platform_followers", "graduates"),
        ("counsellors_bound", "counsellors"),
        ("registered", "graduates"),
    ):
        bad = (platform[num] > platform[den]).to_numpy() | (platform[num] < 0).to_numpy()
        if bad.any():
            raise ValueError(
                bad_rows_message(platform, bad, "platform", num, f"{num} 大于 {den} 或为负数")
            )
    keep = platform.loc[(stat <= d).to_numpy()].assign(stat_date=stat[stat <= d])
    latest = keep.sort_values(["university_code", "stat_date"]).drop_duplicates(
        "university_code", keep="last"
    )
    return latest.reset_index(drop=True), int((stat > d).sum())


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for rate, (num, den, _, _) in RATES.items():
        n = out[num].to_numpy(dtype=float)
        m = out[den].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rate] = np.where(m > 0, n / m, np.nan)
    return out


def bottom_flags(rates: pd.Series, share: float) -> pd.Series:
    """True for the lowest floor(n x share) non-missing rates; ties crossing that boundary are not
    flagged (a rate is flagged only if every rate equal to it fits inside the bottom share)."""
    valid = rates.dropna()
    k = int(np.floor(len(valid) * share + 1e-9))
    out = pd.Series(False, index=rates.index)
    if k == 0:
        return out
    rank = valid.rank(method="max", ascending=True)
    out.loc[rank.index] = (rank <= k).to_numpy()
    return out


def platform_progress(
    platform: pd.DataFrame, universities: pd.DataFrame, policy: Policy, as_of: dt.date
) -> pd.DataFrame:
    """The contract table ``platform_progress``: one row per monitored university.

    Columns: university_code, university_name, stat_date, the five counts, follow_rate,
    binding_rate, registration_rate, ``<rate>_laggard`` for each rate, laggard (any), and
    laggard_reason (Chinese, e.g. "关注率62.0%低于80.0%；绑定率处于全省后10%"). A university without
    platform figures keeps empty rates and is named in laggard_reason as 未报送.
    """
    latest, _ = latest_platform(platform, as_of)
    latest = latest.assign(university_code=latest["university_code"].astype("string"))
    uni = universities[["university_code", "university_name"]].copy()
    uni["university_code"] = uni["university_code"].astype("string")
    out = uni.merge(
        latest[["university_code", "stat_date", *COUNTS]], on="university_code", how="outer"
    )
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    out = _rates(out)
    share = policy.platform.bottom_share
    reasons = pd.Series([""] * len(out), index=out.index, dtype="object")
    any_lag = pd.Series(False, index=out.index)
    for rate, (_, _, attr, label) in RATES.items():
        threshold = getattr(policy.platform, attr)
        below = (out[rate] < threshold).fillna(False).astype(bool)
        bottom = bottom_flags(out[rate], share)
        lag = below | bottom
        out[f"{rate}_laggard"] = lag.where(out[rate].notna(), pd.NA).astype("boolean")
        any_lag |= lag
        pct = (out[rate] * 100).round(1).astype("string")
        text_below = label + pct + f"%低于{threshold * 100:.1f}%"
        text_bottom = label + pct + f"%处于全省后{share * 100:.0f}%"
        piece = pd.Series(
            np.where(below, text_below, np.where(bottom, text_bottom, "")), index=out.index
        )
        reasons = reasons.str.cat(piece, sep="；").str.strip("；").str.replace("；；", "；")
    missing = out["stat_date"].isna()
    reasons = reasons.mask(missing, "未报送平台数据")
    out["laggard"] = any_lag
    out["laggard_reason"] = reasons.replace("", pd.NA).astype("string")
    cols = [
        "university_code",
        "university_name",
        "stat_date",
        *COUNTS,
        *RATES,
        *(f"{r}_laggard" for r in RATES),
        "laggard",
        "laggard_reason",
    ]
    out = out[cols].sort_values("university_code", ignore_index=True)
    for col in COUNTS:
        out[col] = out[col].astype("Int64")
    return out


def province_platform(progress: pd.DataFrame) -> dict[str, float | int]:
    """Pooled province figures: sums of the counts and rates as sum / sum."""
    sums = {c: int(progress[c].fillna(0).sum()) for c in COUNTS}
    out: dict[str, float | int] = dict(sums)
    for rate, (num, den, _, _) in RATES.items():
        out[rate] = sums[num] / sums[den] if sums[den] else float("nan")
    out["universities"] = int(progress["stat_date"].notna().sum())
    return out
