"""helpers.patches: the switch back to stock behaviour (``PLACEMENT_STOCK_AGG=1``) gives the same
report tables as the patched run; the switch really selects stock matplotlib Agg and nbformat's
output builder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from helpers import patches
from helpers.charts import canvas
from helpers.runner.catalog import PROVINCE, ReportSpec
from helpers.runner.period import run_period

AS_OF = dt.date(2023, 8, 31)
ONE_REPORT = [
    ReportSpec("placement_rates.ipynb", "全省高校毕业去向落实率分析", PROVINCE, "落实率分析")
]


def test_switch_selects_stock_agg_and_nbformats_outputs(monkeypatch):
    from nbclient import client

    try:
        monkeypatch.setenv(patches.STOCK_ENV, "1")
        fig, _ = canvas.subplots(figsize=(2, 1))
        assert type(fig.canvas) is FigureCanvasAgg
        assert patches.install_fast_outputs() is False
        assert client.output_from_msg is nbformat.v4.output_from_msg
        monkeypatch.setenv(patches.STOCK_ENV, "0")
        fig, _ = canvas.subplots(figsize=(2, 1))
        assert isinstance(fig.canvas, canvas.TextCachingCanvas)
        assert patches.install_fast_outputs() is True
        assert client.output_from_msg is patches.output_from_msg
    finally:
        monkeypatch.delenv(patches.STOCK_ENV, raising=False)
        patches.install_fast_outputs()


def _run(data: Path, reports: Path) -> Path:
    code = run_period(AS_OF, None, data, reports, workers=1, catalog=ONE_REPORT, progress=False)
    assert code == 0
    return reports / AS_OF.isoformat()


@pytest.mark.slow
@pytest.mark.xdist_group("runner")
def test_one_report_stock_and_patched_give_the_same_tables(copy_demo, tmp_path, monkeypatch):
    patched = _run(copy_demo, tmp_path / "patched")
    monkeypatch.setenv(patches.STOCK_ENV, "1")  # inherited by the report kernel
    try:
        stock = _run(copy_demo, tmp_path / "stock")
    finally:
        monkeypatch.delenv(patches.STOCK_ENV)
        patches.install_fast_outputs()
    tables = sorted(p.relative_to(patched).as_posix() for p in patched.glob("tables/**/*.csv"))
    assert len(tables) >= 5
    assert tables == sorted(p.relative_to(stock).as_posix() for p in stock.glob("tables/**/*.csv"))
    for rel in tables:
        assert (patched / rel).read_bytes() == (stock / rel).read_bytes(), rel
    # the charts were drawn differently (stock Agg places text at sub-pixel positions), so the
    # switch reached the report kernel
    nb = "notebooks/placement_rates.ipynb"
    assert (patched / nb).exists() and (stock / nb).exists()
    assert _pngs(patched / nb) != _pngs(stock / nb)


def _pngs(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        o["data"]["image/png"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
