"""The benchmark scripts in their tiny CPU modes, and the pieces they are built from.

The scripts measure speed; these tests check that they run, write every figure they promise with
its provenance, and that the figures are consistent with each other (speed-ups are ratios of the
rates shown, FLOPs per step are 3 x forward x views), so a GPU session finds them working.
"""

import importlib.util
import io
import json
import math
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lib import data, models

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


throughput = _load("throughput")
gpu_check = _load("gpu_check")


def _numbers(obj, path=""):
    """Every number in a nested JSON object, with its path."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")


def _check_throughput(result: dict, batch_size: int):
    r = result["results"]
    for path, value in _numbers(r):
        if "workers" in path.rsplit(".", 1)[-1] and "by_workers" not in path:
            assert value >= 0, path
        else:
            assert math.isfinite(value) and value >= 0, (path, value)
    aug, train, flops = r["augment_views_per_s"], r["train_views_per_s"], r["flops"]
    for key in ("ours", "peer", "lightly", "kornia"):
        assert aug[key] > 0, key
    assert aug["speedup"] == pytest.approx(aug["ours"] / aug["peer"])
    assert aug["speedup_vs_lightly"] == pytest.approx(aug["ours"] / aug["lightly"])
    assert aug["speedup_vs_kornia"] == pytest.approx(aug["ours"] / aug["kornia"])
    assert train["ours"] > 0 and train["peer"] > 0
    assert train["speedup"] == pytest.approx(train["ours"] / train["peer"])
    assert train["peer"] == max(train["peer_by_workers"].values())
    assert flops["per_step"] == 3 * flops["forward_per_image"] * 2 * batch_size
    assert flops["achieved_tflops"] == pytest.approx(train["ours"] * 3 * flops["forward_per_image"] / 1e12)
    assert flops["fraction_of_peak"] == pytest.approx(flops["achieved_tflops"] / flops["peak_tflops"])
    assert r["epoch"]["ours_seconds"] > 0 and r["epoch"]["steps"] == result["train_images"] // batch_size
    ev = r["evaluation"]
    assert ev["seconds"] == pytest.approx(ev["embed_seconds"] + ev["knn_seconds"])
    assert 0 <= ev["knn_top1"] <= 1
    prov = result["provenance"]
    assert prov["device"] and prov["date"] and "commit" in prov
    assert {"torch", "torchvision", "lightly", "kornia"} <= set(prov["versions"])


def test_gpu_check_tiny_writes_every_figure_with_provenance(tmp_path):
    threads = torch.get_num_threads()
    result = gpu_check.main(["--tiny", "--out", str(tmp_path)])
    assert torch.get_num_threads() == threads  # restored for the rest of the test session

    written = sorted(tmp_path.glob("gpu_check-tiny-*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["wall_seconds"] == pytest.approx(result["wall_seconds"])
    assert result["environment"]["torch"] == torch.__version__

    bench = result["throughput"]
    _check_throughput(bench, batch_size=64)
    assert json.loads((tmp_path / "throughput-cpu-small_cnn-w0.5.json").read_text())["results"] == \
        json.loads(json.dumps(bench["results"]))

    tta = result["time_to_accuracy"]
    curve = tta["curve"]
    epochs = tta["config"]["epochs"]
    assert 1 <= epochs <= 2 and [pt["epoch"] for pt in curve] == list(range(epochs + 1))
    walls = [pt["wall_seconds"] for pt in curve]
    assert all(w is not None and w >= 0 for w in walls) and walls == sorted(walls)
    knn = [pt["knn_top1"] for pt in curve]
    assert all(0 <= k <= 1 for k in knn) and tta["final_knn_top1"] == knn[-1] and tta["best_knn_top1"] == max(knn)
    run_copy = Path(tta["record_copy"])
    assert json.loads((run_copy / "record.json").read_text())["status"] == "complete"
    assert len((run_copy / "metrics.jsonl").read_text().splitlines()) == epochs + 1
    assert not list(run_copy.rglob("*.pt"))  # checkpoints are never copied
    speedup = bench["results"]["train_views_per_s"]["speedup"]
    assert result["targets"]["speedup_vs_pil_cpu"]["measured"] == pytest.approx(speedup)


def test_throughput_runs_as_a_script_with_dataloader_workers(tmp_path):
    cmd = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--dataset", "sample", "--train-size", "128",
           "--test-size", "100", "--width", "0.25", "--batch-size", "32", "--steps", "1", "--warmup", "1",
           "--workers", "1", "--peers", "torchvision", "--threads", "1", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # not the repo root
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "training step" in proc.stdout and "wrote" in proc.stdout
    result = json.loads((tmp_path / "throughput-cpu-small_cnn-w0.25.json").read_text())
    aug = result["results"]["augment_views_per_s"]
    assert set(aug["peer_by_workers"]) == {"0", "1"} and "lightly" not in aug and "kornia" not in aug
    assert result["threads"] == 1
    ceiling = result["results"]["train_views_per_s"]["ceiling"]
    assert "Amdahl ceiling" in proc.stdout
    assert 0 < ceiling["model_at_peak_ms_per_view"] and 0 < ceiling["ours_augment_ms_per_view"]
    a_ours, a_peer = ceiling["ours_augment_ms_per_view"], ceiling["peer_augment_ms_per_view_one_process"]
    assert a_peer == pytest.approx(1e3 / aug["peer_by_workers"]["0"])
    for step_key, ceiling_key in (("model_ms_per_view", "speedup_at_measured_step"),
                                  ("model_at_peak_ms_per_view", "speedup_at_peak_step")):
        assert ceiling[ceiling_key] == pytest.approx(throughput.speedup_ceiling(ceiling[step_key], a_ours, a_peer))


def test_throughput_rejects_bad_options():
    with pytest.raises(SystemExit):
        throughput.parse_args(["--peers", "torchvision,albumentations"])
    with pytest.raises(SystemExit):
        throughput.parse_args(["--steps", "0"])
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--skip-bench"])  # nothing to size the run's epochs from
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--skip-bench", "--recipe", "epochs=5 lr=1", "--recipe", "lr=2"])  # one unsized
    assert gpu_check.parse_args(["--skip-bench", "--recipe", "epochs=5 lr=1"]).recipes == [{"epochs": 5, "lr": 1.0}]
    named = gpu_check.parse_args(["--recipe", "dkobak_cifar10 lr=0.06"]).recipes[0]
    assert Path(named["recipe"]).name == "dkobak_cifar10.toml" and named["lr"] == 0.06
    assert gpu_check.parse_args([]).batch_size == 512  # the official recipe's batch
    for bad in ("lr=fast", "learning_rate=1", "dataset=cifar10", "", "nosuch_recipe lr=1", "lr=1 dkobak_cifar10"):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(["--recipe", bad])
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--base", "nosuch_recipe"])


def test_gpu_check_defaults_to_the_official_recipe():
    """The time-to-accuracy run is the official SimCLR CIFAR-10 command at the check's length."""
    args = gpu_check.parse_args([])
    config = gpu_check.run_config(args, "cifar10", 100, 10, Path("/tmp/unused"))
    assert (config.optimizer, config.lr, config.lr_scaling, config.scaled_lr) == ("lars", 1.0, "linear", 2.0)
    assert (config.weight_decay, config.temperature, config.color_strength, config.lars_trust) == (1e-4, 0.5, 0.5, 1e-3)
    assert (config.head_layers, config.head_last_bn, config.views_list) == (3, "scale", ("crop", "flip", "color", "gray"))
    assert config.warmup_fraction == 0.01 and config.warmup_steps(97) == 97  # SimCLR's 10 of 1,000 epochs
    assert (config.arch, config.stem, config.batch_size, config.epochs) == ("resnet18", "cifar", 512, 100)


