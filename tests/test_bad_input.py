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
    loop = tmp_path / "loop"  # a.png -> b.png -> a.png: ELOOP
    for split in ("train", "test"):
        (loop / split / "cat").mkdir(parents=True)
        (loop / split / "cat" / "a.png").symlink_to("b.png")
        (loop / split / "cat" / "b.png").symlink_to("a.png")
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
    (["temperature=nan"], "temperature must be a finite number; got nan"),
    (["width=inf"], "width must be a finite number; got inf"),
    (["lr=inf"], "lr must be a finite number; got inf"),
    (["seed=-1"], "seed must be in [0, 4294967295]; got -1"),
    (["seed=100000000000000000000000"], "seed must be in [0, 4294967295]"),
    (["seed=1e23"], "'seed' expects int, got '1e23'"),
    (["train_size=300", "batch_size=512"], "batch_size=512 is larger than train_size=300"),
    (["train_size=0", "test_size=100", "batch_size=6000"], "batch_size=6000 is larger than the 5000 training images"),
    (["train_size=999999"], "train_size=999999 exceeds the 5000 training images of sample"),
    (["dataset=cifar10", "data_dir={tmp}/nowhere"], "cifar-10-batches-py"),
    (["dataset=imagefolder:{tmp}/missing"], "image folder split not found"),
    (["dataset=imagefolder:{tmp}/empty"], "no images"),
    (["dataset=imagefolder:{tmp}/corrupt"], "broken.png"),
    (["dataset=imagefolder:{tmp}/mixed"], "b.png"),
    (["dataset=imagefolder:{tmp}/loop"], "cannot read {tmp}/loop/train/cat/a.png in the image folder (Too many levels "
                                         "of symbolic links); fix or remove it"),
]


@pytest.mark.parametrize("overrides, message", CASES)
def test_bad_input_is_refused_with_a_message(overrides, message, folders, capsys):
    runs = folders / "runs"
    args = ["pretrain", *(o.format(tmp=folders) for o in overrides), f"runs_dir={runs}", "progress=false"]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message.format(tmp=folders) in err, err
    assert err.count("\n") == 1, f"not one line: {err}"
    assert not runs.exists() or not any(runs.iterdir()), "a run folder was created for bad input"


def test_finetune_without_pretrained_and_distill_without_teacher(capsys):
    assert cli.main(["finetune"]) == 2
    assert "needs pretrained=<id of a pretraining run>" in capsys.readouterr().err
    assert cli.main(["distill"]) == 2
    assert "needs teacher=<id of a fine-tuning run>" in capsys.readouterr().err


