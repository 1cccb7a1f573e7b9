"""Runner pieces without kernels: catalog, manifest and input hashes, staging and atomic switch."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import test_ingest_support as support

from helpers.runner import catalog, manifest, staging
from helpers.runner.catalog import PROVINCE, UNIVERSITY, ReportSpec

# --- catalog ----------------------------------------------------------------------------------


def test_catalog_keeps_only_notebooks_on_disk(tmp_path):
    (tmp_path / "placement_rates.ipynb").write_text("{}")
    specs = catalog.available(catalog.CATALOG, tmp_path)
    assert {s.notebook for s in specs} == {"placement_rates.ipynb"}
    assert {s.scope for s in specs} == {PROVINCE, UNIVERSITY}


def test_catalog_lists_every_period_notebook():
    names = {s.notebook for s in catalog.CATALOG}
    assert names == {
        "placement_rates.ipynb",
        "major_evidence.ipynb",
        "followup.ipynb",
        "circular.ipynb",
        "data_quality.ipynb",
    }
    assert {s.notebook for s in catalog.CATALOG if s.scope == UNIVERSITY} == {
        "placement_rates.ipynb",
        "major_evidence.ipynb",
    }


def test_report_spec_validates():
    with pytest.raises(ValueError, match="scope"):
        ReportSpec("a.ipynb", "标题", "city", "a")
    with pytest.raises(ValueError, match="ipynb"):
        ReportSpec("a.py", "标题", PROVINCE, "a")


def test_plan_province_first_then_one_task_per_university():
    specs = [
        ReportSpec("a.ipynb", "甲", PROVINCE, "甲报告"),
        ReportSpec("b.ipynb", "乙", UNIVERSITY, "b"),
        ReportSpec("c.ipynb", "丙", UNIVERSITY, "c"),
    ]
    unis = [("10386", "福州大学"), ("10394", "福建师范大学")]
    tasks = catalog.plan_tasks(specs, unis)
    assert [t.key for t in tasks] == ["province:甲报告", "university:10386", "university:10394"]
    assert tasks[0].html_rel == "甲报告.html"
    assert tasks[1].html_rel == "universities/10386-福州大学.html"
    assert [p.notebook_rel for p in tasks[1].parts] == [
        "notebooks/universities/10386-b.ipynb",
        "notebooks/universities/10386-c.ipynb",
    ]
    assert [p.error_rel for p in tasks[1].parts] == ["errors/10386-b.html", "errors/10386-c.html"]
    only = catalog.plan_tasks(specs, unis, university="10394")
    assert [t.key for t in only] == ["university:10394"]


def test_safe_name_keeps_chinese_and_drops_path_characters():
    assert catalog.safe_name("福建师范大学") == "福建师范大学"
    assert catalog.safe_name(" 厦门大学 / 嘉庚学院 ") == "厦门大学嘉庚学院"
    assert catalog.safe_name("闽江学院（ＡＢ）") == "闽江学院(AB)"
    assert catalog.safe_name("../..") == "未命名"


# --- input hashes and manifests -----------------------------------------------------------------


def _raw(tmp_path, rel: str, text: str = "x"):
    path = tmp_path / "raw" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_raw_inputs_cover_reference_and_folders_up_to_as_of(tmp_path):
    _raw(tmp_path, "reference/universities.csv")
    _raw(tmp_path, "2023-06-30/毕业去向.xlsx")
    _raw(tmp_path, "2023-08-31/sub/平台_10386.csv")
    _raw(tmp_path, "2023-09-14/毕业去向.xlsx")  # after as_of
    _raw(tmp_path, "2023-08-31/~$毕业去向.xlsx")  # Excel lock file
    _raw(tmp_path, "2023-08-31/.DS_Store")
    _raw(tmp_path, "notes/readme.txt")  # not a date folder
    got = manifest.raw_inputs(tmp_path, dt.date(2023, 8, 31))
    assert sorted(got) == [
        "2023-06-30/毕业去向.xlsx",
        "2023-08-31/sub/平台_10386.csv",
        "reference/universities.csv",
    ]
    assert all(len(h) == 64 for h in got.values())


def _graduates(path, *rows: int):
    return support.write_csv(path, [support.GRAD_HEADER, *(support.grad_row(i) for i in rows)])


def test_ingest_status_is_the_ingests_rule_with_its_reason(tmp_path, monkeypatch):
    """The runner asks the ingest's own rule (inputs digest per processed folder): missing, a
    changed, new or removed input, another ingest code, key or read limit: stale, with the reason
    for the log; untouched, or a file that is not a dataset: fresh. Ingest rebuilds what it said."""
    from helpers.ingest import ingest, sources

    as_of, early = support.AS_OF, dt.date(2023, 6, 30)
    data = support.make_data_dir(tmp_path)
    a = _graduates(support.raw_dir(data, early) / "毕业去向_a.csv", 1)
    b = _graduates(support.raw_dir(data) / "毕业去向_a.csv", 1, 2)
    (support.raw_dir(data) / "说明.txt").write_text("not a dataset", encoding="utf-8")
    fresh = sources.IngestStatus(False, "处理后数据已是最新")

    def reason() -> str:
        status = sources.ingest_status(as_of, data)
        assert status.needed and status.raw and sources.needs_ingest(as_of, data)
        return status.reason

    assert reason() == "2023-06-30、2023-08-31：尚无处理后数据"
    assert ingest(as_of, data, workers=1).built == [early, as_of]
    assert sources.ingest_status(as_of, data) == fresh
    assert not sources.needs_ingest(as_of, data)
    (support.raw_dir(data) / "另一个说明.txt").write_text("read by no one", encoding="utf-8")
    assert sources.ingest_status(as_of, data) == fresh  # not an input of any folder

    original = b.read_bytes()
    _graduates(b, 1, 3)
    assert reason() == "2023-08-31：输入文件有变动（修改 1 个，在 2023-08-31）"
    b.write_bytes(original)
    assert sources.ingest_status(as_of, data) == fresh
    _graduates(a, 4)  # an earlier snapshot corrected afterwards
    assert reason() == "2023-06-30：输入文件有变动（修改 1 个，在 2023-06-30）"
    support.write_csv(support.raw_dir(data) / "访企拓岗.csv", [support.VISITS_HEADER])
    assert reason() == (
        "2023-06-30：输入文件有变动（修改 1 个，在 2023-06-30）；"
        "2023-08-31：输入文件有变动（新增 1 个，在 2023-08-31）"
    )
    assert ingest(as_of, data, workers=1).built == [early, as_of]  # what the status named
    assert sources.ingest_status(as_of, data) == fresh
    recorded = data / "processed" / "2023-08-31" / "manifest.json"
    text = recorded.read_text(encoding="utf-8")
    doc = json.loads(text)
    doc["inputs_digest"] = "0" * 64
    doc["files"].append({"path": "张三丰/名单.csv", "sha256": "0" * 64})  # named in no log
    recorded.write_text(json.dumps(doc), encoding="utf-8")
    assert reason() == "2023-08-31：输入文件有变动（删除 1 个，在 其他位置）"
    recorded.write_text(text, encoding="utf-8")

    b.unlink()  # graduates of 08-31 now come from the 06-30 export
    moved = "新增 1 个、删除 1 个，在 2023-06-30、2023-08-31"
    assert reason() == f"2023-08-31：输入文件有变动（{moved}）"
    b.write_bytes(original)
    (data / "processed" / "2023-06-30" / "manifest.json").write_text("{", encoding="utf-8")
    assert reason() == "2023-06-30：处理后数据的清单 manifest.json 无法读取"
    ingest(as_of, data, workers=1)
    assert sources.ingest_status(as_of, data) == fresh

    both = "2023-06-30、2023-08-31："
    with monkeypatch.context() as m:
        m.setattr(sources, "code_hash", lambda: "0" * 16)
        assert reason() == both + "入库程序或代码表已更新"
    with monkeypatch.context() as m:
        m.setenv("PLACEMENT_PSEUDONYM_KEY", "another-key-" + "1" * 48)
        assert reason() == both + "假名化密钥已更换"
    with monkeypatch.context() as m:
        m.setenv("PLACEMENT_INGEST_MAX_CELL_CHARS", "1000")
        assert reason() == both + "读取限制已更改"
    assert sources.ingest_status(as_of, data) == fresh


def test_processed_data_without_raw_data_is_used_as_it_is(tmp_path):
    from helpers.ingest import sources

    as_of = dt.date(2023, 8, 31)
    status = sources.ingest_status(as_of, tmp_path)
    assert (status.needed, status.raw) == (True, False)
    assert status.reason == "尚无 2023-08-31 的原始数据和处理后数据"
    folder = tmp_path / "processed" / "2023-08-31"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"files": []}), encoding="utf-8")
    (tmp_path / "raw" / "2023-09-14").mkdir(parents=True)  # later than as_of: not its input
    assert sources.ingest_status(as_of, tmp_path) == sources.IngestStatus(
        False, "没有 2023-08-31 及以前的原始数据，使用已有的处理后数据", False
    )
    assert not sources.needs_ingest(as_of, tmp_path)


def test_demo_data_needs_no_ingest(demo_data_dir):
    from helpers.ingest import sources

    as_of = dt.date(2023, 8, 31)
    assert sources.ingest_status(as_of, demo_data_dir) == sources.IngestStatus(
        False, "处理后数据已是最新"
    )


def test_new_inputs_and_last_successful_run(tmp_path):
    assert manifest.new_inputs({"a": "1", "b": "2"}, {"a": "1"}) == ["b"]
    assert manifest.new_inputs({"a": "1"}, {"a": "0"}) == ["a"]
    assert manifest.new_inputs({"a": "1"}, {"a": "1", "gone": "9"}) == []
    for as_of, status, finished in [
        ("2023-08-31", "ok", "2023-09-01T08:00:00+08:00"),
        ("2023-09-14", "failed", "2023-09-15T08:00:00+08:00"),
        ("2023-06-30", "ok", "2023-07-01T08:00:00+08:00"),
    ]:
        (tmp_path / as_of).mkdir()
        manifest.write_manifest(
            tmp_path / as_of, {"run": {"as_of": as_of, "status": status, "finished": finished}}
        )
    (tmp_path / ".staging-2023-10-01-x").mkdir()
    assert manifest.last_successful_run(tmp_path)["run"]["as_of"] == "2023-08-31"
    assert manifest.last_successful_run(tmp_path / "nothing") is None


def test_versions_and_git_revision_are_recorded():
    v = manifest.versions()
    assert {"python", "pandas", "papermill", "nbconvert"} <= set(v)
    rev = manifest.git_revision()
    assert set(rev) == {"commit", "dirty"}


def test_git_revision_of_a_clean_changed_and_missing_repository(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    assert manifest.git_revision(tmp_path) == {"commit": None, "dirty": None}
    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    rev = manifest.git_revision(tmp_path)
    assert len(rev["commit"]) == 40 and rev["dirty"] is False
    (tmp_path / "a.txt").write_text("two\n")
    assert manifest.git_revision(tmp_path) == {"commit": rev["commit"], "dirty": True}


# --- staging and the atomic switch ---------------------------------------------------------------


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_publish_replaces_whole_folder_and_leaves_other_periods(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    other = tmp_path / "2023-06-30"
    other.mkdir()
    (other / "index.html").write_text("六月")
    published = tmp_path / "2023-08-31"
    published.mkdir()
    (published / "old-only.html").write_text("旧")
    (published / "index.html").write_text("旧目录")
    run_dir = staging.new_staging(tmp_path, "2023-08-31")
    (run_dir / "index.html").write_text("新目录")
    (run_dir / "universities").mkdir()
    (run_dir / "universities" / "10386-福州大学.html").write_text("新")
    staging.publish(run_dir, published)
    assert _tree(published) == ["index.html", "universities/10386-福州大学.html"]
    assert (published / "index.html").read_text() == "新目录"
    assert (other / "index.html").read_text() == "六月"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2023-06-30", "2023-08-31"]


def test_first_publish_and_discard(tmp_path):
    run_dir = staging.new_staging(tmp_path, "2023-08-31")
    (run_dir / "index.html").write_text("x")
    staging.publish(run_dir, tmp_path / "2023-08-31")
    assert _tree(tmp_path / "2023-08-31") == ["index.html"]
    run_dir = staging.new_staging(tmp_path, "2023-08-31")
    staging.discard(run_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2023-08-31"]


def test_seeded_staging_shares_files_without_changing_the_published_run(tmp_path):
    published = tmp_path / "2023-08-31"
    (published / "tables").mkdir(parents=True)
    (published / "tables" / "a.csv").write_text("old")
    run_dir = staging.new_staging(tmp_path, "2023-08-31")
    staging.seed_from(published, run_dir)
    assert _tree(run_dir) == ["tables/a.csv"]
    assert (
        os.stat(run_dir / "tables" / "a.csv").st_ino
        == os.stat(published / "tables" / "a.csv").st_ino
    )
    (run_dir / "tables" / "a.csv").unlink()  # writers replace, never rewrite in place
    (run_dir / "tables" / "a.csv").write_text("new")
    assert (published / "tables" / "a.csv").read_text() == "old"


def test_period_lock_refuses_a_second_run(tmp_path):
    with (
        staging.period_lock(tmp_path, "2023-08-31"),
        pytest.raises(staging.RunLockedError),
        staging.period_lock(tmp_path, "2023-08-31"),
    ):
        pass
    with staging.period_lock(tmp_path, "2023-08-31"):  # released
        pass


def test_stale_staging_of_the_same_period_is_removed(tmp_path):
    old = staging.new_staging(tmp_path, "2023-08-31")
    keep = staging.new_staging(tmp_path, "2023-06-30")
    staging.remove_stale_staging(tmp_path, "2023-08-31")
    assert not old.parent.exists() and keep.exists()


def test_runner_processes_skip_jsonschemas_iri_grammar_and_still_validate():
    """Importing the runner keeps jsonschema from compiling rfc3987_syntax's grammar (about 1 s of
    CPU per process); notebooks are still validated, and invalid ones still rejected."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import helpers.runner.execute\n"
        "import nbformat\n"
        "assert 'lark' not in sys.modules, 'the IRI grammar was compiled'\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['outputs'] = 'not a list'\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    print('rejected')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "rejected"
