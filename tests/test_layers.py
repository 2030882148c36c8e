"""The two packages: the engine (lib) needs torch, numpy and the standard library only and never
imports the report (lib.report); the report builds on the engine."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT_LIBRARIES = ("matplotlib", "pandas", "seaborn", "umap", "papermill", "nbconvert", "nbformat", "IPython")
ENGINE = sorted((ROOT / "lib").glob("*.py")) + sorted((ROOT / "lib" / "methods").glob("*.py"))  # the methods too


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (relative imports resolved to lib.*)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x / from .report import y
                base = "lib" + (f".{base}" if base else "")
                found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return found


def test_engine_modules_import_no_report_library_and_not_the_report():
    assert len(ENGINE) >= 15, [p.name for p in ENGINE]
    for path in ENGINE:
        for module in _imports(path):
            top = module.split(".")[0]
            assert top not in REPORT_LIBRARIES, f"lib/{path.name} imports {module}: the engine must not"
            assert not module.startswith("lib.report"), f"lib/{path.name} imports {module}: the engine must not"


def test_importing_the_whole_engine_loads_no_report_library():
    modules = ", ".join(_module(p) for p in ENGINE if p.stem not in ("__main__",))
    code = (f"import sys, importlib\nfor m in '{modules}'.split(', '): importlib.import_module(m)\n"
            f"bad = [m for m in {REPORT_LIBRARIES!r} if m in sys.modules]\nprint(bad)\nraise SystemExit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_report_is_its_own_package():
    report = sorted(p.stem for p in (ROOT / "lib" / "report").glob("*.py"))
    assert {"runner", "plain", "params", "profiles", "grids", "tables", "plots", "papers", "diagram"} <= set(report)
