"""A pool of employers (names, 统一社会信用代码, 单位性质/行业/所在地 codes) shared by graduates and visits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.generate.people import CITY_REGION, credit_codes

_BRAND = np.array(list("闽华兴达恒信安泰鑫源盛嘉宏瑞丰创新通海福融润星辰联宇腾博远凯翔正德瀚"))
_INDUSTRY = [  # (word, 单位行业代码)
    ("科技", "34"),
    ("软件", "34"),
    ("信息技术", "34"),
    ("电子", "22"),
    ("机械", "22"),
    ("新能源", "22"),
    ("纺织", "22"),
    ("鞋业", "22"),
    ("食品", "22"),
    ("建设工程", "24"),
    ("建筑设计", "38"),
    ("物流", "32"),
    ("商贸", "31"),
    ("电子商务", "31"),
    ("餐饮管理", "33"),
    ("酒店管理", "33"),
    ("会计师事务所", "37"),
    ("人力资源", "37"),
    ("文化传媒", "44"),
    ("教育咨询", "42"),
    ("医药", "22"),
    ("健康管理", "43"),
    ("置业", "36"),
    ("环保科技", "39"),
    ("农业发展", "11"),
]
_SUFFIX = ["有限公司", "有限公司", "有限公司", "股份有限公司", "集团有限公司"]
_BRANCH = ["", "", "", "", "", "（厦门分公司）", "(泉州分公司)", "（福州分公司）"]
OTHER_REGIONS = ["310100", "440300", "440100", "330100", "320500", "110100", "360100"]
OTHER_CITIES = {
    "310100": "上海",
    "440300": "深圳",
    "440100": "广州",
    "330100": "杭州",
    "320500": "苏州",
    "110100": "北京",
    "360100": "南昌",
}


def employer_pool(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` distinct employers; about 85% companies, 10% schools/hospitals, 5% government offices."""
    cities = list(CITY_REGION)
    city_w = np.array([35, 16, 2, 3, 18, 7, 4, 2, 2], dtype=float)
    fujian = rng.random(n) < 0.85
    city_idx = rng.choice(len(cities), size=n, p=city_w / city_w.sum())
    other_idx = rng.integers(len(OTHER_REGIONS), size=n)
    region = np.where(
        fujian,
        np.array([CITY_REGION[c] for c in cities])[city_idx],
        np.array(OTHER_REGIONS)[other_idx],
    )
    place = np.where(
        fujian,
        np.array([c[:-1] for c in cities])[city_idx],
        np.array([OTHER_CITIES[r] for r in OTHER_REGIONS])[other_idx],
    )
    kind = rng.choice(3, size=n, p=[0.85, 0.10, 0.05])
    ind = rng.integers(len(_INDUSTRY), size=n)
    b1 = rng.choice(_BRAND, size=n)
    b2 = rng.choice(_BRAND, size=n)
    seq = np.arange(n)
    company = (
        pd.Series(place)
        + pd.Series(b1)
        + pd.Series(b2)
        + pd.Series([_INDUSTRY[i][0] for i in ind])
        + pd.Series(np.array(_SUFFIX)[rng.integers(len(_SUFFIX), size=n)])
        + pd.Series(np.array(_BRANCH)[rng.integers(len(_BRANCH), size=n)])
    )
    school = (
        pd.Series(place)
        + "市第"
        + pd.Series((seq % 40 + 1).astype(str))
        + np.where(rng.random(n) < 0.5, "中学", "医院")
    )
    office = (
        pd.Series(place)
        + "市"
        + pd.Series(
            np.array(["人力资源和社会保障局", "教育局", "市场监督管理局", "城市管理局", "税务局"])[
                seq % 5
            ]
        )
    )
    name = np.where(kind == 0, company, np.where(kind == 1, school, office))
    type_code = np.where(
        kind == 0,
        rng.choice(["31", "32", "39"], size=n, p=[0.12, 0.1, 0.78]),
        np.where(kind == 1, np.where(school.str.endswith("中学"), "22", "23"), "10"),
    )
    industry = np.where(
        kind == 0,
        np.array([_INDUSTRY[i][1] for i in ind]),
        np.where(kind == 1, np.where(school.str.endswith("中学"), "42", "43"), "45"),
    )
    ccode = credit_codes(rng, region, np.where(kind == 0, "91", np.where(kind == 1, "12", "11")))
    df = pd.DataFrame(
        {
            "employer_name": name,
            "employer_credit_code": ccode,
            "employer_type_code": type_code,
            "employer_industry_code": industry,
            "employer_region_code": region,
        }
    )
    # names must be unique: a repeated name gets the branch suffix of its position
    dup = df["employer_name"].duplicated(keep="first")
    df.loc[dup, "employer_name"] = (
        df.loc[dup, "employer_name"] + "第" + (pd.Series(np.arange(n))[dup].astype(str)) + "分部"
    )
    df = df.drop_duplicates("employer_credit_code", keep="first").reset_index(drop=True)
    return df
