"""Benchmark: the national export (about 11.6 million graduates, 2,800 institutions) on one machine.

    .venv/bin/python benchmarks/national.py [--data benchmarks/out/national] [--as-of 2023-08-31]
                                            [--workers N] [--repeat 3] [--rounds 2] [--no-csv]
                                            [--regular] [--aggregations-only DATA_DIR]

Generates the data set first when it is missing (`placement generate --size national`, about a
minute) and, unless --no-csv, a single-CSV copy of it (about 1.6 GB, next to the data set). Then,
each in a fresh subprocess (so that its memory is its own), measures:

- ingest, raw -> processed, from scratch: `helpers.ingest.ingest` on the Parquet parts and on the
  CSV (both take the bulk path, helpers/ingest/bulk.py); --regular adds the regular path on the
  Parquet parts (slow, for comparison). Reference: DuckDB SQL that reads the same raw export and
  writes a processed-like Parquet (trim, university check, level, destination classes, group
  flags, SHA-256 pseudonyms; no repairs log, no raw rows of quarantined records): a floor, not the
  same work.
- aggregations for the whole country: `placement.by_university`, `placement.by_major`,
  `placement.by_group` (counts; and with disclosure control) on the processed graduates loaded
  once through `helpers.load.load_dataset` as notebooks do: the default (low-cardinality text
  columns as categoricals) and, for comparison, `categories=False` (Arrow strings), next to the
  same aggregations written as DuckDB SQL over the same processed Parquet (each query scans the
  file) and over a DuckDB in-memory table (compute only). Every table of both pandas runs is
  checked against its DuckDB twin (keys, graduates, placed, rates).

--aggregations-only DATA_DIR skips the ingests and measures the aggregations on
DATA_DIR/processed/<as-of> (written by an earlier `placement ingest`).

Times are wall-clock: for the aggregations the best of --repeat runs in each of --rounds rounds,
where the DuckDB and the two pandas phases take turns (on a shared machine a busy moment then
hits both sides, not just the one that happened to run then). Memory: resource.getrusage max RSS
of the phase process and of its children, and the peak of the summed RSS of the whole process
tree sampled every 0.1 s (ingest workers are grandchildren, which getrusage does not see).
Goals: aggregations within 1.5x of DuckDB, peak memory <= 6 GB. Results also go to
<data>/../national-results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "benchmarks" / "out" / "national"
GOAL_RATIO = 1.5
GOAL_MB = 6 * 1024
TABLES = ("placement_by_university", "placement_by_major", "placement_by_group")


# --- measuring ---------------------------------------------------------------------------------
def _rss_mb() -> dict[str, float]:
    return {
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack += children.get(p, [])
    return out


def _sample(pid: int) -> tuple[int, dict[int, float]]:
    """Summed RSS (bytes) of the process tree and CPU seconds per process."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    rss, cpu = 0, {}
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as fh:
                rss += int(fh.read().split()[1]) * page
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu[p] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def _run_phase(args: list[str]) -> dict:
    """Run one phase in a subprocess; its JSON result plus the process tree's peak RSS / CPU."""
    cmd = [sys.executable, __file__, *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak, cpu, done = [0], {}, threading.Event()

    def watch():
        while not done.is_set():
            rss, c = _sample(proc.pid)
            peak[0] = max(peak[0], rss)
            cpu.update(c)
            done.wait(0.1)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    started = time.perf_counter()
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"phase {args[:2]} failed (exit {proc.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    res["process_wall"] = wall
    res["tree_peak_mb"] = peak[0] / 2**20
    res["tree_cpu"] = sum(cpu.values())
    return res


# --- data --------------------------------------------------------------------------------------
def _ensure_data(data: Path) -> None:
    if (data / "raw").is_dir() and any((data / "raw").glob("*/graduates_national_part*.parquet")):
        return
    print(f"generating the national data set into {data} (about a minute) ...", flush=True)
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "placement"),
            "generate",
            "--size",
            "national",
            "--out",
            str(data),
            "--seed",
            "2023",
        ],
        check=True,
        cwd=ROOT,
    )


