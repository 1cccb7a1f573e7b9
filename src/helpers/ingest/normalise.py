"""Pure, vectorised normalisers: Series of cell text in, clean Series (and repair masks) out.

Input convention: cell text as the batch reader produces it (pandas ``str`` dtype): already
NFKC-normalised (full-width digits and letters, （）, U+3000), stripped, empty cells missing. Apply
:func:`nfkc` first to text from anywhere else. Every function here works on whole columns;
functions whose logic is per value (level labels, destination labels, group lists) run once per
*distinct* value and are broadcast back with ``pd.factorize``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import pii
from helpers.codes import (
    DESTINATION_LABELS,
    DESTINATIONS,
    GENDERS,
    GROUP_ALIASES,
    GROUP_COLUMNS,
    GROUP_SEPARATORS,
    URBAN_RURAL,
    credit_codes_are_valid,
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


# Below this many rows the bookkeeping of per-distinct evaluation costs more than it saves.
_DISTINCT_MIN_ROWS = 64


def distinct_rows(columns: list[pd.Series | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows of some columns by distinct content: (id of each row's distinct content; the first
    row of each id). Missing values count as a value.

    None when most rows are distinct (or there are few rows): the caller then works on the rows
    themselves. Most columns of an export repeat a few values (levels, majors, codes, labels):
    a normaliser that runs on the distinct values and is broadcast back does a fraction of the
    work and gives exactly the same result, as every normaliser here is per row.
    """
    present = [c for c in columns if c is not None]
    if not present or len(present[0]) < _DISTINCT_MIN_ROWS:
        return None
    n = len(present[0])
    if len(present) == 1:
        codes, uniques = pd.factorize(present[0], use_na_sentinel=True)
        if 2 * len(uniques) > n:
            return None
        return _first_rows(codes.astype(np.int64), len(uniques))
    ids = None
    for c in present:
        codes, uniques = pd.factorize(c, use_na_sentinel=True)
        if 2 * len(uniques) > n:
            return None
        codes = codes.astype(np.int64) + 1  # missing -> 0
        ids = codes if ids is None else ids * (len(uniques) + 1) + codes
        ids = pd.factorize(ids)[0].astype(np.int64)  # small numbers again
    d = _first_rows(ids, int(ids.max()) + 1)
    return None if 2 * len(d[1]) > n else d


