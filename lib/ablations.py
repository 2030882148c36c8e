"""SimCLR's and SimCLRv2's key claims, reproduced: the grids of runs, the papers' numbers, the verdicts.

The related-work notebooks (05-08) each test claims of

- SimCLR: Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
  Representations", ICML 2020 (arXiv:2002.05709), and
- SimCLRv2: Chen, Kornblith, Swersky, Norouzi & Hinton, "Big Self-Supervised Models are Strong
  Semi-Supervised Learners", NeurIPS 2020 (arXiv:2006.10029),

on our data and print the papers' numbers beside ours. This module holds what those notebooks
need beyond :mod:`lib.training` and :mod:`lib.summary`:

1. the papers' numbers as data, kept in :mod:`lib.papers` and re-exported here (:data:`REFERENCES`,
   :func:`reference`, :func:`reference_table`, SimCLR's Figure 5 grid);
2. the grids of configurations of each ablation, as pure functions of the ablation's values (the
   notebooks turn them into :class:`~lib.config.Config` objects with ``base.replace(**kwargs)``);
3. tables from run records: mean and spread over seeds, per-seed differences, and the verdict
   "does the direction of the effect agree with the paper's, and by how much";
4. the transformation-prediction probe of SimCLR's Table 3 (what the projection head removes);
5. the planning of a profile's compute (runs, training views, runs still pending);
6. two figures :mod:`lib.plots` does not have: the augmentation heatmap laid out as SimCLR's
   Figure 5, and mean ± std lines of an effect against a knob.

The papers' numbers were transcribed from the published tables and figures; numbers marked
approximate (``Reference.approximate``) are read from plots or are directions stated in the text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from . import evaluation, training, views
from .config import FIELD_NAMES, VIEW_OPERATIONS, Config
from .papers import (FIGURE5, FIGURE5_OPS, REFERENCES, SIMCLR_DEFAULT, Reference,  # noqa: F401 (re-exported)
                     reference, reference_table)
from .records import atomic_write_json, existing_record

if TYPE_CHECKING:
    import pandas as pd

    from .records import RunRecord

DPI = 90  # dots per inch of the figures (as lib.plots)


# ================================================================================================
# 2. grids of configurations (pure: values in, Config keyword arguments out)
# ================================================================================================

GRID_PAIRS = ("none", "crop", "all")


def parse_list(text: str, kind: Callable[[str], Any] = float, name: str = "list") -> list:
    """``"0.01, 0.1"`` -> ``[0.01, 0.1]``: a comma-separated notebook parameter as a list of ``kind``.

    A single number is taken as a one-item list (papermill's ``-p name 2`` passes a number).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a comma-separated string; got {text!r}")
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ValueError(f"{name} is empty; give comma-separated values, e.g. '1,2'")
    try:
        return [kind(s) for s in items]
    except ValueError:
        raise ValueError(f"{name} must hold {getattr(kind, '__name__', kind)} values; got {text!r}") from None


def _check_ops(ops: Sequence[str], name: str = "ops") -> tuple[str, ...]:
    ops = tuple(ops)
    bad = [op for op in ops if op not in VIEW_OPERATIONS]
    if bad or len(set(ops)) != len(ops) or not ops:
        raise ValueError(f"{name} must be distinct operations among {', '.join(VIEW_OPERATIONS)}; got {ops}")
    return ops


def runnable_cell(cell: Sequence[str]) -> bool:
    """Whether our views can express ``cell``: crop only as the first operation (it sets the size)."""
    return "crop" not in cell[1:]


def augmentation_cells(ops: Sequence[str] = FIGURE5_OPS, pairs: str = "all") -> list[tuple[str, ...]]:
    """The cells of SimCLR's Figure 5 that are run: every single operation, then ordered pairs.

    ``pairs``: ``"none"`` (single operations only), ``"crop"`` (also crop followed by each other
    operation) or ``"all"`` (every ordered pair of distinct operations). Pairs with crop second
    are left out (:func:`runnable_cell`): our views crop first, since the crop sets the view's
    size. The paper's crop-second cells differ from the crop-first ones by at most 1.7 points
    (Figure 5), so the order of crop matters little there.
    """
    ops = _check_ops(ops)
    if pairs not in GRID_PAIRS:
        raise ValueError(f"pairs must be one of {', '.join(GRID_PAIRS)}; got {pairs!r}")
    cells: list[tuple[str, ...]] = [(op,) for op in ops]
    if pairs == "none":
        return cells
    firsts = ("crop",) if pairs == "crop" else ops
    cells += [(a, b) for a in firsts if a in ops for b in ops if a != b and runnable_cell((a, b))]
    return cells


def cell_views(cell: Sequence[str]) -> dict[str, str]:
    """Config views of one Figure 5 cell: the transformation(s) on branch 1, the identity on branch 2.

    SimCLR Sec. 3: "we always first randomly crop images and resize them to the same resolution,
    and we then apply the targeted transformation(s) only to one branch of the framework in
    Figure 2, while leaving the other branch as the identity (i.e. t(x_i) = x_i)". That first
    crop is shared by both branches (ImageNet images must be brought to one size); it creates no
    difference between the views, and CIFAR-10 images all have one size already, so here
    branch 2 is the image itself (``views2="none"``) and a crop appears only in the cells that
    name it.
    """
    cell = _check_ops(cell, "cell")
    if len(cell) > 2:
        raise ValueError(f"a Figure 5 cell has one or two operations; got {cell}")
    if not runnable_cell(cell):
        raise ValueError(f"cell {cell}: crop must come first in our views")
    return {"views": ",".join(cell), "views2": "none"}


def cell_label(cell: Sequence[str]) -> str:
    """``("crop", "color")`` -> ``"crop->color"``; a single operation is its name."""
    return "->".join(cell)


def grid_matrix(values: Mapping[tuple[str, ...], float], ops: Sequence[str] = FIGURE5_OPS) -> np.ndarray:
    """Figure 5's layout: ``M[i, j]`` = value of (ops[i] then ops[j]); the diagonal = ops[i] alone.

    Cells without a value (not run, or not expressible) are NaN. Keys not in the grid fail.
    """
    ops = _check_ops(ops)
    index = {op: i for i, op in enumerate(ops)}
    out = np.full((len(ops), len(ops)), np.nan)
    for cell, value in values.items():
        if not 1 <= len(cell) <= 2 or any(op not in index for op in cell):
            raise ValueError(f"cell {cell} is not in the grid of {ops}")
        i, j = index[cell[0]], index[cell[-1]]
        out[i, j] = float(value)
    return out


def row_averages(matrix: np.ndarray) -> np.ndarray:
    """Figure 5's "Average" column: the mean of each row over its cells that have a value."""
    m = np.asarray(matrix, dtype=float)
    counts = np.isfinite(m).sum(axis=1)
    sums = np.where(np.isfinite(m), m, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def paper_grid(ops: Sequence[str] = FIGURE5_OPS) -> np.ndarray:
    """SimCLR Figure 5 restricted to ``ops`` (each must be one of :data:`FIGURE5_OPS`), in that order."""
    ops = _check_ops(ops)
    missing = [op for op in ops if op not in FIGURE5_OPS]
    if missing:
        raise ValueError(f"operations {missing} are not in SimCLR's Figure 5 ({', '.join(FIGURE5_OPS)})")
    idx = [FIGURE5_OPS.index(op) for op in ops]
    return FIGURE5[np.ix_(idx, idx)]


def paper_cell_values(cells: Sequence[Sequence[str]]) -> dict[tuple[str, ...], float]:
    """Figure 5's value (%) of each cell that the figure has."""
    out = {}
    for cell in cells:
        if all(op in FIGURE5_OPS for op in cell):
            out[tuple(cell)] = float(FIGURE5[FIGURE5_OPS.index(cell[0]), FIGURE5_OPS.index(cell[-1])])
    return out


def fraction_label(x: float) -> str:
    """0.125 -> ``"1/8"``, 1.0 -> ``"1"``: colour strengths as the paper writes them."""
    f = Fraction(x).limit_denominator(64)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def color_settings(strengths: Sequence[float], with_blur: bool = True,
                   views_base: str = "crop,flip,color,gray") -> dict[str, dict[str, Any]]:
    """SimCLR Table 1: colour distortion strength ``s``, and the strongest one with blur added.

    Label -> Config keyword arguments (``color_strength``, ``views``). The colour distortion is
    colour jitter of strength s (applied with probability 0.8) plus random grayscale, as in the
    paper's Appendix A; ``" (+blur)"`` adds Gaussian blur to the largest strength.
    """
    strengths = [float(s) for s in strengths]
    if not strengths or any(not 0 < s <= 2.5 for s in strengths):
        raise ValueError(f"strengths must be non-empty, each in (0, 2.5]; got {strengths}")
    if "color" not in views_base.split(","):
        raise ValueError(f"views_base must contain 'color'; got {views_base!r}")
    out = {fraction_label(s): {"color_strength": s, "views": views_base} for s in strengths}
    if with_blur:
        out[f"{fraction_label(max(strengths))} (+blur)"] = {"color_strength": max(strengths),
                                                            "views": views_base + ",blur"}
    return out


def head_settings(proj_dims: Sequence[int]) -> dict[str, dict[str, Any]]:
    """SimCLR Figure 8: no head, a linear head and a nonlinear (2-layer MLP) head, per output width.

    "none" has no output width of its own (z = h), so it is one setting, at the default
    ``proj_dim`` (the field enters the run's hash, so varying it would repeat the same run).
    """
    dims = [int(d) for d in proj_dims]
    if not dims or any(d < 1 for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"proj_dims must be distinct positive integers; got {list(proj_dims)}")
    out: dict[str, dict[str, Any]] = {"none": {"head_layers": 0}}
    for kind, layers in (("linear", 1), ("nonlinear", 2)):
        out.update({f"{kind}, {d}": {"head_layers": layers, "proj_dim": d} for d in dims})
    return out


def batch_epoch_settings(batch_sizes: Sequence[int], epochs: Sequence[int],
                         n_train: int) -> dict[tuple[int, int], dict[str, int]]:
    """SimCLR Figure 9: (batch size, epochs) -> Config keyword arguments.

    The learning rate follows the Config's scaling (SimCLR: 0.3 x batch / 256 with LARS). A batch
    larger than the ``n_train`` training images leaves no full step per epoch and fails here.
    """
    batch_sizes, epochs = [int(b) for b in batch_sizes], [int(e) for e in epochs]
    if not batch_sizes or not epochs or min(batch_sizes) < 2 or min(epochs) < 1:
        raise ValueError(f"batch_sizes (>= 2) and epochs (>= 1) must be non-empty; got {batch_sizes}, {epochs}")
    too_big = [b for b in batch_sizes if b > n_train]
    if too_big:
        raise ValueError(f"batch_sizes {too_big} exceed the {n_train} training images; each epoch needs one full "
                         f"batch (reduce batch_sizes or raise the number of training images)")
    return {(b, e): {"batch_size": b, "epochs": e} for e in epochs for b in batch_sizes}


# SimCLR Appendix B.1: LearningRate = 0.3 x BatchSize/256 (linear) or 0.075 x sqrt(BatchSize) (square root).
LR_SCALING_BASE = {"linear": 0.3, "sqrt": 0.075}

# The name the NT-Xent l2-normalisation switch would have in Config (losses.nt_xent(normalize=...)).
NORMALIZE_KNOB = "ntxent_normalize"


def normalize_knob_available() -> bool:
    """Whether Config has the :data:`NORMALIZE_KNOB` field (temperature without l2 normalisation)."""
    return NORMALIZE_KNOB in FIELD_NAMES


def temperature_settings(normalized: Sequence[float], unnormalized: Sequence[float] = ()
                         ) -> dict[str, dict[str, Any]]:
    """SimCLR Table 5: temperatures with l2-normalised z (cosine similarity) and without (dot product).

    Settings without normalisation need the Config field :data:`NORMALIZE_KNOB`; where it is
    missing they are left out (see :func:`normalize_knob_available`).
    """
    temps = [float(t) for t in (*normalized, *unnormalized)]
    if not list(normalized) or any(t <= 0 for t in temps):
        raise ValueError(f"temperatures must be > 0 and the normalised list non-empty; got {temps}")
    out = {f"l2 norm, t={t:g}": {"temperature": float(t)} for t in normalized}
    if normalize_knob_available():
        out.update({f"no l2 norm, t={t:g}": {"temperature": float(t), NORMALIZE_KNOB: False} for t in unnormalized})
    return out


def lr_scaling_settings(batch_sizes: Sequence[int]) -> dict[tuple[str, int], dict[str, Any]]:
    """SimCLR Appendix B.1: linear (0.3 x B/256) against square-root (0.075 x sqrt(B)) learning rates."""
    if not batch_sizes or min(batch_sizes) < 2:
        raise ValueError(f"batch_sizes must be non-empty, each >= 2; got {list(batch_sizes)}")
    return {(scaling, int(b)): {"lr_scaling": scaling, "lr": base, "batch_size": int(b)}
            for scaling, base in LR_SCALING_BASE.items() for b in batch_sizes}


def finetune_layers(depth: int, wanted: str = "all") -> list[int]:
    """Head layers to fine-tune from for a head of ``depth`` layers: ``"all"`` = 0..depth-1, else the
    comma-separated layers given that exist in such a head (0 = the encoder output h).

    The last layer (the head's output z) is left out of ``"all"``: SimCLRv2 fine-tunes from h or a
    middle layer of the head.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1; got {depth}")
    if wanted == "all":
        return list(range(depth))
    return [k for k in parse_list(wanted, int, "finetune layers") if 0 <= k < depth]


# ================================================================================================
# 3. tables from run records: spread over seeds, per-seed differences, verdicts
# ================================================================================================

def result_values(records: Sequence[RunRecord], key: str) -> list[float]:
    """``record.results[key]`` of each record as floats (NaN where absent or not a number)."""
    out = []
    for r in records:
        v = r.results.get(key)
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
    return out


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; 0 for one value) and count of the finite values."""
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


def effect_verdict(expected_sign: int, mean: float, std: float, seeds: int) -> str:
    """Whether our effect goes the paper's way: "agrees", "opposite" or "within noise".

    "within noise" when several seeds give a spread at least as large as the mean effect; with one
    seed there is no spread to compare with, which the verdict says.
    """
    if expected_sign not in (-1, 1):
        raise ValueError(f"expected_sign must be -1 or +1; got {expected_sign!r}")
    if not math.isfinite(mean):
        return "no result"
    if seeds > 1 and abs(mean) <= std:
        return "within noise"
    verdict = "agrees" if mean * expected_sign > 0 else ("opposite" if mean != 0 else "no effect")
    return verdict + (" (1 seed: no spread)" if seeds <= 1 else "")


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
            "seeds": n, "ours / paper": ratio, "verdict": effect_verdict(sign, mean, std, n)}


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


def claims_table(rows: Sequence[Mapping[str, Any]]):
    """Rows of :func:`claim_row` as a DataFrame (one row per claim)."""
    import pandas as pd

    columns = ["claim", "source", "paper (points)", "ours (points)", "seeds", "ours / paper", "verdict"]
    return pd.DataFrame(list(rows), columns=columns)


def grid_table(values: Mapping[tuple[Any, Any], Sequence[float]], rows: Sequence[Any], cols: Sequence[Any],
               scale: float = 100.0):
    """A two-way table of "mean ± std" strings (in % with ``scale``): ``values[(row, col)]`` per seed.

    Cells not in ``values`` show "–"; one seed shows the mean alone.
    """
    import pandas as pd

    def cell(key):
        mean, std, n = mean_std(values.get(key, []))
        return "–" if not n else f"{mean * scale:.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")

    return pd.DataFrame([[cell((r, c)) for c in cols] for r in rows], index=list(rows), columns=list(cols))


