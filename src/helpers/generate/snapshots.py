"""One university's graduates file on one snapshot date, as its export would show it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.codes import DESTINATIONS, SUB_DESTINATIONS
from helpers.generate.cohorts import EMPLOYER_CODES, GROUP_BITS, state_at

GRADUATE_COLUMNS = (
    "学号",
    "姓名",
    "性别",
    "身份证号",
    "手机号码",
    "院校代码",
    "学历层次",
    "所在院系",
    "专业代码",
    "专业名称",
    "毕业年份",
    "生源地代码",
    "城乡生源",
    "困难生类别",
    "帮扶群体",
    "就业意愿",
    "毕业去向类别代码",
    "毕业去向",
    "签约日期",
    "单位名称",
    "统一社会信用代码",
    "单位性质代码",
    "单位行业代码",
    "单位所在地代码",
)
LEVEL_CODE = {
    ("博士", "毕业"): "01",
    ("博士", "结业"): "03",
    ("硕士", "毕业"): "11",
    ("硕士", "结业"): "13",
    ("本科", "毕业"): "31",
    ("本科", "结业"): "33",
    ("本科", "肄业"): "39",
    ("专科", "毕业"): "41",
    ("专科", "结业"): "43",
    ("专科", "肄业"): "49",
}
SEPARATORS = ("、", ",", "，", ";", "/")


@dataclass(frozen=True)
class Habits:
    """How one university's system exports (not mess: legitimate variants)."""

    three_digit_codes: bool = True
    level_style: str = "label"  # label 本科生毕业 | code 31 | short 本科
    gender_digits: bool = False  # 1/2 instead of 男/女
    group_sep: str = "、"
    english_prefix: bool = False  # graduates_10386.xlsx instead of 毕业去向_10386_福州大学.xlsx


def destination_labels(codes: np.ndarray) -> np.ndarray:
    """毕业去向 labels as the 2023/2024 exports write them ('国家基层项目—三支一扶' for sub-codes)."""
    table = {c: v[0] for c, v in DESTINATIONS.items()}
    table.update({c: f"{DESTINATIONS[c[:2]][0]}—{lbl}" for c, lbl in SUB_DESTINATIONS.items()})
    return pd.Series(codes, dtype=object).map(table).to_numpy()


def _group_labels(masks: np.ndarray, sep: str) -> np.ndarray:
    out = np.full(masks.size, "", dtype=object)
    for label, bit in GROUP_BITS.items():
        has = (masks & bit) > 0
        out = np.where(has & (out != ""), out + sep + label, np.where(has, label, out))
    return np.where(out == "", None, out)


def columns_of(g: pd.DataFrame, employers: pd.DataFrame) -> tuple[dict, dict]:
    """Plain numpy arrays of the population and the employer pool (fast slicing per file)."""
    cols = {c: g[c].to_numpy() for c in g.columns}
    for c, v in cols.items():
        if v.dtype.kind not in "biufcmM":
            cols[c] = np.asarray(v, dtype=object)
    emp = {c: np.asarray(employers[c].to_numpy(), dtype=object) for c in employers.columns}
    return cols, emp


def graduates_frame(g: dict, when, emp: dict, habits: Habits, two_digit: bool) -> pd.DataFrame:
    """The export of ``g`` (arrays of one university and cohort, see ``columns_of``) on ``when``."""
    code, date = state_at(g, np.datetime64(when, "D"))
    if two_digit or not habits.three_digit_codes:
        code = np.array([c[:2] if isinstance(c, str) else None for c in code], dtype=object)
    lvl, status = g["education_level"], g["status"]
    if habits.level_style == "code":
        level = np.array(
            [LEVEL_CODE[(a, b)] for a, b in zip(lvl, status, strict=True)], dtype=object
        )
    else:
        label = np.array([f"{a}生{b}" for a, b in zip(lvl, status, strict=True)], dtype=object)
        level = np.where(status == "毕业", lvl, label) if habits.level_style == "short" else label
    male = g["male"]
    gender = np.where(male, "1", "2") if habits.gender_digits else np.where(male, "男", "女")
    masks = g["groups"].astype(int)
    family = (masks & (1 | 2 | 4 | 16)) > 0
    disabled = (masks & 8) > 0
    difficulty = np.where(
        family & disabled,
        "家庭困难和残疾",
        np.where(disabled, "残疾", np.where(family, "家庭困难", "非困难生")),
    )
    parent = np.array([c[:2] if isinstance(c, str) else "" for c in code])
    emp_idx = g["employer_idx"]
    show_emp = np.isin(parent, EMPLOYER_CODES) & (emp_idx >= 0)
    take = np.where(show_emp, emp_idx, 0)

    def emp_col(name):
        return np.where(show_emp, emp[name][take], None)

    sign_date = np.array([None if np.isnat(d) else d.item() for d in date], dtype=object)
    data = {
        "学号": g["student_id"],
        "姓名": g["name"],
        "性别": gender.astype(object),
        "身份证号": g["id_number"],
        "手机号码": g["phone"],
        "院校代码": g["university_code"],
        "学历层次": level,
        "所在院系": g["department"],
        "专业代码": g["major_code"],
        "专业名称": g["major_name"],
        "毕业年份": g["cohort"].astype(int).astype(str).astype(object),
        "生源地代码": g["origin_region_code"],
        "城乡生源": np.where(g["rural"], "农村", "城镇").astype(object),
        "困难生类别": difficulty.astype(object),
        "帮扶群体": _group_labels(masks, habits.group_sep),
        "就业意愿": np.where(g["willing"], "是", "否").astype(object),
        "毕业去向类别代码": code,
        "毕业去向": destination_labels(code),
        "签约日期": sign_date,
        "单位名称": emp_col("employer_name"),
        "统一社会信用代码": emp_col("employer_credit_code"),
        "单位性质代码": emp_col("employer_type_code"),
        "单位行业代码": emp_col("employer_industry_code"),
        "单位所在地代码": emp_col("employer_region_code"),
    }
    return pd.DataFrame(
        {k: pd.Series(np.asarray(v, dtype=object), dtype=object) for k, v in data.items()},
        columns=list(GRADUATE_COLUMNS),
    )
