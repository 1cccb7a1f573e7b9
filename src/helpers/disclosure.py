"""Statistical disclosure control for tables about graduates in difficulty.

Tables about groups in difficulty (脱贫家庭, 低保家庭, 零就业家庭, 残疾, ...) are protected by
:func:`protect_group_table` before they are shown in a notebook or written to ``reports/``.
Placement rates of whole universities and majors are NOT passed through this module: the
department needs them exact, and they are always shown with their n (see ``docs/privacy.md``).

One row of a group table is one cell: a group (``group_col``) within a unit (``total_keys``, e.g.
one university, or ``ALL`` for the province). Its values are the group size ``n`` (``count_col``,
always shown), the number with the outcome ``x`` (``placed_col``), the complement ``n - x``
(added as ``complement_col``) and the rates (``rate_cols``). Given ``n``, the values ``x``,
``n - x`` and the rate are equivalent, so they are shown or hidden together. Rules (policy
``disclosure`` section, thresholds from the policy file, never literals):

1. ``n < min_group_for_rate``: hidden ("—"): rate, ``x`` and ``n - x``.
2. ``n < top_bottom_code_below`` and rate <= ``bottom_code``: bottom coded, rate shown as
   "<=5%"; ``x`` and ``n - x`` hidden.
3. ``n < top_bottom_code_below`` and rate >= ``top_code``: top coded, rate shown as ">=95%";
   ``x`` hidden, ``n - x`` shown as "<5" when it is below ``min_count_shown`` (else hidden).
4. ``n - x < min_count_shown`` (zero included: "all of them placed" is an attribute disclosure
   too): ``n - x`` shown as "<5", ``x`` hidden, the rate shown as the bound it implies
   (">=98.6%" for n = 290), which depends on ``n`` only.
5. Complementary suppression, repeated until nothing changes:
   - across units: for each group (and ``by`` columns), the unit rows add up to the total row
     (``ALL``; the province total of a group is published anyway). A line with exactly one
     non-exact cell gets a second one: the smallest other unit cell with ``n > 0``; if there is
     none, the total row is hidden instead.
   - two-category rule: categories listed together in ``partitions`` (e.g. ``("男", "女")``, or
     a group and its complement) add up to the unit's total, which is published elsewhere.
     A unit with exactly one non-exact category gets a second one (the smallest other).

A hidden value is never written as 0: numeric cells become NA (empty in CSV), ``suppressed``
holds the reason in Chinese, and ``<col>_display`` columns hold what a reader sees ("87.5%",
"—", "<5", ">=95%", "<=5%", "不适用" for an empty group). Every decision is recorded as an audit
record (the caller's ``audit`` list, ``df.attrs["disclosure_audit"]`` and the module-level
collector written by :func:`flush_audit` under ``data/processed/<as_of>/``, never ``reports/``).

Protect the complete table (every university and the ``ALL`` rows) and select rows afterwards:
protecting a subset on its own cannot see the other cells of a total.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TOTAL_LABEL = "ALL"
HIDDEN = "—"
NOT_APPLICABLE = "不适用"
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

AUDIT_COLUMNS = (
    "table",
    "unit",
    "group",
    "keys",
    "rule",
    "reason",
    "hidden_columns",
    "graduates",
    "value",
    "recorded_at",
)

_COLLECTOR: list[dict[str, Any]] = []


def _reasons(d, complement_zh: str = "未落实人数") -> dict[str, str]:
    """Chinese reason texts; numbers from the policy's ``disclosure`` section."""
    m = d.min_count_shown
    return {
        "small_group": f"该群体人数不足{d.min_group_for_rate}人，不公布比率及相关人数",
        "bottom_code": (
            f"群体人数不足{d.top_bottom_code_below}人且比率不高于{_pct0(d.bottom_code)}，"
            f"按“<={_pct0(d.bottom_code)}”显示"
        ),
        "top_code": (
            f"群体人数不足{d.top_bottom_code_below}人且比率不低于{_pct0(d.top_code)}，"
            f"按“>={_pct0(d.top_code)}”显示"
        ),
        "small_complement": f"{complement_zh}少于{m}人，显示为“<{m}”，比率只显示其下限",
        "complement_total": "互补隐藏：防止由合计数反推被隐藏的单元格",
        "complement_category": "互补隐藏：防止由另一类别反推被隐藏的单元格（两类规则）",
        "total_single_cell": "互补隐藏：合计只含一个被隐藏单元格，合计一并隐藏",
        "complement_unavailable": "无可用的互补单元格（记录在审计表中）",
    }


