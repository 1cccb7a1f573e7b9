"""Contract tables: where they go, how they are written, and the xlsx workbook with Chinese headers.

Every table a report shows is written with :func:`write_table` as ``<name>.csv`` (UTF-8 with BOM,
so Excel opens it; stable snake_case columns per the data contract §5; rates as fractions in
[0, 1]) into :func:`tables_dir`. :func:`build_workbook` gathers every CSV under a tables folder
into one ``报表汇总.xlsx`` with Chinese headers and sheet names and percent-formatted rate columns.

Chinese headers and sheet titles come from two registries that any module extends at import time::

    from helpers.tables import register_headers, register_table_titles
    register_headers({"visits": "走访次数"}, rates=("follow_rate",))
    register_table_titles({"visits_progress": "访企拓岗进度"})

:func:`write_table` refuses a column without a Chinese header, so a missing registration shows up
where the table is written. :func:`build_workbook` runs in another process (the runner) and
therefore imports :data:`HEADER_MODULES` first: a module that registers headers belongs in that list.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import inert

WORKBOOK_NAME = "报表汇总.xlsx"
# Modules that call register_headers / register_table_titles at import; build_workbook imports the
# ones that exist so the runner process knows every header.
HEADER_MODULES: tuple[str, ...] = (
    "helpers.placement",
    "helpers.majors",
    "helpers.followup",
    "helpers.disclosure",
    "helpers.runner",
    "helpers.quality",
    "helpers.followup.visits",
    "helpers.followup.submissions",
    "helpers.timeliness",
    "helpers.explore",
)

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31

# --- registries --------------------------------------------------------------------------------
ZH_HEADERS: dict[str, str] = {}
"""snake_case column -> Chinese header (extend with :func:`register_headers`)."""
TABLE_TITLES: dict[str, str] = {}
"""table name -> Chinese title, used as the sheet name (extend with :func:`register_table_titles`)."""
RATE_COLUMNS: set[str] = set()
"""Columns holding fractions in [0, 1] (shown as percentages)."""
DIFFERENCE_COLUMNS: set[str] = set()
"""Columns holding differences of fractions in [-1, 1] (shown as percentages)."""

# Name patterns that make a column a rate / a difference without registering it explicitly.
_RATE_SUFFIXES = ("_rate", "_share", "ci_low", "ci_high", "_limit")
_DIFFERENCE_SUFFIXES = ("gap", "_change", "_jump")


def register_headers(
    headers: Mapping[str, str], *, rates: Iterable[str] = (), differences: Iterable[str] = ()
) -> None:
    """Add Chinese headers (and mark rate / difference columns).

    Registering the same header twice is fine; a different Chinese header for a column that already
    has one raises, so one column means the same thing in every table.
    """
    for col, zh in headers.items():
        if not _SNAKE.match(col):
            raise ValueError(f"column names must be snake_case ASCII, got {col!r}")
        if not isinstance(zh, str) or not zh.strip():
            raise ValueError(f"empty Chinese header for column {col!r}")
        old = ZH_HEADERS.get(col)
        if old is not None and old != zh:
            raise ValueError(
                f"column {col!r} already has the Chinese header {old!r}; use the same header or "
                f"another column name (asked for {zh!r})"
            )
        ZH_HEADERS[col] = zh
    for col in rates:
        RATE_COLUMNS.add(col)
    for col in differences:
        DIFFERENCE_COLUMNS.add(col)


def register_table_titles(titles: Mapping[str, str]) -> None:
    """Add Chinese table titles (sheet names: at most 31 characters, no ``[]:*?/\\``)."""
    for name, title in titles.items():
        if not _SNAKE.match(name):
            raise ValueError(f"table names must be snake_case ASCII, got {name!r}")
        if len(title) > SHEET_NAME_MAX or _SHEET_FORBIDDEN.search(title) or not title.strip():
            raise ValueError(
                f"title {title!r} of table {name!r} cannot be a sheet name (1–31 characters, "
                "none of []:*?/\\)"
            )
        old = TABLE_TITLES.get(name)
        if old is not None and old != title:
            raise ValueError(f"table {name!r} already has the title {old!r} (asked for {title!r})")
        TABLE_TITLES[name] = title


def is_rate_column(col: str) -> bool:
    """Fraction in [0, 1] (registered, or named ``*_rate``, ``*_share``, ``ci_low``, ...)."""
    if col in DIFFERENCE_COLUMNS:
        return False
    return col in RATE_COLUMNS or col.endswith(_RATE_SUFFIXES)


def is_difference_column(col: str) -> bool:
    """Difference of two fractions, in [-1, 1] (registered, or named ``gap``, ``*_change``, ...)."""
    return col in DIFFERENCE_COLUMNS or col.endswith(_DIFFERENCE_SUFFIXES)


def is_percent_column(col: str) -> bool:
    return is_rate_column(col) or is_difference_column(col)


def zh_header(col: str) -> str:
    try:
        return ZH_HEADERS[col]
    except KeyError:
        raise KeyError(
            f"column {col!r} has no Chinese header: add it with "
            "helpers.tables.register_headers({...}) in the module that makes the table"
        ) from None


# Columns of the contract tables (data contract §5) and of the placement analyses.
register_headers(
    {
        # keys
        "university_code": "院校代码",
        "university_name": "院校名称",
        "school_level": "办学层次",
        "ownership": "办学性质",
        "city": "所在地",
        "scope": "范围",
        "report_university": "报告院校代码",
        "report_folder": "报表目录",
        "cohort": "毕业年份",
        "snapshot_date": "统计日期",
        "month_day": "月日",
        "education_level": "学历层次",
        "discipline_code": "学科门类/专业大类代码",
        "discipline_name": "学科门类/专业大类",
        "major_code": "专业代码",
        "major_name": "专业名称",
        "department": "所在院系",
        "gender": "性别",
        "urban_rural": "城乡生源",
        "group": "帮扶群体",
        "dimension": "分组维度",
        "category": "类别",
        "rule": "统计口径",
        "bucket": "毕业去向类别",
        "signal": "预警信号",
        # counts
        "graduates": "毕业生数",
        "placed": "已落实人数",
        "not_placed": "未落实人数",
        "known": "已登记去向人数",
        "count": "人数",
        "newly_placed": "新增落实人数",
        "not_placed_before": "上期未落实人数",
        "universities": "院校数",
        "rank": "排名",
        # rates and intervals
        "placement_rate": "毕业去向落实率",
        "ci_low": "置信区间下限",
        "ci_high": "置信区间上限",
        "coverage_rate": "去向登记覆盖率",
        "baseline_rate": "上年初次毕业去向落实率",
        "below_baseline": "低于上年落实率",
        "policy_rate": "全省平均水平（政策线）",
        "below_policy_rate": "低于全省平均水平",
        "provincial_rate": "全省汇总落实率",
        "university_rate": "本校落实率",
        "gap": "与本校差距",
        "target_met": "达到通知要求",
        "target": "通知要求",
        "evidence_level": "证据等级",
        "evidence_label": "证据等级说明",
        "share": "占比",
        "funnel_zone": "漏斗图位置",
        "funnel_z": "标准化偏离（z）",
        "alert_low_limit": "95%控制下限",
        "alert_high_limit": "95%控制上限",
        "alarm_low_limit": "99.8%控制下限",
        "alarm_high_limit": "99.8%控制上限",
        "previous_snapshot_date": "上期统计日期",
        "previous_rate": "上期落实率",
        "rate_change": "较上期变化",
        "last_year_snapshot_date": "上年同期统计日期",
        "last_year_rate": "上年同期落实率",
        "last_year_change": "较上年同期变化",
        "previous_cohort_rate": "上届同期落实率",
        "cohort_change": "较上届同期变化",
        "flexible_share": "灵活就业占比",
        "freelance_share": "自由职业占比",
        "self_employed_share": "自主创业占比",
        "rate_jump": "两期落实率跃升",
        "conversion_rate": "未落实者新增落实比例",
        "flagged": "是否预警",
        "flag_level": "预警级别",
        # contract tables written by other modules (data contract §5)
        "window_start": "统计起始日期",
        "window_end": "统计截止日期",
        "events": "场次",
        "employers": "参会用人单位数",
        "positions": "岗位数",
        "student_visits": "参与学生人次",
        "visits": "走访次数",
        "distinct_employers": "走访用人单位数",
        "new_employers_h1": "上半年新开拓用人单位数",
        "target_visits": "走访目标",
        "target_new_employers": "新开拓用人单位目标",
        "on_track": "进度达标",
        "follow_rate": "平台关注率",
        "binding_rate": "辅导员绑定率",
        "registration_rate": "毕业去向登记率",
        "compliant_3x3": "达到“3个3”人数",
        "compliance_rate": "“3个3”达标率",
        "reason": "约谈事由",
        "evidence": "依据",
        "suppressed": "数据保护说明",
    },
    rates=("share",),
)

register_table_titles(
    {
        "placement_headline": "总体情况",
        "placement_by_university": "各高校落实率",
        "placement_below_policy": "低于全省平均水平的高校",
        "placement_by_level": "按学历层次",
        "placement_by_discipline": "按学科门类与专业大类",
        "placement_by_gender": "按性别",
        "placement_by_urban_rural": "按城乡生源",
        "placement_by_group": "困难群体落实率",
        "placement_by_major": "各专业点落实率",
        "placement_by_department": "各院系落实率",
        "destination_mix": "毕业去向构成",
        "warning_signals": "疑似异常预警",
        "progress": "落实进度",
        "movers": "较上期变化最大的高校",
        "funnel_overdispersion": "漏斗图离散度检验",
        "recruitment_by_window": "校园招聘分期统计",
        "visits_progress": "访企拓岗进度",
        "platform_progress": "平台关注与绑定",
        "assistance_compliance": "“3个3”帮扶达标",
        "interview_list": "约谈名单",
    }
)


# --- paths and writing -------------------------------------------------------------------------
def tables_dir(reports_dir: str | Path, as_of: dt.date, university: str | None = None) -> Path:
    """Folder for a report's tables (not created here; :func:`write_table` creates it).

    Province: ``<reports_dir>/<as_of>/tables``; university:
    ``<reports_dir>/<as_of>/tables/universities/<code>``.
    """
    base = Path(reports_dir) / as_of.isoformat() / "tables"
    if university is None:
        return base
    code = str(university).strip()
    if not re.fullmatch(r"\d{5}", code):
        raise ValueError(f"university must be a 5-digit 院校代码, got {university!r}")
    return base / "universities" / code


def _check_values(df: pd.DataFrame, name: str) -> None:
    """Rate columns hold numbers in [0, 1] (differences in [-1, 1]); the first offending row is
    named. Plain numpy number columns (nearly every table) are checked on their array directly;
    any other column (text, object, nullable, categorical, dates) is first converted with
    ``pd.to_numeric`` as before, so the same values are accepted."""
    for col in df.columns:
        if not is_percent_column(col):
            continue
        s = df[col]
        if isinstance(s.dtype, np.dtype) and s.dtype.kind == "b":
            continue  # True/False count as 1/0: always in range
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiu":
            num, values = s, s.to_numpy()
        else:
            num = pd.to_numeric(s, errors="coerce")
            bad_type = num.isna().to_numpy(dtype=bool) & s.notna().to_numpy(dtype=bool)
            if bad_type.any():
                row = int(np.argmax(bad_type))
                raise ValueError(
                    f"table {name!r}, column {col!r}, row {row}: not a number "
                    f"({s.iloc[row]!r}); rates are fractions"
                )
            if isinstance(num.dtype, np.dtype):
                values = num.to_numpy()
            else:  # nullable / Arrow numbers: missing values become NaN, which is never out of range
                values = num.to_numpy(dtype=float, na_value=np.nan)
        low = -1.0 if is_difference_column(col) else 0.0
        out = (values < low - 1e-12) | (values > 1 + 1e-12)
        if out.any():
            row = int(np.argmax(out))
            raise ValueError(
                f"table {name!r}, column {col!r}, row {row}: {num.iloc[row]!r} is outside "
                f"[{low:g}, 1]; rates are fractions, not percentages"
            )


def write_table(df: pd.DataFrame, name: str, directory: str | Path) -> Path:
    """Write ``df`` as ``<directory>/<name>.csv`` (UTF-8 with BOM) and return the path.

    The index is not written: keys must be columns. Every column needs a snake_case name and a
    Chinese header in :data:`ZH_HEADERS`; rate columns must hold fractions in [0, 1] (differences in
    [-1, 1]); missing values stay empty cells, never 0. The file is replaced atomically.
    """
    if not _SNAKE.match(name):
        raise ValueError(f"table name must be snake_case ASCII, got {name!r}")
    if name not in TABLE_TITLES:
        raise ValueError(
            f"table {name!r} has no Chinese title: add it with "
            "helpers.tables.register_table_titles({...})"
        )
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        raise ValueError(f"table {name!r} has duplicate columns: {cols}")
    bad = [c for c in cols if not _SNAKE.match(c)]
    if bad:
        raise ValueError(f"table {name!r}: columns must be snake_case ASCII, got {bad}")
    missing = [c for c in cols if c not in ZH_HEADERS]
    if missing:
        raise ValueError(
            f"table {name!r}: no Chinese header for {missing}; add them with "
            "helpers.tables.register_headers({...})"
        )
    _check_values(df, name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    # dates as YYYY-MM-DD (on a copy, only when there are any: to_csv does not change ``df``)
    dates = [c for c, t in df.dtypes.items() if pd.api.types.is_datetime64_any_dtype(t)]
    # text cells that a spreadsheet would evaluate as a formula get a leading apostrophe
    text = [c for c, t in df.dtypes.items() if _is_text_dtype(t) and _has_formula_cell(df[c])]
    out = df.copy() if dates or text else df
    for col in dates:
        out[col] = out[col].dt.strftime("%Y-%m-%d")
    for col in text:
        out[col] = out[col].astype(object).map(inert.csv_cell)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _is_text_dtype(dtype) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _has_formula_cell(s: pd.Series) -> bool:
    """Whether any text cell would be neutralised (cheap: looks at the first characters only)."""
    values = s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else s
    triggers = inert.CSV_TRIGGERS
    # a plain loop over the cells: a Series.map per text column of every table cost more than the
    # rest of writing the table (missing cells are not str; "" is no trigger)
    return any(
        isinstance(v, str) and v.lstrip("'")[:1] in triggers for v in values.to_numpy(dtype=object)
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table`, codes kept as strings.

    Columns named ``*_code`` / ``*_id`` / ``university_code`` stay text (leading zeros, T/K
    suffixes); other columns whose every value is numeric become numbers; ``True``/``False`` become
    booleans (nullable); empty cells are missing.
    """
    # column by column on plain arrays: the workbook reads every table of a period (thousands of
    # files on the province set), and pandas' per-Series calls cost more than the parsing
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    out = {col: _typed_column(col, raw[col].to_numpy(dtype=object)) for col in raw.columns}
    return pd.DataFrame(out, index=raw.index)


