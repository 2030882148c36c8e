"""Optimisers and learning-rate rules: LARS, parameter groups, batch-size scaling, warm-up + cosine.

SimCLR (Chen et al. 2020, Section 2.2): "we use LARS optimizer (You et al., 2017) for all batch
sizes"; Appendix B.1: "we use ... weight decay of 1e-6 ... linear warmup for the first 10
epochs, and decay the learning rate with the cosine decay schedule without restarts".
"""

from __future__ import annotations

import math
from numbers import Integral
from collections.abc import Iterable

import torch
from torch import nn

OPTIMIZERS = ("lars", "sgd", "adamw")
LR_SCALINGS = ("linear", "sqrt", "none")


class LARS(torch.optim.Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al. 2017), as in the official SimCLR code.

    For every parameter tensor ``w`` with gradient ``g`` in a group with ``lars_exclude=False``:

        g     <- g + weight_decay * w
        trust  = trust_coefficient * ||w|| / (||g|| + eps)   if ||w|| > 0 and ||g|| > 0, else 1
        v     <- momentum * v + lr * trust * g
        w     <- w - v

    This is the "classic momentum" variant of SimCLR's ``lars_optimizer.py`` (the learning rate
    and trust ratio sit inside the momentum buffer; ``v`` starts at zero). ``eps`` only guards
    the division; the official code has none. In a group with ``lars_exclude=True`` (biases
    and normalisation parameters, see ``parameter_groups``) the same update runs with
    ``trust = 1`` and no weight decay, i.e. SGD with momentum, as the official code does for
    the variables it excludes from "weight decay and LARS adaptation".

    ``clip=True`` gives solo-learn's variant instead (``solo/utils/lars.py``, after NVIDIA apex's
    LARC, with ``clip_lr=True``): the trust ratio is ``trust_coefficient * ||w|| / (||g|| +
    weight_decay * ||w|| + eps)`` with ``g`` the gradient before weight decay, and the layer's rate is
    that ratio clipped at the global rate: ``v <- momentum * v + min(trust, lr) * (g + wd w)``
    (solo-learn scales the step by ``min(trust / lr, 1)`` and then by ``lr``). The global rate then
    acts as a cap that the schedule moves, not as a factor: with trust coefficient 0.02 the layer
    rates are about 20x those of the official LARS at rate 1. solo-learn keeps ``lr`` outside its
    momentum buffer (PyTorch's SGD form); with a constant rate that is the same update, with a
    schedule it differs only in when a rate change takes effect.

    Works on any device; the trust ratios stay on the device (no host synchronisation).

    ``inplace=True`` (the ``foreach_lars`` speed switch, :mod:`lib.step_options`) runs the same
    ``torch._foreach_*`` operations in the same order, but writes the decayed and scaled gradient
    into ``p.grad`` instead of into new tensors: two parameter-sized allocations and writes fewer
    per step, the same numbers bit for bit (every operation is elementwise, so its rounding does not
    depend on where the result goes). After such a step ``p.grad`` holds the update ``lr * trust *
    g``, not the gradient: read gradients before ``step()``.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 1e-8,
        clip: bool = False,
        inplace: bool = False,
    ) -> None:
        _check_positive("lr", lr)
        _check_momentum(momentum)
        _check_non_negative("weight_decay", weight_decay)
        _check_positive("trust_coefficient", trust_coefficient)
        _check_non_negative("eps", eps)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            eps=eps,
            clip=bool(clip),
            lars_exclude=False,
        )
        super().__init__(params, defaults)
        self.inplace = bool(inplace)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("LARS does not support sparse gradients")
            grads = [p.grad for p in params]
            lr = group["lr"]
            if group["lars_exclude"]:
                updates = _scaled(grads, lr, self.inplace)  # lr * g
            else:
                wd, clip = group["weight_decay"], group.get("clip", False)
                w_norms = torch.stack(torch._foreach_norm(params))  # (P,)
                if clip:  # solo-learn: ||g|| before weight decay, wd ||w|| in the denominator
                    g_norms = torch.stack(torch._foreach_norm(grads))  # (P,)
                    denominator = g_norms + wd * w_norms
                if wd != 0 and self.inplace:
                    torch._foreach_add_(grads, params, alpha=wd)
                elif wd != 0:
                    grads = torch._foreach_add(grads, params, alpha=wd)
                if not clip:  # official SimCLR: the norm of the decayed gradient
                    g_norms = torch.stack(torch._foreach_norm(grads))  # (P,)
                    denominator = g_norms
                ratio = group["trust_coefficient"] * w_norms / (denominator + group["eps"])
                trust = torch.where((w_norms > 0) & (g_norms > 0), ratio, torch.ones_like(ratio))
                # official: the layer's rate is lr * trust; clipped (LARC): trust itself, at most lr
                layer_lr = torch.clamp(trust, max=lr) if clip else lr * trust
                scale = layer_lr.to(grads[0].dtype)
                updates = _scaled(grads, list(scale.unbind()), self.inplace)  # lr * trust * g
            bufs = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                bufs.append(state["momentum_buffer"])
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, updates)  # v <- m v + update
            torch._foreach_sub_(params, bufs)  # w <- w - v
        return loss


def _scaled(tensors: list[torch.Tensor], factor, inplace: bool) -> list[torch.Tensor]:
    """``tensors`` times ``factor`` (a number, or one 0-d tensor per tensor): written into ``tensors``
    themselves when ``inplace``, else into new tensors. The same elementwise products either way."""
    if inplace:
        torch._foreach_mul_(tensors, factor)
        return tensors
    return torch._foreach_mul(tensors, factor)


