"""Build the CIFAR-10 JPEG copy that the cifar-cpu records were trained on, from the original.

    python scripts/make_cifar10_jpeg.py --download                   # fetch with torchvision, then build
    python scripts/make_cifar10_jpeg.py --root ~/datasets            # an existing cifar-10-batches-py/
    python scripts/make_cifar10_jpeg.py --out data/cifar10-jpeg-mine # somewhere else

It reads torchvision's on-disk CIFAR-10 (``<root>/cifar-10-batches-py/``: the five ``data_batch_N``
pickles, ``test_batch`` and ``batches.meta``; ``--download`` lets ``torchvision.datasets.CIFAR10``
fetch and verify them first) and writes the image-folder tree that ``dataset=imagefolder:<out>``
reads::

    <out>/train/<class>/<NNNN>.jpg   5,000 per class, numbered in the data set's order
    <out>/test/<class>/<NNNN>.jpg    1,000 per class

Every image is encoded by Pillow at quality 75 with 4:2:0 chroma subsampling: the encoder settings
of the copy behind the committed records (its quantisation tables are Pillow's quality-75 tables and
its chroma is 4:2:0; checked in ``tests/test_make_cifar10_jpeg.py``). A rebuilt copy is close to that
copy but not bitwise equal to it (another libjpeg build may round differently), so its results are
close but not identical to the committed ones; the lossless original itself is ``dataset=cifar10``.

The tree is written into a temporary folder beside ``<out>`` and renamed into place when complete,
so an interrupted build leaves no half-written copy behind.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's lib/, run from anywhere
from lib.data import load_dataset  # noqa: E402  (torchvision's CIFAR-10 reader, with its safe unpickler)

JPEG_QUALITY = 75
JPEG_SUBSAMPLING = 2  # Pillow's code for 4:2:0 chroma
SPLITS = ("train", "test")


class BuildError(Exception):
    """A problem with the input or the output folder, said in one line."""


def write_split(images: np.ndarray, labels: np.ndarray, classes: list[str], folder: Path) -> int:
    """Write ``folder/<class>/<NNNN>.jpg``, numbering each class's images in the data set's order."""
    counts = [0] * len(classes)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for image, label in zip(images, labels):
        index = counts[label]
        counts[label] += 1
        Image.fromarray(image).save(folder / classes[label] / f"{index:04d}.jpg", "JPEG",
                                    quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    return len(images)


def build(root: Path, out: Path, download: bool = False, force: bool = False) -> dict[str, int]:
    """Build the JPEG tree at ``out`` from ``root/cifar-10-batches-py``; the number of images per split."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise BuildError(f"{out} exists and is not empty: remove it, choose another --out, or add --force")
    try:
        splits = {split: load_dataset("cifar10", split, data_dir=root, download=download, cache=False)
                  for split in SPLITS}
    except FileNotFoundError:
        raise BuildError(f"CIFAR-10 not found in {root / 'cifar-10-batches-py'}: give --root the folder that holds "
                         "torchvision's cifar-10-batches-py/, or add --download to fetch it there") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
    try:
        written = {}
        for split, data in splits.items():
            images = data.images.permute(0, 2, 3, 1).numpy()  # (N, 3, 32, 32) -> (N, 32, 32, 3) for Pillow
            written[split] = write_split(images, data.labels.numpy(), list(data.classes), staging / split)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="\n\n".join(__doc__.split("\n\n")[:2]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("data"),
                        help=f"folder holding (or to download) torchvision's cifar-10-batches-py/ (default data)")
    parser.add_argument("--out", type=Path, default=Path("data/cifar10-jpeg"),
                        help="where the image-folder tree goes (default data/cifar10-jpeg)")
    parser.add_argument("--download", action="store_true", help="fetch CIFAR-10 with torchvision first")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    try:
        written = build(args.root, args.out, download=args.download, force=args.force)
    except BuildError as e:
        print(f"make_cifar10_jpeg: {e}", file=sys.stderr)
        return 2
    print(f"wrote {written['train']:,} training and {written['test']:,} test images to {args.out} "
          f"(JPEG quality {JPEG_QUALITY}, 4:2:0); use it with dataset=imagefolder:{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
