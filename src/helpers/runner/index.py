"""``reports/<as_of>/index.html``: links to every page of the run, with the run's status.

The index is a pure function of the run manifest, so it always says what the manifest says.
"""

from __future__ import annotations

from markupsafe import Markup

from helpers.runner.render import render_site_page, urlpath

TIMING_LABELS = {
    "hash_inputs": "原始数据校验",
    "ingest": "数据入库",
    "reports": "报告执行与渲染",
    "workbook": "报表汇总",
    "privacy_scan": "隐私检查",
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


def render_index(manifest: dict) -> str:
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
        git=manifest.get("git", {}),
        inputs_count=len(manifest.get("inputs", {})),
        timings=manifest.get("timings", {}),
        timing_labels=TIMING_LABELS,
        counts=counts,
        privacy=manifest.get("privacy"),
        status_cell=status_cell,
    )


__all__ = ["failure_rows", "render_index", "status_cell", "urlpath"]
