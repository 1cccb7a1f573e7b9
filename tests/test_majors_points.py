"""The one 专业点-rate function: the placement report's by-major table and the major-evidence
report's point table agree on every 专业点 — of the demo province and of a constructed messy case
(missing keys, several names for one code, points without counted graduates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_AS_OF
from test_majors import POLICY, grads

from helpers import load, majors, placement
from helpers.config import policy_for_date

KEYS = list(majors.POINT_KEYS)


def assert_agree(by_major: pd.DataFrame, points: pd.DataFrame) -> None:
    """Same points (none lost on either side) with the same graduates, placed, rate, interval,
    name and evidence level."""
    a = by_major.astype({k: str for k in KEYS}).set_index(KEYS).sort_index()
    b = points.astype({k: str for k in KEYS}).set_index(KEYS).sort_index()
    assert a.index.is_unique and b.index.is_unique
    assert a.index.equals(b.index), (a.index.difference(b.index), b.index.difference(a.index))
    for col in ("graduates", "placed"):
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), col
    for col in ("placement_rate", "ci_low", "ci_high"):
        assert np.array_equal(
            a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), equal_nan=True
        ), col
    for col in ("major_name", "evidence_level", "evidence_label"):
        x, y = a[col].astype(object), b[col].astype(object)
        assert ((x == y) | (x.isna() & y.isna())).all(), col


def test_reports_agree_on_every_point_of_the_demo(demo_data_dir):
    as_of = DEMO_AS_OF
    policy = policy_for_date(as_of)
    current = load.load_dataset(
        demo_data_dir, as_of, "graduates", columns=placement.CURRENT_COLUMNS
    )
    history = load.load_graduate_history(demo_data_dir, as_of, columns=majors.HISTORY_COLUMNS)
    unis = load.load_dataset(
        demo_data_dir, as_of, "universities", columns=["university_code", "university_name"]
    )
    ev = majors.major_evidence(history, unis, None, as_of, policy)
    assert ev.review.snapshot_date == as_of  # both reports read the same snapshot
    province = placement.by_major(current, policy)
    assert len(province) >= 50
    assert_agree(province, ev.tables()["major_points"])
    for code in sorted(set(current["university_code"].astype(str)))[:5]:  # university reports
        own = placement.by_major(current, policy, code)
        assert_agree(own, ev.tables(code)["major_points"])


def _messy() -> pd.DataFrame:
    """Three universities; one point named two ways (its first row the rarer name), one point
    whose graduates are all 结业 (none counted), rows without a 专业代码 or 学历层次."""
    g = grads(
        [
            ("10386", "本科", "080901", 20, 8),
            ("10386", "本科", "080902", 6, 2),  # all 结业 below
            ("10386", "本科", "080903", 18, 15),
            ("10394", "本科", "080901", 30, 24),
            ("10394", "专科", "510201", 16, 4),
            ("10395", "本科", "080901", 25, 20),
            ("10395", "专科", "510201", 4, 1),
        ]
    )
    g["destination_known"] = g["destination_code"].notna()
    rows = g.index[(g["university_code"] == "10386") & (g["major_code"] == "080901")]
    g.loc[rows[:1], "major_name"] = "计算机"  # the first row spells it differently
    g.loc[rows[1:3], "in_denominator"] = False  # two 结业 of the point
    g.loc[(g["university_code"] == "10386") & (g["major_code"] == "080902"), "in_denominator"] = (
        False
    )
    no_code = g.index[(g["university_code"] == "10386") & (g["major_code"] == "080903")][:5]
    g.loc[no_code, "major_code"] = pd.NA
    g.loc[g.index[(g["university_code"] == "10394")][:3], "education_level"] = pd.NA
    g["major_code"] = g["major_code"].astype("string")
    g["education_level"] = g["education_level"].astype("string")
    return g


def test_reports_agree_on_a_messy_case():
    g = _messy()
    unis = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "10395"],
            "university_name": ["甲大学", "乙大学", "丙学院"],
        }
    )
    ev = majors.major_evidence(g, unis, None, DEMO_AS_OF, POLICY)
    ours = placement.by_major(g, POLICY)
    assert_agree(ours, ev.tables()["major_points"])
    for code in unis["university_code"]:
        assert_agree(placement.by_major(g, POLICY, code), ev.tables(code)["major_points"])

    t = ours.set_index(KEYS)
    # the most frequent name, whatever the row order
    assert t.loc[("10386", "本科", "080901"), "major_name"] == "专业080901"
    assert t.loc[("10386", "本科", "080901"), "graduates"] == 18
    # all 结业: a row with 0 graduates, no rate, 人数不足 — in both reports
    empty = t.loc[("10386", "本科", "080902")]
    assert empty["graduates"] == 0 and np.isnan(empty["placement_rate"])
    assert empty["evidence_level"] == "insufficient"
    # missing keys: grouped as 未填报, never dropped
    nr = majors.NOT_RECORDED
    assert t.loc[("10386", "本科", nr), "graduates"] == 5
    assert t.loc[("10394", nr, "080901"), "graduates"] == 3
    assert ours["graduates"].sum() == g["in_denominator"].sum()
    # an unknown major is no peer of anything, and no one's peer
    peers = ev.tables()["major_peers"].set_index(KEYS)
    assert peers.loc[("10386", "本科", nr), "suppressed"].startswith("专业代码或学历层次未填报")
    assert pd.isna(peers.loc[("10386", "本科", nr), "peer_rate"])
    assert peers.loc[("10395", "本科", "080901"), "peer_graduates"] == 18 + 27


def test_point_without_university_code_is_named_not_dropped():
    g = _messy()
    g.loc[g.index[-2:], "university_code"] = pd.NA
    t = placement.by_major(g, POLICY)
    assert (t["university_code"] == majors.NOT_RECORDED).sum() == 1
    assert t["graduates"].sum() == g["in_denominator"].sum()
    pts = majors.point_rates(g, POLICY)
    assert pts["graduates"].sum() == g["in_denominator"].sum()
    # the evidence report needs a university to send the list to: a clear error naming it
    unis = pd.DataFrame({"university_code": ["10386", "10394", "10395"], "university_name": "x"})
    with pytest.raises(ValueError, match="未填报"):
        majors.major_evidence(g, unis, None, DEMO_AS_OF, POLICY)


def test_point_rates_need_the_cohort_of_every_row():
    g = _messy().astype({"cohort": "Int16"})
    g.loc[g.index[0], "cohort"] = pd.NA
    with pytest.raises(ValueError, match="1 rows without cohort"):
        majors.point_rates(g, POLICY)
