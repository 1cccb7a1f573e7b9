"""pandera schemas of the normalised (still textual) datasets; failures become quarantine reasons.

Validation runs on the frame *after* normalisation (NFKC, codes repaired, university resolved,
labels mapped) and *before* typing, so each check sees exactly what would be stored and a failed
check names a reason code. The checks are written once, as :class:`Rule` s per dataset
(:func:`rules_for`); every rule is named after its reason code (``helpers.ingest.quarantine
.REASONS``) and the pandera schema (:func:`schema_for`) is built from them (dataframe-wide checks
named ``"<reason>|<column>"``). :func:`validate` evaluates every rule on every row in one
vectorised pass, as pandera applies it (collecting every failure, like ``lazy=True``; column rules
on repeated values once per distinct value), then pandera validates the accepted rows once,
lazily, so that the contract holds for everything kept; whatever pandera still finds is
quarantined as well. Rows are never dropped by pandera (no ``drop_invalid_rows``): failing rows go
to the quarantine with their reasons.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from helpers.codes import ACTIVITY_TYPES, HELP_TYPES, LEVELS, SUBMISSION_ITEMS, VISITOR_ROLES
from helpers.datasets import BY_NAME
from helpers.ingest.normalise import (
    MAJOR_CODE,
    NO,
    YES,
    bad_dates,
    distinct_rows,
    id_number_damaged,
    is_count,
    is_scientific,
    spread,
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
    "submissions": ("received_date",),
}
# platform: numerator -> denominator
PLATFORM_RATIOS = {
    "platform_followers": "graduates",
    "counsellors_bound": "counsellors",
    "registered": "graduates",
}


@dataclass(frozen=True)
class Rule:
    """One check of the contract: ``fn`` maps a column (the non-missing values, as pandera hands
    them to a column check) or the whole frame (frame-wide rules, ``column`` None) to a boolean
    Series, True where the row passes. ``reason`` is the quarantine reason code."""

    reason: str
    fn: Callable[[pd.Series], pd.Series] | Callable[[pd.DataFrame], pd.Series]
    column: str | None = None  # frame-wide rules: the column the reason names


@dataclass(frozen=True)
class Rules:
    """Every rule of one dataset: per column, whether it may be missing and its checks; plus the
    frame-wide checks. The pandera schema (:func:`schema_for`) is built from these."""

    columns: dict[str, tuple[bool, tuple[Rule, ...]]]
    frame: tuple[Rule, ...]


def _per_distinct(fn: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], pd.Series]:
    """A per-value column check evaluated once per distinct value (helpers.ingest.normalise)."""

    def check(s: pd.Series) -> pd.Series:
        d = distinct_rows([s])
        if d is None:
            return fn(s)
        ids, first = d
        return spread(fn(s.iloc[first].reset_index(drop=True)), ids, s.index)

    return check


def _not_sci(s: pd.Series) -> pd.Series:
    return ~is_scientific(s)


def _id_ok(s: pd.Series) -> pd.Series:
    return ~id_number_damaged(s)


def _date_ok(s: pd.Series) -> pd.Series:
    return ~bad_dates(s)


def _count_ok(s: pd.Series) -> pd.Series:
    return is_count(s)


def _isin(values, reason: str) -> Rule:
    allowed = frozenset(values)
    return Rule(reason, lambda s: s.isin(allowed))


def _matches(pattern: str, reason: str) -> Rule:
    return Rule(reason, _per_distinct(lambda s: s.str.fullmatch(pattern).fillna(False)))


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
def rules_for(dataset: str, university_codes: frozenset[str]) -> Rules:
    """The checks of one dataset's normalised frame (see the module docstring)."""
    d = BY_NAME[dataset]
    required = {c.name for c in d.columns if c.required}
    cols: dict[str, tuple[bool, tuple[Rule, ...]]] = {}
    frame: list[Rule] = []
    has_university = any("university_code" in g for g in d.one_of)

    def col(nullable: bool = True, *rules: Rule) -> tuple[bool, tuple[Rule, ...]]:
        return nullable, rules

    if has_university:
        uni = (_isin(university_codes, "unknown_university"),) if dataset != "universities" else ()
        cols["university_code"] = col(False, *uni)
        cols["_university_conflict"] = col(True)
        frame.append(Rule("university_conflict", _no_conflict, "university_code"))
    for c in d.columns:
        if (
            c.name in ("university_code", "university_id", "university_name")
            and dataset != "universities"
        ):
            continue
        if c.name in required:
            cols[c.name] = col(False)
    for name in DATE_COLUMNS.get(dataset, ()):
        cols[name] = col(name not in required, Rule("bad_date", _date_ok))
    for name in COUNT_COLUMNS.get(dataset, ()):
        cols[name] = col(name not in required, Rule("bad_count", _per_distinct(_count_ok)))

    if dataset == "graduates":
        cols["student_id"] = col(False, Rule("scientific_notation", _not_sci))
        cols["id_number"] = col(True, Rule("scientific_notation", _id_ok))
        cols["education_level"] = col(False, _isin(LEVELS, "unknown_level"))
        cols["major_code"] = col(False, _matches(MAJOR_CODE, "bad_major_code"))
        cols["destination_code"] = col(True, Rule("unknown_destination", valid_destination))
        cols["cohort"] = col(False, _matches(r"(19|20)[0-9]{2}", "bad_value"))
    elif dataset == "recruitment":
        cols["activity_type"] = col(False, _isin(ACTIVITY_TYPES, "unknown_category"))
        frame.append(Rule("window_reversed", _window_order, "window_end"))
    elif dataset == "visits":
        cols["visitor_role"] = col(False, _isin(VISITOR_ROLES, "unknown_category"))
        cols["new_employer"] = col(
            False, Rule("bad_value", _per_distinct(lambda s: s.str.upper().isin(YES | NO)))
        )
    elif dataset == "platform":
        for num, den in PLATFORM_RATIOS.items():
            frame.append(Rule("numerator_above_denominator", _ratio(num, den), num))
    elif dataset == "assistance":
        cols["student_id"] = col(False, Rule("scientific_notation", _not_sci))
        cols["help_type"] = col(False, _isin(HELP_TYPES, "unknown_category"))
    elif dataset == "universities":
        cols["university_code"] = col(False, _matches(r"^[0-9]{5}$", "bad_value"))
        cols["university_id"] = col(True, _matches(r"^[0-9]{10}$", "bad_value"))
    elif dataset == "majors":
        cols["major_code"] = col(False, _matches(MAJOR_CODE, "bad_major_code"))
    elif dataset == "submissions":
        cols["item"] = col(False, _isin(SUBMISSION_ITEMS, "unknown_category"))
    return Rules(cols, tuple(frame))