def side_by_side(ours: Mapping[str, tuple[float, float, int]], paper: Mapping[str, float],
                 scale: float = 100.0):
    """One table with the paper's number beside ours, row by row (labels matched by name).

    ``ours`` maps a label to (mean, std, seeds) of a fraction (shown in % with ``scale``);
    ``paper`` maps the same labels to the paper's value in %. Labels on one side only keep "–".
    """
    import pandas as pd

    rows = []
    for label in dict.fromkeys([*ours, *paper]):
        mean, std, n = ours.get(label, (math.nan, math.nan, 0))
        shown = "–" if not n else f"{mean * scale:.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")
        rows.append({"setting": label, "paper": paper.get(label, math.nan), "ours": shown, "seeds": n})
    return pd.DataFrame(rows, columns=["setting", "paper", "ours", "seeds"]).set_index("setting")


# ================================================================================================
# 4. what the projection head removes: predicting the applied transformation (SimCLR Table 3)
# ================================================================================================

TRANSFORMS: dict[str, int] = {"rotate": 4, "color": 2, "gray": 2, "sobel": 2}  # name -> number of classes


def transformation_targets(n: int, transform: str, generator: torch.Generator) -> torch.Tensor:
    """Uniform random targets: quarter turns 0..3 for ``rotate``, else 0 (original) or 1 (transformed)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    return torch.randint(0, TRANSFORMS[transform], (n,), generator=generator, device=generator.device)


def apply_transformation(images: torch.Tensor, targets: torch.Tensor, transform: str,
                         generator: torch.Generator, color_strength: float = 1.0) -> torch.Tensor:
    """Images (uint8 or float in [0, 1]) transformed according to ``targets``; float32 in [0, 1].

    ``rotate``: ``targets`` quarter turns; ``color``: colour jitter of strength ``color_strength``
    (SimCLR's, always applied) where the target is 1; ``gray``: grayscale where 1; ``sobel``: the
    Sobel edge map where 1. On 1-channel images ``gray`` changes nothing and ``color`` only
    brightness and contrast.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    x = views.to_float(images)                                               # (B, C, H, W) in [0, 1]
    if targets.shape != (x.shape[0],):
        raise ValueError(f"targets must have shape ({x.shape[0]},); got {tuple(targets.shape)}")
    if transform == "rotate":
        return views.rot90(x, targets)
    if transform == "color":
        factors, order = views.sample_color_jitter(x.shape[0], color_strength, generator, x.device)
        changed = views.color_jitter(x, factors, order)
    elif transform == "gray":
        changed = views.grayscale(x)
    else:
        changed = views.sobel(x)
    return torch.where(targets.view(-1, 1, 1, 1).bool(), changed, x)


def predict_transformation(features: Callable[[torch.Tensor], Mapping[str, torch.Tensor]],
                           train_images: torch.Tensor, test_images: torch.Tensor, transform: str,
                           seed: int = 0) -> dict[str, float]:
    """Accuracy of a linear probe predicting ``transform``'s target from each kind of feature.

    Every image gets a random target (:func:`transformation_targets`) and is transformed
    accordingly; ``features`` maps the transformed images (float in [0, 1]) to named ``(N, D)``
    features (e.g. ``{"h": ..., "z": ...}``). For each name a linear probe
    (:func:`lib.evaluation.linear_probe`, weight decay chosen on a validation split) is fitted on
    the training images' features and scored on the test images'. Also returns ``chance``: the
    majority class's share of the test targets. SimCLR's Table 3 trains an MLP instead.
    """
    g = torch.Generator(device=train_images.device).manual_seed(seed)
    classes = TRANSFORMS.get(transform)
    if classes is None:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    t_train = transformation_targets(len(train_images), transform, g)
    t_test = transformation_targets(len(test_images), transform, g)
    f_train = features(apply_transformation(train_images, t_train, transform, g))   # name -> (N, D)
    f_test = features(apply_transformation(test_images, t_test, transform, g))      # name -> (M, D)
    out = {"chance": float(torch.bincount(t_test, minlength=classes).max()) / len(t_test)}
    for name in f_train:
        probe = evaluation.linear_probe(f_train[name], t_train, f_test[name], t_test, classes, seed=seed)
        out[name] = probe["test_accuracy"]
    return out


def transformation_prediction(record: RunRecord, transform: str = "rotate", n_train: int = 2000,
                              n_test: int = 1000, device: str = "auto", seed: int = 0) -> dict[str, Any]:
    """SimCLR Table 3 on a finished pretraining run: can the transformation be predicted from h, from z?

    Loads the run's weights (:func:`lib.training.load_pretrained`), takes ``n_train`` training and
    ``n_test`` test images of the run's data (class-balanced), and runs
    :func:`predict_transformation` on h (the encoder output) and z (the head's output; z = h for
    a run without head). The result is stored in the run's folder
    (``evaluations/transform-<transform>-<n_train>-<n_test>-<seed>.json``) and loaded from there
    when asked again, so it needs the weights only once (on the machine that trained the run).
    """
    from .data import stratified_subset_indices

    if record.config.task != "pretrain":
        raise ValueError(f"run {record.run_id} is a {record.config.task!r} run; transformation prediction needs "
                         f"a 'pretrain' run (an encoder and a projection head)")
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    path = record.directory / "evaluations" / f"transform-{transform}-{n_train}-{n_test}-{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    config = record.config.replace(device=device, runs_dir=str(record.directory.parent), progress=False)
    _, state = training.load_pretrained(record.run_id, config)
    dev = training.resolve_device(device)
    d = training.prepare_data(config, dev)
    model = training.build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std())
    model.load_state_dict(state["model"])
    model = model.to(dev).eval()
    train = d.train.images[stratified_subset_indices(d.train.labels, min(n_train, len(d.train)), seed=seed)]
    test = d.test.images[stratified_subset_indices(d.test.labels, min(n_test, len(d.test)), seed=seed)]
    amp = training.autocast(dev, config.precision)
    resize = training.eval_transform(d.size, d.train.image_size)

    def encode(x):
        with amp:
            return model.encoder(x).float()

    @torch.no_grad()
    def features(images):
        h = evaluation.embed(encode, images, transform=resize)              # (N, D_h)
        with amp:
            z = model.head(h).float()                                        # (N, D_z): z = g(h), eval mode
        return {"h": h, "z": z}

    scores = predict_transformation(features, train, test, transform, seed=seed)
    out = {"run_id": record.run_id, "transform": transform, "n_train": len(train), "n_test": len(test),
           "seed": seed, **scores}
    atomic_write_json(path, out)
    return out


