"""One source for the raw inputs (helpers.ingest.sources): the runner's list of raw files and the
ingest's discovery agree, a run (input list, staleness check, ingest) hashes each raw file once,
versions come from one helper."""

from __future__ import annotations

import datetime as dt
import os
import time

from test_ingest_support import AS_OF, GRAD_HEADER, grad_row, make_data_dir, raw_dir, write_csv

from helpers.ingest import ingest, sources
from helpers.runner import manifest, period
from helpers.runner.manifest import RunOptions, RunRequest


def _tree(data):
    write_csv(raw_dir(data, dt.date(2023, 6, 30)) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1)])
    write_csv(raw_dir(data) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    write_csv(raw_dir(data, dt.date(2023, 9, 30)) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(3)])
    for junk in ("~$毕业去向_a.xlsx", ".DS_Store", "copy.tmp", "Thumbs.db", "sub/.hidden.csv"):
        path = raw_dir(data) / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    (raw_dir(data) / "说明.txt").write_text("not a dataset", encoding="utf-8")
    (data / "raw" / "notes").mkdir()


def test_runner_inputs_are_what_ingest_discovers(tmp_path):
    data = make_data_dir(tmp_path)
    _tree(data)
    raw = data / "raw"
    inputs = sources.discover(raw, AS_OF)
    discovered = {
        t.rel for ts in inputs.tasks.values() for t in ts if not t.rel.startswith("helpers/")
    }
    listed = set(manifest.raw_inputs(data, AS_OF))
    # every raw input of the runner is either read or recorded as not recognised by the ingest
    assert listed == discovered | {p for p in inputs.ignored if "/" in p and not p.endswith("/")}
    assert "2023-08-31/说明.txt" in inputs.ignored and "notes/" in inputs.ignored
    assert not any("~$" in p or "Thumbs" in p or ".tmp" in p or ".DS_Store" in p for p in listed)
    assert not any("2023-09-30" in p for p in listed)
    assert [p.relative_to(raw).as_posix() for p in sources.raw_files(raw, AS_OF)] == list(
        manifest.raw_inputs(data, AS_OF)
    )


def test_a_run_hashes_each_raw_file_once(tmp_path, monkeypatch):
    data = make_data_dir(tmp_path)
    _tree(data)
    read: list[str] = []
    real = sources._read_sha256

    def counting(path):
        read.append(str(path))
        return real(path)

    monkeypatch.setattr(sources, "_read_sha256", counting)
    old = time.time() - 3600  # files copied in an hour ago (a file changed just now is re-read)
    for p in (data / "raw").rglob("*"):
        os.utime(p, (old, old))
    request = RunRequest.build(AS_OF, None, data, tmp_path / "reports", RunOptions(workers=1))
    listed = period.prepare(request)  # the runner's input list ...
    period.ingest_if_needed(request)  # ... its staleness check, then the ingest it starts
    assert not sources.needs_ingest(AS_OF, data)  # (the ingest did run)
    raw_reads = [p for p in read if "/raw/" in p]
    assert len(raw_reads) == len(set(raw_reads)) == len(listed)
    # a changed file is hashed again, even one of the same size written within a clock tick
    path = raw_dir(data) / "毕业去向_a.csv"
    write_csv(path, [GRAD_HEADER, grad_row(1), grad_row(5)])
    assert manifest.raw_inputs(data, AS_OF) != listed
    first = sources.sha256_file(path)
    write_csv(path, [GRAD_HEADER, grad_row(1), grad_row(6)])
    assert sources.sha256_file(path) != first


def test_needs_ingest_and_versions(tmp_path):
    data = make_data_dir(tmp_path)
    _tree(data)
    assert sources.needs_ingest(AS_OF, data)
    ingest(AS_OF, data, workers=1)
    assert not sources.needs_ingest(AS_OF, data)
    assert not sources.needs_ingest(AS_OF.isoformat(), data)  # the entry accepts a string
    v = sources.package_versions(["pandas", "no-such-package-x"], "missing")
    assert v["no-such-package-x"] == "missing" and v["pandas"] and "python" in v
    assert manifest.versions()["python"] == v["python"]
