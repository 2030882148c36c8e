"""The report runner: execute the notebooks headlessly and render them to HTML.

    python -m lib.report --profile quick                 # all notebooks -> reports/quick/*.html
    python -m lib.report --profile smoke --only 01,02_simclr -p epochs 2
    python -m lib.report --list                          # parameters and the profile's values
    python -m lib.report --profile cifar-cpu --plan      # runs, views and minutes per notebook; trains nothing
    python -m lib.report --engine plain --profile full --only 06   # train without Jupyter (a GPU machine)
    python -m lib.report --profile full --only 06 --require-records  # render from records, never train

Each notebook in ``notebooks/`` (sorted by name) runs with papermill in a fresh kernel, receives
its profile's values (:mod:`lib.report.profiles`) and the ``-p`` overrides, and is rendered with
nbconvert (:mod:`lib.report.pages`: code folded, a banner, a table of contents, previous/next links)
to ``<output>/<stem>.html`` beside the executed ``<stem>.ipynb``; ``<output>`` is ``reports/<profile>/``
unless ``--output`` says otherwise. The pages link one stylesheet one folder up,
``<output>/../reader.css``, which the runner writes there: give ``--output`` a profile folder of its
own (``/tmp/r/quick``), as ``reports/<profile>/`` is. Every parameter is validated before anything
executes. A notebook that fails is still rendered, up to its error, under a red banner saying so; the others
still run, and the exit code is 1. ``<output>/index.json`` and ``index.html`` list every report with
its status, headline numbers, the runs it loaded and trained, profile, date, commit, device and wall
time (:mod:`lib.report.index`); ``--only`` updates its entries in place. In the default layout the
top index ``reports/index.html`` is rebuilt too, one section per profile. Exit codes: 0 all ok, 1 a
notebook failed, 2 invalid arguments (nothing executed).

Which runs a notebook loaded from records and which it trained now is read from the run log that
:func:`lib.training.run` appends to (``THESIS_RUN_LOG``, :func:`lib.records.log_run`); the page's
banner, the index and the summary printed at the end say it per notebook.

``--engine plain`` (:mod:`lib.report.plain`) runs the code cells in this process instead, for a
machine without Jupyter's packages: the run records are written, no page is rendered and the index
is left alone. ``--require-records`` sets ``THESIS_REQUIRE_RECORDS`` for the notebooks, so a run
without a record fails (naming it) instead of training.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import repo_path, resolve_runs_dir, split_list
from .params import (ParameterError, Parameter, check_overrides_known, read_notebook, read_parameters,
                              resolve_parameters)
from .profiles import PROFILES, profile_values
from ..records import (REQUIRE_RECORDS_ENV, RUN_LOG_ENV, WriteError, atomic_write_bytes, device_description,
                       git_state, now_iso, read_run_log)
from . import pages
from .index import write_index, write_top_index
from .statistics import plural
from .exports import exporting_to, images_dir
from .kernels import (KERNEL, RUN_LOG_PREFIX, check_kernel, kernel_config, quiet_shutdown_kernel_manager,
                      sweep_orphans)

CELL_TIMEOUT_S = 3600
ERROR_LINES = 2  # lines of an error message kept in the summary and the index


@dataclass
class NotebookResult:
    """What running one notebook gave: status "ok" or "failed" (with the error), files, timings."""

    stem: str
    title: str
    status: str
    error: str | None
    wall_time_s: float
    html: str
    ipynb: str
    parameters: dict[str, Any]
    profile: str
    date: str
    commit: str | None = None
    dirty: bool | None = None
    device: str = ""
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> loaded or trained (the run log)
    headline: list[str] = field(default_factory=list)  # what the notebook found (lib.report.index.headlines)


# ---- selecting and validating ------------------------------------------------------------------

def list_notebooks(notebooks_dir: str | Path) -> list[Path]:
    return sorted(Path(notebooks_dir).glob("[!.]*.ipynb"))


def select_notebooks(paths: list[Path], only: Iterable[str] | None) -> list[Path]:
    """The notebooks named in ``only`` (stems or number prefixes such as ``01``), in file order."""
    names = [n for item in (only or []) for n in split_list(item)]
    if not names:
        return paths
    chosen = set()
    for name in names:
        hits = [p for p in paths if p.stem == name or p.stem.split("_", 1)[0] == name]
        if not hits:
            raise ParameterError(f"--only: no notebook {name!r}; choose from "
                                 f"{', '.join(p.stem for p in paths) or '(none)'}")
        chosen.update(hits)
    return [p for p in paths if p in chosen]


def plan(notebooks_dir: str | Path, profile: str, only: Iterable[str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> list[tuple[Path, dict[str, Parameter], dict[str, Any]]]:
    """Validate everything and return, per selected notebook, its declared parameters and values.

    Raises :class:`ParameterError` on an unknown profile, notebook or parameter, a malformed
    parameters cell, or a value that does not fit its declared type.
    """
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    paths = list_notebooks(notebooks_dir)
    if not paths:
        raise ParameterError(f"no notebooks (*.ipynb) in {notebooks_dir}")
    selected = select_notebooks(paths, only)
    declared = {p.stem: read_parameters(p) for p in selected}
    check_overrides_known(overrides or {}, declared)
    return [(p, declared[p.stem], resolve_parameters(p.stem, declared[p.stem], profile, overrides))
            for p in selected]


# ---- executing and rendering -------------------------------------------------------------------

def notebook_title(nb: Mapping, default: str) -> str:
    """The first markdown heading of the notebook (``# Title``), else ``default``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    return line.strip().lstrip("#").strip() or default
    return default


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of a failed execution, cut to its first lines."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename is None:  # not a cell exception: timeout, dead kernel, papermill or nbformat error
        ename, evalue = type(exc).__name__, str(exc)
    lines = [ln for ln in str(evalue).strip().splitlines() if ln.strip()][:ERROR_LINES]
    text = f"{ename}: " + " / ".join(ln.strip() for ln in lines) if lines else ename
    cell = getattr(exc, "exec_count", None)
    return f"{text} (cell [{cell}])" if cell is not None else text


def status_line(result: NotebookResult) -> str:
    """The banner of an executed notebook (:func:`lib.report.pages.banner`): its parameters, the runs
    it loaded and trained, its provenance; red when it failed."""
    return pages.banner(status=result.status, error=result.error, profile=result.profile,
                        parameters=result.parameters, runs=result.runs, date=result.date, commit=result.commit,
                        dirty=result.dirty, device=result.device, wall_time_s=result.wall_time_s)


def render(result: NotebookResult, source: Path, executed: Path | None = None) -> None:
    """Put the banner into the executed notebook (``executed``, or the source if none was written) and
    render it to a reader's page (:mod:`lib.report.pages`). Both files are written to a temporary name
    and renamed, so the previous page stays whole until the new one is (a full disk, a killed runner)."""
    import nbformat

    executed = Path(executed) if executed else Path(result.ipynb)
    nb = nbformat.read(executed if executed.exists() else source, as_version=4)
    pages.place_banner(nb, status_line(result), failed=result.status != "ok")
    pages.place_answer_box(nb)  # the finding first, under the banner (#25)
    # every notebook beside this one, in reading order: the previous/next links and "notebook NN" links
    order = [(p.stem, notebook_title(read_notebook(p), p.stem)) for p in list_notebooks(source.parent)]
    numbers = {stem.split("_", 1)[0]: f"{stem}.html" for stem, _ in order if stem != result.stem}
    page = pages.export(nb, result.title, nav=pages.neighbours(result.stem, order, result.profile),
                        notebook_pages=numbers, runs_dir=resolve_runs_dir(result.parameters.get("runs_dir") or ""))
    atomic_write_bytes(Path(result.ipynb), (nbformat.writes(nb) + "\n").encode())
    atomic_write_bytes(Path(result.html), page.encode())


@contextlib.contextmanager
def run_log():
    """A fresh run log (:func:`lib.records.log_run`) named in ``THESIS_RUN_LOG`` while the block runs
    (inherited by a kernel started in it); yields a function returning what was logged."""
    fd, path = tempfile.mkstemp(prefix=f"{RUN_LOG_PREFIX}{os.getpid()}-", suffix=".jsonl")
    os.close(fd)
    before = os.environ.get(RUN_LOG_ENV)
    os.environ[RUN_LOG_ENV] = path
    try:
        yield lambda: read_run_log(path)
    finally:
        if before is None:
            os.environ.pop(RUN_LOG_ENV, None)
        else:
            os.environ[RUN_LOG_ENV] = before
        os.unlink(path)


def notebook_headline(stem: str, values: Mapping[str, Any], profile: str) -> list[str]:
    """The index's headline of a notebook just run (from its manifest); a failure to read it is
    said in the line, never raised."""
    from .index import headlines

    try:
        return headlines(stem, values.get("profile", profile), values.get("runs_dir", "") or "")
    except Exception as exc:  # a malformed manifest must not lose the page
        return [f"headline unavailable: {describe_error(exc)}"]


@contextlib.contextmanager
def inline_figures(echo=print):
    """Kernels draw figures inline unless ``MPLBACKEND`` says otherwise (ipykernel only sets the
    inline backend when the variable is empty); a report without its figures is no report, so a
    non-inline ``MPLBACKEND`` is hidden from the kernels while they run."""
    backend = os.environ.get("MPLBACKEND", "")
    if not backend or "inline" in backend:
        yield
        return
    echo(f"note: MPLBACKEND={backend} would hide the figures; the notebooks run without it")
    del os.environ["MPLBACKEND"]
    try:
        yield
    finally:
        os.environ["MPLBACKEND"] = backend


def execute(source: Path, values: dict[str, Any], output: Path, kernel: str, cell_timeout: float,
            context: dict[str, Any]) -> NotebookResult:
    """Run one notebook with papermill and render it; a failure is recorded, never raised."""
    import papermill

    stem = source.stem
    ipynb, page = output / f"{stem}.ipynb", output / f"{stem}.html"
    executed = output / f".{stem}.executing.ipynb"  # the old page and notebook stay until render replaces them
    executed.unlink(missing_ok=True)
    try:  # however this ends (SIGTERM included: main turns it into SystemExit), no .executing file stays
        start, error = time.perf_counter(), None
        with run_log() as logged, kernel_config() as config:
            try:
                papermill.execute_notebook(str(source), str(executed), parameters=values, kernel_name=kernel,
                                           execution_timeout=cell_timeout, cwd=str(source.parent),
                                           progress_bar=False, log_output=False, report_mode=False, config=config,
                                           kernel_manager_class=quiet_shutdown_kernel_manager())
            except Exception as exc:  # a cell error, a cell timeout, a dead kernel: report it, go on
                error = describe_error(exc)
            runs = logged()
        wall = time.perf_counter() - start
        result = NotebookResult(
            stem=stem, title=notebook_title(read_notebook(source), stem),
            status="ok" if error is None else "failed", error=error, wall_time_s=round(wall, 1),
            html=str(page), ipynb=str(ipynb), parameters=values, date=now_iso(), runs=runs,
            headline=notebook_headline(stem, values, context["profile"]), **context)
        try:
            render(result, source, executed)
        except Exception as exc:
            result.status = "failed"
            result.error = f"{result.error + '; ' if result.error else ''}rendering failed: {describe_error(exc)}"
    finally:
        executed.unlink(missing_ok=True)
    return result


def run_reports(profile: str = "quick", only: Iterable[str] | None = None,
                overrides: Mapping[str, Any] | None = None, output: str | Path | None = None,
                kernel: str = KERNEL, cell_timeout: float = CELL_TIMEOUT_S,
                notebooks_dir: str | Path | None = None, echo=print,
                readme_figures: bool = False) -> list[NotebookResult]:
    """Validate, then execute and render the selected notebooks and update the index. README figures go
    to ``images/`` only for the repository's own outputs or with ``readme_figures`` (:mod:`.exports`).

    Raises :class:`ParameterError` (nothing executed) when validation or the kernel check fails.
    """
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else repo_path("notebooks")
    output = Path(output) if output else default_output(profile)
    jobs = plan(notebooks_dir, profile, only, overrides)
    check_kernel(kernel)
    import torch

    context = {"profile": profile, **git_state(),
               "device": device_description("cuda" if torch.cuda.is_available() else "cpu")}
    output.mkdir(parents=True, exist_ok=True)
    pages.write_stylesheet(output.parent)  # the pages link ../reader.css
    results = []
    with inline_figures(echo):
        for i, (source, _, values) in enumerate(jobs, start=1):
            echo(f"[{i}/{len(jobs)}] {source.stem} ...", flush=True)
            with exporting_to(images_dir(output, profile, values.get("runs_dir", ""), readme_figures)):
                result = execute(source, values, output, kernel, cell_timeout, context)
            echo(f"[{i}/{len(jobs)}] {source.stem}: {result.status} ({result.wall_time_s:.1f} s; "
                 f"{pages.runs_line(result.runs)})" + (f" - {result.error}" if result.error else ""), flush=True)
            results.append(result)
    write_index(output, results, replace_all=not only)
    if output.resolve().parent == repo_path("reports").resolve():  # the default layout: reports/<profile>/
        write_top_index(output.parent)
    return results


def default_output(profile: str) -> Path:
    """Where a profile's pages go: ``reports/<profile>/``."""
    return repo_path("reports") / profile


def run_plain(profile: str = "quick", only: Iterable[str] | None = None,
              overrides: Mapping[str, Any] | None = None, notebooks_dir: str | Path | None = None,
              echo=print, output: str | Path | None = None, readme_figures: bool = False) -> list:
    """Validate, then run the selected notebooks' code cells in this process (:mod:`lib.report.plain`):
    their run records are written, no page is rendered and the index is left alone. README figures go
    where :func:`run_reports` would put them for ``output``."""
    from .plain import execute_plain

    notebooks_dir = Path(notebooks_dir) if notebooks_dir else repo_path("notebooks")
    jobs = plan(notebooks_dir, profile, only, overrides)
    output = Path(output) if output else default_output(profile)
    results = []
    for i, (source, _, values) in enumerate(jobs, start=1):
        echo(f"[{i}/{len(jobs)}] {source.stem} (plain) ...", flush=True)
        figures = images_dir(output, profile, values.get("runs_dir", ""), readme_figures)
        with run_log() as logged, exporting_to(figures):
            result = execute_plain(source, values, echo=echo)
            result.runs = logged()
        echo(f"[{i}/{len(jobs)}] {source.stem}: {result.status} ({result.wall_time_s:.1f} s; "
             f"{pages.runs_line(result.runs)})" + (f" - {result.error}" if result.error else ""), flush=True)
        results.append(result)
    return results


# ---- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help=f"parameter values: {', '.join(PROFILES)} (default quick)")
    parser.add_argument("--only", action="append", metavar="NAMES",
                        help="comma-separated notebook stems or number prefixes, e.g. 01_supervised,02")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter in every selected notebook that declares it (repeatable)")
    parser.add_argument("--output", default=None,
                        help="folder for executed notebooks, HTML and the profile's index (default reports/<profile>/, "
                             "which also rebuilds the top index reports/index.html); the pages' stylesheet "
                             "reader.css goes into its parent, e.g. --output /tmp/r/quick")
    parser.add_argument("--notebooks", default=None, help="folder of the notebooks (default notebooks/)")
    parser.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel to run them in (default {KERNEL})")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT_S,
                        help=f"seconds one cell may run before the notebook fails (default {CELL_TIMEOUT_S})")
    parser.add_argument("--list", action="store_true", help="print the notebooks and their parameters; run nothing")
    parser.add_argument("--plan", action="store_true",
                        help="print each notebook's runs (recorded / to train), training views and the estimated "
                             "minutes at the rates the records in runs/ measured; run nothing")
    parser.add_argument("--engine", choices=("papermill", "plain"), default="papermill",
                        help="papermill (default): execute in a Jupyter kernel and render HTML; plain: run the code "
                             "cells in this process without Jupyter and render nothing (a GPU machine without "
                             "Jupyter's packages: it writes the run records, the pages are rendered later)")
    parser.add_argument("--readme-figures", action="store_true",
                        help="export the README's figures into images/ of the repository even though --output or "
                             "runs_dir is elsewhere (by default only a run writing reports/<profile>/ and runs/ "
                             "does; others put them in <output>/images/)")
    parser.add_argument("--require-records", action="store_true",
                        help="fail a notebook instead of training when one of its runs has no record "
                             f"({REQUIRE_RECORDS_ENV}=1): render on a CPU what a GPU machine trained")
    return parser


