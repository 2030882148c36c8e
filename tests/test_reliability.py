"""Issue #23: nothing committed is overwritten, the command is the task, and divergence, a full disk or a
bad record leave nothing half-true. Each test reproduces one defect of the issue and fails on the code
before its fix."""

import errno
import json
import os
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

COMMITTED = "pretrain-839222af3ead"  # a committed 3-epoch run on the bundled sample data (6 s on a CPU; quick's 07, #24)


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
        # the finished run: loaded (the committed record predates data_draw, so it names the legacy value)
        (["pretrain", "--config", str(config), "data_draw=fixed", f"runs_dir={runs}"], 0),
        (["pretrain", "--config", str(config), "data_draw=fixed", f"runs_dir={runs}", "--dry-run"], 0),
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
    # as a record made before data_draw existed stores it (the committed cifar-cpu ones): without the field,
    # which reads as its legacy value, so the folder's id still holds
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored.pop("data_draw") == "fixed"
    (run_dir / "config.json").write_text(json.dumps(stored, indent=2))
    before = tracked_bytes(run_dir)
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu", "--no-probe"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evaluate never trains" in err, err
    command = err.split("recreate them with: ")[1].split(", then ")[0]
    # the record predates data_draw: the command restores the legacy value, or it could train another run
    assert command == f"python -m lib pretrain --config {run_dir / 'config.json'} data_draw=fixed runs_dir=<a folder>"
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


# ---- 4: divergence with a finite loss is a failed run --------------------------------------------

