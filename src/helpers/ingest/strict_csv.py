"""Strict CSV records (see helpers.ingest.readers): a quote that is never closed, text after a
closing quote, or a quoted field that swallows whole records is not allowed to eat the lines
that follow: that line is kept as a broken row (its cells split at the separators, quotes as
written) and reading resumes on the next physical line. Used by the regular and the bulk reader.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from helpers.ingest.limits import ReadLimits
from helpers.ingest.limits import current as current_limits

__all__ = ["CsvRecords", "csv_records", "cut_long", "iter_records"]

# cell length is bounded by ReadLimits.max_cell_chars (a named quarantine reason), not by the csv
# module's own limit (128 KiB, an exception that would stop the file without naming the row)
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


# --- strict CSV records ------------------------------------------------------------------------
@dataclass
class CsvRecords:
    """Records of CSV text and where they start; every physical line is in exactly one record."""

    rows: list[list[str]]
    starts: list[int]  # line number (1-based, in the file) where each record starts
    problems: dict[int, tuple[str, int]]  # record index -> (reason code, column index)


def _unquoted(line: str, delimiter: str) -> list[str]:
    """A broken line's cells: split at every separator, quote characters kept as written."""
    text = line.rstrip("\r\n")
    if not text:
        return []
    return next(csv.reader([text], delimiter=delimiter, quoting=csv.QUOTE_NONE))


def _quote_column(cells: list[str]) -> int:
    for j, c in enumerate(cells):
        if '"' in c:
            return j
    return -1


def _swallows(record: list[str], delimiter: str, width: int) -> bool:
    """A quoted field that runs over a line break and holds a whole record's worth of
    separators: an unclosed quote that ate the lines after it (a legitimate cell with a line
    break, an address say, holds few separators)."""
    need = max(width - 1, 1)
    return any(("\n" in c or "\r" in c) and c.count(delimiter) >= need for c in record)


class _LineFeed:
    """Lines for csv.reader, one at a time, with the lines of the current record kept so that
    reading can resume on the line after a broken record's first line."""

    def __init__(self, source: Iterator[str]):
        self.source = source
        self.back: deque[str] = deque()
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.back.popleft() if self.back else next(self.source)
        self.taken.append(line)
        return line

    def resume_after_first(self) -> str:
        """Give back all lines of the current record but its first; return the first."""
        first, rest = self.taken[0], self.taken[1:]
        self.back.extendleft(reversed(rest))
        self.taken = []
        return first


def iter_records(
    lines: Iterable[str], delimiter: str, first_line: int, width: int, limits: ReadLimits
) -> Iterator[tuple[int, list[str], tuple[str, int] | None]]:
    """(start line, cells, problem or None) of every record, strictly: see the module docstring.

    ``lines``: physical lines with their line breaks (as ``io.StringIO(text, newline="")``
    gives them); ``width``: the usual number of fields (the header's)."""
    feed = _LineFeed(iter(lines))
    line = first_line
    cap = limits.max_cell_chars
    while True:
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        while True:
            feed.taken = []
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if not feed.taken:  # nothing was read: the end
                    return
                broken = feed.resume_after_first()
                cells = _unquoted(broken, delimiter)
                code = (
                    "row_unclosed_quote"
                    if "end of data" in str(exc) or "newline inside" in str(exc)
                    else "row_bad_quoting"
                )
                yield line, cells, (code, _quote_column(cells))
                line += 1
                break  # a fresh reader: the failed one may hold a half-read field
            span = len(feed.taken)
            if span > 1 and (len(record) != width or _swallows(record, delimiter, width)):
                broken = feed.resume_after_first()
                cells = _unquoted(broken, delimiter)
                yield line, cells, ("row_unclosed_quote", _quote_column(cells))
                line += 1
                break
            problem = None
            if record and max(map(len, record)) > cap:
                j = max(range(len(record)), key=lambda k: len(record[k]))
                problem = ("cell_too_long", j)
            yield line, record, problem
            line += span


def csv_records(
    text: str,
    delimiter: str,
    first_line: int = 1,
    width: int | None = None,
    limits: ReadLimits | None = None,
    lengths: bool = True,
) -> CsvRecords:
    """Every record of ``text``, strictly (see the module docstring).

    The csv module's own loop reads a well-formed text; only when it finds broken quoting (an
    error, or a record over several lines that is not a plain quoted line break) is the text
    read again record by record, resuming after each broken line. ``lengths=False``: the caller
    checks cell lengths itself (column-wise, see _bound_cells) on a well-formed text."""
    limits = limits or current_limits()
    rows: list[list[str]] = []
    starts: list[int] = []
    line = first_line
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    ok = True
    try:
        for record in reader:
            rows.append(record)
            starts.append(line)
            line = first_line + reader.line_num
    except csv.Error:
        ok = False
    if width is None:  # the usual record width (title rows above the header are few)
        counts = Counter(len(r) for r in rows[:1000] if r)
        if counts:
            width = counts.most_common(1)[0][0]
        else:
            width = len(_unquoted(io.StringIO(text, newline="").readline(), delimiter)) or 1
    if ok and rows:
        st = np.asarray(starts, dtype=np.int64)
        span = np.diff(np.r_[st, line])
        for i in np.flatnonzero(span > 1):
            r = rows[i]
            if len(r) != width or _swallows(r, delimiter, width):
                ok = False
                break
    if ok:
        problems: dict[int, tuple[str, int]] = {}
        if lengths and rows and len(text) > limits.max_cell_chars:  # else no cell can be longer
            for i, r in enumerate(rows):
                if r and max(map(len, r)) > limits.max_cell_chars:
                    j = max(range(len(r)), key=lambda k: len(r[k]))
                    problems[i] = ("cell_too_long", j)
        return CsvRecords(rows, starts, problems)
    rows, starts, problems = [], [], {}
    for start, cells, problem in iter_records(
        io.StringIO(text, newline=""), delimiter, first_line, width, limits
    ):
        if problem is not None:
            problems[len(rows)] = problem
        rows.append(cells)
        starts.append(start)
    return CsvRecords(rows, starts, problems)


def cut_long(rows: list[list[str]], problems: dict, cap: int) -> None:
    for i, (code, j) in problems.items():
        if code == "cell_too_long":
            text = rows[i][j]
            rows[i][j] = f"{text[:200]}…（共 {len(text):,} 字符，超过上限 {cap:,}）"
