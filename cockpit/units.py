"""Signal units and the one way values are written for people (panels, gate reasons).

A signal's unit is its ``unit:`` in the plan, or, when that is left out, inferred from the
name's suffix (:data:`SUFFIXES`): ``replication_lag_s`` is in seconds, ``chart_open_ms`` in
milliseconds, ``disk_used_pct`` a percentage, ``lag_bytes`` bytes, ``ticket_count`` a count.
Anything else is a plain number.

How each unit is written (:func:`format_value`):

    s       a duration: 0.6s, 9.4s, 45s, 1m05s, 1h31m (never "5456.48")
    ms      whole milliseconds: 820ms
    %       one decimal: 99.4%
    count   a whole number: 7
    B       bytes: 512 B, 1.2 MB
    (none)  ``decimals`` places, chosen once per signal (:func:`decimals_for`); whole
            numbers are written whole (12, not 12.00)

One precision per signal: a plain number is written with one more decimal than the finest
threshold the plan compares it with (``login_success_rate >= 0.98`` -> 0.994), at least one
and at most four; two when no gate compares it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal

from cockpit.durations import format_duration


def finite_number(value: object) -> float | None:
    """A finite number from untrusted data (journal entries, history rows), or None: a JSON
    ``false`` where a number belongs, a string, a 400-digit integer or a NaN is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None

UNITS = ("s", "ms", "%", "count", "B")
SUFFIXES = {"_s": "s", "_ms": "ms", "_pct": "%", "_bytes": "B", "_count": "count"}
DEFAULT_DECIMALS = 2
MAX_DECIMALS = 4


def infer_unit(name: str) -> str:
    """The unit a signal's name implies by its suffix, or '' (a plain number)."""
    last = name.rsplit(".", 1)[-1]
    for suffix, unit in SUFFIXES.items():
        if last.endswith(suffix):
            return unit
    return ""


def unit_of(name: str, declared: str | None = None) -> str:
    return declared if declared else infer_unit(name)


def literal_decimals(value: float) -> int:
    """Decimal places a threshold was written with: 0.98 -> 2, 5 -> 0."""
    if isinstance(value, int) or float(value).is_integer():
        return 0
    text = f"{value:.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def decimals_for(name: str, thresholds: Iterable[float] = ()) -> int:
    """How many decimals a plain-number signal is shown with, everywhere."""
    places = [literal_decimals(t) for t in thresholds]
    if not places:
        return DEFAULT_DECIMALS
    return max(1, min(MAX_DECIMALS, max(places) + 1))


def _seconds(value: float, threshold: bool) -> str:
    if value < 0:
        return "-" + _seconds(-value, threshold)
    if value >= 60:
        return format_duration(value)
    if threshold:
        return f"{_plain(value)}s"
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"


def _bytes(value: float) -> str:
    n = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


def _plain(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value)) if abs(value) < 1e15 else f"{Decimal(value):.6g}"
    return f"{value:g}"


def format_value(value, unit: str = "", decimals: int | None = None, *,
                 threshold: bool = False) -> str:
    """``value`` for people. ``threshold``: a number the plan wrote (kept exact: "< 5s",
    ">= 0.98"), not a measurement."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if abs(value) >= 10**15:
        # Beyond any real measurement (a source answering 1e39 seconds): six significant
        # digits and the unit, so the line stays short; an integer exactly, never via a float.
        shown = f"{Decimal(value):.6g}" if isinstance(value, int) else f"{value:.6g}"
        return f"{shown} {unit}" if unit else shown
    if unit == "s":
        return _seconds(value, threshold)
    if unit == "ms":
        return f"{_plain(value)}ms" if threshold else f"{value:.0f}ms"
    if unit == "%":
        return f"{_plain(value)}%" if threshold else f"{value:.1f}%"
    if unit == "count":
        return _plain(value) if threshold else f"{round(value)}"
    if unit == "B":
        return _plain(value) + " B" if threshold else _bytes(value)
    if threshold or float(value).is_integer():
        return _plain(value)  # a whole number stays whole: 12 tickets, never "12.00"
    return f"{value:.{DEFAULT_DECIMALS if decimals is None else decimals}f}"


_CMP = r"\s*(?:<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)"


def thresholds_in(name: str, exprs: Iterable[str]) -> list[float]:
    """Numbers each expression compares ``name`` with (``name < 5`` -> 5.0)."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}{_CMP}")
    return [float(n) for text in exprs for n in pattern.findall(text)]


def signal_format(plan, name: str) -> tuple[str, int]:
    """(unit, decimals) of a plan's signal: the one way it is written on every screen."""
    sig = plan.signals.get(name) if plan is not None else None
    unit = unit_of(name, getattr(sig, "unit", "") if sig is not None else "")
    exprs = [g.expr for g in plan.gates.values()] if plan is not None else []
    return unit, decimals_for(name, thresholds_in(name, exprs))
