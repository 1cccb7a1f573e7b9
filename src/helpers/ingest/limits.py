"""Bounds on every input file, checked before (or while) it is read: the one place they are set.

A file over a bound is quarantined whole with a named reason (``helpers.ingest.quarantine``); a
cell over :attr:`ReadLimits.max_cell_chars` quarantines its row. The checks read metadata only
(file size, the zip's central directory, the first bytes of each worksheet, the sheet range
python-calamine reports before it builds any cell), never an extra pass over the data.

Defaults suit the province's exports with a wide margin (a graduates sheet of 1,048,576 rows and
19 columns fits ``max_sheet_cells``). Change them here, or for one run with environment
variables ``PLACEMENT_INGEST_<FIELD>`` (e.g. ``PLACEMENT_INGEST_MAX_CELL_CHARS=65535``); the
values in force are recorded in each processed folder's manifest and a change re-ingests.
See docs/ingest.md, "Bounds".
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

ENV_PREFIX = "PLACEMENT_INGEST_"


@dataclass(frozen=True)
class ReadLimits:
    # a cell longer than this quarantines its row (Excel's own limit per cell)
    max_cell_chars: int = 32_767
    # any input file (the bulk path streams CSV/Parquet, so national exports fit)
    max_file_bytes: int = 16 * 1024**3
    # a workbook (.xlsx/.xls/...) file; a full 1,048,576-row graduates sheet is about 80 MB
    max_workbook_bytes: int = 512 * 1024**2
    # a CSV read whole by the regular reader (larger ones go to the streamed bulk path unless
    # PLACEMENT_INGEST_BULK=never; this bounds that reader's memory)
    max_csv_regular_bytes: int = 1024**3
    # cells of one sheet, counted from A1 to its last cell (the area the reader materialises)
    max_sheet_cells: int = 20_000_000
    # the xlsx zip: all entries decompressed, one entry's compression ratio (zip bombs), and the
    # shared-strings part (every distinct text of the workbook)
    max_unzipped_bytes: int = 2 * 1024**3
    max_compression_ratio: int = 100  # Apache POI's default for its zip-bomb check (1 / 0.01)
    ratio_min_bytes: int = 1024**2  # entries smaller than this are not ratio-checked
    max_shared_strings_bytes: int = 256 * 1024**2

    def describe(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def current() -> ReadLimits:
    """The defaults above, with ``PLACEMENT_INGEST_<FIELD>`` environment overrides (integers)."""
    values = {}
    for f in dataclasses.fields(ReadLimits):
        raw = os.environ.get(ENV_PREFIX + f.name.upper())
        if raw is None or not raw.strip():
            continue
        try:
            value = int(raw.replace("_", "").strip())
        except ValueError:
            raise ValueError(
                f"{ENV_PREFIX}{f.name.upper()} must be an integer, not {raw!r}"
            ) from None
        if value <= 0:
            raise ValueError(f"{ENV_PREFIX}{f.name.upper()} must be positive, not {value}")
        values[f.name] = value
    return ReadLimits(**values)


def mib(n: int) -> str:
    """Bytes as readable text for reasons (``512 MiB``, ``2 GiB``)."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"
