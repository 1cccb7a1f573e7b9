"""Charts of the follow-up tracking (recruitment, visits, platform, groups in difficulty).

One function per chart kind; each takes an aggregated table, returns a matplotlib Figure with
Chinese title and labels, and stays readable in greyscale (markers, line styles and hatches
carry the distinctions, not colour alone). The caller displays and closes the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from helpers.charts import LINESTYLES, MARKERS, PALETTE, use_house_style
from helpers.charts.canvas import subplots

HATCHES = ["", "//", "..", "xx", "\\\\", "--"]
_PCT = FuncFormatter(lambda v, _: f"{v * 100:.0f}%")


def _height(rows: int, per_row: float = 0.32, minimum: float = 2.6) -> float:
    return max(minimum, 1.2 + per_row * rows)


def recruitment_trend(
    province_windows: pd.DataFrame,
    province_types: pd.DataFrame | None = None,
    title: str = "全省校园招聘活动（每两周）",
) -> Figure:
    """Events per fortnight (stacked by activity type when ``province_types`` is given) and
    positions offered; the window still running on the reporting date is drawn hollow/dashed.

    ``province_windows``: recruitment.province_by_window; ``province_types``:
    recruitment.province_by_type (window_start, window_end, one column per activity type).
    """
    use_house_style()
    w = province_windows.sort_values("window_start").reset_index(drop=True)
    labels = [f"{s:%m-%d}" for s in w["window_start"]]
    x = np.arange(len(w))
    fig, (ax1, ax2) = subplots(
        2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    complete = w["complete"].to_numpy(dtype=bool)
    if province_types is not None and len(province_types):
        t = province_types.set_index("window_start").drop(columns=["window_end"], errors="ignore")
        t = t.reindex(w["window_start"]).fillna(0)
        bottom = np.zeros(len(w))
        for i, col in enumerate(t.columns):
            vals = t[col].to_numpy(dtype=float)
            ax1.bar(
                x,
                vals,
                bottom=bottom,
                color=PALETTE[i % len(PALETTE)],
                alpha=0.85,
                hatch=HATCHES[i % len(HATCHES)],
                edgecolor="white",
                linewidth=0.5,
                label=col,
            )
            bottom += vals
        ax1.legend(ncol=3, loc="upper left", title="活动类型")
    else:
        ax1.bar(x, w["events"], color=PALETTE[0], label="场次")
    ax1.plot(
        x[~complete],
        w.loc[~complete, "events"],
        linestyle="none",
        marker="o",
        markerfacecolor="white",
        color="black",
        label="统计周期未结束",
    )
    if (~complete).any():
        ax1.legend(ncol=3, loc="upper left")
    ax1.set_ylabel("活动场次")
    ax1.set_title(title)
    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.plot(
        x[complete],
        w.loc[complete, "positions"],
        marker=MARKERS[1],
        linestyle=LINESTYLES[0],
        color=PALETTE[1],
        label="提供岗位数（已结束周期）",
    )
    if (~complete).any():
        tail = np.r_[np.flatnonzero(complete)[-1:], np.flatnonzero(~complete)]
        ax2.plot(
            x[tail],
            w.loc[tail, "positions"],
            marker=MARKERS[1],
            linestyle=LINESTYLES[1],
            markerfacecolor="white",
            color=PALETTE[1],
            label="未结束周期",
        )
    ax2.set_ylabel("岗位数")
    ax2.set_xlabel("统计周期起始日期")
    ax2.legend(loc="upper left")
    ax2.set_xticks(x, labels, rotation=45, ha="right")
    fig.tight_layout()
    return fig


def visits_progress_chart(
    progress: pd.DataFrame, label_col: str = "university_name", title: str = "各高校访企拓岗进度"
) -> Figure:
    """Distinct employers visited per university (bars, hatched when behind), the pro-rated
    on-track line (dashed) and the yearly target (dotted)."""
    use_house_style()
    p = progress.sort_values("distinct_employers").reset_index(drop=True)
    fig, ax = subplots(figsize=(8, _height(len(p))))
    y = np.arange(len(p))
    behind = ~p["on_track_employers"].to_numpy(dtype=bool)
    ax.barh(y[~behind], p.loc[~behind, "distinct_employers"], color=PALETTE[0], label="达到进度")
    ax.barh(
        y[behind],
        p.loc[behind, "distinct_employers"],
        color=PALETTE[2],
        hatch="//",
        edgecolor="white",
        label="进度滞后",
    )
    expected = float(p["expected_to_date"].iloc[0]) if len(p) else 0
    target = float(p["target_visits"].iloc[0]) if len(p) else 0
    ax.axvline(
        expected,
        color="black",
        linestyle="--",
        linewidth=1.2,
        label=f"按进度应达（{expected:.0f}家）",
    )
    ax.axvline(
        target, color="black", linestyle=":", linewidth=1.2, label=f"全年目标（{target:.0f}家）"
    )
    ax.set_yticks(y, p[label_col].astype(str))
    ax.set_xlabel("走访用人单位数（家，同一单位只计一次）")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def visits_cumulative_chart(
    cumulative: pd.DataFrame, title: str = "访企拓岗累计走访用人单位数与进度线"
) -> Figure:
    """Cumulative distinct employers (solid, circles) against the pro-rated target line (dashed).

    ``cumulative``: visits.province_cumulative (date, distinct_employers, on_track_line) or
    the rows of one university with an ``on_track_line`` column.
    """
    use_house_style()
    c = cumulative.sort_values("date")
    fig, ax = subplots()
    ax.plot(
        c["date"],
        c["distinct_employers"],
        marker=MARKERS[0],
        linestyle=LINESTYLES[0],
        color=PALETTE[0],
        label="累计走访用人单位数",
    )
    ax.plot(
        c["date"],
        c["on_track_line"],
        marker=MARKERS[1],
        linestyle=LINESTYLES[1],
        color=PALETTE[1],
        markerfacecolor="white",
        label="按全年目标折算的进度线",
    )
    ax.set_ylabel("用人单位数（家）")
    ax.set_xlabel("日期")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def platform_chart(
    progress: pd.DataFrame,
    thresholds: dict[str, float],
    label_col: str = "university_name",
    title: str = "平台关注率、辅导员绑定率与毕业去向登记率",
) -> Figure:
    """One panel per rate: each university's rate (filled marker; hollow when a laggard) and the
    policy threshold (dashed). ``thresholds``: rate column -> policy minimum."""
    use_house_style()
    labels = {
        "follow_rate": "关注率",
        "binding_rate": "辅导员绑定率",
        "registration_rate": "登记率",
    }
    p = progress.sort_values(label_col).reset_index(drop=True)
    fig, axes = subplots(1, len(labels), figsize=(10, _height(len(p))), sharey=True)
    y = np.arange(len(p))
    for i, (ax, (col, label)) in enumerate(zip(axes, labels.items(), strict=True)):
        vals = p[col].to_numpy(dtype=float)
        lag = p[f"{col}_laggard"].fillna(False).to_numpy(dtype=bool)
        ax.plot(
            vals[~lag], y[~lag], linestyle="none", marker=MARKERS[i], color=PALETTE[0], label="正常"
        )
        ax.plot(
            vals[lag],
            y[lag],
            linestyle="none",
            marker=MARKERS[i],
            color=PALETTE[1],
            markerfacecolor="white",
            markersize=8,
            label="滞后",
        )
        ax.axvline(
            thresholds[col],
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"要求线{thresholds[col] * 100:.0f}%",
        )
        ax.set_title(label)
        ax.xaxis.set_major_formatter(_PCT)
        ax.set_xlim(min(0.5, np.nanmin(vals) - 0.05) if np.isfinite(vals).any() else 0, 1.02)
        ax.legend(loc="lower left", fontsize=8)
    axes[0].set_yticks(y, p[label_col].astype(str))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def group_gap_chart(
    rows: pd.DataFrame, label_col: str, title: str = "困难群体毕业生落实率与本校平均水平"
) -> Figure:
    """Dumbbells: the group's rate (circle) against the university's own rate (square), joined by
    a line; rows whose rate is hidden by disclosure control (or whose group is empty) are
    labelled, not plotted. The first row is drawn on top.

    ``rows``: a protected group table (placement_rate may be NaN where hidden) with
    ``university_rate`` and a label column (e.g. "福州大学·脱贫家庭").
    """
    use_house_style()
    r = rows.reset_index(drop=True)
    fig, ax = subplots(figsize=(8, _height(len(r), 0.4)))
    y = np.arange(len(r))
    rate = r["placement_rate"].to_numpy(dtype=float)
    uni = r["university_rate"].to_numpy(dtype=float)
    shown = ~np.isnan(rate)
    ax.hlines(
        y[shown],
        np.minimum(rate[shown], uni[shown]),
        np.maximum(rate[shown], uni[shown]),
        color="#999999",
        linewidth=1.5,
        zorder=1,
    )
    ax.plot(
        rate[shown],
        y[shown],
        linestyle="none",
        marker=MARKERS[0],
        color=PALETTE[1],
        markersize=8,
        label="群体落实率",
        zorder=2,
    )
    ax.plot(
        uni,
        y,
        linestyle="none",
        marker=MARKERS[1],
        color=PALETTE[0],
        markerfacecolor="white",
        markersize=8,
        label="本校（全省）平均",
        zorder=3,
    )
    empty = (r["graduates"].to_numpy() == 0) if "graduates" in r else np.zeros(len(r), bool)
    for yi, u, none in zip(y[~shown], uni[~shown], empty[~shown], strict=True):
        ax.annotate(
            "无该群体毕业生" if none else "按数据保护规则不显示",
            (u, yi),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )
    ax.set_yticks(y, r[label_col].astype(str))
    ax.invert_yaxis()  # first row on top
    ax.xaxis.set_major_formatter(_PCT)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("毕业去向落实率")
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig
