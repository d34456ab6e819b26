"""A reading: one value (or one error) from one signal at one moment.

A reading's value is true/false, an integer that a float holds exactly, or a finite float;
anything else handed to a reading (a string, a list, NaN, infinity, a 400-digit integer) turns
it into an error reading with a one-line reason at construction, so no later comparison can
overflow or read garbage as a number. Whether a number or true/false was wanted is the gate's
question (``cockpit.gates``): a JSON ``false`` is still never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Integers beyond this are not exactly representable as floats, so comparisons with them
# would round; a count or a latency that large is garbage, not a measurement.
MAX_EXACT_INT = 2**53


def value_problem(value: object) -> str | None:
    """Why ``value`` cannot be a reading's value, or None when it can."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else "number out of range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "value is not a finite number"
    kinds: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
    kind = kinds.get(type(value), type(value).__name__)
    return f"value is {kind}, not a number"


@dataclass(frozen=True, slots=True)
class Reading:
    signal: str
    ts: float  # clock.now() when taken (Unix seconds, wall)
    mono: float  # clock.monotonic() at the same moment; windows and staleness use this
    value: float | bool | None = None
    error: str | None = None  # one line, cleaned (cockpit.text.clean) and redacted
    latency_ms: float | None = None
    detail: tuple[str, ...] = ()  # e.g. newest ticket titles: untrusted text, cleaned

    def __post_init__(self) -> None:
        why = value_problem(self.value)
        if why is not None:
            object.__setattr__(self, "value", None)
            if self.error is None:
                object.__setattr__(self, "error", why)

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