def test_gpu_check_compares_recipes_in_one_call(tmp_path, capsys):
    result = gpu_check.main(["--tiny", "--skip-bench", "--out", str(tmp_path), "--recipe", "epochs=1 lr=0.5",
                             "--recipe", "epochs=2 optimizer=sgd lr=0.06 lr_scaling=linear temperature=0.5"])
    recipes = result["recipes"]
    assert [r["config"]["epochs"] for r in recipes] == [1, 2]
    assert recipes[1]["config"]["optimizer"] == "sgd" and recipes[1]["config"]["temperature"] == 0.5
    assert recipes[0]["config"]["lr"] == 0.5 and recipes[0]["recipe"] == "simclr_official_cifar10 lr=0.5"
    assert result["time_to_accuracy"]["best_knn_top1"] == max(r["best_knn_top1"] for r in recipes)
    with tarfile.open(tmp_path / next(p.name for p in tmp_path.glob("*-runs.tar.gz"))) as tar:
        names = tar.getnames()
    assert {n.split("/")[0] for n in names if "/" in n} == {f"{result['name']}-run0", f"{result['name']}-run1"}
    assert not [n for n in names if n.endswith(".pt")]  # checkpoints are never packed
    assert "final kNN" in capsys.readouterr().out
    with pytest.raises(ValueError, match="optimizer"):  # an invalid recipe fails before any compute
        gpu_check.main(["--tiny", "--skip-bench", "--out", str(tmp_path), "--recipe", "epochs=1 optimizer=adam"])


