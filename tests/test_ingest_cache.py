"""The per-file ingest cache (helpers.ingest.cache): after one raw file changes, is added or is
deleted, an ingest that reads only that file gives exactly what a from-scratch ingest of the same
raw folders gives — every Parquet file of the processed folder, the quarantine included."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from test_ingest_support import (
    AS_OF,
    GRAD_HEADER,
    VISITS_HEADER,
    grad_row,
    make_data_dir,
    raw_dir,
    write_csv,
    write_xlsx,
)

from helpers.devtools import table_digest
from helpers.ingest import batches, ingest
from helpers.ingest.cache import CACHE_DIR

EARLY = dt.date(2023, 6, 30)


def visit(i: int, date: str = "2023-08-01") -> list:
    return ["10386", date, f"张{chr(0x4E00 + i)}", "校长", f"某公司{i}", "是", str(i)]


def build(data: Path) -> None:
    """Messy enough to exercise every per-file result: quarantined rows, repairs, a footer row,
    duplicates merged within and across files, a conflicting duplicate across files, a 学号 in
    free text (scrubbed), activity rows from two folders, an unreadable file."""
    write_csv(raw_dir(data, EARLY) / "毕业去向_a.csv", [GRAD_HEADER, grad_row(1), grad_row(2)])
    write_csv(raw_dir(data, EARLY) / "访企拓岗_a.csv", [VISITS_HEADER, visit(1, "2023-06-01")])
    a = [GRAD_HEADER, *(grad_row(i) for i in range(10)), grad_row(3)]  # 3: identical duplicate
    a.append(grad_row(20, 院校代码="99999"))  # unknown university: quarantined
    a.append(grad_row(21, 专业代码="80901.0"))  # repaired
    a.append(grad_row(22, 专业名称=f"专业 2019{22:05d}"))  # its own 学号 in free text: scrubbed
    a.append(["合计", "", "", "", "", "", "", "", "", "", "", "", ""])  # footer
    write_xlsx(raw_dir(data) / "毕业去向_a.xlsx", {"Sheet1": a})
    b = [GRAD_HEADER, *(grad_row(i, 院校代码="10384") for i in range(100, 108))]
    b.append(grad_row(5, 专业名称="另一个专业"))  # same key as a's row 5, other content: conflict
    b.append(grad_row(6))  # identical to a's row 6: merged
    write_csv(raw_dir(data) / "毕业去向_b.csv", b)
    write_csv(
        raw_dir(data) / "毕业去向_c.csv", [GRAD_HEADER, *(grad_row(i) for i in range(200, 205))]
    )
    write_csv(
        raw_dir(data) / "访企拓岗_a.csv",
        [VISITS_HEADER, visit(1, "2023-06-01"), visit(2), visit(3)],
    )
    # a file of which no row is accepted, beside others of its dataset and folder
    write_csv(raw_dir(data) / "访企拓岗_b.csv", [VISITS_HEADER, visit(4, "not a date")])
    (raw_dir(data) / "帮扶台账_bad.xlsx").write_bytes(b"not a workbook")


def from_scratch(data: Path, tmp: Path) -> Path:
    """The same raw folders ingested with no processed data (so no cache)."""
    other = tmp / "scratch"
    shutil.rmtree(other, ignore_errors=True)
    other.mkdir()
    shutil.copytree(data / "raw", other / "raw")
    ingest(AS_OF, other, workers=1)
    return other


def assert_same(a: Path, b: Path) -> None:
    for date in (EARLY, AS_OF):
        fa, fb = a / "processed" / date.isoformat(), b / "processed" / date.isoformat()
        names = sorted(p.name for p in fa.glob("*.parquet"))
        assert names == sorted(p.name for p in fb.glob("*.parquet"))
        assert "quarantine.parquet" in names and "graduates.parquet" in names
        for name in names:
            assert table_digest(fa / name) == table_digest(fb / name), f"{date} {name}"
            schema_a, schema_b = pq.read_schema(fa / name), pq.read_schema(fb / name)
            assert schema_a.equals(schema_b, check_metadata=True), f"{date} {name}"


@pytest.fixture(scope="module")
def ingested_once(tmp_path_factory) -> Path:
    """``build`` ingested once (the cache filled): read-only, copied by ``ingested``."""
    data = make_data_dir(tmp_path_factory.mktemp("ingested_once"))
    build(data)
    ingest(AS_OF, data, workers=1)
    return data


@pytest.fixture
def ingested(ingested_once, tmp_path) -> Path:
    """A private copy of ``ingested_once`` (file times kept, as the cache compares them): what
    ``build`` and one ingest in this test would have made."""
    return Path(shutil.copytree(ingested_once, tmp_path / "data"))


def test_cache_fills_then_an_unchanged_folder_reads_nothing(tmp_path):
    data = make_data_dir(tmp_path)
    build(data)
    first = ingest(AS_OF, data, workers=1)
    assert first.files_read == 8 and first.files_cached == 0
    assert (data / "processed" / CACHE_DIR).is_dir()
    # a processed folder removed: rebuilt from the cache alone, identical to before
    before = {p.name: table_digest(p) for p in (data / "processed" / str(AS_OF)).glob("*.parquet")}
    shutil.rmtree(data / "processed" / str(AS_OF))
    again = ingest(AS_OF, data, workers=1)
    assert again.built == [AS_OF] and again.files_read == 0 and again.files_cached == 7
    after = {p.name: table_digest(p) for p in (data / "processed" / str(AS_OF)).glob("*.parquet")}
    assert after == before


@pytest.mark.parametrize("change", ["change", "add", "delete"])
def test_one_file_changed_added_or_deleted_equals_from_scratch(ingested, tmp_path, change):
    data = ingested
    folder = raw_dir(data)
    if change == "change":  # a resubmission: one row corrected, one added, one now conflicting
        rows = [GRAD_HEADER, *(grad_row(i, 院校代码="10384") for i in range(100, 109))]
        rows.append(grad_row(1, 专业名称="又一个专业"))
        write_csv(folder / "毕业去向_b.csv", rows)
    elif change == "add":
        write_csv(folder / "毕业去向_d.csv", [GRAD_HEADER, grad_row(300), grad_row(7)])
    else:
        (folder / "毕业去向_b.csv").unlink()
    result = ingest(AS_OF, data, workers=1)
    assert result.built == [AS_OF] and result.up_to_date == [EARLY]
    assert result.files_read == (0 if change == "delete" else 1)
    assert_same(data, from_scratch(data, tmp_path))


def test_batches_do_not_change_a_files_result(ingested, tmp_path, monkeypatch):
    """One batch per file or one batch for all: the same processed folder (what makes a file's
    cached result reusable whatever batch it is read in next time)."""
    data = ingested
    monkeypatch.setattr(batches, "BATCH_BYTES", 1)
    assert_same(data, from_scratch(data, tmp_path))


def test_stale_entries_are_pruned_and_a_new_key_reads_everything(ingested, monkeypatch):
    data = ingested
    (raw_dir(data) / "毕业去向_c.csv").unlink()
    ingest(AS_OF, data, workers=1)
    cached = [feather.read_table(p) for p in (data / "processed" / CACHE_DIR).rglob("*.arrow")]
    files = {f for t in cached for f in t.column("_cache_rel").to_pylist()}
    assert files and not any("毕业去向_c" in f for f in files)
    assert not any("毕业去向_c" in str(t.schema.metadata) for t in cached)
    versions = list((data / "processed" / CACHE_DIR).iterdir())
    monkeypatch.setenv("PLACEMENT_PSEUDONYM_KEY", "another key")
    result = ingest(AS_OF, data, workers=1)
    assert result.files_cached == 0 and result.files_read == 7
    now = list((data / "processed" / CACHE_DIR).iterdir())
    assert len(versions) == len(now) == 1 and versions != now


@pytest.mark.parametrize("rows", [10, 40], ids=["same batches", "batches reshuffled"])
def test_batches_of_several_files_one_resubmitted_equals_from_scratch(tmp_path, monkeypatch, rows):
    """Batches of about half the graduates: [a] and [b, c]. A resubmitted b of about the same
    size is read alone and joined with c's cached rows; a larger one makes three batches, each
    assembled from the old chunk file by file."""
    monkeypatch.setattr(batches, "BATCH_BYTES", 4300)
    data = make_data_dir(tmp_path)
    build(data)
    ingest(AS_OF, data, workers=1)
    new = [GRAD_HEADER, *(grad_row(i, 院校代码="10384") for i in range(100, 100 + rows))]
    write_csv(raw_dir(data) / "毕业去向_b.csv", new)
    result = ingest(AS_OF, data, workers=1)
    assert result.files_read == 1 and result.files_cached == 6
    assert_same(data, from_scratch(data, tmp_path))
    # one chunk per batch of this run is kept; rebuilt from them alone, nothing is read
    chunks = sorted((data / "processed" / CACHE_DIR).rglob("*.files.arrow"))
    shutil.rmtree(data / "processed" / str(AS_OF))
    again = ingest(AS_OF, data, workers=1)
    assert again.files_read == 0
    assert chunks == sorted((data / "processed" / CACHE_DIR).rglob("*.files.arrow"))
    assert_same(data, from_scratch(data, tmp_path))


def test_a_damaged_chunk_is_read_again(ingested, tmp_path):
    data = ingested
    for p in (data / "processed" / CACHE_DIR).rglob("*.records.arrow"):
        p.write_bytes(b"damaged")
    shutil.rmtree(data / "processed" / str(AS_OF))
    ingest(AS_OF, data, workers=1)
    assert_same(data, from_scratch(data, tmp_path))


@pytest.mark.parametrize("shared_first_word", [False, True])
def test_fingerprints_are_sorted_as_their_text(shared_first_word):
    """The processed fingerprints in (kind, digest text) order, sorted by words rather than text."""
    import numpy as np
    import pandas as pd

    from helpers.ingest.pseudonym import words_hex
    from helpers.ingest.targets import fingerprint_frame
    from helpers.ingest.typers import as_string

    rng = np.random.default_rng(3)
    d = rng.integers(0, 2**64, size=(5000, 4), dtype=np.uint64)
    if shared_first_word:
        d[10:40, 0] = d[0, 0]
    d[4000:] = d[rng.integers(0, 4000, 1000)]  # duplicates: dropped, under one kind or another
    kind = pd.Series(pd.Categorical(rng.choice(["student_id", "name", "phone"], len(d))))
    by_text = (
        pd.DataFrame({"kind": as_string(kind), "digest": words_hex(d)})
        .drop_duplicates()
        .sort_values(["kind", "digest"], kind="stable", ignore_index=True)
    )
    assert len(by_text) < len(d)
    assert fingerprint_frame(kind, d).equals(by_text)


def test_a_conflict_between_unchanged_files_takes_its_raw_rows_from_the_quarantine(
    ingested, tmp_path, monkeypatch
):
    """a's and b's row 5 conflict; c is resubmitted: the raw rows of the conflict come from the
    processed quarantine (their files are unchanged), not from reading a and b again."""
    from helpers.ingest import merge

    data = ingested
    write_csv(raw_dir(data) / "毕业去向_c.csv", [GRAD_HEADER, grad_row(200), grad_row(201)])
    reread: list[str] = []
    original = merge._reread_raw
    monkeypatch.setattr(
        merge, "_reread_raw", lambda path, *a: reread.append(Path(path).name) or original(path, *a)
    )
    ingest(AS_OF, data, workers=1)
    assert reread == []
    monkeypatch.undo()
    assert_same(data, from_scratch(data, tmp_path))
    q = pq.read_table(data / "processed" / str(AS_OF) / "quarantine.parquet").to_pandas()
    conflicts = q[q["reason_code"] == "duplicate_conflict"]
    assert len(conflicts) == 2 and (conflicts["raw"].str.len() > 2).all()


def test_a_resubmission_too_small_for_a_pool_is_read_here(tmp_path, monkeypatch):
    """Automatic workers: the pool is started for what the cache lacks, not for the folder."""
    data = make_data_dir(tmp_path)
    build(data)
    changed = raw_dir(data) / "毕业去向_c.csv"
    total = sum(p.stat().st_size for p in (data / "raw").rglob("*.csv"))
    pools = []
    monkeypatch.setattr(batches, "POOL_MIN_BYTES", changed.stat().st_size + 200)
    monkeypatch.setattr(batches, "start_pool", lambda workers: pools.append(workers))
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert total > batches.POOL_MIN_BYTES
    ingest(AS_OF, data)  # from scratch: everything to read
    assert pools == [2]
    write_csv(changed, [GRAD_HEADER, *(grad_row(i) for i in range(200, 206))])
    result = ingest(AS_OF, data)
    assert pools == [2] and result.files_read == 1  # read here, without a pool
    assert_same(data, from_scratch(data, tmp_path))
