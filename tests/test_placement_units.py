"""helpers.placement on constructed, processed-shaped frames with hand-checked values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_placement_support import POLICY, block, frame, universities

from helpers import placement as P
from helpers.codes import BUCKETS_2021, BUCKETS_2024
from helpers.majors import EVIDENCE_LABELS

UNIS = universities(
    [
        ("10386", "福州大学", "本科", 0.80),
        ("10384", "厦门大学", "本科", None),
        ("19999", "福建测试新设学院", "本科", 0.5),
    ]
)


def _current() -> pd.DataFrame:
    return _CURRENT.copy()


def _history() -> pd.DataFrame:
    return _HISTORY.copy()


def _build_current() -> pd.DataFrame:
    return frame(
        # 10386: 300 graduates, 230 placed, 5 with nothing recorded; 20 结业 left out of rates
        block("10386", 100, 80, unknown=5, groups=("脱贫家庭",)),
        block(
            "10386",
            200,
            150,
            gender="女",
            department="外国语学院",
            major=("050201", "英语"),
            codes_placed=("12", "76", "75", "10"),
        ),
        block("10386", 20, 10, in_denominator=False),
        # 10384: 300 graduates, 240 placed
        block("10384", 300, 240, urban_rural="农村", gender=None),
        # a university and a major the generator never produces
        block("19999", 40, 12, major=("080999T", "新设试点专业")),
    )


def _build_history(current: pd.DataFrame) -> pd.DataFrame:
    prev = frame(
        block("10386", 300, 200, snapshot="2023-07-31"),
        block("10384", 300, 200, snapshot="2023-07-31"),
        block("19999", 40, 10, snapshot="2023-07-31"),
    )
    last_year = frame(
        block("10386", 280, 200, snapshot="2022-08-31", cohort=2022),
        block("10384", 280, 190, snapshot="2022-08-31", cohort=2022),
    )
    return pd.concat([last_year, prev, current], ignore_index=True)


_CURRENT = _build_current()
_HISTORY = _build_history(_CURRENT)


def test_rate_table_denominator_coverage_and_missing_categories():
    t = P.rate_table(_current(), ["university_code"], 0.95).set_index("university_code")
    assert t.loc["10386", "graduates"] == 300  # the 20 结业 are not counted
    assert t.loc["10386", "placed"] == 230
    assert t.loc["10386", "known"] == 295
    assert t.loc["10386", "coverage_rate"] == pytest.approx(295 / 300)
    assert t.loc["10386", "placement_rate"] == pytest.approx(230 / 300)
    g = P.rate_table(_current(), ["gender"], 0.95).set_index("gender")
    assert g.loc[P.NOT_RECORDED, "graduates"] == 300  # missing gender counted, not dropped
    assert g["graduates"].sum() == 640
    total = P.rate_table(_current(), [], 0.95)
    assert total["graduates"].iloc[0] == 640 and total["placed"].iloc[0] == 482


def test_headline_changes_hand_checked():
    counts = P.snapshot_counts(_history())
    head = P.headline(counts, POLICY)
    row = head.iloc[0]
    assert row["university_code"] == P.ALL and row["cohort"] == 2023
    assert (row["graduates"], row["placed"], row["known"]) == (640, 482, 635)
    assert row["placement_rate"] == pytest.approx(482 / 640)
    assert row["previous_snapshot_date"] == pd.Timestamp("2023-07-31")
    assert row["previous_rate"] == pytest.approx(410 / 640)
    assert row["rate_change"] == pytest.approx(482 / 640 - 410 / 640)
    assert row["last_year_snapshot_date"] == pd.Timestamp("2022-08-31")
    assert row["last_year_rate"] == pytest.approx(390 / 560)
    assert row["policy_rate"] == POLICY.placement.provincial_average
    uni = P.headline(counts, POLICY, "10386")
    assert list(uni["university_code"]) == ["10386", P.ALL]
    assert uni["last_year_rate"].iloc[0] == pytest.approx(200 / 280)
    text = P.headline_text(uni, POLICY, {"10386": "福州大学"})
    assert "福州大学2023届毕业生300人" in text and "全省2023届毕业生640人" in text
    assert "上升" in text


def test_headline_without_earlier_snapshots():
    counts = P.snapshot_counts(_current())
    row = P.headline(counts, POLICY).iloc[0]
    assert pd.isna(row["previous_rate"]) and pd.isna(row["last_year_rate"])
    assert "暂无" in P.headline_text(P.headline(counts, POLICY), POLICY)


def test_by_university_policy_line_baseline_and_funnel():
    t, od = P.by_university(_current(), UNIS, POLICY)
    t = t.set_index("university_code")
    assert t.loc["10386", "university_name"] == "福州大学"
    assert t.loc["10386", "baseline_rate"] == 0.80
    assert bool(t.loc["10386", "below_baseline"]) is True  # 76.7% < 80%
    assert pd.isna(t.loc["10384", "below_baseline"])  # no baseline: unknown
    assert bool(t.loc["19999", "below_policy_rate"]) is True  # 30% < 70%
    assert (t["policy_rate"] == POLICY.placement.provincial_average).all()
    assert t["provincial_rate"].iloc[0] == pytest.approx(482 / 640)
    assert list(t.sort_values("rank").index) == ["10384", "10386", "19999"]
    assert t.loc["19999", "funnel_zone"].startswith("低于")
    assert od.units == 3
    row = P.university_row(t.reset_index(), "10386")
    assert len(row) == 1 and "rank" not in row


def test_funnel_position_text_states_rate_limits_and_zone():
    t, od = P.by_university(_current(), UNIS, POLICY)
    row = P.university_row(t, "19999")
    r = t.set_index("university_code").loc["19999"]
    text = P.funnel_position_text(row, od, POLICY)
    st = POLICY.statistics
    assert text.startswith("本校毕业生40人，落实率30.0%，本期全省汇总落实率75.3%")
    for limit in ("alert_low_limit", "alert_high_limit", "alarm_low_limit", "alarm_high_limit"):
        assert f"{r[limit] * 100:.1f}%" in text
    assert f"{st.funnel_alert:.0%}控制限" in text and f"{st.funnel_alarm:.1%}控制限" in text
    assert ("随机效应调整后的" in text) == od.overdispersed
    assert f"本校位于**{r['funnel_zone']}**" in text and r["funnel_zone"].startswith("低于")
    with pytest.raises(ValueError, match="one university"):
        P.funnel_position_text(t, od, POLICY)


def test_by_level_discipline_category_university_mode():
    lv = P.by_level(_current(), POLICY, "10386")
    assert list(lv["university_code"]) == ["10386", P.ALL]
    assert lv["graduates"].tolist() == [300, 640]
    d = P.by_discipline(_current(), POLICY)
    assert set(d["discipline_name"]) == {"工学", "文学"}
    assert d["graduates"].sum() == 640
    u = P.by_category(_current(), "urban_rural", POLICY, "10384")
    assert u[u["university_code"] == "10384"]["urban_rural"].tolist() == ["农村"]
    dep = P.by_department(_current(), POLICY, "10386")
    assert dep["department"].tolist()[-1] == "全校合计"
    assert dep["graduates"].iloc[-1] == dep["graduates"].iloc[:-1].sum() == 300
    with pytest.raises(ValueError, match="10999"):
        P.by_level(_current(), POLICY, "10999")


def test_by_group_rates_gaps_targets_and_disclosure():
    cur = frame(
        _current(),
        block("10384", 30, 20, groups=("低保家庭",)),  # 20/30 vs the school's rate
        block("10384", 3, 3, groups=("零就业家庭",)),  # tiny group: hidden
    )
    raw = P.by_group(cur, POLICY, UNIS, protect=False)
    r = raw.set_index(["university_code", "group"])
    assert r.loc[("10386", "脱贫家庭"), "graduates"] == 100
    assert r.loc[("10386", "脱贫家庭"), "university_rate"] == pytest.approx(230 / 300)
    assert r.loc[("10386", "脱贫家庭"), "gap"] == pytest.approx(0.8 - 230 / 300)
    assert bool(r.loc[("10386", "脱贫家庭"), "target_met"]) is True  # 80% > 76.7%
    assert r.loc[("10384", "低保家庭"), "university_rate"] == pytest.approx(263 / 333)
    assert bool(r.loc[("10384", "低保家庭"), "target_met"]) is False
    assert bool(r.loc[("10384", "零就业家庭"), "target_met"]) is True  # all placed
    # every group has an ALL row; a university without members of a group has no row
    groups = set(raw["group"])
    assert set(raw.loc[raw["university_code"] == P.ALL, "group"]) == groups
    assert ("19999", "脱贫家庭") not in r.index
    assert r.loc[(P.ALL, "脱贫家庭"), "graduates"] == 100
    # protected: the 3-graduate cell is hidden (empty, never 0) with a reason
    prot = P.by_group(cur, POLICY, UNIS).set_index(["university_code", "group"])
    cell = prot.loc[("10384", "零就业家庭")]
    assert pd.isna(cell["placement_rate"]) and pd.isna(cell["placed"])
    assert pd.isna(cell["target_met"]) and pd.isna(cell["gap"])
    assert cell["suppressed"]
    assert prot.loc[("10386", "脱贫家庭"), "placement_rate"] == pytest.approx(0.8)
    # university mode: its rows and the ALL rows only
    uni = P.by_group(cur, POLICY, UNIS, "10386")
    assert set(uni["university_code"]) == {"10386", P.ALL}


def test_by_major_evidence_and_new_codes_flow_through():
    m = P.by_major(_current(), POLICY).set_index(["university_code", "major_code"])
    new = m.loc[("19999", "080999T")]
    assert new["major_name"] == "新设试点专业" and new["discipline_name"] == "工学"
    assert new["graduates"] == 40 and new["placed"] == 12
    assert new["evidence_level"] == "below_confident"  # 30%, upper CI < 50%
    assert new["evidence_label"] == EVIDENCE_LABELS["below_confident"]
    assert m.loc[("10386", "080901"), "evidence_level"] == "not_below"
    assert m["graduates"].sum() == 640
    small = P.by_major(frame(block("10386", 5, 1)), POLICY)
    assert small["evidence_level"].iloc[0] == "insufficient"
    counts = P.evidence_counts(m.reset_index())
    assert counts["count"].sum() == len(m)
    assert counts.set_index("evidence_level").loc["below_confident", "count"] == 1


def test_destination_mix_both_rules():
    mix = P.destination_mix(_current(), UNIS)
    for (_code, rule), part in mix.groupby(["university_code", "rule"]):
        assert part["share"].sum() == pytest.approx(1.0)
        buckets = BUCKETS_2024 if rule == P.RULE_LABELS["2024"] else BUCKETS_2021
        assert part["bucket"].tolist() == list(buckets)
    m = mix.set_index(["university_code", "rule", "bucket"])
    r24, r21 = P.RULE_LABELS["2024"], P.RULE_LABELS["2021"]
    # 10386: codes 12, 76, 75, 10 cycled over 150 placed, + 80 placed with code 10
    assert m.loc[("10386", r24, "自由职业"), "count"] == 38  # i % 4 == 1 of 150
    assert m.loc[("10386", r24, "自主创业"), "count"] == 37  # i % 4 == 2 of 150
    assert m.loc[("10386", r21, "灵活就业"), "count"] == 38 + 38  # 12 and 76
    assert m.loc[("10386", r24, "未登记"), "count"] == 5
    assert m.loc[(P.ALL, r24, "单位就业"), "graduates"] == 640
    uni = P.destination_mix(_current(), UNIS, "10386")
    assert set(uni["university_code"]) == {"10386", P.ALL}


def _many_universities(flex_outlier: float) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    parts = []
    for i in range(20):
        n = int(rng.integers(300, 900))
        share = 0.06 + rng.normal(0, 0.01)
        flex = int(n * (flex_outlier if i == 0 else share))
        parts.append(block(f"1{i:04d}", n, flex, codes_placed=("12",)))
        parts.append(block(f"1{i:04d}", n, int(n * 0.7), codes_placed=("10",)))
    return frame(*parts)


def test_share_signal_flags_only_the_unusual_university():
    cur = _many_universities(0.30)
    s = P.share_signals(cur, POLICY)
    flex = s[s["signal"] == P.SIGNALS["flexible"][0]].set_index("university_code")
    assert flex.loc["10000", "flag_level"] == "预警"
    assert (flex.drop(index="10000")["flag_level"] == "").all()
    assert flex["provincial_share"].nunique() == 1


def test_jump_signal_uses_last_two_snapshots_before_initial_date():
    def snap(day, placed_by_uni):
        return frame(*[block(code, 400, p, snapshot=day) for code, p in placed_by_uni.items()])

    codes = [f"1{i:04d}" for i in range(15)]
    early = snap("2023-08-15", dict.fromkeys(codes, 240))
    late = {c: 240 + 40 + (i % 3) * 5 for i, c in enumerate(codes)}
    late["10007"] = 390  # 150 of 160 not placed are placed in 2 weeks
    after = snap("2023-09-30", dict.fromkeys(codes, 400))  # after 08-31: not used
    counts = P.snapshot_counts(pd.concat([early, snap("2023-08-31", late), after]))
    assert P.jump_snapshots(counts, POLICY, dt.date(2023, 12, 31)) == (
        pd.Timestamp("2023-08-15"),
        pd.Timestamp("2023-08-31"),
    )
    j = P.jump_signals(counts, POLICY, dt.date(2023, 12, 31)).set_index("university_code")
    assert j.loc["10007", "newly_placed"] == 150 and j.loc["10007", "not_placed_before"] == 160
    assert j.loc["10007", "rate_jump"] == pytest.approx(150 / 400)
    assert j.loc["10007", "flag_level"] == "预警"
    assert (j.drop(index="10007")["flag_level"] == "").all()
    # fewer than two snapshots before the date: no jump rows
    assert P.jump_signals(counts, POLICY, dt.date(2023, 8, 20)).empty


def test_warning_signals_table_and_university_mode():
    counts = P.snapshot_counts(_history())
    w = P.warning_signals(_current(), counts, POLICY, dt.date(2023, 8, 31), UNIS)
    assert set(w["signal"]) == {*(v[0] for v in P.SIGNALS.values()), P.JUMP_SIGNAL}
    assert (w["flagged"] == (w["flag_level"] != "")).all()
    one = P.warning_signals(_current(), counts, POLICY, dt.date(2023, 8, 31), UNIS, "10386")
    assert set(one["university_code"]) == {"10386"} and len(one) == 4


def test_progress_same_month_day_previous_cohort():
    hist = pd.concat(
        [
            _history(),
            frame(
                block("10386", 280, 150, snapshot="2022-07-31", cohort=2022),
                block("10384", 280, 150, snapshot="2022-07-31", cohort=2022),
            ),
        ]
    )
    counts = P.snapshot_counts(hist)
    p = P.progress(counts, POLICY)
    assert set(p["university_code"]) == {P.ALL}
    row = p[(p["cohort"] == 2023) & (p["month_day"] == "07-31")].iloc[0]
    assert row["previous_cohort_rate"] == pytest.approx(300 / 560)
    assert row["cohort_change"] == pytest.approx(410 / 640 - 300 / 560)
    assert p[p["cohort"] == 2022]["previous_cohort_rate"].isna().all()
    u = P.progress(counts, POLICY, "10386")
    assert list(dict.fromkeys(u["university_code"])) == ["10386", P.ALL]
    series = P.progress_series(u, {"10386": "福州大学"})
    assert "2023届 福州大学" in set(series["series"]) and "2022届 全省" in set(series["series"])


def test_movers_sorted_with_province_last():
    counts = P.snapshot_counts(_history())
    mv = P.movers(counts, POLICY, UNIS)
    assert mv["university_code"].tolist() == ["10384", "10386", "19999", P.ALL]
    top = mv.iloc[0]
    assert top["rate_change"] == pytest.approx(40 / 300) and top["newly_placed"] == 40
    assert mv.iloc[-1]["rate_change"] == pytest.approx(72 / 640)
    uni = P.movers(counts, POLICY, UNIS, "10386")
    assert uni["university_code"].tolist() == ["10386", P.ALL]
    assert P.movers(P.snapshot_counts(_current()), POLICY, UNIS).empty


def test_university_checks_and_names():
    assert P.check_university(_current(), None) is None
    assert P.check_university(_current(), " 10386 ") == "10386"
    with pytest.raises(ValueError, match="5-digit"):
        P.check_university(_current(), "福州大学")
    with pytest.raises(ValueError, match="10999"):
        P.check_university(_current(), "10999")
    assert P.university_name(UNIS, "10386") == "福州大学"
    assert P.university_name(UNIS, "18888") == "18888"
    assert P.current_cohort(_current()) == 2023
    assert P.label_dates(pd.Timestamp("2023-08-31")) == "2023年8月31日"


def test_side_by_side_and_labels():
    d = P.by_category(_current(), "gender", POLICY, "10384")
    rows = P.side_by_side(d, ["gender"], "10384")
    assert rows["university_code"].tolist() == ["10384", P.ALL]
    labels = P.scoped_labels(rows, ["gender"], {"10384": "厦门大学"})
    assert labels.tolist() == [f"厦门大学·{P.NOT_RECORDED}", f"全省·{P.NOT_RECORDED}"]


def test_memo_only_for_sourced_frames_and_never_for_subsets_or_edits():
    P.clear_memo()
    cur = _current()
    P.by_university(cur, UNIS, POLICY)
    assert not P.MEMO  # no source: always computed afresh
    cur.attrs[P.SOURCE_ATTR] = ("graduates.parquet", 1, 2)
    first, _ = P.by_university(cur, UNIS, POLICY)
    assert len(P.MEMO) == 1
    again, _ = P.by_university(cur, UNIS, POLICY)
    pd.testing.assert_frame_equal(first, again)
    again.loc[0, "graduates"] = -1  # callers get copies
    pd.testing.assert_frame_equal(first, P.by_university(cur, UNIS, POLICY)[0])
    sub = cur[cur["university_code"] != "19999"]  # attrs travel with the subset ...
    assert sub.attrs[P.SOURCE_ATTR] == cur.attrs[P.SOURCE_ATTR]
    assert set(P.by_university(sub, UNIS, POLICY)[0]["university_code"]) == {"10386", "10384"}
    edited = cur.copy()  # ... and with an edited copy
    edited.loc[edited.index[0], "placed"] = not edited["placed"].iloc[0]
    t = P.by_university(edited, UNIS, POLICY)[0].set_index("university_code")
    assert t.loc["10386", "placed"] != first.set_index("university_code").loc["10386", "placed"]
    # the same source with a different reference table is a different entry
    other = UNIS.assign(baseline_rate=0.5)
    assert (P.by_university(cur, other, POLICY)[0]["baseline_rate"] == 0.5).all()
    counts_a = P.snapshot_counts(_history())
    hist = _history()
    hist.attrs[P.SOURCE_ATTR] = ("history",)
    pd.testing.assert_frame_equal(P.snapshot_counts(hist), counts_a)
    pd.testing.assert_frame_equal(P.snapshot_counts(hist), counts_a)
    P.clear_memo()
    assert not P.MEMO


def test_snapshot_counts_equal_plain_groupby():
    hist = _history()
    d = hist[hist["in_denominator"]]
    exp = (
        d.groupby(["cohort", "snapshot_date", "university_code"])
        .agg(
            graduates=("placed", "size"),
            placed=("placed", "sum"),
            known=("destination_known", "sum"),
        )
        .reset_index()
    )
    got = P.snapshot_counts(hist)
    assert len(got) == len(exp)
    for col in ("graduates", "placed", "known"):
        assert got[col].tolist() == exp[col].astype("int64").tolist()
    assert got["university_code"].tolist() == exp["university_code"].tolist()
    assert (got["snapshot_date"].to_numpy() == exp["snapshot_date"].to_numpy()).all()


def test_willing_to_work_target_once_policy_names_the_groups():
    cur = frame(
        block("10386", 100, 80),
        block("10386", 12, 10, groups=("残疾",)),  # 2 not placed ...
    )
    cur.loc[cur.index[-2:], "willing_to_work"] = False  # ... and both unwilling to work
    none = POLICY.assistance.model_copy(update={"willing_all_placed_groups": ()})
    plain = P.by_group(cur, POLICY.model_copy(update={"assistance": none}), protect=False)
    plain = plain.set_index(["university_code", "group"])
    assert pd.isna(plain.loc[("10386", "残疾"), "target"])  # policy names no group: no target
    assistance = POLICY.assistance.model_copy(update={"willing_all_placed_groups": ("残疾",)})
    policy = POLICY.model_copy(update={"assistance": assistance})
    t = P.by_group(cur, policy, protect=False).set_index(["university_code", "group"])
    assert t.loc[("10386", "残疾"), "target"] == "有就业意愿的全部落实"
    assert bool(t.loc[("10386", "残疾"), "target_met"]) is True
    cur.loc[cur.index[-1], "willing_to_work"] = pd.NA  # unknown counts as willing
    t = P.by_group(cur, policy, protect=False).set_index(["university_code", "group"])
    assert bool(t.loc[("10386", "残疾"), "target_met"]) is False
