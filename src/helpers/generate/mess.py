"""Real-world mess (data contract §2), injected into a file's rows and layout, and recorded.

Every injected form is recorded in ``ground_truth/mess.csv`` with the file (relative to raw/),
sheet, the row number as seen in the file (Excel row / CSV line, 1-based; empty for file-level
forms), the column, the kind and the expected ingest outcome:

* ``accepted``   the row is valid as is (a variant the reader must understand),
* ``repaired``   the reader repairs it without guessing (NFKC, zero padding, date forms, ...),
* ``merged``     identical duplicate: counts once,
* ``quarantined`` the row cannot be accepted (with a reason),
* ``skipped``    not a data row (title, blank, footer),
* ``file_unreadable`` the whole file cannot be read.

No personal value is ever written to the record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.codes import CREDIT_CHARSET, parse_level
from helpers.datasets import BY_NAME
from helpers.generate.snapshots import LEVEL_CODE
from helpers.generate.writers import Sheet

DATE_COLUMNS = {
    "graduates": ("签约日期",),
    "recruitment": ("统计起始日期", "统计截止日期"),
    "visits": ("走访日期",),
    "platform": ("统计日期",),
    "assistance": ("帮扶日期",),
}
DATE_STYLES = ("cell", "iso", "slash", "dot", "compact", "chinese", "serial", "serial_text")
HEADER_MODES = ("zh", "en", "fullwidth", "spaces", "linebreak", "national")
UNI_COLUMNS = ("院校代码", "学校标识码", "学校标识码_float", "院校名称")
TITLES = {
    "graduates": "{cohort}届毕业生就业方案",
    "recruitment": "{year}年校园招聘活动情况统计表",
    "visits": "{year}年书记校长访企拓岗情况统计表",
    "platform": "国家大学生就业服务平台注册及绑定情况",
    "assistance": "{cohort}届困难毕业生帮扶台账",
}
# row-level forms per dataset -> expected outcome
ROW_FORMS: dict[str, dict[str, str]] = {
    "graduates": {
        "major_code_lost_zero": "repaired",
        "fullwidth_digits": "repaired",
        "name_spaces": "repaired",
        "fullwidth_parens": "repaired",
        "id_scientific": "quarantined",
        "duplicate_identical": "merged",
        "duplicate_conflicting": "quarantined",
        "unknown_university": "quarantined",
        "unknown_destination": "quarantined",
        "empty_required": "quarantined",
        "destination_label_only": "accepted",
    },
    "recruitment": {
        "negative_count": "quarantined",
        "non_integer_count": "quarantined",
        "fullwidth_digits": "repaired",
        "unknown_university": "quarantined",
        "empty_required": "quarantined",
    },
    "visits": {
        "name_spaces": "repaired",
        "fullwidth_parens": "repaired",
        "bad_date": "quarantined",
        "unknown_university": "quarantined",
        "empty_required": "quarantined",
        "duplicate_identical": "merged",
        # one character mistyped: the check character fails, the employer is known by its name
        "credit_code_typo": "repaired",
        # lower-case letters or full-width characters: the same code after NFKC and upper case
        "credit_code_case": "accepted",
    },
    "platform": {"numerator_above_denominator": "quarantined"},
    "assistance": {
        "unknown_university": "quarantined",
        "empty_required": "quarantined",
        "duplicate_identical": "merged",
    },
}
FILE_FORMS = (
    "title_row",
    "blank_rows",
    "blank_column",
    "footer_total",
    "footer_filler",
    "header_en",
    "header_fullwidth",
    "header_spaces",
    "header_linebreak",
    "header_national",
    "university_id",
    "university_id_float",
    "university_name",
    "date_form",
    "major_code_as_number",
    "encoding_gbk",
    "encoding_utf8_bom",
    "encoding_utf8",
    "format_xls",
    "multi_sheet",
    "unreadable_file",
)
REQUIRED_EMPTY = {
    "graduates": ("学号", "专业代码", "学历层次"),
    "recruitment": ("活动类型",),
    "visits": ("走访单位名称",),
    "assistance": ("帮扶类型",),
}
FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass
class FileStyle:
    fmt: str = "xlsx"  # xlsx | xls | csv | corrupt
    encoding: str | None = None  # csv: utf-8 | utf-8-sig | gbk
    title: bool = False
    blank_rows: int = 0
    blank_column: bool = False
    footer_total: bool = False
    footer_filler: bool = False
    header_mode: str = "zh"
    uni_column: str = "院校代码"
    date_style: str = "cell"
    major_numeric: bool = False
    multi_sheet: bool = False
    forced_rows: tuple[str, ...] = ()  # row forms that must appear at least once
    row_rate: float = 0.0


@dataclass
class MessLog:
    records: list[tuple] = field(default_factory=list)

    def add(self, file: str, sheet: str, row, column: str, kind: str, expected: str) -> None:
        self.records.append((file, sheet, "" if row is None else int(row), column, kind, expected))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.records, columns=["file", "sheet", "row", "column", "kind", "expected"]
        )


def plan_style(
    rng: np.random.Generator, dataset: str, mess_rate: float, n_rows: int, allow_xls: bool
) -> FileStyle:
    """Random file-level habits and mess of one file (probabilities scale with ``mess_rate``)."""
    s = FileStyle(row_rate=mess_rate)
    if mess_rate <= 0:
        return s
    p = min(0.5, mess_rate * 60)  # default rate 0.002 -> 12% of files per form
    r = rng.random(16)
    fmt_draw = rng.random()
    if fmt_draw < p * 1.5:
        s.fmt = "csv"
        s.encoding = ("gbk", "utf-8-sig", "utf-8")[rng.integers(3)]
    elif allow_xls and n_rows < 3000 and fmt_draw < p * 1.5 + p / 3:
        s.fmt = "xls"
    s.title = r[0] < p * 2
    s.blank_rows = int(rng.integers(1, 4)) if r[1] < p else 0
    s.blank_column = r[2] < p / 2
    s.footer_total = r[3] < p
    s.footer_filler = r[4] < p
    if r[5] < p * 1.5:
        s.header_mode = HEADER_MODES[1 + rng.integers(len(HEADER_MODES) - 1)]
    if r[6] < p * 1.5:
        s.uni_column = UNI_COLUMNS[1 + rng.integers(len(UNI_COLUMNS) - 1)]
    if r[7] < p * 3:
        s.date_style = DATE_STYLES[1 + rng.integers(len(DATE_STYLES) - 1)]
    if r[8] < p / 2:
        s.date_style = "mixed"
    s.major_numeric = dataset == "graduates" and r[9] < p
    if s.fmt == "csv" and s.header_mode == "linebreak":
        s.header_mode = "spaces"
    return s


def national_values(df: pd.DataFrame) -> pd.DataFrame:
    """Code the values as the national system's export does: 性别 1/2, 学历层次 as its code."""
    out = df.copy()
    if "性别" in out:
        out["性别"] = out["性别"].map(lambda v: {"男": "1", "女": "2"}.get(v, v)).astype(object)
    if "学历层次" in out:

        def level_code(v):
            parsed = parse_level(str(v)) if v is not None else None
            return LEVEL_CODE.get(parsed, v) if parsed else v

        out["学历层次"] = out["学历层次"].map(level_code).astype(object)
    return out


