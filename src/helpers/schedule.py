"""The reporting calendar, derived from the policy file of each year.

Reporting dates (``policy.calendar``):

- every two weeks: the recruitment statistics windows start at ``recruitment.first_window_start``
  and last ``recruitment.window_days`` days; a report is due on the last day of each window;
- every month end (``calendar.month_ends``);
- the checkpoints ``calendar.checkpoints`` (04-01, 07-01, 08-31, 09-01, 12-31 in 2023), each
  explained by the policy key it stands for (initial snapshot, 约谈 dates, year end, ...).

``placement calendar`` prints the next dates with what is due on each;
``docs/scheduling.md`` shows cron and systemd-timer set-ups that run ``placement run`` daily with
``--only-if-new``.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from dataclasses import dataclass

from helpers.config import Policy, load_policy, month_day
from helpers.errors import InvalidInputError

WEEKDAYS = "一二三四五六日"

FORTNIGHT = "fortnight"
MONTH_END = "month_end"
CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class DueItem:
    kind: str  # FORTNIGHT | MONTH_END | CHECKPOINT
    text: str  # what is due (Chinese)


@dataclass(frozen=True)
class ReportingDate:
    date: dt.date
    items: tuple[DueItem, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.kind for i in self.items))


def fortnight_windows(year: int, policy: Policy) -> list[tuple[dt.date, dt.date]]:
    """(start, end) of every statistics window of ``year`` (windows never cross into next year)."""
    days = policy.recruitment.window_days
    start = month_day(policy.recruitment.first_window_start, year)
    last = dt.date(year, 12, 31)
    out = []
    while start <= last:
        end = min(start + dt.timedelta(days=days - 1), last)
        out.append((start, end))
        start = start + dt.timedelta(days=days)
    return out


def month_ends(year: int) -> list[dt.date]:
    return [dt.date(year, m, _calendar.monthrange(year, m)[1]) for m in range(1, 13)]


def checkpoint_texts(
    year: int, policy: Policy
) -> tuple[dict[dt.date, list[str]], dict[dt.date, list[str]]]:
    """What each policy checkpoint of ``year`` stands for (Chinese), keyed by date; and the
    policy dates that are not checkpoints (noted on a reporting date that falls on them)."""
    meanings: dict[str, list[str]] = {}

    def add(md: str, text: str) -> None:
        meanings.setdefault(md, []).append(text)

    cohort = year
    add(policy.placement.initial_snapshot, f"{cohort}届初次毕业去向落实率（统计截止）")
    add(policy.assistance.rate_deadline, "帮扶群体毕业生落实率须高于本校平均水平的检查日")
    add(policy.placement.year_end_snapshot, f"{cohort}届年终毕业去向落实率")
    for md in policy.assistance.interview_dates:
        add(md, "约谈检查点：困难群体毕业生帮扶与落实情况")
    add(
        policy.majors.adjustment_plan_deadline,
        f"{cohort - 1}届落实率低于{policy.majors.threshold:.0%}的学科专业点调整改革实施方案报送截止",
    )
    add(
        policy.visits.first_half_end,
        f"上半年新开拓用人单位检查（低于全省平均水平的高校不少于{policy.visits.new_employers_first_half}家）",
    )
    checkpoints: dict[dt.date, list[str]] = {}
    for md in policy.calendar.checkpoints:
        checkpoints.setdefault(month_day(md, year), []).extend(meanings.get(md, ["政策检查点"]))
    notes: dict[dt.date, list[str]] = {}
    for md, texts in meanings.items():
        if md not in policy.calendar.checkpoints:
            notes.setdefault(month_day(md, year), []).extend(texts)
    return checkpoints, notes


def year_calendar(year: int, policy: Policy | None = None) -> list[ReportingDate]:
    """Every reporting date of ``year`` with what is due, from the policy in force that year."""
    policy = policy or load_policy(year)
    items: dict[dt.date, list[DueItem]] = {}
    if policy.calendar.fortnightly:
        for start, end in fortnight_windows(year, policy):
            items.setdefault(end, []).append(
                DueItem(FORTNIGHT, f"校园招聘两周统计（统计周期 {start:%m-%d} 至 {end:%m-%d}）")
            )
    if policy.calendar.month_ends:
        for d in month_ends(year):
            items.setdefault(d, []).append(
                DueItem(MONTH_END, f"{d.month}月月末进度：访企拓岗、平台登记、帮扶台账")
            )
    checkpoints, notes = checkpoint_texts(year, policy)
    for d, texts in checkpoints.items():
        items.setdefault(d, []).extend(DueItem(CHECKPOINT, t) for t in texts)
    for d, texts in notes.items():
        if d in items:  # a note never creates a reporting date of its own
            items[d].extend(DueItem(CHECKPOINT, t) for t in texts)
    order = {CHECKPOINT: 0, MONTH_END: 1, FORTNIGHT: 2}
    return [
        ReportingDate(d, tuple(sorted(v, key=lambda i: order[i.kind])))
        for d, v in sorted(items.items())
    ]


def next_reporting_dates(start: dt.date, count: int) -> list[ReportingDate]:
    """The next ``count`` reporting dates on or after ``start``."""
    if count < 0:
        raise InvalidInputError(f"count must be >= 0, got {count}")
    out: list[ReportingDate] = []
    year = start.year
    while len(out) < count:
        out.extend(r for r in year_calendar(year) if r.date >= start)
        year += 1
        if year > start.year + 50:  # a policy without any date would loop forever
            break
    return out[:count]


def format_calendar(start: dt.date | None, count: int) -> str:
    """The next reporting dates with what is due (Chinese), for ``placement calendar``."""
    start = start or dt.date.today()
    dates = next_reporting_dates(start, count)
    policy = load_policy(start.year)
    lines = [
        f"报告日历（自 {start:%Y-%m-%d} 起的 {len(dates)} 个报告日；依据：{policy.notice.title}）",
        f"Reporting calendar: the next {len(dates)} reporting dates from {start:%Y-%m-%d}.",
        "",
    ]
    for r in dates:
        head = f"{r.date:%Y-%m-%d}（周{WEEKDAYS[r.date.weekday()]}）"
        lines.append(f"{head}  {'；'.join(i.text for i in r.items)}")
    lines += [
        "",
        "每个报告日运行 / run on each date:  placement run --as-of <日期> "
        "（定时任务用 --only-if-new，见 docs/scheduling.md）",
    ]
    return "\n".join(lines)
