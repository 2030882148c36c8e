"""Issue #23: nothing committed is overwritten, the command is the task, and divergence, a full disk or a
bad record leave nothing half-true. Each test reproduces one defect of the issue and fails on the code
before its fix."""

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
