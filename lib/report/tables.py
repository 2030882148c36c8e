"""From run records to the thesis' tables: manifests, mean ± std over seeds, verdicts, provenance.

Every training notebook ends by writing a *manifest*: which runs (by id, one per seed) stand
behind each label it reports, plus its headline numbers. The summary notebook reads the
manifests and the run records they name, so each number on its page traces back to a record::

    <runs_dir>/_manifests/<notebook>-<profile>.json

Also here: :func:`mean_std`, the one statistic over seeds; the related-work notebooks' per-seed
effects and their verdicts against the papers (:func:`claim_row`); the record readers the figures
draw from (:func:`stored_embeddings`, :func:`stored_test_images`). Functions are small and pure
(records in, DataFrames or arrays out); pandas is imported where a DataFrame is built.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import stratified_subset_indices
from ..config import Config, resolve_runs_dir
from ..records import RunRecord, atomic_write_json, find_record, git_state, now_iso
from ..training import prepare_data
from .grids import n_train_images
from .papers import REFERENCES

MANIFEST_DIR = "_manifests"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BATTERY_METRICS: tuple[str, ...] = ("knn_top1", "linear_probe_top1", "recall@1", "recall@2", "recall@4",
                                    "recall@8", "map@r", "nmi", "ari")  # the evaluation battery's scores


# ---- manifests ---------------------------------------------------------------------------------

def check_name(label: str, value: Any) -> None:
    """Refuse ``value`` unless it is a plain file-name part (letters, digits, '_', '-', '.')."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{label} must be a plain name (letters, digits, '_', '-', '.'); got {value!r}")


def manifest_path(notebook: str, profile: str, runs_dir: str | Path = "") -> Path:
    """Where the manifest of ``notebook`` run at ``profile`` lives."""
    check_name("notebook", notebook)
    check_name("profile", profile)
    base = resolve_runs_dir(runs_dir)
    return base / MANIFEST_DIR / f"{notebook}-{profile}.json"


def write_manifest(notebook: str, profile: str, runs: Mapping[str, str | list[str]],
                   headline: Mapping[str, Any] | None = None, runs_dir: str | Path = "") -> Path:
    """Record which runs a notebook reports, and its headline numbers; returns the file written.

    ``runs`` maps a label (``"SimCLR"``, ``"fine-tune h, 1 %"``) to a run id or a list of run ids
    (one per seed); lists are stored in every case. ``headline`` holds the few numbers the
    notebook concludes with (plain floats or strings). A notebook that trains nothing (00) gives
    no runs and its headline alone. The file is written atomically, with the date and the git
    commit of the code that wrote it.
    """
    if not isinstance(runs, Mapping) or not (runs or headline):
        raise ValueError(f"runs must be a mapping label -> run id(s), non-empty unless a headline is given; "
                         f"got {runs!r}")
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
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"manifest {path} is not valid JSON ({e}); it is torn or was edited: restore it "
                             f"(git checkout -- {path}) or run its notebook again") from None
        if not isinstance(manifest, dict):
            raise ValueError(f"manifest {path} is not a JSON object; restore it (git checkout -- {path}) "
                             "or run its notebook again")
        out[manifest.get("notebook", path.name[: -len(suffix)])] = manifest
    return out


def manifest_records(manifest: Mapping[str, Any], runs_dir: str | Path = ""
                     ) -> tuple[dict[str, list[RunRecord]], list[str]]:
    """The complete records a manifest names, per label (in the order the notebook gave), and the
    ids that could not be used.

    Records that are missing (e.g. a deleted runs folder) are listed rather than raised, so a
    summary can say what it lacks and go on with the rest. Only complete records count: a failed or
    running one is listed as missing with its status (``"<id> (status failed)"``), as the README
    promises that no other record is ever loaded.
    """
    records: dict[str, list[RunRecord]] = {}
    missing: list[str] = []
    runs = manifest["runs"]
    for label in [l for l in manifest.get("labels", []) if l in runs] + sorted(set(runs) - set(manifest.get("labels", []))):
        ids = runs[label]
        found = []
        for run_id in ([ids] if isinstance(ids, str) else ids):
            try:
                record = find_record(run_id, runs_dir or None)
            except (FileNotFoundError, ValueError):
                missing.append(run_id)
                continue
            if record.complete:
                found.append(record)
            else:
                missing.append(f"{run_id} (status {record.status})")
        if found:
            records[label] = found
    return records, missing


