"""Personal and employer identifiers that look real: names, ID numbers, phones, 学号, credit codes.

Everything is vectorised over numpy arrays. ID numbers carry a valid GB 11643 check digit,
credit codes (统一社会信用代码) a valid GB 32100 check character and a valid GB 11714 organisation
code; phone numbers follow the mainland 1[3-9]x pattern. The privacy tests rely on these looking
real, so a leak would be caught by pattern as well as by value.
"""

from __future__ import annotations

import numpy as np

from helpers import pii
from helpers.codes import CREDIT_CHARSET, CREDIT_WEIGHTS

# Surnames, weighted towards Fujian's most common ones (陈, 林, 黄 lead in the province).
SURNAMES = np.array(
    list(
        "陈林黄张吴王李郑刘杨许蔡洪谢郭徐何曾周叶苏庄邱游江方詹魏卢余赖罗高朱柯杜施傅"
        "朱肖潘连胡彭康汪陆钟丁姚戴沈严雷范池翁薛"
    )
)
_SURNAME_W = np.linspace(3.0, 0.3, SURNAMES.size)
SURNAME_P = _SURNAME_W / _SURNAME_W.sum()
GIVEN_CHARS = np.array(
    list(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲建国云飞婷雪琳晨"
        "欣怡宇轩浩然梓涵子豪俊杰思雨佳琪诗语嘉文博雅晓彤一鸣志远家乐振宇雨桐煜铭嘉豪"
        "丹凤晶燕红梅锋斌彬海鑫慧颖茜倩蓉舒航昊晗昕阳璐瑶妍蕾琦琛宁靖逸凯旭东"
    )
)
# 6-digit county-level codes (GB/T 2260): Fujian first, a few other provinces for 外省生源.
FUJIAN_COUNTIES = np.array(
    [
        "350102",
        "350103",
        "350104",
        "350105",
        "350111",
        "350121",
        "350122",
        "350123",
        "350124",
        "350125",
        "350128",
        "350181",
        "350182",
        "350203",
        "350205",
        "350206",
        "350211",
        "350212",
        "350213",
        "350302",
        "350303",
        "350304",
        "350305",
        "350322",
        "350404",
        "350405",
        "350421",
        "350423",
        "350424",
        "350425",
        "350426",
        "350427",
        "350428",
        "350429",
        "350430",
        "350481",
        "350502",
        "350503",
        "350504",
        "350505",
        "350521",
        "350524",
        "350525",
        "350526",
        "350527",
        "350581",
        "350582",
        "350583",
        "350602",
        "350603",
        "350622",
        "350623",
        "350624",
        "350625",
        "350626",
        "350627",
        "350628",
        "350629",
        "350681",
        "350702",
        "350703",
        "350721",
        "350722",
        "350723",
        "350724",
        "350725",
        "350781",
        "350782",
        "350783",
        "350802",
        "350803",
        "350821",
        "350823",
        "350824",
        "350825",
        "350881",
        "350902",
        "350921",
        "350922",
        "350923",
        "350924",
        "350925",
        "350926",
        "350981",
        "350982",
    ]
)
OTHER_COUNTIES = np.array(
    [
        "360102",
        "360103",
        "360121",
        "360502",
        "360702",
        "361002",
        "362201",
        "430102",
        "430103",
        "430521",
        "440103",
        "440106",
        "441302",
        "445102",
        "450102",
        "510104",
        "510107",
        "511302",
        "520102",
        "530102",
        "340102",
        "340202",
        "410102",
        "410305",
        "420102",
        "420106",
        "330102",
        "330203",
        "330302",
        "320102",
        "320506",
        "370102",
        "370202",
        "130102",
        "140105",
        "500103",
        "610102",
        "620102",
        "220102",
        "230102",
    ]
)
CITY_OF_PREFIX = {
    "3501": "350100",
    "3502": "350200",
    "3503": "350300",
    "3504": "350400",
    "3505": "350500",
    "3506": "350600",
    "3507": "350700",
    "3508": "350800",
    "3509": "350900",
}
CITY_REGION = {  # 所在地 -> city-level region code
    "福州市": "350100",
    "厦门市": "350200",
    "莆田市": "350300",
    "三明市": "350400",
    "泉州市": "350500",
    "漳州市": "350600",
    "南平市": "350700",
    "龙岩市": "350800",
    "宁德市": "350900",
}
PHONE_PREFIXES = np.array(
    [
        "130",
        "131",
        "132",
        "133",
        "134",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "153",
        "155",
        "156",
        "157",
        "158",
        "159",
        "166",
        "173",
        "175",
        "176",
        "177",
        "178",
        "180",
        "181",
        "182",
        "183",
        "184",
        "185",
        "186",
        "187",
        "188",
        "189",
        "191",
        "198",
        "199",
    ]
)

