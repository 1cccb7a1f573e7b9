"""The ``placement`` command: argument parsing only; the work happens in the modules it calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.config import parse_as_of


def _as_of(value: str):
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _cmd_generate(args: argparse.Namespace) -> int:
    from helpers.generate import generate

    summary = generate(size=args.size, out=Path(args.out), seed=args.seed, mess_rate=args.mess_rate)
    print(summary)
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from helpers.ingest import ingest

    result = ingest(as_of=args.as_of, data_dir=Path(args.data_dir), workers=args.workers)
    print(result.summary())
    return 0


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

    print(format_calendar(start=args.start, count=args.count))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="placement",
        description="福建省高校毕业生毕业去向落实率监测 — generate, ingest and report.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser(
        "generate", help="write a seeded synthetic province (raw files + ground truth)"
    )
    g.add_argument("--size", choices=["demo", "province", "national"], default="demo")
    g.add_argument(
        "--out", default="data", help="data directory to write raw/ and ground_truth/ into"
    )
    g.add_argument("--seed", type=int, default=2023)
    g.add_argument(
        "--mess-rate",
        type=float,
        default=None,
        help="per-row probability of each mess form (default per size; 0 = clean files)",
    )
    g.set_defaults(func=_cmd_generate)

    i = sub.add_parser("ingest", help="read raw exports into validated, pseudonymised Parquet")
    i.add_argument("--as-of", type=_as_of, required=True, help="reporting date YYYY-MM-DD")
    i.add_argument("--data-dir", default="data", help="folder holding raw/ and processed/")
    i.add_argument(
        "--workers", type=int, default=None, help="parallel readers (default: all cores)"
    )
    i.set_defaults(func=_cmd_ingest)

    r = sub.add_parser("run", help="ingest when needed, then render every report of a period")
    r.add_argument("--as-of", type=_as_of, required=True, help="reporting date YYYY-MM-DD")
    r.add_argument("--university", default=None, help="院校代码: only this university's report")
    r.add_argument("--data-dir", default="data")
    r.add_argument("--reports-dir", default="reports")
    r.add_argument(
        "--workers", type=int, default=None, help="kernels in parallel (default: all cores)"
    )
    r.add_argument(
        "--only-if-new",
        action="store_true",
        help="for schedulers: exit 0 without running when no new input arrived",
    )
    r.set_defaults(func=_cmd_run)

    c = sub.add_parser("calendar", help="print the next reporting dates of the policy calendar")
    c.add_argument("--start", type=_as_of, default=None, help="from this date (default: today)")
    c.add_argument("--count", type=int, default=10)
    c.set_defaults(func=_cmd_calendar)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as exc:
        # Input problems get one clear line, not a traceback.
        print(f"placement {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
