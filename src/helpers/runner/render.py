"""HTML rendering of executed notebooks with the project template (``helpers/templates/report``).

A report page has no code, no prompts and no parameter cells, a Chinese header (title, as-of
date, cohort, data version, generation time), a table of contents built from the headings, print
CSS, and nothing that loads from the network: charts are embedded PNGs, and every page is checked
for external scripts, styles, fonts and images before it is written.
"""

from __future__ import annotations

import base64
import copy
import html as html_lib
import io
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import nbformat
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from helpers.config import TEMPLATES_DIR
from helpers.runner.webfont import embed_font

TEMPLATE_NAME = "report"
TEMPLATE_DIR = TEMPLATES_DIR / TEMPLATE_NAME

# Cells never shown to readers: papermill's parameter cells, the runner's kernel-reset cell, and
# cells an author tags for removal.
REMOVE_CELL_TAGS = (
    "parameters",
    "injected-parameters",
    "runner-reset",
    "remove_cell",
    "remove-cell",
)
REMOVE_INPUT_TAGS = ("remove_input", "remove-input")
REMOVE_OUTPUT_TAGS = ("remove_output", "remove-output")

TOC_MARKER = "<!--REPORT-TOC-->"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_INDEXED = 3  # IHDR colour type of a palette image (byte 25 of the file)
TOC_LEVELS = (1, 2, 3)


class OfflineError(RuntimeError):
    """A rendered page would load something from the network."""


@dataclass
class PageMeta:
    """What the header and footer of a page say."""

    title: str
    as_of: str
    cohort: str
    data_version: str
    generated_at: str
    kicker: str = "福建省教育厅 · 高校毕业生就业监测"
    subtitle: str = ""
    index_href: str = ""
    footer: str = (
        "本报告由毕业去向落实率监测系统按统计截止日期自动生成，供工作参考；个人信息不出现在报告中。"
    )
    notices: list[dict] = field(default_factory=list)  # {"text": ..., "href": ...}

    def as_dict(self) -> dict:
        return asdict(self)


# --- notebook preparation ----------------------------------------------------------------------


def shrink_png(b64: str) -> str:
    """A chart PNG with at most 256 colours (flattened on white): about a third of the size and
    indistinguishable for charts. Returns the input when it has a palette already (charts shown
    with :func:`helpers.charts.show_figure`), when that is not smaller, or when it is not a PNG."""
    try:
        raw = base64.b64decode(b64)
    except (ValueError, TypeError):
        return b64
    if raw[:8] != PNG_SIGNATURE or len(raw) < 26 or raw[25] == PNG_INDEXED:
        return b64
    from PIL import Image

    from helpers.charts import palette_png

    try:
        with Image.open(io.BytesIO(raw)) as im:
            data = palette_png(im)
    except Exception:  # not a readable PNG: keep it as it is
        return b64
    return base64.b64encode(data).decode("ascii") if len(data) < len(raw) else b64


