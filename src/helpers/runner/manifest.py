"""The run manifest (``reports/<as_of>/manifest.json``) and the input fingerprints behind it.

The manifest records what a run was given (parameters, raw input hashes, the processed data
version), what it ran with (git revision, package versions) and what came out (every report with
its status and durations), and how long each step took. Schedulers use it: a run with
``only_if_new`` compares today's raw inputs with those of the last successful run. Whether the
processed data must be ingested again is not decided here but by the ingest's own rule
(:func:`helpers.ingest.sources.ingest_status`); both hash the raw files through
:func:`helpers.ingest.sources.sha256_file`, so a run reads each raw file once.

A run is described by small typed objects: :class:`RunRequest` (what was asked, ``as_of`` a
date), :class:`Timings` (wall and CPU seconds by named step), :class:`Outputs`, :class:`Privacy`,
gathered in a :class:`RunRecord`; :func:`build_manifest` turns the record into the document.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.config import PROJECT_ROOT, data_paths, parse_as_of, processed_dir
from helpers.ingest import sources
from helpers.runner.catalog import CATALOG, NOTEBOOKS_DIR, ReportSpec

if TYPE_CHECKING:
    from helpers.runner.execute import TaskResult

MANIFEST_NAME = sources.MANIFEST_NAME
SCHEMA_VERSION = 1
PACKAGES = (
    "helpers",
    "pandas",
    "numpy",
    "pyarrow",
    "matplotlib",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
    "jupyter_client",
    "ipykernel",
    "jinja2",
    "pydantic",
)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (helpers.ingest.sources: one implementation, each raw file hashed
    once per process, so the ingest a run starts does not hash the raw files again)."""
    return sources.sha256_file(path)


def raw_inputs(data_dir: Path, as_of: dt.date) -> dict[str, str]:
    """``{path relative to data/raw (posix): sha256}`` of every raw file behind ``as_of``."""
    raw_dir, _ = data_paths(data_dir)
    return {
        p.relative_to(raw_dir).as_posix(): file_sha256(p) for p in sources.raw_files(raw_dir, as_of)
    }


def processed_manifest_path(data_dir: Path, as_of: dt.date) -> Path:
    return processed_dir(data_dir, as_of) / MANIFEST_NAME


def data_version(data_dir: Path, as_of: dt.date) -> str:
    """Short hash of the processed manifest: names the exact data a report was made from."""
    path = processed_manifest_path(data_dir, as_of)
    return file_sha256(path)[:12] if path.exists() else "—"


