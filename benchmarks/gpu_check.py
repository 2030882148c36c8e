"""The GPU check: one script for one device call of at most 9 minutes.

1. **Environment**: torch and CUDA versions, the device, bf16 support, free memory, Triton (for
   ``torch.compile``), the peer libraries and the data. Fails loudly, before any compute, when
   something is missing.
2. **Benchmark table**: ``throughput.py``'s measurements on this device — ResNet-18, batch 512,
   ``torch.compile`` — ours against torchvision-PIL, lightly and kornia, time per epoch, time to
   evaluate, FLOPs and the fraction of the measured peak.
3. **Time to accuracy**: one SimCLR pretraining run through ``lib.training.run`` (ResNet-18,
   CIFAR-10 from the JPEG image folder) whose number of epochs is sized from the epoch and
   evaluation times just measured so that it ends inside ``--budget-minutes``; prints kNN top-1
   on the test split against wall time.
4. **Results**: ``<out>/gpu_check-<date>.json`` (everything above with provenance), the
   benchmark's ``throughput-cuda-resnet18.json`` and a copy of the run's record (its JSON files,
   no checkpoints) in ``<out>/gpu_check-<date>-run/``.

With ``--profile-step`` and ``--ab`` (``step_profile.py``), before the table: where the time of one
training step of the run's config goes (``torch.profiler``: top operators and the split into
augmentation, forward, loss, backward, LARS, host syncs and the kNN monitor), and each speed switch
of ``lib/step_options.py`` timed against the current step at ``--ab-batch-sizes``;
``--run-best-switches`` then trains the time-to-accuracy run with the switches that won.

Targets it reports against (the speed issue): >= 50,000 training views/s, >= 5x the PIL +
DataLoader pipeline, 90 % kNN top-1 within 15 minutes, evaluation of 50,000 + 10,000 images in
< 2 s. ``--tiny`` runs the same code on the CPU with the embedded sample, a small CNN, a few hundred
images and one or two epochs in well under a minute; the test suite runs it, so the script cannot
rot between GPU sessions.

    python benchmarks/gpu_check.py --data data/cifar10-jpeg.tar.gz --out "$OUT"   # on the GPU machine
    python benchmarks/gpu_check.py --tiny --out /tmp/gpu_check                    # anywhere
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))          # throughput.py beside this file
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # lib

import step_profile  # noqa: E402
import throughput  # noqa: E402
from lib import checkpoints, recipes, step_options, training  # noqa: E402
from lib.config import Config, parse_override, split_list  # noqa: E402
from lib.records import (CONFIG_FILE, EMBEDDINGS_FILE, METRICS_FILE, RECORD_FILE, atomic_write_bytes,  # noqa: E402
                         atomic_write_json, device_description, git_state, library_versions, now_iso)

TARGETS = {"train_views_per_s": 50_000, "speedup_vs_pil": 5.0, "knn_top1": 0.90, "minutes_to_knn": 15.0,
           "evaluation_seconds": 2.0}
CHECKPOINT_SECONDS = 60.0  # the time-to-accuracy run checkpoints once a minute (9 % of its wall time went
                           # to a checkpoint after every epoch in the first check)
RECIPE_FIXED = ("task", "dataset", "runs_dir", "device", "train_size", "test_size", "monitor_size")
TINY_TRAIN = 256  # --tiny: training images (four steps of 64)
TINY_EPOCHS = 2  # --tiny: at most this many epochs, also when --epochs or epochs=N asks for more
TINY_BATCH_DIVISOR = 8  # --tiny: --ab-batch-sizes divided by this (the tiny batch 64 is the recipe's 512 / 8)
BEST_MARGIN = 1.02  # --run-best-switches: a switch must beat the current step by 2 % in its one timing
CPU_SPEEDUP_TARGET = 2.0  # small CNN on the CPU: >= 2x the PIL + DataLoader pipeline
DEFAULT_TARBALLS = ("data/cifar10-jpeg.tar.gz", ".device_data/cifar10-jpeg.tar.gz",
                    "../shared/data/cifar10-jpeg.tar.gz")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true",
                   help="CPU, the embedded sample, a small CNN, a few hundred images: the test suite's smoke run")
    p.add_argument("--data", default="",
                   help="CIFAR-10 image folder (with train/ and test/) or its .tar.gz; default: data/cifar10-jpeg if "
                        f"unpacked, else the first of {', '.join(DEFAULT_TARBALLS)}")
    p.add_argument("--unpack-to", default="data/cifar10-jpeg", help="where a tarball is unpacked (ignored by git)")
    p.add_argument("--out", default="", help="folder for the results (default benchmarks/results; "
                                             "--tiny: runs/_tmp_gpu_check)")
    p.add_argument("--deadline-minutes", type=float, default=8.5,
                   help="wall time of the whole script; the time-to-accuracy run gets what is left")
    p.add_argument("--budget-minutes", type=float, default=0.0,
                   help="wall time of the time-to-accuracy run (0 = what is left before the deadline)")
    p.add_argument("--epochs", type=int, default=0, help="epochs of the time-to-accuracy run (0 = sized by the budget)")
    p.add_argument("--max-epochs", type=int, default=1000, help="upper bound on the sized epochs")
    p.add_argument("--skip-bench", action="store_true", help="no benchmark table (then --epochs is needed)")
    p.add_argument("--skip-run", action="store_true", help="no time-to-accuracy run")
    p.add_argument("--allow-missing-peers", action="store_true",
                   help="run the table without lightly or kornia when they are not installed")
    p.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1),
                   help="DataLoader workers of the PIL peers (also timed with 0)")
    # the time-to-accuracy recipe: a reference recipe file (configs/recipes/), by default the official SimCLR
    # code's CIFAR-10 command (LARS, trust coefficient 0.001, lr 1.0 x batch/256, weight decay 1e-4,
    # temperature 0.5, a 3-layer head). The first check (2026-11-28) ran solo-learn's rate 0.4 x batch/256
    # with the official LARS, whose trust coefficient is 20x smaller than solo-learn's (see benchmarks/README.md).
    p.add_argument("--base", default=recipes.DEFAULT,
                   help=f"the recipe every run starts from: a name in configs/recipes ({', '.join(recipes.names())}) or "
                        "a .toml file; its optimiser, loss, views and head are used, its warm-up as a fraction of the run")
    p.add_argument("--batch-size", type=int, default=0, help="batch size (0 = the recipe's)")
    p.add_argument("--evals", type=int, default=15, help="about this many kNN evaluations along the run")
    p.add_argument("--recipe", action="append", default=[], metavar="'[RECIPE] [KEY=VALUE ...]'",
                   help="a recipe to compare: optionally a recipe name or file (instead of --base), then config "
                        "overrides separated by spaces (e.g. 'dkobak_cifar10 lr=0.06' or 'temperature=0.2'); "
                        "repeat it to run several, one after the other, each in an equal share of the budget "
                        "(or its own epochs=N) and each with a full learning-rate schedule")
    # where a step's time goes and what each speed switch is worth (lib/step_options.py), before the table
    p.add_argument("--profile-step", action="store_true",
                   help="profile --profile-steps steps of the run's step under torch.profiler (after a warm-up): top "
                        "operators by device time and the split into augmentation, forward, loss, backward, "
                        "optimiser, host syncs and the kNN monitor")
    p.add_argument("--profile-steps", type=int, default=30, help="steps profiled by --profile-step")
    p.add_argument("--ab", default="", metavar="'SWITCH,SWITCH'",
                   help=f"time the current step and each named switch turned the other way: {', '.join(step_options.SWITCHES)}")
    p.add_argument("--ab-batch-sizes", default="", help="batch sizes of the --ab table, e.g. 512,1024 (default: the run's)")
    p.add_argument("--ab-steps", type=int, default=20, help="timed steps per --ab row")
    p.add_argument("--ab-warmup", type=int, default=5, help="untimed steps before each --ab timing (compilation)")
    p.add_argument("--ab-minutes", type=float, default=0.0,
                   help="wall time of the --ab table (0 = up to the deadline); rows that would not fit are "
                        "recorded as skipped, so the time-to-accuracy run keeps its time")
    p.add_argument("--run-best-switches", action="store_true",
                   help="train the time-to-accuracy run with every switch the --ab table found faster (by more than "
                        f"{BEST_MARGIN}x) at the run's batch size; overrides given in --recipe win")
    args = p.parse_args(argv)
    if args.run_best_switches and (not args.ab or len(args.recipe) > 1):
        p.error("--run-best-switches needs --ab and at most one --recipe")
    try:
        args.ab_switches = step_options.parse_switches(args.ab) if args.ab else []
    except ValueError as e:
        p.error(f"--ab: {e}")
    try:
        args.ab_batches = [int(b) for b in split_list(args.ab_batch_sizes)]
    except ValueError:
        p.error(f"--ab-batch-sizes: expected comma-separated integers, got {args.ab_batch_sizes!r}")
    for name in ("profile_steps", "ab_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.ab_warmup < 0 or args.ab_minutes < 0 or any(b < 2 for b in args.ab_batches):
        p.error(f"--ab-warmup and --ab-minutes must be >= 0 and every --ab-batch-sizes entry >= 2; got "
                f"{args.ab_warmup}, {args.ab_minutes}, {args.ab_batch_sizes!r}")
    try:
        args.recipes = [parse_recipe(text) for text in args.recipe] or [{}]
    except (ValueError, FileNotFoundError) as e:
        p.error(f"--recipe: {e}")
    try:
        args.batch_size = args.batch_size or recipes.load(args.base).batch_size
    except (ValueError, FileNotFoundError) as e:
        p.error(f"--base: {e}")
    if args.skip_bench and not args.skip_run and args.epochs < 1 and any("epochs" not in r for r in args.recipes):
        p.error("--skip-bench leaves no measured epoch time to size the run: give --epochs (or epochs=N in "
                "every --recipe)")
    return args


# ---- pure helpers ----------------------------------------------------------------------------

def epochs_for_budget(budget_s: float, overhead_s: float, epoch_s: float, eval_s: float, evals: int,
                      max_epochs: int) -> tuple[int, int]:
    """Epochs, and epochs between kNN evaluations, that fit ``budget_s`` seconds.

    The run costs ``overhead_s`` (data, compilation, the epoch-0 evaluation) plus, per epoch,
    ``epoch_s`` of training and, every ``eval_every`` epochs, ``eval_s`` of evaluation (the last
    epoch is always evaluated). ``eval_every`` is chosen for about ``evals`` evaluations. At least
    one epoch, at most ``max_epochs``.
    """
    if epoch_s <= 0 or eval_s < 0 or budget_s <= 0 or evals < 1 or max_epochs < 1:
        raise ValueError(f"need epoch_s > 0, eval_s >= 0, budget_s > 0, evals >= 1, max_epochs >= 1; got "
                         f"{epoch_s}, {eval_s}, {budget_s}, {evals}, {max_epochs}")
    left = budget_s - overhead_s - eval_s                     # the final evaluation is always run
    first_guess = max(1, min(max_epochs, math.floor(left / epoch_s)))
    eval_every = max(1, first_guess // evals)
    epochs = math.floor(left / (epoch_s + eval_s / eval_every))
    return max(1, min(max_epochs, epochs)), eval_every


def parse_recipe(text: str) -> dict:
    """``'[recipe] key=value key=value'`` -> the typed config overrides, with the recipe (a name in
    configs/recipes or a file) under the key ``"recipe"``; every other key must be a config parameter."""
    items = text.split()
    if not items:
        raise ValueError(f"empty recipe {text!r}")
    out: dict = {}
    if "=" not in items[0]:
        out["recipe"] = str(recipes.path(items[0]))  # an unknown recipe fails here
        items = items[1:]
    pairs = [parse_override(item) for item in items]
    fixed = [k for k, _ in pairs if k in RECIPE_FIXED]
    if fixed:
        raise ValueError(f"a recipe may not change {', '.join(fixed)} (the check measures one task and data set)")
    return {**out, **dict(pairs)}


def recipe_label(overrides: dict) -> str:
    parts = [Path(v).stem if k == "recipe" else f"{k}={v}" for k, v in overrides.items()]
    return " ".join(parts) or "default"


def first_reaching(curve: list[dict], key: str, target: float) -> dict | None:
    """The first point of ``curve`` whose ``key`` is at least ``target``, or None."""
    return next((pt for pt in curve if pt.get(key) is not None and pt[key] >= target), None)


def safe_extract(tarball: Path, dest: Path) -> None:
    """Unpack ``tarball`` into ``dest``, refusing members that would land outside it, links and
    device files (tarfile's "data" filter)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")


def resolve_data(spec: str, unpack_to: Path) -> Path:
    """The image folder to train on: ``spec`` when it is one, else the tarball ``spec`` (or the
    first default tarball found) unpacked into ``unpack_to``, which is reused once unpacked."""
    if spec and Path(spec).is_dir():
        folder = Path(spec)
    elif (unpack_to / "train").is_dir() and (unpack_to / "test").is_dir() and not spec:
        folder = unpack_to
    else:
        candidates = [spec] if spec else [t for t in DEFAULT_TARBALLS if Path(t).is_file()]
        if not candidates or not Path(candidates[0]).is_file():
            raise FileNotFoundError(f"no CIFAR-10 image folder or tarball: --data {spec!r}; tried {unpack_to} and "
                                    f"{', '.join(DEFAULT_TARBALLS)}")
        if not ((unpack_to / "train").is_dir() and (unpack_to / "test").is_dir()):
            t0 = time.perf_counter()
            safe_extract(Path(candidates[0]), unpack_to)
            print(f"unpacked {candidates[0]} into {unpack_to} in {time.perf_counter() - t0:.1f} s", flush=True)
        folder = unpack_to
    for split in ("train", "test"):
        if not (folder / split).is_dir():
            raise FileNotFoundError(f"{folder} has no {split}/ folder: not an image folder of CIFAR-10")
    return folder


class EpochClock:
    """Wall time at which each epoch's line appears in a run's ``metrics.jsonl`` (polled every
    ``interval`` seconds from a thread, so the run itself is untouched): epoch -> seconds since
    the clock started. Resolution: ``interval``. The file is mirrored to ``mirror`` as it grows,
    so the curve survives a run that is stopped before it can be copied."""

    def __init__(self, path: Path, mirror: Path | None = None, interval: float = 0.2):
        self.path, self.mirror, self.interval = path, mirror, interval
        self._text = ""
        self.t0 = time.perf_counter()
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "EpochClock":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._read()  # the last epoch, if the run ended between two polls

    def _read(self) -> None:
        try:
            text = self.path.read_text()
        except OSError:
            return
        now = time.perf_counter() - self.t0
        if self.mirror is not None and text != self._text:
            self.mirror.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.mirror, text.encode())
            self._text = text
        for line in text.splitlines():
            try:
                epoch = int(json.loads(line)["epoch"])
            except (ValueError, KeyError, TypeError):
                continue  # a line being written: next poll
            self.seen.setdefault(epoch, now)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._read()


