"""What the projection head removes: predicting the transformation an image went through (SimCLR Table 3).

SimCLR, Section 4.2: "we train an MLP on h or g(h) to predict the transformation applied"; the
head's output z loses what h keeps. Here the probe is linear (:func:`lib.evaluation.linear_probe`).
:func:`transformation_prediction` runs it on a finished pretraining run and caches the result in the
run's folder, so the weights are needed only once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from . import evaluation, training, views
from .records import atomic_write_json

if TYPE_CHECKING:
    from .records import RunRecord

TRANSFORMS: dict[str, int] = {"rotate": 4, "color": 2, "gray": 2, "sobel": 2}  # name -> number of classes


def transformation_targets(n: int, transform: str, generator: torch.Generator) -> torch.Tensor:
    """Uniform random targets: quarter turns 0..3 for ``rotate``, else 0 (original) or 1 (transformed)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    return torch.randint(0, TRANSFORMS[transform], (n,), generator=generator, device=generator.device)


def apply_transformation(images: torch.Tensor, targets: torch.Tensor, transform: str,
                         generator: torch.Generator, color_strength: float = 1.0) -> torch.Tensor:
    """Images (uint8 or float in [0, 1]) transformed according to ``targets``; float32 in [0, 1].

    ``rotate``: ``targets`` quarter turns; ``color``: colour jitter of strength ``color_strength``
    (SimCLR's, always applied) where the target is 1; ``gray``: grayscale where 1; ``sobel``: the
    Sobel edge map where 1. On 1-channel images ``gray`` changes nothing and ``color`` only
    brightness and contrast.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    x = views.to_float(images)                                               # (B, C, H, W) in [0, 1]
    if targets.shape != (x.shape[0],):
        raise ValueError(f"targets must have shape ({x.shape[0]},); got {tuple(targets.shape)}")
    if transform == "rotate":
        return views.rot90(x, targets)
    if transform == "color":
        factors, order = views.sample_color_jitter(x.shape[0], color_strength, generator, x.device)
        changed = views.color_jitter(x, factors, order)
    elif transform == "gray":
        changed = views.grayscale(x)
    else:
        changed = views.sobel(x)
    return torch.where(targets.view(-1, 1, 1, 1).bool(), changed, x)


def predict_transformation(features: Callable[[torch.Tensor], Mapping[str, torch.Tensor]],
                           train_images: torch.Tensor, test_images: torch.Tensor, transform: str,
                           seed: int = 0) -> dict[str, float]:
    """Accuracy of a linear probe predicting ``transform``'s target from each kind of feature.

    Every image gets a random target (:func:`transformation_targets`) and is transformed
    accordingly; ``features`` maps the transformed images (float in [0, 1]) to named ``(N, D)``
    features (e.g. ``{"h": ..., "z": ...}``). For each name a linear probe
    (:func:`lib.evaluation.linear_probe`, weight decay chosen on a validation split) is fitted on
    the training images' features and scored on the test images'. Also returns ``chance``: the
    majority class's share of the test targets. SimCLR's Table 3 trains an MLP instead.
    """
    g = torch.Generator(device=train_images.device).manual_seed(seed)
    classes = TRANSFORMS.get(transform)
    if classes is None:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    t_train = transformation_targets(len(train_images), transform, g)
    t_test = transformation_targets(len(test_images), transform, g)
    f_train = features(apply_transformation(train_images, t_train, transform, g))   # name -> (N, D)
    f_test = features(apply_transformation(test_images, t_test, transform, g))      # name -> (M, D)
    out = {"chance": float(torch.bincount(t_test, minlength=classes).max()) / len(t_test)}
    for name in f_train:
        probe = evaluation.linear_probe(f_train[name], t_train, f_test[name], t_test, classes, seed=seed)
        out[name] = probe["test_accuracy"]
    return out


def probe_seed(record: RunRecord) -> int:
    """The draw of a transformation probe's images: the run's own data draw (:func:`lib.training.data_draw_seed`:
    0 for every seed at ``data_draw="fixed"``, the run's seed at ``"per_seed"``)."""
    return training.data_draw_seed(record.config)


def transformation_prediction(record: RunRecord, transform: str = "rotate", n_train: int = 2000,
                              n_test: int = 1000, device: str = "auto", seed: int | None = None) -> dict[str, Any]:
    """SimCLR Table 3 on a finished pretraining run: can the transformation be predicted from h, from z?

    Loads the run's weights (:func:`lib.training.load_pretrained`), takes ``n_train`` training and
    ``n_test`` test images of the run's data (class-balanced), and runs
    :func:`predict_transformation` on h (the encoder output) and z (the head's output; z = h for
    a run without head). The result is stored in the run's folder
    (``evaluations/transform-<transform>-<n_train>-<n_test>-<seed>.json``) and loaded from there
    when asked again, so it needs the weights only once (on the machine that trained the run).
    ``seed`` None: :func:`probe_seed`.
    """
    from .data import stratified_subset_indices

    if record.config.task != "pretrain":
        raise ValueError(f"run {record.run_id} is a {record.config.task!r} run; transformation prediction needs "
                         f"a 'pretrain' run (an encoder and a projection head)")
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
    seed = probe_seed(record) if seed is None else seed
    path = record.directory / "evaluations" / f"transform-{transform}-{n_train}-{n_test}-{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    config = record.config.replace(device=device, runs_dir=str(record.directory.parent), progress=False)
    _, state = training.load_pretrained(record.run_id, config)
    dev = training.resolve_device(device)
    d = training.prepare_data(config, dev)
    model = training.build_contrastive_model(config, d.train.channels, d.size, *d.train.mean_std())
    model.load_state_dict(state["model"])
    model = model.to(dev).eval()
    train = d.train.images[stratified_subset_indices(d.train.labels, min(n_train, len(d.train)), seed=seed)]
    test = d.test.images[stratified_subset_indices(d.test.labels, min(n_test, len(d.test)), seed=seed)]
    amp = training.autocast(dev, config.precision)
    resize = training.eval_transform(d.size, d.train.image_size)

    def encode(x):
        with amp:
            return model.encoder(x).float()

    @torch.no_grad()
    def features(images):
        h = evaluation.embed(encode, images, transform=resize)              # (N, D_h)
        with amp:
            z = model.head(h).float()                                        # (N, D_z): z = g(h), eval mode
        return {"h": h, "z": z}

    scores = predict_transformation(features, train, test, transform, seed=seed)
    out = {"run_id": record.run_id, "transform": transform, "n_train": len(train), "n_test": len(test),
           "seed": seed, **scores}
    atomic_write_json(path, out)
    return out
