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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers import grouping, memo
from helpers.codes import BUCKETS_2021, BUCKETS_2024, GROUP_COLUMNS
from helpers.inert import md
from helpers.majors import EVIDENCE_LABELS, evidence_level
from helpers.rates import (
    FUNNEL_ZONE_LABELS,
    Overdispersion,
    funnel_assessment,
    placement_rate,
    pooled_rate,
    wilson_interval,
)
from helpers.tables import register_headers

ALL = "ALL"  # university_code of province-level rows
PROVINCE_NAME = "全省"
NOT_RECORDED = "未填报"  # missing gender / 城乡生源 / department

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

RULES = {"2024": ("bucket_2024", BUCKETS_2024), "2021": ("bucket_2021", BUCKETS_2021)}
RULE_LABELS = {"2024": "2024年口径", "2021": "2021年口径"}
SIGNALS = {
    # signal -> (Chinese label, rule column, buckets counted)
    "flexible": ("灵活就业占比偏高", "bucket_2021", ("灵活就业",)),
    "freelance": ("自由职业占比偏高", "bucket_2024", ("自由职业",)),
    "self_employed": ("自主创业占比偏高", "bucket_2024", ("自主创业",)),
}
JUMP_SIGNAL = "8月31日前两期落实率跃升异常"
FLAG_LEVELS = {"high_alarm": "预警", "high_alert": "关注"}

register_headers(
    {
        "provincial_share": "全省汇总比例（比较基准）",
        "signal_basis": "预警依据",
        "funnel_method": "控制限方法",
        "overdispersion_phi": "离散度φ",
        "overdispersion_chi2": "卡方统计量",
        "overdispersion_dof": "自由度",
        "overdispersion_p": "卡方检验p值",
        "overdispersion_tau2": "随机效应方差τ²（反正弦尺度）",
        "overdispersed": "存在过度离散",
        "units": "单位数",
    },
)


# --- memo for warm kernels ---------------------------------------------------------------------
# A period run makes ~90 university reports on a few reused kernels from the same processed data;
# the province-level aggregates are the same in each. Frames read by helpers.load carry
# ``attrs["source"]`` and those aggregates are remembered per process (:mod:`helpers.memo`: a
# subset or an edited copy never hits; frames without a source are always computed afresh).
SOURCE_ATTR = memo.SOURCE_ATTR
_MEMO = memo.Memo("placement", maxsize=64)


def _memoized(name: str, df: pd.DataFrame, extra: tuple, compute):
    """``compute()``, remembered for frames that carry a source (results are copied out)."""
    return _MEMO.get(memo.key(name, df, *extra), compute)


def clear_memo() -> None:
    """Forget remembered aggregates (tests; a kernel that must re-read everything)."""
    _MEMO.clear()


# --- core aggregation ----------------------------------------------------------------------------
def _denominator_mask(df: pd.DataFrame) -> np.ndarray:
    """Rows counted in rates (boolean mask)."""
    missing = [c for c in ("in_denominator", "placed") if c not in df.columns]
    if missing:
        raise ValueError(
            f"graduates frame lacks column(s) {missing} (processed graduates expected)"
        )
    return df["in_denominator"].to_numpy(dtype=bool)


def _denominator(df: pd.DataFrame) -> pd.DataFrame:
    """Rows counted in rates."""
    return df[_denominator_mask(df)]


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
    keep = _denominator_mask(df) if denominator_only else None
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


def _with_province(
    df: pd.DataFrame, by: Sequence[str], confidence: float, university: str | None
) -> pd.DataFrame:
    """Rates by ``by`` for the province (``ALL``) and, in university mode, the university first."""
    province = _memoized(
        "rates", df, (tuple(by), confidence), lambda: rate_table(df, by, confidence)
    )
    province.insert(0, "university_code", ALL)
    if university is None:
        return province
    own = rate_table(_one(df, university), by, confidence)
    own.insert(0, "university_code", university)
    return pd.concat([own, province], ignore_index=True)


def _one(df: pd.DataFrame, university: str) -> pd.DataFrame:
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


# --- headline ------------------------------------------------------------------------------------
def snapshot_counts(history: pd.DataFrame) -> pd.DataFrame:
    """Graduates, placed and known per (cohort, snapshot_date, university_code) of a history.

    One pass over :func:`helpers.load.load_graduate_history` (factorised keys and ``bincount``,
    no per-group Python); progress, movers, the headline's changes and the jump signal all derive
    from this small table.
    """
    return _memoized("snapshot_counts", history, (), lambda: _snapshot_counts(history))


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


