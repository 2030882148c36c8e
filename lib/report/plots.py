"""Figures of the report: images, views, training curves, embeddings, retrieval and metric tables.

Every plotting function returns a :class:`matplotlib.figure.Figure` built with the object API
(``Figure(...)``, never ``pyplot``): no figure is registered globally, nothing is shown, and a
notebook displays the figure by ending a cell with it. Figures are ``DPI`` = 150 dots per inch (sharp on a screen; the page shows them at their own size, 96 CSS px per inch) with text of at least ``FONT`` = 9 pt, a few inches wide, so executed notebooks and the PNGs copied into ``images/`` stay light.

Besides the figures, a few helpers turn run records into what the figures take: the stored test
embeddings (:func:`stored_embeddings`), the test images they belong to (:func:`stored_test_images`),
their UMAP (:func:`umap_of_record`) and a mean ± std table of results over seeds
(:func:`results_table`).

UMAP (McInnes, Healy & Melville 2018, "UMAP: Uniform Manifold Approximation and Projection for
Dimension Reduction") is fitted in one place, :func:`umap_embedding`, on L2-normalised features:
the evaluation compares embeddings by cosine similarity, and on unit vectors Euclidean distance is
a monotone function of it (``|a - b|^2 = 2 - 2 cos(a, b)``), so UMAP sees the same neighbours.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator
from PIL import Image

from .. import evaluation, views
from .grids import row_averages
from .manifests import as_list, check_name, stored_embeddings, stored_test_images
from .papers import FIGURE5_OPS
from .profiles import README_PROFILES
from . import captions

captions.register()  # in a notebook's kernel: each figure shown carries its caption to the page as alt text

if TYPE_CHECKING:
    import pandas as pd

    from ..records import RunRecord

DPI = 150                # dots per inch of every figure (and of save_png): sharp on a laptop screen
FONT = 9                 # smallest text of any figure, points at the figure's size (#25 item 5: >= 9 pt)
# every text of a figure >= FONT: rcParams for what no call sizes (ticks, legends, annotations, titles)
matplotlib.rcParams.update({"font.size": FONT, "xtick.labelsize": FONT, "ytick.labelsize": FONT,
                            "axes.labelsize": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT,
                            "legend.title_fontsize": FONT, "figure.titlesize": FONT + 1})
CELL = 0.8               # side of one image in a grid, inches
WRONG_COLOR = "#d62728"  # frame and label of a retrieved neighbour of another class
RIGHT_COLOR = "#2ca02c"  # frame of a retrieved neighbour of the query's class
CURVE_NAMES = {  # panel titles of the per-epoch metrics
    "loss": "training loss",
    "knn_top1": "kNN top-1 (test monitor)",
    "contrastive_top1": "contrastive top-1\n(positive ranked first)",
    "train_top1": "training top-1",
    "test_top1": "classifier test top-1",
}
SCORE_NAMES = evaluation.AXIS_NAMES  # axis labels of the evaluation battery's scores (lib.evaluation.METRIC_NAMES)
_PROBABILITY_OF = {"flip": "flip_p", "color": "color_p", "gray": "gray_p", "blur": "blur_p"}


# ================================================================================================
# images
# ================================================================================================

def _display(image: Any) -> np.ndarray:
    """One image ``(C, H, W)``, uint8 or float in [0, 1] (tensor or array) -> ``(H, W)`` or ``(H, W, 3)``
    float in [0, 1] for ``imshow``."""
    x = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"an image must be (C, H, W) with C = 1 or 3; got shape {x.shape}")
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0).clip(0.0, 1.0)


def _show(ax, image: Any) -> None:
    """Draw one image without ticks; 1-channel images in gray."""
    ax.imshow(_display(image), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _image_axes(rows: int, cols: int, n: int | None = None, extra_height: float = 0.0):
    """A figure of ``rows`` x ``cols`` image cells; cells past the first ``n`` are removed."""
    fig = Figure(figsize=(cols * CELL, rows * CELL + extra_height), dpi=DPI, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.flat[n if n is not None else rows * cols:]:
        ax.remove()
    return fig, axes


def _labels(labels: Any) -> np.ndarray:
    return labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)


def examples_per_class(labels: Any, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class, grouped by class (class 0 first).

    A class with fewer examples contributes all it has.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1; got {per_class}")
    y = _labels(labels)
    rng = np.random.default_rng(seed)
    picks = [np.sort(rng.permutation(np.flatnonzero(y == c))[:per_class]) for c in np.unique(y[y >= 0])]
    return np.concatenate(picks)


def image_grid(images: Any, labels: Any, classes: Sequence[str], ncols: int = 10,
               title: str | None = None) -> Figure:
    """A grid of images, ``ncols`` per row (one axes per image).

    ``images`` ``(N, C, H, W)`` uint8 (or float in [0, 1]); ``labels`` ``(N,)`` class indices.
    A row whose images share one class is named once, on its left (pick the images with
    :func:`examples_per_class` and ``ncols`` = images per class for one row per class);
    otherwise every image gets its class as a title.
    """
    n = len(images)
    if n == 0 or len(labels) != n:
        raise ValueError(f"images and labels must be non-empty and of equal length; got {n} and {len(labels)}")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1; got {ncols}")
    y = _labels(labels)
    ncols = min(ncols, n)
    rows = math.ceil(n / ncols)
    fig, axes = _image_axes(rows, ncols, n, extra_height=0.4 if title else 0.0)
    for r in range(rows):
        row = y[r * ncols:(r + 1) * ncols]
        one_class = len(set(row.tolist())) == 1
        for c, label in enumerate(row):
            ax = axes[r, c]
            _show(ax, images[r * ncols + c])
            if not one_class:
                ax.set_title(classes[label], fontsize=FONT)
        if one_class:
            axes[r, 0].set_ylabel(classes[row[0]], fontsize=FONT, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _ops_title(ops: Sequence[str]) -> str:
    return "\n".join(textwrap.wrap(" + ".join(ops), width=14)) if ops else "identity"


def augmentation_gallery(images: Any, ops_list: Sequence[tuple[str, ...]], view_config: views.ViewConfig,
                         generator: torch.Generator) -> Figure:
    """Rows: images; columns: the original, then one column per entry of ``ops_list``.

    A single operation is shown *applied* (its probability -- ``flip_p``, ``color_p``, ``gray_p``,
    ``blur_p`` -- set to 1), so its column always shows what it does; a composed pipeline (two or
    more operations) keeps ``view_config``'s probabilities, as in training. ``generator`` must be
    on the images' device.
    """
    if not ops_list:
        raise ValueError("ops_list must name at least one pipeline, e.g. [('crop',), views.SIMCLR_CIFAR]")
    x = torch.as_tensor(images)
    columns = [("original", x)]
    for ops in ops_list:
        config = view_config
        if len(ops) == 1 and ops[0] in _PROBABILITY_OF:
            config = replace(view_config, **{_PROBABILITY_OF[ops[0]]: 1.0})
        columns.append((_ops_title(ops), views.ViewPipeline(ops, config)(x, generator)))
    fig, axes = _image_axes(len(x), len(columns), extra_height=0.35)
    for c, (name, batch) in enumerate(columns):
        axes[0, c].set_title(name, fontsize=FONT)
        for r in range(len(x)):
            _show(axes[r, c], batch[r])
    return fig


def two_views(images: Any, pipeline1: views.ViewPipeline, pipeline2: views.ViewPipeline,
              generator: torch.Generator, n: int = 8) -> Figure:
    """The first ``n`` images (top row) above their two views (rows 2 and 3), as one training
    step draws them (:func:`lib.views.two_views`)."""
    x = torch.as_tensor(images)[:n]
    v1, v2 = views.two_views(x, pipeline1, pipeline2, generator)
    fig, axes = _image_axes(3, len(x))
    for r, (name, batch) in enumerate((("image", x), ("view 1", v1), ("view 2", v2))):
        axes[r, 0].set_ylabel(name, fontsize=FONT)
        for c in range(len(x)):
            _show(axes[r, c], batch[c])
    return fig


# ================================================================================================
# training curves and metric tables
# ================================================================================================



def _curve(record: RunRecord, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and values of ``metric`` in a record's per-epoch log (epochs without it skipped)."""
    points = [(e["epoch"], e[metric]) for e in record.epochs if e.get(metric) is not None]
    if not points:
        return np.zeros(0), np.zeros(0)
    epochs, values = zip(*points)
    return np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)


