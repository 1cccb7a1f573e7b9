"""Shared fixtures. The demo province is generated and ingested once per test session and
cached on disk (keyed by the generator and ingest source), so pytest-xdist workers share it."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_AS_OF = dt.date(2023, 8, 31)
DEMO_SEED = 2023


@pytest.fixture(autouse=True, scope="session")
def _pseudonym_key_for_tests(tmp_path_factory):
    """Tests never touch the developer's real key file."""
    key_dir = tmp_path_factory.getbasetemp() / "keys"
    key_dir.mkdir(exist_ok=True)
    os.environ.setdefault("PLACEMENT_PSEUDONYM_KEY", "test-key-" + "0" * 48)
    yield


def _source_hash() -> str:
    h = hashlib.sha256()
    for sub in ("generate", "ingest"):
        for p in sorted((ROOT / "src" / "helpers" / sub).rglob("*.py")):
            h.update(p.read_bytes())
    for name in ("codes.py", "datasets.py", "config.py"):
        h.update((ROOT / "src" / "helpers" / name).read_bytes())
    for p in sorted((ROOT / "src" / "helpers" / "policy").glob("*.yaml")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def demo_data_dir() -> Path:
    """A data dir (raw/, processed/, ground_truth/) with the demo province ingested at DEMO_AS_OF.

    Read-only for tests: copy it (``copy_demo``) before changing anything.
    """
    from helpers.generate import generate
    from helpers.ingest import ingest

    cache = ROOT / ".pytest_cache" / f"demo-data-{_source_hash()}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    lock_path = cache.parent / "demo-data.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / "READY").exists():
            shutil.rmtree(cache, ignore_errors=True)
            tmp = cache.with_name(cache.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            generate(size="demo", out=tmp, seed=DEMO_SEED)
            ingest(as_of=DEMO_AS_OF, data_dir=tmp, workers=1)
            (tmp / "READY").write_text("ok")
            tmp.rename(cache)
            for old in cache.parent.glob("demo-data-*"):
                if old != cache and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
    return cache


@pytest.fixture
def copy_demo(demo_data_dir, tmp_path) -> Path:
    """A private, writable copy of the demo data dir."""
    dest = tmp_path / "data"
    shutil.copytree(demo_data_dir, dest)
    return dest
