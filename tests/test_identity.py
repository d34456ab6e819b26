"""Who a session is (``cockpit.identity``) and what its role lets it do (``Operations``).

The login is injected (``resolve`` takes it as a parameter, ``Actor.os_user`` is given): these
tests never create a second OS user, they hand the functions the login another user would
have. ``tests/test_identity_cli.py`` goes through the real CLI with the real login.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.identity import Identity, mapped, mode, resolve, standing
from cockpit.journal import Actor, Journal
from cockpit.runbook import Operations, Refused
from tests.test_runbook_rules import PLAN, gates

ROLES = """
operators:
  roles:
    lead: {confirm: ["*"], approve_critical: true, decide: true, override: true, rollback: true, triage: true}
    dba: {confirm: [dba]}
    analyst: {triage: true}
    clinical: {triage: true, approve_clinical: true}
    app: {confirm: [app]}
"""
CHECKED = ROLES + """
  people:
    - {name: lead1, role: lead, logins: [mokafor, oncall]}
    - {name: dba1, role: dba, logins: [jlind, oncall]}
    - {name: ana1, role: analyst, logins: [rhaddad]}
    - {name: doc1, role: clinical, logins: [beaumont]}
    - {name: app1, role: app}
    - {name: bob, role: dba, logins: [robert]}
"""
NAMES = ROLES + """
  people:
    - {name: lead1, role: lead}
    - {name: dba1, role: dba}
    - {name: ana1, role: analyst}
    - {name: doc1, role: clinical}
    - {name: app1, role: app}
