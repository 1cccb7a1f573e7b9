"""National export of the generator, at a small size (the full size is a benchmark, not a test)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from helpers.codes import is_valid_destination
from helpers.config import load_policy
from helpers.generate.national import generate_national


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    out = tmp_path_factory.mktemp("nat") / "data"
    generate_national(out, seed=5, total=30_000, institutions=150)
    return out


def test_national_files_and_columns(national):
    policy = load_policy()
    folder = (
        national
        / "raw"
        / policy.date(policy.placement.initial_snapshot, policy.notice.cohort).isoformat()
    )
    parts = sorted(folder.glob("graduates_national_part*.parquet"))
    assert parts
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert 29_000 <= len(df) <= 31_000
    assert {"学号", "院校代码", "学历层次", "专业代码", "专业名称", "毕业去向类别代码"} <= set(
        df.columns
    )
    assert not df.duplicated(["院校代码", "学号"]).any()
    assert df["院校代码"].str.fullmatch(r"\d{5}").all()
    assert df["专业代码"].str.fullmatch(r"\d{6}(T|K|TK)?").all()
    assert df["毕业去向类别代码"].map(is_valid_destination).all()
    uni = pd.read_csv(
        national / "raw" / "reference" / "universities.csv", dtype=str, encoding="utf-8-sig"
    )
    assert len(uni) == 150 and uni["院校代码"].is_unique and uni["院校名称"].is_unique
    prov = uni["学校标识码"].str[2:4]
    assert (uni["学校标识码"] == "41" + prov + "0" + uni["院校代码"]).all()
    assert (prov == "35").sum() == 89 and prov.nunique() > 10
    assert set(df["院校代码"]) <= set(uni["院校代码"])


def test_national_truth(national):
    thr = load_policy().majors.threshold
    t = pd.read_csv(national / "ground_truth" / "major_points.csv", dtype={"major_code": str})
    assert (t["truly_below"] == (t["true_rate_initial"] < thr)).all()
    assert t["truly_below"].sum() > 0 and (t["designation"] == "decoy").sum() > 0
    assert (t["realised_initial"] <= t["n_graduates"]).all()


def test_national_deterministic(national, tmp_path):
    again = tmp_path / "again"
    generate_national(again, seed=5, total=30_000, institutions=150)

    def digest(root):
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert digest(national) == digest(again)
