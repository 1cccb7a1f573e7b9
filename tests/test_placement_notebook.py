"""notebooks/placement_rates.ipynb under papermill: the demo province with the notebook's defaults
exactly as an analyst runs it, one university with injected parameters, and a university / major
the generator never produces going through ingest and the report unchanged. The written tables are checked against an independent
recomputation with plain pandas (and statsmodels' Wilson interval) from the processed Parquet."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest
from contract_tables import contract_with
from statsmodels.stats.proportion import proportion_confint
from test_placement_support import shadow_data_dir

from helpers.codes import GROUP_COLUMNS
from helpers.config import load_policy
from helpers.tables import is_difference_column, is_rate_column, read_table

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "placement_rates.ipynb"
AS_OF = "2023-08-31"
POLICY = load_policy(2023)
CONTRACT = contract_with(
    ("placement_by_university", "placement_by_major", "placement_by_group"),
    extra={"placement_by_group": ["suppressed"]},
)
ALSO_WRITTEN = [
    "placement_headline",
    "placement_by_level",
    "placement_by_discipline",
    "placement_by_gender",
    "placement_by_urban_rural",
    "destination_mix",
    "warning_signals",
    "progress",
    "movers",
    "funnel_overdispersion",
    "placement_below_policy",
    "reporting_timeliness",
]


def _execute(out: Path, cwd: Path, notebook: Path = NOTEBOOK, **params) -> nbformat.NotebookNode:
    pm.execute_notebook(
        str(notebook),
        str(out),
        parameters=params or None,
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            # a warning (e.g. a missing glyph) or an error would show up as stderr / error output
            assert o.get("output_type") != "error", o
            assert not (o.get("output_type") == "stream" and o.get("name") == "stderr"), o["text"]
    return nb


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: read_table(p) for p in sorted(root.glob("*.csv"))}


def _check_ranges(tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        for col in df.columns:
            if is_rate_column(col):
                v = pd.to_numeric(df[col], errors="coerce").dropna()
                assert ((v >= 0) & (v <= 1)).all(), (name, col)
            elif is_difference_column(col):
                v = pd.to_numeric(df[col], errors="coerce").dropna()
                assert ((v >= -1) & (v <= 1)).all(), (name, col)
        if {"graduates", "placed"} <= set(df.columns):
            placed = pd.to_numeric(df["placed"], errors="coerce")
            ok = placed.notna()
            assert (placed[ok] <= df.loc[ok, "graduates"]).all(), name
            assert (df["graduates"] >= 0).all(), name
        if {"placement_rate", "ci_low", "ci_high"} <= set(df.columns):
            r = df.dropna(subset=["placement_rate", "ci_low", "ci_high"])
            assert (r["ci_low"] <= r["placement_rate"] + 1e-12).all(), name
            assert (r["placement_rate"] <= r["ci_high"] + 1e-12).all(), name


def _processed(data: Path, day: str = AS_OF) -> pd.DataFrame:
    g = pd.read_parquet(data / "processed" / day / "graduates.parquet")
    return g[g["in_denominator"]]


def _wilson(x, n):
    lo, hi = proportion_confint(
        np.asarray(x), np.asarray(n), alpha=1 - POLICY.statistics.confidence, method="wilson"
    )
    return np.asarray(lo), np.asarray(hi)


def _no_student_keys(nb_path: Path, data: Path) -> None:
    keys = set(
        pd.read_parquet(data / "processed" / AS_OF / "graduates.parquet", columns=["student_key"])[
            "student_key"
        ]
    )
    text = nb_path.read_text(encoding="utf-8")
    tokens = set(re.findall(r"[0-9a-f]{16,}", text))
    assert not (tokens & keys)


@pytest.fixture(scope="module")
def demo_copy(demo_data_dir, tmp_path_factory) -> Path:
    return shadow_data_dir(demo_data_dir, tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture(scope="module")
def project(demo_data_dir, tmp_path_factory) -> Path:
    """A project-shaped folder: notebooks/ (a copy of the notebook) and data/ (the demo's)."""
    project = tmp_path_factory.mktemp("project")
    (project / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, project / "notebooks" / NOTEBOOK.name)
    shadow_data_dir(demo_data_dir, project / "data")
    return project


@pytest.fixture(scope="module")
def province_run(project) -> tuple[Path, Path, nbformat.NotebookNode]:
    """The province report as an analyst runs it: no injected parameters at all, the notebook's
    own defaults (2023-08-31, the whole province, ../data, ../reports), notebooks/ as cwd.
    Its tables, the executed notebook and the notebook as read back."""
    out = project / "defaults.ipynb"
    nb = _execute(out, project / "notebooks", notebook=project / "notebooks" / NOTEBOOK.name)
    return project / "reports" / AS_OF / "tables", out, nb


def test_province_tables_contract_and_ranges(province_run):
    root, _, _ = province_run
    tables = _tables(root)
    for name, cols in CONTRACT.items():
        assert set(cols) <= set(tables[name].columns), (name, cols)
    for name in ALSO_WRITTEN:
        assert name in tables, name
    _check_ranges(tables)


def test_province_tables_match_independent_recomputation(province_run, project):
    root, nb_path, _ = province_run
    demo_copy = project / "data"
    t = _tables(root)
    d = _processed(demo_copy)
    # by university
    exp = d.groupby("university_code").agg(graduates=("placed", "size"), placed=("placed", "sum"))
    got = t["placement_by_university"].set_index("university_code").loc[exp.index]
    assert (got["graduates"] == exp["graduates"]).all() and (got["placed"] == exp["placed"]).all()
    np.testing.assert_allclose(got["placement_rate"], exp["placed"] / exp["graduates"])
    lo, hi = _wilson(exp["placed"], exp["graduates"])
    np.testing.assert_allclose(got["ci_low"], lo, atol=1e-9)
    np.testing.assert_allclose(got["ci_high"], hi, atol=1e-9)
    uni = pd.read_parquet(demo_copy / "processed" / AS_OF / "universities.parquet")
    base = uni.set_index("university_code")["baseline_rate"].reindex(exp.index)
    np.testing.assert_allclose(got["baseline_rate"], base)
    below = got["placement_rate"] < base
    assert (got["below_baseline"].dropna() == below[base.notna()]).all()
    # totals reconcile everywhere
    total = len(d)
    head = t["placement_headline"].iloc[0]
    assert head["graduates"] == total == t["placement_by_university"]["graduates"].sum()
    assert head["placed"] == d["placed"].sum()
    assert head["known"] == d["destination_known"].sum()
    for name in (
        "placement_by_level",
        "placement_by_discipline",
        "placement_by_gender",
        "placement_by_urban_rural",
        "placement_by_major",
    ):
        assert t[name]["graduates"].sum() == total, name
    # by major, with the evidence level rule applied independently
    keys = ["university_code", "education_level", "major_code"]
    em = d.groupby(keys).agg(graduates=("placed", "size"), placed=("placed", "sum"))
    gm = t["placement_by_major"].set_index(keys).loc[em.index]
    assert (gm["graduates"] == em["graduates"]).all() and (gm["placed"] == em["placed"]).all()
    _, mhi = _wilson(em["placed"], em["graduates"])
    rate = em["placed"] / em["graduates"]
    m = POLICY.majors
    level = np.where(
        em["graduates"] < m.min_graduates,
        "insufficient",
        np.where(
            mhi < m.threshold,
            "below_confident",
            np.where(rate < m.threshold, "below_point", "not_below"),
        ),
    )
    assert (gm["evidence_level"].to_numpy() == level).all()
    # groups: every shown cell equals the recomputation; hidden cells are empty, never 0
    grp = t["placement_by_group"]
    for label, col in GROUP_COLUMNS.items():
        rows = grp[grp["group"] == label].set_index("university_code")
        members = d[d[col]]
        per = members.groupby("university_code").agg(n=("placed", "size"), x=("placed", "sum"))
        per.loc["ALL"] = [len(members), members["placed"].sum()]
        assert set(rows.index) == set(per.index) | {"ALL"}
        for code, r in rows.iterrows():
            n, x = per.loc[code] if code in per.index else (0, 0)
            assert r["graduates"] == n
            if pd.isna(r["suppressed"]) or r["suppressed"] == "":
                assert r["placed"] == x
                if n:
                    assert r["placement_rate"] == pytest.approx(x / n)
            else:
                assert pd.isna(r["placed"]) or r["placed"] != 0 or x == 0
        shown = rows[rows["placement_rate"].notna()]
        overall = d.groupby("university_code")["placed"].mean()
        overall.loc["ALL"] = d["placed"].mean()
        np.testing.assert_allclose(shown["university_rate"], overall.loc[shown.index])
    # destination mix of the province under the 2024 rule
    mix = t["destination_mix"]
    prov = mix[(mix["university_code"] == "ALL") & (mix["rule"] == "2024年口径")]
    counts = d["bucket_2024"].astype(str).value_counts()
    for r in prov.itertuples():
        assert r.count == counts.get(r.bucket, 0)
    # progress: each snapshot of this cohort recomputed from its processed folder
    prog = t["progress"]
    prog = prog[(prog["university_code"] == "ALL")]
    for r in prog.itertuples():
        day = str(r.snapshot_date)
        folder = demo_copy / "processed" / day
        if folder.exists():
            s = _processed(demo_copy, day)
            s = s[s["cohort"] == r.cohort]
            assert r.graduates == len(s) and r.placed == s["placed"].sum()
    # headline's previous snapshot is the newest earlier snapshot of the cohort
    prev = str(head["previous_snapshot_date"])
    ps = _processed(demo_copy, prev)
    assert head["previous_rate"] == pytest.approx(ps["placed"].mean())
    _no_student_keys(nb_path, demo_copy)


def test_university_mode_shows_only_its_own_rows(demo_copy, tmp_path):
    out = tmp_path / "uni.ipynb"
    _execute(
        out,
        ROOT / "notebooks",
        as_of=AS_OF,
        university="10386",
        data_dir=str(demo_copy),
        reports_dir=str(tmp_path / "reports"),
    )
    root = tmp_path / "reports" / AS_OF / "tables" / "universities" / "10386"
    tables = _tables(root)
    assert "placement_by_department" in tables
    for name in CONTRACT:
        assert name in tables
    _check_ranges(tables)
    uni = pd.read_parquet(demo_copy / "processed" / AS_OF / "universities.parquet")
    others = uni[uni["university_code"] != "10386"]
    for name, df in tables.items():
        if "university_code" in df.columns:
            assert set(df["university_code"]) <= {"10386", "ALL"}, name
    # no other university's code or name anywhere in the tables or the executed notebook's outputs
    nb = nbformat.read(out, as_version=4)
    shown = [
        {k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")}
        if "data" in o
        else o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
    ]
    text = json.dumps(shown, ensure_ascii=False)
    text += "".join(p.read_text(encoding="utf-8-sig") for p in root.glob("*.csv"))
    assert "福州大学" in text
    for code, name in zip(others["university_code"], others["university_name"], strict=True):
        assert not re.search(rf"(?<!\d){code}(?!\d)", text), code
        assert name not in text, name
    d = _processed(demo_copy)
    own = d[d["university_code"] == "10386"]
    by_uni = tables["placement_by_university"]
    assert by_uni["graduates"].tolist() == [len(own)]
    assert by_uni["placed"].tolist() == [own["placed"].sum()]
    dep = tables["placement_by_department"]
    assert dep["graduates"].iloc[-1] == len(own) == dep["graduates"].iloc[:-1].sum()
    assert tables["placement_by_major"]["graduates"].sum() == len(own)
    head = tables["placement_headline"].set_index("university_code")
    assert head.loc["ALL", "graduates"] == len(d)
    # its own reporting timeliness beside the province's
    timely = tables["reporting_timeliness"].set_index("university_code")
    assert list(timely.index) == ["10386", "ALL"]
    assert (timely["late_entries"] <= timely["judged"]).all()


def test_defaults_run_from_notebooks_folder(province_run, project):
    """No injected parameters at all: the notebook's own defaults, from notebooks/ as cwd."""
    tables, _, nb = province_run
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert (tables / "placement_by_university.csv").is_file()
    assert not (tables / "universities").exists()
    audit = project / "data" / "processed" / AS_OF / "disclosure_audit"
    assert audit.is_dir()  # the disclosure audit goes next to the data, never into reports


def _raw_province(data: Path) -> None:
    """A user's own files: a reference list with a new university, graduates with a new major."""
    ref = data / "raw" / "reference"
    ref.mkdir(parents=True)
    (ref / "universities.csv").write_text(
        "学校标识码,院校代码,院校名称,办学层次,办学性质,所在地,上年初次毕业去向落实率\n"
        "4135010386,10386,福州大学,本科,公办,福州市,72.5%\n"
        "4135019999,19999,福建测试新设学院,本科,民办,福州市,\n",
        encoding="utf-8-sig",
    )
    folder = data / "raw" / AS_OF
    folder.mkdir(parents=True)
    lines = ["学号,院校代码,学历层次,专业代码,专业名称,毕业去向类别代码,性别,所在院系,帮扶群体"]
    for i in range(60):
        code = "10" if i < 40 else "70"
        lines.append(f"A{i:05d},10386,本科生毕业,080901,计算机科学与技术,{code},男,计算机学院,")
    for i in range(30):
        code = "11" if i < 8 else "70"
        group = "脱贫家庭" if i % 7 == 0 else ""
        lines.append(f"B{i:05d},19999,本科生毕业,080999T,新设试点专业,{code},女,新工科学院,{group}")
    (folder / "毕业去向_全省汇总.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


def test_new_university_and_major_flow_through_unchanged(tmp_path):
    from helpers.ingest import ingest

    data = tmp_path / "data"
    _raw_province(data)
    ingest(as_of=dt.date(2023, 8, 31), data_dir=data, workers=1)
    out = tmp_path / "new.ipynb"
    _execute(
        out,
        ROOT / "notebooks",
        as_of=AS_OF,
        university=None,
        data_dir=str(data),
        reports_dir=str(tmp_path / "reports"),
    )
    tables = _tables(tmp_path / "reports" / AS_OF / "tables")
    major = tables["placement_by_major"].set_index(["university_code", "major_code"])
    row = major.loc[("19999", "080999T")]
    assert row["major_name"] == "新设试点专业" and row["education_level"] == "本科"
    assert row["discipline_name"] == "工学"  # the catalogue names the discipline
    assert (row["graduates"], row["placed"]) == (30, 8)
    assert row["evidence_level"] == "below_confident"  # 26.7%, Wilson upper limit 44.5%
    uni = tables["placement_by_university"].set_index("university_code")
    assert uni.loc["19999", "university_name"] == "福建测试新设学院"
    assert uni.loc["10386", "baseline_rate"] == pytest.approx(0.725)
    assert tables["movers"].empty or set(tables["movers"]["university_code"]) <= {"ALL"}
