"""helpers.load reads low-cardinality text columns as categoricals by default: same values as the
plain text read, categories sorted and of the column's text dtype, the option part of the cache
key, and snapshots stacked with the union of their categories."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from helpers import load
from helpers.datasets import CATEGORICAL_COLUMNS


def _graduates(n: int, seed: int, universities=("10386", "10394", "12631")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    majors = np.array(["080901", "120203K", "050201", "510201", "070101"], dtype=object)
    names = np.array(["计算机科学与技术", "会计学", "英语", "计算机应用技术", None], dtype=object)
    pick = rng.integers(0, len(majors), n)
    return pd.DataFrame(
        {
            "student_key": pd.array([f"k{seed}-{i}" for i in range(n)], dtype="string"),
            "university_code": pd.array(rng.choice(list(universities), n), dtype="string"),
            "cohort": np.full(n, 2023, dtype=np.int16),
            "education_level": pd.array(rng.choice(["专科", "本科", "硕士"], n), dtype="string"),
            "major_code": pd.array(majors[pick], dtype="string"),
            "major_name": pd.array(names[pick], dtype="string"),  # one name missing
            "gender": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.choice(["男", "女"], n)), dtype="string"
            ),
            "difficulty_category": pd.array([None] * n, dtype="string"),  # no value at all
            "placed": rng.random(n) < 0.7,
            "willing_to_work": pd.array(rng.random(n) < 0.9, dtype="boolean"),
        }
    )


def _write(folder, df: pd.DataFrame, snapshot: str, row_group_size: int = 7) -> None:
    """Several row groups: each has its own dictionary, in order of appearance."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, folder / "graduates.parquet", row_group_size=row_group_size)
    (folder / "manifest.json").write_text(
        json.dumps({"datasets": {"graduates": {"snapshot_date": snapshot}}}), encoding="utf-8"
    )


@pytest.fixture
def data(tmp_path):
    frames = {
        "2023-06-30": _graduates(60, 1, ("12631", "10394")),
        "2023-08-31": _graduates(80, 2, ("10386", "10394", "13470")),
    }
    for day, df in frames.items():
        _write(tmp_path / "processed" / day, df, day)
    return tmp_path, frames


def _same_values(cat: pd.Series, text: pd.Series) -> None:
    """A categorical column holds exactly the text column's values (missing where it is)."""
    assert isinstance(cat.dtype, pd.CategoricalDtype)
    a, b = cat.astype(object), text.astype(object)
    assert (a.isna() == b.isna()).all()
    assert (a[a.notna()] == b[b.notna()]).all()
    cats = list(cat.cat.categories)
    assert cats == sorted(cats) and not cat.cat.ordered
    assert cat.cat.categories.dtype == text.dtype == "string"


def test_default_reads_listed_text_as_sorted_categoricals(data):
    tmp_path, frames = data
    got = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates")
    plain = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates", categories=False)
    assert_frame_equal(plain, frames["2023-08-31"])
    assert list(got.columns) == list(plain.columns)
    listed = set(CATEGORICAL_COLUMNS["graduates"])
    for col in got.columns:
        if col in listed:
            _same_values(got[col], plain[col])
        else:  # high-cardinality text and every other dtype: as the plain read
            assert_series_equal(got[col], plain[col])
    assert got["difficulty_category"].isna().all()
    assert len(got["difficulty_category"].cat.categories) == 0
    assert list(got["major_name"].cat.categories) == sorted(
        frames["2023-08-31"]["major_name"].dropna().unique()
    )


def test_sorted_categories_sort_and_group_as_the_text(data):
    tmp_path, _ = data
    got = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates")
    plain = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates", categories=False)
    keys = ["university_code", "major_code"]
    a = got.sort_values([*keys, "student_key"])[keys].astype(object).reset_index(drop=True)
    b = plain.sort_values([*keys, "student_key"])[keys].astype(object).reset_index(drop=True)
    assert_frame_equal(a, b)
    ga = got.groupby("university_code", observed=True)["placed"].sum()
    gb = plain.groupby("university_code")["placed"].sum()
    assert list(ga.index.astype(str)) == list(gb.index) and list(ga) == list(gb)


