"""Notebook 07, related work: SimCLR's batch size x epochs, temperature and learning-rate scaling."""

from .. import claims, conclusions, grids
from . import Notebook, base_config, register


def setup(v):
    """``(base, g)``: the three grids (:class:`~lib.report.grids.BatchTemperatureGrids`)."""
    base = base_config(v)
    return base, grids.batch_temperature_grids(base, v["recipe"], v["batch_sizes"], v["bt_epochs"], v["bt_train_size"],
                                               v["temperatures"], v["raw_temperatures"], v["lr_batch_sizes"],
                                               v["seeds"], **{k: v[k] for k in ("lr_rule", "raw_lrs") if k in v})


def groups(v):
    g = setup(v)[1]
    return {"batch x epochs": g.batch_epochs, "temperature": g.temperature, "learning-rate scaling": g.lr_scaling}


register(Notebook(
    "07_batch_temperature", setup=setup, groups=groups,
    # smoke: the fair design at its smallest (2 seeds drawing their own subsets, 100 validation images, two
    # batches x two lengths at equal steps, the scaling rules with the grid's optimiser at two batches, the no-l2
    # rate chosen among two)
    profiles={"smoke": {"batch_sizes": "32,64", "bt_epochs": "1,2", "bt_train_size": 300, "temperatures": "0.5,1.0",
                        "raw_temperatures": "10", "lr_batch_sizes": "32,64", "lr_rule": "recipe",
                        "raw_lrs": "0.01,0.1", "val_size": 100, "seeds": 2, "data_draw": "per_seed"},
              # learning-rate scaling with the grid's optimiser at two batch sizes; the no-l2 arm at three
              # rates chosen on 500 validation images (#24 item 2, 07)
              "cifar-cpu": {"batch_sizes": "128,512", "bt_epochs": "10,40", "bt_train_size": 4000,
                                 "temperatures": "0.1,0.5,1.0", "raw_temperatures": "10", "lr_batch_sizes": "128,512",
                                 "lr_rule": "recipe", "raw_lrs": "0.0012,0.012,0.12", "val_size": 500},
              "full": {"batch_sizes": "256,512,1024,2048", "bt_epochs": "20,80", "bt_train_size": 10000,
                       "temperatures": "0.05,0.1,0.5,1.0", "raw_temperatures": "10,100",
                       "lr_batch_sizes": "256,2048", "lr_rule": "recipe", "raw_lrs": "0.01,0.1,1.0", "val_size": 1000}},
    related=("batch size x epochs; temperature and l2 normalisation; learning-rate scaling",
             "SimCLR Figure 9, Table 5, Appendix B.1, B.9"),
    claims=claims.batch_temperature_claims, papers=("simclr.figure9", "simclr.table5", "simclr.appendix_b1"),
    readme_figure=("batch_epochs", "Linear probe by batch size and training length (SimCLR Figure 9)."),
    answer=conclusions.claims,
))
