"""Data sets as uint8 tensors in memory, label fractions, and batches drawn by index.

A data set is decoded once into a uint8 tensor ``(N, C, H, W)`` with int64 labels and kept in
memory -- on the GPU for real runs -- and batches are drawn by indexing it, with no DataLoader
workers. This is the data path of airbench (Keller Jordan), whose loader "keeps the whole data
set on the GPU and augments batches there": on CIFAR-sized images the per-image Python work of
a DataLoader, not the GPU, is what limits a training step.

Sources (``load_dataset(name, split)``):

- ``sample``: a class-balanced subset of Fashion-MNIST shipped in ``lib/sample_data/`` (see its
  README.md), so that tests, notebooks and the CLI run with no download.
- ``cifar10``, ``cifar100``, ``stl10``, ``fashion-mnist``: torchvision's on-disk formats in
  ``data_dir`` (downloaded by torchvision when ``download=True``), read directly with numpy.
- ``imagefolder:<path>``: any ``<path>/<split>/<class>/<image>`` tree, decoded with Pillow.

Decoded tensors are cached in ``<data_dir>/cache/``, one file per (source, split), keyed by the
source folder and a cheap fingerprint of its files, so a changed folder is decoded again.

Label fractions (``stratified_fraction``) follow SimCLR's semi-supervised protocol (Chen et al.,
2020, Sec. 6): "we sample 1% or 10% of the labeled ILSVRC-12 training datasets in a
class-balanced way". The subsets are nested: the 1 % subset is contained in the 10 % subset of
the same seed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import math
import os
import pickle
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .paths import atomic_write_bytes, default_data_dir, repo_path



@dataclass(frozen=True)
class DatasetFacts:
    """What is known of a built-in data set before it is loaded."""

    label: str                 # how pages and the README name it
    splits: tuple[str, ...]    # the splits load_dataset reads
    train_images: int          # images of its training split (what train_size=0 uses)
    test_images: int           # images of its test split (what test_size=0 uses)
    classes: int               # classes, every one with the same number of training images

    @property
    def train_class_sizes(self) -> tuple[int, ...]:
        """Training images per class: the split is class-balanced (each of these data sets' is)."""
        return (self.train_images // self.classes,) * self.classes


# The one table of the built-in data sets; every other list of them is derived from it.
BUILTIN = {
    "sample": DatasetFacts("the grey-scale Fashion-MNIST sample", ("train", "test"), 5000, 1000, 10),
    "cifar10": DatasetFacts("CIFAR-10", ("train", "test"), 50000, 10000, 10),
    "cifar100": DatasetFacts("CIFAR-100", ("train", "test"), 50000, 10000, 100),
    "stl10": DatasetFacts("STL-10", ("train", "test", "unlabeled"), 5000, 8000, 10),
    "fashion-mnist": DatasetFacts("Fashion-MNIST", ("train", "test"), 60000, 10000, 10),
}
BUILTIN_DATASETS = tuple(BUILTIN)
DATASETS = (*BUILTIN_DATASETS, "imagefolder:<path>")
SPLITS = {name: facts.splits for name, facts in BUILTIN.items()}
TRAIN_IMAGES = {name: facts.train_images for name, facts in BUILTIN.items()}
TEST_IMAGES = {name: facts.test_images for name, facts in BUILTIN.items()}
KNOWN_FOLDERS = {"cifar10-jpeg": "CIFAR-10, JPEG q75 copy"}  # image folders the pages name by what they hold


def data_label(dataset: str) -> str:
    """What a ``dataset`` value holds, as pages name it: ``imagefolder:data/cifar10-jpeg`` is
    "CIFAR-10, JPEG q75 copy" (JPEG with 4:2:0 chroma subsampling, not the papers' lossless original)."""
    if dataset.startswith("imagefolder:"):
        folder = Path(dataset[len("imagefolder:"):]).name
        return KNOWN_FOLDERS.get(folder, f"image folder {folder}")
    return BUILTIN[dataset].label if dataset in BUILTIN else dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SAMPLE_FILE = Path(__file__).parent / "sample_data" / "fashion_mnist_sample.npz"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # torchvision's names
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
UNLABELED = -1  # label of the images of STL-10's unlabeled split
_CACHE_FORMAT = 1  # bump when the cache file layout changes


# ---- the in-memory data set -----------------------------------------------------------------

@dataclass
class ImageDataset:
    """A whole split in memory: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``.

    ``labels`` is ``UNLABELED`` (-1) for images without a label (STL-10's unlabeled split).
    """

    images: Tensor
    labels: Tensor
    classes: list[str]
    name: str
    split: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"labels must be int64 (N,) with N={len(self.images)}, "
                             f"got {self.labels.dtype} {tuple(self.labels.shape)}")
        self.classes = list(self.classes)

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same data set with images and labels on ``device``."""
        return dataclasses.replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def subset(self, indices: Tensor | Sequence[int] | np.ndarray) -> ImageDataset:
        """The images at ``indices`` (integer indices, not a boolean mask), on the same device."""
        idx = torch.as_tensor(indices, device=self.images.device)
        if idx.dtype == torch.bool or idx.is_floating_point() or idx.dim() != 1:
            raise ValueError(f"indices must be a 1-D integer index, got {idx.dtype} {tuple(idx.shape)}")
        idx = idx.long()
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx.to(self.labels.device)])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """Side of the (square) images in pixels."""
        h, w = self.images.shape[-2:]
        if h != w:
            raise ValueError(f"the images of {self.name} are {w}x{h} pixels (width x height); this code trains on "
                             f"square images: crop or pad the files to squares (e.g. {min(h, w)}x{min(h, w)})")
        return h

    def mean_std(self, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and (population) standard deviation of the pixels in [0, 1] units.

        Summed chunk by chunk in float32 and accumulated in float64, so memory stays bounded on
        50,000-image data sets and the result is exact to ~1e-6.
        """
        total = torch.zeros(self.channels, dtype=torch.float64)
        total_sq = torch.zeros(self.channels, dtype=torch.float64)
        for start in range(0, len(self), chunk):
            x = self.images[start:start + chunk].float().div_(255)  # (b, C, H, W)
            total += x.sum(dim=(0, 2, 3)).double().cpu()
            total_sq += x.square().sum(dim=(0, 2, 3)).double().cpu()
        count = len(self) * self.images.shape[2] * self.images.shape[3]
        mean = total / count
        std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
        return tuple(mean.tolist()), tuple(std.tolist())


def load_dataset(name: str, split: str, data_dir: str | Path | None = None, download: bool = False,
                 cache: bool = True, cache_dir: str | Path | None = None) -> ImageDataset:
    """Load one split of a data set as an ``ImageDataset`` on the CPU.

    Args:
        name: one of ``DATASETS``; ``imagefolder:<path>`` reads ``<path>/<split>/<class>/<image>``
            (a relative path is relative to the working directory).
        split: ``train``/``test`` (and ``unlabeled`` for ``stl10``; any folder name for image folders).
        data_dir: where torchvision's files are (default ``default_data_dir()``).
        download: let torchvision download missing files (needs internet).
        cache: read/write the decoded tensors in ``cache_dir`` (default ``<data_dir>/cache``).
            For STL-10's unlabeled split the cache is another 2.8 GB on disk.
    """
    if name == "sample":
        return _load_sample(split)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if name.startswith("imagefolder:"):
        source = _image_folder_source(name.removeprefix("imagefolder:"), split)
    elif name in SPLITS:
        _check_split(name, split)
        source = _BINARY_SOURCES[name](data_dir, split, download)
    else:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    if cache:
        images, labels, classes = _load_cached(source, split, Path(cache_dir) if cache_dir else data_dir / "cache")
    else:
        images, labels, classes = source.read()
    return ImageDataset(images, labels, classes, source.name, split)


def _check_split(name: str, split: str) -> None:
    if split not in SPLITS[name]:
        raise ValueError(f"unknown split {split!r} of {name}; expected one of {', '.join(SPLITS[name])}")


def _load_sample(split: str) -> ImageDataset:
    _check_split("sample", split)
    with np.load(SAMPLE_FILE, allow_pickle=False) as npz:
        images = torch.from_numpy(npz[f"{split}_images"]).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
        labels = torch.from_numpy(npz[f"{split}_labels"]).long()
        classes = [str(c) for c in npz["classes"]]
    return ImageDataset(images, labels, classes, "sample", split)


# ---- sources and the cache --------------------------------------------------------------------

@dataclass
class _Source:
    """Where one split comes from: ``read`` decodes it; ``fingerprint`` changes when its files do."""

    name: str  # ImageDataset.name
    root: Path  # resolved source folder (part of the cache key)
    fingerprint: str
    read: Callable[[], tuple[Tensor, Tensor, list[str]]]


def _fingerprint(root: Path, stats: Sequence[tuple[str, int, int]], extra: str = "") -> str:
    """Cheap fingerprint of files given as (path, size, mtime_ns): their number, total size, latest
    mtime and a hash of their names relative to ``root`` (so a renamed or moved file counts)."""
    prefix = len(str(root)) + 1
    names = hashlib.sha1("\0".join(p[prefix:] for p, _, _ in stats).encode("utf-8", "surrogateescape"))
    size = sum(s for _, s, _ in stats)
    mtime = max((m for _, _, m in stats), default=0)
    return f"{_CACHE_FORMAT}|{root}|{len(stats)}|{size}|{mtime}|{names.hexdigest()}|{extra}"


def _file_stats(files: Sequence[Path]) -> list[tuple[str, int, int]]:
    return [(str(p.resolve()), st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()]]


def _cache_prefix(source: _Source, split: str) -> str:
    tag = "".join(c if c.isalnum() or c in "-_" else "_" for c in source.name.split(":")[0])
    where = hashlib.sha1(os.fsencode(source.root)).hexdigest()[:10]
    return f"{tag}-{split}-{where}-"


def _load_cached(source: _Source, split: str, cache_dir: Path) -> tuple[Tensor, Tensor, list[str]]:
    """``source.read()`` through a cache file named by the source and the fingerprint of its files.

    A stale cache file of the same source and split is deleted when the new one is written; the
    write is atomic (:func:`lib.paths.atomic_write_bytes`), so a crash never leaves a torn file.
    """
    prefix = _cache_prefix(source, split)
    key = hashlib.sha1(f"{split}|{source.fingerprint}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    path = cache_dir / f"{prefix}{key}.pt"
    if path.exists():
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            images, labels, classes = entry["images"], entry["labels"], list(entry["classes"])
            if images.dtype == torch.uint8 and labels.dtype == torch.int64 and len(images) == len(labels):
                return images, labels, classes
        except Exception as err:  # a torn or foreign file: decode again and overwrite it
            warnings.warn(f"ignoring unreadable cache file {path}: {err}", stacklevel=3)
    images, labels, classes = source.read()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()  # written whole by atomic_write_bytes (its temporary removed on failure)
        torch.save({"images": images, "labels": labels, "classes": classes}, buffer)
        atomic_write_bytes(path, buffer.getvalue())
        for stale in cache_dir.glob(f"{prefix}*.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except (OSError, RuntimeError) as err:  # read-only, or full: torch.save raises RuntimeError on ENOSPC
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        warnings.warn(f"could not write the cache file {path} ({first}); running without the cache", stacklevel=3)
    return images, labels, classes


def _missing_error(dataset: str, missing: list[Path], data_dir: Path, what: str) -> FileNotFoundError:
    shown = ", ".join(str(p) for p in missing[:3]) + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else "")
    return FileNotFoundError(
        f"{dataset} not found: missing {shown}. Run with download=true (a key=value on the command line) "
        f"on a machine with internet access, or copy torchvision's {what} into {data_dir}.")


def _require(dataset: str, files: list[Path], data_dir: Path, download: bool,
             fetch: Callable[[], None], what: str) -> None:
    """Raise FileNotFoundError for missing ``files``, after letting torchvision fetch them if asked."""
    missing = [p for p in files if not p.is_file()]
    if missing and download:
        fetch()
        missing = [p for p in files if not p.is_file()]
    if missing:
        raise _missing_error(dataset, missing, data_dir, what)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else: CIFAR's batches need no other globals, and
    refusing the rest means a tampered file in ``data_dir`` cannot run code."""

    _allowed = {"_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar"}

    def find_class(self, module: str, name: str):
        if module == "_codecs" and name == "encode":
            return super().find_class(module, name)
        if module.split(".")[0] == "numpy" and name in self._allowed:
            if module.startswith("numpy.core") and np.lib.NumpyVersion(np.__version__) >= "2.0.0":
                module = "numpy._core" + module.removeprefix("numpy.core")  # numpy 2 renamed numpy.core
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: not part of a CIFAR batch")


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


def _cifar_source(dataset: str, data_dir: Path, split: str, download: bool) -> _Source:
    """CIFAR-10/100 as torchvision stores them: pickled dicts of ``data`` (N, 3072) uint8, row-major
    ``(3, 32, 32)``, and ``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100)."""
    if dataset == "cifar10":
        root = data_dir / "cifar-10-batches-py"
        parts = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        meta, label_key, class_key = "batches.meta", "labels", "label_names"
    else:
        root = data_dir / "cifar-100-python"
        parts, meta, label_key, class_key = [split], "meta", "fine_labels", "fine_label_names"
    files = [root / p for p in parts] + [root / meta]

    def fetch() -> None:
        from torchvision import datasets
        cls = datasets.CIFAR10 if dataset == "cifar10" else datasets.CIFAR100
        cls(str(data_dir), train=split == "train", download=True)

    _require(dataset, files, data_dir, download, fetch, f"{root.name}/ folder (from the python version of {dataset})")

    def read() -> tuple[Tensor, Tensor, list[str]]:
        batches = [_unpickle(root / p) for p in parts]
        images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)  # (N, 3072) -> (N, 3, 32, 32)
        labels = np.concatenate([np.asarray(b[label_key], dtype=np.int64) for b in batches])
        classes = [str(c) for c in _unpickle(root / meta)[class_key]]
        return torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)), torch.from_numpy(labels), classes

    return _Source(dataset, root.resolve(), _fingerprint(root.resolve(), _file_stats(files)), read)


def _stl10_source(data_dir: Path, split: str, download: bool) -> _Source:
    """STL-10's binaries: ``*_X.bin`` holds (N, 3, 96, 96) uint8 stored column-major (each channel is
    written column by column, hence the transpose), ``*_y.bin`` labels 1..10."""
    root = data_dir / "stl10_binary"
    images_file = root / f"{split}_X.bin"
    labels_file = None if split == "unlabeled" else root / f"{split}_y.bin"
    files = [images_file] + ([labels_file] if labels_file else [])

    def fetch() -> None:
        from torchvision import datasets
        datasets.STL10(str(data_dir), split=split, download=True)

    _require("stl10", files, data_dir, download, fetch, "stl10_binary/ folder (stl10_binary.tar.gz unpacked)")

    def read() -> tuple[Tensor, Tensor, list[str]]:
        raw = np.fromfile(images_file, dtype=np.uint8)
        if raw.size % (3 * 96 * 96):
            raise ValueError(f"{images_file}: size {raw.size} bytes is not a multiple of 3*96*96")
        images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)  # column-major (N, C, W, H) -> (N, C, H, W)
        if labels_file is None:
            labels = np.full(len(images), UNLABELED, dtype=np.int64)
        else:
            labels = np.fromfile(labels_file, dtype=np.uint8).astype(np.int64) - 1  # 1..10 -> 0..9
            if len(labels) != len(images):
                raise ValueError(f"{labels_file}: {len(labels)} labels for {len(images)} images in {images_file}")
        names_file = root / "class_names.txt"
        classes = names_file.read_text().split() if names_file.is_file() else list(STL10_CLASSES)
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), classes

    return _Source("stl10", root.resolve(), _fingerprint(root.resolve(), _file_stats(files)), read)


def read_idx(path: Path) -> np.ndarray:
    """An idx file (LeCun's MNIST format, optionally gzipped): big-endian header, then uint8 data."""
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an uint8 idx file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != math.prod(shape):
        raise ValueError(f"{path}: header says shape {shape} but holds {array.size} values")
    return array.reshape(shape)


def _fashion_mnist_source(data_dir: Path, split: str, download: bool) -> _Source:
    """Fashion-MNIST's idx files, from torchvision's ``FashionMNIST/raw/`` (plain or .gz) or, failing
    that, from Debian's ``dataset-fashion-mnist`` package."""
    prefix = "train" if split == "train" else "t10k"
    stems = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    raw = data_dir / "FashionMNIST" / "raw"

    def find() -> list[Path] | None:
        for folder, suffix in ((raw, ""), (raw, ".gz"), (DEBIAN_FASHION_MNIST_DIR, ".gz")):
            candidate = [folder / (s + suffix) for s in stems]
            if all(p.is_file() for p in candidate):
                return candidate
        return None

    files = find()
    if files is None and download:
        from torchvision import datasets
        datasets.FashionMNIST(str(data_dir), train=split == "train", download=True)
        files = find()
    if files is None:
        raise _missing_error("fashion-mnist", [raw / s for s in stems], data_dir,
                             f"FashionMNIST/raw/ files (or `apt-get install dataset-fashion-mnist`, "
                             f"which installs them in {DEBIAN_FASHION_MNIST_DIR})")

    def read() -> tuple[Tensor, Tensor, list[str]]:
        images, labels = read_idx(files[0]), read_idx(files[1])
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"{files[0]} / {files[1]}: shapes {images.shape} / {labels.shape} do not match")
        return (torch.from_numpy(images.copy()).unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28)
                torch.from_numpy(labels.astype(np.int64)), list(FASHION_MNIST_CLASSES))

    root = files[0].parent.resolve()
    return _Source("fashion-mnist", root, _fingerprint(root, _file_stats(files)), read)


