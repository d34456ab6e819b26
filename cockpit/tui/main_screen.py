"""The main screen: panels, the selection, what each key can do now, and the action flows.

One path for every action: key -> ``action_*`` -> a modal saying exactly what will happen
(awaited in a worker with ``push_screen_wait``) -> one ``Operations`` call through
``cockpit.tui.actions.Writes`` -> the journal has it -> panels refresh from the replayed
state. The bindings come from ``cockpit.tui.keymap``. Whether a key can act now, and in one
line why not, is decided in one place: :meth:`MainScreen.why_not`; ``check_action`` greys the
key out from it, and pressing a greyed key says the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, getters, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.worker import Worker

from cockpit.durations import format_duration
from cockpit.identity import Identity, standing
from cockpit.journal import JournalError
from cockpit.journal.local import local_path
from cockpit.recon.queue import titles_from
from cockpit.recon.runner import ReconInputError, run_reconciliation
from cockpit.runbook import Refused
from cockpit.runbook.approvals import Answer, SpoolError
from cockpit.runbook.commands import StepRun
from cockpit.runbook.forecast import Forecast
from cockpit.tui import keymap
from cockpit.tui.footer import KeyFooter
from cockpit.tui.panels.audit import AuditPanel
from cockpit.tui.panels.evidence import SignalPanel
from cockpit.tui.panels.gates import GatesPanel
from cockpit.tui.panels.header import HeaderBar, merge_notice
from cockpit.tui.panels.recon import ReconPanel
from cockpit.tui.panels.replication import ReplicationPanel
from cockpit.tui.panels.runbook import RunbookPanel, RunbookView
from cockpit.tui.panels.verdict import VerdictBar, verdict
from cockpit.tui.safe import safe, shown
from cockpit.tui.screens.approvals import ApprovalsScreen
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.forms import (
    FailScreen,
    NoteScreen,
    OverrideScreen,
    QuarantineScreen,
    RollbackScreen,
    SkipScreen,
)
from cockpit.tui.screens.info import GateDetailsScreen, HelpScreen, gate_detail_text
from cockpit.tui.screens.letters import LettersScreen
from cockpit.tui.screens.localmode import LocalModeScreen
from cockpit.tui.screens.recon import cancel_screen, simulated_start_screen, start_screen
from cockpit.tui.screens.runlog import RunScreen
from cockpit.tui.screens.triage import TriageScreen

if TYPE_CHECKING:  # app.py imports this module: the app's type is for the checker only
    from cockpit.config.plan import Plan
    from cockpit.runbook import Operations
    from cockpit.tui.app import CockpitApp

PANES = ("replication", "recon", "signals", "audit")
# The screen's bindings, all ``Binding``s (``Screen.BINDINGS`` is typed wider).
_BINDINGS = keymap.bindings()
# Which keys ``on_key`` may explain: those bound on this screen.
_BY_KEY: dict[str, list[str]] = {}
for _row in keymap.KEYS:
    for _key in filter(None, _row.keys.split(",")):
        _BY_KEY.setdefault(_key, []).append(_row.name)


# The journal action each writing key asks for (``Operations.authority``, ``access.refused``).
_ASKS = {"confirm": "step.confirm", "skip": "step.skip", "fail": "step.fail", "run": "step.run",
         "override": "gate.override", "rollback": "rollback.start",
         "triage": "exception.triage", "note": "note", "reconcile": "recon.run",
         "ack_quarantine": "journal.quarantine_ack", "letters": "notify.retry"}


def _hhmm(wall: float | None) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).strftime("%H:%M UTC") if wall else "?"


def _label(status) -> str:
    return status.label() if status is not None else "UNKNOWN"


class MainScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [*_BINDINGS]

    if TYPE_CHECKING:
        # ``self.app`` is always the CockpitApp (the only app that mounts this screen); say
        # so to the checker. At run time it stays Textual's own property.
        app = getters.app(CockpitApp)

    def __init__(self, cockpit: CockpitApp, **kwargs):
        super().__init__(**kwargs)
        # The app, held directly: ``self.app`` is a context variable, unset on the writer
        # thread where the Operations calls run.
        self.cockpit = cockpit
        self.selected: str | None = None
        self.pane = ""  # compact layout: which extra panel is shown ("" = none)
        self.run_worker_active = False
        self._step_run: StepRun | None = None  # the step's commands running now
        self._run_worker: Worker[None] | None = None
        self.recon_running = False
        self.recon_progress = None  # newest runner.RunProgress of the run going on
        self.recon_started = 0.0  # time.monotonic() when it started (the runner's time base)
        self.recon_cancel: asyncio.Event | None = None
        self._bindings_shown: tuple | None = None
        self._taking = False  # the approval spool is being taken on the writer thread
        self._identity: Identity | None = None
        self.ready = False

    # -- what the screen reads ---------------------------------------------------------
    @property
    def plan(self) -> Plan:
        return self.cockpit.plan

    @property
    def ops(self) -> Operations:
        return self.cockpit.ops

    def gate_statuses(self) -> dict:
        return self.app.gate_statuses()

    @property
    def identity(self) -> Identity:
        """Who this cockpit acts as (fixed for the session: from the actor its journal
        entries carry, never from anything typed here)."""
        if self._identity is None:
            actor = self.ops.actor
            self._identity = standing(self.plan, actor.operator, actor.os_user)
        return self._identity

    def forecast(self, now: float) -> Forecast | None:
        """The finish forecast at ``now``: the journal's new entries folded in once each.
        None from a damaged journal (no forecast from evidence cut short)."""
        if self.cockpit.journal.damage is not None:
            return None
        return self.app.forecaster.forecast(self.cockpit.journal.entries, now)

    # -- building ----------------------------------------------------------------------
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

    def on_mount(self) -> None:
        self.ready = True  # composed: the panels may be drawn (is_mounted is set only after this)
        self.selected = self.ops.state.next_step or self._first_step()
        self.app.apply_layout(*self.app.size)
        self.refresh_panels()

    def show_pane(self) -> None:
        for name in PANES:
            self.query_one(f"#pane-{name}").set_class(name == self.pane, "-shown")
        self.query_one("#evidence").set_class(not self.pane, "-empty")

    def action_pane(self, name: str) -> None:
        self.pane = "" if name == self.pane else name
        self.show_pane()
        self.refresh_panels()

    # -- refreshing --------------------------------------------------------------------
    def refresh_panels(self) -> None:
        app = self.app
        # A write may return while the app shuts down (its widgets already gone).
        if not self.ready or not app.is_live():
            return
        state = self.ops.state
        now = app.clock.now()
        mono = app.clock.monotonic()
        gates = self.gate_statuses()
        if self.selected not in {s.id for s in self._steps()}:
            self.selected = state.next_step or self._first_step()
        fc = self.forecast(now)
        self.query_one(HeaderBar).show(self.plan, state, app.operator, now, app.readonly,
                                       app.writes.recording_shown, len(app.quarantined),
                                       app.journal.path, forecast=fc,
                                       rehearsal=app.rehearsal.marker if app.rehearsal else None,
                                       pending=len(state.pending(now)),
                                       identity=self.identity, link=app.journal.link(),
                                       undelivered=len(app.dead_letters()),
                                       notice=merge_notice(state, now))
        self.query_one(VerdictBar).show(verdict(self.plan, state, gates, self.ops.blocking_gates))
        overridden = {o.gate for o in state.overrides if o.step == self.selected}
        self.query_one(GatesPanel).show(self.plan.gates, gates, overridden)
        self.query_one(RunbookPanel).show(RunbookView(self.plan, state, gates, now, self.selected,
                                                      self.ops.blocking_gates, fc))
        visible = {name for name in PANES if app.layout_name != "compact" or name == self.pane}
        engine = app.engine
        latest = engine.latest
        if "replication" in visible:
            self.query_one(ReplicationPanel).show(self.plan, latest, engine.history, mono)
        if "recon" in visible:
            running = ((self.recon_progress, time.monotonic() - self.recon_started,
                        self.recon_cancel is not None and self.recon_cancel.is_set(),
                        self.recon_script() is not None)
                       if self.recon_running else None)
            self.query_one(ReconPanel).show(state, running)
        if "signals" in visible:
            for panel in self.query(SignalPanel):
                panel.show(self.plan, latest, engine.history, now, mono)
        if "audit" in visible:
            self.query_one(AuditPanel).show(app.journal.entries, path=app.journal.path)
        self.bindings_changed()

    def bindings_changed(self) -> None:
        """Tell the footer (and the palette) only when what the keys can do changed: calling
        ``refresh_bindings`` on each 1 Hz refresh is wasted work (and with Textual's Footer,
        which leaked every rebuild, grew the cockpit by about 13 MB a minute)."""
        now = (self.app.screen, tuple(self.check_action(b.action.split("(")[0], ())
                                      for b in _BINDINGS))
        if now != self._bindings_shown:
            self._bindings_shown = now
            self.refresh_bindings()

    # -- selection ---------------------------------------------------------------------
    def _phases(self) -> list:
        rb = self.plan.runbook
        return list(rb.rollback.phases if self.ops.state.rollback_active else rb.phases)

    def _steps(self) -> list:
        rb = self.plan.runbook
        return rb.rollback_steps() if self.ops.state.rollback_active else rb.all_steps()

    def _first_step(self) -> str | None:
        steps = self._steps()
        return steps[0].id if steps else None

    def selected_step(self):
        return self.plan.runbook.step(self.selected) if self.selected else None

    def _show_selection(self) -> None:
        now = self.app.clock.now()
        self.query_one(RunbookPanel).show(RunbookView(
            self.plan, self.ops.state, self.gate_statuses(), now, self.selected,
            self.ops.blocking_gates, self.forecast(now)))
        self.bindings_changed()

    def action_cursor(self, delta: int) -> None:
        ids = [s.id for s in self._steps()]
        if not ids:
            return
        i = ids.index(self.selected) if self.selected in ids else 0
        self.selected = ids[max(0, min(len(ids) - 1, i + delta))]
        self._show_selection()

    def action_phase(self, delta: int) -> None:
        """Show the previous / next phase (its first step selected): browsing only, the
        actions say why they cannot act on a phase that is not open."""
        phases = [p for p in self._phases() if p.steps]
        if not phases:
            return
        at = next((i for i, p in enumerate(phases)
                   if any(s.id == self.selected for s in p.steps)), 0)
        phase = phases[max(0, min(len(phases) - 1, at + delta))]
        self.selected = phase.steps[0].id
        self._show_selection()

    def action_select_next(self) -> None:
        self.selected = self.ops.state.next_step or self.selected
        self.refresh_panels()

    def _moved_on(self, before: str | None) -> None:
        """After a write: to the next step, unless the operator moved on meanwhile."""
        if self.selected == before:
            self.selected = self.ops.state.next_step or self.selected

    # -- what is possible now: the one rule ------------------------------------------------
    def blocking_gates(self, step) -> list[str]:
        return self.ops.blocking_gates(step, self.gate_statuses())

    def check_action(self, action: str, parameters) -> bool | None:
        return self.possible(action)

    def possible(self, action: str) -> bool | None:
        """True if ``action`` can be done now; None (shown greyed) if not; False (hidden)
        where its key means something else now (R: start or cancel a reconciliation)."""
        if action == "cancel_recon":
            return self.recon_running and not self._cancel_asked()
        if action == "reconcile" and self.recon_running:
            return False
        return None if self.why_not(action) else True

    def _cancel_asked(self) -> bool:
        return self.recon_cancel is None or self.recon_cancel.is_set()

    def why_not(self, action: str) -> str | None:
        """In one line, why ``action`` cannot act now; None if it can."""
        app = self.app
        state = self.ops.state
        if action == "cancel_recon":
            if not self.recon_running:
                return "no reconciliation is running"
            return "the reconciliation is already being cancelled" if self._cancel_asked() else None
        if action == "reconcile":
            if self.plan.reconciliation is None and self.recon_script() is None:
                if app.rehearsal is not None:
                    return ("neither the plan (no reconciliation section) nor the scenario "
                            "(no reconciliation script) has anything to compare")
                return "the plan has no reconciliation section: nothing to compare"
            if self.recon_running:
                return "a reconciliation is already running (R cancels it)"
        if action in keymap.WRITES:
            if app.readonly or app.journal.readonly:
                if not self.identity.may_write:
                    return f"this cockpit is read-only: {self.identity.why}"
                return "this cockpit is read-only: it watches the journal and writes nothing"
            authority = self.authority(action)
            if authority:
                return authority
            if app.writes.pending:
                return "waiting for the journal to record the last action"
        if action == "rollback" and state.rollback_active:
            by = f" by {shown(state.rollback_by, 40)}" if state.rollback_by else ""
            why = f" ({shown(state.rollback_reason, 40)})" if state.rollback_reason else ""
            return f"rollback already in progress since {_hhmm(state.rollback_at)}{by}{why}"
        if action == "approvals":
            if not state.pending(app.clock.now()):
                return "no two-person request waits for approval"
            if app.journal.readonly and app.approvals is None:
                return ("this cockpit is read-only and cannot hand an answer to the cockpit "
                        "that writes the journal")
            if app.writes.pending:
                return "waiting for the journal to record the last action"
        if action == "letters":
            if app.notifier is None:
                return "the plan has no notify section (or this cockpit does not deliver it)"
            if not app.dead_letters():
                return "every message to the command channel was delivered or is on its way"
        if action == "go_local":  # a watching cockpit's journal says so (Operations asks it)
            if app.writes.pending:
                return "waiting for the journal to record the last action"
            return self.ops.can_go_local()
        if action == "triage" and not state.open_exceptions():
            return "no open exceptions to triage"
        if action == "ack_quarantine" and not app.quarantined:
            return "no set-aside journal lines wait for an acknowledgement"
        if action in ("confirm", "skip", "fail", "override", "run"):
            step = self.selected_step()
            if step is None:
                return "no step selected"
            st = state.steps[step.id].status
            if st.finished:
                return f"{step.id} is already {st.value}"
            phase = self.plan.runbook.phase_of(step.id)
            if phase is not None and state.open_phases and phase.id not in state.open_phases:
                return (f"{step.id} is in phase '{shown(phase.id, 40)}', not open yet (now: "
                        f"'{shown(state.phase or '-', 40)}'): browse only")
            if action == "override" and not self.blocking_gates(step):
                return f"no gate blocks {step.id}"
            if action == "run":
                if not step.run:
                    return f"{step.id} has no commands to run"
                if self.run_worker_active:
                    return "a command is already running"
        return None

    def on_key(self, event: events.Key) -> None:
        """A key that cannot act now says why, in one line, instead of doing nothing."""
        names = _BY_KEY.get(event.key)
        if not names or any(self.possible(n) for n in names):
            return
        reasons = [(n, self.why_not(n)) for n in names if self.possible(n) is None]
        name, why = reasons[0] if reasons else ("", None)
        if why:
            event.stop()
            event.prevent_default()
            self.app.notify(why, title=f"{event.key}: not now", markup=False,
                            severity="warning", timeout=5)
            if why == self.authority(name):
                # Refused for who this is, not for "not now": journalled, once per press.
                asked = self._asked(name)
                self.app.writer.fire("access.refused", self.ops.refuse, *asked, why)

    def _asked(self, action: str) -> tuple[str, str | None]:
        """The journal action a key asks for, and its target (the selected step, or the gate
        an override would be for)."""
        step = self.selected_step()
        if action == "confirm" and step is not None and step.kind == "decision":
            return "decision.record", step.id
        if action == "override":
            blocking = self.blocking_gates(step) if step is not None else []
            return "gate.override", blocking[0] if blocking else None
        asked = _ASKS.get(action, action)
        return asked, step.id if step is not None and asked.startswith("step.") else None

    def authority(self, action: str) -> str | None:
        """Why this operator may never do ``action`` here, by authority (who this session is,
        what its role permits: ``Operations.authority``), or None."""
        if action not in keymap.WRITES:
            return None
        return self.ops.authority(*self._asked(action))

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)  # the app's one policy for a failed worker

    # -- doing: each action ends in exactly one Operations call --------------------------
    def _do(self, what: str, call, then=None) -> None:
        before = self.selected
        self.app.writes.do(what, call, then, on_done=lambda: self._moved_on(before))

    async def _record(self, what: str, call) -> bool:
        before = self.selected
        return await self.app.writes.record(what, call, on_done=lambda: self._moved_on(before))

    def _refused(self, what: str, why: str) -> None:
        self.app.notify(shown(why, 300), title=f"{what}: refused", severity="error",
                        markup=False)

    @work(group="flow", exit_on_error=False)
    async def action_confirm(self) -> None:
        step = self.selected_step()
        if step is None:
            return
        gates = self.gate_statuses()
        blocking = self.blocking_gates(step)
        if step.kind == "decision":
            blocked = f"gate {blocking[0]} is {_label(gates.get(blocking[0]))}" if blocking else None
        else:
            blocked = self.ops.can_confirm(step.id, gates)
        choice = await self.app.push_screen_wait(
            ConfirmScreen(step, gates, blocked, bool(blocking)))
        if choice is None:
            return
        if choice.kind == "override":
            await self._override(step)
            return
        if choice.kind == "fail":
            await self._fail(step)
            return
        # The gates as the operator saw them when answering, taken here on the loop: the
        # writer thread only validates and records them.
        gates = self.gate_statuses()
        if choice.kind == "decide":
            self._do("decision", lambda: self.ops.decide(
                step.id, choice.call, gates, choice.note, typed=choice.typed))
        else:
            self._do("confirm", lambda: self.ops.confirm(step.id, gates, typed=choice.typed),
                     then=self._approval_asked if step.two_person else None)

    def _approval_asked(self) -> None:
        """After a two-person request was journalled: say what happens next."""
        self.app.notify("asked for a second person's approval: they answer from their own "
                        "cockpit (a); the step is done once they approve", markup=False,
                        timeout=10)

    @work(group="flow", exit_on_error=False)
    async def action_skip(self) -> None:
        step = self.selected_step()
        if step is None:
            return
        why = self.ops.can_skip(step.id, self.gate_statuses())
        if why and self.blocking_gates(step):
            # Skipping past a gate is an override of it: that path, with its own reason.
            self.app.notify(shown(why, 300), title="skip: override first", severity="warning",
                            markup=False)
            await self._override(step)
            return
        if why:
            self._refused("skip", why)
            return
        r = await self.app.push_screen_wait(
            SkipScreen(step, self.plan.cutover.reason_codes, self.gate_statuses()))
        if r is not None:
            gates = self.gate_statuses()
            self._do("skip", lambda: self.ops.skip(step.id, r.reason_code, r.note, gates,
                                                   typed=r.typed),
                     then=self._approval_asked if step.two_person else None)

    @work(group="flow", exit_on_error=False)
    async def action_fail(self) -> None:
        step = self.selected_step()
        if step is not None:
            await self._fail(step)

    async def _fail(self, step) -> None:
        r = await self.app.push_screen_wait(FailScreen(step, self.plan.cutover.reason_codes))
        if r is not None:
            self._do("fail", lambda: self.ops.fail(step.id, r.note, r.reason_code))

    @work(group="flow", exit_on_error=False)
    async def action_override(self) -> None:
        await self._override(self.selected_step())

    async def _override(self, step) -> None:
        blocking = self.blocking_gates(step)
        if not blocking:
            self.app.notify("no gate blocks the selected step", markup=False)
            return
        gate = blocking[0]
        r = await self.app.push_screen_wait(OverrideScreen(
            step, gate, self.gate_statuses().get(gate), self.plan.cutover.reason_codes))
        if r is not None:
            gates = self.gate_statuses()
            self._do("override", lambda: self.ops.override(
                r.gate, step.id, r.reason_code, r.note, gates))

    @work(group="flow", exit_on_error=False)
    async def action_rollback(self) -> None:
        two = self.plan.runbook.rollback.two_person
        r = await self.app.push_screen_wait(RollbackScreen(
            self.ops.state, self.plan.cutover.reason_codes, self.plan.runbook.rollback_steps(),
            two_person=two))
        if r is None:
            return
        if two:
            self._do("rollback", lambda: self.ops.start_rollback(r.reason_code, r.note),
                     then=self._approval_asked)
            return

        def reselect() -> None:
            self.selected = self.ops.state.next_step or self._first_step()
            self.refresh_panels()

        self._do("rollback", lambda: self.ops.start_rollback(r.reason_code, r.note),
                 then=reselect)

    @work(group="flow", exit_on_error=False)
    async def action_approvals(self) -> None:
        app = self.app
        ops = self.ops
        via = None
        if app.journal.readonly:
            via = ("this cockpit watches the journal: your answer is handed to the cockpit "
                   "that writes it, which checks it as you and records it")
        c = await app.push_screen_wait(ApprovalsScreen(
            self.plan, ops.state.pending(app.clock.now()), self.gate_statuses(), app.clock.now,
            lambda req: ops.same_person(req.requester, ops.actor), via))
        if c is None:
            return
        gates = self.gate_statuses()
        if app.journal.readonly:
            self.hand_over(c, gates)
            return
        if c.kind == "approve":
            def reselect() -> None:
                if ops.state.rollback_active:
                    self.selected = ops.state.next_step or self._first_step()
                self.refresh_panels()

            self._do("approve", lambda: ops.approve(c.request, gates, typed=c.typed),
                     then=reselect)
        elif c.kind == "reject":
            self._do("reject", lambda: ops.reject(c.request, c.note))
        else:
            self._do("withdraw", lambda: ops.withdraw(c.request, c.note))

    @work(group="flow", exit_on_error=False)
    async def action_letters(self) -> None:
        app = self.app
        c = await app.push_screen_wait(LettersScreen(app.dead_letters(), app.clock.now))
        if c is None:
            return
        if c.kind == "retry":
            self._do("retry message", lambda: self.ops.notify_retry(c.key, c.note))
        else:
            self._do("dismiss message", lambda: self.ops.notify_dismiss(c.key, c.note))

    def hand_over(self, c, gates: dict) -> None:
        """A watching cockpit's answer, as a spool file for the cockpit that writes."""
        app = self.app
        spool = app.approvals
        if spool is None:
            return
        answer = Answer(c.kind, c.request, self.ops.actor, c.typed, c.note,
                        {g: s.to_json() for g, s in gates.items()})
        try:
            spool.submit(answer)
        except SpoolError as exc:
            self._refused(c.kind, str(exc))
            return
        app.notify(f"{c.kind} handed to the cockpit that writes the journal; its answer "
                   "shows here within seconds", markup=False, timeout=8)

    def approvals_tick(self) -> None:
        """On the app's tick. The writing cockpit takes the answers other cockpits on this
        host left in the spool, on the writer thread (each checked and journalled as its
        author, or refused); a watching one shows the answers to its own."""
        app = self.app
        spool = app.approvals
        if spool is None or not self.ready:
            return
        if app.journal.readonly:
            for line in spool.answers_for(self.ops.actor.session):
                app.notify(shown(line, 300), title="your approval answer", markup=False,
                           severity="error" if line.startswith("not ") else "information",
                           timeout=15)
            return
        if self._taking or not spool.dir.is_dir():
            return
        self._taking = True
        gates = self.gate_statuses()
        ops = self.ops

        def take() -> None:
            try:
                spool.take(ops, gates)
            finally:
                self._taking = False

        app.writer.fire("approval spool", take)

    @work(group="flow", exit_on_error=False)
    async def action_ack_quarantine(self) -> None:
        app = self.app
        app.look_for_quarantines()
        if not app.quarantined:
            app.notify("no set-aside journal lines wait for an acknowledgement", markup=False)
            return
        r = await app.push_screen_wait(QuarantineScreen(app.quarantined))
        if r is not None:
            self._do("acknowledge", lambda: self.ops.acknowledge_quarantines(r.note),
                     then=app.look_for_quarantines)

    @work(group="flow", exit_on_error=False)
    async def action_go_local(self) -> None:
        app = self.app
        why = self.why_not("go_local")
        if why:
            app.notify(shown(why, 300), title="local mode: not now", markup=False,
                       severity="warning")
            return
        r = await app.push_screen_wait(LocalModeScreen(
            app.journal.link() or "", str(local_path(app.journal.path)),
            self.plan.cutover.reason_codes))
        if r is not None:
            self._do("local mode", lambda: self.ops.go_local(r.reason_code or "", r.note))

    @work(group="flow", exit_on_error=False)
    async def action_note(self) -> None:
        r = await self.app.push_screen_wait(NoteScreen())
        if r is not None:
            self._do("note", lambda: self.ops.note(r.note))

    @work(group="flow", exit_on_error=False)
    async def action_triage(self) -> None:
        c = await self.app.push_screen_wait(TriageScreen(self.ops.state.open_exceptions(),
                                                         self.plan.cutover.reason_codes))
        if c is not None:
            self._do("triage", lambda: self.ops.triage(c.exception_id, c.category,
                                                       c.reason_code, c.note))

    def action_gates(self) -> None:
        app = self.app

        def body(gates: dict) -> Text:
            return gate_detail_text(self.plan, list(self.plan.gates), gates,
                                    app.engine.history, app.clock.monotonic())

        app.push_screen(GateDetailsScreen(body(self.gate_statuses()), body))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        await self.app.action_quit()

    # -- reconcile: the plan's reconciliation in a worker on this loop ----------------------
    def recon_script(self):
        """The scenario's scripted reconciliation in a rehearsal, or None: R runs it instead
        of the plan's (a rehearsal never reads the clinical databases on cue)."""
        rehearsal = self.app.rehearsal
        return None if rehearsal is None else rehearsal.recon

    @work(group="flow", exit_on_error=False)
    async def action_reconcile(self) -> None:
        recon = self.plan.reconciliation
        script = self.recon_script()
        if (recon is None and script is None) or self.recon_running:
            return
        ask = (simulated_start_screen(self.app.rehearsal, self.plan) if script is not None
               else start_screen(recon))
        yes = await self.app.push_screen_wait(ask)
        if yes and not self.recon_running and self.possible("reconcile"):
            self.start_reconciliation()

    @work(group="flow", exit_on_error=False)
    async def action_cancel_recon(self) -> None:
        if not self.possible("cancel_recon"):
            return
        yes = await self.app.push_screen_wait(cancel_screen())
        if yes and self.recon_cancel is not None and self.recon_running:
            self.recon_cancel.set()
            self.app.notify("cancelling: checks already running finish first", markup=False)
            self.refresh_panels()

    def start_reconciliation(self) -> None:
        self.recon_cancel = asyncio.Event()
        self.recon_progress = None
        self.recon_started = time.monotonic()
        self.recon_running = True
        if self.app.layout_name == "compact":
            self.pane = "recon"  # the progress is the thing to watch now
            self.show_pane()
        self.refresh_panels()
        self.reconcile(self.recon_cancel)

    def _recon_progress(self, progress) -> None:
        # Called from the runner on this loop; the panel picks it up at the normal refresh.
        self.recon_progress = progress

    def stop_recon(self) -> None:
        if self.recon_cancel is not None:
            self.recon_cancel.set()

    @work(exclusive=True, group="recon", exit_on_error=False)
    async def reconcile(self, cancel: asyncio.Event) -> None:
        app = self.app
        recon = self.plan.reconciliation
        try:
            if self.recon_script() is not None:
                report = await app.rehearsal.reconcile(self.plan, progress=self._recon_progress,
                                                       cancel=cancel)
            else:
                report = await run_reconciliation(self.plan, progress=self._recon_progress,
                                                  cancel=cancel)
        except ReconInputError as exc:
            self._recon_done()
            app.notify(shown(str(exc), 300), title="reconciliation: refused",
                       severity="error", markup=False, timeout=10)
            return
        except asyncio.CancelledError:
            cancel.set()
            self._recon_done()
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not take the cockpit down
            self._recon_done()
            app.notify(shown(f"{type(exc).__name__}: {exc}", 300),
                       title="reconciliation failed, nothing journalled", severity="error",
                       markup=False, timeout=10)
            return
        self._recon_done()
        # The same record the CLI verb makes: the queue closes only what this run fully saw,
        # and a cancelled run's unmeasured figures stay None, so it never reads as clean.
        try:
            opened, closed = await app.writes.journalled(
                lambda: self.ops.record_recon(report, titles=titles_from(recon)))
        except (JournalError, Refused) as exc:
            app.notify(shown(str(exc), 300), title="reconciliation NOT journalled",
                       severity="error", markup=False, timeout=15)
            self.refresh_panels()
            return
        self.refresh_panels()
        self._recon_outcome(report, opened, closed)

    def _recon_done(self) -> None:
        self.recon_running = False
        self.recon_progress = None
        self.recon_cancel = None

    def _recon_outcome(self, report, opened: list[str], closed: list[str]) -> None:
        notify = self.app.notify
        counts = f"{len(opened)} exception(s) opened, {len(closed)} closed"
        errors = report.errors
        if report.cancelled:
            notify(f"reconciliation cancelled: not clean; {counts}", markup=False,
                   severity="warning", timeout=10)
        elif errors:
            # Fail closed: what could not be checked is an open finding, and the first reason
            # is worth a line of its own (an unreachable database, a timeout).
            notify(shown(f"{len(errors)} check(s) could not be made: {errors[0].detail}", 300),
                   title=f"reconciliation: {counts}", severity="error", markup=False,
                   timeout=15)
        elif report.clean:
            notify(f"reconciliation clean; {counts}", markup=False)
        else:
            notify(f"reconciliation found differences; {counts}", markup=False,
                   severity="warning", timeout=10)

    # -- run: the step's commands in a worker ---------------------------------------------
    def action_run(self) -> None:
        step = self.selected_step()
        if step is None or not step.run:
            return
        why = self.ops.can_run(step.id)
        if why:
            self._refused("run", why)
            return
        screen = RunScreen(step)

        def done(choice: str | None) -> None:
            if choice == "confirm":
                self.selected = step.id
                self.action_confirm()

        # A callback, not a waiting worker: the run's own worker is what tests and the
        # unmount wait for, and the modal must be up before the first line arrives.
        self.app.push_screen(screen, callback=done)
        self.run_worker_active = True
        self._run_worker = self.run_commands(step, screen)

    @work(exclusive=True, group="run", exit_on_error=False)
    async def run_commands(self, step, screen: RunScreen) -> None:
        """``cockpit.runbook.commands`` runs them (environment, output file, kill rules);
        this streams the shown lines to the modal and journals the outcome."""
        app = self.app
        plan = self.plan
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(app.clock.now()))
        run = StepRun(step.run, cwd=plan.base_dir, redact=plan.redact,
                      runs_dir=app.runs_dir, timeout_s=step.run_timeout,
                      name=f"{step.id}-{app.journal.head[0] + 1}-{stamp}.log",
                      env_names=plan.runbook.env_for(step))
        run.on_line = lambda line: screen.add_line(line, run.lines_seen)
        self._step_run = run
        try:
            result = await run.run()
        except asyncio.CancelledError:
            # The cockpit is ending under the run (its group is killed already): journalled
            # as what it was, on the writer thread, which the unmount waits for.
            app.writer.fire(f"step.run of {step.id}", _journal_abandoned, self.ops, step.id, run)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the runner: say so, journal, go on
            app.writer.fire(f"step.run of {step.id}", _journal_abandoned, self.ops, step.id, run)
            app.notify(shown(f"{type(exc).__name__}: {exc}", 300), severity="error",
                       title="run failed: the step is marked failed", markup=False, timeout=15)
            if screen in app.screen_stack:
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
        if result.path is not None and result.sha256 is not None:  # both or neither
            outcome.append_text(safe(f"\noutput {result.path.name} sha256 {result.sha256[:12]}",
                                     300, single_line=False, style="dim"))
        else:
            outcome.append("\nthe output could not be saved", style="bold red")
        if screen in app.screen_stack:
            screen.finish(0 if result.ok else result.exit_code, outcome)

    def stop_run(self, reason: str) -> None:
        """Kill the running command now; its worker journals it as stopped."""
        if self._step_run is not None:
            self._step_run.stop(reason)

    async def run_finished(self) -> None:
        worker = self._run_worker
        if worker is not None and not worker.is_finished:
            with contextlib.suppress(Exception):  # cancelled or failed: it said so already
                await worker.wait()


def _journal_abandoned(ops, step_id: str, run: StepRun) -> None:
    """On the writer thread (no app context there: ``ops`` is handed in)."""
    result = run.abandoned()
    ops.record_run(step_id, result.exit_code, result.sha256,
                   None if result.path is None else str(result.path),
                   result.duration_s, size=result.size)
    ops.fail(step_id, f"command failed: {result.problem}")
