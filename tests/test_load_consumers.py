"""Every report helper gives the same tables whether helpers.load reads the graduates' text codes
as categoricals (the default) or as text (``categories=False``): placement, major evidence and
follow-up, for the province and for one university of the demo data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from helpers import load, majors, placement
from helpers.config import policy_for_date
from helpers.followup import report

AS_OF = dt.date(2023, 8, 31)
POLICY = policy_for_date(AS_OF)


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    assert list(a.columns) == list(b.columns), name
    for col in a.columns:  # the same values; a key column may keep its category dtype
        x, y = a[col], b[col]
        if isinstance(x.dtype, pd.CategoricalDtype) != isinstance(y.dtype, pd.CategoricalDtype):
            x, y = x.astype(object), y.astype(object)
        assert_frame_equal(
            x.to_frame(), y.to_frame(), check_dtype=False, check_categorical=False, obj=name
        )


def _placement_tables(data, categories: bool, university: str | None) -> dict:
    current = load.load_dataset(
        data, AS_OF, "graduates", columns=placement.CURRENT_COLUMNS, categories=categories
    )
    history = load.load_graduate_history(
        data, AS_OF, columns=placement.HISTORY_COLUMNS, categories=categories
    )
    unis = load.load_dataset(data, AS_OF, "universities", columns=placement.UNIVERSITY_COLUMNS)
    counts = placement.snapshot_counts(history)
    uni_table, _ = placement.by_university(current, unis, POLICY)
    out = {
        "headline": placement.headline(counts, POLICY, university),
        "by_university": uni_table,
        "by_level": placement.by_level(current, POLICY, university),
        "by_discipline": placement.by_discipline(current, POLICY, university),
        "gender": placement.by_category(current, "gender", POLICY, university),
        "urban_rural": placement.by_category(current, "urban_rural", POLICY, university),
        "by_group": placement.by_group(current, POLICY, unis, university),
        "by_major": placement.by_major(current, POLICY, university),
        "mix": placement.destination_mix(current, unis, university),
        "signals": placement.warning_signals(current, counts, POLICY, AS_OF, unis, university),
        "progress": placement.progress(counts, POLICY, university),
        "movers": placement.movers(counts, POLICY, unis, university),
    }
    if university is not None:
        out["departments"] = placement.by_department(current, POLICY, university)
    return out


def _major_tables(data, categories: bool, university: str | None) -> dict:
    history = load.load_graduate_history(
        data, AS_OF, columns=majors.HISTORY_COLUMNS, categories=categories
    )
    unis = load.load_dataset(
        data, AS_OF, "universities", columns=["university_code", "university_name"]
    )
    try:
        plans = load.load_dataset(data, AS_OF, "adjustment_plans")
    except load.MissingDataError:
        plans = None
    return majors.major_evidence(history, unis, plans, AS_OF, POLICY).tables(university)


def _followup_tables(data, categories: bool, university: str | None) -> dict:
    def read(name, columns):
        return load.load_dataset(data, AS_OF, name, columns=columns, categories=categories)

    ft = report.build(
        graduates=read("graduates", report.GRADUATE_COLUMNS),
        history=load.load_graduate_history(
            data, AS_OF, columns=report.HISTORY_COLUMNS, categories=categories
        ),
        recruitment=read("recruitment", report.RECRUITMENT_COLUMNS),
        visits=read("visits", report.VISIT_COLUMNS),
        platform=read("platform", report.PLATFORM_COLUMNS),
        assistance=read("assistance", report.ASSISTANCE_COLUMNS),
        universities=read("universities", report.UNIVERSITY_COLUMNS),
        policy=POLICY,
        as_of=AS_OF,
    )
    return {
        name: report.university_rows(ft.table(name), university, True) for name in report.WRITTEN
    }


@pytest.mark.parametrize("tables", [_placement_tables, _major_tables, _followup_tables])
@pytest.mark.parametrize("scope", ["province", "university"])
def test_report_tables_same_with_categoricals_and_text(demo_data_dir, tables, scope):
    university = None
    if scope == "university":
        codes = load.load_dataset(demo_data_dir, AS_OF, "graduates", columns=["university_code"])
        university = str(codes["university_code"].cat.categories[0])
    placement.clear_memo()
    text = tables(demo_data_dir, False, university)
    cats = tables(demo_data_dir, True, university)
    assert text.keys() == cats.keys() and len(text) >= 5
    for name in text:
        _same(cats[name], text[name], name)
    assert any(len(t) for t in text.values())
