"""Git clean filter for notebooks: what git stores is the notebook without what a kernel writes into it.

    python3 scripts/clean_notebook.py --install     # once per clone; `make setup` does it
    python3 scripts/clean_notebook.py < in.ipynb     # the filter itself: stored form on stdout

Notebooks are committed without outputs (their executed copies live in ``reports/``). Opening one in
JupyterLab fills in the kernel's full ``language_info`` (its Python version among it), and running
or saving it adds outputs, execution counts and cell timing. With this filter installed (the
``.gitattributes`` entry for ``notebooks/*.ipynb`` plus ``git config filter.notebook.clean``), git
compares and commits the notebook as stored, so opening, running and saving one leaves ``git status``
clean while the file on disk keeps what JupyterLab wrote. Without the config the attribute does
nothing (git ignores an undefined filter), so a clone works either way.

The stored form: code cells without outputs or execution counts; cell metadata reduced to ``tags``
(the ``parameters`` tag papermill reads); notebook metadata reduced to ``kernelspec`` and
``language_info.name``; JSON as nbformat writes it (one-space indent, sorted keys, UTF-8, final
newline). Only the standard library is used, so the filter runs before any environment exists.
"""

from __future__ import annotations

import json
import subprocess
import sys

FILTER = "notebook"
COMMAND = "python3 scripts/clean_notebook.py"  # git runs a clean filter in the top of the work tree
KEPT_CELL_METADATA = ("tags",)


def clean(notebook: dict) -> dict:
    """The stored form of ``notebook`` (a parsed .ipynb), leaving the input unchanged."""
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_CELL_METADATA}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    metadata = notebook.get("metadata", {})
    kept = {}
    if "kernelspec" in metadata:
        kept["kernelspec"] = metadata["kernelspec"]
    if "language_info" in metadata:
        kept["language_info"] = {"name": metadata["language_info"].get("name", "python")}
    return {**notebook, "cells": cells, "metadata": kept}


def dumps(notebook: dict) -> str:
    """JSON as nbformat writes a notebook."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def install() -> None:
    subprocess.run(["git", "config", f"filter.{FILTER}.clean", COMMAND], check=True)


def main(argv: list[str]) -> int:
    if argv == ["--install"]:
        install()
        return 0
    if argv:
        print("usage: clean_notebook.py [--install] < notebook.ipynb", file=sys.stderr)
        return 2
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError:
        sys.stdout.write(text)  # not a notebook git can clean: store it as it is rather than fail the commit
        return 0
    sys.stdout.buffer.write(dumps(clean(notebook)).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
