"""helpers.tables: paths, CSV writing, header registry, the xlsx workbook, notebook display."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest
from contract_tables import CONTRACT_COLUMNS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import inert, tables
from helpers.tables import (
    WORKBOOK_NAME,
    ZH_HEADERS,
    build_workbook,
    display_frame,
    is_difference_column,
    is_rate_column,
    read_table,
    register_headers,
    register_table_titles,
    tables_dir,
    write_table,
)


def _by_university() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "university_code": ["10386", "10384"],
            "university_name": ["福州大学", "厦门大学"],
            "graduates": [100, 0],
            "placed": [80, 0],
            "placement_rate": [0.8, np.nan],
            "ci_low": [0.71, np.nan],
            "ci_high": [0.87, np.nan],
            "baseline_rate": [0.75, np.nan],
            "below_baseline": pd.array([False, pd.NA], dtype="boolean"),
        }
    )


def test_tables_dir_layout(tmp_path):
    assert tables_dir(tmp_path, dt.date(2023, 8, 31)) == tmp_path / "2023-08-31" / "tables"
    assert tables_dir(tmp_path, dt.date(2023, 8, 31), "10386") == (
        tmp_path / "2023-08-31" / "tables" / "universities" / "10386"
    )
    assert not (tmp_path / "2023-08-31").exists()  # nothing is created
    with pytest.raises(ValueError, match="5-digit"):
        tables_dir(tmp_path, dt.date(2023, 8, 31), "4135010386")


def test_write_table_utf8_bom_and_empty_cells(tmp_path):
    path = write_table(_by_university(), "placement_by_university", tmp_path / "t")
    assert path == tmp_path / "t" / "placement_by_university.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig").splitlines()
    assert text[0].split(",") == list(_by_university().columns)
    # a missing value is an empty cell, never 0
    assert text[2] == "10384,厦门大学,0,0,,,,,"
    back = read_table(path)
    assert back["university_code"].tolist() == ["10386", "10384"]
    assert back["placement_rate"].iloc[0] == 0.8 and pd.isna(back["placement_rate"].iloc[1])
    assert str(back["below_baseline"].dtype) == "boolean"
    assert not back["below_baseline"].iloc[0] and pd.isna(back["below_baseline"].iloc[1])
    assert list(tmp_path.joinpath("t").glob(".*")) == []  # no temporary file left


def test_write_table_keeps_codes_and_dates(tmp_path):
    df = pd.DataFrame(
        {
            "university_code": ["10386"],
            "major_code": ["080901"],
            "education_level": ["本科"],
            "major_name": ["计算机科学与技术"],
            "snapshot_date": [pd.Timestamp("2023-08-31")],
        }
    )
    path = write_table(df, "placement_by_major", tmp_path)
    assert "080901" in path.read_text(encoding="utf-8-sig")
    back = read_table(path)
    assert back["major_code"].iloc[0] == "080901"
    assert back["snapshot_date"].iloc[0] == "2023-08-31"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("placement_rate", 80.0, "outside"),  # a percentage, not a fraction
        ("placement_rate", -0.1, "outside"),
        ("gap", -1.5, "outside"),
        ("ci_low", "80%", "not a number"),
    ],
)
def test_write_table_rejects_bad_rates(tmp_path, column, value, message):
    df = _by_university()
    if column not in df:
        df[column] = 0.0
    df[column] = df[column].astype(object)
    df.loc[0, column] = value
    with pytest.raises(ValueError, match=message) as err:
        write_table(df, "placement_by_university", tmp_path)
    assert column in str(err.value) and "row 0" in str(err.value)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([0.5, np.nan, 1.0, 0.0]),  # NaN: a missing rate
        pd.Series([1 + 5e-13, -5e-13]),  # rounding noise at the ends
        pd.Series([0, 1]),  # integers
        pd.Series([0.25, 0.5], dtype="float32"),
        pd.Series([True, False]),  # booleans count as 1 / 0
        pd.Series([True, pd.NA], dtype="boolean"),
        pd.Series([0.5, pd.NA], dtype="Float64"),
        pd.Series([1, pd.NA], dtype="Int64"),
        pd.Series([0.5, None, np.nan, pd.NA], dtype=object),  # every kind of missing
        pd.Series(["0.5", "0.7"], dtype=object),  # numbers as text
        pd.Series([True, 0.5], dtype=object),  # mixed
        pd.Series(["0.5", None], dtype="string"),
        pd.Series([0.5, 0.7], dtype="category"),
        pd.Series([], dtype=float),
        pd.Series([np.nan, np.nan]),
    ],
)
def test_write_table_accepts_fractions_of_any_dtype(tmp_path, values):
    df = pd.DataFrame({"placement_rate": values, "gap": values})
    write_table(df, "placement_by_university", tmp_path)


@pytest.mark.parametrize(
    ("values", "row", "message"),
    [
        (pd.Series([0.1, np.nan, 1.5]), 2, "np.float64(1.5) is outside [0, 1]"),
        (pd.Series([0.1, np.inf]), 1, "np.float64(inf) is outside"),
        (pd.Series([0.5, 2.0], dtype="float32"), 1, "np.float32(2.0) is outside"),
        (pd.Series([0, 80]), 1, "np.int64(80) is outside"),
        (pd.Series([0.5, 1.5, 2.5], dtype="Float64"), 1, "np.float64(1.5) is outside"),
        (pd.Series([pd.NA, 1.5], dtype="Float64"), 1, "np.float64(1.5) is outside"),
        (pd.Series([pd.NA, 3], dtype="Int64"), 1, "np.int64(3) is outside"),
        (pd.Series([80, 0.5], dtype=object), 0, "np.float64(80.0) is outside"),
        (pd.Series([0.5, "80%"], dtype=object), 1, "not a number ('80%')"),
        (pd.Series([0.5, "nan"], dtype=object), 1, "not a number ('nan')"),
        (pd.Series([0.5, ""], dtype=object), 1, "not a number ('')"),
        (pd.Series([[0.5]], dtype=object), 0, "not a number ([0.5])"),
        (pd.Series(["0.5", None, "x"], dtype="string"), 2, "not a number ('x')"),
        (pd.Series(["0.5", None, "7"], dtype="string"), 2, "np.float64(7.0) is outside"),
        (pd.Series([0.5, 7.0], dtype="category"), 1, "np.float64(7.0) is outside"),
        (pd.Series(["a", "b"], dtype="category"), 0, "not a number ('a')"),
    ],
)
def test_write_table_names_the_first_bad_row_of_any_dtype(tmp_path, values, row, message):
    df = pd.DataFrame({"university_code": ["x"] * len(values), "ci_low": values})
    df.index = range(100, 100 + len(df))  # rows are counted by position, not by index label
    with pytest.raises(ValueError) as err:
        write_table(df, "placement_by_university", tmp_path)
    assert str(err.value).startswith(
        f"table 'placement_by_university', column 'ci_low', row {row}: {message}"
    )
    assert not list(tmp_path.iterdir())  # nothing written


def test_write_table_checks_differences_against_minus_one(tmp_path):
    ok = pd.DataFrame(
        {"gap": [-1.0, -0.2, 1.0], "rate_change": pd.array([-0.5, None, -1.0], dtype="Float64")}
    )
    write_table(ok, "placement_by_group", tmp_path)
    bad = pd.DataFrame({"gap": [-0.2, -1.5]})
    with pytest.raises(
        ValueError, match=r"column 'gap', row 1: np.float64\(-1.5\) is outside \[-1, 1\]"
    ):
        write_table(bad, "placement_by_group", tmp_path)


def test_write_table_leaves_the_frame_unchanged(tmp_path):
    df = _by_university()
    df["snapshot_date"] = pd.Timestamp("2023-08-31")
    before = df.copy()
    path = write_table(df, "placement_by_university", tmp_path)
    pd.testing.assert_frame_equal(df, before)
    assert read_table(path)["snapshot_date"].tolist() == ["2023-08-31", "2023-08-31"]


def test_write_table_accepts_negative_differences(tmp_path):
    df = pd.DataFrame({"university_code": ["ALL"], "group": ["残疾"], "gap": [-0.2]})
    write_table(df, "placement_by_group", tmp_path)


def test_write_table_requires_headers_and_titles(tmp_path):
    df = pd.DataFrame({"university_code": ["10386"], "mystery_column": [1]})
    with pytest.raises(ValueError, match="mystery_column"):
        write_table(df, "placement_by_university", tmp_path)
    with pytest.raises(ValueError, match="no Chinese title"):
        write_table(df[["university_code"]], "not_a_registered_table", tmp_path)
    with pytest.raises(ValueError, match="snake_case"):
        write_table(df[["university_code"]], "Bad-Name", tmp_path)
    with pytest.raises(ValueError, match="snake_case"):
        write_table(pd.DataFrame({"院校代码": ["1"]}), "placement_by_university", tmp_path)


def test_registry_is_consistent_and_extensible():
    register_headers({"university_code": "院校代码"})  # same header again: fine
    with pytest.raises(ValueError, match="already has the Chinese header"):
        register_headers({"university_code": "学校代码"})
    with pytest.raises(ValueError, match="snake_case"):
        register_headers({"Bad Col": "x"})
    with pytest.raises(ValueError, match="sheet name"):
        register_table_titles(
            {"too_long": "这是一个非常非常非常非常非常非常非常非常长的表名超过三十一个字符了"}
        )
    with pytest.raises(ValueError, match="sheet name"):
        register_table_titles({"slashed": "甲/乙"})
    register_headers({"test_tables_share_x": "测试占比"}, differences=("test_tables_delta",))
    try:
        assert is_rate_column("test_tables_share_x") is False  # registered without rates=
        assert is_rate_column("coverage_rate") and is_rate_column("ci_low")
        assert is_difference_column("rate_change") and is_difference_column("gap")
        assert is_difference_column("test_tables_delta")
        assert not is_rate_column("graduates") and not is_difference_column("graduates")
    finally:
        ZH_HEADERS.pop("test_tables_share_x", None)
        tables.DIFFERENCE_COLUMNS.discard("test_tables_delta")


def test_contract_columns_have_headers():
    contract = CONTRACT_COLUMNS
    for name, cols in contract.items():
        assert name in tables.TABLE_TITLES
        for col in [*cols, "suppressed"]:
            assert ZH_HEADERS[col]


def _read_table_one_series_at_a_time(path) -> pd.DataFrame:
    """read_table as it was written first (pandas calls per column): the reference."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    out = {}
    for col in raw.columns:
        s = raw[col].replace("", pd.NA)
        if s.str.startswith("'").any():
            s = s.map(inert.csv_plain, na_action="ignore")
        if col.endswith(("_code", "_id")) or col in ("report_university", "report_folder"):
            out[col] = s.astype("string")
            continue
        present = s.dropna()
        if len(present) and present.isin(["True", "False"]).all():
            out[col] = s.map({"True": True, "False": False}).astype("boolean")
            continue
        num = pd.to_numeric(s, errors="coerce")
        if len(present) and num[s.notna()].notna().all():
            out[col] = num
        else:
            out[col] = s.astype("string")
    return pd.DataFrame(out, index=raw.index)


