"""Logging for the ``placement`` command: timestamps and levels, progress on stdout, problems on
stderr. Library code logs to ``logging.getLogger("helpers....")`` and never configures logging
itself, except through ``ensure_configured`` at a command's entry point."""

from __future__ import annotations

import logging
import sys

LOGGER = "helpers"
FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


class _StreamsHandler(logging.Handler):
    """INFO and below to stdout, WARNING and above to stderr. The streams are looked up when a
    record is written, so redirections (and test capture) made after set-up are honoured."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never take the run down
            self.handleError(record)


def level_for(verbose: int = 0, quiet: int = 0) -> int:
    """-v → DEBUG, nothing → INFO, -q → WARNING, -qq → ERROR."""
    steps = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]
    return steps[max(0, min(len(steps) - 1, 1 - verbose + quiet))]


def configure(level: int = logging.INFO) -> logging.Logger:
    """Give the package's logger its one handler (idempotent) at ``level``."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, _StreamsHandler) for h in logger.handlers):
        handler = _StreamsHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def ensure_configured() -> None:
    """For entry points called from Python (tests, scripts): configure at INFO unless the command
    line already did, so a run says what it did however it was started."""
    if not logging.getLogger(LOGGER).handlers:
        configure(logging.INFO)


def progress(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "个"):
    """A tqdm progress bar on stderr when it is a terminal (an interactive run), silent otherwise
    (schedulers, logs, tests)."""
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
        leave=False,
    )
