"""Encoders, projection heads and classifiers.

The pieces compose the way the SimCLR papers describe them:

- an **encoder** ``f`` maps an image to a representation ``h = f(x)``: a ResNet-18/34/50 with a
  width multiplier, or a small CNN for CPU runs. It normalises its own input, so every caller
  feeds float images in [0, 1] (training views and evaluation alike);
- a **projection head** ``g`` maps ``h`` to the space where the contrastive loss is applied,
  ``z = g(h)``; one class serves SimCLR v1 and v2 through ``num_layers``;
- ``ContrastiveModel`` is ``x -> (h, z)``; ``FineTuneModel`` is ``x -> logits`` through the
  encoder, optionally the first layers of a pretrained head (SimCLRv2), and a linear classifier.

Also here: ``count_parameters`` and ``flops_per_image`` (multiply-accumulates counted with
forward hooks) to report model size and the achieved fraction of peak throughput.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

ARCHS = ("resnet18", "resnet34", "resnet50", "small_cnn")
STEMS = ("auto", "cifar", "imagenet")
HEAD_LAST_BN = ("affine", "scale", "none")  # what follows the head's output layer, see ProjectionHead

# block type and number of blocks per stage, as in torchvision (He et al. 2016, Table 1)
_RESNET_LAYOUT = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}
_RESNET_WIDTHS = (64, 128, 256, 512)  # stage widths at width multiplier 1
_SMALL_CNN_WIDTHS = (32, 64, 128)  # stage widths at width multiplier 1
_DEFAULT_MEAN = 0.5  # per channel, for inputs in [0, 1]
_DEFAULT_STD = 0.25


# ----------------------------------------------------------------------------------------------
# encoders


class Encoder(nn.Module):
    """Image encoder ``f``: float images in [0, 1], (B, C, H, W) -> features ``h``, (B, out_dim).

    The first operation is a per-channel normalisation ``(x - mean) / std`` with ``mean`` and
    ``std`` stored as buffers (so they travel with the state dict and the device), then ``body``
    (convolutions, global average pooling, flatten). Build one with ``build_encoder``.
    """

    def __init__(
        self,
        body: nn.Module,
        out_dim: int,
        *,
        in_channels: int,
        mean: torch.Tensor,
        std: torch.Tensor,
        arch: str = "custom",
    ) -> None:
        super().__init__()
        self.body = body
        self.out_dim = int(out_dim)
        self.in_channels = int(in_channels)
        self.arch = arch
        self.register_buffer("mean", mean.reshape(1, in_channels, 1, 1).clone())
        self.register_buffer("std", std.reshape(1, in_channels, 1, 1).clone())

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel; ``x`` is (B, C, H, W) in [0, 1]."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x: expected a (B, {self.in_channels}, H, W) batch, got shape {tuple(x.shape)}"
            )
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalize(x))  # (B, C, H, W) -> (B, out_dim)


def build_encoder(
    arch: str,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    width: float = 1,
    stem: str = "auto",
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    zero_init_residual: bool = False,
) -> Encoder:
    """Build an encoder by name.

    Args:
        arch: one of ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"small_cnn"``.
        in_channels: image channels (3 for colour, 1 for 28 px grey-scale data sets).
        image_size: side of the (square) input images; only used to pick the ResNet stem.
        width: width multiplier applied to every stage width (64w, 128w, 256w, 512w for the
            ResNets; 32w, 64w, 128w for the small CNN). SimCLRv2 (Chen et al. 2020b) studies
            "ResNet models ... with different depths and width multipliers".
        stem: ResNet stem. ``"cifar"``: a 3x3 stride-1 first convolution and no max-pool, as
            SimCLR does on CIFAR-10 (Appendix B.9: "we replace the first 7x7 Conv of stride 2
            with 3x3 Conv of stride 1, and also remove the first max pooling operation");
            ``"imagenet"``: the 7x7 stride-2 convolution and 3x3 stride-2 max-pool;
            ``"auto"``: ``"cifar"`` when ``image_size <= 64``, else ``"imagenet"``.
            Ignored by ``small_cnn``.
        mean, std: per-channel normalisation statistics for [0, 1] inputs, a number or one per
            channel; ``None`` gives 0.5 and 0.25.
        zero_init_residual: ResNets only; zero-initialise the last BatchNorm scale of every
            residual block so each block starts as the identity (Goyal et al. 2017: "we
            initialize gamma = 0 for the last BN layer in each residual block"; the official
            SimCLR code does this). Default False, as in torchvision.

    Weights are initialised as torchvision does (Kaiming-normal, fan-out, for convolutions;
    BatchNorm scale 1 and shift 0). No pretrained weights, nothing is downloaded.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch: expected one of {ARCHS}, got {arch!r}")
    if stem not in STEMS:
        raise ValueError(f"stem: expected one of {STEMS}, got {stem!r}")
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels: expected a positive int, got {in_channels!r}")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size: expected a positive int, got {image_size!r}")
    if not isinstance(width, (int, float)) or width <= 0:
        raise ValueError(f"width: expected a positive number, got {width!r}")
    mean_t = _channel_stat(mean, _DEFAULT_MEAN, in_channels, "mean")
    std_t = _channel_stat(std, _DEFAULT_STD, in_channels, "std")
    if bool((std_t <= 0).any()):
        raise ValueError(f"std: every value must be > 0, got {std_t.tolist()}")

    if arch == "small_cnn":
        body, out_dim = _small_cnn(in_channels, width)
    else:
        if stem == "auto":
            stem = "cifar" if image_size <= 64 else "imagenet"
        block, layers = _RESNET_LAYOUT[arch]
        body, out_dim = _resnet(block, layers, in_channels, width, stem, zero_init_residual)
    return Encoder(body, out_dim, in_channels=in_channels, mean=mean_t, std=std_t, arch=arch)


