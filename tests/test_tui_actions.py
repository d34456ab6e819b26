"""Every operator action through the real app: keys -> modal -> Operations -> journal -> panels.

Real journal files, the real engine and the real simulated source; time is a ManualClock.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.gates import GatesPanel
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.panels.runbook import RunbookPanel
from cockpit.tui.panels.verdict import VerdictBar
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.forms import OverrideScreen
from cockpit.tui.screens.info import TooSmallScreen
from cockpit.tui.screens.runlog import RunScreen
from tests.test_tui_support import (
    actions,
    make_cockpit,
    operator_entries,
    plain,
    plan_variant,
    settle,
    written,
)

SIZE = (80, 24)


async def start(tmp_path, plan=None, values=None, size=SIZE, **kw):
    cockpit = make_cockpit(tmp_path, plan, **kw)
    await settle(cockpit, values)
    app = CockpitApp.of(cockpit, start_engine=False)
    return cockpit, app


async def refreshed(app, pilot):
    app.refresh_panels()
    await pilot.pause()


async def confirm_plain(pilot, app):
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("y")
    await written(app, pilot)


async def test_first_screen_answers_the_four_questions(tmp_path):
    cockpit, app = await start(tmp_path, values={"replication_lag_s": 9.0})
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        assert app.selected == "B01" == cockpit.ops.state.next_step
        gates = plain(app.query_one(GatesPanel))
        assert "✖ NO-GO" in gates and "replication_caught_up" in gates and "needs < 5s" in gates
        assert "✔ GO" in gates
        runbook = plain(app.query_one(RunbookPanel))
        assert "▶ B01" in runbook
        header = plain(app.query_one(HeaderBar))
        seq, digest = cockpit.journal.head
        assert f"journal: {seq} entries, head {digest[:8]}" in header and "you: demo.lead" in header
        assert "last: no step recorded yet" in header
        verdict = plain(app.query_one(VerdictBar))
        assert verdict.startswith("NEXT B01 ") and verdict.endswith("· may proceed")


async def test_confirm_normal_step_writes_then_shows(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.actor.operator) == ("step.confirm", "B01", "demo.lead")
        assert app.selected == "B02"
        runbook = plain(app.query_one(RunbookPanel))
        assert "✔ B01" in runbook and "demo.lead" in runbook
        assert "last: B01 confirmed by demo.lead 0s ago" in plain(app.query_one(HeaderBar))


@pytest.mark.parametrize("key", ["enter", "s", "n", "b", "x", "g", "question_mark", "o"])
async def test_escape_cancels_every_modal_and_writes_nothing(tmp_path, key):
    cockpit, app = await start(tmp_path, values={"rollback_snapshot_age_s": 99999.0})
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        if key == "o":  # override needs a blocked step: B02 requires rollback_ready (NO-GO)
            await confirm_plain(pilot, app)
        before = list(cockpit.journal.entries)
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not app.screen_stack[0], f"{key} opened no modal"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert cockpit.journal.entries == before


async def test_confirm_refused_when_gate_not_go_then_override_path(tmp_path):
    cockpit, app = await start(tmp_path, values={"rollback_snapshot_age_s": 99999.0})
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)  # B01
        assert app.selected == "B02"
        before = list(cockpit.journal.entries)
        await pilot.press("enter")
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info"))
        assert "REFUSED" in info and "rollback_ready is NO-GO" in info
        await pilot.press("y")  # confirm is not offered: nothing happens
        await pilot.pause()
        assert cockpit.journal.entries == before
        await pilot.press("o")  # a plain letter does nothing here
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, OverrideScreen)
        await pilot.press("down", "enter")  # first reason code, focus moves to the note
        await pilot.press(*"vendor verified by hand", "enter")
        await pilot.press(*"OVERRID", "enter")  # mistyped: refused in the modal
        await pilot.pause()
        assert isinstance(app.screen, OverrideScreen) and cockpit.journal.entries == before
        await pilot.press("E", "enter")
        await written(app, pilot)
        ov = cockpit.journal.entries[-1]
        assert (ov.action, ov.subject) == ("gate.override", "rollback_ready")
        assert ov.data["step"] == "B02" and ov.data["gate"]["state"] == "NO-GO"
        assert ov.note == "vendor verified by hand" and ov.reason_code
        await confirm_plain(pilot, app)
        done = cockpit.journal.entries[-1]
        assert (done.action, done.subject) == ("step.confirm", "B02")
        assert done.data["overrides"] == ["rollback_ready"]


async def test_critical_step_needs_its_id_typed(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)
        await confirm_plain(pilot, app)
        assert app.selected == "B03"
        before = list(cockpit.journal.entries)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")  # typed into the id field, not a confirmation
        await pilot.press("enter")
        await pilot.pause()
        assert cockpit.journal.entries == before and isinstance(app.screen, ConfirmScreen)
        await pilot.press("backspace", *"B03", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.data["typed"]) == ("step.confirm", "B03", True)


async def _to_decision(app, pilot):
    for _ in range(3):
        await pilot.press("enter")
        await pilot.pause()
        if app.selected == "B03":
            await pilot.press(*"B03", "enter")
        else:
            await pilot.press("y")
        await written(app, pilot)
    assert app.selected == "B04"


@pytest.mark.parametrize("call", ["GO", "NO-GO"])
async def test_decision_records_call_and_gate_snapshot(tmp_path, call):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await _to_decision(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"B04")
        await pilot.click("#go" if call == "GO" else "#nogo")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.data["call"]) == ("decision.record", "B04", call)
        assert set(last.data["gates"]) == {"replication_caught_up", "rollback_ready"}
        assert last.data["gates"]["rollback_ready"]["state"] == "GO"
        if call == "GO":
            assert cockpit.ops.state.phase == "during" and app.selected == "D01"
        else:
            assert "✖ B04" in plain(app.query_one(RunbookPanel))


async def test_a_two_person_step_asks_for_a_second_persons_approval(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await _to_decision(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"B04")
        await pilot.click("#go")
        await written(app, pilot)
        assert app.selected == "D01"
        await pilot.press("enter")
        await pilot.pause()
        assert "asks for a second person's approval" in plain(app.screen.query_one("#step-info"))
        assert not app.screen.query("#second")  # no name is typed on this screen any more
        await pilot.press(*"D01", "enter")
        await written(app, pilot)
        request = cockpit.journal.entries[-1]
        assert (request.action, request.subject, request.data["kind"]) == \
            ("approval.request", "D01", "confirm")
        assert cockpit.ops.state.steps["D01"].status.value == "active"
        assert "1 AWAITING APPROVAL" in plain(app.query_one(HeaderBar))
        # The second person, from their own cockpit (another session on the same journal).
        second = cockpit.ops.acting_as(dataclasses.replace(cockpit.ops.actor, operator="demo.app",
                                                           session="second-session"))
        last = second.approve(request.seq, app.gate_statuses(), typed="D01")
        app.refresh_panels()
        await pilot.pause()
        assert (last.action, last.subject, last.actor.operator) == ("step.confirm", "D01", "demo.app")
        assert last.data["approval"]["request"] == request.seq
        assert cockpit.ops.state.clock_started_at == last.wall
        assert "AWAITING APPROVAL" not in plain(app.query_one(HeaderBar))
        # at 80 columns beside the finish forecast, the cutover clock without its "since"
        assert "  T+0s  " in plain(app.query_one(HeaderBar))


async def test_skip_with_reason_code(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("down", "enter", *"done by the vendor", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.reason_code) == ("step.skip", "B01", "DONE_OUT_OF_BAND")
        assert "↷ B01" in plain(app.query_one(RunbookPanel))


async def test_fail_from_confirm_modal_and_note(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press("tab", *"bridge line down", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.note) == ("step.fail", "B01", "bridge line down")
        assert "✖ B01" in plain(app.query_one(RunbookPanel))
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"bridge restored 22:14", "enter")
        await written(app, pilot)
        assert (cockpit.journal.entries[-1].action, cockpit.journal.entries[-1].note) == (
            "note", "bridge restored 22:14")


async def test_rollback_switches_runbook(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("down", "enter", *"lab results missing", "enter", *"ROLLBACK", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert last.action == "rollback.start" and last.reason_code
        assert cockpit.ops.state.rollback_active
        assert app.selected == "R01"
        assert "ROLLBACK" in plain(app.query_one(HeaderBar))
        assert "R01" in plain(app.query_one(RunbookPanel))
        assert "ROLLBACK" in app.query_one(RunbookPanel).border_title
        assert app.possible("rollback") is None  # only once


async def test_triage_an_exception(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(app, pilot)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("tab", "down", "tab", "down", "tab", *"ticket CHG-1", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert last.action == "exception.triage" and last.subject == "demo-orphan-1"
        assert last.data == {"category": "auto_correct_safe"} and last.note == "ticket CHG-1"


async def test_triage_filter(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await refreshed(app, pilot)
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#filter").focus()
        await pilot.press(*"minor")
        await pilot.pause()
        table = app.screen.query_one("DataTable")
        assert table.row_count == 1
        await pilot.press("escape")


async def test_run_success_records_hash_then_offers_confirm(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)
        assert app.selected == "B02"
        await pilot.press("r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        run = next(e for e in reversed(cockpit.journal.entries) if e.action == "step.run")
        assert run.subject == "B02" and run.data["exit_code"] == 0
        out = Path(run.data["output_path"])
        assert out.parent == cockpit.journal.path.parent / "runs"
        assert hashlib.sha256(out.read_bytes()).hexdigest() == run.data["sha256"]
        assert b"snapshot 2026-11-28T20:00Z verified" in out.read_bytes()
        assert isinstance(app.screen, RunScreen)
        assert "snapshot" in "\n".join(app.screen.query_one("Log").lines)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await written(app, pilot)
        assert actions(cockpit)[-1] == ("step.confirm", "B02")


async def test_run_failure_marks_step_failed(tmp_path):
    plan = plan_variant(tmp_path, {'"echo checking snapshot catalogue"': "\"echo boom; exit 3\""})
    cockpit, app = await start(tmp_path, plan)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)
        await pilot.press("r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        run, fail = cockpit.journal.entries[-2:]
        assert (run.action, run.data["exit_code"]) == ("step.run", 3)
        assert (fail.action, fail.subject) == ("step.fail", "B02")
        assert "exit 3" in fail.note
        assert app.screen.check_action("offer_confirm", ()) is False


async def test_restart_shows_the_same_state(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)
    head = cockpit.journal.head
    cockpit.journal.close()
    again = make_cockpit(tmp_path, seeded=False, journal=cockpit.journal.path)
    assert again.journal.head == head
    app2 = CockpitApp.of(again, start_engine=False)
    async with app2.run_test(size=SIZE) as pilot:
        await refreshed(app2, pilot)
        assert app2.selected == "B02"
        assert "✔ B01" in plain(app2.query_one(RunbookPanel))


async def test_readonly_watcher_offers_no_actions(tmp_path):
    cockpit, _ = await start(tmp_path)
    from cockpit.session import open_cockpit

    watcher = open_cockpit(cockpit.plan, cockpit.journal.path, "demo.lead", readonly=True,
                           clock=cockpit.clock)
    app = CockpitApp.of(watcher, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        before = len(cockpit.journal.entries)
        await pilot.press("enter", "s", "b", "n")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert len(cockpit.journal.entries) == before
        assert "read-only" in plain(app.query_one(HeaderBar))


async def test_operator_entries_only_from_keys(tmp_path):
    """Opening and looking around writes nothing in the operator's name."""
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await pilot.press("j", "j", "k", "1", "2", "3", "4", "0", "g", "escape", "question_mark", "escape")
        await pilot.pause()
        assert operator_entries(cockpit) == []
        assert app.selected == "B02"


async def test_too_small_terminal_and_layout_switch(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        assert "terminal too small: need 80x24 (now 70x20)" in plain(app.screen.query_one("#too-small"))
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and app.layout_name == "wide"
        await pilot.resize_terminal(120, 35)
        await pilot.pause()
        assert app.layout_name == "default"
        assert app.screen_stack[0].has_class("layout-default")
        assert not app.screen_stack[0].has_class("layout-wide")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.layout_name == "compact"
        assert app.screen_stack[0].has_class("layout-compact")


async def test_command_palette_reaches_fail_step(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Fail step")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        from cockpit.tui.screens.forms import FailScreen

        assert isinstance(app.screen, FailScreen)
        await pilot.press("tab", *"printer offline", "enter")
        await written(app, pilot)
        assert actions(cockpit)[-1] == ("step.fail", "B01")
