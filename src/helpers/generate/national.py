"""National export: about 11.6 million graduates of one cohort across about 2,800 institutions.

Written as Parquet parts (``raw/<initial date>/graduates_national_partNNN.parquet``, Chinese
headers, every column a string as in a CSV export) with numpy-vectorised generation per chunk of
institutions, so that memory stays bounded (well under 6 GB) and the run takes a few minutes.
Same model as the province (level/discipline/university/major effects, designated points below
and just above the threshold), no mess, personal fields limited to 学号.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.config import load_policy
from helpers.generate import cohorts, people
from helpers.generate.majors import department_of, majors_for_level
from helpers.generate.province import reset_dir
from helpers.generate.universities import (
    RESEARCH,
    TIER_EFFECT,
    TIER_SIZE,
    fujian_universities,
    synthetic_institutions,
)
from helpers.generate.writers import Sheet, csv_bytes

TOTAL = 11_600_000  # 2023届: 1158万 (domain.md §4.2)
INSTITUTIONS = 2_800
CHUNK_ROWS = 1_000_000
GROUP_LABELS = ("脱贫家庭", "低保家庭", "零就业家庭", "残疾")


def _rng(seed: int, key: str) -> np.random.Generator:
    import zlib

    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _institutions(seed: int, n_total: int) -> pd.DataFrame:
    fj = fujian_universities()
    other = synthetic_institutions(
        _rng(seed, "institutions"), n_total - len(fj), set(fj["university_code"])
    )
    u = pd.concat([fj, other], ignore_index=True)
    rng = _rng(seed, "national-universities")
    # a few research universities elsewhere too (about 4% of public 本科)
    research = (u["tier"] == "本科公办") & (rng.random(len(u)) < 0.04)
    u.loc[research, "tier"] = "研究型"
    return u


def _points(u: pd.DataFrame, total: int, seed: int, policy) -> pd.DataFrame:
    """专业点 of every institution (sizes sum to ``total``), with true rates (one cohort)."""
    rng = _rng(seed, "national-points")
    size = np.array([TIER_SIZE[t] for t in u["tier"]]) * rng.lognormal(0, 0.35, len(u))
    size = size / size.sum() * total
    effect = np.array([TIER_EFFECT[t] for t in u["tier"]]) + rng.normal(0, 0.3, len(u))
    cats = {lvl: majors_for_level(lvl) for lvl in ("本科", "专科", "硕士", "博士")}
    rows_uni, rows_lvl, rows_major, rows_n = [], [], [], []
    for i, (tier, s) in enumerate(zip(u["tier"].to_numpy(), size, strict=True)):
        if tier == "研究型":
            grad = RESEARCH.get(u["university_code"].iat[i], 0.3)
            shares = {"本科": 1 - grad, "硕士": grad * 0.88, "博士": grad * 0.12}
        elif tier == "本科公办":
            shares = {"本科": 0.94, "硕士": 0.06}
        elif tier == "本科民办":
            shares = {"本科": 1.0}
        else:
            shares = {"专科": 1.0}
        for lvl, sh in shares.items():
            cat = cats[lvl]
            k = int(np.clip(round(s * sh / (130 if lvl in ("本科", "专科") else 40)), 1, len(cat)))
            pick = rng.choice(len(cat), size=k, replace=False)
            w = rng.lognormal(0, 0.6, k)
            n = np.maximum(np.round(w / w.sum() * s * sh), 1).astype(int)
            rows_uni.append(np.full(k, i))
            rows_lvl.append(np.full(k, lvl, dtype=object))
            rows_major.append(cat.index.to_numpy()[pick])
            rows_n.append(n)
    lvl = np.concatenate(rows_lvl)
    pts = pd.DataFrame(
        {
            "uni_idx": np.concatenate(rows_uni),
            "education_level": lvl,
            "cat_idx": np.concatenate(rows_major),
            "n_graduates": np.concatenate(rows_n),
        }
    )
    major = pd.concat(
        [
            cats[lv]
            .iloc[pts.loc[pts["education_level"] == lv, "cat_idx"]]
            .set_axis(pts.index[pts["education_level"] == lv])
            for lv in cats
        ]
    )
    pts = pts.join(major[["major_code", "major_name", "discipline_code"]])
    thr = policy.majors.threshold
    logit = (
        pts["education_level"].map(cohorts.LEVEL_BASE).to_numpy()
        + pts["discipline_code"].map(cohorts.DISCIPLINE_EFFECT).fillna(0).to_numpy()
        + effect[pts["uni_idx"].to_numpy()]
        + rng.normal(0, 0.35, len(pts))
    )
    n = pts["n_graduates"].to_numpy()
    lift = rng.uniform(0, 0.08, len(pts))
    lo, hi = -3.0, 3.0
    for _ in range(50):
        mid = (lo + hi) / 2
        r = 1 / (1 + np.exp(-(logit + mid)))
        r = np.where(r < thr + 0.12, thr + 0.12 + lift, r)
        if np.sum(r * n) / n.sum() < policy.placement.provincial_average:
            lo = mid
        else:
            hi = mid
    r = 1 / (1 + np.exp(-(logit + lo)))
    rate = np.where(r < thr + 0.12, thr + 0.12 + lift, r)
    eligible = np.flatnonzero(n >= policy.majors.min_graduates)
    order = rng.permutation(eligible)
    k = int(0.03 * eligible.size)
    des = np.full(len(pts), "natural", dtype=object)
    des[order[:k]] = "below"
    des[order[k : 2 * k]] = "decoy"
    rate[order[:k]] = rng.uniform(thr - 0.20, thr - 0.01, k)
    rate[order[k : 2 * k]] = rng.uniform(thr, thr + 0.10, k)
    pts["designation"] = des
    pts["true_rate_initial"] = rate
    return pts


def _chunk_table(
    pts: pd.DataFrame,
    u: pd.DataFrame,
    cohort: int,
    initial: np.datetime64,
    rng: np.random.Generator,
    seq_start: np.ndarray,
) -> tuple[pa.Table, np.ndarray]:
    """Rows of the points in ``pts`` (whole institutions) as an all-string Arrow table."""
    n_per = pts["n_graduates"].to_numpy()
    row_pt = np.repeat(np.arange(len(pts)), n_per)
    n = row_pt.size
    lvl = pts["education_level"].to_numpy()[row_pt]
    uni = pts["uni_idx"].to_numpy()[row_pt]
    rate = pts["true_rate_initial"].to_numpy()[row_pt]
    placed = rng.random(n) < rate
    code = np.empty(n, dtype=object)
    for level in ("本科", "专科", "硕士", "博士"):
        m = lvl == level
        if not m.any():
            continue
        pl = cohorts.PLACED_CODES[level]
        pe = cohorts.PENDING_CODES[level]
        pw = np.array(list(pl.values()), dtype=float)
        ew = np.array(list(pe.values()), dtype=float)
        a = rng.choice(np.array(list(pl), dtype=object), size=m.sum(), p=pw / pw.sum())
        b = rng.choice(np.array(list(pe), dtype=object), size=m.sum(), p=ew / ew.sum())
        code[m] = np.where(placed[m], a, b)
    start = initial - 334
    sign = np.where(
        placed, (start + rng.integers(0, 335, n)).astype("datetime64[D]").astype(str), None
    )
    # 学号: 2-digit entry year, level digit, institution-wide running sequence (7 digits)
    years = pd.Series(lvl).map(cohorts.PROGRAM_YEARS).to_numpy()
    entry = (cohort - years) % 100
    order = np.argsort(uni, kind="stable")
    uni_sorted = uni[order]
    first = np.r_[0, np.flatnonzero(np.diff(uni_sorted)) + 1]
    counts = np.diff(np.r_[first, n])
    within = np.arange(n) - np.repeat(first, counts)
    seq = np.empty(n, dtype=np.int64)
    seq[order] = within + seq_start[uni_sorted]
    digit = pd.Series(lvl).map(cohorts.LEVEL_DIGIT).to_numpy()
    sid = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(pa.array(entry), pa.string()), 2, "0"),
        pa.array(digit.astype(str)),
        pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), 7, "0"),
        "",
    )
    group_p = pd.Series(lvl).map(cohorts.GROUP_SHARE).to_numpy()
    g_idx = np.where(rng.random(n) < group_p, rng.integers(0, len(GROUP_LABELS), n), -1)
    groups = np.where(g_idx >= 0, np.array(GROUP_LABELS, dtype=object)[np.maximum(g_idx, 0)], None)
    male = rng.random(n) < 0.48
    origin = np.where(
        rng.random(n) < 0.8,
        u["province_code"].to_numpy()[uni] + "0100",
        rng.choice(people.OTHER_COUNTIES, n),
    )
    level_label = np.array([f"{x}生毕业" for x in ("本科", "专科", "硕士", "博士")], dtype=object)
    lvl_idx = pd.Series(lvl).map({"本科": 0, "专科": 1, "硕士": 2, "博士": 3}).to_numpy()
    dept = department_of(pts["major_code"]).to_numpy()[row_pt]
    table = pa.table(
        {
            "学号": sid,
            "院校代码": pa.array(u["university_code"].to_numpy()[uni].astype(str)),
            "学历层次": pa.array(level_label[lvl_idx].astype(str)),
            "所在院系": pa.array(dept.astype(str)),
            "专业代码": pa.array(pts["major_code"].to_numpy()[row_pt].astype(str)),
            "专业名称": pa.array(pts["major_name"].to_numpy()[row_pt].astype(str)),
            "毕业年份": pa.array(np.full(n, str(cohort))),
            "性别": pa.array(np.where(male, "男", "女")),
            "生源地代码": pa.array(origin.astype(str)),
            "城乡生源": pa.array(np.where(rng.random(n) < 0.55, "农村", "城镇")),
            "帮扶群体": pa.array(groups, type=pa.string()),
            "就业意愿": pa.array(np.where(rng.random(n) < 0.99, "是", "否")),
            "毕业去向类别代码": pa.array(code, type=pa.string()),
            "签约日期": pa.array(sign, type=pa.string()),
        }
    )
    realised = np.bincount(row_pt, weights=placed, minlength=len(pts))
    return table, realised


def generate_national(
    out: Path,
    seed: int,
    workers: int | None = None,
    total: int = TOTAL,
    institutions: int = INSTITUTIONS,
) -> str:
    """Write the national export; ``total``/``institutions`` are parameters for tests."""
    t0 = time.perf_counter()
    policy = load_policy()
    cohort = policy.notice.cohort
    initial = policy.date(policy.placement.initial_snapshot, cohort)
    out = Path(out)
    raw, truth_dir = out / "raw", out / "ground_truth"
    for d in (raw, truth_dir):
        reset_dir(d)
    u = _institutions(seed, institutions)
    pts = _points(u, total, seed, policy)
    folder = raw / initial.isoformat()
    folder.mkdir(parents=True)
    rng = _rng(seed, "national-rows")
    uni_rows = np.bincount(
        pts["uni_idx"].to_numpy(), weights=pts["n_graduates"].to_numpy(), minlength=len(u)
    )
    # chunks of whole institutions of about CHUNK_ROWS rows
    bounds = np.searchsorted(
        np.cumsum(uni_rows), np.arange(CHUNK_ROWS, uni_rows.sum() + CHUNK_ROWS, CHUNK_ROWS)
    )
    edges = np.unique(np.r_[0, np.minimum(bounds + 1, len(u))])
    realised = np.zeros(len(pts))
    seq_start = np.ones(len(u), dtype=np.int64)
    rows = 0
    part = 0
    for a, b in itertools.pairwise(edges):
        sel = np.flatnonzero((pts["uni_idx"].to_numpy() >= a) & (pts["uni_idx"].to_numpy() < b))
        if not sel.size:
            continue
        table, real = _chunk_table(
            pts.iloc[sel], u, cohort, np.datetime64(initial, "D"), rng, seq_start
        )
        realised[sel] = real
        pq.write_table(
            table, folder / f"graduates_national_part{part:03d}.parquet", compression="zstd"
        )
        rows += table.num_rows
        part += 1
    ref = raw / "reference"
    ref.mkdir()
    base = np.clip(
        policy.placement.provincial_average + _rng(seed, "baseline").normal(0, 0.06, len(u)),
        0.3,
        0.98,
    )
    df = pd.DataFrame(
        {
            "学校标识码": u["university_id"],
            "院校代码": u["university_code"],
            "院校名称": u["university_name"],
            "办学层次": u["school_level"],
            "办学性质": u["ownership"],
            "所在地": u["city"],
            "上年初次毕业去向落实率": np.round(base, 4).astype(str),
        }
    )
    (ref / "universities.csv").write_bytes(
        csv_bytes(Sheet("院校名单", [list(df.columns), *df.to_numpy().tolist()]), "utf-8-sig")[0]
    )
    thr = policy.majors.threshold
    t = pd.DataFrame(
        {
            "university_code": u["university_code"].to_numpy()[pts["uni_idx"]],
            "education_level": pts["education_level"],
            "major_code": pts["major_code"],
            "major_name": pts["major_name"],
            "cohort": cohort,
            "n_graduates": pts["n_graduates"],
            "true_rate_initial": pts["true_rate_initial"].round(6),
            "truly_below": pts["true_rate_initial"] < thr,
            "designation": pts["designation"],
            "realised_initial": realised.astype(int),
        }
    )
    t.to_csv(truth_dir / "major_points.csv", index=False, encoding="utf-8")
    per = (
        t.groupby("university_code")
        .agg(n_graduates=("n_graduates", "sum"), realised_initial=("realised_initial", "sum"))
        .reset_index()
    )
    per.to_csv(truth_dir / "universities.csv", index=False, encoding="utf-8")
    secs = time.perf_counter() - t0
    return "\n".join(
        [
            f"synthetic national export (seed {seed}) -> {out}",
            f"  院校 institutions: {len(u):,}   {cohort}届毕业生 graduates: {rows:,}   Parquet parts: {part}",
            f"  专业点 points: {len(pts):,}   truly below threshold: {int(t['truly_below'].sum())}",
            f"  {secs:.0f} s",
        ]
    )
