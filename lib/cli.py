"""``python -m lib <command>``: train or evaluate one run from a config file and overrides.

    python -m lib pretrain --config configs/cifar10_cpu_10min.toml epochs=20 seed=1
    python -m lib pretrain --config simclr_official_cifar10 dataset=imagefolder:data/cifar10-jpeg
    python -m lib finetune pretrained=pretrain-0123456789ab label_fraction=0.1
    python -m lib evaluate pretrain-0123456789ab --layer 1

Each training command prints where its run record went. A finished run (same config hash)
is loaded, not retrained, unless ``--force`` is given. Launched with torchrun, a training
command runs data-parallel over the processes (``batch_size`` is then the global batch):

    torchrun --nproc-per-node 4 -m lib pretrain --config configs/cifar10_cpu_10min.toml

A failure is one line on stderr naming the file or parameter at fault. Exit codes: 0 done, 1 the run
failed (a loss that became NaN or infinite), 2 bad input: a parameter, a config file, a data folder,
a runs folder, a record or a checkpoint that cannot be used (nothing was trained, or the record says
what happened).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import config as cfg
from . import methods
from .checkpoints import CheckpointError
from .records import WriteError

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, CheckpointError, WriteError)  # exit 2, one line



def train_commands() -> dict[str, methods.Method]:
    """The training commands: one per registered method (:mod:`lib.methods`), by its CLI command."""
    return {m.cli_command: m for m in methods.METHODS.values()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, method in train_commands().items():
        p = sub.add_parser(name, help=method.summary, description=method.summary,
                           epilog="parameters (key=value):\n" + cfg.help_table(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("overrides", nargs="*", metavar="key=value", help="config values, applied after --config")
        p.add_argument("--config", help="a .toml or .json file of config values, or the name of a reference recipe "
                                        "in configs/recipes/ (simclr_official_cifar10, solo_learn_cifar, "
                                        "lightly_cifar10, dkobak_cifar10)")
        p.add_argument("--force", action="store_true", help="train again even if a finished record exists")
        p.add_argument("--dry-run", action="store_true", help="validate and print the config and run id, train nothing")
    p = sub.add_parser("evaluate", help="evaluation battery on a finished run's features",
                       description="kNN, linear probe, Recall@K, MAP@R and NMI/ARI on the test split, "
                                   "from the encoder output (layer 0) or a projection-head layer")
    p.add_argument("run", help="run id (looked up in --runs-dir) or a run directory")
    p.add_argument("--layer", type=int, default=0, help="0 = encoder output h; k = after the head's k-th layer")
    p.add_argument("--runs-dir", default=None, help="where run records are (default $THESIS_RUNS_DIR or ./runs)")
    p.add_argument("--device", default="auto", choices=cfg.DEVICES)
    p.add_argument("--no-probe", action="store_true", help="skip the linear probe")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            from .evaluate import EvaluationNotSaved, evaluate_record

            try:
                out = evaluate_record(args.run, layer=args.layer, runs_dir=args.runs_dir, device=args.device,
                                      probe=not args.no_probe)
            except EvaluationNotSaved as e:  # computed but not saved: the scores still reach the user
                print(json.dumps(e.out["scores"], indent=2))
                raise
            print(json.dumps(out["scores"], indent=2))
            return 0
        from . import recipes

        path = recipes.path(args.config) if args.config else None
        config = cfg.load_config(path, args.overrides, task=train_commands()[args.command].name)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2))
        print(f"run id: {config.run_id()}")
        return 0
    from . import distributed
    from .training import NonFiniteLossError, run

    try:
        distributed.init_from_env(config.device)  # under torchrun: join the process group; else nothing
        main = distributed.is_main()
        record = run(config, force=args.force)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        distributed.cleanup()
    if not main:  # a process other than rank 0 of a torchrun run: rank 0 reports
        return 0
    print(f"run record: {record.directory}")
    print(json.dumps({k: v for k, v in record.results.items()}, indent=2))
    return 0