TABLE3_ROWS = {"rotate": "rotation", "gray": "color vs grayscale", "sobel": "orig. vs Sobel"}  # ours -> paper's


def transformation_table(results: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]], scale: float = 100.0):
    """Rows (setting, transform): accuracy (%) of predicting the transform from h and from z, mean and
    std over seeds, chance, and SimCLR Table 3's h and g(h) where the paper has that transform."""
    import pandas as pd

    paper = REFERENCES["simclr.table3"].values
    rows = []
    for (setting, transform), per_seed in results.items():
        row: dict[str, Any] = {"setting": setting, "transform": transform}
        for layer in ("h", "z"):
            row[layer], row[f"{layer}_std"], row["seeds"] = mean_std([r[layer] * scale for r in per_seed])
        row["chance"] = mean_std([r["chance"] * scale for r in per_seed])[0]
        name = TABLE3_ROWS.get(transform)
        row["paper h"] = paper.get(f"{name}: h", math.nan) if name else math.nan
        row["paper z"] = paper.get(f"{name}: z", math.nan) if name else math.nan
        rows.append(row)
    columns = ["setting", "transform", "h", "h_std", "z", "z_std", "chance", "seeds", "paper h", "paper z"]
    return pd.DataFrame(rows, columns=columns).set_index(["setting", "transform"])


