"""The run's CPU by step counts the ingest's reader processes, which the operating system does
not count for the run (they are the fork server's children)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from helpers.ingest import sources
from helpers.runner import manifest as mf
from helpers.runner import period


def test_add_cpu_adds_to_a_step_and_ignores_nothing_to_add():
    timings = mf.Timings()
    with timings.step("ingest"):
        pass
    own = timings.cpu["ingest"]
    timings.add_cpu("ingest", 12.5)
    timings.add_cpu("reports", 0.0)
    assert timings.cpu["ingest"] == own + 12.5
    assert "reports" not in timings.cpu
    assert timings.cpu_dict()["ingest"] == round(own + 12.5, 3)


def test_ingest_if_needed_returns_the_readers_cpu(monkeypatch, tmp_path):
    import helpers.ingest

    request = SimpleNamespace(as_of=dt.date(2023, 8, 31), iso="2023-08-31", data_dir=tmp_path,
                              workers=2)  # fmt: skip
    result = SimpleNamespace(worker_cpu_seconds=41.5, summary=lambda: "ok")
    monkeypatch.setattr(sources, "ingest_status", lambda *_: sources.IngestStatus(True, "新数据"))
    monkeypatch.setattr(helpers.ingest, "ingest", lambda **_: result)
    assert period.ingest_if_needed(request) == 41.5
    fresh = sources.IngestStatus(False, "已是最新", raw=True)
    monkeypatch.setattr(sources, "ingest_status", lambda *_: fresh)
    assert period.ingest_if_needed(request) == 0.0
