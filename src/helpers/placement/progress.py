"""Placement through the year from the graduates history: counts per snapshot, the headline of
the newest snapshot, progress by snapshot date against the previous cohort, and the movers since
the previous snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.placement.aggregate import ALL, PROVINCE_NAME, add_rates, memoized
from helpers.placement.universities import attach_names
from helpers.rates import placement_rate


def snapshot_counts(history: pd.DataFrame) -> pd.DataFrame:
    """Graduates, placed and known per (cohort, snapshot_date, university_code) of a history.

    One pass over :func:`helpers.load.load_graduate_history` (factorised keys and ``bincount``,
    no per-group Python); progress, movers, the headline's changes and the jump signal all derive
    from this small table.
    """
    return memoized("snapshot_counts", history, (), lambda: _snapshot_counts(history))


def _snapshot_counts(history: pd.DataFrame) -> pd.DataFrame:
    keep = history["in_denominator"].to_numpy(dtype=bool)
    cols = ["cohort", "snapshot_date", "university_code"]
    missing = [c for c in (*cols, "placed", "destination_known") if c not in history.columns]
    if missing:
        raise ValueError(f"graduates history lacks column(s) {missing}")
    codes, uniques = [], []
    for col in cols:
        c, u = pd.factorize(history[col], sort=True)
        codes.append(c.astype(np.int64))
        uniques.append(u)
    sizes = tuple(len(u) for u in uniques)
    total = int(np.prod(sizes)) if all(sizes) else 0
    if total == 0 or not keep.any():
        return pd.DataFrame(
            {
                "cohort": pd.Series(dtype="int64"),
                "snapshot_date": pd.Series(dtype="datetime64[ns]"),
                "university_code": pd.Series(dtype="string"),
                **{k: pd.Series(dtype="int64") for k in ("graduates", "placed", "known")},
            }
        )
    flat = np.ravel_multi_index(codes, sizes)[keep]
    n = np.bincount(flat, minlength=total)
    x = np.bincount(flat, weights=history["placed"].to_numpy(dtype=bool)[keep], minlength=total)
    k = np.bincount(
        flat, weights=history["destination_known"].to_numpy(dtype=bool)[keep], minlength=total
    )
    cells = np.flatnonzero(n)
    ci, si, ui = np.unravel_index(cells, sizes)
    out = pd.DataFrame(
        {
            "cohort": np.asarray(uniques[0])[ci].astype("int64"),
            "snapshot_date": pd.to_datetime(np.asarray(uniques[1])[si]).astype("datetime64[ns]"),
            "university_code": pd.array(np.asarray(uniques[2], dtype=object)[ui], dtype="string"),
            "graduates": n[cells].astype("int64"),
            "placed": np.rint(x[cells]).astype("int64"),
            "known": np.rint(k[cells]).astype("int64"),
        }
    )
    return out


def _scope_series(counts: pd.DataFrame, university: str | None) -> pd.DataFrame:
    """Per (scope, cohort, snapshot_date) totals: ALL (province) and optionally the university."""
    keys = ["cohort", "snapshot_date"]
    prov = counts.groupby(keys, sort=True)[["graduates", "placed", "known"]].sum().reset_index()
    prov.insert(0, "university_code", ALL)
    if university is None:
        return prov
    own = counts[counts["university_code"] == university][
        ["university_code", *keys, "graduates", "placed", "known"]
    ]
    return pd.concat([own, prov], ignore_index=True)


def _same_day_last_year(day: pd.Timestamp) -> pd.Timestamp:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 02-29
        return day.replace(year=day.year - 1, day=28)


def headline(
    counts: pd.DataFrame, policy, university: str | None = None, snapshot_date=None
) -> pd.DataFrame:
    """Headline figures of the newest snapshot (or ``snapshot_date``) from :func:`snapshot_counts`.

    One row for the province (and one for ``university`` first, in university mode): graduates,
    placed, rate with interval, known and coverage, the previous snapshot of the same cohort and the
    change since, and the previous cohort's snapshot on the same date last year (or its newest
    snapshot before that date) and the change against it.
    """
    conf = policy.statistics.confidence
    series = _scope_series(counts, university)
    if series.empty:
        raise ValueError("no graduates counted in the history (in_denominator rows)")
    day = (
        pd.Timestamp(snapshot_date) if snapshot_date is not None else series["snapshot_date"].max()
    )
    now = series[series["snapshot_date"] == day]
    if now.empty:
        raise ValueError(f"no snapshot on {day.date()} in the graduates history")
    cohort = int(now.groupby("cohort")["graduates"].sum().idxmax())
    now = now[now["cohort"] == cohort]
    rows = []
    scopes = [university, ALL] if university is not None else [ALL]
    for scope in scopes:
        cur = now[now["university_code"] == scope]
        if cur.empty:
            raise ValueError(f"院校代码 {scope} has no graduates in the snapshot of {day.date()}")
        s = series[series["university_code"] == scope]
        prev = s[(s["cohort"] == cohort) & (s["snapshot_date"] < day)]
        last_day = _same_day_last_year(day)
        last = s[(s["cohort"] == cohort - 1) & (s["snapshot_date"] <= last_day)]
        row = {
            "university_code": scope,
            "cohort": cohort,
            "snapshot_date": day,
            "graduates": int(cur["graduates"].iloc[0]),
            "placed": int(cur["placed"].iloc[0]),
            "known": int(cur["known"].iloc[0]),
        }
        for prefix, frame in (("previous", prev), ("last_year", last)):
            if frame.empty:
                row[f"{prefix}_snapshot_date"] = pd.NaT
                row[f"{prefix}_rate"] = np.nan
            else:
                r = frame.sort_values("snapshot_date").iloc[-1]
                row[f"{prefix}_snapshot_date"] = r["snapshot_date"]
                row[f"{prefix}_rate"] = r["placed"] / r["graduates"] if r["graduates"] else np.nan
        rows.append(row)
    out = add_rates(pd.DataFrame(rows), conf)
    out["coverage_rate"] = placement_rate(out["known"], out["graduates"])
    out["rate_change"] = out["placement_rate"] - out["previous_rate"]
    out["last_year_change"] = out["placement_rate"] - out["last_year_rate"]
    out["policy_rate"] = policy.placement.provincial_average
    cols = [
        "university_code",
        "cohort",
        "snapshot_date",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "known",
        "coverage_rate",
        "policy_rate",
        "previous_snapshot_date",
        "previous_rate",
        "rate_change",
        "last_year_snapshot_date",
        "last_year_rate",
        "last_year_change",
    ]
    return out[cols]


def progress(
    counts: pd.DataFrame,
    policy,
    university: str | None = None,
    cohorts: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Rate by snapshot date for the current and the previous cohort (province; university first).

    ``previous_cohort_rate`` is the previous cohort's rate on the same month-day (when that
    snapshot exists) and ``cohort_change`` the difference.
    """
    conf = policy.statistics.confidence
    if counts.empty:
        raise ValueError("no snapshots in the graduates history")
    if cohorts is None:
        newest = int(counts.loc[counts["snapshot_date"].idxmax(), "cohort"])
        cohorts = [newest - 1, newest]
    s = _scope_series(counts[counts["cohort"].isin(list(cohorts))], university)
    s = add_rates(s, conf)
    s["coverage_rate"] = placement_rate(s["known"], s["graduates"])
    s["month_day"] = s["snapshot_date"].dt.strftime("%m-%d")
    prev = s[["university_code", "cohort", "month_day", "placement_rate"]].copy()
    prev["cohort"] = prev["cohort"] + 1
    prev = prev.rename(columns={"placement_rate": "previous_cohort_rate"})
    s = s.merge(prev, on=["university_code", "cohort", "month_day"], how="left")
    s["cohort_change"] = s["placement_rate"] - s["previous_cohort_rate"]
    cols = [
        "university_code",
        "cohort",
        "snapshot_date",
        "month_day",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "known",
        "coverage_rate",
        "previous_cohort_rate",
        "cohort_change",
    ]
    order = s["university_code"].eq(ALL).astype(int)
    return (
        s.assign(_o=order)
        .sort_values(["_o", "cohort", "snapshot_date"])
        .drop(columns="_o")[cols]
        .reset_index(drop=True)
    )


