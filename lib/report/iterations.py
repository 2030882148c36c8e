"""The runs of the thesis' three iterations (notebooks 01-03), as configs built before anything trains.

Each builder is the one place where its notebook's runs are defined: the notebook trains (or loads)
the configs it returns, and :mod:`lib.report.plans` counts them to print a profile's plan of compute
before training. Settings map to one config per seed (``[setting] -> [Config, ...]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import recipes
from ..config import Config, split_list
from . import simclr_v2

Group = dict[object, list[Config]]


def seeds_of(config: Config, seeds: int) -> list[Config]:
    """``config`` once per seed 0 .. seeds - 1."""
    return [config.replace(seed=s) for s in range(seeds)]


def supervised_methods(base: Config, supcon_temperature: float, triplet_mining: str, triplet_margin: float,
                       seeds: int) -> Group:
    """Notebook 01: the three supervised losses on ``base`` (its optimiser, rate, data and encoder)."""
    methods = {
        "cross-entropy": base.replace(task="supervised", loss="ce"),
        "SupCon": base.replace(task="supervised", loss="supcon", temperature=supcon_temperature),
        "triplet": base.replace(task="supervised", loss="triplet", triplet_mining=triplet_mining,
                                triplet_margin=triplet_margin),
    }
    return {name: seeds_of(config, seeds) for name, config in methods.items()}


def snapshot_epochs(epochs: int) -> str:
    """Epochs at which notebook 02 keeps test embeddings for its UMAPs: 0, a quarter, half, the end."""
    return ",".join(str(e) for e in sorted({0, epochs // 4, epochs // 2, epochs}))


def simclr_config(base: Config, temperature: float, lr: float, lr_scaling: str, recipe: str) -> Config:
    """Notebook 02: SimCLR on ``base`` (LARS, a 2-layer head, SimCLR's CIFAR views), or ``recipe``'s choices."""
    simclr = base.replace(task="pretrain", views="crop,flip,color,gray", temperature=temperature, optimizer="lars",
                          lr=lr, lr_scaling=lr_scaling, head_layers=2, snapshot_epochs=snapshot_epochs(base.epochs))
    return recipes.apply(simclr, recipe)


@dataclass
class SimCLRv2Iteration:
    """Notebook 03's runs: pretraining with a 3-layer head, fine-tuning from h and from head layer 1 on
    each label fraction, distillation of the layer-1 teachers, and supervised baselines from scratch."""

    pretrain: list[Config]  # one per seed
    finetune: Group         # (head layer, fraction) -> configs
    distill: Group          # (student, fraction) -> configs
    scratch: Group          # (budget, fraction) -> configs
    n_labelled: dict[float, int]
    batch: dict[float, int]   # fine-tuning batch per fraction (capped at the labelled images)
    repeat: dict[float, int]  # epoch multiplier per fraction, so that every fraction gets equal steps
    students: tuple[str, ...]
    budgets: dict[str, int]   # from-scratch budget -> epochs over the largest labelled subset


def scratch_budgets(finetune_epochs: int, scratch_multiple: int) -> dict[str, int]:
    """The from-scratch baselines' epochs over the largest labelled subset, by label: ``same steps`` as
    fine-tuning, and ``longer`` = ``scratch_multiple`` times that. Derived rather than set, so that
    "longer" is longer at every profile (an independent epoch count once made it the shorter one)."""
    if finetune_epochs < 1 or scratch_multiple < 2:
        raise ValueError(f"need finetune_epochs >= 1 and scratch_multiple >= 2 (the longer baseline must train "
                         f"more steps); got {finetune_epochs} and {scratch_multiple}")
    return {"same steps": finetune_epochs, "longer": scratch_multiple * finetune_epochs}


def simclr_v2_iteration(base: Config, *, lr: float, lr_scaling: str, recipe: str, label_fractions: str,
                        finetune_epochs: int, finetune_batch_size: int, finetune_lr: float, finetune_crop_scale: float,
                        distill_epochs: int, distill_lr: float, distill_alpha: float, scratch_multiple: int,
                        seeds: int) -> SimCLRv2Iteration:
    """Notebook 03's runs on ``base`` (data, encoder, batch and pretraining length), all derived at once:
    a fine-tuning run's id names its pretraining run, a distillation run's its teacher."""
    fractions = [float(f) for f in split_list(label_fractions)]
    n_labelled = simclr_v2.labelled_counts(base, fractions)
    batch = {f: min(finetune_batch_size, n) for f, n in n_labelled.items()}
    repeat = simclr_v2.equal_steps(n_labelled)  # this notebook gives every fraction equal steps (08 does not)
    pre = seeds_of(simclr_v2.pretrain_config(base, recipe, 3, lr=lr, lr_scaling=lr_scaling), seeds)
    finetune = {(layer, f): [simclr_v2.finetune_config(base, pre[s], layer=layer, fraction=f, n_labelled=n_labelled[f],
                                                       batch_size=finetune_batch_size, lr=finetune_lr,
                                                       epochs=finetune_epochs, repeat=repeat[f], eval_every=repeat[f],
                                                       crop_scale_min=finetune_crop_scale) for s in range(seeds)]
                for layer in (0, 1) for f in fractions}
    students = {"same size": dict(width=base.width, alpha=0.0), "half width": dict(width=base.width / 2, alpha=0.0)}
    if distill_alpha > 0:
        students["same size, with labels"] = dict(width=base.width, alpha=distill_alpha)
    distill = {(name, f): [simclr_v2.distill_config(base, finetune[(1, f)][s], **kw, epochs=distill_epochs,
                                                    lr=distill_lr,
                                                    crop_scale_min=finetune_crop_scale) for s in range(seeds)]
               for name, kw in students.items() for f in fractions}
    scratch_args = dict(task="supervised", loss="ce", views="crop,flip", crop_scale_min=finetune_crop_scale,
                        optimizer="sgd", lr=finetune_lr, lr_scaling="none", weight_decay=5e-4, final_eval=False)
    budgets = scratch_budgets(finetune_epochs, scratch_multiple)
    scratch = {(name, f): [base.replace(**scratch_args, label_fraction=f, batch_size=batch[f], seed=s,
                                        epochs=e * repeat[f], eval_every=max(1, e * repeat[f] // 10))
                           for s in range(seeds)] for name, e in budgets.items() for f in fractions}
    return SimCLRv2Iteration(pre, finetune, distill, scratch, n_labelled, batch, repeat, tuple(students), budgets)