def test_step_flops_is_three_forward_passes_per_view():
    model = models.build_encoder("small_cnn", in_channels=3, image_size=32)
    forward = models.flops_per_image(model, 32, 3)
    # six 3x3 convolutions: output pixels x output channels x input channels x 9
    macs = 9 * (32 * 32 * 32 * 3 + 16 * 16 * 32 * 32 + 16 * 16 * 64 * 32 + 8 * 8 * 64 * 64 + 8 * 8 * 128 * 64
                + 8 * 8 * 128 * 128)
    assert forward == 2 * macs
    assert throughput.step_flops(forward, 512) == 3 * forward * 512


def test_speedup_ceiling_is_amdahls_bound():
    # free model step: the ratio of the two augmentation costs; free augmentation of ours: 1 + a_peer / m
    assert throughput.speedup_ceiling(0.0, 0.1, 0.5) == pytest.approx(5.0)
    assert throughput.speedup_ceiling(1.0, 0.0, 0.5) == pytest.approx(1.5)
    # heavier model steps lower the ceiling, and identical pipelines give exactly 1
    assert throughput.speedup_ceiling(2.0, 0.05, 0.5) < throughput.speedup_ceiling(1.0, 0.05, 0.5)
    assert throughput.speedup_ceiling(0.7, 0.3, 0.3) == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        throughput.speedup_ceiling(-1.0, 0.1, 0.5)


def test_epochs_for_budget():
    # left = 100 - 10 - 1 (final evaluation) = 89 s; first guess 44 epochs -> eval every 44 // 5 = 8;
    # 89 / (2 + 1/8) = 41.9 -> 41 epochs
    assert gpu_check.epochs_for_budget(100, 10, 2.0, 1.0, evals=5, max_epochs=1000) == (41, 8)
    epochs, every = gpu_check.epochs_for_budget(600, 60, 1.7, 0.8, evals=15, max_epochs=1000)
    def cost(n):  # overhead, training, an evaluation every `every` epochs and the final one
        return 60 + n * 1.7 + (n / every + 1) * 0.8
    assert cost(epochs) <= 600 < cost(epochs + 1)
    assert gpu_check.epochs_for_budget(5, 10, 2.0, 1.0, evals=5, max_epochs=1000) == (1, 1)  # always one epoch
    assert gpu_check.epochs_for_budget(1e6, 0, 1.0, 0.0, evals=5, max_epochs=7)[0] == 7
    with pytest.raises(ValueError, match="epoch_s"):
        gpu_check.epochs_for_budget(100, 0, 0.0, 1.0, evals=5, max_epochs=10)


def test_first_reaching():
    curve = [{"wall_seconds": 1, "knn_top1": 0.5}, {"wall_seconds": 2, "knn_top1": None},
             {"wall_seconds": 3, "knn_top1": 0.91}, {"wall_seconds": 4, "knn_top1": 0.95}]
    assert gpu_check.first_reaching(curve, "knn_top1", 0.9)["wall_seconds"] == 3
    assert gpu_check.first_reaching(curve, "knn_top1", 0.99) is None


