"""Build the embedded sample ``lib/sample_data/fashion_mnist_sample.npz`` from Fashion-MNIST.

Reads the official idx files (Debian's ``dataset-fashion-mnist`` package installs them in
/usr/share/datasets/fashion-mnist) and keeps, for every class c, the first k images of a seeded
random permutation of that class's images (numpy ``default_rng(seed).permutation``, classes in
order 0..9, train before test), in their original order. The zip is written with fixed
timestamps, so the same inputs give the same bytes (with the same zlib).

    apt-get install -y dataset-fashion-mnist
    python scripts/make_sample.py            # writes lib/sample_data/fashion_mnist_sample.npz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.data import DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, SAMPLE_FILE, read_idx  # noqa: E402

SOURCE_FILES = {  # split -> (images, labels) as published by Zalando Research
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MAX_BYTES = 4_000_000  # the sample must stay well under the 5 MB budget of the repository


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``per_class`` random images of every class (classes visited in order)."""
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(len(FASHION_MNIST_CLASSES))]
    if any(len(c) < per_class for c in chosen):
        raise ValueError(f"a class has fewer than {per_class} images")
    return np.sort(np.concatenate(chosen))


def build_sample(source_dir: Path, train_per_class: int = 500, test_per_class: int = 100,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of the sample: ``{split}_images`` uint8 (N, 28, 28), ``{split}_labels`` int64, ``classes``."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        images_name, labels_name = SOURCE_FILES[split]
        images, labels = read_idx(source_dir / images_name), read_idx(source_dir / labels_name)
        keep = select(labels, per_class, rng)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[keep])
        arrays[f"{split}_labels"] = labels[keep].astype(np.int64)
    arrays["classes"] = np.array(FASHION_MNIST_CLASSES)
    return arrays


def write_npz(arrays: dict[str, np.ndarray], path: Path) -> None:
    """``np.savez_compressed`` with fixed zip timestamps, so that the output is reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_FASHION_MNIST_DIR,
                        help="folder holding the four Fashion-MNIST *-ubyte.gz files")
    parser.add_argument("--out", type=Path, default=SAMPLE_FILE, help="the .npz to write")
    parser.add_argument("--train-per-class", type=int, default=500, help="training images per class")
    parser.add_argument("--test-per-class", type=int, default=100, help="test images per class")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy's default_rng")
    args = parser.parse_args()

    arrays = build_sample(args.source, args.train_per_class, args.test_per_class, args.seed)
    write_npz(arrays, args.out)
    size = args.out.stat().st_size
    for split in ("train", "test"):
        counts = np.bincount(arrays[f"{split}_labels"], minlength=len(FASHION_MNIST_CLASSES))
        print(f"{split}: {len(arrays[f'{split}_labels'])} images, per class {counts.tolist()}")
    for name in sum(SOURCE_FILES.values(), ()):
        print(f"source {name}  sha256 {sha256(args.source / name)}")
    print(f"wrote {args.out} ({size:,} bytes, sha256 {sha256(args.out)})")
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out} is {size:,} bytes, over the {MAX_BYTES:,}-byte budget; "
                         "use fewer images per class")


if __name__ == "__main__":
    main()
