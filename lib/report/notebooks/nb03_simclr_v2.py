"""Notebook 03, iteration 3: SimCLRv2 (pretraining with a 3-layer head, fine-tuning, distillation)."""

from .. import conclusions, iterations
from . import CPU_RECIPE, Notebook, base_config, register, shown_recipe_values
from ... import recipes

_KEYS = ("lr", "lr_scaling", "recipe", "label_fractions", "finetune_epochs", "finetune_batch_size", "finetune_lr",
         "finetune_crop_scale", "distill_epochs", "distill_lr", "distill_alpha", "scratch_multiple", "seeds")


def setup(v):
    """``(base, it)``: the base config and every run of the notebook
    (:class:`~lib.report.iterations.SimCLRv2Iteration`)."""
    base = base_config(v, "train_size", "epochs")
    tuning = {k: v[k] for k in ("tune_lrs", "tune_weight_decays") if k in v}
    return base, iterations.simclr_v2_iteration(base, **{k: v[k] for k in _KEYS}, **tuning)


def groups(v):
    it = setup(v)[1]
    return {"pretraining": {"3-layer head": it.pretrain}, "fine-tuning": it.finetune, "distillation": it.distill,
            "from scratch": it.scratch}


register(Notebook(
    "03_simclr_v2", setup=setup, groups=groups,
    # smoke runs the fair design (tuned on validation, a data draw per seed) so that the tests render it
    profiles={"smoke": {"finetune_epochs": 1, "distill_epochs": 1, "scratch_multiple": 2, "data_draw": "per_seed",
                        "val_size": 100, "tune_lrs": "0.05", "tune_weight_decays": "0,5e-4"},
              "quick": {"epochs": 20, "finetune_epochs": 10, "distill_epochs": 10, "scratch_multiple": 3},
              # fine-tuning and the baselines from scratch: the same grid of rates and weight decays, chosen
              # per seed on 500 validation images carved from the training images (#24 item 2, 03)
              "cifar-cpu": {"epochs": 60, "finetune_epochs": 20, "distill_epochs": 10, "scratch_multiple": 3,
                                 **shown_recipe_values(CPU_RECIPE), "val_size": 500, "tune_lrs": "0.05,0.2",
                                 "tune_weight_decays": "0,5e-4"},
              "full": {"epochs": 500, "finetune_epochs": 60, "distill_epochs": 100,
                       **shown_recipe_values(recipes.DEFAULT), "val_size": 1000, "tune_lrs": "0.05,0.2",
                       "tune_weight_decays": "0,5e-4"}},
    index_numbers=(("test_top1", "top-1 with {fraction} labels", "min"),),
    readme_figure=("label_efficiency", "Test accuracy against the fraction of labels; dashed: training from scratch."),
    answer=conclusions.simclr_v2,
))
