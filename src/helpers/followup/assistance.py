"""Graduates in difficulty (notice §五): rates against the university's own rate, the "3个3", 零就业
家庭 动态清零, disabled graduates willing to work, and the 7月1日 / 9月1日 checkpoints.

Who counts:
- rates (group rate, the university's own rate, gaps, checkpoints) use the graduates counted in
  placement rates (``in_denominator``, policy ``placement``);
- the person-based checks (3个3, 零就业家庭 not placed, disabled graduates willing to work and not
  placed) cover every graduate of the cohort in the group, 结业/肄业 included: help is owed to
  each of them.

Group tables about people in difficulty must pass :func:`protect` (helpers.disclosure) before
they are shown or written.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.codes import GROUP_COLUMNS
from helpers.config import Policy
from helpers.followup import dates
from helpers.followup.common import require_columns
from helpers.rates import placement_rate, wilson_interval

TOTAL = "ALL"
# 帮扶类型 -> the policy attribute holding the required count ("3个3")
HELP_REQUIREMENTS = {
    "谈心谈话": "talks",
    "就业促进活动": "activities",
    "岗位推荐": "recommendations",
}


def willing_all_placed_groups(policy: Policy) -> tuple[str, ...]:
    """Groups whose members willing to work must all be placed (notice §五: 残疾)."""
    return tuple(policy.assistance.willing_all_placed_groups)


def _group_column(group: str) -> str:
    try:
        return GROUP_COLUMNS[group]
    except KeyError:
        raise ValueError(
            f"policy group {group!r} is not a known 帮扶群体 (known: {', '.join(GROUP_COLUMNS)})"
        ) from None


def group_members(graduates: pd.DataFrame, groups) -> pd.DataFrame:
    """One row per (graduate, group) for the given group labels: student_key (when present),
    university_code, group (categorical in the given order), placed, in_denominator,
    willing_to_work."""
    groups = tuple(groups)
    cols = [_group_column(g) for g in groups]
    require_columns(graduates, ("university_code", "placed", "in_denominator", *cols), "graduates")
    base = [
        c
        for c in ("student_key", "university_code", "placed", "in_denominator")
        if c in graduates.columns
    ]
    if "willing_to_work" in graduates.columns:
        base.append("willing_to_work")
    flags = graduates[cols].to_numpy(dtype=bool)
    rows, which = np.nonzero(flags)
    out = graduates[base].iloc[rows].reset_index(drop=True)
    out.insert(
        int(out.columns.get_loc("university_code")) + 1,
        "group",
        pd.Categorical.from_codes(which, categories=list(groups)),
    )
    out["university_code"] = out["university_code"].astype("string")
    if "willing_to_work" not in out.columns:
        out["willing_to_work"] = pd.array([pd.NA] * len(out), dtype="boolean")
    return out


def university_rates(graduates: pd.DataFrame) -> pd.DataFrame:
    """Each university's own pooled rate (in_denominator graduates) and the province row ALL."""
    g = graduates.loc[graduates["in_denominator"]]
    by = g.groupby(g["university_code"].astype("string"), observed=True)["placed"].agg(
        ["size", "sum"]
    )
    by.loc[TOTAL] = [int(by["size"].sum()), int(by["sum"].sum())]
    out = by.rename(columns={"size": "university_graduates", "sum": "university_placed"})
    out["university_rate"] = placement_rate(out["university_placed"], out["university_graduates"])
    out.index.name = "university_code"
    return out.reset_index()


