"""The ``placement`` command as a scheduler sees it: help, version, log lines, exit codes."""

from __future__ import annotations

import argparse
import logging
import re

import pytest

from helpers import cli, errors


@pytest.fixture(autouse=True)
def _fresh_logger():
    logger = logging.getLogger("helpers")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.handlers.clear()
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_subcommand_and_option_is_described():
    subs = _subparsers(cli.build_parser())
    assert set(subs) == {"generate", "ingest", "run", "calendar"}
    for name, sub in subs.items():
        assert sub.description and len(sub.description) > 40, name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
        text = sub.format_help()
        assert "exit codes:" in text
    run_help = subs["run"].format_help()
    assert "(default: reports)" in run_help
    assert "--as-of AS_OF         reporting date YYYY-MM-DD\n" in run_help  # required: no default


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert re.match(r"placement \S+", capsys.readouterr().out)


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    code = cli.main(["ingest", "--as-of", "2023-08-31", "--data-dir", str(tmp_path)])
    assert code == errors.EXIT_INPUT == 2
    err = capsys.readouterr().err
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR ", err)
    assert "does not exist" in err and "Traceback" not in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--as-of", "2023-02-30"])
    assert stop.value.code == 2
    assert "ISO date" in capsys.readouterr().err


def test_an_unexpected_crash_is_not_a_partial_success(monkeypatch, capsys):
    def boom(**kwargs):
        raise ValueError("a bug deep inside, not an input problem")

    monkeypatch.setattr("helpers.schedule.format_calendar", boom)
    code = cli.main(["calendar"])
    assert code == errors.EXIT_CRASH
    assert code not in (0, 1, 2, 3, 4)
    err = capsys.readouterr().err
    assert "Traceback" in err and "a bug deep inside" in err


def test_quiet_and_verbose_set_the_level(tmp_path, capsys):
    cli.main(["-q", "ingest", "--as-of", "2023-08-31", "--data-dir", str(tmp_path)])
    assert logging.getLogger("helpers").level == logging.WARNING
    cli.main(["-v", "calendar", "--count", "1"])
    assert logging.getLogger("helpers").level == logging.DEBUG
    capsys.readouterr()


def test_info_goes_to_stdout_warnings_to_stderr(capsys):
    from helpers.logs import configure

    configure(logging.INFO)
    log = logging.getLogger("helpers.test")
    log.info("进度 progress")
    log.warning("问题 problem")
    log.debug("hidden")
    out, err = capsys.readouterr()
    assert "INFO" in out and "进度" in out and "问题" not in out
    assert "WARNING" in err and "问题" in err
    assert "hidden" not in out + err


def test_progress_bars_only_on_a_terminal(monkeypatch):
    from helpers.logs import progress

    assert progress(range(3)).disable  # pytest's stderr is not a terminal
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    bar = progress(range(3), desc="文件")
    assert not bar.disable and list(bar) == [0, 1, 2]