# ================================================================================================
# 5. planning a profile's compute
# ================================================================================================

TRAIN_IMAGES = {"sample": 5000, "cifar10": 50000, "cifar100": 50000, "stl10": 5000, "fashion-mnist": 60000}

# Training views per second used for time estimates: small_cnn (width 0.5) measured on the 2-core CPU
# of the development machine; resnet18 on one H100 in bf16 is an assumption until a GPU run measures it
# (every record logs its views_per_second per epoch).
ASSUMED_VIEWS_PER_S = {"small_cnn": 3500.0, "resnet18": 15000.0}
ASSUMED_OVERHEAD_S = {"small_cnn": 5.0, "resnet18": 10.0}  # data, model set-up and final evaluation per run


def n_train_images(dataset: str, train_size: int) -> int:
    """Training images a run uses: ``train_size``, or the whole split (0)."""
    if train_size:
        return train_size
    if dataset not in TRAIN_IMAGES:
        raise ValueError(f"number of training images of {dataset!r} unknown; set train_size")
    return TRAIN_IMAGES[dataset]


def describe_setting(config: Config, seeds: int, evaluation: str) -> str:
    """Our setting in one line: data, backbone, budget, optimiser, seeds, evaluation."""
    n = n_train_images(config.dataset, config.train_size)
    return (f"{config.dataset} ({n:,} training images), {config.arch} width {config.width:g}, {config.epochs} epochs, "
            f"batch {config.batch_size}, {config.optimizer.upper()} lr {config.scaled_lr:g}, {seeds} seed(s); "
            f"{evaluation}")


