import time

import pytest

from lib.config import Config
from lib.tracking import Tracker


def test_disabled_tracking_does_nothing(tmp_path):
    tracker = Tracker(Config(), tmp_path)
    assert tracker.run is None
    tracker.log({"loss": 1.0}, step=1)
    tracker.finish({})


def test_offline_wandb_writes_locally_without_network(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    t0 = time.perf_counter()
    tracker = Tracker(Config(wandb="offline"), tmp_path)
    tracker.log({"loss": 1.0}, step=1)
    tracker.finish({"knn_top1": 0.5})
    assert time.perf_counter() - t0 < 60
    assert list(tmp_path.rglob("*.wandb")), "offline run files were not written"


def test_online_wandb_without_network_goes_on_untracked(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    import lib.tracking as tracking

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setattr(tracking, "INIT_TIMEOUT_S", 10)
    t0 = time.perf_counter()
    with pytest.warns(UserWarning, match="continuing untracked"):
        tracker = Tracker(Config(wandb="online"), tmp_path)
    assert tracker.run is None
    assert time.perf_counter() - t0 < 45
