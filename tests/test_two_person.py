"""The two-person rule in the core: the first person's confirm / skip / rollback is a request,
a different person approves or rejects it, the requester may withdraw it; replay keeps the
pending requests and derives their expiry from time (a ManualClock here).

Each name acts from its own session (``tests.test_runbook_rules.Cockpit``): the OS user is the
same (the test's), which is what a plan without ``logins`` allows; the plan with logins below
gives each actor its own ``os_user``, as two logins would."""

from __future__ import annotations

import pytest

from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations, StepStatus, replay
from tests.test_runbook_rules import PLAN, Cockpit, _finish_before, _refused, gates, make_plan


@pytest.fixture
def ck(tmp_path):
    c = Cockpit(make_plan(tmp_path))
    _finish_before(c)
    yield c
    c.journal.close()


def test_a_request_leaves_the_step_waiting_and_says_who_asked_under_which_gates(ck):
    request = ck("app1").confirm("D1", gates(), typed="D1")
    assert (request.action, request.subject, request.actor.operator) == ("approval.request", "D1", "app1")
    assert request.data["kind"] == "confirm" and request.data["expires_s"] == 600.0
    state = ck().state
    assert state.steps["D1"].status is StepStatus.ACTIVE  # not done
    [pending] = state.pending(ck.clock.now())
    assert (pending.seq, pending.subject, pending.kind, pending.requester.operator) == \
        (request.seq, "D1", "confirm", "app1")
    assert pending.at == request.wall and pending.expires_at == request.wall + 600.0
    assert pending.gates == request.data["gates"]
    assert state == replay(ck.plan, ck.journal.entries)  # live equals a fresh fold
    # One open request per step: asking again (anyone) is refused with who asked.
    _refused(ck("lead1").confirm, "D1", gates(), typed="D1",
             match=r"D1 already waits for a second person's approval \(requested by app1")


def test_the_request_is_seen_by_another_cockpit_following_the_journal(ck):
    watcher = Journal.open(ck.plan.journal_path, cutover_id=ck.plan.cutover.id, readonly=True)
    other = Operations(ck.plan, watcher, Actor.current("lead1"), clock=ck.clock)
    assert other.state.pending(ck.clock.now()) == []
    request = ck("app1").confirm("D1", gates(), typed="D1")
    watcher.refresh()  # what the session's follower does every second
    [seen] = other.state.pending(ck.clock.now())
    assert seen.seq == request.seq and seen.requester.operator == "app1"
    watcher.close()


def test_the_approval_is_the_completing_entry_written_by_the_approver(ck):
    request = ck("app1").confirm("D1", gates(), typed="D1")
    e = ck("lead1").approve(request.seq, gates("GO"), typed="D1")
    assert (e.action, e.subject, e.actor.operator) == ("step.confirm", "D1", "lead1")
    assert e.data["approval"] == {"request": request.seq, "requested_by": request.actor.to_json()}
    assert e.data["gates"] == {}  # D1 requires no gate: the snapshot is of its required gates
    state = ck().state
    assert state.steps["D1"].status is StepStatus.DONE and state.steps["D1"].actor == "lead1"
    assert state.pending(ck.clock.now()) == [] and request.seq in state.approvals_ended
    assert state.clock_started_at == e.wall  # spans and the cutover clock see a confirm
    _refused(ck("lead2").approve, request.seq, gates(), typed="D1",
             match=rf"request #{request.seq} was already approved \(confirmed\) by lead1")
    # Another cockpit that lost the race to the same step hears who and when.
    _refused(ck("app1").confirm, "D1", gates(), typed="D1",
             match=r"D1 is already done: it was confirmed by lead1 \d+(\.\d+)?s ago")