# ---- the steps -------------------------------------------------------------------------------

def check_environment(tiny: bool, need_compile: bool, peers: tuple[str, ...], allow_missing_peers: bool) -> dict:
    """What this machine offers; raises SystemExit listing every missing requirement."""
    env: dict = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda_runtime": torch.version.cuda,
                 "cuda_available": torch.cuda.is_available(), "cpu_count": os.cpu_count(),
                 "torch_threads": torch.get_num_threads()}
    problems = []
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        free, total = torch.cuda.mem_get_info(0)
        env.update(device=props.name, capability=f"{props.major}.{props.minor}",
                   multiprocessors=props.multi_processor_count, bf16=torch.cuda.is_bf16_supported(),
                   free_memory_gib=round(free / 2 ** 30, 1), total_memory_gib=round(total / 2 ** 30, 1),
                   cudnn=torch.backends.cudnn.version())
        if not env["bf16"]:
            problems.append(f"{props.name} does not support bf16")
        if free < 8 * 2 ** 30:
            problems.append(f"only {free / 2 ** 30:.1f} GiB of GPU memory free")
    elif not tiny:
        problems.append("no CUDA device (torch.cuda.is_available() is False); use --tiny for the CPU smoke run")
    if need_compile:
        try:
            import triton
            env["triton"] = triton.__version__
        except ImportError:
            problems.append("triton is not installed: torch.compile cannot generate GPU kernels")
    for peer in peers:
        env[peer] = throughput.peer_available(peer)
        if env[peer] is None and not allow_missing_peers:
            problems.append(f"{peer} is not installed (carry its wheels, see benchmarks/README.md, or "
                            f"--allow-missing-peers)")
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    if problems:
        raise SystemExit("environment check failed:\n  " + "\n  ".join(problems))
    return env