def _pct0(x: float) -> str:
    return f"{x * 100:.0f}%"


def _pct1(x: float) -> str:
    return f"{x * 100:.1f}%"


def _pct1_array(x: np.ndarray) -> np.ndarray:
    """Vectorised "87.5%" strings (object array; NaN gives "")."""
    pct = pd.Series(np.asarray(x, dtype=float) * 100).round(1)
    txt = pct.map("{:.1f}%".format).to_numpy(dtype=object)
    txt[pct.isna().to_numpy()] = ""
    return txt


def legend(policy=None) -> str:
    """Chinese legend for the markers used in protected tables (for a notebook or report)."""
    if policy is None:
        from helpers.config import load_policy

        policy = load_policy()
    d = policy.disclosure
    m, code_below = str(d.min_count_shown), str(d.top_bottom_code_below)
    top, bottom, min_rate = _pct0(d.top_code), _pct0(d.bottom_code), str(d.min_group_for_rate)
    return (
        f"注：为保护困难群体毕业生个人信息，“{HIDDEN}”表示已隐藏（群体不足{min_rate}人，"
        f"或为防止由合计、另一类别反推而互补隐藏）；“<{m}”表示人数少于{m}人；"
        f"“>={top}”“<={bottom}”为不足{code_below}人群体的顶端、底端编码；"
        f"“>=x%”为由“<{m}”推出的比率下限；“{NOT_APPLICABLE}”表示该群体无毕业生。"
        "隐藏的数值在表格文件中为空，不是0；原因见“数据保护说明”（suppressed）列。"
    )


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


