"""Tests of lib/report/plots.py: every figure has the panels it promises, retrieval marks exactly the wrong
neighbours, and the record helpers find the right test images."""

import json
import sys

import numpy as np
import pytest
import torch
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from lib import data, views
from lib.report import plots, tables
from lib.config import Config
from lib.records import RunRecord, umask

CLASSES = ["zero", "one", "two"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def uint8_images(n, c=1, side=12, seed=0):
    return torch.randint(0, 256, (n, c, side, side), generator=gen(seed), dtype=torch.uint8)


def fake_record(tmp_path, name="r", epochs=(), results=None, embeddings=None, **config):
    directory = tmp_path / name
    directory.mkdir()
    if embeddings is not None:
        np.savez(directory / "embeddings.npz", **embeddings)
    return RunRecord(directory=directory, config=Config(**config), status="complete",
                     results=results or {}, epochs=list(epochs))


# ---- images -------------------------------------------------------------------------------------

def test_image_grid_has_one_axes_per_image_and_names_uniform_rows():
    labels = [0, 0, 0, 1, 2, 1, 2]
    fig = plots.image_grid(uint8_images(7), labels, CLASSES, ncols=3, title="t")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 7  # the two empty cells of the last row are removed
    assert fig.axes[0].get_ylabel() == "zero" and fig.axes[0].get_title() == ""  # row of one class
    assert [ax.get_title() for ax in fig.axes[3:6]] == ["one", "two", "one"]    # mixed row


def test_image_grid_shows_pixels_in_gray_and_colour():
    gray = uint8_images(2, c=1)
    fig = plots.image_grid(gray, [0, 1], CLASSES)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), gray[1, 0].numpy() / 255.0, atol=1e-6)
    assert fig.axes[1].images[0].get_cmap().name == "gray"
    rgb = uint8_images(1, c=3)
    shown = plots.image_grid(rgb, [2], CLASSES).axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, rgb[0].permute(1, 2, 0).numpy() / 255.0, atol=1e-6)


def test_examples_per_class_groups_by_class():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 1, 2, 0])
    idx = plots.examples_per_class(labels, per_class=2, seed=1)
    assert labels[idx].tolist() == [0, 0, 1, 1, 2, 2]
    assert len(set(idx.tolist())) == 6
    assert plots.examples_per_class(labels, per_class=5).size == 10  # classes with fewer give all they have


def test_augmentation_gallery_columns_and_forced_single_operations():
    images = uint8_images(4, side=10)
    ops_list = [("crop",), ("flip",), views.SIMCLR_CIFAR]
    fig = plots.augmentation_gallery(images, ops_list, views.ViewConfig(size=10), gen())
    assert len(fig.axes) == 4 * (1 + len(ops_list))
    axes = np.array(fig.axes).reshape(4, 4)
    assert axes[0, 0].get_title() == "original"
    for r in range(4):  # the 'flip' column shows every image flipped although flip_p = 0.5
        flipped = images[r, 0].flip(-1).numpy() / 255.0
        np.testing.assert_allclose(axes[r, 2].images[0].get_array(), flipped, atol=1e-6)


def test_two_views_is_image_over_its_two_views():
    images = uint8_images(5, c=3, side=10)
    pipeline = views.ViewPipeline(views.SIMCLR_CIFAR, views.ViewConfig(size=8))
    fig = plots.two_views(images, pipeline, pipeline, gen(), n=3)
    assert len(fig.axes) == 9
    assert [fig.axes[i].get_ylabel() for i in (0, 3, 6)] == ["image", "view 1", "view 2"]
    assert fig.axes[3].images[0].get_array().shape == (8, 8, 3)


# ---- curves and tables --------------------------------------------------------------------------

def test_training_curves_one_panel_per_logged_metric_and_epoch_zero(tmp_path):
    log = [{"epoch": 0, "knn_top1": 0.2}, {"epoch": 1, "loss": 5.0, "knn_top1": 0.4, "contrastive_top1": 0.1},
           {"epoch": 2, "loss": None, "knn_top1": 0.5, "contrastive_top1": 0.3}]  # NaN loss is stored as null
    a = fake_record(tmp_path, "a", epochs=log)
    b = fake_record(tmp_path, "b", epochs=[{"epoch": 0, "knn_top1": 0.3}, {"epoch": 1, "loss": 2.0, "knn_top1": 0.6}])
    fig = plots.training_curves({"A": a, "B": b}, metrics=("loss", "knn_top1", "contrastive_top1", "absent"))
    assert len(fig.axes) == 3  # 'absent' is logged by no record: no panel
    knn = fig.axes[1].lines[0]
    assert knn.get_xdata().tolist() == [0, 1, 2] and knn.get_ydata().tolist() == [0.2, 0.4, 0.5]
    assert fig.axes[0].lines[0].get_xdata().tolist() == [1]  # the null loss is skipped
    assert len(fig.axes[2].lines) == 1  # B logs no contrastive accuracy
    with pytest.raises(ValueError, match="none of the metrics"):
        plots.training_curves({"A": a}, metrics=("absent",))


