"""DataFrames of the thesis' tables: mean ± std over seeds, provenance, claims, grids, settings.

Functions are small and pure (records or numbers in, DataFrames out); pandas is imported where a
DataFrame is built, so the rest of the report runs without it. The statistics behind the cells are
:mod:`lib.report.statistics`'s; the runs behind them are named by manifests (:mod:`lib.report.manifests`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..config import Config
from ..data import data_label
from ..records import RunRecord
from .grids import n_train_images
from .manifests import as_list, reported
from .papers import REFERENCES, TABLE3_ROWS
from .statistics import mean_std, plural, result_value, result_values

BATTERY_METRICS: tuple[str, ...] = ("knn_top1", "linear_probe_top1", "recall@1", "recall@2", "recall@4",
                                    "recall@8", "map@r", "nmi", "ari")  # the evaluation battery's scores


def aggregate(records: Mapping[str, list[RunRecord]], keys: list[str]):
    """One row per label (the index): ``<key>`` (mean over seeds), ``<key>_std``, and ``seeds``.

    The standard deviation is the sample one over seeds (``ddof=1``, as :func:`results_table`
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
            row[key], row[f"{key}_std"], _ = mean_std(result_values(recs, key))
        row["seeds"] = len(recs)
        rows[label] = row
    columns = [c for key in keys for c in (key, f"{key}_std")] + ["seeds"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def label_efficiency_table(records: Mapping[str, list[RunRecord]], key: str = "test_top1"):
    """Rows (method, label_fraction): mean and std of ``key`` over seeds, for a label-efficiency plot.

    Each label is a method; its records may span several label fractions (read from each run's
    config) and seeds. Runs without ``key`` (e.g. the pretraining runs) and a tuning grid's points
    (:func:`~lib.report.manifests.reported`) are left out.
    """
    import pandas as pd

    rows = []
    for method, recs in reported(records).items():
        by_fraction: dict[float, list[float]] = {}
        for r in recs:
            by_fraction.setdefault(r.config.label_fraction, []).append(result_value(r, key))
        for fraction, values in sorted(by_fraction.items()):
            mean, std, _ = mean_std(values)
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


def results_table(runs: Mapping[str, Any], metrics: Sequence[str] = BATTERY_METRICS, prefix: str = "h"):
    """Mean ± std over seeds of the results ``<prefix>/<metric>``, one row per label of ``runs``
    (label -> record or list of records, one per seed), with the columns named by ``metrics``.

    :func:`aggregate` with the layer prefix taken off the column names (``prefix=""``
    reads ``results[metric]`` itself): columns ``<metric>``, ``<metric>_std`` and ``seeds``.
    Display it with :func:`format_mean_std`.
    """
    keys = [f"{prefix}/{m}" if prefix else m for m in metrics]
    table = aggregate({label: as_list(group) for label, group in runs.items()}, keys)
    strip = len(prefix) + 1 if prefix else 0
    return table.rename(columns={c: c[strip:] for c in table.columns if c != "seeds"})


def claims_table(rows: Sequence[Mapping[str, Any]]):
    """Rows of :func:`claim_row` as a DataFrame (one row per claim)."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=list(CLAIM_COLUMNS))
    for column in ("p", "q"):
        frame[column] = [p_text(v) for v in frame[column]]
    return frame


def p_text(value: Any) -> str:
    """A p- or q-value with two significant digits (``0.012``); "–" where there was no test."""
    return f"{value:.2g}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


# the columns a page shows of a claim row (:func:`claim_row`; its "family" holds the test's inputs)
CLAIM_COLUMNS = ("claim", "source", "paper (points)", "ours (points)", "seeds", "ours / paper", "95 % CI (points)",
                 "test", "p", "q", "verdict")


def grid_table(values: Mapping[tuple[Any, Any], Sequence[float]], rows: Sequence[Any], cols: Sequence[Any],
               scale: float = 100.0):
    """A two-way table of "mean ± std" strings (in % with ``scale``): ``values[(row, col)]`` per seed.

    Cells not in ``values`` show "–"; one seed shows the mean alone.
    """
    import pandas as pd

    def cell(key):
        mean, std, n = mean_std(values.get(key, []))
        return "–" if not n else f"{mean * scale:.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")

    return pd.DataFrame([[cell((r, c)) for c in cols] for r in rows], index=list(rows), columns=list(cols))


def side_by_side(ours: Mapping[str, tuple[float, float, int]], paper: Mapping[str, float],
                 scale: float = 100.0):
    """One table with the paper's number beside ours, row by row (labels matched by name).

    ``ours`` maps a label to (mean, std, seeds) of a fraction (shown in % with ``scale``);
    ``paper`` maps the same labels to the paper's value in %. Labels on one side only keep "–".
    """
    import pandas as pd

    rows = []
    for label in dict.fromkeys([*ours, *paper]):
        mean, std, n = ours.get(label, (math.nan, math.nan, 0))
        shown = "–" if not n else f"{mean * scale:.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")
        rows.append({"setting": label, "paper": paper.get(label, math.nan), "ours": shown, "seeds": n})
    return pd.DataFrame(rows, columns=["setting", "paper", "ours", "seeds"]).set_index("setting")




def transformation_table(results: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]], scale: float = 100.0):
    """Rows (setting, transform): accuracy (%) of predicting the transform from h and from z, mean and
    std over seeds, chance, and SimCLR Table 3's h and g(h) where the paper has that transform."""
    import pandas as pd

    paper = REFERENCES["simclr.table3"].values
    rows = []
    for (setting, transform), per_seed in results.items():
        row: dict[str, Any] = {"setting": setting, "transform": transform}
        for layer in ("h", "z"):
            row[layer], row[f"{layer}_std"], row["seeds"] = mean_std([r[layer] * scale for r in per_seed])
        row["chance"] = mean_std([r["chance"] * scale for r in per_seed])[0]
        name = TABLE3_ROWS.get(transform)
        row["paper h"] = paper.get(f"{name}: h", math.nan) if name else math.nan
        row["paper z"] = paper.get(f"{name}: z", math.nan) if name else math.nan
        rows.append(row)
    columns = ["setting", "transform", "h", "h_std", "z", "z_std", "chance", "seeds", "paper h", "paper z"]
    return pd.DataFrame(rows, columns=columns).set_index(["setting", "transform"])


def describe_setting(config: Config, seeds: int, evaluation: str) -> str:
    """Our setting in one line: data, backbone, budget, optimiser, seeds, evaluation."""

    n = n_train_images(config.dataset, config.train_size)
    return (f"{data_label(config.dataset)} ({n:,} training images), {config.arch} width {config.width:g}, {config.epochs} epochs, "
            f"batch {config.batch_size}, {config.optimizer.upper()} lr {config.scaled_lr:g}, {plural(seeds, 'seed')}; "
            f"{evaluation}")


def setting_table(rows: Mapping[str, tuple[str, str]]):
    """The paper's setting beside ours, one row per experiment: ``{experiment: (paper, ours)}``."""
    import pandas as pd

    class FullText(pd.DataFrame):
        """A DataFrame shown with its sentences whole: pandas cuts cells at 50 characters ("...")."""

        @property
        def _constructor(self):
            return FullText

        def _repr_html_(self):  # through the pages' one table formatter (lib.report.formatting)
            from .formatting import table_html

            return table_html(self)

        def __repr__(self):
            with pd.option_context("display.max_colwidth", None, "display.width", 250):
                return super().__repr__()

    return FullText.from_dict({k: {"paper": p, "ours": o} for k, (p, o) in rows.items()}, orient="index")


def related_work_table(manifests: Mapping[str, Mapping[str, Any]]):
    """One row per claim of the related-work notebooks, with the verdicts of one profile's whole family.

    The related-work notebooks are those whose module in :mod:`lib.report.notebooks` names the claims
    they test (``Notebook.related``). ``manifests``: every manifest of one profile. The claims they
    store (``manifest["claims"]``) are one family: each gets its p, its Benjamini-Hochberg q over all
    of them and its verdict (:func:`lib.report.claims.manifest_family`). A manifest written before the
    claims were stored gives its ``"verdict: <claim>"`` headline entries as they are (no p, q); a
    notebook without a manifest at this profile gets one row saying so.
    """
    import pandas as pd

    from .claims import manifest_family  # (the notebooks' modules import claims, which imports this module)
    from .notebooks import related

    family: dict[str, list[dict[str, Any]]] = {}
    for nb, row in manifest_family(manifests):
        family.setdefault(nb, []).append(row)
    rows = []
    for nb, (claims, figures) in related().items():
        manifest = manifests.get(nb)
        if manifest is None:
            rows.append({"notebook": nb, "paper": figures, "claim": claims, "verdict": "not run at this profile"})
            continue
        if nb in family:
            for r in family[nb]:
                rows.append({"notebook": nb, "paper": r["source"] or figures, "claim": r["claim"],
                             "paper (points)": r["paper (points)"], "ours (points)": r["ours (points)"],
                             "seeds": r["seeds"], "95 % CI (points)": r["95 % CI (points)"], "p": p_text(r["p"]),
                             "q": p_text(r["q"]),
                             "verdict": r["verdict"]})
            continue
        verdicts = {k[len("verdict: "):]: v for k, v in manifest.get("headline", {}).items()
                    if k.startswith("verdict: ")}
        for claim, verdict in (verdicts or {claims: "no verdict recorded"}).items():
            rows.append({"notebook": nb, "paper": figures, "claim": claim, "verdict": verdict})
    return pd.DataFrame(rows, columns=["notebook", "paper", "claim", "paper (points)", "ours (points)", "seeds",
                                       "95 % CI (points)", "p", "q", "verdict"])