def training_curves(records: Mapping[str, Any], metrics: Sequence[str] = ("loss", "knn_top1", "contrastive_top1"),
                    title: str | None = None) -> Figure:
    """One panel per metric (x: epoch, 0 = the random initialisation), one line per entry of ``records``.

    ``records`` maps a label to a :class:`RunRecord` or to a list of them (seeds): a list is drawn
    as its mean with the min-max range shaded. Metrics that no record logs get no panel.
    """
    groups = {label: as_list(runs) for label, runs in records.items()}
    shown = [m for m in metrics if any(len(_curve(r, m)[0]) for runs in groups.values() for r in runs)]
    if not shown:
        raise ValueError(f"none of the metrics {list(metrics)} is logged by the given records")
    fig = Figure(figsize=(3.4 * len(shown), 2.8), dpi=DPI)
    axes = np.atleast_1d(fig.subplots(1, len(shown)))
    for ax, metric in zip(axes, shown):
        for i, (label, runs) in enumerate(groups.items()):
            curves = [_curve(r, metric) for r in runs]
            curves = [c for c in curves if len(c[0])]
            if not curves:
                continue
            length = min(len(c[0]) for c in curves)
            epochs = curves[0][0][:length]
            values = np.stack([c[1][:length] for c in curves])  # (seeds, epochs)
            color = f"C{i}"
            ax.plot(epochs, values.mean(0), color=color, label=label, marker="." if length < 12 else None)
            if len(curves) > 1:
                ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.2, linewidth=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(CURVE_NAMES.get(metric, metric), fontsize=9)
        if metric == "loss":
            ax.set_ylabel("loss", fontsize=FONT)
        else:
            percent_axis(ax, "accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=FONT)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    seeds = _seed_count(len(runs) for runs in groups.values())
    return captions.set_caption(fig, f"{title + ': ' if title else ''}"
                                + "; ".join(CURVE_NAMES.get(m, m).replace(chr(10), " ") for m in shown)
                                + " against epoch (0: the random initialisation), accuracies in %. "
                                + (f"Each line is the mean over {seeds} seeds; the shaded band is the range (min to "
                                   "max) over those seeds." if seeds != "1" else "One seed: no band."))



class PercentTicks(Formatter):
    """Fractions as percent tick labels with the fewest decimals (0 to 3) that keep every label distinct: an
    axis spanning 2 points reads 68.5 %, 69.0 %, ..., not 68 %, 69 %, 69 %, ...; 0-100 % reads 0 %, 20 %, ..."""

    decimals = 0  # of the last ticks formatted; a single value (the cursor's) is shown with as many

    def format_ticks(self, values):
        values = list(values)
        for self.decimals in range(4):
            labels = [f"{100 * v:.{self.decimals}f} %" for v in values]
            if len(set(labels)) == len(labels):
                break
        return labels

    def __call__(self, x, pos=None):
        return f"{100 * x:.{self.decimals}f} %"


def percent_axis(ax, label: str = "") -> None:
    """Show an axis of fractions (accuracies, scores in [0, 1]) in % like every table and sentence of
    the report (the data stay fractions: only the ticks and the label change)."""
    ax.yaxis.set_major_formatter(PercentTicks())
    if label:
        ax.set_ylabel(label if label.endswith("(%)") else f"{label} (%)", fontsize=FONT)


def _seed_count(values: Iterable[Any]) -> str:
    counts = sorted({int(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))})
    return " or ".join(map(str, counts)) if counts else "?"


