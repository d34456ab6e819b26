"""Operator actions validate against the replayed state, then append; refusals say why.

Helpers here (``PLAN``, ``make_plan``, ``gates``, ``Cockpit``) are shared by the other
``test_runbook_*`` modules.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.gates import GateState, GateStatus
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations, Refused, StepStatus

PLAN = """
version: 1
cutover:
  id: t-cut
  name: test cutover
  journal: journal.jsonl
  window: {start: "2026-11-28T22:00:00Z", end: "2026-11-29T06:00:00Z"}
operators:
  roles:
    lead: {confirm: ["*"], approve_critical: true, decide: true, override: true, rollback: true, triage: true}
    dba: {confirm: [dba]}
    app: {confirm: [app]}
    analyst: {triage: true}
  people:
    - {name: lead1, role: lead}
    - {name: lead2, role: lead}
    - {name: dba1, role: dba}
    - {name: app1, role: app}
    - {name: app2, role: app}
    - {name: ana1, role: analyst}
gates:
  g1: {expr: "exceptions.open == 0"}
  g2: {expr: "exceptions.open_critical == 0"}
runbook:
  phases:
    - id: before
      title: Before
      steps:
        - {id: S1, title: one, owner: dba, planned: 1m}
        - {id: S2, title: two, owner: dba, planned: 1m, parallel: true}
        - {id: S3, title: three, owner: dba, planned: 1m, requires: [g1]}
        - {id: S4, title: go, owner: lead, planned: 1m, kind: decision, critical: true, requires: [g1, g2]}
    - id: during
      title: During
      steps:
        - {id: D1, title: freeze, owner: app, planned: 1m, critical: true, two_person: true}
        - {id: D2, title: crit, owner: dba, planned: 1m, critical: true}
        - {id: D3, title: last, owner: dba, planned: 1m}
    - id: after
      title: After
      steps:
        - {id: A1, title: a, owner: dba, planned: 1m}
  rollback:
    phases:
      - id: back
        title: Back
        steps:
          - {id: R1, title: r1, owner: lead, planned: 1m}
          - {id: R2, title: r2, owner: dba, planned: 1m, critical: true}
      - id: data
        title: Data
        steps:
          - {id: R3, title: r3, owner: dba, planned: 1m}
"""


def make_plan(tmp_path: Path, text: str = PLAN, name: str = "plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    plan, _ = load_plan(path, for_run=False)
    return plan


def gates(state: str = "GO", **overrides: str) -> dict[str, GateStatus]:
    """Real gate statuses (cockpit.gates) for g1 and g2."""
    out = {}
    for g in ("g1", "g2"):
        s = GateState(overrides.get(g, state))
        out[g] = GateStatus(g, s, f"{g} is {s.value}", 1_800_000_000.0)
    return out


class Cockpit:
    """One journal, and an Operations per operator name, all on one clock. Each name acts
    from its own session (as two people at two cockpits would: the two-person rule of a plan
    whose names are not tied to logins tells people apart by session)."""

    def __init__(self, plan, clock=None):
        self.plan = plan
        self.clock = clock or ManualClock(1_800_000_000.0)
        self.journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, clock=self.clock)
        self._ops: dict[str, Operations] = {}

    def __call__(self, operator: str = "lead1") -> Operations:
        if operator not in self._ops:
            actor = dataclasses.replace(Actor.current(operator), session=f"s-{operator}")
            self._ops[operator] = Operations(self.plan, self.journal, actor)
        self.clock.advance_sync(7.5)
        return self._ops[operator]


@pytest.fixture
def plan(tmp_path):
    return make_plan(tmp_path)


@pytest.fixture
def ck(plan):
    c = Cockpit(plan)
    yield c
    c.journal.close()


def _refused(fn, *args, match: str, **kw):
    before = len(fn.__self__.journal.entries)
    with pytest.raises(Refused, match=match):
        fn(*args, **kw)
    # A refused action writes nothing, but a refusal of authority is itself journalled.
    assert [e.action for e in fn.__self__.journal.entries[before:]] in ([], ["access.refused"])


def two_person(ck, step: str, first: str = "app1", second: str = "lead1"):
    """A two-person step confirmed the real way: the request, then the second's approval."""
    request = ck(first).confirm(step, gates(), typed=step)
    return ck(second).approve(request.seq, gates(), typed=step)


