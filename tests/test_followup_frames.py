"""Builders of small processed-shaped frames for the follow-up tests (no tests here).

Columns and dtypes follow helpers.datasets.PROCESSED_COLUMNS.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from helpers.codes import GROUP_COLUMNS
from helpers.datasets import PROCESSED_COLUMNS


def typed(name: str, rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """A frame with every processed column of ``name`` (missing ones filled with NA/defaults)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    spec = PROCESSED_COLUMNS[name]
    for col, dtype in spec.items():
        if col not in df.columns:
            if dtype == "bool":
                df[col] = False
            elif col == "source_file":
                df[col] = f"{name}.xlsx"
            elif col == "source_row":
                df[col] = np.arange(2, len(df) + 2)
            else:
                df[col] = pd.NA
        if dtype == "bool":
            df[col] = df[col].astype("boolean").fillna(False).astype(bool)
        elif dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col]).astype(dtype)
        elif dtype == "category":
            df[col] = df[col].astype("category")
        else:
            df[col] = df[col].astype(dtype)
    return df[list(spec)]


def universities(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return typed("universities", [
        {"university_code": c, "university_name": n, "baseline_rate": np.nan if b is None else b,
         "university_id": "41350" + c} for c, n, b in rows])


def graduates(spec: list[dict], snapshot: str = "2023-08-31", cohort: int = 2023) -> pd.DataFrame:
    """``spec``: dicts with university_code, n, placed, optional group (label), willing (bool or
    None), in_denominator (default True). Each dict expands to n graduates of whom ``placed``
    are placed."""
    rows = []
    k = 0
    for item in spec:
        for i in range(item["n"]):
            k += 1
            row = {
                "student_key": item.get("key_prefix", "s") + f"{k:06d}",
                "university_code": item["university_code"],
                "cohort": cohort,
                "education_level": "本科",
                "graduation_status": "毕业",
                "in_denominator": item.get("in_denominator", True),
                "major_code": "080901",
                "major_name": "计算机科学与技术",
                "placed": i < item["placed"],
                "destination_known": True,
                "destination_code": "10" if i < item["placed"] else "70",
                "snapshot_date": snapshot,
                "willing_to_work": item.get("willing"),
            }
            for g in item.get("groups", [item["group"]] if "group" in item else []):
                row[GROUP_COLUMNS[g]] = True
            rows.append(row)
    df = typed("graduates", rows)
    return df


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)
