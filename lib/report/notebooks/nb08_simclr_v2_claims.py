"""Notebook 08, related work: SimCLRv2's head depth x fine-tuning layer, bigger encoders and distillation."""

from .. import claims, conclusions, grids
from . import Notebook, base_config, register

_KEYS = ("depths", "finetune_from", "label_fractions", "pretrain_epochs", "finetune_epochs", "finetune_batch_size",
         "finetune_lr", "width_multipliers", "distill_fractions", "distill_epochs", "distill_batch_size", "distill_lr",
         "distill_alpha", "seeds")


def setup(v):
    """``(base, plan)``: every run of the notebook (:class:`~lib.report.grids.SimCLRv2Plan`)."""
    base = base_config(v)
    return base, grids.simclr_v2_plan(base, v["recipe"], train_size=v["v2_train_size"], **{k: v[k] for k in _KEYS},
                                      **{k: v[k] for k in ("finetune_long_steps", "distill_recipe") if k in v})


def groups(v):
    p = setup(v)[1]
    out = {"pretraining": p.pretrain, "fine-tuning": p.finetune, "distillation": p.distill}
    if p.finetune_longer:
        out.update({"fine-tuning, longer": p.finetune_longer, "distillation, longer": p.distill_longer})
    return out


register(Notebook(
    "08_simclr_v2_claims", setup=setup, groups=groups,
    profiles={"smoke": {"depths": "2,3", "finetune_from": "0,1", "label_fractions": "0.1", "v2_train_size": 300,
                        "pretrain_epochs": 1, "finetune_epochs": 1, "width_multipliers": "2",
                        "distill_fractions": "0.1", "distill_epochs": 1},
              "cifar-cpu": {"depths": "2,3", "finetune_from": "all", "label_fractions": "0.01,0.1",
                            "v2_train_size": 5000, "pretrain_epochs": 20, "finetune_epochs": 10,
                            "width_multipliers": "2", "distill_fractions": "0.1", "distill_epochs": 5},
              # fine-tuning also for 1,250 steps (03's), layers chosen on 500 validation images, distillation
              # with the fine-tuning recipe for its steps (#24 items 2 and 6, 08)
              "cifar-cpu-next": {"depths": "2,3", "finetune_from": "all", "label_fractions": "0.01,0.1",
                                 "v2_train_size": 5000, "pretrain_epochs": 20, "finetune_epochs": 10,
                                 "width_multipliers": "2", "distill_fractions": "0.1", "distill_epochs": 5,
                                 "val_size": 500, "finetune_long_steps": 1250, "distill_recipe": "finetune"},
              "full": {"depths": "2,3,4", "finetune_from": "all", "v2_train_size": 10000, "pretrain_epochs": 50,
                       "finetune_epochs": 30, "width_multipliers": "0.5,2", "distill_fractions": "0.01,0.1",
                       "distill_epochs": 20, "distill_batch_size": 256}},
    related=("head depth x fine-tuning layer; bigger encoders; distillation", "SimCLRv2 Table 1, Figure 5, Tables 2-3"),
    claims=claims.simclr_v2_claims, papers=("simclrv2.table1", "simclrv2.table2", "simclrv2.table3"),
    readme_figure=("head_depth", "Fine-tuned accuracy by head depth and fine-tuning layer (SimCLRv2)."),
    answer=conclusions.claims,
))
