"""The same major at the other universities of the province, pooled ("is it the major or the
school?"), never one other university's figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.majors.points import NOT_RECORDED, POINT_KEYS
from helpers.rates import placement_rate, wilson_interval

PEER_KEYS = ("education_level", "major_code")

# A pooled figure of fewer than two other universities would show one university's point (a
# "pool" of one is that point): peer figures need at least this many other points.
MIN_PEER_POINTS = 2

# "Is it the major or the school?" for a point below the threshold, from the pooled rate of the
# same major at the other universities.
PEER_VERDICTS = {
    "major": "同专业全省普遍偏低（专业因素）",
    "school": "明显低于省内同专业（学校因素）",
    "unclear": "与省内同专业的差异在误差范围内",
}


def peer_comparison(
    points: pd.DataFrame, policy, min_peer_points: int = MIN_PEER_POINTS
) -> pd.DataFrame:
    """The same major (code and level) at the OTHER universities of the province, pooled.

    Per point: ``peer_points`` (other points with graduates), their pooled graduates, placed, rate
    and Wilson interval, ``gap_to_peers`` and a verdict ("is it the major or the school?"). With
    fewer than ``min_peer_points`` other points the pooled figures would show another university's
    point: they are left empty and ``suppressed`` says why. A point whose major code or level is
    未填报 is no peer of anything (an unknown major is not the same major elsewhere). ``points``
    must hold every point of the province for one cohort (from :func:`point_rates`), also in a
    university's report.
    """
    if points["cohort"].nunique() > 1:
        raise ValueError("peer_comparison expects the points of one cohort")
    keys = list(PEER_KEYS)
    unknown = points[keys].isin([NOT_RECORDED]).any(axis=1)
    has = (points["graduates"] > 0) & ~unknown
    n = points["graduates"].where(~unknown, 0)
    x = points["placed"].where(~unknown, 0)
    totals = (
        points.assign(_has=has.astype(np.int64), _gn=n, _gx=x)
        .groupby(keys, observed=True)
        .agg(_pts=("_has", "sum"), _n=("_gn", "sum"), _x=("_gx", "sum"))
    )
    joined = points.join(totals, on=keys)
    peer_points = joined["_pts"] - has.astype(np.int64)
    peer_n = (joined["_n"] - n).astype(float)
    peer_x = (joined["_x"] - x).astype(float)
    shown = (peer_points >= min_peer_points) & ~unknown
    peer_n = peer_n.where(shown)
    peer_x = peer_x.where(shown)
    out = points[
        [
            *POINT_KEYS,
            "major_name",
            "cohort",
            "graduates",
            "placed",
            "placement_rate",
            "evidence_level",
        ]
    ].copy()
    out["peer_points"] = peer_points.astype(np.int64)
    out["peer_graduates"] = peer_n.astype("Int64")
    out["peer_placed"] = peer_x.astype("Int64")
    n_arr = peer_n.fillna(0).to_numpy()
    x_arr = peer_x.fillna(0).to_numpy()
    out["peer_rate"] = placement_rate(x_arr, n_arr)
    lo, hi = wilson_interval(x_arr, n_arr, policy.statistics.confidence)
    out["peer_ci_low"], out["peer_ci_high"] = lo, hi
    out["gap_to_peers"] = out["placement_rate"] - out["peer_rate"]
    t = policy.majors.threshold
    own_below = out["placement_rate"].to_numpy() < t
    peer_rate = out["peer_rate"].to_numpy()
    verdict = np.select(
        [
            ~shown.to_numpy() | ~has.to_numpy(),
            ~own_below,
            peer_rate < t,
            points["ci_high"].to_numpy() < peer_rate,
        ],
        ["", "不低于阈值", PEER_VERDICTS["major"], PEER_VERDICTS["school"]],
        default=PEER_VERDICTS["unclear"],
    )
    out["peer_verdict"] = pd.array(np.where(verdict == "", pd.NA, verdict), dtype="string")
    out["suppressed"] = pd.array(
        np.select(
            [shown.to_numpy(), unknown.to_numpy(), peer_points.to_numpy() == 0],
            [None, "专业代码或学历层次未填报，无法与同专业比较", "省内其他院校没有该专业点"],
            default=f"省内同专业其他专业点少于{min_peer_points}个，合计数会暴露其他院校，不公布",
        ),
        dtype="string",
    )
    return out.reset_index(drop=True)
