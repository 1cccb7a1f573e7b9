"""Chinese text and chart labels of the major-evidence report."""

from __future__ import annotations

import pandas as pd

from helpers.majors.evidence import FLAGGED_LEVELS
from helpers.majors.report import MajorEvidence, for_university


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
