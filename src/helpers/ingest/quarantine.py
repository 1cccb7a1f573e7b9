"""Reason codes for quarantined rows and files, repair codes, and the tables that record them.

Quarantine (``quarantine.parquet``) holds one row per quarantined input row (``level == "row"``) or
unreadable file (``level == "file"``): the source file, sheet, the row number as the analyst sees
it in the file (Excel row / CSV line), the primary reason code, a readable Chinese reason (every
problem of the row), the column(s) concerned and the raw row as JSON. It holds personal values and
therefore never leaves ``data/``.

Repairs (``repairs.parquet``) record every change that is not a plain normalisation (NFKC, spaces):
file, sheet, row, column, repair code, before and after, never for personal columns' values.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd

# Reason code -> readable Chinese reason. Order = priority when a row has several problems.
REASONS: dict[str, str] = {
    # whole file
    "file_corrupt": "文件已损坏或不是有效的表格文件，无法打开",
    "file_password": "文件设有密码保护，无法读取",
    "file_empty": "文件为空（没有任何内容）",
    "file_encoding": "无法识别文件编码（CSV 仅支持 UTF-8、UTF-8 BOM、GBK/GB18030）",
    "file_wrong_type": "文件类型不受支持（仅支持 .xlsx、.xls、.csv）",
    "file_no_header": "未找到可识别的表头（没有一行包含本数据集的列名）",
    "file_too_large": "文件超过大小上限，未读取",
    "file_unzipped_too_large": "表格文件解压后超过大小上限（疑似压缩炸弹），未读取",
    "file_compression_ratio": "表格文件中某部分的压缩比异常（疑似压缩炸弹），未读取",
    "file_shared_strings_too_large": "表格文件的共享字符串部分超过大小上限，未读取",
    "file_sheet_too_large": "工作表范围过大（从 A1 到最后一个单元格的单元格数超过上限），未读取",
    "file_reader_crashed": "读取该文件时读取进程异常退出（文件可能已损坏或被特意构造），未读取",
    # one row
    "row_unclosed_quote": "引号未闭合：该行某字段以英文引号开始却没有结束引号，为免吞并后续各行，该行单独隔离，后续各行照常读取",
    "row_bad_quoting": "引号使用不规范：结束引号后紧跟其他字符",
    "row_field_count": "该行字段数与表头不一致（多出或缺少分隔符）",
    "cell_too_long": "单元格内容超过长度上限",
    "missing_column": "文件缺少必填列",
    "scientific_notation": "号码被 Excel 转成了科学计数法，末几位已丢失，无法修复，请按文本格式重新导出",
    "unknown_university": "院校不在院校名单中（院校代码、学校标识码或院校名称无法识别）",
    "university_conflict": "院校代码、学校标识码、院校名称互相矛盾",
    "empty_required": "必填项为空",
    "unknown_level": "无法识别的学历层次",
    "bad_major_code": "专业代码格式不正确（应为6位数字，可带 T/K/TK 后缀）",
    "unknown_destination": "无法识别的毕业去向类别代码或毕业去向名称",
    "bad_date": "无法识别的日期",
    "window_reversed": "统计起始日期晚于统计截止日期",
    "bad_count": "数量不是非负整数",
    "numerator_above_denominator": "分子大于分母（如平台关注人数大于毕业生数）",
    "unknown_category": "取值不在规定的类别中",
    "bad_value": "取值无法识别",
    "duplicate_conflict": "同一记录（主键相同）出现多次且内容不一致，所有相关行均已隔离",
}
FILE_REASONS = tuple(k for k in REASONS if k.startswith("file_"))
# file reasons whose detail (the size, ratio or range found, the limit) is added to the reason
BOUND_REASONS = frozenset(
    {
        "file_too_large",
        "file_unzipped_too_large",
        "file_compression_ratio",
        "file_shared_strings_too_large",
        "file_sheet_too_large",
        "file_reader_crashed",
    }
)
_PRIORITY = {code: i for i, code in enumerate(REASONS)}

REPAIRS: dict[str, str] = {
    "zero_pad": "补全丢失的前导零",
    "float_suffix": "去掉数字末尾的“.0”（数值被存成了小数）",
    "university_id_to_code": "由学校标识码得到院校代码",
    "university_name_to_code": "由院校名称得到院校代码",
    "destination_from_label": "毕业去向类别代码为空，由毕业去向名称得到代码",
    "thousands_separator": "去掉数字中的千位分隔符",
    "unrecognised_to_na": "可选项取值无法识别，已置为空",
    "credit_code_check": "统一社会信用代码校验位不符（疑似录入错误），已置为空，按单位名称识别单位",
    "unknown_group": "无法识别的帮扶群体名称，已忽略",
    "footer_row": "表尾合计/落款行，不是数据行，不计入读取行数",
    "duplicate_header": "列名重复，仅使用第一列",
    "majors_user_override": "用户专业目录覆盖了项目自带目录中的同一专业代码",
    "personal_data_scrubbed": "文字字段中含个人信息（身份证号、手机号码或学号），整项已隐去",
}

QUARANTINE_COLUMNS = {
    "source_file": "string",
    "sheet": "string",
    "row": "Int64",
    "snapshot_date": "string",
    "dataset": "string",
    "level": "string",
    "reason_code": "string",
    "reason": "string",
    "column": "string",
    "reason_codes": "string",
    "raw": "string",
}
REPAIR_COLUMNS = {
    "source_file": "string",
    "sheet": "string",
    "row": "Int64",
    "snapshot_date": "string",
    "dataset": "string",
    "column": "string",
    "repair_code": "string",
    "repair": "string",
    "before": "string",
    "after": "string",
}
# Intermediate issue records inside a batch: position in the batch frame + reason + column header.
ISSUE_COLUMNS = ("pos", "reason_code", "column")


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """No rows, the columns with their dtypes (a copy of a cached frame: building one costs)."""
    return _empty_frame(tuple(columns.items())).copy()


@lru_cache(maxsize=64)
def _empty_frame(columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns})


def issues_frame(pos, reason_code: str, column: str) -> pd.DataFrame:
    pos = np.asarray(pos, dtype=np.int64)
    return pd.DataFrame(
        {
            "pos": pos,
            "reason_code": np.full(len(pos), reason_code, dtype=object),
            "column": np.full(len(pos), column, dtype=object),
        }
    )


def summarise_issues(issues: pd.DataFrame) -> pd.DataFrame:
    """One row per position: primary reason, all reasons (Chinese), columns, codes.

    ``issues``: columns pos, reason_code, column (several rows per position allowed).
    """
    if issues.empty:
        return pd.DataFrame(
            {
                "pos": pd.Series(dtype=np.int64),
                **{
                    c: pd.Series(dtype=object)
                    for c in ("reason_code", "reason", "column", "reason_codes")
                },
            }
        )
    df = issues.drop_duplicates(["pos", "reason_code", "column"]).copy()
    df["_prio"] = df["reason_code"].map(_PRIORITY).fillna(len(_PRIORITY)).astype(int)
    df = df.sort_values(["pos", "_prio", "column"], kind="stable")
    df["_text"] = df["reason_code"].map(REASONS).fillna(df["reason_code"])
    df["_text"] = np.where(
        df["column"].astype(str) != "", df["_text"] + "：" + df["column"].astype(str), df["_text"]
    )
    g = df.groupby("pos", sort=True)
    first = g["reason_code"].first()
    text = (df["_text"] + "；").groupby(df["pos"], sort=True).sum().str.rstrip("；")
    cols = df.loc[df["column"].astype(str) != ""].drop_duplicates(["pos", "column"])
    cols_text = (
        (cols["column"].astype(str) + "、").groupby(cols["pos"], sort=True).sum().str.rstrip("、")
    )
    codes = df.drop_duplicates(["pos", "reason_code"])
    codes_text = (codes["reason_code"] + ";").groupby(codes["pos"], sort=True).sum().str.rstrip(";")
    out = pd.DataFrame(
        {
            "reason_code": first,
            "reason": text,
            "column": cols_text.reindex(first.index).fillna(""),
            "reason_codes": codes_text,
        }
    )
    out.index.name = "pos"
    return out.reset_index()


def raw_json(headers: list[str], values: np.ndarray) -> list[str]:
    """JSON objects {header: cell text} for rows of a 2-D array of cell strings (non-empty cells)."""
    out = []
    for row in values:
        out.append(
            json.dumps(
                {h: v for h, v in zip(headers, row, strict=False) if v != "" and h},
                ensure_ascii=False,
            )
        )
    return out
