"""Institutions: the 89 real Fujian ones (MOE 2018 list) with derived attributes, and synthetic
institutions of other provinces for the national export."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.config import REFERENCE_DIR

# Universities of the demo province: 本科/专科 × 公办/民办 plus the one 中外合作 college.
DEMO_CODES = (
    "10386",  # 福州大学            本科 公办 (has 硕士/博士)
    "10395",  # 闽江学院            本科 公办
    "10399",  # 泉州师范学院        本科 公办
    "13470",  # 福州大学至诚学院    本科 民办
    "12709",  # 厦门华厦学院        本科 民办
    "11502",  # 福州职业技术学院    专科 公办
    "12626",  # 福建信息职业技术学院 专科 公办
    "12708",  # 福州英华职业学院    专科 民办
    "13978",  # 福州软件职业技术学院 专科 民办
    "16411",  # 福州墨尔本理工职业学院 专科 中外合作
)
# Research universities (研究生 share, larger size): by name, documented in docs/synthetic-data.md.
RESEARCH = {
    "10384": 0.55,
    "10385": 0.2,
    "10386": 0.25,
    "10389": 0.2,
    "10390": 0.12,
    "10392": 0.25,
    "10393": 0.22,
    "10394": 0.25,
}
DOCTORAL = {"10384", "10385", "10386", "10389", "10392", "10393", "10394"}


def ownership_of(remark: str, authority: str) -> str:
    """办学性质 from the MOE list: 备注 '民办' / '中外合作办学'; otherwise 公办.

    The list's 主管部门 is '福建省教育厅' for every private institution and '福建省' or a ministry
    for public ones; 备注 is authoritative and used first.
    """
    remark = (remark or "").strip()
    if "中外合作" in remark:
        return "中外合作"
    if "民办" in remark:
        return "民办"
    return "公办"


def fujian_universities() -> pd.DataFrame:
    """The 89 institutions with code, name, level, ownership, city, tier."""
    raw = pd.read_csv(
        REFERENCE_DIR / "fujian_universities_moe2018.csv", dtype=str, keep_default_na=False
    )
    df = pd.DataFrame(
        {
            "university_id": raw["学校标识码"],
            "university_code": raw["学校标识码"].str[-5:],
            "university_name": raw["学校名称"],
            "school_level": raw["办学层次"],
            "ownership": [
                ownership_of(r, a) for r, a in zip(raw["备注"], raw["主管部门"], strict=True)
            ],
            "city": raw["所在地"],
            "province_code": "35",
        }
    )
    tier = np.where(
        df["school_level"] == "本科",
        np.where(df["ownership"] == "公办", "本科公办", "本科民办"),
        np.where(df["ownership"] == "公办", "专科公办", "专科民办"),
    )
    tier = np.where(df["university_code"].isin(list(RESEARCH)), "研究型", tier)
    df["tier"] = tier
    return df


# Mean graduates per cohort by tier (province scale, before rescaling to the target total).
TIER_SIZE = {"研究型": 8000, "本科公办": 4800, "本科民办": 3600, "专科公办": 3000, "专科民办": 2200}
# Logit shift of the university's placement propensity by tier (plus a random university effect).
TIER_EFFECT = {
    "研究型": 0.25,
    "本科公办": 0.0,
    "本科民办": -0.15,
    "专科公办": 0.15,
    "专科民办": -0.05,
}

PROVINCES = {  # province code -> (name, capital and cities, institutions, share of graduates)
    "11": ("北京", ["北京"], 92),
    "12": ("天津", ["天津"], 56),
    "13": ("河北", ["石家庄", "保定", "唐山", "邯郸"], 125),
    "14": ("山西", ["太原", "大同", "晋中"], 85),
    "15": ("内蒙古", ["呼和浩特", "包头"], 54),
    "21": ("辽宁", ["沈阳", "大连", "鞍山"], 114),
    "22": ("吉林", ["长春", "吉林"], 66),
    "23": ("黑龙江", ["哈尔滨", "齐齐哈尔"], 78),
    "31": ("上海", ["上海"], 64),
    "32": ("江苏", ["南京", "苏州", "无锡", "徐州", "常州"], 168),
    "33": ("浙江", ["杭州", "宁波", "温州", "金华"], 109),
    "34": ("安徽", ["合肥", "芜湖", "蚌埠"], 121),
    "36": ("江西", ["南昌", "赣州", "九江"], 106),
    "37": ("山东", ["济南", "青岛", "烟台", "潍坊"], 153),
    "41": ("河南", ["郑州", "洛阳", "新乡", "开封"], 156),
    "42": ("湖北", ["武汉", "宜昌", "襄阳"], 130),
    "43": ("湖南", ["长沙", "湘潭", "衡阳"], 128),
    "44": ("广东", ["广州", "深圳", "珠海", "佛山", "东莞"], 160),
    "45": ("广西", ["南宁", "桂林", "柳州"], 85),
    "46": ("海南", ["海口", "三亚"], 21),
    "50": ("重庆", ["重庆"], 70),
    "51": ("四川", ["成都", "绵阳", "南充"], 134),
    "52": ("贵州", ["贵阳", "遵义"], 75),
    "53": ("云南", ["昆明", "大理"], 82),
    "54": ("西藏", ["拉萨"], 7),
    "61": ("陕西", ["西安", "咸阳", "宝鸡"], 97),
    "62": ("甘肃", ["兰州", "天水"], 50),
    "63": ("青海", ["西宁"], 12),
    "64": ("宁夏", ["银川"], 20),
    "65": ("新疆", ["乌鲁木齐", "喀什"], 56),
}
_FIELDS = [
    "理工",
    "师范",
    "医科",
    "财经",
    "农业",
    "交通",
    "信息",
    "电子",
    "艺术",
    "外国语",
    "工商",
    "科技",
    "轻工",
    "城建",
    "海洋",
    "传媒",
    "体育",
    "政法",
    "建筑",
    "商贸",
    "旅游",
    "卫生",
    "化工",
    "机电",
    "能源",
    "水利",
    "工程",
    "文理",
    "经贸",
    "航空",
    "石油",
    "电力",
    "幼儿师范",
    "护理",
    "软件",
    "汽车",
]
_BK_SUFFIX = ["大学", "学院"]
_ZK_SUFFIX = ["职业技术学院", "职业学院", "高等专科学校"]


def synthetic_institutions(
    rng: np.random.Generator, total: int, taken_codes: set[str]
) -> pd.DataFrame:
    """Institutions of the other provinces (national export): well-formed, unique codes and names.

    Counts per province follow the (rounded) sizes of the provinces' higher-education systems,
    rescaled to ``total``; about 45% 本科, the rest 专科; 学校标识码 = 41 + province + 0 + code.
    """
    weights = np.array([v[2] for v in PROVINCES.values()], dtype=float)
    counts = np.floor(weights / weights.sum() * total).astype(int)
    counts[np.argsort(-weights)[: total - counts.sum()]] += 1
    rows = []
    code_pool = [c for c in (f"{i:05d}" for i in range(10001, 15000)) if c not in taken_codes]
    code_iter = iter(code_pool)
    for (prov, (pname, cities, _)), k in zip(PROVINCES.items(), counts, strict=True):
        names: set[str] = set()
        for _ in range(int(k)):
            benke = rng.random() < 0.45
            while True:
                place = cities[rng.integers(len(cities))] if rng.random() < 0.7 else pname
                field = _FIELDS[rng.integers(len(_FIELDS))]
                suffixes = _BK_SUFFIX if benke else _ZK_SUFFIX
                name = place + field + suffixes[rng.integers(len(suffixes))]
                if name not in names:
                    names.add(name)
                    break
                if len(names) > 4000:  # pragma: no cover - the name space is far larger
                    raise RuntimeError("institution names exhausted")
            code = next(code_iter)
            ownership = "民办" if rng.random() < 0.27 else "公办"
            level = "本科" if benke else "专科"
            rows.append((f"41{prov}0{code}", code, name, level, ownership, place + "市", prov))
    df = pd.DataFrame(
        rows,
        columns=[
            "university_id",
            "university_code",
            "university_name",
            "school_level",
            "ownership",
            "city",
            "province_code",
        ],
    )
    tier = np.where(
        df["school_level"] == "本科",
        np.where(df["ownership"] == "公办", "本科公办", "本科民办"),
        np.where(df["ownership"] == "公办", "专科公办", "专科民办"),
    )
    df["tier"] = tier
    return df
