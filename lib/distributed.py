"""Data-parallel training over processes started by ``torchrun``.

SimCLR trains with large batches spread over many accelerators: "we train with batch size N
... 4096" and "we aggregate BN mean and variance over all devices during the training" (Chen
et al. 2020, Sections 2.2 and "Global BN"). Here every process holds a slice of the global
batch and the run computes the same mathematics as one process with the whole batch:

- data: every process draws the same global permutation (one seeded generator) and takes its
  own contiguous block of each global batch (:func:`shard`), so the blocks are disjoint and
  their concatenation in rank order is the single-process batch;
- gradients: ``DistributedDataParallel`` averages them over processes;
- contrastive negatives: :class:`TorchGather` concatenates the embeddings of every process with
  gradient flowing back (an all-reduce in the backward pass), which with DDP's averaging gives
  exactly the gradient of the global loss (see :mod:`lib.losses`);
- batch norm: synchronised across processes on CUDA (``SyncBatchNorm``); PyTorch supports it
  on GPUs only, so a CPU (gloo) run normalises each process's slice separately.

Everything here is a no-op in a single process: without torchrun's environment nothing touches
``torch.distributed``. Launch, one node or several::

    torchrun --standalone --nproc-per-node 4 -m lib pretrain --config configs/x.toml
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m lib pretrain ...

From Python (a notebook), :func:`launch` runs one config that way and returns its record;
``training.run`` does so by itself when ``THESIS_NPROC`` is set (see :func:`requested_processes`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor

if TYPE_CHECKING:
    from .config import Config
    from .records import RunRecord

__all__ = [
    "init_from_env",
    "cleanup",
    "is_initialized",
    "rank",
    "world_size",
    "is_main",
    "barrier",
    "process_device",
    "local_batch_size",
    "shard",
    "Processes",
    "augmentation_seed",
    "wrap",
    "all_reduce_mean",
    "all_reduce_sum",
    "broadcast_object",
    "describe",
    "TorchGather",
    "requested_processes",
    "launch",
]

TIMEOUT = _dt.timedelta(minutes=30)  # rank 0 evaluates alone while the others wait at the next collective
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
NPROC_VARIABLE = "THESIS_NPROC"  # processes per training run started from Python (training.run)

T = TypeVar("T")


# ---- the process group -------------------------------------------------------------------------

def init_from_env(device: str = "auto") -> int:
    """Join the process group that torchrun describes in the environment; returns the world size.

    Without ``WORLD_SIZE`` (a plain ``python -m lib ...``) or with ``WORLD_SIZE=1`` this does
    nothing and returns 1. Otherwise the backend is NCCL when the run uses CUDA (``device``
    'cuda', or 'auto' with a GPU present; each process then uses GPU ``LOCAL_RANK``) and gloo
    on the CPU. torchrun's rendezvous options (``--nnodes``, ``--node-rank``, ``--rdzv-*``)
    only change the environment, so one node and several are the same code.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of 'auto', 'cpu', 'cuda'; got {device!r}")
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 1
    if is_initialized():
        return world_size()
    missing = [v for v in TORCHRUN_VARIABLES if v not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={size} but {', '.join(missing)} not set: launch with torchrun")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local} but only {torch.cuda.device_count()} CUDA devices are visible; "
                             f"use --nproc-per-node <= {torch.cuda.device_count()}")
        torch.cuda.set_device(local)
        dist.init_process_group("nccl", init_method="env://", timeout=TIMEOUT,
                                device_id=torch.device("cuda", local))
    else:
        dist.init_process_group("gloo", init_method="env://", timeout=TIMEOUT)
    return world_size()


def cleanup() -> None:
    """Leave the process group (if any)."""
    if is_initialized():
        dist.destroy_process_group()


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the process that logs, tracks and writes records and checkpoints."""
    return rank() == 0


def _backend() -> str | None:
    return str(dist.get_backend()) if is_initialized() else None


def barrier() -> None:
    if world_size() > 1:
        if _backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def process_device(device: torch.device) -> torch.device:
    """This process's device: GPU ``LOCAL_RANK`` for a distributed CUDA run, else ``device``."""
    if device.type == "cuda" and world_size() > 1:
        return torch.device("cuda", torch.cuda.current_device())
    return device


