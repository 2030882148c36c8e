"""#24 for notebooks 05 and 07: Table 1 as the interaction at each budget; batch size at equal epochs and at
about equal steps; the scaling rules at every batch; the no-l2 arm's rate chosen on validation, no verdict
when it did not train."""

import pytest

from lib.config import Config
from lib.report import claims, grids
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
