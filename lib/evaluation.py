"""Evaluation of learned image embeddings: kNN, linear probe, retrieval, clustering.

Every function works on whatever device its tensors are on (the GPU in real runs, the
CPU in tests) with chunked matrix products: no per-sample Python loops. Features are
compared by cosine similarity (dot products of L2-normalised rows) everywhere except the
linear probe, which sees standardised raw features.

Typical use::

    model.eval()                                    # the caller's job: BN/dropout in eval mode
    train_f = embed(model.encoder, train_images)    # (N, D) float32
    test_f = embed(model.encoder, test_images)      # (M, D) float32
    metrics = evaluation_battery(train_f, train_y, test_f, test_y, num_classes=10)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import train_val_split
from .losses import check_labels

# How the scores are named wherever they are shown: (in sentences, tables and the progress bar; on a
# figure's axis). The one table of them: the pages' conclusions, the figures, the README's tables and
# the live progress bar read it.
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "knn_top1": ("kNN", "kNN top-1"),
    "linear_probe_top1": ("linear probe", "linear probe top-1"),
    "recall@1": ("Recall@1", "Recall@1"), "recall@2": ("Recall@2", "Recall@2"),
    "recall@4": ("Recall@4", "Recall@4"), "recall@8": ("Recall@8", "Recall@8"),
    "map@r": ("MAP@R", "MAP@R"), "nmi": ("NMI", "NMI"), "ari": ("ARI", "ARI"),
    "test_top1": ("test accuracy", "classifier top-1"),
}
SHORT_NAMES = {key: short for key, (short, _) in METRIC_NAMES.items()}
AXIS_NAMES = {key: axis for key, (_, axis) in METRIC_NAMES.items()}

__all__ = [
    "embed",
    "nearest_neighbours",
    "knn_predict",
    "knn_accuracy",
    "linear_probe",
    "recall_at_k",
    "map_at_r",
    "retrieval_scores",
    "kmeans",
    "nmi",
    "ari",
    "clustering_scores",
    "evaluation_battery",
]


# ----------------------------------------------------------------------------------------
# argument validation


def _check_features(name: str, features: Tensor) -> None:
    if not isinstance(features, Tensor) or features.dim() != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{name} must be a 2-D tensor (N, D), got {shape}")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(features.shape)}")
    if not features.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {features.dtype}")


def _check_num_classes(num_classes: int, **labels: Tensor) -> None:
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    for name, y in labels.items():
        if int(y.max()) >= num_classes:
            raise ValueError(
                f"num_classes={num_classes} must exceed the largest label in {name} ({int(y.max())})"
            )


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _normalise(features: Tensor) -> Tensor:
    return F.normalize(features.float(), dim=1)  # (N, D) unit rows, fp32


# ----------------------------------------------------------------------------------------
# embeddings


@torch.no_grad()
def embed(
    model_fn: Callable[[Tensor], Tensor],
    images: Tensor,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    transform: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Embed images in chunks: (N, C, H, W) images -> (N, D) float32 features on ``device``.

    Each chunk is moved to ``device`` (default: the images' device), converted to float
    in [0, 1] (``x.float() / 255`` for uint8; float images are taken as already in
    [0, 1]), passed through ``transform`` (e.g. resize or normalisation) and then
    ``model_fn``. Outputs with more than two dimensions (e.g. pooled maps (B, D, 1, 1))
    are flattened to (B, D').

    Putting the model in eval mode (``model.eval()``, so BatchNorm uses its running
    statistics and the result does not depend on ``batch_size``) is the caller's job.
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a 4-D tensor (N, C, H, W), got {shape}")
    if images.shape[0] == 0:
        raise ValueError("images must be non-empty")
    _check_positive_int("batch_size", batch_size)
    device = images.device if device is None else torch.device(device)
    out: Tensor | None = None
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device, non_blocking=True)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()  # (B, C, H, W) in [0, 1]
        if transform is not None:
            x = transform(x)
        z = model_fn(x).flatten(1).float()  # (B, D)
        if out is None:
            out = torch.empty(images.shape[0], z.shape[1], device=device, dtype=torch.float32)
        out[start : start + z.shape[0]] = z
    assert out is not None
    return out


# ----------------------------------------------------------------------------------------
# nearest neighbours and kNN classification


def _iter_topk(
    query: Tensor, database: Tensor, k: int, exclude_self: bool, chunk_size: int
) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Yield (start, similarities (B, k), indices (B, k)) of each query chunk's top-k
    database rows by cosine similarity, best first. ``exclude_self`` drops database row
    ``i`` from query ``i``'s candidates (query and database are the same set)."""
    q, db = _normalise(query), _normalise(database)
    for start in range(0, q.shape[0], chunk_size):
        sim = q[start : start + chunk_size] @ db.T  # (B, N)
        if exclude_self:
            rows = torch.arange(sim.shape[0], device=sim.device)
            sim[rows, rows + start] = -math.inf
        top_sim, top_idx = sim.topk(k, dim=1)  # (B, k) each, sorted descending
        yield start, top_sim, top_idx