CELLS = ["", "1", "-3", "+4", " 7", "2.5", "1e3", "nan", "inf", "0012", "9999999999999999999",
         "True", "False", "true", "'=1+1", "'", "''x", "=1", "abc", "福州大学"]  # fmt: skip
COLUMNS = ["university_code", "report_university", "graduates", "placement_rate", "note"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(st.sampled_from(CELLS), min_size=5, max_size=5), min_size=0, max_size=6))
def test_read_table_equals_the_per_series_reference(tmp_path, rows):
    """Numbers, booleans, text, codes, empties and neutralised formulas come back exactly as the
    reference reads them (values and dtypes), whatever the mix in a column."""
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=COLUMNS, dtype=object).to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    pd.testing.assert_frame_equal(
        read_table(path), _read_table_one_series_at_a_time(path), check_exact=True
    )


def test_build_workbook(tmp_path):
    root = tables_dir(tmp_path, dt.date(2023, 8, 31))
    write_table(_by_university(), "placement_by_university", root)
    write_table(
        pd.DataFrame(
            {
                "university_code": ["10386"],
                "education_level": ["本科"],
                "major_code": ["080901"],
                "major_name": ["计算机科学与技术"],
                "graduates": [40],
                "placed": [30],
                "placement_rate": [0.75],
            }
        ),
        "placement_by_major",
        root,
    )
    for code, rate in (("10386", 0.8), ("10384", 0.9)):
        write_table(
            pd.DataFrame(
                {
                    "university_code": [code, "ALL"],
                    "graduates": [10, 20],
                    "placement_rate": [rate, 0.85],
                }
            ),
            "placement_by_university",
            tables_dir(tmp_path, dt.date(2023, 8, 31), code),
        )
    path = build_workbook(root)
    assert path == root / WORKBOOK_NAME
    wb = openpyxl.load_workbook(path)
    names = wb.sheetnames
    assert names[0] == "目录"
    assert all(len(n) <= 31 for n in names)
    assert tables.TABLE_TITLES["placement_by_university"] in names
    assert "各校·" + tables.TABLE_TITLES["placement_by_university"] in names
    ws = wb[tables.TABLE_TITLES["placement_by_university"]]
    headers = [c.value for c in ws[1]]
    assert headers == [ZH_HEADERS[c] for c in _by_university().columns]
    rate_col = headers.index(ZH_HEADERS["placement_rate"]) + 1
    cell = ws.cell(row=2, column=rate_col)
    assert cell.value == 0.8 and "%" in cell.number_format
    assert ws.cell(row=3, column=rate_col).value is None  # missing stays empty
    assert ws.cell(row=2, column=1).value == "10386"  # code stays text
    assert ws.cell(row=3, column=headers.index(ZH_HEADERS["below_baseline"]) + 1).value is None
    assert ws.cell(row=2, column=headers.index(ZH_HEADERS["below_baseline"]) + 1).value == "否"
    major = wb[tables.TABLE_TITLES["placement_by_major"]]
    assert major.cell(row=2, column=3).value == "080901"
    stacked = wb["各校·" + tables.TABLE_TITLES["placement_by_university"]]
    assert next(c.value for c in stacked[1]) == ZH_HEADERS["report_university"]
    assert sorted({r[0].value for r in stacked.iter_rows(min_row=2)}) == ["10384", "10386"]
    assert stacked.max_row == 5
    toc = wb["目录"]
    assert toc.max_row == len(names)  # header + one row per sheet
    # rebuilding replaces the workbook, and the workbook itself is not gathered
    assert build_workbook(root) == path


