"""Guard for restructurings: does a change of code leave every table of a period run unchanged?

    .venv/bin/python benchmarks/same_tables.py --size demo --record benchmarks/out/tables-demo.json
    ... change the code ...
    .venv/bin/python benchmarks/same_tables.py --size demo --check benchmarks/out/tables-demo.json

Generates the seeded data set (`placement generate --size SIZE --seed 2023`) into a scratch folder,
runs `placement run --as-of AS_OF` from raw in a subprocess with the code as it is now, and takes
the digest of every table it wrote (`helpers.devtools.digest_tree`: the report CSVs, the workbooks,
and the ingested Parquet files, compared by content). `--record` saves the digests; `--check`
compares them with a saved record, names every table that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.devtools import compare_digests, digest_tree

ROOT = Path(__file__).resolve().parents[1]
PLACEMENT = Path(sys.executable).with_name("placement")


def run_and_digest(size: str, as_of: str, work: Path) -> dict[str, str]:
    data, reports = work / "data", work / "reports"
    t = time.perf_counter()
    subprocess.run(
        [PLACEMENT, "-q", "generate", "--size", size, "--out", data, "--seed", "2023"], check=True
    )
    print(f"generated {size} in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    run = subprocess.run(
        [PLACEMENT, "-q", "run", "--as-of", as_of, "--data-dir", data, "--reports-dir", reports]
    )
    print(f"period run exit {run.returncode} in {time.perf_counter() - t:.0f} s", flush=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"placement run failed with exit {run.returncode}")
    return digest_tree([reports / as_of, data / "processed" / as_of])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="demo", choices=["demo", "province"])
    parser.add_argument("--as-of", default="2023-08-31")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, help="save the digests to this JSON file")
    mode.add_argument("--check", type=Path, help="compare with the digests saved in this file")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="same-tables-") as tmp:
        work = args.keep or Path(tmp)
        digests = run_and_digest(args.size, args.as_of, work)
    print(f"{len(digests)} tables digested")
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(digests, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"recorded in {args.record}")
        return 0
    before = json.loads(args.check.read_text(encoding="utf-8"))
    lines = compare_digests(before, digests)
    for line in lines:
        print(line)
    print(f"{len(before)} tables before, {len(digests)} now: {len(lines)} differences")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
