"""Issue #23: nothing committed is overwritten, the command is the task, and divergence, a full disk or a
bad record leave nothing half-true. Each test reproduces one defect of the issue and fails on the code
before its fix."""

import errno
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lib import cli
from lib.config import load_config

ROOT = Path(__file__).resolve().parent.parent


# ---- 1: the command decides the task -------------------------------------------------------------

@pytest.mark.parametrize("command", ["supervised", "pretrain"])
def test_the_command_is_the_task_with_a_config_file(tmp_path, capsys, command):
    path = tmp_path / "cfg.toml"
    path.write_text("epochs = 1\n")
    assert cli.main([command, "--config", str(path), "--dry-run", "dataset=sample"]) == 0
    out = capsys.readouterr().out
    assert f"run id: {command}-" in out, out
    assert load_config(path, ["seed=3"], task="finetune", pretrained="x").task == "finetune"


def test_a_file_that_names_another_task_is_refused(tmp_path, capsys):
    path = tmp_path / "cfg.toml"
    path.write_text('task = "supervised"\nepochs = 1\n')
    assert cli.main(["pretrain", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"config file {path} says task = 'supervised' but the command is 'pretrain'" in err
    assert err.count("\n") == 1
    assert cli.main(["pretrain", "--dry-run", "task=supervised"]) == 2
    assert "override 'task=supervised' says task" in capsys.readouterr().err
    path.write_text('task = "pretrain"\nepochs = 1\n')  # agreeing with the command is fine
    assert cli.main(["pretrain", "--config", str(path), "--dry-run"]) == 0


# ---- 3: an edited config.json is refused before anything reads it --------------------------------

COMMITTED = "pretrain-d293b77fab90"  # a committed 3-epoch run on the bundled sample data (6 s on a CPU)


def committed_copy(tmp_path, run_id=COMMITTED):
    """A copy of a committed run folder (its tracked files only, as a fresh clone has them)."""
    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs" / run_id, runs / run_id, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
    return runs, runs / run_id


def test_an_edited_config_is_refused_naming_both_ids(tmp_path, capsys):
    runs, run_dir = committed_copy(tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    config["temperature"] = 0.7
    (run_dir / "config.json").write_text(json.dumps(config))
    for argv in (["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"],
                 ["finetune", f"pretrained={COMMITTED}", f"runs_dir={runs}", "progress=false", "epochs=1"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "config.json hashes to run id pretrain-" in err and f"not to the folder's {COMMITTED}" in err, err
        assert err.count("\n") == 1
    assert sorted(p.name for p in runs.iterdir()) == [COMMITTED], "a stray run was trained"


# ---- 2: evaluate never trains; no command but --force modifies a complete record ------------------

def tracked_bytes(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()
            and "checkpoints" not in p.parts and p.name != ".lock"}


def test_no_command_modifies_a_committed_record(tmp_path, capsys):
    runs, run_dir = committed_copy(tmp_path)
    before = tracked_bytes(run_dir)
    config = run_dir / "config.json"
    evaluate = ["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"]
    for argv, code in [
        (evaluate, 2),
        (evaluate[:-1] + ["--layer", "1"], 2),
        (["evaluate", str(run_dir), "--device", "cpu"], 2),
        (["pretrain", "--config", str(config), f"runs_dir={runs}"], 0),  # the finished run: loaded
        (["pretrain", "--config", str(config), f"runs_dir={runs}", "--dry-run"], 0),
        (["finetune", f"pretrained={COMMITTED}", f"runs_dir={runs}", "epochs=1", "label_fraction=0.1", "width=0.5",
          "train_size=2000", "test_size=1000",
          "batch_size=64", "progress=false", "final_eval=false", "save_embeddings=0", "monitor_size=100"], 0),
        (evaluate, 0),  # the weights the finetune recreated aside are found there
    ]:
        assert cli.main(argv) == code, (argv, capsys.readouterr().err)
        assert tracked_bytes(run_dir) == {**before, **{k: v for k, v in tracked_bytes(run_dir).items()
                                                       if k.parts[0] == "evaluations"}}, argv
    assert set(tracked_bytes(run_dir)) - set(before) == {Path("evaluations/layer0.json")}
    assert "training it again in" in capsys.readouterr().out


def test_evaluate_without_weights_prints_a_retrain_command_that_works(tmp_path, capsys, monkeypatch):
    runs, run_dir = committed_copy(tmp_path)
    before = tracked_bytes(run_dir)
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evaluate never trains" in err, err
    command = err.split("recreate them with: ")[1].split(", then ")[0]
    assert command == f"python -m lib pretrain --config {run_dir / 'config.json'} runs_dir=<a folder>"
    mine = tmp_path / "mine"
    argv = command.split()[3:-1] + [f"runs_dir={mine}"]
    assert cli.main(argv) == 0
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(mine), "--device", "cpu", "--no-probe"]) == 0
    assert tracked_bytes(run_dir) == before
    capsys.readouterr()
    # computed but not saved (EROFS appearing after the check, ENOSPC): the scores are printed, then one line
    from lib import records

    def read_only(path, obj):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(records, "atomic_write_json", read_only)
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(mine), "--device", "cpu", "--no-probe"]) == 2
    captured = capsys.readouterr()
    assert "knn_top1" in captured.out and captured.err.count("\n") == 1
    assert "could not be saved to" in captured.err and "Read-only file system" in captured.err, captured.err


def test_evaluate_on_a_read_only_folder_is_refused_before_any_compute(tmp_path, capsys, monkeypatch):
    from lib import training

    runs, run_dir = committed_copy(tmp_path)
    monkeypatch.setattr(training, "prepare_data", lambda *a, **k: pytest.fail("the data was loaded"))
    monkeypatch.setattr(training.os, "access", lambda path, mode: False)  # as on a read-only file system
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'evaluations'} cannot be written" in err and err.count("\n") == 1, err


def test_device_cuda_without_cuda_is_one_line(tmp_path, capsys, monkeypatch):
    from lib import training

    monkeypatch.setattr(training.torch.cuda, "is_available", lambda: False)
    runs, _ = committed_copy(tmp_path)
    for argv in (["pretrain", "device=cuda", f"runs_dir={runs}", "progress=false"],
                 ["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cuda"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "device=cuda was asked for but no CUDA device is available here; use device=cpu" in err, err
        assert err.count("\n") == 1
