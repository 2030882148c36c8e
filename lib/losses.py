"""Loss functions as pure functions of tensors.

- ``contrastive_loss``        one contrastive loss; which keys are positives is an argument
- ``nt_xent``                 SimCLR's NT-Xent (Chen et al. 2020, eq. 1)
- ``supervised_contrastive``  SupCon L^sup_out (Khosla et al. 2020, eq. 2)
- ``contrastive_accuracy``    top-1 accuracy of the SimCLR pretext task (a metric, no grad)
- ``triplet_loss``            batch-hard (Hermans et al. 2017) and semi-hard (Schroff et al. 2015)
- ``distillation_loss``       SimCLRv2's distillation loss (Chen et al. 2020b, eq. 3)

Every loss works on the device of its inputs and computes in float32 (float64 inputs stay
float64) with autocast switched off, so it gives the same value under bf16/fp16 autocast.

Distributed data parallel: ``nt_xent`` and ``supervised_contrastive`` take ``gather``, an
object satisfying :class:`Gather`. Each rank then uses its local embeddings as anchors and
the embeddings of all ranks as keys, with global sample ids, so the maths is unchanged:
the mean over ranks of the per-rank losses equals the single-process loss on the whole
batch (``supervised_contrastive`` weights each rank by its share of the anchors that have a
positive), and so do the gradients when ``all_gather`` passes gradient back to every rank
(its backward sums the gradients of all ranks) and DDP averages them
(:class:`lib.distributed.TorchGather`; tested with real processes in tests/test_distributed.py).
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Gather",
    "contrastive_loss",
    "nt_xent",
    "supervised_contrastive",
    "contrastive_accuracy",
    "triplet_loss",
    "distillation_loss",
    "TRIPLET_MINING",
]

TRIPLET_MINING = ("batch_hard", "semi_hard")


@runtime_checkable
class Gather(Protocol):
    """What a contrastive loss needs from a distributed run.

    ``all_gather(t)`` returns ``t`` of every rank concatenated along dim 0 in rank order
    (so shape ``(world_size * t.shape[0], ...)``; every rank must pass the same size), with
    gradient flowing back to each rank's input for float tensors, as
    ``torch.distributed.nn.functional.all_gather`` does, e.g.::

        class TorchGather:
            def __init__(self):
                self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            def all_gather(self, t):
                return torch.cat(torch.distributed.nn.functional.all_gather(t), dim=0)

    A single process passes ``gather=None`` and never touches ``torch.distributed``.
    """

    rank: int
    world_size: int

    def all_gather(self, t: Tensor) -> Tensor: ...


# --------------------------------------------------------------------------- validation


def _check_temperature(temperature: float, name: str = "temperature") -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"{name} must be a number > 0, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"{name} must be > 0, got {temperature!r}")


def _check_embeddings(name: str, x: Tensor, min_rows: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, dim), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows, got shape {tuple(x.shape)}")


def check_labels(name: str, labels: Tensor, length: int, rows: str = "", class_indices: bool = False) -> Tensor:
    """Validate integer labels ``(N,)``, one per row of ``rows``, and return them as int64.

    ``class_indices``: they index classes (kNN votes, the probe's targets, NMI), so they must be
    non-negative and there must be at least one. The losses and the evaluation battery share this."""
    if not isinstance(labels, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must have an integer dtype, got {labels.dtype}")
    if labels.shape[0] != length:
        of = f" of {rows}" if rows else ""
        raise ValueError(f"{name} must have {length} entries (one per row{of}), got {labels.shape[0]}")
    if class_indices and labels.numel() == 0:
        raise ValueError(f"{name} must be non-empty")
    if class_indices and int(labels.min()) < 0:
        raise ValueError(f"{name} must be non-negative class indices, got min {int(labels.min())}")
    return labels.long()


def _check_gather(gather: Gather | None) -> None:
    if gather is None:
        return
    if not isinstance(gather, Gather):
        raise ValueError(
            "gather must be None or an object with .all_gather(t), .rank and .world_size, "
            f"got {type(gather).__name__}"
        )
    if not (0 <= gather.rank < gather.world_size):
        raise ValueError(f"gather.rank must be in [0, world_size={gather.world_size}), got {gather.rank}")


def _full_precision(x: Tensor) -> AbstractContextManager:
    """Autocast off on the device of ``x``: the losses compute in float32 or float64."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def _upcast(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float64 else x.float()


def _all_gather(t: Tensor, gather: Gather | None) -> tuple[Tensor, int]:
    """``(tensor of all ranks, offset of this rank's first row)``; identity without gather."""
    if gather is None:
        return t, 0
    full = gather.all_gather(t)
    if full.shape[0] != gather.world_size * t.shape[0] or full.shape[1:] != t.shape[1:]:
        raise ValueError(
            f"gather.all_gather returned shape {tuple(full.shape)} for a local tensor of shape "
            f"{tuple(t.shape)} with world_size={gather.world_size}; every rank must pass the same size"
        )
    return full, gather.rank * t.shape[0]


# --------------------------------------------------------------------------- contrastive


def contrastive_loss(
    anchors: Tensor,
    keys: Tensor,
    anchor_labels: Tensor,
    key_labels: Tensor,
    anchor_ids: Tensor,
    key_ids: Tensor,
    temperature: float,
    normalize: bool = True,
) -> Tensor:
    """Contrastive loss of anchors against keys; positives are given by labels.

    The positives of anchor ``i`` are the keys with the same label and a different id,
    P(i); the key with the same id as the anchor (the anchor itself) is left out of the
    denominator. With s the cosine similarity (``normalize=True``) or the raw dot product::

        loss = mean over anchors with |P(i)| >= 1 of
               -1/|P(i)| sum_{p in P(i)} log( exp(s_ip / t) / sum_{k != self} exp(s_ik / t) )

    This is Khosla et al. (2020) eq. (2), L^sup_out, and with one positive per anchor it is
    SimCLR's eq. (1) (Chen et al. 2020). One process: ``anchors = keys = z`` and
    ``ids = arange``. Distributed: keys are the embeddings gathered from all ranks (with
    gradient), their labels and ids gathered too, anchors this rank's slice with its global ids.

    Anchors without any positive contribute nothing; if no anchor has a positive the loss
    is a zero that stays connected to the graph (so a DDP rank still takes part in the
    backward pass) rather than NaN.

    Args:
        anchors: (n, D) embeddings.
        keys: (m, D) embeddings, m >= 2.
        anchor_labels, key_labels: (n,), (m,) integer labels; equal label = positive.
        anchor_ids, key_ids: (n,), (m,) integer sample ids; equal id = the same sample.
        temperature: t > 0.
        normalize: L2-normalise anchors and keys (cosine similarity).

    Returns:
        Scalar loss, float32 (float64 for float64 inputs).
    """
    _check_temperature(temperature)
    _check_embeddings("anchors", anchors)
    _check_embeddings("keys", keys, min_rows=2)
    if anchors.shape[1] != keys.shape[1]:
        raise ValueError(
            f"anchors and keys must have the same dim, got {tuple(anchors.shape)} and {tuple(keys.shape)}"
        )
    check_labels("anchor_labels", anchor_labels, anchors.shape[0])
    check_labels("key_labels", key_labels, keys.shape[0])
    check_labels("anchor_ids", anchor_ids, anchors.shape[0])
    check_labels("key_ids", key_ids, keys.shape[0])

    with _full_precision(anchors):
        anchors, keys = _upcast(anchors), _upcast(keys)
        if normalize:
            anchors, keys = F.normalize(anchors, dim=1), F.normalize(keys, dim=1)
        is_self = anchor_ids[:, None] == key_ids[None, :]  # (n, m)
        positive = (anchor_labels[:, None] == key_labels[None, :]) & ~is_self  # (n, m)

        logits = anchors @ keys.T / temperature  # (n, m)
        logits = logits.masked_fill(is_self, float("-inf"))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (n, m), -inf at self

        num_pos = positive.sum(dim=1)  # (n,)
        pos_log_prob = torch.where(positive, log_prob, 0.0).sum(dim=1)  # (n,)
        per_anchor = -pos_log_prob / num_pos.clamp_min(1)  # (n,), 0 for anchors without positives
        return per_anchor.sum() / (num_pos > 0).sum().clamp_min(1)


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float,
    gather: Gather | None = None,
    normalize: bool = True,
) -> Tensor:
    """NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).

    Eq. (1): l(i, j) = -log( exp(sim(z_i, z_j)/t) / sum_{k=1}^{2N} 1[k != i] exp(sim(z_i, z_k)/t) ),
    with sim the cosine similarity, and "the final loss is computed across all positive
    pairs, both (i, j) and (j, i), in a mini-batch": the mean over all 2N anchors.

    Args:
        z1, z2: (N, D) projections of the two views; row k of z1 and row k of z2 are a
            positive pair, every other row of either view is a negative. N >= 1 (2N >= 2).
        temperature: t > 0 (SimCLR: 0.5 for CIFAR-10, 0.1 for ImageNet at large batches).
        gather: None for one process, or a :class:`Gather`; then the negatives are the
            2N * world_size projections of all ranks and this rank's 2N anchors are scored.
        normalize: cosine similarity (True, as in the paper) or raw dot product.

    Returns:
        Scalar loss.
    """
    _check_temperature(temperature)
    _check_embeddings("z1", z1)
    _check_embeddings("z2", z2)
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    _check_gather(gather)

    n = z1.shape[0]
    all_z1, offset = _all_gather(z1, gather)  # (W*N, D)
    all_z2, _ = _all_gather(z2, gather)  # (W*N, D)
    total = all_z1.shape[0]  # W*N
    device = z1.device

    local = torch.arange(offset, offset + n, device=device)  # (N,) global pair index
    everyone = torch.arange(total, device=device)  # (W*N,)
    anchors = torch.cat([z1, z2])  # (2N, D)
    keys = torch.cat([all_z1, all_z2])  # (2WN, D)
    anchor_labels = torch.cat([local, local])  # pair index: the positive is the other view
    key_labels = torch.cat([everyone, everyone])
    anchor_ids = torch.cat([local, local + total])  # view 2 ids follow all view-1 ids
    key_ids = torch.cat([everyone, everyone + total])
    return contrastive_loss(
        anchors, keys, anchor_labels, key_labels, anchor_ids, key_ids, temperature, normalize
    )


