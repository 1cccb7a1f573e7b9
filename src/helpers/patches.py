"""Every place the project reaches into a third-party package's private internals, in one module.

Two speed-ups rely on internals; both give the same result as stock behaviour (tests check it),
and both can be switched off: ``PLACEMENT_STOCK_AGG=1`` in the environment of ``placement run``
(inherited by its workers and report kernels) makes charts draw on matplotlib's stock Agg canvas
and nbclient build outputs with nbformat's own ``output_from_msg``. Report tables are the same
either way (tests/test_patches.py runs one report both ways); chart text may then sit up to half a
pixel elsewhere.

- **matplotlib** (``pyproject.toml`` bounds it ``<3.12``): :func:`agg_classes` builds an Agg
  canvas whose renderer remembers the text it has measured and drawn, across figures. A period
  run draws about fourteen charts per university report, and most of their text repeats (tick
  labels, axis titles, legend entries, department and major names); matplotlib measures and
  rasterises every string again for every figure, about a third of the time a chart takes. It
  overrides the renderer's private ``_get_font_height_metrics`` hook (3.11 asks the renderer for
  ascent/descent/line gap through it; older versions never call it), draws cached masks with
  ``RendererAgg._renderer.draw_text_image`` and finds a font with
  ``fontManager._find_fonts_by_props``. Every string, cached or not, is rasterised once on a
  scratch buffer with its origin on a whole pixel and composited at the nearest whole pixel, so a
  chart looks the same whether its text came from the cache or not (a report made on a reused
  kernel is byte-identical to one made on a fresh kernel). A new unrotated string is rasterised
  as 3.11's ``RendererAgg.draw_text`` does it (``FT2Font._layout``, then each glyph placed with
  ``_set_transform`` and rendered with ``_render_glyph``), except that a glyph's bitmap is
  remembered per sub-pixel offset and reused (the names in a report share most of their
  characters); the pixels are Agg's own (tests/test_charts_canvas.py). Math text, TeX and path
  effects take Agg's ordinary path.
- **nbclient** (bounded ``<0.12``): nbclient turns every output message into a notebook output
  with ``nbformat.v4.output_from_msg``, imported into ``nbclient.client``'s namespace, which
  validates the output against a sub-schema; nbformat compiles only the whole-notebook schema
  with fastjsonschema, and a sub-schema falls back to jsonschema, about a tenth of a worker's CPU
  per report. :func:`install_fast_outputs` replaces that one name with :func:`output_from_msg`:
  the same outputs checked against the same sub-schemas compiled once; output they reject goes
  through nbformat itself, so invalid output fails exactly as before, with nbformat's message.

This module imports neither matplotlib nor nbclient at import time: the runner's workers import it
without paying for matplotlib, report kernels without paying for nbclient.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from functools import cache
from pathlib import Path

STOCK_ENV = "PLACEMENT_STOCK_AGG"


def stock() -> bool:
    """True when ``PLACEMENT_STOCK_AGG`` asks for stock behaviour (no patch applied)."""
    return os.environ.get(STOCK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


# --- nbclient: outputs checked with compiled schemas ------------------------------------------

_OUTPUT_FIELDS = {
    # output_type -> content fields in the order nbformat.v4.new_output sets them
    "execute_result": ("metadata", "data", "execution_count"),
    "display_data": ("metadata", "data"),
    "stream": ("name", "text"),
    "error": ("ename", "evalue", "traceback"),
}


@cache
def schema_validator(definition: str):
    """Compiled check against one definition of the schema nbformat.v4's new_* functions use
    (nbformat's fastjsonschema wrapper: raises nbformat's ValidationError)."""
    from nbformat import v4
    from nbformat.json_compat import FastJsonSchemaValidator

    path = Path(v4.__file__).parent / v4.nbformat_schema[(v4.nbformat, v4.nbformat_minor)]
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema = {
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": f"#/definitions/{definition}",
    }
    return FastJsonSchemaValidator(schema).validate


def output_from_msg(msg: dict):
    """``nbformat.v4.output_from_msg`` with the schema check compiled (same output, same errors).

    Raises ValueError for a message that is not an output, and nbformat's ValidationError for
    output that does not fit the notebook format.
    """
    import nbformat

    output_type = msg["header"]["msg_type"]
    fields = _OUTPUT_FIELDS.get(output_type)
    if fields is None:
        return nbformat.v4.output_from_msg(msg)  # raises nbformat's ValueError
    content = msg["content"]
    out = nbformat.NotebookNode(output_type=output_type)
    for name in fields:
        out[name] = content[name]  # NotebookNode turns nested dicts into NotebookNodes
    try:
        schema_validator(output_type)(out)
    except nbformat.ValidationError:
        return nbformat.v4.output_from_msg(msg)  # nbformat's own check and error message
    return out


def install_fast_outputs() -> bool:
    """Make nbclient build outputs with :func:`output_from_msg` (nbformat's own function when
    :func:`stock`); True when the fast path is in place. Idempotent, per process."""
    import nbformat
    from nbclient import client

    fast = not stock()
    client.output_from_msg = output_from_msg if fast else nbformat.v4.output_from_msg
    return fast


# --- matplotlib: an Agg canvas that remembers the text it has measured and drawn ----------------

# Settings that change how a string is measured or rasterised (besides its FontProperties).
_RC_KEYS = (
    "font.family",
    "font.serif",
    "font.sans-serif",
    "font.monospace",
    "font.cursive",
    "font.fantasy",
    "text.hinting",
    "text.hinting_factor",
    "text.kerning_factor",
    "text.antialiased",
)
METRICS_SIZE = 32768
MASKS_SIZE = 8192
GLYPHS_SIZE = 8192
_METRICS: OrderedDict = OrderedDict()
_MASKS: OrderedDict = OrderedDict()
_GLYPHS: OrderedDict = OrderedDict()  # glyph bitmaps of the strings rasterised so far
_LINE_METRICS: dict = {}  # a handful of fonts and sizes


def _remember(store: OrderedDict, key, value, limit: int) -> None:
    store[key] = value
    if len(store) > limit:
        store.popitem(last=False)


def clear_text_cache() -> None:
    """Forget every cached metric and mask (tests; fonts installed while the process runs)."""
    _METRICS.clear()
    _MASKS.clear()
    _GLYPHS.clear()
    _LINE_METRICS.clear()


def text_cache_size() -> tuple[int, int]:
    """(cached metrics, cached masks)."""
    return len(_METRICS), len(_MASKS)


def _rc_state() -> tuple:
    import matplotlib as mpl

    return tuple(
        tuple(v) if isinstance(v, list) else v
        for v in (mpl.rcParams.get(k) for k in _RC_KEYS if k in mpl.rcParams)
    )


def _font_key(prop) -> tuple:
    # What FontProperties.__hash__ combines, as a tuple (equal hashes are not equal fonts).
    return (
        tuple(prop.get_family()),
        prop.get_slant(),
        prop.get_variant(),
        prop.get_weight(),
        prop.get_stretch(),
        prop.get_size_in_points(),
        prop.get_file(),
        prop.get_math_fontfamily(),
    )


def _font_height_metrics(prop, dpi) -> tuple:
    """What ``matplotlib.text.Text._get_layout`` computes from the font's OS/2 or hhea table."""
    from matplotlib.font_manager import fontManager, get_font

    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap, ascent, descent in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        # same operations in the same order as matplotlib: bit-identical layouts
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent] * scale, -table[descent] * scale, table[gap] * scale
    return None, None, None  # matplotlib then measures "lp" instead


