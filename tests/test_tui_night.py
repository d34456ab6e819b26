"""A simulated night in the app: the real engine and journal on a controlled clock, a gate
flapping at its threshold, the 1 Hz refresh, the cursor moving and modals opening. The widget
count and the traced allocations must stay flat. Before the footer fix, 300 refreshes grew the
traced heap by about 97 MB; after it, Textual's bounded caches fill during the warm-up and
then level off (about 0.2 MB per further 300 refreshes at 80x24). Opening a modal still costs
Textual about 0.1 MB that a minimal Textual app shows too (noted in the README)."""

from __future__ import annotations

import gc
import tracemalloc

from cockpit.tui.app import CockpitApp
from tests.test_tui_support import make_cockpit, plan_variant, settle

WARM_UP = 120  # refreshes (2 s of cockpit time each) before measuring: caches fill here
NIGHT = 200  # refreshes measured
# Measured 1.6 MB over the 200 refreshes (most of it Textual's caches for the 10 modals opened);
# the footer leak this guards against grew ~65 MB over the same night.
GROWTH_LIMIT = 4 * 1024 * 1024


def widgets(app) -> int:
    return sum(len(list(screen.walk_children())) for screen in app.screen_stack)


async def test_a_night_of_refreshes_actions_and_flaps_keeps_memory_flat(tmp_path):
    # settle 0s, so the gate really turns HOLD/NO-GO on the screen (the plan's default
    # settle would hold it at NO-GO).
    plan = plan_variant(tmp_path, {"expr: replication_lag_s < 5\n":
                                   "expr: replication_lag_s < 5\n    settle: 0s\n"})
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit)
    sim = cockpit.engine.sources["sim"]
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:

        async def minute_of_night(i: int) -> None:
            # Replication lag hovering at the 5 s threshold: the gate turns on most polls.
            sim.set_override("replication_lag_s", value=5.2 if i % 2 else 4.8)
            await cockpit.engine.poll_once()
            await cockpit.writes_settled()
            await cockpit.clock.advance(2)
            app._tick()
            if i % 10 == 0:
                await pilot.press("down", "down", "up")
            if i % 40 == 0:
                await pilot.press("question_mark")
                await pilot.press("escape")
                await pilot.press("g")
                await pilot.press("escape")
            await pilot.pause()

        for i in range(WARM_UP):
            await minute_of_night(i)
        gc.collect()
        tracemalloc.start()
        try:
            before, count_before = tracemalloc.take_snapshot(), widgets(app)
            for i in range(WARM_UP, WARM_UP + NIGHT):
                await minute_of_night(i)
            gc.collect()
            after, count_after = tracemalloc.take_snapshot(), widgets(app)
        finally:
            tracemalloc.stop()
        assert app.screen is app.screen_stack[0], "a modal was left open"
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    top = after.compare_to(before, "lineno")[:3]
    assert count_after == count_before
    print(f"night: {NIGHT} refreshes, traced heap {growth / 1e6:+.2f} MB, widgets {count_after}")
    assert growth < GROWTH_LIMIT, f"traced heap grew {growth / 1e6:.1f} MB: {top}"
    # The flapping gate was journalled in summaries, not once per poll.
    flips = [e for e in cockpit.journal.entries if e.action == "gate.change"
             and e.subject == "replication_caught_up"]
    assert len(flips) < (WARM_UP + NIGHT) / 10
    cockpit.close()
