"""The runner's notebook execution: outputs built and checked like nbformat's (helpers.patches),
cells executed with nbclient like papermill's own nbclient engine (same outputs, same papermill
metadata and error banner), durations as papermill computes them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

from helpers import patches
from helpers.patches import output_from_msg
from helpers.runner.execute import (
    RUNNER_CELL_TAGS,
    execute_notebook,
    prepare_notebook,
    runner_cells,
)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _msg(msg_type: str, **content) -> dict:
    return {"header": {"msg_type": msg_type}, "msg_type": msg_type, "content": content}


OUTPUT_MESSAGES = [
    _msg("stream", name="stdout", text="你好\n"),
    _msg("stream", name="stderr", text="warning\n"),
    _msg(
        "display_data",
        data={"image/png": PNG, "text/plain": "<Figure>"},
        metadata={"image/png": {"width": 10, "height": 5}},
        transient={"display_id": "abc"},
    ),
    _msg("display_data", data={"text/markdown": "**粗体**"}, metadata={}),
    _msg(
        "execute_result",
        data={"text/html": "<table></table>", "text/plain": "df"},
        metadata={},
        execution_count=7,
    ),
    _msg("execute_result", data={"text/plain": "1"}, metadata={}, execution_count=None),
    _msg("error", ename="ValueError", evalue="boom", traceback=["Traceback", "ValueError: boom"]),
    # content nbformat repairs (data=None becomes {}): the compiled check rejects it, and the
    # output is then built by nbformat itself
    _msg("display_data", data=None, metadata={}),
]


def _types(node):
    """The node with every dict replaced by its type name and items (NotebookNode vs dict)."""
    if isinstance(node, dict):
        return (type(node).__name__, {k: _types(v) for k, v in node.items()})
    if isinstance(node, list):
        return [_types(v) for v in node]
    return node


@pytest.mark.parametrize("msg", OUTPUT_MESSAGES, ids=lambda m: m["msg_type"])
def test_outputs_are_those_of_nbformat(msg):
    ours, theirs = output_from_msg(msg), nbformat.v4.output_from_msg(msg)
    assert ours == theirs
    assert list(ours) == list(theirs)  # same key order
    assert _types(ours) == _types(theirs)  # nested dicts are NotebookNodes in both


@pytest.mark.parametrize(
    "msg",
    [
        _msg("stream", name="stdout", text=3),
        _msg("execute_result", data={"text/plain": "1"}, metadata={}, execution_count="x"),
        _msg("display_data", data={"text/plain": "x"}, metadata=[]),
        _msg("error", ename="E", evalue="v", traceback="not a list"),
    ],
    ids=["stream", "execute_result", "display_data", "error"],
)
def test_invalid_output_fails_with_nbformats_error(msg):
    with pytest.raises(nbformat.ValidationError) as ours:
        output_from_msg(msg)
    with pytest.raises(nbformat.ValidationError) as theirs:
        nbformat.v4.output_from_msg(msg)
    assert str(ours.value) == str(theirs.value)


def test_non_output_messages_are_refused_like_nbformat():
    with pytest.raises(ValueError, match="Unrecognized output msg type"):
        output_from_msg(_msg("status", execution_state="idle"))


def test_runner_cells_are_new_code_cells():
    params = {"data_dir": "/d", "as_of": "2023-08-31", "university": "10386"}
    for cell in runner_cells("/nb", params, "placement_rates"):
        ref = nbformat.v4.new_code_cell(cell.source, metadata={"tags": list(RUNNER_CELL_TAGS)})
        assert list(cell) == list(ref)
        assert {k: v for k, v in cell.items() if k != "id"} == {
            k: v for k, v in ref.items() if k != "id"
        }
        assert _types(cell.metadata) == _types(ref.metadata)
        nbformat.validate(cell, ref="code_cell", version=4)
    a, b = runner_cells("/nb", params, "placement_rates")
    assert a.id != b.id


CELLS = [
    "import sys\nprint('标准输出')\nprint('warning', file=sys.stderr)",
    "from IPython.display import Markdown, clear_output, display, update_display\n"
    "display(Markdown('**第一版**'), display_id='d1')",
    "update_display(Markdown('**第二版**'), display_id='d1')",
    "print('清除前')\nclear_output(wait=True)\nprint('清除后')",
    f"display({{'image/png': {PNG!r}, 'text/plain': '<图>'}}, raw=True,"
    " metadata={'image/png': {'width': 1}})",
    "{'a': 1}",
    "raise ValueError('故意失败')",
]


def _source(tmp_path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    nb.cells[0].metadata["tags"] = ["parameters"]
    source = tmp_path / "in.ipynb"
    nbformat.write(nb, source)
    return source


def _stock(tmp_path) -> dict:
    source, out = _source(tmp_path), tmp_path / "stock.ipynb"
    with pytest.raises(PapermillExecutionError, match="故意失败"):
        pm.execute_notebook(
            str(source),
            str(out),
            parameters={"x": 1},
            kernel_name="python3",
            engine_name="nbclient",
            progress_bar=False,
            request_save_on_cell_execute=False,
            cwd=str(tmp_path),
        )
    return json.loads(out.read_text(encoding="utf-8"))


def _ours(tmp_path) -> dict:
    source, out = _source(tmp_path), tmp_path / "ours.ipynb"
    nb = prepare_notebook(source, out, {"x": 1}, (None, None))
    with pytest.raises(PapermillExecutionError, match="故意失败") as exc:
        execute_notebook(nb, out, None, tmp_path)
    assert exc.value.ename == "ValueError"
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.xdist_group("runner")
@pytest.mark.parametrize("stock", [False, True], ids=["patched", "stock"])
def test_runner_executes_like_papermills_engine(tmp_path, monkeypatch, stock):
    if stock:
        monkeypatch.setenv(patches.STOCK_ENV, "1")
    ours = _ours(tmp_path)
    theirs = _stock(tmp_path)
    # + the injected parameters, papermill's error banner at the top and its marker above the
    # failing cell
    assert len(ours["cells"]) == len(theirs["cells"]) == len(CELLS) + 3
    for a, b in zip(ours["cells"], theirs["cells"], strict=True):
        assert a.get("outputs") == b.get("outputs")
        assert a.get("execution_count") == b.get("execution_count")
        assert a["metadata"].get("tags") == b["metadata"].get("tags")
        pa, pb = a["metadata"].get("papermill", {}), b["metadata"].get("papermill", {})
        assert (pa.get("status"), pa.get("exception")) == (pb.get("status"), pb.get("exception"))
    pa, pb = ours["metadata"]["papermill"], theirs["metadata"]["papermill"]
    assert {k: pa[k] for k in ("parameters", "exception", "input_path")} == {
        "parameters": {"x": 1},
        "exception": True,
        "input_path": pb["input_path"],
    }
    assert pb["exception"] is True and ours["metadata"]["language_info"]["name"] == "python"
    shown = [c["outputs"] for c in ours["cells"] if c["cell_type"] == "code"]
    assert "".join(shown[2][0]["data"]["text/markdown"]) == "**第二版**"  # updated in place
    assert ["".join(o["text"]) for o in shown[4]] == ["清除后\n"]  # cleared before the next output
    assert shown[7][0]["output_type"] == "error"
    # durations are end - start of each executed cell, as papermill computes them
    executed = [c for c in ours["cells"] if c["metadata"].get("papermill", {}).get("start_time")]
    assert len(executed) == len(CELLS) + 1
    for cell in executed:
        pmeta = cell["metadata"]["papermill"]
        start = dt.datetime.fromisoformat(pmeta["start_time"])
        end = dt.datetime.fromisoformat(pmeta["end_time"])
        assert pmeta["duration"] == (end - start).total_seconds() >= 0


def test_stock_switch_restores_nbformats_outputs(monkeypatch):
    from nbclient import client

    try:
        monkeypatch.setenv(patches.STOCK_ENV, "1")
        assert patches.install_fast_outputs() is False
        assert client.output_from_msg is nbformat.v4.output_from_msg
        monkeypatch.delenv(patches.STOCK_ENV)
        assert patches.install_fast_outputs() is True
        assert client.output_from_msg is output_from_msg
    finally:
        patches.install_fast_outputs()
