"""A reading: one value (or one error) from one signal at one moment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    signal: str
    ts: float  # clock.now() when taken (Unix seconds, wall)
    mono: float  # clock.monotonic() at the same moment; windows and staleness use this
    value: float | bool | None = None
    error: str | None = None  # one line, cleaned (cockpit.text.clean) and redacted
    latency_ms: float | None = None
    detail: tuple[str, ...] = ()  # e.g. newest ticket titles: untrusted text, cleaned

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None

    def age(self, mono_now: float) -> float:
        return max(0.0, mono_now - self.mono)

    def to_json(self) -> dict:
        return {
            "signal": self.signal,
            "ts": self.ts,
            "value": self.value,
            "error": self.error,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
        }