_BINARY_SOURCES: dict[str, Callable[[Path, str, bool], _Source]] = {
    "cifar10": lambda d, s, dl: _cifar_source("cifar10", d, s, dl),
    "cifar100": lambda d, s, dl: _cifar_source("cifar100", d, s, dl),
    "stl10": _stl10_source,
    "fashion-mnist": _fashion_mnist_source,
}


# ---- image folders ------------------------------------------------------------------------------

def _class_dirs(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _scan_images(folder: str, found: list[tuple[str, int, int]]) -> None:
    """Append (path, size, mtime_ns) of the image files under ``folder``, recursively, sorted by name.
    ``os.scandir`` rather than ``Path`` objects: listing 50,000 files must stay well under a second."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                _scan_images(entry.path, found)
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS) and entry.is_file():
                st = entry.stat()
                found.append((entry.path, st.st_size, st.st_mtime_ns))
        except OSError as err:  # a symbolic link loop (ELOOP), a file without read permission ...
            raise ValueError(f"cannot read {entry.path} in the image folder ({err.strerror or err}); "
                             "fix or remove it") from None


def _image_folder_root(path: str) -> Path:
    """An image folder's resolved root: a relative path is taken from the working directory, or else
    from the repository root (notebooks run in ``notebooks/``)."""
    root = Path(path).expanduser()
    if not root.is_absolute() and not root.exists() and repo_path(path).exists():
        root = repo_path(path)
    return root.resolve()


def _count_images(folder: str) -> int:
    """Image files under ``folder``, recursively, by name alone (no stat, no decoding)."""
    n = 0
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            n += _count_images(entry.path)
        elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
            n += 1
    return n


def image_folder_count(path: str, split: str = "train", data_dir: str | Path | None = None) -> int:
    """How many images ``<path>/<split>`` holds, without decoding any: what ``--plan`` needs of a data set
    whose size it does not know (``train_size 0`` means the whole split).

    The count is cached beside the decoded tensors' cache (``<data_dir>/cache/imagefolder-<split>-<where>-count.json``),
    keyed by the modification times of the split's folder and its class folders, which change whenever a
    file is added, removed or renamed in them; checking the key costs a few ``stat`` calls, not a listing."""
    root = _image_folder_root(path)
    split_dir = root / split
    if not split_dir.is_dir():
        available = _class_dirs(root) if root.is_dir() else []
        raise FileNotFoundError(f"image folder split not found: {split_dir} (splits there: {available or 'none'})")
    folders = [split_dir] + [split_dir / c for c in _class_dirs(split_dir)]
    key = [[f.name, f.stat().st_mtime_ns] for f in folders]
    tag = hashlib.sha1(os.fsencode(root)).hexdigest()[:10]
    cache = (Path(data_dir) if data_dir is not None else default_data_dir()) / "cache" / f"imagefolder-{split}-{tag}-count.json"
    try:
        entry = json.loads(cache.read_text())
        if entry.get("root") == str(root) and entry.get("key") == key:
            return int(entry["count"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache yet, or a torn or foreign one: count again
    count = _count_images(str(split_dir))
    try:
        entry = {"root": str(root), "key": key, "count": count}
        atomic_write_bytes(cache, (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode())
    except OSError:
        pass  # a read-only data directory: count every time (a listing, well under a second)
    return count


def _image_folder_source(path: str, split: str) -> _Source:
    """``<path>/<split>/<class>/<image>``: classes sorted by name, taken from ``<path>/train`` when it
    exists so that every split numbers the classes the same way (:func:`_image_folder_root`)."""
    root = _image_folder_root(path)
    split_dir = root / split
    if not split_dir.is_dir():
        available = _class_dirs(root) if root.is_dir() else []
        raise FileNotFoundError(f"image folder split not found: {split_dir} (splits there: {available or 'none'})")
    classes = _class_dirs(root / "train") if (root / "train").is_dir() else _class_dirs(split_dir)
    unknown = sorted(set(_class_dirs(split_dir)) - set(classes))
    if unknown:
        raise ValueError(f"{split_dir} has classes {unknown} that {root / 'train'} lacks")
    stats: list[tuple[str, int, int]] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        if (split_dir / cls).is_dir():
            before = len(stats)
            _scan_images(str(split_dir / cls), stats)
            labels += [label] * (len(stats) - before)
    if not stats:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {split_dir}; "
                         f"expected the layout {split_dir}/<class>/<image>")

    def read() -> tuple[Tensor, Tensor, list[str]]:
        images = _decode_images([p for p, _, _ in stats])  # (N, H, W, C)
        if len(classes) < 2:  # every score would be 1.0: one class is always right
            where = root / "train" if (root / "train").is_dir() else split_dir
            raise ValueError(f"{where} has {len(classes)} class folder ({', '.join(classes)}); kNN, the probe and "
                             f"NMI need at least 2 classes: put each class's images in a folder of its own "
                             f"({where}/<class>/<image>)")
        images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
        return images, torch.tensor(labels, dtype=torch.int64), classes

    return _Source(f"imagefolder:{root}", root, _fingerprint(root, stats, extra="/".join(classes)), read)


def _decode_images(files: Sequence[str | Path], workers: int | None = None) -> np.ndarray:
    """Decode image files with Pillow into one uint8 array ``(N, H, W, C)``, C = 1 if every image is
    grayscale, else 3 (RGB). Threads help: Pillow releases the GIL while it decodes."""
    from PIL import Image

    def decode(path: Path) -> tuple[np.ndarray, bool]:
        try:
            with Image.open(path) as img:
                img.load()
                gray = img.mode in ("1", "L", "LA", "I", "I;16", "F")
                return np.asarray(img.convert("L" if gray else "RGB")), gray
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot decode image {path}: {err}") from err

    first, _ = decode(files[0])
    height, width = first.shape[:2]
    out = np.empty((len(files), height, width, 3), dtype=np.uint8)
    gray = np.empty(len(files), dtype=bool)

    def decode_into(chunk: range) -> None:
        for i in chunk:
            pixels, gray[i] = decode(files[i])
            if pixels.shape[:2] != (height, width):
                raise ValueError(f"image {files[i]} is {pixels.shape[1]}x{pixels.shape[0]} but {files[0]} is "
                                 f"{width}x{height}; all images of an image folder must have the same size")
            out[i] = pixels if pixels.ndim == 3 else pixels[:, :, None]  # gray is copied into all 3 channels

    chunks = [range(s, min(s + 256, len(files))) for s in range(0, len(files), 256)]
    with ThreadPoolExecutor(max_workers=workers or min(16, os.cpu_count() or 1)) as pool:
        list(pool.map(decode_into, chunks))  # list() re-raises the first error
    return out[..., :1] if gray.all() else out


# ---- label fractions and subsets ----------------------------------------------------------------

def _class_ranks(labels: Tensor, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """A seeded random order within each class: for every sample its class, its rank in that order,
    and the class sizes. The order depends only on (labels, seed), which is what nests subsets."""
    labels = labels.detach().cpu().long()
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    if len(labels) and labels.min() < 0:
        raise ValueError("labels must be >= 0; unlabeled samples (-1) cannot be split by class")
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(labels), generator=generator)
    grouped = perm[torch.sort(labels[perm], stable=True).indices]  # samples grouped by class, random within
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    ranks = torch.empty_like(labels)
    ranks[grouped] = torch.arange(len(labels)) - starts[labels[grouped]]
    return labels, ranks, counts


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _fraction_of_class(n: int, fraction: float) -> int:
    """Samples :func:`stratified_fraction` keeps of a class of ``n``: ``round(fraction * n)``, at least 1."""
    return max(1, _round_half_up(fraction * n)) if n else 0


def stratified_fraction(labels: Tensor, fraction: float, seed: int = 0) -> Tensor:
    """Sorted indices of a class-balanced ``fraction`` of the samples: ``round(fraction * n_c)`` (at
    least 1) random samples of every class c, chosen by ``seed``.

    Chen et al. (2020, Sec. 6): "we sample 1% or 10% of the labeled ILSVRC-12 training datasets in
    a class-balanced way". For a given seed the subsets are nested: a smaller fraction's subset is
    contained in a larger one's, so a 1 % run sees a subset of the labels of the 10 % run.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    labels_cpu, ranks, counts = _class_ranks(labels, seed)
    take = torch.tensor([_fraction_of_class(n, fraction) for n in counts.tolist()])
    keep = ranks < take[labels_cpu]
    return torch.nonzero(keep).flatten().to(labels.device)


def stratified_subset_indices(labels: Tensor, n_total: int, seed: int = 0) -> Tensor:
    """Sorted indices of ``n_total`` samples spread as evenly over the classes as their sizes allow
    (e.g. "10,000 training images" of CIFAR-10 = 1,000 per class), chosen by ``seed``.

    Every class gets ``min(n_c, L)`` samples for the largest level L that fits; the few samples
    left over go, one each, to the lowest-numbered classes that still have some.
    """
    labels_cpu, ranks, counts = _class_ranks(labels, seed)
    if not 1 <= n_total <= len(labels_cpu):
        raise ValueError(f"n_total must be in [1, {len(labels_cpu)}] (the number of samples), got {n_total}")
    take = torch.tensor(subset_class_sizes(counts.tolist(), n_total), dtype=counts.dtype)
    return torch.nonzero(ranks < take[labels_cpu]).flatten().to(labels.device)


def subset_class_sizes(sizes: list[int] | tuple[int, ...], n_total: int) -> list[int]:
    """Per class, how many of its ``sizes`` samples :func:`stratified_subset_indices` keeps of ``n_total``:
    ``min(n_c, L)`` for the largest level L that fits, the few left over one each to the lowest-numbered
    classes that still have some. Counts only: whichever samples the seed picks, these are the sizes."""
    lo, hi = 0, max(sizes, default=0)
    while lo < hi:  # largest level L with sum(min(n_c, L)) <= n_total
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in sizes) <= n_total:
            lo = mid
        else:
            hi = mid - 1
    take = [min(n, lo) for n in sizes]
    left = n_total - sum(take)
    for c in [c for c, n in enumerate(sizes) if n > lo][:left]:
        take[c] += 1
    return take


