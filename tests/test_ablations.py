"""Tests of lib.report.grids, tables and papers and of lib.probes: the grids of the related-work notebooks, the papers' numbers, the tables
and verdicts, the transformation-prediction probe and the figures."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lib import probes, training
from lib.report import grids, papers, plots, tables
from lib.config import Config
from lib.records import RunRecord

# ---- the papers' numbers -----------------------------------------------------------------------


def test_figure5_row_averages_match_the_printed_average_column():
    # The figure prints each row's average; recomputing it from the transcribed cells checks them.
    printed = [39.2, 29.4, 25.7, 18.8, 15.5, 14.5, 13.8]
    np.testing.assert_allclose(grids.row_averages(papers.FIGURE5), printed, atol=0.1)


def test_references_are_complete_and_lookup_fails_clearly():
    for key, ref in papers.REFERENCES.items():
        assert ref.paper in ("SimCLR", "SimCLRv2") and ref.where and ref.setting and ref.claim, key
        assert ref.values or ref.approximate, f"{key}: a reference without numbers must be marked approximate"
        assert all(0 <= v <= 100 for v in ref.values.values()), key
    assert papers.reference("simclr.table1").citation.startswith("SimCLR (Chen et al. 2020a), Table 1")
    with pytest.raises(ValueError, match="unknown reference 'nope'"):
        papers.reference("nope")
    table = papers.reference_table("simclr.table5")
    assert len(table) == 6 and table.attrs["source"].endswith("Table 5")


# ---- grids -------------------------------------------------------------------------------------


def test_augmentation_cells_counts_order_and_crop_first():
    none, crop, every = (grids.augmentation_cells(pairs=p) for p in ("none", "crop", "all"))
    assert none == [(op,) for op in papers.FIGURE5_OPS]
    assert len(crop) == 7 + 6 and all(c[0] == "crop" for c in crop[7:])
    assert len(every) == 7 + 7 * 6 - 6  # every ordered pair except the six with crop second
    assert len(set(every)) == len(every) and all(grids.runnable_cell(c) for c in every)
    assert ("color", "crop") not in every and ("crop", "color") in every
    with pytest.raises(ValueError, match="pairs must be one of none, crop, all"):
        grids.augmentation_cells(pairs="some")
    with pytest.raises(ValueError, match="distinct operations"):
        grids.augmentation_cells(("crop", "crop"))


def test_every_cell_is_a_valid_config_with_an_identity_second_branch():
    for cell in grids.augmentation_cells(pairs="all"):
        kw = grids.cell_views(cell)
        config = Config(**kw)
        assert config.views_list == cell and config.views2_list == ()
    with pytest.raises(ValueError, match="crop must come first"):
        grids.cell_views(("color", "crop"))
    with pytest.raises(ValueError, match="one or two operations"):
        grids.cell_views(("crop", "color", "blur"))


def test_grid_matrix_rebuilds_figure5_from_its_cells():
    ops = papers.FIGURE5_OPS
    all_49 = [(a,) if a == b else (a, b) for a in ops for b in ops]
    values = grids.paper_cell_values(all_49)
    np.testing.assert_array_equal(grids.grid_matrix(values), papers.FIGURE5)
    partial = grids.grid_matrix({("crop",): 1.0, ("crop", "color"): 2.0, ("color",): 3.0})
    assert partial[0, 0] == 1.0 and partial[0, 2] == 2.0 and partial[2, 2] == 3.0
    assert np.isnan(partial).sum() == 49 - 3
    with pytest.raises(ValueError, match="not in the grid"):
        grids.grid_matrix({("flip",): 1.0})


def test_row_averages_skip_missing_cells():
    m = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 2.0, 5.0]])
    out = grids.row_averages(m)
    assert out[0] == 2.0 and np.isnan(out[1]) and out[2] == 3.0


def test_paper_grid_is_the_submatrix_in_the_given_order():
    sub = grids.paper_grid(("color", "crop"))
    np.testing.assert_array_equal(sub, [[18.8, 55.8], [56.3, 33.1]])
    with pytest.raises(ValueError, match="not in SimCLR's Figure 5"):
        grids.paper_grid(("crop", "flip"))


def test_color_settings_labels_match_table1():
    settings = grids.color_settings([0.125, 0.25, 0.5, 1.0])
    paper = {k[len("SimCLR "):] for k in papers.REFERENCES["simclr.table1"].values if k.startswith("SimCLR ")}
    assert set(settings) == paper
    assert settings["1 (+blur)"] == {"color_strength": 1.0, "views": "crop,flip,color,gray,blur"}
    assert [grids.fraction_label(x) for x in (0.125, 0.5, 1.0, 2.0)] == ["1/8", "1/2", "1", "2"]
    with pytest.raises(ValueError, match="strengths"):
        grids.color_settings([0.0])


def test_head_settings_are_distinct_valid_runs():
    settings = grids.head_settings([32, 128])
    assert list(settings) == ["none", "linear, 32", "linear, 128", "nonlinear, 32", "nonlinear, 128"]
    ids = {Config(**kw).run_id() for kw in settings.values()}
    assert len(ids) == len(settings)
    assert settings["none"] == {"head_layers": 0}
    with pytest.raises(ValueError, match="distinct positive"):
        grids.head_settings([32, 32])


def test_batch_epoch_settings_refuse_batches_larger_than_the_data():
    grid = grids.batch_epoch_settings([64, 256], [2, 6], n_train=1000)
    assert set(grid) == {(64, 2), (256, 2), (64, 6), (256, 6)}
    with pytest.raises(ValueError, match=r"batch_sizes \[4096\] exceed the 1000 training images"):
        grids.batch_epoch_settings([256, 4096], [2], n_train=1000)


def test_linear_lr_setting_is_the_default_run_so_it_is_reused():
    settings = grids.lr_scaling_settings([64, 512])
    for b in (64, 512):
        assert Config(**settings[("linear", b)]).run_id() == Config(batch_size=b).run_id()
        assert Config(**settings[("sqrt", b)]).scaled_lr == pytest.approx(0.075 * math.sqrt(b))


def test_temperature_settings_match_table5_and_need_the_knob_for_raw(monkeypatch):
    paper = papers.REFERENCES["simclr.table5"].values
    monkeypatch.setattr(grids, "FIELD_NAMES", ("temperature",))
    settings = grids.temperature_settings([0.05, 0.1, 0.5, 1.0], [10, 100])
    assert set(settings) == {k for k in paper if k.startswith("l2 norm")}
    monkeypatch.setattr(grids, "FIELD_NAMES", ("temperature", grids.NORMALIZE_KNOB))
    settings = grids.temperature_settings([0.5], [10, 100])
    assert settings["no l2 norm, t=10"] == {"temperature": 10.0, grids.NORMALIZE_KNOB: False}
    assert {k for k in settings if k.startswith("no")} == {k for k in paper if k.startswith("no")}


def test_finetune_layers_and_parse_list():
    assert grids.finetune_layers(3) == [0, 1, 2]
    assert grids.finetune_layers(2, "0,1,5") == [0, 1]
    assert grids.parse_list(" 0.01, 0.1 ") == [0.01, 0.1]
    assert grids.parse_list(32, int) == [32]
    with pytest.raises(ValueError, match="comma-separated string"):
        grids.parse_list(None)
    with pytest.raises(ValueError, match="widths must hold int"):
        grids.parse_list("1,x", int, "widths")
    with pytest.raises(ValueError, match="is empty"):
        grids.parse_list(" , ")


# ---- tables and verdicts -----------------------------------------------------------------------


def fake(results, epochs=None):
    return RunRecord(directory=Path("/nonexistent"), config=Config(), status="complete",
                     results=results, epochs=epochs or [])


def test_mean_std_and_result_values():
    recs = [fake({"a": 0.5}), fake({"a": 0.7}), fake({"a": "x"}), fake({})]
    values = tables.result_values(recs, "a")
    assert values[:2] == [0.5, 0.7] and all(math.isnan(v) for v in values[2:])
    mean, std, n = tables.mean_std(values)
    assert (mean, n) == (pytest.approx(0.6), 2) and std == pytest.approx(math.sqrt(0.02))
    assert tables.mean_std([0.3]) == (0.3, 0.0, 1)
    assert tables.last_epoch_values([fake({}, [{"x": 1.0}, {"x": 0.9}])], "x") == [0.9]


def test_seed_deltas_and_per_seed_best():
    assert tables.seed_deltas([0.5, 0.6], [0.4, 0.7]) == pytest.approx([0.1, -0.1])
    with pytest.raises(ValueError, match="one value per seed"):
        tables.seed_deltas([1.0], [1.0, 2.0])
    values = {"a": [0.1, 0.9], "b": [0.5, 0.2], "c": [0.0, 0.0]}
    assert tables.per_seed_best(values, ["a", "b"]) == [0.5, 0.9]
    with pytest.raises(ValueError, match="different numbers of seeds"):
        tables.per_seed_best({"a": [1.0], "b": [1.0, 2.0]}, ["a", "b"])


def test_one_sided_p_against_the_t_table_and_a_naive_integral():
    # Student's t, 2 degrees of freedom, has the closed form P(T >= t) = 1/2 - t / (2 sqrt(t^2 + 2))
    for t in (0.5, 1.0, 2.92, 4.3):
        assert tables.one_sided_p(t / math.sqrt(3), 1.0, 3, 1) == pytest.approx(0.5 - t / (2 * math.sqrt(t * t + 2)))
    assert tables.one_sided_p(2.132 / math.sqrt(5), 1.0, 5, 1) == pytest.approx(0.05, abs=2e-4)  # t table, df 4
    assert tables.one_sided_p(0.3, 0.1, 4, 1) + tables.one_sided_p(0.3, 0.1, 4, -1) == pytest.approx(1.0)
    assert math.isnan(tables.one_sided_p(0.3, 0.0, 1, 1))


def test_claim_row_reports_points_ratio_and_verdict():
    row = tables.claim_row("c", "SimCLR Table 1", [0.02, 0.04, 0.03], paper=3.0)
    assert row["ours (points)"] == "+3.0 ± 1.0" and row["ours / paper"] == pytest.approx(1.0)
    assert row["verdict"] == "agrees" and row["seeds"] == 3
    # two-sided: twice the one-sided p of t = 5.196 at 2 degrees of freedom
    assert row["p"] == pytest.approx(2 * (0.5 - 5.196152 / (2 * math.sqrt(5.196152 ** 2 + 2))), rel=1e-5)
    two = tables.claim_row("c", "SimCLR Table 1", [0.02, 0.04], paper=3.0)  # t = 3 at 1 degree of freedom: p = 0.10
    assert two["verdict"] == "inconclusive"
    row = tables.claim_row("c", "s", [-0.01], expected_sign=1)
    assert row["paper (points)"] == "+" and row["verdict"] == "inconclusive (1 seed: no test)"
    assert math.isnan(row["ours / paper"])
    with pytest.raises(ValueError, match="paper's effect"):
        tables.claim_row("c", "s", [0.1])
    assert list(tables.claims_table([row]).columns)[-1] == "verdict"


def test_side_by_side_joins_on_labels():
    table = tables.side_by_side({"a": (0.5, 0.01, 3), "b": (0.4, 0.0, 1)}, {"a": 60.0, "c": 10.0})
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "ours"] == "50.0 ± 1.0" and table.loc["b", "ours"] == "40.0"
    assert table.loc["c", "ours"] == "–" and math.isnan(table.loc["b", "paper"])


# ---- transformation prediction -----------------------------------------------------------------


def test_apply_transformation_rotates_each_image_by_its_target():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 8, 8)
    k = torch.tensor([0, 1, 2, 3, 1, 0])
    out = probes.apply_transformation(x, k, "rotate", g)
    for i in range(6):
        torch.testing.assert_close(out[i], torch.rot90(x[i], int(k[i]), dims=(-2, -1)))
    gray = probes.apply_transformation(x, torch.tensor([1, 0, 1, 0, 0, 0]), "gray", g)
    assert torch.equal(gray[1], x[1]) and torch.allclose(gray[0, 0], gray[0, 1])
    with pytest.raises(ValueError, match="transform must be one of"):
        probes.apply_transformation(x, k, "flip", g)


def test_probe_finds_rotation_in_pixels_but_not_in_a_rotation_invariant_feature():
    g = torch.Generator().manual_seed(1)
    train, test = torch.rand(400, 1, 8, 8, generator=g), torch.rand(200, 1, 8, 8, generator=g)
    train[:, :, :4, :4] += 1.0  # a bright corner: its position gives the rotation away
    test[:, :, :4, :4] += 1.0
    train, test = train / 2, test / 2
    def features(x):  # raw pixels, and their sum over the four rotations (rotation-invariant)
        return {"pixels": x.flatten(1), "invariant": sum(torch.rot90(x, k, dims=(-2, -1)) for k in range(4)).flatten(1)}

    out = probes.predict_transformation(features, train, test, "rotate")
    assert out["pixels"] > 0.95
    assert out["invariant"] < out["chance"] + 0.15
    assert 0.25 <= out["chance"] < 0.4


@pytest.mark.slow
def test_transformation_prediction_on_a_tiny_run_is_cached(tmp_path):
    config = Config(dataset="sample", train_size=200, test_size=100, arch="small_cnn", width=0.25, batch_size=64,
                    epochs=1, monitor_size=0, final_eval=False, save_embeddings=0, device="cpu",
                    runs_dir=str(tmp_path), progress=False)
    record = training.run(config)
    out = probes.transformation_prediction(record, "rotate", n_train=100, n_test=50, device="cpu")
    assert {"h", "z", "chance"} <= set(out) and out["n_train"] == 100 and out["n_test"] == 50
    assert all(0 <= out[k] <= 1 for k in ("h", "z", "chance"))
    shutil.rmtree(record.checkpoint_dir)  # the stored result no longer needs the weights
    assert probes.transformation_prediction(record, "rotate", n_train=100, n_test=50, device="cpu") == out
    table = tables.transformation_table({("nonlinear", "rotate"): [out]})
    assert table.loc[("nonlinear", "rotate"), "paper z"] == 25.6
    with pytest.raises(ValueError, match="needs a 'pretrain' run"):
        probes.transformation_prediction(RunRecord(record.directory, config.replace(task="supervised")))


def test_related_work_table_reads_verdicts_and_flags_missing_notebooks():
    manifests = {"05_simclr_augmentations": {"headline": {"verdict: pairs beat singles": "agrees", "other": 0.5}}}
    table = tables.related_work_table(manifests)
    row = table[table["notebook"] == "05_simclr_augmentations"].iloc[0]
    assert (row["claim"], row["verdict"]) == ("pairs beat singles", "agrees")
    assert (table[table["notebook"] == "08_simclr_v2_claims"]["verdict"] == "not run at this profile").all()


def test_setting_table_and_description():
    text = tables.describe_setting(Config(dataset="cifar10", batch_size=512), 3, "linear probe on h")
    assert text.startswith("CIFAR-10 (50,000 training images)") and "lr 0.6" in text and "3 seeds" in text
    jpeg = tables.describe_setting(Config(dataset="imagefolder:data/cifar10-jpeg", train_size=4000), 3, "probe")
    assert jpeg.startswith("CIFAR-10, JPEG q75 copy (4,000 training images)")
    table = tables.setting_table({"grid": ("paper setting", text)})
    assert table.loc["grid", "ours"] == text
    assert len(text) > 50 and text in table._repr_html_() and text in repr(table)  # whole, not cut at 50


# ---- figures -----------------------------------------------------------------------------------


def test_augmentation_heatmap_draws_both_panels_with_missing_cells():
    ours = np.full((7, 7), np.nan)
    ours[0, 0], ours[0, 2] = 30.0, 50.0
    fig = plots.augmentation_heatmap(ours, papers.FIGURE5)
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # two panels, two colour bars
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "50.0" in texts and "–" in texts and len(texts) == 7 * 8
    with pytest.raises(ValueError, match="7x7"):
        plots.augmentation_heatmap(np.zeros((3, 3)))


def test_effect_lines_skips_missing_points_and_checks_lengths():
    fig = plots.effect_lines({"a": ([1, 2, 4], [0.5, np.nan, 0.7], [0.1, 0.0, 0.1])}, "batch", "acc",
                                 xscale="log", xticklabels=["1", "2", "4"])
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [1, 4]
    with pytest.raises(ValueError, match="same length"):
        plots.effect_lines({"a": ([1, 2], [0.5], [0.1])}, "x", "y")


def test_grid_table_shapes_per_seed_values():
    table = tables.grid_table({(64, 2): [0.5, 0.7], (64, 6): [0.8]}, rows=[64, 128], cols=[2, 6])
    assert table.shape == (2, 2)
    assert table.loc[64, 2] == "60.0 ± 14.1" and table.loc[64, 6] == "80.0" and table.loc[128, 2] == "–"


def test_crop_order_matters_little_in_figure5_as_the_docstring_says():
    # augmentation_cells leaves out crop-second cells because their crop-first mirrors differ by <= 1.7 points.
    f = papers.FIGURE5
    assert max(abs(f[0, j] - f[j, 0]) for j in range(1, 7)) == pytest.approx(1.7)