def _finish_before(ck):
    ck("dba1").confirm("S1", gates())
    ck("dba1").confirm("S3", gates())
    ck("lead1").decide("S4", "GO", gates(), typed="S4")


def test_fresh_state(ck):
    s = ck().state
    assert s.phase == "before" and s.next_step == "S1" and s.open_phases == ("before",)
    assert s.steps["S1"].status is StepStatus.ACTIVE
    assert s.steps["S2"].status is StepStatus.ACTIVE  # parallel: workable at once
    assert s.steps["S3"].status is StepStatus.PENDING
    assert s.steps["R1"].status is StepStatus.PENDING and not s.rollback_active


def test_steps_go_in_order_unless_parallel(ck):
    _refused(ck("dba1").confirm, "S3", gates(), match="do S1 first: the steps of 'before' go in order")
    assert ck("dba1").can_confirm("S3", gates()) == "do S1 first: the steps of 'before' go in order"
    ck("dba1").confirm("S2", gates())  # parallel, any time while its phase is open
    e = ck("dba1").confirm("S1", gates())
    assert e.action == "step.confirm" and e.subject == "S1" and e.actor.operator == "dba1"
    s = ck().state
    assert s.steps["S1"].status is StepStatus.DONE and s.steps["S1"].actor == "dba1"
    assert s.steps["S1"].at == e.wall and s.next_step == "S3"
    _refused(ck("dba1").confirm, "S1", gates(), match="S1 is already done")
    _refused(ck("dba1").confirm, "D3", gates(), match="phase 'during' is not open yet")
    _refused(ck("dba1").confirm, "NOPE", gates(), match="no step 'NOPE'")


def test_required_gates_must_pass_and_the_snapshot_is_recorded(ck):
    ck("dba1").confirm("S1", gates())
    _refused(ck("dba1").confirm, "S3", gates("HOLD"), match="gate g1 is HOLD")
    _refused(ck("dba1").confirm, "S3", gates("UNKNOWN"), match="gate g1 is UNKNOWN: g1 is UNKNOWN")
    _refused(ck("dba1").confirm, "S3", {}, match=r"gate g1 has no status yet \(UNKNOWN\)")
    e = ck("dba1").confirm("S3", gates(g2="NO-GO"))  # S3 needs only g1
    assert e.data["gates"] == {"g1": gates()["g1"].to_json()}
    assert ck().state.steps["S3"].gate_snapshot == e.data["gates"]


def test_override_lets_a_step_pass_a_blocking_gate(ck):
    ck("dba1").confirm("S1", gates())
    bad = gates("NO-GO")
    _refused(ck("dba1").override, "g1", "S3", "GATE_DATA_STALE", "checked by hand", bad,
             match="dba1 \\(dba\\) may not override gate g1")
    _refused(ck().override, "g1", "S3", "", "x", bad, match="an override needs a reason code")
    _refused(ck().override, "g1", "S3", "BOGUS", "x", bad, match="unknown reason code 'BOGUS'")
    _refused(ck().override, "g1", "S3", "GATE_DATA_STALE", "  ", bad, match="needs a note")
    _refused(ck().override, "g2", "S3", "GATE_DATA_STALE", "x", bad, match="S3 does not require gate g2")
    _refused(ck().override, "g1", "S3", "GATE_DATA_STALE", "x", gates(), match="g1 is GO: there is nothing to override")
    o = ck().override("g1", "S3", "GATE_DATA_STALE", "verified lag by hand", bad)
    assert o.action == "gate.override" and o.subject == "g1"
    assert o.data == {"step": "S3", "gate": bad["g1"].to_json()}
    _refused(ck().override, "g1", "S3", "GATE_DATA_STALE", "x", bad, match="already overridden")
    e = ck("dba1").confirm("S3", bad)
    assert e.data["overrides"] == ["g1"] and e.data["gates"]["g1"]["state"] == "NO-GO"
    ov = ck().state.overrides
    assert len(ov) == 1 and (ov[0].gate, ov[0].step, ov[0].actor, ov[0].reason_code) == \
        ("g1", "S3", "lead1", "GATE_DATA_STALE")