def git_revision(root: Path = PROJECT_ROOT) -> dict:
    """Commit and whether the work tree differs from it (empty outside a repo).

    Git's cache of file stat data is refreshed first (what a plain ``git status`` does; skipped
    when another git process holds the index): in a fresh clone every file looks "racily clean",
    and without the refresh each later status would run the notebooks' clean filter again
    (18-30 s a call). The status itself takes no lock."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str, timeout: float) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=True,
        ).stdout

    try:
        commit = git("rev-parse", "HEAD", timeout=10).strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    # exit 1 (changed files), a held lock or a slow filter: the status still answers
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git("update-index", "-q", "--refresh", timeout=60)
    try:
        status = git("status", "--porcelain", "--untracked-files=no", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {"commit": commit, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def versions() -> dict[str, str]:
    return sources.package_versions(PACKAGES, "not installed")


def read_manifest(run_dir: Path) -> dict | None:
    path = Path(run_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(run_dir: Path, manifest: dict) -> Path:
    path = Path(run_dir) / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.tmp")
    tmp.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)
    return path


def last_successful_run(reports_dir: Path) -> dict | None:
    """The manifest of the most recently finished successful run in any period folder."""
    best = None
    base = Path(reports_dir)
    for folder in base.iterdir() if base.is_dir() else ():
        try:
            dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        m = read_manifest(folder)
        if not m or m.get("run", {}).get("status") != "ok":
            continue
        if best is None or m["run"].get("finished", "") > best["run"].get("finished", ""):
            best = m
    return best


def published_inputs(inputs: dict[str, str], redact=None) -> dict[str, str]:
    """The raw inputs as the published run manifest lists them: personal data in a file name (a
    sender's slip) shows 已隐去 in its place, as the reports show it (``redact``:
    :func:`helpers.runner.quality.name_redactor`; default ID and mobile numbers), so the manifest
    never withholds a run; two names that become equal stay apart by a counter."""
    from helpers import pii

    redact = redact or pii.redact
    out: dict[str, str] = {}
    for path, digest in inputs.items():
        shown = redact(path)
        key, n = shown, 1
        while key in out:
            n += 1
            key = f"{shown} ({n})"
        out[key] = digest
    return out


def new_inputs(current: dict[str, str], previous: dict[str, str]) -> list[str]:
    """Raw files that are new or changed since ``previous`` (path -> sha256 maps)."""
    return sorted(p for p, h in current.items() if previous.get(p) != h)


# --- the typed pieces a run's manifest is built from -------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """What ``placement run`` was asked to do; ``as_of`` is parsed once, where the request is made."""

    as_of: dt.date
    university: str | None
    data_dir: Path
    reports_dir: Path
    workers: int
    only_if_new: bool = False
    catalog: tuple[ReportSpec, ...] = CATALOG
    notebooks_dir: Path = NOTEBOOKS_DIR
    progress: bool = False

    @classmethod
    def build(
        cls,
        as_of: dt.date | str,
        university: str | None,
        data_dir: Path | str,
        reports_dir: Path | str,
        options: RunOptions | None = None,
    ) -> RunRequest:
        """The request with every value checked and normalised (absolute paths, a worker count)."""
        options = options or RunOptions()
        return cls(
            as_of=parse_as_of(as_of),
            university=str(university).strip() or None if university else None,
            data_dir=Path(data_dir).resolve(),
            reports_dir=Path(reports_dir).resolve(),
            workers=options.workers or os.cpu_count() or 1,
            only_if_new=options.only_if_new,
            catalog=tuple(options.catalog) if options.catalog is not None else CATALOG,
            notebooks_dir=Path(options.notebooks_dir or NOTEBOOKS_DIR).resolve(),
            progress=sys.stderr.isatty() if options.progress is None else options.progress,
        )

    @property
    def iso(self) -> str:
        return self.as_of.isoformat()

    def parameters(self) -> dict:
        """The request as the manifest records it."""
        return {
            "as_of": self.iso,
            "university": self.university,
            "data_dir": str(self.data_dir),
            "reports_dir": str(self.reports_dir),
            "workers": self.workers,
            "only_if_new": self.only_if_new,
        }


@dataclass(frozen=True)
class RunOptions:
    """The optional part of a request (``None``: the default: every core, the full catalogue,
    the project's notebooks, a progress bar on a terminal)."""

    workers: int | None = None
    only_if_new: bool = False
    catalog: Sequence[ReportSpec] | None = None
    notebooks_dir: Path | None = None
    progress: bool | None = None


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere)."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def is_placement_command() -> bool:
    """Whether this process is the ``placement`` command (its start-up is then part of the run)."""
    main = sys.modules.get("__main__")
    return Path(sys.argv[0]).name == "placement" or getattr(main, "__package__", None) == "helpers"


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its finished descendants (worker
    processes, once the pool is shut down, and through them their kernels)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Timings:
    """Wall time by named step of a run (seconds, ``time.perf_counter``); a step run twice adds
    up. ``startup``: the process's seconds before the run began (interpreter, imports), when the
    process is the ``placement`` command."""

    t0: float = field(default_factory=time.perf_counter)
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now().astimezone())
    steps: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by step (see cpu_seconds)

    @classmethod
    def for_command(cls) -> Timings:
        timings = cls()
        age = process_age() if is_placement_command() else None
        if age is not None:
            timings.steps["startup"] = age
            timings.cpu["startup"] = cpu_seconds()
            timings.t0 -= age
        return timings

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - started
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu_seconds() - cpu

    def add_cpu(self, name: str, seconds: float) -> None:
        """CPU seconds of ``name`` spent where :func:`cpu_seconds` cannot see them (processes
        that are not this process's descendants, such as the ingest's reader processes)."""
        if seconds:
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    def cpu_dict(self) -> dict[str, float]:
        """CPU seconds by step, rounded, as the manifest records them (``cpu_timings``)."""
        return {k: round(v, 3) for k, v in self.cpu.items()}

    def total(self) -> float:
        return time.perf_counter() - self.t0

    def as_dict(self) -> dict[str, float]:
        """Every step and the total, rounded to milliseconds, as the manifest records them."""
        return {k: round(v, 3) for k, v in {**self.steps, "total": self.total()}.items()}

    def table(self, labels: dict[str, str]) -> str:
        """The steps as a short table (seconds and share of the total), for the end of a run."""
        total = self.total()
        rows = [(f"{labels.get(k, k)} {k}", v) for k, v in self.steps.items()]
        rows.append(("未计时 unaccounted", max(0.0, total - sum(self.steps.values()))))
        rows.append(("合计 total", total))
        width = max(_display_width(name) for name, _ in rows) + 2
        lines = [_pad("用时 timings", width) + "       秒 s    占比 %"]
        for name, seconds in rows:
            lines.append(f"{_pad(name, width)}{seconds:11.1f}{100 * seconds / total:11.1f}")
        return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _display_width(text))


