"""Scheduled scripted reconciliations (``reconciliation.runs``): each runs by itself at its
scenario time, journalled by the system through ``record_run`` (exceptions opened, then a
simulated ``recon.run``), once, also across a reopen; and on a plan without a
reconciliation section its totals feed ``recon.mismatched_rows`` (the demo's gate)."""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.commands import demo as demo_mod
from cockpit.config import load_plan
from cockpit.rehearsal.journal import start_data, write_start
from cockpit.rehearsal.running import Rehearsal
from cockpit.rehearsal.scenario import load_scenario
from cockpit.rehearsal.scheduled import schedule_recon
from cockpit.rehearsal.source import scripted_sources
from cockpit.session import open_session

T0 = 1_800_000_000.0


def _open(tmp_path, clock, origin=None):
    plan, _ = load_plan(demo_mod.DEMO_PLAN)
    plan = plan.model_copy()
    loaded = load_scenario(demo_mod.DEMO_SCENARIO, plan)
    r = Rehearsal(loaded.scenario, loaded.sha256, 1.0, clock, loaded.path, origin=origin)
    sources = scripted_sources(plan, loaded.scenario, clock, r.scenario_time)
    session = open_session(plan, tmp_path / "demo.jsonl", "demo.lead", clock=clock, sources=sources)
    if origin is None:
        entry = write_start(session.journal, r.name, start_data(r.name, r.sha256, 1.0, plan.path, "0" * 64))
        r.origin = entry.wall
    schedule_recon(session, r)
    return session, r


def _runs(session) -> list:
    return [e for e in session.journal.entries if e.action == "recon.run"]


async def _play(session, clock, seconds: int) -> None:
    await session.engine.start()
    try:
        for _ in range(seconds):
            await clock.advance(1)
        await session.writes_settled()
    finally:
        await session.engine.stop()


async def test_scheduled_runs_journal_by_themselves_and_open_then_close_exceptions(tmp_path):
    clock = ManualClock(start=T0)
    session, r = _open(tmp_path, clock)
    await _play(session, clock, 60)
    runs = _runs(session)
    # 0 s (clean) and 38 s (the mismatch that began at 30 s): each once, by the system.
    assert [e.data["simulated"]["scheduled_at_s"] for e in runs] == [0.0, 38.0]
    assert {e.actor.operator for e in runs} == {"system"}
    assert runs[0].data["mismatched_rows"] == 0 and runs[1].data["mismatched_rows"] == 2
    opened = runs[1].data["opened"]
    assert len(opened) == 2 and all(session.ops.state.exceptions[x].status == "open" for x in opened)
    gate = session.engine.gates["reconciliation_clean"]
    assert gate.state.value == "NO-GO", gate.reason
    session.close()

    # Reopened later (at 4m30s of scenario time): the runs the journal has are not run again;
    # the 4m run finds the mismatch repaired and closes both exceptions.
    clock2 = ManualClock(start=clock.now() + 200)
    session2, r2 = _open(tmp_path, clock2, origin=r.origin)
    await _play(session2, clock2, 30)
    runs = _runs(session2)
    assert [e.data["simulated"]["scheduled_at_s"] for e in runs] == [0.0, 38.0, 240.0]
    assert runs[-1].data["closed"] == opened and runs[-1].data["mismatched_rows"] == 0
    assert session2.engine.gates["reconciliation_clean"].state.value in ("HOLD", "GO")
    session2.close()


async def test_a_watcher_runs_nothing(tmp_path):
    clock = ManualClock(start=T0)
    session, r = _open(tmp_path, clock)
    session.close()
    plan, _ = load_plan(demo_mod.DEMO_PLAN)
    loaded = load_scenario(demo_mod.DEMO_SCENARIO, plan)
    watcher_r = Rehearsal(loaded.scenario, loaded.sha256, 1.0, clock, loaded.path, origin=r.origin)
    watcher = open_session(plan, tmp_path / "demo.jsonl", "demo.lead", mode="readonly", clock=clock,
                           sources=scripted_sources(plan, loaded.scenario, clock, watcher_r.scenario_time))
    schedule_recon(watcher, watcher_r)
    await _play(watcher, clock, 45)
    assert _runs(watcher) == [] and len(watcher.journal.entries) == 1
    watcher.close()
