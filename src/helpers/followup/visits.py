"""书记校长访企拓岗 (employer visits) against the notice's targets (§三).

Targets (policy ``visits``): every university visits at least ``employers_per_year`` distinct
employers in the calendar year; a university whose baseline rate (previous cohort's initial rate,
``universities.baseline_rate``) is below ``placement.provincial_average`` must also have its
leadership (``leader_roles``) open at least ``new_employers_first_half`` new employers by
``first_half_end``.

Counting rules:
- an employer is identified by its 统一社会信用代码, else by its normalised name; a name that carries
  a credit code in any other row of the data takes that code, so a repeat visit counts once;
- visits dated in the monitoring year up to ``as_of`` count; others are left out and counted;
- on track: distinct employers >= ceil(target x share of the year elapsed) (366-day years
  included); the new-employer target is pro-rated over the first half until ``first_half_end``
  and judged in full after it; a university without a baseline has no new-employer target;
- visits by 二级学院负责人 count toward the university's total and are also shown separately;
- a credit code that fails its GB 32100 check character (a typo) would make a second employer: ingest
  sets it aside (repair ``credit_code_check``) and the row is known by its name;
  :func:`invalid_credit_codes` counts those rows per university for the report.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.config import Policy
from helpers.followup import dates
from helpers.followup.common import (
    bad_rows_message,
    in_year_to_date,
    require_columns,
    scope_summary,
)
from helpers.tables import register_headers, register_table_titles

COLLEGE_ROLE = "二级学院负责人"  # 走访人职务 value of a department (二级学院) head
ROLE_GROUPS = ("校领导", "二级学院", "其他")
_INPUT = (
    "university_code",
    "visit_date",
    "visitor_role",
    "employer_name",
    "employer_credit_code",
    "new_employer",
    "positions",
)


def normalise_employer_name(names: pd.Series) -> pd.Series:
    """NFKC (full-width -> half-width, （）-> ()), no whitespace at all, upper-cased Latin."""
    s = names.astype("string").str.normalize("NFKC").str.replace(r"\s+", "", regex=True)
    return s.str.upper().replace("", pd.NA)


def employer_keys(visits: pd.DataFrame) -> pd.Series:
    """Employer identity per row: credit code, else the code another row gives the same name,
    else ``名称:<normalised name>``."""
    code = visits["employer_credit_code"].astype("string").str.normalize("NFKC").str.strip()
    code = code.str.upper().replace("", pd.NA)
    name = normalise_employer_name(visits["employer_name"])
    known = pd.DataFrame({"name": name, "code": code}).dropna()
    if len(known):
        # the most frequent code of each name (ties: the smallest code, deterministic)
        counts = known.groupby(["name", "code"], observed=True).size().reset_index(name="n")
        counts = counts.sort_values(["name", "n", "code"], ascending=[True, False, True])
        by_name = counts.drop_duplicates("name").set_index("name")["code"]
        code = code.fillna(name.map(by_name))
    key = code.fillna("名称:" + name)
    if key.isna().any():
        raise ValueError(
            bad_rows_message(
                visits,
                key.isna(),
                "visits",
                "employer_name",
                "走访单位名称与统一社会信用代码均为空",
            )
        )
    return key.astype("string")


def role_group(roles: pd.Series, policy: Policy) -> pd.Series:
    """校领导 (policy leader_roles) / 二级学院 / 其他."""
    r = roles.astype("string")
    out = np.select(
        [
            r.isin(list(policy.visits.leader_roles)).fillna(False).to_numpy(dtype=bool),
            (r == COLLEGE_ROLE).fillna(False).to_numpy(dtype=bool),
        ],
        list(ROLE_GROUPS[:2]),
        default=ROLE_GROUPS[2],
    )
    return pd.Series(pd.Categorical(out, categories=ROLE_GROUPS), index=roles.index)


def prepare_visits(visits: pd.DataFrame, policy: Policy, as_of: dt.date) -> pd.DataFrame:
    """Visits with ``employer_id`` (see :func:`employer_keys`), ``role_group``, ``leader``,
    ``in_first_half`` and ``in_scope`` (dated in the monitoring year up to as_of)."""
    require_columns(visits, _INPUT, "visits")
    df = visits.copy()
    negative = (df["positions"] < 0).to_numpy()
    if negative.any():
        raise ValueError(bad_rows_message(df, negative, "visits", "positions", "负数拓展岗位数"))
    df["visit_date"] = pd.to_datetime(df["visit_date"])
    df["employer_id"] = employer_keys(df)
    df["role_group"] = role_group(df["visitor_role"], policy)
    df["leader"] = df["role_group"] == ROLE_GROUPS[0]
    df["in_first_half"] = df["visit_date"] <= pd.Timestamp(dates.first_half_end(policy, as_of))
    counted, before, after = in_year_to_date(df["visit_date"], as_of)
    df["in_scope"] = counted.to_numpy()
    df["before_year"] = before.to_numpy()
    df["after_as_of"] = after.to_numpy()
    df["new_employer"] = df["new_employer"].astype("boolean").fillna(False).astype(bool)
    return df


def visits_scope(prepared: pd.DataFrame) -> pd.DataFrame:
    return scope_summary("访企拓岗", prepared["before_year"], prepared["after_as_of"])


def _distinct(df: pd.DataFrame, mask, name: str) -> pd.Series:
    return (
        df.loc[np.asarray(mask, dtype=bool)]
        .groupby("university_code", observed=True)["employer_id"]
        .nunique()
        .rename(name)
    )


def visits_progress(
    prepared: pd.DataFrame, universities: pd.DataFrame, policy: Policy, as_of: dt.date
) -> pd.DataFrame:
    """The contract table ``visits_progress``: one row per monitored university.

    ``universities``: university_code, university_name, baseline_rate (the monitored list).
    Columns: university_code, university_name, visits, distinct_employers, new_employers,
    new_employers_h1 (new employers opened by leaders by first_half_end), positions,
    leader_visits, college_visits, other_visits, college_distinct_employers, target_visits
    (the yearly target of distinct employers), expected_to_date, target_new_employers (empty
    where the target does not apply), expected_new_to_date, new_target_applies,
    on_track_employers, on_track_new, on_track.
    """
    v = prepared.loc[prepared["in_scope"]].copy()
    v["university_code"] = v["university_code"].astype("string")
    g = v.groupby("university_code", observed=True)
    out = pd.DataFrame({"visits": g.size(), "positions": g["positions"].sum()})
    out = out.join(_distinct(v, np.ones(len(v), dtype=bool), "distinct_employers"), how="outer")
    out = out.join(_distinct(v, v["new_employer"], "new_employers"), how="outer")
    h1 = v["new_employer"] & v["leader"] & v["in_first_half"]
    out = out.join(_distinct(v, h1, "new_employers_h1"), how="outer")
    roles = (
        v.groupby(["university_code", "role_group"], observed=False)
        .size()
        .unstack("role_group", fill_value=0)
    )
    roles = roles.reindex(columns=list(ROLE_GROUPS), fill_value=0)
    roles.columns = ["leader_visits", "college_visits", "other_visits"]
    out = out.join(roles, how="outer")
    out = out.join(
        _distinct(v, v["role_group"] == ROLE_GROUPS[1], "college_distinct_employers"), how="outer"
    )
    uni = universities[["university_code", "university_name", "baseline_rate"]].copy()
    uni["university_code"] = uni["university_code"].astype("string")
    out = uni.merge(out.reset_index(), on="university_code", how="outer")
    out["university_name"] = out["university_name"].astype("string").fillna(out["university_code"])
    counts = [
        "visits",
        "distinct_employers",
        "new_employers",
        "new_employers_h1",
        "positions",
        "leader_visits",
        "college_visits",
        "other_visits",
        "college_distinct_employers",
    ]
    out[counts] = out[counts].fillna(0).astype("int64")

    target = policy.visits.employers_per_year
    target_new = policy.visits.new_employers_first_half
    out["target_visits"] = target
    out["expected_to_date"] = dates.prorated_target(target, dates.year_fraction(as_of))
    applies = (out["baseline_rate"] < policy.placement.provincial_average).astype("boolean")
    applies = applies.mask(out["baseline_rate"].isna(), pd.NA)
    out["new_target_applies"] = applies
    yes = applies.fillna(False).to_numpy(dtype=bool)
    out["target_new_employers"] = pd.array(np.where(yes, target_new, np.nan), dtype="Int64")
    expected_new = dates.prorated_target(target_new, dates.first_half_fraction(policy, as_of))
    out["expected_new_to_date"] = pd.array(np.where(yes, expected_new, np.nan), dtype="Int64")
    out["on_track_employers"] = out["distinct_employers"] >= out["expected_to_date"]
    on_new = pd.array(out["new_employers_h1"] >= expected_new, dtype="boolean")
    out["on_track_new"] = pd.Series(on_new, index=out.index).where(yes, pd.NA)
    out["on_track"] = out["on_track_employers"] & out["on_track_new"].fillna(True).astype(bool)
    cols = [
        "university_code",
        "university_name",
        "baseline_rate",
        "visits",
        "distinct_employers",
        "new_employers",
        "new_employers_h1",
        "positions",
        "leader_visits",
        "college_visits",
        "other_visits",
        "college_distinct_employers",
        "target_visits",
        "expected_to_date",
        "new_target_applies",
        "target_new_employers",
        "expected_new_to_date",
        "on_track_employers",
        "on_track_new",
        "on_track",
    ]
    return out[cols].sort_values("university_code", ignore_index=True)


def visits_by_role(prepared: pd.DataFrame) -> pd.DataFrame:
    """Per university and role group (校领导 / 二级学院 / 其他): visits, distinct employers, new
    employers, positions — the 二级学院 extension shown on its own."""
    v = prepared.loc[prepared["in_scope"]]
    g = v.groupby(["university_code", "role_group"], observed=True)
    out = pd.DataFrame(
        {
            "visits": g.size(),
            "distinct_employers": g["employer_id"].nunique(),
            "positions": g["positions"].sum(),
        }
    )
    new = (
        v.loc[v["new_employer"]]
        .groupby(["university_code", "role_group"], observed=True)["employer_id"]
        .nunique()
    )
    out["new_employers"] = new.reindex(out.index, fill_value=0).astype("int64")
    return out.reset_index()


def cumulative_by_month(prepared: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Cumulative distinct employers per university at each month end of the monitoring year up
    to ``as_of`` (the last point is ``as_of`` itself), for the progress chart."""
    v = prepared.loc[prepared["in_scope"]]
    first = v.groupby(["university_code", "employer_id"], observed=True)["visit_date"].min()
    month_ends = pd.date_range(dt.date(as_of.year, 1, 1), as_of, freq="ME")
    points = pd.DatetimeIndex([*month_ends[month_ends < pd.Timestamp(as_of)], pd.Timestamp(as_of)])
    first = first.reset_index()
    pos = np.searchsorted(points.to_numpy(), first["visit_date"].to_numpy(), side="left")
    first["point"] = points[pos]
    counts = first.groupby(["university_code", "point"], observed=True).size()
    codes = v["university_code"].astype("string").unique()
    full = counts.reindex(
        pd.MultiIndex.from_product([sorted(codes), points], names=["university_code", "point"]),
        fill_value=0,
    )
    cum = full.groupby(level="university_code").cumsum().rename("distinct_employers").reset_index()
    fractions = {p: dates.year_fraction(p.date()) for p in points}
    cum["year_fraction"] = cum["point"].map(fractions).astype("float64")
    return cum.rename(columns={"point": "date"})


