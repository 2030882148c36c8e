"""#24 for notebooks 05 and 07: Table 1 as the interaction at each budget; batch size at equal epochs and at
about equal steps; the scaling rules at every batch; the no-l2 arm's rate chosen on validation, no verdict
when it did not train."""

from pathlib import Path

import pytest

from lib.config import Config
from lib.records import RunRecord
from lib.report import claims, conclusions, grids
from lib.report.notebooks import nb05_simclr_augmentations as nb05

UP = [0.030, 0.020, 0.025, 0.028, 0.022]


def color(simclr_gain, supervised_gain, base=0.40):
    """05's colour accuracies per seed: each method's weakest at ``base``, its strongest ``gain`` above."""
    return {("SimCLR", "1/4"): [base] * 5, ("SimCLR", "1"): [base + g for g in simclr_gain],
            ("supervised", "1/4"): [base + 0.1] * 5, ("supervised", "1"): [base + 0.1 + g for g in supervised_gain]}


def test_table1_is_tested_as_the_interaction_and_its_halves_are_no_claims():
    acc = color(simclr_gain=[-0.03, -0.04, -0.035, -0.03, -0.04], supervised_gain=[-0.065] * 5)
    gains = claims.color_gains(acc, "1/4", "1")
    assert list(gains) == ["SimCLR: 1 - 1/4", "supervised: 1 - 1/4", "SimCLR's gain - the supervised gain"]
    assert gains["SimCLR's gain - the supervised gain"] == pytest.approx([0.035, 0.025, 0.03, 0.035, 0.025])
    rows = claims.color_claims(acc, "1/4", "1")
    [row] = rows  # SimCLR's own gain is negative, yet it is no claim: the interaction is
    assert row["claim"].startswith(claims.COLOR_INTERACTION + ": the interaction, SimCLR's gain minus the supervised")
    assert row["paper (points)"] == 3.2 and row["verdict"] == "agrees"  # (63.2 - 61.0) - (75.7 - 76.7)
    assert claims.color_paper_gains("1/4", "1") == {"SimCLR: 1 - 1/4": 2.2, "supervised: 1 - 1/4": -1.0,
                                                    "SimCLR's gain - the supervised gain": 3.2}
    # the opposite interaction is opposite, whatever each half does on its own
    flipped = claims.color_claims(color([0.01] * 5, [0.04, 0.05, 0.045, 0.04, 0.05]), "1/4", "1")
    assert flipped[0]["verdict"] == "opposite"


def test_the_interaction_gets_a_row_per_budget_and_blur_where_it_ran():
    short = {**color(UP, [0.0] * 5), ("SimCLR", "1 (+blur)"): [0.45] * 5}
    longer = color([0.0] * 5, [0.0, 0.01, -0.01, 0.0, 0.0])
    grid = {("crop",): [0.3] * 5, ("rotate",): [0.2] * 5}
    rows = claims.augmentation_claims(grid, {}, short, "1/4", "1", longer, ("150 SimCLR steps", "750 SimCLR steps"))
    names = [r["claim"] for r in rows]
    assert [n.endswith("(150 SimCLR steps)") for n in names] == [True, True, False]
    assert names[2].startswith(claims.COLOR_INTERACTION) and names[2].endswith("(750 SimCLR steps)")
    assert "blur on top of colour strength 1" in names[1]
    legacy = claims.augmentation_claims(grid, {}, short, "1/4", "1")  # one budget: no budget in the names
    assert [r["claim"] for r in legacy] == [n.removesuffix(" (150 SimCLR steps)") for n in names[:2]]
    effects = claims.color_budget_effects({750: longer, 150: short}, "1/4", "1")
    assert list(effects["interaction: SimCLR's gain - supervised gain"]) == [150, 750]
    assert list(effects["SimCLR: blur on top of 1"]) == [150]
    table = claims.color_gain_table([("150", short), ("750", longer)], "1/4", "1")
    assert len(table) == 6 and table.loc[("150", "SimCLR's gain - the supervised gain"), "paper (points)"] == 3.2


def test_optimiser_steps_count_full_batches_of_the_training_images_left_after_validation():
    c = Config(dataset="sample", train_size=4000, batch_size=512, epochs=40)
    assert grids.optimiser_steps(c) == 7 * 40
    assert grids.optimiser_steps(c.replace(val_size=500, batch_size=128, epochs=10)) == 27 * 10
    assert claims.color_budget(c, c.replace(batch_size=256, epochs=15)) == "280 SimCLR and 225 supervised steps"


