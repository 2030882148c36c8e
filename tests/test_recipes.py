"""The reference recipes (configs/recipes/): every file parses, cites a source for every value, and
builds the run it describes; recipes.apply carries a recipe over to a run of another scale."""

import tomllib

import pytest
import torch
from torch import nn

from lib import models, optim, recipes, training
from lib.config import Config

EXPECTED = {  # what each reference's files and code say (see the comments in each recipe file)
    "simclr_official_cifar10": dict(optimizer="lars", scaled_lr=2.0, weight_decay=1e-4, temperature=0.5,
                                    head_layers=3, hidden=512, proj_dim=128, last=models.ScaleBatchNorm1d,
                                    lars=(0.001, False), gray_p=0.2, blur=False, crop=0.08),
    "solo_learn_cifar": dict(optimizer="lars", scaled_lr=0.4, weight_decay=1e-4, temperature=0.2, head_layers=2,
                             hidden=2048, proj_dim=256, last=nn.Linear, lars=(0.02, True), gray_p=0.2, blur=True,
                             crop=0.08),
    "lightly_cifar10": dict(optimizer="sgd", scaled_lr=0.06, weight_decay=5e-4, temperature=0.5, head_layers=2,
                            hidden=512, proj_dim=128, last=nn.BatchNorm1d, lars=None, gray_p=0.2, blur=False, crop=0.08),
    "dkobak_cifar10": dict(optimizer="sgd", scaled_lr=0.06, weight_decay=5e-4, temperature=0.5, head_layers=2,
                           hidden=1024, proj_dim=128, last=nn.Linear, lars=None, gray_p=0.1, blur=False, crop=0.2),
}


def test_the_four_references_are_shipped():
    assert set(recipes.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_value_names_its_source(name):
    text = recipes.path(name).read_text()
    values = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(values) == len(tomllib.loads(text)) >= 20
    for line in values:
        if line.split("=")[0].strip() in ("task", "dataset"):
            continue
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 5, f"{name}: no source for `{line.strip()}`"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_recipe_builds_the_run_it_describes(name):
    want = EXPECTED[name]
    config = recipes.load(name)
    assert (config.task, config.dataset, config.arch, config.stem) == ("pretrain", "cifar10", "resnet18", "cifar")
    assert (config.optimizer, config.weight_decay, config.temperature) == (want["optimizer"], want["weight_decay"],
                                                                           want["temperature"])
    assert config.scaled_lr == pytest.approx(want["scaled_lr"])
    assert (config.gray_p, "blur" in config.views_list, config.crop_scale_min) == (want["gray_p"], want["blur"], want["crop"])
    model = training.build_contrastive_model(config, 3, 32, (0.5,) * 3, (0.25,) * 3)
    assert model.encoder.body.conv1.kernel_size == (3, 3)                       # the CIFAR stem
    head = model.head
    assert head.num_layers == want["head_layers"] and head.out_dim == want["proj_dim"]
    assert head.output_dim(1) == want["hidden"]
    assert type(head.blocks[-1][-1]) is want["last"]
    opt = optim.build_optimizer(config.optimizer, model, config.scaled_lr, config.weight_decay, config.momentum,
                                lars_trust=config.lars_trust, lars_clip=config.lars_clip)
    if want["lars"] is None:
        assert isinstance(opt, torch.optim.SGD)
    else:
        assert isinstance(opt, optim.LARS)
        assert {(g["trust_coefficient"], g["clip"]) for g in opt.param_groups} == {want["lars"]}


def test_apply_carries_the_training_knobs_and_the_warmup_fraction():
    run = Config(dataset="sample", arch="small_cnn", width=0.5, epochs=50, batch_size=128, train_size=1000)
    official = recipes.apply(run, "simclr_official_cifar10")
    assert (official.arch, official.dataset, official.epochs, official.batch_size) == ("small_cnn", "sample", 50, 128)
    assert (official.optimizer, official.lr, official.head_layers, official.head_last_bn) == ("lars", 1.0, 3, "scale")
    assert (official.warmup_epochs, official.warmup_fraction) == (0.0, 0.01)
    assert official.replace(epochs=200).warmup_steps(10) == 20  # the fraction follows a later change of length
    assert recipes.apply(run, "") == run
    with pytest.raises(ValueError, match="unknown recipe"):
        recipes.apply(run, "nosuch")
    assert "LARS (trust 0.02, clipped)" in recipes.describe("solo_learn_cifar")


def test_describe_shows_the_run_trained_with_the_recipe_where_a_notebook_changes_it():
    """03 trains lightly's recipe with a 3-layer head for 60 epochs: its banner line says so, not the file's 2 and 200."""
    recipe = recipes.load("lightly_cifar10")
    assert "2-layer head" in recipes.describe("lightly_cifar10") and f"of {recipe.epochs} epochs" in recipes.describe("lightly_cifar10")
    run = recipe.replace(head_layers=3, epochs=60)
    line = recipes.describe("lightly_cifar10", run)
    assert line.startswith("lightly_cifar10: SGD") and "3-layer head" in line and "of 60 epochs" in line
