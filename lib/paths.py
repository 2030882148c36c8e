"""Where things are, and the one way a file is written: the bottom of ``lib``'s imports.

The checkout root, its ``runs/`` and ``data/`` folders (each overridable from the environment), and
:func:`atomic_write_bytes`, which every record, checkpoint, data cache, figure and manifest goes
through. This module imports nothing of ``lib``, so every other module may import it without an
import circle (``tests/test_import_graph.py``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the folder that holds this ``lib``
RUNS_DIR_ENV = "THESIS_RUNS_DIR"  # where run records go, if set
DATA_DIR_ENV = "THESIS_DATA_DIR"  # where data sets are downloaded and cached, if set


def repo_path(name: str) -> Path:
    """``name`` at the repository root when running from a checkout, else relative to the working
    directory. Notebooks run in ``notebooks/``, the command line wherever it is started; both must
    find the same ``runs/`` and ``data/``."""
    return CHECKOUT / name if (CHECKOUT / "pyproject.toml").is_file() else Path(name)


def resolve_runs_dir(runs_dir: str | Path = "") -> Path:
    """Where run records go: ``runs_dir``, else ``$THESIS_RUNS_DIR``, else ``runs/`` of the checkout."""
    return Path(runs_dir or os.environ.get(RUNS_DIR_ENV) or repo_path("runs"))


def default_data_dir() -> Path:
    """``$THESIS_DATA_DIR`` if set, else ``data/`` at the repository root (so notebooks, which run
    in ``notebooks/``, and the command line find the same folder)."""
    given = os.environ.get(DATA_DIR_ENV)
    if given and not Path(given).is_dir():  # a typo would otherwise create a new folder for the cache
        raise FileNotFoundError(f"{DATA_DIR_ENV}={given} is not a folder; point it at the folder that holds the "
                                "data sets (or unset it to use data/ of the checkout)")
    return Path(given or repo_path("data"))


def umask() -> int:
    """The process's umask, read from ``/proc`` where it can be (setting it to read it is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file could not be written (a full disk, a read-only file system ...); one line naming it.
    Its temporary file has been removed and the file it replaces is left as it was."""


LOCKED_TAG = "locked"  # temporaries of a run's lock holder: .<name>.locked-<random>.tmp


def atomic_write_bytes(path: Path, data: bytes, locked: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename. The file gets the mode
    ``open()`` would give it (0666 less the umask): ``mkstemp`` makes it private (0600), which would
    hide records from the other members of a group on shared storage.

    ``locked``: the writer holds the run's :class:`RunLock`; its temporary file gets a name of its own
    (:data:`LOCKED_TAG`), the only one :func:`lib.records.remove_stale_temporaries` deletes. A failed write
    (ENOSPC, EROFS ...) removes the temporary file and raises :class:`WriteError` naming ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{LOCKED_TAG + '-' if locked else ''}",
                                   suffix=".tmp")
    except OSError as e:
        raise WriteError(e.errno, f"could not write {path}: {e.strerror or e}; free space there or write elsewhere "
                                  "(runs_dir=<a folder>)") from None
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise WriteError(e.errno, f"could not write {path}: {e.strerror or e}; the previous file (if any) is "
                                      "kept; free space there or write elsewhere (runs_dir=<a folder>)") from None
        raise
