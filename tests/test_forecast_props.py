"""The forecast over any journal: step entries in any order (also ones ``Operations`` would
refuse: a journal is data), rollbacks, the clock jumping either way. It never raises; when
it forecasts, ``finish >= now``, ``phase_finish <= finish``, the margin is the window end
minus the finish, and the incremental ``Forecaster`` agrees with the pure function."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.clock import ManualClock
from cockpit.journal import Actor, Journal
from cockpit.runbook import replay
from cockpit.runbook.forecast import Forecaster, forecast
from cockpit.runbook.spans import step_spans
from tests.test_forecast import REHEARSED, T0, make_plan

STEPS = ["P1", "P2", "P3", "D1", "D2", "A1", "R1", "R2", "nope"]
ACTION = st.one_of(
    st.tuples(st.sampled_from(["step.confirm", "step.skip", "step.fail", "step.run"]),
              st.sampled_from(STEPS)),
    st.tuples(st.just("decision.record"), st.sampled_from(["D2", "P1"])),
    st.tuples(st.just("rollback.start"), st.none()),
    st.tuples(st.just("gate.change"), st.just("g1")),
)
STEP = st.tuples(ACTION, st.floats(-600, 7200, allow_nan=False),
                 st.sampled_from(["GO", "NO-GO"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(STEP, max_size=25), later=st.floats(-3600, 86400, allow_nan=False),
       rehearsed=st.dictionaries(st.sampled_from(STEPS), st.floats(0, 1e6, allow_nan=False)))
def test_forecast_never_raises_and_keeps_its_invariants(tmp_path, script, later, rehearsed):
    plan = make_plan(tmp_path)
    path = tmp_path / "j.jsonl"
    path.unlink(missing_ok=True)
    clock = ManualClock(T0)
    journal = Journal.open(path, cutover_id=plan.cutover.id, clock=clock)
    follower = Forecaster(plan, rehearsed)
    lead = Actor.current("lead1")
    try:
        for (action, subject), step_s, call in script:
            clock.set_wall(clock.now() + step_s)
            data = {"call": call} if action == "decision.record" else {}
            journal.append(action, actor=lead, subject=subject, data=data,
                           reason_code="CLINICAL_SAFETY" if action == "rollback.start" else None)
            now = clock.now() + later
            state = replay(plan, journal.entries)
            fc = forecast(plan, state, now, rehearsed, step_spans(plan, journal.entries))
            assert follower.forecast(journal.entries, now) == fc
            if fc is None:
                continue
            assert fc.finish >= now
            assert fc.phase_finish <= fc.finish
            assert fc.margin_s == fc.window_end - fc.finish
            assert fc.late_steps >= 0
            assert fc.rollback == state.rollback_active
            assert all(t.elapsed_s >= 0 and t.over_s >= 0 for t in fc.active.values())
    finally:
        journal.close()


def test_rehearsed_durations_are_what_the_forecast_uses(tmp_path):
    plan = make_plan(tmp_path)
    state = replay(plan, [])
    clock = ManualClock(T0)
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=plan.cutover.id, clock=clock)
    journal.append("session.start", actor=Actor.system(), data={})
    spans = step_spans(plan, journal.entries)
    state = replay(plan, journal.entries)
    slow = forecast(plan, state, T0, {**REHEARSED, "A1": 3600.0}, spans)
    fast = forecast(plan, state, T0, REHEARSED, spans)
    assert slow is not None and fast is not None
    assert slow.finish - fast.finish == 3600.0 - 15 * 60
    journal.close()
