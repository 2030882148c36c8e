"""Notebook 02, iteration 2: SimCLR."""

from .. import conclusions, iterations
from . import CPU_RECIPE, Notebook, base_config, register, shown_recipe_values
from ... import recipes


def setup(v):
    """``(base, simclr)``: the base config and SimCLR on it (LARS, a 2-layer head, SimCLR's views; or the recipe's)."""
    base = base_config(v, "train_size", "epochs")
    return base, iterations.simclr_config(base, v["temperature"], v["lr"], v["lr_scaling"], v["recipe"])


register(Notebook(
    "02_simclr", setup=setup, groups=lambda v: {"SimCLR": {"SimCLR": iterations.seeds_of(setup(v)[1], v["seeds"])}},
    profiles={"quick": {"epochs": 20},
              "cifar-cpu": {"epochs": 60, **shown_recipe_values(CPU_RECIPE)},
              "full": {"epochs": 500, **shown_recipe_values(recipes.DEFAULT)}},
    index_numbers=(("h/knn_top1", "h kNN", None), ("h/linear_probe_top1", "h linear probe", None)),
    readme_figure=("curves", "SimCLR training: loss, contrastive top-1 and kNN top-1 per epoch "
                             "(epoch 0: random init)."),
    answer=conclusions.simclr,
))
