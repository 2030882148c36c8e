"""The runs of the thesis' three iterations (notebooks 01-03), as configs built before anything trains.

Each builder is the one place where its notebook's runs are defined: the notebook trains (or loads)
the configs it returns, and :mod:`lib.report.plans` counts them to print a profile's plan of compute
before training. Settings map to one config per seed (``[setting] -> [Config, ...]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import recipes
from ..methods import SIMCLR_VIEWS, SUPERVISED_VIEWS
from ..config import Config, split_list
from . import simclr_v2

Group = dict[object, list[Config]]


def seeds_of(config: Config, seeds: int) -> list[Config]:
    """``config`` once per seed 0 .. seeds - 1."""
    return [config.replace(seed=s) for s in range(seeds)]


VIEW_SETS = ("own", "both")  # notebook 01's view_sets
# notebook 01's two view sets at view_sets="both": their labels (in the group keys) and the views
VIEW_SET_VIEWS = {"crop+flip": SUPERVISED_VIEWS, "SimCLR views": SIMCLR_VIEWS}


def view_set_label(loss_label: str, views: str) -> str:
    """``"SupCon"``, ``"crop+flip"`` -> ``"SupCon (crop+flip)"``: a loss on one of 01's view sets."""
    return f"{loss_label} ({views})"