def _add(tar: tarfile.TarFile, name: str, payload: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_resolve_data_unpacks_a_tarball_once_and_refuses_escaping_members(tmp_path, monkeypatch):
    tarball = tmp_path / "tiny.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for split in ("train", "test"):
            for cls, value in (("a", 10), ("b", 200)):
                _add(tar, f"{split}/{cls}/0.png", _png(value))
    dest = tmp_path / "unpacked"
    folder = gpu_check.resolve_data(str(tarball), dest)
    assert folder == dest
    ds = data.load_dataset(f"imagefolder:{folder}", "train", cache=False)
    assert ds.images.shape == (2, 3, 8, 8) and ds.classes == ["a", "b"]

    def no_unpacking(*a):
        raise AssertionError("unpacked again")
    monkeypatch.setattr(gpu_check, "safe_extract", no_unpacking)
    assert gpu_check.resolve_data(str(tarball), dest) == dest  # already unpacked: reused
    assert gpu_check.resolve_data("", dest) == dest
    monkeypatch.undo()

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        _add(tar, "../escaped.txt", b"x")
    with pytest.raises(tarfile.TarError):
        gpu_check.safe_extract(evil, tmp_path / "evil")
    assert not (tmp_path / "escaped.txt").exists()
    with pytest.raises(FileNotFoundError, match="no CIFAR-10"):
        gpu_check.resolve_data(str(tmp_path / "missing.tar.gz"), tmp_path / "none")


@pytest.mark.parametrize("channels", [3, 1])
def test_peers_draw_independent_views_per_sample(channels):
    # One image repeated: per-sample parameters give different views across the batch, and the
    # two views of an image differ; every peer returns float views of the requested size.
    torch.manual_seed(0)
    img = (torch.rand(1, channels, 32, 32) * 255).to(torch.uint8)
    aug = throughput.kornia_augmentation(24, channels)
    x = img.expand(16, -1, -1, -1).float() / 255
    v1, v2 = aug(x), aug(x)
    assert v1.shape == (16, channels, 24, 24) and v1.min() >= 0 and v1.max() <= 1
    assert not torch.allclose(v1[0], v1[1]) and not torch.allclose(v1, v2)

    arrays = img.permute(0, 2, 3, 1).numpy()
    for ds in (throughput.PILTwoViews(arrays, throughput.torchvision_transform(24, channels), two=True),
               throughput.PILTwoViews(arrays, throughput.lightly_transform(24, channels), two=False)):
        a, b = ds[0]
        assert a.shape == b.shape == (channels, 24, 24) and a.dtype == torch.float32
        assert not torch.allclose(a, b)


def test_simclr_step_trains_the_model_it_counts():
    from lib.config import Config

    config = Config(arch="small_cnn", width=0.25, batch_size=8, device="cpu")
    step = throughput.SimCLRStep(config, 1, 28, (0.5,), (0.25,), torch.device("cpu"))
    assert step.forward_flops == models.flops_per_image(step.model, 28, 1)
    before = [p.detach().clone() for p in step.model.parameters()]
    x1, x2 = torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28)
    loss = step(x1, x2)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, step.model.parameters()))


def test_every_benchmark_command_in_the_benchmarks_readme_parses():
    import re
    import shlex

    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.replace("2>&1", "") for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    found = {"gpu_check": 0, "throughput": 0, "gpu_report": 0}
    gpu_report = _load("gpu_report")
    for line in lines:
        for script, args in re.findall(r"benchmarks/(gpu_check|throughput|gpu_report)\.py([^|;&#]*)", line):
            argv = [a.replace("$OUT", "/tmp/out") for a in shlex.split(args)]
            module = {"gpu_check": gpu_check, "throughput": throughput, "gpu_report": gpu_report}[script]
            module.parse_args(argv)  # SystemExit (a failed test) on an unknown or invalid option
            found[script] += 1
    assert found["gpu_check"] >= 4 and found["throughput"] >= 3 and found["gpu_report"] >= 1, found