def test_decisions_open_the_next_phase_on_go(ck):
    ck("dba1").confirm("S1", gates())
    ck("dba1").confirm("S3", gates())
    _refused(ck().confirm, "S4", gates(), match="S4 is a decision: record GO or NO-GO")
    _refused(ck("dba1").decide, "S4", "GO", gates(), typed="S4", match="may not record the decision")
    _refused(ck().decide, "S3", "GO", gates(), match="not a decision step")
    _refused(ck().decide, "S4", "MAYBE", gates(), match="GO or NO-GO")
    _refused(ck().decide, "S4", "GO", gates(g2="HOLD"), typed="S4", match="cannot record GO on S4: gate g2 is HOLD")
    _refused(ck().decide, "S4", "GO", gates(), match="S4 is critical: type its id")
    no = ck().decide("S4", "NO-GO", gates(g2="NO-GO"), note="lag too high", typed="S4")
    s = ck().state
    assert no.data["call"] == "NO-GO" and s.steps["S4"].status is StepStatus.FAILED
    # next_step is the first workable step in plan order: the parallel S2 is still open.
    assert s.steps["S4"].decision == "NO-GO" and s.phase == "before" and s.next_step == "S2"
    _refused(ck("app1").confirm, "D1", gates(), match="phase 'during' is not open yet")
    ck().decide("S4", "GO", gates(), typed="S4")
    s = ck().state
    # S2 (parallel) is not done, but the GO opened the next phase.
    assert s.steps["S4"].decision == "GO" and s.steps["S4"].status is StepStatus.DONE
    assert s.phase == "during" and s.open_phases == ("before", "during") and s.next_step == "D1"
    assert s.steps["S2"].status is StepStatus.ACTIVE
    ck("dba1").confirm("S2", gates())  # still workable while its phase is open
    _refused(ck().decide, "S4", "NO-GO", gates(), typed="S4", match="S4 is already done")


def test_a_complete_phase_opens_the_next_one(ck):
    _finish_before(ck)
    two_person(ck, "D1")
    ck().skip("D2", "NOT_APPLICABLE", "done by vendor", typed="D2")
    ck("dba1").confirm("D3", gates())
    s = ck().state
    assert s.phase == "after" and s.next_step == "A1"


def test_critical_and_two_person_rules(ck):
    _finish_before(ck)
    _refused(ck("app1").confirm, "D1", gates(), typed="wrong", match="type its id")
    request = ck("app1").confirm("D1", gates(), typed="D1")
    assert request.action == "approval.request" and request.data["kind"] == "confirm"
    assert ck().state.steps["D1"].status is StepStatus.ACTIVE  # not done: it waits
    _refused(ck("app1").approve, request.seq, gates(), typed="D1", match="your own request")
    _refused(ck("mallory").approve, request.seq, gates(), typed="D1", match="'mallory' is not an operator")
    _refused(ck("app2").approve, request.seq, gates(), typed="D1",
             match="neither app1's nor app2's role may approve critical steps")
    _refused(ck("lead2").approve, request.seq, gates(), typed="d1", match="type D1 to approve it")
    e = ck("lead2").approve(request.seq, gates(), typed="D1")
    assert (e.action, e.actor.operator, e.data["typed"]) == ("step.confirm", "lead2", True)
    assert e.data["approval"] == {"request": request.seq, "requested_by": request.actor.to_json()}
    # D2 is critical without a second operator: the actor's own role must approve critical steps.
    assert "may not approve critical steps" in ck("dba1").can_confirm("D2", gates())
    _refused(ck("dba1").skip, "D2", "NOT_APPLICABLE", match="may not skip critical steps")
    ck("lead1").confirm("D2", gates(), typed="D2")


def test_permissions_follow_roles_and_people(ck):
    assert ck("ana1").can_confirm("S1", gates()) == "ana1 (analyst) may not work S1: it is owned by dba"
    assert "'stranger' is not an operator" in ck("stranger").can_confirm("S1", gates())
    _refused(ck("stranger").note, "hello", match="'stranger' is not an operator")
    _refused(ck("dba1").start_rollback, "DATA_MISMATCH", match="may not start the rollback")
    assert ck("lead1").can_confirm("S1", gates()) is None  # confirm: ["*"]


