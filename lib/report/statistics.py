"""Statistics over seeds and the verdicts of the related-work claims: pure functions of numbers.

:func:`mean_std` is the one statistic over seeds; a claim's effect is paired by seed
(:func:`seed_deltas`); :func:`claim_row` is one row of a notebook's paper-vs-ours table, with the p of
its test (a two-sided paired t-test, :func:`two_sided_p`, or TOST for a claim of no change,
:func:`tost_p`) and the 95 % interval (:func:`t_interval`). The verdict is
:data:`FAMILY_VERDICT_RULE`'s, applied to a profile's whole family of claims at once
(:func:`family_verdicts`, :func:`apply_family`).
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


ALPHA = 0.05  # level of every test: the q of a claim (FAMILY_VERDICT_RULE), the p of an iteration's comparison


class Verdict(str, enum.Enum):
    """The outcomes of a claim's test (:data:`FAMILY_VERDICT_RULE`), in the order a tally lists them. A
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


def plural(n: int, word: str) -> str:
    """``"1 seed"``, ``"5 seeds"``, ``"1,250 steps"``: a count in English."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


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


def two_sided_p(mean: float, std: float, n: int) -> float:
    """p-value of the two-sided paired t-test that the effect's mean is not 0: twice the smaller one-sided p
    (:func:`one_sided_p`), at most 1; NaN for n < 2."""
    if n < 2 or not math.isfinite(mean) or not math.isfinite(std):
        return math.nan
    return min(1.0, 2 * min(one_sided_p(mean, std, n, 1), one_sided_p(mean, std, n, -1)))


def claim_row(claim: str, source: str, ours: Sequence[float], paper: float | None = None,
              expected_sign: int | None = None, scale: float = 100.0, *, equivalence: bool = False,
              margin: float | None = None, arm_means: Sequence[float] | None = None, chance: float | None = None,
              trained: bool = True) -> dict[str, Any]:
    """One row of a notebook's paper-vs-ours table: the claim tested alone (see :func:`apply_family`).

    ``ours``: our effect per seed (a difference of fractions, e.g. from :func:`seed_deltas`);
    ``paper``: the paper's effect in points (None when it states only a direction, then give
    ``expected_sign``). Our effect is shown in points (``scale`` 100) as mean ± std over seeds with its
    95 % t-interval; ``ours / paper`` says "by how much" relative to the paper.

    A direction claim gets the two-sided paired t-test (``p``; its verdict takes the sign from our effect). A claim that
    something "changes little" or "keeps" an accuracy is an equivalence claim (``equivalence=True``):
    its ``p`` is the TOST p within ±``margin`` (a fraction; :data:`EQUIVALENCE_MARGIN`, 1 point, unless
    the paper states one). ``arm_means`` and ``chance`` (fractions) feed the ceiling/floor rule;
    ``trained=False`` marks an arm that did not train. The row's ``q`` and ``verdict`` are those of a
    family of this claim alone until :func:`apply_family` sets them from the profile's whole family;
    ``row["family"]`` holds what that needs (and what a manifest stores, :func:`stored_claim`).
    """
    if paper is None and expected_sign is None and not equivalence:
        raise ValueError("give the paper's effect (paper=...) or its direction (expected_sign=+1/-1)")
    sign = expected_sign if expected_sign is not None else (1 if (paper or 0) >= 0 else -1)
    margin = EQUIVALENCE_MARGIN if margin is None else margin
    deltas = [float(d) for d in ours]
    mean, std, n = mean_std(deltas)
    ratio = (mean * scale / paper) if paper not in (None, 0) and math.isfinite(mean) else math.nan
    family = {"deltas": deltas, "kind": EQUIVALENCE if equivalence else DIRECTION, "expected_sign": sign,
              "margin": margin, "trained": bool(trained),
              "arm_means": [float(m) for m in arm_means] if arm_means is not None else None,
              "chance": float(chance) if chance is not None else None}
    row = {"claim": claim, "source": source,
           "paper (points)": round(paper, 1) if paper is not None else (
               f"±{margin * scale:g} (margin)" if equivalence else "+" if sign > 0 else "-"),
           "ours (points)": (f"{mean * scale:+.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "") if n else "–"),
           "seeds": n, "ours / paper": ratio, "95 % CI (points)": interval_text(t_interval(deltas), scale),
           "test": (f"TOST ±{margin * scale:g} point{'s' if margin * scale != 1 else ''}" if equivalence
                    else "paired t, two-sided"),
           "family": family}
    return _with_result(row, family_verdicts([family])[0])


def interval_text(ci: Sequence[float], scale: float = 100.0) -> str:
    """``"+0.4 to +2.1"`` (points with ``scale``); "–" when there is no interval (fewer than 2 seeds)."""
    lo, hi = ci
    return f"{lo * scale:+.1f} to {hi * scale:+.1f}" if math.isfinite(lo) and math.isfinite(hi) else "–"


def _with_result(row: dict[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the p, q and verdict of a :func:`family_verdicts` result (the verdict with its reason)."""
    verdict = result["verdict"]
    if verdict == FamilyVerdict.CEILING_FLOOR.value:
        means = row["family"]["arm_means"]
        verdict += (f" (both arms within {CEILING_FLOOR_MARGIN * 100:g} point of 100 % or of chance "
                    f"{100 * row['family']['chance']:.1f} %: " + " and ".join(f"{100 * m:.1f} %" for m in means)
                    + "; the metric has no room to show the effect)")
    elif verdict == FamilyVerdict.DID_NOT_TRAIN.value:
        verdict += " (an arm stayed at its initial accuracy)"
    return {**row, "p": result["p"], "q": result["q"], "verdict": verdict}


