"""Named sets of notebook parameter values: ``smoke`` (tests), ``quick`` (default), ``cifar-cpu``, ``full`` (GPU).

The report runner applies a profile to every notebook: each notebook receives the values of the
keys its ``parameters`` cell declares (``COMMON`` first, then the notebook's own entry), and
``profile`` itself. Any single parameter can still be overridden on the command line.

- ``smoke``: each notebook end to end in about a minute on 2 CPU cores (the test suite);
- ``quick``: the default, on the embedded sample and a laptop CPU: the three iterations (00-03) in at
  most 20 minutes, the whole report with the related-work notebooks (05-08) in at most 30;
- ``cifar-cpu``: CIFAR-10 (the JPEG q75 copy) at the scale a 2-core CPU finishes in hours, 3 seeds;
- ``full``: a GPU; CIFAR-10 with ResNet-18 at the budgets of the literature, several seeds, every SimCLR run
  with the official SimCLR code's CIFAR-10 recipe (``configs/recipes/simclr_official_cifar10.toml``).
"""

from __future__ import annotations

from typing import Any

from .. import recipes

# The full profile trains every SimCLR run with the official code's CIFAR-10 recipe: notebooks 02-08 take it
# as `recipe`; 02 and 03 also show its lr, lr_scaling and temperature, which it replaces there (01's lr is
# its supervised SGD rate, so these stay out of COMMON).
_SHOWN = ("lr", "lr_scaling", "temperature")
_OFFICIAL = {k: v for k, v in recipes.training_values(recipes.DEFAULT).items() if k in _SHOWN}
_CPU_RECIPE = "lightly_cifar10"
_CPU = {k: v for k, v in recipes.training_values(_CPU_RECIPE).items() if k in _SHOWN}

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "COMMON": {
            "dataset": "sample", "train_size": 600, "test_size": 200, "arch": "small_cnn", "width": 0.5,
            "batch_size": 128, "epochs": 1, "seeds": 1, "umap_points": 150, "monitor_size": 200, "knn_k": 20,
        },
        "03_simclr_v2": {"finetune_epochs": 1, "distill_epochs": 1, "scratch_multiple": 2},
        "05_simclr_augmentations": {"grid_ops": "crop,rotate", "grid_pairs": "crop", "grid_train_size": 300,
                                    "grid_epochs": 1, "color_strengths": "1.0", "color_train_size": 300,
                                    "color_epochs": 1, "supervised_epochs": 1},
        "06_projection_head": {"head_dims": "32", "head_train_size": 300, "head_epochs": 1, "probe_dim": 32,
                               "probe_transforms": "rotate", "probe_train": 200, "probe_test": 100},
        "07_batch_temperature": {"batch_sizes": "64", "bt_epochs": "1", "bt_train_size": 300,
                                 "temperatures": "0.5", "lr_batch_sizes": "64"},
        "08_simclr_v2_claims": {"depths": "2,3", "finetune_from": "0,1", "label_fractions": "0.1",
                                "v2_train_size": 300, "pretrain_epochs": 1, "finetune_epochs": 1,
                                "width_multipliers": "2", "distill_fractions": "0.1", "distill_epochs": 1},
    },
    "quick": {
        "COMMON": {
            "dataset": "sample", "train_size": 5000, "test_size": 1000, "arch": "small_cnn", "width": 0.5,
            "batch_size": 256, "epochs": 10, "seeds": 1, "umap_points": 300, "monitor_size": 1000, "knn_k": 200,
        },
        "02_simclr": {"epochs": 20},
        "03_simclr_v2": {"epochs": 20, "finetune_epochs": 10, "distill_epochs": 10, "scratch_multiple": 3},
    },
    # CIFAR-10 at the scale this 2-core CPU finishes (`python -m lib.report --profile cifar-cpu --plan`): the
    # JPEG q75 copy (unpack ../shared/data/cifar10-jpeg.tar.gz into data/cifar10-jpeg), 10,000 training and
    # 2,000 test images, the small CNN x0.5, 3 seeds. SimCLR trains with lightly's CIFAR-10 recipe (SGD,
    # temperature 0.5, colour strength 0.5, no blur): at this scale it beat the official LARS recipe by 2.0
    # points of kNN after 20 epochs through our pipeline (benchmarks/results/simclr_vs_lightly-cpu.json).
    "cifar-cpu": {
        "COMMON": {
            "dataset": "imagefolder:data/cifar10-jpeg", "train_size": 10000, "test_size": 2000, "arch": "small_cnn",
            "width": 0.5, "batch_size": 256, "epochs": 30, "seeds": 3, "umap_points": 500, "monitor_size": 2000,
            "knn_k": 200, "recipe": _CPU_RECIPE,
            # The committed cifar-cpu records were trained with the crop sampler before issue #27; pinned to it so
            # that they keep loading as what trained them. #24's retraining drops this pin (then: torchvision).
            "crop_sampler": "subpixel",
        },
        "02_simclr": {"epochs": 60, **_CPU},
        "03_simclr_v2": {"epochs": 60, "finetune_epochs": 20, "distill_epochs": 10, "scratch_multiple": 3, **_CPU},
        # the related-work grids: many runs each, so on 4,000-5,000 training images and 10-40 epochs; about
        # 1 h 50 min together at the rate 01-03 measured (~2,800 training views/s; `--plan` prints the estimate)
        "05_simclr_augmentations": {"grid_ops": "crop,color,blur,rotate", "grid_pairs": "crop",
                                    "grid_train_size": 4000, "grid_epochs": 15, "color_strengths": "0.25,0.5,1.0",
                                    "color_train_size": 4000, "color_epochs": 20, "supervised_epochs": 30},
        "06_projection_head": {"head_dims": "32,128", "head_train_size": 4000, "head_epochs": 20, "probe_dim": 128,
                               "probe_transforms": "rotate,color,gray,sobel", "probe_train": 2000, "probe_test": 1000},
        "07_batch_temperature": {"batch_sizes": "128,512", "bt_epochs": "10,40", "bt_train_size": 4000,
                                 "temperatures": "0.1,0.5,1.0", "raw_temperatures": "10", "lr_batch_sizes": "128"},
        "08_simclr_v2_claims": {"depths": "2,3", "finetune_from": "all", "label_fractions": "0.01,0.1",
                                "v2_train_size": 5000, "pretrain_epochs": 20, "finetune_epochs": 10,
                                "width_multipliers": "2", "distill_fractions": "0.1", "distill_epochs": 5},
    },
    "full": {
        "COMMON": {
            "dataset": "cifar10", "train_size": 0, "test_size": 0, "arch": "resnet18", "width": 1.0,
            "batch_size": 512, "epochs": 200, "seeds": 3, "umap_points": 500, "monitor_size": 10000,
            "knn_k": 200, "recipe": recipes.DEFAULT,
        },
        "02_simclr": {"epochs": 500, **_OFFICIAL},
        "03_simclr_v2": {"epochs": 500, "finetune_epochs": 60, "distill_epochs": 100, **_OFFICIAL},
        # the related-work ablations: many runs each, so on 10,000 training images and tens of epochs, sized for
        # about two hours on one H100 together (notebook 05-08 print their plan before training)
        "05_simclr_augmentations": {"grid_ops": "crop,cutout,color,sobel,noise,blur,rotate", "grid_pairs": "crop",
                                    "grid_train_size": 10000, "grid_epochs": 20,
                                    "color_strengths": "0.125,0.25,0.5,1.0", "color_blur": True,
                                    "color_train_size": 10000, "color_epochs": 20, "supervised_epochs": 30},
        "06_projection_head": {"head_dims": "32,128,512,2048", "head_train_size": 10000, "head_epochs": 30,
                               "probe_dim": 128, "probe_train": 5000, "probe_test": 2000},
        "07_batch_temperature": {"batch_sizes": "256,512,1024,2048", "bt_epochs": "20,80", "bt_train_size": 10000,
                                 "temperatures": "0.05,0.1,0.5,1.0", "raw_temperatures": "10,100",
                                 "lr_batch_sizes": "256,2048"},
        "08_simclr_v2_claims": {"depths": "2,3,4", "finetune_from": "all", "v2_train_size": 10000,
                                "pretrain_epochs": 50, "finetune_epochs": 30, "width_multipliers": "0.5,2",
                                "distill_fractions": "0.01,0.1", "distill_epochs": 20, "distill_batch_size": 256},
    },
}

# The profiles' names in order of scale, smallest first (the order of PROFILES); every list of them is this.
ORDER: tuple[str, ...] = tuple(PROFILES)
LARGEST_FIRST: tuple[str, ...] = tuple(reversed(ORDER))  # the top index's sections, the README's preference
README_PROFILES: tuple[str, ...] = tuple(p for p in ORDER if p != "smoke")  # whose figures and tables the README may show


def profile_values(profile: str, notebook: str, declared: dict[str, Any]) -> dict[str, Any]:
    """The values a profile gives one notebook: only keys the notebook declares.

    ``notebook`` is the file stem (``02_simclr``); ``declared`` its parameters cell's defaults.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    table = PROFILES[profile]
    merged = {**table.get("COMMON", {}), **table.get(notebook, {}), "profile": profile}
    return {k: v for k, v in merged.items() if k in declared}
