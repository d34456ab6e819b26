"""The forecast on the 80x24 screen, through the real widgets (Pilot): the header says the
finish and the margin in words, plainly AFTER once it passes the window's end; the active
step says its elapsed time against its rehearsal and its plan, the overrun in words; and
REHEARSAL shows first on the header's line one whenever it is given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _fc(finish_in_s: float, margin_s: float, rollback: bool = False):
    from cockpit.runbook.forecast import Forecast

    finish = START + finish_in_s
    return Forecast(START, rollback, "before", finish, finish, finish + margin_s, 0)


def test_the_header_words_fit_80_columns_and_give_way_by_rule(tmp_path):
    cockpit = make_cockpit(tmp_path, _plan_closing_in(3))  # window 07:00Z..11:00Z
    plan, state = cockpit.plan, cockpit.ops.state
    text = header_text(plan, state, "x", START, width=80, forecast=_fc(7200, 48 * 60))
    first = text.plain.splitlines()[0]
    assert "finish ~10:00Z, 48m before the window closes (11:00Z)" in first, first
    after = header_text(plan, state, "x", START, width=80, forecast=_fc(7200, -100 * 60))
    first = after.plain.splitlines()[0]
    assert "finish ~10:00Z, 1h40m AFTER the window closes" in first, first
    words = next(s for s in after.spans if "AFTER" in after.plain[s.start:s.end])
    assert "reverse" in str(words.style)  # plain without colour, and it stands out
    rb = header_text(plan, state, "x", START, width=80, forecast=_fc(600, 3600, rollback=True))
    assert "rollback finish ~08:10Z, 1h before the window closes" in rb.plain
    # once the cutover clock runs: the T+ clock with its "since" when there is room
    cockpit.ops.confirm("B01", {})
    wide = cockpit.plan.model_copy()
    state = cockpit.ops.state
    text = header_text(wide, state, "x", START, width=160, forecast=_fc(7200, 48 * 60)).plain
    assert "48m before the window closes (11:00Z)" in text
    assert "T+" not in text  # the clock starts with the "during" phase, not B01
    started = replace(state, clock_started_at=START - 3720)
    text = header_text(wide, started, "x", START, width=160, forecast=_fc(7200, 48 * 60)).plain
    assert "48m before the window closes (11:00Z)  T+1h02m since 06:58Z" in text, text
    first = header_text(wide, started, "x", START, width=80,
                        forecast=_fc(7200, 48 * 60)).plain.splitlines()[0]
    # at 80 columns the clock comes before the window's end time, and without its "since"
    assert "finish ~10:00Z, 48m before the window closes  T+1h02m" in first, first
    cockpit.close()


def test_before_the_window_the_header_says_when_it_opens(tmp_path):
    plan = load_plan(DEMO_PLAN)[0]
    start = datetime.fromtimestamp(START + 600, tz=UTC)
    window = Window(start=start, end=start + timedelta(hours=4))
    plan = plan.model_copy(update={"cutover": plan.cutover.model_copy(update={"window": window})})
    cockpit = make_cockpit(tmp_path, plan)
    text = header_text(plan, cockpit.ops.state, "x", START, width=120,
                       forecast=_fc(7200, 2 * 3600 + 600)).plain
    assert "finish ~10:00Z, 2h10m before the window closes (12:10Z)  opens in 10m" in text, text
    cockpit.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(finish=st.floats(-1e12, 1e12, allow_nan=False), margin=st.floats(-1e12, 1e12, allow_nan=False),
       rollback=st.booleans(), width=st.sampled_from([0, 40, 80, 160]))
def test_any_forecast_is_words_in_the_header(tmp_path, finish, margin, rollback, width):
    """A baseline is data from outside: whatever figures it leads to, the header says them
    in words (never a traceback), AFTER exactly when the margin is negative."""
    if "c" not in _COCKPIT:
        _COCKPIT["c"] = make_cockpit(tmp_path, _plan_closing_in(3))
    cockpit = _COCKPIT["c"]
    fc = _fc(finish, margin, rollback)
    first = header_text(cockpit.plan, cockpit.ops.state, "x", START, width=width,
                        forecast=fc).plain.splitlines()[0]
    assert ("rollback finish ~" if rollback else "finish ~") in first
    assert ("AFTER the window closes" in first) == (fc.margin_s < 0)


_COCKPIT: dict = {}
