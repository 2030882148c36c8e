"""The report pages (lib.report.pages): the banner, folded code, the table of contents, no network."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from lib.report import captions, pages

RUNS = {"pretrain-aaaaaaaaaaaa": {"run_id": "pretrain-aaaaaaaaaaaa", "action": "loaded", "task": "pretrain",
                                  "finished": "2026-11-28T10:00:00+00:00", "device": "CPU: test"},
        "pretrain-bbbbbbbbbbbb": {"run_id": "pretrain-bbbbbbbbbbbb", "action": "loaded", "task": "pretrain",
                                  "finished": "2026-12-03T10:00:00+00:00", "device": "CPU: test"},
        "finetune-cccccccccccc": {"run_id": "finetune-cccccccccccc", "action": "trained", "task": "finetune",
                                  "finished": "2026-12-05T10:00:00+00:00", "device": "CPU: here"}}


def banner(status="ok", runs=RUNS, **kw):
    args = dict(status=status, error="ValueError: boom" if status != "ok" else None, profile="quick",
                parameters={"epochs": 20, "dataset": "sample", "profile": "quick", "recipe": ""}, runs=runs,
                date="2026-12-05T08:09:10+00:00", commit="0123456789ab", dirty=False, device="CPU: here",
                wall_time_s=12.34)
    return pages.banner(**{**args, **kw})


def test_banner_says_parameters_runs_and_provenance():
    text = banner()
    assert "<b>parameters:</b> profile quick, epochs 20, dataset sample, recipe &#x27;&#x27;" in text
    assert ("<b>runs:</b> 2 loaded from records (finished 2026-11-28 to 2026-12-03 on CPU: test), 1 trained now"
            in text)
    assert "2026-12-05 08:09 UTC" in text and "commit 0123456" in text and "12.3 s" in text
    assert 'href="index.html"' in text and "FAILED" not in text
    failed = banner(status="failed")
    assert failed.index("FAILED: this notebook did not finish") < failed.index("parameters:")
    assert "ValueError: boom" in failed


def test_quick_pages_warn_that_one_seed_is_indicative_only():
    quick = banner()
    assert "one seed, indicative only: see the" in quick and 'href="../cifar-cpu/index.html">cifar-cpu pages' in quick
    assert quick.index("indicative only") < quick.index("parameters:")  # first, where it is seen
    assert "indicative only" not in banner(profile="cifar-cpu")


def test_runs_line_when_nothing_or_only_training_happened():
    assert pages.runs_line({}) == "no run loaded or trained by this notebook"
    trained = {k: v for k, v in RUNS.items() if v["action"] == "trained"}
    assert pages.runs_line(trained) == "0 loaded from records, 1 trained now"


def notebook(failed_output: bool = False):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 07 · A title\n\n- **Question:** why?"),
                nbformat.v4.new_code_cell("epochs = 3  # passes", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("# Parameters\nepochs = 20\n", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_markdown_cell("## 1. First section\n\ntext\n\n### 1.1 A detail"),
                nbformat.v4.new_code_cell("print('result 42')", outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="result 42\n")]),
                nbformat.v4.new_markdown_cell("## Conclusion <em>here</em>")]
    return nb


def test_banner_goes_after_the_question_or_on_top_when_failed():
    nb = notebook()
    pages.place_banner(nb, "<div>first</div>", failed=False)
    pages.place_banner(nb, "<div>second</div>", failed=False)  # replaces the first
    tagged = [i for i, c in enumerate(nb.cells) if pages.BANNER_TAG in c.metadata.get("tags", [])]
    assert tagged == [1] and nb.cells[1].source == "<div>second</div>"
    pages.place_banner(nb, "<div>failed</div>", failed=True)
    tagged = [i for i, c in enumerate(nb.cells) if pages.BANNER_TAG in c.metadata.get("tags", [])]
    assert tagged == [0]


def test_page_folds_every_code_cell_lists_sections_and_loads_nothing_from_the_network():
    nb = notebook()
    pages.place_banner(nb, banner(), failed=False)
    page = pages.export(nb, "07 · A title")
    details = re.findall(r'<details class="reader-code"><summary>([^<]*)</summary>', page)
    assert details == ["code: parameters (the notebook's defaults)",
                       "code: the parameters of this run (injected by papermill)", "code"]
    assert not re.search(r"<details[^>]*\bopen\b", page)  # folded by default
    assert page.count('<div class="highlight hl-') == 3  # the code is there (folded)
    assert "print" in page and "result 42" in page  # input (folded) and output both kept
    assert page.index("Question:") < page.index("parameters:</b>") < page.index("result 42")
    toc = re.search(r'<nav class="reader-toc".*?</nav>', page, re.S).group(0)
    assert [t for t in re.findall(r">([^<>]+)</a>", toc)] == ["1. First section", "1.1 A detail", "Conclusion here"]
    for anchor in re.findall(r'href="#([^"]+)"', toc):
        assert f'id="{anchor}"' in page
    assert not re.search(r"<script[^>]+src=", page)  # no MathJax, RequireJS or Mermaid: nothing to load


def test_scripts_load_where_the_notebook_needs_them():
    nb = notebook()
    assert pages.needs(nb) == {"mathjax": False, "requirejs": False, "mermaid": False}
    nb.cells.append(nbformat.v4.new_markdown_cell("the loss $\\ell_{i,j}$"))
    nb.metadata["widgets"] = {}
    assert pages.needs(nb) == {"mathjax": True, "requirejs": True, "mermaid": False}
    page = pages.export(nb, "t")
    assert "mathjax" in page.lower() and "require.min.js" in page


@pytest.mark.parametrize("values, line", [
    ({"profile": "smoke"}, "profile smoke"),
    ({"a": 1.5, "profile": "full", "b": True, "c": ""}, "profile full, a 1.5, b True, c ''"),
])
def test_parameters_line(values, line):
    assert pages.parameters_line(values) == line


# ---- clean rendering: no prompts, no absolute path, alt text on every image ------------------------

def png(width: int = 40, height: int = 30) -> str:
    """A small PNG with a gradient and a flat area (as a figure has), base64 as a notebook stores it."""
    from PIL import Image

    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    pixels[..., 3] = 255
    pixels[: height // 2, : width // 2] = (255, 255, 255, 255)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def figures_notebook(alt: str | None = "Training curves of SimCLR") -> nbformat.NotebookNode:
    nb = notebook()
    metadata = {"image/png": {"alt": alt}} if alt else {}
    nb.cells.insert(4, nbformat.v4.new_code_cell("plots.curves(runs)", execution_count=5, outputs=[
        nbformat.v4.new_output("execute_result", data={"image/png": png(), "text/plain": "<Figure>"},
                               metadata=metadata, execution_count=5)]))
    nb.cells.insert(5, nbformat.v4.new_code_cell("table", execution_count=6, outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": "a table"}, execution_count=6)]))
    return nb


def test_page_shows_no_prompt_and_links_the_shared_stylesheet_instead_of_embedding_css():
    page = pages.export(figures_notebook(), "07 · A title")
    assert "a table" in page and not re.search(r"(In|Out)(&nbsp;|\s)*\[\s*\d*\s*\]:", page), "a prompt"
    from bs4 import BeautifulSoup

    sheets = [link.get("href") for link in BeautifulSoup(page, features="html.parser").find_all("link")]
    assert sheets == ["../reader.css"]
    inline_css = sum(len(m) for m in re.findall(r"<style.*?</style>", page, re.S))
    assert inline_css == 0, inline_css  # JupyterLab's 258 KB and Pygments' 4.6 KB are gone
    assert len(page) < 20_000, len(page)


def test_write_stylesheet_copies_it_once(tmp_path):
    path = pages.write_stylesheet(tmp_path)
    assert path == tmp_path / "reader.css" and path.read_text() == pages.STYLESHEET_SOURCE.read_text()
    css = path.read_text()
    for selector in ("details.reader-code > summary", ".report-banner", "nav.reader-toc", "nav.reader-pager",
                     ".jp-RenderedHTMLCommon table", ".jp-InputPrompt", ".highlight .k"):
        assert selector in css, selector


def alt_texts(page: str) -> list[str]:
    from bs4 import BeautifulSoup

    return [img.get("alt") for img in BeautifulSoup(page, features="html.parser").find_all("img")]


def test_every_image_gets_its_caption_or_its_section_as_alt_text_never_the_placeholder():
    page = pages.export(figures_notebook(), "t")
    assert alt_texts(page) == ["Training curves of SimCLR"]
    page = pages.export(figures_notebook(alt=None), "t")  # a figure without a caption: its section
    assert alt_texts(page) == ['Figure in section "1.1 A detail"']
    assert "No description has been provided" not in page


def test_relative_paths_name_the_checkout_runs_folder_and_home_never_their_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    roots = pages.display_roots(tmp_path / "runs")
    checkout = pages.CHECKOUT
    text = (f"manifest: {checkout}/runs/_manifests/02_simclr-quick.json\n"
            f"records in {tmp_path}/runs/pretrain-abc/record.json; here: {checkout}\n"
            f"not a path under it: {checkout}2/x")
    shown = pages.relative_paths(text, roots)
    assert shown.splitlines()[:2] == ["manifest: runs/_manifests/02_simclr-quick.json",
                                      "records in $THESIS_RUNS_DIR/pretrain-abc/record.json; here: ."]
    assert f"{checkout}2/x" in shown  # another folder that merely starts with the same letters is left alone
    assert pages.relative_paths(f"{Path.home()}/data/x.jpg", roots) == "~/data/x.jpg"
    manifest = f"{pages.CHECKOUT}/runs/_manifests/02_simclr-quick.json"  # the checkout's own runs/
    assert pages.relative_paths(manifest, pages.display_roots(pages.CHECKOUT / "runs")) == \
        "runs/_manifests/02_simclr-quick.json"
    assert pages.relative_paths(f"{tmp_path}/r/a.json", pages.display_roots(tmp_path / "r")) == "[runs_dir]/a.json"


def test_export_leaves_no_absolute_path_in_code_outputs_or_tracebacks(tmp_path, monkeypatch):
    nb = figures_notebook()
    runs = tmp_path / "runs"
    monkeypatch.setenv("THESIS_RUNS_DIR", str(runs))  # as the test suite runs the notebooks
    nb.cells[2].source += f'runs_dir = "{runs}"\n'
    nb.cells.append(nbformat.v4.new_code_cell("write()", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"manifest: {pages.CHECKOUT}/runs/_manifests/a.json\n"),
        nbformat.v4.new_output("display_data", data={"text/html": f"<p>{runs}/pretrain-a</p>"}),
        nbformat.v4.new_output("error", ename="OSError", evalue=f"no {runs}/x",
                               traceback=[f"File {pages.CHECKOUT}/lib/report/tables.py:3"])]))
    page = pages.export(nb, "t", runs_dir=runs)
    assert str(pages.CHECKOUT) not in page and str(tmp_path) not in page
    assert "manifest: runs/_manifests/a.json" in page and "$THESIS_RUNS_DIR/pretrain-a" in page
    assert "lib/report/tables.py:3" in page


def test_figure_caption_reaches_the_output_metadata_in_ipython():
    from types import SimpleNamespace

    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    ax.set_xlabel("epoch")
    ax.set_ylabel("kNN top-1 (%)")
    assert captions.caption(fig) == "kNN top-1 (%) against epoch"
    ax.set_title("SimCLR")
    assert captions.caption(fig) == "SimCLR"
    fig.suptitle("CIFAR-10:  SimCLR\npretraining")
    assert captions.caption(fig) == "CIFAR-10: SimCLR pretraining"
    captions.set_caption(fig, "Figure 1. kNN top-1 per epoch, mean over 3 seeds.")
    shell = SimpleNamespace(display_formatter=DisplayFormatter())  # a kernel's formatters, no global shell
    assert captions.register(shell) and not captions.register()  # outside a kernel: nothing to do
    _, metadata = shell.display_formatter.format(fig)
    assert metadata["image/png"]["alt"] == "Figure 1. kNN top-1 per epoch, mean over 3 seeds."
    assert metadata["image/png"]["width"] == captions.display_width(fig)  # shown at its own size (96 px/inch)


def test_images_are_recompressed_losslessly_up_to_256_colours():
    from PIL import Image

    original = png(200, 120)  # at most 201 colours: the WebP keeps every pixel
    page = pages.compress_images(f'<img src="data:image/png;base64,{original}">')
    data = re.search(r'data:image/\w+;base64,([^"]+)', page).group(1)
    smaller = base64.b64decode(data)
    assert len(smaller) <= len(base64.b64decode(original))
    before = np.asarray(Image.open(io.BytesIO(base64.b64decode(original))).convert("RGBA"))
    after = np.asarray(Image.open(io.BytesIO(smaller)).convert("RGBA"))
    assert np.array_equal(before, after)


def test_a_picture_of_many_colours_keeps_256_close_ones_and_gets_smaller():
    """A photo-like figure (many colours, as the image grids of 00-02) is stored in a 256-colour palette
    (no dithering), each pixel close to its colour, and in fewer bytes than its lossless WebP."""
    from PIL import Image

    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)  # 768 colours, as 32-px images upscaled
    pixels = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG")
    mime, data = pages.smaller_image(out.getvalue())
    after = Image.open(io.BytesIO(data)).convert("RGB")
    assert mime == "image/webp" and after.getcolors(256) is not None
    assert np.abs(np.asarray(after).astype(int) - pixels).mean() < 12
    lossless = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(lossless, "WEBP", lossless=True)
    assert len(data) < lossless.tell()


def test_slim_markup_drops_only_what_the_stylesheet_does_not_style():
    body = ('<div class="highlight hl-ipython3"><pre><span></span><span class="n">x</span> <span class="o">=</span> '
            '<span class="s2">"a&lt;b"</span><span class="p">)</span></pre></div>'
            '<div class="jp-Collapser jp-InputCollapser jp-Cell-inputCollapser">\n</div>\n<p><span class="n">kept</span></p>')
    slim = pages.slim_markup(body, pages.styled_token_classes(pages.STYLESHEET_SOURCE.read_text(encoding="utf-8")))
    assert slim == ('<div class="highlight hl-ipython3"><pre>x <span class="o">=</span> <span class="s2">"a&lt;b"</span>)'
                    '</pre></div><p><span class="n">kept</span></p>')
    assert {"o", "s2", "k", "c1"} <= pages.styled_token_classes(pages.STYLESHEET_SOURCE.read_text(encoding="utf-8"))


# ---- navigation --------------------------------------------------------------------------------

ORDER = [("00_data", "00 · Data"), ("01_supervised", "01 · Supervised"), ("02_simclr", "02 · SimCLR")]


def test_neighbours_and_pager_link_previous_next_profile_index_and_top_index():
    first, middle, last = (pages.neighbours(stem, ORDER, "quick") for stem, _ in ORDER)
    assert first.previous is None and first.next == ("01_supervised.html", "01 · Supervised")
    assert middle.previous == ("00_data.html", "00 · Data") and middle.next == ("02_simclr.html", "02 · SimCLR")
    assert last.next is None
    links = re.findall(r'<a (?:rel="(\w+)" )?href="([^"]+)"', pages.pager(middle))
    assert links == [("prev", "00_data.html"), ("", "index.html"), ("", "../index.html"), ("next", "02_simclr.html")]
    assert 'rel="prev"' not in pages.pager(first) and 'rel="next"' not in pages.pager(last)


def test_notebook_mentions_in_prose_become_links():
    nb = notebook()
    nb.cells[3].source += ("\n\nAs notebook 01 showed, and notebooks 00 and 02 agree; notebook 04 has no page; "
                           "`notebook 01` is code; the notebooks 00-02 are all.")
    nav = pages.neighbours("01_supervised", ORDER, "quick")
    page = pages.export(nb, "t", nav=nav, notebook_pages={"00": "00_data.html", "02": "02_simclr.html",
                                                         "01": "01_supervised.html"})
    assert 'As notebook <a class="notebook-link" href="01_supervised.html">01</a> showed' in page
    assert ('notebooks <a class="notebook-link" href="00_data.html">00</a> and '
            '<a class="notebook-link" href="02_simclr.html">02</a> agree') in page
    assert "notebook 04 has no page" in page and "<code>notebook 01</code>" in page
    assert ('notebooks <a class="notebook-link" href="00_data.html">00</a>-'
            '<a class="notebook-link" href="02_simclr.html">02</a> are all') in page
    assert page.count('<nav class="reader-pager"') == 2  # above and below the page


def answer_notebook(answer: str):
    nb = notebook()
    nb.cells.append(nbformat.v4.new_code_cell("conclusions.show(...)", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/markdown": answer, "text/plain": "<IPython.core.display.Markdown object>"})]))
    pages.place_banner(nb, banner(profile="cifar-cpu"), failed=False)
    return nb


def test_answer_box_gives_the_finding_and_its_test_under_the_banner():
    """#25 item 1: the box is cut from the Answer that lib.report.conclusions wrote from the numbers,
    so it cannot disagree with the full Answer at the end."""
    from lib.report import conclusions as C
    from tests.test_conclusions import BASE, hz, runs_with

    three = C.supervised(runs_with({"cross-entropy": [0.5, 0.52, 0.51], "SupCon": [0.6, 0.62, 0.61]}), BASE, 3)
    brief = pages.answer_brief(three)
    assert brief.startswith("On CIFAR-10") and "(61.0 ± 1.0 %)" in brief  # the finding, with its numbers
    assert brief.endswith("SupCon beats cross-entropy on MAP@R (paired t-test, 5%).")  # and its test
    assert "mean ± std over seeds:" not in brief and "\n- " not in brief  # no lead-in, no per-method list
    one = pages.answer_brief(C.simclr([hz(0.5, 0.4)], {}, BASE, 1))
    assert one.endswith(C.ONE_SEED)  # one seed: the box says there is no test
    claims = [{"claim": "a", "source": "s", "verdict": "agrees", "ours (points)": "+1.0 ± 0.2", "seeds": 3,
               "paper (points)": 2.0, "p (one-sided)": 0.01}]
    assert pages.answer_brief(C.claims(claims * 2, "CIFAR-10")) == "Of the 2 claims tested on CIFAR-10: 2 agree."
    assert pages.answer_brief("**Answer** (profile quick):\n\n- **01:** a 1 %.\n- **02:** b.") == \
        "- **01:** a 1 %.\n- **02:** b."  # 09: the Answer is its list of findings

    nb = answer_notebook(three)
    assert pages.place_answer_box(nb) and pages.place_answer_box(nb)  # the second replaces the first
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert [i for i, t in enumerate(tags) if pages.ANSWER_TAG in t] == [2]  # question, banner, answer box
    page = pages.export(nb, "07 · A title")
    box = page[page.index('class="answer-box"'):]
    assert box.index("Answer in brief") < box.index("<b>SupCon</b> (61.0 ± 1.0 %)") < box.index('href="#Conclusion"')
    assert page.index('class="answer-box"') < re.search(r'<h2 id="[^"]*First-section', page).start()
    assert page.count("(paired t-test, 5%)") == 2  # in the box and in the full Answer at the end


def test_no_answer_box_without_an_answer():
    nb = notebook()
    assert not pages.place_answer_box(nb)
    assert not any(pages.ANSWER_TAG in c.metadata.get("tags", []) for c in nb.cells)


def test_figures_are_numbered_in_page_order_and_the_number_is_printed_under_the_image():
    """#25 item 5: numbered figures with captions. The kernel numbers each figure the first time it is
    shown (page order; shown again, it keeps its number; a new kernel starts at 1), and the page
    prints the numbered caption under the image as well as in its alt text."""
    from types import SimpleNamespace

    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    shell = SimpleNamespace(display_formatter=DisplayFormatter())
    captions.register(shell)
    first, second = Figure(), Figure()
    first.suptitle("Loss per epoch")
    second.suptitle("kNN top-1")
    alt = [shell.display_formatter.format(fig)[1]["image/png"]["alt"] for fig in (first, second, first)]
    assert alt == ["Figure 1. Loss per epoch", "Figure 2. kNN top-1", "Figure 1. Loss per epoch"]
    captions.register(SimpleNamespace(display_formatter=DisplayFormatter()))  # the next notebook's kernel
    third = captions.set_caption(Figure(), "UMAP of h")
    assert captions.figure_metadata(third)[1]["image/png"]["alt"] == "Figure 1. UMAP of h"

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(pages.export(figures_notebook(alt="Figure 1. Training curves of SimCLR"), "t"),
                         features="html.parser")
    assert [p.get_text() for p in soup.select("p.figure-caption")] == ["Figure 1. Training curves of SimCLR"]
    assert not BeautifulSoup(pages.export(figures_notebook(), "t"), features="html.parser").select("p.figure-caption")
