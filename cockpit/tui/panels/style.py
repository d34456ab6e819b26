"""Symbols, words and (second-cue) colours shared by the panels."""

from __future__ import annotations

from cockpit.gates import SYMBOLS, GateState, GateStatus

# Prominence does not rest on colour: under NO_COLOR (Textual turns colours into greys, red
# darker than green) and on 16-colour terminals NO-GO is still the loudest thing on screen,
# bold in reverse video; HOLD and UNKNOWN are bold; GO is plain. Never dim a NO-GO.
GATE_STYLE = {
    GateState.GO: "green",
    GateState.HOLD: "bold yellow",
    GateState.NO_GO: "bold reverse red",
    GateState.UNKNOWN: "bold magenta",
}

STEP_SYMBOL = {"pending": "·", "active": "▶", "done": "✔", "skipped": "↷", "failed": "✖"}
STEP_STYLE = {"pending": "", "active": "bold", "done": "green", "skipped": "dim", "failed": "bold red"}


def gate_word(status: GateStatus | None) -> tuple[str, str]:
    """('✔ GO', style); a gate never evaluated reads as UNKNOWN, because stale is not green."""
    if status is None:
        return f"{SYMBOLS[GateState.UNKNOWN]} UNKNOWN", GATE_STYLE[GateState.UNKNOWN]
    return f"{status.symbol} {status.label()}", GATE_STYLE[status.state]


def status_value(obj) -> str:
    """A StepStatus enum or plain string as its lower-case value."""
    value = getattr(obj, "value", obj)
    return str(value or "pending").lower()