def _check_exclude_self(query: Tensor, database: Tensor, exclude_self: bool) -> None:
    if exclude_self and query.shape[0] != database.shape[0]:
        raise ValueError(
            "exclude_self=True needs the query set to be the database set, got "
            f"{query.shape[0]} queries and {database.shape[0]} database rows"
        )
    if exclude_self and database.shape[0] < 2:
        raise ValueError("exclude_self=True needs at least 2 database rows")


@torch.no_grad()
def nearest_neighbours(
    query_features: Tensor,
    database_features: Tensor,
    k: int,
    exclude_self: bool = False,
    chunk_size: int = 1024,
) -> tuple[Tensor, Tensor]:
    """Top-``k`` database rows of each query by cosine similarity, best first.

    Returns ``(indices, similarities)``, each (Q, k') with k' = min(k, candidates);
    ``exclude_self=True`` (query set == database set) skips each query's own row.
    """
    _check_features("query_features", query_features)
    _check_features("database_features", database_features)
    if query_features.shape[1] != database_features.shape[1]:
        raise ValueError(
            f"query_features has dimension {query_features.shape[1]} but "
            f"database_features has {database_features.shape[1]}"
        )
    _check_positive_int("k", k)
    _check_positive_int("chunk_size", chunk_size)
    _check_exclude_self(query_features, database_features, exclude_self)
    k = min(k, database_features.shape[0] - int(exclude_self))
    chunks = list(_iter_topk(query_features, database_features, k, exclude_self, chunk_size))
    indices = torch.cat([idx for _, _, idx in chunks])  # (Q, k)
    similarities = torch.cat([sim for _, sim, _ in chunks])  # (Q, k)
    return indices, similarities


