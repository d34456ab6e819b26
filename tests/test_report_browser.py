"""index.html in a real browser: Debian's headless Chromium (``/usr/bin/chromium``), driven over
the DevTools protocol on a websocket. The page loads with no console error, no exception and
no network request other than the page itself; the charts are in the DOM (``svg`` elements);
a full-page screenshot is saved as a test artefact (``$COCKPIT_ARTIFACTS`` or
``tests/artifacts/``, gitignored) for a person to look at. A control page with an external
image proves the harness sees both a blocked request and its console error.

Skipped, saying why, only where chromium is not installed (``.ci/run`` installs it). As root
it runs with ``--no-sandbox`` (Chromium refuses to start its sandbox as root).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import websockets

from cockpit.cli import main
from tests.report_support import write_history
from tests.timings_night import T0, rehearse, write_plan

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(apt-get install chromium; .ci/run installs it)")
ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 90.0


def artifacts() -> Path:
    folder = Path(os.environ.get("COCKPIT_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Browser:
    """One headless Chromium, its DevTools websocket, and one page attached (flat session)."""

    def __init__(self, profile: Path):
        args = [CHROMIUM, "--headless", "--disable-gpu", "--remote-debugging-port=0",
                f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1200,1600", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.events: list[dict] = []
        self._id = 0
        self._waiting: dict[int, asyncio.Future] = {}

    def ws_url(self) -> str:
        assert self.proc.stderr is not None
        seen = []
        for raw in self.proc.stderr:  # Chromium prints the endpoint once it listens
            line = raw.decode("utf-8", "replace")
            seen.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                return m.group(1)
        raise AssertionError("chromium did not start: " + "".join(seen[-5:]))

    async def run(self, url: str, page: Path | str) -> dict:
        async with websockets.connect(url, max_size=None) as ws:
            self.ws = ws
            reader = asyncio.create_task(self._read())
            try:
                return await asyncio.wait_for(self._visit(str(page)), DEADLINE_S)
            finally:
                reader.cancel()

    async def _read(self) -> None:
        async for message in self.ws:
            msg = json.loads(message)
            if "id" in msg and msg["id"] in self._waiting:
                self._waiting.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)

    async def call(self, method: str, params: dict | None = None, session: str | None = None):
        self._id += 1
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._id] = fut
        msg: dict = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        answer = await fut
        assert "error" not in answer, (method, answer["error"])
        return answer["result"]

    async def _visit(self, url: str) -> dict:
        target = (await self.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
        s = (await self.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            await self.call(f"{domain}.enable", session=s)
        self.events.clear()
        await self.call("Page.navigate", {"url": url}, session=s)
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # late console messages (a CSP report comes after the load)

        async def value(js: str):
            r = await self.call("Runtime.evaluate", {"expression": js, "returnByValue": True},
                                session=s)
            return r["result"]["value"]

        svgs = await value("document.querySelectorAll('svg').length")
        details = await value("document.querySelectorAll('details').length")
        title = await value("document.title")
        shot = await self.call("Page.captureScreenshot", {"format": "png",
                                                          "captureBeyondViewport": True}, session=s)
        return {"svgs": svgs, "details": details, "title": title,
                "png": base64.b64decode(shot["data"])}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


def load(page: Path) -> tuple[dict, list[dict]]:
    with tempfile.TemporaryDirectory(prefix="cockpit-chromium-") as profile:
        b = Browser(Path(profile))
        try:
            result = asyncio.run(b.run(b.ws_url(), page.resolve().as_uri()))
        finally:
            b.close()
    return result, b.events


def problems(events: list[dict], page_url: str) -> tuple[list[str], list[str]]:
    """(console errors and exceptions, network requests other than the page itself)."""
    errors, requests = [], []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            errors.append(json.dumps(p)[:300])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            errors.append(json.dumps(p.get("args"))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            errors.append(p["entry"].get("text", "")[:300])
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if url != page_url and not url.startswith("data:"):
                requests.append(url)
    return errors, requests


def test_the_pack_loads_in_chromium_with_charts_and_no_error_or_request(tmp_path):
    plan_path = write_plan(tmp_path)
    journal = tmp_path / "night.jsonl"
    rehearse(plan_path, journal)
    write_history(journal, T0)
    out = tmp_path / "pack"
    assert main(["report", str(journal), "--out", str(out)]) == 0
    page = out / "index.html"
    result, events = load(page)
    errors, requests = problems(events, page.resolve().as_uri())
    assert errors == [] and requests == []
    assert result["title"] == "Evidence pack: timings cutover"
    in_file = page.read_text().count("<svg")
    assert result["svgs"] == in_file == 4  # steps, gate bands, two signals
    assert result["details"] >= 1  # the timeline, collapsible
    shot = artifacts() / "evidence-pack.png"
    shot.write_bytes(result["png"])
    assert result["png"][:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_harness_sees_a_blocked_request_and_its_console_error(tmp_path):
    """The control: the same CSP with an external image must show up as a problem, or the
    test above would prove nothing."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta '
                    'http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                    'style-src \'unsafe-inline\'; img-src data:"><title>c</title></head><body>'
                    '<img src="http://127.0.0.1:9/x.png"><svg></svg></body></html>')
    result, events = load(page)
    errors, _requests = problems(events, page.resolve().as_uri())
    assert errors and any("Content Security Policy" in e for e in errors), errors
    assert result["svgs"] == 1
