"""Paths and the policy configuration of a notice year, typed and validated.

The notice changes every year; every number and date it sets lives in
``src/helpers/policy/<year>.yaml`` and is read through :func:`load_policy`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from helpers.errors import InvalidInputError, MissingInputError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]
FONT_PATH = PACKAGE_DIR / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
REFERENCE_DIR = PACKAGE_DIR / "reference"
TEMPLATES_DIR = PACKAGE_DIR / "templates"

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _check_month_day(value: str) -> str:
    m = _MONTH_DAY.match(value)
    if not m:
        raise ValueError(f"expected a month-day 'MM-DD', got {value!r}")
    dt.date(2024, int(m[1]), int(m[2]))  # 2024: leap year, so 02-29 is valid
    return value


def month_day(value: str, year: int) -> dt.date:
    """The date of a policy month-day ("MM-DD") in ``year`` (02-29 falls back to 02-28)."""
    month, day = int(value[:2]), int(value[3:])
    try:
        return dt.date(year, month, day)
    except ValueError:
        return dt.date(year, month, 28)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Notice(_Section):
    title: str
    year: int
    cohort: int
    issuer: str  # 落款: who signs the circular and the letters
    addressee: str  # 主送 of the circular


class Placement(_Section):
    provincial_average: float = Field(ge=0, le=1)
    provincial_average_cohort: int
    not_placed_codes: tuple[str, ...]
    not_placed_prefixes: tuple[str, ...]
    include_jieye_in_denominator: bool
    include_yiye_in_denominator: bool
    initial_snapshot: str
    year_end_snapshot: str
    coverage_alert: float = Field(ge=0, le=1)

    _md = field_validator("initial_snapshot", "year_end_snapshot")(_check_month_day)


class Majors(_Section):
    threshold: float = Field(gt=0, lt=1)
    min_graduates: int = Field(ge=1)
    trend_cohorts: int = Field(ge=0, le=10)
    adjustment_plan_deadline: str
    plan_recipient: str  # where the adjustment plans are sent (office of the department)
    plan_email: str  # and its e-mail address for the electronic copy

    _md = field_validator("adjustment_plan_deadline")(_check_month_day)


class Recruitment(_Section):
    window_days: int = Field(ge=1)
    first_window_start: str

    _md = field_validator("first_window_start")(_check_month_day)


class Visits(_Section):
    employers_per_year: int = Field(ge=0)
    new_employers_first_half: int = Field(ge=0)
    first_half_end: str
    leader_roles: tuple[str, ...]
    cadence: str

    _md = field_validator("first_half_end")(_check_month_day)


class Assistance(_Section):
    groups: tuple[str, ...]
    rate_above_school_groups: tuple[str, ...]
    rate_deadline: str
    all_placed_groups: tuple[str, ...]
    willing_all_placed_groups: tuple[str, ...]
    talks: int = Field(ge=0)
    activities: int = Field(ge=0)
    recommendations: int = Field(ge=0)
    interview_dates: tuple[str, ...]

    @field_validator("rate_deadline")
    @classmethod
    def _deadline(cls, v: str) -> str:
        return _check_month_day(v)

    @field_validator("interview_dates")
    @classmethod
    def _dates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_month_day(x) for x in v)


class Platform(_Section):
    follow_rate_min: float = Field(ge=0, le=1)
    binding_rate_min: float = Field(ge=0, le=1)
    registration_rate_min: float = Field(ge=0, le=1)
    bottom_share: float = Field(ge=0, le=1)


class Calendar(_Section):
    checkpoints: tuple[str, ...]
    fortnightly: bool
    month_ends: bool

    @field_validator("checkpoints")
    @classmethod
    def _dates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_month_day(x) for x in v)


APPLIES_TO = ("all", "flagged_points")


class SubmissionItem(_Section):
    item: str  # one of helpers.codes.SUBMISSION_ITEMS
    deadline: str  # MM-DD in the reporting year (the year of as_of)
    # all: every monitored university; flagged_points: those whose previous cohort had 专业点
    # below majors.threshold (the list the department sends, see helpers.majors)
    applies_to: str

    _md = field_validator("deadline")(_check_month_day)

    @field_validator("item")
    @classmethod
    def _item(cls, v: str) -> str:
        from helpers.codes import SUBMISSION_ITEMS

        if v not in SUBMISSION_ITEMS:
            raise ValueError(f"unknown submission item {v!r}: one of {SUBMISSION_ITEMS}")
        return v

    @field_validator("applies_to")
    @classmethod
    def _applies(cls, v: str) -> str:
        if v not in APPLIES_TO:
            raise ValueError(f"applies_to must be one of {APPLIES_TO}, got {v!r}")
        return v


class Submissions(_Section):
    items: tuple[SubmissionItem, ...]


class Disclosure(_Section):
    min_group_for_rate: int = Field(ge=1)
    min_count_shown: int = Field(ge=1)
    top_bottom_code_below: int = Field(ge=0)
    top_code: float = Field(gt=0, le=1)
    bottom_code: float = Field(ge=0, lt=1)


class Statistics(_Section):
    confidence: float = Field(gt=0, lt=1)
    funnel_alert: float = Field(gt=0, lt=1)
    funnel_alarm: float = Field(gt=0, lt=1)
    winsor: float = Field(ge=0, lt=0.5)


class Policy(_Section):
    notice: Notice
    placement: Placement
    majors: Majors
    recruitment: Recruitment
    visits: Visits
    assistance: Assistance
    platform: Platform
    calendar: Calendar
    disclosure: Disclosure
    statistics: Statistics
    submissions: Submissions

    @model_validator(mode="after")
    def _plan_deadline_once(self):
        for it in self.submissions.items:
            if (
                it.applies_to == "flagged_points"
                and it.deadline != self.majors.adjustment_plan_deadline
            ):
                raise ValueError(
                    f"submissions: {it.item} deadline {it.deadline} differs from "
                    f"majors.adjustment_plan_deadline {self.majors.adjustment_plan_deadline}"
                )
        return self

    def date(self, month_day_value: str, year: int | None = None) -> dt.date:
        """A policy month-day as a date in the cohort year (or ``year``)."""
        return month_day(month_day_value, year or self.notice.cohort)


def available_policy_years() -> list[int]:
    files = resources.files("helpers") / "policy"
    return sorted(int(p.name[:-5]) for p in files.iterdir() if re.fullmatch(r"\d{4}\.yaml", p.name))


@lru_cache(maxsize=8)
def load_policy(year: int | None = None, path: str | Path | None = None) -> Policy:
    """Load and validate the policy file of a notice year.

    ``year`` picks ``policy/<year>.yaml``; a year without its own file falls back to the newest
    earlier one (the previous notice stays in force until a new one arrives). ``path`` loads an
    explicit file instead.
    """
    if path is None:
        years = available_policy_years()
        if not years:
            raise MissingInputError("no policy file in src/helpers/policy/")
        if year is None:
            chosen = years[-1]
        else:
            earlier = [y for y in years if y <= year]
            chosen = earlier[-1] if earlier else years[0]
        path = PACKAGE_DIR / "policy" / f"{chosen}.yaml"
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    try:
        return Policy.model_validate(raw)
    except Exception as exc:  # pydantic's message names the field; add the file
        raise InvalidInputError(f"invalid policy file {path}: {exc}") from exc


def policy_for_date(as_of: dt.date) -> Policy:
    """The policy in force for the cohort of a reporting date (cohort = year of ``as_of``)."""
    return load_policy(as_of.year)


def parse_as_of(value: dt.date | str, name: str = "as_of") -> dt.date:
    """The one parser of a reporting date, used only at the edges: the command line, a notebook's
    parameters (papermill injects text) and the runner's entry. Everything inside the package
    takes a ``datetime.date``. A date passes through (a datetime gives its date); anything else
    must be text ``YYYY-MM-DD`` naming a real day, or the message names ``name`` and the bad value
    (``date.fromisoformat`` alone would also take ``20230831`` or ``2023-W35-4``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if _ISO_DATE.fullmatch(text):
        with contextlib.suppress(ValueError):  # 2023-02-30
            return dt.date.fromisoformat(text)
    raise InvalidInputError(
        f"{name} must be an ISO date YYYY-MM-DD (e.g. 2023-08-31), got {value!r}"
    )


def data_paths(data_dir: str | Path = "data") -> tuple[Path, Path]:
    """(raw, processed) folders of a data directory."""
    base = Path(data_dir)
    return base / "raw", base / "processed"


def processed_dir(data_dir: str | Path, as_of: dt.date) -> Path:
    """The processed folder of one reporting date: ``data_dir/processed/<YYYY-MM-DD>``."""
    return data_paths(data_dir)[1] / as_of.isoformat()
