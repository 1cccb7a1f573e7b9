"""The regular reader: read every file of a batch (one dataset) whole, find each sheet's header,
drop blank and footer rows, and stack the data rows into one frame of clean text for the
processing core (:func:`helpers.ingest.frame.process_frame`). Runs in a worker process.

The result holds the typed rows that passed validation (with their source, a natural key and a
content signature, so the parent can merge duplicates across batches), the quarantined rows with
reasons and raw content, the repairs, per-file/sheet counts and the keyed fingerprints of every
personal value seen. Cross-file duplicates are the merge's job (helpers.ingest.merge).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.datasets import BY_NAME, Dataset
from helpers.ingest import normalise as nz
from helpers.ingest.frame import FrameResult, empty_result, process_frame
from helpers.ingest.quarantine import issues_frame, raw_json
from helpers.ingest.readers import (
    FOOTER,
    RawSheet,
    UnreadableFile,
    find_header,
    read_file,
    row_problems,
)
from helpers.ingest.tasks import (
    NATURAL_KEYS,
    BatchResult,
    Context,
    FileTask,
    file_failure,
    files_frame,
    missing_required,
    process_peak_rss_mb,
    quarantine_frame,
    zh_header,
)
from helpers.ingest.typers import light_records, records_table

__all__ = ["NATURAL_KEYS", "BatchResult", "Context", "FileTask", "process_batch", "text_column"]


@dataclass
class _Sheets:
    """The data rows of every sheet of a batch; ``pos`` = row in the stacked batch frame."""

    columns: list[dict[str, int]] = field(default_factory=list)  # canonical -> column, per sheet
    # cell text of every body row (below the header), column by column in Arrow, per sheet
    bodies: list[list[pa.Array]] = field(default_factory=list)
    data: list[np.ndarray | None] = field(default_factory=list)  # data rows of the body (None: all)
    headers: list[list[str]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)  # row numbers of the data rows, per sheet
    meta: list[tuple[str, str, str | None]] = field(default_factory=list)  # file, sheet, folder
    starts: list[int] = field(default_factory=list)
    issues: list[pd.DataFrame] = field(default_factory=list)
    n: int = 0

    def column(self, i: int, j: int) -> pa.Array:
        """Cell text of column ``j`` of sheet ``i``, data rows only."""
        a = self.bodies[i][j]
        rows = self.data[i]
        return a if rows is None else a.take(pa.array(rows))

    def raw_rows(self, i: int, body_rows: np.ndarray) -> np.ndarray:
        """Cell text of some body rows of sheet ``i`` (2-D object array)."""
        idx = pa.array(body_rows)
        cols = [np.asarray(a.take(idx).to_pylist(), dtype=object) for a in self.bodies[i]]
        out = np.empty((len(body_rows), len(cols)), dtype=object)
        for j, c in enumerate(cols):
            out[:, j] = c
        return out


def text_column(cells: np.ndarray | pa.Array) -> pd.Series:
    """Cell text (object array of str, or Arrow strings) -> pandas ``str``: NFKC, stripped,
    empty -> missing.

    Done in Arrow on the whole batch column at once (per-call overhead dominates small arrays).
    """
    a = cells if isinstance(cells, pa.Array) else pa.array(cells, type=pa.large_string())
    if a.type != pa.large_string():
        a = a.cast(pa.large_string())
    if not pc.all(pc.string_is_ascii(a)).as_py():  # ASCII text is its own NFKC form
        enc = pc.dictionary_encode(a)  # labels, majors, departments: few distinct values
        if 4 * len(enc.dictionary) < len(a):
            a = pc.take(pc.utf8_normalize(enc.dictionary, "NFKC"), enc.indices)
        else:
            a = pc.utf8_normalize(a, "NFKC")
    a = pc.utf8_trim_whitespace(a)
    a = pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.large_string()), a)
    return pd.Series(pd.array(a, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _body_masks(
    body: np.ndarray, columns: list[pa.Array]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Blank rows, footer rows (合计, 填表人：…) and the footer keywords (for the repairs log).

    ``body``: the cell text below the header (2-D object array); ``columns``: the same cells
    column by column in Arrow (empty cells are found there, without a Python step per cell).
    """
    n = body.shape[0]
    if n == 0 or body.shape[1] == 0:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool), []
    count = np.zeros(n, dtype=np.int64)
    first_col = np.full(n, -1, dtype=np.int64)
    for j, a in enumerate(columns):
        ne = pc.not_equal(a, "").to_numpy(zero_copy_only=False)
        count += ne
        first_col[(first_col < 0) & ne] = j
    nonempty = count > 0
    sparse = np.flatnonzero(count <= 3)  # blank-looking rows: cells of only spaces?
    if len(sparse):
        ne = np.frompyfunc(lambda c: bool(c.strip()), 1, 1)(body[sparse]).astype(bool)
        nonempty[sparse] = ne.any(axis=1)
        first_col[sparse] = ne.argmax(axis=1)
    footer = np.zeros(n, dtype=bool)
    keywords: list[str] = []
    rows = np.flatnonzero(nonempty)
    if len(rows) == 0:
        return ~nonempty, footer, keywords
    # every footer keyword is Chinese: a first cell of ASCII text is never a footer
    candidate = np.zeros(n, dtype=bool)
    firsts = first_col[rows]
    for j in np.unique(firsts):
        at = rows[firsts == j]
        cells = columns[j].take(pa.array(at))
        candidate[at] = ~pc.string_is_ascii(cells).to_numpy(zero_copy_only=False)
    maybe = np.flatnonzero(candidate)
    if len(maybe):
        first = pa.array(body[maybe, first_col[maybe]], type=pa.large_string())
        key = pc.replace_substring_regex(pc.utf8_normalize(first, "NFKC"), nz.WS, "")
        hit = pc.match_substring_regex(key, FOOTER.pattern).to_numpy(zero_copy_only=False)
        footer[maybe[hit]] = True
        keywords = [re.split(r"[:：]", k)[0] for k in key.filter(pa.array(hit)).to_pylist()]
    return ~nonempty, footer, keywords


