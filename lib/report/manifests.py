"""Manifests and the record readers: which runs stand behind a notebook's numbers, and what they store.

Every training notebook ends by writing a *manifest*: which runs (by id, one per seed) stand
behind each label it reports, plus its headline numbers. The summary notebook reads the
manifests and the run records they name, so each number on its page traces back to a record::

    <runs_dir>/_manifests/<notebook>-<profile>.json

Also here: the record readers the figures draw from (:func:`stored_embeddings`,
:func:`stored_test_images`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import resolve_runs_dir
from ..data import stratified_subset_indices
from ..records import RunRecord, atomic_write_json, find_record, git_state, now_iso

MANIFEST_DIR = "_manifests"
# A manifest label that starts so names runs of a tuning grid (03's rates and weight decays): they stand behind
# the runs that validation chose, which the notebook reports under labels of their own; not methods.
GRID_LABEL = "grid, "

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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
                   headline: Mapping[str, Any] | None = None, runs_dir: str | Path = "",
                   claims: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Record which runs a notebook reports, and its headline numbers; returns the file written.

    ``runs`` maps a label (``"SimCLR"``, ``"fine-tune h, 1 %"``) to a run id or a list of run ids
    (one per seed); lists are stored in every case. ``headline`` holds the few numbers the
    notebook concludes with (plain floats or strings). A notebook that trains nothing (00) gives
    no runs and its headline alone. ``claims``: the claims a related-work notebook tested, as
    :func:`lib.report.claims.stored` gives them (per-seed effects and the verdict rule's inputs), so
    that the summary and the README judge the profile's whole family at once. The file is written atomically, with the date and the git
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
                             **({"claims": [dict(c) for c in claims]} if claims else {}),
                             "commit": state["commit"], "dirty": state["dirty"]})
    return path


def reported(runs: Mapping[str, Any]) -> dict[str, Any]:
    """``runs`` (a manifest's labels, or records by label) without the tuning grids' (:data:`GRID_LABEL`)."""
    return {label: v for label, v in runs.items() if not label.startswith(GRID_LABEL)}


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


def as_list(runs: Any) -> list:
    return list(runs) if isinstance(runs, (list, tuple)) else [runs]


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
    from ..training import prepare_data  # the engine's whole set-up, only when images are asked for

    test = prepare_data(record.config, torch.device("cpu")).test
    idx = torch.from_numpy(emb["indices"]).long()
    images, labels = test.images[idx].numpy(), test.labels[idx].numpy()
    if not np.array_equal(labels, emb["labels"]):
        raise ValueError(f"the test images rebuilt for run {record.run_id} do not match its stored labels: "
                         f"has the data set ({record.config.dataset}) changed since the run?")
    return images, labels, list(test.classes)