@torch.no_grad()
def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    query_features: Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk_size: int = 1024,
    exclude_self: bool = False,
) -> Tensor:
    """Weighted kNN classifier of Wu et al. 2018 (InstDisc); predicted labels (Q,).

    As in InstDisc (and the kNN monitors of MoCo, SimCLR re-implementations and
    solo-learn): similarities are cosines s_i between L2-normalised features, the top-k
    training neighbours vote, and class c gets the total weight
    ``w_c = sum_{i in N_k} exp(s_i / temperature) * 1(c_i = c)``; the prediction is
    ``argmax_c w_c`` (ties go to the smaller class index). ``k`` is clipped to the
    number of training samples. ``exclude_self=True`` gives leave-one-out predictions
    when the queries are the training set itself.
    """
    _check_features("train_features", train_features)
    _check_features("query_features", query_features)
    train_labels = check_labels("train_labels", train_labels, train_features.shape[0], "train_features",
                                 class_indices=True)
    _check_num_classes(num_classes, train_labels=train_labels)
    if query_features.shape[1] != train_features.shape[1]:
        raise ValueError(
            f"query_features has dimension {query_features.shape[1]} but "
            f"train_features has {train_features.shape[1]}"
        )
    _check_positive_int("k", k)
    _check_positive_int("chunk_size", chunk_size)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    _check_exclude_self(query_features, train_features, exclude_self)

    train_labels = train_labels.to(train_features.device)
    k = min(k, train_features.shape[0] - int(exclude_self))
    predictions = torch.empty(query_features.shape[0], dtype=torch.long, device=query_features.device)
    for start, sim, idx in _iter_topk(query_features, train_features, k, exclude_self, chunk_size):
        weights = (sim / temperature).exp()  # (B, k)
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)  # (B, C)
        votes.scatter_add_(1, train_labels[idx], weights)
        predictions[start : start + sim.shape[0]] = votes.argmax(dim=1)
    return predictions


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk_size: int = 1024,
) -> float:
    """Top-1 accuracy of :func:`knn_predict` on the test set, in [0, 1]."""
    _check_features("test_features", test_features)
    test_labels = check_labels("test_labels", test_labels, test_features.shape[0], "test_features",
                                 class_indices=True)
    _check_num_classes(num_classes, test_labels=test_labels)
    pred = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    return (pred == test_labels.to(pred.device)).float().mean().item()


# ----------------------------------------------------------------------------------------
# linear probe


def _standardise(train: Tensor, *others: Tensor) -> list[Tensor]:
    mean = train.mean(dim=0, keepdim=True)  # (1, D)
    std = train.std(dim=0, unbiased=False, keepdim=True).clamp_min(1e-6)  # (1, D)
    return [(x - mean) / std for x in (train, *others)]


