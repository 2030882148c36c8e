"""Tests for lib.evaluation: naive references, hand-computed values, invariances."""

import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from lib.evaluation import (
    ari,
    clustering_scores,
    embed,
    evaluation_battery,
    kmeans,
    knn_accuracy,
    knn_predict,
    linear_probe,
    map_at_r,
    nearest_neighbours,
    nmi,
    recall_at_k,
    retrieval_scores,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unit(degrees) -> torch.Tensor:
    """2-D unit vectors at the given angles: cosine similarity = cos(angle difference)."""
    rad = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return torch.stack([rad.cos(), rad.sin()], 1).float()


def _blobs(n_per_class: int, num_classes: int, dim: int, spread: float, seed: int):
    """Gaussian blobs around orthogonal directions, scaled away from the origin."""
    g = _gen(seed)
    centres = 5.0 * torch.eye(num_classes, dim)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    x = centres[labels] + spread * torch.randn(len(labels), dim, generator=g)
    perm = torch.randperm(len(labels), generator=g)
    return x[perm], labels[perm]


# ---------------------------------------------------------------------------------------
# embed


def test_embed_chunking_matches_single_forward_and_converts_uint8():
    images = torch.randint(0, 256, (11, 3, 4, 4), dtype=torch.uint8, generator=_gen(0))
    weight = torch.randn(48, 5, generator=_gen(1))
    batch_sizes = []

    def model_fn(x):
        batch_sizes.append(x.shape[0])
        assert x.dtype == torch.float32 and 0.0 <= x.min() and x.max() <= 1.0
        return x.flatten(1) @ weight

    chunked = embed(model_fn, images, batch_size=4)
    assert batch_sizes == [4, 4, 3]
    single = embed(model_fn, images, batch_size=64)
    assert chunked.shape == (11, 5) and chunked.dtype == torch.float32
    torch.testing.assert_close(chunked, single)
    torch.testing.assert_close(single, images.float().flatten(1) / 255 @ weight)


def test_embed_identity_gives_pixels_in_unit_interval_and_applies_transform():
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(3, 1, 1, 1)
    out = embed(lambda x: x, images, batch_size=2)  # (3, 1, 1, 1) flattened to (3, 1)
    torch.testing.assert_close(out, torch.tensor([[0.0], [0.2], [1.0]]))
    out = embed(lambda x: x, images, transform=lambda x: 2 * x - 1)
    torch.testing.assert_close(out, torch.tensor([[-1.0], [-0.6], [1.0]]))


def test_embed_rejects_bad_input():
    with pytest.raises(ValueError, match="images"):
        embed(lambda x: x, torch.zeros(3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        embed(lambda x: x, torch.zeros(3, 1, 4, 4, dtype=torch.uint8), batch_size=0)


# ---------------------------------------------------------------------------------------
# kNN


def _naive_knn(train, train_y, query, num_classes, k, t, exclude_self=False):
    train, query = F.normalize(train, dim=1), F.normalize(query, dim=1)
    preds = []
    for i, q in enumerate(query):
        sims = [(float(q @ x), j) for j, x in enumerate(train) if not (exclude_self and j == i)]
        sims.sort(reverse=True)
        votes = [0.0] * num_classes
        for s, j in sims[:k]:
            votes[int(train_y[j])] += math.exp(s / t)
        preds.append(max(range(num_classes), key=lambda c: (votes[c], -c)))
    return torch.tensor(preds)


def test_knn_hand_built_weighted_vote_and_temperature():
    # query at 0 degrees; one class-0 neighbour at 0 (cos = 1), two class-1 at +-60 (cos = 0.5).
    train = _unit([0.0, 60.0, -60.0, 180.0])
    labels = torch.tensor([0, 1, 1, 2])
    query = _unit([0.0])
    # t = 0.1: class 0 gets e^10 = 22026, class 1 gets 2 e^5 = 297 -> class 0
    assert knn_predict(train, labels, query, 3, k=3, temperature=0.1).tolist() == [0]
    # t = 10: class 0 gets e^0.1 = 1.105, class 1 gets 2 e^0.05 = 2.103 -> class 1 (majority)
    assert knn_predict(train, labels, query, 3, k=3, temperature=10.0).tolist() == [1]
    # k = 1: only the nearest neighbour votes
    assert knn_predict(train, labels, query, 3, k=1, temperature=10.0).tolist() == [0]


def test_knn_separated_clusters():
    train, train_y = _blobs(20, 3, 6, 0.3, seed=0)
    test, test_y = _blobs(10, 3, 6, 0.3, seed=1)
    assert knn_accuracy(train, train_y, test, test_y, 3, k=5) == 1.0
    assert torch.equal(knn_predict(train, train_y, test, 3, k=5), test_y)


@pytest.mark.parametrize("k,t", [(1, 0.1), (7, 0.1), (15, 0.5)])
def test_knn_matches_naive_reference(k, t):
    g = _gen(2)
    train, query = torch.randn(40, 5, generator=g), torch.randn(25, 5, generator=g)
    train_y = torch.randint(0, 4, (40,), generator=g)
    expected = _naive_knn(train, train_y, query, 4, k, t)
    assert torch.equal(knn_predict(train, train_y, query, 4, k=k, temperature=t), expected)


def test_knn_exclude_self_is_leave_one_out():
    g = _gen(3)
    x, y = torch.randn(30, 4, generator=g), torch.randint(0, 3, (30,), generator=g)
    expected = _naive_knn(x, y, x, 3, 5, 0.1, exclude_self=True)
    assert torch.equal(knn_predict(x, y, x, 3, k=5, exclude_self=True, chunk_size=7), expected)
    # without exclusion each point is its own nearest neighbour
    assert torch.equal(knn_predict(x, y, x, 3, k=1), y)
    assert not torch.equal(knn_predict(x, y, x, 3, k=1, exclude_self=True), y)


def test_knn_k_clipped_and_chunking_invariant():
    g = _gen(4)
    train, query = torch.randn(30, 6, generator=g), torch.randn(50, 6, generator=g)
    train_y = torch.randint(0, 5, (30,), generator=g)
    clipped = knn_predict(train, train_y, query, 5, k=1000)
    assert torch.equal(clipped, knn_predict(train, train_y, query, 5, k=30))
    for k in (1, 10, 1000):
        single = knn_predict(train, train_y, query, 5, k=k, chunk_size=10_000)
        assert torch.equal(knn_predict(train, train_y, query, 5, k=k, chunk_size=7), single)


def test_knn_rejects_bad_arguments():
    x, y = torch.randn(10, 3), torch.randint(0, 3, (10,))
    with pytest.raises(ValueError, match="num_classes"):
        knn_predict(x, y, x, num_classes=2)  # labels up to 2 need num_classes >= 3
    with pytest.raises(ValueError, match="train_labels"):
        knn_predict(x, y[:9], x, 3)
    with pytest.raises(ValueError, match="k must"):
        knn_predict(x, y, x, 3, k=0)
    with pytest.raises(ValueError, match="temperature"):
        knn_predict(x, y, x, 3, temperature=0.0)
    with pytest.raises(ValueError, match="query_features"):
        knn_predict(x, y, torch.randn(4, 5), 3)
    with pytest.raises(ValueError, match="train_features"):
        knn_predict(torch.randn(0, 3), y[:0], x, 3)
    with pytest.raises(ValueError, match="exclude_self"):
        knn_predict(x, y, x[:4], 3, exclude_self=True)
    with pytest.raises(ValueError, match="test_labels"):
        knn_accuracy(x, y, x, y[:5], 3)


def test_nearest_neighbours_against_sort():
    g = _gen(5)
    q, db = torch.randn(9, 4, generator=g), torch.randn(20, 4, generator=g)
    idx, sim = nearest_neighbours(q, db, k=6, chunk_size=4)
    full = F.normalize(q, dim=1) @ F.normalize(db, dim=1).T
    expected_sim, expected_idx = full.sort(dim=1, descending=True)
    assert torch.equal(idx, expected_idx[:, :6])
    torch.testing.assert_close(sim, expected_sim[:, :6])
    idx, _ = nearest_neighbours(db, db, k=100, exclude_self=True)
    assert idx.shape == (20, 19)
    assert not (idx == torch.arange(20)[:, None]).any()


# ---------------------------------------------------------------------------------------
# retrieval

# Six unit vectors at these angles (all within 90 degrees, so cosine order = angular order).
ANGLES = [0.0, 5.0, 15.0, 32.0, 50.0, 75.0]
LABELS = [0, 0, 1, 0, 1, 1]
# Neighbour order of each query and relevance (1 = same label):
#   p0 ( 0, a): p1  5, p2 15, p3 32, p4 50, p5 75 -> 1 0 1 0 0
#   p1 ( 5, a): p0  5, p2 10, p3 27, p4 45, p5 70 -> 1 0 1 0 0
#   p2 (15, b): p1 10, p0 15, p3 17, p4 35, p5 60 -> 0 0 0 1 1
#   p3 (32, a): p2 17, p4 18, p1 27, p0 32, p5 43 -> 0 0 1 1 0
#   p4 (50, b): p3 18, p5 25, p2 35, p1 45, p0 50 -> 0 1 1 0 0
#   p5 (75, b): p4 25, p3 43, p2 60, p1 70, p0 75 -> 1 0 1 0 0
# Recall@1: p0 p1 p5 = 3/6; Recall@2: + p4 = 4/6; Recall@4: all = 1; Recall@8 -> clipped = 1.
# R = 2 for every query; AP@R: p0 1/2*(1/1) = 0.5, p1 0.5, p2 0, p3 0, p4 1/2*(1/2) = 0.25,
# p5 0.5 -> MAP@R = 1.75 / 6.


def test_recall_and_map_hand_computed():
    x, y = _unit(ANGLES), torch.tensor(LABELS)
    recall = recall_at_k(x, y, ks=(1, 2, 4, 8))
    assert recall == pytest.approx({1: 3 / 6, 2: 4 / 6, 4: 1.0, 8: 1.0})
    assert map_at_r(x, y) == pytest.approx(1.75 / 6)
    assert retrieval_scores(x, y) == pytest.approx(
        {"recall@1": 0.5, "recall@2": 4 / 6, "recall@4": 1.0, "recall@8": 1.0, "map@r": 1.75 / 6}
    )


def test_map_at_r_varying_r_and_lone_query_left_out():
    # angles 0, 10, 25 (label 0, R = 2) and 45 (label 1, lone: R = 0, left out)
    #   p0: p1 10, p2 25 | p3 45            -> 1 1     AP = (1 + 1) / 2 = 1
    #   p1: p0 10, p2 15 | p3 35            -> 1 1     AP = 1
    #   p2: p1 15, p3 20 | p0 25            -> 1 0     AP = (1/1) / 2 = 0.5
    x, y = _unit([0.0, 10.0, 25.0, 45.0]), torch.tensor([0, 0, 0, 1])
    assert map_at_r(x, y) == pytest.approx(2.5 / 3)
    assert recall_at_k(x, y, ks=(1,)) == pytest.approx({1: 1.0})
    # p3 joins label 0 (R = 3 for all): p3's order p2 20, p1 35, p0 45 -> 1 1 1, AP 1;
    # p0: p1, p2, p3 -> AP 1; p1: p0, p2, p3 -> AP 1; p2: p1, p3, p0 -> AP 1.
    assert map_at_r(x, torch.zeros(4, dtype=torch.long)) == pytest.approx(1.0)


def _naive_retrieval(x, y, ks):
    x = F.normalize(x, dim=1)
    recalls, aps = {k: [] for k in ks}, []
    for i in range(len(x)):
        others = [j for j in range(len(x)) if j != i]
        others.sort(key=lambda j: -float(x[i] @ x[j]))
        rel = [int(y[j] == y[i]) for j in others]
        r = sum(rel)
        if r == 0:
            continue
        for k in ks:
            recalls[k].append(float(any(rel[:k])))
        hits, ap = 0, 0.0
        for pos in range(r):
            hits += rel[pos]
            ap += rel[pos] * hits / (pos + 1)
        aps.append(ap / r)
    return {k: sum(v) / len(v) for k, v in recalls.items()}, sum(aps) / len(aps)


def test_retrieval_matches_naive_reference():
    g = _gen(6)
    x = torch.randn(45, 6, generator=g)
    y = torch.randint(0, 5, (45,), generator=g)  # uneven class sizes: R differs per query
    y[0] = 7  # one lone query
    ks = (1, 2, 4, 8, 16)
    expected_recall, expected_map = _naive_retrieval(x, y, ks)
    assert recall_at_k(x, y, ks, chunk_size=8) == pytest.approx(expected_recall)
    assert map_at_r(x, y, chunk_size=8) == pytest.approx(expected_map, abs=1e-6)


def test_retrieval_perfect_on_separated_classes_and_scale_invariant():
    x, y = _blobs(8, 4, 6, 0.05, seed=7)
    assert map_at_r(x, y) == pytest.approx(1.0)
    assert recall_at_k(x, y) == pytest.approx({1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0})
    g = _gen(8)
    z, labels = torch.randn(30, 5, generator=g), torch.randint(0, 3, (30,), generator=g)
    scale = torch.rand(30, 1, generator=g) * 10 + 0.1  # per-row positive scaling
    assert map_at_r(z * scale, labels) == pytest.approx(map_at_r(z, labels), abs=1e-6)
    assert recall_at_k(z * scale, labels) == recall_at_k(z, labels)
    assert map_at_r(z, labels) < 0.9  # random features are far from perfect


def test_retrieval_rejects_bad_arguments():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="labels"):
        map_at_r(x, torch.arange(5))  # every label lone
    with pytest.raises(ValueError, match="labels"):
        recall_at_k(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="ks"):
        recall_at_k(x, torch.zeros(5, dtype=torch.long), ks=(0,))
    with pytest.raises(ValueError, match="features"):
        map_at_r(torch.randn(5), torch.zeros(5, dtype=torch.long))


# ---------------------------------------------------------------------------------------
# clustering


def test_nmi_ari_match_sklearn():
    g = _gen(9)
    for n, a, b in [(50, 3, 3), (80, 2, 6), (120, 5, 4), (7, 1, 3)]:
        t = torch.randint(0, a, (n,), generator=g)
        p = torch.randint(0, b, (n,), generator=g)
        p[: n // 2] = t[: n // 2]  # partly agreeing so scores are not all near 0
        assert nmi(t, p) == pytest.approx(normalized_mutual_info_score(t.numpy(), p.numpy()), abs=1e-10)
        assert ari(t, p) == pytest.approx(adjusted_rand_score(t.numpy(), p.numpy()), abs=1e-10)
    # degenerate partitions follow sklearn's conventions
    one, each = torch.zeros(6, dtype=torch.long), torch.arange(6)
    for t, p in [(one, one), (one, each), (each, each), (each, one)]:
        assert nmi(t, p) == pytest.approx(normalized_mutual_info_score(t.numpy(), p.numpy()))
        assert ari(t, p) == pytest.approx(adjusted_rand_score(t.numpy(), p.numpy()))


def test_nmi_ari_identical_up_to_relabelling_and_random():
    g = _gen(10)
    t = torch.randint(0, 5, (300,), generator=g)
    relabelled = torch.tensor([3, 7, 0, 9, 2])[t]  # a different name for each class
    assert nmi(t, relabelled) == pytest.approx(1.0)
    assert ari(t, relabelled) == pytest.approx(1.0)
    big_t = torch.randint(0, 5, (5000,), generator=g)
    big_p = torch.randint(0, 5, (5000,), generator=g)
    assert abs(ari(big_t, big_p)) < 0.01
    assert nmi(big_t, big_p) < 0.01


def test_kmeans_recovers_blobs_and_is_deterministic():
    x, y = _blobs(30, 4, 8, 0.3, seed=11)
    labels = kmeans(x, 4, seed=0)
    assert labels.shape == (120,) and labels.dtype == torch.long
    assert nmi(y, labels) == pytest.approx(1.0)
    assert torch.equal(kmeans(x, 4, seed=0), labels)
    assert clustering_scores(x, y, 4) == pytest.approx({"nmi": 1.0, "ari": 1.0})


def test_kmeans_result_is_a_lloyd_fixed_point():
    g = _gen(12)
    x = torch.randn(200, 3, generator=g)
    labels = kmeans(x, 5, n_init=3, seed=1)
    assert len(labels.unique()) == 5
    centres = torch.stack([x[labels == c].mean(0) for c in range(5)])
    assert torch.equal(torch.cdist(x, centres).argmin(1), labels)


def test_kmeans_duplicate_points_and_more_clusters_than_distinct_points():
    points = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    truth = torch.arange(4).repeat(5)  # each point five times
    assert ari(truth, kmeans(points[truth], 4, seed=3)) == pytest.approx(1.0)
    labels = kmeans(points[truth], 6, seed=3)  # only 4 distinct points: two clusters stay redundant
    assert labels.shape == (20,) and int(labels.max()) < 6
    assert nmi(truth, labels) == pytest.approx(1.0)  # no cluster mixes two distinct points


def test_kmeans_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k="):
        kmeans(torch.randn(3, 2), 4)
    with pytest.raises(ValueError, match="n_init"):
        kmeans(torch.randn(3, 2), 2, n_init=0)
    with pytest.raises(ValueError, match="labels_pred"):
        nmi(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))


# ---------------------------------------------------------------------------------------
# linear probe


def test_stratified_split_is_stratified_and_seeded():
    from lib.data import train_val_split

    y = torch.arange(4).repeat_interleave(torch.tensor([10, 20, 30, 1]))
    train_idx, val_idx = train_val_split(y, 0.2, seed=0)
    assert torch.bincount(y[val_idx], minlength=4).tolist() == [2, 4, 6, 0]
    assert sorted(torch.cat([train_idx, val_idx]).tolist()) == list(range(61))
    assert torch.equal(train_val_split(y, 0.2, seed=0)[1], val_idx)
    assert not torch.equal(train_val_split(y, 0.2, seed=1)[1], val_idx)


def test_linear_probe_separable_features():
    g = _gen(13)
    w = torch.randn(16, 4, generator=g)
    x_train, x_test = torch.randn(400, 16, generator=g), torch.randn(200, 16, generator=g)
    y_train, y_test = (x_train @ w).argmax(1), (x_test @ w).argmax(1)  # linear labels
    result = linear_probe(x_train, y_train, x_test, y_test, 4, weight_decays=(0.0, 1e-3), max_iter=30)
    assert result["test_accuracy"] > 0.9
    assert result["train_accuracy"] > 0.95
    assert result["weight_decay"] in (0.0, 1e-3)
    assert result["val_accuracy"] == result["val_accuracies"][result["weight_decay"]]


def test_linear_probe_random_labels_is_chance():
    g = _gen(14)
    x_train, x_test = torch.randn(300, 8, generator=g), torch.randn(400, 8, generator=g)
    y_train = torch.randint(0, 4, (300,), generator=g)
    y_test = torch.randint(0, 4, (400,), generator=g)
    result = linear_probe(x_train, y_train, x_test, y_test, 4, weight_decays=(0.0, 1e-3), max_iter=30)
    assert 0.15 < result["test_accuracy"] < 0.35


def test_linear_probe_selection_ignores_test_set():
    g = _gen(15)
    x_train, x_test = torch.randn(200, 10, generator=g), torch.randn(100, 10, generator=g)
    y_train = (x_train[:, 0] + 0.8 * torch.randn(200, generator=g) > 0).long()
    y_test = (x_test[:, 0] > 0).long()
    kwargs = dict(weight_decays=(0.0, 1e-2, 1.0), max_iter=20)
    a = linear_probe(x_train, y_train, x_test, y_test, 2, **kwargs)
    b = linear_probe(x_train, y_train, 5 * torch.randn(100, 10, generator=g), 1 - y_test, 2, **kwargs)
    assert (a["weight_decay"], a["val_accuracies"]) == (b["weight_decay"], b["val_accuracies"])
    assert a["train_accuracy"] == b["train_accuracy"]
    assert a["test_accuracy"] != b["test_accuracy"]
    # a different seed changes the validation split, hence the validation scores
    c = linear_probe(x_train, y_train, x_test, y_test, 2, seed=1, **kwargs)
    assert c["val_accuracies"] != a["val_accuracies"]


def test_linear_probe_invariant_to_per_feature_affine_maps():
    # features are standardised with training statistics, so rescaling and shifting each
    # feature (e.g. one feature in different units) changes nothing
    g = _gen(18)
    x_train, x_test = torch.randn(150, 5, generator=g), torch.randn(80, 5, generator=g)
    y_train = (x_train[:, :2].sum(1) + 0.5 * torch.randn(150, generator=g) > 0).long()
    y_test = (x_test[:, :2].sum(1) > 0).long()
    scale, shift = torch.tensor([100.0, 0.01, 3.0, 1.0, 50.0]), torch.tensor([5.0, -20.0, 0.0, 1.0, 3.0])
    kwargs = dict(weight_decays=(1e-3, 1e-1), max_iter=20)
    a = linear_probe(x_train, y_train, x_test, y_test, 2, **kwargs)
    b = linear_probe(x_train * scale + shift, y_train, x_test * scale + shift, y_test, 2, **kwargs)
    assert a["weight_decay"] == b["weight_decay"]
    for key in ("test_accuracy", "val_accuracy", "train_accuracy"):
        assert a[key] == pytest.approx(b[key], abs=0.015), key


def test_linear_probe_rejects_bad_arguments():
    x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with pytest.raises(ValueError, match="val_fraction"):
        linear_probe(x, y, x, y, 2, val_fraction=1.0)
    with pytest.raises(ValueError, match="weight_decays"):
        linear_probe(x, y, x, y, 2, weight_decays=(-1.0,))
    with pytest.raises(ValueError, match="test_features"):
        linear_probe(x, y, torch.randn(20, 4), y, 2)
    with pytest.raises(ValueError, match="num_classes"):
        linear_probe(x, y, x, y + 1, 2)


# ---------------------------------------------------------------------------------------
# battery


def test_evaluation_battery_on_separated_blobs():
    train, train_y = _blobs(15, 3, 6, 0.2, seed=16)
    test, test_y = _blobs(10, 3, 6, 0.2, seed=17)
    results = evaluation_battery(train, train_y, test, test_y, 3, knn_k=10)
    assert set(results) == {
        "knn_top1", "linear_probe_top1", "linear_probe_val_top1", "linear_probe_weight_decay",
        "recall@1", "recall@2", "recall@4", "recall@8", "map@r", "nmi", "ari",
    }
    for key, value in results.items():
        assert isinstance(value, float), key
        if key != "linear_probe_weight_decay":
            assert value == pytest.approx(1.0), key
    no_probe = evaluation_battery(train, train_y, test, test_y, 3, knn_k=10, probe=False)
    assert "linear_probe_top1" not in no_probe and no_probe["knn_top1"] == 1.0
