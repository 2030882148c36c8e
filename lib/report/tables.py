"""The notebooks' one import for their tables: manifests, statistics and verdicts, DataFrames.

Three modules hold the code, each by what it holds: :mod:`lib.report.manifests` (which runs stand
behind a notebook's numbers, and the record readers), :mod:`lib.report.statistics` (mean ± std over
seeds, per-seed effects, the verdicts' test) and :mod:`lib.report.frames` (the DataFrames). The
notebooks call ``tables.<name>``; this module names what they may call, and defines nothing.
"""

from __future__ import annotations

from .frames import (BATTERY_METRICS, CLAIM_COLUMNS, TABLE3_ROWS, aggregate, best_row,  # noqa: F401
                     claims_table, describe_setting, format_mean_std, grid_table, headline_table,
                     label_efficiency_table, provenance_table, related_work_table, results_table, setting_table,
                     side_by_side, split_layers, transformation_table)
from .formatting import (folded, formatted, headline_numbers, percent, readable, show_table,  # noqa: F401
                         table_html, table_markdown)
from .manifests import (GRID_LABEL, MANIFEST_DIR, as_list, check_name, manifest_path, manifest_records,  # noqa: F401
                        read_manifests, reported, snapshot_keys, stored_embeddings, stored_test_images,
                        write_manifest)


from .statistics import (ALPHA, FAMILY_VERDICT_RULE, claim_row, last_epoch_values,  # noqa: F401
                         line_series, mean_std, one_sided_p, paper_delta, per_seed_best, result_value,
                         result_values, seed_deltas, Verdict, verdict_tally)


def show_claims(rows):
    """A page's claims table through the one formatter (no index, the ratio to two decimals): the table of
    :func:`claims_table`, shown."""
    frame = claims_table(rows)
    frame["ours / paper"] = [f"{v:.2f}" if isinstance(v, float) and v == v else "–" for v in frame["ours / paper"]]
    return show_table(frame, index=False)

