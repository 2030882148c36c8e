"""The report pages, for readers: an executed notebook rendered to one self-contained HTML file.

What a reader sees first is the question (the notebook's first cell), a banner and the first result,
not code:

- the banner (:func:`banner`) says in three lines what this run was: its parameters ("parameters:
  profile quick, epochs 20, ..."), how many runs it loaded from records (with their dates and
  devices) and how many it trained now, and where, when and at which commit it was executed; a
  notebook that failed gets a red banner on top instead, saying so;
- every code cell's input, papermill's injected parameters included, is folded into a collapsed
  "code" toggle above its output (an HTML ``<details>`` element: one click opens it, no JavaScript;
  nothing is removed);
- a table of contents lists the sections (a column on the right of a wide screen);
- figures are embedded as PNG with their alt text; no script is loaded from the network unless the
  notebook needs it (MathJax for formulas, RequireJS for widgets, Mermaid for diagrams).

The template is ``templates/reader`` (nbconvert's "lab" template, extended).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Mapping

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "reader"
BANNER_TAG = "report-status"  # tag of the banner cell the runner puts into each executed notebook
TOC_MARKER = "<!-- reader-toc -->"
_HEADING = re.compile(r'<h([23]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_MATH = re.compile(r"\$|\\\(|\\\[|\\begin\{")


# ---- the banner --------------------------------------------------------------------------------

def format_value(value: Any) -> str:
    """A parameter value as a reader reads it: strings bare, an empty string as "''"."""
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


def parameters_line(values: Mapping[str, Any]) -> str:
    """``profile quick, dataset sample, epochs 20, ...``: the values papermill injected, profile first."""
    ordered = sorted(values.items(), key=lambda kv: kv[0] != "profile")  # stable: the rest keep their order
    return ", ".join(f"{name} {format_value(value)}" for name, value in ordered)


def _span(values: list[str]) -> str:
    values = sorted(v for v in values if v)
    if not values:
        return "unknown date"
    return values[0] if values[0] == values[-1] else f"{values[0]} to {values[-1]}"


def runs_line(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """What a notebook did with its runs, from its run log (:func:`lib.records.read_run_log`):
    ``3 loaded from records (finished 2026-11-28 to 2026-12-03 on CPU: ...), 1 trained now``."""
    loaded = [r for r in runs.values() if r.get("action") == "loaded"]
    trained = [r for r in runs.values() if r.get("action") == "trained"]
    if not loaded and not trained:
        return "no run loaded or trained by this notebook"
    parts = []
    if loaded:
        devices = sorted({r.get("device") or "unknown device" for r in loaded})
        parts.append(f"{len(loaded)} loaded from records (finished {_span([(r.get('finished') or '')[:10] for r in loaded])}"
                     f" on {'; '.join(devices)})")
    else:
        parts.append("0 loaded from records")
    parts.append(f"{len(trained)} trained now")
    return ", ".join(parts)


def banner(*, status: str, error: str | None, profile: str, parameters: Mapping[str, Any],
           runs: Mapping[str, Mapping[str, Any]], date: str, commit: str | None, dirty: bool | None,
           device: str, wall_time_s: float) -> str:
    """The HTML of the banner on top of a page (see the module's docstring)."""
    e = html.escape
    commit_text = f"{commit[:7]}{' (dirty tree)' if dirty else ''}" if commit else "unknown"
    when = date[:16].replace("T", " ")  # 2026-12-04T23:54:48+00:00 -> 2026-12-04 23:54
    facts = (f"Executed by <code>lib.report</code> at profile <b>{e(profile)}</b> · {e(when)} UTC · commit "
             f"{e(commit_text)} · {e(device)} · {wall_time_s:.1f} s · <a href=\"index.html\">all reports</a>")
    lines = [f"<b>parameters:</b> {e(parameters_line(parameters))}", f"<b>runs:</b> {e(runs_line(runs))}",
             f'<span class="facts">{facts}</span>']
    if status == "ok":
        return ('<div class="report-banner" style="border-left:4px solid #4a7fb5;background:#f3f7fb;'
                'padding:0.4em 0.8em">' + "<br>".join(lines) + "</div>")
    return ('<div class="report-banner failed" style="border:3px solid #c00;background:#fee;color:#900;'
            'padding:0.6em 1em"><b>FAILED: this notebook did not finish.</b> '
            f'{e(error or "")}<br>Everything below stops at the error; numbers in it come from an unfinished run.'
            "<br>" + "<br>".join(lines) + "</div>")


def place_banner(nb, text: str, failed: bool) -> None:
    """Put the banner cell into ``nb`` (replacing an earlier one): after the first markdown cell
    (the title and the question), or on top when the notebook failed."""
    import nbformat

    nb.cells = [c for c in nb.cells if BANNER_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [BANNER_TAG]})
    first_markdown = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
    nb.cells.insert(0 if failed or first_markdown is None else first_markdown + 1, cell)


# ---- the page ----------------------------------------------------------------------------------

def needs(nb) -> dict[str, bool]:
    """Which scripts from the network the page needs: MathJax for formulas in markdown, RequireJS
    for widgets or JavaScript outputs, Mermaid for diagrams. A page needing none works offline."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    data = [o.get("data", {}) for o in outputs]
    return {"mathjax": bool(_MATH.search(markdown)) or any("text/latex" in d for d in data),
            "requirejs": "widgets" in nb.metadata or any("application/javascript" in d for d in data),
            "mermaid": "```mermaid" in markdown or any("text/vnd.mermaid" in d for d in data)}


def table_of_contents(body: str) -> str:
    """A ``<nav>`` listing the page's ``<h2>`` sections and their ``<h3>`` subsections, linked;
    empty when the page has no section."""
    entries = []
    for level, anchor, inner in _HEADING.findall(body):
        text = re.sub(r"<[^>]+>", "", inner.split('<a class="anchor-link"')[0]).strip()
        if text:
            entries.append((int(level), anchor, text))
    if not entries:
        return ""
    out, depth = ['<nav class="reader-toc" aria-label="Contents"><b>Contents</b><ul>'], 2
    for level, anchor, text in entries:
        while depth < level:
            out.append("<ul>")
            depth += 1
        while depth > level:
            out.append("</ul>")
            depth -= 1
        out.append(f'<li><a href="#{anchor}">{text}</a></li>')
    out.append("</ul>" * (depth - 1) + "</nav>")
    return "".join(out)


def export(nb, title: str) -> str:
    """The page of ``nb`` (an executed notebook, banner included): HTML with images embedded."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], embed_images=True,
                            exclude_input_prompt=False)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}, "reader": needs(nb)})
    return body.replace(TOC_MARKER, table_of_contents(body), 1)
