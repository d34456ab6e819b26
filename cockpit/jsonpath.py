"""The number inside a JSON answer, found by a small dotted/indexed path.

Grammar (deliberately tiny; no filters, wildcards, recursion or evaluation of any kind)::

    path    := "$" step*  |  name step*        ("data.p95" means "$.data.p95")
    step    := "." name  |  "[" integer "]"  |  "[" quoted "]"
    name    := [A-Za-z0-9_-]+
    integer := -?[0-9]{1,6}                    (negative counts from the end)
    quoted  := '...' or "..." without the quote character or a backslash inside

Examples: ``$.data.latency.p95``, ``$.items[0].value``, ``$["p95 ms"]``, ``$.series[-1][1]``.
Only dict keys and list indices are followed, so a path cannot reach Python attributes.
"""

from __future__ import annotations

import math
import re

MAX_PATH_CHARS = 256
MAX_STEPS = 32

Step = str | int

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"\[(-?[0-9]{1,6})\]")
_QUOTED = re.compile(r"""\[(?:'([^'\\]*)'|"([^"\\]*)")\]""")


class PathSyntaxError(ValueError):
    """The path itself is wrong (a plan error, not a bad answer)."""


class ExtractError(ValueError):
    """The answer has no usable number at the path; the message is the one-line reason."""


def parse(path: str) -> tuple[Step, ...]:
    """Steps of ``path``; raises :class:`PathSyntaxError` with where it went wrong."""
    if not isinstance(path, str) or not path.strip():
        raise PathSyntaxError("empty JSON path")
    text = path.strip()
    if len(text) > MAX_PATH_CHARS:
        raise PathSyntaxError(f"JSON path longer than {MAX_PATH_CHARS} characters")
    if text.startswith("$"):
        pos = 1
    else:
        # A bare "data.p95" is the same as "$.data.p95"; it must start with a name.
        m = _NAME.match(text)
        if not m:
            raise PathSyntaxError(f"JSON path must start with '$' or a name (at column 1 of {text!r})")
        text = "$." + text
        pos = 1
    steps: list[Step] = []
    while pos < len(text):
        ch = text[pos]
        if ch == ".":
            m = _NAME.match(text, pos + 1)
            if not m:
                raise PathSyntaxError(f"expected a name after '.' at column {pos + 2} of {text!r}")
            steps.append(m.group(0))
            pos = m.end()
        elif ch == "[":
            m = _INDEX.match(text, pos)
            if m:
                steps.append(int(m.group(1)))
                pos = m.end()
                continue
            m = _QUOTED.match(text, pos)
            if not m:
                raise PathSyntaxError(f"expected [number] or ['key'] at column {pos + 1} of {text!r}")
            steps.append(m.group(1) if m.group(1) is not None else m.group(2))
            pos = m.end()
        else:
            raise PathSyntaxError(f"unexpected {ch!r} at column {pos + 1} of {text!r}")
        if len(steps) > MAX_STEPS:
            raise PathSyntaxError(f"JSON path deeper than {MAX_STEPS} steps")
    return tuple(steps)


def to_text(steps: tuple[Step, ...]) -> str:
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _NAME.fullmatch(step):
            out += f".{step}"
        else:
            out += f'["{step}"]'
    return out


def find(doc: object, steps: tuple[Step, ...]) -> object:
    """The value at ``steps``; raises :class:`ExtractError` naming the path that is missing."""
    node = doc
    for i, step in enumerate(steps):
        if isinstance(step, int):
            ok = isinstance(node, list) and -len(node) <= step < len(node)
        else:
            ok = isinstance(node, dict) and step in node
        if not ok:
            raise ExtractError(f"no value at {to_text(steps[: i + 1])}")
        node = node[step]  # type: ignore[index]
    return node


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def as_number(value: object, where: str) -> float | bool:
    """A finite number or a boolean (success signals); anything else is an :class:`ExtractError`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            raise ExtractError("value is not a finite number") from None
        if not math.isfinite(number):
            raise ExtractError("value is not a finite number")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExtractError("value is not a finite number")
        return value
    raise ExtractError(f"value at {where} is {_kind(value)}, not a number")


def number_at(doc: object, steps: tuple[Step, ...]) -> float | bool:
    return as_number(find(doc, steps), to_text(steps))
