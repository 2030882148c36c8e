"""The training loop every method shares, and the set-up the methods share.

Each training method (SimCLR pretraining, the supervised baselines, fine-tuning, distillation, and
any method registered later) is one module of :mod:`lib.methods`, which gives this loop a
:class:`Job`. ``run(config)`` is the one entry point: it returns the finished run's record if one exists
for this config (a finished run is loaded, not retrained), resumes from the last checkpoint if
an earlier attempt was interrupted, and otherwise trains from scratch.

All methods share one loop (:func:`_fit`): the data set lives on the device as uint8, each
step draws a batch of indices, augments it on the device (``views``), and runs one optimizer
step. Step metrics accumulate on the device and are read once per epoch, so the step itself
never waits for the host.

Under ``torchrun`` (see :mod:`lib.distributed`) the same loop runs data-parallel: ``batch_size``
is the global batch, each process trains on its block of it through DistributedDataParallel,
contrastive losses gather the embeddings of all processes, and rank 0 alone logs, evaluates and
writes the record and checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checkpoints, cpu_kernels, data, distributed, evaluation, methods, models, optim, views
from .config import Config, legacy_overrides
from .progress import Progress
from .records import (CHECKPOINT_DIR, CONFIG_FILE, REQUIRE_RECORDS_ENV, RecordWriter, RunRecord, existing_record,
                      find_record, log_run, now_iso)
from .tracking import Tracker

MIN_VIEW_SIZE = 8  # the smallest side of a view (lib.views.ViewConfig)
LABEL_SUBSET_SEED = 0  # the labelled subset is the same for every run seed, as SimCLRv2's fixed 1 %/10 % lists


class MissingRecordError(RuntimeError):
    """A run was asked for without a record while training was forbidden (``THESIS_REQUIRE_RECORDS``)."""


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the checkpoints written so far are kept."""


class DivergenceError(NonFiniteLossError):
    """The weights or the final embeddings exploded while the loss stayed finite (a failed run, exit 1)."""


# A weight norm this many times its value at initialisation is divergence. Measured on the sample data
# (small_cnn, width 0.25, 2 epochs): lr=0.3 leaves the norm at 1.00x, lr=30 at 1.27x, while lr=1e6 reached
# 1e6x after one epoch and 2e14x after two (its loss stayed finite, its h embeddings overflowed).
WEIGHT_GROWTH_LIMIT = 1e3


def weight_norm(model: nn.Module) -> float:
    """The l2 norm of all parameters together, in float64 (a float32 sum overflows first)."""
    with torch.no_grad():
        return math.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in model.parameters()))


def check_weights(norm: float, initial: float | None, epoch: int, lr: float, kept: str) -> None:
    """A DivergenceError when the weight norm is not finite or above :data:`WEIGHT_GROWTH_LIMIT` times
    ``initial`` (None: a run resumed from a checkpoint that predates the check; finiteness only)."""
    exploded = initial is not None and initial > 0 and norm > WEIGHT_GROWTH_LIMIT * initial
    if not math.isfinite(norm) or exploded:
        start = f" from {initial:.3g}" if initial else ""
        raise DivergenceError(f"weights diverged in epoch {epoch}: their norm grew{start} to {norm:.3g} (the limit is "
                              f"{WEIGHT_GROWTH_LIMIT:g}x its initial value) while the loss stayed finite; {kept}; "
                              f"try a lower lr (now {lr:g})")


def check_embeddings(arrays: dict[str, np.ndarray]) -> None:
    """A DivergenceError naming the array when a stored embedding (h, z, their snapshots) is not finite:
    checked before they are saved, so a diverged run is never recorded as complete."""
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            share = float((~np.isfinite(a)).mean())
            raise DivergenceError(f"embeddings diverged: {share:.0%} of the stored {name} values are not finite (or "
                                  f"overflow float16) at the final evaluation; the run is marked failed; try a "
                                  f"lower lr")


def _kept(ckpt_dir: Path) -> str:
    saved = checkpoints.epoch_checkpoints(ckpt_dir)
    return (f"the last good checkpoint (epoch {saved[-1][0]}) is kept in {ckpt_dir}" if saved else
            "no checkpoint had been written, so running it again starts over")


# ---- set-up ------------------------------------------------------------------------------------

def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda was asked for but no CUDA device is available here; use device=cpu "
                         "(or device=auto, which takes a GPU when there is one)")
    return torch.device(name)


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA ('auto' or 'bf16'); fp32 on CPU unless bf16 is asked for."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Data:
    train: data.ImageDataset      # on the device
    test: data.ImageDataset       # on the device
    labelled: torch.Tensor        # indices of training images whose labels may be used
    monitor: torch.Tensor         # indices of test images for the per-epoch monitor
    size: int                     # side of the views
    val: data.ImageDataset | None = None  # validation images carved from the training ones (val_size)


