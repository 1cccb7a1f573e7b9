"""Charts of the major-adjustment evidence (学科专业点): one function per chart kind.

Each function takes an aggregated table of 专业点 (never records) and a ``label`` column chosen by
the caller (a university's own report labels points by major only, never by another university),
uses Chinese titles and labels, returns the Figure and stays readable in greyscale (markers, line
styles and hatches, not colour alone). The funnel plot is the placement chart
(:func:`helpers.charts.placement.funnel_plot`) with the threshold as its target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from helpers.charts import LINESTYLES, MARKERS, PALETTE
from helpers.charts.canvas import row_labels, subplots
from helpers.charts.placement import HIGHLIGHT, destination_mix_bars, funnel_plot
from helpers.majors import EVIDENCE_LABELS, MIX_CATEGORIES

# evidence level -> (fill, hatch): darkest for the strongest evidence
_LEVEL_STYLE = {
    "below_confident": ("#1b1b1b", ""),
    "below_point": ("#7d7d7d", "//"),
    "insufficient": ("#ffffff", ".."),
    "not_below": ("#d9d9d9", ""),
}


def _pct(axis) -> None:
    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def _height(rows: int, per_row: float = 0.3, minimum: float = 2.8) -> float:
    return max(minimum, 1.4 + per_row * rows)


def _bottom_legend(fig: Figure, ax, ncols: int, fontsize: float = 8) -> None:
    """Legend centred under the plot (below the x-axis label), then lay out the figure around it:
    the space kept is in inches, so tall and short charts look alike."""
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(handles) // ncols)
    height = fig.get_figheight()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=ncols,
        fontsize=fontsize,
    )
    fig.tight_layout(rect=(0, min(0.5, (0.12 + 0.22 * rows) / height), 1, 1))


def _threshold_line(ax, threshold: float, vertical: bool = True) -> None:
    line = ax.axvline if vertical else ax.axhline
    line(threshold, color=HIGHLIGHT, linestyle="--", linewidth=1.3, label=f"阈值 {threshold:.0%}")


def discipline_funnel(
    points: pd.DataFrame, *, threshold: float, alert: float, alarm: float, title: str
) -> Figure:
    """Funnel plot of the points of one discipline around the threshold (exact binomial limits).

    A point below the lower limit is below the threshold beyond chance. No overdispersion
    adjustment: the question is whether one point is below a fixed line, not whether it differs
    from the others.
    """
    fig = funnel_plot(
        points,
        target=threshold,
        alert=alert,
        alarm=alarm,
        tau2=0.0,
        label=None,
        target_label="阈值",
        title=title,
        xlabel="毕业生数（人）",
        ylabel="初次毕业去向落实率",
        figsize=(7.5, 4.2),
    )
    return fig


def evidence_bars(summary: pd.DataFrame, *, label: str, title: str) -> Figure:
    """Stacked horizontal bars: number of points per evidence level for each row of ``summary``
    (columns named after :data:`helpers.majors.EVIDENCE_LEVELS`)."""
    data = summary.reset_index(drop=True).iloc[::-1]
    y = np.arange(len(data))
    fig, ax = subplots(figsize=(8, _height(len(data), 0.32)))
    left = np.zeros(len(data))
    order = ("below_confident", "below_point", "insufficient", "not_below")
    for level in order:
        values = data[level].to_numpy(dtype=float)
        fill, hatch = _LEVEL_STYLE[level]
        ax.barh(
            y,
            values,
            left=left,
            color=fill,
            hatch=hatch,
            edgecolor="#333333",
            linewidth=0.6,
            label=EVIDENCE_LABELS[level],
        )
        left += values
    for yi, total in zip(y, left, strict=True):
        ax.text(total, yi, f" {int(total)}", va="center", fontsize=8)
    row_labels(ax, y, data[label].astype(str))
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_xlim(0, max(1.0, float(left.max()) * 1.12) if len(left) else 1.0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("专业点数（个）")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    _bottom_legend(fig, ax, ncols=4, fontsize=9)
    return fig


def eb_intervals(points: pd.DataFrame, *, label: str, threshold: float, title: str) -> Figure:
    """Raw rate with its 95% confidence interval (open circle, thin line) beside the empirical-Bayes
    estimate with its credible interval (filled square, thick line), ordered by the EB estimate
    (lowest at the top), with the threshold line."""
    data = points.dropna(subset=["eb_rate"]).sort_values("eb_rate", ascending=False, kind="stable")
    y = np.arange(len(data))
    fig, ax = subplots(figsize=(8.5, _height(len(data), 0.34)))
    r = data["placement_rate"].to_numpy(dtype=float)
    e = data["eb_rate"].to_numpy(dtype=float)
    ax.errorbar(
        r,
        y + 0.17,
        xerr=[r - data["ci_low"].to_numpy(), data["ci_high"].to_numpy() - r],
        fmt="o",
        markerfacecolor="white",
        markeredgecolor="#333333",
        ecolor="#777777",
        elinewidth=1,
        capsize=2,
        markersize=5,
        label="实际落实率（95%置信区间）",
    )
    ax.errorbar(
        e,
        y - 0.17,
        xerr=[e - data["eb_low"].to_numpy(), data["eb_high"].to_numpy() - e],
        fmt="s",
        color=PALETTE[0],
        elinewidth=2,
        capsize=2,
        markersize=5,
        label="经验贝叶斯估计（95%可信区间）",
    )
    _threshold_line(ax, threshold)
    labels = [
        f"{lab}（{int(n)}人）"
        for lab, n in zip(data[label].astype(str), data["graduates"], strict=True)
    ]
    row_labels(ax, y, labels)
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_xlim(0, 1)
    _pct(ax.xaxis)
    ax.set_xlabel("初次毕业去向落实率")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    _bottom_legend(fig, ax, ncols=3)
    return fig


def trend_lines(trend: pd.DataFrame, *, label: str, threshold: float, title: str) -> Figure:
    """Rate by cohort (with 95% intervals) for a few points, one line style and marker per point,
    and the threshold line. ``trend``: long table with ``cohort``, ``placement_rate``, ``ci_low``,
    ``ci_high`` and ``label``."""
    data = trend[trend["graduates"] > 0]
    fig, ax = subplots(figsize=(8, 4.6))
    names = list(dict.fromkeys(data[label].astype(str)))
    cohorts = sorted(data["cohort"].unique())
    offsets = np.linspace(-0.12, 0.12, len(names)) if len(names) > 1 else np.zeros(1)
    for i, name in enumerate(names):
        part = data[data[label].astype(str) == name].sort_values("cohort")
        x = part["cohort"].to_numpy(dtype=float) + offsets[i]
        r = part["placement_rate"].to_numpy(dtype=float)
        ax.errorbar(
            x,
            r,
            yerr=[r - part["ci_low"].to_numpy(), part["ci_high"].to_numpy() - r],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            color=PALETTE[i % len(PALETTE)],
            capsize=2,
            linewidth=1.4,
            markersize=5,
            label=name,
        )
    _threshold_line(ax, threshold, vertical=False)
    ax.set_xticks(cohorts, [f"{int(c)}届" for c in cohorts])
    ax.set_ylim(0, 1)
    _pct(ax.yaxis)
    ax.set_ylabel("初次毕业去向落实率")
    ax.set_xlabel("毕业届别")
    ax.set_title(title)
    _bottom_legend(fig, ax, ncols=2)
    return fig


def peer_dumbbell(
    peers: pd.DataFrame, *, label: str, threshold: float, title: str, own_label: str = "本专业点"
) -> Figure:
    """Each point's rate (filled square) beside the pooled rate of the same major at the other
    universities (open circle, with its interval); rows whose peer figure is not shown say so."""
    data = peers.reset_index(drop=True).iloc[::-1]
    y = np.arange(len(data))
    fig, ax = subplots(figsize=(8.5, _height(len(data), 0.36)))
    own = data["placement_rate"].to_numpy(dtype=float)
    peer = data["peer_rate"].to_numpy(dtype=float)
    ok = ~np.isnan(peer)
    if ok.any():  # one collection of connectors, not one line per row
        ax.hlines(y[ok], own[ok], peer[ok], color="#aaaaaa", linewidth=1, zorder=1)
    ax.plot(
        own, y, "s", color=PALETTE[0], markersize=6, linestyle="none", label=own_label, zorder=3
    )
    if ok.any():
        lo = data["peer_ci_low"].to_numpy(dtype=float)
        hi = data["peer_ci_high"].to_numpy(dtype=float)
        ax.errorbar(
            peer[ok],
            y[ok],
            xerr=[peer[ok] - lo[ok], hi[ok] - peer[ok]],
            fmt="o",
            markerfacecolor="white",
            markeredgecolor="#111111",
            ecolor="#555555",
            capsize=2,
            markersize=6,
            label="省内同专业其他院校合计（95%置信区间）",
            zorder=4,
        )
    none = (
        data["peer_points"].to_numpy() == 0
        if "peer_points" in data
        else np.zeros(len(data), dtype=bool)
    )
    for yi, alone in zip(y[~ok], none[~ok], strict=True):
        note = "省内其他院校无该专业点" if alone else "同专业院校过少，不公布"
        ax.text(
            0.99, yi, note, va="center", ha="right", fontsize=8, transform=ax.get_yaxis_transform()
        )
    _threshold_line(ax, threshold)
    row_labels(ax, y, data[label].astype(str))
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_xlim(0, 1)
    _pct(ax.xaxis)
    ax.set_xlabel("初次毕业去向落实率")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    _bottom_legend(fig, ax, ncols=3)
    return fig


def mix_bars(mix: pd.DataFrame, *, label: str, title: str) -> Figure:
    """Destination mix of points (wide table of ``mix_*`` shares from
    :func:`helpers.majors.destination_mix`) as 100% stacked bars (the placement chart)."""
    columns = {col: name for name, col in MIX_CATEGORIES.items()}
    long = mix[[label, *columns]].melt(id_vars=label, var_name="bucket", value_name="share")
    long["bucket"] = long["bucket"].map(columns)
    return destination_mix_bars(long, label=label, buckets=list(MIX_CATEGORIES), title=title)
