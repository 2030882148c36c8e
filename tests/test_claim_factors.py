"""#24 item 1: every claim (and the iterations' comparisons in 01-03) is a controlled comparison.

Both arms of every :data:`lib.report.claims.FACTORS` entry are built at every profile by the notebooks'
own builders (the runs ``--plan`` counts) and their run identities diffed: any key other than the
claim's declared factor and the keys allowed to move with it fails. Issue #24's confounds (01's views,
03's weight decay, 06's output BatchNorm, 08's distillation recipe) were found this way in the records
the fair-tests profile replaced."""

import functools

import pytest

from lib.config import repo_path
from lib.report import plans, runner
from lib.report.claims import FACTORS, Factor, undeclared_differences
from lib.report.profiles import PROFILES

NOTEBOOKS = repo_path("notebooks")


@functools.lru_cache(maxsize=None)
def groups(profile: str, stem: str):
    [(_, declared, values)] = runner.plan(NOTEBOOKS, profile, [stem[:2]])
    return plans.notebook_groups(stem, {**{n: p.value for n, p in declared.items()}, **values})


def extra_differences(factor: Factor, profile: str) -> dict:
    """Every undeclared difference between the two arms, over the seeds paired by position."""
    try:
        built = groups(profile, factor.notebook)
    except FileNotFoundError as e:  # the full profile counts the images of a dataset not on this machine
        pytest.skip(f"profile {profile} needs its dataset here: {str(e)[:80]}")
    arms = factor.arms(built)
    if arms is None:
        pytest.skip(f"{factor.claim!r} is not run at profile {profile}")
    a, b = arms
    assert len(a) == len(b) > 0, f"{factor.claim}: the arms have {len(a)} and {len(b)} seeds"
    out = {}
    for x, y in zip(a, b):
        out.update(undeclared_differences(x, y, factor.varies, factor.moves_with))
    return out


def cases():
    for profile in PROFILES:
        for f in FACTORS:
            yield pytest.param(profile, f, id=f"{profile}-{f.notebook[:2]}-{f.claim}")


@pytest.mark.parametrize("profile,factor", list(cases()))
def test_the_arms_differ_only_in_the_claims_factor(profile, factor):
    extra = extra_differences(factor, profile)
    assert not extra, f"{factor.claim} at {profile}: the arms also differ in {extra}"


@pytest.mark.parametrize("extra", [{"lr": 0.123}, {"weight_decay": 0.01}, {"views": "crop,flip,color"},
                                   {"seed": 99}])
def test_an_arm_with_an_extra_difference_is_caught(extra):
    """The negative case: a clean comparison (07's temperatures) with one more difference in one arm fails."""
    factor = next(f for f in FACTORS if f.claim == "t=0.5 vs t=1")
    a, b = factor.arms(groups("quick", factor.notebook))
    assert undeclared_differences(a[0], b[0], factor.varies, factor.moves_with) == {}
    changed = b[0].replace(**extra)
    found = undeclared_differences(a[0], changed, factor.varies, factor.moves_with)
    assert set(found) == set(extra)


def test_every_related_work_and_iteration_notebook_declares_comparisons():
    assert {f.notebook for f in FACTORS} == {"01_supervised", "03_simclr_v2", "05_simclr_augmentations",
                                              "06_projection_head", "07_batch_temperature", "08_simclr_v2_claims"}