def prepare_data(config: Config, device: torch.device) -> Data:
    data_dir = config.data_dir or None
    train = data.load_dataset(config.dataset, "train", data_dir=data_dir, download=config.download)
    test = data.load_dataset(config.dataset, "test", data_dir=data_dir, download=config.download)
    draw = data_draw_seed(config)
    if config.train_size:
        if config.train_size > len(train):
            raise ValueError(f"train_size={config.train_size} exceeds the {len(train)} training images "
                             f"of {config.dataset}")
        train = train.subset(data.stratified_subset_indices(train.labels, config.train_size, seed=draw))
    if config.test_size:
        if config.test_size > len(test):
            raise ValueError(f"test_size={config.test_size} exceeds the {len(test)} test images of {config.dataset}")
        test = test.subset(data.stratified_subset_indices(test.labels, config.test_size, seed=0))
    val = None
    if config.val_size:
        if config.val_size >= len(train):
            raise ValueError(f"val_size={config.val_size} leaves none of the {len(train)} training images; "
                             "give a smaller val_size")
        keep, held = data.carve_validation(train.labels, config.val_size, seed=draw)
        train, val = train.subset(keep), train.subset(held)
    labelled = data.stratified_fraction(train.labels, config.label_fraction,
                                        seed=LABEL_SUBSET_SEED if config.data_draw == "fixed" else draw)
    monitor = (data.stratified_subset_indices(test.labels, min(config.monitor_size, len(test)), seed=0)
               if config.monitor_size else torch.zeros(0, dtype=torch.long))
    size = config.image_size or train.image_size
    if not config.image_size and size < MIN_VIEW_SIZE:  # views.ViewConfig's floor, said with the fix rather than as its own rule
        raise ValueError(f"the images of {config.dataset} are {train.image_size}x{train.image_size} pixels; views "
                         f"need at least {MIN_VIEW_SIZE}x{MIN_VIEW_SIZE}: give image_size={MIN_VIEW_SIZE} (or more) to "
                         "resize them, or use larger images")
    return Data(train.to(device), test.to(device), labelled.to(device), monitor.to(device), size,
                val.to(device) if val is not None else None)


def data_draw_seed(config: Config) -> int:
    """The seed of the data subsets' draw: 0 for every run at ``data_draw="fixed"`` (the runs before
    issue #24 all share one training subset and one labelled subset), the run's own seed at
    ``"per_seed"``, so that seeds re-draw the data and their spread counts its sampling error too.
    The test subset and the monitor stay draw 0: every seed is scored on the same test images."""
    return 0 if config.data_draw == "fixed" else config.seed


def view_pipelines(config: Config, size: int) -> tuple[views.ViewPipeline, views.ViewPipeline]:
    vc = views.ViewConfig(size=size, crop_scale=(config.crop_scale_min, 1.0),
                          color_strength=config.color_strength, blur_p=config.blur_p, gray_p=config.gray_p,
                          crop_sampler=config.crop_sampler)
    first = views.ViewPipeline(config.views_list, vc)
    second = first if config.views2 == "" else views.ViewPipeline(config.views2_list, vc)
    return first, second


def eval_transform(size: int, native: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Evaluation images are the whole image, resized to the views' size when that differs."""
    if size == native:
        return None
    return lambda x: F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def build_encoder(config: Config, channels: int, size: int, mean, std) -> models.Encoder:
    """The encoder of a run: the one place where a config becomes an encoder, for every task.

    ``size`` is the side of the views the encoder sees (``Data.size``: ``image_size``, or the data
    set's native size), so ``stem=auto`` picks the same stem for pretraining, the supervised
    baselines, fine-tuning, the distillation student and a later evaluation of any of them."""
    return models.build_encoder(config.arch, in_channels=channels, image_size=size, width=config.width,
                                stem=config.stem, mean=mean, std=std)


def build_contrastive_model(config: Config, channels: int, size: int, mean, std) -> models.ContrastiveModel:
    """Encoder and projection head of a pretraining (or supervised contrastive) run."""
    encoder = build_encoder(config, channels, size, mean, std)
    hidden = config.head_hidden_dim or encoder.out_dim
    head = models.ProjectionHead(encoder.out_dim, hidden, config.proj_dim, config.head_layers,
                                 last_bn=config.head_last_bn, linear_bn=config.linear_head_bn)
    return models.ContrastiveModel(encoder, head)


def build_classifier(config: Config, channels: int, size: int, num_classes: int, mean, std) -> models.FineTuneModel:
    """Encoder and linear classifier of a cross-entropy baseline or a distillation student."""
    return models.FineTuneModel(build_encoder(config, channels, size, mean, std), None, num_classes)


# ---- the shared loop ---------------------------------------------------------------------------

@dataclass
class Job:
    """What a method gives the shared loop (``Method.build``, :mod:`lib.methods`).

    ``model`` is everything a checkpoint saves and a resume restores: a method with state that is not
    trained by the optimiser (an EMA target, a queue of negatives) keeps it in ``model`` as frozen
    parameters or buffers, so that a resumed run continues bitwise. ``after_step`` runs after every
    optimiser step (see :func:`_train_epoch`)."""

    model: nn.Module                                        # everything whose weights are trained or saved
    step: Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]  # batch indices -> loss, metrics
    monitor: Callable[[], dict[str, float]]                 # per-epoch evaluation (model in eval mode)
    n_train: int                                            # images drawn per epoch
    snapshot: Callable[[], dict[str, np.ndarray]] | None = None  # test embeddings for the record
    flops_per_view: int = 0                                 # forward FLOPs of one view (for TFLOP/s)
    after_step: Callable[[int], None] | None = None         # global step (0-based) -> None, after optimizer.step()


