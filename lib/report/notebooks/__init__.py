"""The notebooks: one module per notebook, listed in one plain dict (:data:`NOTEBOOKS`).

A notebook's module declares in one place everything the report machinery needs to know about it
(the :class:`Notebook` fields): the builder of its runs, which its setup cell calls once
(``setup(globals())``) and :mod:`lib.report.plans` calls for ``--plan``, so that the runs the plan
counts are the runs the notebook trains by construction, not by a test keeping two copies in step;
its parameter values per profile (:mod:`lib.report.profiles` adds them to the profile's common
values); the numbers its index line shows (:mod:`lib.report.index`); the claims and papers'
figures a related-work notebook tests (the related-work table of 09 and of the README); the figure
the README shows; and its Answer function in :mod:`lib.report.conclusions`.

Adding a notebook -- write ``notebooks/NN_name.ipynb`` and one module here that builds a
:class:`Notebook` and calls :func:`register` on it. Every module of this package is imported when
the package is, so nothing else is edited; a module elsewhere (a test's) registers by being imported.
The modules import only the builders (:mod:`~lib.report.iterations`, :mod:`~lib.report.grids`) and
:mod:`~lib.report.conclusions`, never :mod:`~lib.report.profiles`, :mod:`~lib.report.index` or
:mod:`~lib.report.plots`, which read this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from ... import recipes
from ...config import Config

Group = Mapping[Any, Sequence[Config]]

# The keys every training notebook's base config takes from its parameters (the data, encoder, batch,
# monitor and where runs go); a notebook adds its own (train_size, epochs, ...) by name.
BASE_KEYS = ("dataset", "test_size", "arch", "width", "batch_size", "monitor_size", "knn_k", "device", "wandb",
             "runs_dir", "crop_sampler")
# Keys a notebook's base config takes from its parameters where the notebook declares them, else Config's
# default (the legacy value, which moves no committed run id): how seeds draw the data (#24 item 3) and the
# validation images carved from the training ones, on which a notebook makes its choices.
OPTIONAL_BASE_KEYS = ("data_draw", "val_size")

# The recipe the cifar-cpu profile trains every SimCLR run with, and the recipe values that notebooks
# 02 and 03 show as parameters (lr, lr_scaling, temperature), which a profile's recipe replaces there.
CPU_RECIPE = "lightly_cifar10"
SHOWN_RECIPE_KEYS = ("lr", "lr_scaling", "temperature")


def shown_recipe_values(recipe: str) -> dict[str, Any]:
    """``recipe``'s values of the parameters that notebooks 02 and 03 show (:data:`SHOWN_RECIPE_KEYS`)."""
    return {k: v for k, v in recipes.training_values(recipe).items() if k in SHOWN_RECIPE_KEYS}


def base_config(values: Mapping[str, Any], *extra: str) -> Config:
    """A notebook's base config from its parameter ``values``: :data:`BASE_KEYS` and the ``extra`` keys.

    ``values`` is the notebook's namespace (``globals()`` in its setup cell) or the plan's merged values."""
    optional = {k: values[k] for k in OPTIONAL_BASE_KEYS if k in values}
    return Config(**{k: values[k] for k in (*BASE_KEYS, *extra)}, **optional)


def _trains_nothing(values: Mapping[str, Any]) -> dict[str, Group]:
    return {}


@dataclass(frozen=True)
class Notebook:
    """Everything about one notebook that the report machinery reads.

    ``setup(values)`` builds the notebook's runs (and whatever its setup cell needs besides) from its
    parameter values; ``groups(values)`` names the groups of runs the plan counts, built by calling
    ``setup``. ``index_numbers``: (result key of the records, what it is, label fraction) per number of
    the index line, the fraction None or "min" (the smallest among the records). ``related``: (claims
    tested, papers' figures) of a related-work notebook. ``readme_figure``: (name given to
    ``plots.export_figure``, caption) of the figure the README shows."""

    stem: str                                                      # the .ipynb's file name without suffix
    setup: Callable[[Mapping[str, Any]], Any] | None = None        # its setup cell's one call
    groups: Callable[[Mapping[str, Any]], dict[str, Group]] = _trains_nothing
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # profile -> its own values
    index_numbers: tuple[tuple[str, str, str | None], ...] = ()
    related: tuple[str, str] | None = None
    claims: Callable[..., Any] | None = None                       # its claims' rows, in lib.report.claims
    papers: tuple[str, ...] = ()                                   # its papers' numbers: keys of papers.REFERENCES
    readme_figure: tuple[str, str] | None = None
    answer: Callable[..., str] | None = None                       # its Answer, in lib.report.conclusions
    summary: bool = False  # trains nothing and summarises the claims of all the others (09)
    # what must be computed from a run's weights while they exist (the weights are not committed): called by
    # scripts/train_profile.py after each run it trains, with the notebook's values and the run's record
    after_training: Callable[[Mapping[str, Any], Any], None] | None = None


NOTEBOOKS: dict[str, Notebook] = {}


def register(notebook: Notebook) -> Notebook:
    """Add ``notebook`` to :data:`NOTEBOOKS` (again under the same stem: replaced, so a module can be reloaded)."""
    if not notebook.stem or "/" in notebook.stem:
        raise ValueError(f"a notebook's stem is its .ipynb file name without the suffix; got {notebook.stem!r}")
    NOTEBOOKS[notebook.stem] = notebook
    return notebook


def notebook(stem: str) -> Notebook | None:
    """The registered notebook ``stem``; None for a notebook without a module (it trains nothing)."""
    return NOTEBOOKS.get(stem)


def related() -> dict[str, tuple[str, str]]:
    """The related-work notebooks, in stem order: stem -> (claims tested, papers' figures)."""
    return {stem: nb.related for stem, nb in sorted(NOTEBOOKS.items()) if nb.related}


def summary_stems() -> tuple[str, ...]:
    """The notebooks that summarise all the others (09)."""
    return tuple(stem for stem, nb in sorted(NOTEBOOKS.items()) if nb.summary)


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
