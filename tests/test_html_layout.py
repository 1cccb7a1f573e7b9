"""How the rendered pages look to a reader, in headless chromium (Debian's, installed by .ci/run):

- on a machine without any CJK font (fontconfig pointed at a folder with no CJK font, whatever
  the machine has installed), the Chinese text is drawn with the font the page embeds;
- printed to A4 (``Page.printToPDF``), the circular and a university report stay within a page
  budget derived from their content, and the first page holds report text, not only the header
  and the table of contents;
- on a 390 px wide screen, nothing overflows the page, every table scrolls in its own box, no
  header cell is narrower than two characters, and charts are full width and open at full size.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
from pathlib import Path

import pytest
from test_html_browser import Chromium, chromium_binary

from helpers.runner.webfont import FONT_FAMILY, STYLE_ID

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("runner-demo")]

# Folders of Latin-only fonts chromium may keep (it needs some font to start); none has CJK.
LATIN_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
PHONE_WIDTH = 390
A4_MM = (210, 297)
PAGE_MARGIN_MM = (14, 12)  # report.css @page margin: top/bottom, left/right
PX_PER_MM = 96 / 25.4


def _fontconfig_without_cjk(folder: Path) -> Path:
    empty = folder / "fonts"
    empty.mkdir(parents=True, exist_ok=True)
    dirs = [str(empty)] + [d for d in LATIN_FONT_DIRS if Path(d).is_dir()]
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        + "".join(f"  <dir>{d}</dir>\n" for d in dirs)
        + f"  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


def _start(env: dict | None = None) -> Chromium:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Chromium(binary, env=env)
    b.send("Browser.getVersion")
    return b


@pytest.fixture(scope="module")
def no_cjk_browser(tmp_path_factory):
    conf = _fontconfig_without_cjk(tmp_path_factory.mktemp("fontconfig"))
    b = _start({**os.environ, "FONTCONFIG_FILE": str(conf)})
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def browser_plain():
    b = _start()
    try:
        yield b
    finally:
        b.close()


class Tab:
    """One tab of a chromium: open a file, evaluate JavaScript, print to PDF."""

    def __init__(self, browser: Chromium, url: str, width: int | None = None):
        self.b = browser
        self.target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send(
            "Target.attachToTarget", {"targetId": self.target, "flatten": True}
        )["sessionId"]
        browser.events.clear()
        browser.send("Network.enable", session=self.session)
        browser.send(
            "Network.setBlockedURLs",
            {"urls": ["http://*", "https://*", "ws://*", "wss://*"]},
            session=self.session,
        )
        if width:
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 844, "deviceScaleFactor": 2, "mobile": True},
                session=self.session,
            )
        browser.send("Page.enable", session=self.session)
        browser.send("Page.navigate", {"url": url}, session=self.session)
        browser.wait_for("Page.loadEventFired", self.session)
        self.eval("document.fonts.ready.then(() => true)")

    def eval(self, expression: str):
        reply = self.b.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression[:80]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def pdf(self) -> bytes:
        out = self.b.send(
            "Page.printToPDF",
            {"preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False},
            session=self.session,
        )
        return base64.b64decode(out["data"])

    def close(self) -> None:
        self.b.send("Target.closeTarget", {"targetId": self.target})


def _university_page(run_dir: Path) -> Path:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    for r in manifest["reports"]:
        if r["scope"] == "university" and r["html"] and r["status"] == "ok":
            return run_dir / r["html"]
    raise AssertionError("the demo run has no university report")


# --- fonts -------------------------------------------------------------------------------------

_WIDTHS = """(() => {
  const h1 = document.querySelector('h1.report-title');
  const style = getComputedStyle(h1);
  const probe = (text) => {
    const s = document.createElement('span');
    s.textContent = text;
    s.style.whiteSpace = 'nowrap';
    h1.appendChild(s);
    const w = s.getBoundingClientRect().width;
    s.remove();
    return w;
  };
  const text = h1.textContent.trim();
  const faces = Array.from(document.fonts).filter(f => f.family.replace(/"/g, '') === FAMILY);
  // two ideographs drawn with the title's font: the same picture when both are missing-glyph boxes
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const g = canvas.getContext('2d');
  g.font = style.fontSize + ' ' + style.fontFamily;
  const pixels = (ch) => {
    g.clearRect(0, 0, 64, 64);
    g.fillText(ch, 4, 44);
    return Array.from(g.getImageData(0, 0, 64, 64).data).join(',');
  };
  return {
    distinct: pixels('通') !== pixels('报'),
    text: text,
    fontSize: parseFloat(style.fontSize),
    chinese: probe(text),
    missing: probe('\\uE000'.repeat(text.length)),
    faces: faces.map(f => f.status),
  };
})()"""


def test_embedded_font_draws_the_chinese_text_without_system_cjk_fonts(
    demo_run,
    no_cjk_browser,
    tmp_path,
):
    page = demo_run.run_dir / "情况通报.html"
    html = page.read_text(encoding="utf-8")
    assert f'<style type="text/css" id="{STYLE_ID}">' in html
    # the same page without its @font-face, next to it (same relative links)
    bare = page.with_name("无嵌入字体.html")
    bare.write_text(
        re.sub(rf'<style type="text/css" id="{STYLE_ID}">.*?</style>', "", html, flags=re.S),
        encoding="utf-8",
    )
    try:
        measured = {}
        for name, path in (("embedded", page), ("bare", bare)):
            tab = Tab(no_cjk_browser, path.as_uri())
            measured[name] = tab.eval(_WIDTHS.replace("FAMILY", json.dumps(FONT_FAMILY)))
            tab.close()
    finally:
        bare.unlink()
    emb, bare_m = measured["embedded"], measured["bare"]
    n = len(emb["text"])
    assert emb["text"] == "全省高校毕业生就业工作情况通报"
    # the machine really has no CJK font: without the embedded face the Chinese title is drawn
    # with the same missing-glyph boxes as a private-use character
    assert bare_m["faces"] == []
    assert bare_m["chinese"] == pytest.approx(bare_m["missing"], abs=0.5)
    # with it, the face is loaded and draws the title: CJK ideographs are one em wide each
    assert emb["faces"] == ["loaded"]
    assert emb["chinese"] == pytest.approx(n * emb["fontSize"], rel=0.02)
    assert not bare_m["distinct"]  # two ideographs, one and the same box
    assert emb["distinct"]  # real glyphs
    assert abs(emb["chinese"] - bare_m["chinese"]) > emb["fontSize"], (emb, bare_m)


def test_every_page_embeds_only_its_own_glyphs(demo_run):
    from fontTools.ttLib import TTFont

    from helpers.runner.webfont import page_characters

    pages = sorted(demo_run.run_dir.rglob("*.html"))
    assert len(pages) > 5
    for path in pages:
        html = path.read_text(encoding="utf-8")
        m = re.search(r'url\("data:font/woff2;base64,([A-Za-z0-9+/=]+)"\)', html)
        assert m, f"{path.name}: no embedded font"
        font = TTFont(io.BytesIO(base64.b64decode(m.group(1))))
        assert font.flavor == "woff2"
        cmap = set(font.getBestCmap())
        wanted = {ord(c) for c in page_characters(html)}
        assert {ord(c) for c in "报告"} <= cmap
        assert cmap <= wanted, f"{path.name}: glyphs the page does not use"
        assert len(wanted - cmap) <= 5, f"{path.name}: {sorted(wanted - cmap)[:10]}"


# --- print -------------------------------------------------------------------------------------

_BODY_START = """(() => {
  const p = document.querySelector('.report-body p');
  return p ? p.innerText.replace(/\\s+/g, '').slice(0, 12) : '';
})()"""


def _print_budget(tab: Tab) -> int:
    """The pages a report needs if its content were poured onto A4 continuously (laid out at the
    A4 text width with print styles), plus a third for what is kept together (charts, table rows,
    headings with their text) and one page."""
    width_px = (A4_MM[0] - 2 * PAGE_MARGIN_MM[1]) * PX_PER_MM
    height_px = (A4_MM[1] - 2 * PAGE_MARGIN_MM[0]) * PX_PER_MM
    tab.b.send("Emulation.setEmulatedMedia", {"media": "print"}, session=tab.session)
    tab.b.send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": round(width_px),
            "height": round(height_px),
            "deviceScaleFactor": 1,
            "mobile": False,
        },
        session=tab.session,
    )
    content = tab.eval("document.documentElement.scrollHeight")
    tab.b.send("Emulation.clearDeviceMetricsOverride", session=tab.session)
    tab.b.send("Emulation.setEmulatedMedia", {"media": ""}, session=tab.session)
    return math.ceil(content / height_px * 4 / 3) + 1


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    sizes = {
        (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages
    }
    assert sizes == {(595, 842)}, f"not A4: {sizes}"  # points
    return [re.sub(r"\s+", "", p.extract_text() or "") for p in reader.pages]


@pytest.mark.parametrize("which", ["circular", "university"])
def test_printed_reports_fit_a_content_budget(demo_run, browser_plain, which, tmp_path):
    run_dir = demo_run.run_dir
    path = run_dir / "情况通报.html" if which == "circular" else _university_page(run_dir)
    tab = Tab(browser_plain, path.as_uri())
    try:
        first_text = tab.eval(_BODY_START)
        budget = _print_budget(tab)
        data = tab.pdf()
    finally:
        tab.close()
    (tmp_path / f"{which}.pdf").write_bytes(data)
    pages = _pdf_pages(data)
    assert len(pages) <= budget, f"{path.name}: {len(pages)} A4 pages, budget {budget}"
    # page 1 is not only the header and the table of contents: the report's text starts there
    assert first_text and first_text in pages[0], (first_text, pages[0][:300])


# --- phones ------------------------------------------------------------------------------------

_PHONE = """(() => {
  const vw = document.documentElement.clientWidth;
  const out = {vw: vw, scrollWidth: document.documentElement.scrollWidth, wide: [], clipped: [], narrow: [],
               boxes: [], sticky: [], charts: []};
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 && !el.closest('.report-table, .site-table-wrap, .jp-OutputArea-output'))
      out.wide.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
  }
  for (const el of document.querySelectorAll('body *')) {
    const s = getComputedStyle(el);
    if ((s.overflowX === 'hidden' || s.overflowX === 'clip') && el.scrollWidth > el.clientWidth + 1)
      out.clipped.push(el.tagName + '.' + el.className + ' ' + el.clientWidth + '<' + el.scrollWidth);
  }
  for (const th of document.querySelectorAll('th')) {
    const fs = parseFloat(getComputedStyle(th).fontSize);
    const w = th.getBoundingClientRect().width;
    if (th.textContent.trim().length >= 2 && w < 2 * fs) out.narrow.push(th.textContent + ' ' + w);
  }
  for (const t of document.querySelectorAll('.report-body table')) {
    const box = t.closest('.report-table');
    const ok = box !== null && getComputedStyle(box).overflowX === 'auto'
      && box.getBoundingClientRect().right <= vw + 1;
    out.boxes.push(ok);
  }
  for (const t of document.querySelectorAll('table.first-col-names')) {
    const cell = t.querySelector('tbody tr > :first-child');
    out.sticky.push(getComputedStyle(cell).position + ' ' + getComputedStyle(cell).left);
  }
  const body = document.querySelector('.report-body') || document.body;
  const width = body.getBoundingClientRect().width;
  for (const img of document.querySelectorAll('.report-body img')) {
    const link = img.closest('a.chart-open');
    const box = img.closest('.report-chart');
    out.charts.push({
      full: img.getBoundingClientRect().width >= 0.9 * width || img.naturalWidth < 0.9 * width,
      link: link !== null && box !== null && link.getAttribute('href') === '#' + box.id,
    });
  }
  return out;
})()"""


def test_pages_fit_a_phone_screen(demo_run, browser_plain):
    run_dir = demo_run.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    pages = [demo_run.reports_dir / "index.html", run_dir / "index.html"] + [
        run_dir / r["html"] for r in manifest["reports"] if r["html"]
    ]
    tables = charts = sticky = 0
    for path in pages:
        tab = Tab(browser_plain, path.as_uri(), width=PHONE_WIDTH)
        try:
            got = tab.eval(_PHONE)
        finally:
            tab.close()
        name = path.name
        assert got["vw"] == PHONE_WIDTH
        assert got["scrollWidth"] <= got["vw"], f"{name}: the page scrolls sideways"
        assert got["wide"] == [], f"{name}: cut off at the right edge: {got['wide'][:5]}"
        assert got["clipped"] == [], f"{name}: content clipped: {got['clipped'][:5]}"
        assert got["narrow"] == [], f"{name}: header cells narrower than 2 characters"
        assert all(got["boxes"]), f"{name}: a table outside a scrolling box"
        assert all(s == "sticky 0px" for s in got["sticky"]), (name, got["sticky"])
        assert all(c["full"] and c["link"] for c in got["charts"]), (name, got["charts"])
        tables += len(got["boxes"])
        charts += len(got["charts"])
        sticky += len(got["sticky"])
    assert tables and charts and sticky  # the demo pages do have all three


def test_a_tapped_chart_opens_at_full_size(demo_run, browser_plain):
    path = _university_page(demo_run.run_dir)
    tab = Tab(browser_plain, path.as_uri(), width=PHONE_WIDTH)
    try:
        got = tab.eval("""(() => {
          const box = document.querySelector('.report-chart');
          const img = box.querySelector('img');
          const before = img.getBoundingClientRect().width;
          box.querySelector('a.chart-open').click();
          const r = box.getBoundingClientRect();
          return {before: before, after: img.getBoundingClientRect().width,
                  natural: img.naturalWidth, target: location.hash === '#' + box.id,
                  fixed: getComputedStyle(box).position, top: r.top, left: r.left,
                  close: getComputedStyle(box.querySelector('a.chart-close')).display};
        })()""")
    finally:
        tab.close()
    assert got["target"] and got["fixed"] == "fixed" and got["close"] == "block"
    assert got["before"] <= PHONE_WIDTH < got["natural"]
    assert got["after"] == pytest.approx(got["natural"], abs=1)


def test_layout_tests_do_not_need_a_cjk_font_installed():
    """The fontconfig above really lists only Latin fonts (and nothing when none is installed)."""
    for d in LATIN_FONT_DIRS:
        if Path(d).is_dir():
            names = " ".join(p.name.lower() for p in Path(d).iterdir())
            assert not any(k in names for k in ("cjk", "han", "wqy", "noto")), names