def test_build_workbook_names_unregistered_table(tmp_path):
    root = tmp_path / "tables"
    root.mkdir()
    (root / "something_else.csv").write_text("a\n1\n", encoding="utf-8-sig")
    with pytest.raises(ValueError, match="something_else"):
        build_workbook(root)
    with pytest.raises(FileNotFoundError):
        build_workbook(tmp_path / "missing")


def test_sheet_names_unique_and_short():
    used: set[str] = set()
    long = "各校·" + "很长的表名" * 10
    a = tables._sheet_name(long, used)
    b = tables._sheet_name(long, used)
    assert a != b and len(a) <= 31 and len(b) <= 31
    assert tables._sheet_name("甲:乙", used) == "甲_乙"


def test_display_frame_chinese_headers_and_formats():
    out = display_frame(
        _by_university(), ["university_name", "graduates", "placement_rate", "below_baseline"]
    )
    assert list(out.columns) == ["院校名称", "毕业生数", "毕业去向落实率", "低于上年落实率"]
    assert out.iloc[0].tolist() == ["福州大学", "100", "80.0%", "否"]
    assert out.iloc[1].tolist() == ["厦门大学", "0", "—", "—"]  # missing: a dash, never 0
    gap = display_frame(pd.DataFrame({"gap": [-0.05, 0.1]}))
    assert gap["与本校差距"].tolist() == ["-5.0%", "+10.0%"]
    with pytest.raises(KeyError, match="no Chinese header"):
        display_frame(pd.DataFrame({"nonexistent_col": [1]}))