def parameter_groups(
    model: nn.Module, weight_decay: float, exclude_bias_and_norm: bool = True
) -> list[dict]:
    """Split the trainable parameters into a decayed group and an excluded group.

    Parameters with ``ndim <= 1`` (biases and the scales and shifts of BatchNorm, LayerNorm and
    GroupNorm) go to the excluded group, which has ``weight_decay=0`` and ``lars_exclude=True``;
    conv and linear weights go to the decayed group with ``weight_decay`` and
    ``lars_exclude=False``. The official SimCLR code excludes "batch_normalization" and "bias"
    variables from both weight decay and LARS adaptation. With ``exclude_bias_and_norm=False``
    there is one group with every parameter. Frozen parameters (``requires_grad=False``) are
    left out; empty groups are dropped.
    """
    _check_non_negative("weight_decay", weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: has no trainable parameters")
    if not exclude_bias_and_norm:
        return [dict(params=params, weight_decay=weight_decay, lars_exclude=False)]
    decayed = [p for p in params if p.ndim > 1]
    excluded = [p for p in params if p.ndim <= 1]
    groups = [
        dict(params=decayed, weight_decay=weight_decay, lars_exclude=False),
        dict(params=excluded, weight_decay=0.0, lars_exclude=True),
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(
    name: str, model: nn.Module, lr: float, weight_decay: float, momentum: float = 0.9,
    *, lars_trust: float = 0.001, lars_clip: bool = False, lars_inplace: bool = False,
) -> torch.optim.Optimizer:
    """Optimiser by name over ``parameter_groups(model, weight_decay)``.

    ``"lars"``: ``LARS`` with ``trust_coefficient=lars_trust``, ``clip=lars_clip`` and
    ``inplace=lars_inplace`` (a speed switch: the same numbers); ``"sgd"``: SGD with (non-Nesterov) momentum; ``"adamw"``: AdamW with
    default betas. Biases and normalisation parameters get no weight decay with every
    optimiser. SGD and AdamW use PyTorch's fused kernels when every parameter is on CUDA.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"name: expected one of {OPTIMIZERS}, got {name!r}")
    _check_positive("lr", lr)
    _check_non_negative("weight_decay", weight_decay)
    _check_momentum(momentum)
    groups = parameter_groups(model, weight_decay)
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum, weight_decay=weight_decay,
                    trust_coefficient=lars_trust, clip=lars_clip, inplace=lars_inplace)
    fused = all(p.is_cuda for g in groups for p in g["params"]) or None
    if name == "sgd":
        return torch.optim.SGD(
            groups, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=False, fused=fused
        )
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=fused)


def scaled_learning_rate(base_lr: float, batch_size: int, scaling: str) -> float:
    """Learning rate scaled with the batch size.

    SimCLR Appendix B.1: "LearningRate = 0.3 x BatchSize/256" (``"linear"``: base_lr x B / 256)
    and "0.075 x sqrt(BatchSize)" (``"sqrt"``: base_lr x sqrt(B), better for small batches);
    ``"none"`` returns ``base_lr``.
    """
    _check_positive("base_lr", base_lr)
    if not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if scaling == "linear":
        return base_lr * batch_size / 256
    if scaling == "sqrt":
        return base_lr * math.sqrt(batch_size)
    if scaling == "none":
        return float(base_lr)
    raise ValueError(f"scaling: expected one of {LR_SCALINGS}, got {scaling!r}")


def lr_at(
    step: float, total_steps: int, warmup_steps: int, peak_lr: float, final_lr: float = 0.0
) -> float:
    """Learning rate at ``step``: linear warm-up from 0, then cosine decay without restarts.

    ``lr = peak_lr * step / warmup_steps`` for ``step < warmup_steps`` (so ``peak_lr`` is
    reached at ``step = warmup_steps``), then
    ``final_lr + (peak_lr - final_lr) * (1 + cos(pi * t)) / 2`` with
    ``t = (step - warmup_steps) / (total_steps - warmup_steps)``, reaching ``final_lr`` at
    ``step = total_steps``. Defined for ``0 <= step <= total_steps``; a pure function.
    With ``warmup_steps == total_steps`` there is no decay.
    """
    if not isinstance(total_steps, Integral) or total_steps < 1:
        raise ValueError(f"total_steps: expected a positive int, got {total_steps!r}")
    if not isinstance(warmup_steps, Integral) or not 0 <= warmup_steps <= total_steps:
        raise ValueError(
            f"warmup_steps: expected an int in [0, total_steps={total_steps}], got {warmup_steps!r}"
        )
    _check_positive("peak_lr", peak_lr)
    if not 0 <= final_lr <= peak_lr:
        raise ValueError(f"final_lr: expected a value in [0, peak_lr={peak_lr}], got {final_lr!r}")
    if not 0 <= step <= total_steps:
        raise ValueError(f"step: expected a value in [0, total_steps={total_steps}], got {step!r}")
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    if total_steps == warmup_steps:
        return float(peak_lr)
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return final_lr + (peak_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group (0 is allowed: the first warm-up step)."""
    _check_non_negative("lr", lr)
    for group in optimizer.param_groups:
        group["lr"] = lr


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")


def _check_momentum(momentum: float) -> None:
    if not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
