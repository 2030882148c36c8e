"""The report runner: parameter parsing and validation, execution, rendering, the index, and the
real notebooks (their shape, and all of them end to end at the smoke profile)."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from lib.report import runner
from lib.config import repo_path
from lib.report.params import ParameterError, coerce, read_parameters, resolve_parameters
from lib.report.profiles import PROFILES

PARAMS = """\
epochs = 3  # passes over the data
width = 0.5  # channel multiplier

name = "a#b"  # a string holding a hash
flag = False  # a switch
lr = -1e-3  # negative float
"""


def write_notebook(path, params: str | None = PARAMS, code: list[str] = (), title: str = "A title",
                   extra_tagged: int = 0):
    """A notebook: a markdown title, the parameters cell (tagged), then code cells."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\n- a bullet"))
    for _ in range(1 + extra_tagged if params is not None else 0):
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(src) for src in code]
    nb.metadata["kernelspec"] = {"name": runner.KERNEL, "display_name": "Python", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ---- parsing -----------------------------------------------------------------------------------

def test_read_parameters_values_types_comments(tmp_path):
    params = read_parameters(write_notebook(tmp_path / "01_x.ipynb"))
    assert list(params) == ["epochs", "width", "name", "flag", "lr"]
    assert [(p.value, p.type) for p in params.values()] == [
        (3, int), (0.5, float), ("a#b", str), (False, bool), (-1e-3, float)]
    assert params["name"].comment == "a string holding a hash"
    assert params["epochs"].comment == "passes over the data"
    assert params["flag"].line == 5  # blank line 3 is skipped but counted


@pytest.mark.parametrize("line, why", [
    ("epochs = 3", "comment"),
    ("epochs = [1, 2]  # a list", "type list"),
    ("epochs = None  # nothing", "type NoneType"),
    ("epochs = other  # a name", "not a literal"),
    ("a, b = 1, 2  # two at once", "one plain name"),
    ("epochs == 3  # comparison", "not an assignment"),
    ("epochs = (1 +  # open", "not valid Python"),
    ("epochs: int = 0.5  # annotated int, float value", "annotated int"),
    ("epochs: list = 3  # not a parameter type", "annotation must be one of"),
    ("epochs: int  # annotated, no value", "assign a value"),
])
def test_malformed_parameter_line_names_notebook_and_line(tmp_path, line, why):
    path = write_notebook(tmp_path / "07_bad.ipynb", params=f"ok = 1  # fine\n{line}\n")
    with pytest.raises(ParameterError, match=r"07_bad: parameters cell line 2") as err:
        read_parameters(path)
    assert why in str(err.value)


def test_papermill_annotated_parameter_lines(tmp_path):
    """papermill's typed form `name: type = value` reads like the plain one; an int value of a float
    parameter is a float."""
    params = read_parameters(write_notebook(tmp_path / "01_x.ipynb", params=(
        'epochs: int = 3  # passes\nlr: float = 1  # rate\nname: str = "x"  # a name\nflag: bool = True  # switch\n')))
    assert [(p.name, p.value, p.type) for p in params.values()] == [
        ("epochs", 3, int), ("lr", 1.0, float), ("name", "x", str), ("flag", True, bool)]
    assert params["lr"].comment == "rate"


def test_duplicate_parameter_is_an_error(tmp_path):
    path = write_notebook(tmp_path / "01_x.ipynb", params="a = 1  # one\na = 2  # again\n")
    with pytest.raises(ParameterError, match="line 2: 'a' is already declared on line 1"):
        read_parameters(path)


@pytest.mark.parametrize("params, extra, found", [(None, 0, "found 0"), (PARAMS, 1, "found 2")])
def test_exactly_one_parameters_cell(tmp_path, params, extra, found):
    path = write_notebook(tmp_path / "01_x.ipynb", params=params, extra_tagged=extra)
    with pytest.raises(ParameterError, match=f"01_x: needs exactly one cell tagged 'parameters', {found}"):
        read_parameters(path)


def test_parameters_tag_on_markdown_cell_is_an_error(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x = 1  # y", metadata={"tags": ["parameters"]})])
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    with pytest.raises(ParameterError, match="is a markdown cell"):
        read_parameters(tmp_path / "01_x.ipynb")


# ---- coercion and resolution -------------------------------------------------------------------

@pytest.fixture
def declared(tmp_path):
    return read_parameters(write_notebook(tmp_path / "01_x.ipynb"))


@pytest.mark.parametrize("name, given, expected", [
    ("flag", "true", True), ("flag", "False", False), ("flag", "1", True), ("flag", "0", False),
    ("flag", True, True), ("epochs", "12", 12), ("epochs", 7, 7), ("width", "1", 1.0), ("width", 2, 2.0),
    ("width", "0.25", 0.25), ("name", "3", "3"),
])
def test_coerce_accepts(declared, name, given, expected):
    value = coerce(given, declared[name], "01_x")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("name, given", [
    ("epochs", "three"), ("epochs", "1.5"), ("epochs", 1.5), ("epochs", True), ("flag", "perhaps"),
    ("flag", 1), ("width", "wide"), ("width", False), ("name", 3),
])
def test_coerce_rejects_with_a_message(declared, name, given):
    with pytest.raises(ParameterError) as err:
        coerce(given, declared[name], "01_x")
    message = str(err.value)
    assert repr(name) in message and "01_x" in message and repr(given) in message
    assert f"expects {declared[name].type.__name__}" in message


def test_resolve_applies_profile_then_overrides(tmp_path):
    params = "epochs = 99  # e\nfinetune_epochs = 99  # f\ndataset = 'x'  # d\nprofile = 'quick'  # p\nmine = 4  # m\n"
    declared = read_parameters(write_notebook(tmp_path / "03_simclr_v2.ipynb", params=params))
    smoke = resolve_parameters("03_simclr_v2", declared, "smoke")
    assert smoke == {"epochs": PROFILES["smoke"]["COMMON"]["epochs"],
                     "finetune_epochs": PROFILES["smoke"]["03_simclr_v2"]["finetune_epochs"],
                     "dataset": PROFILES["smoke"]["COMMON"]["dataset"], "profile": "smoke"}  # mine: its default
    quick = resolve_parameters("03_simclr_v2", declared, "quick", {"mine": "5", "finetune_epochs": "2", "other": "x"})
    assert quick["epochs"] == PROFILES["quick"]["03_simclr_v2"]["epochs"]  # the notebook's own entry wins
    assert quick["finetune_epochs"] == 2 and quick["mine"] == 5 and "other" not in quick
    with pytest.raises(ParameterError, match="unknown profile 'fast'; choose one of smoke, quick, cifar-cpu, full"):
        resolve_parameters("03_simclr_v2", declared, "fast")


def test_profile_value_of_the_wrong_type_fails(tmp_path):
    declared = read_parameters(write_notebook(tmp_path / "01_x.ipynb", params="epochs = 'many'  # e\n"))
    with pytest.raises(ParameterError, match="'epochs' of 01_x \\(profile smoke\\) expects str"):
        resolve_parameters("01_x", declared, "smoke")


def test_select_by_stem_or_number():
    paths = [repo_path(f"notebooks/{s}.ipynb") for s in ("00_a", "01_b", "02_c")]
    assert runner.select_notebooks(paths, ["02,00_a"]) == [paths[0], paths[2]]
    assert runner.select_notebooks(paths, None) == paths
    with pytest.raises(ParameterError, match="no notebook '03'; choose from 00_a, 01_b, 02_c"):
        runner.select_notebooks(paths, ["03"])


# ---- validation through main(): exit 2 and nothing executed ------------------------------------

@pytest.fixture
def tiny(tmp_path):
    write_notebook(tmp_path / "nb" / "01_first.ipynb")
    write_notebook(tmp_path / "nb" / "02_second.ipynb", params="profile = 'quick'  # p\nepochs = 1  # e\n")
    return tmp_path / "nb", tmp_path / "out"


@pytest.mark.parametrize("args, message", [
    (["-p", "epochs", "three"], "parameter 'epochs' of 01_first expects int, got 'three'"),
    (["-p", "flag", "maybe"], "parameter 'flag' of 01_first expects bool (true/false, yes/no, on/off, 1/0), got 'maybe'"),
    (["-p", "epocs", "3"], "unknown parameter 'epocs': no selected notebook declares it; did you mean 'epochs'?"),
    (["--only", "02", "-p", "flag", "1"], "unknown parameter 'flag'"),
    (["--profile", "fast"], "unknown profile 'fast'; choose one of smoke, quick, cifar-cpu, full"),
    (["--only", "09"], "no notebook '09'; choose from 01_first, 02_second"),
    (["--kernel", "no-such-kernel-zz"], "kernel 'no-such-kernel-zz' is not installed"),
    (["-p", "epochs", "-3"], "parameter 'epochs' of 01_first: epochs must be >= 1; got -3"),
    (["-p", "epochs", "0"], "parameter 'epochs' of 01_first: epochs must be >= 1; got 0"),
    (["-p", "width", "nan"], "parameter 'width' of 01_first: width must be a finite number; got nan"),
    (["-p", "lr", "inf"], "parameter 'lr' of 01_first: lr must be a finite number; got inf"),
])
def test_invalid_arguments_exit_2_and_execute_nothing(tiny, capsys, args, message):
    notebooks, out = tiny
    assert runner.main(["--notebooks", str(notebooks), "--output", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not out.exists()


@pytest.mark.parametrize("name, kind, expected", [
    ("epochs", int, ("epochs", False)), ("dataset", str, ("dataset", False)),
    ("finetune_epochs", int, ("epochs", False)), ("distill_lr", float, ("lr", False)),
    ("supcon_temperature", float, ("temperature", False)), ("grid_train_size", int, ("train_size", False)),
    ("bt_epochs", str, ("epochs", True)), ("temperatures", str, ("temperature", True)),
    ("lr_batch_sizes", str, ("batch_size", True)), ("label_fractions", str, ("label_fraction", True)),
    ("seeds", int, None), ("umap_points", int, None), ("recipe", str, None), ("profile", str, None),
    ("epochs", bool, None),  # a switch named like a field means something else
])
def test_which_config_field_a_notebook_parameter_becomes(name, kind, expected):
    from lib.report.params import config_field

    assert config_field(name, kind) == expected


@pytest.mark.parametrize("params, given, message", [
    ("temperature = 0.5  # t\n", {"temperature": "-1"}, "parameter 'temperature' of 07_x: temperature must be > 0; got -1.0"),
    ("dataset = 'sample'  # d\n", {"dataset": "nosuch"}, "dataset must be one of sample, cifar10"),
    ("finetune_epochs = 3  # e\n", {"finetune_epochs": "0"}, "parameter 'finetune_epochs' of 07_x: epochs must be >= 1; got 0"),
    ("supcon_temperature = 0.1  # t\n", {"supcon_temperature": "nan"}, "temperature must be a finite number; got nan"),
    ("bt_epochs = '3,10'  # e\n", {"bt_epochs": "3,0"}, "epochs must be >= 1; got 0 (in '3,0')"),
    ("temperatures = '0.1,0.5'  # t\n", {"temperatures": "0.1,x"}, "'x' in '0.1,x' is not float"),
    ("label_fractions = '0.01,0.1'  # f\n", {"label_fractions": "0.1,2"}, "label_fraction must be in (0, 1]; got 2.0"),
    ("seed = 0  # s\n", {"seed": "-1"}, "seed must be in [0, 4294967295]; got -1"),
])
def test_values_are_checked_with_the_config_rules(tmp_path, params, given, message):
    declared = read_parameters(write_notebook(tmp_path / "07_x.ipynb", params=params))
    with pytest.raises(ParameterError) as info:
        resolve_parameters("07_x", declared, "quick", given)
    assert message in str(info.value)


def test_notebook_defaults_are_not_held_to_the_config_rules(tmp_path):
    # A fixture's "lr = -1e-3" (or a notebook's own meaning of a name) is the notebook's business until
    # a profile or -p gives it a value.
    declared = read_parameters(write_notebook(tmp_path / "01_x.ipynb"))
    assert resolve_parameters("01_x", declared, "quick", {"epochs": "2"})["epochs"] == 2


@pytest.mark.parametrize("name, value", [("epochs", "-3"), ("epochs", "0"), ("width", "nan"),
                                         ("temperature", "-1"), ("dataset", "nosuch")])
def test_a_bad_value_for_a_real_notebook_starts_no_kernel_and_touches_no_page(tmp_path, monkeypatch, capsys,
                                                                             name, value):
    # python -m lib.report --profile smoke --only 02 -p epochs -3: exit 2 before any kernel starts,
    # the committed page and index left as they were.
    import shutil

    out = tmp_path / "reports"
    shutil.copytree(repo_path("reports"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "check_kernel", no_kernel)
    monkeypatch.setattr(runner, "execute", no_kernel)
    assert runner.main(["--profile", "smoke", "--only", "02", "-p", name, value, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: parameter {name!r} of 02_simclr: {name} must be") and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_unknown_parameter_lists_each_notebooks_parameters(tiny, capsys):
    notebooks, out = tiny
    runner.main(["--notebooks", str(notebooks), "--output", str(out), "-p", "with", "1"])
    err = capsys.readouterr().err
    assert "01_first: epochs, width, name, flag, lr" in err and "02_second: profile, epochs" in err


def test_list_shows_defaults_and_profile_values(tiny, capsys):
    notebooks, _ = tiny
    assert runner.main(["--notebooks", str(notebooks), "--list", "--profile", "smoke", "-p", "width", "2"]) == 0
    out = capsys.readouterr().out
    assert "02_second: A title" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("epochs") and "passes" in ln)
    assert f"run: {PROFILES['smoke']['COMMON']['epochs']}" in line and "default 3" in line
    assert "(-p)" in next(ln for ln in out.splitlines() if ln.strip().startswith("width"))


# ---- execution ---------------------------------------------------------------------------------

def test_kernels_import_the_lib_of_the_runners_checkout(tmp_path, monkeypatch):
    """An environment made in one clone and used from another gives the kernels the first clone's
    ``lib`` (its editable install); stood in for here by another ``lib`` on PYTHONPATH. The kernels
    must import the runner's own, and PYTHONPATH is as it was afterwards."""
    other = tmp_path / "other-clone"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(other))
    notebooks, out = tmp_path / "nb", tmp_path / "out"
    write_notebook(notebooks / "01_where.ipynb", title="Where", params="x = 1  # x\n",
                   code=["import lib\nprint('lib at', lib.__file__)"])
    assert runner.main(["--notebooks", str(notebooks), "--output", str(out), "--profile", "smoke"]) == 0
    page = (out / "01_where.html").read_text()
    # the page shows paths under the checkout relative to it (the other clone's would stay absolute)
    assert "lib at lib/__init__.py" in page and str(other) not in page, page[-3000:]
    assert os.environ["PYTHONPATH"] == str(other)


def test_good_failing_and_timed_out_notebooks(tmp_path, capfd, monkeypatch):
    notebooks, out = tmp_path / "nb", tmp_path / "out"
    monkeypatch.setenv("MPLBACKEND", "Agg")  # would hide figures: the runner must keep them inline
    write_notebook(notebooks / "01_good.ipynb", title="Good one", params="x = 2  # x\nprofile = 'quick'  # p\n",
                   code=["print(f'answer={x * 10} profile={profile}')",
                         "import matplotlib.pyplot as plt\nplt.figure(figsize=(1, 1), dpi=50)\nplt.plot([0, 1])\nplt.show()"])
    write_notebook(notebooks / "02_bad.ipynb", title="Bad one", params="y = 1  # y\n",
                   code=["raise ValueError(f'boom {y + 41}')", "print('never')"])
    write_notebook(notebooks / "03_slow.ipynb", title="Slow one", params="y = 1  # y\n",
                   code=["import time; time.sleep(60)"])
    base = ["--notebooks", str(notebooks), "--output", str(out), "--profile", "smoke", "--cell-timeout", "3"]
    assert runner.main([*base, "-p", "x", "5"]) == 1
    stdout, stderr = capfd.readouterr()  # the kernels' own output included (they write to these descriptors)
    assert "02_bad" in stdout and "ValueError: boom 42" in stdout and "03_slow" in stdout
    assert "no run loaded or trained by this notebook" in stdout and "0 runs loaded from records, 0 trained now" in stdout
    assert "without encryption" not in stdout + stderr  # the kernels talk over IPC sockets, not TCP
    assert not list(notebooks.glob("kernel-ipc*"))  # ... in a private folder, not the notebooks'

    good = (out / "01_good.html").read_text()
    assert "answer=50 profile=smoke" in good and "FAILED" not in good
    assert "<b>parameters:</b> profile smoke, x 5" in good and '<details class="reader-code">' in good
    assert re.search(r"data:image/(png|webp);base64,", good)  # the figure is embedded (lossless WebP if smaller)
    bad = (out / "02_bad.html").read_text()
    assert "FAILED: this notebook did not finish" in bad and "ValueError: boom 42" in bad
    executed = nbformat.read(out / "02_bad.ipynb", as_version=4)
    after = [c for c in executed.cells if c.cell_type == "code" and "never" in c.source]
    assert after and not after[0].outputs  # papermill stopped at the error
    assert "FAILED: this notebook did not finish" in (out / "03_slow.html").read_text()

    index = json.loads((out / "index.json").read_text())["reports"]
    by = {e["stem"]: e for e in index}
    assert [by[s]["status"] for s in ("01_good", "02_bad", "03_slow")] == ["ok", "failed", "failed"]
    assert "ValueError: boom 42" in by["02_bad"]["error"] and "Timeout" in by["03_slow"]["error"]
    assert by["01_good"]["title"] == "Good one" and by["01_good"]["parameters"] == {"x": 5, "profile": "smoke"}
    assert by["01_good"]["html"] == "01_good.html" and by["01_good"]["profile"] == "smoke"
    page = (out / "index.html").read_text()
    assert page.count("FAILED") == 2 and 'href="01_good.html"' in page and "Slow one" in page



def test_default_layout_puts_each_profile_in_its_folder_and_rebuilds_the_top_index(tmp_path, monkeypatch):
    """Without --output, pages go to reports/<profile>/ and reports/index.html gets a section per profile;
    with --output, only that folder is written."""
    notebooks = tmp_path / "nb"
    write_notebook(notebooks / "01_one.ipynb", params="profile = 'quick'  # p\n", code=["print(profile)"])
    real = runner.repo_path
    monkeypatch.setattr(runner, "repo_path", lambda name: tmp_path / name if name == "reports" else real(name))
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    assert runner.default_output("cifar-cpu") == tmp_path / "reports" / "cifar-cpu"
    for profile in ("smoke", "quick"):
        assert runner.main(["--notebooks", str(notebooks), "--profile", profile]) == 0
        assert (tmp_path / "reports" / profile / "01_one.html").exists()
        assert json.loads((tmp_path / "reports" / profile / "index.json").read_text())["reports"][0]["profile"] == profile
    top = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="quick/01_one.html"' in top and 'href="smoke/01_one.html"' in top
    assert top.index("Profile quick") < top.index("Profile smoke")
    assert "no manifest at profile quick" in top  # the headline says what is missing
    elsewhere = tmp_path / "elsewhere"
    assert runner.main(["--notebooks", str(notebooks), "--profile", "smoke", "--output", str(elsewhere)]) == 0
    assert (elsewhere / "01_one.html").exists() and (elsewhere / "index.html").exists()
    assert (tmp_path / "reports" / "index.html").read_text() == top  # --output leaves the top index alone


def index_entry(stem: str, status: str = "ok", error: str | None = None) -> runner.NotebookResult:
    return runner.NotebookResult(stem=stem, title=f"Title {stem}", status=status, error=error, wall_time_s=1.5,
                                 html=f"/x/{stem}.html", ipynb=f"/x/{stem}.ipynb", parameters={"epochs": 1},
                                 profile="smoke", date="2026-01-01T00:00:00+00:00", commit="0123456789ab",
                                 dirty=True, device="CPU: test")


def test_index_keeps_other_entries_when_only_some_ran(tmp_path):
    runner.write_index(tmp_path, [index_entry("01_a"), index_entry("02_b", "failed", "KeyError: 'x'")],
                       replace_all=True)
    rerun = index_entry("01_a")
    rerun.wall_time_s = 7.0
    entries = runner.write_index(tmp_path, [rerun], replace_all=False)  # --only 01
    assert [(e["stem"], e["status"], e["wall_time_s"]) for e in entries] == [
        ("01_a", "ok", 7.0), ("02_b", "failed", 1.5)]
    assert json.loads((tmp_path / "index.json").read_text())["reports"] == entries
    page = (tmp_path / "index.html").read_text()
    assert page.index("Title 01_a") < page.index("Title 02_b") and "KeyError: &#x27;x&#x27;" in page
    assert "0123456 (dirty)" in page and "8.5 s" in page and "1 failed" in page  # the total row
    assert [e["stem"] for e in runner.write_index(tmp_path, [rerun], replace_all=True)] == ["01_a"]


# ---- the real notebooks ------------------------------------------------------------------------

REAL = runner.list_notebooks(repo_path("notebooks"))
NOTEBOOK_PARAMS = [pytest.param(p, id=p.stem) for p in REAL] or [
    pytest.param(None, marks=pytest.mark.skip(reason="no notebooks in notebooks/ yet"))]


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS)
def test_real_notebook_shape(path):
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(path, as_version=4)
    params = read_parameters(path)  # exactly one parameters cell, literals with comments
    assert params, f"{path.stem}: empty parameters cell"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.lstrip().startswith("# "), \
        f"{path.stem}: the first cell must be markdown starting with a '# Title'"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.outputs and cell.execution_count is None, f"{path.stem}: cell {i} has outputs"
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defs, f"{path.stem}: cell {i} defines {defs[0].name}; that code belongs in lib/"


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS)
def test_every_profile_passes_the_config_rules(path):
    declared = read_parameters(path)
    for profile in PROFILES:
        resolve_parameters(path.stem, declared, profile)


ACCURACY_LIKE = ("top1", "recall@", "map@r", "nmi", "knn")


@pytest.mark.slow
def test_all_real_notebooks_at_smoke_profile(tmp_path, monkeypatch, capsys):
    if not REAL:
        pytest.skip("no notebooks in notebooks/ yet")
    runs = tmp_path / "runs"
    monkeypatch.setenv("THESIS_RUNS_DIR", str(runs))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "reports"
    code = runner.main(["--profile", "smoke", "--output", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    for path in REAL:
        assert (out / f"{path.stem}.html").stat().st_size > 0
    assert (out / "index.html").exists() and (tmp_path / "reader.css").exists()  # the pages' ../reader.css
    for path in REAL:  # a whole profile rendered: every previous/next link reaches a page
        links = re.findall(r'<a rel="(?:prev|next)" href="([^"]+)"', (out / f"{path.stem}.html").read_text())
        assert len(links) == (2 if path not in (REAL[0], REAL[-1]) else 1) * 2, (path.stem, links)  # top and bottom
        assert all((out / href).is_file() for href in links), (path.stem, links)
    index = {e["stem"]: e for e in json.loads((out / "index.json").read_text())["reports"]}
    for path in REAL:  # every notebook has its headline numbers in the index
        assert index[path.stem]["headline"] and not index[path.stem]["headline"][0].startswith(("no ", "headline")), \
            (path.stem, index[path.stem]["headline"])
    # a fresh runs folder: notebook 02 trained its run now, and says so on its page and in the summary
    simclr = [run_id for run_id, action in index["02_simclr"]["runs"].items() if action == "trained"]
    assert simclr and "1 trained now" in (out / "02_simclr.html").read_text()
    assert re.search(r"02_simclr\s+ok\s+[\d.]+ s\s+0 loaded from records, 1 trained now", stdout), stdout
    # under papermill, training prints one line per epoch into the saved output; nothing warns
    executed = nbformat.read(out / "02_simclr.ipynb", as_version=4)
    printed = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert any(re.search(rf"{simclr[0]} \[\s*[\d.]+ s\] .*epoch 1 .*loss", o.text) for o in printed)
    assert not any("\r" in o.text for o in printed)
    for path in REAL:
        for cell in nbformat.read(out / f"{path.stem}.ipynb", as_version=4).cells:
            for o in cell.get("outputs", []):
                assert not (o.output_type == "stream" and o.name == "stderr"), (path.stem, o.text[:500])

    records = sorted(runs.rglob("record.json"))
    if any("epochs" in read_parameters(p) for p in REAL):
        assert records, "notebooks with an epochs parameter trained nothing"
    for path in records:
        record = json.loads(path.read_text())
        assert record["status"] == "complete", path
        for key, value in record["results"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            assert math.isfinite(value), f"{path.parent.name}: {key} = {value}"
            if any(tag in key.lower() for tag in ACCURACY_LIKE):
                assert 0.0 <= value <= 1.0, f"{path.parent.name}: {key} = {value}"


def test_notebook_defaults_are_the_quick_profile():
    """Opened in JupyterLab and run as they are, the notebooks reproduce `make report` (and reuse its records)."""
    from lib.report.params import read_parameters
    from lib.report.profiles import profile_values
    for path in sorted(repo_path("notebooks").glob("[0-9][0-9]_*.ipynb")):
        declared = {k: getattr(v, "value", v) for k, v in read_parameters(path).items()}
        quick = profile_values("quick", path.stem, declared)
        assert {k: declared[k] for k in quick} == quick, path.stem


def test_the_project_kernel_must_run_this_environments_python(tmp_path, monkeypatch):
    kernels = tmp_path / "kernels" / runner.KERNEL
    kernels.mkdir(parents=True)
    spec = {"argv": ["/elsewhere/clone/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (another checkout)", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))  # searched before every other kernel folder
    with pytest.raises(ParameterError, match="/elsewhere/clone/.venv/bin/python.*another checkout's runs/"):
        runner.check_kernel(runner.KERNEL)
    spec["argv"][0] = str(Path(sys.prefix) / "bin" / "python")
    (kernels / "kernel.json").write_text(json.dumps(spec))
    runner.check_kernel(runner.KERNEL)  # this environment's: fine
    with pytest.raises(ParameterError, match="not installed"):
        runner.check_kernel("no-such-kernel")


def test_no_profile_asks_umap_for_more_points_than_a_run_stores():
    from lib.config import Config

    stored = Config().save_embeddings
    for name, table in PROFILES.items():
        asked = [entry["umap_points"] for entry in table.values() if "umap_points" in entry]
        assert asked and max(asked) <= stored, (name, asked, stored)