def checkpoint_due(epoch: int, epochs: int, every: int, interval_s: float, since_last_s: float) -> bool:
    """Whether the end of ``epoch`` (1-based) is checkpointed: always the last epoch; otherwise every
    ``every`` epochs, or, when ``interval_s`` > 0, once ``since_last_s`` seconds have passed since the
    last checkpoint (or the start)."""
    if epoch == epochs:
        return True
    if interval_s > 0:
        return since_last_s >= interval_s
    return epoch % every == 0


@dataclass(frozen=True)
class Schedule:
    """The steps of a run: a fixed number per epoch (``drop_last``), the warm-up, the peak rate."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    peak_lr: float

    @classmethod
    def of(cls, config: Config, n_train: int, world: int) -> "Schedule":
        distributed.local_batch_size(config.batch_size, world)  # the global batch must split evenly
        steps = n_train // config.batch_size
        if steps < 1:
            raise ValueError(f"batch_size={config.batch_size} is larger than the {n_train} training images")
        return cls(steps, steps * config.epochs, config.warmup_steps(steps), config.scaled_lr)

    def lr(self, step: int) -> float:
        return optim.lr_at(step, self.total_steps, self.warmup_steps, self.peak_lr)


@dataclass
class _State:
    """What a run has produced so far; a checkpoint holds it, a resumed run starts from it."""

    epoch: int = 0                                                  # epochs finished
    epochs_log: list[dict[str, Any]] = field(default_factory=list)  # epoch 0 (initialisation) first
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)  # test embeddings at snapshot_epochs
    elapsed_before_s: float = 0.0                                   # training time up to the resumed epoch


@dataclass
class Clock:
    """A run's wall time over the segments a resume joins: a resumed run adds the time its earlier
    segments had spent up to the checkpoint it continues from (the work a kill loses is done again,
    and counted once). ``started`` is the first segment's start; ``resumes`` counts the resumes."""

    t0: float = field(default_factory=time.perf_counter)  # this segment's start
    before_s: float = 0.0                                  # earlier segments, up to the resumed checkpoint
    started: str = field(default_factory=now_iso)          # UTC
    resumes: int = 0

    def seconds(self) -> float:
        return self.before_s + time.perf_counter() - self.t0

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the clock (plain types)."""
        return {"wall_time_s": self.seconds(), "started": self.started, "resumes": self.resumes}

    def resume(self, saved: dict[str, Any] | None) -> None:
        """Continue from a checkpoint's :meth:`state` (a checkpoint written before clocks: from zero)."""
        saved = saved or {}
        self.before_s = float(saved.get("wall_time_s", 0.0))
        self.started = str(saved.get("started", self.started))
        self.resumes = int(saved.get("resumes", 0)) + 1


