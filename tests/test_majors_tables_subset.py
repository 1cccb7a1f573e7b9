"""MajorEvidence.tables(names=...) makes only the tables asked for, each equal to the full set's."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.config import policy_for_date
from helpers.runner import send

AS_OF = dt.date(2023, 8, 31)


def test_a_subset_of_tables_equals_the_same_tables_of_the_full_set(demo_data_dir):
    ev = send._major_evidence(demo_data_dir, AS_OF, policy_for_date(AS_OF))
    some = ("major_points", "major_flagged", "major_trend")
    for university in (None, *sorted(ev.points["university_code"].unique())[:3]):
        full = ev.tables(university)
        part = ev.tables(university, names=some)
        assert list(part) == list(some)
        for name in some:
            assert part[name].equals(full[name]), (university, name)
    with pytest.raises(ValueError, match="major_summry"):
        ev.tables(None, names=("major_summry",))
