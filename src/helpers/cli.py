"""The ``placement`` command: argument parsing, logging and exit codes; the work happens in the
modules it calls. Exit codes (``helpers.errors``): 0 ok, 1 published with failed reports, 2 usage or
bad input, 3 withheld by the privacy scan, 4 another run of the period in progress, 70 unexpected
crash (traceback in the log)."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import metadata
from pathlib import Path

from helpers.config import parse_as_of
from helpers.errors import EXIT_CRASH, EXIT_INPUT, EXIT_OK, InputError
from helpers.logs import configure, level_for

log = logging.getLogger("helpers.cli")

EPILOG = (
    "exit codes: 0 ok; 1 published, some reports failed; 2 usage or bad input; "
    "3 withheld by the privacy scan; 4 another run of the period in progress; "
    "70 unexpected error (traceback in the log)"
)


def _as_of(value: str):
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def version_text() -> str:
    from helpers.runner.manifest import git_revision

    try:
        version = metadata.version("helpers")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        version = "unknown"
    commit = git_revision().get("commit")
    return f"placement {version}" + (f" (git {commit[:10]})" if commit else "")


class _VersionAction(argparse.Action):
    """Like argparse's "version" action, but asks git only when the option is given."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def _cmd_generate(args: argparse.Namespace) -> int:
    from helpers.generate import generate

    summary = generate(size=args.size, out=Path(args.out), seed=args.seed, mess_rate=args.mess_rate)
    log.info(summary)
    return EXIT_OK


def _cmd_ingest(args: argparse.Namespace) -> int:
    from helpers.ingest import ingest

    result = ingest(as_of=args.as_of, data_dir=Path(args.data_dir), workers=args.workers)
    log.info(result.summary())
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from helpers.runner import run_period

    return run_period(
        as_of=args.as_of,
        university=args.university,
        data_dir=Path(args.data_dir),
        reports_dir=Path(args.reports_dir),
        workers=args.workers,
        only_if_new=args.only_if_new,
    )


def _cmd_calendar(args: argparse.Namespace) -> int:
    from helpers.schedule import format_calendar

    # The calendar is the command's output, not a log line: plain stdout.
    print(format_calendar(start=args.start, count=args.count))
    return EXIT_OK


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one to show (not for required or unset options)."""

    def _get_help_string(self, action):
        if action.required or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def _subcommand(sub, name: str, summary: str, description: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="placement",
        description="福建省高校毕业生毕业去向落实率监测 — generate, ingest and report.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="print the version and git commit"
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail in the log (debug)"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="count", default=0, help="only warnings (-qq: only errors)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = _subcommand(
        sub,
        "generate",
        "write a seeded synthetic province (raw files + ground truth)",
        "Write a realistic synthetic data set (public university list, real code tables, the mess "
        "of real exports) into DIR/raw/, and its ground truth into DIR/ground_truth/. The same "
        "seed always gives the same files.",
        _cmd_generate,
    )
    g.add_argument(
        "--size",
        choices=["demo", "province", "national"],
        default="demo",
        help="demo: 15 universities; province: Fujian's 89; national: a national-scale export",
    )
    g.add_argument(
        "--out", default="data", help="data directory to write raw/ and ground_truth/ into"
    )
    g.add_argument("--seed", type=int, default=2023, help="random seed")
    g.add_argument(
        "--mess-rate",
        type=float,
        default=None,
        help="per-row probability of each mess form (default: the size's own rate; 0: clean files)",
    )

    i = _subcommand(
        sub,
        "ingest",
        "read raw exports into validated, pseudonymised Parquet",
        "Read DATA_DIR/raw/<date>/ for every snapshot date up to --as-of as the universities sent "
        "them, repair what can be repaired, quarantine what cannot (with file, row and reason), "
        "pseudonymise 学号 and write DATA_DIR/processed/<date>/. Unchanged inputs make it a no-op.",
        _cmd_ingest,
    )
    i.add_argument("--as-of", type=_as_of, required=True, help="reporting date YYYY-MM-DD")
    i.add_argument("--data-dir", default="data", help="folder holding raw/ and processed/")
    i.add_argument(
        "--workers", type=int, default=None, help="parallel readers (default: all cores)"
    )

    r = _subcommand(
        sub,
        "run",
        "ingest when needed, then render every report of a period",
        "Render every report of one reporting date into REPORTS_DIR/<date>/ (province reports, "
        "one report per university, tables, workbook, manifest, index), scan the result for "
        "personal data and publish it atomically.",
        _cmd_run,
    )
    r.add_argument("--as-of", type=_as_of, required=True, help="reporting date YYYY-MM-DD")
    r.add_argument("--university", default=None, help="院校代码: only this university's report")
    r.add_argument("--data-dir", default="data", help="folder holding raw/ and processed/")
    r.add_argument("--reports-dir", default="reports", help="folder the period folder goes into")
    r.add_argument(
        "--workers", type=int, default=None, help="kernels in parallel (default: all cores)"
    )
    r.add_argument(
        "--only-if-new",
        action="store_true",
        help="for schedulers: exit 0 without running when no new input arrived",
    )

    c = _subcommand(
        sub,
        "calendar",
        "print the next reporting dates of the policy calendar",
        "Print the next dates on which the notice asks for data or reports (policy file).",
        _cmd_calendar,
    )
    c.add_argument("--start", type=_as_of, default=None, help="from this date (default: today)")
    c.add_argument("--count", type=int, default=10, help="how many dates")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(level_for(args.verbose, args.quiet))
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # Input problems get one clear line, not a traceback.
        log.error(f"placement {args.command}: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        log.error(f"placement {args.command}: interrupted")
        return 130
    except Exception:
        log.exception(f"placement {args.command}: unexpected error (exit {EXIT_CRASH})")
        return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
