"""Notebook parameters: read a notebook's ``parameters`` cell, apply a profile and overrides.

papermill injects values after the cell tagged ``parameters`` and only *warns* about names the
notebook does not declare, so a typo (``-p epocs 3``) silently runs the defaults. The report
runner therefore reads the declared parameters itself and validates every value before anything
executes. A parameters cell holds plain literals only, one per line, each with a comment::

    epochs = 15  # passes over the training images

Values are ``int``, ``float``, ``str`` or ``bool`` (read with :func:`ast.literal_eval`); the
declared value's type is the parameter's type. Command-line values arrive as strings and are
coerced to that type; an ``int`` is accepted where a ``float`` is declared.

A value must also pass the rules of the :class:`lib.config.Config` field it becomes
(:func:`config_field`): ``epochs -3``, ``width nan`` or ``dataset nosuch`` is refused here, before
a kernel starts, with the message the config would give.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..config import FIELD_NAMES, FIELD_TYPES, field_errors, parse_bool, split_list
from .profiles import PROFILES, profile_values

PARAMETERS_TAG = "parameters"
PARAMETER_TYPES = (bool, int, float, str)  # bool first: bool is a subclass of int

_NUMERIC_FIELDS = {name for name, kind in FIELD_TYPES.items() if kind in (int, float)}


class ParameterError(ValueError):
    """A parameters cell, profile or override that cannot be used; nothing was executed."""


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: its default, type and comment, and its line in the cell (1-based)."""

    name: str
    value: Any
    type: type
    comment: str
    line: int


class Node(dict):
    """A dict with attribute access, like nbformat's NotebookNode (which is one too)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def read_notebook(path: str | Path) -> Node:
    """A version-4 notebook read as plain JSON, cell sources joined into strings: what the
    parameters and the plain runner need, without Jupyter's packages (a GPU machine may lack them)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ParameterError(f"{path}: not a readable notebook ({e})") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4 or not isinstance(raw.get("cells"), list):
        raise ParameterError(f"{path}: not a version-4 notebook (nbformat {raw.get('nbformat') if isinstance(raw, dict) else '?'})")
    cells = []
    for cell in raw["cells"]:
        source = cell.get("source", "")
        cells.append(Node(cell, source="".join(source) if isinstance(source, list) else source,
                          metadata=cell.get("metadata", {})))
    return Node(raw, cells=cells)


def read_parameters(path: str | Path) -> dict[str, Parameter]:
    """The parameters declared by the notebook at ``path``, in cell order."""
    path = Path(path)
    return parameters_of(read_notebook(path), path.stem)


