"""Untrusted text stays text; a hung source never blocks a key; a dropped terminal ends cleanly."""

from __future__ import annotations

import asyncio

from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.audit import AuditPanel
from cockpit.tui.panels.evidence import SignalPanel
from cockpit.tui.panels.gates import GatesPanel
from cockpit.tui.safe import safe
from tests.test_tui_support import make_cockpit, plain, plan_variant, settle

HOSTILE = ["[bold red]ROLLBACK NOW[/]", "[@click=app.quit]x", "[link=http://x]y", "[a [b] c]",
           "\x1b]0;title\x1b\\evil"]


def test_safe_text_is_literal_and_escape_free():
    for raw in HOSTILE:
        text = safe(raw)
        assert "\x1b" not in text.plain
        assert text.spans == []  # no markup became style or action
    assert safe(HOSTILE[0]).plain == "[bold red]ROLLBACK NOW[/]"
    assert safe(HOSTILE[4]).plain == "evil"


async def test_hostile_ticket_titles_and_notes_appear_literally(tmp_path):
    first = "\n".join(f"        - {yaml_quote(t)}" for t in HOSTILE[:3])
    rest = "\n".join(f"        - {yaml_quote(t)}" for t in HOSTILE[3:])
    plan = plan_variant(tmp_path, {
        '        - "Cannot open chart for recent admission (ICU)"': first,
        '        - "Ward 4B: printer mapping lost after downtime"': rest})
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit, {"chart_access_tickets": 2})
    sim = cockpit.engine.sources["sim"]
    sim.clear_override("chart_access_tickets")  # titles come from the simulated curve
    sim.clear_override("helpdesk_open")
    await cockpit.engine.poll_once()
    cockpit.ops.note("[@click=app.quit]note [bold]x[/bold]")
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        helpdesk = plain(app.query_one("#helpdesk", SignalPanel))
        assert "[bold red]ROLLBACK NOW[/]" in helpdesk
        assert "[@click=app.quit]x" in helpdesk and "[link=http://x]y" in helpdesk
        assert "[a [b] c]" in helpdesk and "\x1b" not in helpdesk
        assert "\n  • evil" in helpdesk  # the OSC title sequence is gone, its text stays text
        assert "[@click=app.quit]note [bold]x[/bold]" in plain(app.query_one(AuditPanel))
        await pilot.click("#helpdesk")  # clicking the text runs no action
        await pilot.pause()
        assert app.is_running
        svg = app.export_screenshot()
        assert "ROLLBACK&#160;NOW[/]" in svg or "ROLLBACK NOW[/]" in svg


def yaml_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\e") + '"'


async def test_hung_source_keys_answer_at_once(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    sim = cockpit.engine.sources["sim"]
    sim.set_override("replication_lag_s", hang=True)
    app = CockpitApp.of(cockpit)  # the engine runs its poll loops on the app's loop
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        poll = next(t for t in asyncio.all_tasks() if t.get_name() == "poll:replication_lag_s")
        assert not poll.done()  # the read is hanging right now
        await pilot.press("j", "j")
        await pilot.pause()
        assert app.selected == "B03"
        assert not poll.done()  # the keys answered while the read was still hanging
        await cockpit.clock.advance(3)  # the engine's timeout (2s) turns it into an error reading
        app.refresh_panels()
        await pilot.pause()
        assert cockpit.engine.latest["replication_lag_s"].error.startswith("timed out")
        await pilot.press("k")
        await pilot.pause()
        assert app.selected == "B02"
        assert "replication_caught_up" in plain(app.query_one(GatesPanel))


async def test_terminal_lost_exits_cleanly(tmp_path):
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.terminal_lost()  # what SIGHUP or a hung-up stdin triggers
        await pilot.pause()
    assert app.return_code == 129