def _display_width(text: str) -> int:
    """Columns a terminal gives the text (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@dataclass
class Outputs:
    """What a run wrote besides the report pages: the workbook, the tables, the documents."""

    workbook: str | None
    workbook_error: str | None
    csv: list[str]
    documents: dict


@dataclass
class Privacy:
    """The privacy scan's verdict as the manifest records it (``hits`` None: not scanned yet)."""

    complete: bool = False
    problem: str | None = "隐私检查进行中"
    hits: int | None = None


@dataclass
class RunRecord:
    """Everything the run manifest says about one run."""

    request: RunRequest
    started: dt.datetime
    header: dict
    inputs: dict[str, str]  # raw inputs as published (personal data in names redacted)
    notebooks: dict[str, str]  # notebook -> sha256
    reports: list[dict]  # report_entry() of each report run, then those carried over
    outputs: Outputs
    workers: int  # worker processes actually used
    timings: Timings
    privacy: Privacy = field(default_factory=Privacy)
    finished: dt.datetime | None = None

    @property
    def failed(self) -> bool:
        """A report, the workbook or the documents failed, or the privacy scan was incomplete."""
        return (
            any(r["status"] != "ok" for r in self.reports)
            or self.outputs.workbook_error is not None
            or self.outputs.documents.get("error") is not None
            or (self.privacy.hits is not None and not self.privacy.complete)
        )

    def finish(self) -> dt.datetime:
        self.finished = dt.datetime.now().astimezone()
        return self.finished


def report_entry(r: TaskResult) -> dict:
    """One report of the manifest: its page, tables, status, durations and parts."""
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


def build_manifest(record: RunRecord) -> dict:
    """``reports/<as_of>/manifest.json`` of a run (see the module docstring)."""
    request = record.request
    total = record.timings.total()
    return {
        "schema": SCHEMA_VERSION,
        "run": {
            "as_of": request.iso,
            "university": request.university,
            "status": "failed" if record.failed else "ok",
            "started": record.started.isoformat(timespec="seconds"),
            "finished": record.finished and record.finished.isoformat(timespec="seconds"),
            "seconds": round(total, 3) if record.finished else None,
            "workers": record.workers,
        },
        "parameters": request.parameters(),
        "header": record.header,
        "git": git_revision(),
        "versions": versions(),
        "data": {
            "processed_manifest": str(processed_manifest_path(request.data_dir, request.as_of)),
            "data_version": record.header["data_version"],
        },
        "inputs": record.inputs,
        "notebooks": record.notebooks,
        "reports": record.reports,
        "tables": {
            "workbook": record.outputs.workbook,
            "workbook_error": record.outputs.workbook_error,
            "csv": record.outputs.csv,
        },
        "documents": record.outputs.documents,
        "timings": record.timings.as_dict(),
        "cpu_timings": record.timings.cpu_dict(),
        "privacy": asdict(record.privacy),
    }
