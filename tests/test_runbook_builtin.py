"""Built-in signals from the replayed journal feed real gates (cockpit.gates.GateBook)."""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.gates import GateBook, GateState
from cockpit.journal import Actor
from cockpit.runbook import builtin_readings
from tests.test_runbook_rules import PLAN, Cockpit, make_plan

GATES = PLAN.replace(
    '  g1: {expr: "exceptions.open == 0"}\n  g2: {expr: "exceptions.open_critical == 0"}',
    '  g1: {expr: "recon.mismatched_rows == 0 and exceptions.open_critical == 0", max_staleness: 10m}\n'
    '  g2: {expr: "exceptions.open_critical == 0"}')


def _recon(ck, mismatched, tables):
    ck.journal.append("recon.run", actor=Actor.system(),
                      data={"tables": tables, "mismatched_rows": mismatched, "failed_checks": 1,
                            "layers": ["counts"], "duration_s": 3.0, "opened": [], "closed": []})


def test_no_recon_run_means_no_recon_readings_and_unknown_gates(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    r = builtin_readings(ck().state, clock)
    assert set(r) == {"exceptions.open", "exceptions.open_critical"}
    assert r["exceptions.open"].value == 0
    book = GateBook(plan, clock)
    book.update(r)
    assert book.statuses["g1"].state is GateState.UNKNOWN
    assert book.statuses["g2"].state is GateState.GO


def test_recon_readings_carry_the_run_time_and_go_stale(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    _recon(ck, 0, {"patients": {"missing": 0, "extra": 0, "changed": 0, "source_rows": 10,
                                "target_rows": 10, "error": None},
                   "allergies": {"error": "statement timeout"}})
    run_ts = ck.journal.entries[-1].wall
    ck.journal.append("exception.open", actor=Actor.system(), subject="X1",
                      data={"severity": "major", "table": "patients", "keys": ["k"]})
    clock.advance_sync(30)
    r = builtin_readings(ck().state, clock)
    assert r["recon.mismatched_rows"].value == 0 and r["recon.mismatched_rows"].ts == run_ts
    assert r["recon.failed_checks"].value == 1
    assert r["recon.patients.source_rows"].value == 10
    assert r["recon.allergies.missing"].error == "statement timeout" and not r["recon.allergies.missing"].ok
    assert r["recon.last_run_age_s"].value == clock.now() - run_ts
    assert r["recon.last_run_age_s"].age(clock.monotonic()) == 0
    assert r["recon.mismatched_rows"].age(clock.monotonic()) == clock.now() - run_ts
    assert (r["exceptions.open"].value, r["exceptions.open_critical"].value) == (1, 0)
    book = GateBook(plan, clock)
    book.update(r)
    assert book.statuses["g1"].state is GateState.GO
    clock.advance_sync(600)  # past max_staleness 10m: stale is not green
    book.update(builtin_readings(ck().state, clock))
    assert book.statuses["g1"].state is GateState.UNKNOWN
    _recon(ck, 3, {})
    ck.journal.append("exception.open", actor=Actor.system(), subject="X2",
                      data={"severity": "critical", "table": "patients", "keys": ["k2"]})
    r = builtin_readings(ck().state, clock)
    book.update(r)
    assert r["recon.mismatched_rows"].value == 3 and r["exceptions.open_critical"].value == 1
    assert book.statuses["g1"].state is GateState.NO_GO
    ck.journal.append("exception.close", actor=Actor.system(), subject="X2", data={"reason": "ok"})
    assert builtin_readings(ck().state, clock)["exceptions.open_critical"].value == 0