def test_a_plan_without_people_allows_anyone(tmp_path):
    text = PLAN.replace("  people:\n", "  people: []\n  _people:\n", 1)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("    - {name:"))
    text = text.replace("  _people:\n", "")
    plan = make_plan(tmp_path, text)
    assert plan.operators.people == []
    ck = Cockpit(plan)
    ck("anyone").confirm("S1", gates())
    ck("someone").start_rollback("DATA_MISMATCH")
    assert ck().state.rollback_active


def test_skip_and_fail(ck):
    _refused(ck("dba1").skip, "S1", "", match="skipping S1 needs a reason code")
    _refused(ck("dba1").skip, "S1", "NOPE", match="unknown reason code 'NOPE'")
    e = ck("dba1").skip("S1", "NOT_APPLICABLE", "no schema changes planned")
    assert (e.reason_code, e.note) == ("NOT_APPLICABLE", "no schema changes planned")
    _refused(ck("dba1").fail, "S3", "", match="failing S3 needs a note")
    ck("dba1").fail("S3", "script exited 2", reason_code="KNOWN_ISSUE")
    ck("dba1").confirm("S2", gates())
    s = ck().state
    assert s.steps["S1"].status is StepStatus.SKIPPED and s.steps["S3"].status is StepStatus.FAILED
    assert s.next_step == "S3"  # a failed step blocks the ones after it until retried or skipped
    ck("dba1").confirm("S3", gates())  # retry
    assert ck().state.steps["S3"].status is StepStatus.DONE


def test_rollback_switches_to_the_rollback_runbook(ck):
    ck("dba1").confirm("S1", gates())
    _refused(ck().confirm, "R1", gates(), match="R1 is a rollback step: start the rollback first")
    _refused(ck().start_rollback, "", match="rollback needs a reason code")
    e = ck().start_rollback("DATA_MISMATCH", "patients table differs")
    assert e.data == {"phase": "before", "next_step": "S2"}
    s = ck().state
    assert s.rollback_active and s.rollback_reason == "DATA_MISMATCH" and s.rollback_at == e.wall
    assert s.phase == "back" and s.next_step == "R1" and s.steps["S2"].status is StepStatus.PENDING
    _refused(ck().start_rollback, "DATA_MISMATCH", match="already active")
    _refused(ck("dba1").confirm, "S3", gates(), match="rollback is active: S3 is not a rollback step")
    _refused(ck("dba1").confirm, "R2", gates(), typed="R2", match="may not approve critical steps")
    _refused(ck().confirm, "R2", gates(), typed="R2", match="do R1 first")
    ck().confirm("R1", gates())
    ck().skip("R2", "NOT_APPLICABLE", typed="R2")
    s = ck().state
    assert s.phase == "data" and s.next_step == "R3"
    ck("dba1").confirm("R3", gates())
    assert ck().state.next_step is None


def test_triage_needs_an_open_exception_a_category_and_a_reason(ck):
    sysops = ck("system")
    ck.journal.append("exception.open", actor=Actor.system(), subject="X1",
                      data={"layer": "content", "table": "patients", "keys": ["k1"], "kind": "changed",
                            "severity": "critical", "category": None, "columns": ["family_name"],
                            "title": "row differs"})
    assert sysops.state.exceptions["X1"].status == "open"  # direct appends are folded in too
    _refused(ck("dba1").triage, "X1", "defer", "KNOWN_ISSUE", match="may not triage")
    _refused(ck("ana1").triage, "X1", "later", "KNOWN_ISSUE", match="unknown category 'later'")
    _refused(ck("ana1").triage, "X2", "defer", "KNOWN_ISSUE", match="no open exception 'X2'")
    _refused(ck("ana1").triage, "X1", "defer", "", match="triage needs a reason code")
    ck("ana1").triage("X1", "needs_clinical_approval", "DATA_MISMATCH", "ask pharmacy")
    x = ck().state.exceptions["X1"]
    assert x.category == "needs_clinical_approval" and x.status == "open"
    assert x.triage["actor"] == "ana1" and x.triage["reason_code"] == "DATA_MISMATCH"
    ck.journal.append("exception.close", actor=Actor.system(), subject="X1", data={"reason": "fixed"})
    assert ck().state.exceptions["X1"].status == "closed"
    _refused(ck("ana1").triage, "X1", "defer", "KNOWN_ISSUE", match="no open exception 'X1'")


