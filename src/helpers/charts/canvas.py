"""Report figures: drawn on the text-caching Agg canvas of :mod:`helpers.patches` (stock Agg with
``PLACEMENT_STOCK_AGG=1``), shown without pyplot; row labels of horizontal charts.

The canvas remembers the text it has measured and drawn, across figures (a period run draws about
fourteen charts per university report, and most of their text repeats): see
:mod:`helpers.patches`, which holds every override of matplotlib's private internals.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from helpers import patches
from helpers.patches import clear_text_cache, text_cache_size

TextCachingRenderer, TextCachingCanvas = patches.agg_classes()

__all__ = [
    "ReportFigure",
    "TextCachingCanvas",
    "TextCachingRenderer",
    "clear_text_cache",
    "row_label_texts",
    "row_labels",
    "subplots",
    "text_cache_size",
]


class ReportFigure(Figure):
    """A Figure that IPython can show without pyplot's inline backend (as the report shows it)."""

    def _repr_png_(self) -> bytes:
        from helpers.charts import figure_png

        return figure_png(self)


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """Like ``matplotlib.pyplot.subplots``, for report charts: the figure is not registered with
    pyplot (charts are shown with :func:`helpers.charts.show_figure`, or returned to the caller and
    shown by Jupyter like any figure, see :class:`ReportFigure`) and draws on a
    :class:`TextCachingCanvas` (stock ``FigureCanvasAgg`` with ``PLACEMENT_STOCK_AGG=1``).

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
    patches.figure_canvas()(fig)
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
