"""Notebook 06, related work: SimCLR's projection head (Figure 8, Sec. 4.2, Table 3)."""

from .. import claims, conclusions, grids
from . import Notebook, base_config, register


def setup(v):
    """``(base, (head_base, heads))``: the head runs; ``probe_dim`` must be one of ``head_dims`` (checked first)."""
    dims = grids.parse_list(v["head_dims"], int, "head_dims")
    if v["probe_dim"] not in dims:
        raise ValueError(f"probe_dim={v['probe_dim']} must be one of head_dims={dims}")
    base = base_config(v)
    return base, grids.head_grid(base, v["recipe"], dims, v["head_train_size"], v["head_epochs"], v["seeds"],
                                 v["linear_head_bn"])


def after_training(v, record):
    """The transformation probes (SimCLR Table 3) of a head run, stored in its ``evaluations/``: they need the
    weights, which only the machine that trained the run has."""
    from ... import probes

    for t in grids.parse_list(v["probe_transforms"], str, "probe_transforms"):
        probes.transformation_prediction(record, t, v["probe_train"], v["probe_test"], v["device"])


register(Notebook(
    "06_projection_head", setup=setup, after_training=after_training, groups=lambda v: {"projection heads": setup(v)[1][1]},
    profiles={"smoke": {"head_dims": "32", "head_train_size": 300, "head_epochs": 1, "probe_dim": 32,
                        "probe_transforms": "rotate", "probe_train": 200, "probe_test": 100},
              "cifar-cpu": {"head_dims": "128", "head_train_size": 4000, "head_epochs": 20, "probe_dim": 128,
                                 "probe_transforms": "rotate,color,gray,sobel", "probe_train": 2000, "probe_test": 1000},
              "full": {"head_dims": "32,128,512,2048", "head_train_size": 10000, "head_epochs": 30, "probe_dim": 128,
                       "probe_train": 5000, "probe_test": 2000}},
    related=("nonlinear projection head; h vs z; what the head removes", "SimCLR Figure 8, Sec. 4.2, Table 3"),
    claims=claims.head_claims, papers=("simclr.figure8", "simclr.table3"),
    readme_figure=("head", "Linear probe on h by projection head (none, linear, nonlinear) and output dimension "
                           "(SimCLR Figure 8)."),
    answer=conclusions.claims,
))