def test_training_curves_average_seeds_with_a_band(tmp_path):
    seeds = [fake_record(tmp_path, f"s{i}", epochs=[{"epoch": 0, "knn_top1": v}, {"epoch": 1, "knn_top1": 2 * v}])
             for i, v in enumerate((0.1, 0.3))]
    fig = plots.training_curves({"SimCLR": seeds}, metrics=("knn_top1",))
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), [0.2, 0.4])
    assert any(isinstance(c, PolyCollection) for c in fig.axes[0].collections)


def test_results_table_mean_std_and_missing(tmp_path):
    runs = {"A": [fake_record(tmp_path, "a0", results={"h/knn_top1": 0.5, "h/nmi": 0.2}),
                  fake_record(tmp_path, "a1", results={"h/knn_top1": 0.7, "h/nmi": 0.4})],
            "B": fake_record(tmp_path, "b", results={"h/knn_top1": 0.9, "z/knn_top1": 0.8})}
    table = tables.results_table(runs, ["knn_top1", "nmi"])
    assert set(table.columns) == {"knn_top1", "nmi", "knn_top1_std", "nmi_std", "seeds"}
    assert table.loc["A", "knn_top1"] == pytest.approx(0.6)
    assert table.loc["A", "knn_top1_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert np.isnan(table.loc["B", "nmi"]) and table.loc["B", "seeds"] == 1
    z = tables.results_table(runs, ["knn_top1"], prefix="z")
    assert z.loc["B", "knn_top1"] == pytest.approx(0.8) and np.isnan(z.loc["A", "knn_top1"])


def test_metric_bars_one_bar_per_row_and_metric_with_error_bars(tmp_path):
    runs = {m: [fake_record(tmp_path, f"{m}{s}", results={"h/knn_top1": 0.5 + 0.1 * s, "h/nmi": 0.3})
                for s in range(2)] for m in ("A", "B", "C")}
    table = tables.results_table(runs, ["knn_top1", "nmi"])
    fig = plots.metric_bars(table, ["knn_top1", "nmi"])
    assert len(fig.axes) == 1
    assert len(fig.axes[0].patches) == 3 * 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["kNN top-1", "NMI"]
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 3 and all(c.errorbar is not None for c in bars)
    with pytest.raises(ValueError, match="not columns"):
        plots.metric_bars(table, ["map@r"])
    single = tables.results_table({m: runs[m][0] for m in runs}, ["knn_top1"])  # one seed: no error bars
    assert all(c.errorbar is None for c in plots.metric_bars(single, ["knn_top1"]).axes[0].containers
               if isinstance(c, BarContainer))


# ---- embeddings ---------------------------------------------------------------------------------

def test_embedding_scatter_and_panels():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(30, 2)), np.arange(30) % 3
    fig = plots.embedding_scatter(points, labels, CLASSES, "title")
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 3  # one scatter per class
    fig = plots.embedding_panels({f"epoch {e}": (points, labels) for e in (0, 5, 10)}, CLASSES)
    assert len(fig.axes) == 3 and len(fig.legends) == 1
    fig = plots.embedding_panels({f"p{i}": (points, labels) for i in range(5)}, CLASSES, ncols=3)
    assert len(fig.axes) == 5


@pytest.mark.slow
def test_umap_embedding_is_finite_and_reproducible():
    features = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float16)
    a = plots.umap_embedding(features, seed=0, n_neighbors=5)
    assert a.shape == (40, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, plots.umap_embedding(features, seed=0, n_neighbors=5))
    with pytest.raises(ValueError, match="features must be"):
        plots.umap_embedding(np.zeros(5))


# ---- retrieval ----------------------------------------------------------------------------------

