"""The grids of the related-work ablations (notebooks 05-08) and the plan of their compute.

Each ablation's settings are a pure function of its values (Config keyword arguments out; the
notebooks turn them into configs with ``base.replace(**kwargs)``); :mod:`lib.report.plans` counts a
notebook's runs, the ones already recorded, and estimates the time of the rest before anything trains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .. import recipes
from ..config import FIELD_NAMES, Config, split_list
from ..data import TRAIN_IMAGES
from ..views import OPERATIONS as VIEW_OPERATIONS
from . import simclr_v2
from .papers import FIGURE5, FIGURE5_OPS

GRID_PAIRS = ("none", "crop", "all")


def parse_list(text: str, kind: Callable[[str], Any] = float, name: str = "list") -> list:
    """``"0.01, 0.1"`` -> ``[0.01, 0.1]``: a comma-separated notebook parameter as a list of ``kind``.

    A single number is taken as a one-item list (papermill's ``-p name 2`` passes a number).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a comma-separated string; got {text!r}")
    items = list(split_list(text))
    if not items:
        raise ValueError(f"{name} is empty; give comma-separated values, e.g. '1,2'")
    try:
        return [kind(s) for s in items]
    except ValueError:
        raise ValueError(f"{name} must hold {getattr(kind, '__name__', kind)} values; got {text!r}") from None


def _check_ops(ops: Sequence[str], name: str = "ops") -> tuple[str, ...]:
    ops = tuple(ops)
    bad = [op for op in ops if op not in VIEW_OPERATIONS]
    if bad or len(set(ops)) != len(ops) or not ops:
        raise ValueError(f"{name} must be distinct operations among {', '.join(VIEW_OPERATIONS)}; got {ops}")
    return ops


def runnable_cell(cell: Sequence[str]) -> bool:
    """Whether our views can express ``cell``: crop only as the first operation (it sets the size)."""
    return "crop" not in cell[1:]


def augmentation_cells(ops: Sequence[str] = FIGURE5_OPS, pairs: str = "all") -> list[tuple[str, ...]]:
    """The cells of SimCLR's Figure 5 that are run: every single operation, then ordered pairs.

    ``pairs``: ``"none"`` (single operations only), ``"crop"`` (also crop followed by each other
    operation) or ``"all"`` (every ordered pair of distinct operations). Pairs with crop second
    are left out (:func:`runnable_cell`): our views crop first, since the crop sets the view's
    size. The paper's crop-second cells differ from the crop-first ones by at most 1.7 points
    (Figure 5), so the order of crop matters little there.
    """
    ops = _check_ops(ops)
    if pairs not in GRID_PAIRS:
        raise ValueError(f"pairs must be one of {', '.join(GRID_PAIRS)}; got {pairs!r}")
    cells: list[tuple[str, ...]] = [(op,) for op in ops]
    if pairs == "none":
        return cells
    firsts = ("crop",) if pairs == "crop" else ops
    cells += [(a, b) for a in firsts if a in ops for b in ops if a != b and runnable_cell((a, b))]
    return cells


def cell_views(cell: Sequence[str]) -> dict[str, str]:
    """Config views of one Figure 5 cell: the transformation(s) on branch 1, the identity on branch 2.

    SimCLR Sec. 3: "we always first randomly crop images and resize them to the same resolution,
    and we then apply the targeted transformation(s) only to one branch of the framework in
    Figure 2, while leaving the other branch as the identity (i.e. t(x_i) = x_i)". That first
    crop is shared by both branches (ImageNet images must be brought to one size); it creates no
    difference between the views, and CIFAR-10 images all have one size already, so here
    branch 2 is the image itself (``views2="none"``) and a crop appears only in the cells that
    name it.
    """
    cell = _check_ops(cell, "cell")
    if len(cell) > 2:
        raise ValueError(f"a Figure 5 cell has one or two operations; got {cell}")
    if not runnable_cell(cell):
        raise ValueError(f"cell {cell}: crop must come first in our views")
    return {"views": ",".join(cell), "views2": "none"}


def cell_label(cell: Sequence[str]) -> str:
    """``("crop", "color")`` -> ``"crop->color"``; a single operation is its name."""
    return "->".join(cell)


def grid_matrix(values: Mapping[tuple[str, ...], float], ops: Sequence[str] = FIGURE5_OPS) -> np.ndarray:
    """Figure 5's layout: ``M[i, j]`` = value of (ops[i] then ops[j]); the diagonal = ops[i] alone.

    Cells without a value (not run, or not expressible) are NaN. Keys not in the grid fail.
    """
    ops = _check_ops(ops)
    index = {op: i for i, op in enumerate(ops)}
    out = np.full((len(ops), len(ops)), np.nan)
    for cell, value in values.items():
        if not 1 <= len(cell) <= 2 or any(op not in index for op in cell):
            raise ValueError(f"cell {cell} is not in the grid of {ops}")
        i, j = index[cell[0]], index[cell[-1]]
        out[i, j] = float(value)
    return out


def row_averages(matrix: np.ndarray) -> np.ndarray:
    """Figure 5's "Average" column: the mean of each row over its cells that have a value."""
    m = np.asarray(matrix, dtype=float)
    counts = np.isfinite(m).sum(axis=1)
    sums = np.where(np.isfinite(m), m, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def paper_grid(ops: Sequence[str] = FIGURE5_OPS) -> np.ndarray:
    """SimCLR Figure 5 restricted to ``ops`` (each must be one of :data:`FIGURE5_OPS`), in that order."""
    ops = _check_ops(ops)
    missing = [op for op in ops if op not in FIGURE5_OPS]
    if missing:
        raise ValueError(f"operations {missing} are not in SimCLR's Figure 5 ({', '.join(FIGURE5_OPS)})")
    idx = [FIGURE5_OPS.index(op) for op in ops]
    return FIGURE5[np.ix_(idx, idx)]


def paper_cell_values(cells: Sequence[Sequence[str]]) -> dict[tuple[str, ...], float]:
    """Figure 5's value (%) of each cell that the figure has."""
    out = {}
    for cell in cells:
        if all(op in FIGURE5_OPS for op in cell):
            out[tuple(cell)] = float(FIGURE5[FIGURE5_OPS.index(cell[0]), FIGURE5_OPS.index(cell[-1])])
    return out


def fraction_label(x: float) -> str:
    """0.125 -> ``"1/8"``, 1.0 -> ``"1"``: colour strengths as the paper writes them."""
    f = Fraction(x).limit_denominator(64)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def color_settings(strengths: Sequence[float], with_blur: bool = True,
                   views_base: str = "crop,flip,color,gray") -> dict[str, dict[str, Any]]:
    """SimCLR Table 1: colour distortion strength ``s``, and the strongest one with blur added.

    Label -> Config keyword arguments (``color_strength``, ``views``). The colour distortion is
    colour jitter of strength s (applied with probability 0.8) plus random grayscale, as in the
    paper's Appendix A; ``" (+blur)"`` adds Gaussian blur to the largest strength.
    """
    strengths = [float(s) for s in strengths]
    if not strengths or any(not 0 < s <= 2.5 for s in strengths):
        raise ValueError(f"strengths must be non-empty, each in (0, 2.5]; got {strengths}")
    if "color" not in split_list(views_base):
        raise ValueError(f"views_base must contain 'color'; got {views_base!r}")
    out = {fraction_label(s): {"color_strength": s, "views": views_base} for s in strengths}
    if with_blur:
        out[f"{fraction_label(max(strengths))} (+blur)"] = {"color_strength": max(strengths),
                                                            "views": views_base + ",blur"}
    return out


def head_settings(proj_dims: Sequence[int], linear_bn: bool = True) -> dict[str, dict[str, Any]]:
    """SimCLR Figure 8: no head, a linear head and a nonlinear (2-layer MLP) head, per output width.

    "none" has no output width of its own (z = h), so it is one setting, at the default
    ``proj_dim`` (the field enters the run's hash, so varying it would repeat the same run).
    With ``linear_bn`` the linear head ends in the nonlinear head's output BatchNorm (``linear_head_bn``),
    as the official code's linear head does: the two then differ only in the hidden layer (issue #24).
    """
    dims = [int(d) for d in proj_dims]
    if not dims or any(d < 1 for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"proj_dims must be distinct positive integers; got {list(proj_dims)}")
    out: dict[str, dict[str, Any]] = {"none": {"head_layers": 0}}
    for kind, layers in (("linear", 1), ("nonlinear", 2)):
        extra = {"linear_head_bn": True} if layers == 1 and linear_bn else {}
        out.update({f"{kind}, {d}": {"head_layers": layers, "proj_dim": d, **extra} for d in dims})
    return out


def batch_epoch_settings(batch_sizes: Sequence[int], epochs: Sequence[int],
                         n_train: int) -> dict[tuple[int, int], dict[str, int]]:
    """SimCLR Figure 9: (batch size, epochs) -> Config keyword arguments.

    The learning rate follows the Config's scaling (SimCLR: 0.3 x batch / 256 with LARS). A batch
    larger than the ``n_train`` training images leaves no full step per epoch and fails here.
    """
    batch_sizes, epochs = [int(b) for b in batch_sizes], [int(e) for e in epochs]
    if not batch_sizes or not epochs or min(batch_sizes) < 2 or min(epochs) < 1:
        raise ValueError(f"batch_sizes (>= 2) and epochs (>= 1) must be non-empty; got {batch_sizes}, {epochs}")
    too_big = [b for b in batch_sizes if b > n_train]
    if too_big:
        raise ValueError(f"batch_sizes {too_big} exceed the {n_train} training images; each epoch needs one full "
                         f"batch (reduce batch_sizes or raise the number of training images)")
    return {(b, e): {"batch_size": b, "epochs": e} for e in epochs for b in batch_sizes}


# SimCLR Appendix B.1: LearningRate = 0.3 x BatchSize/256 (linear) or 0.075 x sqrt(BatchSize) (square root).
LR_SCALING_BASE = {"linear": 0.3, "sqrt": 0.075}

# The name the NT-Xent l2-normalisation switch would have in Config (losses.nt_xent(normalize=...)).
NORMALIZE_KNOB = "ntxent_normalize"


def normalize_knob_available() -> bool:
    """Whether Config has the :data:`NORMALIZE_KNOB` field (temperature without l2 normalisation)."""
    return NORMALIZE_KNOB in FIELD_NAMES


def temperature_settings(normalized: Sequence[float], unnormalized: Sequence[float] = ()
                         ) -> dict[str, dict[str, Any]]:
    """SimCLR Table 5: temperatures with l2-normalised z (cosine similarity) and without (dot product).

    Settings without normalisation need the Config field :data:`NORMALIZE_KNOB`; where it is
    missing they are left out (see :func:`normalize_knob_available`).
    """
    temps = [float(t) for t in (*normalized, *unnormalized)]
    if not list(normalized) or any(t <= 0 for t in temps):
        raise ValueError(f"temperatures must be > 0 and the normalised list non-empty; got {temps}")
    out = {f"l2 norm, t={t:g}": {"temperature": float(t)} for t in normalized}
    if normalize_knob_available():
        out.update({f"no l2 norm, t={t:g}": {"temperature": float(t), NORMALIZE_KNOB: False} for t in unnormalized})
    return out


LR_RULES = ("lars", "recipe")  # 07's lr_rule: Appendix B.1's LARS constants, or the recipe's optimiser
LR_ANCHOR_BATCH = 256  # lr_rule="recipe": both rules give the recipe's rate at this batch


def recipe_lr_scaling_settings(batch_sizes: Sequence[int], recipe_lr: float, recipe_scaling: str
                               ) -> dict[tuple[str, int], dict[str, Any]]:
    """SimCLR Appendix B.1's question with the grid's own optimiser: linear against square-root scaling of
    the learning rate with the batch size, both anchored at the recipe's rate at batch
    :data:`LR_ANCHOR_BATCH` (so that they differ only in how the rate moves with the batch), at each batch
    size (two or more, so that the scaling, not one rate, is compared). Only ``lr`` and ``lr_scaling`` move
    with the rule."""
    if len(set(batch_sizes)) < 2 or min(batch_sizes) < 2:
        raise ValueError(f"lr_rule='recipe' compares scaling rules at two batch sizes or more; got {list(batch_sizes)}")
    from ..optim import scaled_learning_rate
    anchor = scaled_learning_rate(recipe_lr, LR_ANCHOR_BATCH, recipe_scaling)
    base = {"linear": anchor * 256 / LR_ANCHOR_BATCH, "sqrt": anchor / LR_ANCHOR_BATCH ** 0.5}
    return {(scaling, int(b)): {"lr_scaling": scaling, "lr": base[scaling], "batch_size": int(b)}
            for scaling in ("linear", "sqrt") for b in batch_sizes}


def lr_scaling_settings(batch_sizes: Sequence[int]) -> dict[tuple[str, int], dict[str, Any]]:
    """SimCLR Appendix B.1: linear (0.3 x B/256) against square-root (0.075 x sqrt(B)) learning rates.

    Both rates are LARS rates (B.1: "we use LARS optimizer ... LearningRate = 0.3 x BatchSize/256"), so
    these runs train with LARS whatever optimiser a recipe gives the rest of the notebook: under SGD the
    square-root rate (0.85 at batch 128) would be another experiment."""
    if not batch_sizes or min(batch_sizes) < 2:
        raise ValueError(f"batch_sizes must be non-empty, each >= 2; got {list(batch_sizes)}")
    return {(scaling, int(b)): {"optimizer": "lars", "lr_scaling": scaling, "lr": base, "batch_size": int(b)}
            for scaling, base in LR_SCALING_BASE.items() for b in batch_sizes}


def finetune_layers(depth: int, wanted: str = "all") -> list[int]:
    """Head layers to fine-tune from for a head of ``depth`` layers: ``"all"`` = 0..depth-1, else the
    comma-separated layers given that exist in such a head (0 = the encoder output h).

    The last layer (the head's output z) is left out of ``"all"``: SimCLRv2 fine-tunes from h or a
    middle layer of the head.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1; got {depth}")
    if wanted == "all":
        return list(range(depth))
    return [k for k in parse_list(wanted, int, "finetune layers") if 0 <= k < depth]


# ---- training images of a data set ---------------------------------------------------------------
# TRAIN_IMAGES: lib.data's, derived from its one table of the data sets (lib.data.BUILTIN)


def n_train_images(dataset: str, train_size: int) -> int:
    """Training images a run uses: ``train_size``, or the whole split (0): known for the built-in data
    sets, counted (not decoded, and cached with the data: :func:`lib.data.image_folder_count`) for an
    image folder."""
    if train_size:
        return train_size
    if dataset.startswith("imagefolder:"):
        from ..data import image_folder_count

        return image_folder_count(dataset.removeprefix("imagefolder:"), "train")
    if dataset not in TRAIN_IMAGES:
        raise ValueError(f"number of training images of {dataset!r} unknown; set train_size")
    return TRAIN_IMAGES[dataset]


# ---- the notebooks' grids of runs -------------------------------------------------------------------
# Each builder turns a notebook's parameters into its configs, grouped by setting, one per seed; a
# reference recipe (``recipe``) trains every SimCLR run (lib.recipes.apply), the ablated knob still varies.

Group = dict[Any, list[Config]]


def augmentation_grid(base: Config, recipe: str, ops: str, pairs: str, train_size: int, epochs: int,
                      seeds: int) -> tuple[Config, Group]:
    """Notebook 05, SimCLR Figure 5: one pretraining run per cell (single operation or ordered pair)."""
    grid_base = recipes.apply(base.replace(task="pretrain", train_size=train_size, epochs=epochs, eval_every=epochs),
                              recipe)
    cells = augmentation_cells(parse_list(ops, str, "grid_ops"), pairs)
    return grid_base, {cell: [grid_base.replace(**cell_views(cell), seed=s) for s in range(seeds)] for cell in cells}


def color_grid(base: Config, recipe: str, strengths: str, with_blur: bool, train_size: int, epochs: int,
               supervised_epochs: int, seeds: int) -> tuple[Config, list[str], Group]:
    """Notebook 05, SimCLR Table 1: SimCLR and a supervised classifier (SGD, as notebook 01) at each colour
    strength; returns the SimCLR arm's common config (the recipe applied: what the page's setting line
    describes), the strength labels, and configs by (method, label)."""
    settings = color_settings(parse_list(strengths, float, "color_strengths"), with_blur=with_blur)
    color_base = base.replace(train_size=train_size, epochs=epochs, eval_every=epochs)
    methods = {"SimCLR": recipes.apply(color_base.replace(task="pretrain"), recipe),
               "supervised": color_base.replace(task="supervised", loss="ce", optimizer="sgd", lr=0.1, final_eval=False,
                                                epochs=supervised_epochs, eval_every=supervised_epochs)}
    return methods["SimCLR"], list(settings), {(m, label): [mbase.replace(**kw, seed=s) for s in range(seeds)]
                                        for m, mbase in methods.items() for label, kw in settings.items()}


def longer(group: Group, labels: Sequence[Any], multiple: int) -> Group:
    """The runs of ``group`` under ``labels`` again with ``multiple`` x their epochs (and so x the optimiser
    steps; evaluated at the end): an effect measured at two budgets (#24 item 6). ``multiple`` < 2: none."""
    if multiple < 2:
        return {}
    missing = [k for k in labels if k not in group]
    if missing:
        raise ValueError(f"no runs {missing} to train longer; choose among {list(group)}")
    return {k: [c.replace(epochs=c.epochs * multiple, eval_every=c.epochs * multiple) for c in group[k]]
            for k in labels}


def extremes(labels: Sequence[str]) -> list[str]:
    """The weakest and the strongest colour strength among 05's labels (``"1/4"``, ..., no ``(+blur)``)."""
    plain = [label for label in labels if "(" not in label]
    value = lambda label: float(Fraction(label))  # noqa: E731
    return sorted({min(plain, key=value), max(plain, key=value)}, key=value)


def head_grid(base: Config, recipe: str, dims: Sequence[int], train_size: int, epochs: int,
              seeds: int, linear_bn: bool = True) -> tuple[Config, Group]:
    """Notebook 06, SimCLR Figure 8: no head, and linear and nonlinear heads of each output width
    (``linear_bn``: see :func:`head_settings`)."""
    head_base = recipes.apply(base.replace(task="pretrain", train_size=train_size, epochs=epochs, eval_every=epochs),
                              recipe)
    return head_base, {label: [head_base.replace(**kw, seed=s) for s in range(seeds)]
                       for label, kw in head_settings(dims, linear_bn).items()}


@dataclass
class BatchTemperatureGrids:
    """Notebook 07's three grids (every run on ``base``'s images and recipe)."""

    base: Config
    batch_epochs: Group   # (batch size, epochs) -> configs: SimCLR Figure 9
    temperature: Group    # temperature label -> configs, at the shortest length: Table 5
    lr_scaling: Group     # (scaling, batch size) -> configs, at the shortest length: Appendix B.1
    short: int
    long: int


def batch_temperature_grids(base: Config, recipe: str, batch_sizes: str, lengths: str, train_size: int,
                            temperatures: str, raw_temperatures: str, lr_batch_sizes: str,
                            seeds: int, lr_rule: str = "lars", raw_lrs: str = "") -> BatchTemperatureGrids:
    """``lr_rule``: "lars" (Appendix B.1's LARS constants at ``lr_batch_sizes``, whatever the recipe's
    optimiser: the runs before issue #24) or "recipe" (:func:`recipe_lr_scaling_settings`). ``raw_lrs``:
    empty, the runs without l2 normalisation train at the recipe's rate; else at each of these base rates,
    keyed ``"no l2 norm, t=<t>, lr=<lr>"``, the rate chosen on the validation split (a rate that trains)."""
    if lr_rule not in LR_RULES:
        raise ValueError(f"lr_rule must be one of {', '.join(LR_RULES)}; got {lr_rule!r}")
    bs, epochs = parse_list(batch_sizes, int, "batch_sizes"), parse_list(lengths, int, "bt_epochs")
    short, long = min(epochs), max(epochs)
    bt_base = recipes.apply(base.replace(task="pretrain", train_size=train_size), recipe)

    def runs(settings, **fixed):
        return {key: [bt_base.replace(**kw, **fixed, seed=s) if fixed else
                      bt_base.replace(**kw, eval_every=kw["epochs"], seed=s) for s in range(seeds)]
                for key, kw in settings.items()}

    temps = temperature_settings(parse_list(temperatures, float, "temperatures"),
                                 parse_list(raw_temperatures, float, "raw_temperatures"))
    if str(raw_lrs).strip():
        rates = parse_list(raw_lrs, float, "raw_lrs")
        temps = {**{k: kw for k, kw in temps.items() if not k.startswith("no ")},
                 **{f"{k}, lr={r:g}": {**kw, "lr": r} for k, kw in temps.items() if k.startswith("no ") for r in rates}}
    lr_batches = parse_list(lr_batch_sizes, int, "lr_batch_sizes")
    lrs = (recipe_lr_scaling_settings(lr_batches, bt_base.lr, bt_base.lr_scaling) if lr_rule == "recipe"
           else lr_scaling_settings(lr_batches))
    return BatchTemperatureGrids(bt_base, runs(batch_epoch_settings(bs, epochs, n_train_images(base.dataset, train_size))),
                                 runs(temps, epochs=short, eval_every=short), runs(lrs, epochs=short, eval_every=short),
                                 short, long)


@dataclass
class SimCLRv2Plan:
    """Notebook 08's runs, all derived before any trains: a run's id names the pretraining run it
    fine-tunes from (and the teacher it distils), so the three stages can be planned at once."""

    pre_base: Config      # the pretraining set-up (head and width vary)
    pretrain: Group       # (head depth, width) -> configs
    finetune: Group       # (head depth, width, head layer, label fraction) -> configs
    distill: Group        # (student, with labels, label fraction) -> configs
    n_labelled: dict[float, int]
    widths: list[float]
    wide: float
    finetune_longer: Group = None    # the fine-tuning runs again at finetune_long_steps (#24 item 6); {} none
    distill_longer: Group = None     # the distillation runs again, of the longer teachers, at those steps
    steps: dict[str, dict[float, int]] = None  # budget ("short", "longer") -> label fraction -> fine-tuning steps


DISTILL_RECIPES = ("own", "finetune")  # 08's distill_recipe


def epochs_for_steps(steps: int, n_images: int, batch_size: int) -> int:
    """Epochs of ``n_images`` at ``batch_size`` (full batches only) that give at least ``steps`` optimiser steps."""
    per_epoch = max(1, n_images // batch_size)
    return max(1, -(-steps // per_epoch))


def simclr_v2_plan(base: Config, recipe: str, *, depths: str, finetune_from: str, label_fractions: str,
                   train_size: int, pretrain_epochs: int, finetune_epochs: int, finetune_batch_size: int,
                   finetune_lr: float, width_multipliers: str, distill_fractions: str, distill_epochs: int,
                   distill_batch_size: int, distill_lr: float, distill_alpha: float, seeds: int,
                   finetune_long_steps: int = 0, distill_recipe: str = "own") -> SimCLRv2Plan:
    """SimCLRv2's head depth x fine-tuning layer, wider encoders (3-layer head, from layer 1) and
    distillation of the widest teacher into a student of its width and of the base width.

    ``finetune_long_steps`` > 0: every fine-tuning run again for at least that many optimiser steps (per
    label fraction), and the distillation of those longer teachers, so that the claims are measured at
    two budgets. ``distill_recipe``: "own" (``distill_batch_size``, ``distill_lr``, ``distill_epochs``
    and the base config's weight decay: the runs before issue #24) or "finetune": the students train with
    the fine-tuning recipe (SGD at ``finetune_lr``, no weight decay, its batch) for the fine-tuning runs'
    steps (the epochs over all training images that give them), so that distillation and fine-tuning differ
    in their task, not in their recipe."""
    if distill_recipe not in DISTILL_RECIPES:
        raise ValueError(f"distill_recipe must be one of {', '.join(DISTILL_RECIPES)}; got {distill_recipe!r}")
    width = base.width
    head_depths = parse_list(depths, int, "depths")
    fractions = parse_list(label_fractions, float, "label_fractions")
    widths = sorted({width, *(width * m for m in parse_list(width_multipliers, float, "width_multipliers"))})
    wide = max(widths)
    d_fractions = parse_list(distill_fractions, float, "distill_fractions")
    if not set(d_fractions) <= set(fractions):
        raise ValueError(f"distill_fractions={distill_fractions!r} must be among label_fractions={label_fractions!r} "
                         "(their teachers)")
    v2_base = base.replace(train_size=train_size)  # fine-tuning and distillation start here, pretraining from pre_base
    pre_base = recipes.apply(v2_base.replace(task="pretrain", epochs=pretrain_epochs, eval_every=pretrain_epochs,
                                             final_eval=False), recipe)
    pre_keys = [(d, width) for d in head_depths] + [(3, w) for w in widths if (3, w) not in
                                                    [(d, width) for d in head_depths]]
    pre = {(d, w): [pre_base.replace(head_layers=d, width=w, seed=s) for s in range(seeds)] for d, w in pre_keys}
    n_labelled = simclr_v2.labelled_counts(pre_base, fractions)
    ft_keys = sorted({(d, width, k, f) for d in head_depths for k in finetune_layers(d, finetune_from)
                      for f in fractions}
                     | {(3, w, 1, f) for w in widths for f in fractions})
    # every fraction fine-tunes for the same epochs (no repeat) and evaluates at the end; the base's crops
    ft = {(d, w, k, f): [simclr_v2.finetune_config(v2_base, pre[(d, w)][s], layer=k, fraction=f,
                                                   n_labelled=n_labelled[f], batch_size=finetune_batch_size,
                                                   lr=finetune_lr, epochs=finetune_epochs, eval_every=finetune_epochs)
                         for s in range(seeds)]
          for d, w, k, f in ft_keys}
    students = {("same size", False): wide, ("base width", False): width}
    if distill_alpha > 0:
        students.update({("same size", True): wide, ("base width", True): width})
    batch = {f: min(finetune_batch_size, n) for f, n in n_labelled.items()}
    steps = {"short": {f: max(1, n_labelled[f] // batch[f]) * finetune_epochs for f in fractions}}
    n_unlabelled = n_train_images(base.dataset, train_size) - base.val_size  # distillation's images

    def distill(teachers: Group, budget: str) -> Group:
        def student(teacher: Config, w: float, labels: bool, f: float) -> Config:
            alpha = distill_alpha if labels else 0.0
            if distill_recipe == "own":
                return simclr_v2.distill_config(v2_base, teacher, width=w, alpha=alpha, epochs=distill_epochs,
                                                lr=distill_lr, batch_size=distill_batch_size, eval_every=distill_epochs)
            epochs = epochs_for_steps(steps[budget][f], n_unlabelled, batch[f])
            return simclr_v2.distill_config(v2_base, teacher, width=w, alpha=alpha, epochs=epochs, lr=finetune_lr,
                                            batch_size=batch[f], eval_every=epochs).replace(
                weight_decay=teacher.weight_decay, lr_scaling=teacher.lr_scaling)
        return {(name, labels, f): [student(teachers[(3, wide, 1, f)][s], w, labels, f) for s in range(seeds)]
                for (name, labels), w in students.items() for f in d_fractions}

    dist = distill(ft, "short")
    ft_long: Group = {}
    dist_long: Group = {}
    if finetune_long_steps:
        steps["longer"] = {f: max(finetune_long_steps, steps["short"][f]) for f in fractions}
        ft_long = {key: [c.replace(epochs=(e := epochs_for_steps(steps["longer"][key[3]], n_labelled[key[3]],
                                                                   batch[key[3]])), eval_every=e) for c in runs]
                   for key, runs in ft.items()}
        dist_long = distill(ft_long, "longer")
    return SimCLRv2Plan(pre_base, pre, ft, dist, n_labelled, widths, wide, ft_long, dist_long, steps)


def channels_note(dataset: str) -> str:
    """A data set's channels, and what grey-scale images do to the colour augmentations."""
    from ..data import load_dataset

    channels = load_dataset(dataset, "test").channels
    return f"{dataset}: {channels} channel(s)" + ("" if channels == 3 else (
        ": colour distortion reduces to brightness and contrast, and random grayscale does nothing; the colour "
        "results show the mechanics only"))


def show_channels_caveat(dataset: str) -> None:
    """Print :func:`channels_note` where it is a caveat (images of other than three channels, for which
    the colour augmentations do less); nothing for colour images, whose note would say nothing new."""
    note = channels_note(dataset)
    if not note.endswith(": 3 channel(s)"):
        print(note)


def optimiser_steps(config: Config) -> int:
    """The optimiser steps a run takes: ``epochs`` x full batches of its training images (``train_size``, or
    the whole split, less the ``val_size`` validation images carved from them), as :class:`lib.training.Schedule`
    counts them (``drop_last``)."""
    return (n_train_images(config.dataset, config.train_size) - config.val_size) // config.batch_size * config.epochs
