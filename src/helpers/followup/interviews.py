"""The 约谈 list: every university the department should interview, one row per (university,
reason), each with a short Chinese sentence holding the figures behind it.

Reasons and when they apply (all thresholds from the policy):
- ``group_rate_below`` — at a due interview checkpoint (notice §五, ``assistance.interview_dates``;
  due once the day before it is reached), the rate of a ``rate_above_school_groups`` group is below
  the university's own rate (judged on the snapshot of that checkpoint);
- ``all_placed_unmet`` — ``all_placed_groups`` (零就业家庭) graduates not all placed, once an
  interview checkpoint is due (动态清零 is checked at the interviews);
- ``placement_lagging`` — rate below ``placement.provincial_average`` and below the university's
  baseline; both are initial (``placement.initial_snapshot``) rates, so the test applies from that
  date of the monitoring year on (earlier rates are not comparable to them);
- ``platform_lagging`` — 关注率 or 辅导员绑定率 laggard (notice §七);
- ``visits_off_track`` — distinct employers visited or new employers opened behind the pro-rated
  target (notice §三).

Figures about groups in difficulty come from protected tables (helpers.disclosure), so a hidden
value is never written into a sentence.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy, month_day
from helpers.followup import dates
from helpers.followup.text import count, date_zh, pct, pp

REASONS = {
    "group_rate_below": "困难群体毕业去向落实率低于本校平均水平",
    "all_placed_unmet": "零就业家庭毕业生未实现动态清零",
    "placement_lagging": "毕业去向落实率滞后",
    "platform_lagging": "平台关注率或辅导员绑定率滞后",
    "visits_off_track": "访企拓岗进度滞后",
}
COLUMNS = ["university_code", "university_name", "reason_code", "reason", "evidence"]
_HIDDEN = "—"


def _rows(codes, reason_code: str, evidence) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "university_code": pd.Series(codes, dtype="string").to_numpy(),
            "reason_code": reason_code,
            "evidence": pd.Series(evidence, dtype="string").to_numpy(),
        }
    )


def _join_pieces(df: pd.DataFrame, reason_code: str) -> pd.DataFrame:
    """One row per university: its sentence pieces joined with '；'."""
    if df.empty:
        return _rows([], reason_code, [])
    joined = df.groupby("university_code", sort=True)["piece"].agg("；".join)
    return _rows(joined.index, reason_code, joined.to_numpy())


def group_rate_reasons(gaps_protected: pd.DataFrame) -> pd.DataFrame:
    """From protected checkpoint gaps (helpers.followup.assistance.protect_checkpoints)."""
    g = gaps_protected.loc[(gaps_protected["university_code"] != "ALL") & gaps_protected["below"]]
    if g.empty:
        return _rows([], "group_rate_below", [])
    g = g.sort_values(["university_code", "checkpoint", "group"])
    head = (
        g["checkpoint_label"].astype(str)
        + "约谈节点（数据截至"
        + g["snapshot_date"].map(lambda d: date_zh(d, year=False))
        + "）："
    )
    rate = g["placement_rate_display"].astype(str)
    exact = g["placement_rate"].notna()
    body_exact = (
        g["group"].astype(str)
        + "毕业生"
        + g["graduates"].map(count)
        + "人，落实率"
        + rate
        + "，低于本校"
        + g["university_rate"].map(pct)
        + "，差距"
        + g["gap"].map(pp)
    )
    body_coded = (
        g["group"].astype(str)
        + "毕业生"
        + g["graduates"].map(count)
        + "人，落实率"
        + rate
        + "，低于本校"
        + g["university_rate"].map(pct)
    )
    body_hidden = (
        g["group"].astype(str)
        + "毕业生"
        + g["graduates"].map(count)
        + "人，落实率低于本校平均水平（人数较少，具体数值按数据保护规则不公开）"
    )
    body = np.where(exact, body_exact, np.where(rate == _HIDDEN, body_hidden, body_coded))
    return _join_pieces(
        pd.DataFrame({"university_code": g["university_code"], "piece": head.to_numpy() + body}),
        "group_rate_below",
    )


def all_placed_reasons(zero_protected: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """From the protected 零就业家庭 table (all_placed_check + protect)."""
    z = zero_protected.loc[
        (zero_protected["university_code"] != "ALL") & ~zero_protected["target_met"]
    ]
    if z.empty:
        return _rows([], "all_placed_unmet", [])
    shown = z["not_placed_display"].astype(str)
    head = "截至" + date_zh(as_of, year=False) + "，" + z["group"].astype(str) + "毕业生"
    # a protected (small) group: neither its size nor the count left is written
    piece = np.where(
        shown == _HIDDEN,
        head + "尚未全部落实（人数较少，具体人数不公开）",
        head + z["graduates"].map(count) + "人，尚有" + shown + "人未落实",
    )
    return _join_pieces(
        pd.DataFrame({"university_code": z["university_code"], "piece": piece}), "all_placed_unmet"
    )


def placement_reasons(placement: pd.DataFrame, policy: Policy, as_of: dt.date) -> pd.DataFrame:
    """From helpers.followup.common.university_placement."""
    p = placement.loc[placement["lagging"]]
    if p.empty:
        return _rows([], "placement_lagging", [])
    avg = policy.placement.provincial_average
    piece = (
        "截至"
        + date_zh(as_of, year=False)
        + "毕业去向落实率"
        + p["placement_rate"].map(pct)
        + "（"
        + p["placed"].map(count)
        + "/"
        + p["graduates"].map(count)
        + "人），低于全省"
        + f"{policy.placement.provincial_average_cohort}届平均水平{pct(avg)}，也低于本校上届"
        + p["baseline_rate"].map(pct)
    )
    return _rows(p["university_code"], "placement_lagging", piece)


def platform_reasons(platform: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """From helpers.followup.platform.platform_progress (关注率 and 辅导员绑定率 only)."""
    from helpers.followup.platform import RATES

    share = policy.platform.bottom_share
    parts = []
    for rate in ("follow_rate", "binding_rate"):
        _, _, attr, label = RATES[rate]
        threshold = getattr(policy.platform, attr)
        lag = platform[f"{rate}_laggard"].fillna(False).astype(bool)
        p = platform.loc[lag]
        if p.empty:
            continue
        below = p[rate] < threshold
        text = np.where(
            below,
            label + p[rate].map(pct) + f"，低于{pct(threshold)}",
            label + p[rate].map(pct) + f"，处于全省后{share * 100:.0f}%",
        )
        parts.append(
            pd.DataFrame({"university_code": p["university_code"], "order": rate, "piece": text})
        )
    if not parts:
        return _rows([], "platform_lagging", [])
    df = pd.concat(parts, ignore_index=True).sort_values(["university_code", "order"])
    return _join_pieces(df, "platform_lagging")


def visits_reasons(visits: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """From helpers.followup.visits.visits_progress."""
    v = visits.loc[~visits["on_track"]]
    if v.empty:
        return _rows([], "visits_off_track", [])
    day = date_zh(as_of, year=False)
    emp = np.where(
        ~v["on_track_employers"],
        "截至"
        + day
        + "走访用人单位"
        + v["distinct_employers"].map(count)
        + "家，按进度应达"
        + v["expected_to_date"].map(count)
        + "家（全年目标"
        + v["target_visits"].map(count)
        + "家）",
        "",
    )
    off_new = (v["on_track_new"] == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
    new = np.where(
        off_new,
        "校领导上半年新开拓用人单位"
        + v["new_employers_h1"].map(count)
        + "家，按进度应达"
        + v["expected_new_to_date"].astype("string").fillna("")
        + "家（目标"
        + v["target_new_employers"].astype("string").fillna("")
        + "家）",
        "",
    )
    piece = pd.Series(emp, index=v.index).str.cat(pd.Series(new, index=v.index), sep="；")
    piece = piece.str.strip("；")
    return _rows(v["university_code"], "visits_off_track", piece)


def interview_list(
    universities: pd.DataFrame,
    policy: Policy,
    as_of: dt.date,
    *,
    placement: pd.DataFrame,
    gaps_protected: pd.DataFrame,
    zero_protected: pd.DataFrame,
    platform: pd.DataFrame,
    visits: pd.DataFrame,
) -> pd.DataFrame:
    """The contract table ``interview_list``: university_code, university_name, reason_code,
    reason, evidence; one row per (university, reason), ordered by university then reason."""
    parts = [group_rate_reasons(gaps_protected)]
    if dates.due_checkpoints(policy, as_of):
        parts.append(all_placed_reasons(zero_protected, as_of))
    if as_of >= month_day(policy.placement.initial_snapshot, as_of.year):
        parts.append(placement_reasons(placement, policy, as_of))
    parts += [platform_reasons(platform, policy), visits_reasons(visits, as_of)]
    out = pd.concat(parts, ignore_index=True)
    out["reason"] = out["reason_code"].map(REASONS).astype("string")
    names = universities[["university_code", "university_name"]].drop_duplicates("university_code")
    names = names.assign(university_code=names["university_code"].astype("string"))
    out = out.merge(names, on="university_code", how="left")
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    order = {code: i for i, code in enumerate(REASONS)}
    out["_order"] = out["reason_code"].map(order)
    out = out.sort_values(["university_code", "_order"], ignore_index=True)
    return out[COLUMNS].astype({"reason_code": "string"})


def interview_summary(interviews: pd.DataFrame) -> pd.DataFrame:
    """Per reason: number of universities and their names (for the circular)."""
    g = interviews.groupby("reason_code", sort=False)
    out = pd.DataFrame(
        {
            "reason": g["reason"].first(),
            "universities": g.size(),
            "names": g["university_name"].agg("、".join),
        }
    ).reset_index()
    order = {code: i for i, code in enumerate(REASONS)}
    return out.sort_values("reason_code", key=lambda s: s.map(order), ignore_index=True)