def test_retrieval_grid_marks_exactly_the_wrong_neighbours():
    q, k = 3, 4
    query_labels = np.array([0, 1, 2])
    neighbour_labels = np.array([[0, 0, 1, 0], [2, 1, 1, 0], [2, 2, 2, 2]])
    fig = plots.retrieval_grid(uint8_images(q), uint8_images(q * k).view(q, k, 1, 12, 12),
                               query_labels, neighbour_labels, CLASSES)
    axes = np.array(fig.axes).reshape(q, k + 1)
    assert all(ax.get_gid() == "query" for ax in axes[:, 0])
    wrong = np.array([[ax.get_gid() == "wrong" for ax in row] for row in axes[:, 1:]])
    np.testing.assert_array_equal(wrong, neighbour_labels != query_labels[:, None])
    red = to_rgba(plots.WRONG_COLOR)
    for ax, is_wrong in zip(axes[:, 1:].flat, wrong.flat):
        assert (ax.spines["left"].get_edgecolor() == red) == is_wrong
        assert len(ax.texts) == int(is_wrong)  # the wrong class is named inside the image
    assert axes[1, 1].texts[0].get_text() == "two"
    assert [ax.texts[0].get_text() for ax in axes[:, 0]] == ["zero", "one", "two"]  # the queries' classes
    assert [ax.get_title() for ax in axes[0]] == ["query", "1", "2", "3", "4"]


def sample_record(tmp_path, shuffle_labels=False):
    """A record of the embedded sample with test_size=60 whose stored embeddings are one-hot labels."""
    test = data.load_dataset("sample", "test")
    subset = data.stratified_subset_indices(test.labels, 60, seed=0)
    subset_labels = test.labels[subset].numpy()
    indices = np.sort(np.concatenate([np.flatnonzero(subset_labels == c)[:3] for c in range(10)]))  # 3 per class
    labels = subset_labels[indices]
    features = np.eye(10, dtype=np.float16)[labels] + 0.01 * np.arange(30)[:, None].astype(np.float16)
    stored = labels[::-1].copy() if shuffle_labels else labels
    return fake_record(tmp_path, embeddings={"h": features, "labels": stored, "indices": indices,
                                             "h_epoch10": features, "h_epoch2": features, "h_epoch0": features},
                       dataset="sample", test_size=60), test.images[subset][indices].numpy(), labels


def test_stored_test_images_rebuild_the_subset(tmp_path):
    record, images, labels = sample_record(tmp_path)
    got, got_labels, classes = tables.stored_test_images(record)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert len(classes) == 10
    features, sub_labels = tables.stored_embeddings(record, "h", n=10)
    assert features.dtype == np.float32 and features.shape == (10, 10) and sorted(sub_labels) == list(range(10))
    assert tables.snapshot_keys(record) == [(0, "h_epoch0"), (2, "h_epoch2"), (10, "h_epoch10")]
    with pytest.raises(ValueError, match="stores no embeddings 'z'"):
        tables.stored_embeddings(record, "z")


def test_stored_test_images_refuse_mismatched_labels(tmp_path):
    record, _, _ = sample_record(tmp_path, shuffle_labels=True)
    with pytest.raises(ValueError, match="do not match"):
        tables.stored_test_images(record)


def test_retrieval_from_record_finds_same_class_neighbours(tmp_path):
    record, _, labels = sample_record(tmp_path)  # 3 stored images per class, one-hot features
    fig = plots.retrieval_from_record(record, k=2, n_queries=4)
    gids = [ax.get_gid() for ax in fig.axes]
    assert gids.count("query") == 4 and gids.count("right") == 8 and "wrong" not in gids
    fig = plots.retrieval_from_record(record, k=5, n_queries=4)  # only 2 others share the class
    assert [ax.get_gid() for ax in fig.axes].count("wrong") == 4 * 3


