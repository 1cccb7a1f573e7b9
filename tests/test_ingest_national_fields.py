"""Files as the national 就业管理与监测系统 writes them: pinyin-initial field names (upper or lower
case) and the code values those fields carry load exactly like the contract's Chinese headers."""

from __future__ import annotations

import pandas as pd
import pytest
from test_ingest_support import make_data_dir, processed, raw_dir, write_csv, write_xlsx

from helpers.datasets import BY_NAME, GRADUATES, INPUT_DATASETS
from helpers.ingest.pipeline import ingest
from helpers.ingest.readers import header_key

# Chinese header -> (national field, value as the national system codes it)
HEADER = [
    "学号",
    "姓名",
    "身份证号",
    "性别",
    "院校代码",
    "学历层次",
    "专业代码",
    "专业名称",
    "毕业去向类别代码",
    "毕业去向",
    "签约日期",
    "单位名称",
    "统一社会信用代码",
    "单位性质代码",
    "单位行业代码",
    "单位所在地代码",
    "生源地代码",
]
LEVEL_CODE = {"本科": "31", "专科生毕业": "41", "硕士": "11", "本科生结业": "33"}
GENDER_CODE = {"男": "1", "女": "2"}
FAMILIES = {
    "university": {"院校代码": "YXDM"},
    "person": {"学号": "XH", "姓名": "XM", "身份证号": "SFZH"},
    "gender": {"性别": "XBDM"},
    "level": {"学历层次": "XLDM"},
    "major": {"专业代码": "ZYDM", "专业名称": "ZYMC"},
    "destination": {"毕业去向类别代码": "BYQXDM", "毕业去向": "BYQX"},
    "employer": {
        "单位名称": "DWMC",
        "统一社会信用代码": "DWZZJGDM",
        "单位性质代码": "DWXZDM",
        "单位行业代码": "DWHYDM",
        "单位所在地代码": "DWSZDDM",
    },
    "origin": {"生源地代码": "SYSZDDM"},
}
LEVELS = list(LEVEL_CODE)
DESTS = [("10", "签就业协议形式就业"), ("70", "待就业"), ("801", "境内升学—研究生"), ("11", "")]


def rows_zh() -> list[list]:
    out = [HEADER]
    for i in range(24):
        code, label = DESTS[i % len(DESTS)]
        employed = code in ("10", "11")
        out.append(
            [
                f"2019{i:05d}",
                f"测试{chr(0x4E00 + i)}",
                "11010519491231002X",
                "男" if i % 2 else "女",
                "10386",
                LEVELS[i % len(LEVELS)],
                "080901" if i % 3 else "120203K",
                "计算机科学与技术" if i % 3 else "会计学",
                code,
                label,
                "2023-06-30" if employed else "",
                "福建某某科技有限公司" if employed else "",
                "91350100MA2Y0K3P1K" if employed else "",
                "39" if employed else "",
                "I65" if employed else "",
                "350102" if employed else "",
                "350121" if i % 4 else "350582",
            ]
        )
    return out


def to_national(rows: list[list], family: dict[str, str], case=str.upper) -> list[list]:
    """Rename the family's headers and code its values the national way."""
    header = [case(family[h]) if h in family else h for h in rows[0]]
    body = [list(r) for r in rows[1:]]
    for j, h in enumerate(rows[0]):
        if family.get(h) == "XBDM":
            for r in body:
                r[j] = GENDER_CODE[r[j]]
        if family.get(h) == "XLDM":
            for r in body:
                r[j] = LEVEL_CODE[r[j]]
    return [header, *body]


def graduates_of(tmp_path, name: str, rows: list[list], xlsx: bool = False) -> pd.DataFrame:
    data = make_data_dir(tmp_path / name)
    path = raw_dir(data) / "毕业去向_10386_福州大学.xlsx"
    if xlsx:
        write_xlsx(path, {"Sheet1": rows})
    else:
        write_csv(path.with_suffix(".csv"), rows)
    ingest("2023-08-31", data, workers=1)
    assert processed(data, "quarantine").empty, processed(data, "quarantine")
    g = processed(data, "graduates").drop(columns=["source_file", "source_row"])
    return g.sort_values("student_key").reset_index(drop=True)


@pytest.fixture(scope="module")
def accepted(tmp_path_factory):
    return graduates_of(tmp_path_factory.mktemp("zh"), "zh", rows_zh())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_loads_identically(tmp_path, accepted, family):
    rows = to_national(rows_zh(), FAMILIES[family])
    got = graduates_of(tmp_path, family, rows)
    assert len(got) == 24
    pd.testing.assert_frame_equal(got, accepted)


@pytest.mark.parametrize("case", [str.upper, str.lower], ids=["upper", "lower"])
def test_whole_national_header_row(tmp_path, accepted, case):
    """The issue's file: XH,XM,SFZH,XBDM,YXDM,XLDM,ZYDM,ZYMC,BYQXDM and more, plus fields the
    contract has no use for (KSH 考生号, MZDM 民族代码), which are not carried."""
    every = {k: v for fam in FAMILIES.values() for k, v in fam.items()}
    rows = to_national(rows_zh(), every, case)
    assert rows[0][:9] == [case(x) for x in ("XH", "XM", "SFZH", "XBDM", "YXDM", "XLDM")] + [
        case("ZYDM"),
        case("ZYMC"),
        case("BYQXDM"),
    ]
    extra = zip(["KSH", *["23350102150001"] * 24], ["MZDM", *["01"] * 24], strict=True)
    rows = [[*r, k, m] for r, (k, m) in zip(rows, extra, strict=True)]
    got = graduates_of(tmp_path, "national", rows, xlsx=True)
    pd.testing.assert_frame_equal(got, accepted)
    assert not got.astype(str).apply(lambda c: c.str.contains("23350102150001")).any().any()


def test_national_names_unique_and_documented():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "national-fields.md").read_text(encoding="utf-8")
    for ds in (*INPUT_DATASETS,):
        keys: dict[str, str] = {}
        for h, name in ds.aliases.items():
            k = header_key(h)
            assert keys.setdefault(k, name) == name, (ds.name, h)
        for field in ds.national_fields:
            assert f"`{field}`" in doc, field
    assert BY_NAME["graduates"] is GRADUATES
    assert GRADUATES.national_fields["BYQXDM"] == "destination_code"


def test_department_codes_under_yxdm_are_quarantined_not_misread(tmp_path):
    """Some student systems use YXDM for 院系代码: such rows name no known university."""
    rows = to_national(rows_zh(), FAMILIES["university"])
    rows[1][rows[0].index("YXDM")] = "003"
    data = make_data_dir(tmp_path / "dept")
    write_csv(raw_dir(data) / "毕业去向_10386_福州大学.csv", rows)
    ingest("2023-08-31", data, workers=1)
    q = processed(data, "quarantine")
    assert q["reason_code"].tolist() == ["unknown_university"]
    assert len(processed(data, "graduates")) == 23