def _channel_stat(
    value: float | Sequence[float] | None, default: float, channels: int, name: str
) -> torch.Tensor:
    """A per-channel statistic as a (C,) float tensor from None, a number or a sequence."""
    if value is None:
        value = default
    if isinstance(value, (int, float)):
        return torch.full((channels,), float(value))
    t = torch.as_tensor(value, dtype=torch.float32).flatten()
    if t.numel() == 1:
        return t.expand(channels).clone()
    if t.numel() != channels:
        raise ValueError(f"{name}: expected 1 or {channels} values (in_channels), got {t.numel()}")
    return t


def _scaled(base: int, width: float, name: str = "width") -> int:
    channels = int(round(base * width))
    if channels < 1:
        raise ValueError(f"{name}: multiplier {width} leaves {base} channels with none")
    return channels


def _init_weights(module: nn.Module) -> None:
    """torchvision's ResNet initialisation."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def _resnet(
    block: type[BasicBlock] | type[Bottleneck],
    layers: Sequence[int],
    in_channels: int,
    width: float,
    stem: str,
    zero_init_residual: bool,
) -> tuple[nn.Sequential, int]:
    """ResNet body without fc: stem, four stages, global average pool, flatten."""
    widths = [_scaled(w, width) for w in _RESNET_WIDTHS]
    inplanes = widths[0]
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    if stem == "cifar":
        modules["conv1"] = nn.Conv2d(in_channels, inplanes, 3, stride=1, padding=1, bias=False)
    else:
        modules["conv1"] = nn.Conv2d(in_channels, inplanes, 7, stride=2, padding=3, bias=False)
    modules["bn1"] = nn.BatchNorm2d(inplanes)
    modules["relu"] = nn.ReLU(inplace=True)
    if stem == "imagenet":
        modules["maxpool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    for i, (planes, blocks) in enumerate(zip(widths, layers)):
        stride = 1 if i == 0 else 2
        stage = []
        for j in range(blocks):
            downsample = None
            if j == 0 and (stride != 1 or inplanes != planes * block.expansion):
                downsample = nn.Sequential(
                    conv1x1(inplanes, planes * block.expansion, stride),
                    nn.BatchNorm2d(planes * block.expansion),
                )
            # planes is already scaled, so base_width stays 64 (Bottleneck's inner width = planes)
            stage.append(block(inplanes, planes, stride if j == 0 else 1, downsample))
            inplanes = planes * block.expansion
        modules[f"layer{i + 1}"] = nn.Sequential(*stage)
    modules["avgpool"] = nn.AdaptiveAvgPool2d(1)  # (B, D, H', W') -> (B, D, 1, 1)
    modules["flatten"] = nn.Flatten(1)  # -> (B, D)
    body = nn.Sequential(modules)
    _init_weights(body)
    if zero_init_residual:
        for m in body.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
    return body, inplanes


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _small_cnn(in_channels: int, width: float) -> tuple[nn.Sequential, int]:
    """A six-convolution CNN for CPU runs on 28-32 px images.

    Three stages of two 3x3 conv-BN-ReLU layers with (32, 64, 128) x width channels. The first
    convolution of a stage changes the width; the second keeps it and, in stages 1 and 2, has
    stride 2, which halves the resolution between stages (32 -> 16 -> 8 px, or 28 -> 14 -> 7).
    Global average pooling gives ``h`` of 128 x width dimensions. At width 1 and 32 px this is
    24.4 M multiply-accumulates (49 MFLOPs) per image forward and 0.29 M parameters.
    """
    c1, c2, c3 = (_scaled(c, width) for c in _SMALL_CNN_WIDTHS)
    body = nn.Sequential(
        OrderedDict(
            stage1=nn.Sequential(_conv_bn_relu(in_channels, c1, 1), _conv_bn_relu(c1, c1, 2)),
            stage2=nn.Sequential(_conv_bn_relu(c1, c2, 1), _conv_bn_relu(c2, c2, 2)),
            stage3=nn.Sequential(_conv_bn_relu(c2, c3, 1), _conv_bn_relu(c3, c3, 1)),
            avgpool=nn.AdaptiveAvgPool2d(1),  # (B, c3, H/4, W/4) -> (B, c3, 1, 1)
            flatten=nn.Flatten(1),  # -> (B, c3)
        )
    )
    _init_weights(body)
    return body, c3


# ----------------------------------------------------------------------------------------------
# projection head


class ProjectionHead(nn.Module):
    """Projection head ``g``: ``z = g(h)``, one class for SimCLR v1 and v2.

    ``num_layers`` counts linear layers:

    - 0: the identity (no head; the loss is applied to ``h``);
    - 1: a linear projection: one ``Linear`` with bias, or with ``linear_bn`` the bias-free ``Linear`` and
      the ``last_bn`` BatchNorm the deeper heads end in (the official SimCLR code's linear head,
      ``linear_layer(..., use_bias=False, use_bn=True)``; with ``last_bn="none"`` it stays a ``Linear`` with
      bias), so that linear and nonlinear heads differ only in the hidden layer;
    - k >= 2: (k - 1) x [``Linear`` (no bias) -> ``BatchNorm1d`` -> ``ReLU``], then the output
      ``Linear`` followed, by ``last_bn``, by:
      ``"affine"``: ``BatchNorm1d`` with scale and shift (the default, this project's first head; also
      lightly's ``SimCLRProjectionHead`` with its default ``batch_norm=True``: lightly 1.6's
      ``lightly/models/modules/heads.py`` puts ``BatchNorm1d(output_dim)`` after its bias-free output
      ``Linear``, as ``configs/recipes/lightly_cifar10.toml`` records);
      ``"scale"``: BatchNorm with a learned scale and no shift (:class:`ScaleBatchNorm1d`), the
      official SimCLR head (``model_util.py``: the output layer is ``linear_layer(...,
      use_bias=False, use_bn=True)``, whose ``batch_norm_relu`` gets ``center=use_bias``);
      ``"none"``: nothing, the ``Linear`` has a bias (solo-learn's SimCLR head, dkobak/simclr-cifar10;
      lightly's ``SimCLRProjectionHead`` only with ``batch_norm=False``, or in releases before it had that
      argument).

    SimCLR v1 uses k = 2 ("a MLP with one hidden layer to obtain z = g(h) = W(2) sigma(W(1) h)");
    SimCLRv2 uses k = 3 ("a 3-layer MLP projection head"). A linear layer directly followed by
    BatchNorm has no bias, which the BatchNorm shift would cancel.

    ``forward_layers(h)`` returns ``[h, layer 1 output, ..., layer k output]`` (a hidden layer's
    output is taken after its ReLU) for SimCLRv2's fine-tuning "from a middle layer of the
    projection head"; ``output_dim(i)`` is the width at index ``i`` of that list.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int,
        *,
        last_bn: str = "affine",
        linear_bn: bool = False,
    ) -> None:
        super().__init__()
        if last_bn not in HEAD_LAST_BN:
            raise ValueError(f"last_bn: expected one of {HEAD_LAST_BN}, got {last_bn!r}")
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(f"num_layers: expected an int >= 0, got {num_layers!r}")
        self.num_layers = num_layers
        self.last_bn = last_bn
        if num_layers == 0:
            self._dims = [in_dim]
        else:
            self._dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.blocks = nn.ModuleList()
        for i in range(num_layers):
            d_in, d_out = self._dims[i], self._dims[i + 1]
            if i < num_layers - 1:
                layer = [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU()]
            elif (num_layers >= 2 or linear_bn) and last_bn == "affine":
                layer = [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out)]
            elif (num_layers >= 2 or linear_bn) and last_bn == "scale":
                layer = [nn.Linear(d_in, d_out, bias=False), ScaleBatchNorm1d(d_out)]
            else:
                layer = [nn.Linear(d_in, d_out)]
            self.blocks.append(nn.Sequential(*layer))

    @property
    def out_dim(self) -> int:
        return self._dims[-1]

    def output_dim(self, layer: int) -> int:
        """Width of ``forward_layers(h)[layer]`` (``layer`` 0 is ``h`` itself)."""
        self._check_layer(layer)
        return self._dims[layer]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return h  # (B, in_dim) -> (B, out_dim)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        """``[h, after layer 1, ..., after layer num_layers]``; the last entry is ``forward(h)``."""
        outputs = [h]
        for block in self.blocks:
            outputs.append(block(outputs[-1]))
        return outputs

    def _check_layer(self, layer: int) -> None:
        if not isinstance(layer, int) or not 0 <= layer <= self.num_layers:
            raise ValueError(f"layer: expected an int in [0, {self.num_layers}], got {layer!r}")


