"""Throughput of our on-device SimCLR pipeline against the usual ones, measured side by side.

Every figure comes from one process on one machine and one device, so the columns can be compared:

- **augmentation** (views per second, no model): ours — the data set on the device as one uint8
  tensor, a batch drawn by index and augmented with batched tensor operations with independent
  parameters per sample (``lib.views``); *torchvision-PIL* — torchvision's CIFAR idiom, a PIL image
  per item and ``transforms.Compose([RandomResizedCrop, RandomHorizontalFlip,
  RandomApply(ColorJitter), RandomGrayscale, ToTensor, Normalize])`` applied twice per item,
  batched by a ``DataLoader``; *lightly* — lightly's ``SimCLRTransform(input_size=32,
  cj_strength=0.5, gaussian_blur=0.0)`` (its CIFAR-10 recipe) through a ``DataLoader``; *kornia* —
  ``kornia.augmentation`` (RandomResizedCrop, RandomHorizontalFlip, ColorJitter(p=0.8),
  RandomGrayscale(p=0.2)) on batched tensors on the device, per-sample parameters. The DataLoader
  peers are timed with 0 and with ``--workers`` worker processes and the faster one is reported.
  Views are counted once they are on the device.
- **training** (views per second of a full SimCLR step: two views of a batch, one forward pass of
  the encoder and projection head, NT-Xent, backward, LARS step): ours against torchvision-PIL.
  Both feed the *same* step object — the same model instance, loss, optimizer, channels_last
  layout, autocast and compilation as ``lib.training``'s pretraining step — so only the input
  pipeline differs.
- **epoch**: wall time of one full epoch of the training images through our step;
- **evaluation**: wall time of ``evaluation.embed`` over the training images (the kNN bank) and the
  test split plus ``evaluation.knn_accuracy`` (k = 200, t = 0.1, as the training monitor);
- **FLOPs**: forward FLOPs per image (``models.flops_per_image``), per training step
  (3 x forward x views: the backward pass costs about twice the forward), the achieved TFLOP/s of
  both training pipelines, and their fraction of the peak matmul rate measured in the same run
  (bf16 8192^3 on CUDA, fp32 1024^3 on the CPU).

Prints the table and writes ``<out>/throughput-<device>-<arch>.json`` with the figures and their
provenance (device, library versions, commit, date).

    python benchmarks/throughput.py                                   # CPU, small CNN
    python benchmarks/throughput.py --arch resnet18 --batch-size 512 --device cuda --compile \\
        --train-size 50000 --workers 16

Measured figures are in ``benchmarks/results/``; ``benchmarks/README.md`` explains each one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `lib` when run as a script

from lib import data, evaluation, losses, models, optim, training, views  # noqa: E402
from lib.config import Config, split_list  # noqa: E402
from lib.records import (atomic_write_json, device_description, git_state, library_versions,  # noqa: E402
                         now_iso)

AUGMENT_PEERS = ("torchvision", "lightly", "kornia")
KNN_K, KNN_T = 200, 0.1  # the training monitor's kNN (Config.knn_k, Config.knn_t)
COLOR_STRENGTH = 0.5  # SimCLR's s for CIFAR-10 (Appendix B.9), as views.ViewConfig's default


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="",
                   help="sample, cifar10, imagefolder:<path>; default: imagefolder:data/cifar10-jpeg if present, "
                        "else sample")
    p.add_argument("--data-dir", default=None, help="where data sets and their decoded cache live (default ./data)")
    p.add_argument("--train-size", type=int, default=10000,
                   help="training images held on the device (class-balanced subset; 0 = all); also one epoch")
    p.add_argument("--test-size", type=int, default=0, help="test images embedded for the kNN (0 = the whole split)")
    p.add_argument("--arch", default="small_cnn", choices=models.ARCHS)
    p.add_argument("--width", type=float, default=1.0, help="width multiplier of the backbone")
    p.add_argument("--batch-size", type=int, default=256, help="images per step (two views each)")
    p.add_argument("--steps", type=int, default=12, help="timed steps per pipeline")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation, autotuning, workers)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the peers (also timed with 0)")
    p.add_argument("--peers", default=",".join(AUGMENT_PEERS),
                   help=f"augmentation peers to time, comma-separated from {', '.join(AUGMENT_PEERS)}")
    p.add_argument("--allow-missing-peers", action="store_true",
                   help="skip a peer whose library is not installed instead of failing")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    p.add_argument("--compile", action="store_true", help="torch.compile the model, as training's compile=true")
    p.add_argument("--threads", type=int, default=0,
                   help="torch's CPU threads (0 = torch's default); on a shared, busy CPU 1 avoids OpenMP thrashing")
    p.add_argument("--no-epoch", action="store_true", help="skip the epoch and evaluation timings")
    p.add_argument("--out", default="benchmarks/results", help="folder for the JSON result")
    args = p.parse_args(argv)
    peers = split_list(args.peers)
    bad = [s for s in peers if s not in AUGMENT_PEERS]
    if bad:
        p.error(f"--peers: unknown {', '.join(bad)}; allowed: {', '.join(AUGMENT_PEERS)}")
    args.peers = peers
    for name in ("batch_size", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    for name in ("warmup", "workers", "train_size", "test_size", "threads"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0; got {getattr(args, name)}")
    return args


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer reads finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- the training step shared by every pipeline ---------------------------------------------

class SimCLRStep:
    """One full SimCLR step, the code of ``lib.training``'s pretraining step.

    The model comes from ``training.build_contrastive_model`` (the encoder and projection head of
    a pretraining run of ``config``), laid out channels_last, optionally compiled
    (``config.compile``), run under ``training.autocast`` (bf16 on CUDA, fp32 on the CPU), with the
    optimizer of ``optim.build_optimizer`` and ``losses.nt_xent``. Nothing reads a value back to
    the host, so a step only queues work on the device.
    """

    def __init__(self, config: Config, channels: int, image_size: int, mean, std, device: torch.device):
        model = training.build_contrastive_model(config, channels, image_size, mean, std).to(device)
        self.model = model.to(memory_format=torch.channels_last)
        self.forward_flops = models.flops_per_image(self.model, image_size, channels)  # before compiling
        self.fast = torch.compile(self.model) if config.compile else self.model
        self.optimizer = optim.build_optimizer(config.optimizer, self.model, lr=config.scaled_lr,
                                               weight_decay=config.weight_decay, momentum=config.momentum,
                                               lars_trust=config.lars_trust, lars_clip=config.lars_clip)
        self.amp = training.autocast(device, config.precision)
        self.temperature = config.temperature

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x1, x2]).contiguous(memory_format=torch.channels_last)  # (2B, C, S, S)
        with self.amp:
            _, z = self.fast(x)                                                # (2B, D)
        z1, z2 = z.float().chunk(2)
        loss = losses.nt_xent(z1, z2, self.temperature)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Representations ``h`` for evaluation, as the training monitor computes them."""
        with self.amp:
            return self.model.encoder(x).float()


