"""Reconciliation from the cockpit: R -> confirm -> the real runner against two real PostgreSQL
databases in a worker on the app's loop, progress in the panel, cancel, then one journalled
batch (exception.open ... recon.run) that the panels replay.

The run is made observable without sleeping: one extra domain check waits (polling
``pg_try_advisory_xact_lock_shared``, which never blocks and so never trips lock_timeout) while
the test holds that advisory lock on the target database; the test releases it when it has seen
what it needs. If a test dies holding it, the check gives up by itself after ~60s (long enough
that a loaded machine never ends it while a test still looks; it once was 6s, and flaked).
"""

from __future__ import annotations

import time

import psycopg
import pytest
import yaml

from cockpit.commands.demo import DEMO_PLAN
from cockpit.config import load_plan
from cockpit.recon.progress import eta_s, progress_parts
from cockpit.recon.runner import RunProgress
from cockpit.tui.app import CockpitApp
from cockpit.tui.palette import ACTIONS, CockpitCommands
from cockpit.tui.panels.recon import ReconPanel
from cockpit.tui.screens.info import QuitScreen
from cockpit.tui.screens.recon import AskScreen
from tests.fixtures.pg import free_port
from tests.test_recon_runner import DOMAIN, TABLES, dbs  # noqa: F401 - fixture
from tests.test_tui_support import make_cockpit, plain, written

SIZE = (160, 48)
LOCK = 4242
HOLD_SQL = (
    "SELECT patient_id FROM ehr.patients WHERE ("
    " WITH RECURSIVE w(n, got) AS ("
    f"  SELECT 0, pg_try_advisory_xact_lock_shared({LOCK})"
    "  UNION ALL"
    f"  SELECT n + 1, pg_try_advisory_xact_lock_shared({LOCK}) FROM w"
    "   WHERE NOT got AND n < 1200 AND pg_sleep(0.05) IS NOT NULL)"
    " SELECT max(n) FROM w) < 0"
)
HOLD = {"id": "hold", "check": "sql", "table": "ehr.patients", "sql": HOLD_SQL}


