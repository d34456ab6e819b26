"""Review: values substituted from the environment (DSN passwords, tokens) never reach the
screen, nor the saved output of a step's command.

The plan substitutes ``${VAR}`` everywhere, so a step's command or description can carry a token;
a real HTTP server on 127.0.0.1 answers with a reason phrase that echoes the Authorization header
it was sent, and a PostgreSQL DSN points at a closed loopback port.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml
from textual.widgets import Log

from cockpit.commands.demo import DEMO_PLAN
from cockpit.config import load_plan
from cockpit.tui.app import CockpitApp
from tests.fixtures.pg import free_port
from tests.test_tui_review_untrusted import assert_inert
from tests.test_tui_support import make_cockpit, settle

TOKEN = "tok-9f8e7d6c5b4a"
PASSWORD = "pw-Zq81xLm0"
SIZE = (200, 60)


class Echo(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        # A misbehaving service that puts what it was sent into its status line.
        self.send_response(500, f"bad credentials {self.headers.get('Authorization')}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def secret_plan(tmp_path, http_url: str):
    data = yaml.safe_load(DEMO_PLAN.read_text())
    data["sources"]["portal"] = {"type": "http", "url": http_url,
                                 "headers": {"Authorization": "Bearer ${REVIEW_TOKEN}"},
                                 "timeout": "2s"}
    data["sources"]["legacy"] = {
        "type": "postgres", "connect_timeout": "1s",
        "dsn": f"host=127.0.0.1 port={free_port()} dbname=ehr user=ro password=${{REVIEW_PW}}"}
    data["signals"]["portal_ok"] = {"title": "Portal answers", "source": "portal",
                                    "transaction": [{"method": "GET", "path": "/health"}],
                                    "measure": "success", "panel": "clinical", "every": "5s"}
    data["signals"]["legacy_lag"] = {"title": "Legacy lag", "source": "legacy",
                                     "probe": "replication_lag", "measure": "seconds",
                                     "panel": "replication", "every": "5s", "timeout": "2s"}
    data["gates"]["portal_up"] = {"expr": "portal_ok == true and legacy_lag < 5",
                                  "max_staleness": "1m"}
    b01 = data["runbook"]["phases"][0]["steps"][0]
    b01["run"] = ["echo using token ${REVIEW_TOKEN} and ${REVIEW_PW}"]
    b01["description"] = "token ${REVIEW_TOKEN} goes to the vendor"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    plan, _ = load_plan(path, env={"REVIEW_TOKEN": TOKEN, "REVIEW_PW": PASSWORD})
    return plan


def no_secret(text: str, where: str) -> None:
    assert TOKEN not in text and PASSWORD not in text, f"secret on screen in {where}"


async def test_environment_secrets_never_reach_the_screen(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        plan = secret_plan(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        cockpit = make_cockpit(tmp_path, plan)
        await settle(cockpit)
        await cockpit.engine.poll_once(["portal_ok", "legacy_lag"])
        portal = cockpit.engine.latest["portal_ok"]
        assert portal.value is False and "HTTP 500 bad credentials" in portal.detail[0]
        assert cockpit.engine.latest["legacy_lag"].error  # nothing listens on that port
        app = CockpitApp.of(cockpit, start_engine=False, layout="default")
        async with app.run_test(size=SIZE) as pilot:
            app.refresh_panels()
            await pilot.pause()
            no_secret(assert_inert(app), "main screen")
            await pilot.press("g")
            await pilot.pause()
            no_secret(assert_inert(app, "gate details"), "gate details")
            await pilot.press("escape")
            await pilot.pause()
            app.selected = "B01"
            await pilot.press("enter")
            await pilot.pause()
            shown = assert_inert(app, "confirm")
            assert "echo using token" in shown
            no_secret(shown, "confirm dialog")
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("r")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            log = "\n".join(app.screen.query_one(Log).lines)
            assert "using token *** and ***" in log
            no_secret(log, "run log")
            no_secret(assert_inert(app, "run screen"), "run screen")
        saved = list((tmp_path / "runs").glob("B01-*.log"))
        assert saved, "the command's output was not saved"
        no_secret(saved[0].read_text(), "saved output")
        for entry in cockpit.journal.entries:
            no_secret(entry.line().decode(), "journal")
    finally:
        server.shutdown()
        server.server_close()
