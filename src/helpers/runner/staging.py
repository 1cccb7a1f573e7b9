"""Build a run in a fresh staging folder, then switch it in atomically.

``reports/<as_of>/`` stays a real folder (copy it, zip it, serve it). A run writes
``reports/.staging-<as_of>-<id>/<as_of>/`` and, when done, exchanges it with the published folder
in one ``renameat2(RENAME_EXCHANGE)`` call on Linux (or, where that is unavailable, two renames:
the old folder moves aside, the new one moves in — there is never a mix of old and new files).
Other periods' folders are never touched. A lock file serialises runs of the same period.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class RunLockedError(RuntimeError):
    """Another run of the same period is in progress."""


@contextlib.contextmanager
def period_lock(reports_dir: Path, period: str) -> Iterator[None]:
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f".{period}.lock"
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunLockedError(
                f"另一个 {period} 的运行正在进行（锁文件 {path}）。another run of {period} holds {path}"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def staging_prefix(period: str) -> str:
    return f".staging-{period}-"


def remove_stale_staging(reports_dir: Path, period: str) -> None:
    """Leftovers of a killed run of this period (call under the period lock)."""
    for old in reports_dir.glob(staging_prefix(period) + "*"):
        shutil.rmtree(old, ignore_errors=True)


def new_staging(reports_dir: Path, period: str) -> Path:
    """``reports/.staging-<as_of>-<id>/<as_of>/`` (created): notebooks get its parent as reports_dir."""
    root = reports_dir / f"{staging_prefix(period)}{uuid.uuid4().hex[:8]}"
    run_dir = root / period
    run_dir.mkdir(parents=True)
    return run_dir


def seed_from(published: Path, run_dir: Path) -> None:
    """Start a partial run (one university) from the published folder, by hard links.

    Files are never rewritten in place afterwards (every writer replaces or removes first), so
    the published folder is not changed through the shared links.
    """
    if not published.is_dir():
        return
    for src in published.rglob("*"):
        dest = run_dir / src.relative_to(published)
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif src.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError:
                shutil.copy2(src, dest)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2). False when not supported here."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


def publish(run_dir: Path, published: Path) -> None:
    """Switch the staging folder in as ``published``; the previous run is removed afterwards."""
    staging_root = run_dir.parent
    if not published.exists():
        os.rename(run_dir, published)
    elif _exchange(run_dir, published):
        pass  # run_dir now holds the previous run
    else:
        aside = staging_root / "previous"
        os.rename(published, aside)
        os.rename(run_dir, published)
    shutil.rmtree(staging_root, ignore_errors=True)


def discard(run_dir: Path) -> None:
    shutil.rmtree(run_dir.parent, ignore_errors=True)


def move_aside(run_dir: Path, dest: Path) -> Path:
    """Keep a run that must not be published (privacy hits) outside reports/ for inspection."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(run_dir, dest)
    except OSError:  # another file system
        shutil.move(str(run_dir), str(dest))
    shutil.rmtree(run_dir.parent, ignore_errors=True)
    return dest
