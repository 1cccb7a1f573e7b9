"""Bulk (national-size) ingest of graduates exports: streamed, column-wise, memory-bounded.

``placement ingest`` sends a graduates file here instead of the regular reader
(:mod:`helpers.ingest.process`, which holds a whole file as cell objects) when

- it is a Parquet file (a national export; any size), or
- it is a CSV file of at least :data:`CSV_MIN_BYTES` (64 MiB, about 450,000 rows),

or always / never with ``PLACEMENT_INGEST_BULK=always|never`` (default ``auto``). Excel files
never: a worksheet holds at most 1,048,576 rows and the regular reader handles them.

The rules are those of the regular path, applied to the same batch frame of clean text: the
processing core (:func:`helpers.ingest.frame.process_frame`: normalisers, pandera checks, typers,
reason codes, repairs and pseudonyms) and the one merge (:mod:`helpers.ingest.merge`: duplicate
rules and the per-file equation). Only reading differs:

- a file is cut into chunks of about :data:`CHUNK_ROWS` rows (Parquet: row-group slices; CSV:
  byte ranges that end at a line break outside quotes); each chunk is read straight into Arrow
  string columns, cleaned with pyarrow compute, normalised, validated and typed in a worker of
  the ingest process pool, and its accepted rows are written to a spill Parquet part under
  ``processed/.bulk-<pid>/``; the worker returns only small arrays (key hash, row numbers) and
  the chunk's quarantine, repairs and fingerprints;
- blank and footer rows, the header row (first 30 rows) and CSV line numbers follow the regular
  reader exactly. A CSV range whose lines are not one record each (a quoted line break, a row
  with more or fewer cells than the header, a lone ``\\r``) is parsed with Python's csv module
  instead, as the regular reader does; a file whose quoting defeats the range split is read
  record by record in the parent (slow, still streamed);
- the parent finds duplicate natural keys across all chunks from the key hashes, compares the
  few candidate rows exactly (read back from the spill), quarantines conflicts with their raw
  rows, checks ``rows read = accepted + merged + quarantined`` per file, and writes
  ``graduates.parquet`` by streaming the spill parts (dropping merged / conflicting rows).

Peak memory is a few chunks (one per worker) plus 8-byte key hashes per row, independent of the
file size. See docs/national.md.

Modules: :mod:`~helpers.ingest.bulk_plan` (which files; a file's header, format and chunks),
:mod:`~helpers.ingest.bulk_read` (a chunk's cells), this module (processing chunks and running
files), :mod:`~helpers.ingest.bulk_merge` (the merge over spilled rows).
"""

from __future__ import annotations

import os
import resource
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.datasets import BY_NAME
from helpers.ingest import bulk_plan
from helpers.ingest.bulk_merge import merge
from helpers.ingest.bulk_plan import (
    ENGINES,
    MODE_ENV,
    NOT_TEXT,
    SPILL_PREFIX,
    BulkFile,
    Chunk,
    ChunkResult,
    EncodingMismatch,
    Fallback,
    FileFailure,
    FilePlan,
    file_chunks,
    is_bulk,
    mode,
    plan_file,
    replan_gb18030,
    split_tasks,
)
from helpers.ingest.bulk_read import (
    TEXT_DTYPE,
    body_masks,
    chunk_cells,
    records_stream,
    text_cells,
)
from helpers.ingest.frame import process_frame
from helpers.ingest.limits import mib
from helpers.ingest.quarantine import issues_frame, raw_json
from helpers.ingest.tasks import (
    Context,
    FileTask,
    missing_required,
    process_peak_rss_mb,
    zh_header,
)
from helpers.ingest.workers import WorkerCrashed

__all__ = [
    "ENGINES",
    "MODE_ENV",
    "BulkFile",
    "cleanup",
    "file_chunks",
    "has_bulk",
    "is_bulk",
    "merge",
    "mode",
    "plan_file",
    "run",
    "split_tasks",
]


