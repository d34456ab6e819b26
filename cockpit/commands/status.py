"""``cockpit status CONFIG [--json]``: runbook progress replayed from the plan's journal.

Read-only: the journal is opened without the write lock, so it works while a cockpit runs.
Exit 0 with the state; 2 for a bad plan or a damaged journal (one line).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from cockpit.commands.common import fail, json_text, load_or_report
from cockpit.journal import Journal, JournalError
from cockpit.runbook import replay
from cockpit.text import clean

_MARK = {"pending": " ", "active": ">", "done": "x", "skipped": "-", "failed": "!"}


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main(args) -> int:
    plan = load_or_report(args.config, for_run=False)
    if plan is None:
        return 2
    path = plan.journal_path
    exists = path.exists()
    try:
        journal = Journal.open(path, cutover_id=plan.cutover.id, readonly=True)
    except JournalError as exc:
        return fail("status", clean(str(exc), single_line=True))
    if journal.damage is not None:
        return fail("status", f"journal {path} is damaged at {journal.damage} (run: cockpit journal verify)")
    state = replay(plan, journal.entries)
    if getattr(args, "json", False):
        out = state.to_json()
        out["journal"] = {"path": str(path), "exists": exists, "warnings": journal.warnings}
        print(json_text(out))
        return 0
    print(render(plan, state, path, exists, journal.warnings))
    return 0


def render(plan, state, path, exists: bool, warnings: list[str]) -> str:
    c = plan.cutover
    lines = [f"{clean(c.name, 120, single_line=True)} ({c.id})"]
    if not exists:
        lines.append(f"no journal yet at {path}: nothing has been done")
    else:
        lines.append(f"journal {path}  head #{state.head[0]} {state.head[1]}")
    lines += [f"warning: {clean(w, 300, single_line=True)}" for w in warnings if exists]
    if state.rollback_active:
        lines.append(f"ROLLBACK ACTIVE since {_when(state.rollback_at)} by {state.rollback_by} "
                     f"[{state.rollback_reason}]")
    lines.append(f"phase {state.phase}   next {state.next_step or '-'}"
                 + (f"   clock started {_when(state.clock_started_at)}" if state.clock_started_at else ""))
    sections = [("", p) for p in plan.runbook.phases] + [("rollback ", p) for p in plan.runbook.rollback.phases]
    for prefix, phase in sections:
        lines.append(f"{prefix}{phase.id}: {clean(phase.title, 80, single_line=True)}")
        for step in phase.steps:
            st = state.steps[step.id]
            who = f"  {clean(st.actor, 40, single_line=True)} {_when(st.at)}" if st.actor else ""
            extra = ""
            if st.decision:
                extra += f" {st.decision}"
            if st.reason_code:
                extra += f" [{clean(st.reason_code, 40, single_line=True)}]"
            lines.append(f"  [{_MARK[st.status.value]}] {step.id:<6} {st.status.value:<8}{who}{extra}"
                         f"  {clean(step.title, 70, single_line=True)}")
    if state.overrides:
        lines.append("overrides: " + ", ".join(f"{o.gate} for {o.step} by {o.actor} [{o.reason_code}]"
                                              for o in state.overrides))
    open_exc = state.open_exceptions()
    if state.exceptions:
        crit = sum(1 for e in open_exc if e.severity == "critical")
        lines.append(f"exceptions: {len(open_exc)} open ({crit} critical), {len(state.exceptions)} seen")
    if state.notes:
        lines.append(f"notes: {len(state.notes)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(None))
