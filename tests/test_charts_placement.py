"""Placement charts: every chart kind renders with Chinese text and no warning (a missing glyph
is a warning, turned into an error here); the notebook's charts are rendered in-process on
constructed data and on the demo run, exactly as the notebook builds them."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from test_placement_support import build_layout

from helpers import charts
from helpers.charts import placement as pc
from helpers.charts.canvas import row_label_texts
from helpers.codes import BUCKETS_2024
from helpers.rates import wilson_interval

matplotlib.use("Agg")
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "placement_rates.ipynb"


def _render(fig: Figure) -> bytes:
    """Draw to PNG with every warning an error (missing glyphs included)."""
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _title(fig: Figure) -> str:
    return fig.axes[0].get_title()


@pytest.fixture(autouse=True)
def _house_style():
    charts.use_house_style()
    yield
    plt.close("all")


def _units(k: int = 12, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 5000, k)
    x = rng.binomial(n, np.clip(rng.normal(0.72, 0.08, k), 0.05, 0.99))
    lo, hi = wilson_interval(x, n)
    return pd.DataFrame(
        {
            "university_name": [f"闽江测试学院{i}" for i in range(k)],
            "graduates": n,
            "placed": x,
            "placement_rate": x / n,
            "ci_low": lo,
            "ci_high": hi,
            "baseline_rate": np.where(np.arange(k) % 3 == 0, np.nan, 0.7),
        }
    )


def test_missing_glyph_is_caught():
    """The guard works: a character outside the bundled font fails the render."""
    fig, ax = plt.subplots()
    ax.set_title("𠮷")  # CJK Extension B, not in the subset font nor in DejaVu Sans
    with pytest.raises(UserWarning, match="missing from font"):
        _render(fig)


def test_ranked_rates_with_missing_rate_and_highlight():
    df = _units()
    df.loc[3, ["placement_rate", "ci_low", "ci_high"]] = np.nan
    fig = pc.ranked_rates(
        df,
        label="university_name",
        policy_line=0.7,
        pooled=0.71,
        baseline="baseline_rate",
        highlight=["闽江测试学院2"],
        title="各高校毕业去向落实率",
    )
    assert _title(fig) == "各高校毕业去向落实率"
    labels = [t for t, _ in row_label_texts(fig.axes[0])]
    assert any("闽江测试学院3" in t for t in labels) and len(labels) == len(df)
    assert _render(fig).startswith(b"\x89PNG")
    fig = pc.ranked_rates(df.head(3), label="university_name", n=None, ci=None)
    assert len(row_label_texts(fig.axes[0])) == 3
    _render(fig)


def test_ranked_rates_keeps_table_order_top_down():
    df = _units(3)
    fig = pc.ranked_rates(df, label="university_name", n=None, sort=False)
    ax = fig.axes[0]
    ticks = dict(row_label_texts(ax))
    assert ticks["闽江测试学院0"] > ticks["闽江测试学院1"] > ticks["闽江测试学院2"]
    _render(fig)


@pytest.mark.parametrize("tau2", [0.0, 0.004])
def test_funnel_plot_limits_points_and_labels(tau2):
    df = _units(30)
    df.loc[0, ["graduates", "placed"]] = [4000, 1200]  # far below: labelled
    df["placement_rate"] = df["placed"] / df["graduates"]
    target = df["placed"].sum() / df["graduates"].sum()
    fig = pc.funnel_plot(
        df,
        target=target,
        tau2=tau2,
        policy_line=0.7,
        label="university_name",
        highlight=["闽江测试学院5"],
    )
    ax = fig.axes[0]
    styles = {line.get_linestyle() for line in ax.get_lines()}
    assert len(styles) >= 3  # limits differ by line style, not only colour
    texts = [t.get_text() for t in ax.texts]
    assert "闽江测试学院0" in texts and "闽江测试学院5" in texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("离散度调整" in t for t in legend) == (tau2 > 0)
    _render(fig)


def test_funnel_plot_reusable_around_fifty_percent_and_log_scale():
    pts = pd.DataFrame({"graduates": [5, 15, 40, 200, 3000], "placed": [1, 6, 30, 90, 1600]})
    pts["placement_rate"] = pts["placed"] / pts["graduates"]
    fig = pc.funnel_plot(
        pts,
        target=0.5,
        target_label="阈值",
        title="专业点漏斗图",
        xlabel="毕业生数（人）",
        ylabel="初次毕业去向落实率",
    )
    assert fig.axes[0].get_xscale() == "log"
    assert any("阈值 50.0%" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    _render(fig)
    empty = pts.assign(graduates=0).iloc[:0]
    _render(pc.funnel_plot(empty, target=0.5))


def test_progress_lines_distinct_styles_and_empty():
    rows = []
    for cohort in (2022, 2023):
        for scope in ("全省", "福州大学"):
            for month in (5, 6, 7, 8):
                rows.append(
                    {
                        "series": f"{cohort}届 {scope}",
                        "cohort": cohort,
                        "snapshot_date": pd.Timestamp(cohort, month, 28),
                        "placement_rate": 0.1 * month + (0.01 if scope == "全省" else 0),
                    }
                )
    fig = pc.progress_lines(pd.DataFrame(rows), marks=[(pd.Timestamp(2023, 8, 31), "初次统计日")])
    lines = [
        ln
        for ln in fig.axes[0].get_lines()
        if ln.get_label() and not ln.get_label().startswith("_")
    ]
    assert len(lines) == 4
    assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == 4
    # earlier cohorts are aligned onto the newest cohort's calendar
    xs = {ln.get_label(): ln.get_xdata()[0] for ln in lines}
    assert pd.Timestamp(xs["2022届 全省"]).year == 2023
    _render(fig)
    empty = pc.progress_lines(
        pd.DataFrame(columns=["series", "cohort", "snapshot_date", "placement_rate"])
    )
    assert "暂无" in empty.axes[0].texts[0].get_text()
    _render(empty)


def test_destination_mix_bars_hatched_buckets():
    rows = []
    for name in ("福州大学", "全省"):
        shares = np.array([0.5, 0.05, 0.05, 0.2, 0.15, 0.03, 0.02])
        for b, s in zip(BUCKETS_2024, shares, strict=True):
            rows.append({"university_name": name, "bucket": b, "share": s})
    fig = pc.destination_mix_bars(
        pd.DataFrame(rows), label="university_name", buckets=BUCKETS_2024, highlight=["福州大学"]
    )
    hatches = {p.get_hatch() for p in fig.axes[0].patches}
    assert len(hatches) >= len(BUCKETS_2024) - 1  # greyscale: hatches tell buckets apart
    _render(fig)


def test_group_gaps_suppressed_rows_not_drawn_as_zero():
    df = pd.DataFrame(
        {
            "group": ["脱贫家庭", "低保家庭", "残疾"],
            "placement_rate": [0.6, np.nan, 0.75],
            "ci_low": [0.5, np.nan, 0.6],
            "ci_high": [0.7, np.nan, 0.85],
            "university_rate": [0.7, 0.7, 0.7],
        }
    )
    fig = pc.group_gaps(df)
    ax = fig.axes[0]
    assert any("数据保护" in t.get_text() for t in ax.texts)
    xs = np.concatenate([np.asarray(ln.get_xdata(), dtype=float) for ln in ax.get_lines()])
    assert not np.any(xs == 0.0)
    _render(fig)


def test_change_bars_rise_and_fall():
    df = pd.DataFrame(
        {"university_name": ["甲学院", "乙学院", "全省"], "rate_change": [0.05, -0.02, 0.01]}
    )
    fig = pc.change_bars(df, label="university_name")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert " +5.0" in texts and " -2.0" in texts
    _render(fig)


# --- every chart of the notebook, rendered in-process -------------------------------------------
def assert_fits_figure(fig: Figure) -> None:
    """Everything drawn lies inside the figure: show_figure draws the figure as laid out by the
    chart's tight_layout (no cropping to the drawn content), so nothing may be cut off."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    width, height = fig.get_size_inches()
    tol = 0.02  # inches
    assert box.x0 >= -tol and box.y0 >= -tol and box.x1 <= width + tol and box.y1 <= height + tol, (
        f"{_title(fig)}: drawn {box.bounds} outside the figure (0, 0, {width}, {height})"
    )


