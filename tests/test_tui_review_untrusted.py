"""Review: every outside string that reaches a widget stays literal text.

Markup that would style, link or run an action (``[@click=app.quit]``), terminal escapes, bidi
overrides, huge strings and newlines go through each surface: plan text (cutover name, phase,
step titles, descriptions, commands, gate titles), ticket titles, reading errors, journal notes,
reason codes, operators' names (header, runbook border), exception keys/tables in triage, command
output in the run log, notifications carrying refusals. The test reads what the terminal would
get (the compositor's segments): no link, no click meta, no ESC, no bidi override.
"""

from __future__ import annotations

import json

from textual.widgets import DataTable, Log

from cockpit.journal import Actor
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.audit import AuditPanel
from cockpit.tui.panels.evidence import SignalPanel
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.panels.runbook import RunbookPanel
from tests.test_tui_support import (
    ALL_GO,
    make_cockpit,
    plain,
    plan_variant,
    settle,
    written,
)

EVIL = ("[bold red]ROLLBACK NOW[/] [@click=app.quit]x [link=http://x]y [a [b] c] "
        "\x1b]0;title\x1b\\osc \x1b[2Jcls \u202eevil\nnext")
# What must be left of EVIL on screen: every bracket literal, escapes and controls gone.
LITERALS = ["[bold red]ROLLBACK NOW[/]", "[@click=app.quit]x", "[link=http://x]y", "[a [b] c]"]
HUGE = "W" * 10_000


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are valid YAML)."""
    return json.dumps(text)


def hostile_plan(tmp_path):
    step = (f"{{id: B01, title: {q(EVIL)}, owner: lead, planned: 5m, description: {q(EVIL + HUGE)}, "
            f"run: [{q('printf %s ' + json.dumps(EVIL))}]}}")
    return plan_variant(tmp_path, {
        "{id: B01, title: Announce downtime window to clinical units, owner: lead, planned: 5m}": step,
        "name: \"Demo: St. Brigid's EHR to cloud (simulated)\"": f"name: {q(EVIL)}",
        "title: Before cutover": f"title: {q(EVIL)}",
        "title: Replication caught up": f"title: {q(EVIL)}",
        '        - "Cannot open chart for recent admission (ICU)"': f"        - {q(EVIL)}",
    })


def segments(app):
    """Every segment the terminal would receive for the current screen."""
    for strip in app.screen._compositor.render_strips():
        yield from strip


def assert_inert(app, where: str = "screen") -> str:
    """Nothing on screen links, clicks or escapes; returns the screen's text."""
    text = []
    for seg in segments(app):
        style = seg.style
        if style is not None:
            assert not style.link, f"{where}: link {style.link!r} on {seg.text!r}"
            meta = style.meta or {}
            assert not any("app." in str(v) for v in meta.values()), f"{where}: action on {seg.text!r}"
        assert "\x1b" not in seg.text and "\u202e" not in seg.text, f"{where}: {seg.text!r}"
        text.append(seg.text)
    return "".join(text)


async def test_plan_text_header_runbook_and_confirm_are_literal(tmp_path):
    plan = hostile_plan(tmp_path)
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(200, 50)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        header = plain(app.query_one(HeaderBar))
        assert "[bold red]ROLLBACK NOW[/]" in header and "\x1b" not in header
        panel = app.query_one(RunbookPanel)
        assert LITERALS[0] in panel.render().plain
        # The border title carries the phase title: it must not be parsed as markup either.
        assert "[bold red]ROLLBACK NOW[/]" in panel._border_title.plain
        screen = assert_inert(app)
        assert "ROLLBACK NOW[/]" in screen
        await pilot.press("enter")  # confirm dialog of B01: title, owner, command, description
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info"))
        for lit in LITERALS:
            assert lit in info
        assert "\x1b" not in info and "\u202e" not in info
        assert len(info) < 2000  # the 10,000-character description is capped
        assert_inert(app, "confirm")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("g")  # gate details: the hostile gate title
        await pilot.pause()
        assert "[@click=app.quit]x" in assert_inert(app, "gate details")
        await pilot.click(offset=(60, 5))
        await pilot.pause()
        assert app.is_running


