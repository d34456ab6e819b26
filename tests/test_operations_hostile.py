"""Operator text is untrusted too: whatever is typed or shown, an action is recorded or refused.

Arbitrary Unicode (lone surrogates, controls, escapes, bidi, 64 KiB) as notes, reason codes,
step and gate ids, approval answers, and as the reason of a gate being overridden: each call
returns an entry or raises ``Refused``, never anything else; a refusal writes nothing; what is
written passes ``verify`` and holds no control character.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.gates import GateState, GateStatus
from cockpit.journal import verify
from cockpit.runbook import Refused
from tests.test_runbook_rules import Cockpit, make_plan

anything = st.text(st.characters(codec=None, categories=None), max_size=300)
anything_or_long = st.one_of(anything, st.just("\ud800" * 5 + "\x1b[2J" + "x" * 20000))


def _call(fn, *args, **kw):
    before = len(fn.__self__.journal.entries)
    try:
        fn(*args, **kw)
    except Refused as exc:
        assert "\n" not in str(exc)
        assert len(fn.__self__.journal.entries) == before
        str(exc).encode("utf-8")  # the refusal itself is showable


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(note=anything_or_long, code=anything, ident=anything, reason=anything_or_long)
def test_arbitrary_text_is_recorded_cleaned_or_refused(tmp_path_factory, note, code, ident, reason):
    tmp = tmp_path_factory.mktemp("ops")
    plan = make_plan(tmp)
    ck = Cockpit(plan)
    try:
        gates = {g: GateStatus(g, GateState.UNKNOWN, reason, 1_800_000_000.0) for g in ("g1", "g2")}
        _call(ck().note, note)
        _call(ck().note, note, subject=ident)
        _call(ck().skip, ident, code, note)
        _call(ck().skip, "S1", code, note)
        _call(ck("dba1").confirm, ident, gates, typed=ident)
        _call(ck("lead2").approve, 1, gates, typed=ident)
        _call(ck("lead2").reject, 1, note)
        _call(ck().withdraw, 1, note)
        _call(ck().override, "g1", "S3", "GATE_DATA_STALE", note, gates)
        _call(ck().override, ident, "S3", code, note, gates)
        _call(ck().start_rollback, code, note)
        _call(ck().triage, ident, code, code, note)
        _call(ck().record_gate_change, gates["g1"], None)
        result = verify(plan.journal_path) if plan.journal_path.exists() else None
        assert result is None or result.ok, result
        for e in ck.journal.entries:
            for text in (e.note, e.subject, e.reason_code):
                if text is not None:
                    assert not any(ord(c) < 32 and c not in "\t\n" for c in text)
                    text.encode("utf-8")
    finally:
        ck.journal.close()
