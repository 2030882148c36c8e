"""scripts/profile_hours.py: measured wall time per notebook and the quiet-CPU estimate, on records
whose answers are known."""
import importlib.util
import json

import pytest

from lib.config import Config, repo_path


@pytest.fixture(scope="module")
def hours_script():
    spec = importlib.util.spec_from_file_location("profile_hours", repo_path("scripts/profile_hours.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(runs, config, wall, rates) -> str:
    """A record of ``config`` (in its run id's folder, as the library reads records) with ``wall`` seconds
    and one epoch per rate; its run id."""
    folder = runs / config.run_id()
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({"status": "complete", "provenance": {
        "wall_time_s": wall, "train_images": 4000, "device": "CPU: test (2 threads)"}}))
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    (folder / "metrics.jsonl").write_text("".join(json.dumps({"epoch": i + 1, "views_per_second": r}) + "\n"
                                                  for i, r in enumerate(rates)))
    return config.run_id()


def test_measured_sums_and_the_estimate_scales_a_contended_run(tmp_path, hours_script, capsys):
    runs = tmp_path / "runs"
    # two runs of one kind: one quiet (1000 views/s), one at half speed throughout
    base = Config(arch="small_cnn", width=0.5, batch_size=256)
    a = write_run(runs, base, 100.0, [1000] * 10)
    b = write_run(runs, base.replace(seed=1), 200.0, [500] * 10)
    c = write_run(runs, base.replace(task="finetune", pretrained=a), 50.0, [])  # no rates: counted as measured
    (runs / "_manifests").mkdir()
    (runs / "_manifests" / "02_simclr-cifar-cpu.json").write_text(json.dumps({"runs": {"SimCLR": [a, b]}}))
    (runs / "_manifests" / "03_simclr_v2-cifar-cpu.json").write_text(
        json.dumps({"runs": {"pretraining": [a], "fine-tuned": c}}))
    table = hours_script.hours(hours_script.load_runs(runs, "cifar-cpu"))
    assert table["02_simclr"] == (2, 300.0, pytest.approx(200.0))  # 100 + 200 x 0.5; a run counted once
    assert table["03_simclr_v2"] == (1, 50.0, 50.0)
    assert hours_script.main(["--profile", "cifar-cpu", "--runs-dir", str(runs)]) == 0
    assert "total                          3    0.10 h            0.07 h" in capsys.readouterr().out
    assert hours_script.main(["--profile", "full", "--runs-dir", str(runs)]) == 2
