"""Run records: what a run was, where and when it ran, and what it measured.

A record lives in ``<runs_dir>/<run_id>/``::

    config.json       the full config (runtime fields included, for the record)
    record.json       id, status, provenance (commit, dirty tree, versions, device, dates,
                      wall time, world size) and final results
    metrics.jsonl     one JSON line of metrics per epoch (as DINO writes them)
    embeddings.npz    a subsample of test embeddings (and at chosen epochs) for plots
    checkpoints/      model and optimizer state; git-ignored, never committed
    .lock             held by the process writing the record (:class:`RunLock`); git-ignored

Everything but ``checkpoints/`` and ``.lock`` is small and meant to be committed, so every number
in a report can be traced to the run that produced it. Files are written to a temporary name and
renamed, so a record is never half-written; they get the permissions the umask gives new files.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import Config, from_stored
from .paths import (LOCKED_TAG, WriteError, atomic_write_bytes, resolve_runs_dir,  # noqa: F401 (re-exported)
                    umask)

RECORD_FILE = "record.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
EMBEDDINGS_FILE = "embeddings.npz"
CHECKPOINT_DIR = "checkpoints"
LOCK_FILE = ".lock"
STAGING_DIR = ".replacing"  # a forced run's new record, until it is complete (RecordWriter.replace_run)


# ---- atomic writes (lib.paths.atomic_write_bytes) -------------------------------------------------


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files left by a process killed in the middle of an atomic write. Only the
    holder of the run's :class:`RunLock` may call this, and it deletes only the temporaries lock
    holders write (:data:`LOCKED_TAG`), in the run folder and its ``checkpoints/``: another process's
    files (``evaluate`` writing ``evaluations/`` without the lock) are not stale."""
    directory = Path(directory)
    for folder in (directory, directory / CHECKPOINT_DIR):
        for path in folder.glob(f".*.{LOCKED_TAG}-*.tmp"):
            if path.is_file():
                path.unlink(missing_ok=True)


