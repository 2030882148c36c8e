"""Regenerate the README's result tables from the run records, between HTML comment markers.

    python scripts/update_readme.py            # rewrite the generated blocks of README.md and benchmarks/README.md
    python scripts/update_readme.py --check    # exit 1, printing a diff, if either is out of date

A generated block sits between two markers, and everything outside them is left as it is::

    <!-- results:iteration1:start -->
    (generated: a table and its provenance)
    <!-- results:iteration1:end -->

The blocks:

    iteration1   notebooks/01_supervised.ipynb: cross-entropy, SupCon, triplet; kNN, linear probe,
                 Recall@1, MAP@R and NMI of the encoder output h
    iteration2   notebooks/02_simclr.ipynb: SimCLR; kNN, linear probe, Recall@1 and MAP@R on h and on z
    iteration3   notebooks/03_simclr_v2.ipynb: SimCLRv2; test accuracy by label fraction of fine-tuning
                 from head layer 1 and from h, of the distilled students and of training from scratch
    related      notebooks/05-08: every reproduced claim of SimCLR and SimCLRv2 with our verdict, from
                 the verdicts each notebook wrote into its manifest, and each notebook's key figure
    findings     01-03 and 05-08 at the best profile with complete records of all of 01-03: 4-6 findings,
                 each a number, its paired test and a link to its page
    performance  benchmarks/results/: training views/s of each throughput-*.json and the paired differences
                 of the accuracy benchmarks (a short table; the details are the benchmarks block's)
    benchmarks   in benchmarks/README.md, beside the README (updated with it when it exists): the
                 throughput-*.json tables, the newest gpu_check-*.json and the accuracy benchmarks in full

Figures: a notebook run at the quick, cifar-cpu or full profile copies its key figure to
``images/<notebook>-<profile>-<name>.png`` (``lib.report.plots.export_figure``); a block shows the
figure of the profile its numbers come from, when that file exists.

Which runs: each training notebook ends by writing a manifest (``lib.tables.write_manifest``)
naming the run ids behind every row it reports, ``runs/_manifests/<notebook>-<profile>.json``;
the summary notebook (09) reads the same manifests. A block uses the first profile of ``full``,
``cifar-cpu``, ``quick`` whose manifest exists and names only complete records (``--profile`` picks
one), names that profile and links its pages (``reports/<profile>/<notebook>.html``). The related-work
block shows a verdict column for every profile with complete records, the best first. Without such a
manifest the block says so ("pending: run ``make report``") instead of showing numbers. Every block
states its provenance in one line: profile, data, seeds, runs, wall time, devices and dates, with one
link to the HTML report and one to the manifest, which names the run ids and commits.
The output depends on the records only (no date of its own), so ``--check`` is stable.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.report import conclusions, notebooks, plots, tables  # noqa: E402
from lib.config import repo_path  # noqa: E402
from lib.evaluation import SHORT_NAMES  # noqa: E402
from lib.report.profiles import PROFILES, README_PROFILES  # noqa: E402
from lib.report.statistics import ALPHA, FAMILY_VERDICT_RULE, bh_qvalues, mean_std, two_sided_p  # noqa: E402
from lib.records import RunRecord  # noqa: E402

MARKER = re.compile(r"<!-- results:([A-Za-z0-9_-]+):(start|end) -->")
# the README shows, per block, the first of these profiles whose records are complete; smoke never unless asked
PROFILE_ORDER = tuple(reversed(README_PROFILES))  # largest scale first: ("full", "cifar-cpu", "quick")
NAMES = SHORT_NAMES  # the scores' names (lib.evaluation.METRIC_NAMES)
SUPERVISED_METRICS = ("knn_top1", "linear_probe_top1", "recall@1", "map@r", "nmi")
SIMCLR_METRICS = ("knn_top1", "linear_probe_top1", "recall@1", "map@r")


class Sources(NamedTuple):
    """Where a block's inputs are, and the folder links are made relative to (the README's)."""

    runs_dir: Path
    results_dir: Path
    readme_dir: Path
    profile: str | None = None  # None: the first of PROFILE_ORDER with a manifest


# ---- markers -----------------------------------------------------------------------------------

def find_blocks(text: str) -> dict[str, tuple[int, int]]:
    """``name -> (start, end)`` offsets of each block's content (between its two markers).

    Raises ValueError, naming the line, on an unknown block, an end without a start, a block
    opened twice or never closed.
    """
    blocks: dict[str, tuple[int, int]] = {}
    open_name, open_at = None, 0
    for m in MARKER.finditer(text):
        name, kind = m.groups()
        line = text.count("\n", 0, m.start()) + 1
        if name not in BLOCKS:
            raise ValueError(f"line {line}: unknown result block {name!r}; known blocks: {', '.join(BLOCKS)}")
        if kind == "start":
            if open_name is not None:
                raise ValueError(f"line {line}: block {name!r} starts inside block {open_name!r}")
            if name in blocks:
                raise ValueError(f"line {line}: block {name!r} appears twice")
            open_name, open_at = name, m.end()
        else:
            if open_name != name:
                raise ValueError(f"line {line}: end of block {name!r} without its start")
            blocks[name] = (open_at, m.start())
            open_name = None
    if open_name is not None:
        raise ValueError(f"block {open_name!r} is never closed (<!-- results:{open_name}:end --> missing)")
    return blocks


def replace_blocks(text: str, contents: Mapping[str, str]) -> str:
    """``text`` with the content of each block named in ``contents`` replaced; the markers and
    everything outside them are kept byte for byte."""
    out, last = [], 0
    for name, (start, end) in sorted(find_blocks(text).items(), key=lambda item: item[1]):
        if name in contents:
            out += [text[last:start], "\n" + contents[name].strip("\n") + "\n\n"]  # blank line: ends a table
            last = end
    return "".join(out) + text[last:]


def update_text(text: str, sources: Sources) -> str:
    """The README with every block it holds regenerated from ``sources``."""
    return replace_blocks(text, {name: render(name, sources) for name in find_blocks(text)})


# ---- markdown ----------------------------------------------------------------------------------

def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A GitHub table of cells already written as text, through the pages' one table formatter
    (:func:`lib.report.formatting.table_markdown`): the first column left-aligned, the others (numbers)
    right-aligned, human headers."""
    import pandas as pd

    return tables.table_markdown(pd.DataFrame([list(r) for r in rows], columns=header), index=False)


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes (``..`` when it lies outside)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()


