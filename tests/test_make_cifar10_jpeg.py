"""scripts/make_cifar10_jpeg.py: the CIFAR-10 JPEG copy built from torchvision's on-disk format, on a
small CIFAR-format folder that the test writes itself."""
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from lib.config import repo_path
from lib.data import load_dataset

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SHARED_COPY = repo_path("data/cifar10-jpeg/train/airplane/0000.jpg")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_cifar10_jpeg", repo_path("scripts/make_cifar10_jpeg.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smooth_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 32, 32) uint8 images of smooth colour gradients, which JPEG keeps within a few levels."""
    y, x = np.mgrid[0:32, 0:32] / 31.0
    a = rng.uniform(0, 1, size=(n, 3, 3))
    images = 40 + 170 * (a[:, :, :1, None] * x + a[:, :, 1:2, None] * y + a[:, :, 2:3, None] * x * y) / 3
    return images.round().astype(np.uint8)


def write_cifar(root: Path, per_batch: int = 20, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A cifar-10-batches-py/ folder in torchvision's format, with ``per_batch`` images per file."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASSES, "num_cases_per_batch": per_batch}, f)
    written = {"train": [], "test": []}
    for name, split in [*((f"data_batch_{i}", "train") for i in range(1, 6)), ("test_batch", "test")]:
        images = smooth_images(per_batch, rng)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": images.reshape(per_batch, -1)}, f)
        written[split].append((images, np.asarray(labels)))
    return {s: (np.concatenate([i for i, _ in parts]), np.concatenate([l for _, l in parts]))
            for s, parts in written.items()}


def test_builds_the_image_folder_tree_in_the_data_sets_order(tmp_path, script):
    original = write_cifar(tmp_path / "data")
    out = tmp_path / "data" / "cifar10-jpeg"
    assert script.main(["--root", str(tmp_path / "data"), "--out", str(out)]) == 0
    for split, (images, labels) in original.items():
        assert sorted(p.name for p in (out / split).iterdir()) == sorted(CLASSES)
        for c, name in enumerate(CLASSES):
            files = sorted((out / split / name).glob("*.jpg"))
            assert [f.name for f in files] == [f"{i:04d}.jpg" for i in range(int((labels == c).sum()))]
            for f, image in zip(files, images[labels == c]):  # numbered in the data set's order
                decoded = np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1).astype(int)
                assert np.abs(decoded - image.astype(int)).mean() < 3.0
    # lib reads the copy as an image folder, with the same labels as the original (in class order)
    copy = load_dataset(f"imagefolder:{out}", "train", cache=False)
    assert copy.classes == CLASSES
    assert sorted(copy.labels.tolist()) == sorted(original["train"][1].tolist())
    assert not list(tmp_path.glob("data/.cifar10-jpeg-building-*"))


def test_encodes_at_quality_75_with_420_chroma(tmp_path, script):
    write_cifar(tmp_path / "data", per_batch=2)
    out = tmp_path / "copy"
    assert script.main(["--root", str(tmp_path / "data"), "--out", str(out)]) == 0
    image = Image.open(next((out / "test").rglob("*.jpg")))
    assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    reference = Image.new("RGB", (32, 32))
    import io
    buffer = io.BytesIO()
    reference.save(buffer, "JPEG", quality=75)
    assert image.quantization == Image.open(buffer).quantization  # Pillow's quality-75 tables


@pytest.mark.skipif(not SHARED_COPY.is_file(), reason="the CIFAR-10 JPEG copy is not unpacked in data/cifar10-jpeg")
def test_settings_match_the_copy_behind_the_committed_records(tmp_path, script):
    """The committed records' copy was encoded with the same tables and chroma subsampling."""
    write_cifar(tmp_path / "data", per_batch=2)
    out = tmp_path / "copy"
    assert script.main(["--root", str(tmp_path / "data"), "--out", str(out)]) == 0
    ours, theirs = Image.open(next((out / "train").rglob("*.jpg"))), Image.open(SHARED_COPY)
    assert ours.quantization == theirs.quantization
    assert JpegImagePlugin.get_sampling(ours) == JpegImagePlugin.get_sampling(theirs)


def test_missing_source_and_occupied_output_are_one_line_errors(tmp_path, script, capsys):
    assert script.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cifar-10-batches-py" in err and "--download" in err
    assert not (tmp_path / "out").exists()
    write_cifar(tmp_path / "data", per_batch=2)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert script.main(["--root", str(tmp_path / "data"), "--out", str(tmp_path / "full")]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_an_interrupted_build_leaves_nothing_behind(tmp_path, script, monkeypatch):
    write_cifar(tmp_path / "data", per_batch=2)
    calls = []

    def fail_on_the_second_split(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return len(args[0])

    monkeypatch.setattr(script, "write_split", fail_on_the_second_split)
    with pytest.raises(KeyboardInterrupt):
        script.build(tmp_path / "data", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