# ---- data --------------------------------------------------------------------------------------

def local_batch_size(batch_size: int, world: int) -> int:
    """Images per process per step: the global ``batch_size`` split evenly over ``world`` processes.

    ``batch_size`` is the global batch everywhere (the run's identity and SimCLR's learning-rate
    scaling "LearningRate = 0.3 x BatchSize/256" use it), whatever the number of processes.
    """
    if world < 1:
        raise ValueError(f"world size must be >= 1, got {world}")
    if batch_size % world:
        raise ValueError(f"batch_size={batch_size} (the global batch) must be divisible by the "
                         f"{world} processes of this run")
    return batch_size // world


def shard(indices: Tensor, rank: int, world: int) -> Tensor:
    """Rank ``rank``'s contiguous block of a global batch of indices.

    The blocks of ranks 0..world-1 are disjoint and concatenate, in rank order, to ``indices``:
    the order in which :class:`TorchGather` concatenates the embeddings.
    """
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, world={world}), got {rank}")
    n = local_batch_size(len(indices), world)
    return indices[rank * n:(rank + 1) * n]


def augmentation_seed(seed: int, rank: int, epoch: int) -> int:
    """Seed of rank ``rank``'s augmentation stream in ``epoch``: independent across ranks and
    epochs, and recomputable, so a resumed run draws the same views without storing each
    process's generator state."""
    return int(np.random.SeedSequence([seed, rank, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class Processes:
    """The processes that train one run, as the training loop sees them: which one this is, its
    block of every global batch, its augmentation stream, and the collective steps of an epoch.
    In one process (rank 0 of 1) every step is the identity and nothing is communicated."""

    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> "Processes":
        return cls(rank(), world_size())

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates, logs and writes the record and checkpoints."""
        return self.rank == 0

    def block(self, indices: Tensor) -> Tensor:
        """This process's block of a global batch of indices (:func:`shard`)."""
        return shard(indices, self.rank, self.world) if self.world > 1 else indices

    def reseed(self, generator: torch.Generator | None, seed: int, epoch: int) -> None:
        """Reseed this process's own augmentation generator for ``epoch`` (None: one process, which
        draws its views from the data-order generator)."""
        if generator is not None:
            generator.manual_seed(augmentation_seed(seed, self.rank, epoch))

    def mean(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each 0-dim metric averaged over the processes (:func:`all_reduce_mean`)."""
        return all_reduce_mean(values)

    def from_main(self, obj: T) -> T:
        """Rank 0's ``obj`` on every process (:func:`broadcast_object`)."""
        return broadcast_object(obj)

    def wait(self) -> None:
        barrier()


# ---- models and collectives --------------------------------------------------------------------

def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The module to call in training steps: ``model`` itself in one process, else DDP around it.

    On CUDA the batch norm layers become ``SyncBatchNorm`` first, SimCLR's global BN: "we
    aggregate BN mean and variance over all devices during the training" (Chen et al. 2020).
    The conversion swaps ``model``'s children in place, so ``model`` (used for evaluation and
    checkpoints) and the returned wrapper share every parameter.
    """
    if world_size() == 1:
        return model
    if device.type == "cuda":
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if converted is not model:
            raise ValueError("wrap() needs a model that contains its batch norm layers, not one that is one")
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum over processes (a copy; ``t`` itself in one process). No gradient."""
    if world_size() == 1:
        return t
    t = t.detach().clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean(values: dict[str, Tensor]) -> dict[str, Tensor]:
    """Mean over processes of each 0-dim metric, in one collective."""
    if world_size() == 1 or not values:
        return values
    keys = sorted(values)
    stacked = all_reduce_sum(torch.stack([values[k].detach().float() for k in keys]))  # (K,)
    return {k: v for k, v in zip(keys, stacked / world_size())}


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` of rank ``src`` on every rank (any picklable object)."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def describe(device: torch.device) -> dict[str, Any]:
    """What a run record notes about the process group (nothing for one process)."""
    if world_size() == 1:
        return {}
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size()))
    return {"backend": _backend(), "nodes": max(1, world_size() // local),
            "sync_batchnorm": device.type == "cuda"}


class _AllGather(torch.autograd.Function):
    """``t`` of every rank concatenated along dim 0; the backward pass all-reduces (sums) the
    gradient of the concatenation and returns this rank's rows, so every rank's input gets the
    gradient of every rank's loss."""

    @staticmethod
    def forward(ctx, t: Tensor, group) -> Tensor:
        ctx.group = group
        ctx.rank, ctx.rows = dist.get_rank(group), t.shape[0]
        out = t.new_empty((dist.get_world_size(group) * t.shape[0], *t.shape[1:]))  # (W*n, ...)
        dist.all_gather_single(out, t.contiguous(), group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.clone(memory_format=torch.contiguous_format)  # (W*n, ...)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows], None


class TorchGather:
    """:class:`lib.losses.Gather` over ``torch.distributed``.

    ``all_gather(t)`` concatenates ``t`` of every rank in rank order. For tensors that need a
    gradient, the backward pass sums the gradients of all ranks' losses with respect to this
    rank's rows. With DDP averaging parameter gradients over the W ranks, each rank's loss being
    the mean over its own anchors, the update is exactly that of the loss on the global batch:
    d/dθ (1/W) Σ_s L_s = (1/W) Σ_r Σ_s ∂L_s/∂z_r · ∂z_r/∂θ. (Gathering without gradient, as
    several public implementations did, loses the Σ_s over other ranks' losses.)
    """

    def __init__(self, group=None):
        if not is_initialized():
            raise ValueError("TorchGather needs an initialised process group (torch.distributed)")
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)

    def all_gather(self, t: Tensor) -> Tensor:
        if t.requires_grad:
            return _AllGather.apply(t, self.group)
        out = t.new_empty((self.world_size * t.shape[0], *t.shape[1:]))  # (W*n, ...)
        dist.all_gather_single(out, t.contiguous(), group=self.group)
        return out


# ---- starting torchrun from Python --------------------------------------------------------------

def requested_processes() -> int:
    """Processes that ``training.run`` should start for a run: ``$THESIS_NPROC`` (default 1).

    Set it for a notebook or a report run, e.g. ``THESIS_NPROC=4 make report PROFILE=full``: each
    training step of the notebooks then runs through :func:`launch` on 4 GPUs of this machine.
    """
    text = os.environ.get(NPROC_VARIABLE, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{NPROC_VARIABLE} must be a whole number >= 1 (processes per run), got {text!r}")
    return int(text)


def launch(config: Config, nproc_per_node: int, force: bool = False) -> RunRecord:
    """Train ``config`` with ``torchrun --standalone --nproc-per-node N`` on this machine; its record.

    The config travels as a JSON file (with ``runs_dir`` made absolute) to
    ``python -m lib <task> --config``; the processes' output is printed line by line (so it
    shows in a notebook cell), and a failed run raises with its last lines.
    """
    from .records import load_record

    if isinstance(nproc_per_node, bool) or not isinstance(nproc_per_node, int) or nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be an int >= 1, got {nproc_per_node!r}")
    config = config.replace(runs_dir=str(config.resolved_runs_dir().resolve()))
    env = {k: v for k, v in os.environ.items() if k != NPROC_VARIABLE}
    tail: deque[str] = deque(maxlen=20)
    with tempfile.TemporaryDirectory(prefix="torchrun-config-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config.to_dict()))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc_per_node}",
               "-m", "lib", config.task, "--config", str(path), *(["--force"] if force else [])]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
            for line in proc.stdout:
                print(line, end="", flush=True)
                tail.append(line)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun with {nproc_per_node} processes failed (exit {proc.returncode}) for "
                           f"{config.run_id()}:\n" + "".join(tail))
    return load_record(config.resolved_runs_dir() / config.run_id())