def test_notes_runs_and_gate_changes(ck):
    ck().note("bridge is quiet", subject="S1")
    _refused(ck().note, "   ", match="a note needs a note")
    r = ck("dba1").record_run("S1", 0, "ab" * 32, "/var/log/cockpit/S1.out", 12.34567)
    assert r.data == {"exit_code": 0, "sha256": "ab" * 32, "output_path": "/var/log/cockpit/S1.out",
                      "duration_s": 12.346}
    new, old = gates()["g1"], gates("HOLD")["g1"]
    g = ck().record_gate_change(new, old)
    assert g.actor.operator == "system" and g.data["state"] == "GO" and g.data["old_state"] == "HOLD"
    s = ck().state
    assert s.notes[0].text == "bridge is quiet" and s.notes[0].subject == "S1"
    assert s.steps["S1"].run["exit_code"] == 0 and s.steps["S1"].status is StepStatus.ACTIVE
    assert s.clock_started_at is None
    assert s.last_step_entry == r


def test_clock_started_and_last_step_entry(ck):
    _finish_before(ck)
    assert ck().state.clock_started_at is None
    e = two_person(ck, "D1")
    ck().note("later")
    s = ck().state
    assert s.clock_started_at == e.wall and s.last_step_entry == e and s.head == ck.journal.head


def test_read_only_journal_refuses_every_action(ck, plan):
    watcher = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, readonly=True)
    ops = Operations(plan, watcher, Actor.current("lead1"))
    assert ops.can_confirm("S1", gates()).startswith("the journal is read-only")
    with pytest.raises(Refused, match="read-only"):
        ops.confirm("S1", gates())
    with pytest.raises(Refused, match="read-only"):
        ops.note("x")


SECRETS = {
    "LEGACY_DB_PASSWORD": "Tr0ub4dor&3-legacy",
    "CLOUD_DB_PASSWORD": "correct-horse-cloud",
    "PROM_TOKEN": "prom-token-5f3a9c",
    "JIRA_BASIC_AUTH": "amlyYTpzZWNyZXQ=",
    "SYNTHETIC_USER_KEY": "synthetic-key-77",
}


def test_secrets_from_the_plan_never_reach_the_journal(tmp_path):
    """Every Operations call, fed the plan's DSNs and tokens, leaves none of them on disk."""
    sample = Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml"
    (tmp_path / "plan.yaml").write_text(sample.read_text())
    plan, _ = load_plan(tmp_path / "plan.yaml", env=SECRETS)
    dsn = plan.sources["legacy_db"].dsn
    assert SECRETS["LEGACY_DB_PASSWORD"] in dsn
    leaks = [dsn, plan.sources["cloud_db"].dsn, f"Bearer {SECRETS['PROM_TOKEN']}",
             f"Basic {SECRETS['JIRA_BASIC_AUTH']}", SECRETS["SYNTHETIC_USER_KEY"],
             "postgresql://cockpit_ro:hunter2hunter2@db.internal/ehr"]
    ck = Cockpit(plan)
    lead = "m.okafor"
    all_go = {g: GateStatus(g, GateState.GO, "ok", 0.0) for g in plan.gates}
    leaky = {g: GateStatus(g, GateState.NO_GO, f"connect failed: {dsn}", 0.0) for g in plan.gates}
    refused = 0
    for text in leaks:
        for call in (lambda t: ck(lead).note(t), lambda t: ck(lead).fail("B01", t)):
            try:
                call(text)
            except Refused as exc:
                refused += 1
                assert "never stores secrets" in str(exc)
    assert refused == 2  # the URL password is refused; the plan's own values are redacted
    ck.journal.append("exception.open", actor=Actor.system(), subject="X1",
                      data={"layer": "content", "table": "patients", "keys": ["k"], "kind": "missing",
                            "severity": "critical", "category": None, "columns": [], "title": "t"})
    ck(lead).triage("X1", "defer", "KNOWN_ISSUE", f"see {dsn}")
    ck(lead).confirm("B01", leaky)
    ck(lead).skip("B02", "NOT_APPLICABLE", f"Bearer {SECRETS['PROM_TOKEN']}")
    ck(lead).record_gate_change(leaky["rollback_ready"], all_go["rollback_ready"])
    ck(lead).record_run("B01", 1, None, f"/tmp/out {dsn}", 1.0)
    ck(lead).override("rollback_ready", "B03", "GATE_DATA_STALE", f"verified by hand {dsn}", leaky)
    ck(lead).start_rollback("DATA_MISMATCH", f"bad, see {dsn}")
    raw = plan.journal_path.read_text()
    assert len(ck.journal.entries) >= 15
    for secret in [*SECRETS.values(), "hunter2hunter2"]:
        assert secret not in raw, secret
    assert "password=" not in raw.replace("password=***", "")
    entries = [json.loads(x) for x in raw.splitlines()]
    assert {"gate.change", "gate.override", "step.confirm", "step.run", "step.skip", "step.fail",
            "exception.triage", "rollback.start", "note"} <= {e["action"] for e in entries}


