"""pandera schemas of the normalised (still textual) datasets; failures become quarantine reasons.

Validation runs on the frame *after* normalisation (NFKC, codes repaired, university resolved,
labels mapped) and *before* typing, so each check sees exactly what would be stored and a failed
check names a reason code. Every check is named after its reason code (``helpers.ingest.quarantine
.REASONS``); dataframe-wide checks are named ``"<reason>|<column>"``. Schemas validate with
``lazy=True`` to collect every failure; rows are never dropped by pandera (no
``drop_invalid_rows``): failing rows go to the quarantine with their reasons.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

from helpers.codes import ACTIVITY_TYPES, HELP_TYPES, LEVELS, VISITOR_ROLES
from helpers.datasets import BY_NAME
from helpers.ingest.normalise import (
    MAJOR_CODE,
    NO,
    YES,
    bad_dates,
    id_number_damaged,
    is_count,
    is_scientific,
    valid_destination,
)

COUNT_COLUMNS = {
    "recruitment": ("events", "employers", "positions", "student_visits"),
    "visits": ("positions",),
    "platform": (
        "graduates",
        "platform_followers",
        "counsellors",
        "counsellors_bound",
        "registered",
    ),
}
DATE_COLUMNS = {
    "graduates": (),
    "recruitment": ("window_start", "window_end"),
    "visits": ("visit_date",),
    "platform": ("stat_date",),
    "assistance": ("help_date",),
    "universities": (),
    "majors": (),
    "adjustment_plans": ("received_date",),
}
# platform: numerator -> denominator
PLATFORM_RATIOS = {
    "platform_followers": "graduates",
    "counsellors_bound": "counsellors",
    "registered": "graduates",
}


def _col(nullable: bool = True, checks=None) -> pa.Column:
    return pa.Column(None, checks=checks or [], nullable=nullable, required=True)


def _not_sci(s: pd.Series) -> pd.Series:
    return ~is_scientific(s)


def _date_ok(s: pd.Series) -> pd.Series:
    return ~bad_dates(s)


def _count_ok(s: pd.Series) -> pd.Series:
    return is_count(s)


def _isin(values, name: str) -> pa.Check:
    allowed = frozenset(values)
    return pa.Check(lambda s: s.isin(allowed), name=name)


def _matches(pattern: str, name: str) -> pa.Check:
    return pa.Check(lambda s: s.str.fullmatch(pattern).fillna(False), name=name)


def _university(codes: frozenset[str]) -> list[pa.Check]:
    return [_isin(codes, "unknown_university")]


def _no_conflict(df: pd.DataFrame) -> pd.Series:
    return ~df["_university_conflict"].astype(bool)


def _window_order(df: pd.DataFrame) -> pd.Series:
    from helpers.ingest.normalise import parse_dates

    start, end = parse_dates(df["window_start"]), parse_dates(df["window_end"])
    return ~(start > end).fillna(False)


def _ratio(num: str, den: str):
    def check(df: pd.DataFrame) -> pd.Series:
        n = pd.to_numeric(df[num], errors="coerce")
        d = pd.to_numeric(df[den], errors="coerce")
        return ~(n > d).fillna(False)

    return check


@lru_cache(maxsize=32)
def schema_for(dataset: str, university_codes: frozenset[str]) -> pa.DataFrameSchema:
    """The pandera schema of one dataset's normalised frame."""
    d = BY_NAME[dataset]
    required = {c.name for c in d.columns if c.required}
    cols: dict[str, pa.Column] = {}
    frame_checks: list[pa.Check] = []
    has_university = any("university_code" in g for g in d.one_of)

    if has_university:
        uni_checks = _university(university_codes) if dataset != "universities" else []
        cols["university_code"] = _col(False, uni_checks)
        cols["_university_conflict"] = _col(True)
        frame_checks.append(pa.Check(_no_conflict, name="university_conflict|university_code"))
    for c in d.columns:
        if (
            c.name in ("university_code", "university_id", "university_name")
            and dataset != "universities"
        ):
            continue
        if c.name in required:
            cols[c.name] = _col(False)
    for name in DATE_COLUMNS.get(dataset, ()):
        cols[name] = _col(name not in required, [pa.Check(_date_ok, name="bad_date")])
    for name in COUNT_COLUMNS.get(dataset, ()):
        cols[name] = _col(name not in required, [pa.Check(_count_ok, name="bad_count")])

    if dataset == "graduates":
        cols["student_id"] = _col(False, [pa.Check(_not_sci, name="scientific_notation")])
        cols["id_number"] = _col(
            True, [pa.Check(lambda s: ~id_number_damaged(s), name="scientific_notation")]
        )
        cols["education_level"] = _col(False, [_isin(LEVELS, "unknown_level")])
        cols["major_code"] = _col(False, [_matches(MAJOR_CODE, "bad_major_code")])
        cols["destination_code"] = _col(
            True, [pa.Check(valid_destination, name="unknown_destination")]
        )
        cols["cohort"] = _col(
            False,
            [
                pa.Check(
                    lambda s: s.str.fullmatch(r"(19|20)[0-9]{2}").fillna(False), name="bad_value"
                )
            ],
        )
    elif dataset == "recruitment":
        cols["activity_type"] = _col(False, [_isin(ACTIVITY_TYPES, "unknown_category")])
        frame_checks.append(pa.Check(_window_order, name="window_reversed|window_end"))
    elif dataset == "visits":
        cols["visitor_role"] = _col(False, [_isin(VISITOR_ROLES, "unknown_category")])
        cols["new_employer"] = _col(
            False, [pa.Check(lambda s: s.str.upper().isin(YES | NO), name="bad_value")]
        )
    elif dataset == "platform":
        for num, den in PLATFORM_RATIOS.items():
            frame_checks.append(
                pa.Check(_ratio(num, den), name=f"numerator_above_denominator|{num}")
            )
    elif dataset == "assistance":
        cols["student_id"] = _col(False, [pa.Check(_not_sci, name="scientific_notation")])
        cols["help_type"] = _col(False, [_isin(HELP_TYPES, "unknown_category")])
    elif dataset == "universities":
        cols["university_code"] = _col(False, [_matches(r"^[0-9]{5}$", "bad_value")])
        cols["university_id"] = _col(True, [_matches(r"^[0-9]{10}$", "bad_value")])
    elif dataset == "majors":
        cols["major_code"] = _col(False, [_matches(MAJOR_CODE, "bad_major_code")])
    return pa.DataFrameSchema(cols, checks=frame_checks, strict=False, coerce=False)


