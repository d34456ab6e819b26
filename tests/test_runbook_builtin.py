"""Built-in signals from the replayed journal feed real gates (cockpit.gates.GateBook).

Reconciliation signals are computed over every ``recon.run``, unit by unit: a partial run
changes only what it measured; a sum has no value until every configured unit has been
measured, and carries the time of its oldest measurement (so max_staleness applies to it).
"""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.gates import GateBook, GateState
from cockpit.journal import Actor
from cockpit.runbook import builtin_readings
from tests.test_runbook_rules import PLAN, Cockpit, make_plan

RECON = """
sources:
  legacy: {type: postgres, dsn: "host=127.0.0.1 dbname=a"}
  cloud: {type: postgres, dsn: "host=127.0.0.1 dbname=b"}
reconciliation:
  source: legacy
  target: cloud
  tables:
    - {name: patients, key: [id]}
    - {name: allergies, key: [id]}
  domain:
    - {id: dup, check: duplicates, table: patients, columns: [mrn]}
"""
GATES = PLAN.replace(
    '  g1: {expr: "exceptions.open == 0"}\n  g2: {expr: "exceptions.open_critical == 0"}',
    '  g1: {expr: "recon.mismatched_rows == 0 and exceptions.open_critical == 0", max_staleness: 10m}\n'
    '  g2: {expr: "exceptions.open_critical == 0"}\n'
    '  g3: {expr: "recon.failed_checks == 0", max_staleness: 10m}') + RECON
UNITS = ("schema:patients", "counts:patients", "content:patients", "schema:allergies",
         "counts:allergies", "content:allergies", "domain:dup")


def _legacy(ck, mismatched, tables, failed=1, layers=("counts",)):
    """An entry as the earlier cockpit wrote it (no format, no units)."""
    ck.journal.append("recon.run", actor=Actor.system(),
                      data={"tables": tables, "mismatched_rows": mismatched,
                            "failed_checks": failed, "layers": {x: {} for x in layers},
                            "duration_s": 3.0, "opened": [], "closed": []})


def _unit(uid: str, failed=False, error=None, **values) -> dict:
    layer, _, rest = uid.partition(":")
    return {"layer": layer, "table": rest, "check": rest if layer == "domain" else None,
            "failed": failed, "error": error, "findings": int(failed), **values}


def _run(ck, *units: dict) -> float:
    ck.journal.append("recon.run", actor=Actor.system(), data={
        "format": 2, "units": {f"{u['layer']}:{u['table']}": u for u in units},
        "tables": {}, "mismatched_rows": None, "failed_checks": 0, "layers": {},
        "duration_s": 1.0, "opened": [], "closed": []})
    return ck.journal.entries[-1].wall


def _content(table: str, missing=0, extra=0, changed=0) -> dict:
    return _unit(f"content:{table}", missing=missing, extra=extra, changed=changed,
                 source_rows=10, target_rows=10 - missing + extra)


def _full(ck, *, dup_failed=False, patients_missing=0) -> float:
    return _run(ck, *(_unit(u) for u in UNITS if u.split(":")[0] in ("schema", "counts")),
                _content("patients", missing=patients_missing), _content("allergies"),
                _unit("domain:dup", failed=dup_failed))


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


def test_a_partial_run_never_turns_a_failure_green(tmp_path):
    """The review's case: NO-GO on a failing domain check, then a schema-only run; the domain
    check never ran again, so the gate stays NO-GO."""
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    full_ts = _full(ck, dup_failed=True)
    book = GateBook(plan, clock)
    book.update(builtin_readings(ck().state, clock))
    assert book.statuses["g3"].state is GateState.NO_GO
    clock.advance_sync(60)
    _run(ck, _unit("schema:patients"), _unit("schema:allergies"))
    r = builtin_readings(ck().state, clock)
    assert r["recon.failed_checks"].value == 1
    assert r["recon.failed_checks"].ts == full_ts  # the oldest measurement in the sum
    book.update(r)
    assert book.statuses["g3"].state is GateState.NO_GO
    # Only a run of the domain check itself can turn it green.
    _run(ck, _unit("domain:dup"))
    book.update(builtin_readings(ck().state, clock))
    assert book.statuses["g3"].state is GateState.GO


