"""The report pages (lib.report.pages): the banner, folded code, the table of contents, no network."""

from __future__ import annotations

import re

import nbformat
import pytest

from lib.report import pages

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
    assert page.count("jp-InputArea jp-Cell-inputArea\">\n<div class=\"jp-InputPrompt") == 3  # the code is there
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
