"""Benchmark: the per-university fan-out of `placement run` against the naive way, in one run.

    .venv/bin/python benchmarks/fanout.py [--data benchmarks/out/province] [--as-of 2023-08-31]
                                          [--workers N] [--sample 3] [--limit N]

Fan-out: every university's report (all university-scope notebooks of the catalog, executed with
papermill on warm kernels, one worker process per core, then rendered to HTML), timed from the
start of the worker pool to the last page, as `placement run` does it. Naive: for a sample of
universities, each notebook run by the `papermill` CLI and rendered by the `jupyter nbconvert`
CLI in subprocesses, one after the other. Goal (issue 4 §6): >= 10x faster per university report
than naive, and <= 1 s per university report on a 2-core machine.

Also printed: the CPU time of the fan-out (this process, the workers and their kernels), which
depends less than wall time on other jobs sharing the cores, and how the wall time splits into
reports and worker start-up.

Generates (`placement generate --size province`) and ingests the province data set when missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "benchmarks" / "out" / "province"
SPEEDUP_GOAL = 10.0
SECONDS_GOAL = 1.0


def ensure_data(data: Path, as_of: dt.date) -> None:
    """Generate and ingest the province data set once (a lock keeps parallel benchmarks apart)."""
    data.mkdir(parents=True, exist_ok=True)
    with open(data.parent / f".{data.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (data / "raw").is_dir():
            from helpers.generate import generate

            print(f"generating the province data set into {data} ...", flush=True)
            t = time.perf_counter()
            generate(size="province", out=data, seed=2023)
            print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
        from helpers.ingest.sources import ingest_status

        status = ingest_status(as_of, data)  # the rule `placement run` and the ingest apply
        if status.needed:
            from helpers.ingest import ingest

            print(f"ingesting {as_of} ({status.reason}) ...", flush=True)
            t = time.perf_counter()
            ingest(as_of=as_of, data_dir=data)
            print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)


def fan_out(data: Path, as_of: dt.date, workers: int, limit: int | None):
    """Every university's report with the runner's pool (warm kernels, parallel rendering)."""
    from helpers.runner.catalog import UNIVERSITY, available, plan_tasks
    from helpers.runner.execute import RunContext, run_tasks
    from helpers.runner.manifest import data_version
    from helpers.runner.period import list_universities

    specs = [s for s in available() if s.scope == UNIVERSITY]
    universities = list_universities(data, as_of)[:limit]
    tasks = plan_tasks(specs, universities)
    out = Path(tempfile.mkdtemp(prefix="fanout-", dir=data.parent))
    run_dir = out / as_of.isoformat()
    run_dir.mkdir()
    ctx = RunContext(
        notebooks_dir=ROOT / "notebooks",
        run_dir=run_dir,
        notebook_reports_dir=out,
        data_dir=data,
        as_of=as_of,
        header={
            "as_of": as_of.isoformat(),
            "cohort": f"{as_of.year}届",
            "data_version": data_version(data, as_of),
            "generated_at": "benchmark",
        },
    )
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    results = run_tasks(tasks, ctx, workers, progress=sys.stderr.isatty())
    wall = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    sizes = [(run_dir / r.html_rel).stat().st_size for r in results if r.html_rel]
    return specs, universities, results, wall, cpu, sizes, out


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its finished descendants (the worker
    processes and, through them, their kernels)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def naive(
    data: Path, as_of: dt.date, specs, sample: list[tuple[str, str]], out: Path
) -> list[float]:
    """Seconds per university report the naive way: papermill CLI + jupyter nbconvert CLI."""
    bin_dir = Path(sys.executable).parent
    per_report = []
    for code, _ in sample:
        started = time.perf_counter()
        for spec in specs:
            executed = out / f"naive-{code}-{spec.stem}.ipynb"
            subprocess.run(
                [
                    str(bin_dir / "papermill"),
                    str(ROOT / "notebooks" / spec.notebook),
                    str(executed),
                    "-k",
                    "python3",
                    "--cwd",
                    str(ROOT / "notebooks"),
                    "-r",
                    "as_of",
                    as_of.isoformat(),
                    "-r",
                    "university",
                    code,
                    "-r",
                    "data_dir",
                    str(data),
                    "-r",
                    "reports_dir",
                    str(out / "naive-reports"),
                ],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    str(bin_dir / "jupyter"),
                    "nbconvert",
                    "--to",
                    "html",
                    "--no-input",
                    str(executed),
                ],
                check=True,
                capture_output=True,
            )
        per_report.append(time.perf_counter() - started)
    return per_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--as-of", default="2023-08-31")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=3, help="universities measured the naive way")
    parser.add_argument("--limit", type=int, default=None, help="only the first N universities")
    parser.add_argument("--keep", action="store_true", help="keep the rendered reports")
    args = parser.parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    data = args.data.resolve()
    ensure_data(data, as_of)

    specs, universities, results, wall, cpu, sizes, out = fan_out(
        data, as_of, args.workers, args.limit
    )
    try:
        step = max(1, len(universities) // max(args.sample, 1))
        sample = universities[::step][: args.sample]
        naive_s = naive(data, as_of, specs, sample, out)
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)

    n = len(results)
    failed = [r.key for r in results if r.status != "ok"]
    per_report = wall / n
    task_s = [r.seconds for r in results]
    exec_s = [sum(p.seconds for p in r.parts) for r in results]
    render_s = [r.render_seconds for r in results]
    naive_mean = statistics.mean(naive_s)
    speedup = naive_mean / per_report
    print(
        f"fan-out benchmark: {n} university reports ({', '.join(s.notebook for s in specs)}), "
        f"as of {as_of}, {os.cpu_count()} cores, {args.workers} workers"
    )
    print(
        f"  fan-out wall time             {wall:8.1f} s   ({per_report:.2f} s per university report)"
    )
    print(
        f"  CPU time of the fan-out       {cpu:8.1f} s   ({cpu / n:.2f} s per university report; "
        f"all processes: parent, workers, kernels)"
    )
    print(
        f"  per report, in a worker       median {statistics.median(task_s):.2f} s "
        f"(execute {statistics.median(exec_s):.2f} s + render {statistics.median(render_s):.2f} s), "
        f"mean {statistics.mean(task_s):.2f} s, max {max(task_s):.2f} s "
        f"(a worker's first report starts its kernel's imports and reads)"
    )
    print(
        f"  sum of report times / workers {sum(task_s) / args.workers:8.1f} s   "
        f"(the rest of the wall time: starting the workers and their kernels)"
    )
    print(
        f"  page size                     median {statistics.median(sizes) / 1e6:.2f} MB, "
        f"max {max(sizes) / 1e6:.2f} MB"
    )
    print(
        f"  naive (papermill + nbconvert CLI, {len(naive_s)} universities)  "
        f"{naive_mean:.2f} s per university report"
    )
    print(
        f"  speed-up                      {speedup:.1f}x   (goal >= {SPEEDUP_GOAL:.0f}x: "
        f"{'met' if speedup >= SPEEDUP_GOAL else 'NOT met'})"
    )
    print(
        f"  seconds per report            {per_report:.2f} s  (goal <= {SECONDS_GOAL:.0f} s: "
        f"{'met' if per_report <= SECONDS_GOAL else 'NOT met'})"
    )
    if failed:
        print(f"  FAILED reports: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
