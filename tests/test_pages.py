"""Page building blocks: the embedded font (helpers.runner.webfont), table display without index
or cut cells (helpers.tables.frame_html), tap-to-zoom charts, the period index's headline figures
(helpers.runner.headline) and reports/index.html (helpers.runner.index)."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont

from helpers.runner import headline as hl
from helpers.runner.index import period_rows, render_periods_index, write_periods_index
from helpers.runner.render import assert_offline, link_charts, render_site_page
from helpers.runner.webfont import (
    FONT_FAMILY,
    STYLE_ID,
    embed_font,
    font_face_css,
    page_characters,
    subset_woff2,
)
from helpers.tables import ShownTable, display_frame, frame_html

# --- font --------------------------------------------------------------------------------------


def test_page_characters_are_the_non_ascii_text_and_references():
    page = '<p title="甲">乙 abc &#x4E19; &#19969; &#65; &amp;</p>'
    assert page_characters(page) == "".join(sorted("甲乙丙丁"))
    # the boundary of ASCII, and chart data around the text
    chart = "data:image/png;base64," + "iVBORw0KGgo+/=" * 5000
    page = f'<img src="{chart}"><p>\x7f\x80ä{chart}戊</p>'
    assert page_characters(page) == "".join(sorted("\x80ä戊"))


def test_subset_holds_exactly_the_requested_glyphs():
    font = TTFont(io.BytesIO(subset_woff2("通报，福建省φ")))
    assert font.flavor == "woff2"
    cmap = font.getBestCmap()
    assert set(cmap) == {ord(c) for c in "通报，福建省"}  # φ: not in the bundled font
    assert font["name"].getDebugName(1) == FONT_FAMILY
    names = font.getGlyphOrder()
    assert names[0] == ".notdef" and len(names) == 7
    # real outlines, one em wide like the source
    glyphs = font.getGlyphSet()
    assert glyphs[cmap[ord("通")]].width == 1000
    from fontTools.pens.boundsPen import BoundsPen

    pen = BoundsPen(glyphs)
    glyphs[cmap[ord("通")]].draw(pen)
    assert pen.bounds is not None


def test_embed_font_adds_one_face_before_the_head_ends_and_stays_offline():
    page = "<html><head><title>t</title></head><body><h1>情况通报</h1></body></html>"
    out = embed_font(page)
    assert out.count("@font-face") == 1 and out.index(STYLE_ID) < out.index("</head>")
    data = re.search(r'base64,([A-Za-z0-9+/=]+)"', out).group(1)
    assert set(TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()) == {
        ord(c) for c in "情况通报"
    }
    assert_offline(out)
    # nothing to embed: the page is returned as it was
    assert embed_font("<html><head></head><body>ascii</body></html>").count("@font-face") == 0
    assert embed_font("<p>没有 head</p>") == "<p>没有 head</p>"
    assert font_face_css("φτ") == ""  # none in the bundled font


def test_site_pages_embed_their_font():
    page = render_site_page("site_periods.html.j2", title="各统计期", periods=[])
    assert f'id="{STYLE_ID}"' in page and "data:font/woff2;base64," in page


# --- tables ------------------------------------------------------------------------------------


def test_frame_html_has_no_index_and_no_cut_cells():
    long = "低于全省2022届平均水平70.0%（本校64.1%），差距超过5个百分点，且连续两期下降" * 2
    df = pd.DataFrame({"院校名称": ["福州大学", "闽江学院"], "事由": [long, "短"]}, index=[40, 41])
    html = frame_html(df)
    assert long in html and "..." not in html and "…" not in html
    assert ">40<" not in html and ">41<" not in html
    assert html.startswith('<div class="report-table">')
    assert 'class="dataframe first-col-names"' in html
    assert '<td class="text">福州大学</td>' in html


def test_frame_html_keeps_a_named_index_and_long_tables_whole():
    named = pd.DataFrame({"n": [1, 2]}, index=pd.Index(["甲", "乙"], name="帮扶群体"))
    html = frame_html(named)
    assert '<th class="text">帮扶群体</th>' in html and '<td class="text">甲</td>' in html
    many = pd.DataFrame({"院校名称": [f"学校{i}" for i in range(200)], "n": range(200)})
    assert frame_html(many).count("<tr>") == 200  # pandas' display.max_rows does not apply
    assert "first-col-names" not in frame_html(pd.DataFrame({"排名": [1, 2], "n": [3, 4]}))


def test_frame_html_escapes_cell_text():
    html = frame_html(pd.DataFrame({"院校名称": ["<script>x</script>"], "n": [1]}))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_display_frame_is_shown_without_index():
    df = pd.DataFrame({"university_name": ["福州大学"], "rank": [1], "graduates": [10]})
    out = display_frame(df)
    assert isinstance(out, ShownTable)
    html = out._repr_html_()
    assert "<th>排名</th>" in html and ">1<" in html  # the rank is a column, headed 排名
    assert html.count("<td") == 3  # no index cell
    assert type(out.head(1)) is pd.DataFrame  # derived frames are plain frames


def test_disclosure_show_displays_without_index(monkeypatch):
    from helpers import disclosure

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    df = pd.DataFrame(
        {
            "group": ["残疾"],
            "graduates": [4],
            "placement_rate": [np.nan],
            "placement_rate_display": ["—"],
            "suppressed": ["small_cell"],
        },
        index=[42],
    )
    disclosure.show(df)
    assert isinstance(shown[0], ShownTable)
    assert ">42<" not in shown[0]._repr_html_()


# --- charts ------------------------------------------------------------------------------------


def test_link_charts_wraps_each_embedded_image_once():
    body = (
        '<img alt="图表" src="data:image/png;base64,AAAA//BB">'
        '<p>x</p><img src="data:image/png;base64,CCCC">'
    )
    out = link_charts(body)
    assert out.count('class="report-chart"') == 2
    assert 'id="chart-1"' in out and 'href="#chart-2"' in out
    assert out.count("base64,AAAA//BB") == 1  # the image data is not repeated
    assert_offline(out)


# --- headline ----------------------------------------------------------------------------------


def _tables(**over):
    t = {
        "placement_headline": pd.DataFrame(
            {
                "placement_rate": [0.6752],
                "policy_rate": [0.7],
                "rate_change": [0.0487],
                "previous_snapshot_date": ["2023-07-31"],
                "last_year_change": [0.005],
                "last_year_snapshot_date": ["2022-08-31"],
            }
        ),
        "placement_below_policy": pd.DataFrame(
            {"university_name": ["甲", "乙", "丙"], "below_policy_rate": [True, True, False]}
        ),
        "major_summary": pd.DataFrame(
            {
                "scope": ["全省", "学历层次"],
                "points": [75, 21],
                "insufficient": [9, 0],
                "below_confident": [1, 0],
                "below_point": [2, 2],
                "not_below": [63, 19],
            }
        ),
        "interview_list": pd.DataFrame(
            {"university_code": ["10386", "10386", "10395"], "reason": ["a", "b", "c"]}
        ),
        "data_quality_datasets": pd.DataFrame(
            {"rows_read": [100, 50], "rows_quarantined": [3, 0], "balanced": [True, True]}
        ),
        "data_quality_unreadable": pd.DataFrame({"source_file": []}),
    }
    t.update(over)
    return t


def test_headline_figures_from_the_tables():
    rate, below, majors, talks, quality = hl.headline_figures(_tables(), report_ok=True)
    assert (rate.value, rate.tone) == ("67.5%", "bad")
    assert rate.note == (
        "低于政策线 70.0%（-2.5个百分点）；较 2023-07-31 +4.9个百分点；较上年同期（2022-08-31）+0.5个百分点"
    )
    assert (below.value, below.note) == ("2 所", "甲、乙")
    assert majors.value == "3 / 75 个低于阈值"
    assert majors.note == "人数不足 9 个；确定低于阈值 1 个；点估计低于阈值 2 个；未低于阈值 63 个"
    assert (talks.value, talks.note) == ("2 所", "共 3 项约谈事由")
    assert (quality.value, quality.tone) == ("有隔离行", "bad")
    assert quality.note == "3 行被隔离（共读取 150 行），对账平衡"


def test_headline_good_news_and_missing_tables():
    good = _tables(
        placement_headline=pd.DataFrame({"placement_rate": [0.75], "policy_rate": [0.7]}),
        placement_below_policy=pd.DataFrame({"university_name": [], "below_policy_rate": []}),
        interview_list=pd.DataFrame({"university_code": [], "reason": []}),
        data_quality_datasets=pd.DataFrame(
            {"rows_read": [10], "rows_quarantined": [0], "balanced": [True]}
        ),
    )
    rate, below, _, talks, quality = hl.headline_figures(good, report_ok=True)
    assert rate.note == "达到政策线 70.0%（+5.0个百分点）" and rate.tone == "ok"
    assert (below.value, below.tone) == ("0 所", "ok")
    assert talks.note == "本期无需约谈的高校"
    assert (quality.value, quality.tone) == ("正常", "ok")
    missing = hl.headline_figures({name: None for name in hl.HEADLINE_TABLES})
    assert all(h.value == hl.MISSING and "未生成" in h.note for h in missing)
    failed = hl.headline_figures(_tables(), report_ok=False)[-1]
    assert failed.value == "需处理" and "数据质量报告生成失败" in failed.note


# --- reports/index.html ------------------------------------------------------------------------


def _period(root, as_of, status="ok", rate=0.6752):
    folder = root / as_of
    (folder / "tables").mkdir(parents=True)
    manifest = {
        "run": {"as_of": as_of, "status": status, "university": None},
        "header": {"generated_at": "2023-09-01 08:00", "data_version": "abc", "cohort": "2023届"},
        "reports": [
            {
                "scope": "province",
                "title": "全省<通报>",
                "html": "情况通报.html",
                "status": status,
                "seconds": 1.0,
                "parts": [],
            },
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    pd.DataFrame({"placement_rate": [rate], "policy_rate": [0.7]}).to_csv(
        folder / "tables" / "placement_headline.csv", index=False
    )
    return folder


def test_periods_index_lists_every_period_with_a_manifest(tmp_path):
    _period(tmp_path, "2023-08-31")
    _period(tmp_path, "2023-07-31", status="failed", rate=0.6266)
    (tmp_path / "2023-06-30").mkdir()  # no manifest: not a published period
    (tmp_path / ".staging-2023-09-30-1").mkdir()
    bad = tmp_path / "2023-05-31"
    bad.mkdir()
    (bad / "manifest.json").write_text("{", encoding="utf-8")
    rows = period_rows(tmp_path)
    assert [r["as_of"] for r in rows] == ["2023-08-31", "2023-07-31", "2023-05-31"]
    assert rows[0]["rate"] == "67.5%" and rows[1]["rate"] == "62.7%"
    assert rows[2]["status"] == "unreadable"
    page = write_periods_index(tmp_path).read_text(encoding="utf-8")
    assert page == render_periods_index(tmp_path)
    assert 'href="2023-08-31/index.html"' in page
    assert "全省&lt;通报&gt;" in page and "全省<通报>" not in page  # escaped
    assert "未完全成功" in page and "无法读取" in page
    assert not list(tmp_path.glob(".index-*"))


@pytest.mark.parametrize("evil", ['"><script>alert(1)</script>'])
def test_headline_text_is_escaped_on_the_period_index(tmp_path, evil):
    from helpers.runner.index import render_index

    folder = _period(tmp_path, "2023-08-31")
    pd.DataFrame({"university_name": [evil], "below_policy_rate": [True]}).to_csv(
        folder / "tables" / "placement_below_policy.csv", index=False
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["run"] |= {"started": "", "finished": "", "seconds": 1.0, "workers": 1}
    manifest["header"]["as_of"] = "2023-08-31"
    page = render_index(manifest, folder)
    assert "本期要点" in page and "<script>alert" not in page and "&lt;script&gt;" in page


def test_period_index_links_the_documents_to_send(tmp_path):
    from helpers.runner.index import render_index

    folder = _period(tmp_path, "2023-08-31")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["run"] |= {"started": "", "finished": "", "seconds": 1.0, "workers": 1}
    manifest["header"]["as_of"] = "2023-08-31"
    assert "公文与单独发送" not in render_index(manifest)  # a run without documents
    manifest["documents"] = {
        "circular": "全省通报.docx",
        "list": "send/清单.csv",
        "letters": ["send/10386-福州大学/10386-福州大学-学科专业点调整通知.docx"],
        "packages": [{"university": "10386"}, {"university": "10395"}],
        "error": None,
    }
    page = render_index(manifest)
    assert (
        'href="%E5%85%A8%E7%9C%81%E9%80%9A%E6%8A%A5.docx"' in page or 'href="全省通报.docx"' in page
    )
    assert "send/" in page and "共 2 个，调整通知 1 份" in page
    manifest["documents"] = {"error": "OSError: <disk full>", "letters": [], "packages": []}
    page = render_index(manifest)
    assert "公文与发送包未能生成：OSError: &lt;disk full&gt;" in page
