import json

import numpy as np
import pytest
import torch

from lib import checkpoints
from lib.config import Config
from lib.records import RecordWriter, atomic_write_json, existing_record, find_record, list_records, load_record


def test_record_round_trip(tmp_path):
    config = Config(runs_dir=str(tmp_path), epochs=2)
    writer = RecordWriter(config)
    writer.start("cpu", extra={"parameters": 10})
    assert existing_record(config) is None  # running, not complete
    writer.log_epoch({"epoch": 1, "loss": 1.5})
    writer.log_epoch({"epoch": 2, "loss": float("nan")})
    writer.save_embeddings({"h": np.ones((3, 2), np.float16), "labels": np.arange(3)})
    record = writer.finish({"h/knn_top1": 0.5}, wall_time_s=1.234)
    assert record.complete and record.run_id == config.run_id()
    assert record.config == config
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert record.epochs[1]["loss"] is None  # NaN stored as null, never as invalid JSON
    assert record.provenance["wall_time_s"] == 1.23
    assert record.provenance["world_size"] == 1
    assert record.provenance["versions"]["torch"] == torch.__version__
    assert "commit" in record.provenance and "dirty" in record.provenance
    assert record.embeddings()["h"].shape == (3, 2)
    assert existing_record(config).run_id == record.run_id
    assert find_record(record.run_id, tmp_path).results == {"h/knn_top1": 0.5}
    assert find_record(str(record.directory)).run_id == record.run_id


def test_failed_run_is_not_a_finished_record(tmp_path):
    config = Config(runs_dir=str(tmp_path))
    writer = RecordWriter(config)
    writer.start("cpu")
    writer.fail("KeyboardInterrupt: ", 3.0)
    assert existing_record(config) is None
    assert load_record(writer.directory).status == "failed"


def test_missing_and_broken_records_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run record 'pretrain-nothing'"):
        find_record("pretrain-nothing", tmp_path)
    broken = tmp_path / "pretrain-broken"
    broken.mkdir()
    (broken / "record.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        load_record(broken)


def _finished(tmp_path, **values):
    config = Config(runs_dir=str(tmp_path), **values)
    writer = RecordWriter(config)
    writer.start("cpu")
    for epoch in range(3):
        writer.log_epoch({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    return config, writer.finish({"h/knn_top1": 0.5}, wall_time_s=1.0)


def test_a_torn_metrics_line_names_the_file_and_line_and_suggests_force(tmp_path):
    config, record = _finished(tmp_path)
    path = record.directory / "metrics.jsonl"
    path.write_bytes(path.read_bytes()[:-12])  # the last line torn
    with pytest.raises(ValueError) as info:
        load_record(record.directory)
    assert f"run record {path}: line 3 is not valid JSON" in str(info.value)
    with pytest.raises(ValueError) as info:  # what run(config) meets first
        existing_record(config)
    assert str(path) in str(info.value) and "train the run again with --force" in str(info.value)


def test_list_records_skips_a_bad_record_and_says_so(tmp_path):
    _, good = _finished(tmp_path, seed=1)
    _, bad = _finished(tmp_path, seed=2)
    (bad.directory / "config.json").write_text("{")
    warnings = []
    assert [r.run_id for r in list_records(tmp_path, warn=warnings.append)] == [good.run_id]
    assert len(warnings) == 1 and str(bad.directory) in warnings[0]


def test_record_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o002)  # a group that shares its records
    try:
        config, record = _finished(tmp_path)
        writer = RecordWriter(config.replace(seed=5))
        writer.start("cpu")
        writer.save_embeddings({"h": np.ones((2, 2), np.float16)})
        writer.finish({}, wall_time_s=1.0)
        os.umask(0o077)
        atomic_write_json(tmp_path / "private.json", {})
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (*record.directory.iterdir(), *writer.directory.iterdir())
             if p.is_file() and p.name != ".lock"}
    assert modes == {"record.json": 0o664, "config.json": 0o664, "metrics.jsonl": 0o664, "embeddings.npz": 0o664}, modes
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": [1, 2]})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_checkpoints_keep_the_last_few_and_skip_corrupt_ones(tmp_path):
    config = Config()
    gen = torch.Generator().manual_seed(0)
    for epoch in range(1, 5):
        checkpoints.save_epoch(tmp_path, epoch, {"model": {"w": torch.full((2,), float(epoch))}, "epoch": epoch,
                                                 "config_hash": config.config_hash(), "rng": checkpoints.rng_state(gen)},
                               keep=2)
    assert [e for e, _ in checkpoints.epoch_checkpoints(tmp_path)] == [3, 4]
    # Truncate the newest: the previous one is used, with a one-line warning naming the file.
    newest = checkpoints.epoch_checkpoints(tmp_path)[-1][1]
    newest.write_bytes(newest.read_bytes()[:50])
    warnings = []
    state = checkpoints.latest_good(tmp_path, config.config_hash(), warn=warnings.append)
    assert state["epoch"] == 3
    assert len(warnings) == 1 and str(newest) in warnings[0]
    # Checkpoints of another config are refused, naming the differing keys; with none left: starting over.
    other = Config(epochs=99)
    warnings.clear()
    assert checkpoints.latest_good(tmp_path, other.config_hash(), other.identity(), warn=warnings.append) is None
    assert len(warnings) == 2 and "epoch0003.pt belongs to a different config" in warnings[1]
    assert warnings[-1].endswith("no usable checkpoint is left: starting over")


def test_rng_state_round_trip():
    gen = torch.Generator().manual_seed(3)
    state = checkpoints.rng_state(gen)
    a = (torch.rand(3, generator=gen), torch.rand(3), np.random.rand(2))
    checkpoints.restore_rng_state(state, gen)
    b = (torch.rand(3, generator=gen), torch.rand(3), np.random.rand(2))
    assert all(torch.equal(torch.as_tensor(x), torch.as_tensor(y)) for x, y in zip(a, b))


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, path)
    with pytest.raises(checkpoints.CheckpointError, match="not a checkpoint of this project"):
        checkpoints.load(path)


