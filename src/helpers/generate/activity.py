"""Activity datasets at the notice's cadences: recruitment (two-week windows), visits (one row per
visit, monthly), platform figures (per university and month) and help actions (帮扶台账).

Each function returns records with a ``report_date`` (the end of the period they are reported
for) next to the contract's Chinese columns, plus a small ground-truth frame.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.codes import ACTIVITY_TYPES, HELP_TYPES
from helpers.config import Policy
from helpers.generate import people

# per window and 4,000 graduates: mean events; employers per event; student visits per event
ACTIVITY_PARAMS = {
    "双选会": (0.35, 120, 1500),
    "专场招聘会": (1.5, 12, 150),
    "校企对接": (0.8, 3, 40),
    "宣讲会": (4.0, 1, 80),
    "网络招聘": (1.0, 60, 600),
    "其他": (0.3, 5, 50),
}
SEASON = {
    1: 0.2,
    2: 0.8,
    3: 1.3,
    4: 1.3,
    5: 1.2,
    6: 0.8,
    7: 0.3,
    8: 0.3,
    9: 1.4,
    10: 1.4,
    11: 1.3,
    12: 0.6,
}
ROLE_SHARES = {
    "党委书记": 0.10,
    "校长": 0.10,
    "校领导班子成员": 0.30,
    "二级学院负责人": 0.42,
    "其他": 0.08,
}
LEADER_COUNTS = {"党委书记": 1, "校长": 1, "校领导班子成员": 5, "二级学院负责人": 14, "其他": 6}


def month_end(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype="datetime64[D]")
    return (d.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1


def windows(policy: Policy, year: int) -> list[tuple[dt.date, dt.date]]:
    """Two-week reporting windows of the year from the policy's first window start."""
    start = policy.date(policy.recruitment.first_window_start, year)
    step = dt.timedelta(days=policy.recruitment.window_days)
    out = []
    while start + step - dt.timedelta(days=1) <= dt.date(year, 12, 31):
        out.append((start, start + step - dt.timedelta(days=1)))
        start += step
    return out


