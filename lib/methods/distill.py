"""Distillation of a fine-tuned teacher into a student (SimCLRv2, Chen et al. 2020b).

The task ``distill``: a student classifier trained on every training image to match the teacher's
softened predictions (``teacher=<id of a finetune run>``), plus ``distill_alpha`` times the
cross-entropy on the labelled images; the same classifier job as fine-tuning.
"""

from __future__ import annotations

from typing import Iterable

from .. import training
from ..records import find_record
from . import Method, register
from .finetune import build_finetune_model, classifier_job


def build(config, d: training.Data, device, amp, generator):
    t_record, t_state = training.load_pretrained(config.teacher, config)
    if t_record.config.task != "finetune":
        raise ValueError(f"teacher={config.teacher} is a {t_record.config.task!r} run, not 'finetune'")
    pre_record = find_record(t_record.config.pretrained, config.resolved_runs_dir())
    mean, std = d.train.mean_std()
    teacher = build_finetune_model(t_record.config, pre_record.config, d.train.channels, d.size,
                                   d.train.num_classes, mean, std, None)
    teacher.load_state_dict(t_state["model"])
    teacher = training._device_layout(teacher.to(device).eval(), device)
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = training.build_classifier(config, d.train.channels, d.size, d.train.num_classes, mean, std).to(device)
    return classifier_job(config, d, device, amp, generator, student, teacher=teacher)


def rebuild(config, d: training.Data, weights, layer: int):
    """The student: an encoder under a linear classifier."""
    return training.rebuild_classifier(config, d, weights, layer)


def check(config) -> Iterable[str]:
    if not config.teacher:
        yield "task 'distill' needs teacher=<id of a fine-tuning run>"


METHOD = register(Method(
    name="distill", summary="distil a fine-tuned teacher into a student on all training images",
    losses=("distill",), build=build, rebuild=rebuild, check=check, parent="teacher"))
