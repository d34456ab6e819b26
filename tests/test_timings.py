"""The timing report on a scripted rehearsal journal (tests/timings_night.py): durations,
start lateness, overruns, the critical paths, time to detect and decide, the rollback drill
and its parts, and the deltas against a baseline rehearsal."""

from __future__ import annotations

import json

import pytest

from cockpit.config import PlanError, load_plan
from cockpit.timings import FORMAT, summary_entry_data, timings_report
from cockpit.timings.schedule import planned_path, planned_schedule
from cockpit.timings.text import WIDTH, render
from tests.timings_night import PLAN, rehearse, write_plan


@pytest.fixture
def night(tmp_path):
    plan_path = write_plan(tmp_path)
    plan, entries = rehearse(plan_path, tmp_path / "night.jsonl")
    _, base = rehearse(plan_path, tmp_path / "base.jsonl", p2=1200.0, r2=600.0)
    return plan, entries, base


def _steps(report):
    return {s["id"]: s for s in report["steps"]}


def test_each_step_planned_against_actual(night):
    plan, entries, _ = night
    r = timings_report(plan, entries)
    assert r["format"] == FORMAT == 1 and r["rehearsal"] == {"scenario": "lag-crisis", "speed": 10.0}
    s = _steps(r)
    assert [x["id"] for x in r["steps"]] == ["P1", "P2", "P3", "G1", "A1", "R1", "R2", "R3"]
    # P3 waited for P1 (done at 5m), failed once and was done at 17m: 12m against 10m.
    assert (s["P3"]["started_s"], s["P3"]["actual_s"], s["P3"]["overrun_s"]) == (300.0, 720.0, 120.0)
    assert s["P3"]["lateness_s"] == 0.0 and s["P3"]["status"] == "done"
    # P2 is parallel: workable from the anchor, 25m against 20m.
    assert (s["P2"]["planned_start_s"], s["P2"]["actual_s"], s["P2"]["overrun_s"]) == (0.0, 1500.0, 300.0)
    # The go decision could start only when P2 was done: 5m late, on time in itself.
    assert (s["G1"]["planned_start_s"], s["G1"]["started_s"]) == (1200.0, 1500.0)
    assert s["G1"]["lateness_s"] == 300.0 and s["G1"]["overrun_s"] == 0.0
    assert s["A1"]["lateness_s"] == 300.0 and s["A1"]["actual_s"] is None  # rolled back before it
    assert s["P1"] == {**s["P1"], "planned_s": 300.0, "actual_s": 300.0, "lateness_s": 0.0,
                       "overrun_s": 0.0, "skipped": False}
    # Rollback steps are planned from rollback.start (30m): R2 planned at 35m, started at 34m.
    assert s["R2"]["planned_start_s"] == 2100.0 and s["R2"]["lateness_s"] == -60.0
    assert s["R3"]["part"] == "data" and s["R1"]["part"] == "transport" and s["P1"]["part"] is None


def test_critical_paths_planned_and_actual(night):
    plan, entries, _ = night
    r = timings_report(plan, entries)
    cp = r["critical_path"]
    # The parallel extract (20m) is longer than P1 + P3 (15m): the plan's longest chain runs through it.
    assert cp["planned"] == ["P2", "G1", "A1"] and cp["planned_s"] == 3060.0
    assert cp["actual"] == ["P2", "G1"]  # A1 never finished: the rollback came first
    assert cp["overruns"] == [{"id": "P2", "overrun_s": 300.0}]  # P3's overrun was off the path
    assert [s["id"] for s in r["steps"] if s["planned_critical"]] == ["P2", "G1", "A1", "R1", "R2", "R3"]
    t = r["totals"]
    assert t == {**t, "planned_s": 3060.0, "elapsed_s": 4140.0, "finished": False,
                 "outcome": "rolled back", "over_s": None, "overrun_steps": 3, "steps": 8}


def test_time_to_detect_and_decide(night):
    plan, entries, _ = night
    faults = timings_report(plan, entries)["faults"]
    assert [f["id"] for f in faults] == ["lag-spike", "surge", "hang"]
    lag, surge, hang = faults
    # A system gate.change 10s after the fault is not an answer; the lead's note 30s after is.
    assert (lag["at_s"], lag["detect_s"], lag["decide_s"]) == (500.0, 30.0, 120.0)
    assert lag["detected_by"] == {"seq": lag["seq"] + 2, "action": "note", "operator": "lead1",
                                  "after_s": 30.0}
    assert lag["decided_by"]["action"] == "step.fail" and lag["decided_by"]["operator"] == "dba1"
    assert lag["kind"] == "replication_lag_spike" and lag["outcome"] == "decided"
    # A GO decision by the lead came before the surge; the rollback 200s after it answers both.
    assert (surge["detect_s"], surge["decide_s"]) == (200.0, 200.0)
    assert surge["decided_by"]["action"] == "rollback.start"
    assert hang["detect_s"] is None and hang["decide_s"] is None and hang["outcome"] == "not answered"


def test_rollback_drill_with_its_parts(night):
    plan, entries, _ = night
    d = timings_report(plan, entries)["rollback_drill"]
    assert d["started_s"] == 1800.0 and d["duration_s"] == 2340.0 and d["finished"]
    assert d["planned_s"] == 2100.0 and d["over_s"] == 240.0
    assert d["parts"]["transport"] == {"phases": ["back"], "planned_s": 900.0,
                                       "duration_s": 1140.0, "finished": True}
    assert d["parts"]["data"] == {"phases": ["restore"], "planned_s": 1200.0,
                                  "duration_s": 1200.0, "finished": True}
    assert d["critical_path"]["planned"] == d["critical_path"]["actual"] == ["R1", "R2", "R3"]
    assert d["critical_path"]["overruns"] == [{"id": "R2", "overrun_s": 300.0}]


