"""Period runs on a small constructed data set with the runner's test notebooks (tests/notebooks):
outputs, failures, atomic re-runs, --only-if-new, one-university runs, warm vs fresh kernels."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from test_ingest_support import GRAD_HEADER, UNIVERSITIES, VISITS_HEADER, grad_row, write_csv

from helpers.ingest import ingest, sources
from helpers.runner import manifest as mf
from helpers.runner.catalog import PROVINCE, UNIVERSITY, Part, ReportSpec
from helpers.runner.execute import WarmKernel, execute_part, fresh_execute
from helpers.runner.period import run_period
from helpers.tables import register_headers, register_table_titles

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner")]

TEST_NOTEBOOKS = Path(__file__).parent / "notebooks"
AS_OF = dt.date(2023, 8, 31)
UNIS = {"10001": "甲大学", "10002": "乙学院", "10003": "丙职业技术学院"}

# The test notebooks register these in their kernels; the workbook is built in this process.
register_table_titles(
    {"runner_test_counts": "运行测试计数", "runner_test_state": "运行测试内核状态"}
)
register_headers(
    {
        "university_code": "院校代码",
        "runner_test_rows": "测试行数",
        "runner_test_placed": "测试已落实数",
        "runner_test_key": "检查项",
        "runner_test_value": "取值",
    }
)

GOOD = [
    ReportSpec("tiny_report.ipynb", "测试全省报告", PROVINCE, "测试报告"),
    ReportSpec("tiny_report.ipynb", "测试院校部分", UNIVERSITY, "tiny"),
]
FAILING = [
    *GOOD,
    ReportSpec("raises.ipynb", "会失败的报告", PROVINCE, "失败报告"),
    ReportSpec("raises.ipynb", "会失败的院校部分", UNIVERSITY, "raises"),
]


def make_data(base: Path) -> Path:
    """raw/ for AS_OF (the universities list, one graduates export: 30, 20 and 25 graduates, two
    in three placed, one named 张三丰) and processed/ as ``placement ingest`` makes it from them."""
    ids = [f"41350{code}" for code in UNIS]
    levels, rates = ["本科", "本科", "专科"], ["0.8", "0.7", ""]
    write_csv(
        base / "raw" / "reference" / "universities.csv",
        [
            UNIVERSITIES[0],
            *(
                [uid, code, name, level, "公办", "福州市", rate]
                for uid, (code, name), level, rate in zip(
                    ids, UNIS.items(), levels, rates, strict=True
                )
            ),
        ],
    )
    codes = ["10001"] * 30 + ["10002"] * 20 + ["10003"] * 25
    rows = [
        grad_row(
            i,
            院校代码=code,
            学历层次="专科生毕业" if code == "10003" else "本科生毕业",
            毕业去向类别代码="70" if i % 3 == 1 else "10",
            **({"姓名": "张三丰"} if i == 0 else {}),
        )
        for i, code in enumerate(codes)
    ]
    write_csv(base / "raw" / AS_OF.isoformat() / "毕业去向_汇总.csv", [GRAD_HEADER, *rows])
    ingest(AS_OF, base, workers=1)
    return base


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("ingested") / "data")


def run(data: Path, reports: Path, specs, workers: int = 1, **kw) -> int:
    return run_period(
        AS_OF,
        kw.pop("university", None),
        data,
        reports,
        workers=workers,
        catalog=specs,
        notebooks_dir=TEST_NOTEBOOKS,
        progress=False,
        **kw,
    )


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def data(ingested, tmp_path) -> Path:
    """A copy of the ingested data set: up to date by the ingest's rule, so a run reads it as is."""
    return Path(shutil.copytree(ingested, tmp_path / "data"))