def setting_table(rows: Mapping[str, tuple[str, str]]):
    """The paper's setting beside ours, one row per experiment: ``{experiment: (paper, ours)}``."""
    import pandas as pd

    return pd.DataFrame.from_dict({k: {"paper": p, "ours": o} for k, (p, o) in rows.items()}, orient="index")


def planned_views(config: Config) -> int:
    """Training views a run will process: steps per epoch x batch x epochs x views per image.

    Fine-tuning and supervised runs draw from the labelled fraction of the training images; the
    labelled count is rounded per data set, not per class, so it is approximate there.
    """
    n = n_train_images(config.dataset, config.train_size)
    if config.task in ("finetune", "supervised"):
        n = max(1, round(n * config.label_fraction))
    steps = n // config.batch_size
    return steps * config.batch_size * config.epochs * training.job_views(config)


def plan(configs: Sequence[Config]) -> dict[str, Any]:
    """Runs of a notebook: how many, how many already recorded, and the estimated time of the rest.

    Duplicated configs (the same run id) count once. Time = pending views / the assumed
    throughput of the architecture (:data:`ASSUMED_VIEWS_PER_S`) + a per-run overhead.
    """
    unique = list({c.run_id(): c for c in configs}.values())
    pending = [c for c in unique if existing_record(c) is None]
    seconds = sum(planned_views(c) / ASSUMED_VIEWS_PER_S.get(c.arch, 3500.0) + ASSUMED_OVERHEAD_S.get(c.arch, 10.0)
                  for c in pending)
    return {"runs": len(unique), "recorded": len(unique) - len(pending), "pending": [c.run_id() for c in pending],
            "pending_views": sum(planned_views(c) for c in pending), "estimated_minutes": seconds / 60}