def recon_plan(tmp_path, src_dsn: str, dst_dsn: str, *, hold: bool = True):
    """The demo plan plus two postgres sources and a reconciliation section over them."""
    data = yaml.safe_load(DEMO_PLAN.read_text())
    data["sources"].update({
        "legacy": {"type": "postgres", "dsn": src_dsn, "connect_timeout": "2s"},
        "cloud": {"type": "postgres", "dsn": dst_dsn, "connect_timeout": "2s"},
    })
    data["reconciliation"] = {
        "source": "legacy", "target": "cloud", "statement_timeout": "90s", "max_concurrent": 3,
        "tables": TABLES, "domain": [*DOMAIN, HOLD] if hold else DOMAIN,
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    plan, _ = load_plan(path, for_run=True)
    return plan


class Held:
    """The test's side of the gate: an exclusive advisory lock on the target database."""

    def __init__(self, dsn: str):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SELECT pg_advisory_lock(%s)", (LOCK,))

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
            self.conn.close()


async def until(pilot, predicate, what: str, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def recon_text(app) -> str:
    return plain(app.query_one(ReconPanel))


def runs(cockpit) -> list:
    return [e for e in cockpit.journal.entries if e.action == "recon.run"]


async def start_run(app, pilot, *, still_running: bool = True) -> None:
    await pilot.press("R")
    await pilot.pause()
    assert isinstance(app.screen, AskScreen), "R opened no confirmation"
    assert "Compare legacy with cloud" in plain(app.screen.query_one("#ask-body"))
    await pilot.press("y")
    await pilot.pause()
    assert app.screen is app.screen_stack[0]
    assert app.recon_running or not still_running


async def test_run_from_the_key_shows_progress_then_journals_and_shows_the_mismatch(
        dbs, tmp_path):  # noqa: F811
    cl, (src, dst) = dbs
    plan = recon_plan(tmp_path, cl.dsn(src), cl.dsn(dst))
    cockpit = make_cockpit(tmp_path, plan, seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    held = Held(cl.dsn(dst))
    total = len(TABLES) + len(DOMAIN) + 1
    try:
        async with app.run_test(size=SIZE) as pilot:
            app.refresh_panels()
            await pilot.pause()
            assert "no reconciliation run recorded yet" in recon_text(app)
            assert app.active_bindings["R"].binding.action == "reconcile"
            await start_run(app, pilot)
            assert app.active_bindings["R"].binding.action == "cancel_recon"
            assert "▶ running" in recon_text(app)  # at once, before any progress report
            # Everything but the held check finishes; the panel shows it at its own refresh.
            await until(pilot, lambda: app.recon_progress is not None
                        and app.recon_progress.units_done == total - 1, "all but one check")
            await until(pilot, lambda: f"{total - 1}/{total} checks" in recon_text(app),
                        "the panel to render the progress")
            shown = recon_text(app)
            assert "170/170 rows" in shown and "elapsed" in shown and "R/esc: cancel" in shown
            assert app.query_one(ReconPanel).border_subtitle == "running"
            assert runs(cockpit) == []  # nothing is journalled while it runs
            # Keys still answer while the worker waits on the database.
            await pilot.press("j")
            await pilot.pause()
            assert app.selected == "B02"
            held.release()
            await until(pilot, lambda: not app.recon_running, "the run to end")
            await written(app, pilot)  # its record goes through the journal's writer thread
            text = recon_text(app)
    finally:
        held.release()
    entries = cockpit.journal.entries
    assert entries[-1].action == "recon.run" and entries[-1].actor.operator == "demo.lead"
    opened = [e for e in entries if e.action == "exception.open"]
    assert len(opened) == len(entries[-1].data["opened"]) > 10
    assert all(e.actor.operator == "demo.lead" for e in opened)
    data = entries[-1].data
    assert data["mismatched_rows"] == 5 and data["tables"]["medication_orders"]["missing"] == 1
    # The panel is the replayed journal: medication_orders 100 vs 99, one mismatch.
    row = next(line for line in text.splitlines() if line.startswith("medication_orders"))
    assert row.split() == ["medication_orders", "100", "99", "1"]
    assert "running" not in text and "open exceptions: " in text and "critical" in text
    assert cockpit.ops.state.last_recon[1] == data


async def test_escape_in_the_confirmation_writes_nothing(dbs, tmp_path):  # noqa: F811
    cl, (src, dst) = dbs
    cockpit = make_cockpit(tmp_path, recon_plan(tmp_path, cl.dsn(src), cl.dsn(dst)), seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    before = list(cockpit.journal.entries)
    async with app.run_test(size=SIZE) as pilot:
        enabled = {t: cb for t, _, cb in CockpitCommands(app.screen)._enabled()}
        assert "Cancel reconciliation" not in enabled
        await enabled["Run reconciliation"]()  # the palette runs the same action as the key
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert not app.recon_running and not list(app.workers)
    assert cockpit.journal.entries == before


async def test_cancel_a_running_run_never_journals_clean(dbs, tmp_path):  # noqa: F811
    cl, (src, dst) = dbs
    cockpit = make_cockpit(tmp_path, recon_plan(tmp_path, cl.dsn(src), cl.dsn(dst)), seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    held = Held(cl.dsn(dst))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until(pilot, lambda: app.recon_progress is not None, "a progress report")
            # q asks first; escape stays.
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitScreen) and "reconciliation" in plain(
                app.screen.query_one("Static"))
            await pilot.press("escape")
            await pilot.pause()
            assert app.is_running and app.recon_running
            # R asks "cancel the run?"; escape keeps it going.
            await pilot.press("R")
            await pilot.pause()
            assert isinstance(app.screen, AskScreen)
            assert "Cancel the reconciliation run?" in plain(app.screen.query_one("#ask-body"))
            await pilot.press("escape")
            await pilot.pause()
            assert app.recon_running and not app.recon_cancel.is_set()
            # escape on the main screen asks the same; y cancels.
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, AskScreen)
            cancel = app.recon_cancel
            await pilot.press("y")
            await pilot.pause()
            assert cancel.is_set()
            assert "▶ cancelling" in recon_text(app) and "R" not in app.active_bindings
            held.release()  # the in-flight check finishes; nothing new starts
            await until(pilot, lambda: not app.recon_running, "the cancelled run to end")
            await pilot.pause()
    finally:
        held.release()
    recorded = runs(cockpit)
    # A cancelled run is recorded with its findings, but never as clean: the figures it did not
    # measure are None (read as UNKNOWN by the gates), and it closes nothing it did not see.
    assert len(recorded) == 1
    data = recorded[0].data
    assert data["mismatched_rows"] is None and data["closed"] == []
    assert data["cancelled"] is True
    assert recorded[0].actor.operator == "demo.lead"


async def test_quit_while_running_stops_and_journals_nothing(dbs, tmp_path):  # noqa: F811
    cl, (src, dst) = dbs
    cockpit = make_cockpit(tmp_path, recon_plan(tmp_path, cl.dsn(src), cl.dsn(dst)), seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    held = Held(cl.dsn(dst))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitScreen)
            await pilot.press("y")
            await pilot.pause()
    finally:
        held.release()
    assert not app.is_running and runs(cockpit) == []


async def test_unreachable_database_is_one_line_and_fails_closed(dbs, tmp_path):  # noqa: F811
    cl, (src, _dst) = dbs
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=postgres"
    cockpit = make_cockpit(tmp_path, recon_plan(tmp_path, cl.dsn(src), dead, hold=False),
                           seeded=False)
    app = CockpitApp.of(cockpit, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await start_run(app, pilot, still_running=False)  # an unreachable database fails fast
        await until(pilot, lambda: not app.recon_running, "the run to end")
        await pilot.pause()
        notes = [n for n in app._notifications if n.severity == "error"]
        assert notes and "could not be made" in notes[-1].message
        assert "target database: cannot connect" in notes[-1].message
        assert "\n" not in notes[-1].message
        text = recon_text(app)
    data = runs(cockpit)[-1].data
    assert data["mismatched_rows"] is None and data["failed_checks"] > 0
    assert all(t["error"] for t in data["tables"].values())
    # Not measured is never a green 0: the mismatch column says so.
    row = next(line for line in text.splitlines() if line.startswith("patients"))
    assert "—" in row and " 0 " not in row + " "


async def test_disabled_without_reconciliation_or_when_read_only(tmp_path):
    cockpit = make_cockpit(tmp_path)  # the demo plan has no reconciliation section
    app = CockpitApp.of(cockpit, start_engine=False)
    before = list(cockpit.journal.entries)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.main.check_action("reconcile", ()) is None  # greyed, and says why
        assert not app.active_bindings["R"].enabled
        await pilot.press("R")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and not app.recon_running
        notes = list(app._notifications)
        assert notes and "no reconciliation section" in notes[-1].message
        assert "\n" not in notes[-1].message
        titles = [t for t, _, _ in CockpitCommands(app.screen)._enabled()]
        assert "Run reconciliation" not in titles and "Confirm step" in titles
    assert cockpit.journal.entries == before
    assert "Run reconciliation" in [t for t, _, _ in ACTIONS]


async def test_read_only_journal_greys_it_out(tmp_path):
    plan = recon_plan(tmp_path, "host=127.0.0.1 dbname=a", "host=127.0.0.1 dbname=b", hold=False)
    make_cockpit(tmp_path, plan, seeded=False).journal.close()
    from cockpit.session import open_cockpit
    from tests.test_tui_support import ACTOR

    watcher = open_cockpit(plan, tmp_path / "journal.jsonl", ACTOR.operator, readonly=True,
                           actor=ACTOR)
    app = CockpitApp.of(watcher, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        assert app.main.check_action("reconcile", ()) is None  # shown greyed, does nothing
        await pilot.press("R")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and not app.recon_running


def test_progress_words_and_eta():
    p = RunProgress(units_done=3, units_total=9, rows_done=1000, rows_total=4000, elapsed_s=10.0,
                    current="patients")
    assert progress_parts(p) == ["3/9 checks", "1,000/4,000 rows", "elapsed 10s", "ETA 30s",
                                 "patients"]
    assert eta_s(p, elapsed_s=20.0) == pytest.approx(60.0)
    early = RunProgress(1, 9, 0, None, 0.4)
    assert eta_s(early) is None and progress_parts(early) == ["1/9 checks", "elapsed 400ms"]
    assert eta_s(RunProgress(9, 9, 10, 10, 5.0)) is None  # done: no ETA
    hostile = RunProgress(0, 1, 0, None, 2.0, current="\x1b[31mred[/]")
    assert "\x1b" not in " ".join(progress_parts(hostile))

