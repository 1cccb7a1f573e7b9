"""``placement run``: one reporting date -> ``reports/<as_of>/``, a folder of shareable HTML reports.

A run is a sequence of named steps, each a small function below and each timed in the manifest:

1. **prepare**: hash the raw inputs (stop early for a scheduler when nothing is new);
2. **ingest**: when a processed folder is missing or stale by the ingest's own rule
   (:func:`helpers.ingest.sources.ingest_status`); processed data without raw data is used
   as it is;
3. **plan**: the notebooks, the universities, the tasks, the page header;
4. **execute** (timed as ``reports``): the province notebooks and one report per university on
   warm kernels in parallel; each worker **renders** the HTML pages of the reports it executed;
5. **gather**: the tables workbook, the documents and send packages (side by side on worker
   processes: :mod:`helpers.runner.publish`), the disclosure audit;
6. **record**: the manifest (:func:`helpers.runner.manifest.build_manifest`) and the index;
7. **scan** everything for personal data; then **publish** (switch the new folder in
   atomically) or **withhold** (move it aside under ``data/``).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from helpers.config import data_paths
from helpers.disclosure.audit import audit_dir
from helpers.errors import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PRIVACY,
    InvalidInputError,
    MissingInputError,
)
from helpers.ingest import sources
from helpers.logs import ensure_configured
from helpers.runner import manifest as mf
from helpers.runner import staging
from helpers.runner.catalog import PROVINCE, ReportSpec, Task, available, plan_tasks
from helpers.runner.execute import RunContext, TaskResult, run_tasks
from helpers.runner.index import TIMING_LABELS, render_index, write_periods_index
from helpers.runner.manifest import Outputs, Privacy, RunOptions, RunRecord, RunRequest, Timings
from helpers.runner.publish import PublishPool, tables_workbook
from helpers.runner.quality import name_redactor
from helpers.runner.render import write_text_atomic
from helpers.runner.scanning import OutputScanner, ScanLedger, final_scan, output_scanner
from helpers.runner.send import build_documents

log = logging.getLogger(__name__)


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


@dataclass
class Plan:
    """What a run will execute: the notebooks found, the universities, the tasks, the header."""

    specs: list[ReportSpec]
    universities: list[tuple[str, str]]
    tasks: list[Task]
    header: dict  # as_of, cohort, data_version, generated_at (as pages show them)


@dataclass
class Outcome:
    """How a run ended: the exit code, and what to say about it."""

    code: int
    record: RunRecord | None = None
    results: list[TaskResult] | None = None


# --- the public entry ------------------------------------------------------------------------


def run_period(
    as_of: dt.date | str,
    university: str | None = None,
    data_dir: Path | str = "data",
    reports_dir: Path | str = "reports",
    workers: int | None = None,
    only_if_new: bool = False,
    **options,
) -> int:
    """Render every report of a period; returns the process exit code (0 ok, 1 failures,
    3 personal data found: nothing published, 4 another run of the period is in progress).

    The edge of the runner: ``as_of`` is parsed here, once, into :class:`RunRequest`. ``options``:
    the rest of :class:`RunOptions` (``catalog``/``notebooks_dir`` are for tests, ``progress``).
    """
    options = RunOptions(workers=workers, only_if_new=only_if_new, **options)
    return run(RunRequest.build(as_of, university, data_dir, reports_dir, options))


def run(request: RunRequest) -> int:
    """The steps of a period run (see the module docstring) for one request."""
    ensure_configured()
    timings = Timings.for_command()
    with timings.step("hash_inputs"):
        inputs = prepare(request)
    if request.only_if_new and not _anything_new(request, inputs):
        return EXIT_OK
    with timings.step("ingest"):
        readers_cpu = ingest_if_needed(request)
    # the reader processes are the fork server's children, not this process's: count them here
    timings.add_cpu("ingest", readers_cpu)
    with timings.step("plan"):
        plan = plan_run(request, timings.started)
    try:
        with staging.period_lock(request.reports_dir, request.iso):
            outcome = staged_run(request, plan, inputs, timings)
    except staging.RunLockedError as exc:  # another run of this period is in progress
        log.warning(f"placement run {request.iso}: {exc}")
        return EXIT_LOCKED
    if outcome.code == EXIT_PRIVACY:
        return outcome.code
    return report_outcome(request, outcome)


# --- prepare, ingest, plan ---------------------------------------------------------------------


def prepare(request: RunRequest) -> dict[str, str]:
    """The raw inputs' hashes (remembered by :mod:`helpers.ingest.sources` for the staleness
    check and the ingest); fails when there is neither raw nor processed data."""
    inputs = mf.raw_inputs(request.data_dir, request.as_of)
    if not inputs and not mf.processed_manifest_path(request.data_dir, request.as_of).exists():
        raise MissingInputError(
            f"no raw data for {request.iso} under {request.data_dir / 'raw'} and no processed data "
            f"(generate or copy raw files first: `placement generate` / data/raw/<date>/)"
        )
    return inputs


def _anything_new(request: RunRequest, inputs: dict[str, str]) -> bool:
    """``--only-if-new``: whether a raw input is new or changed since the last successful run."""
    last = mf.last_successful_run(request.reports_dir)
    if last is None:
        return True
    shown = name_redactor(request.data_dir, request.as_of)
    if mf.new_inputs(mf.published_inputs(inputs, shown), last.get("inputs", {})):
        return True
    log.info(
        f"placement run {request.iso}: 自上次成功运行（统计截止日期 {last['run']['as_of']}，"
        f"完成于 {last['run'].get('finished', '?')}）以来没有新的原始数据，本次不生成报告。 "
        "No new raw data since the last successful run: nothing to do."
    )
    return False


def ingest_if_needed(request: RunRequest) -> float:
    """Ingest when the ingest's own rule finds a processed folder missing or stale (the raw
    files' hashes come from the process's cache, filled by :func:`prepare`); returns the CPU
    seconds of the ingest's reader processes (0.0: none ran)."""
    status = sources.ingest_status(request.as_of, request.data_dir)
    if not status.needed:
        if not status.raw:  # processed data only: say which data the reports are made from
            log.info(f"placement run {request.iso}: {status.reason}")
        return 0.0
    log.info(f"placement run {request.iso}: 先入库 ingest（{status.reason}）")
    from helpers.ingest import ingest

    result = ingest(as_of=request.as_of, data_dir=request.data_dir, workers=request.workers)
    log.info(result.summary())
    return result.worker_cpu_seconds


