"""#24 item 3: seeds re-draw the data at ``data_draw="per_seed"``; ``"fixed"`` (the default, the
legacy behaviour) keeps draw 0 for every seed and moves no committed run id; ``val_size`` carves a
validation split from the training images."""

import pytest
import torch

from lib import data, training
from lib.config import Config

CPU = torch.device("cpu")


def prepared(**kw):
    config = Config(task="supervised", dataset="sample", train_size=500, test_size=100, monitor_size=50,
                    batch_size=16, device="cpu", progress=False, **kw)
    return training.prepare_data(config, CPU)


def image_set(images):
    """The images as a set of byte strings: which images, whatever their order."""
    return {bytes(x.numpy().tobytes()) for x in images}


def labelled_set(d):
    return image_set(d.train.images[d.labelled])


@pytest.mark.parametrize("fraction", [0.1, 1.0])
def test_per_seed_draws_its_own_training_and_labelled_subsets(fraction):
    a, b = (prepared(seed=s, data_draw="per_seed", label_fraction=fraction) for s in (0, 1))
    assert image_set(a.train.images) != image_set(b.train.images)
    if fraction < 1:
        assert labelled_set(a) != labelled_set(b)
    assert torch.equal(a.test.images, b.test.images)  # every seed is scored on the same test images
    assert torch.bincount(a.train.labels).tolist() == torch.bincount(b.train.labels).tolist()  # still balanced


def test_fixed_draws_the_same_subsets_for_every_seed_as_before():
    a, b = (prepared(seed=s, data_draw="fixed", label_fraction=0.1) for s in (0, 3))
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.labelled, b.labelled)
    # per_seed at seed 0 is the legacy draw: the same subsets as "fixed"
    c = prepared(seed=0, data_draw="per_seed", label_fraction=0.1)
    assert torch.equal(a.train.images, c.train.images) and torch.equal(a.labelled, c.labelled)


@pytest.mark.parametrize("draw", ["fixed", "per_seed"])
def test_label_fractions_stay_nested_within_a_seed(draw):
    small, large = (prepared(seed=2, data_draw=draw, label_fraction=f) for f in (0.02, 0.1))
    assert labelled_set(small) < labelled_set(large)


def test_the_validation_split_is_carved_from_the_training_images():
    full = prepared(seed=1, data_draw="per_seed")
    d = prepared(seed=1, data_draw="per_seed", val_size=100, label_fraction=0.1)
    train, val = image_set(d.train.images), image_set(d.val.images)
    assert len(d.val) == 100 and len(d.train) == 400 and not train & val
    assert train | val == image_set(full.train.images)  # carved from this seed's training subset
    assert torch.bincount(d.val.labels).tolist() == [10] * 10  # class-balanced
    assert labelled_set(d) <= train  # no labelled image is a validation image
    other = prepared(seed=2, data_draw="per_seed", val_size=100)
    assert val != image_set(other.val.images)  # and re-drawn by the seed
    assert prepared(seed=1).val is None  # val_size 0: no split, as before


def test_carve_validation_refuses_a_split_that_leaves_nothing():
    with pytest.raises(ValueError, match="val_size"):
        data.carve_validation(torch.arange(10) % 2, 10)
    with pytest.raises(ValueError, match="val_size=500 leaves no training images"):
        Config(task="supervised", train_size=500, val_size=500)
    with pytest.raises(ValueError, match="data_draw must be one of fixed, per_seed"):
        Config(task="supervised", data_draw="sometimes")


def test_fixed_and_no_validation_leave_the_run_id_unchanged_and_per_seed_moves_it():
    base = Config(task="pretrain")
    assert "data_draw" not in base.identity() and "val_size" not in base.identity()
    assert base.replace(data_draw="fixed", val_size=0).run_id() == base.run_id()
    assert base.replace(data_draw="per_seed").run_id() != base.run_id()
    assert base.replace(val_size=100).run_id() != base.run_id()


