"""Fine-tuning a pretrained encoder on a fraction of the labels (SimCLRv2, Chen et al. 2020b).

The task ``finetune``: the encoder of a ``pretrain`` run (``pretrained=<run id>``), and the first
``finetune_layer`` layers of its projection head (SimCLRv2 fine-tunes from the head's middle layer),
under a linear classifier trained with cross-entropy on the labelled images. The classifier job
here also serves distillation (:mod:`lib.methods.distill`), which trains a student the same way on
the teacher's targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import torch
import torch.nn.functional as F

from .. import distributed, losses, models, training
from ..records import find_record
from . import Method, register

if TYPE_CHECKING:
    from ..config import Config


def _check_same_model(config: Config, source: Config, what: str) -> None:
    keys = ("dataset", "arch", "width", "stem", "head_layers", "head_hidden_dim", "proj_dim", "image_size")
    differ = [k for k in keys if getattr(config, k) != getattr(source, k)]
    if differ:
        raise ValueError(f"{what} run {source.run_id()} differs from this config in "
                         + ", ".join(f"{k} ({getattr(source, k)!r} vs {getattr(config, k)!r})" for k in differ))


def build_finetune_model(config: Config, pre_config: Config, channels: int, size: int, num_classes: int,
                         mean, std, pre_state: dict | None) -> models.FineTuneModel:
    """The pretrained encoder (and the first ``finetune_layer`` head layers) under a linear classifier."""
    contrastive = training.build_contrastive_model(pre_config, channels, size, mean, std)
    if pre_state is not None:
        contrastive.load_state_dict(pre_state["model"])
    head = models.truncated_head(contrastive.head, config.finetune_layer) if config.finetune_layer else None
    return models.FineTuneModel(contrastive.encoder, head, num_classes)


def build(config, d: training.Data, device, amp, generator):
    pre_record, pre_state = training.load_pretrained(config.pretrained, config)
    if pre_record.config.task != "pretrain":
        raise ValueError(f"pretrained={config.pretrained} is a {pre_record.config.task!r} run, not 'pretrain'")
    _check_same_model(config, pre_record.config, "pretrained")
    mean, std = d.train.mean_std()
    model = build_finetune_model(config, pre_record.config, d.train.channels, d.size, d.train.num_classes,
                                 mean, std, pre_state).to(device)
    return classifier_job(config, d, device, amp, generator, model, teacher=None)


def classifier_job(config, d: training.Data, device, amp, generator, model, teacher):
    """Fine-tuning (labelled images, cross-entropy) or distillation (all images, teacher targets)."""
    model, fast = training.place(model, device, config)
    v1, _ = training.view_pipelines(config, d.size)
    transform = training.eval_transform(d.size, d.train.image_size)
    if teacher is None:
        images, labels = d.train.images[d.labelled], d.train.labels[d.labelled]
        is_labelled = None
    else:
        images, labels = d.train.images, d.train.labels
        is_labelled = torch.zeros(len(images), dtype=torch.bool, device=device)
        is_labelled[d.labelled] = True

    def step(idx):
        x = training._layout(v1(images[idx], generator))
        with amp:
            logits = fast(x).float()
        if teacher is None:
            y = labels[idx]
            return F.cross_entropy(logits, y), {"train_top1": (logits.argmax(1) == y).float().mean()}
        with torch.no_grad(), amp:
            t_logits = teacher(x).float()
        loss = losses.distillation_loss(logits, t_logits, config.distill_temperature)
        if config.distill_alpha:
            mask = is_labelled[idx]
            ce = F.cross_entropy(logits, labels[idx], reduction="none")
            # mean over the labelled images of the global batch (DDP averages over processes)
            labelled = distributed.all_reduce_sum(mask.sum()) / distributed.world_size()
            loss = loss + config.distill_alpha * (ce * mask).sum() / labelled.clamp(min=1)
        agree = (logits.argmax(1) == t_logits.argmax(1)).float().mean()
        return loss, {"teacher_agreement": agree}

    def monitor():
        if not len(d.monitor):
            return {}
        return {"test_top1": training._classifier_accuracy(model, d.test.images[d.monitor], d.test.labels[d.monitor],
                                                  transform, amp)}

    encoder_fn = model.encoder

    def snapshot():
        return training._embedding_sample({"h": encoder_fn}, d, config, transform, amp)

    def final():
        res = {"test_top1": training._classifier_accuracy(model, d.test.images, d.test.labels, transform, amp)}
        if teacher is not None:
            res["teacher_test_top1"] = training._classifier_accuracy(teacher, d.test.images, d.test.labels, transform, amp)
        if config.final_eval:
            res.update(training._battery(encoder_fn, d, config, transform, amp, "h"))
        res.update(training.validation_scores(d, config, transform, amp, classifier=model))
        return res, training._embedding_sample({"h": encoder_fn}, d, config, transform, amp)

    return training.Job(model, step, monitor, len(images), snapshot), final


def rebuild(config, d: training.Data, weights, layer: int):
    """The pretrained run's encoder (and head layers) under the classifier, with this run's weights."""
    training.check_classifier_layer(config, layer)  # before the pretrained run is looked up
    pre = find_record(config.pretrained, config.resolved_runs_dir())
    model = build_finetune_model(config, pre.config, d.train.channels, d.size, d.train.num_classes,
                                 *d.train.mean_std(), None)
    return training.rebuild_classifier(config, d, weights, layer, model)


def check(config) -> Iterable[str]:
    if not 0 <= config.finetune_layer <= max(config.head_layers, 0):
        yield f"finetune_layer must be in [0, head_layers]; got {config.finetune_layer}"
    if not config.pretrained:
        yield "task 'finetune' needs pretrained=<id of a pretraining run>"


METHOD = register(Method(
    name="finetune", summary="fine-tune a pretrained encoder (from a head layer) on a label fraction",
    losses=("ce",), build=build, rebuild=rebuild, check=check, parent="pretrained"))
