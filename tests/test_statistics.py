"""#24 item 1: Benjamini-Hochberg q-values, the paired t-interval, TOST and the family verdict rule,
checked against scipy, a naive reference, analytic cases and monotonicity."""

import math

import numpy as np
import pytest
from scipy import stats

from lib.report.statistics import (ALPHA, FAMILY_VERDICT_RULE, FamilyVerdict, at_ceiling_or_floor,
                                   bh_qvalues, family_verdicts, t_interval, tost_p)


def naive_bh(p):
    """The definition, term by term: q_i = min over every p_j >= p_i of m p_j / rank(p_j), capped at 1."""
    m = len(p)
    ranks = {j: 1 + sum(p[k] < p[j] or (p[k] == p[j] and k < j) for k in range(m)) for j in range(m)}
    return [min(1.0, min(m * p[j] / ranks[j] for j in range(m) if p[j] >= p[i])) for i in range(m)]


@pytest.mark.parametrize("seed", range(5))
def test_bh_matches_scipy_and_the_definition(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.02, 5), rng.uniform(0, 1, 20)])
    rng.shuffle(p)
    ours = bh_qvalues(p.tolist())
    np.testing.assert_allclose(ours, stats.false_discovery_control(p, method="bh"), rtol=1e-12)
    np.testing.assert_allclose(ours, naive_bh(p.tolist()), rtol=1e-12)


def test_bh_analytic_case_and_nan_left_out():
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4p/rank = 0.04, 0.06, 0.0533, 0.2; running minimum from the top
    assert bh_qvalues([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    q = bh_qvalues([0.01, math.nan, 0.04, 0.03, 0.2])  # a claim with no test does not enlarge m
    assert math.isnan(q[1]) and q[:1] + q[2:] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert bh_qvalues([0.5]) == [0.5] and bh_qvalues([0.9, 0.95]) == [0.95, 0.95]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bh_qvalues([1.5])


def test_bh_is_monotone_and_never_below_p():
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 1, 40)
    q = np.asarray(bh_qvalues(p.tolist()))
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= 0) and np.all(q >= p * (1 - 1e-12)) and np.all(q <= 1)
    # more tests that discover nothing (p = 1) can only raise every q-value: m grows, ranks stay
    q_more = np.asarray(bh_qvalues(np.concatenate([p, np.ones(10)]).tolist()))[:40]
    assert np.all(q_more >= q) and q_more[order[0]] == pytest.approx(q[order[0]] * 50 / 40)


def test_t_interval_matches_scipy_and_analytic_case():
    d = [0.012, 0.031, -0.004, 0.02, 0.017]
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    assert t_interval(d) == pytest.approx((ci.low, ci.high), rel=1e-12)
    # n = 2, deltas 0 and 2: mean 1, std sqrt(2), se 1 -> 1 ± t_{0.975, 1} = 1 ± 12.7062
    lo, hi = t_interval([0.0, 2.0])
    assert (lo, hi) == pytest.approx((1 - 12.706204736, 1 + 12.706204736))
    assert all(math.isnan(x) for x in t_interval([0.3])) and t_interval([0.1, 0.1]) == (0.1, 0.1)
    assert t_interval(d, 0.99)[0] < t_interval(d)[0]  # a higher level, a wider interval


def test_tost_matches_two_scipy_one_sided_tests():
    d = [0.002, -0.004, 0.006, 0.001, -0.001]
    lower = stats.ttest_1samp(d, -0.01, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.01, alternative="less").pvalue
    assert tost_p(d, 0.01) == pytest.approx(max(lower, upper), rel=1e-10)
    # the duality: equivalent at alpha exactly when the (1 - 2 alpha) interval lies inside the margin
    lo, hi = t_interval(d, 1 - 2 * ALPHA)
    for margin in (0.003, 0.005, 0.007, 0.01):
        assert (tost_p(d, margin) < ALPHA) == (-margin < lo and hi < margin)


def test_tost_is_monotone_in_the_margin_and_refuses_a_bad_one():
    d = [0.004, 0.008, 0.001, 0.006]
    ps = [tost_p(d, m) for m in (0.005, 0.01, 0.02, 0.05)]
    assert ps == sorted(ps, reverse=True) and ps[-1] < ALPHA < ps[0]
    assert math.isnan(tost_p([0.01]))
    with pytest.raises(ValueError, match="margin"):
        tost_p(d, 0)


def test_ceiling_floor():
    assert at_ceiling_or_floor([0.999, 0.997], chance=0.1)  # 06's Sobel: both at 100 %
    assert at_ceiling_or_floor([0.105, 0.095], chance=0.1)  # both at chance
    assert not at_ceiling_or_floor([0.999, 0.90], chance=0.1)  # one arm has room: a test
    assert not at_ceiling_or_floor([0.5, 0.6], chance=0.1)


def direction(deltas, sign=1, **kw):
    return {"deltas": deltas, "expected_sign": sign, **kw}


def test_family_verdicts_rule():
    rows = family_verdicts([
        direction([0.02, 0.03, 0.025, 0.028, 0.022]),  # clearly positive, as the paper says
        direction([0.02, 0.03, 0.025, 0.028, 0.022], sign=-1),  # the same, paper says negative
        direction([0.01, -0.02, 0.015, -0.005, 0.0]),  # noise
        {"deltas": [0.001, -0.002, 0.0005, 0.0, 0.001], "kind": "equivalence"},
        {"deltas": [0.03, 0.05, 0.04, 0.02, 0.06], "kind": "equivalence"},
        direction([0.1, 0.1, 0.11, 0.1, 0.12], trained=False),
        direction([0.002, 0.001, 0.003, 0.002, 0.002], arm_means=[0.999, 0.997], chance=0.1),
        direction([0.05]),
        direction([math.nan, math.nan]),
    ])
    assert [r["verdict"] for r in rows] == [
        "agrees", "opposite", "inconclusive", "equivalent", "not shown equivalent",
        "no verdict: did not train", "no verdict: ceiling/floor", "inconclusive (1 seed: no test)",
        "no result"]
    assert {r["verdict"].split(" (")[0] for r in rows} <= {v.value for v in FamilyVerdict}
    assert all(math.isnan(r["q"]) for r in rows[5:])  # no test: outside the family
    assert rows[0]["ci"][0] > 0 and rows[0]["q"] >= rows[0]["p"]


def test_family_correction_turns_a_lone_significant_claim_inconclusive():
    """p ≈ 0.03 agrees alone but not among 20 null claims: BH needs q < 0.05."""
    claim = direction([0.01, 0.03, 0.005, 0.02, 0.012, 0.0])
    assert family_verdicts([claim])[0]["verdict"] == "agrees"
    rng = np.random.default_rng(0)
    nulls = [direction(rng.normal(0, 0.01, 6).tolist()) for _ in range(20)]
    assert family_verdicts([claim, *nulls])[0]["verdict"] == "inconclusive"


def test_family_verdicts_refuses_bad_claims():
    with pytest.raises(ValueError, match="kind"):
        family_verdicts([{"deltas": [0.1, 0.2], "kind": "bigger"}])
    with pytest.raises(ValueError, match="expected_sign"):
        family_verdicts([direction([0.1, 0.2], sign=0)])


def test_the_rule_is_written_once_beside_the_code():
    for word in ("Benjamini-Hochberg", "q < 0.05", "TOST", "did not train", "ceiling/floor", "95 %"):
        assert word in FAMILY_VERDICT_RULE