def print_listing(jobs, profile: str, overrides: Mapping[str, Any]) -> None:
    """Each notebook's parameters: type, default, the value this run gives it and from where."""
    for source, declared, values in jobs:
        print(f"{source.stem}: {notebook_title(read_notebook(source), source.stem)}")
        from_profile = profile_values(profile, source.stem, {n: p.value for n, p in declared.items()})
        rows = [(name, p.type.__name__, repr(p.value), repr(values.get(name, p.value)),
                 "-p" if name in overrides else "profile" if name in from_profile else "default", p.comment)
                for name, p in declared.items()]
        w = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
        for name, kind, default, value, origin, comment in rows:
            print(f"  {name:<{w[0]}}  {kind:<{w[1]}}  default {default:<{w[2]}}  run: {value:<{w[3]}}  "
                  f"({origin})  # {comment}")


def print_plan(jobs, profile: str) -> None:
    """The profile's plan of compute (:mod:`lib.report.plans`) on the device this machine would train on."""
    import torch

    from .plans import profile_plan

    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"plan of profile {profile} on {device_type}:")
    print("\n".join(profile_plan(jobs, device_type)))


def print_summary(results: list[NotebookResult], output: Path) -> None:
    """One line per notebook: status, wall time, the runs it loaded from records and trained now."""
    width = max([len(r.stem) for r in results] + [8])
    print(f"\n{'notebook':<{width}}  {'status':<6}  {'wall time':>10}  runs")
    for r in results:
        print(f"{r.stem:<{width}}  {r.status:<6}  {r.wall_time_s:>8.1f} s  {pages.runs_line(r.runs)}"
              + (f"  {r.error}" if r.error else ""))
    loaded = sum(x.get("action") == "loaded" for r in results for x in r.runs.values())
    trained = sum(x.get("action") == "trained" for r in results for x in r.runs.values())
    print(f"{'total':<{width}}  {'':<6}  {sum(r.wall_time_s for r in results):>8.1f} s  "
          f"{plural(loaded, 'run')} loaded from records, {trained} trained now")
    print(f"index: {output / 'index.html'}")


