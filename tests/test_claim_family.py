"""#24 item 5: claim rows carry p, the 95 % interval and (for claims of no change) a TOST p; the verdict
comes from Benjamini-Hochberg over the profile's whole family of claims, which the manifests store."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from lib.report import claims, tables
from lib.report.statistics import (EQUIVALENCE_MARGIN, FAMILY_VERDICT_RULE, apply_family, claim_row, stored_claim,
                                   stored_row, tost_p)

STRONG = [0.030, 0.020, 0.025, 0.028, 0.022]  # +2.5 points, clearly positive
WEAK = [0.010, 0.030, 0.005, 0.020, 0.012, 0.000]  # p ≈ 0.01 alone


def test_claim_row_carries_p_interval_and_its_test():
    row = claim_row("bigger is better", "Paper Table 1", STRONG, paper=3.0)
    mean, se = np.mean(STRONG), stats.sem(STRONG)
    lo, hi = stats.t.interval(0.95, len(STRONG) - 1, loc=mean, scale=se)
    assert row["95 % CI (points)"] == f"{100 * lo:+.1f} to {100 * hi:+.1f}"
    assert row["p"] == pytest.approx(stats.ttest_1samp(STRONG, 0).pvalue)  # two-sided: one test per claim
    assert row["test"] == "paired t, two-sided" and row["verdict"] == "agrees"
    assert set(tables.CLAIM_COLUMNS) <= set(row)


def test_equivalence_claims_get_tost_with_the_stated_margin():
    same = [0.001, -0.002, 0.0005, 0.0, 0.001]
    row = claim_row("adding labels changes little", "Paper Table 2", same, paper=0.3, equivalence=True)
    assert row["test"] == "TOST ±1 point" and row["family"]["margin"] == EQUIVALENCE_MARGIN
    assert row["p"] == pytest.approx(tost_p(same)) and row["verdict"] == "equivalent"
    # a direction test of the same numbers would call it inconclusive: the kind of test matters
    assert claim_row("x", "s", same, expected_sign=1)["verdict"] == "inconclusive"
    far = claim_row("keeps the accuracy", "s", [0.03, 0.05, 0.04, 0.02, 0.06], paper=1.7, equivalence=True)
    assert far["verdict"] == "not shown equivalent"
    wide = claim_row("keeps the accuracy", "s", [0.03, 0.05, 0.04, 0.02, 0.06], equivalence=True, margin=0.1)
    assert wide["test"] == "TOST ±10 points" and wide["verdict"] == "equivalent"


def test_one_two_sided_test_per_claim_decides_agrees_and_opposite_by_our_sign():
    """The same two-sided p and q whichever sign the paper expects; the verdict takes the direction from ours."""
    agrees, opposite = (claim_row("bigger is better", "s", STRONG, expected_sign=s) for s in (1, -1))
    assert agrees["p"] == opposite["p"] < 0.05 and agrees["q"] == opposite["q"]
    assert agrees["verdict"] == "agrees" and opposite["verdict"] == "opposite"


def test_no_verdict_at_the_ceiling_and_the_row_says_why():
    """06's Sobel probe: 99.9 % from h, 99.7 % from z: no room to show what the head removes."""
    row = claim_row("the head removes 'sobel'", "SimCLR Table 3", [0.002, 0.001, 0.003, 0.002, 0.002],
                    expected_sign=1, arm_means=[0.999, 0.997], chance=0.5)
    assert row["verdict"].startswith("no verdict: ceiling/floor (both arms within 1 point of 100 % or of chance")
    assert "99.9 % and 99.7 %" in row["verdict"] and math.isnan(row["q"])
    below = claim_row("x", "s", [0.002, 0.001, 0.003, 0.002, 0.002], expected_sign=1, arm_means=[0.97, 0.95],
                      chance=0.5)
    assert below["verdict"] == "agrees"


def test_the_family_decides_the_verdict():
    """A claim that agrees alone is inconclusive among many null claims (q, not p, at 5 %)."""
    rng = np.random.default_rng(0)
    weak = claim_row("weak", "s", WEAK, expected_sign=1)
    assert weak["verdict"] == "agrees" and weak["p"] < 0.05
    nulls = [claim_row(f"null {i}", "s", rng.normal(0, 0.01, 6).tolist(), expected_sign=1) for i in range(20)]
    judged = apply_family([weak, *nulls])
    assert judged[0]["p"] == weak["p"] and judged[0]["q"] > 0.05 and judged[0]["verdict"] == "inconclusive"


