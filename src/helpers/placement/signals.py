"""The Ministry's 疑似虚假就业 warning signals: unusually high shares of 灵活就业 / 自由职业 / 自主创业,
and unusual jumps in the rate just before the initial date, each judged on a funnel against the
province.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.placement.aggregate import denominator, memoized
from helpers.placement.universities import attach_names
from helpers.rates import funnel_assessment, placement_rate, pooled_rate
from helpers.tables import register_headers

SIGNALS = {
    # signal -> (Chinese label, rule column, buckets counted)
    "flexible": ("灵活就业占比偏高", "bucket_2021", ("灵活就业",)),
    "freelance": ("自由职业占比偏高", "bucket_2024", ("自由职业",)),
    "self_employed": ("自主创业占比偏高", "bucket_2024", ("自主创业",)),
}
JUMP_SIGNAL = "8月31日前两期落实率跃升异常"
FLAG_LEVELS = {"high_alarm": "预警", "high_alert": "关注"}

register_headers(
    {
        "provincial_share": "全省汇总比例（比较基准）",
        "signal_basis": "预警依据",
    },
)


def _flag(zone: pd.Series) -> pd.Series:
    return zone.astype("object").map(FLAG_LEVELS).fillna("")


def share_signals(current: pd.DataFrame, policy) -> pd.DataFrame:
    """The Ministry's 疑似虚假就业 signals: unusually high 灵活就业 (12 + 76), 自由职业 (76) or
    自主创业 (75) shares.

    Each share is put on a funnel around the pooled provincial share with the overdispersion
    (random-effects) adjustment, so a university is flagged only when its share is high beyond the
    ordinary spread between universities: 预警 above the ``funnel_alarm`` limit, 关注 above
    ``funnel_alert``. Unusually low shares are not signals.
    """
    return memoized("share_signals", current, (policy,), lambda: _share_signals(current, policy))


def _share_signals(current: pd.DataFrame, policy) -> pd.DataFrame:
    st = policy.statistics
    d = denominator(current)
    frames = []
    for label, col, buckets in SIGNALS.values():
        hit = d[col].isin(list(buckets)).to_numpy(dtype=bool)
        g = (
            pd.DataFrame(
                {"university_code": d["university_code"].to_numpy(), "hit": hit.astype(np.int64)}
            )
            .groupby("university_code", observed=True, sort=True)["hit"]
            .agg(["size", "sum"])
        )
        t = pd.DataFrame(
            {
                "university_code": g.index.astype(str),
                "signal": label,
                "graduates": g["size"].to_numpy(),
                "count": g["sum"].to_numpy(),
            }
        )
        t["share"] = placement_rate(t["count"], t["graduates"])
        frames.append(assess_against_province(t, "count", "graduates", st))
    return pd.concat(frames, ignore_index=True)


def assess_against_province(t: pd.DataFrame, count: str, n: str, st) -> pd.DataFrame:
    """Place each university's share ``count / n`` on a funnel around the province's pooled
    share (random-effects limits when overdispersed) and add the warning columns."""
    pooled = pooled_rate(t[count], t[n])
    t["provincial_share"] = pooled
    funnel, od = funnel_assessment(
        t[count],
        t[n],
        target=pooled,
        alert=st.funnel_alert,
        alarm=st.funnel_alarm,
        winsor=st.winsor,
    )
    t["alert_high_limit"] = funnel["alert_high_limit"].to_numpy()
    t["alarm_high_limit"] = funnel["alarm_high_limit"].to_numpy()
    t["funnel_z"] = funnel["funnel_z"].to_numpy()
    t["flag_level"] = _flag(funnel["funnel_zone"]).to_numpy()
    t["signal_basis"] = "漏斗图（随机效应调整）" if od.overdispersed else "漏斗图（精确二项）"
    t["overdispersion_tau2"] = od.tau2 if od.overdispersed else 0.0
    return t


def jump_snapshots(
    counts: pd.DataFrame, policy, as_of: dt.date
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The last two snapshots of the current cohort on or before its initial date (08-31)."""
    day = pd.Timestamp(as_of)  # compared with the datetime64 snapshot dates
    cohort = int(counts.loc[counts["snapshot_date"] <= day, "cohort"].max())
    cutoff = min(day, pd.Timestamp(policy.date(policy.placement.initial_snapshot, cohort)))
    days = np.sort(
        counts.loc[
            (counts["cohort"] == cohort) & (counts["snapshot_date"] <= cutoff), "snapshot_date"
        ].unique()
    )
    if len(days) < 2:
        return None
    return pd.Timestamp(days[-2]), pd.Timestamp(days[-1])


