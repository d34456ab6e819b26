"""The thin view: one key table, the footer at 80x24, one reason rule for keys that cannot act,
phases browsed read-only, live gates in modals, the decision's keys, and a failing worker
that is said and journalled while the cockpit goes on. Real app (Pilot), real journal."""

from __future__ import annotations

from cockpit.tui import keymap
from cockpit.tui.app import CockpitApp
from cockpit.tui.main_screen import MainScreen
from cockpit.tui.palette import ACTIONS as PALETTE
from cockpit.tui.panels.runbook import RunbookPanel
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.info import HELP, HelpScreen, help_text
from tests.test_tui_support import make_cockpit, plain, settle, until, written

SIZE = (80, 24)


async def start(tmp_path, values=None):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit, values)
    return cockpit, CockpitApp.of(cockpit, start_engine=False)


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def test_bindings_help_palette_and_writes_come_from_the_one_table():
    bound = {(b.key, b.action) for b in MainScreen.BINDINGS}
    assert bound == {(k.keys, k.action) for k in keymap.KEYS if k.keys}
    assert {k for k, _ in HELP} >= {k.key_text for k in keymap.KEYS if k.help}
    assert [t for t, _, _ in PALETTE] == [k.palette for k in keymap.KEYS if k.palette]
    assert {"confirm", "skip", "fail", "override", "run", "rollback", "triage",
                             "note", "reconcile", "ack_quarantine", "letters"} == keymap.WRITES
    # The footer's must-haves come first, so a narrow footer never cuts them.
    assert [b.key for b in MainScreen.BINDINGS[:3]] == ["question_mark", "q", "g"]


async def test_the_footer_at_80x24_shows_help_quit_and_gates(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        footer = " ".join(_screen_lines(app)[-1].split())  # the bottom row, as drawn
        for key, label in (("?", "Help"), ("q", "Quit"), ("g", "Gates")):
            assert f"{key} {label}" in footer, footer


def _screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_a_greyed_key_says_why_in_one_line(tmp_path):
    cockpit, app = await start(tmp_path)
    cockpit.ops.start_rollback("CLINICAL_SAFETY", "lab results missing")
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.main.check_action("rollback", ()) is None
        before = list(cockpit.journal.entries)
        await pilot.press("b")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no form opened
        said = notes(app)[-1]
        assert said.startswith("rollback already in progress since ") and "demo.lead" in said
        assert "CLINICAL_SAFETY" in said and "\n" not in said
        assert cockpit.journal.entries == before


async def test_other_phases_are_browsed_read_only(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.selected == "B01"
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.selected == "D01"
        assert "During cutover · phase 2 of 3" in str(app.query_one(RunbookPanel).border_title)
        before = list(cockpit.journal.entries)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert "not open yet" in notes(app)[-1] and "browse only" in notes(app)[-1]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.selected == "B01" and app.main.possible("confirm")
        assert cockpit.journal.entries == before


async def test_the_confirm_modal_shows_the_gates_as_they_are_now(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.selected = "B02"  # requires rollback_ready
        cockpit.ops.confirm("B01", cockpit.engine.gates)
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "✔ GO" in plain(app.screen.query_one("#step-info"))
        await settle(cockpit, {"rollback_snapshot_age_s": 99999.0})
        app._tick()
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info"))
        assert "NO-GO" in info and "rollback_ready" in info
        assert "gates changed since this opened" in info


async def test_the_decision_has_a_key_for_go_and_one_for_no_go(tmp_path):
    cockpit, app = await start(tmp_path)
    for step in ("B01", "B02", "B03"):
        cockpit.ops.confirm(step, cockpit.engine.gates, typed=step)
    async with app.run_test(size=SIZE) as pilot:
        app.selected = "B04"
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"B04", "enter")  # enter records nothing: a decision has no default
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "^g GO" in plain(app.screen.query_one(".modal-keys"))
        await pilot.press("ctrl+n")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject, last.data["call"]) == ("decision.record", "B04",
                                                                  "NO-GO")


async def test_a_failing_worker_is_said_journalled_and_the_cockpit_goes_on(tmp_path):
    cockpit, app = await start(tmp_path)

    async def broken() -> None:
        raise RuntimeError("check exploded [@click=app.quit]x")

    async with app.run_test(size=SIZE) as pilot:
        worker = app.main.run_worker(broken(), name="a broken check", exit_on_error=False)
        await until(pilot, lambda: worker.is_finished, "the worker to fail")
        await written(app, pilot)
        await until(pilot, lambda: any("internal error" in (e.note or "")
                                       for e in cockpit.journal.entries), "the journal entry")
        said = notes(app)[-1]
        assert "a broken check: RuntimeError: check exploded" in said and "\n" not in said
        assert not list(app._notifications)[-1].markup and "Traceback" not in said
        entry = cockpit.journal.entries[-1]
        assert entry.action == "note" and entry.actor.operator == "demo.lead"
        assert "internal error in the cockpit (a broken check): RuntimeError" in entry.note
        assert app.is_running and app.return_code is None
        await pilot.press("question_mark")  # keys still answer
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


def test_the_help_explains_the_marks_and_the_dialog_keys_in_words():
    text = help_text().plain
    for words in ("the selected step", "active: workable now", "critical: type the step id",
                  "decision: records GO or NO-GO", "skipped, with a reason code",
                  "pending: not workable yet", "cancel: the dialog closes and nothing is written",
                  "in a form: submit from any field", "record GO / NO-GO"):
        assert words in text, words


async def test_the_run_modal_shows_the_command_lines_in_the_saved_order(tmp_path):
    from textual.widgets import Log

    from cockpit.tui.screens.runlog import RunScreen

    cockpit, app = await start(tmp_path)
    cockpit.ops.confirm("B01", cockpit.engine.gates)
    async with app.run_test(size=SIZE) as pilot:
        app.selected = "B02"  # two commands
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished,
                    "the run to end", deadline_s=30)
        await written(app, pilot)
        shown = list(app.screen.query_one(Log).lines)
        saved = next((tmp_path / "runs").glob("B02-*.log")).read_text().splitlines()
        assert shown == saved
        assert shown[0] == "$ echo checking snapshot catalogue"
        assert [x for x in shown if x.startswith("$ ")] == [
            "$ echo checking snapshot catalogue", "$ echo snapshot 2026-11-28T20:00Z verified"]


async def test_a_tick_between_a_modal_push_and_its_compose_changes_nothing(tmp_path):
    """Found by a loaded CI run: the 1 Hz tick landed after ``g`` pushed the gate details and
    before they were composed, and updating their missing body crashed the cockpit."""
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for action in ("gates", "confirm"):
            getattr(app.main, f"action_{action}")()
            app._tick()  # before the modal has composed: must not raise
            await pilot.pause()
            assert app.is_running and app.screen is not app.screen_stack[0]
            app._tick()  # composed and on top: redraws
            # Mounted and on top but its body not there (as between compose and the children
            # mounting, which a loaded CI run hit twice): the tick skips it, never crashes.
            for body in app.screen.query("#gate-details, #step-info"):
                await body.remove()
            app._tick()
            assert app.is_running
            app.screen.dismiss(None)
            app._tick()  # being dismissed
            await pilot.pause()
            assert app.screen is app.screen_stack[0]
    cockpit.close()
