"""The notebooks' conclusions are computed from their numbers: each sentence that states a result
must flip when the numbers do, and every difference carries its spread and test."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lib.config import Config
from lib.records import RunRecord
from lib.report import conclusions as C

BASE = Config(dataset="imagefolder:data/cifar10-jpeg", train_size=10000, test_size=2000, width=0.5, epochs=30)


def rec(**results) -> RunRecord:
    return RunRecord(Path("runs/x"), BASE, "complete", results=results)


def runs_with(values: dict[str, list[float]], prefix: str = "h/") -> dict[str, list[RunRecord]]:
    """method -> one record per seed whose every battery score is the given value."""
    scores = ("knn_top1", "linear_probe_top1", "recall@1", "map@r", "nmi")
    return {m: [rec(**{f"{prefix}{s}": v for s in scores}) for v in vs] for m, vs in values.items()}


def test_paired_differences_are_tested_in_both_directions():
    assert C.paired([0.6, 0.61, 0.62], [0.5, 0.5, 0.51])[3] == "higher"
    assert C.paired([0.5, 0.5, 0.51], [0.6, 0.61, 0.62])[3] == "lower"
    assert C.paired([0.6, 0.5, 0.55], [0.55, 0.56, 0.54])[3] == "no significant difference"
    assert C.paired([0.6], [0.5])[3] == "one seed: no test"
    # two-sided at 5 %: with 5 seeds (4 degrees of freedom) the critical t is 2.776; two one-sided tests at
    # 5 % (one test at 10 %) would call anything past 2.132
    def deltas(t: float) -> list[float]:  # mean 1, sample std chosen so that mean / (std / sqrt 5) = t
        c = math.sqrt(5) / (t * math.sqrt(2.5))
        return [1 + c * x for x in (-2, -1, 0, 1, 2)]

    zeros = [0.0] * 5
    for t, word in ((2.5, "no significant difference"), (2.7, "no significant difference"), (2.85, "higher")):
        assert C.paired(deltas(t), zeros)[3] == word
        assert C.paired(zeros, deltas(t))[3] == word.replace("higher", "lower")
    assert C.difference(deltas(2.776), zeros).endswith("p = 0.05)")  # the t table's two-sided 5 % point
    text = C.difference([0.6, 0.61, 0.62], [0.5, 0.5, 0.51])
    assert text.startswith("+10.7 ± 0.6 points (higher, p = ") and C.difference([], []) == "– (no result)"
    assert C.pct([0.5, 0.52]) == "51.0 ± 1.4 %" and C.pct([0.5]) == "50.0 %"


def test_pages_name_the_jpeg_copy():
    assert C.data_label("imagefolder:data/cifar10-jpeg") == "CIFAR-10, JPEG q75 copy"
    assert C.data_label("imagefolder:/elsewhere/cifar10-jpeg/") == "CIFAR-10, JPEG q75 copy"
    assert C.data_label("cifar10") == "CIFAR-10" and C.data_label("imagefolder:my/pets") == "image folder pets"
    assert C.setting(BASE, 3) == "CIFAR-10, JPEG q75 copy (10,000 training and 2,000 test images; small_cnn ×0.5, 30 epochs; 3 seeds)"
    assert "(all images; small_cnn ×0.5, 1 epoch; 1 seed)" in C.setting(BASE.replace(train_size=0, test_size=0, epochs=1), 1)


def test_supervised_conclusion_follows_the_numbers():
    metric_wins = C.supervised(runs_with({"cross-entropy": [0.50, 0.51, 0.50], "SupCon": [0.60, 0.62, 0.61],
                                          "triplet": [0.50, 0.52, 0.49]}), BASE, 3)
    assert "best distance by MAP@R is **SupCon** (61.0 ± 1.0 %)" in metric_wins
    assert "shaping distances directly pays for retrieval here: SupCon beat" in metric_wins
    ce_wins = C.supervised(runs_with({"cross-entropy": [0.60, 0.61, 0.62], "SupCon": [0.50, 0.51, 0.50],
                                      "triplet": [0.55, 0.54, 0.55]}), BASE, 3)
    assert "**cross-entropy**" in ce_wins and "do *not* pay" in ce_wins
    tie = C.supervised(runs_with({"cross-entropy": [0.60, 0.50, 0.55], "SupCon": [0.55, 0.56, 0.54],
                                  "triplet": [0.56, 0.52, 0.57]}), BASE, 3)
    assert "no metric loss beats cross-entropy on MAP@R by more than its seed-to-seed spread" in tie


def test_supervised_conclusion_compares_the_losses_within_each_view_set():
    """view_sets="both" (#24 item 2, 01): SupCon beats cross-entropy on crop+flip but not on SimCLR's views; the
    Answer says each within its view set, never across them, then the views' effect on each loss."""
    both = C.supervised(runs_with({
        "cross-entropy (crop+flip)": [0.50, 0.51, 0.50], "SupCon (crop+flip)": [0.60, 0.62, 0.61],
        "triplet (crop+flip)": [0.50, 0.52, 0.49],
        "cross-entropy (SimCLR views)": [0.60, 0.61, 0.62], "SupCon (SimCLR views)": [0.50, 0.51, 0.50],
        "triplet (SimCLR views)": [0.55, 0.54, 0.55]}), BASE, 3)
    crop, simclr = both.split("**On crop+flip**")[1].split("**On SimCLR views**")
    assert "SupCon (crop+flip) - cross-entropy (crop+flip)" in crop and "SimCLR views) -" not in crop
    assert "pays for retrieval here on crop+flip: SupCon (crop+flip) beat" in crop
    assert "So at this scale on SimCLR views the losses" in simclr  # each verdict names its views (the brief quotes both)
    assert "SupCon (SimCLR views) - cross-entropy (SimCLR views)" in simclr and "do *not* pay" in simclr
    assert "The views' effect on each loss (SimCLR's views minus crop+flip, paired by seed), MAP@R: cross-entropy +10.7" \
        in simclr and "SupCon -10.7" in simclr


SCORES = ("knn_top1", "linear_probe_top1", "recall@1", "map@r", "nmi")


def hz(h: float, z: float) -> RunRecord:
    return rec(**{f"h/{s}": h for s in SCORES}, **{f"z/{s}": z for s in SCORES})


def test_simclr_conclusion_compares_with_01_and_h_with_z():
    h_better = [hz(v, v - 0.05) for v in (0.45, 0.46, 0.47)]
    sup = runs_with({"cross-entropy": [0.60, 0.60, 0.60]})
    text = C.simclr(h_better, sup, BASE, 3)
    assert "recovers 77% of the supervised kNN accuracy" in text and "as SimCLR (Sec. 4.2) found" in text
    z_better = [hz(v - 0.05, v) for v in (0.45, 0.46, 0.48)]
    assert "the opposite of SimCLR's Sec. 4.2" in C.simclr(z_better, {}, BASE, 3)
    assert "no supervised reference" in C.simclr(z_better, {}, BASE, 3)



def test_simclr_h_against_z_mixed_and_tied_read_as_sentences():
    """A mixed result once read "So h is better on linear probe, Recall@1 and z on kNN, MAP@R, NMI; the other
    differences are within the seeds' spread" with no other difference left."""
    def mixed(h_up: set[str]) -> list[RunRecord]:
        return [rec(**{f"h/{s}": v + (0.05 if s in h_up else -0.05) for s in SCORES}, **{f"z/{s}": v for s in SCORES})
                for v in (0.45, 0.46, 0.48)]

    text = C.simclr(mixed({"linear_probe_top1", "recall@1"}), {}, BASE, 3)
    assert "So h is better on linear probe and Recall@1, z on kNN, MAP@R and NMI (5% paired t-test): a mixed result" \
        in text, text
    tied = [rec(**{f"h/{s}": v for s in SCORES}, **{f"z/{s}": w for s in SCORES})
            for v, w in ((0.45, 0.46), (0.46, 0.45), (0.47, 0.47))]
    assert "So h and z differ on no score by more than the seeds' spread" in C.simclr(tied, {}, BASE, 3)


def test_simclr_v2_conclusion_says_where_pretraining_pays():
    def acc(ft, scratch):
        out = {}
        for f in (0.01, 0.1):
            out[("fine-tuned from head layer 1", f)] = ft
            out[("fine-tuned from encoder h", f)] = [v - 0.01 for v in ft]
            out[("from scratch, same steps", f)] = scratch
            out[("from scratch, longer", f)] = scratch
            out[("distilled, same size", f)] = ft
        return out
    n = {0.01: 100, 0.1: 1000}
    lifts = C.simclr_v2(acc([0.40, 0.41, 0.42], [0.30, 0.31, 0.30]), n, BASE, 3, [0.5, 0.5, 0.5])
    assert "beats even the longer from-scratch training at 1% and 10% labels" in lifts
    assert "**1% labels (100 images):**" in lifts and "minus its teacher: +0.0 ± 0.0 points" in lifts
    none = C.simclr_v2(acc([0.30, 0.31, 0.30], [0.40, 0.41, 0.42]), n, BASE, 3, [0.5, 0.5, 0.5])
    assert "does not beat the longer from-scratch training at any fraction here; it falls below it" in none


def test_claims_conclusion_counts_the_verdicts():
    rows = [{"claim": "a", "source": "s", "verdict": "agrees", "ours (points)": "+1.0 ± 0.2", "seeds": 3,
             "paper (points)": 2.0, "p (one-sided)": 0.01},
            {"claim": "b", "source": "s", "verdict": "inconclusive (1 seed: no test)", "ours (points)": "+1.0",
             "seeds": 1, "paper (points)": "+", "p (one-sided)": float("nan")},
            {"claim": "c", "source": "s", "verdict": "opposite", "ours (points)": "-3.0 ± 0.2", "seeds": 3,
             "paper (points)": 2.0, "p (one-sided)": 0.99}]
    text = C.claims(rows, "CIFAR-10", ["extra line"])
    assert "Of the 3 claims tested on CIFAR-10: 1 agrees, 1 inconclusive, 1 opposite." in text
    assert "- a (s): **agrees**; ours +1.0 ± 0.2 points over 3 seeds, paper 2.0, p = 0.01" in text
    assert "extra line" in text and "Benjamini-Hochberg" in text and "TOST" in text  # the family rule, quoted
    family = C.claims(rows, "CIFAR-10", [], family="q: Benjamini-Hochberg over the family of 7 tests.")
    assert "q: Benjamini-Hochberg over the family of 7 tests." in family
    assert "one seed" not in text  # 3-seed claims among them: the rule sentence speaks of this page's seeds
    one = C.claims(rows[1:2], "the sample", [])
    assert "With one seed there is no test, so every verdict here is inconclusive." in one
    two = C.claims(rows[:1] * 2 + rows[2:], "CIFAR-10", [])
    assert "Of the 3 claims tested on CIFAR-10: 2 agree, 1 opposite." in two
    assert C.verdict_tally(["opposite", "agrees", "inconclusive (1 seed: no test)", "agrees", "not run at this profile"]) \
        == "2 agree, 1 inconclusive, 1 opposite, 1 not run at this profile"


def test_claims_conclusion_shows_the_interval_p_and_q():
    row = {"claim": "a", "source": "s", "verdict": "inconclusive", "ours (points)": "+1.0 ± 0.2", "seeds": 3,
           "paper (points)": 2.0, "95 % CI (points)": "+0.5 to +1.5", "p": 0.012, "q": 0.061}
    assert "ours +1.0 ± 0.2 points over 3 seeds (95 % CI +0.5 to +1.5), paper 2.0, p = 0.012, q = 0.061" \
        in C.claims([row], "CIFAR-10")


@pytest.mark.parametrize("pixels,left", [(0.05, "much"), (0.9, "little")])
def test_data_and_views_says_how_much_of_the_pretext_task_pixels_leave(pixels, left):
    """#24 item 7: pixel matching that finds 5 % of the partners leaves *much* of the task to the network
    (the condition was inverted: it said "leaves little")."""
    text = C.data_and_views("cifar10", 50000, 10000, 3, 32, {"identity": 1.0, "crop": 0.4, "x": pixels}, "x", 256)
    assert f"So pixel matching leaves {left} of the pretext task to be solved" in text


@pytest.mark.parametrize("channels,word", [(3, "three channels"), (1, "brightness and contrast")])
def test_data_and_views_conclusion(channels, word):
    text = C.data_and_views("cifar10", 50000, 10000, channels, 32, {"identity": 1.0, "crop": 0.4, "x": 0.05}, "x", 256)
    assert "for 100% of views without augmentation, 40% with random crops alone and 5.0% with SimCLR's" in text
    assert word in text


def test_one_seed_conclusions_claim_no_direction():
    one = C.supervised(runs_with({"cross-entropy": [0.5], "SupCon": [0.6], "triplet": [0.4]}), BASE, 1)
    assert C.ONE_SEED in one and "pays" not in one
    assert C.ONE_SEED in C.simclr([hz(0.5, 0.4)], {}, BASE, 1)


def test_verdict_lines_speak_of_one_seed_only_on_a_one_seed_page():
    """#25 item 3: the printed rule said "as every verdict is with one seed" on 3-seed pages too."""
    from lib.report import claims

    row = {"claim": "a", "verdict": "agrees", "ours (points)": "+1.0 ± 0.2", "paper (points)": 2.0, "seeds": 3}
    assert "one seed" not in claims.verdict_lines([row])
    assert "with one seed there is no test" in claims.verdict_lines([dict(row, seeds=1)])


def test_simclr_v2_at_a_tuned_profile_compares_students_with_their_own_teachers():
    acc = {("fine-tuned from head layer 1", 0.1): [0.50, 0.52], ("fine-tuned from encoder h", 0.1): [0.4, 0.4],
           ("from scratch, same steps", 0.1): [0.3, 0.3], ("from scratch, longer", 0.1): [0.3, 0.3],
           ("distilled, same size", 0.1): [0.45, 0.46]}
    base = BASE.replace(val_size=500)
    untuned = C.simclr_v2(acc, {0.1: 1000}, base, 2, [0.6, 0.6])
    assert "minus its teacher: -5.5 ± 0.7 points" in untuned and "validation" not in untuned
    tuned = C.simclr_v2(acc, {0.1: 1000}, base, 2, [0.6, 0.6], teachers={0.1: [0.40, 0.41]})
    assert "minus its teacher: +5.0 ± 0.0 points" in tuned  # the teachers' runs, not the chosen fine-tuning runs
    assert "validation images chose from the same grid (500 images carved from the training images)" in tuned


def test_simclr_v2_recipe_and_baseline_say_what_separates_the_arms():
    assert "without weight decay" in C.simclr_v2_recipe((), 0.05, 0)
    text = C.simclr_v2_recipe(((0.05, 0.0), (0.05, 5e-4), (0.2, 0.0), (0.2, 5e-4)), 0.05, 500)
    assert "rates 0.05, 0.2 x weight decays 0, 0.0005 (4 points)" in text and "500 validation images" in text
    assert "teachers (section 3) are not chosen" in text and "rate 0.05 and the grid's smallest weight decay, 0," in text
    assert "mixes pretraining with the weight decay" in C.simclr_v2_baseline_note(False)
    assert "differ only in their starting weights" in C.simclr_v2_baseline_note(True)
    assert "differ only" not in C.simclr_v2_baseline_note(False)  # untuned, the weight decay differs too
    chosen = C.simclr_v2_choices({"from h, 1% labels": [(0.05, 0.0), (0.2, 5e-4), (0.05, 0.0)]})
    assert "- **from h, 1% labels:** rate 0.05, weight decay 0 (2 seeds), rate 0.2, weight decay 0.0005 (1 seed)" in chosen