# --- by university -------------------------------------------------------------------------------
def _names(universities: pd.DataFrame | None) -> pd.DataFrame | None:
    if universities is None:
        return None
    cols = [c for c in UNIVERSITY_COLUMNS if c in universities.columns]
    return universities[cols].drop_duplicates("university_code")


def _attach_names(
    df: pd.DataFrame,
    universities: pd.DataFrame | None,
    columns: Sequence[str] = ("university_name",),
) -> pd.DataFrame:
    """Add university columns after ``university_code``; ALL rows are named 全省."""
    ref = _names(universities)
    out = df.copy()
    pos = out.columns.get_loc("university_code") + 1
    for i, col in enumerate(columns):
        if ref is not None and col in ref.columns:
            values = out["university_code"].map(ref.set_index("university_code")[col])
        else:
            values = pd.Series(pd.NA, index=out.index, dtype="object")
        if col == "university_name":
            values = values.astype("object")
            values[out["university_code"] == ALL] = PROVINCE_NAME
            unknown = values.isna()
            values[unknown] = out.loc[unknown, "university_code"]  # unnamed: show the code
        out.insert(pos + i, col, values)
    return out


def by_university(
    current: pd.DataFrame, universities: pd.DataFrame | None, policy
) -> tuple[pd.DataFrame, Overdispersion]:
    """Every university: rate with interval, baseline, the policy line and its funnel position.

    ``baseline_rate`` is the university's previous initial rate (universities reference);
    ``below_baseline`` is <NA> when there is none. The funnel is centred on the pooled provincial
    rate with exact binomial limits at ``statistics.funnel_alert`` / ``funnel_alarm``, or the
    random-effects limits when the universities are overdispersed (methods.md §2.2). Ranked by
    rate (1 = highest).
    """
    return _memoized(
        "by_university",
        current,
        (policy, memo.frame_token(universities)),
        lambda: _by_university(current, universities, policy),
    )


def _by_university(
    current: pd.DataFrame, universities: pd.DataFrame | None, policy
) -> tuple[pd.DataFrame, Overdispersion]:
    st = policy.statistics
    t = rate_table(current, ["university_code"], st.confidence)
    pooled = pooled_rate(t["placed"], t["graduates"])
    t = _attach_names(t, universities, ("university_name", "school_level", "ownership"))
    ref = _names(universities)
    if ref is not None and "baseline_rate" in ref.columns:
        t["baseline_rate"] = (
            t["university_code"]
            .map(ref.set_index("university_code")["baseline_rate"])
            .astype(float)
        )
    else:
        t["baseline_rate"] = np.nan
    below = t["placement_rate"] < t["baseline_rate"]
    t["below_baseline"] = pd.array(below, dtype="boolean")
    t.loc[t["baseline_rate"].isna(), "below_baseline"] = pd.NA
    t["policy_rate"] = policy.placement.provincial_average
    t["below_policy_rate"] = t["placement_rate"] < t["policy_rate"]
    t["provincial_rate"] = pooled
    funnel, od = funnel_assessment(
        t["placed"],
        t["graduates"],
        target=pooled,
        alert=st.funnel_alert,
        alarm=st.funnel_alarm,
        winsor=st.winsor,
    )
    t = pd.concat([t, funnel.reset_index(drop=True)], axis=1)
    t["funnel_zone"] = t["funnel_zone"].map(FUNNEL_ZONE_LABELS).astype("object")
    t["rank"] = t["placement_rate"].rank(ascending=False, method="min").astype("Int64")
    return t.sort_values(["rank", "university_code"], kind="stable").reset_index(drop=True), od


def overdispersion_table(od: Overdispersion, scope: str = "各高校落实率") -> pd.DataFrame:
    """One row describing the overdispersion test and which limits were used."""
    return pd.DataFrame(
        [
            {
                "category": scope,
                "units": od.units,
                "provincial_rate": od.target,
                "overdispersion_phi": od.phi,
                "overdispersion_chi2": od.chi2,
                "overdispersion_dof": od.dof,
                "overdispersion_p": od.p_value,
                "overdispersion_tau2": od.tau2,
                "overdispersed": od.overdispersed,
                "funnel_method": "随机效应调整（反正弦尺度）" if od.overdispersed else "精确二项",
            }
        ]
    )