def _score_name(key: str) -> str:
    """``"map@r"`` -> ``"MAP@R"``; ``"z/map@r"`` -> ``"MAP@R (z)"``."""
    layer, _, score = key.rpartition("/")
    name = SCORE_NAMES.get(score, score)
    return f"{name} ({layer})" if layer else name


def _row_name(index: Any) -> str:
    return " ".join(map(str, index)) if isinstance(index, tuple) else str(index)


def metric_bars(table: pd.DataFrame, metrics: Sequence[str], title: str | None = None) -> Figure:
    """Grouped bars: one group per metric, one bar per row of ``table`` (e.g. per method).

    ``table`` as :func:`results_table` makes it; ``<metric>_std`` columns, when present, give
    error bars (± one standard deviation over seeds), except for rows of one seed (``seeds`` = 1).
    """
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise ValueError(f"metrics {missing} are not columns of the table; columns: {list(table.columns)}")
    rows = len(table)
    width = 0.8 / max(rows, 1)
    x = np.arange(len(metrics))
    fig = Figure(figsize=(max(4.0, 0.25 * rows * len(metrics) + 1.5), 3.0), dpi=DPI)
    ax = fig.subplots()
    for i, (index, row) in enumerate(table.iterrows()):
        means = row[list(metrics)].to_numpy(dtype=float)
        stds = np.array([row.get(f"{m}_std", np.nan) for m in metrics], dtype=float)
        one_seed = row.get("seeds", 2) <= 1
        err = None if one_seed or np.isnan(stds).all() else np.nan_to_num(stds)
        ax.bar(x + (i - (rows - 1) / 2) * width, means, width, yerr=err, capsize=2, label=_row_name(index),
               color=f"C{i}")
    ax.set_xticks(x, [_score_name(m) for m in metrics], fontsize=FONT, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    percent_axis(ax, "score on the test images")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=FONT, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    seeds = _seed_count(table["seeds"]) if "seeds" in table.columns else "?"
    bars = (f"Each bar is the mean over {seeds} seed{'s' if seeds != '1' else ''}"
            + ("; the error bars are ± one standard deviation over those seeds (none for a row with a single seed)."
               if seeds != "1" else "; with one seed there is no error bar."))
    return captions.set_caption(fig, f"{title + ': ' if title else ''}"
                                + ", ".join(_score_name(m) for m in metrics) + f" in %, per {table.index.name or 'row'}. "
                                + bars)


# ================================================================================================
# embeddings
# ================================================================================================

def umap_embedding(features: Any, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """2-D UMAP of ``features`` ``(N, D)`` (rows L2-normalised first: cosine geometry). ``(N, 2)``.

    ``n_neighbors`` is clipped to ``N - 1``. Seeded, hence single-threaded, and reproducible.
    umap-learn is imported here, lazily: it takes seconds, and its first fit in a process compiles
    numba code. It is optional: without it the points are :func:`pca_2d`'s, and the first call prints
    one line (:data:`NO_UMAP`) saying so, so that a page's figures and records are written either way.
    """
    x = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    x = x.astype(np.float32)
    if x.ndim != 2 or x.shape[0] < 4:
        raise ValueError(f"features must be (N, D) with N >= 4; got shape {x.shape}")
    if n_neighbors < 2:
        raise ValueError(f"n_neighbors must be >= 2; got {n_neighbors}")
    x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)
    try:
        with warnings.catch_warnings():  # pynndescent imports tqdm.auto, which warns outside a widget frontend
            warnings.filterwarnings("ignore", message="IProgress not found")
            import umap  # slow to import (numba): only here
    except ImportError:  # an optional dependency (a bare GPU machine has none): draw, and say what is drawn
        _say_once(NO_UMAP)
        return pca_2d(x)

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, x.shape[0] - 1), n_components=2, min_dist=0.1,
                        random_state=seed, n_jobs=1, init="spectral" if x.shape[0] > 16 else "random")
    return reducer.fit_transform(x).astype(np.float32)


