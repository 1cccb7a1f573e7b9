"""helpers.memo and the per-process memos a warm report kernel relies on: keyed by the files
helpers.load read (path, modification time, size, columns), bounded, copies out; another date or a
rewritten (re-ingested) file is computed again, never served stale."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_placement_support import POLICY, build_layout

from helpers import load, majors, memo
from helpers import placement as P
from helpers.majors import report as majors_report

AS_OF = dt.date(2023, 8, 31)


def test_memo_is_a_bounded_lru_that_hands_out_copies():
    m = memo.Memo("test", maxsize=2)
    calls: list[int] = []

    def compute(v: int):
        calls.append(v)
        return pd.DataFrame({"x": [v]})

    first = m.get("a", lambda: compute(1))
    first.loc[0, "x"] = 99  # a caller's change never reaches the memo
    assert m.get("a", lambda: compute(2))["x"].tolist() == [1]
    assert calls == [1]
    m.get("b", lambda: compute(3))
    m.get("a", lambda: compute(4))  # "a" is now the most recently used
    m.get("c", lambda: compute(5))  # evicts "b"
    assert "a" in m and "c" in m and "b" not in m and len(m) == 2
    assert calls == [1, 3, 5]
    m.get(None, lambda: compute(6))
    m.get(None, lambda: compute(7))  # no key: computed every time, nothing kept
    assert calls == [1, 3, 5, 6, 7] and len(m) == 2
    memo.clear_all()
    assert len(m) == 0
    with pytest.raises(ValueError):
        memo.Memo("bad", maxsize=0)


def test_frame_key_needs_a_source_and_differs_for_subsets_and_edits():
    df = pd.DataFrame({"university_code": ["10386", "10384"], "placed": [True, False]})
    assert memo.frame_key(df) is None and memo.key("x", df) is None
    df.attrs[memo.SOURCE_ATTR] = ("graduates.parquet", 1, 2)
    key = memo.frame_key(df)
    assert key is not None and memo.frame_key(df.copy()) == key
    assert memo.frame_key(df[df["placed"]]) != key  # attrs travel with a subset ...
    edited = df.copy()
    edited.loc[1, "placed"] = True  # ... and with an edited copy
    assert memo.frame_key(edited) != key
    assert memo.key("x", df, ["unhashable"]) is None
    df.attrs[memo.SOURCE_ATTR] = ["not", "hashable"]
    assert memo.frame_key(df) is None
    plain = pd.DataFrame({"a": [1, 2]})
    assert memo.frame_token(None) is None
    assert memo.frame_token(plain) == memo.frame_token(plain.copy())
    assert memo.frame_token(plain) != memo.frame_token(plain.assign(a=[1, 3]))


def test_copy_result_copies_frames_inside_tuples_and_dataclasses():
    @dataclasses.dataclass(frozen=True)
    class Result:
        table: pd.DataFrame
        note: str

    original = Result(pd.DataFrame({"x": [1]}), "n")
    out = memo.copy_result((original, 3))
    assert out[1] == 3 and out[0].note == "n" and out[0] is not original
    out[0].table.loc[0, "x"] = 5
    assert original.table["x"].tolist() == [1]


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return build_layout(tmp_path_factory.mktemp("memo") / "data")


def _evidence(data: Path, as_of: dt.date = AS_OF) -> majors.MajorEvidence:
    history = load.load_graduate_history(data, as_of, columns=majors.HISTORY_COLUMNS)
    unis = load.load_dataset(
        data, as_of, "universities", columns=["university_code", "university_name"]
    )
    return majors.major_evidence(history, unis, None, as_of, POLICY)


@pytest.fixture
def counted(monkeypatch) -> list:
    """Count the evidence computations behind majors.major_evidence."""
    calls: list = []
    real = majors_report._major_evidence

    def counting(*args):
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr(majors_report, "_major_evidence", counting)
    memo.named("major_evidence", maxsize=4).clear()
    yield calls
    memo.named("major_evidence", maxsize=4).clear()


def test_major_evidence_is_computed_once_per_data_and_equals_a_fresh_computation(layout, counted):
    first = _evidence(layout)
    second = _evidence(layout)
    assert counted == [AS_OF]  # the second report of a kernel reuses the province's evidence
    assert second.points is not first.points
    pd.testing.assert_frame_equal(second.points, first.points)
    for name, frame in first.tables("10386").items():
        pd.testing.assert_frame_equal(second.tables("10386")[name], frame)
    # identical to computing without the memo (no source: never memoised)
    history = load.load_graduate_history(layout, AS_OF, columns=majors.HISTORY_COLUMNS)
    history.attrs.clear()
    unis = load.load_dataset(
        layout, AS_OF, "universities", columns=["university_code", "university_name"]
    )
    fresh = majors.major_evidence(history, unis, None, AS_OF, POLICY)
    assert len(counted) == 2
    pd.testing.assert_frame_equal(fresh.points, first.points)
    pd.testing.assert_frame_equal(fresh.trend, first.trend)
    # another reporting date is another entry
    _evidence(layout, dt.date(2023, 7, 31))
    assert counted[-1] == dt.date(2023, 7, 31)


def test_rewritten_data_is_computed_again_never_stale(layout, tmp_path, counted):
    data = Path(shutil.copytree(layout, tmp_path / "data"))
    before = _evidence(data)
    P.clear_memo()
    current = load.load_dataset(data, AS_OF, "graduates")
    rates_before = P.by_university(current, None, POLICY)[0].set_index("university_code")
    # re-ingest: the latest snapshot rewritten, every graduate of 10386 now unplaced
    path = data / "processed" / AS_OF.isoformat() / "graduates.parquet"
    g = pd.read_parquet(path)
    g.loc[g["university_code"] == "10386", "placed"] = False
    g.to_parquet(path, index=False)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = _evidence(data)
    assert len(counted) == 2
    rate = after.points.loc[after.points["university_code"] == "10386", "placement_rate"]
    assert (rate == 0).all()
    assert (
        before.points.loc[before.points["university_code"] == "10386", "placement_rate"] > 0
    ).any()
    current = load.load_dataset(data, AS_OF, "graduates")
    rates_after = P.by_university(current, None, POLICY)[0].set_index("university_code")
    assert rates_after.loc["10386", "placed"] == 0 < rates_before.loc["10386", "placed"]
    P.clear_memo()


def test_protected_group_table_is_remembered_and_audited_in_every_report(layout, monkeypatch):
    """The province's protected group table is computed once per data; each report still records
    the same disclosure decisions, and gets the table a computation without the memo gives."""
    from helpers import disclosure
    from helpers.placement import groups

    def decisions(audit: pd.DataFrame) -> pd.DataFrame:
        return audit.drop(columns="recorded_at")

    calls: list = []
    real = groups.protect_groups

    def counting(table, policy):
        calls.append(len(table))
        return real(table, policy)

    monkeypatch.setattr(groups, "protect_groups", counting)
    P.clear_memo()
    current = load.load_dataset(layout, AS_OF, "graduates")
    unis = load.load_dataset(layout, AS_OF, "universities")
    audits, tables = [], []
    for _ in range(2):  # two reports of one kernel
        disclosure.reset_audit()
        tables.append(P.by_group(current, POLICY, unis, "10386"))
        audits.append(disclosure.audit_frame())
    assert len(calls) == 1
    pd.testing.assert_frame_equal(tables[1], tables[0])
    assert len(audits[0]) and decisions(audits[0]).equals(decisions(audits[1]))
    # replayed decisions are stamped when the report records them, as a computation stamps them
    assert (audits[1]["recorded_at"] >= audits[0]["recorded_at"]).all()
    plain = current.copy()
    plain.attrs.clear()  # no source: never memoised
    disclosure.reset_audit()
    pd.testing.assert_frame_equal(P.by_group(plain, POLICY, unis, "10386"), tables[0])
    assert decisions(disclosure.audit_frame()).equals(decisions(audits[0])) and len(calls) == 2
    disclosure.reset_audit()
    P.clear_memo()
