"""Ingest of the generated demo province (fixture ``demo_data_dir``): every row of every file is
accounted for, the injected mess ends where the generator's ground truth says, and processed data
has exactly the contracted columns and dtypes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from helpers.datasets import PROCESSED_COLUMNS
from helpers.load import load_dataset, processed_dates

DEMO_AS_OF = "2023-08-31"
DEMO_DATE = dt.date.fromisoformat(DEMO_AS_OF)


def _folders(demo_data_dir):
    return [d.isoformat() for d in processed_dates(demo_data_dir) if d.isoformat() <= DEMO_AS_OF]


def test_every_raw_folder_is_processed(demo_data_dir):
    raw = sorted(
        p.name
        for p in (demo_data_dir / "raw").iterdir()
        if p.is_dir() and p.name != "reference" and p.name <= DEMO_AS_OF
    )
    assert _folders(demo_data_dir) == raw


def test_every_file_accounted_for(demo_data_dir):
    truth = pd.read_csv(demo_data_dir / "ground_truth" / "files.csv", dtype=str)
    for folder in _folders(demo_data_dir):
        files = pd.read_parquet(demo_data_dir / "processed" / folder / "files.parquet")
        assert files["balanced"].all()
        assert (
            files["rows_read"] == files["accepted"] + files["merged"] + files["quarantined"]
        ).all()
        manifest = json.loads((demo_data_dir / "processed" / folder / "manifest.json").read_text())
        assert manifest["datasets"]["graduates"]["snapshot_date"] == folder
        seen = set(files["source_file"])
        expected = truth[
            (truth["folder"] == folder)
            | (
                truth["dataset"].isin(["recruitment", "visits", "assistance"])
                & (truth["folder"] <= folder)
            )
        ]
        assert set(expected["file"]) <= seen
        read = files.groupby("source_file")["rows_read"].sum()
        unreadable = set(files.loc[files["status"] == "unreadable", "source_file"])
        ok = expected[~expected["file"].isin(unreadable)]
        assert (
            read.loc[ok["file"]].astype(int).to_numpy() == ok["data_rows"].astype(int).to_numpy()
        ).all()


def test_injected_mess_ends_where_the_ground_truth_says(demo_data_dir):
    mess = pd.read_csv(demo_data_dir / "ground_truth" / "mess.csv", dtype=str)
    mess = mess[mess["file"].str.slice(0, 10) <= DEMO_AS_OF]
    mess["sheet"] = mess["sheet"].fillna("")
    # a row that received two kinds of mess: a quarantine reason wins over 'merged'/'accepted'
    rows = mess.dropna(subset=["row"])
    worst = (
        rows.assign(q=rows["expected"] == "quarantined")
        .groupby(["file", "sheet", "row"])["q"]
        .any()
    )
    checked = 0
    for folder in sorted(mess["file"].str.slice(0, 10).unique()):
        q = pd.read_parquet(demo_data_dir / "processed" / folder / "quarantine.parquet")
        qrows = set(
            zip(
                q["source_file"],
                q["sheet"].fillna(""),
                q["row"].astype("Int64").astype(str),
                strict=True,
            )
        )
        for (file, sheet, row), quarantined in worst.items():
            if not file.startswith(folder):
                continue
            assert ((file, sheet, row) in qrows) == quarantined, (file, sheet, row, quarantined)
            checked += 1
        unreadable = mess[
            (mess["expected"] == "file_unreadable") & mess["file"].str.startswith(folder)
        ]
        assert set(unreadable["file"]) <= set(q.loc[q["level"] == "file", "source_file"])
    assert checked > 100


def test_processed_columns_and_dtypes(demo_data_dir):
    for name, spec in PROCESSED_COLUMNS.items():
        df = load_dataset(demo_data_dir, DEMO_DATE, name, categories=False)
        assert list(df.columns) == list(spec), name
        for col, dtype in spec.items():
            assert str(df[col].dtype) == dtype, (name, col, df[col].dtype)
    g = load_dataset(demo_data_dir, DEMO_DATE, "graduates")
    assert g["student_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert g["university_code"].str.fullmatch(r"[0-9]{5}").all()
    assert g["major_code"].str.fullmatch(r"[0-9]{6}(T|K|TK)?").all()
    assert not g.duplicated(["university_code", "student_key"]).any()


def test_cohorts_across_snapshots(demo_data_dir):
    from helpers.load import load_graduate_history

    hist = load_graduate_history(demo_data_dir, DEMO_DATE, columns=["cohort", "snapshot_date"])
    assert {2020, 2021, 2022, 2023} <= set(hist["cohort"].unique())
    assert hist["snapshot_date"].nunique() == len(_folders(demo_data_dir))


@pytest.mark.parametrize("dataset", ["recruitment", "visits", "assistance"])
def test_activity_natural_key_counted_once(demo_data_dir, dataset):
    from helpers.ingest.process import NATURAL_KEYS

    df = load_dataset(demo_data_dir, DEMO_DATE, dataset)
    assert len(df) > 0
    assert not df.duplicated(list(NATURAL_KEYS[dataset])).any()
    assert df["snapshot_date"].nunique() > 1
