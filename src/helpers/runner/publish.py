"""The period's publish-side outputs built side by side on worker processes: the tables workbook
(``报表汇总.xlsx``) and one send package per university (:mod:`helpers.runner.send`).

The workers are forked from the main process when the pool starts, so each holds the main
process's period scanner as it was (same rules, fingerprints and digest caches: nothing to
load again) and what the run had scanned so far (the report workers' scans, whose hits a
package's page copy and zip take over). Each job scans what it writes in its worker and returns
its scans as plain data (a :class:`~helpers.runner.scanning.ScanLedger`), which the main process
takes into its own ledger: the privacy scan is exactly as strict as when everything is written
in one process. Results come back in the order the jobs were submitted. With one worker, where
``fork`` does not exist, or for a job whose worker died, the jobs run in the main process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from helpers.runner.scanning import OutputScanner

START_METHOD = "fork"  # the workers inherit the scanner instead of loading it (~5 s each)


def tables_workbook(
    run_dir: Path, scan: OutputScanner | None = None
) -> tuple[str | None, str | None]:
    """``tables/报表汇总.xlsx`` of the staged run, scanned when written: (path relative to the run
    folder or None when there are no tables, error or None)."""
    tables = run_dir / "tables"
    if not tables.is_dir() or not any(tables.rglob("*.csv")):
        return None, None
    try:
        from helpers.tables import build_workbook
    except ImportError:
        return None, "helpers.tables 不可用"
    try:
        out = build_workbook(tables)
    except Exception as exc:  # the workbook is one output among many: report, don't abort
        return None, f"{type(exc).__name__}: {shown_error(exc, run_dir)}"
    if scan is not None:
        scan.files([out])
    return out.relative_to(run_dir).as_posix(), None


def shown_error(exc: BaseException, run_dir: Path) -> str:
    """An error's message with the staging folder's path left out (the run folder is ``.``)."""
    return str(exc).replace(str(run_dir) + os.sep, "").replace(str(run_dir), ".")


# --- worker processes --------------------------------------------------------------------------
_WORKER: dict = {}


def _worker_init(run_dir: Path, scan: OutputScanner | None) -> None:
    """A forked worker: the main process's scanner (rules, fingerprints, digest caches) as it
    was, with a ledger of its own; what the run had scanned is its ``earlier``."""
    _WORKER["run_dir"] = run_dir
    _WORKER["scan"] = OutputScanner(run_dir, scan.scanner, scan.seen()) if scan else None


def _worker_run(job: Callable, args: tuple):
    """``job(run_dir, scan, *args)`` in a worker: its value and what the worker scanned for it."""
    scan: OutputScanner | None = _WORKER["scan"]
    value = job(_WORKER["run_dir"], scan, *args)
    return value, scan.take() if scan is not None else None


class Pending:
    """A job's result to come; a job whose worker died runs again in the main process."""

    def __init__(self, pool: PublishPool, future: Future, job: Callable, args: tuple):
        self.pool, self.future, self.job, self.args = pool, future, job, args

    def result(self):
        """The job's value (its exception raised), its scans taken into the main ledger."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            value, ledger = self.future.result()
        except BrokenProcessPool:
            return self.pool.run_here(self.job, self.args)
        if self.pool.scan is not None:
            self.pool.scan.ledger.merge(ledger)
        return value


def results(pending: list[Pending]) -> list:
    """Every job's value in order; the first failure raised once all jobs have finished (one
    failing job does not stop the others being written and scanned)."""
    values, failure = [], None
    for p in pending:
        try:
            values.append(p.result())
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
    return values


class PublishPool:
    """Worker processes for the publish jobs of a staged run (none when ``workers`` <= 1: each
    job then runs in this process when submitted). ``scan``: the main process's scanner (None:
    nothing is scanned as written; the final pass reads every file)."""

    def __init__(self, run_dir: Path, scan: OutputScanner | None, workers: int = 1):
        import multiprocessing

        self.run_dir, self.scan = run_dir, scan
        self.executor = None
        if workers > 1 and START_METHOD in multiprocessing.get_all_start_methods():
            from concurrent.futures import ProcessPoolExecutor

            self.executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(START_METHOD),
                initializer=_worker_init,
                initargs=(run_dir, scan),
            )

    def __enter__(self) -> PublishPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the workers to finish and exit (their CPU time then counts as this
        process's children's)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def run_here(self, job: Callable, args: tuple):
        return job(self.run_dir, self.scan, *args)

    def submit(self, job: Callable, *args) -> Pending:
        """Run ``job(run_dir, scan, *args)`` (a module-level function) on a worker."""
        from concurrent.futures.process import BrokenProcessPool

        if self.executor is not None:
            try:
                return Pending(self, self.executor.submit(_worker_run, job, args), job, args)
            except BrokenProcessPool:
                self.close()
        future: Future = Future()
        try:
            future.set_result((self.run_here(job, args), None))
        except Exception as exc:
            future.set_exception(exc)
        return Pending(self, future, job, args)
