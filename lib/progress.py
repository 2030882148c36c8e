"""A progress display that fits where the run is watched.

Three contexts, detected by :func:`display_mode` (``THESIS_PROGRESS`` overrides it):

- ``bar``: a terminal (stdout is a TTY, the command line): a tqdm bar redrawn in place, with one
  line of metrics per epoch printed above it;
- ``live``: a notebook open in a person's frontend (JupyterLab, VS Code): a live ``tqdm.auto`` bar
  (a widget where ipywidgets is installed) whose postfix holds the epoch, the loss and the last kNN;
- ``lines``: anywhere the output is saved rather than watched (a notebook executed by papermill or
  ``jupyter nbconvert --execute``, the report runner, the plain engine writing a log): one plain
  line per epoch, since carriage-return redraws and widgets turn into noise or vanish there.

A kernel tells a person's frontend from a headless executor by the execute request: JupyterLab
and VS Code allow ``input()`` (``allow_stdin``), nbclient, which papermill and nbconvert drive,
does not. ``THESIS_PROGRESS=bar|live|lines|off`` forces a mode wherever the guess is wrong.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

PROGRESS_ENV = "THESIS_PROGRESS"
MODES = ("bar", "live", "lines", "off")


def _format(metrics: dict[str, Any]) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key} {value:.4g}")
        elif value is not None:
            parts.append(f"{key} {value}")
    return "  ".join(parts)


def _postfix(metrics: dict[str, Any], epochs: int | None) -> str:
    """The live bar's postfix: ``epoch 3/20  loss 5.262  kNN 63.0 %`` (what is known so far)."""
    parts = []
    if "epoch" in metrics:
        parts.append(f"epoch {metrics['epoch']}" + (f"/{epochs}" if epochs else ""))
    if isinstance(metrics.get("loss"), float):
        parts.append(f"loss {metrics['loss']:.4g}")
    from .evaluation import SHORT_NAMES  # torch comes with it: only once a bar shows a score

    for key in ("knn_top1", "test_top1"):
        if isinstance(metrics.get(key), float):
            parts.append(f"{SHORT_NAMES[key]} {100 * metrics[key]:.1f} %")
    return "  ".join(parts)


def jupyter_frontend() -> bool | None:
    """None outside a Jupyter kernel; inside one, whether the cell being executed came from a
    frontend that a person uses (it allows ``input()``) rather than a headless executor."""
    ipython = sys.modules.get("IPython")  # never imported here: a plain script has no kernel
    shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    # ipykernel keeps the current execute request's allow_stdin on the kernel (what input() checks);
    # without it (another kernel), assume a headless executor: lines are readable everywhere.
    return bool(getattr(kernel, "_allow_stdin", False))


def display_mode(stream=None) -> str:
    """``bar``, ``live``, ``lines`` or ``off`` for a display writing to ``stream`` (default stdout)."""
    forced = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if forced:
        if forced not in MODES:
            raise ValueError(f"{PROGRESS_ENV}={forced!r}: choose one of {', '.join(MODES)}")
        return forced
    frontend = jupyter_frontend()
    if frontend is not None:
        return "live" if frontend else "lines"
    stream = stream or sys.stdout
    return "bar" if hasattr(stream, "isatty") and stream.isatty() else "lines"


class Progress:
    """``with Progress(total_steps, enabled) as p: p.step(); p.epoch_end(metrics)``.

    ``epochs`` (optional) is shown as the denominator of the live bar's epoch."""

    def __init__(self, total_steps: int, enabled: bool = True, description: str = "", stream=None,
                 epochs: int | None = None):
        self.total = total_steps
        self.description = description
        self.epochs = epochs
        self.stream = stream or sys.stdout
        self.mode = display_mode(self.stream) if enabled else "off"
        self.enabled = self.mode != "off"
        self.interactive = self.mode in ("bar", "live")
        self._bar = None
        self._start = time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.description, file=self.stream,
                             dynamic_ncols=True, leave=True)
        elif self.mode == "live":
            with warnings.catch_warnings():
                # Without ipywidgets tqdm.auto warns "IProgress not found" and draws a text bar, which
                # JupyterLab also redraws in place: the bar still moves, the warning would only be noise.
                warnings.filterwarnings("ignore", message="IProgress not found")
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.total, desc=self.description, leave=True)
        return self

    def step(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def epoch_end(self, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.mode == "live":
            self._bar.set_postfix_str(_postfix(metrics, self.epochs), refresh=True)
            return
        text = _format(metrics)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
            self._bar.write(f"{self.description} {text}".strip(), file=self.stream)
        else:
            elapsed = time.perf_counter() - self._start
            print(f"{self.description} [{elapsed:7.1f} s] {text}".strip(), file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
