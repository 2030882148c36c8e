import json
import math

import numpy as np
import pytest

from lib.report import plots, tables
from lib.config import Config
from lib.records import RecordWriter


def fake_record(tmp_path, results, wall=1.0, **config):
    """A complete record written the way training writes it (no training)."""
    writer = RecordWriter(Config(runs_dir=str(tmp_path), **config))
    writer.start("cpu")
    writer.log_epoch({"epoch": 1, "loss": 1.0})
    return writer.finish(results, wall_time_s=wall)


def test_manifest_round_trip(tmp_path):
    a = fake_record(tmp_path, {"h/knn_top1": 0.5}, seed=0)
    b = fake_record(tmp_path, {"h/knn_top1": 0.7}, seed=1)
    path = tables.write_manifest("02_simclr", "smoke", {"z last": a.run_id, "SimCLR": [a.run_id, b.run_id]},
                                  headline={"knn": np.float32(0.6)}, runs_dir=str(tmp_path))
    assert path == tmp_path / "_manifests" / "02_simclr-smoke.json"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # atomic: no temporary left
    tables.write_manifest("01_supervised", "quick", {"x": a.run_id}, runs_dir=str(tmp_path))
    manifests = tables.read_manifests("smoke", runs_dir=str(tmp_path))
    assert list(manifests) == ["02_simclr"]  # the quick one is another profile
    m = manifests["02_simclr"]
    assert m["runs"] == {"SimCLR": [a.run_id, b.run_id], "z last": [a.run_id]}
    assert m["headline"]["knn"] == pytest.approx(0.6)
    assert {"date", "commit", "dirty", "profile"} <= set(m)
    records, missing = tables.manifest_records(m, runs_dir=str(tmp_path))
    assert [r.run_id for r in records["SimCLR"]] == [a.run_id, b.run_id] and missing == []
    assert list(records) == ["z last", "SimCLR"]  # the notebook's order, not the sorted JSON's
    assert tables.read_manifests("full", runs_dir=str(tmp_path / "nothing")) == {}


def test_manifest_records_lists_missing_runs_and_manifest_validates(tmp_path):
    a = fake_record(tmp_path, {})
    m = {"runs": {"ok": [a.run_id], "gone": ["pretrain-000000000000"]}}
    records, missing = tables.manifest_records(m, runs_dir=str(tmp_path))
    assert list(records) == ["ok"] and missing == ["pretrain-000000000000"]
    with pytest.raises(ValueError, match="runs"):
        tables.write_manifest("03_simclr_v2", "smoke", {}, runs_dir=str(tmp_path))
    # a notebook that trains nothing records its headline alone
    path = tables.write_manifest("00_data", "smoke", {}, headline={"pixels: identity": 1.0}, runs_dir=str(tmp_path))
    assert json.loads(path.read_text())["runs"] == {}
    assert tables.manifest_records(tables.read_manifests("smoke", str(tmp_path))["00_data"], str(tmp_path)) == ({}, [])
    with pytest.raises(ValueError, match="notebook must be a plain name"):
        tables.write_manifest("../evil", "smoke", {"a": a.run_id}, runs_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"runs\['a'\]"):
        tables.write_manifest("03", "smoke", {"a": []}, runs_dir=str(tmp_path))


def test_aggregate_mean_std_against_numpy_and_nan_for_missing_keys(tmp_path):
    values = [0.61, 0.64, 0.70]
    seeds = [fake_record(tmp_path, {"acc": v, "nmi": None}, seed=s) for s, v in enumerate(values)]
    single = [fake_record(tmp_path, {"acc": 0.5}, seed=0, task="supervised")]
    table = tables.aggregate({"three": seeds, "one": single}, ["acc", "nmi", "absent"])
    assert list(table.index) == ["three", "one"]
    assert table.loc["three", "acc"] == pytest.approx(np.mean(values))
    assert table.loc["three", "acc_std"] == pytest.approx(np.std(values, ddof=1))
    assert table.loc["one", "acc_std"] == 0.0 and table.loc["one", "seeds"] == 1
    assert table.loc["three", "seeds"] == 3
    for label in ("three", "one"):
        assert math.isnan(table.loc[label, "absent"]) and math.isnan(table.loc[label, "absent_std"])
    assert math.isnan(table.loc["three", "nmi"])  # NaN is stored as null in the record