def test_simclr_vs_lightly_tiny_compares_both_pipelines_on_their_curves(tmp_path):
    svl = _load("simclr_vs_lightly")
    recipe = ROOT / "configs" / "recipes" / "simclr_official_cifar10.toml"
    for bad in (["--epochs", "0"], ["--seeds", "0"], ["--data", str(tmp_path / "missing")],
                ["--tiny", "--recipe", str(tmp_path / "missing.toml")]):
        with pytest.raises(SystemExit):
            svl.parse_args(bad)
    threads = torch.get_num_threads()
    result = svl.main(["--tiny", "--recipe", str(recipe), "--out", str(tmp_path / "out")])
    assert torch.get_num_threads() == threads
    assert json.loads((tmp_path / "out" / "simclr_vs_lightly-cpu.json").read_text()) == result

    runs = result["runs"]
    assert [(r["seed"], r["pipeline"]) for r in runs] == [(0, "ours"), (0, "lightly"), (0, "ours_lightly_recipe")]
    control_config = runs[2]["config"]  # our pipeline with lightly's recipe
    assert (control_config["optimizer"], control_config["lr"], control_config["weight_decay"]) == ("sgd", 0.12, 5e-4)
    curves = {r["pipeline"]: r["curve"] for r in runs}
    control = result["summary"]["control"]
    assert control["difference_at_equal_epochs"]["values"] == [
        pytest.approx(curves["ours_lightly_recipe"][-1]["knn_top1"] - curves["lightly"][-1]["knn_top1"])]
    for name, curve in curves.items():
        assert [pt["epoch"] for pt in curve] == [0, 1], name
        assert all(math.isfinite(pt["knn_top1"]) and 0 <= pt["knn_top1"] <= 1 for pt in curve), name
        assert curve[1]["train_seconds"] > 0 and math.isfinite(curve[1]["loss"])
        assert curve[1]["cumulative_seconds"] == pytest.approx(curve[0]["cumulative_seconds"] + curve[1]["train_seconds"])
    # same seed, same backbone, same evaluation: the random initialisations score alike
    assert curves["ours"][0]["knn_top1"] == pytest.approx(curves["lightly"][0]["knn_top1"])
    ours_config = runs[0]["config"]
    assert (ours_config["arch"], ours_config["width"], ours_config["batch_size"]) == ("small_cnn", 0.5, 64)
    assert (ours_config["warmup_epochs"], ours_config["warmup_fraction"]) == (0.0, 0.01)  # 10 of 1,000 epochs
    assert (ours_config["optimizer"], ours_config["lr"], ours_config["head_last_bn"]) == ("lars", 1.0, "scale")

    summary = result["summary"]
    assert summary["seeds"] == [0]
    assert summary["difference_at_equal_epochs"]["values"] == [
        pytest.approx(curves["ours"][-1]["knn_top1"] - curves["lightly"][-1]["knn_top1"])]
    t = min(curves[k][-1]["cumulative_seconds"] for k in ("ours", "lightly"))
    reached = {k: [pt for pt in curves[k] if pt["cumulative_seconds"] <= t][-1]["knn_top1"] for k in ("ours", "lightly")}
    assert summary["difference_at_equal_wall_time"]["values"] == [pytest.approx(reached["ours"] - reached["lightly"])]
    assert summary["ours_at_least_as_accurate_at_equal_epochs"] == (summary["difference_at_equal_epochs"]["mean"] >= 0)
    assert summary["ours_ahead_at_equal_wall_time"] == (summary["difference_at_equal_wall_time"]["mean"] > 0)
    for name in ("ours", "lightly"):
        assert summary[name]["total_train_seconds"]["mean"] == pytest.approx(curves[name][-1]["cumulative_seconds"])
        assert summary[name]["views_per_second"]["mean"] == pytest.approx(
            2 * result["images_per_epoch"] / curves[name][-1]["cumulative_seconds"])
    prov = result["provenance"]
    assert prov["device"] and prov["date"] and "commit" in prov and prov["torch_threads"] >= 1
    assert {"torch", "lightly"} <= set(prov["versions"])


def test_gpu_check_tiny_profiles_the_step_and_times_the_switches(tmp_path):
    from lib import step_options

    result = gpu_check.main(["--tiny", "--out", str(tmp_path), "--skip-bench", "--skip-run", "--profile-step",
                             "--profile-steps", "4", "--ab", "foreach_lars,cuda_graphs,compile", "--ab-steps", "2",
                             "--ab-warmup", "1"])
    written = json.loads(next(tmp_path.glob("gpu_check-tiny-*.json")).read_text())
    assert written["status"] == "complete" and "commit" in written["provenance"]
    assert written["provenance"]["versions"]["torch"] == torch.__version__
    prof = result["step_profile"]
    assert prof["time_basis"] == "cpu" and prof["steps"] == 4 and prof["options"] == ["channels_last", "no_host_sync"]
    # every part of the step was inside its range, and the ranges account for most of the step's wall time
    assert set(prof["regions"]) == set(step_options.REGIONS) - {"knn_monitor"}  # a step's; the monitor's apart
    assert set(prof["knn_monitor"]["regions"]) == {"knn_monitor"}
    assert all(v > 0 for v in prof["regions_ms"].values()), prof["regions_ms"]
    assert 0.5 * prof["step_wall_ms"] < prof["attributed_ms"] <= 1.05 * prof["step_wall_ms"]
    names = [op["name"] for op in prof["top_operators"]]
    assert names and not set(names) & set(step_options.REGIONS)
    assert any("convolution" in n for n in names)
    assert prof["knn_monitor"]["wall_seconds"] > 0 and 0 <= prof["knn_monitor"]["result"]["knn_top1"] <= 1
    rows = {r["switch"]: r for r in result["ab"]["rows"]}
    assert set(rows) == {"foreach_lars", "cuda_graphs", "compile", None}
    assert "cuda_graphs needs a CUDA device" in rows["cuda_graphs"]["skipped"]
    for name in ("foreach_lars", "compile"):
        r = rows[name]
        assert r["variant"] and not r["current"] and r["views_per_s"] > 0
        assert r["ratio"] == pytest.approx(r["views_per_s"] / r["current_views_per_s"]) == pytest.approx(r["gain"])
    assert result["ab"]["compile_backend"] == "aot_eager" and rows[None]["repeat_views_per_s"] > 0


