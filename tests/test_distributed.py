"""Data-parallel training: two real processes on the CPU (gloo) against one process on the global batch."""

import copy
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from lib import distributed, losses, training
from lib.config import Config
from lib.records import RECORD_FILE, RecordWriter, load_record

WORLD = 2
TOL = dict(rtol=1e-5, atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, fn, args):
    """One torchrun-like process: the environment torchrun sets, then ``init_from_env``."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    assert distributed.init_from_env("cpu") == WORLD
    try:
        fn(rank, *args)
    finally:
        distributed.cleanup()


def _spawn(fn, *args):
    mp.spawn(_worker, args=(_free_port(), fn, args), nprocs=WORLD, join=True)


# ---- one process, no process group -------------------------------------------------------------

def test_shards_are_disjoint_blocks_that_concatenate_to_the_batch():
    batch = torch.randperm(50)[:12]
    blocks = [distributed.shard(batch, r, 3) for r in range(3)]
    assert torch.equal(torch.cat(blocks), batch)
    with pytest.raises(ValueError, match="batch_size=12 .* divisible by the 5 processes"):
        distributed.shard(batch, 0, 5)
    with pytest.raises(ValueError, match="rank must be in"):
        distributed.shard(batch, 3, 3)


def test_augmentation_streams_differ_by_rank_and_epoch():
    seeds = {distributed.augmentation_seed(0, r, e) for r in range(4) for e in range(4)}
    assert len(seeds) == 16 and distributed.augmentation_seed(0, 1, 2) == distributed.augmentation_seed(0, 1, 2)


def test_a_single_process_never_touches_torch_distributed(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.init_from_env() == 1 and not dist.is_initialized()
    model = nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.world_size() == 1 and distributed.is_main() and training._gather() is None
    with pytest.raises(ValueError, match="process group"):
        distributed.TorchGather()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK.* not set: launch with torchrun"):
        distributed.init_from_env("cpu")


# ---- loss and gradients of one step ------------------------------------------------------------

class _DetachedGather:
    """The classic bug: other ranks' embeddings without gradient (only the local slice has one)."""

    def __init__(self):
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def all_gather(self, t):
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(parts, t.detach().contiguous())
        parts[self.rank] = t
        return torch.cat(parts)


def _gradient_check(rank):
    torch.manual_seed(0)
    config = Config(arch="small_cnn", width=0.25, image_size=16, head_layers=2, proj_dim=8)
    # Eval mode: batch norm with fixed statistics treats every image alone, so one process and
    # two compute the same function (batch statistics are per process on the CPU, see lib.distributed).
    model = training.build_contrastive_model(config, 1, 16, [0.5], [0.25]).eval()
    reference = copy.deepcopy(model)
    ddp = distributed.wrap(model, torch.device("cpu"))
    gen = torch.Generator().manual_seed(1)
    x1, x2 = torch.rand(8, 1, 16, 16, generator=gen), torch.rand(8, 1, 16, 16, generator=gen)  # the global batch
    labels = torch.tensor([0, 0, 1, 1, 2, 3, 1, 4])  # rank 0: 4 anchors with a positive, rank 1: 1 (one view)
    n = 8 // WORLD
    mine = slice(rank * n, (rank + 1) * n)  # distributed.shard's block

    def ntxent(net, a, b, gather=None):
        _, z = net(torch.cat([a, b]))  # (2n, D)
        z1, z2 = z.chunk(2)
        return losses.nt_xent(z1, z2, 0.5, gather=gather)

    def supcon_two_views(net, a, b, y, gather=None):
        _, z = net(torch.cat([a, b]))
        return losses.supervised_contrastive(z, y.repeat(2), 0.2, gather=gather)

    def supcon_one_view(net, a, y, gather=None):
        return losses.supervised_contrastive(net(a)[1], y, 0.2, gather=gather)

    cases = {"nt_xent": (ntxent, (x1, x2), (x1[mine], x2[mine])),
             "supcon, two views": (supcon_two_views, (x1, x2, labels), (x1[mine], x2[mine], labels[mine])),
             "supcon, unequal shares of anchors": (supcon_one_view, (x1, labels), (x1[mine], labels[mine]))}
    gather = distributed.TorchGather()
    for name, (loss_fn, full, local) in cases.items():
        reference.zero_grad()
        expected = loss_fn(reference, *full)
        expected.backward()
        for g in (gather, _DetachedGather()):
            model.zero_grad()
            loss = loss_fn(ddp, *local, gather=g)
            loss.backward()  # DDP averages the gradients over the processes
            pairs = [(p.grad, q.grad) for p, q in zip(model.parameters(), reference.parameters())]
            if g is gather:
                global_loss = distributed.all_reduce_sum(loss.detach()) / WORLD
                torch.testing.assert_close(global_loss, expected.detach(), **TOL, msg=name)
                for got, want in pairs:
                    torch.testing.assert_close(got, want, **TOL, msg=name)
            else:  # the check above would catch the classic mistake
                assert max((got - want).abs().max() for got, want in pairs) > 1e-3, name


def test_two_processes_give_the_loss_and_gradients_of_one_on_the_global_batch():
    _spawn(_gradient_check)


# ---- the training loop: weights after several steps, resuming ----------------------------------

