"""The notebook registry (lib.report.notebooks): one module per notebook, read by the plan, the profiles,
the index and the README; a new notebook is its .ipynb and one module, and nothing else is edited."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys

import nbformat
import pytest

from lib.config import repo_path
from lib.records import RecordWriter
from lib.report import index, notebooks, papers, plans, profiles, runner, tables
from lib.report.notebooks import NOTEBOOKS, Notebook

NOTEBOOKS_DIR = repo_path("notebooks")

TINY_MODULE = '''
"""A tiny notebook that none of lib/ knows: one supervised run per seed."""
from lib.report import iterations
from lib.report.notebooks import Notebook, base_config, register


def setup(v):
    base = base_config(v, "train_size", "epochs")
    return base, iterations.seeds_of(base.replace(task="supervised", loss="ce"), v["seeds"])


register(Notebook("10_tiny", setup=setup, groups=lambda v: {"cross-entropy": {"ce": setup(v)[1]}},
                  profiles={"smoke": {"epochs": 2}}, index_numbers=(("h/knn_top1", "h kNN", None),)))
'''

TINY_PARAMETERS = '''profile = "quick"  # parameter set of this run
dataset = "sample"  # data set
train_size = 600  # training images
test_size = 200  # test images
arch = "small_cnn"  # encoder
width = 0.5  # width multiplier
batch_size = 128  # images per step
epochs = 1  # passes over the training images
seeds = 1  # runs
monitor_size = 200  # monitor images
knn_k = 20  # neighbours
crop_sampler = "torchvision"  # crop sampler
device = "auto"  # device
wandb = "disabled"  # logging
runs_dir = ""  # where runs go
'''


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A folder of notebooks holding only ``10_tiny.ipynb``, and its module imported from outside ``lib/``
    (so registered); unregistered afterwards."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(TINY_PARAMETERS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from tiny_module import setup\nbase, runs = setup(globals())")]
    nbformat.write(nb, folder / "10_tiny.ipynb")
    (tmp_path / "tiny_module.py").write_text(TINY_MODULE)
    spec = importlib.util.spec_from_file_location("tiny_module", tmp_path / "tiny_module.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tiny_module", module)
    monkeypatch.setattr(notebooks, "NOTEBOOKS", dict(NOTEBOOKS))  # restored after the test
    spec.loader.exec_module(module)
    return folder


def test_a_new_notebook_module_is_found_by_the_profiles_the_plan_and_the_index(tiny, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    [(source, declared, values)] = runner.plan(tiny, "smoke", overrides={"runs_dir": str(runs_dir)})
    assert values["epochs"] == 2  # its module's value at smoke, over the profile's common 1
    merged = {**{n: p.value for n, p in declared.items()}, **values}
    [config] = plans.notebook_groups("10_tiny", merged)["cross-entropy"]["ce"]
    assert (config.task, config.epochs, config.train_size) == ("supervised", 2, 600)

    assert runner.main(["--notebooks", str(tiny), "--profile", "smoke", "--plan", "-p", "runs_dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "10_tiny: 1 runs, 0 recorded" in out and "  cross-entropy: 1 runs, 0 already recorded, 1 to train" in out

    writer = RecordWriter(config)  # its record, as training writes it (no training)
    writer.start("cpu")
    record = writer.finish({"h/knn_top1": 0.625}, wall_time_s=1.0)
    tables.write_manifest("10_tiny", "smoke", {"ce": [record.run_id]}, runs_dir=runs_dir)
    assert index.headlines("10_tiny", "smoke", runs_dir) == ["ce h kNN 62.5 %"]
    assert plans.plan([config])["recorded"] == 1


def test_a_new_related_work_notebook_joins_the_related_work_table(monkeypatch):
    monkeypatch.setattr(notebooks, "NOTEBOOKS", dict(NOTEBOOKS))
    notebooks.register(Notebook("10_tiny", related=("a tiny claim", "Tiny Table 1")))
    table = tables.related_work_table({})
    assert table[table["notebook"] == "10_tiny"][["notebook", "paper", "claim", "verdict"]].to_dict("records") == [
        {"notebook": "10_tiny", "paper": "Tiny Table 1", "claim": "a tiny claim", "verdict": "not run at this profile"}]


def test_every_notebook_has_one_module_and_every_module_one_notebook():
    assert set(NOTEBOOKS) == {p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    assert notebooks.summary_stems() == ("09_summary",)
    assert list(notebooks.related()) == ["05_simclr_augmentations", "06_projection_head", "07_batch_temperature",
                                         "08_simclr_v2_claims"]


def test_the_modules_name_known_profiles_papers_and_answers():
    from lib.report import conclusions

    for stem, nb in NOTEBOOKS.items():
        assert set(nb.profiles) <= set(profiles.PROFILES), stem
        assert all(key in papers.REFERENCES for key in nb.papers), stem
        assert nb.answer is not None and getattr(conclusions, nb.answer.__name__) is nb.answer, stem
        assert bool(nb.related) == bool(nb.claims) == bool(nb.papers), stem  # a related-work notebook names all three


def test_the_profiles_table_is_the_common_values_and_the_modules_entries():
    for profile, table in profiles.PROFILES.items():
        assert table["COMMON"] is profiles.COMMON[profile]
        assert {k: v for k, v in table.items() if k != "COMMON"} == {
            stem: dict(nb.profiles[profile]) for stem, nb in NOTEBOOKS.items() if profile in nb.profiles}


def _setup_cell(stem: str) -> str:
    nb = json.loads((NOTEBOOKS_DIR / f"{stem}.ipynb").read_text())
    return "".join([c for c in nb["cells"] if c["cell_type"] == "code"][1]["source"])


@pytest.mark.parametrize("stem", [s for s, nb in NOTEBOOKS.items() if nb.setup])
def test_each_training_notebook_builds_its_runs_by_one_call_to_its_module(stem):
    """The setup cell calls its module's ``setup`` (the builder --plan calls) and builds no Config of its own:
    the runs the plan counts are the runs the notebook trains by construction."""
    source = _setup_cell(stem)
    module = f"nb{stem}"
    assert f"from lib.report.notebooks import {module}\n" in source
    calls = [n for n in ast.walk(ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%"))))
             if isinstance(n, ast.Call)]
    names = [ast.unparse(c.func) for c in calls]
    assert f"{module}.setup" in names and "Config" not in names, names
    assert NOTEBOOKS[stem].setup is sys.modules[f"lib.report.notebooks.{module}"].setup