def link(path: Path, base: Path, text: str | None = None) -> str:
    """A markdown link to ``path`` relative to ``base``; plain code when it lies outside ``base``."""
    rel = relative(path, base)
    label = f"`{text or rel}`"
    return label if rel.startswith("..") else f"[{label}]({rel})"


def pending(reason: str) -> str:
    return f"*Pending: run `make report`.* {reason}"


# ---- the iteration blocks ----------------------------------------------------------------------

class Chosen(NamedTuple):
    """The manifest a block shows: its profile, file, contents and the complete records it names."""

    profile: str
    path: Path
    manifest: dict[str, Any]
    records: dict[str, list[RunRecord]]


def manifest_state(notebook: str, runs_dir: Path, profile: str) -> tuple[Chosen | None, str]:
    """``(chosen, "")`` when ``notebook``'s manifest at ``profile`` names only complete records,
    else ``(None, why not)``."""
    path = tables.manifest_path(notebook, profile, runs_dir)
    if not path.is_file():
        return None, ""
    manifest = json.loads(path.read_text())
    records, missing = tables.manifest_records(manifest, runs_dir)  # incomplete ones are missing, with their status
    if missing:
        return None, (f"{conclusions.plural(len(missing), 'run')} named by `{path.name}` have no complete record: "
                      + ", ".join(_quoted_id(i) for i in dict.fromkeys(missing)) + ".")
    return Chosen(profile, path, manifest, records), ""


def _quoted_id(missing: str) -> str:
    """```<id>``` of a missing run, its status (``"<id> (status failed)"``) left outside the quotes."""
    run_id, _, status = missing.partition(" ")
    return f"`{run_id}`" + (f" {status}" if status else "")


def choose_manifests(notebook: str, runs_dir: Path, profile: str | None) -> tuple[list[Chosen], list[str]]:
    """Every profile of :data:`PROFILE_ORDER` (or just ``profile``) whose manifest of ``notebook`` names
    only complete records, best first; and why the others with a manifest were passed over."""
    chosen, why = [], []
    for p in [profile] if profile else PROFILE_ORDER:
        c, reason = manifest_state(notebook, runs_dir, p)
        if c is not None:
            chosen.append(c)
        elif reason:
            why.append(f"profile `{p}`: {reason}")
    return chosen, why


def report_page(src: "Sources", profile: str, notebook: str) -> Path:
    """Where the runner renders ``notebook`` at ``profile``: ``reports/<profile>/<notebook>.html``."""
    return src.readme_dir / "reports" / profile / f"{notebook}.html"


def data_and_seeds(c: Chosen) -> str:
    """``CIFAR-10, JPEG q75 copy, 3 seeds``: what a manifest's runs trained on, and over how many seeds."""
    runs = unique_runs(c.records)
    seeds = len({r.config.seed for r in runs})
    data = ", ".join(dict.fromkeys(conclusions.data_label(r.config.dataset) for r in runs))
    return f"{data}, {seeds} seed{'s' if seeds != 1 else ''}"


def profile_line(c: Chosen, notebook: str, src: "Sources") -> str:
    """The one line of provenance a block carries: profile, data and seeds, runs, wall time and dates, and
    links to its page and its manifest. Run ids, commits and devices are in the manifest and the page
    (linked once here), not listed in the README."""
    runs = unique_runs(c.records)
    dates = sorted({(r.provenance.get("finished") or "")[:10] for r in runs} - {""})
    wall = sum(r.provenance.get("wall_time_s") or 0.0 for r in runs)
    finished = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}" if dates else "unknown"
    devices = "; ".join(sorted({str(r.provenance.get("device")) for r in runs if r.provenance.get("device")}))
    return (f"**Profile `{c.profile}`**: {data_and_seeds(c)}; {conclusions.plural(len(runs), 'run')}, {format_duration(wall)} of wall "
            f"time on {devices or 'an unrecorded device'}, finished {finished}. "
            f"Page: {link(report_page(src, c.profile, notebook), src.readme_dir, 'report')}; run ids and commits: "
            f"{link(c.path, src.readme_dir, 'manifest')}.")


def supervised_table(records: Mapping[str, list[RunRecord]]) -> tuple[str, str]:
    keys = [f"h/{m}" for m in SUPERVISED_METRICS]
    text = tables.format_mean_std(tables.aggregate(records, keys), keys)[keys]
    text = text.rename(columns=dict(zip(keys, (NAMES[m] for m in SUPERVISED_METRICS)))).rename_axis("method")
    return (tables.table_markdown(text),
            "Encoder output h on the test split, in %: weighted kNN top-1, linear probe top-1, Recall@1, "
            "MAP@R, and NMI of k-means.")


def simclr_table(records: Mapping[str, list[RunRecord]]) -> tuple[str, str]:
    keys = [f"{layer}/{m}" for layer in ("h", "z") for m in SIMCLR_METRICS]
    layers = tables.split_layers(tables.aggregate(records, keys), list(SIMCLR_METRICS))
    text = tables.format_mean_std(layers, list(SIMCLR_METRICS))[list(SIMCLR_METRICS)]
    text = text.rename(columns={m: NAMES[m] for m in SIMCLR_METRICS}).rename_axis("representation")
    return (tables.table_markdown(text),
            "Test split, in %: h is the encoder output, z the projection head's output (what the loss sees).")


