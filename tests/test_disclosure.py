"""Disclosure control on constructed group tables (helpers.disclosure)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import disclosure as D
from helpers.config import load_policy

POLICY = load_policy(2023)
DISC = POLICY.disclosure


def _policy(**changes):
    return POLICY.model_copy(update={"disclosure": DISC.model_copy(update=changes)})


def _table(rows, with_all=True):
    """rows: (university_code, group, graduates, placed); ALL rows added as the group sums."""
    df = pd.DataFrame(rows, columns=["university_code", "group", "graduates", "placed"])
    if with_all:
        tot = df.groupby("group", as_index=False)[["graduates", "placed"]].sum()
        tot.insert(0, "university_code", "ALL")
        df = pd.concat([df, tot], ignore_index=True)
    df["placement_rate"] = df["placed"] / df["graduates"].where(df["graduates"] > 0)
    return df


def _with_rate(df):
    df = df.copy()
    df["placement_rate"] = df["placed"] / df["graduates"].where(df["graduates"] > 0)
    return df


def _row(out, code, group):
    r = out[(out["university_code"] == code) & (out["group"] == group)]
    assert len(r) == 1
    return r.iloc[0]


def test_policy_has_the_issue_defaults():
    assert DISC.min_group_for_rate == 10
    assert DISC.min_count_shown == 5


def test_small_group_rate_and_counts_hidden_never_zero(tmp_path):
    df = _table([("10386", "残疾", 2, 1), ("10386", "脱贫家庭", 200, 150)], with_all=False)
    out = D.protect_group_table(df, POLICY)
    r = _row(out, "10386", "残疾")
    assert r["graduates"] == 2  # group size stays visible
    assert pd.isna(r["placed"]) and pd.isna(r["not_placed"]) and np.isnan(r["placement_rate"])
    assert "不足10人" in r["suppressed"]
    assert r["placement_rate_display"] == D.HIDDEN and r["not_placed_display"] == D.HIDDEN
    ok = _row(out, "10386", "脱贫家庭")
    assert ok["placed"] == 150 and ok["not_placed"] == 50 and ok["suppressed"] == ""
    assert ok["placement_rate"] == pytest.approx(0.75)
    assert ok["placement_rate_display"] == "75.0%"
    # written as CSV, a hidden value is an empty cell, never 0
    path = tmp_path / "t.csv"
    out.to_csv(path, index=False, encoding="utf-8-sig")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    hidden = back[back["group"] == "残疾"].iloc[0]
    assert hidden["placed"] == "" and hidden["placement_rate"] == "" and hidden["not_placed"] == ""
    assert "0" not in {hidden["placed"], hidden["not_placed"], hidden["placement_rate"]}


def test_one_of_two_disabled_not_placed_is_not_disclosed():
    """The issue's example: "1 of 2 disabled graduates not placed" must not appear."""
    df = _table([("10386", "残疾", 2, 1), ("10394", "残疾", 30, 12), ("10395", "残疾", 40, 20)])
    out = D.protect_group_table(df, POLICY, table="placement_by_group")
    visible = out[out["placed"].notna()]
    # no visible combination lets the reader get 10386's placed count back
    assert not ((visible["university_code"] == "10386").any())
    comps = out[out["university_code"] != "ALL"]
    assert comps["placed"].isna().sum() >= 2


def test_unplaced_below_five_shown_as_lt5_with_rate_bound():
    df = _table([("10386", "脱贫家庭", 290, 288)], with_all=False)
    r = _row(D.protect_group_table(df, POLICY), "10386", "脱贫家庭")
    assert r["not_placed_display"] == "<5"
    assert pd.isna(r["not_placed"]) and pd.isna(r["placed"]) and np.isnan(r["placement_rate"])
    # bound depends on n only: 1 - 4/290 = 0.98620... -> floored to 98.6%
    assert r["placement_rate_display"] == ">=98.6%"
    assert "<5" in r["suppressed"]


def test_zero_unplaced_is_also_lt5():
    df = _table([("10386", "零就业家庭", 150, 150)], with_all=False)
    r = _row(D.protect_group_table(df, POLICY), "10386", "零就业家庭")
    assert r["not_placed_display"] == "<5" and pd.isna(r["not_placed"])


