"""The 全省通报 as a 公文: the same sentences as the HTML circular, laid out by :mod:`gongwen`.

Every sentence comes from :mod:`helpers.followup.circular` with the same tables the circular
notebook uses (:func:`helpers.followup.report.build`), so the Word file and the web page say the
same thing with the same figures and the same disclosure rules (small cells of groups in
difficulty are hidden in the protected tables the sentences read). The attachments are tables of
those frames: universities below the provincial average, visit-target laggards and the 约谈 list.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from helpers.config import Policy
from helpers.documents.gongwen import Attachment, Heading, OfficialDocument, Paragraph, Table
from helpers.followup import circular as text
from helpers.followup.text import count, pct

# The circular's sections, as the notebook's headings say them (notebooks/circular.ipynb).
SECTIONS = (
    "一、总体进展",
    "二、校园招聘活动",
    "三、书记校长访企拓岗",
    "四、困难群体毕业生帮扶",
    "五、数据报送（平台关注、辅导员绑定、毕业去向登记）",
    "六、约谈安排",
)
BELOW_TITLE = "{cohort}届毕业生毕业去向落实率低于全省平均水平的高校"
VISITS_TITLE = "书记校长访企拓岗进度滞后的高校"
INTERVIEWS_TITLE = "约谈名单及依据"


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """A 序号 column first (the tables are lists, not rankings)."""
    out = frame.reset_index(drop=True)
    out.insert(0, "序号", [str(i) for i in range(1, len(out) + 1)])
    return out


def below_average_table(placement: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """附件1: universities whose placement rate is below the provincial average, lowest first.
    ``placement``: helpers.followup.common.university_placement."""
    below = placement.loc[placement["below_average"]].sort_values(
        ["placement_rate", "university_code"], kind="stable"
    )
    conf = f"{policy.statistics.confidence * 100:.0f}%"
    base = policy.placement.provincial_average_cohort

    def yes_no(v) -> str:
        return "—" if pd.isna(v) else ("是" if bool(v) else "否")

    return _ranked(
        pd.DataFrame(
            {
                "院校名称": below["university_name"].astype(str).to_numpy(),
                "毕业生数": [count(v) for v in below["graduates"]],
                "已落实人数": [count(v) for v in below["placed"]],
                "毕业去向落实率": [pct(v) for v in below["placement_rate"]],
                f"{conf}置信区间": [
                    f"{pct(lo)}～{pct(hi)}"
                    for lo, hi in zip(below["ci_low"], below["ci_high"], strict=True)
                ],
                f"本校{base}届初次落实率": [pct(v) for v in below["baseline_rate"]],
                "低于本校上届": [yes_no(v) for v in below["below_baseline"]],
            }
        )
    )


def visits_laggards_table(progress: pd.DataFrame) -> pd.DataFrame:
    """附件2: universities behind either visit target. ``progress``: visits_progress."""
    behind_employers = ~progress["on_track_employers"].fillna(True).astype(bool)
    behind_new = ~progress["on_track_new"].fillna(True).astype(bool)
    lag = progress.loc[behind_employers | behind_new].sort_values("university_code")

    def maybe(v) -> str:
        return "—" if pd.isna(v) else count(v)

    return _ranked(
        pd.DataFrame(
            {
                "院校名称": lag["university_name"].astype(str).to_numpy(),
                "走访用人单位（家）": [count(v) for v in lag["distinct_employers"]],
                "按进度应达（家）": [count(v) for v in lag["expected_to_date"]],
                "全年目标（家）": [count(v) for v in lag["target_visits"]],
                "上半年新开拓（家）": [
                    maybe(v) if bool(a) else "—"
                    for v, a in zip(
                        lag["new_employers_h1"],
                        lag["new_target_applies"].fillna(False).astype(bool),
                        strict=True,
                    )
                ],
                "新开拓应达（家）": [
                    maybe(v) if bool(a) else "不适用"
                    for v, a in zip(
                        lag["expected_new_to_date"],
                        lag["new_target_applies"].fillna(False).astype(bool),
                        strict=True,
                    )
                ],
                "滞后事项": [
                    "、".join(w for w, flag in (("走访进度", e), ("新开拓用人单位", n)) if flag)
                    for e, n in zip(behind_employers[lag.index], behind_new[lag.index], strict=True)
                ],
            }
        )
    )


def interviews_table(interviews: pd.DataFrame) -> pd.DataFrame:
    """附件3: the 约谈 list, one row per university and reason, as the HTML circular shows it."""
    return _ranked(
        pd.DataFrame(
            {
                "院校名称": interviews["university_name"].astype(str).to_numpy(),
                "约谈事由": interviews["reason"].astype(str).to_numpy(),
                "依据": interviews["evidence"].astype(str).to_numpy(),
            }
        )
    )


def circular_content(
    ft, policy: Policy, as_of: dt.date, issued: dt.date | None = None
) -> OfficialDocument:
    """The circular of a reporting date as plain text structures.

    ``ft``: :func:`helpers.followup.report.build` of the date (province scope); ``issued``: the
    成文日期 (default: today; the office fixes it when the document is signed).
    """
    issued = issued or dt.date.today()
    n_uni = ft.interviews["university_code"].nunique()
    attachments = [
        Attachment(
            BELOW_TITLE.format(cohort=ft.cohort),
            (
                Table(below_average_table(ft.placement, policy))
                if ft.placement["below_average"].any()
                else Paragraph("各高校落实率均不低于全省平均水平。"),
            ),
        ),
        Attachment(
            VISITS_TITLE,
            (
                Table(visits_laggards_table(ft.visits))
                if len(visits_laggards_table(ft.visits))
                else Paragraph("各高校访企拓岗均达到进度要求。"),
            ),
        ),
        Attachment(
            INTERVIEWS_TITLE,
            (
                Table(interviews_table(ft.interviews))
                if len(ft.interviews)
                else Paragraph("本期无需约谈的高校。"),
            ),
        ),
    ]
    body = (
        Paragraph(text.opening_text(as_of, policy)),
        Heading(SECTIONS[0]),
        Paragraph(text.overall_text(ft.placement, policy, as_of, ft.cohort)),
        Heading(SECTIONS[1]),
        Paragraph(text.recruitment_text(ft.by_window, ft.by_type, policy, as_of)),
        Heading(SECTIONS[2]),
        Paragraph(text.visits_text(ft.visits, policy, as_of)),
        Heading(SECTIONS[3]),
        Paragraph(
            text.assistance_text(
                ft.groups,
                ft.compliance,
                ft.compliance_counts,
                ft.zero,
                ft.willing,
                ft.gaps,
                policy,
                as_of,
            )
        ),
        Heading(SECTIONS[4]),
        Paragraph(text.platform_text(ft.platform, ft.platform_province, policy, as_of)),
        Heading(SECTIONS[5]),
        Paragraph(text.interview_text(ft.interview_summary, n_uni, policy, as_of, see="附件3")),
        Paragraph(text.closing_text()),
    )
    return OfficialDocument(
        title=text.title(ft.cohort),
        addressee=policy.notice.addressee,
        body=body,
        issuer=policy.notice.issuer,
        date=issued,
        attachments=tuple(attachments),
    )