def test_a_stored_claim_round_trips_through_a_manifest(tmp_path):
    row = claim_row("c", "s", [0.02, math.nan, 0.03], paper=2.0)
    path = tables.write_manifest("05_simclr_augmentations", "cifar-cpu", {}, headline={"x": 1.0},
                                 runs_dir=str(tmp_path), claims=claims.stored([row]))
    back = json.loads(path.read_text())["claims"][0]
    assert back == json.loads(json.dumps(stored_claim(row)).replace("NaN", "null"))
    again = stored_row(back)
    assert again["ours (points)"] == row["ours (points)"] and again["verdict"] == row["verdict"]


def _manifest(tmp_path, notebook, rows, profile="cifar-cpu"):
    tables.write_manifest(notebook, profile, {}, headline=claims.verdict_headline(rows), runs_dir=str(tmp_path),
                          claims=claims.stored(rows))


def test_a_page_computes_q_over_the_other_manifests_and_says_so(tmp_path):
    rng = np.random.default_rng(1)
    nulls = [claim_row(f"null {i}", "s", rng.normal(0, 0.01, 6).tolist(), expected_sign=1) for i in range(20)]
    _manifest(tmp_path, "07_batch_temperature", nulls)
    _manifest(tmp_path, "05_simclr_augmentations", [claim_row("other profile", "s", STRONG, paper=1)], "quick")
    mine = [claim_row("weak", "s", WEAK, expected_sign=1)]
    rows, note = claims.page_family(mine, "05_simclr_augmentations", "cifar-cpu", str(tmp_path))
    assert rows[0]["verdict"] == "inconclusive" and rows[0]["q"] > 0.05
    assert "of 21 claims at profile `cifar-cpu`: this page's 1 and 20 stored in the manifests of 07_batch_temperature" \
        in note and "21 tests" in note  # one test per claim
    assert "06_projection_head, 08_simclr_v2_claims store no claims at this profile yet" in note
    alone, note = claims.page_family(mine, "05_simclr_augmentations", "quick", str(tmp_path))
    assert alone[0]["verdict"] == "agrees" and "this page's 1 and 0 stored" in note
    one_seed, note = claims.page_family([claim_row("one seed", "s", [0.02], expected_sign=1)],
                                        "05_simclr_augmentations", "quick", str(tmp_path))
    assert note.startswith("No q: none of the family's 1 claim at profile `quick`") and "(fewer than 2 seeds)" in note


def test_the_summary_and_the_readme_judge_every_manifest_as_one_family(tmp_path):
    rng = np.random.default_rng(2)
    _manifest(tmp_path, "05_simclr_augmentations", [claim_row("weak", "s", WEAK, expected_sign=1)])
    _manifest(tmp_path, "07_batch_temperature",
              [claim_row(f"null {i}", "s", rng.normal(0, 0.01, 6).tolist(), expected_sign=1) for i in range(20)])
    table = tables.related_work_table(tables.read_manifests("cifar-cpu", str(tmp_path)))
    weak = table[table["claim"] == "weak"].iloc[0]
    assert weak["verdict"] == "inconclusive" and weak["p"] == "0.033" and float(weak["q"]) > 0.05
    assert weak["95 % CI (points)"] != "–"
    assert set(table[table["notebook"] == "06_projection_head"]["verdict"]) == {"not run at this profile"}


def test_the_papers_equivalence_claims_are_tested_for_equivalence():
    """08: "keeps the teacher's accuracy" and "changes little" are TOST claims; the others directions."""
    acc = {(d, w, k, f): [0.5 + 0.01 * s for s in range(3)] for d in (2, 3) for w in (0.5, 1.0) for k in (0, 1)
           for f in (0.01, 0.1)}
    dacc = {(name, labels, f): [0.5 + 0.01 * s for s in range(3)] for name in ("same size", "base width")
            for labels in (False, True) for f in (0.01, 0.1)}
    width_acc = {(w, f): [0.5 + 0.01 * s for s in range(3)] for w in (0.5, 1.0) for f in (0.01, 0.1)}
    rows = claims.simclr_v2_claims(acc, dacc, width_acc, [2, 3], 0.5)
    tost = {r["claim"] for r in rows if r["test"].startswith("TOST")}
    assert tost and all("keeps the teacher's accuracy" in c or "changes little" in c for c in tost)
    assert len(tost) == len([r for r in rows if "keeps" in r["claim"] or "changes little" in r["claim"]])


