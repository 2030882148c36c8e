"""The related-work notebooks' claims: per-seed effects set against the papers', one builder per notebook.

Each builder takes the per-seed results a notebook computed (``{setting: [value per seed]}``) and
returns the rows of :func:`lib.report.tables.claim_row`: the claim, its source, the paper's effect,
ours (mean ± std over seeds, 95 % interval) and its test's p. The verdict needs the profile's whole
family of claims (Benjamini-Hochberg, :data:`~lib.report.statistics.FAMILY_VERDICT_RULE`): a page
sets it with :func:`page_family`, stores its claims in its manifest (:func:`stored`), and the summary
notebook and the README apply the rule to every manifest of the profile at once
(:func:`manifest_family`). :func:`verdict_lines` prints the rows and :func:`verdict_headline` gives
the manifest's verdict entries, which the index counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .grids import LR_ANCHOR_BATCH, NORMALIZE_KNOB
from .papers import TABLE3_ROWS, reference
from .statistics import (FAMILY_VERDICT_RULE, apply_family, claim_row, family_input, mean_std, paper_delta,
                         per_seed_best, plural, seed_deltas, stored_claim, stored_row)

Rows = list[dict[str, Any]]
PerSeed = Sequence[float]


def augmentation_claims(acc: Mapping[tuple[str, ...], PerSeed], paper5: Mapping[tuple[str, ...], float],
                        color_acc: Mapping[tuple[str, str], PerSeed], lo: str, hi: str,
                        longer: Mapping[tuple[str, str], PerSeed] | None = None,
                        budgets: Sequence[str] = ("", "")) -> Rows:
    """Notebook 05: SimCLR Figure 5 (compositions of operations) and Table 1 (colour strength).

    Table 1's claim is relative, so it is tested as the interaction (:func:`color_claims`), at each budget:
    ``color_acc`` at the first, ``longer`` (the "colour strength, longer" runs; None: none) at the second;
    ``budgets`` names them in the claims ("": one budget, no name)."""
    singles = [c for c in acc if len(c) == 1]
    pairs = [c for c in acc if len(c) == 2]
    rows = []
    if pairs:
        rows.append(claim_row("composing two operations beats every single one (best pair - best single)",
                              "SimCLR Figure 5", seed_deltas(per_seed_best(acc, pairs), per_seed_best(acc, singles)),
                              paper=max(paper5[c] for c in pairs) - max(paper5[c] for c in singles)))
    if ("crop", "color") in pairs and len(pairs) > 1:
        others = [c for c in pairs if c != ("crop", "color")]
        rows.append(claim_row("crop then colour is the best pair (minus the best other pair)", "SimCLR Figure 5",
                              seed_deltas(acc[("crop", "color")], per_seed_best(acc, others)),
                              paper=paper5[("crop", "color")] - max(paper5[c] for c in others)))
    rows += color_claims(color_acc, lo, hi, budgets[0])
    if longer:
        rows += color_claims(longer, lo, hi, budgets[1])
    return rows


def head_claims(lp: Mapping[str, PerSeed], lpz: Mapping[str, PerSeed],
                tp: Mapping[tuple[str, str], Sequence[Mapping[str, float]]], probe_dim: int,
                transforms: Sequence[str]) -> Rows:
    """Notebook 06: SimCLR Figure 8 (head type), Section 4.2 (h over z) and Table 3 (what z loses).

    ``lp``/``lpz``: the linear probe on h / on z per head setting; ``tp``: the transformation
    probe per (setting, transform), one result per seed."""
    d = probe_dim
    rows = [
        claim_row(f"a nonlinear head beats a linear one (probe on h, output {d})", "SimCLR Figure 8",
                  seed_deltas(lp[f"nonlinear, {d}"], lp[f"linear, {d}"]), paper=3.0),
        claim_row("a nonlinear head beats no head (paper: '>10 %')", "SimCLR Figure 8",
                  seed_deltas(lp[f"nonlinear, {d}"], lp["none"]), paper=10.0),
        claim_row("h is better than z after a nonlinear head (paper: '>10 %')", "SimCLR Sec. 4.2",
                  seed_deltas(lp[f"nonlinear, {d}"], lpz[f"nonlinear, {d}"]), paper=10.0),
    ]
    t3 = reference("simclr.table3").values
    for t in transforms:
        name = TABLE3_ROWS.get(t)  # Table 3's row of this transformation; None: the paper has none
        per_seed = tp[(f"nonlinear, {d}", t)]
        h, z = [r["h"] for r in per_seed], [r["z"] for r in per_seed]
        rows.append(claim_row(f"the head removes '{t}': predicting it from h minus from z",
                              f"SimCLR Table 3 ('{name}')" if name else NOT_IN_PAPER.get(t, "not in the paper"),
                              seed_deltas(h, z), paper=paper_delta(t3, f"{name}: h", f"{name}: z") if name else None,
                              expected_sign=1, arm_means=[mean_std(h)[0], mean_std(z)[0]],
                              chance=mean_std([r["chance"] for r in per_seed])[0]))
    return rows


# transformations we probe that SimCLR's Table 3 has no row for: the source a claim on them names
NOT_IN_PAPER = {"color": "not in the paper (SimCLR Table 3 has no colour-jitter row; its colour row is 'gray')"}


def batch_temperature_claims(bt: Mapping[tuple[int, int], PerSeed], tv: Mapping[str, PerSeed],
                             lv: Mapping[tuple[str, int], PerSeed], steps: Mapping[tuple[int, int], int] | None = None,
                             lr_rule: str = "lars", no_l2: "ChosenArm | None" = None) -> Rows:
    """Notebook 07: SimCLR Figure 9 (batch x epochs), Table 5 (temperature, l2 norm), Appendix B.1
    (learning-rate scaling). ``bt`` by (batch, epochs), ``tv`` by temperature label, ``lv`` by
    (scaling, batch).

    ``steps``: the optimiser steps of each (batch, epochs) cell (:func:`lib.report.grids.optimiser_steps`),
    named in the batch-size claims; the larger batch is compared at equal epochs (the paper's protocol) and at
    about equal steps (the largest batch at the longest length against the smallest at the shortest).
    ``lr_rule``: "recipe" compares the two scaling rules at every batch of ``lv`` (one row each), "lars" at the
    smallest (the runs before issue #24). ``no_l2``: the arm without l2 normalisation (:func:`no_l2_arm`: its
    rate chosen on validation, and whether its chosen runs trained); None: ``tv``'s "no l2 norm, t=10"."""
    batches, lengths = sorted({b for b, _ in bt}), sorted({e for _, e in bt})
    lo, hi, short, long = batches[0], batches[-1], lengths[0], lengths[-1]
    gap_short, gap_long = seed_deltas(bt[(hi, short)], bt[(lo, short)]), seed_deltas(bt[(hi, long)], bt[(lo, long)])
    n = (lambda key: f"{steps[key]:,} steps") if steps else None
    rows = [
        claim_row(f"short training ({short} epochs): larger batch is better at equal epochs (batch {hi} - {lo}"
                  + (f"; {n((hi, short))} vs {n((lo, short))}" if n else "") + ")", "SimCLR Figure 9",
                  gap_short, expected_sign=1),
        claim_row(f"the batch-size gap shrinks with training (|gap| at {short} - |gap| at {long} epochs)",
                  "SimCLR Figure 9", [abs(a) - abs(b) for a, b in zip(gap_short, gap_long)], expected_sign=1),
        claim_row(f"longer training helps (batch {lo}: {long} - {short} epochs)", "SimCLR Figure 9, B.9",
                  seed_deltas(bt[(lo, long)], bt[(lo, short)]), expected_sign=1),
    ]
    if hi > lo and long > short:
        rows.append(claim_row(f"larger batch is better at about equal steps (batch {hi} for {long} epochs"
                              + (f", {n((hi, long))}" if n else "") + f", minus batch {lo} for {short} epochs"
                              + (f", {n((lo, short))}" if n else "") + ")", "SimCLR Figure 9",
                              seed_deltas(bt[(hi, long)], bt[(lo, short)]), expected_sign=1))
    t5 = reference("simclr.table5").values
    for a, b in (("l2 norm, t=0.5", "l2 norm, t=1"), ("l2 norm, t=0.1", "l2 norm, t=1"),
                 ("l2 norm, t=0.5", "no l2 norm, t=10")):
        if no_l2 is not None and b == no_l2.label:
            rows.append(claim_row(f"{a} beats {b}" + (" (its rate chosen on validation)" if no_l2.tuned else ""),
                                  "SimCLR Table 5", seed_deltas(tv[a], no_l2.values) if a in tv else [],
                                  paper=paper_delta(t5, a, b), expected_sign=1, trained=no_l2.trained))
            continue
        pending = b.startswith("no") and b not in tv
        rows.append(claim_row(f"{a} beats {b}" + (f" (pending: needs Config.{NORMALIZE_KNOB})" if pending else ""),
                              "SimCLR Table 5", seed_deltas(tv[a], tv[b]) if a in tv and b in tv else [],
                              paper=paper_delta(t5, a, b), expected_sign=1))
    lr_batches = sorted({b for _, b in lv})
    if lr_rule == "recipe":
        for b in lr_batches:
            rows.append(claim_row(f"square-root beats linear learning-rate scaling at batch {b} (both rules anchored "
                                  f"at batch {LR_ANCHOR_BATCH}, the grid's optimiser)", "SimCLR Appendix B.1",
                                  seed_deltas(lv[("sqrt", b)], lv[("linear", b)]), expected_sign=1))
    else:
        small = lr_batches[0]
        rows.append(claim_row(f"square-root beats linear learning-rate scaling at batch {small}", "SimCLR Appendix B.1",
                              seed_deltas(lv[("sqrt", small)], lv[("linear", small)]), expected_sign=1))
    return rows


def simclr_v2_claims(acc: Mapping[tuple[int, float, int, float], PerSeed],
                     dacc: Mapping[tuple[str, bool, float], PerSeed],
                     width_acc: Mapping[tuple[float, float], PerSeed], depths: Sequence[int], width: float, *,
                     best_layer: Mapping[int, PerSeed] | None = None,
                     steps: Mapping[float, int] | None = None) -> Rows:
    """Notebook 08: SimCLRv2 Figure 4 (head depth, fine-tuning layer), Table 1 (wider encoders) and
    Tables 2-3 (distillation). ``acc`` by (head depth, width, fine-tuning layer, label fraction),
    ``dacc`` by (student, with labels, fraction), ``width_acc`` by (width, fraction); ``depths`` are
    the head depths compared and ``width`` the base width.

    ``best_layer``: per head depth, the per-seed test accuracy of the fine-tuning layer chosen on the
    validation split (:func:`simclr_v2_chosen_layers`); None: the best layer on the test set
    (:func:`~lib.report.statistics.per_seed_best`, the runs before issue #24). ``steps``: the fine-tuning
    steps per label fraction of this budget, when the profile measures item 6's claims at two budgets: their
    rows name the steps and carry ``row["budget"]`` = (label, steps) for :func:`budget_effects`."""
    pv = {**reference("simclrv2.table1").values, **reference("simclrv2.table2").values,
          **reference("simclrv2.table3").values}
    depths = sorted(depths)
    layers = sorted({k for _, _, k, _ in acc})
    fractions = sorted({f for _, _, _, f in acc})
    widths = sorted({w for w, _ in width_acc})
    wide, narrow = max(widths), min(widths)
    lo_f, hi_f = fractions[0], fractions[-1]
    rows = _v2_layer_rows(acc, width, steps) if 3 in depths and {0, 1} <= set(layers) else []
    if len(depths) > 1:
        if best_layer is None:
            best = {d: per_seed_best({k: acc[(d, width, k, lo_f)] for k in layers if (d, width, k, lo_f) in acc},
                                     [k for k in layers if (d, width, k, lo_f) in acc]) for d in depths}
        else:
            best = best_layer
        rows.append(claim_row(f"a deeper head helps from its best layer{' on validation' if best_layer else ''} "
                              f"({max(depths)} vs {min(depths)} layers, {lo_f:.0%} labels)", "SimCLRv2 Figure 4",
                              seed_deltas(best[max(depths)], best[min(depths)]), expected_sign=1))
    if len(widths) > 1:
        d_lo, d_hi = (seed_deltas(width_acc[(wide, f)], width_acc[(narrow, f)]) for f in (lo_f, hi_f))
        paper_lo = paper_delta(pv, f"R50 2x, {lo_f:.0%}", f"R50 1x, {lo_f:.0%}")
        rows.append(claim_row(f"a wider encoder helps ({wide:g} vs {narrow:g}, {lo_f:.0%} labels)", "SimCLRv2 Table 1",
                              d_lo, paper=paper_lo, expected_sign=1))
        if hi_f > lo_f:
            gap = (paper_lo or 0) - (paper_delta(pv, f"R50 2x, {hi_f:.0%}", f"R50 1x, {hi_f:.0%}") or 0)
            rows.append(claim_row(f"... and more with fewer labels (gain at {lo_f:.0%} - gain at {hi_f:.0%})",
                                  "SimCLRv2 Table 1", seed_deltas(d_lo, d_hi), paper=gap or None, expected_sign=1))
    return rows + _v2_distill_rows(acc, dacc, width, wide, steps, with_labels=True)


def _budget(text: str, f: float, steps: Mapping[float, int] | None) -> str:
    """``text`` naming the budget's steps at fraction ``f`` (unchanged with one budget)."""
    return text if steps is None else text[:-1] + f", {steps_text(steps[f])})"


def steps_text(n: int) -> str:
    """``1250`` -> ``"1,250 steps"`` (``"1 step"``)."""
    return plural(n, "step")


def _budgeted(row: dict[str, Any], label: str, f: float, steps: Mapping[float, int] | None) -> dict[str, Any]:
    return row if steps is None else {**row, "budget": (label, steps[f])}


def _v2_layer_rows(acc: Mapping[tuple[int, float, int, float], PerSeed], width: float,
                   steps: Mapping[float, int] | None) -> Rows:
    """08's 'fine-tuning from head layer 1 beats from h' at every label fraction (3-layer head, base width)."""
    return [_budgeted(claim_row(_budget(f"fine-tuning from head layer 1 beats from h (3-layer head, {f:.0%} labels)", f,
                                        steps), "SimCLRv2 Figure 4",
                                seed_deltas(acc[(3, width, 1, f)], acc[(3, width, 0, f)]), expected_sign=1),
                      f"head layer 1 - h, {f:.0%} labels", f, steps)
            for f in sorted({f for _, _, _, f in acc})]


def _v2_distill_rows(acc: Mapping[tuple[int, float, int, float], PerSeed], dacc: Mapping[tuple[str, bool, float], PerSeed],
                     width: float, wide: float, steps: Mapping[float, int] | None, with_labels: bool) -> Rows:
    """08's distillation claims at every distilled fraction: the self-distilled student keeps its teacher's
    accuracy, the base-width student beats the base width fine-tuned directly (distillation vs fine-tuning),
    and (``with_labels``) adding the labels changes little."""
    pv = {**reference("simclrv2.table1").values, **reference("simclrv2.table2").values,
          **reference("simclrv2.table3").values}
    rows = []
    for f in sorted({f for _, _, f in dacc}):
        teacher = acc[(3, wide, 1, f)]
        rows.append(_budgeted(claim_row(
            _budget(f"self-distillation without labels keeps the teacher's accuracy (student - teacher, {f:.0%})", f,
                    steps), "SimCLRv2 Tables 1, 3", seed_deltas(dacc[("same size", False, f)], teacher),
            paper=paper_delta(pv, f"self-distilled R152 3x+SK, {f:.0%}", f"R152 3x+SK, {f:.0%}"), equivalence=True),
            f"self-distilled student - its teacher, {f:.0%}", f, steps))
        rows.append(_budgeted(claim_row(
            _budget(f"distilling into the base width beats fine-tuning it directly ({f:.0%})", f, steps),
            "SimCLRv2 Tables 1, 3", seed_deltas(dacc[("base width", False, f)], acc[(3, width, 1, f)]),
            paper=paper_delta(pv, f"distilled into R50 1x, {f:.0%}", f"R50 1x, {f:.0%}"), expected_sign=1),
            f"distilled - fine-tuned base width, {f:.0%}", f, steps))
        if with_labels and ("same size", True, f) in dacc:
            rows.append(claim_row(f"adding labels to distillation changes little (with - without, same size, {f:.0%})",
                                  "SimCLRv2 Table 2", seed_deltas(dacc[("same size", True, f)], dacc[("same size", False, f)]),
                                  paper=paper_delta(pv, f"labels + distillation, {f:.0%}",
                                                    f"distillation only (our default), {f:.0%}"), equivalence=True))
    return rows


def page_family(rows: Rows, notebook: str, profile: str, runs_dir: str = "") -> tuple[Rows, str]:
    """This page's claim rows with ``q`` and ``verdict`` from the profile's whole family of claims, and a
    sentence saying which claims that family holds.

    The family is this page's claims plus the claims every other manifest of ``profile`` stores
    (``manifest["claims"]``, written by :func:`stored`), read now: a page rendered before another
    related-work notebook at this profile says which notebooks' claims its q-values lack. The summary
    (09) and the README apply the same rule to all the manifests at once (:func:`manifest_family`).
    """
    from .manifests import read_manifests
    from .notebooks import related

    others = {nb: m for nb, m in read_manifests(profile, runs_dir).items() if nb != notebook}
    stored_rows = [stored_row(c) for m in others.values() for c in m.get("claims") or []]
    with_claims = [nb for nb, m in others.items() if m.get("claims")]
    lacking = [nb for nb in related() if nb != notebook and nb not in with_claims]
    family = apply_family([*rows, *stored_rows])
    tests = sum(1 for r in family if _finite(r.get("p")))
    held = (f"{len(family)} claim{'s' if len(family) != 1 else ''} at profile `{profile}`: this page's {len(rows)} "
            f"and {len(stored_rows)} stored in the manifests of {', '.join(with_claims) or 'no other notebook'}")
    note = (f"q: Benjamini-Hochberg over the family of {tests} tests (each direction claim's two-sided paired "
            f"t-test, each equivalence claim's TOST) of {held}" if tests else
            f"No q: none of the family's {held} has a test (fewer than 2 seeds)")
    if lacking:
        note += (f"; {', '.join(lacking)} store{'s' if len(lacking) == 1 else ''} no claims at this profile yet, so "
                 "the family lacks theirs (the summary and the README apply the rule to every manifest at once)")
    return family[:len(rows)], note + "."


def _finite(x: Any) -> bool:
    return isinstance(x, float) and x == x and abs(x) != float("inf")


def stored(rows: Rows) -> list[dict[str, Any]]:
    """The claims a manifest stores (``write_manifest(..., claims=...)``): each row's text, source, paper's
    effect and its per-seed effect with the inputs of the verdict rule."""
    return [stored_claim(r) for r in rows]


def manifest_family(manifests: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(notebook, claim row)`` of every claim the manifests store, with ``q`` and ``verdict`` from
    :data:`FAMILY_VERDICT_RULE` over all of them: one profile's family (pass one profile's manifests)."""
    entries = [(nb, stored_row(c)) for nb, m in manifests.items() for c in m.get("claims") or []]
    return list(zip([nb for nb, _ in entries], apply_family([r for _, r in entries])))


def verdict_lines(rows: Rows, note: str = "") -> str:
    """One line per claim: its verdict, ours beside the paper's, in points, with p, q and the 95 % interval."""
    lines = [f"{r['claim']}: {r['verdict']} (ours {r['ours (points)']} points, 95 % CI {r.get('95 % CI (points)', '–')}"
             f", paper {r['paper (points)']}{_pq(r)})" for r in rows]
    one_seed = bool(rows) and all(r.get("seeds") == 1 for r in rows)  # the page's own seed count decides
    return "\n".join([*lines, *([note] if note else []), f"(The rule: {FAMILY_VERDICT_RULE}"
                               + ("; with one seed there is no test, so every verdict here is inconclusive" if one_seed
                                  else "") + ".)"])


def _pq(r: Mapping[str, Any]) -> str:
    """``", p = 0.012, q = 0.04"`` where the claim was tested; "" otherwise."""
    return (f", p = {r['p']:.2g}, q = {r['q']:.2g}" if _finite(r.get("p")) and _finite(r.get("q")) else "")


def verdict_headline(rows: Rows) -> dict[str, str]:
    """The manifest's ``verdict: <claim>`` entries, which the index counts (the summary notebook and the
    README recompute the verdicts from the stored claims, :func:`manifest_family`)."""
    return {f"verdict: {r['claim']}": f"{r['verdict']}; ours {r['ours (points)']} vs paper {r['paper (points)']} points"
            + _pq(r) for r in rows}


# ---- #24 item 1: every claim declares its factor --------------------------------------------------------
# A claim is a controlled comparison: its two arms' configs differ in the keys it varies and in the keys
# allowed to move with them (each with its reason), and in nothing else. tests/test_claim_factors.py
# builds both arms of every comparison below at every profile (from the notebooks' builders) and diffs them.

from dataclasses import dataclass, field  # noqa: E402
from typing import Callable  # noqa: E402

from ..config import Config  # noqa: E402

Groups = Mapping[str, Mapping[Any, Sequence[Config]]]
Pick = Callable[[Sequence[Any]], Any]  # the arm's key among a group's keys (None: not run at this profile)

# keys that follow another key by construction, with the reason they may move with it
EVAL_EVERY = {"eval_every": "the monitor's cadence follows the number of epochs (evaluation only)"}


@dataclass(frozen=True)
class Factor:
    """One comparison of a notebook: arm ``a`` minus arm ``b``, each ``(group, pick)``; ``varies``: the
    config keys under test; ``moves_with``: keys allowed to differ too, key -> why."""

    notebook: str
    claim: str
    a: tuple[str, Pick]
    b: tuple[str, Pick]
    varies: tuple[str, ...]
    moves_with: Mapping[str, str] = field(default_factory=dict)

    def arms(self, groups: Groups) -> tuple[Sequence[Config], Sequence[Config]] | None:
        """Both arms' configs (one per seed), or None when an arm is not run at this profile."""
        out = []
        for group, pick in (self.a, self.b):
            g = groups.get(group, {})
            key = pick(list(g))
            if key is None or key not in g:
                return None
            out.append(g[key])
        return out[0], out[1]


def built(config: Config) -> dict[str, Any]:
    """What a run builds that its config fields do not show one by one, compared with them by
    :func:`undeclared_differences`: ``head_output_bn``, the BatchNorm that ends the projection head
    (``head_last_bn`` acts only on heads of two or more layers, and on a linear one with ``linear_head_bn``),
    "no head" without one."""
    if config.head_layers == 0:
        return {"head_output_bn": "no head"}
    acts = config.head_layers >= 2 or config.linear_head_bn
    return {"head_output_bn": config.head_last_bn if acts else "none"}


def undeclared_differences(a: Config, b: Config, varies: Sequence[str], moves_with: Mapping[str, str]
                           ) -> dict[str, tuple[Any, Any]]:
    """The keys of the two arms' run identities that differ beyond ``varies`` and ``moves_with``
    (``seed`` included: arms are paired by seed, so a pair's seeds must be equal)."""
    x, y = {**a.identity(), **built(a)}, {**b.identity(), **built(b)}
    allowed = set(varies) | set(moves_with)
    return {k: (x.get(k), y.get(k)) for k in sorted(set(x) | set(y))
            if x.get(k) != y.get(k) and k not in allowed}


def _key(k: Any) -> Pick:
    return lambda keys: k if k in keys else None


def _where(test: Callable[[Any], bool], choose: Callable = min) -> Pick:
    """The ``choose`` (min/max) of the keys passing ``test``; None when none does."""
    return lambda keys: choose([k for k in keys if test(k)], default=None)


def _tuned(prefix: tuple, point: Callable = min) -> Pick:
    """03's tuned key ``(*prefix, fraction, lr, weight decay)`` at the smallest fraction and the ``point``
    (min/max) of the grid."""
    n = len(prefix)

    def pick(keys):
        tuned = [k for k in keys if isinstance(k, tuple) and len(k) == n + 3 and k[:n] == prefix]
        if not tuned:
            return None
        f = min(k[n] for k in tuned)
        return point([k for k in tuned if k[n] == f], key=lambda k: k[n + 1:])
    return pick


def _lowest_fraction(prefix: tuple) -> Pick:
    """The key ``(*prefix, fraction)`` with the smallest fraction."""
    n = len(prefix)
    return _where(lambda k: isinstance(k, tuple) and len(k) == n + 1 and k[:n] == prefix)


FT = "fine-tuning"


def _widest_out(kind: str) -> Pick:
    """06's ``"<kind>, <output size>"`` key with the largest output size."""
    return lambda keys: max((k for k in keys if k.startswith(kind + ", ")), key=lambda k: int(k.split(", ")[1]),
                            default=None)


def _ft(depth: int, width: str, layer: int, fraction: Callable = min) -> Pick:
    """08's fine-tuning key (head depth, width, layer, label fraction): ``width`` "base" (the width of
    the runs fine-tuned from h, which only the base width has) or "wide" (the largest); the smallest
    label fraction (or ``fraction``=max: the largest)."""
    def pick(keys):
        base = min((k[1] for k in keys if k[2] == 0), default=None)
        w = base if width == "base" else max((k[1] for k in keys), default=None)
        fs = [k[3] for k in keys]
        key = (depth, w, layer, fraction(fs)) if fs else None
        return key if key in keys else None
    return pick
_TASK_SWAP = {"task": "the arms are different tasks by the claim's nature",
              "pretrained": "the starting weights: a pretraining run differing in the claim's factor, or none",
              "teacher": "distillation's teacher (the fine-tuned run it distils)",
              "finetune_layer": "the student/baseline has no pretrained head to fine-tune from"}
_RECIPE = "SimCLRv2's distillation recipe differs from its fine-tuning recipe"
# distill_recipe="finetune": the student trains with fine-tuning's recipe for fine-tuning's steps, over all the
# training images where fine-tuning passes over the labelled ones, so the epochs differ
_EQUAL_STEPS = {"epochs": "equal steps: distillation passes over every training image, fine-tuning over the labelled",
                **EVAL_EVERY}

FACTORS: tuple[Factor, ...] = (
    # 01: iteration 1's losses
    Factor("01_supervised", "cross-entropy vs SupCon", ("supervised losses", _key("cross-entropy")),
           ("supervised losses", _key("SupCon")), ("loss",),
           {"temperature": "read only by SupCon (and NT-Xent): cross-entropy ignores it"}),
    Factor("01_supervised", "cross-entropy vs triplet", ("supervised losses", _key("cross-entropy")),
           ("supervised losses", _key("triplet")), ("loss",),
           {"triplet_mining": "read only by the triplet loss", "triplet_margin": "read only by the triplet loss"}),
    # 01 at view_sets="both": each loss effect within one view set, and the views' effect within one loss
    *(Factor("01_supervised", f"cross-entropy vs {other} ({views})", ("supervised losses", _key(f"cross-entropy ({views})")),
             ("supervised losses", _key(f"{other} ({views})")), ("loss",),
             {"temperature": "read only by SupCon (and NT-Xent): cross-entropy ignores it"} if other == "SupCon" else
             {"triplet_mining": "read only by the triplet loss", "triplet_margin": "read only by the triplet loss"})
      for other in ("SupCon", "triplet") for views in ("crop+flip", "SimCLR views")),
    *(Factor("01_supervised", f"{loss}: SimCLR views vs crop+flip", ("supervised losses", _key(f"{loss} (SimCLR views)")),
             ("supervised losses", _key(f"{loss} (crop+flip)")), ("views",)) for loss in ("cross-entropy", "SupCon", "triplet")),
    # 03 tuned (tune_lrs): at one point of the grid, the arms differ in the claim's factor only
    Factor("03_simclr_v2", "fine-tuning from head layer 1 vs from h (tuned grid)", (FT, _tuned((1,), min)),
           (FT, _tuned((0,), min)), ("finetune_layer",)),
    Factor("03_simclr_v2", "fine-tuning vs from scratch (same steps, tuned grid)", (FT, _tuned((1,), max)),
           ("from scratch", _tuned(("same steps",), max)), ("pretrained",),
           {**_TASK_SWAP, "loss": "'' is the task's default: cross-entropy in both",
            "head_layers": "from scratch trains no projection head"}),
    # 03: iteration 3
    Factor("03_simclr_v2", "fine-tuning from head layer 1 vs from h", (FT, _lowest_fraction((1,))),
           (FT, _lowest_fraction((0,))), ("finetune_layer",)),
    Factor("03_simclr_v2", "fine-tuning vs from scratch (same steps)", (FT, _lowest_fraction((1,))),
           ("from scratch", _lowest_fraction(("same steps",))), ("pretrained",),
           {**_TASK_SWAP, **EVAL_EVERY, "loss": "'' is the task's default: cross-entropy in both",
            "head_layers": "from scratch trains no projection head"}),
    Factor("03_simclr_v2", "distillation into the same size vs half width", ("distillation", _lowest_fraction(("same size",))),
           ("distillation", _lowest_fraction(("half width",))), ("width",)),
    # 05
    Factor("05_simclr_augmentations", "crop then colour vs crop alone", ("grid", _key(("crop", "color"))),
           ("grid", _key(("crop",))), ("views",)),
    *(Factor("05_simclr_augmentations", f"{m}: strongest vs weakest colour", ("colour strength", _where(
        lambda k, m=m: k[0] == m, max)), ("colour strength", _where(lambda k, m=m: k[0] == m, min)),
        ("color_strength",)) for m in ("SimCLR", "supervised")),
    *(Factor("05_simclr_augmentations", f"{m}: strongest vs weakest colour, longer", ("colour strength, longer", _where(
        lambda k, m=m: k[0] == m, max)), ("colour strength, longer", _where(lambda k, m=m: k[0] == m, min)),
        ("color_strength",)) for m in ("SimCLR", "supervised")),
    *(Factor("05_simclr_augmentations", f"{m}: weakest colour, longer vs shorter", ("colour strength, longer", _where(
        lambda k, m=m: k[0] == m, min)), ("colour strength", _where(lambda k, m=m: k[0] == m, min)),
        ("epochs",), EVAL_EVERY) for m in ("SimCLR", "supervised")),
    # 06
    *(Factor("06_projection_head", f"nonlinear vs {other} head", ("projection heads", _widest_out("nonlinear")),
             ("projection heads", _widest_out(other) if other != "none" else _key("none")), ("head_layers",),
             {"proj_dim": "no head has no output size", "head_output_bn": "no head has no BatchNorm",
              "head_last_bn": "no head has no BatchNorm (the field reads as its default)"} if other == "none" else
             {"linear_head_bn": "the linear head ends in the nonlinear head's BatchNorm (the field says so; heads of "
                                "two layers always do, and read false)"}) for other in ("linear", "none")),
    # 07
    Factor("07_batch_temperature", "larger batch at short training", ("batch x epochs", lambda ks: (
        max(b for b, _ in ks), min(e for _, e in ks)) if ks else None), ("batch x epochs", lambda ks: (
            min(b for b, _ in ks), min(e for _, e in ks)) if ks else None), ("batch_size",)),
    Factor("07_batch_temperature", "longer training (smallest batch)", ("batch x epochs", lambda ks: (
        min(b for b, _ in ks), max(e for _, e in ks)) if ks else None), ("batch x epochs", lambda ks: (
            min(b for b, _ in ks), min(e for _, e in ks)) if ks else None), ("epochs",), EVAL_EVERY),
    Factor("07_batch_temperature", "t=0.5 vs t=1", ("temperature", _key("l2 norm, t=0.5")),
           ("temperature", _key("l2 norm, t=1")), ("temperature",)),
    Factor("07_batch_temperature", "t=0.5 vs t=0.1", ("temperature", _key("l2 norm, t=0.5")),
           ("temperature", _key("l2 norm, t=0.1")), ("temperature",)),
    Factor("07_batch_temperature", "l2 norm t=0.5 vs no l2 norm t=10", ("temperature", _key("l2 norm, t=0.5")),
           ("temperature", _key("no l2 norm, t=10")), ("ntxent_normalize", "temperature")),
    Factor("07_batch_temperature", "square-root vs linear lr scaling", ("learning-rate scaling", _where(
        lambda k: k[0] == "sqrt")), ("learning-rate scaling", _where(lambda k: k[0] == "linear")), ("lr_scaling",),
        {"lr": "each rule's base rate (the rule's own constant)"}),
    Factor("07_batch_temperature", "square-root vs linear lr scaling (largest batch)", ("learning-rate scaling", _where(
        lambda k: k[0] == "sqrt", max)), ("learning-rate scaling", _where(lambda k: k[0] == "linear", max)),
        ("lr_scaling",), {"lr": "each rule's base rate (the rule's own constant)"}),
    Factor("07_batch_temperature", "larger batch at equal steps", ("batch x epochs", lambda ks: (
        max(b for b, _ in ks), max(e for _, e in ks)) if ks else None), ("batch x epochs", lambda ks: (
            min(b for b, _ in ks), min(e for _, e in ks)) if ks else None), ("batch_size",),
        {"epochs": "equal steps: the larger batch takes fewer steps per epoch, so it trains more epochs",
         **EVAL_EVERY}),
    Factor("07_batch_temperature", "l2 norm t=0.5 vs no l2 norm t=10 (rate tuned)", ("temperature", _key("l2 norm, t=0.5")),
           ("temperature", _where(lambda k: k.startswith("no l2 norm, t=10, lr="), max)),
           ("ntxent_normalize", "temperature"), {"lr": "the arm without l2 norm trains at the rate its validation chose"}),
    # 08
    Factor("08_simclr_v2_claims", "fine-tuning from head layer 1 vs from h", (FT, _ft(3, "base", 1)),
           (FT, _ft(3, "base", 0)), ("finetune_layer",)),
    Factor("08_simclr_v2_claims", "deeper head (layer 1)", (FT, _ft(3, "base", 1)), (FT, _ft(2, "base", 1)),
           ("head_layers",), {"pretrained": "the pretraining run with the deeper head"}),
    Factor("08_simclr_v2_claims", "wider encoder", (FT, _ft(3, "wide", 1)), (FT, _ft(3, "base", 1)), ("width",),
           {"pretrained": "the pretraining run of the wider encoder"}),
    Factor("08_simclr_v2_claims", "fine-tuning from head layer 1 vs from h, longer", ("fine-tuning, longer",
           _ft(3, "base", 1)), ("fine-tuning, longer", _ft(3, "base", 0)), ("finetune_layer",)),
    Factor("08_simclr_v2_claims", "fine-tuning longer vs shorter (layer 1)", ("fine-tuning, longer", _ft(3, "base", 1)),
           (FT, _ft(3, "base", 1)), ("epochs",), EVAL_EVERY),
    Factor("08_simclr_v2_claims", "distilling into the base width vs fine-tuning it, longer", ("distillation, longer",
           _where(lambda k: k[0] == "base width" and not k[1], max)), ("fine-tuning, longer", _ft(3, "base", 1, max)),
           ("task",), {**_TASK_SWAP, **_EQUAL_STEPS}),
    Factor("08_simclr_v2_claims", "labels added to distillation", ("distillation", _where(
        lambda k: k[0] == "same size" and k[1], max)), ("distillation", _where(
            lambda k: k[0] == "same size" and not k[1], max)), ("distill_alpha",)),
    Factor("08_simclr_v2_claims", "distilling into the base width vs fine-tuning it", ("distillation", _where(
        lambda k: k[0] == "base width" and not k[1], max)), (FT, _ft(3, "base", 1, max)), ("task",),
        {**_TASK_SWAP, **_EQUAL_STEPS}),
    Factor("08_simclr_v2_claims", "self-distillation vs its teacher", ("distillation", _where(
        lambda k: k[0] == "same size" and not k[1], max)), (FT, _ft(3, "wide", 1, max)), ("task",),
        {**_TASK_SWAP, **_EQUAL_STEPS}),
)

# ---- 05: Table 1 as the interaction, at each budget (#24 items 2 and 6) ------------------------------------

COLOR_INTERACTION = "contrastive learning needs stronger colour distortion than supervised learning"
COLOR_METHODS = ("SimCLR", "supervised")


def color_gains(color_acc: Mapping[tuple[str, str], PerSeed], lo: str, hi: str) -> dict[str, list[float]]:
    """Per method its gain from colour strength ``lo`` to ``hi`` per seed (``"SimCLR: 1 - 1/4"``), then the
    interaction (``"SimCLR's gain - the supervised gain"``): SimCLR's gain minus the supervised gain, paired by
    seed. A method without both strengths is left out, and so is the interaction."""
    gains = {f"{m}: {hi} - {lo}": seed_deltas(color_acc[(m, hi)], color_acc[(m, lo)]) for m in COLOR_METHODS
             if (m, hi) in color_acc and (m, lo) in color_acc}
    if len(gains) == 2:
        simclr, supervised = gains.values()
        gains["SimCLR's gain - the supervised gain"] = seed_deltas(simclr, supervised)
    return gains


def color_paper_gains(lo: str, hi: str) -> dict[str, float]:
    """SimCLR Table 1's gains and interaction (points) under :func:`color_gains`' labels, where it has them."""
    t1 = reference("simclr.table1").values
    out = {f"{m}: {hi} - {lo}": paper_delta(t1, f"{m} {hi}", f"{m} {lo}") for m in COLOR_METHODS}
    out = {k: v for k, v in out.items() if v is not None}
    if len(out) == 2:
        out["SimCLR's gain - the supervised gain"] = round(out[f"SimCLR: {hi} - {lo}"]
                                                           - out[f"supervised: {hi} - {lo}"], 2)
    return out


def color_claims(color_acc: Mapping[tuple[str, str], PerSeed], lo: str, hi: str, budget: str = "") -> Rows:
    """SimCLR Table 1 at one budget: the interaction (its claim is relative: SimCLR gains more from stronger
    colour distortion than supervised learning does), and blur on top of the strongest strength where it ran.
    The two methods' own gains are the interaction's halves, shown in the page's table (:func:`color_gain_table`),
    not tested as claims. ``budget``: appended to each claim in parentheses (""; one budget)."""
    rows = []
    where = f" ({budget})" if budget else ""
    gains = color_gains(color_acc, lo, hi)
    interaction = gains.get("SimCLR's gain - the supervised gain")
    if interaction is not None:
        rows.append(claim_row(f"{COLOR_INTERACTION}: the interaction, SimCLR's gain minus the supervised gain "
                              f"from colour strength {lo} to {hi}{where}", "SimCLR Table 1", interaction,
                              paper=color_paper_gains(lo, hi).get("SimCLR's gain - the supervised gain"),
                              expected_sign=1))
    if ("SimCLR", hi + " (+blur)") in color_acc and ("SimCLR", hi) in color_acc:
        t1 = reference("simclr.table1").values
        rows.append(claim_row(f"SimCLR: blur on top of colour strength {hi}{where}", "SimCLR Table 1",
                              seed_deltas(color_acc[("SimCLR", hi + " (+blur)")], color_acc[("SimCLR", hi)]),
                              paper=paper_delta(t1, f"SimCLR {hi} (+blur)", f"SimCLR {hi}"), expected_sign=1))
    return rows


def color_budget(simclr: Config, supervised: Config) -> str:
    """A colour-strength budget in words: ``"150 SimCLR and 225 supervised steps"`` (their optimiser steps)."""
    from .grids import optimiser_steps

    return f"{optimiser_steps(simclr):,} SimCLR and {optimiser_steps(supervised):,} supervised steps"


def color_gain_table(by_budget: Sequence[tuple[str, Mapping[tuple[str, str], PerSeed]]], lo: str, hi: str):
    """The page's table of Table 1's effects at each budget: each method's gain from ``lo`` to ``hi`` and the
    interaction (the claim), in points, mean ± std over seeds with the 95 % t-interval, beside the paper's."""
    import pandas as pd

    from .statistics import interval_text, t_interval

    paper = color_paper_gains(lo, hi)
    rows = []
    for budget, color_acc in by_budget:
        for label, deltas in color_gains(color_acc, lo, hi).items():
            mean, std, n = mean_std(deltas)
            rows.append({"budget": budget or "–", "effect": label, "paper (points)": paper.get(label, float("nan")),
                         "ours (points)": "–" if not n else f"{100 * mean:+.1f}" + (f" ± {100 * std:.1f}" if n > 1 else ""),
                         "95 % CI (points)": interval_text(t_interval(deltas)), "seeds": n})
    frame = pd.DataFrame(rows, columns=["budget", "effect", "paper (points)", "ours (points)", "95 % CI (points)",
                                        "seeds"])
    # one unnamed budget (the runs before issue #24): the effects alone
    return frame.set_index(["budget", "effect"]) if len(by_budget) > 1 else frame.drop(columns="budget").set_index("effect")


def color_budget_effects(by_steps: Mapping[int, Mapping[tuple[str, str], PerSeed]], lo: str, hi: str
                         ) -> dict[str, dict[int, list[float]]]:
    """For :func:`lib.report.plots.effect_by_budget`: the interaction (and blur on top of ``hi`` where it ran)
    per seed at each budget, keyed by the SimCLR runs' optimiser steps."""
    out: dict[str, dict[int, list[float]]] = {}
    for steps, color_acc in sorted(by_steps.items()):
        interaction = color_gains(color_acc, lo, hi).get("SimCLR's gain - the supervised gain")
        if interaction is not None:
            out.setdefault("interaction: SimCLR's gain - supervised gain", {})[steps] = interaction
        if ("SimCLR", hi + " (+blur)") in color_acc:
            out.setdefault(f"SimCLR: blur on top of {hi}", {})[steps] = seed_deltas(
                color_acc[("SimCLR", hi + " (+blur)")], color_acc[("SimCLR", hi)])
    return out


# ---- 07: the arm without l2 normalisation, runs shared with the grid, the scaling rule's setting ------------

@dataclass
class ChosenArm:
    """An arm whose setting was chosen per seed on the validation split (07's rate without l2 normalisation)."""

    label: str                  # the arm as the claims name it: "no l2 norm, t=10"
    values: list[float]         # per seed: the reported (test) score of the chosen run
    choices: list[Any]          # per seed: the chosen rate (None: one rate ran, nothing was chosen)
    records: list[Any]          # per seed: the chosen run's record
    untrained: list[int]        # the seeds whose chosen run did not train (lib.report.selection.trained)
    by: str = ""                # the validation score the choice was made on

    @property
    def trained(self) -> bool:
        return not self.untrained

    @property
    def tuned(self) -> bool:
        return any(c is not None for c in self.choices)


def trained_or_unknown(record: Any) -> bool:
    """:func:`lib.report.selection.trained`, where the record shows it: a run whose monitor ran fewer than twice
    (no initial accuracy to compare with) counts as trained."""
    from .selection import trained

    knn = [e for e in record.epochs if isinstance(e.get("knn_top1"), (int, float))]
    return len(knn) < 2 or trained(record)


def no_l2_arm(runs: Mapping[str, Sequence[Any]], temperature: str = "10", by: str = "val/knn_top1",
              report: str = "h/linear_probe_top1") -> ChosenArm | None:
    """07's arm without l2 normalisation at ``temperature``: with ``raw_lrs`` its runs are keyed
    ``"no l2 norm, t=<t>, lr=<r>"`` and each seed takes the rate whose run scores best on the validation score
    ``by`` (:func:`lib.report.selection.chosen_values`; the test score ``report`` of the chosen run is what the
    claim compares); without, the one run per seed at the recipe's rate (``"no l2 norm, t=<t>"``). Whether each
    chosen run trained is :func:`trained_or_unknown`'s. None when neither ran."""
    from .selection import chosen_values
    from .statistics import result_values

    label = f"no l2 norm, t={temperature}"
    candidates = {float(k.split(", lr=")[1]): rs for k, rs in runs.items() if k.startswith(label + ", lr=")}
    if candidates:
        values, choices = chosen_values(candidates, by, report)
        records = [candidates[c][s] for s, c in enumerate(choices)]
    elif label in runs:
        records, by = list(runs[label]), ""
        values, choices = result_values(records, report), [None] * len(records)
    else:
        return None
    return ChosenArm(label, values, choices, records, [s for s, r in enumerate(records) if not trained_or_unknown(r)],
                     by)


def grid_overlap(grid: Mapping[Any, Sequence[Config]], others: Mapping[str, Mapping[Any, Sequence[Config]]]
                 ) -> list[tuple[str, Any, Any]]:
    """``(group, key, grid key)`` of every setting of ``others`` (group -> key -> configs) whose runs are the
    grid's (the same configs, so the same run ids): a row of its own that is also a cell of the grid."""
    cells = {tuple(c.run_id() for c in cs): key for key, cs in grid.items()}
    return [(group, key, cells[ids]) for group, settings in others.items() for key, cs in settings.items()
            if (ids := tuple(c.run_id() for c in cs)) in cells]


def lr_scaling_setting(lr_rule: str, lr_configs: Mapping[tuple[str, int], Sequence[Config]]) -> str:
    """The learning-rate-scaling runs in words, from their configs: the rule's optimiser, each rule's peak rate
    at each batch size and the epochs."""
    from .grids import LR_SCALING_BASE

    first = {key: cs[0] for key, cs in lr_configs.items()}
    batches = sorted({b for _, b in first})
    rates = "; ".join(f"batch {b}: linear {first[('linear', b)].scaled_lr:.3g}, square root "
                      f"{first[('sqrt', b)].scaled_lr:.3g}" for b in batches)
    c = next(iter(first.values()))
    if lr_rule == "recipe":
        anchor = first[("linear", batches[0])].lr  # the linear rule's base rate: its rate at batch 256
        return (f"both rules with the grid's optimiser ({c.optimizer}), anchored at batch {LR_ANCHOR_BATCH} (rate "
                f"{anchor:.3g} there): linear {anchor:.3g} x B/{LR_ANCHOR_BATCH} vs square root {anchor:.3g} x "
                f"sqrt(B/{LR_ANCHOR_BATCH}); {rates}; {c.epochs} epochs")
    return (f"LARS with Appendix B.1's constants: linear {LR_SCALING_BASE['linear']:g} x B/256 vs square root "
            f"{LR_SCALING_BASE['sqrt']:g} x sqrt(B); {rates}; {c.epochs} epochs")


# 05: blur on top of the strongest colour strength (the full profile's color_blur), at each budget
FACTORS = FACTORS + tuple(
    Factor("05_simclr_augmentations", f"SimCLR: blur on top of the strongest colour{suffix}", (group, _where(
        lambda k: k[0] == "SimCLR" and k[1].endswith(" (+blur)"))), (group, lambda keys: next(
            (k for k in keys if k[0] == "SimCLR" and (k[0], k[1] + " (+blur)") in keys), None)), ("views",))
    for group, suffix in (("colour strength", ""), ("colour strength, longer", ", longer")))


# ---- 08 at the fair design (issue #24 items 2 and 6): layers chosen on validation, claims at two budgets ----

def simclr_v2_chosen_layers(ft: Mapping[tuple[int, float, int, float], Sequence[Any]], width: float, fraction: float,
                            by: str = "val_top1", report: str = "test_top1"
                            ) -> tuple[dict[int, list[float]], dict[int, list[int]]]:
    """Per head depth (base ``width``, label ``fraction``): the per-seed ``report`` (test top-1) of the
    fine-tuning layer whose run scores best on ``by`` (the validation split), and the layers chosen.
    ``ft``: notebook 08's fine-tuning records by (head depth, width, layer, fraction)."""
    from .selection import tuned

    values, choices = tuned({(d, k): rs for (d, w, k, f), rs in ft.items() if w == width and f == fraction},
                            1, by, report)
    return ({d: v for (d,), v in values.items()}, {d: [k for (k,) in c] for (d,), c in choices.items()})


def layer_choice_note(val_size: int) -> str:
    """How 08's deeper-head row picks each head's best fine-tuning layer: on the test set (``val_size`` 0, the
    runs before issue #24: a selection bias toward the deeper head) or on the validation split."""
    if not val_size:
        return ("The deeper-head row takes, per seed, the best fine-tuning layer chosen on the test set: the maximum "
                "over the deeper head's layers (3 for a 3-layer head) against the maximum over the shallower head's (2) "
                "has more draws to be high by chance, so the selection favours the deeper head and the row's effect is "
                "biased in the claim's direction; the paper chose the layer on its test set too.")
    return (f"The deeper-head row takes, per seed and head, the fine-tuning layer whose run scores best on the "
            f"{val_size:,} validation images (carved from the training images, never trained on) and compares those "
            "runs' test accuracy: the test set plays no part in the choice, so the deeper head's extra layer gives it "
            "no extra draws on the test set (the paper chose the layer on its test set).")


def simclr_v2_longer_claims(acc: Mapping[tuple[int, float, int, float], PerSeed],
                            dacc: Mapping[tuple[str, bool, float], PerSeed], width: float,
                            steps: Mapping[float, int]) -> Rows:
    """Issue #24 item 6 at the longer budget: the claims it names (fine-tuning from head layer 1 vs h;
    distillation vs fine-tuning) on the runs trained for ``steps`` (per label fraction), each its own row.
    ``acc``/``dacc``: the longer fine-tuning and distillation runs, keyed as in :func:`simclr_v2_claims`."""
    wide = max(w for _, w, _, _ in acc)
    return [*_v2_layer_rows(acc, width, steps), *_v2_distill_rows(acc, dacc, width, wide, steps, with_labels=False)]


def budget_effects(rows: Rows) -> dict[str, dict[int, list[float]]]:
    """The per-seed effects of the rows measured at several budgets (``row["budget"]`` = (label, steps)), as
    :func:`lib.report.plots.effect_by_budget` draws them: label -> {steps: per-seed effect}."""
    out: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        if "budget" in r:
            label, steps = r["budget"]
            out.setdefault(label, {})[steps] = list(r["family"]["deltas"])
    return out
