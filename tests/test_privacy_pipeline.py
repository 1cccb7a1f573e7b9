"""The whole pipeline on the demo province leaks nothing; a planted leak fails the run (issue 7).

The demo generator's raw files carry realistic 姓名, 身份证号 (valid check digits), 手机号码 and 学号.
The test reads them straight from the raw files (independently of ingest), runs `placement run`
on a copy of the demo data, and scans every output — reports, tables, workbook, executed
notebooks, the run's own stdout/stderr — for them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import unicodedata
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
from hostile import FORMULA_DEPARTMENT, FORMULA_MAJOR, FORMULA_SHEET, HOSTILE_NAMES

from helpers import scanner as S
from helpers.config import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("privacy_pipeline")]

AS_OF = dt.date(2023, 8, 31)
ISO = AS_OF.isoformat()
PERSONAL_HEADERS = {
    "学号": "student_id", "student_id": "student_id", "姓名": "name", "name": "name",
    "身份证号": "id_number", "id_number": "id_number", "手机号码": "phone", "phone": "phone",
    "走访人": "visitor", "visitor": "visitor", "帮扶责任人": "helper", "helper": "helper",
}  # fmt: skip
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,}$")


def _norm_header(v) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v))).lower()


def _sheets(path: Path):
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            yield wb.get_sheet_by_name(name).to_python()
    elif suffix == ".csv":
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                yield list(csv.reader(io.StringIO(raw.decode(enc))))
                return
            except UnicodeDecodeError:
                continue


def raw_personal_values(raw_root: Path, as_of: str) -> dict[str, set[str]]:
    """Personal values of every raw file in folders dated <= as_of, read without ingest: the
    column under a header such as 姓名 / 身份证号 (messy headers normalised), footers skipped."""
    wanted = {k.lower(): v for k, v in PERSONAL_HEADERS.items()}
    out: dict[str, set[str]] = {}
    folders = [d for d in raw_root.iterdir() if d.is_dir() and d.name <= as_of]
    for path in sorted(p for d in folders for p in d.rglob("*") if p.is_file()):
        try:
            sheets = list(_sheets(path))
        except Exception:  # the demo has deliberately corrupt files
            continue
        for rows in sheets:
            for i, row in enumerate(rows[:15]):
                cols = {j: wanted[_norm_header(c)] for j, c in enumerate(row)
                        if _norm_header(c) in wanted}  # fmt: skip
                if not cols:
                    continue
                for r in rows[i + 1 :]:
                    for j, kind in cols.items():
                        if j >= len(r):
                            continue
                        v = r[j]
                        if isinstance(v, float) and v.is_integer():
                            v = int(v)
                        v = str(v).strip()
                        if kind in ("name", "visitor", "helper"):
                            ok = bool(_CJK_NAME.match(v))
                        elif kind == "id_number":
                            ok = bool(re.fullmatch(r"\d{17}[\dXx]", v))
                        else:
                            ok = bool(re.fullmatch(r"[0-9A-Za-z-]{4,}", v))
                        if ok:
                            out.setdefault(kind, set()).add(v)
                break
    return out


def fingerprints_of(values: dict[str, set[str]], key: bytes) -> pd.DataFrame:
    from helpers.ingest.pseudonym import keyed_digest

    rows = [(k, keyed_digest(v, key)) for k, vs in values.items() for v in vs]
    return pd.DataFrame(rows, columns=["kind", "digest"]).drop_duplicates()


def run_quietly(**kw) -> SimpleNamespace:
    from helpers.runner import run_period

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_period(AS_OF, progress=False, **kw)
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


@pytest.fixture(scope="module")
def key() -> bytes:
    from helpers.ingest.pseudonym import load_key

    return load_key()


@pytest.fixture(scope="module")
def known(demo_data_dir, key):
    values = raw_personal_values(demo_data_dir / "raw", ISO)
    return SimpleNamespace(values=values, fingerprints=fingerprints_of(values, key))


@pytest.fixture(scope="module")
def full_run(hostile_run):
    """The whole run on the demo data with hostile values planted (tests/hostile.py): markup as
    university names, formulas as 专业名称 / 院系 / sheet name, personal numbers in 所在院系. Shared
    with the browser test (``hostile_run`` in tests/conftest.py)."""
    return hostile_run


def test_inputs_have_known_personal_values(known):
    v = known.values
    assert len(v["name"]) > 1000 and len(v["student_id"]) > 1000
    assert len(v["phone"]) > 1000 and len(v["id_number"]) > 1000
    assert S.id_check_ok(sorted(v["id_number"])[:200]).mean() > 0.9  # valid check digits


def test_ingest_fingerprints_cover_every_personal_value(demo_data_dir, known):
    digests = set(S.load_fingerprints(demo_data_dir, AS_OF)["digest"])
    missing = known.fingerprints[~known.fingerprints["digest"].isin(digests)]
    assert missing.empty, missing["kind"].value_counts().to_dict()


def test_whole_run_publishes_and_every_output_is_clean(full_run, known, key):
    assert full_run.code == 0, full_run.err[-2000:]
    run_dir = full_run.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["privacy"] == {"complete": True, "problem": None, "hits": 0}
    outputs = [p for p in run_dir.rglob("*") if p.is_file()]
    suffixes = {p.suffix for p in outputs}
    assert {".html", ".csv", ".xlsx", ".ipynb", ".json"} <= suffixes
    assert any(p.parent.name == "universities" and p.suffix == ".html" for p in outputs)
    words = S.vocabulary(full_run.data_dir, AS_OF)
    hits = S.scan_paths([run_dir], known.fingerprints, key, words)
    assert hits == [], S.format_hits(hits)
    assert S.scan_run(run_dir, full_run.data_dir) == []


def test_run_stdout_and_stderr_hold_no_personal_value(full_run, known, key, tmp_path):
    log = tmp_path / "run.log"
    log.write_text(full_run.out + "\n" + full_run.err, encoding="utf-8")
    assert "placement run" in full_run.out
    assert S.scan_paths([log], known.fingerprints, key) == []


def test_group_tables_are_protected_and_audited_outside_reports(full_run):
    from helpers.config import load_policy

    d = load_policy(AS_OF.year).disclosure
    tables = sorted(full_run.run_dir.glob("tables/**/placement_by_group.csv"))
    assert tables, "placement_by_group.csv missing"
    for path in tables:
        t = pd.read_csv(path, dtype={"university_code": str}, encoding="utf-8-sig")
        assert "suppressed" in t.columns, path
        hidden = t["suppressed"].fillna("") != ""
        assert t.loc[hidden, "placed"].isna().all() and t.loc[hidden, "placement_rate"].isna().all()
        shown = t[~hidden & (t["graduates"] > 0)]
        assert (shown["graduates"] >= d.min_group_for_rate).all(), path
        assert (shown["graduates"] - shown["placed"] >= d.min_count_shown).all(), path
    province = pd.read_csv(
        full_run.run_dir / "tables" / "placement_by_group.csv", encoding="utf-8-sig"
    )
    assert (province["suppressed"].fillna("") != "").any()  # the demo has small groups
    audit = full_run.data_dir / "processed" / ISO / "disclosure_audit.parquet"
    frame = pd.read_parquet(audit)
    assert len(frame) and {"report", "table", "rule", "reason"} <= set(frame.columns)
    assert "placement_by_group" in set(frame["table"])
    assert not [p for p in full_run.reports_dir.rglob("*") if "audit" in p.name]


def _leaky_notebook(folder: Path, secret_file: Path) -> Path:
    """A copy of the real province report with one extra cell that prints a graduate's name
    (read from a file, so the name is only in the cell's output)."""
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "placement_rates.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(f"print(open({str(secret_file)!r}, encoding='utf-8').read())")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "leaky_report.ipynb"
    nbformat.write(nb, path)
    return path


def test_planted_leak_fails_the_run_and_names_the_files(demo_data_dir, known, tmp_path):
    from helpers.runner.catalog import PROVINCE, ReportSpec

    if not (PROJECT_ROOT / "notebooks" / "placement_rates.ipynb").exists():
        pytest.fail("notebooks/placement_rates.ipynb is missing")
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    name = sorted(known.values["name"])[len(known.values["name"]) // 2]
    secret = tmp_path / "planted.txt"
    secret.write_text(name, encoding="utf-8")
    notebooks = tmp_path / "notebooks"
    _leaky_notebook(notebooks, secret)
    reports = tmp_path / "reports"
    spec = ReportSpec("leaky_report.ipynb", "泄露测试报告", PROVINCE, "泄露测试")
    res = run_quietly(university=None, data_dir=data, reports_dir=reports, workers=1,
                      catalog=[spec], notebooks_dir=notebooks)  # fmt: skip
    assert res.code == 3, res.err[-2000:]
    assert not (reports / ISO).exists()  # nothing published
    assert name not in res.out and name not in res.err
    assert "leaky_report.ipynb" in res.err and "泄露测试.html" in res.err
    assert "姓名" in res.err
    withheld = list((data / "processed" / ".withheld-reports").iterdir())
    assert len(withheld) == 1


# --- hostile values (issue 13) ----------------------------------------------------------------


def test_personal_numbers_in_free_text_are_scrubbed_with_a_repair_record(full_run):
    """An ID number written 6-8-4, a hyphenated 学号 and a plain 学号 typed into 所在院系: the run
    publishes (exit 0, checked above), the cells read 已隐去, each has a repair record naming file,
    row and column, and no form of the values is anywhere in the outputs."""
    p = full_run.planted
    repairs = pd.read_parquet(full_run.data_dir / "processed" / ISO / "repairs.parquet")
    scrubbed = repairs[repairs["repair_code"] == "personal_data_scrubbed"]
    mine = scrubbed[scrubbed["source_file"].str.endswith(p["file"])]
    assert sorted(mine["row"].astype(int)) == p["scrubbed_lines"], mine
    assert set(mine["column"]) == {"所在院系"}
    assert (mine["before"] == "").all() and (mine["after"] == "").all()  # never the value
    grads = pd.read_parquet(full_run.data_dir / "processed" / ISO / "graduates.parquet")
    departments = set(grads["department"].astype(str))
    assert "已隐去" in departments
    for value in (p["formatted_id"], p["hyphen_sid"], p["plain_sid"]):
        assert value not in departments
    texts = "\n".join(
        f.read_text(encoding="utf-8-sig", errors="replace")
        for f in full_run.run_dir.rglob("*")
        if f.suffix in (".csv", ".html", ".ipynb", ".json")
    )
    digits = re.sub(r"[ -]", "", p["formatted_id"])
    for value in (p["formatted_id"], digits, p["hyphen_sid"], p["plain_sid"]):
        assert value not in texts, value
    assert "已隐去" in (full_run.run_dir / "tables" / "universities" / "10395"
                       / "placement_by_department.csv").read_text(encoding="utf-8-sig")  # fmt: skip


def _csv_cells(root: Path):
    for path in sorted(root.rglob("*.csv")):
        for r, row in enumerate(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))):
            for c, cell in enumerate(row):
                yield path, r, c, cell