def test_period_run_failures_atomic_rerun_only_if_new_and_one_university(data, tmp_path, capsys):
    reports = tmp_path / "reports"
    earlier = reports / "2023-06-30"
    earlier.mkdir(parents=True)
    (earlier / "index.html").write_text("六月的报告", encoding="utf-8")

    # 1. a notebook that raises: its error pages exist, the other reports are intact, exit 1
    #    (two worker processes, each with its own warm kernel)
    assert run(data, reports, FAILING, workers=2) == 1
    out = capsys.readouterr()
    failures = [line for line in out.err.splitlines() if "WARNING 失败 FAILED" in line]
    assert len(failures) == 2, out.err
    assert any(
        "raises.ipynb" in f and "ValueError" in f and "errors/raises.html" in f for f in failures
    )
    assert any("10002 乙学院" in f and "errors/10002-raises.html" in f for f in failures)
    run_dir = reports / "2023-08-31"
    got = files(run_dir)
    assert {
        "index.html",
        "manifest.json",
        "测试报告.html",
        "universities/10001-甲大学.html",
        "universities/10002-乙学院.html",
        "universities/10003-丙职业技术学院.html",
        "errors/raises.html",
        "errors/10002-raises.html",
        "notebooks/raises.ipynb",
        "notebooks/tiny_report.ipynb",
        "notebooks/universities/10002-raises.ipynb",
        "tables/runner_test_counts.csv",
        "tables/universities/10001/runner_test_counts.csv",
        "tables/报表汇总.xlsx",
    } <= got
    assert "失败报告.html" not in got  # a failed province report has only its error page
    man = mf.read_manifest(run_dir)
    assert man["run"]["status"] == "failed" and man["run"]["as_of"] == "2023-08-31"
    status = {r["key"]: r["status"] for r in man["reports"]}
    assert status == {
        "province:测试报告": "ok",
        "province:失败报告": "failed",
        "university:10001": "ok",
        "university:10002": "failed",
        "university:10003": "ok",
    }
    assert man["inputs"] == {
        rel: mf.file_sha256(data / "raw" / rel)
        for rel in ("2023-08-31/毕业去向_汇总.csv", "reference/universities.csv")
    }
    assert man["header"]["data_version"] == mf.data_version(data, AS_OF)
    assert {"commit", "dirty"} <= set(man["git"]) and "papermill" in man["versions"]
    assert all(r["seconds"] > 0 for r in man["reports"])
    error_nb = json.loads((run_dir / "notebooks/universities/10002-raises.ipynb").read_text())
    assert any(
        "papermill-error-cell-tag" in c["metadata"].get("tags", []) for c in error_nb["cells"]
    )
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    for text in (
        "有 2 份报告生成失败",
        "errors/10002-raises.html",
        "errors/raises.html",
        "universities/10001-%E7%94%B2%E5%A4%A7%E5%AD%A6.html",
        "%E6%B5%8B%E8%AF%95%E6%8A%A5%E5%91%8A.html",
        "tables/%E6%8A%A5%E8%A1%A8%E6%B1%87%E6%80%BB.xlsx",
    ):
        assert text in index, text
    page_10002 = (run_dir / "universities/10002-乙学院.html").read_text(encoding="utf-8")
    assert (
        "“会失败的院校部分”部分未能生成" in page_10002
        and "../errors/10002-raises.html" in page_10002
    )
    error_page = (run_dir / "errors/10002-raises.html").read_text(encoding="utf-8")
    assert "ValueError" in error_page and "第 3 个单元格" in error_page
    assert not any(p.name.startswith(".staging") for p in reports.iterdir())

    # 2. a re-run replaces the whole folder: no file of the failed run survives
    (run_dir / "stray-from-old-run.txt").write_text("old")
    assert run(data, reports, GOOD) == 0
    got = files(run_dir)
    assert not any(p.startswith("errors/") or "raises" in p for p in got)
    assert "stray-from-old-run.txt" not in got
    assert mf.read_manifest(run_dir)["run"]["status"] == "ok"
    assert (earlier / "index.html").read_text(encoding="utf-8") == "六月的报告"
    assert files(earlier) == {"index.html"}
    capsys.readouterr()

    # 3. a scheduled run with nothing new says so and changes nothing
    before = (run_dir / "manifest.json").read_bytes()
    assert run(data, reports, GOOD, only_if_new=True) == 0
    assert "没有新的原始数据" in capsys.readouterr().out
    assert (run_dir / "manifest.json").read_bytes() == before

    # 4. one university only: its report is re-made, every other file carried over
    other = (run_dir / "universities/10003-丙职业技术学院.html").read_bytes()
    assert run(data, reports, GOOD, university="10001") == 0
    man = mf.read_manifest(run_dir)
    assert man["run"]["university"] == "10001"
    carried = {r["key"] for r in man["reports"] if r.get("carried")}
    assert carried == {"province:测试报告", "university:10002", "university:10003"}
    assert (run_dir / "universities/10003-丙职业技术学院.html").read_bytes() == other
    assert "沿用" in (run_dir / "index.html").read_text(encoding="utf-8")
    assert "tables/universities/10001/runner_test_counts.csv" in files(run_dir)


