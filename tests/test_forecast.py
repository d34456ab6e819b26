"""The finish forecast on a scripted night: real Journal and Operations on a ManualClock.

The plan's window is two hours (08:00Z to 10:00Z, T0 = 08:00Z). Planned: P1 10m, P2 20m
(parallel), P3 10m | D1 30m, D2 5m (decision) | A1 15m; rehearsed (the baselines' medians,
given here): P1 15m, D1 40m. So the rehearsed night is P1+P3 = 25m, D1+D2 = 45m, A1 15m:
85 minutes, finishing 09:25Z, 35 minutes before the window closes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.gates import GateState
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations
from cockpit.runbook.forecast import LATE_SLACK_S, Forecaster, forecast
from cockpit.runbook.spans import step_spans
from cockpit.session import open_session

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
M = 60.0

PLAN = """
version: 1
cutover:
  id: fc-cut
  name: forecast night
  journal: journal.jsonl
  window: {start: "2027-01-15T08:00:00Z", end: "2027-01-15T10:00:00Z"}
operators:
  roles:
    lead: {confirm: ["*"], approve_critical: true, decide: true, override: true, rollback: true}
  people:
    - {name: lead1, role: lead}
gates:
%(gates)s
runbook:
  phases:
    - id: before
      title: Before
      steps:
        - {id: P1, title: one, owner: lead, planned: 10m}
        - {id: P2, title: two, owner: lead, planned: 20m, parallel: true}
        - {id: P3, title: three, owner: lead, planned: 10m}
    - id: during
      title: During
      steps:
        - {id: D1, title: move, owner: lead, planned: 30m}
        - {id: D2, title: go, owner: lead, planned: 5m, kind: decision}
    - id: after
      title: After
      steps:
        - {id: A1, title: check, owner: lead, planned: 15m}
  rollback:
    phases:
      - id: back
        title: Back
        steps:
          - {id: R1, title: r1, owner: lead, planned: 10m}
          - {id: R2, title: r2, owner: lead, planned: 20m}
