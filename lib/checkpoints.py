"""Checkpoints: the complete state of a run, written atomically, loaded safely.

A checkpoint holds the model, the optimizer, the epoch and step reached, the metrics logged so
far and every random number generator state (torch CPU and device generators, Python, NumPy),
stored as plain types so that ``torch.load(weights_only=True)`` can read it: a crafted file
cannot execute code. The last ``keep`` epoch checkpoints are kept; a truncated or foreign file
is reported in one line naming it, and the previous good checkpoint is used instead.
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .records import atomic_write_bytes

EPOCH_PATTERN = re.compile(r"^epoch(\d+)\.pt$")
FINAL_NAME = "final.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (truncated, corrupt, foreign or from another config)."""


def save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load(path: Path, map_location="cpu") -> dict[str, Any]:
    """Load with ``weights_only=True``; any failure becomes a one-line CheckpointError naming the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line report
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable ({first[:200]})") from None
    if not isinstance(state, dict) or "model" not in state or "config_hash" not in state:
        raise CheckpointError(f"checkpoint {path} is not a checkpoint of this project")
    return state


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random number generator state as tensors and plain types."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "generator": generator.get_state(),
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }


def restore_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_cpu"])
    if state["torch_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def epoch_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the epoch checkpoints in a directory, oldest first."""
    found = []
    if Path(directory).is_dir():
        for path in Path(directory).iterdir():
            match = EPOCH_PATTERN.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
    return sorted(found)


def save_epoch(directory: Path, epoch: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``epoch<N>.pt`` atomically and delete all but the newest ``keep`` ones."""
    path = Path(directory) / f"epoch{epoch:04d}.pt"
    save(path, state)
    for _, old in epoch_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def latest_good(directory: Path, config_hash: str, identity: dict[str, Any] | None = None,
                warn=print) -> dict[str, Any] | None:
    """The newest readable checkpoint of this config, skipping (and reporting) bad ones.

    A checkpoint written by a different config is refused with the differing keys listed.
    """
    for _, path in reversed(epoch_checkpoints(directory)):
        try:
            state = load(path)
        except CheckpointError as e:
            warn(f"warning: {e}; trying the previous checkpoint")
            continue
        check_config(state, config_hash, path, identity)
        return state
    return None


def check_config(state: dict[str, Any], config_hash: str, path: Path,
                 config: dict[str, Any] | None = None) -> None:
    if state.get("config_hash") != config_hash:
        differing = ""
        if config is not None and isinstance(state.get("config"), dict):
            keys = sorted(k for k in set(config) | set(state["config"])
                          if config.get(k) != state["config"].get(k))
            differing = f"; differing keys: {', '.join(keys)}"
        raise CheckpointError(f"checkpoint {path} belongs to a different config{differing}")
