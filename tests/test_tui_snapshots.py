"""What a person sees, at 80x24, 120x35 and 160x48 (the three layouts): all GO, a NO-GO gate,
an UNKNOWN gate, rollback active, and the confirmation modal; then every modal and screen at
80x24. Deterministic: ManualClock, fixed actors (the system actor too, so journal hashes in the
header are stable), pinned simulated values, no cursor blink."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.text import Text

from cockpit.commands.demo import DEMO_PLAN
from cockpit.config import load_plan
from cockpit.journal import Actor
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.forms import QuarantineScreen
from cockpit.tui.screens.info import QuitScreen
from cockpit.tui.screens.recon import cancel_screen, start_screen
from cockpit.tui.screens.runlog import RunScreen
from tests.test_tui_support import make_cockpit, settle

SYSTEM = Actor("system", "tester", "testhost", None, 4242, "session0000")
SIZES = [(80, 24), (120, 35), (160, 48)]
SCENARIOS = {
    "all_go": ({}, None, ()),
    "nogo": ({"replication_lag_s": 9.5}, None, ()),
    "unknown": ({"chart_open_ms": {"error": "connection refused"}}, None, ()),
    "rollback": ({}, "rollback", ()),
    "confirm_modal": ({"rollback_snapshot_age_s": 99999.0}, "b01", ("enter",)),
}


# Every modal and screen at 80x24: (values, setup, keys).
MODALS = {
    "help": ({}, None, ("question_mark",)),
    "gate_details": ({"replication_lag_s": 9.5}, None, ("g",)),
    "decision": ({}, "decision", ("enter",)),
    "skip": ({}, None, ("s",)),
    "override": ({"rollback_snapshot_age_s": 99999.0}, "b01", ("enter", "ctrl+o")),
    "fail": ({}, None, ("enter", "ctrl+f")),
    "rollback": ({}, None, ("b",)),
    "note": ({}, None, ("n",)),
    "triage": ({}, None, ("x",)),
    "quit_confirm": ({}, "quit", ()),
    "run_log": ({}, "run", ()),
    "recon_start": ({}, "recon", ()),
    "recon_cancel": ({}, "recon_cancel", ()),
    "quarantine": ({}, "quarantine", ()),
    # demo.app asked (from its own cockpit) to confirm D01; the lead sees the request.
    "approvals": ({}, "approval", ("a",)),
}


class _SetAside:
    def describe(self) -> str:
        return "line 12 of journal.jsonl (step.confirm of B02 by demo.lead at 20:14, cut short)"


def _recon_section(tmp_path):
    data = yaml.safe_load(DEMO_PLAN.read_text())
    data["sources"].update({
        "legacy": {"type": "postgres", "dsn": "host=legacy.example dbname=ehr"},
        "cloud": {"type": "postgres", "dsn": "host=cloud.example dbname=ehr"},
    })
    data["reconciliation"] = {"source": "legacy", "target": "cloud", "tables": [
        {"name": "patients", "source_table": "public.patients", "target_table": "ehr.patients",
         "key": ["patient_id"]}]}
    path = tmp_path / "recon-plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_plan(path, for_run=True)[0].reconciliation


@pytest.fixture(autouse=True)
def fixed_system_actor(monkeypatch):
    monkeypatch.setattr(Actor, "system", classmethod(lambda cls: SYSTEM))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_snapshot(snap_compare, tmp_path, monkeypatch, scenario, size):
    values, setup, press = SCENARIOS[scenario]
    # The journal's file is on screen (header, audit border): a path relative to a temp
    # working folder reads the same on every run.
    monkeypatch.chdir(tmp_path)
    cockpit = make_cockpit(tmp_path, journal=Path("journal.jsonl"))
    app = CockpitApp.of(cockpit, start_engine=False)

    async def before(pilot):
        await settle(cockpit, values)
        if setup == "rollback":
            cockpit.ops.start_rollback("CLINICAL_SAFETY", "lab results missing on ward 4B")
        if setup == "b01":
            cockpit.ops.confirm("B01", cockpit.engine.gates)
        app.selected = cockpit.ops.state.next_step
        app.refresh_panels()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before, press=list(press))


@pytest.mark.parametrize("modal", list(MODALS))
def test_modal_snapshot(snap_compare, tmp_path, modal):
    values, setup, press = MODALS[modal]
    cockpit = make_cockpit(tmp_path)
    app = CockpitApp.of(cockpit, start_engine=False, runs_dir=tmp_path / "runs")

    async def before(pilot):
        await settle(cockpit, values)
        ops = cockpit.ops
        if setup in ("b01", "run"):
            ops.confirm("B01", cockpit.engine.gates)
        if setup in ("decision", "approval"):
            for step in ("B01", "B02", "B03"):
                ops.confirm(step, cockpit.engine.gates, typed=step)
        if setup == "approval":
            ops.decide("B04", "GO", cockpit.engine.gates, typed="B04")
            app_person = Actor("demo.app", "tester2", "testhost", None, 4343, "session0001")
            ops.acting_as(app_person).confirm("D01", cockpit.engine.gates, typed="D01")
        app.selected = ops.state.next_step
        app.refresh_panels()
        await pilot.pause()
        if setup == "quit":
            app.push_screen(QuitScreen("A command is still running.",
                                       "The command is killed and the step marked failed."))
        elif setup == "run":
            # The modal fed as the run feeds it (a real run's duration is not deterministic).
            screen = RunScreen(cockpit.plan.runbook.step("B02"))
            app.push_screen(screen)
            await pilot.pause()
            for line in ("$ echo checking snapshot catalogue", "checking snapshot catalogue",
                         "[cockpit] exit 0", "$ echo snapshot 2026-11-28T20:00Z verified",
                         "snapshot 2026-11-28T20:00Z verified", "[cockpit] exit 0"):
                screen.add_line(line)
            screen.finish(0, Text("✔ exit 0 in 1s  · y: confirm the step\noutput "
                                  "B02-13-20270115T080322Z.log sha256 95c24c91d8ff", end=""))
        elif setup == "recon":
            app.push_screen(start_screen(_recon_section(tmp_path)))
        elif setup == "recon_cancel":
            app.push_screen(cancel_screen())
        elif setup == "quarantine":
            app.push_screen(QuarantineScreen([_SetAside()]))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before, press=list(press))
