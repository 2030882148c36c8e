"""End-to-end training on the embedded sample (real Fashion-MNIST images), CPU, seconds each."""

import json
import subprocess
import sys
import time

import pytest
import torch

from lib import losses, training
from lib.evaluate import evaluate_record
from lib.config import Config, repo_path
from lib.records import load_record

TINY = dict(dataset="sample", train_size=512, test_size=200, monitor_size=200, batch_size=128, epochs=1,
            arch="small_cnn", width=0.5, warmup_epochs=0.0, progress=False, knn_k=20, save_embeddings=50)


@pytest.fixture
def tiny(tmp_path):
    return Config(runs_dir=str(tmp_path), **TINY)


CIFAR_JPEG = repo_path("data/cifar10-jpeg")


@pytest.mark.skipif(not (CIFAR_JPEG / "train").is_dir(),
                    reason="needs the CIFAR-10 JPEG copy in data/cifar10-jpeg (.ci/run unpacks it)")
def test_short_pretraining_beats_its_random_initialisation(tmp_path):
    # CIFAR-10, not the Fashion-MNIST sample: random convolutional features already give ~0.65-0.70
    # kNN on Fashion-MNIST, too close to what a few seconds of training reach for a reliable test.
    config = Config(runs_dir=str(tmp_path), **{**TINY, "dataset": f"imagefolder:{CIFAR_JPEG}", "train_size": 2000,
                                               "test_size": 1000, "monitor_size": 1000, "epochs": 5, "lr": 1.0,
                                               "temperature": 0.2, "warmup_epochs": 0.5,
                                               "snapshot_epochs": "0,5"})
    record = training.run(config)
    knn = [e["knn_top1"] for e in record.epochs]
    assert record.epochs[0]["epoch"] == 0 and len(knn) == 6
    assert knn[-1] > knn[0] + 0.04, knn  # measured: 0.236 -> 0.337 and 0.261 -> 0.328 for seeds 0, 1
    loss = [e["loss"] for e in record.epochs[1:]]
    assert loss[-1] < loss[0], loss
    emb = record.embeddings()
    assert emb["h"].shape[0] == 50 and emb["h_epoch0"].shape == emb["h_epoch5"].shape
    for key in ("h/knn_top1", "h/linear_probe_top1", "h/recall@1", "h/map@r", "h/nmi", "z/knn_top1"):
        assert 0 <= record.results[key] <= 1, key


def test_loss_falls_on_the_embedded_sample(tiny):
    record = training.run(tiny.replace(train_size=1000, epochs=3, lr=1.0, temperature=0.2, final_eval=False))
    loss = [e["loss"] for e in record.epochs[1:]]
    assert loss[-1] < loss[0], loss