def test_baseline_deltas(night):
    plan, entries, base = night
    b = timings_report(plan, entries, baseline_entries=base)["baseline"]
    steps = {s["id"]: s for s in b["steps"]}
    assert steps["P2"] == {"id": "P2", "actual_s": 1500.0, "baseline_s": 1200.0, "delta_s": 300.0,
                           "ratio": 1.25, "change": "slower"}
    assert steps["R2"]["delta_s"] == 300.0 and steps["R2"]["ratio"] == 1.5
    assert steps["P1"]["change"] == "same" and steps["P1"]["delta_s"] == 0.0
    assert steps["A1"]["change"] is None  # neither night finished it
    assert b["total"]["delta_s"] == 600.0 and b["total"]["change"] == "slower"
    assert b["rollback_drill"]["delta_s"] == 300.0
    assert b["rollback_drill"]["parts"]["transport"]["delta_s"] == 300.0
    assert b["rollback_drill"]["parts"]["data"]["change"] == "same"
    # The other way round, the same figures are faster.
    back = timings_report(plan, base, baseline_entries=entries)["baseline"]
    p2 = next(s for s in back["steps"] if s["id"] == "P2")
    assert p2["delta_s"] == -300.0 and p2["change"] == "faster" and p2["ratio"] == 0.8


def test_the_report_is_json_and_the_summary_small(night):
    plan, entries, base = night
    r = timings_report(plan, entries, baseline_entries=base)
    assert json.loads(json.dumps(r)) == r
    summary = summary_entry_data(plan, entries)
    assert "baseline" not in summary and summary["faults_left_off"] == 0
    assert summary["steps"] == r["steps"] and summary["faults"] == r["faults"]
    assert len(json.dumps(summary)) < 8000
    assert "lag is climbing" not in json.dumps(summary)  # the operator's note is not in it


def test_text_fits_80_columns_and_shows_overruns_without_colour(night):
    plan, entries, base = night
    for report in (timings_report(plan, entries), timings_report(plan, entries, baseline_entries=base)):
        lines = render(plan, report, "night.jsonl")
        assert all(len(line) <= WIDTH for line in lines), [x for x in lines if len(x) > WIDTH]
        text = "\n".join(lines)
        assert "+5m over" in text and "+5m late" in text and "not answered" in text
        assert "\x1b" not in text
    assert "+5m slower" in "\n".join(render(plan, report, "night.jsonl"))


def test_an_empty_journal_reports_nothing_done(night):
    plan, _, _ = night
    r = timings_report(plan, [])
    assert r["totals"]["elapsed_s"] is None and r["totals"]["outcome"] == "unfinished"
    assert all(s["actual_s"] is None and s["started_s"] is None for s in r["steps"])
    assert r["critical_path"]["actual"] == [] and r["rollback_drill"] is None
    render(plan, r, "empty.jsonl")


def test_planned_schedule_follows_the_order_rules(tmp_path):
    plan, _ = load_plan(write_plan(tmp_path), for_run=False)
    sched = planned_schedule(plan.runbook.phases)
    assert [(p.step_id, p.start_s, p.finish_s) for p in sched.values()] == [
        ("P1", 0.0, 300.0), ("P2", 0.0, 1200.0), ("P3", 300.0, 900.0),
        ("G1", 1200.0, 1260.0), ("A1", 1260.0, 3060.0)]
    assert sched["P3"].after == "P1" and sched["G1"].after == "P2"
    assert planned_path(sched) == ["P2", "G1", "A1"]


def test_rollback_part_defaults_from_the_phase_id_and_is_refused_elsewhere(tmp_path):
    plan, _ = load_plan(write_plan(tmp_path), for_run=False)
    parts = {p.id: p.drill_part for p in plan.runbook.rollback.phases}
    assert parts == {"back": "transport", "restore": "data"}
    text = PLAN.replace("      - id: restore\n        title: Restore data\n        part: data\n",
                        "      - id: data\n        title: Restore data\n")
    (tmp_path / "p2.yaml").write_text(text)
    plan2, _ = load_plan(tmp_path / "p2.yaml", for_run=False)
    assert [p.drill_part for p in plan2.runbook.rollback.phases] == ["transport", "data"]
    for bad in (PLAN.replace("part: data", "part: both"),
                PLAN.replace("    - id: go\n      title: Go\n", "    - id: go\n      title: Go\n      part: data\n")):
        (tmp_path / "bad.yaml").write_text(bad)
        with pytest.raises(PlanError) as exc:
            load_plan(tmp_path / "bad.yaml", for_run=False)
        assert any("part" in line and "bad.yaml:" in line for line in exc.value.lines)


def test_a_skipped_step_is_marked_and_never_overruns(tmp_path):
    from cockpit.journal import Actor
    from tests.test_runbook_rules import Cockpit, gates, make_plan

    ck = Cockpit(make_plan(tmp_path))
    ck.journal.append("rehearsal.start", actor=Actor.system(), subject="skip", data={})
    ck.clock.advance_sync(600)
    ck("dba1").skip("S2", "NOT_APPLICABLE", "no units", typed="S2")  # 10m after it was workable
    ck("dba1").confirm("S1", gates())
    report = timings_report(ck.plan, ck.journal.entries)
    s2 = _steps(report)["S2"]
    assert s2["skipped"] and s2["status"] == "skipped" and s2["actual_s"] == 607.5
    assert s2["overrun_s"] is None and report["totals"]["skipped"] == 1
    assert report["totals"]["overrun_steps"] == 1  # S1 (10m15s of 1m), not the skipped S2
    assert any(line.startswith("S2       skipped") for line in render(ck.plan, report, "j"))
    ck.journal.close()