def bench_argv(args: argparse.Namespace, dataset: str, out: Path) -> list[str]:
    peers = ["--allow-missing-peers"] if args.allow_missing_peers else []
    if args.tiny:
        return ["--dataset", dataset, "--arch", "small_cnn", "--width", "0.5", "--train-size", str(TINY_TRAIN),
                "--test-size", "200", "--batch-size", "64", "--steps", "2", "--warmup", "1", "--workers", "0",
                "--threads", "1", "--device", "cpu", "--out", str(out)] + peers
    return ["--dataset", dataset, "--arch", "resnet18", "--train-size", "50000", "--batch-size", str(args.batch_size),
            "--steps", "20", "--warmup", "3", "--workers", str(args.workers), "--device", "cuda", "--compile",
            "--out", str(out)] + peers


def run_config(args: argparse.Namespace, dataset: str, epochs: int, eval_every: int, runs_dir: Path,
               recipe: str | None = None) -> Config:
    """The time-to-accuracy run: SimCLR with ``recipe`` (default ``--base``) on ResNet-18 with the CIFAR
    stem, kNN (k=200, t=0.1) on the whole test split. Epoch checkpoints are written once a minute
    (``checkpoint_seconds``), not after every two-second epoch."""
    common = dict(task="pretrain", dataset=dataset, epochs=epochs, eval_every=eval_every, final_eval=False,
                  runs_dir=str(runs_dir), progress=True, wandb="disabled", seed=0, checkpoint_seconds=CHECKPOINT_SECONDS)
    if args.tiny:
        config = Config(**common, arch="small_cnn", width=0.5, train_size=TINY_TRAIN, test_size=200, monitor_size=200,
                        batch_size=64, knn_k=20, save_embeddings=50, device="cpu")
    else:
        config = Config(**common, arch="resnet18", stem="cifar", batch_size=args.batch_size,
                        monitor_size=10000, device="cuda", compile=True)
    return recipes.apply(config, recipe or args.base)


