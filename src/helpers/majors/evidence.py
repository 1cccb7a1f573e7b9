"""Evidence levels of 专业点: the three-level judgement against the threshold and its summaries.

``insufficient`` (too few graduates to judge), ``below_confident`` (the Wilson upper limit is below
the threshold), ``below_point`` (the rate is below, the interval reaches it), ``not_below``
(``docs/background/methods.md``: major flag). Used by both reports (:mod:`helpers.majors.points`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EVIDENCE_LEVELS = ("insufficient", "below_confident", "below_point", "not_below")
EVIDENCE_LABELS = {
    "insufficient": "人数不足",
    "below_confident": "确定低于阈值",
    "below_point": "点估计低于阈值",
    "not_below": "未低于阈值",
}
# Evidence levels that put a point on the department's list (rate below the threshold and enough
# graduates to judge); `below_confident` is the stronger of the two.
FLAGGED_LEVELS = ("below_confident", "below_point")


def evidence_level(
    graduates, placement_rate, ci_high, threshold: float, min_graduates: int
) -> pd.Series:
    """Evidence level of each 专业点 (vectorised).

    ``insufficient``: fewer graduates than ``min_graduates``; ``below_confident``: the upper
    confidence limit is below the threshold; ``below_point``: the rate is below the threshold but
    the interval reaches it; ``not_below`` otherwise.
    """
    n = np.asarray(graduates, dtype=float)
    rate = np.asarray(placement_rate, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    level = np.select(
        [n < min_graduates, hi < threshold, rate < threshold],
        ["insufficient", "below_confident", "below_point"],
        default="not_below",
    )
    index = graduates.index if isinstance(graduates, pd.Series) else None
    return pd.Series(
        pd.Categorical(level, categories=EVIDENCE_LEVELS), index=index, name="evidence_level"
    )


def evidence_summary(points: pd.DataFrame, by: list[str], threshold: float) -> pd.DataFrame:
    """Points per evidence level for each group of ``by`` (plus points, flagged, watch and the
    graduates of flagged points). ``watch``: too few graduates to judge but a rate below the
    threshold."""
    levels = points["evidence_level"].astype(pd.CategoricalDtype(EVIDENCE_LEVELS))
    flagged = levels.isin(FLAGGED_LEVELS)
    frame = points.assign(
        _lvl=levels,
        _flag=flagged.astype(np.int64),
        _watch=((levels == "insufficient") & (points["placement_rate"] < threshold)).astype(
            np.int64
        ),
        _fgrad=points["graduates"].where(flagged, 0),
    )
    counts = (
        frame.groupby([*by, "_lvl"], observed=True, dropna=False)
        .size()
        .unstack("_lvl", fill_value=0)
        .reindex(columns=list(EVIDENCE_LEVELS), fill_value=0)
    )
    counts.columns = [str(c) for c in counts.columns]
    extra = frame.groupby(by, observed=True, dropna=False).agg(
        points=("_lvl", "size"),
        flagged_points=("_flag", "sum"),
        watch=("_watch", "sum"),
        flagged_graduates=("_fgrad", "sum"),
    )
    out = extra.join(counts).reset_index()
    return out[[*by, "points", *EVIDENCE_LEVELS, "flagged_points", "watch", "flagged_graduates"]]
