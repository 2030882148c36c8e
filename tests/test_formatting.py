"""The one table formatter (#25 items 2 and 5): human headers, % with one decimal, no index-name
row, no truncation; 09's headline numbers through it."""

from __future__ import annotations

import math

import pandas as pd

from lib.report import formatting as F, tables


def test_readable_names_of_scores_layers_and_columns():
    assert F.readable("h/knn_top1") == "kNN top-1 on h"
    assert F.readable("SimCLR z/map@r") == "SimCLR: MAP@R on z"
    assert F.readable("linear_probe_top1") == "linear probe top-1"
    assert F.readable("label_fraction") == "labels" and F.readable("wall_time_s") == "wall time (s)"
    assert F.readable("best pair, linear probe") == "best pair, linear probe"  # prose stays prose


def test_cells_show_fractions_as_percent_with_one_decimal():
    assert F.cell(0.48916666706403095) == "48.9 %" and F.cell(1.0) == "100.0 %"
    assert F.cell(12345) == "12,345" and F.cell("crop->color") == "crop->color"
    assert F.percent(math.nan) == "–" and F.percent(0.0005) == "0.1 %"


def test_table_has_human_headers_no_index_name_row_and_every_row():
    frame = pd.DataFrame({"knn_top1": [0.5 + i / 1000 for i in range(80)], "seeds": 3},
                         index=pd.Index([f"m{i}" for i in range(80)], name="method"))
    page = F.table_html(frame, percent_columns=["knn_top1"])
    assert "<th>kNN top-1</th>" in page and "knn_top1" not in page
    # pandas puts the index's name in a row of its own; here it labels the top-left cell instead
    assert page.count("method") == 1 and "<th>method</th>" in page.split("</thead>")[0]
    assert page.count("<tr") == 81 and "57.9 %" in page and "0.579" not in page  # 80 rows + header: no "..."
    markdown = F.table_markdown(frame.head(2), percent_columns=["knn_top1"])
    assert markdown.splitlines()[:3] == ["| method | kNN top-1 | seeds |", "| --- | ---: | ---: |", "| m0 | 50.0 % | 3 |"]


def test_the_names_of_rows_and_columns_share_the_top_left_cell():
    """A two-way table (batch size by epochs) keeps what its rows and columns are, in one header cell,
    also with two levels of columns; the Markdown table escapes "|" and shows a missing value as "–"."""
    grid = pd.DataFrame([["1.0", "2.0"], ["3.0", math.nan]], index=pd.Index([128, 512], name="batch size"),
                        columns=pd.Index([10, 40], name="epochs"))
    page = F.table_html(grid)
    assert page.count("<tr") == 3 and "<th>batch size \\ epochs</th>" in page and "<td>–</td>" in page
    two = F.table_html(pd.concat({"1% labels": grid, "10% labels": grid}, axis=1))
    assert two.count("<tr") == 4 and "batch size \\ epochs" in two and ">1% labels</th>" in two
    markdown = F.table_markdown(grid.assign(note=["a|b", "c"]))
    assert markdown.splitlines()[0] == "| batch size \\ epochs | 10 | 40 | note |"
    assert markdown.splitlines()[2:] == ["| 128 | 1.0 | 2.0 | a\\|b |", "| 512 | 3.0 | – | c |"]


def test_headline_numbers_of_the_committed_cifar_cpu_manifests():
    """09's "Headline numbers": readable names, % with one decimal, verdicts left to the claims table."""
    table = tables.headline_numbers(tables.read_manifests("cifar-cpu"))
    row = table[(table["notebook"] == "02_simclr") & (table["quantity"] == "SimCLR: kNN top-1 on h")]
    assert list(row["value"]) == ["40.6 %"]
    assert not table["quantity"].str.startswith("verdict: ").any()
    assert not table["value"].str.contains(r"\d\.\d{2,}").any()  # no fraction to six decimals


def test_folded_table_is_closed_under_its_summary():
    html = F.folded("Provenance: 2 runs", pd.DataFrame({"run_id": ["a", "b"]})).data
    assert html.startswith("<details><summary>Provenance: 2 runs</summary>") and "<th>run</th>" in html
    assert "<details open" not in html


def test_pages_00_to_08_show_their_mean_std_tables_through_the_one_formatter():
    """#25 item 5: every page's mean ± std table goes through show_table (human headers, no stray
    index-name row), as 09 does; a cell ending in a bare ``tables.format_mean_std(...)`` would show
    pandas' raw DataFrame (snake_case headers, an index-name row)."""
    import json
    from pathlib import Path

    bare = []
    for path in sorted(Path("notebooks").glob("0[0-8]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            lines = "".join(cell["source"]).rstrip().splitlines()
            if cell["cell_type"] == "code" and lines and lines[-1].startswith("tables.format_mean_std("):
                bare.append(f"{path.name}: {lines[-1]}")
    assert not bare, bare


# the table producers whose frame a cell must not show as it is (pandas' raw table), and a bare name
# (a frame built above) as a cell's last line; claims_table is the claims' own (its columns are #24's)
_RAW_FRAME = ("tables.grid_table(", "tables.side_by_side(", "tables.transformation_table(", "papers.reference_table(",
              "pd.concat(", "pd.DataFrame(", "tables.format_mean_std(", "tables.aggregate(")


def test_no_notebook_shows_a_raw_dataframe():
    """#25 item 5: every table of every page goes through the one formatter. A cell whose last expression
    is a DataFrame (a bare name, a table producer, ``.to_frame()``), or that ``display``s one without
    :func:`show_table`, would show pandas' own table: snake_case headers, an index-name row, raw floats."""
    import ast
    import json
    from pathlib import Path

    raw = []
    for path in sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or not source.strip():
                continue
            body = ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith("%"))).body
            last = ast.unparse(body[-1]) if body and isinstance(body[-1], ast.Expr) else ""
            shown = [last] + [ast.unparse(n.args[0]) for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                              if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "display" and n.args]
            for text in filter(None, shown):
                if (text.isidentifier() or text.endswith(".to_frame()") or text.startswith(_RAW_FRAME)
                        or text.startswith("(") and text.lstrip("(").startswith(_RAW_FRAME)):
                    raw.append(f"{path.name}: {text[:80]}")
    assert not raw, raw