def step_flops(forward_flops: int, views_per_step: int) -> int:
    """FLOPs of one training step: forward, plus a backward pass of about twice the forward's
    FLOPs (gradients with respect to activations and to weights), for every view."""
    return 3 * forward_flops * views_per_step


# ---- where views come from -------------------------------------------------------------------

class PILTwoViews(torch.utils.data.Dataset):
    """A torchvision-style data set over uint8 ``(N, H, W, C)`` arrays: a PIL image per item, then
    ``transform``; ``two`` applies a single-view transform twice, else ``transform`` returns both
    views itself (lightly's ``SimCLRTransform`` returns a list of two)."""

    def __init__(self, images: np.ndarray, transform: Callable, two: bool):
        self.images = images  # (N, H, W, C) uint8
        self.transform = transform
        self.two = two

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i].squeeze(-1) if self.images.shape[-1] == 1 else self.images[i])
        if self.two:
            return self.transform(img), self.transform(img)
        v1, v2 = self.transform(img)
        return v1, v2


def torchvision_transform(size: int, channels: int, strength: float = COLOR_STRENGTH):
    """torchvision's SimCLR view for CIFAR (SimCLR Appendix A's pseudo-code, s = 0.5, no blur)."""
    s = strength
    return transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.08, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomApply([transforms.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
        transforms.ToTensor(),
        # the usual last step; ours normalises inside the model
        transforms.Normalize((0.5,) * channels, (0.25,) * channels),
    ])


