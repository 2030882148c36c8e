"""From run records to the thesis' tables: manifests, mean ± std over seeds, provenance.

Every training notebook ends by writing a *manifest*: which runs (by id, one per seed) stand
behind each label it reports, plus its headline numbers. The summary notebook reads the
manifests and the run records they name, so each number on its page traces back to a record::

    <runs_dir>/_manifests/<notebook>-<profile>.json

The functions here are small and pure (records in, DataFrames or Figures out); pandas and
matplotlib are imported lazily, as in :mod:`lib.records`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .records import RunRecord, atomic_write_json, default_runs_dir, find_record, git_state, now_iso

MANIFEST_DIR = "_manifests"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ---- manifests ---------------------------------------------------------------------------------

def check_name(label: str, value: Any) -> None:
    """Refuse ``value`` unless it is a plain file-name part (letters, digits, '_', '-', '.')."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{label} must be a plain name (letters, digits, '_', '-', '.'); got {value!r}")


def manifest_path(notebook: str, profile: str, runs_dir: str | Path = "") -> Path:
    """Where the manifest of ``notebook`` run at ``profile`` lives."""
    check_name("notebook", notebook)
    check_name("profile", profile)
    base = Path(runs_dir) if runs_dir else default_runs_dir()
    return base / MANIFEST_DIR / f"{notebook}-{profile}.json"


