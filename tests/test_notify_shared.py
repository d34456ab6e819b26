"""Notifications from a shared journal (cockpit/notify/lease.py) on a real PostgreSQL and a real
loopback webhook: several cockpits write one journal, each derives the same messages, and
the channel hears each one once. The delivery turns are stepped by hand (``Notifier.step``),
so who holds the lease when is deterministic."""

from __future__ import annotations

import random

from cockpit.clock import ManualClock
from cockpit.journal import table
from cockpit.notify import Notifier
from cockpit.notify.lease import SharedDelivery
from cockpit.session import open_session
from tests.notify_support import TOKEN, Recorder, hook_target, notify_plan
from tests.test_journal_shared import create_table, shared_plan_text, wait_for
from tests.test_runbook_rules import gates


def _cockpits(tmp_path, pg_db, http_server, recorder):
    create_table(pg_db)
    http_server.route(f"/hook/{TOKEN}", recorder)
    plan = notify_plan(tmp_path, hook_target(), {"HOOK_CHAT": f"{http_server.url}/hook/{TOKEN}"},
                       text=shared_plan_text(pg_db.dsn))
    a = open_session(plan, tmp_path / "a.jsonl", "lead1", clock=ManualClock(1_800_000_000.0))
    b = open_session(plan, tmp_path / "b.jsonl", "dba1", clock=ManualClock(1_800_000_000.0))
    notifiers = []
    for s, name in ((a, "a"), (b, "b")):
        assert s.notifier is not None and s.notifier.lease is not None  # the session's own
        s.notifier.stop()  # replaced by one stepped by hand, on its own outbox
        notifiers.append(Notifier(plan, s.journal, s.clock, path=tmp_path / f"{name}.outbox",
                                  rng=random.Random(3), lease=SharedDelivery(plan, retry_s=0)))
    return plan, a, b, notifiers


def _acks(pg_db, plan) -> list[str]:
    acks = table.qualified(table.notified_name(plan.cutover.shared_journal.table))
    return [r[0] for r in pg_db.execute(f"SELECT key FROM {acks} ORDER BY key")]


def test_two_cockpits_on_one_shared_journal_post_each_message_once_and_a_takeover_repeats_nothing(
        tmp_path, pg_db, http_server):
    recorder = Recorder()
    plan, a, b, (na, nb) = _cockpits(tmp_path, pg_db, http_server, recorder)
    try:
        e1 = a.ops.confirm("S1", gates())
        wait_for(lambda: b.journal.head == a.journal.head, "b to read a's entry")
        assert na.step() == 1  # a takes the lease and delivers
        assert nb.step() == 0  # b derived the same message and waits: it has no lease
        k1 = f"t-cut:{e1.seq}:chat"
        assert recorder.keys() == [k1] and _acks(pg_db, plan) == [k1]
        assert nb.lease.why == "another cockpit delivers the notifications"

        na.stop()  # a quits: its connection, and the lease, go with it
        e2 = b.ops.confirm("S2", gates())
        k2 = f"t-cut:{e2.seq}:chat"
        assert nb.step() == 1  # b takes over: k1 was delivered by a, so only k2 is sent
        assert recorder.keys() == [k1, k2]
        assert nb.counts()["sent"] == 2 and nb.dead_letters() == []
        assert _acks(pg_db, plan) == sorted([k1, k2])
    finally:
        for n in (na, nb):
            n.stop()
        a.close()
        b.close()


def test_a_holder_that_loses_the_database_sends_nothing_until_it_is_back(tmp_path, pg_db, http_server):
    recorder = Recorder()
    plan, a, b, (na, nb) = _cockpits(tmp_path, pg_db, http_server, recorder)
    try:
        e1 = a.ops.confirm("S1", gates())
        assert na.step() == 1  # a holds the lease
        # The lease's connection is killed: the holder cannot ask the acknowledgements, so it
        # sends nothing on that turn (it could be a duplicate), and takes the lease again after.
        killed = pg_db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
            "'cutover-cockpit-journal' AND query LIKE '%_notified%' "
            "AND pid <> pg_backend_pid()")
        assert killed == [(True,)]
        e2 = a.ops.confirm("S2", gates())
        wait_for(lambda: b.journal.head == a.journal.head, "b to read a's entries")
        assert na.step() == 0
        assert na.lease.why.startswith("notifications wait for the shared journal's database")
        keys = [f"t-cut:{e1.seq}:chat", f"t-cut:{e2.seq}:chat"]
        wait_for(lambda: (na.step() or True) and recorder.keys() == keys,
                 "the holder to deliver once the database answers again")
        assert nb.step() == 0
        assert recorder.keys() == keys and _acks(pg_db, plan) == sorted(keys)
    finally:
        for n in (na, nb):
            n.stop()
        a.close()
        b.close()


def test_journal_init_creates_and_checks_the_delivered_notifications_table(pg_db):
    name = "cockpit_journal"
    statements = table.create_sql(name)
    assert "cockpit_journal_notified" in statements[-1]
    for stmt in statements[:-1]:
        pg_db.execute(stmt)
    with pg_db.connect() as conn:
        assert table.differences(conn, name) == [
            "table cockpit_journal_notified (delivered notifications) does not exist"]
    pg_db.execute(statements[-1])
    with pg_db.connect() as conn:
        assert table.differences(conn, name) == []
    assert ('GRANT SELECT, INSERT ON "cockpit_journal_notified" TO <cockpit_role>'
            in table.grant_sql(name))
    assert table.notified_name("s." + "x" * 63) == "s." + "x" * 54 + "_notified"