def plan_run(request: RunRequest, started: dt.datetime) -> Plan:
    specs = available(request.catalog, request.notebooks_dir)
    if not specs:
        raise MissingInputError(f"no report notebooks found in {request.notebooks_dir}")
    universities = list_universities(request.data_dir, request.as_of)
    if request.university and request.university not in {c for c, _ in universities}:
        raise InvalidInputError(
            f"院校代码 {request.university} 在 {request.iso} 的毕业去向数据中不存在 "
            f"(university {request.university} has no graduates in the processed data)"
        )
    header = {
        "as_of": request.iso,
        "cohort": f"{request.as_of.year}届",
        "data_version": mf.data_version(request.data_dir, request.as_of),
        "generated_at": started.strftime("%Y-%m-%d %H:%M"),
    }
    tasks = plan_tasks(specs, universities, request.university)
    return Plan(specs, universities, tasks, header)


# --- the staged part: execute, gather, record, scan, publish or withhold -----------------------


def staged_run(
    request: RunRequest, plan: Plan, inputs: dict[str, str], timings: Timings
) -> Outcome:
    """Everything written to the staging folder, which is published, withheld or discarded."""
    with timings.step("staging"):
        staging.remove_stale_staging(request.reports_dir, request.iso)
        run_dir = staging.new_staging(request.reports_dir, request.iso)
    try:
        with timings.step("staging"):
            previous = _seed_staging(request, run_dir)
        with timings.step("reports"):
            results = execute(request, plan, run_dir)
        with timings.step("privacy_scan"):
            scans = Scans.start(request, run_dir, results)
        record = gather(request, plan, run_dir, inputs, timings, scans)
        record.reports = [mf.report_entry(r) for r in results] + _carried(previous, results)
        record.finish()
        with timings.step("index"):
            record_run(record, run_dir)
        with timings.step("privacy_scan"):
            record.privacy = scan(run_dir, request.data_dir, scans)
        finished = record.finish()
        if record.privacy.hits:
            withhold(request, run_dir, finished)
            return Outcome(EXIT_PRIVACY)
        with timings.step("index"):
            record_run(record, run_dir)
        with timings.step("publish"):
            publish(request, run_dir)
        return Outcome(EXIT_OK, record, results)
    except BaseException:
        staging.discard(run_dir)
        raise


