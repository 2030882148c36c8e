"""Each vocabulary has one home: a second copy is what drifts (a profile added in one list and not
in another, a data set's size written twice). Each test names the home and checks that the other
places read it rather than repeat it."""

from __future__ import annotations

import json
import re

from lib import data
from lib.config import repo_path
from lib.report import conclusions, grids, index, plots, profiles


def test_profile_names_and_order_live_in_profiles():
    assert profiles.ORDER == ("smoke", "quick", "cifar-cpu", "full") == tuple(p for p in profiles.PROFILES if p not in profiles.TRAINING)
    assert index.PROFILE_ORDER is profiles.LARGEST_FIRST
    assert plots.README_PROFILES is profiles.README_PROFILES
    script = (repo_path("scripts/update_readme.py")).read_text()
    assert "PROFILE_ORDER = tuple(reversed(README_PROFILES))" in script


def test_every_notebook_parameters_cell_names_every_profile():
    """The comment on ``profile`` in each parameters cell lists the profiles there are (it said
    "smoke, quick or full" after cifar-cpu was added)."""
    for path in sorted(repo_path("notebooks").glob("[0-9][0-9]_*.ipynb")):
        cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
        line = next(line for line in cell["source"] if re.match(r"profile\s*=", line))
        named = re.findall(r"[a-z][a-z-]*", line.split("#", 1)[1])
        assert set(profiles.ORDER) <= set(named), f"{path.name}: {line.strip()}"


def test_dataset_facts_live_in_data():
    assert set(data.BUILTIN) == set(data.BUILTIN_DATASETS) == set(data.SPLITS) == set(data.TRAIN_IMAGES)
    assert grids.TRAIN_IMAGES is data.TRAIN_IMAGES
    assert conclusions.data_label is data.data_label
    assert data.data_label("cifar10") == "CIFAR-10" and data.data_label("imagefolder:x/cifar10-jpeg") == \
        "CIFAR-10, JPEG q75 copy"


def test_verdicts_are_one_type_tallied_and_worded_once():
    """The index and the pages count verdicts with the same function: "1 agrees" in both (the index
    said "1 agree"), and a text that states no verdict is counted apart in both (the index counted
    it as inconclusive)."""
    from lib.report import statistics

    texts = ["agrees", "inconclusive (1 seed: no test); ours +1.0", "not run at this profile"]
    assert conclusions.verdict_tally(texts) == "1 agrees, 1 inconclusive, 1 not run at this profile"
    assert index.verdict_counts(texts) == "claims: 1 agrees, 1 inconclusive, 0 opposite, 1 not run at this profile"
    assert conclusions.verdict_tally is statistics.verdict_tally
    assert statistics.Verdict.of("opposite; ours -2.0") is statistics.Verdict.OPPOSITE


def test_one_parser_of_comma_separated_lists():
    """Every comma-separated list in lib/ and the scripts goes through lib.config.split_list."""
    from lib.config import Config, split_list

    assert split_list(" crop, flip,,color ") == ("crop", "flip", "color") and split_list("") == ()
    assert Config(views="crop, flip").views_list == ("crop", "flip")
    assert Config(snapshot_epochs="0, 5,", epochs=5).snapshot_epoch_list == (0, 5)
    root = repo_path(".")
    others = [str(p.relative_to(root)) for folder in ("lib", "scripts", "benchmarks") for p in (root / folder).rglob("*.py")
              if 'split(",")' in p.read_text() and p.name != "config.py"]
    assert others == []


def test_the_checkout_root_is_computed_once():
    """lib.paths.CHECKOUT; config.repo_path and the report's kernels and plain engine read it."""
    import inspect

    from lib import config, paths
    from lib.report import kernels, plain

    from lib.report import pages

    assert kernels.CHECKOUT is paths.CHECKOUT is pages.CHECKOUT and config.repo_path is paths.repo_path
    assert "CHECKOUT" in inspect.getsource(plain.execute_plain) and "parent.parent" not in inspect.getsource(plain)


def test_metric_names_are_declared_once():
    """lib.evaluation.METRIC_NAMES: the conclusions, the figures, the README script and the progress bar
    read it (the bar said "top-1" where the pages say "test accuracy")."""
    from lib import evaluation, progress

    assert conclusions.SCORES is evaluation.SHORT_NAMES and plots.SCORE_NAMES is evaluation.AXIS_NAMES
    assert "NAMES = SHORT_NAMES" in repo_path("scripts/update_readme.py").read_text()
    assert progress._postfix({"epoch": 2, "test_top1": 0.5, "knn_top1": 0.25}, None) == \
        "epoch 2  kNN 25.0 %  test accuracy 50.0 %"


def test_view_defaults_are_the_view_configs():
    """Config's augmentation knobs take their defaults from views.ViewConfig (they were written twice)."""
    import inspect

    from lib import config, views

    defaults = views.ViewConfig()
    c = config.Config()
    assert (c.crop_scale_min, c.color_strength, c.blur_p, c.gray_p) == \
        (defaults.crop_scale[0], defaults.color_strength, defaults.blur_p, defaults.gray_p)
    source = inspect.getsource(config.Config)
    for name in ("crop_scale_min", "color_strength", "blur_p", "gray_p"):
        assert f"{name}: float = field(default=VIEW_DEFAULTS." in source, name
