"""Tests for lib.optim: LARS against hand-computed updates, parameter groups, lr rules."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from lib.optim import (
    LARS,
    build_optimizer,
    lr_at,
    parameter_groups,
    scaled_learning_rate,
    set_lr,
)

# ----------------------------------------------------------------------------------------------
# learning-rate schedule and scaling


def test_lr_at_analytic_values():
    kw = dict(total_steps=100, warmup_steps=10, peak_lr=2.0)
    assert lr_at(0, **kw) == 0.0
    assert lr_at(5, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(2.0)
    assert lr_at(55, **kw) == pytest.approx(1.0)  # half-way through the cosine: half the peak
    assert lr_at(100, **kw) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(55, **kw, final_lr=0.2) == pytest.approx(1.1)
    assert lr_at(100, **kw, final_lr=0.2) == pytest.approx(0.2)
    # 1/4 of the way through the decay: (1 + cos(pi/4)) / 2 of the peak
    assert lr_at(32.5, **kw) == pytest.approx(2.0 * (1 + math.cos(math.pi / 4)) / 2)


def test_lr_at_monotone_pieces_and_edge_cases():
    kw = dict(total_steps=50, warmup_steps=8, peak_lr=1.0, final_lr=0.01)
    warm = [lr_at(s, **kw) for s in range(0, 9)]
    decay = [lr_at(s, **kw) for s in range(8, 51)]
    assert all(a < b for a, b in zip(warm, warm[1:]))
    assert all(a > b for a, b in zip(decay, decay[1:]))
    assert max(warm + decay) == pytest.approx(1.0)
    assert lr_at(0, total_steps=10, warmup_steps=0, peak_lr=0.5) == 0.5  # no warm-up
    assert lr_at(10, total_steps=10, warmup_steps=10, peak_lr=0.5) == 0.5  # no decay


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(step=0, total_steps=10, warmup_steps=11, peak_lr=1.0), "warmup_steps"),
        (dict(step=11, total_steps=10, warmup_steps=1, peak_lr=1.0), "step"),
        (dict(step=-1, total_steps=10, warmup_steps=1, peak_lr=1.0), "step"),
        (dict(step=0, total_steps=0, warmup_steps=0, peak_lr=1.0), "total_steps"),
        (dict(step=0, total_steps=10, warmup_steps=1, peak_lr=0.0), "peak_lr"),
        (dict(step=0, total_steps=10, warmup_steps=1, peak_lr=1.0, final_lr=2.0), "final_lr"),
    ],
)
def test_lr_at_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lr_at(**kwargs)


def test_scaled_learning_rate():
    assert scaled_learning_rate(0.3, 4096, "linear") == pytest.approx(4.8)
    assert scaled_learning_rate(0.075, 4096, "sqrt") == pytest.approx(4.8)
    assert scaled_learning_rate(0.3, 256, "linear") == pytest.approx(0.3)
    assert scaled_learning_rate(0.1, 512, "none") == 0.1
    with pytest.raises(ValueError, match="linear"):
        scaled_learning_rate(0.3, 256, "log")
    with pytest.raises(ValueError, match="batch_size"):
        scaled_learning_rate(0.3, 0, "linear")
    with pytest.raises(ValueError, match="base_lr"):
        scaled_learning_rate(-0.3, 256, "linear")


def test_set_lr():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    opt = build_optimizer("sgd", model, lr=0.1, weight_decay=1e-4)
    set_lr(opt, 0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]
    set_lr(opt, 0.25)
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]
    with pytest.raises(ValueError, match="lr"):
        set_lr(opt, -1.0)


# ----------------------------------------------------------------------------------------------
# parameter groups and optimiser construction


def _small_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4, 5),
        nn.LayerNorm(5),
        nn.Linear(5, 3, bias=False),
        nn.GroupNorm(1, 3),
    )


def test_parameter_groups_split():
    model = _small_model()
    groups = parameter_groups(model, weight_decay=1e-6)
    assert len(groups) == 2
    decayed, excluded = groups
    assert decayed["weight_decay"] == 1e-6 and decayed["lars_exclude"] is False
    assert excluded["weight_decay"] == 0.0 and excluded["lars_exclude"] is True
    conv, bn, lin1, ln, lin2, gn = model[0], model[1], model[4], model[5], model[6], model[7]
    assert {id(p) for p in decayed["params"]} == {id(conv.weight), id(lin1.weight), id(lin2.weight)}
    expected_excluded = [conv.bias, bn.weight, bn.bias, lin1.bias, ln.weight, ln.bias]
    expected_excluded += [gn.weight, gn.bias]
    assert {id(p) for p in excluded["params"]} == {id(p) for p in expected_excluded}
    every = [id(p) for g in groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters())  # each exactly once


def test_parameter_groups_options():
    model = _small_model()
    (single,) = parameter_groups(model, 0.1, exclude_bias_and_norm=False)
    assert len(single["params"]) == len(list(model.parameters()))
    assert single["weight_decay"] == 0.1 and single["lars_exclude"] is False
    model[0].requires_grad_(False)  # frozen parameters are left out
    groups = parameter_groups(model, 0.1)
    ids = {id(p) for g in groups for p in g["params"]}
    assert id(model[0].weight) not in ids and id(model[0].bias) not in ids
    with pytest.raises(ValueError, match="weight_decay"):
        parameter_groups(model, -1.0)
    with pytest.raises(ValueError, match="trainable"):
        parameter_groups(nn.ReLU(), 0.0)


def test_build_optimizer_kinds():
    model = _small_model()
    lars = build_optimizer("lars", model, lr=0.3, weight_decay=1e-6)
    sgd = build_optimizer("sgd", model, lr=0.3, weight_decay=1e-6, momentum=0.8)
    adamw = build_optimizer("adamw", model, lr=1e-3, weight_decay=0.05)
    assert isinstance(lars, LARS)
    assert isinstance(sgd, torch.optim.SGD) and not sgd.defaults["nesterov"]
    assert sgd.defaults["momentum"] == 0.8
    assert isinstance(adamw, torch.optim.AdamW)
    assert not sgd.defaults.get("fused") and not adamw.defaults.get("fused")  # CPU: not fused
    for opt in (lars, sgd, adamw):
        assert [g["weight_decay"] for g in opt.param_groups][1] == 0.0


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(name="adam"), "name.*lars.*sgd.*adamw"),
        (dict(lr=0.0), "lr"),
        (dict(lr=-1.0), "lr"),
        (dict(weight_decay=-1e-6), "weight_decay"),
        (dict(momentum=1.0), "momentum"),
    ],
)
def test_build_optimizer_errors(kwargs, pattern):
    args = dict(name="lars", model=_small_model(), lr=0.1, weight_decay=1e-6) | kwargs
    with pytest.raises(ValueError, match=pattern):
        build_optimizer(**args)


# ----------------------------------------------------------------------------------------------
# LARS


def _lars_reference(w, grads, lr, momentum, weight_decay, eta, eps, exclude):
    """Naive numpy LARS (official SimCLR 'classic momentum'), one update per gradient."""
    w, v = np.array(w, dtype=np.float64), np.zeros_like(w, dtype=np.float64)
    for g in grads:
        g = np.array(g, dtype=np.float64)
        trust = 1.0
        if not exclude:
            g = g + weight_decay * w
            wn, gn = np.linalg.norm(w), np.linalg.norm(g)
            if wn > 0 and gn > 0:
                trust = eta * wn / (gn + eps)
        v = momentum * v + lr * trust * g
        w = w - v
    return w


def test_lars_one_step_by_hand():
    w = nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    b = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = LARS(
        [
            dict(params=[w], weight_decay=0.1),
            dict(params=[b], weight_decay=0.1, lars_exclude=True),  # decay ignored when excluded
        ],
        lr=2.0,
        momentum=0.9,
        trust_coefficient=0.01,
        eps=0.0,
    )
    w.grad = torch.tensor([[0.6, 0.8]])
    b.grad = torch.tensor([0.5, 0.5])
    opt.step()
    # included: g + wd w = [0.9, 1.2], ||.|| = 1.5; trust = 0.01 * 5 / 1.5 = 1/30;
    # v = 2 * (1/30) * [0.9, 1.2] = [0.06, 0.08]; w - v = [2.94, 3.92]
    torch.testing.assert_close(w.detach(), torch.tensor([[2.94, 3.92]]))
    # excluded: v = lr * g = [1, 1]; b - v = [0, -3]
    torch.testing.assert_close(b.detach(), torch.tensor([0.0, -3.0]))
    # second step: momentum carries v
    w.grad = torch.tensor([[0.6, 0.8]])
    b.grad = torch.tensor([0.0, 0.0])
    opt.step()
    torch.testing.assert_close(b.detach(), torch.tensor([-0.9, -3.9]))
    expected = _lars_reference([[3.0, 4.0]], [[[0.6, 0.8]]] * 2, 2.0, 0.9, 0.1, 0.01, 0.0, False)
    torch.testing.assert_close(w.detach(), torch.tensor(expected, dtype=torch.float32))


def test_lars_matches_reference_over_steps_and_zero_norms():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(3, 4))
    zero = nn.Parameter(torch.zeros(5))  # ||w|| = 0 -> trust 1
    grads_w = [torch.randn(3, 4) for _ in range(4)]
    grads_z = [torch.randn(5) for _ in range(4)]
    opt = LARS([w, zero], lr=0.7, momentum=0.8, weight_decay=1e-2, trust_coefficient=0.02)
    w0, z0 = w.detach().numpy().copy(), zero.detach().numpy().copy()
    for gw, gz in zip(grads_w, grads_z):
        w.grad, zero.grad = gw.clone(), gz.clone()
        opt.step()
    ref_w = _lars_reference(w0, [g.numpy() for g in grads_w], 0.7, 0.8, 1e-2, 0.02, 1e-8, False)
    ref_z = _lars_reference(z0, [g.numpy() for g in grads_z], 0.7, 0.8, 1e-2, 0.02, 1e-8, False)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zero.detach().numpy(), ref_z, rtol=1e-5, atol=1e-6)
    # the zero tensor's first update was trust 1: not scaled down by the trust coefficient
    assert np.abs(ref_z - z0).max() > 0.1


def _solo_learn_lars_reference(w, grads, lr, momentum, weight_decay, eta, eps):
    """Naive numpy transcription of solo-learn's LARS step (solo/utils/lars.py, clip_lr=True,
    dampening 0, no Nesterov): the rate outside the momentum buffer, as in PyTorch's SGD."""
    w, buf = np.array(w, dtype=np.float64), None
    for g in grads:
        g = np.array(g, dtype=np.float64)
        wn, gn = np.linalg.norm(w), np.linalg.norm(g)
        d_p = g
        if wn != 0 and gn != 0:
            lars_lr = eta * wn / (gn + wn * weight_decay + eps)
            lars_lr = min(lars_lr / lr, 1.0)  # clip_lr
            d_p = (g + weight_decay * w) * lars_lr
        buf = d_p.copy() if buf is None else momentum * buf + d_p
        w = w - lr * buf
    return w


