"""The period run's privacy scan as outputs are written (helpers.runner.scanning): a leak planted
in each output kind is caught on the path the run takes for that kind (in the worker from memory,
where the main process writes it, or by the final pass), reading a file's content gives exactly
the hits of reading the file, and nothing written or changed after its scan escapes."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.ingest.pseudonym import keyed_digest
from helpers.runner.scanning import OutputScanner, ScanLedger, final_scan
from helpers.scanner import Scanner

KEY = b"scanning-test-key"
NAME = "欧阳明远"  # fingerprinted: found only through the period's fingerprints
ID = "11010519491231002X"  # a valid GB 11643 number: found by pattern
CLEAN = "全省落实率 91.2%"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    prints = pd.DataFrame({"kind": ["name"], "digest": [keyed_digest(NAME, KEY)]})
    return Scanner(prints, KEY)


def _page(text: str) -> str:
    return f"<!doctype html><html><body><h1>报告</h1><p>{text}</p></body></html>"


def _notebook(text: str) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(x)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# 报告"), cell]
    return nbformat.writes(nb)


def _csv(text: str) -> bytes:
    return f"university_code,note\n10001,{text}\n".encode("utf-8-sig")


def _xlsx(text: str) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        pd.DataFrame({"院校代码": ["10001"], "备注": [text]}).to_excel(writer, index=False)
    return buf.getvalue()


def _docx(text: str) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_paragraph("全省高校毕业生就业工作情况通报")
    doc.add_table(rows=1, cols=1).cell(0, 0).text = text
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("10001-甲大学/清单.csv", _csv(text))
        zf.writestr("10001-甲大学/通知.docx", _docx(CLEAN))
    return buf.getvalue()


def _manifest(text: str) -> str:
    return json.dumps({"reports": [{"title": text}]}, ensure_ascii=False)


# kind -> (file, content maker, who scans it in a run)
KINDS = {
    "page": ("universities/10001-甲大学.html", _page, "worker-memory"),
    "error page": ("errors/10001-placement_rates.html", _page, "worker-memory"),
    "notebook": ("notebooks/universities/10001-placement_rates.ipynb", _notebook, "worker-memory"),
    "table": ("tables/universities/10001/rates.csv", _csv, "worker-file"),
    "province table": ("tables/rates.csv", _csv, "worker-file"),
    "workbook": ("tables/报表汇总.xlsx", _xlsx, "main-file"),
    "docx": ("全省通报.docx", _docx, "final"),
    "send package": ("send/10001-甲大学.zip", _zip, "final"),
    "index": ("index.html", _page, "final"),
    "manifest": ("manifest.json", _manifest, "final"),
}


def _write(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)


def _run(run_dir: Path, scanner: Scanner, planted: str | None, leak: str) -> list:
    """Every kind written the way a run writes it, the planted one with the leak; the hits."""
    worker, main = OutputScanner(run_dir, scanner), OutputScanner(run_dir, scanner)
    for kind, (rel, make, how) in KINDS.items():
        content = make(leak if kind == planted else CLEAN)
        path = run_dir / rel
        _write(path, content)
        if how == "worker-memory":
            worker.written(path, content)
        elif how == "worker-file":
            worker.files([path])
        elif how == "main-file":
            main.files([path])
    ledger = ScanLedger()
    ledger.merge(worker.take())  # as a worker's TaskResult brings it back
    ledger.merge(main.take())
    return final_scan(run_dir, ledger, scanner)


@pytest.mark.parametrize("leak", [ID, NAME], ids=["id_number", "fingerprinted name"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_leak_planted_in_each_output_kind_is_caught(tmp_path, scanner, kind, leak):
    hits = _run(tmp_path / "2023-08-31", scanner, kind, leak)
    assert {h.file for h in hits} == {KINDS[kind][0]}
    assert {h.kind for h in hits} == {"id_number" if leak == ID else "name"}
    assert leak not in repr(hits)


def _files_read(monkeypatch) -> list[str]:
    """The names of the files the scanner reads from now on."""
    read: list[str] = []
    scan_file = Scanner.scan_file
    monkeypatch.setattr(
        Scanner,
        "scan_file",
        lambda self, p, root=None: read.append(p.name) or scan_file(self, p, root),
    )
    return read


def test_a_clean_run_has_no_hits_and_the_final_pass_reads_only_unscanned_files(
    tmp_path, scanner, monkeypatch
):
    run_dir = tmp_path / "2023-08-31"
    read = _files_read(monkeypatch)
    assert _run(run_dir, scanner, None, ID) == []
    final = {"全省通报.docx", "10001-甲大学.zip", "index.html", "manifest.json"}
    # tables read once by the worker, the workbook once where written, the rest by the final pass
    assert sorted(read) == sorted(["rates.csv", "rates.csv", "报表汇总.xlsx", *final])


@pytest.mark.parametrize("kind", list(KINDS))
def test_reading_content_gives_exactly_the_hits_of_reading_the_file(tmp_path, scanner, kind):
    rel, make, _ = KINDS[kind]
    content = make(f"{NAME} {ID} 13800138000")
    _write(tmp_path / rel, content)
    from_file = scanner.scan_file(tmp_path / rel, tmp_path)
    assert from_file and scanner.scan_content(rel, content) == from_file
    if isinstance(content, str):  # the bytes as written, too
        assert scanner.scan_content(rel, content.encode("utf-8")) == from_file


def test_a_file_changed_or_added_after_its_scan_is_scanned_again(tmp_path, scanner):
    run_dir = tmp_path / "2023-08-31"
    worker = OutputScanner(run_dir, scanner)
    table, page = run_dir / "tables" / "rates.csv", run_dir / "index.html"
    _write(table, _csv(CLEAN))
    worker.files([table])
    _write(page, _page(CLEAN))
    worker.written(page, _page(CLEAN))
    _write(table, _csv(ID))  # rewritten after the worker scanned it
    _write(run_dir / "late.csv", _csv(NAME))  # never scanned
    ledger = worker.take()
    hits = final_scan(run_dir, ledger, scanner)
    assert {(h.file, h.kind) for h in hits} == {
        ("tables/rates.csv", "id_number"),
        ("late.csv", "name"),
    }


def test_hits_of_a_file_removed_after_its_scan_are_not_reported(tmp_path, scanner):
    """(It is not published: a withheld run names only what would have been published.)"""
    run_dir = tmp_path / "2023-08-31"
    worker = OutputScanner(run_dir, scanner)
    tmp = run_dir / ".page.tmp"
    _write(tmp, _page(ID))
    worker.written(tmp, _page(ID))
    tmp.unlink()
    assert final_scan(run_dir, worker.take(), scanner) == []


# --- copies and archives take over the hits of the files they hold ---------------------------
def _package(run_dir: Path, leak_in: str | None, leak: str) -> Path:
    """A send folder as the documents step writes it: a copy of the worker's page, a workbook,
    a letter; the page scanned by the worker."""
    folder = run_dir / "send" / "10001-甲大学"
    contents = {
        "10001-甲大学.html": _page(leak if leak_in == "page" else CLEAN),
        "10001-甲大学-报表.xlsx": _xlsx(leak if leak_in == "workbook" else CLEAN),
        "10001-甲大学-学科专业点调整通知.docx": _docx(leak if leak_in == "letter" else CLEAN),
    }
    source = run_dir / "universities" / "10001-甲大学.html"
    _write(source, contents["10001-甲大学.html"])
    for name, content in contents.items():
        _write(folder / name, content)
    return folder


@pytest.mark.parametrize("leak", [ID, NAME], ids=["id_number", "fingerprinted name"])
@pytest.mark.parametrize("leak_in", [None, "page", "workbook", "letter"])
def test_a_copy_and_an_archive_have_exactly_the_hits_of_scanning_them(
    tmp_path, scanner, leak_in, leak, monkeypatch
):
    from helpers.runner.send import zip_folder, zip_members

    run_dir = tmp_path / "2023-08-31"
    folder = _package(run_dir, leak_in, leak)
    page = folder / "10001-甲大学.html"
    worker = OutputScanner(run_dir, scanner)
    worker.files([run_dir / "universities" / page.name])
    main = OutputScanner(run_dir, scanner, earlier=worker.take())
    main.copied(run_dir / "universities" / page.name, page)
    main.files([p for p in folder.iterdir() if p != page])
    archive = zip_folder(folder, run_dir / "send" / "10001-甲大学.zip", dt.date(2023, 9, 1))
    read = _files_read(monkeypatch)
    main.archived(archive, zip_members(folder))
    assert read == []  # neither the copy nor the archive was read
    monkeypatch.undo()
    ledger = main.take()
    for path in (page, archive):
        rel = path.relative_to(run_dir).as_posix()
        assert ledger.hits_of(rel) == scanner.scan_file(path, run_dir)
        assert ledger.current(run_dir, rel)
    assert bool(ledger.hits_of("send/10001-甲大学.zip")) == (leak_in is not None)


def test_a_copy_or_archive_of_a_file_not_scanned_as_it_is_now_is_read(tmp_path, scanner):
    from helpers.runner.send import zip_folder, zip_members

    run_dir = tmp_path / "2023-08-31"
    folder = _package(run_dir, None, ID)
    source = run_dir / "universities" / "10001-甲大学.html"
    worker = OutputScanner(run_dir, scanner)
    worker.files([source])
    _write(source, _page(ID) + " ")  # changed after the worker's scan, then copied
    (folder / source.name).write_bytes(source.read_bytes())
    main = OutputScanner(run_dir, scanner, earlier=worker.take())
    main.copied(source, folder / source.name)
    # the workbook and letter were never scanned: the archive is read itself
    archive = zip_folder(folder, run_dir / "send" / "10001-甲大学.zip", dt.date(2023, 9, 1))
    main.archived(archive, zip_members(folder))
    ledger = main.take()
    assert {h.file for h in ledger.hits} == {
        "send/10001-甲大学/10001-甲大学.html",
        "send/10001-甲大学.zip",
    }
    assert ledger.hits_of("send/10001-甲大学.zip") == scanner.scan_file(archive, run_dir)
