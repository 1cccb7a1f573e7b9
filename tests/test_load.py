"""helpers.load: processed-data reading, snapshot de-duplication and the per-process cache."""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pytest

from helpers.load import MissingDataError, load_dataset, load_graduate_history


def _processed(tmp_path, as_of, snapshot, rows):
    folder = tmp_path / "processed" / as_of
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "graduates.parquet")
    (folder / "manifest.json").write_text(
        json.dumps({"datasets": {"graduates": {"snapshot_date": snapshot}}}), encoding="utf-8"
    )
    return folder


def test_cached_read_is_isolated_from_caller_changes_and_sees_rewrites(tmp_path):
    folder = _processed(tmp_path, "2023-06-30", "2023-06-30", {"x": [1, 2]})
    first = load_dataset(tmp_path, dt.date(2023, 6, 30), "graduates")
    first.loc[0, "x"] = 99
    assert load_dataset(tmp_path, dt.date(2023, 6, 30), "graduates")["x"].tolist() == [1, 2]
    pd.DataFrame({"x": [5, 6, 7]}).to_parquet(folder / "graduates.parquet")
    os.utime(folder / "graduates.parquet", ns=(1, 10**18))  # a rewrite always changes identity
    assert load_dataset(tmp_path, dt.date(2023, 6, 30), "graduates")["x"].tolist() == [5, 6, 7]


def test_history_counts_a_shared_snapshot_once_and_filters(tmp_path):
    _processed(tmp_path, "2023-06-30", "2023-06-30", {"x": [1]})
    _processed(tmp_path, "2023-07-01", "2023-06-30", {"x": [1]})  # same raw snapshot
    _processed(tmp_path, "2023-08-31", "2023-08-31", {"x": [2]})
    assert load_graduate_history(tmp_path, dt.date(2023, 8, 31))["x"].tolist() == [1, 2]
    assert load_graduate_history(tmp_path, dt.date(2023, 7, 15))["x"].tolist() == [1]
    only = load_graduate_history(tmp_path, dt.date(2023, 8, 31), snapshots=[dt.date(2023, 8, 31)])
    assert only["x"].tolist() == [2]


def test_missing_data_names_the_command(tmp_path):
    with pytest.raises(MissingDataError, match="placement ingest --as-of 2023-08-31"):
        load_dataset(tmp_path, dt.date(2023, 8, 31), "graduates")
