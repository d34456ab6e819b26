"""Two cockpits on one file journal, both driven by Pilot as two different people: demo.lead
writes the journal, demo.app watches it read-only (the flock is the lead's) and answers
through the approval spool. The actors are injected: the OS user of both is this test's
(a plan without ``logins`` tells the two apart by session), so this proves the flow, not the
owner check (tests/test_two_person_spool.py does that).

The request appears on the watcher by its own 1 Hz tick (timed on the real clock, deadline
generous for a loaded machine); everything else is stepped by hand (``tick``) so it is
deterministic: the lead's own timer is paused, or it could take the answer from the spool
before the test looks. Two apps run in one event loop here, and a screen finds its app through
Textual's context variable: a call into one app from the test goes through ``inside``."""

from __future__ import annotations

import time

from cockpit.clock import ManualClock
from cockpit.journal import Actor
from cockpit.journal.entry import _os_user
from cockpit.session import open_cockpit
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.header import HeaderBar
from cockpit.tui.panels.runbook import RunbookPanel
from cockpit.tui.screens.approvals import ApprovalsScreen
from cockpit.tui.screens.confirm import ConfirmScreen
from tests.test_tui_actions import start
from tests.test_tui_support import START, plain, plan_variant, settle, until, written

SIZE = (100, 30)
# The spool proves the login by the file's owner: the second person's os_user is this test's.
APP_PERSON = Actor("demo.app", _os_user(), "testhost", None, 4343, "session0001")
D01 = "{id: D01, title: Put legacy EHR in read-only mode, owner: app, planned: 5m, critical: true, two_person: true}"


def _plan(tmp_path):
    """The demo plan with D01 requiring a gate, so its request carries a snapshot."""
    return plan_variant(tmp_path, {D01: D01[:-1] + ", requires: [rollback_ready]}"})


def inside(app, fn, *args):
    """``fn(*args)`` with ``app`` as Textual's active app (its screens' ``self.app``)."""
    with app._context():
        return fn(*args)


def tick(app) -> None:
    inside(app, app._tick)


async def _to_d01(cockpit) -> None:
    ops, gates = cockpit.ops, cockpit.engine.gates
    for sid in ("B01", "B02", "B03"):
        ops.confirm(sid, gates, typed=sid)
    ops.decide("B04", "GO", gates, typed="B04")


async def _watcher(cockpit):
    watch = open_cockpit(cockpit.plan, cockpit.journal.path, APP_PERSON.operator,
                         clock=ManualClock(START), readonly=True, actor=APP_PERSON)
    await settle(watch)
    return watch, CockpitApp.of(watch, start_engine=False)


async def _request_d01(lead_app, pilot) -> None:
    lead_app.selected = "D01"
    inside(lead_app, lead_app.refresh_panels)
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(lead_app.screen, ConfirmScreen)
    assert "asks for a second person's approval" in plain(lead_app.screen.query_one("#step-info"))
    await pilot.press(*"D01", "enter")
    await written(lead_app, pilot)


async def test_two_cockpits_request_see_refuse_self_approval_and_approve(tmp_path):
    lead, lead_app = await start(tmp_path, _plan(tmp_path))
    await _to_d01(lead)
    watch, app_app = await _watcher(lead)
    async with lead_app.run_test(size=SIZE) as lp, app_app.run_test(size=SIZE) as ap:
        lead_app.refresh_timer.pause()
        await _request_d01(lead_app, lp)
        t0 = time.monotonic()  # the request is in the journal
        request = lead.journal.entries[-1]
        assert (request.action, request.subject, request.actor.operator) == \
            ("approval.request", "D01", "demo.lead")
        assert "1 AWAITING APPROVAL (a)" in plain(lead_app.query_one(HeaderBar))
        assert "awaiting approval" in plain(lead_app.query_one(RunbookPanel))

        # The watcher's own tick reads the journal and shows the request.
        await until(ap, lambda: "1 AWAITING APPROVAL" in plain(app_app.query_one(HeaderBar)),
                    "the request on the other cockpit", deadline_s=10)
        print(f"request seen on the other cockpit {time.monotonic() - t0:.2f}s after it was "
              "journalled")

        # The requester's own list: no approving one's own request.
        await lp.press("a")
        await lp.pause()
        assert isinstance(lead_app.screen, ApprovalsScreen)
        assert "this is your own request" in plain(lead_app.screen.query_one("#detail"))
        await lp.press("tab", *"D01", "enter")
        await lp.pause()
        assert "your own request" in plain(lead_app.screen.query_one(".modal-error"))
        await lp.press("escape")
        await lp.pause()

        # The second person: the snapshot it was asked under beside today's gates.
        await ap.press("a")
        await ap.pause()
        assert isinstance(app_app.screen, ApprovalsScreen)
        detail = plain(app_app.screen.query_one("#detail"))
        assert "demo.lead (tester@testhost) asks to confirm D01" in detail
        assert "when asked" in detail and "rollback_ready" in detail
        row = next(line for line in detail.splitlines() if "rollback_ready" in line)
        assert row.count("GO") == 2  # then and now
        n = len(lead.journal.entries)
        await ap.press("tab", *"D01", "enter")
        await written(app_app, ap)
        assert len(lead.journal.entries) == n  # the watcher writes no journal: it handed it over
        assert [p.suffix for p in lead_app.approvals.dir.iterdir()] == [".json"]

        # The lead's tick takes the answer and records it as demo.app.
        tick(lead_app)
        await written(lead_app, lp)
        last = lead.journal.entries[-1]
        assert (last.action, last.subject, last.actor) == ("step.confirm", "D01", APP_PERSON)
        assert last.data["approval"] == {"request": request.seq,
                                         "requested_by": request.actor.to_json()}
        assert lead.ops.state.steps["D01"].status.value == "done"
        inside(lead_app, lead_app.refresh_panels)
        await lp.pause()
        assert "AWAITING APPROVAL" not in plain(lead_app.query_one(HeaderBar))

        # The watcher follows: the step done, its answer said once.
        tick(app_app)
        await ap.pause()
        assert watch.ops.state.steps["D01"].status.value == "done"
        assert "AWAITING APPROVAL" not in plain(app_app.query_one(HeaderBar))
        assert any("recorded" in str(n.message) for n in app_app._notifications)
    watch.close()


