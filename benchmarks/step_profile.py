"""Where a training step's time goes, and what each speed switch is worth: ``gpu_check.py``'s
``--profile-step`` and ``--ab`` stages.

- :func:`profile_step`: ``steps`` steps of the run's config (after ``warmup`` untimed ones) under
  ``torch.profiler``, then the epoch's metric read and one kNN monitor. It returns the top
  operators by device time (CUDA time on a GPU, CPU time on the CPU; ``time_basis`` says which) and
  the split of a step into the ranges of ``lib.step_options.REGIONS``.
- :func:`ab_table`: the current step's views/s and, in the same process, each switch turned the
  other way (``StepOptions.flipped``), at each batch size; the current step is timed again at
  the end, so drift over the call shows.

Every figure is per step, in milliseconds, unless its key says otherwise.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch.profiler import ProfilerActivity, profile

from lib import step_options, training
from lib.config import SPEED_SWITCHES, Config

TOP_OPERATORS = 25


def _device_us(event, attr: str) -> float:
    """An averaged event's device time in microseconds (``device_*`` in torch >= 2.4, ``cuda_*`` before)."""
    return float(getattr(event, attr.replace("cuda", "device"), None) or getattr(event, attr, 0.0) or 0.0)


def summarise(averages, steps: int, basis: str, top: int = TOP_OPERATORS) -> dict:
    """``prof.key_averages()`` -> the split into :data:`REGIONS` and the top operators, per step.

    A region's ``cpu_ms`` is the host time spent inside its range; ``device_ms`` the device time of
    what it launched (on CUDA, the larger of the kernels' time and the range's GPU annotation, which
    the profiler lists under the same name). ``basis`` ("cuda" or "cpu") picks which one ``ms`` and
    the ranking of operators use."""
    regions: dict[str, dict] = {}
    operators = []
    for e in averages:
        cpu_ms = e.cpu_time_total / 1e3 / steps
        device_ms = _device_us(e, "cuda_time_total") / 1e3 / steps
        if e.key in step_options.REGIONS:
            r = regions.setdefault(e.key, {"cpu_ms": 0.0, "device_ms": 0.0, "calls": 0})
            r["cpu_ms"] += cpu_ms
            r["device_ms"] = max(r["device_ms"], device_ms)
            r["calls"] += e.count
        elif not e.key.startswith("ProfilerStep"):
            self_ms = (_device_us(e, "self_cuda_time_total") if basis == "cuda" else e.self_cpu_time_total) / 1e3 / steps
            operators.append({"name": e.key, "calls_per_step": e.count / steps, "self_ms": self_ms,
                              "self_cpu_ms": e.self_cpu_time_total / 1e3 / steps,
                              "total_cpu_ms": cpu_ms, "total_device_ms": device_ms})
    for r in regions.values():
        r["ms"] = r["device_ms"] if basis == "cuda" else r["cpu_ms"]
    operators.sort(key=lambda o: o["self_ms"], reverse=True)
    return {"regions": {k: regions[k] for k in step_options.REGIONS if k in regions},
            "top_operators": operators[:top]}


def profile_step(config: Config, d: training.Data, device: torch.device, steps: int, warmup: int,
                 compile_backend: str = "inductor") -> dict:
    """The current step of ``config`` on ``device`` (``StepOptions.current``) profiled: ``steps`` steps
    and the metric read that ends an epoch in one profile, the kNN monitor in a second one."""
    options = step_options.StepOptions.current(config, device)
    torch._dynamo.reset()
    step = step_options.ProfiledStep(config, d, device, options, compile_backend)
    basis = "cuda" if device.type == "cuda" else "cpu"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if basis == "cuda" else [])
    t0 = time.perf_counter()
    for _ in range(warmup):
        step.step()
    step.read_metrics()
    step_options.sync(device)
    warmup_s = time.perf_counter() - t0
    with profile(activities=activities) as prof:
        t1 = time.perf_counter()
        for _ in range(steps):
            step.step()
        metrics = step.read_metrics()
        step_options.sync(device)
        wall_s = time.perf_counter() - t1
    result = summarise(prof.key_averages(), steps, basis)
    with profile(activities=activities) as prof_monitor:
        t2 = time.perf_counter()
        knn = step.monitor()
        step_options.sync(device)
        monitor_s = time.perf_counter() - t2
    monitor = summarise(prof_monitor.key_averages(), 1, basis, top=10)
    steps_per_epoch = len(d.train) // config.batch_size
    step_ms = 1e3 * wall_s / steps
    in_step = [k for k in step_options.REGIONS if k != "knn_monitor"]
    attributed = sum(result["regions"].get(k, {}).get("ms", 0.0) for k in in_step)
    return {"time_basis": basis, "options": options.on(), "compile_backend": compile_backend if options.compile else None,
            "batch_size": config.batch_size, "steps": steps, "warmup_steps": warmup, "warmup_seconds": warmup_s,
            "step_wall_ms": step_ms, "views_per_s": 2 * config.batch_size / (step_ms / 1e3),
            "regions_ms": {k: result["regions"].get(k, {}).get("ms", 0.0) for k in in_step},
            "attributed_ms": attributed, "regions": result["regions"], "top_operators": result["top_operators"],
            "metrics": metrics,
            "knn_monitor": {"wall_seconds": monitor_s, "per_step_ms_amortised": 1e3 * monitor_s / steps_per_epoch,
                            "steps_per_epoch": steps_per_epoch, "result": knn,
                            "regions": monitor["regions"], "top_operators": monitor["top_operators"]},
            "profiler_note": "regions are torch.profiler.record_function ranges in lib.step_options.ProfiledStep; the "
                             "profiler's own overhead is inside step_wall_ms"}