def progress_series(table: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Chart-ready progress: a ``series`` label per (scope, cohort), e.g. "2023届 全省"."""
    names = {ALL: PROVINCE_NAME, **(names or {})}
    scope = table["university_code"].map(lambda c: names.get(c, c))
    return table.assign(series=table["cohort"].astype(str) + "届 " + scope)


def movers(
    counts: pd.DataFrame,
    policy,
    universities: pd.DataFrame | None = None,
    university: str | None = None,
) -> pd.DataFrame:
    """Change of each university's rate since the previous snapshot of the same cohort.

    Sorted by change (largest rise first), with the province's change as the ALL row. Empty (with
    columns) when there is no earlier snapshot of the cohort. In university mode only the
    university and the province.
    """
    conf = policy.statistics.confidence
    cols = [
        "university_code",
        "previous_snapshot_date",
        "snapshot_date",
        "graduates",
        "placed",
        "previous_rate",
        "placement_rate",
        "ci_low",
        "ci_high",
        "rate_change",
        "newly_placed",
    ]
    day = counts["snapshot_date"].max()
    cohort = int(counts.loc[counts["snapshot_date"] == day, "cohort"].max())
    earlier = counts.loc[
        (counts["cohort"] == cohort) & (counts["snapshot_date"] < day), "snapshot_date"
    ]
    if earlier.empty:
        return attach_names(pd.DataFrame(columns=cols), universities)
    before = earlier.max()
    series = _scope_series(counts[counts["cohort"] == cohort], None)
    per = counts[counts["cohort"] == cohort]
    frames = []
    for frame in (per, series):
        a = frame[frame["snapshot_date"] == before].set_index("university_code")
        b = frame[frame["snapshot_date"] == day].set_index("university_code")
        both = b.index.intersection(a.index)
        a, b = a.loc[both], b.loc[both]
        t = pd.DataFrame(
            {
                "university_code": both.astype(str),
                "previous_snapshot_date": before,
                "snapshot_date": day,
                "graduates": b["graduates"].to_numpy(),
                "placed": b["placed"].to_numpy(),
                "previous_rate": (a["placed"] / a["graduates"]).to_numpy(),
                "newly_placed": (b["placed"] - a["placed"]).to_numpy(),
            }
        )
        frames.append(t)
    t = add_rates(pd.concat(frames, ignore_index=True), conf)
    t["rate_change"] = t["placement_rate"] - t["previous_rate"]
    t = t[cols]
    is_all = t["university_code"] == ALL
    t = pd.concat(
        [
            t[~is_all].sort_values(
                ["rate_change", "university_code"], ascending=[False, True], kind="stable"
            ),
            t[is_all],
        ],
        ignore_index=True,
    )
    if university is not None:
        t = t[t["university_code"].isin([university, ALL])]
    return attach_names(t.reset_index(drop=True), universities)
