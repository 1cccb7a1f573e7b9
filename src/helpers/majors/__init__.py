"""学科专业点 (university, level, major) evidence for the major-adjustment list (notice §六).

A 专业点 is one major at one education level of one university. The notice asks every university
with 专业点 whose initial placement rate (初次毕业去向落实率, the 08-31 snapshot) is below 50% to send an
adjustment plan by 1 April of the following year. Everything here is pure: processed graduates
frames (``helpers.load.load_graduate_history``) and the policy in, small aggregate frames out.

One module per concept, in the order a report uses them (the names are re-exported here, so
``from helpers.majors import X`` and ``helpers.majors.X`` work for every public name):

- :mod:`~helpers.majors.snapshots`: which cohort is under review and which snapshot gives its
  initial rate (:func:`review_snapshot`);
- :mod:`~helpers.majors.points`: :func:`point_rates`, graduates, placed, rate, Wilson interval and
  evidence level per point: the one 专业点-rate function, also behind the placement report's
  by-major table;
- :mod:`~helpers.majors.evidence`: :func:`evidence_level` and :func:`evidence_summary`;
- :mod:`~helpers.majors.trend`: :func:`cohort_trend` / :func:`trend_flags`, the same point in
  earlier cohorts, consecutive years below;
- :mod:`~helpers.majors.peers`: :func:`peer_comparison`, the same major at the *other*
  universities, pooled (never one university);
- :mod:`~helpers.majors.eb`: :func:`fit_beta_binomial`, :func:`eb_priors`, :func:`eb_estimates`:
  beta-binomial empirical Bayes per discipline for ranking and steadier small points (raw rates
  stay the official figures);
- :mod:`~helpers.majors.mix`: :func:`destination_mix`, where the graduates of a point went;
- :mod:`~helpers.majors.plans`: :func:`adjustment_plan_status`, universities with flagged points vs
  plans received and the deadline;
- :mod:`~helpers.majors.report`: :func:`major_evidence`, all of it for a reporting date, and one
  report's tables; :mod:`~helpers.majors.text`: the report's Chinese paragraphs and labels;
  :mod:`~helpers.majors.headers`: Chinese headers and table titles.
"""

from __future__ import annotations

from helpers.majors.eb import (
    DISCIPLINE_KEYS,
    MIN_POINTS_FOR_PRIOR,
    BetaPrior,
    eb_estimates,
    eb_priors,
    fit_beta_binomial,
)
from helpers.majors.evidence import (
    EVIDENCE_LABELS,
    EVIDENCE_LEVELS,
    FLAGGED_LEVELS,
    evidence_level,
    evidence_summary,
)
from helpers.majors.headers import RATE_COLUMNS, TABLE_TITLES, ZH_HEADERS
from helpers.majors.mix import MIX_CATEGORIES, UNPLACED_MIX, destination_mix
from helpers.majors.peers import MIN_PEER_POINTS, PEER_KEYS, PEER_VERDICTS, peer_comparison
from helpers.majors.plans import (
    PLAN_STATUSES,
    adjustment_plan_status,
    cohort_points,
    plan_cohort,
    plan_deadline,
)
from helpers.majors.points import NOT_RECORDED, POINT_KEYS, UNKNOWN_DISCIPLINE, point_rates
from helpers.majors.report import (
    FLAGGED_TABLE_COLUMNS,
    HISTORY_COLUMNS,
    PEER_TABLE_COLUMNS,
    POINT_TABLE_COLUMNS,
    SUMMARY_TABLE_COLUMNS,
    TREND_TABLE_COLUMNS,
    MajorEvidence,
    for_university,
    major_evidence,
)
from helpers.majors.snapshots import (
    ReviewSnapshot,
    available_snapshots,
    review_snapshot,
    snapshot_rows,
)
from helpers.majors.text import overview_text, plan_text, point_labels
from helpers.majors.trend import cohort_trend, trend_flags, trend_snapshots

__all__ = [
    "DISCIPLINE_KEYS",
    "EVIDENCE_LABELS",
    "EVIDENCE_LEVELS",
    "FLAGGED_LEVELS",
    "FLAGGED_TABLE_COLUMNS",
    "HISTORY_COLUMNS",
    "MIN_PEER_POINTS",
    "MIN_POINTS_FOR_PRIOR",
    "MIX_CATEGORIES",
    "NOT_RECORDED",
    "PEER_KEYS",
    "PEER_TABLE_COLUMNS",
    "PEER_VERDICTS",
    "PLAN_STATUSES",
    "POINT_KEYS",
    "POINT_TABLE_COLUMNS",
    "RATE_COLUMNS",
    "SUMMARY_TABLE_COLUMNS",
    "TABLE_TITLES",
    "TREND_TABLE_COLUMNS",
    "UNKNOWN_DISCIPLINE",
    "UNPLACED_MIX",
    "ZH_HEADERS",
    "BetaPrior",
    "MajorEvidence",
    "ReviewSnapshot",
    "adjustment_plan_status",
    "available_snapshots",
    "cohort_points",
    "cohort_trend",
    "destination_mix",
    "eb_estimates",
    "eb_priors",
    "evidence_level",
    "evidence_summary",
    "fit_beta_binomial",
    "for_university",
    "major_evidence",
    "overview_text",
    "peer_comparison",
    "plan_cohort",
    "plan_deadline",
    "plan_text",
    "point_labels",
    "point_rates",
    "review_snapshot",
    "snapshot_rows",
    "trend_flags",
    "trend_snapshots",
]
