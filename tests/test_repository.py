"""Repository hygiene: notebooks clean, CI runs the README's command, policy numbers not scattered
(dependencies: tests/test_packaging.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.devtools import notebook_problems, parameters_cell_problems

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_clean_and_parameterised(path):
    assert notebook_problems(path) == []


def test_parameters_check_rejects_derived_values():
    cell = {"source": 'as_of = "2023-08-31"\nyear = int(as_of[:4])\n'}
    assert parameters_cell_problems(cell) == ["line 2: value is not a literal"]
    assert parameters_cell_problems({"source": 'as_of = "2023-08-31"\nuniversity = None\n'}) == []


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci


def test_policy_thresholds_are_not_literals_in_code():
    """The notice's numbers live in policy/*.yaml; code must read them from there."""
    offenders = []
    pattern = re.compile(r"(?<![\w.])(0\.70|0\.7|0\.50|0\.5|200|100)(?![\w.])")
    allowed = {"config.py", "devtools.py"}
    for path in (ROOT / "src" / "helpers").rglob("*.py"):
        if path.name in allowed or "generate" in path.parts:
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = re.sub(r"``[^`]*``", "", line.split("#", 1)[0])  # docstring examples
            if re.search(
                r"\b(threshold|average|target|employers|deadline|min_)\w*\s*=\s*", code
            ) and pattern.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert offenders == []


def test_nothing_points_outside_the_repository():
    """Users of the repository have only the repository: no reference to the team's shared folder."""
    tracked = [
        p
        for pattern in ("src/**/*.py", "tests/**/*.py", "benchmarks/**/*.py", "docs/**/*.md")
        for p in ROOT.glob(pattern)
    ] + [ROOT / "README.md", ROOT / "Makefile", *ROOT.glob("notebooks/*.ipynb")]
    needle = "../" + "shared"  # split so this test does not find itself
    offenders = [p.relative_to(ROOT) for p in tracked if needle in p.read_text(encoding="utf-8")]
    assert offenders == []
