"""Reporting timeliness (落实一人、上报一人): constructed snapshot histories, and the demo's batch
-entering universities found from its snapshots."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from helpers import load, timeliness
from helpers.config import load_policy

POLICY = load_policy(2023)
S = ["2023-04-30", "2023-05-31", "2023-06-30"]


def snap(date, rows, cohort=2023):
    """rows: (student, university, placed, 签约日期 or None)."""
    return pd.DataFrame(
        {
            "student_key": [r[0] for r in rows],
            "university_code": [r[1] for r in rows],
            "cohort": cohort,
            "placed": [r[2] for r in rows],
            "placement_date": pd.to_datetime([r[3] for r in rows]),
            "snapshot_date": pd.Timestamp(date),
        }
    )


def history():
    return pd.concat(
        [
            snap(
                S[0],
                [
                    ("a", "1", True, "2023-04-10"),
                    ("b", "1", False, None),
                    ("c", "1", False, None),
                    ("d", "2", False, None),
                    ("e", "2", False, None),
                ],
            ),
            snap(
                S[1],
                [
                    ("a", "1", True, "2023-04-10"),
                    ("b", "1", True, "2023-05-20"),
                    ("c", "1", True, "2023-04-15"),  # signed before 04-30: late
                    ("d", "2", True, None),  # no 签约日期: counted, left out
                    ("e", "2", False, None),
                ],
            ),
            snap(
                S[2],
                [
                    ("a", "1", True, "2023-04-10"),
                    ("b", "1", True, "2023-05-20"),
                    ("c", "1", True, "2023-04-15"),
                    ("d", "2", True, None),
                    ("e", "2", True, "2023-07-02"),
                ],
            ),  # date after the snapshot: a typo
            # another cohort's snapshot is not part of this cohort's sequence
            snap("2023-05-15", [("x", "1", True, "2023-01-01")], cohort=2022),
        ],
        ignore_index=True,
    )


def test_late_entries_shares_delays_and_missing_dates():
    t = timeliness.reporting_timeliness(history(), dt.date(2023, 6, 30), POLICY).set_index(
        "university_code"
    )
    one = t.loc["1"]
    assert (one["placements"], one["first_snapshot"], one["judged"], one["late_entries"]) == (
        3,
        1,
        2,
        1,
    )
    assert one["late_share"] == pytest.approx(0.5)
    assert one["median_delay_days"] == (pd.Timestamp(S[1]) - pd.Timestamp("2023-04-15")).days
    assert 0 < one["ci_low"] < 0.5 < one["ci_high"] < 1
    two = t.loc["2"]
    assert (two["missing_date"], two["judged"], two["late_entries"]) == (1, 1, 0)
    assert two["late_share"] == 0
    everyone = t.loc[timeliness.ALL]
    assert (everyone["judged"], everyone["late_entries"], everyone["missing_date"]) == (3, 1, 1)


def test_as_of_cuts_the_snapshots_and_first_snapshot_is_not_judged():
    t = timeliness.reporting_timeliness(history(), dt.date(2023, 5, 31), POLICY).set_index(
        "university_code"
    )
    assert t.loc["2", "judged"] == 0 and pd.isna(t.loc["2", "late_share"])
    only_first = timeliness.reporting_timeliness(history(), dt.date(2023, 4, 30), POLICY)
    assert (only_first["judged"] == 0).all()
    assert "需要至少两期快照" in timeliness.summary_sentence(only_first)


def test_first_entries_delay_never_negative():
    e = timeliness.first_entries(history(), 2023).set_index("student_key")
    assert e.loc["e", "delay_days"] == 0 and not e.loc["e", "late"]
    assert e.loc["c", "late"] and not e.loc["b", "late"]


def test_ranking_uses_the_lower_bound():
    t = pd.DataFrame(
        {
            "university_code": ["small", "big", timeliness.ALL],
            "judged": [2, 400, 402],
            "late_entries": [2, 200, 202],
        }
    )
    t["late_share"] = t["late_entries"] / t["judged"]
    from helpers.rates import wilson_interval

    t["ci_low"], t["ci_high"] = wilson_interval(t["late_entries"], t["judged"])
    top = timeliness.largest_late_shares(t, k=2)
    assert top["university_code"].tolist() == ["big", "small"]


def test_demo_batch_universities_top_the_late_shares(demo_data_dir):
    as_of = POLICY.date(POLICY.placement.initial_snapshot)
    h = load.load_graduate_history(demo_data_dir, as_of, columns=timeliness.HISTORY_COLUMNS)
    t = timeliness.reporting_timeliness(h, as_of, POLICY)
    signals = pd.read_csv(demo_data_dir / "ground_truth" / "signals.csv", dtype=str)
    batch = set(signals.loc[signals["signal"] == "batch_entry", "university_code"])
    assert len(batch) >= 1
    top = timeliness.largest_late_shares(t, k=len(batch))
    assert set(top["university_code"]) == batch
    others = t[~t["university_code"].isin(batch | {timeliness.ALL})]
    assert (others["late_share"] < 0.35).all()  # most placements entered within two weeks