# ---- tables ------------------------------------------------------------------------------------

def result_value(record: RunRecord, key: str) -> float:
    """``record.results[key]`` as a float; NaN when absent or not a number (NaN is stored as null)."""
    value = record.results.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def result_values(records: Sequence[RunRecord], key: str) -> list[float]:
    """:func:`result_value` of each record (one per seed)."""
    return [result_value(r, key) for r in records]


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """The thesis' statistic over seeds: mean, sample standard deviation (``ddof=1``; 0 for a single
    value) and count of the finite values; NaN, NaN, 0 for none."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return math.nan, math.nan, 0
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0, int(finite.size)


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
    config) and seeds. Runs without ``key`` (e.g. the pretraining runs) are left out.
    """
    import pandas as pd

    rows = []
    for method, recs in records.items():
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


def as_list(runs: Any) -> list:
    return list(runs) if isinstance(runs, (list, tuple)) else [runs]


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


# ---- the related work: per-seed effects and verdicts --------------------------------------------

def last_epoch_values(records: Sequence[RunRecord], key: str) -> list[float]:
    """``key`` in each record's last per-epoch line (e.g. the training ``contrastive_top1``); NaN if absent."""
    out = []
    for r in records:
        v = r.epochs[-1].get(key) if r.epochs else None
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
    return out


def per_seed_best(values: Mapping[Any, Sequence[float]], keys: Sequence[Any]) -> list[float]:
    """For every seed, the best value among the settings ``keys`` (``values``: setting -> per-seed list).

    Choosing the best setting on the test metric flatters it a little (a selection effect); the
    comparison between two such maxima, as in the papers' "optimal layer", shares that bias.
    """
    keys = list(keys)
    if not keys:
        raise ValueError("keys is empty: no settings to take the best of")
    lengths = {len(values[k]) for k in keys}
    if len(lengths) != 1:
        raise ValueError(f"settings {keys} have different numbers of seeds: {sorted(lengths)}")
    return [max(values[k][s] for k in keys) for s in range(lengths.pop())]


