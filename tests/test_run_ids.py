"""Run ids do not move: every committed record's config still hashes to the name of its folder.

A run's id is ``<task>-<12 hex digits of its config hash>`` (:meth:`lib.config.Config.run_id`); the
report finds a finished run by that name. A refactor that changed the hash (a field renamed, a default
moved, ``views`` resolved otherwise) would silently orphan every committed record and retrain them all,
so this reads every ``runs/*/config.json`` with the current code and compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.config import from_stored

RUNS = Path(__file__).resolve().parent.parent / "runs"
CONFIGS = sorted(RUNS.glob("*/config.json"))


def test_there_are_committed_runs():
    assert len(CONFIGS) > 100, f"expected the committed records under {RUNS}; found {len(CONFIGS)}"


def test_every_committed_config_hashes_to_its_folder():
    moved = []
    for path in CONFIGS:
        config = from_stored(json.loads(path.read_text()))  # as records are read (legacy values of later fields)
        if config.run_id() != path.parent.name:
            moved.append(f"{path.parent.name} -> {config.run_id()}")
    assert not moved, f"{len(moved)} of {len(CONFIGS)} run ids moved: " + ", ".join(moved[:10])


@pytest.mark.parametrize("task", ["pretrain", "supervised", "finetune", "distill"])
def test_every_task_has_committed_runs(task):
    assert any(p.parent.name.startswith(task + "-") for p in CONFIGS), f"no committed {task} run"
