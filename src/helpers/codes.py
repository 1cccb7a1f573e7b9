"""Code tables: destinations and their buckets, education levels, disciplines, groups.

Codes are strings everywhere (``"10"``, ``"801"``, ``"080901"``, ``"120203K"``): a real export mixes
2- and 3-digit destination codes in one column and major codes carry leading zeros and T/K suffixes.
Sources: ``docs/background/domain.md`` §1–§3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# --- 毕业去向类别代码 -------------------------------------------------------------------------
# code -> (label, 2024 bucket, 2021 bucket). Three-digit codes resolve through their 2-digit parent.
DESTINATIONS: dict[str, tuple[str, str, str]] = {
    "10": ("签就业协议形式就业", "单位就业", "协议和合同就业"),
    "11": ("签劳动合同形式就业", "单位就业", "协议和合同就业"),
    "12": ("其他录用形式就业", "单位就业", "灵活就业"),
    "27": ("科研助理、管理助理", "单位就业", "协议和合同就业"),
    "46": ("应征义务兵", "单位就业", "协议和合同就业"),
    "50": ("国家基层项目", "单位就业", "协议和合同就业"),
    "51": ("地方基层项目", "单位就业", "协议和合同就业"),
    "75": ("自主创业", "自主创业", "创业"),
    "76": ("自由职业", "自由职业", "灵活就业"),
    "80": ("境内升学", "升学", "升学"),
    "85": ("境外留学", "升学", "升学"),
    "70": ("待就业", "待就业", "待就业"),
    "71": ("不就业拟升学", "暂不就业", "暂不就业"),
    "72": ("其他暂不就业", "暂不就业", "暂不就业"),
}
SUB_DESTINATIONS: dict[str, str] = {
    "271": "科研助理、管理助理",
    "502": "三支一扶",
    "503": "西部计划",
    "512": "地方选调生",
    "519": "其他地方基层项目",
    "801": "境内升学—研究生",
    "802": "境内升学—第二学士学位",
}
BUCKETS_2024 = ("单位就业", "自主创业", "自由职业", "升学", "待就业", "暂不就业", "未登记")
BUCKETS_2021 = ("协议和合同就业", "创业", "灵活就业", "升学", "待就业", "暂不就业", "未登记")
UNKNOWN_BUCKET = "未登记"  # no destination recorded yet
# Label -> code, for files that carry only the 毕业去向 label.
DESTINATION_LABELS: dict[str, str] = {
    **{label: code for code, (label, _, _) in DESTINATIONS.items()},
    "科研助理": "27",
    "升学": "80",
    "出国、出境": "85",
    "出国出境": "85",
    "暂不就业": "72",
    **{label: code for code, label in SUB_DESTINATIONS.items()},
}


def destination_parent(code: str) -> str:
    """The 2-digit parent of a destination code ('801' -> '80', '271' -> '27')."""
    return code[:2]


def is_valid_destination(code: str) -> bool:
    """Known 2-digit code, or a 3-digit sub-code of a known parent."""
    if not code or not code.isdigit():
        return False
    if len(code) == 2:
        return code in DESTINATIONS
    return len(code) == 3 and code[:2] in DESTINATIONS


def classify_destinations(codes: pd.Series, not_placed_codes, not_placed_prefixes) -> pd.DataFrame:
    """Vectorised: placed flag and both bucket rules for a Series of destination codes.

    Missing codes (nothing recorded yet) are not placed and fall in the ``未登记`` bucket.
    ``not_placed_codes`` / ``not_placed_prefixes`` come from the policy file. Each distinct code
    is classified once and the rows take their code's result by position (a national export has
    millions of rows and a few dozen codes).
    """
    if isinstance(codes.dtype, pd.CategoricalDtype):
        ids = np.asarray(codes.cat.codes, dtype=np.intp)
        distinct = pd.Series(np.asarray(codes.cat.categories, dtype=object), dtype="string")
    else:
        ids, uniques = pd.factorize(codes.astype("string"), use_na_sentinel=True)
        distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    parent = distinct.str.slice(0, 2)
    excluded = distinct.isin(list(not_placed_codes)).to_numpy(dtype=bool, copy=True)
    for prefix in not_placed_prefixes:
        excluded |= distinct.str.startswith(prefix).to_numpy(dtype=bool, na_value=False)
    known = ids >= 0
    # one extra slot per distinct-code table for the missing code (id -1 reads the last slot)
    placed = np.append(~excluded, False)[ids]
    buckets = {}
    for name, labels, rule in (
        ("bucket_2024", BUCKETS_2024, 1),
        ("bucket_2021", BUCKETS_2021, 2),
    ):
        label = parent.map({c: v[rule] for c, v in DESTINATIONS.items()}).fillna(UNKNOWN_BUCKET)
        cat_codes = pd.Categorical(label, categories=labels).codes
        cat_codes = np.append(cat_codes, labels.index(UNKNOWN_BUCKET)).astype(cat_codes.dtype)
        buckets[name] = pd.Categorical.from_codes(cat_codes[ids], categories=labels)
    return pd.DataFrame(
        {
            "placed": placed,
            "destination_known": known,
            "bucket_2024": buckets["bucket_2024"],
            "bucket_2021": buckets["bucket_2021"],
        },
        index=codes.index,
    )


def destination_label(code: str | None) -> str:
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return UNKNOWN_BUCKET
    return SUB_DESTINATIONS.get(code) or DESTINATIONS.get(code[:2], ("未知",))[0]


# --- 学历层次 -------------------------------------------------------------------------------
# code -> (level, status). Levels: 博士, 硕士, 本科, 专科; status: 毕业, 结业, 肄业.
LEVEL_CODES: dict[str, tuple[str, str]] = {
    "01": ("博士", "毕业"),
    "03": ("博士", "结业"),
    "11": ("硕士", "毕业"),
    "13": ("硕士", "结业"),
    "19": ("硕士", "肄业"),
    "21": ("硕士", "毕业"),  # 硕班毕业
    "25": ("本科", "毕业"),
    "26": ("本科", "结业"),  # 二学位
    "31": ("本科", "毕业"),
    "33": ("本科", "结业"),
    "39": ("本科", "肄业"),
    "41": ("专科", "毕业"),
    "43": ("专科", "结业"),
    "49": ("专科", "肄业"),
    "61": ("专科", "毕业"),  # 高职 (legacy)
}
LEVELS = ("博士", "硕士", "本科", "专科")
LEVEL_CODE_OF = {"博士": "01", "硕士": "11", "本科": "31", "专科": "41"}
GRADUATION_STATUSES = ("毕业", "结业", "肄业")
_LEVEL_WORDS = {
    "博士": "博士",
    "硕士": "硕士",
    "研究生": "硕士",
    "本科": "本科",
    "二学位": "本科",
    "专科": "专科",
    "高职": "专科",
    "大专": "专科",
}


def parse_level(value: str) -> tuple[str, str] | None:
    """'本科生毕业' / '本科' / '31' / '专科生结业' -> (level, status); None if unknown."""
    v = value.strip()
    if v in LEVEL_CODES:
        return LEVEL_CODES[v]
    if v.isdigit() and len(v) == 1 and "0" + v in LEVEL_CODES:  # '1' lost its leading zero
        return LEVEL_CODES["0" + v]
    for word, level in _LEVEL_WORDS.items():
        if v.startswith(word):
            rest = v[len(word) :].lstrip("生")
            if rest in ("", "毕业"):
                return level, "毕业"
            if rest in ("结业", "肄业"):
                return level, rest
            return None
    return None


# --- 学科门类 (本科 and 研究生) and 专业大类 (高职专科) -------------------------------------------
UNDERGRAD_CATEGORIES: dict[str, str] = {
    "01": "哲学",
    "02": "经济学",
    "03": "法学",
    "04": "教育学",
    "05": "文学",
    "06": "历史学",
    "07": "理学",
    "08": "工学",
    "09": "农学",
    "10": "医学",
    "11": "军事学",
    "12": "管理学",
    "13": "艺术学",
    "14": "交叉学科",
}
VOCATIONAL_CATEGORIES: dict[str, str] = {
    "41": "农林牧渔大类",
    "42": "资源环境与安全大类",
    "43": "能源动力与材料大类",
    "44": "土木建筑大类",
    "45": "水利大类",
    "46": "装备制造大类",
    "47": "生物与化工大类",
    "48": "轻工纺织大类",
    "49": "食品药品与粮食大类",
    "50": "交通运输大类",
    "51": "电子与信息大类",
    "52": "医药卫生大类",
    "53": "财经商贸大类",
    "54": "旅游大类",
    "55": "文化艺术大类",
    "56": "新闻传播大类",
    "57": "教育与体育大类",
    "58": "公安与司法大类",
    "59": "公共管理与服务大类",
}


def discipline_of(level: str, major_code: str) -> tuple[str, str]:
    """(discipline_code, discipline_name) from the first two digits of a major code.

    本科/硕士/博士 use 学科门类, 专科 uses 专业大类. A well-formed code the catalogue does not list
    still gets its discipline; an unrecognised prefix gets '其他' rather than being rejected.
    """
    prefix = major_code[:2]
    table = VOCATIONAL_CATEGORIES if level == "专科" else UNDERGRAD_CATEGORIES
    return prefix, table.get(prefix, "其他")


# --- 帮扶群体 (groups in difficulty) ---------------------------------------------------------
# Chinese label (as in files and reports) -> processed boolean column.
GROUP_COLUMNS: dict[str, str] = {
    "脱贫家庭": "group_poverty_alleviated",
    "低保家庭": "group_minimum_living",
    "零就业家庭": "group_zero_employment",
    "残疾": "group_disabled",
    "长期失业": "group_long_unemployed",
}
GROUP_ALIASES: dict[str, str] = {
    "脱贫家庭毕业生": "脱贫家庭",
    "建档立卡": "脱贫家庭",
    "低保": "低保家庭",
    "低保家庭毕业生": "低保家庭",
    "零就业": "零就业家庭",
    "残疾毕业生": "残疾",
    "残疾人": "残疾",
    "长期失业毕业生": "长期失业",
}
GROUP_SEPARATORS = r"[、,，;；/]"

GENDERS = {"男": "男", "女": "女", "1": "男", "2": "女"}
URBAN_RURAL = {"城镇": "城镇", "城市": "城镇", "农村": "农村"}

# 报送事项: documents the notice asks each university for (deadlines: policy ``submissions``).
SUBMISSION_ITEMS = ("就业工作方案", "暖心行动材料", "调整改革实施方案")
SUBMISSION_ITEM_ALIASES = {
    "毕业生就业工作方案": "就业工作方案",
    "暖心行动": "暖心行动材料",
    "暖心行动做法和宣传素材": "暖心行动材料",
    "调整方案": "调整改革实施方案",
    "学科专业调整改革实施方案": "调整改革实施方案",
}

ACTIVITY_TYPES = ("双选会", "专场招聘会", "校企对接", "宣讲会", "网络招聘", "其他")
VISITOR_ROLES = ("党委书记", "校长", "校领导班子成员", "二级学院负责人", "其他")
HELP_TYPES = ("谈心谈话", "就业促进活动", "岗位推荐")


# --- 统一社会信用代码 (GB 32100-2015) -----------------------------------------------------------
# 18 characters from 31 (digits and capitals without I, O, S, V, Z): registration authority,
# organisation type, 6-digit region, 9-character organisation code, check character. The check
# character is (31 - Σ value·weight mod 31) mod 31 over the first 17 (GB 32100-2015 §4.3).
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
_CREDIT_VALUE = {ch: i for i, ch in enumerate(CREDIT_CHARSET)}


def credit_check_character(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters (upper case, half-width)."""
    total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def credit_code_is_valid(code: str) -> bool:
    """Shape and check character of a normalised code (NFKC, upper case, no spaces: the caller
    normalises; a lower-case or full-width code is not valid as it stands)."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    if any(ch not in _CREDIT_VALUE for ch in code) or not code[2:8].isdigit():
        return False
    return credit_check_character(code[:17]) == code[17]


_CREDIT_BYTE_VALUE = np.full(256, -1, dtype=np.int64)  # byte -> value in CREDIT_CHARSET, or -1
_CREDIT_BYTE_VALUE[np.frombuffer(CREDIT_CHARSET.encode("ascii"), dtype=np.uint8)] = np.arange(31)
_CREDIT_CHARSET_BYTES = np.frombuffer(CREDIT_CHARSET.encode("ascii"), dtype=np.uint8)


def credit_codes_are_valid(codes) -> np.ndarray:
    """:func:`credit_code_is_valid` of many codes at once (any sequence; not text -> False):
    the same answers, computed on the codes' bytes (half a million codes in milliseconds)."""
    values = list(codes)
    out = np.zeros(len(values), dtype=bool)
    shaped = [
        i for i, c in enumerate(values) if isinstance(c, str) and len(c) == 18 and c.isascii()
    ]
    if not shaped:
        return out
    raw = "".join(values[i] for i in shaped).encode("ascii")
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    value = _CREDIT_BYTE_VALUE[chars]
    region = chars[:, 2:8]
    ok = (value >= 0).all(axis=1) & ((region >= 48) & (region <= 57)).all(axis=1)
    total = value[:, :17] @ np.asarray(CREDIT_WEIGHTS, dtype=np.int64)
    ok &= _CREDIT_CHARSET_BYTES[(31 - total % 31) % 31] == chars[:, 17]
    out[shaped] = ok
    return out
