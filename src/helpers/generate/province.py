"""Orchestration of the demo and province sizes: population, snapshots, activity, files, truth."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import load_policy
from helpers.generate import activity, cohorts, mess
from helpers.generate.employers import employer_pool
from helpers.generate.snapshots import SEPARATORS, Habits, columns_of, graduates_frame
from helpers.generate.universities import DEMO_CODES, fujian_universities
from helpers.generate.writers import Sheet, csv_bytes, write_sheets
from helpers.logs import progress


@dataclass(frozen=True)
class SizeConfig:
    name: str
    universities: tuple[str, ...] | None
    scale: cohorts.Scale
    current_snapshots: tuple[str, ...]  # month-days of the current cohort's folders
    previous_snapshots: tuple[str, ...]  # month-days of the previous cohort's folders
    trend_snapshots: tuple[str, ...]  # month-days of the two older cohorts' folders
    mess_rate: float
    ensure_every_form: bool
    per_university_platform: bool
    employers: int
    workers: int


_MONTH_ENDS = ("02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "12-31")
SIZES = {
    "demo": SizeConfig(
        name="demo",
        universities=DEMO_CODES,
        scale=cohorts.Scale(
            graduates_per_cohort=3200,
            mean_point_size=45,
            designated_max_size=150,
            share_below=0.08,
            share_decoy=0.08,
            min_below=5,
            min_decoy=4,
            max_majors=9,
        ),
        current_snapshots=_MONTH_ENDS,
        previous_snapshots=_MONTH_ENDS,
        trend_snapshots=("08-31", "12-31"),
        mess_rate=0.002,
        ensure_every_form=True,
        per_university_platform=False,
        employers=1500,
        workers=1,
    ),
    "province": SizeConfig(
        name="province",
        universities=None,
        scale=cohorts.Scale(
            graduates_per_cohort=300_000,
            mean_point_size=130,
            designated_max_size=350,
            share_below=0.04,
            share_decoy=0.04,
            min_below=10,
            min_decoy=10,
            max_majors=45,
        ),
        current_snapshots=("04-30", "06-30", "08-31", "12-31"),
        previous_snapshots=("08-31",),
        trend_snapshots=("08-31",),
        mess_rate=0.0005,
        ensure_every_form=False,
        per_university_platform=True,
        employers=40_000,
        workers=2,
    ),
}
PREFIX = {
    "graduates": ("毕业去向", "graduates"),
    "recruitment": ("校园招聘", "recruitment"),
    "visits": ("访企拓岗", "visits"),
    "platform": ("平台", "platform"),
    "assistance": ("帮扶台账", "assistance"),
}
EXT = {"xlsx": ".xlsx", "xls": ".xls", "csv": ".csv", "corrupt": ".xlsx"}
UNKNOWN = {"院校代码": "19386", "学校标识码": "4135019386", "院校名称": "福建海峡理工学院"}

# Demo: every form of contract §2 lands in the initial-date folder (file index -> overrides).
_DEMO_GRADUATE_STYLES = (
    dict(multi_sheet=True, title=True, footer_total=True, footer_filler=True),
    dict(fmt="csv", encoding="gbk", title=True, header_mode="spaces", date_style="slash"),
    dict(
        fmt="csv",
        encoding="utf-8-sig",
        header_mode="en",
        date_style="compact",
        uni_column="学校标识码_float",
    ),
    dict(header_mode="fullwidth", uni_column="院校名称", date_style="chinese", blank_rows=2),
    dict(
        header_mode="linebreak",
        major_numeric=True,
        uni_column="学校标识码_float",
        date_style="serial",
    ),
    dict(fmt="xls", date_style="dot", blank_column=True, title=True),
    dict(fmt="csv", encoding="utf-8", date_style="serial_text", uni_column="学校标识码"),
    dict(date_style="mixed", title=True, footer_total=True),
    dict(date_style="iso", footer_filler=True),
    dict(header_mode="national"),
)


@dataclass
class FileTask:
    rel: str  # path relative to raw/
    dataset: str
    frame: pd.DataFrame | None  # Chinese columns; None = build from population (graduates)
    style: mess.FileStyle
    title: str
    footer_date: dt.date
    seed_key: int
    population: tuple | None = None  # (cohort, university_code, date, habits, two_digit)
    resent: list[int] = field(default_factory=list)  # frame row ids that repeat an earlier report


_STATE: dict = {}


def _rng(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng(
        [seed, *[k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]]
    )


def _uni_value(style: mess.FileStyle, uni_row: dict):
    if style.uni_column == "学校标识码":
        return "学校标识码", uni_row["university_id"]
    if style.uni_column == "学校标识码_float":
        return "学校标识码", float(int(uni_row["university_id"]))
    if style.uni_column == "院校名称":
        return "院校名称", uni_row["university_name"]
    return "院校代码", uni_row["university_code"]


def _build_frame(task: FileTask) -> pd.DataFrame:
    if task.frame is not None:
        return task.frame
    cohort, code, when, habits, two_digit = task.population
    idx = _STATE["index"][(cohort, code)]
    sub = {k: v[idx] for k, v in _STATE["cols"].items()}
    return graduates_frame(sub, when, _STATE["emp"], habits, two_digit)


def run_task(task: FileTask) -> tuple[list[tuple], dict]:
    """Build, damage, lay out and write one file; returns its mess records and file facts."""
    out_raw: Path = _STATE["raw"]
    unis: dict = _STATE["unis"]
    rng = _rng(_STATE["seed"], task.seed_key)
    df = _build_frame(task).copy()
    style = task.style
    levels = None
    if "院校代码" in df.columns and style.uni_column != "院校代码":
        codes = df["院校代码"].to_numpy()
        col, _ = _uni_value(style, unis[codes[0]])
        vals = [_uni_value(style, unis[c])[1] if c in unis else c for c in codes]
        df.insert(df.columns.get_loc("院校代码"), col, vals)
        df = df.drop(columns="院校代码")
    if task.dataset == "graduates":
        levels = (
            df["学历层次"]
            .astype(str)
            .str[:2]
            .map(
                {
                    "博士": "研究生",
                    "硕士": "研究生",
                    "01": "研究生",
                    "11": "研究生",
                    "13": "研究生",
                    "03": "研究生",
                }
            )
        )
        df["_sheet"] = levels.fillna("本科生").to_numpy()
    if style.header_mode == "national":
        df = mess.national_values(df)
    if style.major_numeric:
        for col in ("专业代码",):
            df[col] = pd.Series(
                [int(v) if isinstance(v, str) and v.isdigit() else v for v in df[col]],
                index=df.index,
                dtype=object,
            )
        if "学历层次" in df and df["学历层次"].astype(str).str.fullmatch(r"\d{2}").all():
            df["学历层次"] = pd.Series(
                [int(v) for v in df["学历层次"]], index=df.index, dtype=object
            )
    df, row_recs = mess.apply_row_mess(df, task.dataset, style, rng, UNKNOWN)
    records: list[tuple] = []
    sheets: list[Sheet] = []
    parts = [("Sheet1", df)]
    if "_sheet" in df.columns:
        if style.multi_sheet:
            parts = [
                (name, part.drop(columns="_sheet"))
                for name, part in df.groupby("_sheet", sort=True)
            ]
        else:
            parts = [("Sheet1", df.drop(columns="_sheet"))]
    pos_by_sheet = {}
    for name, part in parts:
        sheet, pos, kinds = mess.layout(
            part.copy(), task.dataset, style, rng, task.title, task.footer_date
        )
        sheet.name = name
        sheets.append(sheet)
        pos_by_sheet[name] = pos
        for row, kind, expected in kinds:
            records.append((row, name, "", kind, expected))
    if style.multi_sheet:
        sheets.append(
            Sheet(
                "填表说明",
                [
                    ["填表说明"],
                    ["1. 学号、身份证号请设置为文本格式"],
                    ["2. 毕业去向类别代码按教育部标准填写"],
                ],
            )
        )
    sheet_of = {i: name for name, pos in pos_by_sheet.items() for i in pos}
    for rid, col, kind, expected in row_recs:
        name = sheet_of.get(rid)
        if name is not None:
            records.append((pos_by_sheet[name][rid], name, col, kind, expected))
    for rid in task.resent:
        name = sheet_of.get(rid)
        if name is not None:
            records.append((pos_by_sheet[name][rid], name, "", "resent_duplicate", "merged"))
    fmt = style.fmt
    path = out_raw / task.rel
    used = write_sheets(path, sheets, fmt, style.encoding)
    file_kinds = []
    if fmt == "csv":
        file_kinds.append(
            (
                {
                    "gbk": "encoding_gbk",
                    "gb18030": "encoding_gbk",
                    "utf-8-sig": "encoding_utf8_bom",
                    "utf-8": "encoding_utf8",
                }[used or "utf-8"],
                "accepted",
            )
        )
    if fmt == "xls":
        file_kinds.append(("format_xls", "accepted"))
    if fmt == "corrupt":
        file_kinds.append(("unreadable_file", "file_unreadable"))
    if style.header_mode != "zh":
        file_kinds.append((f"header_{style.header_mode}", "repaired"))
    if style.blank_column:
        file_kinds.append(("blank_column", "skipped"))
    if (style.uni_column != "院校代码" and task.dataset != "platform") or (
        task.dataset == "platform" and style.uni_column != "院校代码"
    ):
        file_kinds.append(
            (
                {
                    "学校标识码": "university_id",
                    "学校标识码_float": "university_id_float",
                    "院校名称": "university_name",
                }[style.uni_column],
                "repaired",
            )
        )
    if style.date_style not in ("cell", "iso") and task.dataset in mess.DATE_COLUMNS:
        file_kinds.append((f"date_{style.date_style}", "repaired"))
    if style.major_numeric:
        file_kinds.append(("major_code_as_number", "repaired"))
    if style.multi_sheet:
        file_kinds.append(("multi_sheet", "accepted"))
    rel = task.rel
    out_records = [
        (rel, sheet if fmt in ("xlsx", "xls", "corrupt") else "", row, col, kind, expected)
        for row, sheet, col, kind, expected in records
    ]
    out_records += [(rel, "", "", "", kind, expected) for kind, expected in file_kinds]
    n_data = sum(len(p) for _, p in parts)
    facts = {
        "file": rel,
        "dataset": task.dataset,
        "format": fmt,
        "encoding": used or "",
        "sheets": len(sheets),
        "data_rows": n_data,
        "folder": rel.split("/")[0],
    }
    return out_records, facts


def _pick_specials(
    u: pd.DataFrame, rng: np.random.Generator, cfg: SizeConfig
) -> dict[str, set[str]]:
    """Universities that carry the Ministry's warning signals and the follow-up laggards."""
    codes = u["university_code"].tolist()
    protected = {"10386"}
    pool = [c for c in codes if c not in protected]
    order = list(rng.permutation(pool))
    n_jump = 1 if len(codes) < 20 else 2
    zk_private = [c for c in order if (u.set_index("university_code").loc[c, "tier"] == "专科民办")]
    flexible = {zk_private[0] if zk_private else order[0]}
    rest = [c for c in order if c not in flexible]
    jump = set(rest[:n_jump])
    rest = rest[n_jump:]
    silent = rest[0]
    k = max(1, len(codes) // 8)
    behind = set(rest[1 : 1 + k])
    laggards = set(rest[1 + k : 1 + 2 * k])
    weak = set(rest[1 + 2 * k : 2 + 2 * k])
    n_batch = 2 if len(codes) < 20 else 3
    batch = set(rest[2 + 2 * k : 2 + 2 * k + n_batch])
    return {
        "flexible": flexible,
        "jump": jump,
        "silent": {silent},
        "behind": behind,
        "laggards": laggards,
        "weak": weak,
        "batch": batch,
    }


def _folder_dates(cfg: SizeConfig, policy, cohort: int) -> list[tuple[dt.date, int]]:
    out = [(policy.date(md, cohort), cohort) for md in cfg.current_snapshots]
    out += [(policy.date(md, cohort - 1), cohort - 1) for md in cfg.previous_snapshots]
    for c in (cohort - 3, cohort - 2):
        out += [(policy.date(md, c), c) for md in cfg.trend_snapshots]
    return sorted(out)


def _assign_folders(report: np.ndarray, folders: list[dt.date]) -> np.ndarray:
    """Index of the first folder on or after each report date (len(folders) = not yet reported)."""
    f = np.array(folders, dtype="datetime64[D]")
    return np.searchsorted(f, np.asarray(report, dtype="datetime64[D]"), side="left")


def generate_province(
    cfg: SizeConfig,
    out: Path,
    seed: int,
    mess_rate: float | None = None,
    workers: int | None = None,
) -> str:
    policy = load_policy()
    cohort = policy.notice.cohort
    cohort_list = [cohort - 3, cohort - 2, cohort - 1, cohort]
    rate = cfg.mess_rate if mess_rate is None else float(mess_rate)
    out = Path(out)
    raw, truth_dir = out / "raw", out / "ground_truth"
    for d in (raw, truth_dir):
        reset_dir(d)

    # --- population ----------------------------------------------------------------------------
    all_unis = fujian_universities()
    if cfg.universities is not None:
        all_unis = all_unis.set_index("university_code").loc[list(cfg.universities)].reset_index()
    u = cohorts.plan_universities(all_unis, cfg.scale, _rng(seed, "universities"))
    pts = cohorts.plan_points(u, cfg.scale, _rng(seed, "points"))
    pts = cohorts.designate(pts, cfg.scale, policy, _rng(seed, "designate"), must_have=("10386",))
    rates = cohorts.point_rates(pts, u, cohort_list, policy, _rng(seed, "rates"))
    employers = employer_pool(_rng(seed, "employers"), cfg.employers)
    specials = _pick_specials(u, _rng(seed, "specials"), cfg)
    g, truth = cohorts.graduates(
        pts,
        rates,
        u,
        employers,
        policy,
        _rng(seed, "graduates"),
        flexible_unis=specials["flexible"],
        jump_unis=specials["jump"],
        batch_unis=specials["batch"],
    )
    grads = g[g["is_graduate"]]
    prev = grads[grads["cohort"] == cohort - 1].groupby("university_code")["placed_initial"].mean()
    u["baseline_true"] = u["university_code"].map(prev).fillna(policy.placement.provincial_average)

    # --- habits (legitimate variants) ----------------------------------------------------------
    hrng = _rng(seed, "habits")
    habits = {}
    for code in u["university_code"]:
        habits[code] = Habits(
            three_digit_codes=bool(hrng.random() < 0.6),
            level_style=("label", "label", "code", "short")[hrng.integers(4)],
            gender_digits=bool(hrng.random() < 0.25),
            group_sep=SEPARATORS[hrng.integers(len(SEPARATORS))],
            english_prefix=bool(hrng.random() < 0.1),
        )
    unis = {
        r["university_code"]: r
        for r in u[["university_code", "university_id", "university_name"]].to_dict("records")
    }
    folders = _folder_dates(cfg, policy, cohort)
    current_folders = [d for d, c in folders if c == cohort]
    initial = policy.date(policy.placement.initial_snapshot, cohort)
    index = {k: v for k, v in g.groupby(["cohort", "university_code"], sort=True).indices.items()}
    index = {(int(k[0]), k[1]): v for k, v in index.items()}

    # --- activity --------------------------------------------------------------------------------
    recruit, recruit_truth = activity.recruitment(
        u, policy, cohort, _rng(seed, "recruitment"), silent_uni=next(iter(specials["silent"]))
    )
    visit, visit_truth = activity.visits(
        u, employers, policy, cohort, _rng(seed, "visits"), behind=specials["behind"]
    )
    n_by_uni = g[g["cohort"] == cohort].groupby("university_code").size().to_dict()
    plat, plat_truth = activity.platform(
        u,
        n_by_uni,
        current_folders,
        cohort,
        policy,
        _rng(seed, "platform"),
        laggards=specials["laggards"],
    )
    assist, assist_truth = activity.assistance(
        g, employers, policy, cohort, _rng(seed, "assistance"), weak=specials["weak"]
    )

    # --- file tasks ------------------------------------------------------------------------------
    tasks: list[FileTask] = []

    def style_for(dataset, n_rows, rel):
        if rate <= 0:
            return mess.FileStyle()
        return mess.plan_style(_rng(seed, "style", rel), dataset, rate, n_rows, allow_xls=True)

    from helpers.runner.catalog import safe_name  # file names from data: one slugger

    def name_for(dataset, code, folder, ext_fmt="xlsx", sub=""):
        zh, en = PREFIX[dataset]
        if habits[code].english_prefix:
            base = f"{en}_{code}"
        else:
            base = f"{zh}_{code}_{safe_name(unis[code]['university_name'])}"
        return f"{folder}/{sub}{base}"

    for d, c in folders:
        folder = d.isoformat()
        two_digit = c < cohort - 1
        for code in u["university_code"]:
            if (c, code) not in index:
                continue
            n_rows = len(index[(c, code)])
            stem = name_for("graduates", code, folder)
            st = style_for("graduates", n_rows, stem)
            tasks.append(
                FileTask(
                    rel=stem,
                    dataset="graduates",
                    frame=None,
                    style=st,
                    title=mess.TITLES["graduates"].format(cohort=c, year=c),
                    footer_date=d,
                    seed_key=zlib.crc32(stem.encode()),
                    population=(c, code, d, habits[code], two_digit),
                )
            )
    # activity records go to the first current-year folder on or after their report date
    resend_rate = 0.0 if rate <= 0 else min(0.05, rate * 10)
    act_frames = {"recruitment": recruit, "visits": visit, "assistance": assist}
    if not cfg.per_university_platform:
        act_frames["platform"] = plat
    for dataset, frame in act_frames.items():
        fidx = _assign_folders(frame["report_date"].to_numpy(), current_folders)
        frame = frame.assign(_folder=fidx)
        rrng = _rng(seed, "resend", dataset)
        resend = (rrng.random(len(frame)) < resend_rate) & (fidx + 1 < len(current_folders))
        group_cols = ["_folder"] if dataset == "platform" else ["_folder", "院校代码"]
        for key, part in frame[frame["_folder"] < len(current_folders)].groupby(
            group_cols, sort=True
        ):
            fi = int(key[0]) if isinstance(key, tuple) else int(key)
            folder = current_folders[fi].isoformat()
            prev_rows = (
                frame[(frame["_folder"] == fi - 1) & resend[frame.index]]
                if fi > 0
                else frame.iloc[:0]
            )
            if dataset != "platform":
                code = key[1]
                prev_rows = prev_rows[prev_rows["院校代码"] == code]
                sub = (
                    f"{code}_{safe_name(unis[code]['university_name'])}/"
                    if (cfg.name == "demo" and code == u["university_code"].iloc[-2])
                    else ""
                )
                stem = name_for(dataset, code, folder, sub=sub)
            else:
                stem = f"{folder}/platform_{folder}" if fi % 2 else f"{folder}/平台_全省汇总"
            body = part.drop(columns=["report_date", "_folder"]).reset_index(drop=True)
            resent_ids = []
            if len(prev_rows):
                extra = prev_rows.drop(columns=["report_date", "_folder"]).reset_index(drop=True)
                resent_ids = list(range(len(body), len(body) + len(extra)))
                body = pd.concat([body, extra], ignore_index=True)
            st = style_for(dataset, len(body), stem)
            title = mess.TITLES[dataset].format(cohort=cohort, year=cohort)
            tasks.append(
                FileTask(
                    rel=stem,
                    dataset=dataset,
                    frame=body.astype(object),
                    style=st,
                    title=title,
                    footer_date=current_folders[fi],
                    seed_key=zlib.crc32(stem.encode()),
                    resent=resent_ids,
                )
            )
    if cfg.per_university_platform:
        fidx = _assign_folders(plat["report_date"].to_numpy(), current_folders)
        for (fi, code), part in plat.assign(_f=fidx).groupby(["_f", "院校代码"], sort=True):
            folder = current_folders[int(fi)].isoformat()
            stem = name_for("platform", code, folder)
            body = part.drop(columns=["report_date", "_f"]).reset_index(drop=True).astype(object)
            tasks.append(
                FileTask(
                    rel=stem,
                    dataset="platform",
                    frame=body,
                    style=style_for("platform", 1, stem),
                    title=mess.TITLES["platform"],
                    footer_date=current_folders[int(fi)],
                    seed_key=zlib.crc32(stem.encode()),
                )
            )
    if cfg.ensure_every_form and rate > 0:
        _force_demo_forms(tasks, initial.isoformat())
    # one unreadable file per run: a broken re-upload next to the real file
    if rate > 0:
        target = next(
            t for t in tasks if t.dataset == "visits" and t.rel.startswith(initial.isoformat())
        )
        tasks.append(
            replace(
                target,
                rel=target.rel.replace("访企拓岗_", "访企拓岗_重报_").replace(
                    "visits_", "visits_resend_"
                ),
                style=replace(mess.FileStyle(), fmt="corrupt"),
                resent=[],
                seed_key=target.seed_key + 1,
            )
        )
    for t in tasks:
        t.rel = t.rel + EXT[t.style.fmt]

    # --- write -----------------------------------------------------------------------------------
    cols, emp = columns_of(g, employers)
    _STATE.update(cols=cols, index=index, emp=emp, raw=raw, unis=unis, seed=seed)
    n_workers = workers if workers is not None else cfg.workers
    n_workers = max(1, min(n_workers, os.cpu_count() or 1))
    if n_workers > 1:
        # big files first so the pool stays busy
        order = sorted(
            range(len(tasks)),
            key=lambda i: (
                -(
                    len(index[(tasks[i].population[0], tasks[i].population[1])])
                    if tasks[i].population
                    else len(tasks[i].frame)
                )
            ),
        )
        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("fork")) as pool:
            results_unordered = list(
                progress(
                    pool.map(run_task, [tasks[i] for i in order], chunksize=4),
                    total=len(tasks),
                    desc="生成文件 files",
                )
            )
        results = [None] * len(tasks)
        for i, r in zip(order, results_unordered, strict=True):
            results[i] = r
    else:
        results = [run_task(t) for t in progress(tasks, desc="生成文件 files")]
    _STATE.clear()

    mess_rows = [r for recs, _ in results for r in recs]
    files = pd.DataFrame([f for _, f in results])
    mess_df = pd.DataFrame(
        mess_rows, columns=["file", "sheet", "row", "column", "kind", "expected"]
    )
    mess_df["row"] = pd.array([None if r == "" else int(r) for r in mess_df["row"]], dtype="Int64")
    mess_df = mess_df.sort_values(
        ["file", "sheet", "row", "kind"], na_position="first", kind="stable"
    )

    # --- reference files ---------------------------------------------------------------------------
    _write_reference(raw, u, truth, policy, cohort, _rng(seed, "reference"), rate)
    sub_truth = _write_submissions(raw, u, truth, policy, cohort, _rng(seed, "submissions"), rate)

    # --- ground truth ------------------------------------------------------------------------------
    _write_truth(
        truth_dir,
        truth,
        u,
        g,
        specials,
        recruit_truth,
        visit_truth,
        plat_truth,
        assist_truth,
        mess_df,
        files,
        folders,
        cohort,
        policy,
    )
    sub_truth.to_csv(truth_dir / "submissions.csv", index=False, encoding="utf-8")
    return _summary(cfg, out, seed, g, truth, files, mess_df, folders, cohort)


