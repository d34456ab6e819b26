"""The planned schedule of a runbook (or of the rollback runbook) and its critical paths.

The planned schedule follows the order rules of ``cockpit.runbook.replay``: phases run one
after the other and a phase ends when all its steps have finished; inside a phase a step
waits for every earlier step not marked ``parallel``, and a ``parallel`` step runs beside them
from the moment its phase opens. Each step takes its ``planned`` seconds. (A GO decision may
open the next phase early on the night; the plan assumes the phase is worked to its end.)

The planned critical path is the longest chain: from the step that finishes last, back
through the step whose finish let it start, to the book's first step. The actual critical
path is the same walk over what the journal says happened (``cockpit.runbook.spans``): back
from the step that finished last through the step whose finish made it workable (a span
starts at the very entry that finished the step before it, so the times are equal), until a
step that was workable from the start or was worked before anything handed it over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.config.runbook import Phase
from cockpit.runbook.spans import Span


@dataclass(frozen=True)
class Planned:
    step_id: str
    start_s: float  # seconds after the book's anchor
    finish_s: float
    after: str | None  # the step whose planned finish lets this one start


def planned_schedule(phases: Sequence[Phase]) -> dict[str, Planned]:
    """Planned start and finish of every step of ``phases``, in seconds from their start."""
    out: dict[str, Planned] = {}
    phase_start, phase_gate = 0.0, None
    for phase in phases:
        seq_end, seq_gate = phase_start, phase_gate
        for step in phase.steps:
            if step.parallel:
                start, after = phase_start, phase_gate
            else:
                start, after = seq_end, seq_gate
            p = Planned(step.id, start, start + step.planned, after)
            out[step.id] = p
            if not step.parallel:
                seq_end, seq_gate = p.finish_s, step.id
        # The step finishing last ends the phase; on a tie the later one in plan order (a
        # sequential step rather than the parallel one beside it).
        last = max((out[s.id] for s in phase.steps), key=lambda p: p.finish_s)
        for s in reversed(phase.steps):
            if out[s.id].finish_s == last.finish_s:
                last = out[s.id]
                break
        phase_start, phase_gate = last.finish_s, last.step_id
    return out


def planned_path(schedule: Mapping[str, Planned]) -> list[str]:
    """The planned critical path, in order (empty for an empty schedule)."""
    if not schedule:
        return []
    end = max(schedule.values(), key=lambda p: p.finish_s)
    for p in reversed(list(schedule.values())):  # the later step in plan order on a tie
        if p.finish_s == end.finish_s:
            end = p
            break
    path: list[str] = []
    at: str | None = end.step_id
    while at is not None and at not in path:
        path.append(at)
        at = schedule[at].after
    return path[::-1]


def actual_path(spans: Mapping[str, Span], step_ids: Sequence[str]) -> list[str]:
    """The actual critical path among ``step_ids`` (plan order), in order."""
    finished = [spans[s] for s in step_ids if spans[s].finished is not None]
    if not finished:
        return []
    order = {sid: i for i, sid in enumerate(step_ids)}
    last = max(finished, key=lambda sp: (sp.finished, order[sp.step_id]))
    path = [last.step_id]
    on_path = {last.step_id}
    current = last
    while current.started is not None:
        gates = [sp for sp in finished if sp.finished == current.started
                 and sp.step_id not in on_path and order[sp.step_id] < order[current.step_id]]
        if not gates:
            break
        current = max(gates, key=lambda sp: order[sp.step_id])
        path.append(current.step_id)
        on_path.add(current.step_id)
    return path[::-1]
