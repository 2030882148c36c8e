"""SimCLR with our pipeline and recipe against SimCLR with lightly's CIFAR-10 recipe, on the CPU.

The question: at equal epochs, and at equal training wall time, is SimCLR trained by
``lib.training.run`` at least as accurate (kNN top-1) as SimCLR trained the way lightly's CIFAR-10
benchmark trains it? Both pipelines get the same backbone (``models.build_encoder("small_cnn",
width=0.5)``, normalising inside with the training set's per-channel mean and std, laid out
channels_last as ``lib.training`` lays it out), the same images (the class-balanced 10,000 training
and 2,000 test images of ``imagefolder:data/cifar10-jpeg`` that ``training.prepare_data`` chooses
with ``train_size=10000, test_size=2000``), the same epochs, batch size and seeds, and exactly the
same evaluation after every epoch and at the random initialisation (epoch 0): the encoder output
``h`` of the 10,000 training images as the bank and of the 2,000 test images as the queries,
weighted kNN with k = 200, t = 0.1 (``evaluation.embed`` and ``evaluation.knn_accuracy``, as
``training._knn_monitor``). Only the pipeline differs:

- **ours**: ``lib.training.run`` with ``configs/recipes/simclr_official_cifar10.toml`` (the
  official SimCLR CIFAR-10 recipe: LARS, lr 1.0 x batch/256, weight decay 1e-4, temperature 0.5,
  warm-up then cosine decay per step, crop/flip/colour s=0.5/grey views, the official code's projection
  head to 128), overridden with this benchmark's data, backbone, batch, epochs and seed; the recipe's warm-up is
  kept as a fraction of its epochs (10 of 1000 = 1 %). The uint8 data set is held in memory,
  batches are drawn by index and augmented as whole batches (``lib.views``), both views go through
  one forward pass.
- **lightly**: lightly 1.6's CIFAR-10 benchmark recipe for SimCLR, from lightly's
  ``docs/source/getting_started/benchmarks/cifar10_benchmark.py`` (lightly-ai/lightly;
  ``SimCLRModel`` and the transforms there): ``SimCLRTransform(input_size=32, cj_strength=0.5,
  gaussian_blur=0.0)`` on a PIL image per item (``throughput.PILTwoViews``) through a
  ``DataLoader(shuffle=True, drop_last=True)`` with ``--workers`` worker processes (default 2, the
  faster of 0 and 2 for lightly's transform on this 2-core CPU in
  ``benchmarks/results/throughput-cpu-small_cnn-w0.5.json``), ``SimCLRProjectionHead(d, d, 128)``,
  ``NTXentLoss(temperature=0.5)`` (its default), the two views through the model one after the
  other (``z0 = forward(x0); z1 = forward(x1)``), ``SGD(lr=0.06 x batch/128, momentum 0.9,
  weight decay 5e-4)`` on every parameter, and ``CosineAnnealingLR(optimizer, epochs)`` stepped
  once per epoch (Lightning's default interval for a scheduler returned by
  ``configure_optimizers``). One deliberate change: the transform's final ImageNet ``Normalize``
  is dropped (``normalize=None``), because the shared backbone normalises inside and the shared
  evaluation feeds it images in [0, 1]; with lightly's normalisation on top the training inputs
  would be standardised twice and would not match the evaluation inputs (lightly's benchmark
  normalises its kNN images the same way as its training views).

``train_seconds`` of an epoch is its training time only, data loading and augmentation included,
evaluation excluded (for ours, ``metrics.jsonl``'s field of that name); ``loss`` is the epoch's mean
loss, ``lr`` the learning rate of the epoch's last step (ours: per-step warm-up and cosine) or of the
epoch (lightly: per-epoch cosine). The seeds are interleaved
(ours(0), lightly(0), ours(1), ...) so that a change of load on the machine hits both pipelines.

Prints a line per epoch of every run and a summary table: per pipeline the mean +- standard
deviation over the seeds of the final kNN (equal epochs), the total training seconds and views per
second, and the kNN at equal wall time (per seed, T = the shorter of the two runs' total training
time; each pipeline's kNN at its last evaluated epoch whose cumulative training time is <= T,
epoch 0 if none), with the paired differences ours - lightly per seed. Writes
``<out>/simclr_vs_lightly-cpu.json`` (every per-epoch curve, the summary and the provenance) after
every run, atomically, so an interrupted benchmark keeps what it measured; ``--resume`` skips the
(seed, pipeline) runs already in that file.

    python benchmarks/simclr_vs_lightly.py           # 3 seeds x 20 epochs x 2 pipelines, ~40 min on 2 cores
    python benchmarks/simclr_vs_lightly.py --resume  # go on after an interruption
    python benchmarks/simclr_vs_lightly.py --tiny    # the embedded sample, 256 images, 1 epoch: seconds

``benchmarks/README.md`` explains the other benchmarks; results go to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `lib` when run as a script
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `throughput` beside this file

from lib import evaluation, models, recipes, training  # noqa: E402
from lib.config import Config, load_config  # noqa: E402
from lib.records import (atomic_write_json, device_description, git_state, library_versions,  # noqa: E402
                         now_iso)
from throughput import PILTwoViews  # noqa: E402

PIPELINES = ("ours", "lightly")
# The control arm: our pipeline trained with lightly's recipe (configs/recipes/lightly_cifar10.toml: SGD at
# 0.12 x batch/256, weight decay 5e-4, temperature 0.5, lightly's 2-layer head), so that the pipeline's
# effect and the recipe's can be told apart. Its comparison with lightly differs in the pipeline alone
# (and in two details the recipe file lists: per-step cosine, no weight decay on biases and norms).
CONTROL = "ours_lightly_recipe"
CONTROL_RECIPE = "configs/recipes/lightly_cifar10.toml"
ARCH, WIDTH = "small_cnn", 0.5
DEFAULT_RECIPE = "configs/recipes/simclr_official_cifar10.toml"
RESULT_NAME = "simclr_vs_lightly-cpu.json"
# lightly's CIFAR-10 benchmark (docs/source/getting_started/benchmarks/cifar10_benchmark.py)
LIGHTLY_LR_PER_128 = 0.06      # lr=6e-2 * lr_factor, lr_factor = batch_size / 128
LIGHTLY_MOMENTUM = 0.9
LIGHTLY_WEIGHT_DECAY = 5e-4
LIGHTLY_TEMPERATURE = 0.5      # NTXentLoss()'s default
LIGHTLY_CJ_STRENGTH = 0.5
LIGHTLY_PROJ_DIM = 128
# what the result file must agree on for --resume to add to it
SETUP_KEYS = ("dataset", "train_size", "test_size", "epochs", "batch_size", "workers", "recipe_values", "arch",
              "width")


def _resolve(path: str) -> Path:
    """``path`` as given when it is absolute or exists from here, else relative to the repository."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else ROOT / p


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/cifar10-jpeg",
                   help="CIFAR-10 as an image folder (<data>/train/<class>/*.jpg, <data>/test/<class>/*.jpg)")
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="our recipe: a config file for lib.config.load_config")
    p.add_argument("--train-size", type=int, default=10000, help="training images (class-balanced, as lib's train_size)")
    p.add_argument("--test-size", type=int, default=2000, help="test images of the kNN monitor (class-balanced)")
    p.add_argument("--epochs", type=int, default=20, help="epochs of every run")
    p.add_argument("--batch-size", type=int, default=256, help="images per step (two views each)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1, each run by both pipelines")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes of the lightly pipeline")
    p.add_argument("--threads", type=int, default=0, help="torch's CPU threads (0 = torch's default)")
    p.add_argument("--runs-dir", default="",
                   help="where our runs' records go (default: a temporary folder, removed at the end; a folder "
                        "given here that already holds a finished run of the same config makes run() load it)")
    p.add_argument("--out", default=None, help="folder of the JSON result (default benchmarks/results; --tiny: "
                                               "a temporary folder)")
    p.add_argument("--resume", action="store_true",
                   help=f"keep the runs already in <out>/{RESULT_NAME} (same setup) and run only the others")
    p.add_argument("--control", action=argparse.BooleanOptionalAction, default=True,
                   help=f"also train the control arm: our pipeline with lightly's recipe ({CONTROL_RECIPE}), so that "
                        "the pipeline's and the recipe's effects can be told apart (--no-control: only the two pipelines)")
    p.add_argument("--tiny", action="store_true",
                   help="check that it runs: the embedded Fashion-MNIST sample, 256 training and 128 test images, "
                        "1 epoch, 1 seed, batch 64, in a temporary folder unless --out is given")
    args = p.parse_args(argv)
    if args.tiny:
        args.dataset = "sample"
        args.train_size, args.test_size, args.epochs, args.seeds, args.batch_size = 256, 128, 1, 1, 64
        if args.out is None:
            args.out = tempfile.mkdtemp(prefix="simclr_vs_lightly-tiny-")
    else:
        folder = _resolve(args.data)
        missing = [s for s in ("train", "test") if not (folder / s).is_dir()]
        if missing:
            p.error(f"--data {args.data}: no {' or '.join(f'{folder / s}/' for s in missing)} (unpack it: mkdir -p "
                    f"data/cifar10-jpeg && tar -xzf ../shared/data/cifar10-jpeg.tar.gz -C data/cifar10-jpeg)")
        args.dataset = f"imagefolder:{args.data if Path(args.data).exists() else folder}"
    if args.out is None:
        args.out = str(ROOT / "benchmarks" / "results")
    for name in ("epochs", "seeds", "batch_size", "train_size", "test_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    for name in ("workers", "threads"):
        if getattr(args, name) < 0:
            p.error(f"--{name} must be >= 0; got {getattr(args, name)}")
    if args.batch_size > args.train_size:
        p.error(f"--batch-size {args.batch_size} exceeds --train-size {args.train_size}: no full batch per epoch")
    recipe = _resolve(args.recipe)
    if not recipe.is_file():
        p.error(f"--recipe {args.recipe}: no such file")
    args.recipe = str(recipe)
    try:
        args.recipe_values = load_config(recipe).to_dict()
        our_config(args, 0)  # the overridden config must be valid before any compute
    except (ValueError, TypeError) as e:
        p.error(f"--recipe {args.recipe}: {e}")
    if args.resume:
        path = Path(args.out) / RESULT_NAME
        if path.is_file():
            try:
                setup = json.loads(path.read_text())["setup"]
            except (ValueError, KeyError) as e:
                p.error(f"--resume: cannot read {path}: {e!r}")
            differ = [k for k in SETUP_KEYS if json.loads(json.dumps(setup_of(args)[k])) != setup.get(k)]
            if differ:
                p.error(f"--resume: {path} was measured with another {', '.join(differ)}; move it away or drop "
                        f"--resume")
    return args


def setup_of(args: argparse.Namespace) -> dict:
    """What both pipelines share; a result file is resumed only with the same setup."""
    return {"dataset": args.dataset, "train_size": args.train_size, "test_size": args.test_size,
            "epochs": args.epochs, "batch_size": args.batch_size, "seeds": list(range(args.seeds)),
            "workers": args.workers, "recipe": args.recipe, "recipe_values": args.recipe_values, "arch": ARCH,
            "width": WIDTH}


def our_config(args: argparse.Namespace, seed: int, runs_dir: str = "", recipe: str | None = None) -> Config:
    """This benchmark's run trained with the recipe's (default ``--recipe``) optimiser, loss, views and
    head (``recipes.apply``: the warm-up keeps the recipe's fraction of the run)."""
    base = Config(task="pretrain", dataset=args.dataset, train_size=args.train_size, test_size=args.test_size,
                  monitor_size=args.test_size, arch=ARCH, width=WIDTH, batch_size=args.batch_size, epochs=args.epochs,
                  seed=seed, eval_every=1, final_eval=False, save_embeddings=0, progress=False, device="cpu",
                  runs_dir=runs_dir)
    return recipes.apply(base, recipe or args.recipe)


# ---- the evaluation both pipelines share ------------------------------------------------------

def knn_top1(encoder: nn.Module, d: training.Data, config: Config) -> float:
    """kNN top-1 of ``encoder``'s ``h``, as ``training._knn_monitor``: the training images are the bank,
    the monitor's test images the queries, weighted kNN with the config's k and t (fp32 on the CPU)."""
    encoder.eval()
    try:
        bank = evaluation.embed(encoder, d.train.images, batch_size=1024)                  # (N, D)
        query = evaluation.embed(encoder, d.test.images[d.monitor], batch_size=1024)       # (M, D)
        return evaluation.knn_accuracy(bank, d.train.labels, query, d.test.labels[d.monitor], d.train.num_classes,
                                       k=config.knn_k, temperature=config.knn_t)
    finally:
        encoder.train()


# ---- the two pipelines --------------------------------------------------------------------------

def run_ours(args: argparse.Namespace, seed: int, runs_dir: str, recipe: str | None = None,
             name: str = "ours") -> dict:
    config = our_config(args, seed, runs_dir, recipe)
    t0 = time.perf_counter()
    record = training.run(config)
    wall = time.perf_counter() - t0
    curve, total = [], 0.0
    for e in record.epochs:
        seconds = float(e.get("train_seconds", 0.0)) if e["epoch"] else 0.0
        total += seconds
        curve.append({"epoch": e["epoch"], "knn_top1": e.get("knn_top1"), "train_seconds": seconds,
                      "cumulative_seconds": total, "loss": e.get("loss"), "lr": e.get("lr")})
        print_epoch(name, seed, curve[-1])
    return {"run_id": record.run_id, "config": config.to_dict(), "wall_seconds": wall, "curve": curve}


class LightlySimCLR(nn.Module):
    """lightly's ``SimCLRModel`` of its CIFAR-10 benchmark, with the shared backbone."""

    def __init__(self, backbone: nn.Module, dim: int):
        from lightly.models.modules import SimCLRProjectionHead

        super().__init__()
        self.backbone = backbone
        self.projection_head = SimCLRProjectionHead(dim, dim, LIGHTLY_PROJ_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))


