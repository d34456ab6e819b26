"""The saved folds beside a journal (cockpit.runbook.foldcache), a trust boundary (whatever is
in the journal's folder) and a shortcut that must never change what a cockpit shows.

- Property: for arbitrary journals on the demo plan, folds saved after any prefix and resumed
  give, after the rest is folded in, exactly the state, spans and recorded gate states that
  folding every entry gives.
- Property: whatever bytes the file holds, loading never raises, and a file whose key, seq,
  head or version is not the journal's is never resumed.
- A real session: closing saves the folds, the next open resumes them without decoding the
  journal's entries, after another writer appended or not; a plan whose steps changed does not.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.commands.demo import demo_plan
from cockpit.journal import GENESIS, Actor, Journal
from cockpit.journal.entry import build
from cockpit.recon.evidence import FORMAT
from cockpit.runbook import foldcache, replay
from cockpit.runbook.replay import Replayer
from cockpit.runbook.spans import SpanFold, step_spans
from cockpit.session import fold_gate_changes, open_session

PLAN = demo_plan()
CUT = PLAN.cutover.id
STEPS = [s.id for s in PLAN.runbook.all_steps() + PLAN.runbook.rollback_steps()]
GATES = list(PLAN.gates)
ACTORS = [Actor("lead1", "u1", "h", None, 1, "s1"), Actor("dba1", "u2", "h", "10.0.0.2", 2, "s2")]
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70) | st.integers(-3, 3),
              st.floats(allow_nan=False, allow_infinity=False), _text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8)
_subject = st.one_of(st.sampled_from(STEPS), st.just("nope"), st.none())


@st.composite
def _spec(draw) -> tuple:
    """(action, subject, data, note, reason_code): what a night or a hostile journal holds."""
    kind = draw(st.sampled_from(["step", "decision", "approval", "end", "exception", "recon",
                                 "gate", "note", "override", "rollback", "merge", "any"]))
    note, reason = draw(st.none() | _text), draw(st.none() | _text)
    if kind == "step":
        action = draw(st.sampled_from(["step.confirm", "step.skip", "step.fail", "step.run"]))
        data = draw(st.one_of(_json, st.fixed_dictionaries(
            {"gates": _json}, optional={"approval": st.fixed_dictionaries(
                {"request": st.integers(0, 40)})})))
        return action, draw(_subject), data, note, reason
    if kind == "decision":
        return ("decision.record", draw(st.sampled_from(["D01", "A03", "nope"])),
                {"call": draw(st.sampled_from(["GO", "NO-GO", None])), "gates": draw(_json)},
                note, reason)
    if kind == "approval":
        data = draw(st.fixed_dictionaries(
            {"kind": st.sampled_from(["confirm", "skip", "rollback", "other"])},
            optional={"expires_s": _json | st.floats(0, 1e4), "gates": _json,
                      "reason_code": _json, "note": _json}))
        return "approval.request", draw(_subject | st.just("rollback")), data, note, reason
    if kind == "end":
        return (draw(st.sampled_from(["approval.reject", "approval.withdraw"])), draw(_subject),
                {"request": draw(st.integers(0, 40) | _json)}, note, reason)
    if kind == "exception":
        action = draw(st.sampled_from(["exception.open", "exception.close", "exception.triage"]))
        return action, draw(st.sampled_from(["x-1", "x-2", "x-3"])), draw(_json | st.fixed_dictionaries(
            {"layer": _json, "table": _json, "keys": _json, "severity": _json,
             "category": _json})), note, reason
    if kind == "recon":
        data = draw(_json | st.fixed_dictionaries({
            "format": st.just(FORMAT), "units": st.dictionaries(_text, st.fixed_dictionaries(
                {"failed": st.booleans(), "changed": _json, "error": _json}), max_size=2),
            "failed_checks": _json, "mismatched_rows": _json}))
        return "recon.run", None, data, note, reason
    if kind == "gate":
        return ("gate.change", draw(st.sampled_from(GATES)),
                draw(_json | st.fixed_dictionaries({"state": _json})), note, reason)
    if kind == "note":
        return "note", draw(_subject), draw(_json), note, reason
    if kind == "override":
        return ("gate.override", draw(st.sampled_from(GATES)),
                {"step": draw(st.sampled_from(STEPS)), "gate": draw(_json)}, note, reason)
    if kind == "rollback":
        return "rollback.start", None, draw(_json), note, reason
    if kind == "merge":
        return "local.merge", None, draw(_json), note, reason
    # Anything at all, sometimes as merged from local mode (replayed at its local time).
    data = draw(_json)
    if draw(st.booleans()):
        data = {"local": {"ts": draw(st.sampled_from(["2026-12-01T22:00:00.000Z", "bad"]) | _json),
                          "conflict": draw(st.booleans())}}
    return draw(st.sampled_from(["step.confirm", "note", "session.start", "exception.open"])), \
        draw(_subject), data, note, reason


def chain(specs: list[tuple], walls: list[float]) -> list:
    out, prev = [], GENESIS
    for seq, ((action, subject, data, note, reason), wall) in enumerate(zip(specs, walls, strict=True), 1):
        e = build(seq, wall, CUT, ACTORS[seq % 2], action, subject=subject, reason_code=reason,
                  note=note, data=data, prev=prev)
        out.append(e)
        prev = e.hash
    return out


def folds_of(entries: list) -> tuple[Replayer, SpanFold, dict]:
    r, f, g = Replayer(PLAN), SpanFold(PLAN), {}
    for e in entries:
        r.apply(e)
        f.apply(e)
    fold_gate_changes(g, entries)
    return r, f, g


journals = st.lists(_spec(), min_size=1, max_size=30).flatmap(
    lambda specs: st.tuples(st.just(specs), st.lists(
        st.floats(1.7e9, 1.8e9, allow_nan=False), min_size=len(specs), max_size=len(specs))))


@SETTINGS
@given(journal=journals, cut=st.integers(1, 30))
def test_resumed_folds_are_the_folds_of_every_entry(journal, cut):
    entries = chain(*journal)
    k = min(cut, len(entries))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.jsonl"
        r, f, g = folds_of(entries[:k])
        assert foldcache.save(path, PLAN, entries, (k, r), (k, f), (k, g))
        resumed = foldcache.load(path, PLAN, entries)
    assert resumed is not None and resumed.seq == k
    (n, r2), (n2, f2), g2 = resumed.replayer(PLAN), resumed.span_fold(PLAN), resumed.gates()
    assert n == n2 == k
    for e in entries[k:]:
        r2.apply(e)
        f2.apply(e)
    fold_gate_changes(g2, entries[k:])
    whole = replay(PLAN, entries)
    assert r2.state() == whole and f2.state() == whole
    # Entry equality leaves out the wall time (ts says it): compared here on its own.
    assert ((r2.state().last_step_entry or entries[0]).wall
            == (whole.last_step_entry or entries[0]).wall)
    assert f2.spans() == step_spans(PLAN, entries)
    assert g2 == folds_of(entries)[2]
    # Resumed twice, the two folds are each their own: folding into one leaves the other.
    _, r3 = resumed.replayer(PLAN)
    assert r3.state() == replay(PLAN, entries[:k])


def _saved_doc(tmp: Path) -> tuple[Path, list, bytes]:
    specs = [("note", None, {"i": i}, f"n{i}", None) for i in range(4)] + [
        ("step.confirm", "B01", {"gates": {}}, None, None),
        ("gate.change", GATES[0], {"state": "GO"}, None, None)]
    entries = chain(specs, [1.75e9 + i for i in range(len(specs))])
    path = tmp / "j.jsonl"
    r, f, g = folds_of(entries[:5])
    assert foldcache.save(path, PLAN, entries, (5, r), (5, f), (5, g))
    return path, entries, foldcache.folds_path(path).read_bytes()


_field = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**64), _text, st.floats(allow_nan=False),
                   st.lists(st.integers(), max_size=2), st.dictionaries(_text, st.integers(), max_size=2))


@SETTINGS
@given(kind=st.sampled_from(["bytes", "cut", "field", "deep", "drop", "extra"]), data=st.data())
def test_any_folds_file_loads_or_is_refused_without_raising(tmp_path, kind, data):
    path, entries, blob = _saved_doc(tmp_path)
    doc = json.loads(blob)
    touched = None
    if kind == "bytes":
        out = data.draw(st.binary(max_size=300))
    elif kind == "cut":
        out = blob[:data.draw(st.integers(0, len(blob) - 1))]
    else:
        if kind == "field":
            touched = data.draw(st.sampled_from(sorted(doc)))
            doc[touched] = data.draw(_field)
        elif kind == "deep":
            part = doc["replay"]
            name = data.draw(st.sampled_from(sorted(part)))
            part[name] = data.draw(_field)
        elif kind == "drop":
            touched = data.draw(st.sampled_from(sorted(doc)))
            del doc[touched]
        else:
            doc[data.draw(_text)] = data.draw(_field)
        out = json.dumps(doc).encode()
    foldcache.folds_path(path).write_bytes(out)
    resumed = foldcache.load(path, PLAN, entries)  # never raises
    if touched in ("v", "key", "seq", "head") and (kind == "drop" or doc.get(touched) != json.loads(blob)[touched]):
        assert resumed is None
    if resumed is not None:
        # Whatever was taken folds on without raising (a file written by someone else that
        # matches the head is trusted: the documented limit, as for the checkpoint).
        _, r = resumed.replayer(PLAN)
        for e in entries[resumed.seq:]:
            r.apply(e)
        r.state()


def test_a_fold_of_another_head_plan_or_code_is_not_resumed(tmp_path, monkeypatch):
    path, entries, blob = _saved_doc(tmp_path)
    assert foldcache.load(path, PLAN, entries) is not None
    # Another journal at the same path: entry 5 is not the one folded.
    other = chain([("note", None, None, "other", None)] * 6, [1.76e9] * 6)
    assert foldcache.load(path, PLAN, other) is None
    assert foldcache.load(path, PLAN, entries[:4]) is None  # shorter than what was folded
    # A plan whose steps differ: another fold (even where the entries still match).
    changed = PLAN.model_copy(deep=True)
    changed.runbook.phases[0].steps.pop()
    assert foldcache.key(changed) != foldcache.key(PLAN)
    assert foldcache.load(path, changed, entries) is None
    # A change to the folding code.
    monkeypatch.setattr(foldcache, "_CODE", ["another version"])
    assert foldcache.load(path, PLAN, entries) is None


def test_the_key_holds_no_value_from_the_environment():
    # The plan's secrets (DSNs with passwords) never reach the digest: only the shape of the
    # runbook and the reconciliation units do.
    shape = json.dumps(foldcache._plan_shape(PLAN))
    assert "dsn" not in shape.lower() and "password" not in shape.lower()
    assert {s for p in foldcache._plan_shape(PLAN)["main"] for s, _, _ in p[1]} <= set(STEPS)


@pytest.mark.parametrize("what", ["symlink", "fifo", "directory"])
def test_a_folds_path_that_is_not_a_regular_file_is_not_read(tmp_path, what):
    path, entries, blob = _saved_doc(tmp_path)
    target = foldcache.folds_path(path)
    real = tmp_path / "elsewhere"
    real.write_bytes(blob)
    target.unlink()
    if what == "symlink":
        target.symlink_to(real)
    elif what == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    assert foldcache.load(path, PLAN, entries) is None  # and it did not block on the FIFO


def _session_entries(path: Path, n: int) -> None:
    actor = Actor.current("demo.lead")
    with Journal.open(path, cutover_id=CUT) as j:
        for i in range(n):
            j.append("note", actor=actor, note=f"bridge update {i}")
        j.append("gate.change", actor=Actor.system(), subject=GATES[0],
                 data={"state": "GO", "old_state": "HOLD"})


def test_a_session_resumes_the_folds_its_last_close_saved(tmp_path):
    path = tmp_path / "journal.jsonl"
    _session_entries(path, 40)
    s = open_session(PLAN, path, "demo.lead")
    ops_state = s.ops.state
    s.close()
    assert foldcache.folds_path(path).exists()
    # Another writer appends after the close: the open resumes and folds only those.
    with Journal.open(path, cutover_id=CUT) as j:
        j.append("step.confirm", actor=Actor.current("demo.lead"), subject="B01", data={})
    s = open_session(PLAN, path, "demo.lead")
    try:
        entries = s.journal.entries
        assert entries.undecoded() >= 40  # nothing read again but the head and what is new
        state = s.ops.state
        assert state == replay(PLAN, list(entries)) != ops_state
        assert state.steps["B01"].status.value == "done"
        assert s.forecaster.saved(entries)[1].spans() == step_spans(PLAN, list(entries))
    finally:
        s.close()


def test_a_changed_plan_folds_every_entry_again(tmp_path):
    path = tmp_path / "journal.jsonl"
    _session_entries(path, 10)
    open_session(PLAN, path, "demo.lead").close()
    changed = PLAN.model_copy(deep=True)
    changed.runbook.phases[0].steps.pop()
    s = open_session(changed, path, "demo.lead")
    try:
        assert s.ops.state == replay(changed, list(s.journal.entries))
    finally:
        s.close()


def test_a_read_only_session_writes_nothing_beside_the_journal(tmp_path):
    path = tmp_path / "journal.jsonl"
    _session_entries(path, 5)
    s = open_session(PLAN, path, "demo.lead", mode="readonly")
    assert not s.save_folds()
    s.close()
    assert not foldcache.folds_path(path).exists()
    # What a writer saved, a reader resumes.
    open_session(PLAN, path, "demo.lead").close()
    s = open_session(PLAN, path, "demo.lead", mode="readonly")
    try:
        assert s.journal.entries.undecoded() >= 5
        assert s.ops.state == replay(PLAN, list(s.journal.entries))
    finally:
        s.close()


def test_a_long_session_saves_its_folds_now_and_then(tmp_path, monkeypatch):
    # A cockpit killed late in the night reopens from its last periodic save, not from the
    # start: every FOLDS_EVERY_S of session time, once FOLDS_MIN_NEW entries came.
    import asyncio

    from cockpit import session as session_module
    from cockpit.clock import ManualClock

    monkeypatch.setattr(session_module, "FOLDS_MIN_NEW", 3)
    path = tmp_path / "journal.jsonl"
    _session_entries(path, 2)
    clock = ManualClock()
    s = open_session(PLAN, path, "demo.lead", clock=clock)
    try:
        saver = session_module._folds_saver(s, s.writer, clock)
        for i in range(3):
            s.ops.note(f"n{i}")
        saver()  # new entries, but not yet the time
        s.writer.drain()
        assert not foldcache.folds_path(path).exists()
        asyncio.run(clock.advance(session_module.FOLDS_EVERY_S))
        saver()
        s.writer.drain()
        resumed = foldcache.load(path, PLAN, s.journal.entries)
        assert resumed is not None and resumed.seq == len(s.journal.entries) == 6
        s.ops.note("after")
        asyncio.run(clock.advance(session_module.FOLDS_EVERY_S))
        saver()  # the time, but too few new entries
        s.writer.drain()
        assert foldcache.load(path, PLAN, s.journal.entries).seq == 6
    finally:
        s.writer.shutdown(wait=True)
        s.journal.close()  # as a kill would: no save at close
    s = open_session(PLAN, path, "demo.lead")
    try:
        assert s.ops.state == replay(PLAN, list(s.journal.entries))
        assert s.ops.state.notes[-1].text == "after"
    finally:
        s.close()
