"""The SimCLR framework as a figure, drawn by code: ``images/simclr_architecture.png``.

    python -m lib.report.diagram images/simclr_architecture.png

Chen et al. (2020), Figure 2: "Two separate data augmentation operators are sampled from the
same family of augmentations (t ~ T and t' ~ T) and applied to each data example to obtain two
correlated views. A base encoder network f(·) and a projection head g(·) are trained to maximize
agreement using a contrastive loss. After training is completed, we throw away the projection
head g(·) and use encoder f(·) and representation h for downstream tasks."

Pure matplotlib (object API, no pyplot), no data files, no network and no randomness: the example
image and its two views are made with numpy, and the PNG is written without the matplotlib
version in its metadata, so the same matplotlib gives the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

DPI = 150              # dots per inch of the PNG
SIZE = (10.0, 4.6)     # figure size, inches (1500 x 690 pixels at DPI)
TOP, BOTTOM = 33.0, 12.0  # y of the two branches, in the axes' 0..46 data units
H_COLOR = "#f2b134"    # highlight of h, the representation kept after training
BOX_COLOR = "#dbe8f6"  # networks f and g
LOSS_COLOR = "#c0392b"


def example_image(size: int = 24) -> np.ndarray:
    """A synthetic RGB image in [0, 1], shape (size, size, 3): a sky gradient, a red disc, a
    green square. Deterministic, so the figure needs no data set."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)                              # (S, S) each
    img = np.stack([0.55 + 0.35 * y, 0.75 + 0.2 * y, np.full_like(x, 0.95)], axis=-1)
    disc = (x - 0.35) ** 2 + (y - 0.4) ** 2 < 0.06
    img[disc] = (0.85, 0.2, 0.2)
    square = (np.abs(x - 0.72) < 0.14) & (np.abs(y - 0.72) < 0.14)
    img[square] = (0.2, 0.6, 0.3)
    return img


