"""Every notebook's conclusion, written from the numbers of the run that renders it.

Each function takes the per-seed results a notebook computed and returns its **Answer** paragraph
as Markdown: the answer, the numbers with their spread over seeds, and for every comparison the
paired difference per seed with a two-sided paired t-test at :data:`~lib.report.tables.ALPHA`; the
claims of 05-08 follow :data:`~lib.report.statistics.FAMILY_VERDICT_RULE`. Nothing is asserted in
advance: a sentence that depends on a result is chosen by the result, so the text stays true at
every profile. :func:`show` renders it in a notebook (as Markdown in Jupyter, as text elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..config import Config
from ..data import data_label  # noqa: F401 (the notebooks call conclusions.data_label)
from ..evaluation import SHORT_NAMES
from ..records import RunRecord
from .manifests import reported
from .statistics import (ALPHA, FAMILY_VERDICT_RULE, mean_std, plural, result_values, two_sided_p,  # noqa: F401
                         verdict_tally)

SCORES = SHORT_NAMES  # the scores' names in sentences (lib.evaluation.METRIC_NAMES)

# Image folders whose origin the pages must name (the folder's name -> what it holds)


def show(markdown: str) -> None:
    """Render ``markdown`` as a notebook output: Markdown in a Jupyter kernel, plain text elsewhere
    (the plain engine, a terminal)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(markdown)
        return
    if get_ipython() is None:
        print(markdown)
    else:
        display(Markdown(markdown))


def setting(config: Config, seeds: int, epochs: int | None = None) -> str:
    """The data, sizes, encoder, length and seeds of a notebook's runs, as one phrase."""
    sizes = " and ".join(f"{n:,} {what}" for n, what in ((config.train_size, "training"), (config.test_size, "test"))
                         if n) or "all"
    epochs = config.epochs if epochs is None else epochs
    return (f"{data_label(config.dataset)} ({sizes} images; {config.arch} ×{config.width:g}, {plural(epochs, 'epoch')}; "
            f"{plural(seeds, 'seed')})")


def listed(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


ONE_SEED = ("With one seed no difference can be tested: the signs above are those of single runs, which the next seed "
            "may flip (the `cifar-cpu` and `full` profiles run several seeds, paired by seed).")


# ---- numbers as text -----------------------------------------------------------------------------

def pct(values: Sequence[float]) -> str:
    """``"48.9 ± 0.7 %"`` over seeds (the mean alone for one seed; "–" for none)."""
    mean, std, n = mean_std(values)
    if not n:
        return "–"
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if n > 1 else "") + " %"


def paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, int, str]:
    """``a - b`` paired by seed: (mean, std, seeds, word), the word from a two-sided paired t-test at
    :data:`ALPHA` (the sign of the mean gives the direction): "higher", "lower", "no significant difference"
    or "one seed". Two one-sided tests at 5 % would be one test at 10 %."""
    deltas = [x - y for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    mean, std, n = mean_std(deltas)
    if n < 2:
        return mean, std, n, "one seed: no test"
    if two_sided_p(mean, std, n) < ALPHA:
        return mean, std, n, "higher" if mean > 0 else "lower"
    return mean, std, n, "no significant difference"


def difference(a: Sequence[float], b: Sequence[float]) -> str:
    """``"+1.2 ± 0.8 points (higher, p = 0.03)"``: :func:`paired` as text, with the p of its two-sided
    test."""
    mean, std, n, word = paired(a, b)
    if not n:
        return "– (no result)"
    text = f"{100 * mean:+.1f}" + (f" ± {100 * std:.1f}" if n > 1 else "") + " points"
    if n < 2:
        return f"{text} ({word})"
    return f"{text} ({word}, p = {two_sided_p(mean, std, n):.2g})"


def _significant(a: Sequence[float], b: Sequence[float]) -> str:
    return paired(a, b)[3]


def _per_seed(runs: Mapping[str, Sequence[RunRecord]], key: str) -> dict[str, list[float]]:
    return {name: result_values(recs, key) for name, recs in runs.items()}


def _best(values: Mapping[str, Sequence[float]]) -> str:
    return max(values, key=lambda k: mean_std(values[k])[0] if mean_std(values[k])[2] else -math.inf)


# ---- 00: data and views --------------------------------------------------------------------------

def data_and_views(dataset: str, n_train: int, n_test: int, channels: int, size: int,
                   pixel_top1: Mapping[str, float], pipeline: str, batch: int) -> str:
    """Notebook 00: how much of SimCLR's pretext task pixel matching solves, on this data."""
    identity, crop, simclr = pixel_top1["identity"], pixel_top1["crop"], pixel_top1[pipeline]
    chance = 1 / (2 * batch - 1)
    colour = ("colour distortion acts on three channels, so hue and saturation are part of what the views vary"
              if channels == 3 else "with one channel, colour distortion reduces to brightness and contrast and "
              "random grayscale does nothing")
    left = "much" if simclr < 0.5 else "little"  # pixels solve little of the task: much is left to learn
    return (f"**Answer.** On {data_label(dataset)} ({n_train:,} training and {n_test:,} test images, {channels} "
            f"channel{'s' if channels > 1 else ''} of {size} px), matching views by raw pixels finds an image's partner "
            f"in a batch of {batch} for {identity:.0%} of views without augmentation, {crop:.0%} with random crops alone "
            f"and {simclr:.1%} with SimCLR's pipeline (chance {chance:.2%}). So pixel matching leaves {left} of the "
            f"pretext task to be solved: the remaining {1 - simclr:.0%} of views is what the network must learn to match. "
            f"Here {colour}.")


# ---- 01: supervised metric learning -----------------------------------------------------------------

def supervised(runs: Mapping[str, Sequence[RunRecord]], base: Config, seeds: int, reference: str = "cross-entropy",
               prefix: str = "h") -> str:
    """Notebook 01: which supervised loss gives the best distance, and do the metric losses beat
    cross-entropy? ``runs``: method -> one record per seed (the same seeds for every method)."""
    scores = ("knn_top1", "linear_probe_top1", "recall@1", "map@r", "nmi")
    values = {m: _per_seed(runs, f"{prefix}/{m}") for m in scores}
    best = {m: _best(values[m]) for m in scores}
    lines = [f"**Answer.** On {setting(base, seeds)}, the best distance by MAP@R is **{best['map@r']}** "
             f"({pct(values['map@r'][best['map@r']])}), by Recall@1 {best['recall@1']} "
             f"({pct(values['recall@1'][best['recall@1']])}) and by kNN accuracy {best['knn_top1']} "
             f"({pct(values['knn_top1'][best['knn_top1']])}). On h, mean ± std over seeds:", ""]
    for name in runs:
        lines.append(f"- {name}: " + ", ".join(f"{SCORES[m]} {pct(values[m][name])}" for m in scores))
    view_sets = view_sets_of(runs)
    if view_sets:  # view_sets="both": each loss against the reference on the same views, then the views' effect
        for views, within in within_view_sets(runs).items():
            lines += ["", f"**On {views}** (every loss on these views):"]
            lines += _against_reference(within, values, f"{reference} ({views})", seeds, scope=views)
        lines += ["", "The views' effect on each loss (SimCLR's views minus crop+flip, paired by seed), MAP@R: " + "; ".join(
            f"{loss} {difference(values['map@r'][f'{loss} ({view_sets[-1]})'], values['map@r'][f'{loss} ({view_sets[0]})'])}"
            for loss in _losses(runs, view_sets)) + "."]
        return "\n".join(lines)
    lines += _against_reference(runs, values, reference, seeds)
    return "\n".join(lines)


def view_sets_of(runs: Mapping[str, Sequence[RunRecord]]) -> list[str]:
    """01's view sets at view_sets="both" (``"<loss> (<view set>)"`` names), crop+flip first; [] otherwise."""
    found = {n.rsplit(" (", 1)[1].rstrip(")") for n in runs if n.endswith(")") and " (" in n}
    return sorted(found, key=lambda v: (v != "crop+flip", v)) if len(found) > 1 else []


def within_view_sets(runs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """01's runs by view set (:func:`view_sets_of`, in its order), each ``{"<loss> (<view set>)": runs}``; one
    scope ``""`` holding every run where each loss ran on its own views."""
    sets = view_sets_of(runs)
    return {v: {n: r for n, r in runs.items() if n.endswith(f" ({v})")} for v in sets} if sets else {"": dict(runs)}


def _losses(runs: Mapping[str, Sequence[RunRecord]], view_sets: Sequence[str]) -> list[str]:
    """The losses run on every view set, in ``runs``' order."""
    losses = dict.fromkeys(n.rsplit(" (", 1)[0] for n in runs)
    return [loss for loss in losses if all(f"{loss} ({v})" in runs for v in view_sets)]


def _against_reference(runs: Mapping[str, Sequence[RunRecord]], values: Mapping[str, Mapping[str, Sequence[float]]],
                       reference: str, seeds: int, scope: str = "") -> list[str]:
    """The lines comparing every method of ``runs`` with ``reference``, paired by seed, and their verdict
    (naming ``scope``, the view set, where there is one: the brief Answer quotes each verdict alone)."""
    on = f" on {scope}" if scope else ""
    lines: list[str] = []
    others = [n for n in runs if n != reference]
    if reference in runs and others:
        lines += ["", f"Paired by seed against {reference}, which never compares two embeddings during training:", ""]
        for name in others:
            lines.append(f"- {name} - {reference}: " + "; ".join(
                f"{SCORES[m]} {difference(values[m][name], values[m][reference])}" for m in ("map@r", "recall@1", "knn_top1")))
        words = {n: _significant(values["map@r"][n], values["map@r"][reference]) for n in others}
        higher = [n for n, w in words.items() if w == "higher"]
        lower = [n for n, w in words.items() if w == "lower"]
        lines.append("")
        if higher:
            beat = "beats" if len(higher) == 1 else "beat"
            verdict = f"So shaping distances directly pays for retrieval here{on}: {listed(higher)} {beat} {reference} on MAP@R"
        elif len(lower) == len(others):
            verdict = (f"So at this scale{on} the losses that shape distances directly do *not* pay: {reference}'s "
                       f"features are the better metric on MAP@R than every metric loss")
        else:
            verdict = (f"So{on} no metric loss beats {reference} on MAP@R by more than its seed-to-seed spread"
                       + (f"; {listed(lower)} fall{'s' if len(lower) == 1 else ''} below it" if lower else ""))
        lines.append(verdict + f" (paired t-test, {ALPHA:.0%})." if seeds > 1 else ONE_SEED)
    return lines


# ---- 02: SimCLR ---------------------------------------------------------------------------------------

def simclr(runs: Sequence[RunRecord], supervised_runs: Mapping[str, Sequence[RunRecord]], base: Config,
           seeds: int) -> str:
    """Notebook 02: how close SimCLR's h comes to the supervised methods of 01, and h against z."""
    scores = ("knn_top1", "linear_probe_top1", "recall@1", "map@r", "nmi")
    h = {m: result_values(runs, f"h/{m}") for m in scores}
    z = {m: result_values(runs, f"z/{m}") for m in scores}
    lines = [f"**Answer.** On {setting(base, seeds)}, SimCLR's h, learned without a label, scores "
             + ", ".join(f"{SCORES[m]} {pct(h[m])}" for m in scores) + "."]
    if supervised_runs:
        sup = {m: _per_seed(supervised_runs, f"h/{m}") for m in scores}
        lines += ["", "Against the best supervised method of notebook 01 on each score (paired by seed):", ""]
        ratios = {}
        for m in scores:
            best = _best(sup[m])
            ratios[m] = mean_std(h[m])[0] / mean_std(sup[m][best])[0]
            lines.append(f"- {SCORES[m]}: {best} {pct(sup[m][best])}; SimCLR {difference(h[m], sup[m][best])}, "
                         f"{ratios[m]:.0%} of it")
        closest = max(ratios, key=ratios.get)
        farthest = min(ratios, key=ratios.get)
        lines += ["", f"So without labels SimCLR recovers {ratios['knn_top1']:.0%} of the supervised kNN accuracy; "
                      f"the gap is smallest on {SCORES[closest]} ({ratios[closest]:.0%}) and largest on "
                      f"{SCORES[farthest]} ({ratios[farthest]:.0%})."]
    else:
        lines += ["", "Notebook 01 has no manifest at this profile, so there is no supervised reference here."]
    words = {m: _significant(h[m], z[m]) for m in scores}
    better = [SCORES[m] for m, w in words.items() if w == "higher"]
    worse = [SCORES[m] for m, w in words.items() if w == "lower"]
    lines += ["", "h against z (the projection head's output), paired by seed: "
              + "; ".join(f"{SCORES[m]} {difference(h[m], z[m])}" for m in scores) + ".", ""]
    if better and not worse:
        lines.append(f"So h is the better representation on {listed(better)} and no score favours z, as SimCLR "
                     "(Sec. 4.2) found.")
    elif worse and not better:
        lines.append(f"So here z is the better space on {listed(worse)} and no score favours h: the opposite of "
                     "SimCLR's Sec. 4.2 at this scale.")
    elif seeds < 2:
        lines.append(ONE_SEED)
    elif not better and not worse:
        lines.append(f"So h and z differ on no score by more than the seeds' spread ({ALPHA:.0%} paired t-test), where "
                     "SimCLR (Sec. 4.2) found h better than z.")
    else:
        rest = len(scores) - len(better) - len(worse)
        others = ("" if not rest else "; the other difference is within the seeds' spread" if rest == 1
                  else f"; the other {rest} differences are within the seeds' spread")
        lines.append(f"So h is better on {listed(better)}, z on {listed(worse)}{others} ({ALPHA:.0%} paired t-test): "
                     "a mixed result, where SimCLR (Sec. 4.2) found h better than z.")
    return "\n".join(lines)


# ---- 03: SimCLRv2 -----------------------------------------------------------------------------------

def simclr_v2(acc: Mapping[tuple[str, float], Sequence[float]], n_labelled: Mapping[float, int], base: Config,
              seeds: int, all_labels_probe: Sequence[float], *,
              teachers: Mapping[float, Sequence[float]] | None = None) -> str:
    """Notebook 03: what contrastive pretraining buys with few labels. ``acc``: (method, fraction) ->
    test accuracy per seed, methods named as the notebook names them.

    ``teachers``: the distillation teachers' test accuracy per fraction, when they are not the
    "fine-tuned from head layer 1" runs of ``acc`` (a tuned profile: those are the runs validation chose,
    the teachers the runs at the fixed rate and smallest weight decay); None: they are those runs."""
    ft, ft_h = "fine-tuned from head layer 1", "fine-tuned from encoder h"
    tuned = ("Fine-tuning and training from scratch each take, per seed, the rate and weight decay that their "
             f"validation images chose from the same grid ({plural(base.val_size, 'image')} carved from the training "
             "images); the students are compared with their own teachers (fixed rate, the grid's smallest weight "
             "decay). " if teachers is not None else "")
    lines = [f"**Answer.** Pretrained on {setting(base, seeds)}, the encoder's h reaches {pct(all_labels_probe)} with a "
             f"linear probe on every label. {tuned}Given only a fraction of the labels:", ""]
    summary = []
    for f in sorted(n_labelled):
        at = {m: v for (m, g), v in acc.items() if g == f}
        best = _best(at)
        lines.append(f"- **{f:.0%} labels ({n_labelled[f]:,} images):** best is {best} ({pct(at[best])}). "
                     f"Fine-tuning from head layer 1 ({pct(at[ft])}) minus from scratch with the same steps: "
                     f"{difference(at[ft], at['from scratch, same steps'])}; minus from scratch for longer: "
                     f"{difference(at[ft], at['from scratch, longer'])}; head layer 1 minus h: "
                     f"{difference(at[ft], at[ft_h])}."
                     + "".join(f" Distilled, {m[len('distilled, '):]}, minus its teacher: "
                               f"{difference(at[m], at[ft] if teachers is None else teachers[f])}."
                               for m in at if m.startswith("distilled, ")))
        summary.append((f, _significant(at[ft], at["from scratch, longer"]), _significant(at[ft], at[ft_h])))
    lifts = [f"{f:.0%}" for f, w, _ in summary if w == "higher"]
    losses = [f"{f:.0%}" for f, w, _ in summary if w == "lower"]
    layer = [f"{f:.0%}" for f, _, w in summary if w == "higher"]
    lines += ["", ("So contrastive pretraining beats even the longer from-scratch training at "
                   f"{' and '.join(lifts)} labels" if lifts else
                   "So contrastive pretraining does not beat the longer from-scratch training at any fraction here"
                   + (f"; it falls below it at {' and '.join(losses)} labels" if losses else ""))
              + (f"; fine-tuning from head layer 1 beats fine-tuning from h at {' and '.join(layer)} labels"
                 if layer else "; fine-tuning from head layer 1 is not better than from h at any fraction")
              + f" (paired t-test, {ALPHA:.0%})." if seeds > 1 else ONE_SEED]
    return "\n".join(lines)


# ---- 05-08: the claims of the related work -------------------------------------------------------------

def claims(rows: Sequence[Mapping[str, Any]], what: str, extra: Sequence[str] = (), family: str = "") -> str:
    """Notebooks 05-08: the verdict count, then every claim with our effect beside the paper's, its 95 %
    interval, p and q; ``family``: the sentence saying which claims the q-values were computed over
    (:func:`lib.report.claims.page_family`)."""
    tally = verdict_tally([r["verdict"] for r in rows])
    lines = [f"**Answer.** Of the {len(rows)} claims tested on {what}: {tally}."]
    lines += ["", *[f"- {r['claim']} ({r['source']}): **{r['verdict']}**; ours {r['ours (points)']} points over "
                    f"{r['seeds']} seed{'s' if r['seeds'] != 1 else ''}"
                    + (f" (95 % CI {r['95 % CI (points)']})" if r.get("95 % CI (points)", "–") != "–" else "")
                    + f", paper {r['paper (points)']}" + _p_and_q(r) for r in rows]]
    if extra:
        lines += ["", *extra]
    seeds = {r["seeds"] for r in rows}
    rule = f"The rule: {FAMILY_VERDICT_RULE}."
    if family:
        rule += " " + family
    # the seed count is this page's: "as every verdict is with one seed" only where every claim has one seed
    lines += ["", rule + (" With one seed there is no test, so every verdict here is inconclusive." if seeds == {1}
                          else "")]
    return "\n".join(lines)


def _p_and_q(r: Mapping[str, Any]) -> str:
    """``", p = 0.012, q = 0.04"`` (``p (one-sided)`` in rows written before the family rule)."""
    p, q = r.get("p", r.get("p (one-sided)")), r.get("q")
    text = f", p = {p:.2g}" if isinstance(p, float) and math.isfinite(p) else ""
    return text + (f", q = {q:.2g}" if text and isinstance(q, float) and math.isfinite(q) else "")


# ---- 09: the summary --------------------------------------------------------------------------------

def summary(records: Mapping[str, Mapping[str, Sequence[RunRecord]]], related: Any, profile: str) -> str:
    """Notebook 09: the thesis' answer from 01-03's records and 05-08's verdicts at one profile."""
    lines = [f"**Answer** (profile {profile}):", ""]
    sup, sim = records.get("01_supervised", {}), records.get("02_simclr", {})
    if sup:
        r1 = _per_seed(sup, "h/recall@1")
        best = _best(r1)
        lines.append(f"- **Supervised metric learning (01):** the best Recall@1 on h is {best}'s ({pct(r1[best])}).")
    if sim:
        runs = next(iter(sim.values()))
        h = result_values(runs, "h/recall@1")
        text = f"- **SimCLR without labels (02):** Recall@1 on h {pct(h)}"
        if sup:
            text += f", {mean_std(h)[0] / mean_std(r1[best])[0]:.0%} of the best supervised method's"
        lines.append(text + f"; kNN {pct(result_values(runs, 'h/knn_top1'))}.")
    v2 = reported(records.get("03_simclr_v2", {}))  # a tuning grid's runs stand behind a choice; not methods
    if v2:
        per_fraction: dict[float, dict[str, list[float]]] = {}
        for method, recs in v2.items():
            for r in recs:
                if "test_top1" in r.results:
                    per_fraction.setdefault(r.config.label_fraction, {}).setdefault(method, []).append(
                        float(r.results["test_top1"]))
        for f, at in sorted(per_fraction.items()):
            if f >= 1:
                continue
            best = _best(at)
            scratch = [m for m in at if m.startswith("from scratch")]
            text = f"- **SimCLRv2 with {f:.0%} labels (03):** best {best} ({pct(at[best])})"
            if scratch and best not in scratch:
                s = max(scratch, key=lambda m: mean_std(at[m])[0])
                text += f"; the best from-scratch baseline ({s}) {pct(at[s])}"
            lines.append(text + ".")
    if related is not None and len(related):
        lines.append(f"- **Related work (05-08):** of {len(related)} claims, {verdict_tally(list(related['verdict']))}, "
                     "judged as one family: one test per claim, Benjamini-Hochberg over the family, a verdict only at "
                     f"q < {ALPHA:g} (the rule below).")
    if len(lines) == 2:
        lines.append("- no manifest at this profile: nothing to conclude yet.")
    if related is not None and len(related):
        lines += ["", f"The rule: {FAMILY_VERDICT_RULE}."]
    return "\n".join(lines)


# ---- 07: the arm without l2 normalisation ---------------------------------------------------------------

def no_l2_choice(arm: Any, val_size: int = 0) -> str:
    """07's Answer on the arm without l2 normalisation (:func:`lib.report.claims.no_l2_arm`): which rates the
    validation split chose, and whether the chosen runs trained; a run that did not train leaves its claim
    without a verdict, and the sentence says so."""
    from .selection import TRAINED_GAIN, choice_counts

    if arm.tuned:
        text = (f"Without l2 normalisation ({arm.label.removeprefix('no l2 norm, ')}) each seed's learning rate was "
                f"chosen on the kNN accuracy of the {val_size:,} validation images carved from its training images "
                f"(`{arm.by}`), never on the test set: validation chose "
                f"{choice_counts([f'lr={c:g}' for c in arm.choices])}.")
    else:
        text = (f"Without l2 normalisation ({arm.label.removeprefix('no l2 norm, ')}) the runs train at the recipe's "
                "rate, one per seed (nothing chosen).")
    seeds = [arm.records[s].config.seed for s in arm.untrained]  # the configs' seeds
    if not seeds:
        return text + (f" Every {'chosen ' if arm.tuned else ''}run trained (its monitor's kNN accuracy rose at least "
                       f"{TRAINED_GAIN * 100:g} point over its initialisation).")
    return text + (f" The {'chosen ' if arm.tuned else ''}run{'s' if len(seeds) > 1 else ''} of seed"
                   f"{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} of {len(arm.values)} did not train "
                   f"({'their' if len(seeds) > 1 else 'its'} monitor's kNN accuracy rose less than {TRAINED_GAIN * 100:g} point over its initialisation), so the "
                   f"claim against {arm.label} gives no verdict: an untrained encoder says nothing about l2 normalisation.")


# ---- 03 at a tuned profile (issue #24 item 2): the grid, where it is chosen, what was chosen -----------------

def simclr_v2_recipe(grid: Sequence[tuple[float, float]], finetune_lr: float, val_size: int) -> str:
    """Notebook 03's fine-tuning recipe: SimCLRv2's (``grid`` empty: one rate, no weight decay) or the grid of
    (rate, weight decay) points that fine-tuning and the from-scratch baselines both run, chosen per seed on
    ``val_size`` validation images, and the distillation teachers' fixed point."""
    if not grid:
        return f"Fine-tuning trains with SGD at rate {finetune_lr:g} without weight decay, SimCLRv2's fine-tuning recipe."
    rates = sorted({r for r, _ in grid})
    decays = sorted({d for _, d in grid})
    return (f"Fine-tuning and the from-scratch baselines (section 4) get the same tuning budget: each runs every point "
            f"of one grid, rates {', '.join(f'{r:g}' for r in rates)} x weight decays "
            f"{', '.join(f'{d:g}' for d in decays)} ({plural(len(grid), 'point')}). For each seed and each arm (the "
            f"fine-tuning layer or the from-scratch budget, at one label fraction) the point whose run scores the best "
            f"top-1 on {plural(val_size, 'validation image')} is chosen. Those images are carved, class-balanced, from "
            "the seed's training images and never trained on; the test images play no part in the choice. Every "
            "table, figure and comparison below shows the test accuracy of the chosen runs only. The distillation "
            "teachers (section 3) are not chosen: they are the fine-tuning runs from head layer 1 at rate "
            f"{finetune_lr:g} and the grid's smallest weight decay, {min(decays):g}, fixed before training.")


def simclr_v2_choices(choices: Mapping[str, Sequence[tuple[float, float]]]) -> str:
    """What validation chose per arm (arm label -> the (rate, weight decay) chosen for each seed), a list."""
    from .selection import choice_counts

    return "Chosen on validation:\n\n" + "\n".join(
        f"- **{arm}:** " + choice_counts([f"rate {r:g}, weight decay {d:g}" for r, d in chosen])
        for arm, chosen in choices.items())


def simclr_v2_baseline_note(tuned: bool) -> str:
    """What else than the starting weights separates fine-tuning from the baselines from scratch."""
    if not tuned:
        return ("The starting weights are not the only difference: fine-tuning uses weight decay 0 (SimCLRv2's "
                "fine-tuning recipe) and these baselines 5e-4, and fine-tuning from head layer 1 keeps the pretrained "
                "head's first layer, which a network trained from scratch does not have; so a difference between them "
                "mixes pretraining with the weight decay.")
    return ("Both run the same grid of rates and weight decays with the same choice on validation (section 2), so "
            "fine-tuning and these baselines differ only in their starting weights and in the rate and weight decay "
            "that their validation chose; fine-tuning from head layer 1 also keeps the pretrained head's first layer, "
            "which a network trained from scratch does not have.")
