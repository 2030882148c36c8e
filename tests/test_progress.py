"""The progress display: which context gets which display, and what each writes.

The contexts are detected (``lib.progress.display_mode``): a terminal gets a tqdm bar, a notebook
open in JupyterLab a live bar, a notebook executed headlessly (papermill, nbconvert) or a log file one
line per epoch. A real kernel is driven both ways in ``test_a_jupyterlab_run_of_notebook_02_shows_a_moving_bar``
and in the smoke run of every notebook (``tests/test_report.py``)."""

from __future__ import annotations

import io
import sys
import types

import pytest

from lib import progress
from lib.progress import PROGRESS_ENV, Progress, display_mode


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def fake_kernel(monkeypatch):
    """A stand-in IPython whose shell has a kernel, as in ipykernel; returns the kernel."""
    kernel = types.SimpleNamespace(_allow_stdin=True)
    shell = types.SimpleNamespace(kernel=kernel)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    return kernel


def test_terminal_gets_a_bar_a_log_gets_lines(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "IPython", None)  # no kernel, whatever the test runner imported
    assert display_mode(TTY()) == "bar"
    assert display_mode(io.StringIO()) == "lines"


def test_a_kernel_tells_a_person_from_a_headless_executor(fake_kernel):
    assert display_mode(io.StringIO()) == "live"  # JupyterLab, VS Code: input() allowed
    fake_kernel._allow_stdin = False  # papermill, nbconvert --execute (nbclient)
    assert display_mode(TTY()) == "lines"


def test_the_environment_overrides_and_is_validated(fake_kernel, monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "lines")
    assert display_mode() == "lines"
    monkeypatch.setenv(PROGRESS_ENV, "sparkles")
    with pytest.raises(ValueError, match="THESIS_PROGRESS='sparkles'"):
        display_mode()


def test_lines_mode_prints_one_line_per_epoch_and_off_prints_nothing(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "lines")
    out = io.StringIO()
    with Progress(10, description="run-x", stream=out) as p:
        for epoch in (1, 2):
            p.step(5)
            p.epoch_end({"epoch": epoch, "loss": 1.25, "knn_top1": 0.5})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("run-x [") and "epoch 2  loss 1.25  knn_top1 0.5" in lines[1]
    assert "\r" not in out.getvalue()
    silent = io.StringIO()
    with Progress(10, enabled=False, stream=silent) as p:
        p.epoch_end({"epoch": 1, "loss": 1.0})
    assert silent.getvalue() == "" and p.mode == "off"


def test_terminal_bar_redraws_in_place(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "bar")
    out = TTY()
    with Progress(4, description="run-y", stream=out) as p:
        p.step(2)
        p.epoch_end({"epoch": 1, "loss": 2.0})
    text = out.getvalue()
    assert "\r" in text and "run-y epoch 1  loss 2" in text


def test_live_bar_shows_epoch_loss_and_knn(monkeypatch):
    """In live mode the bar's postfix holds the epoch (of all), the loss and the last kNN, and no
    line per epoch is printed (the bar is the display)."""
    monkeypatch.setenv(PROGRESS_ENV, "live")
    bars = []

    class FakeBar:
        def __init__(self, total, desc, leave):
            self.n, self.total, self.postfix = 0, total, ""
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix_str(self, text, refresh):
            self.postfix = text

        def close(self):
            pass

    monkeypatch.setattr("tqdm.auto.tqdm", FakeBar)
    out = io.StringIO()
    with Progress(6, description="run-z", stream=out, epochs=3) as p:
        p.step(2)
        p.epoch_end({"epoch": 1, "loss": 3.14159, "knn_top1": 0.4567, "lr": 0.1})
    assert bars[0].n == 2 and bars[0].postfix == "epoch 1/3  loss 3.142  kNN 45.7 %"
    assert out.getvalue() == ""
    assert progress._postfix({"epoch": 2, "test_top1": 0.5}, None) == "epoch 2  test accuracy 50.0 %"


# ---- a real kernel, driven as JupyterLab drives it ---------------------------------------------

@pytest.mark.slow
def test_a_jupyterlab_run_of_notebook_02_shows_a_moving_bar(tmp_path, monkeypatch):
    """Notebook 02 at the smoke profile (2 epochs, a fresh runs folder, so it trains), executed in
    the project's kernel the way JupyterLab executes it: requests that allow input() and a frontend
    that keeps the widget messages. The bar must be a widget whose value moves through the steps and
    whose label ends with the epoch, the loss and the kNN; nothing is printed per epoch."""
    pytest.importorskip("ipywidgets", reason="the live bar is a widget: ipywidgets (the report extra) is needed")
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from lib.config import repo_path
    from lib.report import kernels, runner

    class JupyterLabLike(NotebookClient):
        """nbclient with JupyterLab's execute requests (allow_stdin) and every widget update kept."""

        updates: list = []

        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            self.kc.allow_stdin = True  # nbclient turns it off; JupyterLab and VS Code leave it on
            return kc

        def handle_comm_msg(self, outs, msg, cell_index):
            super().handle_comm_msg(outs, msg, cell_index)
            state = msg["content"].get("data", {}).get("state")
            if state:
                self.updates.append((msg["content"]["comm_id"], dict(state)))

    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    notebooks = repo_path("notebooks")
    [(source, _, values)] = runner.plan(notebooks, "smoke", ["02"], {"epochs": "2"})
    nb = parameterize_notebook(load_notebook_node(str(source)), values)  # as papermill injects them
    with kernels.kernel_config() as config:
        client = JupyterLabLike(nb, kernel_name=kernels.KERNEL, timeout=600, config=config,
                                resources={"metadata": {"path": str(notebooks)}})
        client.execute()

    models = {cid: s["_model_name"] for cid, s in client.updates if "_model_name" in s}
    bars = [cid for cid, name in models.items() if name in ("FloatProgressModel", "IntProgressModel")]
    assert bars, f"no progress widget among {sorted(set(models.values()))}"
    values = [s["value"] for cid, s in client.updates if cid in bars and "value" in s]
    assert len(set(values)) >= 4 and values == sorted(values), f"the bar did not move: {values}"
    labels = [s["value"].replace("\u2007", " ")  # tqdm's widget spaces its text with figure spaces
              for cid, s in client.updates if models.get(cid) == "HTMLModel" and "value" in s]
    assert any("epoch 2/2" in v and "loss" in v and "kNN" in v for v in labels), labels[-3:]
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                      if o.output_type == "stream")
    assert "knn_top1" not in printed  # no per-epoch line: the bar is the display
    assert "IProgress" not in printed and "Warning" not in printed
