"""The report's indexes (lib.report.index): headline numbers from manifests and records, one section
per profile, links into each profile's folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib.config import Config
from lib.records import RecordWriter
from lib.report import index, tables


def fake_record(runs, results, **config):
    """A complete record written the way training writes it (no training)."""
    writer = RecordWriter(Config(runs_dir=str(runs), **config))
    writer.start("cpu")
    return writer.finish(results, wall_time_s=1.0)


def test_verdicts_are_counted():
    assert index.verdict_counts(["agrees", "inconclusive (1 seed: no test); ours +1.0", "opposite", "agrees",
                                 "inconclusive"]) == "claims: 2 agree, 2 inconclusive, 1 opposite"
    assert index.verdict_counts(["no result"]) == "claims: 0 agree, 0 inconclusive, 0 opposite, 1 no result"
    assert index.verdict_counts([]) is None


def test_plain_headline_numbers_are_grouped():
    headline = {"pixels: identity": 1.0, "pixels: crop": 0.41, "verdict: x": "agrees", "best": "crop"}
    assert index.headline_group(headline) == "pixels: identity 100.0 % · crop 41.0 %"
    assert index.headline_group({"steps": 1234.5}) == "steps 1234"
    assert index.headline_group({"best": "crop"}) is None


def test_headlines_are_recomputed_from_the_records_mean_and_std_over_seeds(tmp_path):
    knn, probe = [0.50, 0.55, 0.62], [0.6, 0.6, 0.7]
    seeds = [fake_record(tmp_path, {"h/knn_top1": k, "h/linear_probe_top1": p}, seed=s, task="pretrain")
             for s, (k, p) in enumerate(zip(knn, probe))]
    tables.write_manifest("02_simclr", "smoke", {"SimCLR": [r.run_id for r in seeds]},
                          headline={"SimCLR h/knn_top1": 0.0}, runs_dir=tmp_path)  # the headline is not reused
    lines = index.headlines("02_simclr", "smoke", tmp_path)
    assert lines == [f"SimCLR h kNN {100 * np.mean(knn):.1f} ± {100 * np.std(knn, ddof=1):.1f} %",
                     f"SimCLR h linear probe {100 * np.mean(probe):.1f} ± {100 * np.std(probe, ddof=1):.1f} %"]
    assert index.headlines("02_simclr", "full", tmp_path) == ["no manifest at profile full"]


def test_several_labels_best_first_and_the_smallest_label_fraction(tmp_path):
    runs = {}
    table = {"a": (0.30, 0.60), "b": (0.50, 0.55), "c": (0.40, 0.70), "d": (0.10, 0.9),
             f"{tables.GRID_LABEL}fine-tuning (0, 0.1)": (0.8, 0.8)}  # a tuning grid's point: not a method
    for seed, (label, (at1, at10)) in enumerate(table.items()):  # distinct configs: distinct records
        runs[label] = [fake_record(tmp_path, {"test_top1": at1}, label_fraction=0.01, seed=seed).run_id,
                       fake_record(tmp_path, {"test_top1": at10}, label_fraction=0.1, seed=seed).run_id]
    tables.write_manifest("03_simclr_v2", "smoke", runs, runs_dir=tmp_path)
    assert index.headlines("03_simclr_v2", "smoke", tmp_path) == [
        "top-1 with 1 % labels: b 50.0 % · c 40.0 % · a 30.0 % · …"]


def test_claims_of_a_notebook_and_of_the_summary(tmp_path):
    rec = fake_record(tmp_path, {"h/linear_probe_top1": 0.5})
    tables.write_manifest("06_projection_head", "smoke", {"head": rec.run_id}, runs_dir=tmp_path,
                          headline={"verdict: a": "agrees", "verdict: b": "opposite", "probe": 0.5})
    tables.write_manifest("07_batch_temperature", "smoke", {"x": rec.run_id}, runs_dir=tmp_path,
                          headline={"verdict: c": "inconclusive (1 seed: no test)"})
    assert index.headlines("06_projection_head", "smoke", tmp_path) == ["claims: 1 agrees, 0 inconclusive, 1 opposite"]
    assert index.headlines("09_summary", "smoke", tmp_path) == [
        "claims: 1 agrees, 1 inconclusive, 1 opposite (2 related-work notebooks)"]
    assert index.headlines("09_summary", "full", tmp_path) == ["no related-work manifest at this profile yet"]


def entry(stem, profile, status="ok", headline=("a number",), runs=None):
    return {"stem": stem, "title": f"Title {stem}", "status": status, "error": "KeyError: 'x'" if status != "ok" else None,
            "wall_time_s": 2.0, "html": f"{stem}.html", "ipynb": f"{stem}.ipynb", "parameters": {}, "profile": profile,
            "date": "2026-12-05T08:00:00+00:00", "commit": "abcdef0123", "dirty": False, "device": "CPU: test",
            "runs": runs if runs is not None else {"r1": {"action": "loaded"}, "r2": {"action": "trained"}},
            "headline": list(headline)}


def test_top_index_has_one_section_per_profile_with_links_into_its_folder(tmp_path):
    for profile, entries in {"smoke": [entry("01_a", "smoke", "failed")],
                             "quick": [entry("01_a", "quick", headline=("SimCLR h kNN 69.3 %", "claims: 1 agree")),
                                       entry("02_b", "quick")]}.items():
        (tmp_path / profile).mkdir()
        (tmp_path / profile / "index.json").write_text(json.dumps({"updated": "x", "reports": entries}))
    (tmp_path / "not-a-profile").mkdir()  # no index.json: no section
    page = index.write_top_index(tmp_path).read_text()
    assert page.index('id="profile-quick"') < page.index('id="profile-smoke"') and "not-a-profile" not in page
    assert 'href="quick/01_a.html"' in page and 'href="smoke/01_a.html"' in page
    assert "<div>SimCLR h kNN 69.3 %</div><div>claims: 1 agree</div>" in page
    assert "1 loaded, 1 trained" in page and "commit abcdef0" in page and "2026-12-05" in page
    assert page.count("FAILED") == 1 and "1 failed" in page and "all ok" in page
    (tmp_path / "empty").mkdir()
    assert "No report rendered yet" in index.write_top_index(tmp_path / "empty").read_text()


@pytest.mark.parametrize("runs, cell", [(None, "–"), ({}, "0 loaded, 0 trained"),
                                        ({"r1": "loaded", "r2": "trained", "r3": "loaded"}, "2 loaded, 1 trained")])
def test_runs_cell_of_old_and_new_entries(runs, cell):
    e = entry("01_a", "quick")
    e["runs"] = runs
    assert index._runs_cell(e) == cell


def test_a_profile_index_links_up_to_the_top_index_and_across_to_the_other_profiles(tmp_path):
    from lib.report.runner import NotebookResult

    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "index.json").write_text(json.dumps({"updated": "x", "reports": [entry("01_a", "smoke")]}))
    (tmp_path / "quick").mkdir()
    result = NotebookResult(stem="01_a", title="Title", status="ok", error=None, wall_time_s=1.0,
                            html=str(tmp_path / "quick" / "01_a.html"), ipynb="01_a.ipynb", parameters={},
                            profile="quick", date="2026-12-05T08:00:00+00:00")
    index.write_index(tmp_path / "quick", [result], replace_all=True)
    page = (tmp_path / "quick" / "index.html").read_text()
    nav = page[page.index("<nav"):page.index("</nav>")]
    assert 'href="../index.html"' in nav and 'href="../smoke/index.html"' in nav and "quick/index" not in nav
    assert page.index("<nav") < page.index("<h1>")


def test_top_index_opens_with_the_thesis_its_finding_from_the_numbers_and_the_readme(tmp_path):
    """#25 item 1: the title of the thesis, not "Reports"; what it found at the largest profile
    rendered, in the summary notebook's words (lib.report.conclusions.summary, from the committed
    records the cifar-cpu manifests name), with the profile named; and a link back to the README."""
    from lib.report import conclusions, tables

    for profile in ("quick", "cifar-cpu"):
        (tmp_path / profile).mkdir()
        (tmp_path / profile / "index.json").write_text(json.dumps({"updated": "x", "reports": [entry("01_a", profile)]}))
    page = index.write_top_index(tmp_path).read_text()
    body = page[page.index("<body>"):]
    assert body.index(f"<h1>{index.THESIS_TITLE}</h1>") < body.index("What the thesis found") < body.index("<h1>Reports")
    assert "(profile <b>cifar-cpu</b>" in body and 'href="../README.md">README</a>' in body
    manifests = tables.read_manifests("cifar-cpu")
    sup, _ = tables.manifest_records(manifests["01_supervised"])
    answer = conclusions.summary({"01_supervised": sup}, None, "cifar-cpu")
    best = answer.splitlines()[2]  # "- **Supervised metric learning (01):** the best Recall@1 on h is ...'s (x ± y %)."
    assert best.split(":** ", 1)[1] in body and " %" in best


def test_the_summary_names_methods_not_the_points_of_a_tuning_grid(tmp_path):
    from lib.report import conclusions

    v2 = {"fine-tuned from head layer 1": [fake_record(tmp_path, {"test_top1": 0.30}, label_fraction=0.01, seed=0)],
          "from scratch, longer": [fake_record(tmp_path, {"test_top1": 0.20}, label_fraction=0.01, seed=1)],
          f"{tables.GRID_LABEL}fine-tuning (0, 0.1)": [fake_record(tmp_path, {"test_top1": 0.40}, label_fraction=0.01,
                                                                     seed=2)]}
    answer = conclusions.summary({"03_simclr_v2": v2}, None, "smoke")
    assert "best fine-tuned from head layer 1 (30.0 %); the best from-scratch baseline" in answer
    assert tables.GRID_LABEL not in answer


def test_top_index_without_results_states_no_finding(tmp_path):
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "index.json").write_text(json.dumps({"updated": "x", "reports": [entry("01_a", "nowhere")]}))
    page = index.write_top_index(tmp_path, runs_dir=tmp_path / "no-runs").read_text()
    assert "No profile has results yet" in page and f"<h1>{index.THESIS_TITLE}</h1>" in page
