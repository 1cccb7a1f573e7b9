"""helpers.charts.canvas: report charts draw their text from a per-process cache, and look the same
as with plain Agg (text within half a pixel of its sub-pixel position), whether the text came from
the cache or not."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from helpers import charts
from helpers.charts import canvas

NAMES = ["福建师范大学（1,234人）", "厦门大学", "集美大学", "闽江学院", "Ag·jp (ASCII)"]


@pytest.fixture(autouse=True)
def _style():
    charts.use_house_style()
    canvas.clear_text_cache()
    yield
    canvas.clear_text_cache()


def _build(fig, ax, colour="#b03a2e"):
    ax.barh(range(len(NAMES)), [0.6, 0.7, 0.8, 0.5, 0.65], label="落实率")
    ax.set_yticks(range(len(NAMES)), NAMES)
    ax.set_title("各高校毕业去向落实率")
    ax.set_xlabel("落实率")
    ax.set_ylabel("高校（竖排）")
    ax.text(0.3, 2, "斜排 45°", rotation=45, color=colour, alpha=0.6)
    ax.text(0.1, 4, "第一行\n第二行", fontsize=7)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def _plain():
    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def test_subplots_draws_on_the_text_caching_canvas():
    fig, _ = canvas.subplots(figsize=(6, 3.5))
    assert isinstance(fig.canvas, canvas.TextCachingCanvas)
    assert isinstance(fig.canvas.get_renderer(), canvas.TextCachingRenderer)
    _, axes = canvas.subplots(1, 3, figsize=(6, 2), sharey=True, width_ratios=[1, 2, 1])
    assert axes.shape == (3,) and axes[0].get_shared_y_axes().joined(axes[0], axes[2])


def test_layout_is_exactly_plain_agg_and_pixels_nearly():
    fa, axa = _plain()
    fb, axb = canvas.subplots(figsize=(6, 3.5))
    a, b = _build(fa, axa), _build(fb, axb)
    # metrics (and line metrics) are Agg's own: every text sits in the same box
    ra, rb = fa.canvas.get_renderer(), fb.canvas.get_renderer()
    boxes_a = [t.get_window_extent(ra).bounds for t in fa.findobj(matplotlib.text.Text)]
    boxes_b = [t.get_window_extent(rb).bounds for t in fb.findobj(matplotlib.text.Text)]
    assert boxes_a == boxes_b
    assert axa.get_position().bounds == axb.get_position().bounds
    assert a.shape == b.shape
    differ = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
    assert (differ > 0).mean() < 0.05  # anti-aliased glyph edges only
    assert (differ > 0).any()  # (the test would not notice a canvas that ignores the cache)
    ink_a, ink_b = (a[..., :3] < 128).sum(), (b[..., :3] < 128).sum()
    assert abs(int(ink_a) - int(ink_b)) < 0.02 * ink_a  # every glyph drawn, none twice


def test_a_cached_string_draws_exactly_as_the_first_time():
    fb, axb = canvas.subplots(figsize=(6, 3.5))
    first = _build(fb, axb)
    metrics, masks = canvas.text_cache_size()
    assert metrics > len(NAMES) and masks > len(NAMES)
    fc, axc = canvas.subplots(figsize=(6, 3.5))
    again = _build(fc, axc)
    assert canvas.text_cache_size() == (metrics, masks)  # every string came from the cache
    assert np.array_equal(first, again)


def _word(colour, alpha=1.0):
    fig, ax = canvas.subplots(figsize=(3, 1))
    ax.set_axis_off()
    ax.text(0.1, 0.3, "落实率", fontsize=20, color=colour, alpha=alpha)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)


def test_colour_and_alpha_come_from_the_text_not_the_cache():
    red = _word("#ff0000")
    green = _word("#00ff00")  # same string, font and size: served from the cache
    faint = _word("#00ff00", alpha=0.4)
    assert canvas.text_cache_size()[1] == 1
    assert ((red[..., 0] > 240) & (red[..., 1] < 15)).sum() > 50
    assert ((green[..., 1] > 240) & (green[..., 0] < 15)).sum() > 50
    assert not ((green[..., 0] > 240) & (green[..., 1] < 15)).any()
    assert faint.min() >= 150  # 40% green over white never gets darker than (153, 255, 153)


def test_settings_that_change_glyphs_are_part_of_the_key():
    fig, ax = canvas.subplots(figsize=(3, 1))
    ax.set_axis_off()
    ax.set_title("毕业去向")
    fig.canvas.draw()
    with matplotlib.rc_context({"text.antialiased": False}):
        fig2, ax2 = canvas.subplots(figsize=(3, 1))
        ax2.set_axis_off()
        ax2.set_title("毕业去向")
        fig2.canvas.draw()
        alpha_levels = np.unique(np.asarray(fig2.canvas.buffer_rgba())[..., :3])
    assert canvas.text_cache_size()[1] >= 2  # not served the anti-aliased mask
    assert len(alpha_levels) <= 2  # black text on white, no anti-aliasing greys


def test_report_figures_show_as_png_without_pyplot():
    fig, ax = canvas.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0.3, 0.7])
    png = fig._repr_png_()
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (300, 200)


def test_row_labels_sit_where_tick_labels_would():
    labels = ["福建师范大学（1,234人）", "厦门大学", "Ag·jp"]
    fa, axa = canvas.subplots(figsize=(5, 2))
    axa.plot([0.5, 0.6, 0.7], [0, 1, 2], "o")
    axa.set_yticks([0, 1, 2], labels)
    fb, axb = canvas.subplots(figsize=(5, 2))
    axb.plot([0.5, 0.6, 0.7], [0, 1, 2], "o")
    texts = canvas.row_labels(axb, [0, 1, 2], labels)
    for fig in (fa, fb):
        fig.canvas.draw()
    ra, rb = fa.canvas.get_renderer(), fb.canvas.get_renderer()
    for tick, text in zip(axa.get_yticklabels(), texts, strict=True):
        a, b = tick.get_window_extent(ra), text.get_window_extent(rb)
        assert tick.get_text() == text.get_text()
        assert abs(a.x1 - b.x1) < 0.5 and abs(a.y0 - b.y0) < 0.5 and abs(a.width - b.width) < 0.5
        assert tick.get_color() == text.get_color() and tick.get_size() == text.get_size()
    assert canvas.row_label_texts(axb) == [
        (t, float(y)) for t, y in zip(labels, [0, 1, 2], strict=True)
    ]
    assert len(axb.get_yticks()) == 0  # no tick artists behind the labels


GLYPH_TEXTS = [
    *NAMES,
    "95%",
    " +3.5",
    "▶ 计算机科学与技术（本科）",
    "−12",
    "fi ffl AVA",
    "毕业去向落实率",
]


@pytest.mark.parametrize("antialiased", [True, False])
@pytest.mark.parametrize(("size", "dpi"), [(7, 110), (9, 110), (13, 110), (10.5, 72), (9, 100)])
def test_glyph_bitmaps_from_the_cache_draw_exactly_as_agg(size, dpi, antialiased):
    """Unrotated strings drawn glyph by glyph with cached bitmaps (helpers.patches) equal Agg's own
    draw_text, pixel for pixel: first time (bitmaps rendered) and again at other whole-pixel
    origins (bitmaps from the cache), with glyphs the CJK font lacks (fallback font) included."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    from helpers import patches

    prop = FontProperties(family=matplotlib.rcParams["font.sans-serif"], size=size)
    rc = patches._rc_state()

    def drawn(draw, x, y, s):
        renderer = RendererAgg(400, 60, dpi)
        gc = renderer.new_gc()
        gc.set_foreground((0, 0, 0, 1))
        gc.set_antialiased(antialiased)
        draw(renderer, gc, x, y, s)
        gc.restore()
        return np.asarray(renderer.buffer_rgba())[..., 3].copy()

    def agg(renderer, gc, x, y, s):
        RendererAgg.draw_text(renderer, gc, x, y, s, prop, 0)

    def cached(renderer, gc, x, y, s):
        patches._draw_glyphs(renderer, gc, x, y, s, prop, None, rc)

    for s in GLYPH_TEXTS:
        for x, y in ((5, 40), (17, 41), (5, 40)):  # the second and third from cached bitmaps
            expected = drawn(agg, x, y, s)
            assert expected.any()
            np.testing.assert_array_equal(drawn(cached, x, y, s), expected, err_msg=s)
    assert patches._GLYPHS  # the bitmaps were cached
