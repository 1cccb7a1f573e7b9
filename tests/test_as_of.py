"""The reporting date: text is parsed once at the edges (the command line, a notebook's
parameters, the runner's entry) by ``helpers.config.parse_as_of``; inside the package it is a
``datetime.date``."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import pytest

from helpers.config import parse_as_of
from helpers.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "helpers"
# Where text becomes a date: the command line, the runner's entry and its cell in a report kernel
# (the notebook's text parameter), and ingest's public entries (tests, benchmarks and analysts
# call them with text).
EDGES = {
    "cli.py",
    "runner/period.py",
    "runner/manifest.py",  # RunRequest.build: where the runner's request is made
    "runner/kernel.py",
    "ingest/pipeline.py",
    "ingest/sources.py",
}
# Modules still passing the date as text: none (runner/staging names folders by `period`, the
# ISO text of the date, not by a date).
NOT_YET: set[str] = set()


def test_iso_text_and_dates_give_a_date():
    assert parse_as_of("2023-08-31") == dt.date(2023, 8, 31)
    assert parse_as_of(" 2023-08-31\n") == dt.date(2023, 8, 31)
    assert parse_as_of(dt.date(2023, 8, 31)) == dt.date(2023, 8, 31)
    assert parse_as_of(dt.datetime(2023, 8, 31, 17, 5)) == dt.date(2023, 8, 31)
    assert type(parse_as_of(dt.datetime(2023, 8, 31))) is dt.date


@pytest.mark.parametrize(
    "bad", ["31.08.2023", "2023-02-30", "20230831", "2023-W35-4", "", None, 20230831]
)
def test_a_bad_date_names_the_parameter_and_the_value(bad):
    with pytest.raises(InvalidInputError) as err:
        parse_as_of(bad, "compare_as_of")
    message = str(err.value)
    assert message.startswith("compare_as_of must be an ISO date YYYY-MM-DD")
    assert repr(bad) in message


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in NOT_YET:
            yield name, ast.parse(path.read_text(encoding="utf-8"))


def test_only_the_edges_parse():
    calls = [
        f"{name}:{node.lineno}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "parse_as_of"
        and name not in EDGES
    ]
    assert calls == []


def test_as_of_parameters_are_dates():
    offenders = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg != "as_of" or name in EDGES:
                    continue
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                if annotation not in ("dt.date", "dt.date | None"):
                    offenders.append(f"{name}:{node.lineno} {node.name}(as_of: {annotation!r})")
    assert offenders == []


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_parse_their_text_parameters_once_after_the_parameters_cell(path):
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    code = [c for c in cells if c["cell_type"] == "code"]
    params = next(i for i, c in enumerate(code) if "parameters" in c["metadata"].get("tags", []))
    first = "".join(code[params + 1]["source"])
    assert "as_of_date = parse_as_of(as_of)" in first
    later = "".join("".join(c["source"]) for c in code[params + 2 :])
    assert "parse_as_of" not in later
    # after parsing, the text parameter is not handed to the package again
    assert not any(
        f"{p}," in later or f"{p})" in later for p in ("(as_of", " as_of", "compare_as_of")
    )
