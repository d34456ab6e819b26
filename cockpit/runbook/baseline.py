"""``cutover.baseline``: the rehearsal journals whose actual step durations feed the forecast.

Each journal is checked by the one rule (``cockpit.journal.verify``: intact, no
unacknowledged set-aside lines) and must be of this cutover; a step's rehearsed duration is
the median over the baselines of its actual duration by the span rule
(:func:`cockpit.runbook.spans.step_spans`). A step a baseline did not finish adds nothing from
that baseline; a step no baseline finished keeps its ``planned`` duration in the forecast.

Timings from a damaged journal are not evidence: a baseline that cannot be read, does not
verify or belongs to another cutover refuses the plan, in one line at ``cutover.baseline[i]``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from cockpit.config.loader import problem_line
from cockpit.config.plan import Plan
from cockpit.config.problems import PlanError
from cockpit.journal import Entry, JournalError, lines, read_journal, verify
from cockpit.runbook.spans import step_spans
from cockpit.text import clean


@dataclass(frozen=True)
class Rehearsed:
    durations: dict[str, float]  # step id -> median seconds over the baselines that finished it
    runs: dict[str, int]  # step id -> how many baselines finished it
    paths: tuple[Path, ...]


def load(plan: Plan) -> Rehearsed:
    """Read and verify every baseline of ``plan`` and give the plan its rehearsed durations
    (``plan.rehearsed``). Raises :class:`PlanError` with one line for the first bad one."""
    rehearsed = read(plan)
    plan.use_rehearsed(rehearsed.durations)
    return rehearsed


def read(plan: Plan) -> Rehearsed:
    paths = tuple(plan.resolve(p) for p in plan.cutover.baseline)
    measured: dict[str, list[float]] = {}
    for i, path in enumerate(paths):
        spans = step_spans(plan, _entries(plan, i, path))
        for sid, span in spans.items():
            if span.duration_s is not None:
                measured.setdefault(sid, []).append(span.duration_s)
    return Rehearsed({sid: float(statistics.median(d)) for sid, d in measured.items()},
                     {sid: len(d) for sid, d in measured.items()}, paths)


def _entries(plan: Plan, i: int, path: Path) -> list[Entry]:
    def refuse(why: str, named: bool = False) -> PlanError:
        where = "" if named else f"{clean(str(path), 300, single_line=True)}: "
        return PlanError([problem_line(plan, ("cutover", "baseline", i), where + why)])

    try:
        result = verify(path)
        raw = read_journal(path)
    except JournalError as exc:  # its words name the file already
        raise refuse(clean(str(exc), 500, single_line=True), named=True) from None
    if not result.ok:
        raise refuse(f"does not verify ({clean(result.problem or 'damaged', 300, single_line=True)}): "
                     "timings from a damaged journal are not evidence")
    parsed = lines.parse(raw or b"")
    if parsed.damage is not None or parsed.torn or len(parsed.entries) != result.count:
        raise refuse("changed while it was read: read it again")
    other = next((e.cutover for e in parsed.entries if e.cutover != plan.cutover.id), None)
    if other is not None:
        raise refuse(f"is a journal of cutover {clean(other, 64, single_line=True)!r}, "
                     f"not {plan.cutover.id!r}: a baseline must rehearse this cutover")
    return parsed.entries
