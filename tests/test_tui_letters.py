"""The messages the command channel never received, in the cockpit: the header counts them
("✉ 1 UNDELIVERED (m)") as soon as the outbox has a dead letter, ``m`` lists them, and a
retry or a dismissal is one journal entry with a note, which the outbox then acts on.

The target is a real HTTP server on 127.0.0.1 refusing the message permanently (404: a dead
letter at once); the session's own delivery thread runs, so the tests wait for its outcome
with a generous deadline (a condition, never a fixed sleep)."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.commands.demo import DEMO_PLAN
from cockpit.config import load_plan
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.screens.letters import LettersScreen
from tests.fixtures.httpserver import Reply
from tests.notify_support import TOKEN, Recorder, hook_target, wait_for
from tests.test_tui_snapshots import fixed_system_actor  # noqa: F401 - a fixture
from tests.test_tui_support import make_cockpit, plain, settle, until, written

SIZE = (100, 30)


def _plan(tmp_path, http_server, recorder):
    http_server.route(f"/hook/{TOKEN}", recorder)
    path = tmp_path / "plan.yaml"
    path.write_text(DEMO_PLAN.read_text() + "notify:\n  targets:\n"
                    + hook_target(events="[step.confirm]"))
    plan, _ = load_plan(path, env={"HOOK_CHAT": f"{http_server.url}/hook/{TOKEN}"})
    return plan


async def _dead_letter(tmp_path, http_server, recorder):
    cockpit = make_cockpit(tmp_path, _plan(tmp_path, http_server, recorder), seeded=False)
    await settle(cockpit)
    notifier = cockpit.notifier
    assert notifier is not None, cockpit.warnings
    entry = cockpit.ops.confirm("B01", cockpit.engine.gates, typed="B01")
    wait_for(lambda: notifier.dead_letters(), what="the refused message to become a dead letter")
    (letter,) = notifier.dead_letters()
    assert letter.key == f"{cockpit.plan.cutover.id}:{entry.seq}:chat"
    return cockpit, letter


async def test_a_dead_letter_is_counted_in_the_header_and_dismissed_with_a_note(tmp_path, http_server):
    cockpit, letter = await _dead_letter(tmp_path, http_server, Recorder(then=Reply(404)))
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panels()
        await pilot.pause()
        assert "✉ 1 UNDELIVERED (m)" in plain(app.query_one(HeaderBar))
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, LettersScreen)
        shown = app.screen.query_one("#detail")
        assert "HTTP 404" in plain(shown) and "step.confirm" in plain(shown)
        await pilot.press("ctrl+d")  # no note yet: refused in the modal, nothing written
        await pilot.pause()
        assert isinstance(app.screen, LettersScreen)
        assert not [e for e in cockpit.journal.entries if e.action.startswith("notify.")]
        assert app.screen.focused is app.screen.query_one("#note")  # sent to the note
        await pilot.press(*"posted by hand")
        await pilot.press("ctrl+d")
        await written(app, pilot)
        (dismissal,) = [e for e in cockpit.journal.entries if e.action.startswith("notify.")]
        assert (dismissal.action, dismissal.subject, dismissal.note) == (
            "notify.dismiss", letter.key, "posted by hand")
        await until(pilot, lambda: not cockpit.notifier.dead_letters(), "the outbox to end it")
        app.refresh_panels()
        await pilot.pause()
        assert "UNDELIVERED" not in plain(app.query_one(HeaderBar))
        assert cockpit.notifier.counts()["dismissed"] == 1


async def test_a_retried_dead_letter_is_delivered_once(tmp_path, http_server):
    recorder = Recorder([Reply(404)], then=Reply(200, b"ok"))
    cockpit, letter = await _dead_letter(tmp_path, http_server, recorder)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, LettersScreen)
        await pilot.press("tab")
        await pilot.press(*"target fixed")
        await pilot.press("enter")
        await written(app, pilot)
        retry = cockpit.journal.entries[-1]
        assert (retry.action, retry.subject, retry.note) == ("notify.retry", letter.key, "target fixed")
        await until(pilot, lambda: recorder.keys() == [letter.key], "the retried delivery")
        await until(pilot, lambda: not cockpit.notifier.dead_letters(), "the letter to go")


async def test_m_says_why_when_nothing_waits(tmp_path, http_server):
    cockpit = make_cockpit(tmp_path, _plan(tmp_path, http_server, Recorder()), seeded=False)
    await settle(cockpit)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, LettersScreen)
        said = [n.message for n in app._notifications]
        assert any("delivered or is on its way" in m for m in said), said
    plain_cockpit = make_cockpit(tmp_path / "plain", seeded=False)
    app = CockpitApp.of(plain_cockpit, start_engine=False)
    async with app.run_test(size=SIZE):
        assert app.notifier is None
        assert app.main.why_not("letters").startswith("the plan has no notify section")


@pytest.mark.usefixtures("fixed_system_actor")
def test_letters_modal_snapshot(snap_compare, tmp_path):
    """The dead-letter list at 80x24, its header count behind it. The target is a closed port
    on loopback with one attempt allowed (a real refused connection), and the system actor is
    fixed as in tests/test_tui_snapshots.py, so the header's journal head is the same."""
    path = tmp_path / "plan.yaml"
    path.write_text(DEMO_PLAN.read_text() + "notify:\n  targets:\n"
                    + hook_target(events="[step.confirm]", extra="      max_attempts: 1\n"))
    plan, _ = load_plan(path, env={"HOOK_CHAT": f"http://127.0.0.1:9/hook/{TOKEN}"})
    cockpit = make_cockpit(tmp_path, plan, seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    asyncio.run(settle(cockpit))
    cockpit.ops.confirm("B01", cockpit.engine.gates, typed="B01")
    wait_for(lambda: cockpit.notifier.dead_letters(), what="the dead letter")

    async def before(pilot):
        app.refresh_panels()
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, LettersScreen)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
