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
- figures are embedded (PNG, or a lossless WebP of the figure in at most 256 colours where smaller) with their caption as alt text
  (:func:`describe_images`); no script is loaded from the network unless the notebook needs it
  (MathJax for formulas, RequireJS for widgets, Mermaid for diagrams);
- no ``In [n]:`` / ``Out[n]:`` prompts, and no absolute local path: paths under the checkout are shown
  relative to it; the runs folder outside it, the Python environment and the home folder by name
  (:func:`relative_paths`);
- previous/next links to the profile's neighbouring pages, and links up to the profile's index and
  the top index, above and below the page (:func:`pager`); "notebook 01" in prose links to that
  page (:func:`link_notebooks`).

The page embeds no CSS: it links one stylesheet, ``reader.css`` in the folder above the profile
folders (``reports/reader.css``, written by :func:`write_stylesheet`), shared by every page, instead
of the 258 KB of JupyterLab CSS nbconvert's "lab" template puts into each page. A page therefore
expects the layout ``<root>/<profile>/<page>.html`` beside ``<root>/reader.css`` and
``<root>/index.html``, which the runner writes. The template is ``templates/reader`` (nbconvert's
"lab" template, extended).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..paths import CHECKOUT

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "reader"
BANNER_TAG = "report-status"  # tag of the banner cell the runner puts into each executed notebook
TOC_MARKER = "<!-- reader-toc -->"
PAGER_MARKERS = ("<!-- reader-pager-top -->", "<!-- reader-pager-bottom -->")
STYLESHEET = "reader.css"  # in the folder above the profile folders: pages link ../reader.css
STYLESHEET_SOURCE = TEMPLATES / TEMPLATE / STYLESHEET
# CHECKOUT (lib.paths): the folder that holds this ``lib``
_NOTEBOOK_MENTION = re.compile(  # "notebook 01", "notebooks 05, 06 and 07", "notebooks 05-08"
    r"\b([Nn]otebooks?)(\s+)(\d{2}\b(?:(?:,\s*|,?\s+and\s+|,?\s+or\s+|\s*[-–]\s*)\d{2}\b)*)")
_NUMBER = re.compile(r"\d{2}\b")
_HEADING = re.compile(r'<h([23]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_MATH = re.compile(r"\$|\\\(|\\\[|\\begin\{")


# ---- the banner --------------------------------------------------------------------------------

# Profiles that run one seed: their pages test nothing, and say so on top, linking the tested pages.
INDICATIVE_PROFILES = ("quick",)
QUICK_WARNING = ('<b class="indicative">one seed, indicative only: see the <a href="../cifar-cpu/index.html">cifar-cpu '
                 'pages</a> for tested results</b>')

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
    if profile in INDICATIVE_PROFILES:
        lines.insert(0, QUICK_WARNING)
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


# ---- the answer box: the finding first ------------------------------------------------------------

ANSWER_TAG = "report-answer"  # tag of the box the runner puts under the banner
_ANSWER_START = re.compile(r"^\*\*Answer\b[^*]*\*\*(\s*\([^)]*\))?:?\s*")  # "**Answer.**", "**Answer** (profile x):"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*])")  # "... 0.39 %). So pixel ..." splits; "0.5" does not


def answer_markdown(nb) -> str | None:
    """The notebook's Answer as :mod:`lib.report.conclusions` wrote it: the last Markdown output that
    starts with "**Answer"; None when the notebook shows none (it failed before, or has no Answer)."""
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else ():
            text = out.get("data", {}).get("text/markdown", "")
            text = "".join(text) if isinstance(text, list) else text
            if text.lstrip().startswith("**Answer"):
                found = text.strip()
    return found


def answer_brief(markdown: str) -> str:
    """The finding in brief, cut from the Answer itself, so the box and the full Answer at the end are
    one text written from the same numbers: the Answer's first sentence (the result, with its numbers)
    and every sentence that gives the verdict of its test ("So ...", and "With one seed ..." where there
    is no test). Lead-ins to a list ("..., mean ± std over seeds:") are left out; an Answer that is only
    a list (09's) is given as that list."""
    body = _ANSWER_START.sub("", markdown.strip(), count=1)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    prose = [p for p in paragraphs if not p.startswith("- ")]
    sentences = [s.strip() for p in prose for s in _SENTENCE_END.split(" ".join(p.split()))]
    sentences = [s for s in sentences if s and not s.endswith(":")]
    chosen = sentences[:1] + [s for s in sentences[1:] if s.startswith(("So ", "With one seed"))]
    if chosen and (prose and not prose[0].endswith(":") or len(chosen) > 1):
        return " ".join(dict.fromkeys(chosen))
    items = next((p for p in paragraphs if p.startswith("- ")), "")
    return items or " ".join(chosen)


def _inline_html(markdown: str) -> str:
    """Bold, italics and code of a Markdown sentence as HTML (the box is HTML, so that it can be styled)."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<i>\1</i>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def answer_box(brief: str) -> str:
    """The box's HTML: "Answer in brief", the finding, and a link to the full Answer at the end."""
    if brief.startswith("- "):
        items = [line[2:].strip() for line in brief.splitlines() if line.startswith("- ")]
        inner = "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in items) + "</ul>"
    else:
        inner = f"<p>{_inline_html(brief)}</p>"
    return (f'<div class="answer-box"><b>Answer in brief.</b> {inner}'
            '<p class="answer-more"><a href="#Conclusion">The full Answer, with every number and test, is at the '
            "end of the page.</a></p></div>")


def place_answer_box(nb) -> bool:
    """Put the answer box under the banner (which :func:`place_banner` put under the question),
    replacing an earlier one; False, and no box, when the notebook shows no Answer."""
    import nbformat

    nb.cells = [c for c in nb.cells if ANSWER_TAG not in c.get("metadata", {}).get("tags", [])]
    markdown = answer_markdown(nb)
    if not markdown or not answer_brief(markdown):
        return False
    at = next((i + 1 for i, c in enumerate(nb.cells) if BANNER_TAG in c.get("metadata", {}).get("tags", [])), None)
    if at is None:
        at = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(answer_box(answer_brief(markdown)),
                                                      metadata={"tags": [ANSWER_TAG]}))
    return True


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


