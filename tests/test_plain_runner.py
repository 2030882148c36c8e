"""Running notebooks without Jupyter (lib.report.plain, lib.report --engine plain), the record-only
guard (THESIS_REQUIRE_RECORDS) and the GPU wrapper that packs what it trained (benchmarks/gpu_report.py)."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path

import nbformat
import pytest

from lib import training
from lib.report import plain, runner
from lib.config import Config, repo_path
from lib.report.params import ParameterError, read_notebook
from lib.records import REQUIRE_RECORDS_ENV

ROOT = repo_path(".")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook(path: Path, cells: list[str], params: str = "n = 1  # a number\n") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title"))
    nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def test_magics_are_skipped_and_parameters_injected():
    assert plain.runnable_source("%matplotlib inline\nx = 1\n  !ls\ny = 2") == "\nx = 1\n\ny = 2"
    assert plain.injected_source({"n": 3, "name": "a'b", "flag": True}) == "n = 3\nname = \"a'b\"\nflag = True"


def test_execute_plain_runs_cells_in_order_in_the_notebook_folder(tmp_path, capsys):
    path = notebook(tmp_path / "01_x.ipynb", [
        "%matplotlib inline\nimport os, matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
        "import pandas as pd\ndisplay(pd.DataFrame({'a': [n]}))",
        "open('out.txt', 'w').write(str(n * 2) + os.getcwd())"])
    result = plain.execute_plain(path, {"n": 21})
    assert (result.status, result.error, result.cells_run) == ("ok", None, 4)
    assert (tmp_path / "out.txt").read_text() == f"42{tmp_path}"
    assert "21" in capsys.readouterr().out  # display() printed the frame


def test_execute_plain_stops_at_the_failing_cell_and_names_it(tmp_path):
    path = notebook(tmp_path / "01_x.ipynb", ["x = 1", "raise ValueError('bad value\\nmore')", "open('never', 'w')"])
    result = plain.execute_plain(path, {}, echo=lambda *a, **k: None)
    assert result.status == "failed" and result.error == "ValueError: bad value (cell 3)" and result.cells_run == 2
    assert not (tmp_path / "never").exists()


def test_read_notebook_refuses_what_is_not_a_v4_notebook(tmp_path):
    (tmp_path / "a.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    (tmp_path / "b.ipynb").write_text("{not json")
    for name in ("a.ipynb", "b.ipynb"):
        with pytest.raises(ParameterError, match="notebook"):
            read_notebook(tmp_path / name)


def test_require_records_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv(REQUIRE_RECORDS_ENV, "1")
    monkeypatch.setattr(training, "prepare_data", lambda *a, **k: pytest.fail("no data may be loaded"))
    config = Config(dataset="sample", runs_dir=str(tmp_path), epochs=1, progress=False)
    with pytest.raises(training.MissingRecordError, match=f"{config.run_id()}.*{REQUIRE_RECORDS_ENV}"):
        training.run(config)


def test_gpu_report_packs_finished_runs_and_a_cpu_reruns_the_notebook_from_them(tmp_path, monkeypatch):
    gpu_report = load_script("gpu_report")
    runs, out = tmp_path / "runs", tmp_path / "out"
    summary = gpu_report.main(["--only", "06", "--profile", "smoke", "--data", "sample", "--runs-dir", str(runs),
                               "--out", str(out), "--pack-every", "5"])
    assert summary["status"] == "complete" and len(summary["runs"]) == 3
    with tarfile.open(out / f"{summary['name']}-runs.tar.gz") as tar:
        names = tar.getnames()
    assert not [n for n in names if ".pt" in n or "checkpoints" in n]
    assert "_manifests/06_projection_head-smoke.json" in names
    assert {n.split("/")[0] for n in names} == {*summary["runs"], "_manifests"}
    assert any("/evaluations/transform-" in n for n in names)  # the weights-dependent result travels too
    assert (out / f"{summary['name']}.log").read_text().count("06_projection_head: ok") == 1

    # Elsewhere: only the packed records (no checkpoints), and training forbidden: the notebook still runs.
    here = tmp_path / "here"
    with tarfile.open(out / f"{summary['name']}-runs.tar.gz") as tar:
        tar.extractall(here, filter="data")
    monkeypatch.setenv("THESIS_RUNS_DIR", str(here))
    monkeypatch.setenv(REQUIRE_RECORDS_ENV, "1")
    [result] = runner.run_plain("smoke", ["06"], {"dataset": "sample"}, echo=lambda *a, **k: None)
    assert result.status == "ok", result.error


def test_gpu_report_stops_at_its_deadline_and_packs_only_complete_runs(tmp_path):
    gpu_report = load_script("gpu_report")
    # 40 epochs a run (smoke's 06 has 3 runs of 1): on a quiet CPU all 3 smoke runs once finished within the
    # 3-second deadline, so the stop never came
    summary = gpu_report.main(["--only", "06", "--profile", "smoke", "--data", "sample", "--runs-dir",
                               str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--pack-every", "1",
                               "--deadline-minutes", "0.05", "-p", "head_epochs", "40"])
    assert summary["status"] == "stopped at the deadline"
    states = {p.name: json.loads((p / "record.json").read_text())["status"]
              for p in (tmp_path / "runs").glob("pretrain-*")
              if (p / "record.json").is_file()}  # a run stopped as it began has a folder (its lock) and no record yet
    assert sorted(summary["runs"]) == sorted(k for k, v in states.items() if v == "complete")
    assert len(summary["runs"]) < 3


def test_gpu_report_rejects_bad_options():
    gpu_report = load_script("gpu_report")
    for argv in (["--out", "x"], ["--only", "06", "--out", "x", "-p", "dataset", "cifar10"],
                 ["--only", "06", "--out", "x", "--deadline-minutes", "0"]):
        with pytest.raises(SystemExit):
            gpu_report.parse_args(argv)


DEVICE_LACKS = ("nbformat", "papermill", "ipykernel", "IPython", "nbconvert", "jupyter_client", "wandb", "umap",
                "lightly", "kornia")  # not on the lent GPU machines (their package list: .library/device/KINDS.md)
BLOCKER = """
import importlib.abc, runpy, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {lacks!r}:
            raise ImportError("not on the GPU machine: " + name)
sys.meta_path.insert(0, Blocker())
sys.argv = ["lib.report", "--engine", "plain", "--profile", "smoke", "--only", "06"]
runpy.run_module("lib.report", run_name="__main__")
"""


def test_the_plain_engine_runs_without_the_packages_a_gpu_machine_lacks(tmp_path):
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", BLOCKER.format(lacks=set(DEVICE_LACKS))], cwd=ROOT,
                          env={**os.environ, "THESIS_RUNS_DIR": str(tmp_path)}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "06_projection_head: ok" in proc.stdout
    assert len(list(tmp_path.glob("pretrain-*/record.json"))) == 3