def process_chunk(chunk: Chunk, ctx: Context) -> list[ChunkResult]:
    """Read, clean, normalise, validate and type one chunk (in slices of CHUNK_ROWS rows); write
    the accepted rows of each slice to a spill part."""
    cols, rows, blank_lines, problems = chunk_cells(chunk, ctx.limits)
    n = len(rows)
    step = chunk.slice_rows or bulk_plan.CHUNK_ROWS
    out = []
    for k, a in enumerate(range(0, max(n, 1), step)):
        b = min(a + step, n)
        part = [c.slice(a, b - a) for c in cols]
        spill = f"{chunk.spill}-{k:03d}.parquet"
        first = chunk.number == 0 and k == 0
        sub = {i - a: p for i, p in problems.items() if a <= i < b}
        out.append(
            process_cells(
                chunk, part, rows[a:b], blank_lines if k == 0 else 0, ctx, spill, first, sub
            )
        )
    return out


def process_cells(
    chunk: Chunk,
    cols: list[pa.Array],
    rownums: np.ndarray,
    blank_lines: int,
    ctx: Context,
    spill: str,
    first: bool,
    problems: dict | None = None,
) -> ChunkResult:
    """One slice of a chunk: blank and footer rows dropped, the batch frame made, the processing
    core run on it, the accepted rows written to ``spill``."""
    plan = chunk.plan
    n_all = len(rownums)
    blank, footer, keywords = body_masks(cols, n_all)
    repair_rows = _reader_repairs(plan, rownums, footer, keywords, first)
    kept = ~blank & ~footer
    keep = np.flatnonzero(kept)
    data = [c.take(pa.array(keep)) for c in cols]
    f = _frame(plan, data, rownums[keep])
    extra = _reader_issues(plan, f, kept, problems)

    def raw_for(pos: np.ndarray) -> list[str]:
        idx = pa.array(np.asarray(pos, dtype=np.int64))
        cells = (
            np.column_stack([c.take(idx).to_numpy(zero_copy_only=False) for c in data])
            if data
            else np.empty((len(pos), 0), dtype=object)
        )
        return raw_json(plan.header.headers, cells)

    out = process_frame(plan.task.dataset, f, raw_for, extra, repair_rows, ctx)
    records = out.records
    if len(records):
        khash = records.pop("_khash").to_numpy(dtype=np.uint64)
        acc_rows = records["_row"].to_numpy(dtype=np.int64)
        records.drop(columns=["_file", "_sheet", "_folder", "_row"]).to_parquet(spill, index=False)
    else:
        spill = None
        khash = np.empty(0, dtype=np.uint64)
        acc_rows = np.empty(0, dtype=np.int64)
    return ChunkResult(
        plan,
        chunk.number,
        spill,
        khash,
        acc_rows,
        out.quarantine,
        out.repairs,
        out.fingerprints,
        out.dup_raw,
        len(keep),
        int(blank.sum()) + blank_lines,
        int(footer.sum()),
        process_peak_rss_mb(),
        os.getpid(),
        _cpu_seconds(),
    )


def _reader_repairs(plan: FilePlan, rownums, footer, keywords, first: bool) -> list[dict]:
    """Footer rows dropped, and (first slice of the file) duplicate header names."""
    task = plan.task
    src = {
        "source_file": task.rel,
        "sheet": "",
        "dataset": task.dataset,
        "snapshot_date": task.folder,
    }
    rows = [
        {**src, "row": int(rownums[i]), "column": "", "repair_code": "footer_row"}
        | {"before": kw, "after": ""}
        for i, kw in zip(np.flatnonzero(footer), keywords, strict=True)
    ]
    if first:
        rows += [
            {**src, "row": plan.header_row, "column": zh_header(task.dataset, name)}
            | {"repair_code": "duplicate_header", "before": "", "after": ""}
            for name in plan.header.duplicates
        ]
    return rows