def reset_dir(d: Path) -> None:
    """Empty a generated folder (keeping a tracked ``.gitkeep``), creating it when missing."""
    d.mkdir(parents=True, exist_ok=True)
    for child in d.iterdir():
        if child.name == ".gitkeep":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _force_demo_forms(tasks: list[FileTask], initial: str) -> None:
    """Demo: put every mess form of the contract into the initial-date folder."""
    grads = [t for t in tasks if t.dataset == "graduates" and t.rel.startswith(initial)]
    for t, over in zip(grads, _DEMO_GRADUATE_STYLES, strict=False):
        t.style = replace(mess.FileStyle(row_rate=t.style.row_rate or 0.002), **over)
    every = tuple(mess.ROW_FORMS["graduates"])
    for t in grads[1:4]:
        t.style = replace(t.style, forced_rows=every)
    for dataset in ("recruitment", "visits", "platform", "assistance"):
        acts = sorted(
            (t for t in tasks if t.dataset == dataset and t.rel.startswith(initial)),
            key=lambda t: -len(t.frame),
        )
        if acts:
            acts[0].style = replace(
                acts[0].style,
                forced_rows=tuple(mess.ROW_FORMS[dataset]),
                title=True,
                footer_total=True,
            )
            if len(acts) > 1:
                acts[1].style = replace(
                    acts[1].style, fmt="csv", encoding="gbk", header_mode="en", date_style="chinese"
                )
    # resent duplicates must occur at least once
    if not any(t.resent for t in tasks if t.rel.startswith(initial)):
        for t in tasks:
            if (
                t.dataset == "visits"
                and t.rel.startswith(initial)
                and t.frame is not None
                and len(t.frame)
            ):
                extra = t.frame.iloc[[0]]
                t.frame = pd.concat([t.frame, extra], ignore_index=True)
                t.resent = [len(t.frame) - 1]
                break


