"""The one session (cockpit/session.py): built-in signals end where the journal's damage begins,
and a wall clock that steps can only make evidence older, never fresher. Real journal files,
the real engine, a manual clock."""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.gates import GateState
from cockpit.journal import Actor, Journal
from cockpit.session import open_session
from tests.test_runbook_rules import PLAN, make_plan

RECON_PLAN = PLAN.replace('''gates:
  g1: {expr: "exceptions.open == 0"}''', '''gates:
  clean: {expr: "recon.mismatched_rows == 0", max_staleness: 30m}
  g1: {expr: "exceptions.open == 0"}''')


async def test_a_journal_found_damaged_while_following_it_feeds_no_builtin_signal(tmp_path):
    # Before: `gates --watch` kept feeding exceptions.* (the counts of the last good entry,
    # with fresh timestamps) from a journal it had found damaged.
    plan = make_plan(tmp_path)
    writer = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
    try:
        writer.append("note", actor=Actor.current("lead1"), note="bridge open")
        clock = ManualClock()
        session = open_session(plan, plan.journal_path, "system", mode="watch", clock=clock)
        assert any("in use by another cockpit" in w for w in session.warnings)
        session.engine.evaluate()
        assert session.engine.gates["g1"].state is GateState.GO
        with open(plan.journal_path, "ab") as f:
            f.write(b'{"seq": 2, "not": "an entry"}\n')
        clock.advance_sync(2)
        session.engine.evaluate()
        assert session.journal.damage is not None
        assert session.engine.gates["g1"].state is GateState.UNKNOWN
        assert session.engine.gates["g1"].reason == "exceptions.open: no reading yet"
        session.close()
    finally:
        writer.close()


async def test_a_wall_clock_step_back_never_makes_a_reconciliation_fresher(tmp_path):
    plan = make_plan(tmp_path, RECON_PLAN)
    clock = ManualClock(start=1_800_000_000.0)
    session = open_session(plan, plan.journal_path, "lead1", clock=clock)
    engine = session.engine
    session.journal.append("recon.run", actor=Actor.system(),
                           data={"tables": {}, "mismatched_rows": 0, "failed_checks": 0})
    await engine.start()
    try:
        await clock.advance(1)
        assert engine.gates["clean"].state is GateState.GO
        await clock.advance(3600)
        assert engine.gates["clean"].state is GateState.UNKNOWN  # an hour old, 30m allowed
        clock.set_wall(1_800_000_000.0 + 1)  # the wall clock steps back an hour
        await clock.advance(1)
        # Before: the hour-old run read as age 0 and the gate went back to GO.
        assert engine.gates["clean"].state is GateState.UNKNOWN
        assert "stale for 1h" in engine.gates["clean"].reason
        await session.writes_settled()
        steps = [e for e in session.journal.entries if e.action == "clock.warning"]
        assert steps and steps[-1].data["step_s"] < -3500
        assert "stepped backwards" in steps[-1].note
        # A run recorded after the step (its timestamp on the stepped wall clock) is measured
        # from when this cockpit saw it: fresh now, stale after max_staleness.
        session.journal.append("recon.run", actor=Actor.system(),
                               data={"tables": {}, "mismatched_rows": 0, "failed_checks": 0})
        await clock.advance(1)
        assert engine.gates["clean"].state is GateState.GO
        await clock.advance(1801)
        assert engine.gates["clean"].state is GateState.UNKNOWN
    finally:
        await engine.stop()
        session.close()


async def test_a_run_recorded_in_the_future_has_no_age_and_is_unknown(tmp_path):
    # A cockpit started after the wall clock stepped back an hour reads a run written before
    # the step: its timestamp is in the future, so how old it is cannot be known.
    plan = make_plan(tmp_path, RECON_PLAN)
    before_step = ManualClock(start=1_800_003_600.0)
    with Journal.open(plan.journal_path, cutover_id=plan.cutover.id, clock=before_step) as j:
        j.append("recon.run", actor=Actor.system(),
                 data={"tables": {}, "mismatched_rows": 0, "failed_checks": 0})
    session = open_session(plan, plan.journal_path, "lead1", mode="readonly",
                           clock=ManualClock(start=1_800_000_000.0))
    session.engine.evaluate()
    status = session.engine.gates["clean"]
    assert status.state is GateState.UNKNOWN and "the wall clock stepped back" in status.reason
    session.close()
