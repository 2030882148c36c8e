"""Train every run of a profile without executing its notebooks: long training in the background.

    nice -n 19 python scripts/train_profile.py --profile cifar-cpu --commit

The runs are the notebooks' own (each notebook module's builder, the runs ``--plan`` counts), in
notebook order and, within a notebook, in the order of its groups (pretraining before the runs
that fine-tune or distil it). A run with a complete record is skipped; an interrupted one resumes
from its checkpoint (``lib.training.run``), so the command is resumable: run it again after a stop.
A run that fails is reported and the others go on (its dependants fail in turn, naming it).
What a notebook computes from a run's weights (its module's ``after_training``: 06's transformation
probes) is computed right after the run, while the weights exist, and stored in its folder.

``--commit`` commits each record as it completes (``git add runs/<id>``; nothing else is staged),
so that an interruption loses at most the run in progress. The pages are rendered afterwards, from
the records, by ``python -m lib.report --profile <profile> --require-records``.

``--shard K/N`` trains the K-th of N disjoint shares of the runs left, so that N processes share a
machine: on this project's 2-core CPU, two one-thread processes train about 11 % more runs an hour
than one two-thread process (``OMP_NUM_THREADS=1``; measured on a 05 pretraining run, 8.6 s alone
against 15.3 s for two side by side). A run goes with its parent and every run that starts from it
(the weights a child loads stay in the process's folder), and the shares are balanced by the plan's
estimated minutes. Start (and restart) the N processes together, from one commit: the shares are
computed at the start. Commits from the processes take turns (a lock in the git folder).

    OMP_NUM_THREADS=1 nice -n 19 python scripts/train_profile.py --profile P --commit --shard 1/2 &
    OMP_NUM_THREADS=1 nice -n 19 python scripts/train_profile.py --profile P --commit --shard 2/2 &
"""

from __future__ import annotations

import argparse
import fcntl
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import methods, training  # noqa: E402
from lib.config import Config, repo_path  # noqa: E402
from lib.records import existing_record  # noqa: E402
from lib.report import notebooks, plans, runner  # noqa: E402
from lib.report.params import ParameterError  # noqa: E402


def profile_runs(profile: str, only: list[str] | None = None) -> list[tuple[str, str, Config]]:
    """``(notebook, group, config)`` of every run of ``profile``, each run once, in training order."""
    return [(nb, group, config) for nb, group, config, _ in _runs(profile, only)]


def _runs(profile: str, only: list[str] | None = None):
    seen: set[str] = set()
    for path, declared, values in runner.plan(repo_path("notebooks"), profile, only):
        merged = {**{n: p.value for n, p in declared.items()}, **values}
        for group, settings in plans.notebook_groups(path.stem, merged).items():
            for configs in settings.values():
                for config in configs:
                    if config.run_id() not in seen:
                        seen.add(config.run_id())
                        yield path.stem, group, config, merged


def shard(runs: list, k: int, n: int) -> list:
    """The ``k``-th (1-based) of ``n`` disjoint shares of ``runs`` (``(notebook, group, config, ...)``
    tuples), order kept. A run's share is its root's (the run it descends from through its parents:
    pretraining, teacher), so a child trains where its parent's weights are; roots go, the costliest
    first, to the share with the fewest estimated minutes so far. Every run counts, trained or not, so the
    shares do not move as records complete; they move with the code (the runs, the rates measured), so
    the N processes start, and restart, together from one commit."""
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N; got {k}/{n}")
    by_id = {r[2].run_id(): r[2] for r in runs}

    def root(config: Config) -> str:
        seen = {config.run_id()}
        while (parent := methods.parent_run(config)) in by_id and parent not in seen:
            config = by_id[parent]
            seen.add(parent)
        return config.run_id()

    found = plans.measurements(runs[0][2].runs_dir) if runs else ()
    roots = {r[2].run_id(): root(r[2]) for r in runs}
    cost: dict[str, float] = {}
    for r in runs:
        seconds = plans.estimated_seconds(r[2], plans.rate_for(r[2], "cpu", found))
        cost[roots[r[2].run_id()]] = cost.get(roots[r[2].run_id()], 0.0) + (60.0 if math.isnan(seconds) else seconds)
    load, owner = [0.0] * n, {}
    for rid in sorted(cost, key=lambda r: (-cost[r], r)):
        owner[rid] = min(range(n), key=lambda i: (load[i], i))
        load[owner[rid]] += cost[rid]
    return [r for r in runs if owner[roots[r[2].run_id()]] == k - 1]


