"""单独发送 letters: each university with 学科专业点 below the threshold gets its own 公文 listing
only its own points, the plan deadline and where to send the plan, and its 约谈 reasons.

The figures come from :func:`helpers.majors.major_evidence` restricted to the university
(:meth:`MajorEvidence.tables`), the same tables its HTML report and its xlsx show; the 约谈 rows
from :func:`helpers.followup.report.build` (``interviews``), the same rows as the circular.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from helpers import majors
from helpers.config import Policy
from helpers.documents.gongwen import (
    Attachment,
    Heading,
    OfficialDocument,
    Paragraph,
    Table,
    date_cn,
)
from helpers.followup.text import count, pct

LETTER_SUFFIX = "学科专业点调整通知"


def _threshold(policy: Policy) -> str:
    return f"{policy.majors.threshold * 100:.0f}%"


def flagged_universities(ev: majors.MajorEvidence) -> list[tuple[str, str]]:
    """(院校代码, 院校名称) of every university with points on the list, by code."""
    flagged = ev.points.loc[ev.points["evidence_level"].isin(majors.FLAGGED_LEVELS)]
    pairs = flagged[["university_code", "university_name"]].drop_duplicates("university_code")
    return [
        (str(c), str(n))
        for c, n in sorted(zip(pairs["university_code"], pairs["university_name"], strict=True))
    ]


def trend_text(points: pd.DataFrame, trend: pd.DataFrame, review_cohort: int, policy) -> list[str]:
    """Per point: its earlier cohorts' initial rates ("2021届45.0%；2022届48.2%") and, when the
    rate has been below the threshold in consecutive cohorts, how many."""
    keys = list(majors.POINT_KEYS)
    earlier = trend.loc[(trend["cohort"] < review_cohort) & (trend["graduates"] > 0)]
    out = []
    for _, p in points.iterrows():
        mine = earlier
        for k in keys:
            mine = mine.loc[mine[k] == p[k]]
        mine = mine.sort_values("cohort")
        parts = [
            f"{int(c)}届{pct(r)}"
            for c, r in zip(mine["cohort"], mine["placement_rate"], strict=True)
        ]
        text = "\n".join(parts) if parts else "无往届数据"  # one cohort a line
        run = p.get("consecutive_below")
        if pd.notna(run) and int(run) >= 2:
            text += f"\n（连续{int(run)}届低于{_threshold(policy)}）"
        out.append(text)
    return out


def _points_table(ev: majors.MajorEvidence, tables: dict, policy: Policy) -> pd.DataFrame:
    flagged = tables["major_flagged"]
    runs = tables["major_points"][[*majors.POINT_KEYS, "consecutive_below"]]
    flagged = flagged.merge(runs, on=list(majors.POINT_KEYS), how="left")
    flagged = flagged.sort_values(["placement_rate", "major_code"], kind="stable")
    conf = f"{policy.statistics.confidence * 100:.0f}%"
    out = pd.DataFrame(
        {
            "序号": [str(i) for i in range(1, len(flagged) + 1)],
            "学科专业点（专业代码，学历层次）": [
                f"{n}（{c}，{lv}）"
                for n, c, lv in zip(
                    flagged["major_name"].astype(str),
                    flagged["major_code"].astype(str),
                    flagged["education_level"].astype(str),
                    strict=True,
                )
            ],
            "毕业生数": [count(v) for v in flagged["graduates"]],
            "已落实人数": [count(v) for v in flagged["placed"]],
            "毕业去向落实率": [pct(v) for v in flagged["placement_rate"]],
            f"{conf}置信区间": [
                f"{pct(lo)}～{pct(hi)}"
                for lo, hi in zip(flagged["ci_low"], flagged["ci_high"], strict=True)
            ],
            "证据等级": flagged["evidence_label"].astype(str).to_numpy(),
            "往届落实率（趋势）": trend_text(
                flagged, tables["major_trend"], ev.review.cohort, policy
            ),
        }
    )
    return out


def interview_rows(interviews: pd.DataFrame, university: str) -> pd.DataFrame:
    """The university's own rows of the 约谈 list (事由, 依据)."""
    own = interviews.loc[interviews["university_code"].astype(str) == university]
    return pd.DataFrame(
        {
            "序号": [str(i) for i in range(1, len(own) + 1)],
            "约谈事由": own["reason"].astype(str).to_numpy(),
            "依据": own["evidence"].astype(str).to_numpy(),
        }
    )


