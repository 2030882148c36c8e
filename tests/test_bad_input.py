"""Bad input is refused before any compute, with a message naming the problem (the user's view:
``python -m lib <command> key=value ...``). Exit code 2, nothing written to the runs folder."""

import numpy as np
import pytest
from PIL import Image

from lib import cli


@pytest.fixture
def folders(tmp_path):
    empty = tmp_path / "empty"
    (empty / "train" / "cat").mkdir(parents=True)
    (empty / "test" / "cat").mkdir(parents=True)
    corrupt = tmp_path / "corrupt"
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            (corrupt / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(corrupt / split / cls / f"{i}.png")
    (corrupt / "train" / "dog" / "broken.png").write_bytes(b"not a png at all")
    mixed = tmp_path / "mixed"
    for split in ("train", "test"):
        (mixed / split / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(mixed / split / "cat" / "a.png")
        Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(mixed / split / "cat" / "b.png")
    return tmp_path


CASES = [
    (["epoch=3"], "unknown config parameter 'epoch' (did you mean epochs"),
    (["epochs=three"], "'epochs' expects int, got 'three'"),
    (["progress=maybe"], "'progress' expects bool, got 'maybe'"),
    (["temperature=0"], "temperature must be > 0"),
    (["temperature=-0.5"], "temperature must be > 0"),
    (["batch_size=1"], "batch_size must be >= 2"),
    (["label_fraction=0"], "label_fraction must be in (0, 1]"),
    (["label_fraction=1.01"], "label_fraction must be in (0, 1]"),
    (["views=crop,jitter"], "unknown augmentation(s) 'jitter'"),
    (["views2=crop,wobble"], "unknown augmentation(s) 'wobble'"),
    (["views=color,crop"], "crop must come first"),
    (["views=crop,flip,flip"], "lists an augmentation twice"),
    (["arch=vgg16"], "arch must be one of resnet18, resnet34, resnet50, small_cnn; got 'vgg16'"),
    (["dataset=mnist"], "dataset must be one of sample, cifar10, cifar100, stl10, fashion-mnist or imagefolder:<path>"),
    (["dataset=imagefolder:"], "imagefolder:<path> needs a path"),
    (["optimizer=adam"], "optimizer must be one of lars, sgd, adamw"),
    (["lr=0"], "lr must be > 0"),
    (["epochs=0"], "epochs must be >= 1"),
    (["width=0"], "width must be > 0"),
    (["head_layers=-1"], "head_layers must be >= 0"),
    (["crop_scale_min=0"], "crop_scale_min must be in (0, 1]"),
    (["device=tpu"], "device must be one of auto, cpu, cuda"),
    (["wandb=maybe"], "wandb must be one of disabled, offline, online"),
    (["loss=triplet"], "loss for task 'pretrain' must be one of ntxent"),
    (["snapshot_epochs=99"], "snapshot_epochs must lie in [0, epochs=10]"),
    (["train_size=999999"], "train_size=999999 exceeds the 5000 training images of sample"),
    (["dataset=cifar10", "data_dir={tmp}/nowhere"], "cifar-10-batches-py"),
    (["dataset=imagefolder:{tmp}/missing"], "image folder split not found"),
    (["dataset=imagefolder:{tmp}/empty"], "no images"),
    (["dataset=imagefolder:{tmp}/corrupt"], "broken.png"),
    (["dataset=imagefolder:{tmp}/mixed"], "b.png"),
]


@pytest.mark.parametrize("overrides, message", CASES)
def test_bad_input_is_refused_with_a_message(overrides, message, folders, capsys):
    runs = folders / "runs"
    args = ["pretrain", *(o.format(tmp=folders) for o in overrides), f"runs_dir={runs}", "progress=false"]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert not runs.exists() or not any(runs.iterdir()), "a run folder was created for bad input"


def test_finetune_without_pretrained_and_distill_without_teacher(capsys):
    assert cli.main(["finetune"]) == 2
    assert "needs pretrained=<id of a pretraining run>" in capsys.readouterr().err
    assert cli.main(["distill"]) == 2
    assert "needs teacher=<id of a fine-tuning run>" in capsys.readouterr().err


def test_missing_config_file(capsys, tmp_path):
    assert cli.main(["pretrain", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml does not exist" in capsys.readouterr().err