def test_only_if_new_runs_when_a_raw_file_arrives(data, tmp_path, capsys):
    reports = tmp_path / "reports"
    last = {
        "run": {"as_of": "2023-08-31", "status": "ok", "finished": "2023-09-01T08:00:00+08:00"},
        "inputs": mf.raw_inputs(data, AS_OF),
    }
    (reports / "2023-08-31").mkdir(parents=True)
    mf.write_manifest(reports / "2023-08-31", last)
    write_csv(
        data / "raw" / "2023-08-31" / "访企拓岗_10001.csv",
        [VISITS_HEADER, ["10001", "2023-05-10", "王老师", "处长", "某某科技有限公司", "是", "3"]],
    )
    assert run(data, reports, GOOD[:1], only_if_new=True) == 0
    out = capsys.readouterr().out
    assert "没有新的原始数据" not in out
    # the new file is ingested first (the ingest's own rule, its reason in the log), then reported
    assert "先入库 ingest（2023-08-31：输入文件有变动（新增 1 个，在 2023-08-31））" in out
    assert not sources.needs_ingest(AS_OF, data)
    recorded = mf.read_manifest(data / "processed" / "2023-08-31")
    assert "2023-08-31/访企拓岗_10001.csv" in {f["path"] for f in recorded["files"]}
    assert mf.read_manifest(reports / "2023-08-31")["run"]["workers"] == 1


def test_processed_data_without_raw_data_still_makes_the_reports(data, tmp_path, capsys):
    """A department that receives processed data only (no raw/ at all): nothing to ingest, the
    reports are made from the processed folder as it is, and a scheduled run finds nothing new."""
    shutil.rmtree(data / "raw")
    reports = tmp_path / "reports"
    assert run(data, reports, GOOD) == 0
    out = capsys.readouterr().out
    assert "没有 2023-08-31 及以前的原始数据，使用已有的处理后数据" in out and "先入库" not in out
    man = mf.read_manifest(reports / "2023-08-31")
    assert man["run"]["status"] == "ok" and man["inputs"] == {}
    assert man["header"]["data_version"] == mf.data_version(data, AS_OF) != "—"
    assert run(data, reports, GOOD, only_if_new=True) == 0
    assert "没有新的原始数据" in capsys.readouterr().out
    shutil.rmtree(
        data / "processed" / "2023-08-31"
    )  # neither raw nor processed data: a clear error
    with pytest.raises(FileNotFoundError, match="no raw data for 2023-08-31"):
        run(data, reports, GOOD)


def test_unknown_university_is_a_clear_error(data, tmp_path):
    with pytest.raises(ValueError, match="院校代码 99999"):
        run(data, tmp_path / "reports", GOOD, university="99999")


def _state(reports_dir: Path) -> str:
    return (reports_dir / AS_OF.isoformat() / "tables" / "runner_test_state.csv").read_text(
        encoding="utf-8-sig"
    )


def test_warm_kernel_is_reset_between_reports_and_matches_a_fresh_kernel(data, tmp_path):
    """The same report on a reused kernel (after another report left a mess) and on a fresh kernel
    gives identical tables."""
    warm_dir, fresh_dir = tmp_path / "warm", tmp_path / "fresh"

    def params(reports_dir: Path, university: str | None = None) -> dict:
        return {
            "as_of": AS_OF.isoformat(),
            "university": university,
            "data_dir": str(data),
            "reports_dir": str(reports_dir),
        }

    stateful = Part(
        ReportSpec("stateful.ipynb", "状态", PROVINCE, "状态"),
        None,
        "notebooks/stateful.ipynb",
        "errors/stateful.html",
    )
    tiny = {
        code: Part(GOOD[1], code, f"notebooks/universities/{code}-tiny_report.ipynb", "e.html")
        for code in ("10001", "10003")
    }
    with WarmKernel(TEST_NOTEBOOKS) as kernel:
        first, _ = execute_part(stateful, kernel, TEST_NOTEBOOKS, warm_dir, params(warm_dir))
        state_first = _state(warm_dir)
        second, _ = execute_part(stateful, kernel, TEST_NOTEBOOKS, warm_dir, params(warm_dir))
        state_second = _state(warm_dir)
        for code in ("10003", "10001"):
            result, nb = execute_part(
                tiny[code], kernel, TEST_NOTEBOOKS, warm_dir, params(warm_dir, code)
            )
            assert result.status == "ok" and nb is not None
        assert kernel.alive()
    assert first.status == second.status == "ok"
    assert (
        "leftover_variable,False" in state_second and "cwd_is_notebooks,notebooks" in state_second
    )
    assert state_first == state_second
    fresh, _ = fresh_execute(stateful, TEST_NOTEBOOKS, fresh_dir, params(fresh_dir))
    assert fresh.status == "ok" and _state(fresh_dir) == state_first
    result, _ = fresh_execute(tiny["10001"], TEST_NOTEBOOKS, fresh_dir, params(fresh_dir, "10001"))
    assert result.status == "ok"
    rel = Path(AS_OF.isoformat()) / "tables" / "universities" / "10001" / "runner_test_counts.csv"
    assert (warm_dir / rel).read_bytes() == (fresh_dir / rel).read_bytes()
    assert "10001,30,20" in (warm_dir / rel).read_text(encoding="utf-8-sig")


