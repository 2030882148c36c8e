"""Speed switches of the SimCLR training step, and a step built with them for profiling and A/B timing.

A switch changes how fast a step runs, never what it computes: each one is tested on the CPU for
equal losses, gradients or metrics (``tests/test_step_options.py``, every tolerance named there).
None of them is part of a run's identity (``Config.identity``): a run takes them through runtime
fields, left out of its hash (``compile``, ``precision``, and ``speed`` for ``foreach_lars`` and
``cuda_graphs``), so no run id changes.

The switches (:data:`SWITCHES`), each on or off in :class:`StepOptions`:

- ``channels_last``: NHWC layout of the model and its input (on in ``lib.training``'s step);
- ``bf16``: bf16 autocast of the model, the loss in fp32 (on in ``lib.training``'s step on CUDA);
- ``compile``: ``torch.compile`` of the model (the config's ``compile``);
- ``foreach_lars``: LARS writing its update into the gradients (``optim.LARS(inplace=True)``);
- ``no_host_sync``: step metrics summed on the device, read once per epoch (on in ``lib.training``);
  off, every step reads its loss and accuracy with ``.item()``, as a naive loop does;
- ``cuda_graphs``: ``torch.compile(mode="reduce-overhead")``, which replays the compiled forward
  and backward as CUDA graphs (the shapes of a step are static: ``drop_last`` batches). CUDA only.

:class:`ProfiledStep` is ``lib.training``'s pretraining step (the same builders, views, loss and
optimiser) with the switches applied and each part of the step inside a
``torch.profiler.record_function`` range named in :data:`REGIONS`, so that a profile splits a
step's time into those parts. ``benchmarks/gpu_check.py --profile-step`` and ``--ab`` use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.profiler import record_function

from . import data, losses, optim, training, views
from .config import Config, split_list

SWITCHES: dict[str, str] = {
    "channels_last": "NHWC layout of the model and its input",
    "bf16": "bf16 autocast of the model; the loss in fp32",
    "compile": "torch.compile of the model",
    "foreach_lars": "LARS writes its update into the gradients (optim.LARS(inplace=True))",
    "no_host_sync": "step metrics summed on the device and read once per epoch (off: .item() every step)",
    "cuda_graphs": "torch.compile(mode='reduce-overhead'): forward and backward replayed as CUDA graphs",
}
CUDA_ONLY = ("cuda_graphs",)

# The record_function ranges of a step, in the order a step runs them, then the per-epoch ones.
REGIONS = ("augmentation", "forward", "loss_and_gather", "backward", "optimizer", "host_sync", "knn_monitor")


@dataclass(frozen=True)
class StepOptions:
    """Which switches are on. The defaults are ``lib.training``'s step on the CPU; use
    :meth:`current` for a given config and device."""

    channels_last: bool = True
    bf16: bool = False
    compile: bool = False
    foreach_lars: bool = False
    no_host_sync: bool = True
    cuda_graphs: bool = False

    @classmethod
    def current(cls, config: Config, device: torch.device) -> "StepOptions":
        """The switches of the step ``lib.training.run`` trains ``config`` with on ``device``."""
        bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
        return cls(bf16=bf16, compile=config.compile, foreach_lars="foreach_lars" in config.speed_list,
                   cuda_graphs="cuda_graphs" in config.speed_list)

    def flipped(self, name: str) -> "StepOptions":
        """These options with switch ``name`` turned the other way."""
        check_names([name])
        return dataclasses.replace(self, **{name: not getattr(self, name)})

    def on(self) -> list[str]:
        return [name for name in SWITCHES if getattr(self, name)]

    def refusal(self, device: torch.device) -> str | None:
        """Why these options cannot run on ``device`` (None when they can)."""
        for name in CUDA_ONLY:
            if getattr(self, name) and device.type != "cuda":
                return f"{name} needs a CUDA device (CUDA graphs capture CUDA kernels); this device is {device.type}"
        return None


def check_names(names) -> list[str]:
    """``names`` if every one is a switch, else a ValueError naming the unknown ones and the known."""
    unknown = [n for n in names if n not in SWITCHES]
    if unknown:
        raise ValueError(f"unknown speed switch(es) {', '.join(map(repr, unknown))}; known: {', '.join(SWITCHES)}")
    return list(names)


def parse_switches(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each a known switch, none twice, at least one."""
    names = list(split_list(text))
    if not names:
        raise ValueError(f"no switch named in {text!r}; known: {', '.join(SWITCHES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a switch is named twice in {text!r}")
    return check_names(names)


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast when ``bf16``, else nothing (fp32)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def compiled(model: torch.nn.Module, options: StepOptions, backend: str = "inductor") -> torch.nn.Module:
    """``model`` compiled as ``options`` ask: CUDA graphs imply compilation (mode reduce-overhead).
    ``backend`` "aot_eager" traces the same graphs without generating kernels: ``gpu_check.py --tiny``
    uses it because inductor takes about a minute on a small CNN on this project's 2-core CPU."""
    if options.cuda_graphs:
        return torch.compile(model, mode="reduce-overhead")
    return torch.compile(model, backend=backend) if options.compile else model


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a timer then reads finished work)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ProfiledStep:
    """``lib.training``'s SimCLR pretraining step (one process) with ``options`` applied.

    The model, views, NT-Xent loss, contrastive accuracy, optimiser and kNN monitor are built by the
    same functions ``lib.training`` uses; the learning rate follows the run's schedule. Each part of a
    step runs inside the :data:`REGIONS` range of its name. Seeded by ``config.seed``, so two steps
    built with different switches start from the same weights and draw the same batches and views.
    """

    def __init__(self, config: Config, d: training.Data, device: torch.device, options: StepOptions,
                 compile_backend: str = "inductor"):
        problem = options.refusal(device)
        if problem:
            raise ValueError(problem)
        self.config, self.d, self.device, self.options = config, d, device, options
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # as lib.training.run: fixed shapes, the fastest kernels
        torch.manual_seed(config.seed)
        mean, std = d.train.mean_std()
        model = training.build_contrastive_model(config, d.train.channels, d.size, mean, std).to(device)
        if options.channels_last:
            model = training._device_layout(model, device)
        self.model = model
        self.fast = compiled(model, options, compile_backend)
        self.amp = autocast(device, options.bf16)
        self.schedule = training.Schedule.of(config, len(d.train), 1)
        self.optimizer = optim.build_optimizer(config.optimizer, model, lr=self.schedule.peak_lr,
                                               weight_decay=config.weight_decay, momentum=config.momentum,
                                               lars_trust=config.lars_trust, lars_clip=config.lars_clip,
                                               lars_inplace=options.foreach_lars)
        self.v1, self.v2 = training.view_pipelines(config, d.size)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        self.transform = training.eval_transform(d.size, d.train.image_size)
        self.steps = 0
        self._read_at = 0  # self.steps at the last read_metrics
        self._sums: dict[str, Any] = {}
        self._batches = iter(())

    def next_batch(self) -> torch.Tensor:
        """The next batch of indices; a new epoch's order when one is used up."""
        idx = next(self._batches, None)
        if idx is None:
            self._batches = data.batches(len(self.d.train), self.config.batch_size, self.generator,
                                         drop_last=True, device=self.device)
            idx = next(self._batches)
        return idx

    def step(self) -> None:
        """One training step; queues work on the device and (with ``no_host_sync``) never waits for it."""
        self.model.train()
        lr = self.schedule.lr(self.steps % self.schedule.total_steps)
        idx = self.next_batch()
        if self.options.cuda_graphs:  # a new iteration: the graphs may overwrite the last step's outputs
            torch.compiler.cudagraph_mark_step_begin()
        with record_function("augmentation"):
            x = views.paired_views(self.d.train.images[idx], self.v1, self.v2, self.generator)
            if self.options.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        with record_function("forward"):
            with self.amp:
                _, z = self.fast(x)
        with record_function("loss_and_gather"):
            z1, z2 = z.float().chunk(2)
            loss = losses.nt_xent(z1, z2, self.config.temperature, normalize=self.config.ntxent_normalize)
            top1 = losses.contrastive_accuracy(z1, z2, self.config.ntxent_normalize)
        with record_function("backward"):
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with record_function("optimizer"):
            optim.set_lr(self.optimizer, lr)
            self.optimizer.step()
        self.last_loss = loss.detach()  # for tests and callers; reading it is their host sync, not the step's
        with record_function("host_sync"):
            metrics = {"loss": self.last_loss, "contrastive_top1": top1.detach()}
            for key, value in metrics.items():
                if self.options.no_host_sync:  # as lib.training: summed on the device
                    self._sums[key] = self._sums.get(key, 0) + value.float()
                else:                          # a naive loop: one host read per metric per step
                    self._sums[key] = self._sums.get(key, 0.0) + value.item()
        self.steps += 1

    def read_metrics(self) -> dict[str, float]:
        """The mean of each step metric since the last read (the epoch's one host read), then reset."""
        with record_function("host_sync"):
            n = max(1, self.steps - self._read_at)
            out = {k: float(v) / n for k, v in self._sums.items()}
        self._sums, self._read_at = {}, self.steps
        return out

    def monitor(self) -> dict[str, float]:
        """The per-epoch kNN monitor of ``lib.training`` (model in eval mode)."""
        with record_function("knn_monitor"):
            self.model.eval()
            out = training._knn_monitor(self.model.encoder, self.d, self.config, self.transform, self.amp)
            self.model.train()
        return out

    def views_per_second(self, steps: int, warmup: int) -> dict[str, float]:
        """Training views per second over ``steps`` timed steps after ``warmup`` untimed ones (compilation,
        autotuning); the metrics are read once at the end of each, inside the timing."""
        t0 = time.perf_counter()
        for _ in range(warmup):
            self.step()
        self.read_metrics()
        sync(self.device)
        t1 = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.read_metrics()
        sync(self.device)
        seconds = time.perf_counter() - t1
        views_ = 2 * self.config.batch_size * steps
        return {"views_per_s": views_ / seconds, "seconds": seconds, "steps": steps,
                "warmup_seconds": t1 - t0, "warmup_steps": warmup}