def run_notebook_charts(monkeypatch, notebook: Path = NOTEBOOK, **params) -> list[str]:
    """Execute a notebook's code in this process with every warning an error; return the
    titles of the charts it shows (each one rendered to PNG and checked to fit its figure)."""
    nb = nbformat.read(notebook, as_version=4)
    shown: list[str] = []

    def show(fig):
        shown.append(_title(fig))
        assert_fits_figure(fig)
        _render(fig)

    monkeypatch.setattr(pc, "show_figure", show)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            exec(compile(cell.source, str(notebook), "exec"), ns)
            if "parameters" in cell.metadata.get("tags", []):
                ns.update(params)
    return shown


@pytest.fixture(scope="module")
def layout_dir(tmp_path_factory) -> Path:
    return build_layout(tmp_path_factory.mktemp("layout") / "data")


@pytest.mark.parametrize("university", [None, "10386", "19999"])
def test_notebook_charts_constructed_data(monkeypatch, tmp_path, layout_dir, university):
    titles = run_notebook_charts(
        monkeypatch,
        as_of="2023-08-31",
        university=university,
        data_dir=str(layout_dir),
        reports_dir=str(tmp_path / "reports"),
    )
    assert len(titles) >= (10 if university is None else 7) and all(titles)
    assert any("进度" in t for t in titles)
    # education level, gender and urban/rural share one chart (one dimension each, same axis)
    assert sum("学历层次" in t for t in titles) == 1
    # a university's report states its funnel position in words (a one-point funnel plot says
    # no more); the province report draws the funnel of every university
    assert any("漏斗图" in t for t in titles) == (university is None)


@pytest.mark.slow
@pytest.mark.parametrize("university", [None, "10386"])
def test_notebook_charts_demo_run(monkeypatch, tmp_path, demo_shadow, university):
    titles = run_notebook_charts(
        monkeypatch,
        as_of="2023-08-31",
        university=university,
        data_dir=str(demo_shadow),
        reports_dir=str(tmp_path / "reports"),
    )
    assert len(titles) >= (10 if university is None else 7)


@pytest.fixture
def demo_shadow(demo_data_dir, tmp_path) -> Path:
    """The demo data behind symlinks, so a report can write its disclosure audit."""
    from test_placement_support import shadow_data_dir

    return shadow_data_dir(demo_data_dir, tmp_path / "data")


MAJORS_NOTEBOOK = NOTEBOOK.with_name("major_evidence.ipynb")


@pytest.mark.parametrize("university", [None, "10386", "11502"])
def test_major_evidence_charts_fit_their_figures(monkeypatch, tmp_path, layout_dir, university):
    titles = run_notebook_charts(
        monkeypatch,
        MAJORS_NOTEBOOK,
        as_of="2023-08-31",
        university=university,
        data_dir=str(layout_dir),
        reports_dir=str(tmp_path / "reports"),
    )
    assert len(titles) >= 4 and all(titles)
    assert any("漏斗图" in t for t in titles)
