"""A work-around for a crash of oneDNN's CPU kernels, kept apart from the training loop it protects.

PyTorch's CPU convolutions in the channels_last layout (oneDNN) corrupt the heap in one case this
project meets: see :func:`onednn_crash_prone`. :func:`lib.training._device_layout` applies
:func:`avoid_onednn_crash` to every model it places on the CPU; ``tests/test_cpu_kernels.py`` keeps
PyTorch's bare reproduction, to tell when an upgrade makes this module unnecessary.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def onednn_crash_prone(module: nn.Module) -> bool:
    """A convolution whose backward corrupts the heap on the CPU in channels_last (torch 2.14.1,
    oneDNN's AVX-512 kernels): 1x1, strided, at most 8 input channels. Measured on the 1x1 stride-2
    convolution alone: 2 to 8 input channels crash (free(): invalid next size, double free, or a
    segmentation fault) at even input sides from 46 px on; 9 and more channels, and the contiguous
    layout, never did. In this project: the downsampling shortcut of a ResNet whose first stage has at
    most 8 channels (width <= 0.13), trained on images of 64 px with the CIFAR stem."""
    return (isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1) and module.stride != (1, 1)
            and module.in_channels <= 8)


def avoid_onednn_crash(model: nn.Module) -> list[nn.Module]:
    """Run the crash-prone convolutions of ``model`` (:func:`onednn_crash_prone`) in the contiguous
    layout when their input is on the CPU: weight and input contiguous, the output back in channels_last
    for the layers after it. Such a layer is converted at every image size, not only at the sizes
    measured to crash, since heap corruption need not crash at once. Every other layer, and every model
    without such a layer (the small CNN, ResNets of width >= 0.25), is left as it was: their numbers do
    not change. tests/test_cpu_kernels.py keeps PyTorch's bare reproduction, to tell when an upgrade
    fixes it. Returns the converted layers."""
    def before(conv: nn.Conv2d, args):
        (x,) = args
        if x.device.type != "cpu":
            return None
        _contiguous_weight(conv)  # again, in case the model was moved to channels_last since
        return (x.contiguous(),)

    def after(conv: nn.Conv2d, args, out: torch.Tensor):
        return out.contiguous(memory_format=torch.channels_last) if out.device.type == "cpu" else out

    converted = [m for m in model.modules() if onednn_crash_prone(m)]
    for conv in converted:
        _contiguous_weight(conv)
        if not getattr(conv, "_avoids_onednn_crash", False):
            conv.register_forward_pre_hook(before)
            conv.register_forward_hook(after)
            conv._avoids_onednn_crash = True
    return converted


def _contiguous_weight(conv: nn.Conv2d) -> None:
    """The weight with contiguous strides. A 1x1 kernel in channels_last passes ``is_contiguous()`` but
    keeps channels_last strides, and the convolution follows its weight's strides into channels_last."""
    w = conv.weight
    strides, step = [], 1
    for n in reversed(w.shape):
        strides.append(step)
        step *= n
    if w.stride() != tuple(reversed(strides)):
        w.data = w.data.clone(memory_format=torch.contiguous_format)
