"""Pure, vectorised normalisers: Series of cell text in, clean Series (and repair masks) out.

Input convention: cell text as the batch reader produces it (pandas ``str`` dtype): already
NFKC-normalised (full-width digits and letters, （）, U+3000), stripped, empty cells missing. Apply
:func:`nfkc` first to text from anywhere else. Every function here works on whole columns;
functions whose logic is per value (level labels, destination labels, group lists) run once per
*distinct* value and are broadcast back with ``pd.factorize``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.codes import (
    DESTINATION_LABELS,
    DESTINATIONS,
    GENDERS,
    GROUP_ALIASES,
    GROUP_COLUMNS,
    GROUP_SEPARATORS,
    URBAN_RURAL,
    parse_level,
)

_CJK = "\u2e80-\u9fff\uf900-\ufaff()"
# Whitespace after NFKC (U+3000 and NBSP are spaces by then). An explicit class, not '\s': pandas
# runs '\s' patterns through Python's re value by value, explicit classes through Arrow.
WS = r"[ \t\r\n\f\v]+"
_FLOAT_SUFFIX = r"^([0-9]+)\.0+$"
SCIENTIFIC = r"^[0-9](?:\.[0-9]+)?[eE][+]?[0-9]+$"
MAJOR_CODE = r"^[0-9]{6}(?:T|K|TK)?$"
_MAJOR_CODE_5 = r"^([0-9]{5})(T|K|TK)?$"
# 18-char 统一社会信用代码 (GB 32100: digits and upper-case letters without I, O, S, V, Z)
CREDIT_CODE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
YES = frozenset({"是", "Y", "YES", "TRUE", "1"})
NO = frozenset({"否", "N", "NO", "FALSE", "0"})
# Tokens of 帮扶群体 that mean "no group" or a group without its own column.
NO_GROUP = frozenset({"无", "否", "-", "—", "其他", "非困难生"})
# Plausible range for any date in these datasets (a typo like 2203 is a bad date, not a date).
MIN_YEAR, MAX_YEAR = 1950, 2100
_SERIAL_MIN, _SERIAL_MAX = 18264, 73050  # Excel serials of 1950-01-01 and 2099-12-31


def as_text(s: pd.Series) -> pd.Series:
    """Any column as pandas ``str`` (missing stays missing)."""
    return s.astype("str") if s.dtype != "str" else s


def nfkc(s: pd.Series) -> pd.Series:
    """NFKC (full-width digits and letters, （）, U+3000), stripped; empty -> missing."""
    out = as_text(s).str.normalize("NFKC").str.strip()
    return out.mask(out == "")


def clean_name(s: pd.Series) -> pd.Series:
    """Names (majors, departments, employers, universities): NFKC, spaces collapsed, and no space
    next to a Chinese character or bracket ('计算机 科学与技术' -> '计算机科学与技术')."""
    out = as_text(s).str.replace(WS, " ", regex=True)
    out = out.str.replace(f"([{_CJK}]) ", r"\1", regex=True)
    return out.str.replace(f" ([{_CJK}])", r"\1", regex=True)


def match_name(s: pd.Series) -> pd.Series:
    """Key for matching names exactly after normalisation: clean_name without any space."""
    return as_text(s).str.replace(WS, "", regex=True)


def clean_code(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Codes: NFKC, no spaces at all, upper case, text '80901.0' -> '80901'.

    Returns the clean codes and a mask of cells whose '.0' suffix was removed (a repair).
    """
    out = as_text(s).str.replace(WS, "", regex=True).str.upper()
    fixed = out.str.replace(_FLOAT_SUFFIX, r"\1", regex=True)
    mask = (out.notna() & (fixed != out)).astype(bool)
    return fixed, mask


def is_scientific(s: pd.Series) -> pd.Series:
    """Numbers Excel turned into scientific notation ('3.50102199901E+17'): digits are lost."""
    return as_text(s).str.fullmatch(SCIENTIFIC).fillna(False).astype(bool)


def id_number_damaged(s: pd.Series) -> pd.Series:
    """ID numbers that lost digits to Excel's 15-significant-digit limit.

    Either still in scientific notation, or written out in full with the last three digits turned
    into '000' (then the GB 11643 check digit almost never matches).
    """
    t = as_text(s).str.upper()
    sci = is_scientific(t)
    full = t.str.fullmatch(r"[0-9]{15}000").fillna(False).astype(bool)
    if full.any():
        full &= ~check_digit_valid(t.where(full))
    return sci | full


_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))


