"""The shared journal (cockpit/journal/shared.py) on a real PostgreSQL: cockpits write one
table through the session and Operations, follow each other through LISTEN/NOTIFY, keep
byte-identical local copies, and a local copy witnesses the table's head."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.journal import Actor, Journal, JournalConflict, lines, table
from cockpit.journal.shared import SharedJournal, local_copy_path, open_plan_journal
from cockpit.runbook import Refused
from cockpit.session import open_session
from tests.test_runbook_rules import PLAN, gates

TABLE = "cockpit_journal"
DEADLINE_S = 60.0


def shared_plan_text(dsn: str, table_name: str = TABLE) -> str:
    text = PLAN.replace("  journal: journal.jsonl\n",
                        f"  journal: journal.jsonl\n  shared_journal: {{source: jdb, table: {table_name}}}\n")
    return text + f'sources:\n  jdb: {{type: postgres, dsn: "{dsn}", connect_timeout: 2s}}\n'


def make_shared_plan(folder: Path, dsn: str, *, table_name: str = TABLE, name: str = "plan.yaml"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(shared_plan_text(dsn, table_name))
    plan, _ = load_plan(path, for_run=False)
    return plan


def create_table(db, table_name: str = TABLE, *, triggers: bool = True) -> None:
    statements = table.create_sql(table_name)
    for stmt in statements if triggers else statements[:1]:
        db.execute(stmt)


def wait_for(predicate, what: str, timeout: float = DEADLINE_S) -> None:
    """Poll a condition with a generous deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.01)


def table_lines(db, cutover: str = "t-cut", table_name: str = TABLE) -> bytes:
    rows = db.execute(f"SELECT line FROM {table.qualified(table_name)} WHERE cutover = %s "
                      "ORDER BY seq", (cutover,))
    return b"".join(r[0].encode("utf-8") + b"\n" for r in rows)


@pytest.fixture
def shared(pg_db, tmp_path):
    create_table(pg_db)
    return make_shared_plan(tmp_path, pg_db.dsn)


def test_local_copy_path_inserts_the_os_user_before_the_suffix(tmp_path, pg_db):
    plan = make_shared_plan(tmp_path, pg_db.dsn)
    assert local_copy_path(plan, "j.lindqvist") == tmp_path / "journal.j.lindqvist.jsonl"
    assert local_copy_path(plan, "../evil") == tmp_path / "journal._evil.jsonl"
    from tests.test_runbook_rules import make_plan

    folder = tmp_path / "f"
    folder.mkdir()
    file_plan = make_plan(folder)
    assert local_copy_path(file_plan, "someone") == file_plan.journal_path
    j = open_plan_journal(file_plan, file_plan.journal_path)
    try:
        assert isinstance(j, Journal) and j.shared is False and j.link() is None
    finally:
        j.close()


def test_two_cockpits_share_one_chain_and_identical_local_copies(shared, tmp_path, pg_db):
    a = open_session(shared, tmp_path / "a.jsonl", "lead1", clock=ManualClock(1_800_000_000.0))
    b = open_session(shared, tmp_path / "b.jsonl", "dba1", clock=ManualClock(1_800_000_001.0))
    try:
        assert a.journal.shared and isinstance(a.journal, SharedJournal)
        assert a.journal.link() is None and not a.readonly
        seen = threading.Event()
        b.journal.on_entries(seen.set)
        a.ops.note("bridge open")
        assert seen.wait(DEADLINE_S), "b never heard of a's entry"
        wait_for(lambda: b.journal.head == a.journal.head, "b to catch up")
        b.ops.confirm("S1", gates())
        wait_for(lambda: a.journal.head == b.journal.head, "a to catch up")
        assert a.ops.state.steps["S1"].status.value == "done"
        # Confirming again from a is refused against the state b made, not recorded twice.
        with pytest.raises(Refused, match="already done"):
            a.ops.confirm("S1", gates())
        assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes() \
            == table_lines(pg_db)
        assert lines.parse(table_lines(pg_db), cutover="t-cut").damage is None
    finally:
        a.close()
        b.close()


def test_the_loser_of_a_race_reads_the_winner_and_raises_a_conflict(shared, tmp_path, pg_db):
    a = SharedJournal.open(shared, tmp_path / "a.jsonl")
    b = SharedJournal.open(shared, tmp_path / "b.jsonl")
    try:
        who = Actor.current("lead1")
        heard = threading.Event()
        b.on_entries(heard.set)
        with b._lock:  # b's follower must not read a's entry first: this is the race
            won = a.append("note", actor=who, note="first")
            with pytest.raises(JournalConflict, match="appended to the shared journal first"):
                b.append("note", actor=who, note="second")
            assert [e.hash for e in b.entries] == [won.hash]  # read what the other wrote
        assert heard.wait(DEADLINE_S)
        again = b.append("note", actor=who, note="second")
        assert again.seq == 2 and again.prev == won.hash
        assert (tmp_path / "b.jsonl").read_bytes() == table_lines(pg_db)
    finally:
        a.close()
        b.close()


def test_a_readonly_session_follows_the_table_and_inserts_nothing(shared, tmp_path, pg_db):
    a = open_session(shared, tmp_path / "a.jsonl", "lead1")
    watcher = open_session(shared, tmp_path / "w.jsonl", "ana1", mode="readonly")
    try:
        assert watcher.readonly and watcher.journal.readonly
        a.ops.note("one")
        a.ops.note("two")
        wait_for(lambda: len(watcher.journal.entries) == 2, "the watcher to follow")
        with pytest.raises(Refused, match="read-only"):
            watcher.ops.note("from the watcher")
        assert pg_db.scalar(f"SELECT count(*) FROM {TABLE}") == 2
    finally:
        a.close()
        watcher.close()


def test_a_cockpit_opens_from_its_local_copy_read_only_when_the_database_is_down(
        pg_cluster, tmp_path):
    db = pg_cluster.create_database()
    for stmt in table.create_sql(TABLE):
        pg_cluster.execute(stmt, dbname=db)
    plan = make_shared_plan(tmp_path, pg_cluster.dsn(db))
    first = open_session(plan, tmp_path / "a.jsonl", "lead1")
    first.ops.note("before the outage")
    first.close()
    pg_cluster.stop()
    s = open_session(plan, tmp_path / "a.jsonl", "lead1")
    try:
        assert [e.note for e in s.journal.entries] == ["before the outage"]
        line = s.journal.link()
        assert line is not None and "DISCONNECTED" in line and "actions are refused" in line
        assert "\n" not in line and s.journal.readonly_reason == line
        assert not s.readonly  # only disconnected: writable again once reconnected
        with pytest.raises(Refused, match="DISCONNECTED"):
            s.ops.note("during the outage")
        pg_cluster.start()
        wait_for(lambda: s.journal.link() is None, "the cockpit to reconnect")
        s.ops.note("after the outage")
        assert [e.note for e in s.journal.entries] == ["before the outage", "after the outage"]
    finally:
        s.close()


def test_a_rehearsal_of_a_shared_plan_journals_to_its_own_file(tmp_path, pg_db):
    from cockpit.rehearsal.plan import on_rehearsal_clock

    plan = make_shared_plan(tmp_path, pg_db.dsn)
    rehearsed = on_rehearsal_clock(plan, 1_800_000_000.0)
    assert plan.cutover.shared_journal is not None
    assert rehearsed.cutover.shared_journal is None
    j = open_plan_journal(rehearsed, tmp_path / "rehearsal.jsonl")
    try:
        assert isinstance(j, Journal) and not j.shared
    finally:
        j.close()
