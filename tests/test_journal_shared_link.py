"""A cockpit that loses the shared journal's database (the server restarted; its backend
killed with pg_terminate_backend) refuses every action meanwhile (nothing queued), reconnects,
catches up with what another cockpit wrote meanwhile, checks the witness, and writes again.

Cockpit A connects as its own role, so the test can keep A out (NOLOGIN) while B writes: a
real outage for A alone, on a real server."""

from __future__ import annotations

import threading

import pytest

from cockpit.journal import table
from cockpit.runbook import Refused
from cockpit.session import open_session
from tests.test_journal_shared import TABLE, make_shared_plan, table_lines, wait_for


@pytest.fixture
def two(pg_cluster, tmp_path):
    db = pg_cluster.create_database()
    for stmt in table.create_sql(TABLE):
        pg_cluster.execute(stmt, dbname=db)
    pg_cluster.execute("CREATE ROLE cockpit_a LOGIN", dbname=db)
    pg_cluster.execute(f"GRANT SELECT, INSERT ON {TABLE} TO cockpit_a", dbname=db)
    plan_a = make_shared_plan(tmp_path / "a", pg_cluster.dsn(db, user="cockpit_a"))
    plan_b = make_shared_plan(tmp_path / "b", pg_cluster.dsn(db))
    a = open_session(plan_a, tmp_path / "a" / "copy.jsonl", "lead1")
    b = open_session(plan_b, tmp_path / "b" / "copy.jsonl", "lead2")
    try:
        yield pg_cluster, db, a, b
    finally:
        a.close()
        b.close()


def _refused_meanwhile(a) -> None:
    line = a.journal.link()
    assert line is not None and line.startswith("shared journal DISCONNECTED since ")
    assert line.endswith("actions are refused") and "\n" not in line
    with pytest.raises(Refused, match="DISCONNECTED"):
        a.ops.note("typed while disconnected")
    assert a.ops.can_confirm("S1", {}) is not None


def _caught_up_and_writing(cluster, db, a, b) -> None:
    wait_for(lambda: a.journal.link() is None, "A to reconnect")
    wait_for(lambda: a.journal.head == b.journal.head, "A to catch up")
    assert a.journal.damage is None
    assert "written by B meanwhile" in [e.note for e in a.journal.entries]
    a.ops.note("A again")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow A")
    exported = table_lines(_Db(cluster, db))
    assert b"typed while disconnected" not in exported  # refused, never queued
    assert (a.journal.path.read_bytes() == b.journal.path.read_bytes() == exported)


class _Db:
    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name

    def execute(self, sql, params=None):
        return self.cluster.execute(sql, params, dbname=self.name)


def test_a_backend_killed_with_pg_terminate_backend(two):
    cluster, db, a, b = two
    a.ops.note("before")
    cluster.execute("ALTER ROLE cockpit_a NOLOGIN", dbname=db)
    killed = cluster.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE usename = 'cockpit_a'", dbname=db)
    assert len(killed) == 2  # A's two connections: the listener and the reader/writer
    wait_for(lambda: a.journal.link() is not None, "A to notice")
    _refused_meanwhile(a)
    wait_for(lambda: b.journal.link() is None and b.journal.head == (1, a.journal.head[1]),
             "B to be connected")
    b.ops.note("written by B meanwhile")
    wait_for(lambda: "try 3" in (a.journal.link() or ""), "A to keep trying")
    assert len(a.journal.entries) == 1
    cluster.execute("ALTER ROLE cockpit_a LOGIN", dbname=db)
    _caught_up_and_writing(cluster, db, a, b)


def test_the_server_restarted(two):
    cluster, db, a, b = two
    a.ops.note("before")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow")
    cluster.execute("ALTER ROLE cockpit_a NOLOGIN", dbname=db)
    cluster.stop()
    wait_for(lambda: a.journal.link() is not None and b.journal.link() is not None,
             "both to notice")
    _refused_meanwhile(a)
    with pytest.raises(Refused, match="DISCONNECTED"):
        b.ops.note("B while the server is down")
    cluster.start()
    wait_for(lambda: b.journal.link() is None, "B to reconnect")
    b.ops.note("written by B meanwhile")
    assert a.journal.link() is not None
    cluster.execute("ALTER ROLE cockpit_a LOGIN", dbname=db)
    _caught_up_and_writing(cluster, db, a, b)


def test_a_commit_cut_off_is_told_as_maybe_recorded_and_the_table_decides(pg_cluster, tmp_path):
    db = pg_cluster.create_database()
    for stmt in table.create_sql(TABLE):
        pg_cluster.execute(stmt, dbname=db)
    # A deferred trigger makes the COMMIT of a marked entry wait, so the test can cut the
    # connection during the COMMIT itself: the one moment the outcome is unknown to the client.
    pg_cluster.execute("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       "BEGIN IF NEW.line LIKE '%cut me off%' THEN PERFORM pg_sleep(9); END IF; "
                       "RETURN NULL; END $$", dbname=db)
    pg_cluster.execute(f"CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {TABLE} "
                       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
                       dbname=db)
    plan = make_shared_plan(tmp_path, pg_cluster.dsn(db))
    a = open_session(plan, tmp_path / "a.jsonl", "lead1")
    try:
        a.ops.note("before")
        outcome: list[BaseException] = []

        def act() -> None:
            try:
                a.ops.note("cut me off")
            except Refused as exc:
                outcome.append(exc)

        t = threading.Thread(target=act)
        t.start()
        sleeping: list = []

        def committing() -> bool:
            sleeping[:] = pg_cluster.execute("SELECT pid FROM pg_stat_activity WHERE "
                                             "wait_event = 'PgSleep'", dbname=db)
            return bool(sleeping) or not t.is_alive()

        wait_for(committing, "the COMMIT to start")
        if sleeping:
            pg_cluster.execute("SELECT pg_terminate_backend(%s)", (sleeping[0][0],), dbname=db)
        t.join(30)
        assert outcome and "may or may not be recorded" in str(outcome[0])
        assert "\n" not in str(outcome[0])
        wait_for(lambda: a.journal.link() is None, "A to reconnect")
        # What the table holds is what the cockpit shows: here, the cut-off COMMIT did not commit.
        assert [e.note for e in a.journal.entries] == ["before"]
        a.ops.note("after")
        assert a.journal.path.read_bytes() == table_lines(_Db(pg_cluster, db))
    finally:
        a.close()