def test_table3_attribution_names_the_row_that_reports_each_transformation():
    """06: SimCLR Table 3 has rows for rotation, colour vs grayscale and Sobel, none for colour jitter."""
    per_seed = [{"h": 0.9, "z": 0.6, "chance": 0.5}, {"h": 0.92, "z": 0.61, "chance": 0.5}]
    lp = {"nonlinear, 64": [0.5, 0.5], "linear, 64": [0.4, 0.4], "none": [0.3, 0.3]}
    tp = {("nonlinear, 64", t): per_seed for t in ("rotate", "color", "gray", "sobel")}
    rows = {r["claim"].split("'")[1]: r for r in claims.head_claims(lp, lp, tp, 64, ["rotate", "color", "gray", "sobel"])
            if r["claim"].startswith("the head removes")}
    assert rows["color"]["source"].startswith("not in the paper") and rows["color"]["paper (points)"] == "+"
    assert rows["gray"]["source"] == "SimCLR Table 3 ('color vs grayscale')"
    assert rows["rotate"]["source"] == "SimCLR Table 3 ('rotation')"
    assert rows["sobel"]["source"] == "SimCLR Table 3 ('orig. vs Sobel')"


def _notebook_text(stem: str, kind: str = "markdown") -> str:
    from lib.config import repo_path

    cells = json.loads((repo_path("notebooks") / f"{stem}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)


def _groups(profile: str, stem: str):
    from lib.config import repo_path
    from lib.report import plans, runner

    [(_, declared, values)] = runner.plan(repo_path("notebooks"), profile, [stem[:2]])
    return plans.notebook_groups(stem, {**{n: p.value for n, p in declared.items()}, **values})


def test_03_names_what_differs_besides_the_starting_weights():
    """#24 items 2 and 7: fine-tuning and the from-scratch baseline choose from the same grid of weight decays
    (on the validation split), so only the starting weights and the choices made on validation differ; an
    untuned setting (empty grid: fine-tuning at weight decay 0, the baseline at 5e-4) may not say "only the
    starting weights differ", and its sentence names the two weight decays."""
    g = _groups("cifar-cpu", "03_simclr_v2")
    tuned = {c.weight_decay for cs in g["fine-tuning"].values() for c in cs}
    scratch = {c.weight_decay for cs in g["from scratch"].values() for c in cs}
    text = _notebook_text("03_simclr_v2")
    assert tuned == scratch == {0.0, 5e-4}
    assert "only the starting weights differ" not in text
    assert "simclr_v2_baseline_note(bool(it.grid))" in _notebook_text("03_simclr_v2", "code")
    from lib.report import conclusions  # the page's sentence where the notebook runs untuned (no grid)
    note = conclusions.simclr_v2_baseline_note(False)
    assert "weight decay 0" in note and "5e-4" in note and "differ only" not in note


def test_07_says_which_temperature_and_scaling_rows_are_runs_of_the_grid():
    """#24 item 7: the linear-scaling rows at cifar-cpu (lr_rule="recipe", the grid's optimiser) are the grid's
    own runs, the temperature rows are not (batch 256, which the grid does not have). The page computes which
    (claims.grid_overlap), instead of saying it."""
    from lib.report import claims

    g = _groups("cifar-cpu", "07_batch_temperature")
    grid = {c.identity()["batch_size"] for cs in g["batch x epochs"].values() for c in cs}
    temps = {c.batch_size for cs in g["temperature"].values() for c in cs}
    assert temps == {256} and not temps & grid
    others = {k: g[k] for k in ("temperature", "learning-rate scaling")}
    assert claims.grid_overlap(g["batch x epochs"], others) == [
        ("learning-rate scaling", ("linear", 128), (128, 10)), ("learning-rate scaling", ("linear", 512), (512, 10))]
    text = _notebook_text("07_batch_temperature")
    assert "linear-scaling rows are runs of the grid" not in text and "none of them is a run of the grid" not in text
    assert "a line under the grid says which rows are runs of the grid as well" in text
    assert "claims.grid_overlap(grid_configs" in _notebook_code("07_batch_temperature")


def _notebook_code(stem: str) -> str:
    from lib.config import repo_path

    cells = json.loads((repo_path("notebooks") / f"{stem}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_08_says_the_best_layer_selection_favours_the_deeper_head():
    text = _notebook_text("08_simclr_v2_claims")
    assert "flatters every depth alike" not in text
    assert "claims.layer_choice_note(val_size)" in _notebook_text("08_simclr_v2_claims", "code")
    assert "favours the deeper head" in claims.layer_choice_note(0)  # without a validation split: on the test set


def test_the_rule_quoted_on_every_page_holds_at_every_profile():
    """The rule is quoted on the cifar-cpu pages too: it may not speak of "one seed" (tests/test_profile_text.py)."""
    from tests.test_profile_text import other_profiles_text

    assert other_profiles_text(FAMILY_VERDICT_RULE) == []
