"""Wiring one cockpit session: plan + journal + operations + engine + the one journal writer
thread, the same for ``run``, ``demo``, tests and the benchmark (which inject a clock, an actor
or source clients).

Every journal write of the session (operator actions from the app, gate changes from the
engine, the session markers) goes through ``Cockpit.writer``, so a slow ``fsync`` never blocks
the UI loop and the journal keeps the order the writes were made in."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cockpit.clock import Clock, RealClock
from cockpit.engine import Engine
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations, Refused, builtin_readings
from cockpit.tui.writer import JournalWriter

log = logging.getLogger(__name__)


@dataclass
class Cockpit:
    plan: object
    journal: Journal
    ops: Operations
    engine: Engine
    clock: Clock
    readonly: bool
    writer: JournalWriter = field(default_factory=JournalWriter)

    def app(self, **kwargs):
        from cockpit.tui.app import CockpitApp

        return CockpitApp(self.plan, self.journal, self.ops, self.engine, self.clock,
                          readonly=self.readonly, writer=self.writer, **kwargs)

    def session(self, action: str, data: dict | None = None) -> None:
        """session.start / session.end: best effort (a read-only watcher writes nothing; a
        failure is logged). Queued behind every write handed over before it, so session.end
        is last. Without a running loop (before and after the app) it returns once written,
        so the caller may close the journal; on a loop it never blocks. After session.end the
        writer thread is shut down: nothing of this session is written after it."""
        if not (self.readonly or self.journal.readonly):
            self.writer.fire(action, partial(self.journal.append, action, actor=self.ops.actor,
                                             data=data or {}))
        if not _on_loop():
            self.writer.drain()
        if action == "session.end":
            self.writer.shutdown(wait=not _on_loop())

    async def writes_settled(self) -> None:
        """Until every journal write handed to the writer so far has returned (tests)."""
        await self.writer.settled()


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

    def record(new, old, state: str) -> None:
        # On the writer thread only, as is every use of ``recorded``: the order the engine
        # saw the turns is the order they are compared and written in.
        if journal.readonly or recorded.get(new.gate) == state:
            return
        try:
            ops.record_gate_change(new, old)
        except Refused as exc:
            log.warning("gate change not journalled: %s", exc)
            return
        recorded[new.gate] = state

    def gate_changed(new, old) -> None:
        # Called by the engine on the UI loop: hand the write over, never wait for it.
        state = new.state.value
        if old is None and state == "UNKNOWN" and not new.readings:
            return
        writer.fire(f"gate change {new.gate}", record, new, old, state)

    writer = JournalWriter()
    kwargs = {} if tick is None else {"tick": tick}
    engine = Engine(plan, clock, sources=sources, builtin=lambda: _builtin(journal, ops, clock),
                    on_gate_change=gate_changed, **kwargs)
    return Cockpit(plan, journal, ops, engine, clock, readonly or journal.readonly, writer)


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _builtin(journal, ops, clock) -> dict:
    """recon.* and exceptions.* readings from the replayed journal, or none at all when the
    journal is damaged: state cut short at the damage would count zero exceptions, and stale
    (or partial) is never green."""
    if journal.damage is not None:
        return {}
    return builtin_readings(ops.state, clock)