def check_output(output: Path) -> None:
    """A ParameterError naming ``--output`` unless it is, or can become, a folder this process writes."""
    existing = Path(output)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(f"--output {output} cannot be a folder: {existing} is a file; give --output <a folder>")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"--output {output} is not writable (no write permission on {existing}); "
                             "give --output <a folder you can write>")


def check_cell_timeout(seconds: float) -> None:
    if not (math.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"--cell-timeout must be a finite number of seconds > 0; got {seconds}")


def _exit_on_signal(signum, frame) -> None:
    """SIGTERM/SIGHUP end the runner through its ``finally`` blocks: kernel folders and run logs removed."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _signals_exit():
    """While the runner runs, SIGTERM and SIGHUP exit through its ``finally`` blocks; then the handlers
    it found are put back (``main`` is also called inside other programs, such as the tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    with _signals_exit():
        return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sweep_orphans()  # what an earlier runner killed outright (SIGKILL) left in the temporary folder
    overrides = dict(args.parameter)
    notebooks_dir = Path(args.notebooks) if args.notebooks else repo_path("notebooks")
    output = Path(args.output) if args.output else default_output(args.profile)
    try:
        check_cell_timeout(args.cell_timeout)
        if not (args.list or args.plan or args.engine == "plain"):
            check_output(output)
        if args.list:
            print_listing(plan(notebooks_dir, args.profile, args.only, overrides), args.profile, overrides)
            return 0
        if args.plan:
            print_plan(plan(notebooks_dir, args.profile, args.only, overrides), args.profile)
            return 0
        if args.require_records:
            os.environ[REQUIRE_RECORDS_ENV] = "1"  # inherited by the kernels (and by this process: plain)
        if args.engine == "plain":
            results = run_plain(args.profile, args.only, overrides, notebooks_dir, output=output,
                                readme_figures=args.readme_figures)
        else:
            results = run_reports(args.profile, args.only, overrides, output, args.kernel, args.cell_timeout,
                                  notebooks_dir, readme_figures=args.readme_figures)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a read-only folder while writing the index (the pages say how far it got)
        print(f"error: {exc.strerror or exc}: {exc.filename or ''} (free space there or give --output <a folder>)"
              if not isinstance(exc, WriteError) else f"error: {exc.strerror}", file=sys.stderr)
        return 2
    if args.engine == "papermill":
        print_summary(results, output)  # (run_plain printed each notebook's status as it finished)
    failed = [r.stem for r in results if r.status != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
