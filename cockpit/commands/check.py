"""``cockpit check CONFIG``: validate, and summarise the plan on one screen."""

from __future__ import annotations

import sys

from cockpit.commands.common import load_or_report
from cockpit.durations import format_duration


def main(args) -> int:
    plan = load_or_report(args.config, for_run=False)
    if plan is None:
        return 2
    print(summary(plan))
    return 0


def summary(plan) -> str:
    c = plan.cutover
    steps = plan.runbook.all_steps()
    rb_steps = plan.runbook.rollback_steps()
    planned = sum(s.planned for s in steps)
    lines = [
        f"{plan.path.name}: OK  {c.name} ({c.id})",
        f"  window    {c.window.start:%Y-%m-%d %H:%M}Z .. {c.window.end:%Y-%m-%d %H:%M}Z"
        f"  ({format_duration((c.window.end - c.window.start).total_seconds())})",
        f"  journal   {plan.journal_path}",
        f"  operators {len(plan.operators.people)} in {len(plan.operators.roles)} roles",
        "  sources   " + (", ".join(f"{n} ({s.type})" for n, s in plan.sources.items()) or "none"),
        f"  signals   {len(plan.signals)}: " + (", ".join(plan.signals) or "none"),
        f"  gates     {len(plan.gates)}: " + (", ".join(plan.gates) or "none"),
    ]
    for phase in plan.runbook.phases:
        crit = sum(1 for s in phase.steps if s.critical)
        lines.append(f"  phase     {phase.id}: {len(phase.steps)} steps ({crit} critical), "
                     f"planned {format_duration(sum(s.planned for s in phase.steps))}  {phase.title}")
    for phase in plan.runbook.rollback.phases:
        lines.append(f"  rollback  {phase.id}: {len(phase.steps)} steps  {phase.title}")
    recon = plan.reconciliation
    if recon:
        lines.append(f"  reconcile {recon.source} -> {recon.target}: {len(recon.tables)} tables, "
                     f"{len(recon.domain)} domain checks" + (", storage manifest" if recon.storage else ""))
    lines.append(f"  total     {len(steps)} steps, planned {format_duration(planned)}; {len(rb_steps)} rollback steps")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(None))
