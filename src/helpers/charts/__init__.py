"""House chart style with the bundled CJK font, registered on import.

Every chart of the project goes through :func:`use_house_style`, so Chinese labels render with
Noto Sans CJK SC (OFL, shipped in ``helpers/fonts``) on any machine, and charts stay readable when
printed in greyscale (distinct markers and line styles, not colour alone).

:func:`show_figure` displays a chart in a notebook as a 256-colour PNG drawn once (about a third
of the size of a full-colour PNG, and what the HTML report embeds), then closes it.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from helpers.config import FONT_PATH

font_manager.fontManager.addfont(str(FONT_PATH))
CJK_FONT = font_manager.FontProperties(fname=str(FONT_PATH)).get_name()  # 'Noto Sans CJK SC'

# Greyscale-safe palette (dark to light) and markers for series that must stay distinguishable.
PALETTE = ["#1b4f72", "#b03a2e", "#7d8c8d", "#d4ac0d", "#4a235a", "#117a65"]
MARKERS = ["o", "s", "^", "D", "v", "P"]
LINESTYLES = ["-", "--", ":", "-."]

HOUSE_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [CJK_FONT, "DejaVu Sans"],
    "axes.unicode_minus": False,
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "figure.figsize": (8, 4.5),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.titlesize": 13,
    # titles sit on top of the axes (no chart has ticks or labels above them): a fixed position
    # spares matplotlib measuring every tick label again to move the title out of their way
    "axes.titley": 1.0,
    "axes.labelsize": 11,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "svg.fonttype": "path",
    # names from the universities' files reach chart labels: a "$" must stay a "$", never start
    # TeX math (an unbalanced one would fail the chart)
    "text.parse_math": False,
}


def use_house_style() -> None:
    """Apply the house style (idempotent; also resets anything a previous report changed)."""
    plt.rcdefaults()
    plt.rcParams.update(HOUSE_RC)


use_house_style()


# --- showing a chart -----------------------------------------------------------------------------
def palette_png(image) -> bytes:
    """A PIL image as a PNG with at most 256 colours, flattened on white (charts have a few dozen
    colours plus anti-aliasing: indistinguishable, about a third of the size)."""
    from PIL import Image

    if image.mode == "RGBA":
        rgba = image  # a drawn chart: no conversion (copy) to look at its alpha
    else:
        rgba = image.convert("RGBA") if image.mode in ("LA", "P") else None
    # the alpha band alone (the extrema of all four bands cost twice as much)
    if rgba is not None and rgba.getchannel("A").getextrema()[0] < 255:  # some transparency
        white = Image.new("RGBA", rgba.size, "white")
        flat = Image.alpha_composite(white, rgba).convert("RGB")
    else:
        flat = image.convert("RGB")
    small = flat.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    # octree averages white to (254, 254, 254): keep the page's white exact
    palette = small.getpalette() or []
    for i in range(0, len(palette) - 2, 3):
        if min(palette[i : i + 3]) >= 250:
            palette[i : i + 3] = [255, 255, 255]
    small.putpalette(palette)
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return buf.getvalue()


def figure_png(fig: Figure) -> bytes:
    """The figure drawn once at its own size and dpi (the chart functions lay their figures out
    with ``tight_layout``), as a 256-colour PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return palette_png(Image.fromarray(rgba, "RGBA"))


def _inline_png_only() -> bool:
    """True when IPython shows figures the inline backend's default way (PNG only, cropped): then
    :func:`figure_png` stands in for it. Any other set-up (SVG, retina, extra print options, no
    IPython) is left to IPython."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    printers = {}
    for mime, formatter in ip.display_formatter.formatters.items():
        try:
            printers[mime] = formatter.lookup_by_type(Figure)
        except KeyError:
            continue
    png = printers.pop("image/png", None)
    if printers:
        return False
    if png is None:
        # No figure formatter yet: IPython's inline backend registers it when pyplot makes its
        # first figure, and report charts do not go through pyplot (helpers.charts.canvas).
        return True
    if getattr(png, "func", None) is not print_figure:
        return False
    options = dict(getattr(png, "keywords", None) or {})
    return options.pop("fmt", None) == "png" and set(options) <= {"base64", "bbox_inches"}


def show_figure(fig: Figure) -> None:
    """Display a figure in the notebook, then close it (no duplicate output, no leaked memory)."""
    from IPython.display import display

    try:
        if not fig.axes and not fig.lines:  # nothing drawn: nothing shown (as IPython does)
            return
        if _inline_png_only():
            png = base64.b64encode(figure_png(fig)).decode("ascii")
            display({"image/png": png, "text/plain": repr(fig)}, raw=True)
        else:
            display(fig)
    finally:
        plt.close(fig)
