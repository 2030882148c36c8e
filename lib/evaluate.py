"""``python -m lib evaluate``: the evaluation battery on a finished run's features at a layer.

The run's model is rebuilt by its method (``Method.rebuild``, :mod:`lib.methods`) from the record's
config and final weights, on the record's own data split; the scores go beside the record, in
``<run>/evaluations/layer<k>.json``, with their provenance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import evaluation, methods, records, training
from .records import device_description, find_record, git_state, library_versions, now_iso


def evaluate_record(run_id: str, layer: int = 0, runs_dir: str | None = None, device: str = "auto",
                    probe: bool = True) -> dict[str, Any]:
    """Evaluation battery on the features of a finished run at a given layer.

    ``layer`` 0 is the encoder output h; k >= 1 the output of the projection head's k-th layer
    (contrastive runs only). The result is also written to ``<run>/evaluations/layer<k>.json``.
    """
    record = find_record(run_id, runs_dir)
    config = record.config.replace(device=device, runs_dir=str(record.directory.parent))
    dev = training.resolve_device(device)
    target = record.directory / "evaluations" / f"layer{layer}.json"
    check_writable(target.parent, "--runs-dir <a copy of the run folder that you can write>")  # before any compute
    _, state = training.load_pretrained(record.run_id, config, retrain=False)
    amp = training.autocast(dev, config.precision)
    d = training.prepare_data(config, dev)
    model, fn = methods.get(config.task).rebuild(config, d, state["model"], layer)  # the method's model
    model = model.to(dev).eval()
    transform = training.eval_transform(d.size, d.train.image_size)
    train_f = training._features(fn, d.train.images, transform, amp)
    test_f = training._features(fn, d.test.images, transform, amp)
    scores = evaluation.evaluation_battery(train_f, d.train.labels, test_f, d.test.labels, d.train.num_classes,
                                           knn_k=config.knn_k, knn_t=config.knn_t, seed=config.seed, probe=probe)
    out = {"run_id": record.run_id, "layer": layer, "scores": scores,
           "provenance": {**git_state(), "versions": library_versions(), "device": device_description(dev),
                          "date": now_iso()}}
    try:
        records.atomic_write_json(target, out)  # through the module: a test stands in a failing write
    except OSError as e:
        raise EvaluationNotSaved(f"the scores above could not be saved to {target} ({e.strerror or e}); "
                                 "free space or give --runs-dir <a copy of the run folder that you can write>",
                                 out) from None
    return out


class EvaluationNotSaved(ValueError):
    """The battery ran but its result could not be written; ``out`` holds it, so the scores are printed."""

    def __init__(self, message: str, out: dict[str, Any]):
        super().__init__(message)
        self.out = out


def check_writable(folder: Path, fix: str) -> None:
    """A ValueError naming ``folder`` unless it is, or can become, a folder this process can write
    (a read-only file system included: ``access`` answers EROFS there)."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{folder} cannot be written (no write permission on {existing}, or a read-only "
                         f"file system); give {fix}")
