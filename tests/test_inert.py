"""Inert text (issue 13): helpers.inert (Markdown / HTML / CSV), the offline check's active-content
rule, the shared personal-data patterns (helpers.pii) and ingest's free-text scrubbing."""

from __future__ import annotations

import html
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import inert, pii
from helpers.ingest import normalise as nz
from helpers.runner import render

PAYLOADS = [
    '福州大学<img src=x onerror="window.__pwned=1">',
    "闽江学院[点我](javascript:window.__pwned=2)",
    "泉州师范学院![图](http://127.0.0.1:9/pwned.png)",
    "<javascript:alert(1)>",
    "<script>alert(1)</script>",
    "http://evil.example/x and www.evil.example",
    "**粗体** _斜体_ ~~删除~~ `代码` $x^2$",
    "# 标题",
    "1. 列表",
    "- 列表",
    "> 引用",
    "| a | b |",
    "    四个空格",
    "\t制表符",
    "第一行\n\n# 第二段\n---",
    "<!-- 注释 -->",
    "&lt;已转义&gt; &amp;",
    "反斜杠 \\[x\\]",
    string.punctuation,
    "",
]


def rendered(markdown: str) -> str:
    """What nbconvert's exporter makes of a markdown string (the renderer reports use)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


def visible(value: str) -> str:
    return " ".join(value.replace("\t", " ").split("\n"))


@pytest.mark.parametrize("value", PAYLOADS)
def test_md_renders_as_its_own_text_and_nothing_else(value):
    out = rendered(f"**范围**：{inert.md(value)}。").strip()
    assert out.startswith("<p><strong>范围</strong>：") and out.endswith("。</p>"), out
    inner = out[len("<p><strong>范围</strong>：") : -len("。</p>")]
    assert "<" not in inner  # no tag at all: no img, no a, no script, no em
    assert (
        html.unescape(inner) == visible(value).strip()
        or html.unescape(inner).strip() == visible(value).strip()
    )


def test_md_of_a_payload_is_not_a_link_or_image_even_alone():
    for value in PAYLOADS:
        out = rendered(inert.md(value))
        assert "<a " not in out and "<img" not in out and "<script" not in out, value
        assert "<h1" not in out and "<pre" not in out and "<li" not in out, value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(string.printable + "学院（）《》“”—·")), max_size=40))
def test_md_property_any_text_stays_text(value):
    out = rendered(inert.md(value)).strip()
    if not out:
        return
    assert out.startswith("<p>") and out.endswith("</p>"), (value, out)
    inner = out[3:-4]
    assert "<" not in inner, (value, out)


def test_md_text_keeps_paragraphs_and_escapes_each():
    text = "第一段 <b>x</b>\n\n第二段 [l](javascript:x)"
    out = rendered(inert.md_text(text))
    assert out.count("<p>") == 2 and "<b>" not in out and "<a " not in out
    assert "&lt;b&gt;x&lt;/b&gt;" in out
    assert inert.md_text(None) == "" and inert.md(float("nan")) == "" and inert.md(pd.NA) == ""


def test_html_escapes_text_and_attributes():
    assert inert.html('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert inert.html(None) == ""


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://e","m")', '\'=HYPERLINK("http://e","m")'),
        ("+cmd", "'+cmd"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("＝1+1", "'＝1+1"),  # full-width
        ("'=1", "''=1"),  # already an apostrophe: one more, so csv_plain gives it back
        ("-3.2%", "-3.2%"),  # a number written as text stays
        ("+1,234.5", "+1,234.5"),
        ("计算机学院", "计算机学院"),
        ("a=1", "a=1"),
        ("", ""),
        (-5, -5),  # numbers are never touched
        (-0.25, -0.25),
        (None, None),
    ],
)
def test_csv_cell_owasp_rule(value, expected):
    assert inert.csv_cell(value) == expected
    assert inert.csv_plain(inert.csv_cell(value)) == value


@given(st.text(max_size=12))
def test_csv_cell_round_trip_and_never_a_formula(value):
    cell = inert.csv_cell(value)
    assert inert.csv_plain(cell) == value
    if cell and cell[0] in inert.CSV_TRIGGERS:
        assert inert._NUMBER_TEXT.fullmatch(cell)


def test_write_table_neutralises_text_and_keeps_numbers(tmp_path):
    from helpers.tables import build_workbook, read_table, write_table

    df = pd.DataFrame(
        {
            "university_code": ["10386", "10395"],
            "department": pd.Categorical(["=1+1", "@x"]),
            "major_name": ['=HYPERLINK("http://e","m")', "法学"],
            "graduates": [-3, 4],
            "rate_change": [-0.25, 0.1],
        }
    )
    path = write_table(df, "placement_by_major", tmp_path)
    text = path.read_text(encoding="utf-8-sig")
    assert "\n10386,'=1+1,\"'=HYPERLINK(" in text and ",-3,-0.25" in text
    back = read_table(path)
    assert back["department"].tolist() == ["=1+1", "@x"]
    assert back["major_name"].tolist()[0] == '=HYPERLINK("http://e","m")'
    assert back["graduates"].tolist() == [-3, 4]
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(build_workbook(tmp_path)))
    rows = wb.get_sheet_by_name(wb.sheet_names[1]).to_python()
    assert rows[1][1] == "=1+1" and rows[1][3] == -3  # text as text, numbers as numbers


# --- the offline check rejects active content -------------------------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        "<img src=x onerror=alert(1)>",
        "<img/src=x/onerror=alert(1)>",
        '<IMG SRC=x OnError = "a">',
        "<img\nsrc=x\nonerror=y>",
        '<a title="a>b" onclick=x>',
        "<img title='x onerror=y>",
        '<body onload="x">',
        "<details open ontoggle=x>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" jav&#x09;ascript&colon;alert(1)">x</a>',
        '<a href="JaVaScRiPt:x">x</a>',
        '<form action="vbscript:x">',
        '<iframe src="data:text/html;base64,PHNjcmlwdD4=">',
        '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">',
        '<svg><a xlink:href="javascript:x"><text>t</text></a></svg>',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    ],
)
def test_offline_check_rejects_event_handlers_and_script_urls(snippet):
    page = f"<html><body><p>正文</p>{snippet}</body></html>"
    assert render.unsafe_markup(page)
    with pytest.raises(render.OfflineError, match="event handler or a script URL"):
        render.assert_offline(page)


@pytest.mark.parametrize(
    "snippet",
    [
        '<img alt="图表" src="data:image/png;base64,iVBORw0KGgo/onerror=AAA=">',
        "<script>el.onclick = () => { if (a <b onx= 1) location = 'javascript:'; }</script>",
        "<style>a { background: url('javascript:x') } .onload=1 {}</style>",
        "<p>&lt;img src=x onerror=alert(1)&gt; javascript:alert(1) [x](javascript:y)</p>",
        '<a href="https://www.moe.gov.cn/">教育部</a>',
        '<a class="anchor-link" href="#一、总体情况">¶</a>',
        "<!-- <img src=x onerror=y> -->",
        '<div class="jp-Cell" data-mime-type="text/markdown"><td>onerror=1</td></div>',
    ],
)
def test_offline_check_allows_the_pages_own_scripts_and_text(snippet):
    assert render.unsafe_markup(snippet) == []
    render.assert_offline(snippet)


def test_offline_check_passes_a_rendered_report_with_a_hostile_name():
    """A real rendered page (template, scripts, a chart) with a hostile name escaped by md()."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("# 一、总体情况\n\n" + inert.md(PAYLOADS[0]))]
    meta = render.PageMeta(PAYLOADS[0], "2023-08-31", "2023届", "abc", "2023-09-01 10:00")
    page = render.render_report(nb, meta)
    assert "&lt;img src=x" in page and render.unsafe_markup(page) == []
    raw = nbformat.v4.new_notebook(metadata=nb.metadata)
    raw.cells = [nbformat.v4.new_markdown_cell("# 一、总体情况\n\n" + PAYLOADS[0])]
    with pytest.raises(render.OfflineError):  # the same name unescaped is refused
        render.render_report(raw, meta)