def test_format_mean_std_shows_spread_only_over_several_seeds(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"acc": [0.712, 0.5, math.nan], "acc_std": [0.004, 0.0, math.nan], "seeds": [3, 1, 2],
                       "other": ["a", "b", "c"]}, index=["x", "y", "z"])
    out = tables.format_mean_std(df, ["acc"])
    assert list(out["acc"]) == ["71.2 ± 0.4", "50.0", "–"]
    assert "acc_std" not in out.columns and list(out["other"]) == ["a", "b", "c"]
    assert tables.format_mean_std(df, ["acc"], percent=False, digits=3).loc["x", "acc"] == "0.712 ± 0.004"
    with pytest.raises(ValueError, match="not columns"):
        tables.format_mean_std(df, ["nope"])


def test_provenance_table_columns_and_deduplication(tmp_path):
    r = fake_record(tmp_path, {"acc": 0.5}, wall=12.345, epochs=3)
    table = tables.provenance_table([r, r])
    assert list(table.columns) == ["run_id", "task", "dataset", "arch", "epochs", "seed", "commit", "dirty",
                                   "device", "finished", "wall_time_s"]
    assert len(table) == 1
    row = table.iloc[0]
    assert row["run_id"] == r.run_id and row["epochs"] == 3 and row["wall_time_s"] == 12.35
    assert row["device"].startswith("CPU") and row["finished"]
    assert len(row["commit"]) <= 10


def test_label_efficiency_table_and_figure(tmp_path):
    ft = [fake_record(tmp_path, {"test_top1": v}, task="finetune", pretrained="pretrain-x", label_fraction=f, seed=s)
          for f, vs in ((0.01, (0.5, 0.6)), (0.1, (0.8, 0.8))) for s, v in enumerate(vs)]
    pre = [fake_record(tmp_path, {"h/knn_top1": 0.7})]  # no test_top1: left out
    grid = [fake_record(tmp_path, {"test_top1": 0.9}, task="finetune", pretrained="pretrain-x", label_fraction=0.01,
                        seed=7)]  # a point of a tuning grid: behind a choice, not a method
    table = tables.label_efficiency_table({"fine-tune": ft, "pretrain": pre, f"{tables.GRID_LABEL}(0.1, 0)": grid})
    assert list(table["method"]) == ["fine-tune", "fine-tune"]
    assert list(table["label_fraction"]) == [0.01, 0.1]
    assert table["test_top1"].tolist() == pytest.approx([0.55, 0.8])
    assert table["test_top1_std"].tolist() == pytest.approx([np.std([0.5, 0.6], ddof=1), 0.0])
    fig = plots.label_efficiency_figure(table, baselines=["fine-tune"])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_lines()[0].get_linestyle() == "--"
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 1
    with pytest.raises(ValueError, match="lacks columns"):
        plots.label_efficiency_figure(table.drop(columns=["method"]))


def test_headline_table(tmp_path):
    table = tables.headline_table({"01": {"headline": {"a": 1.0, "b": 2.0}}, "02": {}})
    assert table.values.tolist() == [["01", "a", 1.0], ["01", "b", 2.0]]


def test_best_row_and_split_layers(tmp_path):
    a = [fake_record(tmp_path, {"h/knn_top1": v, "z/knn_top1": v - 0.1}, seed=s) for s, v in enumerate((0.6, 0.8))]
    b = [fake_record(tmp_path, {"h/knn_top1": 0.65}, task="supervised")]
    table = tables.aggregate({"a": a, "b": b}, ["h/knn_top1", "z/knn_top1"])
    label, mean, std = tables.best_row(table, "h/knn_top1")
    assert label == "a" and mean == pytest.approx(0.7) and std == pytest.approx(np.std([0.6, 0.8], ddof=1))
    assert tables.best_row(tables.aggregate({"b": b}, ["z/knn_top1"]), "z/knn_top1") is None
    layers = tables.split_layers(table, ["knn_top1", "map@r"])
    assert list(layers.index) == ["a (h)", "a (z)", "b (h)"]  # b has no z: no row
    assert layers.loc["a (z)", "knn_top1"] == pytest.approx(0.6)
    assert math.isnan(layers.loc["a (h)", "map@r"]) and layers.loc["a (h)", "seeds"] == 2