def seed_deltas(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-seed differences ``a[s] - b[s]``: runs paired by seed, so seed-to-seed variation common to
    both settings (the same initialisation, the same batches) cancels."""
    if len(a) != len(b):
        raise ValueError(f"a and b must have one value per seed each; got {len(a)} and {len(b)}")
    return [x - y for x, y in zip(a, b)]


ALPHA = 0.05  # level of the one-sided paired t-test behind every verdict
VERDICT_RULE = ("a claim agrees when the per-seed paired effect has the paper's sign under a one-sided paired "
                f"t-test at {ALPHA:.0%} (n - 1 degrees of freedom), is opposite when the test in the other direction "
                "is significant, and is inconclusive otherwise, as every verdict is with one seed")


def one_sided_p(mean: float, std: float, n: int, sign: int) -> float:
    """p-value of the one-sided paired t-test that the effect's mean has ``sign`` (+1: > 0, -1: < 0):
    P(T >= sign * t) with t = mean / (std / sqrt(n)) and n - 1 degrees of freedom; NaN for n < 2.
    A spread of 0 makes any non-zero mean certain (p = 0 or 1) and a zero mean p = 0.5."""
    if n < 2 or not math.isfinite(mean) or not math.isfinite(std):
        return math.nan
    if std == 0:
        return 0.5 if mean == 0 else (0.0 if mean * sign > 0 else 1.0)
    from scipy.stats import t as student_t

    return float(student_t.sf(sign * mean / (std / math.sqrt(n)), df=n - 1))


def effect_verdict(expected_sign: int, mean: float, std: float, seeds: int) -> str:
    """"agrees", "opposite" or "inconclusive": the one-sided paired t-test of :data:`VERDICT_RULE`."""
    if expected_sign not in (-1, 1):
        raise ValueError(f"expected_sign must be -1 or +1; got {expected_sign!r}")
    if not math.isfinite(mean):
        return "no result"
    if seeds < 2:
        return "inconclusive (1 seed: no test)"
    if one_sided_p(mean, std, seeds, expected_sign) < ALPHA:
        return "agrees"
    if one_sided_p(mean, std, seeds, -expected_sign) < ALPHA:
        return "opposite"
    return "inconclusive"


def claim_row(claim: str, source: str, ours: Sequence[float], paper: float | None = None,
              expected_sign: int | None = None, scale: float = 100.0) -> dict[str, Any]:
    """One row of a notebook's paper-vs-ours table.

    ``ours``: our effect per seed (a difference of fractions, e.g. from :func:`seed_deltas`);
    ``paper``: the paper's effect in points (None when it states only a direction, then give
    ``expected_sign``). Our effect is shown in points (``scale`` 100) as mean ± std over seeds;
    ``ours / paper`` says "by how much" relative to the paper.
    """
    if paper is None and expected_sign is None:
        raise ValueError("give the paper's effect (paper=...) or its direction (expected_sign=+1/-1)")
    sign = expected_sign if expected_sign is not None else (1 if paper >= 0 else -1)
    mean, std, n = mean_std(ours)
    ratio = (mean * scale / paper) if paper not in (None, 0) and math.isfinite(mean) else math.nan
    return {"claim": claim, "source": source,
            "paper (points)": round(paper, 1) if paper is not None else ("+" if sign > 0 else "-"),
            "ours (points)": (f"{mean * scale:+.1f}" + (f" ± {std * scale:.1f}" if n > 1 else "")
                              if n else "–"),
            "seeds": n, "ours / paper": ratio, "p (one-sided)": one_sided_p(mean, std, n, sign),
            "verdict": effect_verdict(sign, mean, std, n)}


def paper_delta(values: Mapping[str, float], a: str, b: str) -> float | None:
    """``values[a] - values[b]`` in points, or None when the paper has no number for one of them."""
    if a in values and b in values:
        return round(values[a] - values[b], 2)
    return None


def line_series(values: Mapping[Any, Sequence[float]], keys: Sequence[Any], x: Sequence[float] | None = None
                ) -> tuple[list[float], list[float], list[float]]:
    """``(x, mean, std)`` over seeds of ``values[k]`` for ``k`` in ``keys``, for :func:`effect_lines`;
    ``x`` defaults to 0, 1, 2, ... (then label the ticks). Settings not run give NaN."""
    x = list(range(len(keys))) if x is None else list(x)
    stats = [mean_std(values.get(k, [])) for k in keys]
    return x, [m for m, _, _ in stats], [s for _, s, _ in stats]


def claims_table(rows: Sequence[Mapping[str, Any]]):
    """Rows of :func:`claim_row` as a DataFrame (one row per claim)."""
    import pandas as pd

    columns = ["claim", "source", "paper (points)", "ours (points)", "seeds", "ours / paper", "p (one-sided)", "verdict"]
    return pd.DataFrame(list(rows), columns=columns)


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


TABLE3_ROWS = {"rotate": "rotation", "gray": "color vs grayscale", "sobel": "orig. vs Sobel"}  # ours -> paper's


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
    from .conclusions import data_label  # conclusions imports this module

    n = n_train_images(config.dataset, config.train_size)
    return (f"{data_label(config.dataset)} ({n:,} training images), {config.arch} width {config.width:g}, {config.epochs} epochs, "
            f"batch {config.batch_size}, {config.optimizer.upper()} lr {config.scaled_lr:g}, {seeds} seed(s); "
            f"{evaluation}")


def setting_table(rows: Mapping[str, tuple[str, str]]):
    """The paper's setting beside ours, one row per experiment: ``{experiment: (paper, ours)}``."""
    import pandas as pd

    class FullText(pd.DataFrame):
        """A DataFrame shown with its sentences whole: pandas cuts cells at 50 characters ("...")."""

        @property
        def _constructor(self):
            return FullText

        def _repr_html_(self):
            return self.to_html()

        def __repr__(self):
            with pd.option_context("display.max_colwidth", None, "display.width", 250):
                return super().__repr__()

    return FullText.from_dict({k: {"paper": p, "ours": o} for k, (p, o) in rows.items()}, orient="index")


