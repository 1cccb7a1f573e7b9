"""Period runs: papermill on warm kernels, nbconvert HTML with the project template, the index.

``from helpers.runner import run_period`` (see :mod:`helpers.runner.period`). The import is lazy:
report kernels import :mod:`helpers.runner.kernel` and must not pay for papermill and nbconvert.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

# The data-quality tables' Chinese titles and headers (helpers.tables.HEADER_MODULES lists us).
from helpers.runner import quality as _quality  # noqa: F401

# nbformat's validator imports jsonschema, which compiles an IRI grammar with lark on import when
# the optional rfc3987_syntax is installed (it comes with the Jupyter server's dependencies): about
# 1 s of CPU in every process that imports nbformat (a period run's main process and each worker).
# Notebooks are validated without string-format checks, so the grammar would never be used;
# jsonschema skips the IRI formats when the import fails.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from helpers.runner.period import run_period

__all__ = ["run_period"]


def __getattr__(name: str):
    if name == "run_period":
        from helpers.runner.period import run_period

        return run_period
    raise AttributeError(f"module 'helpers.runner' has no attribute {name!r}")
