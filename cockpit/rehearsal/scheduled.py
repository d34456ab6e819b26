"""Scheduled scripted reconciliations: a scenario's ``reconciliation.runs`` start by themselves
at their scenario times, as a nightly reconciliation job would, so the reconciliation panel
and the exception queue move without anyone pressing R (the demo relies on it).

A run is the same scripted run R starts (``simulate_reconciliation``), recorded the same way
(``record_run``: exceptions opened and closed, then ``recon.run``), by the system actor, with
``data.simulated.scheduled_at_s`` saying which scheduled time it was. "Once" holds across a
restart: a time the journal already has a run for is never run again, and when a resumed
rehearsal finds several times passed, only the latest is run (the others' results would be
stale the moment they were written).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cockpit.journal import Actor
from cockpit.recon.queue import titles_from
from cockpit.rehearsal.recon import simulate_reconciliation

log = logging.getLogger(__name__)


def scheduled_times(entries) -> set[float]:
    """Scheduled times the journal already has a run for."""
    out: set[float] = set()
    for e in entries:
        data = e.data if isinstance(e.data, dict) else {}
        sim = data.get("simulated") if e.action == "recon.run" else None
        at = sim.get("scheduled_at_s") if isinstance(sim, dict) else None
        if isinstance(at, (int, float)) and not isinstance(at, bool):
            out.add(float(at))
    return out


class ScheduledRecon:
    """An engine subscriber: starts the scheduled run whose time has come, one at a time."""

    def __init__(self, session, rehearsal):
        self.session = session
        self.rehearsal = rehearsal
        script = rehearsal.recon
        self.times = [float(t) for t in (script.runs if script is not None else ())]
        self.done = scheduled_times(session.journal.entries)
        self.task: asyncio.Task | None = None

    def due(self, t: float) -> float | None:
        passed = [at for at in self.times if at <= t and at not in self.done]
        return passed[-1] if passed else None

    def __call__(self) -> None:
        s = self.session
        if s.readonly or s.journal.readonly or (self.task is not None and not self.task.done()):
            return
        at = self.due(self.rehearsal.scenario_time())
        if at is None:
            return
        self.done.update(x for x in self.times if x <= at)
        self.task = asyncio.get_running_loop().create_task(self._run(at))

    async def _run(self, at: float) -> None:
        s, r = self.session, self.rehearsal
        try:
            report = await simulate_reconciliation(s.plan, r.scenario, r.clock,
                                                   t=r.scenario_time())
        except Exception:  # noqa: BLE001 - a scripted run must not take the engine's loop down
            log.exception("scheduled scripted reconciliation failed")
            return
        assert report.simulated is not None
        report.simulated["scheduled_at_s"] = at
        actor = Actor.system()
        titles = titles_from(s.plan.reconciliation)
        s.writer.fire(f"scheduled recon at {at:g}s",
                      lambda: s.ops.record_recon(report, titles=titles, actor=actor))


def schedule_recon(session, rehearsal) -> Callable[[], None] | None:
    """Subscribe a :class:`ScheduledRecon` when the scenario schedules runs; the unsubscriber."""
    script = rehearsal.recon
    if script is None or not script.runs:
        return None
    return session.engine.subscribe(ScheduledRecon(session, rehearsal))
