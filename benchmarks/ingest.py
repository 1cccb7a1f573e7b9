"""Benchmark: `placement ingest` on the province data set against the time to merely read the same
files with python-calamine in one process (the floor), measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--data benchmarks/out/province] [--as-of 2023-08-31]
                                          [--workers N]

Generates the province data set first when it is missing (`placement generate --size province`).
Each measurement runs in a fresh subprocess, so its peak memory is its own: max RSS of the process
itself and of its largest child (the ingest worker processes), from resource.getrusage. The floor
reads every sheet of every Excel file with python-calamine (``CalamineWorkbook.to_python``) and every
CSV with a strict decode plus the csv module; it converts nothing. CPU time: the floor's process;
for the ingest its parent process (writer threads included) plus the pool's workers
(``IngestResult.worker_cpu_seconds``). Goal: ingest <= 1.3x the floor.

Then a resubmitted file (``--reingest``, on by default): the raw folders are copied to a scratch
data dir and ingested, one CSV of the as-of folder gets one more row, and ``placement ingest``
runs again (only that file is read; the others come from the per-file cache in processed/.cache).
Goal: <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "benchmarks" / "out" / "province"
GOAL = 1.3


def _rss_mb() -> dict[str, float]:
    # ru_maxrss is in KiB on Linux
    return {
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _input_files(data: Path, as_of: str) -> list[Path]:
    """The files ingest(as_of) reads: every input file of every raw folder <= as_of + references."""
    import datetime as dt

    from helpers.ingest.sources import discover

    inputs = discover(data / "raw", dt.date.fromisoformat(as_of))
    return [Path(t.path) for ts in inputs.tasks.values() for t in ts]


def phase_floor(data: Path, as_of: str) -> dict:
    import csv
    import io

    import python_calamine as pc

    files = _input_files(data, as_of)
    started = time.perf_counter()
    cells = 0
    for p in files:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"):
            try:
                wb = pc.CalamineWorkbook.from_path(str(p))
            except Exception:
                continue  # the deliberately unreadable file
            for name in wb.sheet_names:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
                cells += sum(len(r) for r in rows)
        elif p.suffix.lower() == ".csv":
            raw = p.read_bytes()
            for enc in ("utf-8-sig", "gb18030"):
                try:
                    text = raw.decode(enc)
                    break
                except UnicodeDecodeError:
                    text = ""
            cells += sum(len(r) for r in csv.reader(io.StringIO(text, newline="")))
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time(),
        "files": len(files),
        "cells": cells,
        **_rss_mb(),
    }


def phase_ingest(data: Path, as_of: str, workers: int | None) -> dict:
    from helpers.ingest import ingest

    started = time.perf_counter()
    result = ingest(as_of, data, workers=workers)
    seconds = time.perf_counter() - started
    m = result.manifest()
    rows = {k: v["counts"] for k, v in m["datasets"].items()}
    parent_cpu = time.process_time()
    cpu = parent_cpu + result.worker_cpu_seconds
    rerun_started = time.perf_counter()
    again = ingest(as_of, data, workers=workers)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "parent_cpu": parent_cpu,
        "worker_cpu": result.worker_cpu_seconds,
        "built": [d.isoformat() for d in result.built],
        "counts": rows,
        "rerun_seconds": time.perf_counter() - rerun_started,
        "rerun_built": len(again.built),
        "balanced": bool(result.files()["balanced"].all()),
        "worker_mb": result.worker_peak_rss_mb,
        **_rss_mb(),
    }


REINGEST_GOAL = 5.0


def phase_reingest(data: Path, as_of: str, workers: int | None) -> dict:
    """Ingest a copy of the raw folders, change one file of the as-of folder, ingest again."""
    from helpers.ingest import ingest

    work = Path(tempfile.mkdtemp(prefix="reingest-bench-"))
    try:
        for p in sorted((data / "raw").iterdir()):
            if p.name == "reference" or p.name <= as_of:
                shutil.copytree(p, work / "raw" / p.name)
        first = ingest(as_of, work, workers=workers)
        changed = sorted((work / "raw" / as_of).glob("*.csv"))[0]
        text = changed.read_bytes()
        last = text.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
        changed.write_bytes(text.rstrip(b"\r\n") + b"\r\n" + last + b"\r\n")  # one more row
        started = time.perf_counter()
        cpu = time.process_time()
        again = ingest(as_of, work, workers=workers)
        return {
            "first_seconds": first.seconds,
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu + again.worker_cpu_seconds,
            "changed": changed.name,
            "read": again.files_read,
            "cached": again.files_cached,
            "built": [d.isoformat() for d in again.built],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_phase(phase: str, data: Path, as_of: str, workers: int | None) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--data", str(data), "--as-of", as_of]
    if workers:
        cmd += ["--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--as-of", default="2023-08-31")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--no-reingest", action="store_true", help="skip the one-changed-file run")
    ap.add_argument("--phase", choices=["floor", "ingest", "reingest"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.phase == "floor":
        print(json.dumps(phase_floor(args.data, args.as_of)))
        return 0
    if args.phase == "ingest":
        print(json.dumps(phase_ingest(args.data, args.as_of, args.workers)))
        return 0
    if args.phase == "reingest":
        print(json.dumps(phase_reingest(args.data, args.as_of, args.workers)))
        return 0

    data = args.data.resolve()
    if not (data / "raw").is_dir():
        print(f"generating the province data set into {data} ...", flush=True)
        from helpers.generate import generate

        print(generate(size="province", out=data, seed=2023), flush=True)
    # a private data dir: the raw folder linked, processed/ fresh, so ingest starts from scratch
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        (work / "raw").symlink_to(data / "raw", target_is_directory=True)
        for p in _input_files(work, args.as_of):  # warm the page cache for both measurements
            p.read_bytes()
        # floor, ingest, floor again: the machine's load drifts; compare with the mean floor
        floor = _run_phase("floor", work, args.as_of, None)
        ing = _run_phase("ingest", work, args.as_of, args.workers)
        floor2 = _run_phase("floor", work, args.as_of, None)
        again = None if args.no_reingest else _run_phase("reingest", data, args.as_of, args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    floor_s = (floor["seconds"] + floor2["seconds"]) / 2
    floor_cpu = (floor["cpu"] + floor2["cpu"]) / 2
    ratio = ing["seconds"] / floor_s
    workers = args.workers or os.cpu_count()
    grads = ing["counts"]["graduates"]
    print(
        f"province ingest benchmark (as of {args.as_of}, {floor['files']} files, "
        f"{floor['cells']:,} cells, {os.cpu_count()} cores, workers={workers})"
    )
    print(
        f"  floor: python-calamine read, 1 process  {floor_s:8.1f} s   "
        f"(mean of {floor['seconds']:.1f} s before and {floor2['seconds']:.1f} s after; "
        f"CPU {floor_cpu:.1f} s; peak RSS {floor['self_mb']:,.0f} MB)"
    )
    print(
        f"  placement ingest (from scratch)        {ing['seconds']:8.1f} s   "
        f"(CPU parent {ing['parent_cpu']:.1f} s + workers {ing['worker_cpu']:.1f} s = "
        f"{ing['cpu']:.1f} s = {ing['cpu'] / floor_cpu:.2f}x the floor's; "
        f"peak RSS parent {ing['self_mb']:,.0f} MB, largest worker {ing['worker_mb']:,.0f} MB)"
    )
    print(
        f"  ratio ingest / floor                   {ratio:8.2f}x  (goal <= {GOAL}x: "
        f"{'met' if ratio <= GOAL else 'NOT met'})"
    )
    print(
        f"  re-run with unchanged inputs (no-op)   {ing['rerun_seconds']:8.1f} s   "
        f"(folders rebuilt: {ing['rerun_built']})"
    )
    print(f"  processed folders: {', '.join(ing['built'])}")
    print(
        f"  graduates (as of): read {grads['rows_read']:,}, accepted {grads['accepted']:,}, "
        f"merged {grads['merged']:,}, quarantined {grads['quarantined']:,}; every file balanced: "
        f"{ing['balanced']}"
    )
    if again is not None:
        print(
            f"  re-ingest after one changed file       {again['seconds']:8.1f} s   "
            f"(CPU {again['cpu']:.1f} s; {again['changed']} changed: {again['read']} file read, "
            f"{again['cached']:,} from the cache; rebuilt {', '.join(again['built'])}; "
            f"from scratch it took {again['first_seconds']:.1f} s; goal <= {REINGEST_GOAL:.0f} s: "
            f"{'met' if again['seconds'] <= REINGEST_GOAL else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