class ScaleBatchNorm1d(nn.Module):
    """Batch normalisation with a learned per-feature scale and no shift: ``gamma * BN(x)``.

    TensorFlow's ``batch_normalization(center=False, scale=True)``, which the official SimCLR head
    puts after its output layer. The normalisation (batch statistics in training, running ones in
    evaluation) is an affine-free ``BatchNorm1d``, so ``SyncBatchNorm`` conversion still applies.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.bn = nn.BatchNorm1d(num_features, affine=False)
        self.weight = nn.Parameter(torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.weight  # (B, D) -> (B, D)


def truncated_head(head: ProjectionHead, layer: int) -> nn.Sequential:
    """The first ``layer`` layers of ``head`` as an ``nn.Sequential`` sharing their weights.

    ``layer`` 0 gives an empty ``Sequential`` (the identity). The result reproduces
    ``head.forward_layers(h)[layer]`` and carries ``out_dim = head.output_dim(layer)``.
    SimCLRv2: "we fine-tune from a middle layer of the projection head instead of the input
    layer", and the paper's best choice is "fine-tuning from the first layer of the projection
    head".
    """
    if not isinstance(head, ProjectionHead):
        raise ValueError(f"head: expected a ProjectionHead, got {type(head).__name__}")
    head._check_layer(layer)
    layers = nn.Sequential(*head.blocks[:layer])
    layers.out_dim = head.output_dim(layer)
    return layers


# ----------------------------------------------------------------------------------------------
# models


class ContrastiveModel(nn.Module):
    """Encoder and projection head: ``x -> (h, z)`` with ``h = f(x)`` and ``z = g(h)``.

    SimCLR: "a neural network base encoder f(.) that extracts representation vectors from
    augmented data examples" and "a small neural network projection head g(.) that maps
    representations to the space where contrastive loss is applied".
    """

    def __init__(self, encoder: nn.Module, head: ProjectionHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (B, C, H, W) -> (B, D_h)
        z = self.head(h)  # (B, D_z)
        return h, z

    def features(self, x: torch.Tensor, layer: int = 0) -> torch.Tensor:
        """Output of head layer ``layer`` (0 = the encoder output ``h``)."""
        self.head._check_layer(layer)
        h = self.encoder(x)
        for block in self.head.blocks[:layer]:
            h = block(h)
        return h


class FineTuneModel(nn.Module):
    """Images -> logits: encoder, optionally the first layers of a projection head, then linear.

    ``head_layers`` is typically ``truncated_head(pretrained_head, 1)`` (SimCLRv2's fine-tuning
    "from the first layer of the projection head"); ``None`` gives a plain classifier on ``h``
    (supervised baseline, linear evaluation, SimCLR v1 fine-tuning). The classifier input width
    is ``head_layers.out_dim`` when present (``truncated_head`` sets it), else the width of the
    last ``Linear``/``BatchNorm1d`` in ``head_layers``, else ``encoder.out_dim``.
    """

    def __init__(self, encoder: nn.Module, head_layers: nn.Module | None, num_classes: int) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes: expected an int >= 2, got {num_classes!r}")
        if not hasattr(encoder, "out_dim"):
            raise ValueError("encoder: expected a module with an `out_dim` attribute (Encoder)")
        self.encoder = encoder
        self.head_layers = head_layers if head_layers is not None else nn.Sequential()
        self.feature_dim = _output_width(self.head_layers, int(encoder.out_dim))
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_layers(self.encoder(x))  # (B, C, H, W) -> (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, num_classes)


def _output_width(layers: nn.Module, default: int) -> int:
    if hasattr(layers, "out_dim"):
        return int(layers.out_dim)
    modules = list(layers.modules())
    if len(modules) == 1 and isinstance(layers, nn.Sequential):  # empty Sequential
        return default
    for m in reversed(modules):
        if isinstance(m, nn.Linear):
            return m.out_features
        if isinstance(m, (nn.BatchNorm1d, ScaleBatchNorm1d)):
            return m.num_features
    raise ValueError(
        "head_layers: cannot infer its output width; give it an `out_dim` attribute"
        " (truncated_head does)"
    )


# ----------------------------------------------------------------------------------------------
# size and cost


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def flops_per_image(model: nn.Module, image_size: int, channels: int = 3) -> int:
    """Forward FLOPs of one ``channels x image_size x image_size`` image, as 2 x MACs.

    Multiply-accumulates of every ``Conv2d`` (output elements x input channels per group x
    kernel area) and ``Linear`` (output elements x input features) are counted with forward
    hooks on one dummy input; bias additions, normalisation, activations and pooling are not
    counted (they are memory-bound and small next to the matrix products). The model runs in
    eval mode on its own device and dtype, and its mode is restored afterwards.
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size: expected a positive int, got {image_size!r}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels: expected a positive int, got {channels!r}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    macs = 0

    def conv_hook(m: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        kernel = m.kernel_size[0] * m.kernel_size[1]
        macs += output.numel() * (m.in_channels // m.groups) * kernel

    def linear_hook(m: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        macs += output.numel() * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, channels, image_size, image_size, device=device, dtype=dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return 2 * macs
