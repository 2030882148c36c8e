"""The speed switches of lib/step_options.py leave the step's maths unchanged.

Each switch is compared with the step it replaces on the CPU, from the same weights, batch and views
(``ProfiledStep`` is seeded by the config). The tolerances, and why:

- ``foreach_lars`` and ``no_host_sync``: bit for bit (the same elementwise operations, or no change
  to the step at all); the epoch metrics to float32 rounding of their sum (1e-6 relative).
- ``channels_last``: in float64 to 1e-9 relative, where only the order of the convolutions' sums
  differs (float64 rounding is 1e-16; at initialisation the NT-Xent gradient is a small difference
  of large terms, which magnifies rounding about 1e3-1e4x: measured 5e-3 relative in fp32 on the
  small CNN's encoder); in the fp32 step, the loss to 1e-5 relative (measured 3e-6).
- ``bf16``: the loss stays fp32 and agrees to 4e-3 relative, twice bf16's unit roundoff 2^-9
  (measured 7e-4); the gradient keeps its direction (cosine > 0.9 over all parameters).
- ``compile``: inductor on the projection head and loss (a minute for the whole small CNN on this
  CPU, seconds for the head), fp32: loss 1e-5, gradients 1e-4 relative (fused kernels reorder sums).
- ``cuda_graphs``: CUDA only; on the CPU the step refuses with the reason.
"""

import pytest
import torch

from lib import losses, models, optim, recipes, step_options, training
from lib.config import Config

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny():
    config = recipes.apply(Config(task="pretrain", dataset="sample", arch="small_cnn", width=0.25, train_size=64,
                                  test_size=50, monitor_size=50, batch_size=16, knn_k=5, epochs=2, device="cpu",
                                  progress=False), "simclr_official_cifar10")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield config, training.prepare_data(config, CPU)
    torch.set_num_threads(threads)


def _one_step(config, d, options):
    step = step_options.ProfiledStep(config, d, CPU, options)
    step.step()
    return step, step.last_loss, {n: p.grad.clone() for n, p in step.model.named_parameters()}


def test_current_options_are_lib_trainings_step(tiny):
    config, _ = tiny
    assert step_options.StepOptions.current(config, CPU) == step_options.StepOptions()  # fp32, NHWC, no sync
    cuda = step_options.StepOptions.current(config.replace(compile=True), torch.device("cuda"))
    assert cuda.bf16 and cuda.compile and cuda.channels_last and cuda.no_host_sync and not cuda.foreach_lars
    assert not step_options.StepOptions.current(config.replace(precision="fp32"), torch.device("cuda")).bf16


def test_switches_are_not_part_of_the_run_id(tiny):
    config, _ = tiny
    # a run takes the switches through runtime fields, left out of the hash: compile, precision, speed
    fields = set(config.to_dict())
    assert set(step_options.SWITCHES) & fields == {"compile"}
    assert config.replace(compile=True, precision="bf16", speed="foreach_lars,cuda_graphs").run_id() == config.run_id()
    fast = step_options.StepOptions.current(config.replace(speed="foreach_lars,cuda_graphs"), CPU)
    assert fast.foreach_lars and fast.cuda_graphs


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 6 * 6, 5))


def test_foreach_lars_equals_lars_step_for_step():
    for clip in (False, True):
        net, net_b = _net(0), _net(0)  # the same weights
        a = optim.build_optimizer("lars", net, lr=0.5, weight_decay=1e-4, lars_trust=0.02, lars_clip=clip)
        b = optim.build_optimizer("lars", net_b, lr=0.5, weight_decay=1e-4, lars_trust=0.02, lars_clip=clip,
                                  lars_inplace=True)
        assert b.inplace and not a.inplace
        for i in range(8):
            x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(i))
            for model, opt in ((net, a), (net_b, b)):
                optim.set_lr(opt, 0.1 * (i + 1))
                opt.zero_grad(set_to_none=True)
                model(x).square().mean().backward()
                opt.step()
            for p, q in zip(net.parameters(), net_b.parameters()):
                assert torch.equal(p, q), (clip, i)
        for sa, sb in zip(a.state.values(), b.state.values()):
            assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])


