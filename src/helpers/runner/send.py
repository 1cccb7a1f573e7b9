"""What the department sends, made at the end of a period run (publish step).

- ``全省通报.docx``: the circular as a 公文 (:mod:`helpers.documents.circular_docx`), the same text as
  ``情况通报.html``;
- ``send/<院校代码>-<校名>/``: one package per university, and ``send/<院校代码>-<校名>.zip`` of it:
  its HTML report, an xlsx of its own tables (Chinese headers), its 单独发送 letter when it has
  学科专业点 below the threshold (:mod:`helpers.documents.letters`), and its 数据问题清单 (which
  rows of its own files were quarantined or repaired: file, sheet, row numbers, reason — never a
  value of the row);
- ``send/清单.csv``: who gets which file.

:func:`build_documents` is the runner's one call; everything else is a pure function or writes
exactly one file.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import inert
from helpers.runner.catalog import university_stem

CIRCULAR_NOTEBOOK = "circular.ipynb"
SEND_DIR = "send"
CIRCULAR_DOCX = "全省通报.docx"
LIST_CSV = "清单.csv"
LETTER_NAME = "{stem}-学科专业点调整通知.docx"
TABLES_NAME = "{stem}-报表.xlsx"
ISSUES_NAME = "{stem}-数据问题清单.xlsx"

ISSUE_HEADERS = {
    "source_file": "源文件",
    "sheet": "工作表",
    "dataset": "数据集",
    "kind": "问题类别",
    "reason": "原因",
    "column_name": "涉及的列",
    "row_count": "行数",
    "row_numbers": "行号（文件中的行）",
}
LIST_HEADERS = ("院校代码", "院校名称", "文件", "内容")


# --- 数据问题清单 ----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueRows:
    """The period's quarantined and repaired rows, each with the university it belongs to
    (worked out once: a period makes one 数据问题清单 per university)."""

    quarantine: pd.DataFrame  # without ``raw``
    quarantine_university: pd.Series
    repairs: pd.DataFrame
    repairs_university: pd.Series


def issue_rows(
    quarantine: pd.DataFrame, repairs: pd.DataFrame, universities: pd.DataFrame
) -> IssueRows:
    """``quarantine`` may hold ``raw``: it is read only to find the row's university, as the
    data-quality report does, and then dropped."""
    from helpers.runner import quality

    q_code = quality.quarantine_university(quarantine, universities)
    q = quarantine.drop(columns=[c for c in ("raw",) if c in quarantine.columns])
    r_code = quality.quarantine_university(repairs, universities)
    return IssueRows(q, q_code, repairs, r_code)


def data_issues(
    quarantine: pd.DataFrame,
    repairs: pd.DataFrame,
    universities: pd.DataFrame,
    code: str,
    redact=None,
) -> pd.DataFrame:
    """The problems found in one university's own files: quarantined rows (by file, sheet and
    reason, with the row numbers as the file shows them), unreadable files, and repairs made.

    ``quarantine`` may hold ``raw`` (read only to find the row's university, as the data-quality
    report does); no value of any row is returned. Columns: :data:`ISSUE_HEADERS`. ``redact``:
    how file and sheet names are shown (:func:`helpers.runner.quality.name_redactor`; default:
    ID and mobile numbers hidden).
    """
    return university_issues(issue_rows(quarantine, repairs, universities), code, redact)


@dataclass(frozen=True)
class IssueTables:
    """The period's issue rows grouped as the 数据问题清单 lists them, for every university at
    once (grouping once per period instead of once per university), each row with its
    ``university_code``."""

    rows: pd.DataFrame  # quarantined rows: per file, sheet and reason, with their row numbers
    files: pd.DataFrame  # unreadable files
    fixed: pd.DataFrame  # repairs: per file, sheet, repair and column, with their row numbers


def _mine(university: pd.Series, codes) -> np.ndarray:
    return university.isin(codes).fillna(False).to_numpy()


def _of(table: pd.DataFrame, code: str) -> pd.DataFrame:
    return table.loc[_mine(table["university_code"], [code])]


def issue_tables(period: IssueRows, codes=None) -> IssueTables:
    """:class:`IssueTables` of the universities ``codes`` (None: every university)."""
    from helpers.runner import quality

    by = ("university_code",)
    q_code, r_code = period.quarantine_university, period.repairs_university
    codes = sorted(set(q_code.dropna()) | set(r_code.dropna())) if codes is None else codes
    own = _mine(q_code, codes)
    q = period.quarantine.loc[own].assign(university_code=q_code[own])
    own = _mine(r_code, codes)
    r = period.repairs.loc[own].assign(university_code=r_code[own])
    return IssueTables(
        quality.quarantined_row_numbers(q, by=by),
        quality.unreadable_files(q, by=by),
        quality.repair_row_numbers(r, by=by),
    )


def university_issues(period: IssueRows | IssueTables, code: str, redact=None) -> pd.DataFrame:
    """:func:`data_issues` of one university from the period's :class:`IssueRows` (or, when
    many universities' are wanted, from their :class:`IssueTables`, made once)."""
    from helpers.runner import quality

    tables = issue_tables(period, [code]) if isinstance(period, IssueRows) else period
    cols = list(ISSUE_HEADERS)
    parts = []
    rows = _of(tables.rows, code)
    if len(rows):
        parts.append(
            pd.DataFrame(
                {
                    "source_file": rows["source_file"],
                    "sheet": rows["sheet"],
                    "dataset": rows["dataset"],
                    "kind": "隔离（未入库）",
                    "reason": rows["quarantine_reason"],
                    "column_name": "",
                    "row_count": rows["row_count"],
                    "row_numbers": rows["row_numbers"],
                }
            )
        )
    files = _of(tables.files, code)
    if len(files):
        parts.append(
            pd.DataFrame(
                {
                    "source_file": files["source_file"],
                    "sheet": "",
                    "dataset": files["dataset"],
                    "kind": "无法读取（整个文件未入库）",
                    "reason": files["quarantine_reason"],
                    "column_name": "",
                    "row_count": pd.NA,
                    "row_numbers": "",
                }
            )
        )
    fixed = _of(tables.fixed, code)
    if len(fixed):
        parts.append(
            pd.DataFrame(
                {
                    "source_file": fixed["source_file"],
                    "sheet": fixed["sheet"],
                    "dataset": fixed["dataset"],
                    "kind": "自动修复（已入库）",
                    "reason": fixed["repair"],
                    "column_name": fixed["column_name"],
                    "row_count": fixed["row_count"],
                    "row_numbers": fixed["row_numbers"],
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    out = pd.concat(parts, ignore_index=True)[cols]
    if redact is not None:  # the quality tables hid ID/mobile numbers; this adds 学号 and names
        out = quality.with_shown_names(out, redact)
    return out.sort_values(["source_file", "sheet", "kind"], kind="stable").reset_index(drop=True)


def write_issues_xlsx(issues: pd.DataFrame, path: Path, title: str) -> Path:
    """The 数据问题清单 as one sheet with Chinese headers (strings are never formulas)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "in_memory": True,  # no temporary file per sheet: the same file, made faster
        },
    )
    try:
        ws = wb.add_worksheet("数据问题清单")
        head = wb.add_format({"bold": True, "text_wrap": True, "bg_color": "#e8e8e8", "border": 1})
        ws.write_string(0, 0, title)
        for j, col in enumerate(issues.columns):
            ws.write_string(1, j, ISSUE_HEADERS[col], head)
            ws.set_column(j, j, 40 if col in ("source_file", "reason", "row_numbers") else 14)
        for i, row in enumerate(issues.itertuples(index=False), start=2):
            for j, v in enumerate(row):
                if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                    continue
                if isinstance(v, str):
                    ws.write_string(i, j, v)  # a string cell: never a formula
                else:
                    ws.write_number(i, j, float(v))
        if issues.empty:
            ws.write_string(2, 0, "本期没有发现本校文件的数据问题。")
        ws.freeze_panes(2, 0)
    finally:
        wb.close()
    return path


# --- packages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Package:
    code: str
    name: str
    folder: str  # relative to the run folder: send/<stem>
    zip: str  # send/<stem>.zip
    files: tuple[tuple[str, str], ...]  # (path relative to the run folder, what it is)

    def entry(self) -> dict:
        """The package as the manifest lists it."""
        files = [f for f, _ in self.files]
        return {"university": self.code, "folder": self.folder, "zip": self.zip, "files": files}


def zip_members(folder: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) of every file under ``folder``, in archive order."""
    return [
        (f"{folder.name}/{p.relative_to(folder).as_posix()}", p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def zip_folder(folder: Path, target: Path, stamp: dt.date) -> Path:
    """``target`` holding ``folder``'s files under ``<folder name>/``, every entry stamped with
    ``stamp`` (the same files make the same archive; the xlsx and docx files themselves record
    when they were saved, so two runs' packages differ in those bytes)."""
    fd, tmp = tempfile.mkstemp(prefix=".zip.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, p in zip_members(folder):
                info = zipfile.ZipInfo(
                    name, date_time=(stamp.year, stamp.month, stamp.day, 0, 0, 0)
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, p.read_bytes())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_package(
    run_dir: Path,
    code: str,
    name: str,
    letter,
    issues: pd.DataFrame,
    stamp: dt.date,
) -> Package:
    """One university's folder under ``send/`` and its zip. ``letter``: a docx Document or None."""
    from helpers.tables import build_workbook

    stem = university_stem(code, name)
    send = run_dir / SEND_DIR
    folder = send / stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files: list[tuple[str, str]] = []

    def rel(p: Path) -> str:
        return p.relative_to(run_dir).as_posix()

    html = run_dir / "universities" / f"{stem}.html"
    if html.is_file():
        shutil.copyfile(html, folder / html.name)
        files.append((rel(folder / html.name), "本校毕业生就业监测报告（网页，可离线打开、打印）"))
    tables = run_dir / "tables" / "universities" / code
    if tables.is_dir() and any(tables.glob("*.csv")):
        out = build_workbook(tables, out=folder / TABLES_NAME.format(stem=stem))
        files.append((rel(out), "本校报表（Excel，中文表头，只含本校数据）"))
    if letter is not None:
        out = folder / LETTER_NAME.format(stem=stem)
        letter.save(str(out))
        files.append((rel(out), "学科专业点调整通知（单独发送，Word 公文）"))
    out = write_issues_xlsx(
        issues, folder / ISSUES_NAME.format(stem=stem), f"{name}（{code}）数据问题清单"
    )
    files.append(
        (rel(out), f"数据问题清单（本校文件中被隔离或修复的行，共 {len(issues)} 组，请核对后重报）")
    )
    archive = zip_folder(folder, send / f"{stem}.zip", stamp)
    files.append((rel(archive), "以上文件的压缩包"))
    return Package(code, name, rel(folder), rel(archive), tuple(files))


def scan_package(scan, run_dir: Path, pkg: Package) -> None:
    """Scan a package as written (``scan``: the run's
    :class:`~helpers.runner.scanning.OutputScanner`): the page is a copy of the report the worker
    scanned, the zip holds the folder's files; the rest is read."""
    folder = run_dir / pkg.folder
    for rel, _ in pkg.files:
        path = run_dir / rel
        if rel == pkg.zip:
            scan.archived(path, zip_members(folder))
        elif path.suffix == ".html" and path.parent == folder:
            scan.copied(run_dir / "universities" / path.name, path)
        else:
            scan.files([path])


@dataclass(frozen=True)
class PackageJob:
    """One package to make, as plain data (it may go to a worker process): the letter's content
    (laid out where the package is written) or None, and the university's 数据问题清单."""

    code: str
    name: str
    letter: object  # a helpers.documents.gongwen.OfficialDocument, or None
    issues: pd.DataFrame
    stamp: dt.date


def make_package(run_dir: Path, scan, job: PackageJob) -> Package:
    """:func:`write_package` of ``job``, scanned as written when ``scan`` is given (a
    :class:`~helpers.runner.publish.PublishPool` job)."""
    from helpers.documents import gongwen

    letter = gongwen.render(job.letter) if job.letter is not None else None
    pkg = write_package(run_dir, job.code, job.name, letter, job.issues, job.stamp)
    if scan is not None:
        scan_package(scan, run_dir, pkg)
    return pkg


def send_list(packages: list[Package], circular: str | None, addressee: str) -> pd.DataFrame:
    """``send/清单.csv``: one row per file and recipient (paths relative to ``reports/<as_of>/``)."""
    rows = []
    if circular:
        rows.append(("", addressee, circular, "全省通报（Word 公文，主送各高校）"))
    for p in packages:
        rows += [(p.code, p.name, f, what) for f, what in p.files]
    frame = pd.DataFrame(rows, columns=list(LIST_HEADERS))
    return frame.map(inert.csv_cell)


# --- the runner's edge ------------------------------------------------------------------------
def _followup_tables(data_dir: Path, as_of: dt.date, policy):
    """The tables of the circular, loaded and built exactly as notebooks/circular.ipynb does."""
    from helpers import load
    from helpers.followup import report

    def get(name, columns):
        return load.load_dataset(data_dir, as_of, name, columns=columns)

    return report.build(
        graduates=get("graduates", report.GRADUATE_COLUMNS),
        history=load.load_graduate_history(data_dir, as_of, columns=report.HISTORY_COLUMNS),
        recruitment=get("recruitment", report.RECRUITMENT_COLUMNS),
        visits=get("visits", report.VISIT_COLUMNS),
        platform=get("platform", report.PLATFORM_COLUMNS),
        assistance=get("assistance", report.ASSISTANCE_COLUMNS),
        universities=get("universities", report.UNIVERSITY_COLUMNS),
        policy=policy,
        as_of=as_of,
    )


def _major_evidence(data_dir: Path, as_of: dt.date, policy):
    """The 专业点 evidence, loaded as notebooks/major_evidence.ipynb does."""
    from helpers import load, majors

    history = load.load_graduate_history(data_dir, as_of, columns=majors.HISTORY_COLUMNS)
    universities = load.load_dataset(
        data_dir, as_of, "universities", columns=["university_code", "university_name"]
    )
    try:
        plans = load.load_dataset(data_dir, as_of, "adjustment_plans")
    except load.MissingDataError:
        plans = None
    return majors.major_evidence(history, universities, plans, as_of, policy)


def _period_issue_rows(data_dir: Path, as_of: dt.date) -> IssueRows:
    from helpers import load

    ref = load.load_dataset(
        data_dir, as_of, "universities", columns=["university_code", "university_name"]
    )
    return issue_rows(
        load.load_dataset(data_dir, as_of, "quarantine"),
        load.load_dataset(data_dir, as_of, "repairs"),
        ref,
    )


def build_documents(
    run_dir: Path,
    data_dir: Path,
    as_of: dt.date,
    universities: list[tuple[str, str]],
    issued: dt.date,
    specs=None,
    redact=None,
    scan=None,
    pool=None,
) -> dict:
    """Write the circular docx, the letters and one package per university into the staged run
    ``run_dir``; returns the manifest entry (``error`` set when something failed: the run is
    then marked failed, the other outputs are kept).

    ``universities``: (院校代码, 院校名称) of the period's reports; ``issued``: 成文日期;
    ``specs``: the run's report specs — the documents are made only when the circular is one
    of them (a test catalog of other notebooks makes none: ``skipped`` says so); ``redact``:
    how file and sheet names are shown (default :func:`helpers.runner.quality.name_redactor`);
    ``scan``: the run's :class:`~helpers.runner.scanning.OutputScanner`, which scans every
    document as it is written (None: the final scan reads them); ``pool``: the
    :class:`~helpers.runner.publish.PublishPool` the packages are made on (None: one after
    another in this process), in university order whatever finishes first.
    """
    from helpers.config import policy_for_date
    from helpers.documents import circular_docx, gongwen, letters
    from helpers.runner import quality
    from helpers.runner.publish import PublishPool, results, shown_error

    policy = policy_for_date(as_of)
    entry: dict = {
        "circular": None,
        "letters": [],
        "packages": [],
        "list": None,
        "error": None,
        "skipped": None,
    }
    if specs is not None and not any(s.notebook == CIRCULAR_NOTEBOOK for s in specs):
        entry["skipped"] = f"{CIRCULAR_NOTEBOOK} 不在本次运行的报告中"
        return entry
    shutil.rmtree(run_dir / SEND_DIR, ignore_errors=True)
    (run_dir / CIRCULAR_DOCX).unlink(missing_ok=True)
    try:
        ft = _followup_tables(data_dir, as_of, policy)
        doc = gongwen.render(circular_docx.circular_content(ft, policy, as_of, issued))
        doc.save(str(run_dir / CIRCULAR_DOCX))
        entry["circular"] = CIRCULAR_DOCX
        written = [run_dir / CIRCULAR_DOCX]

        ev = _major_evidence(data_dir, as_of, policy)
        flagged = dict(letters.flagged_universities(ev))

        def job(code: str, name: str) -> PackageJob:
            letter = (
                letters.letter_content(ev, code, ft.interviews, policy, issued)
                if code in flagged
                else None
            )
            return PackageJob(code, name, letter, university_issues(issues, code, shown), issued)

        issues = issue_tables(_period_issue_rows(data_dir, as_of), [c for c, _ in universities])
        shown = redact or quality.name_redactor(data_dir, as_of)
        pool = pool or PublishPool(run_dir, scan)
        packages = results([pool.submit(make_package, job(c, n)) for c, n in universities])
        entry["letters"] = [
            f for p in packages for f, _ in p.files if f.endswith(LETTER_NAME.format(stem=""))
        ]
        listing = send_list(packages, CIRCULAR_DOCX, policy.notice.addressee)
        listing.to_csv(run_dir / SEND_DIR / LIST_CSV, index=False, encoding="utf-8-sig")
        written.append(run_dir / SEND_DIR / LIST_CSV)
        if scan is not None:
            scan.files(written)
        entry["list"] = f"{SEND_DIR}/{LIST_CSV}"
        entry["packages"] = [p.entry() for p in packages]
    except Exception as exc:  # the documents are one output among many: report, don't abort
        entry["error"] = f"{type(exc).__name__}: {shown_error(exc, run_dir)}"
    return entry
