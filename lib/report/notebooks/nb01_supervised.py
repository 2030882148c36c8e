"""Notebook 01, iteration 1: the three supervised losses (cross-entropy, SupCon, triplet)."""

from .. import conclusions, iterations
from . import Notebook, base_config, register


def setup(v):
    """``(base, methods)``: the base config (its optimiser, rate, data and encoder) and, per loss, one config
    per seed."""
    base = base_config(v, "train_size", "epochs", "optimizer", "lr")
    return base, iterations.supervised_methods(base, v["supcon_temperature"], v["triplet_mining"], v["triplet_margin"],
                                               v["seeds"], v.get("view_sets", "own"))


register(Notebook(
    "01_supervised", setup=setup, groups=lambda v: {"supervised losses": setup(v)[1]},
    # every loss on both view sets (crop+flip and SimCLR's): the loss effect within each (#24 item 2, 01)
    profiles={"smoke": {"view_sets": "both"}, "cifar-cpu": {"view_sets": "both"}, "full": {"view_sets": "both"}},
    index_numbers=(("h/knn_top1", "h kNN", None),),
    readme_figure=("battery", "The evaluation battery on h for each supervised loss."),
    answer=conclusions.supervised,
))