def _frame(plan: FilePlan, data: list[pa.Array], rows: np.ndarray) -> pd.DataFrame:
    """The batch frame of one slice: clean text of the mapped columns and the source columns."""
    task = plan.task
    n = len(rows)
    columns = plan.header.columns
    names = [c.name for c in BY_NAME[task.dataset].columns if c.name in columns]
    f = pd.DataFrame(
        {
            name: text_cells(data[columns[name]])
            if columns[name] < len(data)
            else pd.Series(np.nan, index=range(n), dtype=TEXT_DTYPE)
            for name in names
        },
        index=pd.RangeIndex(n),
    )
    zeros = np.zeros(n, dtype=np.int64)
    f["_file"] = pd.Categorical.from_codes(zeros, categories=[task.rel])
    f["_sheet"] = pd.Categorical.from_codes(zeros, categories=[""])
    f["_folder"] = pd.Categorical.from_codes(zeros, categories=[task.folder])
    f["_row"] = rows.astype(np.int64)
    return f


def _reader_issues(plan: FilePlan, f: pd.DataFrame, kept: np.ndarray, problems) -> list:
    """Missing required columns, and broken rows (quoting, field count, over-long cells) by
    data-row position."""
    d = BY_NAME[plan.task.dataset]
    n = len(f)
    extra = [
        issues_frame(np.arange(n), "missing_column", col)
        for col in missing_required(d, plan.header.columns)
    ]
    if problems:
        rank = np.cumsum(kept) - 1
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (code, j) in sorted(problems.items()):
            if kept[i]:
                name = plan.header.headers[j] if 0 <= j < len(plan.header.headers) else ""
                column = (name or f"第{j + 1}列") if j >= 0 else ""
                groups.setdefault((code, column), []).append(int(rank[i]))
        extra += [issues_frame(pos, code, column) for (code, column), pos in groups.items()]
    return extra


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def spill_root(processed: Path) -> Path:
    return Path(processed) / f"{SPILL_PREFIX}{os.getpid()}"


def cleanup(processed: Path) -> None:
    """Remove spill folders (ours, and stale ones of runs that died: ingest holds a lock)."""
    for p in Path(processed).glob(f"{SPILL_PREFIX}*"):
        shutil.rmtree(p, ignore_errors=True)


class _Submitted:
    """The chunks of one file, submitted to the pool (all files at once: both cores busy even
    when each file is a single row group), or run when their results are asked for."""

    def __init__(self, chunks: list[Chunk], ctx: Context, pool):
        self.chunks, self.ctx, self.pool = chunks, ctx, pool
        self.futures = [pool.submit(process_chunk, c, ctx) for c in chunks] if pool else None

    def results(self) -> list[ChunkResult]:
        if self.futures is None:
            return [r for c in self.chunks for r in process_chunk(c, self.ctx)]
        out, error = [], None
        for fut, chunk in zip(self.futures, self.chunks, strict=True):
            # wait for all: no worker still writes to the spill afterwards
            try:
                if hasattr(self.pool, "outcome"):  # a ReaderPool: a crashed chunk runs alone
                    out += self.pool.outcome(fut, process_chunk, chunk, self.ctx)
                else:
                    out += fut.result()
            except (Fallback, EncodingMismatch, WorkerCrashed) as exc:
                error = error or exc
        if error is not None:
            raise error
        return out


@dataclass
class _Started:
    task: FileTask
    file_no: int
    plan: FilePlan | FileFailure
    submitted: _Submitted | None = None
    fallback: bool = False  # no CSV range could be cut: read record by record


def _start_file(task: FileTask, file_no: int, ctx: Context, pool, spill_dir: Path) -> _Started:
    size = os.path.getsize(task.path)
    if size > ctx.limits.max_file_bytes:
        detail = f"{mib(size)} > {mib(ctx.limits.max_file_bytes)}"
        return _Started(task, file_no, FileFailure(task, "file_too_large", detail))
    plan = plan_file(task)
    if isinstance(plan, FileFailure):
        return _Started(task, file_no, plan)
    try:
        chunks = file_chunks(plan, spill_dir, file_no)
    except Fallback:
        return _Started(task, file_no, plan, fallback=True)
    return _Started(task, file_no, plan, _Submitted(chunks, ctx, pool))