def checkpoint_seconds(config: Config) -> float:
    """Seconds to write one epoch checkpoint of ``config``'s model as the training loop does
    (weights and one momentum buffer per parameter, from the device), the second of two writes."""
    device = training.resolve_device(config.device)
    model = training.build_contrastive_model(config, 3, 32, (0.5,) * 3, (0.25,) * 3).to(device)
    state = {"model": model.state_dict(),
             "optimizer": {"momentum_buffer": [torch.zeros_like(p) for p in model.parameters()]}}
    with tempfile.TemporaryDirectory(prefix="gpu_check_ckpt_") as tmp:
        checkpoints.save_epoch(Path(tmp), 1, state)
        t0 = time.perf_counter()
        checkpoints.save_epoch(Path(tmp), 2, state)
        return time.perf_counter() - t0


def time_to_accuracy(args: argparse.Namespace, dataset: str, bench: dict | None, budget_s: float,
                     run_copy: Path, overrides: dict | None = None) -> dict:
    """Size, run and summarise one time-to-accuracy run (the default recipe changed by
    ``overrides``); copies its record to ``run_copy``."""
    overrides = dict(overrides or {})
    recipe = overrides.pop("recipe", None)
    given = overrides.pop("epochs", 0) or args.epochs
    if args.tiny and given:
        given = min(given, TINY_EPOCHS)  # the GPU call's command line checked in seconds
    label = recipe_label({"recipe": recipe or args.base, **overrides})
    if given:
        epochs, eval_every = given, max(1, given // args.evals)
        sizing = {"epochs_given": given}
    else:
        r = bench["results"]
        train_s = r["epoch"]["ours_seconds"]  # the benchmark's epoch: the run's images, backbone and batch size
        save_s = checkpoint_seconds(run_config(args, dataset, 1, 1, Path(tempfile.gettempdir()), recipe))
        eval_s = r["evaluation"]["seconds"]
        # data, compilation (its cache is warm after the benchmark), the epoch-0 evaluation
        overhead_s = 15.0 + 1.5 * r["train_views_per_s"]["ours_warmup_seconds"] + eval_s
        max_epochs = 2 if args.tiny else args.max_epochs
        # one checkpoint a minute: an epoch of train_s seconds pays that fraction of a write
        save_per_epoch_s = save_s * min(1.0, train_s / CHECKPOINT_SECONDS)
        epochs, eval_every = epochs_for_budget(budget_s, overhead_s, train_s + save_per_epoch_s, eval_s, args.evals,
                                               max_epochs)
        sizing = {"budget_seconds": budget_s, "epoch_train_seconds": train_s, "epoch_checkpoint_seconds": save_s,
                  "evaluation_seconds": eval_s, "overhead_seconds": overhead_s, "max_epochs": max_epochs}
    runs_dir = Path(tempfile.mkdtemp(prefix="gpu_check_runs_"))
    default = run_config(args, dataset, epochs, eval_every, runs_dir, recipe)
    config = default.replace(**overrides)
    if not given and config.batch_size != default.batch_size:
        sizing["epoch_time_measured_at_batch"] = default.batch_size
    print(f"time to accuracy [{label}]: {config.arch}, {epochs} epochs of batch "
          f"{config.batch_size}, lr {config.scaled_lr:.3g}, kNN every {eval_every} epochs "
          f"({json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in sizing.items()})})",
          flush=True)
    t0 = time.perf_counter()
    try:
        with EpochClock(runs_dir / config.run_id() / METRICS_FILE, mirror=run_copy / METRICS_FILE) as clock:
            record = training.run(config, force=True)
        wall = time.perf_counter() - t0
        curve = []
        for e in record.epochs:
            curve.append({"epoch": e["epoch"], "wall_seconds": clock.seen.get(e["epoch"]),
                          "train_seconds_cumulative": sum(x.get("train_seconds", 0.0) for x in record.epochs
                                                          if x["epoch"] <= e["epoch"]),
                          "knn_top1": e.get("knn_top1"), "views_per_second": e.get("views_per_second")})
        print(f"{'epoch':>6}{'wall s':>9}{'train s':>9}{'kNN top-1':>11}")
        for pt in curve:
            if pt["knn_top1"] is not None:
                print(f"{pt['epoch']:>6}{pt['wall_seconds'] or float('nan'):>9.1f}"
                      f"{pt['train_seconds_cumulative']:>9.1f}{pt['knn_top1']:>11.4f}")
        reached = first_reaching(curve, "knn_top1", TARGETS["knn_top1"])
        run_copy.mkdir(parents=True, exist_ok=True)
        for name in (RECORD_FILE, CONFIG_FILE, METRICS_FILE, EMBEDDINGS_FILE):
            if (record.directory / name).is_file():
                shutil.copy2(record.directory / name, run_copy / name)
        knn = [pt["knn_top1"] for pt in curve if pt["knn_top1"] is not None]
        return {"recipe": label, "base": recipe or args.base, "overrides": overrides,
                "run_id": record.run_id, "config": config.to_dict(), "sizing": sizing, "wall_seconds": wall,
                "curve": curve, "final_knn_top1": knn[-1], "best_knn_top1": max(knn),
                "reached_target": reached, "record_copy": str(run_copy)}
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)  # checkpoints are large and never kept


