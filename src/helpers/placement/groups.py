"""Groups in difficulty (脱贫家庭, 低保家庭, 零就业家庭, 残疾, ...): each university's groups, the
notice's target for each, and the disclosure control of the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import grouping
from helpers.codes import GROUP_COLUMNS
from helpers.placement.aggregate import ALL, add_rates, denominator_mask, memoized
from helpers.placement.universities import attach_names


def group_order(policy) -> list[str]:
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
    if protect:
        t = _protected_group_table(current, policy)
    else:
        t = memoized("group_counts", current, (policy,), lambda: _group_table(current, policy))
    if university is not None:
        t = t[t["university_code"].isin([university, ALL])]
        # the audit kept with the table covers the rows it shows (pandas copies attrs with every
        # operation on the frame; every decision stays in the disclosure collector)
        audit = t.attrs.get("disclosure_audit")
        if audit:
            t.attrs["disclosure_audit"] = [r for r in audit if r["unit"] in (university, ALL)]
    t = attach_names(t, universities)
    order = {g: i for i, g in enumerate(group_order(policy))}
    key = t["university_code"].eq(ALL).astype(int) * 10_000 + t["group"].map(order)
    return (
        t.assign(_k=key)
        .sort_values(["_k", "university_code"], kind="stable")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def _group_table(current: pd.DataFrame, policy) -> pd.DataFrame:
    conf = policy.statistics.confidence
    groups = group_order(policy)
    # per university, one bincount over integer codes and flag patterns (helpers.grouping)
    willing_groups = [x for x in _willing_groups(policy) if x in groups]
    flags = {"placed": "placed", **{f"m_{i}": GROUP_COLUMNS[x] for i, x in enumerate(groups)}}
    if willing_groups:
        # unknown willingness counts as willing: the target is never met by a missing answer
        flags["willing"] = current["willing_to_work"].fillna(True)
    c = grouping.count_groups(current, ["university_code"], flags, mask=denominator_mask(current))
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


def _protected_group_table(current: pd.DataFrame, policy) -> pd.DataFrame:
    """The whole province's protected group table, remembered per process like the counts (the
    disclosure control of every university's cells is the same in each report of a period).

    Protecting a table records its decisions in the disclosure collector; a remembered table
    records them again (stamped with the time of this report), so a report's audit holds the same
    decisions whether computed or not.
    """
    computed = []

    def compute() -> pd.DataFrame:
        computed.append(True)
        counts = memoized("group_counts", current, (policy,), lambda: _group_table(current, policy))
        return protect_groups(counts, policy)

    t = memoized("protected_groups", current, (policy,), compute)
    if not computed:
        from helpers.disclosure.audit import collect_again

        collect_again(t.attrs.get("disclosure_audit") or [])
    return t


def protect_groups(table: pd.DataFrame, policy) -> pd.DataFrame:
    """Disclosure control of a group table (helpers.disclosure), target_met hidden with the rate."""
    from helpers.disclosure import protect_group_table

    out = protect_group_table(table, policy, table="placement_by_group")
    hidden = out["suppressed"].fillna("").astype(str) != ""
    out["target_met"] = out["target_met"].astype("boolean")
    out.loc[hidden, "target_met"] = pd.NA
    return out