def protect_group_table(
    df: pd.DataFrame,
    policy,
    count_col: str = "graduates",
    placed_col: str = "placed",
    rate_cols: Sequence[str] = ("placement_rate",),
    group_col: str = "group",
    total_keys: Sequence[str] = ("university_code",),
    *,
    complement_col: str | None = None,
    by: Sequence[str] = (),
    partitions: Iterable[Sequence[str]] = (),
    linked_cols: Sequence[str] = LINKED_COLS,
    total_label: str = TOTAL_LABEL,
    table: str = "",
    audit: list | None = None,
) -> pd.DataFrame:
    """Apply the disclosure rules of ``policy.disclosure`` to a table about groups in difficulty.

    Parameters
    ----------
    df: one row per (``total_keys``, ``by``, ``group_col``); ``total_keys`` equal to
        ``total_label`` ("ALL") marks the total row of a group.
    count_col: group size n (shown as is; a group's size is not hidden).
    placed_col: number with the outcome (placed, compliant_3x3, ...); hidden cells become NA.
    rate_cols: columns holding ``placed / count`` (hidden or coded with the cell); a name that
        is not in ``df`` is an error.
    linked_cols: further columns that would reveal a hidden rate (``gap`` = rate - university
        rate, confidence limits); those present are emptied with the cell.
    complement_col: name of the added ``count - placed`` column (default ``"not_" + placed_col``,
        i.e. ``not_placed``).
    by: further key columns that are not totalled (e.g. ``education_level``).
    partitions: tuples of categories of ``group_col`` that add up to the unit's total (two-
        category rule), e.g. ``[("男", "女")]``.
    table: a name for the audit (e.g. ``"placement_by_group"``).
    audit: a list that receives one dict per decision (also kept in the module collector and
        in ``result.attrs["disclosure_audit"]``).

    Returns a copy with ``placed_col`` as nullable Int64, the complement column, every rate and
    linked column emptied (NaN) where hidden or coded, ``suppressed`` (Chinese reason, "" when
    exact) and ``<col>_display`` strings for ``placed_col``, the complement column and each rate
    column.
    """
    d = policy.disclosure
    rate_cols = tuple(rate_cols)
    total_keys = tuple(total_keys)
    by = tuple(by)
    table = table or "group_table"
    if complement_col is None:
        complement_col = f"not_{placed_col}"
    _check_columns(df, (count_col, placed_col, group_col, *total_keys, *by, *rate_cols), table)
    if complement_col in df.columns:
        raise ValueError(
            f"protect_group_table({table}): column {complement_col!r} already exists; "
            "pass complement_col=<another name>"
        )

    out = df.copy().reset_index(drop=True)
    key_cols = [*total_keys, *by, group_col]
    labels = _join_cols(out, key_cols)
    dup = labels.duplicated(keep=False)
    if dup.any():
        raise ValueError(
            f"protect_group_table({table}): duplicate rows for key {key_cols}: "
            f"{sorted(labels[dup].unique())[:5]}"
        )
    n = _as_int_array(out[count_col], count_col, table, labels)
    x = _as_int_array(out[placed_col], placed_col, table, labels)
    over = x > n
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise ValueError(
            f"protect_group_table({table}): row {i} ({labels.iloc[i]}): "
            f"{placed_col}={x[i]} is greater than {count_col}={n[i]}"
        )
    u = n - x
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)

    # --- primary rules (precedence: small group > bottom > top > small complement) -------------
    small = n < d.min_group_for_rate
    codable = (n < d.top_bottom_code_below) & (n > 0) & ~small
    bottom = codable & (rate <= d.bottom_code)
    top = codable & ~bottom & (rate >= d.top_code)
    few = (n > 0) & ~small & ~bottom & ~top & (u < d.min_count_shown)
    empty = n == 0
    small &= ~empty  # an empty group has nothing to hide ("不适用")

    rule = np.full(len(out), "", dtype=object)
    rule[small] = "small_group"
    rule[bottom] = "bottom_code"
    rule[top] = "top_code"
    rule[few] = "small_complement"
    inexact = small | bottom | top | few

    # --- complementary suppression ---------------------------------------------------------
    tk = out[list(total_keys)].astype(str)
    is_total = (tk == total_label).all(axis=1).to_numpy()
    partial = (tk == total_label).any(axis=1).to_numpy() & ~is_total
    if partial.any():
        i = int(np.flatnonzero(partial)[0])
        raise ValueError(
            f"protect_group_table({table}): row {i} ({labels.iloc[i]}) is a partial total "
            f"(only some of {list(total_keys)} are {total_label!r}); not supported"
        )
    line_key = _codes(out, [*by, group_col])
    unit_key = _codes(out, [*total_keys, *by])
    part_id = np.full(len(out), -1, dtype=np.int64)
    group_values = out[group_col].astype(str).to_numpy()
    for j, cats in enumerate(partitions):
        cats = [str(c) for c in cats]
        if len(cats) < 2:
            raise ValueError(f"protect_group_table({table}): a partition needs >= 2 categories")
        part_id[np.isin(group_values, cats)] = j
    unavailable = np.zeros(len(out), dtype=bool)

    for _ in range(len(out) + 1):
        before = inexact.copy()
        # across units: components of each line must hold 0 or >= 2 inexact cells
        comp = ~is_total
        need = _single_inexact(line_key, comp, inexact)
        if need.any():
            cand = comp & ~inexact & (n > 0)
            chosen, no_cand = _pick_smallest(line_key, cand, n, need)
            rule[chosen] = "complement_total"
            inexact |= chosen
            # no other component: the total itself would reveal the cell
            tot_hide = is_total & ~inexact & np.isin(line_key, no_cand)
            rule[tot_hide] = "total_single_cell"
            inexact |= tot_hide
        # two-category rule: within a unit, categories of one partition
        if (part_id >= 0).any():
            pk = np.where(part_id >= 0, unit_key * (part_id.max() + 1) + part_id, -1)
            member = part_id >= 0
            need = _single_inexact(pk, member, inexact)
            if need.any():
                cand = member & ~inexact & (n > 0)
                chosen, no_cand = _pick_smallest(pk, cand, n, need)
                rule[chosen] = "complement_category"
                inexact |= chosen
                lonely = member & inexact & np.isin(pk, no_cand) & ~unavailable
                unavailable |= lonely
        if (inexact == before).all():
            break

    # --- write the protected frame ---------------------------------------------------------
    reasons = _reasons(d, _complement_zh(placed_col, complement_col))
    out[placed_col] = pd.array(x, dtype="Int64")
    out.loc[inexact, placed_col] = pd.NA
    out[complement_col] = pd.array(u, dtype="Int64")
    out.loc[inexact, complement_col] = pd.NA
    hidden_cols = [placed_col, complement_col, *rate_cols] + [
        c for c in linked_cols if c in out.columns and c not in rate_cols
    ]
    for c in [*rate_cols, *(c for c in linked_cols if c in out.columns and c not in rate_cols)]:
        vals = pd.to_numeric(out[c], errors="coerce").astype(float)
        vals[inexact] = np.nan
        out[c] = vals
    suppressed = pd.Series(rule, dtype=object).map({**reasons, "": ""}).astype(object)
    suppressed[unavailable] = suppressed[unavailable] + "；" + reasons["complement_unavailable"]
    out["suppressed"] = suppressed.to_numpy()

    rate_disp = _pct1_array(rate)
    rate_disp[inexact] = HIDDEN
    rate_disp[empty] = NOT_APPLICABLE
    rate_disp[bottom] = f"<={_pct0(d.bottom_code)}"
    rate_disp[top] = f">={_pct0(d.top_code)}"
    if few.any():
        bound = np.floor((1 - (d.min_count_shown - 1) / n[few]) * 1000) / 1000
        rate_disp[few] = ">=" + _pct1_array(bound)
    placed_disp = np.where(inexact, HIDDEN, x.astype(str)).astype(object)
    comp_disp = np.where(inexact, HIDDEN, u.astype(str)).astype(object)
    comp_disp[(top | few) & (u < d.min_count_shown)] = f"<{d.min_count_shown}"
    out[f"{placed_col}_display"] = placed_disp
    out[f"{complement_col}_display"] = comp_disp
    for c in rate_cols:
        # a rate column other than placed/count (rare) is only shown exact or hidden
        if c == rate_cols[0]:
            out[f"{c}_display"] = rate_disp
        else:
            vals = out[c].to_numpy(dtype=float)
            disp = _pct1_array(vals)
            disp[np.isnan(vals)] = HIDDEN
            disp[empty] = NOT_APPLICABLE
            out[f"{c}_display"] = disp

    _register_added_headers(placed_col, complement_col, rate_cols)

    # --- audit ------------------------------------------------------------------------------
    now = dt.datetime.now().isoformat(timespec="seconds")
    units = _join_cols(out, list(total_keys))
    idx = [(i, rule[i], out.at[i, "suppressed"]) for i in np.flatnonzero(inexact)]
    idx += [
        (i, "complement_unavailable", reasons["complement_unavailable"])
        for i in np.flatnonzero(unavailable)
    ]
    records = [
        {
            "table": table,
            "unit": units.iloc[i],
            "group": str(group_values[i]),
            "keys": labels.iloc[i],
            "rule": r,
            "reason": why,
            "hidden_columns": ",".join(hidden_cols),
            "graduates": int(n[i]),
            "value": int(x[i]),
            "recorded_at": now,
        }
        for i, r, why in idx
    ]
    if audit is not None:
        audit.extend(records)
    _COLLECTOR.extend(records)
    out.attrs["disclosure_audit"] = records
    out.attrs["disclosure"] = {
        "count_col": count_col,
        "placed_col": placed_col,
        "complement_col": complement_col,
        "rate_cols": list(rate_cols),
    }
    return out


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