def write_tarball(members, tarball: Path) -> None:
    """``(path, name in the archive)`` pairs as a .tar.gz, written atomically (a reader, or a device
    call cut off by its time limit, never sees half a file)."""
    buffer = io.BytesIO()  # records and JSON results: megabytes (checkpoints are never packed)
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, name in members:
            tar.add(path, arcname=name)
    atomic_write_bytes(tarball, buffer.getvalue())


def pack_dir(folder: Path, tarball: Path) -> None:
    """``folder``'s contents as a .tar.gz, atomically."""
    write_tarball(((path, path.name) for path in sorted(folder.iterdir())), tarball)


def print_recipes(runs: list[dict]) -> None:
    """The recipes side by side: kNN at the end and best, and the wall time of each run."""
    print(f"\n{'recipe':<60}{'epochs':>7}{'wall s':>8}{'final kNN':>11}{'best kNN':>10}")
    for r in runs:
        print(f"{r['recipe'][:59]:<60}{r['config']['epochs']:>7}{r['wall_seconds']:>8.0f}"
              f"{r['final_knn_top1']:>11.4f}{r['best_knn_top1']:>10.4f}")


def verdicts(bench: dict | None, tta: dict | None, tiny: bool) -> dict:
    """Each target with the measured figure and whether it is met (a CPU run is held to the CPU
    target only; its other figures are recorded, not judged)."""
    out: dict = {}
    if bench is not None:
        r = bench["results"]
        speedup = r["train_views_per_s"]["speedup"]
        if tiny:
            out["speedup_vs_pil_cpu"] = {"target": CPU_SPEEDUP_TARGET, "measured": speedup,
                                         "met": speedup >= CPU_SPEEDUP_TARGET}
        else:
            rate = r["train_views_per_s"]["ours"]
            out["train_views_per_s"] = {"target": TARGETS["train_views_per_s"], "measured": rate,
                                        "met": rate >= TARGETS["train_views_per_s"]}
            out["speedup_vs_pil"] = {"target": TARGETS["speedup_vs_pil"], "measured": speedup,
                                     "met": speedup >= TARGETS["speedup_vs_pil"]}
            if "evaluation" in r:
                ev = r["evaluation"]["seconds"]
                out["evaluation_seconds"] = {"target": TARGETS["evaluation_seconds"], "measured": ev,
                                             "met": ev < TARGETS["evaluation_seconds"],
                                             "images": r["evaluation"]["train_images"] + r["evaluation"]["test_images"]}
    if tta is not None and not tiny:
        reached = tta["reached_target"]
        minutes = reached["wall_seconds"] / 60 if reached and reached["wall_seconds"] is not None else None
        out["knn_90_within_15_min"] = {"target": f"kNN >= {TARGETS['knn_top1']} within {TARGETS['minutes_to_knn']} min",
                                       "measured_minutes": minutes, "best_knn_top1": tta["best_knn_top1"],
                                       "met": minutes is not None and minutes <= TARGETS["minutes_to_knn"]}
    return out