def _git_lock():
    """An exclusive lock in the git folder: processes sharing a work tree commit one at a time."""
    git_dir = subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True, text=True, check=True,
                             cwd=repo_path(".")).stdout.strip()
    handle = open(Path(repo_path(".")) / git_dir / "train_profile.lock", "w")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def commit_record(config: Config, note: str, only_if_changed: bool = False) -> None:
    """Commit the run's folder (its record, metrics, embeddings, evaluations; checkpoints are ignored) and
    nothing else."""
    with _git_lock():
        _commit(config, note, only_if_changed)


def _commit(config: Config, note: str, only_if_changed: bool) -> None:
    folder = Path(config.resolved_runs_dir()) / config.run_id()
    subprocess.run(["git", "add", "--", str(folder)], check=True, cwd=repo_path("."))
    if only_if_changed and subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(folder)],
                                          cwd=repo_path(".")).returncode == 0:
        return
    subprocess.run(["git", "commit", "-q", "-m", note, "--", str(folder)], check=True, cwd=repo_path("."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--only", action="append", metavar="NN", help="only these notebooks (repeatable)")
    parser.add_argument("--commit", action="store_true", help="commit each record as it completes")
    parser.add_argument("--dry-run", action="store_true", help="list the runs left to train; train nothing")
    parser.add_argument("--shard", metavar="K/N", help="train only the K-th of N disjoint shares (runs stay with "
                        "their parents), for N processes side by side")
    args = parser.parse_args(argv)
    try:
        runs = list(_runs(args.profile, args.only))
        if args.shard:
            k, _, n = args.shard.partition("/")
            if not (k.isdigit() and n.isdigit()):
                raise ValueError(f"--shard takes K/N, two whole numbers (1/2, 2/2); got {args.shard!r}")
            runs = shard(runs, int(k), int(n))
    except (ParameterError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    todo = [(nb, g, c, v) for nb, g, c, v in runs if existing_record(c) is None]
    share = f" (shard {args.shard})" if args.shard else ""
    print(f"profile {args.profile}{share}: {len(runs)} runs, {len(runs) - len(todo)} recorded, {len(todo)} to train",
          flush=True)
    if args.dry_run:
        for nb, group, config, _ in todo:
            print(f"  {nb} / {group}: {config.run_id()}")
        return 0
    failed = []
    for nb, group, config, values in runs:  # what earlier calls recorded but did not compute (interrupted)
        hook = getattr(notebooks.notebook(nb), "after_training", None)
        record = existing_record(config)
        if hook and record is not None:
            hook(values, record)
            if args.commit:
                commit_record(config, f"{args.profile}: {config.run_id()}'s evaluations ({nb})", only_if_changed=True)
    for i, (nb, group, config, values) in enumerate(todo, 1):
        start = time.monotonic()
        hook = getattr(notebooks.notebook(nb), "after_training", None)
        try:
            record = training.run(config.replace(progress=False))
            if hook:
                hook(values, record)
        except Exception as e:  # noqa: BLE001 - report it, go on with the runs that do not need it
            failed.append(config.run_id())
            print(f"[{i}/{len(todo)}] {nb} / {group}: {config.run_id()} FAILED: {type(e).__name__}: {e}", flush=True)
            continue
        minutes = (time.monotonic() - start) / 60
        print(f"[{i}/{len(todo)}] {nb} / {group}: {config.run_id()} done in {minutes:.1f} min", flush=True)
        if args.commit:
            commit_record(config, f"{args.profile}: record {config.run_id()} ({nb}, {group}; {minutes:.1f} min)")
    print(f"finished: {len(todo) - len(failed)} trained, {len(failed)} failed" +
          (f": {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
