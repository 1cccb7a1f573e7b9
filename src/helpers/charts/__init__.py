"""House chart style with the bundled CJK font, registered on import.

Every chart of the project goes through :func:`use_house_style`, so Chinese labels render with
Noto Sans CJK SC (OFL, shipped in ``helpers/fonts``) on any machine, and charts stay readable when
printed in greyscale (distinct markers and line styles, not colour alone).
"""

from __future__ import annotations

import matplotlib
from matplotlib import font_manager
from matplotlib import pyplot as plt

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
    "axes.labelsize": 11,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "svg.fonttype": "path",
}


def use_house_style() -> None:
    """Apply the house style (idempotent; also resets anything a previous report changed)."""
    plt.rcdefaults()
    plt.rcParams.update(HOUSE_RC)


use_house_style()
