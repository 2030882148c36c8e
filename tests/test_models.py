"""Shape and contract tests for lib.models: encoders, projection heads, classifiers, FLOP counts."""

import pytest
import torch
from torch import nn

from lib.models import (
    ARCHS,
    ContrastiveModel,
    FineTuneModel,
    ProjectionHead,
    ScaleBatchNorm1d,
    build_encoder,
    count_parameters,
    flops_per_image,
    truncated_head,
)


def _conv_params(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


SHAPE_CASES = [(arch, 3, 32) for arch in ARCHS] + [
    ("resnet18", 1, 28),
    ("small_cnn", 1, 28),
    ("small_cnn", 1, 32),
]


@pytest.mark.parametrize("arch,channels,size", SHAPE_CASES)
def test_encoder_output_shape(arch, channels, size):
    torch.manual_seed(0)
    encoder = build_encoder(arch, in_channels=channels, image_size=size)
    with torch.no_grad():
        h = encoder(torch.rand(2, channels, size, size))
    expected = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "small_cnn": 128}[arch]
    assert encoder.out_dim == expected
    assert h.shape == (2, expected)
    assert torch.isfinite(h).all()


def test_resnet18_imagenet_stem_at_96px():
    encoder = build_encoder("resnet18", image_size=96)
    assert encoder.body.conv1.kernel_size == (7, 7) and encoder.body.conv1.stride == (2, 2)
    assert isinstance(encoder.body.maxpool, nn.MaxPool2d)
    with torch.no_grad():
        assert encoder(torch.rand(2, 3, 96, 96)).shape == (2, 512)


def test_cifar_stem():
    encoder = build_encoder("resnet18", image_size=32)  # auto -> cifar
    conv1 = encoder.body.conv1
    assert conv1.kernel_size == (3, 3) and conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in encoder.modules())
    forced = build_encoder("resnet18", image_size=32, stem="imagenet")
    assert forced.body.conv1.kernel_size == (7, 7)
    assert any(isinstance(m, nn.MaxPool2d) for m in forced.modules())


@pytest.mark.parametrize("arch,width", [("resnet18", 1), ("resnet50", 0.5), ("small_cnn", 1)])
def test_width_multiplier(arch, width):
    narrow = build_encoder(arch, width=width)
    wide = build_encoder(arch, width=2 * width)
    assert wide.out_dim == 2 * narrow.out_dim
    ratio = _conv_params(wide) / _conv_params(narrow)
    assert 3.8 < ratio <= 4.0  # the first conv's input channels do not scale


def test_zero_init_residual():
    encoder = build_encoder("resnet18", zero_init_residual=True)
    block = encoder.body.layer1[0]
    assert torch.all(block.bn2.weight == 0) and torch.all(block.bn1.weight == 1)


def test_normalisation_buffers_are_applied():
    mean, std = [0.2, 0.4, 0.6], [0.1, 0.2, 0.3]
    encoder = build_encoder("small_cnn", mean=mean, std=std).eval()
    assert "mean" in dict(encoder.named_buffers()) and "std" in dict(encoder.named_buffers())
    x = torch.rand(2, 3, 8, 8)
    expected = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(encoder.normalize(x), expected)
    # the forward uses the buffers: changing them changes the output the body sees
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), encoder.body(expected))
        encoder.mean.fill_(0.0)
        assert not torch.allclose(encoder(x), encoder.body(expected))


def test_default_normalisation_and_validation():
    encoder = build_encoder("small_cnn", in_channels=1)
    assert encoder.mean.flatten().tolist() == [0.5] and encoder.std.flatten().tolist() == [0.25]
    with pytest.raises(ValueError, match="arch"):
        build_encoder("vgg")
    with pytest.raises(ValueError, match="stem"):
        build_encoder("resnet18", stem="cifar10")
    with pytest.raises(ValueError, match="mean"):
        build_encoder("small_cnn", mean=[0.5, 0.5])
    with pytest.raises(ValueError, match="std"):
        build_encoder("small_cnn", std=0.0)
    with pytest.raises(ValueError, match="x"):
        encoder(torch.rand(2, 3, 28, 28))


@pytest.mark.parametrize("num_layers", [0, 1, 2, 3])
def test_projection_head_depths(num_layers):
    torch.manual_seed(0)
    head = ProjectionHead(16, 12, 8, num_layers)
    h = torch.randn(5, 16)
    z = head(h)
    layers = head.forward_layers(h)
    assert len(layers) == num_layers + 1
    assert layers[0] is h
    assert z.shape == (5, 8 if num_layers else 16)
    torch.testing.assert_close(layers[-1], z)
    for i, out in enumerate(layers):
        assert out.shape == (5, head.output_dim(i))
    expected_dims = {0: [16], 1: [16, 8], 2: [16, 12, 8], 3: [16, 12, 12, 8]}[num_layers]
    assert [head.output_dim(i) for i in range(num_layers + 1)] == expected_dims


