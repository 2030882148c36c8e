"""Train a notebook's full-profile runs on a lent GPU within one device call, and bring the records back.

The full profile of the related-work notebooks (05-08) is hours of GPU time; a lent machine gives
minutes at a time, without Jupyter's packages and with at most eight files coming back. This
script:

1. unpacks the CIFAR-10 JPEG tarball carried with the call (as ``gpu_check.py`` does) into
   ``data/cifar10-jpeg``, the relative path every machine uses, so run ids agree everywhere;
2. runs ``python -m lib.report --engine plain --profile full --only <notebooks> -p dataset
   imagefolder:data/cifar10-jpeg``: the notebooks' code cells, which train (or load) their runs and
   write records into ``runs/``;
3. every ``--pack-every`` seconds, and at the end, packs every complete run whose files changed
   during the call (record, metrics, embeddings, cached evaluations; never checkpoints) and the
   notebooks' manifests into ``<out>/<name>-runs.tar.gz``, rewritten atomically, so that a call
   stopped by its time limit still returns every run it finished;
4. stops the notebooks at ``--deadline-minutes`` and writes ``<out>/<name>.json`` (runs packed,
   status, provenance) beside ``<out>/<name>.log``;
5. at the deadline, also packs each unfinished run (its files and its newest epoch checkpoint) into
   ``<out>/<name>-carry.tar.gz``, as many as fit ``--carry-limit-mib`` (a file back from a call, and
   carried into the next, must stay within the device tool's limits: benchmarks/README.md); a run
   that does not fit is named in the summary with its size;
6. with ``--carry <the previous call's -carry.tar.gz>``, unpacks it into the runs folder before the
   notebooks start, so that each carried run resumes from its checkpoint (bitwise as if never cut).

Runs resume: the next call trains only what is missing (records of earlier calls are committed in
``runs/``, so they are loaded, not retrained; runs cut by the deadline resume from the carried pack). When every run of a notebook is there, render its
page on any CPU with ``python -m lib.report --profile full --only <notebook> -p dataset
imagefolder:data/cifar10-jpeg --require-records``.

    python3 benchmarks/gpu_report.py --only 06 --data data/cifar10-jpeg.tar.gz --out "$OUT"   # GPU machine
    tar -xzf <files_at>/gpu_report-*-runs.tar.gz -C runs/                                       # here
    cp <files_at>/gpu_report-*-carry.tar.gz .carry/ # here, then the next call: ... --carry .carry/<it>
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))          # gpu_check.py beside this file
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # lib

from gpu_check import resolve_data, safe_extract, write_tarball  # noqa: E402
from lib.checkpoints import epoch_checkpoints  # noqa: E402
from lib.config import repo_path  # noqa: E402
from lib.records import (CHECKPOINT_DIR, RECORD_FILE, atomic_write_json, git_state, now_iso)  # noqa: E402

DATA_FOLDER = "data/cifar10-jpeg"  # relative to the repository root: the same run ids on every machine
MANIFESTS = "_manifests"
# A file back from a device call is at most 16 MiB, and what a call carries in (the data's 27 MB
# tarball, the working tree, this pack) at most 64 MiB together (benchmarks/README.md): the carry pack
# is one file within the first limit, hence also within the second.
CARRY_LIMIT_MIB = 16.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", required=True, help="notebooks to run, as for lib.report (e.g. 06 or 05,06)")
    p.add_argument("--profile", default="full", help="the profile (default full)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a further notebook parameter, as for lib.report (dataset is set by this script)")
    p.add_argument("--data", default="", help="CIFAR-10 image folder or its .tar.gz (as gpu_check.py); "
                                              "'sample' trains on the embedded sample instead (tests)")
    p.add_argument("--runs-dir", default="", help="where records go (default: runs/ of the repository)")
    p.add_argument("--out", required=True, help="folder for the log, the summary and the tarball of records")
    p.add_argument("--deadline-minutes", type=float, default=8.5, help="the notebooks are stopped after this long")
    p.add_argument("--pack-every", type=float, default=30.0, help="seconds between packings of finished runs")
    p.add_argument("--carry", default="", help="the previous call's <name>-carry.tar.gz: its unfinished runs are "
                                               "unpacked into the runs folder first and resume from their checkpoints")
    p.add_argument("--carry-limit-mib", type=float, default=CARRY_LIMIT_MIB,
                   help=f"largest carry pack written at the deadline (default {CARRY_LIMIT_MIB:g}: a file back "
                        "from a device call)")
    args = p.parse_args(argv)
    if any(name == "dataset" for name, _ in args.parameter):
        p.error("-p dataset is set by this script (--data)")
    if args.deadline_minutes <= 0 or args.pack_every <= 0 or args.carry_limit_mib <= 0:
        p.error("--deadline-minutes, --pack-every and --carry-limit-mib must be > 0")
    return args


def record_files(run: Path) -> list[Path]:
    """The files of a run that travel: everything but checkpoints and temporary files."""
    return [f for f in sorted(run.rglob("*")) if f.is_file() and not f.name.startswith(".")
            and CHECKPOINT_DIR not in f.relative_to(run).parts]


def changed_runs(runs_dir: Path, since: float) -> dict[Path, list[Path]]:
    """Complete runs in ``runs_dir`` with a travelling file modified at or after ``since``: run -> files."""
    found = {}
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name != MANIFESTS):
        try:
            complete = json.loads((run / RECORD_FILE).read_text()).get("status") == "complete"
        except (OSError, json.JSONDecodeError):
            continue  # still running, or being written
        files = record_files(run) if complete else []
        if any(f.stat().st_mtime >= since for f in files):
            found[run] = files
    return found


def pack(runs_dir: Path, since: float, tarball: Path) -> list[str]:
    """Pack the runs changed since ``since`` (no checkpoints) and the manifests changed since then
    into ``tarball`` (paths relative to ``runs_dir``), atomically; returns the run ids."""
    runs = changed_runs(runs_dir, since)
    manifests = [m for m in sorted((runs_dir / MANIFESTS).glob("*.json")) if m.stat().st_mtime >= since] \
        if (runs_dir / MANIFESTS).is_dir() else []
    files = [f for run_files in runs.values() for f in run_files] + manifests
    write_tarball(((f, str(f.relative_to(runs_dir))) for f in files), tarball)
    return [run.name for run in runs]


def unfinished_runs(runs_dir: Path) -> dict[Path, list[Path]]:
    """Runs without a complete record that have an epoch checkpoint: run -> its travelling files and its
    newest epoch checkpoint (what a resume reads; older checkpoints stay behind)."""
    found = {}
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name != MANIFESTS):
        try:
            if json.loads((run / RECORD_FILE).read_text()).get("status") == "complete":
                continue
        except (OSError, json.JSONDecodeError):
            pass  # no record yet, or one being written: unfinished
        newest = epoch_checkpoints(run / CHECKPOINT_DIR)[-1:] if (run / CHECKPOINT_DIR).is_dir() else []
        if newest:
            found[run] = record_files(run) + [newest[0][1]]
    return found


def carry_plan(sizes: dict[str, int], limit_bytes: int) -> tuple[list[str], dict[str, str]]:
    """Which runs (id -> bytes of their files) the carry pack takes within ``limit_bytes``: in order,
    each that still fits (checkpoints hardly compress: counted at their size, plus a margin for the
    archive's headers); the others -> why not."""
    taken, left, used = [], {}, 0
    for run, size in sizes.items():
        need = size + size // 500 + 4096
        if used + need <= limit_bytes:
            taken.append(run)
            used += need
        else:
            left[run] = (f"{size / 2**20:.1f} MiB with its checkpoint; {max(0, limit_bytes - used) / 2**20:.1f} "
                         f"of the {limit_bytes / 2**20:g} MiB carry limit left")
    return taken, left


def pack_carry(runs_dir: Path, tarball: Path, limit_mib: float) -> tuple[list[str], dict[str, str]]:
    """Pack the unfinished runs that fit ``limit_mib`` (:func:`carry_plan`) into ``tarball``, atomically;
    returns (run ids carried, run id -> why not carried). No unfinished run: no file."""
    runs = unfinished_runs(runs_dir)
    if not runs:
        return [], {}
    taken, left = carry_plan({run.name: sum(f.stat().st_size for f in files) for run, files in runs.items()},
                             int(limit_mib * 2**20))
    if taken:
        write_tarball(((f, str(f.relative_to(runs_dir))) for run, files in runs.items() if run.name in taken
                       for f in files), tarball)
    return taken, left


def past_deadline(deadline: float) -> bool:
    """Whether the call's deadline (a ``time.perf_counter()`` value) has passed."""
    return time.perf_counter() >= deadline


def report_command(args: argparse.Namespace, dataset: str) -> list[str]:
    cmd = [sys.executable, "-m", "lib.report", "--engine", "plain", "--profile", args.profile, "--only", args.only,
           "-p", "dataset", dataset]
    for name, value in args.parameter:
        cmd += ["-p", name, value]
    return cmd


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.carry and not Path(args.carry).is_file():
        print(f"error: --carry {args.carry}: no such file; pass the -carry.tar.gz a previous call wrote, "
              "carried with the call", file=sys.stderr)
        raise SystemExit(2)
    t_start, since = time.perf_counter(), time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"gpu_report-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M')}"
    runs_dir = Path(args.runs_dir).resolve() if args.runs_dir else repo_path("runs")
    runs_dir.mkdir(parents=True, exist_ok=True)
    carried_in = []
    if args.carry:  # the previous call's unfinished runs, with their newest checkpoints: they resume
        safe_extract(Path(args.carry), runs_dir)
        carried_in = sorted(p.name for p in unfinished_runs(runs_dir))
        print(f"unpacked {args.carry}: {len(carried_in)} unfinished run(s) resume from their checkpoints", flush=True)
    if args.data == "sample":
        dataset = "sample"
    else:
        folder = resolve_data(args.data, repo_path(DATA_FOLDER))
        if folder.resolve() != repo_path(DATA_FOLDER).resolve():
            raise SystemExit(f"the image folder must be {DATA_FOLDER} of the repository (run ids name it); "
                             f"got {folder}: pass the tarball, or move the folder there")
        dataset = f"imagefolder:{DATA_FOLDER}"
    cmd = report_command(args, dataset)
    summary: dict = {"benchmark": "gpu_report", "name": name, "command": cmd, "status": "running",
                     "provenance": {"date": now_iso(), **git_state()}, "runs": [], "carried_in": carried_in}
    tarball, log_path = out / f"{name}-runs.tar.gz", out / f"{name}.log"
    carry = out / f"{name}-carry.tar.gz"

    def write(status: str) -> None:
        summary.update(status=status, wall_seconds=round(time.perf_counter() - t_start, 1),
                       runs=pack(runs_dir, since, tarball))
        atomic_write_json(out / f"{name}.json", summary)

    env = {**os.environ, "THESIS_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    print(" ".join(cmd), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=repo_path("."), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)

        def relay() -> None:  # the notebooks' output, to the console and the log
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
                log.flush()

        reader = threading.Thread(target=relay, daemon=True)
        reader.start()
        deadline = t_start + 60 * args.deadline_minutes
        stopped = False
        while proc.poll() is None:
            try:
                proc.wait(timeout=min(args.pack_every, max(0.1, deadline - time.perf_counter())))
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is None and past_deadline(deadline):
                stopped = True
                os.killpg(proc.pid, signal.SIGTERM)  # the run in progress is resumed by the next call
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            write("stopped at the deadline" if stopped else "running")
        reader.join(timeout=10)
    status = "stopped at the deadline" if stopped else ("complete" if proc.returncode == 0 else "failed")
    summary["returncode"] = proc.returncode
    if stopped:  # the runs cut now resume in the next call, from the checkpoints it carries in
        summary["carried"], summary["not_carried"] = pack_carry(runs_dir, carry, args.carry_limit_mib)
        summary["carry"] = carry.name if summary["carried"] else None
    write(status)
    print(f"{status}: {len(summary['runs'])} run(s) packed into {tarball} after {summary['wall_seconds']:.0f} s",
          flush=True)
    if stopped:
        print(f"{len(summary['carried'])} unfinished run(s) packed with their last checkpoint into {carry}"
              + "".join(f"\nnot carried (starts over next call): {run}: {why}"
                        for run, why in summary["not_carried"].items()), flush=True)
    return summary


if __name__ == "__main__":
    main()
