"""Data: the embedded sample, torchvision's on-disk formats (as tiny fakes), image folders and
their cache, label fractions and index batches."""

from __future__ import annotations

import gzip
import os
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lib.data as data
from lib.data import (
    DATASETS, BatchSampler, ImageDataset, batches, default_data_dir, load_dataset, stratified_fraction,
    stratified_subset_indices, train_val_split,
)

REPO = Path(__file__).resolve().parents[1]


def random_images(n: int, c: int, h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, c, h, w), dtype=np.uint8)


# ---- the embedded sample -------------------------------------------------------------------------

@pytest.mark.parametrize("split, per_class", [("train", 500), ("test", 100)])
def test_sample_shapes_dtypes_and_class_balance(split, per_class):
    ds = load_dataset("sample", split)
    assert (ds.name, ds.split, ds.num_classes, ds.channels, ds.image_size) == ("sample", split, 10, 1, 28)
    assert ds.images.shape == (10 * per_class, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64
    assert torch.bincount(ds.labels, minlength=10).tolist() == [per_class] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert 0.2 < ds.mean_std()[0][0] < 0.4  # Fashion-MNIST's mean pixel is 0.286: real images, not noise


def test_sample_is_small_and_documented():
    folder = REPO / "lib" / "sample_data"
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5_000_000
    readme = (folder / "README.md").read_text()
    for needle in ("MIT", "Zalando", "scripts/make_sample.py", "sha256", "train-images-idx3-ubyte.gz"):
        assert needle in readme


@pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_sample_is_what_make_sample_builds_from_the_source_files():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import make_sample
    finally:
        sys.path.remove(str(REPO / "scripts"))
    built = make_sample.build_sample(data.DEBIAN_FASHION_MNIST_DIR)
    with np.load(data.SAMPLE_FILE, allow_pickle=False) as shipped:
        assert sorted(shipped.files) == sorted(built)
        for key in built:
            np.testing.assert_array_equal(shipped[key], built[key])


def test_unknown_name_and_split_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="imagenet.*cifar10.*imagefolder"):
        load_dataset("imagenet", "train", data_dir=tmp_path)
    with pytest.raises(ValueError, match="'val'.*train, test"):
        load_dataset("sample", "val")
    with pytest.raises(ValueError, match="'unlabeled'"):
        load_dataset("cifar10", "unlabeled", data_dir=tmp_path)
    assert "stl10" in DATASETS


