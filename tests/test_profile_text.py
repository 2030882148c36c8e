"""Profile-aware text (#25 item 3): no page says what is true only of another profile's data or seed
count. The CIFAR-10 pages (cifar-cpu) must not explain their figures with Fashion-MNIST's classes
(the quick and smoke profiles' sample) nor speak of "one seed" except where a sentence names the
one-seed profile (``quick``) it describes."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from lib.report import runner
from lib.report.kernels import CHECKOUT

# Fashion-MNIST's class names that are not ordinary words in prose about CIFAR-10
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Sandal", "Sneaker", "Ankle boot", "footwear", "collar", "sleeve")
NOTEBOOKS = sorted((CHECKOUT / "notebooks").glob("*.ipynb"))


def visible_text(page: str) -> str:
    """The text a reader sees without opening anything: the page without its folded code (the
    ``<details class="reader-code">`` blocks), its scripts, styles and tags."""
    page = re.sub(r'<details class="reader-code">.*?</details>', " ", page, flags=re.S)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def other_profiles_text(text: str) -> list[str]:
    """Sentences of ``text`` that are true only of the sample's data or of one seed: a Fashion-MNIST
    class name anywhere, or "one seed" in a sentence that does not name the profile it describes."""
    found = [name for name in FASHION_CLASSES if re.search(rf"\b{re.escape(name)}", text, re.I)]
    sentences = re.split(r"(?<=[.;])\s+", text)
    found += [s for s in sentences if re.search(r"\bone seed\b", s, re.I) and "quick" not in s]
    return found


def test_the_checks_find_what_the_old_pages_said():
    assert other_profiles_text("Classes that differ in silhouette (in Fashion-MNIST: trousers, bags and footwear "
                               "against tops) can separate.") == ["Trouser", "footwear"]
    assert other_profiles_text("It is inconclusive otherwise, as every verdict is with one seed.") != []
    assert other_profiles_text("`quick` checks the mechanics with one seed; cat and dog look alike.") == []
    assert visible_text('<p>a</p><details class="reader-code"><summary>code</summary>T-shirt</details>b') == "a b"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_prose_names_no_class_of_one_data_set(path):
    """Every profile renders the same Markdown: it must hold for CIFAR-10 and for the sample alike."""
    markdown = " ".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert [n for n in FASHION_CLASSES if re.search(rf"\b{re.escape(n)}", markdown, re.I)] == []


@pytest.mark.slow
@pytest.mark.skipif(not (CHECKOUT / "data" / "cifar10-jpeg" / "train").is_dir(),
                    reason="the CIFAR-10 JPEG copy (data/cifar10-jpeg) is not unpacked")
def test_rendered_cifar_pages_say_nothing_of_fashion_mnist_or_one_seed(tmp_path, monkeypatch):
    """00, 02, 05 and 09 at cifar-cpu, rendered from the committed records (nothing trained), into a copy of
    the runs folder (the render rewrites manifests)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for folder in (CHECKOUT / "runs").iterdir():
        if folder.name == "_manifests":
            shutil.copytree(folder, runs / folder.name)
        else:
            (runs / folder.name).symlink_to(folder)
    monkeypatch.setenv("THESIS_RUNS_DIR", str(runs))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "reports" / "cifar-cpu"
    assert runner.main(["--profile", "cifar-cpu", "--only", "00,02,05,09", "--output", str(out)]) == 0
    for page in sorted(out.glob("0*.html")):
        text = visible_text(page.read_text())
        assert "CIFAR-10" in text, page.name
        assert other_profiles_text(text) == [], page.name