def labelled_size(sizes: list[int] | tuple[int, ...], fraction: float, train_size: int = 0, val_size: int = 0) -> int:
    """How many labelled images training draws from a training split with ``sizes`` images per class: the
    ``train_size`` subset (0: all), less the ``val_size`` validation images, then ``fraction`` of each class
    (as ``lib.training.prepare_data`` draws them, whatever the seed). For planning runs on a machine without
    the data: a built-in data set's sizes are :attr:`DatasetFacts.train_class_sizes`."""
    sizes = list(sizes)
    if train_size:
        sizes = subset_class_sizes(sizes, train_size)
    if val_size:
        sizes = [n - v for n, v in zip(sizes, subset_class_sizes(sizes, val_size))]
    return sum(_fraction_of_class(n, fraction) for n in sizes)


def carve_validation(labels: Tensor, val_size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Sorted ``(keep_idx, val_idx)``: ``val_size`` class-balanced samples drawn by ``seed`` (as
    :func:`stratified_subset_indices`) held out for choosing settings, and the rest kept for training.
    Disjoint and together every sample, so no validation image is ever trained on."""
    if not 1 <= val_size < labels.shape[0]:
        raise ValueError(f"val_size must be in [1, {labels.shape[0] - 1}] (fewer than the samples), got {val_size}")
    val_idx = stratified_subset_indices(labels, val_size, seed=seed)
    keep = torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)
    keep[val_idx] = False
    return torch.nonzero(keep).flatten(), val_idx


def train_val_split(labels: Tensor, val_fraction: float, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Seeded stratified split of indices into sorted ``(train_idx, val_idx)`` (the linear probe's
    validation split).

    Each class with n >= 2 samples sends round(val_fraction * n), clipped to [1, n - 1], randomly
    chosen samples to validation; a class with one sample stays in training.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    g = torch.Generator().manual_seed(seed)
    n = labels.shape[0]
    y = labels.cpu()
    perm = torch.randperm(n, generator=g)  # random order within each class after the stable sort
    order = perm[torch.sort(y[perm], stable=True).indices]  # (N,) grouped by class
    counts = torch.bincount(y)  # (C,)
    starts = torch.cumsum(counts, 0) - counts
    sorted_y = y[order]
    rank = torch.arange(n) - starts[sorted_y]  # position within its class
    n_val = torch.round(counts.double() * val_fraction).long().clamp(min=1)
    n_val = torch.minimum(n_val, counts - 1)  # classes of 1 sample send none
    is_val = rank < n_val[sorted_y]
    train_idx, val_idx = order[~is_val].sort().values, order[is_val].sort().values
    return train_idx.to(labels.device), val_idx.to(labels.device)


# ---- batches by index ---------------------------------------------------------------------------

def batches(n: int, batch_size: int, generator: torch.Generator, drop_last: bool = True,
            device: torch.device | str | None = None) -> Iterator[Tensor]:
    """One epoch of shuffled index batches over ``range(n)``, drawn with ``torch.randperm`` on the
    generator's device and moved to ``device`` (default: the generator's). Index the device-resident
    uint8 tensor with them: ``images[idx]``. Each index appears at most once per epoch."""
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
    if drop_last and batch_size > n:
        raise ValueError(f"batch_size={batch_size} > n={n} with drop_last=True would give no batch")
    perm = torch.randperm(n, generator=generator, device=generator.device)
    if device is not None:
        perm = perm.to(device)
    stop = n - n % batch_size if drop_last else n
    return (perm[start:start + batch_size] for start in range(0, stop, batch_size))


@dataclass
class BatchSampler:
    """``batches`` as an object that knows its length (steps per epoch); each ``iter`` is a new epoch."""

    n: int
    batch_size: int
    generator: torch.Generator
    drop_last: bool = True
    device: torch.device | str | None = None

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        return batches(self.n, self.batch_size, self.generator, self.drop_last, self.device)
