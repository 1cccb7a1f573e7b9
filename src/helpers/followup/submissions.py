"""报送情况: documents the notice asks each university for by a date, received on time or not.

Items and deadlines: policy ``submissions.items`` (就业工作方案, 暖心行动材料 by 02-25, 调整改革实施方案
by 04-01 — the last only for universities whose previous cohort had 专业点 below the threshold,
the list of :func:`helpers.majors.plan_cohort`). Deadlines fall in the reporting year (the year
of ``as_of``).

Rules:
- a receipt counts for the reporting year when it is dated from the start of its window (1
  January; for the adjustment plans the day after the list's data, the previous cohort's initial
  snapshot date, as in :func:`helpers.majors.adjustment_plan_status`) up to ``as_of`` (a document
  received later is not known yet); the earliest receipt of a university and item counts;
- 按期报送: received on or before the deadline (received on the deadline day is on time);
  逾期报送: after it; 未报送（已逾期）: nothing received and the deadline has passed;
  未报送（未到截止日期）: nothing received yet, the deadline still ahead;
- ``days_late``: days after the deadline of the receipt, or until ``as_of`` when nothing arrived
  after the deadline; 0 otherwise.

The old reference file of the adjustment plans (``adjustment_plans``: 院校代码, 报送日期) is still
read: its rows count as receipts of 调整改革实施方案 (:func:`receipts` merges both).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy
from helpers.followup.common import require_columns
from helpers.tables import register_headers, register_table_titles

PLAN_ITEM = "调整改革实施方案"
STATUSES = ("按期报送", "逾期报送", "未报送（已逾期）", "未报送（未到截止日期）")
COLUMNS = (
    "university_code",
    "university_name",
    "item",
    "deadline",
    "received_date",
    "submission_status",
    "days_late",
)


def receipts(
    submissions: pd.DataFrame | None, adjustment_plans: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One frame of receipts (university_code, item, received_date) from the processed
    ``submissions`` and, for compatibility, the old ``adjustment_plans`` (as 调整改革实施方案)."""
    parts = []
    if submissions is not None and len(submissions):
        require_columns(submissions, ("university_code", "item", "received_date"), "submissions")
        parts.append(submissions[["university_code", "item", "received_date"]])
    if adjustment_plans is not None and len(adjustment_plans):
        require_columns(adjustment_plans, ("university_code", "received_date"), "adjustment_plans")
        parts.append(adjustment_plans[["university_code", "received_date"]].assign(item=PLAN_ITEM))
    if not parts:
        return pd.DataFrame(
            {
                "university_code": pd.Series(dtype="string"),
                "item": pd.Series(dtype="string"),
                "received_date": pd.Series(dtype="datetime64[ms]"),
            }
        )
    out = pd.concat(
        [p.astype({"university_code": "string", "item": "string"}) for p in parts],
        ignore_index=True,
    )
    out["received_date"] = pd.to_datetime(out["received_date"])
    return out[["university_code", "item", "received_date"]]


def _window_start(applies_to: str, policy: Policy, year: int) -> dt.date:
    if applies_to == "flagged_points":
        # the list of cohort year-1 is made from its initial snapshot: plans before it are older
        return policy.date(policy.placement.initial_snapshot, year - 1) + dt.timedelta(days=1)
    return dt.date(year, 1, 1)