@pytest.mark.parametrize("argv", [["--ab", "fp8"], ["--ab", "bf16,bf16"], ["--ab-batch-sizes", "512,x"],
                                  ["--profile-steps", "0"], ["--ab-batch-sizes", "1"], ["--ab-minutes", "-1"],
                                  ["--run-best-switches"]])
def test_gpu_check_refuses_bad_step_options_in_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        gpu_check.parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("gpu_check.py: error: --") or "error: --" in err


def test_best_switches_become_run_overrides():
    from lib.config import Config

    step_profile = _load("step_profile")
    rows = [{"batch_size": 512, "switch": "bf16", "variant": False, "ratio": 0.6},       # off is slower: keep
            {"batch_size": 512, "switch": "foreach_lars", "variant": True, "ratio": 1.10},
            {"batch_size": 512, "switch": "cuda_graphs", "variant": True, "ratio": 1.01},  # within the margin
            {"batch_size": 512, "switch": "channels_last", "variant": False, "ratio": 1.2},  # a run cannot take it
            {"batch_size": 512, "switch": "compile", "variant": False, "ratio": 1.5},
            {"batch_size": 1024, "switch": "cuda_graphs", "variant": True, "ratio": 2.0},  # another batch size
            {"batch_size": 512, "switch": "no_host_sync", "variant": False, "skipped": "deadline"},
            {"batch_size": 512, "switch": None, "current_views_per_s": 1.0}]
    best = step_profile.best_switches({"rows": rows}, 512, margin=1.02)
    assert best == {"foreach_lars": True, "channels_last": False, "compile": False}
    config = Config(task="pretrain", compile=True, speed="cuda_graphs")
    overrides, not_applied = step_profile.run_overrides(best, config)
    assert overrides == {"compile": False, "speed": "cuda_graphs,foreach_lars"} and not_applied == ["channels_last"]
    assert config.replace(**overrides).run_id() == config.run_id()
    assert step_profile.run_overrides({"bf16": False}, config)[0] == {"precision": "fp32"}


def test_the_prepared_profile_call_in_the_readme_parses():
    import shlex

    lines = [line for line in (ROOT / "benchmarks" / "README.md").read_text().splitlines()
             if "python3 benchmarks/gpu_check.py" in line and "--profile-step" in line]
    assert len(lines) == 1, lines
    argv = shlex.split(lines[0].split("gpu_check.py", 1)[1].split("2>&1")[0].replace('"$OUT"', "/tmp/out"))
    args = gpu_check.parse_args(argv)
    assert args.profile_step and args.run_best_switches and args.ab_batches == [512, 1024] and args.epochs == 100
    assert args.ab_switches == list(__import__("lib.step_options").step_options.SWITCHES)


# ---- gpu_report.py: a run carried across calls ---------------------------------------------------

TIMINGS = ("train_seconds", "views_per_second", "train_tflops", "elapsed_seconds")  # wall-clock fields differ


def _report_call(gpu_report, runs_dir, out, *extra):
    return gpu_report.main(["--only", "02", "--profile", "smoke", "--data", "sample", "-p", "epochs", "3",
                            "--runs-dir", str(runs_dir), "--out", str(out), "--pack-every", "0.2", *extra])


