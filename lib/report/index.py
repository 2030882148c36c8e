"""The indexes of the report: what each notebook found, per profile, on one page.

Each profile's pages live in ``reports/<profile>/`` beside its ``index.json`` (one entry per
notebook: status, title, parameters, provenance, the runs it loaded and trained, and its headline)
and ``index.html``. The top index, ``reports/index.html``, has one section per profile rendered,
built by scanning ``reports/*/index.json``: the date and commit, and per notebook its status and one
or two headline numbers taken from its manifest (``runs/_manifests/<notebook>-<profile>.json``):

- numbers named by the notebook's module (``Notebook.index_numbers``, :mod:`lib.report.notebooks`) are
  recomputed from the run records the manifest names,
  as mean ± std over seeds (:func:`lib.report.tables.mean_std`): "SimCLR h kNN 48.9 ± 0.7 %";
- the verdicts of the reproduced claims (``verdict: ...`` entries) are counted: "claims: 2 agree,
  9 inconclusive, 1 opposite"; the summary notebook (``Notebook.summary``) counts those of every
  related-work notebook (``Notebook.related``);
- otherwise the manifest's first group of numbers ("<what>: <which>" keys) is shown as it is.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import html
import json
import math
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..records import atomic_write_bytes, now_iso
from . import notebooks
from .profiles import LARGEST_FIRST
from .statistics import verdict_tally

INDEX_LOCK = ".index.lock"  # held while a profile's index.json is read, changed and written

PER_LINE = 3  # labels shown per headline line, best first
PROFILE_ORDER = LARGEST_FIRST  # sections of the top index, largest scale first (lib.report.profiles)


# ---- headline numbers --------------------------------------------------------------------------

def _percent(mean: float, std: float, n: int) -> str:
    text = f"{100 * mean:.1f}"
    return text + (f" ± {100 * std:.1f}" if n > 1 and math.isfinite(std) else "") + " %"


def _fraction_text(fraction: float) -> str:
    return f"{100 * fraction:g} %"


def record_line(records: Mapping[str, list], key: str, what: str, fraction: str | None) -> str | None:
    """``<what>: <label> <mean ± std> % · ...`` over the labels whose records have ``key`` (best
    first, at most :data:`PER_LINE`); ``<label> <what> <mean ± std> %`` for a single label. With
    ``fraction="min"`` only the records at the smallest label fraction count."""
    from . import tables

    if fraction == "min":
        fractions = [r.config.label_fraction for recs in records.values() for r in recs
                     if math.isfinite(tables.result_value(r, key))]
        if not fractions:
            return None
        smallest = min(fractions)
        records = {label: [r for r in recs if r.config.label_fraction == smallest] for label, recs in records.items()}
        what = what.format(fraction=_fraction_text(smallest))
    stats = []
    for label, recs in records.items():
        mean, std, n = tables.mean_std(tables.result_values(recs, key))
        if n:
            stats.append((mean, label, std, n))
    if not stats:
        return None
    stats.sort(key=lambda s: -s[0])
    if len(stats) == 1:
        mean, label, std, n = stats[0]
        return f"{label} {what} {_percent(mean, std, n)}"
    shown = [f"{label} {_percent(mean, std, n)}" for mean, label, std, n in stats[:PER_LINE]]
    return f"{what}: " + " · ".join(shown) + (" · …" if len(stats) > PER_LINE else "")


def verdict_counts(verdicts: Iterable[str]) -> str | None:
    """``claims: 2 agree, 9 inconclusive, 1 opposite`` from verdict texts (:func:`verdict_tally`, the
    pages' tally, with the test's three outcomes always shown); None for none."""
    verdicts = list(verdicts)
    return "claims: " + verdict_tally(verdicts, zeros=True) if verdicts else None


def _verdicts(manifest: Mapping[str, Any]) -> list[str]:
    return [v for k, v in (manifest.get("headline") or {}).items() if k.startswith("verdict: ")]


def headline_group(headline: Mapping[str, Any]) -> str | None:
    """The first group of plain numbers of a manifest's headline: keys ``"<what>: <which>"`` sharing
    ``<what>`` become ``<what>: <which> <value> · ...``; a key without ':' stands alone."""
    numbers = [(k, v) for k, v in headline.items()
               if not k.startswith("verdict: ") and isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None

    def value(v: float) -> str:
        return f"{100 * v:.1f} %" if 0 <= v <= 1 else f"{v:.4g}"

    first = numbers[0][0]
    if ": " not in first:
        return f"{first} {value(numbers[0][1])}"
    what = first.split(": ", 1)[0]
    group = [(k.split(": ", 1)[1], v) for k, v in numbers if k.startswith(what + ": ")]
    return f"{what}: " + " · ".join(f"{which} {value(v)}" for which, v in group[:PER_LINE]) + \
        (" · …" if len(group) > PER_LINE else "")


def headlines(notebook: str, profile: str, runs_dir: str | Path = "") -> list[str]:
    """One or two lines saying what ``notebook`` found at ``profile`` (see the module's docstring);
    a line saying so when it has no manifest there."""
    from . import tables  # (imports torch: only when a headline is asked for)

    registered = notebooks.notebook(notebook)
    if registered and registered.summary:
        manifests = tables.read_manifests(profile, runs_dir)
        related_stems = notebooks.related()
        related = [nb for nb in manifests if nb in related_stems]
        line = verdict_counts([v for nb in related for v in _verdicts(manifests[nb])])
        return [f"{line} ({len(related)} related-work notebooks)" if line
                else "no related-work manifest at this profile yet"]
    path = tables.manifest_path(notebook, profile, runs_dir)
    if not path.is_file():
        return [f"no manifest at profile {profile}"]
    manifest = json.loads(path.read_text())
    lines = []
    if manifest.get("runs") and registered and registered.index_numbers:
        records, _ = tables.manifest_records(manifest, runs_dir)
        records = tables.reported(records)  # a tuning grid's runs stand behind a choice; they are not methods
        lines += [line for key, what, fraction in registered.index_numbers
                  if (line := record_line(records, key, what, fraction))]
    if claims := verdict_counts(_verdicts(manifest)):
        lines.append(claims)
    if not lines and (group := headline_group(manifest.get("headline") or {})):
        lines.append(group)
    return lines[:2] or ["no headline in its manifest"]


# ---- index.json and the pages ------------------------------------------------------------------

def write_index(output: Path, results: list, replace_all: bool, warn=print) -> list[dict[str, Any]]:
    """Write ``index.json`` and ``index.html`` of one profile's folder. With ``replace_all`` False,
    entries of notebooks not run this time are kept from the existing ``index.json``.

    The read-modify-write holds ``<output>/.index.lock`` (two runners with ``--only`` would otherwise
    lose each other's entries); both files are written to a temporary name and renamed. A corrupt
    ``index.json`` is named in one line and its entries rebuilt from the pages beside it
    (:func:`entries_from_pages`), not dropped."""
    with _index_lock(output):
        entries: dict[str, dict[str, Any]] = {}
        previous = output / "index.json"
        if not replace_all and previous.exists():
            entries = {e["stem"]: e for e in read_entries(previous, warn)}
        for r in results:
            entry = asdict(r)
            entry["html"], entry["ipynb"] = Path(r.html).name, Path(r.ipynb).name
            if r.runs is not None:  # id -> "loaded" / "trained"; the run's task, device and date are in its record
                entry["runs"] = {run_id: log.get("action") for run_id, log in r.runs.items()}
            entries[r.stem] = entry
        ordered = [entries[k] for k in sorted(entries)]
        atomic_write_bytes(previous, (json.dumps({"updated": now_iso(), "reports": ordered}, indent=2) + "\n").encode())
        atomic_write_bytes(output / "index.html", index_page([(output.name, ordered)], link_prefix="",
                                                             links=profile_nav(output)).encode())
    return ordered


def profile_nav(output: Path) -> str:
    """The links on top of a profile's index: up to the top index, across to the other profiles
    rendered beside it (``<output>/../*/index.json``)."""
    others = [folder for folder, _ in read_profiles(output.parent) if folder != output.name]
    across = "".join(f' · <a href="../{html.escape(f)}/index.html">profile {html.escape(f)}</a>' for f in others)
    return f'<nav class="facts"><a href="../index.html">↑ all reports</a>{across}</nav>'


@contextlib.contextmanager
def _index_lock(folder: Path):
    """An exclusive ``flock`` on ``<folder>/.index.lock`` while an index is read, changed and written."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / INDEX_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_entries(path: Path, warn=print) -> list[dict[str, Any]]:
    """The entries of an ``index.json``; a corrupt one is named in one line and rebuilt from its pages."""
    try:
        reports = json.loads(Path(path).read_text())["reports"]
        if not isinstance(reports, list) or not all(isinstance(e, dict) and "stem" in e for e in reports):
            raise TypeError("'reports' is not a list of entries")
        return reports
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        warn(f"warning: {path} is corrupt ({type(e).__name__}: {e}); its entries are rebuilt from the pages in "
             f"{Path(path).parent}")
        return entries_from_pages(Path(path).parent)


def entries_from_pages(folder: Path) -> list[dict[str, Any]]:
    """Index entries recovered from the pages of a profile folder: title, status (a failed page carries
    the red banner), the page's date; the headline comes from the notebook's manifest. What a page
    does not say (wall time, runs) is left unknown."""
    import re

    out = []
    for page in sorted(Path(folder).glob("*.html")):
        if page.name == "index.html" or page.name.startswith("."):
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        if "</html>" not in text:  # a page cut short is no page
            continue
        title = re.search(r"<title>(.*?)</title>", text, re.S)
        failed = 'class="report-banner failed"' in text
        stem = page.stem
        try:
            lines = headlines(stem, folder.name)
        except Exception:  # noqa: BLE001 - a manifest that cannot be read leaves the line empty
            lines = []
        out.append({"stem": stem, "title": html.unescape(title.group(1).strip()) if title else stem,
                    "status": "failed" if failed else "ok",
                    "error": "(rebuilt from the page after index.json was found corrupt)" if failed else None,
                    "html": page.name, "ipynb": f"{stem}.ipynb", "headline": lines, "profile": folder.name,
                    "date": _dt.datetime.fromtimestamp(page.stat().st_mtime, _dt.timezone.utc).isoformat(
                        timespec="seconds"), "wall_time_s": 0.0, "rebuilt": True})
    return out


def read_profiles(root: Path, warn=print) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(folder name, entries)`` of every ``<root>/*/index.json``, largest profile first; a corrupt
    one is named and rebuilt from its pages, so its section does not disappear."""
    found = [(path.parent.name, read_entries(path, warn)) for path in sorted(Path(root).glob("*/index.json"))]
    rank = {name: i for i, name in enumerate(PROFILE_ORDER)}
    return sorted(found, key=lambda item: (rank.get(item[0], len(rank)), item[0]))


THESIS_TITLE = "Learning distance metrics for images with contrastive representation learning"  # README's title
FINDINGS_FROM = ("01_supervised", "02_simclr", "03_simclr_v2")  # the iterations whose records the finding reads


def thesis_findings(profile: str, runs_dir: str | Path = "") -> list[str]:
    """What the thesis found at ``profile``, one Markdown sentence per finding: the Answer of the
    summary notebook (:func:`lib.report.conclusions.summary`, the same code and the same numbers,
    recomputed from the records the manifests name); [] when the profile has no manifest."""
    from . import conclusions, tables  # (imports torch: only when the top index is written)

    manifests = tables.read_manifests(profile, runs_dir)
    records = {nb: tables.manifest_records(manifests[nb], runs_dir)[0] for nb in FINDINGS_FROM if nb in manifests}
    related = tables.related_work_table(manifests) if any(nb in manifests for nb in notebooks.related()) else None
    if not records and related is None:
        return []
    answer = conclusions.summary(records, related, profile)
    return [line[2:].strip() for line in answer.splitlines() if line.startswith("- ") and "no manifest" not in line]


def _markdown_html(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def thesis_intro(profiles: list[tuple[str, list[dict[str, Any]]]], runs_dir: str | Path = "") -> str:
    """The top of the top index: the thesis' title, one paragraph of what it found at the largest
    profile rendered that has results (the profile named), and a link back to the README."""
    e = html.escape
    for folder, entries in profiles:
        profile = next((r.get("profile") for r in entries if r.get("profile")), folder)
        if found := thesis_findings(profile, runs_dir):
            paragraph = (f'<p class="findings"><b>What the thesis found</b> (profile <b>{e(profile)}</b>, '
                         f'<a href="{e(folder)}/09_summary.html">its summary page</a>): '
                         + " ".join(_markdown_html(f) for f in found) + "</p>")
            break
    else:
        paragraph = "<p class=\"findings\">No profile has results yet: nothing found to state.</p>"
    return (f"<h1>{e(THESIS_TITLE)}</h1>\n{paragraph}\n"
            '<p class="facts">The thesis, its code and how to run it: <a href="../README.md">README</a>.</p>')


def write_top_index(root: Path, runs_dir: str | Path = "") -> Path:
    """``<root>/index.html``: the thesis' title and finding (:func:`thesis_intro`), then one section
    per profile folder holding an ``index.json``."""
    path = Path(root) / "index.html"
    profiles = read_profiles(root)
    atomic_write_bytes(path, index_page(profiles, link_prefix="{folder}/",
                                        intro=thesis_intro(profiles, runs_dir) if profiles else "").encode())
    return path


def _commit(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('commit') or 'unknown'}"[:7] + (" (dirty)" if entry.get("dirty") else "")


def _runs_cell(entry: Mapping[str, Any]) -> str:
    runs = entry.get("runs")
    if runs is None:  # an entry written before the runner kept its run log
        return "–"
    # id -> action; entries written before 2026-12-06 held each run's whole log (a dict with its action)
    actions = [r.get("action") if isinstance(r, Mapping) else r for r in runs.values()]
    loaded, trained = actions.count("loaded"), actions.count("trained")
    return f"{loaded} loaded, {trained} trained"


def section(folder: str, entries: list[dict[str, Any]], link_prefix: str) -> str:
    """One profile's section: what, when, which commit; a row per notebook."""
    e = html.escape
    rows = []
    for r in entries:
        ok = r["status"] == "ok"
        status = '<span class="ok">ok</span>' if ok else \
            f'<span class="failed">FAILED</span><div class="error">{e(r.get("error") or "")}</div>'
        lines = "".join(f"<div>{e(line)}</div>" for line in r.get("headline") or [])
        href = e(link_prefix.format(folder=folder) + r["html"])
        rows.append(f'<tr><td><a href="{href}">{e(r["title"])}</a><div class="stem">{e(r["stem"])}</div></td>'
                    f'<td class="headline">{lines}</td><td>{status}</td><td>{e(_runs_cell(r))}</td>'
                    f'<td>{e((r.get("date") or "")[:16].replace("T", " "))}</td><td><code>{e(_commit(r))}</code></td>'
                    f'<td class="num">{r["wall_time_s"]:.1f} s</td></tr>')
    failed = sum(r["status"] != "ok" for r in entries)
    total = sum(r["wall_time_s"] for r in entries)
    verdict = f'<span class="failed">{failed} failed</span>' if failed else '<span class="ok">all ok</span>'
    profiles = sorted({r.get("profile") or folder for r in entries})
    dates = sorted((r.get("date") or "")[:10] for r in entries if r.get("date"))
    when = (dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}") if dates else "unknown date"
    commits = ", ".join(sorted({_commit(r) for r in entries}))
    devices = "; ".join(sorted({r.get("device") or "unknown device" for r in entries}))
    return f"""<section id="profile-{e(folder)}">
<h2>Profile {e(", ".join(profiles))}</h2>
<p class="facts">Executed {e(when)} (UTC) · commit {e(commits)} · {e(devices)}</p>
<table>
<thead><tr><th>Notebook</th><th>Headline</th><th>Status</th><th>Runs</th><th>Date (UTC)</th><th>Commit</th><th class="num">Wall time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
<tfoot><tr><td>Total: {len(entries)} notebooks</td><td></td><td>{verdict}</td><td colspan="3"></td><td class="num">{total:.1f} s</td></tr></tfoot>
</table>
</section>"""


def index_page(profiles: list[tuple[str, list[dict[str, Any]]]], link_prefix: str, links: str = "",
               intro: str = "") -> str:
    """The page of one or more profile sections (``link_prefix`` is put before each page's file
    name, ``{folder}`` standing for the section's folder), with ``links`` (HTML) on top."""
    sections = "\n".join(section(folder, entries, link_prefix) for folder, entries in profiles) or \
        "<p>No report rendered yet: <code>make report</code>.</p>"
    nav = " · ".join(f'<a href="#profile-{html.escape(folder)}">{html.escape(folder)}</a>' for folder, _ in profiles)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 80em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ text-align: left; padding: 0.4em 0.6em; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.num {{ text-align: right; white-space: nowrap; }}
.stem {{ color: #777; font-size: 0.85em; }}
.headline {{ font-size: 0.92em; }}
.facts {{ color: #555; }}
.findings {{ font-size: 1.1em; line-height: 1.5; border-left: 4px solid #2e7d32; background: #f1f8f1;
  padding: 0.5em 0.9em; }}
.ok {{ color: #070; font-weight: bold; }}
.failed {{ color: #c00; font-weight: bold; }}
.error {{ color: #900; font-size: 0.85em; max-width: 28em; }}
tfoot td {{ font-weight: bold; border-top: 2px solid #999; }}
</style></head><body>
{links}
{intro}
<h1>Reports</h1>
<p>Each notebook was executed headlessly by <code>python -m lib.report</code> and rendered to HTML; its
headline numbers are mean ± std over seeds, recomputed from the run records its manifest names. "Runs" says
how many runs the notebook loaded from records and how many it trained when it was executed. A failed
notebook's page stops at its error and says so at the top.{f" Profiles: {nav}." if len(profiles) > 1 else ""}</p>
{sections}
</body></html>
"""
