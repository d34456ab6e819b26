"""The contract every source client keeps: ``read`` never raises.

A hung database or a garbage HTTP answer must become an error reading with a one-line reason;
an exception escaping into the engine would freeze panels or, worse, look like no news.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.clock import Clock
from cockpit.config.sources import Signal
from cockpit.signals.reading import Reading
from cockpit.text import clean


class SourceClient:
    """One configured source. Subclasses implement :meth:`_read`; :meth:`read` guards it."""

    def __init__(self, name: str, config, clock: Clock,
                 redact: Callable[[str], str] = lambda s: s):
        self.name = name
        self.config = config
        self.clock = clock
        self.redact = redact

    async def read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        try:
            return await self._read(signal_name, signal)
        except Exception as exc:  # noqa: BLE001 - the contract: never raise
            return self.error(signal_name, f"{type(exc).__name__}: {exc}", started)

    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    def value(self, signal_name: str, value: float | bool, started_mono: float,
              detail: tuple[str, ...] = ()) -> Reading:
        return Reading(
            signal=signal_name, ts=self.clock.now(), mono=self.clock.monotonic(), value=value,
            latency_ms=(self.clock.monotonic() - started_mono) * 1000.0,
            detail=tuple(clean(d, 200, single_line=True) for d in detail),
        )

    def error(self, signal_name: str, message: str, started_mono: float) -> Reading:
        return Reading(
            signal=signal_name, ts=self.clock.now(), mono=self.clock.monotonic(),
            error=clean(self.redact(message), 300, single_line=True) or "error",
            latency_ms=(self.clock.monotonic() - started_mono) * 1000.0,
        )

