"""The output tables of the data contract (docs/data-contract.md §5) and their columns,
shared by the tests that check what the notebooks write."""

CONTRACT_COLUMNS = {
    "placement_by_university": [
        "university_code",
        "university_name",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "baseline_rate",
        "below_baseline",
    ],
    "placement_by_major": [
        "university_code",
        "education_level",
        "major_code",
        "major_name",
        "graduates",
        "placed",
        "placement_rate",
        "ci_low",
        "ci_high",
        "evidence_level",
    ],
    "placement_by_group": [
        "university_code",
        "group",
        "graduates",
        "placed",
        "placement_rate",
        "university_rate",
        "gap",
    ],
    "recruitment_by_window": [
        "university_code",
        "window_start",
        "window_end",
        "events",
        "employers",
        "positions",
        "student_visits",
    ],
    "visits_progress": [
        "university_code",
        "visits",
        "distinct_employers",
        "new_employers_h1",
        "positions",
        "target_visits",
        "target_new_employers",
        "on_track",
    ],
    "platform_progress": ["university_code", "follow_rate", "binding_rate", "registration_rate"],
    "assistance_compliance": [
        "university_code",
        "group",
        "graduates",
        "compliant_3x3",
        "compliance_rate",
    ],
    "interview_list": ["university_code", "reason", "evidence"],
}


def contract_with(names, extra=None):
    """The contract columns of ``names``, plus further columns a test expects (``extra``)."""
    extra = extra or {}
    return {n: [*CONTRACT_COLUMNS[n], *extra.get(n, [])] for n in names}