def stored_claim(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a manifest stores of a claim row (``manifest["claims"]``): its text, source and paper's
    effect beside the inputs of :func:`family_verdicts`, so that the summary and the README can apply
    :data:`FAMILY_VERDICT_RULE` to the profile's whole family."""
    return {"claim": row["claim"], "source": row["source"], "paper (points)": row["paper (points)"],
            "test": row.get("test", ""), **row["family"]}


def family_input(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored claim as :func:`family_verdicts` takes it (JSON's nulls back to NaN)."""
    return {"deltas": [math.nan if d is None else float(d) for d in stored.get("deltas", [])],
            "kind": stored.get("kind", DIRECTION), "expected_sign": stored.get("expected_sign", 1),
            "margin": stored.get("margin") or EQUIVALENCE_MARGIN, "trained": stored.get("trained", True) is not False,
            "arm_means": stored.get("arm_means"), "chance": stored.get("chance")}


def stored_row(stored: Mapping[str, Any], scale: float = 100.0) -> dict[str, Any]:
    """A claim row (as :func:`claim_row` gives) rebuilt from a manifest's stored claim."""
    family = family_input(stored)
    mean, std, n = mean_std(family["deltas"])
    row = {"claim": stored["claim"], "source": stored.get("source", ""),
           "paper (points)": stored.get("paper (points)"),
           "ours (points)": (f"{mean * scale:+.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "") if n else "–"),
           "seeds": n, "95 % CI (points)": interval_text(t_interval(family["deltas"]), scale),
           "test": stored.get("test", ""), "family": family}
    return _with_result(row, family_verdicts([family])[0])


def apply_family(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``q`` and ``verdict`` from :func:`family_verdicts` over all of them at once: pass
    the profile's whole family of claims (every related-work notebook's), not one page's."""
    results = family_verdicts([r["family"] for r in rows])
    return [_with_result(dict(r), res) for r, res in zip(rows, results)]


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


# ---- #24: verdicts that know how many tests were run --------------------------------------------------
# Benjamini-Hochberg q-values across a profile's family of claims, the 95 % t-interval of a paired
# effect, a TOST equivalence test, and the one rule (:data:`FAMILY_VERDICT_RULE`) that turns them into
# the verdicts of the pages, the summary and the README.

EQUIVALENCE_MARGIN = 0.01  # 1 point (effects are fractions): the TOST margin unless a paper states one
CEILING_FLOOR_MARGIN = 0.01  # an arm within 1 point of 100 % or of chance sits at the ceiling/floor
CONFIDENCE = 0.95  # level of the interval shown beside every effect

FAMILY_VERDICT_RULE = (
    "each claim's per-seed paired effect gets one test: a direction claim a two-sided paired t-test (n - 1 "
    "degrees of freedom), an equivalence claim a two one-sided tests procedure (TOST) with a margin of "
    f"±{EQUIVALENCE_MARGIN * 100:g} point unless the paper states one. The p-values of a profile's claims "
    "are one family, adjusted by Benjamini-Hochberg into q-values: a direction claim agrees when q < "
    f"{ALPHA:g} and our effect has the paper's sign, is opposite when q < {ALPHA:g} and it has the other "
    f"sign, and is inconclusive otherwise; an equivalence claim is equivalent at TOST "
    f"q < {ALPHA:g} and not shown equivalent otherwise. An arm that did not train gives \"no verdict: "
    "did not train\"; when both arms sit within 1 point of 100 % or of chance the claim gives \"no "
    "verdict: ceiling/floor\"; neither enters the family. Fewer than two seeds give no test. Each effect "
    f"is shown with its {CONFIDENCE * 100:g} % t-interval")


def bh_qvalues(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values of a family of p-values, in the input's order.

    q_(i) = min over j >= i of m p_(j) / j (p sorted ascending, m the number of finite p-values),
    capped at 1: the smallest false-discovery rate at which that test would be declared. Rejecting
    every q < alpha controls the expected share of false discoveries at alpha (independent or
    positively dependent tests). NaN p-values (no test) stay NaN and do not count in m.
    """
    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return q.tolist()
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError(f"p-values must lie in [0, 1]; got {p[finite].tolist()}")
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q.tolist()


def _finite(deltas: Sequence[float]) -> np.ndarray:
    return np.asarray([d for d in deltas if math.isfinite(d)], dtype=float)


def t_interval(deltas: Sequence[float], level: float = CONFIDENCE) -> tuple[float, float]:
    """The two-sided ``level`` t-interval of the mean of per-seed paired effects:
    mean ± t_{(1+level)/2, n-1} · std / sqrt(n). NaN, NaN for fewer than 2 finite values (no spread
    to scale it by); a zero spread gives the point (mean, mean)."""
    d = _finite(deltas)
    if d.size < 2:
        return math.nan, math.nan
    from scipy.stats import t as student_t

    half = student_t.ppf((1 + level) / 2, df=d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def tost_p(deltas: Sequence[float], margin: float = EQUIVALENCE_MARGIN) -> float:
    """p-value of the two one-sided tests (TOST) that the mean paired effect lies within ±``margin``:
    the larger of the paired t-tests of H0 mean <= -margin and of H0 mean >= +margin (n - 1 degrees
    of freedom). Small p: shown equivalent. NaN for fewer than 2 finite values. Equivalent at level
    alpha exactly when the (1 - 2 alpha) t-interval lies inside ±margin."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be > 0; got {margin!r}")
    d = _finite(deltas)
    if d.size < 2:
        return math.nan
    mean, std, n = float(d.mean()), float(d.std(ddof=1)), int(d.size)
    return max(one_sided_p(mean + margin, std, n, +1), one_sided_p(mean - margin, std, n, -1))


def at_ceiling_or_floor(arm_means: Sequence[float], chance: float,
                        margin: float = CEILING_FLOOR_MARGIN) -> bool:
    """True when every arm's mean (a fraction) sits within ``margin`` of 1 (the ceiling) or of
    ``chance`` (the floor): the metric has no room left to show the effect, so no verdict."""
    return all(m >= 1 - margin or abs(m - chance) <= margin for m in arm_means)


class FamilyVerdict(str, enum.Enum):
    """The outcomes of :data:`FAMILY_VERDICT_RULE` (today's pages use :class:`Verdict`)."""

    AGREES = "agrees"
    INCONCLUSIVE = "inconclusive"
    OPPOSITE = "opposite"
    EQUIVALENT = "equivalent"
    NOT_EQUIVALENT = "not shown equivalent"
    DID_NOT_TRAIN = "no verdict: did not train"
    CEILING_FLOOR = "no verdict: ceiling/floor"
    NO_RESULT = "no result"


DIRECTION, EQUIVALENCE = "direction", "equivalence"


def family_verdicts(claims: Sequence[Mapping[str, Any]], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Apply :data:`FAMILY_VERDICT_RULE` to a profile's whole family of claims at once.

    Each claim is a mapping with ``deltas`` (per-seed paired effect, fractions) and optionally
    ``kind`` (``"direction"``, the default, or ``"equivalence"``), ``expected_sign`` (+1/-1, for a
    direction claim), ``margin`` (equivalence; default :data:`EQUIVALENCE_MARGIN`), ``trained``
    (False when an arm did not train), ``arm_means`` and ``chance`` (for the ceiling/floor rule).
    Returns per claim: ``mean``, ``ci`` (the 95 % interval), ``p`` (the test's p: the paper's
    direction, or TOST), ``q`` (its Benjamini-Hochberg q-value in the family), ``verdict`` (text).
    """
    rows, family = [], []  # family: (row index, "p"/"p_other", p-value)
    for i, c in enumerate(claims):
        kind = c.get("kind", DIRECTION)
        if kind not in (DIRECTION, EQUIVALENCE):
            raise ValueError(f"claim {i}: kind must be {DIRECTION!r} or {EQUIVALENCE!r}; got {kind!r}")
        sign = c.get("expected_sign", 1)
        if kind == DIRECTION and sign not in (-1, 1):
            raise ValueError(f"claim {i}: expected_sign must be -1 or +1; got {sign!r}")
        mean, std, n = mean_std(list(c["deltas"]))
        row = {"mean": mean, "ci": t_interval(c["deltas"]), "seeds": n, "p": math.nan, "q": math.nan,
               "verdict": None}
        if c.get("trained", True) is False:
            row["verdict"] = FamilyVerdict.DID_NOT_TRAIN.value
        elif c.get("arm_means") is not None and c.get("chance") is not None \
                and at_ceiling_or_floor(c["arm_means"], c["chance"]):
            row["verdict"] = FamilyVerdict.CEILING_FLOOR.value
        elif n == 0:
            row["verdict"] = FamilyVerdict.NO_RESULT.value
        elif n < 2:
            row["verdict"] = f"{FamilyVerdict.INCONCLUSIVE.value} (1 seed: no test)"
        elif kind == EQUIVALENCE:
            row["p"] = tost_p(c["deltas"], c.get("margin", EQUIVALENCE_MARGIN))
            family.append((i, "q", row["p"]))
        else:
            row["p"] = two_sided_p(mean, std, n)
            row["sign"] = sign
            family.append((i, "q", row["p"]))
        row["kind"] = kind
        rows.append(row)
    for (i, key, _), q in zip(family, bh_qvalues([p for _, _, p in family])):
        rows[i][key] = q
    for row in rows:
        if row["verdict"] is not None:
            continue
        if row["kind"] == EQUIVALENCE:
            row["verdict"] = (FamilyVerdict.EQUIVALENT if row["q"] < alpha else FamilyVerdict.NOT_EQUIVALENT).value
        elif row["q"] < alpha and row["mean"] * row["sign"] > 0:
            row["verdict"] = FamilyVerdict.AGREES.value
        elif row["q"] < alpha:
            row["verdict"] = FamilyVerdict.OPPOSITE.value
        else:
            row["verdict"] = FamilyVerdict.INCONCLUSIVE.value
    return rows