def ab_table(config: Config, d: training.Data, device: torch.device, names: list[str], batch_sizes: list[int],
             steps: int, warmup: int, compile_backend: str = "inductor",
             seconds_left: Callable[[], float] = lambda: float("inf"), log=print) -> dict:
    """Views/s of the current step and of each switch in ``names`` turned the other way, per batch size.

    A row's ``ratio`` is its views/s over the current step's (the first timing of it); ``gain`` is the
    rate with the switch on over the rate with it off, whichever of the two is the current step. A
    switch this device cannot run is recorded as skipped with the reason, as is one that no longer
    fits in ``seconds_left()`` (estimated from the slowest build and timing so far); one that fails
    records its error and the table goes on."""
    rows, slowest = [], 0.0

    def timed(cfg: Config, options: step_options.StepOptions) -> dict:
        nonlocal slowest
        t0 = time.perf_counter()
        torch._dynamo.reset()  # every row compiles its own graphs, at its static shapes (no dynamic-shape reuse)
        step = step_options.ProfiledStep(cfg, d, device, options, compile_backend)
        rate = step.views_per_second(steps, warmup)
        del step
        if device.type == "cuda":
            torch.cuda.empty_cache()
        slowest = max(slowest, time.perf_counter() - t0)
        return rate

    for batch in batch_sizes:
        cfg = config.replace(batch_size=batch)
        current = step_options.StepOptions.current(cfg, device)
        base = timed(cfg, current)
        log(f"batch {batch}: current step ({', '.join(current.on())}): {base['views_per_s']:,.0f} views/s")
        for name in names:
            variant = current.flipped(name)
            row = {"batch_size": batch, "switch": name, "current": getattr(current, name),
                   "variant": getattr(variant, name), "options": variant.on()}
            reason = variant.refusal(device)
            if reason is None and seconds_left() < 1.5 * slowest:
                reason = f"deadline: {seconds_left():.0f} s left, a timing took up to {slowest:.0f} s"
            if reason is not None:
                rows.append({**row, "skipped": reason})
                log(f"batch {batch}: {name} skipped: {reason}")
                continue
            try:
                rate = timed(cfg, variant)
            except Exception as e:  # a compile failure on one switch must not lose the rest of the table
                rows.append({**row, "error": f"{type(e).__name__}: {e}"[:500]})
                log(f"batch {batch}: {name} failed: {type(e).__name__}: {e}")
                continue
            ratio = rate["views_per_s"] / base["views_per_s"]
            rows.append({**row, **rate, "current_views_per_s": base["views_per_s"], "ratio": ratio,
                         "gain": ratio if row["variant"] else 1 / ratio})
            log(f"batch {batch}: {name} {'on' if row['variant'] else 'off'}: {rate['views_per_s']:,.0f} views/s "
                f"({ratio:.3f}x the current step)")
        again = timed(cfg, current) if seconds_left() >= 1.5 * slowest else None
        rows.append({"batch_size": batch, "switch": None, "options": current.on(), "current_views_per_s":
                     base["views_per_s"], "repeat_views_per_s": again["views_per_s"] if again else None,
                     **{f"first_{k}": v for k, v in base.items()}})
    return {"steps": steps, "warmup_steps": warmup, "compile_backend": compile_backend, "rows": rows}


def best_switches(ab: dict, batch_size: int, margin: float = 1.02) -> dict[str, bool]:
    """Each switch whose flipped state ran more than ``margin`` times the current step's views/s at
    ``batch_size``, with that state (True: on). One timing per row, so ``margin`` keeps a difference
    within the timing's noise from changing the run."""
    return {r["switch"]: bool(r["variant"]) for r in ab["rows"]
            if r.get("switch") and r["batch_size"] == batch_size and r.get("ratio", 0.0) > margin}


def run_overrides(switches: dict[str, bool], config: Config) -> tuple[dict, list[str]]:
    """The config overrides that make ``lib.training.run`` train with ``switches`` (name -> on), and the
    switches it cannot take: channels_last and device-summed metrics are how every run trains."""
    overrides: dict = {}
    speed = list(config.speed_list)
    not_applied = []
    for name, on in switches.items():
        if name == "compile":
            overrides["compile"] = on
        elif name == "bf16":
            overrides["precision"] = "bf16" if on else "fp32"
        elif name in SPEED_SWITCHES:
            speed = [s for s in speed if s != name] + ([name] if on else [])
        else:
            not_applied.append(name)
    if speed != list(config.speed_list):
        overrides["speed"] = ",".join(speed)
    return overrides, not_applied
