"""SimCLRv2's protocol (lib.report.simclr_v2), written once for notebooks 03 and 08: where the notebooks
differ, the difference is a named argument, and everything else follows the pretraining or the teacher."""

from __future__ import annotations

import dataclasses

from lib.config import Config
from lib.report import grids, iterations, simclr_v2

BASE = Config(dataset="sample", train_size=600, test_size=200, width=0.5, batch_size=128, epochs=1, monitor_size=0)


def changed(a: Config, b: Config) -> set[str]:
    return {f.name for f in dataclasses.fields(Config) if getattr(a, f.name) != getattr(b, f.name)}


def test_finetuning_follows_its_pretraining_and_differs_only_in_the_named_arguments():
    pre = simclr_v2.pretrain_config(BASE, "", 3, seed=2, width=1.0)
    plain = simclr_v2.finetune_config(BASE, pre, layer=1, fraction=0.1, n_labelled=60, batch_size=16, lr=0.05,
                                      epochs=10, eval_every=10)
    assert (plain.pretrained, plain.seed, plain.head_layers, plain.width) == (pre.run_id(), 2, 3, 1.0)
    assert plain.crop_scale_min == BASE.crop_scale_min and plain.epochs == 10 and plain.batch_size == 16
    repeated = simclr_v2.finetune_config(BASE, pre, layer=1, fraction=0.1, n_labelled=60, batch_size=16, lr=0.05,
                                         epochs=10, eval_every=3, repeat=3, crop_scale_min=0.5)
    assert changed(plain, repeated) == {"crop_scale_min", "epochs", "eval_every"}
    assert (repeated.epochs, repeated.crop_scale_min) == (30, 0.5)
    assert simclr_v2.finetune_config(BASE, pre, layer=0, fraction=0.01, n_labelled=6, batch_size=16, lr=0.05,
                                     epochs=1, eval_every=1).batch_size == 6  # capped at the labelled images


def test_distillation_follows_its_teacher_and_keeps_the_base_unless_told():
    pre = simclr_v2.pretrain_config(BASE, "", 3, seed=1)
    teacher = simclr_v2.finetune_config(BASE, pre, layer=1, fraction=0.1, n_labelled=60, batch_size=16, lr=0.05,
                                        epochs=2, eval_every=2)
    student = simclr_v2.distill_config(BASE, teacher, width=0.25, alpha=0.0, epochs=3, lr=0.1)
    assert (student.teacher, student.label_fraction, student.seed) == (teacher.run_id(), 0.1, 1)
    assert (student.batch_size, student.eval_every, student.crop_scale_min) == (
        BASE.batch_size, BASE.eval_every, BASE.crop_scale_min)
    told = simclr_v2.distill_config(BASE, teacher, width=0.25, alpha=0.0, epochs=3, lr=0.1, batch_size=64,
                                    eval_every=3, crop_scale_min=0.5)
    assert changed(student, told) == {"batch_size", "eval_every", "crop_scale_min"}


def test_notebooks_03_and_08_build_their_finetuning_with_the_one_protocol():
    """03's equal-steps repeat and its finetune_crop_scale, 08's plain epochs and the base's crops: the same
    builder with different named arguments (so the two can no longer drift in anything else)."""
    it = iterations.simclr_v2_iteration(BASE, lr=0.1, lr_scaling="sqrt", recipe="", label_fractions="0.01,0.1",
                                        finetune_epochs=2, finetune_batch_size=16, finetune_lr=0.05,
                                        finetune_crop_scale=0.5, distill_epochs=1, distill_lr=0.1, distill_alpha=0.0,
                                        scratch_multiple=2, seeds=1)
    plan = grids.simclr_v2_plan(BASE, "", depths="3", finetune_from="1", label_fractions="0.01,0.1", train_size=600,
                                pretrain_epochs=1, finetune_epochs=2, finetune_batch_size=16, finetune_lr=0.05,
                                width_multipliers="1", distill_fractions="0.1", distill_epochs=1,
                                distill_batch_size=128, distill_lr=0.1, distill_alpha=0.0, seeds=1)
    assert it.repeat[0.01] > 1 and it.n_labelled == plan.n_labelled
    [v3] = it.finetune[(1, 0.01)]
    [v8] = plan.finetune[(3, 0.5, 1, 0.01)]
    assert (v3.epochs, v3.eval_every, v3.crop_scale_min) == (2 * it.repeat[0.01], it.repeat[0.01], 0.5)
    assert (v8.epochs, v8.eval_every, v8.crop_scale_min) == (2, 2, BASE.crop_scale_min)
    # beyond the named arguments they differ only through their pretraining runs
    assert changed(v3, v8) == {"epochs", "eval_every", "crop_scale_min", "pretrained"}
