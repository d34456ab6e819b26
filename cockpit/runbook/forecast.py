"""The finish forecast: when the current phase and the whole runbook will be done, from the
rehearsals (``cutover.baseline``, see :mod:`cockpit.runbook.baseline`) and the night's own
progress (the journal's step spans, :mod:`cockpit.runbook.spans`: THE start/finish rule).

The schedule follows the replay's order rules (:mod:`cockpit.runbook.replay`):

- phases in order: a phase opens when the one before it is complete, or when a decision step
  in it is done (the forecast assumes the decision will be GO: it forecasts the plan, not a
  NO-GO); a phase that is open already is open now;
- inside a phase a step waits for every earlier step not marked ``parallel``; a ``parallel``
  step starts when its phase opens;
- after ``rollback.start`` only the rollback runbook is forecast (and the margin is the
  rollback's, against the same window end).

Durations: a finished step keeps its actual start and finish. A step that has started (its
span has a start) and is not finished takes ``max(rehearsed, elapsed so far)``, so an
overrunning step pushes everything after it; a step not started yet starts no earlier than
now and takes its rehearsed duration. "Rehearsed" is the median over the baselines, and a step
no baseline finished takes its ``planned`` duration.

Pure: the clock's reading is passed in. :class:`Forecaster` keeps the spans up with a growing
journal one entry at a time (the session and the screen each hold one), so a tick costs the
schedule over the plan's steps, not a pass over the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cockpit.config.plan import Plan
from cockpit.config.runbook import Phase
from cockpit.journal import Entry
from cockpit.runbook.spans import Span, SpanFold
from cockpit.runbook.state import RunbookState

# A step is late only when it is later than the rehearsed schedule by more than this: the
# schedule is a forecast, and seconds of difference are noise, not news.
LATE_SLACK_S = 60.0


@dataclass(frozen=True)
class StepTiming:
    """A step being worked now (started, not finished): how long so far, against what."""

    step_id: str
    started: float
    elapsed_s: float
    rehearsed_s: float | None  # median over the baselines; None when no baseline finished it
    planned_s: float

    @property
    def expected_s(self) -> float:
        """What the forecast expects it to take: the rehearsal, else the plan."""
        return self.rehearsed_s if self.rehearsed_s is not None else self.planned_s

    @property
    def over_s(self) -> float:
        """How far past ``expected_s`` it runs (0 while within it)."""
        return max(0.0, self.elapsed_s - self.expected_s)


@dataclass(frozen=True)
class Forecast:
    now: float
    rollback: bool  # the rollback runbook is the one forecast
    phase: str  # the current phase (``RunbookState.phase``)
    phase_finish: float  # wall time the current phase is forecast to be complete
    finish: float  # wall time the runbook (the rollback once it started) is forecast done
    window_end: float  # ``cutover.window.end``
    late_steps: int  # see :func:`late_steps`
    active: dict[str, StepTiming] = field(default_factory=dict)  # started, not finished

    @property
    def margin_s(self) -> float:
        """Seconds from the forecast finish to the window's end; negative past it."""
        return self.window_end - self.finish


def forecast(plan: Plan, state: RunbookState, now: float, rehearsed: Mapping[str, float],
             spans: Mapping[str, Span]) -> Forecast | None:
    """The forecast at ``now``, or None when nothing can be forecast: no step of the runbook
    being worked has started yet (an empty journal), or every step of it is finished.

    ``state`` and ``spans`` must come from the same entries (:class:`Forecaster` keeps them
    together). Invariants: ``finish >= now`` and ``phase_finish <= finish``.
    """
    rb = plan.runbook
    phases = rb.rollback.phases if state.rollback_active else rb.phases
    steps = [s for p in phases for s in p.steps]
    if not any(spans.get(s.id) is not None and spans[s.id].started is not None for s in steps):
        return None
    if all(state.steps[s.id].status.finished for s in steps):
        return None
    plan_s = {s.id: rehearsed.get(s.id, s.planned) for s in steps}
    times = _schedule(phases, plan_s, spans, now, set(state.open_phases))
    current = next((p for p in phases if p.id == state.phase), phases[0])
    finish = max(f for _, f in times.values())
    phase_finish = max(times[s.id][1] for s in current.steps)
    active: dict[str, StepTiming] = {}
    for s in steps:
        sp = spans.get(s.id)
        if sp is not None and sp.started is not None and sp.finished is None:
            active[s.id] = StepTiming(s.id, sp.started, max(0.0, now - sp.started),
                                      rehearsed.get(s.id), s.planned)
    return Forecast(now, state.rollback_active, current.id, phase_finish, finish,
                    plan.cutover.window.end.timestamp(), late_steps(plan, state, now, rehearsed, spans),
                    active)


