"""The method registry (lib.methods): a method that lib/ does not know, defined and registered here.

BYOL (Grill et al. 2020), kept tiny: an online network (encoder, projector) and a predictor learn to
predict a target network's projection of the other view; the target is no second trained network but
an exponential moving average of the online one, updated after every optimiser step. That is the
part the built-in methods never needed: state updated without a gradient, which must survive a
checkpoint for a resumed run to continue bitwise. Everything below uses only what lib/ exports: if
this file trains, records, evaluates and resumes it, a new method really is one module and one
``register`` line."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib import cli, methods, training, views
from lib.config import Config
from lib.records import load_record

EMA = 0.9  # target <- EMA * target + (1 - EMA) * online, after every step (BYOL: 0.996 and up, over long runs)
ARGS = dict(dataset="sample", train_size=256, test_size=100, monitor_size=100, batch_size=64, epochs=2,
            arch="small_cnn", width=0.25, warmup_epochs=0.0, knn_k=10, final_eval=False, save_embeddings=0,
            progress=False, proj_dim=32, head_layers=2)
STEPS_PER_EPOCH = ARGS["train_size"] // ARGS["batch_size"]


class BYOL(nn.Module):
    """Online network and predictor (trained), target network (the EMA of the online one, frozen)."""

    def __init__(self, online: nn.Module, dim: int):
        super().__init__()
        self.online = online  # a ContrastiveModel: x -> (h, z)
        self.predictor = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Linear(dim, dim))
        self.target = copy.deepcopy(online).requires_grad_(False)

    @property
    def encoder(self) -> nn.Module:
        return self.online.encoder

    def forward(self, x):
        _, z = self.online(x)
        with torch.no_grad():
            _, target_z = self.target(x)
        return self.predictor(z), target_z  # (2B, dim) each

    @torch.no_grad()
    def update_target(self) -> None:
        for t, o in zip(self.target.parameters(), self.online.parameters()):
            t.mul_(EMA).add_(o, alpha=1 - EMA)
        for t, o in zip(self.target.buffers(), self.online.buffers()):
            t.copy_(o)


def byol_loss(p, z):
    """BYOL's 2 - 2 cos(p, z), z without a gradient."""
    return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1).mean()


AFTER_STEPS: list[int] = []  # the global step of every after-step call of this process


def build(config, d, device, amp, generator):
    online = training.build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std())
    model, fast = training.place(BYOL(online, config.proj_dim), device, config)
    v1, v2 = training.view_pipelines(config, d.size)
    transform = training.eval_transform(d.size, d.train.image_size)
    images = d.train.images

    def step(idx):
        x = training._layout(views.paired_views(images[idx], v1, v2, generator))
        with amp:
            p, z = fast(x)
        (p1, p2), (z1, z2) = p.float().chunk(2), z.float().chunk(2)
        return byol_loss(p1, z2) + byol_loss(p2, z1), {}

    def after_step(global_step):
        AFTER_STEPS.append(global_step)
        model.update_target()

    def final():
        return {}, {}

    job = training.Job(model, step, lambda: training._knn_monitor(model.encoder, d, config, transform, amp),
                       len(images), after_step=after_step)
    return job, final


def rebuild(config, d, weights, layer):
    model = BYOL(training.build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std()),
                 config.proj_dim)
    model.load_state_dict(weights)
    return model, model.encoder


METHOD = methods.Method(name="byol_tiny", summary="BYOL, tiny (a test's method)", losses=("byol",),
                        build=build, rebuild=rebuild, default_views=lambda loss: methods.SIMCLR_VIEWS,
                        views_per_image=lambda loss: 2, min_batch=lambda loss: 2)


@pytest.fixture
def byol():
    methods.register(METHOD)  # the one line that adds a method
    AFTER_STEPS.clear()
    yield METHOD
    methods.METHODS.pop(METHOD.name)