# --- personal-data patterns (helpers.pii) and ingest scrubbing ---------------------------------


def make_id(first17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * k for c, k in zip(first17, w, strict=True)) % 11]


VALID_ID = make_id("35010220020707354")


def test_one_check_digit_implementation():
    vals = [VALID_ID, VALID_ID[:17] + "0", "11010519491231002X", "abc", "1" * 18]
    expect = [True, VALID_ID[17] == "0", True, False, False]
    assert pii.check_character_ok(vals).tolist() == expect
    assert nz.check_digit_valid(pd.Series(vals)).tolist() == expect


@pytest.mark.parametrize(
    "text,kind",
    [
        (f"计算机学院{VALID_ID}", "id_number"),
        (f"{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}", "id_number"),
        (f"{VALID_ID[:6]}-{VALID_ID[6:14]}-{VALID_ID[14:]}", "id_number"),
        (VALID_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "id_number"),
        ("11010519491231002x", "id_number"),
        ("联系 138-1234-5678", "mobile"),
        ("联系 1381 234 5678", "mobile"),
        ("1930-3950-0118-8", "student_id"),
        ("1930 3950 01188", "student_id"),
        ("院系1930395001188", "student_id"),
        ("计算机学院", None),
        ("2023届第2批", None),
        ("=1+1", None),
        ("4135010386", None),
        (f"{VALID_ID[:17]}{'0' if VALID_ID[17] != '0' else '1'}", None),
    ],
)
def test_personal_in_text(text, kind):
    assert pii.personal_in_text(text, {"1930395001188"}) == kind


def test_personal_text_column_and_identifiers_asked_only_when_needed():
    s = pd.Series(["法学院", "=1+1", "1930-3950-0118-8", None, "法学院", VALID_ID], dtype="str")
    asked = []

    def ids():
        asked.append(1)
        return {"1930395001188"}

    assert nz.personal_text(s, ids).tolist() == [False, False, True, False, False, True]
    assert len(asked) == 1
    assert nz.personal_text(pd.Series(["法学院", "文学院"] * 50, dtype="str"), ids).sum() == 0
    assert len(asked) == 1  # no digits: the 学号 set is never built


