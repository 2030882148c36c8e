"""Train every run of a profile without executing its notebooks: long training in the background.

    nice -n 19 python scripts/train_profile.py --profile cifar-cpu-next --commit

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
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import training  # noqa: E402
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


def commit_record(config: Config, note: str, only_if_changed: bool = False) -> None:
    """Commit the run's folder (its record, metrics, embeddings, evaluations; checkpoints are ignored) and
    nothing else."""
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
    args = parser.parse_args(argv)
    try:
        runs = list(_runs(args.profile, args.only))
    except (ParameterError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    todo = [(nb, g, c, v) for nb, g, c, v in runs if existing_record(c) is None]
    print(f"profile {args.profile}: {len(runs)} runs, {len(runs) - len(todo)} recorded, {len(todo)} to train",
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
