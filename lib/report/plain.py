"""Run a notebook's code cells in this Python process, without Jupyter: for GPU machines.

A GPU machine lent for a short time may have PyTorch but none of Jupyter's packages (papermill,
ipykernel, nbconvert). What it must produce there is the expensive part of a notebook, its run
records; the report page can be rendered later, anywhere, from those records (``python -m
lib.report --require-records``). So this runner reads the notebook as JSON, runs the cell tagged
``parameters``, then the values papermill would inject, then every other code cell, in order, in
one namespace, as papermill would in a kernel:

- IPython magics and shell escapes (lines starting with ``%`` or ``!``) are skipped;
- ``display(x)`` prints ``x`` (a DataFrame as text);
- figures are drawn with matplotlib's non-interactive Agg backend and closed after every cell;
- the working folder is the notebook's folder, as under the report runner.

The first failing cell stops the notebook; its traceback is printed and the result says which cell
failed. Used through ``python -m lib.report --engine plain``.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..paths import CHECKOUT
from .params import PARAMETERS_TAG, read_notebook


@dataclass
class PlainResult:
    """What running one notebook's cells gave: "ok", or "failed" with the failing cell's error."""

    stem: str
    status: str
    error: str | None
    wall_time_s: float
    cells_run: int
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> loaded or trained (the runner's run log)


def runnable_source(source: str) -> str:
    """The cell without IPython magics and shell escapes (``%...``, ``!...``), which plain Python
    cannot run; blank lines keep the line numbers of tracebacks."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def injected_source(values: Mapping[str, Any]) -> str:
    """The assignments papermill would inject after the parameters cell."""
    return "\n".join(f"{name} = {value!r}" for name, value in values.items())


def _display(*objects: Any, **_: Any) -> None:
    for obj in objects:
        to_string = getattr(obj, "to_string", None)
        print(to_string() if callable(to_string) else obj)


def execute_plain(source: str | Path, values: Mapping[str, Any], echo=print) -> PlainResult:
    """Run the notebook at ``source`` with the parameter ``values``; never raises for a cell error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = Path(source)
    nb = read_notebook(source)
    namespace: dict[str, Any] = {"__name__": "__main__", "display": _display}
    cwd, start, ran = Path.cwd(), time.perf_counter(), 0
    os.chdir(source.parent)
    sys.path.insert(0, str(CHECKOUT))  # the runner's checkout: `from lib import ...` as in a kernel (lib.report.kernels)
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            code = runnable_source(cell.source)
            if PARAMETERS_TAG in cell.metadata.get("tags", []):
                code += "\n" + injected_source(values)
            try:
                exec(compile(code, f"{source.name} cell {index}", "exec"), namespace)
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                echo(traceback.format_exc(), flush=True)
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return PlainResult(source.stem, "failed", f"{type(exc).__name__}: {message} (cell {index})",
                                   round(time.perf_counter() - start, 1), ran)
            finally:
                plt.close("all")
            ran += 1
    finally:
        os.chdir(cwd)
        sys.path.remove(str(CHECKOUT))
    return PlainResult(source.stem, "ok", None, round(time.perf_counter() - start, 1), ran)