def test_the_longer_colour_group_takes_blur_along_when_it_ran():
    v = {"color_long_multiple": 5}
    base = Config(dataset="sample", train_size=300)
    with_blur = grids.color_grid(base, "", "0.25,0.5,1.0", True, 300, 2, 3, 2)
    longer = nb05.color_longer(v, with_blur)
    assert set(longer) == {("SimCLR", "1/4"), ("SimCLR", "1"), ("supervised", "1/4"), ("supervised", "1"),
                           ("SimCLR", "1 (+blur)")}
    assert {c.epochs for c in longer[("SimCLR", "1 (+blur)")]} == {10}
    assert nb05.color_longer({"color_long_multiple": 0}, with_blur) == {}


def bt_values(gap_short=-0.013, equal_steps=0.017):
    return {(128, 10): [0.41] * 3, (512, 10): [0.41 + gap_short + d for d in (0.001, -0.001, 0.0)],
            (128, 40): [0.46] * 3, (512, 40): [0.41 + equal_steps + d for d in (0.002, -0.002, 0.0)]}


TV = {"l2 norm, t=0.5": [0.40, 0.41, 0.39], "l2 norm, t=1": [0.39] * 3, "l2 norm, t=0.1": [0.38] * 3,
      "no l2 norm, t=10": [0.30] * 3}


def test_batch_size_at_equal_epochs_and_at_about_equal_steps_each_its_own_row():
    steps = {(128, 10): 310, (512, 10): 70, (128, 40): 1240, (512, 40): 280}
    lv = {("linear", 128): [0.38] * 3, ("sqrt", 128): [0.41, 0.40, 0.42]}
    rows = claims.batch_temperature_claims(bt_values(), TV, lv, steps)
    by = {r["claim"]: r for r in rows}
    equal_epochs = by["short training (10 epochs): larger batch is better at equal epochs (batch 512 - 128; 70 steps "
                      "vs 310 steps)"]
    equal_steps = by["larger batch is better at about equal steps (batch 512 for 40 epochs, 280 steps, minus batch 128 "
                     "for 10 epochs, 310 steps)"]
    assert equal_epochs["ours (points)"].startswith("-1.3") and equal_steps["ours (points)"].startswith("+1.7")
    assert any(c.startswith("the batch-size gap shrinks") for c in by) and any(c.startswith("longer training") for c in by)
    # lars (the runs before #24): one scaling row, at the smallest batch
    assert [c for c in by if "scaling" in c] == ["square-root beats linear learning-rate scaling at batch 128"]


def test_the_recipe_rule_compares_the_scaling_rules_at_every_batch():
    lv = {("linear", 128): [0.38] * 3, ("sqrt", 128): [0.41] * 3, ("linear", 512): [0.40] * 3, ("sqrt", 512): [0.39] * 3}
    rows = claims.batch_temperature_claims(bt_values(), TV, lv, lr_rule="recipe")
    scaling = [r for r in rows if "scaling" in r["claim"]]
    assert [r["claim"].split(" (")[0] for r in scaling] == [
        "square-root beats linear learning-rate scaling at batch 128",
        "square-root beats linear learning-rate scaling at batch 512"]
    assert all("anchored at batch 256" in r["claim"] for r in scaling)
    assert [r["ours (points)"] for r in scaling] == ["+3.0 ± 0.0", "-1.0 ± 0.0"]


def record(seed, val, test, knn=(0.26, 0.35), lr=0.1):
    epochs = [{"epoch": 0, "knn_top1": knn[0]}, {"epoch": 10, "knn_top1": knn[1]}]
    return RunRecord(Path(f"/x/{seed}-{val}-{test}"), Config(seed=seed, lr=lr), "complete", {},
                     {"val/knn_top1": val, "h/linear_probe_top1": test}, epochs)


def test_the_no_l2_rate_is_chosen_per_seed_on_validation_and_its_test_score_reported():
    runs = {"l2 norm, t=0.5": [record(s, 0.5, 0.4) for s in range(3)],
            "no l2 norm, t=10, lr=0.012": [record(0, 0.30, 0.33), record(1, 0.25, 0.90), record(2, 0.31, 0.32)],
            "no l2 norm, t=10, lr=0.12": [record(0, 0.20, 0.99), record(1, 0.28, 0.31), record(2, 0.30, 0.99)]}
    arm = claims.no_l2_arm(runs)
    assert arm.label == "no l2 norm, t=10" and arm.tuned and arm.trained
    assert arm.choices == [0.012, 0.12, 0.012] and arm.values == [0.33, 0.31, 0.32]  # never the test's 0.99
    rows = claims.batch_temperature_claims(bt_values(), TV, {("linear", 128): [0.4] * 3, ("sqrt", 128): [0.4] * 3},
                                           no_l2=arm)
    [row] = [r for r in rows if "no l2" in r["claim"]]
    assert row["claim"] == "l2 norm, t=0.5 beats no l2 norm, t=10 (its rate chosen on validation)"
    assert row["ours (points)"] == "+8.0 ± 1.7" and row["verdict"] in ("agrees", "inconclusive")
    text = conclusions.no_l2_choice(arm, 500)
    assert "500 validation images" in text and "lr=0.012 (2 seeds), lr=0.12 (1 seed)" in text
    assert "Every chosen run trained" in text


