"""The *distributions* lib/views.py samples, against torchvision's own samplers (issue #27).

tests/test_views.py checks that every view operation equals torchvision's for the same parameters.
These tests check that the parameters are drawn as torchvision draws them: many draws of ours and
many of torchvision's (``RandomResizedCrop.get_params``, ``ColorJitter.get_params``, the
``RandomApply``, ``RandomGrayscale`` and ``RandomHorizontalFlip`` transforms that lightly's
``SimCLRTransform`` composes), compared by two-sample tests: Kolmogorov-Smirnov for continuous
quantities, chi-square on the contingency table of counts for discrete ones. Every seed is fixed, so
the p-values are the same on every run; the significance level ``ALPHA`` = 1e-4 with 100,000 crops a
side keeps a correct sampler far from rejection while the differences issue #27 measured (mean crop
area 0.477 against 0.491, a corner pixel covered by 1.7 % of the crops against 3.5 %) give p-values
below 1e-20.

Each crop test is also run on samplers known to be wrong, and must reject them: the sub-pixel
sampler before issue #27 (``crop_sampler="subpixel"``) and the issue's two mutations of the current
sampler, made by editing its source (aspect ratios from the lower half of their log-range only;
``left`` from the left half of its range only). Every wrong sampler is rejected by several crop
statistics; ``MUST_REJECT`` lists which statistic must reject which sampler (a statistic blind to a
mutation by construction, such as the area to an offset mutation, is not asked to see it).
"""

from __future__ import annotations

import inspect
import itertools
import textwrap

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy import stats

from lib import views

ALPHA = 1e-4              # significance level of every test here
N_CROPS = 100_000         # crops drawn by each side
N_PROB = 10_000           # torchvision transform calls per probability (ours: 2 x as many samples)
H = W = 32                # CIFAR-10
SCALE, RATIO = (0.08, 1.0), (3 / 4, 4 / 3)
CPU = torch.device("cpu")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- two-sample tests ----------------------------------------------------------------------------

