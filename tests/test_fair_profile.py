"""#24's "Done when" for the CPU thesis profile, checked on its planned runs (the configs the notebooks build,
which ``scripts/train_profile.py`` trains): five seeds per arm, each seed its own data draw, the whole
10,000-image CIFAR-10 test set."""

import functools

import pytest

from lib.config import repo_path
from lib.report import plans, runner

FAIR = "cifar-cpu"
NOTEBOOKS = ("01_supervised", "02_simclr", "03_simclr_v2", "05_simclr_augmentations", "06_projection_head",
             "07_batch_temperature", "08_simclr_v2_claims")


@functools.lru_cache(maxsize=None)
def groups(stem: str):
    [(_, declared, values)] = runner.plan(repo_path("notebooks"), FAIR, [stem[:2]])
    return plans.notebook_groups(stem, {**{n: p.value for n, p in declared.items()}, **values})


def cifar10_here() -> bool:
    return repo_path("data/cifar10-jpeg/test").is_dir()


@pytest.mark.skipif(not cifar10_here(), reason="needs data/cifar10-jpeg (make data)")
@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_every_arm_has_five_seeds_each_with_its_own_draw_on_the_whole_test_set(stem):
    for group, settings in groups(stem).items():
        for key, configs in settings.items():
            seeds = [c.seed for c in configs]
            assert len(seeds) >= 5 and len(set(seeds)) == len(seeds), (stem, group, key, seeds)
            for c in configs:
                assert c.data_draw == "per_seed", (stem, group, key, c.run_id())
                assert c.test_size == 0 and plans.n_test_images(c) == 10_000, (stem, group, key, c.run_id())
