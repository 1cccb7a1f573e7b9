"""``reports/<as_of>/index.html``: the period's headline figures, then links to every page of the
run with the run's status; ``reports/index.html``: every period with its status and links.

A period's index is a function of the run manifest and the run's own tables (the headline,
:mod:`helpers.runner.headline`), so it always says what they say.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from markupsafe import Markup

from helpers.runner.headline import run_headline
from helpers.runner.render import render_site_page, urlpath

TIMING_LABELS = {
    "startup": "程序启动",
    "hash_inputs": "原始数据校验",
    "ingest": "数据入库",
    "plan": "报告计划",
    "staging": "暂存目录",
    "reports": "报告执行与渲染",
    "workbook": "报表汇总",
    "documents": "公文与发送包",
    "audit": "披露审计",
    "index": "清单与目录页",
    "privacy_scan": "隐私检查",
    "publish": "发布",
    "total": "合计",
}


def status_cell(report: dict) -> Markup:
    if report.get("carried"):
        label = "沿用" if report.get("status") == "ok" else "沿用（失败）"
        return Markup('<span class="status-stale">{}</span>').format(label)
    if report.get("status") == "ok":
        return Markup('<span class="status-ok">成功</span>')
    return Markup('<span class="status-failed">失败</span>')


def failure_rows(manifest: dict) -> list[dict]:
    rows = []
    for r in manifest.get("reports", []):
        for p in r.get("parts", []):
            if p.get("status") != "ok":
                rows.append(
                    {
                        "title": r["title"]
                        + ("" if r["scope"] == "province" else f" · {p.get('title', '')}"),
                        "notebook": p["notebook"],
                        "error": p.get("error") or "",
                        "error_page": p.get("error_page"),
                        "executed_notebook": p.get("executed_notebook"),
                    }
                )
        if r.get("render_error"):
            rows.append(
                {
                    "title": r["title"],
                    "notebook": "（HTML 渲染）",
                    "error": r["render_error"],
                    "error_page": None,
                    "executed_notebook": None,
                }
            )
    return rows


def render_index(manifest: dict, run_dir: Path | None = None) -> str:
    """The period's index; with ``run_dir`` (the run folder, whose tables the headline figures
    come from) the figures head the page."""
    reports = manifest.get("reports", [])
    province = [r for r in reports if r["scope"] == "province"]
    universities = sorted(
        (r for r in reports if r["scope"] == "university"), key=lambda r: r.get("university") or ""
    )
    run = manifest["run"]
    counts = {"total": len(reports), "failed": sum(r.get("status") != "ok" for r in reports)}
    return render_site_page(
        "site_index.html.j2",
        title=f"{run['as_of']} 高校毕业生就业监测报告目录",
        run=run,
        header=manifest["header"],
        province=province,
        universities=universities,
        failures=failure_rows(manifest),
        tables=manifest.get("tables", {}),
        documents=manifest.get("documents") or {},
        git=manifest.get("git", {}),
        inputs_count=len(manifest.get("inputs", {})),
        timings=manifest.get("timings", {}),
        timing_labels=TIMING_LABELS,
        counts=counts,
        privacy=manifest.get("privacy"),
        status_cell=status_cell,
        headline=[h.as_dict() for h in run_headline(run_dir, manifest)] if run_dir else [],
        circular=next((r for r in province if r.get("html") and r["title"].endswith("通报")), None),
    )


# --- every period: reports/index.html -----------------------------------------------------------

PERIODS_INDEX = "index.html"


def _is_period_name(name: str) -> bool:
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return True


def period_rows(reports_dir: Path) -> list[dict]:
    """One row per published period (``reports/<as_of>/`` holding a manifest), newest first:
    its status, report counts, data version, generation time, province rate and links. A
    manifest that cannot be read is listed as such, never skipped."""
    rows = []
    for folder in sorted(Path(reports_dir).iterdir(), reverse=True):
        if not folder.is_dir() or not _is_period_name(folder.name):
            continue
        path = folder / "manifest.json"
        if not path.is_file():
            continue
        row = {"as_of": folder.name, "index": f"{folder.name}/index.html"}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            reports = manifest.get("reports", [])
            run = manifest.get("run", {})
            rate = run_headline(folder, manifest)[0]
            row.update(
                status=run.get("status"),
                reports=len(reports),
                failed=sum(r.get("status") != "ok" for r in reports),
                university=run.get("university"),
                generated_at=manifest.get("header", {}).get("generated_at", ""),
                data_version=manifest.get("header", {}).get("data_version", ""),
                cohort=manifest.get("header", {}).get("cohort", ""),
                rate=rate.value,
                rate_note=rate.note,
                province=[
                    {"title": r["title"], "html": f"{folder.name}/{r['html']}"}
                    for r in reports
                    if r.get("scope") == "province" and r.get("html")
                ],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            row.update(status="unreadable", error=f"manifest.json 无法读取：{exc}")
        rows.append(row)
    return rows


def render_periods_index(reports_dir: Path) -> str:
    return render_site_page(
        "site_periods.html.j2",
        title="高校毕业生就业监测报告：各统计期",
        periods=period_rows(reports_dir),
    )


def write_periods_index(reports_dir: Path) -> Path:
    """Rewrite ``reports/index.html`` from the periods on disk (a unique temporary file, then a
    rename: runs of two periods may finish at the same time)."""
    reports_dir = Path(reports_dir)
    page = render_periods_index(reports_dir)
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=reports_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, reports_dir / PERIODS_INDEX)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return reports_dir / PERIODS_INDEX


__all__ = [
    "failure_rows",
    "period_rows",
    "render_index",
    "render_periods_index",
    "status_cell",
    "urlpath",
    "write_periods_index",
]