def test_top_and_bottom_coding_for_small_groups():
    df = _table(
        [
            ("10386", "残疾", 40, 39),  # 97.5% -> >=95%
            ("10386", "低保家庭", 40, 2),  # 5% -> <=5%
            ("10386", "脱贫家庭", 40, 20),  # 50%: exact
            ("10394", "残疾", 150, 146),  # large group, 4 unplaced: "<5" rule, not top coded
        ],
        with_all=False,
    )
    out = D.protect_group_table(df, POLICY)
    top = _row(out, "10386", "残疾")
    assert top["placement_rate_display"] == ">=95%" and np.isnan(top["placement_rate"])
    assert top["not_placed_display"] == "<5" and pd.isna(top["placed"])
    assert "顶端" not in top["suppressed"] and ">=95%" in top["suppressed"]
    bottom = _row(out, "10386", "低保家庭")
    assert bottom["placement_rate_display"] == "<=5%" and np.isnan(bottom["placement_rate"])
    assert pd.isna(bottom["placed"]) and pd.isna(bottom["not_placed"])
    assert bottom["not_placed_display"] == D.HIDDEN
    big = _row(out, "10394", "残疾")
    assert big["placement_rate_display"] == ">=97.3%"  # 1 - 4/150 = 0.97333
    exact = _row(out, "10386", "脱贫家庭")
    assert exact["placement_rate"] == pytest.approx(0.5) and exact["suppressed"] == ""


def test_top_coding_threshold_comes_from_policy():
    df = _table([("10386", "残疾", 150, 146)], with_all=False)
    out = D.protect_group_table(df, _policy(top_bottom_code_below=300, top_code=0.9))
    assert _row(out, "10386", "残疾")["placement_rate_display"] == ">=90%"
    out = D.protect_group_table(df, _policy(min_count_shown=3))
    assert _row(out, "10386", "残疾")["placed"] == 146  # 4 unplaced >= 3: shown


def test_total_would_reveal_hidden_cell_complement_chosen():
    """Province total minus the shown universities would give the hidden cell back."""
    df = _table(
        [
            ("10386", "残疾", 6, 3),  # primary: small group
            ("10394", "残疾", 80, 60),
            ("10395", "残疾", 25, 15),  # smallest other: complement
            ("10397", "残疾", 50, 30),
        ]
    )
    out = D.protect_group_table(df, POLICY, table="placement_by_group")
    assert pd.isna(_row(out, "10386", "残疾")["placed"])
    comp = _row(out, "10395", "残疾")
    assert pd.isna(comp["placed"]) and np.isnan(comp["placement_rate"])
    assert "合计" in comp["suppressed"] and comp["placement_rate_display"] == D.HIDDEN
    assert _row(out, "10394", "残疾")["placed"] == 60
    assert _row(out, "10397", "残疾")["placed"] == 30
    total = _row(out, "ALL", "残疾")
    assert total["placed"] == 108
    # the attack: total - visible components no longer equals any single hidden cell
    comps = out[out["university_code"] != "ALL"]
    assert comps["placed"].isna().sum() == 2


def test_total_with_a_single_component_is_hidden_too():
    df = _table([("10386", "零就业家庭", 4, 2), ("10394", "零就业家庭", 0, 0)])
    out = D.protect_group_table(df, POLICY)
    total = _row(out, "ALL", "零就业家庭")
    assert pd.isna(total["placed"])  # primary (4 < 10), so also hidden
    # a total that passes the primary rules but equals the one hidden cell
    df = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "ALL"],
            "group": ["残疾"] * 3,
            "graduates": [6, 0, 6],
            "placed": [3, 0, 3],
        }
    )
    out = D.protect_group_table(_with_rate(df), _policy(min_group_for_rate=5), table="t")
    # 6 >= 5, 3 unplaced < 5 -> coded; the total is the same cell: coded as well
    assert pd.isna(_row(out, "ALL", "残疾")["placed"])
    df2 = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "ALL"],
            "group": ["残疾"] * 3,
            "graduates": [5, 0, 12],  # ALL counts a university missing from the table
            "placed": [1, 0, 6],
        }
    )
    out2 = D.protect_group_table(_with_rate(df2), POLICY)
    assert pd.isna(_row(out2, "ALL", "残疾")["placed"])
    assert "合计只含一个" in _row(out2, "ALL", "残疾")["suppressed"]


