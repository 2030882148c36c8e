"""Notebook 05, related work: SimCLR's composition of augmentations and colour strength (Figure 5, Table 1)."""

from .. import claims, conclusions, grids
from . import Notebook, base_config, register


def setup(v):
    """``(base, (grid_base, grid), (color_base, labels, color))``: the augmentation grid and the
    colour-strength runs."""
    base = base_config(v)
    grid = grids.augmentation_grid(base, v["recipe"], v["grid_ops"], v["grid_pairs"], v["grid_train_size"],
                                   v["grid_epochs"], v["seeds"])
    color = grids.color_grid(base, v["recipe"], v["color_strengths"], v["color_blur"], v["color_train_size"],
                             v["color_epochs"], v["supervised_epochs"], v["seeds"])
    return base, grid, color


def color_longer(v, color):
    """The weakest and strongest colour strengths of both methods again at ``color_long_multiple`` x their
    epochs (none at 0, the runs before issue #24), keyed as the colour-strength group; with ``color_blur``
    also SimCLR's strongest strength with blur (its claim at the second budget too)."""
    _, labels, runs = color
    keys = [(m, label) for m in ("SimCLR", "supervised") for label in grids.extremes(labels)]
    blur = ("SimCLR", grids.extremes(labels)[-1] + " (+blur)")
    return grids.longer(runs, keys + ([blur] if blur in runs else []), int(v.get("color_long_multiple", 0)))


def groups(v):
    _, (_, grid), color = setup(v)
    out = {"grid": grid, "colour strength": color[2]}
    longer = color_longer(v, color)
    return {**out, "colour strength, longer": longer} if longer else out


register(Notebook(
    "05_simclr_augmentations", setup=setup, groups=groups,
    # smoke: the fair design at its smallest (2 seeds drawing their own subsets, two strengths, both at 2x the
    # epochs) so that the tests render the interaction at two budgets and its figure
    profiles={"smoke": {"grid_ops": "crop,rotate", "grid_pairs": "crop", "grid_train_size": 300, "grid_epochs": 1,
                        "color_strengths": "0.5,1.0", "color_train_size": 300, "color_epochs": 1, "supervised_epochs": 1,
                        "color_long_multiple": 2, "seeds": 2, "data_draw": "per_seed"},
              # the weakest and strongest colour strengths also at 5x the epochs (#24 item 6)
              "cifar-cpu": {"grid_ops": "crop,color,rotate", "grid_pairs": "crop", "grid_train_size": 4000,
                                 "grid_epochs": 15, "color_strengths": "0.25,0.5,1.0", "color_train_size": 4000,
                                 "color_epochs": 10, "supervised_epochs": 15, "color_long_multiple": 5},
              "full": {"grid_ops": "crop,cutout,color,sobel,noise,blur,rotate", "grid_pairs": "crop",
                       "grid_train_size": 10000, "grid_epochs": 20, "color_strengths": "0.125,0.25,0.5,1.0",
                       "color_blur": True, "color_train_size": 10000, "color_epochs": 20, "supervised_epochs": 30,
                       "color_long_multiple": 5}},
    related=("composition of augmentations; colour strength (SimCLR vs supervised)", "SimCLR Figure 5, Table 1"),
    claims=claims.augmentation_claims, papers=("simclr.figure5", "simclr.table1"),
    readme_figure=("heatmap", "Linear probe by pair of augmentations (crop first), ours beside SimCLR Figure 5."),
    answer=conclusions.claims,
))