NO_UMAP = ("umap-learn is not installed: the UMAP panels on this page are PCA projections (the two principal "
           "components) instead; `pip install umap-learn` for UMAP")
_SAID: set[str] = set()


def _say_once(line: str) -> None:
    """Print ``line`` the first time only: one line on the page, however many panels it concerns."""
    if line not in _SAID:
        _SAID.add(line)
        print(line, flush=True)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The projection of ``x`` ``(N, D)`` on its two principal components, ``(N, 2)`` float32: the
    stand-in for :func:`umap_embedding` without umap-learn. Deterministic: each axis's sign is fixed so
    that its largest loading is positive."""
    centred = np.asarray(x, dtype=np.float64) - np.asarray(x, dtype=np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:  # one feature: a zero second axis
        axes = np.vstack([axes, np.zeros_like(axes)])
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    return (centred @ axes.T).astype(np.float32)


def _class_colors(n: int) -> list:
    cmap = colormaps["tab10" if n <= 10 else "tab20" if n <= 20 else "turbo"]
    return [cmap(i if n <= 20 else i / max(n - 1, 1)) for i in range(n)]


def _scatter(ax, points2d: np.ndarray, labels: Any, classes: Sequence[str], title: str) -> None:
    y = _labels(labels)
    colors = _class_colors(len(classes))
    for c, name in enumerate(classes):
        mask = y == c
        if mask.any():
            ax.scatter(points2d[mask, 0], points2d[mask, 1], s=7, color=colors[c], label=name, linewidths=0)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def embedding_scatter(points2d: np.ndarray, labels: Any, classes: Sequence[str], title: str = "") -> Figure:
    """2-D points (e.g. from :func:`umap_embedding`) coloured by class, with a legend."""
    fig = Figure(figsize=(4.8, 3.6), dpi=DPI)
    ax = fig.subplots()
    _scatter(ax, np.asarray(points2d), labels, classes, title)
    ax.legend(fontsize=FONT, markerscale=2.5, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def embedding_panels(panels: Mapping[str, tuple[np.ndarray, Any]], classes: Sequence[str],
                     ncols: int = 4) -> Figure:
    """Several 2-D embeddings side by side (title -> ``(points2d, labels)``), one shared legend:
    UMAP at several checkpoints of a run, or one panel per method."""
    if not panels:
        raise ValueError("panels must hold at least one (points2d, labels) pair")
    n = len(panels)
    ncols = min(ncols, n)
    rows = math.ceil(n / ncols)
    fig = Figure(figsize=(2.8 * ncols + 1.4, 2.8 * rows), dpi=DPI)
    axes = np.asarray(fig.subplots(rows, ncols, squeeze=False))
    for ax in axes.flat[n:]:
        ax.remove()
    for ax, (title, (points, labels)) in zip(axes.flat, panels.items()):
        _scatter(ax, np.asarray(points), labels, classes, title)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / (2.8 * ncols + 1.4), 1))
    fig.legend(handles, names, fontsize=FONT, markerscale=2.5, loc="center right", frameon=False)
    return fig


# ================================================================================================
# retrieval
# ================================================================================================

def _tag(ax, text: str, color: str) -> None:
    """A class name written inside the bottom of an image, white on ``color``."""
    ax.text(0.5, 0.03, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=FONT, color="white",
            bbox={"facecolor": color, "edgecolor": "none", "pad": 1.0, "alpha": 0.85})


def retrieval_grid(query_images: Any, neighbour_images: Any, query_labels: Any, neighbour_labels: Any,
                   classes: Sequence[str], title: str | None = None) -> Figure:
    """Each row: a query image (black frame, its class written in it), then its K nearest
    neighbours, best first (columns numbered 1..K).

    ``query_images`` ``(Q, C, H, W)``, ``neighbour_images`` ``(Q, K, C, H, W)``, labels ``(Q,)`` and
    ``(Q, K)``. A neighbour of another class than its query gets a thick red frame and its class
    written in it in red (its axes' ``gid`` is ``"wrong"``); the others a thin green frame
    (``"right"``); the queries have ``gid`` ``"query"``.
    """
    q_y, n_y = _labels(query_labels), _labels(neighbour_labels)
    q, k = n_y.shape
    if len(query_images) != q or tuple(neighbour_images.shape[:2]) != (q, k) or q_y.shape != (q,):
        raise ValueError(f"expected query_images (Q, C, H, W), neighbour_images (Q, K, C, H, W), query_labels "
                         f"(Q,) and neighbour_labels (Q, K) with Q={q}, K={k}; got {len(query_images)}, "
                         f"{tuple(neighbour_images.shape[:2])}, {q_y.shape}")
    fig, axes = _image_axes(q, k + 1, extra_height=0.3 + (0.2 if title else 0.0))
    for c, name in enumerate(["query"] + [str(i) for i in range(1, k + 1)]):
        axes[0, c].set_title(name, fontsize=FONT)
    for r in range(q):
        ax = axes[r, 0]
        _show(ax, query_images[r])
        ax.set_gid("query")
        for spine in ax.spines.values():
            spine.set_linewidth(2.0)
        _tag(ax, classes[q_y[r]], "black")
        for c in range(k):
            ax = axes[r, c + 1]
            _show(ax, neighbour_images[r][c])
            wrong = n_y[r, c] != q_y[r]
            ax.set_gid("wrong" if wrong else "right")
            for spine in ax.spines.values():
                spine.set_edgecolor(WRONG_COLOR if wrong else RIGHT_COLOR)
                spine.set_linewidth(2.5 if wrong else 1.0)
            if wrong:
                _tag(ax, classes[n_y[r, c]], WRONG_COLOR)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


# ================================================================================================
# embeddings and neighbours of a record
# ================================================================================================


def umap_of_record(record: RunRecord, key: str = "h", n: int = 0, seed: int = 0,
                   n_neighbors: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """``(points2d, labels)``: the UMAP of a record's stored embeddings ``key`` (subsampled to ``n``)."""
    features, labels = stored_embeddings(record, key, n, seed)
    return umap_embedding(features, seed=seed, n_neighbors=n_neighbors), labels



def _pick_queries(labels: np.ndarray, n_queries: int, seed: int) -> np.ndarray:
    """``n_queries`` rows, one from each of as many distinct classes as possible, chosen by ``seed``."""
    rng = np.random.default_rng(seed)
    present = np.unique(labels)
    chosen = np.sort(rng.choice(present, size=min(n_queries, len(present)), replace=False))
    picks = [int(rng.choice(np.flatnonzero(labels == c))) for c in chosen]
    rest = rng.permutation(np.setdiff1d(np.arange(len(labels)), picks))[:n_queries - len(picks)]
    return np.array(picks + rest.tolist(), dtype=np.int64)


def retrieval_from_record(record: RunRecord, k: int = 8, n_queries: int = 6, key: str = "h",
                          seed: int = 0) -> Figure:
    """:func:`retrieval_grid` of ``n_queries`` stored test images (from different classes) and their
    ``k`` nearest neighbours by cosine similarity among the record's other stored test embeddings."""
    features, labels = stored_embeddings(record, key)
    images, _, classes = stored_test_images(record)
    if not 1 <= n_queries <= len(labels) or not 1 <= k < len(labels):
        raise ValueError(f"need 1 <= n_queries <= {len(labels)} and 1 <= k < {len(labels)} "
                         f"(the stored embeddings); got n_queries={n_queries}, k={k}")
    queries = _pick_queries(labels, n_queries, seed)
    x = torch.from_numpy(features)
    neighbours, _ = evaluation.nearest_neighbours(x[queries], x, k + 1)  # (Q, k+1): the query itself first
    neighbours = np.stack([[j for j in row if j != q][:k] for row, q in zip(neighbours.tolist(), queries)])
    right = int((labels[neighbours] == labels[queries][:, None]).sum())
    title = (f"{key}: nearest neighbours among {len(labels)} stored test images "
             f"({right}/{neighbours.size} of the query's class)")
    return retrieval_grid(images[queries], images[neighbours], labels[queries], labels[neighbours], classes, title)


# ================================================================================================
# files
# ================================================================================================

def save_png(fig: Figure, path: str | Path, dpi: int = DPI, colors: int = 256) -> Path:
    """Write ``fig`` as a compact PNG: rendered at ``dpi``, reduced to a ``colors``-colour palette
    (plots use few colours, so this is near lossless at a fraction of the size), optimised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(fig, dpi, colors))
    return path


def png_bytes(fig: Figure, dpi: int = DPI, colors: int = 256) -> bytes:
    """The compact PNG of :func:`save_png`, as bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    buffer.seek(0)
    out = io.BytesIO()
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=colors).save(out, format="png", optimize=True)
    return out.getvalue()