def test_display_frame_uses_disclosure_display_columns():
    df = pd.DataFrame(
        {
            "group": ["残疾", "低保家庭"],
            "graduates": [4, 120],
            "placed": pd.array([pd.NA, 100], dtype="Int64"),
            "placed_display": ["—", "100"],
            "placement_rate": [np.nan, 100 / 120],
            "placement_rate_display": ["—", "83.3%"],
        }
    )
    out = display_frame(df)
    assert list(out.columns) == ["帮扶群体", "毕业生数", "已落实人数", "毕业去向落实率"]
    assert out["已落实人数"].tolist() == ["—", "100"]
    assert out["毕业去向落实率"].tolist() == ["—", "83.3%"]


def _has_formula_cell_reference(s: pd.Series) -> bool:
    """The per-Series version write_table used before its plain loop (the reference)."""
    values = s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else s.dropna()
    first = pd.Series(values, dtype=object).map(
        lambda v: v.lstrip("'")[:1] if isinstance(v, str) else ""
    )
    return bool(first.isin(inert.CSV_TRIGGERS).any())


FORMULA_CELLS = ["", "'", "''", "'=1", "''+x", "=1", "+", "-3", "@a", "\tx", "\uff1dA", "a=b",
                 "福州大学", " =1", None, np.nan, pd.NA, 3, 1.5]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(FORMULA_CELLS), min_size=0, max_size=6),
    st.sampled_from(["object", "string", "str_arrow", "category"]),
)
def test_has_formula_cell_equals_the_per_series_reference(cells, kind):
    """The plain loop finds a formula cell exactly when the former Series.map version did, for
    object, string, Arrow string and categorical columns with missing and non-text cells."""
    s = pd.Series(cells, dtype=object)
    if kind != "object":
        s = s.map(lambda v: v if isinstance(v, str) else None)  # typed columns hold text or NA
        dtype = {"string": "string", "str_arrow": "string[pyarrow]", "category": "category"}[kind]
        s = s.astype(dtype)
    assert tables._has_formula_cell(s) == _has_formula_cell_reference(s)


