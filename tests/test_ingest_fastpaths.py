"""The fast paths of ingest give exactly what the straightforward versions give.

Each normaliser runs once per distinct value and is broadcast back; dates are parsed by a cached
per-value parser; validation evaluates the rules in one pass and lets pandera check the accepted
rows; readers go to Arrow column by column; blank and footer rows are found in Arrow; the parent
stacks batches as categoricals and Arrow tables. The straightforward versions (or the previous
implementations, kept here as oracles) are the reference.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.ingest import normalise as nz
from helpers.ingest import pseudonym as ps
from helpers.ingest import university_codes as uc
from helpers.ingest.merge import (
    DIGEST_COLUMNS,
    count_rows,
    stack_records,
    unique_words,
    write_parquet,
)
from helpers.ingest.process import _body_masks
from helpers.ingest.readers import FOOTER, _to_text_array, cells_to_text
from helpers.ingest.result import IngestResult
from helpers.ingest.schemas import _failure_issues, rules_for, schema_for, validate


def text(values) -> pd.Series:
    return nz.nfkc(pd.Series(values, dtype=object))


def repeated(values, times: int = 40, seed: int = 1) -> pd.Series:
    """The values many times over in a shuffled order: the per-distinct path is taken."""
    rng = np.random.default_rng(seed)
    s = text(list(values) * times)
    return s.iloc[rng.permutation(len(s))].reset_index(drop=True)


def same(a, b) -> None:
    """Equal values and dtypes (Series, frames, tuples of them, dataclasses)."""
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_names=False)
    else:  # a dataclass of Series
        for name in a.__dataclass_fields__:
            same(getattr(a, name), getattr(b, name))


CODES = ["80901.0", "080901", " 12 02 03k", None, "4135010386", "120203K", "1", "801.0", "x y"]
NAMES = [
    "计算机 科学与技术",
    " 福建（厦门）  有限公司 ",
    "IBM  China   Co",
    "ＡＢＣ１２３",
    None,
    "会计",
]
DATES = ["45107", "2023/6/30", "2023-06-30 08:00", "2023.6.3", "20230630", "2023年6月30日", None]
COUNTS = ["1,200", "12.0", "-3", "3.5", "7", None, "12,345.00"]


@pytest.mark.parametrize(
    ("func", "values", "args"),
    [
        (nz.clean_name, NAMES, ()),
        (nz.match_name, NAMES, ()),
        (nz.clean_code, CODES, ()),
        (nz.parse_dates, DATES, ()),
        (nz.bad_dates, [*DATES, "2023-02-30", "abc"], ()),
        (nz.clean_counts, COUNTS, ()),
        (nz.is_count, COUNTS, ()),
        (nz.parse_levels, ["本科生毕业", "31", "1", "专科生结业", "39", "火星", None], ()),
        (nz.valid_destination, ["10", "70", "271", "801", "99", None, "1a"], ()),
        (nz.parse_yes_no, ["是", "否", "Y", "maybe", None], ()),
        (nz.map_values, ["男", "2", "X", None], (nz.GENDERS,)),
        (nz.parse_rate, ["0.72", "75%", "72.5 %", "72.5", None], ()),
    ],
)
def test_per_distinct_normalisers_equal_row_by_row(func, values, args):
    s = repeated(values)
    assert nz.distinct_rows([s]) is not None  # the per-distinct path is taken
    same(func(s, *args), func.rows(s, *args))
    # and on a frame with another index
    t = s.set_axis(pd.RangeIndex(1000, 1000 + len(s)))
    same(func(t, *args), func.rows(t, *args))


def test_distinct_rows_of_mostly_distinct_or_few_rows_is_none():
    assert nz.distinct_rows([text([str(i) for i in range(200)])]) is None
    assert nz.distinct_rows([text(["a", "a", "b"])]) is None  # too few rows to bother
    assert nz.distinct_rows([None]) is None


def test_distinct_rows_ids_and_first_rows():
    s = repeated(["a", None, "b", "c"], times=30)
    ids, first = nz.distinct_rows([s])
    assert len(first) == 4
    values = s.to_numpy(dtype=object, na_value=None)
    assert [values[first[i]] for i in ids] == values.tolist()


def test_resolve_university_and_destination_per_distinct():
    lookup = uc.UniversityLookup(
        frozenset({"10386", "10384"}),
        {"4135010386": "10386"},
        {"福州大学": "10386", "厦门大学": "10384"},
    )
    code = ["10386", None, None, "4135010386.0", "99999", "10384", None]
    uid = [None, "4135010386", None, None, None, "4135010386", None]
    name = [None, None, "福州 大学", None, None, None, "厦门大学"]
    idx = np.tile(np.arange(7), 20)
    cols = [text(np.asarray(c, dtype=object)[idx]) for c in (code, uid, name)]
    index = pd.RangeIndex(len(idx))
    same(
        uc.resolve_university(*cols, lookup, index),
        uc._resolve_university(*cols, lookup, index),
    )
    dest = text(np.asarray(["10", None, None, "801.0", None, "99"], dtype=object)[idx % 6])
    label = text(
        np.asarray([None, "待就业", "科研助理、管理助理—科研助理、管理助理", None, "火星", None])[
            idx % 6
        ]
    )
    same(nz.destination_codes(dest, label, index), nz._destination_codes(dest, label, index))


def test_damaged_numbers_with_literal_prefilter():
    values = ["3.50102199901E+17", "350102199901000000", "11010519491231002X", "1e5", "abc", None]
    s = repeated(values, times=3)
    t = nz.as_text(s).str.upper()
    full = t.str.fullmatch(r"[0-9]{15}000").fillna(False).astype(bool)
    expected = t.str.fullmatch(nz.SCIENTIFIC).fillna(False).astype(bool) | (
        full & ~nz.check_digit_valid(t.where(full))
    )
    assert nz.id_number_damaged(s).tolist() == expected.tolist()
    sci = nz.as_text(s).str.fullmatch(nz.SCIENTIFIC).fillna(False).astype(bool)
    assert nz.is_scientific(s).tolist() == sci.tolist()


# --- dates: the per-value parser against the previous vectorised implementation ---------------
def _dates_vectorised(u: pd.Series) -> pd.Series:
    """The previous implementation (pandas extract + to_datetime), as the oracle."""
    ymd = u.str.extract(nz._YMD)
    compact = u.str.extract(nz._COMPACT)
    parts = ymd.fillna(compact).apply(pd.to_numeric, errors="coerce")
    parts.columns = ["year", "month", "day"]
    parts = parts.where(parts["year"].between(nz.MIN_YEAR, nz.MAX_YEAR))
    out = pd.to_datetime(parts, errors="coerce")
    serial = pd.to_numeric(u.str.extract(nz._SERIAL)[0], errors="coerce")
    serial = serial.where(serial.between(nz._SERIAL_MIN, nz._SERIAL_MAX))
    from_serial = pd.to_datetime(serial, unit="D", origin="1899-12-30", errors="coerce")
    return out.fillna(from_serial).astype("datetime64[ms]")


TRICKY_DATES = [
    "2023-06-30",
    "2023/6/30",
    "2023.06.30",
    "20230630",
    "2023年6月30日",
    "2023-06-30 00:00:00",
    "2023-06-30T08:30",
    "2023-6-3 7:05:09.5",
    "2024-02-29",
    "2023-02-29",
    "2023-13-01",
    "2023-00-10",
    "2023-04-31",
    "1949-12-31",
    "1950-01-01",
    "2100-12-31",
    "2101-01-01",
    "18263",
    "18264",
    "45107",
    "45107.75",
    "73050",
    "73051",
    "4510",
    "451070",
    "2023/06.30",
    "2023-06-30日",
    "abc",
    "2023-06",
    "30/06/2023",
    "3023-01-01",
    "99999",
    "20231301",
]


@pytest.mark.parametrize("value", TRICKY_DATES)
def test_date_parser_matches_previous_implementation(value):
    expected = _dates_vectorised(pd.Series([value], dtype="str")).iloc[0]
    got = nz.parse_date_text(value)
    assert (pd.isna(expected) and np.isnat(got)) or pd.Timestamp(got) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(
        st.integers(0, 3000),
        st.sampled_from(["-", "/", ".", "年", ""]),
        st.integers(0, 14),
        st.sampled_from(["-", "/", ".", "月", ""]),
        st.integers(0, 33),
        st.sampled_from(["", "日", " 08:30", "T08:30:15", ".5"]),
    )
)
def test_date_parser_property(parts):
    y, s1, m, s2, d, tail = parts
    value = f"{y:04d}{s1}{m:02d}{s2}{d:02d}{tail}" if s1 == "" else f"{y}{s1}{m}{s2}{d}{tail}"
    expected = _dates_vectorised(pd.Series([value], dtype="str")).iloc[0]
    got = nz.parse_date_text(value)
    assert (pd.isna(expected) and np.isnat(got)) or pd.Timestamp(got) == expected, value


# --- validation: one rule pass + pandera on the accepted rows == pandera on every row --------
def _pandera_everywhere(dataset: str, frame: pd.DataFrame, codes: frozenset[str]) -> set:
    schema = schema_for(dataset, codes)
    frame = frame.copy()
    for name in schema.columns:
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype="str")
    try:
        schema.validate(frame, lazy=True)
    except Exception as err:  # pandera.errors.SchemaErrors
        issues = _failure_issues(dataset, err.failure_cases)
    else:
        issues = []
    from helpers.datasets import BY_NAME

    zh = {c.name: c.zh for c in BY_NAME[dataset].columns}
    return {(int(p), r, zh.get(c, c)) for ps_, r, c in issues for p in ps_}


def _issue_set(df: pd.DataFrame) -> set:
    return {(int(p), r, c) for p, r, c in df[["pos", "reason_code", "column"]].itertuples(False)}


CODES_REF = frozenset({"10386", "10384"})


def test_validate_equals_pandera_on_every_row_graduates():
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame(
        {
            "student_id": text(rng.choice(["2023001", "3.5E+17", None, "x"], n)),
            "university_code": text(rng.choice(["10386", "10384", "99999", None], n)),
            "_university_conflict": rng.random(n) < 0.05,
            "education_level": text(rng.choice(["本科", "硕士", "火星", None], n)),
            "major_code": text(rng.choice(["080901", "12345", "120203K", None], n)),
            "major_name": text(rng.choice(["计算机", None], n)),
            "destination_code": text(rng.choice(["10", "99", "801", None], n)),
            "id_number": text(rng.choice(["11010519491231002X", "350102199901000000", None], n)),
            "cohort": text(rng.choice(["2023", "1899", "x", None], n)),
        }
    )
    got = _issue_set(validate("graduates", frame.copy(), CODES_REF))
    assert got == _pandera_everywhere("graduates", frame, CODES_REF)
    assert {r for _, r, _ in got} >= {
        "scientific_notation",
        "unknown_university",
        "university_conflict",
        "empty_required",
        "unknown_level",
        "bad_major_code",
        "unknown_destination",
        "bad_value",
    }


def test_validate_equals_pandera_on_every_row_frame_checks():
    rng = np.random.default_rng(3)
    n = 200
    rec = pd.DataFrame(
        {
            "university_code": text(rng.choice(["10386", "88888"], n)),
            "_university_conflict": np.zeros(n, dtype=bool),
            "window_start": text(rng.choice(["2023-06-01", "2023-07-01", "bad"], n)),
            "window_end": text(rng.choice(["2023-06-15", "2023-06-20", None], n)),
            "activity_type": text(rng.choice(["双选会", "宣讲会", "聚餐"], n)),
            **{c: text(rng.choice(["1", "-2", "3.5", None], n)) for c in ("events", "employers")},
        }
    )
    got = _issue_set(validate("recruitment", rec.copy(), CODES_REF))
    assert got == _pandera_everywhere("recruitment", rec, CODES_REF)
    assert "window_reversed" in {r for _, r, _ in got}
    plat = pd.DataFrame(
        {
            "university_code": text(["10386"] * n),
            "_university_conflict": np.zeros(n, dtype=bool),
            "stat_date": text(["2023-06-30"] * n),
            "graduates": text(rng.choice(["100", "50"], n)),
            "platform_followers": text(rng.choice(["80", "120"], n)),
            "counsellors": text(["5"] * n),
            "counsellors_bound": text(rng.choice(["4", "6"], n)),
            "registered": text(rng.choice(["10", "200", None], n)),
        }
    )
    got = _issue_set(validate("platform", plat.copy(), CODES_REF))
    assert got == _pandera_everywhere("platform", plat, CODES_REF)
    assert "numerator_above_denominator" in {r for _, r, _ in got}


def test_schema_is_built_from_the_rules():
    rules = rules_for("graduates", CODES_REF)
    schema = schema_for("graduates", CODES_REF)
    assert list(schema.columns) == list(rules.columns)
    for name, (nullable, checks) in rules.columns.items():
        assert schema.columns[name].nullable == nullable
        assert [c.name for c in schema.columns[name].checks] == [r.reason for r in checks]


# --- readers -----------------------------------------------------------------------------------
def test_text_array_and_arrow_columns_agree():
    rows = [
        ["学号", "日期", "数", "空"],
        ["A1", dt.date(2023, 6, 30), 80901.0, None],
        ["  ", dt.datetime(2023, 6, 30, 8, 30), 3.50102199901e17, ""],
        ["ＡＢＣ", "", True, None],
    ]
    arr, columns = _to_text_array(rows)
    width = max(len(r) for r in rows)
    ref = np.empty((len(rows), width), dtype=object)
    ref[:] = rows
    for j in range(width):
        ref[:, j] = cells_to_text(ref[:, j])
    assert arr.tolist() == ref.tolist()
    for j, col in enumerate(columns):
        assert col.type == pa.large_string() and col.null_count == 0
        assert col.to_pylist() == ref[:, j].tolist()


def _body_masks_previous(body: np.ndarray):
    """The previous implementation (2-D comparisons on the object array), as the oracle."""
    import pyarrow.compute as pc

    n = body.shape[0]
    ne = body != ""
    sparse = np.flatnonzero(ne.sum(axis=1) <= 3)
    if len(sparse):
        ne[sparse] = np.frompyfunc(lambda c: bool(c.strip()), 1, 1)(body[sparse]).astype(bool)
    nonempty = ne.any(axis=1)
    first = body[np.arange(n), ne.argmax(axis=1)]
    key = pc.replace_substring_regex(
        pc.utf8_normalize(pa.array(first, type=pa.large_string()), "NFKC"), nz.WS, ""
    )
    footer = pc.match_substring_regex(key, FOOTER.pattern).to_numpy(zero_copy_only=False) & nonempty
    keywords = [re.split(r"[:：]", key[int(i)].as_py())[0] for i in np.flatnonzero(footer)]
    return ~nonempty, footer, keywords


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(
                [
                    "",
                    " ",
                    "\u3000",
                    "合计",
                    "合 计",
                    "填表人：张三",
                    "制表日期:2023",
                    "1",
                    "a",
                    "张三",
                ]
            ),
            min_size=5,
            max_size=5,
        ),
        min_size=1,
        max_size=25,
    )
)
def test_body_masks_equal_previous_implementation(rows):
    body = np.empty((len(rows), 5), dtype=object)
    body[:] = rows
    columns = [pa.array(body[:, j], type=pa.large_string()) for j in range(5)]
    blank, footer, keywords = _body_masks(body, columns)
    b0, f0, k0 = _body_masks_previous(body)
    assert blank.tolist() == b0.tolist()
    assert footer.tolist() == f0.tolist()
    assert keywords == k0


# --- pseudonyms --------------------------------------------------------------------------------
def test_digester_with_and_without_memo():
    key = b"secret"
    values = ["A1", "B2", "A1", "学号3"]
    d = ps.Digester(key)
    expected = [bytes.fromhex(ps.keyed_digest(v, key)) for v in values]
    assert d.many_bytes(values, remember=False) == expected
    assert d.many_bytes(values) == expected
    assert d.many_bytes(["B2", "C4"]) == [expected[1], bytes.fromhex(ps.keyed_digest("C4", key))]
    assert ps.digest_many(values, key) == [e.hex() for e in expected]


# --- the parent ----------------------------------------------------------------------------------
def _records(files: list[str], cats: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "_khash": np.arange(len(files), dtype=np.uint64),
            "_file": pd.Categorical(files, categories=cats),
            "_sheet": pd.Categorical([""] * len(files), categories=[""]),
            "_folder": pd.Categorical(["2023-06-30"] * len(files), categories=["2023-06-30"]),
            "_row": np.arange(len(files), dtype=np.int64),
        }
    )


def test_stack_records_categories_as_astype_would_make_them():
    a = _records(["b.csv", "b.csv"], ["b.csv", "z.csv"])  # an unused category
    b = _records(["a.csv"], ["a.csv"])
    out = stack_records([a, b])
    expected = pd.concat([a, b], ignore_index=True)
    for c in ("_file", "_sheet", "_folder"):
        expected[c] = expected[c].astype(object).astype("category")
    pd.testing.assert_frame_equal(out, expected)
    same_cats = stack_records([a, a])
    assert list(same_cats["_file"].cat.categories) == ["b.csv", "z.csv"]  # kept as they were


def test_count_rows_without_records_or_quarantine():
    files = pd.DataFrame(
        {
            "source_file": pd.Series(["f.csv", "g.csv"], dtype="string"),
            "sheet": pd.Series(["", ""], dtype="string"),
            "rows_read": np.array([2, 0], dtype=np.int64),
        }
    )
    records = _records(["f.csv", "f.csv"], ["f.csv"])
    quarantine = pd.DataFrame(
        {
            "source_file": pd.Series([], dtype="string"),
            "sheet": pd.Series([], dtype="string"),
            "level": pd.Series([], dtype="string"),
        }
    )
    merged = np.array([False, True])
    out = count_rows(files, records, merged, np.zeros(2, bool), quarantine, "graduates")
    assert out[["accepted", "merged", "quarantined"]].values.tolist() == [[1, 1, 0], [0, 0, 0]]
    assert out["balanced"].all()
    none = _records([], ["f.csv"])
    files2 = files.assign(rows_read=np.array([0, 0], dtype=np.int64))
    out2 = count_rows(files2, none, np.zeros(0, bool), np.zeros(0, bool), quarantine, "x")
    assert out2[["accepted", "merged", "quarantined"]].values.tolist() == [[0, 0, 0], [0, 0, 0]]


def test_unique_words_keeps_first_occurrences():
    kind = pd.Categorical(["name", "name", "phone", "name"], categories=["name", "phone"])
    d0 = np.array([1, 1, 1, 2], dtype=np.uint64)
    fp = pd.DataFrame({"kind": kind, "d0": d0, "d1": d0, "d2": d0, "d3": d0})
    out = unique_words(fp)
    assert out["kind"].astype(str).tolist() == ["name", "phone", "name"]
    assert out["d0"].tolist() == [1, 1, 2]


def test_digest_columns_written_plain_and_read_back_equal(tmp_path):
    df = pd.DataFrame(
        {
            "kind": pd.Series(["name", "phone"], dtype="string"),
            "digest": pd.Series(["a" * 64, "b" * 64], dtype="string"),
        }
    )
    path = tmp_path / "fp.parquet"
    write_parquet(pa.Table.from_pandas(df, preserve_index=False), path, "pii_fingerprints")
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert DIGEST_COLUMNS["pii_fingerprints"] == ("digest",)
    assert cols["digest"].compression == "UNCOMPRESSED"
    assert cols["kind"].compression == "SNAPPY"
    # a key that repeats (help records: a student, a helper) keeps its dictionary
    other = tmp_path / "assistance.parquet"
    write_parquet(pa.Table.from_pandas(df, preserve_index=False), other, "assistance")
    meta = pq.ParquetFile(other).metadata.row_group(0)
    assert {meta.column(i).compression for i in range(meta.num_columns)} == {"SNAPPY"}


def test_worker_cpu_is_a_declared_field():
    r = IngestResult(dt.date(2023, 8, 31), "data")
    assert r.worker_cpu_seconds == 0.0


def test_words_hex_is_the_digest_hex():
    digests = [bytes([i]) * 16 + bytes(range(16)) for i in range(0, 256, 5)]
    words = ps.digest_words(digests)
    assert ps.words_hex(words).tolist() == [d.hex() for d in digests]
    assert ps.words_hex(np.empty((0, 4), dtype=np.uint64)).tolist() == []


# --- targets built dataset by dataset ------------------------------------------------------------
def test_a_failed_ingest_leaves_no_half_written_folder(tmp_path, monkeypatch):
    from test_ingest_support import (
        AS_OF,
        GRAD_HEADER,
        VISITS_HEADER,
        grad_row,
        make_data_dir,
        raw_dir,
        write_csv,
    )

    import helpers.ingest.pipeline as pl
    import helpers.ingest.targets as targets

    data = make_data_dir(tmp_path)
    early = dt.date(2023, 6, 30)
    write_csv(raw_dir(data, early) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1)])
    write_csv(raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    write_csv(
        raw_dir(data) / "访企拓岗_a.csv",
        [VISITS_HEADER, ["10386", "2023-08-01", "张三", "校长", "某公司", "是", "3"]],
    )
    real_merge = targets.merge

    def failing(dataset, pool, paths):
        if dataset == "visits" and len(pool.records):  # the folder with a visits file
            raise RuntimeError("disk full")
        return real_merge(dataset, pool, paths)

    monkeypatch.setattr(targets, "merge", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        pl.ingest(AS_OF, data, workers=1)
    left = sorted(p.name for p in (data / "processed").iterdir())
    # the early folder (no visits) was finished and swapped in; nothing half-written remains
    assert left == [".ingest.lock", early.isoformat()]
    monkeypatch.setattr(targets, "merge", real_merge)
    result = pl.ingest(AS_OF, data, workers=1)
    assert result.built == [AS_OF] and result.up_to_date == [early]
    assert len(pd.read_parquet(data / "processed" / str(AS_OF) / "visits.parquet")) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dates(), min_size=1, max_size=30))
def test_date_cells_as_iso_text(dates):
    col = np.array([*dates, "text", 2.0], dtype=object)
    assert cells_to_text(col).tolist() == [d.isoformat() for d in dates] + ["text", "2"]
