"""The plan of a profile's compute, before anything trains: runs, views and minutes per notebook.

    python -m lib.report --profile cifar-cpu --plan

Every notebook's runs are built as configs by the builder its setup cell calls (``setup`` of its
module in :mod:`lib.report.notebooks`, the one copy); a run whose record
exists is counted as recorded, the others as pending. The time of a pending run is estimated from
rates *measured* by the records already in ``runs/`` on the same kind of device: the median training
throughput (views per second, logged every epoch) of runs with the same encoder and data set, and
the time runs of the same task spend outside their training steps (data, monitor, evaluation): a
fixed part plus a part per monitor evaluation, fitted over those records. A width without records is
scaled from the nearest measured one by the square of the width ratio (the convolutions' cost); with
no record at all the assumed rates below are used, and the line says so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import Config, resolve_runs_dir
from ..records import RECORD_FILE, existing_record, list_records
from ..training import job_views
from . import notebooks
from .grids import n_train_images

Group = Mapping[Any, Sequence[Config]]

# Training views per second assumed where no record measured a rate, by (encoder, device type): small_cnn
# (width 0.5) on the 2-core CPU of the development machine; resnet18 on one H100 in bf16 until a GPU record
# measures it. Other pairs have no estimate.
ASSUMED_VIEWS_PER_S = {("small_cnn", "cpu"): 3500.0, ("resnet18", "cuda"): 15000.0}
ASSUMED_OVERHEAD_S = {("small_cnn", "cpu"): 5.0, ("resnet18", "cuda"): 10.0}  # data, set-up, evaluation per run


def planned_views(config: Config) -> int:
    """Training views a run will process: steps per epoch x batch x epochs x views per image.

    Fine-tuning and supervised runs draw from the labelled fraction of the training images; the
    labelled count is rounded per data set, not per class, so it is approximate there.
    """
    n = n_train_images(config.dataset, config.train_size)
    if config.task in ("finetune", "supervised"):
        n = max(1, round(n * config.label_fraction))
    steps = n // config.batch_size
    return steps * config.batch_size * config.epochs * job_views(config)


# ---- rates measured by the records --------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    """What one complete record measured: its set-up and its rates."""

    task: str
    arch: str
    width: float
    dataset: str
    device_type: str
    views_per_s: float   # median over its epochs
    overhead_s: float    # wall time outside the training steps
    evaluations: int     # monitor evaluations (epoch 0, then every eval_every epochs)
    batch_size: int = 0
    final_eval: bool = True
    test_images: int = 0  # the test set its final evaluation scored (0: unknown)


def measure(record) -> Measured | None:
    """A record's training throughput and overhead; None when it logged no throughput."""
    rates = [e["views_per_second"] for e in record.epochs if e.get("views_per_second")]
    wall = record.provenance.get("wall_time_s")
    if not rates or not wall:
        return None
    train = sum(e.get("train_seconds", 0.0) for e in record.epochs)
    c = record.config
    return Measured(c.task, c.arch, c.width, c.dataset, record.provenance.get("device_type", ""),
                    statistics.median(rates), max(0.0, wall - train), evaluations(c), c.batch_size, c.final_eval,
                    n_test_images(c))


# Seconds per test image of one final evaluation battery (features, kNN, linear probe, retrieval, k-means)
# beyond the test set the records measured: 7.8 s more for 10,000 than for 2,000 test images of 128-d
# features on the 2-core development CPU under load (lib.evaluation.evaluation_battery), plus the features.
BATTERY_S_PER_TEST_IMAGE = 1.2e-3


def n_test_images(config: Config) -> int:
    """Test images a run is scored on: ``test_size``, or the whole test split (0) where it is known."""
    from ..data import TEST_IMAGES, image_folder_count

    if config.test_size:
        return config.test_size
    if config.dataset.startswith("imagefolder:"):
        try:
            return image_folder_count(config.dataset.removeprefix("imagefolder:"), "test")
        except (OSError, ValueError):
            return 0
    return TEST_IMAGES.get(config.dataset, 0)


def batteries(config: Config) -> int:
    """Final evaluation batteries of a run: on h, and on z where a contrastive run has a head."""
    if not config.final_eval or config.task not in ("pretrain", "supervised"):
        return 0
    return 1 + (1 if config.head_layers and (config.task == "pretrain" or config.loss_name != "ce") else 0)