class _Crafted:
    """A pickle that would run a command when loaded without weights_only."""

    def __reduce__(self):
        import os
        return (os.system, ("touch crafted-pickle-ran",))


@pytest.mark.parametrize("content", ["crafted", "pickle", "random"])
def test_a_crafted_or_random_file_gets_our_sentence_not_pytorchs_advice(tmp_path, content, monkeypatch):
    import pickle
    import warnings
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "epoch0003.pt"
    if content == "crafted":
        torch.save({"model": _Crafted(), "config_hash": "x"}, path)
    elif content == "pickle":  # a bare pickle (protocol 4), which PyTorch also warns about
        path.write_bytes(pickle.dumps(_Crafted(), protocol=4))
    else:
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(checkpoints.CheckpointError) as info, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoints.load(path)
    assert [str(w.message) for w in caught] == []  # our sentence alone, no PyTorch warning beside it
    # PyTorch's own message ends, cut at 200 characters, on "Re-running torch.load with weights_only set to False".
    assert str(info.value) == f"not a checkpoint of this project (refused, nothing executed): {path}"
    assert not (tmp_path / "crafted-pickle-ran").exists()


def test_a_truncated_file_is_named_as_such(tmp_path):
    path = tmp_path / "final.pt"
    checkpoints.save(path, {"model": {"w": torch.ones(1000)}, "config_hash": "x"})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(checkpoints.CheckpointError, match=f"checkpoint {path} is truncated or corrupt"):
        checkpoints.load(path)


def test_checkpoints_missing_keys_or_of_another_model_are_skipped(tmp_path):
    config, gen = Config(), torch.Generator().manual_seed(0)
    full = {"model": {"w": torch.ones(2)}, "optimizer": {}, "epoch": 1, "metrics": [], "config_hash": config.config_hash(),
            "rng": checkpoints.rng_state(gen)}
    checkpoints.save_epoch(tmp_path, 1, full)
    checkpoints.save_epoch(tmp_path, 2, {**full, "epoch": 2, "model": {"w": torch.ones(3)}})  # another shape
    checkpoints.save_epoch(tmp_path, 3, {k: v for k, v in {**full, "epoch": 3}.items() if k != "optimizer"}, keep=3)

    def usable(state, path):
        checkpoints.check_keys(state, path)
        checkpoints.check_model(state, path, {"w": torch.zeros(2)})

    warnings = []
    state = checkpoints.latest_good(tmp_path, config.config_hash(), warn=warnings.append, check=usable)
    assert state["epoch"] == 1
    assert "epoch0003.pt lacks 'optimizer'" in warnings[0] and "epoch0002.pt holds the weights of another model" in warnings[1]
    assert all(w.endswith("trying the previous checkpoint") for w in warnings)


def test_final_weights_fall_back_to_the_last_epochs_checkpoint(tmp_path):
    config = Config(epochs=2)
    state = {"model": {"w": torch.ones(2)}, "config_hash": config.config_hash()}
    checkpoints.save(tmp_path / "epoch0002.pt", {**state, "epoch": 2})
    (tmp_path / "final.pt").write_bytes(b"garbage")
    warnings = []
    got = checkpoints.final_weights(tmp_path, config.config_hash(), 2, warn=warnings.append)
    assert torch.equal(got["model"]["w"], torch.ones(2))
    assert "refused, nothing executed" in warnings[0] and "epoch0002.pt" in warnings[-1]
    (tmp_path / "epoch0002.pt").write_bytes(b"garbage")
    assert checkpoints.final_weights(tmp_path, config.config_hash(), 2, warn=warnings.append) is None


def test_a_new_writer_removes_temporaries_of_a_killed_process(tmp_path):
    config = Config(runs_dir=str(tmp_path))
    run_dir = tmp_path / config.run_id()
    (run_dir / "checkpoints").mkdir(parents=True)
    stale = [run_dir / ".record.json.locked-abc.tmp", run_dir / "checkpoints" / ".epoch0001.pt.locked-xyz.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    keep = [run_dir / "checkpoints" / "epoch0001.pt",
            run_dir / "evaluations" / ".layer0.json.abc.tmp",  # evaluate's write in progress (it holds no lock)
            run_dir / "evaluations" / ".layer0.json.locked-abc.tmp",  # never evaluations/
            run_dir / ".notes.txt.abc.tmp"]  # not a lock holder's name
    for path in keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    RecordWriter(config)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)