def test_two_category_rule():
    df = pd.DataFrame(
        {
            "university_code": ["10386", "10386", "10394", "10394", "10395", "10395"],
            "group": ["男", "女"] * 3,
            "graduates": [300, 8, 120, 130, 200, 150],
            "placed": [240, 5, 90, 100, 150, 120],
        }
    )
    df = _with_rate(df)
    out = D.protect_group_table(df, POLICY, partitions=[("男", "女")])
    # 女 at 10386 is small: 男 must go too, otherwise university total - 男 = 女
    men = _row(out, "10386", "男")
    assert pd.isna(men["placed"]) and "两类" in men["suppressed"]
    # the 女 line needs a second hidden cell (smallest: 10394), whose 男 then goes too
    assert "合计" in _row(out, "10394", "女")["suppressed"]
    assert "两类" in _row(out, "10394", "男")["suppressed"]
    assert _row(out, "10395", "女")["placed"] == 120  # untouched unit
    assert _row(out, "10395", "男")["placed"] == 150
    # without the partition only the 女 line is protected
    out = D.protect_group_table(df, POLICY)
    assert _row(out, "10386", "男")["placed"] == 240


def test_complementary_rules_interact_until_stable():
    """A two-category complement creates a single hidden cell in a total line -> another one."""
    df = pd.DataFrame(
        {
            "university_code": ["10386", "10386", "10394", "10394", "10395", "10395"],
            "group": ["困难", "非困难"] * 3,
            "graduates": [7, 500, 60, 400, 70, 300],
            "placed": [3, 400, 40, 300, 50, 200],
        }
    )
    out = D.protect_group_table(_with_rate(df), POLICY, partitions=[("困难", "非困难")])
    hidden = out[out["placed"].isna()][["university_code", "group"]].apply(tuple, axis=1)
    hidden = set(hidden)
    assert ("10386", "困难") in hidden and ("10386", "非困难") in hidden
    # each group line (across universities) and each partition holds 0 or >= 2 hidden cells
    for _, g in out.groupby("group"):
        assert g["placed"].isna().sum() != 1
    for _, g in out.groupby("university_code"):
        assert g["placed"].isna().sum() != 1


def test_empty_group_is_not_applicable_not_suppressed():
    df = _table([("10386", "残疾", 0, 0), ("10386", "脱贫家庭", 50, 30)], with_all=False)
    r = _row(D.protect_group_table(df, POLICY), "10386", "残疾")
    assert r["suppressed"] == "" and r["placement_rate_display"] == D.NOT_APPLICABLE
    assert r["placed"] == 0 and r["graduates"] == 0  # a true zero is a zero


def test_linked_columns_hidden_with_the_rate():
    df = _table([("10386", "残疾", 6, 3), ("10386", "脱贫家庭", 50, 30)], with_all=False)
    df["university_rate"] = 0.8
    df["gap"] = df["placement_rate"] - df["university_rate"]
    out = D.protect_group_table(df, POLICY)
    r = _row(out, "10386", "残疾")
    assert np.isnan(r["gap"]) and r["university_rate"] == 0.8  # university rate stays exact
    assert _row(out, "10386", "脱贫家庭")["gap"] == pytest.approx(-0.2)
    shown = D.for_display(out)
    assert shown.loc[0, "gap"] == D.HIDDEN and shown.loc[1, "gap"] == "-20.0个百分点"
    assert shown.loc[0, "placed"] == D.HIDDEN and shown.loc[1, "placement_rate"] == "60.0%"


