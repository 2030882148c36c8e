"""The reference recipes: SimCLR on CIFAR-10 as its reference implementations run it.

Each recipe is a config file in ``configs/recipes/`` (``simclr_official_cifar10``, ``solo_learn_cifar``,
``lightly_cifar10``, ``dkobak_cifar10``) whose every value carries a comment naming the file of the
reference it comes from. A file is a complete pretraining config, so

    python -m lib pretrain --config configs/recipes/simclr_official_cifar10.toml dataset=imagefolder:data/cifar10-jpeg

runs the reference as it stands. :func:`apply` carries a recipe's *training* knobs (optimiser, loss,
views, projection head) over to a run of another scale -- fewer epochs, another data set, a smaller
encoder -- as the notebooks and ``benchmarks/gpu_check.py`` do; its warm-up becomes the recipe's
fraction of the run (``warmup_fraction``), so it stays right when the run's length is changed later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Config, load_config, repo_path

RECIPE_DIR = repo_path("configs/recipes")
DEFAULT = "simclr_official_cifar10"  # the recipe of the full profile and of the GPU check

# What a recipe carries over to a run of another scale. Left out, and so kept from the run: what and
# on which data (task, dataset, sizes, seed), the encoder (arch, width, stem), the length and batch
# (epochs, batch_size; warmup_epochs is scaled) and the evaluation.
TRAINING_KEYS = ("optimizer", "lr", "lr_scaling", "momentum", "weight_decay", "lars_trust", "lars_clip",
                 "temperature", "ntxent_normalize", "views", "views2", "crop_scale_min", "color_strength",
                 "gray_p", "blur_p", "head_layers", "head_hidden_dim", "proj_dim", "head_last_bn")


def names() -> list[str]:
    """The recipes shipped in ``configs/recipes/``."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def path(recipe: str | Path) -> Path:
    """A recipe's file: a path to a .toml/.json file, or the name of one in ``configs/recipes/``."""
    candidate = Path(recipe)
    if candidate.suffix in (".toml", ".json"):
        if not candidate.is_file():
            raise FileNotFoundError(f"config file {candidate} does not exist")
        return candidate
    named = RECIPE_DIR / f"{recipe}.toml"
    if not named.is_file():
        raise ValueError(f"unknown recipe {str(recipe)!r}; choose one of {', '.join(names())} or give a .toml file")
    return named


def load(recipe: str | Path) -> Config:
    """The recipe as the complete config it describes (validated like any config)."""
    return load_config(path(recipe))


def training_values(recipe: str | Path) -> dict[str, Any]:
    """The recipe's values of :data:`TRAINING_KEYS`."""
    config = load(recipe)
    return {k: getattr(config, k) for k in TRAINING_KEYS}


def apply(config: Config, recipe: str | Path | None) -> Config:
    """``config`` trained with ``recipe``'s optimiser, loss, views and head.

    The warm-up keeps the recipe's fraction of the run (``warmup_fraction``): SimCLR's 10 of 1,000
    epochs become 1 of 100, whatever ``epochs`` is set to afterwards. An empty ``recipe`` returns
    ``config`` unchanged (the library's defaults)."""
    if not recipe:
        return config
    ref = load(recipe)
    fraction = ref.warmup_fraction or ref.warmup_epochs / ref.epochs
    return config.replace(**training_values(recipe), warmup_epochs=0.0, warmup_fraction=round(fraction, 6))


def describe(recipe: str | Path | None, run: Config | None = None) -> str:
    """One line naming the recipe and its key values, for a notebook's banner: the recipe file's, or those of
    ``run``, the run trained with it, where a notebook changes some (03's 3-layer head, a profile's epochs)."""
    if not recipe:
        return "the library's defaults"
    c = run if run is not None else load(recipe)
    lars = f" (trust {c.lars_trust:g}{', clipped' if c.lars_clip else ''})" if c.optimizer == "lars" else ""
    scaling = {"linear": " x batch/256", "sqrt": " x sqrt(batch)", "none": ""}[c.lr_scaling]
    return (f"{path(recipe).stem}: {c.optimizer.upper()}{lars} lr {c.lr:g}{scaling}, "
            f"weight decay {c.weight_decay:g}, temperature {c.temperature:g}, views {c.effective_views}, colour "
            f"strength {c.color_strength:g}, grayscale p {c.gray_p:g}, {c.head_layers}-layer head "
            f"(last BN: {c.head_last_bn}), warm-up {c.warmup_epochs:g} of {c.epochs} epochs")