HTML_TEXT = st.lists(
    st.sampled_from([*"ab 福州\t\n\r&<>\"'=%—\u3000\xa0", "  ", "&amp;", "1.5%"]), max_size=30
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.one_of(HTML_TEXT, st.none()), min_size=3, max_size=3), max_size=5),
    st.lists(HTML_TEXT, min_size=3, max_size=3),
)
def test_text_tables_html_is_what_pandas_writes(rows, headers):
    """A table of text (what display_frame shows) gets exactly the HTML pandas' to_html writes:
    escapes, control characters, surrounding and double spaces, missing cells, any headers."""
    df = pd.DataFrame(rows, columns=range(3), dtype="str")
    df.columns = headers
    cells = tables._text_cells(df)
    if not len(df):
        assert cells is None
        return
    assert cells is not None
    for classes in ([], ["first-col-names"]):
        assert tables._text_table_html(headers, cells, classes) == df.to_html(
            index=False, border=0, escape=True, na_rep="—", classes=classes, max_rows=None,
            max_cols=None, show_dimensions=False,
        )  # fmt: skip


def test_frame_html_leaves_other_tables_to_pandas():
    numbers = pd.DataFrame({"graduates": [1, 2]})
    assert tables._text_cells(numbers) is None
    assert tables._text_cells(pd.DataFrame({"a": ["x", None]}, dtype=object)) is None
    assert tables._text_cells(pd.DataFrame({"a": ["x", None]}, dtype="string")) is None
    assert tables._text_cells(pd.DataFrame({"a": ["x"]}, index=["r"])) is None
    assert "<td>2</td>" in tables.frame_html(numbers)
