"""Learning distance metrics for images with contrastive representation learning: the engine.

It trains and evaluates, with torch, numpy and the standard library only; :mod:`lib.report` (the
notebooks, their pages and figures) builds on it and is never imported by it. Modules, by
responsibility:

- ``config``       the one configuration object of a run (a dataclass) and its validation
- ``recipes``      the reference recipes of ``configs/recipes/``, applied to a run of any scale
- ``data``         data sets as uint8 tensors in memory, stratified subsets and splits, batches by index
- ``views``        SimCLR's augmentations as batched tensor operations on any device
- ``models``       encoders (ResNet-18/34/50, a small CNN), projection heads, classifiers
- ``losses``       NT-Xent, supervised contrastive, triplet, distillation (pure functions)
- ``optim``        LARS, parameter groups, learning-rate scaling and schedule
- ``methods``      the training methods, one module each (simclr, supervised, finetune, distill), in one registry
- ``training``     the training loop every method shares, and their shared set-up (data, encoder, placement)
- ``distributed``  data-parallel training under torchrun
- ``evaluation``   embeddings, kNN, linear probe, retrieval, clustering
- ``evaluate``     ``python -m lib evaluate``: the battery on a finished run's features, its model rebuilt by its method
- ``cpu_kernels``  the work-around for a crash of oneDNN's channels_last CPU convolutions
- ``paths``        the checkout root, its runs/ and data/ folders, and the one atomic write (imports no lib module)
- ``probes``       what the projection head removes: predicting the transformation (SimCLR Table 3)
- ``records``      run records: provenance, per-epoch metrics, results, stored by config hash
- ``checkpoints``  checkpoints written atomically, read with ``weights_only``
- ``tracking``     Weights & Biases, when turned on
- ``progress``     a progress display that fits the context: terminal bar, live bar in JupyterLab, lines in a log
- ``cli``          ``python -m lib <command>``
"""

__version__ = "0.1.0"

# The built-in training methods register themselves in lib.methods.METHODS (one module each), in this
# order: the order of the CLI's commands and of the allowed tasks in messages.
from .methods import simclr  # noqa: E402,F401,I001
from .methods import supervised  # noqa: E402,F401
from .methods import finetune  # noqa: E402,F401
from .methods import distill  # noqa: E402,F401
