"""学科专业点 (university, level, major) evidence for the major-adjustment list."""

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


def evidence_level(graduates, placement_rate, ci_high, threshold: float, min_graduates: int) -> pd.Series:
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
    return pd.Series(pd.Categorical(level, categories=EVIDENCE_LEVELS), index=index, name="evidence_level")
