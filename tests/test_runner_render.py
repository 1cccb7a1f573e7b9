"""HTML rendering: template, table of contents, hidden code and parameters, offline check."""

from __future__ import annotations

import base64
import io

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

from helpers.runner import render


def _png() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def executed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(
        'as_of = "2023-08-31"\nSECRET_DEFAULT = 1', metadata={"tags": ["parameters"]}
    )
    injected = nbformat.v4.new_code_cell(
        '# Parameters\nas_of = "2023-06-30"\nINJECTED_MARK = 2',
        metadata={"tags": ["injected-parameters"]},
    )
    reset = nbformat.v4.new_code_cell("RUNNER_RESET_MARK = 3", metadata={"tags": ["runner-reset"]})
    chart = nbformat.v4.new_code_cell("VISIBLE_CODE_MARK = plot()")
    chart.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="WARNING_STDERR_MARK\n"),
        nbformat.v4.new_output(
            "display_data", data={"image/png": _png(), "text/plain": "<Figure>"}
        ),
    ]
    table = nbformat.v4.new_code_cell("df")
    table.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            execution_count=5,
            data={
                "text/html": "<table><tr><th>院校</th></tr><tr><td>福州大学</td></tr></table>",
                "text/plain": "df",
            },
        )
    ]
    nb.cells = [
        reset,
        params,
        injected,
        nbformat.v4.new_markdown_cell("# 一、总体情况\n\n说明文字。"),
        chart,
        nbformat.v4.new_markdown_cell("## 1.1 分院校\n\n下表。"),
        table,
        nbformat.v4.new_markdown_cell("# 一、总体情况\n\n同名标题（合并报告时会出现）。"),
        nbformat.v4.new_markdown_cell("#### 四级标题不进目录"),
    ]
    return nb


def meta(**kw) -> render.PageMeta:
    base = dict(
        title="全省高校毕业去向落实率分析",
        as_of="2023-08-31",
        cohort="2023届",
        data_version="abc123def456",
        generated_at="2023-09-01 08:00",
        index_href="index.html",
    )
    return render.PageMeta(**(base | kw))


@pytest.fixture(scope="module")
def page() -> str:
    return render.render_report(executed_notebook(), meta())


def test_report_hides_code_parameters_and_runner_cells(page):
    for mark in (
        "VISIBLE_CODE_MARK",
        "SECRET_DEFAULT",
        "INJECTED_MARK",
        "RUNNER_RESET_MARK",
        "WARNING_STDERR_MARK",
        "In&nbsp;[",
        "Out[5]",
    ):
        assert mark not in page, mark


def test_report_header_has_title_date_cohort_version_and_time(page):
    assert '<html lang="zh-CN">' in page
    assert "<title>全省高校毕业去向落实率分析</title>" in page
    for text in (
        "全省高校毕业去向落实率分析",
        "统计截止日期",
        "2023-08-31",
        "2023届",
        "abc123def456",
        "2023-09-01 08:00",
        "返回本期报告目录",
    ):
        assert text in page, text


def test_report_embeds_chart_and_table(page):
    assert page.count('src="data:image/png;base64,') == 1
    assert "福州大学" in page
    # every image has a Chinese alt text (nbconvert's English one is never added)
    assert page.count("<img ") == page.count('<img alt="图表" ') == 1
    assert "No description" not in page


def test_rendering_leaves_the_executed_notebooks_unchanged():
    a, b = executed_notebook(), executed_notebook()
    before = [nbformat.writes(a), nbformat.writes(b)]
    combined = render.combine_notebooks([a, b], "某大学毕业生就业监测报告")
    render.render_report(combined, meta())
    assert [nbformat.writes(a), nbformat.writes(b)] == before  # stderr and full PNG still there
    assert "title" not in a.metadata


def test_table_of_contents_links_unique_heading_ids(page):
    entries = render.toc_entries(page)
    assert [(lvl, text) for lvl, _, text in entries] == [
        (1, "一、总体情况"),
        (2, "1.1 分院校"),
        (1, "一、总体情况"),
    ]
    ids = [hid for _, hid, _ in entries]
    assert len(set(ids)) == 3
    for hid in ids:
        assert f'href="#{hid}"' in page and f'id="{hid}"' in page
    assert render.TOC_MARKER not in page
    nav = page.split('class="report-toc"')[1].split("</nav>")[0]
    assert "四级标题不进目录" not in nav and "1.1 分院校" in nav


