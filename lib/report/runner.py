"""The report runner: execute the notebooks headlessly and render them to HTML.

    python -m lib.report --profile quick                 # all notebooks -> reports/*.html
    python -m lib.report --profile smoke --only 01,02_simclr -p epochs 2
    python -m lib.report --list                          # parameters and the profile's values
    python -m lib.report --profile cifar-cpu --plan      # runs, views and minutes per notebook; trains nothing
    python -m lib.report --engine plain --profile full --only 06   # train without Jupyter (a GPU machine)
    python -m lib.report --profile full --only 06 --require-records  # render from records, never train

Each notebook in ``notebooks/`` (sorted by name) runs with papermill in a fresh kernel, receives
its profile's values (:mod:`lib.report.profiles`) and the ``-p`` overrides, and is rendered with
nbconvert to ``<output>/<stem>.html`` beside the executed ``<stem>.ipynb``. Every parameter is
validated before anything executes. A notebook that fails is still rendered, up to its error,
under a red banner saying so; the others still run, and the exit code is 1. ``index.html``
(and ``index.json``) list every report with its status, profile, date, commit, device and wall
time; ``--only`` updates its entries in place. Exit codes: 0 all ok, 1 a notebook failed,
2 invalid arguments (nothing executed).

``--engine plain`` (:mod:`lib.report.plain`) runs the code cells in this process instead, for a
machine without Jupyter's packages: the run records are written, no page is rendered and the index
is left alone. ``--require-records`` sets ``THESIS_REQUIRE_RECORDS`` for the notebooks, so a run
without a record fails (naming it) instead of training.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import repo_path
from .params import (ParameterError, Parameter, check_overrides_known, read_notebook, read_parameters,
                              resolve_parameters)
from .profiles import PROFILES, profile_values
from ..records import REQUIRE_RECORDS_ENV, device_description, git_state, now_iso

KERNEL = "contrastive-thesis"
CELL_TIMEOUT_S = 3600
STATUS_TAG = "report-status"  # tag of the status line the runner puts on top of each executed notebook
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


# ---- selecting and validating ------------------------------------------------------------------

def list_notebooks(notebooks_dir: str | Path) -> list[Path]:
    return sorted(Path(notebooks_dir).glob("[!.]*.ipynb"))


def select_notebooks(paths: list[Path], only: Iterable[str] | None) -> list[Path]:
    """The notebooks named in ``only`` (stems or number prefixes such as ``01``), in file order."""
    names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()]
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


def check_kernel(kernel: str) -> None:
    """The kernel exists; the project's own kernel must run this environment's Python.

    A kernel registered for the user (not inside the environment) is shared by every checkout: a
    report started in one clone would then run another clone's code and write into its ``runs/``.
    ``make setup`` installs the kernel into the environment (``--sys-prefix``), which Jupyter
    searches first there."""
    from jupyter_client.kernelspec import KernelSpecManager

    install = (f"run `make setup`, or `{sys.executable} -m ipykernel install --sys-prefix --name {kernel} "
               f"--display-name \"Python ({kernel})\"`")
    manager = KernelSpecManager()
    installed = manager.find_kernel_specs()
    if kernel not in installed:
        raise ParameterError(f"Jupyter kernel {kernel!r} is not installed (installed: "
                             f"{', '.join(sorted(installed)) or 'none'}); {install}")
    if kernel == KERNEL:
        python = Path(os.path.abspath(manager.get_kernel_spec(kernel).argv[0]))
        prefix = Path(os.path.abspath(sys.prefix))
        if python.is_absolute() and prefix not in python.parents:
            raise ParameterError(f"Jupyter kernel {kernel!r} ({installed[kernel]}) runs {python}, which is not "
                                 f"this environment's Python ({sys.executable}): the notebooks would run other "
                                 f"code and write into another checkout's runs/; {install}")


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
    """The HTML put on top of an executed notebook: its provenance, in red when it failed."""
    commit = f"{result.commit[:7]}{' (dirty tree)' if result.dirty else ''}" if result.commit else "unknown"
    facts = (f"profile <b>{result.profile}</b> · {result.date} UTC · commit {commit} · "
             f"{html.escape(result.device)} · {result.wall_time_s:.1f} s")
    if result.status == "ok":
        return f'<div style="color:#555;font-size:0.9em">Executed by <code>lib.report</code>: {facts}</div>'
    return ('<div style="border:3px solid #c00;background:#fee;color:#900;padding:0.6em 1em;font-size:1.1em">'
            f'<b>FAILED: this notebook did not finish.</b> {html.escape(result.error or "")}<br>'
            f'Everything below stops at the error; numbers in it come from an unfinished run. {facts}</div>')


def render(result: NotebookResult, source: Path) -> None:
    """Put the status line on top of the executed notebook (or the source, if none was written)
    and render it to HTML with images embedded."""
    import nbformat
    from nbconvert import HTMLExporter

    ipynb = Path(result.ipynb)
    nb = nbformat.read(ipynb if ipynb.exists() else source, as_version=4)
    nb.cells = [c for c in nb.cells if STATUS_TAG not in c.get("metadata", {}).get("tags", [])]
    banner = nbformat.v4.new_markdown_cell(status_line(result), metadata={"tags": [STATUS_TAG]})
    nb.cells.insert(0, banner)
    nbformat.write(nb, ipynb)
    exporter = HTMLExporter(embed_images=True, exclude_input_prompt=False)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": result.title}})
    Path(result.html).write_text(body, encoding="utf-8")


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
    for stale in (ipynb, page):
        stale.unlink(missing_ok=True)
    start, error = time.perf_counter(), None
    try:
        papermill.execute_notebook(str(source), str(ipynb), parameters=values, kernel_name=kernel,
                                   execution_timeout=cell_timeout, cwd=str(source.parent),
                                   progress_bar=False, log_output=False, report_mode=False)
    except Exception as exc:  # a cell error, a cell timeout, a dead kernel: report it, go on
        error = describe_error(exc)
    wall = time.perf_counter() - start
    result = NotebookResult(
        stem=stem, title=notebook_title(read_notebook(source), stem),
        status="ok" if error is None else "failed", error=error, wall_time_s=round(wall, 1),
        html=str(page), ipynb=str(ipynb), parameters=values, date=now_iso(), **context)
    try:
        render(result, source)
    except Exception as exc:
        result.status = "failed"
        result.error = f"{result.error + '; ' if result.error else ''}rendering failed: {describe_error(exc)}"
    return result


def run_reports(profile: str = "quick", only: Iterable[str] | None = None,
                overrides: Mapping[str, Any] | None = None, output: str | Path | None = None,
                kernel: str = KERNEL, cell_timeout: float = CELL_TIMEOUT_S,
                notebooks_dir: str | Path | None = None, echo=print) -> list[NotebookResult]:
    """Validate, then execute and render the selected notebooks and update the index.

    Raises :class:`ParameterError` (nothing executed) when validation or the kernel check fails.
    """
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else repo_path("notebooks")
    output = Path(output) if output else repo_path("reports")
    jobs = plan(notebooks_dir, profile, only, overrides)
    check_kernel(kernel)
    import torch

    context = {"profile": profile, **git_state(),
               "device": device_description("cuda" if torch.cuda.is_available() else "cpu")}
    output.mkdir(parents=True, exist_ok=True)
    results = []
    with inline_figures(echo):
        for i, (source, _, values) in enumerate(jobs, start=1):
            echo(f"[{i}/{len(jobs)}] {source.stem} ...", flush=True)
            result = execute(source, values, output, kernel, cell_timeout, context)
            echo(f"[{i}/{len(jobs)}] {source.stem}: {result.status} ({result.wall_time_s:.1f} s)"
                 + (f" - {result.error}" if result.error else ""), flush=True)
            results.append(result)
    write_index(output, results, replace_all=not only)
    return results


def run_plain(profile: str = "quick", only: Iterable[str] | None = None,
              overrides: Mapping[str, Any] | None = None, notebooks_dir: str | Path | None = None,
              echo=print) -> list:
    """Validate, then run the selected notebooks' code cells in this process (:mod:`lib.report.plain`):
    their run records are written, no page is rendered and the index is left alone."""
    from .plain import execute_plain

    notebooks_dir = Path(notebooks_dir) if notebooks_dir else repo_path("notebooks")
    jobs = plan(notebooks_dir, profile, only, overrides)
    results = []
    for i, (source, _, values) in enumerate(jobs, start=1):
        echo(f"[{i}/{len(jobs)}] {source.stem} (plain) ...", flush=True)
        result = execute_plain(source, values, echo=echo)
        echo(f"[{i}/{len(jobs)}] {source.stem}: {result.status} ({result.wall_time_s:.1f} s)"
             + (f" - {result.error}" if result.error else ""), flush=True)
        results.append(result)
    return results


# ---- the index ---------------------------------------------------------------------------------

def write_index(output: Path, results: list[NotebookResult], replace_all: bool) -> list[dict[str, Any]]:
    """Write ``index.json`` and ``index.html``. With ``replace_all`` False, entries of notebooks
    not run this time are kept from the existing ``index.json``."""
    entries: dict[str, dict[str, Any]] = {}
    previous = output / "index.json"
    if not replace_all and previous.exists():
        try:
            entries = {e["stem"]: e for e in json.loads(previous.read_text())["reports"]}
        except (json.JSONDecodeError, KeyError, TypeError):
            entries = {}
    for r in results:
        entry = asdict(r)
        entry["html"], entry["ipynb"] = Path(r.html).name, Path(r.ipynb).name
        entries[r.stem] = entry
    ordered = [entries[k] for k in sorted(entries)]
    previous.write_text(json.dumps({"updated": now_iso(), "reports": ordered}, indent=2) + "\n")
    (output / "index.html").write_text(index_html(ordered), encoding="utf-8")
    return ordered


def index_html(entries: list[dict[str, Any]]) -> str:
    e = html.escape
    rows = []
    for r in entries:
        ok = r["status"] == "ok"
        commit = f"{r.get('commit') or 'unknown'}"[:7] + (" (dirty)" if r.get("dirty") else "")
        status = '<span class="ok">ok</span>' if ok else \
            f'<span class="failed">FAILED</span><div class="error">{e(r.get("error") or "")}</div>'
        rows.append(f'<tr><td><a href="{e(r["html"])}">{e(r["title"])}</a><div class="stem">{e(r["stem"])}</div></td>'
                    f'<td>{status}</td><td>{e(r["profile"])}</td><td>{e(r["date"])}</td><td><code>{e(commit)}</code></td>'
                    f'<td>{e(r.get("device") or "")}</td><td class="num">{r["wall_time_s"]:.1f} s</td></tr>')
    failed = sum(r["status"] != "ok" for r in entries)
    total = sum(r["wall_time_s"] for r in entries)
    verdict = f'<span class="failed">{failed} failed</span>' if failed else '<span class="ok">all ok</span>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 72em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 0.4em 0.6em; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.num {{ text-align: right; white-space: nowrap; }}
.stem {{ color: #777; font-size: 0.85em; }}
.ok {{ color: #070; font-weight: bold; }}
.failed {{ color: #c00; font-weight: bold; }}
.error {{ color: #900; font-size: 0.85em; max-width: 28em; }}
tfoot td {{ font-weight: bold; border-top: 2px solid #999; }}
</style></head><body>
<h1>Reports</h1>
<p>Each notebook was executed headlessly by <code>python -m lib.report</code> and rendered to HTML.
A failed notebook's page stops at its error and says so at the top.</p>
<table>
<thead><tr><th>Notebook</th><th>Status</th><th>Profile</th><th>Date (UTC)</th><th>Commit</th><th>Device</th><th class="num">Wall time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
<tfoot><tr><td>Total: {len(entries)} notebooks</td><td>{verdict}</td><td colspan="4"></td><td class="num">{total:.1f} s</td></tr></tfoot>
</table>
</body></html>
"""