def evaluations(config: Config) -> int:
    """How many times a run evaluates its monitor: at epoch 0 and every ``eval_every`` epochs."""
    return 1 + config.epochs // config.eval_every if config.monitor_size else 0


@lru_cache(maxsize=8)
def _measurements(runs_dir: str, n_records: int) -> tuple[Measured, ...]:
    found = (measure(r) for r in list_records(runs_dir))
    return tuple(m for m in found if m is not None)


def measurements(runs_dir: str | Path = "") -> tuple[Measured, ...]:
    """Every complete record's measurement (read again only when the folder holds another number of records)."""
    directory = resolve_runs_dir(runs_dir)
    return _measurements(str(directory), sum(1 for _ in directory.glob(f"*/{RECORD_FILE}")))


@dataclass(frozen=True)
class Rate:
    views_per_s: float
    overhead_s: float
    source: str  # "measured (n records)" or "assumed"


def rate_for(config: Config, device_type: str, found: Sequence[Measured]) -> Rate:
    """The estimated throughput and per-run overhead of ``config`` on ``device_type`` (see the module doc)."""
    same = [m for m in found if (m.arch, m.dataset, m.device_type) == (config.arch, config.dataset, device_type)]
    if not same:
        key = (config.arch, device_type)
        if key not in ASSUMED_VIEWS_PER_S:
            return Rate(math.nan, math.nan, "unknown")
        return Rate(ASSUMED_VIEWS_PER_S[key], ASSUMED_OVERHEAD_S[key], "assumed")
    nearest = min({m.width for m in same}, key=lambda w: abs(w - config.width))
    at_width = [m for m in same if m.width == nearest]
    # the encoder's throughput: from runs that train it on views (pretraining and supervised losses)
    # at the run's own batch size where records trained at it (a batch of 16 runs at a fifth of the rate of 256)
    trained = ([m for m in at_width if m.task == config.task and m.batch_size == config.batch_size]
               or [m for m in at_width if m.task in ("pretrain", "supervised") and m.batch_size == config.batch_size]
               or [m for m in at_width if m.task in ("pretrain", "supervised")] or at_width)
    views_per_s = statistics.median(m.views_per_s for m in trained) * (nearest / config.width) ** 2
    task = ([m for m in same if m.task == config.task and m.final_eval == config.final_eval]
            or [m for m in same if m.task == config.task] or same)
    extra = 0.0  # the final evaluation of a larger test set than the records scored
    measured_test = statistics.median(m.test_images for m in task) if task else 0
    if batteries(config) and measured_test:
        extra = batteries(config) * max(0, n_test_images(config) - measured_test) * BATTERY_S_PER_TEST_IMAGE
    return Rate(views_per_s, overhead(task, evaluations(config)) + extra, f"measured ({len(same)} records)")


def estimated_seconds(config: Config, rate: Rate) -> float:
    """A run's estimated wall time: its training views at ``rate`` (:func:`rate_for`), plus its overhead
    (nan where no record measured its encoder on the device)."""
    return planned_views(config) / rate.views_per_s + rate.overhead_s


def overhead(found: Sequence[Measured], n_evaluations: int) -> float:
    """Seconds a run spends outside its training steps: a fixed part (data, set-up, final evaluation)
    plus a part per monitor evaluation, fitted by least squares when the records evaluated different
    numbers of times, else their median."""
    xs, ys = [m.evaluations for m in found], [m.overhead_s for m in found]
    if len(set(xs)) < 2:
        return statistics.median(ys)
    slope, intercept = statistics.linear_regression(xs, ys)
    return max(0.0, intercept + max(0.0, slope) * n_evaluations) if slope > 0 else statistics.median(ys)


# ---- a notebook's plan -----------------------------------------------------------------------------

def plan(configs: Sequence[Config], device_type: str = "cpu", runs_dir: str | Path = "") -> dict[str, Any]:
    """Runs of a group: how many, how many already recorded, and the estimated time of the rest.

    Duplicated configs (the same run id) count once."""
    unique = list({c.run_id(): c for c in configs}.values())
    records = {c.run_id(): existing_record(c) for c in unique}
    pending = [c for c in unique if records[c.run_id()] is None]
    recorded_s = sum(r.provenance.get("wall_time_s") or 0.0 for r in records.values() if r is not None)
    found = measurements(runs_dir or (unique[0].runs_dir if unique else ""))
    rates = [rate_for(c, device_type, found) for c in pending]
    seconds = sum(estimated_seconds(c, r) for c, r in zip(pending, rates))
    sources = sorted({r.source.split(" (")[0] for r in rates})
    return {"runs": len(unique), "recorded": len(unique) - len(pending), "pending": [c.run_id() for c in pending],
            "pending_views": sum(planned_views(c) for c in pending), "estimated_minutes": seconds / 60,
            "rate": " and ".join(sources) or "-", "recorded_minutes": recorded_s / 60}


