"""Sentences of the 全省通报 (province circular), generated from the figures.

Each ``*_text`` function takes the tables the follow-up helpers produce and returns one Chinese
paragraph; the circular notebook only arranges them under 一、二、三…. Figures about groups in
difficulty are taken from protected tables (their ``*_display`` strings) or pass
:func:`small_count`, so the text never reveals what a table hides.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy, month_day
from helpers.followup import dates
from helpers.followup.text import count, date_zh, names, pct, pp

NAME_LIMIT = 10  # universities named in one sentence before "等N所"
HIDDEN = "—"  # helpers.disclosure's marker of a hidden cell


def small_count(x: int, policy: Policy) -> str:
    """A count of graduates in difficulty for text: below ``disclosure.min_count_shown`` it reads
    "<5" (zero included, as in the protected tables)."""
    m = policy.disclosure.min_count_shown
    return f"少于{m}" if int(x) < m else count(x)


def _compare(rate: float, line: float) -> str:
    if np.isnan(rate):
        return "暂无可比数据"
    if abs(rate - line) < 5e-4:
        return "与之持平"
    return ("高于" if rate > line else "低于") + "该水平" + pp(rate - line)


def title(cohort: int) -> str:
    return f"关于{cohort}届全省普通高校毕业生就业工作进展情况的通报"


def opening_text(as_of: dt.date, policy: Policy) -> str:
    return (
        f"为贯彻落实《{policy.notice.title}》要求，现将截至{date_zh(as_of)}全省普通高校毕业生"
        "就业工作进展情况通报如下："
    )


def overall_text(placement: pd.DataFrame, policy: Policy, as_of: dt.date, cohort: int) -> str:
    """一、总体进展. ``placement``: helpers.followup.common.university_placement."""
    from helpers.followup.common import pooled

    p = pooled(placement, confidence=policy.statistics.confidence)
    avg = policy.placement.provincial_average
    conf = f"{policy.statistics.confidence * 100:.0f}%"
    text = (
        f"截至{date_zh(as_of)}，全省{len(placement)}所高校{cohort}届毕业生共{count(p['graduates'])}人，"
        f"已落实毕业去向{count(p['placed'])}人，毕业去向落实率为{pct(p['rate'])}"
        f"（{conf}置信区间{pct(p['ci_low'])}至{pct(p['ci_high'])}），"
        f"全省{policy.placement.provincial_average_cohort}届初次毕业去向落实率平均水平为{pct(avg)}，"
        f"{_compare(p['rate'], avg)}。"
    )
    below = placement.loc[placement["below_average"]]
    lagging = placement.loc[placement["lagging"]]
    if below.empty:
        text += "各高校落实率均不低于全省平均水平。"
    else:
        text += f"落实率低于全省平均水平的高校{len(below)}所"
        text += (
            f"，其中{len(lagging)}所同时低于本校上届水平：{names(lagging['university_name'], NAME_LIMIT)}。"
            if len(lagging)
            else "，均不低于本校上届水平。"
        )
    if as_of < month_day(policy.placement.initial_snapshot, as_of.year):
        text += (
            f"（全省平均水平为{date_zh(month_day(policy.placement.initial_snapshot, as_of.year), year=False)}"
            "初次毕业去向落实率，当前落实率仍在进展中，比较仅供参考。）"
        )
    return text


def recruitment_text(
    by_window: pd.DataFrame, by_type: pd.DataFrame, policy: Policy, as_of: dt.date
) -> str:
    """二、校园招聘. ``by_window``: recruitment_by_window; ``by_type``: recruitment_by_type."""
    from helpers.followup.recruitment import inactive_in_latest_window, province_by_window

    prov = province_by_window(by_window)
    total = prov[["events", "employers", "positions", "student_visits"]].sum()
    first = prov["window_start"].min()
    text = (
        f"{date_zh(first)}以来，全省高校累计举办各类校园招聘活动{count(total['events'])}场，"
        f"参会用人单位{count(total['employers'])}家次，提供岗位{count(total['positions'])}个，"
        f"学生参与{count(total['student_visits'])}人次。"
    )
    inactive, start, end = inactive_in_latest_window(by_window, policy, as_of)
    if start is None:
        return text + "本年度尚无已结束的统计周期。"
    latest = prov.loc[prov["window_end"] == pd.Timestamp(end)].iloc[0]
    text += (
        f"最近一个统计周期（{date_zh(start, year=False)}至{date_zh(end, year=False)}），"
        f"全省举办招聘活动{count(latest['events'])}场，提供岗位{count(latest['positions'])}个"
    )
    earlier = prov.loc[prov["window_end"] < pd.Timestamp(end)]
    if len(earlier):
        change = int(latest["events"]) - int(earlier.iloc[-1]["events"])
        text += (
            "，场次与上一周期持平"
            if change == 0
            else f"，场次较上一周期{'增加' if change > 0 else '减少'}{count(abs(change))}场"
        )
    types = (
        by_type.loc[by_type["window_end"] == pd.Timestamp(end)]
        .groupby("activity_type", observed=True)["events"]
        .sum()
    )
    types = types[types > 0].sort_values(ascending=False)
    if len(types):
        text += "，其中" + "、".join(f"{k}{count(v)}场" for k, v in types.items())
    text += "。"
    if inactive.empty:
        text += "各高校在该周期均开展了招聘活动。"
    else:
        text += (
            f"{len(inactive)}所高校在该周期未开展招聘活动："
            f"{names(inactive['university_name'], NAME_LIMIT)}。"
        )
    return text


def visits_text(progress: pd.DataFrame, policy: Policy, as_of: dt.date) -> str:
    """三、访企拓岗. ``progress``: visits_progress."""
    v = policy.visits
    tot = progress[
        ["visits", "distinct_employers", "new_employers", "positions", "college_visits"]
    ].sum()
    expected = int(progress["expected_to_date"].iloc[0]) if len(progress) else 0
    text = (
        f"截至{date_zh(as_of)}，全省{len(progress)}所高校书记校长访企拓岗累计走访{count(tot['visits'])}次，"
        f"走访用人单位{count(tot['distinct_employers'])}家（各校分别计数），新开拓用人单位"
        f"{count(tot['new_employers'])}家，拓展岗位{count(tot['positions'])}个；其中二级学院负责人走访"
        f"{count(tot['college_visits'])}次。"
    )
    behind = progress.loc[~progress["on_track_employers"]]
    text += (
        f"按每校全年走访不少于{v.employers_per_year}家的要求，截至目前应达到{expected}家，"
        f"{len(progress) - len(behind)}所高校达到进度"
    )
    text += (
        f"，{len(behind)}所高校滞后：{names(behind['university_name'], NAME_LIMIT)}。"
        if len(behind)
        else "。"
    )
    applies = progress.loc[progress["new_target_applies"].fillna(False).astype(bool)]
    h1 = date_zh(dates.first_half_end(policy, as_of), year=False)
    if len(applies):
        off = applies.loc[~applies["on_track_new"].fillna(True).astype(bool)]
        final = as_of >= dates.first_half_end(policy, as_of)
        need = (
            f"{h1}前新开拓用人单位不少于{v.new_employers_first_half}家"
            if final
            else f"{h1}前新开拓用人单位不少于{v.new_employers_first_half}家（按进度目前应达"
            f"{int(applies['expected_new_to_date'].iloc[0])}家）"
        )
        text += (
            f"上届初次毕业去向落实率低于全省平均水平的{len(applies)}所高校，其领导班子应在{need}，"
            f"{len(applies) - len(off)}所达到要求"
        )
        text += (
            f"，{len(off)}所未达到：{names(off['university_name'], NAME_LIMIT)}。"
            if len(off)
            else "。"
        )
    unknown = progress["new_target_applies"].isna().sum()
    if unknown:
        text += f"另有{unknown}所高校缺少上届落实率，无法判断是否适用新开拓单位要求。"
    return text


def _group_sentence(row: pd.Series, province_rate: float) -> str:
    shown = str(row["placement_rate_display"])
    if row["graduates"] == 0:
        return f"{row['group']}毕业生暂无"
    if shown == HIDDEN:
        return f"{row['group']}毕业生{count(row['graduates'])}人（人数较少，落实率不公布）"
    text = f"{row['group']}毕业生{count(row['graduates'])}人，落实率{shown}"
    if not np.isnan(row["placement_rate"]):
        text += "，" + ("高于" if row["placement_rate"] >= province_rate else "低于") + "全省平均"
    return text


def assistance_text(
    groups_protected: pd.DataFrame,
    compliance_protected: pd.DataFrame,
    per_graduate: pd.DataFrame,
    zero_protected: pd.DataFrame,
    willing_protected: pd.DataFrame,
    gaps_protected: pd.DataFrame,
    policy: Policy,
    as_of: dt.date,
) -> str:
    """四、困难群体帮扶. Every table is protected (helpers.followup.assistance.protect)."""
    a = policy.assistance
    prov = groups_protected.loc[groups_protected["university_code"] == "ALL"]
    prov_rate = float(prov["university_rate"].iloc[0]) if len(prov) else float("nan")
    parts = [_group_sentence(r, prov_rate) for _, r in prov.iterrows()]  # one row per group
    text = f"截至{date_zh(as_of)}，全省" + "；".join(parts) + f"（全省平均{pct(prov_rate)}）。"
    n = len(per_graduate)
    if n:
        ok = int(per_graduate["compliant"].sum())
        rule = (
            f"“3个3”帮扶要求（谈心谈话不少于{a.talks}次、就业促进活动不少于{a.activities}次、"
            f"岗位推荐不少于{a.recommendations}个）"
        )
        if n < policy.disclosure.min_group_for_rate:
            text += f"全省困难群体毕业生{count(n)}人（人数较少，{rule}达标情况不公布）。"
        elif n - ok < policy.disclosure.min_count_shown:
            text += f"全省困难群体毕业生{count(n)}人中，尚未达到{rule}的{small_count(n - ok, policy)}人。"
        else:
            text += (
                f"全省困难群体毕业生{count(n)}人中，已达到{rule}的{count(ok)}人"
                f"（{pct(ok / n)}），尚未达到的{count(n - ok)}人。"
            )
        comp = compliance_protected.loc[
            (compliance_protected["university_code"] == "ALL")
            & (compliance_protected["graduates"] > 0)
        ]
        shown = comp.loc[comp["compliance_rate_display"].astype(str) != HIDDEN]
        if len(shown):
            text += (
                "分群体看，达标率"
                + "、".join(
                    shown["group"].astype(str) + shown["compliance_rate_display"].astype(str)
                )
                + "。"
            )
    short = per_graduate.loc[~per_graduate["compliant"], "university_code"].nunique()
    if short:
        text += f"{short}所高校存在未达到“3个3”要求的困难毕业生。"
    zero = zero_protected.loc[zero_protected["university_code"] != "ALL"]
    zero_left = zero.loc[~zero["target_met"]]
    zero_all = zero_protected.loc[zero_protected["university_code"] == "ALL"]
    if len(zero_all) and int(zero_all["graduates"].sum()):
        if zero_left.empty:
            text += "零就业家庭毕业生已全部落实毕业去向。"
        else:
            text += (
                f"零就业家庭毕业生尚未全部落实的高校{zero_left['university_code'].nunique()}所："
                f"{names(zero_left['university_name'], NAME_LIMIT)}，须实行动态清零。"
            )
    will = willing_protected.loc[willing_protected["university_code"] == "ALL"]
    if len(will):
        w = will.iloc[0]
        left = str(w["not_placed_display"])
        left = (
            "尚有毕业生未落实（人数较少，具体人数不公布）。"
            if left == HIDDEN
            else f"尚未落实{left}人。"
        )
        text += f"有就业意愿的{w['group']}毕业生{count(w['graduates'])}人，" + (
            "已全部落实。" if w["target_met"] else left
        )
        unknown = int(will["willing_unknown"].sum())
        if unknown:
            text += f"另有{small_count(unknown, policy)}人未填报就业意愿，请核实。"
    due = dates.due_checkpoints(policy, as_of)
    if not due:
        nxt = dates.next_checkpoint(policy, as_of)
        if nxt is not None:
            text += (
                f"下一约谈节点为{date_zh(nxt.date, year=False)}，以{date_zh(nxt.data_date, year=False)}"
                f"数据为准，{'、'.join(a.rate_above_school_groups)}毕业生落实率低于本校平均水平的高校将被约谈。"
            )
        return text
    for c in due:
        g = gaps_protected.loc[
            (gaps_protected["checkpoint"] == pd.Timestamp(c.date))
            & (gaps_protected["university_code"] != "ALL")
        ]
        if g.empty:
            text += f"{c.label}约谈节点：尚无{date_zh(c.data_date, year=False)}前的毕业去向数据。"
            continue
        below = g.loc[g["below"]]
        who = below.drop_duplicates("university_code")
        text += (
            f"{c.label}约谈节点（数据截至{date_zh(g['snapshot_date'].iloc[0], year=False)}），"
            f"{'、'.join(a.rate_above_school_groups)}毕业生落实率低于本校平均水平的高校"
            + (
                f"{len(who)}所：{names(who['university_name'], NAME_LIMIT)}。"
                if len(who)
                else "0所。"
            )
        )
    return text


def platform_text(progress: pd.DataFrame, province: dict, policy: Policy, as_of: dt.date) -> str:
    """五、数据报送 (平台关注、辅导员绑定、毕业去向登记). ``progress``: platform_progress;
    ``province``: platform.province_platform(progress)."""
    from helpers.followup.platform import RATES

    p = policy.platform
    text = (
        f"截至{date_zh(as_of)}，全省毕业生国家大学生就业服务平台关注率{pct(province['follow_rate'])}"
        f"（{count(province['platform_followers'])}/{count(province['graduates'])}人），"
        f"毕业班辅导员绑定率{pct(province['binding_rate'])}"
        f"（{count(province['counsellors_bound'])}/{count(province['counsellors'])}人），"
        f"毕业去向登记率{pct(province['registration_rate'])}。"
    )
    for rate, (_, _, attr, label) in RATES.items():
        lag = progress.loc[progress[f"{rate}_laggard"].fillna(False).astype(bool)]
        if len(lag):
            text += (
                f"{label}低于{pct(getattr(p, attr))}或处于全省后{p.bottom_share * 100:.0f}%的高校"
                f"{len(lag)}所：{names(lag['university_name'], NAME_LIMIT)}。"
            )
    missing = progress.loc[progress["stat_date"].isna()]
    if len(missing):
        text += (
            f"{len(missing)}所高校未报送平台数据：{names(missing['university_name'], NAME_LIMIT)}。"
        )
    return text


def interview_text(
    summary: pd.DataFrame,
    universities: int,
    policy: Policy,
    as_of: dt.date,
    see: str = "附表",
) -> str:
    """六、约谈名单. ``summary``: interviews.interview_summary; ``universities``: distinct
    universities on the list; ``see``: where the list is (附表 on the web page, 附件3 in the
    公文)."""
    if summary.empty:
        return "根据通知要求，本期无需约谈的高校。"
    text = f"根据通知要求，拟约谈高校{universities}所（一所高校可涉及多项事由）："
    items = [
        f"{r['reason']}的{r['universities']}所（{names(r['names'].split('、'), NAME_LIMIT)}）"
        for _, r in summary.iterrows()
    ]
    return text + "；".join(items) + f"。约谈名单及依据见{see}。"


def closing_text() -> str:
    return (
        "请各高校对照通报情况，认真查找问题，压实工作责任，切实做好毕业生就业工作；"
        "被约谈的高校要提前准备整改措施。"
    )


# --- one university beside the province (university mode of the follow-up report) -----------


def visits_university_text(
    progress: pd.DataFrame, university: str, policy: Policy, as_of: dt.date
) -> str:
    """Visits of one university against its targets, beside the province's share on track."""
    row = progress.loc[progress["university_code"] == university].iloc[0]
    on = int(progress["on_track_employers"].sum())
    text = (
        f"截至{date_zh(as_of)}，{row['university_name']}访企拓岗走访{count(row['visits'])}次，"
        f"走访用人单位{count(row['distinct_employers'])}家（其中二级学院负责人走访"
        f"{count(row['college_distinct_employers'])}家），新开拓用人单位{count(row['new_employers'])}家，"
        f"拓展岗位{count(row['positions'])}个。按全年不少于{row['target_visits']}家的要求，"
        f"目前应达到{row['expected_to_date']}家，"
        + ("已达到进度" if row["on_track_employers"] else "进度滞后")
        + "。"
    )
    applies = row["new_target_applies"]
    if pd.isna(applies):
        text += "本校缺少上届初次落实率，无法判断是否适用新开拓单位要求。"
    elif applies:
        h1 = date_zh(dates.first_half_end(policy, as_of), year=False)
        text += (
            f"本校上届初次落实率低于全省平均水平，校领导应在{h1}前新开拓用人单位不少于"
            f"{row['target_new_employers']}家，目前{count(row['new_employers_h1'])}家"
            f"（按进度应达{row['expected_new_to_date']}家），"
            + ("已达到要求" if row["on_track_new"] else "未达到要求")
            + "。"
        )
    return text + f"全省{len(progress)}所高校中{on}所达到走访进度。"


