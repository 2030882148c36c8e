"""The pages in a real browser: headless Chromium opens two smoke pages (00 and 01) and the indexes.

Checked as a reader meets them, through the DevTools protocol: the first screen (1300 x 900) shows
the question, the parameters banner and the first result; every code cell is folded, and a click on
its toggle opens it; every image loads (``naturalWidth > 0``) and has alt text; the console shows no
error (no script, no resource that fails to load). On a laptop's screen (1366 x 768) every page
shows each image with its caption as alt text (never nbconvert's placeholder), no ``In [n]:`` /
``Out[n]:`` prompt and no absolute local path, and its previous/next links resolve; every page
takes its look from the one shared stylesheet, ``reader.css``. Skipped where Chromium is not
installed; CI installs it (``.ci/run``: Debian's ``chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from lib.report import index, runner
from lib.report.kernels import CHECKOUT

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run does)")]
WIDTH, HEIGHT = 1300, 900  # the first screen of a laptop
LAPTOP = (1366, 768)  # the most common laptop screen: the size the reader checks use
RENDERED = ("00", "01")  # adjacent notebooks, so that their previous/next links meet; 01 trains for seconds
PLACEHOLDER = "No description has been provided for this image"  # nbconvert's alt text when none is given


class Browser:
    """Headless Chromium and one page of it, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, profile_dir: Path):
        websocket = pytest.importorskip("websocket", reason="websocket-client (the dev extra) drives Chromium")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile_dir}", "--remote-debugging-port=0", f"--window-size={WIDTH},{HEIGHT}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile_dir / "DevToolsActivePort"  # Chromium writes the port it chose here
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.events: list[dict] = []
        self._id = 0
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def open(self, path: Path) -> None:
        self.events.clear()
        self.send("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, f"{path.name} did not load"
            self.events.append(json.loads(self.ws.recv()))

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def viewport(self, size: tuple[int, int] | None) -> None:
        """Show pages at ``size`` (width, height) in CSS pixels; None: back to the window's size."""
        if size is None:
            self.send("Emulation.clearDeviceMetricsOverride")
        else:
            self.send("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                      mobile=False)

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element (scrolled into view first)."""
        x, y = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                       "const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def console_errors(self) -> list[str]:
        errors = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                errors.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return errors

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The smoke pages of notebooks 00 (real images, tables, no training) and 01 (a few seconds of
    training) in reports/smoke/, its index, the top index and the shared stylesheet."""
    tmp = tmp_path_factory.mktemp("browser")
    mp = pytest.MonkeyPatch()
    mp.setenv("THESIS_RUNS_DIR", str(tmp / "runs"))
    mp.setenv("WANDB_MODE", "disabled")
    try:
        assert runner.main(["--profile", "smoke", "--only", ",".join(RENDERED),
                            "--output", str(tmp / "reports" / "smoke")]) == 0
    finally:
        mp.undo()
    index.write_top_index(tmp / "reports")
    return tmp / "reports"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def test_page_is_read_first_and_code_folded_until_clicked(rendered, browser):
    browser.open(rendered / "smoke" / "00_data_and_views.html")
    layout = browser.js("""(() => {
        const top = s => { const e = document.querySelector(s); return e ? e.getBoundingClientRect().top : null; };
        const inputs = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea')];
        return {height: window.innerHeight,
                question: [...document.querySelectorAll('li')].find(l => l.textContent.startsWith('Question'))
                          .getBoundingClientRect().bottom,
                banner: document.querySelector('.report-banner').getBoundingClientRect().bottom,
                bannerText: document.querySelector('.report-banner').textContent,
                result: top('.jp-OutputArea-output'),
                codeCells: inputs.length,
                folded: inputs.filter(i => i.closest('details.reader-code:not([open])')).length,
                codeVisible: inputs.filter(i => i.checkVisibility()).length,  // closed <details>: hidden
                toc: [...document.querySelectorAll('nav.reader-toc a')].map(a => a.getAttribute('href'))};
    })()""")
    assert layout["codeCells"] >= 5 and layout["folded"] == layout["codeCells"] and layout["codeVisible"] == 0, layout
    assert layout["question"] < layout["banner"] < layout["result"] < layout["height"], layout  # the first screen
    assert "parameters: profile smoke" in layout["bannerText"] and "runs: no run loaded or trained" in layout["bannerText"]
    assert layout["toc"] and all(browser.js(f"!!document.getElementById({json.dumps(h[1:])})") for h in layout["toc"])

    browser.click("details.reader-code > summary")
    opened = browser.js("""(() => { const d = document.querySelector('details.reader-code');
        const code = d.querySelector('.jp-InputArea');
        return {open: d.open, visible: code.checkVisibility(), height: code.getBoundingClientRect().height,
                text: code.textContent}; })()""")
    assert opened["open"] and opened["visible"] and opened["height"] > 0 and "profile =" in opened["text"], opened
    assert browser.js("[...document.querySelectorAll('details.reader-code')].filter(d => d.open).length") == 1

    images = browser.js("""Promise.all([...document.images].map(i => i.decode().then(() => 0, () => 0)
        .then(() => ({w: i.naturalWidth, alt: i.alt}))))""")
    assert len(images) >= 3 and all(i["w"] > 0 for i in images) and all(i["alt"].strip() for i in images), images
    assert browser.console_errors() == []


@pytest.mark.parametrize("page", ["index.html", "smoke/index.html"])
def test_indexes_link_the_page_and_show_its_headline(rendered, browser, page):
    browser.open(rendered / page)
    rows = browser.js("""[...document.querySelectorAll('tbody tr')].map(r => ({
        href: r.querySelector('a').getAttribute('href'), headline: r.querySelector('.headline').textContent}))""")
    assert len(rows) == len(RENDERED) and "positive view found by pixel cosine" in rows[0]["headline"], rows
    assert (rendered / page).parent.joinpath(rows[0]["href"]).resolve() == \
        (rendered / "smoke" / "00_data_and_views.html").resolve()
    assert browser.console_errors() == []


def rendered_pages(rendered: Path) -> list[Path]:
    found = sorted(p for p in (rendered / "smoke").glob("*.html") if p.name != "index.html")
    assert [p.name[:2] for p in found] == list(RENDERED), found
    return found


def absolute_paths(text: str, roots: list[str]) -> list[str]:
    """The absolute local paths in ``text``: any of ``roots``, or a path starting at a usual top folder."""
    found = [root for root in roots if root in text]
    return found + re.findall(r"(?<![\w.:/~$>-])/(?:home|tmp|work|root|Users|var|opt|usr|srv|mnt)/[\w.-]+", text)


def test_every_page_at_1366x768_has_alt_texts_no_prompt_no_absolute_path_and_working_pager(rendered, browser):
    notebooks = {p.stem for p in runner.list_notebooks(CHECKOUT / "notebooks")}
    roots = sorted({str(rendered.parent), str(CHECKOUT), str(Path.home()), sys.prefix,
                    str(Path(sys.prefix).resolve())})
    browser.viewport(LAPTOP)
    try:
        seen = {}
        for page in rendered_pages(rendered):
            browser.open(page)
            facts = browser.js("""Promise.all([...document.images].map(i => i.decode().then(() => 0, () => 0)
                .then(() => ({w: i.naturalWidth, alt: i.getAttribute('alt')})))).then(images => ({
                images, width: window.innerWidth,
                html: document.documentElement.outerHTML.replace(/data:image\\/[a-z]+;base64,[^"']*/g, 'DATA'),
                text: document.body.innerText,
                pager: [...document.querySelectorAll('nav.reader-pager a')].map(a => [a.rel, a.getAttribute('href')]),
                styled: [...document.querySelectorAll('nav.reader-pager')].map(n => getComputedStyle(n).display)}))""")
            assert facts["width"] == LAPTOP[0]
            images = facts["images"]
            assert images and all(i["w"] > 0 for i in images), (page.name, images)
            assert all(i["alt"] and i["alt"].strip() and PLACEHOLDER not in i["alt"] for i in images), (page.name, images)
            assert "Out[" not in facts["html"] and not re.search(r"In\s*\[\s*\d*\s*\]:", facts["text"]), page.name
            assert absolute_paths(facts["html"], roots) == [], page.name
            assert facts["styled"] == ["flex", "flex"], "no previous/next links above and below, or no reader.css"
            links = facts["pager"]
            assert ["", "index.html"] in links and ["", "../index.html"] in links, links
            for rel, href in links:  # up: the profile's index and the top index; across: a notebook's page
                target = page.parent / href
                if rel in ("prev", "next"):
                    assert target.stem in notebooks, (page.name, href)
                    if target.stem[:2] in RENDERED:
                        assert target.is_file(), (page.name, href)
                else:
                    assert target.is_file(), (page.name, href)
            seen[page.stem] = dict(links)
        first, second = sorted(seen)
        assert seen[first]["next"] == f"{second}.html" and seen[second]["prev"] == f"{first}.html"
        assert "prev" not in seen[first]  # 00 opens the report
        assert browser.console_errors() == []
    finally:
        browser.viewport(None)


def test_pages_share_one_stylesheet(rendered, browser):
    sheet = (rendered / "reader.css").resolve()  # one folder above the profile folders
    assert sheet.is_file()
    for page in rendered_pages(rendered):
        browser.open(page)
        styles = browser.js("""({sheets: [...document.styleSheets].map(s => s.href).filter(h => h),
            inline: [...document.querySelectorAll('style')].map(s => s.textContent.length),
            printed: [...document.querySelectorAll('.jp-RenderedText pre')].map(p => getComputedStyle(p).wordBreak)})""")
        assert styles["sheets"] == [sheet.as_uri()], (page.name, styles)
        assert sum(styles["inline"]) < 1000, (page.name, styles)  # pandas' scoped table rules at most
        # printed text wraps between words (JupyterLab's CSS broke lines mid-word: word-break: break-all)
        assert styles["printed"] and set(styles["printed"]) == {"normal"}, (page.name, styles["printed"])
    assert browser.console_errors() == []


def test_answer_box_is_on_the_first_screen_at_1366x768(rendered, browser):
    """#25 item 1: findings first. On a laptop's first screen every page shows its Answer box (its
    heading and first line at least), under the question and the banner; the full Answer stays at
    the end, below everything else."""
    browser.viewport(LAPTOP)
    try:
        for page in rendered_pages(rendered):
            browser.open(page)
            box = browser.js("""(() => { const b = document.querySelector('.answer-box');
                if (!b) return null; const r = b.getBoundingClientRect();
                const line = parseFloat(getComputedStyle(b).lineHeight) || 24;
                const banner = document.querySelector('.report-banner').getBoundingClientRect();
                return {top: r.top + scrollY, line, banner: banner.bottom + scrollY, text: b.innerText}; })()""")
            assert box is not None, f"{page.name}: no answer box"
            assert box["banner"] <= box["top"], page.name  # under the banner
            assert box["top"] + 2 * box["line"] <= LAPTOP[1], (page.name, box["top"])  # on the first screen
            assert "Answer in brief" in box["text"] and "%" in box["text"], (page.name, box["text"])
    finally:
        browser.viewport(None)
