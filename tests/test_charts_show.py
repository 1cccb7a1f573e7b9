"""helpers.charts.show_figure: a chart is drawn once and shown as a 256-colour PNG when IPython
shows figures the inline backend's default way (PNG); any other set-up (SVG, retina, extra print
options) is left to IPython. Charts are laid out by their own ``tight_layout``, so nothing may
stick out of the figure (the PNG is not cropped to the drawn content any more)."""

from __future__ import annotations

import base64
import io

import matplotlib
import pytest
from matplotlib import pyplot as plt
from PIL import Image

from helpers import charts

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _house_style():
    charts.use_house_style()
    yield
    plt.close("all")


def _chart():
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1, 2], [0.2, 0.6, 0.4], marker="o", label="本校")
    ax.set_title("毕业去向落实率")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig


def test_figure_png_is_a_palette_png_of_the_whole_figure_on_white():
    fig = _chart()
    png = charts.figure_png(fig)
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.mode == "P"
        assert im.size == (400, 250)  # figure size x dpi: the page shows what the chart laid out
        assert im.convert("RGB").getpixel((0, 0)) == (255, 255, 255)
        assert len(im.convert("RGB").getcolors(256) or []) > 3  # the drawing is there


@pytest.fixture
def shown(monkeypatch) -> list:
    out: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: out.append((obj, kw)))
    return out


def test_show_figure_sends_the_palette_png_and_closes_the_figure(monkeypatch, shown):
    monkeypatch.setattr(charts, "_inline_png_only", lambda: True)
    fig = _chart()
    charts.show_figure(fig)
    ((data, kw),) = shown
    assert kw == {"raw": True} and data["text/plain"].startswith("<Figure")
    with Image.open(io.BytesIO(base64.b64decode(data["image/png"]))) as im:
        assert im.mode == "P"
    assert not plt.fignum_exists(fig.number)


def test_show_figure_leaves_other_formats_to_ipython(monkeypatch, shown):
    monkeypatch.setattr(charts, "_inline_png_only", lambda: False)
    fig = _chart()
    charts.show_figure(fig)
    assert shown == [(fig, {})]
    assert not plt.fignum_exists(fig.number)


def test_show_figure_shows_nothing_for_an_empty_figure(monkeypatch, shown):
    monkeypatch.setattr(charts, "_inline_png_only", lambda: True)
    fig = plt.figure()
    charts.show_figure(fig)
    assert shown == [] and not plt.fignum_exists(fig.number)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def test_inline_png_only_follows_the_shell_figure_formats(shell):
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, {"png"}, bbox_inches="tight")  # the inline backend's default
    assert charts._inline_png_only()
    select_figure_formats(shell, {"svg"})
    assert not charts._inline_png_only()
    select_figure_formats(shell, {"png", "svg"})
    assert not charts._inline_png_only()
    select_figure_formats(shell, {"retina"})
    assert not charts._inline_png_only()
    select_figure_formats(shell, {"png"}, dpi=200)  # print options of the author's: IPython's way
    assert not charts._inline_png_only()


def test_inline_png_only_is_false_outside_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        pytest.skip("an IPython shell exists in this process")
    assert not charts._inline_png_only()


def test_inline_png_only_when_ipython_has_no_figure_formatter_yet(shell):
    # Report charts do not go through pyplot, so a kernel may not have loaded the inline backend
    # (which registers the figure formatters): the chart is still shown as a PNG.
    for formatter in shell.display_formatter.formatters.values():
        formatter.type_printers.pop(matplotlib.figure.Figure, None)
    assert charts._inline_png_only()


def test_a_dollar_in_a_name_is_text_not_math():
    """Names from the universities' files reach chart labels; "$" must not start TeX math."""
    from helpers.charts.canvas import subplots

    fig, ax = subplots()
    ax.set_title("某$学院$（A$B$）")
    ax.barh(["专业$x^2$", "专业$\\frac{$"], [1, 2])  # as math, "\frac{" fails to parse
    assert charts.figure_png(fig).startswith(b"\x89PNG")
    with matplotlib.rc_context({"text.parse_math": True}), pytest.raises(ValueError):
        fig2, ax2 = subplots()
        ax2.set_title("专业$\\frac{$")
        charts.figure_png(fig2)  # the control: what the house style prevents
