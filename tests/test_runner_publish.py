"""The publish step on worker processes (helpers.runner.publish): send packages made on forked
workers equal those made one after another in the main process, file by file; a leak planted in
any file of a package made on a worker is caught exactly as a scan of the finished folder
catches it (the copy and the zip included), with nothing left for the final pass to read; one
failing package does not stop the others; a worker that dies hands its job back."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from helpers.documents.gongwen import OfficialDocument, Paragraph
from helpers.ingest.pseudonym import keyed_digest
from helpers.runner.publish import PublishPool, results, tables_workbook
from helpers.runner.scanning import OutputScanner, ScanLedger, final_scan
from helpers.runner.send import ISSUE_HEADERS, PackageJob, make_package
from helpers.scanner import Scanner
from helpers.tables import write_table

KEY = b"publish-test-key"
NAME = "欧阳明远"  # fingerprinted: found only through the period's fingerprints
ID = "11010519491231002X"  # a valid GB 11643 number: found by pattern
STAMP = dt.date(2023, 9, 1)
UNIVERSITIES = [("10001", "甲大学"), ("10002", "乙大学"), ("10003", "丙大学")]
PLACES = ("page", "table", "letter", "issues")
MAIN_PID = os.getpid()


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    prints = pd.DataFrame({"kind": ["name"], "digest": [keyed_digest(NAME, KEY)]})
    return Scanner(prints, KEY)


def _text(place: str, planted: str | None, leak: str) -> str:
    return f"备注 {leak}" if place == planted else "全省落实率 91.2%"


def _period(run_dir: Path, scanner: Scanner, planted: str | None, leak: str) -> ScanLedger:
    """The report workers' part: each university's page (scanned from memory, as a report
    worker does) and its tables; their scans as the run's ledger."""
    worker = OutputScanner(run_dir, scanner)
    for code, name in UNIVERSITIES:
        page = run_dir / "universities" / f"{code}-{name}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        html = f"<html><body><h1>{name}</h1><p>{_text('page', planted, leak)}</p></body></html>"
        page.write_text(html, encoding="utf-8")
        worker.written(page, html)
        frame = pd.DataFrame(
            {
                "university_code": [code, code],
                "major_name": [_text("table", planted, leak), "软件工程"],
                "graduates": [120, 80],
                "placement_rate": [0.9, 0.45],
            }
        )
        write_table(frame, "placement_by_major", run_dir / "tables" / "universities" / code)
    return worker.take()


def _jobs(planted: str | None, leak: str, failing: str | None = None) -> list[PackageJob]:
    jobs = []
    for code, name in UNIVERSITIES:
        issues = pd.DataFrame(
            [
                [
                    "毕业生.xlsx",
                    "Sheet1",
                    "毕业生",
                    "隔离（未入库）",
                    _text("issues", planted, leak),
                    "",
                    2,
                    "3–4",
                ]
            ],
            columns=list(ISSUE_HEADERS),
        )
        if code == failing:  # a column without a Chinese header: the issue list cannot be written
            issues = issues.assign(unknown="x")
        letter = OfficialDocument(
            title="关于做好学科专业点调整改革工作的通知",
            addressee=name,
            body=(Paragraph(_text("letter", planted, leak)),),
            issuer="福建省教育厅",
            date=STAMP,
        )
        jobs.append(PackageJob(code, name, letter if code != "10002" else None, issues, STAMP))
    return jobs


def _build(run_dir: Path, scanner: Scanner, workers: int, planted=None, leak=ID, failing=None):
    """Pages and tables, then the packages on ``workers`` processes: (packages or the error,
    the run's ledger with the packages' scans, whether workers were used)."""
    earlier = _period(run_dir, scanner, planted, leak)
    scan = OutputScanner(run_dir, scanner, earlier)
    with PublishPool(run_dir, scan, workers) as pool:
        forked = pool.executor is not None
        pending = [pool.submit(make_package, job) for job in _jobs(planted, leak, failing)]
        try:
            made = results(pending)
        except Exception as exc:
            made = exc
    ledger = ScanLedger()
    ledger.merge(earlier)
    ledger.merge(scan.take())
    return made, ledger, forked


