"""Wiring one cockpit session: plan + journal + operations + engine, the same for ``run``,
``demo``, tests and the benchmark (which inject a clock, an actor or source clients)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cockpit.clock import Clock, RealClock
from cockpit.engine import Engine
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations, Refused, builtin_readings

log = logging.getLogger(__name__)


@dataclass
class Cockpit:
    plan: object
    journal: Journal
    ops: Operations
    engine: Engine
    clock: Clock
    readonly: bool

    def app(self, **kwargs):
        from cockpit.tui.app import CockpitApp

        return CockpitApp(self.plan, self.journal, self.ops, self.engine, self.clock,
                          readonly=self.readonly, **kwargs)

    def session(self, action: str, data: dict | None = None) -> None:
        """session.start / session.end: best effort (a read-only watcher writes nothing)."""
        if self.readonly or self.journal.readonly:
            return
        try:
            self.journal.append(action, actor=self.ops.actor, data=data or {})
        except Exception as exc:  # noqa: BLE001 - the session marker must not stop the cockpit
            log.warning("could not journal %s: %s", action, exc)


def open_cockpit(plan, journal_path: str | Path, operator: str, *, clock: Clock | None = None,
                 readonly: bool = False, actor: Actor | None = None, sources=None,
                 tick: float | None = None) -> Cockpit:
    """Open the journal (may raise ``JournalError``/``JournalLocked``) and wire the engine."""
    clock = clock or RealClock()
    journal = Journal.open(journal_path, cutover_id=plan.cutover.id, readonly=readonly, clock=clock)
    ops = Operations(plan, journal, actor or Actor.current(operator))

    # The evidence wants each turn of a gate once: compare with what the journal last recorded
    # (also across restarts), and skip the UNKNOWN of a fresh start before anything was read.
    recorded = {e.subject: (e.data or {}).get("state") for e in journal.entries
                if e.action == "gate.change"}

    def gate_changed(new, old) -> None:
        if journal.readonly:
            return
        state = _state_of(new)
        if old is None and state == "UNKNOWN" and not new.readings:
            return
        if recorded.get(new.gate) == state:
            return
        try:
            ops.record_gate_change(new, old)
        except Refused as exc:
            log.warning("gate change not journalled: %s", exc)
            return
        recorded[new.gate] = state

    kwargs = {} if tick is None else {"tick": tick}
    engine = Engine(plan, clock, sources=sources, builtin=lambda: builtin_readings(ops.state, clock),
                    on_gate_change=gate_changed, **kwargs)
    return Cockpit(plan, journal, ops, engine, clock, readonly or journal.readonly)


def _state_of(status) -> str:
    state = getattr(status, "state", None)
    return str(getattr(state, "value", state))