def test_sums_wait_for_every_unit_and_age_with_the_oldest(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    first = _run(ck, _content("patients"), _unit("schema:patients"))
    r = builtin_readings(ck().state, clock)
    assert r["recon.mismatched_rows"].value is None
    assert "not measured yet: content:allergies" in r["recon.mismatched_rows"].error
    assert r["recon.failed_checks"].value is None
    assert "not measured yet" in r["recon.failed_checks"].error
    assert r["recon.patients.missing"].value == 0 and r["recon.patients.missing"].ts == first
    assert r["recon.allergies.missing"].value is None
    clock.advance_sync(300)
    second = _run(ck, _content("allergies", changed=2))
    r = builtin_readings(ck().state, clock)
    assert r["recon.mismatched_rows"].value == 2 and r["recon.mismatched_rows"].ts == first
    assert r["recon.mismatched_rows"].age(clock.monotonic()) == clock.now() - first
    assert r["recon.allergies.changed"].ts == second
    _run(ck, _content("allergies"))
    book = GateBook(plan, clock)
    book.update(builtin_readings(ck().state, clock))
    assert book.statuses["g1"].state is GateState.GO
    # Ten minutes after the *first* measurement: stale, although a run came later.
    clock.advance_sync(600 - (clock.now() - first) + 1)
    book.update(builtin_readings(ck().state, clock))
    assert book.statuses["g1"].state is GateState.UNKNOWN
    assert book.statuses["g1"].reason


def test_a_failed_latest_attempt_is_not_an_old_green(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    _full(ck)
    clock.advance_sync(30)
    _run(ck, _unit("content:patients", error="source: statement timeout; rows not compared"))
    r = builtin_readings(ck().state, clock)
    assert r["recon.mismatched_rows"].value is None
    assert "statement timeout" in r["recon.mismatched_rows"].error
    assert r["recon.patients.missing"].error.startswith("source: statement timeout")
    assert r["recon.allergies.missing"].value == 0
    assert r["recon.failed_checks"].value == 1  # the error counts as a failed check


def test_earlier_format_entries_are_still_read(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    good = {"missing": 0, "extra": 0, "changed": 0, "source_rows": 10, "target_rows": 10,
            "error": None}
    _legacy(ck, 0, {"patients": good, "allergies": {**good, "changed": 3}}, failed=2,
            layers=("storage", "schema", "counts", "content", "domain"))
    run_ts = ck.journal.entries[-1].wall
    clock.advance_sync(30)
    r = builtin_readings(ck().state, clock)
    assert r["recon.mismatched_rows"].value == 3 and r["recon.mismatched_rows"].ts == run_ts
    assert r["recon.failed_checks"].value == 2 and r["recon.failed_checks"].ts == run_ts
    assert r["recon.patients.source_rows"].value == 10
    assert r["recon.last_run_age_s"].value == clock.now() - run_ts
    assert r["recon.last_run_age_s"].age(clock.monotonic()) == 0
    # An old partial run's failed_checks was of that run alone: not evidence for the sum.
    _legacy(ck, None, {"patients": {"error": "statement timeout"}}, failed=0)
    r = builtin_readings(ck().state, clock)
    assert r["recon.failed_checks"].value == 2
    assert r["recon.patients.missing"].value == 0  # counts-only: content figures unchanged
    # Re-measured in the new format, unit by unit: the old total stays until all are.
    _run(ck, *(_unit(u) for u in UNITS[:-1]))
    assert builtin_readings(ck().state, clock)["recon.failed_checks"].value == 2
    _run(ck, _unit("domain:dup"))
    assert builtin_readings(ck().state, clock)["recon.failed_checks"].value == 0


def test_exceptions_signals_follow_the_queue(tmp_path):
    plan = make_plan(tmp_path, GATES)
    clock = ManualClock()
    ck = Cockpit(plan, clock)
    _full(ck, patients_missing=3)
    ck.journal.append("exception.open", actor=Actor.system(), subject="X2",
                      data={"severity": "critical", "table": "patients", "keys": ["k2"]})
    r = builtin_readings(ck().state, clock)
    book = GateBook(plan, clock)
    book.update(r)
    assert r["recon.mismatched_rows"].value == 3 and r["exceptions.open_critical"].value == 1
    assert book.statuses["g1"].state is GateState.NO_GO
    ck.journal.append("exception.close", actor=Actor.system(), subject="X2", data={"reason": "ok"})
    assert builtin_readings(ck().state, clock)["exceptions.open_critical"].value == 0
