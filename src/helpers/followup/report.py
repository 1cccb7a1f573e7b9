"""Everything the follow-up notebooks show, computed once from the loaded inputs.

:func:`build` is pure: the notebooks load the processed data with :mod:`helpers.load` (the
``*_COLUMNS`` lists below keep the reads small), call it, then display and write its tables.
Group tables are protected on the complete province table (helpers.disclosure) before any row is
selected; :func:`university_rows` then narrows a table to one university beside the province row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from helpers.codes import GROUP_COLUMNS
from helpers.config import Policy
from helpers.followup import assistance as A
from helpers.followup import dates
from helpers.followup import interviews as I
from helpers.followup import platform as P
from helpers.followup import recruitment as R
from helpers.followup import visits as V
from helpers.followup.common import attach_names, monitored_universities, university_placement

GRADUATE_COLUMNS = [
    "student_key",
    "university_code",
    "cohort",
    "in_denominator",
    "placed",
    "willing_to_work",
    "snapshot_date",
    *GROUP_COLUMNS.values(),
]
HISTORY_COLUMNS = [
    "university_code",
    "cohort",
    "in_denominator",
    "placed",
    "snapshot_date",
    *GROUP_COLUMNS.values(),
]
UNIVERSITY_COLUMNS = ["university_code", "university_name", "baseline_rate"]
RECRUITMENT_COLUMNS = [
    "university_code",
    "window_start",
    "window_end",
    "activity_type",
    "events",
    "employers",
    "positions",
    "student_visits",
    "source_file",
    "source_row",
]
VISIT_COLUMNS = [
    "university_code",
    "visit_date",
    "visitor_role",
    "employer_name",
    "employer_credit_code",
    "new_employer",
    "positions",
    "source_file",
    "source_row",
]
PLATFORM_COLUMNS = [
    "university_code",
    "stat_date",
    "graduates",
    "platform_followers",
    "counsellors",
    "counsellors_bound",
    "registered",
    "source_file",
    "source_row",
]
ASSISTANCE_COLUMNS = ["university_code", "student_key", "help_date", "help_type"]

# columns of the written tables (display helpers stay in the notebook)
WRITTEN = {
    "recruitment_by_window": [
        "university_code",
        "university_name",
        "window_start",
        "window_end",
        "complete",
        "events",
        "employers",
        "positions",
        "student_visits",
        "records",
        "straddling_records",
    ],
    "recruitment_by_type": [
        "university_code",
        "university_name",
        "window_start",
        "window_end",
        "activity_type",
        "events",
        "employers",
        "positions",
        "student_visits",
    ],
    "visits_by_role": [
        "university_code",
        "university_name",
        "role_group",
        "visits",
        "distinct_employers",
        "new_employers",
        "positions",
    ],
    "assistance_by_group": [
        "university_code",
        "university_name",
        "group",
        "graduates",
        "placed",
        "not_placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "university_rate",
        "gap",
        "suppressed",
    ],
    "assistance_compliance": [
        "university_code",
        "university_name",
        "group",
        "graduates",
        "compliant_3x3",
        "not_compliant_3x3",
        "compliance_rate",
        "suppressed",
    ],
    "all_placed_check": [
        "university_code",
        "university_name",
        "group",
        "graduates",
        "placed",
        "not_placed",
        "placement_rate",
        "target_met",
        "suppressed",
    ],
    "willing_check": [
        "university_code",
        "university_name",
        "group",
        "graduates",
        "placed",
        "not_placed",
        "placement_rate",
        "willing_unknown",
        "target_met",
        "suppressed",
    ],
    "checkpoint_gaps": [
        "checkpoint",
        "checkpoint_label",
        "data_date",
        "snapshot_date",
        "university_code",
        "university_name",
        "group",
        "graduates",
        "placed",
        "not_placed",
        "placement_rate",
        "university_rate",
        "gap",
        "below",
        "suppressed",
    ],
}


@dataclass
class FollowupTables:
    """Tables of one reporting date (province scope). Record-level frames are not kept."""

    as_of: dt.date
    cohort: int
    universities: pd.DataFrame
    scope: pd.DataFrame
    by_window: pd.DataFrame
    by_type: pd.DataFrame
    province_windows: pd.DataFrame
    province_types: pd.DataFrame
    recruitment_summary: pd.DataFrame
    inactive: pd.DataFrame
    latest_window: tuple[dt.date | None, dt.date | None]
    visits: pd.DataFrame
    visits_by_role: pd.DataFrame
    visits_cumulative: pd.DataFrame
    visits_cumulative_universities: pd.DataFrame
    platform: pd.DataFrame
    platform_province: dict
    placement: pd.DataFrame
    groups: pd.DataFrame
    compliance: pd.DataFrame
    compliance_counts: pd.DataFrame  # per graduate: counts only, never shown
    zero: pd.DataFrame
    willing: pd.DataFrame
    gaps: pd.DataFrame
    checkpoint_status: pd.DataFrame
    unmatched_help: int
    interviews: pd.DataFrame
    interview_summary: pd.DataFrame
    audit: list = field(default_factory=list)

    def view(self, name: str) -> pd.DataFrame:
        """A table by its file name as readers may see it: in protected rows (``suppressed`` not
        empty) the yes/no decisions ``below`` and ``target_met`` are emptied too, since they
        would reveal what the hidden figures hide (the 约谈 list and the circular use the
        decisions but never print hidden figures)."""
        frames = {
            "recruitment_by_window": self.by_window,
            "recruitment_by_type": self.by_type,
            "visits_progress": self.visits,
            "visits_by_role": self.visits_by_role,
            "platform_progress": self.platform,
            "assistance_by_group": self.groups,
            "assistance_compliance": self.compliance,
            "all_placed_check": self.zero,
            "willing_check": self.willing,
            "checkpoint_gaps": self.gaps,
            "interview_list": self.interviews,
        }
        return mask_decisions(frames[name])

    def table(self, name: str) -> pd.DataFrame:
        """A contract/extra table by its file name, with the columns that are written."""
        df = self.view(name)
        cols = WRITTEN.get(name)
        return (
            df[cols] if cols else df.loc[:, [c for c in df.columns if not c.endswith("_display")]]
        )


DECISION_COLUMNS = ("below", "target_met")


def mask_decisions(df: pd.DataFrame) -> pd.DataFrame:
    """Empty ``below`` / ``target_met`` in rows that disclosure control protected."""
    present = [c for c in DECISION_COLUMNS if c in df.columns]
    if not present or "suppressed" not in df.columns:
        return df
    out = df.copy()
    hidden = out["suppressed"].fillna("").astype(str) != ""
    for col in present:
        out[col] = out[col].astype("boolean").mask(hidden.to_numpy(), pd.NA)
    return out


TABLE_NAMES = (
    "recruitment_by_window",
    "recruitment_by_type",
    "visits_progress",
    "visits_by_role",
    "platform_progress",
    "assistance_by_group",
    "assistance_compliance",
    "all_placed_check",
    "willing_check",
    "checkpoint_gaps",
    "interview_list",
)


def build(
    *,
    graduates: pd.DataFrame,
    history: pd.DataFrame,
    recruitment: pd.DataFrame,
    visits: pd.DataFrame,
    platform: pd.DataFrame,
    assistance: pd.DataFrame,
    universities: pd.DataFrame,
    policy: Policy,
    as_of: dt.date,
) -> FollowupTables:
    """Compute every follow-up table of a reporting date (province scope)."""
    cohort = int(graduates["cohort"].max())
    uni = monitored_universities(universities, graduates, recruitment, visits, platform)
    audit: list = []

    assigned = R.assign_windows(recruitment, policy, as_of)
    by_window = R.recruitment_by_window(assigned, uni, policy, as_of)
    by_type = attach_names(R.recruitment_by_type(assigned), uni)
    inactive, start, end = R.inactive_in_latest_window(by_window, policy, as_of)

    prepared = V.prepare_visits(visits, policy, as_of)
    progress = V.visits_progress(prepared, uni, policy, as_of)
    cumulative = V.cumulative_by_month(prepared, as_of)
    by_role = attach_names(V.visits_by_role(prepared), uni)

    plat = P.platform_progress(platform, uni, policy, as_of)

    placement = university_placement(graduates, uni, policy)
    members = A.group_members(graduates, policy.assistance.groups)
    counts, help_scope = A.help_counts(assistance, as_of)
    per_graduate = A.compliance_per_graduate(members, counts, policy)
    groups = A.protect(
        attach_names(A.group_rates(graduates, policy), uni),
        policy,
        table="assistance_by_group",
        audit=audit,
    )
    compliance = A.protect(
        attach_names(A.assistance_compliance(members, per_graduate), uni),
        policy,
        placed_col="compliant_3x3",
        rate_cols=("compliance_rate",),
        table="assistance_compliance",
        audit=audit,
    )
    zero = A.protect(
        attach_names(A.all_placed_check(graduates, policy), uni),
        policy,
        table="all_placed_check",
        audit=audit,
    )
    willing = A.protect(
        attach_names(A.willing_check(graduates, policy), uni),
        policy,
        table="willing_check",
        audit=audit,
    )
    gaps = A.protect_checkpoints(
        attach_names(A.checkpoint_gaps(history, policy, as_of, cohort), uni), policy, audit=audit
    )
    interviews = I.interview_list(
        uni,
        policy,
        as_of,
        placement=placement,
        gaps_protected=gaps,
        zero_protected=zero,
        platform=plat,
        visits=progress,
    )
    _, later = P.latest_platform(platform, as_of)
    scope = pd.concat(
        [
            R.recruitment_scope(assigned),
            V.visits_scope(prepared),
            help_scope,
            pd.DataFrame(
                {"dataset": ["平台"], "reason": ["晚于统计日期（待下期计入）"], "records": [later]}
            ),
        ],
        ignore_index=True,
    )
    return FollowupTables(
        as_of=as_of,
        cohort=cohort,
        universities=uni,
        scope=scope,
        by_window=by_window,
        by_type=by_type,
        province_windows=R.province_by_window(by_window),
        province_types=R.province_by_type(assigned),
        recruitment_summary=R.university_summary(by_window, policy, as_of),
        inactive=inactive,
        latest_window=(start, end),
        visits=progress,
        visits_by_role=by_role,
        visits_cumulative=V.province_cumulative(cumulative, len(uni), policy),
        visits_cumulative_universities=cumulative,
        platform=plat,
        platform_province=P.province_platform(plat),
        placement=placement,
        groups=groups,
        compliance=compliance,
        compliance_counts=per_graduate,
        zero=zero,
        willing=willing,
        gaps=gaps,
        checkpoint_status=A.checkpoint_snapshots(history, policy, as_of, cohort),
        unmatched_help=A.unmatched_help_records(members, counts),
        interviews=interviews,
        interview_summary=I.interview_summary(interviews),
        audit=audit,
    )


def university_rows(
    df: pd.DataFrame, university: str | None, keep_province: bool = True
) -> pd.DataFrame:
    """Rows of one university (and the province rows ``ALL`` beside them); all rows when
    ``university`` is None."""
    if university is None:
        return df
    codes = [university, "ALL"] if keep_province else [university]
    return df.loc[df["university_code"].astype(str).isin(codes)].reset_index(drop=True)


def check_university(universities: pd.DataFrame, university: str | None) -> str | None:
    """Normalise the ``university`` parameter; a code without any data is an error."""
    if university is None:
        return None
    code = str(university).strip()
    if not (len(code) == 5 and code.isdigit()):
        raise ValueError(f"university must be a 5-digit 院校代码 or None, got {university!r}")
    if code not in set(universities["university_code"].astype(str)):
        raise ValueError(f"院校代码 {code} has no data for this reporting date")
    return code


def checkpoint_note(policy: Policy, as_of: dt.date) -> str:
    """One Chinese sentence: which interview checkpoints are due on the date, and the next one."""
    from helpers.followup.text import date_zh

    due = dates.due_checkpoints(policy, as_of)
    nxt = dates.next_checkpoint(policy, as_of)
    text = (
        "已到期的约谈节点："
        + "、".join(f"{c.label}（以{date_zh(c.data_date, year=False)}数据为准）" for c in due)
        + "。"
        if due
        else "本期尚无到期的约谈节点。"
    )
    if nxt is not None:
        text += (
            f"下一约谈节点为{date_zh(nxt.date)}，以{date_zh(nxt.data_date, year=False)}数据为准。"
        )
    return text
