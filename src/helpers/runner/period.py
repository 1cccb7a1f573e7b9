"""``placement run``: one reporting date -> ``reports/<as_of>/``, a folder of shareable HTML reports.

Steps: hash the raw inputs (stop early for a scheduler when nothing is new), ingest when the
processed data is missing or stale, execute the province notebooks and one report per university
on warm kernels in parallel, render HTML, gather the tables workbook, write the manifest and the
index, scan everything for personal data, and switch the new folder in atomically.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from helpers.config import parse_as_of
from helpers.errors import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PRIVACY,
    InvalidInputError,
    MissingInputError,
)
from helpers.logs import ensure_configured
from helpers.runner import manifest as mf
from helpers.runner import staging
from helpers.runner.catalog import (
    CATALOG,
    NOTEBOOKS_DIR,
    PROVINCE,
    ReportSpec,
    available,
    plan_tasks,
)
from helpers.runner.execute import RunContext, TaskResult, run_tasks
from helpers.runner.index import render_index, write_periods_index
from helpers.runner.quality import name_redactor
from helpers.runner.render import write_text_atomic
from helpers.runner.send import build_documents

log = logging.getLogger(__name__)


def _say(text: str) -> None:
    log.info(text)


def _warn(text: str) -> None:
    log.warning(text)


def list_universities(data_dir: Path, as_of: dt.date) -> list[tuple[str, str]]:
    """(院校代码, 院校名称) of every university with graduates in the processed snapshot."""
    from helpers.load import load_dataset

    grads = load_dataset(data_dir, as_of, "graduates", columns=["university_code"])
    codes = sorted(grads["university_code"].dropna().astype(str).unique())
    try:
        ref = load_dataset(
            data_dir, as_of, "universities", columns=["university_code", "university_name"]
        )
        names = dict(
            zip(ref["university_code"].astype(str), ref["university_name"].astype(str), strict=True)
        )
    except FileNotFoundError:
        names = {}
    return [(c, names.get(c, c)) for c in codes]


def _report_entry(r: TaskResult) -> dict:
    return {
        "key": r.key,
        "scope": r.scope,
        "title": r.title,
        "university": r.university,
        "university_name": r.university_name,
        "html": r.html_rel,
        "tables": (f"tables/universities/{r.university}/" if r.university else None),
        "status": r.status,
        "seconds": round(r.seconds, 3),
        "render_seconds": round(r.render_seconds, 3),
        "render_error": r.render_error,
        "parts": [
            {
                "notebook": p.notebook,
                "title": p.title,
                "status": p.status,
                "seconds": round(p.seconds, 3),
                "executed_notebook": p.notebook_rel,
                "error_page": p.error_rel if p.status != "ok" else None,
                "error": f"{p.ename}: {p.evalue}" if p.status != "ok" else None,
                "cell": p.cell_index,
            }
            for p in r.parts
        ],
    }


def _failure_lines(reports: list[dict]) -> list[str]:
    lines = []
    for r in reports:
        if r.get("carried"):
            continue
        who = r["title"] if r["scope"] == PROVINCE else f"{r['university']} {r['university_name']}"
        for p in r["parts"]:
            if p["status"] != "ok":
                where = f"，第 {p['cell']} 个单元格" if p.get("cell") else ""
                lines.append(
                    f"失败 FAILED  {who} · {p['title']}（{p['notebook']}{where}）：{p['error']}"
                    f"  → {p['error_page']}"
                )
        if r.get("render_error"):
            lines.append(f"失败 FAILED  {who}（HTML 渲染）：{r['render_error']}")
    return lines


def _clear_university_outputs(run_dir: Path, code: str) -> None:
    """Before re-running one university in a seeded staging folder, drop its previous files."""
    import shutil

    shutil.rmtree(run_dir / "tables" / "universities" / code, ignore_errors=True)
    for pattern in (
        f"universities/{code}-*",
        f"notebooks/universities/{code}-*",
        f"errors/{code}-*",
    ):
        for p in run_dir.glob(pattern):
            p.unlink()
    for name in ("index.html", "manifest.json", "tables/报表汇总.xlsx"):
        (run_dir / name).unlink(missing_ok=True)


def _clear_audit(data_dir: Path, as_of: dt.date, university: str | None) -> None:
    folder = data_dir / "processed" / as_of.isoformat() / "disclosure_audit"
    if not folder.is_dir():
        return
    for p in folder.glob(f"*-{university}.parquet" if university else "*.parquet"):
        p.unlink()


def _build_workbook(run_dir: Path) -> tuple[str | None, str | None]:
    tables = run_dir / "tables"
    if not tables.is_dir() or not any(tables.rglob("*.csv")):
        return None, None
    try:
        from helpers.tables import build_workbook
    except ImportError:
        return None, "helpers.tables 不可用"
    try:
        return build_workbook(tables).relative_to(run_dir).as_posix(), None
    except Exception as exc:  # the workbook is one output among many: report, don't abort
        message = str(exc).replace(str(run_dir) + os.sep, "").replace(str(run_dir), ".")
        return None, f"{type(exc).__name__}: {message}"


def _stamp_finished(manifest: dict, timings: dict, t0: float) -> dt.datetime:
    finished = dt.datetime.now().astimezone()
    timings["total"] = time.perf_counter() - t0
    manifest["run"]["finished"] = finished.isoformat(timespec="seconds")
    manifest["run"]["seconds"] = round(timings["total"], 3)
    manifest["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return finished


def _privacy_scan(run_dir: Path, data_dir: Path) -> tuple[list, str | None]:
    """Hits of the project's scanner over the staged run ([] = clean), and why the scan was
    incomplete (None when it was complete)."""
    try:
        from helpers import scanner
    except ImportError:
        return [], "helpers.scanner 不可用，未做隐私检查"
    try:
        return scanner.scan_run(run_dir, data_dir), None
    except (FileNotFoundError, ValueError) as exc:
        # No fingerprints, or made with another key: names and 学号 cannot be matched. ID numbers
        # and mobile numbers still can; the run is marked failed so that someone fixes the cause.
        words = scanner.vocabulary(data_dir, dt.date.fromisoformat(run_dir.name))
        return scanner.scan_paths(
            [run_dir], None, None, words
        ), f"只检查了身份证号和手机号码：{exc}"


def run_period(
    as_of: dt.date,
    university: str | None,
    data_dir: Path,
    reports_dir: Path,
    workers: int | None = None,
    only_if_new: bool = False,
    *,
    catalog: Sequence[ReportSpec] | None = None,
    notebooks_dir: Path | None = None,
    progress: bool | None = None,
) -> int:
    """Render every report of a period; returns the process exit code (0 ok, 1 failures,
    3 personal data found: nothing published, 4 another run of the period is in progress).
    ``catalog``/``notebooks_dir`` are for tests."""
    t0 = time.perf_counter()
    ensure_configured()
    started = dt.datetime.now().astimezone()
    as_of = parse_as_of(as_of)
    iso = as_of.isoformat()
    data_dir = Path(data_dir).resolve()
    reports_dir = Path(reports_dir).resolve()
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR).resolve()
    workers = workers or os.cpu_count() or 1
    if progress is None:
        progress = sys.stderr.isatty()
    university = str(university).strip() if university else None
    timings: dict[str, float] = {}

    t = time.perf_counter()
    inputs = mf.raw_inputs(data_dir, as_of)
    timings["hash_inputs"] = time.perf_counter() - t
    if not inputs and not mf.processed_manifest_path(data_dir, as_of).exists():
        raise MissingInputError(
            f"no raw data for {iso} under {data_dir / 'raw'} and no processed data "
            f"(generate or copy raw files first: `placement generate` / data/raw/<date>/)"
        )

    if only_if_new:
        last = mf.last_successful_run(reports_dir)
        shown = name_redactor(data_dir, as_of)
        if last is not None and not mf.new_inputs(
            mf.published_inputs(inputs, shown), last.get("inputs", {})
        ):
            _say(
                f"placement run {iso}: 自上次成功运行（统计截止日期 {last['run']['as_of']}，"
                f"完成于 {last['run'].get('finished', '?')}）以来没有新的原始数据，本次不生成报告。 "
                "No new raw data since the last successful run: nothing to do."
            )
            return EXIT_OK

    needed, why = mf.ingest_needed(data_dir, as_of, inputs)
    if needed:
        _say(f"placement run {iso}: 先入库 ingest（{why}）")
        from helpers.ingest import ingest

        t = time.perf_counter()
        result = ingest(as_of=as_of, data_dir=data_dir, workers=workers)
        timings["ingest"] = time.perf_counter() - t
        _say(result.summary())

    specs = available(tuple(catalog) if catalog is not None else CATALOG, notebooks_dir)
    if not specs:
        raise MissingInputError(f"no report notebooks found in {notebooks_dir}")
    universities = list_universities(data_dir, as_of)
    if university and university not in {c for c, _ in universities}:
        raise InvalidInputError(
            f"院校代码 {university} 在 {iso} 的毕业去向数据中不存在 "
            f"(university {university} has no graduates in the processed data)"
        )
    tasks = plan_tasks(specs, universities, university)
    header = {
        "as_of": iso,
        "cohort": f"{as_of.year}届",
        "data_version": mf.data_version(data_dir, as_of),
        "generated_at": started.strftime("%Y-%m-%d %H:%M"),
    }

    published = reports_dir / iso
    try:
        with staging.period_lock(reports_dir, iso):
            staging.remove_stale_staging(reports_dir, iso)
            run_dir = staging.new_staging(reports_dir, iso)
            try:
                previous = mf.read_manifest(published) if university else None
                if university:
                    staging.seed_from(published, run_dir)
                    _clear_university_outputs(run_dir, university)
                _clear_audit(data_dir, as_of, university)
                ctx = RunContext(
                    notebooks_dir=notebooks_dir,
                    run_dir=run_dir,
                    notebook_reports_dir=run_dir.parent,
                    data_dir=data_dir,
                    as_of=iso,
                    header=header,
                )
                t = time.perf_counter()
                results = run_tasks(tasks, ctx, workers, progress=progress)
                timings["reports"] = time.perf_counter() - t

                t = time.perf_counter()
                workbook, workbook_error = _build_workbook(run_dir)
                timings["workbook"] = time.perf_counter() - t
                t = time.perf_counter()
                # file and sheet names as published: one redactor (the period's fingerprints,
                # loaded once) for the documents and the manifest
                shown = name_redactor(data_dir, as_of)
                documents = build_documents(
                    run_dir, data_dir, as_of, universities, started.date(), specs, redact=shown
                )
                timings["documents"] = time.perf_counter() - t
                _merge_audit(data_dir, as_of)

                reports = [_report_entry(r) for r in results]
                if previous:
                    ran = {r["key"] for r in reports}
                    for old in previous.get("reports", []):
                        if old["key"] not in ran:
                            reports.append({**old, "carried": True})
                failed = (
                    any(r["status"] != "ok" for r in reports)
                    or workbook_error is not None
                    or documents["error"] is not None
                )
                manifest = {
                    "schema": mf.SCHEMA_VERSION,
                    "run": {
                        "as_of": iso,
                        "university": university,
                        "status": "failed" if failed else "ok",
                        "started": started.isoformat(timespec="seconds"),
                        "finished": None,
                        "seconds": None,
                        "workers": min(workers, max(len(tasks), 1)),
                    },
                    "parameters": {
                        "as_of": iso,
                        "university": university,
                        "data_dir": str(data_dir),
                        "reports_dir": str(reports_dir),
                        "workers": workers,
                        "only_if_new": only_if_new,
                    },
                    "header": header,
                    "git": mf.git_revision(),
                    "versions": mf.versions(),
                    "data": {
                        "processed_manifest": str(mf.processed_manifest_path(data_dir, as_of)),
                        "data_version": header["data_version"],
                    },
                    "inputs": mf.published_inputs(inputs, shown),
                    "notebooks": {
                        s.notebook: mf.file_sha256(notebooks_dir / s.notebook) for s in specs
                    },
                    "reports": reports,
                    "tables": {
                        "workbook": workbook,
                        "workbook_error": workbook_error,
                        "csv": sorted(
                            p.relative_to(run_dir).as_posix()
                            for p in (run_dir / "tables").glob("*.csv")
                        ),
                    },
                    "documents": documents,
                    "timings": timings,
                    "privacy": {"complete": False, "problem": "隐私检查进行中", "hits": None},
                }
                # Scan what will be published, manifest and index included, then finalise them.
                _stamp_finished(manifest, timings, t0)
                mf.write_manifest(run_dir, manifest)
                write_text_atomic(run_dir / "index.html", render_index(manifest, run_dir))
                t = time.perf_counter()
                hits, scan_gap = _privacy_scan(run_dir, data_dir)
                timings["privacy_scan"] = time.perf_counter() - t
                manifest["privacy"] = {
                    "complete": scan_gap is None,
                    "problem": scan_gap,
                    "hits": len(hits),
                }
                if scan_gap:
                    manifest["run"]["status"] = "failed"
                finished = _stamp_finished(manifest, timings, t0)
                if hits:
                    from helpers.scanner import format_hits

                    aside = staging.move_aside(
                        run_dir,
                        data_dir
                        / "processed"
                        / ".withheld-reports"
                        / f"{iso}-{finished.strftime('%Y%m%dT%H%M%S')}",
                    )
                    _warn(format_hits(hits))
                    _warn(
                        f"隐私检查未通过：本次报告未发布，{published} 保持不变；生成的文件已移到 {aside} 供核查。"
                        " PRIVACY CHECK FAILED: nothing was published."
                    )
                    return EXIT_PRIVACY
                mf.write_manifest(run_dir, manifest)
                write_text_atomic(run_dir / "index.html", render_index(manifest, run_dir))
                staging.publish(run_dir, published)
                write_periods_index(reports_dir)
            except BaseException:
                staging.discard(run_dir)
                raise
    except staging.RunLockedError as exc:  # another run of this period is in progress
        _warn(f"placement run {iso}: {exc}")
        return EXIT_LOCKED

    lines = _failure_lines(reports)
    if workbook_error:
        lines.append(f"失败 FAILED  报表汇总 tables/报表汇总.xlsx：{workbook_error}")
    if documents["error"]:
        lines.append(f"失败 FAILED  公文与发送包 全省通报.docx / send/：{documents['error']}")
    if scan_gap:
        lines.append(f"失败 FAILED  隐私检查不完整 privacy scan incomplete：{scan_gap}")
    n_failed = sum(r["status"] != "ok" for r in reports if not r.get("carried"))
    _say(
        f"placement run {iso}: {len(results)} 份报告，{n_failed} 份失败，用时 {timings['total']:.1f} 秒"
        f" / {len(results)} reports, {n_failed} failed, {timings['total']:.1f} s → {published / 'index.html'}"
    )
    for line in lines:
        _warn(line)
    return EXIT_FAILED if lines else EXIT_OK


def _merge_audit(data_dir: Path, as_of: dt.date) -> None:
    try:
        from helpers.disclosure import merge_audit
    except ImportError:
        return
    merge_audit(data_dir, as_of)