def province_cumulative(
    cumulative: pd.DataFrame, universities: int, policy: Policy
) -> pd.DataFrame:
    """Sum over universities of cumulative distinct employers, beside the pro-rated on-track line
    (``universities`` x yearly target x share of the year elapsed)."""
    out = cumulative.groupby("date", observed=True).agg(
        distinct_employers=("distinct_employers", "sum"), year_fraction=("year_fraction", "first")
    )
    out["on_track_line"] = universities * policy.visits.employers_per_year * out["year_fraction"]
    return out.reset_index()


# repair codes of ingest that set a 统一社会信用代码 aside: a wrong shape, a wrong check character
INVALID_CREDIT_REPAIRS = ("unrecognised_to_na", "credit_code_check")


def invalid_credit_codes(
    visits: pd.DataFrame,
    repairs: pd.DataFrame,
    universities: pd.DataFrame | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Per university: visit rows whose 统一社会信用代码 ingest set aside (``repairs`` of the
    processed folder; shape or check character wrong), beside the visit rows and those carrying
    a valid code. Columns: university_code, visits, valid_code_visits, invalid_code_visits,
    invalid_code_share.

    Rows are matched to the repairs by source file and row; a repair of a merged duplicate or a
    quarantined row has no visit row and is not counted. ``universities`` (university_code)
    adds the monitored universities without any visit (all counts 0); with ``as_of`` only
    visits dated in the monitoring year up to ``as_of`` count (as in :func:`visits_progress`).
    """
    from helpers.datasets import VISITS
    from helpers.ingest.readers import header_key

    require_columns(visits, ("university_code", "employer_credit_code", "source_file"), "visits")
    if as_of is not None:
        visits = visits.loc[in_year_to_date(visits["visit_date"], as_of)[0].to_numpy()]
    credit_headers = {
        header_key(h) for h, name in VISITS.aliases.items() if name == "employer_credit_code"
    }
    r = repairs
    if len(r):
        r = r.loc[
            (r["dataset"] == "visits")
            & r["repair_code"].isin(INVALID_CREDIT_REPAIRS)
            & r["column"].astype("string").map(header_key, na_action="ignore").isin(credit_headers)
        ]
    bad = pd.MultiIndex.from_arrays(
        [r["source_file"].astype("string"), r["row"].astype("Int64")]
        if len(r)
        else [pd.Series([], dtype="string"), pd.Series([], dtype="Int64")]
    )
    key = pd.MultiIndex.from_arrays(
        [visits["source_file"].astype("string"), visits["source_row"].astype("Int64")]
    )
    v = pd.DataFrame(
        {
            "university_code": visits["university_code"].astype("string").to_numpy(),
            "invalid": key.isin(bad),
            "valid_code_visits": visits["employer_credit_code"].notna().to_numpy(),
        }
    )
    g = v.groupby("university_code", observed=True)
    out = pd.DataFrame(
        {
            "visits": g.size(),
            "valid_code_visits": g["valid_code_visits"].sum(),
            "invalid_code_visits": g["invalid"].sum(),
        }
    )
    if universities is not None:
        codes = universities["university_code"].astype("string")
        out = out.reindex(out.index.union(pd.Index(codes.unique())), fill_value=0)
    out = out.astype("int64")
    entered = out["valid_code_visits"] + out["invalid_code_visits"]
    out["invalid_code_share"] = (out["invalid_code_visits"] / entered.where(entered > 0)).astype(
        "float64"
    )
    out.index.name = "university_code"
    return out.reset_index().sort_values("university_code", ignore_index=True)


register_headers(
    {
        "valid_code_visits": "有效信用代码走访次数",
        "invalid_code_visits": "信用代码无效走访次数",
        "invalid_code_share": "信用代码无效占比",
    }
)
register_table_titles({"visits_credit_codes": "访企拓岗信用代码校验"})