def parameters_cell(nb: Mapping, notebook: str) -> Node:
    """The notebook's one cell tagged ``parameters`` (it must be a code cell)."""
    tagged = [(i, c) for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        where = ", ".join(f"cell {i}" for i, _ in tagged)
        raise ParameterError(f"{notebook}: needs exactly one cell tagged {PARAMETERS_TAG!r}, found "
                             f"{len(tagged)}{f' ({where})' if where else ''}")
    index, cell = tagged[0]
    if cell.cell_type != "code":
        raise ParameterError(f"{notebook}: the cell tagged {PARAMETERS_TAG!r} (cell {index}) is a "
                             f"{cell.cell_type} cell; it must be a code cell")
    return cell


def parameters_of(nb: Mapping, notebook: str) -> dict[str, Parameter]:
    """Parse the parameters cell of an in-memory notebook; ``notebook`` names it in errors."""
    params: dict[str, Parameter] = {}
    for number, line in enumerate(parameters_cell(nb, notebook).source.splitlines(), start=1):
        if not line.strip():
            continue
        param = _parse_line(line, number, notebook)
        if param.name in params:
            raise ParameterError(f"{notebook}: parameters cell line {number}: {param.name!r} is already "
                                 f"declared on line {params[param.name].line}")
        params[param.name] = param
    return params


def _parse_line(line: str, number: int, notebook: str) -> Parameter:
    def fail(why: str) -> ParameterError:
        return ParameterError(f"{notebook}: parameters cell line {number}: {why}: {line.strip()!r} "
                              f"(expected `name = literal  # comment` or `name: type = literal  # comment`)")

    try:
        tree = ast.parse(line.strip())
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip()).readline))
    except (SyntaxError, tokenize.TokenError, IndentationError):
        raise fail("not valid Python on one line") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Assign, ast.AnnAssign)):
        raise fail("not an assignment")
    assign = tree.body[0]
    if isinstance(assign, ast.AnnAssign):  # papermill's annotated form: name: type = literal
        if not isinstance(assign.target, ast.Name) or assign.value is None:
            raise fail("assign a value to exactly one plain name")
        target, annotation = assign.target, assign.annotation
    elif len(assign.targets) != 1 or not isinstance(assign.targets[0], ast.Name):
        raise fail("assign to exactly one plain name")
    else:
        target, annotation = assign.targets[0], None
    try:
        value = ast.literal_eval(assign.value)
    except (ValueError, SyntaxError, TypeError):
        raise fail("the value is not a literal") from None
    kind = next((t for t in PARAMETER_TYPES if type(value) is t), None)
    if kind is None:
        raise fail(f"the value has type {type(value).__name__}; allowed: int, float, str, bool")
    if annotation is not None:
        declared = {t.__name__: t for t in PARAMETER_TYPES}.get(getattr(annotation, "id", None))
        if declared is None:
            raise fail("the annotation must be one of int, float, str, bool")
        if declared is float and kind is int:
            value, kind = float(value), float
        elif declared is not kind:
            raise fail(f"the value has type {kind.__name__} but is annotated {declared.__name__}")
    comments = [t.string for t in tokens if t.type == tokenize.COMMENT]
    if not comments or not comments[0].lstrip("#").strip():
        raise fail("a comment saying what the parameter is for is missing")
    return Parameter(target.id, value, kind, comments[0].lstrip("#").strip(), number)


def coerce(value: Any, param: Parameter, notebook: str) -> Any:
    """``value`` as the declared type of ``param``; strings (from the command line) are parsed.

    Raises :class:`ParameterError` naming the parameter, the notebook, the type and the value.
    """
    def fail() -> ParameterError:
        extra = " (true/false, yes/no, on/off, 1/0)" if param.type is bool else ""
        return ParameterError(f"parameter {param.name!r} of {notebook} expects {param.type.__name__}{extra}, "
                              f"got {value!r}")

    if param.type is str:
        if not isinstance(value, str):
            raise fail()
        return value
    if isinstance(value, str):
        text = value.strip()
        if param.type is bool:
            try:
                return parse_bool(text)
            except ValueError:
                raise fail() from None
        try:
            return param.type(text)
        except ValueError:
            raise fail() from None
    if param.type is bool:
        if not isinstance(value, bool):
            raise fail()
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail()
    if param.type is int:
        if not isinstance(value, int):
            raise fail()
        return value
    return float(value)


def config_field(name: str, kind: type) -> tuple[str, bool] | None:
    """The :class:`~lib.config.Config` field whose rules a notebook parameter follows, by the naming
    convention of the notebooks, and whether the parameter holds a comma-separated list of its values:

    - the field's own name (``epochs``, ``width``, ``dataset``);
    - the field's name after a prefix and an underscore (``finetune_epochs``, ``distill_lr``,
      ``grid_train_size``, ``supcon_temperature``);
    - for a ``str`` parameter, either of these in the plural: a list (``temperatures``,
      ``label_fractions``, ``bt_epochs``, ``lr_batch_sizes``).

    None when the parameter names no field (``seeds``, ``umap_points``, ``recipe``)."""
    def field_of(text: str) -> str | None:
        if text in FIELD_NAMES:
            return text
        return next((f for f in sorted(FIELD_NAMES, key=len, reverse=True) if text.endswith("_" + f)), None)

    found = field_of(name)
    if found is None and kind is str and name.endswith("s"):
        found = field_of(name[:-1])
        if found not in _NUMERIC_FIELDS:
            return None
    if found is None:
        return None
    if kind is str and found in _NUMERIC_FIELDS:
        return found, True  # bt_epochs = "3,10"
    if (kind is str) != (FIELD_TYPES[found] is str) or (kind is bool) != (FIELD_TYPES[found] is bool):
        return None  # not the field's kind of value: another meaning of the name
    return found, False


