"""A rehearsal in the cockpit: R runs the scenario's scripted reconciliation through the same
confirmation, progress, panel and exception queue as a real one, marked SIMULATED; without a
script or a reconciliation section, R says why in one line. (The real app under Pilot, the
demo's plan and scenario, a ManualClock: the scripted run takes scripted time.)"""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.commands import demo as demo_mod
from cockpit.config import load_plan
from cockpit.rehearsal.journal import start_data, write_start
from cockpit.rehearsal.running import Rehearsal
from cockpit.rehearsal.scenario import load_scenario
from cockpit.rehearsal.source import scripted_sources
from cockpit.session import open_cockpit
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.recon import ReconPanel
from cockpit.tui.screens.recon import AskScreen
from tests.test_tui_support import plain, until, written

T0 = 1_800_000_000.0


def _rehearsal(tmp_path, scenario_text: str | None = None):
    plan, _ = load_plan(demo_mod.DEMO_PLAN)
    path = demo_mod.DEMO_SCENARIO
    if scenario_text is not None:
        path = tmp_path / "scenario.yaml"
        path.write_text(scenario_text)
    loaded = load_scenario(path, plan)
    clock = ManualClock(start=T0)
    r = Rehearsal(loaded.scenario, loaded.sha256, 10.0, clock, loaded.path)
    cockpit = open_cockpit(plan, tmp_path / "r.jsonl", "demo.lead", clock=clock,
                           sources=scripted_sources(plan, loaded.scenario, clock, r.scenario_time))
    r.origin = write_start(cockpit.journal, r.name,
                           start_data(r.name, r.sha256, 10.0, plan.path, "0" * 64)).wall
    return cockpit, r, clock


async def test_r_in_a_rehearsal_runs_the_scripted_reconciliation(tmp_path):
    cockpit, r, clock = _rehearsal(tmp_path)
    await clock.advance(40)  # the mismatch began at 30 s of scenario time
    app = CockpitApp.of(cockpit, start_engine=False, rehearsal=r)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the start question")
        asked = plain(app.screen.query_one("#ask-body"))
        await pilot.press("y")
        await until(pilot, lambda: app.main.recon_running, "the run to start")
        panel = app.main.query_one(ReconPanel)
        await clock.advance(1)
        app.refresh_panels()
        await pilot.pause()
        assert "simulated, running" in plain(panel)
        for _ in range(10):  # the script's 8 s of scenario time
            await clock.advance(1)
        await until(pilot, lambda: not app.main.recon_running, "the run to end")
        await written(app, pilot)
        app.refresh_panels()
        await pilot.pause()
        shown = plain(panel)
    runs = [e for e in cockpit.journal.entries if e.action == "recon.run"]
    assert len(runs) == 1 and runs[0].actor.operator == "demo.lead"
    assert runs[0].data["simulated"]["scenario"] == "demo" and runs[0].data["mismatched_rows"] == 2
    opened = [e for e in cockpit.journal.entries if e.action == "exception.open"]
    assert len(opened) == 2 and all(e.data["keys"] for e in opened)
    assert "SIMULATED run (rehearsal)" in shown and "open exceptions: 2" in shown
    assert asked.startswith("SIMULATED reconciliation of scenario demo: the scripted results for 4 table(s)")
    assert "No database is read" in asked
    cockpit.close()


async def test_r_without_anything_to_reconcile_says_why(tmp_path):
    text = demo_mod.DEMO_SCENARIO.read_text()
    text = text[:text.index("reconciliation:\n  duration")]  # the same scenario, no script
    text = text.replace("  - id: order-mismatch", "  - id: unused").split("  - id: unused")[0]
    cockpit, r, clock = _rehearsal(tmp_path, text)
    app = CockpitApp.of(cockpit, start_engine=False, rehearsal=r)
    async with app.run_test(size=(160, 48)) as pilot:
        why = app.main.why_not("reconcile")
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, AskScreen) and not app.main.recon_running
    assert why == ("neither the plan (no reconciliation section) nor the scenario "
                   "(no reconciliation script) has anything to compare")
    assert [e.action for e in cockpit.journal.entries] == ["rehearsal.start"]
    cockpit.close()