def test_no_csv_cell_is_a_formula(full_run):
    from helpers.inert import CSV_TRIGGERS, csv_cell

    live = [(p.name, r, c, v) for p, r, c, v in _csv_cells(full_run.run_dir / "tables")
            if v and v[0] in CSV_TRIGGERS and csv_cell(v) != v]  # fmt: skip
    assert live == [], live[:5]
    cells = {v for _, _, _, v in _csv_cells(full_run.run_dir / "tables")}
    # each planted formula is there, neutralised: as a 专业名称, a 院系 and a sheet name
    assert "'" + FORMULA_MAJOR in cells and "'" + FORMULA_DEPARTMENT in cells
    assert "'" + FORMULA_SHEET in cells


def test_workbook_keeps_formulas_as_text_and_numbers_as_numbers(full_run):
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(full_run.run_dir / "tables" / "报表汇总.xlsx"))
    values = [v for name in wb.sheet_names
              for row in wb.get_sheet_by_name(name).to_python() for v in row]  # fmt: skip
    assert FORMULA_MAJOR in values and FORMULA_DEPARTMENT in values  # text cells, as sent
    assert "'" + FORMULA_DEPARTMENT not in values
    assert any(isinstance(v, float) and v < 0 for v in values)  # negative numbers stay numbers


