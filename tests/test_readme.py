"""scripts/update_readme.py: the README's result blocks come from the run records, and only them."""

import importlib.util
import json
import re
import sys

import numpy as np
import pytest

from lib.report import plots, tables
from lib.config import Config, repo_path
from lib.records import RecordWriter


def load_script():
    path = repo_path("scripts/update_readme.py")
    spec = importlib.util.spec_from_file_location("update_readme", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and NamedTuples look their module up
    spec.loader.exec_module(module)
    return module


ur = load_script()

TEMPLATE = """# Thesis

Prose before, with a number 12.3 that is not generated.

<!-- results:iteration1:start -->
stale content
<!-- results:iteration1:end -->

Prose between.

<!-- results:iteration2:start -->
<!-- results:iteration2:end -->
<!-- results:iteration3:start -->
<!-- results:iteration3:end -->

## Performance

<!-- results:performance:start -->
old figures
<!-- results:performance:end -->
Prose after.
"""


def fake_record(runs, results, wall=60.0, **config):
    """A complete record written the way training writes it (no training)."""
    writer = RecordWriter(Config(runs_dir=str(runs), **config))
    writer.start("cpu")
    writer.log_epoch({"epoch": 1, "loss": 1.0})
    return writer.finish(results, wall_time_s=wall)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A README, runs with the manifests of 01-03 at the quick profile, and no benchmark results."""
    root = tmp_path_factory.mktemp("repo")
    runs, results = root / "runs", root / "benchmarks" / "results"
    results.mkdir(parents=True)
    battery = lambda knn, layer="h": {f"{layer}/knn_top1": knn, f"{layer}/linear_probe_top1": 0.9,  # noqa: E731
                                      f"{layer}/recall@1": 0.7, f"{layer}/map@r": 0.25, f"{layer}/nmi": 0.5}
    ce = [fake_record(runs, battery(v), task="supervised", loss="ce", seed=s) for s, v in enumerate((0.80, 0.84))]
    supcon = [fake_record(runs, {**battery(0.9), "h/nmi": None}, task="supervised", loss="supcon")]
    tables.write_manifest("01_supervised", "quick", {"cross-entropy": [r.run_id for r in ce],
                                                      "SupCon": supcon[0].run_id}, runs_dir=runs)
    simclr = fake_record(runs, {**battery(0.61), **battery(0.55, "z")}, task="pretrain", wall=600.0)
    tables.write_manifest("02_simclr", "quick", {"SimCLR": simclr.run_id}, runs_dir=runs)
    ft = {f: fake_record(runs, {"test_top1": acc}, task="finetune", pretrained=simclr.run_id, finetune_layer=1,
                         label_fraction=f) for f, acc in ((0.01, 0.5), (0.1, 0.75))}
    scratch = {f: fake_record(runs, {"test_top1": acc}, task="supervised", label_fraction=f, epochs=7)
               for f, acc in ((0.01, 0.3), (0.1, 0.6))}
    tables.write_manifest("03_simclr_v2", "quick", {"pretrained, 3-layer head": simclr.run_id,
                                                     "fine-tuned from head layer 1": [r.run_id for r in ft.values()],
                                                     "from scratch, same steps": [r.run_id for r in scratch.values()]},
                           runs_dir=runs)
    (root / "README.md").write_text(TEMPLATE)
    return {"root": root, "runs": runs, "results": results, "ce": ce, "supcon": supcon, "simclr": simclr}


def args(repo, *extra):
    return ["--readme", str(repo["root"] / "README.md"), "--runs-dir", str(repo["runs"]),
            "--results-dir", str(repo["results"]), *extra]


def sources(repo, profile=None):
    return ur.Sources(repo["runs"], repo["results"], repo["root"], profile)


def row(text: str, label: str) -> list[str]:
    """The cells of the table row starting with ``label``."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def outside(text: str) -> list[str]:
    """The text outside the generated blocks, markers included."""
    return re.split(r"(?s)<!-- results:\w+:start -->.*?<!-- results:\w+:end -->", text)


def test_tables_hold_the_records_numbers(repo):
    text = ur.update_text(TEMPLATE, sources(repo))
    # iteration 1: mean ± sample std over the two cross-entropy seeds, a single seed without spread, null as "–"
    assert row(text, "cross-entropy") == [f"82.0 ± {100 * np.std([0.80, 0.84], ddof=1):.1f}", "90.0 ± 0.0",
                                          "70.0 ± 0.0", "25.0 ± 0.0", "50.0 ± 0.0"]
    assert row(text, "SupCon") == ["90.0", "90.0", "70.0", "25.0", "–"]
    assert "| method | kNN | linear probe | Recall@1 | MAP@R | NMI |" in text
    # iteration 2: h and z side by side
    assert row(text, "SimCLR (h)") == ["61.0", "90.0", "70.0", "25.0"]
    assert row(text, "SimCLR (z)") == ["55.0", "90.0", "70.0", "25.0"]
    # iteration 3: by label fraction; the pretraining run has no test accuracy and no row
    assert "| method | 1 % labels | 10 % labels |" in text
    assert row(text, "fine-tuned from head layer 1") == ["50.0", "75.0"]
    assert row(text, "from scratch, same steps") == ["30.0", "60.0"]
    assert "| pretrained, 3-layer head |" not in text
    # provenance: one line (runs, wall time, device, date) with one link to the page and one to the manifest,
    # which names the run ids and commits: no run id is listed in the README (issue #25, item 7)
    block1 = text.split("<!-- results:iteration1:start -->")[1].split("<!-- results:iteration1:end -->")[0]
    for r in repo["ce"] + repo["supcon"]:
        assert r.run_id not in block1
    ce = repo["ce"][0]
    assert ce.provenance["device"] in block1 and ce.provenance["finished"][:10] in block1
    assert "3 runs, 3.0 min of wall time" in block1
    assert "**Profile `quick`**: the grey-scale Fashion-MNIST sample, 2 seeds; 3 runs" in block1
    assert "Page: [`report`](reports/quick/01_supervised.html)" in block1
    assert "[`manifest`](runs/_manifests/01_supervised-quick.json)" in block1
    assert block1.count("](") == 2 and "stale content" not in text


def test_prose_outside_the_markers_is_unchanged_and_the_update_is_idempotent(repo):
    text = ur.update_text(TEMPLATE, sources(repo))
    assert outside(text) == outside(TEMPLATE)
    assert text.endswith("<!-- results:performance:end -->\nProse after.\n")
    assert ur.update_text(text, sources(repo)) == text


def test_check_passes_when_up_to_date_and_fails_with_a_diff_on_a_changed_number(repo, capsys):
    readme = repo["root"] / "README.md"
    readme.write_text(TEMPLATE)
    assert ur.main(args(repo, "--check")) == 1  # stale blocks
    assert readme.read_text() == TEMPLATE       # --check changes nothing
    assert ur.main(args(repo)) == 0
    assert ur.main(args(repo, "--check")) == 0
    capsys.readouterr()
    readme.write_text(readme.read_text().replace("| SimCLR (h) | 61.0 |", "| SimCLR (h) | 63.0 |"))
    assert ur.main(args(repo, "--check")) == 1
    out = capsys.readouterr()
    assert "-| SimCLR (h) | 63.0 |" in out.out and "+| SimCLR (h) | 61.0 |" in out.out
    assert "out of date" in out.err
    readme.write_text(TEMPLATE)


def test_missing_manifest_or_record_gives_pending_not_numbers(repo, tmp_path):
    empty = ur.Sources(tmp_path / "runs", tmp_path / "results", tmp_path)
    text = ur.render("iteration1", empty)
    assert "Pending: run `make report`" in text and "notebooks/01_supervised.ipynb" in text
    assert "|" not in text
    # a manifest naming a record that is gone
    runs = tmp_path / "runs"
    kept = fake_record(runs, {"h/knn_top1": 0.5}, task="pretrain")
    tables.write_manifest("02_simclr", "quick", {"SimCLR": [kept.run_id, "pretrain-000000000000"]}, runs_dir=runs)
    text = ur.render("iteration2", ur.Sources(runs, tmp_path, tmp_path))
    assert "Pending: run `make report`" in text and "`pretrain-000000000000`" in text and "|" not in text
    # an incomplete record counts as missing
    record = json.loads((kept.directory / "record.json").read_text())
    (kept.directory / "record.json").write_text(json.dumps({**record, "status": "running"}))
    tables.write_manifest("02_simclr", "quick", {"SimCLR": kept.run_id}, runs_dir=runs)
    assert f"`{kept.run_id}`" in ur.render("iteration2", ur.Sources(runs, tmp_path, tmp_path))


def test_full_profile_is_preferred_and_profile_picks_one(repo):
    runs = repo["runs"]
    full = fake_record(runs, {"h/knn_top1": 0.99, "z/knn_top1": 0.98}, task="pretrain", epochs=500)
    path = tables.write_manifest("02_simclr", "full", {"SimCLR": full.run_id}, runs_dir=runs)
    try:
        assert row(ur.render("iteration2", sources(repo)), "SimCLR (h)")[0] == "99.0"
        assert row(ur.render("iteration2", sources(repo, "quick")), "SimCLR (h)")[0] == "61.0"
        assert "Pending" in ur.render("iteration1", sources(repo, "smoke"))
    finally:
        path.unlink()


def test_a_profile_with_missing_records_gives_way_to_the_next(repo):
    """The README shows the best profile whose records are complete: full, then cifar-cpu, then quick."""
    runs = repo["runs"]
    cpu = fake_record(runs, {"h/knn_top1": 0.7, "z/knn_top1": 0.6}, task="pretrain", epochs=60,
                      dataset="imagefolder:data/cifar10-jpeg")
    path = tables.write_manifest("02_simclr", "cifar-cpu", {"SimCLR": [cpu.run_id, "pretrain-000000000000"]},
                                 runs_dir=runs)
    try:
        text = ur.render("iteration2", sources(repo))
        assert row(text, "SimCLR (h)")[0] == "61.0" and "**Profile `quick`**" in text  # cifar-cpu incomplete
        tables.write_manifest("02_simclr", "cifar-cpu", {"SimCLR": cpu.run_id}, runs_dir=runs)
        text = ur.render("iteration2", sources(repo))
        assert row(text, "SimCLR (h)")[0] == "70.0"
        assert "**Profile `cifar-cpu`**: CIFAR-10, JPEG q75 copy, 1 seed; 1 run" in text
        assert "Page: [`report`](reports/cifar-cpu/02_simclr.html)" in text
    finally:
        path.unlink()


def test_performance_block_from_benchmark_results(tmp_path):
    src = ur.Sources(tmp_path / "runs", tmp_path / "results", tmp_path)
    (tmp_path / "results").mkdir()
    assert "No measurement is committed yet" in ur.render("performance", src)
    provenance = {"device": "NVIDIA H100", "date": "2026-12-01T10:00:00+00:00", "commit": "abcdef0123", "dirty": False}
    (tmp_path / "results" / "throughput-cuda-resnet18.json").write_text(json.dumps({
        "arch": "resnet18", "batch_size": 512, "threads": 16, "provenance": provenance,
        "results": {"augment_views_per_s": {"ours": 900000.0, "peer": 30000.0},
                    "train_views_per_s": {"ours": 52000.0, "peer": 9000.0, "speedup": 5.78,
                                          "ceiling": {"speedup_at_measured_step": 6.5, "speedup_at_peak_step": 9.25}},
                    "flops": {"fraction_of_peak": 0.25}}}))
    curve = [{"epoch": 0, "wall_seconds": 1.0, "knn_top1": 0.3}, {"epoch": 5, "wall_seconds": 120.0, "knn_top1": None},
             {"epoch": 10, "wall_seconds": 240.0, "knn_top1": 0.82}]
    (tmp_path / "results" / "gpu_check-20261201-1000.json").write_text(json.dumps({
        "status": "complete", "wall_seconds": 500.0, "provenance": provenance,
        "time_to_accuracy": {"run_id": "pretrain-0123456789ab", "best_knn_top1": 0.82, "curve": curve,
                             "config": {"arch": "resnet18", "batch_size": 512, "epochs": 10, "temperature": 0.2},
                             "sizing": {"epoch_train_seconds": 2.5}},
        "targets": {"train_views_per_s": {"target": 50000, "measured": 52000.0, "met": True},
                    "speedup_vs_pil": {"target": 5.0, "measured": 5.78, "met": True}}}))
    (tmp_path / "results" / "gpu_check-tiny-20261202-1000.json").write_text(json.dumps({
        "tiny": True, "provenance": {**provenance, "date": "2026-12-02T10:00:00+00:00"}}))
    short = ur.render("performance", src)  # the README's short table: training views/s and the speed-up only
    assert row(short, "[`throughput-cuda-resnet18.json`](results/throughput-cuda-resnet18.json)") == [
        "NVIDIA H100", "resnet18, batch 512", "52,000 / 9,000", "5.78×"]
    assert "gpu_check" not in short and "[`benchmarks/README.md`](benchmarks/README.md)" in short
    text = ur.render("benchmarks", src)  # benchmarks/README.md: every figure
    assert row(text, "[`throughput-cuda-resnet18.json`](results/throughput-cuda-resnet18.json)") == [
        "NVIDIA H100", "resnet18, batch 512", "16", "900,000 / 30,000", "52,000 / 9,000", "5.78×", "6.5× / 9.25×", "25.0 %", "2026-12-01",
        "`abcdef0`"]
    assert "gpu_check-20261201-1000.json" in text and "tiny" not in text
    assert "train_views_per_s 52,000 (target 50,000): met" in text and "8.3 min" in text
    assert ("kNN top-1 30.0 % at the random initialisation, 82.0 % best, after 4.0 min of wall time "
            "(2.5 s of training per epoch)") in text


def test_marker_errors_are_reported(repo, tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown result block 'iteration9'"):
        ur.find_blocks("<!-- results:iteration9:start -->\n<!-- results:iteration9:end -->")
    with pytest.raises(ValueError, match="never closed"):
        ur.find_blocks("<!-- results:iteration1:start -->\n")
    with pytest.raises(ValueError, match="without its start"):
        ur.find_blocks("<!-- results:iteration1:end -->\n")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert ur.main(["--readme", str(readme), "--check"]) == 2
    assert "no result blocks" in capsys.readouterr().err


def test_the_committed_readme_matches_the_records(capsys):
    """README numbers match the records: `python scripts/update_readme.py` after new results."""
    readme = repo_path("README.md")
    if not ur.MARKER.search(readme.read_text(encoding="utf-8")):
        pytest.skip("README.md has no result markers yet")
    code = ur.main(["--check"])
    assert code == 0, "README.md's result blocks are out of date; run `python scripts/update_readme.py`:\n" \
                      + capsys.readouterr().out


def test_blocks_show_the_exported_figure_of_their_profile(repo, tmp_path):
    import matplotlib.pyplot as plt
    from lib.report import plots, tables

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    images = repo["root"] / "images"
    try:
        plots.export_figure(fig, "02_simclr", "curves", "quick", images_dir=images)
        text = ur.update_text(TEMPLATE, sources(repo))
        block2 = text.split("<!-- results:iteration2:start -->")[1].split("<!-- results:iteration2:end -->")[0]
        assert "](images/02_simclr-quick-curves.png)" in block2
        block1 = text.split("<!-- results:iteration1:start -->")[1].split("<!-- results:iteration1:end -->")[0]
        assert "images/" not in block1  # 01 exported nothing: no figure, no broken link
    finally:
        plt.close(fig)
        for p in images.glob("*.png"):
            p.unlink()


def test_related_block_lists_every_claim_with_its_verdict(tmp_path):
    runs = tmp_path / "runs"
    rec = fake_record(runs, {"h/linear_probe_top1": 0.5}, task="pretrain")
    tables.write_manifest("06_projection_head", "quick", {"head nonlinear": rec.run_id},
                           headline={"verdict: nonlinear head beats none": "agrees (1 seed: no spread); ours +3.0 vs paper 10.0 points"},
                           runs_dir=runs)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:related:start -->\n<!-- results:related:end -->\n")
    text = ur.update_text(readme.read_text(), ur.Sources(runs, tmp_path / "none", tmp_path, None))
    assert "| [`06_projection_head`](reports/quick/06_projection_head.html) |" in text
    assert "nonlinear head beats none" in text and "agrees (1 seed: no spread); ours +3.0 vs paper 10.0 points" in text
    assert "| `05_simclr_augmentations` |" in text and "not run at this profile" in text  # 05, 07, 08: no manifest
    assert "[`06`](runs/_manifests/06_projection_head-quick.json) (1 runs" in text
    empty = ur.update_text(readme.read_text(), ur.Sources(tmp_path / "nothing", tmp_path / "none", tmp_path, None))
    assert "Pending" in empty


def test_a_claim_at_two_budgets_meets_the_single_budget_profile_at_its_first_budget():
    """#24 item 6: cifar-cpu words its budgeted claims with their steps, quick (one budget) without; the table
    joins quick's verdict to cifar-cpu's first budget, and keeps the second budget a row of its own."""
    two = ["fine-tuning from head layer 1 beats from h (3-layer head, 1% labels, 30 steps)",
           "fine-tuning from head layer 1 beats from h (3-layer head, 10% labels, 280 steps)",
           "the interaction, SimCLR's gain minus the supervised gain (150 SimCLR and 225 supervised steps)",
           "fine-tuning from head layer 1 beats from h (3-layer head, 1% labels, 1,250 steps)",
           "the interaction, SimCLR's gain minus the supervised gain (750 SimCLR and 1,125 supervised steps)"]
    one = ["fine-tuning from head layer 1 beats from h (3-layer head, 2% labels)",
           "fine-tuning from head layer 1 beats from h (3-layer head, 20% labels)",
           "the interaction, SimCLR's gain minus the supervised gain"]
    at_two, at_one = ur.claim_keys("08", two), ur.claim_keys("08", one)
    assert at_one == at_two[:3] and at_two[3][2] == 2 and at_two[4][2] == 1 and not set(at_two[3:]) & set(at_one)
    # equal steps named inside a claim (07) are part of its wording, not a budget
    assert ur.claim_keys("07", ["larger batch is better (batch 512 - 128; 60 steps vs 270 steps)"])[0][1].endswith(
        "# steps vs # steps)")


def test_related_block_has_a_column_per_profile_and_matches_claims_across_their_settings(tmp_path):
    """#24 item 5: the first profile shows our effect, its 95 % interval, p, q (Benjamini-Hochberg over the
    profile's family, recomputed from the stored per-seed effects) and the verdict; each further profile a
    verdict column; the rule applied is quoted."""
    from lib.report import claims
    from lib.report.statistics import FAMILY_VERDICT_RULE, claim_row

    runs = tmp_path / "runs"
    effects = {"quick": ([0.048], [0.010]),
               "cifar-cpu": ([0.02, 0.025, 0.015], [-0.030, -0.034, -0.026])}
    for profile, batches in (("quick", "256 - 64"), ("cifar-cpu", "512 - 128")):
        seeds = len(effects[profile][0])
        recs = [fake_record(runs, {"h/linear_probe_top1": 0.5}, task="pretrain", seed=s, dataset="sample"
                            if profile == "quick" else "imagefolder:data/cifar10-jpeg") for s in range(seeds)]
        rows = [claim_row(f"larger batch is better (batch {batches}, {f} labels)", "SimCLR Figure 9", d, expected_sign=1)
                for f, d in zip(("10%", "1%"), effects[profile])]
        tables.write_manifest("07_batch_temperature", profile, {"grid": [r.run_id for r in recs]}, runs_dir=runs,
                              headline=claims.verdict_headline(rows), claims=claims.stored(rows))
    text = ur.render("related", ur.Sources(runs, tmp_path / "none", tmp_path, None))
    header = next(line for line in text.splitlines() if line.startswith("| notebook |"))
    assert header == ("| notebook | paper | claim | paper's effect (points) | `cifar-cpu`: ours (points) | 95 % CI (points) "
                      "| p | q | `cifar-cpu`: verdict | `quick`: verdict; effect vs the paper's |")
    line = next(line for line in text.splitlines() if "1% labels)" in line)
    assert line.startswith("| [`07_batch_temperature`](reports/cifar-cpu/07_batch_temperature.html) |")
    first = [c.strip() for c in line.strip("|").split("|")][1:]
    assert first[:4] == ["SimCLR Figure 9", "larger batch is better (batch 512 - 128, 1% labels)", "+", "-3.0 ± 0.4"]
    assert first[4] == "-4.0 to -2.0" and float(first[5]) < 0.05 and float(first[6]) < 0.05  # two-sided p, its q
    assert first[7:] == ["opposite",
                         "inconclusive (1 seed: no test); ours +1.0 vs paper +"]
    assert "| agrees | inconclusive (1 seed: no test); ours +4.8 vs paper + |" in text
    assert "`cifar-cpu` (CIFAR-10, JPEG q75 copy, 3 seeds" in text and "`quick` (the grey-scale Fashion-MNIST sample, 1 seed" in text
    assert row(text, "`05_simclr_augmentations`")[2:] == ["–", "–", "–", "–", "–", "not run at this profile",
                                                          "not run at this profile"]
    assert "[`07`](runs/_manifests/07_batch_temperature-cifar-cpu.json) (3 runs" in text
    assert f"The rule: {FAMILY_VERDICT_RULE}." in text
    only = ur.render("related", ur.Sources(runs, tmp_path / "none", tmp_path, "quick"))
    assert "| `quick`: verdict |" in only and "| – | – | – | inconclusive (1 seed: no test) |" in only


def test_paired_verdict_of_the_crop_sampler_benchmark():
    """The benchmark's verdict is the paired t-test's: the 95 % t-interval of the per-seed differences."""
    # mean 0.02, std 0.01, n 3: half-width t(0.975, 2) x 0.01 / sqrt(3) = 4.303 x 0.00577 = 0.0248
    assert ur.paired_verdict([0.01, 0.02, 0.03]) == (
        "+2.0 ± 1.0 (95 % interval -0.5 to +4.5, paired t-test p = 0.074: inconclusive)")
    assert ur.paired_verdict([0.019, 0.02, 0.021]).endswith(": higher)")
    assert ur.paired_verdict([-0.019, -0.02, -0.021]).endswith(": lower)")
    assert ur.paired_verdict([0.01]) == "one seed: no interval"


def test_findings_are_numbers_with_their_paired_test_and_page(repo):
    """'What we found' (issue #25): each finding a number from the records, a paired test, a link to its page."""
    text = ur.render("findings", sources(repo))
    assert "From the records of profile `quick` (the grey-scale Fashion-MNIST sample, 2 seeds" in text
    findings = [line for line in text.splitlines() if line.startswith("- **")]
    assert 3 <= len(findings) <= 6
    assert all(re.search(r"\]\(reports/quick/0\d_\w+\.html\)", f) for f in findings)
    sup = next(f for f in findings if f.startswith("- **Supervised losses**"))
    assert "the highest kNN top-1 on h is SupCon's, 90.0 %" in sup  # SupCon's one seed 0.90 beats CE's mean 0.82
    # SupCon (seed 0 only) - cross-entropy, paired on seed 0: +10.0 points, one seed: no test
    assert "SupCon − cross-entropy: +10.0 points (one seed: no test)" in sup
    v2 = [f for f in findings if f.startswith("- **SimCLRv2 with")]
    assert [f.split(" % of")[0] for f in v2] == ["- **SimCLRv2 with 1", "- **SimCLRv2 with 10"]
    assert "fine-tuned from head layer 1 50.0 %, from scratch, same steps 30.0 %" in v2[0]
    empty = ur.render("findings", ur.Sources(repo["root"] / "nothing", repo["results"], repo["root"], None))
    assert "Pending" in empty


README = repo_path("README.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_at_most_350_lines():
    """Issue #25, item 7: a README a newcomer reads to the end (details live in docs/ and benchmarks/)."""
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= 350, f"README.md has {n} lines; at most 350 (#25: a newcomer reads it to the end)"


@pytest.mark.parametrize("path", ["README.md", "benchmarks/README.md", "docs/reliability.md", "docs/library.md"])
def test_every_relative_link_resolves_to_a_file(path):
    """Every relative link (prose, tables, images) names a file or folder that exists in the checkout."""
    doc = repo_path(path)
    if not doc.is_file():
        pytest.skip(f"{path} does not exist")
    root = repo_path(".")
    tracked = tracked_files(root)
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        file = (doc.parent / target.split("#")[0]).resolve()
        rel = file.relative_to(root.resolve()).as_posix() if file.is_relative_to(root.resolve()) else None
        in_git = tracked is None or (rel is not None and (rel in tracked or any(t.startswith(rel + "/") for t in tracked)))
        if not file.exists() or not in_git:  # a page generated here but not committed breaks on a fresh clone
            broken.append(target)
    assert not broken, f"{path}: links to missing or untracked files: {broken}"


def tracked_files(root) -> set[str] | None:
    """The files git tracks in ``root`` (None outside a git checkout: existence alone is checked)."""
    import subprocess

    try:
        out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.splitlines())


def test_readme_prose_links_the_profile_its_tables_show_and_html_not_notebooks():
    """The README's links go to the HTML report of the profile its tables show, never to .ipynb files."""
    text = README.read_text(encoding="utf-8")
    profiles = set(re.findall(r"\*\*Profile `([\w-]+)`\*\*", text))
    assert len(profiles) == 1, profiles
    links = LINK.findall(text)
    assert not [t for t in links if t.endswith(".ipynb")]
    pages = [t for t in links if t.startswith("reports/") and t.endswith(".html") and t != "reports/index.html"]
    shown = profiles.pop()
    assert pages and all(t.startswith(f"reports/{shown}/") for t in pages
                         if "index.html" not in t or t.startswith(f"reports/{shown}/")), pages


def test_benchmarks_readme_beside_the_readme_is_regenerated_and_checked(tmp_path, capsys):
    """The performance details live in benchmarks/README.md's `benchmarks` block: the same run of the script
    writes it and --check fails when it is stale (issue #25, item 7)."""
    root = tmp_path / "repo"
    (root / "benchmarks" / "results").mkdir(parents=True)
    (root / "README.md").write_text("<!-- results:performance:start -->\n<!-- results:performance:end -->\n")
    bench = root / "benchmarks" / "README.md"
    bench.write_text("# Benchmarks\n\n<!-- results:benchmarks:start -->\nstale\n<!-- results:benchmarks:end -->\n")
    (root / "benchmarks" / "results" / "throughput-cpu-small_cnn.json").write_text(json.dumps({
        "arch": "small_cnn", "batch_size": 256, "threads": 2, "provenance": {"device": "CPU", "date": "2026-12-01"},
        "results": {"train_views_per_s": {"ours": 800.0, "peer": 600.0, "speedup": 1.33}}}))
    argv = ["--readme", str(root / "README.md"), "--runs-dir", str(root / "runs"),
            "--results-dir", str(root / "benchmarks" / "results")]
    assert ur.main([*argv, "--check"]) == 1 and "stale" in capsys.readouterr().out
    assert ur.main(argv) == 0
    text = bench.read_text()
    assert "stale" not in text and "| [`throughput-cpu-small_cnn.json`](results/throughput-cpu-small_cnn.json) |" in text
    assert "The sections above define each figure." in text  # not a link to itself
    assert "| 800 / 600 | 1.33× |" in (root / "README.md").read_text()
    assert ur.main([*argv, "--check"]) == 0


def test_findings_are_judged_by_benjamini_hochberg_q_of_two_sided_paired_tests():
    """The findings are a family of tests: each is called higher or lower by its BH q, not its p."""
    # sorted p .01, .03, .04 (m = 3): p·m/rank = .03, .045, .04; running minimum from the top: .03, .04, .04
    assert ur.bh_qvalues([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.04, 0.04])
    # seeds 0-2, differences +1, +2, +3 points: mean 2, std 1, t = 2·sqrt(3) = 3.46, two-sided p = 0.074
    mean, std, n, p = ur.paired_stats({0: 0.51, 1: 0.52, 2: 0.53, 7: 0.9}, {0: 0.50, 1: 0.50, 2: 0.50})
    assert (round(100 * mean, 6), round(100 * std, 6), n) == (2.0, 1.0, 3) and p == pytest.approx(0.0742, abs=1e-3)
    assert ur.worded(mean, std, n, p, 0.049) == "+2.0 ± 1.0 points (higher, p = 0.074, q = 0.049)"
    assert ur.worded(mean, std, n, p, 0.074) == "+2.0 ± 1.0 points (no significant difference, p = 0.074, q = 0.074)"
    family = ur.Family()
    text = f"a {family.add({0: 0.6, 1: 0.7}, {0: 0.5, 1: 0.5})}; b {family.add({0: 0.5}, {0: 0.4})}"
    assert family.fill(text).endswith("; b +10.0 points (one seed: no test)")


def test_findings_rank_losses_within_each_view_set_and_the_tables_leave_the_tuning_grid_out(tmp_path):
    """Issue #24's design: 01 runs every loss on both view sets, so the findings rank the losses within each
    (never a loss against itself on other views) and compare SimCLR with the best loss on SimCLR's own views
    (only the labels differ); 03's manifest also names its tuning grid, which is no method of the table."""
    from lib.report.iterations import VIEW_SET_VIEWS, view_set_label

    runs = tmp_path / "runs"
    knn = {("cross-entropy", "crop+flip"): (0.60, 0.62), ("triplet", "crop+flip"): (0.50, 0.54),
           ("cross-entropy", "SimCLR views"): (0.58, 0.57), ("triplet", "SimCLR views"): (0.59, 0.61)}
    sup = {view_set_label(loss, views): [fake_record(runs, {"h/knn_top1": v}, task="supervised", seed=s,
                                                     loss="ce" if loss == "cross-entropy" else "triplet",
                                                     views=VIEW_SET_VIEWS[views]).run_id for s, v in enumerate(vals)]
           for (loss, views), vals in knn.items()}
    tables.write_manifest("01_supervised", "quick", sup, runs_dir=runs)
    simclr = [fake_record(runs, {"h/knn_top1": v, "z/knn_top1": v}, task="pretrain", seed=s,
                          views=VIEW_SET_VIEWS["SimCLR views"]) for s, v in enumerate((0.40, 0.42))]
    tables.write_manifest("02_simclr", "quick", {"SimCLR": [r.run_id for r in simclr]}, runs_dir=runs)
    ft = [fake_record(runs, {"test_top1": 0.5}, task="finetune", pretrained=simclr[0].run_id, finetune_layer=1,
                      label_fraction=0.1, lr=lr) for lr in (0.05, 0.2)]
    tables.write_manifest("03_simclr_v2", "quick", {"fine-tuned from head layer 1": ft[0].run_id,
                                                     f"{tables.GRID_LABEL}fine-tuning (1, 0.1, 0.2, 0.0)": ft[1].run_id},
                          runs_dir=runs)
    src = ur.Sources(runs, tmp_path / "none", tmp_path, None)
    sup_line = next(line for line in ur.render("findings", src).splitlines() if line.startswith("- **Supervised"))
    assert "On crop+flip the highest kNN top-1 on h is cross-entropy (crop+flip)'s, 61.0 ± 1.4 %; " \
           "cross-entropy (crop+flip) − triplet (crop+flip): +9.0 ± 1.4 points" in sup_line
    assert "On SimCLR views the highest kNN top-1 on h is triplet (SimCLR views)'s, 60.0 ± 1.4 %; " \
           "triplet (SimCLR views) − cross-entropy (SimCLR views): +2.5 ± 2.1 points" in sup_line
    simclr_line = next(line for line in ur.render("findings", src).splitlines() if line.startswith("- **SimCLR, "))
    assert "against triplet (SimCLR views) with every label" in simclr_line  # not cross-entropy (crop+flip), 61.0
    table = ur.render("iteration3", src)
    assert "| fine-tuned from head layer 1 |" in table and "grid" not in table.split("Page:")[1].split("\n\n")[1]