def group_rates(
    graduates: pd.DataFrame, policy: Policy, groups=None, confidence: float | None = None
) -> pd.DataFrame:
    """Per university (and ALL) and group: graduates, placed, placement_rate, ci_low, ci_high,
    university_rate, gap (group rate - university rate), below (rate under the university's).

    Every (university, group) pair is present; an empty group has graduates 0 and no rate.
    """
    groups = tuple(groups or policy.assistance.groups)
    confidence = confidence or policy.statistics.confidence
    members = group_members(graduates.loc[graduates["in_denominator"]], groups)
    by = members.groupby(["university_code", "group"], observed=False)["placed"].agg(
        ["size", "sum"]
    )
    tot = members.groupby("group", observed=False)["placed"].agg(["size", "sum"])
    tot.index = pd.MultiIndex.from_product([[TOTAL], tot.index], names=["university_code", "group"])
    codes = graduates["university_code"].astype("string").unique()
    full = pd.MultiIndex.from_product(
        [sorted(codes), list(groups)], names=["university_code", "group"]
    )
    by = by.reindex(full, fill_value=0)
    out = pd.concat([by, tot]).rename(columns={"size": "graduates", "sum": "placed"}).reset_index()
    out["group"] = out["group"].astype("string")
    out["graduates"] = out["graduates"].astype("int64")
    out["placed"] = out["placed"].astype("int64")
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    lo, hi = wilson_interval(out["placed"], out["graduates"], confidence)
    out["ci_low"], out["ci_high"] = lo, hi
    out = out.merge(
        university_rates(graduates)[["university_code", "university_rate"]],
        on="university_code",
        how="left",
    )
    out["gap"] = out["placement_rate"] - out["university_rate"]
    out["below"] = (out["gap"] < 0).fillna(False).astype(bool)
    return out


# --- 3个3 ---------------------------------------------------------------------------------------