def lightly_transform(size: int, channels: int):
    """lightly's SimCLR views with its CIFAR-10 settings: ``cj_strength=0.5`` (its docstring: "For
    datasets with small images, such as CIFAR, it is recommended to set `cj_strength` to 0.5") and
    no Gaussian blur (SimCLR Appendix B.9). Grey images get one-channel normalisation statistics."""
    from lightly.transforms import SimCLRTransform

    kwargs = {} if channels == 3 else {"normalize": {"mean": [0.5] * channels, "std": [0.25] * channels}}
    return SimCLRTransform(input_size=size, cj_strength=COLOR_STRENGTH, gaussian_blur=0.0, **kwargs)


def kornia_augmentation(size: int, channels: int, strength: float = COLOR_STRENGTH) -> torch.nn.Module:
    """The same SimCLR view with ``kornia.augmentation`` on a float batch in [0, 1]; kornia draws
    the parameters per sample (``same_on_batch=False``). Grey images get brightness and contrast
    jitter only (saturation, hue and grayscale need three channels)."""
    import kornia.augmentation as K

    s = strength
    if channels == 3:
        color = [K.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, p=0.8), K.RandomGrayscale(p=0.2)]
    else:
        color = [K.ColorJitter(0.8 * s, 0.8 * s, 0.0, 0.0, p=0.8)]
    return torch.nn.Sequential(K.RandomResizedCrop((size, size), scale=(0.08, 1.0)),
                               K.RandomHorizontalFlip(), *color)


def endless(make_epoch: Callable[[], Iterator]) -> Iterator:
    """Epoch after epoch of ``make_epoch()``."""
    while True:
        yield from make_epoch()


def ours_views(images: torch.Tensor, batch_size: int, generator: torch.Generator,
               size: int) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Our pipeline: index batches of the device-resident uint8 images, two views on the device."""
    pipe = views.ViewPipeline(views.SIMCLR_CIFAR, views.ViewConfig(size=size, color_strength=COLOR_STRENGTH))
    batches = endless(lambda: data.batches(len(images), batch_size, generator, device=images.device))
    return lambda: views.two_views(images[next(batches)], pipe, pipe, generator)


def kornia_views(images: torch.Tensor, batch_size: int, generator: torch.Generator,
                 size: int) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """kornia on the same device-resident uint8 images and index batches."""
    aug = kornia_augmentation(size, images.shape[1]).to(images.device)
    batches = endless(lambda: data.batches(len(images), batch_size, generator, device=images.device))

    def make():
        x = images[next(batches)].float().div_(255)                              # (B, C, H, W) in [0, 1]
        return aug(x), aug(x)
    return make


def loader_views(dataset: torch.utils.data.Dataset, batch_size: int, workers: int,
                 device: torch.device) -> tuple[Callable[[], tuple[torch.Tensor, torch.Tensor]], Callable[[], None]]:
    """Views from a shuffling ``DataLoader``, moved to the device; returns (next views, close)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    batches = endless(lambda: iter(loader))

    def make():
        x1, x2 = next(batches)
        return x1.to(device, non_blocking=True), x2.to(device, non_blocking=True)

    def close():
        batches.close()  # ends the loader's iterator, which shuts its workers down
    return make, close


