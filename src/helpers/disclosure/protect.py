"""The disclosure rules (see :mod:`helpers.disclosure`): :func:`protect_group_table` in named
steps (check, primary rules, complementary suppression, write values, display strings, audit),
the table's layout as :class:`GroupTable`, and the Chinese headers of the columns it adds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from helpers.disclosure.audit import collect, recorded_now
from helpers.disclosure.display import HIDDEN, NOT_APPLICABLE, pct0, pct1_array

TOTAL_LABEL = "ALL"
LINKED_COLS = ("gap", "ci_low", "ci_high")

# Rule codes (stable, English, for the audit) -> short Chinese label.
RULES = {
    "small_group": "小群体",
    "bottom_code": "底端编码",
    "top_code": "顶端编码",
    "small_complement": "小计数",
    "complement_total": "互补隐藏（合计）",
    "complement_category": "互补隐藏（两类规则）",
    "total_single_cell": "互补隐藏（合计仅含一个单元格）",
    "complement_unavailable": "无法互补隐藏",
}


def _reasons(d, complement_zh: str = "未落实人数") -> dict[str, str]:
    """Chinese reason texts; numbers from the policy's ``disclosure`` section."""
    m = d.min_count_shown
    return {
        "small_group": f"该群体人数不足{d.min_group_for_rate}人，不公布比率及相关人数",
        "bottom_code": (
            f"群体人数不足{d.top_bottom_code_below}人且比率不高于{pct0(d.bottom_code)}，"
            f"按“<={pct0(d.bottom_code)}”显示"
        ),
        "top_code": (
            f"群体人数不足{d.top_bottom_code_below}人且比率不低于{pct0(d.top_code)}，"
            f"按“>={pct0(d.top_code)}”显示"
        ),
        "small_complement": f"{complement_zh}少于{m}人，显示为“<{m}”，比率只显示其下限",
        "complement_total": "互补隐藏：防止由合计数反推被隐藏的单元格",
        "complement_category": "互补隐藏：防止由另一类别反推被隐藏的单元格（两类规则）",
        "total_single_cell": "互补隐藏：合计只含一个被隐藏单元格，合计一并隐藏",
        "complement_unavailable": "无可用的互补单元格（记录在审计表中）",
    }


