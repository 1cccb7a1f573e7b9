"""Runs INSIDE the report kernel: bring a reused (warm) kernel back to the state of a fresh one.

The runner prepends a cell tagged ``runner-reset`` to every notebook it executes (fresh kernels
too, so both paths run the same code). That cell clears the user namespace
(:func:`clear_namespace`, the part of ``%reset -f`` a notebook needs) and calls
:func:`reset_kernel_state`; imported modules stay loaded, which is what makes a warm kernel
fast. After the notebook, a cell tagged ``runner-collect`` writes the disclosure audit the report
collected (outside ``reports/``). Both cells are removed from the HTML.

Module-level caches are deliberately not cleared: the files :mod:`helpers.load` read and the
province-wide results :mod:`helpers.memo` keeps are keyed by the data they come from (file
identity, reporting date, policy), hold no report's state, and are what lets the second report of
a kernel skip the province's computations. Another date or a rewritten file is another key.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import warnings

_BASELINE: dict = {}

# Imported before every report, on fresh and warm kernels alike, so that both start from the same
# set of loaded modules (imports can add warnings filters and rc settings) and the first report of
# a kernel is not slower than the others.
PRELOAD = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "helpers.config",
    "helpers.charts",
    "helpers.load",
    "helpers.tables",
)


def reset_kernel_state(cwd: str) -> None:
    """Working directory, warnings filters, pandas options, matplotlib figures and style, audit."""
    os.chdir(cwd)
    for name in PRELOAD:
        importlib.import_module(name)
    if "filters" not in _BASELINE:
        _BASELINE["filters"] = list(warnings.filters)
    else:
        warnings.filters[:] = _BASELINE["filters"]
        warnings._filters_mutated()  # type: ignore[attr-defined]  # invalidate the warn-once cache
    # What is alive now lives as long as the kernel: the preloaded modules and, from the second
    # report on, the caches of helpers.load and helpers.memo. Collect the previous report's garbage
    # (its namespace was just cleared), then keep the rest out of every later collection: the
    # collections during a report walk only what the report allocates. (A frozen object that
    # becomes cyclic garbage later, e.g. a memo entry evicted, is not collected: kernels of a
    # period run live for one run, and evictions happen only when the data change.)
    gc.collect()
    gc.freeze()
    if "pandas" in sys.modules:
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.reset_option("all")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    if "matplotlib" in sys.modules:
        sys.modules[
            "matplotlib"
        ].rc_file_defaults()  # what a fresh kernel starts with (backend kept)
    if "helpers.charts" in sys.modules:
        sys.modules["helpers.charts"].use_house_style()
    if "helpers.tables" in sys.modules:  # tables without row numbers or cut cells
        sys.modules["helpers.tables"].install_display_formatter()
    if "helpers.disclosure" in sys.modules:
        sys.modules["helpers.disclosure"].reset_audit()


def clear_namespace() -> None:
    """Delete every user variable (what ``%reset -f`` does for a notebook, without its full
    garbage collection and re-initialisation, which cost a quarter of a second per report)."""
    from IPython import get_ipython

    ip = get_ipython()
    ns, hidden = ip.user_ns, ip.user_ns_hidden
    for name in [n for n in ns if n not in hidden]:
        del ns[name]
    out = ns.get("Out")
    if isinstance(out, dict):
        out.clear()  # output history holds the previous report's frames and figures
    for name in ("_", "__", "___"):
        ns[name] = ""


def reset_cell_source(cwd: str) -> str:
    """Source of the ``runner-reset`` cell."""
    return (
        "# Runner: clear the kernel before this report (kernels are reused between reports).\n"
        "from helpers.runner.kernel import clear_namespace\n"
        "clear_namespace()  # removes every user name, this import included\n"
        "from helpers.runner.kernel import reset_kernel_state\n"
        f"reset_kernel_state({cwd!r})\n"
        "del reset_kernel_state\n"
        "get_ipython().execution_count = 2\n"
    )


def collect_audit(data_dir: str, as_of: str, report: str, university: str | None) -> None:
    """Write the disclosure audit this report collected (if the notebook did not flush it itself)."""
    disclosure = sys.modules.get("helpers.disclosure")
    if disclosure is None:
        return
    from helpers.config import parse_as_of

    as_of = parse_as_of(as_of)  # the cell passes the notebook's text parameter: an edge
    path = disclosure.audit_dir(data_dir, as_of) / (
        f"{report}-{university}.parquet" if university else f"{report}.parquet"
    )
    if len(disclosure.audit_frame()) or not path.exists():
        disclosure.flush_audit(data_dir, as_of, report, university)


def collect_cell_source(data_dir: str, as_of: str, report: str, university: str | None) -> str:
    """Source of the ``runner-collect`` cell."""
    return (
        "# Runner: keep the disclosure audit of this report (written under data/, never reports/).\n"
        "from helpers.runner.kernel import collect_audit as _runner_collect\n"
        f"_runner_collect({data_dir!r}, {as_of!r}, {report!r}, {university!r})\n"
        "del _runner_collect\n"
    )