def test_default_data_dir_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("THESIS_DATA_DIR", raising=False)
    from lib.config import repo_path

    assert default_data_dir() == repo_path("data")  # the repository's data/, wherever the process runs
    assert default_data_dir().is_absolute()
    monkeypatch.setenv("THESIS_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path


# ---- torchvision's formats, as tiny fakes ----------------------------------------------------------

def write_cifar10(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    out = {"train": ([], []), "test": ([], [])}
    for i, part in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images, labels = random_images(2, 3, 32, 32, seed=i), [i % 10, (i + 3) % 10]
        batch = {"batch_label": part, "data": images.reshape(2, -1), "labels": labels, "filenames": ["a", "b"]}
        if i % 2:  # like the originals: protocol 2, written by numpy 1 (whose module was numpy.core)
            blob = pickle.dumps(batch, protocol=2).replace(b"numpy._core.", b"numpy.core.")
        else:
            blob = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        (folder / part).write_bytes(blob)
        split = "test" if part == "test_batch" else "train"
        out[split][0].append(images)
        out[split][1].extend(labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{k}" for k in range(10)], "num_vis": 3072}, f)
    return {k: (np.concatenate(v[0]), np.array(v[1])) for k, v in out.items()}


def test_cifar10_format(tmp_path):
    expected = write_cifar10(tmp_path)
    for split in ("train", "test"):
        ds = load_dataset("cifar10", split, data_dir=tmp_path, cache=False)
        assert ds.images.shape == ((10 if split == "train" else 2), 3, 32, 32)
        np.testing.assert_array_equal(ds.images.numpy(), expected[split][0])
        np.testing.assert_array_equal(ds.labels.numpy(), expected[split][1])
        assert ds.classes == [f"class{k}" for k in range(10)] and ds.name == "cifar10"


def test_cifar10_agrees_with_torchvision_reader(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar
    write_cifar10(tmp_path)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # the fakes have no official md5
    reference = tv_cifar.CIFAR10(str(tmp_path), train=True, download=False)
    ds = load_dataset("cifar10", "train", data_dir=tmp_path, cache=False)
    np.testing.assert_array_equal(ds.images.permute(0, 2, 3, 1).numpy(), reference.data)  # torchvision: (N, H, W, C)
    assert ds.labels.tolist() == reference.targets and ds.classes == reference.classes


def test_cifar_pickles_cannot_run_code(tmp_path):
    write_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_dataset("cifar10", "test", data_dir=tmp_path, cache=False)


def test_cifar100_format(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    expected = {}
    for i, split in enumerate(("train", "test")):
        images, fine = random_images(3, 3, 32, 32, seed=10 + i), [99, 0, 42 + i]
        with open(folder / split, "wb") as f:
            pickle.dump({"data": images.reshape(3, -1), "fine_labels": fine, "coarse_labels": [1, 2, 3]}, f, protocol=2)
        expected[split] = (images, fine)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"f{k}" for k in range(100)], "coarse_label_names": ["c"] * 20}, f)
    for split, (images, fine) in expected.items():
        ds = load_dataset("cifar100", split, data_dir=tmp_path, cache=False)
        np.testing.assert_array_equal(ds.images.numpy(), images)
        assert ds.labels.tolist() == fine and ds.num_classes == 100 and ds.classes[42] == "f42"


def write_stl10(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    out = {}
    for i, (split, n) in enumerate((("train", 3), ("test", 2), ("unlabeled", 2))):
        images = random_images(n, 3, 96, 96, seed=20 + i)  # (N, C, H, W)
        (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())  # STL: column-major
        labels = None
        if split != "unlabeled":
            labels = np.array([10, 1, 5][:n])  # 1-based on disk
            (folder / f"{split}_y.bin").write_bytes(labels.astype(np.uint8).tobytes())
        out[split] = (images, labels)
    (folder / "class_names.txt").write_text("\n".join(data.STL10_CLASSES) + "\n")
    return out


def test_stl10_format_including_the_transpose(tmp_path):
    expected = write_stl10(tmp_path)
    for split, (images, labels) in expected.items():
        ds = load_dataset("stl10", split, data_dir=tmp_path, cache=False)
        assert ds.images.shape == (len(images), 3, 96, 96) and ds.image_size == 96
        np.testing.assert_array_equal(ds.images.numpy(), images)
        want = [-1] * len(images) if labels is None else (labels - 1).tolist()
        assert ds.labels.tolist() == want
        assert ds.classes == list(data.STL10_CLASSES)


def test_stl10_agrees_with_torchvision_reader(tmp_path, monkeypatch):
    import torchvision.datasets.stl10 as tv_stl
    write_stl10(tmp_path)
    monkeypatch.setattr(tv_stl, "check_integrity", lambda *a, **k: True)
    reference = tv_stl.STL10(str(tmp_path), split="train", download=False)
    ds = load_dataset("stl10", "train", data_dir=tmp_path, cache=False)
    np.testing.assert_array_equal(ds.images.numpy(), reference.data)
    assert ds.labels.tolist() == reference.labels.tolist()


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    magic = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    payload = magic + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_idx_format(tmp_path, monkeypatch, compress):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    suffix = ".gz" if compress else ""
    images = random_images(4, 1, 28, 28, seed=30)[:, 0]
    labels = np.array([9, 0, 3, 3])
    write_idx(raw / f"t10k-images-idx3-ubyte{suffix}", images, compress)
    write_idx(raw / f"t10k-labels-idx1-ubyte{suffix}", labels, compress)
    ds = load_dataset("fashion-mnist", "test", data_dir=tmp_path, cache=False)
    assert ds.images.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(ds.images[:, 0].numpy(), images)
    assert ds.labels.tolist() == labels.tolist() and ds.classes[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError):  # the train files are missing
        load_dataset("fashion-mnist", "train", data_dir=tmp_path)


@pytest.mark.parametrize("name, expected_path", [
    ("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"), ("stl10", "stl10_binary"),
    ("fashion-mnist", "FashionMNIST")])
def test_missing_files_without_download_name_the_path(tmp_path, monkeypatch, name, expected_path):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, "train", data_dir=tmp_path)
    assert str(tmp_path / expected_path) in str(err.value) and "download=true" in str(err.value)
    assert "--download" not in str(err.value)  # #23: no such flag exists


def test_download_calls_torchvision_then_reads_its_files(tmp_path, monkeypatch):
    import torchvision.datasets
    calls = []

    def fake_cifar10(root, train, download):  # stands in for the real download (no internet here)
        calls.append((root, train, download))
        write_cifar10(Path(root))

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    ds = load_dataset("cifar10", "test", data_dir=tmp_path, download=True)
    assert calls == [(str(tmp_path), False, True)] and len(ds) == 2
    load_dataset("cifar10", "train", data_dir=tmp_path, download=True)
    assert len(calls) == 1  # files present: no second download


def test_binary_sources_are_cached_by_fingerprint(tmp_path):
    write_cifar10(tmp_path)
    first = load_dataset("cifar10", "train", data_dir=tmp_path)
    assert len(list((tmp_path / "cache").glob("cifar10-train-*.pt"))) == 1
    for part in (tmp_path / "cifar-10-batches-py").iterdir():  # garbage of the same size and mtime ...
        st = part.stat()
        part.write_bytes(b"\0" * st.st_size)
        os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = load_dataset("cifar10", "train", data_dir=tmp_path)  # ... is not read: the cache answers
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "ab") as f:
        f.write(b"\0")  # a changed size invalidates the cache, and the garbage is read
    with pytest.raises(pickle.UnpicklingError):
        load_dataset("cifar10", "train", data_dir=tmp_path)


# ---- image folders --------------------------------------------------------------------------------

def save_image(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def make_folder(root: Path) -> dict[str, np.ndarray]:
    """train/{bird,cat,dog}, test/{cat,dog} (no bird): 8x8 RGB PNGs, one JPEG with a flat colour."""
    rng = np.random.default_rng(0)
    pixels = {}
    for split, classes in (("train", ("bird", "cat", "dog")), ("test", ("cat", "dog"))):
        for cls in classes:
            for k in range(2):
                pixels[f"{split}/{cls}/{k}.png"] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    pixels["train/dog/9.PNG"] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # upper-case extension
    for name, p in pixels.items():
        save_image(root / name, p)
    save_image(root / "train" / "cat" / "5.jpg", np.full((8, 8, 3), (200, 30, 90), dtype=np.uint8))
    (root / "train" / "cat" / "notes.txt").write_text("not an image, ignored")
    return pixels


def test_image_folder_labels_classes_and_pixels(tmp_path):
    pixels = make_folder(tmp_path / "imgs")
    train = load_dataset(f"imagefolder:{tmp_path / 'imgs'}", "train", cache=False)
    assert train.classes == ["bird", "cat", "dog"] and train.name == f"imagefolder:{tmp_path / 'imgs'}"
    assert train.images.shape == (8, 3, 8, 8)
    assert train.labels.tolist() == [0, 0, 1, 1, 1, 2, 2, 2]  # bird 0,1; cat 0,1,5.jpg; dog 0,1,9.PNG
    np.testing.assert_array_equal(train.images[6].permute(1, 2, 0).numpy(), pixels["train/dog/1.png"])
    np.testing.assert_array_equal(train.images[7].permute(1, 2, 0).numpy(), pixels["train/dog/9.PNG"])
    jpeg = train.images[4].permute(1, 2, 0).numpy().astype(int)  # lossy, but a flat colour survives
    assert np.abs(jpeg - [200, 30, 90]).max() <= 3
    test = load_dataset(f"imagefolder:{tmp_path / 'imgs'}", "test", cache=False)
    assert test.classes == train.classes and test.labels.tolist() == [1, 1, 2, 2]  # numbered as in train
    np.testing.assert_array_equal(test.images[2].permute(1, 2, 0).numpy(), pixels["test/dog/0.png"])


def test_image_folder_grayscale_gives_one_channel_and_mixed_gives_rgb(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    save_image(tmp_path / "g" / "train" / "a" / "0.png", gray)
    save_image(tmp_path / "g" / "train" / "b" / "0.bmp", 255 - gray)
    ds = load_dataset(f"imagefolder:{tmp_path / 'g'}", "train", cache=False)
    assert ds.images.shape == (2, 1, 8, 8)
    np.testing.assert_array_equal(ds.images[1, 0].numpy(), 255 - gray)
    save_image(tmp_path / "g" / "train" / "b" / "1.png", np.zeros((8, 8, 3), dtype=np.uint8))
    ds = load_dataset(f"imagefolder:{tmp_path / 'g'}", "train", cache=False)
    assert ds.images.shape == (3, 3, 8, 8)
    for c in range(3):  # the gray image is copied into the three channels
        np.testing.assert_array_equal(ds.images[0, c].numpy(), gray)


def test_image_folder_cache_hit_and_invalidation(tmp_path, monkeypatch):
    make_folder(tmp_path / "imgs")
    decode_calls = []
    real_decode = data._decode_images
    def counting_decode(files, **kwargs):
        decode_calls.append(len(files))
        return real_decode(files, **kwargs)

    monkeypatch.setattr(data, "_decode_images", counting_decode)
    name, cache_dir = f"imagefolder:{tmp_path / 'imgs'}", tmp_path / "cache"
    first = load_dataset(name, "train", cache_dir=cache_dir)
    second = load_dataset(name, "train", cache_dir=cache_dir)
    assert decode_calls == [8]  # the second load was served by the cache
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.classes == first.classes
    save_image(tmp_path / "imgs" / "train" / "bird" / "7.png", np.zeros((8, 8, 3), dtype=np.uint8))
    third = load_dataset(name, "train", cache_dir=cache_dir)
    assert decode_calls == [8, 9] and len(third) == 9 and third.labels.tolist().count(0) == 3
    assert len(list(cache_dir.glob("imagefolder-train-*.pt"))) == 1  # the stale file was replaced
    load_dataset(name, "train", cache_dir=cache_dir, cache=False)
    assert decode_calls == [8, 9, 9]


def test_image_folder_unreadable_cache_is_rebuilt(tmp_path):
    make_folder(tmp_path / "imgs")
    name, cache_dir = f"imagefolder:{tmp_path / 'imgs'}", tmp_path / "cache"
    first = load_dataset(name, "test", cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.pt")
    cache_file.write_bytes(b"torn")
    with pytest.warns(UserWarning, match="unreadable cache"):
        again = load_dataset(name, "test", cache_dir=cache_dir)
    assert torch.equal(first.images, again.images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(name, "test", cache_dir=cache_dir)  # rewritten: a clean hit


def test_image_folder_errors_name_the_culprit(tmp_path):
    (tmp_path / "empty" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(ValueError, match=str(tmp_path / "empty" / "train")):
        load_dataset(f"imagefolder:{tmp_path / 'empty'}", "train", cache=False)

    make_folder(tmp_path / "bad")
    (tmp_path / "bad" / "train" / "cat" / "3.png").write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match="3.png"):
        load_dataset(f"imagefolder:{tmp_path / 'bad'}", "train", cache=False)

    make_folder(tmp_path / "sizes")
    save_image(tmp_path / "sizes" / "train" / "dog" / "big.png", np.zeros((9, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="big.png.*same size"):
        load_dataset(f"imagefolder:{tmp_path / 'sizes'}", "train", cache=False)

    make_folder(tmp_path / "extra")
    save_image(tmp_path / "extra" / "test" / "horse" / "0.png", np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="horse"):
        load_dataset(f"imagefolder:{tmp_path / 'extra'}", "test", cache=False)

    with pytest.raises(FileNotFoundError, match="val"):
        load_dataset(f"imagefolder:{tmp_path / 'extra'}", "val", cache=False)


CIFAR_JPEG = REPO / "data" / "cifar10-jpeg"


@pytest.mark.skipif(not (CIFAR_JPEG / "test").is_dir(), reason="CIFAR-10 JPEG copy not unpacked in data/")
def test_cifar10_jpeg_copy_if_present(tmp_path):
    ds = load_dataset(f"imagefolder:{CIFAR_JPEG}", "test", cache_dir=tmp_path)
    assert ds.images.shape == (10_000, 3, 32, 32) and ds.classes[0] == "airplane"
    assert torch.bincount(ds.labels).tolist() == [1000] * 10


# ---- the ImageDataset object --------------------------------------------------------------------

def test_image_dataset_subset_to_and_mean_std_against_naive_reference():
    images = torch.from_numpy(random_images(7, 3, 5, 5, seed=1))
    images[:, 2] //= 4  # channels with different statistics
    ds = ImageDataset(images, torch.tensor([0, 1, 2, 0, 1, 2, 0]), ["a", "b", "c"], "toy", "train")
    mean, std = ds.mean_std(chunk=3)  # chunks that do not divide N
    x = images.double() / 255
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(torch.tensor(std, dtype=torch.float64), x.std(dim=(0, 2, 3), unbiased=False))
    sub = ds.subset(torch.tensor([6, 1]))
    assert torch.equal(sub.images, images[[6, 1]]) and sub.labels.tolist() == [0, 1] and sub.classes == ds.classes
    assert ds.subset([2]).labels.tolist() == [2] and len(ds.to("cpu")) == 7
    with pytest.raises(ValueError, match="boolean|integer"):
        ds.subset(torch.ones(7, dtype=torch.bool))
    with pytest.raises(ValueError, match="uint8"):
        ImageDataset(images.float(), ds.labels, ds.classes, "toy", "train")


# ---- label fractions ----------------------------------------------------------------------------

LABELS = torch.tensor([0] * 100 + [1] * 50 + [2] * 7 + [3] * 1)  # unequal classes, shuffled below
LABELS = LABELS[torch.randperm(158, generator=torch.Generator().manual_seed(0))]


def test_stratified_fraction_counts_per_class():
    idx = stratified_fraction(LABELS, 0.1, seed=0)
    assert torch.equal(idx, idx.unique())  # sorted, no repeats
    assert torch.bincount(LABELS[idx], minlength=4).tolist() == [10, 5, 1, 1]  # round(0.7)=1, at least 1
    assert torch.bincount(LABELS[stratified_fraction(LABELS, 0.5)], minlength=4).tolist() == [50, 25, 4, 1]
    assert torch.equal(stratified_fraction(LABELS, 1.0), torch.arange(158))


def test_stratified_fraction_is_deterministic_seeded_and_nested():
    assert torch.equal(stratified_fraction(LABELS, 0.1, seed=3), stratified_fraction(LABELS, 0.1, seed=3))
    assert not torch.equal(stratified_fraction(LABELS, 0.1, seed=3), stratified_fraction(LABELS, 0.1, seed=4))
    for seed in (0, 1):
        subsets = [set(stratified_fraction(LABELS, f, seed).tolist()) for f in (0.01, 0.1, 0.3, 0.75, 1.0)]
        assert all(small <= large for small, large in zip(subsets, subsets[1:]))


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_stratified_fraction_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="fraction"):
        stratified_fraction(LABELS, fraction)


def test_stratified_fraction_rejects_unlabeled():
    with pytest.raises(ValueError, match="unlabeled"):
        stratified_fraction(torch.tensor([0, 1, -1]), 0.5)


def test_stratified_subset_indices_balances_classes():
    labels = torch.tensor([c for c in range(10) for _ in range(50 if c < 9 else 3)])
    idx = stratified_subset_indices(labels, 100, seed=0)
    assert len(idx) == 100 and torch.equal(idx, idx.unique())
    assert torch.bincount(labels[idx]).tolist() == [11] * 7 + [10] * 2 + [3]  # class 9 has only 3
    equal = torch.arange(60) % 3
    assert torch.bincount(equal[stratified_subset_indices(equal, 30, seed=1)]).tolist() == [10, 10, 10]
    assert torch.equal(stratified_subset_indices(equal, 30, seed=1), stratified_subset_indices(equal, 30, seed=1))
    for bad in (0, 61):
        with pytest.raises(ValueError, match="n_total"):
            stratified_subset_indices(equal, bad, seed=0)


def test_train_val_split_is_a_stratified_partition():
    train, val = train_val_split(LABELS, 0.2, seed=0)
    assert sorted(train.tolist() + val.tolist()) == list(range(158))
    assert torch.bincount(LABELS[val], minlength=4).tolist() == [20, 10, 1, 0]  # the single class-3 sample stays
    assert torch.equal(train_val_split(LABELS, 0.2, seed=0)[1], val)
    for bad in (0, 1, 1.2):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split(LABELS, bad)


# ---- batches ------------------------------------------------------------------------------------

def test_batches_cover_each_index_at_most_once_and_drop_last():
    g = torch.Generator().manual_seed(0)
    kept = list(batches(10, 3, g))
    assert [len(b) for b in kept] == [3, 3, 3] and len(set(torch.cat(kept).tolist())) == 9
    every = list(batches(10, 3, g, drop_last=False))
    assert [len(b) for b in every] == [3, 3, 3, 1] and sorted(torch.cat(every).tolist()) == list(range(10))
    assert all(b.dtype == torch.int64 for b in every)


def test_batches_are_seeded_and_epochs_differ():
    def epochs(seed):
        g = torch.Generator().manual_seed(seed)
        return [torch.cat(list(batches(50, 10, g))) for _ in range(2)]

    a, b = epochs(7), epochs(7)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[0], epochs(8)[0])


def test_batch_sampler_length_and_errors():
    g = torch.Generator().manual_seed(0)
    assert len(BatchSampler(10, 3, g)) == 3 == len(list(BatchSampler(10, 3, g)))
    assert len(BatchSampler(10, 3, g, drop_last=False)) == 4 == len(list(BatchSampler(10, 3, g, drop_last=False)))
    assert next(iter(BatchSampler(10, 3, g, device="cpu"))).device.type == "cpu"
    with pytest.raises(ValueError, match="batch_size"):
        batches(4, 8, g)
    with pytest.raises(ValueError, match="batch_size"):
        batches(4, 0, g)