def _register_static_headers() -> None:
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


# --- display -------------------------------------------------------------------------------
def for_display(
    df: pd.DataFrame, headers: dict[str, str] | None = None, drop: Sequence[str] = ()
) -> pd.DataFrame:
    """A protected table as strings for a notebook: every ``<col>_display`` replaces ``<col>``,
    other rates/linked values hidden in a suppressed row show "—", headers optionally renamed
    (e.g. with ``helpers.tables.ZH_HEADERS``). Never shows 0 for a hidden value."""
    out = df.copy()
    shown = [c for c in out.columns if not c.endswith("_display") and c not in drop]
    suppressed = out["suppressed"].fillna("").astype(str) != "" if "suppressed" in out else None
    res = {}
    for c in shown:
        if f"{c}_display" in out.columns:
            res[c] = out[f"{c}_display"].astype(str)
            continue
        col = out[c]
        if suppressed is not None and c != "suppressed" and pd.api.types.is_numeric_dtype(col):
            fmt = _fmt_rate if c.endswith("rate") else _fmt_gap if c == "gap" else _fmt_plain
            txt = col.map(fmt).astype(object)
            txt[suppressed & col.isna()] = HIDDEN
            res[c] = txt
        else:
            res[c] = col
    result = pd.DataFrame(res, index=out.index)
    if headers:
        result = result.rename(columns={k: v for k, v in headers.items() if k in result.columns})
    return result


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float | np.floating) and math.isnan(v))