def _ensure_csv(data: Path, csv_dir: Path, as_of: str) -> Path:
    """One UTF-8 CSV (BOM, every value quoted) with the rows of all Parquet parts."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    target = csv_dir / "raw" / as_of / "graduates_national.csv"
    parts = sorted((data / "raw" / as_of).glob("graduates_national_part*.parquet"))
    stamp = csv_dir / "source.json"
    source = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in parts]
    if target.exists() and stamp.exists() and json.loads(stamp.read_text()) == source:
        return csv_dir
    print(f"writing the CSV copy {target} ...", flush=True)
    shutil.rmtree(csv_dir, ignore_errors=True)
    target.parent.mkdir(parents=True)
    shutil.copytree(data / "raw" / "reference", csv_dir / "raw" / "reference")
    with open(target, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        writer = None
        for p in parts:
            table = pq.read_table(p)
            if writer is None:
                writer = pacsv.CSVWriter(fh, table.schema)
            writer.write_table(table)
        writer.close()
    stamp.write_text(json.dumps(source))
    return csv_dir


def _fresh_work(raw: Path, work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "raw").symlink_to(raw.resolve(), target_is_directory=True)
    return work


# --- phases (each in its own process) ----------------------------------------------------------
def phase_ingest(work: Path, as_of: str, workers: int | None, mode: str) -> dict:
    os.environ["PLACEMENT_INGEST_BULK"] = mode
    from helpers.ingest import ingest

    started = time.perf_counter()
    result = ingest(as_of, work, workers=workers)
    seconds = time.perf_counter() - started
    m = result.manifest()
    return {
        "seconds": seconds,
        "counts": m["datasets"]["graduates"]["counts"],
        "engines": sorted({f["engine"] for f in m["files"] if f["dataset"] == "graduates"}),
        "balanced": bool(result.files()["balanced"].all()),
        "cpu_parent": time.process_time(),
        "cpu_workers": getattr(result, "worker_cpu_seconds", 0.0),
        **_rss_mb(),
    }


def _duckdb_connect(threads: int):
    try:
        import duckdb
    except ImportError as exc:  # only this benchmark needs it: pyproject's extra "bench"
        raise SystemExit("benchmarks/national.py needs DuckDB: run `make setup-bench`") from exc

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    return con


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def phase_duckdb_ingest(raw: Path, out: Path, as_of: str, kind: str, threads: int) -> dict:
    """The floor: DuckDB SQL doing the per-row core of ingest and writing Parquet."""
    from helpers.codes import DESTINATIONS, GROUP_COLUMNS
    from helpers.config import policy_for_date

    policy = policy_for_date(dt.date.fromisoformat(as_of)).placement
    con = _duckdb_connect(threads)
    folder = raw / as_of
    source = (
        f"read_parquet('{folder}/graduates*.parquet')"
        if kind == "parquet"
        else f"read_csv('{folder}/graduates*.csv', all_varchar = true, header = true)"
    )
    uni = f"read_csv('{raw}/reference/universities.csv', all_varchar = true, header = true)"
    b24 = " ".join(f"WHEN '{c}' THEN '{v[1]}'" for c, v in DESTINATIONS.items())
    b21 = " ".join(f"WHEN '{c}' THEN '{v[2]}'" for c, v in DESTINATIONS.items())
    not_placed = _sql_list(policy.not_placed_codes)
    prefixes = (
        " OR ".join(f"starts_with(dest, '{p}')" for p in policy.not_placed_prefixes) or "false"
    )
    groups = ", ".join(
        f"coalesce(contains(grp, '{g}'), false) AS {col}" for g, col in GROUP_COLUMNS.items()
    )
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    con.execute(
        f"""
        CREATE TEMP TABLE t AS
        WITH r AS (
            SELECT trim("学号") AS sid, trim("院校代码") AS uc, trim("学历层次") AS lvl,
                   trim("专业代码") AS mc, trim("专业名称") AS mn, trim("所在院系") AS dept,
                   trim("毕业年份") AS cohort, trim("性别") AS gender, trim("城乡生源") AS ur,
                   trim("帮扶群体") AS grp, trim("就业意愿") AS willing,
                   trim("毕业去向类别代码") AS dest, trim("签约日期") AS pdate,
                   trim("生源地代码") AS origin
            FROM {source}
        )
        SELECT r.*, u."院校代码" IS NOT NULL AS known_uni,
               CASE WHEN contains(lvl, '博士') THEN '博士' WHEN contains(lvl, '硕士') THEN '硕士'
                    WHEN contains(lvl, '本科') THEN '本科' WHEN contains(lvl, '专科') THEN '专科'
               END AS education_level,
               CASE WHEN contains(lvl, '结业') THEN '结业' WHEN contains(lvl, '肄业') THEN '肄业'
                    ELSE '毕业' END AS graduation_status,
               regexp_full_match(lpad(mc, 6, '0'), '[0-9]{{6}}(T|K|TK)?') AS major_ok
        FROM r LEFT JOIN {uni} u ON r.uc = u."院校代码"
        """
    )
    con.execute(
        f"""
        COPY (
            SELECT sha256('bench-key' || upper(sid)) AS student_key, uc AS university_code,
                   CAST(cohort AS SMALLINT) AS cohort, education_level, graduation_status,
                   graduation_status = '毕业' AS in_denominator, lpad(mc, 6, '0') AS major_code,
                   mn AS major_name, left(lpad(mc, 6, '0'), 2) AS discipline_code,
                   dept AS department, gender, ur AS urban_rural, {groups},
                   CASE willing WHEN '是' THEN true WHEN '否' THEN false END AS willing_to_work,
                   dest AS destination_code, dest IS NOT NULL AS destination_known,
                   dest IS NOT NULL AND dest NOT IN ({not_placed}) AND NOT ({prefixes}) AS placed,
                   CASE left(dest, 2) {b24} ELSE '未登记' END AS bucket_2024,
                   CASE left(dest, 2) {b21} ELSE '未登记' END AS bucket_2021,
                   try_strptime(pdate, '%Y-%m-%d') AS placement_date, origin AS origin_region_code
            FROM t WHERE known_uni AND education_level IS NOT NULL AND major_ok AND sid IS NOT NULL
        ) TO '{out}/graduates.parquet' (FORMAT parquet)
        """
    )
    con.execute(
        f"""
        COPY (SELECT * FROM t WHERE NOT (known_uni AND education_level IS NOT NULL AND major_ok
                                         AND sid IS NOT NULL))
        TO '{out}/quarantine.parquet' (FORMAT parquet)
        """
    )
    seconds = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    accepted = con.execute(f"SELECT count(*) FROM '{out}/graduates.parquet'").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "accepted": accepted, **_rss_mb()}


def _best(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), sorted(times)[len(times) // 2], result


def phase_pandas(
    processed: Path, as_of: str, repeat: int, categories: bool, save: Path, mode: str
) -> dict:
    """The three tables as a notebook computes them: graduates and universities loaded through
    `helpers.load.load_dataset` (``categories``: its default, or False for plain Arrow strings)."""
    from helpers import load, placement
    from helpers.config import policy_for_date

    day = dt.date.fromisoformat(as_of)
    policy = policy_for_date(day)
    columns = list(placement.CURRENT_COLUMNS)
    data_dir = processed.parent.parent  # <data_dir>/processed/<as_of>
    started = time.perf_counter()
    g = load.load_dataset(data_dir, day, "graduates", columns=columns, categories=categories)
    u = load.load_dataset(data_dir, day, "universities", categories=categories)
    load_s = time.perf_counter() - started
    load_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def fresh(fn):
        def run():
            placement.clear_memo()
            return fn()

        return run

    jobs = {
        "placement_by_university": lambda: placement.by_university(g, u, policy)[0],
        "placement_by_major": lambda: placement.by_major(g, policy),
        "placement_by_group": lambda: placement.by_group(g, policy, u, protect=False),
        "placement_by_group (with disclosure control)": lambda: placement.by_group(g, policy, u),
    }
    out = {
        "load_seconds": load_s,
        "load_mb": load_mb,
        "rows": len(g),
        "columns": len(columns),
        "categorical_columns": [c for c in g.columns if g[c].dtype == "category"],
        "tables": {},
    }
    save.mkdir(parents=True, exist_ok=True)
    for name, fn in jobs.items():
        best, median, table = _best(fresh(fn), repeat)
        out["tables"][name] = {"seconds": best, "median": median, "rows": len(table)}
        if name in TABLES:
            table.to_parquet(save / f"pandas-{mode}-{name}.parquet", index=False)
    out.update(_rss_mb())
    return out


def _duckdb_sql(src: str, uni: str, policy) -> dict[str, str]:
    """The three aggregations in SQL (rates with the same Wilson interval as helpers.rates)."""
    from scipy import stats

    from helpers.codes import GROUP_COLUMNS
    from helpers.placement import group_order

    z = float(stats.norm.ppf(0.5 + policy.statistics.confidence / 2))
    m = policy.majors

    def wilson(x: str, n: str) -> str:
        p = f"({x}::DOUBLE / {n})"
        d = f"(1 + {z * z} / {n})"
        c = f"(({p} + {z * z} / (2.0 * {n})) / {d})"
        h = f"({z} * sqrt({p} * (1 - {p}) / {n} + {z * z} / (4.0 * {n} * {n})) / {d})"
        return (
            f"CASE WHEN {x} = 0 THEN 0.0 ELSE greatest({c} - {h}, 0.0) END AS ci_low, "
            f"CASE WHEN {x} = {n} THEN 1.0 ELSE least({c} + {h}, 1.0) END AS ci_high"
        )

    by_university = f"""
        WITH c AS (
            SELECT university_code, count(*) AS graduates,
                   count(*) FILTER (WHERE placed) AS placed,
                   count(*) FILTER (WHERE destination_known) AS known
            FROM {src} WHERE in_denominator GROUP BY university_code
        )
        SELECT c.university_code, u.university_name, c.graduates, c.placed,
               c.placed::DOUBLE / c.graduates AS placement_rate, {wilson("c.placed", "c.graduates")},
               u.baseline_rate, c.placed::DOUBLE / c.graduates < u.baseline_rate AS below_baseline
        FROM c LEFT JOIN {uni} u USING (university_code)
        ORDER BY placement_rate DESC, university_code
    """
    by_major = f"""
        WITH c AS (
            SELECT university_code, education_level, major_code,
                   mode(major_name) AS major_name, first(discipline_code) AS discipline_code,
                   first(discipline_name) AS discipline_name,
                   count(*) FILTER (WHERE in_denominator) AS graduates,
                   count(*) FILTER (WHERE in_denominator AND placed) AS placed
            FROM {src} GROUP BY ALL
        ), r AS (  -- a point without counted graduates keeps its row (no rate), as helpers.majors
            SELECT *, placed::DOUBLE / NULLIF(graduates, 0) AS placement_rate,
                   {wilson("placed", "NULLIF(graduates, 0)")}
            FROM c
        )
        SELECT *, CASE WHEN graduates < {m.min_graduates} THEN 'insufficient'
                       WHEN ci_high < {m.threshold} THEN 'below_confident'
                       WHEN placement_rate < {m.threshold} THEN 'below_point'
                       ELSE 'not_below' END AS evidence_level
        FROM r ORDER BY university_code, education_level, major_code
    """
    groups = [g for g in group_order(policy)]
    sums = ", ".join(
        f"count(*) FILTER (WHERE {GROUP_COLUMNS[g]}) AS n_{i}, "
        f"count(*) FILTER (WHERE {GROUP_COLUMNS[g]} AND placed) AS x_{i}"
        for i, g in enumerate(groups)
    )
    parts = " UNION ALL ".join(
        f"SELECT university_code, '{g}' AS \"group\", {i} AS o, n_{i} AS graduates, "
        f"x_{i} AS placed, x_all::DOUBLE / n_all AS university_rate FROM per "
        f"WHERE n_{i} > 0 OR university_code = 'ALL'"
        for i, g in enumerate(groups)
    )
    by_group = f"""
        WITH per AS (
            SELECT CASE WHEN grouping(university_code) = 1 THEN 'ALL' ELSE university_code END
                       AS university_code,
                   count(*) AS n_all, count(*) FILTER (WHERE placed) AS x_all, {sums}
            FROM {src} WHERE in_denominator
            GROUP BY GROUPING SETS ((university_code), ())
        ), long AS ({parts})
        SELECT university_code, "group", graduates, placed,
               CASE WHEN graduates > 0 THEN placed::DOUBLE / graduates END AS placement_rate,
               CASE WHEN graduates > 0 THEN {wilson("placed", "graduates").split(" AS ci_low")[0]}
               END AS ci_low,
               university_rate,
               CASE WHEN graduates > 0 THEN placed::DOUBLE / graduates END - university_rate AS gap
        FROM long ORDER BY university_code = 'ALL', o, university_code
    """
    return {
        "placement_by_university": by_university,
        "placement_by_major": by_major,
        "placement_by_group": by_group,
    }


def phase_duckdb(processed: Path, as_of: str, repeat: int, threads: int, save: Path) -> dict:
    from helpers import placement
    from helpers.config import policy_for_date

    policy = policy_for_date(dt.date.fromisoformat(as_of))
    con = _duckdb_connect(threads)
    grads = processed / "graduates.parquet"
    uni = f"read_parquet('{processed / 'universities.parquet'}')"
    out: dict = {"parquet": {}, "table": {}}
    save.mkdir(parents=True, exist_ok=True)
    for name, sql in _duckdb_sql(f"read_parquet('{grads}')", uni, policy).items():
        best, median, df = _best(lambda sql=sql: con.execute(sql).df(), repeat)
        out["parquet"][name] = {"seconds": best, "median": median, "rows": len(df)}
        df.to_parquet(save / f"duckdb-{name}.parquet", index=False)
    cols = ", ".join(placement.CURRENT_COLUMNS)
    started = time.perf_counter()
    con.execute(f"CREATE TABLE g AS SELECT {cols} FROM read_parquet('{grads}')")
    out["load_seconds"] = time.perf_counter() - started
    for name, sql in _duckdb_sql("g", uni, policy).items():
        best, median, df = _best(lambda sql=sql: con.execute(sql).df(), repeat)
        out["table"][name] = {"seconds": best, "median": median, "rows": len(df)}
    out.update(_rss_mb())
    return out


# --- checks ------------------------------------------------------------------------------------
def _compare(save: Path, mode: str) -> dict[str, str]:
    """Each pandas table (of the run ``mode``) against its DuckDB twin: same keys, counts and
    rates."""
    import numpy as np
    import pandas as pd

    keys = {
        "placement_by_university": ["university_code"],
        "placement_by_major": ["university_code", "education_level", "major_code"],
        "placement_by_group": ["university_code", "group"],
    }
    out = {}
    for name, k in keys.items():
        a = pd.read_parquet(save / f"pandas-{mode}-{name}.parquet")
        b = pd.read_parquet(save / f"duckdb-{name}.parquet")
        cols = [c for c in ("graduates", "placed", "placement_rate", "ci_low", "ci_high") if c in b]
        if name == "placement_by_major":
            cols.append("evidence_level")
        a = a[k + cols].astype({c: str for c in k}).sort_values(k).reset_index(drop=True)
        b = b[k + cols].astype({c: str for c in k}).sort_values(k).reset_index(drop=True)
        ok = len(a) == len(b) and (a[k].to_numpy() == b[k].to_numpy()).all()
        for c in cols:
            if not ok:
                break
            x, y = a[c].to_numpy(), b[c].to_numpy()
            if c in ("graduates", "placed", "evidence_level"):
                ok = bool((x.astype(str) == y.astype(str)).all())
            else:
                ok = bool(np.allclose(x.astype(float), y.astype(float), equal_nan=True))
        out[name] = "same" if ok else "DIFFERENT"
    return out


# --- report ------------------------------------------------------------------------------------
def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu or platform.machine()}), {mem:.1f} GiB RAM, {platform.system()}"


def _mb(x: float) -> str:
    return f"{x:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--as-of", default="2023-08-31")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each table per round (best)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds of the aggregation phases, DuckDB and pandas in turn (best of all)",
    )
    ap.add_argument("--no-csv", action="store_true", help="skip the CSV ingest")
    ap.add_argument("--regular", action="store_true", help="also time the regular ingest path")
    ap.add_argument(
        "--aggregations-only",
        type=Path,
        metavar="DATA_DIR",
        help="skip the ingests: aggregations on DATA_DIR/processed/<as-of> (ingested before)",
    )
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="auto", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = os.cpu_count() or 1

    if args.phase:
        if args.phase == "ingest":
            res = phase_ingest(args.work, args.as_of, args.workers, args.mode)
        elif args.phase.startswith("duckdb-ingest-"):
            kind = args.phase.rsplit("-", 1)[1]
            res = phase_duckdb_ingest(args.data, args.work, args.as_of, kind, threads)
        elif args.phase in ("pandas-default", "pandas-strings"):
            mode = args.phase.split("-", 1)[1]
            res = phase_pandas(
                args.data, args.as_of, args.repeat, mode == "default", args.work, mode
            )
        elif args.phase == "duckdb":
            res = phase_duckdb(args.data, args.as_of, args.repeat, threads, args.work)
        else:
            raise SystemExit(f"unknown phase {args.phase}")
        print(json.dumps(res))
        return 0

    data = args.data.resolve()
    only = args.aggregations_only.resolve() if args.aggregations_only else None
    out_dir = data.parent
    work = out_dir / "national-work"
    if only is None:
        _ensure_data(data)
        csv_dir = None if args.no_csv else _ensure_csv(data, out_dir / "national-csv", args.as_of)
    load_before = os.getloadavg()
    started = dt.datetime.now().astimezone()
    common = ["--as-of", args.as_of] + (["--workers", str(args.workers)] if args.workers else [])
    results: dict = {"machine": _machine(), "started": started.isoformat(timespec="seconds")}
    results["ingest"], results["duckdb_ingest"] = {}, {}
    if only is not None:
        processed = only / "processed" / args.as_of
        if not (processed / "graduates.parquet").exists():
            raise SystemExit(f"{processed / 'graduates.parquet'} is missing: run placement ingest")
    else:
        processed = _ingests(args, data, csv_dir, work, common, results)
    save = work / "tables"
    agg = [
        "--data",
        str(processed),
        "--as-of",
        args.as_of,
        "--repeat",
        str(args.repeat),
        "--work",
        str(save),
    ]
    rounds: dict[str, list[dict]] = {}
    for r in range(args.rounds):  # DuckDB and pandas take turns: a busy moment hits both sides
        print(f"aggregations, round {r + 1} of {args.rounds}: DuckDB ...", flush=True)
        rounds.setdefault("duckdb", []).append(_run_phase(["--phase", "duckdb", *agg]))
        for mode in MODES:
            print(f"aggregations, round {r + 1}: pandas ({MODES[mode]}) ...", flush=True)
            phase = ["--phase", f"pandas-{mode}", *agg]
            rounds.setdefault(f"pandas-{mode}", []).append(_run_phase(phase))
    for name, runs in rounds.items():
        results[name] = _best_of_rounds(runs)
    results["rounds"] = args.rounds
    results["same_as_duckdb"] = {mode: _compare(save, mode) for mode in MODES}
    results["load_average"] = [load_before, os.getloadavg()]
    name = "national-aggregations-results.json" if only else "national-results.json"
    (out_dir / name).write_text(json.dumps(results, indent=2, default=str))
    _print(results)
    return 0


def _best_of_rounds(runs: list[dict]) -> dict:
    """One phase's results over rounds: the fastest time, the largest memory, the rest as in
    the first round."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        values = [r[key] for r in runs]
        if isinstance(value, dict):
            out[key] = _best_of_rounds(values)
        elif key in ("seconds", "median", "load_seconds"):
            out[key] = min(values)
        elif key.endswith("_mb"):
            out[key] = max(values)
    return out


