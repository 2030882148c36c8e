"""scripts/train_profile.py: a profile's runs trained without its notebooks, resumable (a second call trains
nothing), each run once, pretraining before the runs that need it."""

import importlib.util
import sys

from lib.config import repo_path


def load_script():
    spec = importlib.util.spec_from_file_location("train_profile", repo_path("scripts/train_profile.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_profile"] = module
    spec.loader.exec_module(module)
    return module


def test_the_runs_are_the_plans_each_once_parents_first(monkeypatch, tmp_path):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    script = load_script()
    runs = script.profile_runs("cifar-cpu", ["08"])
    ids = [c.run_id() for _, _, c in runs]
    assert len(ids) == len(set(ids))
    position = {rid: i for i, rid in enumerate(ids)}
    for _, _, c in runs:  # every parent (pretraining run, teacher) is trained before its child
        for parent in (c.pretrained, c.teacher):
            if parent:
                assert position[parent] < position[c.run_id()], (c.run_id(), parent)


def test_a_second_call_trains_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    script = load_script()
    assert script.main(["--profile", "smoke", "--only", "06"]) == 0
    first = capsys.readouterr().out
    assert "0 recorded" in first and "failed" in first and "0 failed" in first
    assert script.main(["--profile", "smoke", "--only", "06"]) == 0
    assert "0 to train" in capsys.readouterr().out
    # 06's transformation probes were computed right after each run, while its weights existed
    probes = sorted(p.name for p in tmp_path.glob("pretrain-*/evaluations/transform-*.json"))
    assert probes and all(p.startswith("transform-rotate-") for p in probes), probes


def test_an_unknown_profile_is_one_line_before_anything_trains(capsys):
    assert load_script().main(["--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_the_cpu_profile_keeps_its_run_ids():
    """cifar-cpu trained for many hours over several sessions: a change that moved its run ids (a config
    field, a default, a builder) would orphan its committed records. Its ids are pinned in
    runs/_plans/cifar-cpu.json; a deliberate change rewrites that file and says why in its commit."""
    import json
    pinned = json.loads(repo_path("runs/_plans/cifar-cpu.json").read_text())["runs"]
    now = {}
    for nb, group, config in load_script().profile_runs("cifar-cpu"):
        now.setdefault(nb, {}).setdefault(group, []).append(config.run_id())
    assert now == pinned


def test_shards_are_disjoint_cover_every_run_and_keep_children_with_their_parents(monkeypatch, tmp_path):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    script = load_script()
    runs = list(script._runs("cifar-cpu", ["03", "08"]))
    shares = [script.shard(runs, k, 3) for k in (1, 2, 3)]
    ids = [[r[2].run_id() for r in share] for share in shares]
    assert sorted(sum(ids, [])) == sorted(r[2].run_id() for r in runs)  # each run in exactly one share
    assert all(len(share) > len(runs) / 6 for share in ids)  # balanced, roughly
    for share in shares:
        here = {r[2].run_id(): i for i, r in enumerate(share)}
        for i, (_, _, c, _) in enumerate(share):
            for parent in (c.pretrained, c.teacher):
                if parent:  # the parent trains in the same process, before the child
                    assert here[parent] < i, (c.run_id(), parent)
    assert script.shard(runs, 1, 1) == runs


def test_a_bad_shard_is_one_line_before_anything_trains(capsys):
    script = load_script()
    assert script.main(["--profile", "smoke", "--shard", "3/2"]) == 2
    assert "1 <= K <= N" in capsys.readouterr().err
    assert script.main(["--profile", "smoke", "--shard", "half"]) == 2
    assert "two whole numbers" in capsys.readouterr().err
