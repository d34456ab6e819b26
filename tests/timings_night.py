"""A scripted rehearsal journal for the timing-report tests: real ``Journal`` and
``Operations`` on a ``ManualClock``, ``rehearsal.*`` entries by ``Actor.system()``.

Planned schedule (seconds from the anchor, the ``rehearsal.start`` entry)::

    before  P1 0-300, P2 (parallel) 0-1200, P3 300-900   phase ends at 1200 (P2)
    go      G1 (decision) 1200-1260
    after   A1 1260-3060
    rollback (anchored at rollback.start): back R1 0-300, R2 300-900; data R3 900-2100

so the planned critical path is P2 G1 A1 (51m), the rollback's R1 R2 R3 (35m).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations
from tests.test_runbook_rules import gates

T0 = 1_800_000_000.0

PLAN = """
version: 1
cutover:
  id: t-cut
  name: timings cutover
  journal: journal.jsonl
  window: {start: "2026-11-28T22:00:00Z", end: "2026-11-29T06:00:00Z"}
operators:
  roles:
    lead: {confirm: ["*"], decide: true, override: true, rollback: true, triage: true}
  people:
    - {name: lead1, role: lead}
    - {name: dba1, role: lead}
gates:
  g1: {expr: "exceptions.open == 0"}
  g2: {expr: "exceptions.open_critical == 0"}
runbook:
  phases:
    - id: before
      title: Before
      steps:
        - {id: P1, title: stop the interfaces, owner: lead, planned: 5m}
        - {id: P2, title: final extract, owner: lead, planned: 20m, parallel: true}
        - {id: P3, title: freeze the schedule, owner: lead, planned: 10m}
    - id: go
      title: Go
      steps:
        - {id: G1, title: go or no-go, owner: lead, planned: 1m, kind: decision}
    - id: after
      title: After
      steps:
        - {id: A1, title: open the doors, owner: lead, planned: 30m}
  rollback:
    phases:
      - id: back
        title: Traffic back
        steps:
          - {id: R1, title: point DNS back, owner: lead, planned: 5m}
          - {id: R2, title: restart legacy, owner: lead, planned: 10m}
      - id: restore
        title: Restore data
        part: data
        steps:
          - {id: R3, title: replay the delta, owner: lead, planned: 20m}
"""


def write_plan(folder: Path, name: str = "plan.yaml") -> Path:
    path = folder / name
    path.write_text(PLAN)
    return path


def load(path: Path):
    plan, _ = load_plan(path, for_run=False)
    return plan


def rehearse(plan_path: Path, journal_path: Path, *, p2: float = 1500.0, r2: float = 900.0,
             scenario: str = "lag-crisis"):
    """Play the scripted night into ``journal_path``; ``p2``/``r2`` are P2's and R2's actual
    durations (the baseline tests vary them). Returns (plan, entries)."""
    plan = load(plan_path)
    clock = ManualClock(T0)
    j = Journal.open(journal_path, cutover_id=plan.cutover.id, clock=clock)
    lead = Operations(plan, j, Actor.current("lead1"))
    dba = Operations(plan, j, Actor.current("dba1"))
    system = Actor.system()

    def at(t: float) -> None:
        clock.set_wall(T0 + t)

    def fault(fid: str, kind: str, t: float) -> None:
        at(t)
        j.append("rehearsal.fault", actor=system, subject=fid,
                 data={"kind": kind, "at_s": t, "until_s": None, "signals": ["replication.lag_s"]})

    sha = hashlib.sha256(plan_path.read_bytes()).hexdigest()
    j.append("rehearsal.start", actor=system, subject=scenario,
             data={"scenario": scenario, "sha256": "0" * 64, "speed": 10.0,
                   "plan": {"path": str(plan_path.resolve()), "sha256": sha}})
    at(300)
    dba.confirm("P1", gates())
    fault("lag-spike", "replication_lag_spike", 500)
    at(510)
    lead.record_gate_change(gates("HOLD")["g1"], gates()["g1"])  # the system's, not an answer
    at(530)
    lead.note("lag is climbing")  # detected: 30 s
    at(620)
    dba.fail("P3", "scheduler did not stop")  # decided: 120 s
    at(1020)
    dba.confirm("P3", gates())  # 720 s against 600 planned
    at(p2)
    dba.confirm("P2", gates())
    at(p2 + 60)
    lead.decide("G1", "GO", gates())
    fault("surge", "helpdesk_surge", p2 + 100)
    at(p2 + 300)
    lead.start_rollback("DATA_MISMATCH", "lag never cleared")
    at(p2 + 540)
    lead.confirm("R1", gates())
    at(p2 + 540 + r2)
    lead.confirm("R2", gates())
    at(p2 + 540 + r2 + 1200)
    lead.confirm("R3", gates())
    fault("hang", "source_hang", p2 + 540 + r2 + 1260)
    at(p2 + 540 + r2 + 1270)
    lead.record_gate_change(gates("UNKNOWN")["g1"], gates()["g1"])
    entries = list(j.entries)
    j.close()
    return plan, entries
