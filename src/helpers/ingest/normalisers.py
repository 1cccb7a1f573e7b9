"""Normalisers: the batch frame of clean cell text -> the validation frame (still text), with
every repair logged (helpers.ingest.quarantine.REPAIRS). One function per dataset
(:data:`NORMALISERS`); free text that holds personal data is scrubbed here (:data:`FREE_TEXT`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.codes import SUBMISSION_ITEM_ALIASES
from helpers.ingest import normalise as nz
from helpers.ingest.schemas import COUNT_COLUMNS
from helpers.ingest.tasks import Context, zh_header
from helpers.ingest.university_codes import resolve_university


class Repairs:
    def __init__(self, frame: pd.DataFrame, dataset: str):
        self.frame = frame
        self.dataset = dataset
        self.parts: list[pd.DataFrame] = []

    def add(self, mask, column: str, code: str, before=None, after=None, personal: bool = False):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        pos = np.flatnonzero(mask)
        n = len(pos)

        def values(v):
            if personal or v is None:
                return np.full(n, "", dtype=object)
            return (
                pd.Series(v)
                .iloc[pos]
                .astype(object)
                .where(lambda x: x.notna(), "")
                .astype(str)
                .to_numpy()
            )

        self.parts.append(
            pd.DataFrame(
                {
                    "pos": pos,
                    "column": zh_header(self.dataset, column),
                    "repair_code": code,
                    "before": values(before),
                    "after": values(after),
                }
            )
        )

    def result(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["pos", "column", "repair_code", "before", "after"])
        return pd.concat(self.parts, ignore_index=True)


class Columns(dict):
    """Columns collected by name, made into one frame at the end (assigning columns to a frame
    one by one costs more than the column work itself on small batches)."""

    def __init__(self, index: pd.Index):
        super().__init__()
        self.index = index

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(dict(self), index=self.index)


def _float_suffix_removed(s: pd.Series) -> pd.Series:
    """'2023001.0' -> '2023001' (a number stored as a decimal); only where a '.' occurs."""
    if not nz.may_contain(s, b"."):
        return s
    return s.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)


def _col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return frame[name] if name in frame.columns else None


def _text_or_na(frame: pd.DataFrame, name: str) -> pd.Series:
    """A clean text column of the batch frame, or all-missing when no file had it."""
    s = _col(frame, name)
    return s if s is not None else pd.Series(np.nan, index=frame.index, dtype="str")


def _university(frame: pd.DataFrame, ctx: Context, rep: Repairs, v: pd.DataFrame) -> None:
    r = resolve_university(
        _col(frame, "university_code"),
        _col(frame, "university_id"),
        _col(frame, "university_name"),
        ctx.universities,
        frame.index,
    )
    rep.add(
        r.code_floats,
        "university_code",
        "float_suffix",
        r.code_before,
        r.code_before.str.replace(r"\.0+$", "", regex=True),
    )
    rep.add(r.id_floats, "university_id", "float_suffix", _col(frame, "university_id"), r.id_text)
    rep.add(r.id_used, "university_code", "university_id_to_code", r.id_text, r.code)
    rep.add(
        r.name_used,
        "university_code",
        "university_name_to_code",
        _col(frame, "university_name"),
        r.code,
    )
    v["university_code"] = r.code
    v["_university_conflict"] = r.conflict


def _code(frame, name, rep: Repairs, v, personal=False) -> None:
    s = _col(frame, name)
    if s is None:
        v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
        return
    clean, floats = nz.clean_code(s)
    rep.add(floats, name, "float_suffix", s, clean, personal)
    v[name] = clean


def _count_cols(frame, dataset, rep: Repairs, v) -> None:
    for name in COUNT_COLUMNS.get(dataset, ()):
        s = _col(frame, name)
        if s is None:
            v[name] = pd.Series(np.nan, index=frame.index, dtype="str")
            continue
        clean, thousands, floats = nz.clean_counts(s)
        rep.add(thousands, name, "thousands_separator", s, clean)
        rep.add(floats, name, "float_suffix", s, clean)
        v[name] = clean


def _optional(mask_bad, name, rep: Repairs, raw, personal=False) -> None:
    rep.add(mask_bad, name, "unrecognised_to_na", raw, None, personal)


# Free-text columns that reach reports, per dataset: a cell holding an ID number, a mobile number
# or a 学号 of the batch (in any formatting) is replaced whole by nz.SCRUBBED and logged (file, row,
# column; the value itself never), so that one careless cell does not withhold the whole run.
FREE_TEXT = {
    "graduates": ("department", "major_name", "employer_name", "difficulty_category"),
    "visits": ("employer_name",),
    "universities": ("university_name", "school_level", "ownership", "city"),
    "majors": ("major_name", "discipline_name"),
}


def _scrub(
    dataset: str, v: Columns, rep: Repairs, student_ids: pd.Series | None = None, files=None
):
    """Replace free-text cells that hold personal data (see :data:`FREE_TEXT`). ``student_ids``:
    the 学号 of the rows; a cell is compared with those of its own file (``files``: the rows'
    file labels), so that a file's result does not depend on the other files of its batch."""
    by_file = [] if student_ids is None else _rows_by_file(student_ids, files)
    for name in FREE_TEXT.get(dataset, ()):
        if student_ids is None:
            hit = nz.personal_text(v[name])
        else:
            hit = np.zeros(len(v[name]), dtype=bool)
            for rows, known in by_file:
                hit[rows] = nz.personal_text(v[name].iloc[rows], known)
        if hit.any():
            rep.add(hit, name, "personal_data_scrubbed", personal=True)
            v[name] = v[name].mask(hit, nz.SCRUBBED)


