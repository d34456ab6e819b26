"""The fault timeline: each fault journalled once, as ``rehearsal.fault``, when scenario time
passes its ``at``.

Written from an engine subscriber (it runs after every reading and every tick) through the
session's one writer thread (``Session.writer.fire``), so the UI loop never waits for an
``fsync``. "Once" holds across a restart: the ids the journal already has are never written
again, and an id is taken as written the moment it is handed to the writer.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.config.plan import Plan
from cockpit.journal import Actor
from cockpit.rehearsal.scenario import Scenario, fault_signals

FAULT = "rehearsal.fault"


def fault_data(fault, plan: Plan) -> dict:
    """The ``rehearsal.fault`` entry's data (the shared vocabulary of issue 11)."""
    return {"kind": fault.kind, "at_s": fault.at, "until_s": fault.end,
            "signals": fault_signals(fault, plan)}


def journalled_faults(entries) -> set[str]:
    return {e.subject for e in entries if e.action == FAULT and isinstance(e.subject, str)}


class FaultRecorder:
    """``recorder()`` journals every fault whose time has come and that is not journalled yet."""

    def __init__(self, session, scenario: Scenario, scenario_time: Callable[[], float]):
        self.session = session
        self.scenario = scenario
        self.scenario_time = scenario_time
        self.done = journalled_faults(session.journal.entries)
        self._actor: Actor | None = None

    def due(self, t: float) -> list:
        return [f for f in self.scenario.faults if f.id not in self.done and f.at <= t]

    def __call__(self) -> None:
        journal = self.session.journal
        if self.session.readonly or journal.readonly:
            return
        for fault in self.due(self.scenario_time()):
            self.done.add(fault.id)
            if self._actor is None:
                self._actor = Actor.system()
            self.session.writer.fire(f"rehearsal fault {fault.id}", self._append, fault)

    def _append(self, fault) -> None:
        self.session.journal.append(FAULT, actor=self._actor, subject=fault.id,
                                    data=fault_data(fault, self.session.plan))


def record_faults(session, scenario: Scenario, scenario_time: Callable[[], float]) -> Callable[[], None]:
    """Subscribe a :class:`FaultRecorder` to the session's engine; returns the unsubscriber."""
    return session.engine.subscribe(FaultRecorder(session, scenario, scenario_time))
