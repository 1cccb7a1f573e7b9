"""Write laid-out sheets as .xlsx (xlsxwriter), .xls (xlwt) or .csv, byte-for-byte reproducibly.

A sheet is a list of rows exactly as they appear in the file (title, header, data, footer rows);
cells are ``str``, ``int``/``float`` (numeric cells), ``datetime.date`` (date cells) or ``None``.
xlsx files get a fixed document timestamp (xlsxwriter writes fixed zip entry times itself), so
the same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

FIXED_CREATED = dt.datetime(2023, 1, 1, 8, 0, 0)


@dataclass
class Sheet:
    name: str
    rows: list[list]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # (r1, c1, r2, c2)


def write_xlsx(path: Path, sheets: list[Sheet], created: dt.datetime = FIXED_CREATED) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": created, "author": "", "comments": ""})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    title_fmt = wb.add_format({"bold": True, "align": "center"})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        merged_rows = {}
        for r1, c1, r2, c2 in sheet.merges:
            merged_rows[r1] = (c1, r2, c2)
        ws_string, ws_number, ws_date = ws.write_string, ws.write_number, ws.write_datetime
        for r, row in enumerate(sheet.rows):
            if r in merged_rows:
                c1, r2, c2 = merged_rows[r]
                ws.merge_range(r, c1, r2, c2, row[c1] if row else "", title_fmt)
                continue
            for c, v in enumerate(row):
                if v is None:
                    continue
                t = type(v)
                if t is str:
                    ws_string(r, c, v)
                elif t is int or t is float:
                    ws_number(r, c, v)
                elif t is dt.date or t is dt.datetime:
                    ws_date(r, c, v if t is dt.datetime else dt.datetime(v.year, v.month, v.day), date_fmt)
                else:
                    ws_string(r, c, str(v))
    wb.close()


def write_xls(path: Path, sheets: list[Sheet]) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for sheet in sheets:
        ws = wb.add_sheet(sheet.name)
        merged = {r1: (c1, r2, c2) for r1, c1, r2, c2 in sheet.merges}
        for r, row in enumerate(sheet.rows):
            if r in merged:
                c1, r2, c2 = merged[r]
                ws.write_merge(r, r2, c1, c2, row[c1] if row else "")
                continue
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, dt.date):
                    ws.write(r, c, dt.datetime(v.year, v.month, v.day), date_style)
                else:
                    ws.write(r, c, v)
    wb.save(str(path))


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if abs(v) < 1e16 else f"{v:.11E}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def csv_bytes(sheet: Sheet, encoding: str) -> tuple[bytes, str]:
    """The CSV text of a sheet encoded strictly; GBK falls back to GB18030 for rare characters."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for row in sheet.rows:
        w.writerow([_csv_cell(v) for v in row])
    text = buf.getvalue()
    try:
        return text.encode(encoding), encoding
    except UnicodeEncodeError:
        return text.encode("gb18030"), "gb18030"


def write_csv(path: Path, sheet: Sheet, encoding: str) -> str:
    data, used = csv_bytes(sheet, encoding)
    path.write_bytes(data)
    return used


def write_corrupt(path: Path, sheets: list[Sheet]) -> None:
    """An .xlsx that cannot be opened: a real workbook cut short (as after a broken upload)."""
    tmp = path.with_suffix(".tmp.xlsx")
    write_xlsx(tmp, sheets)
    data = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(data[: max(64, len(data) // 3)])


def write_sheets(path: Path, sheets: list[Sheet], fmt: str, encoding: str | None = None) -> str | None:
    """Dispatch on format; returns the encoding actually used for CSV (None otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        write_xlsx(path, sheets)
    elif fmt == "xls":
        write_xls(path, sheets)
    elif fmt == "csv":
        return write_csv(path, sheets[0], encoding or "utf-8")
    elif fmt == "corrupt":
        write_corrupt(path, sheets)
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown format {fmt}")
    return None