def _fmt_rate(v) -> str:
    return "" if _missing(v) else _pct1(float(v))


def _fmt_gap(v) -> str:
    return "" if _missing(v) else f"{float(v) * 100:+.1f}个百分点"


def _fmt_plain(v) -> str:
    if _missing(v):
        return ""
    if isinstance(v, float | np.floating) and not float(v).is_integer():
        return f"{v:.3f}"
    return str(int(v)) if isinstance(v, float | np.floating) else str(v)


def show(df: pd.DataFrame, policy=None, headers: dict[str, str] | None = None, drop=()) -> None:
    """Display a protected table and its legend in a notebook (IPython)."""
    from IPython.display import Markdown, display

    from helpers.tables import ShownTable

    display(ShownTable(for_display(df, headers=headers, drop=drop)))
    display(Markdown(legend(policy)))


# --- audit collection ----------------------------------------------------------------------
def audit_frame(records: list[dict] | None = None) -> pd.DataFrame:
    """Audit records (default: the module collector) as a DataFrame with stable columns."""
    recs = _COLLECTOR if records is None else records
    frame = pd.DataFrame.from_records(recs, columns=list(AUDIT_COLUMNS))
    return frame.astype(
        {c: "string" for c in AUDIT_COLUMNS if c not in ("graduates", "value")}
        | {"graduates": "int64", "value": "int64"}
    )


def reset_audit() -> None:
    """Forget the collected audit records (e.g. at the start of a report on a warm kernel)."""
    _COLLECTOR.clear()


def audit_dir(data_dir: str | Path, as_of: dt.date) -> Path:
    """Where audit parts of a period go: ``data/processed/<as_of>/disclosure_audit/``."""
    from helpers.config import processed_dir

    return processed_dir(data_dir, as_of) / "disclosure_audit"


def flush_audit(
    data_dir: str | Path, as_of: dt.date, report: str, university: str | None = None
) -> Path:
    """Write the collected records to ``<audit_dir>/<report>[-<university>].parquet`` (also when
    empty, so a run shows the report was protected) and clear the collector.

    The folder is under ``data/processed/``; refuse anything under a ``reports`` folder.
    """
    folder = audit_dir(data_dir, as_of)
    if "reports" in Path(folder).resolve().parts:
        raise ValueError(f"the disclosure audit must stay out of reports/: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{report}-{university}" if university else report
    frame = audit_frame()
    frame.insert(0, "report", pd.Series([name] * len(frame), dtype="string"))
    path = folder / f"{name}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    reset_audit()
    return path


def merge_audit(data_dir: str | Path, as_of: dt.date) -> Path:
    """Gather every audit part of a period into ``data/processed/<as_of>/disclosure_audit.parquet``
    (for the runner, at the end of ``placement run``)."""
    folder = audit_dir(data_dir, as_of)
    parts = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = [pd.read_parquet(p) for p in parts]
    if frames:
        frame = pd.concat(frames, ignore_index=True)
    else:
        frame = audit_frame([])
        frame.insert(0, "report", pd.Series([], dtype="string"))
    path = folder.parent / "disclosure_audit.parquet"
    frame.to_parquet(path, index=False)
    return path


_register_static_headers()
