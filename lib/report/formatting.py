"""The one table formatter of the pages (and of the README generator): human headers, percentages
with one decimal, no index-name row, nothing truncated.

pandas shows a DataFrame as it is stored: snake_case column names (``knn_top1``, ``h/map@r``),
fractions to six decimals, an extra header row for the index's name, and only the first and last
rows of a long table. Every page table goes through :func:`show_table` (HTML, in a notebook) or
:func:`table_markdown` (the README), so a quantity reads the same everywhere: the score's name from
:data:`lib.evaluation.METRIC_NAMES`, and a fraction as ``48.9 %``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..evaluation import AXIS_NAMES

WORDS = {"label_fraction": "labels", "seeds": "seeds", "wall_time_s": "wall time (s)", "run_id": "run",
         "notebook": "notebook", "quantity": "quantity", "value": "value"}
_LAYER_KEY = re.compile(r"^(?:(?P<label>.+?) )?(?P<layer>[hz])/(?P<metric>[\w@]+)$")  # "SimCLR h/knn_top1"


def readable(key: Any) -> str:
    """A column or quantity name as a reader reads it: ``"h/knn_top1"`` -> ``"kNN top-1 on h"``,
    ``"SimCLR z/map@r"`` -> ``"SimCLR: MAP@R on z"``, ``"label_fraction"`` -> ``"labels"``."""
    key = str(key)
    if key in AXIS_NAMES:
        return AXIS_NAMES[key]
    if key in WORDS:
        return WORDS[key]
    match = _LAYER_KEY.match(key)
    if match and match["metric"] in AXIS_NAMES:
        name = f"{AXIS_NAMES[match['metric']]} on {match['layer']}"
        return f"{match['label']}: {name}" if match["label"] else name
    return key.replace("_", " ") if "_" in key and " " not in key else key


def percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage with one decimal: ``0.4892`` -> ``"48.9 %"``; "–" for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * float(value):.{digits}f} %"


def cell(value: Any) -> str:
    """A headline value as text: a fraction (a float in [0, 1]) as a percentage, another number with
    its thousands separated, anything else as it is."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return percent(value)
    if isinstance(value, (int, float)):
        return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def corner(frame) -> str | None:
    """The label of a table's top-left cell: what its rows and its columns are, from the names of the
    index and of the columns (``"batch size \\ epochs"``, ``"head depth"``); None when neither is named.
    pandas would show the index's name as a row of its own under the header (the stray index row)."""
    rows = [n for n in frame.index.names if n is not None]
    columns = frame.columns.names[-1]
    parts = [" · ".join(readable(n) for n in rows)] if rows else []
    parts += [readable(columns)] if columns is not None else []
    return " \\ ".join(parts) or None


def formatted(frame, percent_columns: Iterable[str] = (), index: bool = True):
    """A copy of ``frame`` as strings: ``percent_columns`` (fractions) as percentages, the headers
    :func:`readable`, the names of the index and the columns in the top-left cell (:func:`corner`), not
    in a stray row of their own; ``index=False`` drops the index."""
    out = frame.copy()
    for column in percent_columns:
        out[column] = [percent(v) if isinstance(v, (int, float)) else v for v in out[column]]
    label = corner(out) if index else None
    out = out.rename(columns=readable)
    out.columns.names = [None] * (out.columns.nlevels - 1) + [label]
    if index:
        out = out.rename(index=lambda i: readable(i) if isinstance(i, str) else i)
        out.index.names = [None] * out.index.nlevels
    else:
        out = out.reset_index(drop=True)
    return out


def table_html(frame, percent_columns: Iterable[str] = (), index: bool = True, escape: bool = True) -> str:
    """The HTML of :func:`formatted`: every row (never truncated), class ``reader-table``."""
    return formatted(frame, percent_columns, index).to_html(index=index, escape=escape, border=0,
                                                            classes="reader-table", na_rep="–")


def show_table(frame, percent_columns: Iterable[str] = (), index: bool = True, escape: bool = True):
    """:func:`table_html` as a notebook output (an ``IPython.display.HTML``); without IPython (the plain
    engine on a bare GPU machine) the formatted frame itself, which the plain engine does not draw."""
    try:
        from IPython.display import HTML
    except ImportError:
        return formatted(frame, percent_columns, index)
    return HTML(table_html(frame, percent_columns, index, escape))


def table_markdown(frame, percent_columns: Iterable[str] = (), index: bool = True) -> str:
    """:func:`formatted` as a GitHub Markdown table (the README's tables): the first column left-aligned
    (labels), the others right-aligned (numbers), "|" in a cell escaped, "–" for a missing value."""
    out = formatted(frame, percent_columns, index)

    def line(cells) -> str:
        return "| " + " | ".join("–" if _missing(c) else str(c).replace("|", "\\|") for c in cells) + " |"

    headers = ([corner_text(out)] if index else []) + [str(c) for c in out.columns]
    rows = [([i] if index else []) + list(row) for i, row in zip(out.index, out.itertuples(index=False))]
    return "\n".join([line(headers), line(["---"] + ["---:"] * (len(headers) - 1))] + [line(r) for r in rows])


def corner_text(out) -> str:
    """The top-left cell of a :func:`formatted` table ("" when unnamed)."""
    return out.columns.names[-1] or ""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def headline_numbers(manifests: Mapping[str, Mapping[str, Any]]):
    """One row per headline number of every manifest (its verdicts left to the claims table):
    notebook, quantity (readable), value (a fraction as ``48.9 %``)."""
    import pandas as pd

    rows = [{"notebook": nb, "quantity": readable(key), "value": cell(value)}
            for nb, manifest in manifests.items() for key, value in (manifest.get("headline") or {}).items()
            if not str(key).startswith("verdict: ")]
    return pd.DataFrame(rows, columns=["notebook", "quantity", "value"])


def folded(summary: str, frame, index: bool = False):
    """``frame`` under a closed ``<details>`` whose summary line is ``summary``: for tables a reader
    rarely needs (provenance), so that they do not fill the page."""
    from IPython.display import HTML

    return HTML(f"<details><summary>{html.escape(summary)}</summary>\n{table_html(frame, index=index)}</details>")
