"""Kill a real training process with SIGKILL at several points; the same command resumes it to
bitwise the same weights and metrics as a run that was never interrupted."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from lib.config import Config
from lib.records import load_record

TIMINGS = ("train_seconds", "views_per_second", "train_tflops", "elapsed_seconds")  # wall-clock fields differ
ARGS = dict(dataset="sample", train_size=512, test_size=200, monitor_size=200, batch_size=128, epochs=12,
            arch="small_cnn", width=0.5, warmup_epochs=0.0, knn_k=20, final_eval=False, save_embeddings=0,
            progress=False)


def command(runs_dir: Path) -> list[str]:
    return [sys.executable, "-m", "lib", "pretrain", *[f"{k}={v}" for k, v in ARGS.items()], f"runs_dir={runs_dir}"]


def epochs_checkpointed(run_dir: Path) -> int:
    found = [int(p.stem[5:]) for p in (run_dir / "checkpoints").glob("epoch*.pt")]
    return max(found, default=0)


def kill_when(run_dir: Path, runs_dir: Path, after_epoch: int, delay: float) -> None:
    """Start the command, wait until epoch ``after_epoch`` is checkpointed, wait ``delay`` s, SIGKILL.

    The process checkpoints at least one epoch of its own first, so that every segment really resumed
    and left a checkpoint that counts its resume, however fast or slow the machine is: the previous
    segment may already have checkpointed ``after_epoch`` during its ``delay``."""
    target = max(after_epoch, epochs_checkpointed(run_dir) + 1)
    proc = subprocess.Popen(command(runs_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    deadline = time.monotonic() + 240
    while epochs_checkpointed(run_dir) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_sigkill_at_random_points_then_resume_gives_the_same_result(tmp_path):
    rng = random.Random(1234)
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    run_id = Config(**ARGS).run_id()
    subprocess.run(command(reference_dir), check=True, capture_output=True, timeout=600)
    # Three kills: inside epoch 2, inside epoch 3 (just after a checkpoint was renamed into place),
    # and at a random moment of epoch 4; each time the same command is started again.
    started = []
    for after_epoch, delay in ((1, rng.uniform(0.0, 0.8)), (2, 0.0), (3, rng.uniform(0.0, 0.8))):
        kill_when(killed_dir / run_id, killed_dir, after_epoch, delay)
        assert not load_record(killed_dir / run_id).complete
        started.append(load_record(killed_dir / run_id).provenance["started"])
    done = subprocess.run(command(killed_dir), check=True, capture_output=True, text=True, timeout=600)
    assert "resumed" in done.stdout

    ref, res = load_record(reference_dir / run_id), load_record(killed_dir / run_id)
    assert res.complete and [e["epoch"] for e in res.epochs] == list(range(ARGS["epochs"] + 1))
    strip = lambda e: {k: v for k, v in e.items() if k not in TIMINGS}  # noqa: E731
    assert [strip(e) for e in res.epochs] == [strip(e) for e in ref.epochs]
    a = torch.load(ref.checkpoint_dir / "final.pt", weights_only=True)["model"]
    b = torch.load(res.checkpoint_dir / "final.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # The record covers every segment: the first start, three resumes, times that add up.
    assert res.provenance["started"] == started[0] and res.provenance["resumes"] == 3
    elapsed = [e["elapsed_seconds"] for e in res.epochs[1:]]
    assert elapsed == sorted(elapsed), elapsed  # without the clock, each resume restarted from zero
    assert res.results["train_wall_time_s"] >= elapsed[-1] > 0  # the run's time includes its training time
    # Only the newest few epoch checkpoints are kept, and no temporary files are left behind.
    assert len(list(res.checkpoint_dir.glob("epoch*.pt"))) <= 2
    assert not list(res.directory.rglob(".*.tmp*"))


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from lib import losses, training

    real = losses.nt_xent
    calls = {"n": 0}

    def nan_in_epoch_2(z1, z2, t, **kwargs):  # 512 images / batch 128 = 4 steps per epoch
        calls["n"] += 1
        loss = real(z1, z2, t, **kwargs)
        return loss * float("nan") if calls["n"] > 4 else loss

    monkeypatch.setattr(losses, "nt_xent", nan_in_epoch_2)
    config = Config(**{**ARGS, "epochs": 3}, runs_dir=str(tmp_path))
    try:
        training.run(config)
    except training.NonFiniteLossError as e:
        message = str(e)
    else:
        raise AssertionError("a NaN loss did not stop the run")
    assert "loss became nan in epoch 2" in message
    run_dir = tmp_path / config.run_id()
    assert [p.name for p in sorted((run_dir / "checkpoints").glob("epoch*.pt"))] == ["epoch0001.pt"]
    assert load_record(run_dir).status == "failed"