def test_save_png_writes_a_small_palette_png(tmp_path):
    fig = plots.embedding_scatter(np.random.default_rng(0).normal(size=(50, 2)), np.arange(50) % 3, CLASSES)
    path = plots.save_png(fig, tmp_path / "sub" / "scatter.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "P"
        assert image.size[0] == pytest.approx(4.8 * plots.DPI, rel=0.2)
    plain = tmp_path / "plain.png"
    fig.savefig(plain, dpi=plots.DPI, bbox_inches="tight")
    assert path.stat().st_size < plain.stat().st_size


def test_two_exports_of_one_figure_do_not_share_a_temporary_file(tmp_path, monkeypatch):
    """Two report processes in one clone may export the same README figure at once: each must write
    through a temporary file of its own, or one renames the other's away ('No such file' in the
    second, a failed notebook). Recorded here as the source names of the renames."""
    import os

    import matplotlib.pyplot as plt
    from lib.report.plots import export_figure, readme_figure_path

    renamed, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(str(src)), replace(src, dst))[1])
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    for _ in range(2):
        export_figure(fig, "08_simclr_v2_claims", "head_depth", "cifar-cpu", images_dir=tmp_path)
    plt.close(fig)
    assert len(renamed) == 2 and renamed[0] != renamed[1]
    path = readme_figure_path("08_simclr_v2_claims", "head_depth", "cifar-cpu", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask())  # as open() would make it


def test_export_figure_writes_quick_and_full_figures_only(tmp_path):
    import matplotlib.pyplot as plt
    from lib.report.plots import export_figure, readme_figure_path

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert export_figure(fig, "02_simclr", "curves", "smoke", images_dir=tmp_path) is fig
    assert not list(tmp_path.iterdir())
    assert export_figure(fig, "02_simclr", "curves", "quick", images_dir=tmp_path) is fig
    path = readme_figure_path("02_simclr", "curves", "quick", tmp_path)
    assert path.name == "02_simclr-quick-curves.png"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="name"):
        readme_figure_path("02_simclr", "../x", "quick", tmp_path)
    plt.close(fig)


# ---- where README figures go -------------------------------------------------------------------

def _git_status() -> str:
    import subprocess

    from lib.config import repo_path

    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo_path("."),
                          capture_output=True, text=True, check=True).stdout


def test_a_report_run_elsewhere_leaves_the_repository_clean(tmp_path, monkeypatch):
    """A notebook that exports a README figure, run at a README profile with --output and runs_dir in a
    temporary folder: the figure goes to <output>/images/, and git status is what it was (a trial run in
    a clone once overwrote tracked images/*-full-*.png and added six more)."""
    import nbformat

    from lib.config import repo_path
    from lib.report import runner

    notebooks, out = tmp_path / "nb", tmp_path / "out"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 98 · Exports\n\n- a bullet"),
                nbformat.v4.new_code_cell("profile = 'quick'  # p\nruns_dir = ''  # r",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom lib.report import plots\n"
                                          "fig = plt.figure(figsize=(1, 1), dpi=50)\nplt.plot([0, 1])\n"
                                          "plots.export_figure(fig, '98_exports', 'trial', profile)\nplt.close(fig)")]
    nb.metadata["kernelspec"] = {"name": runner.KERNEL, "display_name": "Python", "language": "python"}
    notebooks.mkdir()
    nbformat.write(nb, notebooks / "98_exports.ipynb")
    monkeypatch.delenv("THESIS_IMAGES_DIR", raising=False)
    before = _git_status()
    in_repo = repo_path("images") / "98_exports-quick-trial.png"
    try:
        assert runner.main(["--notebooks", str(notebooks), "--profile", "quick", "--output", str(out),
                            "-p", "runs_dir", str(tmp_path / "runs")]) == 0
        assert _git_status() == before
        assert not in_repo.exists()
        assert Image.open(out / "images" / "98_exports-quick-trial.png").size[0] > 0
    finally:
        in_repo.unlink(missing_ok=True)  # the old behaviour wrote it there


def test_readme_figures_go_to_images_only_for_the_repositorys_own_outputs(tmp_path, monkeypatch):
    from lib.config import repo_path
    from lib.report.exports import images_dir

    monkeypatch.delenv("THESIS_RUNS_DIR", raising=False)
    own = repo_path("reports") / "full"
    assert images_dir(own, "full") == repo_path("images")
    assert images_dir(own, "full", repo_path("runs")) == repo_path("images")
    assert images_dir(own, "full", tmp_path / "runs") == own / "images"   # other records
    assert images_dir(tmp_path, "full") == tmp_path / "images"            # other pages
    assert images_dir(repo_path("reports") / "quick", "full") == repo_path("reports") / "quick" / "images"
    assert images_dir(tmp_path, "full", readme=True) == repo_path("images")  # --readme-figures
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    assert images_dir(own, "full") == own / "images"


# ---- without umap-learn --------------------------------------------------------------------------

