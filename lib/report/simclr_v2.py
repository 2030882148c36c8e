"""SimCLRv2's protocol, once: pretraining with a deep head, fine-tuning from a head layer on a labelled
fraction, and distillation of a fine-tuned teacher (Chen et al. 2020b).

Notebook 03 (:func:`lib.report.iterations.simclr_v2_iteration`, the thesis' third iteration) and
notebook 08 (:func:`lib.report.grids.simclr_v2_plan`, the paper's claims) build their runs with these
functions. Where the two notebooks' settings differ, the difference is a named argument, so that it
is visible where it is chosen rather than drifting between two copies:

- ``crop_scale_min`` of fine-tuning and distillation: 03 passes its ``finetune_crop_scale`` (gentler
  crops for small labelled subsets); 08 leaves the base config's (the library's default);
- ``repeat`` of fine-tuning: 03 repeats the epochs of each label fraction so that every fraction gets
  as many steps as the largest (:func:`equal_steps`); 08 fine-tunes every fraction for the same epochs;
- ``eval_every``, ``batch_size``: 03 evaluates fine-tuning once per repeat and distils at the base batch;
  08 evaluates at the end only and distils at its ``distill_batch_size``.

A fine-tuning run's id names its pretraining run and a distillation run's its teacher, so every stage
is built before any trains (the plan counts them all).
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import recipes
from ..config import Config

FINETUNE_VIEWS = "crop,flip"  # fine-tuning and distillation use the supervised augmentation (SimCLRv2 Appendix B)


def pretrain_config(base: Config, recipe: str, head_layers: int, **fields) -> Config:
    """SimCLR pretraining on ``base`` with ``fields``, trained with ``recipe`` (empty: the library's
    defaults), and a projection head of ``head_layers`` layers whatever the recipe's."""
    return recipes.apply(base.replace(task="pretrain", **fields), recipe).replace(head_layers=head_layers)


def labelled_counts(config: Config, fractions: Iterable[float]) -> dict[float, int]:
    """Labelled training images of ``config``'s data at each label fraction, as training draws them.

    Without the data on this machine, a built-in data set's counts come from its facts (class-balanced
    training split; ``lib.data.labelled_size``), so its runs can be planned and their ids built anywhere
    (the full profile, trained on a GPU machine)."""
    import torch

    from .. import data
    from ..training import prepare_data

    try:
        return {f: len(prepare_data(config.replace(label_fraction=f), torch.device("cpu")).labelled) for f in fractions}
    except FileNotFoundError:
        if config.dataset not in data.BUILTIN:
            raise
        sizes = data.BUILTIN[config.dataset].train_class_sizes
        return {f: data.labelled_size(sizes, f, config.train_size, config.val_size) for f in fractions}


def equal_steps(n_labelled: dict[float, int]) -> dict[float, int]:
    """The epoch multiplier per label fraction that gives every fraction about the steps of the largest."""
    return {f: max(1, round(max(n_labelled.values()) / n)) for f, n in n_labelled.items()}


def finetune_config(base: Config, pretrained: Config, *, layer: int, fraction: float, n_labelled: int,
                    batch_size: int, lr: float, epochs: int, eval_every: int, repeat: int = 1,
                    crop_scale_min: float | None = None, weight_decay: float = 0.0) -> Config:
    """Fine-tuning of ``pretrained`` (its encoder, head depth, width and seed) from head layer ``layer``
    (0: the encoder's output h) on ``fraction`` of the labels: SGD at ``lr`` without batch scaling, at
    ``weight_decay`` (SimCLRv2's: none), crop and flip, the batch capped at the ``n_labelled`` images,
    ``epochs`` x ``repeat`` epochs.
    ``crop_scale_min`` None keeps ``base``'s."""
    crops = {} if crop_scale_min is None else {"crop_scale_min": crop_scale_min}
    return base.replace(task="finetune", head_layers=pretrained.head_layers, width=pretrained.width,
                        views=FINETUNE_VIEWS, **crops, optimizer="sgd", lr=lr, lr_scaling="none", weight_decay=weight_decay,
                        final_eval=False, pretrained=pretrained.run_id(), finetune_layer=layer, label_fraction=fraction,
                        batch_size=min(batch_size, n_labelled), seed=pretrained.seed, epochs=epochs * repeat,
                        eval_every=eval_every)


def distill_config(base: Config, teacher: Config, *, width: float, alpha: float, epochs: int, lr: float,
                   batch_size: int | None = None, eval_every: int | None = None,
                   crop_scale_min: float | None = None) -> Config:
    """Distillation of the fine-tuned ``teacher`` (its label fraction and seed) into a student of ``width``
    with a 3-layer head on all training images: SGD at ``lr``, crop and flip, the teacher's soft labels plus
    ``alpha`` x the labels' cross-entropy. ``batch_size``, ``eval_every`` and ``crop_scale_min`` None keep
    ``base``'s."""
    kept = {k: v for k, v in (("batch_size", batch_size), ("eval_every", eval_every),
                              ("crop_scale_min", crop_scale_min)) if v is not None}
    return base.replace(task="distill", head_layers=3, views=FINETUNE_VIEWS, **kept, epochs=epochs, optimizer="sgd",
                        lr=lr, final_eval=False, width=width, distill_alpha=alpha, teacher=teacher.run_id(),
                        label_fraction=teacher.label_fraction, seed=teacher.seed)
