"""Durations as people write them in plans: ``5s``, ``10m``, ``1h30m``, ``250ms``.

Every duration is finite and at most :data:`MAX_SECONDS` (30 days: longer than any cutover,
far below where a float loses the millisecond); fields narrow that further (see
``cockpit.config.base.duration``).
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+")
MAX_SECONDS = 30 * 86400.0
MAX_TEXT = 40


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number is refused because its unit would be a guess."""
    if not isinstance(text, str):
        raise DurationError(f"expected a duration such as 5s, 10m or 1h30m, got {type(text).__name__}")
    compact = text.strip().replace(" ", "")
    if len(compact) > MAX_TEXT:
        raise DurationError(f"duration is {len(compact)} characters long: write it like 5s, 10m or 1h30m")
    if not compact or not _WHOLE.fullmatch(compact):
        raise DurationError(f"bad duration {text!r}: write it like 5s, 10m or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise DurationError(f"duration {text!r} is longer than 30 days")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: 45s, 6m, 1h30m, 2h05m; never negative zero."""
    seconds = max(0.0, float(seconds))
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 1 or seconds == 0 else f"{seconds * 1000:.0f}ms"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m" if secs == 0 else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" if minutes == 0 else f"{hours}h{minutes:02d}m"


def format_clock(seconds: float) -> str:
    """hh:mm:ss for the cutover clock."""
    if not math.isfinite(seconds):
        return "--:--:--"
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
