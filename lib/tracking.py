"""Weights & Biases tracking that never blocks a run.

``wandb`` is ``disabled`` (the default), ``offline`` (written under the run's directory, to be
uploaded later with ``wandb sync <dir>``) or ``online``. When wandb is missing, has no API key
or cannot reach its server, the run goes on untracked after a short timeout with one warning.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .config import Config

INIT_TIMEOUT_S = 30
PROJECT = os.environ.get("WANDB_PROJECT", "contrastive-metric-thesis")


class Tracker:
    def __init__(self, config: Config, directory: Path):
        self.run = None
        if config.wandb == "disabled":
            return
        try:
            import wandb

            self.run = wandb.init(
                project=PROJECT, name=config.run_id(), id=config.run_id(), resume="allow",
                config=config.to_dict(), mode=config.wandb, dir=str(directory), job_type=config.task,
                settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S, silent=True, console="off"))
        except Exception as e:  # noqa: BLE001 - tracking must never stop a run
            warnings.warn(f"wandb ({config.wandb}) unavailable, continuing untracked: "
                          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", stacklevel=2)
            self.run = None

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self.run is not None:
            try:
                self.run.log(metrics, step=step)
            except Exception as e:  # noqa: BLE001
                self._drop(e)

    def finish(self, results: dict[str, Any], failed: bool = False) -> None:
        if self.run is None:
            return
        try:
            self.run.summary.update(results)
            self.run.finish(exit_code=1 if failed else 0)
        except Exception as e:  # noqa: BLE001
            self._drop(e)
        self.run = None

    def _drop(self, error: Exception) -> None:
        warnings.warn(f"wandb failed, continuing untracked: {type(error).__name__}: {error}", stacklevel=3)
        self.run = None