def prepare_for_reader(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook fit for readers: stderr streams (warnings, logs) dropped,
    chart PNGs reduced to a 256-colour palette (keeps a university report well under 2 MB).

    Tagged cells are removed by nbconvert's TagRemovePreprocessor (configured in the exporter).
    The copy shares what it does not change with ``nb`` (the exporter works on its own deep copy).
    """
    out = nbformat.NotebookNode(nb)
    out.metadata = nbformat.NotebookNode(nb.get("metadata", {}))
    out.cells = [_reader_cell(cell) for cell in nb.get("cells", [])]
    return out


def _reader_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    if cell.get("cell_type") != "code":
        return cell
    outputs = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            continue
        png = o.get("data", {}).get("image/png")
        if isinstance(png, str):
            o = nbformat.NotebookNode(o)
            o.data = nbformat.NotebookNode(o.data)
            o.data["image/png"] = shrink_png(png)
        outputs.append(o)
    out = nbformat.NotebookNode(cell)
    out.outputs = outputs
    return out


def combine_notebooks(parts: list[nbformat.NotebookNode], title: str) -> nbformat.NotebookNode:
    """One notebook holding the cells of several executed notebooks, in order (a university's
    report). The parts are not changed; their cells are shared, not copied."""
    if not parts:
        raise ValueError("combine_notebooks needs at least one notebook")
    combined = nbformat.NotebookNode(parts[0])
    combined.metadata = nbformat.from_dict(copy.deepcopy(dict(parts[0].metadata)))
    combined.cells = [cell for part in parts for cell in part.cells]
    combined.metadata["title"] = title
    return combined


# --- HTML export -------------------------------------------------------------------------------


def _report_exporter_class():
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        """nbconvert's HTMLExporter without its last step, a BeautifulSoup pass over the whole
        page that adds an English alt text to images and tab stops to code cells (a third of the
        render time of a report): :func:`render_report` adds a Chinese alt text itself, and
        reports have no code cells."""

        def from_notebook_node(self, nb, resources=None, **kw):
            # HTMLExporter.from_notebook_node up to its BeautifulSoup pass
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

        def _preprocess(self, nb, resources):
            """nbconvert's Exporter._preprocess without its first step, a deep copy of ``nb``:
            ``nb`` is the deep copy Exporter.from_notebook_node made, and normalize() copies it
            once more (each copy of a report costs about as much as the offline check did)."""
            resc = copy.deepcopy(resources)
            _, nbc = nbformat.validator.normalize(nb)
            preprocessor = None
            for preprocessor in self._preprocessors:
                nbc, resc = preprocessor(nbc, resc)
                if not self.optimistic_validation:
                    self._validate_preprocessor(nbc, preprocessor)
            if self.optimistic_validation:
                self._validate_preprocessor(nbc, preprocessor)
            return nbc, resc

        @pass_context
        def markdown2html(self, context, source):
            """HTMLExporter.markdown2html, remembered per source text: most markdown of a report
            is the notebooks' own text, the same for every university. The HTML depends only on
            the text and the exporter's settings, except where an image is embedded from a file
            or an attachment: such text is rendered every time."""
            if context.get("cell", {}).get("attachments") or _EMBEDDED_IMAGE.search(source):
                return super().markdown2html(context, source)
            cache = self.__dict__.setdefault("_markdown_html", {})
            html = cache.get(source)
            if html is None:
                html = super().markdown2html(context, source)
                if len(cache) >= MARKDOWN_CACHE_SIZE:
                    cache.clear()
                cache[source] = html
            return html

    return ReportExporter


MARKDOWN_CACHE_SIZE = 2000  # markdown texts remembered per worker (a report has about 50)
# markdown that embeds an image file (![..](..) or an <img> tag): read from disk at each render
_EMBEDDED_IMAGE = re.compile(r"!\[|<img", re.I)


@lru_cache(maxsize=1)
def report_exporter():
    """The HTML exporter with the project template (built once per process: template loading is slow)."""
    from traitlets.config import Config

    c = Config()
    # validate the notebook once after all preprocessors, not after each of them
    c.HTMLExporter.optimistic_validation = True
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES_DIR)]
    c.HTMLExporter.template_name = TEMPLATE_NAME
    c.HTMLExporter.theme = "light"
    c.HTMLExporter.language_code = "zh"  # ISO 639-1 only; made zh-CN below
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    # Nothing from a CDN: the template drops these blocks; blank the URLs as a second guard.
    for trait in (
        "require_js_url",
        "mathjax_url",
        "jquery_url",
        "mermaid_js_url",
        "mermaid_layout_elk_js_url",
        "jupyter_widgets_base_url",
        "widget_renderer_url",
    ):
        setattr(c.HTMLExporter, trait, "")
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    c.TagRemovePreprocessor.remove_input_tags = set(REMOVE_INPUT_TAGS)
    c.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    return _report_exporter_class()(config=c)


def render_report(nb: nbformat.NotebookNode, meta: PageMeta) -> str:
    """Executed notebook -> one self-contained HTML page (raises OfflineError if it is not)."""
    nb = prepare_for_reader(nb)
    nb.metadata["title"] = meta.title
    body, _ = report_exporter().from_notebook_node(
        nb, resources={"report": meta.as_dict(), "metadata": {"name": meta.title}}
    )
    body = body.replace('<html lang="zh">', '<html lang="zh-CN">', 1)
    body = _IMG_WITHOUT_ALT.sub(f'<img alt="{IMAGE_ALT}"', body)
    body = link_charts(body)
    body = insert_toc(body)
    body = embed_font(body)
    assert_offline(body)
    return body


IMAGE_ALT = "图表"  # alt text of charts (the ReportExporter skips nbconvert's English one)
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)")
_EMBEDDED_IMG = re.compile(r"<img\b[^>]*?\ssrc=\"data:image/[^\"]*\"[^>]*>")


def link_charts(body: str) -> str:
    """Wrap every embedded chart in a box a tap opens at the image's own size over the page
    (``:target`` in report.css: no script, nothing loaded, the image data not repeated), with a
    close link."""
    n = 0

    def wrap(m: re.Match) -> str:
        nonlocal n
        n += 1
        cid = f"chart-{n}"
        return (
            f'<span class="report-chart" id="{cid}">'
            f'<a class="chart-open" href="#{cid}" title="点击查看原图">{m.group(0)}</a>'
            f'<a class="chart-close" href="#{cid}-closed">关闭原图</a></span>'
        )

    return _EMBEDDED_IMG.sub(wrap, body)


# --- table of contents -------------------------------------------------------------------------

_HEADING = re.compile(r"<h([1-6])(\s[^>]*?)?\sid=\"([^\"]*)\"([^>]*)>(.*?)</h\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_TOC_NAV = re.compile(r"<nav\b[^>]*class=\"report-toc\"[^>]*>.*?</nav>\s*", re.DOTALL)


def _heading_text(inner_html: str) -> str:
    inner = re.sub(r"<a\s[^>]*class=\"anchor-link\"[^>]*>.*?</a>", "", inner_html, flags=re.DOTALL)
    return html_lib.unescape(_TAG.sub("", inner)).strip()


def unique_heading_ids(body: str) -> str:
    """Make heading ids unique (a university report joins notebooks that share heading texts)."""
    seen: dict[str, int] = {}

    def fix(m: re.Match) -> str:
        level, before, hid, after, inner = m.groups()
        n = seen.get(hid, 0)
        seen[hid] = n + 1
        if n == 0:
            return m.group(0)
        new = f"{hid}-{n + 1}"
        while new in seen:
            n += 1
            new = f"{hid}-{n + 1}"
        seen[new] = 1
        inner = inner.replace(f'href="#{hid}"', f'href="#{new}"')
        return f'<h{level}{before or ""} id="{new}"{after}>{inner}</h{level}>'

    return _HEADING.sub(fix, body)


def toc_entries(body: str) -> list[tuple[int, str, str]]:
    """(level, id, text) of every heading nbconvert gave an id, in page order."""
    out = []
    for m in _HEADING.finditer(body):
        level = int(m.group(1))
        text = _heading_text(m.group(5))
        if level in TOC_LEVELS and text:
            out.append((level, m.group(3), text))
    return out


def toc_html(entries: list[tuple[int, str, str]]) -> str:
    if not entries:
        return ""
    top = min(level for level, _, _ in entries)
    items = "\n".join(
        f'<li class="toc-h{level - top + 1}"><a href="#{html_lib.escape(hid, quote=True)}">'
        f"{html_lib.escape(text)}</a></li>"
        for level, hid, text in entries
    )
    return f"<ul>\n{items}\n</ul>"


def insert_toc(body: str) -> str:
    """Fill the template's TOC placeholder from the page's headings (drop the box if none)."""
    body = unique_heading_ids(body)
    toc = toc_html(toc_entries(body))
    if not toc:
        return _TOC_NAV.sub("", body, count=1)
    return body.replace(TOC_MARKER, toc, 1)


# --- offline check -----------------------------------------------------------------------------

# (pattern, a character no match of it can contain). Every pattern ends with "//" (a network
# reference); see external_resources for why the character matters.
_EXTERNAL = [
    # any element that fetches its src from elsewhere (script, img, iframe, source, audio, video, embed)
    (
        re.compile(
            r"<(?:script|img|iframe|source|audio|video|embed|input|track)\b[^>]*?\ssrc\s*=\s*[\"']?\s*(?:https?:)?//",
            re.I,
        ),
        ">",
    ),
    # stylesheets, preloads, icons and fonts via <link href>
    (re.compile(r"<link\b[^>]*?\shref\s*=\s*[\"']?\s*(?:https?:)?//", re.I), ">"),
    # CSS imports and url() to the network (fonts, backgrounds)
    (re.compile(r"@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//", re.I), ">"),
    (re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//", re.I), ">"),
    # object/embed data, srcset
    (re.compile(r"\s(?:data|srcset|poster)\s*=\s*[\"']?\s*(?:https?:)?//", re.I), ">"),
    # ES module imports of remote code
    (re.compile(r"\bimport\s*(?:\(|[^;]*?\bfrom\s*)\s*[\"'](?:https?:)?//", re.I), ";"),
]
_SLASHES = re.compile(r"//+")


def _match_spans(page: str, stop: str) -> list[tuple[int, int]]:
    """Disjoint (start, end) spans of ``page`` holding every possible match of a pattern that ends
    with "//" and cannot contain ``stop``: a match ends at a run of slashes and starts after the
    last ``stop`` before that run. Overlapping spans are merged."""
    spans: list[tuple[int, int]] = []
    for m in _SLASHES.finditer(page):
        lo, hi = page.rfind(stop, 0, m.start()) + 1, m.end()
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def external_resources(page: str) -> list[str]:
    """Snippets of every reference that would make a browser fetch a script, style, font or image
    from the network. Ordinary hyperlinks (``<a href>``) are allowed: they load nothing.

    The patterns only search the spans of the page that can hold a match (:func:`_match_spans`),
    not the whole page: case-insensitive patterns without a literal start are slow over the
    base64 chart data that makes up most of a report, and a page has few "//". Every match lies
    inside one span, so the matches (and their order) are those of a search of the whole page.
    """
    found = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for pattern, stop in _EXTERNAL:
        if stop not in spans:
            spans[stop] = _match_spans(page, stop)
        for lo, hi in spans[stop]:
            for m in pattern.finditer(page, lo, hi):
                found.append(page[m.start() : m.end() + 60].replace("\n", " "))
    return found


# Active content: a page may run only the template's own scripts. An event-handler attribute
# (``onerror=``) or a script URL (``javascript:``) can only come from data that escaped escaping,
# and can fetch from the network at run time, which the patterns above cannot see.
# (case-sensitive: a literal start keeps the scan fast; an upper-case "DATA:" is only not skipped)
_BASE64_PAYLOAD = re.compile(r"(data:[\w.+/-]*(?:;[\w.+-]+=[\w.+-]+)*;base64,)[A-Za-z0-9+/=]+")
_RAW_TEXT = re.compile(r"(<(script|style)\b[^>]*>).*?(</\2\s*>)|<!--.*?-->", re.I | re.S)
# a start tag with at least one attribute (quoted values may hold ">"); plain <td> never matches
_ATTR_TAG = re.compile(r"<[A-Za-z][^\s/>]*([\s/](?:\"[^\"]*\"|'[^']*'|[^'\">])*)")
_HANDLER_ATTR = re.compile(r"(?:[\s/\"']|^)(on[a-z]+|srcdoc|formaction)\s*=", re.I)
_SCRIPT_URL = re.compile(
    r"(?:javascript|vbscript|livescript):|data:(?:text/html|application/xhtml\+xml|text/xml|"
    r"application/xml)",
    re.I,
)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")  # browsers ignore these inside a URL scheme


def unsafe_markup(page: str) -> list[str]:
    """Snippets of every start tag that carries an event-handler attribute (``on…=``, also
    ``srcdoc`` and ``formaction``) or a ``javascript:`` / ``vbscript:`` / ``data:text/html`` (or
    XML) URL in an attribute, entities decoded. Base64 payloads of
    ``data:`` images, and the contents of ``<script>``, ``<style>`` and comments (code, not tags),
    are skipped, so the template's own scripts and embedded charts pass."""
    text = _BASE64_PAYLOAD.sub(r"\1", page)  # first: most of a report is chart data
    text = _RAW_TEXT.sub(lambda m: (m.group(1) or "") + (m.group(3) or ""), text)
    found = []
    for m in _ATTR_TAG.finditer(text):
        attrs, end = m.group(1), m.end()
        if end < len(text) and text[end] != ">":  # an unbalanced quote: read on to the next ">"
            close = text.find(">", end)
            attrs = text[m.start(1) : close if close >= 0 else len(text)]
        tag = text[m.start() : m.start(1)] + attrs
        if _HANDLER_ATTR.search(attrs) or _SCRIPT_URL.search(
            _URL_NOISE.sub("", html_lib.unescape(attrs))
        ):
            found.append(tag[:120].replace("\n", " "))
    return found


def assert_offline(page: str) -> None:
    refs = external_resources(page)
    if refs:
        raise OfflineError("page would load from the network: " + "; ".join(refs[:3]))
    active = unsafe_markup(page)
    if active:
        raise OfflineError(
            "page carries an event handler or a script URL: " + "; ".join(active[:3])
        )


# --- site pages (index, error pages) -----------------------------------------------------------


@lru_cache(maxsize=1)
def site_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["css"] = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    env.filters["urlpath"] = urlpath
    return env


def urlpath(rel: str) -> str:
    """A relative link to a file of the run (Chinese file names percent-encoded)."""
    return quote(str(rel), safe="/")


def render_site_page(template: str, **context) -> str:
    page = embed_font(site_environment().get_template(template).render(**context))
    assert_offline(page)
    return page


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def render_error_page(meta: PageMeta, failure: dict) -> str:
    """A page that says which report failed, where and why (linked from the index).

    ``failure``: notebook, ename, evalue, cell_index, traceback (list of lines), notebook_href.
    """
    trace = strip_ansi("\n".join(failure.get("traceback") or []))
    if len(trace) > 20000:
        trace = trace[:10000] + "\n…（中间部分省略）…\n" + trace[-10000:]
    return render_site_page("site_error.html.j2", meta=meta, failure=failure, trace=trace)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file via a temporary name and rename (never leaves a half-written page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
