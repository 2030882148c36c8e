"""A progress display that behaves in a terminal, a notebook and a log file.

In a terminal (stdout is a TTY) a tqdm bar is redrawn in place. Anywhere else — a log file, a
notebook executed by papermill, JupyterLab — carriage-return redraws and widgets turn into
noise or vanish from the saved output, so one plain line is printed per epoch instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _format(metrics: dict[str, Any]) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key} {value:.4g}")
        elif value is not None:
            parts.append(f"{key} {value}")
    return "  ".join(parts)


class Progress:
    """``with Progress(total_steps, enabled) as p: p.step(); p.epoch_end(metrics)``."""

    def __init__(self, total_steps: int, enabled: bool = True, description: str = "", stream=None):
        self.total = total_steps
        self.enabled = enabled
        self.description = description
        self.stream = stream or sys.stdout
        self.interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar = None
        self._start = time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.description, file=self.stream,
                             dynamic_ncols=True, leave=True)
        return self

    def step(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def epoch_end(self, metrics: dict[str, Any]) -> None:
        if not self.enabled:
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