# ---- timing ----------------------------------------------------------------------------------

def views_per_second(next_views: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int, warmup: int,
                     device: torch.device, consume: Callable | None = None) -> tuple[float, float]:
    """Views per second over ``steps`` timed steps after ``warmup`` untimed ones; a step makes two
    views of a batch and, given ``consume``, passes them to it (a training step). Returns (views per
    second, seconds of the warm-up: compilation, autotuning, worker start-up)."""
    t_start = time.perf_counter()
    t0 = t_start
    views_made = 0
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        x1, x2 = next_views()
        if consume is not None:
            consume(x1, x2)
        if i >= warmup:
            views_made += x1.shape[0] + x2.shape[0]
    sync(device)
    return views_made / (time.perf_counter() - t0), t0 - t_start


def speedup_ceiling(model_s_per_view: float, ours_augment_s_per_view: float,
                    peer_augment_s_per_view: float) -> float:
    """Amdahl's bound on the training speed-up of ours over the PIL pipeline for a given model step.

    On a machine whose cores are all busy with the model step, the peer's per-view PIL work
    (``peer_augment_s_per_view``, measured in one process) cannot be hidden, and ours adds its own
    augmentation: the best possible ratio is (m + a_peer) / (m + a_ours). It falls as the model
    step m grows, so a heavy backbone caps the speed-up however fast the augmentation is."""
    if min(model_s_per_view, ours_augment_s_per_view, peer_augment_s_per_view) < 0:
        raise ValueError("times per view must be non-negative")
    return (model_s_per_view + peer_augment_s_per_view) / (model_s_per_view + ours_augment_s_per_view)


def best_over_workers(time_one: Callable[[int], float], workers: int) -> dict:
    """``time_one(w)`` for w = 0 and ``workers``; the best rate with its worker count."""
    rates = {w: time_one(w) for w in sorted({0, workers})}
    best = max(rates, key=rates.get)
    return {"rate": rates[best], "workers": best, "by_workers": rates}


def epoch_seconds(step: SimCLRStep, images: torch.Tensor, batch_size: int, generator: torch.Generator,
                  size: int) -> tuple[float, int]:
    """Wall time of one epoch (every full batch of ``images`` once) through ``step``, and its steps."""
    pipe = views.ViewPipeline(views.SIMCLR_CIFAR, views.ViewConfig(size=size, color_strength=COLOR_STRENGTH))
    device = images.device
    sync(device)
    t0 = time.perf_counter()
    n_steps = 0
    for idx in data.batches(len(images), batch_size, generator, device=device):
        step(*views.two_views(images[idx], pipe, pipe, generator))
        n_steps += 1
    sync(device)
    return time.perf_counter() - t0, n_steps


def evaluation_seconds(step: SimCLRStep, train: data.ImageDataset, test: data.ImageDataset,
                       batch_size: int = 1024) -> dict:
    """Embeddings of the training images (the bank) and the test images, then the kNN top-1, as
    the training monitor computes them; after one untimed chunk (kernel selection)."""
    device = train.images.device
    k = min(KNN_K, len(train))
    step.model.eval()
    try:
        evaluation.embed(step.encode, train.images[:batch_size], batch_size=batch_size)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        bank = evaluation.embed(step.encode, train.images, batch_size=batch_size)    # (N, D)
        query = evaluation.embed(step.encode, test.images, batch_size=batch_size)    # (M, D)
        sync(device)
        t1 = time.perf_counter()
        top1 = evaluation.knn_accuracy(bank, train.labels, query, test.labels, train.num_classes, k=k,
                                       temperature=KNN_T)  # reads the result back: synchronises
        t2 = time.perf_counter()
    finally:
        step.model.train()
    return {"seconds": t2 - t0, "embed_seconds": t1 - t0, "knn_seconds": t2 - t1, "train_images": len(train),
            "test_images": len(test), "knn_k": k, "knn_top1": top1}


