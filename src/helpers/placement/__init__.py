"""Placement-rate analyses (毕业去向落实率): pure, vectorised aggregations of processed graduates.

Inputs are the processed frames of :mod:`helpers.load` (columns of
``helpers.datasets.PROCESSED_COLUMNS["graduates"]``), the universities reference and the policy
(:func:`helpers.config.policy_for_date`). Outputs are small aggregate frames whose columns follow
the data contract §5 (rates are fractions in [0, 1]); the notebook writes them with
:func:`helpers.tables.write_table`.

Definitions (``docs/background/methods.md`` §1.5, ``docs/background/domain.md`` §1.3):

- only rows with ``in_denominator`` count (结业/肄业 are left out per policy);
- rate = placed / graduates, pooled (Σplaced / Σgraduates) for every aggregate, with a Wilson
  interval at ``policy.statistics.confidence``;
- coverage = share of graduates with any recorded destination (``destination_known``);
- the policy line is ``policy.placement.provincial_average`` (the previous cohort's provincial
  average), shown beside the pooled provincial rate of the current snapshot.

University mode: functions taking ``university`` return that university's rows next to the
province's aggregate (``university_code == "ALL"``), never other universities' rows.

One module per concept (the names are re-exported here, so ``from helpers.placement import X``
and ``helpers.placement.X`` work for every public name):
:mod:`~helpers.placement.aggregate` (rows counted, :func:`rate_table`, the memo),
:mod:`~helpers.placement.progress` (snapshot counts, headline, progress, movers),
:mod:`~helpers.placement.universities` (by university and funnel, names, university mode),
:mod:`~helpers.placement.categories` (by level, discipline, category, department, 专业点 — the
latter through :func:`helpers.majors.point_rates` — and the destination mix),
:mod:`~helpers.placement.groups` (groups in difficulty), :mod:`~helpers.placement.signals`
(warning signals) and :mod:`~helpers.placement.text` (Chinese sentences and chart labels).
"""

from __future__ import annotations

from helpers.placement.aggregate import (
    ALL,
    CURRENT_COLUMNS,
    HISTORY_COLUMNS,
    MEMO,
    NOT_RECORDED,
    PROVINCE_NAME,
    SOURCE_ATTR,
    UNIVERSITY_COLUMNS,
    add_rates,
    clear_memo,
    current_cohort,
    rate_table,
)
from helpers.placement.categories import (
    RULE_LABELS,
    RULES,
    by_category,
    by_department,
    by_discipline,
    by_level,
    by_major,
    destination_mix,
    evidence_counts,
)
from helpers.placement.groups import by_group, group_order, protect_groups
from helpers.placement.progress import (
    headline,
    movers,
    progress,
    progress_series,
    snapshot_counts,
)
from helpers.placement.signals import (
    FLAG_LEVELS,
    JUMP_SIGNAL,
    SIGNALS,
    jump_signals,
    jump_snapshots,
    share_signals,
    warning_signals,
)
from helpers.placement.text import (
    funnel_position_text,
    funnel_text,
    headline_text,
    label_dates,
    scoped_labels,
    side_by_side,
)
from helpers.placement.universities import (
    by_university,
    check_university,
    overdispersion_table,
    university_name,
    university_row,
    with_names,
)

__all__ = [
    "ALL",
    "CURRENT_COLUMNS",
    "FLAG_LEVELS",
    "HISTORY_COLUMNS",
    "JUMP_SIGNAL",
    "MEMO",
    "NOT_RECORDED",
    "PROVINCE_NAME",
    "RULES",
    "RULE_LABELS",
    "SIGNALS",
    "SOURCE_ATTR",
    "UNIVERSITY_COLUMNS",
    "add_rates",
    "by_category",
    "by_department",
    "by_discipline",
    "by_group",
    "by_level",
    "by_major",
    "by_university",
    "check_university",
    "clear_memo",
    "current_cohort",
    "destination_mix",
    "evidence_counts",
    "funnel_position_text",
    "funnel_text",
    "group_order",
    "headline",
    "headline_text",
    "jump_signals",
    "jump_snapshots",
    "label_dates",
    "movers",
    "overdispersion_table",
    "progress",
    "progress_series",
    "protect_groups",
    "rate_table",
    "scoped_labels",
    "share_signals",
    "side_by_side",
    "snapshot_counts",
    "university_name",
    "university_row",
    "warning_signals",
    "with_names",
]
