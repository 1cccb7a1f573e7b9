"""Notebook execution with papermill on warm kernels, and the worker pool of a period run.

Each worker process owns one kernel (started once) and one HTML exporter. For every report it
executes the notebook with ``papermill.execute_notebook(..., km=<its KernelManager>)``; papermill
hands ``km`` to nbclient, which keeps a kernel it did not start alive. The worker also hands
nbclient its already-connected kernel client (a tiny papermill engine, :class:`WarmEngine`), which
saves connecting a new client per report. A reset cell at the top of every notebook clears the
namespace and plotting state (:mod:`helpers.runner.kernel`). One worker per core; a worker renders
the HTML of the reports it executed, so rendering runs in parallel too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import nbformat

from helpers.runner import render
from helpers.runner.catalog import Part, Task
from helpers.runner.kernel import collect_cell_source, reset_cell_source

KERNEL_NAME = "python3"
CELL_TIMEOUT = 1800  # seconds per cell before the report is failed
START_TIMEOUT = 120  # seconds for a kernel to start
RUNNER_CELL_TAGS = ("runner-reset",)
WARM_ENGINE = "placement-warm"
_ENGINE_REGISTERED = False


# --- kernel messages -> notebook outputs, checked with compiled schemas ------------------------
#
# nbclient turns every output message into a notebook output with nbformat.v4.output_from_msg,
# which validates the output against its sub-schema ("#/definitions/stream", ...). nbformat only
# compiles the whole-notebook schema with fastjsonschema; a sub-schema falls back to jsonschema,
# slow enough to take about a tenth of the worker's CPU per report (~50 outputs). The
# runner's client builds the same outputs and checks them against the same sub-schemas compiled
# once with fastjsonschema; an output they reject goes through nbformat itself, so invalid output
# fails exactly as before, with nbformat's message. The whole executed notebook is still validated
# by nbformat when papermill writes it.

_OUTPUT_FIELDS = {
    # output_type -> content fields in the order nbformat.v4.new_output sets them
    "execute_result": ("metadata", "data", "execution_count"),
    "display_data": ("metadata", "data"),
    "stream": ("name", "text"),
    "error": ("ename", "evalue", "traceback"),
}


@cache
def _schema_validator(definition: str):
    """Compiled check against one definition of the schema nbformat.v4's new_* functions use
    (nbformat's fastjsonschema wrapper: raises nbformat's ValidationError)."""
    from nbformat import v4
    from nbformat.json_compat import FastJsonSchemaValidator

    path = Path(v4.__file__).parent / v4.nbformat_schema[(v4.nbformat, v4.nbformat_minor)]
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema = {
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": f"#/definitions/{definition}",
    }
    return FastJsonSchemaValidator(schema).validate


def output_from_msg(msg: dict) -> nbformat.NotebookNode:
    """``nbformat.v4.output_from_msg`` with the schema check compiled (same output, same errors).

    Raises ValueError for a message that is not an output, and nbformat's ValidationError for
    output that does not fit the notebook format.
    """
    output_type = msg["header"]["msg_type"]
    fields = _OUTPUT_FIELDS.get(output_type)
    if fields is None:
        return nbformat.v4.output_from_msg(msg)  # raises nbformat's ValueError
    content = msg["content"]
    out = nbformat.NotebookNode(output_type=output_type)
    for name in fields:
        out[name] = content[name]  # NotebookNode turns nested dicts into NotebookNodes
    try:
        _schema_validator(output_type)(out)
    except nbformat.ValidationError:
        return nbformat.v4.output_from_msg(msg)  # nbformat's own check and error message
    return out


# --- papermill engine that reuses the worker's kernel client -----------------------------------


def _warm_engine():
    """Register (once) and return the papermill engine name that reuses a connected client."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import (
        NBClientEngine,
        NotebookExecutionManager,
        catch_nb_assignment,
        papermill_engines,
    )
    from papermill.log import logger

    if _ENGINE_REGISTERED:
        return WARM_ENGINE

    class WarmManager(NotebookExecutionManager):
        """papermill's execution manager; ``cell_complete`` reads the cell's start time back with
        ``datetime.fromisoformat`` where papermill uses dateutil's general parser (about 5% of the
        worker's CPU per report, ~75 cells). The string is papermill's own ``isoformat()``, so the
        duration is the same. Otherwise papermill 2.7's ``cell_complete``.
        """

        @catch_nb_assignment
        def cell_complete(self, cell, cell_index=None, **kwargs):
            end_time = self.now()
            if self.log_output:
                number = cell_index + 1 if cell_index is not None else ""
                logger.info(f"Ending Cell {number:-<43}")
                sys.stdout.flush()
                sys.stderr.flush()
            cell.metadata.papermill["end_time"] = end_time.isoformat()
            if cell.metadata.papermill.get("start_time"):
                start_time = dt.datetime.fromisoformat(cell.metadata.papermill["start_time"])
                cell.metadata.papermill["duration"] = (end_time - start_time).total_seconds()
            if cell.metadata.papermill["status"] != self.FAILED:
                cell.metadata.papermill["status"] = self.COMPLETED
            self.save()
            if self.pbar:
                self.pbar.update(1)

    class WarmClient(PapermillNotebookClient):
        """papermill's client whose outputs are checked with compiled schemas (:func:`output_from_msg`).

        ``output`` is nbclient 0.11's ``NotebookClient.output`` with that one call changed
        (tests/test_runner_client.py runs both clients on the same cells and compares).
        """

        def output(self, outs, msg, display_id, cell_index):
            msg_type = msg["msg_type"]
            parent_msg_id = msg["parent_header"].get("msg_id")
            if self.output_hook_stack[parent_msg_id]:
                # a registered hook (e.g. an Output widget) replaces the default behaviour
                hook = self.output_hook_stack[parent_msg_id][-1]
                hook.output(outs, msg, display_id, cell_index)
                return None
            try:
                out = output_from_msg(msg)
            except ValueError:
                self.log.error(f"unhandled iopub msg: {msg_type}")
                return None
            if self.clear_before_next_output:
                self.log.debug("Executing delayed clear_output")
                outs[:] = []
                self.clear_display_id_mapping(cell_index)
                self.clear_before_next_output = False
            if display_id:
                # record the output index in _display_id_map[display_id][cell_index]
                cell_map = self._display_id_map.setdefault(display_id, {})
                cell_map.setdefault(cell_index, []).append(len(outs))
            if out:
                outs.append(out)
            return out

    class WarmEngine(NBClientEngine):
        """NBClientEngine that adds the runner's cells and reuses the worker's kernel client.

        ``runner_cells`` (reset first, audit last) are added to the parameterised notebook here, so
        papermill records the real input path. ``km``/``kc``: the warm kernel and its connected
        client; without them nbclient starts (and stops) a fresh kernel.
        """

        @classmethod
        def execute_notebook(
            cls,
            nb,
            kernel_name,
            output_path=None,
            progress_bar=True,
            log_output=False,
            autosave_cell_every=30,
            **kwargs,
        ):
            first, last = kwargs.pop("runner_cells", (None, None))
            if first is not None:
                nb.cells.insert(0, first)
            if last is not None:
                nb.cells.append(last)
            # papermill's Engine.execute_notebook, with the runner's execution manager
            nb_man = WarmManager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            km = kwargs.pop("km", None)
            kc = kwargs.pop("kc", None)
            for unused in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(unused, None)
            client = WarmClient(
                nb_man,
                km=km,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            if kc is not None:
                client.kc = kc  # connected already: nbclient skips starting a new client
            return client.execute()

    papermill_engines.register(WARM_ENGINE, WarmEngine)
    globals()["_ENGINE_REGISTERED"] = True
    return WARM_ENGINE


class WarmKernel:
    """One long-lived kernel and its connected client; restarted when it dies.

    Async manager and client, as nbclient expects: a blocking client would block nbclient's event
    loop while it waits for output, so a kernel that dies mid-cell would hang the run.
    """

    def __init__(self, cwd: Path, kernel_name: str = KERNEL_NAME):
        self.cwd = Path(cwd)
        self.kernel_name = kernel_name
        self.km = None
        self.kc = None
        self._log = None

    def start(self, attempts: int = 2) -> WarmKernel:
        """Start the kernel and connect; a kernel that dies while starting is tried once more."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start()
            except RuntimeError:
                self.stop()
                if attempt == attempts:
                    raise
        return self

    def _start(self) -> WarmKernel:
        from jupyter_client import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.km = AsyncKernelManager(kernel_name=self.kernel_name)
        # The kernel's own log (connection notices, crashes; never cell output, which goes over
        # ZMQ) is kept in a temporary file and quoted when the kernel dies while starting.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        # History off: the reset cell rewinds execution counts, which a history database rejects.
        run_sync(self.km.start_kernel)(
            cwd=str(self.cwd),
            extra_arguments=["--HistoryManager.enabled=False"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            run_sync(self.kc.wait_for_ready)(timeout=START_TIMEOUT)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; kernel log: {self.log_tail()}") from exc
        return self

    def log_tail(self, limit: int = 2000) -> str:
        log = self._log
        if log is None:
            return ""
        try:
            log.seek(0)
            return log.read().decode("utf-8", "replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def stop(self) -> None:
        from jupyter_core.utils import run_sync

        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
        if self.km is not None:
            with contextlib.suppress(Exception):
                run_sync(self.km.shutdown_kernel)(now=True)
        self.km = self.kc = None
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> WarmKernel:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


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
    (new_code_cell's own check falls back to jsonschema, see :func:`output_from_msg`)."""
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
    _schema_validator("code_cell")(cell)
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
    part: Part, kernel: WarmKernel | None, notebooks_dir: Path, run_dir: Path, parameters: dict
) -> tuple[PartResult, nbformat.NotebookNode | None]:
    """Execute one notebook with papermill; keep the executed (or error) notebook in the run folder.

    ``kernel=None`` executes on a fresh kernel that papermill starts and stops (the slow path,
    used by tests to compare with the warm path).
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out_path = run_dir / part.notebook_rel
    out_path.parent.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir / part.spec.notebook
    kwargs = dict(
        parameters=parameters,
        kernel_name=KERNEL_NAME,
        progress_bar=False,
        request_save_on_cell_execute=False,
        start_timeout=START_TIMEOUT,
        execution_timeout=CELL_TIMEOUT,
        engine_name=_warm_engine(),
        runner_cells=runner_cells(notebooks_dir, parameters, part.spec.stem),
    )
    if kernel is not None:
        kwargs.update(km=kernel.km, kc=kernel.kc)
    else:
        kwargs.update(cwd=str(notebooks_dir))
    started = time.perf_counter()
    try:
        executed = pm.execute_notebook(str(source), str(out_path), **kwargs)
        return PartResult(
            part.spec.notebook,
            part.university,
            "ok",
            time.perf_counter() - started,
            part.notebook_rel,
        ), executed
    except PapermillExecutionError as exc:  # the error notebook (with papermill's banner) is saved
        result = PartResult(
            part.spec.notebook,
            part.university,
            "failed",
            time.perf_counter() - started,
            part.notebook_rel,
            part.error_rel,
            exc.ename,
            _first_line(exc.evalue),
            # papermill counts its own banner cell and our reset cell; report the author's index
            _author_cell_index(out_path, exc.cell_index),
            list(exc.traceback),
        )
        return result, None
    except Exception as exc:  # kernel died, timeout, unreadable notebook ...
        if not out_path.exists() and source.exists():
            shutil.copyfile(source, out_path)  # keep something to open next to the error page
        result = PartResult(
            part.spec.notebook,
            part.university,
            "failed",
            time.perf_counter() - started,
            part.notebook_rel,
            part.error_rel,
            type(exc).__name__,
            _first_line(str(exc)),
            None,
            traceback.format_exception(exc),
        )
        return result, None


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
    as_of: str
    header: dict  # as_of, cohort, data_version, generated_at


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

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.parts) + self.render_seconds


def parameters_for(ctx: RunContext, university: str | None) -> dict:
    return {
        "as_of": ctx.as_of,
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


def run_task(task: Task, ctx: RunContext, kernel: WarmKernel | None) -> TaskResult:
    """Execute every part of a task, then write its page and the error pages of failed parts."""
    executed: list[nbformat.NotebookNode] = []
    results: list[PartResult] = []
    for part in task.parts:
        if kernel is not None and not kernel.alive():
            kernel.restart()
        result, nb = execute_part(
            part, kernel, ctx.notebooks_dir, ctx.run_dir, parameters_for(ctx, part.university)
        )
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
            err_meta = _page_meta(
                ctx,
                task,
                title=f"{task.title} · {part.spec.title}"
                if task.scope == "university"
                else task.title,
            )
            err_meta.index_href = "../index.html"
            failure = {
                "notebook": part.spec.notebook,
                "university": task.university_name and f"{task.university} {task.university_name}",
                "ename": result.ename,
                "evalue": result.evalue,
                "cell_index": result.cell_index,
                "traceback": result.traceback,
                "notebook_href": "../" + part.notebook_rel,
            }
            render.write_text_atomic(
                ctx.run_dir / part.error_rel, render.render_error_page(err_meta, failure)
            )
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
            render.write_text_atomic(ctx.run_dir / task.html_rel, render.render_report(nb, meta))
            out.html_rel = task.html_rel
        except Exception as exc:  # a page that cannot be rendered fails like a notebook
            out.render_error = f"{type(exc).__name__}: {_first_line(str(exc))}"
    out.render_seconds = time.perf_counter() - started
    failed = any(r.status != "ok" for r in results) or out.render_error is not None
    out.status = "failed" if failed else "ok"
    return out


# --- worker processes --------------------------------------------------------------------------

_WORKER: dict = {}


def _worker_init(ctx: RunContext) -> None:
    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    _WORKER["ctx"] = ctx
    _WORKER["kernel"] = WarmKernel(ctx.notebooks_dir).start()
    render.report_exporter()  # load templates once
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _worker_shutdown, exitpriority=10)


def _worker_shutdown() -> None:
    kernel = _WORKER.pop("kernel", None)
    if kernel is not None:
        kernel.stop()


def _worker_run(task: Task) -> TaskResult:
    return run_task(task, _WORKER["ctx"], _WORKER["kernel"])


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
        with WarmKernel(ctx.notebooks_dir) as kernel:
            for task in todo:
                try:
                    done(task, run_task(task, ctx, kernel))
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
