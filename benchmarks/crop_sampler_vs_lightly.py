"""Issue #27's paired benchmark: our SimCLR before and after the crop-sampler fix, against lightly's.

The question: does drawing crops as torchvision does (``crop_sampler="torchvision"``, the default since
issue #27) instead of the earlier sub-pixel sampler (``crop_sampler="subpixel"``) change the kNN accuracy
or the speed of our pipeline, and how far is each from lightly's own pipeline at the same recipe? Three
arms, the same seeds, interleaved per seed (subpixel(0), torchvision(0), lightly(0), subpixel(1), ...):

- **subpixel** and **torchvision**: ``lib.training.run`` with lightly's CIFAR-10 recipe
  (``configs/recipes/lightly_cifar10.toml``: SGD 0.12 x batch/256, weight decay 5e-4, temperature 0.5,
  lightly's 2-layer head, no blur), differing in ``crop_sampler`` alone;
- **lightly**: lightly 1.6's benchmark pipeline as ``simclr_vs_lightly.py`` runs it (``SimCLRTransform``
  on PIL images through a DataLoader, its head, loss and per-epoch cosine SGD), with the same backbone.

The data, backbone (``small_cnn`` x0.5), evaluation (kNN k = 200, t = 0.1 on the encoder output, after
every epoch) and the summary functions (equal epochs, equal wall time, views/s) are
``benchmarks/simclr_vs_lightly.py``'s. The default scale (2,000 training and 1,000 test images of the
CIFAR-10 JPEG copy, 3 epochs of 7 steps, 3 seeds) is a few CPU minutes; it was cut twice (from 5,000
images and 6 epochs) when the shared 2-core machine, at a load of 9, gave a ``nice -n 19`` run about 7 %
of a core. At this scale the kNN barely leaves its value at initialisation: the result can show a gross
effect of the sampler, not a point of kNN, and its timings are only as steady as the machine's load was.
``--train-size 10000 --test-size 2000 --epochs 20`` is the scale of ``simclr_vs_lightly.py``.

    nice -n 19 python benchmarks/crop_sampler_vs_lightly.py           # a few CPU minutes
    python benchmarks/crop_sampler_vs_lightly.py --tiny               # the embedded sample: seconds

Writes ``<out>/crop_sampler_vs_lightly-cpu.json`` after every run (atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # simclr_vs_lightly, throughput beside this file

import simclr_vs_lightly as svl  # noqa: E402

from lib import training  # noqa: E402
from lib.records import atomic_write_json, device_description, git_state, library_versions, now_iso  # noqa: E402

ARMS = ("subpixel", "torchvision", "lightly")
RECIPE = "configs/recipes/lightly_cifar10.toml"
RESULT_NAME = "crop_sampler_vs_lightly-cpu.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-size", type=int, default=2000, help="training images (class-balanced)")
    p.add_argument("--test-size", type=int, default=1000, help="test images of the kNN monitor (class-balanced)")
    p.add_argument("--epochs", type=int, default=3, help="epochs of every run")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1, each run by every arm")
    p.add_argument("--tiny", action="store_true", help="the embedded sample, 256 images, 1 epoch, 1 seed: seconds")
    p.add_argument("--out", default=None, help="folder of the JSON result (default benchmarks/results)")
    mine = p.parse_args(argv)
    # simclr_vs_lightly's own argument checks, data resolution and recipe loading, at this scale
    theirs = ["--recipe", RECIPE, "--train-size", str(mine.train_size), "--test-size", str(mine.test_size),
              "--epochs", str(mine.epochs), "--seeds", str(mine.seeds), "--no-control"]
    if mine.tiny:
        theirs.append("--tiny")
    if mine.out:
        theirs += ["--out", mine.out]
    return svl.parse_args(theirs)


def run_ours(args: argparse.Namespace, seed: int, runs_dir: str, sampler: str) -> dict:
    config = svl.our_config(args, seed, runs_dir).replace(crop_sampler=sampler)
    t0 = time.perf_counter()
    record = training.run(config)
    wall = time.perf_counter() - t0
    curve, total = [], 0.0
    for e in record.epochs:
        seconds = float(e.get("train_seconds", 0.0)) if e["epoch"] else 0.0
        total += seconds
        curve.append({"epoch": e["epoch"], "knn_top1": e.get("knn_top1"), "train_seconds": seconds,
                      "cumulative_seconds": total, "loss": e.get("loss"), "lr": e.get("lr")})
        svl.print_epoch(sampler[:8], seed, curve[-1])
    return {"run_id": record.run_id, "config": config.to_dict(), "wall_seconds": wall, "curve": curve}


def main(argv=None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crop_sampler_vs_lightly-runs-") as tmp:
        return _main(args, tmp)


def _main(args: argparse.Namespace, runs_dir: str) -> dict:
    import lightly

    path = Path(args.out) / RESULT_NAME
    config0 = svl.our_config(args, 0, runs_dir)
    cpu = torch.device("cpu")
    d = training.prepare_data(config0, cpu)
    steps = len(d.train) // args.batch_size
    per_epoch = steps * args.batch_size
    result = {"benchmark": "crop_sampler_vs_lightly", "issue": 27,
              "scale": f"{len(d.train)} training and {len(d.monitor)} test images of {args.dataset}, {args.epochs} "
                       f"epochs, batch {args.batch_size}, {args.seeds} seeds, small_cnn x0.5, on a 2-core CPU shared "
                       "with other jobs (run under nice -n 19): timings are noisy",
              "setup": svl.setup_of(args), "arms": list(ARMS), "recipe": RECIPE,
              "images_per_epoch": per_epoch, "runs": []}
    runs = result["runs"]

    def write():
        by = {(r["seed"], r["pipeline"]): r for r in runs}
        summary = {}
        for a, b in (("torchvision", "subpixel"), ("subpixel", "lightly"), ("torchvision", "lightly")):
            seeds = sorted(s for s, p in by if p == a and (s, b) in by)
            if seeds:
                summary[f"{a}_vs_{b}"] = svl.compare(by, a, b, seeds, per_epoch)
        result["summary"] = summary
        result["provenance"] = {"device": device_description(cpu), "device_type": "cpu", "date": now_iso(),
                                "torch_threads": torch.get_num_threads(), **git_state(),
                                "versions": {**library_versions(), "lightly": lightly.__version__}}
        atomic_write_json(path, result)

    for seed in range(args.seeds):
        for arm in ARMS:
            run = (svl.run_lightly(args, seed, d, config0) if arm == "lightly"
                   else run_ours(args, seed, runs_dir, arm))
            curve = run["curve"]
            total = curve[-1]["cumulative_seconds"]
            runs.append({"pipeline": arm, "seed": seed, **run, "final_knn_top1": curve[-1]["knn_top1"],
                         "total_train_seconds": total,
                         "views_per_second": 2 * per_epoch * curve[-1]["epoch"] / total})
            write()
    for name, c in result["summary"].items():
        a, b = c["pipelines"]
        print(f"{name} over seeds {c['seeds']}: {a} - {b}: equal epochs "
              f"{svl._pm(c['difference_at_equal_epochs'], '+.4f')}, equal wall time "
              f"{svl._pm(c['difference_at_equal_wall_time'], '+.4f')}; final kNN {a} {svl._pm(c[a]['final_knn_top1'], '.4f')}"
              f", {b} {svl._pm(c[b]['final_knn_top1'], '.4f')}; views/s {a} {svl._pm(c[a]['views_per_second'], ',.0f')}, "
              f"{b} {svl._pm(c[b]['views_per_second'], ',.0f')}")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
