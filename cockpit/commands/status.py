"""``cockpit status CONFIG|JOURNAL [--journal PATH] [--json]``: runbook progress replayed from
the journal: the plan's (its shared journal table when ``cutover.shared_journal`` is set, else
``cutover.journal``), the one ``--journal`` names, or a journal file given instead of the plan
(recognised by its ``.jsonl``/``.journal`` name or its first line).

Read-only: the journal is opened without the write lock, so it works while a cockpit runs.
Exit 0 with the state; 2 for a bad plan or a damaged journal (one line).
"""

from __future__ import annotations

import glob
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.commands import journal_source
from cockpit.commands.common import (
    emit,
    fail,
    json_text,
    load_or_report,
    one_line,
    warn_quarantines,
)
from cockpit.journal import Entry, Journal, JournalError, lines, read_journal
from cockpit.runbook import replay

if TYPE_CHECKING:
    from cockpit.config.plan import Plan
    from cockpit.runbook.state import RunbookState

_MARK = {"pending": " ", "active": ">", "done": "x", "skipped": "-", "failed": "!"}


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError, TypeError):
        return "?"


def main(args) -> int:
    source = args.source
    journal_arg = getattr(args, "journal", None)
    if journal_arg is None and looks_like_journal(source):
        return _journal_only(args, Path(source))
    plan = load_or_report(source, verb="status", for_run=False)
    if plan is None:
        return 2
    if journal_arg is None and plan.cutover.shared_journal is not None:
        return show_shared(plan, args)
    return show(plan, Path(journal_arg) if journal_arg else plan.journal_path, args)


def show_shared(plan: Plan, args) -> int:
    """The progress the plan's shared journal table holds, read by the one reader rule."""
    shared = plan.cutover.shared_journal
    assert shared is not None
    label = f"shared journal table {shared.table}"
    try:
        parsed = lines.parse(journal_source.read_table(plan), cutover=plan.cutover.id)
    except journal_source.SourceError as exc:
        return fail("status", one_line(exc, 500))
    if parsed.damage is not None:
        return fail("status", f"{label} is damaged at {one_line(parsed.damage, 300)} "
                              "(run: cockpit journal verify)")
    warnings = [w for w in (parsed.tail_problem(),) if w] + pending_local(plan)
    state = replay(plan, parsed.entries)
    if getattr(args, "json", False):
        out = state.to_json()
        out["journal"] = {"table": shared.table, "exists": True, "warnings": warnings}
        print(json_text(out))
        return 0
    emit(*render(plan, state, label, True, warnings))
    return 0


looks_like_journal = journal_source.looks_like_journal


def pending_local(plan: Plan) -> list[str]:
    """One line per local-mode journal beside the plan's local copies (any login's) that
    waits to be merged into the shared journal (``cockpit.journal.local``)."""
    from cockpit.journal.local import LOCAL_SUFFIX, pending

    path = plan.journal_path
    try:
        found = sorted(path.parent.glob(f"{glob.escape(path.stem)}.*{glob.escape(path.suffix)}"
                                        f"{LOCAL_SUFFIX}"))
    except OSError:
        return []
    out = []
    for local in found:
        copy = local.with_name(local.name[:-len(LOCAL_SUFFIX)])
        line = pending(copy)
        if line:
            out.append(line)
    return out


def _journal_only(args, path: Path) -> int:
    """``cockpit status JOURNAL``: the demo's journal is shown against the built-in plan; any
    other journal as its head and the steps it records (the plan would add titles and the
    steps not started: ``cockpit status PLAN --journal JOURNAL``)."""
    try:
        raw = read_journal(path)
    except JournalError as exc:
        return fail("status", one_line(exc, 500))
    if raw is None:
        return fail("status", f"cannot read {one_line(path, 500)}: no such file")
    parsed = lines.parse(raw)
    cutover = parsed.entries[0].cutover if parsed.entries else None
    from cockpit.commands.demo import DEMO_PLAN

    if cutover is not None:
        demo = load_or_report(str(DEMO_PLAN), verb="status", for_run=False)
        if demo is not None and demo.cutover.id == cutover:
            return show(demo, path, args)
    if parsed.damage is not None:
        return fail("status", f"journal {one_line(path, 500)} is damaged at {one_line(parsed.damage, 300)} "
                              "(run: cockpit journal verify)")
    entries = parsed.entries
    head = (entries[-1].seq, entries[-1].hash) if entries else (0, "")
    last: dict[str | None, Entry] = {}
    for e in entries:
        if e.action.startswith("step.") or e.action == "decision.record":
            last[e.subject] = e
    if getattr(args, "json", False):
        print(json_text({"journal": {"path": str(path), "exists": True}, "cutover": cutover,
                         "entries": len(entries), "head": {"seq": head[0], "hash": head[1]},
                         "steps": {sid: {"action": e.action, "actor": e.actor.operator, "ts": e.ts,
                                         "reason_code": e.reason_code} for sid, e in last.items()},
                         "plan": None}))
        return 0
    out = [f"journal {one_line(path, 500)}  head #{head[0]} {one_line(head[1], 64)}"
           f"  ({len(entries)} entries, cutover {one_line(cutover) or '-'})",
           "no plan given: steps not yet started and titles are not shown "
           f"(cockpit status PLAN --journal {one_line(path, 500)})"]
    if parsed.torn:
        out.append(f"warning: {one_line(parsed.tail_problem(), 300)}: not shown")
    out += [f"  {one_line(sid, 64):<6} {one_line(e.action, 40):<16} {one_line(e.actor.operator, 40)} "
            f"{one_line(e.ts, 40)}" + (f" [{one_line(e.reason_code, 40)}]" if e.reason_code else "")
            for sid, e in last.items()]
    if not last:
        out.append("  no step recorded yet")
    emit(*out)
    return 0


def show(plan: Plan, path: Path, args) -> int:
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


def render(plan: Plan, state: RunbookState, path: Path | str, exists: bool,
           warnings: list[str]) -> list[str]:
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
    active = [sid for sid, st in state.steps.items() if st.status.value == "active"]
    if len(active) > 1:
        lines.append(f"{len(active)} steps active at once, they run in parallel: "
                     + ", ".join(one_line(sid, 64) for sid in active))
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