async def test_an_answer_after_expiry_is_refused_and_said_on_the_approvers_cockpit(tmp_path):
    lead, lead_app = await start(tmp_path, _plan(tmp_path))
    await _to_d01(lead)
    watch, app_app = await _watcher(lead)
    async with lead_app.run_test(size=SIZE) as lp, app_app.run_test(size=SIZE) as ap:
        lead_app.refresh_timer.pause()
        await _request_d01(lead_app, lp)
        tick(app_app)
        await ap.pause()
        await ap.press("a")
        await ap.pause()
        # Meanwhile ten minutes pass where the journal is written.
        await lead.clock.advance(600.0 + 60.0)
        await ap.press("tab", *"D01", "enter")
        await written(app_app, ap)
        n = len(lead.journal.entries)
        tick(lead_app)
        await written(lead_app, lp)
        assert len(lead.journal.entries) == n  # nothing journalled
        assert "AWAITING APPROVAL" not in plain(lead_app.query_one(HeaderBar))
        assert inside(lead_app, lead_app.why_not, "approvals") == \
            "no two-person request waits for approval"
        tick(app_app)
        await ap.pause()
        said = [str(n.message) for n in app_app._notifications]
        assert any("not recorded: the request for D01 expired 1m ago: ask again" in s
                   for s in said), said
    watch.close()


async def test_a_reject_with_a_note_ends_the_request_on_both_cockpits(tmp_path):
    lead, lead_app = await start(tmp_path, _plan(tmp_path))
    await _to_d01(lead)
    watch, app_app = await _watcher(lead)
    async with lead_app.run_test(size=SIZE) as lp, app_app.run_test(size=SIZE) as ap:
        lead_app.refresh_timer.pause()
        await _request_d01(lead_app, lp)
        tick(app_app)
        await ap.pause()
        await ap.press("a")
        await ap.pause()
        await ap.press("ctrl+r")
        await ap.pause()
        assert "write in the note why you reject it" in plain(app_app.screen.query_one(".modal-error"))
        await ap.press(*"interfaces not drained yet", "ctrl+r")
        await written(app_app, ap)
        tick(lead_app)
        await written(lead_app, lp)
        last = lead.journal.entries[-1]
        assert (last.action, last.subject, last.actor.operator, last.note) == \
            ("approval.reject", "D01", "demo.app", "interfaces not drained yet")
        assert lead.ops.state.approvals == {}
        assert lead.ops.state.steps["D01"].status.value == "active"
        tick(app_app)
        await ap.pause()
        assert "AWAITING APPROVAL" not in plain(app_app.query_one(HeaderBar))
    watch.close()


async def test_two_writers_through_operations_see_each_others_request(tmp_path):
    """Without the spool: the second person writes through Operations on the same journal
    object (as every cockpit of a shared journal does); the lead's Pilot app shows the
    approval and then the step done."""
    lead, lead_app = await start(tmp_path, _plan(tmp_path))
    await _to_d01(lead)
    second = lead.ops.acting_as(APP_PERSON)
    async with lead_app.run_test(size=SIZE) as lp:
        request = second.confirm("D01", lead_app.gate_statuses(), typed="D01")
        tick(lead_app)
        await lp.pause()
        assert "1 AWAITING APPROVAL" in plain(lead_app.query_one(HeaderBar))
        await lp.press("a")
        await lp.pause()
        await lp.press("tab", *"D01", "enter")
        await written(lead_app, lp)
        last = lead.journal.entries[-1]
        assert (last.action, last.actor.operator) == ("step.confirm", "demo.lead")
        assert last.data["approval"]["request"] == request.seq
        assert "✔ D01" in plain(lead_app.query_one(RunbookPanel))


async def test_the_list_of_requests_ages_with_the_clock(tmp_path):
    lead, lead_app = await start(tmp_path, _plan(tmp_path))
    await _to_d01(lead)
    watch, app_app = await _watcher(lead)
    async with lead_app.run_test(size=SIZE) as lp, app_app.run_test(size=SIZE) as ap:
        lead_app.refresh_timer.pause()
        await _request_d01(lead_app, lp)
        tick(app_app)
        await ap.pause()
        await ap.press("a")
        await ap.pause()
        assert isinstance(app_app.screen, ApprovalsScreen)

        def line() -> str:
            picker = app_app.screen.query_one("#requests")
            return str(picker.get_option_at_index(0).prompt)

        assert "expires in 10m" in line(), line()
        await watch.clock.advance(180.0)
        tick(app_app)
        await ap.pause()
        assert "3m ago" in line() and "expires in 7m" in line(), line()
        assert "3m ago" in plain(app_app.screen.query_one("#detail"))
    watch.close()