"""
NO_GATES = "  {}"
REHEARSED = {"P1": 15 * M, "D1": 40 * M}


def make_plan(tmp_path: Path, gates: str = NO_GATES, name: str = "plan.yaml"):
    path = tmp_path / name
    path.write_text(PLAN % {"gates": gates})
    return load_plan(path, for_run=False)[0]


class Night:
    """One journal and one lead on a ManualClock; ``at(minutes)`` sets the time since T0."""

    def __init__(self, plan, journal_path: Path | None = None):
        self.plan = plan
        self.clock = ManualClock(T0)
        self.journal = Journal.open(journal_path or plan.journal_path, cutover_id=plan.cutover.id,
                                    clock=self.clock)
        self.ops = Operations(plan, self.journal, Actor.current("lead1"))
        self.journal.append("session.start", actor=Actor.system(), data={})  # at T0

    def at(self, minutes: float) -> Night:
        self.clock.set_wall(T0 + minutes * M)
        return self

    def confirm(self, step: str, minutes: float) -> None:
        self.at(minutes).ops.confirm(step, {})

    def forecast(self, rehearsed=REHEARSED):
        state = self.ops.state
        return forecast(self.plan, state, self.clock.now(), rehearsed,
                        step_spans(self.plan, self.journal.entries))


@pytest.fixture
def night(tmp_path):
    n = Night(make_plan(tmp_path))
    yield n
    n.journal.close()


def test_on_time_the_rehearsed_night_finishes_35m_before_the_window_closes(night):
    fc = night.at(0).forecast()
    assert fc is not None and fc.phase == "before"
    assert fc.phase_finish == T0 + 25 * M  # P1 15m (rehearsed) then P3 10m; P2 20m beside
    assert fc.finish == T0 + 85 * M and fc.margin_s == 35 * M
    assert fc.late_steps == 0
    assert set(fc.active) == {"P1", "P2"}
    assert fc.active["P1"].rehearsed_s == 15 * M and fc.active["P1"].planned_s == 10 * M
    assert fc.active["P2"].rehearsed_s is None and fc.active["P2"].expected_s == 20 * M

    night.confirm("P1", 15)
    night.confirm("P2", 20)
    night.confirm("P3", 25)
    fc = night.forecast()
    assert fc.phase == "during" and fc.phase_finish == T0 + 70 * M
    assert fc.finish == T0 + 85 * M and fc.late_steps == 0
    assert fc.active["D1"].started == T0 + 25 * M and fc.active["D1"].elapsed_s == 0


def test_without_a_baseline_the_plan_is_the_forecast(night):
    fc = night.at(0).forecast(rehearsed={})
    assert fc.finish == T0 + 70 * M and fc.margin_s == 50 * M


def test_a_late_night_counts_its_late_steps_and_moves_the_finish(night):
    night.confirm("P1", 30)  # rehearsed 15m: 15 minutes late
    fc = night.forecast()
    assert fc.finish == T0 + 100 * M and fc.margin_s == 20 * M
    # P1 finished late; P3 became workable at 30m against 15m scheduled; P2 (0m..20m
    # scheduled) is still being worked at 30m
    assert fc.late_steps == 3
    night.confirm("P2", 31)  # finished 11 minutes late: still late, counted once
    assert night.forecast().late_steps == 3
    night.confirm("P3", 40)  # P3 took its 10m: late by its start only, counted once
    fc = night.forecast()
    assert fc.late_steps == 4  # D1 became workable at 40m against 25m scheduled
    assert fc.finish == T0 + 100 * M


def test_lateness_within_the_slack_is_not_late(night):
    night.confirm("P1", 15 + LATE_SLACK_S / M - 0.5)
    assert night.forecast().late_steps == 0


def test_an_overrunning_step_pushes_the_forecast_past_the_window_end(night):
    for step, t in (("P1", 15), ("P2", 20), ("P3", 25)):
        night.confirm(step, t)
    margins = []
    for t in (25, 65, 85, 105):  # D1 (rehearsed 40m) began at 25m
        night.at(t)
        fc = night.forecast()
        margins.append(fc.margin_s)
        assert fc.active["D1"].elapsed_s == (t - 25) * M
    # within its rehearsal nothing moves; past it, every minute of overrun is a minute later
    assert margins == [35 * M, 35 * M, 15 * M, -5 * M]
    fc = night.forecast()
    assert fc.finish == T0 + 125 * M and fc.active["D1"].over_s == 40 * M
    assert fc.late_steps == 1  # D1 runs past its scheduled finish (65m)


def test_a_go_decision_opens_the_next_phase_and_the_rollback_is_forecast_after_it(night):
    for step, t in (("P1", 15), ("P2", 20), ("P3", 25), ("D1", 65)):
        night.confirm(step, t)
    night.at(70).ops.decide("D2", "GO", {}, note="go")
    fc = night.forecast()
    assert fc.phase == "after" and fc.finish == T0 + 85 * M
    night.at(75).ops.start_rollback("CLINICAL_SAFETY", "ward 4B")
    fc = night.forecast()
    assert fc.rollback and fc.phase == "back"
    assert fc.finish == T0 + 105 * M  # R1 10m then R2 20m (planned: no rehearsal of them)
    assert set(fc.active) == {"R1"}


def test_nothing_to_forecast_before_the_first_entry_and_after_the_last_step(tmp_path):
    plan = make_plan(tmp_path)
    clock = ManualClock(T0)
    journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, clock=clock)
    ops = Operations(plan, journal, Actor.current("lead1"))
    assert forecast(plan, ops.state, T0, REHEARSED, step_spans(plan, [])) is None
    for sid in ("P1", "P2", "P3", "D1"):
        ops.confirm(sid, {})
    ops.decide("D2", "GO", {}, note="go")
    ops.confirm("A1", {})
    assert forecast(plan, ops.state, T0, REHEARSED, step_spans(plan, journal.entries)) is None
    journal.close()


def test_the_forecaster_folds_each_entry_once_and_agrees_with_the_pure_function(night):
    f = Forecaster(night.plan, REHEARSED)
    entries = night.journal.entries
    assert f.forecast(entries, night.clock.now()) == night.forecast()
    night.confirm("P1", 30)
    night.at(40)
    assert f.forecast(entries, night.clock.now()) == night.forecast()
    assert f._applied == len(entries)


# -- the built-in signals feed a real gate --------------------------------------------------

GATE = """  on_time: {expr: "runbook.forecast_margin_s > 0", hold_for: 0s, settle: 0s}
  not_late: {expr: "runbook.late_steps < 2", hold_for: 0s, settle: 0s}"""


async def test_the_margin_signal_turns_a_gate_from_go_to_no_go(tmp_path):
    plan = make_plan(tmp_path, GATE)
    plan.use_rehearsed(REHEARSED)
    clock = ManualClock(T0)
    session = open_session(plan, plan.journal_path, "lead1", clock=clock,
                           actor=Actor.current("lead1"), record_gate_changes=False)
    try:
        session.journal.append("session.start", actor=Actor.system(), data={})
        session.engine.evaluate()
        assert session.engine.gates["on_time"].state is GateState.GO
        assert session.engine.gates["not_late"].state is GateState.GO
        for step, t in (("P1", 15), ("P2", 20), ("P3", 25)):
            clock.set_wall(T0 + t * M)
            session.ops.confirm(step, session.engine.gates)
        clock.set_wall(T0 + 100 * M)  # D1 (rehearsed 40m) has run 75m: finish 10:20Z
        session.engine.evaluate()
        status = session.engine.gates["on_time"]
        assert status.state is GateState.NO_GO
        assert "runbook.forecast_margin_s" in status.reason
        assert session.engine.gates["not_late"].state is GateState.GO  # only D1 is late
    finally:
        session.close()


async def test_no_forecast_no_reading_and_the_gate_is_unknown(tmp_path):
    plan = make_plan(tmp_path, GATE)
    session = open_session(plan, plan.journal_path, "lead1", clock=ManualClock(T0),
                           actor=Actor.current("lead1"), record_gate_changes=False)
    try:
        session.engine.evaluate()  # an empty journal: nothing has started
        assert session.engine.gates["on_time"].state is GateState.UNKNOWN
    finally:
        session.close()
