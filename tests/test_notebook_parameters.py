"""The parameters cells as papermill reads them: one ``name = value  # help`` per line."""
import nbformat
import pytest
from papermill.translators import PythonTranslator

from lib.config import repo_path

NOTEBOOKS = sorted(repo_path("notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_parses_every_parameter(path, caplog):
    """papermill skips a line holding a second '=' (e.g. '>=' in its comment) with "Unable to parse
    line" and then warns "Passed unknown parameter" for every override of it (seen on 03's
    scratch_multiple)."""
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    names = [line.split("=", 1)[0].strip() for line in cell.source.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    with caplog.at_level("WARNING", logger="papermill"):
        parsed = [p.name for p in PythonTranslator.inspect(cell)]
    assert not [r.message for r in caplog.records if "Unable to parse" in r.message]
    assert parsed == names