def help_counts(assistance: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Help actions dated on or before ``as_of`` per graduate and 帮扶类型.

    Returns (counts with columns university_code, student_key and one column per help type,
    scope: records left out by reason — dated after as_of, unknown 帮扶类型).
    """
    require_columns(
        assistance, ("university_code", "student_key", "help_date", "help_type"), "assistance"
    )
    d = pd.Timestamp(as_of)
    when = pd.to_datetime(assistance["help_date"])
    known = assistance["help_type"].isin(list(HELP_REQUIREMENTS)).fillna(False).to_numpy(bool)
    late = (when > d).to_numpy()
    use = assistance.loc[known & ~late]
    counts = (
        use.assign(university_code=use["university_code"].astype("string"))
        .groupby(["university_code", "student_key", "help_type"], observed=True)
        .size()
        .unstack("help_type", fill_value=0)
        .reindex(columns=list(HELP_REQUIREMENTS), fill_value=0)
        .reset_index()
    )
    counts.columns.name = None
    scope = pd.DataFrame(
        {
            "dataset": "帮扶台账",
            "reason": ["晚于统计日期（待下期计入）", "帮扶类型无法识别"],
            "records": [int(late.sum()), int((~known & ~late).sum())],
        }
    )
    return counts, scope


def compliance_per_graduate(
    members: pd.DataFrame, counts: pd.DataFrame, policy: Policy
) -> pd.DataFrame:
    """Per graduate in a group: the three counts (0 without records) and ``compliant`` (each count
    >= the policy's requirement). Internal: never shown or written (one row per person)."""
    people = members[["university_code", "student_key"]].drop_duplicates()
    out = people.merge(counts, on=["university_code", "student_key"], how="left")
    ok = np.ones(len(out), dtype=bool)
    for help_type, attr in HELP_REQUIREMENTS.items():
        out[help_type] = out[help_type].fillna(0).astype("int64")
        ok &= out[help_type].to_numpy() >= getattr(policy.assistance, attr)
    out["compliant"] = ok
    return out


def unmatched_help_records(members: pd.DataFrame, counts: pd.DataFrame) -> int:
    """Graduates with help records who are not in any group of the cohort's snapshot (their
    records do not count toward the 3个3 of anyone; shown so nothing vanishes)."""
    people = members[["university_code", "student_key"]].drop_duplicates()
    merged = counts[["university_code", "student_key"]].merge(people, how="left", indicator=True)
    return int((merged["_merge"] == "left_only").sum())


def assistance_compliance(members: pd.DataFrame, per_graduate: pd.DataFrame) -> pd.DataFrame:
    """The contract table (before protection): per university (and ALL) and group — graduates,
    compliant_3x3, compliance_rate. A graduate in two groups counts in both."""
    m = members.merge(
        per_graduate[["university_code", "student_key", "compliant"]],
        on=["university_code", "student_key"],
        how="left",
    )
    by = m.groupby(["university_code", "group"], observed=False)["compliant"].agg(["size", "sum"])
    tot = m.groupby("group", observed=False)["compliant"].agg(["size", "sum"])
    tot.index = pd.MultiIndex.from_product([[TOTAL], tot.index], names=["university_code", "group"])
    out = pd.concat([by, tot]).rename(columns={"size": "graduates", "sum": "compliant_3x3"})
    out = out.reset_index()
    out["group"] = out["group"].astype("string")
    out["graduates"] = out["graduates"].astype("int64")
    out["compliant_3x3"] = out["compliant_3x3"].astype("int64")
    out["compliance_rate"] = placement_rate(out["compliant_3x3"], out["graduates"])
    return out


# --- must-be-placed groups ------------------------------------------------------------------------


def _person_table(
    members: pd.DataFrame,
    codes,
    groups,
    counted,
    placed,
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per university (every code, and ALL) and group: sums of the boolean masks ``counted``
    (-> graduates) and ``counted & placed`` (-> placed), plus any ``extra`` masks."""
    cols = {
        "graduates": np.asarray(counted, dtype=bool),
        "placed": np.asarray(counted, dtype=bool) & np.asarray(placed, dtype=bool),
    }
    cols.update({k: np.asarray(v, dtype=bool) for k, v in (extra or {}).items()})
    frame = pd.DataFrame(
        {
            "university_code": members["university_code"].astype("string"),
            "group": members["group"].astype("string"),
            **{k: v.astype("int64") for k, v in cols.items()},
        }
    )
    by = frame.groupby(["university_code", "group"], observed=True)[list(cols)].sum()
    full = pd.MultiIndex.from_product(
        [sorted(codes), list(groups)], names=["university_code", "group"]
    )
    by = by.reindex(full, fill_value=0)
    tot = by.groupby(level="group", sort=False).sum()
    tot.index = pd.MultiIndex.from_product([[TOTAL], tot.index], names=["university_code", "group"])
    out = pd.concat([by, tot]).reset_index()
    out["group"] = out["group"].astype("string")
    for col in cols:
        out[col] = out[col].astype("int64")
    out["placement_rate"] = placement_rate(out["placed"], out["graduates"])
    out["target_met"] = out["placed"] == out["graduates"]
    return out


def all_placed_check(graduates: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """零就业家庭 (policy ``all_placed_groups``) 动态清零: per university (and ALL) and group —
    graduates, placed, placement_rate, target_met (placed == graduates). Before protection."""
    groups = tuple(policy.assistance.all_placed_groups)
    members = group_members(graduates, groups)
    codes = graduates["university_code"].astype("string").unique()
    return _person_table(
        members,
        codes,
        groups,
        np.ones(len(members), dtype=bool),
        members["placed"].to_numpy(dtype=bool),
    )


def willing_check(graduates: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Disabled graduates willing to work (就业意愿 = 是) must all be placed: per university (and
    ALL) and group — graduates (willing), placed, placement_rate, willing_unknown (就业意愿 not
    recorded: not counted as willing, shown so nobody vanishes), target_met. Before
    protection."""
    groups = willing_all_placed_groups(policy)
    members = group_members(graduates, groups)
    willing = members["willing_to_work"].astype("boolean")
    codes = graduates["university_code"].astype("string").unique()
    return _person_table(
        members,
        codes,
        groups,
        willing.fillna(False).to_numpy(dtype=bool),
        members["placed"].to_numpy(dtype=bool),
        extra={"willing_unknown": willing.isna().to_numpy(dtype=bool)},
    )


# --- checkpoints -----------------------------------------------------------------------------------


def checkpoint_snapshots(
    history: pd.DataFrame, policy: Policy, as_of: dt.date, cohort: int
) -> pd.DataFrame:
    """For each due checkpoint: the graduates snapshot it judges (newest ``snapshot_date`` of
    ``cohort`` on or before the checkpoint's data date). Columns: checkpoint, checkpoint_label,
    data_date,
    snapshot_date (NaT when no snapshot exists yet)."""
    snaps = pd.to_datetime(
        pd.Series(history.loc[history["cohort"] == cohort, "snapshot_date"].unique())
    )
    rows = []
    for c in dates.due_checkpoints(policy, as_of):
        ok = snaps[snaps <= pd.Timestamp(c.data_date)]
        rows.append(
            {
                "checkpoint": pd.Timestamp(c.date),
                "checkpoint_label": c.label,
                "data_date": pd.Timestamp(c.data_date),
                "snapshot_date": ok.max() if len(ok) else pd.NaT,
            }
        )
    return pd.DataFrame(
        rows, columns=["checkpoint", "checkpoint_label", "data_date", "snapshot_date"]
    )


def checkpoint_gaps(
    history: pd.DataFrame, policy: Policy, as_of: dt.date, cohort: int
) -> pd.DataFrame:
    """Group rates of ``rate_above_school_groups`` (脱贫家庭, 低保家庭) against the university's own
    rate at every due checkpoint, from the snapshot the checkpoint judges (before protection).

    Columns: checkpoint, checkpoint_label, data_date, snapshot_date, then :func:`group_rates`' columns.
    """
    snaps = checkpoint_snapshots(history, policy, as_of, cohort)
    frames = []
    for row in snaps.dropna(subset=["snapshot_date"]).itertuples(index=False):
        snap = history.loc[
            (history["cohort"] == cohort)
            & (pd.to_datetime(history["snapshot_date"]) == row.snapshot_date)
        ]
        rates = group_rates(snap, policy, groups=policy.assistance.rate_above_school_groups)
        rates.insert(0, "snapshot_date", row.snapshot_date)
        rates.insert(0, "data_date", row.data_date)
        rates.insert(0, "checkpoint_label", row.checkpoint_label)
        rates.insert(0, "checkpoint", row.checkpoint)
        frames.append(rates)
    if not frames:
        return pd.DataFrame(
            columns=[
                "checkpoint",
                "checkpoint_label",
                "data_date",
                "snapshot_date",
                "university_code",
                "group",
                "graduates",
                "placed",
                "placement_rate",
                "ci_low",
                "ci_high",
                "university_rate",
                "gap",
                "below",
            ]
        )
    return pd.concat(frames, ignore_index=True)


# --- disclosure ------------------------------------------------------------------------------------


def protect(
    df: pd.DataFrame,
    policy: Policy,
    *,
    placed_col: str = "placed",
    rate_cols=("placement_rate",),
    by=(),
    table: str = "",
    audit: list | None = None,
) -> pd.DataFrame:
    """helpers.disclosure.protect_group_table on a whole group table (every university and ALL).

    Adds the complement ``not_placed`` (or ``not_<placed_col>``), ``suppressed`` (reason, "" when
    exact) and ``*_display`` strings; hidden cells are empty, never 0.
    """
    from helpers.disclosure import protect_group_table

    complement = "not_placed" if placed_col == "placed" else f"not_{placed_col}"
    return protect_group_table(
        df,
        policy,
        count_col="graduates",
        placed_col=placed_col,
        rate_cols=tuple(rate_cols),
        group_col="group",
        total_keys=("university_code",),
        by=tuple(by),
        table=table,
        audit=audit,
        complement_col=complement,
    )


def protect_checkpoints(
    gaps: pd.DataFrame, policy: Policy, audit: list | None = None
) -> pd.DataFrame:
    """Protect checkpoint gaps one checkpoint at a time (each is its own table)."""
    if gaps.empty:
        return gaps.assign(
            not_placed=pd.Series(dtype="Int64"),
            suppressed=pd.Series(dtype="object"),
            placement_rate_display=pd.Series(dtype="object"),
        )
    frames = [
        protect(
            part.reset_index(drop=True),
            policy,
            rate_cols=("placement_rate",),
            table=f"checkpoint_gaps_{label}",
            audit=audit,
        )
        for label, part in gaps.groupby("checkpoint_label", sort=False)
    ]
    return pd.concat(frames, ignore_index=True)