def test_dead_kernel_fails_one_report_and_the_next_gets_a_new_kernel(data, tmp_path):
    nb_dir = tmp_path / "nbs"
    shutil.copytree(TEST_NOTEBOOKS, nb_dir)
    import nbformat

    killer = nbformat.read(str(nb_dir / "raises.ipynb"), as_version=4)
    killer.cells[-1].source = "import os\nos._exit(1)"
    killer.cells[2].source = "pass"
    nbformat.write(killer, str(nb_dir / "killer.ipynb"))
    from helpers.runner.catalog import province_task
    from helpers.runner.execute import RunContext, run_task

    ctx = RunContext(
        nb_dir,
        tmp_path / "r" / AS_OF.isoformat(),
        tmp_path / "r",
        data,
        AS_OF,
        {"as_of": "2023-08-31", "cohort": "2023届", "data_version": "x", "generated_at": "now"},
    )
    with WarmKernel(nb_dir) as kernel:
        dead = run_task(
            province_task(ReportSpec("killer.ipynb", "崩溃", PROVINCE, "崩溃")), ctx, kernel
        )
        ok = run_task(province_task(GOOD[0]), ctx, kernel)
    assert dead.status == "failed" and dead.parts[0].ename
    assert (ctx.run_dir / "errors" / "killer.html").exists()
    assert ok.status == "ok" and (ctx.run_dir / "测试报告.html").exists()
    assert os.path.exists(ctx.run_dir / "notebooks" / "killer.ipynb")


def test_a_dead_worker_process_does_not_lose_reports(data, tmp_path, capsys):
    """A report that kills its worker process breaks the pool; what was not finished is made in
    the main process instead (where this notebook leaves the process alone)."""
    specs = [ReportSpec("kills_worker.ipynb", "崩溃测试", PROVINCE, "崩溃测试"), *GOOD]
    assert run(data, tmp_path / "reports", specs, workers=2) == 0
    assert "工作进程意外退出" in capsys.readouterr().err
    run_dir = tmp_path / "reports" / "2023-08-31"
    man = mf.read_manifest(run_dir)
    assert {r["key"]: r["status"] for r in man["reports"]} == {
        "province:崩溃测试": "ok",
        "province:测试报告": "ok",
        "university:10001": "ok",
        "university:10002": "ok",
        "university:10003": "ok",
    }
    assert (run_dir / "崩溃测试.html").exists()


def test_personal_data_in_a_report_withholds_the_whole_run(data, tmp_path, capsys):
    """A report that prints a name from the inputs: the scanner finds it, nothing is published,
    the previous run stays, and the name itself is never printed."""
    reports = tmp_path / "reports"
    assert run(data, reports, GOOD) == 0
    before = files(reports / "2023-08-31")
    index_before = (reports / "2023-08-31" / "index.html").read_bytes()
    capsys.readouterr()
    leak = ReportSpec("leak.ipynb", "泄露测试", PROVINCE, "泄露测试")
    assert run(data, reports, [*GOOD, leak]) == 3
    out = capsys.readouterr()
    assert "隐私检查未通过" in out.err and "泄露测试.html" in out.err
    assert "张三丰" not in out.out + out.err
    assert files(reports / "2023-08-31") == before
    assert (reports / "2023-08-31" / "index.html").read_bytes() == index_before
    withheld = list((data / "processed" / ".withheld-reports").iterdir())
    assert len(withheld) == 1 and (withheld[0] / "泄露测试.html").exists()
    # reports/index.html is the one the first run wrote (a withheld run publishes nothing)
    assert sorted(p.name for p in reports.iterdir()) == [
        ".2023-08-31.lock",
        "2023-08-31",
        "index.html",
    ]