_CREDIT_WEIGHTS = np.array(CREDIT_WEIGHTS)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _concat(*parts) -> np.ndarray:
    out = np.asarray(parts[0]).astype(str)
    for p in parts[1:]:
        out = np.char.add(out, np.asarray(p).astype(str))
    return out


def zero_pad(values: np.ndarray, width: int) -> np.ndarray:
    """Integers -> zero-padded strings, vectorised."""
    return np.char.zfill(np.asarray(values, dtype=np.int64).astype(str), width)


def chinese_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plausible Chinese names: weighted surname + one or two given-name characters."""
    sur = rng.choice(SURNAMES, size=n, p=SURNAME_P)
    g1 = rng.choice(GIVEN_CHARS, size=n)
    g2 = rng.choice(GIVEN_CHARS, size=n)
    two = rng.random(n) < 0.72
    return np.where(two, _concat(sur, g1, g2), _concat(sur, g1))


def id_check_digit(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check character for an array of 17-digit strings (:mod:`helpers.pii`)."""
    return pii.check_character(first17)


def id_is_valid(ids) -> np.ndarray:
    """True where an 18-character ID number has the right check character."""
    return pii.check_character_ok(str(i) for i in np.asarray(ids, dtype=str))


def id_numbers(
    rng: np.random.Generator, region: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """18-digit 身份证号: region code, birth date (datetime64[D]), sequence (odd = male), check."""
    n = region.size
    ymd = np.datetime_as_string(birth.astype("datetime64[D]"), unit="D")
    ymd = np.char.replace(ymd, "-", "")
    seq2 = rng.integers(0, 100, size=n)
    sex = rng.integers(0, 5, size=n) * 2 + male.astype(np.int64)  # odd male, even female
    first17 = _concat(region, ymd, zero_pad(seq2, 2), sex)
    return _concat(first17, id_check_digit(first17))


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    pre = rng.choice(PHONE_PREFIXES, size=n)
    return _concat(pre, zero_pad(rng.integers(0, 100_000_000, size=n), 8))


def credit_codes(rng: np.random.Generator, region: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """统一社会信用代码 (GB 32100) with valid organisation-code and final check characters.

    ``kind``: registration authority + type, e.g. "91" (enterprise), "11" (机关), "12" (事业单位).
    """
    n = region.size
    alnum = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
    body = rng.choice(alnum, size=(n, 8))
    # GB 11714: digits 0-9, letters A=10 ... Z=35
    vals = np.vectorize(lambda c: int(c, 36))(body)
    c9 = 11 - (vals @ _ORG_WEIGHTS) % 11
    c9s = np.where(c9 == 10, "X", np.where(c9 == 11, "0", c9.astype(str)))
    org = _concat(*[body[:, i] for i in range(8)], c9s)
    first17 = _concat(kind, region, org)
    idx = np.vectorize(CREDIT_CHARSET.index)(
        np.frombuffer("".join(first17).encode("ascii"), dtype="S1").astype(str).reshape(-1, 17)
    )
    check = (31 - (idx @ _CREDIT_WEIGHTS) % 31) % 31
    return _concat(first17, np.array(list(CREDIT_CHARSET))[check])


def student_ids(
    pattern: int,
    school_no: int,
    entry_year: np.ndarray,
    level_digit: np.ndarray,
    dept_no: np.ndarray,
    seq: np.ndarray,
) -> np.ndarray:
    """School-specific 学号 patterns; unique given unique (entry_year, level, seq) per school.

    0: 2019 3 07 00123  (entry year, level digit, department, sequence)       -> 12 chars
    1: 19 1 0386 0123 + 2 (2-digit year, level, school digits, sequence)     -> 12 chars
    2: 0 19 3 07 0123 (leading zero kept: spreadsheets love to drop it)       -> 11 chars
    3: C19 3 00123 (campus letter prefix)                                     -> 9 chars
    """
    yy = zero_pad(entry_year % 100, 2)
    if pattern == 0:
        return _concat(entry_year, level_digit, zero_pad(dept_no, 2), zero_pad(seq, 5))
    if pattern == 1:
        return _concat(
            yy, level_digit, zero_pad(np.full(seq.size, school_no % 10000), 4), zero_pad(seq, 6)
        )
    if pattern == 2:
        return _concat("0", yy, level_digit, zero_pad(dept_no, 2), zero_pad(seq, 5))
    letter = "ABCDEFGHJKLMNPQRSTWXYZ"[school_no % 22]
    return _concat(letter, yy, level_digit, zero_pad(seq, 6))