def label_efficiency_markdown(records: Mapping[str, list[RunRecord]]) -> tuple[str, str]:
    eff = tables.label_efficiency_table(records)  # the methods: it leaves the tuning grid behind them out
    if not len(eff):
        return "*The manifest's runs hold no test accuracy (`test_top1`).*", "Nothing to tabulate."
    fractions = sorted(set(eff["label_fraction"]))
    cells = (tables.format_mean_std(eff, ["test_top1"]).pivot(index="method", columns="label_fraction", values="test_top1")
             .reindex(index=list(dict.fromkeys(eff["method"])), columns=fractions))
    cells = cells.rename(columns=lambda f: f"{100 * f:g} % labels").rename_axis(index="method", columns=None)
    return (tables.table_markdown(cells),
            "Test accuracy (top-1, %) against the fraction of training labels used.")


class Iteration(NamedTuple):
    notebook: str                                                          # stem in notebooks/ and reports/<profile>/
    table: Callable[[Mapping[str, list[RunRecord]]], tuple[str, str]]      # records -> (table, caption)


# the README's blocks of the three iterations; each notebook's figure and caption are its module's
# (Notebook.readme_figure in lib/report/notebooks/)
ITERATIONS = {
    "iteration1": Iteration("01_supervised", supervised_table),
    "iteration2": Iteration("02_simclr", simclr_table),
    "iteration3": Iteration("03_simclr_v2", label_efficiency_markdown),
}


def readme_figure(notebook: str) -> tuple[str, str]:
    """(name given to plots.export_figure, caption) of the figure ``notebook``'s module names for the README;
    ("", "") when it names none."""
    registered = notebooks.notebook(notebook)
    return registered.readme_figure if registered and registered.readme_figure else ("", "")


def figure_markdown(notebook: str, name: str, profile: str, caption: str, src: Sources) -> str:
    """The exported figure of ``notebook`` at ``profile`` as a Markdown image, or "" if none was exported."""
    if not name:
        return ""
    path = plots.readme_figure_path(notebook, name, profile, src.readme_dir / "images")
    if not path.is_file():
        return ""
    return f"![{caption}]({relative(path, src.readme_dir)})\n*{caption}*"


def render_iteration(name: str, src: Sources) -> str:
    """A table from the records of the best profile's manifest, with its provenance; or why not."""
    notebook, table = ITERATIONS[name][:2]
    chosen, why = choose_manifests(notebook, src.runs_dir, src.profile)
    if not chosen:
        profiles = src.profile or " or ".join(PROFILE_ORDER)
        return pending(f"No manifest of `notebooks/{notebook}.ipynb` with complete records at profile {profiles} in "
                       f"`{relative(src.runs_dir / tables.MANIFEST_DIR, src.readme_dir)}/`"
                       + (": " + "; ".join(why) if why else "."))
    best = chosen[0]
    if why:  # a larger profile was passed over: say which and why, not silently show a smaller one
        print(f"note: {name} shows profile `{best.profile}` of {notebook}; passed over " + "; ".join(why),
              file=sys.stderr)
    text, caption = table(best.records)
    name_of_figure, caption_of_figure = readme_figure(notebook)
    figure = figure_markdown(notebook, name_of_figure, best.profile, caption_of_figure, src)
    return "\n\n".join([profile_line(best, notebook, src), text,
                         caption + " Mean ± std over seeds where there are several.", *([figure] if figure else [])])


# ---- the findings block -------------------------------------------------------------------------

FINDING_NOTEBOOKS = ("01_supervised", "02_simclr", "03_simclr_v2")
FINETUNED = "fine-tuned from head layer 1"  # 03's SimCLRv2 arm, compared with training from scratch


def by_seed(records: Iterable[RunRecord], key: str, **where: Any) -> dict[int, float]:
    """``seed -> results[key]`` of the records whose config matches ``where`` (finite values only)."""
    out = {}
    for r in records:
        value = r.results.get(key)
        if all(getattr(r.config, k) == v for k, v in where.items()) and isinstance(value, (int, float)) \
                and math.isfinite(value):
            out[r.config.seed] = float(value)
    return out