def late_steps(plan: Plan, state: RunbookState, now: float, rehearsed: Mapping[str, float],
               spans: Mapping[str, Span]) -> int:
    """How many steps are late against the rehearsed schedule.

    The rehearsed schedule of a runbook is the one this module forecasts before anything was
    done, anchored where the night's runbook began: for the main runbook the start of its
    first step (the journal's first entry, by the span rule), for the rollback
    ``rollback.start``; every step taking its rehearsed duration (``planned`` when no baseline
    finished it), by the same order rules. A step counts as late when, by more than
    :data:`LATE_SLACK_S`, its actual start is later than its scheduled start, or its actual
    finish (done or skipped) is later than its scheduled finish, or (a step of the runbook
    being worked, started, not finished) ``now`` is already past its scheduled finish. Steps
    of both runbooks count; a main-runbook step left unfinished by a rollback counts only by
    its start. A runbook whose anchor is unknown counts none.
    """
    rb = plan.runbook
    late = 0
    for phases, anchor, working in (
            (rb.phases, _first_start(rb.phases, spans), not state.rollback_active),
            (rb.rollback.phases, state.rollback_at if state.rollback_active else None,
             state.rollback_active)):
        if anchor is None:
            continue
        plan_s = {s.id: rehearsed.get(s.id, s.planned) for p in phases for s in p.steps}
        sched = _schedule(phases, plan_s, {}, anchor, set())
        for sid, (start, finish) in sched.items():
            sp = spans.get(sid)
            if sp is None or sp.started is None:
                continue
            if sp.started > start + LATE_SLACK_S:
                late += 1
            elif sp.finished is not None:
                late += sp.finished > finish + LATE_SLACK_S
            elif working:
                late += now > finish + LATE_SLACK_S
    return late


def _first_start(phases: Sequence[Phase], spans: Mapping[str, Span]) -> float | None:
    sp = spans.get(phases[0].steps[0].id)
    return None if sp is None else sp.started


def _schedule(phases: Sequence[Phase], durations: Mapping[str, float], spans: Mapping[str, Span],
              now: float, open_now: set[str]) -> dict[str, tuple[float, float]]:
    """(start, finish) of every step of ``phases``: actual for finished steps, forecast from
    ``now`` for the others. ``open_now``: the phases open already (the first always is)."""
    out: dict[str, tuple[float, float]] = {}
    opens = now
    for i, phase in enumerate(phases):
        if i and phase.id not in open_now:
            before = phases[i - 1].steps
            complete = max(out[s.id][1] for s in before)
            decided = [out[s.id][1] for s in before if s.kind == "decision"]
            opens = max(now, min([complete, *decided]))
        else:
            opens = now
        in_sequence = opens  # when every earlier non-parallel step of the phase is finished
        for s in phase.steps:
            sp = spans.get(s.id)
            if sp is not None and sp.finished is not None:
                start, finish = (sp.started if sp.started is not None else sp.finished), sp.finished
            elif sp is not None and sp.started is not None:
                start = sp.started
                finish = max(now, start + durations[s.id])
            else:
                start = opens if s.parallel else max(opens, in_sequence)
                finish = start + durations[s.id]
            out[s.id] = (start, finish)
            if not s.parallel:
                in_sequence = max(in_sequence, finish)
    return out


class Forecaster:
    """The forecast kept up with one growing journal: its entries are folded into the spans
    once each (the ``entries[applied:]`` rule ``Operations.state`` uses), never re-read."""

    def __init__(self, plan: Plan, rehearsed: Mapping[str, float] | None = None, *,
                 resume: tuple[int, SpanFold] | None = None):
        """``resume``: (n, the span fold of the journal's first n entries) to continue from
        (``cockpit.runbook.foldcache``) instead of folding them again."""
        self.plan = plan
        self.rehearsed = plan.rehearsed if rehearsed is None else rehearsed
        self._applied, self._fold = resume if resume is not None else (0, SpanFold(plan))

    def saved(self, entries: Sequence[Entry]) -> tuple[int, SpanFold]:
        """(n, the fold of ``entries``' first n), after folding in what is new: to save."""
        self.follow(entries)
        return self._applied, self._fold

    def follow(self, entries: Sequence[Entry]) -> None:
        # Counted from the slice taken, not len(entries) after it: the writer thread may
        # append meanwhile, and that entry must be folded in on the next call, not skipped.
        new = entries[self._applied:]
        for e in new:
            self._fold.apply(e)
        self._applied += len(new)

    def forecast(self, entries: Sequence[Entry], now: float) -> Forecast | None:
        """After folding in what is new in ``entries`` (the same list each call)."""
        self.follow(entries)
        return forecast(self.plan, self._fold.state(), now, self.rehearsed, self._fold.spans())