# ---- what a page must not show: absolute paths, images without a description --------------------

def display_roots(runs_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """``(absolute folder, how a page names it)`` for the folders whose paths a notebook may print:
    the checkout (its paths are shown relative to it: ``runs/_manifests/...``), the runs folder where
    it lies outside the checkout (``$THESIS_RUNS_DIR/`` when that variable names it, else
    ``[runs_dir]/``), the Python environment (``[env]/``) and the home folder (``~/``). Longest
    first, so that a folder inside another is named by the inner one."""
    runs = Path(runs_dir).resolve() if runs_dir else None
    if runs is not None and runs.is_relative_to(CHECKOUT):
        runs = None  # runs/ of the checkout: shown relative to the checkout, as any path in it
    from_env = runs is not None and Path(os.environ.get("THESIS_RUNS_DIR") or "/nonexistent").resolve() == runs
    roots = {}
    for folder, shown in ((Path.home(), "~/"), (Path(sys.prefix), "[env]/"), (Path(sys.base_prefix), "[python]/"),
                          (runs, "$THESIS_RUNS_DIR/" if from_env else "[runs_dir]/"), (CHECKOUT, "")):
        if folder is None or not folder.is_absolute() or len(folder.parts) < 2:
            continue
        for form in {str(folder), os.path.abspath(folder), os.path.realpath(folder)}:
            roots[form.rstrip(os.sep)] = shown
    return sorted(roots.items(), key=lambda item: -len(item[0]))


def relative_paths(text: str, roots: Sequence[tuple[str, str]]) -> str:
    """``text`` with every path under one of ``roots`` (:func:`display_roots`) written as the page
    shows it: "manifest: /home/me/thesis/runs/_manifests/02_simclr-quick.json" becomes
    "manifest: runs/_manifests/02_simclr-quick.json". A root is replaced only where a path starts
    (not inside a longer name such as ``/work/main2``)."""
    for folder, shown in roots:
        pattern = re.compile(r"(?<![\w.~/-])" + re.escape(folder) + r"(?:(/)|(?![\w.-]))")
        text = pattern.sub(lambda m: shown if m.group(1) else (shown.rstrip("/") or "."), text)
    return text


def _relative_output(output, roots) -> None:
    if "text" in output:
        output["text"] = relative_paths(output["text"], roots)
    if "traceback" in output:
        output["traceback"] = [relative_paths(line, roots) for line in output["traceback"]]
    if "evalue" in output:
        output["evalue"] = relative_paths(output["evalue"], roots)
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime in ("application/json",):
            if isinstance(value, str):
                output["data"][mime] = relative_paths(value, roots)
            elif isinstance(value, list):
                output["data"][mime] = [relative_paths(v, roots) if isinstance(v, str) else v for v in value]


def strip_local_paths(nb, roots: Sequence[tuple[str, str]]) -> None:
    """Rewrite, in place, every absolute path under ``roots`` in the cells' sources (code and
    markdown: the folded code is on the page too) and outputs (printed text, tables, tracebacks)."""
    for cell in nb.cells:
        cell.source = relative_paths(cell.source, roots)
        for output in cell.get("outputs", []):
            _relative_output(output, roots)


IMAGE_TYPES = ("image/png", "image/jpeg")


def describe_images(nb) -> int:
    """Give every image output an alt text, in place: the caption the kernel put into the output's
    metadata (``metadata[<mime>]["alt"]``, see :func:`lib.report.plots.caption`) or the output's
    top-level ``alt``; where neither exists, "Figure in section <the heading above it>", never
    nbconvert's placeholder "No description has been provided for this image". Returns how many
    images fell back to the section."""
    section, fallbacks = "", 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines() if re.match(r"#{1,3}\s", line)]
            section = headings[-1] if headings else section
            continue
        for output in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                if mime not in output.get("data", {}):
                    continue
                metadata = output.setdefault("metadata", {})
                own = metadata.get(mime) if isinstance(metadata.get(mime), dict) else {}
                alt = (own.get("alt") or metadata.get("alt") or "").strip()
                if not alt:
                    alt = f"Figure in section \"{section}\"" if section else "Figure"
                    fallbacks += 1
                metadata[mime] = {**own, "alt": alt}
    return fallbacks


