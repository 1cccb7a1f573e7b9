"""Benchmark: a whole province period with `placement run` from raw, the re-ingest after one
resubmitted file, and the naive way, in one run.

    .venv/bin/python benchmarks/period.py [--data benchmarks/out/province] [--as-of 2023-08-31]
                                          [--workers N] [--sample 3] [--keep]

Whole period: the raw folders of the data set (every snapshot) copied to a scratch folder, then
`placement run --as-of D` in a subprocess, from raw: ingest of every snapshot folder, every
report, the workbook, the documents, the privacy scan, publishing. Printed: wall time (measured
here) and the run's own timings by step (wall and CPU, from its manifest), how much of the wall
time the steps account for, and peak memory (the sum of the resident memory of the run's
processes, sampled every 0.2 s, and the largest single process). Goal (issue 16): <= 120 s on a
2-core machine.

Re-ingest: one university's graduates file rewritten (same rows, new bytes: a resubmission), then
`placement ingest --as-of D` timed. Goal: <= 5 s.

Naive: the university reports of a sample of universities run the naive way (papermill CLI +
jupyter nbconvert CLI per notebook, `benchmarks/fanout.py`'s `naive`), extrapolated to every
university, and each province report at the mean naive seconds per notebook; the naive period is
the measured period with its reports step replaced by that estimate.

Generates (`placement generate --size province`) and ingests the province data set when missing
(as `benchmarks/fanout.py` does); the data set itself is only read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import DEFAULT_DATA, ensure_data, naive

PERIOD_GOAL = 120.0
REINGEST_GOAL = 5.0


class TreeMemory:
    """Samples the resident memory of a process and all its descendants (Linux /proc)."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_mb = max(self.peak_mb, self.sample_mb())

    def sample_mb(self) -> float:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
                rss[int(entry.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
        tree, todo = set(), [self.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += [c for c, p in parents.items() if p == pid and c not in tree]
        return sum(rss.get(p, 0) for p in tree) / 1e6


def _placement() -> str:
    return str(Path(sys.executable).parent / "placement")


def _timed(cmd: list[str], log: Path) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak tree memory (MB) of a command, its output to ``log``."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid) as memory:
            code = proc.wait()
    return code, time.perf_counter() - started, memory.peak_mb


def scratch_copy(data: Path, work: Path) -> Path:
    """The data set's raw folders (and nothing processed) in a scratch data folder."""
    copy = work / "data"
    shutil.copytree(data / "raw", copy / "raw")
    return copy


def whole_period(data: Path, as_of: dt.date, workers: int, work: Path) -> dict:
    reports = work / "reports"
    cmd = [_placement(), "run", "--as-of", as_of.isoformat(), "--data-dir", str(data)]
    cmd += ["--reports-dir", str(reports), "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code, wall, peak = _timed(cmd, work / "run.log")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    manifest = json.loads((reports / as_of.isoformat() / "manifest.json").read_text("utf-8"))
    return {
        "code": code,
        "wall": wall,
        "cpu": cpu,
        "peak_mb": peak,
        "largest_mb": after.ru_maxrss / 1e3,  # KB on Linux
        "timings": manifest["timings"],
        "cpu_timings": manifest.get("cpu_timings", {}),
        "reports": len(manifest["reports"]),
        "universities": sum(r["scope"] == "university" for r in manifest["reports"]),
        "failed": [r["key"] for r in manifest["reports"] if r["status"] != "ok"],
    }


def reingest_one_file(data: Path, as_of: dt.date, work: Path) -> dict:
    """Rewrite one graduates file (same rows, new bytes) and time `placement ingest`."""
    import hashlib

    from openpyxl import load_workbook

    target = sorted((data / "raw" / as_of.isoformat()).glob("graduates_*.xlsx"))[0]
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    wb = load_workbook(target)
    wb.properties.modified = dt.datetime.now()
    wb.save(target)
    if hashlib.sha256(target.read_bytes()).hexdigest() == before:
        raise SystemExit(f"rewriting {target.name} did not change its bytes")
    cmd = [_placement(), "ingest", "--as-of", as_of.isoformat(), "--data-dir", str(data)]
    code, wall, peak = _timed(cmd, work / "ingest.log")
    return {"code": code, "wall": wall, "peak_mb": peak, "file": target.name}


def naive_reports(data: Path, as_of: dt.date, period: dict, sample_n: int, work: Path) -> dict:
    from helpers.runner.catalog import PROVINCE, UNIVERSITY, available
    from helpers.runner.period import list_universities

    specs = available()
    uni_specs = [s for s in specs if s.scope == UNIVERSITY]
    universities = list_universities(data, as_of)
    step = max(1, len(universities) // max(sample_n, 1))
    sample = universities[::step][:sample_n]
    out = work / "naive"
    out.mkdir()
    per_university = statistics.mean(naive(data, as_of, uni_specs, sample, out))
    per_notebook = per_university / len(uni_specs)
    n_province = sum(s.scope == PROVINCE for s in specs)
    reports = per_university * len(universities) + per_notebook * n_province
    return {
        "sample": len(sample),
        "per_university": per_university,
        "reports": reports,
        "period": period["wall"] - period["timings"].get("reports", 0.0) + reports,
    }


def _print_period(period: dict, as_of: dt.date, workers: int) -> None:
    t, c = period["timings"], period["cpu_timings"]
    print(
        f"period benchmark: `placement run` from raw, as of {as_of}, {period['reports']} reports "
        f"({period['universities']} universities), {os.cpu_count()} cores, {workers} workers"
    )
    steps_cpu = sum(v for k, v in c.items() if k != "total")
    cores = os.cpu_count() or 1
    print(f"  whole period wall time        {period['wall']:8.1f} s   (measured here)")
    print(
        f"  whole period CPU time         {steps_cpu:8.1f} s   (the run's steps, the ingest's "
        f"reader processes included; the run and its children as the OS counts them: "
        f"{period['cpu']:.1f} s, without those readers)"
    )
    print(
        f"  CPU floor on {cores} cores          {steps_cpu / cores:8.1f} s   (no schedule of this "
        f"much CPU finishes sooner)"
    )
    print("  by step (the run's manifest)     wall s     CPU s")
    steps = {k: v for k, v in t.items() if k != "total"}
    for name, seconds in steps.items():
        print(f"    {name:<26}{seconds:10.1f}{c.get(name, float('nan')):10.1f}")
    covered = sum(steps.values())
    print(
        f"    {'steps together':<26}{covered:10.1f}   = {covered / period['wall']:.1%} of the wall "
        f"time measured here (goal >= 95%)"
    )
    print(
        f"  peak memory                   {period['peak_mb'] / 1e3:8.2f} GB  (all processes of the "
        f"run together; largest single process {period['largest_mb'] / 1e3:.2f} GB)"
    )


def _print_rest(period: dict, reingest: dict, naive_r: dict | None) -> None:
    ok = period["wall"] <= PERIOD_GOAL
    print(
        f"  goal <= {PERIOD_GOAL:.0f} s: {'met' if ok else 'NOT met'}"
        + ("" if ok else f" (misses by {period['wall'] - PERIOD_GOAL:.1f} s)")
    )
    ok = reingest["wall"] <= REINGEST_GOAL
    print(
        f"  re-ingest after one changed file ({reingest['file']})  {reingest['wall']:.1f} s   "
        f"(goal <= {REINGEST_GOAL:.0f} s: {'met' if ok else 'NOT met'}; "
        f"peak {reingest['peak_mb'] / 1e3:.2f} GB)"
    )
    if naive_r:
        print(
            f"  naive reports (papermill + nbconvert CLI, {naive_r['sample']} universities sampled, "
            f"extrapolated)  {naive_r['reports']:.0f} s  ({naive_r['per_university']:.2f} s per "
            f"university report)"
        )
        print(
            f"  naive period (the run with its reports step done the naive way)  "
            f"{naive_r['period']:.0f} s = {naive_r['period'] / period['wall']:.1f}x the run"
        )
    if period["failed"]:
        print(f"  FAILED reports: {', '.join(period['failed'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--as-of", default="2023-08-31")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=3, help="universities run the naive way")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    source = args.data.resolve()
    ensure_data(source, as_of)
    work = Path(tempfile.mkdtemp(prefix="period-bench-"))
    try:
        data = scratch_copy(source, work)
        period = whole_period(data, as_of, args.workers, work)
        if period["code"] not in (0, 1):
            print((work / "run.log").read_text()[-3000:])
            raise SystemExit(f"placement run exited {period['code']}")
        naive_r = naive_reports(data, as_of, period, args.sample, work) if args.sample else None
        reingest = reingest_one_file(data, as_of, work)
        _print_period(period, as_of, args.workers)
        _print_rest(period, reingest, naive_r)
    finally:
        if args.keep:
            print(f"  scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if period["failed"] or reingest["code"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
