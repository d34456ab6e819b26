"""A dead engine loop (a bug) is told on the screen, and its gates are UNKNOWN, not frozen."""

from __future__ import annotations

from cockpit.gates import GateState
from cockpit.tui.panels.gates import GatesPanel
from tests.test_tui_actions import refreshed, start
from tests.test_tui_support import plain


async def test_a_dead_tick_loop_turns_the_gates_unknown_and_the_screen_says_why(tmp_path):
    cockpit, app = await start(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await refreshed(app, pilot)
        assert any(s.state is GateState.GO for s in cockpit.engine.gates.values())

        async def broken_tick():
            raise RuntimeError("clock broke")

        # Fault injection: the engine's loops survive every failure inside a round, so a loop
        # can only end through a bug; one is started here under the tick loop's name.
        cockpit.engine._spawn(broken_tick(), "gates:tick")
        await pilot.pause()
        app._tick()
        await pilot.pause()
        assert all(s.state is GateState.UNKNOWN for s in cockpit.engine.gates.values())
        assert "gate evaluation stopped" in plain(app.query_one(GatesPanel))
        assert app._told_failures == {"gates:tick"}
        assert [n.title for n in app._notifications] == ["engine stopped"]
