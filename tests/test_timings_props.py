"""The timing report over any journal the cockpit can write (the replay tests' actions, plus
``rehearsal.start``/``rehearsal.fault`` entries with arbitrary data): it never raises, and
keeps its promises: every step once in plan order, no negative duration, critical paths made
of the book's steps in order, JSON that round-trips, text within 80 columns without escapes,
and a summary the journal accepts."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import Actor
from cockpit.runbook import Refused
from cockpit.timings import summary_entry_data, timings_report
from cockpit.timings.text import WIDTH, render
from tests.test_runbook_replay import _do
from tests.test_runbook_replay import action as replay_action
from tests.test_runbook_rules import PLAN, Cockpit, make_plan

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
fault_data = st.one_of(
    json_value,
    st.fixed_dictionaries({"kind": st.sampled_from(["replication_lag_spike", "login_drop", "bogus"]),
                           "at_s": st.floats(allow_nan=False), "until_s": st.none(),
                           "signals": st.lists(st.text(max_size=10), max_size=2)}))
rehearsal_action = st.one_of(
    st.tuples(st.just("fault"), st.one_of(st.none(), st.text(max_size=80)), fault_data,
              st.sampled_from([0.0, 0.0, 30.0])),  # then the clock stepped back by that much
    st.tuples(st.just("rstart"), st.one_of(st.none(), st.text(max_size=80)), json_value),
)
action = st.one_of(replay_action, replay_action, replay_action, rehearsal_action)

DURATIONS = ("planned_s", "actual_s", "overrun_s")


def _apply(ck: Cockpit, a: tuple) -> None:
    if a[0] == "fault":
        ck.clock.advance_sync(3.0)
        ck.journal.append("rehearsal.fault", actor=Actor.system(), subject=a[1], data=a[2])
        ck.clock.set_wall(ck.clock.now() - a[3])
    elif a[0] == "rstart":
        ck.journal.append("rehearsal.start", actor=Actor.system(), subject=a[1], data=a[2])
    else:
        with contextlib.suppress(Refused):
            _do(ck, a)


def _non_negative(value) -> bool:
    return value is None or value >= 0


def _check(plan, report: dict) -> None:
    rb = plan.runbook
    main = [s.id for s in rb.all_steps()]
    back = [s.id for s in rb.rollback_steps()]
    assert [s["id"] for s in report["steps"]] == main + back  # every step once, plan order
    for s in report["steps"]:
        assert all(_non_negative(s[k]) for k in DURATIONS), s
        if s["skipped"]:
            assert s["overrun_s"] is None
    for ids, cp in ((main, report["critical_path"]),
                    (back, (report["rollback_drill"] or {}).get("critical_path"))):
        if cp is None:
            continue
        for path in (cp["planned"], cp["actual"]):
            idx = [ids.index(sid) for sid in path]  # raises if a step is not the book's
            assert idx == sorted(set(idx))
        assert all(o["overrun_s"] > 0 for o in cp["overruns"])
    for f in report["faults"]:
        assert _non_negative(f["detect_s"]) and _non_negative(f["decide_s"])
        assert (f["detect_s"] is None) == (f["detected_by"] is None)
        assert f["decide_s"] is None or f["detect_s"] is not None and f["detect_s"] <= f["decide_s"]
    drill = report["rollback_drill"]
    if drill is not None:
        assert _non_negative(drill["duration_s"])
        assert all(_non_negative(p["duration_s"]) for p in drill["parts"].values())
    assert _non_negative(report["totals"]["elapsed_s"])
    assert json.loads(json.dumps(report)) == report


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=50), st.lists(action, max_size=20))
def test_any_journal_gives_a_sound_report(actions, base_actions):
    with tempfile.TemporaryDirectory() as tmp:
        plan = make_plan(Path(tmp), PLAN)
        ck = Cockpit(plan)
        base_dir = Path(tmp) / "base"
        base_dir.mkdir()
        base_ck = Cockpit(make_plan(base_dir, PLAN))
        try:
            ck.journal.append("rehearsal.start", actor=Actor.system(), subject="s", data={})
            for a in actions:
                _apply(ck, a)
            for a in base_actions:
                _apply(base_ck, a)
            entries = list(ck.journal.entries)
            report = timings_report(plan, entries, baseline_entries=list(base_ck.journal.entries))
            _check(plan, report)
            assert [c["id"] for c in report["baseline"]["steps"]] == [s["id"] for s in report["steps"]]
            for c in [*report["baseline"]["steps"], report["baseline"]["total"]]:
                assert c["change"] in (None, "faster", "slower", "same")
            lines = render(plan, report, "j.jsonl")
            assert all(len(line) <= WIDTH for line in lines[1:]), [x for x in lines if len(x) > WIDTH]
            assert not any(ch in line for line in lines for ch in "\x1b\x9b\r\n")
            summary = summary_entry_data(plan, entries)
            _check(plan, {**summary, "baseline": None})
            written = ck.journal.append("rehearsal.summary", actor=Actor.system(), data=summary)
            assert written.data == summary  # the journal takes it as it is
        finally:
            ck.journal.close()
            base_ck.journal.close()