def test_missing_config_file(capsys, tmp_path):
    assert cli.main(["pretrain", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name, text, message", [
    ("bad.toml", "epochs = [\n", "config file {path} is not valid TOML: "),
    ("bad.json", '{"epochs": ', "config file {path} is not valid JSON: Expecting value"),
    ("list.json", "[1, 2]", "config file {path} must hold key = value pairs (a TOML table or a JSON object), not a list"),
])
def test_a_bad_config_file_is_named(capsys, tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    assert cli.main(["pretrain", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert message.format(path=path) in err and err.count("\n") == 1, err


def test_a_runs_dir_that_is_a_file_is_reported_before_the_data_loads(capsys, tmp_path, monkeypatch):
    from lib import training

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded")

    monkeypatch.setattr(training, "prepare_data", no_data)
    (tmp_path / "afile").write_text("x")
    for runs_dir in (tmp_path / "afile", tmp_path / "afile" / "below"):
        assert cli.main(["pretrain", f"runs_dir={runs_dir}", "progress=false"]) == 2
        err = capsys.readouterr().err
        assert f"runs_dir {runs_dir} cannot be a folder: {tmp_path / 'afile'} is a file" in err and err.count("\n") == 1


# ---- damaged records and checkpoints: one line naming the file, and a fall-back where there is one ----

TINY = ["dataset=sample", "train_size=256", "test_size=100", "monitor_size=100", "epochs=3", "width=0.25",
        "batch_size=64", "knn_k=20", "warmup_epochs=0", "final_eval=false", "save_embeddings=0", "progress=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished pretraining run (3 epochs: checkpoints of epochs 2 and 3 are kept) and its id."""
    runs = tmp_path_factory.mktemp("trained")
    assert cli.main(["pretrain", *TINY, f"runs_dir={runs}"]) == 0
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return run_dir


def copy_of(run_dir, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / run_dir.name)
    return runs, runs / run_dir.name


class _Crafted:
    def __reduce__(self):
        import os
        return (os.system, ("touch crafted-pickle-ran",))


def craft(path):
    import torch
    torch.save({"model": _Crafted(), "config_hash": "x"}, path)


@pytest.mark.parametrize("damage", ["crafted", "random"])
def test_evaluate_and_finetune_fall_back_from_a_bad_final_checkpoint(trained, tmp_path, capsys, monkeypatch, damage):
    monkeypatch.chdir(tmp_path)
    runs, run_dir = copy_of(trained, tmp_path)
    final = run_dir / "checkpoints" / "final.pt"
    craft(final) if damage == "crafted" else final.write_bytes(np.random.default_rng(0).bytes(3000))
    assert cli.main(["evaluate", run_dir.name, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert f"not a checkpoint of this project (refused, nothing executed): {final}" in out
    assert f"using the weights of {run_dir / 'checkpoints' / 'epoch0003.pt'}" in out
    assert cli.main(["finetune", *TINY, f"pretrained={run_dir.name}", "label_fraction=0.5", "batch_size=32",
                     f"runs_dir={runs}"]) == 0
    assert not (tmp_path / "crafted-pickle-ran").exists()


def test_with_no_usable_final_weights_evaluate_refuses_and_finetune_trains_the_parent_aside(trained, tmp_path,
                                                                                             capsys):
    runs, run_dir = copy_of(trained, tmp_path)
    for name in ("final.pt", "epoch0003.pt"):
        (run_dir / "checkpoints" / name).write_bytes(b"garbage")
    record = (run_dir / "record.json").read_bytes()
    assert cli.main(["evaluate", run_dir.name, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert "no usable weights" in err and "evaluate never trains" in err and err.count("\n") == 1
    assert cli.main(["finetune", *TINY, f"pretrained={run_dir.name}", "label_fraction=0.5", "batch_size=32",
                     f"runs_dir={runs}"]) == 0
    out = capsys.readouterr().out
    assert f"training it again in {run_dir / 'checkpoints' / 'retrained'}" in out
    assert (run_dir / "record.json").read_bytes() == record  # the parent's record is left as it was


@pytest.mark.parametrize("damage, warning", [
    ("foreign", "epoch0003.pt belongs to a different config; differing keys: seed; trying the previous checkpoint"),
    ("no optimizer", "epoch0003.pt lacks 'optimizer' (written by another version of this code, or edited); trying"),
    ("crafted", "not a checkpoint of this project (refused, nothing executed): {ckpt}; trying the previous checkpoint"),
])
def test_an_unfinished_run_resumes_from_the_newest_good_checkpoint(trained, tmp_path, capsys, monkeypatch, damage,
                                                                   warning):
    import torch

    monkeypatch.chdir(tmp_path)
    runs, run_dir = copy_of(trained, tmp_path)
    (run_dir / "record.json").unlink()  # as if killed after its last checkpoint
    ckpt = run_dir / "checkpoints" / "epoch0003.pt"
    state = torch.load(ckpt, weights_only=True)
    if damage == "foreign":
        state["config"] = {**state["config"], "seed": 7}
        state["config_hash"] = "another"
        torch.save(state, ckpt)
    elif damage == "no optimizer":
        del state["optimizer"]
        torch.save(state, ckpt)
    else:
        craft(ckpt)
    assert cli.main(["pretrain", *TINY, f"runs_dir={runs}"]) == 0
    captured = capsys.readouterr()
    assert warning.format(ckpt=ckpt) in captured.out
    assert f"resumed {run_dir.name} from epoch 2" in captured.out
    assert not (tmp_path / "crafted-pickle-ran").exists()


def test_with_no_good_checkpoint_left_the_run_starts_over(trained, tmp_path, capsys):
    runs, run_dir = copy_of(trained, tmp_path)
    (run_dir / "record.json").unlink()
    for ckpt in (run_dir / "checkpoints").glob("epoch*.pt"):
        ckpt.write_bytes(ckpt.read_bytes()[:100])
    assert cli.main(["pretrain", *TINY, f"runs_dir={runs}"]) == 0
    out = capsys.readouterr().out
    assert "epoch0002.pt is truncated or corrupt" in out and "no usable checkpoint is left: starting over" in out
    assert "resumed" not in out


def test_a_torn_record_is_named_and_force_replaces_it(trained, tmp_path, capsys):
    runs, run_dir = copy_of(trained, tmp_path)
    metrics = run_dir / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes()[:-40])
    assert cli.main(["pretrain", *TINY, f"runs_dir={runs}"]) == 2
    err = capsys.readouterr().err
    assert f"run record {metrics}: line 4 is not valid JSON" in err and "again with --force" in err
    assert err.count("\n") == 1
    assert cli.main(["pretrain", *TINY, f"runs_dir={runs}", "--force"]) == 0


def test_a_nan_loss_is_one_line_and_does_not_claim_a_checkpoint(tmp_path, capsys, monkeypatch):
    from lib import losses

    monkeypatch.setattr(losses, "nt_xent", lambda z1, z2, t, **kwargs: (z1.sum() + z2.sum()) * float("nan"))
    assert cli.main(["pretrain", *TINY, f"runs_dir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert "loss became nan in epoch 1" in err and "no checkpoint had been written" in err
    assert "last good checkpoint" not in err and err.count("\n") == 1
