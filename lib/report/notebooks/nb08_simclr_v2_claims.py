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


def plan_groups(p: grids.SimCLRv2Plan) -> dict:
    """The plan's groups of runs by name, the longer budget's where the profile runs it."""
    out = {"pretraining": p.pretrain, "fine-tuning": p.finetune, "distillation": p.distill}
    if p.finetune_longer:
        out.update({"fine-tuning, longer": p.finetune_longer, "distillation, longer": p.distill_longer})
    return out


def groups(v):
    return plan_groups(setup(v)[1])


def setting_rows(v, plan: grids.SimCLRv2Plan) -> dict[str, tuple[str, str]]:
    """The page's setting table (row -> (the paper's, ours)) from the notebook's values ``v`` and its plan: the
    validation split that chooses the layers, the longer budget and distillation's recipe where the profile
    sets them."""
    from .. import papers, tables

    steps = plan.steps or {}
    finetune = (f"SGD lr {v['finetune_lr']}, no weight decay, {v['finetune_epochs']} epochs, batch "
                f"{v['finetune_batch_size']} (capped), crop + flip; test top-1 on {v['test_size'] or 'all'} test images")
    if v.get("val_size"):
        finetune += (f"; every layer choice per seed on {v['val_size']:,} validation images carved from the training "
                     "images")
    if "longer" in steps:
        finetune += "; two budgets: " + "; ".join(
            f"{budget} " + ", ".join(f"{claims.steps_text(n)} at {f:.0%}" for f, n in by_f.items()) for budget, by_f in steps.items())
    if v.get("distill_recipe", "own") == "finetune":
        students = (f"fine-tuning's recipe (SGD lr {v['finetune_lr']}, no weight decay, its batch) for fine-tuning's "
                    "steps on all training images")
    else:
        students = f"{v['distill_epochs']} epochs on all training images, batch {v['distill_batch_size']}"
    return {
        "Table 1 / Figure 4: pretraining": (papers.reference("simclrv2.table1").setting,
                                            tables.describe_setting(plan.pre_base, v["seeds"],
                                                                    "no final battery; see fine-tuning")),
        "fine-tuning": ("whole network from a head layer, 1 % / 10 % labels", finetune),
        "Tables 2-3: distillation": (papers.reference("simclrv2.table3").setting,
                                     f"teacher: width {plan.wide}, 3-layer head, fine-tuned from layer 1; students of "
                                     f"width {plan.wide} and {v['width']}, {students}, temperature 1"
                                     + (f", with labels: + {v['distill_alpha']} x cross-entropy"
                                        if v["distill_alpha"] > 0 else "")),
    }


def final_train_top1(finetuned: dict, budget: str, steps: dict[float, int]) -> dict[tuple[str, str], list[float]]:
    """The fine-tuning runs' final training accuracy (the last epoch's ``train_top1``) per seed, keyed
    (run label, "<budget>, <fraction> (<steps> steps)") for :func:`lib.report.tables.grid_table`:
    ``finetuned`` by (head depth, width, layer, fraction) -> records."""
    from ..statistics import last_epoch_values

    return {(f"{d}-layer head, width {w:g}, from layer {k}", f"{budget}, {f:.0%} ({claims.steps_text(steps[f])})"):
            last_epoch_values(rs, "train_top1") for (d, w, k, f), rs in finetuned.items()}


