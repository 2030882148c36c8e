"""#24 items 2 and 6 for notebook 08: layers chosen on validation, item 6's claims at two budgets.

The legacy shapes (no validation split, one budget) keep their rows word for word."""

from pathlib import Path

from lib.config import Config
from lib.records import RunRecord
from lib.report import claims
from lib.report.notebooks import nb08_simclr_v2_claims as nb08

SEEDS = 3


def per_seed(x):
    return [x + 0.01 * s for s in range(SEEDS)]


def grid(shift=0.0):
    acc = {(d, w, k, f): per_seed(0.5 + shift + 0.02 * k + 0.01 * d + (0.05 if w == 1.0 else 0))
           for d in (2, 3) for w in (0.5, 1.0) for k in range(d) for f in (0.01, 0.1)}
    dacc = {(name, labels, f): per_seed(0.55 + shift) for name in ("same size", "base width")
            for labels in (False, True) for f in (0.1,)}
    width_acc = {(w, f): acc[(3, w, 1, f)] for w in (0.5, 1.0) for f in (0.01, 0.1)}
    return acc, dacc, width_acc


def test_the_legacy_rows_keep_their_claims_word_for_word():
    rows = claims.simclr_v2_claims(*grid(), [2, 3], 0.5)
    assert [r["claim"] for r in rows] == [
        "fine-tuning from head layer 1 beats from h (3-layer head, 1% labels)",
        "fine-tuning from head layer 1 beats from h (3-layer head, 10% labels)",
        "a deeper head helps from its best layer (3 vs 2 layers, 1% labels)",
        "a wider encoder helps (1 vs 0.5, 1% labels)",
        "... and more with fewer labels (gain at 1% - gain at 10%)",
        "self-distillation without labels keeps the teacher's accuracy (student - teacher, 10%)",
        "distilling into the base width beats fine-tuning it directly (10%)",
        "adding labels to distillation changes little (with - without, same size, 10%)"]
    assert not any("budget" in r for r in rows)
    # on the test set, the best of layers 0-2 of the 3-layer head (layer 2) against the best of 0-1 (layer 1)
    deeper = rows[2]["family"]["deltas"]
    assert [round(d, 6) for d in deeper] == [0.03] * SEEDS


def test_the_deeper_head_row_takes_the_layers_validation_chose():
    acc, dacc, width_acc = grid()
    chosen = {2: per_seed(0.60), 3: per_seed(0.58)}
    rows = claims.simclr_v2_claims(acc, dacc, width_acc, [2, 3], 0.5, best_layer=chosen)
    row = next(r for r in rows if r["claim"].startswith("a deeper head"))
    assert row["claim"] == "a deeper head helps from its best layer on validation (3 vs 2 layers, 1% labels)"
    assert [round(d, 6) for d in row["family"]["deltas"]] == [-0.02] * SEEDS


def rec(val, test, train=None):
    epochs = [{"epoch": 1, "train_top1": train}] if train is not None else []
    return RunRecord(Path(f"/x/{val}-{test}"), Config(), "complete", {}, {"val_top1": val, "test_top1": test}, epochs)


def test_chosen_layers_follow_validation_per_seed_and_depth():
    ft = {(2, 0.5, 0, 0.01): [rec(0.9, 0.1), rec(0.1, 0.2)], (2, 0.5, 1, 0.01): [rec(0.5, 0.8), rec(0.5, 0.7)],
          (3, 0.5, 1, 0.01): [rec(0.5, 0.3), rec(0.5, 0.4)],
          (2, 0.5, 1, 0.1): [rec(1.0, 1.0), rec(1.0, 1.0)],   # another fraction: not a candidate
          (3, 1.0, 1, 0.01): [rec(1.0, 1.0), rec(1.0, 1.0)]}  # another width: not a candidate
    values, choices = claims.simclr_v2_chosen_layers(ft, 0.5, 0.01)
    assert values == {2: [0.1, 0.7], 3: [0.3, 0.4]} and choices == {2: [0, 1], 3: [1, 1]}
    assert "on the test set" in claims.layer_choice_note(0) and "biased" in claims.layer_choice_note(0)
    assert "500 validation images" in claims.layer_choice_note(500) and "biased" not in claims.layer_choice_note(500)