def two_views(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two fixed "augmentations" of ``img``: (crop + horizontal flip, crop + colour distortion)."""
    s = img.shape[0]
    view_i = img[: 3 * s // 4, s // 6: s // 6 + 3 * s // 4][:, ::-1]         # crop, flip
    crop = img[s // 4:, s // 4:]                                              # another crop
    gray = crop.mean(axis=-1, keepdims=True)
    view_j = np.clip(0.4 * crop[..., [2, 0, 1]] + 0.6 * gray + 0.05, 0, 1)   # hue shift, desaturate
    return view_i, view_j


def simclr_figure() -> Figure:
    """The SimCLR framework: x -> two views -> shared f -> h -> shared g -> z -> NT-Xent."""
    fig = Figure(figsize=SIZE, dpi=DPI)  # object API: nothing registered with pyplot
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 46)
    ax.set_axis_off()
    img = example_image()
    view_i, view_j = two_views(img)

    def picture(data: np.ndarray, x: float, y: float, side: float, label: str) -> None:
        ax.imshow(data, extent=(x - side / 2, x + side / 2, y - side / 2, y + side / 2),
                  interpolation="nearest", zorder=2)
        ax.add_patch(Rectangle((x - side / 2, y - side / 2), side, side, fill=False, lw=1, zorder=3))
        ax.text(x, y - side / 2 - 1.2, label, ha="center", va="top", fontsize=13)

    def box(x: float, y: float, text: str, sub: str) -> None:
        ax.add_patch(FancyBboxPatch((x - 6, y - 4), 12, 8, boxstyle="round,pad=0.4", fc=BOX_COLOR,
                                    ec="#3a6ea5", lw=1.2, zorder=2))
        ax.text(x, y + 1.2, text, ha="center", va="center", fontsize=14, zorder=3)
        ax.text(x, y - 2.0, sub, ha="center", va="center", fontsize=8.5, color="#333", zorder=3)

    def vector(x: float, y: float, label: str, highlight: str | None = None) -> None:
        values = np.cos(np.arange(6) * 1.7 + len(label)) * 0.5 + 0.5  # a fixed pattern of "features"
        if highlight:
            ax.add_patch(FancyBboxPatch((x - 2.2, y - 5.6), 4.4, 11.6, boxstyle="round,pad=0.3", fc=highlight,
                                        ec="none", alpha=0.55, zorder=1))
        for k, v in enumerate(values):
            ax.add_patch(Rectangle((x - 0.9, y + 4.2 - 1.6 * k), 1.8, 1.5, fc=(0.25, 0.35 + 0.4 * v, 0.75),
                                   ec="white", lw=0.5, zorder=2))
        ax.text(x, y - 6.2, label, ha="center", va="top", fontsize=13)

    def arrow(x0: float, y0: float, x1: float, y1: float, text: str = "", **kw) -> None:
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, lw=1.3,
                                     color=kw.pop("color", "#222"), shrinkA=0, shrinkB=0, zorder=1, **kw))
        if text:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 1.3, text, ha="center", va="bottom", fontsize=11)

    # the input and its two augmentations
    picture(img, 6, (TOP + BOTTOM) / 2, 8, r"$x$")
    arrow(10.5, 25.5, 19.5, TOP, r"$t \sim \mathcal{T}$", connectionstyle="arc3,rad=-0.15")
    arrow(10.5, 19.5, 19.5, BOTTOM, r"$t' \sim \mathcal{T}$", connectionstyle="arc3,rad=0.15")
    for y, view, name in ((TOP, view_i, r"$\tilde{x}_i$"), (BOTTOM, view_j, r"$\tilde{x}_j$")):
        picture(view, 24, y, 7, name)
        arrow(28, y, 32, y)
        box(39, y, r"$f(\cdot)$", "encoder (CNN)")
        arrow(46, y, 50.5, y)
        vector(53, y, r"$h_i$" if y == TOP else r"$h_j$", highlight=H_COLOR)
        arrow(55.5, y, 60, y)
        box(67, y, r"$g(\cdot)$", "projection head")
        arrow(74, y, 78.5, y)
        vector(81, y, r"$z_i$" if y == TOP else r"$z_j$")

    # shared weights between the two branches
    for x in (39, 67):
        ax.plot([x, x], [BOTTOM + 4.6, TOP - 4.6], ls="--", lw=1, color="#3a6ea5", zorder=1)
        ax.text(x + 0.8, (TOP + BOTTOM) / 2, "shared\nweights", ha="left", va="center", fontsize=8.5,
                color="#3a6ea5")

    # the loss between z_i and z_j
    ax.add_patch(FancyArrowPatch((84.5, TOP), (84.5, BOTTOM), arrowstyle="<|-|>", mutation_scale=12, lw=1.6,
                                 color=LOSS_COLOR, connectionstyle="arc3,rad=-0.3", zorder=1))
    ax.text(94.3, (TOP + BOTTOM) / 2, "maximise\nagreement\n\nNT-Xent loss\n" + r"$\ell(z_i, z_j)$",
            ha="center", va="center", fontsize=10.5, color=LOSS_COLOR)

    # what is kept after training
    ax.text(53, 2.2, r"$h = f(\tilde{x})$: the representation kept after training; kNN, linear probe, "
            "fine-tuning and retrieval distances use it", ha="center", va="center", fontsize=9.5,
            bbox=dict(boxstyle="round,pad=0.35", fc=H_COLOR, ec="none", alpha=0.55))
    ax.text(81, 41.8, r"$z = g(h)$: used only by the loss", ha="center", va="center", fontsize=9, color="#333")
    ax.text(1, 44.2, "SimCLR (Chen et al., 2020)", ha="left", va="center", fontsize=12, weight="bold")
    return fig


def save_simclr_diagram(path: str | Path, dpi: int = DPI) -> Path:
    """Draw :func:`simclr_figure` and write it as a PNG to ``path`` (folders created); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"the diagram is written as PNG; got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # no "Software: matplotlib x.y" entry: the bytes depend on the drawing only
    simclr_figure().savefig(path, dpi=dpi, format="png", metadata={"Software": None})
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.report.diagram", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", nargs="?", default="images/simclr_architecture.png", help="PNG file to write")
    parser.add_argument("--dpi", type=int, default=DPI, help=f"dots per inch (default {DPI})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = save_simclr_diagram(args.output, args.dpi)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
