"""Learning distance metrics for images with contrastive representation learning.

Modules, by responsibility:

- ``config``      the one configuration object of a run (a dataclass) and its validation
- ``data``        data sets as uint8 tensors in memory, label fractions, batches by index
- ``views``       SimCLR's augmentations as batched tensor operations on any device
- ``models``      encoders (ResNet-18/34/50, a small CNN), projection heads, classifiers
- ``losses``      NT-Xent, supervised contrastive, triplet, distillation (pure functions)
- ``optim``       LARS, parameter groups, learning-rate scaling and schedule
- ``training``    the training loops (pretrain, supervised, fine-tune, distill)
- ``evaluation``  embeddings, kNN, linear probe, retrieval, clustering
- ``records``     run records: provenance, per-epoch metrics, results, stored by config hash
- ``progress``    a progress display that behaves in a terminal, a notebook and a log file
- ``cli``         ``python -m lib <command>``
"""

__version__ = "0.1.0"
