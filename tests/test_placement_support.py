"""Support for the placement tests: processed-shaped frames and a processed-data layout built
from constructed records (no generator or ingest needed). Holds no tests itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.codes import GROUP_COLUMNS, classify_destinations, discipline_of
from helpers.config import load_policy
from helpers.datasets import PROCESSED_COLUMNS

POLICY = load_policy(2023)


def _classify(codes) -> pd.DataFrame:
    return classify_destinations(
        pd.Series(list(codes), dtype="string"),
        POLICY.placement.not_placed_codes,
        POLICY.placement.not_placed_prefixes,
    )


def block(
    university: str,
    n: int,
    placed: int,
    *,
    codes_placed=("10",),
    code_unplaced="70",
    unknown: int = 0,
    snapshot="2023-08-31",
    cohort=2023,
    level="本科",
    major=("080901", "计算机科学与技术"),
    department="计算机学院",
    gender="男",
    urban_rural="城镇",
    groups=(),
    in_denominator=True,
) -> pd.DataFrame:
    """``n`` graduates of one kind: the first ``placed`` placed (codes cycling through
    ``codes_placed``), the next ``unknown`` with nothing recorded, the rest ``code_unplaced``."""
    if placed + unknown > n:
        raise ValueError("placed + unknown > n")
    codes = (
        [codes_placed[i % len(codes_placed)] for i in range(placed)]
        + [None] * unknown
        + [code_unplaced] * (n - placed - unknown)
    )
    cls = _classify(codes)
    dcode, dname = discipline_of(level, major[0])
    return pd.DataFrame(
        {
            "student_key": [f"{university}-{cohort}-{snapshot}-{i}" for i in range(n)],
            "university_code": university,
            "cohort": cohort,
            "education_level": level,
            "graduation_status": "毕业" if in_denominator else "结业",
            "in_denominator": in_denominator,
            "major_code": major[0],
            "major_name": major[1],
            "discipline_code": dcode,
            "discipline_name": dname,
            "department": department,
            "gender": gender,
            "urban_rural": urban_rural,
            "difficulty_category": None,
            **{col: (label in groups) for label, col in GROUP_COLUMNS.items()},
            "willing_to_work": True,
            "destination_code": pd.Series(codes, dtype="string"),
            "destination_known": cls["destination_known"].to_numpy(),
            "placed": cls["placed"].to_numpy(),
            "bucket_2024": cls["bucket_2024"],
            "bucket_2021": cls["bucket_2021"],
            "placement_date": pd.NaT,
            "employer_name": None,
            "employer_credit_code": None,
            "employer_type_code": None,
            "employer_industry_code": None,
            "employer_region_code": None,
            "origin_region_code": None,
            "snapshot_date": pd.Timestamp(snapshot),
            "source_file": "constructed.xlsx",
            "source_row": np.arange(2, n + 2),
        },
        index=range(n),
    )


def frame(*blocks: pd.DataFrame) -> pd.DataFrame:
    """Stack blocks into one frame with exactly the processed graduates columns and dtypes."""
    df = pd.concat(blocks, ignore_index=True)
    out = {}
    for col, dtype in PROCESSED_COLUMNS["graduates"].items():
        s = df[col]
        out[col] = s.astype("category") if dtype == "category" else s.astype(dtype)
    return pd.DataFrame(out)


def universities(rows) -> pd.DataFrame:
    """Universities reference from (code, name, level, baseline) tuples."""
    return pd.DataFrame(
        {
            "university_id": ["41350" + r[0] for r in rows],
            "university_code": [r[0] for r in rows],
            "university_name": [r[1] for r in rows],
            "school_level": [r[2] for r in rows],
            "ownership": "公办",
            "city": "福州市",
            "baseline_rate": [r[3] for r in rows],
        }
    ).astype(PROCESSED_COLUMNS["universities"])


# --- a small processed province (several snapshots of two cohorts) ---------------------------
LAYOUT_UNIVERSITIES = [
    # code, name, level, size, propensity, baseline
    ("10386", "福州大学", "本科", 900, 0.80, 0.78),
    ("10384", "厦门大学", "本科", 700, 0.86, 0.85),
    ("10395", "闽江学院", "本科", 500, 0.72, np.nan),
    ("11502", "福州职业技术学院", "专科", 600, 0.84, 0.80),
    ("12626", "福建信息职业技术学院", "专科", 400, 0.66, 0.66),
    ("19999", "福建测试新设学院", "本科", 120, 0.55, np.nan),  # a code the generator never makes
]
LAYOUT_MAJORS = {
    "本科": [("080901", "计算机科学与技术"), ("050201", "英语"), ("120203K", "会计学")],
    "专科": [("510201", "计算机应用技术"), ("530302", "大数据与会计"), ("570102", "学前教育")],
}
NEW_MAJOR = ("080999T", "新设试点专业")  # well-formed 本科 code outside the catalogue subset
LAYOUT_SNAPSHOTS = {
    2022: ["2022-06-30", "2022-08-31", "2022-12-31"],
    2023: ["2023-05-31", "2023-06-30", "2023-07-31", "2023-08-15", "2023-08-31"],
}


def build_layout(data_dir: Path, seed: int = 7) -> Path:
    """Write data_dir/processed/<date>/ (graduates, universities, manifest) for every snapshot.

    Each graduate gets a final outcome and a day of the year on which a placed graduate is placed,
    so snapshots are cumulative like real ones. University 19999 has only the new major 080999T.
    """
    rng = np.random.default_rng(seed)
    uni = universities([(u[0], u[1], u[2], u[5]) for u in LAYOUT_UNIVERSITIES])
    for cohort, days in LAYOUT_SNAPSHOTS.items():
        parts = []
        for code, _name, level, size, base, _baseline in LAYOUT_UNIVERSITIES:
            n = size - (40 if cohort == 2022 else 0)
            majors = [NEW_MAJOR] if code == "19999" else LAYOUT_MAJORS[level]
            m = rng.integers(0, len(majors), n)
            p = np.clip(base + rng.normal(0, 0.05, len(majors))[m], 0.05, 0.98)
            groups = rng.random((n, len(GROUP_COLUMNS))) < [0.06, 0.04, 0.01, 0.01, 0.005]
            parts.append(
                pd.DataFrame(
                    {
                        "university_code": code,
                        "education_level": level,
                        "major_code": [majors[i][0] for i in m],
                        "major_name": [majors[i][1] for i in m],
                        "final": rng.random(n) < p,
                        "day": rng.integers(60, 300, n),
                        "code_placed": rng.choice(
                            ["10", "11", "12", "76", "75", "801", "85", "502"],
                            n,
                            p=[0.35, 0.2, 0.12, 0.08, 0.03, 0.14, 0.03, 0.05],
                        ),
                        "code_unplaced": rng.choice(
                            ["70", "71", "72", None], n, p=[0.6, 0.2, 0.1, 0.1]
                        ),
                        "gender": rng.choice(["男", "女", None], n, p=[0.5, 0.48, 0.02]),
                        "urban_rural": rng.choice(["城镇", "农村"], n),
                        "department": [f"第{k}学院" for k in rng.integers(1, 4, n)],
                        "graduation_status": rng.choice(["毕业", "结业"], n, p=[0.98, 0.02]),
                        **{col: groups[:, j] for j, col in enumerate(GROUP_COLUMNS.values())},
                    }
                )
            )
        people = pd.concat(parts, ignore_index=True)
        disc = [
            discipline_of(lv, mc)
            for lv, mc in zip(people["education_level"], people["major_code"], strict=True)
        ]
        for day in days:
            when = pd.Timestamp(day)
            now = people["final"] & (people["day"] <= when.day_of_year)
            codes = np.where(now, people["code_placed"], people["code_unplaced"])
            cls = _classify(codes)
            g = pd.DataFrame(
                {
                    "student_key": [f"{cohort}-{i:06d}" for i in range(len(people))],
                    "university_code": people["university_code"],
                    "cohort": cohort,
                    "education_level": people["education_level"],
                    "graduation_status": people["graduation_status"],
                    "in_denominator": people["graduation_status"] == "毕业",
                    "major_code": people["major_code"],
                    "major_name": people["major_name"],
                    "discipline_code": [d[0] for d in disc],
                    "discipline_name": [d[1] for d in disc],
                    "department": people["department"],
                    "gender": people["gender"],
                    "urban_rural": people["urban_rural"],
                    "difficulty_category": None,
                    **{col: people[col] for col in GROUP_COLUMNS.values()},
                    "willing_to_work": True,
                    "destination_code": pd.Series(codes, dtype="string"),
                    "destination_known": cls["destination_known"],
                    "placed": cls["placed"],
                    "bucket_2024": cls["bucket_2024"],
                    "bucket_2021": cls["bucket_2021"],
                    "placement_date": pd.NaT,
                    "employer_name": None,
                    "employer_credit_code": None,
                    "employer_type_code": None,
                    "employer_industry_code": None,
                    "employer_region_code": None,
                    "origin_region_code": None,
                    "snapshot_date": when,
                    "source_file": "constructed.xlsx",
                    "source_row": np.arange(2, len(people) + 2),
                }
            ).astype(PROCESSED_COLUMNS["graduates"])
            folder = Path(data_dir) / "processed" / day
            folder.mkdir(parents=True, exist_ok=True)
            g.to_parquet(folder / "graduates.parquet", index=False)
            uni.to_parquet(folder / "universities.parquet", index=False)
            (folder / "manifest.json").write_text(
                json.dumps({"datasets": {"graduates": {"snapshot_date": day}}}), encoding="utf-8"
            )
    return Path(data_dir)


def shadow_data_dir(source: Path, dest: Path) -> Path:
    """A data dir whose processed files are symlinks to ``source``'s (read-only demo data), in
    real folders, so a report can add files (the disclosure audit) without touching ``source``."""
    for folder in sorted((Path(source) / "processed").iterdir()):
        if not folder.is_dir():
            continue
        target = Path(dest) / "processed" / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            if f.is_file():
                (target / f.name).symlink_to(f.resolve())
    return Path(dest)