def test_without_umap_learn_the_projection_is_pca_and_said_once(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError
    monkeypatch.setattr(plots, "_SAID", set())
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    x[:, 0] *= 10  # the first principal direction
    p = plots.umap_embedding(x)
    plots.umap_embedding(x)
    assert p.shape == (40, 2) and p.dtype == np.float32
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.allclose(p, plots.pca_2d(unit), atol=1e-5)
    assert abs(np.corrcoef(p[:, 0], unit[:, 0])[0, 1]) > 0.9
    assert capsys.readouterr().out == plots.NO_UMAP + "\n"  # one line, however many panels


def test_02_renders_at_smoke_without_umap_learn(tmp_path, monkeypatch):
    """A bare GPU machine has PyTorch but not umap-learn: 02 trained, then failed at its UMAP cell, and
    wrote no manifest. With the import blocked in the kernel (a umap.py on PYTHONPATH that raises
    ImportError), the page renders, says so in one line, and the manifest and records are written."""
    from lib.report import runner

    shim, out, runs = tmp_path / "no-umap", tmp_path / "out", tmp_path / "runs"
    shim.mkdir()
    (shim / "umap.py").write_text("raise ImportError('umap-learn blocked by the test')\n")
    monkeypatch.setenv("PYTHONPATH", str(shim))
    assert runner.main(["--profile", "smoke", "--only", "02", "--output", str(out), "-p", "runs_dir", str(runs)]) == 0
    page = (out / "02_simclr.html").read_text()
    assert page.count("umap-learn is not installed: the UMAP panels on this page are PCA projections") == 1
    manifest = json.loads(tables.manifest_path("02_simclr", "smoke", runs).read_text())
    [run_id] = tables.as_list(manifest["runs"]["SimCLR"])
    assert (runs / run_id / "record.json").is_file()


def test_score_charts_are_in_percent_labelled_and_explain_their_error_bars():
    """#25 item 5: one unit per quantity (% as in the tables), a labelled y axis, and a caption that
    says what the error bars are and over how many seeds."""
    import pandas as pd

    from lib.report import captions

    table = pd.DataFrame({"knn_top1": [0.5, 0.6], "knn_top1_std": [0.01, 0.02], "seeds": [3, 3]},
                         index=pd.Index(["A", "B"], name="method"))
    fig = plots.metric_bars(table, ["knn_top1"], title="t")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "score on the test images (%)"
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50 %"
    text = captions.caption(fig)
    assert "mean over 3 seeds" in text and "± one standard deviation over those seeds" in text
    lines = plots.effect_lines({"s": ([1, 2], [0.4, 0.5], [0.01, 0.02])}, "batch size", "linear probe top-1")
    assert lines.axes[0].get_ylabel() == "linear probe top-1 (%)"
    assert "shaded band is ± one standard deviation" in captions.caption(lines)


# ---- legibility: resolution and text size (#25 item 5) ------------------------------------------

def every_helper_figure(tmp_path):
    """One figure from each plotting helper, with titles, legends and labels switched on."""
    import pandas as pd

    from lib.report import papers

    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(30, 2)), np.arange(30) % 3
    log = [{"epoch": 0, "knn_top1": 0.2}, {"epoch": 1, "loss": 5.0, "knn_top1": 0.4, "contrastive_top1": 0.1}]
    table = pd.DataFrame({"knn_top1": [0.5, 0.6], "knn_top1_std": [0.01, 0.02], "seeds": [3, 3]},
                         index=pd.Index(["A", "B"], name="method"))
    efficiency = pd.DataFrame({"method": ["fine-tune", "fine-tune", "pretrain", "pretrain"],
                               "label_fraction": [0.01, 0.1, 0.01, 0.1], "test_top1": [0.5, 0.8, 0.6, 0.85],
                               "test_top1_std": [0.01, 0.0, 0.02, 0.01]})
    ours = np.full((7, 7), np.nan)
    ours[0, 0], ours[0, 2] = 30.0, 50.0
    pipeline = views.ViewPipeline(views.SIMCLR_CIFAR, views.ViewConfig(size=8))
    return {
        "image_grid": plots.image_grid(uint8_images(7), np.arange(7) % 3, CLASSES, ncols=3, title="t"),
        "augmentation_gallery": plots.augmentation_gallery(uint8_images(2, side=10), [("flip",)],
                                                           views.ViewConfig(size=10), gen()),
        "two_views": plots.two_views(uint8_images(3, c=3, side=10), pipeline, pipeline, gen(), n=2),
        "training_curves": plots.training_curves({"A": fake_record(tmp_path, "a", epochs=log)}, title="t"),
        "metric_bars": plots.metric_bars(table, ["knn_top1"], title="t"),
        "embedding_scatter": plots.embedding_scatter(points, labels, CLASSES, "t"),
        "embedding_panels": plots.embedding_panels({"e0": (points, labels), "e1": (points, labels)}, CLASSES),
        "retrieval_grid": plots.retrieval_grid(uint8_images(2), uint8_images(4).view(2, 2, 1, 12, 12),
                                               np.array([0, 1]), np.array([[0, 1], [1, 2]]), CLASSES, title="t"),
        "label_efficiency_figure": plots.label_efficiency_figure(efficiency, title="t", baselines=["fine-tune"]),
        "augmentation_heatmap": plots.augmentation_heatmap(ours, papers.FIGURE5),
        "effect_lines": plots.effect_lines({"s": ([1, 2], [0.4, 0.5], [0.01, 0.02])}, "batch size",
                                           "linear probe top-1", xticklabels=["1", "2"], title="t"),
    }


