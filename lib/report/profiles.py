"""Named sets of notebook parameter values: ``smoke`` (tests), ``quick`` (default), ``cifar-cpu``, ``full`` (GPU).

The report runner applies a profile to every notebook: each notebook receives the values of the
keys its ``parameters`` cell declares (:data:`COMMON` first, then the notebook's own entry, declared in its
module of :mod:`lib.report.notebooks`), and
``profile`` itself. Any single parameter can still be overridden on the command line.

- ``smoke``: each notebook end to end in about a minute on 2 CPU cores (the test suite);
- ``quick``: the default, on the embedded sample and a laptop CPU, one seed, issue #24's fair design (the
  claims' arms differ only in their factor; the tuned points chosen on a validation split);
- ``cifar-cpu``: CIFAR-10 (the JPEG q75 copy) at the scale a 2-core CPU finishes in hours, five seeds, issue
  #24's fair design;
- ``full``: a GPU; CIFAR-10 with ResNet-18 at the budgets of the literature, several seeds, every SimCLR run
  with the official SimCLR code's CIFAR-10 recipe (``configs/recipes/simclr_official_cifar10.toml``).
"""

from __future__ import annotations

from typing import Any

from .. import recipes
from . import notebooks

# Each profile's values common to all notebooks; a notebook's own values per profile are in its module of
# lib.report.notebooks (Notebook.profiles), added by `profile_values`. The full profile trains every SimCLR
# run with the official code's CIFAR-10 recipe, cifar-cpu with lightly's (notebooks.CPU_RECIPE): notebooks
# 02-08 take it as `recipe`.
COMMON: dict[str, dict[str, Any]] = {
    "smoke": {
        "dataset": "sample", "train_size": 600, "test_size": 200, "arch": "small_cnn", "width": 0.5,
        "batch_size": 128, "epochs": 1, "seeds": 1, "umap_points": 150, "monitor_size": 200, "knn_k": 20,
        "data_draw": "per_seed",
    },
    "quick": {
        "dataset": "sample", "train_size": 5000, "test_size": 1000, "arch": "small_cnn", "width": 0.5,
        "batch_size": 256, "epochs": 10, "seeds": 1, "umap_points": 300, "monitor_size": 1000, "knn_k": 200,
    },
    # CIFAR-10 at the scale this 2-core CPU finishes (`python -m lib.report --profile cifar-cpu --plan`): the
    # JPEG q75 copy (unpack ../shared/data/cifar10-jpeg.tar.gz into data/cifar10-jpeg), 4,000 training images,
    # the whole 10,000-image test set, the small CNN x0.5, five seeds that each draw their own training,
    # labelled and probe subsets (issue #24's fair design: each notebook's entry in lib.report.notebooks keeps
    # a claim's arms apart only in its factor). SimCLR trains with lightly's CIFAR-10 recipe (SGD, temperature
    # 0.5, colour strength 0.5, no blur): at this scale it beat the official LARS recipe by 2.0 points of kNN
    # after 20 epochs through our pipeline (benchmarks/results/simclr_vs_lightly-cpu.json).
    "cifar-cpu": {
        "dataset": "imagefolder:data/cifar10-jpeg", "train_size": 4000, "test_size": 0, "arch": "small_cnn",
        "width": 0.5, "batch_size": 256, "epochs": 30, "seeds": 5, "umap_points": 500, "monitor_size": 2000,
        "knn_k": 200, "recipe": notebooks.CPU_RECIPE, "data_draw": "per_seed",
    },
    # The related-work notebooks (05-08) run on 10,000 training images and tens of epochs here. Issue #24's
    # fair design, as at cifar-cpu (each seed its own subsets, the tuned points chosen on 1,000 validation
    # images, 01's losses on both view sets, 05's and 08's second budget, 07's scaling with the grid's
    # optimiser), 3 seeds: 504 runs, 851 M training views (`--plan`), about 6 GPU-hours at the 39k views/s
    # an H200 measured at batch 512 (benchmarks/results), 2.4 at #26's goal of 100k.
    "full": {
        "dataset": "cifar10", "train_size": 0, "test_size": 0, "arch": "resnet18", "width": 1.0,
        "batch_size": 512, "epochs": 200, "seeds": 3, "umap_points": 500, "monitor_size": 10000,
        "knn_k": 200, "recipe": recipes.DEFAULT, "data_draw": "per_seed",
    },
}


def notebook_values(profile: str, notebook: str) -> dict[str, Any]:
    """The values ``profile`` gives notebook ``notebook`` (its file stem) beyond the common ones: its module's entry."""
    registered = notebooks.notebook(notebook)
    return dict(registered.profiles.get(profile, {})) if registered else {}


# Every profile's table: its common values ("COMMON") and each registered notebook's own entry; a view of
# COMMON and the notebooks' modules, built when this module is imported (profile_values reads them live).
PROFILES: dict[str, dict[str, Any]] = {
    profile: {"COMMON": common, **{stem: dict(nb.profiles[profile]) for stem, nb in notebooks.NOTEBOOKS.items()
                                   if profile in nb.profiles}}
    for profile, common in COMMON.items()
}

# Profiles whose runs are being trained: planned and trained (`--plan`, scripts/train_profile.py), never
# rendered into pages or the README until complete (then renamed to the profile they replace).
TRAINING: frozenset[str] = frozenset()

# The profiles' names in order of scale, smallest first (the order of COMMON); every list of them is this.
ORDER: tuple[str, ...] = tuple(p for p in COMMON if p not in TRAINING)
LARGEST_FIRST: tuple[str, ...] = tuple(reversed(ORDER))  # the top index's sections, the README's preference
README_PROFILES: tuple[str, ...] = tuple(p for p in ORDER if p != "smoke")  # whose figures and tables the README may show


def profile_values(profile: str, notebook: str, declared: dict[str, Any]) -> dict[str, Any]:
    """The values a profile gives one notebook: only keys the notebook declares.

    ``notebook`` is the file stem (``02_simclr``); ``declared`` its parameters cell's defaults.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    merged = {**COMMON[profile], **notebook_values(profile, notebook), "profile": profile}
    return {k: v for k, v in merged.items() if k in declared}