def peak_matmul_tflops(device: torch.device) -> dict:
    """The device's matmul rate in the training precision, measured now: bf16 8192^3 products on
    CUDA, fp32 1024^3 on the CPU (mean of the timed repetitions after three warm-ups)."""
    dtype, n, reps = (torch.bfloat16, 8192, 50) if device.type == "cuda" else (torch.float32, 1024, 10)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    seconds = time.perf_counter() - t0
    return {"tflops": 2 * n ** 3 * reps / seconds / 1e12, "dtype": str(dtype).removeprefix("torch."), "n": n,
            "reps": reps}


# ---- the benchmark ---------------------------------------------------------------------------

def resolve_dataset(name: str) -> str:
    if name:
        return name
    return "imagefolder:data/cifar10-jpeg" if Path("data/cifar10-jpeg/train").is_dir() else "sample"


def load_splits(dataset: str, train_size: int, test_size: int, data_dir=None):
    train = data.load_dataset(dataset, "train", data_dir=data_dir)
    test = data.load_dataset(dataset, "test", data_dir=data_dir)
    if train_size and train_size < len(train):
        train = train.subset(data.stratified_subset_indices(train.labels, train_size, seed=0))
    if test_size and test_size < len(test):
        test = test.subset(data.stratified_subset_indices(test.labels, test_size, seed=0))
    return train, test


def peer_available(name: str) -> str | None:
    """The version of a peer's library, or None when it is not installed."""
    module = {"torchvision": "torchvision", "lightly": "lightly", "kornia": "kornia"}[name]
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def run_benchmark(args: argparse.Namespace) -> dict:
    """Measure everything; returns the result (figures and provenance) without writing it."""
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run_benchmark(args)
    finally:
        torch.set_num_threads(threads)


