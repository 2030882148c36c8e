"""The training methods: one module per method, listed in one plain dict.

A method declares in one place everything the rest of the engine needs to know about it (the
:class:`Method` fields): its name (the config's ``task`` and the CLI command), its losses and
views, how it builds its model and loss on a batch (a :class:`lib.training.Job`, which may carry
a hook run after every optimiser step), how a finished run's model is rebuilt for evaluation,
and its own validation rules. ``config`` validates against it, ``training`` runs it, ``cli``
offers it as a command and ``lib.evaluate.evaluate_record`` rebuilds its model from it; none of
them has a table of its own.

Adding a method (solo-learn's pattern: one new file and one registry line) -- write a module that
builds a :class:`Method` and calls :func:`register` on it, and import that module once (the built-in
ones are imported by ``lib/__init__.py``; ``tests/test_methods.py`` registers a BYOL-style method
from the test file alone). This package itself imports nothing of ``lib`` but the
views' names, so that :mod:`lib.config` can read the registry without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..views import SIMCLR_CIFAR

if TYPE_CHECKING:  # annotations only
    from ..config import Config

SIMCLR_VIEWS = ",".join(SIMCLR_CIFAR)  # SimCLR's CIFAR-10 views: crop, flip, colour, grayscale; no blur at 32 px
SUPERVISED_VIEWS = "crop,flip"  # the papers' supervised augmentation: random resized crop and flip


def _no_rules(config: "Config") -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class Method:
    """Everything about one training method that the engine reads.

    ``build(config, data, device, amp, generator) -> (job, final)`` is the method's training: a
    :class:`lib.training.Job` (the model, the loss on a batch of indices, the per-epoch monitor and
    an optional ``after_step`` hook) and ``final() -> (results, embeddings)``, the evaluation at the
    end. ``rebuild(config, data, weights, layer) -> (model, features)`` rebuilds a finished run's
    model from its final weights and returns the function giving its features at ``layer``
    (``python -m lib evaluate``)."""

    name: str                                              # Config.task, and the run id's prefix
    summary: str                                           # one line for ``python -m lib --help``
    losses: tuple[str, ...]                                # the allowed losses; the first is the default
    build: Callable[..., tuple[Any, Callable[[], tuple[dict, dict]]]]
    rebuild: Callable[..., tuple[Any, Callable]]
    command: str = ""                                      # the CLI command; empty = ``name``
    default_views: Callable[[str], str] = lambda loss: SUPERVISED_VIEWS  # loss -> views when ``views`` is empty
    views_per_image: Callable[[str], int] = lambda loss: 1  # loss -> views of one image in a step
    min_batch: Callable[[str], int] = lambda loss: 1       # loss -> smallest batch the loss is defined on
    check: Callable[["Config"], Iterable[str]] = _no_rules  # the method's own rules: one message per problem
    parent: str = ""  # the config field naming the run whose weights this method starts from, if any

    @property
    def cli_command(self) -> str:
        return self.command or self.name

    @property
    def default_loss(self) -> str:
        return self.losses[0]


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (under its name) and return it. Registering a name again
    replaces the method (a module reloaded); a CLI command that another method already uses is refused."""
    if not method.name or not method.losses:
        raise ValueError(f"a method needs a name and at least one loss; got {method.name!r}, {method.losses!r}")
    taken = {m.cli_command: m.name for m in METHODS.values() if m.name != method.name}
    if method.cli_command in taken:
        raise ValueError(f"method {method.name!r}: CLI command {method.cli_command!r} is already "
                         f"{taken[method.cli_command]!r}'s")
    METHODS[method.name] = method
    return method


def names() -> tuple[str, ...]:
    """The registered methods, in the order they were registered."""
    return tuple(METHODS)


def parent_run(config: "Config") -> str:
    """The id of the run whose weights ``config``'s method starts from (``Method.parent``), or ""."""
    method = METHODS.get(config.task)
    return getattr(config, method.parent) if method is not None and method.parent else ""


def get(name: str) -> Method:
    """The method called ``name``; a ValueError naming the registered ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method (task) {name!r}; registered: {', '.join(METHODS)}") from None
