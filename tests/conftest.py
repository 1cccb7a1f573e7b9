"""Shared fixtures.

- ``demo_data_dir``: the demo province generated and ingested, cached on disk between sessions
  (keyed by the generator and ingest source).
- ``demo_run`` and ``hostile_run``: the two whole `placement run`s of the demo data the end-to-end,
  documents, privacy and browser tests read. Each is made once per test session, by whichever
  pytest-xdist worker asks first (the others wait on a file lock), in the folder all workers of
  the session share; a new session makes them again with the code as it is.
- The order of the test files: longest first (see :func:`pytest_collection_modifyitems`).
- The git index's stat cache refreshed once per session (see :func:`pytest_sessionstart`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

# as a period run's processes do (helpers.runner): nbformat's validator then skips jsonschema's IRI
# grammar, ~1 CPU-s in every worker process that imports nbformat before helpers.runner
import helpers.runner  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
DEMO_AS_OF = dt.date(2023, 8, 31)
DEMO_SEED = 2023
RUN_FIXTURES = ("hostile_run", "demo_run")  # in the order the files that use one of them start
WHILE_DEMO_IS_MADE = "test_runner_hostile.py"  # a slow file without demo data (see the order)


@pytest.fixture(autouse=True, scope="session")
def _pseudonym_key_for_tests(tmp_path_factory):
    """Tests never touch the developer's real key file."""
    key_dir = tmp_path_factory.getbasetemp() / "keys"
    key_dir.mkdir(exist_ok=True)
    os.environ.setdefault("PLACEMENT_PSEUDONYM_KEY", "test-key-" + "0" * 48)
    yield


