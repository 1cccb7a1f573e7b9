"""The generator's recorded mess against what ingest made of the demo (fixture demo_data_dir,
ingested at the policy's initial date)."""

from __future__ import annotations

import pandas as pd

from helpers.config import load_policy


def _initial() -> str:
    policy = load_policy()
    return policy.date(policy.placement.initial_snapshot).isoformat()


def _mess(demo_data_dir, folder: str) -> pd.DataFrame:
    m = pd.read_csv(demo_data_dir / "ground_truth" / "mess.csv", dtype=str, keep_default_na=False)
    return m[m["file"].str.startswith(folder + "/")]


def test_quarantined_rows_match_the_injected_mess(demo_data_dir):
    folder = _initial()
    m = _mess(demo_data_dir, folder)
    expected = set(
        zip(
            m.loc[m["expected"] == "quarantined", "file"],
            m.loc[m["expected"] == "quarantined", "row"].astype(int),
            strict=True,
        )
    )
    q = pd.read_parquet(demo_data_dir / "processed" / folder / "quarantine.parquet")
    q = q[q["source_file"].str.startswith(folder + "/") & q["row"].notna()]
    got = set(zip(q["source_file"], q["row"].astype(int), strict=True))
    assert expected == got


def test_unreadable_file_is_the_injected_one(demo_data_dir):
    folder = _initial()
    m = _mess(demo_data_dir, folder)
    files = pd.read_parquet(demo_data_dir / "processed" / folder / "files.parquet")
    bad = set(files.loc[files["status"] == "unreadable", "source_file"])
    assert bad == set(m.loc[m["kind"] == "unreadable_file", "file"])


def test_merged_rows_match_the_injected_duplicates(demo_data_dir):
    folder = _initial()
    m = _mess(demo_data_dir, folder)
    expected = m[m["expected"] == "merged"].groupby("file").size()
    files = pd.read_parquet(demo_data_dir / "processed" / folder / "files.parquet")
    files = files[files["source_file"].str.startswith(folder + "/")]
    got = files.groupby("source_file")["merged"].sum()
    got = got[got > 0]
    pd.testing.assert_series_equal(
        expected.sort_index(),
        got.sort_index(),
        check_names=False,
        check_dtype=False,
        check_index_type=False,
    )