def test_exploding_weights_fail_the_run_like_a_nan_loss(tmp_path, capsys):
    from lib.records import find_record

    argv = ["pretrain", "lr=1e6", "epochs=2", "dataset=sample", "width=0.25", "train_size=300", "test_size=200",
            "batch_size=64", "monitor_size=100", "knn_k=20", "progress=false", f"runs_dir={tmp_path}"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "weights diverged in epoch 1: their norm grew from" in err and "(the limit is 1000x" in err, err
    assert "try a lower lr (now 1e+06)" in err and err.count("\n") == 1
    (run_dir,) = tmp_path.iterdir()
    assert find_record(str(run_dir)).status == "failed"
    assert not (run_dir / "embeddings.npz").exists()


def test_non_finite_embeddings_are_refused_before_they_are_saved():
    from lib.training import DivergenceError, check_embeddings, check_weights

    h = np.ones((4, 3), np.float16)
    check_embeddings({"h": h, "labels": np.arange(4)})
    h[:3, 0] = np.inf
    with pytest.raises(DivergenceError, match="25% of the stored h values are not finite"):
        check_embeddings({"h": h})
    check_weights(999.0, 1.0, 1, 0.3, "kept")
    for norm in (1001.0, float("nan"), float("inf")):
        with pytest.raises(DivergenceError, match="weights diverged in epoch 3"):
            check_weights(norm, 1.0, 3, 0.3, "kept")
    check_weights(1e9, None, 1, 0.3, "kept")  # resumed from a checkpoint that predates the check: finiteness only


# ---- 7: only complete records count --------------------------------------------------------------

def test_a_failed_record_named_by_a_manifest_is_missing_with_its_status(tmp_path):
    from lib.config import Config
    from lib.records import RecordWriter
    from lib.report import tables

    done = RecordWriter(Config(runs_dir=str(tmp_path), seed=0))
    done.start("cpu")
    done = done.finish({"h/knn_top1": 0.5}, 1.0)
    failed = RecordWriter(Config(runs_dir=str(tmp_path), seed=1))
    failed.start("cpu")
    failed.fail("KeyboardInterrupt: ", 1.0)
    failed_id = Config(seed=1).run_id()
    tables.write_manifest("02_simclr", "smoke", {"SimCLR": [done.run_id, failed_id]}, runs_dir=str(tmp_path))
    manifest = tables.read_manifests("smoke", str(tmp_path))["02_simclr"]
    records, missing = tables.manifest_records(manifest, str(tmp_path))
    assert [r.run_id for r in records["SimCLR"]] == [done.run_id]
    assert missing == [f"{failed_id} (status failed)"]


def test_a_truncated_manifest_is_named(tmp_path):
    from lib.report import tables

    path = tables.manifest_path("02_simclr", "smoke", str(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text('{"notebook": "02_simclr", "runs": {')
    with pytest.raises(ValueError, match=f"manifest {path} is not valid JSON .*restore it"):
        tables.read_manifests("smoke", str(tmp_path))


# ---- 6: a full disk: no temporary file left, one line ---------------------------------------------

def test_a_full_disk_in_the_data_cache_leaves_no_temporary_file(tmp_path, monkeypatch):
    import warnings

    from PIL import Image
    from lib import data

    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "imgs" / split / cls / "0.png")
    real_save = data.torch.save

    def full_disk(obj, f, *args, **kwargs):  # torch.save writes part of the file, then its writer fails
        f.write(b"\0" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 1000 vs 200000")

    monkeypatch.setattr(data.torch, "save", full_disk)
    cache = tmp_path / "cache"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = data.load_dataset(f"imagefolder:{tmp_path / 'imgs'}", "train", cache_dir=cache)
    assert len(ds) == 2 and list(cache.iterdir()) == []
    (message,) = [str(w.message) for w in caught]
    assert "could not write the cache file" in message and "running without the cache" in message
    assert message.count("\n") == 0
    monkeypatch.setattr(data.torch, "save", real_save)


def test_a_full_disk_during_training_fails_the_record_in_one_line(tmp_path, capsys, monkeypatch):
    import os

    from lib import records

    real_fsync = os.fsync

    def enospc_on_metrics(fd):
        if "metrics.jsonl" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(records.os, "fsync", enospc_on_metrics)
    argv = ["pretrain", "dataset=sample", "width=0.25", "train_size=128", "test_size=100", "batch_size=64",
            "monitor_size=100", "knn_k=20", "epochs=1", "progress=false", f"runs_dir={tmp_path}"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "could not write" in err and "metrics.jsonl: No space left on device" in err and err.count("\n") == 1, err
    (run_dir,) = tmp_path.iterdir()
    assert records.load_record(run_dir).status == "failed"
    assert [p.name for p in run_dir.rglob("*.tmp")] == []


# ---- 8: the lock holder's sweep never touches another process's temporaries -----------------------

def test_a_forced_rerun_does_not_delete_evaluates_temporary_file(tmp_path):
    from lib.config import Config
    from lib.records import RecordWriter

    config = Config(runs_dir=str(tmp_path))
    in_progress = tmp_path / config.run_id() / "evaluations" / ".layer0.json.k2j4.tmp"
    in_progress.parent.mkdir(parents=True)
    in_progress.write_text("{")
    RecordWriter(config).close()  # what a concurrent --force does first
    assert in_progress.exists()


# ---- 9: --force trains again from scratch and keeps the old record until the new one is complete ----

TINY = ["dataset=sample", "train_size=256", "test_size=100", "monitor_size=100", "epochs=2", "width=0.25",
        "batch_size=64", "knn_k=20", "warmup_epochs=0", "final_eval=false", "save_embeddings=0", "progress=false"]


def test_force_moves_old_checkpoints_aside_and_keeps_the_old_record_until_done(tmp_path, capsys, monkeypatch):
    from lib import losses

    assert cli.main(["pretrain", *TINY, f"runs_dir={tmp_path}"]) == 0
    (run_dir,) = tmp_path.iterdir()
    before = tracked_bytes(run_dir)
    real = losses.nt_xent
    monkeypatch.setattr(losses, "nt_xent", lambda z1, z2, t, **kwargs: (z1.sum() + z2.sum()) * float("nan"))
    assert cli.main(["pretrain", *TINY, f"runs_dir={tmp_path}", "--force"]) == 1  # fails in epoch 1
    assert tracked_bytes(run_dir) == before, "a failed --force changed the complete record"
    assert not (run_dir / ".replacing").exists()
    (aside,) = (run_dir / "checkpoints").glob("replaced-*")
    assert sorted(p.name for p in aside.iterdir()) == ["epoch0001.pt", "epoch0002.pt", "final.pt"]
    monkeypatch.setattr(losses, "nt_xent", real)
    capsys.readouterr()
    assert cli.main(["pretrain", *TINY, f"runs_dir={tmp_path}", "--force"]) == 0
    out = capsys.readouterr().out
    assert "resumed" not in out, "--force resumed from the old checkpoints"
    after = json.loads((run_dir / "record.json").read_text())
    assert after["status"] == "complete"
    assert [json.loads(l)["epoch"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]
    assert not (run_dir / ".replacing").exists()


# ---- 5: pages and indexes are replaced whole, a corrupt index.json is rebuilt ----------------------

def report_entry(stem, html_path, status="ok"):
    from lib.report import runner

    return runner.NotebookResult(stem=stem, title=f"Title {stem}", status=status, error=None, wall_time_s=1.5,
                                 html=str(html_path), ipynb=str(html_path.with_suffix(".ipynb")),
                                 parameters={"epochs": 1}, profile="smoke", date="2026-01-01T00:00:00+00:00",
                                 commit="0123456789ab", dirty=False, device="CPU: test")


def test_a_full_disk_while_rendering_keeps_the_old_page_whole(tmp_path, monkeypatch):
    import nbformat

    from lib import records
    from lib.report import runner

    source = tmp_path / "01_a.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A title")])
    nbformat.write(nb, source)
    out = tmp_path / "out"
    out.mkdir()
    page = out / "01_a.html"
    page.write_text("<html>the old page</html>")
    real = os.fsync

    def enospc_on_pages(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") and ".01_a.html." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(records.os, "fsync", enospc_on_pages)
    with pytest.raises(records.WriteError, match="could not write .*01_a.html: No space left on device"):
        runner.render(report_entry("01_a", page), source)
    assert page.read_text() == "<html>the old page</html>"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    monkeypatch.setattr(records.os, "fsync", real)
    runner.render(report_entry("01_a", page), source)
    assert page.read_text().rstrip().endswith("</html>") and "A title" in page.read_text()


def test_a_corrupt_index_json_is_named_and_rebuilt_from_the_pages(tmp_path):
    from lib.report import index, runner

    profile = tmp_path / "smoke"
    profile.mkdir()
    for stem in ("01_a", "02_b"):
        (profile / f"{stem}.html").write_text(f"<html><head><title>Title {stem}</title></head><body></body></html>")
    runner.write_index(profile, [report_entry(s, profile / f"{s}.html") for s in ("01_a", "02_b")], replace_all=True)
    (profile / "index.json").write_text('{"updated": "x", "reports": [{"stem": "01_a", ')  # torn
    warnings = []
    entries = runner.write_index(profile, [report_entry("01_a", profile / "01_a.html")], replace_all=False,
                                 warn=warnings.append)
    assert [e["stem"] for e in entries] == ["01_a", "02_b"], "the entries of the corrupt index were dropped"
    assert len(warnings) == 1 and f"{profile / 'index.json'} is corrupt" in warnings[0]
    assert "rebuilt from the pages" in warnings[0]
    (profile / "index.json").write_text("not json")
    top = index.write_top_index(tmp_path).read_text()
    assert 'id="profile-smoke"' in top and "Title 02_b" in top, "the profile's section disappeared"


@pytest.mark.parametrize("args, message", [
    (["--output", "/etc/passwd"], "--output /etc/passwd cannot be a folder: /etc/passwd is a file"),
    (["--cell-timeout", "nan"], "--cell-timeout must be a finite number of seconds > 0; got nan"),
    (["--cell-timeout", "-1"], "--cell-timeout must be a finite number of seconds > 0; got -1.0"),
])
def test_runner_arguments_are_refused_before_any_page_is_touched(tmp_path, capsys, monkeypatch, args, message):
    from lib.report import runner

    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a notebook was executed"))
    monkeypatch.setattr(runner, "check_kernel", lambda kernel: None)  # this machine's kernel is not the point
    assert runner.main(["--profile", "smoke", "--only", "01", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# ---- 10: messages that say what is wrong and how to fix it --------------------------------------

def test_update_readme_says_why_it_falls_back_to_another_profile(tmp_path, capsys):
    import importlib.util
    import sys

    from lib.config import Config
    from lib.records import RecordWriter
    from lib.report import tables

    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    ur = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ur
    spec.loader.exec_module(ur)
    runs = tmp_path / "runs"
    writer = RecordWriter(Config(runs_dir=str(runs), task="supervised", loss="ce"))
    writer.start("cpu")
    record = writer.finish({"h/knn_top1": 0.8}, 1.0)
    tables.write_manifest("01_supervised", "quick", {"cross-entropy": record.run_id}, runs_dir=runs)
    tables.write_manifest("01_supervised", "cifar-cpu", {"cross-entropy": "supervised-000000000000"}, runs_dir=runs)
    ur.render_iteration("iteration1", ur.Sources(runs, tmp_path / "results", tmp_path, None))
    err = capsys.readouterr().err
    assert "note: iteration1 shows profile `quick` of 01_supervised; passed over profile `cifar-cpu`" in err, err
    assert "supervised-000000000000" in err


def test_a_record_whose_results_are_a_list_is_named(tmp_path, capsys):
    runs, run_dir = committed_copy(tmp_path)
    meta = json.loads((run_dir / "record.json").read_text())
    meta["results"] = [0.5]
    (run_dir / "record.json").write_text(json.dumps(meta))
    assert cli.main(["evaluate", COMMITTED, "--runs-dir", str(runs), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"run record {run_dir / 'record.json'} is unreadable: its 'results' is a list" in err, err
    assert err.count("\n") == 1


def test_thesis_data_dir_pointing_nowhere_is_refused_not_created(tmp_path, monkeypatch):
    from lib import data

    nowhere = tmp_path / "typo"
    monkeypatch.setenv("THESIS_DATA_DIR", str(nowhere))
    with pytest.raises(FileNotFoundError, match=f"THESIS_DATA_DIR={nowhere} is not a folder; point it at"):
        data.load_dataset("cifar10", "train")
    assert not nowhere.exists()


def test_one_class_tiny_and_non_square_image_folders_are_refused_with_a_fix(tmp_path, capsys):
    from PIL import Image

    for split in ("train", "test"):
        (tmp_path / "one" / split / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "one" / split / "cat" / "0.png")
        for cls in ("a", "b"):
            for name, shape in (("wide", (8, 12, 3)), ("tiny", (1, 1, 3))):
                (tmp_path / name / split / cls).mkdir(parents=True)
                for i in range(2):
                    Image.fromarray(np.full(shape, 60 * i, np.uint8)).save(tmp_path / name / split / cls / f"{i}.png")
    for folder, message in (("one", "has 1 class folder (cat); kNN, the probe and NMI need at least 2 classes"),
                            ("wide", "are 12x8 pixels (width x height); this code trains on square images: crop"),
                            ("tiny", "are 1x1 pixels; views need at least 8x8: give image_size=8 (or more) to resize")):
        argv = ["pretrain", f"dataset=imagefolder:{tmp_path / folder}", f"runs_dir={tmp_path / 'runs'}",
                "progress=false", f"data_dir={tmp_path / 'cache'}"]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


RUNNER = """
import sys
from lib.report import runner
runner.check_kernel = lambda kernel: None  # this worktree's kernel spec may name another checkout's Python
sys.exit(runner.main(["--notebooks", sys.argv[1], "--output", sys.argv[2], "--profile", "smoke"]))
"""


def test_a_runner_stopped_by_sigterm_keeps_the_old_page_and_leaves_no_temporary_files(tmp_path):
    import signal
    import sys
    import time

    import nbformat

    from lib.report import runner

    notebooks, out, tmp = tmp_path / "nb", tmp_path / "out", tmp_path / "tmp"
    for folder in (notebooks, out, tmp):
        folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Slow"),
        nbformat.v4.new_code_cell("x = 1  # x", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\nprint('started', flush=True)\ntime.sleep(120)")])
    nb.metadata["kernelspec"] = {"name": runner.KERNEL, "display_name": "Python", "language": "python"}
    nbformat.write(nb, notebooks / "01_slow.ipynb")
    (out / "01_slow.html").write_text("<html>the old page</html>")
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(notebooks), str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp.glob("thesis-runs-*")):  # the notebook's run log exists: it is being executed
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    time.sleep(3)  # the kernel is running its cells
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0, output
    assert (out / "01_slow.html").read_text() == "<html>the old page</html>"
    assert [p.name for p in tmp.iterdir() if p.name.startswith("thesis-")] == [], output
    assert not (out / ".01_slow.executing.ipynb").exists()


# ---- 5: what a runner killed outright (SIGKILL) leaves is swept by the next one -----------------

def test_the_next_runner_sweeps_what_a_killed_one_left(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from lib.report import kernels, runner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid no longer runs
    orphans = [tmp_path / f"thesis-kernel-{dead.pid}-abc123", tmp_path / f"thesis-runs-{dead.pid}-x.jsonl"]
    orphans[0].mkdir()
    (orphans[0] / "kernel-1").write_text("socket")
    orphans[1].write_text("")
    live = [tmp_path / f"thesis-kernel-{os.getppid()}-def456", tmp_path / "thesis-kernel-notapid", tmp_path / "other"]
    for p in live:
        p.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert runner.main(["--list", "--only", "02"]) == 0
    assert not any(p.exists() for p in orphans)
    assert all(p.exists() for p in live)
    assert kernels.sweep_orphans(tmp_path) == []
