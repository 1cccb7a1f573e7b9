"""The privacy scan of a period run: each output scanned as it is written, and a final check.

Workers scan what they write from memory (the executed notebook's JSON text, the HTML page, an
error page) and the tables their report's kernel wrote, right after the report; the main process
scans what it writes itself. Each scan is recorded in a :class:`ScanLedger` with the file's size
and modification time. Before publishing, :func:`final_scan` walks the whole staging folder and
scans every file the ledger does not hold as it is now (never scanned, or changed since): nothing
is published unscanned. The scanner is the period's (:func:`helpers.scanner.period_scanner`):
the same rules and fingerprints as a scan of the finished folder, so exactly as strict.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from helpers.scanner import Hit, Scanner


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


@dataclass
class ScanLedger:
    """Files scanned (path relative to the run folder -> (size, mtime_ns) when scanned), their
    hits, and the seconds spent scanning."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: ScanLedger | None) -> None:
        if other is not None:
            self.files.update(other.files)
            self.hits += other.hits
            self.seconds += other.seconds

    def current(self, run_dir: Path, rel: str) -> bool:
        """Whether the file was scanned as it is now."""
        stamp = self.files.get(rel)
        return stamp is not None and stamp == _stamp(run_dir / rel)

    def hits_of(self, rel: str) -> list[Hit]:
        return [h for h in self.hits if h.file == rel]


class OutputScanner:
    """Scans the outputs of one process as they are written, into its ledger. ``earlier``: the
    scans other processes made (the workers'), whose hits a copy or an archive of their files
    takes over."""

    def __init__(self, run_dir: Path, scanner: Scanner, earlier: ScanLedger | None = None):
        self.run_dir = Path(run_dir)
        self.scanner = scanner
        self.ledger = ScanLedger()
        self.earlier = earlier if earlier is not None else ScanLedger()

    def written(self, path: Path, content: bytes | str) -> None:
        """``path`` was just written with ``content`` (bytes, or text written as UTF-8)."""
        rel = self._rel(path)
        stamp = _stamp(path)  # before scanning: a later rewrite shows as a changed stamp
        self._record(rel, stamp, lambda: self.scanner.scan_content(rel, content))

    def files(self, paths: Iterable[Path]) -> None:
        """Scan files written by someone else (a report's kernel), reading them once."""
        for path in paths:
            rel = self._rel(path)
            stamp = _stamp(path)
            if self.ledger.files.get(rel) != stamp:
                self._record(rel, stamp, lambda p=path: self.scanner.scan_file(p, self.run_dir))

    def copied(self, source: Path, target: Path) -> None:
        """``target`` was just copied from ``source``: the same bytes have the same hits, so a
        source scanned as it is now lends them (renamed); otherwise the copy is scanned."""
        hits = self._hits_now(self._rel(source))
        if hits is None:
            self.files([target])
            return
        rel = self._rel(target)
        self._record(rel, _stamp(target), lambda: [replace(h, file=rel) for h in hits])

    def archived(self, archive: Path, members: list[tuple[str, Path]]) -> None:
        """``archive`` (a zip) was just written with the bytes of ``members`` ((name in the
        archive, file)). The scanner reads each member of a zip as if it stood alone and
        locates its hits as ``<name> <location>``: the members' hits so located are the
        archive's, when every member was scanned as it is now (and could be read); otherwise
        the archive is scanned."""
        rel = self._rel(archive)
        found: list[Hit] = []
        for name, path in members:
            hits = self._hits_now(self._rel(path))
            if hits is None:
                self.files([archive])
                return
            found += [replace(h, file=rel, location=f"{name} {h.location}") for h in hits]
        self._record(rel, _stamp(archive), lambda: found)

    def seen(self) -> ScanLedger:
        """Every scan this process and the earlier ones hold (this process's winning for a
        file both scanned): the ``earlier`` of a worker that goes on from here."""
        seen = ScanLedger(
            dict(self.earlier.files),
            [h for h in self.earlier.hits if h.file not in self.ledger.files],
        )
        seen.files.update(self.ledger.files)
        seen.hits += self.ledger.hits
        return seen

    def _hits_now(self, rel: str) -> list[Hit] | None:
        """The hits of a file scanned (here or earlier) as it is now, None when it was not or
        could not be read (an unreadable file's hit says nothing of a copy's reading)."""
        for ledger in (self.ledger, self.earlier):
            if ledger.current(self.run_dir, rel):
                hits = ledger.hits_of(rel)
                return None if any(h.kind == "unreadable" for h in hits) else hits
        return None

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.run_dir).as_posix()

    def _record(self, rel: str, stamp: tuple[int, int], scan) -> None:
        started = time.perf_counter()
        self.ledger.hits += scan()
        self.ledger.files[rel] = stamp
        self.ledger.seconds += time.perf_counter() - started

    def take(self) -> ScanLedger:
        """The ledger so far, and a new empty one (a worker sends one per report)."""
        ledger, self.ledger = self.ledger, ScanLedger()
        return ledger


def written_since(folder: Path, since_ns: int, recursive: bool) -> list[Path]:
    """Files under ``folder`` modified at or after ``since_ns`` (a report's tables)."""
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.stat().st_mtime_ns >= since_ns)


def final_scan(run_dir: Path, ledger: ScanLedger, scanner: Scanner) -> list[Hit]:
    """Every hit of the run: the ledger's for files it holds as they are now, and those of every
    other file (never scanned, or changed since), scanned here; sorted by file."""
    hits: list[Hit] = []
    current: set[str] = set()
    for path in sorted(p for p in Path(run_dir).rglob("*") if p.is_file()):
        rel = path.relative_to(run_dir).as_posix()
        if ledger.current(run_dir, rel):
            current.add(rel)
        else:
            hits += scanner.scan_file(path, run_dir)
    hits += [h for h in ledger.hits if h.file in current]
    return sorted(hits, key=lambda h: h.file)


def output_scanner(
    run_dir: Path, data_dir: Path, as_of: dt.date, earlier: ScanLedger | None = None
) -> OutputScanner | None:
    """A scanner for the outputs of one process of the run, or None when the period's scanner
    cannot be made (no fingerprints, another key): the final scan then covers every file, as
    :func:`helpers.runner.period.scan` says."""
    from helpers import scanner

    try:
        return OutputScanner(run_dir, scanner.period_scanner(data_dir, as_of), earlier)
    except (FileNotFoundError, ValueError):
        return None