def test_a_run_with_a_validation_split_scores_it_and_never_trains_on_it(tmp_path):
    """The validation scores that notebooks choose by (a rate, a weight decay, a layer) are in the record:
    ``val_top1`` of a classifier, ``val/knn_top1`` of an encoder; without ``val_size`` there are none."""
    base = Config(dataset="sample", train_size=400, test_size=100, monitor_size=0, batch_size=64, epochs=1,
                  arch="small_cnn", width=0.25, device="cpu", progress=False, final_eval=False, save_embeddings=0,
                  runs_dir=str(tmp_path), data_draw="per_seed", seed=1)
    ce = training.run(base.replace(task="supervised", loss="ce", val_size=100)).results
    assert 0.0 <= ce["val_top1"] <= 1.0 and 0.0 <= ce["val/knn_top1"] <= 1.0
    pre_config = base.replace(task="pretrain", val_size=100)
    pre = training.run(pre_config).results
    assert 0.0 <= pre["val/knn_top1"] <= 1.0 and "val_top1" not in pre
    ft = training.run(base.replace(task="finetune", val_size=100, pretrained=pre_config.run_id(), label_fraction=0.5,
                                   optimizer="sgd", lr=0.05, lr_scaling="none")).results
    assert 0.0 <= ft["val_top1"] <= 1.0
    plain = training.run(base.replace(task="supervised", loss="ce")).results
    assert not any(k.startswith("val") for k in plain)


@pytest.mark.parametrize("train_size,val_size,fraction", [
    (0, 0, 1.0), (0, 0, 0.01), (500, 0, 0.1), (500, 50, 0.1), (333, 47, 0.01), (4000, 500, 0.01),
    (4000, 500, 0.1), (1234, 0, 0.5), (5000, 4990, 0.5)])
def test_the_labelled_count_from_class_sizes_alone_is_what_training_draws(train_size, val_size, fraction):
    """Planning a profile on a machine without its data (full's CIFAR-10) counts labelled images from the data
    set's facts: the same count prepare_data draws, for any seed (checked on the sample, 500 a class)."""
    sizes = data.BUILTIN["sample"].train_class_sizes
    for seed in (0, 3):
        config = Config(task="supervised", dataset="sample", train_size=train_size, test_size=100, val_size=val_size,
                        label_fraction=fraction, monitor_size=0, seed=seed, data_draw="per_seed", device="cpu",
                        progress=False)
        assert data.labelled_size(sizes, fraction, train_size, val_size) == \
            len(training.prepare_data(config, CPU).labelled)


def test_subset_class_sizes_spread_the_leftover_to_the_lowest_classes():
    assert data.subset_class_sizes([5, 5, 5], 7) == [3, 2, 2]
    assert data.subset_class_sizes([1, 10, 10], 9) == [1, 4, 4]
    assert data.subset_class_sizes([1, 10, 10], 10) == [1, 5, 4]
    assert sum(data.subset_class_sizes([7, 3, 9], 19)) == 19


def test_the_full_profile_plans_simclr_v2_without_cifar10_here(monkeypatch, tmp_path):
    """Without CIFAR-10's files, 03's and 08's fine-tuning runs are still built (from the facts), so the full
    profile's plan and its factor test cover them."""
    from lib.report import simclr_v2
    monkeypatch.setenv("THESIS_DATA_DIR", str(tmp_path))
    config = Config(task="pretrain", dataset="cifar10", train_size=0, val_size=500)
    assert simclr_v2.labelled_counts(config, [0.01, 0.1, 1.0]) == {0.01: 500, 0.1: 4950, 1.0: 49500}  # 4,950 a class: 49.5 rounds up
    with pytest.raises(FileNotFoundError):
        simclr_v2.labelled_counts(config.replace(dataset=f"imagefolder:{tmp_path}/none"), [0.1])
