"""The whole major evidence of a reporting date (:func:`major_evidence`), computed once for the
province, and one report's tables of it (:meth:`MajorEvidence.tables`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.majors.eb import DISCIPLINE_KEYS, eb_estimates, eb_priors
from helpers.majors.evidence import EVIDENCE_LEVELS, FLAGGED_LEVELS, evidence_summary
from helpers.majors.mix import MIX_CATEGORIES, destination_mix
from helpers.majors.peers import peer_comparison
from helpers.majors.plans import (
    adjustment_plan_status,
    cohort_points,
    plan_cohort,
    plan_deadline,
)
from helpers.majors.points import POINT_KEYS, point_rates
from helpers.majors.snapshots import (
    ReviewSnapshot,
    available_snapshots,
    cohort_snapshot,
    review_snapshot,
    snapshot_mask,
    snapshot_rows,
)
from helpers.majors.trend import cohort_trend, trend_flags, trend_snapshots


def for_university(df: pd.DataFrame, university: str | None) -> pd.DataFrame:
    """Rows of one university (all rows when ``university`` is None)."""
    if university is None:
        return df
    return df[df["university_code"] == university].reset_index(drop=True)


# Columns of the graduates history the evidence needs (load only these).
HISTORY_COLUMNS = [
    "university_code",
    "cohort",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "in_denominator",
    "placed",
    "destination_code",
    "bucket_2024",
    "snapshot_date",
]
POINT_TABLE_COLUMNS = (
    "university_code",
    "university_name",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "cohort",
    "snapshot_date",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "evidence_level",
    "evidence_label",
    "eb_rate",
    "eb_low",
    "eb_high",
    "eb_prob_below",
    "previous_cohort_graduates",
    "previous_cohort_rate",
    "cohorts_below",
    "consecutive_below",
    "below_two_consecutive",
    "two_cohort_rate",
    "two_cohort_ci_high",
    "two_cohort_confirmed",
    "peer_points",
    "peer_rate",
    "peer_verdict",
)
FLAGGED_TABLE_COLUMNS = (
    "university_code",
    "university_name",
    "education_level",
    "major_code",
    "major_name",
    "discipline_name",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "evidence_level",
    "evidence_label",
    "eb_rate",
    "eb_prob_below",
    "previous_cohort_rate",
    "below_two_consecutive",
    "two_cohort_rate",
    "two_cohort_confirmed",
    "peer_rate",
    "peer_verdict",
    *MIX_CATEGORIES.values(),
    "main_unplaced",
)
PEER_TABLE_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "graduates",
    "placement_rate",
    "evidence_level",
    "peer_points",
    "peer_graduates",
    "peer_placed",
    "peer_rate",
    "peer_ci_low",
    "peer_ci_high",
    "gap_to_peers",
    "peer_verdict",
    "suppressed",
)
TREND_TABLE_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "cohort",
    "snapshot_date",
    "is_initial",
    "graduates",
    "placed",
    "placement_rate",
    "ci_low",
    "ci_high",
    "below_threshold",
)
SUMMARY_TABLE_COLUMNS = (
    "scope",
    "university_code",
    "university_name",
    "education_level",
    "discipline_code",
    "discipline_name",
    "points",
    *EVIDENCE_LEVELS,
    "flagged_points",
    "watch",
    "flagged_graduates",
)


@dataclass(frozen=True)
class MajorEvidence:
    """Everything the major-evidence report shows, computed once for the whole province.

    ``points``: one row per 专业点 of the cohort under review with rates, evidence, empirical-Bayes
    estimate, trend flags, peer figures and destination mix; ``trend``: the same points and their
    earlier cohorts (long); ``priors``: the beta prior per discipline; ``plan_status``: universities
    with flagged points vs their adjustment plans. Use :meth:`tables` for one report's tables.
    """

    as_of: dt.date
    review: ReviewSnapshot
    deadline: dt.date
    points: pd.DataFrame
    trend: pd.DataFrame
    priors: pd.DataFrame
    plan_status: pd.DataFrame
    plan_cohort: int
    plan_deadline: dt.date
    plan_snapshot: dt.date | None
    universities: pd.DataFrame

    def check_university(self, university: str | int | None) -> str | None:
        """The 院校代码 as text (an analyst may type 10386 as a number); a clear error when it is
        not in the universities reference."""
        if university is None:
            return None
        code = str(university).strip()
        if code not in set(self.universities["university_code"]):
            raise ValueError(
                f"院校代码 {code!r} 不在院校名单中 (university {code!r} is not in the "
                "universities reference of this reporting date)"
            )
        return code

    def university_name(self, university: str) -> str:
        self.check_university(university)
        names = self.universities.set_index("university_code")["university_name"]
        return str(names[university])

    def tables(
        self, university: str | None = None, names: tuple[str, ...] | None = None
    ) -> dict[str, pd.DataFrame]:
        """The report's tables (name -> frame), restricted to one university's own points when
        ``university`` is given: peers stay pooled, the summary covers its own points only.
        ``names``: only these tables (a letter needs three of seven; the summary is the costly
        one)."""
        self.check_university(university)
        pts = for_university(self.points, university)
        makers = {
            "major_points": lambda: pts.sort_values(list(POINT_KEYS)).reset_index(drop=True)[
                list(POINT_TABLE_COLUMNS)
            ],
            "major_flagged": lambda: _flagged(pts),
            "major_trend": lambda: (
                self.trend.merge(pts[list(POINT_KEYS)], on=list(POINT_KEYS), how="inner")
                .sort_values([*POINT_KEYS, "cohort"])
                .reset_index(drop=True)[list(TREND_TABLE_COLUMNS)]
            ),
            "major_peers": lambda: pts.sort_values(list(POINT_KEYS)).reset_index(drop=True)[
                list(PEER_TABLE_COLUMNS)
            ],
            "major_eb_priors": lambda: (
                self.priors.merge(
                    pts[list(DISCIPLINE_KEYS)].drop_duplicates(), on=list(DISCIPLINE_KEYS)
                ).drop(columns=["converged"])
                if university is not None
                else self.priors.drop(columns=["converged"])
            ),
            "major_summary": lambda: self._summary(pts, university),
            "adjustment_plan_status": lambda: for_university(self.plan_status, university),
        }
        unknown = set(names or ()) - set(makers)
        if unknown:
            raise ValueError(f"no major_evidence tables named {sorted(unknown)}")
        return {n: make() for n, make in makers.items() if names is None or n in names}

    def _summary(self, pts: pd.DataFrame, university: str | None) -> pd.DataFrame:
        by = [
            ("学历层次", ["education_level"]),
            ("学科", ["education_level", "discipline_code", "discipline_name"]),
        ]
        if university is None:
            by.append(("院校", ["university_code", "university_name"]))
        threshold = float(self.points.attrs.get("threshold", np.nan))
        total = evidence_summary(
            pts.assign(scope="全省" if university is None else "本校"), ["scope"], threshold
        )
        parts = [total]
        for scope, keys in by:
            parts.append(evidence_summary(pts, keys, threshold).assign(scope=scope))
        summary = pd.concat(parts, ignore_index=True).reindex(columns=list(SUMMARY_TABLE_COLUMNS))
        if university is not None:
            summary["university_code"] = university
            summary["university_name"] = self.university_name(university)
        return summary


def _flagged(pts: pd.DataFrame) -> pd.DataFrame:
    flagged = pts[pts["evidence_level"].isin(FLAGGED_LEVELS)]
    flagged = flagged.sort_values(["eb_rate", "placement_rate"], kind="stable")
    return flagged.reset_index(drop=True)[list(FLAGGED_TABLE_COLUMNS)]


# text columns grouped on: dictionary-encoded once per report (grouping on codes is much faster
# than on Arrow strings at province scale); aggregates get plain strings back
CODED_COLUMNS = (
    "university_code",
    "education_level",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "destination_code",
)


def needed_rows(
    history: pd.DataFrame, snapshots: pd.DataFrame, review: ReviewSnapshot, as_of: dt.date, policy
) -> pd.DataFrame:
    """Only the snapshots the evidence uses (the trend cohorts at their initial snapshots and the
    cohort of the plan tracking), with the grouped text columns dictionary-encoded first (so the
    row selection moves integer codes, not strings)."""
    chosen = trend_snapshots(snapshots, review, policy)
    pairs = list(zip(chosen["cohort"], chosen["snapshot_date"], strict=True))
    t_cohort = plan_cohort(as_of)
    if t_cohort not in set(chosen["cohort"]):
        dates = sorted(snapshots.loc[snapshots["cohort"] == t_cohort, "snapshot_date"])
        if dates:
            initial = policy.date(policy.placement.initial_snapshot, t_cohort)
            pairs.append((t_cohort, cohort_snapshot(dates, initial)[0]))
    coded = {c: history[c].astype("category") for c in CODED_COLUMNS if c in history.columns}
    history = history.assign(**coded)
    return history[snapshot_mask(history, pairs)]


def major_evidence(
    history: pd.DataFrame,
    universities: pd.DataFrame,
    plans: pd.DataFrame | None,
    as_of: dt.date,
    policy,
) -> MajorEvidence:
    """Compute the evidence of a reporting date from the graduates history (every snapshot up to
    ``as_of``, :func:`helpers.load.load_graduate_history`), the universities reference (codes and
    names) and the adjustment plans received (None when the reference file is absent: no plans).

    The evidence covers the whole province whichever report asks; a history read by
    :mod:`helpers.load` is computed once per process and reused (:mod:`helpers.memo`: keyed by
    the files read, the reference tables, ``as_of`` and the policy; callers get copies).
    """
    from helpers import memo

    key = memo.key(
        "major_evidence",
        history,
        memo.frame_token(universities),
        memo.frame_token(plans),
        as_of,
        policy,
    )
    return memo.named("major_evidence", maxsize=4).get(
        key, lambda: _major_evidence(history, universities, plans, as_of, policy)
    )


def _major_evidence(
    history: pd.DataFrame,
    universities: pd.DataFrame,
    plans: pd.DataFrame | None,
    as_of: dt.date,
    policy,
) -> MajorEvidence:
    """:func:`major_evidence` without the memo."""
    snapshots = available_snapshots(history)
    review = review_snapshot(snapshots, as_of, policy)
    history = needed_rows(history, snapshots, review, as_of, policy)
    rows = snapshot_rows(history, review.cohort, review.snapshot_date)
    points = point_rates(rows, policy)
    points["snapshot_date"] = review.snapshot_date
    names = universities[["university_code", "university_name"]].drop_duplicates("university_code")
    unknown = sorted(set(points["university_code"]) - set(names["university_code"]))
    if unknown:
        raise ValueError(f"院校名单中没有这些院校代码 (universities reference lacks): {unknown}")
    points = points.merge(names, on="university_code", how="left")
    priors = eb_priors(points)
    points = eb_estimates(points, priors, policy)
    trend = cohort_trend(history, review, policy, snapshots)
    flags = trend_flags(trend, review.cohort, policy)
    points = points.merge(flags, on=list(POINT_KEYS), how="left")
    peers = peer_comparison(points, policy)
    # the peer columns of the peer table, in its order
    peer_cols = list(PEER_TABLE_COLUMNS[PEER_TABLE_COLUMNS.index("peer_points") :])
    points = pd.concat([points.reset_index(drop=True), peers[peer_cols]], axis=1)
    points = points.merge(destination_mix(rows), on=list(POINT_KEYS), how="left")
    points.attrs["threshold"] = policy.majors.threshold
    plan_frame = (
        plans
        if plans is not None
        else pd.DataFrame(
            {
                "university_code": pd.Series(dtype="string"),
                "received_date": pd.Series(dtype="datetime64[ms]"),
            }
        )
    )
    t_cohort = plan_cohort(as_of)
    if t_cohort == review.cohort:
        t_points, t_snapshot = points, review.snapshot_date
    else:
        t_points, t_snapshot = cohort_points(history, t_cohort, policy, snapshots)
    status = adjustment_plan_status(t_points, plan_frame, t_cohort, as_of, policy)
    status = status.merge(names, on="university_code", how="left")
    status = status[
        [
            "university_code",
            "university_name",
            *[c for c in status.columns if c not in ("university_code", "university_name")],
        ]
    ]
    return MajorEvidence(
        as_of,
        review,
        plan_deadline(review.cohort, policy),
        points,
        trend,
        priors,
        status,
        t_cohort,
        plan_deadline(t_cohort, policy),
        t_snapshot,
        names,
    )