def train_cli(runs_dir, capsys) -> str:
    """``python -m lib byol_tiny key=value ...`` through the function the command line calls; the run folder."""
    assert cli.main(["byol_tiny", *[f"{k}={v}" for k, v in ARGS.items()], f"runs_dir={runs_dir}"]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("run record: ")][0][12:]


def test_a_registered_method_is_a_task_a_command_and_has_its_rules(byol):
    config = Config(task="byol_tiny")
    assert config.loss_name == "byol" and config.views_list == ("crop", "flip", "color", "gray")
    assert config.run_id().startswith("byol_tiny-")
    assert "byol_tiny" in cli.build_parser().format_help()
    with pytest.raises(ValueError, match="loss for task 'byol_tiny' must be one of byol"):
        Config(task="byol_tiny", loss="ntxent")
    with pytest.raises(ValueError, match="batch_size must be >= 2 for task 'byol_tiny'"):
        Config(task="byol_tiny", batch_size=1)
    assert training.job_views(config) == 2


def test_without_registration_the_task_is_refused():
    with pytest.raises(ValueError, match="task must be one of pretrain, supervised, finetune, distill; got 'byol_tiny'"):
        Config(task="byol_tiny")


def test_registering_a_taken_cli_command_is_refused(byol):
    with pytest.raises(ValueError, match="already 'pretrain'"):
        methods.register(methods.Method(name="other", summary="", losses=("x",), build=build, rebuild=rebuild,
                                        command="pretrain"))


def test_an_unknown_method_trains_records_evaluates_and_resumes_bitwise(byol, tmp_path, capsys, monkeypatch):
    # A complete record, trained through the command line's entry point; the after-step hook ran once per step.
    reference = load_record(train_cli(tmp_path / "reference", capsys))
    assert reference.complete and reference.config.task == "byol_tiny"
    assert [e["epoch"] for e in reference.epochs] == [0, 1, 2]
    assert AFTER_STEPS == list(range(ARGS["epochs"] * STEPS_PER_EPOCH))
    assert all(0 <= e["knn_top1"] <= 1 for e in reference.epochs) and reference.results["train_wall_time_s"] > 0
    assert reference.epochs[1]["views_per_second"] > 0  # counted with the method's two views per image
    final = torch.load(reference.checkpoint_dir / "final.pt", weights_only=True)["model"]
    online, target = final["online.encoder.body.stage1.0.0.weight"], final["target.encoder.body.stage1.0.0.weight"]
    assert not torch.equal(online, target)  # the EMA lags the online network ...
    assert (online - target).abs().max() < online.abs().max()  # ... but follows it

    # Evaluation rebuilds the method's model from the record (python -m lib evaluate).
    assert cli.main(["evaluate", str(reference.directory), "--no-probe", "--device", "cpu"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["knn_top1"] <= 1

    # Interrupted in epoch 2 (after epoch 1's checkpoint), then the same command again: it resumes.
    real_monitor, calls = training._knn_monitor, []

    def crash_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 0 (initial), epoch 1, then epoch 2's monitor
            raise KeyboardInterrupt
        return real_monitor(*args, **kwargs)

    monkeypatch.setattr(training, "_knn_monitor", crash_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_cli(tmp_path / "killed", capsys)
    run_dir = tmp_path / "killed" / reference.run_id
    assert load_record(run_dir).status == "failed"
    monkeypatch.setattr(training, "_knn_monitor", real_monitor)
    AFTER_STEPS.clear()
    resumed = load_record(train_cli(tmp_path / "killed", capsys))
    assert resumed.complete and resumed.provenance["resumes"] == 1
    assert AFTER_STEPS == list(range(STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH))  # epoch 2 only, steps counted on
    for a, b in zip(reference.epochs, resumed.epochs):
        assert a.get("loss") == b.get("loss") and a.get("knn_top1") == b.get("knn_top1")
    again = torch.load(resumed.checkpoint_dir / "final.pt", weights_only=True)["model"]
    assert final.keys() == again.keys() and any(k.startswith("target.") for k in again)
    for key in final:  # the EMA target included: the checkpoint kept it
        assert torch.equal(final[key], again[key]), key