@pytest.mark.parametrize("lr", [0.05, 50.0])  # the layer rate eta * trust is clipped at lr = 0.05, not at 50
def test_lars_clip_matches_solo_learn(lr):
    torch.manual_seed(1)
    w = nn.Parameter(torch.randn(6, 5))
    grads = [torch.randn(6, 5) * 0.1 for _ in range(5)]
    opt = LARS([w], lr=lr, momentum=0.9, weight_decay=5e-4, trust_coefficient=0.02, clip=True)
    w0 = w.detach().numpy().copy()
    for g in grads:
        w.grad = g.clone()
        opt.step()
    ref = _solo_learn_lars_reference(w0, [g.numpy() for g in grads], lr, 0.9, 5e-4, 0.02, 1e-8)
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    # and the official variant gives another update, so the test can tell them apart
    official = _lars_reference(w0, [g.numpy() for g in grads], lr, 0.9, 5e-4, 0.02, 1e-8, False)
    assert np.abs(official - ref).max() > 1e-3


def test_build_optimizer_passes_lars_knobs():
    opt = build_optimizer("lars", _small_model(), lr=0.1, weight_decay=1e-6, lars_trust=0.02, lars_clip=True)
    assert all(g["trust_coefficient"] == 0.02 and g["clip"] for g in opt.param_groups)


def test_lars_skips_params_without_grad_and_validates():
    w = nn.Parameter(torch.ones(2, 2))
    opt = LARS([w], lr=0.1)
    opt.step()  # no gradient: no change, no state
    assert torch.equal(w.detach(), torch.ones(2, 2)) and not opt.state
    for kwargs, name in [
        (dict(lr=0.0), "lr"),
        (dict(lr=0.1, momentum=-0.1), "momentum"),
        (dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
        (dict(lr=0.1, trust_coefficient=0.0), "trust_coefficient"),
    ]:
        with pytest.raises(ValueError, match=name):
            LARS([w], **kwargs)


def test_lars_reduces_quadratic_loss():
    torch.manual_seed(0)
    weight = nn.Parameter(torch.randn(8, 4))
    x, y = torch.randn(64, 8), torch.randn(64, 4)
    opt = LARS([weight], lr=5.0, weight_decay=1e-6)
    losses = []
    for _ in range(60):
        loss = (x @ weight - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    best = (x @ torch.linalg.lstsq(x, y).solution - y).pow(2).mean().item()
    assert losses[-1] < 0.2 * losses[0]
    assert losses[-1] < 1.05 * best  # reaches the least-squares optimum
