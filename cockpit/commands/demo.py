"""``cockpit demo [--journal PATH]``: the cockpit on the built-in plan, simulated signals only."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.commands.common import fail, load_or_report
from cockpit.commands.run import launch, refusal
from cockpit.config.plan import Window
from cockpit.journal import Actor

DEMO_PLAN = Path(__file__).resolve().parent.parent / "builtin" / "demo.yaml"
DEMO_OPERATOR = "demo.lead"

# A reconciliation the demo "already ran", so the recon panel and the triage queue have
# something real to show. Keys are synthetic ids, as in production: never patient values.
DEMO_RECON = {
    "tables": {
        "patients": {"source_rows": 48210, "target_rows": 48210, "missing": 0, "extra": 0, "changed": 0},
        "medication_orders": {"source_rows": 912044, "target_rows": 912044, "missing": 0, "extra": 0, "changed": 0},
        "allergies": {"source_rows": 30115, "target_rows": 30115, "missing": 0, "extra": 0, "changed": 0},
        "encounters": {"source_rows": 220871, "target_rows": 220871, "missing": 0, "extra": 0, "changed": 0},
    },
    "mismatched_rows": 0, "failed_checks": 0, "layers": ["counts", "content", "domain"],
    "duration_s": 412.5, "opened": ["demo-orphan-1", "demo-allergy-1"], "closed": [],
}
DEMO_EXCEPTIONS = [
    ("demo-orphan-1", {"layer": "domain", "table": "attachments", "keys": {"document_id": "D-77120"},
                       "kind": "orphan", "severity": "major", "category": "manual_review",
                       "columns": ["document_id"], "title": "Attachment refers to a missing document"}),
    ("demo-allergy-1", {"layer": "domain", "table": "allergies", "keys": {"allergy_id": "AL-40211"},
                        "kind": "required", "severity": "minor", "category": "needs_clinical_approval",
                        "columns": ["severity"], "title": "Allergy without a reaction severity"}),
]


def seed(cockpit) -> None:
    """Give a brand-new demo journal its simulated reconciliation run."""
    if cockpit.journal.entries:
        return
    system = Actor.system()
    for exc_id, data in DEMO_EXCEPTIONS:
        cockpit.journal.append("exception.open", actor=system, subject=exc_id, data=data)
    cockpit.journal.append("recon.run", actor=system, data=DEMO_RECON)


def demo_plan(now: datetime | None = None):
    """The built-in plan, its window moved to "tonight": opening 15 minutes from now, six
    hours long, so the header's countdown means something. (The file keeps a fixed window so
    tests and snapshots stay deterministic.)"""
    plan = load_or_report(str(DEMO_PLAN), for_run=True)
    if plan is None:
        return None
    start = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(minutes=15)
    window = Window(start=start, end=start + timedelta(hours=6))
    return plan.model_copy(update={"cutover": plan.cutover.model_copy(update={"window": window})})


def main(args) -> int:
    plan = demo_plan()
    if plan is None:
        return 2
    operator = args.operator or DEMO_OPERATOR
    why = refusal(plan, operator, args.layout)
    if why:  # before mkdtemp: a refused demo leaves no empty folder behind
        return fail("demo", why)
    if args.journal:
        journal = Path(args.journal)
    else:
        journal = Path(tempfile.mkdtemp(prefix="cockpit-demo-")) / "demo-journal.jsonl"
    return launch("demo", plan, journal, operator, layout=args.layout, before_start=seed)