def test_report_is_offline_and_printable(page):
    assert render.external_resources(page) == []
    assert "<script src" not in page
    assert "@media print" in page and "@page" in page


def test_no_headings_drops_the_toc_box():
    body = '<nav class="report-toc" aria-label="目录"><h2>目录</h2><!--REPORT-TOC--></nav><p>x</p>'
    assert render.insert_toc(body) == "<p>x</p>"


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://cdn.jsdelivr.net/npm/x.js"></script>',
        "<script type='module' src='//unpkg.com/y'></script>",
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Noto">',
        "<style>@import url('https://example.org/a.css');</style>",
        '<style>@font-face { src: url("https://example.org/f.woff2"); }</style>',
        '<img src="http://example.org/chart.png">',
        '<script type="module">import x from "https://esm.sh/mermaid";</script>',
    ],
)
def test_offline_check_catches_network_resources(snippet):
    assert render.external_resources(snippet)
    with pytest.raises(render.OfflineError):
        render.assert_offline(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="https://www.moe.gov.cn/">教育部</a>',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        "/* see https://github.com/x/y for the palette */",
        "<p>网址 http://example.org 只是文字</p>",
    ],
)
def test_offline_check_allows_links_and_data_uris(snippet):
    assert render.external_resources(snippet) == []


def _whole_page_search(page: str) -> list[str]:
    """The offline check's patterns run over the whole page (what external_resources must find)."""
    return [
        page[m.start() : m.end() + 60].replace("\n", " ")
        for pattern, _ in render._EXTERNAL
        for m in pattern.finditer(page)
    ]


_FRAGMENTS = [
    "<img ",
    "<script ",
    "<link ",
    "<source ",
    " src=",
    " href=",
    " srcset=",
    " data=",
    "=",
    '"',
    "'",
    "//",
    "///",
    "/",
    ">",
    ";",
    "<",
    "import",
    "Import",
    " from ",
    "(",
    ")",
    "url(",
    "URL(",
    "@import ",
    "https:",
    "http:",
    " ",
    "\n",
    "x",
    "data:image/png;base64,",
    "example.org/a.js",
    # pieces of references, so that many pages hold one
    'import x from "//',
    ' from "//',
    "import(",
    ' src="//',
    " href=//",
    "url(//",
    "@import '//",
]


def _random_page(rng) -> str:
    parts = []
    for _ in range(rng.randrange(1, 40)):
        if rng.random() < 0.1:  # a chunk of chart data (base64 has "/" and so can have "//")
            parts.append("".join(rng.choice("AB+/=09/") for _ in range(rng.randrange(1, 300))))
        else:
            parts.append(rng.choice(_FRAGMENTS))
    return "".join(parts)


def test_offline_check_finds_what_a_whole_page_search_finds():
    """external_resources only searches the spans that can hold a match: same findings, same order."""
    import random

    rng = random.Random(20230831)
    flagged = 0
    for _ in range(3000):
        page = _random_page(rng)
        found = render.external_resources(page)
        assert found == _whole_page_search(page), page
        flagged += bool(found)
    assert 500 < flagged < 2500  # the generator makes pages of both kinds


def test_offline_check_sees_references_between_chart_data():
    chart = "data:image/png;base64," + "iVBORw0KGgo//AAAA+/" * 20000  # "//" inside the data too
    tail = [
        '<script type="module">\nconst a = 1, b = 2\nimport {x}\n  from "https://esm.sh/y";</script>',
        '<script type="module">import x /* a -> b */ from "//esm.sh/y"</script>',
        '<img alt="图" src="' + chart + '" srcset="//cdn.example.org/a.png 2x">',
        '<link rel="icon" href="'
        + chart
        + '"><link\nrel="stylesheet"\nhref=\n"//f.example/x.css">',
        '<style>.a { background: url( "'
        + chart
        + '" ) } .b { background: url(//x.org/b.png) }</style>',
    ]
    for snippet in tail:
        page = f'<p><img src="{chart}"></p>' * 3 + snippet + f'<p><img src="{chart}"></p>'
        found = render.external_resources(page)
        assert found and found == _whole_page_search(page)
    clean = f'<p><img src="{chart}"></p>' * 3
    assert render.external_resources(clean) == [] == _whole_page_search(clean)


def _markdown_notebook(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell(text)]
    return nb


