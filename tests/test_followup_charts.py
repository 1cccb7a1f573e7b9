"""Every follow-up chart renders with Chinese labels and no warning (a missing glyph fails)."""

from __future__ import annotations

import datetime as dt
import warnings

import matplotlib
import pytest
from matplotlib import pyplot as plt
from test_followup_frames import scenario

from helpers.charts import followup as C
from helpers.followup import recruitment as R
from helpers.followup import visits as V

matplotlib.use("Agg")


def _charts(s):
    pol = s["policy"]
    g = s["groups"]
    rows = g.loc[g["graduates"] > 0].assign(label=g["university_name"] + "·" + g["group"])
    cum = V.cumulative_by_month(s["prepared"], s["as_of"])
    return [
        C.recruitment_trend(
            R.province_by_window(s["by_window"]), R.province_by_type(s["assigned"])
        ),
        C.recruitment_trend(R.province_by_window(s["by_window"])),
        C.visits_progress_chart(s["visits"]),
        C.visits_cumulative_chart(V.province_cumulative(cum, len(s["visits"]), pol)),
        C.platform_chart(
            s["platform"],
            {
                "follow_rate": pol.platform.follow_rate_min,
                "binding_rate": pol.platform.binding_rate_min,
                "registration_rate": pol.platform.registration_rate_min,
            },
        ),
        C.group_gap_chart(rows, "label"),
    ]


@pytest.mark.parametrize("as_of", ["2023-08-31", "2023-06-29"])
def test_charts_render_without_warnings(as_of, tmp_path):
    s = scenario(dt.date.fromisoformat(as_of))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figs = _charts(s)
        for i, fig in enumerate(figs):
            assert isinstance(fig, matplotlib.figure.Figure)
            assert fig.axes[0].get_title() or fig._suptitle is not None
            fig.savefig(tmp_path / f"{i}.png")
            plt.close(fig)
    assert len(list(tmp_path.glob("*.png"))) == 6


def test_hidden_rates_are_labelled_not_plotted():
    s = scenario()
    g = s["groups"]
    rows = g.loc[g["university_code"] == "10386"].assign(label=g["group"])
    fig = C.group_gap_chart(rows, "label")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "按数据保护规则不显示" in texts and "无该群体毕业生" in texts
    plt.close(fig)
