"""Shared pieces of the plan model: strict base class and field types."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from cockpit.durations import parse_duration


class Strict(BaseModel):
    """Unknown keys are errors (``requries`` must not pass silently); values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, (int, float)):
            raise ValueError(f"duration {value!r} needs a unit: write it like {value}s or {value}m")
        raise ValueError("expected a duration such as 5s, 10m or 1h30m")
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SIGNAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def _ident(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not a valid id: use letters, digits, '-', '_' or '.' (at most 64)")
    return value


def _signal_name(value: str) -> str:
    if not _SIGNAL.match(value) or len(value) > 128:
        raise ValueError(f"{value!r} is not a valid signal name: letters, digits and '_', dotted parts allowed")
    return value


Ident = Annotated[str, AfterValidator(_ident)]
SignalName = Annotated[str, AfterValidator(_signal_name)]


def is_ident(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def is_signal_name(value: object) -> bool:
    return isinstance(value, str) and bool(_SIGNAL.match(value))