def test_option_is_part_of_the_cache_key_and_source(data):
    tmp_path, _ = data
    first = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates", columns=["major_code"])
    plain = load.load_dataset(
        tmp_path, dt.date(2023, 8, 31), "graduates", columns=["major_code"], categories=False
    )
    again = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates", columns=["major_code"])
    assert first["major_code"].dtype == "category" == again["major_code"].dtype
    assert plain["major_code"].dtype == "string"
    assert first.attrs["source"] != plain.attrs["source"]  # memoised aggregates never mix
    only = load.load_dataset(
        tmp_path, dt.date(2023, 8, 31), "graduates", categories=["gender", "cohort", "nonexistent"]
    )
    assert only["gender"].dtype == "category"  # a non-text or absent column is left alone
    assert only["major_code"].dtype == "string" and only["cohort"].dtype == "int16"
    with pytest.raises(TypeError, match="list of column names"):
        load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates", categories="gender")


def test_history_categories_are_the_union_of_the_snapshots(data):
    tmp_path, frames = data
    got = load.load_graduate_history(tmp_path, dt.date(2023, 8, 31))
    plain = load.load_graduate_history(tmp_path, dt.date(2023, 8, 31), categories=False)
    assert_frame_equal(plain, pd.concat(frames.values(), ignore_index=True))
    for col in CATEGORICAL_COLUMNS["graduates"]:
        if col in got.columns:
            _same_values(got[col], plain[col])
    assert list(got["university_code"].cat.categories) == ["10386", "10394", "12631", "13470"]
    one = load.load_graduate_history(
        tmp_path, dt.date(2023, 8, 31), snapshots=[dt.date(2023, 6, 30)]
    )
    assert list(one["university_code"].cat.categories) == ["10394", "12631"]


def test_sorted_categorical_reorders_codes_and_keeps_missing():
    s = pd.Series(pd.Categorical(["b", None, "a", "c", "a"], categories=["c", "a", "b"]))
    out = load.sorted_categorical(s)
    assert list(out.cat.categories) == ["a", "b", "c"] and out.cat.categories.dtype == "string"
    assert out.astype(object).tolist()[::2] == ["b", "a", "a"] and out.isna().tolist()[1]
    assert out.cat.codes.tolist() == [1, -1, 0, 2, 0]
    same = load.sorted_categorical(out)
    assert same is out  # already sorted and of the wanted dtype: unchanged
    text = pd.Series(["y", "x", None], dtype="string")
    assert load.sorted_categorical(text).cat.codes.tolist() == [1, 0, -1]


def test_many_values_and_row_groups_with_their_own_dictionaries(tmp_path):
    rng = np.random.default_rng(3)
    n = 5_000
    values = np.array([f"专业{i:04d}" for i in rng.permutation(300)], dtype=object)
    col = values[rng.integers(0, 300, n)]
    col[rng.random(n) < 0.05] = None
    df = pd.DataFrame({"major_name": pd.array(col, dtype="string"), "x": np.arange(n)})
    _write(tmp_path / "processed" / "2023-08-31", df, "2023-08-31", row_group_size=333)
    got = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates")
    _same_values(got["major_name"], df["major_name"])
    assert got["major_name"].cat.codes.dtype == np.int16
    assert_series_equal(got["x"], df["x"])


def test_empty_file_gives_empty_categoricals(tmp_path):
    df = _graduates(10, 4).iloc[:0]
    _write(tmp_path / "processed" / "2023-08-31", df, "2023-08-31")
    got = load.load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates")
    assert len(got) == 0 and list(got.columns) == list(df.columns)
    assert got["university_code"].dtype == "category"
    assert got["university_code"].cat.categories.dtype == "string"