def _run_benchmark(args: argparse.Namespace) -> dict:
    device = training.resolve_device(args.device)
    dataset = resolve_dataset(args.dataset)
    train, test = load_splits(dataset, args.train_size, args.test_size, args.data_dir)
    size, channels = train.image_size, train.channels
    if args.batch_size > len(train):
        raise ValueError(f"--batch-size {args.batch_size} exceeds the {len(train)} training images")
    versions = {p: peer_available(p) for p in args.peers}
    missing = [p for p, v in versions.items() if v is None]
    if missing and not args.allow_missing_peers:
        raise RuntimeError(f"peer libraries not installed: {', '.join(missing)} (pip install -e '.[bench]', "
                           f"or --allow-missing-peers, or --peers without them)")
    print(f"dataset {dataset}: {len(train)} training images ({channels}x{size}x{size}), {len(test)} test images; "
          f"arch {args.arch} x{args.width}, batch {args.batch_size}, device {device_description(device)}, "
          f"compile {args.compile}", flush=True)

    train_dev, test_dev = train.to(device), test.to(device)
    images = train_dev.images                                          # (N, C, H, W) uint8 on the device
    arrays = train.images.permute(0, 2, 3, 1).numpy()                  # (N, H, W, C) uint8, torchvision's layout
    generator = torch.Generator(device=device).manual_seed(0)
    timing = dict(steps=args.steps, warmup=args.warmup, device=device)

    def loader_rate(dataset_, consume=None) -> Callable[[int], float]:
        def time_one(workers: int) -> float:
            make, close = loader_views(dataset_, args.batch_size, workers, device)
            try:
                return views_per_second(make, consume=consume, **timing)[0]
            finally:
                close()
        return time_one

    # augmentation alone
    augment: dict = {"ours": views_per_second(ours_views(images, args.batch_size, generator, size), **timing)[0]}
    for peer in args.peers:
        if versions[peer] is None:
            continue
        if peer == "kornia":
            augment["kornia"] = views_per_second(kornia_views(images, args.batch_size, generator, size), **timing)[0]
            continue
        ds = (PILTwoViews(arrays, torchvision_transform(size, channels), two=True) if peer == "torchvision"
              else PILTwoViews(arrays, lightly_transform(size, channels), two=False))
        best = best_over_workers(loader_rate(ds), args.workers)
        key = "peer" if peer == "torchvision" else peer  # "peer" is torchvision-PIL, as in earlier results
        augment.update({key: best["rate"], f"{key}_workers": best["workers"], f"{key}_by_workers": best["by_workers"]})
    for key in ("peer", "lightly", "kornia"):
        if key in augment:
            augment["speedup" if key == "peer" else f"speedup_vs_{key}"] = augment["ours"] / augment[key]

    # the full training step, one step object for both pipelines
    config = Config(dataset=dataset, arch=args.arch, width=args.width, batch_size=args.batch_size,
                    compile=args.compile, device=device.type, progress=False)
    torch.manual_seed(0)
    step = SimCLRStep(config, channels, size, *train.mean_std(), device)
    ours_rate, ours_warmup = views_per_second(ours_views(images, args.batch_size, generator, size),
                                              consume=step, **timing)
    peer = best_over_workers(loader_rate(PILTwoViews(arrays, torchvision_transform(size, channels), two=True),
                                         consume=step), args.workers)
    train_rates = {"ours": ours_rate, "ours_warmup_seconds": ours_warmup, "peer": peer["rate"],
                   "peer_workers": peer["workers"], "peer_by_workers": peer["by_workers"],
                   "speedup": ours_rate / peer["rate"]}

    peak = peak_matmul_tflops(device)
    per_view = step_flops(step.forward_flops, 1)
    flops = {"forward_per_image": step.forward_flops, "per_step": step_flops(step.forward_flops, 2 * args.batch_size),
             "achieved_tflops": ours_rate * per_view / 1e12, "peer_achieved_tflops": peer["rate"] * per_view / 1e12,
             "peak_tflops": peak["tflops"], "peak_measured_with": f"{peak['dtype']} matmul {peak['n']}^3",
             "fraction_of_peak": ours_rate * per_view / 1e12 / peak["tflops"]}

    # Amdahl: how far can the input pipeline alone move the training rate, with this model step as
    # measured and with the same step at the measured matmul peak (the fastest it could ever run here)?
    a_ours, a_peer = 1 / augment["ours"], (1 / augment["peer_by_workers"][0] if "peer_by_workers" in augment
                                            else None)
    if a_peer is not None:
        model_measured = max(1 / ours_rate - a_ours, 0.0)
        model_at_peak = per_view / (peak["tflops"] * 1e12)
        train_rates["ceiling"] = {
            "model_ms_per_view": 1e3 * model_measured, "model_at_peak_ms_per_view": 1e3 * model_at_peak,
            "ours_augment_ms_per_view": 1e3 * a_ours, "peer_augment_ms_per_view_one_process": 1e3 * a_peer,
            "speedup_at_measured_step": speedup_ceiling(model_measured, a_ours, a_peer),
            "speedup_at_peak_step": speedup_ceiling(model_at_peak, a_ours, a_peer)}

    result = {"benchmark": "throughput", "dataset": dataset, "train_images": len(train), "test_images": len(test),
              "image_size": size, "channels": channels, "arch": args.arch, "width": args.width,
              "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup, "compile": args.compile,
              "precision": "bf16" if device.type == "cuda" else "fp32", "threads": torch.get_num_threads(),
              "results": {"augment_views_per_s": augment, "train_views_per_s": train_rates, "flops": flops}}
    if not args.no_epoch:
        seconds, n_steps = epoch_seconds(step, images, args.batch_size, generator, size)
        result["results"]["epoch"] = {
            "ours_seconds": seconds, "steps": n_steps, "images": n_steps * args.batch_size,
            "peer_seconds_estimated": 2 * n_steps * args.batch_size / peer["rate"]}
        result["results"]["evaluation"] = evaluation_seconds(step, train_dev, test_dev)
    result["provenance"] = {"device": device_description(device), "device_type": device.type, "date": now_iso(),
                            **git_state(), "versions": {**library_versions(),
                                                        **{p: v for p, v in versions.items() if v}}}
    return result