def _fit_logistic_regression(
    x: Tensor, y: Tensor, num_classes: int, weight_decay: float, max_iter: int, lr: float
) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression by full-batch L-BFGS; returns (W (C, D), b (C,)).

    Minimises ``mean cross-entropy + weight_decay / 2 * ||W||^2`` (bias not penalised,
    the same penalty as SGD weight decay) from a zero start; the problem is convex, so
    the result does not depend on a seed.
    """
    weight = torch.zeros(num_classes, x.shape[1], device=x.device, requires_grad=True)
    bias = torch.zeros(num_classes, device=x.device, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weight, bias], lr=lr, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        optimiser.zero_grad()
        logits = x @ weight.T + bias  # (N, C)
        loss = F.cross_entropy(logits, y) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    return weight.detach(), bias.detach()


def _accuracy(weight: Tensor, bias: Tensor, x: Tensor, y: Tensor) -> float:
    return ((x @ weight.T + bias).argmax(dim=1) == y).float().mean().item()


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    *,
    val_fraction: float = 0.1,
    weight_decays: Sequence[float] = (0.0, 1e-6, 1e-5, 1e-4, 1e-3),
    max_iter: int = 100,
    lr: float = 1.0,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> dict:
    """Linear evaluation: L2-regularised logistic regression on frozen features.

    Follows the linear-classifier protocol of SimCLR (Chen et al. 2020, App. B.8,
    after Kornblith et al. 2019): "We used L-BFGS to optimize the softmax
    cross-entropy objective and we did not apply data augmentation", with the
    regularisation strength chosen on a validation split. Here:

    1. a stratified validation split (``val_fraction``, seeded by ``seed``) is carved
       from the TRAINING features; the test set is never used for selection;
    2. for each weight decay, a classifier is fitted (full-batch L-BFGS, ``max_iter``
       iterations) on the rest, on features standardised with that part's mean/std,
       and scored on the validation split; the best wins (ties: larger weight decay);
    3. the winner is refitted on all training features (standardised with their own
       mean/std) and evaluated once on the test set.

    The penalty is ``weight_decay / 2 * ||W||^2`` added to the mean cross-entropy.
    Runs on ``device`` (default: the train features' device). Returns
    ``{"test_accuracy", "val_accuracy", "weight_decay", "train_accuracy",
    "val_accuracies"}`` (the last maps each weight decay to its validation accuracy).
    """
    _check_features("train_features", train_features)
    _check_features("test_features", test_features)
    if test_features.shape[1] != train_features.shape[1]:
        raise ValueError(
            f"test_features has dimension {test_features.shape[1]} but "
            f"train_features has {train_features.shape[1]}"
        )
    train_labels = check_labels("train_labels", train_labels, train_features.shape[0], "train_features",
                                 class_indices=True)
    test_labels = check_labels("test_labels", test_labels, test_features.shape[0], "test_features",
                                 class_indices=True)
    _check_num_classes(num_classes, train_labels=train_labels, test_labels=test_labels)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    weight_decays = tuple(float(wd) for wd in weight_decays)
    if not weight_decays or any(not wd >= 0 for wd in weight_decays):
        raise ValueError(f"weight_decays must be a non-empty sequence of values >= 0, got {weight_decays!r}")
    _check_positive_int("max_iter", max_iter)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")

    device = train_features.device if device is None else torch.device(device)
    x_all, y_all = train_features.to(device).float(), train_labels.to(device)
    x_test, y_test = test_features.to(device).float(), test_labels.to(device)

    fit_idx, val_idx = train_val_split(y_all, val_fraction, seed)
    if val_idx.numel() == 0:
        raise ValueError("val_fraction leaves an empty validation split: every class has one sample")
    x_fit, x_val = _standardise(x_all[fit_idx], x_all[val_idx])
    val_accuracies = {}
    for wd in weight_decays:
        weight, bias = _fit_logistic_regression(x_fit, y_all[fit_idx], num_classes, wd, max_iter, lr)
        val_accuracies[wd] = _accuracy(weight, bias, x_val, y_all[val_idx])
    best_wd = max(weight_decays, key=lambda wd: (val_accuracies[wd], wd))

    x_train, x_test = _standardise(x_all, x_test)
    weight, bias = _fit_logistic_regression(x_train, y_all, num_classes, best_wd, max_iter, lr)
    return {
        "test_accuracy": _accuracy(weight, bias, x_test, y_test),
        "val_accuracy": val_accuracies[best_wd],
        "weight_decay": best_wd,
        "train_accuracy": _accuracy(weight, bias, x_train, y_all),
        "val_accuracies": val_accuracies,
    }


# ----------------------------------------------------------------------------------------
# retrieval


def _check_retrieval_inputs(features: Tensor, labels: Tensor) -> Tensor:
    _check_features("features", features)
    labels = check_labels("labels", labels, features.shape[0], "features",
                                 class_indices=True)
    if features.shape[0] < 2:
        raise ValueError(f"features needs at least 2 rows for retrieval, got {features.shape[0]}")
    return labels.to(features.device)


def _relevant_counts(labels: Tensor) -> Tensor:
    """R per query: how many OTHER samples share its label. (N,)"""
    return torch.bincount(labels)[labels] - 1


@torch.no_grad()
def recall_at_k(
    features: Tensor, labels: Tensor, ks: Sequence[int] = (1, 2, 4, 8), chunk_size: int = 1024
) -> dict[int, float]:
    """Recall@K of Song et al. 2016 (lifted structure), the metric-learning protocol.

    Each sample queries all OTHER samples by cosine similarity; Recall@K is the fraction
    of queries with at least one same-label sample among their K nearest neighbours.
    K larger than N - 1 is clipped to N - 1. Queries whose label occurs nowhere else
    cannot be answered and are left out (as pytorch-metric-learning does for "lone"
    queries); if every query is lone a ValueError is raised.
    """
    labels = _check_retrieval_inputs(features, labels)
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks must be non-empty")
    for k in ks:
        _check_positive_int("each k in ks", k)
    _check_positive_int("chunk_size", chunk_size)
    has_match = _relevant_counts(labels) > 0  # (N,)
    if not bool(has_match.any()):
        raise ValueError("labels: every label occurs once, so no query has a relevant sample")

    k_max = min(max(ks), features.shape[0] - 1)
    first_hit = torch.empty(features.shape[0], dtype=torch.long, device=features.device)
    for start, _, idx in _iter_topk(features, features, k_max, True, chunk_size):
        q_labels = labels[start : start + idx.shape[0]]
        relevant = labels[idx] == q_labels[:, None]  # (B, k_max)
        # rank (1-based) of the first relevant neighbour, k_max + 1 if none
        rank = torch.where(relevant.any(1), relevant.int().argmax(1) + 1, k_max + 1)
        first_hit[start : start + idx.shape[0]] = rank
    first_hit = first_hit[has_match]
    return {k: (first_hit <= min(k, k_max)).float().mean().item() for k in ks}


@torch.no_grad()
def map_at_r(features: Tensor, labels: Tensor, chunk_size: int = 1024) -> float:
    """MAP@R of Musgrave et al. 2020 ("A Metric Learning Reality Check").

    Each sample queries all OTHER samples by cosine similarity; with R the number of
    other samples sharing its label, ``AP@R = (1/R) * sum_{i=1..R} P(i) * rel(i)``, where
    P(i) is the precision among the first i neighbours and rel(i) is 1 if the i-th
    neighbour is relevant. MAP@R is its mean over queries. Unlike Recall@K it rewards
    ranking all relevant samples first, not just one. Queries with R = 0 are left out
    (as in pytorch-metric-learning); if every query has R = 0 a ValueError is raised.
    Uses top-(max R) per chunk of queries, with per-query masks for smaller R.
    """
    labels = _check_retrieval_inputs(features, labels)
    _check_positive_int("chunk_size", chunk_size)
    r = _relevant_counts(labels)  # (N,)
    if not bool((r > 0).any()):
        raise ValueError("labels: every label occurs once, so no query has a relevant sample")

    r_max = int(r.max())
    positions = torch.arange(1, r_max + 1, device=features.device)  # (R_max,) 1-based ranks
    ap = torch.empty(features.shape[0], dtype=torch.float64, device=features.device)
    for start, _, idx in _iter_topk(features, features, r_max, True, chunk_size):
        stop = start + idx.shape[0]
        relevant = (labels[idx] == labels[start:stop, None]).float()  # (B, R_max)
        precision = relevant.cumsum(1) / positions  # (B, R_max) P(i)
        within_r = positions[None, :] <= r[start:stop, None]  # (B, R_max) i <= R of the query
        r_q = r[start:stop].clamp_min(1).double()
        ap[start:stop] = (precision * relevant * within_r).sum(1).double() / r_q
    return ap[r > 0].mean().item()


def retrieval_scores(features: Tensor, labels: Tensor, ks: Sequence[int] = (1, 2, 4, 8)) -> dict[str, float]:
    """``{"recall@1", "recall@2", "recall@4", "recall@8", "map@r"}`` on one set."""
    scores = {f"recall@{k}": v for k, v in recall_at_k(features, labels, ks).items()}
    scores["map@r"] = map_at_r(features, labels)
    return scores


# ----------------------------------------------------------------------------------------
# clustering


def _squared_distances(x: Tensor, centres: Tensor, x_sq: Tensor) -> Tensor:
    """||x - c||^2 for all pairs via the expansion. (N, k)"""
    return (x_sq[:, None] - 2.0 * x @ centres.T + centres.pow(2).sum(1)[None, :]).clamp_min_(0.0)


def _kmeans_plus_plus(x: Tensor, x_sq: Tensor, k: int, g: torch.Generator) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each new centre is drawn with
    probability proportional to its squared distance to the nearest chosen centre."""
    n = x.shape[0]
    centres = torch.empty(k, x.shape[1], device=x.device, dtype=x.dtype)
    centres[0] = x[int(torch.randint(n, (1,), generator=g))]
    closest = _squared_distances(x, centres[:1], x_sq)[:, 0]  # (N,)
    for j in range(1, k):
        cumulative = closest.double().cumsum(0)  # (N,)
        total = float(cumulative[-1])
        if total <= 0.0:  # fewer distinct points than k: any point will do
            i = int(torch.randint(n, (1,), generator=g))
        else:
            u = torch.rand(1, generator=g, dtype=torch.float64).to(x.device) * total
            i = min(int(torch.searchsorted(cumulative, u, right=True)), n - 1)
        centres[j] = x[i]
        closest = torch.minimum(closest, _squared_distances(x, centres[j : j + 1], x_sq)[:, 0])
    return centres


def _lloyd(x: Tensor, x_sq: Tensor, centres: Tensor, max_iter: int) -> tuple[Tensor, float]:
    """Lloyd iterations until the assignment stops changing; returns (labels, inertia)."""
    k = centres.shape[0]
    assign = None
    for _ in range(max_iter):
        dist = _squared_distances(x, centres, x_sq)  # (N, k)
        new_assign = dist.argmin(1)  # (N,)
        if assign is not None and torch.equal(new_assign, assign):
            break
        assign = new_assign
        counts = torch.bincount(assign, minlength=k)  # (k,)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)  # (k, D)
        centres = sums / counts.clamp_min(1)[:, None].to(x.dtype)
        empty = counts == 0
        if bool(empty.any()):  # re-seed empty clusters at the worst-fitted points
            worst = dist.gather(1, assign[:, None])[:, 0].topk(int(empty.sum())).indices
            centres[empty] = x[worst]
    dist = _squared_distances(x, centres, x_sq)
    assign = dist.argmin(1)
    return assign, float(dist.gather(1, assign[:, None]).sum())


@torch.no_grad()
def kmeans(features: Tensor, k: int, n_init: int = 10, max_iter: int = 100, seed: int = 0) -> Tensor:
    """k-means (Lloyd) with k-means++ seeding; cluster labels (N,) on the features' device.

    Runs ``n_init`` seeded restarts and keeps the one with the lowest inertia (sum of
    squared distances to the assigned centres). Deterministic for a given seed and device.
    """
    _check_features("features", features)
    _check_positive_int("k", k)
    if k > features.shape[0]:
        raise ValueError(f"k={k} must not exceed the number of samples ({features.shape[0]})")
    _check_positive_int("n_init", n_init)
    _check_positive_int("max_iter", max_iter)
    x = features.float()
    x_sq = x.pow(2).sum(1)  # (N,)
    g = torch.Generator().manual_seed(seed)
    best_labels, best_inertia = None, math.inf
    for _ in range(n_init):
        labels, inertia = _lloyd(x, x_sq, _kmeans_plus_plus(x, x_sq, k, g), max_iter)
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    assert best_labels is not None
    return best_labels


def _contingency(labels_true: Tensor, labels_pred: Tensor) -> Tensor:
    """Contingency table n_ij (classes x clusters), int64, on the CPU."""
    if labels_true.dim() != 1 or labels_pred.dim() != 1:
        raise ValueError(
            "labels_true and labels_pred must be 1-D, got "
            f"{tuple(labels_true.shape)} and {tuple(labels_pred.shape)}"
        )
    if labels_true.shape[0] != labels_pred.shape[0]:
        raise ValueError(
            f"labels_true has {labels_true.shape[0]} entries but labels_pred has {labels_pred.shape[0]}"
        )
    if labels_true.numel() == 0:
        raise ValueError("labels_true and labels_pred must be non-empty")
    _, t = torch.unique(labels_true.cpu(), return_inverse=True)
    _, p = torch.unique(labels_pred.cpu(), return_inverse=True)
    n_t, n_p = int(t.max()) + 1, int(p.max()) + 1
    return torch.bincount(t * n_p + p, minlength=n_t * n_p).reshape(n_t, n_p)


def nmi(labels_true: Tensor, labels_pred: Tensor) -> float:
    """Normalised mutual information, ``MI / mean(H(true), H(pred))`` (arithmetic-mean
    normalisation, scikit-learn's default); 1.0 when both partitions are a single cluster."""
    c = _contingency(labels_true, labels_pred).double()
    if c.shape[0] == 1 and c.shape[1] == 1:
        return 1.0
    p = c / c.sum()  # (T, P) joint
    p_t, p_p = p.sum(1), p.sum(0)
    nz = p > 0
    mi = (p[nz] * (p[nz].log() - (p_t[:, None] * p_p[None, :])[nz].log())).sum().clamp_min(0.0)
    h_t = -(p_t * p_t.log()).sum()
    h_p = -(p_p * p_p.log()).sum()
    if float(mi) == 0.0:
        return 0.0
    return float(mi / torch.clamp((h_t + h_p) / 2, min=torch.finfo(torch.float64).eps))


def ari(labels_true: Tensor, labels_pred: Tensor) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985), from the pair confusion matrix as in
    scikit-learn; 1.0 for identical partitions up to relabelling, about 0 for random ones."""
    c = _contingency(labels_true, labels_pred)
    n = int(c.sum())
    sum_squares = int(c.pow(2).sum())
    same_pred = int(c.sum(0).pow(2).sum()) - sum_squares  # pairs together in pred only (ordered)
    same_true = int(c.sum(1).pow(2).sum()) - sum_squares  # pairs together in true only
    both = sum_squares - n  # pairs together in both
    neither = n * n - same_pred - same_true - sum_squares  # exact Python ints
    if same_pred == 0 and same_true == 0:
        return 1.0
    numerator = 2.0 * (both * neither - same_true * same_pred)
    denominator = (both + same_true) * (same_true + neither) + (both + same_pred) * (same_pred + neither)
    return numerator / denominator


def clustering_scores(features: Tensor, labels: Tensor, num_classes: int, seed: int = 0) -> dict[str, float]:
    """``{"nmi", "ari"}`` of k-means with ``num_classes`` clusters on L2-normalised features."""
    _check_features("features", features)
    labels = check_labels("labels", labels, features.shape[0], "features",
                                 class_indices=True)
    _check_num_classes(num_classes, labels=labels)
    clusters = kmeans(_normalise(features), num_classes, seed=seed)
    return {"nmi": nmi(labels, clusters), "ari": ari(labels, clusters)}


# ----------------------------------------------------------------------------------------
# everything at once


def evaluation_battery(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    *,
    knn_k: int = 200,
    knn_t: float = 0.1,
    seed: int = 0,
    probe: bool = True,
) -> dict[str, float]:
    """All metrics in one flat dict of floats.

    ``knn_top1`` (weighted kNN, train -> test); with ``probe``: ``linear_probe_top1``,
    ``linear_probe_val_top1`` and ``linear_probe_weight_decay``; on the test set:
    ``recall@1/2/4/8``, ``map@r``, and ``nmi``/``ari`` of k-means with ``num_classes``
    clusters.
    """
    results = {
        "knn_top1": knn_accuracy(
            train_features, train_labels, test_features, test_labels, num_classes, k=knn_k, temperature=knn_t
        )
    }
    if probe:
        lp = linear_probe(train_features, train_labels, test_features, test_labels, num_classes, seed=seed)
        results["linear_probe_top1"] = lp["test_accuracy"]
        results["linear_probe_val_top1"] = lp["val_accuracy"]
        results["linear_probe_weight_decay"] = lp["weight_decay"]
    results.update(retrieval_scores(test_features, test_labels))
    results.update(clustering_scores(test_features, test_labels, num_classes, seed=seed))
    return results
