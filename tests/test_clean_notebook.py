"""scripts/clean_notebook.py: opening, running and saving a notebook in JupyterLab leaves git clean."""
import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from ipykernel.ipkernel import IPythonKernel

from lib.config import repo_path

NOTEBOOKS = sorted(repo_path("notebooks").glob("*.ipynb"))
SCRIPT = repo_path("scripts/clean_notebook.py")


def run_filter(text: str) -> str:
    return subprocess.run([sys.executable, str(SCRIPT)], input=text.encode(), capture_output=True,
                          check=True).stdout.decode()


def as_jupyterlab_saves_it(path) -> str:
    """The notebook after opening it, running every cell and saving: the kernel's full language_info,
    outputs, execution counts and the cell timing metadata JupyterLab records."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = dict(IPythonKernel.language_info)  # what the kernel reports
    for count, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "code":
            cell.execution_count = count
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
            cell.metadata["execution"] = {"iopub.execute_input": "2026-12-06T05:00:00.000Z"}
    return nbformat.writes(nb) + "\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_what_the_filter_stores(path):
    assert run_filter(path.read_text()) == path.read_text()


@pytest.mark.parametrize("path", NOTEBOOKS[:2], ids=lambda p: p.stem)
def test_a_notebook_saved_by_jupyterlab_is_stored_as_committed(path):
    saved = as_jupyterlab_saves_it(path)
    assert saved != path.read_text()  # what JupyterLab writes differs: the filter has work to do
    assert run_filter(saved) == path.read_text()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_diff_stays_empty_after_jupyterlab_saves(tmp_path):
    source = NOTEBOOKS[0]
    repo = tmp_path / "clone"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy(SCRIPT, repo / "scripts")
    shutil.copy(repo_path(".gitattributes"), repo)
    shutil.copy(source, repo / "notebooks")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([sys.executable, "scripts/clean_notebook.py", "--install"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "notebooks"], check=True)
    (repo / "notebooks" / source.name).write_text(as_jupyterlab_saves_it(source))
    diff = subprocess.run([*git, "diff", "--stat"], capture_output=True, text=True, check=True).stdout
    assert diff == ""
    # git status lists a file whose size changed until the index is refreshed by `git add`, which then
    # stages nothing: the stored notebook is unchanged
    subprocess.run([*git, "add", "-u"], check=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    assert status == ""
    # and a real edit still shows
    nb = json.loads((repo / "notebooks" / source.name).read_text())
    nb["cells"][0]["source"][0] += " (edited)"
    (repo / "notebooks" / source.name).write_text(json.dumps(nb))
    diff = subprocess.run([*git, "diff"], capture_output=True, text=True, check=True).stdout
    assert "(edited)" in diff and "language_info" not in diff and "outputs" not in diff
