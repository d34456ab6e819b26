"""Review: nothing shown done before the journal has it on disk; stale is never green; keys
answer while a source hangs, the journal is slow or a reconciliation runs."""

from __future__ import annotations

import errno
import os
import threading

import pytest

import cockpit.journal.file as journal_file
from cockpit.tui.app import WRITES, CockpitApp
from cockpit.tui.panels.evidence import SignalPanel
from cockpit.tui.panels.gates import GatesPanel
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.panels.replication import ReplicationPanel
from cockpit.tui.panels.runbook import RunbookPanel
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.info import HelpScreen
from tests.test_tui_support import make_cockpit, plain, settle, until, written

SIZE = (160, 48)


# -- 2. nothing shown as done before it is fsynced -----------------------------------------
# Path: enter -> CockpitApp.action_confirm -> ConfirmScreen -> y -> _confirmed -> _do("confirm",
# ops.confirm) -> (journal writer thread) Operations._append -> Journal.append -> _write ->
# _fsync; only after it returns does the _do worker, back on the loop, re-read ops.state and
# refresh the panels.

async def test_failed_fsync_leaves_the_step_not_done_with_one_line(tmp_path, monkeypatch):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    before = list(cockpit.journal.entries)
    calls = []

    def failing_fsync(fd):
        # The write's fsync fails; the journal's withdrawal of the line then flushes fine.
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)

    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        # Injected: the kernel fails fsync only on a failing block device, which cannot be
        # produced here; the journal's module-level seam is the documented test hook.
        monkeypatch.setattr(journal_file, "_fsync", failing_fsync)
        await pilot.press("y")
        await written(app, pilot)
        monkeypatch.undo()
        assert calls, "the confirm never reached the journal's fsync"
        runbook = plain(app.query_one(RunbookPanel))
        assert "✔ B01" not in runbook and "▶ B01" in runbook
        assert "confirmed by" not in plain(app.query_one(HeaderBar))
        assert cockpit.ops.state.steps["B01"].status.value != "done"
        notes = list(app._notifications)
        assert len(notes) == 1
        message = notes[0].message
        assert "\n" not in message and "fsync failed" in message and "NOT recorded" in message
        assert cockpit.journal.entries == before  # in memory: nothing new
        # And the cockpit now refuses writes instead of pretending (journal read-only).
        assert app.possible("confirm") is None
        assert app.is_running


# -- 3. stale is never green -----------------------------------------------------------------

async def test_gate_not_reevaluated_past_max_staleness_shows_unknown(tmp_path):
    """The engine's tick is what turns an old reading UNKNOWN; if that loop stopped, the view
    must not keep showing the last GO (before the review it did, indefinitely)."""
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)  # no tick loop: nothing re-evaluates
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert "✔ GO      replication_caught_up" in plain(app.query_one(GatesPanel))
        await cockpit.clock.advance(31)  # replication_caught_up: max_staleness 30s
        app.refresh_panels()
        await pilot.pause()
        gates = plain(app.query_one(GatesPanel))
        line = next(ln for ln in gates.splitlines() if "replication_caught_up" in ln)
        assert "UNKNOWN" in line and "stale" in line and "GO " not in line.replace("UNKNOWN", "")
        assert "replication_caught_up" in app.blocking_gates(cockpit.plan.runbook.step("D03"))


@pytest.mark.parametrize("fault", [{"hang": True}, {"error": "connection refused"}])
async def test_hung_or_failing_signal_turns_its_gate_unknown_with_the_engine_running(tmp_path, fault):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    cockpit.engine.sources["sim"].set_override("replication_lag_s", **fault)
    app = CockpitApp.of(cockpit)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(32):  # past max_staleness (30s), a second at a time
            await cockpit.clock.advance(1)
            await pilot.pause(0)
        app.refresh_panels()
        await pilot.pause()
        gates = plain(app.query_one(GatesPanel))
        line = next(ln for ln in gates.splitlines() if "replication_caught_up" in ln)
        assert "GO " not in line.replace("NO-GO", "") and "✔" not in line
        assert "UNKNOWN" in line


async def test_signal_panels_mark_an_old_value_stale_and_not_green(tmp_path):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False, layout="default")
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert "STALE" not in plain(app.query_one("#clinical", SignalPanel))
        await cockpit.clock.advance(90)  # nothing polled for 90s (every 3s, max_staleness 1m)
        app.refresh_panels()
        await pilot.pause()
        clinical = app.query_one("#clinical", SignalPanel).content
        line = next(ln for ln in clinical.plain.splitlines() if ln.startswith("Login success"))
        assert "STALE 1m30s old" in line or "STALE 1m 30s old" in line, line
        for span in clinical.spans:
            assert "green" not in str(span.style)
        repl = app.query_one(ReplicationPanel).query_one("#repl-text").content.plain
        assert "STALE" in repl


# -- 4. the screen never freezes ------------------------------------------------------------

