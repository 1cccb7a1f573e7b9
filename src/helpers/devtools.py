"""Repository hygiene checks (used by `make lint` and the tests).

`python -m helpers.devtools check-notebooks notebooks` fails when a notebook carries outputs
(outputs can carry personal data into git) or when its parameters cell holds anything but literals
(papermill injects values after it; a derived value there would not be recomputed).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path


def notebook_problems(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{path}: cell {i} has outputs (strip them: nbstripout)")
        if cell.get("execution_count") is not None:
            problems.append(f"{path}: cell {i} has an execution count")
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1:
        problems.append(
            f"{path}: expected exactly one cell tagged 'parameters', found {len(params)}"
        )
    else:
        problems += [f"{path}: parameters cell: {p}" for p in parameters_cell_problems(params[0])]
    return problems


def parameters_cell_problems(cell: dict) -> list[str]:
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"does not parse: {exc}"]
    out = []
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            out.append(f"line {node.lineno}: only assignments of literals are allowed")
            continue
        try:
            ast.literal_eval(node.value)
        except ValueError:
            out.append(f"line {node.lineno}: value is not a literal")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] != "check-notebooks":
        print("usage: python -m helpers.devtools check-notebooks DIR...", file=sys.stderr)
        return 2
    problems = []
    for folder in argv[1:]:
        for path in sorted(Path(folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                problems += notebook_problems(path)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