def test_a_second_run_of_the_same_period_is_refused(data, tmp_path, capsys):
    from helpers.runner import staging

    reports = tmp_path / "reports"
    with staging.period_lock(reports, "2023-08-31"):
        assert run(data, reports, GOOD) == 4
    assert "另一个 2023-08-31 的运行正在进行" in capsys.readouterr().err
    assert not (reports / "2023-08-31").exists()


def _scanning_context(data, tmp_path):
    """A staging folder and a run context whose workers scan what they write."""
    from helpers.runner.execute import RunContext

    run_dir = tmp_path / "r" / AS_OF.isoformat()
    run_dir.mkdir(parents=True)
    header = {"as_of": "2023-08-31", "cohort": "2023届", "data_version": "x", "generated_at": "now"}
    ctx = RunContext(
        TEST_NOTEBOOKS, run_dir, run_dir.parent, data, AS_OF, header, scan_outputs=True
    )
    return run_dir, ctx


def test_a_worker_scans_every_file_of_its_report_as_it_is_written(data, tmp_path):
    """The report's notebooks and page from memory, its tables as the kernel wrote them: the
    worker's ledger holds every file the task wrote, with the hits of the leaking part."""
    from helpers.runner.catalog import university_task
    from helpers.runner.execute import run_task

    run_dir, ctx = _scanning_context(data, tmp_path)
    leak = ReportSpec("leak.ipynb", "泄露测试", UNIVERSITY, "leak")
    task = university_task([GOOD[1], leak], "10001", "甲大学")
    with WarmKernel(TEST_NOTEBOOKS) as kernel:
        result = run_task(task, ctx, kernel, ctx.output_scanner())
    assert result.status == "ok" and result.scan is not None
    written = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert any(f.startswith("tables/universities/10001/") for f in written)
    assert set(result.scan.files) == written
    assert {h.file for h in result.scan.hits} == {task.html_rel, task.parts[1].notebook_rel}
    assert {h.kind for h in result.scan.hits} == {"name"}


STEPS = {
    "hash_inputs",
    "ingest",
    "plan",
    "staging",
    "reports",
    "workbook",
    "documents",
    "audit",
    "index",
    "privacy_scan",
}


def test_the_run_records_and_prints_its_time_by_step_unless_quiet(data, tmp_path, capsys):
    import logging

    from helpers import logs

    assert run(data, tmp_path / "reports", GOOD) == 0
    out = capsys.readouterr().out
    man = json.loads((tmp_path / "reports" / "2023-08-31" / "manifest.json").read_text("utf-8"))
    steps = {k: v for k, v in man["timings"].items() if k != "total"}
    assert set(steps) == STEPS  # (no start-up: this process is not the placement command)
    assert set(man["cpu_timings"]) == STEPS
    assert sum(steps.values()) <= man["timings"]["total"]
    table = out[out.index("各步骤用时") :]
    for name in [*STEPS, "publish", "unaccounted", "total"]:
        assert f" {name} " in table, name
    try:
        logs.configure(logging.WARNING)  # what -q sets
        assert run(data, tmp_path / "quiet", GOOD) == 0
    finally:
        logs.configure(logging.INFO)
    assert "各步骤用时" not in capsys.readouterr().out


def test_scanning_as_written_finds_exactly_what_a_scan_of_the_finished_folder_finds(data, tmp_path):
    """Two workers scan their reports as they write them; with the final pass, the hits are
    those of the end-of-run scan of the whole folder (scanner.scan_run), leaks and all."""
    from helpers import scanner
    from helpers.runner.catalog import plan_tasks
    from helpers.runner.execute import run_tasks
    from helpers.runner.scanning import ScanLedger, final_scan, output_scanner

    run_dir, ctx = _scanning_context(data, tmp_path)
    specs = [
        *GOOD,
        ReportSpec("leak.ipynb", "泄露测试", PROVINCE, "泄露测试"),
        ReportSpec("leak.ipynb", "院校泄露测试", UNIVERSITY, "leak"),
    ]
    results = run_tasks(plan_tasks(specs, list(UNIS.items())), ctx, 2, progress=False)
    ledger = ScanLedger()
    for r in results:
        ledger.merge(r.scan)
    written = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert set(ledger.files) == written  # the workers scanned every file they wrote
    main = output_scanner(run_dir, data, AS_OF)
    ours = final_scan(run_dir, ledger, main.scanner)

    def key(h):
        return h.file, h.kind, h.location, h.masked, h.rule

    theirs = scanner.scan_run(run_dir, data)
    assert len(ours) >= 8  # the province report and each university's, notebook and page
    assert sorted(ours, key=key) == sorted(theirs, key=key)