def plan_line(name: str, p: Mapping[str, Any]) -> str:
    """One sentence about :func:`plan`'s result."""
    return (f"{name}: {p['runs']} runs, {p['recorded']} already recorded, {len(p['pending'])} to train "
            f"({p['pending_views'] / 1e6:.1f} M training views, about {p['estimated_minutes']:.0f} min at the "
            f"assumed throughput)")


# ================================================================================================
# 6. figures
# ================================================================================================

def _heatmap_panel(ax, matrix: np.ndarray, ops: Sequence[str], title: str, vmin: float, vmax: float):
    full = np.column_stack([matrix, row_averages(matrix)])                     # (n, n + 1)
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")                  # missing cells in grey
    image = ax.imshow(np.ma.masked_invalid(full), cmap=cmap, vmin=vmin, vmax=vmax)
    cols = [*ops, "average"]
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(ops)), ops, fontsize=7)
    ax.axvline(len(ops) - 0.5, color="white", linewidth=2)
    middle = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(full):
        ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.1f}", ha="center", va="center", fontsize=6,
                color="black" if np.isfinite(v) and v > middle else "white" if np.isfinite(v) else "#666666")
    ax.set_xlabel("2nd transformation", fontsize=8)
    ax.set_ylabel("1st transformation", fontsize=8)
    ax.set_title(title, fontsize=9)
    return image