def _write_reference(
    raw: Path,
    u: pd.DataFrame,
    truth: pd.DataFrame,
    policy,
    cohort: int,
    rng: np.random.Generator,
    rate: float,
) -> None:
    ref = raw / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    base = u["baseline_true"].to_numpy()
    form = rng.integers(0, 3, len(u))
    text = np.where(
        form == 0,
        np.char.add(np.round(base * 100, 2).astype(str), "%"),
        np.round(base, 4).astype(str),
    )
    blank = np.zeros(len(u), dtype=bool)
    if rate > 0:
        blank[rng.choice(len(u), size=max(1, len(u) // 40), replace=False)] = True
    df = pd.DataFrame(
        {
            "学校标识码": u["university_id"],
            "院校代码": u["university_code"],
            "院校名称": u["university_name"],
            "办学层次": u["school_level"],
            "办学性质": u["ownership"],
            "所在地": u["city"],
            "上年初次毕业去向落实率": np.where(blank, "", text),
        }
    )
    sheet = Sheet("院校名单", [list(df.columns), *df.to_numpy().tolist()])
    (ref / "universities.csv").write_bytes(csv_bytes(sheet, "utf-8-sig")[0])


def _flagged_previous(truth: pd.DataFrame, policy, cohort: int) -> list[str]:
    """Universities whose previous cohort had 专业点 (n >= policy minimum) truly below the
    threshold at the initial date: they owe an adjustment plan this year."""
    thr, min_n = policy.majors.threshold, policy.majors.min_graduates
    prev = truth[(truth["cohort"] == cohort - 1) & (truth["n_graduates"] >= min_n)]
    return sorted(
        prev.loc[prev["realised_initial"] / prev["n_graduates"] < thr, "university_code"].unique()
    )


def _write_submissions(
    raw: Path,
    u: pd.DataFrame,
    truth: pd.DataFrame,
    policy,
    cohort: int,
    rng: np.random.Generator,
    rate: float,
) -> pd.DataFrame:
    """``raw/reference/报送情况.csv``: the documents of policy ``submissions`` as the department's
    register records them (院校代码, 报送事项, 报送日期 in mixed date forms); most on time, some on
    the deadline day, some late, some missing, a resend. Returns the truth: per university and
    item owed, the first receipt (or none) and the status at the initial reporting date."""
    flagged = set(_flagged_previous(truth, policy, cohort))
    initial = policy.date(policy.placement.initial_snapshot, cohort)
    rows, out = [], []

    def text(d: dt.date) -> str:
        f = rng.integers(0, 3)
        if f == 0:
            return d.isoformat()
        return f"{d.year}/{d.month}/{d.day}" if f == 1 else f"{d.year}年{d.month}月{d.day}日"

    for it in policy.submissions.items:
        deadline = policy.date(it.deadline, cohort)
        owe = [c for c in u["university_code"] if it.applies_to == "all" or c in flagged]
        for code in owe:
            r = rng.random()
            if r < 0.12:
                d = None  # nothing received
            elif r < 0.32:
                d = deadline + dt.timedelta(days=int(rng.integers(1, 45)))
            elif r < 0.42:
                d = deadline  # on the deadline day: on time
            else:
                d = deadline - dt.timedelta(days=int(rng.integers(1, 40)))
            if d is not None:
                rows.append([code, it.item, text(d)])
                if rng.random() < 0.1:  # a revised version sent later: the first one counts
                    rows.append(
                        [code, it.item, text(d + dt.timedelta(days=int(rng.integers(3, 20))))]
                    )
            status = (
                "未报送（已逾期）"
                if d is None and initial > deadline
                else "未报送（未到截止日期）"
                if d is None
                else "按期报送"
                if d <= deadline
                else "逾期报送"
            )
            out.append((code, it.item, deadline, d, status))
    if rate > 0 and rows:
        # a row the register should not hold (an item the notice does not ask for): quarantined
        rows.insert(int(rng.integers(len(rows))), [rows[0][0], "招聘简章", text(initial)])
    order = rng.permutation(len(rows))
    sheet = Sheet("报送情况", [["院校代码", "报送事项", "报送日期"], *[rows[i] for i in order]])
    (raw / "reference" / "报送情况.csv").write_bytes(csv_bytes(sheet, "utf-8-sig")[0])
    return pd.DataFrame(
        out, columns=["university_code", "item", "deadline", "received_date", "status"]
    )


def _write_truth(
    d: Path,
    truth,
    u,
    g,
    specials,
    recruit_truth,
    visit_truth,
    plat_truth,
    assist_truth,
    mess_df,
    files,
    folders,
    cohort,
    policy,
) -> None:
    cols = [
        "university_code",
        "education_level",
        "major_code",
        "major_name",
        "cohort",
        "n_graduates",
        "true_rate_initial",
        "true_rate_year_end",
        "truly_below",
        "below_two_cohorts",
        "designation",
        "realised_initial",
        "realised_year_end",
    ]
    t = truth[cols].copy()
    t["true_rate_initial"] = t["true_rate_initial"].round(6)
    t["true_rate_year_end"] = t["true_rate_year_end"].round(6)
    t.to_csv(d / "major_points.csv", index=False, encoding="utf-8")
    grads = g[g["is_graduate"]]
    per = (
        grads.groupby(["university_code", "cohort"])
        .agg(
            n_graduates=("p_initial", "size"),
            true_rate_initial=("p_initial", "mean"),
            true_rate_year_end=("p_year_end", "mean"),
            realised_initial=("placed_initial", "sum"),
            realised_year_end=("placed_year_end", "sum"),
        )
        .reset_index()
    )
    per["true_rate_initial"] = per["true_rate_initial"].round(6)
    per["true_rate_year_end"] = per["true_rate_year_end"].round(6)
    meta = u[
        ["university_code", "university_name", "school_level", "ownership", "tier", "baseline_true"]
    ]
    uni = per.merge(meta, on="university_code").rename(columns={"baseline_true": "baseline_rate"})
    uni["baseline_rate"] = uni["baseline_rate"].round(4)
    uni.to_csv(d / "universities.csv", index=False, encoding="utf-8")
    sig = []
    jumps = g[g["late_jump"]].groupby("university_code").size()
    for code in sorted(specials["jump"]):
        sig.append(
            (
                code,
                "late_august_jump",
                f"{int(jumps.get(code, 0))} placements moved to the last 12 days",
            )
        )
    for code in sorted(specials["flexible"]):
        sig.append((code, "high_flexible_share", "12/76/75 shares boosted x3.5/x5/x4"))
    for _, r in recruit_truth.iterrows():
        sig.append((r["university_code"], r["signal"], r["detail"]))
    for code in sorted(specials["behind"]):
        sig.append(
            (code, "behind_visit_targets", "distinct employers and new employers below target")
        )
    for code in sorted(specials["laggards"]):
        sig.append((code, "platform_laggard", "follow and binding rates below the policy minimum"))
    for code in sorted(specials["batch"]):
        sig.append(
            (
                code,
                "batch_entry",
                "placements entered in bulk in the last days before each calendar checkpoint",
            )
        )
    for code in sorted(specials["weak"]):
        sig.append((code, "weak_assistance", "about half of the group graduates miss the 3个3"))
    pd.DataFrame(sig, columns=["university_code", "signal", "detail"]).to_csv(
        d / "signals.csv", index=False, encoding="utf-8"
    )
    act = visit_truth.merge(plat_truth, on="university_code", how="left").merge(
        assist_truth, on="university_code", how="left"
    )
    act.to_csv(d / "activity.csv", index=False, encoding="utf-8")
    ch = (
        g.assign(
            code_change=g["change_date"].notna() & g["placed_year_end"],
            broken_contract=g["break_date"].notna(),
        )
        .groupby(["cohort", "university_code"])
        .agg(
            code_changes=("code_change", "sum"),
            broken_contracts=("broken_contract", "sum"),
            late_jumps=("late_jump", "sum"),
        )
        .reset_index()
    )
    ch.to_csv(d / "changes.csv", index=False, encoding="utf-8")
    snaps = []
    for day, c in folders:
        sub = g[g["cohort"] == c]
        code, _ = cohorts.state_at(sub, np.datetime64(day, "D"))
        placed = np.array([isinstance(x, str) and x[:2] not in ("70", "71", "72") for x in code])
        known = np.array([isinstance(x, str) for x in code])
        frame = pd.DataFrame(
            {
                "university_code": sub["university_code"].to_numpy(),
                "is_graduate": sub["is_graduate"].to_numpy(),
                "placed": placed & sub["is_graduate"].to_numpy(),
                "known": known,
            }
        )
        agg = (
            frame.groupby("university_code")
            .agg(
                rows=("placed", "size"),
                graduates=("is_graduate", "sum"),
                placed=("placed", "sum"),
                recorded=("known", "sum"),
            )
            .reset_index()
        )
        agg.insert(0, "cohort", c)
        agg.insert(0, "snapshot_date", day.isoformat())
        snaps.append(agg)
    pd.concat(snaps).to_csv(d / "snapshots.csv", index=False, encoding="utf-8")
    mess_df.to_csv(d / "mess.csv", index=False, encoding="utf-8")
    files.sort_values("file").to_csv(d / "files.csv", index=False, encoding="utf-8")


def _summary(cfg, out, seed, g, truth, files, mess_df, folders, cohort) -> str:
    cur = truth[truth["cohort"] == cohort]
    n_cur = int(g[(g["cohort"] == cohort) & g["is_graduate"]].shape[0])
    kinds = mess_df["kind"].value_counts()
    lines = [
        f"synthetic {cfg.name} data (seed {seed}) -> {out}",
        f"  院校 universities: {g['university_code'].nunique()}   "
        f"{cohort}届毕业生 graduates: {n_cur:,}   cohorts: {sorted(g['cohort'].unique().tolist())}",
        f"  快照 snapshot folders: {len(folders)} ({folders[0][0]} … {folders[-1][0]})   "
        f"文件 files: {len(files)}",
        f"  专业点 points ({cohort}): {len(cur)}   低于阈值 truly below threshold: "
        f"{int(cur['truly_below'].sum())}   decoys: {int((cur['designation'] == 'decoy').sum())}",
        f"  脏数据 mess records: {len(mess_df)} ({len(kinds)} kinds)   "
        f"真值 ground truth: {out / 'ground_truth'}",
    ]
    return "\n".join(lines)
