"""The verdict line: what is next, whether it may proceed and what blocks it, in words.

    NEXT B04 GO / NO-GO for the write freeze (lead) · BLOCKED by replication_caught_up
    NEXT B05 Stop interface engine (infra) · may proceed
    ROLLBACK since 02:10Z by j.lindqvist (CLINICAL_SAFETY) · NEXT R02 Put cloud EHR… · may proceed
    COMPLETE · every step is done or skipped

:func:`verdict` is a pure function of the plan, the replayed state and the gates as shown;
which gates block a step is the core's rule (``Operations.blocking_gates``), passed in.
The widget only lays the words out, cutting the step's title first so "BLOCKED by ..." is
never the part that is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual.widget import Widget

from cockpit.tui.safe import safe

BlockingGates = Callable[[object, Mapping], list]


@dataclass(frozen=True)
class Verdict:
    kind: str  # "blocked" | "proceed" | "complete"
    rollback: bool = False
    step: str | None = None
    title: str = ""
    owner: str = ""
    people: tuple[str, ...] = ()  # the plan's people in the owner role, to name a person
    blocked_by: tuple[str, ...] = ()
    decision: bool = False
    failed: bool = False  # the next step failed before: retry, skip, or re-decide
    rollback_by: str | None = None
    rollback_at: float | None = None  # wall time it started
    rollback_reason: str | None = None  # its reason code

    @property
    def may_proceed(self) -> bool:
        return self.kind == "proceed"


def hhmm_z(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).strftime("%H:%MZ")


def verdict(plan, state, gates: Mapping, blocking_gates: BlockingGates) -> Verdict:
    rollback = bool(state.rollback_active)
    who = ((state.rollback_by, state.rollback_at, state.rollback_reason) if rollback
           else (None, None, None))
    step = plan.runbook.step(state.next_step) if state.next_step else None
    if step is None:
        return Verdict("complete", rollback, rollback_by=who[0], rollback_at=who[1],
                       rollback_reason=who[2])
    blocked = tuple(blocking_gates(step, gates))
    st = state.steps.get(step.id)
    failed = st is not None and str(getattr(st.status, "value", st.status)) == "failed"
    operators = getattr(plan, "operators", None)
    people = tuple(p.name for p in getattr(operators, "people", ()) if p.role == step.owner)
    return Verdict("blocked" if blocked else "proceed", rollback, step.id, step.title,
                   step.owner, people, blocked, step.kind == "decision", failed, *who)


def blocked_steps(plan, state, gates: Mapping,
                  blocking_gates: BlockingGates) -> list[tuple[str, list[str]]]:
    """Each gate that blocks an unfinished step of the runbook in use, with those steps, in
    the plan's gate order: which later steps a NO-GO (or HOLD, UNKNOWN) holds up."""
    rb = plan.runbook
    steps = rb.rollback_steps() if state.rollback_active else rb.all_steps()
    held: dict[str, list[str]] = {}
    for step in steps:
        st = state.steps.get(step.id)
        if st is not None and st.status.finished:
            continue
        for gid in blocking_gates(step, gates):
            held.setdefault(gid, []).append(step.id)
    return [(gid, held[gid]) for gid in plan.gates if gid in held]


def verdict_text(v: Verdict, width: int = 80) -> Text:
    """One line that fits ``width``: the step's title is what gets shortened."""
    head = Text(end="")
    if v.rollback:
        # Why, who and when, where the eye lands: a rollback is never anonymous.
        head.append("ROLLBACK", style="bold reverse")
        if v.rollback_at:
            head.append(f" since {hhmm_z(v.rollback_at)}")
        if v.rollback_by:
            head.append(" by ")
            head.append_text(safe(v.rollback_by, 24))
        if v.rollback_reason:
            head.append(" (")
            head.append_text(safe(v.rollback_reason, 40, style="bold"))
            head.append(")")
        head.append(" · ")
    if v.kind == "complete":
        head.append("ROLLBACK COMPLETE" if v.rollback else "COMPLETE", style="bold")
        head.append(" · every step is done or skipped", style="dim")
        return head
    head.append("NEXT ", style="bold")
    head.append_text(safe(v.step, 20, style="bold"))
    tail = Text(end="")
    tail.append(" · ")
    if v.kind == "blocked":
        tail.append("BLOCKED", style="bold reverse")
        tail.append(" by ")
        tail.append_text(safe(", ".join(v.blocked_by), 300))
    else:
        tail.append("may decide" if v.decision else "may proceed", style="bold")
        if v.failed:
            tail.append(" (failed before: retry or skip)")
    # "(lead demo.lead)": the role and, when the plan names exactly one, the person.
    owner = Text(" (", end="") + safe(v.owner, 20) if v.owner else Text("")
    if v.owner and len(v.people) == 1:
        owner += Text(" ") + safe(v.people[0], 24)
    if v.owner:
        owner += Text(")")
    room = width - head.cell_len - tail.cell_len - owner.cell_len - 1
    out = head
    if room >= 6:
        title = safe(v.title, 200)
        if title.cell_len > room:
            title.truncate(room - 1)
            cut = title.plain.rfind(" ")
            if cut > room // 2:
                title = title[:cut]
            title.append("…")
        out.append(" ")
        out.append_text(title)
        out.append_text(owner)
    out.append_text(tail)
    out.truncate(width, overflow="ellipsis")
    return out


class VerdictBar(Widget):
    """Fed by :meth:`show`; draws :func:`verdict_text` at the width it has."""

    DEFAULT_CSS = "VerdictBar { height: 1; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.verdict: Verdict | None = None

    def show(self, v: Verdict) -> None:
        if v != self.verdict:
            self.verdict = v
            self.refresh()

    def render(self) -> Text:
        if self.verdict is None:
            return Text("")
        return verdict_text(self.verdict, max(20, self.content_size.width or self.size.width))