def test_no_host_sync_gives_the_same_weights_and_epoch_metrics(tiny):
    config, d = tiny
    steps = len(d.train) // config.batch_size
    runs = []
    for no_sync in (True, False):
        step = step_options.ProfiledStep(config, d, CPU, step_options.StepOptions(no_host_sync=no_sync))
        for _ in range(steps + 1):  # past an epoch's end: the lr leaves its first warm-up step
            step.step()
        runs.append((step.read_metrics(), [p.detach().clone() for p in step.model.parameters()]))
    (m_dev, w_dev), (m_host, w_host) = runs
    assert all(torch.equal(a, b) for a, b in zip(w_dev, w_host))
    assert set(m_dev) == set(m_host) == {"loss", "contrastive_top1"}
    for key in m_dev:
        assert m_dev[key] == pytest.approx(m_host[key], rel=1e-6)


def test_channels_last_same_loss_and_gradients_in_float64(tiny):
    config, d = tiny
    results = []
    for nhwc in (False, True):
        torch.manual_seed(0)
        model = training.build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std()).double()
        x = torch.rand(16, d.train.channels, d.size, d.size, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
        if nhwc:
            model = training._device_layout(model, CPU)  # what the switch applies
            x = x.contiguous(memory_format=torch.channels_last)
        _, z = model(x)
        loss = losses.nt_xent(*z.chunk(2), config.temperature)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (l0, g0), (l1, g1) = results
    torch.testing.assert_close(l1, l0, rtol=1e-9, atol=0)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_channels_last_same_loss_in_the_fp32_step(tiny):
    config, d = tiny
    base = step_options.StepOptions()
    _, l_nhwc, _ = _one_step(config, d, base)
    _, l_nchw, _ = _one_step(config, d, base.flipped("channels_last"))
    assert float(l_nhwc) == pytest.approx(float(l_nchw), rel=1e-5)


def test_bf16_keeps_an_fp32_loss_within_bf16_rounding(tiny):
    config, d = tiny
    base = step_options.StepOptions()
    _, l32, g32 = _one_step(config, d, base)
    _, l16, g16 = _one_step(config, d, base.flipped("bf16"))
    assert l16.dtype == torch.float32
    assert float(l16) == pytest.approx(float(l32), rel=4e-3)
    flat = lambda g: torch.cat([v.flatten() for v in g.values()])  # noqa: E731
    assert float(torch.nn.functional.cosine_similarity(flat(g16), flat(g32), dim=0)) > 0.9


def test_compile_same_loss_and_gradients():
    torch.manual_seed(0)
    head = models.ProjectionHead(16, 16, 8, 3, last_bn="scale")
    twin = models.ProjectionHead(16, 16, 8, 3, last_bn="scale")
    twin.load_state_dict(head.state_dict())
    h = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    fast = step_options.compiled(twin, step_options.StepOptions(compile=True))
    assert fast is not twin
    out = []
    for model in (head, fast):
        try:
            z = model(h)
        except Exception as e:  # noqa: BLE001 - a machine without a working compiler
            pytest.skip(f"torch.compile cannot run on this machine: {type(e).__name__}: {e}"[:300])
        loss = losses.nt_xent(*z.chunk(2), 0.5)
        loss.backward()
        out.append((loss.detach(), [p.grad.clone() for p in (head if model is head else twin).parameters()]))
    (l0, g0), (l1, g1) = out
    torch.testing.assert_close(l1, l0, rtol=1e-5, atol=0)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_cuda_graphs_refuse_on_the_cpu(tiny):
    config, d = tiny
    options = step_options.StepOptions().flipped("cuda_graphs")
    assert "cuda_graphs needs a CUDA device" in options.refusal(CPU)
    with pytest.raises(ValueError, match="cuda_graphs needs a CUDA device"):
        step_options.ProfiledStep(config, d, CPU, options)
    assert options.refusal(torch.device("cuda")) is None


def test_switch_names_are_checked():
    assert step_options.parse_switches(" bf16, compile ") == ["bf16", "compile"]
    for bad in ("", "bf16,bf16", "bf16,fp8"):
        with pytest.raises(ValueError):
            step_options.parse_switches(bad)
    with pytest.raises(ValueError, match="unknown speed switch"):
        step_options.StepOptions().flipped("fp8")