# ---- navigation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Neighbours:
    """Where a page links to: the previous and next pages of its profile (``(file name, title)``, or
    None at either end), the profile's index beside it and the top index one folder up."""

    previous: tuple[str, str] | None = None
    next: tuple[str, str] | None = None
    profile: str = ""
    profile_index: str = "index.html"
    top_index: str = "../index.html"


def neighbours(stem: str, pages: Sequence[tuple[str, str]], profile: str = "") -> Neighbours:
    """The neighbours of ``stem`` among ``pages`` (``(stem, title)`` in reading order: every notebook
    of the profile, whether or not it is rendered in this run, so links stay right after a full run)."""
    at = [s for s, _ in pages].index(stem)

    def link(i: int) -> tuple[str, str] | None:
        return (f"{pages[i][0]}.html", pages[i][1]) if 0 <= i < len(pages) else None
    return Neighbours(previous=link(at - 1), next=link(at + 1), profile=profile)


def pager(n: Neighbours) -> str:
    """The links above and below a page: previous, the profile's index, all profiles, next."""
    e = html.escape
    cells = [f'<a rel="prev" href="{e(n.previous[0])}">← {e(n.previous[1])}</a>' if n.previous else "<span></span>",
             f'<span class="up"><a href="{e(n.profile_index)}">{e(("profile " + n.profile) if n.profile else "index")}'
             f'</a> · <a href="{e(n.top_index)}">all reports</a></span>',
             f'<a rel="next" href="{e(n.next[0])}">{e(n.next[1])} →</a>' if n.next else "<span></span>"]
    return f'<nav class="reader-pager" aria-label="Pages">{"".join(cells)}</nav>'


def link_notebooks(body: str, pages: Mapping[str, str], own: str = "") -> str:
    """``body`` with "notebook 01" (and "notebooks 05, 06 and 07", "notebooks 05-08": each number) in
    prose linked to those pages
    (``pages``: number prefix -> file name); not inside links, code or headings, not to the page
    itself (``own``: its number), and not to a number that has no page."""
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(body, features="html.parser")
    skip = {"a", "code", "pre", "script", "style", "h1", "h2", "h3", "h4", "h5", "h6", "summary", "title"}

    def linked(match: re.Match) -> str:
        def one(number: re.Match) -> str:
            nn = number.group(0)
            return (f'<a class="notebook-link" href="{html.escape(pages[nn])}">{nn}</a>'
                    if nn in pages and nn != own else nn)
        return match.group(1) + match.group(2) + _NUMBER.sub(one, html.escape(match.group(3)))

    for area in soup.select(".jp-RenderedMarkdown"):
        for node in list(area.find_all(string=_NOTEBOOK_MENTION)):
            if not isinstance(node, NavigableString) or any(p.name in skip for p in node.parents):
                continue
            text = str(node)
            out, last = [], 0
            for m in _NOTEBOOK_MENTION.finditer(text):
                out += [html.escape(text[last:m.start()]), linked(m)]
                last = m.end()
            out.append(html.escape(text[last:]))
            node.replace_with(BeautifulSoup("".join(out), features="html.parser"))
    return str(soup)


# ---- weight ------------------------------------------------------------------------------------

_PNG_DATA = re.compile(r'data:image/png;base64,([A-Za-z0-9+/=]+)')


PALETTE = 256  # colours an embedded figure keeps (as save_png does for images/): the anti-aliased
# plots use a few hundred to a few thousand, the pictures of data (upscaled 32-px images) more


