"""Checkpoints: the complete state of a run, written atomically, loaded safely.

A checkpoint holds the model, the optimizer, the epoch and step reached, the metrics logged so
far and every random number generator state (torch CPU and device generators, Python, NumPy),
stored as plain types so that ``torch.load(weights_only=True)`` can read it: a crafted file
cannot execute code. The last ``keep`` epoch checkpoints are kept; a truncated, foreign or
crafted file, or one of another config, is reported in one line naming it, and the previous good
checkpoint is used instead (with none left, the run starts over).
"""

from __future__ import annotations

import io
import pickle
import random
import re
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .records import atomic_write_bytes

EPOCH_PATTERN = re.compile(r"^epoch(\d+)\.pt$")
FINAL_NAME = "final.pt"
EPOCH_KEYS = ("model", "optimizer", "epoch", "metrics", "rng", "config_hash")  # what a resume reads


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used (truncated, corrupt, foreign or from another config)."""


def save(path: Path, state: dict[str, Any]) -> None:
    """Written by the run's lock holder (its temporaries are the ones a later holder may sweep)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue(), locked=True)


def refused(path: Path) -> str:
    """The sentence for a file that ``weights_only`` loading refused, or that is not ours. PyTorch's own
    message goes on to suggest loading with ``weights_only=False``, which would run a crafted file's code."""
    return f"not a checkpoint of this project (refused, nothing executed): {path}"


def load(path: Path, map_location="cpu") -> dict[str, Any]:
    """Load with ``weights_only=True``; any failure becomes a one-line CheckpointError naming the file."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # PyTorch warns of a pickle protocol other than its own before it refuses such a file: a
            # file torch.save did not write, which the refusal below names in our own sentence.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # a pickle that needs more than tensors and plain types, or random bytes
        raise CheckpointError(refused(path)) from None
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line report
        first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({first[:120]})") from None
    if not isinstance(state, dict) or "model" not in state or "config_hash" not in state:
        raise CheckpointError(refused(path))
    return state


def check_keys(state: dict[str, Any], path: Path, keys: tuple[str, ...] = EPOCH_KEYS) -> None:
    """A CheckpointError naming the file unless ``state`` has every one of ``keys``."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(map(repr, missing))} "
                              "(written by another version of this code, or edited)")


def check_model(state: dict[str, Any], path: Path, reference: dict[str, torch.Tensor]) -> None:
    """A CheckpointError naming the file unless ``state["model"]`` has the names and shapes of
    ``reference`` (a model's ``state_dict()``), so that loading it cannot fail half-way."""
    model = state.get("model")
    if not isinstance(model, dict) or set(model) != set(reference) or any(
            not isinstance(model[k], torch.Tensor) or model[k].shape != v.shape for k, v in reference.items()):
        raise CheckpointError(f"checkpoint {path} holds the weights of another model")


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
                warn=print, check: Callable[[dict[str, Any], Path], None] | None = None) -> dict[str, Any] | None:
    """The newest usable epoch checkpoint of this config, skipping (and reporting, one line each) the
    others: unreadable, refused, written by a different config (the differing keys listed), or failing
    ``check`` (which raises CheckpointError). None when none is left: the run starts over."""
    found = list(reversed(epoch_checkpoints(directory)))
    for i, (_, path) in enumerate(found):
        try:
            state = load(path)
            check_config(state, config_hash, path, identity)
            if check is not None:
                check(state, path)
        except CheckpointError as e:
            warn(f"warning: {e}; " + ("trying the previous checkpoint" if i + 1 < len(found)
                                      else "no usable checkpoint is left: starting over"))
            continue
        return state
    return None


def final_weights(directory: Path, config_hash: str, epochs: int, warn=print) -> dict[str, Any] | None:
    """The final weights of a finished run: ``final.pt``, or, when it is unusable, the checkpoint of the
    last epoch, which holds the same weights. None when neither is usable (or present)."""
    candidates = [Path(directory) / FINAL_NAME, Path(directory) / f"epoch{epochs:04d}.pt"]
    for i, path in enumerate(candidates):
        if not path.exists():
            continue
        try:
            state = load(path)
            check_config(state, config_hash, path)
        except CheckpointError as e:
            warn(f"warning: {e}" + ("; trying the checkpoint of the last epoch" if i == 0 and candidates[1].exists()
                                    else ""))
            continue
        if i:
            warn(f"using the weights of {path} (the last epoch's checkpoint holds the final weights)")
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