def atomic_write_json(path: Path, obj: Any, locked: bool = False) -> None:
    atomic_write_bytes(path, (json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n").encode(), locked)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    return obj


# ---- provenance --------------------------------------------------------------------------------

REQUIRE_RECORDS_ENV = "THESIS_REQUIRE_RECORDS"  # set (not "0"): a run without a record fails instead of training

# What the project itself writes: results, not code. A change there does not make the code "dirty"
# (otherwise every run after the first record of a report would say so).
OUTPUT_PATHS = ("runs", "reports", "images", "benchmarks/results")


def git_state(path: Path | None = None) -> dict[str, Any]:
    """Commit of the code and whether the working tree had uncommitted changes to tracked files
    outside the project's outputs (:data:`OUTPUT_PATHS`)."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    excludes = [f":(top,exclude){p}" for p in OUTPUT_PATHS]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                 *excludes], cwd=cwd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(status.strip()) if commit else None}


def library_versions() -> dict[str, str]:
    import torch
    import torchvision

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "torchvision": torchvision.__version__, "numpy": np.__version__}
    if torch.version.cuda:
        versions["cuda"] = torch.version.cuda
    return versions


def device_description(device) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu} ({torch.get_num_threads()} threads)"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---- one process per run ------------------------------------------------------------------------

class RunLock:
    """One process at a time writes a run folder: an exclusive ``fcntl.flock`` on ``<run>/.lock``.

    The operating system releases the lock when its process ends, however it ends (SIGKILL, a crash,
    a dead machine's process on local storage), so a lock is never stale. The holder writes its pid,
    host and start time into the file; a second process says whom it waits for, then waits. Without
    the lock, a second process on the same run deleted the first's temporary files as it set up, and
    the two overwrote each other's record. Within one process the lock is counted, not taken again
    (a second flock there would wait for itself): it goes back when every holder has released it.
    """

    _held: dict[str, list[int]] = {}  # folder -> [file descriptor, holders] of the locks this process holds

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._key: str | None = None

    def acquire(self, echo: Callable[..., None] = print) -> "RunLock":
        key = str(self.directory.resolve())
        if key in RunLock._held:  # this process holds it already: a second flock would wait for itself
            RunLock._held[key][1] += 1
            self._key = key
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
                echo(f"run {self.directory.name} is being written by {holder}; waiting for it to finish "
                     f"(lock {self.path}; Ctrl-C to stop waiting)", file=sys.stderr, flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {platform.node()} since {now_iso()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        RunLock._held[key] = [fd, 1]
        self._key = key
        return self

    def release(self) -> None:
        """Give the lock back; the last holder in this process closes the file, which releases it."""
        if self._key is None:
            return
        entry = RunLock._held[self._key]
        entry[1] -= 1
        if entry[1] == 0:
            os.close(entry[0])
            del RunLock._held[self._key]
        self._key = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---- the record --------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """A run's record as loaded from (or about to be written to) its directory."""

    directory: Path
    config: Config
    status: str = "running"  # running | complete | failed
    provenance: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.directory.name

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def checkpoint_dir(self) -> Path:
        return self.directory / CHECKPOINT_DIR

    def embeddings(self) -> dict[str, np.ndarray]:
        """The stored embedding subsample(s): arrays keyed e.g. ``h``, ``z``, ``labels``,
        ``indices``, ``h_epoch3`` ..."""
        path = self.directory / EMBEDDINGS_FILE
        if not path.exists():
            return {}
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def summary(self) -> dict[str, Any]:
        """One flat row for tables: id, task, key config values, provenance and results."""
        c = self.config
        row = {"run_id": self.run_id, "task": c.task, "dataset": c.dataset, "arch": c.arch,
               "epochs": c.epochs, "batch_size": c.batch_size, "seed": c.seed,
               "commit": (self.provenance.get("commit") or "")[:10],
               "device": self.provenance.get("device"), "finished": self.provenance.get("finished"),
               "wall_time_s": self.provenance.get("wall_time_s")}
        row.update({k: v for k, v in self.results.items() if not isinstance(v, (dict, list))})
        return row

    def __repr__(self) -> str:
        return f"RunRecord({self.run_id!r}, status={self.status!r}, results={list(self.results)})"


class RecordWriter:
    """Writes a run's record as the run goes; every write is atomic.

    It holds the run's :class:`RunLock` from construction until :meth:`close` (or :meth:`finish` /
    :meth:`fail`): a second writer of the same run, in another process, waits for it."""

    def __init__(self, config: Config, runs_dir: Path | None = None, echo: Callable[..., None] = print):
        self.config = config
        self.directory = Path(runs_dir or config.resolved_runs_dir()) / config.run_id()
        self.lock = RunLock(self.directory).acquire(echo)
        remove_stale_temporaries(self.directory)  # the lock holder's to remove: nobody else writes here now
        self.record_dir = self.directory  # where the record files go; a forced run stages them (replace_run)
        self.provenance: dict[str, Any] = {}
        self._epochs: list[dict[str, Any]] = []

    def replace_run(self) -> None:
        """``--force``: train again from scratch and keep the old record until the new one is complete.

        The old checkpoints move aside into ``checkpoints/replaced-<date>/`` (a resume would have kept the
        old weights); the new record is written into ``<run>/.replacing/`` and moved over the old one
        only by :meth:`finish`. A failed or interrupted forced run leaves the old record as it was."""
        ckpt = self.directory / CHECKPOINT_DIR
        old = [p for p in ckpt.iterdir() if p.is_file() and p.suffix == ".pt"] if ckpt.is_dir() else []
        if old:
            aside = ckpt / f"replaced-{now_iso().replace(':', '')}"
            aside.mkdir(parents=True, exist_ok=True)
            for path in old:
                os.replace(path, aside / path.name)
        if (self.directory / RECORD_FILE).exists():
            self.record_dir = self.directory / STAGING_DIR
            shutil.rmtree(self.record_dir, ignore_errors=True)  # a killed forced run's: the lock holder's own
            self.record_dir.mkdir()

    def close(self) -> None:
        """Release the run's lock; the writer writes nothing more."""
        self.lock.release()

    def start(self, device, world_size: int = 1, extra: dict[str, Any] | None = None,
              started: str | None = None) -> None:
        """The record of a run that starts (or starts again); ``started`` (UTC) defaults to now."""
        self.provenance = {"run_id": self.config.run_id(), "config_hash": self.config.config_hash(),
                           **git_state(), "versions": library_versions(),
                           "device": device_description(device), "device_type": str(device),
                           "hostname": platform.node(), "world_size": world_size,
                           "started": started or now_iso(), **(extra or {})}
        atomic_write_json(self.record_dir / CONFIG_FILE, self.config.to_dict(), locked=True)
        # Metrics from an earlier, unfinished attempt are kept only up to the resumed epoch.
        self._write_record("running", {})

    def resume_epochs(self, epochs: list[dict[str, Any]], started: str | None = None, resumes: int = 1) -> None:
        """Continue after a resumed checkpoint: keep the metrics of the epochs it covers, the start
        of the run's first segment and how many times it has been resumed."""
        self._epochs = list(epochs)
        self._write_metrics()
        self.provenance.update(started=started or self.provenance.get("started"), resumes=resumes)
        self._write_record("running", {})

    def log_epoch(self, metrics: dict[str, Any]) -> None:
        self._epochs.append(_jsonable(metrics))
        self._write_metrics()

    def _write_metrics(self) -> None:
        text = "".join(json.dumps(m, sort_keys=True) + "\n" for m in self._epochs)
        atomic_write_bytes(self.record_dir / METRICS_FILE, text.encode(), locked=True)

    def save_embeddings(self, arrays: dict[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self.record_dir / EMBEDDINGS_FILE, buffer.getvalue(), locked=True)

    def finish(self, results: dict[str, Any], wall_time_s: float) -> RunRecord:
        self.provenance.update(finished=now_iso(), wall_time_s=round(wall_time_s, 2))
        self._write_record("complete", results)
        if self.record_dir != self.directory:  # a forced run: the new record replaces the old, record.json last
            for name in (CONFIG_FILE, METRICS_FILE, EMBEDDINGS_FILE, RECORD_FILE):
                if (self.record_dir / name).exists():
                    os.replace(self.record_dir / name, self.directory / name)
                else:
                    (self.directory / name).unlink(missing_ok=True)
            shutil.rmtree(self.record_dir, ignore_errors=True)
            self.record_dir = self.directory
        self.close()
        return load_record(self.directory)

    def fail(self, error: str, wall_time_s: float) -> None:
        self.provenance.update(finished=now_iso(), wall_time_s=round(wall_time_s, 2), error=error)
        try:
            self._write_record("failed", {})
        finally:
            if self.record_dir != self.directory:  # a forced run that failed: the old record stays
                shutil.rmtree(self.record_dir, ignore_errors=True)
            self.close()

    def _write_record(self, status: str, results: dict[str, Any]) -> None:
        atomic_write_json(self.record_dir / RECORD_FILE, {
            "run_id": self.config.run_id(), "status": status,
            "provenance": self.provenance, "results": results}, locked=True)


def load_record(directory: str | Path) -> RunRecord:
    """Load a record directory (complete or not); a clear error when it is not a record."""
    directory = Path(directory)
    record_path = directory / RECORD_FILE
    if not record_path.is_file():
        raise FileNotFoundError(f"{directory} holds no run record ({RECORD_FILE} missing)")
    try:
        meta = json.loads(record_path.read_text())
        config = from_stored(json.loads((directory / CONFIG_FILE).read_text()))
    except (json.JSONDecodeError, OSError, ValueError, TypeError) as e:
        raise ValueError(f"run record {directory} is unreadable: {e}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"run record {record_path} is unreadable: not a JSON object")
    for key, kind in (("results", dict), ("provenance", dict), ("status", str)):
        if key in meta and not isinstance(meta[key], kind):
            raise ValueError(f"run record {record_path} is unreadable: its {key!r} is a {type(meta[key]).__name__}, "
                             f"not a {'JSON object' if kind is dict else 'string'} (the file was edited); restore it "
                             f"(git checkout -- {record_path}) or train the run again with --force")
    check_config_matches_folder(directory, config)
    epochs = []
    metrics_path = directory / METRICS_FILE
    if metrics_path.exists():
        for number, line in enumerate(metrics_path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    epochs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"run record {metrics_path}: line {number} is not valid JSON "
                                     f"({e.msg}, column {e.colno}); the file is torn or was edited") from None
    return RunRecord(directory=directory, config=config, status=meta.get("status", "running"),
                     provenance=meta.get("provenance", {}), results=meta.get("results", {}),
                     epochs=epochs)


def check_config_matches_folder(directory: Path, config: Config) -> None:
    """A ValueError naming both ids unless ``config`` hashes to the run id that names ``directory``.

    A folder is named by the hash of its config, so an edited ``config.json`` (another temperature)
    describes another run: trusting it trained a stray run under another id, then failed."""
    directory = Path(directory)
    if config.run_id() != directory.name:
        raise ValueError(f"run record {directory}: its {CONFIG_FILE} hashes to run id {config.run_id()}, not to "
                         f"the folder's {directory.name} (the file was edited or the folder renamed); restore the "
                         f"file (git checkout -- {directory / CONFIG_FILE}) or rename the folder")


def find_record(run_id_or_path: str, runs_dir: str | Path | None = None) -> RunRecord:
    """A record by id (looked up in ``runs_dir``) or by directory path."""
    candidate = Path(run_id_or_path)
    if (candidate / RECORD_FILE).is_file():
        return load_record(candidate)
    base = resolve_runs_dir(runs_dir or "")
    if (base / run_id_or_path / RECORD_FILE).is_file():
        return load_record(base / run_id_or_path)
    raise FileNotFoundError(f"no run record {run_id_or_path!r} in {base} (nor as a path)")


def existing_record(config: Config) -> RunRecord | None:
    """The complete record of this config, if one exists. A record that says it is complete but
    cannot be read is an error that says how to replace it (an unfinished one is simply resumed)."""
    directory = config.resolved_runs_dir() / config.run_id()
    if not (directory / RECORD_FILE).is_file():
        return None
    try:
        meta = json.loads((directory / RECORD_FILE).read_text())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        if meta.get("status") != "complete":
            return None
        return load_record(directory)
    except (ValueError, OSError) as e:
        why = str(e) if str(e).startswith("run record") else f"run record {directory} is unreadable: {e}"
        raise ValueError(f"{why}; train the run again with --force (run(config, force=True)) to replace it") from None


# ---- which runs a process loaded and which it trained ------------------------------------------

RUN_LOG_ENV = "THESIS_RUN_LOG"  # a file: every run() of a process that has it appends what it did


def log_run(record: RunRecord, action: str) -> None:
    """Append ``{"run_id", "action", "task", "finished", "device"}`` to the file named by
    ``$THESIS_RUN_LOG``, if set: ``action`` is "loaded" (the record existed) or "trained" (trained or
    resumed here). The report runner sets it for each notebook it executes and reads it back, so that
    its summary and the page say which runs were trained now and which came from records (their
    date and device). One short line per call, appended: several processes (torchrun) may share it."""
    path = os.environ.get(RUN_LOG_ENV, "")
    if not path:
        return
    if action not in ("loaded", "trained"):
        raise ValueError(f"action must be 'loaded' or 'trained'; got {action!r}")
    line = {"run_id": record.run_id, "action": action, "task": record.config.task,
            "finished": record.provenance.get("finished"), "device": record.provenance.get("device")}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def read_run_log(path: str | Path) -> dict[str, dict[str, Any]]:
    """The runs a log names, each once (run id -> its last line), a run trained at any point counted
    as trained (a notebook may load a run it trained a few cells earlier). No file: no runs."""
    runs: dict[str, dict[str, Any]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return runs
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if runs.get(entry["run_id"], {}).get("action") == "trained":
            entry["action"] = "trained"
        runs[entry["run_id"]] = entry
    return runs


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def list_records(runs_dir: str | Path | None = None, complete_only: bool = True,
                 warn: Callable[[str], None] = _warn) -> list[RunRecord]:
    """The records in ``runs_dir`` (complete ones only by default). A record that cannot be read is
    skipped with a one-line warning naming it; the others are still listed."""
    base = resolve_runs_dir(runs_dir or "")
    out = []
    for path in sorted(base.glob(f"*/{RECORD_FILE}")):
        try:
            record = load_record(path.parent)
        except (ValueError, OSError) as e:
            warn(f"warning: skipping {path.parent}: {e}")
            continue
        if record.complete or not complete_only:
            out.append(record)
    return out