def test_digit_counts_agree_with_isdigit_in_every_script():
    import pyarrow as pa

    digits = [chr(c) for c in range(0x110000) if chr(c).isdigit()]
    rng = np.random.default_rng(5)
    pool = digits + list("abc法学院 -_.") + ["\u3000", "\U0001f600"]
    values = ["".join(rng.choice(pool, int(rng.integers(0, 12)))) for _ in range(3000)]
    values += [*digits, "", None]
    got = nz.digit_counts(pa.array(values, type=pa.large_string()))
    assert got.tolist() == [0 if v is None else sum(ch.isdigit() for ch in v) for v in values]


def test_identifier_set_equals_one_at_a_time():
    import pyarrow as pa

    values = [
        "2019307001",
        "c1930",
        "１９３０-３９５",
        "19 30_39-50",
        "ab\u200b12",
        "Ⅻ123",
        "",
        "a1",
    ]
    want = {pii.normalise_identifier(v) for v in values} - {"", "A1"}
    assert pii.identifier_set(values) == want
    assert pii.identifier_set(pa.array([*values, None], type=pa.large_string())) == want


def test_scrub_builds_each_files_identifiers_once(monkeypatch):
    from helpers.ingest import normalisers

    built = []
    real = normalisers._identifiers
    monkeypatch.setattr(normalisers, "_identifiers", lambda ids: built.append(1) or real(ids))
    files = pd.Series(pd.Categorical(["a.csv"] * 3 + ["b.csv"] * 3))
    ids = pd.Series(["2019307001", "2019307002", "2019307003"] * 2, dtype="str")
    text = pd.Series(["院系2019307002", "法学院", "x", "院系2019307002", "y", "z"], dtype="str")
    v = {"department": text, "major_name": text, "employer_name": text, "difficulty_category": text}
    repairs = normalisers.Repairs(pd.DataFrame(index=range(6)), "graduates")
    normalisers._scrub("graduates", v, repairs, ids, files)
    assert len(built) == 2  # one per file, shared by the four columns
    assert v["department"].tolist() == [nz.SCRUBBED, "法学院", "x", nz.SCRUBBED, "y", "z"]
    assert len(repairs.result()) == 4 * 2


def test_redact_keeps_the_rest_of_a_name():
    name = f"10386-毕业去向-{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}.xlsx"
    assert pii.redact(name) == "10386-毕业去向-已隐去.xlsx"
    assert pii.redact("10386-毕业去向.xlsx") == "10386-毕业去向.xlsx"


def test_ingest_scrubs_free_text_on_both_paths(tmp_path, monkeypatch):
    """A graduates CSV with personal numbers in 所在院系 / 单位名称: regular and bulk paths give
    the same scrubbed values and the same repair records (file, row, column, never the value)."""
    import datetime as dt

    from helpers.ingest import ingest

    header = ["学号", "姓名", "院校代码", "学历层次", "所在院系", "专业代码", "专业名称",
              "毕业去向类别代码", "单位名称"]  # fmt: skip
    rows = []
    for i in range(12):
        rows.append([f"1930395{i:06d}", "张三", "10395", "本科生毕业", "法学院", "030101K",
                     "法学", "11", "某公司"])  # fmt: skip
    rows[2][4] = f"{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}"
    rows[3][4] = "1930-3950-0000-9"  # the 学号 of row 10, hyphenated
    rows[4][4] = "1930395000011"  # a plain 学号 of the file
    rows[5][8] = "联系人 138 1234 5678"
    rows[6][4] = "=1+1"  # not personal: kept (CSV output neutralises it)
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    results = {}
    for mode in ("never", "always"):
        data = tmp_path / mode
        (data / "raw" / "2023-08-31").mkdir(parents=True)
        (data / "raw" / "2023-08-31" / "毕业去向_10395_闽江学院.csv").write_text(text, "utf-8")
        monkeypatch.setenv("PLACEMENT_INGEST_BULK", mode)
        ingest(as_of=dt.date(2023, 8, 31), data_dir=data, workers=1)
        proc = data / "processed" / "2023-08-31"
        g = pd.read_parquet(proc / "graduates.parquet")
        rep = pd.read_parquet(proc / "repairs.parquet")
        rep = rep[rep["repair_code"] == "personal_data_scrubbed"]
        results[mode] = (
            sorted(g["department"].astype(str)),
            sorted(g["employer_name"].astype(str)),
            sorted(zip(rep["row"].astype(int), rep["column"], strict=True)),
            rep[["before", "after"]].to_numpy().tolist(),
        )
    assert results["never"] == results["always"]
    departments, employers, where, values = results["never"]
    assert departments.count("已隐去") == 3 and "=1+1" in departments and len(departments) == 12
    assert employers.count("已隐去") == 1
    assert where == [(4, "所在院系"), (5, "所在院系"), (6, "所在院系"), (7, "单位名称")]
    assert all(v == ["", ""] for v in values)
    assert np.isin(["已隐去"], departments).all()
