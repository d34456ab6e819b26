"""Replay equals live: any sequence of actions replays to the state the cockpit showed live,
in this process and in a fresh one (a restarted cockpit finds everything where it was)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import Actor, Journal
from cockpit.runbook import Refused, replay
from cockpit.runbook.replay import Replayer, local_conflicts
from tests.test_runbook_rules import PLAN, Cockpit, gates, make_plan

STEPS = ["S1", "S2", "S3", "S4", "D1", "D2", "D3", "A1", "R1", "R2", "R3", "NOPE"]
PEOPLE = ["lead1", "lead2", "dba1", "app1", "ana1", "stranger"]
STATES = ["GO", "HOLD", "NO-GO", "UNKNOWN"]
REASONS = ["NOT_APPLICABLE", "DATA_MISMATCH", "", "BOGUS"]

# "advance" works the state's next step validly (as the lead, gates GO), so sequences reach
# deep states (later phases, rollback) instead of mostly collecting refusals.
advance = st.tuples(st.just("advance"), st.sampled_from(["confirm"] * 8 + ["skip", "skip", "fail", "nogo", "rollback"]))

action = st.one_of(
    advance, advance, advance, advance, advance,
    st.tuples(st.just("confirm"), st.sampled_from(PEOPLE), st.sampled_from(STEPS),
              st.sampled_from(STATES), st.booleans(), st.sampled_from([None, "lead2", "app1"])),
    st.tuples(st.just("skip"), st.sampled_from(PEOPLE), st.sampled_from(STEPS), st.sampled_from(REASONS)),
    st.tuples(st.just("fail"), st.sampled_from(PEOPLE), st.sampled_from(STEPS), st.sampled_from(["", "broke"])),
    st.tuples(st.just("decide"), st.sampled_from(PEOPLE), st.sampled_from(["S4", "S3"]),
              st.sampled_from(["GO", "NO-GO"]), st.sampled_from(STATES)),
    st.tuples(st.just("override"), st.sampled_from(PEOPLE), st.sampled_from(["g1", "g2"]),
              st.sampled_from(STEPS), st.sampled_from(STATES)),
    st.tuples(st.just("rollback"), st.sampled_from(PEOPLE), st.sampled_from(REASONS)),
    st.tuples(st.just("exc"), st.sampled_from(["X1", "X2"]), st.sampled_from(["open", "close"]),
              st.sampled_from(["critical", "major"])),
    st.tuples(st.just("triage"), st.sampled_from(PEOPLE), st.sampled_from(["X1", "X2"]),
              st.sampled_from(["defer", "manual_review", "bogus"])),
    st.tuples(st.just("note"), st.sampled_from(PEOPLE), st.text(max_size=20)),
    st.tuples(st.just("recon"), st.integers(0, 5)),
    st.tuples(st.just("run"), st.sampled_from(PEOPLE), st.sampled_from(STEPS), st.integers(0, 2)),
    st.tuples(st.just("gate"), st.sampled_from(STATES), st.sampled_from(STATES)),
    st.tuples(st.just("clock_back"), st.floats(0.5, 500)),
    # Two-person answers to the newest open request (any, by anyone: refusals included).
    st.tuples(st.just("answer"), st.sampled_from(PEOPLE), st.sampled_from(["approve", "reject", "withdraw"]),
              st.sampled_from(STATES), st.booleans()),
    st.tuples(st.just("clock_on"), st.floats(1, 900)),
)


def _do(ck: Cockpit, a: tuple) -> None:
    kind = a[0]
    if kind == "advance":
        step_id = ck().state.next_step
        if a[1] == "rollback":
            ck().start_rollback("DATA_MISMATCH")
            return
        if step_id is None:
            return
        step = ck.plan.runbook.step(step_id)
        how = a[1]
        if how == "skip":
            ck().skip(step_id, "NOT_APPLICABLE")
        elif how == "fail":
            ck().fail(step_id, "did not work")
        elif step.kind == "decision":
            ck().decide(step_id, "NO-GO" if how == "nogo" else "GO", gates(), typed=step_id)
        else:
            e = ck().confirm(step_id, gates(), typed=step_id)
            if e.action == "approval.request":
                ck("lead2").approve(e.seq, gates(), typed=step_id)
    elif kind == "confirm":
        _, who, step, g, typed, second = a
        e = ck(who).confirm(step, gates(g), typed=step if typed else None)
        if second is not None and e.action == "approval.request":
            ck(second).approve(e.seq, gates(g), typed=step if typed else None)
    elif kind == "answer":
        _, who, how, g, typed = a
        pending = sorted(ck().state.approvals)
        if not pending:
            return
        req = ck().state.approvals[pending[-1]]
        if how == "approve":
            ck(who).approve(req.seq, gates(g), typed=req.subject if typed else None)
        elif how == "reject":
            ck(who).reject(req.seq, "not now" if typed else "")
        else:
            ck(who).withdraw(req.seq, "asked too early")
    elif kind == "clock_on":
        ck.clock.advance_sync(a[1])
    elif kind == "skip":
        ck(a[1]).skip(a[2], a[3], "why")
    elif kind == "fail":
        ck(a[1]).fail(a[2], a[3])
    elif kind == "decide":
        ck(a[1]).decide(a[2], a[3], gates(a[4]), typed=a[2])
    elif kind == "override":
        ck(a[1]).override(a[2], a[3], "GATE_DATA_STALE", "checked", gates(a[4]))
    elif kind == "rollback":
        ck(a[1]).start_rollback(a[2], "")
    elif kind == "exc":
        data = {"layer": "content", "table": "patients", "keys": ["k"], "kind": "missing",
                "severity": a[3], "category": None, "columns": [], "title": "t"}
        ck.journal.append(f"exception.{a[2]}", actor=Actor.system(), subject=a[1],
                          data=data if a[2] == "open" else {"reason": "gone"})
    elif kind == "triage":
        ck(a[1]).triage(a[2], a[3], "KNOWN_ISSUE", "n")
    elif kind == "note":
        ck(a[1]).note(a[2])
    elif kind == "recon":
        ck.journal.append("recon.run", actor=Actor.system(),
                          data={"mismatched_rows": a[1], "failed_checks": 0, "tables": {}})
    elif kind == "run":
        ck(a[1]).record_run(a[2], a[3], "0" * 64, "/tmp/out", 1.5)
    elif kind == "gate":
        ck().record_gate_change(gates(a[1])["g1"], gates(a[2])["g1"])
    elif kind == "clock_back":
        ck.clock.set_wall(ck.clock.now() - a[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=5, max_size=60))
def test_any_sequence_of_actions_replays_to_the_live_state(actions):
    with tempfile.TemporaryDirectory() as tmp:
        plan = make_plan(Path(tmp), PLAN)
        ck = Cockpit(plan)
        ops = ck("lead1")
        try:
            for a in actions:
                n = len(ck.journal.entries)
                live_before = ops.state
                try:
                    _do(ck, a)
                except Refused:
                    # Nothing written, but a refusal of authority (journalled as such, after
                    # the clock warning the journal writes before any entry when it stepped).
                    new = [e.action for e in ck.journal.entries[n:]]
                    assert new in ([], ["access.refused"], ["clock.warning", "access.refused"])
                    assert new or ops.state == live_before
                # Live (folded one entry at a time) equals a fresh fold of the whole journal.
                assert ops.state == replay(plan, ck.journal.entries)
            reopened = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, readonly=True)
            assert reopened.entries == ck.journal.entries
            assert replay(plan, reopened.entries) == ops.state
            assert replay(plan, reopened.entries).to_json() == json.loads(json.dumps(ops.state.to_json()))
        finally:
            ck.journal.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=30), st.lists(action, min_size=1, max_size=20))
def test_the_merge_rule_from_a_live_fold_is_the_rule_from_a_fresh_fold(shared_script, local_script):
    """What a local journal's merge flags (``local_conflicts``) is the same whether the rule
    folds every shared entry again or continues from a fold of the first n (any n, the copy
    the cockpit takes of its live fold), and the fold it continued from is not moved."""
    with tempfile.TemporaryDirectory() as tmp:
        plan = make_plan(Path(tmp), PLAN)
        shared, local = Cockpit(plan), Cockpit(make_plan(Path(tmp), PLAN.replace(
            "journal: journal.jsonl", "journal: local.jsonl"), name="local.yaml"))
        try:
            for ck, script in ((shared, shared_script), (local, local_script)):
                for a in script:
                    with contextlib.suppress(Refused):
                        _do(ck, a)
            entries, made = shared.journal.entries, list(local.journal.entries)
            fresh = local_conflicts(plan, entries, made)
            for n in range(len(entries) + 1):
                fold = Replayer(plan)
                for e in entries[:n]:
                    fold.apply(e)
                before = fold.state()
                assert local_conflicts(plan, entries, made, start=(n, fold)) == fresh
                assert fold.state() == before
        finally:
            shared.journal.close()
            local.journal.close()


def test_restart_in_a_fresh_process_gives_identical_state(tmp_path):
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    ck("dba1").confirm("S2", gates())
    ck().override("g1", "S3", "GATE_DATA_STALE", "by hand", gates("UNKNOWN"))
    ck("dba1").confirm("S3", gates("UNKNOWN"))
    ck().decide("S4", "GO", gates(), typed="S4", note="all green")
    ck.journal.append("exception.open", actor=Actor.system(), subject="X1",
                      data={"layer": "domain", "table": "patients", "keys": ["h:1f"], "kind": "duplicate",
                            "severity": "critical", "category": None, "columns": ["mrn"], "title": "dup"})
    ck("ana1").triage("X1", "needs_clinical_approval", "DATA_MISMATCH", "ask")
    request = ck("app1").confirm("D1", gates(), typed="D1")
    ck("lead1").approve(request.seq, gates(), typed="D1")
    ck().start_rollback("PERFORMANCE", "chart open slow")
    ck().confirm("R1", gates())
    ck().note("rolling back, ünïcode ok")
    live = json.loads(json.dumps(ck().state.to_json()))
    ck.journal.close()  # the cockpit is gone (a dropped SSH session)
    code = ("import json, sys\nfrom cockpit.config import load_plan\nfrom cockpit.journal import Journal\n"
            "from cockpit.runbook import replay\nplan, _ = load_plan(sys.argv[1], for_run=False)\n"
            "j = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)\n"
            "print(json.dumps(replay(plan, j.entries).to_json()))\n")
    run = subprocess.run([sys.executable, "-c", code, str(plan.path)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 0, run.stderr
    fresh = json.loads(run.stdout)
    assert fresh == live
    assert fresh["rollback"]["active"] and fresh["next_step"] == "R2" and fresh["phase"] == "back"
    assert fresh["steps"]["S3"]["gate_snapshot"]["g1"]["state"] == "UNKNOWN"


def test_replay_of_100k_entries_is_fast(tmp_path):
    """A smoke bound, far above the benchmark (bench/journal.py prints the real figure)."""
    plan = make_plan(tmp_path)
    ck = Cockpit(plan)
    ck("dba1").confirm("S1", gates())
    entries = list(ck.journal.entries)
    proto = ck.journal.entries[0]
    from dataclasses import replace
    entries += [replace(proto, seq=i, action="gate.change" if i % 2 else "note") for i in range(2, 100_001)]
    t = time.perf_counter()
    state = replay(plan, entries)
    assert time.perf_counter() - t < 5.0 and state.head[0] == 100_000