# README_PROFILES (lib.report.profiles): the profiles whose figures the README may show (never the smoke tests')


def readme_figure_path(notebook: str, name: str, profile: str, images_dir: str | Path = "") -> Path:
    """``images/<notebook>-<profile>-<name>.png``: where :func:`export_figure` puts a figure and
    where ``scripts/update_readme.py`` looks for it. The folder is ``images_dir``, else the one the report
    runner names in ``THESIS_IMAGES_DIR`` (:mod:`lib.report.exports`: ``<output>/images`` for a run
    that does not write the repository's own runs and pages), else ``images/`` of the repository."""
    from ..config import repo_path
    from .exports import IMAGES_DIR_ENV

    for label, value in (("notebook", notebook), ("name", name), ("profile", profile)):
        check_name(label, value)
    folder = images_dir or os.environ.get(IMAGES_DIR_ENV) or repo_path("images")
    return Path(folder) / f"{notebook}-{profile}-{name}.png"


def export_figure(fig: Figure, notebook: str, name: str, profile: str, images_dir: str | Path = "") -> Figure:
    """Copy a report figure into ``images/`` for the README (:func:`readme_figure_path`: a run writing
    elsewhere puts it beside its pages), and return it (so a cell still shows it).

    Only the ``quick``, ``cifar-cpu`` and ``full`` profiles export (the README shows their numbers); any other
    profile, such as the tests' ``smoke``, returns the figure untouched and writes nothing. The
    file is written whole or not at all, through a temporary file of its own (two report processes
    in one clone may export the same figure at once), then a rename.
    """
    from ..records import atomic_write_bytes

    if profile not in README_PROFILES:
        return fig
    atomic_write_bytes(readme_figure_path(notebook, name, profile, images_dir), png_bytes(fig))
    return fig


