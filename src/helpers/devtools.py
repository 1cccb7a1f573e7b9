"""Repository hygiene checks (used by `make lint` and the tests) and refactoring guards.

`python -m helpers.devtools check-notebooks notebooks` fails when a notebook carries outputs
(outputs can carry personal data into git) or when its parameters cell holds anything but literals
(papermill injects values after it; a derived value there would not be recomputed).

`python -m helpers.devtools digest DIR... > before.json` records a digest of every table a run
wrote (CSV bytes, Parquet contents, the workbook's cell values); `python -m helpers.devtools
same before.json after.json` then says whether a change of code changed any table. A restructuring
must leave every digest unchanged.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path

# Files whose bytes are a table. Pages, executed notebooks and documents carry timings or
# timestamps and are compared through the tables they show.
TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")
# Columns that record when a run happened, not what it found.
RUN_TIME_COLUMNS = ("recorded_at",)


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


def table_digest(path: Path) -> str:
    """A digest of what a table file holds, blind to container metadata (zip times, writer ids)."""
    h = hashlib.sha256()
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        table = table.drop_columns([c for c in RUN_TIME_COLUMNS if c in table.column_names])
        h.update(str(table.schema.remove_metadata()).encode())
        for column in table.columns:
            h.update(json.dumps(column.to_pylist(), default=str, ensure_ascii=False).encode())
    elif path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            h.update(sheet.title.encode())
            for row in sheet.iter_rows(values_only=True):
                h.update(json.dumps(row, default=str, ensure_ascii=False).encode())
        book.close()
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def digest_tree(folders: list[Path]) -> dict[str, str]:
    """Digest of every table under the folders, keyed by path from the folder's parent (reports/<as_of>/..., processed/<as_of>/...)."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in TABLE_SUFFIXES:
                out[f"{folder.parent.name}/{folder.name}/{path.relative_to(folder).as_posix()}"] = (
                    table_digest(path)
                )
    return out


def compare_digests(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines naming each table that is missing, new or different; empty when all are the same."""
    lines = [f"missing after: {k}" for k in sorted(before.keys() - after.keys())]
    lines += [f"new after: {k}" for k in sorted(after.keys() - before.keys())]
    lines += [
        f"differs: {k}" for k in sorted(before.keys() & after.keys()) if before[k] != after[k]
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) >= 2 and argv[0] == "digest":
        print(json.dumps(digest_tree([Path(a) for a in argv[1:]]), indent=1, ensure_ascii=False))
        return 0
    if len(argv) == 3 and argv[0] == "same":
        before, after = (json.loads(Path(a).read_text(encoding="utf-8")) for a in argv[1:])
        lines = compare_digests(before, after)
        for line in lines:
            print(line)
        print(f"{len(before)} tables before, {len(after)} after, {len(lines)} differences")
        return 1 if lines else 0
    if len(argv) < 2 or argv[0] != "check-notebooks":
        print(
            "usage: python -m helpers.devtools check-notebooks DIR...\n"
            "       python -m helpers.devtools digest DIR... > digest.json\n"
            "       python -m helpers.devtools same before.json after.json",
            file=sys.stderr,
        )
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
