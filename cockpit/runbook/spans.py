"""When each step really started and finished, read from the journal: the one rule that the
timing report (``cockpit timings``), the rehearsal summary and the live finish forecast share.

- A step *starts* when it first becomes workable (``ACTIVE`` in the replayed state: its phase
  is open and every step it waits for is finished), or at its first own entry if that comes
  earlier (a ``parallel`` step worked at once). Nobody records "I began B04": becoming
  workable is the moment the runbook handed it to someone.
- It *finishes* at the entry that made it done or skipped (the last one, if it was failed and
  retried); a step that is failed, pending or active has no finish.
- Times are the entries' wall times (``Entry.wall``): in a rehearsal, rehearsal time.

Only step entries and ``rollback.start`` change what is workable, so the state is rebuilt only
after those (a 100,000-entry journal of gate changes costs one pass).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cockpit.config.plan import Plan
from cockpit.journal import Entry
from cockpit.runbook.replay import Replayer
from cockpit.runbook.state import RunbookState, StepStatus

_MOVES = frozenset({"step.confirm", "step.skip", "step.fail", "step.run", "decision.record",
                    "rollback.start"})
# Of those, the ones that can change a step's status (``step.run`` records the command's
# outcome only): the state is rebuilt to see what became workable only after these.
_TURNS = _MOVES - {"step.run"}


@dataclass(frozen=True)
class Span:
    step_id: str
    started: float | None  # wall time it became workable (or its first entry)
    finished: float | None  # wall time it was done or skipped
    status: StepStatus
    skipped: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


class SpanFold:
    """The spans, one entry at a time (the live forecast follows a growing journal with one;
    :func:`step_spans` runs one fresh). ``spans()`` is cached until the next entry."""

    def __init__(self, plan: Plan):
        self._r = Replayer(plan)
        rb = plan.runbook
        self._steps = frozenset(s.id for s in rb.all_steps() + rb.rollback_steps())
        self._started: dict[str, float] = {}
        self._first = True
        self._cached: dict[str, Span] | None = None

    def saved(self) -> tuple[dict[str, Any], dict[str, float], bool]:
        """What the fold has gathered (its replay's, the steps' starts, whether it has begun),
        shared, not copied: read only (cockpit.runbook.foldcache)."""
        return self._r.saved(), self._started, self._first

    @classmethod
    def resumed(cls, plan: Plan, replay: dict[str, Any], started: dict[str, float],
                first: bool) -> SpanFold:
        """The fold continuing from what ``saved()`` gave (ValueError: not of this plan)."""
        fold = cls(plan)
        if not started.keys() <= fold._steps:
            raise ValueError("the saved spans are not of this plan's steps")
        fold._r = Replayer.resumed(plan, replay)
        fold._started = dict(started)
        fold._first = first
        return fold

    def _note_active(self, at: float) -> None:
        started = self._started
        for sid, st in self._r.state().steps.items():
            if sid not in started and st.status is not StepStatus.PENDING:
                started[sid] = at

    def apply(self, e: Entry) -> None:
        self._cached = None
        r = self._r
        if self._first:
            self._first = False
            self._note_active(e.wall)  # the first phase's first steps are workable from the start
        if e.action in _MOVES:
            sid = e.subject or ""
            if sid in self._steps and sid not in self._started:
                self._started[sid] = e.wall
            r.apply(e)
            if e.action in _TURNS:
                self._note_active(e.wall)
        else:
            r.apply(e)

    def state(self) -> RunbookState:
        """The replayed state after the same entries (the same fold as ``replay``)."""
        return self._r.state()

    def spans(self) -> dict[str, Span]:
        if self._cached is None:
            started = self._started
            out: dict[str, Span] = {}
            for sid, st in self._r.state().steps.items():
                finished = st.at if st.status.finished else None
                out[sid] = Span(sid, started.get(sid), finished, st.status,
                                st.status is StepStatus.SKIPPED)
            self._cached = out
        return self._cached


def step_spans(plan: Plan, entries: Iterable[Entry]) -> dict[str, Span]:
    """Every step of the plan (main runbook then rollback, plan order) with its span."""
    fold = SpanFold(plan)
    for e in entries:
        fold.apply(e)
    return dict(fold.spans())
