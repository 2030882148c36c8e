"""Property tests of lib.losses: naive references, invariances, analytic values, gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from lib.losses import (
    contrastive_accuracy,
    contrastive_loss,
    distillation_loss,
    nt_xent,
    supervised_contrastive,
    triplet_loss,
)

DTYPE = torch.float64


def randn(*shape, seed=0, dtype=DTYPE):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- naive references


def cosine(u, v):
    return float(u @ v / (u.norm() * v.norm()))


def naive_nt_xent(z1, z2, t):
    """SimCLR eq. (1), averaged over all 2N anchors, written as loops over python floats."""
    z = list(torch.cat([z1, z2]))
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denominator = sum(math.exp(cosine(z[i], z[k]) / t) for k in range(n2) if k != i)
        total += -math.log(math.exp(cosine(z[i], z[j]) / t) / denominator)
    return total / n2


def naive_supcon(z, labels, t):
    """Khosla et al. eq. (2), averaged over anchors with at least one positive."""
    z, labels = list(z), labels.tolist()
    total, count = 0.0, 0
    for i in range(len(z)):
        others = [a for a in range(len(z)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(cosine(z[i], z[a]) / t) for a in others)
        terms = [math.log(math.exp(cosine(z[i], z[p]) / t) / denominator) for p in positives]
        total += -sum(terms) / len(terms)
        count += 1
    return total / count


def distances(x, normalize=True, squared=False):
    x = F.normalize(x, dim=1) if normalize else x
    return [[float(((a - b) ** 2).sum() if squared else (a - b).norm()) for b in x] for a in x]


def naive_batch_hard(x, labels, margin, normalize=True, squared=False):
    d, y = distances(x, normalize, squared), labels.tolist()
    losses = []
    for a in range(len(y)):
        pos = [d[a][p] for p in range(len(y)) if p != a and y[p] == y[a]]
        neg = [d[a][n] for n in range(len(y)) if y[n] != y[a]]
        if pos and neg:
            losses.append(max(0.0, max(pos) - min(neg) + margin))
    return sum(losses) / len(losses)


def naive_semi_hard(x, labels, margin, normalize=True, squared=False):
    d, y = distances(x, normalize, squared), labels.tolist()
    losses = []
    for a in range(len(y)):
        neg = [d[a][n] for n in range(len(y)) if y[n] != y[a]]
        for p in range(len(y)):
            if p == a or y[p] != y[a] or not neg:
                continue
            farther = [dn for dn in neg if dn > d[a][p]]
            d_an = min(farther) if farther else max(neg)
            losses.append(max(0.0, d[a][p] - d_an + margin))
    return sum(losses) / len(losses)


# --------------------------------------------------------------------------- nt_xent


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("t", [0.07, 0.5, 1.0])
def test_nt_xent_matches_naive_eq1(n, t):
    z1, z2 = randn(n, 4, seed=n), randn(n, 4, seed=100 + n)
    assert nt_xent(z1, z2, t).item() == pytest.approx(naive_nt_xent(z1, z2, t), rel=1e-10)


def test_nt_xent_invariances():
    z1, z2 = randn(7, 5, seed=1), randn(7, 5, seed=2)
    base = nt_xent(z1, z2, 0.3)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(nt_xent(z1[perm], z2[perm], 0.3), base)
    assert torch.allclose(nt_xent(z2, z1, 0.3), base)
    scale = torch.rand(7, 1, dtype=DTYPE, generator=torch.Generator().manual_seed(4)) * 10 + 0.1
    assert torch.allclose(nt_xent(z1 * scale, z2 * 3.0, 0.3), base)
    # without normalisation the scale matters
    raw = nt_xent(z1, z2, 0.3, normalize=False)
    assert not torch.allclose(nt_xent(z1 * 3.0, z2, 0.3, normalize=False), raw)


@pytest.mark.parametrize("n", [1, 4, 16])
@pytest.mark.parametrize("t", [0.1, 0.5, 2.0])
def test_nt_xent_collapsed_is_log_2n_minus_1(n, t):
    z = randn(1, 6).expand(n, 6)
    assert nt_xent(z, z.clone(), t).item() == pytest.approx(math.log(2 * n - 1), rel=1e-12)


def test_nt_xent_raw_dot_product_matches_manual():
    z1, z2 = randn(3, 4, seed=5), randn(3, 4, seed=6)
    z = torch.cat([z1, z2])
    logits = (z @ z.T / 0.5).fill_diagonal_(float("-inf"))
    target = torch.tensor([3, 4, 5, 0, 1, 2])
    expected = F.cross_entropy(logits, target)
    assert torch.allclose(nt_xent(z1, z2, 0.5, normalize=False), expected)


def test_nt_xent_gradcheck():
    z1 = randn(3, 4, seed=7).requires_grad_()
    z2 = randn(3, 4, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.5), (z1, z2))


def test_nt_xent_computes_in_float32_under_autocast():
    z1, z2 = randn(6, 8, seed=9, dtype=torch.float32), randn(6, 8, seed=10, dtype=torch.float32)
    expected = nt_xent(z1, z2, 0.2)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = nt_xent(z1, z2, 0.2)
    assert got.dtype == torch.float32
    assert torch.equal(got, expected)
    # bf16 inputs are upcast, the loss comes back float32 and finite
    low = nt_xent(z1.bfloat16(), z2.bfloat16(), 0.2)
    assert low.dtype == torch.float32 and torch.isclose(low, expected, rtol=2e-2)


def test_sgd_steps_lower_nt_xent():
    torch.manual_seed(0)
    x = torch.randn(32, 10)
    view1, view2 = x + 0.3 * torch.randn_like(x), x + 0.3 * torch.randn_like(x)
    model = torch.nn.Linear(10, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(15):
        loss = nt_xent(model(view1), model(view2), 0.5)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_contrastive_accuracy():
    z1 = randn(6, 8, seed=11)
    assert contrastive_accuracy(z1, z1 + 1e-3 * randn(6, 8, seed=12)).item() == 1.0
    # views swapped for rows 0 and 1: anchors 0, 1, 6, 7 find the wrong partner
    z2 = z1.clone()[[1, 0, 2, 3, 4, 5]]
    assert contrastive_accuracy(z1, z2).item() == pytest.approx(8 / 12)
    z1g = z1.clone().requires_grad_()
    acc = contrastive_accuracy(z1g, z1)
    assert not acc.requires_grad and acc.ndim == 0


# --------------------------------------------------------------------------- supervised contrastive


def test_supcon_equals_nt_xent_on_pairs():
    z1, z2 = randn(5, 4, seed=13), randn(5, 4, seed=14)
    labels = torch.tensor([3, 0, 4, 1, 2])  # any distinct labels
    sup = supervised_contrastive(torch.cat([z1, z2]), torch.cat([labels, labels]), 0.25)
    assert torch.allclose(sup, nt_xent(z1, z2, 0.25))


@pytest.mark.parametrize("t", [0.1, 0.7])
def test_supcon_matches_naive_with_several_positives(t):
    z = randn(12, 5, seed=15)
    labels = torch.tensor([0, 1, 2, 0, 1, 0, 2, 0, 1, 3, 4, 4])  # class 3 alone: no positive
    assert supervised_contrastive(z, labels, t).item() == pytest.approx(naive_supcon(z, labels, t), rel=1e-10)


def test_supcon_gradcheck():
    z = randn(6, 3, seed=16).requires_grad_()
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    assert torch.autograd.gradcheck(lambda a: supervised_contrastive(a, labels, 0.5), (z,))


def test_supcon_without_positives_is_zero_in_graph():
    z = randn(4, 3, seed=17).requires_grad_()
    loss = supervised_contrastive(z, torch.arange(4), 0.5)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


# --------------------------------------------------------------------------- distributed simulation


def test_contrastive_loss_slices_with_global_ids_average_to_full_batch():
    """Two ranks simulated by splitting a batch: the property DDP relies on."""
    z = randn(12, 4, seed=18).requires_grad_()
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 0, 3, 1, 2, 3])  # every anchor has a positive
    ids = torch.arange(12)
    full = contrastive_loss(z, z, labels, labels, ids, ids, 0.3)
    (full_grad,) = torch.autograd.grad(full, z)

    per_rank = [
        contrastive_loss(z[s], z, labels[s], labels, ids[s], ids, 0.3) for s in (slice(0, 6), slice(6, 12))
    ]
    mean = sum(per_rank) / 2
    (mean_grad,) = torch.autograd.grad(mean, z)
    assert torch.allclose(mean, full)
    assert torch.allclose(mean_grad, full_grad)


class SimulatedGather:
    """Stands in for torch.distributed: ``all_gather(t)`` returns the registered tensor of all
    ranks whose slice for this rank is ``t`` (``t`` is that slice, so gradient reaches every
    rank's rows, as through torch.distributed.nn.functional.all_gather)."""

    def __init__(self, rank, world_size, *full):
        self.rank, self.world_size, self.full = rank, world_size, full

    def all_gather(self, t):
        n = t.shape[0]
        for f in self.full:
            if f.shape[0] == n * self.world_size and torch.equal(f[self.rank * n : (self.rank + 1) * n], t):
                return f
        raise AssertionError("tensor not registered with SimulatedGather")


@pytest.mark.parametrize("world_size", [2, 3])
def test_nt_xent_with_gather_matches_single_process(world_size):
    n = 2
    z1 = randn(world_size * n, 4, seed=19).requires_grad_()
    z2 = randn(world_size * n, 4, seed=20).requires_grad_()
    full = nt_xent(z1, z2, 0.4)
    full_grads = torch.autograd.grad(full, (z1, z2))
    ranks = []
    for r in range(world_size):
        local = slice(r * n, (r + 1) * n)
        ranks.append(nt_xent(z1[local], z2[local], 0.4, gather=SimulatedGather(r, world_size, z1, z2)))
    mean = sum(ranks) / world_size
    grads = torch.autograd.grad(mean, (z1, z2))
    assert torch.allclose(mean, full)
    assert all(torch.allclose(g, fg) for g, fg in zip(grads, full_grads))


def test_supcon_with_gather_matches_single_process():
    z = randn(8, 4, seed=21).requires_grad_()
    labels = torch.tensor([0, 1, 1, 0, 2, 0, 2, 1])
    full = supervised_contrastive(z, labels, 0.2)
    ranks = []
    for r in range(2):
        local = slice(r * 4, (r + 1) * 4)
        ranks.append(supervised_contrastive(z[local], labels[local], 0.2, gather=SimulatedGather(r, 2, z, labels)))
    assert torch.allclose(sum(ranks) / 2, full)


def test_gather_returning_wrong_size_raises():
    class Bad:
        rank, world_size = 0, 2

        def all_gather(self, t):
            return t

    with pytest.raises(ValueError, match="every rank must pass the same size"):
        nt_xent(randn(2, 3), randn(2, 3), 0.5, gather=Bad())
    with pytest.raises(ValueError, match="gather"):
        nt_xent(randn(2, 3), randn(2, 3), 0.5, gather=lambda t: t)


# --------------------------------------------------------------------------- triplet


def test_triplet_hand_built_known_values():
    # 1-D points 0, 1, 3, 4 with labels a, b, a, b; raw Euclidean distances
    x = torch.tensor([[0.0], [1.0], [3.0], [4.0]], dtype=DTYPE)
    labels = torch.tensor([0, 1, 0, 1])
    # batch hard, per anchor (hardest positive, hardest negative):
    #   0: (3, 1) -> 2.5   1: (3, 1) -> 2.5   3: (3, 1) -> 2.5   4: (3, 1) -> 2.5
    assert triplet_loss(x, labels, margin=0.5, normalize=False).item() == pytest.approx(2.5)
    # semi hard, pairs (a, p): (0,3): d_ap 3, negatives of 0 at 1, 4 -> 4 -> relu(3-4+.5) = 0
    #   (3,0): negatives of 3 at 2, 1 -> none farther than 3 -> farthest 2 -> 1.5
    #   (1,4): negatives of 1 at 1, 2 -> farthest 2 -> 1.5;  (4,1): negatives at 4, 1 -> 4 -> 0
    semi_hard = triplet_loss(x, labels, margin=0.5, mining="semi_hard", normalize=False)
    assert semi_hard.item() == pytest.approx(0.75)
    # squared distances, batch hard: relu(9 - 1 + 0.5) = 8.5 for every anchor
    assert triplet_loss(x, labels, margin=0.5, squared=True, normalize=False).item() == pytest.approx(8.5)


def test_triplet_semi_hard_needs_negative_strictly_farther():
    # points 0, 2 (class a) and -2, 3 (class b): for the pair (0, 2) the negative -2 ties
    # with the positive at distance 2, so the semi-hard negative is 3, not -2.
    x = torch.tensor([[0.0], [2.0], [-2.0], [3.0]], dtype=DTYPE)
    labels = torch.tensor([0, 0, 1, 1])
    # (0,2): d_an 3 -> 0;  (2,0): negatives at 4, 1 -> 4 -> 0
    # (-2,3): d_ap 5, negatives at 2, 4 -> farthest 4 -> 1.5;  (3,-2): negatives at 3, 1 -> 3 -> 2.5
    semi_hard = triplet_loss(x, labels, margin=0.5, mining="semi_hard", normalize=False)
    assert semi_hard.item() == pytest.approx(1.0)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
@pytest.mark.parametrize("normalize,squared", [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_matches_naive(mining, normalize, squared, seed):
    x = randn(10, 3, seed=seed)
    labels = torch.randint(0, 3, (10,), generator=torch.Generator().manual_seed(seed))
    labels[:2] = torch.tensor([0, 0])  # at least one positive pair
    labels[2] = 1  # at least one negative
    naive = naive_batch_hard if mining == "batch_hard" else naive_semi_hard
    got = triplet_loss(x, labels, margin=0.3, mining=mining, squared=squared, normalize=normalize)
    assert got.item() == pytest.approx(naive(x, labels, 0.3, normalize, squared), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_triplet_gradcheck(mining):
    x = randn(6, 3, seed=22).requires_grad_()
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert torch.autograd.gradcheck(lambda a: triplet_loss(a, labels, margin=1.0, mining=mining), (x,))


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_triplet_duplicate_embeddings_have_finite_gradient(mining):
    x = randn(3, 4, seed=23)
    x = torch.cat([x, x]).requires_grad_()  # every positive at distance exactly 0
    loss = triplet_loss(x, torch.tensor([0, 1, 2, 0, 1, 2]), mining=mining, normalize=False)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [5, 5, 5, 5]])
def test_triplet_without_valid_triplet_is_zero_in_graph(mining, labels):
    x = randn(4, 3, seed=24).requires_grad_()
    loss = triplet_loss(x, torch.tensor(labels), mining=mining)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


# --------------------------------------------------------------------------- distillation


def test_distillation_with_peaked_teacher_is_cross_entropy():
    student = randn(5, 4, seed=25)
    targets = torch.tensor([0, 3, 1, 1, 2])
    teacher = 100.0 * F.one_hot(targets, 4).to(DTYPE)
    assert torch.allclose(distillation_loss(student, teacher), F.cross_entropy(student, targets))


@pytest.mark.parametrize("t", [0.5, 1.0, 3.0])
def test_distillation_is_entropy_plus_kl(t):
    student, teacher = randn(6, 5, seed=26), randn(6, 5, seed=27)
    p_t = F.softmax(teacher / t, dim=1)
    entropy = -(p_t * p_t.log()).sum(1).mean()
    kl = F.kl_div(F.log_softmax(student / t, dim=1), p_t, reduction="batchmean")
    assert torch.allclose(distillation_loss(student, teacher, t), entropy + kl)
    # minimal (= the teacher's entropy) where the student equals the teacher
    assert torch.allclose(distillation_loss(teacher, teacher, t), entropy)
    assert distillation_loss(student, teacher, t) > distillation_loss(teacher, teacher, t)


def test_distillation_gradient_and_detached_teacher():
    student = randn(4, 3, seed=28).requires_grad_()
    teacher = randn(4, 3, seed=29).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: distillation_loss(s, teacher, 2.0), (student,))
    at_teacher = teacher.detach().clone().requires_grad_()
    distillation_loss(at_teacher, teacher).backward()
    assert teacher.grad is None
    assert torch.allclose(at_teacher.grad, torch.zeros_like(at_teacher.grad), atol=1e-12)


# --------------------------------------------------------------------------- argument validation


@pytest.mark.parametrize("t", [0, -0.1, float("nan"), float("inf"), "0.5", True])
def test_bad_temperature_raises(t):
    z = randn(3, 2)
    for call in (
        lambda: nt_xent(z, z, t),
        lambda: supervised_contrastive(z, torch.arange(3), t),
        lambda: distillation_loss(z, z, t),
    ):
        with pytest.raises(ValueError, match="temperature must be"):
            call()


def test_bad_shapes_and_labels_raise():
    z = randn(4, 3)
    with pytest.raises(ValueError, match="z1 and z2 must have the same shape"):
        nt_xent(z, randn(3, 3), 0.5)
    with pytest.raises(ValueError, match=r"z1 must have shape \(batch, dim\)"):
        nt_xent(z[0], z[0], 0.5)
    with pytest.raises(ValueError, match="z must have at least 2 rows"):
        supervised_contrastive(z[:1], torch.tensor([0]), 0.5)
    with pytest.raises(ValueError, match="labels must have an integer dtype"):
        supervised_contrastive(z, torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="labels must be 1-D"):
        supervised_contrastive(z, torch.zeros(4, 1, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="labels must have 4 entries"):
        triplet_loss(z, torch.arange(3))
    with pytest.raises(ValueError, match="anchors and keys must have the same dim"):
        ids = torch.arange(4)
        contrastive_loss(z, randn(4, 2), ids, ids, ids, ids, 0.5)
    with pytest.raises(ValueError, match="keys must have at least 2 rows"):
        ids = torch.arange(1)
        contrastive_loss(z[:1], z[:1], ids, ids, ids, ids, 0.5)
    with pytest.raises(ValueError, match="student_logits and teacher_logits must have the same shape"):
        distillation_loss(z, randn(4, 2))


def test_bad_triplet_arguments_raise():
    z, labels = randn(4, 3), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="mining must be one of"):
        triplet_loss(z, labels, mining="hardest")
    with pytest.raises(ValueError, match="margin must be a number >= 0"):
        triplet_loss(z, labels, margin=-0.1)
    with pytest.raises(ValueError, match="embeddings must have at least 2 rows"):
        triplet_loss(z[:1], labels[:1])


def test_contrastive_accuracy_without_normalisation_uses_the_raw_dot_product():
    # anchor 0's partner is collinear but short; a long vector at a wider angle wins the raw dot product
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[0.1, 0.0], [3.0, 2.0]])
    cosine = contrastive_accuracy(z1, z2).item()
    raw = contrastive_accuracy(z1, z2, normalize=False).item()
    sims = torch.cat([z1, z2]) @ torch.cat([z1, z2]).T
    sims.fill_diagonal_(float("-inf"))
    expected = (sims.argmax(1) == torch.tensor([2, 3, 0, 1])).float().mean().item()
    assert raw == pytest.approx(expected)
    assert raw != cosine