def _typed_column(col: str, values: np.ndarray):
    """One column of :func:`read_table` from its cells as read (str, "" when empty)."""
    missing = values == ""
    if any(v.startswith("'") for v in values):  # undo write_table's formula neutralisation
        values = np.array([inert.csv_plain(v) if v else v for v in values], dtype=object)
    if col.endswith(("_code", "_id")) or col in ("report_university", "report_folder"):
        return _text_array(values, missing)
    present = values[~missing]
    if len(present) and all(v == "True" or v == "False" for v in present):
        return pd.array(np.where(missing, None, values == "True"), dtype="boolean")
    # the missing cells as None: to_numeric then gives float64 with NaN, as for a Series with NA
    num = pd.to_numeric(
        np.where(missing, None, values) if missing.any() else values, errors="coerce"
    )
    if len(present) and not np.isnan(num[~missing].astype(float)).any():
        return num
    return _text_array(values, missing)


def _text_array(values: np.ndarray, missing: np.ndarray):
    return pd.array(np.where(missing, None, values), dtype="string")


# --- workbook ----------------------------------------------------------------------------------
def _import_header_modules() -> None:
    for mod in HEADER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # the module exists but something it imports is missing
                raise


def _sheet_name(title: str, used: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", title).strip()[:SHEET_NAME_MAX] or "表"
    name, i = base, 2
    while name.lower() in used:
        suffix = f"~{i}"
        name = base[: SHEET_NAME_MAX - len(suffix)] + suffix
        i += 1
    used.add(name.lower())
    return name


def _gather(tables_root: Path) -> list[tuple[str, str, pd.DataFrame, str]]:
    """(table name, title, frame, source description) for every sheet of the workbook.

    CSVs directly in ``tables_root`` become one sheet each; CSVs in sub-folders (one university's
    tables under ``universities/<code>/``) are stacked per table name into one sheet, with a first
    column saying which report each row belongs to.
    """
    sheets: list[tuple[str, str, pd.DataFrame, str]] = []
    stacked: dict[str, list[pd.DataFrame]] = {}
    sources: dict[str, int] = {}
    order = {name: i for i, name in enumerate(TABLE_TITLES)}
    paths = sorted(
        tables_root.rglob("*.csv"),
        key=lambda p: (
            len(p.relative_to(tables_root).parts) > 1,
            order.get(p.stem, len(order)),
            p.as_posix(),
        ),
    )
    for path in paths:
        rel = path.relative_to(tables_root)
        name = path.stem
        if name not in TABLE_TITLES:
            raise ValueError(
                f"{path}: table {name!r} has no Chinese title; register it with "
                "helpers.tables.register_table_titles (and list the module in "
                "helpers.tables.HEADER_MODULES)"
            )
        df = read_table(path)
        unknown = [c for c in df.columns if c not in ZH_HEADERS]
        if unknown:
            raise ValueError(
                f"{path}: no Chinese header for columns {unknown}; register them with "
                "helpers.tables.register_headers (and list the module in "
                "helpers.tables.HEADER_MODULES)"
            )
        if len(rel.parts) == 1:
            sheets.append((name, TABLE_TITLES[name], df, rel.as_posix()))
            continue
        parent = rel.parent.parts
        if len(parent) == 2 and parent[0] == "universities":
            df.insert(0, "report_university", parent[1])
        else:
            df.insert(0, "report_folder", rel.parent.as_posix())
        stacked.setdefault(name, []).append(df)
        sources[name] = sources.get(name, 0) + 1
    for name, frames in stacked.items():  # already in title order
        df = pd.concat(frames, ignore_index=True)
        sheets.append((name, "各校·" + TABLE_TITLES[name], df, f"{sources[name]} 个院校报表目录"))
    return sheets


def build_workbook(tables_root: str | Path, out: str | Path | None = None) -> Path:
    """Gather every CSV under ``tables_root`` into ``<tables_root>/报表汇总.xlsx`` (or ``out``)
    and return it.

    First sheet: a table of contents. Then one sheet per table with Chinese headers and sheet
    names, rates formatted as percentages, booleans as 是/否, frozen header row and filters.
    """
    tables_root = Path(tables_root)
    if not tables_root.is_dir():
        raise FileNotFoundError(f"tables folder {tables_root} does not exist")
    _import_header_modules()
    sheets = _gather(tables_root)
    out = Path(out) if out is not None else tables_root / WORKBOOK_NAME
    fd, tmp = tempfile.mkstemp(prefix=".workbook.", suffix=".xlsx", dir=out.parent)
    os.close(fd)
    try:
        _write_workbook(Path(tmp), sheets)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _cell(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _column_cells(s: pd.Series) -> list:
    """:func:`_cell` of every value of a column, converted at once where the dtype allows."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu":
        return s.tolist()
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in s.tolist()]
    return [_cell(v) for v in s.to_numpy(dtype=object)]


def _write_rows(ws, df: pd.DataFrame) -> None:
    """The cells of ``df`` below the header row, row by row (the order fixes the shared strings)."""
    columns = [_column_cells(df.iloc[:, j]) for j in range(df.shape[1])]
    for i, row in enumerate(zip(*columns, strict=True), start=1):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(i, j, v)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                ws.write_number(i, j, v)
            else:
                ws.write(i, j, v)


def _write_workbook(path: Path, sheets: list[tuple[str, str, pd.DataFrame, str]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "in_memory": True,  # no temporary file per sheet: the same file, made faster
        },
    )
    try:
        head = wb.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#e8e8e8", "border": 1}
        )
        pct = wb.add_format({"num_format": "0.0%"})
        used: set[str] = set()
        toc = wb.add_worksheet(_sheet_name("目录", used))
        toc_rows = []
        for name, title, df, source in sheets:
            sheet = _sheet_name(title, used)
            toc_rows.append((sheet, name, source, len(df)))
            ws = wb.add_worksheet(sheet)
            for j, col in enumerate(df.columns):
                zh = ZH_HEADERS[col]
                ws.write(0, j, zh, head)
                width = max(len(zh) * 2, 8)
                fmt = pct if is_percent_column(col) else None
                ws.set_column(j, j, min(width, 40), fmt)
            _write_rows(ws, df)
            ws.freeze_panes(1, 0)
            if len(df.columns):
                ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
        for j, header in enumerate(("工作表", "表名（CSV）", "来源", "行数")):
            toc.write(0, j, header, head)
        for i, (sheet, name, source, nrows) in enumerate(toc_rows, start=1):
            toc.write_url(i, 0, f"internal:'{sheet}'!A1", string=sheet)
            toc.write_string(i, 1, f"{name}.csv")
            toc.write_string(i, 2, source)
            toc.write_number(i, 3, nrows)
        toc.set_column(0, 0, 34)
        toc.set_column(1, 1, 34)
        toc.set_column(2, 2, 30)
    finally:
        wb.close()


# --- notebook display --------------------------------------------------------------------------
def display_frame(
    df: pd.DataFrame, columns: Iterable[str] | None = None, digits: int = 1, missing: str = "—"
) -> pd.DataFrame:
    """A small aggregate table for reading: Chinese headers, percentages, 是/否, no index.

    Only for aggregated tables (never records). Returns strings, so the notebook shows exactly what
    a reader sees; suppressed / missing values show as ``missing`` ("—"), never as 0. Where a
    ``<col>_display`` column exists (written by :mod:`helpers.disclosure`), it is shown instead of
    ``<col>``.
    """
    cols = (
        list(columns)
        if columns is not None
        else [c for c in df.columns if not str(c).endswith("_display")]
    )
    out = {}
    for col in cols:
        s = df[col]
        shown = f"{col}_display"
        if shown in df.columns:  # disclosure control already decided what a reader sees
            text = [missing if pd.isna(v) else str(v) for v in df[shown].astype(object)]
        elif is_percent_column(col):
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            sign = "+" if is_difference_column(col) else ""
            text = [missing if np.isnan(v) else f"{v * 100:{sign}.{digits}f}%" for v in num]
        elif pd.api.types.is_bool_dtype(s.dtype) or str(s.dtype) == "boolean":
            text = [
                "是"
                if v is True or v is np.True_
                else "否"
                if v is False or v is np.False_
                else missing
                for v in s.astype(object)
            ]
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            text = [missing if pd.isna(v) else v.strftime("%Y-%m-%d") for v in s]
        elif pd.api.types.is_float_dtype(s.dtype):
            text = [missing if np.isnan(v) else f"{v:,.2f}" for v in s.to_numpy(dtype=float)]
        elif pd.api.types.is_integer_dtype(s.dtype):
            text = [missing if pd.isna(v) else f"{int(v):,}" for v in s.astype(object)]
        else:
            text = [missing if pd.isna(v) else str(v) for v in s.astype(object)]
        out[zh_header(col)] = text
    return ShownTable(out)


class ShownTable(pd.DataFrame):
    """A table as a reader sees it (what :func:`display_frame` returns): shown by
    :func:`frame_html`, so without the pandas index and without any cell cut short. Anything
    derived from it (a slice, a copy) is a plain DataFrame again."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return frame_html(self)


TABLE_CLASS = "report-table"  # the scrolling box around every displayed table (report.css)
_NUMBER_LIKE = re.compile(r"^[\s+\-−]*[0-9][0-9,.\s]*(%|个百分点)?$|^[—–-]?$")


def _names_rows(values: np.ndarray) -> bool:
    """Whether a first column (its cells as an object array) names its rows (a university, a
    group, a file), not a count or a rate: it then stays in view when the table scrolls sideways
    (report.css)."""
    text = [str(v) for v in values if not pd.isna(v)]
    return bool(text) and sum(not _NUMBER_LIKE.match(t) for t in text) * 2 > len(text)


# What pandas' to_html does to a text cell: control characters shown escaped, then HTML escaped
_CELL_ESCAPES = (
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
)


def _text_cells(df: pd.DataFrame) -> list | None:
    """The columns of a table whose every column has pandas' str dtype (what
    :func:`display_frame` returns) as object arrays (text, or a missing value); None for any other
    table (pandas then writes its HTML)."""
    if (
        not len(df)
        or not df.shape[1]
        or not isinstance(df.index, pd.RangeIndex)
        or isinstance(df.columns, pd.MultiIndex)
        or df.columns.name is not None
        or not all(isinstance(c, str) for c in df.columns)
        # pandas' default str dtype (NaN when missing; "string" shows <NA> whatever na_rep says)
        or not all(isinstance(t, pd.StringDtype) and t.na_value is not pd.NA for t in df.dtypes)
    ):
        return None
    return [df.iloc[:, i].to_numpy(dtype=object) for i in range(df.shape[1])]


def _cell_html(value, escapes=_CELL_ESCAPES) -> str:
    if not isinstance(value, str):
        return "—"  # frame_html's na_rep
    for char, escaped in escapes:
        if char in value:
            value = value.replace(char, escaped)
    return value.strip().replace("  ", "&nbsp;&nbsp;")


def _text_table_html(columns: list[str], cells: list, classes: list[str]) -> str:
    """``DataFrame.to_html(index=False, border=0, escape=True, na_rep="—")`` of a text table,
    written directly (tests check it is the same text): pandas' writer costs several
    milliseconds per table, most of a displayed table's cost."""
    lines = [f'<table class="{" ".join(["dataframe", *classes])}">', "  <thead>"]
    lines.append('    <tr style="text-align: right;">')
    # headers keep their control characters (pandas escapes them in cells only)
    lines += [f"      <th>{_cell_html(c, _CELL_ESCAPES[3:])}</th>" for c in columns]
    lines += ["    </tr>", "  </thead>", "  <tbody>"]
    for row in zip(*cells, strict=True):
        lines.append("    <tr>")
        lines += [f"      <td>{_cell_html(v)}</td>" for v in row]
        lines.append("    </tr>")
    lines += ["  </tbody>", "</table>"]
    return "\n".join(lines)


def frame_html(df: pd.DataFrame) -> str:
    """The HTML of a displayed table: every cell in full (pandas' notebook display cuts cells at
    ``display.max_colwidth`` and rows at ``display.max_rows``), no row numbers (an index that only
    numbers rows is dropped; a named index becomes the first columns), text escaped, in a box of
    its own that scrolls sideways on a narrow screen.

    A ranking shows its rank as a column headed 排名 (``rank``), never as the index.
    """
    if any(name is not None for name in df.index.names):
        df = df.reset_index()
    elif not pd.api.types.is_integer_dtype(df.index.dtype):  # labels without a name
        df = df.reset_index(names=[""] * df.index.nlevels)
    cells = _text_cells(df)
    columns = cells or [df.iloc[:, i].to_numpy(dtype=object) for i in range(df.shape[1])]
    text = [_names_rows(column) for column in columns] if len(df) else []
    classes = ["first-col-names"] if len(text) > 1 and text[0] else []
    if cells is None:
        table = df.to_html(
            index=False,
            border=0,
            escape=True,
            na_rep="—",
            classes=classes,
            max_rows=None,
            max_cols=None,
            show_dimensions=False,
        )
    else:
        table = _text_table_html([str(c) for c in df.columns], cells, classes)
    if any(text):
        table = _mark_text_columns(table, text)
    return f'<div class="{TABLE_CLASS}">\n{table}\n</div>'


_CELL = re.compile(r"<(td|th)>")


def _mark_text_columns(table: str, text: list[bool]) -> str:
    """Give the cells of text columns ``class="text"`` (left-aligned; numbers stay right-aligned).
    The body has exactly one ``<td>`` per column in each row (no index, so no row spans); header
    rows are marked only when they have one ``<th>`` per column."""
    head_end = table.find("</thead>")
    head, body = (table[:head_end], table[head_end:]) if head_end >= 0 else ("", table)
    n = len(text)

    def marker():
        i = -1

        def mark(m: re.Match) -> str:
            nonlocal i
            i += 1
            return f'<{m.group(1)} class="text">' if text[i % n] else m.group(0)

        return mark

    if head and all(row.count("<th>") == n for row in head.split("<tr")[1:]):
        head = _CELL.sub(marker(), head)
    return head + _CELL.sub(marker(), body)


def install_display_formatter() -> bool:
    """Show every DataFrame of the running IPython kernel with :func:`frame_html` (the runner's
    reset cell calls this, so a table a notebook shows without :func:`display_frame` has no row
    numbers and no cut cells either). False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    if ip is None:
        return False
    ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
    return True