@pytest.mark.slow
def test_gpu_report_carries_a_run_cut_by_the_deadline_into_the_next_call(tmp_path, monkeypatch):
    """Call 1 is stopped by its deadline once the run has checkpointed an epoch: the run is unfinished and
    its last checkpoint goes into the carry pack. Call 2, on a fresh runs folder (another machine), unpacks
    the pack, resumes the run and finishes it: its record equals an uninterrupted run's (call 3). Before,
    the pack held complete runs only and the cut run started over from epoch 0 in every call."""
    from lib.records import load_record

    gpu_report = _load("gpu_report")
    first, second, whole = tmp_path / "machine1", tmp_path / "machine2", tmp_path / "uninterrupted"
    checkpointed = lambda: any(first.glob("*/checkpoints/epoch*.pt"))  # noqa: E731
    monkeypatch.setattr(gpu_report, "past_deadline", lambda deadline: checkpointed())
    cut = _report_call(gpu_report, first, tmp_path / "out1")
    assert cut["status"] == "stopped at the deadline" and cut["runs"] == [] and cut["not_carried"] == {}
    [run_id] = cut["carried"]
    pack = tmp_path / "out1" / cut["carry"]
    assert pack.stat().st_size <= gpu_report.CARRY_LIMIT_MIB * 2**20
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert sum("/checkpoints/epoch" in n for n in names) == 1 and f"{run_id}/config.json" in names
    assert not load_record(first / run_id).complete

    monkeypatch.setattr(gpu_report, "past_deadline", lambda deadline: False)
    resumed = _report_call(gpu_report, second, tmp_path / "out2", "--carry", str(pack))
    assert resumed["status"] == "complete" and resumed["carried_in"] == [run_id] and run_id in resumed["runs"]
    assert "resumed" in (tmp_path / "out2" / f"{resumed['name']}.log").read_text()
    reference = _report_call(gpu_report, whole, tmp_path / "out3")
    assert reference["status"] == "complete" and run_id in reference["runs"]

    res, ref = load_record(second / run_id), load_record(whole / run_id)
    assert res.complete and res.provenance["resumes"] == 1
    strip = lambda e: {k: v for k, v in e.items() if k not in TIMINGS}  # noqa: E731
    assert [strip(e) for e in res.epochs] == [strip(e) for e in ref.epochs] and len(res.epochs) == 4
    timing = lambda r: {k: v for k, v in r.results.items() if "time" not in k and "second" not in k}  # noqa: E731
    assert timing(res) == timing(ref) and res.results


def test_the_carry_pack_takes_the_runs_that_fit_and_names_the_others():
    gpu_report = _load("gpu_report")
    taken, left = gpu_report.carry_plan({"a": 6 * 2**20, "b": 12 * 2**20, "c": 3 * 2**20}, 16 * 2**20)
    assert taken == ["a", "c"] and list(left) == ["b"]
    assert "12.0 MiB with its checkpoint" in left["b"] and "of the 16 MiB carry limit left" in left["b"]
    # a full-profile ResNet-18 checkpoint (weights and momentum, ~88 MiB) does not fit
    assert gpu_report.carry_plan({"r18": 88 * 2**20}, 16 * 2**20)[0] == []


def test_crop_sampler_benchmark_arms_differ_in_the_sampler_alone(tmp_path):
    """Issue #27's benchmark: the two arms of our pipeline differ in crop_sampler and nothing else (same
    seed, recipe, data, backbone), and the summary pairs each arm with the others."""
    bench = _load("crop_sampler_vs_lightly")
    result = bench.main(["--tiny", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "crop_sampler_vs_lightly-cpu.json").read_text()) == result
    runs = {r["pipeline"]: r for r in result["runs"]}
    assert list(runs) == ["subpixel", "torchvision", "lightly"]
    a, b = runs["subpixel"]["config"], runs["torchvision"]["config"]
    assert {k for k in a if a[k] != b[k]} == {"crop_sampler"}
    assert (a["crop_sampler"], b["crop_sampler"]) == ("subpixel", "torchvision")
    assert (b["optimizer"], b["lr"], b["weight_decay"]) == ("sgd", 0.12, 5e-4)   # lightly's recipe
    assert runs["subpixel"]["run_id"] != runs["torchvision"]["run_id"]
    summary = result["summary"]
    assert set(summary) == {"torchvision_vs_subpixel", "subpixel_vs_lightly", "torchvision_vs_lightly"}
    curves = {k: r["curve"] for k, r in runs.items()}
    assert summary["torchvision_vs_subpixel"]["difference_at_equal_epochs"]["values"] == [
        pytest.approx(curves["torchvision"][-1]["knn_top1"] - curves["subpixel"][-1]["knn_top1"])]