"""
OPEN = ROLES


def plan_with(tmp_path: Path, operators: str, name: str = "plan.yaml"):
    start = PLAN.index("operators:")
    end = PLAN.index("gates:")
    path = tmp_path / name
    path.write_text(PLAN[:start] + operators.lstrip("\n") + PLAN[end:])
    plan, _ = load_plan(path, for_run=False)
    return plan


@pytest.fixture
def checked(tmp_path):
    return plan_with(tmp_path, CHECKED)


def ops_as(plan, operator: str, login: str, journal: Journal) -> Operations:
    return Operations(plan, journal, Actor(operator, login, "jump1", "10.0.0.7", 4242, "s1"))


def test_the_three_modes(tmp_path):
    assert mode(plan_with(tmp_path, CHECKED, "a.yaml")) == "checked"
    assert mode(plan_with(tmp_path, NAMES, "b.yaml")) == "names"
    assert mode(plan_with(tmp_path, OPEN, "c.yaml")) == "open"


def test_a_login_mapped_to_one_person_acts_as_them_without_operator(checked):
    me = resolve(checked, None, "rhaddad", {})
    assert me == Identity("ana1", "rhaddad", "checked", "analyst")
    assert me.may_write and me.refusal is None and me.why is None
    assert me.summary()[0] == "ana1 (analyst) · identities checked"
    assert resolve(checked, "ana1", "rhaddad", {}).may_write  # naming oneself is fine


def test_operator_for_someone_elses_name_is_refused(checked):
    me = resolve(checked, "lead1", "rhaddad", {})
    assert not me.may_write
    assert me.refusal == ("--operator lead1: login rhaddad maps to ana1 (operators.people "
                          "logins); pick one of them")
    # $COCKPIT_OPERATOR is held to the same rule, and named as what was asked.
    env = resolve(checked, None, "rhaddad", {"COCKPIT_OPERATOR": "lead1"})
    assert env.refusal is not None and env.refusal.startswith("$COCKPIT_OPERATOR lead1: ")
    # A login mapped to nobody may not name anyone either: it gets a read-only cockpit instead.
    nobody = resolve(checked, "lead1", "mallory", {})
    assert nobody.refusal == ("--operator lead1: login mallory maps to nobody in "
                              "operators.people (logins); without it the cockpit opens read-only")


def test_a_login_mapped_to_two_people_needs_operator(checked):
    me = resolve(checked, None, "oncall", {})
    assert me.refusal == ("login oncall maps to lead1, dba1 (operators.people logins): say which "
                          "with --operator NAME")
    assert resolve(checked, "dba1", "oncall", {}) == Identity("dba1", "oncall", "checked", "dba")
    assert resolve(checked, None, "oncall", {"COCKPIT_OPERATOR": "lead1"}).operator == "lead1"
    assert resolve(checked, "ana1", "oncall", {}).refusal.startswith(
        "--operator ana1: login oncall maps to lead1, dba1")


def test_a_login_mapped_to_nobody_is_read_only(checked, tmp_path):
    me = resolve(checked, None, "mallory", {})
    assert me.refusal is None and not me.may_write and me.operator == "mallory"
    assert me.why == "login mallory maps to nobody in operators.people (logins)"
    assert me.summary() == ("read-only: login mallory maps to nobody in operators.people (logins)",)
    # Operations refuses it every action, whatever name it claims: the login decides. A name
    # that is a person's ("bob") does not help a login that is not one of bob's.
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=checked.cutover.id,
                           clock=ManualClock(1_800_000_000.0))
    try:
        for name, login in (("mallory", "mallory"), ("bob", "bob"), ("lead1", "rhaddad")):
            ops = ops_as(checked, name, login, journal)
            for call in (lambda o: o.confirm("S1", gates()), lambda o: o.note("hello"),
                         lambda o: o.start_rollback("DATA_MISMATCH"),
                         lambda o: o.fail("S1", "broken"),
                         lambda o: o.decide("S4", "NO-GO", gates())):
                with pytest.raises(Refused, match=f"login {login} "):
                    call(ops)
            assert ops.authority("note") is not None
            assert ops.authority("rollback.start", None).startswith(f"login {login} ")
        # Nothing was done; what was refused for authority (confirm, rollback, decision) is on
        # record.
        kinds = {e.action for e in journal.entries}
        assert kinds == {"access.refused"}, kinds
        assert {e.subject for e in journal.entries} == {"step.confirm", "rollback.start",
                                                        "decision.record"}
        assert all(e.note.startswith("login ") for e in journal.entries)
        # The person's own login acts.
        ops_as(checked, "bob", "robert", journal).confirm("S1", gates())
    finally:
        journal.close()


def test_names_mode_is_the_rule_before_identities(tmp_path):
    plan = plan_with(tmp_path, NAMES)
    # Any listed name, whatever the login; the login's own name when no --operator is given.
    assert resolve(plan, "lead1", "anyone", {}) == Identity("lead1", "anyone", "names", "lead")
    assert resolve(plan, None, "dba1", {}).operator == "dba1"
    assert resolve(plan, None, "x", {"COCKPIT_OPERATOR": "ana1"}).operator == "ana1"
    refused = resolve(plan, "mallory", "anyone", {})
    assert refused.refusal == ("operator 'mallory' is not in this plan's operators.people "
                               "(lead1, dba1, ana1, doc1, app1); use --operator NAME or "
                               "$COCKPIT_OPERATOR")
    assert resolve(plan, "lead1", "x", {}).summary()[0] == "lead1 (lead) · names not tied to logins"


def test_open_mode_lets_anyone_act(tmp_path):
    plan = plan_with(tmp_path, OPEN)
    me = resolve(plan, None, "whoever", {})
    assert me == Identity("whoever", "whoever", "open") and me.may_write
    assert resolve(plan, "any.name", "whoever", {}).operator == "any.name"
    assert me.summary()[0] == "whoever · anyone may act (no operators.people)"
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=plan.cutover.id,
                           clock=ManualClock(1_800_000_000.0))
    try:
        ops = ops_as(plan, "whoever", "whoever", journal)
        assert ops.authority("rollback.start") is None
        ops.start_rollback("DATA_MISMATCH")
    finally:
        journal.close()


def test_roles_say_who_may_do_what_and_refusals_of_authority_are_journalled(checked, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=checked.cutover.id,
                           clock=ManualClock(1_800_000_000.0))
    try:
        ana = ops_as(checked, "ana1", "rhaddad", journal)
        assert ana.authority("rollback.start") == ("ana1 (analyst) may not start the rollback: "
                                                   "the role lacks 'rollback'")
        assert ana.authority("step.confirm", "S1") == ("ana1 (analyst) may not work S1: it is "
                                                       "owned by dba")
        assert ana.authority("exception.triage") is None
        dba = ops_as(checked, "dba1", "jlind", journal)
        assert dba.authority("step.confirm", "S1") is None
        assert dba.authority("step.confirm", "D2") == ("D2 is critical: dba1's role may not "
                                                       "approve critical steps")
        assert dba.authority("gate.override") is not None
        assert journal.entries == []  # asking never journals
        with pytest.raises(Refused, match="may not start the rollback"):
            ana.start_rollback("DATA_MISMATCH", "x")
        [refused] = journal.entries
        assert refused.action == "access.refused" and refused.subject == "rollback.start"
        assert refused.actor.operator == "ana1" and refused.actor.os_user == "rhaddad"
        assert refused.data == {"target": None}
        assert refused.note == "ana1 (analyst) may not start the rollback: the role lacks 'rollback'"
        # Not possible now is not a refusal of authority: nothing journalled.
        with pytest.raises(Refused, match="go in order"):
            dba.confirm("S3", gates())
        assert len(journal.entries) == 1
    finally:
        journal.close()


def test_clinical_exceptions_need_the_clinical_sign_off(checked, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id=checked.cutover.id,
                           clock=ManualClock(1_800_000_000.0))
    try:
        for eid, category in (("X1", "needs_clinical_approval"), ("X2", None)):
            journal.append("exception.open", actor=Actor.system(), subject=eid, data={
                "layer": "domain", "table": "allergies", "keys": ["k"], "kind": "required",
                "severity": "major", "category": category, "columns": [], "title": "t"})
        ana = ops_as(checked, "ana1", "rhaddad", journal)
        doc = ops_as(checked, "doc1", "beaumont", journal)
        with pytest.raises(Refused, match="ana1 \\(analyst\\) may not triage X1, which waits "
                                          "for clinical approval: the role lacks "
                                          "'approve_clinical'"):
            ana.triage("X1", "auto_correct_safe", "DATA_MISMATCH")
        assert journal.entries[-1].action == "access.refused"
        assert journal.entries[-1].data == {"target": "X1"}
        # Sending an exception to clinical approval needs only triage; deciding it, the clinician.
        ana.triage("X2", "needs_clinical_approval", "DATA_MISMATCH")
        with pytest.raises(Refused, match="approve_clinical"):
            ana.triage("X2", "defer", "DATA_MISMATCH")
        doc.triage("X2", "auto_correct_safe", "DATA_MISMATCH", "checked with pharmacy")
        assert journal.entries[-1].action == "exception.triage"
    finally:
        journal.close()


# -- any login, any --operator: never raises, never lets an unmapped login write ---------------

_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)  # lone surrogates too
_NAMES = st.sampled_from(["lead1", "dba1", "ana1", "bob", "app1", "mokafor", "oncall", "robert",
                          "rhaddad", "", " lead1", "lead1\n", "LEAD1"])
_HOSTILE = st.sampled_from(["\x1b[31mlead1\x1b[0m", "\ud800", "lead1\u202e", "x" * 65536,
                            "\x00", "a\nb", "[bold]lead1[/]", "lead1\x1b]0;t\x07"])
_STRINGS = st.one_of(_NAMES, _HOSTILE, _ANY_TEXT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(login=_STRINGS, requested=st.one_of(st.none(), _STRINGS),
       env=st.one_of(st.none(), _STRINGS))
def test_resolve_never_raises_and_never_lets_an_unmapped_login_write(checked, login, requested,
                                                                    env):
    environ = {} if env is None else {"COCKPIT_OPERATOR": env}
    me = resolve(checked, requested, login, environ)
    assert isinstance(me, Identity) and me.login == login
    for line in (me.refusal, me.why):
        if line is not None:
            assert "\n" not in line and "\x1b" not in line and len(line) < 400
            line.encode("utf-8")  # no lone surrogate reaches a message
    if me.may_write:
        assert me.refusal is None and me.operator in mapped(checked, login)
        assert standing(checked, me.operator, login).may_write
    if not mapped(checked, login):
        assert not me.may_write
        assert not standing(checked, me.operator, login).may_write
    for words in me.summary():
        assert "\n" not in words and "\x1b" not in words
    # The same strings on the other two rules: never raises either.
    for operators in (NAMES, OPEN):
        _other_modes(operators, requested, login, environ)


_PLANS: dict[str, object] = {}


def _other_modes(operators: str, requested, login, environ) -> None:
    import tempfile

    if operators not in _PLANS:
        with tempfile.TemporaryDirectory() as tmp:
            _PLANS[operators] = plan_with(Path(tmp), operators)
    plan = _PLANS[operators]
    me = resolve(plan, requested, login, environ)
    assert isinstance(me, Identity)
    if me.may_write and operators == NAMES:
        assert plan.role_of(me.operator) is not None