def _office_members(data: bytes) -> dict[str, bytes]:
    """An xlsx's or docx's parts (not the zip around them, stamped with the time of saving; nor
    docProps/core.xml, where xlsxwriter writes that time)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if i.filename != "docProps/core.xml"}


def test_packages_made_on_workers_equal_those_made_in_one_process(tmp_path, scanner):
    serial, _, forked_serial = _build(tmp_path / "a" / "2023-08-31", scanner, workers=1)
    parallel, _, forked = _build(tmp_path / "b" / "2023-08-31", scanner, workers=2)
    assert forked and not forked_serial
    assert [p.entry() for p in parallel] == [p.entry() for p in serial]  # same order, same files
    assert [p.files for p in parallel] == [p.files for p in serial]
    files = [f for p in serial for f, _ in p.files]
    assert any(f.endswith(".docx") for f in files) and any(f.endswith(".zip") for f in files)
    for rel in files:
        a, b = tmp_path / "a" / "2023-08-31" / rel, tmp_path / "b" / "2023-08-31" / rel
        if a.suffix in (".xlsx", ".docx"):
            assert _office_members(a.read_bytes()) == _office_members(b.read_bytes()), rel
        elif a.suffix == ".zip":
            with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
                assert [(i.filename, i.date_time) for i in za.infolist()] == [
                    (i.filename, i.date_time) for i in zb.infolist()
                ]
                for name in za.namelist():
                    x, y = za.read(name), zb.read(name)
                    if name.endswith((".xlsx", ".docx")):
                        assert _office_members(x) == _office_members(y), name
                    else:
                        assert x == y, name
        else:
            assert a.read_bytes() == b.read_bytes(), rel


@pytest.mark.parametrize("leak", [ID, NAME], ids=["id_number", "fingerprinted name"])
@pytest.mark.parametrize("planted", PLACES)
def test_a_leak_planted_in_a_package_made_on_a_worker_is_caught(tmp_path, scanner, planted, leak):
    run_dir = tmp_path / "2023-08-31"
    made, ledger, forked = _build(run_dir, scanner, workers=2, planted=planted, leak=leak)
    assert forked and not isinstance(made, Exception)
    sent = [p.relative_to(run_dir).as_posix() for p in (run_dir / "send").rglob("*.*")]
    assert sent and all(ledger.current(run_dir, f) for f in sent)  # the final pass reads none
    hits = final_scan(run_dir, ledger, scanner)
    fresh = final_scan(run_dir, ScanLedger(), scanner)  # every file read now, as a plain scan
    assert [(h.file, h.kind, h.location) for h in hits] == [
        (h.file, h.kind, h.location) for h in fresh
    ]
    kind = "id_number" if leak == ID else "name"
    assert hits and {h.kind for h in hits} == {kind}
    in_send = {h.file for h in hits if h.file.startswith("send/")}
    leaked = "send/10002-乙大学" if planted in ("page", "table", "issues") else "send/10001-甲大学"
    assert f"{leaked}.zip" in in_send  # the zip took over its members' hits
    assert any(f.startswith(f"{leaked}/") for f in in_send)
    assert leak not in repr(hits)


def test_a_failing_package_does_not_stop_the_others(tmp_path, scanner):
    run_dir = tmp_path / "2023-08-31"
    made, ledger, forked = _build(run_dir, scanner, workers=2, failing="10002")
    assert forked and isinstance(made, KeyError) and "unknown" in str(made)
    for code, name in (("10001", "甲大学"), ("10003", "丙大学")):
        assert ledger.current(run_dir, f"send/{code}-{name}.zip")  # made and scanned
    assert not (run_dir / "send" / "10002-乙大学.zip").exists()


def _dies_in_a_worker(run_dir: Path, scan) -> str:
    if os.getpid() != MAIN_PID:
        os._exit(1)
    return run_dir.name


def test_a_job_whose_worker_died_runs_in_the_main_process(tmp_path):
    with PublishPool(tmp_path, None, 2) as pool:
        assert pool.submit(_dies_in_a_worker).result() == tmp_path.name
        assert pool.submit(_dies_in_a_worker).result() == tmp_path.name  # the pool is gone


def test_the_tables_workbook_is_made_and_scanned_on_a_worker(tmp_path, scanner):
    run_dir = tmp_path / "2023-08-31"
    _period(run_dir, scanner, "table", ID)
    scan = OutputScanner(run_dir, scanner)
    with PublishPool(run_dir, scan, 2) as pool:
        assert pool.submit(tables_workbook).result() == ("tables/报表汇总.xlsx", None)
    assert scan.ledger.current(run_dir, "tables/报表汇总.xlsx")
    assert {(h.file, h.kind) for h in scan.ledger.hits} == {("tables/报表汇总.xlsx", "id_number")}
