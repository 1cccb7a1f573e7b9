"""Where the graduates of each 专业点 went (destination mix), waiting for 升学 split out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.codes import UNKNOWN_BUCKET
from helpers.majors.points import NOT_RECORDED, POINT_KEYS

# Destination-mix categories: the 2024 buckets, with 暂不就业 split into 71 (waiting for 升学) and 72.
MIX_CATEGORIES = {
    "单位就业": "mix_employed",
    "自主创业": "mix_self_employed",
    "自由职业": "mix_freelance",
    "升学": "mix_further_study",
    "待就业": "mix_unemployed",
    "不就业拟升学": "mix_awaiting_study",
    "其他暂不就业": "mix_not_working_other",
    "未登记": "mix_unrecorded",
}
UNPLACED_MIX = ("待就业", "不就业拟升学", "其他暂不就业", "未登记")


def destination_mix(graduates: pd.DataFrame, keys=POINT_KEYS) -> pd.DataFrame:
    """Share of each destination category per point (``in_denominator`` graduates only).

    Categories: the 2024 buckets with 暂不就业 split into 不就业拟升学 (71) and 其他暂不就业 (72);
    ``main_unplaced`` names the largest category among those not placed. A missing key value is
    grouped as 未填报, as in :func:`~helpers.majors.points.point_rates`.
    """
    keys = list(keys)
    counted = graduates[graduates["in_denominator"].astype(bool)]
    # work on the distinct (code, bucket) pairs, then map back by position: a handful of strings
    pair_codes, pairs = pd.factorize(
        pd.MultiIndex.from_arrays([counted["destination_code"], counted["bucket_2024"]])
    )
    code = pd.Series(pairs.get_level_values(0), dtype="string")
    label = pd.Series(pairs.get_level_values(1), dtype="string")
    label = label.mask(code.str.startswith("71").fillna(False), "不就业拟升学")
    label = label.mask(code.str.startswith("72").fillna(False), "其他暂不就业")
    label = label.fillna(UNKNOWN_BUCKET).to_numpy(dtype=object)
    category = label[pair_codes] if len(pair_codes) else np.array([], dtype=object)
    frame = counted[keys]
    blank = [c for c in keys if frame[c].isna().any()]
    if blank:  # grouped as 未填报, as point_rates groups them (never dropped)
        frame = frame.assign(**{c: frame[c].astype("string").fillna(NOT_RECORDED) for c in blank})
    counts = (
        frame.assign(_cat=pd.Categorical(category, categories=list(MIX_CATEGORIES)))
        .groupby([*keys, "_cat"], observed=True)
        .size()
        .unstack("_cat", fill_value=0)
        .reindex(columns=list(MIX_CATEGORIES), fill_value=0)
    )
    totals = counts.sum(axis=1)
    counts = counts[totals > 0]
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns = [MIX_CATEGORIES[c] for c in shares.columns]
    unplaced = counts[list(UNPLACED_MIX)]
    main = pd.Series(unplaced.to_numpy().argmax(axis=1), index=unplaced.index).map(
        dict(enumerate(UNPLACED_MIX))
    )
    shares["main_unplaced"] = main.where(unplaced.sum(axis=1) > 0).astype("string")
    return shares.reset_index()
