"""Runbook state derived from the journal, and the operator actions that append to it.

``replay(plan, entries)`` is the pure fold (see :mod:`cockpit.runbook.replay` for the phase and
order rules); ``Operations`` validates an action against that state and appends it to the
journal (see :mod:`cockpit.runbook.operations` for permissions and refusals).
"""

from cockpit.runbook.builtin import builtin_readings
from cockpit.runbook.operations import CALLS, TRIAGE_CATEGORIES, Operations, Refused
from cockpit.runbook.replay import Replayer, replay
from cockpit.runbook.state import (
    ExceptionState,
    NoteRecord,
    Override,
    RunbookState,
    StepState,
    StepStatus,
)

__all__ = [
    "CALLS",
    "TRIAGE_CATEGORIES",
    "ExceptionState",
    "NoteRecord",
    "Operations",
    "Override",
    "Refused",
    "Replayer",
    "RunbookState",
    "StepState",
    "StepStatus",
    "builtin_readings",
    "replay",
]