def ks(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (conservative for the ties of discrete values)."""
    return float(stats.ks_2samp(np.asarray(a), np.asarray(b)).pvalue)


def chi2(a, b, min_count: int = 20) -> float:
    """Chi-square p-value that integer samples ``a`` and ``b`` come from one distribution: the 2 x K table
    of their counts per value, values with fewer than ``min_count`` draws in both together pooled
    into one column (so no expected count is tiny)."""
    a, b = np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64)
    values = np.union1d(a, b)
    table = np.stack([(a[:, None] == values).sum(0), (b[:, None] == values).sum(0)])   # (2, K)
    rare = table.sum(0) < min_count
    table = np.concatenate([table[:, ~rare], table[:, rare].sum(1, keepdims=True)], axis=1)
    table = table[:, table.sum(0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


# ---- the crop statistics: p-value that ours and torchvision's boxes are drawn alike ---------------

# pixels (y, x) whose coverage is compared: two corners, the four edge middles, the centre
PIXELS = ((0, 0), (H - 1, W - 1), (0, W // 2), (H - 1, W // 2), (H // 2, 0), (H // 2, W - 1), (H // 2, W // 2))


def covers(boxes: torch.Tensor, y: int, x: int) -> torch.Tensor:
    """Whether each box contains the centre of pixel (y, x) (for whole-pixel boxes: the pixel)."""
    top, left, h, w = boxes.unbind(1)
    return (top <= y + 0.5) & (y + 0.5 < top + h) & (left <= x + 0.5) & (x + 0.5 < left + w)


def p_coverage(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Bonferroni over ``PIXELS`` of the 2 x 2 chi-square of each pixel's coverage."""
    return min(1.0, len(PIXELS) * min(chi2(covers(ours, y, x), covers(ref, y, x)) for y, x in PIXELS))


CROP_STATISTICS = {
    "area": lambda o, r: ks(o[:, 2] * o[:, 3] / (H * W), r[:, 2] * r[:, 3] / (H * W)),
    "aspect": lambda o, r: ks(o[:, 3] / o[:, 2], r[:, 3] / r[:, 2]),
    "width_px": lambda o, r: chi2(o[:, 3].round(), r[:, 3]),
    "height_px": lambda o, r: chi2(o[:, 2].round(), r[:, 2]),
    "top_offset": lambda o, r: chi2(o[:, 0].floor(), r[:, 0]),
    "left_offset": lambda o, r: chi2(o[:, 1].floor(), r[:, 1]),
    "coverage": p_coverage,
}


@pytest.fixture(scope="module")
def torchvision_boxes() -> torch.Tensor:
    """``N_CROPS`` draws of torchvision's ``RandomResizedCrop.get_params`` on a 32 x 32 image, as
    ``(top, left, height, width)`` float32 rows."""
    torch.manual_seed(27)
    image = torch.zeros(1, H, W)
    draws = [T.RandomResizedCrop.get_params(image, list(SCALE), list(RATIO)) for _ in range(N_CROPS)]
    return torch.tensor(draws, dtype=torch.float32)


def our_boxes(sampler: str = "torchvision") -> torch.Tensor:
    return views.sample_crop_boxes(N_CROPS, H, W, SCALE, RATIO, gen(2027), CPU, sampler=sampler)


@pytest.mark.parametrize("statistic", CROP_STATISTICS)
def test_crops_are_drawn_as_torchvision_draws_them(statistic, torchvision_boxes):
    p = CROP_STATISTICS[statistic](our_boxes(), torchvision_boxes)
    assert p > ALPHA, f"{statistic}: p = {p:.3g}"


# ---- the wrong samplers the crop statistics must reject ---------------------------------------------

def mutant(function, old: str, new: str):
    """``function`` with the source text ``old`` replaced by ``new``, compiled in a copy of its module's
    namespace (the module itself is left alone; the test patches the mutant in)."""
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{old!r} not found once in {function.__name__}: the mutation is stale"
    namespace = dict(vars(inspect.getmodule(function)))
    exec(compile(source.replace(old, new), f"<mutant of {function.__name__}>", "exec"), namespace)
    return namespace[function.__name__]


def wrong_boxes(name: str, monkeypatch) -> torch.Tensor:
    if name == "subpixel (before #27)":
        return our_boxes("subpixel")
    if name == "aspect from the lower half":
        patched = mutant(views._crop_candidates, "log_lo + (log_hi - log_lo) * u[..., 1]",
                         "log_lo + (log_hi - log_lo) * 0.5 * u[..., 1]")
        monkeypatch.setattr(views, "_crop_candidates", patched)
    elif name == "left in the left half":
        patched = mutant(views.sample_crop_boxes, "torch.floor(u[:, 1] * (width - w + 1))",
                         "torch.floor(u[:, 1] * (width - w + 1) * 0.5)")
        monkeypatch.setattr(views, "sample_crop_boxes", patched)
    else:
        raise KeyError(name)
    return our_boxes()


WRONG_SAMPLERS = ("subpixel (before #27)", "aspect from the lower half", "left in the left half")
# Which statistic must reject which wrong sampler. Every one rejects the sub-pixel sampler. The area is drawn
# independently of the aspect (and at 32 px almost every candidate fits), so the aspect mutation leaves the
# area's distribution alone (p = 0.95) and every other statistic rejects it; the left-offset mutation changes
# no size, so only the left offsets and the coverage can see it. Measured p-values, seeds as here:
#                          area   aspect  width  height   top    left   coverage
#   torchvision (ours)     0.96   0.23    0.57   0.40     0.78   0.26   1
#   subpixel (before #27)  2e-53  6e-116  7e-100 6e-100   1e-70  2e-65  8e-292
#   aspect lower half      0.95   0       0      0        0      0      1e-249
#   left in left half      0.96   0.23    0.57   0.40     0.78   0      0
MUST_REJECT = ({(s, WRONG_SAMPLERS[0]) for s in CROP_STATISTICS}
               | {(s, WRONG_SAMPLERS[1]) for s in CROP_STATISTICS if s != "area"}
               | {("left_offset", WRONG_SAMPLERS[2]), ("coverage", WRONG_SAMPLERS[2])})


@pytest.mark.parametrize("wrong", WRONG_SAMPLERS)
def test_the_crop_statistics_reject_wrong_samplers(wrong, torchvision_boxes, monkeypatch):
    boxes = wrong_boxes(wrong, monkeypatch)
    p = {s: f(boxes, torchvision_boxes) for s, f in CROP_STATISTICS.items()}
    missed = {s: p[s] for s in CROP_STATISTICS if (s, wrong) in MUST_REJECT and p[s] > ALPHA}
    assert not missed, f"{wrong}: not rejected by {missed}"
    assert min(p.values()) < ALPHA


def test_the_mutations_are_what_they_claim(monkeypatch):
    """The aspect mutant's ratios lie below 1 (the lower half of log [3/4, 4/3]); the offset mutant never
    starts a crop past the middle of its range."""
    boxes = wrong_boxes("aspect from the lower half", monkeypatch)
    assert (boxes[:, 3] / boxes[:, 2] <= 1.1).all() and (boxes[:, 3] / boxes[:, 2]).mean() < 0.95
    monkeypatch.undo()
    boxes = wrong_boxes("left in the left half", monkeypatch)
    assert (boxes[:, 1] <= (W - boxes[:, 3]) / 2 + 0.5).all()


# ---- colour jitter: factors and order -------------------------------------------------------------

def torchvision_jitter(strength: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of ``ColorJitter(0.8 s, 0.8 s, 0.8 s, 0.2 s).get_params``: factors (n, 4) in our column
    order (brightness, contrast, saturation, hue) and the order applied (n, 4)."""
    cj = T.ColorJitter(0.8 * strength, 0.8 * strength, 0.8 * strength, 0.2 * strength)
    torch.manual_seed(31)
    factors, orders = [], []
    for _ in range(n):
        order, b, c, s, h = cj.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
        factors.append((b, c, s, h))
        orders.append(order.tolist())
    return np.array(factors), np.array(orders)


PERMUTATIONS = {p: i for i, p in enumerate(itertools.permutations(range(4)))}


def permutation_index(orders) -> np.ndarray:
    return np.array([PERMUTATIONS[tuple(o)] for o in np.asarray(orders).tolist()])


@pytest.fixture(scope="module")
def torchvision_jitter_draws():
    return torchvision_jitter(0.5, 30_000)


def jitter_p_values(factors, order, ref) -> dict[str, float]:
    ref_factors, ref_order = ref
    p = {name: ks(factors[:, i], ref_factors[:, i])
         for i, name in enumerate(("brightness", "contrast", "saturation", "hue"))}
    p["order"] = chi2(permutation_index(order), permutation_index(ref_order))
    return p


def test_colour_jitter_factors_and_order_are_drawn_as_torchvision_draws_them(torchvision_jitter_draws):
    factors, order = views.sample_color_jitter(60_000, 0.5, gen(5), CPU)
    p = jitter_p_values(factors.numpy(), order.numpy(), torchvision_jitter_draws)
    assert min(p.values()) > ALPHA, p


def test_the_jitter_statistics_reject_a_wrong_strength_and_a_biased_order(torchvision_jitter_draws, monkeypatch):
    factors, order = views.sample_color_jitter(60_000, 0.45, gen(5), CPU)
    p = jitter_p_values(factors.numpy(), order.numpy(), torchvision_jitter_draws)
    assert max(p[k] for k in ("brightness", "contrast", "saturation", "hue")) < ALPHA, p
    biased = mutant(views.sample_color_jitter, "torch.rand(batch, 4, generator=generator, device=device).argsort",
                    "(torch.rand(batch, 4, generator=generator, device=device)"
                    " * torch.tensor([1.0, 1.0, 1.0, 1.2], device=device)).argsort")
    factors, order = biased(60_000, 0.5, gen(5), CPU)
    assert jitter_p_values(factors.numpy(), order.numpy(), torchvision_jitter_draws)["order"] < ALPHA


# ---- probabilities of jitter, grayscale and flip ----------------------------------------------------

PIXEL = torch.tensor([0.2, 0.5, 0.7]).view(3, 1, 1)     # one coloured pixel


def torchvision_applied(op: str, p: float) -> np.ndarray:
    """Whether each of ``N_PROB`` calls of lightly's torchvision transform for ``op`` changed its input."""
    image = PIXEL.expand(3, 2, 2).clone()
    image[:, :, 1] = 0.9                                    # left and right columns differ: a flip shows
    transform = {"color": T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=p),
                 "gray": T.RandomGrayscale(p=p), "flip": T.RandomHorizontalFlip(p=p)}[op]
    torch.manual_seed(37)
    return np.array([not torch.equal(transform(image), image) for _ in range(N_PROB)])


def ours_applied(op: str, p: float) -> np.ndarray:
    """Whether our pipeline's ``op`` changed each of ``2 N_PROB`` images (8 x 8, asymmetric, coloured)."""
    x = PIXEL.expand(3, 8, 8).clone()
    x[:, :, 4:] = 0.9
    batch = x.expand(2 * N_PROB, 3, 8, 8).contiguous()
    config = views.ViewConfig(size=8, color_strength=0.5, **{f"{op}_p": p})
    out = views.ViewPipeline((op,), config)(batch, gen(41))
    return (out != batch).flatten(1).any(1).numpy()


@pytest.mark.parametrize("op, p", [("color", 0.8), ("gray", 0.2), ("flip", 0.5)])
def test_jitter_grayscale_and_flip_apply_with_torchvisions_probability(op, p):
    reference = torchvision_applied(op, p)
    assert chi2(ours_applied(op, p), reference) > ALPHA
    assert chi2(ours_applied(op, p - 0.05), reference) < ALPHA   # and the test sees a probability off by 0.05
