"""Which gate changes the journal gets: every one, until a gate flaps.

A gate that changes state more than ``LIMIT`` times within ``WINDOW_S`` (monotonic seconds) is
flapping. Its next changes are counted, not journalled one by one; while it flaps, a summary
is journalled once per window (how many changes, between which states, and the state it is in
now), and a last one, marked settled, when it has been quiet for a window. So the
journal still says, at most a window late, every state the gate was in and how often it
turned, without a line every two seconds. What the operator saw at each action is in that
action's own gate snapshot, which this never touches; and a flapping gate is never shown
greener for it: this decides only what is written, not what the gate is.

Pure bookkeeping on the monotonic clock, used on the engine's loop by ``cockpit.session``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 60.0
LIMIT = 4


@dataclass
class Summary:
    """A flapping gate's changes since the last entry written for it."""
    gate: str
    changes: int
    states: list[str]
    over_s: float
    settled: bool
    status: Any  # the newest GateStatus (any object here: this module sits below gates)


@dataclass
class _Flaps:
    recent: deque = field(default_factory=deque)  # monotonic times of the last changes
    flapping: bool = False
    counted: int = 0
    states: list[str] = field(default_factory=list)
    first: float = 0.0
    last_change: float = 0.0
    last_summary: float = 0.0
    status: Any = None


class Damper:
    def __init__(self, window_s: float = WINDOW_S, limit: int = LIMIT):
        self.window_s, self.limit = window_s, limit
        self._gates: dict[str, _Flaps] = {}

    def change(self, gate: str, state: str, status, mono: float) -> bool:
        """A change of ``gate`` to ``state`` at ``mono``: True to journal it now, False when
        it is counted into the gate's next summary."""
        f = self._gates.setdefault(gate, _Flaps())
        f.recent.append(mono)
        while f.recent and f.recent[0] < mono - self.window_s:
            f.recent.popleft()
        f.last_change = mono
        if not f.flapping and len(f.recent) <= self.limit:
            return True
        if not f.flapping:
            f.flapping, f.first, f.last_summary = True, mono, mono
            f.counted, f.states = 0, []
        f.counted += 1
        if state not in f.states:
            f.states.append(state)
        f.status = status
        return False

    def due(self, mono: float) -> list[Summary]:
        """The summaries to journal now: each flapping gate once per window, and once more
        (settled) when it has not changed for a window."""
        out = []
        for gate, f in self._gates.items():
            if not f.flapping:
                continue
            settled = mono - f.last_change >= self.window_s
            if not settled and mono - f.last_summary < self.window_s:
                continue
            if f.counted or settled:  # settled: say it stopped, even with nothing new to count
                out.append(Summary(gate, f.counted, list(f.states), round(mono - f.first, 3),
                                   settled, f.status))
            f.counted, f.states, f.first, f.last_summary = 0, [], mono, mono
            if settled:
                f.flapping = False
                f.recent.clear()
        return out
