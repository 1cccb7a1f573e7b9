"""``ingest(as_of, data_dir)``: raw folders -> data/processed/<date>/ (see docs/ingest.md).

For a reporting date D the processed folder holds graduates and platform from the newest raw
folder <= D that has them, recruitment / visits / assistance from every raw folder <= D (the same
natural key counted once), the reference tables, and the quarantine, repairs, per-file counts,
personal-value fingerprints and a manifest. Every earlier raw folder gets its own processed folder
too (progress through the year, earlier cohorts). A processed folder whose manifest records the
same inputs (file hashes, ingest code, key fingerprint) is left alone, so re-running is cheap.

The steps live in their own modules: what to read and whether it changed
(:mod:`~helpers.ingest.sources`), reading (:mod:`~helpers.ingest.process` for whole files,
:mod:`~helpers.ingest.bulk` for national-size exports; both through the one processing core,
:mod:`~helpers.ingest.frame`) in worker processes (:mod:`~helpers.ingest.batches`), the one merge
(:mod:`~helpers.ingest.merge`) and the processed folders (:mod:`~helpers.ingest.targets`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from helpers.config import PACKAGE_DIR, data_paths, parse_as_of
from helpers.errors import MissingInputError
from helpers.ingest import batches as bt
from helpers.ingest import bulk, sources
from helpers.ingest import limits as read_limits
from helpers.ingest.cache import FileCache, cache_version
from helpers.ingest.merge import Pool, merge
from helpers.ingest.process import process_batch
from helpers.ingest.pseudonym import key_fingerprint, load_key
from helpers.ingest.result import IngestResult
from helpers.ingest.sources import (
    Inputs,
    Target,
    code_hash,
    discover,
    needs_ingest,
    plan_targets,
    stale_targets,
)
from helpers.ingest.targets import IngestRun, TargetBuild, forget
from helpers.ingest.tasks import BatchResult, Context, FileTask
from helpers.ingest.university_codes import UniversityLookup
from helpers.logs import progress

__all__ = ["IngestResult", "ingest", "needs_ingest"]


def _lock(processed: Path):
    processed.mkdir(parents=True, exist_ok=True)
    fh = open(processed / ".ingest.lock", "w")  # noqa: SIM115 - held for the whole run
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


def _inputs(raw: Path, as_of: dt.date) -> Inputs:
    if not raw.is_dir():
        raise MissingInputError(
            f"{raw} does not exist: put the raw exports in {raw}/<YYYY-MM-DD>/ "
            "(or run `placement generate --size demo --out DIR`)"
        )
    inputs = discover(raw, as_of)
    if not inputs.folders:
        raise MissingInputError(
            f"no raw snapshot folder (YYYY-MM-DD) on or before {as_of} in {raw}"
        )
    return inputs


def ingest(as_of: dt.date | str, data_dir: str | Path, workers: int | None = None) -> IngestResult:
    """Ingest every raw folder <= as_of into data_dir/processed/ (see the module docstring).

    ``as_of``: a date (an ISO string is accepted and parsed here, once)."""
    started = time.perf_counter()
    as_of = parse_as_of(as_of)
    data_dir = Path(data_dir)
    raw, processed = data_paths(data_dir)
    inputs = _inputs(raw, as_of)
    key = load_key()
    fp = key_fingerprint(key)
    auto = workers is None
    workers = max(1, workers or os.cpu_count() or 1)

    lock = _lock(processed)
    try:
        targets = plan_targets(inputs, as_of)
        sizes = {t.path: os.path.getsize(t.path) for tg in targets for t in tg.tasks(inputs)}
        raw_bytes = sum(size for p, size in sizes.items() if not p.startswith(str(PACKAGE_DIR)))
        if (
            workers > 1
            and (not auto or raw_bytes >= bt.POOL_MIN_BYTES)
            and any(not (processed / t.date.isoformat()).is_dir() for t in targets)
        ):
            bt.prestart_forkserver()  # a folder is missing: a pool will be needed
        state = stale_targets(inputs, targets, processed, fp)
        result = IngestResult(as_of, data_dir, up_to_date=state.fresh)
        if state.stale:
            needed: dict[str, FileTask] = {}
            for target, _ in state.stale:
                for t in target.tasks(inputs):
                    if t.folder is not None:
                        needed[t.path] = t
            reference = [(t.rel, state.hashes[t.path]) for t in inputs.tasks["reference"]]
            cache = FileCache(processed, cache_version(code_hash(), fp, reference))
            run = IngestRun(inputs, processed, state.hashes, sizes, fp, result, cache)
            # auto: a pool only when what the cache lacks is worth one (not for one resubmission)
            pool = PoolPlan(workers if workers > 1 else 0, bt.POOL_MIN_BYTES if auto else 0)
            _ingest_targets(run, state.stale, needed, pool, key)
        result.seconds = time.perf_counter() - started
        return result
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


@dataclass(frozen=True)
class PoolPlan:
    """A pool of ``workers`` reader processes (0: read here) when there are files to read and
    they weigh at least ``min_bytes``."""

    workers: int
    min_bytes: int = 0

    def start(self, to_read_bytes: int) -> bt.ReaderPool | None:
        if self.workers and to_read_bytes and to_read_bytes >= self.min_bytes:
            return bt.start_pool(self.workers)
        return None


def _ingest_targets(
    run: IngestRun,
    todo: list[tuple[Target, str]],
    needed: dict[str, FileTask],
    pool_plan: PoolPlan,
    key: bytes,
) -> None:
    """Reference tables, then every batch (in a pool of reader processes, or here), writing each
    target once it is ready."""
    # reference tables first: universities give the lookup every other dataset needs
    ref_tasks = run.inputs.tasks["reference"]
    limits = read_limits.current()
    uni_res = process_batch(
        [t for t in ref_tasks if t.dataset == "universities"],
        Context(key, UniversityLookup.empty(), limits, scan=True),
    )
    run.reference["universities"] = merge(
        "universities", Pool.of("universities", [uni_res]), run.paths
    )
    universities = run.reference["universities"].records.to_pandas()
    run.ctx = Context(key, UniversityLookup.from_frame(universities), limits)
    needed, bulk_tasks = bulk.split_tasks(needed, run.sizes)  # national-size graduates exports
    batches = bt.plan_batches(list(needed.values()), run.sizes)
    cached = bt.CachedBatches(batches, run.cache, run.hashes)
    # the fork server (launched before hashing when a folder is new) has been importing the code
    to_read = cached.bytes_to_read(run.sizes) + sum(run.sizes[t.path] for t in bulk_tasks)
    pool = pool_plan.start(to_read)
    try:
        _ingest_batches(run, todo, cached, bulk_tasks, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _ingest_batches(run: IngestRun, todo, cached: bt.CachedBatches, bulk_tasks, pool) -> None:
    """Submit every batch, process the other reference tables meanwhile, then merge, write and
    finish targets as the batches come in; last, the per-file cache."""
    result = run.result
    batches = cached.batches
    results = cached.results(run.ctx, pool)  # the pool starts reading what the cache lacks
    result.files_read, result.files_cached = cached.files_read, cached.files_cached
    _other_references(run)  # meanwhile, in this process

    # each dataset of a target is merged and written as soon as its batches are in, the target
    # finished (extras, manifest, swap) once all are: the parent works while the pool reads on
    pending = {(b[0].dataset, b[0].folder): 0 for b in batches}
    for b in batches:
        pending[(b[0].dataset, b[0].folder)] += 1
    done: dict[tuple[str, str], list[tuple[int, BatchResult]]] = {}
    builds: list[TargetBuild] = []
    with ThreadPoolExecutor(max_workers=2) as writers:  # Parquet encoding releases the GIL
        try:
            bulk_cpu = bulk.run(
                bulk_tasks, run.ctx, pool, run.processed, done, len(batches), result
            )
            builds = [TargetBuild(target, digest, run, writers) for target, digest in todo]
            worker_cpu: dict[int, float] = dict(bulk_cpu)
            for index, res in progress(results, total=len(batches), desc="入库 batches", unit="批"):
                result.worker_peak_rss_mb = max(result.worker_peak_rss_mb, res.peak_rss_mb)
                if res.pid != os.getpid():
                    worker_cpu[res.pid] = max(worker_cpu.get(res.pid, 0.0), res.cpu_seconds)
                    result.worker_cpu_seconds = sum(worker_cpu.values())
                key = (res.dataset, batches[index][0].folder)
                done.setdefault(key, []).append((index, res))
                pending[key] -= 1
                _advance(run, builds, done, pending)
            _advance(run, builds, done, pending)
            if builds:
                raise RuntimeError(f"targets left unbuilt: {[b.target.date for b in builds]}")
        except BaseException:
            writers.shutdown(wait=True, cancel_futures=True)
            for b in builds:
                shutil.rmtree(b.tmp, ignore_errors=True)
            raise
    bulk.cleanup(run.processed)
    live = {(t.folder, t.dataset) for b in batches for t in b}
    read = sorted({t.folder for b in batches for t in b})
    run.cache.prune(sources.raw_folder_names(run.inputs.raw), live, read)


def _other_references(run: IngestRun) -> None:
    """Majors, adjustment plans and submissions, read in this process."""
    here = replace(run.ctx, scan=True)
    for name in ("majors", "adjustment_plans", "submissions"):
        ts = [t for t in run.inputs.tasks["reference"] if t.dataset == name]
        results = [process_batch(ts, here)] if ts else []
        run.reference[name] = merge(name, Pool.of(name, results), run.paths)


def _advance(run: IngestRun, builds: list[TargetBuild], done, pending) -> None:
    """Merge every dataset whose batches are all in, for every target; finish targets whose
    datasets are all merged, oldest first; free batches no unfinished target needs."""
    for b in builds:
        b.merge_ready(done, pending, run.paths)
    while builds and builds[0].complete:
        b = builds.pop(0)
        b.finish(run)
        run.result.built.append(b.target.date)
        forget(done, builds)
