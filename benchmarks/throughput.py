"""Training throughput: our on-device pipeline against the usual PIL + DataLoader pipeline.

Both sides run the same full SimCLR step — two augmented views of a batch, the same backbone and
projection head, NT-Xent, backward, LARS step — on the same machine in the same process, so the
only difference is how the views are made:

- ours: the data set lives on the device as one uint8 tensor; a batch is drawn by index and
  augmented with batched tensor operations (``lib.views``), independent parameters per sample;
- peer: torchvision's CIFAR-10 idiom — images kept as uint8 arrays, a PIL image made per item,
  ``transforms.Compose([RandomResizedCrop, RandomHorizontalFlip, RandomApply(ColorJitter),
  RandomGrayscale, ToTensor])`` applied twice per item, batched by a ``DataLoader``; timed with
  0 and with ``--workers`` worker processes, the faster one reported.

It also times augmentation alone (views per second, no model). Prints the table and writes a
JSON file with the figures and their provenance (device, versions, commit, date).

    python benchmarks/throughput.py                                  # CPU, small CNN
    python benchmarks/throughput.py --dataset imagefolder:data/cifar10-jpeg --arch resnet18 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from lib import data, losses, models, optim, views
from lib.records import atomic_write_json, device_description, git_state, library_versions, now_iso


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="", help="default: imagefolder:data/cifar10-jpeg if present, else sample")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-size", type=int, default=10000, help="images held in memory (class-balanced)")
    p.add_argument("--arch", default="small_cnn")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier of the backbone")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=12, help="timed steps per pipeline (after 2 warm-up steps)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the peer (also timed with 0)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="benchmarks/results", help="folder for the JSON result")
    return p.parse_args(argv)


class PILTwoViews(torch.utils.data.Dataset):
    """torchvision's CIFAR idiom: a PIL image per item, the transform applied twice."""

    def __init__(self, images: np.ndarray, transform):
        self.images = images  # (N, H, W, C) uint8
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].squeeze(-1) if self.images.shape[-1] == 1 else self.images[i])
        return self.transform(img), self.transform(img)


def pil_transform(size: int, channels: int, strength: float = 0.5):
    s = strength
    return transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.08, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomApply([transforms.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
        transforms.ToTensor(),
        transforms.Normalize((0.5,) * channels, (0.25,) * channels),  # the usual last step; ours normalises in the model
    ])


def make_model(arch, width, channels, size, device, mean, std):
    torch.manual_seed(0)
    encoder = models.build_encoder(arch, in_channels=channels, image_size=size, width=width, mean=mean, std=std)
    head = models.ProjectionHead(encoder.out_dim, encoder.out_dim, 128, 2)
    model = models.ContrastiveModel(encoder, head).to(device).to(memory_format=torch.channels_last)
    opt = optim.build_optimizer("lars", model, lr=0.3, weight_decay=1e-6)
    return model, opt


def train_step(model, opt, x1, x2, device):
    x = torch.cat([x1, x2]).contiguous(memory_format=torch.channels_last)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    with amp:
        _, z = model(x)
    z1, z2 = z.float().chunk(2)
    loss = losses.nt_xent(z1, z2, 0.5)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ours(ds, args, device, train: bool):
    images = ds.images.to(device)
    pipe = views.ViewPipeline(views.SIMCLR_CIFAR, views.ViewConfig(size=ds.image_size))
    gen = torch.Generator(device=device).manual_seed(0)
    model, opt = make_model(args.arch, args.width, ds.channels, ds.image_size, device, *ds.mean_std()) if train else (None, None)
    batches = data.batches(len(images), args.batch_size, gen, device=device)
    warmup = 2
    for i in range(warmup + args.steps):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        idx = next(batches, None)
        if idx is None:
            batches = data.batches(len(images), args.batch_size, gen, device=device)
            idx = next(batches)
        x1, x2 = views.two_views(images[idx], pipe, pipe, gen)
        if train:
            train_step(model, opt, x1, x2, device)
    sync(device)
    return 2 * args.batch_size * args.steps / (time.perf_counter() - t0)


def time_peer(ds, args, device, workers: int, train: bool):
    arr = ds.images.permute(0, 2, 3, 1).numpy()  # (N, H, W, C) uint8, as torchvision's CIFAR10 keeps it
    loader = torch.utils.data.DataLoader(PILTwoViews(arr, pil_transform(ds.image_size, ds.channels)), batch_size=args.batch_size,
                                         shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    model, opt = make_model(args.arch, args.width, ds.channels, ds.image_size, device, *ds.mean_std()) if train else (None, None)
    warmup = 2
    it = iter(loader)
    for i in range(warmup + args.steps):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        try:
            x1, x2 = next(it)
        except StopIteration:
            it = iter(loader)
            x1, x2 = next(it)
        x1, x2 = x1.to(device, non_blocking=True), x2.to(device, non_blocking=True)
        if train:
            train_step(model, opt, x1, x2, device)
    sync(device)
    rate = 2 * args.batch_size * args.steps / (time.perf_counter() - t0)
    del it, loader
    return rate


def main(argv=None):
    args = parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    dataset = args.dataset or ("imagefolder:data/cifar10-jpeg" if Path("data/cifar10-jpeg/train").is_dir() else "sample")
    ds = data.load_dataset(dataset, "train", data_dir=args.data_dir)
    if args.train_size and args.train_size < len(ds):
        ds = ds.subset(data.stratified_subset_indices(ds.labels, args.train_size, seed=0))
    rows = {}
    print(f"dataset {dataset} ({len(ds)} images {ds.channels}x{ds.image_size}x{ds.image_size}), arch {args.arch}, "
          f"batch {args.batch_size}, device {device_description(device)}")
    for train in (False, True):
        what = "train_views_per_s" if train else "augment_views_per_s"
        ours = time_ours(ds, args, device, train)
        peers = {w: time_peer(ds, args, device, w, train) for w in sorted({0, args.workers})}
        best_w = max(peers, key=peers.get)
        rows[what] = {"ours": ours, "peer": peers[best_w], "peer_workers": best_w,
                      "peer_by_workers": peers, "speedup": ours / peers[best_w]}
        print(f"{what:<22} ours {ours:10.0f}   PIL+DataLoader {peers[best_w]:10.0f} "
              f"(workers={best_w}; all: {', '.join(f'{w}: {r:.0f}' for w, r in peers.items())})   "
              f"speed-up {ours / peers[best_w]:.2f}x")
    result = {"benchmark": "throughput", "dataset": dataset, "train_images": len(ds), "arch": args.arch,
              "batch_size": args.batch_size, "steps": args.steps, "results": rows,
              "provenance": {"device": device_description(device), "date": now_iso(), **git_state(),
                             "versions": library_versions()}}
    out = Path(args.out) / f"throughput-{device.type}-{args.arch}.json"
    atomic_write_json(out, result)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