def _first_rows(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For codes 0..k-1 numbered by first appearance (pandas.factorize) and -1 for missing:
    (ids with missing as id k when present, the first row of each id)."""
    top = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate([[codes[0] >= 0], top[1:] > top[:-1]]))
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, k, codes)
        first = np.append(first, np.argmax(missing))
    return codes, first


def spread(result, ids: np.ndarray, index: pd.Index):
    """Broadcast a result computed on distinct rows back to every row (Series, DataFrame, numpy
    array, or a tuple / dataclass of them)."""
    if isinstance(result, tuple):
        return tuple(spread(r, ids, index) for r in result)
    if isinstance(result, pd.DataFrame):
        out = result.take(ids)
        out.index = index
        return out
    if isinstance(result, pd.Series):
        return pd.Series(result.array.take(ids), index=index, name=result.name, copy=False)
    if isinstance(result, np.ndarray):
        return result[ids]
    if dataclasses.is_dataclass(result):
        return type(result)(
            **{
                f.name: spread(getattr(result, f.name), ids, index)
                for f in dataclasses.fields(result)
            }
        )
    raise TypeError(f"cannot spread a {type(result).__name__}")


def distinct_head(s: pd.Series | None, first: np.ndarray) -> pd.Series | None:
    return None if s is None else s.iloc[first].reset_index(drop=True)


def per_distinct(func):
    """Run a per-row normaliser of one column once per distinct value (see distinct_rows)."""

    @functools.wraps(func)
    def wrapper(s: pd.Series, *args, **kwargs):
        d = distinct_rows([s])
        if d is None:
            return func(s, *args, **kwargs)
        ids, first = d
        return spread(func(distinct_head(s, first), *args, **kwargs), ids, s.index)

    wrapper.rows = func  # the row-by-row version
    return wrapper


ASCII_WS = b" \t\r\n\f\v"  # WS, as bytes


def may_contain(s: pd.Series, chars: bytes) -> bool:
    """False when no value of ``s`` (Arrow-backed text) can hold any of the ASCII ``chars``: a
    scan of the raw UTF-8 bytes (no ASCII byte occurs inside a multi-byte character), much
    cheaper than a regex per value. True may be a false alarm (bytes outside a slice)."""
    try:
        chunks = pa.chunked_array(pa.array(s.array)).chunks
    except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
        return True  # not Arrow text: cannot tell
    hit = np.zeros(256, dtype=bool)
    hit[list(chars)] = True
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True
        data = chunk.buffers()[2]
        if data is not None and hit[np.frombuffer(data, dtype=np.uint8)].any():
            return True
    return False


def as_text(s: pd.Series) -> pd.Series:
    """Any column as pandas ``str`` (missing stays missing)."""
    return s.astype("str") if s.dtype != "str" else s


def nfkc(s: pd.Series) -> pd.Series:
    """NFKC (full-width digits and letters, （）, U+3000), stripped; empty -> missing."""
    out = as_text(s).str.normalize("NFKC").str.strip()
    return out.mask(out == "")


def _has(t: pd.Series, pattern: str, regex: bool = True, chars: bytes | None = None) -> np.ndarray:
    """Rows whose text contains ``pattern``; ``chars``: bytes one of which any match contains
    (none in the column: no row, without a regex)."""
    if chars is not None and not may_contain(t, chars):
        return np.zeros(len(t), dtype=bool)
    return t.str.contains(pattern, regex=regex).to_numpy(dtype=bool, na_value=False)


def _drop_ws(t: pd.Series, repl: str = "") -> pd.Series:
    """Runs of whitespace replaced (only rows that have any are touched)."""
    return _on_rows(t, _has(t, WS, chars=ASCII_WS), lambda x: x.str.replace(WS, repl, regex=True))


def _on_rows(t: pd.Series, rows: np.ndarray, fn) -> pd.Series:
    """``fn(t)`` where ``fn`` changes only the rows a cheap test found (others pass unchanged)."""
    if not rows.any():
        return t
    if rows.all():
        return fn(t)
    return t.mask(rows, fn(t[rows]))


@per_distinct
def clean_name(s: pd.Series) -> pd.Series:
    """Names (majors, departments, employers, universities): NFKC, spaces collapsed, and no space
    next to a Chinese character or bracket ('计算机 科学与技术' -> '计算机科学与技术')."""
    t = as_text(s)

    def collapse(x: pd.Series) -> pd.Series:
        out = x.str.replace(WS, " ", regex=True)
        out = out.str.replace(f"([{_CJK}]) ", r"\1", regex=True)
        return out.str.replace(f" ([{_CJK}])", r"\1", regex=True)

    return _on_rows(t, _has(t, WS, chars=ASCII_WS), collapse)


SCRUBBED = "已隐去"  # what a free-text cell holding personal data is replaced by


def personal_text(s: pd.Series, identifiers=None) -> np.ndarray:
    """Rows of a free-text column (院系, 专业名称, 单位名称, 院校名称, …) that hold personal data:
    an ID number or a mobile number in any common formatting, or one of ``identifiers`` (a
    callable returning the input's 学号 as :func:`helpers.pii.normalise_identifier` gives them,
    asked only when a value could hold one) in any separator form. Once per distinct value with
    four digits or more (fewer cannot hold any); a column without any digit costs one byte scan."""
    t = as_text(s)
    out = np.zeros(len(t), dtype=bool)
    if not may_contain(t, b"0123456789"):
        return out
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    unique_text = pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
    candidates = np.flatnonzero(digit_counts(unique_text) >= 4)
    if not len(candidates):
        return out
    known: frozenset[str] | None = None
    hit = np.zeros(len(uniques) + 1, dtype=bool)  # the last slot: missing values
    for i, v in zip(candidates, unique_text.take(candidates).to_pylist(), strict=True):
        kind = pii.personal_in_text(v)
        if kind is None and identifiers is not None:
            if known is None:
                known = frozenset(identifiers())
            kind = pii.personal_in_text(v, known)
        hit[i] = kind is not None
    return hit[codes]


@functools.cache
def _digit_class() -> str:
    """An RE2 class of every character ``str.isdigit`` accepts (this Python's Unicode tables)."""
    ranges: list[list[int]] = []
    for c in [c for c in range(0x110000) if chr(c).isdigit()]:  # ~800 of them
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges) + "]"


def digit_counts(values: pa.Array) -> np.ndarray:
    """How many characters of each text value ``str.isdigit`` accepts (ASCII, full-width,
    superscripts, other scripts' digits), counted in Arrow; missing -> 0."""
    import pyarrow.compute as pc

    counts = pc.count_substring_regex(values, _digit_class())
    return counts.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


@per_distinct
def match_name(s: pd.Series) -> pd.Series:
    """Key for matching names exactly after normalisation: clean_name without any space."""
    return _drop_ws(as_text(s))


@per_distinct
def credit_codes_valid(s: pd.Series) -> pd.Series:
    """GB 32100 shape and check character of clean codes (see ``clean_code``); missing -> False."""
    return pd.Series(credit_codes_are_valid(s.astype(object)), index=s.index, dtype=bool)


@per_distinct
def clean_code(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Codes: NFKC, no spaces at all, upper case, text '80901.0' -> '80901'.

    Returns the clean codes and a mask of cells whose '.0' suffix was removed (a repair).
    """
    t = as_text(s)
    out = _drop_ws(t).str.upper()
    dots = _has(out, ".", regex=False, chars=b".")
    fixed = _on_rows(out, dots, lambda x: x.str.replace(_FLOAT_SUFFIX, r"\1", regex=True))
    mask = np.zeros(len(out), dtype=bool)
    if dots.any():
        mask[dots] = (fixed[dots] != out[dots]).to_numpy(dtype=bool, na_value=False)
    return fixed, pd.Series(mask, index=s.index)


def _where_matches(t: pd.Series, candidates: np.ndarray, pattern: str) -> np.ndarray:
    """Full regex matches, tested only on candidate rows (a cheap literal test found them)."""
    out = np.zeros(len(t), dtype=bool)
    if candidates.any():
        out[candidates] = t[candidates].str.fullmatch(pattern).to_numpy(dtype=bool, na_value=False)
    return out


def is_scientific(s: pd.Series) -> pd.Series:
    """Numbers Excel turned into scientific notation ('3.50102199901E+17'): digits are lost."""
    t = as_text(s)
    has_e = t.str.contains("e", case=False, regex=False).to_numpy(dtype=bool, na_value=False)
    return pd.Series(_where_matches(t, has_e, SCIENTIFIC), index=s.index)


def id_number_damaged(s: pd.Series) -> pd.Series:
    """ID numbers that lost digits to Excel's 15-significant-digit limit.

    Either still in scientific notation, or written out in full with the last three digits turned
    into '000' (then the GB 11643 check digit almost never matches).
    """
    t = as_text(s).str.upper()
    sci = _where_matches(
        t, t.str.contains("E", regex=False).to_numpy(bool, na_value=False), SCIENTIFIC
    )
    ends = t.str.endswith("000").to_numpy(dtype=bool, na_value=False)
    full = _where_matches(t, ends, r"[0-9]{15}000")
    if full.any():
        full &= ~check_digit_valid(t.where(full)).to_numpy(dtype=bool)
    return pd.Series(sci | full, index=s.index)


def check_digit_valid(s: pd.Series) -> pd.Series:
    """GB 11643 check digit of 18-character ID numbers (False for anything else); the check
    itself is :func:`helpers.pii.check_character_ok`, shared with the scanner."""
    t = as_text(s).str.upper()
    ok = t.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool).to_numpy()
    out = np.zeros(len(t), dtype=bool)
    if ok.any():
        out[ok] = pii.check_character_ok(t[ok].tolist())
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


_YMD_RE = re.compile(_YMD)
_COMPACT_RE = re.compile(_COMPACT)
_SERIAL_RE = re.compile(_SERIAL)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_NAT = np.datetime64("NaT", "ms")


@functools.lru_cache(maxsize=1 << 16)
def parse_date_text(value: str) -> np.datetime64:
    """One date cell (NFKC text, whitespace runs as one space) -> datetime64[ms] or NaT.

    Year-month-day (``-`` ``/`` ``.`` or 年月日, optional time) or ``YYYYMMDD`` with a year in
    1950-2100 and a real calendar date; else an Excel serial number of 1950-2099 (``45107`` or
    ``45107.0``). Cached: a column of dates repeats a few hundred values.
    """
    m = _YMD_RE.fullmatch(value) or _COMPACT_RE.fullmatch(value)
    if m:
        year, month, day = (int(g) for g in m.groups())
        if MIN_YEAR <= year <= MAX_YEAR:
            try:
                return np.datetime64(dt.date(year, month, day), "ms")
            except ValueError:
                pass
    m = _SERIAL_RE.fullmatch(value)
    if m and _SERIAL_MIN <= int(m.group(1)) <= _SERIAL_MAX:
        return np.datetime64(_EXCEL_EPOCH + dt.timedelta(days=int(m.group(1))), "ms")
    return _NAT


@per_distinct
def parse_dates(s: pd.Series) -> pd.Series:
    """Every date form of the contract -> datetime64[ms]; NaT where missing or unparseable.

    Forms: Excel serial (45107, also '45107.0'), 2023/6/30, 2023-06-30 (with or without a time),
    2023.06.30, 20230630, 2023年6月30日.
    """
    t = _drop_ws(as_text(s), " ")
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ms]")
    parsed = np.array([parse_date_text(v) for v in uniques.astype(object)], dtype="datetime64[ms]")
    values = np.append(parsed, _NAT)[codes]
    return pd.Series(values, index=s.index, dtype="datetime64[ms]")


@per_distinct
def bad_dates(s: pd.Series) -> pd.Series:
    """True where a cell holds text that is not a date (missing cells are not bad)."""
    t = as_text(s)
    return (t.notna() & parse_dates.rows(t).isna()).astype(bool)


# --- counts ----------------------------------------------------------------------------------
@per_distinct
def clean_counts(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Counts as digit strings: '1,200' -> '1200', '12.0' -> '12'.

    Returns (clean text, thousands-separator mask, float-suffix mask). Anything that is still not
    all digits afterwards (negative, fraction, text) is a bad count for validation.
    """
    t = _drop_ws(as_text(s))
    thousands = t.str.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.0+)?").fillna(False).astype(bool)
    t = t.mask(thousands, t.str.replace(",", "", regex=False))
    fixed = t.str.replace(_FLOAT_SUFFIX, r"\1", regex=True)
    floats = (t.notna() & (fixed != t) & ~thousands).astype(bool)
    return fixed, thousands, floats


@per_distinct
def is_count(s: pd.Series) -> pd.Series:
    return as_text(s).str.fullmatch(r"[0-9]+").fillna(False).astype(bool)


# --- codes with fixed width ------------------------------------------------------------------
@per_distinct
def pad_major_codes(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """5-digit major codes (a number lost its leading zero: 80901 -> 080901) padded to 6."""
    five = codes.str.fullmatch(_MAJOR_CODE_5).fillna(False).astype(bool)
    padded = codes.mask(five, "0" + codes)
    return padded, five


# --- levels, destinations, groups, flags -----------------------------------------------------
@per_distinct
def parse_levels(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """学历层次 label or code -> (level, status, one-digit-code mask).

    Unknown values keep their text in ``level`` (validation reports them); status is then missing.
    """
    t, _ = clean_code.rows(s)
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
    yet). An unknown label stays as text so that validation reports it. Computed once per
    distinct pair of the two columns.
    """
    d = distinct_rows([code, label])
    if d is None:
        return _destination_codes(code, label, index)
    ids, first = d
    heads = [distinct_head(c, first) for c in (code, label)]
    return spread(_destination_codes(*heads, pd.RangeIndex(len(first))), ids, index)


def _destination_codes(
    code: pd.Series | None, label: pd.Series | None, index: pd.Index
) -> tuple[pd.Series, pd.Series, pd.Series]:
    empty = pd.Series(np.nan, index=index, dtype="str")
    c, floats = (
        clean_code.rows(code) if code is not None else (empty, pd.Series(False, index=index))
    )
    lab = as_text(label) if label is not None else empty
    from_label = _map_unique(lab, lambda v: _label_to_code(v) if isinstance(v, str) else None)
    use_label = c.isna() & lab.notna()
    out = c.mask(use_label, from_label.astype("str").fillna(lab))
    return out.astype("str"), (use_label & from_label.notna()).astype(bool), floats


@per_distinct
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


@per_distinct
def parse_yes_no(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """是/否 (also Y/N, 1/0, TRUE/FALSE) -> nullable boolean; second value: unrecognised mask."""
    t = as_text(s).str.upper()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[t.isin(YES).fillna(False).to_numpy(dtype=bool)] = True
    out[t.isin(NO).fillna(False).to_numpy(dtype=bool)] = False
    bad = (t.notna() & out.isna()).astype(bool)
    return out, bad


@per_distinct
def map_values(s: pd.Series, table: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map a small code list (性别, 城乡生源); second value: unrecognised mask."""
    t = as_text(s)
    out = t.map(table).astype("str")
    return out, (t.notna() & out.isna()).astype(bool)


def parse_gender(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return map_values(s, GENDERS)


def parse_urban_rural(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return map_values(s, URBAN_RURAL)


@per_distinct
def parse_rate(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """上年初次毕业去向落实率: fraction ('0.72') or percent string ('72%', '72.5 %') -> float.

    Second value: mask of text that is neither (or a fraction outside [0, 1]).
    """
    t = _drop_ws(as_text(s))
    pct = t.str.fullmatch(r"[0-9]+(?:\.[0-9]+)?%").fillna(False).astype(bool)
    num = pd.to_numeric(t.str.rstrip("%"), errors="coerce")
    value = num.where(~pct, num / 100.0)
    value = value.where(value.between(0, 1))
    bad = (t.notna() & value.isna()).astype(bool)
    return value.astype("float64"), bad
