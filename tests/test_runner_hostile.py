"""A period run (ingest included) over hostile inputs: a workbook that crashes its reader process
and a university whose name is 113 characters long. The run publishes every report; the crashing
file is named in the quarantine; every file name stays within 255 bytes."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ingest_hostile import HEADER, crashing_workbook, row
from test_ingest_support import AS_OF, UNIVERSITIES, make_data_dir, quarantine, raw_dir, write_csv
from test_runner_period import GOOD, run

from helpers.runner.catalog import NAME_MAX_BYTES, university_stem

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner")]

LONG_NAME = "福建" + "某" * 105 + "职业技术学院"


def test_period_run_survives_a_crashing_reader_and_a_113_character_name(tmp_path):
    assert len(LONG_NAME) == 113
    data = make_data_dir(tmp_path, universities=False)
    unis = [list(r) for r in UNIVERSITIES]
    unis[3][2] = LONG_NAME  # 12631
    write_csv(data / "raw" / "reference" / "universities.csv", unis)
    crashing_workbook(raw_dir(data) / "毕业去向_crash.xlsx")
    write_csv(
        raw_dir(data) / "毕业去向_all.csv",
        [HEADER] + [row(i, 院校代码="12631" if i % 2 else "10386") for i in range(40)],
    )
    reports = tmp_path / "reports"
    assert run(data, reports, GOOD, workers=2) == 0
    q = quarantine(data)
    crashed = q[q["reason_code"] == "file_reader_crashed"]
    assert crashed["source_file"].tolist() == [f"{AS_OF}/毕业去向_crash.xlsx"]
    published = reports / AS_OF.isoformat()
    stem = university_stem("12631", LONG_NAME)
    assert (published / "universities" / f"{stem}.html").is_file()
    assert stem.startswith("12631-福建某某")
    for p in published.rglob("*"):
        assert len(p.name.encode("utf-8")) <= NAME_MAX_BYTES, p.name
    manifest = pd.read_json(published / "manifest.json", typ="series")
    assert {r["university"] for r in manifest["reports"] if r["university"]} == {"10386", "12631"}


def test_university_stem_is_bounded_in_bytes_and_keeps_the_code():
    from helpers.runner.catalog import STEM_MAX_BYTES

    stem = university_stem("12631", LONG_NAME)
    assert stem.startswith("12631-福建某") and len(stem.encode()) <= STEM_MAX_BYTES
    assert len(f"{stem}-学科专业点调整通知.docx".encode()) <= NAME_MAX_BYTES
    other = university_stem("12631", LONG_NAME[:-1] + "校")  # same beginning, another name
    assert other != stem
    assert university_stem("10386", "福州大学") == "10386-福州大学"


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd", "etcpasswd"),
        (".hidden", "hidden"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("闽江\u202e学院\x00\n", "闽江学院"),
        ("-rf 学院", "rf学院"),
        ("", "未命名"),
    ],
)
def test_safe_name_never_keeps_path_or_control_characters(name, expected):
    from helpers.runner.catalog import safe_name

    assert safe_name(name) == expected


@given(st.text(max_size=400))
def test_safe_name_property(text):
    from helpers.runner.catalog import STEM_MAX_BYTES, safe_name

    out = safe_name(text)
    assert out and len(out.encode("utf-8")) <= STEM_MAX_BYTES
    assert not any(c in out for c in '/\\:*?"<>|\x00') and not out.startswith((".", "-"))
    assert all(c.isprintable() and not c.isspace() for c in out)