def platform_university_text(progress: pd.DataFrame, province: dict, university: str) -> str:
    """Platform figures of one university beside the pooled province figures."""
    row = progress.loc[progress["university_code"] == university].iloc[0]
    if pd.isna(row["stat_date"]):
        return f"{row['university_name']}尚未报送平台数据。"
    text = (
        f"{row['university_name']}（统计日期{date_zh(row['stat_date'], year=False)}）平台关注率"
        f"{pct(row['follow_rate'])}（全省{pct(province['follow_rate'])}），辅导员绑定率"
        f"{pct(row['binding_rate'])}（全省{pct(province['binding_rate'])}），毕业去向登记率"
        f"{pct(row['registration_rate'])}（全省{pct(province['registration_rate'])}）。"
    )
    if row["laggard"]:
        text += f"滞后情况：{row['laggard_reason']}。"
    return text


def assistance_university_text(
    groups_protected: pd.DataFrame,
    compliance_protected: pd.DataFrame,
    zero_protected: pd.DataFrame,
    willing_protected: pd.DataFrame,
    university: str,
    as_of: dt.date,
) -> str:
    """Groups in difficulty of one university, from protected tables only."""
    g = groups_protected.loc[
        (groups_protected["university_code"] == university) & (groups_protected["graduates"] > 0)
    ]
    if g.empty:
        return "本校本届暂无困难群体毕业生。"
    name = g["university_name"].iloc[0]
    uni_rate = float(g["university_rate"].iloc[0])
    parts = [_group_sentence(r, uni_rate).replace("全省平均", "本校平均") for _, r in g.iterrows()]
    text = f"截至{date_zh(as_of)}，{name}" + "；".join(parts) + f"（本校平均{pct(uni_rate)}）。"
    c = compliance_protected.loc[
        (compliance_protected["university_code"] == university)
        & (compliance_protected["graduates"] > 0)
    ]
    if len(c):
        shown = c["compliance_rate_display"].astype(str).replace(HIDDEN, "（人数较少，不公布）")
        text += "“3个3”帮扶达标率：" + "、".join(c["group"].astype(str) + shown) + "。"
    for table, what in ((zero_protected, "{}毕业生"), (willing_protected, "有就业意愿的{}毕业生")):
        rows = table.loc[(table["university_code"] == university) & (table["graduates"] > 0)]
        for _, r in rows.iterrows():  # one row per group
            left = str(r["not_placed_display"])
            status = (
                "已全部落实"
                if r["target_met"]
                else "尚有毕业生未落实（人数较少，具体人数不公布）"
                if left == HIDDEN
                else f"尚未落实{left}人"
            )
            text += f"{what.format(r['group'])}{count(r['graduates'])}人，{status}。"
    return text