def test_a_chosen_no_l2_run_that_did_not_train_gives_no_verdict_and_the_page_says_so():
    flat = (0.258, 0.258)
    runs = {"no l2 norm, t=10, lr=0.012": [record(0, 0.30, 0.33, flat), record(1, 0.30, 0.33)],
            "no l2 norm, t=10, lr=0.12": [record(0, 0.20, 0.30), record(1, 0.20, 0.30)]}
    arm = claims.no_l2_arm(runs)
    assert arm.untrained == [0] and not arm.trained
    tv = {"l2 norm, t=0.5": [0.40, 0.41]}
    bt = {k: v[:2] for k, v in bt_values().items()}
    [row] = [r for r in claims.batch_temperature_claims(bt, tv, {("linear", 128): [0.4] * 2, ("sqrt", 128): [0.4] * 2},
                                                        no_l2=arm) if "no l2" in r["claim"]]
    assert row["verdict"].startswith("no verdict: did not train")
    text = conclusions.no_l2_choice(arm, 100)
    assert "seed 0 of 2 did not train" in text and "gives no verdict" in text
    # the runs before #24: one rate, nothing chosen, the same rule on whether it trained
    legacy = claims.no_l2_arm({"no l2 norm, t=10": [record(s, float("nan"), 0.3, flat) for s in range(3)]})
    assert not legacy.tuned and legacy.untrained == [0, 1, 2] and "recipe's rate" in conclusions.no_l2_choice(legacy)
    assert claims.no_l2_arm({"l2 norm, t=0.5": runs["no l2 norm, t=10, lr=0.12"]}) is None


def test_rows_that_are_runs_of_the_grid_are_found_by_their_run_ids():
    base = Config(dataset="sample", train_size=300, task="pretrain")
    grid = {(128, 10): [base.replace(batch_size=128, epochs=10, seed=s) for s in range(2)]}
    same = {("linear", 128): [base.replace(batch_size=128, epochs=10, seed=s) for s in range(2)],
            ("sqrt", 128): [base.replace(batch_size=128, epochs=10, lr_scaling="sqrt", seed=s) for s in range(2)]}
    assert claims.grid_overlap(grid, {"learning-rate scaling": same}) == [("learning-rate scaling", ("linear", 128),
                                                                           (128, 10))]


def test_the_scaling_setting_names_the_rule_and_the_rates_from_the_configs():
    base = Config(dataset="sample", train_size=1000, task="pretrain", epochs=10, optimizer="sgd", lr=0.12,
                  lr_scaling="linear")
    recipe = {k: [base.replace(**kw)] for k, kw in grids.recipe_lr_scaling_settings([128, 512], 0.12, "linear").items()}
    text = claims.lr_scaling_setting("recipe", recipe)
    assert "the grid's optimiser (sgd), anchored at batch 256 (rate 0.12 there)" in text
    assert "batch 128: linear 0.06, square root 0.0849" in text and "batch 512: linear 0.24, square root 0.17" in text
    lars = {k: [base.replace(**kw)] for k, kw in grids.lr_scaling_settings([128]).items()}
    assert claims.lr_scaling_setting("lars", lars).startswith("LARS with Appendix B.1's constants")


def test_the_colour_grids_base_is_its_simclr_arm_with_the_recipe():
    """05's Table 1 setting line describes the returned base: it must be what the SimCLR arm trains (the
    recipe's SGD at cifar-cpu), not the notebook's base (LARS), which the page once showed."""
    base = Config(dataset="sample", train_size=300)
    color_base, labels, runs = grids.color_grid(base, "lightly_cifar10", "0.25,1.0", False, 300, 2, 3, 2)
    simclr = runs[("SimCLR", labels[0])][0]
    assert (color_base.optimizer, color_base.lr) == (simclr.optimizer, simclr.lr) == ("sgd", 0.12)
    assert color_base.replace(color_strength=simclr.color_strength, seed=simclr.seed) == simclr
    assert runs[("supervised", labels[0])][0].optimizer == "sgd" and base.optimizer == "lars"
