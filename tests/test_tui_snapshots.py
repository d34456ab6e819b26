"""What a person sees, at 80x24, 120x35 and 160x48 (the three layouts): all GO, a NO-GO gate, an UNKNOWN gate, rollback
active, and the confirmation modal. Deterministic: ManualClock, fixed actors (the system actor
too, so journal hashes in the header are stable), pinned simulated values."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.journal import Actor
from cockpit.tui.app import CockpitApp
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