def write_manifest(notebook: str, profile: str, runs: Mapping[str, str | list[str]],
                   headline: Mapping[str, Any] | None = None, runs_dir: str | Path = "") -> Path:
    """Record which runs a notebook reports, and its headline numbers; returns the file written.

    ``runs`` maps a label (``"SimCLR"``, ``"fine-tune h, 1 %"``) to a run id or a list of run ids
    (one per seed); lists are stored in every case. ``headline`` holds the few numbers the
    notebook concludes with (plain floats or strings). The file is written atomically, with the
    date and the git commit of the code that wrote it.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"runs must be a non-empty mapping label -> run id(s); got {runs!r}")
    normalised: dict[str, list[str]] = {}
    for label, ids in runs.items():
        ids = [ids] if isinstance(ids, str) else list(ids)
        if not ids or not all(isinstance(i, str) and i for i in ids):
            raise ValueError(f"runs[{label!r}] must be a run id or a non-empty list of run ids; got {runs[label]!r}")
        normalised[str(label)] = ids
    path = manifest_path(notebook, profile, runs_dir)
    state = git_state()
    atomic_write_json(path, {"notebook": notebook, "profile": profile, "runs": normalised,
                             "labels": list(normalised),  # the JSON is key-sorted: keep the notebook's order
                             "headline": dict(headline or {}), "date": now_iso(),
                             "commit": state["commit"], "dirty": state["dirty"]})
    return path


def read_manifests(profile: str, runs_dir: str | Path = "") -> dict[str, dict[str, Any]]:
    """All manifests written at ``profile``, keyed by notebook name, in notebook order.

    An absent manifest folder gives an empty dict: the caller says what is missing.
    """
    folder = manifest_path("x", profile, runs_dir).parent
    suffix = f"-{profile}.json"
    out = {}
    for path in sorted(folder.glob(f"*{suffix}")):
        manifest = json.loads(path.read_text())
        out[manifest.get("notebook", path.name[: -len(suffix)])] = manifest
    return out


def manifest_records(manifest: Mapping[str, Any], runs_dir: str | Path = ""
                     ) -> tuple[dict[str, list[RunRecord]], list[str]]:
    """The records a manifest names, per label (in the order the notebook gave), and the ids
    that could not be found.

    Records that are missing (e.g. a deleted runs folder) are listed rather than raised, so a
    summary can say what it lacks and go on with the rest.
    """
    records: dict[str, list[RunRecord]] = {}
    missing: list[str] = []
    runs = manifest["runs"]
    for label in [l for l in manifest.get("labels", []) if l in runs] + sorted(set(runs) - set(manifest.get("labels", []))):
        ids = runs[label]
        found = []
        for run_id in ([ids] if isinstance(ids, str) else ids):
            try:
                found.append(find_record(run_id, runs_dir or None))
            except (FileNotFoundError, ValueError):
                missing.append(run_id)
        if found:
            records[label] = found
    return records, missing


# ---- tables ------------------------------------------------------------------------------------

def _value(record: RunRecord, key: str) -> float:
    """``record.results[key]`` as a float; NaN when absent or not a number (NaN is stored as null)."""
    value = record.results.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) over the finite values; the deviation is 0
    for a single value and both are NaN for none."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0


def aggregate(records: Mapping[str, list[RunRecord]], keys: list[str]):
    """One row per label (the index): ``<key>`` (mean over seeds), ``<key>_std``, and ``seeds``.

    The standard deviation is the sample one over seeds (``ddof=1``, as :func:`lib.plots.results_table`
    computes it); a single seed gives 0 rather than NaN (:func:`format_mean_std` then shows no spread). A key missing from every record of a label gives NaN; a key missing from some seeds
    is averaged over the seeds that have it.
    """
    import pandas as pd

    if isinstance(keys, str):
        raise ValueError(f"keys must be a list of result names, not the string {keys!r}")
    rows = {}
    for label, recs in records.items():
        row: dict[str, Any] = {}
        for key in keys:
            row[key], row[f"{key}_std"] = _mean_std([_value(r, key) for r in recs])
        row["seeds"] = len(recs)
        rows[label] = row
    columns = [c for key in keys for c in (key, f"{key}_std")] + ["seeds"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def label_efficiency_table(records: Mapping[str, list[RunRecord]], key: str = "test_top1"):
    """Rows (method, label_fraction): mean and std of ``key`` over seeds, for a label-efficiency plot.

    Each label is a method; its records may span several label fractions (read from each run's
    config) and seeds. Runs without ``key`` (e.g. the pretraining runs) are left out.
    """
    import pandas as pd

    rows = []
    for method, recs in records.items():
        by_fraction: dict[float, list[float]] = {}
        for r in recs:
            by_fraction.setdefault(r.config.label_fraction, []).append(_value(r, key))
        for fraction, values in sorted(by_fraction.items()):
            mean, std = _mean_std(values)
            if math.isfinite(mean):
                rows.append({"method": method, "label_fraction": fraction, key: mean, f"{key}_std": std,
                             "seeds": len(values)})
    return pd.DataFrame(rows, columns=["method", "label_fraction", key, f"{key}_std", "seeds"])


def provenance_table(records: Iterable[RunRecord]):
    """Where and when each run ran: one row per run id (duplicates dropped, order kept)."""
    import pandas as pd

    rows, seen = [], set()
    for r in records:
        if r.run_id in seen:
            continue
        seen.add(r.run_id)
        p, c = r.provenance, r.config
        rows.append({"run_id": r.run_id, "task": c.task, "dataset": c.dataset, "arch": c.arch,
                     "epochs": c.epochs, "seed": c.seed, "commit": (p.get("commit") or "")[:10],
                     "dirty": p.get("dirty"), "device": p.get("device"), "finished": p.get("finished"),
                     "wall_time_s": p.get("wall_time_s")})
    return pd.DataFrame(rows, columns=["run_id", "task", "dataset", "arch", "epochs", "seed", "commit",
                                       "dirty", "device", "finished", "wall_time_s"])


def format_mean_std(df, keys: list[str], percent: bool = True, digits: int = 1):
    """Display strings ``"71.2 ± 0.4"`` for ``keys`` (their ``_std`` columns folded in).

    Values are fractions shown as percentages when ``percent``. Where a ``seeds`` column says
    one seed, only the mean is shown (a spread over one seed would be a false 0). NaN shows as
    ``"–"``. Other columns are kept as they are.
    """
    import pandas as pd

    if isinstance(keys, str):
        raise ValueError(f"keys must be a list of column names, not the string {keys!r}")
    absent = [k for k in keys if k not in df.columns]
    if absent:
        raise ValueError(f"keys {absent} are not columns of the table; columns: {list(df.columns)}")
    scale = 100.0 if percent else 1.0
    seeds = df["seeds"] if "seeds" in df.columns else pd.Series(2, index=df.index)
    out = pd.DataFrame(index=df.index)
    for column in df.columns:
        if column.endswith("_std") and column[: -len("_std")] in keys:
            continue
        if column not in keys:
            out[column] = df[column]
            continue
        std = df[f"{column}_std"] if f"{column}_std" in df.columns else pd.Series(math.nan, index=df.index)
        out[column] = [_format(m, s, n, scale, digits) for m, s, n in zip(df[column], std, seeds)]
    return out


def _format(mean: float, std: float, seeds: int, scale: float, digits: int) -> str:
    if mean is None or not math.isfinite(mean):
        return "–"
    text = f"{mean * scale:.{digits}f}"
    if seeds > 1 and std is not None and math.isfinite(std):
        text += f" ± {std * scale:.{digits}f}"
    return text


def best_row(table, key: str) -> tuple[str, float, float] | None:
    """``(label, mean, std)`` of the row with the highest ``key``; None when no row has a value."""
    if key not in table.columns:
        raise ValueError(f"key {key!r} is not a column of the table; columns: {list(table.columns)}")
    values = table[key].astype(float)
    if not values.notna().any():
        return None
    label = values.idxmax()
    std = table.loc[label, f"{key}_std"] if f"{key}_std" in table.columns else math.nan
    return str(label), float(values[label]), float(std)


def split_layers(table, metrics: list[str], layers: tuple[str, ...] = ("h", "z")):
    """Rows ``"<label> (<layer>)"`` with columns ``metrics`` (and ``_std``, ``seeds``), from a table
    whose columns are ``<layer>/<metric>``: the same metric of h and z side by side, for one bar
    chart comparing the representation before and after the projection head."""
    import pandas as pd

    rows = {}
    for label, row in table.iterrows():
        for layer in layers:
            values = {}
            for m in metrics:
                for suffix in ("", "_std"):
                    column = f"{layer}/{m}{suffix}"
                    values[f"{m}{suffix}"] = row[column] if column in table.columns else math.nan
            if any(math.isfinite(values[m]) for m in metrics):
                rows[f"{label} ({layer})"] = {**values, "seeds": int(row.get("seeds", 1))}
    columns = [c for m in metrics for c in (m, f"{m}_std")] + ["seeds"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def headline_table(manifests: Mapping[str, Mapping[str, Any]]):
    """The headline numbers of every manifest: one row per (notebook, quantity)."""
    import pandas as pd

    rows = [{"notebook": nb, "quantity": key, "value": value}
            for nb, manifest in manifests.items() for key, value in (manifest.get("headline") or {}).items()]
    return pd.DataFrame(rows, columns=["notebook", "quantity", "value"])


# ---- figures -----------------------------------------------------------------------------------

_AXIS_NAMES = {"test_top1": "test accuracy, top-1", "h/knn_top1": "kNN accuracy on h"}

def label_efficiency_figure(table, key: str = "test_top1", title: str = "", baselines: Iterable[str] = (),
                            dpi: int = 90):
    """Accuracy against the fraction of labels (log x), one line per method, error bars = std.

    ``table`` is :func:`label_efficiency_table`'s output; methods named in ``baselines`` are drawn
    dashed. SimCLRv2 (Chen et al., 2020b, Fig. 1)
    plots top-1 accuracy against the fraction of labels on a log axis; this is that figure for
    our runs.
    """
    from matplotlib.figure import Figure

    baselines = set(baselines)
    missing = {"method", "label_fraction", key} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}; make it with label_efficiency_table")
    fig = Figure(figsize=(6.0, 4.0), dpi=dpi)  # object API: nothing registered with pyplot
    ax = fig.subplots()
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values("label_fraction")
        std = rows[f"{key}_std"] * 100 if f"{key}_std" in rows.columns else None
        ax.errorbar(rows["label_fraction"] * 100, rows[key] * 100, yerr=std, marker="o", capsize=3,
                    label=method, linestyle="--" if method in baselines else "-")
    fractions = sorted(set(table["label_fraction"]))
    ax.set_xscale("log")
    if fractions:
        ax.set_xticks([f * 100 for f in fractions], [f"{f * 100:g} %" for f in fractions])
        ax.minorticks_off()
    ax.set_xlabel("labelled training images")
    ax.set_ylabel(_AXIS_NAMES.get(key, key) + " (%)")
    ax.grid(alpha=0.3)
    if len(table):
        ax.legend(fontsize=8)
    ax.set_title(title or f"{key} against the fraction of labels")
    fig.tight_layout()
    return fig