def test_the_same_person_approving_their_own_request_is_refused(ck):
    request = ck("app1").confirm("D1", gates(), typed="D1")
    _refused(ck("app1").approve, request.seq, gates(), typed="D1",
             match="you cannot approve your own request for D1: a second person approves it "
                   "from their own cockpit")
    # Names not tied to logins: another name typed into the same session is the same person.
    same_session = ck("app1").acting_as(Actor("lead1", "x", "h", None, 1, "s-app1"))
    _refused(same_session.approve, request.seq, gates(), typed="D1", match="your own request")


def test_with_logins_a_different_person_is_a_different_os_user(tmp_path):
    text = PLAN.replace("{name: lead1, role: lead}", "{name: lead1, role: lead, logins: [u_lead1]}") \
               .replace("{name: lead2, role: lead}", "{name: lead2, role: lead, logins: [u_lead1]}") \
               .replace("{name: app1, role: app}", "{name: app1, role: app, logins: [u_app1]}") \
               .replace("{name: dba1, role: dba}", "{name: dba1, role: dba, logins: [u_dba1]}")
    plan = make_plan(tmp_path, text)
    ck = Cockpit(plan)
    ops = {n: Operations(plan, ck.journal, Actor(n, login, "jump1", None, 1, f"s-{n}"))
           for n, login in (("lead1", "u_lead1"), ("lead2", "u_lead1"), ("app1", "u_app1"),
                            ("dba1", "u_dba1"))}
    ops["dba1"].confirm("S1", gates())
    ops["dba1"].confirm("S3", gates())
    ops["lead1"].decide("S4", "GO", gates(), typed="S4")
    request = ops["lead1"].confirm("D1", gates(), typed="D1")
    assert ops["lead1"].identities_checked()
    # lead2 is another name under the same login: one login is one person.
    _refused(ops["lead2"].approve, request.seq, gates(), typed="D1", match="your own request")
    e = ops["app1"].approve(request.seq, gates(), typed="D1")  # lead1 approves critical steps
    assert e.actor.os_user == "u_app1" and e.data["approval"]["requested_by"]["os_user"] == "u_lead1"
    ck.journal.close()


def test_an_expired_request_cannot_be_approved_and_may_be_asked_again(ck):
    request = ck("app1").confirm("D1", gates(), typed="D1")  # the clock moves 7.5 s per call
    ck.clock.advance_sync(600.0 + 180.0 - 15.0)  # two more calls below, 7.5 s each
    assert ck().state.pending(ck.clock.now()) == []  # the header counts none
    _refused(ck("lead1").approve, request.seq, gates(), typed="D1",
             match="the request for D1 expired 3m ago: ask again")
    again = ck("app1").confirm("D1", gates(), typed="D1")  # the expired one no longer blocks
    state = ck().state
    assert list(state.approvals) == [again.seq]  # the newer request replaced it
    assert ck("lead1").approve(again.seq, gates(), typed="D1").action == "step.confirm"


def test_gates_no_longer_go_need_an_override_before_the_approval(ck):
    ck("app1").confirm("D1", gates(), typed="D1")
    ck("lead1").approve(ck().state.approvals[max(ck().state.approvals)].seq, gates(), typed="D1")
    ck().skip("D2", "NOT_APPLICABLE", typed="D2")
    # A two-person step that requires a gate: D3 made so in a variant plan.
    text = PLAN.replace("{id: D3, title: last, owner: dba, planned: 1m}",
                        "{id: D3, title: last, owner: dba, planned: 1m, requires: [g1], two_person: true}")
    plan = make_plan(ck.plan.journal_path.parent, text, name="plan2.yaml")
    dba = Operations(plan, ck.journal, Actor("dba1", "t", "h", None, 1, "s-dba1"), clock=ck.clock)
    lead = Operations(plan, ck.journal, Actor("lead1", "t", "h", None, 2, "s-lead1"), clock=ck.clock)
    request = dba.confirm("D3", gates("GO"), typed=None)
    assert request.data["gates"]["g1"]["state"] == "GO"
    _refused(lead.approve, request.seq, gates(g1="NO-GO"), typed="D3",
             match=r"cannot approve D3: gate g1 is NO-GO.*override the gate for D3 first")
    lead.override("g1", "D3", "GATE_DATA_STALE", "lag checked by hand", gates(g1="NO-GO"))
    e = lead.approve(request.seq, gates(g1="NO-GO"), typed="D3")
    assert e.data["overrides"] == ["g1"] and e.data["gates"]["g1"]["state"] == "NO-GO"