def _any_text(sheet: RawSheet) -> bool:
    """Whether any cell of the sheet holds text (column by column, usually the first decides)."""
    return any(
        pc.any(pc.not_equal(sheet.column(j), "")).as_py() for j in range(sheet.cells.shape[1])
    )


def _read_task(
    task: FileTask,
    d: Dataset,
    sheets: _Sheets,
    files: list[dict],
    quarantine: list[dict],
    repairs: list[dict],
    ctx: Context | None = None,
) -> None:
    base = {"source_file": task.rel, "dataset": d.name, "snapshot_date": task.folder}
    try:
        for path, code, detail in ctx.failed if ctx is not None else ():
            if path == task.path:
                raise UnreadableFile(code, detail)
        raw = read_file(
            Path(task.path),
            ctx.limits if ctx is not None else None,
            scan=ctx is None or ctx.scan,
        )
    except UnreadableFile as exc:
        file_failure(base, exc.code, exc.detail, files, quarantine)
        return
    found_any = False
    pending: list[dict] = []
    for sheet in raw.sheets:
        info = {**base, "sheet": sheet.name, "encoding": raw.encoding, "engine": raw.engine}
        if sheet.cells.size == 0 or not _any_text(sheet):
            pending.append({**info, "status": "empty_sheet"})
            continue
        header = find_header(sheet, d)
        if header is None:
            pending.append(
                {
                    **info,
                    "status": "ignored_sheet",
                    "reason_code": "file_no_header",
                    "detail": "no header row of this dataset in this sheet",
                }
            )
            continue
        found_any = True
        _add_sheet(task, d, sheet, header, info, sheets, files, repairs)
    if not found_any:
        file_failure(
            base,
            "file_no_header",
            "no sheet has a header row of this dataset",
            files,
            quarantine,
            encoding=raw.encoding,
            engine=raw.engine,
        )
    else:
        files.extend(pending)


def _add_sheet(task, d, sheet: RawSheet, header, info, sheets: _Sheets, files, repairs) -> None:
    start_row = header.row + 1
    body = sheet.cells[start_row:]
    columns = [sheet.column(j).slice(start_row) for j in range(sheet.cells.shape[1])]
    rownums = sheet.row_numbers[start_row:]
    blank, footer, keywords = _body_masks(body, columns)
    for i, kw in zip(np.flatnonzero(footer), keywords, strict=True):
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(rownums[i]),
                "column": "",
                "repair_code": "footer_row",
                "before": kw,
                "after": "",
            }
        )
    for name in header.duplicates:
        repairs.append(
            {
                **_src(task, d, sheet.name),
                "row": int(sheet.row_numbers[header.row]),
                "column": zh_header(d.name, name),
                "repair_code": "duplicate_header",
                "before": "",
                "after": "",
            }
        )
    data = ~blank & ~footer
    n = int(data.sum())
    start = sheets.n
    _add_row_problems(sheet, header, data, start, sheets)
    for col in missing_required(d, header.columns):
        sheets.issues.append(issues_frame(np.arange(start, start + n), "missing_column", col))
    sheets.columns.append(header.columns)
    sheets.bodies.append(columns)
    sheets.data.append(None if n == len(data) else np.flatnonzero(data))
    sheets.headers.append(header.headers)
    sheets.rows.append(rownums[data].astype(np.int64))
    sheets.meta.append((task.rel, sheet.name, task.folder))
    sheets.starts.append(start)
    sheets.n += n
    files.append(
        {
            **info,
            "status": "ok",
            "header_row": int(sheet.row_numbers[header.row]),
            "rows_read": n,
            "blank_rows": int(blank.sum()),
            "footer_rows": int(footer.sum()),
            "columns": ",".join(header.columns),
        }
    )


