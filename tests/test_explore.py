"""The analyst's notebook (notebooks/explore.ipynb) and its helpers (helpers.explore): the
helpers on constructed rows, the notebook top to bottom with its own defaults on the demo."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
from matplotlib import pyplot as plt

from helpers import explore

ROOT = Path(__file__).resolve().parents[1]


def rows(n_placed: int, n: int, major: str, date: str, cohort: int = 2023) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "university_code": "10386",
            "cohort": cohort,
            "major_name": major,
            "in_denominator": True,
            "destination_known": True,
            "placed": [True] * n_placed + [False] * (n - n_placed),
            "snapshot_date": pd.Timestamp(date),
        }
    )


def test_compare_rates_orders_by_change_and_guards_small_groups():
    before = pd.concat([rows(80, 100, "甲", "2023-06-30"), rows(5, 10, "乙", "2023-06-30")])
    after = pd.concat(
        [
            rows(50, 100, "甲", "2023-08-31"),
            rows(1, 10, "乙", "2023-08-31"),
            rows(3, 4, "丙", "2023-08-31"),
        ]
    )
    out = explore.compare_rates(before, after, ["major_name"], min_graduates=15).set_index(
        "major_name"
    )
    assert out.loc["甲", "rate_change"] == pytest.approx(-0.3)
    assert bool(out.loc["甲", "significant"])
    assert pd.isna(out.loc["乙", "rate_change"])  # 10 graduates: below min_graduates
    assert out.loc["丙", "graduates_before"] == 0 and pd.isna(out.loc["丙", "rate_change"])
    assert out.index[0] == "甲"  # largest fall first; rows without a change last


def test_snapshot_and_previous_cohort_date():
    h = pd.concat(
        [
            rows(1, 2, "甲", "2022-06-30", 2022),
            rows(1, 2, "甲", "2022-08-31", 2022),
            rows(1, 2, "甲", "2023-08-31"),
        ]
    )
    assert len(explore.snapshot(h, dt.date(2023, 8, 31))) == 2
    with pytest.raises(ValueError, match="no snapshot dated 2023-07-31"):
        explore.snapshot(h, dt.date(2023, 7, 31))
    assert explore.same_day_previous_cohort(h, dt.date(2023, 8, 31)) == dt.date(2022, 8, 31)
    assert explore.same_day_previous_cohort(h, dt.date(2023, 7, 31)) == dt.date(2022, 6, 30)
    assert explore.same_day_previous_cohort(h, dt.date(2023, 5, 31)) is None


def test_department_trend_and_its_seaborn_chart(monkeypatch):
    def dept(name, n_placed, n, date, cohort=2023, university="10386"):
        return rows(n_placed, n, "甲", date, cohort).assign(
            department=name, university_code=university
        )

    h = pd.concat(
        [
            dept("数学学院", 10, 40, "2023-06-30"),
            dept("数学学院", 30, 40, "2023-08-31"),
            dept("物理学院", 20, 20, "2023-08-31"),
            dept("小学院", 1, 3, "2023-08-31"),  # below min_graduates: no line
            dept("数学学院", 40, 40, "2023-08-31", cohort=2022),  # another cohort
            dept("数学学院", 1, 40, "2023-08-31", university="10384"),  # another university
        ]
    )
    trend = explore.department_trend(h, "10386", 2023, min_graduates=15)
    got = trend.set_index(["department", trend["snapshot_date"].dt.date])["placement_rate"]
    assert got.to_dict() == {
        ("数学学院", dt.date(2023, 6, 30)): 0.25,
        ("数学学院", dt.date(2023, 8, 31)): 0.75,
        ("物理学院", dt.date(2023, 8, 31)): 1.0,
    }
    one = explore.department_trend(h, "10386", 2023, department="物理学院")
    assert one["department"].unique().tolist() == ["物理学院"]

    import seaborn

    drawn = []
    lineplot = seaborn.lineplot
    monkeypatch.setattr(
        seaborn, "lineplot", lambda *a, **k: drawn.append(k["hue"]) or lineplot(*a, **k)
    )
    fig = explore.trend_chart(trend, "各院系落实进度")
    try:
        assert drawn == ["department"]  # drawn by seaborn, one line per department
        ax = fig.axes[0]
        assert ax.get_title() == "各院系落实进度"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["数学学院", "物理学院"]
        assert ax.yaxis.get_major_formatter()(0.75, 0) == "75%"
    finally:
        plt.close(fig)


@pytest.mark.slow
def test_explore_notebook_runs_with_its_defaults(demo_data_dir, tmp_path):
    """As an analyst runs it: notebooks/ beside data/, no parameter injected."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "explore.ipynb", tmp_path / "notebooks")
    (tmp_path / "data").symlink_to(demo_data_dir, target_is_directory=True)
    out = tmp_path / "explore-out.ipynb"
    pm.execute_notebook(
        tmp_path / "notebooks" / "explore.ipynb",
        out,
        cwd=tmp_path / "notebooks",
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the seaborn chart
    text = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "福州大学" in text and "本期落实率" in text
    # the hidden figures of groups in difficulty stay hidden: 福州大学's small groups show "—"
    assert "不公布比率" in text


def test_explore_is_the_analysts_notebook_not_a_period_report():
    from helpers.runner.catalog import CATALOG

    assert all("explore" not in str(spec) for spec in CATALOG)
    assert "explore.ipynb" in (ROOT / "Makefile").read_text()
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
