"""Formatting readings and their history for the signal panels (no widgets here)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cockpit.signals.reading import Reading
from cockpit.units import format_value

WINDOW_S = 15 * 60.0  # "change over the last 15 minutes" of clock time


def fmt(value, unit: str = "", decimals: int | None = None) -> str:
    """A value for people; the rules are :func:`cockpit.units.format_value`'s, one home."""
    return format_value(value, unit, decimals)


def current(reading: Reading | None, unit: str = "", decimals: int | None = None) -> str:
    if reading is None:
        return "no reading yet"
    if reading.error:
        return "error"
    return fmt(reading.value, unit, decimals)


def stale_after(name: str, plan) -> float:
    """Age past which a reading of ``name`` means its polls stopped arriving.

    A healthy poll loop replaces the reading (value or error) at least every ``every`` plus
    ``timeout``; twice the interval is stale for sure, and so is anything a gate reading the
    signal would already refuse (its ``max_staleness``).
    """
    sig = plan.signals.get(name)
    limit = 2 * float(sig.every) + float(sig.timeout) if sig is not None else 60.0
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w.])")
    for gate in plan.gates.values():
        if pattern.search(gate.expr):
            limit = min(limit, float(gate.max_staleness))
    return limit


def is_stale(reading: Reading | None, name: str, plan, mono_now: float | None) -> bool:
    return (reading is not None and mono_now is not None
            and reading.age(mono_now) > stale_after(name, plan))


def change(history: Sequence[Reading], now_wall: float, window: float = WINDOW_S,
           unit: str = "", decimals: int | None = None) -> str:
    """'+3 in 15m' (or over what history there is, '+3 in 4m'); '' without two values."""
    # (ts, value) of the numeric readings (``ok`` means the value is there).
    ok = [(r.ts, r.value) for r in history
          if r.ok and r.value is not None and not isinstance(r.value, bool)]
    if len(ok) < 2:
        return ""
    start_ts, start_value = next((p for p in ok if p[0] >= now_wall - window), ok[0])
    last_ts, last_value = ok[-1]
    delta = last_value - start_value
    span = max(0.0, last_ts - start_ts)
    minutes = max(1, round(span / 60.0)) if span >= 30 else 0
    sign = "+" if delta > 0 else "±" if delta == 0 else "−"
    mag = fmt(abs(delta), unit, decimals)
    return f"{sign}{mag} in {minutes}m" if minutes else f"{sign}{mag} just now"


_CMP = r"\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)"


def thresholds(signal: str, gates, unit: str = "") -> list[str]:
    """'< 5s' for each gate expression that compares ``signal`` with a number."""
    out = []
    pattern = re.compile(rf"(?<![\w.]){re.escape(signal)}{_CMP}")
    for gate in gates.values():
        for op, num in pattern.findall(gate.expr):
            out.append(f"{'=' if op == '==' else op} {format_value(float(num), unit, threshold=True)}")
    return out
