"""Runner pieces without kernels: catalog, manifest and input hashes, staging and atomic switch."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

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


def _processed(tmp_path, as_of: str, doc: dict):
    folder = tmp_path / "processed" / as_of
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")


def _files(h: dict, *paths: str) -> list[dict]:
    return [{"path": p, "dataset": "graduates", "sha256": h[p]} for p in paths]


def test_ingest_needed_when_missing_changed_removed_or_new(tmp_path):
    as_of = dt.date(2023, 8, 31)
    a = _raw(tmp_path, "2023-06-30/毕业去向.csv", "a")
    b = _raw(tmp_path, "2023-08-31/毕业去向.csv", "b")
    _raw(tmp_path, "reference/universities.csv", "u")
    _raw(tmp_path, "2023-08-31/说明.txt", "not a dataset")
    h = manifest.raw_inputs(tmp_path, as_of)
    needed, why = manifest.ingest_needed(tmp_path, as_of, h)
    assert needed and "尚无" in why
    # processed/2023-06-30 recorded the older snapshot; processed/2023-08-31 the newer one, the
    # reference table, the shipped majors (outside raw/: ignored) and a file it did not recognise
    _processed(tmp_path, "2023-06-30", {"files": _files(h, "2023-06-30/毕业去向.csv")})
    _processed(
        tmp_path,
        "2023-08-31",
        {
            "inputs_digest": "f" * 64,
            "files": [
                *_files(h, "2023-08-31/毕业去向.csv", "reference/universities.csv"),
                {"path": "helpers/reference/majors.csv", "sha256": "e" * 64},
            ],
            "ignored_files": ["2023-08-31/说明.txt"],
        },
    )
    assert manifest.ingest_needed(tmp_path, as_of, h) == (False, "处理后数据已是最新")
    b.write_text("b2", encoding="utf-8")
    needed, why = manifest.ingest_needed(tmp_path, as_of, manifest.raw_inputs(tmp_path, as_of))
    assert needed and "修改或删除" in why
    b.write_text("b", encoding="utf-8")
    a.write_text("a2", encoding="utf-8")  # an earlier snapshot corrected afterwards
    needed, why = manifest.ingest_needed(tmp_path, as_of, manifest.raw_inputs(tmp_path, as_of))
    assert needed and "1 个新的或已更新" in why
    a.write_text("a", encoding="utf-8")
    _raw(tmp_path, "2023-08-31/访企拓岗.csv", "c")
    needed, why = manifest.ingest_needed(tmp_path, as_of, manifest.raw_inputs(tmp_path, as_of))
    assert needed and "1 个新的或已更新" in why
    (tmp_path / "raw/2023-08-31/访企拓岗.csv").unlink()
    b.unlink()
    needed, why = manifest.ingest_needed(tmp_path, as_of, manifest.raw_inputs(tmp_path, as_of))
    assert needed and "修改或删除" in why


def test_demo_data_needs_no_ingest(demo_data_dir):
    as_of = dt.date(2023, 8, 31)
    assert manifest.ingest_needed(
        demo_data_dir, as_of, manifest.raw_inputs(demo_data_dir, as_of)
    ) == (False, "处理后数据已是最新")


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
