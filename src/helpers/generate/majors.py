"""The curated catalogue subset (``helpers/reference/majors.csv``) and how universities pick majors."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from helpers.config import REFERENCE_DIR

LEVEL_OF_CATALOGUE = {"本科": ("本科",), "专科": ("专科",), "研究生": ("硕士", "博士")}

# Name keywords -> discipline prefixes a university of that name favours (weight multiplier).
_KEYWORDS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("医", ("10", "52"), 10.0),
    ("卫生", ("52", "10"), 10.0),
    ("中医药", ("10",), 10.0),
    ("师范", ("04", "05", "07", "57"), 4.0),
    ("幼儿", ("57",), 12.0),
    ("农", ("09", "41", "49"), 5.0),
    ("林业", ("41", "09"), 8.0),
    ("商", ("12", "02", "53"), 3.0),
    ("财经", ("12", "02", "53"), 4.0),
    ("经贸", ("53", "12", "02"), 5.0),
    ("外贸", ("53",), 5.0),
    ("外语", ("05", "57"), 5.0),
    ("信息", ("08", "51"), 4.0),
    ("软件", ("51", "08"), 8.0),
    ("理工", ("08", "46", "51"), 3.0),
    ("工程", ("08", "44", "46"), 3.0),
    ("交通", ("50", "08"), 6.0),
    ("船政", ("50",), 8.0),
    ("海洋", ("50", "54"), 4.0),
    ("艺术", ("13", "55"), 10.0),
    ("演艺", ("55",), 12.0),
    ("工艺美术", ("55",), 12.0),
    ("警", ("58", "03"), 12.0),
    ("体育", ("57", "04"), 8.0),
    ("纺织", ("48",), 10.0),
    ("生物", ("49", "07"), 6.0),
    ("电力", ("46", "51"), 5.0),
    ("水利", ("44", "46"), 5.0),
    ("安防", ("51", "58"), 6.0),
    ("女子", ("53", "57", "54"), 4.0),
)


@lru_cache(maxsize=1)
def catalogue() -> pd.DataFrame:
    """The shipped catalogue subset with the generator's level column (博士/硕士 share 研究生 codes)."""
    df = pd.read_csv(REFERENCE_DIR / "majors.csv", dtype=str, keep_default_na=False)
    df.columns = [
        "major_code",
        "major_name",
        "catalogue_level",
        "discipline_code",
        "discipline_name",
    ]
    return df


def majors_for_level(level: str) -> pd.DataFrame:
    cat = catalogue()
    wanted = "研究生" if level in ("硕士", "博士") else level
    return cat[cat["catalogue_level"] == wanted].reset_index(drop=True)


def pick_majors(rng: np.random.Generator, university_name: str, level: str, k: int) -> pd.DataFrame:
    """``k`` distinct majors of ``level``, favouring disciplines the university's name suggests."""
    pool = majors_for_level(level)
    w = np.ones(len(pool))
    for word, prefixes, mult in _KEYWORDS:
        if word in university_name:
            w[pool["discipline_code"].isin(prefixes).to_numpy()] *= mult
    k = int(min(max(k, 1), len(pool)))
    idx = rng.choice(len(pool), size=k, replace=False, p=w / w.sum())
    return pool.iloc[np.sort(idx)].reset_index(drop=True)


# 所在院系 by major prefix (4 then 2 characters); 专科 colleges call them 系 or 学院.
_DEPT4 = {
    "0809": "计算机与大数据学院",
    "0807": "物理与信息工程学院",
    "0808": "电气工程与自动化学院",
    "0806": "电气工程与自动化学院",
    "0802": "机械工程及自动化学院",
    "0804": "材料科学与工程学院",
    "0810": "土木工程学院",
    "0828": "建筑与城乡规划学院",
    "0502": "外国语学院",
    "0501": "文学院",
    "0503": "传媒学院",
    "1202": "经济与管理学院",
    "1201": "经济与管理学院",
    "1204": "公共管理学院",
    "1206": "经济与管理学院",
    "1208": "经济与管理学院",
    "1209": "旅游学院",
    "1011": "护理学院",
    "1002": "临床医学院",
    "1007": "药学院",
    "1008": "药学院",
    "0201": "经济学院",
    "0202": "经济学院",
    "0203": "经济学院",
    "0204": "经济学院",
    "0701": "数学与统计学院",
    "0712": "数学与统计学院",
    "0702": "物理与信息工程学院",
    "0703": "化学学院",
    "0710": "生命科学学院",
    "1303": "音乐舞蹈学院",
    "1302": "音乐舞蹈学院",
    "1304": "美术学院",
    "1305": "设计学院",
    "0401": "教育学院",
    "0402": "体育科学学院",
    "0301": "法学院",
    "0303": "社会与公共管理学院",
    "0305": "马克思主义学院",
    "5102": "信息工程学院",
    "5101": "电子工程学院",
    "5103": "电子工程学院",
    "5104": "电子工程学院",
    "5303": "会计学院",
    "5307": "商贸学院",
    "5308": "商贸学院",
    "5305": "商贸学院",
    "5306": "商贸学院",
    "5302": "商贸学院",
    "5301": "会计学院",
    "5202": "护理学院",
    "5201": "医学系",
    "5203": "药学系",
    "5205": "医学技术系",
    "5206": "康复系",
    "5701": "教育学院",
    "5702": "外语系",
    "4403": "建筑工程学院",
    "4405": "建筑工程学院",
    "4401": "建筑工程学院",
    "4601": "机电工程学院",
    "4603": "机电工程学院",
    "4607": "汽车学院",
    "5002": "汽车学院",
    "5003": "航海学院",
    "5004": "航空服务学院",
    "5006": "轨道交通学院",
}
_DEPT2 = {
    "01": "人文学院",
    "02": "经济学院",
    "03": "法学院",
    "04": "教育学院",
    "05": "文学院",
    "06": "人文学院",
    "07": "理学院",
    "08": "工学院",
    "09": "农学院",
    "10": "医学院",
    "12": "管理学院",
    "13": "艺术学院",
    "41": "园林学院",
    "44": "建筑工程学院",
    "46": "机电工程学院",
    "48": "纺织服装学院",
    "49": "生物与食品学院",
    "50": "交通运输学院",
    "51": "信息工程学院",
    "52": "医学系",
    "53": "经济管理学院",
    "54": "旅游学院",
    "55": "艺术设计学院",
    "56": "文化传媒学院",
    "57": "教育学院",
    "58": "法律系",
    "59": "公共管理学院",
}


def department_of(major_codes: pd.Series) -> pd.Series:
    """所在院系 from the major code (研究生 belong to the school of their discipline)."""
    d4 = major_codes.str[:4].map(_DEPT4)
    d2 = major_codes.str[:2].map(_DEPT2)
    return d4.fillna(d2).fillna("综合学院")