register(Notebook(
    "08_simclr_v2_claims", setup=setup, groups=groups,
    # smoke runs the fair design (layers chosen on validation, two budgets, distillation with fine-tuning's
    # recipe, a data draw per seed) so that the tests render it
    profiles={"smoke": {"depths": "2,3", "finetune_from": "0,1", "label_fractions": "0.1", "v2_train_size": 300,
                        "pretrain_epochs": 1, "finetune_epochs": 1, "width_multipliers": "2",
                        "distill_fractions": "0.1", "distill_epochs": 1, "data_draw": "per_seed", "val_size": 100,
                        "finetune_long_steps": 20, "distill_recipe": "finetune"},
              # fine-tuning also for 1,250 steps (03's), layers chosen on 500 validation images, distillation
              # with the fine-tuning recipe for its steps (#24 items 2 and 6, 08)
              "cifar-cpu": {"depths": "2,3", "finetune_from": "all", "label_fractions": "0.01,0.1",
                                 "v2_train_size": 5000, "pretrain_epochs": 20, "finetune_epochs": 10,
                                 "width_multipliers": "2", "distill_fractions": "0.1", "distill_epochs": 5,
                                 "val_size": 500, "finetune_long_steps": 1250, "distill_recipe": "finetune"},
              "full": {"depths": "2,3,4", "finetune_from": "all", "v2_train_size": 10000, "pretrain_epochs": 50,
                       "finetune_epochs": 30, "width_multipliers": "0.5,2", "distill_fractions": "0.01,0.1",
                       "distill_epochs": 20, "distill_batch_size": 256, "val_size": 1000,
                       "finetune_long_steps": 18600, "distill_recipe": "finetune"}},
    related=("head depth x fine-tuning layer; bigger encoders; distillation", "SimCLRv2 Table 1, Figure 5, Tables 2-3"),
    claims=claims.simclr_v2_claims, papers=("simclrv2.table1", "simclrv2.table2", "simclrv2.table3"),
    readme_figure=("head_depth", "Fine-tuned accuracy by head depth and fine-tuning layer (SimCLRv2)."),
    answer=conclusions.claims,
))


def longer_note(v, plan: grids.SimCLRv2Plan) -> str:
    """What the longer budget is (issue #24 item 6), for the page; "" where the profile runs one budget."""
    if not plan.finetune_longer:
        return ""
    steps = plan.steps
    recipe = (" The students of the distillation claims train for the steps of the fine-tuning runs they are compared "
              "with, with fine-tuning's recipe." if v.get("distill_recipe", "own") == "finetune" else "")
    return ("**Two budgets** (issue #24 item 6). At this profile's short budget fine-tuning takes "
            + ", ".join(f"{claims.steps_text(n)} at {f:.0%} labels" for f, n in steps["short"].items())
            + f"; every fine-tuning run is trained again from the same pretrained encoder for at least "
            f"{claims.steps_text(v['finetune_long_steps'])} (" + ", ".join(f"{n:,} at {f:.0%}" for f, n in steps["longer"].items())
            + "), and its teachers distilled again." + recipe + " The claims on fine-tuning from head layer 1 vs h "
            "and on distillation vs fine-tuning get a row per budget (the row names its steps). The table: each "
            "fine-tuning run's final training accuracy (the last epoch's, on its training views), mean ± std over "
            "seeds; a run well below 100 % has not fitted its labelled images.")


def fit_sentence(values: dict[tuple[str, str], list[float]]) -> str:
    """The range of the fine-tuning runs' mean final training accuracy per budget column, as a sentence."""
    from ..statistics import mean_std

    cols: dict[str, list[float]] = {}
    for (_, col), v in values.items():
        mean = mean_std(v)[0]
        if mean == mean:
            cols.setdefault(col, []).append(mean)
    return "Final training accuracy of the fine-tuning runs (means over seeds): " + "; ".join(
        f"{col}: {100 * min(m):.1f} to {100 * max(m):.1f} %" for col, m in cols.items()) + "."


def budget_sentence(effects: dict[str, dict[int, list[float]]]) -> str:
    """Each claim's mean paired effect at each budget (:func:`lib.report.claims.budget_effects`), as a sentence."""
    from ..statistics import mean_std

    return "Mean effect by budget: " + "; ".join(
        f"{label}: " + ", ".join(f"{100 * mean_std(by[s])[0]:+.1f} points at {claims.steps_text(s)}" for s in sorted(by))
        for label, by in effects.items()) + " (the claims table gives each one's interval, p, q and verdict)."