def step_stages(args: argparse.Namespace, dataset: str, device: torch.device, result: dict, write,
                t_start: float) -> None:
    """``--profile-step`` and ``--ab`` on the time-to-accuracy run's config (the recipe, 100 epochs for
    its schedule unless --epochs says otherwise), into ``result["step_profile"]`` and ``result["ab"]``.
    On --tiny, torch.compile uses the aot_eager backend (the same graphs, no kernel generation, which
    takes about a minute per model on a 2-core CPU) and the A/B batch sizes are divided by
    ``TINY_BATCH_DIVISOR``, so the GPU call's command line runs unchanged in seconds."""
    config = run_config(args, dataset, args.epochs or 100, 1, Path(tempfile.gettempdir()))
    backend = "aot_eager" if args.tiny else "inductor"
    t0 = time.perf_counter()
    d = training.prepare_data(config, device)
    print(f"\n== step stages: {config.arch}, batch {config.batch_size}, {len(d.train)} training images "
          f"(loaded in {time.perf_counter() - t0:.1f} s) ==", flush=True)
    if args.profile_step:
        prof = step_profile.profile_step(config, d, device, args.profile_steps, 2 if args.tiny else 10, backend)
        result["step_profile"] = prof
        print(f"step profile ({prof['time_basis']} time, ms per step of {prof['step_wall_ms']:.2f} ms wall; "
              f"kNN monitor {prof['knn_monitor']['wall_seconds']:.2f} s per epoch): " + ", ".join(
                  f"{k} {v:.2f}" for k, v in prof["regions_ms"].items()), flush=True)
        for op in prof["top_operators"][:10]:
            print(f"  {op['self_ms']:8.3f} ms  {op['calls_per_step']:6.1f} calls  {op['name']}")
        write("step profile done")
    if args.ab_switches:
        deadline = args.deadline_minutes * 60 - (time.perf_counter() - t_start)
        if args.ab_minutes:
            deadline = min(deadline, args.ab_minutes * 60)
        t_ab = time.perf_counter()

        def seconds_left() -> float:
            return deadline - (time.perf_counter() - t_ab)

        batches = args.ab_batches or [config.batch_size]
        if args.tiny:
            batches = sorted({max(2, min(len(d.train), b // TINY_BATCH_DIVISOR)) for b in batches})
        result["ab"] = step_profile.ab_table(config, d, device, args.ab_switches, batches, args.ab_steps,
                                             args.ab_warmup, backend, seconds_left)
        write("A/B table done")
    del d
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.tiny:
        torch.set_num_threads(1)  # a smoke run on a shared CPU: one thread does not thrash
    try:
        return _main(args, argv)
    finally:
        torch.set_num_threads(threads)


def _main(args: argparse.Namespace, argv) -> dict:
    t_start = time.perf_counter()
    out = Path(args.out or ("runs/_tmp_gpu_check" if args.tiny else "benchmarks/results"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    name = f"gpu_check-{'tiny-' if args.tiny else ''}{stamp}"
    device = torch.device("cpu" if args.tiny else "cuda")
    argv = list(sys.argv[1:] if argv is None else argv)
    result: dict = {"benchmark": "gpu_check", "name": name, "status": "running", "tiny": args.tiny,
                    "provenance": {"device": "", "device_type": device.type, "date": now_iso(), **git_state(),
                                   "versions": library_versions(), "argv": argv}}

    def write(status: str) -> Path:
        # written after every stage, so a run stopped by the call's time limit still leaves its figures
        result.update(status=status, wall_seconds=time.perf_counter() - t_start)
        path = out / f"{name}.json"
        atomic_write_json(path, result)
        return path

    for overrides in args.recipes:  # a bad recipe fails here, before any compute
        run_config(args, "sample", 10, 1, Path(tempfile.gettempdir()), overrides.get("recipe")).replace(
            **{k: v for k, v in overrides.items() if k not in ("epochs", "recipe")})
    result["environment"] = check_environment(args.tiny, need_compile=not args.tiny,
                                              peers=() if args.skip_bench else throughput.AUGMENT_PEERS,
                                              allow_missing_peers=args.allow_missing_peers)
    result["provenance"]["device"] = device_description(device)
    dataset = "sample" if args.tiny else f"imagefolder:{resolve_data(args.data, Path(args.unpack_to))}"
    result["dataset"] = dataset
    write("environment checked")

    if args.profile_step or args.ab_switches:
        step_stages(args, dataset, device, result, write, t_start)

    bench = None
    if not args.skip_bench:
        print("\n== benchmark table ==", flush=True)
        bench = throughput.run_benchmark(throughput.parse_args(bench_argv(args, dataset, out)))
        print(throughput.format_table(bench), flush=True)
        path = throughput.result_path(bench, out)
        atomic_write_json(path, bench)
        print(f"wrote {path}", flush=True)
    result["throughput"] = bench
    write("benchmark done")

    tta = None
    if not args.skip_run:
        print("\n== time to accuracy ==", flush=True)
        left = args.deadline_minutes * 60 - (time.perf_counter() - t_start) - 20.0  # 20 s to write and exit
        budget_s = args.budget_minutes * 60 if args.budget_minutes else left
        if budget_s <= 0:
            raise SystemExit(f"no time left for the time-to-accuracy run ({left:.0f} s before the deadline)")
        if len(args.recipes) == 1:
            overrides = args.recipes[0]
            if args.run_best_switches and result.get("ab"):
                config = run_config(args, dataset, 1, 1, Path(tempfile.gettempdir()), overrides.get("recipe"))
                best = step_profile.best_switches(result["ab"], config.batch_size, BEST_MARGIN)
                switched, not_applied = step_profile.run_overrides(best, config)
                overrides = {**switched, **overrides}
                result["run_switches"] = {"best": best, "overrides": switched, "not_applied": not_applied,
                                          "margin": BEST_MARGIN}
                print(f"best switches at batch {config.batch_size}: {best or 'none'}; run overrides {switched}"
                      + (f"; not applicable to a run: {', '.join(not_applied)}" if not_applied else ""), flush=True)
            tta = time_to_accuracy(args, dataset, bench, budget_s, out / f"{name}-run", overrides)
        else:
            # several recipes: each in an equal share of the budget; their record copies go into one
            # tarball (a device call returns at most eight files), rewritten after every recipe
            share, runs = budget_s / len(args.recipes), []
            with tempfile.TemporaryDirectory(prefix="gpu_check_recipes_") as tmp:
                for i, overrides in enumerate(args.recipes):
                    runs.append(time_to_accuracy(args, dataset, bench, share, Path(tmp) / f"{name}-run{i}",
                                                 overrides))
                    result["recipes"] = [{k: v for k, v in r.items() if k != "record_copy"} for r in runs]
                    pack_dir(Path(tmp), out / f"{name}-runs.tar.gz")
                    write(f"recipe {i + 1} of {len(args.recipes)} done")
            best = max(runs, key=lambda r: r["best_knn_top1"])
            tta = {**best, "record_copy": str(out / f"{name}-runs.tar.gz")}
            print_recipes(runs)
    result["time_to_accuracy"] = tta
    result["targets"] = verdicts(bench, tta, args.tiny)
    path = write("complete")
    print("\n== targets ==")
    for key, v in result["targets"].items():
        print(f"{key}: {'met' if v['met'] else 'NOT met'} ({json.dumps({k: x for k, x in v.items() if k != 'met'})})")
    print(f"wrote {path} after {result['wall_seconds']:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    main()