def _fit(config: Config, job: Job, device: torch.device, writer: RecordWriter | None, tracker: Tracker | None,
         generator: torch.Generator, augment: torch.Generator | None = None, clock: Clock | None = None,
         ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Train ``job.model`` for ``config.epochs``, resuming from the newest good checkpoint.

    In the order a run happens: resume (or evaluate the initialisation as epoch 0), then per epoch
    train, monitor, log and checkpoint, then save the final weights. ``generator`` draws the data
    order; under torchrun it is seeded alike in every process, each trains on its block of every
    global batch, and ``augment`` (each process's own generator of the views) is reseeded every
    epoch. ``writer`` and ``tracker`` are rank 0's (None elsewhere): rank 0 alone evaluates, logs
    and writes checkpoints (:class:`lib.distributed.Processes`).

    ``clock`` (rank 0's) goes into every checkpoint and is continued on a resume.

    Returns the per-epoch metrics and the embedding snapshots taken at ``snapshot_epochs``.
    """
    procs = distributed.Processes.current()
    clock = clock or Clock()
    if procs.main and writer is None:
        raise ValueError("rank 0 needs a RecordWriter")
    schedule = Schedule.of(config, job.n_train, procs.world)
    optimizer = optim.build_optimizer(config.optimizer, job.model, lr=schedule.peak_lr,
                                      weight_decay=config.weight_decay, momentum=config.momentum,
                                      lars_trust=config.lars_trust, lars_clip=config.lars_clip,
                                      lars_inplace="foreach_lars" in config.speed_list)  # a speed switch
    ckpt_dir = (writer.directory if writer is not None else config.resolved_runs_dir() / config.run_id()) / CHECKPOINT_DIR
    t_fit = t_saved = time.perf_counter()
    state = _resume(config, job, optimizer, generator, ckpt_dir, writer, procs, clock)
    initial_norm = (weight_norm(job.model) if state.epoch == 0 else
                    (state.epochs_log[0].get("weight_norm") if state.epochs_log else None))
    with Progress(schedule.total_steps, enabled=config.progress and procs.main,
                  description=ckpt_dir.parent.name, epochs=config.epochs) as progress:
        progress.step(state.epoch * schedule.steps_per_epoch)
        if state.epoch == 0 and procs.main:
            progress.epoch_end(state.epochs_log[0])
        for epoch in range(state.epoch, config.epochs):
            record = _train_epoch(config, job, optimizer, schedule, epoch, generator, augment, device, procs,
                                  progress, ckpt_dir)
            record["weight_norm"] = weight_norm(job.model)  # alike on every process: all stop together
            check_weights(record["weight_norm"], initial_norm, epoch + 1, config.lr, _kept(ckpt_dir))
            if procs.main:  # the others wait at the barrier below
                _monitor(config, job, epoch + 1, record, state)
                # this process's training wall time, evaluation included, over the segments of a resumed run
                record["elapsed_seconds"] = state.elapsed_before_s + time.perf_counter() - t_fit
                state.epoch = epoch + 1
                state.epochs_log.append(record)
                writer.log_epoch(record)
                if tracker is not None:
                    tracker.log(record, step=epoch + 1)
                progress.epoch_end({k: v for k, v in record.items() if k != "train_seconds"})
                if checkpoint_due(epoch + 1, config.epochs, config.checkpoint_every, config.checkpoint_seconds,
                                  time.perf_counter() - t_saved):
                    t_saved = time.perf_counter()
                    _checkpoint(config, job, optimizer, generator, ckpt_dir, state, clock)
            procs.wait()
    job.model.eval()
    if procs.main:
        checkpoints.save(ckpt_dir / checkpoints.FINAL_NAME, {
            "model": job.model.state_dict(), "config_hash": config.config_hash(), "config": config.identity()})
    procs.wait()  # the final weights exist before any process goes on
    return state.epochs_log, state.snapshots


def _resume(config: Config, job: Job, optimizer, generator: torch.Generator, ckpt_dir: Path,
            writer: RecordWriter | None, procs: distributed.Processes, clock: Clock) -> _State:
    """The newest good checkpoint of this config, restored (rank 0 reads it and sends it to every
    process, so all resume from the same state); without one, epoch 0: the random initialisation
    evaluated, the baseline every curve starts from. A checkpoint that lacks a part of the state or
    holds another model's weights is skipped like an unreadable one, before anything is restored."""
    reference = job.model.state_dict()

    def usable(state: dict[str, Any], path: Path) -> None:
        checkpoints.check_keys(state, path)
        checkpoints.check_model(state, path, reference)

    resumed = procs.from_main(
        checkpoints.latest_good(ckpt_dir, config.config_hash(), config.identity(), check=usable)
        if procs.main else None)
    if resumed is not None:
        job.model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        checkpoints.restore_rng_state(resumed["rng"], generator)
        state = _State(int(resumed["epoch"]), list(resumed["metrics"]),
                       {k: v.numpy() for k, v in resumed.get("snapshots", {}).items()})
        state.elapsed_before_s = float(state.epochs_log[-1].get("elapsed_seconds") or 0.0)
        if procs.main:
            clock.resume(resumed.get("clock"))
            writer.resume_epochs(state.epochs_log, started=clock.started, resumes=clock.resumes)
            print(f"resumed {writer.directory.name} from epoch {state.epoch}")
        return state
    state = _State()
    if procs.main:
        _monitor(config, job, 0, None, state)
        writer.log_epoch(state.epochs_log[0])
    return state


def _train_epoch(config: Config, job: Job, optimizer, schedule: Schedule, epoch: int, generator: torch.Generator,
                 augment: torch.Generator | None, device: torch.device, procs: distributed.Processes, progress,
                 ckpt_dir: Path) -> dict[str, Any]:
    """One pass over the training images (0-based ``epoch``); returns its line of metrics.

    Each step: set the learning rate, ``job.step`` (the loss on this process's block of the batch),
    backward, ``optimizer.step()``, then ``job.after_step(global_step)`` when the job has one -- the
    place for what a method updates from the new weights without a gradient (BYOL's and MoCo's EMA
    target, a queue of negatives). It runs in every process, on the weights DDP has just made equal,
    with the 0-based step over the whole run, so a schedule of its own (an EMA momentum ramp) can
    follow ``schedule.total_steps``.

    Step metrics accumulate on the device and are read once, at the end (averaged over the
    processes, so every process sees the same loss and stops together if it is not finite)."""
    t0 = time.perf_counter()
    job.model.train()
    procs.reseed(augment, config.seed, epoch)
    sums: dict[str, torch.Tensor] = {}
    lr = schedule.lr(epoch * schedule.steps_per_epoch)
    for i, idx in enumerate(data.batches(job.n_train, config.batch_size, generator, drop_last=True, device=device)):
        lr = schedule.lr(epoch * schedule.steps_per_epoch + i)
        optim.set_lr(optimizer, lr)
        loss, metrics = job.step(procs.block(idx))  # (batch_size / world,) indices of this process
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if job.after_step is not None:
            job.after_step(epoch * schedule.steps_per_epoch + i)
        for key, value in {"loss": loss.detach(), **metrics}.items():
            sums[key] = sums.get(key, 0) + value.detach().float()
        progress.step()
    sums = procs.mean(sums)  # the epoch's one host synchronisation
    steps = schedule.steps_per_epoch
    record = {"epoch": epoch + 1, "lr": lr, "train_seconds": time.perf_counter() - t0}
    record.update({k: float(v) / steps for k, v in sums.items()})
    if not math.isfinite(record["loss"]):
        kept = _kept(ckpt_dir)
        raise NonFiniteLossError(f"loss became {record['loss']} in epoch {epoch + 1} (steps {epoch * steps}-"
                                 f"{(epoch + 1) * steps - 1}); {kept}; try a lower lr (now {config.lr})")
    record["views_per_second"] = job_views(config) * steps * config.batch_size / record["train_seconds"]
    if job.flops_per_view:  # forward + backward ~ 3 x forward
        record["train_tflops"] = 3 * job.flops_per_view * record["views_per_second"] / 1e12
    return record


def _monitor(config: Config, job: Job, epoch: int, record: dict[str, Any] | None, state: _State) -> None:
    """Rank 0 at the end of ``epoch`` (0: the initialisation, which starts the log): the per-epoch
    evaluation when due, and the test embeddings at ``snapshot_epochs``."""
    job.model.eval()
    if epoch and (epoch % config.eval_every == 0 or epoch == config.epochs):
        record.update(job.monitor())
    if epoch in config.snapshot_epoch_list and job.snapshot is not None:
        state.snapshots.update({f"{k}_epoch{epoch}": v for k, v in job.snapshot().items()})
    if epoch == 0:
        state.epochs_log.append({"epoch": 0, **job.monitor(), "weight_norm": weight_norm(job.model)})


def _checkpoint(config: Config, job: Job, optimizer, generator: torch.Generator, ckpt_dir: Path,
                state: _State, clock: Clock) -> None:
    """Everything a resumed run needs to continue bitwise: weights, optimizer, the data-order
    generator, the epochs so far and their metrics and snapshots; and the run's clock."""
    checkpoints.save_epoch(ckpt_dir, state.epoch, {
        "model": job.model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": state.epoch,
        "metrics": state.epochs_log, "rng": checkpoints.rng_state(generator),
        "config_hash": config.config_hash(), "config": config.identity(),
        "snapshots": {k: torch.from_numpy(v) for k, v in state.snapshots.items()},
        "clock": clock.state()})


def job_views(config: Config) -> int:
    """Views per training image in one step (two for the contrastive losses): the method's rule."""
    return methods.get(config.task).views_per_image(config.loss_name)


# ---- monitors and final evaluation -------------------------------------------------------------

def _features(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, transform, amp) -> torch.Tensor:
    def call(x):
        with amp:
            return fn(x).float()
    return evaluation.embed(call, images, batch_size=1024, transform=transform)


def _knn_monitor(fn, d: Data, config: Config, transform, amp) -> dict[str, float]:
    if not len(d.monitor):
        return {}
    bank = _features(fn, d.train.images, transform, amp)
    query = _features(fn, d.test.images[d.monitor], transform, amp)
    acc = evaluation.knn_accuracy(bank, d.train.labels, query, d.test.labels[d.monitor],
                                  d.train.num_classes, k=config.knn_k, temperature=config.knn_t)
    return {"knn_top1": acc}


def _classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, transform, amp) -> float:
    logits = _features(model, images, transform, amp)
    return float((logits.argmax(1) == labels).float().mean())


def validation_scores(d: Data, config: Config, transform, amp, encoder: Callable | None = None,
                      classifier: nn.Module | None = None) -> dict[str, float]:
    """Scores on the validation images carved from the training ones (``val_size``; none without):
    ``val_top1``, the ``classifier``'s accuracy, and ``val/knn_top1``, the kNN accuracy of the
    ``encoder``'s features of the validation images against those of the remaining training images.
    Choices a notebook makes (a learning rate, a weight decay, a fine-tuning layer) read these, never
    the test set's scores."""
    if d.val is None or not len(d.val):
        return {}
    out: dict[str, float] = {}
    if classifier is not None:
        out["val_top1"] = _classifier_accuracy(classifier, d.val.images, d.val.labels, transform, amp)
    if encoder is not None:
        bank = _features(encoder, d.train.images, transform, amp)
        query = _features(encoder, d.val.images, transform, amp)
        out["val/knn_top1"] = evaluation.knn_accuracy(bank, d.train.labels, query, d.val.labels,
                                                      d.train.num_classes, k=config.knn_k, temperature=config.knn_t)
    return out


def _battery(fn, d: Data, config: Config, transform, amp, prefix: str) -> dict[str, Any]:
    train_f = _features(fn, d.train.images, transform, amp)
    test_f = _features(fn, d.test.images, transform, amp)
    scores = evaluation.evaluation_battery(train_f, d.train.labels, test_f, d.test.labels, d.train.num_classes,
                                           knn_k=config.knn_k, knn_t=config.knn_t, seed=config.seed)
    return {f"{prefix}/{k}": v for k, v in scores.items()}


def _embedding_sample(fns: dict[str, Callable], d: Data, config: Config, transform, amp) -> dict[str, np.ndarray]:
    if not config.save_embeddings:
        return {}
    n = min(config.save_embeddings, len(d.test))
    idx = data.stratified_subset_indices(d.test.labels.cpu(), n, seed=0).to(d.test.images.device)
    out = {name: _features(fn, d.test.images[idx], transform, amp).cpu().numpy().astype(np.float16)
           for name, fn in fns.items()}
    out.update(labels=d.test.labels[idx].cpu().numpy(), indices=idx.cpu().numpy())
    return out


# ---- the shared task set-up ---------------------------------------------------------------------

def place(model: nn.Module, device: torch.device, config: Config) -> tuple[nn.Module, nn.Module]:
    """``model`` on ``device`` in the training layout (:func:`_device_layout`), and the module a step
    calls: the same weights wrapped for data-parallel training under torchrun and compiled when
    ``compile`` is on. Every method trains through this pair: the model for the record and the
    evaluation, the wrapped one for the forward pass of a step."""
    model = _device_layout(model.to(device), device)
    return model, _maybe_compile(distributed.wrap(model, device), config)


def rebuild_contrastive(config: Config, d: Data, weights: dict[str, Any], layer: int):
    """A finished encoder-and-head run's model with its ``weights``, and its features at ``layer``
    (0: ``h``; k: after the head's k-th layer): ``Method.rebuild`` of the contrastive methods."""
    model = build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std())
    model.load_state_dict(weights)
    if not 0 <= layer <= config.head_layers:
        raise ValueError(f"layer must be in [0, head_layers={config.head_layers}]; got {layer}")
    return model, lambda x: model.features(x, layer)


def check_classifier_layer(config: Config, layer: int) -> None:
    if layer != 0:
        raise ValueError(f"run {config.run_id()} is a classifier ({config.task}); only layer 0 (h) can be evaluated")


def rebuild_classifier(config: Config, d: Data, weights: dict[str, Any], layer: int, model: nn.Module | None = None):
    """A finished classifier's ``model`` (default: an encoder under a linear classifier) with its
    ``weights``, and its encoder as the features; a classifier has only ``h`` (layer 0)."""
    check_classifier_layer(config, layer)
    if model is None:
        model = build_classifier(config, d.train.channels, d.size, d.train.num_classes, *d.train.mean_std())
    model.load_state_dict(weights)
    return model, model.encoder


RETRAINED_DIR = "retrained"  # <run>/checkpoints/retrained/: a parent's weights trained again, beside its record


def retrained_runs_dir(record: RunRecord) -> Path:
    """Where a parent run whose weights were not committed is trained again for its children:
    a runs folder of its own inside the parent's (git-ignored) ``checkpoints/``, so the parent's
    committed record is never rewritten by a child's command."""
    return record.checkpoint_dir / RETRAINED_DIR


def recorded_weights(record: RunRecord) -> dict[str, Any] | None:
    """The final weights of a complete run: its own checkpoints, else those trained again for its
    children (:func:`retrained_runs_dir`); None when neither exists."""
    state = checkpoints.final_weights(record.checkpoint_dir, record.config.config_hash(), record.config.epochs)
    if state is None:
        again = retrained_runs_dir(record) / record.run_id / CHECKPOINT_DIR
        if (again / checkpoints.FINAL_NAME).exists() or checkpoints.epoch_checkpoints(again):
            state = checkpoints.final_weights(again, record.config.config_hash(), record.config.epochs)
    return state


def retrain_command(record: RunRecord) -> str:
    """The command that trains ``record``'s run again into a runs folder of the user's choosing."""
    extra = ""
    parent = methods.parent_run(record.config)
    if parent:
        extra = f" (copy {record.directory.parent / parent} into that folder first)"
    try:
        stored = json.loads((record.directory / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        stored = {}
    legacy = "".join(f" {o}" for o in legacy_overrides(stored))  # a record made before a field existed
    return (f"python -m lib {record.config.task} --config {record.directory / CONFIG_FILE}{legacy} runs_dir=<a folder>, "
            f"then python -m lib evaluate {record.run_id} --runs-dir <that folder>{extra}")


def load_pretrained(run_id: str, config: Config, retrain: bool = True) -> tuple[RunRecord, dict[str, Any]]:
    """A complete run's record and final weights.

    Weights are never committed. Without them, ``retrain`` (a fine-tuning or distillation that needs
    its parent) trains the parent again into :func:`retrained_runs_dir`, leaving the parent's record as
    it is; without ``retrain`` (``evaluate``, which never trains) it is a FileNotFoundError that gives
    the command recreating them."""
    record = find_record(run_id, config.resolved_runs_dir())
    if not record.complete:
        raise ValueError(f"run {run_id} is not complete (status {record.status!r}); finish it first")
    path = record.checkpoint_dir / checkpoints.FINAL_NAME
    state = recorded_weights(record)
    if state is None:
        what = (f"no weights at {path} (checkpoints are not committed)" if not path.exists() else
                f"no usable weights ({path} was refused)")
        if not retrain:
            raise FileNotFoundError(f"run {run_id} has {what}, and evaluate never trains; recreate them with: "
                                    f"{retrain_command(record)}")
        here = resolve_device(config.device).type
        if record.provenance.get("device_type", "cpu").split(":")[0] != here:
            raise FileNotFoundError(
                f"run {run_id} has {what} and it was trained on {record.provenance.get('device')}, not on this "
                f"{here} device; retrain it there or copy its checkpoints/ folder here")
        scratch = retrained_runs_dir(record)
        grandparent = methods.parent_run(record.config)
        if grandparent and not (scratch / grandparent).exists():  # the parent's own parent, found from there
            scratch.mkdir(parents=True, exist_ok=True)
            (scratch / grandparent).symlink_to((record.directory.parent / grandparent).resolve())
        print(f"{run_id}: record found but {what}; training it again in {scratch} to recreate them "
              f"(its record in {record.directory} is left as it is)")
        again = run(record.config.replace(runs_dir=str(scratch), device=config.device, progress=config.progress),
                    force=True)
        retrained = again or find_record(run_id, scratch)  # ranks other than 0 get None; the weights exist by then
        final = retrained.checkpoint_dir / checkpoints.FINAL_NAME
        state = checkpoints.load(final)
        checkpoints.check_config(state, record.config.config_hash(), final)
    return record, state


def _device_layout(model: nn.Module, device: torch.device) -> nn.Module:
    """channels_last: faster convolutions with cuDNN and with oneDNN on the CPU (1.3-1.5x measured
    for the small CNN on 2 CPU cores), except for the layers oneDNN's CPU kernels crash on
    (:func:`lib.cpu_kernels.avoid_onednn_crash`)."""
    model = model.to(memory_format=torch.channels_last)
    if device.type == "cpu":
        cpu_kernels.avoid_onednn_crash(model)
    return model


def _layout(x: torch.Tensor) -> torch.Tensor:
    """A batch of views in channels_last, the layout :func:`_device_layout` gives the model."""
    return x.contiguous(memory_format=torch.channels_last)


def _maybe_compile(model: nn.Module, config: Config) -> nn.Module:
    if "cuda_graphs" in config.speed_list:  # speed switch: the compiled model replayed as CUDA graphs
        return torch.compile(model, mode="reduce-overhead")
    return torch.compile(model) if config.compile else model


def _gather() -> distributed.TorchGather | None:
    """The contrastive losses' view of the other processes (None in one process)."""
    return distributed.TorchGather() if distributed.world_size() > 1 else None


# ---- entry point -------------------------------------------------------------------------------

def run(config: Config, force: bool = False) -> RunRecord | None:
    """The record of ``config``: loaded if the run is finished, else trained (or resumed).

    Inside a process group (``torchrun``, :mod:`lib.distributed`) every process calls this and
    trains its share; rank 0 evaluates and writes the record and returns it, the other ranks
    return None once training is done (a finished record is returned on every rank). Outside
    one, with ``THESIS_NPROC=N`` (N > 1) in the environment, the run is trained by N processes
    started with torchrun on this machine (:func:`distributed.launch`) and its record returned.
    With ``THESIS_RUN_LOG`` set, rank 0 notes there whether it loaded or trained the run
    (:func:`lib.records.log_run`), which the report runner reads.
    """
    main, world = distributed.is_main(), distributed.world_size()
    if not force:
        done = distributed.broadcast_object(existing_record(config) if main else None)
        if done is not None:
            if main:
                log_run(done, "loaded")
            return done
    if os.environ.get(REQUIRE_RECORDS_ENV, "") not in ("", "0"):
        raise MissingRecordError(
            f"run {config.run_id()} ({config.task}, {config.arch}, {config.epochs} epochs) has no complete record in "
            f"{config.resolved_runs_dir()} and {REQUIRE_RECORDS_ENV} forbids training it here; train it where it "
            f"belongs (for the full profile: a GPU, see benchmarks/README.md) and copy its record here")
    nproc = distributed.requested_processes()
    if nproc > 1 and not distributed.is_initialized():  # THESIS_NPROC: start torchrun for this run
        return distributed.launch(config, nproc, force=force)
    if main:
        check_runs_dir(config.resolved_runs_dir())  # before the data loads, not after
    device = distributed.process_device(resolve_device(config.device))
    if "cuda_graphs" in config.speed_list and device.type != "cuda":
        raise ValueError(f"speed=cuda_graphs needs a CUDA device (CUDA graphs capture CUDA kernels); this run's "
                         f"device is {device.type}: drop cuda_graphs from speed or give device=cuda")
    method = methods.get(config.task)
    parent = methods.parent_run(config)
    if parent:  # weights trained again here (checkpoints are never committed) must not move this run's seeds or clock
        load_pretrained(parent, config)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)  # the data order: alike everywhere
    # One process draws views from the same generator; each of several has its own stream.
    augment = None if world == 1 else torch.Generator(device=device)
    amp = autocast(device, config.precision)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    clock = Clock()
    if config.download and not main:
        distributed.barrier()  # rank 0 downloads first
    d = prepare_data(config, device)
    if config.download and main:
        distributed.barrier()
    job, final = method.build(config, d, device, amp, generator if augment is None else augment)
    Schedule.of(config, job.n_train, world)  # a batch larger than the data: refused before a run folder exists
    job.flops_per_view = models.flops_per_image(job.model, d.size, d.train.channels)
    # One process writes a run: a second one waits here for the first (records.RunLock) ...
    writer = RecordWriter(config) if main else None
    try:
        if force and writer is not None:
            writer.replace_run()  # old checkpoints aside, the old record kept until the new one is complete
        if not force:  # ... and then finds its finished record rather than training the run again
            done = distributed.broadcast_object(existing_record(config) if main else None)
            if done is not None:
                if main:
                    log_run(done, "loaded")
                return done
        if writer is not None:
            writer.start(device, world_size=world,
                         extra={"parameters": models.count_parameters(job.model),
                                "train_images": len(d.train), "test_images": len(d.test),
                                "labelled_images": len(d.labelled), "forward_flops_per_view": job.flops_per_view,
                                **distributed.describe(device)}, started=clock.started)
        tracker = Tracker(config, writer.directory) if writer is not None else None
        if not main:
            _fit(config, job, device, None, None, generator, augment)
            return None
        try:
            _, snapshots = _fit(config, job, device, writer, tracker, generator, augment, clock)
            results: dict[str, Any] = {"train_wall_time_s": round(clock.seconds(), 2)}
            final_results, embeddings = final()
            results.update(final_results)
            embeddings.update(snapshots)
            check_embeddings(embeddings)
            if embeddings:
                writer.save_embeddings(embeddings)
            record = writer.finish(results, clock.seconds())
            tracker.finish(results)
            log_run(record, "trained")
            return record
        except BaseException as e:
            writer.fail(f"{type(e).__name__}: {e}", clock.seconds())
            tracker.finish({}, failed=True)
            raise
    finally:
        if writer is not None:
            writer.close()  # the lock goes back even when the run failed


def check_runs_dir(path: Path) -> None:
    """A ValueError naming ``runs_dir`` unless it is, or can become, a folder this process writes."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"runs_dir {path} cannot be a folder: {existing} is a file; give runs_dir=<a folder> "
                         "(or set THESIS_RUNS_DIR)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"runs_dir {path} is not writable (no write permission on {existing}); "
                         "give runs_dir=<a folder you can write>")