# -- skipping takes what confirming takes ----------------------------------------------------

def test_skipping_a_critical_step_needs_its_id_typed_and_the_authority(ck):
    # Before: s, Enter, Enter skipped a critical step with no typed id.
    _finish_before(ck)
    two_person(ck, "D1")
    _refused(ck().skip, "D2", "NOT_APPLICABLE", match=r"D2 is critical: type its id \(D2\) to skip it")
    _refused(ck().skip, "D2", "NOT_APPLICABLE", typed="d2", match="type its id")
    # dba1 owns D2 but its role may not approve critical steps: it may not skip it either.
    _refused(ck("dba1").skip, "D2", "NOT_APPLICABLE", typed="D2",
             match="may not skip critical steps")
    e = ck().skip("D2", "NOT_APPLICABLE", typed="D2")
    assert e.data["typed"] is True and ck().state.steps["D2"].status is StepStatus.SKIPPED


def test_skipping_a_two_person_step_needs_a_second_persons_approval(ck):
    _finish_before(ck)
    _refused(ck("app1").skip, "D1", "NOT_APPLICABLE", match="type its id")
    request = ck("app1").skip("D1", "NOT_APPLICABLE", "done by the vendor", typed="D1")
    assert request.action == "approval.request" and request.data["kind"] == "skip"
    assert ck().state.steps["D1"].status is StepStatus.ACTIVE
    _refused(ck("app1").approve, request.seq, gates(), typed="D1", match="your own request")
    # Neither app1 nor app2 may approve critical steps.
    _refused(ck("app2").approve, request.seq, gates(), typed="D1",
             match="neither app1's nor app2's role may approve critical steps")
    e = ck("lead1").approve(request.seq, gates(), typed="D1")
    assert (e.action, e.actor.operator, e.reason_code, e.note) == \
        ("step.skip", "lead1", "NOT_APPLICABLE", "done by the vendor")
    assert ck().state.steps["D1"].status is StepStatus.SKIPPED


@pytest.mark.parametrize("state", ["HOLD", "NO-GO", "UNKNOWN"])
def test_skipping_past_a_gate_that_is_not_go_takes_the_override_path(ck, state):
    ck("dba1").confirm("S1", gates())
    # Before: a step whose gate was HOLD was skipped without the override path.
    _refused(ck("dba1").skip, "S3", "NOT_APPLICABLE", gates=gates(state),
             match=f"cannot skip S3: gate g1 is {state}.*override the gate first")
    _refused(ck("dba1").skip, "S3", "NOT_APPLICABLE", match="cannot skip S3: gate g1 has no status")
    assert ck("dba1").can_skip("S3", gates(state)).startswith("cannot skip S3")
    ck().override("g1", "S3", "GATE_DATA_STALE", "verified by hand", gates(state))
    e = ck("dba1").skip("S3", "NOT_APPLICABLE", gates=gates(state))
    assert e.data["overrides"] == ["g1"] and e.data["gates"]["g1"]["state"] == state
    assert ck().state.steps["S3"].status is StepStatus.SKIPPED


def test_skipping_with_its_gates_go_records_the_snapshot(ck):
    ck("dba1").confirm("S1", gates())
    assert ck("dba1").can_skip("S3", gates()) is None
    e = ck("dba1").skip("S3", "NOT_APPLICABLE", gates=gates())
    assert e.data["gates"]["g1"]["state"] == "GO" and e.data["overrides"] == []