@lru_cache(maxsize=32)
def schema_for(dataset: str, university_codes: frozenset[str]) -> pa.DataFrameSchema:
    """The pandera schema of one dataset's normalised frame: every rule as a pandera check named
    after its reason code (frame-wide checks ``"<reason>|<column>"``)."""
    rules = rules_for(dataset, university_codes)
    cols = {
        name: pa.Column(
            None,
            checks=[pa.Check(r.fn, name=r.reason) for r in checks],
            nullable=nullable,
            required=True,
        )
        for name, (nullable, checks) in rules.columns.items()
    }
    frame = [pa.Check(r.fn, name=f"{r.reason}|{r.column}") for r in rules.frame]
    return pa.DataFrameSchema(cols, checks=frame, strict=False, coerce=False)


def _evaluate(rules: Rules, frame: pd.DataFrame) -> list[tuple[np.ndarray, str, str]]:
    """Every rule on every row, as pandera applies it: a column that may not be missing fails
    ``not_nullable`` (reason ``empty_required``) where it is; column checks see the values that
    are not missing; frame-wide checks pass rows whose every cell is missing. Returns (index
    labels, reason, column) per failed rule."""
    labels = frame.index.to_numpy()
    return [(labels[p], r, c) for p, r, c in _failed_positions(rules, frame)]


