"""The view on a shared journal: another cockpit's action shows as soon as the journal has it
(``journal.on_entries``, not the 1 Hz tick), and a database out of reach is said in the header
and refuses every action until it is back. Real PostgreSQL; the apps run under Pilot."""

from __future__ import annotations

import pytest

from cockpit.clock import ManualClock
from cockpit.journal import table
from cockpit.runbook import Refused
from cockpit.session import open_session
from cockpit.tui import app as app_module
from cockpit.tui.app import CockpitApp
from cockpit.tui.panels.header import HeaderBar
from tests.test_journal_shared import create_table, make_shared_plan
from tests.test_runbook_rules import gates
from tests.test_tui_support import plain, until

START = 1_800_000_000.0


async def test_another_cockpits_action_is_drawn_without_waiting_for_the_tick(
        pg_db, tmp_path, monkeypatch):
    create_table(pg_db)
    plan = make_shared_plan(tmp_path, pg_db.dsn)
    # The tick never comes in this test: what is drawn came through on_entries.
    monkeypatch.setattr(app_module, "REFRESH_S", 3600.0)
    a = open_session(plan, tmp_path / "a.jsonl", "lead1", clock=ManualClock(START))
    b = open_session(plan, tmp_path / "b.jsonl", "dba1", clock=ManualClock(START))
    try:
        app = CockpitApp.of(b, start_engine=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            before = plain(app.query_one(HeaderBar))
            assert "journal: 0 entries" in before, before
            a.ops.confirm("S1", gates())
            seq, digest = a.journal.head
            await until(pilot, lambda: f"head {digest[:8]}" in plain(app.query_one(HeaderBar)),
                        "the other cockpit's confirm in the header", deadline_s=30)
            header = plain(app.query_one(HeaderBar))
            assert f"journal: {seq} entr" in header and "S1 confirmed by lead1" in header
            assert b.ops.state.steps["S1"].status.value == "done"
    finally:
        a.close()
        b.close()


async def test_a_database_out_of_reach_is_said_in_the_header_and_refuses_actions(
        pg_factory, tmp_path):
    cluster = pg_factory.create()
    cluster.execute("CREATE DATABASE j")
    dsn = cluster.dsn("j")
    with cluster.connect("j") as conn:
        conn.autocommit = True
        for stmt in table.create_sql("cockpit_journal"):
            conn.execute(stmt)
    plan = make_shared_plan(tmp_path, dsn)
    s = open_session(plan, tmp_path / "a.jsonl", "lead1", clock=ManualClock(START))
    try:
        app = CockpitApp.of(s, start_engine=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            assert "DISCONNECTED" not in plain(app.query_one(HeaderBar))
            cluster.stop()
            await until(pilot, lambda: "shared journal DISCONNECTED" in plain(app.query_one(HeaderBar)),
                        "the header to say the database is out of reach", deadline_s=60)
            assert app.readonly
            with pytest.raises(Refused, match="DISCONNECTED"):
                s.ops.confirm("S1", gates())
            cluster.start()
            await until(pilot, lambda: "DISCONNECTED" not in plain(app.query_one(HeaderBar)),
                        "the header to clear once the database is back", deadline_s=60)
            assert not app.readonly
            entry = await s.writer.run(s.ops.confirm, "S1", gates())
            assert entry.action == "step.confirm"
            await until(pilot, lambda: "S1 confirmed by lead1" in plain(app.query_one(HeaderBar)),
                        "the confirm in the header", deadline_s=30)
    finally:
        s.close()