def _rows_by_file(student_ids: pd.Series, files) -> list[tuple[np.ndarray, Callable]]:
    """(rows, their file's 学号 as a set made on first use and then kept) for each file: the set
    is asked for only when a cell could hold one, and then shared by the file's columns."""
    codes = np.asarray(files.cat.codes)
    out = []
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        out.append((rows, functools.cache(partial(_identifiers, student_ids.iloc[rows]))))
    return out


def _identifiers(student_ids: pd.Series) -> frozenset[str]:
    from helpers import pii

    return pii.identifier_set(pa.array(student_ids.dropna().unique(), type=pa.large_string()))


# --- normalisers: cell text -> validation frame (text) --------------------------------------
def _normalise_graduates(f: pd.DataFrame, ctx: Context, rep: Repairs) -> pd.DataFrame:
    v = Columns(f.index)
    sid = _text_or_na(f, "student_id")
    fixed = _float_suffix_removed(sid)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    level, status, one_digit = nz.parse_levels(_text_or_na(f, "education_level"))
    rep.add(one_digit, "education_level", "zero_pad", f.get("education_level"), level)
    v["education_level"], v["graduation_status"] = level, status
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    dest, from_label, dfloats = nz.destination_codes(
        _col(f, "destination_code"), _col(f, "destination"), f.index
    )
    rep.add(dfloats, "destination_code", "float_suffix", f.get("destination_code"), dest)
    rep.add(from_label, "destination_code", "destination_from_label", f.get("destination"), dest)
    v["destination_code"] = dest
    v["id_number"] = _text_or_na(f, "id_number")
    cohort, cfloats = nz.clean_code(_text_or_na(f, "cohort"))
    cohort = cohort.str.replace(r"^([0-9]{4})届?$", r"\1", regex=True)
    rep.add(cfloats, "cohort", "float_suffix", f.get("cohort"), cohort)
    default_year = f["_folder"].astype("str").str.slice(0, 4)
    v["cohort"] = cohort.fillna(default_year)
    gender, bad = nz.parse_gender(_text_or_na(f, "gender"))
    _optional(bad, "gender", rep, f.get("gender"))
    v["gender"] = gender
    ur, bad = nz.parse_urban_rural(_text_or_na(f, "urban_rural"))
    _optional(bad, "urban_rural", rep, f.get("urban_rural"))
    v["urban_rural"] = ur
    willing, bad = nz.parse_yes_no(_text_or_na(f, "willing_to_work"))
    _optional(bad, "willing_to_work", rep, f.get("willing_to_work"))
    v["willing_to_work"] = willing
    groups, unknown = nz.split_groups(_text_or_na(f, "assistance_groups"))
    rep.add(unknown.notna(), "assistance_groups", "unknown_group", unknown, None)
    for c in groups.columns:
        v[c] = groups[c]
    pdate = nz.parse_dates(_text_or_na(f, "placement_date"))
    _optional(
        _text_or_na(f, "placement_date").notna() & pdate.isna(),
        "placement_date",
        rep,
        f.get("placement_date"),
    )
    v["placement_date"] = pdate
    for name in ("department", "difficulty_category", "employer_name"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    for name in (
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
    ):
        _code(f, name, rep, v)
    _credit_code(f, rep, v)
    _scrub("graduates", v, rep, fixed, f["_file"])
    return v.frame()


def _credit_code(f, rep: Repairs, v) -> None:
    cc, floats = nz.clean_code(_text_or_na(f, "employer_credit_code"))
    rep.add(floats, "employer_credit_code", "float_suffix", f.get("employer_credit_code"), cc)
    bad = cc.notna() & ~cc.str.fullmatch(nz.CREDIT_CODE).fillna(False)
    _optional(bad, "employer_credit_code", rep, f.get("employer_credit_code"))
    # right shape, wrong check character: a mistyped code would count as a second employer
    mistyped = cc.notna() & ~bad & ~nz.credit_codes_valid(cc)
    rep.add(mistyped, "employer_credit_code", "credit_code_check", f.get("employer_credit_code"))
    v["employer_credit_code"] = cc.mask(bad | mistyped)


def _normalise_recruitment(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    _university(f, ctx, rep, v)
    for name in ("window_start", "window_end"):
        v[name] = _text_or_na(f, name)
    v["activity_type"] = nz.match_name(_text_or_na(f, "activity_type"))
    _count_cols(f, "recruitment", rep, v)
    return v.frame()


def _normalise_visits(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    _university(f, ctx, rep, v)
    v["visit_date"] = _text_or_na(f, "visit_date")
    v["visitor"] = _text_or_na(f, "visitor")
    v["visitor_role"] = nz.match_name(_text_or_na(f, "visitor_role"))
    v["employer_name"] = nz.clean_name(_text_or_na(f, "employer_name"))
    _credit_code(f, rep, v)
    v["new_employer"] = _text_or_na(f, "new_employer")
    _count_cols(f, "visits", rep, v)
    _scrub("visits", v, rep)
    return v.frame()


def _normalise_platform(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    _university(f, ctx, rep, v)
    v["stat_date"] = _text_or_na(f, "stat_date")
    _count_cols(f, "platform", rep, v)
    return v.frame()


def _normalise_assistance(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    sid = _text_or_na(f, "student_id")
    fixed = _float_suffix_removed(sid)
    rep.add(sid.notna() & (fixed != sid), "student_id", "float_suffix", personal=True)
    v["student_id"] = fixed
    _university(f, ctx, rep, v)
    v["help_date"] = _text_or_na(f, "help_date")
    v["help_type"] = nz.match_name(_text_or_na(f, "help_type"))
    v["helper"] = _text_or_na(f, "helper")
    return v.frame()


def _normalise_universities(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    code, cfloats = nz.clean_code(_text_or_na(f, "university_code"))
    uid, ifloats = nz.clean_code(_text_or_na(f, "university_id"))
    rep.add(cfloats, "university_code", "float_suffix", f.get("university_code"), code)
    rep.add(ifloats, "university_id", "float_suffix", f.get("university_id"), uid)
    from_id = uid.where(uid.str.fullmatch(r"41[0-9]{2}0[0-9]{5}").fillna(False)).str.slice(5, 10)
    rep.add(code.isna() & from_id.notna(), "university_code", "university_id_to_code", uid, from_id)
    v["university_code"] = code.fillna(from_id)
    v["university_id"] = uid
    v["_university_conflict"] = (code.notna() & from_id.notna() & (code != from_id)).fillna(False)
    v["university_name"] = nz.clean_name(_text_or_na(f, "university_name"))
    for name in ("school_level", "ownership", "city"):
        v[name] = nz.clean_name(_text_or_na(f, name))
    rate, bad = nz.parse_rate(_text_or_na(f, "baseline_rate"))
    _optional(bad, "baseline_rate", rep, f.get("baseline_rate"))
    v["baseline_rate"] = rate
    _scrub("universities", v, rep)
    return v.frame()


def _normalise_majors(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    mc, floats = nz.clean_code(_text_or_na(f, "major_code"))
    rep.add(floats, "major_code", "float_suffix", f.get("major_code"), mc)
    padded, five = nz.pad_major_codes(mc)
    rep.add(five, "major_code", "zero_pad", mc, padded)
    v["major_code"] = padded
    v["major_name"] = nz.clean_name(_text_or_na(f, "major_name"))
    v["education_level"] = nz.match_name(_text_or_na(f, "education_level"))
    dc, dfloats = nz.clean_code(_text_or_na(f, "discipline_code"))
    rep.add(dfloats, "discipline_code", "float_suffix", f.get("discipline_code"), dc)
    one = dc.str.fullmatch(r"[0-9]").fillna(False)
    rep.add(one, "discipline_code", "zero_pad", dc, "0" + dc)
    v["discipline_code"] = dc.mask(one, "0" + dc)
    v["discipline_name"] = nz.clean_name(_text_or_na(f, "discipline_name"))
    _scrub("majors", v, rep)
    return v.frame()


def _normalise_adjustment_plans(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    _university(f, ctx, rep, v)
    v["received_date"] = _text_or_na(f, "received_date")
    return v.frame()


def _normalise_submissions(f, ctx, rep) -> pd.DataFrame:
    v = Columns(f.index)
    _university(f, ctx, rep, v)
    item = nz.match_name(_text_or_na(f, "item"))
    v["item"] = item.replace(SUBMISSION_ITEM_ALIASES)
    v["received_date"] = _text_or_na(f, "received_date")
    return v.frame()


NORMALISERS = {
    "graduates": _normalise_graduates,
    "recruitment": _normalise_recruitment,
    "visits": _normalise_visits,
    "platform": _normalise_platform,
    "assistance": _normalise_assistance,
    "universities": _normalise_universities,
    "majors": _normalise_majors,
    "adjustment_plans": _normalise_adjustment_plans,
    "submissions": _normalise_submissions,
}
