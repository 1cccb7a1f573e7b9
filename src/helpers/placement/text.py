"""Chinese sentences and chart labels of the placement report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from helpers.inert import md
from helpers.placement.aggregate import ALL, NOT_RECORDED, PROVINCE_NAME
from helpers.rates import Overdispersion


def label_dates(day: dt.date | pd.Timestamp | None) -> str:
    """'2023年8月31日' (or '—')."""
    if day is None or pd.isna(day):
        return "—"
    day = pd.Timestamp(day)
    return f"{day.year}年{day.month}月{day.day}日"


def scoped_labels(
    df: pd.DataFrame,
    columns: Sequence[str],
    names: dict[str, str] | None = None,
    with_scope: bool = True,
) -> pd.Series:
    """Row labels for charts: "福州大学·本科·工学" (university mode) or "本科·工学" (province)."""
    names = {ALL: PROVINCE_NAME, **(names or {})}
    parts = [df[c].astype("string").fillna(NOT_RECORDED) for c in columns]
    label = parts[0]
    for p in parts[1:]:
        label = label + "·" + p
    if with_scope:
        label = df["university_code"].map(lambda c: names.get(c, c)).astype("string") + "·" + label
    return label.astype(str)


def _pct(x: float, digits: int = 1) -> str:
    return "—" if x is None or pd.isna(x) else f"{x * 100:.{digits}f}%"


def _pp(x: float) -> str:
    if x is None or pd.isna(x):
        return ""
    word = "上升" if x > 0 else "下降" if x < 0 else "持平"
    return word if x == 0 else f"{word}{abs(x) * 100:.1f}个百分点"


def headline_text(head: pd.DataFrame, policy, names: dict[str, str] | None = None) -> str:
    """Chinese summary sentences of :func:`headline` (one paragraph per scope)."""
    names = {ALL: PROVINCE_NAME, **(names or {})}
    conf = policy.statistics.confidence
    out = []
    for r in head.itertuples(index=False):
        who = md(names.get(r.university_code, r.university_code))  # a name from the inputs
        text = (
            f"截至{label_dates(r.snapshot_date)}，{who}{r.cohort}届毕业生{r.graduates:,}人"
            f"（不含按政策不计入的结业、肄业生），已落实毕业去向{r.placed:,}人，"
            f"毕业去向落实率{_pct(r.placement_rate)}（{conf:.0%}置信区间"
            f"{_pct(r.ci_low)}–{_pct(r.ci_high)}），去向登记覆盖率{_pct(r.coverage_rate)}。"
        )
        if pd.notna(r.previous_rate):
            text += f"较上期（{label_dates(r.previous_snapshot_date)}）{_pp(r.rate_change)}；"
        else:
            text += "本届暂无更早的统计快照；"
        if pd.notna(r.last_year_rate):
            text += (
                f"较上届同期（{label_dates(r.last_year_snapshot_date)}，"
                f"{_pct(r.last_year_rate)}）{_pp(r.last_year_change)}。"
            )
        else:
            text += "暂无上届同期数据。"
        if r.coverage_rate < policy.placement.coverage_alert:
            text += (
                f"**注意：去向登记覆盖率低于{policy.placement.coverage_alert:.0%}，"
                "落实率可能被低估，应先督促登记。**"
            )
        out.append(text)
    return "\n\n".join(out)


def funnel_text(od: Overdispersion, policy, what: str = "各高校") -> str:
    """One Chinese paragraph on the overdispersion test and the limits used."""
    st = policy.statistics
    if od.units < 2:
        return f"{what}数量不足，无法进行离散度检验，控制限采用精确二项分布。"
    basis = (
        f"过度离散检验：φ={od.phi:.2f}，卡方={od.chi2:.1f}（自由度{od.dof}），p={od.p_value:.3g}。"
    )
    if od.overdispersed:
        return (
            basis + f"{what}之间的差异明显超出抽样误差，因此采用随机效应（反正弦尺度，"
            f"τ²={od.tau2:.4f}）调整后的{st.funnel_alert:.0%}与{st.funnel_alarm:.1%}控制限"
            "判定位置；精确二项限仅作参考。"
        )
    return (
        basis + f"{what}之间的差异未超出抽样误差，采用精确二项分布的{st.funnel_alert:.0%}与"
        f"{st.funnel_alarm:.1%}控制限。"
    )


def funnel_position_text(row: pd.DataFrame, od: Overdispersion, policy) -> str:
    """One Chinese sentence on one university's funnel position (a university's report states it
    instead of drawing a funnel plot with a single point): its rate, the pooled provincial rate,
    the control limits at its size (the limits that decide, see :func:`funnel_text`) and its zone.

    ``row``: the university's row of :func:`by_university` (:func:`university_row`).
    """
    if len(row) != 1:
        raise ValueError(f"funnel_position_text needs one university's row, got {len(row)} rows")
    r = row.iloc[0]
    st = policy.statistics
    method = "随机效应调整后的" if od.overdispersed else "精确二项"
    zone = r["funnel_zone"] if isinstance(r["funnel_zone"], str) else "无法判定"
    return (
        f"本校毕业生{int(r['graduates']):,}人，落实率{_pct(r['placement_rate'])}，"
        f"本期全省汇总落实率{_pct(r['provincial_rate'])}。按本校毕业生人数，{method}"
        f"{st.funnel_alert:.0%}控制限为{_pct(r['alert_low_limit'])}～{_pct(r['alert_high_limit'])}，"
        f"{st.funnel_alarm:.1%}控制限为{_pct(r['alarm_low_limit'])}～{_pct(r['alarm_high_limit'])}："
        f"本校位于**{zone}**。"
    )


def side_by_side(table: pd.DataFrame, keys: Sequence[str], university: str | None) -> pd.DataFrame:
    """Chart rows of a by-category table: in university mode only the university's categories, each
    followed by the province's figure for the same category; in province mode the table itself."""
    if university is None:
        return table
    keys = list(keys)
    own = table[table["university_code"] == university]
    present = own[keys].drop_duplicates()
    prov = table[table["university_code"] == ALL].merge(present, on=keys, how="inner")
    both = pd.concat([own, prov], ignore_index=True)
    both["_o"] = both["university_code"].eq(ALL).astype(int)
    return both.sort_values([*keys, "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