def test_reject_needs_a_note_and_another_person_and_ends_the_request(ck):
    request = ck("app1").confirm("D1", gates(), typed="D1")
    _refused(ck("lead1").reject, request.seq, "  ", match="needs a note")
    _refused(ck("app1").reject, request.seq, "no", match="your own request for D1: withdraw it instead")
    e = ck("lead1").reject(request.seq, "the vendor is not on the bridge yet")
    assert (e.action, e.subject, e.data, e.actor.operator) == \
        ("approval.reject", "D1", {"request": request.seq}, "lead1")
    state = ck().state
    assert state.approvals == {} and state.steps["D1"].status is StepStatus.ACTIVE
    _refused(ck("lead2").approve, request.seq, gates(), typed="D1",
             match=rf"request #{request.seq} was already rejected by lead1")


def test_withdraw_is_the_requesters_alone(ck):
    request = ck("app1").skip("D1", "NOT_APPLICABLE", "vendor did it", typed="D1")
    assert (request.data["kind"], request.data["reason_code"], request.data["note"]) == \
        ("skip", "NOT_APPLICABLE", "vendor did it")
    _refused(ck("lead1").withdraw, request.seq, "x", match="only app1, who asked, may withdraw")
    e = ck("app1").withdraw(request.seq, "asked too early")
    assert e.action == "approval.withdraw" and e.data == {"request": request.seq}
    assert ck().state.approvals == {}
    _refused(ck("app1").withdraw, request.seq, match="already withdrawn by app1")


def test_a_two_person_rollback_is_a_request_and_its_approval_starts_it(tmp_path):
    text = PLAN.replace("  rollback:\n    phases:", "  rollback:\n    two_person: true\n    phases:")
    ck = Cockpit(make_plan(tmp_path, text))
    request = ck("lead1").start_rollback("DATA_MISMATCH", "counts differ on orders")
    assert (request.action, request.subject, request.data["kind"]) == ("approval.request", "rollback", "rollback")
    assert not ck().state.rollback_active
    _refused(ck("lead2").start_rollback, "DATA_MISMATCH", match="starting the rollback already waits")
    _refused(ck("lead1").approve, request.seq, {}, typed="ROLLBACK", match="your own request")
    _refused(ck("dba1").approve, request.seq, {}, typed="ROLLBACK",
             match=r"dba1 \(dba\) may not approve starting the rollback")
    _refused(ck("lead2").approve, request.seq, {}, typed="rollback", match="type ROLLBACK")
    e = ck("lead2").approve(request.seq, {}, typed="ROLLBACK")
    assert (e.action, e.actor.operator, e.reason_code, e.note) == \
        ("rollback.start", "lead2", "DATA_MISMATCH", "counts differ on orders")
    assert e.data["approval"]["request"] == request.seq
    state = ck().state
    assert state.rollback_active and state.rollback_by == "lead2" and state.approvals == {}
    _refused(ck("lead1").start_rollback, "DATA_MISMATCH",
             match=r"rollback is already active: it was started by lead2 \d+(\.\d+)?s ago")
    ck.journal.close()


def test_a_rollback_ends_the_requests_of_main_runbook_steps(ck):
    ck("app1").confirm("D1", gates(), typed="D1")
    ck().start_rollback("DATA_MISMATCH")
    assert ck().state.approvals == {}
    assert ck().state == replay(ck.plan, ck.journal.entries)
