"""The forecast on the 80x24 screen, through the real widgets (Pilot): the header says the
finish and the margin in words, plainly AFTER once it passes the window's end; the active
step says its elapsed time against its rehearsal and its plan, the overrun in words; and
REHEARSAL shows first on the header's line one whenever it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.commands.demo import DEMO_PLAN
from cockpit.config import load_plan
from cockpit.config.plan import Window
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.header import HeaderBar, header_text
from cockpit.tui.panels.runbook import RunbookPanel
from tests.test_tui_support import START, make_cockpit, plain, settle

SIZE = (80, 24)


def _plan_closing_in(hours: float):
    plan = load_plan(DEMO_PLAN)[0]
    start = datetime.fromtimestamp(START - 3600, tz=UTC)
    window = Window(start=start, end=start + timedelta(hours=1 + hours))
    plan = plan.model_copy(update={"cutover": plan.cutover.model_copy(update={"window": window})})
    plan.use_rehearsed({"B01": 120.0})  # B01 rehearsed in 2m
    return plan


def _lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_the_header_and_the_active_step_say_the_forecast_in_words(tmp_path):
    # The demo's runbook is planned at 140m; window closes at START + 3h (11:00Z).
    cockpit = make_cockpit(tmp_path, _plan_closing_in(3))
    await settle(cockpit)  # 202 s of polling: B01 (workable since START) is past its 2m
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.selected = "B01"
        app.refresh_panels()
        await pilot.pause()
        first = _lines(app)[0]
        # B01 done now, then 135m planned: 10:18:22Z, 41.6 minutes before 11:00Z
        assert "finish ~10:18Z, 42m before the window closes" in first, first
        assert len(first.rstrip()) <= 80
        words = plain(app.query_one(RunbookPanel))
        assert "B01 running 3m22s of ~2m rehearsed, 5m planned: +1m22s over" in words, words

        await cockpit.clock.advance(3600)
        app.refresh_panels()
        await pilot.pause()
        first = _lines(app)[0]
        assert "finish ~11:18Z, 18m AFTER the window closes" in first, first
        words = plain(app.query_one(RunbookPanel))
        assert "B01 running 1h03m of ~2m rehearsed, 5m planned: +1h01m over" in words, words
        assert "1h03m/5m OVER" in words  # the row: elapsed against the plan


async def test_without_a_rehearsal_the_step_is_timed_against_its_plan(tmp_path):
    plan = _plan_closing_in(3)
    plan.use_rehearsed({})
    cockpit = make_cockpit(tmp_path, plan)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.selected = "B01"
        app.refresh_panels()
        await pilot.pause()
        words = plain(app.query_one(RunbookPanel))
        assert "B01 running 3m22s of 5m planned" in words and "over" not in words, words
        assert "rehearsed" not in words


async def test_rehearsal_is_shown_first_in_reverse_video(tmp_path):
    cockpit = make_cockpit(tmp_path, _plan_closing_in(3))
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        state, now = cockpit.ops.state, cockpit.clock.now()
        fc = app.main.forecast(now)
        app.query_one(HeaderBar).show(cockpit.plan, state, "demo.lead", now, quarantined=2,
                                      forecast=fc, rehearsal="REHEARSAL 10x")
        await pilot.pause()
        first = _lines(app)[0]
        assert first.startswith(" REHEARSAL 10x  ⚠ 2 SET-ASIDE LINES"), first
    text = header_text(cockpit.plan, state, "demo.lead", now, width=80, forecast=fc,
                       rehearsal="REHEARSAL 10x")
    span = next(s for s in text.spans if "reverse" in str(s.style))
    assert text.plain[span.start:span.end] == "REHEARSAL 10x"
    # without it, nothing of the kind
    assert "REHEARSAL" not in header_text(cockpit.plan, state, "x", now, width=80).plain


def test_the_margin_in_days_and_beyond_the_calendar_stays_words(tmp_path):
    from cockpit.runbook.forecast import Forecast

    plan = _plan_closing_in(3)
    cockpit = make_cockpit(tmp_path, plan)
    state = cockpit.ops.state
    far = Forecast(START, False, "before", START + 1e13, START + 1e13, START, 0)
    text = header_text(plan, state, "x", START, width=80, forecast=far).plain
    assert "finish ~never" in text and "days AFTER the window closes" in text
    cockpit.close()