# ================================================================================================
# label efficiency and the related work's figures
# ================================================================================================

_AXIS_NAMES = {"test_top1": "test accuracy, top-1", "h/knn_top1": "kNN accuracy on h"}

def label_efficiency_figure(table, key: str = "test_top1", title: str = "", baselines: Iterable[str] = (),
                            dpi: int = DPI):
    """Accuracy against the fraction of labels (log x), one line per method, error bars = std.

    ``table`` is :func:`label_efficiency_table`'s output; methods named in ``baselines`` are drawn
    dashed. SimCLRv2 (Chen et al., 2020b, Fig. 1)
    plots top-1 accuracy against the fraction of labels on a log axis; this is that figure for
    our runs.
    """
    from matplotlib.figure import Figure

    baselines = set(baselines)
    missing = {"method", "label_fraction", key} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}; make it with label_efficiency_table")
    fig = Figure(figsize=(6.0, 4.0), dpi=dpi)  # object API: nothing registered with pyplot
    ax = fig.subplots()
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values("label_fraction")
        std = rows[f"{key}_std"] * 100 if f"{key}_std" in rows.columns else None
        ax.errorbar(rows["label_fraction"] * 100, rows[key] * 100, yerr=std, marker="o", capsize=3,
                    label=method, linestyle="--" if method in baselines else "-")
    fractions = sorted(set(table["label_fraction"]))
    ax.set_xscale("log")
    if fractions:
        ax.set_xticks([f * 100 for f in fractions], [f"{f * 100:g} %" for f in fractions])
        ax.minorticks_off()
    ax.set_xlabel("labelled training images")
    ax.set_ylabel(_AXIS_NAMES.get(key, key) + " (%)")
    ax.grid(alpha=0.3)
    if len(table):
        ax.legend(fontsize=FONT)
    ax.set_title(title or f"{key} against the fraction of labels")
    fig.tight_layout()
    return fig