def university_row(table: pd.DataFrame, university: str) -> pd.DataFrame:
    """The university's own row of :func:`by_university` (university mode: nothing else)."""
    row = table[table["university_code"] == university]
    if row.empty:
        raise ValueError(f"院校代码 {university} is not in the placement table of this date")
    return row.drop(columns=["rank"]).reset_index(drop=True)


# --- by category ---------------------------------------------------------------------------------
def by_level(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """By 学历层次 (province; in university mode the university first)."""
    return _with_province(current, ["education_level"], policy.statistics.confidence, university)


def by_discipline(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """By discipline within level: 学科门类 (本科/研究生) and 专业大类 (专科)."""
    return _with_province(
        current,
        ["education_level", "discipline_code", "discipline_name"],
        policy.statistics.confidence,
        university,
    )


def by_category(
    current: pd.DataFrame, column: str, policy, university: str | None = None
) -> pd.DataFrame:
    """By one categorical column (``gender``, ``urban_rural``, ``department``, ...)."""
    return _with_province(current, [column], policy.statistics.confidence, university)


def by_department(current: pd.DataFrame, policy, university: str) -> pd.DataFrame:
    """A university's departments (所在院系), with the university total last."""
    own = _one(current, university)
    t = rate_table(own, ["department"], policy.statistics.confidence)
    total = rate_table(own, [], policy.statistics.confidence)
    total.insert(0, "department", "全校合计")
    out = pd.concat([t, total], ignore_index=True)
    out.insert(0, "university_code", university)
    return out


def _group_order(policy) -> list[str]:
    first = [g for g in policy.assistance.groups if g in GROUP_COLUMNS]
    return first + [g for g in GROUP_COLUMNS if g not in first]


def _group_targets(policy) -> dict[str, str]:
    a = policy.assistance
    day = f"{int(a.rate_deadline[:2])}月{int(a.rate_deadline[3:])}日"
    out = {}
    for g in a.rate_above_school_groups:
        out[g] = f"{day}前落实率高于本校平均水平"
    for g in a.all_placed_groups:
        out[g] = "动态清零（全部落实）"
    for g in _willing_groups(policy):
        out[g] = "有就业意愿的全部落实"
    return out


def _willing_groups(policy) -> tuple[str, ...]:
    """Groups whose graduates willing to work must all be placed (notice §五: 残疾).

    Read from ``policy.assistance.willing_all_placed_groups``.
    """
    return tuple(policy.assistance.willing_all_placed_groups)


def by_group(
    current: pd.DataFrame,
    policy,
    universities: pd.DataFrame | None = None,
    university: str | None = None,
    protect: bool = True,
) -> pd.DataFrame:
    """Groups in difficulty: each university's groups and the province (``ALL``).

    Columns (contract): university_code, group, graduates, placed, placement_rate, university_rate,
    gap (= group rate − the university's own rate; for ALL the provincial rate), plus the Wilson
    interval, the notice's target for the group and whether it is met. Universities with no
    graduate in a group get no row for it; the ALL rows list every group.

    Small cells go through :func:`helpers.disclosure.protect_group_table` (``protect``): the whole
    table is protected first, then ``university`` selects its rows and the ALL rows.
    """
    t = _memoized("group_counts", current, (policy,), lambda: _group_table(current, policy))
    if protect:
        t = protect_groups(t, policy)
    if university is not None:
        t = t[t["university_code"].isin([university, ALL])]
        # the audit kept with the table covers the rows it shows (pandas copies attrs with every
        # operation on the frame; every decision stays in the disclosure collector)
        audit = t.attrs.get("disclosure_audit")
        if audit:
            t.attrs["disclosure_audit"] = [r for r in audit if r["unit"] in (university, ALL)]
    t = _attach_names(t, universities)
    order = {g: i for i, g in enumerate(_group_order(policy))}
    key = t["university_code"].eq(ALL).astype(int) * 10_000 + t["group"].map(order)
    return (
        t.assign(_k=key)
        .sort_values(["_k", "university_code"], kind="stable")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def _group_table(current: pd.DataFrame, policy) -> pd.DataFrame:
    conf = policy.statistics.confidence
    groups = _group_order(policy)
    # per university, one bincount over integer codes and flag patterns (helpers.grouping)
    willing_groups = [x for x in _willing_groups(policy) if x in groups]
    flags = {"placed": "placed", **{f"m_{i}": GROUP_COLUMNS[x] for i, x in enumerate(groups)}}
    if willing_groups:
        # unknown willingness counts as willing: the target is never met by a missing answer
        flags["willing"] = current["willing_to_work"].fillna(True)
    c = grouping.count_groups(current, ["university_code"], flags, mask=_denominator_mask(current))
    counts = {"_all": c.size(), "_placed": c.count("placed")}
    for i, group in enumerate(groups):
        counts[f"n_{i}"] = c.count(f"m_{i}")
        counts[f"x_{i}"] = c.count(f"m_{i}", "placed")
        if group in willing_groups:
            counts[f"w_{i}"] = c.count(f"m_{i}", "willing")
            counts[f"wx_{i}"] = c.count(f"m_{i}", "willing", "placed")
    per = pd.DataFrame(
        counts, index=pd.Index(c.keys["university_code"].to_numpy(dtype=object), dtype=object)
    )
    per.loc[ALL] = per.sum()
    rows = []
    for i, g in enumerate(groups):
        part = pd.DataFrame(
            {
                "university_code": per.index.astype(str),
                "group": g,
                "graduates": per[f"n_{i}"].to_numpy(),
                "placed": per[f"x_{i}"].to_numpy(),
                "university_rate": per["_placed"].to_numpy() / per["_all"].to_numpy(),
                "_willing_unplaced": (per[f"w_{i}"] - per[f"wx_{i}"]).to_numpy()
                if g in willing_groups
                else 0,
            }
        )
        rows.append(part[(part["graduates"] > 0) | (part["university_code"] == ALL)])
    t = pd.concat(rows, ignore_index=True)
    t = add_rates(t, conf)
    t["gap"] = t["placement_rate"] - t["university_rate"]
    targets = _group_targets(policy)
    t["target"] = t["group"].map(targets).astype("object")
    met = np.select(
        [
            t["group"].isin(policy.assistance.all_placed_groups),
            t["group"].isin(willing_groups),
        ],
        [t["placed"] == t["graduates"], t["_willing_unplaced"] == 0],
        default=t["placement_rate"] > t["university_rate"],
    )
    t["target_met"] = pd.array(met, dtype="boolean")
    t.loc[t["target"].isna() | (t["graduates"] == 0), "target_met"] = pd.NA
    return t[
        [
            "university_code",
            "group",
            "graduates",
            "placed",
            "placement_rate",
            "ci_low",
            "ci_high",
            "university_rate",
            "gap",
            "target",
            "target_met",
        ]
    ]


def protect_groups(table: pd.DataFrame, policy) -> pd.DataFrame:
    """Disclosure control of a group table (helpers.disclosure), target_met hidden with the rate."""
    from helpers.disclosure import protect_group_table

    out = protect_group_table(table, policy, table="placement_by_group")
    hidden = out["suppressed"].fillna("").astype(str) != ""
    out["target_met"] = out["target_met"].astype("boolean")
    out.loc[hidden, "target_met"] = pd.NA
    return out


# --- by major ------------------------------------------------------------------------------------
def by_major(current: pd.DataFrame, policy, university: str | None = None) -> pd.DataFrame:
    """Every 专业点 (university, 学历层次, major): rate, interval and evidence level.

    ``evidence_level`` comes from :func:`helpers.majors.evidence_level` with
    ``policy.majors.threshold`` / ``min_graduates``; ``evidence_label`` is its Chinese label. A
    major code the catalogue does not list is kept as it is (its discipline may be 其他).
    """
    if university is None:
        return _memoized("by_major", current, (policy,), lambda: _by_major(current, policy))
    return _by_major(_one(current, university), policy)


def _by_major(d: pd.DataFrame, policy) -> pd.DataFrame:
    keys = ["university_code", "education_level", "major_code"]
    # one pass for the counts and the names (integer codes, helpers.grouping); names are the
    # first recorded value of each 专业点 (as groupby.first)
    c = grouping.count_groups(
        d,
        keys,
        {"placed": "placed", "known": "destination_known"},
        mask=_denominator_mask(d),
        missing=NOT_RECORDED,
        first=("major_name", "discipline_code", "discipline_name"),
    )
    t = c.keys.copy()
    t["graduates"] = c.size()
    t["placed"] = c.count("placed")
    t["known"] = c.count("known")
    t = add_rates(t, policy.statistics.confidence)
    t["coverage_rate"] = placement_rate(t["known"], t["graduates"])
    for col, values in c.first.items():
        t[col] = values.array
    m = policy.majors
    t["evidence_level"] = evidence_level(
        t["graduates"], t["placement_rate"], t["ci_high"], m.threshold, m.min_graduates
    ).astype("object")
    t["evidence_label"] = t["evidence_level"].map(EVIDENCE_LABELS)
    cols = [
        "university_code",
        "education_level",
        "major_code",
        "major_name",
        "discipline_code",
        "discipline_name",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "coverage_rate",
        "evidence_level",
        "evidence_label",
    ]
    return t[cols]


def evidence_counts(majors: pd.DataFrame) -> pd.DataFrame:
    """Number of 专业点 per evidence level (and their graduates)."""
    g = majors.groupby("evidence_level", observed=True).agg(
        count=("major_code", "size"), graduates=("graduates", "sum")
    )
    g = g.reindex(list(EVIDENCE_LABELS), fill_value=0).reset_index()
    g["evidence_label"] = g["evidence_level"].map(EVIDENCE_LABELS)
    return g[["evidence_level", "evidence_label", "count", "graduates"]]


# --- destination mix -----------------------------------------------------------------------------
def _mix_counts(current: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Graduates per (university, bucket) under each rule, with the ALL row."""
    d = _denominator(current)
    out = []
    for col, buckets in RULES.values():
        counts = pd.crosstab(
            d["university_code"].astype(str), d[col].astype("string").fillna(buckets[-1])
        )
        counts = counts.reindex(columns=list(buckets), fill_value=0)
        counts.loc[ALL] = counts.sum()
        out.append(counts)
    return tuple(out)


def destination_mix(
    current: pd.DataFrame, universities: pd.DataFrame | None = None, university: str | None = None
) -> pd.DataFrame:
    """Shares of each destination bucket under both rules, per university and for the province.

    Long table: university_code, university_name, rule, bucket, count, graduates, share; every
    bucket of a rule is listed (0 counts included), shares of a university sum to 1 per rule.
    """
    if university is not None:
        _one(current, university)
    tables = _memoized("mix_counts", current, (), lambda: _mix_counts(current))
    frames = []
    for rule, counts in zip(RULES, tables, strict=True):
        if university is not None:
            counts = counts.loc[[university, ALL]]
        long = counts.stack().rename("count").reset_index()
        long.columns = ["university_code", "bucket", "count"]
        long["graduates"] = long.groupby("university_code")["count"].transform("sum")
        long.insert(1, "rule", RULE_LABELS[rule])
        frames.append(long)
    out = pd.concat(frames, ignore_index=True)
    out["count"] = out["count"].astype("int64")
    out["graduates"] = out["graduates"].astype("int64")
    out["share"] = placement_rate(out["count"], out["graduates"])
    return _attach_names(out, universities)


# --- warning signals -----------------------------------------------------------------------------
def _flag(zone: pd.Series) -> pd.Series:
    return zone.astype("object").map(FLAG_LEVELS).fillna("")


def share_signals(current: pd.DataFrame, policy) -> pd.DataFrame:
    """The Ministry's 疑似虚假就业 signals: unusually high 灵活就业 (12 + 76), 自由职业 (76) or
    自主创业 (75) shares.

    Each share is put on a funnel around the pooled provincial share with the overdispersion
    (random-effects) adjustment, so a university is flagged only when its share is high beyond the
    ordinary spread between universities: 预警 above the ``funnel_alarm`` limit, 关注 above
    ``funnel_alert``. Unusually low shares are not signals.
    """
    return _memoized("share_signals", current, (policy,), lambda: _share_signals(current, policy))


def _share_signals(current: pd.DataFrame, policy) -> pd.DataFrame:
    st = policy.statistics
    d = _denominator(current)
    frames = []
    for label, col, buckets in SIGNALS.values():
        hit = d[col].isin(list(buckets)).to_numpy(dtype=bool)
        g = (
            pd.DataFrame(
                {"university_code": d["university_code"].to_numpy(), "hit": hit.astype(np.int64)}
            )
            .groupby("university_code", observed=True, sort=True)["hit"]
            .agg(["size", "sum"])
        )
        t = pd.DataFrame(
            {
                "university_code": g.index.astype(str),
                "signal": label,
                "graduates": g["size"].to_numpy(),
                "count": g["sum"].to_numpy(),
            }
        )
        t["share"] = placement_rate(t["count"], t["graduates"])
        frames.append(_assess_against_province(t, "count", "graduates", st))
    return pd.concat(frames, ignore_index=True)


def _assess_against_province(t: pd.DataFrame, count: str, n: str, st) -> pd.DataFrame:
    """Place each university's share ``count / n`` on a funnel around the province's pooled
    share (random-effects limits when overdispersed) and add the warning columns."""
    pooled = pooled_rate(t[count], t[n])
    t["provincial_share"] = pooled
    funnel, od = funnel_assessment(
        t[count],
        t[n],
        target=pooled,
        alert=st.funnel_alert,
        alarm=st.funnel_alarm,
        winsor=st.winsor,
    )
    t["alert_high_limit"] = funnel["alert_high_limit"].to_numpy()
    t["alarm_high_limit"] = funnel["alarm_high_limit"].to_numpy()
    t["funnel_z"] = funnel["funnel_z"].to_numpy()
    t["flag_level"] = _flag(funnel["funnel_zone"]).to_numpy()
    t["signal_basis"] = "漏斗图（随机效应调整）" if od.overdispersed else "漏斗图（精确二项）"
    t["overdispersion_tau2"] = od.tau2 if od.overdispersed else 0.0
    return t


def jump_snapshots(counts: pd.DataFrame, policy, as_of) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The last two snapshots of the current cohort on or before its initial date (08-31)."""
    as_of = pd.Timestamp(as_of)
    cohort = int(counts.loc[counts["snapshot_date"] <= as_of, "cohort"].max())
    cutoff = min(as_of, pd.Timestamp(policy.date(policy.placement.initial_snapshot, cohort)))
    days = np.sort(
        counts.loc[
            (counts["cohort"] == cohort) & (counts["snapshot_date"] <= cutoff), "snapshot_date"
        ].unique()
    )
    if len(days) < 2:
        return None
    return pd.Timestamp(days[-2]), pd.Timestamp(days[-1])


def jump_signals(counts: pd.DataFrame, policy, as_of) -> pd.DataFrame:
    """Unusual jumps between the last two snapshots before 08-31, judged against the province.

    For each university: of the graduates not placed at the earlier snapshot, the share placed by
    the later one (``conversion_rate``; aggregate counts: newly placed = the rise in placed,
    bounded by [0, not placed before]). These shares go on a funnel around the pooled provincial
    share with the overdispersion adjustment, i.e. each university's jump is compared with the
    province's distribution of jumps; 预警 / 关注 as for the share signals. Empty when fewer
    than two snapshots exist.
    """
    st = policy.statistics
    cols = [
        "university_code",
        "signal",
        "previous_snapshot_date",
        "snapshot_date",
        "previous_rate",
        "placement_rate",
        "rate_jump",
        "graduates",
        "not_placed_before",
        "newly_placed",
        "conversion_rate",
        "provincial_share",
        "alert_high_limit",
        "alarm_high_limit",
        "funnel_z",
        "flag_level",
        "signal_basis",
        "overdispersion_tau2",
    ]
    pair = jump_snapshots(counts, policy, as_of)
    if pair is None:
        return pd.DataFrame(columns=cols)
    before, after = pair
    a = counts[counts["snapshot_date"] == before].set_index("university_code")
    b = counts[counts["snapshot_date"] == after].set_index("university_code")
    both = a.index.intersection(b.index)
    a, b = a.loc[both], b.loc[both]
    open_before = (a["graduates"] - a["placed"]).to_numpy()
    newly = np.clip((b["placed"] - a["placed"]).to_numpy(), 0, open_before)
    t = pd.DataFrame(
        {
            "university_code": both.astype(str),
            "signal": JUMP_SIGNAL,
            "previous_snapshot_date": before,
            "snapshot_date": after,
            "previous_rate": (a["placed"] / a["graduates"]).to_numpy(),
            "placement_rate": (b["placed"] / b["graduates"]).to_numpy(),
            "graduates": b["graduates"].to_numpy(),
            "not_placed_before": open_before,
            "newly_placed": newly,
        }
    )
    t["rate_jump"] = t["placement_rate"] - t["previous_rate"]
    t["conversion_rate"] = placement_rate(t["newly_placed"], t["not_placed_before"])
    t = _assess_against_province(t, "newly_placed", "not_placed_before", st)
    return t[cols].sort_values("university_code").reset_index(drop=True)


def warning_signals(
    current: pd.DataFrame,
    counts: pd.DataFrame,
    policy,
    as_of,
    universities: pd.DataFrame | None = None,
    university: str | None = None,
) -> pd.DataFrame:
    """All warning signals, one row per (university, signal); ``flagged`` marks 预警 / 关注.

    In university mode only the university's rows (the provincial share is a province aggregate).
    """
    shares = share_signals(current, policy)
    jumps = jump_signals(counts, policy, as_of)
    out = pd.concat([shares, jumps], ignore_index=True) if len(jumps) else shares
    cols = [
        "university_code",
        "signal",
        "graduates",
        "count",
        "share",
        "previous_snapshot_date",
        "snapshot_date",
        "previous_rate",
        "placement_rate",
        "rate_jump",
        "not_placed_before",
        "newly_placed",
        "conversion_rate",
        "provincial_share",
        "alert_high_limit",
        "alarm_high_limit",
        "funnel_z",
        "flag_level",
        "signal_basis",
        "overdispersion_tau2",
    ]
    out = out.reindex(columns=cols)
    for col in ("previous_snapshot_date", "snapshot_date"):
        out[col] = pd.to_datetime(out[col])
    for col in ("count", "not_placed_before", "newly_placed"):
        out[col] = pd.array(out[col], dtype="Int64")
    out.insert(cols.index("flag_level") + 1, "flagged", out["flag_level"] != "")
    if university is not None:
        out = out[out["university_code"] == university]
    return _attach_names(out, universities).reset_index(drop=True)


# --- progress through the year -------------------------------------------------------------------
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
        return _attach_names(pd.DataFrame(columns=cols), universities)
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
    return _attach_names(t.reset_index(drop=True), universities)


# --- university mode ----------------------------------------------------------------------------
def university_name(universities: pd.DataFrame | None, university: str) -> str:
    """The university's name from the reference (its code when the reference lacks it)."""
    if universities is not None:
        hit = universities.loc[universities["university_code"] == university, "university_name"]
        if len(hit) and pd.notna(hit.iloc[0]):
            return str(hit.iloc[0])
    return university


def check_university(current: pd.DataFrame, university: str | None) -> str | None:
    """Normalise and check the ``university`` parameter of a report (None = province)."""
    if university is None:
        return None
    code = str(university).strip()
    if not (len(code) == 5 and code.isdigit()):
        raise ValueError(f"university must be a 5-digit 院校代码 or None, got {university!r}")
    _one(current, code)
    return code


def label_dates(day: dt.date | pd.Timestamp | None) -> str:
    """'2023年8月31日' (or '—')."""
    if day is None or pd.isna(day):
        return "—"
    day = pd.Timestamp(day)
    return f"{day.year}年{day.month}月{day.day}日"


def with_names(df: pd.DataFrame, universities: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``university_name`` after ``university_code`` (ALL rows: 全省)."""
    if "university_name" in df.columns:
        return df
    return _attach_names(df, universities)


def scoped_labels(
    df: pd.DataFrame,
    columns: Sequence[str],
    names: dict[str, str] | None = None,
    with_scope: bool = True,
) -> pd.Series:
    """Row labels for charts: "福州大学·本科·工学" (university mode) or "本科·工学" (province)."""
    names = {ALL: PROVINCE_NAME, **(names or {})}
    parts = [df[c].astype("string").fillna(NOT_RECORDED) for c in columns]
    label = parts[0]
    for p in parts[1:]:
        label = label + "·" + p
    if with_scope:
        label = df["university_code"].map(lambda c: names.get(c, c)).astype("string") + "·" + label
    return label.astype(str)


def _pct(x: float, digits: int = 1) -> str:
    return "—" if x is None or pd.isna(x) else f"{x * 100:.{digits}f}%"


def _pp(x: float) -> str:
    if x is None or pd.isna(x):
        return ""
    word = "上升" if x > 0 else "下降" if x < 0 else "持平"
    return word if x == 0 else f"{word}{abs(x) * 100:.1f}个百分点"


def headline_text(head: pd.DataFrame, policy, names: dict[str, str] | None = None) -> str:
    """Chinese summary sentences of :func:`headline` (one paragraph per scope)."""
    names = {ALL: PROVINCE_NAME, **(names or {})}
    conf = policy.statistics.confidence
    out = []
    for r in head.itertuples(index=False):
        who = md(names.get(r.university_code, r.university_code))  # a name from the inputs
        text = (
            f"截至{label_dates(r.snapshot_date)}，{who}{r.cohort}届毕业生{r.graduates:,}人"
            f"（不含按政策不计入的结业、肄业生），已落实毕业去向{r.placed:,}人，"
            f"毕业去向落实率{_pct(r.placement_rate)}（{conf:.0%}置信区间"
            f"{_pct(r.ci_low)}–{_pct(r.ci_high)}），去向登记覆盖率{_pct(r.coverage_rate)}。"
        )
        if pd.notna(r.previous_rate):
            text += f"较上期（{label_dates(r.previous_snapshot_date)}）{_pp(r.rate_change)}；"
        else:
            text += "本届暂无更早的统计快照；"
        if pd.notna(r.last_year_rate):
            text += (
                f"较上届同期（{label_dates(r.last_year_snapshot_date)}，"
                f"{_pct(r.last_year_rate)}）{_pp(r.last_year_change)}。"
            )
        else:
            text += "暂无上届同期数据。"
        if r.coverage_rate < policy.placement.coverage_alert:
            text += (
                f"**注意：去向登记覆盖率低于{policy.placement.coverage_alert:.0%}，"
                "落实率可能被低估，应先督促登记。**"
            )
        out.append(text)
    return "\n\n".join(out)


def funnel_text(od: Overdispersion, policy, what: str = "各高校") -> str:
    """One Chinese paragraph on the overdispersion test and the limits used."""
    st = policy.statistics
    if od.units < 2:
        return f"{what}数量不足，无法进行离散度检验，控制限采用精确二项分布。"
    basis = (
        f"过度离散检验：φ={od.phi:.2f}，卡方={od.chi2:.1f}（自由度{od.dof}），p={od.p_value:.3g}。"
    )
    if od.overdispersed:
        return (
            basis + f"{what}之间的差异明显超出抽样误差，因此采用随机效应（反正弦尺度，"
            f"τ²={od.tau2:.4f}）调整后的{st.funnel_alert:.0%}与{st.funnel_alarm:.1%}控制限"
            "判定位置；精确二项限仅作参考。"
        )
    return (
        basis + f"{what}之间的差异未超出抽样误差，采用精确二项分布的{st.funnel_alert:.0%}与"
        f"{st.funnel_alarm:.1%}控制限。"
    )


def funnel_position_text(row: pd.DataFrame, od: Overdispersion, policy) -> str:
    """One Chinese sentence on one university's funnel position (a university's report states it
    instead of drawing a funnel plot with a single point): its rate, the pooled provincial rate,
    the control limits at its size (the limits that decide, see :func:`funnel_text`) and its zone.

    ``row``: the university's row of :func:`by_university` (:func:`university_row`).
    """
    if len(row) != 1:
        raise ValueError(f"funnel_position_text needs one university's row, got {len(row)} rows")
    r = row.iloc[0]
    st = policy.statistics
    method = "随机效应调整后的" if od.overdispersed else "精确二项"
    zone = r["funnel_zone"] if isinstance(r["funnel_zone"], str) else "无法判定"
    return (
        f"本校毕业生{int(r['graduates']):,}人，落实率{_pct(r['placement_rate'])}，"
        f"本期全省汇总落实率{_pct(r['provincial_rate'])}。按本校毕业生人数，{method}"
        f"{st.funnel_alert:.0%}控制限为{_pct(r['alert_low_limit'])}～{_pct(r['alert_high_limit'])}，"
        f"{st.funnel_alarm:.1%}控制限为{_pct(r['alarm_low_limit'])}～{_pct(r['alarm_high_limit'])}："
        f"本校位于**{zone}**。"
    )


def side_by_side(table: pd.DataFrame, keys: Sequence[str], university: str | None) -> pd.DataFrame:
    """Chart rows of a by-category table: in university mode only the university's categories, each
    followed by the province's figure for the same category; in province mode the table itself."""
    if university is None:
        return table
    keys = list(keys)
    own = table[table["university_code"] == university]
    present = own[keys].drop_duplicates()
    prov = table[table["university_code"] == ALL].merge(present, on=keys, how="inner")
    both = pd.concat([own, prov], ignore_index=True)
    both["_o"] = both["university_code"].eq(ALL).astype(int)
    return both.sort_values([*keys, "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
