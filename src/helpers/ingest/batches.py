"""Running the regular reader's batches: files grouped into batches of about BATCH_BYTES,
processed in a pool of worker processes forked from a server that has imported the ingest code
once (or here, without a pool), a crashing reader survived and named; files with an entry in
the per-file cache are not read again (:class:`CachedBatches`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import forkserver

from helpers.ingest.cache import Entry, FileCache, as_entry, entry_result, join, split
from helpers.ingest.process import process_batch
from helpers.ingest.tasks import BatchResult, Context, FileTask
from helpers.ingest.workers import ReaderPool, WorkerCrashed

# below this much input, a process pool costs more than it saves (auto mode only)
POOL_MIN_BYTES = 4 * 1024 * 1024
BATCH_BYTES = 6 * 1024 * 1024


def plan_batches(tasks: list[FileTask], sizes: dict[str, int]) -> list[list[FileTask]]:
    """Tasks grouped by (dataset, raw folder), split into chunks of about BATCH_BYTES.

    Few, large batches: fixed costs per batch (pandera, Arrow calls) then weigh little. The chunk
    size does not depend on the worker count, so the same inputs give the same batches and the
    processed rows come out in the same order whatever the number of workers. Oldest folder first,
    and within a folder graduates (the bulk of the work) before the small activity datasets,
    largest chunk first: a target can be merged and written while later folders are read, and
    the last batches are small ones, so that both workers finish together.
    """
    groups: dict[tuple[str, str], list[FileTask]] = {}
    for t in tasks:
        groups.setdefault((t.folder or "", t.dataset), []).append(t)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "graduates", k[1])):
        group = sorted(groups[key], key=lambda t: (-sizes[t.path], t.rel))
        n_chunks = max(
            1, min(len(group), math.ceil(sum(sizes[t.path] for t in group) / BATCH_BYTES))
        )
        chunks: list[list[FileTask]] = [[] for _ in range(n_chunks)]
        loads = [0] * n_chunks
        for t in group:  # largest first into the lightest chunk
            i = loads.index(min(loads))
            chunks[i].append(t)
            loads[i] += sizes[t.path]
        chunks = [sorted(c, key=lambda t: t.rel) for c in chunks if c]
        out += sorted(chunks, key=lambda c: -sum(sizes[t.path] for t in c))
    return out


def _warm() -> int:
    return os.getpid()


def _forkserver():
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["helpers.ingest.process"])
    return mp


def prestart_forkserver() -> None:
    """Launch the fork server now (it imports the ingest code, about a second) without waiting
    for it: the parent hashes the inputs meanwhile."""
    _forkserver()
    forkserver.ensure_running()


def _executor(workers: int) -> ProcessPoolExecutor:
    mp = _forkserver()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp)
    for _ in range(workers):
        pool.submit(_warm)
    return pool


def start_pool(workers: int) -> ReaderPool:
    """Worker processes forked from a server that has imported the ingest code once; started
    early (and warmed) so that their start-up overlaps the parent's own work. A worker that
    crashes is survived (helpers.ingest.workers)."""
    return ReaderPool(lambda: _executor(workers))


def run_batches(batches: list[list[FileTask]], ctx: Context, pool: ReaderPool | None):
    """(batch index, result) as batches finish (in order without a pool). With a pool every
    batch is submitted now, so that the pool works while the caller does something else."""
    if pool is None:  # read here: a crash would end the ingest, so workbooks are scanned first
        here = replace(ctx, scan=True)
        return ((i, process_batch(b, here)) for i, b in enumerate(batches))
    futures = {pool.submit(process_batch, b, ctx): i for i, b in enumerate(batches)}
    return (
        (futures[f], _batch_outcome(pool, f, batches[futures[f]], ctx))
        for f in as_completed(futures)
    )


def _batch_outcome(pool: ReaderPool, future, batch: list[FileTask], ctx: Context) -> BatchResult:
    """The batch's result; when its reader process crashed, each file is read alone to find the
    one(s) that crash, which are quarantined (file_reader_crashed), and the batch runs again
    without reading them."""
    try:
        return pool.outcome(future, process_batch, batch, ctx)
    except WorkerCrashed as crash:
        if len(batch) == 1:  # it crashed alone already
            failed = [(batch[0].path, "file_reader_crashed", crash.detail)]
        else:
            failed = []
            for t in batch:
                try:
                    pool.alone(process_batch, [t], ctx)
                except WorkerCrashed as exc:
                    failed.append((t.path, "file_reader_crashed", exc.detail))
            if not failed:  # no file crashes by itself: the batch once more, else all suspects
                try:
                    return pool.alone(process_batch, batch, ctx)
                except WorkerCrashed as again:
                    failed = [(t.path, "file_reader_crashed", again.detail) for t in batch]
        return pool.alone(process_batch, batch, replace(ctx, failed=ctx.failed + tuple(failed)))


class CachedBatches:
    """The planned batches, each assembled from the per-file cache where its files have an entry
    (helpers.ingest.cache) and from reading the others: the same results, in the same order, as
    reading every file."""

    def __init__(self, batches: list[list[FileTask]], cache: FileCache, hashes: dict[str, str]):
        self.batches = batches
        self.cache = cache
        self.hashes = hashes
        self.cached = [{t.rel: cache.lookup(t, hashes[t.path]) for t in b} for b in batches]
        self.fresh: dict[str, Entry] = {}  # path -> entry of a file read now
        self.files_read = sum(e is None for c in self.cached for e in c.values())
        self.files_cached = sum(e is not None for c in self.cached for e in c.values())

    def results(self, ctx: Context, pool: ReaderPool | None):
        """(batch index, result) as batches are ready: wholly cached ones first."""
        to_read, where = [], []
        for i, b in enumerate(self.batches):
            missing = [t for t in b if self.cached[i][t.rel] is None]
            if missing:
                to_read.append(missing)
                where.append(i)
        read = run_batches(to_read, ctx, pool)  # the pool starts reading
        for i in range(len(self.batches)):
            if i not in where:
                yield i, self._assemble(i, {})
        for k, res in read:
            parts = split(res, to_read[k])
            for t in to_read[k]:
                self.fresh[t.path] = as_entry(parts[t.rel])
            yield where[k], self._assemble(where[k], parts)

    def _assemble(self, i: int, parts: dict[str, BatchResult]) -> BatchResult:
        batch = self.batches[i]
        per_file = [
            parts[t.rel] if t.rel in parts else entry_result(t.dataset, self.cached[i][t.rel])
            for t in batch
        ]
        return join(batch[0].dataset, per_file)

    def store(self) -> None:
        """Write the entries of every (raw folder, dataset) whose files changed, came or went."""
        groups: dict[tuple[str, str], dict[tuple[str, str], Entry]] = {}
        for i, batch in enumerate(self.batches):
            for t in batch:
                entry = self.cached[i][t.rel] or self.fresh.get(t.path)
                if entry is not None:
                    key = (t.rel, self.hashes[t.path])
                    groups.setdefault((t.folder, t.dataset), {})[key] = entry
        for (folder, dataset), entries in groups.items():
            self.cache.store(folder, dataset, entries)
