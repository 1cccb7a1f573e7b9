"""No personal column and no raw personal value reaches processed Parquet (quarantine excepted:
it keeps raw rows by design and stays under data/); fingerprints let the scanner find leaks."""

from __future__ import annotations

import json

import pandas as pd
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

from helpers.datasets import BY_NAME, INPUT_DATASETS
from helpers.ingest import ingest
from helpers.ingest.pseudonym import key_fingerprint, keyed_digest, load_key
from helpers.ingest.readers import FOOTER, dataset_for_file, find_header, read_file
from helpers.ingest.sources import folder_files

PERSONAL = {c.name for d in BY_NAME.values() for c in d.columns if c.personal}
PERSONAL_ZH = {c.zh for d in BY_NAME.values() for c in d.columns if c.personal}


def personal_values(raw_folder) -> dict[str, set[str]]:
    """Every personal cell value of the raw input files of a folder, by column."""
    out: dict[str, set[str]] = {}
    for path in folder_files(raw_folder, raw_folder):
        d = dataset_for_file(path, INPUT_DATASETS)
        if d is None:
            continue
        try:
            raw = read_file(path)
        except Exception:
            continue
        for sheet in raw.sheets:
            header = find_header(sheet, d) if sheet.cells.size else None
            if header is None:
                continue
            body = sheet.cells[header.row + 1 :]
            first = [next((c.strip() for c in row if c.strip()), "") for row in body]
            body = body[[not FOOTER.match(f.replace(" ", "")) for f in first]]  # 合计 / 填表人 rows
            for name, j in header.columns.items():
                if name in PERSONAL and name != "note":
                    out.setdefault(name, set()).update(v.strip() for v in body[:, j] if v.strip())
    return out


def processed_cells(folder) -> tuple[set[str], set[str]]:
    """(column names, every cell as text) of every processed Parquet except the quarantine."""
    columns, cells = set(), set()
    for p in folder.glob("*.parquet"):
        if p.name in ("quarantine.parquet", "pii_fingerprints.parquet"):
            continue
        df = pd.read_parquet(p)
        columns |= set(df.columns)
        for c in df.columns:
            cells |= set(df[c].dropna().astype(str))
    return columns, cells


def check_folder(data, date, expect_values: bool = True):
    folder = data / "processed" / str(date)
    values = personal_values(data / "raw" / str(date))
    if expect_values:
        assert values.get("student_id") and values.get("name")
    columns, cells = processed_cells(folder)
    assert not columns & (PERSONAL | PERSONAL_ZH)
    for name, vals in values.items():
        leaked = vals & cells
        assert not leaked, (name, len(leaked))
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    key = load_key()
    assert key.hex() not in manifest and key.decode("utf-8", "replace") not in manifest
    assert json.loads(manifest)["pseudonym_key_fingerprint"] == key_fingerprint(key)
    fp = pd.read_parquet(folder / "pii_fingerprints.parquet")
    assert list(fp.columns) == ["kind", "digest"]
    digests = set(fp["digest"])
    for name in ("student_id", "name"):
        sample = sorted(values.get(name, ()))[:50]
        assert all(keyed_digest(v, key) in digests for v in sample), name
    return values


def test_no_personal_value_in_processed_parquet(tmp_path, capsys):
    data = make_data_dir(tmp_path)
    rows = [
        GRAD_HEADER,
        *(grad_row(i, 姓名=f"王{chr(0x5C0F + i)}明") for i in range(5)),
        grad_row(9, 院校代码="99999", 姓名="赵隔离"),
    ]
    write_xlsx(raw_dir(data) / "毕业去向_a.xlsx", {"Sheet1": rows})
    write_csv(
        raw_dir(data) / "访企拓岗_a.csv",
        [VISITS_HEADER, ["10386", "2023-06-01", "钱校长", "校长", "某公司", "是", "3"]],
    )
    write_csv(
        raw_dir(data) / "帮扶台账_a.csv",
        [
            ["学号", "院校代码", "帮扶日期", "帮扶类型", "帮扶责任人", "备注"],
            ["201900001", "10386", "2023-05-01", "岗位推荐", "孙老师", "推荐给李四的单位"],
        ],
    )
    result = ingest(AS_OF, data, workers=1)
    print(result.summary())
    out = capsys.readouterr().out
    values = check_folder(data, AS_OF)
    for vals in values.values():
        assert not any(v in out for v in vals)
    fp = pd.read_parquet(data / "processed" / str(AS_OF) / "pii_fingerprints.parquet")
    assert set(fp["kind"]) == {"student_id", "name", "id_number", "phone", "visitor", "helper"}
    key = load_key()
    assert keyed_digest("赵隔离", key) in set(
        fp["digest"]
    )  # quarantined rows are fingerprinted too
    assert keyed_digest("钱校长", key) in set(fp["digest"])
    # the quarantine keeps the raw row (it must, to be fixed), under data/ only
    q = pd.read_parquet(data / "processed" / str(AS_OF) / "quarantine.parquet")
    assert "赵隔离" in q["raw"].iloc[0]


def test_demo_processed_data_holds_no_personal_values(demo_data_dir):
    check_folder(demo_data_dir, "2023-08-31")
