"""No import circle in lib/: the modules form layers (paths at the bottom, the report on top).

Every import of a ``lib`` module is an edge, the ones inside functions included (a lazy import only
hides a circle until the day something imports in another order); imports under ``TYPE_CHECKING``
are left out (they never run). A circle means two modules that cannot be understood, tested or
moved apart; the two this repository had were config <-> data (the checkout root) and
report/tables <-> report/conclusions (``data_label``)."""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in LIB.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, type_checking: bool = False) -> set[str]:
    """The ``lib`` modules ``name`` imports, anywhere in its file but under TYPE_CHECKING (with
    ``type_checking``: only those under it). A target that is no module is returned as it is named."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if (getattr(node, "lineno", None) in skip) != type_checking:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "lib")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "lib":
                continue
            for alias in node.names:  # `from . import data` imports the module lib.data
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if (type_checking or m in MODULES) and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_finds_the_edges_it_must():
    assert "lib.paths" in imports_of("lib.config") and "lib.methods" in imports_of("lib.config")
    assert "lib.training" in imports_of("lib.methods.simclr")
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_lib_has_no_import_circle():
    graph = {name: imports_of(name) for name in MODULES}
    assert cycles(graph) == []


def test_paths_and_the_method_registry_sit_at_the_bottom():
    assert imports_of("lib.paths") == set()
    assert imports_of("lib.methods") <= {"lib.views"}  # the registry: config reads it, so it imports no config


def test_every_type_checking_import_names_a_module_that_exists():
    """Imports under TYPE_CHECKING never run, so a wrong one (``from .records import`` in lib/report,
    where there is no records module) fails only a type checker; this fails it here."""
    wrong = {name: sorted(m for m in imports_of(name, type_checking=True) if m not in MODULES)
             for name in MODULES}
    assert {k: v for k, v in wrong.items() if v} == {}
