"""Dependencies: pyproject.toml declares what the code imports (runtime for src/ and notebooks/,
extra ``dev`` for tests/, extra ``bench`` for benchmarks/) and nothing it does not use;
environment.yml says the same; requirements.lock pins every one of them within its range and is
what ``make setup`` installs."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LOCK = ROOT / "requirements.lock"
# Declared but not imported, and why (everything else declared must be imported somewhere).
NOT_IMPORTED = {
    "jupyterlab": "`make lab` opens the analyst's notebook in it",
    "ipykernel": "the Jupyter kernel every report runs in",
    "nbclient": "papermill's executor; the runner drives it",
    "brotli": "fontTools' WOFF2 compression of the page font",
    "pytest-xdist": "`make test` runs pytest -n 2",
    "ruff": "`make lint`",
    "nbstripout": "the git filter that keeps notebooks without outputs",
}
# conda-forge spells these differently
CONDA_NAMES = {"python-duckdb": "duckdb", "pandera-pandas": "pandera"}


def _requirements(group: str) -> dict[str, Requirement]:
    lines = (
        PROJECT["dependencies"] if group == "runtime" else PROJECT["optional-dependencies"][group]
    )
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


GROUPS = ("runtime", "dev", "bench")
DECLARED = {g: _requirements(g) for g in GROUPS}


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not a name==version pin"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_groups_do_not_overlap():
    names = [n for g in GROUPS for n in DECLARED[g]]
    assert len(names) == len(set(names))


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = {}
    for spec in (d for d in env["dependencies"] if isinstance(d, str)):
        r = Requirement(spec)
        name = canonicalize_name(CONDA_NAMES.get(r.name, r.name))
        if name not in ("python", "pip"):
            conda[name] = str(r.specifier)
    declared = {n: str(r.specifier) for g in GROUPS for n, r in DECLARED[g].items()}
    assert conda == declared  # the same packages with the same floors


def test_lock_pins_every_declared_dependency_within_its_range():
    pins = _lock()
    for group in GROUPS:
        for name, req in DECLARED[group].items():
            assert name in pins, f"{name} ({group}) is not in requirements.lock: run `make lock`"
            assert req.specifier.contains(pins[name], prereleases=True), (
                f"requirements.lock pins {name}=={pins[name]}, outside {req} ({group})"
            )


def test_setup_installs_the_locked_versions():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LOCK := requirements.lock" in makefile
    setup = makefile[makefile.index("$(BIN)/placement:") : makefile.index(".PHONY: setup")]
    assert '-c $(LOCK) -e ".[dev]"' in setup and "$(LOCK)" in setup.splitlines()[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "requirements.lock" in readme and "make lock" in readme


def _imports(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a notebook cell with IPython syntax
        return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@cache
def imports_of(area: str) -> frozenset[str]:
    """Top-level modules imported by the .py files and notebooks under ``area``."""
    found: set[str] = set()
    for path in (ROOT / area).rglob("*.py"):
        found |= _imports(path.read_text(encoding="utf-8"))
    for path in (ROOT / area).rglob("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                found |= _imports("".join(cell["source"]))
    local = {p.stem for p in (ROOT / area).glob("*.py")} | {"helpers"}
    return frozenset(m for m in found if m not in sys.stdlib_module_names and m not in local)


@cache
def _distributions(module: str) -> frozenset[str]:
    """The distributions that provide an import name; one not installed here (an extra that
    ``make setup`` leaves out, e.g. duckdb) is taken to be spelled like its module."""
    return frozenset(canonicalize_name(d) for d in _installed().get(module, [module]))


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


@pytest.mark.parametrize(
    ("areas", "groups"),
    [
        (("src", "notebooks"), ("runtime",)),
        (("tests",), ("runtime", "dev")),
        (("benchmarks",), ("runtime", "dev", "bench")),
    ],
    ids=["src+notebooks", "tests", "benchmarks"],
)
def test_every_import_is_declared(areas, groups):
    allowed = {n for g in groups for n in DECLARED[g]}
    undeclared = {
        module: sorted(_distributions(module))
        for area in areas
        for module in imports_of(area)
        if not _distributions(module) & allowed
    }
    assert undeclared == {}


def test_every_declared_dependency_is_used():
    used = {
        group: {d for area in areas for m in imports_of(area) for d in _distributions(m)}
        for group, areas in {
            "runtime": ("src", "notebooks"),
            "dev": ("tests",),
            "bench": ("benchmarks",),
        }.items()
    }
    unused = sorted(
        f"{name} ({group})"
        for group in GROUPS
        for name in DECLARED[group]
        if name not in used[group] and name not in NOT_IMPORTED
    )
    assert unused == []
    assert set(NOT_IMPORTED) <= {n for g in GROUPS for n in DECLARED[g]}


def test_seaborn_draws_the_exploration_charts():
    """seaborn is part of the design card: the analyst's charts (helpers.explore) use it."""
    source = (ROOT / "src" / "helpers" / "explore.py").read_text(encoding="utf-8")
    assert "seaborn" in imports_of("src")
    assert re.search(r"\bsns\.lineplot\(", source)
