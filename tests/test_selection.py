"""Choices on the validation split (lib.report.selection): per seed, by the validation score only."""

from pathlib import Path

import pytest

from lib.config import Config
from lib.records import RunRecord
from lib.report import selection


def rec(val, test, seed=0, epochs=()):
    return RunRecord(Path(f"/x/run-{val}-{test}-{seed}"), Config(seed=seed), "complete", {},
                     {"val_top1": val, "test_top1": test}, list(epochs))


def test_the_choice_follows_validation_even_where_the_test_set_disagrees():
    candidates = {"a": [rec(0.6, 0.1), rec(0.2, 0.9, 1)], "b": [rec(0.5, 0.9), rec(0.3, 0.1, 1)]}
    values, keys = selection.chosen_values(candidates, "val_top1", "test_top1")
    assert keys == ["a", "b"] and values == [0.1, 0.1]  # the test scores of the others play no part


def test_ties_go_to_the_first_candidate_and_missing_scores_are_never_chosen():
    assert selection.choose({"a": [rec(0.5, 0)], "b": [rec(0.5, 1)]}, "val_top1") == ["a"]
    missing = RunRecord(Path("/x/m"), Config(), "complete", {}, {"test_top1": 1.0}, [])
    assert selection.choose({"m": [missing], "b": [rec(0.1, 0)]}, "val_top1") == ["b"]
    with pytest.raises(ValueError, match="no candidate has the validation score 'val_top1'"):
        selection.choose({"m": [missing]}, "val_top1")


def test_tuned_groups_split_arm_and_candidate():
    group = {(1, 0.1, 0.05, 0.0): [rec(0.4, 0.40)], (1, 0.1, 0.2, 0.0): [rec(0.6, 0.30)],
             (0, 0.1, 0.05, 0.0): [rec(0.7, 0.20)], (0, 0.1, 0.2, 0.0): [rec(0.1, 0.90)]}
    values, choices = selection.tuned(group, 2, "val_top1", "test_top1")
    assert values == {(1, 0.1): [0.30], (0, 0.1): [0.20]}
    assert choices == {(1, 0.1): [(0.2, 0.0)], (0, 0.1): [(0.05, 0.0)]}


def test_a_run_whose_knn_did_not_move_did_not_train():
    flat = rec(0, 0, epochs=[{"epoch": 0, "knn_top1": 0.258}, {"epoch": 10, "knn_top1": 0.258}])
    moved = rec(0, 0, epochs=[{"epoch": 0, "knn_top1": 0.258}, {"epoch": 10, "knn_top1": 0.31}])
    assert not selection.trained(flat) and selection.trained(moved)
    assert selection.choice_counts(["a", "a", "b"]) == "a (2 seeds), b (1 seed)"


def test_chosen_runs_read_a_tuned_group_as_an_untuned_one_seed_by_seed():
    a0, a1, b0, b1 = rec(0.6, 0.1), rec(0.2, 0.9, 1), rec(0.5, 0.9), rec(0.3, 0.1, 1)
    group = {("h", 0.1, 0.05, 0.0): [a0, a1], ("h", 0.1, 0.2, 5e-4): [b0, b1]}
    runs, choices = selection.chosen_runs(group, 2, "val_top1")
    assert runs == {("h", 0.1): [a0, b1]}  # seed 0 chose the first point, seed 1 the second
    assert choices == {("h", 0.1): [(0.05, 0.0), (0.2, 5e-4)]}