def letter_title(cohort: int, policy: Policy) -> str:
    return (
        f"关于做好{cohort}届毕业去向初步落实率低于{_threshold(policy)}的"
        "学科专业点调整改革工作的通知"
    )


def letter_content(
    ev: majors.MajorEvidence,
    university: str,
    interviews: pd.DataFrame,
    policy: Policy,
    issued: dt.date | None = None,
) -> OfficialDocument:
    """The 单独发送 letter of one university (which must have points on the list)."""
    issued = issued or dt.date.today()
    name = ev.university_name(university)
    # once, and only the three a letter uses: a university's tables take a while to make
    tables = ev.tables(university, names=("major_points", "major_flagged", "major_trend"))
    table = _points_table(ev, tables, policy)
    if table.empty:
        raise ValueError(
            f"院校 {university} 没有低于{_threshold(policy)}的学科专业点，不发送调整通知 "
            f"(university {university} has no flagged points)"
        )
    levels = table["证据等级"].value_counts()
    cohort = ev.review.cohort
    graduates = int(tables["major_flagged"]["graduates"].sum())
    conf = f"{policy.statistics.confidence * 100:.0f}%"
    threshold = _threshold(policy)
    talk = interview_rows(interviews, university)
    body = [
        Paragraph(
            f"根据《{policy.notice.title}》要求，现将你校{cohort}届毕业生毕业去向初步落实率低于"
            f"{threshold}的学科专业点名单（单独发送）通知如下。"
        ),
        Heading("一、有关学科专业点情况"),
        Paragraph(
            f"依据{cohort}届毕业生截至{date_cn(ev.review.snapshot_date)}的毕业去向落实情况"
            + ("" if ev.review.is_initial else "（尚非初次统计日数据，名单为阶段性结果）")
            + f"，经统计，你校毕业去向初步落实率低于{threshold}的学科专业点共"
            f"{len(table)}个，涉及毕业生{count(graduates)}人，其中"
            + "、".join(
                f"{label}{int(levels.get(label, 0))}个"
                for label in (
                    majors.EVIDENCE_LABELS["below_confident"],
                    majors.EVIDENCE_LABELS["below_point"],
                )
            )
            + "，名单见附件1。"
        ),
        Paragraph(
            f"判定口径：毕业生少于{policy.majors.min_graduates}人的专业点不作判定；其余专业点按"
            f"{conf}置信区间分为“{majors.EVIDENCE_LABELS['below_confident']}”（区间上限低于"
            f"{threshold}）和“{majors.EVIDENCE_LABELS['below_point']}”（落实率低于{threshold}，"
            "但区间跨过该水平）。"
        ),
        Heading("二、工作要求"),
        Paragraph(
            "请你校聚焦社会需求，建立就业与招生、培养联动的有效机制，针对上述学科专业点制定调整改革"
            f"实施方案，加大力度拓展相关学科专业就业市场，并于{date_cn(ev.deadline)}前将方案报送"
            f"{policy.majors.plan_recipient}，电子版发送至{policy.majors.plan_email}。"
        ),
    ]
    attachments = [
        Attachment(f"{name}毕业去向初步落实率低于{threshold}的学科专业点", (Table(table),))
    ]
    if len(talk):
        reasons = "、".join(dict.fromkeys(talk["约谈事由"]))
        body += [
            Heading("三、约谈事项"),
            Paragraph(
                f"你校列入本期约谈名单，事由为：{reasons}（依据见附件2）。请提前准备整改措施。"
            ),
        ]
        attachments.append(Attachment(f"{name}约谈事由及依据", (Table(talk),)))
    return OfficialDocument(
        title=letter_title(cohort, policy),
        addressee=name,
        body=tuple(body),
        issuer=policy.notice.issuer,
        date=issued,
        attachments=tuple(attachments),
    )
