"""The core of the placement report: which rows count, rates of any grouping, the province beside a
university, and the memo that lets warm kernels reuse province-wide aggregates.

Definitions (``docs/background/methods.md`` §1.5, ``docs/background/domain.md`` §1.3): only rows
with ``in_denominator`` count (结业/肄业 are left out per policy); rate = placed / graduates,
pooled (Σplaced / Σgraduates) for every aggregate, with a Wilson interval at
``policy.statistics.confidence``; coverage = share of graduates with any recorded destination
(``destination_known``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers import grouping, memo
from helpers.codes import GROUP_COLUMNS
from helpers.majors.points import NOT_RECORDED  # a missing category or key value, shown
from helpers.rates import placement_rate, wilson_interval

ALL = "ALL"  # university_code of province-level rows
PROVINCE_NAME = "全省"

# Columns each analysis needs (load only these: province-size data, ~90 runs per period).
CURRENT_COLUMNS = [
    "university_code",
    "cohort",
    "education_level",
    "in_denominator",
    "major_code",
    "major_name",
    "discipline_code",
    "discipline_name",
    "department",
    "gender",
    "urban_rural",
    *GROUP_COLUMNS.values(),
    "destination_known",
    "placed",
    "bucket_2024",
    "bucket_2021",
    "snapshot_date",
    "willing_to_work",
]
HISTORY_COLUMNS = [
    "university_code",
    "cohort",
    "in_denominator",
    "placed",
    "destination_known",
    "snapshot_date",
]
UNIVERSITY_COLUMNS = [
    "university_code",
    "university_name",
    "school_level",
    "ownership",
    "baseline_rate",
]

# --- memo for warm kernels ---------------------------------------------------------------------
# A period run makes ~90 university reports on a few reused kernels from the same processed data;
# the province-level aggregates are the same in each. Frames read by helpers.load carry
# ``attrs["source"]`` and those aggregates are remembered per process (:mod:`helpers.memo`: a
# subset or an edited copy never hits; frames without a source are always computed afresh).
SOURCE_ATTR = memo.SOURCE_ATTR
MEMO = memo.Memo("placement", maxsize=64)


def memoized(name: str, df: pd.DataFrame, extra: tuple, compute):
    """``compute()``, remembered for frames that carry a source (results are copied out)."""
    return MEMO.get(memo.key(name, df, *extra), compute)


def clear_memo() -> None:
    """Forget remembered aggregates (tests; a kernel that must re-read everything)."""
    MEMO.clear()


# --- core aggregation ----------------------------------------------------------------------------
def denominator_mask(df: pd.DataFrame) -> np.ndarray:
    """Rows counted in rates (boolean mask)."""
    missing = [c for c in ("in_denominator", "placed") if c not in df.columns]
    if missing:
        raise ValueError(
            f"graduates frame lacks column(s) {missing} (processed graduates expected)"
        )
    return df["in_denominator"].to_numpy(dtype=bool)


def denominator(df: pd.DataFrame) -> pd.DataFrame:
    """Rows counted in rates."""
    return df[denominator_mask(df)]


def add_rates(df: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Add ``placement_rate``, ``ci_low``, ``ci_high`` (Wilson) from ``placed`` / ``graduates``."""
    out = df.copy()
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["placed"], out["graduates"], confidence)
    return out


def rate_table(
    df: pd.DataFrame, by: Sequence[str], confidence: float, denominator_only: bool = True
) -> pd.DataFrame:
    """Graduates, placed, known, rate with interval and coverage per combination of ``by``.

    ``by`` may be empty (one row for the whole frame). Missing values of ``by`` columns are
    grouped as 未填报. Groups come in ascending key order. Counted with integer codes and
    ``bincount`` (:mod:`helpers.grouping`): the same table as ``groupby(by, observed=True,
    sort=True)`` on the text columns, without hashing every row's text (national scale).
    """
    by = list(by)
    missing = [c for c in (*by, "destination_known") if c not in df.columns]
    if missing:
        raise ValueError(
            f"graduates frame lacks column(s) {missing} (processed graduates expected)"
        )
    keep = denominator_mask(df) if denominator_only else None
    c = grouping.count_groups(
        df,
        by,
        {"placed": "placed", "known": "destination_known"},
        mask=keep,
        missing=NOT_RECORDED,
    )
    out = c.keys.copy()
    if not by and len(out) == 0:  # one row for the whole frame, also when nothing is counted
        out = pd.DataFrame(index=pd.RangeIndex(1))
        c.hist = np.zeros((1, c.hist.shape[1]), dtype=np.int64)
    out["graduates"] = c.size()
    out["placed"] = c.count("placed")
    out["known"] = c.count("known")
    out[["graduates", "placed", "known"]] = out[["graduates", "placed", "known"]].astype("int64")
    out = add_rates(out, confidence)
    out["coverage_rate"] = placement_rate(out["known"], out["graduates"])
    return out


def with_province(
    df: pd.DataFrame, by: Sequence[str], confidence: float, university: str | None
) -> pd.DataFrame:
    """Rates by ``by`` for the province (``ALL``) and, in university mode, the university first."""
    province = memoized(
        "rates", df, (tuple(by), confidence), lambda: rate_table(df, by, confidence)
    )
    province.insert(0, "university_code", ALL)
    if university is None:
        return province
    own = rate_table(one_university(df, university), by, confidence)
    own.insert(0, "university_code", university)
    return pd.concat([own, province], ignore_index=True)


def one_university(df: pd.DataFrame, university: str) -> pd.DataFrame:
    mask = (df["university_code"] == university).to_numpy(dtype=bool)
    if not mask.any():
        raise ValueError(
            f"院校代码 {university} has no graduates in the data for this date "
            "(check the code against the universities reference)"
        )
    return df[mask]


def current_cohort(df: pd.DataFrame) -> int:
    """The cohort of a snapshot (the most frequent 毕业年份; ties: the newest)."""
    counts = df["cohort"].value_counts()
    return int(counts[counts == counts.max()].index.max())