def test_git_state_calls_code_changes_dirty_but_not_the_projects_outputs(tmp_path):
    import subprocess

    from lib.records import OUTPUT_PATHS, git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "code.py").write_text("x = 1\n")
    for out in OUTPUT_PATHS:
        (tmp_path / out).mkdir(parents=True)
        (tmp_path / out / "result.json").write_text("{}\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    state = git_state(tmp_path / "lib")
    assert len(state["commit"]) == 40 and state["dirty"] is False
    for out in OUTPUT_PATHS:  # results rewritten or deleted by a run: still the committed code
        (tmp_path / out / "result.json").write_text('{"new": 1}\n')
    (tmp_path / "runs" / "result.json").unlink()
    (tmp_path / "lib" / "untracked.py").write_text("")
    assert git_state(tmp_path / "lib")["dirty"] is False
    (tmp_path / "lib" / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path / "lib")["dirty"] is True
    assert git_state(tmp_path)["dirty"] is True  # from any folder of the repository


def test_every_committed_record_still_names_its_run_and_loads():
    """Run ids do not move: each committed record's stored config hashes to its folder's name, and
    asking for that config finds the record (fields added later enter the hash only when set;
    an empty ``views`` names the task's default views). Every committed record predates
    ``crop_sampler`` (issue #27), so each loads as what trained it: the sub-pixel crop sampler."""
    import subprocess
    from pathlib import Path

    from lib.config import from_stored

    root = Path(__file__).resolve().parent.parent
    runs = root / "runs"
    # the records git tracks (a run still training in this checkout is not a committed record)
    listed = subprocess.run(["git", "ls-files", "runs/*/config.json"], cwd=root, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        folders = sorted({(root / line).parent for line in listed.stdout.split()})
    else:  # not a git checkout: every record folder
        folders = sorted(d for d in runs.iterdir() if (d / "config.json").is_file())
    assert len(folders) >= 20, "the committed records are missing"
    for folder in folders:
        stored = json.loads((folder / "config.json").read_text())
        config = from_stored(stored)
        assert config.run_id() == folder.name, folder.name
        if "crop_sampler" not in stored:
            assert config.crop_sampler == "subpixel", folder.name
            assert load_record(folder).config.crop_sampler == "subpixel", folder.name
        record = existing_record(config.replace(runs_dir=str(runs)))
        assert record is not None and record.complete and record.directory == folder, folder.name
        assert record.epochs and record.results, folder.name


def test_crop_sampler_legacy_value_keeps_old_ids_and_the_new_default_gets_new_ones(tmp_path):
    """``crop_sampler``'s legacy value (``subpixel``, what every record before issue #27 trained with) is
    left out of the hash and assumed where a stored config lacks the field; the new default enters it."""
    from lib.config import from_dict, from_stored

    base = Config(task="pretrain", epochs=3)
    assert base.crop_sampler == "torchvision" and "crop_sampler" in base.identity()
    old = base.replace(crop_sampler="subpixel")
    assert "crop_sampler" not in old.identity()
    assert old.run_id() != base.run_id()
    stored = {k: v for k, v in old.to_dict().items() if k != "crop_sampler"}   # a config.json written before #27
    assert from_stored(stored).crop_sampler == "subpixel" and from_stored(stored).run_id() == old.run_id()
    assert from_dict(stored).crop_sampler == "torchvision"                    # a user's config: today's default
    assert from_stored(base.to_dict()).run_id() == base.run_id()              # a new record says what it used
    with pytest.raises(ValueError, match="crop_sampler must be one of torchvision, subpixel"):
        base.replace(crop_sampler="pixel")
    # a record written now round-trips through its config.json
    writer = RecordWriter(old.replace(runs_dir=str(tmp_path)))
    writer.start("cpu")
    writer.finish({"knn_top1": 0.5}, wall_time_s=1.0)
    assert load_record(writer.directory).config.crop_sampler == "subpixel"


def test_added_fields_at_their_defaults_keep_the_run_id():
    base = Config(task="pretrain", epochs=3)
    spelled = base.replace(views="crop,flip,color,gray", lars_trust=0.001, lars_clip=False, gray_p=0.2,
                           head_last_bn="affine", warmup_fraction=0.0)
    assert spelled.run_id() == base.run_id()
    for change in (dict(lars_trust=0.02), dict(lars_clip=True), dict(gray_p=0.1), dict(head_last_bn="scale"),
                   dict(warmup_epochs=0.0, warmup_fraction=0.01)):
        assert base.replace(**change).run_id() != base.run_id(), change
    # knobs that cannot act are given their defaults: one run, one id
    sgd = base.replace(optimizer="sgd")
    assert sgd.replace(lars_trust=0.02, lars_clip=True).run_id() == sgd.run_id()
    assert base.replace(head_layers=1, head_last_bn="scale").run_id() == base.replace(head_layers=1).run_id()
