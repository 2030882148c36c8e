"""Statistics over seeds and the verdicts of the related-work claims: pure functions of numbers.

:func:`mean_std` is the one statistic over seeds; a claim's effect is paired by seed
(:func:`seed_deltas`) and judged by a one-sided paired t-test (:func:`one_sided_p`,
:func:`effect_verdict`); :func:`claim_row` is one row of a notebook's paper-vs-ours table.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..records import RunRecord

def result_value(record: RunRecord, key: str) -> float:
    """``record.results[key]`` as a float; NaN when absent or not a number (NaN is stored as null)."""
    value = record.results.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def result_values(records: Sequence[RunRecord], key: str) -> list[float]:
    """:func:`result_value` of each record (one per seed)."""
    return [result_value(r, key) for r in records]


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """The thesis' statistic over seeds: mean, sample standard deviation (``ddof=1``; 0 for a single
    value) and count of the finite values; NaN, NaN, 0 for none."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return math.nan, math.nan, 0
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0, int(finite.size)


def last_epoch_values(records: Sequence[RunRecord], key: str) -> list[float]:
    """``key`` in each record's last per-epoch line (e.g. the training ``contrastive_top1``); NaN if absent."""
    out = []
    for r in records:
        v = r.epochs[-1].get(key) if r.epochs else None
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
    return out


def per_seed_best(values: Mapping[Any, Sequence[float]], keys: Sequence[Any]) -> list[float]:
    """For every seed, the best value among the settings ``keys`` (``values``: setting -> per-seed list).

    Choosing the best setting on the test metric flatters it a little (a selection effect); the
    comparison between two such maxima, as in the papers' "optimal layer", shares that bias.
    """
    keys = list(keys)
    if not keys:
        raise ValueError("keys is empty: no settings to take the best of")
    lengths = {len(values[k]) for k in keys}
    if len(lengths) != 1:
        raise ValueError(f"settings {keys} have different numbers of seeds: {sorted(lengths)}")
    return [max(values[k][s] for k in keys) for s in range(lengths.pop())]