MODES = {
    "default": "helpers.load default: text codes as categoricals",
    "strings": "helpers.load categories=False: Arrow strings",
}


def _ingests(args, data: Path, csv_dir: Path | None, work: Path, common: list, results: dict):
    """The ingest phases and the DuckDB ingest floors; the processed folder of the first."""
    ingests = [("Parquet parts", data / "raw", "auto")]
    if csv_dir is not None:
        size = sum(p.stat().st_size for p in (csv_dir / "raw").rglob("graduates*.csv")) / 2**30
        ingests.append((f"one CSV of {size:.1f} GB", csv_dir / "raw", "auto"))
    if args.regular:
        ingests.append(("Parquet parts (regular path)", data / "raw", "never"))
    processed = None
    for i, (label, raw, mode) in enumerate(ingests):
        w = _fresh_work(raw, work / f"ingest-{i}")
        print(f"ingest: {label} ...", flush=True)
        results["ingest"][label] = _run_phase(
            ["--phase", "ingest", "--work", str(w), "--mode", mode, *common]
        )
        if processed is None:  # the aggregations read what the first (bulk Parquet) run wrote
            processed = w / "processed" / args.as_of
        else:
            shutil.rmtree(w, ignore_errors=True)
    for kind, raw in (("parquet", data / "raw"), ("csv", csv_dir / "raw" if csv_dir else None)):
        if raw is None:
            continue
        print(f"DuckDB ingest reference ({kind}) ...", flush=True)
        results["duckdb_ingest"][kind] = _run_phase(
            [
                "--phase",
                f"duckdb-ingest-{kind}",
                "--data",
                str(raw),
                "--work",
                str(work / f"duckdb-{kind}"),
                "--as-of",
                args.as_of,
            ]
        )
    return processed