def augmentation_heatmap(ours: np.ndarray, paper: np.ndarray | None = None, ops: Sequence[str] = FIGURE5_OPS,
                         ours_title: str = "ours", paper_title: str = "SimCLR Figure 5 (ImageNet)") -> Figure:
    """Linear-probe accuracy (%) of every cell laid out as SimCLR's Figure 5, ours beside the paper's.

    Rows: the first transformation; columns: the second (the diagonal: one transformation alone);
    a last column with each row's average. Cells without a value are grey with "–". Each panel
    has its own colour scale (the data sets differ).
    """
    ours = np.asarray(ours, dtype=float)
    n = len(ops)
    if ours.shape != (n, n) or (paper is not None and np.asarray(paper).shape != (n, n)):
        raise ValueError(f"matrices must be {n}x{n} for ops {tuple(ops)}; got {ours.shape}")
    panels = [(ours, ours_title)] + ([(np.asarray(paper, dtype=float), paper_title)] if paper is not None else [])
    fig = Figure(figsize=(4.3 * len(panels), 3.9), dpi=DPI)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (m, title) in zip(axes, panels):
        finite = m[np.isfinite(m)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        image = _heatmap_panel(ax, m, ops, title, lo, hi if hi > lo else lo + 1)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def effect_lines(series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
                 xlabel: str, ylabel: str, title: str = "", xscale: str = "linear",
                 xticklabels: Sequence[str] | None = None) -> Figure:
    """Mean ± one std (shaded; none for one seed) of an effect against a knob, one line per series.

    ``series`` maps a label to ``(x, mean, std)``; NaN means (settings not run) are skipped.
    """
    if not series:
        raise ValueError("series is empty: nothing to draw")
    fig = Figure(figsize=(4.6, 3.0), dpi=DPI)
    ax = fig.subplots()
    for i, (label, (x, mean, std)) in enumerate(series.items()):
        x, mean, std = (np.asarray(a, dtype=float) for a in (x, mean, std))
        if not x.shape == mean.shape == std.shape:
            raise ValueError(f"series {label!r}: x, mean and std must have the same length")
        ok = np.isfinite(mean)
        ax.plot(x[ok], mean[ok], marker="o", markersize=3, color=f"C{i}", label=label)
        spread = np.nan_to_num(std[ok])
        if spread.any():
            ax.fill_between(x[ok], mean[ok] - spread, mean[ok] + spread, color=f"C{i}", alpha=0.2, linewidth=0)
    ax.set_xscale(xscale)
    if xticklabels is not None:
        xs = np.asarray(next(iter(series.values()))[0], dtype=float)
        ax.set_xticks(xs, list(xticklabels), fontsize=7)
        ax.minorticks_off()
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


# ================================================================================================
# 7. the summary's related-work section
# ================================================================================================

RELATED_NOTEBOOKS: dict[str, tuple[str, str]] = {  # notebook -> (claims tested, paper figures)
    "05_simclr_augmentations": ("composition of augmentations; colour strength (SimCLR vs supervised)",
                                "SimCLR Figure 5, Table 1"),
    "06_projection_head": ("nonlinear projection head; h vs z; what the head removes",
                           "SimCLR Figure 8, Sec. 4.2, Table 3"),
    "07_batch_temperature": ("batch size x epochs; temperature and l2 normalisation; learning-rate scaling",
                             "SimCLR Figure 9, Table 5, Appendix B.1, B.9"),
    "08_simclr_v2_claims": ("head depth x fine-tuning layer; bigger encoders; distillation",
                            "SimCLRv2 Table 1, Figure 5, Tables 2-3"),
}


def related_work_table(manifests: Mapping[str, Mapping[str, Any]]):
    """One row per claim of the related-work notebooks, from their manifests' headlines.

    Each notebook's manifest headline holds ``"verdict: <claim>"`` entries (strings); a notebook
    without a manifest at this profile gets one row saying so.
    """
    import pandas as pd

    rows = []
    for nb, (claims, figures) in RELATED_NOTEBOOKS.items():
        manifest = manifests.get(nb)
        if manifest is None:
            rows.append({"notebook": nb, "paper": figures, "claim": claims, "verdict": "not run at this profile"})
            continue
        verdicts = {k[len("verdict: "):]: v for k, v in manifest.get("headline", {}).items()
                    if k.startswith("verdict: ")}
        for claim, verdict in (verdicts or {claims: "no verdict recorded"}).items():
            rows.append({"notebook": nb, "paper": figures, "claim": claim, "verdict": verdict})
    return pd.DataFrame(rows, columns=["notebook", "paper", "claim", "verdict"])