RELATED_NOTEBOOKS: dict[str, tuple[str, str]] = {  # notebook -> (claims tested, paper figures)
    "05_simclr_augmentations": ("composition of augmentations; colour strength (SimCLR vs supervised)",
                                "SimCLR Figure 5, Table 1"),
    "06_projection_head": ("nonlinear projection head; h vs z; what the head removes",
                           "SimCLR Figure 8, Sec. 4.2, Table 3"),
    "07_batch_temperature": ("batch size x epochs; temperature and l2 normalisation; learning-rate scaling",
                             "SimCLR Figure 9, Table 5, Appendix B.1, B.9"),
    "08_simclr_v2_claims": ("head depth x fine-tuning layer; bigger encoders; distillation",
                            "SimCLRv2 Table 1, Figure 5, Tables 2-3"),
}


def related_work_table(manifests: Mapping[str, Mapping[str, Any]]):
    """One row per claim of the related-work notebooks, from their manifests' headlines.

    Each notebook's manifest headline holds ``"verdict: <claim>"`` entries (strings); a notebook
    without a manifest at this profile gets one row saying so.
    """
    import pandas as pd

    rows = []
    for nb, (claims, figures) in RELATED_NOTEBOOKS.items():
        manifest = manifests.get(nb)
        if manifest is None:
            rows.append({"notebook": nb, "paper": figures, "claim": claims, "verdict": "not run at this profile"})
            continue
        verdicts = {k[len("verdict: "):]: v for k, v in manifest.get("headline", {}).items()
                    if k.startswith("verdict: ")}
        for claim, verdict in (verdicts or {claims: "no verdict recorded"}).items():
            rows.append({"notebook": nb, "paper": figures, "claim": claim, "verdict": verdict})
    return pd.DataFrame(rows, columns=["notebook", "paper", "claim", "verdict"])


# ---- record readers for the figures ------------------------------------------------------------

def stored_embeddings(record: RunRecord, key: str = "h", n: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The test embeddings a record stores under ``key`` (``h``, ``z``, ``h_epoch5`` ...) as float32,
    with their labels; ``n`` > 0 keeps a class-balanced subsample of ``n`` of them (chosen by ``seed``).
    """
    emb = record.embeddings()
    if key not in emb:
        raise ValueError(f"run {record.run_id} stores no embeddings {key!r}; it has {sorted(emb)}")
    features, labels = emb[key].astype(np.float32), emb["labels"]
    if 0 < n < len(labels):
        idx = stratified_subset_indices(torch.from_numpy(labels), n, seed=seed).numpy()
        features, labels = features[idx], labels[idx]
    return features, labels


def snapshot_keys(record: RunRecord, key: str = "h") -> list[tuple[int, str]]:
    """``(epoch, name)`` of a record's embedding snapshots (``h_epoch0``, ``h_epoch5`` ...), by epoch."""
    prefix = f"{key}_epoch"
    found = [(int(name[len(prefix):]), name) for name in record.embeddings() if name.startswith(prefix)]
    return sorted(found)


def stored_test_images(record: RunRecord) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The test images whose embeddings a record stores, in the same order: ``(images uint8
    (N, C, H, W), labels (N,), classes)``.

    The stored ``indices`` index the run's test split *after* its ``test_size`` subsetting, so the
    split is rebuilt exactly as training built it (:func:`lib.training.prepare_data`); the labels
    are checked against the stored ones.
    """
    emb = record.embeddings()
    if "indices" not in emb:
        raise ValueError(f"run {record.run_id} stores no test embeddings (save_embeddings=0?)")
    test = prepare_data(record.config, torch.device("cpu")).test
    idx = torch.from_numpy(emb["indices"]).long()
    images, labels = test.images[idx].numpy(), test.labels[idx].numpy()
    if not np.array_equal(labels, emb["labels"]):
        raise ValueError(f"the test images rebuilt for run {record.run_id} do not match its stored labels: "
                         f"has the data set ({record.config.dataset}) changed since the run?")
    return images, labels, list(test.classes)
