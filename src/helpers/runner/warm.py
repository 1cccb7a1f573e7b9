"""One long-lived report kernel of a worker process (see :mod:`helpers.runner.execute`)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from pathlib import Path

KERNEL_NAME = "python3"
START_TIMEOUT = 120  # seconds for a kernel to start


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