async def test_operator_name_from_the_journal_is_literal_in_the_header(tmp_path):
    cockpit = make_cockpit(tmp_path)
    evil = Actor("[@click=app.quit]x [link=http://x]y", "tester", "testhost", None, 4242, "s1")
    cockpit.journal.append("step.confirm", actor=evil, subject="B01", data={})
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        last = plain(app.query_one(HeaderBar)).splitlines()[1]
        assert "B01 confirmed by [@click=app.quit]x" in last, last
        assert "[link=http://x]y" in last
        assert_inert(app, "header's last action")
        assert app.is_running


async def test_readings_notes_reasons_and_triage_are_literal(tmp_path):
    plan = hostile_plan(tmp_path)
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit, {"chart_access_tickets": 2})
    sim = cockpit.engine.sources["sim"]
    sim.clear_override("chart_access_tickets")  # titles come from the simulated curve
    sim.set_override("login_success_rate", error=EVIL)
    await cockpit.engine.poll_once()
    cockpit.ops.note(EVIL)
    cockpit.ops.note(HUGE)
    # Exceptions from a reconciliation: keys and tables are data from the databases.
    cockpit.journal.append("exception.open", actor=Actor.system(), subject="evil-1",
                           data={"layer": "content", "table": EVIL, "keys": {"id": EVIL},
                                 "kind": "changed", "severity": "critical", "title": EVIL})
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(200, 60)) as pilot:
        app.refresh_panels()
        await pilot.pause()
        helpdesk = plain(app.query_one("#helpdesk", SignalPanel))
        clinical = plain(app.query_one("#clinical", SignalPanel))
        audit = plain(app.query_one(AuditPanel))
        for lit in LITERALS[:2]:
            assert lit in helpdesk and lit in audit and lit in clinical
        assert "\u202e" not in helpdesk + clinical + audit
        assert "W" * 200 not in audit  # the 10,000-character note is capped
        assert_inert(app)
        await pilot.press("x")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        row = [c.plain for c in table.get_row("evil-1")]
        assert "[bold red]ROLLBACK NOW[/] [@cli…" in row[5]  # literal, capped
        assert row[3].startswith("[bold red]ROLLBACK NOW[") and not any("\x1b" in c for c in row)
        assert_inert(app, "triage")
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


async def test_command_output_in_the_run_log_is_literal(tmp_path):
    plan = hostile_plan(tmp_path)
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.selected = "B01"
        await pilot.press("r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        lines = list(app.screen.query_one(Log).lines)
        out = "\n".join(lines)
        assert "[@click=app.quit]x" in out and "\x1b" not in out and "\u202e" not in out
        assert_inert(app, "run log")
        assert app.is_running


async def test_refusal_notifications_are_not_markup(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, {**ALL_GO, "replication_lag_s": 50.0})
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app._do("note", lambda: (_ for _ in ()).throw(
            __import__("cockpit.runbook", fromlist=["Refused"]).Refused(EVIL)))
        await written(app, pilot)
        notes = list(app._notifications)
        assert notes and not notes[-1].markup
        assert "[@click=app.quit]x" in notes[-1].message
        assert "\x1b" not in notes[-1].message and "\u202e" not in notes[-1].message
        assert_inert(app, "toast")
        assert app.is_running


async def test_the_inertness_check_sees_markup_actions_and_links():
    """The check above must catch what it claims to: markup rendered the unsafe way."""
    from textual.app import App
    from textual.widgets import Static

    class Bad(App):
        def compose(self):
            yield Static("[@click=app.quit]x[/] [link='http://x']y[/]")

    app = Bad()
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        try:
            assert_inert(app)
        except AssertionError:
            return
        raise AssertionError("assert_inert missed a click action and a link")
