"""The graduate population: 专业点 with known true rates, and every graduate's year (a timeline).

Model (documented in docs/synthetic-data.md):

* a university has a size, a placement effect (tier + random, on the logit scale) and 专业点
  (level × major) whose sizes follow a lognormal split of the university's graduates;
* a 专业点's true initial rate (the probability of being placed on the policy's initial date) is
  logistic(level + discipline + university + major effects), calibrated so that the previous
  cohort's pooled provincial rate equals the policy's provincial average; natural points are kept
  clear of the threshold zone, and a designated set makes the evidence test fair: points truly
  below (rates spread over threshold-0.20 … threshold-0.01, sizes from the policy minimum to a few
  hundred), decoys just above (threshold … threshold+0.10), persistent points below in two
  consecutive cohorts, recovered points below only in the previous cohort;
* each graduate's probability differs by group (帮扶群体 penalty, 就业意愿 否) while the point's mean
  stays the true rate; outcomes are Bernoulli draws (binomial per point);
* a timeline per graduate: first recorded date (before it the destination is empty), pending code
  (70/71/72), placement date and code, an optional earlier code (a realistic change, 12 → 10 …)
  and an optional early contract broken before the initial date (解约: placed → 70).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.config import Policy
from helpers.generate import people
from helpers.generate.majors import department_of, pick_majors
from helpers.generate.universities import DOCTORAL, RESEARCH, TIER_EFFECT, TIER_SIZE

LEVEL_BASE = {"专科": 0.15, "本科": 0.0, "硕士": 0.45, "博士": 0.9}  # logit shifts
YEAR_END_TARGET = {"专科": 0.95, "本科": 0.92, "硕士": 0.95, "博士": 0.97}
LEVEL_DIGIT = {"博士": "0", "硕士": "1", "本科": "3", "专科": "4"}
PROGRAM_YEARS = {"博士": 4, "硕士": 3, "本科": 4, "专科": 3}
AGE_AT_GRADUATION = {"博士": 30, "硕士": 25, "本科": 22, "专科": 21}
GROUP_SHARE = {"本科": 0.05, "专科": 0.08, "硕士": 0.02, "博士": 0.01}
GROUP_BITS = {"脱贫家庭": 1, "低保家庭": 2, "零就业家庭": 4, "残疾": 8, "长期失业": 16}
# (mask, probability among group members)
GROUP_MIX = ((1, 0.40), (2, 0.32), (3, 0.06), (4, 0.07), (8, 0.10), (16, 0.03), (9, 0.02))
FEMALE_SHARE = {
    "08": 0.3,
    "07": 0.5,
    "10": 0.72,
    "05": 0.78,
    "04": 0.8,
    "12": 0.62,
    "02": 0.6,
    "13": 0.66,
    "03": 0.6,
    "09": 0.45,
    "51": 0.3,
    "46": 0.1,
    "44": 0.25,
    "50": 0.35,
    "52": 0.85,
    "53": 0.7,
    "54": 0.72,
    "55": 0.6,
    "57": 0.9,
    "58": 0.4,
}
DISCIPLINE_EFFECT = {
    "10": 0.25,
    "08": 0.15,
    "51": 0.15,
    "52": 0.3,
    "12": -0.05,
    "05": -0.15,
    "13": -0.3,
    "55": -0.25,
    "07": -0.05,
    "06": -0.2,
    "01": -0.2,
    "04": 0.1,
    "57": 0.15,
    "50": 0.2,
    "46": 0.2,
}

# 毕业去向类别代码 of placed graduates by level (shares; normalised); 3-digit where the 2023
# export uses them (universities that still export 2-digit codes map to the parent at write time).
PLACED_CODES = {
    "本科": {
        "10": 30,
        "11": 14,
        "12": 10,
        "271": 1,
        "46": 1.5,
        "502": 0.8,
        "503": 0.6,
        "512": 1,
        "519": 1.2,
        "75": 0.8,
        "76": 3,
        "801": 24,
        "802": 1,
        "85": 4,
    },
    "专科": {
        "10": 38,
        "11": 12,
        "12": 18,
        "46": 5,
        "502": 0.4,
        "519": 0.6,
        "75": 1,
        "76": 3,
        "80": 21,
        "85": 0.3,
    },
    "硕士": {
        "10": 45,
        "11": 20,
        "12": 5,
        "271": 4,
        "46": 0.5,
        "502": 1,
        "512": 5,
        "519": 1,
        "75": 0.5,
        "76": 2,
        "801": 8,
        "85": 3,
    },
    "博士": {"10": 75, "11": 8, "12": 2, "271": 10, "801": 2, "85": 3},
}
PENDING_CODES = {
    "本科": {"70": 70, "71": 20, "72": 10},
    "专科": {"70": 82, "71": 8, "72": 10},
    "硕士": {"70": 85, "71": 5, "72": 10},
    "博士": {"70": 90, "72": 10},
}
FLEXIBLE_BOOST = {"12": 3.5, "76": 5.0, "75": 4.0}
EMPLOYER_CODES = ("10", "11", "12", "27", "50", "51")
STUDY_CODES = ("80", "85")
# month weights (offset from January of the cohort year: -3 = previous October)
EMPLOY_MONTHS = (-3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7)
EMPLOY_WEIGHTS = (3, 5, 6, 5, 5, 9, 12, 16, 22, 10, 7)
STUDY_MONTHS = (2, 3, 4, 5, 6, 7)
STUDY_WEIGHTS = (10, 25, 25, 20, 15, 5)
LATE_MONTHS = (8, 9, 10, 11)
LATE_WEIGHTS = (35, 25, 22, 18)
RECORD_MONTHS = (0, 1, 2, 3, 4, 5, 6)
RECORD_WEIGHTS = (6, 10, 16, 18, 20, 20, 10)
GROUP_PENALTY_INITIAL = 0.08  # mean initial-rate penalty of 帮扶群体 (varies by university)
CHANGE_SHARE = 0.03  # placed graduates whose code changes later (12/76 -> 10/11)
BREAK_SHARE = 0.01  # not placed at the initial date after a broken early contract
LATE_JUMP_SHARE = 0.4  # at jump universities: share of Jun-Aug placements moved to late August


@dataclass(frozen=True)
class Scale:
    graduates_per_cohort: int
    mean_point_size: float
    designated_max_size: int
    share_below: float
    share_decoy: float
    min_below: int
    min_decoy: int
    max_majors: int


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def plan_universities(unis: pd.DataFrame, scale: Scale, rng: np.random.Generator) -> pd.DataFrame:
    """Sizes, effects and reporting habits of each university."""
    u = unis.reset_index(drop=True).copy()
    n = len(u)
    size = np.array([TIER_SIZE[t] for t in u["tier"]]) * rng.lognormal(0, 0.25, n)
    u["real_size"] = size  # province-scale size: activity volumes follow the real institution
    u["size"] = size / size.sum() * scale.graduates_per_cohort
    u["effect"] = np.array([TIER_EFFECT[t] for t in u["tier"]]) + rng.normal(0, 0.3, n)
    u["group_factor"] = rng.uniform(0.6, 1.4, n)
    u["group_penalty"] = np.clip(rng.normal(GROUP_PENALTY_INITIAL, 0.04, n), -0.02, 0.16)
    u["id_pattern"] = rng.integers(0, 4, n)
    u["school_no"] = u["university_code"].astype(int)
    u["uni_idx"] = np.arange(n)
    return u


def _level_shares(row) -> dict[str, float]:
    tier, code = row["tier"], row["university_code"]
    if tier == "研究型":
        grad = RESEARCH[code]
        doc = 0.12 * grad if code in DOCTORAL else 0.0
        return {"本科": 1 - grad, "硕士": grad - doc, "博士": doc}
    if tier == "本科公办":
        return {"本科": 1 - row["_master"], "硕士": row["_master"]}
    if tier == "本科民办":
        return {"本科": 1 - row["_zk"], "专科": row["_zk"]}
    return {"专科": 1.0}


def plan_points(u: pd.DataFrame, scale: Scale, rng: np.random.Generator) -> pd.DataFrame:
    """专业点 of every university with their base size (graduates in the current cohort)."""
    u = u.copy()
    u["_master"] = np.where(rng.random(len(u)) < 0.6, rng.uniform(0.02, 0.08, len(u)), 0.0)
    u["_zk"] = np.where(rng.random(len(u)) < 0.3, rng.uniform(0.05, 0.15, len(u)), 0.0)
    frames = []
    for _, row in u.iterrows():  # per university (89 at most): tiny loop, vectorised inside
        for level, share in _level_shares(row).items():
            if share <= 0:
                continue
            level_size = row["size"] * share
            mean = scale.mean_point_size * {"硕士": 0.35, "博士": 0.15}.get(level, 1.0)
            k = int(np.clip(round(level_size / mean), 1, scale.max_majors))
            majors = pick_majors(rng, row["university_name"], level, k)
            w = rng.lognormal(0, 0.6, len(majors))
            n = np.maximum(np.round(w / w.sum() * level_size), 3 if level != "博士" else 1)
            majors = majors.assign(
                university_code=row["university_code"],
                uni_idx=row["uni_idx"],
                education_level=level,
                n_base=n.astype(int),
            )
            frames.append(majors)
    pts = pd.concat(frames, ignore_index=True)
    pts["point_id"] = np.arange(len(pts))
    return pts


def designate(
    pts: pd.DataFrame,
    scale: Scale,
    policy: Policy,
    rng: np.random.Generator,
    must_have: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Choose the truly-below, persistent, recovered and decoy points; resize them.

    Sizes of designated points are log-uniform between the policy's minimum and
    ``scale.designated_max_size`` so that the test is neither all-small nor all-large.
    """
    pts = pts.copy()
    min_n = policy.majors.min_graduates
    eligible = np.flatnonzero(
        (pts["n_base"] >= min_n) & (pts["education_level"].isin(["本科", "专科", "硕士"]))
    )
    n_el = eligible.size
    n_below = max(scale.min_below, round(scale.share_below * n_el))
    n_decoy = max(scale.min_decoy, round(scale.share_decoy * n_el))
    n_recovered = max(1, n_below // 4)
    order = rng.permutation(eligible)
    # universities that must have a truly-below point (e.g. 10386 in the demo) come first
    for code in reversed(must_have):
        own = order[pts["university_code"].to_numpy()[order] == code]
        if own.size:
            order = np.concatenate([[own[0]], order[order != own[0]]])
    below = order[:n_below]
    decoy = order[n_below : n_below + n_decoy]
    recovered = order[n_below + n_decoy : n_below + n_decoy + n_recovered]
    designation = np.full(len(pts), "natural", dtype=object)
    designation[below] = "below"
    designation[decoy] = "decoy"
    designation[recovered] = "recovered"
    persistent = np.zeros(len(pts), dtype=bool)
    persistent[below[: max(2, n_below // 2)]] = True  # half of them below in two cohorts
    pts["designation"] = designation
    pts["persistent"] = persistent
    chosen = np.concatenate([below, decoy, recovered])
    lo, hi = np.log(min_n), np.log(scale.designated_max_size)
    pts.loc[chosen, "n_base"] = np.round(np.exp(rng.uniform(lo, hi, chosen.size))).astype(int)
    return pts


def point_rates(
    pts: pd.DataFrame, u: pd.DataFrame, cohorts: list[int], policy: Policy, rng: np.random.Generator
) -> pd.DataFrame:
    """True initial rate, year-end catch-up and size of every 专业点 in every cohort (long)."""
    thr = policy.majors.threshold
    floor = thr + 0.12
    current, previous = cohorts[-1], cohorts[-2]
    disc = pts["discipline_code"].map(DISCIPLINE_EFFECT).fillna(0.0).to_numpy()
    base = (
        pts["education_level"].map(LEVEL_BASE).to_numpy()
        + disc
        + u["effect"].to_numpy()[pts["uni_idx"].to_numpy()]
        + rng.normal(0, 0.35, len(pts))
    )
    year_shift = {c: 0.05 * ((c - previous) % 3) for c in cohorts}  # small cohort wiggle
    frames = []
    noise = {
        c: rng.normal(0, 0.2, len(pts)) if c != current else np.zeros(len(pts)) for c in cohorts
    }
    sizes = {
        c: np.maximum(
            np.round(
                pts["n_base"].to_numpy() * 0.96 ** (current - c) * rng.lognormal(0, 0.06, len(pts))
            ),
            1,
        ).astype(int)
        for c in cohorts
    }
    for c in cohorts:
        sizes[c] = np.where(
            pts["designation"].to_numpy() != "natural",
            np.maximum(sizes[c], policy.majors.min_graduates),
            sizes[c],
        )
    lift = rng.uniform(0.0, 0.08, len(pts))

    def natural(shift, c):
        r = _expit(base + year_shift[c] + noise[c] + shift)
        return np.where(r < floor, floor + lift, r)

    # calibrate: the previous cohort's pooled expected initial rate = provincial average
    lo, hi = -3.0, 3.0
    target = policy.placement.provincial_average
    n_prev = sizes[previous]
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.sum(natural(mid, previous) * n_prev) / n_prev.sum() < target:
            lo = mid
        else:
            hi = mid
    shift = (lo + hi) / 2
    des = pts["designation"].to_numpy()
    persistent = pts["persistent"].to_numpy()
    below_lo, below_hi = thr - 0.20, thr - 0.01
    for c in cohorts:
        r = natural(shift, c)
        k = len(pts)
        below_draw = rng.uniform(below_lo, below_hi, k)
        decoy_draw = rng.uniform(thr, thr + 0.10, k)
        above_draw = rng.uniform(thr + 0.05, thr + 0.18, k)
        if c == current:
            r = np.where(des == "below", below_draw, r)
            r = np.where(des == "decoy", decoy_draw, r)
            r = np.where(des == "recovered", rng.uniform(thr + 0.08, thr + 0.22, k), r)
        elif c == previous:
            r = np.where((des == "below") & persistent, below_draw, r)
            r = np.where((des == "below") & ~persistent, above_draw, r)
            r = np.where(des == "recovered", below_draw, r)
        else:
            older_below = rng.random(k) < 0.3
            r = np.where(
                np.isin(des, ["below", "recovered"]),
                np.where(older_below & persistent, below_draw, above_draw),
                r,
            )
        lvl = pts["education_level"].to_numpy()
        ye = pd.Series(lvl).map(YEAR_END_TARGET).to_numpy()
        q = np.clip((ye - r) / (1 - r), 0.3, 0.95)
        frames.append(
            pd.DataFrame(
                {
                    "point_id": pts["point_id"].to_numpy(),
                    "cohort": c,
                    "n_graduates": sizes[c],
                    "rate": r,
                    "catch_up": q,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _sample_month_dates(rng, n, year: int, months, weights) -> np.ndarray:
    """Dates: month (offset from January of ``year``) by weight, day uniform within the month."""
    w = np.asarray(weights, dtype=float)
    m = np.asarray(months)[rng.choice(len(months), size=n, p=w / w.sum())]
    start = (np.datetime64(f"{year}-01", "M") + m).astype("datetime64[D]")
    end = (np.datetime64(f"{year}-01", "M") + m + 1).astype("datetime64[D]")
    length = (end - start).astype(int)
    return start + np.floor(rng.random(n) * length).astype(int)


def _draw_codes(
    rng, levels: np.ndarray, table: dict[str, dict[str, float]], boost: np.ndarray | None = None
) -> np.ndarray:
    """A code per graduate from a per-level share table (optionally boosted per row)."""
    out = np.empty(levels.size, dtype=object)
    for lvl, shares in table.items():
        idx = np.flatnonzero(levels == lvl)
        if not idx.size:
            continue
        codes = np.array(list(shares))
        w = np.array(list(shares.values()), dtype=float)
        if boost is None or not boost[idx].any():
            out[idx] = rng.choice(codes, size=idx.size, p=w / w.sum())
            continue
        wb = w * np.array([FLEXIBLE_BOOST.get(c, 1.0) for c in codes])
        plain = idx[~boost[idx]]
        boosted = idx[boost[idx]]
        out[plain] = rng.choice(codes, size=plain.size, p=w / w.sum())
        out[boosted] = rng.choice(codes, size=boosted.size, p=wb / wb.sum())
    return out


def graduates(
    pts: pd.DataFrame,
    rates: pd.DataFrame,
    u: pd.DataFrame,
    employers: pd.DataFrame,
    policy: Policy,
    rng: np.random.Generator,
    flexible_unis: set[str],
    jump_unis: set[str],
    batch_unis: set[str] = frozenset(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every graduate of every cohort with a full timeline; and the per-point ground truth."""
    pr = rates.merge(pts, on="point_id", how="left")
    extra = rng.binomial(
        pr["n_graduates"].to_numpy(),
        np.where(pr["education_level"].isin(["本科", "专科"]), 0.012, 0.004),
    )
    total = pr["n_graduates"].to_numpy() + extra
    row_of = np.repeat(np.arange(len(pr)), total)
    n = row_of.size
    # position within the point: the first n_graduates are 毕业, the rest 结业/肄业
    starts = np.repeat(np.cumsum(total) - total, total)
    pos = np.arange(n) - starts
    g = pd.DataFrame(
        {
            "cohort": pr["cohort"].to_numpy()[row_of].astype(np.int16),
            "point_id": pr["point_id"].to_numpy()[row_of],
            "university_code": pr["university_code"].to_numpy()[row_of],
            "uni_idx": pr["uni_idx"].to_numpy()[row_of],
            "education_level": pr["education_level"].to_numpy()[row_of],
            "major_code": pr["major_code"].to_numpy()[row_of],
            "major_name": pr["major_name"].to_numpy()[row_of],
            "discipline_code": pr["discipline_code"].to_numpy()[row_of],
        }
    )
    is_grad = pos < pr["n_graduates"].to_numpy()[row_of]
    g["status"] = np.where(is_grad, "毕业", np.where(rng.random(n) < 0.8, "结业", "肄业"))
    g.loc[g["education_level"].isin(["硕士", "博士"]) & ~is_grad, "status"] = "结业"
    lvl = g["education_level"].to_numpy()
    ui = g["uni_idx"].to_numpy()

    # --- who they are --------------------------------------------------------------------------
    female_p = g["discipline_code"].map(FEMALE_SHARE).fillna(0.5).to_numpy()
    male = rng.random(n) >= female_p
    g["male"] = male
    rural_p = np.where(lvl == "专科", 0.65, np.where(lvl == "本科", 0.55, 0.4))
    g["rural"] = rng.random(n) < rural_p
    fujian = rng.random(n) < 0.85
    g["origin_region_code"] = np.where(
        fujian,
        rng.choice(people.FUJIAN_COUNTIES, size=n),
        rng.choice(people.OTHER_COUNTIES, size=n),
    )
    g["department"] = department_of(g["major_code"]).to_numpy()

    # --- 帮扶群体 and 就业意愿 --------------------------------------------------------------------
    gshare = pd.Series(lvl).map(GROUP_SHARE).to_numpy() * u["group_factor"].to_numpy()[ui]
    in_group = rng.random(n) < gshare * np.where(g["rural"], 1.5, 0.5)
    masks = np.array([m for m, _ in GROUP_MIX])
    mp = np.array([p for _, p in GROUP_MIX])
    g["groups"] = np.where(in_group, rng.choice(masks, size=n, p=mp / mp.sum()), 0).astype(np.int8)
    disabled = (g["groups"].to_numpy() & 8) > 0
    unwilling = np.where(disabled, rng.random(n) < 0.3, rng.random(n) < 0.008)
    g["willing"] = ~unwilling

    # --- individual propensities keep the point's mean at its true rate ------------------------
    rate = pr["rate"].to_numpy()[row_of]
    pen = u["group_penalty"].to_numpy()[ui]
    grp = g["groups"].to_numpy() > 0
    p = np.where(unwilling, 0.05, np.where(grp, rate - pen, rate))
    key = pr.index.to_numpy()[row_of]  # one key per (point, cohort)
    sum_target = np.bincount(key, weights=np.where(is_grad, rate, 0.0), minlength=len(pr))
    special = is_grad & (unwilling | grp)
    sum_special = np.bincount(key, weights=np.where(special, p, 0.0), minlength=len(pr))
    n_other = np.bincount(key, weights=(is_grad & ~special).astype(float), minlength=len(pr))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_other = np.where(n_other > 0, (sum_target - sum_special) / n_other, 0.0)
    p = np.where(special | ~is_grad, p, p_other[key])
    p = np.where(is_grad, p, rate * 0.6)
    p = np.clip(p, 0.01, 0.995)
    g["p_initial"] = p
    q = pr["catch_up"].to_numpy()[row_of]
    q = np.where(unwilling, 0.1, np.where(grp, np.clip(q + 0.1, 0, 0.98), q))
    g["p_year_end"] = p + (1 - p) * q
    placed_init = rng.random(n) < p
    placed_ye = placed_init | (rng.random(n) < q)

    # --- codes -----------------------------------------------------------------------------------
    flex = np.isin(g["university_code"].to_numpy(), list(flexible_unis))
    final_code = _draw_codes(rng, lvl, PLACED_CODES, boost=flex)
    pending = _draw_codes(rng, lvl, PENDING_CODES)
    pending = np.where(unwilling, np.where(rng.random(n) < 0.8, "72", "71"), pending)
    g["pending_code"] = pending
    g["final_code"] = np.where(placed_ye, final_code, None)

    # --- dates -----------------------------------------------------------------------------------
    cohort = g["cohort"].to_numpy().astype(int)
    place = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    rec = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    for c in np.unique(cohort):
        sel = cohort == c
        initial = np.datetime64(policy.date(policy.placement.initial_snapshot, int(c)), "D")
        year_end = np.datetime64(policy.date(policy.placement.year_end_snapshot, int(c)), "D")
        study = np.isin(np.array([str(x)[:2] for x in final_code[sel]]), STUDY_CODES)
        d_emp = _sample_month_dates(rng, sel.sum(), int(c), EMPLOY_MONTHS, EMPLOY_WEIGHTS)
        d_study = _sample_month_dates(rng, sel.sum(), int(c), STUDY_MONTHS, STUDY_WEIGHTS)
        d_init = np.minimum(np.where(study, d_study, d_emp), initial)
        d_late = np.clip(
            _sample_month_dates(rng, sel.sum(), int(c), LATE_MONTHS, LATE_WEIGHTS),
            initial + 1,
            year_end,
        )
        pi, py = placed_init[sel], placed_ye[sel]
        place[sel] = np.where(pi, d_init, np.where(py, d_late, np.datetime64("NaT")))
        rec[sel] = np.minimum(
            _sample_month_dates(rng, sel.sum(), int(c), RECORD_MONTHS, RECORD_WEIGHTS), initial - 10
        )
        # late-August jumps: Jun–Aug placements moved just before the initial date as 12/76
        if jump_unis and c == cohort.max():
            jump = (
                sel
                & placed_init
                & np.isin(g["university_code"].to_numpy(), list(jump_unis))
                & (place >= initial - 92)
                & (place < initial - 11)
                & np.isin(np.array([str(x)[:2] for x in final_code]), EMPLOYER_CODES)
                & (rng.random(n) < LATE_JUMP_SHARE)
            )
            place[jump] = initial - rng.integers(0, 12, jump.sum())
            final_code[jump] = np.where(rng.random(jump.sum()) < 0.6, "12", "76")
            g["final_code"] = np.where(placed_ye, final_code, None)
            g["late_jump"] = jump
    if "late_jump" not in g:
        g["late_jump"] = False
    rec = np.where(np.isnat(place), rec, np.minimum(rec, place))
    g["rec_date"] = rec
    g["place_date"] = place

    # realistic changes: an earlier placed code replaced later (still placed)
    change = (
        placed_ye
        & (rng.random(n) < CHANGE_SHARE)
        & np.isin(np.array([str(x)[:2] for x in final_code]), ("10", "11"))
    )
    g["prev_code"] = np.where(change, np.where(rng.random(n) < 0.6, "12", "76"), g["final_code"])
    g["change_date"] = np.where(change, place + rng.integers(10, 120, n), np.datetime64("NaT"))
    # broken early contracts: placed early, back to 70 before the initial date
    brk = ~placed_init & g["willing"].to_numpy() & is_grad & (rng.random(n) < BREAK_SHARE)
    early = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    brk_d = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    for c in np.unique(cohort):
        sel = brk & (cohort == c)
        early[sel] = _sample_month_dates(rng, sel.sum(), int(c), (2, 3, 4), (1, 1, 1))
        brk_d[sel] = early[sel] + rng.integers(20, 70, sel.sum())
    g["early_date"] = early
    g["break_date"] = brk_d
    g["early_code"] = np.where(brk, np.where(rng.random(n) < 0.5, "10", "11"), None)
    g["pending_code"] = np.where(brk, "70", g["pending_code"])
    g["rec_date"] = np.where(
        brk, np.minimum(g["rec_date"].to_numpy(), early), g["rec_date"].to_numpy()
    )
    g["placed_initial"] = placed_init
    g["placed_year_end"] = placed_ye
    g["is_graduate"] = is_grad

    # --- employer of placed graduates ------------------------------------------------------------
    has_emp = np.isin(np.array([str(x)[:2] for x in g["final_code"].to_numpy()]), EMPLOYER_CODES)
    g["employer_idx"] = np.where(has_emp, rng.integers(0, len(employers), n), -1)

    # --- personal fields -------------------------------------------------------------------------
    age = pd.Series(lvl).map(AGE_AT_GRADUATION).to_numpy() + rng.integers(-1, 2, n)
    birth_year = cohort - age
    birth = np.array(birth_year - 1970, dtype="datetime64[Y]").astype(
        "datetime64[D]"
    ) + rng.integers(0, 365, n)
    g["name"] = people.chinese_names(rng, n)
    g["id_number"] = people.id_numbers(rng, g["origin_region_code"].to_numpy(), birth, male)
    g["phone"] = people.phone_numbers(rng, n)
    years = pd.Series(lvl).map(PROGRAM_YEARS).to_numpy() + np.isin(
        g["major_code"].to_numpy(), ["100201K", "100501K", "082801", "082802"]
    ).astype(int)
    entry = cohort - years
    g["student_id"] = _student_ids(g, u, entry)

    g["entry_date"] = entry_dates(g, policy, rng, batch_unis)
    truth = _truth(pr, g, policy)
    return g, truth


# 落实一人、上报一人: days from 签约 to the entry in the national system. Most universities enter a
# placement within days (geometric, mean 4 days: 95% within two weeks), a few slow ones weeks later;
# batch universities enter them in bulk in the last days before each calendar checkpoint.
ENTRY_DELAY_P = 0.2
SLOW_ENTRY_SHARE = 0.04


def entry_dates(
    g: pd.DataFrame, policy: Policy, rng: np.random.Generator, batch_unis=frozenset()
) -> np.ndarray:
    """When each placement reaches the data (NaT where there is none). Never after the cohort's
    initial date for placements made by then, nor after the year end: the initial and year-end
    snapshots stay complete (their truth does not depend on the delays)."""
    place = g["place_date"].to_numpy().astype("datetime64[D]")
    n = place.size
    delay = rng.geometric(ENTRY_DELAY_P, n) - 1
    slow = rng.random(n) < SLOW_ENTRY_SHARE
    delay = np.where(slow, delay + rng.integers(14, 60, n), delay)
    entry = place + delay.astype("timedelta64[D]")
    batch = np.isin(g["university_code"].to_numpy(), list(batch_unis))
    cohort = g["cohort"].to_numpy().astype(int)
    before = rng.integers(0, 4, n).astype("timedelta64[D]")
    for c in np.unique(cohort):
        sel = cohort == c
        initial = np.datetime64(policy.date(policy.placement.initial_snapshot, int(c)), "D")
        year_end = np.datetime64(policy.date(policy.placement.year_end_snapshot, int(c)), "D")
        deadlines = np.array(
            sorted({policy.date(md, int(c)) for md in policy.calendar.checkpoints}),
            dtype="datetime64[D]",
        )
        b = sel & batch & ~np.isnat(place)
        nxt = np.searchsorted(deadlines, place[b], side="left")
        due = np.where(
            nxt < deadlines.size, deadlines[np.minimum(nxt, deadlines.size - 1)], year_end
        )
        entry[b] = np.maximum(place[b], due - before[b])
        cap = np.where(place[sel] <= initial, initial, year_end)
        entry[sel] = np.minimum(entry[sel], cap)
    return np.where(np.isnat(place), np.datetime64("NaT"), entry).astype("datetime64[D]")


def _student_ids(g: pd.DataFrame, u: pd.DataFrame, entry: np.ndarray) -> np.ndarray:
    """学号 per university pattern; the sequence runs per (university, level) over all cohorts."""
    out = np.empty(len(g), dtype=object)
    dept_codes = pd.factorize(g["department"])[0] % 100
    lvl_digit = g["education_level"].map(LEVEL_DIGIT).to_numpy()
    order = np.lexsort((g["cohort"].to_numpy(), lvl_digit, g["uni_idx"].to_numpy()))
    grp = pd.Series(g["uni_idx"].astype(str).to_numpy()[order] + lvl_digit[order])
    seq = np.empty(len(g), dtype=np.int64)
    seq[order] = grp.groupby(grp, sort=False).cumcount().to_numpy() + 1
    for ui in np.unique(g["uni_idx"].to_numpy()):
        sel = g["uni_idx"].to_numpy() == ui
        row = u.iloc[ui]
        out[sel] = people.student_ids(
            int(row["id_pattern"]),
            int(row["school_no"]),
            entry[sel],
            lvl_digit[sel],
            dept_codes[sel],
            seq[sel],
        )
    return out


def _truth(pr: pd.DataFrame, g: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Per 专业点 and cohort: size and true (expected) rates among 毕业 graduates."""
    grads = g[g["is_graduate"]]
    agg = (
        grads.groupby(["point_id", "cohort"], observed=True)
        .agg(
            n_graduates=("p_initial", "size"),
            true_rate_initial=("p_initial", "mean"),
            true_rate_year_end=("p_year_end", "mean"),
            realised_initial=("placed_initial", "sum"),
            realised_year_end=("placed_year_end", "sum"),
        )
        .reset_index()
    )
    meta = pr[
        [
            "point_id",
            "cohort",
            "university_code",
            "education_level",
            "major_code",
            "major_name",
            "designation",
            "persistent",
        ]
    ]
    t = meta.merge(agg, on=["point_id", "cohort"], how="inner")
    t["truly_below"] = t["true_rate_initial"] < policy.majors.threshold
    t = t.sort_values(["university_code", "education_level", "major_code", "cohort"])
    prev = t.groupby(["university_code", "education_level", "major_code"])["truly_below"].shift(1)
    t["below_two_cohorts"] = t["truly_below"] & prev.fillna(False).astype(bool)
    return t.reset_index(drop=True)


def state_at(g, when: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """(destination code or None, 签约日期 or NaT) of every graduate on date ``when``.

    ``g``: the population frame or a mapping of its columns to numpy arrays.
    """
    when = np.datetime64(when, "D")

    def col(name):
        return np.asarray(g[name])

    n = len(col("rec_date"))
    code = np.full(n, None, dtype=object)
    date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    code = np.where(col("rec_date") <= when, col("pending_code"), code)
    early = col("early_date")
    in_early = (early <= when) & ~(col("break_date") <= when)
    code = np.where(in_early, col("early_code"), code)
    date = np.where(in_early, early, date)
    place = col("place_date")
    # a placement shows once it has been entered (落实一人、上报一人: usually days later)
    entry = col("entry_date") if "entry_date" in g else place
    placed = (place <= when) & (entry <= when)
    changed = col("change_date") <= when
    code = np.where(placed, np.where(changed, col("final_code"), col("prev_code")), code)
    date = np.where(placed, np.where(changed, col("change_date"), place), date)
    return code, date.astype("datetime64[D]")
