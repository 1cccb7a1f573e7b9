"""notebooks/major_evidence.ipynb on the demo province: a university's report never shows another
university (HTML, chart text, tables), and the province report runs with its defaults."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
from nbconvert import HTMLExporter

from helpers import majors, tables
from helpers.config import policy_for_date

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "major_evidence.ipynb"
AS_OF = "2023-08-31"
AS_OF_DATE = dt.date.fromisoformat(AS_OF)

pytestmark = pytest.mark.slow

# Inserted after the setup cell of a test copy: charts as SVG with real <text> elements, so the
# scan below also reads every word drawn in a chart.
SVG_TEXT_CELL = (
    "from matplotlib import pyplot as _plt\n"
    "from matplotlib_inline.backend_inline import set_matplotlib_formats as _formats\n"
    '_plt.rcParams["svg.fonttype"] = "none"\n'
    '_formats("svg")'
)


def _execute(notebook: Path, out: Path, cwd: Path, parameters: dict | None = None) -> Path:
    pm.execute_notebook(
        str(notebook),
        str(out),
        parameters=parameters or {},
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
    )
    return out


def _html(executed: Path) -> str:
    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    return body


def _chart_text(executed: Path) -> str:
    """Every SVG chart of an executed notebook (text kept as <text> elements)."""
    nb = nbformat.read(executed, as_version=4)
    return "\n".join(
        "".join(out["data"]["image/svg+xml"])
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "image/svg+xml" in out.get("data", {})
    )


def _with_svg_text(tmp: Path) -> Path:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(setup + 2, nbformat.v4.new_code_cell(SVG_TEXT_CELL))
    path = tmp / "major_evidence.ipynb"
    nbformat.write(nb, path)
    return path


def _universities(data_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(data_dir / "processed" / AS_OF / "universities.parquet")


def _leaks(text: str, own_code: str, own_name: str, others: pd.DataFrame) -> list[str]:
    """Other universities' codes (as whole numbers: 10394, also inside 4135010394 IDs) or names
    found in ``text``; the own name is removed first (another name may be part of it)."""
    text = text.replace(own_name, "〇")
    found = []
    for code, name, uid in others[
        ["university_code", "university_name", "university_id"]
    ].itertuples(index=False):
        if re.search(rf"(?<!\d){code}(?!\d)", text):
            found.append(code)
        if isinstance(uid, str) and uid and re.search(rf"(?<!\d){uid}(?!\d)", text):
            found.append(uid)
        if name and name in text:
            found.append(name)
    return found


def _flagged_university(data_dir: Path) -> str:
    """A university with at least one flagged point (so every section of its report has content),
    10386 when it has one."""
    from helpers import load

    as_of = pd.Timestamp(AS_OF).date()
    policy = policy_for_date(as_of)
    history = load.load_graduate_history(data_dir, as_of, columns=majors.HISTORY_COLUMNS)
    ev = majors.major_evidence(history, _universities(data_dir), None, as_of, policy)
    flagged = ev.points.loc[
        ev.points["evidence_level"].isin(majors.FLAGGED_LEVELS), "university_code"
    ]
    codes = sorted(set(flagged))
    assert codes, "the demo province should have flagged 专业点"
    return "10386" if "10386" in codes else codes[0]


def test_university_report_never_shows_another_university(demo_data_dir, tmp_path):
    code = _flagged_university(demo_data_dir)
    unis = _universities(demo_data_dir)
    own_name = unis.loc[unis["university_code"] == code, "university_name"].iloc[0]
    others = unis[unis["university_code"] != code]
    reports = tmp_path / "reports"
    notebook = _with_svg_text(tmp_path)
    executed = _execute(
        notebook,
        tmp_path / "executed.ipynb",
        ROOT / "notebooks",
        {
            "as_of": AS_OF,
            "university": code,
            "data_dir": str(demo_data_dir),
            "reports_dir": str(reports),
        },
    )
    html = _html(executed)
    assert own_name in html
    assert "初次统计日" in html  # the report states which snapshot it used
    assert _leaks(html, code, own_name, others) == []
    svg = _chart_text(executed)
    assert svg.count("<svg") >= 5 and "阈值" in svg
    assert _leaks(svg, code, own_name, others) == []

    folder = tables.tables_dir(reports, AS_OF_DATE, code)
    written = sorted(p.stem for p in folder.glob("*.csv"))
    assert written == sorted(majors.TABLE_TITLES)
    for path in folder.glob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        assert _leaks(text, code, own_name, others) == [], path.name
        df = tables.read_table(path)
        if "university_code" in df.columns and len(df):
            assert set(df["university_code"].dropna()) == {code}, path.name
    points = tables.read_table(folder / "major_points.csv")
    assert len(points) and (points["university_code"] == code).all()
    peers = tables.read_table(folder / "major_peers.csv")
    shown = peers["peer_rate"].notna()
    assert (peers.loc[shown, "peer_points"] >= majors.MIN_PEER_POINTS).all()
    assert peers.loc[~shown, "suppressed"].notna().all()
    # nothing of the university report lands in the province tables folder
    assert not list(tables.tables_dir(reports, AS_OF_DATE).glob("*.csv"))


def test_province_report_runs_with_defaults(demo_data_dir, tmp_path):
    """As an analyst runs it: from notebooks/ with the default parameters and ../data."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "notebooks" / NOTEBOOK.name)
    (tmp_path / "data").symlink_to(demo_data_dir, target_is_directory=True)
    executed = _execute(
        tmp_path / "notebooks" / NOTEBOOK.name, tmp_path / "executed.ipynb", tmp_path / "notebooks"
    )
    html = _html(executed)
    assert "学科专业点" in html and "列入名单" in html

    folder = tables.tables_dir(tmp_path / "reports", AS_OF_DATE)
    got = {p.stem: tables.read_table(p) for p in folder.glob("*.csv")}
    assert set(got) == set(majors.TABLE_TITLES)
    graduates = pd.read_parquet(demo_data_dir / "processed" / AS_OF / "graduates.parquet")
    counted = graduates[graduates["in_denominator"]]
    points = got["major_points"]
    # every point of the snapshot, and the totals reconcile with the processed records
    n_points = counted.groupby(["university_code", "education_level", "major_code"]).ngroups
    assert len(points) >= n_points
    assert points["graduates"].sum() == len(counted)
    assert points["placed"].sum() == int(counted["placed"].sum())
    assert points["placement_rate"].dropna().between(0, 1).all()
    assert set(points["evidence_level"]) <= set(majors.EVIDENCE_LEVELS)
    flagged = got["major_flagged"]
    assert len(flagged) == points["evidence_level"].isin(majors.FLAGGED_LEVELS).sum()
    summary = got["major_summary"].set_index("scope")
    assert summary.loc["全省", "points"] == len(points)
    assert summary.loc["全省", "flagged_points"] == len(flagged)
    unis = summary.loc["院校"]
    assert unis["points"].sum() == len(points)
    # plan tracking covers the list whose plans fall due this year: the 2022 cohort at 2022-08-31,
    # recomputed here with plain pandas (rate below the threshold, enough graduates)
    policy = policy_for_date(AS_OF_DATE)
    prev = pd.read_parquet(demo_data_dir / "processed" / "2022-08-31" / "graduates.parquet")
    prev = prev[prev["in_denominator"] & (prev["cohort"] == 2022)]
    agg = prev.groupby(["university_code", "education_level", "major_code"]).agg(
        n=("placed", "size"), x=("placed", "sum")
    )
    listed = agg[
        (agg["n"] >= policy.majors.min_graduates) & (agg["x"] / agg["n"] < policy.majors.threshold)
    ]
    status = got["adjustment_plan_status"]
    assert set(status["university_code"]) == set(listed.index.get_level_values("university_code"))
    assert (status["cohort"] == 2022).all()
    assert status["plan_status"].isin(majors.PLAN_STATUSES).all()
    counts = listed.groupby(level="university_code").size()
    got_counts = status.set_index("university_code")["flagged_points"].sort_index()
    assert got_counts.to_dict() == counts.sort_index().to_dict()


def test_leak_check_finds_codes_ids_and_names_but_not_digits_inside_numbers():
    others = pd.DataFrame(
        {
            "university_code": ["10394", "12709"],
            "university_name": ["福建师范大学", "福建船政交通职业学院"],
            "university_id": ["4135010394", "4135012709"],
        }
    )
    own = ("10386", "福州大学")
    assert _leaks("<td>10394</td>", *own, others) == ["10394"]
    assert _leaks("学校标识码 4135012709", *own, others) == ["4135012709"]
    assert "福建师范大学" in _leaks("比较：福建师范大学", *own, others)
    assert _leaks("0.7127091,0.1039412,福州大学", *own, others) == []
    # another university's name inside the own name is not a leak
    assert _leaks("福建师范大学协和学院", "13470", "福建师范大学协和学院", others) == []