def supervised_methods(base: Config, supcon_temperature: float, triplet_mining: str, triplet_margin: float,
                       seeds: int, view_sets: str = "own") -> Group:
    """Notebook 01: the three supervised losses on ``base`` (its optimiser, rate, data and encoder).

    ``view_sets="own"``: each loss on the views of its paper (crop and flip for cross-entropy and triplet,
    SimCLR's views for SupCon: the loss is confounded with the augmentation; the runs before issue #24);
    ``"both"``: every loss on both view sets, keyed ``"<loss> (<view set>)"`` (:data:`VIEW_SET_VIEWS`), so
    that the loss effect is measured within each view set."""
    if view_sets not in VIEW_SETS:
        raise ValueError(f"view_sets must be one of {', '.join(VIEW_SETS)}; got {view_sets!r}")
    methods = {
        "cross-entropy": base.replace(task="supervised", loss="ce"),
        "SupCon": base.replace(task="supervised", loss="supcon", temperature=supcon_temperature),
        "triplet": base.replace(task="supervised", loss="triplet", triplet_mining=triplet_mining,
                                triplet_margin=triplet_margin),
    }
    if view_sets == "both":
        methods = {view_set_label(name, label): config.replace(views=views) for label, views in VIEW_SET_VIEWS.items()
                   for name, config in methods.items()}
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
    grid: tuple[tuple[float, float], ...] = ()  # (lr, weight decay) points tuned on validation; () untuned


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
                        seeds: int, tune_lrs: str = "", tune_weight_decays: str = "") -> SimCLRv2Iteration:
    """Notebook 03's runs on ``base`` (data, encoder, batch and pretraining length), all derived at once:
    a fine-tuning run's id names its pretraining run, a distillation run's its teacher.

    Untuned (``tune_lrs`` empty, the runs before issue #24): fine-tuning at ``finetune_lr`` without weight
    decay, the from-scratch baselines at ``finetune_lr`` and weight decay 5e-4, keyed ``(layer, fraction)``
    and ``(budget, fraction)``. Tuned: fine-tuning and the baselines both run every (learning rate, weight
    decay) of the grid ``tune_lrs`` x ``tune_weight_decays``, keyed ``(..., lr, weight decay)``: the same
    tuning budget for both, the point chosen per seed on the validation split (``val_size``), so the two
    arms of a comparison differ only in their starting weights and the rate and decay their validation
    chose. The distillation teachers are the fine-tuning runs at ``finetune_lr`` and the grid's smallest
    weight decay."""
    fractions = [float(f) for f in split_list(label_fractions)]
    n_labelled = simclr_v2.labelled_counts(base, fractions)
    batch = {f: min(finetune_batch_size, n) for f, n in n_labelled.items()}
    repeat = simclr_v2.equal_steps(n_labelled)  # this notebook gives every fraction equal steps (08 does not)
    pre = seeds_of(simclr_v2.pretrain_config(base, recipe, 3, lr=lr, lr_scaling=lr_scaling), seeds)
    grid = tuning_grid(tune_lrs, tune_weight_decays, finetune_lr)
    points = grid or ((finetune_lr, 0.0),)

    def ft(layer, f, rate, decay):
        return [simclr_v2.finetune_config(base, pre[s], layer=layer, fraction=f, n_labelled=n_labelled[f],
                                          batch_size=finetune_batch_size, lr=rate, weight_decay=decay,
                                          epochs=finetune_epochs, repeat=repeat[f],
                                          eval_every=finetune_epochs * repeat[f] if grid else repeat[f],
                                          crop_scale_min=finetune_crop_scale) for s in range(seeds)]
    finetune = {(layer, f, *((rate, decay) if grid else ())): ft(layer, f, rate, decay)
                for layer in (0, 1) for f in fractions for rate, decay in points}
    teacher_key = (finetune_lr, min(d for _, d in points)) if grid else ()
    students = {"same size": dict(width=base.width, alpha=0.0), "half width": dict(width=base.width / 2, alpha=0.0)}
    if distill_alpha > 0:
        students["same size, with labels"] = dict(width=base.width, alpha=distill_alpha)
    distill = {(name, f): [simclr_v2.distill_config(base, finetune[(1, f, *teacher_key)][s], **kw, epochs=distill_epochs,
                                                    lr=distill_lr,
                                                    crop_scale_min=finetune_crop_scale) for s in range(seeds)]
               for name, kw in students.items() for f in fractions}
    scratch_args = dict(task="supervised", loss="ce", views="crop,flip", crop_scale_min=finetune_crop_scale,
                        optimizer="sgd", lr_scaling="none", final_eval=False)
    budgets = scratch_budgets(finetune_epochs, scratch_multiple)
    scratch_points = grid or ((finetune_lr, 5e-4),)
    # tuned: fine-tuning and the baselines are scored at the end only (their choice is made on validation);
    # untuned: the baselines ten times, fine-tuning once per repeat (the runs before issue #24)
    scratch = {(name, f, *((rate, decay) if grid else ())): [
        base.replace(**scratch_args, lr=rate, weight_decay=decay, label_fraction=f, batch_size=batch[f], seed=s,
                     epochs=e * repeat[f], eval_every=e * repeat[f] if grid else max(1, e * repeat[f] // 10))
        for s in range(seeds)] for name, e in budgets.items() for f in fractions for rate, decay in scratch_points}
    return SimCLRv2Iteration(pre, finetune, distill, scratch, n_labelled, batch, repeat, tuple(students), budgets,
                             grid)


def tuning_grid(lrs: str, weight_decays: str, default_lr: float) -> tuple[tuple[float, float], ...]:
    """The (learning rate, weight decay) points tuned on validation: ``lrs`` x ``weight_decays``
    (comma-separated), which must hold ``default_lr`` (the distillation teachers' rate); () when ``lrs`` is empty
    (untuned)."""
    if not str(lrs).strip():
        if str(weight_decays).strip():
            raise ValueError("tune_weight_decays needs tune_lrs (the grid is their product)")
        return ()
    rates = [float(x) for x in split_list(str(lrs))]
    decays = [float(x) for x in split_list(str(weight_decays))] or [0.0]
    if default_lr not in rates:
        raise ValueError(f"tune_lrs={lrs!r} must contain finetune_lr={default_lr:g}, the distillation teachers' rate")
    if min(rates) <= 0 or min(decays) < 0:
        raise ValueError(f"tune_lrs must be > 0 and tune_weight_decays >= 0; got {lrs!r}, {weight_decays!r}")
    return tuple((r, d) for r in rates for d in decays)
