"""Skipping through the real app takes what confirming takes: the typed id of a critical step,
and the override path past a gate that is not GO."""

from __future__ import annotations

from cockpit.tui.screens.forms import OverrideScreen, SkipScreen
from tests.test_tui_actions import confirm_plain, refreshed, start
from tests.test_tui_support import operator_entries, written

SIZE = (80, 24)


async def test_skip_of_a_critical_step_needs_its_id_typed(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        for _ in range(2):  # B01, B02 (its gate is GO)
            await confirm_plain(pilot, app)
        assert app.selected == "B03"
        before = len(operator_entries(cockpit))
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SkipScreen)
        # Before: s, Enter, Enter skipped the critical step with the pre-selected reason code.
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SkipScreen)
        assert len(operator_entries(cockpit)) == before
        await pilot.press(*"B03", "enter")
        await written(app, pilot)
        last = cockpit.journal.entries[-1]
        assert (last.action, last.subject) == ("step.skip", "B03")
        assert last.data["typed"] is True


async def test_skip_past_a_gate_that_is_not_go_opens_the_override_path(tmp_path):
    cockpit, app = await start(tmp_path, values={"rollback_snapshot_age_s": 30000.0})
    async with app.run_test(size=SIZE) as pilot:
        await refreshed(app, pilot)
        await confirm_plain(pilot, app)  # B01
        assert app.selected == "B02"
        before = len(operator_entries(cockpit))
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, OverrideScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert len(operator_entries(cockpit)) == before
        assert cockpit.ops.state.steps["B02"].status.value != "skipped"
