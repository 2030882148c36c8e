"""Wall time behind a profile's committed records, per notebook, and an estimate for a quiet CPU.

    python scripts/profile_hours.py --profile cifar-cpu

"measured" sums the records' wall time (every segment of a resumed run). The estimate allows for
other work that shared the CPU: runs of one kind (task, architecture, width, batch size, training
images, device) share a quiet rate, the 90th percentile of their epochs' training views per second;
a run's wall time is scaled by its median epoch rate over that quiet rate (never above 1). It is an
estimate and is printed as one; each run is counted once, under the first notebook that lists it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib.paths import repo_path  # noqa: E402
from lib.records import RECORD_FILE, load_record  # noqa: E402
from lib.report.manifests import as_list, read_manifests  # noqa: E402


def load_runs(runs_dir: Path, profile: str) -> dict[str, dict]:
    """``{run id: {notebook, wall, rates, kind, device}}`` for every run a manifest of ``profile`` lists."""
    owner: dict[str, str] = {}
    for notebook, manifest in read_manifests(profile, runs_dir).items():  # in notebook order
        for run in (r for runs in manifest["runs"].values() for r in as_list(runs)):
            owner.setdefault(run, notebook)
    runs = {}
    for run, notebook in owner.items():
        if not (runs_dir / run / RECORD_FILE).is_file():
            continue
        record = load_record(runs_dir / run)
        prov, config = record.provenance, record.config
        rates = [r for r in (e.get("views_per_second") for e in record.epochs) if r]
        kind = (config.task, config.arch, config.width, config.batch_size, prov.get("train_images"), prov.get("device"))
        runs[run] = {"notebook": notebook, "wall": float(prov.get("wall_time_s") or 0), "rates": rates,
                     "kind": kind, "device": prov.get("device")}
    return runs


def hours(runs: dict[str, dict]) -> dict[str, tuple[int, float, float]]:
    """``{notebook: (runs, measured s, quiet estimate s)}``."""
    quiet = {}
    for kind in {r["kind"] for r in runs.values()}:
        rates = sorted(x for r in runs.values() if r["kind"] == kind for x in r["rates"])
        quiet[kind] = rates[int(0.9 * (len(rates) - 1))] if rates else None
    out: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for r in runs.values():
        factor = min(statistics.median(r["rates"]) / quiet[r["kind"]], 1.0) if r["rates"] and quiet[r["kind"]] else 1.0
        row = out[r["notebook"]]
        row[0] += 1
        row[1] += r["wall"]
        row[2] += r["wall"] * factor
    return {k: tuple(v) for k, v in sorted(out.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cifar-cpu")
    parser.add_argument("--runs-dir", type=Path, default=repo_path("runs"))
    args = parser.parse_args(argv)
    runs = load_runs(args.runs_dir, args.profile)
    if not runs:
        print(f"no records of profile {args.profile!r} in {args.runs_dir}", file=sys.stderr)
        return 2
    table = hours(runs)
    print(f"{'notebook':26s} {'runs':>5s} {'measured':>9s} {'quiet (estimate)':>17s}")
    for notebook, (n, wall, est) in table.items():
        print(f"{notebook:26s} {n:5d} {wall / 3600:7.2f} h {est / 3600:15.2f} h")
    n, wall, est = (sum(v[i] for v in table.values()) for i in range(3))
    print(f"{'total':26s} {n:5d} {wall / 3600:7.2f} h {est / 3600:15.2f} h")
    print("devices: " + "; ".join(f"{d} ({c} runs)" for d, c in Counter(r["device"] for r in runs.values()).items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
