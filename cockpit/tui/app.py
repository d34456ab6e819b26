"""The cockpit app: construction, mount/unmount, the 1 Hz tick, a lost terminal, quitting.

What the operator sees and does lives in :class:`cockpit.tui.main_screen.MainScreen` (panels,
selection, keys, action flows); the keys themselves in :mod:`cockpit.tui.keymap`; running an
``Operations`` call on the journal's writer thread in :mod:`cockpit.tui.actions`.

Polling runs in the engine's tasks on this loop and never blocks a key; panels redraw at 1 Hz
from whatever the engine and the journal hold. A worker that fails is said in one line and
journalled as an internal error, and the cockpit goes on (:meth:`on_worker_state_changed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from cockpit.gates import as_of as gates_as_of
from cockpit.journal.writer import JournalWriter
from cockpit.notify import DeadLetter, Notifier
from cockpit.runbook import Refused
from cockpit.runbook.approvals import Spool
from cockpit.runbook.forecast import Forecaster
from cockpit.tui import layout as layouts
from cockpit.tui.actions import RECORDING_NOTICE_S, Writes
from cockpit.tui.crash import OneLine, one_line
from cockpit.tui.keymap import WRITES
from cockpit.tui.main_screen import PANES, MainScreen
from cockpit.tui.palette import CockpitCommands
from cockpit.tui.safe import safe, set_redactor, shown
from cockpit.tui.screens.base import CockpitModal
from cockpit.tui.screens.info import QuitScreen, TooSmallScreen

if TYPE_CHECKING:
    from cockpit.clock import Clock
    from cockpit.config.plan import Plan
    from cockpit.engine import Engine
    from cockpit.journal import Journal
    from cockpit.runbook import Operations

log = logging.getLogger(__name__)

REFRESH_S = 1.0
RUN_UNMOUNT_S = 10.0  # how long the unmount waits for a killed run to hand over its entry


class CockpitApp(App):
    TITLE = "cutover cockpit"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {CockpitCommands}

    def __init__(self, plan: Plan, journal: Journal, operations: Operations, engine: Engine,
                 clock: Clock, *, layout: str | None = None,
                 readonly: bool = False, runs_dir: Path | None = None, start_engine: bool = True,
                 layouts_dir: Path | None = None, writer: JournalWriter | None = None,
                 rehearsal=None, forecaster: Forecaster | None = None,
                 notifier: Notifier | None = None):
        files: list[str | PurePath] = list(layouts.css_files(layouts_dir))
        self.layout_names = set(layouts.available(layouts_dir))
        if not files:
            # This one app's inline CSS (Textual reads ``self.CSS``); the class's stays "".
            self.CSS = layouts.FALLBACK_CSS  # type: ignore[misc]
        super().__init__(css_path=files or None)
        self.plan = plan
        set_redactor(plan.redact)
        self.journal = journal
        self.ops = operations
        self.engine = engine
        self.clock = clock
        # A rehearsal (``cockpit.rehearsal.running.Rehearsal``): the header says so at all
        # times, and R runs the scenario's scripted reconciliation. None on a real night.
        self.rehearsal = rehearsal
        # The session's forecast when the session made the app (one fold of the journal for
        # the header and the runbook.* signals); else the app's own.
        self.forecaster = forecaster or Forecaster(plan)
        self.forced_layout = layout
        self._readonly_asked = readonly
        self.runs_dir = runs_dir or Path(journal.path).parent / "runs"
        self.start_engine = start_engine
        self.operator = operations.actor.operator
        self.layout_name = ""
        self._too_small: TooSmallScreen | None = None
        self._terminal_lost = False
        # Called once when the terminal is lost; `cockpit run` arms a watchdog with it.
        self.on_terminal_lost: Callable[[], None] | None = None
        # Every journal write goes through this one thread (shared with the session's gate
        # changes and markers when the session made the app; else the app's own).
        self._own_writer = writer is None
        self.writer = writer or JournalWriter()
        self.main = MainScreen(self, id="main")
        self.writes = Writes(self, self.writer, self.refresh_panels)
        self._quitting = False
        self._told_failures: set[str] = set()
        self.quarantined: list = []
        # A file journal's approval spool (cockpit.runbook.approvals): a watching cockpit
        # hands its answers to two-person requests to the writing one through it. A shared
        # journal needs none (every cockpit writes it).
        self.approvals: Spool | None = None if journal.shared else Spool(journal.path)
        self._entries_loop: asyncio.AbstractEventLoop | None = None
        self._entries_due = False
        self._unsubscribe_entries: Callable[[], None] | None = None
        # Comms (cockpit.notify): the session's deliverer, whose dead letters the header
        # counts and ``m`` lists. None: the plan has no notify section, or another cockpit
        # delivers.
        self.notifier = notifier
        self._unsubscribe_letters: Callable[[], None] | None = None
        # The 1 Hz tick (set at mount): a test that steps one cockpit by hand pauses it.
        self.refresh_timer: Timer | None = None

    @property
    def readonly(self) -> bool:
        """Watching only: asked for, or the journal cannot be written now (damaged, or a
        shared journal's database out of reach: that one comes back by itself)."""
        return self._readonly_asked or self.journal.readonly

    def dead_letters(self) -> list[DeadLetter]:
        return self.notifier.dead_letters() if self.notifier is not None else []

    @classmethod
    def of(cls, session, **kwargs) -> CockpitApp:
        """The cockpit on an open ``cockpit.session.Session`` (sharing its writer thread)."""
        return cls(session.plan, session.journal, session.ops, session.engine, session.clock,
                   readonly=session.readonly, writer=session.writer,
                   forecaster=session.forecaster, notifier=session.notifier, **kwargs)

    def get_default_screen(self) -> MainScreen:
        return self.main

    def _handle_exception(self, error: Exception) -> None:
        # The one door Textual sends every unhandled error through (handlers, timers,
        # compose, workers that exit on error): it would print a Traceback with its locals;
        # see cockpit.tui.crash.
        super()._handle_exception(one_line(error))

    def is_live(self) -> bool:
        """Widgets may be drawn: the app runs and its terminal is there."""
        return self._running and not self._terminal_lost

    # -- what the main screen holds, by the names callers (tests, bench) use -------------
    @property
    def selected(self) -> str | None:
        return self.main.selected

    @selected.setter
    def selected(self, step_id: str | None) -> None:
        self.main.selected = step_id

    @property
    def recon_running(self) -> bool:
        return self.main.recon_running

    @property
    def recon_progress(self):
        return self.main.recon_progress

    @property
    def recon_cancel(self) -> asyncio.Event | None:
        return self.main.recon_cancel

    @property
    def run_worker_active(self) -> bool:
        return self.main.run_worker_active

    @property
    def writes_pending(self) -> int:
        return self.writes.pending

    def refresh_panels(self) -> None:
        self.main.refresh_panels()

    def possible(self, action: str) -> bool | None:
        return self.main.possible(action)

    def why_not(self, action: str) -> str | None:
        return self.main.why_not(action)

    def blocking_gates(self, step) -> list[str]:
        return self.main.blocking_gates(step)

    def _do(self, what: str, call, then=None) -> None:
        self.main._do(what, call, then)

    async def writes_settled(self) -> None:
        await self.writes.settled()

    def gate_statuses(self) -> dict:
        return gates_as_of(self.plan, self.engine.gates, self.clock.monotonic())

    # -- mount / unmount -----------------------------------------------------------------
    async def on_mount(self) -> None:
        # The main screen lays itself out and draws once it is composed (its on_mount).
        self.look_for_quarantines()
        if self.start_engine:
            await self.engine.start()
        self.refresh_timer = self.set_interval(REFRESH_S, self._tick, name="refresh")
        # Another cockpit's action shows as soon as the journal has it, not at the next tick.
        self._entries_loop = asyncio.get_running_loop()
        self._unsubscribe_entries = self.journal.on_entries(self._entries_arrived)
        if self.notifier is not None:  # a new dead letter shows at once, as an entry does
            self._unsubscribe_letters = self.notifier.on_change(self._entries_arrived)
        if not self.is_headless:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_lost)

    def _entries_arrived(self) -> None:
        # From the journal's follower thread (or the loop): drawn on the loop, once per burst.
        loop = self._entries_loop
        if loop is None or self._entries_due:
            return
        self._entries_due = True
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to draw on
            loop.call_soon_threadsafe(self._draw_entries)

    def _draw_entries(self) -> None:
        self._entries_due = False
        self.refresh_panels()

    async def on_unmount(self) -> None:
        if self._unsubscribe_entries is not None:
            self._unsubscribe_entries()
        if self._unsubscribe_letters is not None:
            self._unsubscribe_letters()
        self.main.stop_run("the cockpit ended")
        worker = self.main._run_worker
        if worker is not None and not worker.is_finished:
            with contextlib.suppress(Exception):  # cancelled: it hands its journal entry over
                await asyncio.wait_for(worker.wait(), RUN_UNMOUNT_S)
        await self.engine.stop()
        # Whoever closes the journal after the app may do so: nothing of ours is in flight.
        await self.writer.settled()
        if self._own_writer:
            self.writer.shutdown()

    # -- layout --------------------------------------------------------------------------
    def apply_layout(self, width: int, height: int) -> None:
        need = layouts.MIN_SIZE
        if width < need[0] or height < need[1]:
            if self._too_small is None:
                self._too_small = TooSmallScreen()
                self.push_screen(self._too_small)
            self.call_after_refresh(self._too_small.show, width, height, need)
            return
        if self._too_small is not None:
            if self.screen is self._too_small:
                self.pop_screen()
            self._too_small = None
        name = self.forced_layout or layouts.by_size(width, height)
        if self.layout_names and name not in self.layout_names:
            name = "compact" if "compact" in self.layout_names else sorted(self.layout_names)[0]
        main = self.main
        if not main.ready:
            return  # it applies the layout itself once mounted
        if name != self.layout_name:
            if self.layout_name:
                main.remove_class(f"layout-{self.layout_name}")
            main.add_class(f"layout-{name}")
            self.layout_name = name
        main.show_pane()

    def on_resize(self, event) -> None:
        self.apply_layout(event.size.width, event.size.height)

    # -- the tick ------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.readonly:
            with contextlib.suppress(Exception):
                self.journal.refresh()
        if not self.is_headless and self._stdin_gone():
            self.terminal_lost()
            return
        self._tell_engine_failures()
        self.look_for_quarantines()
        self.main.approvals_tick()
        self.refresh_panels()
        if isinstance(self.screen, CockpitModal):
            self.screen.refresh_gates(self.gate_statuses())  # modals show the gates as they are

    def look_for_quarantines(self) -> None:
        """Journal lines set aside (a torn tail) and not yet acknowledged: the header shows
        them until an operator acknowledges them (journalled). Checked on the tick."""
        try:
            self.quarantined = self.journal.unacknowledged_quarantines()
        except Exception:  # noqa: BLE001 - a folder that cannot be listed is said, not fatal
            log.exception("cannot list quarantined journal lines")

    def _tell_engine_failures(self) -> None:
        """An engine loop that stopped (a bug): its gates are UNKNOWN with the reason; say so
        once, where the operator looks, and keep saying it in those gates' reasons."""
        failures = self.engine.failures
        for loop in failures.keys() - self._told_failures:
            self._told_failures.add(loop)
            self.notify(shown(f"{loop}: {failures[loop]}; the gates it feeds are UNKNOWN "
                              "until the cockpit is restarted", 300),
                        title="engine stopped", severity="error", markup=False, timeout=3600)

    # -- a worker that failed: show, journal, keep running --------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one policy (the main screen hands its workers' changes here too, as
        ``Worker.StateChanged`` does not bubble) for a worker that failed (not a refusal: those are said where
        they happen): one line on screen, no traceback, an ``internal error`` note in the
        journal through ``Operations``, and the cockpit keeps running."""
        worker = event.worker
        error = worker.error  # set whenever the state is ERROR
        if event.state is not WorkerState.ERROR or error is None or isinstance(error, Refused):
            return
        line = str(OneLine(error))
        what = worker.name or worker.group or "a worker"
        log.error("worker %s failed: %s", what, line)
        self.notify(shown(f"{what}: {line}", 300), title="internal error, the cockpit goes on",
                    severity="error", markup=False, timeout=30)
        if self.readonly or not self.is_live():
            return
        note = f"internal error in the cockpit ({shown(what, 60)}): {line}"
        self.writer.fire("internal error note", self._journal_internal_error, note)

    def _journal_internal_error(self, note: str) -> None:
        try:
            self.ops.note(note)
        except Refused:
            log.warning("the internal error could not be journalled: %s", note)

    # -- a lost terminal -----------------------------------------------------------------
    def _stdin_gone(self) -> bool:
        """A dropped SSH session leaves stdin hung up: poll reports HUP/ERR without reading."""
        try:
            fd = 0
            if not os.isatty(fd):
                return True
            poller = select.poll()
            poller.register(fd, 0)
            return any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
                       for _, ev in poller.poll(0))
        except (OSError, ValueError):
            return True

    def terminal_lost(self) -> None:
        if not self._terminal_lost:
            self._terminal_lost = True
            self.main.stop_run("the terminal was lost")  # first: nothing after it may wedge
            if self.on_terminal_lost is not None:
                self.on_terminal_lost()
            for worker in self.workers:
                worker.cancel()
            self.exit(return_code=129)

    # -- quitting ------------------------------------------------------------------------
    async def action_quit(self) -> None:
        if not self._quitting:
            self._quit_flow()

    @work(group="quit", exit_on_error=False)
    async def _quit_flow(self) -> None:
        main = self.main
        if main.recon_running:
            yes = await self.push_screen_wait(QuitScreen(
                "A reconciliation is still running.", "The run is stopped and not journalled."))
            if not yes:
                return
            main.stop_recon()
            main.stop_run("the cockpit quit")
            for worker in self.workers:
                if worker.group not in ("journal", "run", "quit"):
                    worker.cancel()
            await main.run_finished()
        elif main.run_worker_active:
            yes = await self.push_screen_wait(QuitScreen(
                "A command is still running.", "The command is killed and the step marked failed."))
            if not yes:
                return
            if main.run_worker_active:
                self._quitting = True
                main.stop_run("the cockpit quit")
                await main.run_finished()  # once the stopped run is journalled
        await self._exit_when_written()

    async def _exit_when_written(self) -> None:
        """Exit now, or once the pending writes returned: the operator sees their outcome and
        the journal is never closed under a write."""
        if self.writes.pending or self.writer.busy:
            self._quitting = True
            self.notify("waiting for the journal to record the last action, then quitting",
                        markup=False, timeout=30)
            await self.writes.settled()
        self.exit()


__all__ = ["PANES", "RECORDING_NOTICE_S", "WRITES", "CockpitApp", "safe"]