def lightly_transform(size: int):
    """lightly's CIFAR-10 SimCLR views, without the final ImageNet normalisation (the backbone normalises)."""
    from lightly.transforms import SimCLRTransform

    return SimCLRTransform(input_size=size, cj_strength=LIGHTLY_CJ_STRENGTH, gaussian_blur=0.0, normalize=None)


def run_lightly(args: argparse.Namespace, seed: int, d: training.Data, config: Config) -> dict:
    from lightly.loss import NTXentLoss

    t_start = time.perf_counter()
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    mean, std = d.train.mean_std()
    encoder = models.build_encoder(ARCH, in_channels=d.train.channels, image_size=d.size, width=WIDTH, mean=mean,
                                   std=std)
    model = LightlySimCLR(encoder, encoder.out_dim).to(memory_format=torch.channels_last)  # as training's layout
    criterion = NTXentLoss(temperature=LIGHTLY_TEMPERATURE)
    optimizer = torch.optim.SGD(model.parameters(), lr=LIGHTLY_LR_PER_128 * args.batch_size / 128,
                                momentum=LIGHTLY_MOMENTUM, weight_decay=LIGHTLY_WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    arrays = np.ascontiguousarray(d.train.images.permute(0, 2, 3, 1).numpy())   # (N, H, W, C) uint8
    loader = torch.utils.data.DataLoader(PILTwoViews(arrays, lightly_transform(d.size), two=False),
                                         batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.workers)
    curve = [{"epoch": 0, "knn_top1": knn_top1(encoder, d, config), "train_seconds": 0.0, "cumulative_seconds": 0.0,
              "loss": None, "lr": None}]
    print_epoch("lightly", seed, curve[-1])
    total = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        t0 = time.perf_counter()
        loss_sum, steps = torch.zeros(()), 0
        for x0, x1 in loader:
            z0 = model(x0.contiguous(memory_format=torch.channels_last))
            z1 = model(x1.contiguous(memory_format=torch.channels_last))
            loss = criterion(z0, z1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            steps += 1
        scheduler.step()
        seconds = time.perf_counter() - t0
        total += seconds
        curve.append({"epoch": epoch, "knn_top1": knn_top1(encoder, d, config), "train_seconds": seconds,
                      "cumulative_seconds": total, "loss": float(loss_sum) / max(steps, 1), "lr": lr})
        print_epoch("lightly", seed, curve[-1])
    return {"workers": args.workers, "wall_seconds": time.perf_counter() - t_start, "curve": curve}


def print_epoch(pipeline: str, seed: int, pt: dict) -> None:
    loss = "" if pt["loss"] is None else f"  loss {pt['loss']:.4f}"
    knn = "-" if pt["knn_top1"] is None else f"{pt['knn_top1']:.4f}"
    print(f"{pipeline:<8} seed {seed}  epoch {pt['epoch']:>3}  kNN {knn}  train {pt['train_seconds']:6.2f} s  "
          f"cumulative {pt['cumulative_seconds']:8.2f} s{loss}", flush=True)


# ---- the summary ----------------------------------------------------------------------------------

def knn_at_time(curve: list[dict], seconds: float) -> dict:
    """The point of ``curve`` with the last evaluated epoch whose cumulative training time is <= ``seconds``
    (epoch 0 if none)."""
    reached = curve[0]
    for pt in curve[1:]:
        if pt["cumulative_seconds"] <= seconds and pt["knn_top1"] is not None:
            reached = pt
    return reached


def mean_std(values: list[float]) -> dict:
    """Mean and sample standard deviation (n - 1; None for one value) with the values."""
    return {"mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None, "values": list(values), "n": len(values)}


def summarise(runs: list[dict], images_per_epoch: int) -> dict | None:
    """Per pipeline and paired over the seeds that both pipelines have finished."""
    by = {(r["seed"], r["pipeline"]): r for r in runs}
    seeds = sorted({s for s, _ in by if all((s, p) in by for p in PIPELINES)})
    if not seeds:
        return None
    per_seed, out = [], {}
    for seed in seeds:
        ours, peer = by[(seed, "ours")]["curve"], by[(seed, "lightly")]["curve"]
        t = min(ours[-1]["cumulative_seconds"], peer[-1]["cumulative_seconds"])
        o, l_ = knn_at_time(ours, t), knn_at_time(peer, t)
        per_seed.append({"seed": seed, "equal_epochs": ours[-1]["epoch"],
                         "ours_final_knn_top1": ours[-1]["knn_top1"], "lightly_final_knn_top1": peer[-1]["knn_top1"],
                         "difference_at_equal_epochs": ours[-1]["knn_top1"] - peer[-1]["knn_top1"],
                         "equal_wall_time_seconds": t, "ours_epoch_at_equal_wall_time": o["epoch"],
                         "ours_knn_at_equal_wall_time": o["knn_top1"], "lightly_epoch_at_equal_wall_time": l_["epoch"],
                         "lightly_knn_at_equal_wall_time": l_["knn_top1"],
                         "difference_at_equal_wall_time": o["knn_top1"] - l_["knn_top1"]})
    for pipeline in PIPELINES:
        curves = [by[(s, pipeline)]["curve"] for s in seeds]
        totals = [c[-1]["cumulative_seconds"] for c in curves]
        out[pipeline] = {
            "final_knn_top1": mean_std([c[-1]["knn_top1"] for c in curves]),
            "total_train_seconds": mean_std(totals),
            "views_per_second": mean_std([2 * images_per_epoch * c[-1]["epoch"] / t for c, t in zip(curves, totals)]),
            "knn_at_equal_wall_time": mean_std([p[f"{pipeline}_knn_at_equal_wall_time"] for p in per_seed])}
    eq_epochs = mean_std([p["difference_at_equal_epochs"] for p in per_seed])
    eq_time = mean_std([p["difference_at_equal_wall_time"] for p in per_seed])
    summary = {"seeds": seeds, **out, "per_seed": per_seed, "difference_at_equal_epochs": eq_epochs,
               "difference_at_equal_wall_time": eq_time,
               "ours_at_least_as_accurate_at_equal_epochs": eq_epochs["mean"] >= 0,
               "ours_ahead_at_equal_wall_time": eq_time["mean"] > 0}
    control = [s for s in seeds if (s, CONTROL) in by]
    if control:
        summary["control"] = compare(by, CONTROL, "lightly", control, images_per_epoch)
    return summary


def compare(by: dict, a: str, b: str, seeds: list[int], images_per_epoch: int) -> dict:
    """Pipeline ``a`` against ``b``, paired over ``seeds``: final kNN, training time, and kNN when the
    shorter of the two runs ends."""
    stats = {a: {}, b: {}}
    deltas = {"difference_at_equal_epochs": [], "difference_at_equal_wall_time": []}
    knn_t = {a: [], b: []}
    for seed in seeds:
        ca, cb = by[(seed, a)]["curve"], by[(seed, b)]["curve"]
        t = min(ca[-1]["cumulative_seconds"], cb[-1]["cumulative_seconds"])
        ka, kb = knn_at_time(ca, t)["knn_top1"], knn_at_time(cb, t)["knn_top1"]
        knn_t[a].append(ka), knn_t[b].append(kb)
        deltas["difference_at_equal_epochs"].append(ca[-1]["knn_top1"] - cb[-1]["knn_top1"])
        deltas["difference_at_equal_wall_time"].append(ka - kb)
    for name in (a, b):
        curves = [by[(s, name)]["curve"] for s in seeds]
        totals = [c[-1]["cumulative_seconds"] for c in curves]
        stats[name] = {"final_knn_top1": mean_std([c[-1]["knn_top1"] for c in curves]),
                       "total_train_seconds": mean_std(totals),
                       "views_per_second": mean_std([2 * images_per_epoch * c[-1]["epoch"] / t
                                                     for c, t in zip(curves, totals)]),
                       "knn_at_equal_wall_time": mean_std(knn_t[name])}
    return {"pipelines": [a, b], "seeds": seeds, **stats, **{k: mean_std(v) for k, v in deltas.items()}}


def _pm(s: dict, fmt: str) -> str:
    return format(s["mean"], fmt) + ("" if s["std"] is None else " +- " + format(s["std"], fmt))


def format_table(summary: dict) -> str:
    rows = [f"{len(summary['seeds'])} seed(s), mean +- sample std",
            f"{'pipeline':<10}{'final kNN (equal epochs)':>26}{'train seconds':>20}{'views/s':>18}"
            f"{'kNN at equal wall time':>26}"]
    for p in PIPELINES:
        s = summary[p]
        rows.append(f"{p:<10}{_pm(s['final_knn_top1'], '.4f'):>26}{_pm(s['total_train_seconds'], ',.1f'):>20}"
                    f"{_pm(s['views_per_second'], ',.0f'):>18}{_pm(s['knn_at_equal_wall_time'], '.4f'):>26}")
    for p in summary["per_seed"]:
        rows.append(f"seed {p['seed']}: equal epochs ({p['equal_epochs']}): ours - lightly = "
                    f"{p['difference_at_equal_epochs']:+.4f}; equal wall time T = {p['equal_wall_time_seconds']:.1f} s: "
                    f"ours epoch {p['ours_epoch_at_equal_wall_time']} ({p['ours_knn_at_equal_wall_time']:.4f}), lightly "
                    f"epoch {p['lightly_epoch_at_equal_wall_time']} ({p['lightly_knn_at_equal_wall_time']:.4f}): "
                    f"{p['difference_at_equal_wall_time']:+.4f}")
    rows.append(f"paired difference ours - lightly: equal epochs {_pm(summary['difference_at_equal_epochs'], '+.4f')}"
                f" (ours at least as accurate: {summary['ours_at_least_as_accurate_at_equal_epochs']}); equal wall time "
                f"{_pm(summary['difference_at_equal_wall_time'], '+.4f')} (ours ahead: "
                f"{summary['ours_ahead_at_equal_wall_time']})")
    return "\n".join(rows)


# ---- the benchmark -----------------------------------------------------------------------------------

def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        with tempfile.TemporaryDirectory(prefix="simclr_vs_lightly-runs-") as tmp:
            return _main(args, args.runs_dir or tmp)
    finally:
        torch.set_num_threads(threads)


def _main(args: argparse.Namespace, runs_dir: str) -> dict:
    import lightly

    path = Path(args.out) / RESULT_NAME
    runs: list[dict] = []
    if args.resume and path.is_file():
        runs = [r for r in json.loads(path.read_text())["runs"] if r["seed"] < args.seeds]
        print(f"resuming {path}: {len(runs)} run(s) kept: "
              + ", ".join(f"{r['pipeline']}({r['seed']})" for r in runs))
    config0 = our_config(args, 0, runs_dir)
    cpu = torch.device("cpu")
    d = training.prepare_data(config0, cpu)  # the very images (and monitor) training.run picks
    steps = len(d.train) // args.batch_size
    result = {"benchmark": "simclr_vs_lightly", "setup": setup_of(args),
              "args": {k: v for k, v in vars(args).items() if k != "recipe_values"},
              "train_images": len(d.train), "test_images": len(d.test), "monitor_images": len(d.monitor),
              "image_size": d.size, "channels": d.train.channels, "steps_per_epoch": steps,
              "images_per_epoch": steps * args.batch_size, "threads": torch.get_num_threads(),
              "lightly_recipe": {"source": "lightly-ai/lightly docs/source/getting_started/benchmarks/"
                                           "cifar10_benchmark.py (SimCLRModel)",
                                 "transform": f"SimCLRTransform(input_size={d.size}, cj_strength={LIGHTLY_CJ_STRENGTH}, "
                                              "gaussian_blur=0.0, normalize=None)",
                                 "head": f"SimCLRProjectionHead(d, d, {LIGHTLY_PROJ_DIM})",
                                 "loss": f"NTXentLoss(temperature={LIGHTLY_TEMPERATURE})",
                                 "optimizer": f"SGD(lr={LIGHTLY_LR_PER_128} x batch/128 = "
                                              f"{LIGHTLY_LR_PER_128 * args.batch_size / 128:g}, momentum="
                                              f"{LIGHTLY_MOMENTUM}, weight_decay={LIGHTLY_WEIGHT_DECAY})",
                                 "schedule": f"CosineAnnealingLR(T_max={args.epochs}), stepped per epoch",
                                 "workers": args.workers},
              "ours_recipe": {"file": args.recipe, "warmup_fraction": our_config(args, 0).warmup_fraction},
              "runs": runs}
    print(f"{args.dataset}: {len(d.train)} training images ({d.train.channels}x{d.size}x{d.size}), "
          f"{len(d.monitor)} monitor test images; {ARCH} x{WIDTH}, batch {args.batch_size}, {args.epochs} epoch(s), "
          f"seeds 0-{args.seeds - 1}; lightly with {args.workers} DataLoader worker(s); {torch.get_num_threads()} "
          f"torch thread(s)", flush=True)

    def write():
        result["summary"] = summarise(runs, result["images_per_epoch"])
        result["provenance"] = {"device": device_description(cpu), "device_type": "cpu", "date": now_iso(),
                                "torch_threads": torch.get_num_threads(), **git_state(),
                                "versions": {**library_versions(), "lightly": lightly.__version__}}
        atomic_write_json(path, result)

    done = {(r["seed"], r["pipeline"]) for r in runs}
    arms = PIPELINES + ((CONTROL,) if args.control else ())
    for seed in range(args.seeds):
        for pipeline in arms:
            if (seed, pipeline) in done:
                continue
            if pipeline == "ours":
                run = run_ours(args, seed, runs_dir)
            elif pipeline == CONTROL:
                run = run_ours(args, seed, runs_dir, str(_resolve(CONTROL_RECIPE)), name="ours+lr")
            else:
                run = run_lightly(args, seed, d, config0)
            curve = run["curve"]
            total = curve[-1]["cumulative_seconds"]
            runs.append({"pipeline": pipeline, "seed": seed, **run, "final_knn_top1": curve[-1]["knn_top1"],
                         "total_train_seconds": total,
                         "views_per_second": 2 * result["images_per_epoch"] * curve[-1]["epoch"] / total})
            write()
    order = PIPELINES + (CONTROL,)
    runs.sort(key=lambda r: (r["seed"], order.index(r["pipeline"])))
    write()
    if result["summary"] is not None:
        print(format_table(result["summary"]))
        control = result["summary"].get("control")
        if control:
            print(f"control, our pipeline with lightly's recipe - lightly, over {len(control['seeds'])} seed(s): equal "
                  f"epochs {_pm(control['difference_at_equal_epochs'], '+.4f')}, equal wall time "
                  f"{_pm(control['difference_at_equal_wall_time'], '+.4f')}; final kNN "
                  f"{_pm(control[CONTROL]['final_knn_top1'], '.4f')}, {_pm(control[CONTROL]['views_per_second'], ',.0f')} "
                  f"views/s")
    print(f"wrote {path}")
    return json.loads(path.read_text())


if __name__ == "__main__":
    main()
