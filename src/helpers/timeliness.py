"""Reporting timeliness (落实一人、上报一人, notice §七) from consecutive graduates snapshots.

A placement is expected in the first snapshot taken after its 签约日期. For each graduate of the
cohort the first snapshot that shows them placed is found; the placement is a **late entry** when
its 签约日期 (as that snapshot records it) lies before the date of the previous snapshot: it had
been made but was not in the data when the previous snapshot was taken. Its **delay** is the days
from 签约日期 to the snapshot that first shows it (an upper bound of the entry time: the data only
says it arrived between two snapshots).

Rules:
- only the cohort of ``as_of`` and its snapshots up to ``as_of`` (``helpers.load`` history);
- placements already shown by the cohort's first snapshot cannot be judged (there is no previous
  snapshot) and are counted apart (``first_snapshot``);
- placements without a 签约日期 (升学 and other destinations often carry none) are counted
  (``missing_date``) and left out of the share;
- a 签约日期 after the snapshot that shows it (a typo) is on time with delay 0;
- the late share is pooled (Σ late / Σ judged) with a Wilson interval; universities are ranked by
  the interval's lower bound so that a few entries never top the list by chance.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers import memo
from helpers.config import Policy
from helpers.rates import wilson_interval
from helpers.tables import register_headers, register_table_titles

ALL = "ALL"
HISTORY_COLUMNS = [
    "student_key",
    "university_code",
    "cohort",
    "placed",
    "placement_date",
    "snapshot_date",
]
COLUMNS = [
    "university_code",
    "placements",
    "first_snapshot",
    "missing_date",
    "judged",
    "late_entries",
    "late_share",
    "ci_low",
    "ci_high",
    "median_delay_days",
]


def first_entries(history: pd.DataFrame, cohort: int) -> pd.DataFrame:
    """One row per graduate of ``cohort`` ever shown placed: university_code, student_key,
    first_seen (snapshot date), previous_snapshot (NaT for the cohort's first snapshot),
    placement_date (as first recorded), late (bool), delay_days (Int64, NaN without a date)."""
    need = set(HISTORY_COLUMNS) - set(history.columns)
    if need:
        raise ValueError(f"history lacks columns {sorted(need)} (load it with HISTORY_COLUMNS)")
    h = history.loc[history["cohort"].astype("int64") == cohort]
    snaps = np.sort(pd.to_datetime(h["snapshot_date"]).unique())
    placed = h.loc[h["placed"].astype(bool)]
    if placed.empty:
        return pd.DataFrame(
            {
                "university_code": pd.Series(dtype="string"),
                "student_key": pd.Series(dtype="string"),
                "first_seen": pd.Series(dtype="datetime64[ns]"),
                "previous_snapshot": pd.Series(dtype="datetime64[ns]"),
                "placement_date": pd.Series(dtype="datetime64[ns]"),
                "late": pd.Series(dtype=bool),
                "delay_days": pd.Series(dtype="Int64"),
            }
        )
    p = pd.DataFrame(
        {
            "university_code": placed["university_code"].astype("string").to_numpy(),
            "student_key": placed["student_key"].astype("string").to_numpy(),
            "snapshot_date": pd.to_datetime(placed["snapshot_date"]).to_numpy(),
            "placement_date": pd.to_datetime(placed["placement_date"]).to_numpy(),
        }
    )
    p = p.sort_values("snapshot_date", kind="stable")
    first = p.drop_duplicates(["university_code", "student_key"], keep="first")
    pos = np.searchsorted(snaps, first["snapshot_date"].to_numpy())
    prev = np.where(pos > 0, snaps[np.maximum(pos - 1, 0)], np.datetime64("NaT"))
    out = first.rename(columns={"snapshot_date": "first_seen"}).reset_index(drop=True)
    out["previous_snapshot"] = pd.to_datetime(prev)
    delay = (out["first_seen"] - out["placement_date"]).dt.days
    out["delay_days"] = delay.clip(lower=0).astype("Int64")
    out["late"] = (
        (out["placement_date"] < out["previous_snapshot"])
        .fillna(False)
        .to_numpy(dtype=bool, na_value=False)
    )
    return out


def reporting_timeliness(
    history: pd.DataFrame, as_of: dt.date, policy: Policy, cohort: int | None = None
) -> pd.DataFrame:
    """The table ``reporting_timeliness``: one row per university and a province row (``ALL``).

    Columns: university_code, placements (graduates ever shown placed), first_snapshot (shown by
    the cohort's first snapshot: not judged), missing_date (first shown without 签约日期: left
    out), judged, late_entries, late_share (of judged) with ci_low / ci_high (Wilson), and
    median_delay_days of the late entries (days from 签约日期 to the snapshot first showing it).
    """
    cohort = as_of.year if cohort is None else cohort
    # the same province-wide table serves every university report of a warm kernel
    key = memo.key("reporting_timeliness", history, as_of, cohort, policy.statistics.confidence)
    return memo.named("timeliness", 8).get(key, lambda: _timeliness(history, as_of, policy, cohort))


def _timeliness(history: pd.DataFrame, d: dt.date, policy: Policy, cohort: int) -> pd.DataFrame:
    h = history.loc[pd.to_datetime(history["snapshot_date"]) <= pd.Timestamp(d)]
    e = first_entries(h, cohort)
    e = e.assign(
        first_snap=e["previous_snapshot"].isna(),
        no_date=e["placement_date"].isna() & e["previous_snapshot"].notna(),
    )
    e["judged"] = ~e["first_snap"] & ~e["no_date"]

    def summarise(g: pd.DataFrame) -> dict:
        late = g.loc[g["judged"] & g["late"]]
        return {
            "placements": len(g),
            "first_snapshot": int(g["first_snap"].sum()),
            "missing_date": int(g["no_date"].sum()),
            "judged": int(g["judged"].sum()),
            "late_entries": len(late),
            "median_delay_days": float(late["delay_days"].median()) if len(late) else np.nan,
        }

    rows = [{"university_code": code, **summarise(g)} for code, g in e.groupby("university_code")]
    rows.append({"university_code": ALL, **summarise(e)})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    for c in ("placements", "first_snapshot", "missing_date", "judged", "late_entries"):
        out[c] = out[c].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["late_share"] = np.where(
            out["judged"] > 0, out["late_entries"] / out["judged"].where(out["judged"] > 0), np.nan
        )
    lo, hi = wilson_interval(out["late_entries"], out["judged"], policy.statistics.confidence)
    out["ci_low"], out["ci_high"] = lo, hi
    out["university_code"] = out["university_code"].astype("string")
    return out[COLUMNS]


def largest_late_shares(table: pd.DataFrame, k: int = 10, min_judged: int = 1) -> pd.DataFrame:
    """The universities with the largest late shares: ranked by the Wilson lower bound, then the
    share; the province row left out; at most ``k``, only those with any late entry."""
    t = table.loc[(table["university_code"] != ALL) & (table["judged"] >= min_judged)]
    t = t.loc[t["late_entries"] > 0]
    return t.sort_values(
        ["ci_low", "late_share", "university_code"], ascending=[False, False, True]
    ).head(k)


def summary_sentence(table: pd.DataFrame) -> str:
    """The province figures in one sentence (numbers only)."""
    p = table.loc[table["university_code"] == ALL]
    if p.empty or int(p["judged"].iloc[0]) == 0:
        return "本期尚无可判断上报及时性的新增落实记录（需要至少两期快照）。"
    r = p.iloc[0]
    delay = (
        f"，滞后记录从签约到首次出现在数据中的时间中位数为{r['median_delay_days']:.0f}天"
        if pd.notna(r["median_delay_days"])
        else ""
    )
    return (
        f"全省可判断的新增落实记录{int(r['judged'])}条，其中{int(r['late_entries'])}条在签约日期之后"
        f"至少错过一期快照才首次上报，占{r['late_share']:.1%}（95%置信区间{r['ci_low']:.1%}～"
        f"{r['ci_high']:.1%}）{delay}；另有{int(r['missing_date'])}条缺少签约日期、未计入，"
        f"{int(r['first_snapshot'])}条首期快照中已有的记录无法判断。"
    )


register_headers(
    {
        "placements": "已落实人数",
        "first_snapshot": "首期快照已有",
        "missing_date": "缺少签约日期",
        "judged": "可判断记录数",
        "late_entries": "滞后上报数",
        "late_share": "滞后上报占比",
        "median_delay_days": "滞后中位天数",
    }
)
register_table_titles({"reporting_timeliness": "毕业去向上报及时性"})
