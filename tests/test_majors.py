"""Unit tests of helpers.majors on constructed processed-shaped frames (hand-checked values)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from helpers import majors as M
from helpers.config import load_policy

POLICY = load_policy(2023)
T = POLICY.majors.threshold
N_MIN = POLICY.majors.min_graduates


def grads(spec, cohort=2023, snapshot="2023-08-31"):
    """Processed-shaped graduates rows from (university, level, major, n, placed[, codes]) tuples.

    Placed graduates get code 10, the others 70 unless a list of codes for the unplaced is given.
    """
    frames = []
    for item in spec:
        uni, level, major, n, placed = item[:5]
        unplaced_codes = list(item[5]) if len(item) > 5 else ["70"] * (n - placed)
        assert len(unplaced_codes) == n - placed
        codes = ["10"] * placed + unplaced_codes
        bucket = {
            "10": "单位就业",
            "70": "待就业",
            "71": "暂不就业",
            "72": "暂不就业",
            "80": "升学",
        }
        frames.append(
            pd.DataFrame(
                {
                    "university_code": uni,
                    "cohort": np.int16(cohort),
                    "education_level": level,
                    "major_code": major,
                    "major_name": f"专业{major}",
                    "discipline_code": major[:2],
                    "discipline_name": f"门类{major[:2]}",
                    "in_denominator": True,
                    "placed": [True] * placed + [False] * (n - placed),
                    "destination_code": pd.array(
                        [c if c != "NA" else None for c in codes], dtype="string"
                    ),
                    "bucket_2024": [bucket.get(c, "未登记") for c in codes],
                    "snapshot_date": pd.Timestamp(snapshot),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def pairs(*items):
    return pd.DataFrame(
        [(c, pd.Timestamp(d)) for c, d in items], columns=["cohort", "snapshot_date"]
    )


# --- evidence levels ---------------------------------------------------------------------------


def test_evidence_levels_pinned():
    # n, placed -> level, checked by hand against the Wilson upper limit
    cases = [
        (N_MIN - 1, 0, "insufficient"),  # too few graduates, whatever the rate
        (N_MIN, 3, "below_confident"),  # 3/15 = 20%, Wilson upper 0.452 < 0.5
        (20, 9, "below_point"),  # 45%, Wilson 0.258-0.658 reaches 50%
        (20, 10, "not_below"),  # exactly 50% is not below
        (400, 180, "below_confident"),  # 45%, upper 0.499 < 0.5
        (100, 45, "below_point"),  # 45%, upper 0.548
    ]
    pts = M.point_rates(
        grads([("10386", "本科", f"0809{i:02d}", n, x) for i, (n, x, _) in enumerate(cases)]),
        POLICY,
    )
    assert list(pts["evidence_level"]) == [c[2] for c in cases]
    assert pts.loc[1, "ci_high"] == pytest.approx(0.4519, abs=1e-4)
    assert pts.loc[2, "ci_low"] == pytest.approx(0.258, abs=1e-3)
    assert pts.loc[2, "ci_high"] == pytest.approx(0.658, abs=1e-3)
    assert pts.loc[4, "ci_high"] < 0.5 < pts.loc[5, "ci_high"]
    assert list(pts["evidence_label"]) == [M.EVIDENCE_LABELS[c[2]] for c in cases]


def test_evidence_level_signature_kept_for_placement():
    s = M.evidence_level(
        pd.Series([10, 30, 30]),
        pd.Series([0.2, 0.3, 0.6]),
        pd.Series([0.5, 0.48, 0.75]),
        threshold=0.5,
        min_graduates=15,
    )
    assert list(s) == ["insufficient", "below_confident", "not_below"]
    assert list(s.cat.categories) == list(M.EVIDENCE_LEVELS)


def test_point_rates_counts_only_denominator_and_keeps_empty_points():
    g = grads([("10386", "本科", "080901", 20, 12), ("10386", "专科", "510201", 3, 1)])
    g.loc[g.index[:2], "in_denominator"] = False  # two placed 结业 graduates of 080901
    g.loc[g["major_code"] == "510201", "in_denominator"] = False
    g.loc[g.index[5], "major_name"] = "计算机"  # a stray spelling loses to the frequent one
    pts = M.point_rates(g, POLICY).set_index("major_code")
    assert pts.loc["080901", "graduates"] == 18
    assert pts.loc["080901", "placed"] == 10
    assert pts.loc["080901", "major_name"] == "专业080901"
    assert pts.loc["510201", "graduates"] == 0
    assert np.isnan(pts.loc["510201", "placement_rate"])
    assert pts.loc["510201", "evidence_level"] == "insufficient"


# --- cohort under review -----------------------------------------------------------------------


def test_review_on_initial_date():
    r = M.review_snapshot(
        pairs((2022, "2022-08-31"), (2023, "2023-06-30"), (2023, "2023-08-31")),
        dt.date(2023, 8, 31),
        POLICY,
    )
    assert (r.cohort, r.snapshot_date, r.is_initial) == (2023, dt.date(2023, 8, 31), True)
    assert "2023-08-31" in r.note


def test_review_early_in_year_is_previous_cohort():
    snaps = pairs((2022, "2022-08-31"), (2022, "2022-12-31"), (2023, "2023-02-28"))
    r = M.review_snapshot(snaps, dt.date(2023, 2, 28), POLICY)
    assert (r.cohort, r.snapshot_date, r.is_initial) == (2022, dt.date(2022, 8, 31), True)
    assert "上一届" in r.note
    assert M.plan_deadline(r.cohort, POLICY) == dt.date(2023, 4, 1)
    assert M.plan_cohort(dt.date(2023, 2, 28)) == r.cohort


def test_review_year_end_still_uses_initial_snapshot():
    snaps = pairs((2023, "2023-08-31"), (2023, "2023-12-31"))
    r = M.review_snapshot(snaps, dt.date(2023, 12, 31), POLICY)
    assert r.snapshot_date == dt.date(2023, 8, 31) and r.is_initial


def test_review_before_initial_snapshot_exists_uses_newest_and_says_so():
    # only the current cohort in the data (first year of monitoring)
    snaps = pairs((2023, "2023-04-30"), (2023, "2023-06-30"), (2023, "2023-09-30"))
    r = M.review_snapshot(snaps, dt.date(2023, 7, 15), POLICY)
    assert (r.cohort, r.snapshot_date, r.is_initial) == (2023, dt.date(2023, 6, 30), False)
    assert "暂用最新快照 2023-06-30" in r.note
    # initial date reached but its snapshot is late: newest earlier snapshot, not the later one
    r = M.review_snapshot(pairs((2023, "2023-07-31")), dt.date(2023, 9, 10), POLICY)
    assert (r.cohort, r.snapshot_date, r.is_initial) == (2023, dt.date(2023, 7, 31), False)


def test_review_ignores_snapshots_after_as_of_and_needs_data():
    snaps = pairs((2022, "2022-08-31"), (2023, "2023-08-31"))
    r = M.review_snapshot(snaps, dt.date(2023, 8, 30), POLICY)
    assert r.cohort == 2022
    with pytest.raises(ValueError, match="2021-01-01"):
        M.review_snapshot(snaps, dt.date(2021, 1, 1), POLICY)


# --- trend -------------------------------------------------------------------------------------


def _history():
    # point A below in 2022 and 2023 (flag), B below in 2021 and 2022 only, C below in 2023 and
    # 2021 with 2022 missing (run 1), D below in all four (run 4)
    rates = {
        "080901": {2020: 15, 2021: 15, 2022: 8, 2023: 9},
        "080902": {2020: 15, 2021: 8, 2022: 9, 2023: 15},
        "080903": {2020: 15, 2021: 8, 2023: 8},
        "080904": {2020: 8, 2021: 8, 2022: 8, 2023: 8},
    }
    frames = []
    for cohort in (2020, 2021, 2022, 2023):
        spec = [("10386", "本科", m, 20, r[cohort]) for m, r in rates.items() if cohort in r]
        frames.append(grads(spec, cohort, f"{cohort}-08-31"))
        # a year-end snapshot of the same cohort must not be used for the trend
        frames.append(
            grads([(u, lv, m, n, n) for u, lv, m, n, _ in spec], cohort, f"{cohort}-12-31")
        )
    frames.append(grads([("10386", "本科", "080901", 20, 2)], 2023, "2023-06-30"))
    return pd.concat(frames, ignore_index=True)


def test_trend_uses_initial_snapshot_of_each_cohort():
    h = _history()
    review = M.review_snapshot(h, dt.date(2023, 12, 31), POLICY)
    trend = M.cohort_trend(h, review, POLICY)
    assert sorted(trend["cohort"].unique()) == [2020, 2021, 2022, 2023]
    assert set(trend["snapshot_date"]) == {dt.date(y, 8, 31) for y in (2020, 2021, 2022, 2023)}
    a = trend[trend["major_code"] == "080901"].set_index("cohort")
    assert a.loc[2022, "placement_rate"] == pytest.approx(0.4)
    assert a.loc[2023, "placement_rate"] == pytest.approx(0.45)
    assert bool(a.loc[2022, "below_threshold"]) and not bool(a.loc[2021, "below_threshold"])


def test_trend_flags_consecutive_runs():
    h = _history()
    review = M.review_snapshot(h, dt.date(2023, 8, 31), POLICY)
    flags = M.trend_flags(M.cohort_trend(h, review, POLICY), review.cohort, POLICY)
    f = flags.set_index("major_code")
    assert f.loc["080901", "consecutive_below"] == 2 and f.loc["080901", "below_two_consecutive"]
    assert (
        f.loc["080902", "consecutive_below"] == 0 and not f.loc["080902", "below_two_consecutive"]
    )
    assert f.loc["080902", "cohorts_below"] == 2
    assert f.loc["080903", "consecutive_below"] == 1  # 2022 missing breaks the run
    assert f.loc["080903", "cohorts_observed"] == 3
    assert pd.isna(f.loc["080903", "previous_cohort_rate"])
    assert f.loc["080904", "consecutive_below"] == 4
    assert f.loc["080901", "previous_cohort_rate"] == pytest.approx(0.4)
    assert f.loc["080901", "previous_cohort_graduates"] == 20


def test_two_cohorts_pooled_confirm_a_small_point():
    # 9/20 now (Wilson 0.26-0.66: not confident alone) and 8/20 last year: 17/40 pooled,
    # Wilson upper 0.578 -> not confirmed; with 5/25 last year: 14/45 pooled, upper 0.455 -> confirmed
    def flags(prev_n, prev_x):
        h = pd.concat(
            [
                grads([("10386", "本科", "080901", 20, 9)], 2023, "2023-08-31"),
                grads([("10386", "本科", "080901", prev_n, prev_x)], 2022, "2022-08-31"),
            ]
        )
        review = M.review_snapshot(h, dt.date(2023, 8, 31), POLICY)
        return M.trend_flags(M.cohort_trend(h, review, POLICY), 2023, POLICY).iloc[0]

    f = flags(20, 8)
    assert f["two_cohort_graduates"] == 40 and f["two_cohort_rate"] == pytest.approx(17 / 40)
    hi = stats.binomtest(17, 40).proportion_ci(0.95, method="wilson").high
    assert f["two_cohort_ci_high"] == pytest.approx(hi) and not f["two_cohort_confirmed"]
    f = flags(25, 5)
    assert f["two_cohort_rate"] == pytest.approx(14 / 45)
    assert f["two_cohort_ci_high"] < 0.5 and f["two_cohort_confirmed"]
    # the current cohort must itself be below: 11/20 now never confirms
    h = pd.concat(
        [
            grads([("10386", "本科", "080901", 20, 11)], 2023, "2023-08-31"),
            grads([("10386", "本科", "080901", 200, 40)], 2022, "2022-08-31"),
        ]
    )
    review = M.review_snapshot(h, dt.date(2023, 8, 31), POLICY)
    f = M.trend_flags(M.cohort_trend(h, review, POLICY), 2023, POLICY).iloc[0]
    assert f["two_cohort_ci_high"] < 0.5 and not f["two_cohort_confirmed"]


def test_trend_window_follows_policy():
    h = _history()
    review = M.review_snapshot(h, dt.date(2023, 8, 31), POLICY)
    short = POLICY.model_copy(
        update={"majors": POLICY.majors.model_copy(update={"trend_cohorts": 1})}
    )
    trend = M.cohort_trend(h, review, short)
    assert sorted(trend["cohort"].unique()) == [2022, 2023]
    f = M.trend_flags(trend, review.cohort, short).set_index("major_code")
    assert f.loc["080904", "consecutive_below"] == 2


# --- peers -------------------------------------------------------------------------------------


def test_peers_pooled_excluding_own_hand_checked():
    g = grads(
        [
            ("10386", "本科", "080901", 20, 8),
            ("10394", "本科", "080901", 40, 30),
            ("10395", "本科", "080901", 60, 50),
            ("10386", "专科", "080901", 30, 10),  # another level: not a peer of the 本科 points
            ("10386", "本科", "050201", 30, 12),
            ("10394", "本科", "050201", 25, 10),  # only one peer: suppressed
        ]
    )
    peers = M.peer_comparison(M.point_rates(g, POLICY), POLICY)
    p = peers.set_index(["university_code", "education_level", "major_code"])
    a = p.loc[("10386", "本科", "080901")]
    assert a["peer_points"] == 2
    assert (a["peer_graduates"], a["peer_placed"]) == (100, 80)
    assert a["peer_rate"] == pytest.approx(0.8)
    lo, hi = stats.binomtest(80, 100).proportion_ci(0.95, method="wilson")
    assert (a["peer_ci_low"], a["peer_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert a["gap_to_peers"] == pytest.approx(0.4 - 0.8)
    assert a["peer_verdict"] == M.PEER_VERDICTS["school"]
    b = p.loc[("10394", "本科", "080901")]
    assert b["peer_rate"] == pytest.approx(58 / 80)
    assert b["peer_verdict"] == "不低于阈值"
    assert p.loc[("10386", "专科", "080901"), "peer_points"] == 0
    assert p.loc[("10386", "专科", "080901"), "suppressed"] == "省内其他院校没有该专业点"
    one = p.loc[("10386", "本科", "050201")]
    assert one["peer_points"] == 1
    assert pd.isna(one["peer_graduates"]) and np.isnan(one["peer_rate"])
    assert "少于2个" in one["suppressed"]
    assert pd.isna(one["peer_verdict"])
    assert pd.isna(a["suppressed"])


def test_peer_verdict_major_wide():
    g = grads(
        [
            ("10386", "本科", "050201", 30, 12),
            ("10394", "本科", "050201", 30, 13),
            ("10395", "本科", "050201", 30, 14),
        ]
    )
    peers = M.peer_comparison(M.point_rates(g, POLICY), POLICY)
    assert (peers["peer_verdict"] == M.PEER_VERDICTS["major"]).all()
    # own 40% (Wilson upper 0.58) against peers at 55%: not distinguishable
    g = grads(
        [
            ("10386", "本科", "050201", 30, 12),
            ("10394", "本科", "050201", 40, 22),
            ("10395", "本科", "050201", 40, 22),
        ]
    )
    p = M.peer_comparison(M.point_rates(g, POLICY), POLICY).set_index("university_code")
    assert p.loc["10386", "peer_rate"] == pytest.approx(0.55)
    assert p.loc["10386", "peer_verdict"] == M.PEER_VERDICTS["unclear"]


def test_peer_points_ignore_points_without_graduates():
    g = grads(
        [
            ("10386", "本科", "080901", 20, 8),
            ("10394", "本科", "080901", 40, 30),
            ("10395", "本科", "080901", 5, 5),
        ]
    )
    g.loc[g["university_code"] == "10395", "in_denominator"] = False
    p = M.peer_comparison(M.point_rates(g, POLICY), POLICY).set_index("university_code")
    assert p.loc["10386", "peer_points"] == 1 and np.isnan(p.loc["10386", "peer_rate"])


# --- empirical Bayes ---------------------------------------------------------------------------


def test_beta_binomial_fit_recovers_known_prior():
    rng = np.random.default_rng(7)
    a_true, b_true = 8.0, 4.0
    n = rng.integers(15, 300, size=3000)
    p = rng.beta(a_true, b_true, size=n.size)
    y = rng.binomial(n, p)
    fit = M.fit_beta_binomial(y, n)
    assert fit.converged
    assert fit.a == pytest.approx(a_true, rel=0.12)
    assert fit.b == pytest.approx(b_true, rel=0.12)
    assert fit.mean == pytest.approx(a_true / (a_true + b_true), abs=0.01)


def test_beta_binomial_fit_three_points_matches_grid_search():
    # hand-checkable case: 3 points, likelihood written independently with betaln
    y = np.array([3, 12, 18])
    n = np.array([10, 20, 25])
    fit = M.fit_beta_binomial(y, n)

    def loglik(a, b):
        yy, nn = y[:, None, None], n[:, None, None]
        return (
            special.gammaln(nn + 1)
            - special.gammaln(yy + 1)
            - special.gammaln(nn - yy + 1)
            + special.betaln(yy + a, nn - yy + b)
            - special.betaln(a, b)
        ).sum(axis=0)

    la, lb = np.meshgrid(np.linspace(-1, 5, 601), np.linspace(-1, 5, 601), indexing="ij")
    ll = loglik(np.exp(la), np.exp(lb))
    i, j = np.unravel_index(np.argmax(ll), ll.shape)
    assert np.log(fit.a) == pytest.approx(la[i, j], abs=0.03)
    assert np.log(fit.b) == pytest.approx(lb[i, j], abs=0.03)
    assert fit.loglik == pytest.approx(ll.max(), abs=1e-3)
    assert fit.loglik >= ll.max() - 1e-9


def test_underdispersed_rates_pool_completely():
    n = np.full(50, 100)
    y = np.full(50, 70)
    fit = M.fit_beta_binomial(y, n)
    assert fit.a + fit.b > 1e4
    assert fit.mean == pytest.approx(0.7, abs=1e-3)


def test_fit_needs_two_groups():
    with pytest.raises(ValueError, match="two groups"):
        M.fit_beta_binomial([3, 0], [10, 0])


def test_a_single_point_gets_the_jeffreys_prior():
    pts = M.point_rates(grads([("10386", "本科", "080901", 20, 9)]), POLICY)
    priors = M.eb_priors(pts)
    assert priors.loc[0, "prior_source"] == "无可合并的专业点"
    assert (priors.loc[0, "prior_a"], priors.loc[0, "prior_b"]) == (0.5, 0.5)
    eb = M.eb_estimates(pts, priors, POLICY)
    assert eb.loc[0, "eb_rate"] == pytest.approx(9.5 / 21)


def test_eb_posterior_hand_checked():
    g = grads(
        [
            ("10386", "本科", "080901", 4, 1),
            ("10394", "本科", "080901", 10, 9),
            ("10395", "本科", "080902", 20, 10),
        ]
    )
    pts = M.point_rates(g, POLICY)
    priors = pd.DataFrame(
        {"education_level": ["本科"], "discipline_code": ["08"], "prior_a": [2.0], "prior_b": [2.0]}
    )
    eb = M.eb_estimates(pts, priors, POLICY).set_index("university_code")
    # Beta(2+1, 2+3): mean 3/8; Beta(2+9, 2+1): 11/14; Beta(12, 12): 1/2
    assert eb.loc["10386", "eb_rate"] == pytest.approx(3 / 8)
    assert eb.loc["10394", "eb_rate"] == pytest.approx(11 / 14)
    assert eb.loc["10395", "eb_rate"] == pytest.approx(0.5)
    assert eb.loc["10395", "eb_prob_below"] == pytest.approx(0.5)
    assert eb.loc["10386", "eb_prob_below"] == pytest.approx(stats.beta.cdf(0.5, 3, 5))
    assert eb.loc["10386", "eb_low"] == pytest.approx(stats.beta.ppf(0.025, 3, 5))
    assert eb.loc["10386", "eb_high"] == pytest.approx(stats.beta.ppf(0.975, 3, 5))
    assert eb.loc["10386", "eb_weight"] == pytest.approx(4 / 8)
    # raw rates untouched
    assert eb.loc["10386", "placement_rate"] == pytest.approx(0.25)


def test_eb_priors_fall_back_to_level_for_small_disciplines():
    rng = np.random.default_rng(3)
    spec = [
        (f"1{i:04d}", "本科", "080901", int(n), int(rng.binomial(n, rng.beta(14, 6))))
        for i, n in enumerate(rng.integers(20, 120, size=30))
    ]
    spec += [("10386", "本科", "050201", 30, 12), ("10394", "本科", "050201", 40, 30)]
    spec += [("10386", "专科", "510201", 30, 20), ("10394", "专科", "510201", 30, 25)]
    pts = M.point_rates(grads(spec), POLICY)
    priors = M.eb_priors(pts, min_points=10).set_index(["education_level", "discipline_code"])
    assert priors.loc[("本科", "08"), "prior_source"] == "学科"
    assert priors.loc[("本科", "08"), "points_used"] == 30
    assert priors.loc[("本科", "05"), "prior_source"] == "学历层次"
    assert priors.loc[("本科", "05"), "points_used"] == 32
    assert priors.loc[("专科", "51"), "prior_source"] == "全部专业点"
    assert priors.loc[("专科", "51"), "points_used"] == 34
    eb = M.eb_estimates(pts, priors.reset_index(), POLICY)
    small = eb[eb["graduates"] > 0]
    # shrinkage: every estimate lies between the raw rate and the prior mean
    pm = small.merge(priors.reset_index(), on=["education_level", "discipline_code"])["prior_mean"]
    lo = np.minimum(small["placement_rate"].to_numpy(), pm.to_numpy()) - 1e-12
    hi = np.maximum(small["placement_rate"].to_numpy(), pm.to_numpy()) + 1e-12
    assert ((small["eb_rate"].to_numpy() >= lo) & (small["eb_rate"].to_numpy() <= hi)).all()


# --- destination mix, summary, plans -----------------------------------------------------------


def test_destination_mix_splits_waiting_for_study():
    g = grads([("10386", "本科", "080901", 10, 4, ["70", "71", "71", "71", "72", "NA"])])
    mix = M.destination_mix(g).iloc[0]
    assert mix["mix_employed"] == pytest.approx(0.4)
    assert mix["mix_awaiting_study"] == pytest.approx(0.3)
    assert mix["mix_unemployed"] == pytest.approx(0.1)
    assert mix["mix_not_working_other"] == pytest.approx(0.1)
    assert mix["mix_unrecorded"] == pytest.approx(0.1)
    assert mix[list(M.MIX_CATEGORIES.values())].sum() == pytest.approx(1.0)
    assert mix["main_unplaced"] == "不就业拟升学"


def test_evidence_summary_counts():
    g = grads(
        [
            ("10386", "本科", "080901", 15, 3),
            ("10386", "本科", "080902", 20, 9),
            ("10386", "本科", "050201", 10, 2),
            ("10394", "本科", "080901", 40, 35),
        ]
    )
    pts = M.point_rates(g, POLICY)
    s = M.evidence_summary(pts, ["university_code"], T).set_index("university_code")
    assert s.loc["10386", "points"] == 3
    assert (s.loc["10386", "below_confident"], s.loc["10386", "below_point"]) == (1, 1)
    assert s.loc["10386", "insufficient"] == 1 and s.loc["10386", "watch"] == 1
    assert s.loc["10386", "flagged_points"] == 2 and s.loc["10386", "flagged_graduates"] == 35
    assert s.loc["10394", "not_below"] == 1 and s.loc["10394", "flagged_points"] == 0


def test_adjustment_plan_status():
    g = grads(
        [(u, "本科", "080901", 20, 5) for u in ("10386", "10394", "10395", "10397")]
        + [("10388", "本科", "080901", 20, 18)],
        cohort=2022,
        snapshot="2022-08-31",
    )
    pts = M.point_rates(g, POLICY)
    plans = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "10395", "10388", "10397", "10386"],
            "received_date": pd.to_datetime(
                ["2023-03-20", "2023-04-09", "2022-03-01", "2023-03-01", "2023-05-01", "2023-03-25"]
            ),
        }
    )
    assert M.plan_cohort(dt.date(2023, 4, 15)) == 2022
    st = M.adjustment_plan_status(pts, plans, 2022, dt.date(2023, 4, 15), POLICY)
    s = st.set_index("university_code")
    assert "10388" not in s.index  # no flagged point: no plan due
    assert (s["cohort"] == 2022).all() and (s["deadline"] == dt.date(2023, 4, 1)).all()
    assert s.loc["10386", "plan_status"] == "按期报送" and s.loc["10386", "days_late"] == 0
    assert s.loc["10386", "received_date"] == dt.date(2023, 3, 20)  # the earliest plan
    assert s.loc["10394", "plan_status"] == "逾期报送" and s.loc["10394", "days_late"] == 8
    # 10395's plan answered the previous list; 10397's arrives after as_of: both still missing
    assert s.loc["10395", "plan_status"] == "未报送（已逾期）" and s.loc["10395", "days_late"] == 14
    assert s.loc["10397", "plan_status"] == "未报送（已逾期）"
    assert list(st["plan_status"])[:2] == ["未报送（已逾期）"] * 2  # missing plans first
    early = M.adjustment_plan_status(pts, plans, 2022, dt.date(2023, 3, 25), POLICY)
    e = early.set_index("university_code")
    assert e.loc["10394", "plan_status"] == "未报送（未到截止日期）"
    assert e.loc["10394", "days_late"] == 0
    assert e.loc["10386", "plan_status"] == "按期报送"


def test_plans_without_date_are_an_error():
    g = grads([("10386", "本科", "080901", 20, 5)])
    plans = pd.DataFrame({"university_code": ["10386"], "received_date": [pd.NaT]})
    with pytest.raises(ValueError, match="received_date"):
        M.adjustment_plan_status(M.point_rates(g, POLICY), plans, 2023, dt.date(2024, 4, 2), POLICY)


def test_tables_registered():
    from helpers import tables

    for name in M.TABLE_TITLES:
        assert name in tables.TABLE_TITLES
    assert tables.is_rate_column("eb_prob_below") and tables.is_rate_column("mix_employed")
    assert tables.is_difference_column("gap_to_peers")


def test_placement_by_major_carries_the_same_evidence():
    placement = pytest.importorskip("helpers.placement")
    g = grads(
        [
            ("10386", "本科", "080901", N_MIN, 3),
            ("10386", "本科", "080902", 20, 9),
            ("10394", "本科", "080901", 40, 30),
            ("10394", "专科", "510201", 5, 1),
        ]
    ).assign(destination_known=True)
    ours = M.point_rates(g, POLICY).set_index(list(M.POINT_KEYS))
    theirs = placement.by_major(g, POLICY).set_index(list(M.POINT_KEYS))
    assert set(theirs.index) == set(ours.index)
    joined = ours.join(theirs.add_suffix("_placement"))
    for col in ("graduates", "placed", "placement_rate", "ci_high"):
        assert (joined[col] == joined[f"{col}_placement"]).all(), col
    assert (joined["evidence_level"].astype(str) == joined["evidence_level_placement"]).all()


def test_major_evidence_end_to_end_on_constructed_history():
    h = _history()
    extra = [(u, "本科", "080901", 30, x) for u, x in (("10394", 24), ("10395", 21))]
    h = pd.concat([h, grads(extra, 2023, "2023-08-31"), grads(extra, 2022, "2022-08-31")])
    unis = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "10395"],
            "university_name": ["甲大学", "乙大学", "丙学院"],
        }
    )
    plans = pd.DataFrame(
        {"university_code": ["10386"], "received_date": pd.to_datetime(["2023-03-30"])}
    )
    ev = M.major_evidence(h, unis, plans, dt.date(2023, 8, 31), POLICY)
    assert ev.review.cohort == 2023 and ev.plan_cohort == 2022
    assert ev.plan_deadline == dt.date(2023, 4, 1) and ev.deadline == dt.date(2024, 4, 1)
    assert ev.plan_snapshot == dt.date(2022, 8, 31)
    # the 2022 list: 10386's points below 50% in 2022 (080901, 080902, 080904); its plan was on time
    st = ev.plan_status.set_index("university_code")
    assert list(st.index) == ["10386"] and st.loc["10386", "flagged_points"] == 3
    assert st.loc["10386", "plan_status"] == "按期报送"
    pts = ev.points.set_index(["university_code", "major_code"])
    assert pts.loc[("10386", "080901"), "below_two_consecutive"]
    assert pts.loc[("10386", "080901"), "peer_points"] == 2
    assert pts.loc[("10386", "080901"), "peer_rate"] == pytest.approx(45 / 60)
    assert pts["eb_rate"].between(0, 1).all()
    own = ev.tables("10394")
    assert set(own["major_points"]["university_code"]) == {"10394"}
    assert set(own["major_summary"]["university_name"]) == {"乙大学"}
    assert own["adjustment_plan_status"].empty
    assert (
        "甲大学" not in own["major_peers"].to_csv() and "10386" not in own["major_peers"].to_csv()
    )
    assert ev.check_university(10394) == "10394"
    # a university of the reference without any 专业点 gets empty tables, not an error
    ev2 = M.major_evidence(
        h,
        pd.concat(
            [unis, pd.DataFrame({"university_code": ["99001"], "university_name": ["丁学院"]})]
        ),
        plans,
        dt.date(2023, 8, 31),
        POLICY,
    )
    empty = ev2.tables("99001")
    assert all(empty[name].empty for name in ("major_points", "major_flagged", "major_trend"))
    assert "共 0 个专业点" in M.overview_text(ev2, POLICY, "99001")
    with pytest.raises(ValueError, match="99999"):
        ev.tables("99999")
    text = M.plan_text(ev)
    assert "2022 届名单" in text and "2023-04-01" in text
    assert "2023-08-31" in M.overview_text(ev, POLICY, "10394")
