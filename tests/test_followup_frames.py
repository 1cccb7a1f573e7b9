"""Builders of small processed-shaped frames for the follow-up tests (no tests here).

Columns and dtypes follow helpers.datasets.PROCESSED_COLUMNS.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd

from helpers.codes import GROUP_COLUMNS
from helpers.datasets import PROCESSED_COLUMNS


def typed(name: str, rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """A frame with every processed column of ``name`` (missing ones filled with NA/defaults)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    spec = PROCESSED_COLUMNS[name]
    for col, dtype in spec.items():
        if col not in df.columns:
            if dtype == "bool":
                df[col] = False
            elif col == "source_file":
                df[col] = f"{name}.xlsx"
            elif col == "source_row":
                df[col] = np.arange(2, len(df) + 2)
            else:
                df[col] = pd.NA
        if dtype == "bool":
            df[col] = df[col].astype("boolean").fillna(False).astype(bool)
        elif dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col]).astype(dtype)
        elif dtype == "category":
            df[col] = df[col].astype("category")
        else:
            df[col] = df[col].astype(dtype)
    return df[list(spec)]


def universities(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return typed(
        "universities",
        [
            {
                "university_code": c,
                "university_name": n,
                "baseline_rate": np.nan if b is None else b,
                "university_id": "41350" + c,
            }
            for c, n, b in rows
        ],
    )


def graduates(spec: list[dict], snapshot: str = "2023-08-31", cohort: int = 2023) -> pd.DataFrame:
    """``spec``: dicts with university_code, n, placed, optional group (label), willing (bool or
    None), in_denominator (default True). Each dict expands to n graduates of whom ``placed``
    are placed."""
    rows = []
    k = 0
    for item in spec:
        for i in range(item["n"]):
            k += 1
            row = {
                "student_key": item.get("key_prefix", "s") + f"{k:06d}",
                "university_code": item["university_code"],
                "cohort": cohort,
                "education_level": "本科",
                "graduation_status": "毕业",
                "in_denominator": item.get("in_denominator", True),
                "major_code": "080901",
                "major_name": "计算机科学与技术",
                "placed": i < item["placed"],
                "destination_known": True,
                "destination_code": "10" if i < item["placed"] else "70",
                "snapshot_date": snapshot,
                "willing_to_work": item.get("willing"),
            }
            for g in item.get("groups", [item["group"]] if "group" in item else []):
                row[GROUP_COLUMNS[g]] = True
            rows.append(row)
    df = typed("graduates", rows)
    return df


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


@functools.lru_cache(maxsize=4)
def scenario(as_of: dt.date = dt.date(2023, 8, 31), policy=None) -> dict:
    """(Cached: do not modify the frames.) A small province with one case of every 约谈 reason, run through every helper the
    notebooks use. University 12345 lags everywhere; 10386 is fine except a small 零就业 group;
    13000 is fine everywhere except the platform."""
    from helpers.config import load_policy
    from helpers.followup import assistance as A
    from helpers.followup import interviews as I
    from helpers.followup import platform as P
    from helpers.followup import recruitment as R
    from helpers.followup import visits as V
    from helpers.followup.common import attach_names, university_placement

    policy = policy or load_policy(2023)
    uni = universities(
        [("10386", "福州大学", 0.80), ("12345", "甲职业学院", 0.65), ("13000", "乙学院", 0.60)]
    )
    year = as_of.year

    def grads(day, low_placed):
        return graduates(
            [
                dict(university_code="10386", n=300, placed=255),
                dict(university_code="10386", n=30, placed=27, group="脱贫家庭"),
                dict(university_code="10386", n=3, placed=2, group="零就业家庭"),
                dict(university_code="12345", n=200, placed=110),
                dict(university_code="12345", n=40, placed=low_placed, group="低保家庭"),
                dict(university_code="12345", n=6, placed=4, group="残疾", willing=True),
                dict(university_code="13000", n=150, placed=120),
                dict(university_code="13000", n=12, placed=11, group="脱贫家庭"),
            ],
            snapshot=day,
            cohort=year,
        )

    history = pd.concat(
        [grads(f"{year}-06-30", 8), grads(as_of.isoformat(), 16)], ignore_index=True
    )
    current = history.loc[history["snapshot_date"] == pd.Timestamp(as_of)]
    keys = current.loc[current["group_poverty_alleviated"], "student_key"].tolist()
    help_ = [
        dict(
            student_key=k,
            university_code="10386" if i < 30 else "13000",
            help_type=t,
            help_date=f"{year}-05-01",
            helper_key=f"h{j}",
        )
        for i, k in enumerate(keys)
        for t in ("谈心谈话", "就业促进活动", "岗位推荐")
        for j in range(3)
    ]
    rec = typed(
        "recruitment",
        [
            dict(
                university_code=c,
                window_start=f"{year}-08-14",
                window_end=f"{year}-08-27",
                activity_type="双选会",
                events=e,
                employers=40,
                positions=600,
                student_visits=800,
            )
            for c, e in (("10386", 2), ("13000", 1))
        ],
    )
    vis = typed(
        "visits",
        [
            dict(
                university_code=c,
                visit_date=f"{year}-03-01",
                visitor_role="校长",
                employer_name=f"{c}单位{i}",
                employer_credit_code=None,
                new_employer=True,
                positions=2,
                visitor_key="v",
            )
            for c, n in (("10386", 150), ("12345", 20), ("13000", 150))
            for i in range(n)
        ],
    )
    plat = typed(
        "platform",
        [
            dict(
                university_code=c,
                stat_date=as_of.isoformat(),
                graduates=g,
                platform_followers=f,
                counsellors=10,
                counsellors_bound=b,
                registered=r,
            )
            for c, g, f, b, r in (
                ("10386", 333, 320, 10, 330),
                ("12345", 246, 150, 9, 200),
                ("13000", 162, 150, 8, 160),
            )
        ],
    )

    assigned = R.assign_windows(rec, policy, as_of)
    by_window = R.recruitment_by_window(assigned, uni, policy, as_of)
    prepared = V.prepare_visits(vis, policy, as_of)
    visits = V.visits_progress(prepared, uni, policy, as_of)
    platform = P.platform_progress(plat, uni, policy, as_of)
    placement = university_placement(current, uni, policy)
    members = A.group_members(current, policy.assistance.groups)
    counts, _ = A.help_counts(typed("assistance", help_), as_of)
    per_graduate = A.compliance_per_graduate(members, counts, policy)
    groups = A.protect(attach_names(A.group_rates(current, policy), uni), policy)
    compliance = A.protect(
        attach_names(A.assistance_compliance(members, per_graduate), uni),
        policy,
        placed_col="compliant_3x3",
        rate_cols=("compliance_rate",),
    )
    zero = A.protect(attach_names(A.all_placed_check(current, policy), uni), policy)
    willing = A.protect(attach_names(A.willing_check(current, policy), uni), policy)
    gaps = A.protect_checkpoints(
        attach_names(A.checkpoint_gaps(history, policy, as_of, year), uni), policy
    )
    interviews = I.interview_list(
        uni,
        policy,
        as_of,
        placement=placement,
        gaps_protected=gaps,
        zero_protected=zero,
        platform=platform,
        visits=visits,
    )
    return dict(
        policy=policy,
        universities=uni,
        history=history,
        graduates=current,
        assigned=assigned,
        by_window=by_window,
        by_type=R.recruitment_by_type(assigned),
        prepared=prepared,
        visits=visits,
        platform=platform,
        placement=placement,
        members=members,
        per_graduate=per_graduate,
        groups=groups,
        compliance=compliance,
        zero=zero,
        willing=willing,
        gaps=gaps,
        interviews=interviews,
        as_of=as_of,
    )
