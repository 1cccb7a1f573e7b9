"""The GB/T 9704-2012 公文 layout as a python-docx ``Document``.

A document is described by plain text structures (:class:`OfficialDocument`: title, 主送,
headings, paragraphs, tables as DataFrames of display strings, attachments) and laid out by
:func:`render`: A4, margins 37/35/28/26 mm, a type area of 22 lines x 28 characters (fixed line
spacing of 225 mm / 22), title in 2号 方正小标宋简体, body in 3号 仿宋_GB2312 with a two-character
first-line indent, headings 一、 in 黑体, （一） in 楷体_GB2312, 1. in 仿宋_GB2312, Arabic
numerals and Latin letters in Times New Roman, page numbers "— 1 —" in 4号 at the foot (odd
pages right, even pages left, one character in), attachments each on a new page with "附件N" in
黑体. Fonts are referenced by name (``w:rFonts`` with ``w:eastAsia``), never embedded: Word and
WPS use the installed fonts of the reader's machine, as for any 公文.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Mm, Pt, RGBColor, Twips

SIZE_3_PT = 16.0

# --- the standard's numbers ---------------------------------------------------------------------
PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = Mm(37), Mm(35), Mm(28), Mm(26)
LINES_PER_PAGE, CHARS_PER_LINE = 22, 28
TYPE_AREA_WIDTH = Emu(PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT)  # 156 mm
TYPE_AREA_HEIGHT = Emu(PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)  # 225 mm
# 579 twips = 28.95 pt: rounded down, so that 22 lines never exceed the 225 mm type area
LINE_PITCH = Twips(math.floor(TYPE_AREA_HEIGHT.twips / LINES_PER_PAGE))
# 28 characters of 3号 in 156 mm: each character condensed by this much (1/20 pt units in Word)
CHAR_CONDENSE = Pt(-math.ceil((SIZE_3_PT - Emu(Mm(156)).pt / CHARS_PER_LINE) * 20) / 20)
FOOTER_DISTANCE = Mm(24)  # page number about 7 mm below the type area

SIZE_2 = Pt(22)  # 2号
SIZE_3 = Pt(16)  # 3号
SIZE_4 = Pt(14)  # 4号
SIZE_TABLE = Pt(12)  # 小4号: tables of many columns still fit the type area
TABLE_LINE = Pt(18)

LATIN = "Times New Roman"
FANGSONG = "仿宋_GB2312"
HEITI = "黑体"
KAITI = "楷体_GB2312"
XIAOBIAOSONG = "方正小标宋简体"
SONGTI = "宋体"

# style name -> (east-Asian font, size, alignment, first-line indent in characters, outline level)
STYLE_BODY = "公文正文"
STYLE_TITLE = "公文标题"
STYLE_ADDRESSEE = "主送机关"
STYLE_H1 = "一级标题"
STYLE_H2 = "二级标题"
STYLE_H3 = "三级标题"
STYLE_SIGNATURE = "发文机关署名"
STYLE_DATE = "成文日期"
STYLE_ATTACHMENT_NOTE = "附件说明"
STYLE_ATTACHMENT_MARK = "附件标识"
STYLE_TABLE = "表格文字"
STYLE_TABLE_HEAD = "表格标题行"
STYLE_PAGE_NUMBER = "页码"
HEADING_STYLES = {1: STYLE_H1, 2: STYLE_H2, 3: STYLE_H3}
HEADING_FONTS = {1: HEITI, 2: KAITI, 3: FANGSONG}
CELL_MARGIN = Twips(57)  # left and right inside a table cell (Word's default is 108)
CELL_PADDING = 2 * CELL_MARGIN.pt / SIZE_TABLE.pt + 0.3  # in table characters
SHORT_COLUMN = 9.0
LONG_COLUMN_MIN = 7.0  # a long text column is never narrower than this (in table characters)  # table columns up to this many characters wide are not shrunk
DASH = "\u2014"  # 一字线 either side of the page number


# --- the content -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Heading:
    """A heading with its own number: level 1 "一、…", 2 "（一）…", 3 "1.…"."""

    text: str
    level: int = 1

    def __post_init__(self) -> None:
        if self.level not in HEADING_STYLES:
            raise ValueError(f"heading level must be 1, 2 or 3, got {self.level}")


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """A real Word table: ``frame`` holds what the reader sees (strings, Chinese headers)."""

    frame: pd.DataFrame
    note: str | None = None  # a line under the table (source, legend)


Block = Heading | Paragraph | Table


@dataclass(frozen=True)
class Attachment:
    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class OfficialDocument:
    """Everything a 公文 says, as plain text (no markup, no escaping)."""

    title: str
    addressee: str  # 主送机关, without the colon
    body: tuple[Block, ...]
    issuer: str  # 发文机关署名
    date: dt.date  # 成文日期
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)

    def attachment_labels(self) -> list[str]:
        """附件 (one) or 附件1, 附件2, … (several)."""
        n = len(self.attachments)
        return ["附件"] if n == 1 else [f"附件{i}" for i in range(1, n + 1)]

    def texts(self) -> list[str]:
        """Every text of the document in reading order (tests compare them with the HTML)."""
        out = [self.title, self.addressee + "："]
        out += _block_texts(self.body)
        out += [self.issuer, date_cn(self.date)]
        for label, att in zip(self.attachment_labels(), self.attachments, strict=True):
            out += [label, att.title, *_block_texts(att.blocks)]
        return out


def _block_texts(blocks) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Table):
            out += [str(c) for c in b.frame.columns]
            out += [str(v) for v in b.frame.to_numpy().ravel()]
            if b.note:
                out.append(b.note)
        else:
            out.append(b.text)
    return out


def date_cn(d: dt.date) -> str:
    """成文日期 with Arabic numerals and no zero padding: 2023年9月1日."""
    return f"{d.year}年{d.month}月{d.day}日"


# --- fonts and styles --------------------------------------------------------------------------
_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def set_fonts(rpr, east_asia: str, latin: str = LATIN) -> None:
    """Name the fonts of a run or style: Latin letters and digits in ``latin``, Chinese in
    ``east_asia`` (``w:eastAsia``, which Word and WPS need for CJK text). Theme fonts are removed
    (they would override the names)."""
    fonts = rpr.get_or_add_rFonts()
    for attr in _THEME_ATTRS:
        if fonts.get(qn(attr)) is not None:
            del fonts.attrib[qn(attr)]
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:hint"), "eastAsia")


def _set_lang(rpr) -> None:
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _set_val(parent, tag: str, value: str | None) -> None:
    """The child ``tag`` of ``parent`` with ``w:val`` = ``value`` (created when missing), or no
    such child when ``value`` is None."""
    el = parent.find(qn(tag))
    if value is None:
        if el is not None:
            parent.remove(el)
        return
    if el is None:
        el = OxmlElement(tag)
        parent.append(el)
    el.set(qn("w:val"), value)


def _paragraph_style(
    doc,
    name: str,
    font: str,
    size,
    align=WD_ALIGN_PARAGRAPH.JUSTIFY,
    indent_chars: float = 0,
    line=LINE_PITCH,
    grid: bool = True,
    outline: int | None = None,
    latin: str = LATIN,
):
    styles = doc.styles
    style = styles[name] if name in styles else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if name != STYLE_BODY:
        has_body = STYLE_BODY in styles
        style.base_style = styles[STYLE_BODY] if has_body else None
    style.quick_style = True
    f = style.font
    f.size = size
    f.bold = False
    f.italic = False
    f.color.rgb = RGBColor(0, 0, 0)
    rpr = style.element.get_or_add_rPr()
    set_fonts(rpr, font, latin)
    _set_lang(rpr)
    condense = CHAR_CONDENSE if grid and size == SIZE_3 else None
    _set_val(rpr, "w:spacing", None if condense is None else str(round(condense.pt * 20)))
    pf = style.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = line
    pf.first_line_indent = Pt(size.pt * indent_chars)
    pf.left_indent = Pt(0)
    pf.right_indent = Pt(0)
    pf.widow_control = False
    ppr = style.element.get_or_add_pPr()
    _set_val(ppr, "w:snapToGrid", "1" if grid else "0")
    _set_val(ppr, "w:outlineLvl", None if outline is None else str(outline))
    return style


def _define_styles(doc) -> None:
    # document defaults: what any text without a style of ours gets
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    set_fonts(rpr, FANGSONG)
    _set_lang(rpr)
    normal = doc.styles["Normal"]
    normal.font.size = SIZE_3
    set_fonts(normal.element.get_or_add_rPr(), FANGSONG)
    _paragraph_style(doc, STYLE_BODY, FANGSONG, SIZE_3, indent_chars=2)
    _paragraph_style(
        doc,
        STYLE_TITLE,
        XIAOBIAOSONG,
        SIZE_2,
        WD_ALIGN_PARAGRAPH.CENTER,
        grid=False,
        line=Pt(35),
        outline=None,
    )
    _paragraph_style(doc, STYLE_ADDRESSEE, FANGSONG, SIZE_3, WD_ALIGN_PARAGRAPH.LEFT)
    for level, style_name in HEADING_STYLES.items():
        _paragraph_style(
            doc, style_name, HEADING_FONTS[level], SIZE_3, indent_chars=2, outline=level - 1
        )
        doc.styles[style_name].paragraph_format.keep_with_next = True
    _paragraph_style(doc, STYLE_SIGNATURE, FANGSONG, SIZE_3, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph_style(doc, STYLE_DATE, FANGSONG, SIZE_3, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph_style(doc, STYLE_ATTACHMENT_NOTE, FANGSONG, SIZE_3, WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph_style(doc, STYLE_ATTACHMENT_MARK, HEITI, SIZE_3, WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph_style(
        doc,
        STYLE_TABLE,
        FANGSONG,
        SIZE_TABLE,
        WD_ALIGN_PARAGRAPH.CENTER,
        line=TABLE_LINE,
        grid=False,
    )
    _paragraph_style(
        doc,
        STYLE_TABLE_HEAD,
        HEITI,
        SIZE_TABLE,
        WD_ALIGN_PARAGRAPH.CENTER,
        line=TABLE_LINE,
        grid=False,
    )
    _paragraph_style(
        doc, STYLE_PAGE_NUMBER, SONGTI, SIZE_4, WD_ALIGN_PARAGRAPH.RIGHT, line=Pt(16), grid=False
    )


class _Styled:
    """Sets paragraph styles of one document by id, each looked up once: python-docx searches
    every style for the default one on each assignment (a table of many cells took seconds)."""

    def __init__(self, doc):
        self.doc = doc
        self._ids: dict[str, str | None] = {}

    def __call__(self, paragraph, name: str):
        if name not in self._ids:
            self._ids[name] = self.doc.part.get_style_id(name, WD_STYLE_TYPE.PARAGRAPH)
        paragraph._p.style = self._ids[name]  # what ``paragraph.style = name`` sets
        return paragraph

    def add(self, text: str, name: str):
        """``doc.add_paragraph(text, style=name)``."""
        return self(self.doc.add_paragraph(text), name)


# --- page, grid, page numbers -------------------------------------------------------------------
def _set_page(section) -> None:
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    section.header_distance = Mm(15)
    section.footer_distance = FOOTER_DISTANCE
    sect = section._sectPr
    grid = sect.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect.append(grid)
    # a line grid of 22 lines; the 28 characters come from the body's condensed character
    # spacing (a character grid is drawn differently by Word, WPS and LibreOffice: LibreOffice
    # gives a 16 pt character two cells of a 15.8 pt grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH.twips))
    if grid.get(qn("w:charSpace")) is not None:
        del grid.attrib[qn("w:charSpace")]


def _field_run(paragraph, instruction: str, shown: str) -> None:
    """A complex field (``PAGE``) in its own runs: begin, instruction, separate, result, end."""

    def run_with(child):
        run = paragraph.add_run()
        run._r.append(child)
        return run

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run_with(instr)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    paragraph.add_run(shown)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _page_number(st: _Styled, footer, odd: bool) -> None:
    footer.is_linked_to_previous = False
    p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    st(p, STYLE_PAGE_NUMBER)
    # 单页码居右空一字，双页码居左空一字
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    if odd:
        p.paragraph_format.right_indent = SIZE_4
    else:
        p.paragraph_format.left_indent = SIZE_4
    p.add_run(f"{DASH} ")
    _field_run(p, "PAGE", "1")
    p.add_run(f" {DASH}")


# --- blocks ------------------------------------------------------------------------------------
def _text_width(text: str) -> float:
    """Width in 3号 characters: ASCII (Times New Roman digits, letters) counts half."""
    return sum(0.5 if ord(c) < 128 else 1.0 for c in text)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "1")
    trpr.append(el)


def _cant_split(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "1")
    trpr.append(el)


def _column_widths(frame: pd.DataFrame) -> list[int]:
    """Column widths in twips over the type area. Short columns (codes, counts, rates) get what
    their widest cell needs; the long text columns share the rest."""
    per_line = TYPE_AREA_WIDTH.pt / SIZE_TABLE.pt  # table characters across the type area
    natural = []
    for j, col in enumerate(frame.columns):
        cells = [
            max(_text_width(line) for line in str(v).split("\n")) for v in frame.iloc[:, j]
        ] or [0.0]
        # a header may wrap to two lines; a cell of numbers should not wrap; + the cell margins
        natural.append(max(2.0, math.ceil(_text_width(str(col)) / 2), max(cells)) + CELL_PADDING)
    if sum(natural) <= per_line:
        shares = natural
    else:
        short = [n if n <= SHORT_COLUMN else 0.0 for n in natural]
        longs = [min(n, 40.0) if n > SHORT_COLUMN else 0.0 for n in natural]
        # each long column gets at least LONG_COLUMN_MIN characters, then a share of the rest
        floor = [min(n, LONG_COLUMN_MIN) if n else 0.0 for n in longs]
        rest = max(per_line - sum(short) - sum(floor), 0.0)
        extra = [n - f for n, f in zip(longs, floor, strict=True)]
        shares = [
            s or f + (rest * e / sum(extra) if sum(extra) else 0.0)
            for s, f, e in zip(short, floor, extra, strict=True)
        ]
    total = sum(shares)
    return [int(TYPE_AREA_WIDTH.twips * n / total) for n in shares]


def _fix_table_layout(table, widths: list[int]) -> None:
    """Fixed layout over the type area with the grid columns set (LibreOffice and WPS read the
    grid, Word the cell widths)."""
    tbl = table._tbl
    tblpr = tbl.tblPr
    tblw = tblpr.find(qn("w:tblW"))
    if tblw is None:
        tblw = OxmlElement("w:tblW")
        tblpr.append(tblw)
    tblw.set(qn("w:w"), str(sum(widths)))
    tblw.set(qn("w:type"), "dxa")
    layout = tblpr.find(qn("w:tblLayout"))
    if layout is None:
        layout = OxmlElement("w:tblLayout")
        tblpr.append(layout)
    layout.set(qn("w:type"), "fixed")
    margins = tblpr.find(qn("w:tblCellMar"))
    if margins is None:
        margins = OxmlElement("w:tblCellMar")
        tblpr.append(margins)
    for side in ("w:left", "w:right"):
        el = OxmlElement(side)
        el.set(qn("w:w"), str(CELL_MARGIN.twips))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    for col, w in zip(tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(w))


def _add_table(st: _Styled, block: Table) -> None:
    doc = st.doc
    frame = block.frame
    rows, cols = len(frame) + 1, len(frame.columns)
    table = doc.add_table(rows=rows, cols=cols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = _column_widths(frame)
    _fix_table_layout(table, widths)
    numeric = [all(_looks_numeric(str(v)) for v in frame.iloc[:, j]) for j in range(cols)]
    header = table.rows[0]
    _repeat_header(header)
    cells = header.cells
    for j, col in enumerate(frame.columns):
        cell = cells[j]
        cell.width = Twips(widths[j])
        p = st(cell.paragraphs[0], STYLE_TABLE_HEAD)
        p.add_run(str(col))
    values = frame.to_numpy(dtype=object)
    for i in range(len(frame)):
        row = table.rows[i + 1]
        _cant_split(row)
        cells = row.cells
        for j in range(cols):
            cell = cells[j]
            cell.width = Twips(widths[j])
            p = st(cell.paragraphs[0], STYLE_TABLE)
            if not numeric[j] and _text_width(str(values[i, j])) > 6:
                p.alignment = WD_ALIGN_PARAGRAPH.LEFT
            p.add_run(str(values[i, j]))
    if block.note:
        note = st.add(block.note, STYLE_TABLE)
        note.alignment = WD_ALIGN_PARAGRAPH.LEFT


def _looks_numeric(text: str) -> bool:
    t = text.replace(",", "").replace("%", "").replace(".", "").replace("-", "").replace("—", "")
    return t == "" or t.isdigit()


def _add_blocks(st: _Styled, blocks) -> None:
    for b in blocks:
        if isinstance(b, Heading):
            st.add(b.text, HEADING_STYLES[b.level])
        elif isinstance(b, Paragraph):
            st.add(b.text, STYLE_BODY)
        elif isinstance(b, Table):
            _add_table(st, b)
        else:
            raise TypeError(f"not a block of a document: {b!r}")


def _attachment_note(st: _Styled, content: OfficialDocument) -> None:
    """附件说明: 正文下空一行左空二字 "附件：1．名称", further items aligned under the first."""
    if not content.attachments:
        return
    st.add("", STYLE_BODY).paragraph_format.keep_with_next = True
    several = len(content.attachments) > 1
    for i, att in enumerate(content.attachments, start=1):
        item = f"{i}．{att.title}" if several else att.title
        p = st.add(("附件：" if i == 1 else "") + item, STYLE_ATTACHMENT_NOTE)
        pf = p.paragraph_format
        pf.keep_with_next = True  # the 落款 never alone on a page
        pf.left_indent = Pt(SIZE_3.pt * 5)  # 2 characters + "附件："
        pf.first_line_indent = Pt(-SIZE_3.pt * 3) if i == 1 else Pt(0)


def _signature(st: _Styled, content: OfficialDocument) -> None:
    """Without a seal: 正文（或附件说明）下空一行右空二字署名, the date on the next line, its first
    character two characters right of the signature's first character."""
    st.add("", STYLE_BODY).paragraph_format.keep_with_next = True
    sig = st.add(content.issuer, STYLE_SIGNATURE)
    sig.paragraph_format.keep_with_next = True
    sig.paragraph_format.right_indent = Pt(SIZE_3.pt * 2)
    date = st.add(date_cn(content.date), STYLE_DATE)
    shift = _text_width(content.issuer) + 2 - 2 - _text_width(date_cn(content.date))
    date.paragraph_format.right_indent = Pt(SIZE_3.pt * max(0.0, shift))