# Rules of parameters that name no Config field: name -> (test, what a value must be).
OWN_RULES = {"scratch_multiple": (lambda v: v >= 2, "must be >= 2 (the longer from-scratch baseline trains that "
                                                    "many times the fine-tuning's steps)")}


def check_values(notebook: str, declared: Mapping[str, Parameter], values: Mapping[str, Any]) -> None:
    """A :class:`ParameterError` for the first value that breaks the rules of its Config field
    (:func:`config_field`; :func:`lib.config.field_errors`) or its own (:data:`OWN_RULES`), naming the
    parameter and the notebook."""
    for name, value in values.items():
        if name in OWN_RULES and not OWN_RULES[name][0](value):
            raise ParameterError(f"parameter {name!r} of {notebook}: {OWN_RULES[name][1]}; got {value!r}")
        match = config_field(name, declared[name].type)
        if match is None:
            continue
        field_name, listed = match
        items = list(split_list(value)) if listed else [value]
        for item in items:
            if listed:
                try:
                    item = FIELD_TYPES[field_name](item)
                except ValueError:
                    raise ParameterError(f"parameter {name!r} of {notebook}: {item!r} in {value!r} is not "
                                         f"{FIELD_TYPES[field_name].__name__} (a comma-separated list of "
                                         f"{field_name} values)") from None
            errors = field_errors(field_name, item)
            if errors:
                raise ParameterError(f"parameter {name!r} of {notebook}: {'; '.join(errors)}"
                                     + (f" (in {value!r})" if listed else ""))


def unknown_override_message(name: str, declared: Mapping[str, Mapping[str, Parameter]]) -> str:
    """Why ``-p name ...`` matches no selected notebook: its parameters and close names."""
    every = sorted({p for params in declared.values() for p in params})
    close = difflib.get_close_matches(name, every, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = "\n".join(f"  {stem}: {', '.join(params) or '(none)'}" for stem, params in declared.items())
    return (f"unknown parameter {name!r}: no selected notebook declares it{hint}\n"
            f"parameters of the selected notebooks:\n{listing}")


def resolve_parameters(notebook: str, declared: Mapping[str, Parameter], profile: str,
                       overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values one notebook is run with: the profile's, then ``overrides`` it declares.

    Every value is checked against (and coerced to) the declared type, and against the rules of the
    Config field it becomes (:func:`check_values`), so a profile or override that does not fit fails
    here, before any execution. Overrides the notebook does not declare
    are skipped; :func:`check_overrides_known` makes sure each one is declared somewhere.
    """
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    defaults = {name: p.value for name, p in declared.items()}
    values = {name: coerce(v, declared[name], f"{notebook} (profile {profile})")
              for name, v in profile_values(profile, notebook, defaults).items()}
    for name, v in (overrides or {}).items():
        if name in declared:
            values[name] = coerce(v, declared[name], notebook)
    check_values(notebook, declared, values)
    return values


def check_overrides_known(overrides: Mapping[str, Any], declared: Mapping[str, Mapping[str, Parameter]]) -> None:
    """Fail on an override that none of the ``declared`` notebooks (stem -> parameters) declares."""
    for name in overrides:
        if not any(name in params for params in declared.values()):
            raise ParameterError(unknown_override_message(name, declared))
