"""报送情况: constructed cases of the status rules, the register at ingest (aliases, quarantine,
the old adjustment-plan file), and the demo register against the generator's truth."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from test_ingest_support import make_data_dir, processed, write_csv

from helpers.config import load_policy
from helpers.followup import submissions as sub
from helpers.ingest.pipeline import ingest

POLICY = load_policy(2023)
UNIS = pd.DataFrame(
    {"university_code": ["10386", "10384", "12631"], "university_name": ["福大", "厦大", "船政"]}
)


def receipts(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["university_code", "item", "received_date"]).assign(
        received_date=lambda d: pd.to_datetime(d["received_date"])
    )


def status(rows, as_of=dt.date(2023, 8, 31), flagged=("10384",)):
    out = sub.submission_status(receipts(rows), UNIS, set(flagged), POLICY, as_of)
    return out.set_index(["university_code", "item"])


def test_deadlines_come_from_the_policy():
    items = {it.item: it for it in POLICY.submissions.items}
    assert items["暖心行动材料"].deadline == "02-25"
    assert items["调整改革实施方案"].deadline == POLICY.majors.adjustment_plan_deadline == "04-01"
    assert items["调整改革实施方案"].applies_to == "flagged_points"


def test_on_the_deadline_day_is_on_time_and_the_day_after_late():
    s = status(
        [
            ("10386", "暖心行动材料", "2023-02-25"),
            ("10384", "暖心行动材料", "2023-02-26"),
            ("10384", "调整改革实施方案", "2023-04-01"),
        ]
    )
    assert s.loc[("10386", "暖心行动材料"), "submission_status"] == "按期报送"
    assert s.loc[("10386", "暖心行动材料"), "days_late"] == 0
    assert s.loc[("10384", "暖心行动材料"), "submission_status"] == "逾期报送"
    assert s.loc[("10384", "暖心行动材料"), "days_late"] == 1
    assert s.loc[("12631", "暖心行动材料"), "submission_status"] == "未报送（已逾期）"
    assert (
        s.loc[("12631", "暖心行动材料"), "days_late"]
        == (dt.date(2023, 8, 31) - dt.date(2023, 2, 25)).days
    )
    assert s.loc[("10384", "调整改革实施方案"), "submission_status"] == "按期报送"
    # only the university on the list owes the adjustment plan
    assert ("10386", "调整改革实施方案") not in s.index
    assert len(s) == 3 * 2 + 1


def test_not_yet_due_earliest_counts_and_window():
    s = status(
        [
            ("10386", "就业工作方案", "2023-03-20"),
            ("10386", "就业工作方案", "2023-03-02"),  # the earlier receipt counts
            ("10384", "就业工作方案", "2022-12-30"),  # last year's plan: not this year's
            ("12631", "就业工作方案", "2023-04-10"),  # after as_of: not known yet
        ],
        as_of=dt.date(2023, 3, 15),
    )
    assert s.loc[("10386", "就业工作方案"), "received_date"] == dt.date(2023, 3, 2)
    assert s.loc[("10386", "就业工作方案"), "submission_status"] == "按期报送"
    assert s.loc[("10384", "就业工作方案"), "submission_status"] == "未报送（未到截止日期）"
    assert s.loc[("12631", "就业工作方案"), "submission_status"] == "未报送（未到截止日期）"
    assert s.loc[("12631", "暖心行动材料"), "submission_status"] == "未报送（已逾期）"


def test_old_adjustment_plan_register_counts_as_the_plan():
    plans = pd.DataFrame(
        {"university_code": ["10384"], "received_date": pd.to_datetime(["2023-04-03"])}
    )
    r = sub.receipts(None, plans)
    s = sub.submission_status(r, UNIS, {"10384"}, POLICY, dt.date(2023, 8, 31))
    row = s.set_index(["university_code", "item"]).loc[("10384", "调整改革实施方案")]
    assert row["submission_status"] == "逾期报送" and row["days_late"] == 2
    assert sub.plan_receipts(r)["university_code"].tolist() == ["10384"]


def test_counts_and_sentence_carry_no_names():
    s = sub.submission_status(
        receipts([("10386", "暖心行动材料", "2023-02-01")]),
        UNIS,
        set(),
        POLICY,
        dt.date(2023, 8, 31),
    )
    c = sub.status_counts(s).set_index("item")
    assert c.loc["暖心行动材料", "submitted_on_time"] == 1
    assert c.loc["暖心行动材料", "not_submitted_overdue"] == 2
    text = sub.summary_sentence(sub.status_counts(s))
    assert "暖心行动材料应报送3所" in text and "福大" not in text


def test_register_at_ingest_aliases_and_quarantine(tmp_path):
    data = make_data_dir(tmp_path)
    write_csv(
        data / "raw" / "reference" / "报送情况.csv",
        [
            ["院校代码", "报送事项", "报送日期"],
            ["10386", "暖心行动", "2023年2月25日"],  # alias of 暖心行动材料
            ["10386", "就业工作方案", "2023/3/1"],
            ["10384", "招聘简章", "2023-03-01"],  # not an item of the notice
            ["10384", "就业工作方案", ""],  # no date
            ["19999", "就业工作方案", "2023-03-01"],  # unknown university
            ["10386", "就业工作方案", "2023/3/1"],  # identical resend: merged
        ],
    )
    ingest(dt.date(2023, 8, 31), data, workers=1)
    got = processed(data, "submissions")
    assert sorted(got["item"]) == ["就业工作方案", "暖心行动材料"]
    q = processed(data, "quarantine")
    q = q[q["source_file"].str.contains("报送情况")].set_index(q["row"].astype(int))["reason_code"]
    assert q.to_dict() == {4: "unknown_category", 5: "empty_required", 6: "unknown_university"}
    r = sub.load_receipts(data, dt.date(2023, 8, 31))
    assert len(r) == 2


def test_demo_register_matches_truth(demo_data_dir):
    as_of = POLICY.date(POLICY.placement.initial_snapshot)
    truth = pd.read_csv(
        demo_data_dir / "ground_truth" / "submissions.csv", dtype={"university_code": str}
    )
    folder = demo_data_dir / "processed" / as_of.isoformat()
    unis = pd.read_parquet(folder / "universities.parquet")
    owed_plan = set(truth.loc[truth["item"] == sub.PLAN_ITEM, "university_code"])
    got = sub.submission_status(
        sub.load_receipts(demo_data_dir, as_of), unis, owed_plan, POLICY, as_of
    )
    merged = got.merge(truth, on=["university_code", "item"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["submission_status"] == merged["status"]).all()
    assert {"按期报送", "逾期报送", "未报送（已逾期）"} <= set(got["submission_status"])
    assert (got["received_date"] == got["deadline"]).any()  # a receipt on the deadline day
    q = pd.read_parquet(folder / "quarantine.parquet")
    assert (
        q["source_file"].str.contains("报送情况") & (q["reason_code"] == "unknown_category")
    ).any()