def _check_columns(df: pd.DataFrame, cols: Iterable[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"protect_group_table({table}): missing column(s) {missing}; "
            f"columns present: {list(df.columns)}"
        )


def _as_int_array(s: pd.Series, col: str, table: str, labels: pd.Series) -> np.ndarray:
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | (num < 0) | (num != np.floor(num.fillna(0)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"protect_group_table({table}): column {col!r}, row {i} ({labels.iloc[i]}): "
            f"expected a non-negative whole number, got {s.iloc[i]!r}"
        )
    return num.to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class GroupTable:
    """Which column of a group table plays which part (see :func:`protect_group_table`).

    count_col: group size n (shown as is; a group's size is not hidden).
    placed_col: number with the outcome (placed, compliant_3x3, ...); hidden cells become NA.
    rate_cols: columns holding ``placed / count`` (hidden or coded with the cell); a name that
        is not in the table is an error.
    group_col, total_keys: one row per (``total_keys``, ``by``, ``group_col``); ``total_keys``
        equal to ``total_label`` ("ALL") marks the total row of a group.
    complement_col: name of the added ``count - placed`` column (default ``"not_" + placed_col``).
    by: further key columns that are not totalled (e.g. ``education_level``).
    partitions: tuples of categories of ``group_col`` that add up to the unit's total (two-
        category rule), e.g. ``[("男", "女")]``.
    linked_cols: further columns that would reveal a hidden rate (``gap`` = rate - university
        rate, confidence limits); those present are emptied with the cell.
    table: a name for the audit and for error messages (e.g. ``"placement_by_group"``).
    """

    count_col: str = "graduates"
    placed_col: str = "placed"
    rate_cols: Sequence[str] = ("placement_rate",)
    group_col: str = "group"
    total_keys: Sequence[str] = ("university_code",)
    complement_col: str | None = None
    by: Sequence[str] = ()
    partitions: Iterable[Sequence[str]] = ()
    linked_cols: Sequence[str] = LINKED_COLS
    total_label: str = TOTAL_LABEL
    table: str = ""

    def __post_init__(self) -> None:
        fix = partial(object.__setattr__, self)
        for name in ("rate_cols", "total_keys", "by", "linked_cols"):
            fix(name, tuple(getattr(self, name)))
        fix("partitions", tuple(tuple(str(c) for c in cats) for cats in self.partitions))
        fix("table", self.table or "group_table")

    @property
    def complement(self) -> str:
        return f"not_{self.placed_col}" if self.complement_col is None else self.complement_col

    @property
    def key_cols(self) -> list[str]:
        return [*self.total_keys, *self.by, self.group_col]

    def error(self, message: str) -> ValueError:
        return ValueError(f"protect_group_table({self.table}): {message}")


@dataclass
class _Cells:
    """The numbers of every cell: n, x, the complement u = n - x and the rate x / n."""

    labels: pd.Series  # "unit / by / group" of each row, for messages and the audit
    n: np.ndarray
    x: np.ndarray
    u: np.ndarray
    rate: np.ndarray


@dataclass
class _Decisions:
    """Per row: the rule that hides or codes it ("" = exact) and the masks the display needs."""

    rule: np.ndarray
    small: np.ndarray
    bottom: np.ndarray
    top: np.ndarray
    few: np.ndarray
    empty: np.ndarray
    inexact: np.ndarray
    unavailable: np.ndarray  # no complementary cell could be found (two-category rule)


def protect_group_table(
    df: pd.DataFrame,
    policy,
    layout: GroupTable | None = None,
    *,
    audit: list | None = None,
    **columns: Any,
) -> pd.DataFrame:
    """Apply the disclosure rules of ``policy.disclosure`` to a table about groups in difficulty.

    ``layout`` names the parts of the table (:class:`GroupTable`; the default suits
    ``placement_by_group``); ``columns`` overrides single fields of it, e.g.
    ``table="placement_by_group"`` or ``placed_col="compliant_3x3"``. ``audit`` receives one dict
    per decision (also kept in the module collector and in ``result.attrs["disclosure_audit"]``).

    Returns a copy with ``placed_col`` as nullable Int64, the complement column, every rate and
    linked column emptied (NaN) where hidden or coded, ``suppressed`` (Chinese reason, "" when
    exact) and ``<col>_display`` strings for ``placed_col``, the complement column and each rate
    column.
    """
    spec = replace(layout or GroupTable(), **columns)
    d = policy.disclosure
    out, labels = _checked_copy(df, spec)
    cells = _cells(out, spec, labels)
    dec = _primary_rules(cells, d)
    _complementary_suppression(out, spec, cells, dec)
    reasons = _reasons(d, _complement_zh(spec.placed_col, spec.complement))
    hidden_cols = _write_values(out, spec, cells, dec, reasons)
    _write_display(out, spec, cells, dec, d)
    _register_added_headers(spec.placed_col, spec.complement, spec.rate_cols)
    records = _audit_records(out, spec, cells, dec, reasons, hidden_cols)
    if audit is not None:
        audit.extend(records)
    collect(records)
    out.attrs["disclosure_audit"] = records
    out.attrs["disclosure"] = {
        "count_col": spec.count_col,
        "placed_col": spec.placed_col,
        "complement_col": spec.complement,
        "rate_cols": list(spec.rate_cols),
    }
    return out


def _checked_copy(df: pd.DataFrame, spec: GroupTable) -> tuple[pd.DataFrame, pd.Series]:
    """A copy with a fresh index and each row's key label, after checking the columns and that
    every key is unique."""
    wanted = (spec.count_col, spec.placed_col, spec.group_col, *spec.total_keys, *spec.by)
    _check_columns(df, (*wanted, *spec.rate_cols), spec.table)
    if spec.complement in df.columns:
        raise spec.error(
            f"column {spec.complement!r} already exists; pass complement_col=<another name>"
        )
    out = df.copy().reset_index(drop=True)
    labels = _join_cols(out, spec.key_cols)
    dup = labels.duplicated(keep=False)
    if dup.any():
        raise spec.error(
            f"duplicate rows for key {spec.key_cols}: {sorted(labels[dup].unique())[:5]}"
        )
    return out, labels


def _cells(out: pd.DataFrame, spec: GroupTable, labels: pd.Series) -> _Cells:
    n = _as_int_array(out[spec.count_col], spec.count_col, spec.table, labels)
    x = _as_int_array(out[spec.placed_col], spec.placed_col, spec.table, labels)
    over = x > n
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise spec.error(
            f"row {i} ({labels.iloc[i]}): "
            f"{spec.placed_col}={x[i]} is greater than {spec.count_col}={n[i]}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
    return _Cells(labels, n, x, n - x, rate)


def _primary_rules(c: _Cells, d) -> _Decisions:
    """Rules 1-4 (precedence: small group > bottom > top > small complement)."""
    small = c.n < d.min_group_for_rate
    codable = (c.n < d.top_bottom_code_below) & (c.n > 0) & ~small
    bottom = codable & (c.rate <= d.bottom_code)
    top = codable & ~bottom & (c.rate >= d.top_code)
    few = (c.n > 0) & ~small & ~bottom & ~top & (c.u < d.min_count_shown)
    empty = c.n == 0
    small &= ~empty  # an empty group has nothing to hide ("不适用")
    rule = np.full(len(c.n), "", dtype=object)
    rule[small] = "small_group"
    rule[bottom] = "bottom_code"
    rule[top] = "top_code"
    rule[few] = "small_complement"
    inexact = small | bottom | top | few
    unavailable = np.zeros(len(c.n), dtype=bool)
    return _Decisions(rule, small, bottom, top, few, empty, inexact, unavailable)


def _complementary_suppression(
    out: pd.DataFrame, spec: GroupTable, c: _Cells, dec: _Decisions
) -> None:
    """Rule 5, repeated until nothing changes (updates ``dec`` in place)."""
    tk = out[list(spec.total_keys)].astype(str)
    is_total = (tk == spec.total_label).all(axis=1).to_numpy()
    partial_total = (tk == spec.total_label).any(axis=1).to_numpy() & ~is_total
    if partial_total.any():
        i = int(np.flatnonzero(partial_total)[0])
        raise spec.error(
            f"row {i} ({c.labels.iloc[i]}) is a partial total "
            f"(only some of {list(spec.total_keys)} are {spec.total_label!r}); not supported"
        )
    line_key = _codes(out, [*spec.by, spec.group_col])
    unit_key = _codes(out, [*spec.total_keys, *spec.by])
    part_id = np.full(len(out), -1, dtype=np.int64)
    group_values = out[spec.group_col].astype(str).to_numpy()
    for j, cats in enumerate(spec.partitions):
        if len(cats) < 2:
            raise spec.error("a partition needs >= 2 categories")
        part_id[np.isin(group_values, cats)] = j
    for _ in range(len(out) + 1):
        before = dec.inexact.copy()
        _complete_lines(line_key, is_total, c.n, dec)
        if (part_id >= 0).any():
            _complete_partitions(unit_key, part_id, c.n, dec)
        if (dec.inexact == before).all():
            break


def _complete_lines(
    line_key: np.ndarray, is_total: np.ndarray, n: np.ndarray, dec: _Decisions
) -> None:
    """Across units: the components of each line must hold 0 or >= 2 inexact cells."""
    comp = ~is_total
    need = _single_inexact(line_key, comp, dec.inexact)
    if need.any():
        cand = comp & ~dec.inexact & (n > 0)
        chosen, no_cand = _pick_smallest(line_key, cand, n, need)
        dec.rule[chosen] = "complement_total"
        dec.inexact |= chosen
        # no other component: the total itself would reveal the cell
        tot_hide = is_total & ~dec.inexact & np.isin(line_key, no_cand)
        dec.rule[tot_hide] = "total_single_cell"
        dec.inexact |= tot_hide


def _complete_partitions(
    unit_key: np.ndarray, part_id: np.ndarray, n: np.ndarray, dec: _Decisions
) -> None:
    """Two-category rule: within a unit, the categories of one partition."""
    pk = np.where(part_id >= 0, unit_key * (part_id.max() + 1) + part_id, -1)
    member = part_id >= 0
    need = _single_inexact(pk, member, dec.inexact)
    if need.any():
        cand = member & ~dec.inexact & (n > 0)
        chosen, no_cand = _pick_smallest(pk, cand, n, need)
        dec.rule[chosen] = "complement_category"
        dec.inexact |= chosen
        lonely = member & dec.inexact & np.isin(pk, no_cand) & ~dec.unavailable
        dec.unavailable |= lonely


def _write_values(out, spec: GroupTable, c: _Cells, dec: _Decisions, reasons) -> list[str]:
    """Hidden numbers become NA (never 0) and ``suppressed`` holds the reason; returns the
    columns a hidden cell empties (for the audit)."""
    inexact = dec.inexact
    for col, values in ((spec.placed_col, c.x), (spec.complement, c.u)):
        out[col] = pd.array(values, dtype="Int64")
        out.loc[inexact, col] = pd.NA
    linked = [col for col in spec.linked_cols if col in out.columns and col not in spec.rate_cols]
    for col in [*spec.rate_cols, *linked]:
        vals = pd.to_numeric(out[col], errors="coerce").astype(float)
        vals[inexact] = np.nan
        out[col] = vals
    suppressed = pd.Series(dec.rule, dtype=object).map({**reasons, "": ""}).astype(object)
    gone = dec.unavailable
    suppressed[gone] = suppressed[gone] + "；" + reasons["complement_unavailable"]
    out["suppressed"] = suppressed.to_numpy()
    return [spec.placed_col, spec.complement, *spec.rate_cols, *linked]


def _write_display(out, spec: GroupTable, c: _Cells, dec: _Decisions, d) -> None:
    """The ``<col>_display`` strings a reader sees ("87.5%", "—", "<5", ">=95%", "不适用")."""
    rate_disp = pct1_array(c.rate)
    rate_disp[dec.inexact] = HIDDEN
    rate_disp[dec.empty] = NOT_APPLICABLE
    rate_disp[dec.bottom] = f"<={pct0(d.bottom_code)}"
    rate_disp[dec.top] = f">={pct0(d.top_code)}"
    if dec.few.any():
        bound = np.floor((1 - (d.min_count_shown - 1) / c.n[dec.few]) * 1000) / 1000
        rate_disp[dec.few] = ">=" + pct1_array(bound)
    placed_disp = np.where(dec.inexact, HIDDEN, c.x.astype(str)).astype(object)
    comp_disp = np.where(dec.inexact, HIDDEN, c.u.astype(str)).astype(object)
    comp_disp[(dec.top | dec.few) & (c.u < d.min_count_shown)] = f"<{d.min_count_shown}"
    out[f"{spec.placed_col}_display"] = placed_disp
    out[f"{spec.complement}_display"] = comp_disp
    for col in spec.rate_cols:
        # a rate column other than placed/count (rare) is only shown exact or hidden
        if col == spec.rate_cols[0]:
            out[f"{col}_display"] = rate_disp
        else:
            vals = out[col].to_numpy(dtype=float)
            disp = pct1_array(vals)
            disp[np.isnan(vals)] = HIDDEN
            disp[dec.empty] = NOT_APPLICABLE
            out[f"{col}_display"] = disp


def _audit_records(out, spec: GroupTable, c: _Cells, dec: _Decisions, reasons, hidden_cols):
    """One audit record per hidden or coded cell, and one per cell without a complement."""
    now = recorded_now()
    units = _join_cols(out, list(spec.total_keys))
    group_values = out[spec.group_col].astype(str).to_numpy()
    idx = [(i, dec.rule[i], out.at[i, "suppressed"]) for i in np.flatnonzero(dec.inexact)]
    idx += [
        (i, "complement_unavailable", reasons["complement_unavailable"])
        for i in np.flatnonzero(dec.unavailable)
    ]
    return [
        {
            "table": spec.table,
            "unit": units.iloc[i],
            "group": str(group_values[i]),
            "keys": c.labels.iloc[i],
            "rule": r,
            "reason": why,
            "hidden_columns": ",".join(hidden_cols),
            "graduates": int(c.n[i]),
            "value": int(c.x[i]),
            "recorded_at": now,
        }
        for i, r, why in idx
    ]


# --- Chinese headers of the columns this module adds (helpers.tables registry) -----------------
DISPLAY_SUFFIX_ZH = "（公布值）"
COMPLEMENT_HEADERS = {
    "not_placed": "未落实人数",
    "not_compliant_3x3": "未达到“3个3”人数",
}


def _complement_zh(placed_col: str, complement_col: str) -> str:
    if complement_col in COMPLEMENT_HEADERS:
        return COMPLEMENT_HEADERS[complement_col]
    if placed_col == "placed":
        return COMPLEMENT_HEADERS["not_placed"]
    try:
        from helpers.tables import ZH_HEADERS
    except ImportError:
        return "相关人数"
    return ZH_HEADERS.get(complement_col, "相关人数")


def _register_added_headers(placed_col: str, complement_col: str, rate_cols) -> None:
    """Register ``<col>_display`` and complement headers so helpers.tables can write them."""
    try:
        from helpers.tables import ZH_HEADERS, register_headers
    except ImportError:  # tables not installed: nothing to register with
        return
    new: dict[str, str] = {}
    if complement_col not in ZH_HEADERS:
        base = ZH_HEADERS.get(placed_col, placed_col)
        new[complement_col] = COMPLEMENT_HEADERS.get(complement_col, f"{base}以外人数")
    for c in (placed_col, complement_col, *rate_cols):
        zh = ZH_HEADERS.get(c) or new.get(c)
        if zh and f"{c}_display" not in ZH_HEADERS:
            new[f"{c}_display"] = zh + DISPLAY_SUFFIX_ZH
    if new:
        register_headers(new)


def register_static_headers() -> None:
    try:
        from helpers.tables import ZH_HEADERS, register_headers
    except ImportError:
        return
    register_headers({k: v for k, v in COMPLEMENT_HEADERS.items() if k not in ZH_HEADERS})
    for placed, rate in (("placed", "placement_rate"), ("compliant_3x3", "compliance_rate")):
        _register_added_headers(placed, f"not_{placed}", (rate,))


def _join_cols(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Vectorised "a / b / c" label of each row's values of ``cols``."""
    parts = [df[c].astype(str) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out.reset_index(drop=True)


def _codes(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Integer id of each row's combination of ``cols`` (0 for all rows when ``cols`` is empty)."""
    if not cols:
        return np.zeros(len(df), dtype=np.int64)
    return df.groupby(cols, sort=False, dropna=False, observed=True).ngroup().to_numpy(np.int64)


def _single_inexact(key: np.ndarray, member: np.ndarray, inexact: np.ndarray) -> np.ndarray:
    """Boolean per key id: the members of this key hold exactly one inexact cell."""
    size = int(key.max()) + 1 if len(key) else 0
    k = key[member & (key >= 0)]
    counts = np.bincount(k[inexact[member & (key >= 0)]], minlength=size)
    return counts == 1


def _pick_smallest(
    key: np.ndarray, cand: np.ndarray, n: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For every key id with ``need``, the candidate row with the smallest n (first on ties).

    Returns (chosen row mask, key ids that needed one but had no candidate).
    """
    chosen = np.zeros(len(key), dtype=bool)
    rows = np.flatnonzero(cand & (key >= 0) & need[np.maximum(key, 0)])
    if len(rows):
        order = np.lexsort((rows, n[rows], key[rows]))
        r = rows[order]
        first = np.r_[True, key[r][1:] != key[r][:-1]]
        chosen[r[first]] = True
    needed = np.flatnonzero(need)
    have = np.unique(key[chosen])
    return chosen, np.setdiff1d(needed, have)


register_static_headers()