def test_hostile_university_names_are_inert_in_every_page(full_run):
    from helpers.runner.render import external_resources, unsafe_markup

    pages = sorted(full_run.run_dir.rglob("*.html"))
    assert len(pages) > 5
    shown = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert unsafe_markup(html) == [], page
        assert external_resources(html) == [], page
        # the payloads only as escaped text: no tag, no live link, no image
        assert "<img src=x" not in html and 'href="javascript:' not in html, page
        assert not re.search(r"<a\b[^>]*\shref\s*=\s*[\"']?\s*javascript", html, re.I), page
        assert 'src="http://127.0.0.1' not in html, page
        shown += "&lt;img src=x onerror=" in html
    assert shown  # the name is there, as text
    manifest = json.loads((full_run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    titles = {r["title"] for r in manifest["reports"] if r["html"]}
    for name in HOSTILE_NAMES.values():  # every hostile university still has its report
        assert f"{name}毕业生就业监测报告" in titles, name


def test_personal_numbers_in_a_file_name_are_hidden_and_the_run_publishes(full_run):
    """A raw file named with the contact's mobile, an ID number and a 学号 of the inputs: it is
    read as usual, the run publishes (exit 0), and every published place that names the file says
    已隐去 instead (the scan would otherwise withhold every university's report)."""
    named = full_run.planted["named_file"]
    assert full_run.code == 0
    manifest = json.loads((full_run.run_dir / "manifest.json").read_text(encoding="utf-8"))
    shown = [p for p in manifest["inputs"] if "访企拓岗_10399_泉州师范学院_联系人" in p]
    assert len(shown) == 1 and "已隐去" in shown[0], shown
    files = pd.read_parquet(full_run.data_dir / "processed" / ISO / "files.parquet")
    assert files["source_file"].str.endswith(named["name"]).any()  # read, not skipped
    texts = "\n".join(
        f.read_text(encoding="utf-8-sig", errors="replace")
        for f in full_run.run_dir.rglob("*")
        if f.suffix in (".csv", ".html", ".ipynb", ".json")
    )
    for value in (named["mobile"], named["mobile"].replace(" ", ""), named["id"], named["sid"]):
        assert value not in texts, value
    assert "学号已隐去" in shown[0]
