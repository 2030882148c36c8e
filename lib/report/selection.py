"""Choices made on the validation split, never on the test set (issue #24): pure functions of records.

A notebook that tunes something (03's learning rate and weight decay, 07's rate of the arm without l2
normalisation, 08's fine-tuning layer) trains every candidate with ``val_size`` images carved from
the training images, and each record holds its validation score (``val_top1`` of a classifier,
``val/knn_top1`` of an encoder: :func:`lib.training.validation_scores`). For every seed the candidate
with the best validation score is chosen, and its *test* score is what the claim compares; the test
scores of the candidates that were not chosen play no part. Choosing per seed keeps the seeds
independent replicates of the whole procedure, tuning included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from ..records import RunRecord
from .statistics import result_value

Candidates = Mapping[Any, Sequence[RunRecord]]  # candidate key -> one record per seed (paired by position)

# The rule that a run trained: its monitor's kNN accuracy gained at least this over its random initialisation
TRAINED_GAIN = 0.01


def choose(candidates: Candidates, by: str) -> list[Any]:
    """Per seed, the candidate key whose record scores highest on the validation score ``by``; ties go to
    the first key in ``candidates``' order. A candidate without the score (not a number) is never chosen,
    and a seed where none has it fails, naming the score: choosing on the test set instead is not an option."""
    keys = list(candidates)
    if not keys:
        raise ValueError("no candidates to choose from")
    seeds = {len(candidates[k]) for k in keys}
    if len(seeds) != 1:
        raise ValueError(f"the candidates have different numbers of seeds: {sorted(seeds)}")
    chosen = []
    for s in range(seeds.pop()):
        scored = [(result_value(candidates[k][s], by), i) for i, k in enumerate(keys)]
        scored = [(v, i) for v, i in scored if math.isfinite(v)]
        if not scored:
            raise ValueError(f"seed {s}: no candidate has the validation score {by!r} (trained without val_size?)")
        best = max(v for v, _ in scored)
        chosen.append(keys[min(i for v, i in scored if v == best)])
    return chosen


def chosen_values(candidates: Candidates, by: str, report: str) -> tuple[list[float], list[Any]]:
    """Per seed: ``report`` (a test score) of the candidate chosen on ``by``, and the chosen keys."""
    keys = choose(candidates, by)
    return [result_value(candidates[k][s], report) for s, k in enumerate(keys)], keys


def split_by(group: Mapping[Any, Sequence[RunRecord]], arm: Callable[[Any], Hashable],
             candidate: Callable[[Any], Any]) -> dict[Hashable, dict[Any, Sequence[RunRecord]]]:
    """``group`` (key -> records) regrouped as arm -> {candidate -> records}: e.g. 03's tuned keys
    ``(layer, fraction, lr, weight decay)`` by arm ``(layer, fraction)`` and candidate ``(lr, weight decay)``."""
    out: dict[Hashable, dict[Any, Sequence[RunRecord]]] = {}
    for key, records in group.items():
        out.setdefault(arm(key), {})[candidate(key)] = records
    return out


def tuned(group: Mapping[Any, Sequence[RunRecord]], n_arm: int, by: str, report: str
          ) -> tuple[dict[Any, list[float]], dict[Any, list[Any]]]:
    """Per arm (the first ``n_arm`` items of each key; the rest is the candidate), the per-seed ``report`` of
    the candidate chosen on ``by``, and the choices."""
    values, choices = {}, {}
    for arm, candidates in split_by(group, lambda k: k[:n_arm], lambda k: k[n_arm:]).items():
        values[arm], choices[arm] = chosen_values(candidates, by, report)
    return values, choices


def trained(record: RunRecord, key: str = "knn_top1", gain: float = TRAINED_GAIN) -> bool:
    """Whether a run trained: its monitor's ``key`` at the last evaluation exceeds the first (epoch 0, the
    random initialisation) by at least ``gain``. A run that did not train gives no verdict."""
    values = [e[key] for e in record.epochs if isinstance(e.get(key), (int, float))]
    return len(values) >= 2 and values[-1] - values[0] >= gain


def choice_counts(choices: Sequence[Any]) -> str:
    """``[a, a, b]`` -> ``"a (2 seeds), b (1 seed)"``: what validation chose, for the page."""
    counts: dict[Any, int] = {}
    for c in choices:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"{c} ({n} seed{'s' if n != 1 else ''})" for c, n in counts.items())


def chosen_runs(group: Mapping[Any, Sequence[RunRecord]], n_arm: int, by: str
                ) -> tuple[dict[Any, list[RunRecord]], dict[Any, list[Any]]]:
    """Per arm (the first ``n_arm`` items of each key), the record of the candidate chosen on ``by`` for each
    seed, and the choices: a tuned group read as an untuned one (arm -> one record per seed), so that every
    table, figure, comparison and manifest takes the chosen runs where it took the untuned ones. E.g. 03's
    ``(layer, fraction, lr, weight decay)`` -> ``(layer, fraction)``: ``[record of seed 0's choice, ...]``."""
    runs, choices = {}, {}
    for arm, candidates in split_by(group, lambda k: k[:n_arm], lambda k: k[n_arm:]).items():
        choices[arm] = choose(candidates, by)
        runs[arm] = [candidates[c][s] for s, c in enumerate(choices[arm])]
    return runs, choices
