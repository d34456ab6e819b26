"""Synthetic signals for the demo and rehearsals, driven by the injected clock.

A value is a pure function of (source seed, signal name, clock time since the source started):

    value = base + drift_per_min * minutes + noise * u,   u uniform in [-1, 1]

clamped to ``minimum``/``maximum`` and rounded to ``decimals`` (0 for counts).
``boolean: true`` makes the reading ``value > 0.5``.
``titles`` become the reading's detail lines (e.g. ticket titles for the help-desk panel).

Faults are injected at run time with :meth:`SimulatedSource.set_override`: a fixed value, an
error, a slow answer, or a hang that never answers (the engine's timeout must catch it).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from cockpit.config.sources import Signal, Simulation
from cockpit.signals.base import SourceClient
from cockpit.signals.reading import Reading

MAX_TITLES = 20  # as many as a help-desk signal may show


@dataclass(frozen=True)
class Override:
    value: float | bool | None = None
    error: str | None = None
    hang: bool = False
    delay: float = 0.0  # clock seconds before answering


class SimulatedSource(SourceClient):
    def __init__(self, name, config, clock, redact=lambda s: s):
        super().__init__(name, config, clock, redact)
        self.started = clock.monotonic()
        self.overrides: dict[str, Override] = {}

    def set_override(self, signal_name: str, value: float | bool | None = None,
                     error: str | None = None, hang: bool = False, delay: float = 0.0) -> None:
        """Make ``signal_name`` answer ``value``, fail with ``error``, hang, or answer late."""
        self.overrides[signal_name] = Override(value, error, hang, float(delay))

    def clear_override(self, signal_name: str | None = None) -> None:
        """Back to the simulated curve for one signal (or all of them)."""
        if signal_name is None:
            self.overrides.clear()
        else:
            self.overrides.pop(signal_name, None)

    def simulated_value(self, signal_name: str, sim: Simulation) -> float | bool:
        elapsed = self.clock.monotonic() - self.started
        rng = random.Random(f"{self.config.seed}:{signal_name}:{elapsed:.3f}")
        value = sim.base + sim.drift_per_min * (elapsed / 60.0) + sim.noise * rng.uniform(-1.0, 1.0)
        if sim.minimum is not None:
            value = max(sim.minimum, value)
        if sim.maximum is not None:
            value = min(sim.maximum, value)
        if sim.boolean:
            return value > 0.5
        return round(value) if sim.decimals == 0 else round(value, sim.decimals)

    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        override = self.overrides.get(signal_name)
        if override is not None:
            if override.hang:
                await asyncio.Event().wait()  # never set: only a timeout or cancel ends this
            if override.delay > 0:
                await self.clock.sleep(override.delay)
            if override.error is not None:
                return self.error(signal_name, override.error, started)
            if override.value is not None:
                return self.value(signal_name, override.value, started)
        sim = signal.simulate or Simulation()
        titles = tuple(sim.titles[:MAX_TITLES])
        return self.value(signal_name, self.simulated_value(signal_name, sim), started, titles)