def format_table(result: dict) -> str:
    """The result as the side-by-side table the script prints."""
    r = result["results"]
    aug, tr, fl = r["augment_views_per_s"], r["train_views_per_s"], r["flops"]

    def peer_cell(d: dict, key: str) -> str:
        if key not in d:
            return "-"
        workers = f" (w={d[f'{key}_workers']})" if f"{key}_workers" in d else ""
        return f"{d[key]:,.0f}{workers}"

    rows = [f"{'views per second':<22}{'ours':>12}{'torchvision-PIL':>22}{'lightly':>18}{'kornia':>12}",
            f"{'augmentation':<22}{aug['ours']:>12,.0f}{peer_cell(aug, 'peer'):>22}{peer_cell(aug, 'lightly'):>18}"
            f"{peer_cell(aug, 'kornia'):>12}",
            f"{'training step':<22}{tr['ours']:>12,.0f}{peer_cell(tr, 'peer'):>22}{'-':>18}{'-':>12}",
            f"speed-up of ours: augmentation "
            + ", ".join(f"{v:.2f}x vs {k.removeprefix('speedup_vs_') if k != 'speedup' else 'torchvision-PIL'}"
                        for k, v in aug.items() if k.startswith("speedup"))
            + f"; training {tr['speedup']:.2f}x vs torchvision-PIL",
            f"FLOPs: {fl['forward_per_image'] / 1e6:,.1f} MFLOP forward per image, {fl['per_step'] / 1e9:,.1f} GFLOP "
            f"per step; achieved {fl['achieved_tflops']:.3g} TFLOP/s (peer {fl['peer_achieved_tflops']:.3g}) = "
            f"{100 * fl['fraction_of_peak']:.1f} % of the measured peak {fl['peak_tflops']:.3g} TFLOP/s "
            f"({fl['peak_measured_with']})"]
    if "ceiling" in tr:
        c = tr["ceiling"]
        rows.append(f"Amdahl ceiling of the training speed-up: model step {c['model_ms_per_view']:.3f} ms/view "
                    f"({c['model_at_peak_ms_per_view']:.3f} at the measured peak), augmentation "
                    f"{c['ours_augment_ms_per_view']:.3f} (ours) vs {c['peer_augment_ms_per_view_one_process']:.3f} "
                    f"(PIL, one process) ms/view: at most {c['speedup_at_measured_step']:.2f}x with this step, "
                    f"{c['speedup_at_peak_step']:.2f}x even at peak")
    if "epoch" in r:
        ep, ev = r["epoch"], r["evaluation"]
        rows.append(f"epoch: {ep['ours_seconds']:.2f} s for {ep['images']:,} images ({ep['steps']} steps); "
                    f"torchvision-PIL at its rate: {ep['peer_seconds_estimated']:.2f} s")
        rows.append(f"evaluation: {ev['seconds']:.2f} s = embeddings {ev['embed_seconds']:.2f} s "
                    f"({ev['train_images']:,} train + {ev['test_images']:,} test images) "
                    f"+ kNN {ev['knn_seconds']:.2f} s "
                    f"(k={ev['knn_k']}; top-1 {ev['knn_top1']:.3f} after the benchmark's few steps)")
    rows.append(f"ours: first {result['warmup']} training steps (warm-up, compilation) took "
                f"{tr['ours_warmup_seconds']:.1f} s")
    return "\n".join(rows)


def result_path(result: dict, out: str | Path) -> Path:
    width = "" if result["width"] == 1 else f"-w{result['width']:g}"
    return Path(out) / f"throughput-{result['provenance']['device_type']}-{result['arch']}{width}.json"


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = run_benchmark(args)
    print(format_table(result))
    path = result_path(result, args.out)
    atomic_write_json(path, result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
