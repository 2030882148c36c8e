"""A figure's caption, carried to the page as the image's alt text.

A notebook shows a figure by ending a cell with it; IPython turns the :class:`~matplotlib.figure.Figure`
into a PNG and the page (:mod:`lib.report.pages`) gets nothing but pixels. So that a reader who
cannot see the image (a screen reader, a page whose image failed to load) still learns what it
shows, :func:`register` makes IPython put the figure's caption (:func:`caption`) into the output's
metadata, ``{"image/png": {"alt": ...}}``, which the page's template writes as the ``<img>``'s alt text.

The caption is the one given with :func:`set_caption`, else the figure's title (its ``suptitle``),
else its panels' titles, else its axis labels: every figure of :mod:`lib.report.plots` has at least one.
Shown in a kernel, it is numbered "Figure N." in page order (:func:`numbered`), and the page prints it
under the image as well, so a reader can refer to "Figure 3".
"""

from __future__ import annotations

from typing import Any

CAPTION_ATTRIBUTE = "report_caption"  # where set_caption keeps a figure's caption
MIME_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


def set_caption(fig: Any, text: str) -> Any:
    """Give ``fig`` an explicit caption (what it shows, its units, what its error bars are); returns
    ``fig``, so a plotting function can end with ``return set_caption(fig, ...)``."""
    setattr(fig, CAPTION_ATTRIBUTE, " ".join(str(text).split()))
    return fig


def _text(artist: Any) -> str:
    return " ".join(artist.get_text().split()) if artist is not None else ""


def caption(fig: Any) -> str:
    """What ``fig`` shows, in words: its explicit caption, else its title, else its panels' titles
    ("a; b; c"), else its axis labels ("y against x"); "" for a figure without any text."""
    explicit = getattr(fig, CAPTION_ATTRIBUTE, "")
    if explicit:
        return explicit
    title = _text(getattr(fig, "_suptitle", None))
    if title:
        return title
    panels = list(dict.fromkeys(t for ax in fig.axes if (t := " ".join(ax.get_title().split()))))
    if panels:
        return "; ".join(panels)
    labels = []
    for ax in fig.axes:
        x, y = " ".join(ax.get_xlabel().split()), " ".join(ax.get_ylabel().split())
        if x or y:
            labels.append(f"{y} against {x}" if x and y else x or y)
    return "; ".join(dict.fromkeys(labels))


NUMBER_ATTRIBUTE = "report_figure_number"  # where numbered keeps the number a figure got when first shown
_shown = 0  # figures numbered so far by this kernel: one notebook run, so numbers restart with each page


def reset_numbers() -> None:
    """Number the next figure shown 1 (done by :func:`register`, at the start of each notebook's kernel)."""
    global _shown
    _shown = 0


def numbered(fig: Any, text: str) -> str:
    """``"Figure N. <text>"``: N counts the figures in the order the notebook shows them, i.e. page
    order; a figure shown again keeps its number; a caption already starting "Figure " is left as is."""
    global _shown
    if text.startswith("Figure "):
        return text
    number = getattr(fig, NUMBER_ATTRIBUTE, None)
    if number is None:
        _shown += 1
        number = _shown
        setattr(fig, NUMBER_ATTRIBUTE, number)
    return f"Figure {number}. {text}"


CSS_PX_PER_INCH = 96  # a browser's CSS pixels per inch: a figure shown at its own size, whatever its DPI


def display_width(fig: Any, pad_inches: float = 0.1) -> int:
    """The width, in CSS pixels, at which ``fig`` is shown at its intended size: its tight bounding
    box (what IPython's PNG keeps, plus the default padding) at 96 px per inch. Without it a
    150-DPI image would be shown 150/96 = 1.6 times too large and its 9 pt text at 14 pt."""
    bbox = fig.get_tightbbox()  # draws with a renderer of its own when the figure has none
    return round((bbox.width + 2 * pad_inches) * CSS_PX_PER_INCH)


def figure_metadata(fig: Any) -> tuple[dict, dict]:
    """IPython's mime-bundle hook for a figure: no data of its own (IPython's PNG formatter still
    draws it), only metadata: the caption as each image type's ``alt`` and the width at which it is
    shown at its intended size (:func:`display_width`), which the page writes as the ``<img>``'s width."""
    text = caption(fig)
    meta = {"width": display_width(fig)}
    if text:
        meta["alt"] = numbered(fig, text)
    return {}, {mime: dict(meta) for mime in MIME_TYPES}


def register(shell: Any = None) -> bool:
    """Make the running IPython (a notebook's kernel) give every matplotlib figure it displays its
    caption as alt text; False, and nothing done, outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    from matplotlib.figure import Figure

    reset_numbers()
    shell.display_formatter.mimebundle_formatter.for_type(Figure, figure_metadata)
    return True