def _heatmap_panel(ax, matrix: np.ndarray, ops: Sequence[str], title: str, vmin: float, vmax: float):
    full = np.column_stack([matrix, row_averages(matrix)])                     # (n, n + 1)
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")                  # missing cells in grey
    image = ax.imshow(np.ma.masked_invalid(full), cmap=cmap, vmin=vmin, vmax=vmax)
    cols = [*ops, "average"]
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=FONT)
    ax.set_yticks(range(len(ops)), ops, fontsize=FONT)
    ax.axvline(len(ops) - 0.5, color="white", linewidth=2)
    middle = (vmin + vmax) / 2
    for (i, j), v in np.ndenumerate(full):
        ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.1f}", ha="center", va="center", fontsize=FONT,
                color="black" if np.isfinite(v) and v > middle else "white" if np.isfinite(v) else "#666666")
    ax.set_xlabel("2nd transformation", fontsize=FONT)
    ax.set_ylabel("1st transformation", fontsize=FONT)
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
    fig = Figure(figsize=(5.0 * len(panels), 4.4), dpi=DPI)  # room for 9-pt cell values
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (m, title) in zip(axes, panels):
        finite = m[np.isfinite(m)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        title = textwrap.fill(title, 44)  # a long title would run over the colour bar beside it
        image = _heatmap_panel(ax, m, ops, title, lo, hi if hi > lo else lo + 1)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=FONT)
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
        ax.set_xticks(xs, list(xticklabels), fontsize=FONT)
        ax.minorticks_off()
    ax.set_xlabel(xlabel, fontsize=FONT)
    means = np.concatenate([np.asarray(m, dtype=float) for _, m, _ in series.values()])
    fractions = bool(np.isfinite(means).any()) and bool(np.nanmin(means) >= 0 and np.nanmax(means) <= 1)
    if fractions:  # accuracies: in %, as in the tables
        percent_axis(ax, ylabel)
    else:
        ax.set_ylabel(ylabel, fontsize=FONT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return captions.set_caption(fig, f"{title + ': ' if title else ''}{ylabel}{' in %' if fractions else ''} against "
                                f"{xlabel}. Each line is the mean over seeds; the shaded band is ± one standard "
                                "deviation over the seeds (no band for a single seed).")


def effect_by_budget(effects: Mapping[str, Mapping[int, Sequence[float]]], title: str = "") -> Figure:
    """Issue #24 item 6: a claim's paired effect against the training budget, one line per claim.

    ``effects`` maps a claim's label to ``{optimiser steps: per-seed paired effect (fractions)}``; each
    point is the mean effect in points with its 95 % t-interval (the statistics of the claims table),
    the steps on a log axis, and a dashed line at no effect."""
    from .statistics import mean_std, t_interval

    if not effects or not any(effects.values()):
        raise ValueError("effects is empty: no budget to draw")
    fig = Figure(figsize=(4.6, 3.0), dpi=DPI)
    ax = fig.subplots()
    seeds = set()
    for i, (label, by_steps) in enumerate(effects.items()):
        steps = sorted(by_steps)
        means = [100 * mean_std(by_steps[s])[0] for s in steps]
        cis = [t_interval(by_steps[s]) for s in steps]
        seeds.update(mean_std(by_steps[s])[2] for s in steps)
        lo = [m - 100 * c[0] if math.isfinite(c[0]) else 0.0 for m, c in zip(means, cis)]
        hi = [100 * c[1] - m if math.isfinite(c[1]) else 0.0 for m, c in zip(means, cis)]
        ax.errorbar(steps, means, yerr=[lo, hi], marker="o", markersize=3, capsize=3, color=f"C{i}", label=label)
    ax.axhline(0.0, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("optimiser steps of the runs compared (log scale)", fontsize=FONT)
    ax.set_ylabel("paired effect (points)", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    n = ", ".join(str(s) for s in sorted(seeds))
    return captions.set_caption(fig, f"{title + ': ' if title else ''}each claim's effect (our arm minus the other, in "
                                f"points) at each training budget. Points are means over {n} seeds paired by seed; the "
                                "bars are the 95 % t-intervals of the paired effect (none for a single seed); dashed: "
                                "no effect.")