def _seed_staging(request: RunRequest, run_dir: Path) -> dict | None:
    """A one-university run starts from the published period, without that university's files;
    the previous manifest (None for a whole run)."""
    published = request.reports_dir / request.iso
    previous = mf.read_manifest(published) if request.university else None
    if request.university:
        staging.seed_from(published, run_dir)
        _clear_university_outputs(run_dir, request.university)
    _clear_audit(request.data_dir, request.as_of, request.university)
    return previous


def _carried(previous: dict | None, results: list[TaskResult]) -> list[dict]:
    """The previous manifest's reports this run did not run again (a one-university run)."""
    ran = {r.key for r in results}
    old = previous.get("reports", []) if previous else []
    return [{**r, "carried": True} for r in old if r["key"] not in ran]


def _clear_university_outputs(run_dir: Path, code: str) -> None:
    """Before re-running one university in a seeded staging folder, drop its previous files."""
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
    folder = audit_dir(data_dir, as_of)
    if not folder.is_dir():
        return
    for p in folder.glob(f"*-{university}.parquet" if university else "*.parquet"):
        p.unlink()


def execute(request: RunRequest, plan: Plan, run_dir: Path) -> list[TaskResult]:
    """Execute every task on the worker pool; the workers render the pages as they go."""
    ctx = RunContext(
        notebooks_dir=request.notebooks_dir,
        run_dir=run_dir,
        notebook_reports_dir=run_dir.parent,
        data_dir=request.data_dir,
        as_of=request.as_of,
        header=plan.header,
        scan_outputs=True,
    )
    return run_tasks(plan.tasks, ctx, request.workers, progress=request.progress)


def gather(
    request: RunRequest,
    plan: Plan,
    run_dir: Path,
    inputs: dict[str, str],
    timings: Timings,
    scans: Scans,
) -> RunRecord:
    """The outputs made from the reports' tables: workbook, documents, the disclosure audit.
    The workbook and the send packages are made side by side on the run's worker processes
    (:class:`~helpers.runner.publish.PublishPool`), each scanned where it is written. Timed as
    ``workbook`` (starting the workers, then waiting for the workbook once the documents are
    done) and ``documents`` (the workers' CPU time counts there, when they exit)."""
    with timings.step("workbook"):
        pool = PublishPool(run_dir, scans.main, request.workers)
    try:
        with timings.step("workbook"):
            pending = pool.submit(tables_workbook)
        with timings.step("documents"):
            # file and sheet names as published: one redactor (the period's fingerprints,
            # loaded once) for the documents and the manifest
            shown = name_redactor(request.data_dir, request.as_of)
            documents = build_documents(
                run_dir,
                request.data_dir,
                request.as_of,
                plan.universities,
                timings.started.date(),
                plan.specs,
                redact=shown,
                scan=scans.main,
                pool=pool,
            )
        with timings.step("workbook"):
            workbook, workbook_error = pending.result()
    finally:
        with timings.step("documents"):
            pool.close()
    with timings.step("audit"):
        _merge_audit(request.data_dir, request.as_of)
    csv = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "tables").glob("*.csv"))
    return RunRecord(
        request=request,
        started=timings.started,
        header=plan.header,
        inputs=mf.published_inputs(inputs, shown),
        notebooks={
            s.notebook: mf.file_sha256(request.notebooks_dir / s.notebook) for s in plan.specs
        },
        reports=[],
        outputs=Outputs(workbook, workbook_error, csv, documents),
        workers=min(request.workers, max(len(plan.tasks), 1)),
        timings=timings,
    )


def _merge_audit(data_dir: Path, as_of: dt.date) -> None:
    try:
        from helpers.disclosure import merge_audit
    except ImportError:
        return
    merge_audit(data_dir, as_of)


def record_run(record: RunRecord, run_dir: Path) -> None:
    """Write the manifest and the index (before the scan, which scans them too, and after)."""
    manifest = mf.build_manifest(record)
    mf.write_manifest(run_dir, manifest)
    write_text_atomic(run_dir / "index.html", render_index(manifest, run_dir))