# A reconciliation worker waiting on a real database while keys move the selection is covered
# by test_tui_recon.py::test_run_from_the_key_shows_progress_then_journals_and_shows_the_mismatch.


async def test_keys_answer_while_the_journal_fsync_is_slow(tmp_path, monkeypatch):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    real_fsync = journal_file._fsync
    in_fsync = threading.Event()
    release = threading.Event()

    def slow_fsync(fd):
        # A disk that does not finish flushing until the test says so. The bound only keeps a
        # regression (keys waiting for the fsync) from hanging the suite: it then fails below.
        in_fsync.set()
        release.wait(60)
        real_fsync(fd)

    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        monkeypatch.setattr(journal_file, "_fsync", slow_fsync)
        await pilot.press("y", "j")
        await pilot.pause()
        assert in_fsync.is_set()
        assert not release.is_set(), "keys waited for the journal's fsync"
        assert app.selected == "B02"  # j answered while the fsync was still going on
        assert "✔ B01" not in plain(app.query_one(RunbookPanel))  # not on disk yet
        release.set()
        await written(app, pilot)
        monkeypatch.undo()
        assert "✔ B01" in plain(app.query_one(RunbookPanel))
        assert cockpit.journal.entries[-1].action == "step.confirm"


def gated_fsync(monkeypatch):
    """The journal's fsync held until the test lets it go: a disk that has not answered yet.
    Injected through the journal's module-level seam (a slow device cannot be made here);
    (entered, release) events."""
    real_fsync = journal_file._fsync
    entered, release = threading.Event(), threading.Event()

    def held(fd):
        entered.set()
        if not release.wait(30):
            raise OSError(errno.EIO, "the test never released the fsync")
        real_fsync(fd)

    monkeypatch.setattr(journal_file, "_fsync", held)
    return entered, release


async def test_a_pending_write_is_not_shown_done_and_greys_out_writing_actions(
        tmp_path, monkeypatch):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert app.possible("confirm") and app.possible("note")
        await pilot.press("enter")
        await pilot.pause()
        entered, release = gated_fsync(monkeypatch)
        try:
            await pilot.press("y")
            await until(pilot, entered.is_set, "the confirm to reach the journal's fsync")
            await pilot.pause()
            # Written but not fsynced: not done anywhere, and no second write may start.
            runbook = plain(app.query_one(RunbookPanel))
            assert "▶ B01" in runbook and "✔ B01" not in runbook
            assert "confirmed by" not in plain(app.query_one(HeaderBar))
            assert cockpit.ops.state.steps["B01"].status.value != "done"
            assert app.selected == "B01"
            for action in WRITES:
                assert not app.possible(action), action
                assert not app.main.check_action(action, ()), action
            await pilot.press("s", "n", "enter")
            await pilot.pause()
            assert app.screen is app.screen_stack[0]  # greyed keys open no form
            # Reading and moving stay live.
            for action in ("cursor", "gates", "help", "quit", "pane", "select_next"):
                assert app.main.check_action(action, ()), action
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            # A slow write says so, calmly, in the header.
            await until(pilot, lambda: "recording…" in plain(app.query_one(HeaderBar)),
                        "the header to say recording…")
        finally:
            release.set()
        await written(app, pilot)
        monkeypatch.undo()
        assert "✔ B01" in plain(app.query_one(RunbookPanel))
        assert "recording…" not in plain(app.query_one(HeaderBar))
        assert app.selected == "B02" and app.possible("note")
        assert [e.action for e in cockpit.journal.entries].count("step.confirm") == 1


async def test_quit_waits_for_a_pending_write_then_leaves(tmp_path, monkeypatch):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        entered, release = gated_fsync(monkeypatch)
        try:
            await pilot.press("y")
            await until(pilot, entered.is_set, "the confirm to reach the journal's fsync")
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running and app.return_code is None
            assert "waiting for the journal" in list(app._notifications)[-1].message
        finally:
            release.set()
        await until(pilot, lambda: app.return_code is not None, "the app to quit")
    monkeypatch.undo()
    assert cockpit.journal.entries[-1].action == "step.confirm"


async def test_after_a_failed_fsync_a_restart_does_not_show_the_step_done(tmp_path, monkeypatch):
    cockpit = make_cockpit(tmp_path)
    await settle(cockpit)
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        os.fsync(fd)

    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        # Injected, as above: a failing fsync cannot be produced for real here.
        monkeypatch.setattr(journal_file, "_fsync", failing_fsync)
        await pilot.press("y")
        await written(app, pilot)
        monkeypatch.undo()
        assert "NOT recorded" in list(app._notifications)[0].message
    cockpit.journal.close()
    again = make_cockpit(tmp_path, cockpit.plan, journal=cockpit.journal.path)
    try:
        assert again.ops.state.steps["B01"].status.value != "done"
    finally:
        again.journal.close()