def _finish_file(st: _Started, ctx: Context, pool, spill_dir: Path) -> BulkFile:
    task, file_no, plan = st.task, st.file_no, st.plan

    def failed(f: FileFailure) -> BulkFile:
        return BulkFile(task.dataset, task, None, failure=f, spill_dir=str(spill_dir))

    if isinstance(plan, FileFailure):
        return failed(plan)
    chunks: list[ChunkResult] = []
    submitted, fallback = st.submitted, st.fallback
    for attempt in range(2):
        try:
            if fallback:
                raise Fallback("no record boundary found")
            chunks = submitted.results()
        except WorkerCrashed as exc:
            return failed(FileFailure(task, "file_reader_crashed", exc.detail))
        except EncodingMismatch:
            # a CSV that looked like UTF-8 at the start is not: all of it as GB18030, else none
            if plan.encoding == "gb18030" or attempt:
                return failed(FileFailure(task, *NOT_TEXT))
            plan = replan_gb18030(task)
            if isinstance(plan, FileFailure):
                return failed(plan)
            try:
                submitted = _Submitted(file_chunks(plan, spill_dir, file_no), ctx, pool)
            except Fallback:
                fallback = True
            continue
        except Fallback:
            plan = FilePlan(**{**plan.__dict__, "kind": "csv-records"})
            try:
                chunks = _records_fallback(plan, spill_dir, file_no, ctx)
            except UnicodeDecodeError:
                return failed(FileFailure(task, *NOT_TEXT))
        break
    peak = max((c.peak_rss_mb for c in chunks), default=0.0)
    return BulkFile(task.dataset, task, plan, chunks, None, peak, str(spill_dir))


def _records_fallback(
    plan: FilePlan, spill_dir: Path, file_no: int, ctx: Context
) -> list[ChunkResult]:
    out = []
    for i, (cols, rows, problems) in enumerate(records_stream(plan, ctx.limits)):
        chunk = Chunk(plan, i, str(spill_dir / f"{file_no:05d}-r{i:05d}"))
        spill = f"{chunk.spill}.parquet"
        out.append(process_cells(chunk, cols, rows, 0, ctx, spill, i == 0, problems))
    if not out:
        empty = [pa.array([], type=pa.large_string()) for _ in range(plan.width)]
        chunk = Chunk(plan, 0, str(spill_dir / f"{file_no:05d}-r00000"))
        out.append(
            process_cells(
                chunk, empty, np.empty(0, dtype=np.int64), 0, ctx, f"{chunk.spill}.parquet", True
            )
        )
    return out


def run(
    tasks: list[FileTask],
    ctx: Context,
    pool: ProcessPoolExecutor | None,
    processed: Path,
    done: dict,
    first_index: int,
    result=None,
) -> dict[int, float]:
    """Process every bulk file; put one BulkFile per file into the pipeline's ``done`` (keyed
    like its batch results, after them). Updates ``result`` (an IngestResult) with the workers'
    peak RSS and CPU; returns CPU seconds per worker process id (not the parent's)."""
    cpu: dict[int, float] = {}
    if not tasks:
        return cpu
    cleanup(processed)
    spill_dir = spill_root(processed)
    spill_dir.mkdir(parents=True)
    started = [_start_file(task, i, ctx, pool, spill_dir) for i, task in enumerate(tasks)]
    for i, (task, st) in enumerate(zip(tasks, started, strict=True)):
        res = _finish_file(st, ctx, pool, spill_dir)
        done.setdefault((task.dataset, task.folder), []).append((first_index + i, res))
        for c in res.chunks:
            if c.pid != os.getpid():
                cpu[c.pid] = max(cpu.get(c.pid, 0.0), c.cpu_seconds)
        if result is not None:
            result.worker_peak_rss_mb = max(result.worker_peak_rss_mb, res.peak_rss_mb)
    if result is not None:
        result.worker_cpu_seconds = sum(cpu.values())
    return cpu


def has_bulk(results: list) -> bool:
    return any(isinstance(r, BulkFile) for r in results)
