"""``cockpit status CONFIG [--json]``: runbook progress replayed from the plan's journal.

Read-only: the journal is opened without the write lock, so it works while a cockpit runs.
Exit 0 with the state; 2 for a bad plan or a damaged journal (one line).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from cockpit.commands.common import (
    emit,
    fail,
    json_text,
    load_or_report,
    one_line,
    warn_quarantines,
)
from cockpit.journal import Journal, JournalError
from cockpit.runbook import replay

_MARK = {"pending": " ", "active": ">", "done": "x", "skipped": "-", "failed": "!"}


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError, TypeError):
        return "?"


def main(args) -> int:
    plan = load_or_report(args.config, for_run=False)
    if plan is None:
        return 2
    path = plan.journal_path
    exists = path.exists()
    try:
        journal = Journal.open(path, cutover_id=plan.cutover.id, readonly=True)
    except JournalError as exc:
        return fail("status", one_line(exc, 500))
    if journal.damage is not None:
        return fail("status", f"journal {one_line(path, 500)} is damaged at {one_line(journal.damage, 300)} "
                              "(run: cockpit journal verify)")
    warn_quarantines("status", journal)
    state = replay(plan, journal.entries)
    if getattr(args, "json", False):
        out = state.to_json()
        out["journal"] = {"path": str(path), "exists": exists, "warnings": journal.warnings}
        print(json_text(out))
        return 0
    emit(*render(plan, state, path, exists, journal.warnings))
    return 0


def render(plan, state, path, exists: bool, warnings: list[str]) -> list[str]:
    """The progress, one line per entry; every value from the plan or the journal cleaned
    where it is placed (and each line again by ``emit``)."""
    c = plan.cutover
    lines = [f"{one_line(c.name, 120)} ({one_line(c.id)})"]
    if not exists:
        lines.append(f"no journal yet at {one_line(path, 500)}: nothing has been done")
    else:
        lines.append(f"journal {one_line(path, 500)}  head #{state.head[0]} {one_line(state.head[1], 64)}")
    lines += [f"warning: {one_line(w, 300)}" for w in warnings if exists]
    if state.rollback_active:
        lines.append(f"ROLLBACK ACTIVE since {_when(state.rollback_at)} by {one_line(state.rollback_by, 40)} "
                     f"[{one_line(state.rollback_reason, 40)}]")
    lines.append(f"phase {one_line(state.phase, 64)}   next {one_line(state.next_step, 64) or '-'}"
                 + (f"   clock started {_when(state.clock_started_at)}" if state.clock_started_at else ""))
    sections = [("", p) for p in plan.runbook.phases] + [("rollback ", p) for p in plan.runbook.rollback.phases]
    for prefix, phase in sections:
        lines.append(f"{prefix}{one_line(phase.id, 64)}: {one_line(phase.title, 80)}")
        for step in phase.steps:
            st = state.steps[step.id]
            who = f"  {one_line(st.actor, 40)} {_when(st.at)}" if st.actor else ""
            extra = ""
            if st.decision:
                extra += f" {one_line(st.decision, 16)}"
            if st.reason_code:
                extra += f" [{one_line(st.reason_code, 40)}]"
            lines.append(f"  [{_MARK[st.status.value]}] {one_line(step.id, 64):<6} {st.status.value:<8}{who}{extra}"
                         f"  {one_line(step.title, 70)}")
    if state.overrides:
        lines.append("overrides: " + ", ".join(
            f"{one_line(o.gate, 64)} for {one_line(o.step, 64)} by {one_line(o.actor, 40)} "
            f"[{one_line(o.reason_code, 40)}]" for o in state.overrides))
    open_exc = state.open_exceptions()
    if state.exceptions:
        crit = sum(1 for e in open_exc if e.severity == "critical")
        lines.append(f"exceptions: {len(open_exc)} open ({crit} critical), {len(state.exceptions)} seen")
    if state.notes:
        lines.append(f"notes: {len(state.notes)}")
    return lines


if __name__ == "__main__":
    sys.exit(main(None))