def test_item_6_claims_get_a_row_per_budget_and_one_line_each_in_the_figure():
    short, longer = {0.01: 30, 0.1: 30}, {0.01: 1250, 0.1: 1250}
    acc, dacc, width_acc = grid()
    acc_long, dacc_long, _ = grid(shift=0.1)
    rows = [*claims.simclr_v2_claims(acc, dacc, width_acc, [2, 3], 0.5, steps=short),
            *claims.simclr_v2_longer_claims(acc_long, dacc_long, 0.5, longer)]
    texts = [r["claim"] for r in rows]
    for n in ("30 steps", "1,250 steps"):
        assert f"fine-tuning from head layer 1 beats from h (3-layer head, 1% labels, {n})" in texts
        assert f"distilling into the base width beats fine-tuning it directly (10%, {n})" in texts
        assert f"self-distillation without labels keeps the teacher's accuracy (student - teacher, 10%, {n})" in texts
    assert sum("adding labels" in t for t in texts) == 1  # not one of item 6's claims: the short budget only
    assert sum("deeper head" in t for t in texts) == 1
    assert len(set(texts)) == len(texts)
    effects = claims.budget_effects(rows)
    assert set(effects) == {"head layer 1 - h, 1% labels", "head layer 1 - h, 10% labels",
                            "self-distilled student - its teacher, 10%", "distilled - fine-tuned base width, 10%"}
    assert all(set(by) == {30, 1250} and all(len(v) == SEEDS for v in by.values()) for by in effects.values())
    assert claims.steps_text(1) == "1 step" and claims.steps_text(1250) == "1,250 steps"


def test_the_page_reports_each_budgets_final_training_accuracy():
    ft = {(3, 0.5, 1, 0.01): [rec(0, 0, 0.5), rec(0, 0, 0.6)]}
    long = {(3, 0.5, 1, 0.01): [rec(0, 0, 1.0), rec(0, 0, 0.98)]}
    fit = {**nb08.final_train_top1(ft, "short", {0.01: 30}), **nb08.final_train_top1(long, "longer", {0.01: 1250})}
    assert fit == {("3-layer head, width 0.5, from layer 1", "short, 1% (30 steps)"): [0.5, 0.6],
                   ("3-layer head, width 0.5, from layer 1", "longer, 1% (1,250 steps)"): [1.0, 0.98]}
    assert nb08.fit_sentence(fit) == ("Final training accuracy of the fine-tuning runs (means over seeds): short, 1% "
                                      "(30 steps): 55.0 to 55.0 %; longer, 1% (1,250 steps): 99.0 to 99.0 %.")


def values(**kw):
    v = {"finetune_lr": 0.05, "finetune_epochs": 10, "finetune_batch_size": 16, "test_size": 0, "seeds": 5,
         "distill_epochs": 5, "distill_batch_size": 64, "width": 0.5, "distill_alpha": 0.0, "v2_train_size": 300,
         "depths": "2,3", "finetune_from": "0,1", "label_fractions": "0.1", "pretrain_epochs": 1,
         "width_multipliers": "2", "distill_fractions": "0.1", "distill_lr": 0.1, "recipe": "",
         "dataset": "sample", "arch": "small_cnn", "batch_size": 128, "monitor_size": 100, "knn_k": 20,
         "device": "cpu", "wandb": "disabled", "runs_dir": "", "crop_sampler": "torchvision"}
    return {**v, **kw}


def test_the_setting_says_where_layers_are_chosen_and_what_recipe_distillation_uses():
    legacy_v = values()
    legacy = nb08.setting_rows(legacy_v, nb08.setup(legacy_v)[1])
    assert legacy["fine-tuning"][1] == ("SGD lr 0.05, no weight decay, 10 epochs, batch 16 (capped), crop + flip; "
                                        "test top-1 on all test images")
    assert legacy["Tables 2-3: distillation"][1] == ("teacher: width 1.0, 3-layer head, fine-tuned from layer 1; "
                                                     "students of width 1.0 and 0.5, 5 epochs on all training images, "
                                                     "batch 64, temperature 1")
    fair_v = values(val_size=100, finetune_long_steps=20, distill_recipe="finetune")
    fair = nb08.setting_rows(fair_v, nb08.setup(fair_v)[1])
    assert "every layer choice per seed on 100 validation images carved from the training images" in fair["fine-tuning"][1]
    assert "two budgets: short 10 steps at 10%; longer 20 steps at 10%" in fair["fine-tuning"][1]
    assert "fine-tuning's recipe (SGD lr 0.05, no weight decay, its batch) for fine-tuning's steps" in \
        fair["Tables 2-3: distillation"][1]