def _attachments(st: _Styled, content: OfficialDocument) -> None:
    for label, att in zip(content.attachment_labels(), content.attachments, strict=True):
        mark = st.add(label, STYLE_ATTACHMENT_MARK)
        mark.paragraph_format.page_break_before = True  # 附件另面编排
        st.add("", STYLE_BODY)
        st.add(att.title, STYLE_TITLE)
        st.add("", STYLE_BODY)
        _add_blocks(st, att.blocks)


def _package_cleanup(doc) -> None:
    """Drop the template's thumbnail (a picture of an empty page) and list the Chinese fonts in
    the font table with their character set (GB2312), which lets Word and WPS pick a similar
    installed face where one is missing. Names only: nothing is embedded."""
    pkg = doc.part.package
    for key, rel in list(pkg.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            pkg.rels.pop(key)
    for rel in doc.part.rels.values():
        if not rel.reltype.endswith("/fontTable"):
            continue
        from lxml import etree

        part = rel.target_part
        root = etree.fromstring(part.blob)
        known = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
        for name, family in ((FANGSONG, "modern"), (HEITI, "modern"), (KAITI, "modern"),
                             (XIAOBIAOSONG, "script"), (SONGTI, "auto")):  # fmt: skip
            if name in known:
                continue
            font = etree.SubElement(root, qn("w:font"))
            font.set(qn("w:name"), name)
            for tag, value in (("w:charset", "86"), ("w:family", family), ("w:pitch", "variable")):
                el = etree.SubElement(font, qn(tag))
                el.set(qn("w:val"), value)
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def render(content: OfficialDocument) -> Document:
    """Lay ``content`` out as a 公文 (see the module docstring); nothing is written to disk."""
    doc = Document()
    body = doc.element.body
    for child in list(body):  # the template's empty paragraph
        if child.tag == qn("w:p"):
            body.remove(child)
    _define_styles(doc)
    st = _Styled(doc)
    section = doc.sections[0]
    _set_page(section)
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(st, section.footer, odd=True)
    _page_number(st, section.even_page_footer, odd=False)

    st.add(content.title, STYLE_TITLE)
    st.add("", STYLE_BODY)  # 标题下空一行
    st.add(f"{content.addressee}：", STYLE_ADDRESSEE)
    _add_blocks(st, content.body)
    _attachment_note(st, content)
    _signature(st, content)
    _attachments(st, content)

    _package_cleanup(doc)
    props = doc.core_properties
    stamp = dt.datetime.combine(content.date, dt.time(9, 0))
    props.title = content.title
    props.author = content.issuer
    props.last_modified_by = content.issuer
    props.comments = ""
    props.keywords = ""
    props.subject = ""
    props.category = "公文"
    props.language = "zh-CN"
    props.created = stamp
    props.modified = stamp
    props.revision = 1
    return doc
