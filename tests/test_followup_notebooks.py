"""followup.ipynb and circular.ipynb on the demo province: papermill runs (defaults from
notebooks/ in a project-shaped folder, and injected parameters), the contract tables they write,
and the figures reconciled with the processed data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
from contract_tables import contract_with

from helpers.config import load_policy
from helpers.tables import read_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("followup_notebooks")]

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2023-08-31"
POLICY = load_policy(2023)
UNIVERSITY = "10386"
NOTEBOOKS = ("followup", "circular")
CONTRACT = contract_with(
    (
        "recruitment_by_window",
        "visits_progress",
        "platform_progress",
        "assistance_compliance",
        "interview_list",
    ),
    extra={"assistance_compliance": ["suppressed"], "interview_list": ["university_name"]},
)


@pytest.fixture(scope="module")
def project(demo_data_dir, tmp_path_factory) -> Path:
    """A project-shaped folder: notebooks/ (copies), data/processed (copy of the demo's), reports/."""
    base = tmp_path_factory.mktemp("followup_project")
    (base / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", base / "notebooks")
    shutil.copytree(demo_data_dir / "processed", base / "data" / "processed")
    (base / "reports").mkdir()
    return base


@pytest.fixture(scope="module")
def runs(project) -> dict[str, Path]:
    """Province runs with the notebooks' own defaults (no parameters, cwd notebooks/), and the
    university run with injected parameters."""
    nbdir = project / "notebooks"
    out = {}
    for name in NOTEBOOKS:
        out[name] = project / f"{name}-out.ipynb"
        pm.execute_notebook(
            nbdir / f"{name}.ipynb", out[name], cwd=nbdir, kernel_name="python3", progress_bar=False
        )
    out["university"] = project / "followup-10386.ipynb"
    pm.execute_notebook(
        nbdir / "followup.ipynb",
        out["university"],
        cwd=nbdir,
        kernel_name="python3",
        progress_bar=False,
        parameters={
            "as_of": AS_OF,
            "university": UNIVERSITY,
            "data_dir": str(project / "data"),
            "reports_dir": str(project / "reports"),
        },
    )
    return out


def tables(project: Path, university: str | None = None) -> Path:
    base = project / "reports" / AS_OF / "tables"
    return base if university is None else base / "universities" / university


def processed(project: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(project / "data" / "processed" / AS_OF / f"{name}.parquet")


def test_stored_notebooks_are_clean():
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1
        assert params[0].source.splitlines() == [
            'as_of = "2023-08-31"',
            "university = None",
            'data_dir = "../data"',
            'reports_dir = "../reports"',
        ]
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None


def test_contract_tables_columns_and_ranges(runs, project):
    folder = tables(project)
    for name, cols in CONTRACT.items():
        t = read_table(folder / f"{name}.csv")
        assert set(cols) <= set(t.columns), name
        for col in t.columns:
            if col.endswith("_rate"):
                vals = t[col].dropna()
                assert ((vals >= 0) & (vals <= 1)).all(), (name, col)
    comp = read_table(folder / "assistance_compliance.csv")
    hidden = comp["suppressed"].fillna("") != ""
    assert hidden.any()
    assert comp.loc[hidden, "compliance_rate"].isna().all()  # hidden is empty, never 0
    assert comp.loc[hidden, "compliant_3x3"].isna().all()
    raw = Path(folder / "assistance_compliance.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM


def test_recruitment_windows_on_the_policy_grid_and_totals(runs, project):
    t = read_table(tables(project) / "recruitment_by_window.csv")
    start = pd.to_datetime(t["window_start"])
    end = pd.to_datetime(t["window_end"])
    anchor = pd.Timestamp(POLICY.date(POLICY.recruitment.first_window_start, 2023))
    assert ((start - anchor).dt.days % POLICY.recruitment.window_days == 0).all()
    assert ((end - start).dt.days == POLICY.recruitment.window_days - 1).all()
    assert end.max() >= pd.Timestamp(AS_OF) >= start.max()
    rec = processed(project, "recruitment")
    in_year = (pd.to_datetime(rec["window_end"]) >= "2023-01-01") & (
        pd.to_datetime(rec["window_end"]) <= end.max()
    )
    assert t["events"].sum() == rec.loc[in_year, "events"].sum()
    assert t["positions"].sum() == rec.loc[in_year, "positions"].sum()
    per_uni = t.groupby("university_code").size()
    assert per_uni.nunique() == 1  # same grid for everyone


def test_visits_progress_reconciles_with_processed_visits(runs, project):
    t = read_table(tables(project) / "visits_progress.csv").set_index("university_code")
    v = processed(project, "visits")
    v = v.loc[
        (pd.to_datetime(v["visit_date"]) >= "2023-01-01")
        & (pd.to_datetime(v["visit_date"]) <= AS_OF)
    ]
    counts = v.groupby("university_code").size()
    assert (t.loc[counts.index, "visits"] == counts).all()
    assert (t["distinct_employers"] <= t["visits"]).all()
    assert (t["new_employers_h1"] <= t["distinct_employers"]).all()
    assert (t["target_visits"] == POLICY.visits.employers_per_year).all()
    applies = t["new_target_applies"].fillna(False).astype(bool)
    assert (t.loc[applies, "target_new_employers"] == POLICY.visits.new_employers_first_half).all()
    assert t.loc[~applies, "target_new_employers"].isna().all()
    assert set(t.index) >= set(processed(project, "graduates")["university_code"])


def test_credit_code_and_submission_tables(runs, project):
    credit = read_table(tables(project) / "visits_credit_codes.csv").set_index("university_code")
    progress = read_table(tables(project) / "visits_progress.csv").set_index("university_code")
    assert (credit["visits"] == progress.loc[credit.index, "visits"]).all()
    assert (credit["invalid_code_visits"] + credit["valid_code_visits"] <= credit["visits"]).all()
    repairs = processed(project, "repairs")
    checked = repairs[
        (repairs["dataset"] == "visits") & (repairs["repair_code"] == "credit_code_check")
    ]
    assert 0 < credit["invalid_code_visits"].sum() <= len(checked)
    status = read_table(tables(project) / "submissions_status.csv")
    unis = processed(project, "universities")
    per_item = status.groupby("item").size()
    assert per_item["暖心行动材料"] == per_item["就业工作方案"] == len(unis)
    assert set(status["submission_status"]) <= {
        "按期报送",
        "逾期报送",
        "未报送（已逾期）",
        "未报送（未到截止日期）",
    }
    own = read_table(tables(project, UNIVERSITY) / "submissions_status.csv")
    assert set(own["university_code"]) == {UNIVERSITY}


def test_platform_and_interview_list(runs, project):
    p = read_table(tables(project) / "platform_progress.csv")
    raw = processed(project, "platform")
    assert (
        p["graduates"].sum()
        == raw.sort_values("stat_date")
        .drop_duplicates("university_code", keep="last")["graduates"]
        .sum()
    )
    il = read_table(tables(project) / "interview_list.csv")
    assert not il.duplicated(["university_code", "reason"]).any()
    assert il["evidence"].str.len().min() > 5
    assert il["evidence"].str.contains(r"\d").all()  # every sentence has figures


def test_university_mode_narrows_to_one_university(runs, project):
    folder = tables(project, UNIVERSITY)
    for name in ("visits_progress", "platform_progress", "interview_list", "recruitment_by_window"):
        t = read_table(folder / f"{name}.csv")
        assert set(t["university_code"]) <= {UNIVERSITY}, name
    g = read_table(folder / "assistance_compliance.csv")
    assert set(g["university_code"]) == {UNIVERSITY, "ALL"}


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error"
            parts.append(out.get("text", ""))
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text"):
                    parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def test_executed_notebooks_hold_no_record_level_data(runs, project):
    keys = set(processed(project, "graduates")["student_key"].dropna())
    for path in runs.values():
        text = _outputs(path)
        hexes = set(re.findall(r"[0-9a-f]{16,}", text))
        assert not hexes & keys
        assert "student_key" not in text and "visitor_key" not in text


def test_circular_reads_as_a_circular(runs):
    text = _outputs(runs["circular"])
    assert "关于2023届全省普通高校毕业生就业工作进展情况的通报" in text
    for needle in (
        "截至2023年8月31日，全省",
        "毕业去向落实率为",
        "全省高校累计举办各类校园招聘活动",
        "书记校长访企拓岗累计走访",
        "“3个3”帮扶要求",
        "平台关注率",
        "拟约谈高校",
    ):
        assert needle in text, needle
    nb = nbformat.read(runs["circular"], as_version=4)
    headings = [
        c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    assert [h[3:5] for h in headings] == ["一、", "二、", "三、", "四、", "五、", "六、"]
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert 1 <= pngs <= 3


def test_followup_province_text_and_charts(runs):
    text = _outputs(runs["followup"])
    assert "报告范围**：全省" in text
    nb = nbformat.read(runs["followup"], as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert pngs >= 5
