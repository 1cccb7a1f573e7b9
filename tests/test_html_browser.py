"""The rendered reports in a real headless browser (Debian's chromium, installed by .ci/run).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no Python package is needed.
Every page of a demo run is loaded from file:// with the network blocked; the test records every
request and checks: nothing but file:// and data: URLs requested, no failed request, every image
decoded (naturalWidth > 0), and the Chinese title in the rendered page.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("runner-demo")]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, binary: str, timeout: float = 60, env: dict | None = None):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close(); quoted on failure)
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # move the child's ends above 9, so that remapping them to 3 and 4 cannot clobber them
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        to_chrome_r, from_chrome_w = high
        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-extensions",
            "--disable-sync",
            "--mute-audio",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]
        # fd 3 = what chromium reads, fd 4 = what it writes: remapped by a tiny exec trampoline
        # (no preexec_fn, which is unsafe with threads; dash cannot redirect fds above 9)
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_chrome_r), str(from_chrome_w), *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)
        self.log.close()

    def log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError(
                        f"chromium closed the DevTools pipe; its log: {self.log_tail()}"
                    )
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method and e.get("sessionId") == session:
                return e
            self.events.append(e)

    def load(self, url: str) -> dict:
        """Open ``url`` in a new tab with the network blocked; what the page requested and shows."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.events.clear()
        self.send("Network.enable", session=session)
        self.send(
            "Network.setBlockedURLs",
            {"urls": ["http://*", "https://*", "ws://*", "wss://*"]},
            session=session,
        )
        self.send("Page.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        page = self.send(
            "Runtime.evaluate",
            {
                "returnByValue": True,
                "expression": """(() => ({
            title: document.title,
            h1: Array.from(document.querySelectorAll('h1')).map(h => h.innerText.trim()),
            text: document.body ? document.body.innerText : '',
            lang: document.documentElement.lang,
            images: Array.from(document.images).map(i => ({
                complete: i.complete, width: i.naturalWidth,
                src: i.currentSrc.slice(0, 30)})),
            links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
            toc: Array.from(document.querySelectorAll('.report-toc a[href^="#"]')).map(a => ({
                href: a.getAttribute('href'),
                found: document.getElementById(a.getAttribute('href').slice(1)) !== null})),
            pwned: window.__pwned === undefined ? null : String(window.__pwned),
            script_links: Array.from(document.querySelectorAll('a[href], area[href], [src]'))
                .map(e => (e.getAttribute('href') || e.getAttribute('src') || '').trim())
                .filter(u => /^(javascript|vbscript|data:text[/]html)/i.test(u)),
            handlers: Array.from(document.querySelectorAll('*')).flatMap(e =>
                Array.from(e.attributes).filter(a => /^on/i.test(a.name)).map(a => a.name)),
        }))()""",
            },
            session=session,
        )["result"]["value"]
        events = [e for e in self.events if e.get("sessionId") == session]
        self.send("Target.closeTarget", {"targetId": target})
        page["requests"] = [
            e["params"]["request"]["url"]
            for e in events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        page["failed"] = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
        return page


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Chromium(binary)
    try:
        b.send("Browser.getVersion")
        yield b
    finally:
        b.close()


def _check_page(page: dict, title: str) -> None:
    assert page["failed"] == [], page["failed"]
    offline = [u for u in page["requests"] if not u.startswith(("file://", "data:"))]
    assert offline == [], f"network requests: {offline}"
    assert page["images"] == [] or all(i["complete"] and i["width"] > 0 for i in page["images"]), (
        page["images"]
    )
    assert title in page["text"]
    assert page["lang"] == "zh-CN"


def test_pages_open_offline_with_images_and_chinese_title(demo_run, browser):
    run_dir = demo_run.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    index = browser.load((run_dir / "index.html").as_uri())
    _check_page(index, "高校毕业生就业监测报告目录")
    pages = [r for r in manifest["reports"] if r["html"]]
    assert {r["scope"] for r in pages} == {"province", "university"}
    shown = 0
    for report in pages:
        page = browser.load((run_dir / report["html"]).as_uri())
        _check_page(page, report["title"])
        assert report["title"] in page["h1"]
        assert page["title"] == report["title"]
        shown += len(page["images"])
        # the table of contents links to headings of the page itself
        assert page["toc"] and all(t["found"] for t in page["toc"]), page["toc"]
    assert shown > 0  # the demo reports do have charts


def test_error_page_opens_offline(demo_run, browser):
    errors = sorted((demo_run.run_dir / "errors").glob("*.html"))
    assert errors, "the demo run includes a deliberately failing report"
    page = browser.load(errors[0].as_uri())
    _check_page(page, "报告生成失败")


# --- hostile values (issue 13) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(hostile_run):
    """The demo run with markup and script payloads as university names (tests/hostile.py),
    shared with the privacy test (``hostile_run`` in tests/conftest.py)."""
    assert hostile_run.code == 0, hostile_run.err[-2000:]
    return hostile_run


def test_a_raw_payload_would_run_and_be_seen(browser, tmp_path):
    """The detector works: the same payloads, not escaped, do run in this browser."""
    from hostile import LINK_NAME, SCRIPT_NAME

    page = tmp_path / "raw.html"
    page.write_text(
        f'<html lang="zh-CN"><body><p>{SCRIPT_NAME}</p><a href="javascript:1">{LINK_NAME}</a>'
        "</body></html>",
        encoding="utf-8",
    )
    seen = browser.load(page.as_uri())
    assert seen["pwned"] == "1" and seen["script_links"] and seen["handlers"] == ["onerror"]


def test_hostile_names_run_no_script_and_link_nowhere(hostile, browser):
    from hostile import HOSTILE_NAMES

    manifest = json.loads((hostile.run_dir / "manifest.json").read_text(encoding="utf-8"))
    pages = [hostile.run_dir / "index.html"] + [
        hostile.run_dir / r["html"] for r in manifest["reports"] if r["html"]
    ]
    by_title = {r["title"]: r for r in manifest["reports"] if r["html"]}
    seen_names = set()
    for path in pages:
        page = browser.load(path.as_uri())
        assert page["pwned"] is None, path  # no payload script ran
        assert page["script_links"] == [] and page["handlers"] == [], path
        offline = [u for u in page["requests"] if not u.startswith(("file://", "data:"))]
        assert offline == [] and page["failed"] == [], (path, offline, page["failed"])
        assert all(i["complete"] and i["width"] > 0 for i in page["images"]), path
        seen_names |= {n for n in HOSTILE_NAMES.values() if n in page["text"]}
    # each name is shown, as the text it is, on its university's page and in the index
    assert seen_names == set(HOSTILE_NAMES.values())
    for name in HOSTILE_NAMES.values():
        assert f"{name}毕业生就业监测报告" in by_title
