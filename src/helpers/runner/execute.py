"""Notebook execution on warm kernels, and the worker pool of a period run.

Each worker process owns one kernel (started once) and one HTML exporter. For every report,
papermill's public functions prepare the notebook (parameters injected, metadata) and nbclient
executes it on the worker's kernel and already-connected client (nbclient keeps a kernel it did
not start alive; reusing the client saves connecting a new one per report). A reset cell at the top of every notebook clears the
namespace and plotting state (:mod:`helpers.runner.kernel`). One worker per core; a worker renders
the HTML of the reports it executed, so rendering runs in parallel too.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from helpers import patches
from helpers.runner import render
from helpers.runner.catalog import Part, Task
from helpers.runner.kernel import collect_cell_source, reset_cell_source
from helpers.runner.scanning import OutputScanner, ScanLedger, output_scanner, written_since
from helpers.runner.warm import KERNEL_NAME, START_TIMEOUT, WarmKernel

CELL_TIMEOUT = 1800  # seconds per cell before the report is failed
RUNNER_CELL_TAGS = ("runner-reset",)


# --- executing a parameterised notebook with nbclient ------------------------------------------
#
# papermill prepares the notebook (load, inject parameters, record its metadata) and, after the
# run, adds its error banner and raises PapermillExecutionError; nbclient executes the cells on the
# worker's warm kernel and connected client. The runner records papermill's per-cell metadata
# itself (start, end, duration, status, exception), as papermill's engine does, so executed
# notebooks look as papermill writes them.

PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _start_notebook(nb: nbformat.NotebookNode) -> dt.datetime:
    """Clear the notebook's and every cell's papermill metadata and outputs; the start time."""
    started = _now()
    nb.metadata.papermill.update(
        start_time=started.isoformat(), end_time=None, duration=None, exception=None
    )
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.execution_count = None
            cell.outputs = []
        cell.metadata.papermill = dict(
            exception=None, start_time=None, end_time=None, duration=None, status=PENDING
        )
    return started


def _finish_notebook(nb: nbformat.NotebookNode, started: dt.datetime) -> None:
    ended = _now()
    nb.metadata.papermill.update(
        end_time=ended.isoformat(), duration=(ended - started).total_seconds()
    )
    for cell in nb.cells:  # cells before the failure that never reported back count as done
        if cell.metadata.papermill["status"] == FAILED:
            break
        if cell.metadata.papermill["status"] == PENDING:
            cell.metadata.papermill["status"] = COMPLETED


def _execute_cell(client, nb: nbformat.NotebookNode, index: int) -> bool:
    """Execute one cell, recording its papermill metadata; False when it raised (stop there)."""
    from nbclient.exceptions import CellExecutionError

    cell = nb.cells[index]
    meta = cell.metadata.papermill
    started = _now()
    meta.update(start_time=started.isoformat(), status=RUNNING, exception=False)
    try:
        client.execute_cell(cell, index)
    except CellExecutionError:
        meta.update(exception=True, status=FAILED)
        nb.metadata.papermill["exception"] = True
        return False
    finally:
        ended = _now()
        meta.update(end_time=ended.isoformat(), duration=(ended - started).total_seconds())
        if meta["status"] != FAILED:
            meta["status"] = COMPLETED
    return True


def execute_notebook(
    nb: nbformat.NotebookNode, out_path: Path, kernel: WarmKernel | None, cwd: Path
) -> str:
    """Execute a parameterised notebook (in place) with nbclient and write it to ``out_path``;
    the notebook's JSON text as written.

    On the warm kernel and its connected client when ``kernel`` is given (nbclient keeps a kernel
    it did not start alive); otherwise nbclient starts a fresh kernel in ``cwd`` and stops it. A
    failing cell stops the notebook: papermill's ``raise_for_execution_errors`` then writes it
    with papermill's error banner and raises ``PapermillExecutionError``.
    """
    from nbclient import NotebookClient
    from papermill.execute import raise_for_execution_errors
    from papermill.log import logger

    patches.install_fast_outputs()
    client = NotebookClient(
        nb,
        km=kernel.km if kernel is not None else None,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        startup_timeout=START_TIMEOUT,
        raise_on_iopub_timeout=True,
        log=logger,
    )
    if kernel is not None:
        client.kc = kernel.kc  # connected already: nbclient skips starting a new client
    started = _start_notebook(nb)
    try:
        with client.setup_kernel(cwd=str(cwd)):
            for index in range(len(nb.cells)):
                if not _execute_cell(client, nb, index):
                    break
            info = client.wait_for_reply(client.kc.kernel_info())
            nb.metadata["language_info"] = info["content"]["language_info"]
            client.set_widgets_metadata()
    finally:
        _finish_notebook(nb, started)
    raise_for_execution_errors(nb, str(out_path))
    text = nbformat.writes(nb)  # what papermill's write_ipynb writes
    out_path.write_text(text, encoding="utf-8")
    return text


def prepare_notebook(
    source: Path, out_path: Path, parameters: dict, cells: tuple = (None, None)
) -> nbformat.NotebookNode:
    """The notebook as papermill prepares it (parameters injected after the ``parameters`` cell,
    papermill's metadata), with the runner's first and last cells added."""
    from papermill.execute import prepare_notebook_metadata
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(source))
    nb = parameterize_notebook(nb, parameters, kernel_name=KERNEL_NAME)
    nb = prepare_notebook_metadata(nb, str(source), str(out_path))
    first, last = cells
    if first is not None:
        nb.cells.insert(0, first)
    if last is not None:
        nb.cells.append(last)
    return nb


# --- executing one notebook --------------------------------------------------------------------


def runner_cells(cwd: Path, parameters: dict, report: str) -> tuple:
    """The runner's reset cell (first) and disclosure-audit cell (last) of every report."""
    reset = _code_cell(reset_cell_source(str(cwd)))
    collect = _code_cell(
        collect_cell_source(
            parameters["data_dir"], parameters["as_of"], report, parameters.get("university")
        )
    )
    return reset, collect


def _code_cell(source: str) -> nbformat.NotebookNode:
    """A runner cell as ``nbformat.v4.new_code_cell`` makes it, checked with the compiled schema
    (new_code_cell's own check falls back to jsonschema, see :func:`helpers.patches.output_from_msg`)."""
    from nbformat.corpus.words import generate_corpus_id

    cell = nbformat.from_dict(
        {
            "id": generate_corpus_id(),
            "cell_type": "code",
            "metadata": {"tags": list(RUNNER_CELL_TAGS)},
            "execution_count": None,
            "source": source,
            "outputs": [],
        }
    )
    patches.schema_validator("code_cell")(cell)
    return cell


@dataclass
class PartResult:
    notebook: str
    university: str | None
    status: str  # "ok" | "failed"
    seconds: float
    notebook_rel: str
    error_rel: str | None = None
    ename: str | None = None
    evalue: str | None = None
    cell_index: int | None = None
    traceback: list[str] = field(default_factory=list)
    title: str = ""


def execute_part(
    part: Part,
    kernel: WarmKernel | None,
    notebooks_dir: Path,
    run_dir: Path,
    parameters: dict,
    scan: OutputScanner | None = None,
) -> tuple[PartResult, nbformat.NotebookNode | None]:
    """Execute one notebook; keep the executed (or error) notebook in the run folder, scanned
    with ``scan`` when given (from memory when it ran through, else as written).

    ``kernel=None`` executes on a fresh kernel that nbclient starts and stops (the slow path,
    used by tests to compare with the warm path).
    """
    from papermill.exceptions import PapermillExecutionError

    out_path = run_dir / part.notebook_rel
    out_path.parent.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir / part.spec.notebook
    started = time.perf_counter()

    def failed(ename, evalue, cell_index, tb) -> tuple[PartResult, None]:
        if scan is not None and out_path.exists():
            scan.files([out_path])
        result = PartResult(
            notebook=part.spec.notebook,
            university=part.university,
            status="failed",
            seconds=time.perf_counter() - started,
            notebook_rel=part.notebook_rel,
            error_rel=part.error_rel,
            ename=ename,
            evalue=_first_line(evalue),
            cell_index=cell_index,
            traceback=list(tb),
        )
        return result, None

    try:
        cells = runner_cells(notebooks_dir, parameters, part.spec.stem)
        nb = prepare_notebook(source, out_path, parameters, cells)
        text = execute_notebook(nb, out_path, kernel, notebooks_dir)
    except PapermillExecutionError as exc:  # the error notebook (with papermill's banner) is saved
        # papermill counts its own banner cell and our reset cell; report the author's index
        index = _author_cell_index(out_path, exc.cell_index)
        return failed(exc.ename, exc.evalue, index, exc.traceback)
    except Exception as exc:  # kernel died, timeout, unreadable notebook ...
        if not out_path.exists() and source.exists():
            shutil.copyfile(source, out_path)  # keep something to open next to the error page
        return failed(type(exc).__name__, str(exc), None, traceback.format_exception(exc))
    seconds = time.perf_counter() - started
    if scan is not None:
        scan.written(out_path, text)
    result = PartResult(part.spec.notebook, part.university, "ok", seconds, part.notebook_rel)
    return result, nb


def _first_line(text: str, limit: int = 300) -> str:
    line = (str(text).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _author_cell_index(executed_path: Path, fallback: int | None) -> int | None:
    """Index of the failing cell in the notebook as its author sees it (1-based, own cells only)."""
    try:
        nb = nbformat.read(str(executed_path), as_version=4)
    except Exception:
        return fallback
    own = [
        c
        for c in nb.cells
        if not set(c.get("metadata", {}).get("tags", []))
        & {"runner-reset", "injected-parameters", "papermill-error-cell-tag"}
    ]
    for i, cell in enumerate(own, 1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return fallback


# --- one task: execute its parts, render its page ----------------------------------------------


@dataclass
class RunContext:
    """What every task of a run shares (sent to each worker once)."""

    notebooks_dir: Path
    run_dir: Path  # the staging folder reports/.staging-*/<as_of>
    notebook_reports_dir: Path  # what notebooks get as reports_dir (run_dir's parent)
    data_dir: Path
    as_of: dt.date  # notebooks get it as an ISO string (their parameters cell parses it)
    header: dict  # as_of, cohort, data_version, generated_at
    scan_outputs: bool = False  # scan each file as it is written (TaskResult.scan)

    def output_scanner(self) -> OutputScanner | None:
        return (
            output_scanner(self.run_dir, self.data_dir, self.as_of) if self.scan_outputs else None
        )


@dataclass
class TaskResult:
    key: str
    scope: str
    title: str
    html_rel: str | None
    university: str | None
    university_name: str | None
    parts: list[PartResult]
    render_seconds: float = 0.0
    status: str = "ok"
    render_error: str | None = None
    scan: ScanLedger | None = None  # what the worker scanned of this task's files

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.parts) + self.render_seconds


def parameters_for(ctx: RunContext, university: str | None) -> dict:
    return {
        "as_of": ctx.as_of.isoformat(),
        "university": university,
        "data_dir": str(ctx.data_dir),
        "reports_dir": str(ctx.notebook_reports_dir),
    }


def _page_meta(ctx: RunContext, task: Task, title: str | None = None) -> render.PageMeta:
    depth = task.html_rel.count("/")
    return render.PageMeta(
        title=title or task.title,
        as_of=ctx.header["as_of"],
        cohort=ctx.header["cohort"],
        data_version=ctx.header["data_version"],
        generated_at=ctx.header["generated_at"],
        subtitle=" · ".join(p.spec.title for p in task.parts) if task.scope == "university" else "",
        index_href="../" * depth + "index.html",
    )


def run_task(
    task: Task, ctx: RunContext, kernel: WarmKernel | None, scan: OutputScanner | None = None
) -> TaskResult:
    """Execute every part of a task, then write its page and the error pages of failed parts;
    with ``scan``, every file the task wrote is scanned for personal data (``TaskResult.scan``)."""
    executed: list[nbformat.NotebookNode] = []
    results: list[PartResult] = []
    for part in task.parts:
        if kernel is not None and not kernel.alive():
            kernel.restart()
        since = time.time_ns() - 1_000_000_000  # file times may lag the clock a little
        result, nb = execute_part(
            part,
            kernel,
            ctx.notebooks_dir,
            ctx.run_dir,
            parameters_for(ctx, part.university),
            scan,
        )
        if scan is not None:  # the tables the report's kernel wrote
            scan.files(_tables_written(ctx, part, since))
        result.title = part.spec.title
        results.append(result)
        if nb is not None:
            executed.append(nb)
    started = time.perf_counter()
    out = TaskResult(
        task.key, task.scope, task.title, None, task.university, task.university_name, results
    )
    meta = _page_meta(ctx, task)
    for part, result in zip(task.parts, results, strict=True):
        if result.status != "ok":
            _write(ctx.run_dir / part.error_rel, _error_page(ctx, task, part, result), scan)
            meta.notices.append(
                {
                    "text": f"本报告的“{part.spec.title}”部分未能生成。",
                    "href": "../" * task.html_rel.count("/") + part.error_rel,
                }
            )
    if executed:
        try:
            nb = (
                executed[0]
                if len(executed) == 1
                else render.combine_notebooks(executed, task.title)
            )
            _write(ctx.run_dir / task.html_rel, render.render_report(nb, meta), scan)
            out.html_rel = task.html_rel
        except Exception as exc:  # a page that cannot be rendered fails like a notebook
            out.render_error = f"{type(exc).__name__}: {_first_line(str(exc))}"
    out.render_seconds = time.perf_counter() - started
    failed = any(r.status != "ok" for r in results) or out.render_error is not None
    out.status = "failed" if failed else "ok"
    out.scan = scan.take() if scan is not None else None
    return out


def _write(path: Path, text: str, scan: OutputScanner | None) -> None:
    render.write_text_atomic(path, text)
    if scan is not None:
        scan.written(path, text)


def _tables_written(ctx: RunContext, part: Part, since_ns: int) -> list[Path]:
    """The table files a part's kernel wrote: a university's own folder, or the province's."""
    tables = ctx.run_dir / "tables"
    if part.university:
        return written_since(tables / "universities" / part.university, since_ns, recursive=True)
    return written_since(tables, since_ns, recursive=False)


def _error_page(ctx: RunContext, task: Task, part: Part, result: PartResult) -> str:
    title = f"{task.title} · {part.spec.title}" if task.scope == "university" else task.title
    meta = _page_meta(ctx, task, title=title)
    meta.index_href = "../index.html"
    failure = {
        "notebook": part.spec.notebook,
        "university": task.university_name and f"{task.university} {task.university_name}",
        "ename": result.ename,
        "evalue": result.evalue,
        "cell_index": result.cell_index,
        "traceback": result.traceback,
        "notebook_href": "../" + part.notebook_rel,
    }
    return render.render_error_page(meta, failure)


# --- worker processes --------------------------------------------------------------------------

_WORKER: dict = {}


def _worker_init(ctx: RunContext) -> None:
    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    _WORKER["ctx"] = ctx
    _WORKER["kernel"] = WarmKernel(ctx.notebooks_dir).start()
    _WORKER["scan"] = ctx.output_scanner()
    render.report_exporter()  # load templates once
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _worker_shutdown, exitpriority=10)


def _worker_shutdown() -> None:
    kernel = _WORKER.pop("kernel", None)
    if kernel is not None:
        kernel.stop()


def _worker_run(task: Task) -> TaskResult:
    return run_task(task, _WORKER["ctx"], _WORKER["kernel"], _WORKER["scan"])


def run_tasks(
    tasks: list[Task], ctx: RunContext, workers: int, progress: bool = True
) -> list[TaskResult]:
    """Run tasks on ``workers`` processes, each with its own warm kernel; results in task order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from tqdm import tqdm

    if not tasks:
        return []
    workers = max(1, min(workers, len(tasks)))
    results: dict[str, TaskResult] = {}
    bar = tqdm(
        total=len(tasks),
        desc="报告 reports",
        unit="份",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.1,
    )

    def done(task: Task, result: TaskResult) -> None:
        results[task.key] = result
        bar.update(1)
        failed = sum(r.status != "ok" for r in results.values())
        if failed:
            bar.set_postfix_str(f"失败 {failed}")

    def in_process(todo: list[Task]) -> None:
        scan = ctx.output_scanner()
        with WarmKernel(ctx.notebooks_dir) as kernel:
            for task in todo:
                try:
                    done(task, run_task(task, ctx, kernel, scan))
                except Exception as exc:
                    done(task, _crashed(task, exc))

    if workers == 1:  # one kernel, in this process: no worker start-up to pay
        in_process(tasks)
    else:
        mp = multiprocessing.get_context("spawn")
        orphaned: list[Task] = []
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=mp, initializer=_worker_init, initargs=(ctx,)
        ) as pool:
            futures = {pool.submit(_worker_run, t): t for t in tasks}
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    done(task, fut.result())
                except BrokenProcessPool:  # a worker died: its kernel or the process itself
                    orphaned.append(task)
                except Exception as exc:
                    done(task, _crashed(task, exc))
        if orphaned:
            # The pool cannot be used any more. Whatever it did not finish runs here, one kernel
            # at a time; a report that kills this kernel too fails on its own.
            logging.getLogger(__name__).warning(
                f"工作进程意外退出，剩余 {len(orphaned)} 份报告改在主进程中生成 "
                f"(a worker process died; running {len(orphaned)} reports in the main process)"
            )
            in_process(orphaned)
    bar.close()
    return [results[t.key] for t in tasks]


def _crashed(task: Task, exc: BaseException) -> TaskResult:
    parts = [
        PartResult(
            p.spec.notebook,
            p.university,
            "failed",
            0.0,
            p.notebook_rel,
            None,
            type(exc).__name__,
            _first_line(str(exc)),
            None,
            traceback.format_exception(exc),
            p.spec.title,
        )
        for p in task.parts
    ]
    return TaskResult(
        task.key,
        task.scope,
        task.title,
        None,
        task.university,
        task.university_name,
        parts,
        status="failed",
    )


def fresh_execute(part: Part, notebooks_dir: Path, run_dir: Path, parameters: dict):
    """Execute one part on a fresh kernel (papermill starts and stops it): the reference path."""
    return execute_part(part, None, notebooks_dir, run_dir, parameters)


__all__ = [
    "KERNEL_NAME",
    "PartResult",
    "RunContext",
    "TaskResult",
    "WarmKernel",
    "execute_part",
    "fresh_execute",
    "run_task",
    "run_tasks",
    "runner_cells",
]