def palette_image(image):
    """``image`` (a PIL image) as RGB on white with at most :data:`PALETTE` colours: unchanged when it
    has no more, else reduced by median cut refined by k-means, without dithering (dithering sprinkles
    dots over the flat areas of the small pictures and makes them larger to store)."""
    from PIL import Image

    rgba = image.convert("RGBA")
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if rgb.getcolors(PALETTE) is not None:
        return rgb
    return rgb.quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT, kmeans=1,
                        dither=Image.Dither.NONE).convert("RGB")


def smaller_image(png: bytes) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of the smaller of ``png`` and the lossless WebP of its
    :func:`palette_image`: the same pixels for a figure of at most 256 colours, colours moved to the
    nearest of 256 for the rest (the resolution, 150 DPI, is kept). That is about a third of the bytes of
    a lossless WebP of the full colours, which itself is about half of matplotlib's PNG."""
    import io

    from PIL import Image, features

    if not features.check("webp"):
        return "image/png", png
    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        palette_image(image).save(out, "WEBP", lossless=True, quality=100, method=6)
    return ("image/webp", out.getvalue()) if out.tell() < len(png) else ("image/png", png)


def compress_images(body: str) -> str:
    """``body`` with each embedded PNG replaced by the WebP of :func:`smaller_image` where that is smaller."""
    import base64

    def one(match: re.Match) -> str:
        mime, data = smaller_image(base64.b64decode(match.group(1)))
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return _PNG_DATA.sub(one, body)


_HIGHLIGHTED = re.compile(r'(<div class="highlight[^"]*"><pre>)(.*?)(</pre>)', re.S)
_TOKEN = re.compile(r'<span class="([\w-]+)">([^<]*)</span>')
_HIDDEN_COLLAPSER = re.compile(r'<div class="jp-Collapser[^"]*">\s*</div>\n?')  # reader.css: display none


def styled_token_classes(css: str) -> frozenset[str]:
    """The Pygments token classes ``css`` gives a style (``.highlight .k``, ...)."""
    return frozenset(re.findall(r"\.highlight \.([\w-]+)\b", css))


def slim_markup(body: str, styled: frozenset[str]) -> str:
    """``body`` without markup that changes nothing on the page: in highlighted code, the ``<span>`` of
    each token whose class the stylesheet does not style (names, punctuation, white space: about
    half of every page's folded code) and Pygments' empty ``<span></span>``; and the empty input
    collapsers, which reader.css hides. The page looks the same, with some 15 % fewer bytes."""
    def code(match: re.Match) -> str:
        inner = match.group(2).replace("<span></span>", "")
        inner = _TOKEN.sub(lambda t: t.group(0) if t.group(1) in styled else t.group(2), inner)
        return match.group(1) + inner + match.group(3)
    return _HIDDEN_COLLAPSER.sub("", _HIGHLIGHTED.sub(code, body))


# ---- the stylesheet and the page ---------------------------------------------------------------

def write_stylesheet(root: str | Path) -> Path:
    """``<root>/reader.css``, the one stylesheet every page links (``../reader.css`` from a profile
    folder), copied from the template; left alone when it is already the same."""
    target = Path(root) / STYLESHEET
    if not target.is_file() or target.read_bytes() != STYLESHEET_SOURCE.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STYLESHEET_SOURCE, target)
    return target


def export(nb, title: str, nav: Neighbours | None = None, notebook_pages: Mapping[str, str] | None = None,
           runs_dir: str | Path | None = None) -> str:
    """The page of ``nb`` (an executed notebook, banner included): HTML with images embedded (as
    a 256-colour lossless WebP where that is smaller, :func:`compress_images`), no prompts, no absolute local
    path, linked to ``../reader.css``, with the previous/next links of ``nav`` and "notebook NN"
    mentions linked to ``notebook_pages`` (number prefix -> file name; leave the page's own number
    out). ``nb`` is changed in place (paths made relative, alt texts set)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    strip_local_paths(nb, display_roots(runs_dir))
    describe_images(nb)
    no_inline_css = Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}})  # Pygments' CSS: in reader.css
    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], embed_images=True,
                            exclude_input_prompt=True, exclude_output_prompt=True, config=no_inline_css)
    resources = {"metadata": {"name": title}, "reader": {**needs(nb), "stylesheet": f"../{STYLESHEET}"}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if notebook_pages:
        body = link_notebooks(body, notebook_pages)
    body = compress_images(body.replace(TOC_MARKER, table_of_contents(body), 1))
    body = slim_markup(body, styled_token_classes(STYLESHEET_SOURCE.read_text(encoding="utf-8")))
    links = pager(nav) if nav else ""
    for marker in PAGER_MARKERS:
        body = body.replace(marker, links, 1)
    return body
