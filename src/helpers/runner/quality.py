"""Data-quality tables of a run, from ingest's ``files`` / ``quarantine`` / ``repairs`` Parquet.

Pure functions (DataFrame in, DataFrame out) for ``notebooks/data_quality.ipynb``: the
reconciliation per file (rows read = accepted + merged + quarantined), quarantine reasons by
dataset and by university, unreadable files, and the repairs made. Only file names, sheets, row
numbers, columns and reasons leave these functions: the raw row values in ``quarantine.raw`` and
the before/after values of repairs are never returned (``raw`` is read only to find which
university a quarantined row belongs to).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.tables import register_headers, register_table_titles

UNKNOWN_UNIVERSITY = "未能识别院校"
UNKNOWN_LABEL = "（未能识别）"

register_table_titles(
    {
        "data_quality_files": "数据质量·逐文件对账",
        "data_quality_datasets": "数据质量·分数据集对账",
        "data_quality_reasons": "数据质量·隔离原因",
        "data_quality_by_university": "数据质量·分院校隔离原因",
        "data_quality_unreadable": "数据质量·无法读取的文件",
        "data_quality_rows": "数据质量·隔离行号",
        "data_quality_repairs": "数据质量·自动修复",
        "data_quality_repair_rows": "数据质量·修复行号",
    }
)
register_headers(
    {
        "source_file": "源文件",
        "sheet": "工作表",
        "dataset": "数据集",
        "snapshot_date": "统计日期",
        "read_status": "读取状态",
        "rows_read": "读取行数",
        "rows_accepted": "接受行数",
        "rows_merged": "合并行数（重复且一致）",
        "rows_quarantined": "隔离行数",
        "footer_rows": "表尾行数（不计入读取）",
        "balanced": "读取=接受+合并+隔离",
        "file_count": "文件数",
        "row_count": "行数",
        "quarantine_reason_code": "隔离原因代码",
        "quarantine_reason": "隔离原因",
        "column_name": "涉及的列",
        "row_numbers": "行号（文件中的行）",
        "repair_code": "修复代码",
        "repair": "修复说明",
        "university_code": "院校代码",
        "university_name": "院校名称",
    }
)

DATASET_ZH = {
    "graduates": "毕业去向",
    "recruitment": "校园招聘",
    "visits": "访企拓岗",
    "platform": "平台",
    "assistance": "帮扶台账",
    "universities": "院校名单",
    "majors": "专业目录",
    "adjustment_plans": "调整方案报送",
    "submissions": "报送情况",
}
STATUS_ZH = {"ok": "已读取", "unreadable": "无法读取", "ignored_sheet": "工作表无表头（已跳过）"}

FILE_COLUMNS = (
    "source_file",
    "sheet",
    "dataset",
    "snapshot_date",
    "status",
    "rows_read",
    "accepted",
    "merged",
    "quarantined",
    "footer_rows",
)
QUARANTINE_COLUMNS = (
    "source_file",
    "sheet",
    "row",
    "dataset",
    "level",
    "reason_code",
    "reason",
    "column",
)
REPAIR_COLUMNS = ("source_file", "sheet", "row", "dataset", "column", "repair_code", "repair")


def _require(df: pd.DataFrame, columns, name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name}.parquet lacks columns {missing} (written by `placement ingest`; "
            "re-run ingest with the current version)"
        )


def name_redactor(data_dir: Path, as_of: dt.date):
    """How file and sheet names are shown in this period's reports: everything the end-of-run
    privacy scan would find in them (ID and mobile numbers in any formatting, the inputs' 学号 and
    names) replaced by 已隐去, so that a sender's slip in a name never withholds the run. Without
    the period's fingerprints or key, ID and mobile numbers only (:func:`helpers.pii.redact`)."""
    from helpers import pii, scanner

    try:
        return scanner.period_scanner(data_dir, as_of).redact
    except (FileNotFoundError, ValueError):
        return pii.redact


def with_shown_names(frame: pd.DataFrame, redact) -> pd.DataFrame:
    """``frame`` with its ``source_file`` and ``sheet`` columns passed through ``redact``."""
    cols = [c for c in ("source_file", "sheet") if c in frame.columns]
    if not cols or frame.empty:
        return frame
    out = frame.copy()
    for col in cols:
        values = out[col]
        out[col] = values.map(lambda v: redact(v) if isinstance(v, str) else v).astype(values.dtype)
    return out


def shown_name(s: pd.Series) -> pd.Series:
    """File and sheet names as a report shows them: an ID or mobile number in a name (any
    formatting) is replaced by 已隐去 (:func:`helpers.pii.redact`); the rest of the name stays."""
    from helpers import pii

    s = s.astype("string")
    return s.map(pii.redact, na_action="ignore").astype("string")


