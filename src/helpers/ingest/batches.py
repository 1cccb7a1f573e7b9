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

from helpers.ingest.cache import FileCache, join, split
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
    """The planned batches, each taken whole from the per-file cache when a chunk holds exactly
    its files, else assembled from the cached files and reading the others: the same results,
    in the same order, as reading every file (helpers.ingest.cache). Each batch's result is
    written to the cache as it comes in; once a (raw folder, dataset) is done, chunks that hold
    none of this run's batches are removed."""

    def __init__(self, batches: list[list[FileTask]], cache: FileCache, hashes: dict[str, str]):
        self.batches = batches
        self.cache = cache
        self.keys = [[(t.rel, hashes[t.path]) for t in b] for b in batches]
        self.whole = [
            cache.holds_batch(*_group(b), k) for b, k in zip(batches, self.keys, strict=True)
        ]
        self.held = [
            [w or cache.holds(*_group(b), k) for k in keys]
            for b, keys, w in zip(batches, self.keys, self.whole, strict=True)
        ]
        self.files_cached = sum(map(sum, self.held))
        self.files_read = sum(len(b) for b in batches) - self.files_cached
        self._live: dict[tuple[str, str], set[str]] = {}

    def bytes_to_read(self, sizes: dict[str, int]) -> int:
        """The size of the files no chunk holds (they are read; the others come from the cache)."""
        return sum(
            sizes[t.path]
            for b, held in zip(self.batches, self.held, strict=True)
            for t, h in zip(b, held, strict=True)
            if not h
        )

    def results(self, ctx: Context, pool: ReaderPool | None):
        """(batch index, result) as batches are ready: wholly cached ones first."""
        to_read, where = [], []
        for i, b in enumerate(self.batches):
            missing = [t for t, held in zip(b, self.held[i], strict=True) if not held]
            if missing:
                to_read.append(missing)
                where.append(i)
        pending: dict[tuple[str, str], int] = {}
        for b in self.batches:
            pending[_group(b)] = pending.get(_group(b), 0) + 1
        read = run_batches(to_read, ctx, pool)  # the pool starts reading
        for i in range(len(self.batches)):
            if i not in where:
                yield i, self._cached(i, ctx)
                self._done(i, pending)
        for k, res in read:
            i = where[k]
            if len(to_read[k]) < len(self.batches[i]):  # some files came from the cache
                res = self._assemble(i, split(res, to_read[k]), ctx)
            self._keep(i, res)
            yield i, res
            self._done(i, pending)

    def _cached(self, i: int, ctx: Context) -> BatchResult:
        batch = self.batches[i]
        res = self.cache.whole(*_group(batch), self.keys[i]) if self.whole[i] else None
        if res is None and not self.whole[i]:
            res = self._assemble(i, {}, ctx)
        if res is None:  # the chunk was damaged after it was found: the batch read here
            res = process_batch(batch, replace(ctx, scan=True))
        self._keep(i, res)
        return res

    def _assemble(self, i: int, parts: dict[str, BatchResult], ctx: Context) -> BatchResult:
        """The batch from the files read now (``parts``) and runs of cached files between them."""
        batch = self.batches[i]
        pieces: list[BatchResult] = []
        run: list[tuple[FileTask, tuple[str, str]]] = []

        def flush() -> None:
            if run:
                res = self.cache.files(*_group(batch), [key for _, key in run])
                if res is None:  # a chunk was damaged after it was found: these files read here
                    res = process_batch([t for t, _ in run], replace(ctx, scan=True))
                pieces.append(res)
                run.clear()

        for t, key in zip(batch, self.keys[i], strict=True):
            if t.rel in parts:
                flush()
                pieces.append(parts[t.rel])
            else:
                run.append((t, key))
        flush()
        return join(batch[0].dataset, pieces)

    def _keep(self, i: int, res: BatchResult) -> None:
        group = _group(self.batches[i])
        self._live.setdefault(group, set()).add(self.cache.put(*group, self.keys[i], res))

    def _done(self, i: int, pending: dict[tuple[str, str], int]) -> None:
        group = _group(self.batches[i])
        pending[group] -= 1
        if not pending[group]:
            self.cache.keep_only(*group, self._live.pop(group, set()))


def _group(batch: list[FileTask]) -> tuple[str, str]:
    return batch[0].folder, batch[0].dataset
