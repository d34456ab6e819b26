"""Step spans: when each step became workable and when it finished, from the journal alone."""

from __future__ import annotations

from cockpit.journal import Actor
from cockpit.runbook import StepStatus
from cockpit.runbook.spans import step_spans
from tests.test_runbook_rules import Cockpit, gates, make_plan

T0 = 1_800_000_000.0


def test_spans_follow_the_order_rules(tmp_path):
    ck = Cockpit(make_plan(tmp_path))
    ck.journal.append("session.start", actor=Actor.system(), data={})  # at T0
    ck.clock.advance_sync(60)
    ops = ck("dba1")  # each call moves the clock 7.5 s
    ops.confirm("S1", gates())  # T0 + 67.5
    ck("dba1").confirm("S2", gates())  # parallel, T0 + 75
    ck.clock.advance_sync(100)
    ck("dba1").fail("S3", "broke")  # T0 + 182.5
    ck("dba1").confirm("S3", gates())  # retried, T0 + 190
    spans = step_spans(ck.plan, ck.journal.entries)
    assert spans["S1"].started == T0 and spans["S1"].finished == T0 + 67.5
    assert spans["S1"].duration_s == 67.5
    assert spans["S2"].started == T0  # parallel: workable from the start
    assert spans["S3"].started == T0 + 67.5  # when S1 (which it waits for) was done
    assert spans["S3"].finished == T0 + 190 and spans["S3"].status is StepStatus.DONE
    assert spans["S4"].started == T0 + 190 and spans["S4"].finished is None
    assert spans["S4"].duration_s is None
    assert spans["D1"].started is None  # its phase never opened
    ck.journal.close()


def test_rollback_steps_start_when_the_rollback_does(tmp_path):
    ck = Cockpit(make_plan(tmp_path))
    ck.journal.append("session.start", actor=Actor.system(), data={})
    ck("lead1").start_rollback("DATA_MISMATCH")  # T0 + 7.5
    ck("lead1").confirm("R1", gates())  # T0 + 15
    ck("lead1").skip("R2", "NOT_APPLICABLE", "x", typed="R2")  # T0 + 22.5
    spans = step_spans(ck.plan, ck.journal.entries)
    assert spans["R1"].started == T0 + 7.5 and spans["R1"].finished == T0 + 15
    assert spans["R2"].started == T0 + 15 and spans["R2"].skipped
    assert spans["R3"].started == T0 + 22.5  # the data phase opened when R2 was skipped
    assert spans["S1"].started == T0 and spans["S1"].finished is None
    ck.journal.close()