@dataclass
class Scans:
    """The privacy scan so far: what the workers scanned, and the main process's scanner (None
    when the period's scanner cannot be made: the final scan then does everything)."""

    ledger: ScanLedger
    main: OutputScanner | None

    @classmethod
    def start(cls, request: RunRequest, run_dir: Path, results: list[TaskResult]) -> Scans:
        ledger = ScanLedger()
        for r in results:
            ledger.merge(r.scan)
        return cls(ledger, output_scanner(run_dir, request.data_dir, request.as_of, ledger))


def scan(run_dir: Path, data_dir: Path, scans: Scans) -> Privacy:
    """The verdict on the staged run, manifest and index included: the hits of every file as it
    is now (scanned as written, or here)."""
    hits, gap = _privacy_scan(run_dir, data_dir, scans)
    if hits:
        from helpers.scanner import format_hits

        log.warning(format_hits(hits))
    return Privacy(complete=gap is None, problem=gap, hits=len(hits))


def _privacy_scan(run_dir: Path, data_dir: Path, scans: Scans) -> tuple[list, str | None]:
    """Hits of the project's scanner over the staged run ([] = clean), and why the scan was
    incomplete (None when it was complete)."""
    from helpers import scanner

    if scans.main is not None:
        scans.ledger.merge(scans.main.take())
        return final_scan(run_dir, scans.ledger, scans.main.scanner), None
    try:
        return scanner.scan_run(run_dir, data_dir), None
    except (FileNotFoundError, ValueError) as exc:
        # No fingerprints, or made with another key: names and 学号 cannot be matched. ID numbers
        # and mobile numbers still can; the run is marked failed so that someone fixes the cause.
        words = scanner.vocabulary(data_dir, dt.date.fromisoformat(run_dir.name))
        return scanner.scan_paths(
            [run_dir], None, None, words
        ), f"只检查了身份证号和手机号码：{exc}"


def withhold(request: RunRequest, run_dir: Path, finished: dt.datetime) -> None:
    """Personal data found: nothing is published; the run is moved aside under ``data/``."""
    aside = staging.move_aside(
        run_dir,
        data_paths(request.data_dir)[1]
        / ".withheld-reports"
        / f"{request.iso}-{finished.strftime('%Y%m%dT%H%M%S')}",
    )
    log.warning(
        f"隐私检查未通过：本次报告未发布，{request.reports_dir / request.iso} 保持不变；"
        f"生成的文件已移到 {aside} 供核查。 PRIVACY CHECK FAILED: nothing was published."
    )


def publish(request: RunRequest, run_dir: Path) -> None:
    staging.publish(run_dir, request.reports_dir / request.iso)
    write_periods_index(request.reports_dir)


# --- what the run says at the end --------------------------------------------------------------


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


def report_outcome(request: RunRequest, outcome: Outcome) -> int:
    """Log the summary and every failure; the exit code (1 when anything failed)."""
    record, results = outcome.record, outcome.results or []
    lines = _failure_lines(record.reports)
    if record.outputs.workbook_error:
        lines.append(f"失败 FAILED  报表汇总 tables/报表汇总.xlsx：{record.outputs.workbook_error}")
    if record.outputs.documents["error"]:
        lines.append(
            f"失败 FAILED  公文与发送包 全省通报.docx / send/：{record.outputs.documents['error']}"
        )
    if record.privacy.problem:
        lines.append(
            f"失败 FAILED  隐私检查不完整 privacy scan incomplete：{record.privacy.problem}"
        )
    n_failed = sum(r["status"] != "ok" for r in record.reports if not r.get("carried"))
    total = record.timings.total()
    index = request.reports_dir / request.iso / "index.html"
    log.info(
        f"placement run {request.iso}: {len(results)} 份报告，{n_failed} 份失败，用时 {total:.1f} 秒"
        f" / {len(results)} reports, {n_failed} failed, {total:.1f} s → {index}"
    )
    for line in lines:
        log.warning(line)
    log.info("各步骤用时 / time by step:\n" + record.timings.table(TIMING_LABELS))
    return EXIT_FAILED if lines else EXIT_OK
