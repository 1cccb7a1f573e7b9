"""End to end on the demo province: `placement run` with the project's notebooks.

One run (``demo_run`` in tests/conftest.py, made once per test session) serves this module, the
documents, browser and layout tests. It is forced to fail in one report: the data-quality notebook
reads ingest's files.parquet, which is removed from the copy of the demo data; every other report
must come out intact and the command must exit 1.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.runner.catalog import CATALOG, PROVINCE, UNIVERSITY, available, safe_name
from helpers.runner.render import external_resources

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-demo")]

AS_OF = "2023-08-31"
ROOT = Path(__file__).resolve().parents[1]


def _manifest(run) -> dict:
    return json.loads((run.run_dir / "manifest.json").read_text(encoding="utf-8"))


def test_forced_failure_exits_nonzero_with_one_line_per_failure(demo_run):
    assert demo_run.code == 1
    failures = [line for line in demo_run.err.splitlines() if "WARNING 失败 FAILED" in line]
    assert len(failures) == 1, demo_run.err
    assert "data_quality.ipynb" in failures[0] and "files.parquet" in failures[0]
    assert "errors/data_quality.html" in failures[0]
    assert "份报告，1 份失败" in demo_run.out


def test_index_province_and_university_reports_tables_and_manifest(demo_run):
    run_dir = demo_run.run_dir
    specs = available(CATALOG)
    province = [s for s in specs if s.scope == PROVINCE]
    manifest = _manifest(demo_run)
    reports = {r["key"]: r for r in manifest["reports"]}
    # every province report but the broken one is there, with its executed notebook
    for spec in province:
        report = reports[f"province:{spec.output}"]
        if spec.notebook == "data_quality.ipynb":
            assert report["status"] == "failed" and report["html"] is None
            assert (run_dir / "errors" / "data_quality.html").exists()
        else:
            assert report["status"] == "ok", report
            assert (run_dir / f"{safe_name(spec.output)}.html").exists()
        assert (run_dir / "notebooks" / spec.notebook).exists()
    # one report per university with graduates, named <code>-<name>.html
    processed = demo_run.data_dir / "processed" / AS_OF
    grads = pd.read_parquet(processed / "graduates.parquet", columns=["university_code"])
    unis = pd.read_parquet(processed / "universities.parquet")
    names = dict(zip(unis["university_code"], unis["university_name"], strict=True))
    codes = sorted(grads["university_code"].unique())
    uni_specs = [s for s in specs if s.scope == UNIVERSITY]
    for code in codes:
        page = run_dir / "universities" / f"{code}-{names[code]}.html"
        assert page.exists(), page
        assert reports[f"university:{code}"]["status"] == "ok"
        for spec in uni_specs:
            assert (run_dir / "notebooks" / "universities" / f"{code}-{spec.stem}.ipynb").exists()
        assert page.stat().st_size < 2_000_000
    # tables and the workbook
    assert (run_dir / "tables" / "报表汇总.xlsx").exists()
    assert any((run_dir / "tables").glob("*.csv"))
    assert {p.name for p in (run_dir / "tables" / "universities").iterdir()} == set(codes)
    # the manifest
    assert manifest["run"]["as_of"] == AS_OF and manifest["run"]["status"] == "failed"
    assert manifest["privacy"]["complete"] and manifest["privacy"]["hits"] == 0
    assert manifest["inputs"] and all(len(h) == 64 for h in manifest["inputs"].values())
    assert {"commit", "dirty"} <= set(manifest["git"])
    assert {"papermill", "nbconvert", "pandas"} <= set(manifest["versions"])
    assert set(manifest["timings"]) >= {"reports", "workbook", "privacy_scan", "total"}
    # the index links every page
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    from helpers.runner.render import urlpath

    for r in manifest["reports"]:
        if r["html"]:
            assert f'href="{urlpath(r["html"])}"' in index
    assert 'href="errors/data_quality.html"' in index


def test_pages_hide_code_and_stay_offline(demo_run):
    for page in [
        demo_run.run_dir / "index.html",
        *demo_run.run_dir.glob("*.html"),
        *(demo_run.run_dir / "universities").glob("*.html"),
        *(demo_run.run_dir / "errors").glob("*.html"),
    ]:
        html = page.read_text(encoding="utf-8")
        assert external_resources(html) == [], page
        assert "injected-parameters" not in html and "# Parameters" not in html, page
        assert 'class="jp-CodeMirrorEditor' not in html, page  # no code cells
        assert 'class="jp-InputPrompt' not in html, page


def test_report_pages_show_no_server_paths(demo_run):
    # a cell that ends with a call returning a path would show it (the server's folders) on the
    # page; (the index may quote a failure's message for the operator, paths included)
    for page in [
        *(p for p in demo_run.run_dir.glob("*.html") if p.name != "index.html"),
        *(demo_run.run_dir / "universities").glob("*.html"),
    ]:
        html = page.read_text(encoding="utf-8")
        for leak in ("PosixPath(", str(demo_run.data_dir), str(demo_run.reports_dir), str(ROOT)):
            assert leak not in html, (page.name, leak)


def test_report_pages_embed_their_charts(demo_run):
    # charts are shown as PNG whether or not pyplot's inline backend was ever loaded in the kernel
    # (report charts do not go through pyplot): a page without them would still load cleanly
    def charts(page: Path) -> int:
        return page.read_text(encoding="utf-8").count('src="data:image/png;base64,')

    assert charts(demo_run.run_dir / "落实率分析.html") >= 8
    assert charts(demo_run.run_dir / "专业点预警.html") >= 4
    pages = sorted((demo_run.run_dir / "universities").glob("*.html"))
    assert pages and all(charts(page) >= 6 for page in pages), [(p.name, charts(p)) for p in pages]


def test_nothing_left_behind_in_reports(demo_run):
    assert sorted(p.name for p in demo_run.reports_dir.iterdir()) == [
        f".{AS_OF}.lock",
        AS_OF,
        "index.html",  # every period, rewritten at the end of the run
    ]
    periods = (demo_run.reports_dir / "index.html").read_text(encoding="utf-8")
    assert f'href="{AS_OF}/index.html"' in periods


def test_period_index_opens_with_the_headline_figures(demo_run):
    from helpers.runner.headline import run_headline

    manifest = json.loads((demo_run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    figures = run_headline(demo_run.run_dir, manifest)
    index = (demo_run.run_dir / "index.html").read_text(encoding="utf-8")
    assert index.index("本期要点") < index.index("全省报告")
    for h in figures:
        assert h.label in index and html.escape(h.value) in index
    rate = figures[0]
    assert rate.value.endswith("%") and "政策线" in rate.note


def test_disclosure_audit_stays_under_data(demo_run):
    audit = demo_run.data_dir / "processed" / AS_OF / "disclosure_audit.parquet"
    assert audit.exists()
    assert not list(demo_run.reports_dir.rglob("*audit*"))