def recruitment(
    u: pd.DataFrame, policy: Policy, year: int, rng: np.random.Generator, silent_uni: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows per university, window and activity type (types without events are not reported)."""
    wins = windows(policy, year)
    initial = policy.date(policy.placement.initial_snapshot, year)
    done = [w for w in wins if w[1] <= initial]
    silent = set(done[-2:])  # the silent university reports nothing in the latest two windows
    rows = []
    for _, row in u.iterrows():
        scale = row["real_size"] / 4000
        for ws, we in wins:
            if row["university_code"] == silent_uni and (ws, we) in silent:
                continue
            season = SEASON[ws.month]
            for t in ACTIVITY_TYPES:
                mean, emp, stud = ACTIVITY_PARAMS[t]
                events = int(rng.poisson(mean * scale * season))
                if events == 0:
                    continue
                employers = max(1, round(events * emp * rng.lognormal(0, 0.3)))
                positions = max(employers, round(employers * 12 * rng.lognormal(0, 0.4)))
                visits = round(events * stud * rng.lognormal(0, 0.35))
                rows.append(
                    (row["university_code"], ws, we, t, events, employers, positions, visits)
                )
    df = pd.DataFrame(
        rows,
        columns=[
            "院校代码",
            "统计起始日期",
            "统计截止日期",
            "活动类型",
            "场次",
            "参会用人单位数",
            "提供岗位数",
            "参与学生人次",
        ],
    )
    df["report_date"] = pd.to_datetime(df["统计截止日期"]).to_numpy().astype("datetime64[D]")
    truth = pd.DataFrame(
        {
            "university_code": [silent_uni],
            "signal": ["no_recruitment_latest_window"],
            "detail": [f"{done[-1][0]}..{done[-1][1]}" if done else ""],
        }
    )
    return df, truth


def visits(
    u: pd.DataFrame,
    employers: pd.DataFrame,
    policy: Policy,
    year: int,
    rng: np.random.Generator,
    behind: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per visit; repeat visits to the same employer; some universities behind target."""
    target = policy.visits.employers_per_year
    target_new = policy.visits.new_employers_first_half
    h1_end = np.datetime64(policy.date(policy.visits.first_half_end, year), "D")
    initial = np.datetime64(policy.date(policy.placement.initial_snapshot, year), "D")
    frames, truth = [], []
    month_w = np.array([3, 5, 12, 14, 14, 12, 6, 5, 9, 9, 7, 4], dtype=float)
    for _, row in u.iterrows():
        code = row["university_code"]
        late = code in behind
        d = int(rng.uniform(0.45, 0.9) * target) if late else int(rng.uniform(1.05, 1.5) * target)
        d = min(d, len(employers))
        emp = rng.choice(len(employers), size=d, replace=False)
        month = rng.choice(12, size=d, p=month_w / month_w.sum())
        first = (np.datetime64(f"{year}-01", "M") + month).astype("datetime64[D]") + rng.integers(
            0, 28, d
        )
        in_h1 = first <= h1_end
        n_new_h1 = (
            int(rng.uniform(0.3, 0.8) * target_new)
            if late
            else int(target_new + rng.integers(5, 50))
        )
        h1_idx = np.flatnonzero(in_h1)
        new = np.zeros(d, dtype=bool)
        new[rng.permutation(h1_idx)[: min(n_new_h1, h1_idx.size)]] = True
        new |= ~in_h1 & (rng.random(d) < 0.4)
        repeats = rng.poisson(0.25, d)
        rep_emp = np.repeat(np.arange(d), repeats)
        rep_date = np.minimum(
            first[rep_emp] + rng.integers(10, 120, rep_emp.size),
            np.datetime64(f"{year}-12-31", "D"),
        )
        all_emp = np.concatenate([np.arange(d), rep_emp])
        all_date = np.concatenate([first, rep_date])
        all_new = np.concatenate([new, np.zeros(rep_emp.size, dtype=bool)])
        pos = np.concatenate([rng.poisson(12, d) + 1, rng.poisson(5, rep_emp.size)])
        n = all_emp.size
        roles = np.array(list(ROLE_SHARES))
        role = rng.choice(roles, size=n, p=np.array(list(ROLE_SHARES.values())))
        names = {r: people.chinese_names(rng, k) for r, k in LEADER_COUNTS.items()}
        visitor = np.array([names[r][rng.integers(len(names[r]))] for r in role])
        e = employers.iloc[emp[all_emp]]
        credit = np.where(rng.random(n) < 0.12, None, e["employer_credit_code"].to_numpy())
        df = pd.DataFrame(
            {
                "院校代码": code,
                "走访日期": all_date,
                "走访人": visitor,
                "走访人职务": role,
                "走访单位名称": e["employer_name"].to_numpy(),
                "统一社会信用代码": credit,
                "是否新开拓": np.where(all_new, "是", "否"),
                "拓展岗位数": pos,
            }
        )
        df = df.sort_values("走访日期", kind="stable")
        df["report_date"] = month_end(df["走访日期"].to_numpy())
        df["走访日期"] = pd.to_datetime(df["走访日期"]).dt.date
        frames.append(df)
        below_avg = row.get("baseline_true", 1.0) < policy.placement.provincial_average
        # distinct employers visited up to the initial reporting date (the demo's report date)
        seen = np.unique(all_emp[all_date <= initial])
        truth.append((code, d, int((new & in_h1).sum()), late, bool(below_avg), seen.size))
    t = pd.DataFrame(
        truth,
        columns=[
            "university_code",
            "distinct_employers_year",
            "new_employers_h1",
            "behind_visit_targets",
            "below_provincial_average",
            "distinct_employers_initial",
        ],
    )
    return pd.concat(frames, ignore_index=True), t


def platform(
    u: pd.DataFrame,
    grads_per_uni: dict[str, int],
    dates: list[dt.date],
    year: int,
    policy: Policy,
    rng: np.random.Generator,
    laggards: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per university and reporting date: follow, binding and registration figures."""
    rows, truth = [], []
    initial = policy.date(policy.placement.initial_snapshot, year)
    for _, row in u.iterrows():
        code = row["university_code"]
        n = grads_per_uni.get(code, 0)
        if n == 0:
            continue
        lag = code in laggards
        follow_end = rng.uniform(0.6, 0.78) if lag else rng.uniform(0.86, 0.99)
        bind_end = rng.uniform(0.65, 0.85) if lag else rng.uniform(0.92, 1.0)
        counsellors = max(2, int(np.ceil(n / rng.uniform(120, 220))))
        for d in dates:
            prog = min(
                1.0,
                max(0.05, (d - dt.date(year, 1, 1)).days / (initial - dt.date(year, 1, 1)).days),
            )
            follow = round(n * follow_end * (0.55 + 0.45 * prog))
            bound = round(counsellors * bind_end * (0.7 + 0.3 * prog))
            reg = round(n * min(0.97, 0.05 + 0.92 * prog**1.5))
            rows.append((code, d, n, follow, counsellors, bound, reg, np.datetime64(d, "D")))
        truth.append((code, lag, round(follow_end, 4), round(bind_end, 4)))
    df = pd.DataFrame(
        rows,
        columns=[
            "院校代码",
            "统计日期",
            "毕业生数",
            "平台关注人数",
            "毕业班辅导员数",
            "已绑定辅导员数",
            "毕业去向登记人数",
            "report_date",
        ],
    )
    t = pd.DataFrame(
        truth,
        columns=[
            "university_code",
            "platform_laggard",
            "follow_rate_at_initial",
            "binding_rate_at_initial",
        ],
    )
    return df, t


def assistance(
    g: pd.DataFrame,
    employers: pd.DataFrame,
    policy: Policy,
    year: int,
    rng: np.random.Generator,
    weak: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per help action for graduates in groups; some never reach the 3个3."""
    need = {
        "谈心谈话": policy.assistance.talks,
        "就业促进活动": policy.assistance.activities,
        "岗位推荐": policy.assistance.recommendations,
    }
    deadline = np.datetime64(policy.date(policy.assistance.rate_deadline, year), "D")
    sel = g[(g["groups"] > 0) & (g["cohort"] == year)]
    n = len(sel)
    weak_mask = sel["university_code"].isin(list(weak)).to_numpy()
    short = rng.random(n) < np.where(weak_mask, 0.5, 0.1)
    short_type = rng.integers(0, 3, n)
    counts = {}
    for k, t in enumerate(HELP_TYPES):
        c = need[t] + rng.poisson(0.8, n)
        c = np.where(short & (short_type == k), rng.integers(0, need[t], n), c)
        counts[t] = c
    frames = []
    start = np.datetime64(f"{year}-02-15", "D")
    span = int((deadline - 5 - start).astype(int))
    helpers_by_uni = {
        code: people.chinese_names(rng, 12) for code in sel["university_code"].unique()
    }
    for t in HELP_TYPES:
        c = counts[t]
        idx = np.repeat(np.arange(n), c)
        dates = start + rng.integers(0, span, idx.size)
        # a share of late actions (after the deadline): they do not count for the 3个3 check
        late = rng.random(idx.size) < 0.04
        dates = np.where(late, deadline + rng.integers(1, 90, idx.size), dates)
        uni = sel["university_code"].to_numpy()[idx]
        helper = np.array(
            [
                helpers_by_uni[code][h]
                for code, h in zip(uni, rng.integers(0, 12, idx.size), strict=True)
            ],
            dtype=object,
        )
        if t == "岗位推荐":
            note = (
                "推荐至"
                + employers["employer_name"].to_numpy()[rng.integers(0, len(employers), idx.size)]
            )
        elif t == "谈心谈话":
            note = np.array(
                ["了解求职意向", "心理疏导", "家庭情况回访", "求职材料指导"], dtype=object
            )[rng.integers(0, 4, idx.size)]
        else:
            note = np.array(
                ["参加校园双选会", "参加线上招聘会", "参加简历指导工作坊", "参加模拟面试"],
                dtype=object,
            )[rng.integers(0, 4, idx.size)]
        frames.append(
            pd.DataFrame(
                {
                    "学号": sel["student_id"].to_numpy()[idx],
                    "院校代码": uni,
                    "帮扶日期": dates,
                    "帮扶类型": t,
                    "帮扶责任人": helper,
                    "备注": note,
                    "_late": late,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True).sort_values(["院校代码", "帮扶日期"], kind="stable")
    # the same helper on the same day for the same graduate and type is one action
    df = df.drop_duplicates(["学号", "院校代码", "帮扶日期", "帮扶类型", "帮扶责任人"]).reset_index(
        drop=True
    )
    df["report_date"] = month_end(df["帮扶日期"].to_numpy())
    # compliance at the deadline: actions dated on or before it
    ok = df[df["帮扶日期"].to_numpy() <= deadline]
    per = ok.groupby(["院校代码", "学号", "帮扶类型"]).size().unstack(fill_value=0)
    per = per.reindex(columns=list(HELP_TYPES), fill_value=0)
    comp = (
        (per["谈心谈话"] >= need["谈心谈话"])
        & (per["就业促进活动"] >= need["就业促进活动"])
        & (per["岗位推荐"] >= need["岗位推荐"])
    )
    comp = comp.reindex(
        pd.MultiIndex.from_arrays([sel["university_code"], sel["student_id"]]), fill_value=False
    )
    t = pd.DataFrame(
        {"university_code": sel["university_code"].to_numpy(), "compliant": comp.to_numpy()}
    )
    t = (
        t.groupby("university_code")
        .agg(assistance_graduates=("compliant", "size"), compliant_3x3=("compliant", "sum"))
        .reset_index()
    )
    t["weak_assistance"] = t["university_code"].isin(list(weak))
    df["帮扶日期"] = pd.to_datetime(df["帮扶日期"]).dt.date
    return df.drop(columns="_late"), t
