"""The view of local mode (Pilot, real PostgreSQL): the action is offered only while the
shared journal is unreachable, its modal takes a reason code, a note and LOCAL typed, the
header says LOCAL MODE in reverse video while it lasts, and every cockpit's header tells of
the merge once the connection returns; the audit panel marks the merged entries."""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.journal.local import local_path
from cockpit.session import open_session
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.audit import AuditPanel
from cockpit.tui.panels.header import MERGE_NOTICE_S, HeaderBar
from cockpit.tui.screens.localmode import LocalModeScreen
from tests.test_local_mode import rig  # noqa: F401 - the fixture
from tests.test_tui_support import plain, until

START = 1_800_000_000.0


async def test_the_modal_the_local_mode_header_and_the_merge_notice(rig):  # noqa: F811
    clock = ManualClock(START)
    a = open_session(rig.plan_a, rig.copy_a, "lead1", clock=clock)
    rig.sessions.append(a)
    b = open_session(rig.plan_b, rig.copy_b, "lead2", clock=ManualClock(START))
    rig.sessions.append(b)
    app = CockpitApp.of(a, start_engine=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert "connected" in (app.main.why_not("go_local") or "")
        await app.main.run_action("go_local")  # what the palette runs; not offered: said why
        await pilot.pause()
        assert not isinstance(app.screen, LocalModeScreen)
        assert not local_path(rig.copy_a).exists()
        rig.cut_a(a)
        await until(pilot, lambda: "shared journal DISCONNECTED" in plain(app.query_one(HeaderBar)),
                    "the header to say the database is out of reach", deadline_s=60)
        assert app.main.possible("go_local") is True
        await app.main.run_action("go_local")
        await pilot.pause()
        assert isinstance(app.screen, LocalModeScreen)
        await pilot.press("down", "enter")  # the first reason code, then the note
        await pilot.press(*"db failover", "enter")
        await pilot.press(*"LOCA", "enter")  # mistyped: refused in the modal
        await pilot.pause()
        assert isinstance(app.screen, LocalModeScreen) and not local_path(rig.copy_a).exists()
        await pilot.press("L", "enter")
        await until(pilot, lambda: "LOCAL MODE since" in plain(app.query_one(HeaderBar)),
                    "the header to say LOCAL MODE", deadline_s=30)
        header = app.query_one(HeaderBar)
        spans = [s for s in header.content.spans if "reverse" in str(s.style)]
        first = header.content.plain[spans[0].start:spans[0].end]
        assert "LOCAL MODE since" in first and "lead1" in first  # in reverse video
        start = a.journal.local_entries[0]
        assert start.note == "db failover" and start.reason_code
        assert app.main.possible("go_local") is None  # already local: greyed
        entry = await a.writer.run(a.ops.note, "made locally")
        assert entry.seq == 2 and not app.readonly
        rig.let_a_back()
        await until(pilot, lambda: "⚑ merged 1 entry made in LOCAL MODE by lead1"
                    in plain(app.query_one(HeaderBar)), "the merge notice", deadline_s=60)
        assert "LOCAL MODE since" not in plain(app.query_one(HeaderBar))
        await until(pilot, lambda: "LOCAL #2" in plain(app.query_one(AuditPanel)),
                    "the audit panel to mark the merged entry", deadline_s=30)
        await clock.advance(MERGE_NOTICE_S + 60)  # the notice is for an hour
        await until(pilot, lambda: "⚑ merged" not in plain(app.query_one(HeaderBar)),
                    "the notice to go after an hour", deadline_s=30)
        assert "LOCAL #2" in plain(app.query_one(AuditPanel))  # the journal keeps the mark