def test_other_count_names_and_audit(tmp_path):
    df = pd.DataFrame(
        {
            "university_code": ["10386", "10394", "10395", "ALL"],
            "group": ["残疾"] * 4,
            "graduates": [3, 40, 50, 93],
            "compliant_3x3": [3, 30, 25, 58],
            "compliance_rate": [1.0, 0.75, 0.5, 58 / 93],
        }
    )
    audit: list = []
    D.reset_audit()
    out = D.protect_group_table(
        df,
        POLICY,
        placed_col="compliant_3x3",
        rate_cols=("compliance_rate",),
        table="assistance_compliance",
        audit=audit,
    )
    assert "not_compliant_3x3" in out.columns
    assert pd.isna(_row(out, "10386", "残疾")["compliant_3x3"])
    assert [a["rule"] for a in audit] == ["small_group", "complement_total"]
    assert audit[0]["table"] == "assistance_compliance" and audit[0]["graduates"] == 3
    assert out.attrs["disclosure_audit"] == audit
    frame = D.audit_frame()
    assert len(frame) == 2 and list(frame.columns) == list(D.AUDIT_COLUMNS)
    data_dir = tmp_path / "data"
    part = D.flush_audit(data_dir, dt.date(2023, 8, 31), "followup", university="10386")
    assert (
        part
        == data_dir / "processed" / "2023-08-31" / "disclosure_audit" / "followup-10386.parquet"
    )
    assert D.audit_frame().empty  # flushed
    merged = pd.read_parquet(D.merge_audit(data_dir, dt.date(2023, 8, 31)))
    assert len(merged) == 2 and set(merged["report"]) == {"followup-10386"}
    assert merged["rule"].tolist() == ["small_group", "complement_total"]
    with pytest.raises(ValueError, match="reports"):
        D.flush_audit(tmp_path / "reports", dt.date(2023, 8, 31), "x")


def test_a_layout_object_and_single_fields_protect_alike():
    """``GroupTable`` names the parts; keywords change single fields of it (or of the default),
    and a derived default (the complement column) follows the field it derives from."""
    df = pd.DataFrame(
        {
            "unit": ["a", "b", "c", "ALL"],
            "kind": ["残疾"] * 4,
            "level": ["本科"] * 4,
            "n": [3, 40, 50, 93],
            "ok": [3, 30, 25, 58],
            "ok_rate": [1.0, 0.75, 0.5, 58 / 93],
        }
    )
    layout = D.GroupTable(
        count_col="n", placed_col="ok", rate_cols=["ok_rate"], group_col="kind",
        total_keys=["unit"], by=["level"], table="t",
    )  # fmt: skip
    by_layout = D.protect_group_table(df, POLICY, layout)
    by_fields = D.protect_group_table(
        df, POLICY, count_col="n", placed_col="ok", rate_cols=("ok_rate",), group_col="kind",
        total_keys=("unit",), by=("level",), table="t",
    )  # fmt: skip
    pd.testing.assert_frame_equal(by_layout, by_fields)
    assert "not_ok" in by_layout.columns and layout.complement == "not_ok"
    assert [a["rule"] for a in by_layout.attrs["disclosure_audit"]] == [
        "small_group",
        "complement_total",
    ]
    renamed = D.protect_group_table(df, POLICY, layout, complement_col="rest")
    assert "rest" in renamed.columns and "not_ok" not in renamed.columns
    with pytest.raises(TypeError):
        D.protect_group_table(df, POLICY, layout, placed="ok")  # not a field: refused


def test_bad_input_messages_name_row_and_column():
    df = _table([("10386", "残疾", 5, 6)], with_all=False)
    with pytest.raises(ValueError, match=r"row 0 \(10386 / 残疾\).*placed=6.*graduates=5"):
        D.protect_group_table(df, POLICY)
    df = _table([("10386", "残疾", 5, 1)], with_all=False).drop(columns="placement_rate")
    with pytest.raises(ValueError, match="missing column"):
        D.protect_group_table(df, POLICY)
    df = _table([("10386", "残疾", 5, 1), ("10386", "残疾", 7, 1)], with_all=False)
    with pytest.raises(ValueError, match="duplicate"):
        D.protect_group_table(df, POLICY)
    df = _table([("10386", "残疾", 5, 1)], with_all=False)
    df["graduates"] = df["graduates"].astype(float)
    df.loc[0, "graduates"] = np.nan
    with pytest.raises(ValueError, match=r"'graduates', row 0"):
        D.protect_group_table(df, POLICY)


def test_legend_uses_policy_numbers():
    text = D.legend(_policy(min_count_shown=3))
    assert "“<3”" in text and "不是0" in text