def supervised_contrastive(
    z: Tensor,
    labels: Tensor,
    temperature: float,
    gather: Gather | None = None,
    normalize: bool = True,
) -> Tensor:
    """Supervised contrastive loss L^sup_out (Khosla et al. 2020, eq. 2).

    L^sup_out = sum_i -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p/t) / sum_{a in A(i)} exp(z_i.z_a/t) ),
    with A(i) every other sample of the batch and "P(i) = {p in A(i) : y_p = y_i} is the set of
    indices of all positives in the multiviewed batch distinct from i". Like the authors'
    code this averages over anchors instead of summing (without their extra
    ``temperature / base_temperature`` factor); anchors whose class appears only once have
    no positive and are left out of the mean (see :func:`contrastive_loss`).

    When every class appears exactly twice this is :func:`nt_xent` on those pairs.

    Args:
        z: (M, D) embeddings, typically both views concatenated, M >= 2.
        labels: (M,) integer class labels (repeated for the second view).
        temperature: t > 0 (Khosla et al. use 0.1).
        gather: None for one process, or a :class:`Gather` (then labels are gathered too,
            and the mean over ranks of the returned losses is the global-batch loss even
            when ranks hold different numbers of anchors with a positive).
        normalize: L2-normalise z (the paper's projections lie on the unit sphere).

    Returns:
        Scalar loss.
    """
    _check_temperature(temperature)
    _check_embeddings("z", z, min_rows=2)
    check_labels("labels", labels, z.shape[0])
    _check_gather(gather)

    m = z.shape[0]
    keys, offset = _all_gather(z, gather)  # (W*M, D)
    key_labels, _ = _all_gather(labels, gather)  # (W*M,)
    key_ids = torch.arange(keys.shape[0], device=z.device)
    anchor_ids = key_ids[offset : offset + m]
    loss = contrastive_loss(z, keys, labels, key_labels, anchor_ids, key_ids, temperature, normalize)
    if gather is None:
        return loss
    # This rank's loss is the mean over its anchors with a positive; ranks can hold different
    # numbers of them, so weight it by its share of all of them: the mean over ranks is then the
    # mean over the global batch (a factor of exactly 1 when the shares are equal).
    _, inverse, counts = torch.unique(key_labels, return_inverse=True, return_counts=True)
    has_positive = counts[inverse] >= 2  # (W*M,): another sample of the same class somewhere
    share = has_positive[offset : offset + m].sum() * gather.world_size / has_positive.sum().clamp_min(1)
    return loss * share.to(loss.dtype)