def jump_signals(counts: pd.DataFrame, policy, as_of: dt.date) -> pd.DataFrame:
    """Unusual jumps between the last two snapshots before 08-31, judged against the province.

    For each university: of the graduates not placed at the earlier snapshot, the share placed by
    the later one (``conversion_rate``; aggregate counts: newly placed = the rise in placed,
    bounded by [0, not placed before]). These shares go on a funnel around the pooled provincial
    share with the overdispersion adjustment, i.e. each university's jump is compared with the
    province's distribution of jumps; 预警 / 关注 as for the share signals. Empty when fewer
    than two snapshots exist.
    """
    st = policy.statistics
    cols = [
        "university_code",
        "signal",
        "previous_snapshot_date",
        "snapshot_date",
        "previous_rate",
        "placement_rate",
        "rate_jump",
        "graduates",
        "not_placed_before",
        "newly_placed",
        "conversion_rate",
        "provincial_share",
        "alert_high_limit",
        "alarm_high_limit",
        "funnel_z",
        "flag_level",
        "signal_basis",
        "overdispersion_tau2",
    ]
    pair = jump_snapshots(counts, policy, as_of)
    if pair is None:
        return pd.DataFrame(columns=cols)
    before, after = pair
    a = counts[counts["snapshot_date"] == before].set_index("university_code")
    b = counts[counts["snapshot_date"] == after].set_index("university_code")
    both = a.index.intersection(b.index)
    a, b = a.loc[both], b.loc[both]
    open_before = (a["graduates"] - a["placed"]).to_numpy()
    newly = np.clip((b["placed"] - a["placed"]).to_numpy(), 0, open_before)
    t = pd.DataFrame(
        {
            "university_code": both.astype(str),
            "signal": JUMP_SIGNAL,
            "previous_snapshot_date": before,
            "snapshot_date": after,
            "previous_rate": (a["placed"] / a["graduates"]).to_numpy(),
            "placement_rate": (b["placed"] / b["graduates"]).to_numpy(),
            "graduates": b["graduates"].to_numpy(),
            "not_placed_before": open_before,
            "newly_placed": newly,
        }
    )
    t["rate_jump"] = t["placement_rate"] - t["previous_rate"]
    t["conversion_rate"] = placement_rate(t["newly_placed"], t["not_placed_before"])
    t = assess_against_province(t, "newly_placed", "not_placed_before", st)
    return t[cols].sort_values("university_code").reset_index(drop=True)


def warning_signals(
    current: pd.DataFrame,
    counts: pd.DataFrame,
    policy,
    as_of: dt.date,
    universities: pd.DataFrame | None = None,
    university: str | None = None,
) -> pd.DataFrame:
    """All warning signals, one row per (university, signal); ``flagged`` marks 预警 / 关注.

    In university mode only the university's rows (the provincial share is a province aggregate).
    """
    shares = share_signals(current, policy)
    jumps = jump_signals(counts, policy, as_of)
    out = pd.concat([shares, jumps], ignore_index=True) if len(jumps) else shares
    cols = [
        "university_code",
        "signal",
        "graduates",
        "count",
        "share",
        "previous_snapshot_date",
        "snapshot_date",
        "previous_rate",
        "placement_rate",
        "rate_jump",
        "not_placed_before",
        "newly_placed",
        "conversion_rate",
        "provincial_share",
        "alert_high_limit",
        "alarm_high_limit",
        "funnel_z",
        "flag_level",
        "signal_basis",
        "overdispersion_tau2",
    ]
    out = out.reindex(columns=cols)
    for col in ("previous_snapshot_date", "snapshot_date"):
        out[col] = pd.to_datetime(out[col])
    for col in ("count", "not_placed_before", "newly_placed"):
        out[col] = pd.array(out[col], dtype="Int64")
    out.insert(cols.index("flag_level") + 1, "flagged", out["flag_level"] != "")
    if university is not None:
        out = out[out["university_code"] == university]
    return attach_names(out, universities).reset_index(drop=True)