def dataset_label(s: pd.Series) -> pd.Series:
    return s.map(DATASET_ZH).fillna(s).astype("string")


def file_reconciliation(files: pd.DataFrame) -> pd.DataFrame:
    """One row per input file and sheet: rows read, accepted, merged, quarantined, balanced."""
    _require(files, FILE_COLUMNS, "files")
    out = pd.DataFrame(
        {
            "dataset": dataset_label(files["dataset"].astype("string")),
            "snapshot_date": files["snapshot_date"].astype("string"),
            "source_file": shown_name(files["source_file"]),
            "sheet": shown_name(files["sheet"]),
            "read_status": files["status"].map(STATUS_ZH).fillna(files["status"]).astype("string"),
            "rows_read": files["rows_read"].astype("int64"),
            "rows_accepted": files["accepted"].astype("int64"),
            "rows_merged": files["merged"].astype("int64"),
            "rows_quarantined": files["quarantined"].astype("int64"),
            "footer_rows": files["footer_rows"].astype("int64"),
        }
    )
    out["balanced"] = (
        out["rows_read"] == out["rows_accepted"] + out["rows_merged"] + out["rows_quarantined"]
    )
    return out.sort_values(
        ["snapshot_date", "dataset", "source_file", "sheet"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def dataset_reconciliation(reconciliation: pd.DataFrame) -> pd.DataFrame:
    """Totals per dataset (from :func:`file_reconciliation`); files counted once, sheets summed."""
    g = reconciliation.groupby("dataset", observed=True, sort=True)
    out = g.agg(
        file_count=("source_file", "nunique"),
        rows_read=("rows_read", "sum"),
        rows_accepted=("rows_accepted", "sum"),
        rows_merged=("rows_merged", "sum"),
        rows_quarantined=("rows_quarantined", "sum"),
    ).reset_index()
    out["balanced"] = g["balanced"].all().to_numpy()
    return out


_RAW_CODE = (
    r'"(?:院校代码|university_code)"\s*:\s*"\s*0*(\d{5})(?:\.0+)?\s*"',
    r'"(?:学校标识码|university_id)"\s*:\s*"\s*\d{5}(\d{5})(?:\.0+)?\s*"',
)
_FILE_CODE = r"(?<!\d)(\d{5})(?!\d)"


def quarantine_university(quarantine: pd.DataFrame, universities: pd.DataFrame) -> pd.Series:
    """院校代码 of each quarantined row: the row's own code if it is a known university, else the
    code in its file name (a university's own file), else NA. Uses ``university_code`` when
    ingest provides it; otherwise reads only the code out of ``raw`` (nothing else of it)."""
    known = set(universities["university_code"].dropna().astype(str))
    if "university_code" in quarantine.columns:
        own = quarantine["university_code"].astype("string")
    elif "raw" in quarantine.columns:
        raw = quarantine["raw"].astype("string")
        own = raw.str.extract(_RAW_CODE[0], expand=False).astype("string")
        own = own.fillna(raw.str.extract(_RAW_CODE[1], expand=False).astype("string"))
    else:
        own = pd.Series(pd.NA, index=quarantine.index, dtype="string")
    from_file = quarantine["source_file"].astype("string").str.extract(_FILE_CODE, expand=False)
    own = own.where(own.isin(known))
    from_file = from_file.where(from_file.isin(known))
    return own.fillna(from_file).astype("string")


def quarantine_rows(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Row-level quarantine only (whole unreadable files are listed apart)."""
    _require(quarantine, QUARANTINE_COLUMNS, "quarantine")
    return quarantine.loc[quarantine["level"] == "row"]


def reasons(quarantine: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Quarantined rows per dataset and reason (``labels``: reason code -> short Chinese reason)."""
    rows = quarantine_rows(quarantine)
    out = (
        rows.assign(dataset=dataset_label(rows["dataset"].astype("string")))
        .groupby(["dataset", "reason_code"], observed=True, sort=True)
        .agg(row_count=("row", "size"), file_count=("source_file", "nunique"))
        .reset_index()
        .rename(columns={"reason_code": "quarantine_reason_code"})
    )
    out.insert(2, "quarantine_reason", _label(out["quarantine_reason_code"], labels))
    return out.sort_values(
        ["row_count", "dataset"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def reasons_by_university(
    quarantine: pd.DataFrame, universities: pd.DataFrame, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """Quarantined rows per university and reason (rows whose university is unknown grouped)."""
    rows = quarantine_rows(quarantine)
    code = quarantine_university(rows, universities)
    names = dict(
        zip(
            universities["university_code"].astype(str),
            universities["university_name"].astype(str),
            strict=False,
        )
    )
    frame = pd.DataFrame(
        {
            "university_code": code.fillna("").to_numpy(),
            "quarantine_reason_code": rows["reason_code"].astype("string").to_numpy(),
        }
    )
    out = (
        frame.groupby(["university_code", "quarantine_reason_code"], observed=True, sort=True)
        .size()
        .rename("row_count")
        .reset_index()
    )
    out.insert(
        1,
        "university_name",
        out["university_code"].map(names).fillna(UNKNOWN_UNIVERSITY).astype("string"),
    )
    out["university_code"] = out["university_code"].replace("", pd.NA).astype("string")
    out.insert(3, "quarantine_reason", _label(out["quarantine_reason_code"], labels))
    return out.sort_values(
        ["university_code", "row_count"], ascending=[True, False], na_position="last", kind="stable"
    ).reset_index(drop=True)


def university_reason_matrix(by_university: pd.DataFrame) -> pd.DataFrame:
    """Universities x reasons (counts) for reading; a total column, largest first."""
    m = by_university.pivot_table(
        index=["university_code", "university_name"],
        columns="quarantine_reason",
        values="row_count",
        aggfunc="sum",
        fill_value=0,
        observed=True,
        dropna=False,
    )
    m = m.loc[m.sum(axis=1) > 0]
    m["合计"] = m.sum(axis=1)
    return m.sort_values("合计", ascending=False, kind="stable")


def unreadable_files(
    quarantine: pd.DataFrame, labels: dict[str, str] | None = None, by: tuple[str, ...] = ()
) -> pd.DataFrame:
    _require(quarantine, QUARANTINE_COLUMNS, "quarantine")
    f = quarantine.loc[quarantine["level"] == "file"]
    return pd.DataFrame(
        {
            **{c: f[c].to_numpy() for c in by},
            "dataset": dataset_label(f["dataset"].astype("string")).to_numpy(),
            "source_file": shown_name(f["source_file"]).to_numpy(),
            "quarantine_reason_code": f["reason_code"].astype("string").to_numpy(),
            "quarantine_reason": _label(f["reason_code"].astype("string"), labels).to_numpy(),
        }
    )


def compress_rows(rows: pd.Series) -> str:
    """'3, 5–7, 12' from row numbers (sorted, consecutive runs as ranges)."""
    r = np.unique(pd.to_numeric(rows, errors="coerce").dropna().to_numpy(dtype=np.int64))
    if r.size == 0:
        return ""
    breaks = np.flatnonzero(np.diff(r) != 1)
    starts = np.r_[r[0], r[breaks + 1]]
    ends = np.r_[r[breaks], r[-1]]
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in zip(starts, ends, strict=True))


def _row_runs(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys``: row count and the row numbers as compressed ranges (vectorised)."""
    f = frame.dropna(subset=["row"]).sort_values([*keys, "row"], kind="stable")
    f = f.drop_duplicates([*keys, "row"])
    if f.empty:
        return pd.DataFrame(columns=[*keys, "row_count", "row_numbers"])
    row = f["row"].to_numpy(dtype=np.int64)
    group = f.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
    new_run = np.r_[True, (group[1:] != group[:-1]) | (row[1:] != row[:-1] + 1)]
    run_id = np.cumsum(new_run)
    runs = pd.DataFrame({"group": group, "run": run_id, "row": row})
    spans = runs.groupby("run", sort=True).agg(
        group=("group", "first"), lo=("row", "min"), hi=("row", "max")
    )
    text = np.where(
        spans["lo"] == spans["hi"],
        spans["lo"].astype(str),
        spans["lo"].astype(str) + "–" + spans["hi"].astype(str),
    )
    joined = pd.Series(text, index=spans.index).groupby(spans["group"].to_numpy()).agg(", ".join)
    firsts = f.groupby(keys, observed=True, sort=False).agg(row_count=("row", "size")).reset_index()
    firsts["row_numbers"] = joined.reindex(np.arange(len(firsts))).to_numpy()
    return firsts


def quarantined_row_numbers(
    quarantine: pd.DataFrame, labels: dict[str, str] | None = None, by: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Per file, sheet and reason: how many rows and which row numbers (never their values).

    ``by``: columns of ``quarantine`` that split the groups further and lead the result (e.g.
    ``("university_code",)``: every university's rows at once, each as it would be alone)."""
    rows = quarantine_rows(quarantine)
    frame = pd.DataFrame(
        {
            **{c: rows[c].to_numpy() for c in by},
            "dataset": dataset_label(rows["dataset"].astype("string")).to_numpy(),
            "source_file": shown_name(rows["source_file"]).to_numpy(),
            "sheet": shown_name(rows["sheet"]).fillna("").to_numpy(),
            "quarantine_reason_code": rows["reason_code"].astype("string").to_numpy(),
            "row": rows["row"].astype("Int64").to_numpy(),
        }
    )
    out = _row_runs(frame, [*by, "dataset", "source_file", "sheet", "quarantine_reason_code"])
    out.insert(len(by) + 4, "quarantine_reason", _label(out["quarantine_reason_code"], labels))
    return out.sort_values(["dataset", "source_file", "sheet"], kind="stable").reset_index(
        drop=True
    )


def repairs_summary(repairs: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Repairs per dataset, repair and column: rows and files (the values are never shown)."""
    _require(repairs, REPAIR_COLUMNS, "repairs")
    frame = pd.DataFrame(
        {
            "dataset": dataset_label(repairs["dataset"].astype("string")).to_numpy(),
            "repair_code": repairs["repair_code"].astype("string").to_numpy(),
            "column_name": repairs["column"].astype("string").fillna("").to_numpy(),
            "source_file": repairs["source_file"].astype("string").to_numpy(),
        }
    )
    out = (
        frame.groupby(["dataset", "repair_code", "column_name"], observed=True, sort=True)
        .agg(row_count=("source_file", "size"), file_count=("source_file", "nunique"))
        .reset_index()
    )
    out.insert(2, "repair", _label(out["repair_code"], labels))
    return out.sort_values(["row_count"], ascending=False, kind="stable").reset_index(drop=True)


def repair_row_numbers(
    repairs: pd.DataFrame, labels: dict[str, str] | None = None, by: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Per file, sheet, repair and column: which rows were repaired (never before/after).
    ``by``: as for :func:`quarantined_row_numbers`."""
    _require(repairs, REPAIR_COLUMNS, "repairs")
    frame = pd.DataFrame(
        {
            **{c: repairs[c].to_numpy() for c in by},
            "dataset": dataset_label(repairs["dataset"].astype("string")).to_numpy(),
            "source_file": shown_name(repairs["source_file"]).to_numpy(),
            "sheet": shown_name(repairs["sheet"]).fillna("").to_numpy(),
            "repair_code": repairs["repair_code"].astype("string").to_numpy(),
            "column_name": repairs["column"].astype("string").fillna("").to_numpy(),
            "row": repairs["row"].astype("Int64").to_numpy(),
        }
    )
    keys = [*by, "dataset", "source_file", "sheet", "repair_code", "column_name"]
    out = _row_runs(frame, keys)
    out.insert(len(by) + 4, "repair", _label(out["repair_code"], labels))
    return out


def narrow_to_university(
    frame: pd.DataFrame, universities: pd.DataFrame, code: str
) -> pd.DataFrame:
    """Rows of ``frame`` (with ``source_file``, optionally ``raw``) that belong to one university."""
    return frame.loc[quarantine_university(frame, universities).eq(code).fillna(False).to_numpy()]


def _label(codes: pd.Series, labels: dict[str, str] | None) -> pd.Series:
    """Chinese text of a reason or repair code (ingest's tables; the code itself if unknown)."""
    if labels is None:
        from helpers.ingest.quarantine import REASONS, REPAIRS

        labels = {**REASONS, **REPAIRS}
    return codes.map(labels).fillna(codes).astype("string")


def reasons_chart(reasons_table: pd.DataFrame, top: int = 12):
    """Horizontal bars: quarantined rows per reason (all datasets), largest at the top.

    One series, so greyscale-safe by construction; counts printed at the bar ends.
    """
    import textwrap

    from helpers.charts import PALETTE
    from helpers.charts.canvas import subplots

    totals = (
        reasons_table.groupby("quarantine_reason", observed=True)["row_count"]
        .sum()
        .sort_values(ascending=False)
        .head(top)
        .sort_values()
    )
    fig, ax = subplots(figsize=(8, 0.5 * max(len(totals), 1) + 1.4))
    labels = ["\n".join(textwrap.wrap(str(t), 18)) for t in totals.index]
    bars = ax.barh(labels, totals.to_numpy(), color=PALETTE[0], edgecolor="black", linewidth=0.5)
    ax.bar_label(bars, labels=[f"{v:,}" for v in totals.to_numpy()], padding=3, fontsize=9)
    ax.set_title("隔离行数（按原因，全部数据集合计）")
    ax.set_xlabel("行数")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.12)
    fig.tight_layout()
    return fig
