"""Placement-rate charts: one function per chart kind, each returning a matplotlib Figure.

Every function takes an aggregated table (never records), uses Chinese titles and labels, and
stays readable in greyscale: series differ by marker, line style or hatch, not by colour alone.
Call :func:`helpers.charts.use_house_style` once per notebook; show a chart with
:func:`show_figure`, which displays and then closes it.

The funnel plot is generic: ``target`` is the centre line (the pooled provincial rate for
universities, the 50% line for 学科专业点, the pooled share for a warning signal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from helpers.charts import LINESTYLES, MARKERS, PALETTE, show_figure  # noqa: F401  (notebooks import it from here)
from helpers.charts.canvas import row_labels, subplots
from helpers.rates import funnel_limits, random_effects_limits

HATCHES = ["", "//", "..", "xx", "\\\\", "++", "--", "oo"]
GREYS = ["#1b4f72", "#5d6d7e", "#aab7b8", "#d5dbdb", "#7d8c8d", "#34495e", "#e5e8e8", "#95a5a6"]
HIGHLIGHT = "#b03a2e"


def _pct_axis(axis) -> None:
    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def _rows_height(rows: int, per_row: float = 0.28, minimum: float = 2.6) -> float:
    return max(minimum, 1.2 + per_row * rows)


def ranked_rates(
    df: pd.DataFrame,
    *,
    label: str,
    rate: str = "placement_rate",
    ci: tuple[str, str] = ("ci_low", "ci_high"),
    n: str | None = "graduates",
    policy_line: float | None = None,
    pooled: float | None = None,
    baseline: str | None = None,
    highlight: Sequence[str] = (),
    title: str = "毕业去向落实率",
    xlabel: str = "毕业去向落实率",
    sort: bool = True,
) -> Figure:
    """Dot-and-interval chart of rates, one row per unit, ranked from highest to lowest.

    ``policy_line`` (e.g. the 70% provincial average of the notice) is a dashed vertical line,
    ``pooled`` a dotted one; ``baseline`` names a column drawn as open diamonds (last year's rate);
    rows whose label is in ``highlight`` are drawn in the accent colour with a square marker.
    Rows without a rate (n = 0 or suppressed) are listed with "无数据".
    """
    data = df.copy()
    if sort:
        data = data.sort_values(rate, ascending=True, na_position="first", kind="stable")
    else:  # keep the table's order, first row on top
        data = data.iloc[::-1]
    labels = data[label].astype(str).tolist()
    if n is not None:
        counts = data[n].to_numpy()
        labels = [
            f"{lab}（{int(c):,}人）" if pd.notna(c) else lab
            for lab, c in zip(labels, counts, strict=True)
        ]
    y = np.arange(len(data))
    fig, ax = subplots(figsize=(8, _rows_height(len(data))))
    r = data[rate].to_numpy(dtype=float)
    lo = data[ci[0]].to_numpy(dtype=float) if ci else r
    hi = data[ci[1]].to_numpy(dtype=float) if ci else r
    hl = data[label].astype(str).isin([str(h) for h in highlight]).to_numpy()
    ok = ~np.isnan(r)
    for mask, colour, marker, name in (
        (ok & ~hl, PALETTE[0], "o", None),
        (ok & hl, HIGHLIGHT, "s", "本校"),
    ):
        if not mask.any():
            continue
        ax.errorbar(
            r[mask],
            y[mask],
            xerr=[r[mask] - lo[mask], hi[mask] - r[mask]],
            fmt=marker,
            color=colour,
            ecolor=colour,
            elinewidth=1.2,
            capsize=2,
            markersize=5,
            label=name,
        )
    for yi in y[~ok]:
        ax.text(0.01, yi, "无数据", va="center", fontsize=8, transform=ax.get_yaxis_transform())
    if baseline is not None and baseline in data:
        b = data[baseline].to_numpy(dtype=float)
        m = ~np.isnan(b)
        if m.any():
            ax.plot(
                b[m],
                y[m],
                linestyle="none",
                marker="D",
                markerfacecolor="white",
                markeredgecolor="#333333",
                markersize=5,
                label="上年初次落实率",
            )
    if policy_line is not None:
        ax.axvline(
            policy_line,
            color="#333333",
            linestyle="--",
            linewidth=1.2,
            label=f"全省平均水平（政策线）{policy_line:.0%}",
        )
    if pooled is not None and not np.isnan(pooled):
        ax.axvline(
            pooled,
            color="#777777",
            linestyle=":",
            linewidth=1.5,
            label=f"本期全省汇总 {pooled:.1%}",
        )
    row_labels(ax, y, labels)
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_xlim(_rate_limits(np.concatenate([lo[ok], hi[ok], [policy_line or np.nan]])))
    _pct_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    handles, names = ax.get_legend_handles_labels()
    if handles:
        height = fig.get_size_inches()[1]
        ax.legend(
            handles,
            names,
            loc="upper center",
            ncols=min(len(handles), 3),
            bbox_to_anchor=(0.5, -0.6 / max(height - 1.2, 1.0)),
        )
    fig.tight_layout()
    return fig


def _rate_limits(values: np.ndarray) -> tuple[float, float]:
    v = values[~np.isnan(values)]
    if not len(v):
        return 0.0, 1.0
    lo = max(0.0, np.floor((v.min() - 0.03) * 20) / 20)
    hi = min(1.0, np.ceil((v.max() + 0.03) * 20) / 20)
    if hi - lo < 0.1:
        lo, hi = max(0.0, lo - 0.05), min(1.0, hi + 0.05)
    return float(lo), float(hi)


def funnel_plot(
    df: pd.DataFrame,
    *,
    target: float,
    n: str = "graduates",
    rate: str = "placement_rate",
    alert: float = 0.95,
    alarm: float = 0.998,
    tau2: float = 0.0,
    policy_line: float | None = None,
    label: str | None = None,
    label_outside: bool = True,
    highlight: Sequence[str] = (),
    target_label: str = "全省汇总",
    title: str = "毕业去向落实率漏斗图",
    xlabel: str = "毕业生数",
    ylabel: str = "毕业去向落实率",
    log_x: bool | None = None,
    figsize: tuple[float, float] = (8, 6),
) -> Figure:
    """Funnel plot: rate against size, with exact binomial limits around ``target``.

    Draws the exact 95% (``alert``) and 99.8% (``alarm``) limits (Spiegelhalter 2005); when
    ``tau2`` > 0 also the overdispersion-adjusted (random-effects, arcsine scale) limits, which are
    the ones that decide flags. ``policy_line`` adds a dashed horizontal line (e.g. 70%).
    ``label`` names a column used to label units outside the limits in use (``label_outside``) and
    those in ``highlight``. Reusable for any proportion: pass ``target=0.5`` for 专业点.
    """
    data = df[df[n] > 0]
    sizes = data[n].to_numpy(dtype=float)
    r = data[rate].to_numpy(dtype=float)
    fig, ax = subplots(figsize=figsize)
    n_max = max(float(sizes.max()) if len(sizes) else 10.0, 10.0) * 1.08
    n_min = max(1.0, float(sizes.min()) * 0.6) if len(sizes) else 1.0
    if log_x is None:
        log_x = len(sizes) > 0 and n_max / n_min > 60
    grid = np.unique(np.round(np.geomspace(n_min, n_max, 240)))
    styles = (
        ("--", alert, f"{alert:.0%}控制限（精确二项）"),
        (":", alarm, f"{alarm:.1%}控制限（精确二项）"),
    )
    for style, cov, name in styles:
        lo, hi = funnel_limits(grid, target, cov)
        ax.plot(grid, lo, color="#555555", linestyle=style, linewidth=1.1, label=name)
        ax.plot(grid, hi, color="#555555", linestyle=style, linewidth=1.1)
    if tau2 > 0:
        for style, cov, name in (
            ("-", alert, f"{alert:.0%}控制限（离散度调整）"),
            ("-.", alarm, f"{alarm:.1%}控制限（离散度调整）"),
        ):
            lo, hi = random_effects_limits(grid, target, cov, tau2)
            ax.plot(grid, lo, color=PALETTE[2], linestyle=style, linewidth=1.6, label=name)
            ax.plot(grid, hi, color=PALETTE[2], linestyle=style, linewidth=1.6)
    ax.axhline(target, color="#222222", linewidth=1.2, label=f"{target_label} {target:.1%}")
    if policy_line is not None:
        ax.axhline(
            policy_line,
            color=HIGHLIGHT,
            linestyle=(0, (6, 2)),
            linewidth=1.2,
            label=f"全省平均水平（政策线）{policy_line:.0%}",
        )
    # which units lie outside the limits that decide flags
    if tau2 > 0:
        lo_used, hi_used = random_effects_limits(sizes, target, alert, tau2)
    else:
        lo_used, hi_used = funnel_limits(sizes, target, alert)
    outside = (r < lo_used) | (r > hi_used)
    hl = (
        data[label].astype(str).isin([str(h) for h in highlight]).to_numpy()
        if label is not None
        else np.zeros(len(data), dtype=bool)
    )
    inside = ~outside & ~hl
    if inside.any():
        ax.scatter(
            sizes[inside],
            r[inside],
            s=22,
            marker="o",
            facecolor=PALETTE[0],
            edgecolor="white",
            linewidth=0.5,
            zorder=3,
            label="控制限内",
        )
    if (outside & ~hl).any():
        ax.scatter(
            sizes[outside & ~hl],
            r[outside & ~hl],
            s=30,
            marker="^",
            facecolor="white",
            edgecolor="#111111",
            linewidth=1.0,
            zorder=4,
            label="95%控制限外",
        )
    if hl.any():
        ax.scatter(
            sizes[hl],
            r[hl],
            s=60,
            marker="s",
            facecolor=HIGHLIGHT,
            edgecolor="black",
            zorder=5,
            label="本校",
        )
    if label is not None:
        names = data[label].astype(str).to_numpy()
        show = hl | (outside if label_outside else np.zeros(len(data), dtype=bool))
        for x, yv, name in zip(sizes[show], r[show], names[show], strict=True):
            ax.annotate(name, (x, yv), xytext=(4, 3), textcoords="offset points", fontsize=8)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlim(n_min, n_max)
    smallest = np.array([max(1.0, float(sizes.min()) if len(sizes) else 1.0)])
    lo_all, hi_all = funnel_limits(np.round(smallest), target, alert)
    ylo, yhi = _rate_limits(
        np.concatenate(
            [r, lo_all, hi_all, [target], [policy_line if policy_line is not None else np.nan]]
        )
    )
    ax.set_ylim(ylo, yhi)
    _pct_axis(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, fontsize=8)
    fig.tight_layout()
    return fig


def progress_lines(
    df: pd.DataFrame,
    *,
    series: str = "series",
    date: str = "snapshot_date",
    cohort: str = "cohort",
    rate: str = "placement_rate",
    reference_cohort: int | None = None,
    marks: Sequence[tuple[dt.date, str]] = (),
    title: str = "毕业去向落实进度",
    ylabel: str = "毕业去向落实率",
) -> Figure:
    """Rate by snapshot date, one line per series (e.g. "2023届 全省", "2022届 全省").

    Earlier cohorts are shifted onto the calendar of ``reference_cohort`` (default: the newest),
    so lines compare the same month-day. ``marks`` are vertical reference dates (e.g. 08-31).
    """
    data = df.dropna(subset=[rate]).copy()
    fig, ax = subplots(figsize=(8, 4.5))
    if data.empty:
        ax.text(0.5, 0.5, "暂无进度数据", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return fig
    ref = reference_cohort if reference_cohort is not None else int(data[cohort].max())
    shift = (ref - data[cohort].astype(int)).to_numpy()
    dates = pd.to_datetime(data[date])
    data["_x"] = [d + pd.DateOffset(years=int(s)) for d, s in zip(dates, shift, strict=True)]
    order = list(dict.fromkeys(data.sort_values([cohort, series], ascending=[False, True])[series]))
    for i, name in enumerate(order):
        part = data[data[series] == name].sort_values("_x")
        ax.plot(
            part["_x"],
            part[rate],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            color=PALETTE[i % len(PALETTE)],
            linewidth=1.6,
            markersize=5,
            label=name,
        )
    for when, text in marks:
        ax.axvline(pd.Timestamp(when), color="#888888", linestyle=":", linewidth=1)
        ax.annotate(
            text,
            (pd.Timestamp(when), 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=8,
            ha="right",
            va="bottom",
        )
    _pct_axis(ax.yaxis)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(f"统计日期（按{ref}届日历对齐）")
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m月"))
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def destination_mix_bars(
    df: pd.DataFrame,
    *,
    label: str,
    buckets: Sequence[str],
    bucket: str = "bucket",
    share: str = "share",
    title: str = "毕业去向构成",
    highlight: Sequence[str] = (),
) -> Figure:
    """Horizontal 100% stacked bars of bucket shares per unit (long table in, one bar per label).

    Buckets keep the order given (e.g. ``helpers.codes.BUCKETS_2024``); each has its own grey and
    hatch so the bars read in greyscale.
    """
    wide = (
        df.pivot_table(
            index=label, columns=bucket, values=share, aggfunc="sum", observed=True, sort=False
        )
        .reindex(columns=list(buckets))
        .fillna(0.0)
    )
    labels = list(dict.fromkeys(df[label].astype(str)))
    wide.index = wide.index.astype(str)
    wide = wide.reindex(labels[::-1])
    fig, ax = subplots(figsize=(8.5, _rows_height(len(wide), 0.32, 3.0)))
    left = np.zeros(len(wide))
    y = np.arange(len(wide))
    for i, b in enumerate(buckets):
        vals = wide[b].to_numpy(dtype=float)
        ax.barh(
            y,
            vals,
            left=left,
            color=GREYS[i % len(GREYS)],
            hatch=HATCHES[i % len(HATCHES)],
            edgecolor="#333333",
            linewidth=0.5,
            label=b,
        )
        for yi, (l0, v) in enumerate(zip(left, vals, strict=True)):
            if v >= 0.08:
                ax.text(
                    l0 + v / 2,
                    yi,
                    f"{v:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if i in (0, 1, 5) else "black",
                )
        left += vals
    ticks = [f"▶ {lab}" if lab in {str(h) for h in highlight} else lab for lab in wide.index]
    row_labels(ax, y, ticks)
    ax.set_xlim(0, 1)
    _pct_axis(ax.xaxis)
    ax.set_xlabel("占毕业生比例")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 - 0.6 / max(len(wide), 3)),
        ncols=min(len(buckets), 4),
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def group_gaps(
    df: pd.DataFrame,
    *,
    label: str = "group",
    rate: str = "placement_rate",
    reference: str = "university_rate",
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    reference_label: str = "本校整体",
    title: str = "困难群体落实率与本校整体比较",
) -> Figure:
    """Each group's rate (filled square, with interval) beside the overall rate (open circle).

    Rows whose rate is hidden by disclosure control are listed as "数据保护" and not drawn, so a
    suppressed value never looks like 0.
    """
    data = df.reset_index(drop=True)
    y = np.arange(len(data))[::-1]
    fig, ax = subplots(figsize=(8, _rows_height(len(data), 0.45, 2.8)))
    r = data[rate].to_numpy(dtype=float)
    ref = data[reference].to_numpy(dtype=float)
    ok = ~np.isnan(r)
    for yi, a, b in zip(y[ok], r[ok], ref[ok], strict=True):
        ax.plot([a, b], [yi, yi], color="#999999", linewidth=1, zorder=1)
    if ci is not None and ok.any():
        lo = data[ci[0]].to_numpy(dtype=float)
        hi = data[ci[1]].to_numpy(dtype=float)
        ax.errorbar(
            r[ok],
            y[ok],
            xerr=[r[ok] - lo[ok], hi[ok] - r[ok]],
            fmt="s",
            color=PALETTE[0],
            capsize=3,
            markersize=6,
            label="该群体（含置信区间）",
            zorder=3,
        )
    elif ok.any():
        ax.plot(r[ok], y[ok], "s", color=PALETTE[0], label="该群体", zorder=3)
    m = ~np.isnan(ref)
    ax.plot(
        ref[m],
        y[m],
        "o",
        markerfacecolor="white",
        markeredgecolor="#111111",
        markersize=7,
        linestyle="none",
        label=reference_label,
        zorder=4,
    )
    for yi in y[~ok]:
        ax.text(
            0.02,
            yi,
            "数据保护（人数过少，不显示）",
            va="center",
            fontsize=8,
            transform=ax.get_yaxis_transform(),
        )
    row_labels(ax, y, data[label].astype(str))
    ax.set_ylim(-0.7, len(data) - 0.3)
    vals = np.concatenate([r[ok], ref[m]])
    if ci is not None and ok.any():
        vals = np.concatenate([vals, lo[ok], hi[ok]])
    ax.set_xlim(_rate_limits(vals))
    _pct_axis(ax.xaxis)
    ax.set_xlabel("毕业去向落实率")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def change_bars(
    df: pd.DataFrame,
    *,
    label: str,
    value: str = "rate_change",
    title: str = "较上期落实率变化",
    xlabel: str = "变化（百分点）",
) -> Figure:
    """Diverging horizontal bars of a change in rate (rises hatched, falls solid)."""
    data = df.dropna(subset=[value]).sort_values(value, kind="stable")
    fig, ax = subplots(figsize=(8, _rows_height(len(data), 0.3, 2.6)))
    v = data[value].to_numpy(dtype=float) * 100
    y = np.arange(len(data))
    up = v >= 0
    ax.barh(y[up], v[up], color=GREYS[2], hatch="//", edgecolor="#333333", label="上升")
    ax.barh(y[~up], v[~up], color=PALETTE[0], edgecolor="#333333", label="下降")
    for yi, val in zip(y, v, strict=True):
        ax.text(
            val, yi, f" {val:+.1f}", va="center", ha="left" if val >= 0 else "right", fontsize=8
        )
    ax.axvline(0, color="#333333", linewidth=0.8)
    row_labels(ax, y, data[label].astype(str))
    span = max(1.0, float(np.abs(v).max()) if len(v) else 1.0) * 1.25
    ax.set_xlim(-span if (~up).any() else -span * 0.1, span if up.any() else span * 0.1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    ax.legend(
        handles=[
            Patch(facecolor=GREYS[2], hatch="//", edgecolor="#333333", label="上升"),
            Patch(facecolor=PALETTE[0], edgecolor="#333333", label="下降"),
        ],
        loc="lower right",
    )
    fig.tight_layout()
    return fig
