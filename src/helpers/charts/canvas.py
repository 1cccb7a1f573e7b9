"""An Agg canvas that remembers the text it has measured and drawn, across figures.

A period run draws about fourteen charts per university report, and most of their text repeats
from chart to chart and from report to report: tick labels ("60%"), axis titles, legend entries,
department and major names. Matplotlib measures and rasterises every string again for every
figure (its own metrics cache lives with one renderer, i.e. one figure), which is about a third of
the time a chart takes to draw. :class:`TextCachingCanvas` keeps, per process:

- the metrics of each (string, font, size, dpi) it has measured, exactly as Agg computes them;
- the rasterised coverage mask of each string it has drawn, which it then composites with the
  text's own colour, alpha and clipping, as Agg does for every glyph;
- each font's ascent, descent and line gap, which matplotlib otherwise reads from the font's
  tables for every text it lays out.

Every string, cached or not, is drawn the same way (rasterised once on a scratch buffer with its
origin on a whole pixel, then composited at the nearest whole pixel), so a chart looks the same
whether its text came from the cache or not: a report made on a reused kernel is byte-identical
to one made on a fresh kernel. Compared with plain Agg, text may sit up to half a pixel away from
its sub-pixel position.

Math text, TeX and path effects take Agg's ordinary path.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

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
_METRICS: OrderedDict = OrderedDict()
_MASKS: OrderedDict = OrderedDict()
_LINE_METRICS: dict = {}  # a handful of fonts and sizes


def _remember(cache: OrderedDict, key, value, limit: int) -> None:
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)


def clear_text_cache() -> None:
    """Forget every cached metric and mask (tests; fonts installed while the process runs)."""
    _METRICS.clear()
    _MASKS.clear()
    _LINE_METRICS.clear()


def text_cache_size() -> tuple[int, int]:
    """(cached metrics, cached masks)."""
    return len(_METRICS), len(_MASKS)


def _rc_state() -> tuple:
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


class TextCachingRenderer(RendererAgg):
    """RendererAgg whose plain-text metrics and rasterised strings are cached per process."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._rc = _rc_state()  # rcParams do not change while one figure is laid out and drawn

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, _font_key(prop), self.dpi, self._rc)
        metrics = _METRICS.get(key)
        if metrics is None:
            metrics = super().get_text_width_height_descent(s, prop, ismath)
            _remember(_METRICS, key, metrics, METRICS_SIZE)
        return metrics

    def _get_font_height_metrics(self, prop):
        """Ascent, descent and line gap of the font. Matplotlib 3.11 asks the renderer for them
        through this (private) hook and otherwise reads the font's tables for every text it lays
        out; older versions never call it. The same figures from the same tables, read once per
        font, size and dpi (tests/test_charts_canvas.py checks the layouts are identical)."""
        key = (_font_key(prop), self.dpi, self._rc)
        metrics = _LINE_METRICS.get(key)
        if metrics is None:
            metrics = _font_height_metrics(prop, self.dpi)
            _LINE_METRICS[key] = metrics
        return metrics

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not s:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
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
            entry = self._rasterise(s, prop, angle, gc.get_antialiased(), mtext)
            _remember(_MASKS, key, entry, MASKS_SIZE)
        mask, left, bottom = entry
        if mask is not None:
            # draw_text_image takes the bitmap's left column and the row below its bottom
            # (y downwards), and blends it with the gc's colour, alpha and clip, like one glyph.
            self._renderer.draw_text_image(mask, round(x) + left, round(y) + bottom, 0, gc)

    def _rasterise(self, s, prop, angle, antialiased, mtext):
        """Coverage mask of ``s`` drawn with its origin at a whole pixel, and its offsets."""
        w, h, d = self.get_text_width_height_descent(s, prop, False)
        pad = 4 + math.ceil(prop.get_size_in_points() * self.dpi / 72)  # bearings, accents
        if angle % 360 == 0:
            width, height = math.ceil(w) + 2 * pad, math.ceil(h) + 2 * pad
            ox, oy = pad, pad + math.ceil(h - d)
        else:  # any rotation fits in a square around the origin
            r = math.ceil(math.hypot(w, h)) + pad
            width = height = 2 * r
            ox = oy = r
        scratch = RendererAgg(width, height, self.dpi)
        gc = scratch.new_gc()
        gc.set_foreground((0, 0, 0, 1))
        gc.set_antialiased(antialiased)
        RendererAgg.draw_text(scratch, gc, ox, oy, s, prop, angle, False, mtext)
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


class ReportFigure(Figure):
    """A Figure that IPython can show without pyplot's inline backend (as the report shows it)."""

    def _repr_png_(self) -> bytes:
        from helpers.charts import figure_png

        return figure_png(self)


class TextCachingCanvas(FigureCanvasAgg):
    """FigureCanvasAgg drawing with :class:`TextCachingRenderer` (PNG output, layout, display)."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = TextCachingRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """Like ``matplotlib.pyplot.subplots``, for report charts: the figure is not registered with
    pyplot (charts are shown with :func:`helpers.charts.show_figure`, or returned to the caller and
    shown by Jupyter like any figure, see :class:`ReportFigure`) and draws on a
    :class:`TextCachingCanvas`.

    Figure options (``figsize``, ``dpi``, ``layout``, ...) go to the Figure; ``sharex``,
    ``sharey``, ``squeeze``, ``width_ratios``, ``height_ratios``, ``subplot_kw`` and
    ``gridspec_kw`` to :meth:`Figure.subplots`.
    """
    axes_options = {
        k: kwargs.pop(k)
        for k in (
            "sharex",
            "sharey",
            "squeeze",
            "width_ratios",
            "height_ratios",
            "subplot_kw",
            "gridspec_kw",
        )
        if k in kwargs
    }
    fig = ReportFigure(**kwargs)
    TextCachingCanvas(fig)
    return fig, fig.subplots(nrows, ncols, **axes_options)


ROW_LABEL = "row-label"  # gid of the texts row_labels draws


def row_labels(ax, positions, labels) -> list:
    """Category labels of a horizontal chart, drawn where the y tick labels would be (same font,
    size, colour and distance from the axis), without tick marks.

    A tick is five artists (two marks, a grid line, two labels) that matplotlib creates, lays out
    and draws one by one: a chart of 30 rows spends about 25 ms on ticks it does not need. Read
    the labels back with :func:`row_label_texts`.
    """
    ax.set_yticks([])
    rc = mpl.rcParams
    colour = rc["ytick.labelcolor"]
    if colour == "inherit":
        colour = rc["ytick.color"]
    offset = (rc["ytick.major.size"] + rc["ytick.major.pad"]) / 72  # inches, as a tick label's
    transform = ax.get_yaxis_transform() + ScaledTranslation(-offset, 0, ax.figure.dpi_scale_trans)
    return [
        ax.text(
            0,
            pos,
            str(text),
            transform=transform,
            ha="right",
            va="center_baseline",
            fontsize=rc["ytick.labelsize"],
            color=colour,
            clip_on=False,
            gid=ROW_LABEL,
        )
        for pos, text in zip(positions, labels, strict=True)
    ]


def row_label_texts(ax) -> list[tuple[str, float]]:
    """(label, y) of the row labels drawn by :func:`row_labels`, in drawing order."""
    return [(t.get_text(), t.get_position()[1]) for t in ax.texts if t.get_gid() == ROW_LABEL]