def seed_deltas(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-seed differences ``a[s] - b[s]``: runs paired by seed, so seed-to-seed variation common to
    both settings (the same initialisation, the same batches) cancels."""
    if len(a) != len(b):
        raise ValueError(f"a and b must have one value per seed each; got {len(a)} and {len(b)}")
    return [x - y for x, y in zip(a, b)]


ALPHA = 0.05  # level of the one-sided paired t-test behind every verdict

VERDICT_RULE = ("a claim agrees when the per-seed paired effect has the paper's sign under a one-sided paired "
                f"t-test at {ALPHA:.0%} (n - 1 degrees of freedom), is opposite when the test in the other direction "
                "is significant, and is inconclusive otherwise")


class Verdict(str, enum.Enum):
    """The outcomes of a claim's test (:data:`VERDICT_RULE`), in the order a tally lists them. A
    verdict's text may carry a reason after its word ("inconclusive (1 seed: no test)")."""

    AGREES = "agrees"
    INCONCLUSIVE = "inconclusive"
    OPPOSITE = "opposite"
    NO_RESULT = "no result"

    @classmethod
    def of(cls, text: Any) -> "Verdict | str":
        """The verdict a text states (its words before a reason in parentheses or after ";"); a text
        that states none (e.g. "not run at this profile") is returned as it is, to be counted apart."""
        word = str(text).split(" (")[0].split(";")[0].strip()
        return cls(word) if word in cls._value2member_map_ else word

    def counted(self, n: int) -> str:
        """``n`` claims with this verdict, in English: "1 agrees", "2 agree", "1 inconclusive"."""
        return f"{n} {'agree' if self is Verdict.AGREES and n != 1 else self.value}"


def verdict_tally(verdicts: Iterable[Any], zeros: bool = False) -> str:
    """``3 agree, 1 inconclusive, 1 opposite`` from verdict texts, in :class:`Verdict`'s order, then
    texts that state no verdict, each kind apart ("1 not run at this profile"). With ``zeros`` the
    three outcomes of the test are listed even when none has them (the index's fixed columns)."""
    found = [Verdict.of(v) for v in verdicts]
    parts = [v.counted(found.count(v)) for v in Verdict
             if found.count(v) or (zeros and v is not Verdict.NO_RESULT)]
    parts += [f"{found.count(k)} {k}" for k in dict.fromkeys(found) if not isinstance(k, Verdict)]
    return ", ".join(parts)


def one_sided_p(mean: float, std: float, n: int, sign: int) -> float:
    """p-value of the one-sided paired t-test that the effect's mean has ``sign`` (+1: > 0, -1: < 0):
    P(T >= sign * t) with t = mean / (std / sqrt(n)) and n - 1 degrees of freedom; NaN for n < 2.
    A spread of 0 makes any non-zero mean certain (p = 0 or 1) and a zero mean p = 0.5."""
    if n < 2 or not math.isfinite(mean) or not math.isfinite(std):
        return math.nan
    if std == 0:
        return 0.5 if mean == 0 else (0.0 if mean * sign > 0 else 1.0)
    from scipy.stats import t as student_t

    return float(student_t.sf(sign * mean / (std / math.sqrt(n)), df=n - 1))


def effect_verdict(expected_sign: int, mean: float, std: float, seeds: int) -> str:
    """"agrees", "opposite" or "inconclusive": the one-sided paired t-test of :data:`VERDICT_RULE`."""
    if expected_sign not in (-1, 1):
        raise ValueError(f"expected_sign must be -1 or +1; got {expected_sign!r}")
    if not math.isfinite(mean):
        return Verdict.NO_RESULT.value
    if seeds < 2:
        return f"{Verdict.INCONCLUSIVE.value} (1 seed: no test)"
    if one_sided_p(mean, std, seeds, expected_sign) < ALPHA:
        return Verdict.AGREES.value
    if one_sided_p(mean, std, seeds, -expected_sign) < ALPHA:
        return Verdict.OPPOSITE.value
    return Verdict.INCONCLUSIVE.value


def claim_row(claim: str, source: str, ours: Sequence[float], paper: float | None = None,
              expected_sign: int | None = None, scale: float = 100.0) -> dict[str, Any]:
    """One row of a notebook's paper-vs-ours table.

    ``ours``: our effect per seed (a difference of fractions, e.g. from :func:`seed_deltas`);
    ``paper``: the paper's effect in points (None when it states only a direction, then give
    ``expected_sign``). Our effect is shown in points (``scale`` 100) as mean ± std over seeds;
    ``ours / paper`` says "by how much" relative to the paper.
    """
    if paper is None and expected_sign is None:
        raise ValueError("give the paper's effect (paper=...) or its direction (expected_sign=+1/-1)")
    sign = expected_sign if expected_sign is not None else (1 if paper >= 0 else -1)
    mean, std, n = mean_std(ours)
    ratio = (mean * scale / paper) if paper not in (None, 0) and math.isfinite(mean) else math.nan
    return {"claim": claim, "source": source,
            "paper (points)": round(paper, 1) if paper is not None else ("+" if sign > 0 else "-"),
            "ours (points)": (f"{mean * scale:+.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")
                              if n else "–"),
            "seeds": n, "ours / paper": ratio, "p (one-sided)": one_sided_p(mean, std, n, sign),
            "verdict": effect_verdict(sign, mean, std, n)}


def paper_delta(values: Mapping[str, float], a: str, b: str) -> float | None:
    """``values[a] - values[b]`` in points, or None when the paper has no number for one of them."""
    if a in values and b in values:
        return round(values[a] - values[b], 2)
    return None


def line_series(values: Mapping[Any, Sequence[float]], keys: Sequence[Any], x: Sequence[float] | None = None
                ) -> tuple[list[float], list[float], list[float]]:
    """``(x, mean, std)`` over seeds of ``values[k]`` for ``k`` in ``keys``, for :func:`effect_lines`;
    ``x`` defaults to 0, 1, 2, ... (then label the ticks). Settings not run give NaN."""
    x = list(range(len(keys))) if x is None else list(x)
    stats = [mean_std(values.get(k, [])) for k in keys]
    return x, [m for m, _, _ in stats], [s for _, s, _ in stats]