# ---- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help=f"parameter values: {', '.join(PROFILES)} (default quick)")
    parser.add_argument("--only", action="append", metavar="NAMES",
                        help="comma-separated notebook stems or number prefixes, e.g. 01_supervised,02")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter in every selected notebook that declares it (repeatable)")
    parser.add_argument("--output", default=None, help="folder for executed notebooks and HTML (default reports/)")
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
    width = max([len(r.stem) for r in results] + [8])
    print(f"\n{'notebook':<{width}}  {'status':<6}  {'wall time':>10}")
    for r in results:
        print(f"{r.stem:<{width}}  {r.status:<6}  {r.wall_time_s:>8.1f} s" + (f"  {r.error}" if r.error else ""))
    print(f"{'total':<{width}}  {'':<6}  {sum(r.wall_time_s for r in results):>8.1f} s")
    print(f"index: {output / 'index.html'}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = dict(args.parameter)
    notebooks_dir = Path(args.notebooks) if args.notebooks else repo_path("notebooks")
    output = Path(args.output) if args.output else repo_path("reports")
    try:
        if args.list:
            print_listing(plan(notebooks_dir, args.profile, args.only, overrides), args.profile, overrides)
            return 0
        if args.plan:
            print_plan(plan(notebooks_dir, args.profile, args.only, overrides), args.profile)
            return 0
        if args.require_records:
            os.environ[REQUIRE_RECORDS_ENV] = "1"  # inherited by the kernels (and by this process: plain)
        if args.engine == "plain":
            results = run_plain(args.profile, args.only, overrides, notebooks_dir)
        else:
            results = run_reports(args.profile, args.only, overrides, output, args.kernel, args.cell_timeout,
                                  notebooks_dir)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.engine == "papermill":
        print_summary(results, output)  # (run_plain printed each notebook's status as it finished)
    failed = [r.stem for r in results if r.status != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
