"""The 数据问题清单 of every university grouped once per period (send.issue_tables) equals each
university's rows grouped alone, as the quality functions group them."""

from __future__ import annotations

import pandas as pd

from helpers.runner import quality, send

AS_OF = "2023-08-31"


def _period(data_dir) -> tuple[send.IssueRows, list[str]]:
    processed = data_dir / "processed" / AS_OF
    quarantine = pd.read_parquet(processed / "quarantine.parquet")
    repairs = pd.read_parquet(processed / "repairs.parquet")
    universities = pd.read_parquet(processed / "universities.parquet")
    rows = send.issue_rows(quarantine, repairs, universities)
    # rows of files no university's code can be found for (a province-wide file) belong to none
    q_code, r_code = rows.quarantine_university.copy(), rows.repairs_university.copy()
    q_code.iloc[::7] = pd.NA
    r_code.iloc[::5] = pd.NA
    rows = send.IssueRows(rows.quarantine, q_code, rows.repairs, r_code)
    codes = sorted(set(rows.quarantine_university.dropna()) | set(rows.repairs_university.dropna()))
    return rows, codes


def _own(frame: pd.DataFrame, university: pd.Series, code: str) -> pd.DataFrame:
    return frame.loc[university.eq(code).fillna(False).to_numpy(dtype=bool)]


def test_grouping_every_university_at_once_equals_each_alone(demo_data_dir):
    rows, codes = _period(demo_data_dir)
    assert len(codes) > 1
    assert (rows.quarantine["level"] == "file").any() and len(rows.repairs)
    tables = send.issue_tables(rows)
    for code in codes:
        q = _own(rows.quarantine, rows.quarantine_university, code)
        r = _own(rows.repairs, rows.repairs_university, code)
        for got, alone in (
            (tables.rows, quality.quarantined_row_numbers(q)),
            (tables.files, quality.unreadable_files(q)),
            (tables.fixed, quality.repair_row_numbers(r)),
        ):
            mine = send._of(got, code).drop(columns="university_code").reset_index(drop=True)
            if alone.empty:
                assert mine.empty, code
                continue
            pd.testing.assert_frame_equal(mine, alone.reset_index(drop=True))
    # one university asked alone (data_issues' way) gives its list as the period's tables do
    some = codes[0]
    pd.testing.assert_frame_equal(
        send.university_issues(rows, some), send.university_issues(tables, some)
    )
    assert len(send.university_issues(tables, some))