def check_digit_valid(s: pd.Series) -> pd.Series:
    """GB 11643 check digit of 18-character ID numbers (False for anything else)."""
    t = as_text(s).str.upper()
    ok = t.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool).to_numpy()
    out = np.zeros(len(t), dtype=bool)
    if ok.any():
        arr = np.array(t[ok].tolist(), dtype="U18")
        digits = arr.view("U1").reshape(-1, 18)
        body = digits[:, :17].astype(np.int64)
        expected = _CHECK[(body * _WEIGHTS).sum(axis=1) % 11]
        out[ok] = expected == digits[:, 17]
    return pd.Series(out, index=s.index)


def _map_unique(s: pd.Series, func) -> pd.Series:
    """Apply a per-value function once per distinct value; missing stays missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([func(v) for v in uniques.astype(object)] + [None], dtype=object)
    return pd.Series(mapped[codes], index=s.index)


# --- dates -----------------------------------------------------------------------------------
_YMD = r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?$"
_COMPACT = r"^([0-9]{4})([0-9]{2})([0-9]{2})$"
_SERIAL = r"^([0-9]{5})(?:\.[0-9]+)?$"


def _parse_unique_dates(u: pd.Series) -> pd.Series:
    ymd = u.str.extract(_YMD)
    compact = u.str.extract(_COMPACT)
    parts = ymd.fillna(compact).apply(pd.to_numeric, errors="coerce")
    parts.columns = ["year", "month", "day"]
    valid_year = parts["year"].between(MIN_YEAR, MAX_YEAR)
    parts = parts.where(valid_year)
    out = pd.to_datetime(parts, errors="coerce")
    serial = pd.to_numeric(u.str.extract(_SERIAL)[0], errors="coerce")
    serial = serial.where(serial.between(_SERIAL_MIN, _SERIAL_MAX))
    from_serial = pd.to_datetime(serial, unit="D", origin="1899-12-30", errors="coerce")
    return out.fillna(from_serial).astype("datetime64[ms]")


def parse_dates(s: pd.Series) -> pd.Series:
    """Every date form of the contract -> datetime64[ms]; NaT where missing or unparseable.

    Forms: Excel serial (45107, also '45107.0'), 2023/6/30, 2023-06-30 (with or without a time),
    2023.06.30, 20230630, 2023年6月30日.
    """
    t = as_text(s).str.replace(WS, " ", regex=True)
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ms]")
    parsed = _parse_unique_dates(pd.Series(uniques, dtype="str")).to_numpy()
    values = np.append(parsed, np.datetime64("NaT", "ms"))[codes]
    return pd.Series(values, index=s.index, dtype="datetime64[ms]")


def bad_dates(s: pd.Series) -> pd.Series:
    """True where a cell holds text that is not a date (missing cells are not bad)."""
    t = as_text(s)
    return (t.notna() & parse_dates(t).isna()).astype(bool)


# --- counts ----------------------------------------------------------------------------------
def clean_counts(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Counts as digit strings: '1,200' -> '1200', '12.0' -> '12'.

    Returns (clean text, thousands-separator mask, float-suffix mask). Anything that is still not
    all digits afterwards (negative, fraction, text) is a bad count for validation.
    """
    t = as_text(s).str.replace(WS, "", regex=True)
    thousands = t.str.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.0+)?").fillna(False).astype(bool)
    t = t.mask(thousands, t.str.replace(",", "", regex=False))
    fixed = t.str.replace(_FLOAT_SUFFIX, r"\1", regex=True)
    floats = (t.notna() & (fixed != t) & ~thousands).astype(bool)
    return fixed, thousands, floats


def is_count(s: pd.Series) -> pd.Series:
    return as_text(s).str.fullmatch(r"[0-9]+").fillna(False).astype(bool)