def _headers(dataset: str, columns: list[str], mode: str, rng: np.random.Generator) -> list[str]:
    ds = BY_NAME[dataset]
    alias = {c.zh: c.name for c in ds.columns}
    if mode == "en":
        return [alias.get(c, c) for c in columns]
    if mode == "national":  # pinyin field names where the national system has one
        case = str.lower if rng.random() < 0.5 else str.upper
        national = {c.zh: c.national[0] for c in ds.columns if c.national}
        return [case(national[c]) if c in national else c for c in columns]
    out = []
    for i, c in enumerate(columns):
        if mode == "fullwidth" and i % 3 == 0:
            out.append(c[0] + "\u3000" + c[1:] if len(c) > 1 else c)
        elif mode == "fullwidth" and i % 3 == 1 and c in alias:
            out.append(alias[c].upper().translate(FULLWIDTH).replace("_", "＿").lower())
        elif mode == "spaces" and i % 2 == 0:
            out.append(f" {c} " if len(c) < 3 else f"{c[:2]} {c[2:]}")
        elif mode == "linebreak" and len(c) >= 4 and i % 2 == 1:
            out.append(c[: len(c) // 2] + "\n" + c[len(c) // 2 :])
        else:
            out.append(c)
    return out


def format_date(d, style: str):
    if d is None or (isinstance(d, float) and np.isnan(d)):
        return None
    if isinstance(d, str):  # already damaged (bad_date) or typed by hand
        return d
    if isinstance(d, dt.datetime):
        d = d.date()
    if style == "cell":
        return d
    if style == "iso":
        return d.isoformat()
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "dot":
        return f"{d.year}.{d.month:02d}.{d.day:02d}"
    if style == "compact":
        return f"{d.year}{d.month:02d}{d.day:02d}"
    if style == "chinese":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "serial":
        return (d - _EXCEL_EPOCH).days
    if style == "serial_text":
        return str((d - _EXCEL_EPOCH).days)
    raise ValueError(style)


def _pick(rng, candidates: np.ndarray, k: int, used: set[int]) -> list[int]:
    free = [int(i) for i in candidates if int(i) not in used]
    if not free or k <= 0:
        return []
    chosen = rng.choice(free, size=min(k, len(free)), replace=False)
    used.update(int(i) for i in chosen)
    return [int(i) for i in chosen]


def apply_row_mess(
    df: pd.DataFrame,
    dataset: str,
    style: FileStyle,
    rng: np.random.Generator,
    unknown: dict[str, str],
) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
    """Damage some rows; returns the frame (extra duplicate rows appended) and (row id, column,
    kind, expected) records. Rows that will be quarantined never carry two quarantining forms."""
    forms = ROW_FORMS.get(dataset, {})
    recs: list[tuple[int, str, str, str]] = []
    if not forms or len(df) == 0 or (style.row_rate <= 0 and not style.forced_rows):
        return df, recs
    df = df.astype(object)
    n = len(df)
    used: set[int] = set()
    ids = np.arange(n)
    extra_rows = []

    def count(form):
        k = int(rng.binomial(n, style.row_rate)) if style.row_rate > 0 else 0
        return max(k, 1) if form in style.forced_rows else k

    for form, expected in forms.items():
        k = count(form)
        if k == 0:
            continue
        if form == "major_code_lost_zero":
            cand = ids[df["专业代码"].astype(str).str.match(r"^0\d{5}$").to_numpy()]
            for i in _pick(rng, cand, k, used):
                df.iat[i, df.columns.get_loc("专业代码")] = df.iat[
                    i, df.columns.get_loc("专业代码")
                ][1:]
                recs.append((i, "专业代码", form, expected))
        elif form == "fullwidth_digits":
            col = {"graduates": "专业代码", "recruitment": "场次"}[dataset]
            for i in _pick(rng, ids, k, used):
                j = df.columns.get_loc(col)
                df.iat[i, j] = str(df.iat[i, j]).translate(FULLWIDTH)
                recs.append((i, col, form, expected))
        elif form == "name_spaces":
            col = {"graduates": "专业名称", "visits": "走访单位名称"}[dataset]
            j = df.columns.get_loc(col)
            for i in _pick(rng, ids, k, used):
                v = str(df.iat[i, j])
                df.iat[i, j] = f" {v[:2]} {v[2:]} " if len(v) > 2 else f" {v} "
                recs.append((i, col, form, expected))
        elif form == "fullwidth_parens":
            col = {"graduates": "单位名称", "visits": "走访单位名称"}[dataset]
            j = df.columns.get_loc(col)
            has = df[col].astype(str).str.contains(r"[()（）]", regex=True).to_numpy()
            for i in _pick(rng, ids[has], k, used):
                v = str(df.iat[i, j])
                df.iat[i, j] = (
                    v.replace("(", "（").replace(")", "）")
                    if "(" in v
                    else v.replace("（", "(").replace("）", ")")
                )
                recs.append((i, col, form, expected))
        elif form == "id_scientific":
            j = df.columns.get_loc("身份证号")
            ok = df["身份证号"].astype(str).str.fullmatch(r"\d{18}").to_numpy()
            for i in _pick(rng, ids[ok], k, used):
                df.iat[i, j] = f"{float(df.iat[i, j]):.11E}"
                recs.append((i, "身份证号", form, expected))
        elif form == "duplicate_identical":
            for i in _pick(rng, ids, k, used):
                extra_rows.append((df.iloc[i].copy(), form, expected, "", i))
        elif form == "duplicate_conflicting":
            has_code = df["毕业去向类别代码"].notna().to_numpy()
            for i in _pick(rng, ids[has_code], k, used):
                row = df.iloc[i].copy()
                row["毕业去向类别代码"] = "70" if str(row["毕业去向类别代码"]) != "70" else "10"
                row["毕业去向"] = (
                    "待就业" if row["毕业去向类别代码"] == "70" else "签就业协议形式就业"
                )
                extra_rows.append((row, form, expected, "毕业去向类别代码", i))
                recs.append((i, "学号", form, expected))
        elif form == "unknown_university":
            col = next(c for c in ("院校代码", "学校标识码", "院校名称") if c in df.columns)
            for i in _pick(rng, ids, k, used):
                df.iat[i, df.columns.get_loc(col)] = unknown[col]
                recs.append((i, col, form, expected))
        elif form == "unknown_destination":
            has_code = df["毕业去向类别代码"].notna().to_numpy()
            for i in _pick(rng, ids[has_code], k, used):
                df.iat[i, df.columns.get_loc("毕业去向类别代码")] = ("55", "65", "99")[
                    rng.integers(3)
                ]
                recs.append((i, "毕业去向类别代码", form, expected))
        elif form == "empty_required":
            cols = REQUIRED_EMPTY[dataset]
            for i in _pick(rng, ids, k, used):
                col = cols[rng.integers(len(cols))]
                df.iat[i, df.columns.get_loc(col)] = None
                recs.append((i, col, form, expected))
        elif form == "destination_label_only":
            has_code = df["毕业去向类别代码"].notna().to_numpy()
            for i in _pick(rng, ids[has_code], k, used):
                df.iat[i, df.columns.get_loc("毕业去向类别代码")] = None
                recs.append((i, "毕业去向类别代码", form, expected))
        elif form == "negative_count":
            for i in _pick(rng, ids, k, used):
                df.iat[i, df.columns.get_loc("场次")] = -int(rng.integers(1, 4))
                recs.append((i, "场次", form, expected))
        elif form == "non_integer_count":
            for i in _pick(rng, ids, k, used):
                df.iat[i, df.columns.get_loc("提供岗位数")] = float(rng.integers(10, 90)) + 0.5
                recs.append((i, "提供岗位数", form, expected))
        elif form == "bad_date":
            j = df.columns.get_loc("走访日期")
            for i in _pick(rng, ids, k, used):
                d = df.iat[i, j]
                df.iat[i, j] = f"{d.year}-02-30" if isinstance(d, dt.date) else "2023-02-30"
                recs.append((i, "走访日期", form, expected))
        elif form in ("credit_code_typo", "credit_code_case"):
            j = df.columns.get_loc("统一社会信用代码")
            has = np.array([isinstance(c, str) and len(c) == 18 for c in df.iloc[:, j]])
            for i in _pick(rng, ids[has], k, used):
                code = df.iat[i, j]
                if form == "credit_code_typo":
                    at = int(rng.integers(8, 17))  # the organisation-code part
                    others = [c for c in CREDIT_CHARSET if c != code[at]]
                    code = code[:at] + others[int(rng.integers(len(others)))] + code[at + 1 :]
                elif rng.random() < 0.5 and any(c.isalpha() for c in code):
                    code = code.lower()
                else:
                    code = code.translate(FULLWIDTH)
                df.iat[i, j] = code
                recs.append((i, "统一社会信用代码", form, expected))
        elif form == "numerator_above_denominator":
            for i in _pick(rng, ids, k, used):
                j = df.columns.get_loc("平台关注人数")
                df.iat[i, j] = int(df.iat[i, df.columns.get_loc("毕业生数")]) + int(
                    rng.integers(1, 50)
                )
                recs.append((i, "平台关注人数", form, expected))
    if extra_rows:
        order = list(range(n))
        for row, form, expected, col, orig in extra_rows:
            new_id = len(df)
            df.loc[new_id] = row
            recs.append((new_id, col or ("学号" if "学号" in df.columns else ""), form, expected))
            # pasted in again somewhere after the original row
            at = (
                order.index(orig) + 1 + int(rng.integers(0, max(1, len(order) - order.index(orig))))
            )
            order.insert(at, new_id)
        df = df.loc[order]
    return df, recs


def layout(
    df: pd.DataFrame,
    dataset: str,
    style: FileStyle,
    rng: np.random.Generator,
    title_text: str,
    footer_date: dt.date,
) -> tuple[Sheet, dict[int, int], list[tuple[int, str, str]]]:
    """Title, header, data, blank rows, footers -> a Sheet; the row number (1-based, as seen in
    the file) of every frame row id; and (row, kind, expected) records of non-data rows."""
    columns = list(df.columns)
    # dates
    for col in DATE_COLUMNS.get(dataset, ()):
        if col not in df.columns:
            continue
        if style.date_style == "mixed":
            styles = np.array(DATE_STYLES)[rng.integers(len(DATE_STYLES), size=len(df))]
            vals = [format_date(d, s) for d, s in zip(df[col], styles, strict=True)]
        else:
            vals = [format_date(d, style.date_style) for d in df[col]]
        df[col] = pd.Series(vals, index=df.index, dtype=object)
    header = _headers(dataset, columns, style.header_mode, rng)
    data = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    frame_ids = list(df.index)
    # duplicates are moved to random positions later in the file
    order = list(range(len(data)))
    rows: list[list] = []
    kinds: list[tuple[int, str, str]] = []
    merges = []
    width = len(columns)
    if style.title:
        rows.append([title_text] + [None] * (width - 1))
        merges.append((0, 0, 0, width - 1))
        kinds.append((len(rows), "title_row", "skipped"))
        if rng.random() < 0.5:
            rows.append([None] * width)
            kinds.append((len(rows), "blank_rows", "skipped"))
    rows.append(header)
    blank_at = (
        set(rng.integers(1, max(2, len(data)), size=style.blank_rows).tolist())
        if style.blank_rows
        else set()
    )
    pos: dict[int, int] = {}
    for k, i in enumerate(order):
        if k in blank_at:
            rows.append([None] * width)
            kinds.append((len(rows), "blank_rows", "skipped"))
        rows.append(data[i])
        pos[frame_ids[i]] = len(rows)
    if style.footer_total:
        rows.append(
            ["合计", f"{len(data)}人" if dataset == "graduates" else len(data)]
            + [None] * (width - 2)
        )
        kinds.append((len(rows), "footer_total", "skipped"))
    if style.footer_filler:
        rows.append([None] * width)
        kinds.append((len(rows), "blank_rows", "skipped"))
        rows.append(["填表人：" + "就业指导中心"] + [None] * (width - 1))
        kinds.append((len(rows), "footer_filler", "skipped"))
        rows.append(
            [f"制表日期：{footer_date.year}年{footer_date.month}月{footer_date.day}日"]
            + [None] * (width - 1)
        )
        kinds.append((len(rows), "footer_filler", "skipped"))
    if style.blank_column:
        at = int(rng.integers(1, width))
        for r in rows:
            r.insert(at, None)
        merges = [(r1, c1, r2, c2 + 1) for r1, c1, r2, c2 in merges]
    return Sheet("Sheet1", rows, merges), pos, kinds