@torch.no_grad()
def contrastive_accuracy(z1: Tensor, z2: Tensor, normalize: bool = True) -> Tensor:
    """Top-1 accuracy of SimCLR's pretext task on this batch (a metric; no gradient).

    "Given a set {x_k} including a positive pair of examples x_i and x_j, the contrastive
    prediction task aims to identify x_j in {x_k}_{k != i} for a given x_i" (Chen et al.
    2020): the fraction of the 2N anchors whose most cosine-similar other sample is their
    other view (with ``normalize=False``, the largest raw dot product, as the unnormalised
    loss scores them). Local batch only; ties go to the lower index.

    Returns:
        0-dim float tensor in [0, 1] on the inputs' device (call ``.item()`` to log it).
    """
    _check_embeddings("z1", z1)
    _check_embeddings("z2", z2)
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    with _full_precision(z1):
        n = z1.shape[0]
        z = _upcast(torch.cat([z1, z2]))  # (2N, D)
        z = F.normalize(z, dim=1) if normalize else z
        sim = z @ z.T  # (2N, 2N)
        sim.fill_diagonal_(float("-inf"))
        idx = torch.arange(n, device=z.device)
        partner = torch.cat([idx + n, idx])  # (2N,)
        return (sim.argmax(dim=1) == partner).float().mean()


