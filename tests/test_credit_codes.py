"""统一社会信用代码 checked by its GB 32100-2015 check character: the check itself (cross-checked
against python-stdnum), ingest (repair + name fallback), the visits report's count, the demo."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import uscc
from test_ingest_support import make_data_dir, processed, raw_dir, write_csv

from helpers.codes import (
    CREDIT_CHARSET,
    credit_check_character,
    credit_code_is_valid,
    credit_codes_are_valid,
)
from helpers.config import load_policy
from helpers.followup import visits as fv
from helpers.ingest.pipeline import ingest

VALID = "91350100MA2Y0K3P1K"  # check character computed by stdnum.cn.uscc


def test_check_character_agrees_with_stdnum():
    rng = np.random.default_rng(7)
    alnum = np.array(list(CREDIT_CHARSET))
    for _ in range(2000):
        first17 = (
            "".join(rng.choice(list("123456789"), 2))
            + "".join(rng.choice(list("0123456789"), 6))
            + "".join(rng.choice(alnum, 9))
        )
        assert credit_check_character(first17) == uscc.calc_check_digit(first17)
        code = first17 + credit_check_character(first17)
        assert credit_code_is_valid(code) and uscc.is_valid(code)
        wrong = first17 + CREDIT_CHARSET[(CREDIT_CHARSET.index(code[-1]) + 1) % 31]
        assert not credit_code_is_valid(wrong) and not uscc.is_valid(wrong)


@pytest.mark.parametrize(
    "code, ok",
    [
        (VALID, True),
        ("91350100MA2Y0K3P1J", False),  # wrong check character
        ("91350100MA2Y0K3PIK", False),  # I is not in the character set
        ("91350100MA2Y0K3P1", False),  # 17 characters
        ("9135010OMA2Y0K3P1K", False),  # letter O in the region digits
        ("91350100ma2y0k3p1k", False),  # lower case: the caller normalises first
        ("", False),
        (None, False),
    ],
)
def test_credit_code_is_valid(code, ok):
    assert credit_code_is_valid(code) is ok


def test_many_codes_at_once_agree_with_one_at_a_time():
    rng = np.random.default_rng(11)
    alphabet = list(CREDIT_CHARSET + "IOSVZa0 －１")
    codes = [VALID, "", None, float("nan"), 91350100, "９１350100MA2Y0K3P1K", VALID + "X"]
    for _ in range(3000):  # mostly the right shape, so that the check character decides
        head, region = rng.choice(list(CREDIT_CHARSET), 2), rng.choice(list("0123456789"), 6)
        first17 = "".join([*head, *region, *rng.choice(list(CREDIT_CHARSET), 9)])
        code = first17 + (credit_check_character(first17) if rng.random() < 0.5 else "0")
        if rng.random() < 0.2:  # a character from outside the set, anywhere
            at = int(rng.integers(18))
            code = code[:at] + str(rng.choice(alphabet)) + code[at + 1 :]
        codes.append(code)
    codes += [VALID[:at] + ch + VALID[at + 1 :] for at in range(18) for ch in CREDIT_CHARSET]
    got = credit_codes_are_valid(codes)
    want = np.array([credit_code_is_valid(c) for c in codes])
    assert got.dtype == bool and (got == want).all()
    assert 100 < want.sum() < len(codes)  # both answers are exercised
    assert credit_codes_are_valid(pd.Series([VALID, pd.NA], dtype="string")).tolist() == [
        True,
        False,
    ]
    assert credit_codes_are_valid([]).shape == (0,)


def test_every_single_substitution_is_caught():
    for at in range(17):
        for ch in CREDIT_CHARSET:
            if ch != VALID[at] and not (2 <= at < 8 and not ch.isdigit()):
                assert not credit_code_is_valid(VALID[:at] + ch + VALID[at + 1 :])


VISIT_HEADER = ["院校代码", "走访日期", "走访人", "走访人职务", "走访单位名称", "统一社会信用代码"]
VISIT_HEADER += ["是否新开拓", "拓展岗位数"]


def visit(day: int, name: str, code: str | None, uni: str = "10386") -> list:
    return [uni, f"2023-05-{day:02d}", "张三", "校长", name, code or "", "是", "3"]


def test_ingest_sets_mistyped_codes_aside_and_report_counts_them(tmp_path):
    typo = VALID[:10] + ("3" if VALID[10] != "3" else "4") + VALID[11:]
    rows = [
        VISIT_HEADER,
        visit(1, "福建某某科技有限公司", VALID),
        visit(2, "福建某某科技有限公司", typo),  # mistyped: same employer, by its name
        visit(3, "福建某某科技有限公司", VALID.lower()),  # lower case: the same code
        visit(
            4,
            "福建某某科技有限公司",
            VALID.translate(str.maketrans("0123456789KMAPY", "０１２３４５６７８９ＫＭＡＰＹ")),
        ),
        visit(5, "厦门另一家公司", "ABC"),  # wrong shape
        visit(6, "厦门另一家公司", None),
        visit(7, "泉州第三家公司", typo, uni="10384"),
    ]
    data = make_data_dir(tmp_path)
    write_csv(raw_dir(data) / "访企拓岗_10386_福州大学.csv", rows)
    ingest("2023-08-31", data, workers=1)
    v = processed(data, "visits")
    assert len(v) == 7 and processed(data, "quarantine").empty
    rep = processed(data, "repairs")
    check = rep[rep["repair_code"] == "credit_code_check"]
    assert sorted(check["row"].astype(int)) == [3, 8]
    assert set(check["column"]) == {"统一社会信用代码"} and set(check["before"]) == {typo}
    by_row = v.set_index(v["source_row"].astype(int))
    assert by_row.loc[[2, 4, 5], "employer_credit_code"].tolist() == [VALID] * 3
    assert by_row.loc[[3, 6, 7, 8], "employer_credit_code"].isna().all()
    assert by_row.loc[3, "employer_key"] != typo

    policy = load_policy()
    prepared = fv.prepare_visits(v, policy, dt.date(2023, 8, 31))
    unis = processed(data, "universities")
    progress = fv.visits_progress(prepared, unis, policy, dt.date(2023, 8, 31)).set_index(
        "university_code"
    )
    assert progress.loc["10386", "distinct_employers"] == 2  # not 3: the typo is not an employer
    assert progress.loc["10384", "distinct_employers"] == 1
    bad = fv.invalid_credit_codes(v, rep, unis).set_index("university_code")
    assert bad.loc["10386", "invalid_code_visits"] == 2  # the typo and the wrong shape
    assert bad.loc["10384", "invalid_code_visits"] == 1
    assert bad.loc["12631", "invalid_code_visits"] == 0 and bad.loc["12631", "visits"] == 0
    assert bad.loc["10386", "invalid_code_share"] == pytest.approx(2 / 5)


def test_demo_distinct_employers_equal_ground_truth(demo_data_dir):
    """The demo's visits carry mistyped, lower-case and full-width codes (mess); the report's
    distinct employers per university equal the generator's truth wherever no visit row of the
    university was quarantined (a quarantined visit is left out of the count by design)."""
    policy = load_policy()
    as_of = policy.date(policy.placement.initial_snapshot)
    folder = demo_data_dir / "processed" / as_of.isoformat()
    v = pd.read_parquet(folder / "visits.parquet")
    rep = pd.read_parquet(folder / "repairs.parquet")
    q = pd.read_parquet(folder / "quarantine.parquet")
    unis = pd.read_parquet(folder / "universities.parquet")
    truth = pd.read_csv(
        demo_data_dir / "ground_truth" / "activity.csv", dtype={"university_code": str}
    ).set_index("university_code")["distinct_employers_initial"]
    progress = fv.visits_progress(fv.prepare_visits(v, policy, as_of), unis, policy, as_of)
    got = progress.set_index("university_code")["distinct_employers"]
    hit = q.loc[q["dataset"] == "visits", "source_file"].map(
        lambda f: m.group(1) if (m := re.search(r"(?<!\d)(\d{5})(?!\d)", f)) else None
    )
    clean = sorted(set(truth.index) - set(hit.dropna()))
    assert len(clean) >= 3
    pd.testing.assert_series_equal(got.reindex(clean), truth.reindex(clean), check_names=False)
    bad = fv.invalid_credit_codes(v, rep).set_index("university_code")["invalid_code_visits"]
    assert bad.reindex(clean).fillna(0).sum() > 0  # the check mattered where truth was compared
    assert (rep["repair_code"] == "credit_code_check").sum() > 0