def _source_hash() -> str:
    h = hashlib.sha256()
    for sub in ("generate", "ingest"):
        for p in sorted((ROOT / "src" / "helpers" / sub).rglob("*.py")):
            h.update(p.read_bytes())
    for name in ("codes.py", "datasets.py", "config.py"):
        h.update((ROOT / "src" / "helpers" / name).read_bytes())
    for p in sorted((ROOT / "src" / "helpers" / "policy").glob("*.yaml")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def demo_data_dir() -> Path:
    """A data dir (raw/, processed/, ground_truth/) with the demo province ingested at DEMO_AS_OF.

    Read-only for tests: copy it (``copy_demo``) before changing anything.
    """
    from helpers.generate import generate
    from helpers.ingest import ingest

    cache = ROOT / ".pytest_cache" / f"demo-data-{_source_hash()}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with _locked(cache.parent / "demo-data.lock"):
        if not (cache / "READY").exists():
            shutil.rmtree(cache, ignore_errors=True)
            tmp = cache.with_name(cache.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            generate(size="demo", out=tmp, seed=DEMO_SEED)
            # two processes, as `placement ingest` uses: the same data as one (test_ingest_mess)
            ingest(as_of=DEMO_AS_OF, data_dir=tmp, workers=2)
            (tmp / "READY").write_text("ok")
            tmp.rename(cache)
            for old in cache.parent.glob("demo-data-*"):
                if old != cache and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
    return cache


@pytest.fixture
def copy_demo(demo_data_dir, tmp_path) -> Path:
    """A private, writable copy of the demo data dir."""
    dest = tmp_path / "data"
    shutil.copytree(demo_data_dir, dest)
    return dest


# --- whole period runs shared by the test files of one session ----------------------------------
@dataclass
class PeriodRun:
    """One `placement run --as-of 2023-08-31` on a copy of the demo data (read-only for tests)."""

    data_dir: Path
    reports_dir: Path
    run_dir: Path  # reports_dir / <as_of>
    code: int  # the exit code
    out: str  # what the run printed on stdout / stderr
    err: str
    planted: dict = field(default_factory=dict)  # hostile values planted (tests/hostile.py)


def session_root(tmp_path_factory) -> Path:
    """The folder every pytest-xdist worker of this session shares (each worker's own basetemp,
    ``popen-gw<N>``, is inside it); without xdist, the basetemp itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_run(tmp_path_factory, name: str, make: Callable[[Path, Path], dict]) -> PeriodRun:
    """``make(data, reports)`` once per session in ``<session root>/<name>/`` (it returns the
    run's ``code``, ``out``, ``err`` and optionally ``planted``), then the run as every caller
    of the session sees it."""
    root = session_root(tmp_path_factory)
    folder = root / name
    with _locked(root / f"{name}.lock"):
        if not (folder / "result.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            result = make(folder / "data", folder / "reports")
            (folder / "result.json").write_text(json.dumps(result, ensure_ascii=False), "utf-8")
    res = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    reports = folder / "reports"
    return PeriodRun(
        folder / "data", reports, reports / DEMO_AS_OF.isoformat(),
        res["code"], res["out"], res["err"], res.get("planted", {}),
    )  # fmt: skip


def _captured(run: Callable[[], int]) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run()
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


@pytest.fixture(scope="session")
def demo_run(demo_data_dir, tmp_path_factory) -> PeriodRun:
    """`placement run` (2 workers) on the demo data without ingest's files.parquet: the
    data-quality report fails (forced), every other report must come out intact and the command
    exits 1 (tests/test_runner_e2e.py)."""
    from helpers.cli import main as cli_main

    def make(data: Path, reports: Path) -> dict:
        shutil.copytree(demo_data_dir, data)
        (data / "processed" / DEMO_AS_OF.isoformat() / "files.parquet").unlink()
        args = ["run", "--as-of", DEMO_AS_OF.isoformat(), "--data-dir", str(data),
                "--reports-dir", str(reports), "--workers", "2"]  # fmt: skip
        return _captured(lambda: cli_main(args))

    return shared_run(tmp_path_factory, "demo-run", make)


@pytest.fixture(scope="session")
def hostile_run(demo_data_dir, tmp_path_factory) -> PeriodRun:
    """`run_period` (2 workers) on the demo data with hostile values planted in its raw files
    (tests/hostile.py), ingested from raw: it must publish (exit 0)."""
    from hostile import plant

    from helpers.runner import run_period

    def make(data: Path, reports: Path) -> dict:
        shutil.copytree(demo_data_dir, data)
        planted = plant(data)
        run = partial(run_period, DEMO_AS_OF, None, data_dir=data, reports_dir=reports,
                      workers=2, progress=False)  # fmt: skip
        return {**_captured(run), "planted": planted}

    return shared_run(tmp_path_factory, "hostile-run", make)


# --- session start -------------------------------------------------------------------------------
def pytest_sessionstart(session):
    """Refresh the git index's stat cache once, as a plain `git status` would.

    Every period run records `git status` (runner.manifest.git_revision). In a fresh clone or
    worktree the notebooks' entries are "racily clean": until a refresh is written, each status
    runs the nbstripout clean filter (a Python start-up) on every notebook: ~20 s.
    The index only caches stat data: what git reports as changed is the same either way.

    First without the filter (``cat``): a notebook whose bytes are those of its committed blob
    (every notebook of a fresh clone) is recorded clean at once, as the filter would find it
    (committed through the filter, a blob is already stripped). That spares ~20 s of filter
    start-ups before the workers start. The ordinary refresh after it runs the filter only on
    the notebooks whose bytes differ from their blobs."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller (or a run without xdist) does it once
    refresh = ["update-index", "-q", "--refresh"]
    for args in (["-c", "filter.nbstripout.clean=cat", *refresh], refresh):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["git", "-C", str(ROOT), *args],
                capture_output=True,
                timeout=300,
                check=False,
            )


# --- order ---------------------------------------------------------------------------------------
def pytest_configure(config):
    # pytest-xdist's --dist loadfile hands whole files to the workers in the order below, not
    # (its default) by the number of tests in a file
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Longest first, a file's tests kept together and in their order:

    1. the files that use one shared period run, hostile first: the first two workers start the
       two runs at once;
    2. the files that use both runs, after those: by the time a worker reaches one, both runs are
       made (started earlier, one would idle on the other worker's lock until its run is made);
    3. the other slow files, then the rest: quick files at the end keep both workers busy to
       the end.

    One slow file that needs no demo data goes second (:data:`WHILE_DEMO_IS_MADE`): in a fresh
    clone the first worker generates and ingests the demo data (~12 s) before its run, and the
    second worker runs that file meanwhile instead of waiting on the lock for the demo data."""
    uses: dict[Path, set[str]] = {}
    slow: set[Path] = set()
    demo: set[Path] = set()
    for item in items:
        uses.setdefault(item.path, set()).update(n for n in RUN_FIXTURES if n in item.fixturenames)
        if item.get_closest_marker("slow"):
            slow.add(item.path)
        if "demo_data_dir" in item.fixturenames:
            demo.add(item.path)

    def rank(path: Path) -> float:
        used = uses[path]
        if path.name == WHILE_DEMO_IS_MADE and path not in demo:
            return 0.5  # after the first run's files, before the second's
        if len(used) == 1:
            return RUN_FIXTURES.index(next(iter(used)))
        if used:
            return len(RUN_FIXTURES)
        return len(RUN_FIXTURES) + (1 if path in slow else 2)

    items.sort(key=lambda item: rank(item.path))
