"""Every major-evidence chart renders from constructed evidence, with warnings as errors (a
missing CJK glyph fails), returns a Figure and keeps the labels it was given."""

from __future__ import annotations

import datetime as dt
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from helpers import charts
from helpers import majors as M
from helpers.charts import majors as C
from helpers.config import load_policy

POLICY = load_policy(2023)
T = POLICY.majors.threshold


@pytest.fixture(scope="module")
def evidence() -> M.MajorEvidence:
    rng = np.random.default_rng(11)
    rows = []
    majors = [
        ("本科", "080901", "计算机科学与技术"),
        ("本科", "050201", "英语"),
        ("专科", "510201", "计算机应用技术"),
        ("本科", "120203K", "会计学"),
    ]
    for cohort in (2021, 2022, 2023):
        for u in ("10386", "10394", "10395", "10397"):
            for level, code, name in majors:
                n = int(rng.integers(12, 90))
                p = 0.35 if (u, code) == ("10386", "080901") else rng.uniform(0.45, 0.9)
                placed = rng.random(n) < p
                dest = np.where(placed, "10", rng.choice(["70", "71", "72"], n))
                rows.append(
                    pd.DataFrame(
                        {
                            "university_code": u,
                            "cohort": cohort,
                            "education_level": level,
                            "major_code": code,
                            "major_name": name,
                            "discipline_code": code[:2],
                            "discipline_name": {
                                "08": "工学",
                                "05": "文学",
                                "51": "电子与信息大类",
                                "12": "管理学",
                            }[code[:2]],
                            "in_denominator": True,
                            "placed": placed,
                            "destination_code": pd.array(dest, dtype="string"),
                            "bucket_2024": np.where(
                                placed, "单位就业", np.where(dest == "70", "待就业", "暂不就业")
                            ),
                            "snapshot_date": pd.Timestamp(f"{cohort}-08-31"),
                        }
                    )
                )
    history = pd.concat(rows, ignore_index=True)
    unis = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "10395", "10397"],
            "university_name": ["福州大学", "福建师范大学", "闽江学院", "福建农林大学"],
        }
    )
    return M.major_evidence(history, unis, None, dt.date(2023, 8, 31), POLICY)


def _render(fig: Figure) -> list[str]:
    assert isinstance(fig, Figure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")
    texts = [t.get_text() for t in fig.findobj(plt.Text)]
    plt.close(fig)
    return texts


def test_every_chart_renders_without_missing_glyphs(evidence):
    charts.use_house_style()
    tables = evidence.tables("10386")
    points = tables["major_points"]
    points = points.assign(label=M.point_labels(points, with_university=False))
    summary = tables["major_summary"]
    disc = summary[summary["scope"] == "学科"].assign(label=lambda d: d["discipline_name"])
    texts = _render(C.evidence_bars(disc, label="label", title="各学科专业点证据等级"))
    assert "各学科专业点证据等级" in texts and "确定低于阈值" in texts

    texts = _render(C.eb_intervals(points, label="label", threshold=T, title="经验贝叶斯"))
    assert any(t.startswith("计算机科学与技术（本科）") for t in texts)

    trend = tables["major_trend"].merge(points[["major_code", "education_level", "label"]])
    texts = _render(C.trend_lines(trend, label="label", threshold=T, title="历届"))
    assert {"2021届", "2022届", "2023届"} <= set(texts)

    peers = tables["major_peers"].merge(points[["major_code", "education_level", "label"]])
    texts = _render(C.peer_dumbbell(peers, label="label", threshold=T, title="同专业"))
    assert "同专业" in texts

    mix = tables["major_points"].merge(evidence.points[[*M.POINT_KEYS, *M.MIX_CATEGORIES.values()]])
    mix = mix.assign(label=M.point_labels(mix, with_university=False))
    texts = _render(C.mix_bars(mix, label="label", title="去向构成"))
    assert "不就业拟升学" in texts and "待就业" in texts

    texts = _render(
        C.discipline_funnel(points, threshold=T, alert=0.95, alarm=0.998, title="漏斗图")
    )
    assert "漏斗图" in texts
    # a university's chart text never names another university
    assert not any(name in " ".join(texts) for name in ("福建师范大学", "闽江学院", "福建农林大学"))


def test_peer_chart_marks_hidden_peers_instead_of_drawing_zero():
    charts.use_house_style()
    peers = pd.DataFrame(
        {
            "label": ["甲专业", "乙专业", "丙专业"],
            "placement_rate": [0.4, 0.7, 0.3],
            "peer_rate": [0.6, np.nan, np.nan],
            "peer_ci_low": [0.5, np.nan, np.nan],
            "peer_ci_high": [0.7, np.nan, np.nan],
            "peer_points": [5, 1, 0],
        }
    )
    texts = _render(C.peer_dumbbell(peers, label="label", threshold=T, title="同专业"))
    assert "同专业院校过少，不公布" in texts and "省内其他院校无该专业点" in texts


def test_province_labels_carry_university_names(evidence):
    labels = M.point_labels(evidence.points, with_university=True)
    assert labels.str.contains("·").all()
    own = M.point_labels(evidence.tables("10394")["major_points"], with_university=False)
    assert not own.str.contains("福建师范大学").any()
