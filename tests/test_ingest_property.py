"""Property: whatever the mix of good and bad rows, no row is ever lost.

For every file: rows read = accepted + merged + quarantined, and each row ends where a simple model
of the contract says (bad rows quarantined, identical duplicates merged, conflicting duplicates
all quarantined, blank and footer rows not data).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_support import (
    AS_OF,
    GRAD_HEADER,
    file_row,
    grad_row,
    make_data_dir,
    processed,
    quarantine,
    raw_dir,
    write_csv,
    write_xlsx,
)

from helpers.ingest import ingest

BAD = {
    "unknown_university": {"院校代码": "99999"},
    "unknown_destination": {"毕业去向类别代码": "99"},
    "empty_required": {"学号": ""},
    "scientific_notation": {"身份证号": "3.50102199901E+17"},
    "unknown_level": {"学历层次": "幼儿园"},
}
KINDS = ["good", *BAD, "dup_identical", "dup_conflict", "blank", "footer"]


def build(kinds: list[tuple[str, int]]):
    """Rows of a file and the expected outcome per data row (in file order)."""
    rows, outcome, data_rows = [], [], []
    goods: list[list] = []
    for n, (kind, pick) in enumerate(kinds):
        if kind == "blank":
            rows.append([])
            continue
        if kind == "footer":
            rows.append(["合计", str(n)])
            continue
        if kind in ("dup_identical", "dup_conflict") and goods:
            base = goods[pick % len(goods)]
            row = (
                list(base)
                if kind == "dup_identical"
                else [
                    v if h != "专业名称" else f"专业{n}"
                    for h, v in zip(GRAD_HEADER, base, strict=True)
                ]
            )
        elif kind in BAD:
            row = grad_row(n, **BAD[kind])
        else:
            row = grad_row(n)
            goods.append(row)
        rows.append(row)
        data_rows.append((kind, row))
    # the model: bad rows are quarantined; valid rows with one key merge when identical,
    # all go to quarantine when any two differ
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, (kind, row) in enumerate(data_rows):
        if kind not in BAD:
            by_key[row[0]].append(i)
    outcome = ["quarantined"] * len(data_rows)
    for idx in by_key.values():
        distinct = {tuple(data_rows[i][1]) for i in idx}
        if len(distinct) > 1:
            continue
        outcome[idx[0]] = "accepted"
        for i in idx[1:]:
            outcome[i] = "merged"
    return rows, outcome


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 50)), min_size=1, max_size=25),
    fmt=st.sampled_from(["csv-utf8", "csv-gbk", "xlsx"]),
)
def test_no_row_is_lost(kinds, fmt):
    rows, outcome = build(kinds)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data_dir(Path(tmp))
        folder = raw_dir(data)
        if fmt == "xlsx":
            write_xlsx(
                folder / "毕业去向_p.xlsx",
                {"Sheet1": [["2023届毕业生就业方案"], GRAD_HEADER, *rows]},
            )
        else:
            write_csv(
                folder / "毕业去向_p.csv",
                [GRAD_HEADER, *rows],
                "utf-8" if fmt == "csv-utf8" else "gbk",
            )
        if not outcome:  # only blank / footer rows: still a readable file with a header
            ingest(AS_OF, data, workers=1)
            assert file_row(data, "毕业去向_p")["rows_read"] == 0
            return
        ingest(AS_OF, data, workers=1)
        r = file_row(data, "毕业去向_p")
        assert r["rows_read"] == len(outcome)
        assert r["rows_read"] == r["accepted"] + r["merged"] + r["quarantined"]
        assert r["accepted"] == outcome.count("accepted")
        assert r["merged"] == outcome.count("merged")
        assert r["quarantined"] == outcome.count("quarantined")
        assert len(processed(data, "graduates")) == r["accepted"]
        q = quarantine(data)
        assert (q["level"] == "row").sum() == r["quarantined"]
        assert not q.duplicated(["source_file", "sheet", "row"]).any()
