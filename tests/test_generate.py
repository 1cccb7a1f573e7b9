"""Synthetic data generator: determinism, structure, ground truth, snapshots, identifiers, mess."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.config import load_policy
from helpers.datasets import INPUT_DATASETS
from helpers.generate import generate, people

SEED = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "data"
    generate("demo", out, SEED)
    return out


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read_any(path: Path) -> dict[str, list[list]]:
    """Every sheet of a raw file as rows of cells (CSV decoded strictly)."""
    if path.suffix == ".csv":
        data = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        return {"": list(csv.reader(io.StringIO(text)))}
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="calamine", dtype=object)
    return {
        k: v.astype(object).where(v.notna(), None).to_numpy().tolist() for k, v in sheets.items()
    }


def test_same_seed_same_bytes(demo, tmp_path):
    again = tmp_path / "again"
    generate("demo", again, SEED)
    first, second = _hashes(demo), _hashes(again)
    assert first.keys() == second.keys()
    assert first == second


def test_xlsx_zip_entries_have_fixed_times(demo):
    path = next((demo / "raw" / "2023-08-31").glob("毕业去向_*.xlsx"))
    with zipfile.ZipFile(path) as z:
        assert {zi.date_time for zi in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_other_seed_other_data_and_clean_generation(demo, tmp_path):
    other = tmp_path / "other"
    generate("demo", other, SEED + 1, mess_rate=0)
    a = pd.read_csv(demo / "ground_truth" / "major_points.csv", dtype=str)
    b = pd.read_csv(other / "ground_truth" / "major_points.csv", dtype=str)
    assert not a.equals(b)
    m = pd.read_csv(other / "ground_truth" / "mess.csv", dtype=str)
    assert m.empty
    files = [p for p in (other / "raw").rglob("*") if p.is_file() and p.parent.name != "reference"]
    assert all(p.suffix == ".xlsx" for p in files)


def test_demo_structure(demo):
    policy = load_policy()
    cohort = policy.notice.cohort
    raw = demo / "raw"
    folders = sorted(p.name for p in raw.iterdir() if p.is_dir() and p.name != "reference")
    month_ends = ["02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "12-31"]
    expected = {f"{cohort}-{md}" for md in month_ends} | {f"{cohort - 1}-{md}" for md in month_ends}
    expected |= {f"{c}-{md}" for c in (cohort - 3, cohort - 2) for md in ("08-31", "12-31")}
    assert set(folders) == expected
    prefixes = {d.name: d.prefixes for d in INPUT_DATASETS}
    for folder in folders:
        names = [p.name for p in (raw / folder).rglob("*") if p.is_file()]
        has = {ds for ds, pre in prefixes.items() if any(n.startswith(pre) for n in names)}
        if folder.startswith(str(cohort)) and folder <= f"{cohort}-08-31":
            assert has == set(prefixes), (folder, has)
        else:
            assert "graduates" in has
    uni = pd.read_csv(
        raw / "reference" / "universities.csv",
        dtype=str,
        encoding="utf-8-sig",
        keep_default_na=False,
    )
    assert list(uni.columns) == [
        "学校标识码",
        "院校代码",
        "院校名称",
        "办学层次",
        "办学性质",
        "所在地",
        "上年初次毕业去向落实率",
    ]
    assert len(uni) == 10 and "10386" in set(uni["院校代码"])
    assert (uni["学校标识码"] == "41350" + uni["院校代码"]).all()
    assert set(uni["办学层次"]) == {"本科", "专科"} and set(uni["办学性质"]) == {
        "公办",
        "民办",
        "中外合作",
    }
    rates = uni["上年初次毕业去向落实率"]
    assert rates.str.endswith("%").any() and rates.str.match(r"^0\.\d+$").any()
    register = pd.read_csv(raw / "reference" / "报送情况.csv", dtype=str, encoding="utf-8-sig")
    assert list(register.columns) == ["院校代码", "报送事项", "报送日期"]
    assert not (raw / "reference" / "adjustment_plans.csv").exists()  # now one 报送情况 register
    for name in (
        "major_points",
        "universities",
        "mess",
        "signals",
        "activity",
        "snapshots",
        "files",
        "submissions",
    ):
        assert (demo / "ground_truth" / f"{name}.csv").exists()


def test_demo_size_and_levels(demo):
    snaps = pd.read_csv(demo / "ground_truth" / "snapshots.csv", dtype={"university_code": str})
    cur = snaps[snaps["snapshot_date"] == "2023-08-31"]
    assert 2000 <= cur["graduates"].sum() <= 6000
    truth = pd.read_csv(demo / "ground_truth" / "major_points.csv", dtype={"major_code": str})
    assert set(truth["education_level"]) == {"专科", "本科", "硕士", "博士"}
    zk = {"11502", "12626", "12708", "13978", "16411"}
    assert set(truth.loc[truth["university_code"].astype(str).isin(zk), "education_level"]) == {
        "专科"
    }
    codes = truth["major_code"]
    assert codes.str.fullmatch(r"\d{6}(T|K|TK)?").all()
    assert codes.str.startswith("0").any() and codes.str.contains("[TK]").any()


def test_ground_truth_consistent(demo):
    policy = load_policy()
    thr, min_n = policy.majors.threshold, policy.majors.min_graduates
    t = pd.read_csv(demo / "ground_truth" / "major_points.csv", dtype={"major_code": str})
    assert (t["truly_below"] == (t["true_rate_initial"] < thr)).all()
    cur = t[t["cohort"] == policy.notice.cohort]
    below = cur[cur["designation"] == "below"]
    assert len(below) >= 5 and below["truly_below"].all()
    assert below["true_rate_initial"].between(thr - 0.2, thr).all()
    assert (below["n_graduates"] >= min_n).all()
    assert "10386" in set(below["university_code"].astype(str))
    decoys = cur[cur["designation"] == "decoy"]
    assert len(decoys) >= 4 and not decoys["truly_below"].any()
    assert decoys["true_rate_initial"].between(thr, thr + 0.11).all()
    assert cur["below_two_cohorts"].sum() >= 2
    # natural points stay clear of the threshold zone: the designated ones are the whole story
    natural = cur[cur["designation"] == "natural"]
    assert (natural["true_rate_initial"] > thr).all()
    # realised counts never exceed the cohort size
    assert (t["realised_initial"] <= t["realised_year_end"]).all()
    assert (t["realised_year_end"] <= t["n_graduates"]).all()


def test_year_progress_and_provincial_average(demo):
    policy = load_policy()
    s = pd.read_csv(demo / "ground_truth" / "snapshots.csv")
    tot = s.groupby(["cohort", "snapshot_date"])[["graduates", "placed", "recorded", "rows"]].sum()
    for cohort, part in tot.groupby(level=0):
        rate = (part["placed"] / part["graduates"]).to_numpy()
        assert (np.diff(rate) >= -0.01).all(), cohort
        assert (part["recorded"] <= part["rows"]).all()
    prev = tot.loc[(policy.notice.cohort - 1, f"{policy.notice.cohort - 1}-08-31")]
    assert abs(prev["placed"] / prev["graduates"] - policy.placement.provincial_average) < 0.08


def _tiny_population():
    """A small population built by the model directly (no files)."""
    from helpers.generate import cohorts
    from helpers.generate.employers import employer_pool
    from helpers.generate.universities import fujian_universities

    policy = load_policy()
    rng = np.random.default_rng(3)
    unis = fujian_universities().set_index("university_code").loc[["10386", "11502"]].reset_index()
    scale = cohorts.Scale(2000, 60, 120, 0.1, 0.1, 2, 2, 8)
    u = cohorts.plan_universities(unis, scale, rng)
    pts = cohorts.designate(cohorts.plan_points(u, scale, rng), scale, policy, rng)
    c = policy.notice.cohort
    rates = cohorts.point_rates(pts, u, [c - 3, c - 2, c - 1, c], policy, rng)
    g, truth = cohorts.graduates(
        pts,
        rates,
        u,
        employer_pool(rng, 300),
        policy,
        rng,
        flexible_unis=set(),
        jump_unis={"11502"},
    )
    return policy, g, truth


def test_snapshots_only_move_forward():
    from helpers.generate.cohorts import state_at

    policy, g, _ = _tiny_population()
    c = policy.notice.cohort
    g = g[g["cohort"] == c]
    dates = [
        np.datetime64(f"{c}-{md}") for md in ("02-28", "04-30", "06-30", "07-31", "08-31", "12-31")
    ]
    states = [state_at(g, d)[0] for d in dates]
    broken = g["break_date"].notna().to_numpy()

    def placed(code):
        return np.array([isinstance(x, str) and x[:2] not in ("70", "71", "72") for x in code])

    for before, after in itertools.pairwise(states):
        lost = placed(before) & ~placed(after)
        assert not (lost & ~broken).any()  # only broken contracts go back to 70
        forgotten = np.array(
            [isinstance(b, str) and a is None for b, a in zip(before, after, strict=True)]
        )
        assert not forgotten.any()  # a recorded destination never disappears
    initial = policy.date(policy.placement.initial_snapshot, c)
    at_initial = placed(state_at(g, np.datetime64(initial))[0])
    assert (at_initial == g["placed_initial"].to_numpy()).all()


def test_late_august_jump_is_visible():
    from helpers.generate.cohorts import state_at

    policy, g, _ = _tiny_population()
    c = policy.notice.cohort
    g = g[(g["cohort"] == c) & (g["university_code"] == "11502")]
    assert g["late_jump"].sum() > 0
    july, aug = (state_at(g, np.datetime64(f"{c}-{md}"))[0] for md in ("07-31", "08-31"))
    moved = np.array(
        [
            isinstance(a, str) and a in ("12", "76") and (b is None or b[:2] == "70")
            for b, a in zip(july, aug, strict=True)
        ]
    )
    assert moved.sum() >= g["late_jump"].sum() * 0.9


def test_group_penalty_keeps_point_mean():
    _, g, _truth = _tiny_population()
    grads = g[g["is_graduate"]]
    in_group = grads["groups"] > 0
    assert grads.loc[in_group, "p_initial"].mean() < grads.loc[~in_group, "p_initial"].mean()
    gap_initial = grads.loc[~in_group, "p_initial"].mean() - grads.loc[in_group, "p_initial"].mean()
    gap_year_end = (
        grads.loc[~in_group, "p_year_end"].mean() - grads.loc[in_group, "p_year_end"].mean()
    )
    assert gap_year_end < gap_initial


def test_identifiers_are_valid():
    rng = np.random.default_rng(0)
    n = 2000
    region = rng.choice(people.FUJIAN_COUNTIES, n)
    birth = np.datetime64("2001-01-01") + rng.integers(0, 365, n)
    male = rng.random(n) < 0.5
    ids = people.id_numbers(rng, region, birth, male)
    assert people.id_is_valid(ids).all()
    assert all(i.startswith("35") for i in ids)
    assert ((np.array([int(i[16]) for i in ids]) % 2 == 1) == male).all()
    assert not people.id_is_valid(["35010220010101123", "3.50102200101E+17"]).any()
    bad = ids[0][:17] + ("0" if ids[0][17] != "0" else "1")
    assert not people.id_is_valid([bad]).any()
    phones = people.phone_numbers(rng, n)
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    codes = people.credit_codes(rng, np.full(50, "350100"), np.full(50, "91"))
    assert people.credit_code_is_valid(codes).all()
    names = people.chinese_names(rng, 100)
    assert all(2 <= len(x) <= 3 for x in names)


def test_raw_personal_fields_look_real(demo):
    path = demo / "raw" / "2023-06-30"
    f = next(p for p in sorted(path.glob("毕业去向_*.xlsx")))
    rows = next(iter(_read_any(f).values()))
    head_i = next(i for i, r in enumerate(rows) if r and "学号" in [str(c).strip() for c in r if c])
    header = [str(c).strip() if c else "" for c in rows[head_i]]
    body = [r for r in rows[head_i + 1 :] if r and r[0] not in (None, "合计")]
    ids = [r[header.index("身份证号")] for r in body]
    ok = [i for i in ids if isinstance(i, str) and re.fullmatch(r"\d{17}[\dX]", i)]
    assert len(ok) >= 0.95 * len(ids)
    assert people.id_is_valid(ok).all()
    phones = [r[header.index("手机号码")] for r in body]
    assert all(re.fullmatch(r"1[3-9]\d{9}", str(p)) for p in phones)


def test_every_contract_mess_form_in_demo(demo):
    m = pd.read_csv(demo / "ground_truth" / "mess.csv", dtype=str, keep_default_na=False)
    initial = m[m["file"].str.startswith("2023-08-31")]
    kinds = set(initial["kind"])
    required = {
        "title_row",
        "blank_rows",
        "blank_column",
        "footer_total",
        "footer_filler",
        "header_en",
        "header_fullwidth",
        "header_spaces",
        "header_linebreak",
        "header_national",
        "major_code_lost_zero",
        "major_code_as_number",
        "university_id_float",
        "university_id",
        "university_name",
        "fullwidth_digits",
        "fullwidth_parens",
        "name_spaces",
        "date_serial",
        "date_slash",
        "date_dot",
        "date_compact",
        "date_chinese",
        "id_scientific",
        "duplicate_identical",
        "duplicate_conflicting",
        "unknown_university",
        "unknown_destination",
        "empty_required",
        "unreadable_file",
        "encoding_gbk",
        "encoding_utf8_bom",
        "format_xls",
        "multi_sheet",
        "resent_duplicate",
        "negative_count",
        "non_integer_count",
        "numerator_above_denominator",
        "bad_date",
    }
    assert required <= kinds, required - kinds
    assert set(m["expected"]) <= {
        "accepted",
        "repaired",
        "merged",
        "quarantined",
        "skipped",
        "file_unreadable",
    }
    # conflicting duplicates are recorded on both rows
    conf = initial[initial["kind"] == "duplicate_conflicting"]
    assert len(conf) % 2 == 0 and len(conf) >= 2


def test_mess_rows_point_at_the_damage(demo):
    raw = demo / "raw"
    m = pd.read_csv(demo / "ground_truth" / "mess.csv", dtype=str, keep_default_na=False)
    m = m[m["file"].str.startswith("2023-08-31") & (m["row"] != "")]
    checks = {
        "title_row": lambda r: any(
            isinstance(v, str) and ("届" in v or "年" in v or "平台" in v) for v in r
        ),
        "footer_total": lambda r: r[0] == "合计",
        "footer_filler": lambda r: str(r[0]).startswith(("填表人", "制表日期")),
        "blank_rows": lambda r: all(v in (None, "") for v in r),
        "id_scientific": lambda r: any(isinstance(v, str) and "E+" in v for v in r),
        "unknown_university": lambda r: any(
            str(v) in ("19386", "4135019386", "福建海峡理工学院") for v in r
        ),
        "unknown_destination": lambda r: any(str(v) in ("55", "65", "99") for v in r),
    }
    seen = 0
    cache = {}
    for _, rec in m[m["kind"].isin(list(checks))].iterrows():
        path = raw / rec["file"]
        if path not in cache:
            cache[path] = _read_any(path)
        rows = cache[path][rec["sheet"]]
        assert checks[rec["kind"]](rows[int(rec["row"]) - 1]), rec.to_dict()
        seen += 1
    assert seen >= 20


def test_unreadable_file_really_is(demo):
    m = pd.read_csv(demo / "ground_truth" / "mess.csv", dtype=str, keep_default_na=False)
    bad = m.loc[m["kind"] == "unreadable_file", "file"].tolist()
    assert len(bad) == 1
    with pytest.raises(Exception):  # noqa: B017 - any reader error will do
        pd.read_excel(demo / "raw" / bad[0], engine="calamine")


def test_xlsx_opens_in_openpyxl(demo):
    import openpyxl

    path = next((demo / "raw" / "2023-08-31").glob("毕业去向_10386_*.xlsx"))
    wb = openpyxl.load_workbook(path, read_only=True)
    assert len(wb.sheetnames) >= 2  # the demo splits 10386 by level and adds an instructions sheet
    rows = list(wb[wb.sheetnames[0]].iter_rows(values_only=True))
    assert any(r and "学号" in [str(c).strip() for c in r if c] for r in rows[:4])


def test_ground_truth_has_no_personal_values(demo):
    gt = demo / "ground_truth"
    text = "\n".join(p.read_text(encoding="utf-8") for p in gt.glob("*.csv"))
    assert not re.search(r"\b\d{17}[\dX]\b", text)  # ID numbers
    assert not re.search(r"\b1[3-9]\d{9}\b", text)  # phone numbers
    m = pd.read_csv(gt / "mess.csv", dtype=str, keep_default_na=False)
    assert list(m.columns) == ["file", "sheet", "row", "column", "kind", "expected"]
    f = next((demo / "raw" / "2023-08-31").glob("毕业去向_10386_*.xlsx"))
    sheet = next(iter(_read_any(f).values()))
    sample = [r for r in sheet if r and isinstance(r[1], str) and len(r[1]) in (2, 3)][5:10]
    for r in sample:
        assert r[1] not in text and str(r[0]) not in text


def test_activity_files_follow_the_cadence(demo):
    policy = load_policy()
    raw = demo / "raw"
    f = next((raw / "2023-08-31").rglob("校园招聘_*"))
    rows = next(iter(_read_any(f).values()))
    head_i = next(
        i
        for i, r in enumerate(rows)
        if r and any(str(c).strip() in ("活动类型", "activity_type") for c in r if c)
    )
    assert head_i <= 2
    sig = pd.read_csv(demo / "ground_truth" / "signals.csv", dtype=str)
    for name in (
        "late_august_jump",
        "high_flexible_share",
        "no_recruitment_latest_window",
        "behind_visit_targets",
        "platform_laggard",
        "weak_assistance",
    ):
        assert name in set(sig["signal"])
    act = pd.read_csv(demo / "ground_truth" / "activity.csv", dtype={"university_code": str})
    behind = act[act["behind_visit_targets"]]
    assert (behind["distinct_employers_year"] < policy.visits.employers_per_year).all()
    assert (
        act.loc[~act["behind_visit_targets"], "distinct_employers_year"]
        >= policy.visits.employers_per_year
    ).all()
    assert (act["compliant_3x3"] <= act["assistance_graduates"]).all()


def test_real_raw_data_is_never_overwritten(tmp_path):
    raw = tmp_path / "raw" / "2023-08-31"
    raw.mkdir(parents=True)
    (raw / "毕业去向_10386_福州大学.xlsx").write_bytes(b"real export")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        generate("demo", tmp_path, 1)
    assert (raw / "毕业去向_10386_福州大学.xlsx").read_bytes() == b"real export"


def test_unknown_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown size"):
        generate("galaxy", tmp_path, 1)
