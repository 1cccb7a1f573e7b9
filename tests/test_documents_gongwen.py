"""The 公文 layout (GB/T 9704-2012) read back with python-docx, and the scanner on docx and zip."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from helpers import scanner
from helpers.documents import gongwen as g

ISSUED = dt.date(2023, 9, 1)


def _content(attachments: int = 2) -> g.OfficialDocument:
    table = pd.DataFrame(
        {"序号": ["1", "2"], "院校名称": ["甲大学", "乙学院"], "毕业去向落实率": ["65.0%", "69.9%"]}
    )
    return g.OfficialDocument(
        title="关于2023届全省普通高校毕业生就业工作进展情况的通报",
        addressee="各普通高等学校",
        body=(
            g.Paragraph("为贯彻落实要求，现将有关情况通报如下："),
            g.Heading("一、总体进展", 1),
            g.Heading("（一）落实情况", 2),
            g.Heading("1.本科", 3),
            g.Paragraph("截至2023年8月31日，全省毕业生共3,276人，落实率67.5%。"),
        ),
        issuer="福建省教育厅",
        date=ISSUED,
        attachments=tuple(
            g.Attachment(f"附件标题{i}", (g.Table(table),)) for i in range(1, attachments + 1)
        ),
    )


@pytest.fixture(scope="module")
def document():
    buf = io.BytesIO()
    g.render(_content()).save(buf)
    return docx.Document(io.BytesIO(buf.getvalue())), buf.getvalue()


def _fonts(style) -> dict:
    el = style.element.rPr.find(qn("w:rFonts"))
    return {k: el.get(qn(f"w:{k}")) for k in ("ascii", "hAnsi", "eastAsia")}


def test_page_size_margins_and_line_grid(document):
    doc, _ = document
    s = doc.sections[0]

    def mm(x) -> float:
        return round(x / 36000, 1)  # OOXML stores twips: compare to 0.1 mm

    assert (mm(s.page_width), mm(s.page_height)) == (210, 297)
    margins = (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)
    assert tuple(mm(m) for m in margins) == (37, 35, 28, 26)
    grid = s._sectPr.find(qn("w:docGrid"))
    pitch = int(grid.get(qn("w:linePitch")))
    assert pitch == 579  # 225 mm / 22 lines = 28.95 pt
    assert round((s.page_height - s.top_margin - s.bottom_margin) / Pt(pitch / 20)) == 22


def test_body_style_fangsong_16pt_fixed_spacing_two_character_indent(document):
    doc, _ = document
    body = doc.styles[g.STYLE_BODY]
    assert _fonts(body) == {"ascii": "Times New Roman", "hAnsi": "Times New Roman",
                            "eastAsia": "仿宋_GB2312"}  # fmt: skip
    assert body.font.size == Pt(16)
    pf = body.paragraph_format
    assert pf.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert abs(pf.line_spacing.pt - 28.95) < 0.01
    assert pf.first_line_indent == Pt(32)
    # 28 characters of 3号 across the 156 mm type area with the condensed spacing
    spacing = int(body.element.rPr.find(qn("w:spacing")).get(qn("w:val"))) / 20
    width = (doc.sections[0].page_width - Mm(28) - Mm(26)) / 12700
    assert int(width // (16 + spacing)) == 28


def test_title_headings_and_signature_styles(document):
    doc, _ = document
    title = doc.styles[g.STYLE_TITLE]
    assert _fonts(title)["eastAsia"] == "方正小标宋简体" and title.font.size == Pt(22)
    assert title.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    expected = {g.STYLE_H1: "黑体", g.STYLE_H2: "楷体_GB2312", g.STYLE_H3: "仿宋_GB2312"}
    for name, font in expected.items():
        style = doc.styles[name]
        assert _fonts(style)["eastAsia"] == font and _fonts(style)["ascii"] == "Times New Roman"
        assert style.font.size == Pt(16) and not style.font.bold
    paras = doc.paragraphs
    styles = [(p.style.name, p.text) for p in paras if p.text]
    assert styles[0] == (g.STYLE_TITLE, _content().title)
    assert styles[1] == (g.STYLE_ADDRESSEE, "各普通高等学校：")
    assert (g.STYLE_H1, "一、总体进展") in styles
    assert (g.STYLE_H2, "（一）落实情况") in styles
    assert (g.STYLE_H3, "1.本科") in styles
    assert (g.STYLE_SIGNATURE, "福建省教育厅") in styles
    assert (g.STYLE_DATE, "2023年9月1日") in styles  # no zero padding


def test_every_style_names_its_east_asian_font_and_no_font_is_embedded(document):
    doc, raw = document
    for name in (g.STYLE_BODY, g.STYLE_TITLE, g.STYLE_ADDRESSEE, g.STYLE_TABLE,
                 g.STYLE_TABLE_HEAD, g.STYLE_PAGE_NUMBER, g.STYLE_ATTACHMENT_MARK):  # fmt: skip
        fonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")), name
        assert fonts.get(qn("w:asciiTheme")) is None and fonts.get(qn("w:eastAsiaTheme")) is None
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert not [n for n in zf.namelist() if n.startswith("word/fonts/")]
        assert b"embedTrueTypeFonts" not in zf.read("word/settings.xml")
        assert not [n for n in zf.namelist() if n.startswith("docProps/thumbnail")]
        table = zf.read("word/fontTable.xml").decode("utf-8")
        for name in ("仿宋_GB2312", "黑体", "楷体_GB2312", "方正小标宋简体"):
            assert f'w:name="{name}"><w:charset w:val="86"/>' in table  # GB2312 character set
    assert doc.core_properties.author == "福建省教育厅"


def test_page_number_field_on_odd_and_even_pages(document):
    doc, _ = document
    s = doc.sections[0]
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, align in ((s.footer, WD_ALIGN_PARAGRAPH.RIGHT),
                          (s.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):  # fmt: skip
        p = footer.paragraphs[0]
        assert p.style.name == g.STYLE_PAGE_NUMBER and p.alignment == align
        assert p.style.font.size == Pt(14)  # 4号
        instr = "".join(e.text for e in p._p.iter(qn("w:instrText")))
        assert instr.strip() == "PAGE"
        kinds = [e.get(qn("w:fldCharType")) for e in p._p.iter(qn("w:fldChar"))]
        assert kinds == ["begin", "separate", "end"]
        assert p.text == "— 1 —"


def test_attachments_start_new_pages_with_heiti_mark_and_real_tables(document):
    doc, _ = document
    marks = [p for p in doc.paragraphs if p.style.name == g.STYLE_ATTACHMENT_MARK]
    assert [p.text for p in marks] == ["附件1", "附件2"]
    assert all(p.paragraph_format.page_break_before for p in marks)
    assert _fonts(doc.styles[g.STYLE_ATTACHMENT_MARK])["eastAsia"] == "黑体"
    note = [p.text for p in doc.paragraphs if p.style.name == g.STYLE_ATTACHMENT_NOTE]
    assert note == ["附件：1．附件标题1", "2．附件标题2"]
    assert len(doc.tables) == 2
    t = doc.tables[0]
    assert [c.text for c in t.rows[0].cells] == ["序号", "院校名称", "毕业去向落实率"]
    assert [c.text for c in t.rows[2].cells] == ["2", "乙学院", "69.9%"]
    assert t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # header repeated
    widths = [int(c.get(qn("w:w"))) for c in t._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert abs(sum(widths) - (Mm(156) / 635)) < 10  # the type area, in twips


def test_one_attachment_is_called_fujian_without_number():
    doc = g.render(_content(attachments=1))
    marks = [p.text for p in doc.paragraphs if p.style.name == g.STYLE_ATTACHMENT_MARK]
    assert marks == ["附件"]
    note = [p.text for p in doc.paragraphs if p.style.name == g.STYLE_ATTACHMENT_NOTE]
    assert note == ["附件：附件标题1"]


def test_texts_list_every_text_in_reading_order():
    c = _content()
    texts = c.texts()
    assert texts[:3] == [c.title, "各普通高等学校：", "为贯彻落实要求，现将有关情况通报如下："]
    assert "2023年9月1日" in texts and "乙学院" in texts and "附件2" in texts


def test_date_without_zero_padding():
    assert g.date_cn(dt.date(2023, 9, 1)) == "2023年9月1日"
    assert g.date_cn(dt.date(2024, 4, 1)) == "2024年4月1日"


# --- the privacy scan reads docx text and zip members ---------------------------------------
ID_NUMBER = "11010519491231002X"  # a valid check digit (GB 11643 example)


def test_scanner_finds_an_id_number_in_a_docx_paragraph_table_and_header(tmp_path: Path):
    d = docx.Document()
    d.add_paragraph("正文")
    d.add_table(rows=1, cols=1).cell(0, 0).text = f"身份证号{ID_NUMBER}"
    d.save(tmp_path / "a.docx")
    hits = scanner.scan_paths([tmp_path], None, None)
    assert [(h.kind, h.location) for h in hits] == [("id_number", "word/document.xml line 2")]
    # split over two runs of one paragraph: still one number
    d = docx.Document()
    p = d.add_paragraph(ID_NUMBER[:9])
    p.add_run(ID_NUMBER[9:])
    d.sections[0].header.paragraphs[0].text = "13812345678"
    d.save(tmp_path / "a.docx")
    kinds = sorted(h.kind for h in scanner.scan_paths([tmp_path], None, None))
    assert kinds == ["id_number", "mobile"]


def test_scanner_finds_an_id_number_inside_a_zip(tmp_path: Path):
    d = docx.Document()
    d.add_paragraph(f"附件：{ID_NUMBER}")
    inner = io.BytesIO()
    d.save(inner)
    with zipfile.ZipFile(tmp_path / "pkg.zip", "w") as zf:
        zf.writestr("pkg/letter.docx", inner.getvalue())
        zf.writestr("pkg/list.csv", "a,b\n1,2\n")
        zf.writestr("pkg/page.html", f"<html><body><td>{ID_NUMBER}</td></body></html>")
    hits = scanner.scan_paths([tmp_path], None, None, root=tmp_path)
    where = sorted((h.file, h.location) for h in hits)
    assert where == [
        ("pkg.zip", "pkg/letter.docx word/document.xml line 1"),
        ("pkg.zip", "pkg/page.html line 1"),
    ]


def test_scanner_clean_docx_and_zip_have_no_hits(tmp_path: Path):
    g.render(_content()).save(tmp_path / "c.docx")
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.write(tmp_path / "c.docx", "c/c.docx")
    assert scanner.scan_paths([tmp_path], None, None) == []