# --- codes with fixed width ------------------------------------------------------------------
def pad_major_codes(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """5-digit major codes (a number lost its leading zero: 80901 -> 080901) padded to 6."""
    five = codes.str.fullmatch(_MAJOR_CODE_5).fillna(False).astype(bool)
    padded = codes.mask(five, "0" + codes)
    return padded, five


# --- universities ----------------------------------------------------------------------------
@dataclass(frozen=True)
class UniversityLookup:
    """The universities reference as lookups (small: pickled to every worker)."""

    codes: frozenset[str]
    by_id: dict[str, str]
    by_name: dict[str, str]  # match_name(院校名称) -> 院校代码

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> UniversityLookup:
        codes = df["university_code"].dropna().astype(str)
        ids = df.dropna(subset=["university_id", "university_code"])
        names = df.dropna(subset=["university_name", "university_code"])
        name_keys = match_name(names["university_name"])
        return cls(
            codes=frozenset(codes),
            by_id=dict(
                zip(
                    ids["university_id"].astype(str),
                    ids["university_code"].astype(str),
                    strict=True,
                )
            ),
            by_name=dict(
                zip(name_keys.astype(str), names["university_code"].astype(str), strict=True)
            ),
        )

    @classmethod
    def empty(cls) -> UniversityLookup:
        return cls(frozenset(), {}, {})


def _id_to_code(ids: pd.Series, lookup: UniversityLookup) -> pd.Series:
    """学校标识码 (10 digits: 41 + province + 0 + 院校代码) -> 院校代码."""
    mapped = ids.map(lookup.by_id)
    pattern = ids.str.fullmatch(r"41[0-9]{2}0[0-9]{5}").fillna(False).astype(bool)
    return mapped.fillna(ids.where(pattern).str.slice(5, 10))


@dataclass
class ResolvedUniversity:
    code: pd.Series  # resolved 院校代码, or the unresolved text, or missing
    conflict: pd.Series  # 院校代码 / 学校标识码 / 院校名称 disagree
    id_used: pd.Series  # code came from a 学校标识码
    name_used: pd.Series  # code came from a 院校名称
    id_text: pd.Series  # the 学校标识码 text used (also one found in the 院校代码 column)
    code_floats: pd.Series  # '.0' removed from 院校代码 text
    id_floats: pd.Series  # '.0' removed from 学校标识码 text
    code_before: pd.Series  # 院校代码 text before the '.0' repair


def resolve_university(
    code: pd.Series | None,
    uid: pd.Series | None,
    name: pd.Series | None,
    lookup: UniversityLookup,
    index: pd.Index,
) -> ResolvedUniversity:
    """院校代码 from whichever of 院校代码 / 学校标识码 / 院校名称 a row has.

    ``code`` holds the resolved 5-digit code, or the unresolved text a row gave (so that
    validation reports it as an unknown university), or missing when the row names no university
    at all. A 10-digit 学校标识码 in the 院校代码 column counts as a 学校标识码.
    """
    empty = pd.Series(np.nan, index=index, dtype="str")
    no = pd.Series(False, index=index)
    c_before = as_text(code) if code is not None else empty
    c, c_floats = clean_code(code) if code is not None else (empty, no)
    i, i_floats = clean_code(uid) if uid is not None else (empty, no)
    ten = c.str.fullmatch(r"[0-9]{10}").fillna(False).astype(bool)
    i = i.mask(ten & i.isna(), c)
    c = c.mask(ten)
    from_id = _id_to_code(i, lookup)
    n = match_name(name) if name is not None else empty
    from_name = n.map(lookup.by_name)
    resolved = c.fillna(from_id).fillna(from_name)
    id_used = (c.isna() & from_id.notna()).astype(bool)
    name_used = (c.isna() & from_id.isna() & from_name.notna()).astype(bool)
    # nothing resolved: keep what the row said, for the 'unknown university' reason
    resolved = resolved.fillna(c.fillna(i).fillna(n))
    known = c.fillna(from_id)
    conflict = (
        (c.notna() & from_id.notna() & (c != from_id)).fillna(False)
        | (known.notna() & from_name.notna() & (known != from_name)).fillna(False)
    ).astype(bool)
    return ResolvedUniversity(
        resolved.astype("str"), conflict, id_used, name_used, i, c_floats, i_floats, c_before
    )


# --- levels, destinations, groups, flags -----------------------------------------------------
def parse_levels(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """学历层次 label or code -> (level, status, one-digit-code mask).

    Unknown values keep their text in ``level`` (validation reports them); status is then missing.
    """
    t, _ = clean_code(s)
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    parsed = [parse_level(v) for v in uniques.astype(object)]
    lv = np.array([p[0] if p else None for p in parsed] + [None], dtype=object)
    st = np.array([p[1] if p else None for p in parsed] + [None], dtype=object)
    level = pd.Series(lv[codes], index=s.index, dtype="str").fillna(t)
    status = pd.Series(st[codes], index=s.index, dtype="str")
    parsed = pd.Series(lv[codes], index=s.index)
    one_digit = (t.str.fullmatch(r"[0-9]").fillna(False) & parsed.notna()).astype(bool)
    return level.astype("str"), status.astype("str"), one_digit


def _label_to_code(label: str) -> str | None:
    key = re.sub(r"\s+", "", label)
    if key in DESTINATION_LABELS:
        return DESTINATION_LABELS[key]
    # parent—child labels of exports: '科研助理、管理助理—科研助理、管理助理',
    # '境内升学—境内升学—研究生': the longest known tail wins, then the parent
    parts = [p for p in re.split(r"[—\-－–]+", key) if p]
    for candidate in ["—".join(parts[i:]) for i in range(len(parts))] + parts[:1]:
        if candidate in DESTINATION_LABELS:
            return DESTINATION_LABELS[candidate]
    return None


def destination_codes(
    code: pd.Series | None, label: pd.Series | None, index: pd.Index
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """毕业去向类别代码, or the code of the 毕业去向 label when the code is empty.

    Returns (code, from-label mask, float-suffix mask). Both empty: missing (nothing recorded
    yet). An unknown label stays as text so that validation reports it.
    """
    empty = pd.Series(np.nan, index=index, dtype="str")
    c, floats = clean_code(code) if code is not None else (empty, pd.Series(False, index=index))
    lab = as_text(label) if label is not None else empty
    from_label = _map_unique(lab, lambda v: _label_to_code(v) if isinstance(v, str) else None)
    use_label = c.isna() & lab.notna()
    out = c.mask(use_label, from_label.astype("str").fillna(lab))
    return out.astype("str"), (use_label & from_label.notna()).astype(bool), floats


def valid_destination(codes: pd.Series) -> pd.Series:
    """Vectorised helpers.codes.is_valid_destination."""
    t = as_text(codes)
    parents = list(DESTINATIONS)
    two = (t.str.len() == 2) & t.isin(parents)
    three = (
        (t.str.len() == 3)
        & t.str.fullmatch(r"[0-9]{3}").fillna(False)
        & t.str.slice(0, 2).isin(parents)
    )
    return (two | three).fillna(False).astype(bool)


def split_groups(s: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """帮扶群体 list -> one bool column per group (helpers.codes.GROUP_COLUMNS).

    Returns the bool frame and, per row, the unknown group names joined with '、' (missing when
    none) for the repairs log.
    """
    t = as_text(s)
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    cols = list(GROUP_COLUMNS.values())
    table = np.zeros((len(uniques) + 1, len(cols)), dtype=bool)
    unknown = np.empty(len(uniques) + 1, dtype=object)
    unknown[:] = None
    for i, value in enumerate(uniques.astype(object)):
        bad = []
        for token in re.split(GROUP_SEPARATORS, value):
            token = re.sub(r"\s+", "", token)
            if not token or token in NO_GROUP:
                continue
            label = GROUP_ALIASES.get(token, token)
            if label in GROUP_COLUMNS:
                table[i, cols.index(GROUP_COLUMNS[label])] = True
            else:
                bad.append(token)
        unknown[i] = "、".join(bad) if bad else None
    frame = pd.DataFrame(table[codes], columns=cols, index=s.index)
    return frame, pd.Series(unknown[codes], index=s.index, dtype="str")


def parse_yes_no(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """是/否 (also Y/N, 1/0, TRUE/FALSE) -> nullable boolean; second value: unrecognised mask."""
    t = as_text(s).str.upper()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[t.isin(YES).fillna(False).to_numpy(dtype=bool)] = True
    out[t.isin(NO).fillna(False).to_numpy(dtype=bool)] = False
    bad = (t.notna() & out.isna()).astype(bool)
    return out, bad


def map_values(s: pd.Series, table: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map a small code list (性别, 城乡生源); second value: unrecognised mask."""
    t = as_text(s)
    out = t.map(table).astype("str")
    return out, (t.notna() & out.isna()).astype(bool)


def parse_gender(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return map_values(s, GENDERS)


def parse_urban_rural(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return map_values(s, URBAN_RURAL)


def parse_rate(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """上年初次毕业去向落实率: fraction ('0.72') or percent string ('72%', '72.5 %') -> float.

    Second value: mask of text that is neither (or a fraction outside [0, 1]).
    """
    t = as_text(s).str.replace(WS, "", regex=True)
    pct = t.str.fullmatch(r"[0-9]+(?:\.[0-9]+)?%").fillna(False).astype(bool)
    num = pd.to_numeric(t.str.rstrip("%"), errors="coerce")
    value = num.where(~pct, num / 100.0)
    value = value.where(value.between(0, 1))
    bad = (t.notna() & value.isna()).astype(bool)
    return value.astype("float64"), bad