def _bn_free_job(config: Config):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(24, 6, generator=gen)  # 24 "images": 3 steps of 8 per epoch
    x2 = 0.8 * x + 0.3 * torch.randn(24, 6, generator=gen)  # a fixed second view of each
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    fast = distributed.wrap(model, torch.device("cpu"))
    gather = training._gather()
    calls = {"n": 0, "stop_at": None}

    def step(idx):
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt  # in every process at the same step, before any collective
        z1, z2 = fast(torch.cat([x[idx], x2[idx]])).chunk(2)  # (n, 4) each
        return losses.nt_xent(z1, z2, config.temperature, gather=gather), {}

    return training.Job(model, step, monitor=lambda: {}, n_train=24), calls


def _fit(config: Config, stop_at=None):
    job, calls = _bn_free_job(config)
    calls["stop_at"] = stop_at
    main, world = distributed.is_main(), distributed.world_size()
    writer = RecordWriter(config) if main else None
    augment = torch.Generator() if world > 1 else None
    training._fit(config, job, torch.device("cpu"), writer, None, torch.Generator().manual_seed(config.seed), augment)
    return job.model


def _train_interrupted_then_resumed(rank, config, out):
    with pytest.raises(KeyboardInterrupt):
        _fit(config, stop_at=5)  # in epoch 2 of 3, after epoch 1's checkpoint
    model = _fit(config)
    torch.save(model.state_dict(), out / f"rank{rank}.pt")


def test_two_processes_train_to_the_weights_of_one_with_the_global_batch(tmp_path):
    config = Config(batch_size=8, epochs=3, optimizer="sgd", lr=8.0, warmup_epochs=0.5, weight_decay=1e-4,
                    temperature=0.5, monitor_size=0, progress=False)
    single = _fit(config.replace(runs_dir=str(tmp_path / "single"))).state_dict()
    ddp_config = config.replace(runs_dir=str(tmp_path / "ddp"))
    _spawn(_train_interrupted_then_resumed, ddp_config, tmp_path)
    initial = _bn_free_job(config)[0].model.state_dict()
    run_dir = tmp_path / "ddp" / config.run_id()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["epoch0002.pt", "epoch0003.pt", "final.pt"]
    final = torch.load(run_dir / "checkpoints" / "final.pt", weights_only=True)["model"]
    assert [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2, 3]
    for r in range(WORLD):
        state = torch.load(tmp_path / f"rank{r}.pt", weights_only=True)
        for key, value in single.items():
            assert (value - initial[key]).abs().max() > 0.1, key  # it did train
            torch.testing.assert_close(state[key], value, **TOL, msg=f"rank {r} {key}")
            torch.testing.assert_close(final[key], value, **TOL, msg=f"final.pt {key}")


# ---- the command line under torchrun ------------------------------------------------------------

def test_torchrun_pretraining_writes_one_record_with_world_size_2(tmp_path):
    tiny = dict(dataset="sample", train_size=256, test_size=100, monitor_size=100, batch_size=64, epochs=2,
                arch="small_cnn", width=0.25, warmup_epochs=0.0, progress=False, knn_k=10, save_embeddings=20,
                final_eval=False, device="cpu", runs_dir=str(tmp_path))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
           "-m", "lib", "pretrain", *(f"{k}={v}" for k, v in tiny.items())]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    reported = [line for line in out.stdout.splitlines() if line.startswith("run record: ")]
    assert len(reported) == 1, out.stdout  # rank 0 alone reports
    records = list(tmp_path.glob(f"*/{RECORD_FILE}"))
    assert len(records) == 1 and list(tmp_path.iterdir()) == [records[0].parent]
    record = load_record(records[0].parent)
    assert record.complete and str(record.directory) == reported[0].split(": ", 1)[1]
    assert record.provenance["world_size"] == WORLD and record.provenance["backend"] == "gloo"
    assert record.provenance["sync_batchnorm"] is False
    assert [e["epoch"] for e in record.epochs] == [0, 1, 2] and "knn_top1" in record.epochs[-1]
    ckpts = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.pt"))
    assert ckpts == [f"{record.run_id}/checkpoints/{n}" for n in ("epoch0001.pt", "epoch0002.pt", "final.pt")]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=240)  # finished: loaded on every rank
    assert again.returncode == 0, again.stdout + again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("run record: ")] == reported
    assert load_record(record.directory).provenance == record.provenance  # not trained again


def test_thesis_nproc_makes_run_start_torchrun_from_python(tmp_path, monkeypatch, capsys):
    config = Config(task="supervised", loss="supcon", temperature=0.2, dataset="sample", train_size=256,
                    test_size=100, monitor_size=100, batch_size=64, epochs=1, arch="small_cnn", width=0.25,
                    warmup_epochs=0.0, progress=False, knn_k=10, save_embeddings=0, final_eval=False,
                    device="cpu", runs_dir=str(tmp_path))
    monkeypatch.setenv("THESIS_NPROC", "two")
    with pytest.raises(ValueError, match="THESIS_NPROC must be a whole number"):
        training.run(config)
    monkeypatch.setenv("THESIS_NPROC", "2")
    record = training.run(config)
    assert record.complete and record.provenance["world_size"] == WORLD and record.run_id == config.run_id()
    assert "run record: " in capsys.readouterr().out  # the processes' output is shown
    assert torch.isfinite(torch.tensor(record.epochs[-1]["loss"]))
