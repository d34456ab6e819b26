"""A source client that answers from the scenario's script instead of a real system.

Its readings go through the same door as every real one (``SourceClient.value``/``error`` and
``Reading``), so the engine, the gates and the panels cannot tell them apart: a value is a
number or true/false, ticket titles are cleaned detail lines, a garbage answer becomes an
error reading (``Reading`` refuses anything that is not a number), and a hang is a read that
never returns, which only the engine's timeout ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cockpit.clock import Clock
from cockpit.config.plan import Plan
from cockpit.config.sources import Signal
from cockpit.rehearsal.scenario import Scenario
from cockpit.rehearsal.script import answer
from cockpit.signals.base import SourceClient
from cockpit.signals.reading import Reading


class ScriptedSource(SourceClient):
    """One replaced source. ``scenario_time()`` is seconds since the rehearsal began."""

    def __init__(self, name: str, plan: Plan, scenario: Scenario, clock: Clock,
                 scenario_time: Callable[[], float]):
        super().__init__(name, plan.sources[name], clock, plan.redact)
        self.plan = plan
        self.scenario = scenario
        self.scenario_time = scenario_time

    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        said = answer(self.scenario, self.plan, signal_name, self.scenario_time())
        if said.hang:
            await asyncio.Event().wait()  # never set: only the engine's timeout ends this read
        if said.garbage is not None:
            # A text answer where a number belongs: ``Reading`` turns it into an error reading.
            return self.value(signal_name, said.garbage, started)  # type: ignore[arg-type]
        if said.error is not None:
            return self.error(signal_name, said.error, started)
        assert said.value is not None
        return self.value(signal_name, said.value, started, said.titles)


def scripted_sources(plan: Plan, scenario: Scenario, clock: Clock,
                     scenario_time: Callable[[], float], *, real: bool = True) -> dict[str, SourceClient]:
    """Every source the plan's signals read: scripted for those the scenario replaces, the
    real client (``cockpit.signals.loaders``) for the others when ``real``."""
    used = {sig.source for sig in plan.signals.values()}
    used |= {sig.heartbeat.target for sig in plan.signals.values() if sig.heartbeat}
    out: dict[str, SourceClient] = {}
    for name in sorted(used):
        if name not in plan.sources:
            continue
        if name in scenario.replaces:
            out[name] = ScriptedSource(name, plan, scenario, clock, scenario_time)
        elif real:
            from cockpit.signals.loaders import make_source  # imports httpx, psycopg: late

            try:
                out[name] = make_source(name, plan.sources[name], clock, plan.redact)
            except ValueError:
                continue  # the engine says "source ... is not configured" for its signals
    return out