def _init(self, width, height, dpi):
    self._agg.__init__(self, width, height, dpi)
    self._rc = _rc_state()  # rcParams do not change while one figure is laid out and drawn


def _text_metrics(self, s, prop, ismath):
    if ismath:
        return self._agg.get_text_width_height_descent(self, s, prop, ismath)
    key = (s, _font_key(prop), self.dpi, self._rc)
    metrics = _METRICS.get(key)
    if metrics is None:
        metrics = self._agg.get_text_width_height_descent(self, s, prop, ismath)
        _remember(_METRICS, key, metrics, METRICS_SIZE)
    return metrics


def _line_metrics(self, prop):
    """Ascent, descent and line gap of the font, read once per font, size and dpi (matplotlib
    3.11's private renderer hook; tests/test_charts_canvas.py checks the layouts are identical)."""
    key = (_font_key(prop), self.dpi, self._rc)
    metrics = _LINE_METRICS.get(key)
    if metrics is None:
        metrics = _font_height_metrics(prop, self.dpi)
        _LINE_METRICS[key] = metrics
    return metrics


def _draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
    if ismath or not s:
        return self._agg.draw_text(self, gc, x, y, s, prop, angle, ismath, mtext)
    features = getattr(mtext, "get_fontfeatures", lambda: None)() if mtext else None
    language = getattr(mtext, "get_language", lambda: None)() if mtext else None
    key = (
        s,
        _font_key(prop),
        float(angle),
        self.dpi,
        bool(gc.get_antialiased()),
        tuple(features) if features else None,
        language,
        self._rc,
    )
    entry = _MASKS.get(key)
    if entry is None:
        entry = _rasterise(self, s, prop, angle, gc.get_antialiased(), mtext)
        _remember(_MASKS, key, entry, MASKS_SIZE)
    mask, left, bottom = entry
    if mask is not None:
        # draw_text_image takes the bitmap's left column and the row below its bottom
        # (y downwards), and blends it with the gc's colour, alpha and clip, like one glyph.
        self._renderer.draw_text_image(mask, round(x) + left, round(y) + bottom, 0, gc)
    return None