def test_markdown_rendered_once_gives_the_same_page():
    nb = _markdown_notebook(
        "# 标题\n\n说明 **粗体**，公式 $x^2$。\n\n| 甲 | 乙 |\n|---|---|\n| 1 | 2 |"
    )
    exporter = render.report_exporter()
    exporter.__dict__.pop("_markdown_html", None)
    first = render.render_report(nb, meta())
    assert len(exporter._markdown_html) >= 1
    assert render.render_report(nb, meta()) == first  # from the memo
    exporter._markdown_html.clear()
    assert render.render_report(nb, meta()) == first  # rendered again


def test_markdown_with_an_image_file_is_read_at_each_render(tmp_path, monkeypatch):
    from PIL import Image

    def png(colour) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (3, 2), colour).save(buf, format="PNG")
        return buf.getvalue()

    monkeypatch.chdir(tmp_path)
    nb = _markdown_notebook("说明图：\n\n![示意图](chart.png)")
    red, blue = png("red"), png("blue")
    (tmp_path / "chart.png").write_bytes(red)
    first = render.render_report(nb, meta())
    (tmp_path / "chart.png").write_bytes(blue)  # same text, another file content
    second = render.render_report(nb, meta())
    assert base64.b64encode(red).decode() in first
    assert base64.b64encode(blue).decode() in second
    assert base64.b64encode(red).decode() not in second


def test_combined_notebook_keeps_parts_in_order():
    a, b = executed_notebook(), executed_notebook()
    b.cells[3].source = "# 二、第二部分"
    combined = render.combine_notebooks([a, b], "某大学毕业生就业监测报告")
    assert len(combined.cells) == len(a.cells) + len(b.cells)
    assert combined.metadata["title"] == "某大学毕业生就业监测报告"
    page = render.render_report(combined, meta(title="某大学毕业生就业监测报告"))
    texts = [t for _, _, t in render.toc_entries(page)]
    assert texts.index("二、第二部分") > texts.index("1.1 分院校")


def test_error_page_names_report_cell_and_error():
    failure = {
        "notebook": "placement_rates.ipynb",
        "university": "10386 福州大学",
        "ename": "KeyError",
        "evalue": "'placement_rate'",
        "cell_index": 7,
        "traceback": ["\x1b[0;31mKeyError\x1b[0m: 'placement_rate'"],
        "notebook_href": "../notebooks/universities/10386-placement_rates.ipynb",
    }
    page = render.render_error_page(meta(title="福州大学毕业生就业监测报告"), failure)
    for text in (
        "报告生成失败",
        "福州大学毕业生就业监测报告",
        "第 7 个单元格",
        "KeyError",
        "10386 福州大学",
        "../notebooks/universities/10386-placement_rates.ipynb",
    ):
        assert text in page, text
    assert "\x1b[" not in page
    assert render.external_resources(page) == []


def test_write_text_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "x.html"
    render.write_text_atomic(path, "一")
    render.write_text_atomic(path, "二")
    assert path.read_text(encoding="utf-8") == "二"
    assert [p.name for p in path.parent.iterdir()] == ["x.html"]


def test_chart_png_shrinks_to_a_palette_on_white():
    import matplotlib.pyplot as plt
    from PIL import Image

    import helpers.charts

    helpers.charts.use_house_style()  # the CJK font for the labels
    fig, ax = plt.subplots(figsize=(6, 4))
    for i in range(6):
        ax.plot(range(50), [((x * (i + 1)) % 17) for x in range(50)], marker="o", label=f"系列{i}")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, transparent=True)
    plt.close(fig)
    original = base64.b64encode(buf.getvalue()).decode()
    small = render.shrink_png(original)
    assert len(small) < len(original) * 0.7
    with Image.open(io.BytesIO(base64.b64decode(small))) as im:
        assert im.mode == "P" and im.size == Image.open(io.BytesIO(buf.getvalue())).size
        assert im.convert("RGB").getpixel((0, 0)) == (
            255,
            255,
            255,
        )  # transparency flattened on white
    assert render.shrink_png("not base64 png") == "not base64 png"
    assert render.shrink_png(small) == small  # a palette PNG (helpers.charts.show_figure) as it is


def test_the_embedded_font_does_not_depend_on_the_time_it_is_built(monkeypatch):
    import time

    from helpers.runner import webfont

    first = webfont.subset_woff2("标题说明粗体")
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    assert webfont.subset_woff2("标题说明粗体") == first