# --------------------------------------------------------------------------- triplet


def _pairwise_distance(x: Tensor, squared: bool) -> Tensor:
    """(B, B) Euclidean distances with a finite gradient everywhere, exact 0 on the diagonal."""
    sq_norm = (x * x).sum(dim=1)  # (B,)
    d2 = sq_norm[:, None] + sq_norm[None, :] - 2.0 * (x @ x.T)  # (B, B)
    eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    d2 = d2.clamp_min(0.0).masked_fill(eye, 0.0)
    if squared:
        return d2
    # sqrt has an infinite derivative at 0: clamp (zero gradient below 1e-12), then put exact zeros back.
    return torch.sqrt(d2.clamp_min(1e-12)).masked_fill(d2 == 0, 0.0)


def triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    margin: float = 0.2,
    mining: str = "batch_hard",
    squared: bool = False,
    normalize: bool = True,
) -> Tensor:
    """Triplet margin loss with in-batch mining: mean of relu(d(a, p) - d(a, n) + margin).

    ``mining="batch_hard"`` (Hermans et al. 2017, "In Defense of the Triplet Loss for Person
    Re-Identification"): "for each sample a in the batch, we can select the hardest positive
    and the hardest negative samples within the batch when forming the triplets for
    computing the loss, which we call Batch Hard". One triplet per anchor (farthest
    positive, closest negative); mean over anchors that have a positive and a negative.

    ``mining="semi_hard"`` (Schroff et al. 2015, FaceNet): every anchor-positive pair is used,
    with the negative closest to the anchor among those farther than the positive,
    d(a, p) < d(a, n): "We call these negative exemplars semi-hard, as they are further away
    from the anchor than the positive exemplar, but still hard because the squared distance
    is close to the anchor-positive distance." If an anchor has no such negative, its
    farthest negative is used, as TensorFlow Addons' ``TripletSemiHardLoss`` does. Mean over
    the ordered positive pairs (a, p), a != p, whose anchor has a negative.

    Distances are Euclidean (``squared=False``, Hermans et al. found the plain Euclidean
    distance more stable) or squared Euclidean (FaceNet's choice), on L2-normalised
    embeddings when ``normalize=True`` (FaceNet's embedding lives on the unit sphere).

    A batch with no valid triplet (no class with two samples, or a single class) gives a
    zero that stays connected to the graph, not an error and not NaN: with random batches
    this can happen, and a DDP rank must still take part in the backward pass.

    Args:
        embeddings: (B, D) float tensor, B >= 2.
        labels: (B,) integer labels.
        margin: margin >= 0, in the units of the distance.
        mining: one of ``TRIPLET_MINING``.
        squared: use squared Euclidean distances.
        normalize: L2-normalise the embeddings first.

    Returns:
        Scalar loss.
    """
    if mining not in TRIPLET_MINING:
        raise ValueError(f"mining must be one of {TRIPLET_MINING}, got {mining!r}")
    is_number = isinstance(margin, (int, float)) and not isinstance(margin, bool)
    if not (is_number and math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    _check_embeddings("embeddings", embeddings, min_rows=2)
    check_labels("labels", labels, embeddings.shape[0])

    with _full_precision(embeddings):
        x = _upcast(embeddings)
        if normalize:
            x = F.normalize(x, dim=1)
        d = _pairwise_distance(x, squared)  # (B, B)
        b = x.shape[0]
        same = labels[:, None] == labels[None, :]  # (B, B)
        eye = torch.eye(b, dtype=torch.bool, device=x.device)
        positive = same & ~eye  # (B, B)
        negative = ~same  # (B, B)
        has_negative = negative.any(dim=1)  # (B,)
        # distances are >= 0, so 0 is a neutral fill for "max over positives / negatives"
        farthest_negative = d.masked_fill(~negative, 0.0).amax(dim=1)  # (B,)

        if mining == "batch_hard":
            hardest_positive = d.masked_fill(~positive, 0.0).amax(dim=1)  # (B,)
            hardest_negative = d.masked_fill(~negative, float("inf")).amin(dim=1)  # (B,)
            valid = positive.any(dim=1) & has_negative  # (B,)
            hardest_negative = torch.where(valid, hardest_negative, 0.0)
            per_triplet = F.relu(hardest_positive - hardest_negative + margin)  # (B,)
        else:
            # per anchor a and positive p: the smallest d(a, n) > d(a, p), by binary search in
            # the anchor's sorted negative distances (O(B^2 log B) instead of a (B, B, B) mask)
            neg_sorted, _ = d.masked_fill(~negative, float("inf")).sort(dim=1)  # (B, B), inf last
            first_farther = torch.searchsorted(
                neg_sorted.detach().contiguous(), d.detach().contiguous(), right=True
            )  # (B, B): index into row a of neg_sorted, for value d(a, p)
            has_semi_hard = first_farther < negative.sum(dim=1, keepdim=True)  # (B, B)
            semi_hard = neg_sorted.gather(1, first_farther.clamp_max(b - 1))  # (B, B)
            d_an = torch.where(has_semi_hard, semi_hard, farthest_negative[:, None])  # (B, B)
            valid = positive & has_negative[:, None]  # (B, B) over (a, p)
            d_an = torch.where(valid, d_an, 0.0)
            per_triplet = F.relu(d - d_an + margin)  # (B, B)

        return torch.where(valid, per_triplet, 0.0).sum() / valid.sum().clamp_min(1)


# --------------------------------------------------------------------------- distillation


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """SimCLRv2's distillation loss (Chen et al. 2020b, "Big Self-Supervised Models are Strong
    Semi-Supervised Learners", eq. 3).

    L = -sum_x [ sum_y P_T(y|x; t) log P_S(y|x; t) ], P(y|x; t) = softmax(logits / t), here
    averaged over the batch. "The teacher network, which produces P_T(y|x_i), is fixed
    during the distillation; only the student network, which produces P_S(y|x_i), is
    trained": the teacher logits are detached. No t^2 factor (Hinton et al. 2015 scale by
    t^2 when mixing with a hard-label loss; SimCLRv2's eq. 3 has none).

    Equals H(P_T) + KL(P_T || P_S), so it is minimal where the student matches the teacher.

    Args:
        student_logits: (B, C).
        teacher_logits: (B, C).
        temperature: t > 0 (SimCLRv2 uses 1).

    Returns:
        Scalar loss.
    """
    _check_temperature(temperature)
    _check_embeddings("student_logits", student_logits)
    _check_embeddings("teacher_logits", teacher_logits)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must have the same shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    with _full_precision(student_logits):
        teacher_prob = F.softmax(_upcast(teacher_logits.detach()) / temperature, dim=1)  # (B, C)
        student_log_prob = F.log_softmax(_upcast(student_logits) / temperature, dim=1)  # (B, C)
        return -(teacher_prob * student_log_prob).sum(dim=1).mean()
