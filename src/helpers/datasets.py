"""The five input datasets and the reference tables: file prefixes, input columns, processed columns.

This module is the single place that names columns. Ingest maps input headers (Chinese names or
English aliases, per ``docs/data-contract.md`` §3) to the canonical English names below; every
helper and notebook reads the processed Parquet with the processed column names below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.codes import GROUP_COLUMNS


@dataclass(frozen=True)
class Column:
    name: str  # canonical (English, snake_case)
    zh: str  # Chinese header in files and in reader-facing tables
    required: bool = False
    personal: bool = False  # never reaches processed data (dropped or pseudonymised)
    aliases: tuple[str, ...] = ()  # further headers seen in real exports
    # field names of the national 就业管理与监测系统 databases (pinyin initials; matched in any
    # case). Sources per name: docs/national-fields.md
    national: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    zh: str
    prefixes: tuple[str, ...]  # file name prefixes (Chinese, English)
    kind: str  # "snapshot" (newest folder <= as_of) or "activity" (all folders <= as_of)
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    # alternatives: a row needs at least one column of each group (e.g. 院校代码 or 学校标识码 or 院校名称)
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def aliases(self) -> dict[str, str]:
        """Every accepted header (Chinese and English) -> canonical name."""
        out: dict[str, str] = {}
        for c in self.columns:
            out[c.zh] = c.name
            out[c.name] = c.name
            for alias in (*c.aliases, *c.national):
                out[alias] = c.name
        return out

    @property
    def national_fields(self) -> dict[str, str]:
        """National-system field name (upper case) -> canonical name."""
        return {n: c.name for c in self.columns for n in c.national}


_UNIVERSITY = (
    Column("university_code", "院校代码", national=("YXDM",)),
    Column("university_id", "学校标识码"),
    Column("university_name", "院校名称", aliases=("学校名称",), national=("YXMC",)),
)

GRADUATES = Dataset(
    name="graduates",
    zh="毕业去向",
    prefixes=("毕业去向", "graduates"),
    kind="snapshot",
    columns=(
        Column("student_id", "学号", required=True, personal=True, national=("XH",)),
        *_UNIVERSITY,
        Column("education_level", "学历层次", required=True, national=("XLDM", "XL")),
        Column("major_code", "专业代码", required=True, national=("ZYDM",)),
        Column("major_name", "专业名称", required=True, national=("ZYMC",)),
        Column("destination_code", "毕业去向类别代码", national=("BYQXDM",)),
        Column("destination", "毕业去向", national=("BYQX",)),
        Column("name", "姓名", personal=True, national=("XM",)),
        Column("id_number", "身份证号", personal=True, national=("SFZH",)),
        Column("phone", "手机号码", personal=True, national=("SJHM",)),
        Column("email", "电子邮箱", personal=True),
        Column("gender", "性别", national=("XBDM", "XB")),
        Column("department", "所在院系"),
        Column("cohort", "毕业年份"),
        Column("difficulty_category", "困难生类别"),
        Column("assistance_groups", "帮扶群体"),
        Column("willing_to_work", "就业意愿"),
        Column("placement_date", "签约日期"),
        Column("employer_name", "单位名称", national=("DWMC",)),
        Column("employer_credit_code", "统一社会信用代码", national=("DWZZJGDM", "TYSHXYDM")),
        Column("employer_type_code", "单位性质代码", national=("DWXZDM",)),
        Column("employer_industry_code", "单位行业代码", national=("DWHYDM",)),
        Column("employer_region_code", "单位所在地代码", national=("DWSZDDM",)),
        Column("origin_region_code", "生源地代码", national=("SYSZDDM",)),
        Column("urban_rural", "城乡生源"),
    ),
    natural_key=("university_code", "student_id"),
    one_of=(
        ("university_code", "university_id", "university_name"),
        ("destination_code", "destination"),
    ),
)

RECRUITMENT = Dataset(
    name="recruitment",
    zh="校园招聘",
    prefixes=("校园招聘", "recruitment"),
    kind="activity",
    columns=(
        *_UNIVERSITY,
        Column("window_start", "统计起始日期", required=True),
        Column("window_end", "统计截止日期", required=True),
        Column("activity_type", "活动类型", required=True),
        Column("events", "场次", required=True),
        Column("employers", "参会用人单位数", required=True),
        Column("positions", "提供岗位数", required=True),
        Column("student_visits", "参与学生人次", required=True),
    ),
    natural_key=("university_code", "window_start", "window_end", "activity_type"),
    one_of=(("university_code", "university_id", "university_name"),),
)

VISITS = Dataset(
    name="visits",
    zh="访企拓岗",
    prefixes=("访企拓岗", "visits"),
    kind="activity",
    columns=(
        *_UNIVERSITY,
        Column("visit_date", "走访日期", required=True),
        Column("visitor", "走访人", required=True, personal=True),
        Column("visitor_role", "走访人职务", required=True),
        Column("employer_name", "走访单位名称", required=True),
        Column("employer_credit_code", "统一社会信用代码"),
        Column("new_employer", "是否新开拓", required=True),
        Column("positions", "拓展岗位数", required=True),
    ),
    natural_key=("university_code", "visit_date", "employer_key", "visitor_key"),
    one_of=(("university_code", "university_id", "university_name"),),
)

PLATFORM = Dataset(
    name="platform",
    zh="平台",
    prefixes=("平台", "platform"),
    kind="snapshot",
    columns=(
        *_UNIVERSITY,
        Column("stat_date", "统计日期", required=True),
        Column("graduates", "毕业生数", required=True),
        Column("platform_followers", "平台关注人数", required=True),
        Column("counsellors", "毕业班辅导员数", required=True),
        Column("counsellors_bound", "已绑定辅导员数", required=True),
        Column("registered", "毕业去向登记人数", required=True),
    ),
    natural_key=("university_code", "stat_date"),
    one_of=(("university_code", "university_id", "university_name"),),
)

ASSISTANCE = Dataset(
    name="assistance",
    zh="帮扶台账",
    prefixes=("帮扶台账", "assistance"),
    kind="activity",
    columns=(
        Column("student_id", "学号", required=True, personal=True),
        *_UNIVERSITY,
        Column("help_date", "帮扶日期", required=True),
        Column("help_type", "帮扶类型", required=True),
        Column("helper", "帮扶责任人", required=True, personal=True),
        Column("note", "备注", personal=True),  # free text: may name people
    ),
    natural_key=("university_code", "student_key", "help_date", "help_type", "helper_key"),
    one_of=(("university_code", "university_id", "university_name"),),
)

UNIVERSITIES = Dataset(
    name="universities",
    zh="院校名单",
    prefixes=("universities", "院校名单"),
    kind="reference",
    columns=(
        Column("university_id", "学校标识码"),
        Column("university_code", "院校代码"),
        Column("university_name", "院校名称", required=True, aliases=("学校名称",)),
        Column("school_level", "办学层次"),
        Column("ownership", "办学性质"),
        Column("city", "所在地"),
        Column("baseline_rate", "上年初次毕业去向落实率"),
    ),
    natural_key=("university_code",),
    one_of=(("university_code", "university_id"),),
)

MAJORS = Dataset(
    name="majors",
    zh="专业目录",
    prefixes=("majors", "专业目录"),
    kind="reference",
    columns=(
        Column("major_code", "专业代码", required=True),
        Column("major_name", "专业名称", required=True),
        Column("education_level", "学历层次"),
        Column("discipline_code", "学科门类代码"),
        Column("discipline_name", "学科门类"),
    ),
    natural_key=("major_code",),
)

ADJUSTMENT_PLANS = Dataset(
    name="adjustment_plans",
    zh="调整改革实施方案报送",
    prefixes=("adjustment_plans", "调整方案"),
    kind="reference",
    columns=(
        *_UNIVERSITY,
        Column("received_date", "报送日期", required=True),
    ),
    natural_key=("university_code",),
    one_of=(("university_code", "university_id", "university_name"),),
)

SUBMISSIONS = Dataset(
    name="submissions",
    zh="报送情况",
    prefixes=("报送情况", "submissions"),
    kind="reference",
    columns=(
        *_UNIVERSITY,
        Column("item", "报送事项", required=True, aliases=("事项", "材料名称")),
        Column("received_date", "报送日期", required=True, aliases=("收到日期",)),
    ),
    # a university may send an item twice: each receipt is a row, the earliest counts
    natural_key=("university_code", "item", "received_date"),
    one_of=(("university_code", "university_id", "university_name"),),
)

INPUT_DATASETS = (GRADUATES, RECRUITMENT, VISITS, PLATFORM, ASSISTANCE)
REFERENCE_DATASETS = (UNIVERSITIES, MAJORS, ADJUSTMENT_PLANS, SUBMISSIONS)
BY_NAME = {d.name: d for d in (*INPUT_DATASETS, *REFERENCE_DATASETS)}

# --- processed Parquet: data/processed/<as_of>/<name>.parquet --------------------------------
# Column -> pandas dtype in the Parquet files (and from `helpers.load` with `categories=False`;
# by default the columns of CATEGORICAL_COLUMNS come as categoricals of these text dtypes).
PROCESSED_COLUMNS: dict[str, dict[str, str]] = {
    "graduates": {
        "student_key": "string",  # HMAC-SHA256 of the normalised 学号 (hex)
        "university_code": "string",  # 5 digits
        "cohort": "int16",  # 毕业年份
        "education_level": "string",  # 博士 / 硕士 / 本科 / 专科
        "graduation_status": "string",  # 毕业 / 结业 / 肄业
        "in_denominator": "bool",  # counted in placement rates (policy: 结业/肄业 excluded)
        "major_code": "string",  # '080901', '120203K', '510201'
        "major_name": "string",
        "discipline_code": "string",  # 学科门类 (本科/研究生) or 专业大类 (专科), 2 digits
        "discipline_name": "string",
        "department": "string",
        "gender": "string",  # 男 / 女 / <NA>
        "urban_rural": "string",  # 城镇 / 农村 / <NA>
        "difficulty_category": "string",
        **{col: "bool" for col in GROUP_COLUMNS.values()},
        "willing_to_work": "boolean",  # nullable
        "destination_code": "string",  # <NA> = nothing recorded yet
        "destination_known": "bool",
        "placed": "bool",
        "bucket_2024": "category",
        "bucket_2021": "category",
        "placement_date": "datetime64[ms]",
        "employer_name": "string",
        "employer_credit_code": "string",
        "employer_type_code": "string",
        "employer_industry_code": "string",
        "employer_region_code": "string",
        "origin_region_code": "string",
        "snapshot_date": "datetime64[ms]",  # the raw folder this record came from
        "source_file": "string",
        "source_row": "int32",
    },
    "recruitment": {
        "university_code": "string",
        "window_start": "datetime64[ms]",
        "window_end": "datetime64[ms]",
        "activity_type": "string",
        "events": "int64",
        "employers": "int64",
        "positions": "int64",
        "student_visits": "int64",
        "snapshot_date": "datetime64[ms]",
        "source_file": "string",
        "source_row": "int32",
    },
    "visits": {
        "university_code": "string",
        "visit_date": "datetime64[ms]",
        "visitor_key": "string",  # HMAC of the normalised 走访人 (for the natural key only)
        "visitor_role": "string",
        "employer_name": "string",  # NFKC-normalised
        "employer_credit_code": "string",
        "employer_key": "string",  # credit code, else normalised name
        "new_employer": "bool",
        "positions": "int64",
        "snapshot_date": "datetime64[ms]",
        "source_file": "string",
        "source_row": "int32",
    },
    "platform": {
        "university_code": "string",
        "stat_date": "datetime64[ms]",
        "graduates": "int64",
        "platform_followers": "int64",
        "counsellors": "int64",
        "counsellors_bound": "int64",
        "registered": "int64",
        "snapshot_date": "datetime64[ms]",
        "source_file": "string",
        "source_row": "int32",
    },
    "assistance": {
        "student_key": "string",
        "university_code": "string",
        "help_date": "datetime64[ms]",
        "help_type": "string",
        "helper_key": "string",
        "snapshot_date": "datetime64[ms]",
        "source_file": "string",
        "source_row": "int32",
    },
    "universities": {
        "university_id": "string",  # 10 digits
        "university_code": "string",  # 5 digits
        "university_name": "string",
        "school_level": "string",  # 本科 / 专科
        "ownership": "string",  # 公办 / 民办 / 中外合作
        "city": "string",
        "baseline_rate": "float64",  # previous cohort's initial rate, NaN when blank
    },
    "adjustment_plans": {
        "university_code": "string",
        "received_date": "datetime64[ms]",
    },
    "submissions": {
        "university_code": "string",
        "item": "string",  # one of helpers.codes.SUBMISSION_ITEMS
        "received_date": "datetime64[ms]",
    },
    "majors": {
        "major_code": "string",
        "major_name": "string",
        "education_level": "string",
        "discipline_code": "string",
        "discipline_name": "string",
    },
}

# --- in memory: text columns read as categoricals (helpers.load) -----------------------------
# Codes and labels with few distinct values (nationally at most a few thousand, against millions
# of rows) are loaded as pandas categoricals with sorted categories of the column's text dtype:
# a fraction of the memory of the text, and helpers.grouping counts them by their integer codes.
# Text with many distinct values (student_key, employer names and credit codes) stays text. The
# Parquet files keep the dtypes of PROCESSED_COLUMNS; `load_dataset(..., categories=False)` reads
# plain text.
CATEGORICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "graduates": (
        "university_code",
        "education_level",
        "graduation_status",
        "major_code",
        "major_name",
        "discipline_code",
        "discipline_name",
        "department",
        "gender",
        "urban_rural",
        "difficulty_category",
        "destination_code",
        "employer_type_code",
        "employer_industry_code",
        "employer_region_code",
        "origin_region_code",
        "source_file",
    ),
}