def plan_line(name: str, p: Mapping[str, Any]) -> str:
    """One sentence about :func:`plan`'s result."""
    todo = len(p["pending"])
    minutes = (f"about {p['estimated_minutes']:.0f} min at the {p['rate']} rate" if math.isfinite(p["estimated_minutes"])
               else "time unknown: no record measured this encoder on this device")
    estimate = f" ({p['pending_views'] / 1e6:.1f} M training views, {minutes})" if todo else ""
    return f"{name}: {p['runs']} runs, {p['recorded']} already recorded, {todo} to train{estimate}"


def plan_lines(groups: Mapping[str, Group], device_type: str = "cpu", pending_only: bool = False) -> str:
    """:func:`plan_line` of each named group of configs (``pending_only``: of the groups with runs to train)."""
    plans = {name: plan([c for cs in group.values() for c in cs], device_type) for name, group in groups.items()}
    return "\n".join(plan_line(name, p) for name, p in plans.items() if p["pending"] or not pending_only)


def show_pending(groups: Mapping[str, Group], device_type: str = "cpu") -> None:
    """Print, before a notebook trains, what it will train and for about how long (:func:`plan_lines` of
    the groups with runs to train); print nothing when every run is recorded: the page's banner says
    how many runs were loaded, and a line per group would only repeat it."""
    lines = plan_lines(groups, device_type, pending_only=True)
    if lines:
        print(lines)


# ---- every notebook's runs, from its parameter values ------------------------------------------------

def notebook_groups(stem: str, values: Mapping[str, Any]) -> dict[str, Group]:
    """The named groups of runs of notebook ``stem`` at parameter ``values``, built by the builder its setup
    cell calls (its module of :mod:`lib.report.notebooks`); {} for a notebook that trains nothing."""
    registered = notebooks.notebook(stem)
    return registered.groups(values) if registered else {}


def profile_plan(jobs: Sequence[tuple[Path, Mapping[str, Any], Mapping[str, Any]]], device_type: str) -> list[str]:
    """Lines of a profile's plan: per notebook its groups, then the notebook's total, then the profile's.

    ``jobs``: the runner's ``(source, declared parameters, values)`` per notebook."""
    lines, total_runs, total_pending, total_min, total_done, total_views = [], 0, 0, 0.0, 0.0, 0
    for source, declared, values in jobs:
        merged = {**{n: p.value for n, p in declared.items()}, **values}
        try:
            groups = notebook_groups(source.stem, merged)
        except (FileNotFoundError, ValueError) as exc:  # e.g. its data set is not on this machine
            lines.append(f"{source.stem}: not planned: {str(exc).splitlines()[0][:300]}")
            continue
        if not groups:
            lines.append(f"{source.stem}: trains nothing")
            continue
        plans = {name: plan([c for cs in g.values() for c in cs], device_type) for name, g in groups.items()}
        runs = sum(p["runs"] for p in plans.values())
        pending = sum(len(p["pending"]) for p in plans.values())
        minutes = sum(p["estimated_minutes"] for p in plans.values())
        views = sum(p["pending_views"] for p in plans.values())
        done = sum(p["recorded_minutes"] for p in plans.values())
        lines.append(f"{source.stem}: {runs} runs, {runs - pending} recorded ({done:.0f} min of wall time), "
                     f"{pending} to train" + (f", {views / 1e6:.1f} M views, {_minutes(minutes)}" if pending else ""))
        lines += [f"  {plan_line(name, p)}" for name, p in plans.items()]
        total_runs, total_pending = total_runs + runs, total_pending + pending
        total_min, total_done, total_views = total_min + minutes, total_done + done, total_views + views
    lines.append(f"total: {total_runs} runs, {total_runs - total_pending} recorded ({total_done / 60:.1f} h of wall "
                 f"time), {total_pending} to train" + (f", {total_views / 1e6:.1f} M views" if total_pending else "")
                 + f", {_minutes(total_min)} on {device_type}")
    return lines


def _minutes(m: float) -> str:
    return f"about {m:.0f} min" if math.isfinite(m) else "time unknown"