def _failed_positions(rules: Rules, frame: pd.DataFrame) -> list[tuple[np.ndarray, str, str]]:
    out: list[tuple[np.ndarray, str, str]] = []
    for name, (nullable, checks) in rules.columns.items():
        s = frame[name]
        missing = s.isna().to_numpy(dtype=bool)
        if not nullable and missing.any():
            out.append((np.flatnonzero(missing), "empty_required", name))
        if not checks:
            continue
        present = np.flatnonzero(~missing)
        values = s if len(present) == len(s) else s.iloc[present]
        for rule in checks:
            ok = np.asarray(rule.fn(values), dtype=bool)
            if not ok.all():
                out.append((present[~ok], rule.reason, name))
    for rule in rules.frame:
        ok = np.asarray(rule.fn(frame), dtype=bool)
        if not ok.all():
            failed = np.flatnonzero(~ok)
            empty = frame.iloc[failed].isna().all(axis="columns").to_numpy(dtype=bool)
            out.append((failed[~empty], rule.reason, rule.column))
    return out


def _failure_issues(dataset: str, fc: pd.DataFrame) -> list[tuple[np.ndarray, str, str]]:
    """pandera's failure cases (``SchemaErrors.failure_cases``) as issues."""
    fc = fc[fc["index"].notna()]
    unexpected = fc[~fc["check"].astype(str).str.match(r"^(not_nullable|[a-z_]+(\|[a-z_]+)?)$")]
    if len(unexpected):
        raise RuntimeError(
            f"schema problem in {dataset}: {unexpected[['column', 'check']].drop_duplicates().to_dict('records')}"
        )
    out = []
    for (check, column), g in fc.groupby(
        [fc["check"].astype(str), fc["column"].astype(object).fillna("")], sort=False
    ):
        reason, _, named = check.partition("|")
        reason = "empty_required" if reason == "not_nullable" else reason
        out.append((g["index"].astype("int64").to_numpy(), reason, named or column))
    return out


def validate(dataset: str, frame: pd.DataFrame, university_codes: frozenset[str]) -> pd.DataFrame:
    """Issues (pos, reason_code, column) of every failed check; ``frame`` has a RangeIndex = pos.

    Every rule is evaluated on every row in one vectorised pass (column checks once per distinct
    value where values repeat); then pandera validates the accepted rows against the schema built
    from the same rules, once, lazily: the contract holds for everything that is kept, and
    anything pandera still finds is quarantined too (this never happens unless the pass above and
    pandera disagree). Column names in the result are the Chinese headers of helpers.datasets.
    """
    rules = rules_for(dataset, university_codes)
    for name in rules.columns:
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype="str")
    issues = _evaluate(rules, frame)
    bad = np.unique(np.concatenate([p for p, _, _ in issues])) if issues else []
    accepted = frame[list(rules.columns)]  # the columns the schema names
    if len(bad):
        accepted = accepted.drop(index=bad)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema_for(dataset, university_codes).validate(accepted, lazy=True)
    except pa.errors.SchemaErrors as err:
        issues += _failure_issues(dataset, err.failure_cases)
    zh = {c.name: c.zh for c in BY_NAME[dataset].columns}
    if not issues:
        return pd.DataFrame(
            {
                "pos": pd.Series(dtype="int64"),
                "reason_code": pd.Series(dtype=object),
                "column": pd.Series(dtype=object),
            }
        )
    return pd.DataFrame(
        {
            "pos": np.concatenate([p for p, _, _ in issues]).astype("int64"),
            "reason_code": np.concatenate([np.full(len(p), r, dtype=object) for p, r, _ in issues]),
            "column": np.concatenate(
                [np.full(len(p), zh.get(c, c) if c else "", dtype=object) for p, _, c in issues]
            ),
        }
    )
