import json

import numpy as np
import pytest
import torch

from lib import checkpoints
from lib.config import Config
from lib.records import RecordWriter, atomic_write_json, existing_record, find_record, load_record


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
    # A checkpoint of another config is refused, naming the differing keys.
    other = Config(epochs=99)
    with pytest.raises(checkpoints.CheckpointError, match="different config"):
        checkpoints.latest_good(tmp_path, other.config_hash(), other.identity(), warn=warnings.append)


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


def test_a_new_writer_removes_temporaries_of_a_killed_process(tmp_path):
    config = Config(runs_dir=str(tmp_path))
    run_dir = tmp_path / config.run_id()
    (run_dir / "checkpoints").mkdir(parents=True)
    stale = [run_dir / ".record.json.abc.tmp", run_dir / "checkpoints" / ".epoch0001.pt.xyz.tmp",
             run_dir / ".embeddings.npz.tmp.npz"]
    for path in stale:
        path.write_bytes(b"half")
    keep = run_dir / "checkpoints" / "epoch0001.pt"
    keep.write_bytes(b"x")
    RecordWriter(config)
    assert not any(p.exists() for p in stale) and keep.exists()


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
    an empty ``views`` names the task's default views)."""
    import subprocess
    from pathlib import Path

    from lib.config import from_dict

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
        config = from_dict(json.loads((folder / "config.json").read_text()))
        assert config.run_id() == folder.name, folder.name
        record = existing_record(config.replace(runs_dir=str(runs)))
        assert record is not None and record.complete and record.directory == folder, folder.name
        assert record.epochs and record.results, folder.name


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
