"""Pieces every follow-up check shares: which universities are monitored, input checks, and the
split of activity records into "counted" and "outside the period" (never dropped silently)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def require_columns(df: pd.DataFrame, columns, dataset: str) -> None:
    """Fail with a message naming the dataset and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{dataset}: missing column(s) {', '.join(missing)}")


def bad_rows_message(df: pd.DataFrame, mask, dataset: str, column: str, problem: str) -> str:
    """'<dataset>: <problem> in column <column>: file f row r, ...' for the first few bad rows."""
    bad = df.loc[np.asarray(mask, dtype=bool)]
    where = []
    for file, row in zip(
        bad.get("source_file", pd.Series(["?"] * len(bad))).head(5),
        bad.get("source_row", pd.Series(["?"] * len(bad))).head(5),
        strict=True,
    ):
        where.append(f"file {file} row {row}")
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    return f"{dataset}: {problem} in column {column}: {'; '.join(where)}{more}"


def monitored_universities(universities: pd.DataFrame, *frames: pd.DataFrame) -> pd.DataFrame:
    """Universities to report on: every code present in any of ``frames`` (graduates, activity
    data), with name and baseline from the reference table.

    A code missing from the reference keeps its code as its name (ingest quarantines unknown
    codes, so this only happens with hand-made frames).
    """
    parts = [f["university_code"].astype("string") for f in frames if len(f)]
    codes = pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="string")
    codes = pd.Series(sorted(codes.dropna().unique()), dtype="string", name="university_code")
    ref = universities[["university_code", "university_name", "baseline_rate"]].copy()
    ref["university_code"] = ref["university_code"].astype("string")
    ref = ref.drop_duplicates("university_code")
    out = codes.to_frame().merge(ref, on="university_code", how="left")
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    out["baseline_rate"] = out["baseline_rate"].astype("float64")
    return out.reset_index(drop=True)


def in_year_to_date(dates: pd.Series, as_of: dt.date) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Masks (counted, before the monitoring year, after as_of) for activity dates."""
    values = pd.to_datetime(dates)
    start = pd.Timestamp(dt.date(as_of.year, 1, 1))
    end = pd.Timestamp(as_of)
    before = values < start
    after = values > end
    return ~before & ~after, before, after


def scope_summary(dataset: str, before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """One row per dataset: records left out of the period, by reason (Chinese), counts."""
    return pd.DataFrame(
        {
            "dataset": [dataset, dataset],
            "reason": ["早于本年度（不计入本年度统计）", "晚于统计日期（待下期计入）"],
            "records": [int(np.sum(before)), int(np.sum(after))],
        }
    )


def university_placement(
    graduates: pd.DataFrame, universities: pd.DataFrame, policy, confidence: float | None = None
) -> pd.DataFrame:
    """Pooled placement rate per university (``in_denominator`` graduates) with Wilson limits,
    baseline, and the lagging test of the 约谈 list: below the provincial average
    (``placement.provincial_average``) and below the university's own baseline.

    Columns: university_code, university_name, graduates, placed, placement_rate, ci_low, ci_high,
    baseline_rate, below_average, below_baseline (NA without baseline), lagging.
    """
    from helpers.rates import placement_rate, wilson_interval

    require_columns(graduates, ("university_code", "placed", "in_denominator"), "graduates")
    confidence = confidence or policy.statistics.confidence
    g = graduates.loc[graduates["in_denominator"]]
    by = g.groupby(g["university_code"].astype("string"), observed=True)["placed"].agg(
        graduates="size", placed="sum"
    )
    by.index.name = "university_code"
    uni = universities[["university_code", "university_name", "baseline_rate"]].copy()
    uni["university_code"] = uni["university_code"].astype("string")
    out = by.reset_index().merge(uni, on="university_code", how="left")
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    out["graduates"] = out["graduates"].astype("int64")
    out["placed"] = out["placed"].astype("int64")
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["placed"], out["graduates"], confidence)
    average = policy.placement.provincial_average
    out["below_average"] = out["placement_rate"] < average
    below_base = pd.array(out["placement_rate"] < out["baseline_rate"], dtype="boolean")
    out["below_baseline"] = pd.Series(below_base, index=out.index).mask(
        out["baseline_rate"].isna(), pd.NA
    )
    out["lagging"] = out["below_average"] & out["below_baseline"].fillna(False).astype(bool)
    cols = [
        "university_code",
        "university_name",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "baseline_rate",
        "below_average",
        "below_baseline",
        "lagging",
    ]
    return out[cols].sort_values("university_code", ignore_index=True)


def pooled(
    table: pd.DataFrame, placed: str = "placed", n: str = "graduates", confidence: float = 0.95
) -> dict[str, float]:
    """Σplaced / Σgraduates of a table with Wilson limits (never an average of rates)."""
    from helpers.rates import wilson_interval

    x, m = int(table[placed].sum()), int(table[n].sum())
    lo, hi = wilson_interval([x], [m], confidence)
    return {
        "graduates": m,
        "placed": x,
        "rate": x / m if m else float("nan"),
        "ci_low": float(lo[0]),
        "ci_high": float(hi[0]),
    }


PROVINCE_NAME = "全省"


def attach_names(table: pd.DataFrame, universities: pd.DataFrame) -> pd.DataFrame:
    """Insert ``university_name`` after ``university_code`` (the province row ALL reads 全省)."""
    ref = universities[["university_code", "university_name"]].drop_duplicates("university_code")
    mapping = dict(
        zip(ref["university_code"].astype(str), ref["university_name"].astype(str), strict=True)
    )
    mapping["ALL"] = PROVINCE_NAME
    out = table.drop(columns=["university_name"], errors="ignore")
    codes = out["university_code"].astype("string")
    names = codes.map(mapping).astype("string").fillna(codes)
    out.insert(int(out.columns.get_loc("university_code")) + 1, "university_name", names)
    return out
