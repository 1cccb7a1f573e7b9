"""The ingest's reader processes, made to survive a reader that crashes.

A worker that dies (python-calamine aborting on a hostile workbook, a segfault, the kernel's OOM
killer) breaks the whole ``ProcessPoolExecutor``: every task still pending fails with
``BrokenProcessPool``, not only the culprit's. :class:`ReaderPool` rebuilds the executor and runs
each task that was lost again, alone, so that only the task that crashes by itself is reported
(:class:`WorkerCrashed`); the caller then names and quarantines its file and goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


class WorkerCrashed(Exception):
    """A task whose worker process died while running it alone."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class ReaderPool:
    """A process pool (made by ``factory``) with ``submit`` like an executor's, plus
    :meth:`outcome` / :meth:`alone`, which turn a crash into :class:`WorkerCrashed`."""

    def __init__(self, factory: Callable[[], ProcessPoolExecutor]):
        self.factory = factory
        self.pool = factory()
        self.rebuilt = 0
        self._lock = threading.Lock()

    def submit(self, fn, *args) -> Future:
        with self._lock:
            try:
                return self.pool.submit(fn, *args)
            except BrokenProcessPool:
                self._rebuild()
                return self.pool.submit(fn, *args)

    def _rebuild(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self.factory()
        self.rebuilt += 1

    def outcome(self, future: Future, fn, *args):
        """The result of ``future`` (``fn(*args)`` submitted earlier); when the pool broke under
        it, ``fn(*args)`` again, alone."""
        try:
            return future.result()
        except BrokenProcessPool:
            return self.alone(fn, *args)

    def alone(self, fn, *args):
        """``fn(*args)`` in a worker, waiting for it; :class:`WorkerCrashed` when its process
        dies (the pool is rebuilt for what follows)."""
        future = self.submit(fn, *args)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            with self._lock:
                self._rebuild()
            raise WorkerCrashed(
                f"reader process died ({type(exc).__name__}: {exc or 'terminated abruptly'})"
            ) from exc

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