def test_projection_head_structure():
    head = ProjectionHead(16, 12, 8, 3)
    kinds = [[type(m) for m in block] for block in head.blocks]
    assert kinds == [
        [nn.Linear, nn.BatchNorm1d, nn.ReLU],
        [nn.Linear, nn.BatchNorm1d, nn.ReLU],
        [nn.Linear, nn.BatchNorm1d],
    ]
    assert all(block[0].bias is None for block in head.blocks)
    no_bn = ProjectionHead(16, 12, 8, 2, last_bn="none")
    assert [type(m) for m in no_bn.blocks[-1]] == [nn.Linear]
    assert no_bn.blocks[-1][0].bias is not None
    official = ProjectionHead(16, 12, 8, 2, last_bn="scale")  # TF batch norm with center=False
    assert [type(m) for m in official.blocks[-1]] == [nn.Linear, ScaleBatchNorm1d]
    assert official.blocks[-1][0].bias is None
    assert not any(n.endswith("bias") for n, _ in official.blocks[-1].named_parameters())
    with pytest.raises(ValueError, match="last_bn"):
        ProjectionHead(16, 12, 8, 2, last_bn=True)
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(16, 12, 8, -1)
    with pytest.raises(ValueError, match="hidden_dim"):
        ProjectionHead(16, 0, 8, 2)
    with pytest.raises(ValueError, match="layer"):
        head.output_dim(4)


def test_scale_batchnorm_is_batchnorm_without_shift():
    """gamma * (x - mean) / sqrt(var + eps) with batch statistics in training, running ones in eval;
    equal to an affine BatchNorm1d whose shift is held at zero."""
    torch.manual_seed(0)
    x = torch.randn(32, 6) * 3 + 1
    bn = ScaleBatchNorm1d(6)
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(0.5, 2.0, 6))
    ref = nn.BatchNorm1d(6)
    with torch.no_grad():
        ref.weight.copy_(bn.weight)
        ref.bias.zero_()
    naive = bn.weight * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    out, expected = bn(x), ref(x)  # one training step each: the same running statistics after it
    torch.testing.assert_close(out, naive)
    torch.testing.assert_close(out, expected)
    bn.eval(), ref.eval()
    torch.testing.assert_close(bn(x), ref(x))
    out = bn(x)
    out.sum().backward()
    assert bn.weight.grad is not None and bn.weight.grad.shape == (6,)


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_truncated_head_reproduces_layers_and_shares_weights(layer):
    torch.manual_seed(0)
    head = ProjectionHead(16, 12, 8, 3).eval()
    h = torch.randn(4, 16)
    part = truncated_head(head, layer)
    assert len(part) == layer and part.out_dim == head.output_dim(layer)
    with torch.no_grad():
        torch.testing.assert_close(part(h), head.forward_layers(h)[layer])
    head_params = {id(p) for p in head.parameters()}
    assert all(id(p) in head_params for p in part.parameters())
    if layer:
        with torch.no_grad():
            head.blocks[0][0].weight.mul_(2.0)
            torch.testing.assert_close(part(h), head.forward_layers(h)[layer])


def test_fine_tune_model_logits():
    torch.manual_seed(0)
    encoder = build_encoder("small_cnn")
    head = ProjectionHead(encoder.out_dim, 64, 32, 3)
    model = FineTuneModel(encoder, truncated_head(head, 1), num_classes=10)
    assert model.feature_dim == 64
    assert model(torch.rand(3, 3, 32, 32)).shape == (3, 10)
    plain = FineTuneModel(encoder, None, num_classes=7)
    assert plain.feature_dim == encoder.out_dim
    assert plain(torch.rand(3, 3, 32, 32)).shape == (3, 7)
    # width inferred from a bare Sequential without out_dim
    bare = FineTuneModel(encoder, nn.Sequential(*head.blocks[:2]), num_classes=5)
    assert bare.feature_dim == 64


def test_contrastive_model_forward_features_and_gradients():
    torch.manual_seed(0)
    encoder = build_encoder("small_cnn")
    model = ContrastiveModel(encoder, ProjectionHead(encoder.out_dim, 64, 32, 2))
    x = torch.rand(4, 3, 32, 32)
    h, z = model(x)
    assert h.shape == (4, 128) and z.shape == (4, 32)
    z.pow(2).sum().backward()
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.features(x, 0), model(x)[0])
        torch.testing.assert_close(model.features(x, 1), model.head.forward_layers(model(x)[0])[1])
        torch.testing.assert_close(model.features(x, 2), model(x)[1])


