"""Where a report run puts the figures it exports for the README (:func:`lib.report.plots.export_figure`).

The README shows figures from ``images/`` of the repository. A report run writes there only when it
writes the repository's own records and pages: runs into ``runs/`` (or ``$THESIS_RUNS_DIR`` unset and
``runs_dir`` empty) and pages into ``reports/<profile>/``, or when asked (``--readme-figures``).
Any other run (a trial in a temporary folder, a clone used for a test) puts them beside its pages,
in ``<output>/images/``: a run elsewhere once overwrote tracked README figures with its own.

The runner tells the notebooks through ``THESIS_IMAGES_DIR``, which the kernels inherit and which
:func:`lib.report.plots.readme_figure_path` reads; unset (a notebook opened by hand), ``images/``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..config import repo_path, resolve_runs_dir

IMAGES_DIR_ENV = "THESIS_IMAGES_DIR"


def writes_own_outputs(output: str | Path, profile: str, runs_dir: str | Path = "") -> bool:
    """Whether a run writes the repository's own pages (``reports/<profile>/``) and records (``runs/``)."""
    same = lambda a, b: Path(a).resolve() == Path(b).resolve()  # noqa: E731
    return same(output, repo_path("reports") / profile) and same(resolve_runs_dir(runs_dir), repo_path("runs"))


def images_dir(output: str | Path, profile: str, runs_dir: str | Path = "", readme: bool = False) -> Path:
    """Where a run's README figures go: ``images/`` of the repository for its own outputs (or ``readme``),
    else ``<output>/images``."""
    return repo_path("images") if readme or writes_own_outputs(output, profile, runs_dir) else Path(output) / "images"


@contextlib.contextmanager
def exporting_to(folder: Path):
    """``THESIS_IMAGES_DIR`` = ``folder`` while open (inherited by kernels started meanwhile), then as before."""
    before = os.environ.get(IMAGES_DIR_ENV)
    os.environ[IMAGES_DIR_ENV] = str(Path(folder).resolve())
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(IMAGES_DIR_ENV, None)
        else:
            os.environ[IMAGES_DIR_ENV] = before
