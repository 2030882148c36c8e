"""One process writes a run folder at a time (lib.records.RunLock): real processes, real SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.config import Config
from lib.records import RecordWriter, load_record

HOLD = """
import sys, time
from lib.records import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""

WRITE = """
import sys
from lib.config import Config
from lib.records import RecordWriter
writer = RecordWriter(Config(), runs_dir=sys.argv[1])
print("writing", flush=True)
writer.close()
"""


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_second_process_waits_and_only_the_holder_removes_temporaries(tmp_path):
    run_dir = tmp_path / Config().run_id()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        temporary = run_dir / ".metrics.jsonl.locked-abc123.tmp"  # the holder's write in progress
        temporary.write_text("half")
        second = subprocess.Popen([sys.executable, "-c", WRITE, str(tmp_path)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        message = second.stderr.readline()
        assert f"run {run_dir.name} is being written by pid {holder.pid} on " in message, message
        assert "waiting for it to finish" in message and str(run_dir / ".lock") in message
        time.sleep(1.0)
        assert second.poll() is None and temporary.exists(), "the second process went on while the lock was held"
        holder.send_signal(signal.SIGKILL)  # the operating system releases a dead process's lock
        holder.wait()
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0 and out.strip() == "writing", err
        assert not temporary.exists()  # stale now: the new holder removed it
    finally:
        holder.kill()
        holder.wait()


def test_within_one_process_the_lock_is_counted_not_taken_twice(tmp_path):
    # A second flock from the same process would wait for itself forever: a writer abandoned after
    # an exception (tests do it) must not block the next one.
    import fcntl

    def free() -> bool:
        fd = os.open(run_dir / ".lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    run_dir = tmp_path / Config().run_id()
    first = RecordWriter(Config(runs_dir=str(tmp_path)))
    second = RecordWriter(Config(runs_dir=str(tmp_path)))
    assert not free()
    second.close()
    assert not free()  # the first still holds it
    first.close()
    assert free()
    from lib.records import RunLock

    with RunLock(tmp_path / "other"):
        assert (tmp_path / "other" / ".lock").read_text().startswith(f"pid {os.getpid()} on ")


ARGS = dict(dataset="sample", train_size=256, test_size=100, monitor_size=0, batch_size=64, epochs=2,
            width=0.25, warmup_epochs=0.0, knn_k=20, final_eval=False, save_embeddings=0, progress=False)

# The first process pauses after its first checkpoint until the test says go: mid-run, for certain,
# when the second one starts, however fast the machine.
PAUSED = """
import pathlib, sys, time
from lib import cli, training
real = training._checkpoint

def checkpoint(*args, **kwargs):
    real(*args, **kwargs)
    go = pathlib.Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.05)

training._checkpoint = checkpoint
sys.exit(cli.main(sys.argv[2:]))
"""


def test_two_processes_on_one_run_train_it_once(tmp_path):
    """The second waits for the first, then finds the finished record: neither loses a file or
    writes the other's status, and the run is trained once."""
    args = ["pretrain", *[f"{k}={v}" for k, v in ARGS.items()], f"runs_dir={tmp_path / 'runs'}"]
    run_dir = tmp_path / "runs" / Config(**ARGS).run_id()
    go = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", PAUSED, str(go), *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = None
    try:
        wait_for(lambda: any((run_dir / "checkpoints").glob("epoch*.pt")) or first.poll() is not None, timeout=120)
        second = subprocess.Popen([sys.executable, "-m", "lib", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        message = second.stderr.readline()  # without a lock: nothing until it has trained alongside the first
        assert f"is being written by pid {first.pid} on " in message, message + second.stderr.read()
        go.touch()
        out1, err1 = first.communicate(timeout=120)
        out2, err2 = second.communicate(timeout=120)
    finally:
        go.touch()
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "resumed" not in out2 and f"run record: {run_dir}" in out2  # it found the record, trained nothing
    record = load_record(run_dir)
    assert record.complete and [e["epoch"] for e in record.epochs] == [0, 1, 2]
    assert not list(run_dir.rglob(".*.tmp*"))
