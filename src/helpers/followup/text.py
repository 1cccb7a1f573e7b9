"""Small formatters for Chinese report text (percentages, dates, lists, section numerals)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

_NUMERALS = "一二三四五六七八九十"


def numeral(i: int) -> str:
    """1 -> 一, 10 -> 十, 11 -> 十一, 20 -> 二十 (section numbers of a circular)."""
    if not 1 <= i <= 99:
        raise ValueError(f"section number out of range: {i}")
    tens, ones = divmod(i, 10)
    if tens == 0:
        return _NUMERALS[ones - 1]
    head = "" if tens == 1 else _NUMERALS[tens - 1]
    return head + "十" + (_NUMERALS[ones - 1] if ones else "")


def _missing(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def pct(x, digits: int = 1) -> str:
    """0.7234 -> '72.3%'; missing -> '—'."""
    return "—" if _missing(x) else f"{float(x) * 100:.{digits}f}%"


def pp(x, digits: int = 1) -> str:
    """Absolute difference of two fractions in 个百分点: 0.032 -> '3.2个百分点'."""
    return "—" if _missing(x) else f"{abs(float(x)) * 100:.{digits}f}个百分点"


def date_zh(value: dt.date, year: bool = True) -> str:
    """2023-08-31 -> '2023年8月31日' (or '8月31日'); a ``pd.Timestamp`` is a date too."""
    day = f"{value.month}月{value.day}日"
    return f"{value.year}年{day}" if year else day


def count(n) -> str:
    """12345 -> '12,345'."""
    return f"{int(n):,}"


def names(values, limit: int | None = None) -> str:
    """['甲', '乙', '丙'] -> '甲、乙、丙' (with '等N所' beyond ``limit``)."""
    items = [str(v) for v in values]
    if limit is not None and len(items) > limit:
        return "、".join(items[:limit]) + f"等{len(items)}所"
    return "、".join(items)