@st.composite
def _tables(draw):
    groups = ["脱贫家庭", "低保家庭", "残疾"]
    units = [f"1{i:04d}" for i in range(draw(st.integers(1, 6)))]
    rows = []
    for u in units:
        for g in groups:
            n = draw(st.integers(0, 160))
            rows.append((u, g, n, draw(st.integers(0, n))))
    return _table(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_property_no_recovery_and_rules_hold(df):
    out = D.protect_group_table(df, POLICY)
    hidden = out["placed"].isna()
    # never 0 for a hidden value, and hidden <=> reason given
    assert (out.loc[hidden, "suppressed"] != "").all()
    assert out.loc[hidden, "placement_rate"].isna().all()
    # every shown rate respects the primary rules
    shown = out[~hidden & (out["graduates"] > 0)]
    assert (shown["graduates"] >= DISC.min_group_for_rate).all()
    assert (shown["graduates"] - shown["placed"] >= DISC.min_count_shown).all()
    small = shown["graduates"] < DISC.top_bottom_code_below
    r = shown.loc[small, "placement_rate"]
    assert ((r > DISC.bottom_code) & (r < DISC.top_code)).all()
    # no line of a total holds exactly one hidden component unless its total is hidden
    comps = out[out["university_code"] != "ALL"]
    totals = out[out["university_code"] == "ALL"].set_index("group")
    for g, line in comps.groupby("group"):
        k = line["placed"].isna().sum()
        assert k != 1 or pd.isna(totals.loc[g, "placed"])
    # the values that are shown are the true values
    merged = out.merge(df, on=["university_code", "group"], suffixes=("", "_true"))
    vis = merged["placed"].notna()
    assert (merged.loc[vis, "placed"] == merged.loc[vis, "placed_true"]).all()


def test_protected_table_goes_through_write_table(tmp_path):
    tables = pytest.importorskip("helpers.tables")
    df = _table([("10386", "残疾", 6, 3), ("10394", "残疾", 40, 20), ("10395", "残疾", 50, 30)])
    df["university_rate"] = 0.8
    df["gap"] = df["placement_rate"] - df["university_rate"]
    out = D.protect_group_table(df, POLICY, table="placement_by_group")
    path = tables.write_table(out, "placement_by_group", tmp_path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    hidden = back[back["suppressed"] != ""]
    assert len(hidden) == 2
    for col in ("placed", "not_placed", "placement_rate", "gap"):
        assert (hidden[col] == "").all(), col
    assert set(hidden["placement_rate_display"]) == {D.HIDDEN}
    for col in ("suppressed", "not_placed", "placement_rate_display", "not_placed_display"):
        assert tables.ZH_HEADERS[col]


def test_show_renders_markers_and_legend():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    df = _table([("10386", "残疾", 6, 3), ("10386", "脱贫家庭", 150, 147)], with_all=False)
    out = D.protect_group_table(df, POLICY)
    with capture_output() as cap:
        D.show(out, POLICY, headers={"placed": "已落实人数", "not_placed": "未落实人数"})
    html = "".join(o.data.get("text/html", "") for o in cap.outputs)
    md = "".join(o.data.get("text/markdown", "") for o in cap.outputs)
    assert "未落实人数" in html and "&lt;5" in html and D.HIDDEN in html
    assert ">=97.3%" in html.replace("&gt;", ">")
    assert "不是0" in md


def test_empty_table_keeps_its_columns():
    df = _table([("10386", "残疾", 5, 1)], with_all=False).iloc[0:0]
    out = D.protect_group_table(df, POLICY)
    assert len(out) == 0
    assert {"suppressed", "not_placed", "placement_rate_display"} <= set(out.columns)


def test_collect_again_records_the_same_decisions_stamped_now(monkeypatch):
    from helpers.disclosure import audit

    D.reset_audit()
    earlier = [
        {"table": "t", "unit": "10386", "rule": "small", "graduates": 3, "value": 1}
        | {"recorded_at": "2020-01-01T00:00:00"}
    ]
    monkeypatch.setattr(audit, "recorded_now", lambda: "2023-08-31T09:00:00")
    audit.collect_again(earlier)
    got = D.audit_frame()
    assert got[["unit", "rule", "recorded_at"]].values.tolist() == [
        ["10386", "small", "2023-08-31T09:00:00"]
    ]
    assert earlier[0]["recorded_at"] == "2020-01-01T00:00:00"  # the caller's records untouched
    D.reset_audit()