def _rasterise(self, s, prop, angle, antialiased, mtext):
    """Coverage mask of ``s`` drawn with its origin at a whole pixel, and its offsets."""
    import numpy as np

    w, h, d = self.get_text_width_height_descent(s, prop, False)
    pad = 4 + math.ceil(prop.get_size_in_points() * self.dpi / 72)  # bearings, accents
    if angle % 360 == 0:
        width, height = math.ceil(w) + 2 * pad, math.ceil(h) + 2 * pad
        ox, oy = pad, pad + math.ceil(h - d)
    else:  # any rotation fits in a square around the origin
        r = math.ceil(math.hypot(w, h)) + pad
        width = height = 2 * r
        ox = oy = r
    scratch = self._agg(width, height, self.dpi)
    gc = scratch.new_gc()
    gc.set_foreground((0, 0, 0, 1))
    gc.set_antialiased(antialiased)
    if angle % 360 == 0 and _agg_draws_glyph_by_glyph():
        _draw_glyphs(scratch, gc, ox, oy, s, prop, mtext, self._rc)
    else:
        self._agg.draw_text(scratch, gc, ox, oy, s, prop, angle, False, mtext)
    gc.restore()
    alpha = np.asarray(scratch.buffer_rgba())[:, :, 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return None, 0, 0
    cols = np.flatnonzero(alpha.any(axis=0))
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    mask = np.ascontiguousarray(alpha[top:bottom, left:right])
    return mask, left - ox, bottom - oy


@cache
def _agg_draws_glyph_by_glyph() -> bool:
    """Whether Agg's ``draw_text`` is 3.11's (layout, then one ``_render_glyph`` per glyph), the
    one :func:`_draw_glyphs` repeats; older versions draw the string in one bitmap."""
    import matplotlib as mpl

    return tuple(int(p) for p in mpl.__version__.split(".")[:2]) == (3, 11)


def _draw_glyphs(scratch, gc, x, y, s, prop, mtext, rc) -> None:
    """``RendererAgg.draw_text`` of matplotlib 3.11 for unrotated text, each glyph's bitmap taken
    from :data:`_GLYPHS` when the same glyph was rendered before at the same sub-pixel offset.

    A glyph is loaded, hinted and rendered by FreeType from the same outline wherever it lands: a
    bitmap rendered at a whole-pixel shift is the same bitmap shifted (tests/test_charts_canvas.py
    compares with Agg's own ``draw_text``). The sub-pixel offset is part of the key."""
    from matplotlib.backends.backend_agg import get_hinting_flag
    from matplotlib.ft2font import RenderMode

    font = scratch._prepare_font(prop)
    flags = get_hinting_flag()
    items = font._layout(
        s,
        flags=flags,
        features=mtext.get_fontfeatures() if mtext is not None else None,
        language=mtext.get_language() if mtext is not None else None,
    )
    size = prop.get_size_in_points()
    antialiased = bool(gc.get_antialiased())
    height = scratch.height
    for item in items:
        ft = item.ft_object
        # as Agg computes them: 26.6 fixed point, y upwards from the bottom
        px, py = round(0x40 * (x + item.x)), round(0x40 * (height - y + item.y))
        key = (ft.fname, ft.face_index, size, scratch.dpi, item.glyph_index, flags, antialiased)
        key += (px & 0x3F, py & 0x3F, rc)
        entry = _GLYPHS.get(key)
        if entry is None:
            ft.set_size(size, scratch.dpi)
            ft._set_transform([[0x10000, 0], [0, 0x10000]], [px, py])
            mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
            bitmap = ft._render_glyph(item.glyph_index, flags, mode)
            buffer = bitmap.buffer
            if not antialiased:
                buffer *= 0xFF
            entry = (buffer, bitmap.left - (px >> 6), bitmap.top - (py >> 6))
            _remember(_GLYPHS, key, entry, GLYPHS_SIZE)
        buffer, left, top = entry
        top += py >> 6
        scratch._renderer.draw_text_image(
            buffer, left + (px >> 6), int(height) - top + buffer.shape[0], 0, gc
        )


def _get_renderer(self):
    w, h = self.get_width_height(physical=True)
    key = w, h, self.figure.dpi
    if self._lastKey != key:
        self.renderer = self._renderer_class(w, h, self.figure.dpi)
        self._lastKey = key
    return self.renderer


@cache
def agg_classes() -> tuple[type, type]:
    """``(TextCachingRenderer, TextCachingCanvas)``: RendererAgg whose plain-text metrics and
    rasterised strings are cached per process, and the FigureCanvasAgg drawing with it (PNG
    output, layout, display). Built on first use, so importing this module costs no matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    renderer = type(
        "TextCachingRenderer",
        (RendererAgg,),
        {
            "__module__": __name__,
            "__doc__": agg_classes.__doc__,
            "_agg": RendererAgg,
            "__init__": _init,
            "get_text_width_height_descent": _text_metrics,
            "_get_font_height_metrics": _line_metrics,
            "draw_text": _draw_text,
        },
    )
    canvas = type(
        "TextCachingCanvas",
        (FigureCanvasAgg,),
        {"__module__": __name__, "_renderer_class": renderer, "get_renderer": _get_renderer},
    )
    return renderer, canvas


def figure_canvas() -> type:
    """The canvas class report charts draw on: the text-caching one, or stock Agg when
    :func:`stock`."""
    if stock():
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        return FigureCanvasAgg
    return agg_classes()[1]
