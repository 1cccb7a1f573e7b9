"""The reporting calendar derived from the policy file, and `placement calendar`."""

from __future__ import annotations

import datetime as dt
import itertools

from helpers import schedule
from helpers.cli import main as cli_main
from helpers.config import load_policy, month_day

D = dt.date


def test_fortnightly_windows_start_at_policy_date_and_last_window_days():
    policy = load_policy(2023)
    windows = schedule.fortnight_windows(2023, policy)
    first_start = month_day(policy.recruitment.first_window_start, 2023)
    assert windows[0] == (
        first_start,
        first_start + dt.timedelta(days=policy.recruitment.window_days - 1),
    )
    for (s1, e1), (s2, _) in itertools.pairwise(windows):
        assert (s2 - s1).days == policy.recruitment.window_days and e1 < s2
    assert windows[-1][1] <= D(2023, 12, 31)
    assert windows[0] == (D(2023, 2, 13), D(2023, 2, 26))  # the 2023 notice's numbers


def test_year_calendar_has_window_ends_month_ends_and_checkpoints():
    policy = load_policy(2023)
    cal = {r.date: r for r in schedule.year_calendar(2023)}
    for end in (e for _, e in schedule.fortnight_windows(2023, policy)):
        assert schedule.FORTNIGHT in cal[end].kinds
    for m_end in schedule.month_ends(2023):
        assert schedule.MONTH_END in cal[m_end].kinds
    for md in policy.calendar.checkpoints:
        assert schedule.CHECKPOINT in cal[month_day(md, 2023)].kinds
    assert D(2024, 2, 29) in schedule.month_ends(2024)
    # what is due, in Chinese, from the policy keys
    texts = {d: " ".join(i.text for i in r.items) for d, r in cal.items()}
    assert "2023届初次毕业去向落实率" in texts[D(2023, 8, 31)]
    assert "约谈检查点" in texts[D(2023, 7, 1)] and "约谈检查点" in texts[D(2023, 9, 1)]
    assert "年终" in texts[D(2023, 12, 31)]
    assert "2022届" in texts[D(2023, 4, 1)] and "调整改革实施方案" in texts[D(2023, 4, 1)]
    assert "上半年新开拓用人单位" in texts[D(2023, 6, 30)]
    # a policy note never creates a date of its own: only window ends, month ends, checkpoints
    assert all(r.kinds for r in cal.values())


def test_calendar_follows_the_policy_file(tmp_path, monkeypatch):
    base = load_policy(2023)
    changed = base.model_copy(
        update={
            "calendar": base.calendar.model_copy(
                update={"month_ends": False, "checkpoints": ("05-20",)}
            ),
            "recruitment": base.recruitment.model_copy(
                update={"window_days": 7, "first_window_start": "03-01"}
            ),
        }
    )
    cal = {r.date: r for r in schedule.year_calendar(2023, changed)}
    assert D(2023, 3, 7) in cal and D(2023, 3, 14) in cal  # weekly windows from 03-01
    assert D(2023, 2, 26) not in cal
    assert D(2023, 1, 31) not in cal  # no month ends
    assert "政策检查点" in cal[D(2023, 5, 20)].items[0].text


def test_next_dates_cross_the_year():
    dates = schedule.next_reporting_dates(D(2023, 12, 20), 3)
    assert [r.date for r in dates] == [D(2023, 12, 31), D(2024, 1, 31), D(2024, 2, 26)]
    assert schedule.next_reporting_dates(D(2023, 8, 31), 1)[0].date == D(2023, 8, 31)
    assert schedule.next_reporting_dates(D(2023, 8, 31), 0) == []


def test_format_calendar_lists_dates_with_what_is_due():
    text = schedule.format_calendar(D(2023, 8, 20), 4)
    lines = text.splitlines()
    assert lines[0].startswith("报告日历（自 2023-08-20 起的 4 个报告日")
    assert "2023-08-27（周日）  校园招聘两周统计（统计周期 08-14 至 08-27）" in lines
    assert any(
        line.startswith("2023-08-31（周四）") and "初次毕业去向落实率" in line for line in lines
    )
    assert "--only-if-new" in text


def test_placement_calendar_command(capsys):
    assert cli_main(["calendar", "--start", "2023-06-25", "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert (
        "2023-06-30（周五）" in out and "2023-07-01（周六）" in out and "2023-07-02（周日）" in out
    )