def validate(dataset: str, frame: pd.DataFrame, university_codes: frozenset[str]) -> pd.DataFrame:
    """Issues (pos, reason_code, column) of every failed check; ``frame`` has a RangeIndex = pos.

    Column names in the result are the Chinese headers of helpers.datasets.
    """
    schema = schema_for(dataset, university_codes)
    for name in schema.columns:
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype="str")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
    else:
        return pd.DataFrame(
            {
                "pos": pd.Series(dtype="int64"),
                "reason_code": pd.Series(dtype=object),
                "column": pd.Series(dtype=object),
            }
        )
    fc = fc[fc["index"].notna()]
    unexpected = fc[~fc["check"].astype(str).str.match(r"^(not_nullable|[a-z_]+(\|[a-z_]+)?)$")]
    if len(unexpected):
        raise RuntimeError(
            f"schema problem in {dataset}: {unexpected[['column', 'check']].drop_duplicates().to_dict('records')}"
        )
    check = fc["check"].astype(str)
    parts = check.str.split("|", n=1, expand=True)
    reason = parts[0].replace({"not_nullable": "empty_required"})
    column = fc["column"].astype(object).where(fc["column"].notna(), None)
    if parts.shape[1] > 1:
        column = parts[1].where(parts[1].notna(), column)
    zh = {c.name: c.zh for c in BY_NAME[dataset].columns}
    return pd.DataFrame(
        {
            "pos": fc["index"].astype("int64").to_numpy(),
            "reason_code": reason.to_numpy(dtype=object),
            "column": column.map(lambda c: zh.get(c, c) if isinstance(c, str) else "").to_numpy(
                dtype=object
            ),
        }
    )