def submission_status(
    received: pd.DataFrame,
    universities: pd.DataFrame,
    flagged: set[str] | pd.Series | list[str],
    policy: Policy,
    as_of: dt.date,
) -> pd.DataFrame:
    """The table ``submissions_status``: one row per university and item it owes.

    ``received``: :func:`receipts`; ``universities``: university_code, university_name (the
    monitored list); ``flagged``: codes of the universities on the 专业点 list (they owe the
    adjustment plan). Columns: university_code, university_name, item, deadline, received_date,
    submission_status, days_late.
    """
    require_columns(received, ("university_code", "item", "received_date"), "submissions")
    if received["received_date"].isna().any():
        rows = list(received.index[received["received_date"].isna()][:5])
        raise ValueError(f"submissions: 报送日期为空的行 {rows} (received_date missing)")
    unis = universities[["university_code", "university_name"]].astype("string")
    flagged = {str(c) for c in flagged}
    got = received.assign(received_date=pd.to_datetime(received["received_date"]).dt.date)
    frames = []
    for it in policy.submissions.items:
        deadline = policy.date(it.deadline, as_of.year)
        start = _window_start(it.applies_to, policy, as_of.year)
        owe = unis if it.applies_to == "all" else unis[unis["university_code"].isin(flagged)]
        r = got[
            (got["item"] == it.item)
            & (got["received_date"] >= start)
            & (got["received_date"] <= as_of)
        ]
        first = r.groupby("university_code", observed=True)["received_date"].min()
        frame = owe.assign(item=it.item, deadline=deadline)
        frame["received_date"] = frame["university_code"].map(first)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    has = out["received_date"].notna().to_numpy()
    late = np.array(
        [
            (r - dl).days if isinstance(r, dt.date) else 0
            for r, dl in zip(out["received_date"], out["deadline"], strict=True)
        ],
        dtype=np.int64,
    )
    overdue = np.array([(as_of - dl).days for dl in out["deadline"]], dtype=np.int64)
    status = np.select(
        [has & (late <= 0), has, overdue > 0], list(STATUSES[:3]), default=STATUSES[3]
    )
    out["submission_status"] = pd.array(status, dtype="string")
    out["days_late"] = np.where(has, np.maximum(late, 0), np.maximum(overdue, 0)).astype(np.int64)
    out["item"] = out["item"].astype("string")
    order = {it.item: i for i, it in enumerate(policy.submissions.items)}
    out["_o"] = out["item"].map(order)
    out = out.sort_values(["_o", "university_code"], ignore_index=True).drop(columns="_o")
    return out[list(COLUMNS)]


def status_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Per item: universities owing it and how many are on time / late / missing / not yet due."""
    counts = (
        status.groupby(["item", "submission_status"], observed=True, sort=False)
        .size()
        .unstack("submission_status", fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    counts.columns = [
        "submitted_on_time",
        "submitted_late",
        "not_submitted_overdue",
        "not_submitted_not_due",
    ]
    counts.insert(0, "owing_universities", counts.sum(axis=1))
    return counts.reset_index()


register_headers(
    {
        "item": "报送事项",
        "deadline": "报送截止日期",
        "received_date": "报送日期",
        "submission_status": "报送状态",
        "days_late": "逾期天数",
        "owing_universities": "应报送高校数",
        "submitted_on_time": "按期报送",
        "submitted_late": "逾期报送",
        "not_submitted_overdue": "未报送（已逾期）",
        "not_submitted_not_due": "未报送（未到截止日期）",
    }
)
register_table_titles({"submissions_status": "报送情况", "submissions_summary": "报送情况汇总"})


def load_receipts(data_dir, as_of: dt.date) -> pd.DataFrame:
    """:func:`receipts` of a reporting date's processed ``submissions`` and old-style
    ``adjustment_plans`` (either may be missing: no register sent yet)."""
    from helpers import load

    frames = {}
    for name in ("submissions", "adjustment_plans"):
        try:
            frames[name] = load.load_dataset(data_dir, as_of, name)
        except load.MissingDataError:
            frames[name] = None
    return receipts(frames["submissions"], frames["adjustment_plans"])


def plan_receipts(received: pd.DataFrame) -> pd.DataFrame:
    """The receipts of 调整改革实施方案 (university_code, received_date), as
    :func:`helpers.majors.major_evidence` takes them."""
    plans = received.loc[received["item"] == PLAN_ITEM, ["university_code", "received_date"]]
    return plans.reset_index(drop=True)


def flagged_universities(history: pd.DataFrame, as_of: dt.date, policy: Policy) -> set[str]:
    """Universities with 专业点 on the list whose adjustment plans fall due in the year of
    ``as_of`` (:func:`helpers.majors.plan_cohort`; evidence levels of
    :data:`helpers.majors.FLAGGED_LEVELS`). ``history``: graduates history with
    :data:`helpers.majors.HISTORY_COLUMNS`."""
    from helpers import majors

    points, _ = majors.cohort_points(history, majors.plan_cohort(as_of), policy)
    flagged = points.loc[points["evidence_level"].isin(majors.FLAGGED_LEVELS), "university_code"]
    return {str(c) for c in flagged.unique()}


def summary_sentence(counts: pd.DataFrame) -> str:
    """One sentence of counts per item (numbers only: no name reaches the text)."""
    parts = []
    for _, r in counts.iterrows():
        part = (
            f"{r['item']}应报送{int(r['owing_universities'])}所，按期报送"
            f"{int(r['submitted_on_time'])}所、逾期报送{int(r['submitted_late'])}所、"
            f"逾期未报送{int(r['not_submitted_overdue'])}所"
        )
        if r["not_submitted_not_due"]:
            part += f"、尚未到截止日期未报送{int(r['not_submitted_not_due'])}所"
        parts.append(part)
    return "；".join(parts) + "。" if parts else "本期没有应报送的材料。"