def test_flops_per_image_analytic():
    linear = nn.Linear(10, 7)
    assert flops_per_image(nn.Sequential(nn.Flatten(), linear), image_size=1, channels=10) == 2 * 70
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)  # 16x16 -> 8x8
    assert flops_per_image(conv, image_size=16, channels=3) == 2 * (8 * 8 * 8) * 3 * 9
    grouped = nn.Conv2d(4, 8, kernel_size=1, groups=2)
    assert flops_per_image(grouped, image_size=5, channels=4) == 2 * (8 * 5 * 5) * 2
    model = nn.Sequential(conv, nn.ReLU()).train()
    flops_per_image(model, image_size=16, channels=3)
    assert model.training and not conv._forward_hooks  # mode restored, hooks removed


def test_small_cnn_cost_and_count_parameters():
    encoder = build_encoder("small_cnn")
    flops = flops_per_image(encoder, image_size=32, channels=3)
    assert flops <= 50e6
    expected_macs = (
        32 * 32 * 32 * 3 * 9  # stage 1: 3 -> 32 at 32 px
        + 16 * 16 * 32 * 32 * 9  # 32 -> 32, stride 2
        + 16 * 16 * 64 * 32 * 9  # stage 2: 32 -> 64 at 16 px
        + 8 * 8 * 64 * 64 * 9  # 64 -> 64, stride 2
        + 8 * 8 * 128 * 64 * 9  # stage 3 at 8 px
        + 8 * 8 * 128 * 128 * 9
    )
    assert flops == 2 * expected_macs
    linear = nn.Linear(4, 3)
    assert count_parameters(linear) == 15
    linear.bias.requires_grad_(False)
    assert count_parameters(linear, trainable_only=True) == 12


def test_lightlys_simclr_head_is_our_affine_head():
    """#24 item 7: lightly's SimCLRProjectionHead ends in BatchNorm1d after a bias-free Linear (the
    docstring said it ends without one): layer for layer it is ``last_bn="affine"``, not ``"none"``."""
    heads = pytest.importorskip("lightly.models.modules.heads")
    from lib.models import ProjectionHead

    def kinds(module):
        return [(type(m).__name__, getattr(m, "bias", None) is not None if isinstance(m, torch.nn.Linear) else None)
                for m in module.modules() if not list(m.children())]

    theirs = kinds(heads.SimCLRProjectionHead(8, 8, 4))
    assert theirs == kinds(ProjectionHead(8, 8, 4, 2, last_bn="affine"))
    assert theirs != kinds(ProjectionHead(8, 8, 4, 2, last_bn="none"))


def test_a_linear_head_with_linear_bn_ends_in_the_nonlinear_heads_batchnorm():
    """#24 (06): the official SimCLR code's linear head is linear_layer(use_bias=False, use_bn=True), so
    with ``linear_bn`` our linear head differs from the nonlinear one only in the hidden layer."""
    def last(head):
        return [type(m) for m in head.blocks[-1]], head.blocks[-1][0].bias is not None

    assert last(ProjectionHead(16, 12, 8, 1)) == ([nn.Linear], True)  # the runs before: a Linear with bias
    for last_bn, norm in (("affine", nn.BatchNorm1d), ("scale", ScaleBatchNorm1d)):
        linear = ProjectionHead(16, 12, 8, 1, last_bn=last_bn, linear_bn=True)
        assert last(linear) == last(ProjectionHead(16, 12, 8, 2, last_bn=last_bn)) == ([nn.Linear, norm], False)
    assert last(ProjectionHead(16, 12, 8, 1, last_bn="none", linear_bn=True)) == ([nn.Linear], True)
    assert len(ProjectionHead(16, 12, 8, 0, linear_bn=True).blocks) == 0


def test_linear_head_bn_moves_only_the_ids_of_linear_heads_that_use_it():
    from lib.config import Config
    linear = Config(task="pretrain", head_layers=1, head_last_bn="scale")
    assert linear.head_last_bn == "affine"  # no BatchNorm to configure: the field reads as its default
    with_bn = linear.replace(linear_head_bn=True, head_last_bn="scale")
    assert with_bn.head_last_bn == "scale" and with_bn.run_id() != linear.run_id()
    assert "linear_head_bn" not in linear.identity()  # added: the runs before keep their ids
    for layers in (0, 2, 3):  # heads that are not linear: the field cannot act and reads false
        base = Config(task="pretrain", head_layers=layers)
        assert base.replace(linear_head_bn=True).run_id() == base.run_id()