def paired_stats(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[float, float, int, float]:
    """``a - b`` paired by seed (the seeds both have): mean, std, seeds, and the p of the two-sided paired
    t-test (nan under two seeds), as every claim's (lib.report.statistics.FAMILY_VERDICT_RULE)."""
    seeds = sorted(set(a) & set(b))
    mean, std, n = mean_std([a[s] - b[s] for s in seeds])
    p = two_sided_p(mean, std, n)
    return mean, std, n, p


def worded(mean: float, std: float, n: int, p: float, q: float) -> str:
    """``"+4.9 ± 2.0 points (higher, p = 0.026, q = 0.031)"``: higher or lower when q < ALPHA."""
    if not n:
        return "– (no result)"
    if n < 2:
        return f"{100 * mean:+.1f} points (one seed: no test)"
    word = ("higher" if mean > 0 else "lower") if q < ALPHA else "no significant difference"
    return f"{100 * mean:+.1f} ± {100 * std:.1f} points ({word}, p = {p:.2g}, q = {q:.2g})"


class Family:
    """The paired comparisons of the findings, worded once all are known (their q-values need them all)."""

    def __init__(self) -> None:
        self.stats: list[tuple[float, float, int, float]] = []

    def add(self, a: Mapping[int, float], b: Mapping[int, float]) -> str:
        """A placeholder for ``a - b``, replaced by :meth:`fill`."""
        self.stats.append(paired_stats(a, b))
        return f"\x00{len(self.stats) - 1}\x00"

    def fill(self, text: str) -> str:
        qs = bh_qvalues([st[3] for st in self.stats])
        return re.sub("\x00(\\d+)\x00", lambda m: worded(*self.stats[int(m.group(1))], qs[int(m.group(1))]), text)


def _mean(values: Mapping[int, float]) -> float:
    return statistics.fmean(values.values()) if values else -math.inf


def findings_profile(src: Sources) -> tuple[str | None, dict[str, Chosen]]:
    """The first profile (of ``--profile`` or :data:`PROFILE_ORDER`) at which 01, 02 and 03 all have complete
    manifests, with those manifests; ``(None, {})`` when there is none."""
    for p in [src.profile] if src.profile else PROFILE_ORDER:
        states = {nb: manifest_state(nb, src.runs_dir, p)[0] for nb in FINDING_NOTEBOOKS}
        if all(states.values()):
            return p, states  # type: ignore[return-value]
    return None, {}


def render_findings(src: Sources) -> str:
    """4-6 findings, each a number from the records of one profile, the paired test behind it and a link
    to its page: the best supervised loss, SimCLR against it, h against z, SimCLRv2 against training from
    scratch at each label fraction, and the tally of the papers' claims."""
    profile, chosen = findings_profile(src)
    if profile is None:
        return pending(f"No profile with complete manifests of {', '.join(FINDING_NOTEBOOKS)} in "
                       f"`{relative(src.runs_dir / tables.MANIFEST_DIR, src.readme_dir)}/`.")
    family = Family()
    compared = family.add
    page = lambda nb, text: link(report_page(src, profile, nb), src.readme_dir, text)  # noqa: E731
    lines = [f"From the records of profile `{profile}` ({data_and_seeds(chosen['01_supervised'])}; "
             f"{link(src.readme_dir / 'reports' / profile / 'index.html', src.readme_dir, 'its pages')}). "
             "Differences are paired by seed: mean ± std in points, the p of a two-sided paired t-test and its "
             "Benjamini-Hochberg q across every test of this list; a difference "
             "is called higher or lower when q < 5 %.", ""]
    sup_runs = chosen["01_supervised"].records
    sup = {label: by_seed(recs, "h/knn_top1") for label, recs in sup_runs.items()}
    # every loss on both view sets (issue #24): the losses are ranked within each view set, never a loss
    # against itself on other views; one scope ("") where each loss has its own views
    best_first = lambda labels: sorted((label for label in labels if sup[label]), key=lambda label: _mean(sup[label]),  # noqa: E731
                                       reverse=True)
    ranked = {v: best_first(within) for v, within in conclusions.within_view_sets(sup_runs).items()}
    parts = []
    for views, order in ranked.items():
        if order:
            best = order[0]
            parts.append(f"{f'On {views} the' if views else 'the'} highest kNN top-1 on h is {best}'s, "
                         f"{conclusions.pct(list(sup[best].values()))}"
                         + (f"; {best} − {order[1]}: {compared(sup[best], sup[order[1]])}" if len(order) > 1 else ""))
    if parts:
        lines.append(f"- **Supervised losses** ({page('01_supervised', '01')}): " + ". ".join(parts) + ".")
    simclr = unique_runs(chosen["02_simclr"].records)
    h, z = by_seed(simclr, "h/knn_top1"), by_seed(simclr, "z/knn_top1")
    # SimCLR against the best supervised loss on SimCLR's own view set where 01 ran one (only the labels
    # differ), else against the best loss overall
    same_views = [v for v in ranked if v and ranked[v] and simclr
                  and sup_runs[ranked[v][0]][0].config.effective_views == simclr[0].config.effective_views]
    order = ranked[same_views[0]] if same_views else best_first(sup)
    if h and order:
        lines.append(f"- **SimCLR, without labels, against {order[0]} with every label** ({page('02_simclr', '02')}): "
                     f"kNN top-1 on h {conclusions.pct(list(h.values()))}; SimCLR − {order[0]}: "
                     f"{compared(h, sup[order[0]])}.")
    hp, zp = by_seed(simclr, "h/linear_probe_top1"), by_seed(simclr, "z/linear_probe_top1")
    if hp and zp:
        lines.append(f"- **SimCLR's encoder output h against the projection head's output z** "
                     f"({page('02_simclr', '02')}): linear probe on h "
                     f"{conclusions.pct(list(hp.values()))}, on z {conclusions.pct(list(zp.values()))}; "
                     f"h − z: {compared(hp, zp)}; kNN on h − on z: {compared(h, z)}.")
    v2 = chosen["03_simclr_v2"].records
    fractions = sorted({r.config.label_fraction for recs in v2.values() for r in recs if "test_top1" in r.results})
    for f in (f for f in fractions if f < 1):
        tuned = by_seed(v2.get(FINETUNED, []), "test_top1", label_fraction=f)
        scratch = {label: by_seed(recs, "test_top1", label_fraction=f) for label, recs in v2.items()
                   if label.startswith("from scratch")}
        scratch = {label: v for label, v in scratch.items() if v}
        if not tuned or not scratch:
            continue
        base = max(scratch, key=lambda label: _mean(scratch[label]))
        lines.append(f"- **SimCLRv2 with {100 * f:g} % of the labels, against the stronger from-scratch baseline** "
                     f"({page('03_simclr_v2', '03')}): {FINETUNED} {conclusions.pct(list(tuned.values()))}, "
                     f"{base} {conclusions.pct(list(scratch[base].values()))}; difference: "
                     f"{compared(tuned, scratch[base])}.")
    related = [c for nb in notebooks.related() for c in [manifest_state(nb, src.runs_dir, profile)[0]] if c]
    if related:
        table = tables.related_work_table({c.manifest["notebook"]: c.manifest for c in related})
        lines.append(f"- **The papers' claims** ({page('09_summary', '09')}; "
                     f"[table](#the-claims-reproduced)): of {len(table)} claims tested in 05-08, "
                     f"{conclusions.verdict_tally(list(table['verdict']))}.")
    return family.fill("\n".join(lines))


# Claims name their settings ("batch 512 - 128", "10% labels"); a claim is matched across profiles by its
# text with the numbers taken out, and by its place among the notebook's claims of that same text.
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# the budget a claim measured at two budgets names (lib.report.claims._budget and color_budget): "(…, 1,250 steps)",
# "(150 SimCLR and 225 supervised steps)"; a profile with one budget words the claim without it
_BUDGET = re.compile(r", [\d,]+ steps?(?=\)$)| \([\d,]+ SimCLR and [\d,]+ supervised steps?\)$")


def claim_keys(notebook: str, claims: Iterable[str]) -> list[tuple[str, str, int]]:
    """``(notebook, claim without its numbers and budget, occurrence)`` of each claim, in order: a claim
    measured at two budgets at one profile and at one at another meets the other's row at its first
    budget, the one the single-budget profile runs."""
    seen: dict[str, int] = {}
    keys = []
    for claim in claims:
        shape = _NUMBER.sub("#", _BUDGET.sub("", claim))
        keys.append((notebook, shape, seen.get(shape, 0)))
        seen[shape] = seen.get(shape, 0) + 1
    return keys


def render_related(src: Sources) -> str:
    """Every reproduced claim with our verdict at each profile with complete records (best first), then
    the best profile's figure and provenance of each notebook."""
    chosen = {nb: choose_manifests(nb, src.runs_dir, src.profile)[0] for nb in notebooks.related()}
    profiles = [p for p in ([src.profile] if src.profile else PROFILE_ORDER)
                if any(c.profile == p for cs in chosen.values() for c in cs)]
    if not profiles:
        return pending(f"No manifest of the related-work notebooks (05-08) with complete records at profile "
                       f"{src.profile or ' or '.join(PROFILE_ORDER)}.")
    # one family per profile: every related-work manifest of that profile with complete records, judged at once
    judged = {p: tables.related_work_table({nb: c.manifest for nb, cs in chosen.items() for c in cs if c.profile == p})
              for p in profiles}
    first = profiles[0]
    detail = ["ours (points)", "95 % CI (points)", "p", "q", "verdict"]  # the first profile's columns
    width = 4 + len(detail) + len(profiles) - 1
    rows: dict[tuple[str, str, int], list[str]] = {}
    for nb, cs in chosen.items():
        ran = {c.profile for c in cs}
        absent = (["–"] * (len(detail) - 1) + ["not run at this profile" if first not in ran else "–"]
                  + ["not run at this profile" if p not in ran else "–" for p in profiles[1:]])
        if not cs:
            claims, figures = notebooks.related()[nb]
            rows[(nb, "", 0)] = [f"`{nb}`", figures, claims, "–", *absent]
        for c in cs:
            table = judged[c.profile]
            table = table[table["notebook"] == nb]
            for key, (_, row) in zip(claim_keys(nb, table["claim"]), table.iterrows()):
                if key not in rows:  # linked to the page the README's tables show (a claim worded only at another
                    page = first if first in ran else c.profile  # profile still links its notebook's page there)
                    rows[key] = [link(report_page(src, page, nb), src.readme_dir, nb), row["paper"], row["claim"],
                                 _cell(row["paper (points)"]), *absent]
                if c.profile == first:
                    rows[key][4:4 + len(detail)] = [_cell(row[k]) for k in detail]
                else:
                    rows[key][4 + len(detail) + profiles[1:].index(c.profile)] = _verdict_cell(row)
                if rows[key][3] == "–":
                    rows[key][3] = _cell(row["paper (points)"])
    assert all(len(r) == width for r in rows.values())
    header = (["notebook", "paper", "claim", "paper's effect (points)"]
              + [f"`{first}`: {d}" if d in ("ours (points)", "verdict") else d for d in detail]
              + [f"`{p}`: verdict; effect vs the paper's" for p in profiles[1:]])
    described = []
    for p in profiles:
        c = next(c for cs in chosen.values() for c in cs if c.profile == p)
        described.append(f"`{p}` ({data_and_seeds(c)}, "
                         f"{link(src.readme_dir / 'reports' / p / 'index.html', src.readme_dir, 'reports')})")
    parts = [markdown_table(header, rows.values()),
             f"Our effect (mean ± std over seeds) beside the paper's, in points; for `{first}` its 95 % t-interval, the "
             "p of its test and the Benjamini-Hochberg q over the family of every claim of 05-08 at that profile (each "
             "profile is its own family), recomputed here from the per-seed effects each notebook stored in its "
             f"manifest; a verdict column for each further profile. The profiles: {'; '.join(described)}. A claim's "
             "wording is the first "
             f"profile's (its settings differ between profiles). The rule: {FAMILY_VERDICT_RULE}."]
    figures, manifests = [], []
    for nb, cs in chosen.items():
        if not cs:
            continue
        best = cs[0]
        name, caption = readme_figure(nb)
        path = plots.readme_figure_path(nb, name, best.profile, src.readme_dir / "images") if name else None
        if path is not None and path.is_file():
            figures.append((f"![{caption}]({relative(path, src.readme_dir)})", f"*{nb[:2]}: {caption}*"))
        runs = unique_runs(best.records)
        manifests.append(f"{link(best.path, src.readme_dir, nb[:2])} ({len(runs)} runs, "
                         f"{format_duration(sum(r.provenance.get('wall_time_s') or 0.0 for r in runs))})")
    if figures:
        parts.append(figure_grid(figures))
    parts.append(f"Profile `{chosen_profile(chosen)}`; run ids, commits and devices per notebook in its manifest: "
                 + ", ".join(manifests) + ".")
    return "\n\n".join(parts)


def _cell(value: Any) -> str:
    """A cell of the claims table: "–" for a missing or NaN value, a number as it reads, text as it is."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _verdict_cell(row: Mapping[str, Any]) -> str:
    """A further profile's cell: its verdict and our effect (a manifest without stored claims: its headline text,
    which holds both)."""
    ours = _cell(row.get("ours (points)"))
    if ours == "–":
        return str(row["verdict"])
    return f"{row['verdict']}; ours {ours} vs paper {_cell(row.get('paper (points)'))}"


def chosen_profile(chosen: Mapping[str, list[Chosen]]) -> str:
    """The profiles whose figures and manifests a related block shows (each notebook's best), joined."""
    return "`, `".join(dict.fromkeys(cs[0].profile for cs in chosen.values() if cs))


def figure_grid(figures: list[tuple[str, str]], columns: int = 2) -> str:
    """Figures as a table of ``columns`` images per row, each captioned in the row below it: a grid the
    reader scans at once, in a few lines of Markdown."""
    rows = [figures[i:i + columns] for i in range(0, len(figures), columns)]
    lines = []
    for i, row in enumerate(rows):
        row = row + [("", "")] * (columns - len(row))
        lines.append("| " + " | ".join(img for img, _ in row) + " |")
        if i == 0:
            lines.append("| " + " | ".join([":---:"] * columns) + " |")
        lines.append("| " + " | ".join(cap for _, cap in row) + " |")
    return "\n".join(lines)


def commit_label(prov: Mapping[str, Any]) -> str:
    """``abc1234`` (in backticks) of a record's or a result file's provenance, marked when the tree was dirty."""
    return f"`{(prov.get('commit') or 'unknown')[:7]}`" + (" (dirty tree)" if prov.get("dirty") else "")


def unique_runs(records: Mapping[str, list[RunRecord]]) -> list[RunRecord]:
    """The records of a manifest, each once (a run may stand behind several labels)."""
    return list({r.run_id: r for recs in records.values() for r in recs}.values())


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# ---- the performance block ---------------------------------------------------------------------

def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–" if value is None else str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _percent(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _load(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"benchmark result {path} is unreadable: {e}") from None


def _ceiling(c: dict | None) -> str:
    """Amdahl's ceiling of a throughput file: with the measured step / with the step at the peak."""
    if not c:
        return "–"
    return f"{_number(c.get('speedup_at_measured_step'))}× / {_number(c.get('speedup_at_peak_step'))}×"


def render_performance(src: Sources) -> str:
    """The committed throughput tables (newest first) and the newest full GPU check's targets."""
    throughput = sorted(((p, _load(p)) for p in src.results_dir.glob("throughput*.json")),
                        key=lambda item: (item[1].get("provenance", {}).get("date", ""), item[0].name), reverse=True)
    checks = sorted(((p, _load(p)) for p in src.results_dir.glob("gpu_check*.json")),
                    key=lambda item: (item[1].get("provenance", {}).get("date", ""), item[0].name), reverse=True)
    checks = [(p, r) for p, r in checks if not r.get("tiny")]  # a --tiny check is a smoke test, not a figure
    comparison = src.results_dir / "simclr_vs_lightly-cpu.json"
    if not throughput and not checks and not comparison.is_file():
        return ("No measurement is committed yet: `make benchmark` (CPU) and `benchmarks/gpu_check.py` (GPU, see "
                "`benchmarks/README.md`) write theirs, with provenance, to "
                f"{link(src.results_dir, src.readme_dir)}.")
    parts = []
    if throughput:
        rows = []
        for path, r in throughput:
            p, res = r.get("provenance", {}), r.get("results", {})
            aug, train = res.get("augment_views_per_s", {}), res.get("train_views_per_s", {})
            rows.append([link(path, src.readme_dir, path.name), p.get("device", "–"),
                         f"{r.get('arch', '–')}, batch {r.get('batch_size', '–')}", _number(r.get("threads")),
                         f"{_number(aug.get('ours'))} / {_number(aug.get('peer'))}",
                         f"{_number(train.get('ours'))} / {_number(train.get('peer'))}",
                         f"{_number(train.get('speedup'))}×", _ceiling(train.get("ceiling")),
                         _percent(res.get("flops", {}).get("fraction_of_peak")),
                         (p.get("date") or "–")[:10],
                         commit_label(p)])
        parts.append(markdown_table(["result", "device", "model", "threads", "augmentation views/s, ours / PIL",
                                     "training views/s, ours / PIL", "training speed-up", "ceiling", "of peak", "date",
                                     "commit"], rows))
        parts.append("Views per second of our on-device augmentation and of the full SimCLR training step, against "
                     "torchvision's PIL transforms with a DataLoader, in one process on one machine; *of peak*: the "
                     "training step's FLOP rate over a matmul loop measured in the same run (bf16 on the GPU, fp32 on "
                     "the CPU); *ceiling*: Amdahl's bound on the training speed-up that any input pipeline could give with "
                     "this backbone, with its step as measured / at that peak (PIL's single-process work per view "
                     "cannot hide behind a step that keeps every core busy). "
                     + ("The sections above define each figure." if src.readme_dir.name == "benchmarks"
                        else "`benchmarks/README.md` defines each figure."))
    if checks:
        path, r = checks[0]
        p = r.get("provenance", {})
        targets = "; ".join(
            f"{key} {_number(v.get('measured', v.get('measured_minutes')))} (target {_number(v.get('target'))}): "
            + ("met" if v.get("met") else "**not met**") for key, v in (r.get("targets") or {}).items())
        parts.append(f"GPU check {link(path, src.readme_dir, path.name)}: {p.get('device', '–')}, "
                     f"{(p.get('date') or '–')[:10]}, commit {commit_label(p)}, status "
                     f"{r.get('status', '–')}, {format_duration(r.get('wall_seconds') or 0.0)}. "
                     f"Targets: {targets or 'none recorded'}.")
        tta = r.get("time_to_accuracy") or {}
        curve = [pt for pt in tta.get("curve", []) if pt.get("knn_top1") is not None]
        if curve:
            cfg, last = tta.get("config", {}), curve[-1]
            parts.append(f"Time to accuracy (run `{tta.get('run_id', '–')}`, {cfg.get('arch', '–')}, batch "
                         f"{cfg.get('batch_size', '–')}, {cfg.get('epochs', '–')} epochs, temperature "
                         f"{cfg.get('temperature', '–')}): kNN top-1 {_percent(curve[0]['knn_top1'])} at the random "
                         f"initialisation, {_percent(tta.get('best_knn_top1'))} best, after "
                         f"{format_duration(last.get('wall_seconds') or 0.0)} of wall time "
                         f"({_number((tta.get('sizing') or {}).get('epoch_train_seconds'))} s of training per epoch).")
    if comparison.is_file():
        parts.append(render_recipe_comparison(comparison, _load(comparison), src))
    samplers = src.results_dir / "crop_sampler_vs_lightly-cpu.json"
    if samplers.is_file():
        parts.append(render_crop_sampler_comparison(samplers, _load(samplers), src))
    return "\n\n".join(parts)


def render_performance_summary(src: Sources) -> str:
    """The README's short performance block: training views/s of each committed throughput file, and the
    paired differences of the committed accuracy benchmarks; the details are ``benchmarks/README.md``'s."""
    throughput = sorted(((p, _load(p)) for p in src.results_dir.glob("throughput*.json")),
                        key=lambda item: (item[1].get("provenance", {}).get("date", ""), item[0].name), reverse=True)
    parts = []
    if throughput:
        rows = []
        for path, r in throughput:
            p, train = r.get("provenance", {}), r.get("results", {}).get("train_views_per_s", {})
            rows.append([link(path, src.readme_dir, path.name), p.get("device", "–"),
                         f"{r.get('arch', '–')}, batch {r.get('batch_size', '–')}",
                         f"{_number(train.get('ours'))} / {_number(train.get('peer'))}", f"{_number(train.get('speedup'))}×"])
        parts.append(markdown_table(["result", "device", "model", "SimCLR training views/s, ours / PIL", "speed-up"],
                                    rows))
    rows = []
    recipe = src.results_dir / "simclr_vs_lightly-cpu.json"
    if recipe.is_file():
        s = _load(recipe).get("summary", {})
        n = len(s.get("seeds", []))
        rows.append([link(recipe, src.readme_dir, recipe.name), "our pipeline and recipe − lightly's", str(n),
                     _mean_std(s.get("difference_at_equal_epochs"), sign=True),
                     _mean_std(s.get("difference_at_equal_wall_time"), sign=True)])
        control = s.get("control") or {}
        if control:
            rows.append([link(recipe, src.readme_dir, recipe.name), "lightly's recipe: our pipeline − lightly's", str(n),
                         _mean_std(control.get("difference_at_equal_epochs"), sign=True),
                         _mean_std(control.get("difference_at_equal_wall_time"), sign=True)])
    samplers = src.results_dir / "crop_sampler_vs_lightly-cpu.json"
    if samplers.is_file():
        pair = _load(samplers).get("summary", {}).get("torchvision_vs_subpixel", {})
        rows.append([link(samplers, src.readme_dir, samplers.name), "crop sampler: torchvision − subpixel (#27)",
                     str(len(pair.get("seeds", []))),
                     paired_verdict((pair.get("difference_at_equal_epochs") or {}).get("values", [])),
                     paired_verdict((pair.get("difference_at_equal_wall_time") or {}).get("values", []))])
    if rows:
        parts.append(markdown_table(["result", "paired comparison (kNN top-1, points)", "seeds", "at equal epochs",
                                     "at equal wall time"], rows))
    if not parts:
        return ("No measurement is committed yet: `make benchmark` (CPU) and `benchmarks/gpu_check.py` (GPU) write "
                f"theirs to {link(src.results_dir, src.readme_dir)}.")
    parts.append("Mean ± std over the seeds; set-ups, the GPU check, what each figure means and its caveats: "
                 f"{link(src.readme_dir / 'benchmarks' / 'README.md', src.readme_dir, 'benchmarks/README.md')}.")
    return "\n\n".join(parts)


def _mean_std(stat: Mapping[str, Any] | None, scale: float = 100.0, digits: int = 1, sign: bool = False) -> str:
    """``mean ± std`` of a benchmark statistic ({"mean", "std", "n"}), scaled (points by default)."""
    if not stat or stat.get("mean") is None:
        return "–"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    text = fmt.format(stat["mean"] * scale)
    return text + (f" ± {stat['std'] * scale:.{digits}f}" if stat.get("std") is not None else "")


def render_recipe_comparison(path: Path, r: Mapping[str, Any], src: Sources) -> str:
    """benchmarks/simclr_vs_lightly.py: our pipeline and recipe against lightly's, at equal epochs and wall time."""
    s, p, setup = r.get("summary", {}), r.get("provenance", {}), r.get("setup", {})
    rows = []
    control = s.get("control") or {}
    arms = [("ours", s.get("ours", {}), "ours: `lib.views` on the whole batch, official SimCLR recipe (LARS)"),
            ("lightly", s.get("lightly", {}), "lightly's CIFAR-10 recipe: `SimCLRTransform` + DataLoader, SGD")]
    if control:
        arms.append(("control", control.get("ours_lightly_recipe", {}),
                     "control: `lib.views` on the whole batch, lightly's recipe (SGD)"))
    for _, q, label in arms:
        rows.append([label, _mean_std(q.get("final_knn_top1")), _mean_std(q.get("total_train_seconds"), 1.0, 0),
                     _mean_std(q.get("views_per_second"), 1.0, 0), _mean_std(q.get("knn_at_equal_wall_time"))])
    seeds = s.get("seeds", [])
    dataset = str(setup.get("dataset", ""))
    data = "CIFAR-10 (JPEG q75)" if "cifar10-jpeg" in dataset else dataset
    head = (f"SimCLR on this CPU, our pipeline against lightly's ({link(path, src.readme_dir, path.name)}): {data}, "
            f"{_number(r.get('train_images'))} training and {_number(r.get('monitor_images'))} test images, "
            f"{setup.get('arch', '–')} ×{setup.get('width', '–')} for both, batch {setup.get('batch_size', '–')}, "
            f"{setup.get('epochs', '–')} epochs, {conclusions.plural(len(seeds), 'seed')} (the same for both), {p.get('device', '–')}, "
            f"{(p.get('date') or '–')[:10]}, commit {commit_label(p)}.")
    table = markdown_table(["pipeline", f"kNN after {setup.get('epochs', '–')} epochs", "training seconds",
                            "views/s", "kNN at equal wall time"], rows)
    eq_e, eq_t = s.get("difference_at_equal_epochs"), s.get("difference_at_equal_wall_time")
    tail = (f"Paired differences in points, mean ± std over the seeds: ours − lightly {_mean_std(eq_e, sign=True)} at "
            f"equal epochs, {_mean_std(eq_t, sign=True)} at equal wall time")
    if control:
        tail += (f"; the same recipe through both pipelines (control − lightly) "
                 f"{_mean_std(control.get('difference_at_equal_epochs'), sign=True)} at equal epochs, "
                 f"{_mean_std(control.get('difference_at_equal_wall_time'), sign=True)} at equal wall time")
    tail += (". At equal wall time both runs of a seed are read at the training time of the shorter one (the kNN of "
             "their last epoch within it). kNN: weighted, k = 200, t = 0.1, on the encoder output, the same function "
             "for every arm; training time excludes the evaluations. The control row's kNN at equal wall time is "
             "read against lightly's run.")
    return "\n\n".join([head, table, tail])


def paired_verdict(values: list[float]) -> str:
    """Mean ± std of paired differences (in points), their 95 % t-interval and the paired t-test's verdict:
    "inconclusive" when the interval holds 0, else the sign of the effect."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return "one seed: no interval"
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
    p = float(stats.ttest_1samp(values, 0.0).pvalue) if std > 0 else (1.0 if mean == 0 else 0.0)
    verdict = "inconclusive" if mean - half <= 0 <= mean + half else ("higher" if mean > 0 else "lower")
    return (f"{100 * mean:+.1f} ± {100 * std:.1f} (95 % interval {100 * (mean - half):+.1f} to "
            f"{100 * (mean + half):+.1f}, paired t-test p = {p:.2g}: {verdict})")


def render_crop_sampler_comparison(path: Path, r: Mapping[str, Any], src: Sources) -> str:
    """benchmarks/crop_sampler_vs_lightly.py (issue #27): our pipeline with the sub-pixel and the torchvision
    crop sampler, and lightly's pipeline, at lightly's recipe."""
    s, p, setup = r.get("summary", {}), r.get("provenance", {}), r.get("setup", {})
    vs_lightly = {arm: s.get(f"{arm}_vs_lightly", {}) for arm in ("subpixel", "torchvision")}
    labels = {"subpixel": "ours, `crop_sampler=subpixel` (before #27)",
              "torchvision": "ours, `crop_sampler=torchvision` (now)",
              "lightly": "lightly: `SimCLRTransform` + DataLoader"}
    rows = []
    for arm, label in labels.items():
        q = (vs_lightly["torchvision"] or vs_lightly["subpixel"]).get(arm, {}) if arm == "lightly" else \
            vs_lightly[arm].get(arm, {})
        rows.append([label, _mean_std(q.get("final_knn_top1")), _mean_std(q.get("total_train_seconds"), 1.0, 0),
                     _mean_std(q.get("views_per_second"), 1.0, 0)])
    pair = s.get("torchvision_vs_subpixel", {})
    seeds = pair.get("seeds", [])
    head = (f"Crop sampler before and after issue #27, with lightly's recipe ({link(path, src.readme_dir, path.name)}): "
            f"{r.get('scale', '–')}; {p.get('device', '–')}, {(p.get('date') or '–')[:10]}, commit "
            f"{commit_label(p)}.")
    table = markdown_table(["pipeline", f"kNN after {setup.get('epochs', '–')} epochs", "training seconds",
                            "views/s"], rows)
    eq_e = (pair.get("difference_at_equal_epochs") or {}).get("values", [])
    eq_t = (pair.get("difference_at_equal_wall_time") or {}).get("values", [])
    tail = (f"torchvision − subpixel, paired over seeds {seeds}, in kNN points: {paired_verdict(eq_e)} at equal epochs, "
            f"{paired_verdict(eq_t)} at equal wall time; against lightly at equal epochs: subpixel "
            f"{_mean_std(vs_lightly['subpixel'].get('difference_at_equal_epochs'), sign=True)}, torchvision "
            f"{_mean_std(vs_lightly['torchvision'].get('difference_at_equal_epochs'), sign=True)}.")
    return "\n\n".join([head, table, tail])


BLOCKS: dict[str, Callable[[str, Sources], str]] = {
    **{name: render_iteration for name in ITERATIONS},
    "findings": lambda name, src: render_findings(src),
    "related": lambda name, src: render_related(src),
    "performance": lambda name, src: render_performance_summary(src),
    "benchmarks": lambda name, src: render_performance(src),
}


def render(name: str, sources: Sources) -> str:
    """The generated content of block ``name`` (without the markers)."""
    return ("<!-- generated by scripts/update_readme.py from the run records; edit the records, not this -->\n\n"
            + BLOCKS[name](name, sources))


# ---- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python scripts/update_readme.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 with a diff when the README's blocks differ from the records")
    parser.add_argument("--readme", default=str(repo_path("README.md")), help="the file to update (default README.md)")
    parser.add_argument("--runs-dir", default=str(repo_path("runs")),
                        help="run records and their _manifests/ (default the repository's runs/)")
    parser.add_argument("--results-dir", default=str(repo_path("benchmarks/results")),
                        help="benchmark results (default benchmarks/results/)")
    parser.add_argument("--profile", default=None, choices=list(PROFILES),
                        help=f"use this profile's manifests (default: the first of {', '.join(PROFILE_ORDER)} present)")
    return parser


def update_file(readme: Path, args: argparse.Namespace, required: bool) -> int:
    """Regenerate (or ``--check``) the blocks of one Markdown file; 0 when done or up to date, 1 when stale,
    2 on bad markers. A file that is not ``required`` is skipped when absent."""
    if not required and not readme.is_file():
        return 0
    text = readme.read_text(encoding="utf-8")
    sources = Sources(Path(args.runs_dir), Path(args.results_dir), readme.parent, args.profile)
    try:
        if not find_blocks(text):
            raise ValueError(f"{readme} has no result blocks (<!-- results:NAME:start --> ... "
                             f"<!-- results:NAME:end -->; NAME one of {', '.join(BLOCKS)})")
        new = update_text(text, sources)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if new == text:
            print(f"{readme}: the result blocks match the records")
            return 0
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                                   f"{readme.name} (committed)", f"{readme.name} (from the records)"))
        print(f"{readme} is out of date: run `python scripts/update_readme.py`", file=sys.stderr)
        return 1
    if new != text:
        readme.write_text(new, encoding="utf-8")
    print(f"{readme}: {'updated' if new != text else 'already up to date'} ({', '.join(find_blocks(new))})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The README, then ``benchmarks/README.md`` beside it when that exists (the performance details)."""
    args = build_parser().parse_args(argv)
    readme = Path(args.readme)
    codes = [update_file(readme, args, True), update_file(readme.parent / "benchmarks" / "README.md", args, False)]
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