def _add_row_problems(sheet: RawSheet, header, data: np.ndarray, start: int, sheets) -> None:
    """Broken rows (quoting, field count, over-long cells) become issues of their data rows."""
    found = [(i, code, j) for i, code, j in row_problems(sheet, header.row) if data[i]]
    if not found:
        return
    rank = np.cumsum(data) - 1
    groups: dict[tuple[str, str], list[int]] = {}
    for i, code, j in found:
        name = header.headers[j] if 0 <= j < len(header.headers) else ""
        column = (name or f"第{j + 1}列") if j >= 0 else ""
        groups.setdefault((code, column), []).append(start + int(rank[i]))
    for (code, column), pos in groups.items():
        sheets.issues.append(issues_frame(pos, code, column))


def _batch_frame(d: Dataset, sheets: _Sheets) -> pd.DataFrame:
    """Stack the mapped columns of every sheet into one frame of clean text (+ source columns)."""
    names = [c.name for c in d.columns if any(c.name in cols for cols in sheets.columns)]
    data = {}
    for name in names:
        parts = [
            sheets.column(i, cols[name])
            if name in cols
            else pa.nulls(len(sheets.rows[i]), pa.large_string())
            for i, cols in enumerate(sheets.columns)
        ]
        data[name] = text_column(pa.concat_arrays(parts))
    f = pd.DataFrame(data, index=pd.RangeIndex(sheets.n))
    lengths = [len(r) for r in sheets.rows]
    for i, col in enumerate(("_file", "_sheet", "_folder")):
        per_sheet = [m[i] for m in sheets.meta]
        cats = list(dict.fromkeys(v for v in per_sheet if v is not None))
        sheet_codes = np.array(
            [cats.index(v) if v is not None else -1 for v in per_sheet], dtype=np.int64
        )
        f[col] = pd.Categorical.from_codes(np.repeat(sheet_codes, lengths), categories=cats)
    f["_row"] = np.concatenate(sheets.rows) if sheets.rows else np.empty(0, dtype=np.int64)
    return f


def _src(task: FileTask, d: Dataset, sheet: str) -> dict:
    return {
        "source_file": task.rel,
        "sheet": sheet,
        "dataset": d.name,
        "snapshot_date": task.folder,
    }


def _raw_for(sheets: _Sheets, pos: np.ndarray) -> list[str]:
    """Raw JSON of some rows (quarantined or duplicated), by position in the batch frame."""
    pos = np.asarray(pos, dtype=np.int64)
    out = np.empty(len(pos), dtype=object)
    starts = np.asarray(sheets.starts, dtype=np.int64)
    idx = np.searchsorted(starts, pos, side="right") - 1
    for i in np.unique(idx):
        m = np.flatnonzero(idx == i)
        local = pos[m] - starts[i]
        data = sheets.data[i]
        body_rows = local if data is None else data[local]
        out[m] = raw_json(sheets.headers[i], sheets.raw_rows(int(i), body_rows))
    return out.tolist()


def process_batch(tasks: list[FileTask], ctx: Context) -> BatchResult:
    """Read, normalise, validate and type every file of ``tasks`` (one dataset)."""
    dataset = tasks[0].dataset
    d = BY_NAME[dataset]
    sheets = _Sheets()
    files: list[dict] = []
    quarantine: list[dict] = []
    repair_rows: list[dict] = []
    for task in tasks:
        _read_task(task, d, sheets, files, quarantine, repair_rows, ctx)

    if sheets.n == 0:
        out = empty_result(dataset, repair_rows)
    else:
        f = _batch_frame(d, sheets)
        out = process_frame(dataset, f, partial(_raw_for, sheets), sheets.issues, repair_rows, ctx)
    return _batch_result(dataset, out, quarantine, files)


def _batch_result(dataset: str, out: FrameResult, failures: list[dict], files: list[dict]):
    """The core's result with the reader's file-level quarantine rows and per-sheet counts."""
    file_level = quarantine_frame(failures)
    quarantine = (
        pd.concat([file_level, out.quarantine], ignore_index=True)
        if len(out.quarantine)
        else file_level
    )
    return BatchResult(
        dataset,
        light_records(dataset, out.records),
        quarantine,
        out.repairs,
        files_frame(files),
        out.fingerprints,
        out.dup_raw,
        process_peak_rss_mb(),
        os.getpid(),
        time.process_time(),
        records_table(dataset, out.records),
    )
