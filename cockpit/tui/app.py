"""The cockpit app: panels fed from the engine and the replayed journal, keys turned into
``Operations`` calls.

One path for every action: key -> ``action_*`` -> modal (what exactly will happen) ->
``_do`` -> ``Operations.<verb>`` on the session's one journal writer thread (validates, appends
with fsync, or raises ``Refused``) -> back on the loop: re-read ``operations.state`` -> panels
refresh. Nothing on screen says "done" before the append returned; while it has not, every
writing action is greyed out and, past ``RECORDING_NOTICE_S``, the header says "recording…".
A slow disk therefore never freezes the keys.
Polling runs in the engine's tasks on this loop and never blocks a key; panels redraw at 1 Hz
from whatever the engine and the journal hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical

from cockpit.durations import format_duration
from cockpit.gates import as_of as gates_as_of
from cockpit.journal import JournalError
from cockpit.journal.writer import JournalWriter
from cockpit.recon.queue import record_run, titles_from
from cockpit.recon.runner import ReconInputError, run_reconciliation
from cockpit.runbook import Refused
from cockpit.runbook.commands import StepRun
from cockpit.tui import layout as layouts
from cockpit.tui.crash import one_line
from cockpit.tui.footer import KeyFooter
from cockpit.tui.palette import CockpitCommands
from cockpit.tui.panels.audit import AuditPanel
from cockpit.tui.panels.evidence import SignalPanel
from cockpit.tui.panels.gates import GatesPanel
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.panels.recon import ReconPanel
from cockpit.tui.panels.replication import ReplicationPanel
from cockpit.tui.panels.runbook import RunbookPanel, RunbookView
from cockpit.tui.panels.verdict import VerdictBar, verdict
from cockpit.tui.safe import safe, set_redactor, shown
from cockpit.tui.screens.confirm import ConfirmChoice, ConfirmScreen
from cockpit.tui.screens.forms import (
    FailScreen,
    FormResult,
    NoteScreen,
    OverrideScreen,
    QuarantineScreen,
    RollbackScreen,
    SkipScreen,
)
from cockpit.tui.screens.info import (
    GateDetailsScreen,
    HelpScreen,
    QuitScreen,
    TooSmallScreen,
    gate_detail_text,
)
from cockpit.tui.screens.recon import cancel_screen, start_screen
from cockpit.tui.screens.runlog import RunScreen
from cockpit.tui.screens.triage import TriageChoice, TriageScreen

log = logging.getLogger(__name__)

PANES = ("replication", "recon", "signals", "audit")
OWN_ACTIONS = frozenset({"cursor", "confirm", "skip", "fail", "override", "run", "rollback", "triage",
                         "note", "gates", "help", "quit", "pane", "select_next",
                         "reconcile", "cancel_recon", "ack_quarantine"})
REFRESH_S = 1.0
RECORDING_NOTICE_S = 0.3  # a write slower than this says so in the header
WRITES = ("confirm", "skip", "fail", "override", "run", "rollback", "triage", "note", "reconcile",
          "ack_quarantine")
RUN_UNMOUNT_S = 10.0  # how long the unmount waits for a killed run to hand over its entry


class CockpitApp(App):
    TITLE = "cutover cockpit"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {CockpitCommands}
    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("enter,c", "confirm", "Confirm"),
        Binding("s", "skip", "Skip"),
        Binding("o", "override", "Override"),
        Binding("r", "run", "Run"),
        Binding("b", "rollback", "Rollback"),
        Binding("x", "triage", "Triage"),
        Binding("n", "note", "Note"),
        Binding("g", "gates", "Gates"),
        # One key starts a reconciliation and, while it runs, asks to cancel it (escape too):
        # check_action hides whichever of the two does not apply now.
        Binding("R", "reconcile", "Recon"),
        Binding("R", "cancel_recon", "Cancel recon"),
        Binding("escape", "cancel_recon", "Cancel recon", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("1", "pane('replication')", "Repl", show=False),
        Binding("2", "pane('recon')", "Recon", show=False),
        Binding("3", "pane('signals')", "Signals", show=False),
        Binding("4", "pane('audit')", "Audit", show=False),
        Binding("0", "pane('')", "Hide", show=False),
    ]

    def __init__(self, plan, journal, operations, engine, clock, *, layout: str | None = None,
                 readonly: bool = False, runs_dir: Path | None = None, start_engine: bool = True,
                 layouts_dir: Path | None = None, writer: JournalWriter | None = None):
        files = layouts.css_files(layouts_dir)
        self.layout_names = set(layouts.available(layouts_dir))
        if not files:
            self.CSS = layouts.FALLBACK_CSS
        super().__init__(css_path=files or None)
        self.plan = plan
        set_redactor(getattr(plan, "redact", None))
        self.journal = journal
        self.ops = operations
        self.engine = engine
        self.clock = clock
        self.forced_layout = layout
        self.readonly = readonly or bool(getattr(journal, "readonly", False))
        self.runs_dir = runs_dir or Path(journal.path).parent / "runs"
        self.start_engine = start_engine
        self.operator = operations.actor.operator
        self.selected: str | None = None
        self.pane = ""  # compact layout: which extra panel is shown ("" = none)
        self.layout_name = ""
        self.run_worker_active = False
        self._step_run: StepRun | None = None  # the step's commands running now
        self._run_worker = None
        self.recon_running = False
        self.recon_progress = None  # newest runner.RunProgress of the run going on
        self.recon_started = 0.0  # time.monotonic() when it started (the runner's time base)
        self.recon_cancel: asyncio.Event | None = None
        self._too_small: TooSmallScreen | None = None
        self._terminal_lost = False
        # Called once when the terminal is lost; `cockpit run` arms a watchdog with it.
        self.on_terminal_lost = None
        # Every journal write goes through this one thread (shared with the session's gate
        # changes and markers when the session made the app; else the app's own).
        self._own_writer = writer is None
        self.writer = writer or JournalWriter()
        self.writes_pending = 0  # actions handed to the writer, not yet returned
        self.recording_shown = False
        self._recording_timer = None
        self._quitting = False
        self._told_failures: set[str] = set()
        self.quarantined: list = []
        self._bindings_shown: tuple | None = None

    @classmethod
    def of(cls, session, **kwargs) -> CockpitApp:
        """The cockpit on an open ``cockpit.session.Session`` (sharing its writer thread)."""
        return cls(session.plan, session.journal, session.ops, session.engine, session.clock,
                   readonly=session.readonly, writer=session.writer, **kwargs)

    def _handle_exception(self, error: Exception) -> None:
        # The one door Textual sends every unhandled error through (handlers, workers, timers,
        # compose): it would print a Traceback with its locals; see cockpit.tui.crash.
        super()._handle_exception(one_line(error))

    # -- building ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield VerdictBar(id="verdict")
        with Horizontal(id="top"):
            yield GatesPanel(id="gates")
            yield RunbookPanel(id="runbook")
        with Container(id="evidence"):
            yield ReplicationPanel(id="pane-replication", classes="pane")
            yield ReconPanel(id="pane-recon", classes="pane")
            with Vertical(id="pane-signals", classes="pane"):
                yield SignalPanel("helpdesk", "Help desk", id="helpdesk")
                yield SignalPanel("clinical", "Clinical", id="clinical")
            yield AuditPanel(id="pane-audit", classes="pane")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.selected = self.ops.state.next_step or self._first_step()
        self.apply_layout(*self.size)
        self._look_for_quarantines()
        self.refresh_panels()
        if self.start_engine:
            await self.engine.start()
        self.set_interval(REFRESH_S, self._tick, name="refresh")
        if not self.is_headless:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_lost)

    async def on_unmount(self) -> None:
        self._stop_run("the cockpit ended")
        worker = self._run_worker
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
        main = self.screen_stack[0]
        if name != self.layout_name:
            if self.layout_name:
                main.remove_class(f"layout-{self.layout_name}")
            main.add_class(f"layout-{name}")
            self.layout_name = name
        self._show_pane()

    def on_resize(self, event) -> None:
        self.apply_layout(event.size.width, event.size.height)

    def _show_pane(self) -> None:
        for name in PANES:
            self.query_one(f"#pane-{name}").set_class(name == self.pane, "-shown")
        self.query_one("#evidence").set_class(not self.pane, "-empty")

    def action_pane(self, name: str) -> None:
        self.pane = "" if name == self.pane else name
        self._show_pane()
        self.refresh_panels()

    # -- refreshing ----------------------------------------------------------------------
    def _tick(self) -> None:
        if self.readonly:
            with contextlib.suppress(Exception):
                self.journal.refresh()
        if not self.is_headless and self._stdin_gone():
            self.terminal_lost()
            return
        self._tell_engine_failures()
        self._look_for_quarantines()
        self.refresh_panels()

    def _look_for_quarantines(self) -> None:
        """Journal lines set aside (a torn tail) and not yet acknowledged: the header shows
        them until an operator acknowledges them (journalled). Checked on the tick."""
        try:
            self.quarantined = self.journal.unacknowledged_quarantines()
        except Exception:  # noqa: BLE001 - a folder that cannot be listed is said, not fatal
            log.exception("cannot list quarantined journal lines")

    def _tell_engine_failures(self) -> None:
        """An engine loop that stopped (a bug): its gates are UNKNOWN with the reason; say so
        once, where the operator looks, and keep saying it in those gates' reasons."""
        failures = getattr(self.engine, "failures", {})
        for loop in failures.keys() - self._told_failures:
            self._told_failures.add(loop)
            self.notify(shown(f"{loop}: {failures[loop]}; the gates it feeds are UNKNOWN "
                              "until the cockpit is restarted", 300),
                        title="engine stopped", severity="error", markup=False, timeout=3600)

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
            self._stop_run("the terminal was lost")  # first: nothing after it may wedge
            if self.on_terminal_lost is not None:
                self.on_terminal_lost()
            for worker in self.workers:
                worker.cancel()
            self.exit(return_code=129)

    def gate_statuses(self) -> dict:
        return gates_as_of(self.plan, self.engine.gates, self.clock.monotonic())

    def refresh_panels(self) -> None:
        # A write may return while the app shuts down (its widgets already gone).
        if not self.is_mounted or self._terminal_lost or not self._running:
            return
        state = self.ops.state
        now = self.clock.now()
        mono = self.clock.monotonic()
        gates = self.gate_statuses()
        if self.selected is None or self.plan.runbook.step(self.selected) is None:
            self.selected = state.next_step or self._first_step()
        if self.selected not in {s.id for s in self._steps()}:
            self.selected = state.next_step or self._first_step()
        self.query_one(HeaderBar).show(self.plan, state, self.operator, now, self.readonly,
                                       self.recording_shown, len(self.quarantined),
                                       self.journal.path)
        self.query_one(VerdictBar).show(verdict(self.plan, state, gates, self.ops.blocking_gates))
        overridden = {o.gate for o in state.overrides if o.step == self.selected}
        self.query_one(GatesPanel).show(self.plan.gates, gates, overridden)
        self.query_one(RunbookPanel).show(RunbookView(self.plan, state, gates, now, self.selected,
                                                      self.ops.blocking_gates))
        visible = {name for name in PANES if self.layout_name != "compact" or name == self.pane}
        latest = self.engine.latest
        if "replication" in visible:
            self.query_one(ReplicationPanel).show(self.plan, latest, self.engine.history, mono)
        if "recon" in visible:
            running = ((self.recon_progress, time.monotonic() - self.recon_started,
                        self.recon_cancel is not None and self.recon_cancel.is_set())
                       if self.recon_running else None)
            self.query_one(ReconPanel).show(state, running)
        if "signals" in visible:
            for panel in self.query(SignalPanel):
                panel.show(self.plan, latest, self.engine.history, now, mono)
        if "audit" in visible:
            self.query_one(AuditPanel).show(self.journal.entries, path=self.journal.path)
        self._bindings_changed()

    def _bindings_changed(self) -> None:
        """Tell the footer (and the palette) only when what the keys can do changed: calling
        ``refresh_bindings`` on each 1 Hz refresh is wasted work (and with Textual's Footer,
        which leaked every rebuild, grew the cockpit by about 13 MB a minute)."""
        shown = (self.screen, tuple(self.check_action(b.action, ()) for b in self.BINDINGS))
        if shown != self._bindings_shown:
            self._bindings_shown = shown
            self.refresh_bindings()

    # -- selection -----------------------------------------------------------------------
    def _steps(self) -> list:
        rb = self.plan.runbook
        return rb.rollback_steps() if self.ops.state.rollback_active else rb.all_steps()

    def _first_step(self) -> str | None:
        steps = self._steps()
        return steps[0].id if steps else None

    def selected_step(self):
        return self.plan.runbook.step(self.selected) if self.selected else None

    def action_cursor(self, delta: int) -> None:
        ids = [s.id for s in self._steps()]
        if not ids:
            return
        i = ids.index(self.selected) if self.selected in ids else 0
        self.selected = ids[max(0, min(len(ids) - 1, i + delta))]
        state = self.ops.state
        self.query_one(RunbookPanel).show(
            RunbookView(self.plan, state, self.gate_statuses(), self.clock.now(), self.selected,
                        self.ops.blocking_gates))
        self._bindings_changed()

    def action_select_next(self) -> None:
        self.selected = self.ops.state.next_step or self.selected
        self.refresh_panels()

    # -- what is possible now ------------------------------------------------------------
    def blocking_gates(self, step) -> list[str]:
        return self.ops.blocking_gates(step, self.gate_statuses())

    def check_action(self, action: str, parameters) -> bool | None:
        # App bindings stay live under a modal: only the modal's own keys may act there.
        if self.screen is not self.screen_stack[0] and action in OWN_ACTIONS:
            return False
        return self.possible(action)

    def possible(self, action: str) -> bool | None:
        """True if ``action`` can be done now; None (shown greyed) if not."""
        if action == "cancel_recon":
            return (self.recon_running and self.recon_cancel is not None
                    and not self.recon_cancel.is_set()) or False
        if action == "reconcile" and (self.plan.reconciliation is None or self.recon_running):
            return False  # hidden: nothing to compare, or R now means "cancel the run"
        if action in WRITES and (self.readonly or getattr(self.journal, "readonly", False)
                                 or self.writes_pending):
            return None  # greyed; while a write is pending, until the journal has it
        step = self.selected_step()
        state = self.ops.state
        if action in ("confirm", "skip", "fail"):
            return (step is not None and not state.steps[step.id].status.finished) or None
        if action == "override":
            return bool(self.blocking_gates(step)) or None
        if action == "run":
            return (step is not None and bool(step.run) and not self.run_worker_active) or None
        if action == "rollback":
            return not state.rollback_active or None
        if action == "triage":
            return bool(state.open_exceptions()) or None
        if action == "ack_quarantine":
            return bool(self.quarantined) or None
        return True

    # -- doing: each action ends in exactly one Operations call --------------------------
    def _do(self, what: str, call, then=None) -> None:
        """Hand one Operations call to the writer thread; once the journal has it, refresh and
        run ``then()``; on refusal say why and change nothing. Never waits on the disk."""
        self._begin_write()
        self._do_worker(what, call, then)

    @work(group="journal")
    async def _do_worker(self, what: str, call, then) -> None:
        if await self._record(what, call, begun=True) and then is not None:
            then()

    async def _record(self, what: str, call, *, begun: bool = False) -> bool:
        """``call()`` on the writer thread; True once it returned (the entry is on disk)."""
        before = self.selected
        try:
            await self._journalled(call, begun=begun)
        except Refused as exc:
            self.notify(shown(str(exc), 300), title=f"{what}: refused",
                        severity="error", markup=False, timeout=8)
            self.refresh_panels()
            return False
        if self.selected == before:  # the operator did not move on while it was recorded
            self.selected = self.ops.state.next_step or self.selected
        self.refresh_panels()
        return True

    async def _journalled(self, call, *args, begun: bool = False):
        """``call(*args)`` on the writer thread, counted as a pending write meanwhile."""
        if not begun:
            self._begin_write()
        try:
            return await self.writer.run(call, *args)
        finally:
            self._end_write()

    def _begin_write(self) -> None:
        self.writes_pending += 1
        if self._recording_timer is None:
            self._recording_timer = self.set_timer(RECORDING_NOTICE_S, self._show_recording)
        self._bindings_changed()

    def _end_write(self) -> None:
        self.writes_pending -= 1
        if self.writes_pending == 0:
            if self._recording_timer is not None:
                self._recording_timer.stop()
                self._recording_timer = None
            self.recording_shown = False
        self.refresh_panels()  # also refreshes the bindings

    def _show_recording(self) -> None:
        self._recording_timer = None
        if self.writes_pending:
            self.recording_shown = True
            self.refresh_panels()

    async def writes_settled(self) -> None:
        """Until every write this app (or the session's engine) handed over has returned and
        the view has caught up with it; for tests and quitting, never a sleep."""
        while True:
            pending = [w for w in self.workers if w.group == "journal" and not w.is_finished]
            if pending:
                done, _ = await asyncio.wait([asyncio.ensure_future(w.wait()) for w in pending])
                for task in done:  # a failed or cancelled worker has said so already
                    task.cancelled() or task.exception()
            elif self.writes_pending or self.writer.busy:
                await self.writer.settled()
                await asyncio.sleep(0)  # let the awaiting worker resume and finish
            else:
                return

    def action_confirm(self) -> None:
        step = self.selected_step()
        if step is None:
            return
        gates = self.gate_statuses()
        blocking = self.blocking_gates(step)
        if step.kind == "decision":
            blocked = f"gate {blocking[0]} is {_label(gates.get(blocking[0]))}" if blocking else None
        else:
            blocked = self.ops.can_confirm(step.id, gates)
        self.push_screen(ConfirmScreen(step, gates, blocked, bool(blocking)),
                         callback=lambda choice: self._confirmed(step, choice))

    def _confirmed(self, step, choice: ConfirmChoice | None) -> None:
        if choice is None:
            return
        if choice.kind == "override":
            self.action_override()
        elif choice.kind == "fail":
            self._open_fail(step)
        # The gates as the operator saw them when answering, taken here on the loop: the
        # writer thread only validates and records them.
        elif choice.kind == "decide":
            gates = self.gate_statuses()
            self._do("decision", lambda: self.ops.decide(
                step.id, choice.call, gates, choice.note, typed=choice.typed))
        else:
            gates = self.gate_statuses()
            self._do("confirm", lambda: self.ops.confirm(
                step.id, gates, typed=choice.typed, second_operator=choice.second_operator))

    def action_skip(self) -> None:
        step = self.selected_step()
        if step is None:
            return
        why = self.ops.can_skip(step.id, self.gate_statuses())
        if why and self.blocking_gates(step):
            # Skipping past a gate is an override of it: that path, with its own reason.
            self.notify(shown(why, 300), title="skip: override first", severity="warning",
                        markup=False)
            self.action_override()
            return
        if why:
            self.notify(shown(why, 300), title="skip: refused", severity="error", markup=False)
            return

        def done(r: FormResult | None) -> None:
            if r is not None:
                gates = self.gate_statuses()
                self._do("skip", lambda: self.ops.skip(
                    step.id, r.reason_code, r.note, gates, typed=r.typed,
                    second_operator=r.second_operator))

        self.push_screen(SkipScreen(step, self.plan.cutover.reason_codes), callback=done)

    def action_fail(self) -> None:
        step = self.selected_step()
        if step is not None:
            self._open_fail(step)

    def _open_fail(self, step) -> None:
        self.push_screen(FailScreen(step, self.plan.cutover.reason_codes),
                         callback=lambda r: r and self._do(
                             "fail", lambda: self.ops.fail(step.id, r.note, r.reason_code)))

    def action_override(self) -> None:
        step = self.selected_step()
        blocking = self.blocking_gates(step)
        if not blocking:
            self.notify("no gate blocks the selected step", markup=False)
            return
        gate = blocking[0]
        screen = OverrideScreen(step, gate, self.gate_statuses().get(gate),
                                self.plan.cutover.reason_codes)

        def done(r: FormResult | None) -> None:
            if r is not None:
                gates = self.gate_statuses()
                self._do("override", lambda: self.ops.override(
                    r.gate, step.id, r.reason_code, r.note, gates))

        self.push_screen(screen, callback=done)

    def action_rollback(self) -> None:
        state = self.ops.state
        screen = RollbackScreen(state, self.plan.cutover.reason_codes,
                                self.plan.runbook.rollback_steps())

        def reselect() -> None:
            self.selected = self.ops.state.next_step or self._first_step()
            self.refresh_panels()

        def done(r: FormResult | None) -> None:
            if r is not None:
                self._do("rollback", lambda: self.ops.start_rollback(r.reason_code, r.note),
                         then=reselect)

        self.push_screen(screen, callback=done)

    def action_ack_quarantine(self) -> None:
        self._look_for_quarantines()
        if not self.quarantined:
            self.notify("no set-aside journal lines wait for an acknowledgement", markup=False)
            return

        def done(r: FormResult | None) -> None:
            if r is not None:
                self._do("acknowledge", lambda: self.ops.acknowledge_quarantines(r.note),
                         then=self._look_for_quarantines)

        self.push_screen(QuarantineScreen(self.quarantined), callback=done)

    def action_note(self) -> None:
        self.push_screen(NoteScreen(), callback=lambda r: r and self._do(
            "note", lambda: self.ops.note(r.note)))

    def action_triage(self) -> None:
        state = self.ops.state

        def done(c: TriageChoice | None) -> None:
            if c is not None:
                self._do("triage", lambda: self.ops.triage(c.exception_id, c.category,
                                                           c.reason_code, c.note))

        self.push_screen(TriageScreen(state.open_exceptions(), self.plan.cutover.reason_codes),
                         callback=done)

    def action_gates(self) -> None:
        body = gate_detail_text(self.plan, list(self.plan.gates), self.gate_statuses(),
                                self.engine.history, self.clock.monotonic())
        self.push_screen(GateDetailsScreen(body))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self._quitting:
            return
        if self.recon_running:
            def stop(yes: bool | None) -> None:
                if yes:
                    if self.recon_cancel is not None:
                        self.recon_cancel.set()
                    self._stop_run("the cockpit quit")
                    for worker in self.workers:
                        if worker.group not in ("journal", "run"):
                            worker.cancel()
                    self._quit_after_run()

            self.push_screen(QuitScreen("A reconciliation is still running.",
                                        "The run is stopped and not journalled."), callback=stop)
            return
        if self.run_worker_active:
            def done(yes: bool | None) -> None:
                if yes and self.run_worker_active:
                    self._quitting = True
                    self._stop_run("the cockpit quit")
                    self._quit_after_run()  # once the stopped run is journalled
                elif yes:
                    self._exit_when_written()

            self.push_screen(QuitScreen("A command is still running.",
                                        "The command is killed and the step marked failed."),
                             callback=done)
            return
        self._exit_when_written()

    def _exit_when_written(self) -> None:
        """Exit now, or once the pending writes returned: the operator sees their outcome and
        the journal is never closed under a write."""
        if not (self.writes_pending or self.writer.busy):
            self.exit()
            return
        self._quitting = True
        self.notify("waiting for the journal to record the last action, then quitting",
                    markup=False, timeout=30)
        self._quit_after_writes()

    @work(group="quit")
    async def _quit_after_writes(self) -> None:
        await self.writes_settled()
        self.exit()

    # -- reconcile: the plan's reconciliation in a worker on this loop ----------------------
    def action_reconcile(self) -> None:
        recon = self.plan.reconciliation
        if recon is None or self.recon_running:
            return

        def done(yes: bool | None) -> None:
            if yes and not self.recon_running and self.possible("reconcile"):
                self.start_reconciliation()

        self.push_screen(start_screen(recon), callback=done)

    def action_cancel_recon(self) -> None:
        if not self.possible("cancel_recon"):
            return

        def done(yes: bool | None) -> None:
            if yes and self.recon_cancel is not None and self.recon_running:
                self.recon_cancel.set()
                self.notify("cancelling: checks already running finish first", markup=False)
                self.refresh_panels()

        self.push_screen(cancel_screen(), callback=done)

    def start_reconciliation(self) -> None:
        self.recon_cancel = asyncio.Event()
        self.recon_progress = None
        self.recon_started = time.monotonic()
        self.recon_running = True
        if self.layout_name == "compact":
            self.pane = "recon"  # the progress is the thing to watch now
            self._show_pane()
        self.refresh_panels()
        self.reconcile(self.recon_cancel)

    def _recon_progress(self, progress) -> None:
        # Called from the runner on this loop; the panel picks it up at the normal refresh.
        self.recon_progress = progress

    @work(exclusive=True, group="recon")
    async def reconcile(self, cancel: asyncio.Event) -> None:
        recon = self.plan.reconciliation
        try:
            report = await run_reconciliation(self.plan, progress=self._recon_progress,
                                              cancel=cancel)
        except ReconInputError as exc:
            self._recon_done()
            self.notify(shown(str(exc), 300), title="reconciliation: refused",
                        severity="error", markup=False, timeout=10)
            return
        except asyncio.CancelledError:
            cancel.set()
            self._recon_done()
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not take the cockpit down
            self._recon_done()
            self.notify(shown(f"{type(exc).__name__}: {exc}", 300),
                        title="reconciliation failed, nothing journalled", severity="error",
                        markup=False, timeout=10)
            return
        self._recon_done()
        # The same record the CLI verb makes: the queue closes only what this run fully saw,
        # and a cancelled run's unmeasured figures stay None, so it never reads as clean.
        try:
            opened, closed = await self._journalled(
                lambda: record_run(self.journal, self.ops.actor, report, self.ops.state,
                                   titles=titles_from(recon)))
        except JournalError as exc:
            self.notify(shown(str(exc), 300),
                        title="reconciliation NOT journalled", severity="error", markup=False,
                        timeout=15)
            self.refresh_panels()
            return
        self.refresh_panels()
        self._recon_outcome(report, opened, closed)

    def _recon_done(self) -> None:
        self.recon_running = False
        self.recon_progress = None
        self.recon_cancel = None

    def _recon_outcome(self, report, opened: list[str], closed: list[str]) -> None:
        counts = f"{len(opened)} exception(s) opened, {len(closed)} closed"
        errors = report.errors
        if report.cancelled:
            self.notify(f"reconciliation cancelled: not clean; {counts}", markup=False,
                        severity="warning", timeout=10)
        elif errors:
            # Fail closed: what could not be checked is an open finding, and the first reason
            # is worth a line of its own (an unreachable database, a timeout).
            self.notify(shown(f"{len(errors)} check(s) could not be made: {errors[0].detail}",
                              300), title=f"reconciliation: {counts}",
                        severity="error", markup=False, timeout=15)
        elif report.clean:
            self.notify(f"reconciliation clean; {counts}", markup=False)
        else:
            self.notify(f"reconciliation found differences; {counts}", markup=False,
                        severity="warning", timeout=10)

    # -- run: the step's commands in a worker ---------------------------------------------
    def action_run(self) -> None:
        step = self.selected_step()
        if step is None or not step.run:
            return
        why = self.ops.can_run(step.id) if hasattr(self.ops, "can_run") else None
        if why:
            self.notify(shown(why, 300), title="run: refused",
                        severity="error", markup=False)
            return
        screen = RunScreen(step)

        def done(choice: str | None) -> None:
            if choice == "confirm":
                self.selected = step.id
                self.action_confirm()

        self.push_screen(screen, callback=done)
        self.run_worker_active = True
        self._run_worker = self.run_commands(step, screen)

    @work(exclusive=True, group="run")
    async def run_commands(self, step, screen: RunScreen) -> None:
        """``cockpit.runbook.commands`` runs them (environment, output file, kill rules);
        this streams the shown lines to the modal and journals the outcome."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.now()))
        run = StepRun(step.run, cwd=self.plan.base_dir, redact=self.plan.redact,
                      runs_dir=self.runs_dir, timeout_s=step.run_timeout,
                      name=f"{step.id}-{self.journal.head[0] + 1}-{stamp}.log",
                      env_names=self.plan.runbook.env_for(step))
        run.on_line = lambda line: screen.add_line(line, run.lines_seen)
        self._step_run = run
        try:
            result = await run.run()
        except asyncio.CancelledError:
            # The cockpit is ending under the run (its group is killed already): journalled
            # as what it was, on the writer thread, which the unmount waits for.
            self.writer.fire(f"step.run of {step.id}", self._journal_abandoned, step.id, run)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the runner: say so, journal, go on
            self.writer.fire(f"step.run of {step.id}", self._journal_abandoned, step.id, run)
            self.notify(shown(f"{type(exc).__name__}: {exc}", 300), severity="error",
                        title="run failed: the step is marked failed", markup=False, timeout=15)
            if screen in self.screen_stack:
                screen.finish(None, Text("✖ internal error: see the notification", end=""))
            return
        finally:
            self._step_run = None
            self.run_worker_active = False
        recorded = await self._record("run", lambda: self.ops.record_run(
            step.id, result.exit_code, result.sha256,
            None if result.path is None else str(result.path), result.duration_s,
            size=result.size))
        outcome = Text(end="")
        if result.ok:
            outcome.append(f"✔ exit 0 in {format_duration(result.duration_s)}", style="bold green")
            outcome.append("  · y: confirm the step")
        else:
            outcome.append_text(safe(f"✖ {result.problem}", 300, style="bold red"))
            if recorded and await self._record("fail", lambda: self.ops.fail(
                    step.id, f"command failed: {result.problem}")):
                outcome.append("  · step marked failed")
        if result.path is not None:
            outcome.append_text(safe(f"\noutput {result.path.name} sha256 {result.sha256[:12]}",
                                     300, single_line=False, style="dim"))
        else:
            outcome.append("\nthe output could not be saved", style="bold red")
        if screen in self.screen_stack:
            screen.finish(0 if result.ok else result.exit_code, outcome)

    def _journal_abandoned(self, step_id: str, run: StepRun) -> None:
        result = run.abandoned()
        self.ops.record_run(step_id, result.exit_code, result.sha256,
                            None if result.path is None else str(result.path),
                            result.duration_s, size=result.size)
        self.ops.fail(step_id, f"command failed: {result.problem}")

    def _stop_run(self, reason: str) -> None:
        """Kill the running command now; its worker journals it as stopped."""
        if self._step_run is not None:
            self._step_run.stop(reason)

    @work(group="quit")
    async def _quit_after_run(self) -> None:
        worker = self._run_worker
        if worker is not None and not worker.is_finished:
            with contextlib.suppress(Exception):
                await worker.wait()
        self._exit_when_written()


def _label(status) -> str:
    return status.label() if status is not None else "UNKNOWN"


__all__ = ["CockpitApp", "safe"]
