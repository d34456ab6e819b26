"""Shared pieces of the plan model: strict base class and field types."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from cockpit.durations import parse_duration


class Strict(BaseModel):
    """Unknown keys are errors (``requries`` must not pass silently); values are not coerced;
    numbers are finite (`.inf` and `.nan` are refused where they are written)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, (int, float)):
            raise ValueError(f"duration {value!r} needs a unit: write it like {value}s or {value}m")
        raise ValueError("expected a duration such as 5s, 10m or 1h30m")
    return parse_duration(value)


# Any duration: finite, 0 to 30 days (cockpit.durations.MAX_SECONDS).
Duration = Annotated[float, BeforeValidator(_duration)]


def within(low: str, high: str) -> AfterValidator:
    """For a duration field that must lie within ``low`` .. ``high`` (both included), e.g. a
    poll interval of at least 1s: ``Annotated[Duration, within("1s", "1h")]``. Outside, the
    plan is refused at the field's line. A validator rather than a whole type, so the field's
    type stays a plain ``Annotated`` one that a type checker reads."""
    lo, hi = parse_duration(low), parse_duration(high)

    def check(seconds: float) -> float:
        if seconds < lo:
            raise ValueError(f"must be at least {low}")
        if seconds > hi:
            raise ValueError(f"must be at most {high}")
        return seconds

    return AfterValidator(check)


# Ids and names are single-line tokens: `fullmatch`, never `match` with `$` (which also
# matches before a final newline).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SIGNAL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
MAX_SIGNAL_NAME = 128


def _ident(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid id: use letters, digits, '-', '_' or '.' (at most 64)")
    return value


def _signal_name(value: str) -> str:
    if not _SIGNAL.fullmatch(value) or len(value) > MAX_SIGNAL_NAME:
        raise ValueError(f"{value!r} is not a valid signal name: letters, digits and '_', dotted parts allowed")
    return value


def _path_text(value: str) -> str:
    if not value or any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise ValueError("a path must be non-empty printable text on one line")
    return value


PathText = Annotated[str, AfterValidator(_path_text)]
Ident = Annotated[str, AfterValidator(_ident)]
SignalName = Annotated[str, AfterValidator(_signal_name)]


def is_ident(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def is_signal_name(value: object) -> bool:
    return isinstance(value, str) and bool(_SIGNAL.fullmatch(value)) and len(value) <= MAX_SIGNAL_NAME