@pytest.mark.parametrize("normalize", [True, False])
def test_pretraining_passes_the_l2_normalisation_switch_to_nt_xent(tiny, monkeypatch, normalize):
    seen = []
    real = losses.nt_xent

    def spy(*args, **kwargs):
        seen.append(kwargs.get("normalize", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(losses, "nt_xent", spy)
    record = training.run(tiny.replace(final_eval=False, ntxent_normalize=normalize, temperature=0.5 if normalize else 10.0))
    assert seen and set(seen) == {normalize}
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in record.epochs[1:])


def test_a_finished_run_is_loaded_not_retrained(tiny, monkeypatch):
    first = training.run(tiny.replace(final_eval=False))

    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(training, "_fit", boom)
    again = training.run(tiny.replace(final_eval=False, device="cpu"))  # runtime fields do not matter
    assert again.run_id == first.run_id and again.results == first.results


def test_interrupted_run_resumes_to_the_same_weights(tiny, monkeypatch):
    config = tiny.replace(epochs=2, final_eval=False, save_embeddings=0)
    reference = training.run(config.replace(runs_dir=str(tiny.resolved_runs_dir() / "ref")))
    calls = {"n": 0}
    real_monitor = training._knn_monitor

    def crash_in_epoch_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 0 (initial), epoch 1, then epoch 2's monitor
            raise KeyboardInterrupt
        return real_monitor(*args, **kwargs)

    monkeypatch.setattr(training, "_knn_monitor", crash_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        training.run(config)
    failed = load_record(config.resolved_runs_dir() / config.run_id())
    assert failed.status == "failed"
    monkeypatch.setattr(training, "_knn_monitor", real_monitor)
    time.sleep(1.1)  # a second run starting in the same second would hide a reset of 'started'
    resumed = training.run(config)
    assert resumed.complete
    assert [e["epoch"] for e in resumed.epochs] == [0, 1, 2]
    # The record covers both segments: the first start, one resume, times that go on from epoch 1's.
    assert resumed.provenance["started"] == failed.provenance["started"] and resumed.provenance["resumes"] == 1
    assert resumed.epochs[2]["elapsed_seconds"] > resumed.epochs[1]["elapsed_seconds"]
    assert resumed.results["train_wall_time_s"] > resumed.epochs[2]["elapsed_seconds"]
    assert resumed.provenance["wall_time_s"] >= resumed.results["train_wall_time_s"]
    for a, b in zip(reference.epochs, resumed.epochs):
        assert a.get("loss") == b.get("loss") and a.get("knn_top1") == b.get("knn_top1")
    ref_state = torch.load(reference.checkpoint_dir / "final.pt", weights_only=True)["model"]
    new_state = torch.load(resumed.checkpoint_dir / "final.pt", weights_only=True)["model"]
    for key in ref_state:
        assert torch.equal(ref_state[key], new_state[key]), key


def test_checkpoint_due_by_epochs_or_by_wall_time():
    due = training.checkpoint_due
    assert [e for e in range(1, 8) if due(e, 7, 3, 0.0, 0.0)] == [3, 6, 7]       # every 3 epochs, and the last
    assert [e for e in range(1, 8) if due(e, 7, 1, 60.0, 10.0)] == [7]           # 10 s since the last: too soon
    assert due(2, 7, 1, 60.0, 60.0) and due(2, 7, 5, 60.0, 61.0)                 # time rules, not epochs


def test_checkpoint_seconds_skips_epoch_checkpoints_but_keeps_the_last(tiny, monkeypatch):
    saved = []
    real = training.checkpoints.save_epoch
    monkeypatch.setattr(training.checkpoints, "save_epoch",
                        lambda d, epoch, state, **kw: saved.append(epoch) or real(d, epoch, state, **kw))
    training.run(tiny.replace(epochs=3, final_eval=False, save_embeddings=0, checkpoint_seconds=3600.0))
    assert saved == [3]
    saved.clear()
    training.run(tiny.replace(epochs=3, final_eval=False, save_embeddings=0, checkpoint_every=2,
                              runs_dir=str(tiny.resolved_runs_dir() / "b")))
    assert saved == [2, 3]
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        tiny.replace(checkpoint_seconds=-1.0)


@pytest.mark.parametrize("loss", ["ce", "supcon", "triplet"])
def test_supervised_losses_train(tiny, loss):
    record = training.run(tiny.replace(task="supervised", loss=loss, optimizer="sgd", lr=0.1, label_fraction=0.5,
                                       final_eval=False))
    # 512 images: 52 in each of 2 classes, 51 in the other 8; half of each, rounded half up: 26 per class
    assert record.provenance["labelled_images"] == 260
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in record.epochs[1:])
    if loss == "ce":
        assert 0 <= record.results["test_top1"] <= 1


def test_finetune_from_a_head_layer_then_distill(tiny):
    pre = training.run(tiny.replace(head_layers=3, final_eval=False))
    ft = training.run(tiny.replace(task="finetune", pretrained=pre.run_id, finetune_layer=1, head_layers=3,
                                   label_fraction=0.1, views="crop,flip", optimizer="sgd", lr=0.05,
                                   batch_size=32, final_eval=False))
    assert ft.provenance["labelled_images"] == 50  # 10 % of 51 or 52 per class: 5 per class
    assert 0 <= ft.results["test_top1"] <= 1
    student = training.run(tiny.replace(task="distill", teacher=ft.run_id, head_layers=3, views="crop,flip",
                                        optimizer="sgd", lr=0.05, distill_alpha=0.5, final_eval=False))
    assert {"test_top1", "teacher_test_top1"} <= set(student.results)
    assert "teacher_agreement" in student.epochs[-1]


def test_a_parent_trained_again_for_its_weights_changes_nothing_of_its_child(tiny):
    """Checkpoints are never committed: on a fresh clone a fine-tuning run first trains its pretraining run
    again to recreate the weights. Its result and its wall time must be those of a clone that had them."""
    import shutil

    pre = training.run(tiny.replace(head_layers=3, final_eval=False))
    ft_config = tiny.replace(task="finetune", pretrained=pre.run_id, finetune_layer=1, head_layers=3,
                             label_fraction=0.1, views="crop,flip", optimizer="sgd", lr=0.05, batch_size=32)
    with_weights = training.run(ft_config)
    for run in (pre, with_weights):  # a fresh clone: records, no checkpoints
        shutil.rmtree(run.checkpoint_dir)
    parent_record = (pre.directory / "record.json").read_bytes()
    again = training.run(ft_config, force=True)  # the pretraining run is trained again first, beside its record
    assert (training.retrained_runs_dir(pre) / pre.run_id / "checkpoints" / "final.pt").is_file()
    assert training.recorded_weights(pre) is not None
    assert (pre.directory / "record.json").read_bytes() == parent_record  # #23: a parent's record is never rewritten
    assert again.results["test_top1"] == with_weights.results["test_top1"]
    assert again.epochs[-1]["loss"] == with_weights.epochs[-1]["loss"]
    parent = load_record(pre.directory).provenance["wall_time_s"]
    assert again.provenance["wall_time_s"] < parent + with_weights.provenance["wall_time_s"]


def test_finetune_refuses_a_missing_or_mismatched_pretrained_run(tiny):
    with pytest.raises(FileNotFoundError, match="no run record 'pretrain-000000000000'"):
        training.run(tiny.replace(task="finetune", pretrained="pretrain-000000000000"))
    pre = training.run(tiny.replace(final_eval=False))
    with pytest.raises(ValueError, match="differs from this config in arch"):
        training.run(tiny.replace(task="finetune", pretrained=pre.run_id, arch="resnet18"))


def test_non_finite_loss_stops_the_run_naming_the_epoch(tiny, monkeypatch):
    monkeypatch.setattr(losses, "nt_xent", lambda z1, z2, t, **kwargs: (z1.sum() + z2.sum()) * float("nan"))
    with pytest.raises(training.NonFiniteLossError, match="loss became nan in epoch 1"):
        training.run(tiny)


def test_cli_trains_prints_the_record_and_evaluates(tmp_path):
    args = [f"{k}={v}" for k, v in {**TINY, "final_eval": False}.items()] + [f"runs_dir={tmp_path}"]
    out = subprocess.run([sys.executable, "-m", "lib", "pretrain", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("run record: ")][0]
    run_dir = line.split(": ", 1)[1]
    assert load_record(run_dir).complete
    ev = subprocess.run([sys.executable, "-m", "lib", "evaluate", run_dir, "--layer", "1", "--no-probe"],
                        capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    assert 0 <= json.loads(ev.stdout)["knn_top1"] <= 1
    bad = subprocess.run([sys.executable, "-m", "lib", "pretrain", "temperature=0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "temperature must be > 0" in bad.stderr
    helped = subprocess.run([sys.executable, "-m", "lib", "pretrain", "--help"], capture_output=True, text=True)
    assert "color_strength" in helped.stdout and "label_fraction" in helped.stdout


def _image_folder(root, size: int, per_class: int = 8):
    """A two-class image folder of ``size`` px colour PNGs (train and test)."""
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(per_class):
                pixels = (torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(root / split / label / f"{i}.png")
    return f"imagefolder:{root}"


def _encoder_state(state: dict) -> dict:
    return {k[len("encoder."):]: tuple(v.shape) for k, v in state.items() if k.startswith("encoder.")}


@pytest.mark.parametrize("size, stem_kernel", [(32, 3), (96, 7)])
def test_every_task_builds_the_same_encoder_for_the_same_config(tmp_path, size, stem_kernel):
    """One function builds the encoder of every task: at 96 px with stem=auto, pretraining, the
    supervised baselines, fine-tuning, the distillation student and a later evaluation all get the
    ImageNet stem (7x7), at 32 px all get the CIFAR stem (3x3)."""
    from lib import checkpoints, models

    dataset = _image_folder(tmp_path / "imgs", size)
    base = Config(dataset=dataset, arch="resnet18", width=0.25, stem="auto", batch_size=8, epochs=1, warmup_epochs=0.0,
                  monitor_size=0, final_eval=False, save_embeddings=0, progress=False, device="cpu", knn_k=4,
                  runs_dir=str(tmp_path / "runs"), head_layers=2, data_dir=str(tmp_path / "cache"))
    reference = _encoder_state({f"encoder.{k}": v for k, v in models.build_encoder(
        "resnet18", in_channels=3, image_size=size, width=0.25, stem="auto").state_dict().items()})
    pre = training.run(base.replace(task="pretrain"))
    records = {
        "pretrain": pre,
        "supervised ce": training.run(base.replace(task="supervised", loss="ce")),
        "supervised supcon": training.run(base.replace(task="supervised", loss="supcon")),
        "finetune": (ft := training.run(base.replace(task="finetune", pretrained=pre.run_id, finetune_layer=1))),
        "distill": training.run(base.replace(task="distill", teacher=ft.run_id)),
    }
    for task, record in records.items():
        state = checkpoints.load(record.checkpoint_dir / checkpoints.FINAL_NAME)["model"]
        assert _encoder_state(state) == reference, task
        assert state["encoder.body.conv1.weight"].shape[-1] == stem_kernel, task
    for task in ("pretrain", "supervised ce", "distill"):  # evaluation rebuilds the same encoder and loads it
        out = evaluate_record(records[task].run_id, runs_dir=base.runs_dir, device="cpu", probe=False)
        assert 0 <= out["scores"]["knn_top1"] <= 1, task


@pytest.mark.parametrize("task, loss, expected", [
    ("supervised", "ce", ("crop", "flip")), ("finetune", "", ("crop", "flip")), ("distill", "", ("crop", "flip")),
    ("supervised", "supcon", ("crop", "flip", "color", "gray")), ("pretrain", "", ("crop", "flip", "color", "gray")),
])
def test_tasks_train_on_their_papers_views_by_default(tiny, monkeypatch, task, loss, expected):
    """With ``views`` left at its default, the classifiers (cross-entropy baseline, fine-tuning,
    distillation) train on crop and flip, the contrastive tasks on SimCLR's colour-distorted views."""
    pre = training.run(tiny.replace(final_eval=False))
    ft = training.run(tiny.replace(task="finetune", pretrained=pre.run_id, final_eval=False))
    seen = []
    real = training.view_pipelines

    def spy(config, size):
        pipelines = real(config, size)
        seen.append(tuple(pipelines[0].ops))
        return pipelines

    monkeypatch.setattr(training, "view_pipelines", spy)
    extra = {"finetune": dict(pretrained=pre.run_id), "distill": dict(teacher=ft.run_id)}.get(task, {})
    training.run(tiny.replace(task=task, loss=loss, final_eval=False, **extra), force=True)
    assert seen == [expected]


def test_speed_foreach_lars_trains_the_same_run_bit_for_bit(tmp_path):
    # a speed switch (lib/step_options.py): same run id, same epoch metrics and final weights as without it
    base = Config(runs_dir=str(tmp_path / "a"), **{**TINY, "optimizer": "lars", "epochs": 2, "final_eval": False})
    fast = base.replace(runs_dir=str(tmp_path / "b"), speed="foreach_lars")
    assert fast.run_id() == base.run_id()
    records = [training.run(c) for c in (base, fast)]
    a, b = ([{k: v for k, v in e.items() if k not in ("train_seconds", "elapsed_seconds", "views_per_second",
                                                       "train_tflops")} for e in r.epochs] for r in records)
    assert a == b and a[-1]["loss"] > 0
    weights = [torch.load(r.directory / "checkpoints" / "final.pt", weights_only=False)["model"] for r in records]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_speed_switches_are_checked_before_any_compute(tiny):
    with pytest.raises(ValueError, match="speed has unknown switch"):
        tiny.replace(speed="fp8")
    with pytest.raises(ValueError, match="speed=cuda_graphs needs a CUDA device"):
        training.run(tiny.replace(device="cpu", speed="cuda_graphs"))
    assert not any(tiny.resolved_runs_dir().glob("*"))  # refused before a run folder exists


@pytest.mark.parametrize("sampler", ["torchvision", "subpixel"])
def test_the_views_crop_with_the_configs_crop_sampler(sampler):
    first, second = training.view_pipelines(Config(crop_sampler=sampler, views2="crop"), 32)
    assert first.config.crop_sampler == sampler and second.config.crop_sampler == sampler
