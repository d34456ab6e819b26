"""Untrusted text made safe to show: one function for every external string.

Ticket titles, database errors, journal notes and command output may carry terminal escape
sequences or bidi overrides; those must never reach the terminal. Markup safety is the view's
job (it wraps the result in a plain ``Text``), but the cleaning rule lives here, in the core,
so reports and logs use the same one.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "]"
)
# Whole escape sequences first, so their parameters do not survive as visible garbage.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.)?")


def clean(value: object, limit: int = 500, *, single_line: bool = False) -> str:
    """Printable text: escapes and controls removed, capped at ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    text = _ESCAPES.sub("", text)
    text = _CONTROL.sub("", text)
    if single_line:
        text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text