def _print(r: dict) -> None:
    pd_, ps, dk = r["pandas-default"], r["pandas-strings"], r["duckdb"]
    print()
    print(f"national benchmark: {pd_['rows']:,} graduates; machine: {r['machine']}")
    la = r["load_average"]
    print(
        f"  (load average before {la[0][0]:.1f}, after {la[1][0]:.1f}: other processes share the "
        "machine; compare figures of the same run)"
    )
    peak_all = 0.0
    if r["ingest"] or r["duckdb_ingest"]:
        print(
            "\ningest, raw -> processed, from scratch      wall      CPU (tree)  peak RSS (tree)  "
            "getrusage self / children"
        )
    for label, x in r["ingest"].items():
        if "regular" not in label:  # the regular path is shown for comparison only
            peak_all = max(peak_all, x["tree_peak_mb"])
        print(
            f"  placement ingest, {label:<29}{x['seconds']:7.1f} s {x['tree_cpu']:8.1f} s  "
            f"{_mb(x['tree_peak_mb']):>12}     {_mb(x['self_mb'])} / {_mb(x['children_mb'])}"
            f"   [{', '.join(x['engines'])}; balanced {x['balanced']}]"
        )
    for kind, x in r["duckdb_ingest"].items():
        print(
            f"  DuckDB SQL floor, {kind:<29}{x['seconds']:7.1f} s {x['tree_cpu']:8.1f} s  "
            f"{_mb(x['tree_peak_mb']):>12}     {_mb(x['self_mb'])} / {_mb(x['children_mb'])}"
        )
    if r["ingest"]:
        print(f"  graduates: {next(iter(r['ingest'].values()))['counts']}")
    print(f"\naggregations, whole country (best of {r.get('rounds', 1)} rounds of repeats)")
    print(
        f"  load processed graduates ({pd_['columns']} columns, helpers.load): "
        f"default {pd_['load_seconds']:.2f} s ({_mb(pd_['load_mb'])}; "
        f"{len(pd_['categorical_columns'])} text columns as categoricals), "
        f"categories=False {ps['load_seconds']:.2f} s ({_mb(ps['load_mb'])}), "
        f"DuckDB table {dk['load_seconds']:.2f} s"
    )
    print(
        f"  {'table':<46}{'default':>10}{'strings':>10}{'DuckDB parquet':>16}"
        f"{'DuckDB table':>14}{'default/parquet':>17}{'default/table':>15}{'strings/parquet':>17}"
    )
    total_p, total_d = pd_["load_seconds"], 0.0
    for name in (*TABLES, "placement_by_group (with disclosure control)"):
        a = pd_["tables"][name]["seconds"]
        b = ps["tables"][name]["seconds"]
        key = name.split(" ")[0]
        c = dk["parquet"][key]["seconds"]
        d = dk["table"][key]["seconds"]
        if name in TABLES:
            total_p += a
            total_d += c
        print(
            f"  {name:<46}{a:8.2f} s{b:8.2f} s{c:14.2f} s{d:12.2f} s"
            f"{a / c:15.2f}x{a / d:13.2f}x{b / c:15.2f}x"
        )
    worst = max(pd_["tables"][t]["seconds"] / dk["parquet"][t]["seconds"] for t in TABLES)
    print(
        f"  goal <= {GOAL_RATIO}x DuckDB over Parquet for the three tables, default loading: "
        f"worst {worst:.2f}x -> {'met' if worst <= GOAL_RATIO else 'NOT met'}"
    )
    print(
        f"  load + 3 tables: pandas (default) {total_p:.2f} s, DuckDB over Parquet {total_d:.2f} s"
        f" -> {total_p / total_d:.2f}x"
    )
    for mode, same in r["same_as_duckdb"].items():
        print(f"  tables equal to DuckDB's ({mode}): {same}")
    agg_peak = max(pd_["tree_peak_mb"], ps["tree_peak_mb"], dk["tree_peak_mb"])
    ingest = f"ingest (bulk path) {_mb(peak_all)}, " if r["ingest"] else ""
    print(
        f"\npeak memory: {ingest}aggregations {_mb(agg_peak)} "
        f"(goal <= {_mb(GOAL_MB)}: {'met' if max(peak_all, agg_peak) <= GOAL_MB else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
