"""What a reader of a protected table sees: the markers, the Chinese legend, and a protected
table as strings for a notebook (see :mod:`helpers.disclosure`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

HIDDEN = "—"
NOT_APPLICABLE = "不适用"


def pct0(x: float) -> str:
    return f"{x * 100:.0f}%"


def pct1(x: float) -> str:
    return f"{x * 100:.1f}%"


def pct1_array(x: np.ndarray) -> np.ndarray:
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
    top, bottom, min_rate = pct0(d.top_code), pct0(d.bottom_code), str(d.min_group_for_rate)
    return (
        f"注：为保护困难群体毕业生个人信息，“{HIDDEN}”表示已隐藏（群体不足{min_rate}人，"
        f"或为防止由合计、另一类别反推而互补隐藏）；“<{m}”表示人数少于{m}人；"
        f"“>={top}”“<={bottom}”为不足{code_below}人群体的顶端、底端编码；"
        f"“>=x%”为由“<{m}”推出的比率下限；“{NOT_APPLICABLE}”表示该群体无毕业生。"
        "隐藏的数值在表格文件中为空，不是0；原因见“数据保护说明”（suppressed）列。"
    )


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
    return "" if _missing(v) else pct1(float(v))


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