def test_every_figure_is_at_least_150_dpi_with_text_of_at_least_9_points(tmp_path):
    """#25 item 5: figures sharp on a screen (>= 150 DPI, in the figure and in the saved file) and
    legible at their own size (every text, ticks, legends, tags and heatmap values, >= 9 pt)."""
    from matplotlib.text import Text

    for name, fig in every_helper_figure(tmp_path).items():
        assert fig.dpi >= 150, name
        with Image.open(plots.save_png(fig, tmp_path / f"{name}.png")) as image:
            width_inches = fig.get_tightbbox().width + 0.2
            assert image.width / width_inches >= 149, name  # pixels per inch of the written file
        fig.draw_without_rendering()  # tick labels exist once drawn
        small = {(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                 if t.get_text().strip() and t.get_visible() and t.get_fontsize() < 9}
        assert not small, f"{name}: text under 9 pt: {sorted(small)[:5]}"


def test_a_figure_is_shown_at_its_own_size_not_its_pixel_size():
    """A 150-DPI image shown at one CSS pixel per image pixel would be 1.6x too large; the caption hook
    gives the width at 96 CSS px per inch, which the page writes as the <img>'s width."""
    from lib.report import captions

    fig = plots.effect_lines({"s": ([1, 2], [0.4, 0.5], [0.01, 0.02])}, "batch size", "top-1")
    _, metadata = captions.figure_metadata(fig)
    png = Image.open(__import__("io").BytesIO(plots.png_bytes(fig)))
    width = metadata["image/png"]["width"]
    assert width == pytest.approx(png.width * 96 / plots.DPI, abs=3)


def test_effect_by_budget_draws_each_claim_at_each_budget_with_its_interval():
    from lib.report import captions
    fig = plots.effect_by_budget({"layer 1 - h": {30: [0.01, 0.02, 0.015], 1250: [-0.01, 0.0, -0.02]},
                                  "distil - fine-tune": {300: [0.05, 0.04, 0.06]}}, title="08")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "steps" in ax.get_xlabel() and "points" in ax.get_ylabel()
    lines = [l for l in ax.get_lines() if l.get_linestyle() == "-"]
    assert [list(l.get_xdata()) for l in lines[:1]] == [[30, 1250]]
    assert [round(y, 2) for y in lines[0].get_ydata()] == [1.5, -1.0]
    assert "95 % t-interval" in captions.caption(fig) and "3 seeds" in captions.caption(fig)
    with pytest.raises(ValueError, match="no budget"):
        plots.effect_by_budget({})


def test_percent_ticks_keep_every_label_distinct_with_the_fewest_decimals():
    """An axis spanning a few points once read 68 %, 69 %, 69 %, 70 %, 70 %: ticks that say the same number."""
    from lib.report.plots import PercentTicks
    ticks = PercentTicks()
    assert ticks.format_ticks([0.0, 0.2, 0.4, 1.0]) == ["0 %", "20 %", "40 %", "100 %"]
    assert ticks.format_ticks([0.680, 0.685, 0.690, 0.695]) == ["68.0 %", "68.5 %", "69.0 %", "69.5 %"]
    assert ticks.format_ticks([0.7100, 0.7105]) == ["71.00 %", "71.05 %"]
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.683, 0.711])
    plots.percent_axis(ax, "linear probe")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) == len(set(labels)) > 2, labels
    assert ax.get_ylabel() == "linear probe (%)"
    plt.close(fig)
