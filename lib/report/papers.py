"""The papers' numbers the related-work notebooks print beside ours, as data.

- SimCLR: Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
  Representations", ICML 2020 (arXiv:2002.05709);
- SimCLRv2: Chen, Kornblith, Swersky, Norouzi & Hinton, "Big Self-Supervised Models are Strong
  Semi-Supervised Learners", NeurIPS 2020 (arXiv:2006.10029).

Each :class:`Reference` holds the numbers of one table or figure with the setting they were
measured in and whether they are exact (printed in a table or a figure's cells) or approximate
(read off a plot, or a direction stated in the text). They were transcribed from the published
papers; :mod:`lib.report.tables` compares our runs with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reference:
    """Numbers (top-1 %, unless ``unit`` says otherwise) from one table or figure of a paper."""

    paper: str                       # "SimCLR" or "SimCLRv2"
    where: str                       # "Table 1", "Figure 5", "Sec. 4.2"
    setting: str                     # data set, backbone, budget and protocol of those numbers
    values: Mapping[str, float]      # label -> value; empty when the paper states only a direction
    claim: str = ""                  # the claim: quoted where in quotation marks, else paraphrased
    approximate: bool = False        # True: read off a plot, or a direction from the text
    unit: str = "top-1 %"

    @property
    def citation(self) -> str:
        year = "Chen et al. 2020a" if self.paper == "SimCLR" else "Chen et al. 2020b"
        return f"{self.paper} ({year}), {self.where}" + (" (approximate)" if self.approximate else "")


SIMCLR_DEFAULT = ("ImageNet, ResNet-50, SimCLR's default ablation setting (Sec. 2.3: batch 4096, 100 epochs, "
                  "LARS, 2-layer head, NT-Xent), linear evaluation")

# Figure 5: rows are the first transformation, columns the second; the diagonal is one transformation
# alone. Our order of operations (views.OPERATIONS names) is the figure's.
FIGURE5_OPS: tuple[str, ...] = ("crop", "cutout", "color", "sobel", "noise", "blur", "rotate")
FIGURE5 = np.array([  # ImageNet top-1 %, transcribed from the cells of SimCLR Figure 5
    [33.1, 33.9, 56.3, 46.0, 39.9, 35.0, 30.2],   # crop   then ...
    [32.2, 25.6, 33.9, 40.0, 26.5, 25.2, 22.4],   # cutout then ...
    [55.8, 35.5, 18.8, 21.0, 11.4, 16.5, 20.8],   # color  then ...
    [46.2, 40.6, 20.9, 4.0, 9.3, 6.2, 4.2],       # sobel  then ...
    [38.8, 25.8, 7.5, 7.6, 9.8, 9.8, 9.6],        # noise  then ...
    [35.1, 25.2, 16.6, 5.8, 9.7, 2.6, 6.7],       # blur   then ...
    [30.0, 22.5, 20.7, 4.3, 9.7, 6.5, 2.6],       # rotate then ...
])

REFERENCES: dict[str, Reference] = {
    "simclr.figure5": Reference(
        "SimCLR", "Figure 5",
        SIMCLR_DEFAULT + "; asymmetric views: the transformation(s) on one branch only, the other the identity",
        {f"{a}->{b}" if a != b else a: float(FIGURE5[i, j]) for i, a in enumerate(FIGURE5_OPS)
         for j, b in enumerate(FIGURE5_OPS)},
        claim="No single transformation suffices to learn good representations, even though the model can "
              "almost perfectly identify the positive pairs in the contrastive task. When composing augmentations, "
              "the contrastive prediction task becomes harder, but the quality of representation improves "
              "dramatically. ... One composition of augmentations stands out: random cropping and random color "
              "distortion."),
    "simclr.table1": Reference(
        "SimCLR", "Table 1",
        SIMCLR_DEFAULT + "; supervised: ResNet-50 trained with the same augmentations",
        {"SimCLR 1/8": 59.6, "SimCLR 1/4": 61.0, "SimCLR 1/2": 62.6, "SimCLR 1": 63.2, "SimCLR 1 (+blur)": 64.5,
         "supervised 1/8": 77.0, "supervised 1/4": 76.7, "supervised 1/2": 76.5, "supervised 1": 75.7,
         "supervised 1 (+blur)": 75.4},
        claim="Stronger color augmentation substantially improves the linear evaluation of the learned "
              "unsupervised models. ... unsupervised contrastive learning benefits from stronger (color) data "
              "augmentation than supervised learning."),
    "simclr.figure8": Reference(
        "SimCLR", "Figure 8 and Sec. 4.2", SIMCLR_DEFAULT + "; projection output dimension 32 to 2048",
        {"nonlinear - linear": 3.0, "nonlinear - none": 10.0, "h - z": 10.0},
        claim="a nonlinear projection is better than a linear projection (+3%), and much better than no projection "
              "(>10%). ... even when nonlinear projection is used, the layer before the projection head, h, is still "
              "much better (>10%) than the layer after, z = g(h)",
        approximate=True, unit="top-1 points (the text's round numbers; '>10' stored as 10)"),
    "simclr.table3": Reference(
        "SimCLR", "Table 3",
        "ImageNet, ResNet-50 pretrained by SimCLR; an MLP trained on h or on g(h) to predict the "
        "transformation applied to the image",
        {"color vs grayscale: chance": 80.0, "color vs grayscale: h": 99.3, "color vs grayscale: z": 97.4,
         "rotation: chance": 25.0, "rotation: h": 67.6, "rotation: z": 25.6,
         "orig. vs corrupted: chance": 50.0, "orig. vs corrupted: h": 99.5, "orig. vs corrupted: z": 59.6,
         "orig. vs Sobel: chance": 50.0, "orig. vs Sobel: h": 96.6, "orig. vs Sobel: z": 56.3},
        claim="g can remove information that may be useful for the downstream task, such as the color or "
              "orientation of objects.", unit="accuracy of predicting the transformation, %"),
    "simclr.figure9": Reference(
        "SimCLR", "Figure 9 and Appendix B.9 (Figure B.7 for CIFAR-10)",
        "ImageNet ResNet-50, batch 256 to 8192, 100 to 800 epochs (CIFAR-10: batch 256 to 4096, 100 to 1000 "
        "epochs), linear evaluation", {},
        claim="When the number of training epochs is small (e.g. 100 epochs), larger batch sizes have a significant "
              "advantage over the smaller ones. With more training steps/epochs, the gaps between different batch "
              "sizes decrease or disappear, provided the batches are randomly resampled.", approximate=True),
    "simclr.table5": Reference(
        "SimCLR", "Table 5", "ImageNet, ResNet-50, 100 epochs, batch 4096, linear evaluation",
        {"l2 norm, t=0.05": 59.7, "l2 norm, t=0.1": 64.4, "l2 norm, t=0.5": 60.7, "l2 norm, t=1": 58.0,
         "no l2 norm, t=10": 57.2, "no l2 norm, t=100": 57.0},
        claim="without l2 normalization, the contrastive task accuracy is higher, but the resulting representation "
              "is worse under linear evaluation."),
    "simclr.appendix_b1": Reference(
        "SimCLR", "Appendix B.1 (Figure B.1)", "ImageNet, ResNet-50, batch 256 to 8192, 100 to 3200 epochs", {},
        claim="(paraphrase) square-root learning-rate scaling, 0.075 x sqrt(BatchSize), works better than linear "
              "scaling, 0.3 x BatchSize/256, for small batches and few epochs; the two meet at large batches",
        approximate=True),
    "simclr.appendix_b9": Reference(
        "SimCLR", "Appendix B.9", "CIFAR-10, ResNet-50 (CIFAR stem), batch 256 to 4096, up to 1000 epochs", {},
        claim="(paraphrase) on CIFAR-10 as on ImageNet, larger batches and longer training help, most at short "
              "training; a temperature of 0.5 is among the best",
        approximate=True),
    "simclrv2.table1": Reference(
        "SimCLRv2", "Table 1",
        "ImageNet, SimCLRv2 pretraining (3-layer head, 800 epochs), fine-tuned from the head's first layer on "
        "1 % / 10 % / 100 % of the labels",
        {"R50 1x, 1%": 57.9, "R50 1x, 10%": 68.4, "R50 1x, 100%": 76.3,
         "R50 2x, 1%": 66.3, "R50 2x, 10%": 73.9, "R50 2x, 100%": 79.1,
         "R152 3x+SK, 1%": 74.9, "R152 3x+SK, 10%": 80.1, "R152 3x+SK, 100%": 83.1},
        claim="(paraphrase of the abstract) the fewer the labels, the more SimCLRv2 benefits from a bigger "
              "network"),
    "simclrv2.figure4": Reference(
        "SimCLRv2", "Figure 4 (head depth; fine-tuning layer)",
        "ImageNet, ResNet-50 (1x and bigger), fine-tuned on 1 % / 10 % of the labels", {},
        claim="(paraphrase) a deeper projection head helps when fine-tuning from its best layer, and that layer is "
              "typically the head's first layer rather than the encoder output h (layer 0), most with 1 % of the "
              "labels", approximate=True),
    "simclrv2.table2": Reference(
        "SimCLRv2", "Table 2",
        "ImageNet, ResNet-50 (2x+SK) teacher fine-tuned on 1 % / 10 % labels (70.6 / 77.0 %), student of the same "
        "size, distillation temperature 1",
        {"teacher, 1%": 70.6, "teacher, 10%": 77.0,
         "distillation only (our default), 1%": 68.9, "distillation only (our default), 10%": 74.3,
         "labels + distillation, 1%": 69.0, "labels + distillation, 10%": 75.1},
        claim="(paraphrase) distillation on unlabelled images alone works about as well as distillation plus the "
              "label loss when few labels are available"),
    "simclrv2.table3": Reference(
        "SimCLRv2", "Table 3",
        "ImageNet; teacher ResNet-152 (3x+SK) fine-tuned on 1 % / 10 %; students distilled on unlabelled images",
        {"self-distilled R152 3x+SK, 1%": 76.6, "self-distilled R152 3x+SK, 10%": 80.9,
         "distilled into R50 1x, 1%": 73.9, "distilled into R50 1x, 10%": 77.5},
        claim="(paraphrase) distillation with unlabelled images improves semi-supervised accuracy, both into a "
              "student of the same size (self-distillation) and into a smaller one"),
}


def reference(key: str) -> Reference:
    """The paper numbers stored under ``key`` (one of :data:`REFERENCES`)."""
    if key not in REFERENCES:
        raise ValueError(f"unknown reference {key!r}; known: {', '.join(REFERENCES)}")
    return REFERENCES[key]


def reference_table(key: str):
    """One reference as a table: label, value, unit, source (and its quote in the table's ``attrs``)."""
    import pandas as pd

    ref = reference(key)
    table = pd.DataFrame([{"paper": label, "value": value, "unit": ref.unit} for label, value in ref.values.items()],
                         columns=["paper", "value", "unit"])
    table.attrs.update(source=ref.citation, setting=ref.setting, claim=ref.claim)
    return table

# The transformations of notebook 06's probe that SimCLR Table 3 has a row for: ours -> the paper's row
# (its colour row is "color vs grayscale"; colour jitter has none)
TABLE3_ROWS = {"rotate": "rotation", "gray": "color vs grayscale", "sobel": "orig. vs Sobel"}
