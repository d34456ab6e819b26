"""``cockpit check CONFIG``: validate, and summarise the plan on one screen."""

from __future__ import annotations

import sys

from cockpit.commands.common import emit, load_or_report, one_line
from cockpit.durations import format_duration


def main(args) -> int:
    plan = load_or_report(args.config, verb=None, for_run=False)
    if plan is None:
        return 2
    emit(*summary(plan))
    return 0


def _names(names) -> str:
    return ", ".join(one_line(n, 128) for n in names) or "none"


def summary(plan) -> list[str]:
    """The OK summary, one line per entry; every name and title cleaned where it is placed."""
    c = plan.cutover
    steps = plan.runbook.all_steps()
    rb_steps = plan.runbook.rollback_steps()
    planned = sum(s.planned for s in steps)
    lines = [
        f"{one_line(plan.path.name)}: OK  {one_line(c.name, 120)} ({one_line(c.id)})",
        f"  window    {c.window.start:%Y-%m-%d %H:%M}Z .. {c.window.end:%Y-%m-%d %H:%M}Z"
        f"  ({format_duration((c.window.end - c.window.start).total_seconds())})",
        f"  journal   {one_line(plan.journal_path, 500)}",
        f"  operators {len(plan.operators.people)} in {len(plan.operators.roles)} roles",
        "  sources   " + _names(f"{n} ({s.type})" for n, s in plan.sources.items()),
        f"  signals   {len(plan.signals)}: " + _names(plan.signals),
        f"  gates     {len(plan.gates)}: " + _names(plan.gates),
    ]
    for phase in plan.runbook.phases:
        crit = sum(1 for s in phase.steps if s.critical)
        lines.append(f"  phase     {one_line(phase.id)}: {len(phase.steps)} steps ({crit} critical), "
                     f"planned {format_duration(sum(s.planned for s in phase.steps))}  {one_line(phase.title, 120)}")
    for phase in plan.runbook.rollback.phases:
        lines.append(f"  rollback  {one_line(phase.id)}: {len(phase.steps)} steps  {one_line(phase.title, 120)}")
    recon = plan.reconciliation
    if recon:
        lines.append(f"  reconcile {one_line(recon.source)} -> {one_line(recon.target)}: {len(recon.tables)} tables, "
                     f"{len(recon.domain)} domain checks" + (", storage manifest" if recon.storage else ""))
    lines.append(f"  total     {len(steps)} steps, planned {format_duration(planned)}; {len(rb_steps)} rollback steps")
    return lines


if __name__ == "__main__":
    sys.exit(main(None))
