"""Local mode on a real PostgreSQL: a cockpit cut off from the shared journal refuses every
action until the lead switches it to local mode with a reason; its actions then go to
``<local copy>.local.jsonl`` (fsynced, replayed on top of the shared state) and are merged,
flagged, into the shared journal in one transaction once the connection returns. Every
cockpit sees the merge, and replays the same state.

Cockpit A connects as its own role, so the test keeps A out (NOLOGIN + pg_terminate_backend)
while B writes: a real outage for A alone, on a real server."""

from __future__ import annotations

import pytest

from cockpit.journal import lines, table
from cockpit.journal.local import local_path, merged_path, pending
from cockpit.runbook import Refused
from cockpit.session import open_session
from tests.test_journal_properties import _audit
from tests.test_journal_shared import TABLE, shared_plan_text, table_lines, wait_for
from tests.test_runbook_rules import gates

LOCAL_PLAN_ROLE = "    lead: {confirm: [\"*\"], approve_critical: true, decide: true, override: true, rollback: true, triage: true}\n"


def local_plan_text(dsn: str) -> str:
    text = shared_plan_text(dsn)
    assert LOCAL_PLAN_ROLE in text
    return text.replace(LOCAL_PLAN_ROLE, LOCAL_PLAN_ROLE[:-2] + ", local_mode: true}\n")


def make_local_plan(folder, dsn):
    from cockpit.config import load_plan

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.yaml"
    path.write_text(local_plan_text(dsn))
    plan, _ = load_plan(path, for_run=False)
    return plan


class Db:
    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name

    def execute(self, sql, params=None):
        return self.cluster.execute(sql, params, dbname=self.name)


class Rig:
    """Two cockpits on one table: A (role cockpit_a, which the test can lock out) and B."""

    def __init__(self, cluster, db, tmp_path):
        self.cluster, self.db, self.tmp = cluster, Db(cluster, db), tmp_path
        self.plan_a = make_local_plan(tmp_path / "a", cluster.dsn(db, user="cockpit_a"))
        self.plan_b = make_local_plan(tmp_path / "b", cluster.dsn(db))
        self.copy_a = tmp_path / "a" / "copy.jsonl"
        self.copy_b = tmp_path / "b" / "copy.jsonl"
        self.sessions: list = []

    def open_a(self, operator="lead1"):
        s = open_session(self.plan_a, self.copy_a, operator)
        self.sessions.append(s)
        return s

    def open_b(self, operator="lead2"):
        s = open_session(self.plan_b, self.copy_b, operator)
        self.sessions.append(s)
        return s

    def cut_a(self, a) -> None:
        self.db.execute("ALTER ROLE cockpit_a NOLOGIN")
        self.db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = 'cockpit_a'")
        wait_for(lambda: a.journal.link() is not None, "A to notice")

    def let_a_back(self) -> None:
        self.db.execute("ALTER ROLE cockpit_a LOGIN")

    def close(self) -> None:
        for s in self.sessions:
            s.close()


@pytest.fixture
def rig(pg_cluster, tmp_path):
    db = pg_cluster.create_database()
    for stmt in table.create_sql(TABLE):
        pg_cluster.execute(stmt, dbname=db)
    pg_cluster.execute("CREATE ROLE cockpit_a LOGIN", dbname=db)
    pg_cluster.execute(f"GRANT SELECT, INSERT ON {TABLE} TO cockpit_a", dbname=db)
    r = Rig(pg_cluster, db, tmp_path)
    try:
        yield r
    finally:
        r.close()


def merged(a) -> bool:
    return a.journal.local_mode is None and a.journal.link() is None


def test_refused_while_disconnected_until_the_lead_goes_local_then_merged_and_flagged(rig):
    a, b = rig.open_a(), rig.open_b()
    a.ops.note("before")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow")
    # Connected: local mode is not offered.
    assert "connected" in (a.ops.can_go_local() or "")
    with pytest.raises(Refused, match="connected"):
        a.ops.go_local("KNOWN_ISSUE", "no reason to")
    rig.cut_a(a)
    with pytest.raises(Refused, match="DISCONNECTED"):
        a.ops.note("typed while disconnected")
    assert a.ops.can_go_local() is None
    with pytest.raises(Refused, match="needs a note"):
        a.ops.go_local("KNOWN_ISSUE", "")
    assert not local_path(rig.copy_a).exists()

    start = a.ops.go_local("KNOWN_ISSUE", "database failover in progress")
    assert start.action == "local.start" and start.seq == 1
    assert start.data["shared_head"] == {"seq": a.journal.head[0], "hash": a.journal.head[1]}
    assert local_path(rig.copy_a).read_bytes() == start.line()  # on disk before it is said
    line = a.journal.link()
    assert line.startswith("LOCAL MODE since ") and "lead1: KNOWN_ISSUE" in line
    assert "merged into the shared journal when it is back" in line and "\n" not in line
    with pytest.raises(Refused, match="already in local mode"):
        a.ops.go_local("KNOWN_ISSUE", "twice")

    a.ops.confirm("S1", gates())
    a.ops.note("made in local mode")
    assert a.ops.state.steps["S1"].status.value == "done"  # replayed on top of shared state
    assert [e.action for e in a.journal.local_entries] == ["local.start", "step.confirm", "note"]
    assert "2 entries journalled locally" in a.journal.link()
    assert b"made in local mode" not in table_lines(rig.db)  # nothing reached the table
    assert pending(rig.copy_a) is not None

    b.ops.confirm("S2", gates())  # the shared journal moves on meanwhile
    rig.let_a_back()
    wait_for(lambda: merged(a), "A to merge")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow the merge")

    rows = [e for e in a.journal.entries]
    actions = [e.action for e in rows]
    i = actions.index("local.merge")
    assert actions[i:] == ["local.merge", "step.confirm", "note", "local.end"]
    m = rows[i]
    assert m.reason_code == "KNOWN_ISSUE" and m.note == "database failover in progress"
    assert m.data["who"] == "lead1" and m.data["count"] == 2 and m.data["conflicts"] == 0
    assert m.data["local_start"] == start.hash
    locals_ = a.journal.entries[i + 1:i + 3]
    mfile = merged_path(rig.copy_a, m.seq)
    kept = lines.parse(mfile.read_bytes(), cutover="t-cut").entries
    for merged_entry, original in zip(locals_, kept[1:], strict=True):
        assert merged_entry.actor == original.actor and merged_entry.subject == original.subject
        assert merged_entry.data["local"] == {"seq": original.seq, "hash": original.hash,
                                              "ts": original.ts}
    assert not local_path(rig.copy_a).exists() and pending(rig.copy_a) is None
    # Every cockpit's replayed state is the same, and sees the merge.
    assert a.ops.state.to_json() == b.ops.state.to_json()
    assert [x.words() for x in b.ops.state.local_merges] == [
        f"merged 2 entries made in LOCAL MODE by lead1 {start.ts[11:16]}-"
        f"{kept[-1].ts[11:16]}Z: KNOWN_ISSUE: database failover in progress"]
    # The table, each local copy and the kept local journal verify (auditor rule).
    exported = table_lines(rig.db)
    assert a.journal.path.read_bytes() == b.journal.path.read_bytes() == exported
    assert _audit(a.journal.path) is not None and _audit(mfile) is not None
    a.ops.note("connected again")  # and writes to the shared journal again
    assert b"connected again" in table_lines(rig.db)


def test_a_conflict_is_recorded_and_flagged_but_not_counted_twice(rig):
    a, b = rig.open_a(), rig.open_b()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    a.ops.confirm("S1", gates())
    b.ops.confirm("S1", gates())  # B confirms the same step in the shared journal meanwhile
    rig.let_a_back()
    wait_for(lambda: merged(a), "A to merge")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow")
    confirms = [e for e in a.journal.entries if e.action == "step.confirm"]
    assert [e.actor.operator for e in confirms] == ["lead2", "lead1"]  # both recorded
    conflict = confirms[1].data["local"]["conflict"]
    assert conflict.startswith("S1 was already done by lead2 at ") and "\n" not in conflict
    s1 = a.ops.state.steps["S1"]
    assert s1.actor == "lead2"  # first recorded wins; the flagged one is evidence only
    assert a.ops.state.to_json() == b.ops.state.to_json()
    merge = next(e for e in a.journal.entries if e.action == "local.merge")
    assert merge.data["conflicts"] == 1
    assert b.ops.state.local_merges[0].words().endswith("; 1 conflict")


def test_two_person_actions_are_refused_in_local_mode(rig):
    a = rig.open_a()
    for sid in ("S1", "S2", "S3"):
        a.ops.confirm(sid, gates())
    a.ops.decide("S4", "GO", gates(), typed="S4")
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    assert "LOCAL MODE" in (a.ops.can_confirm("D1", gates()) or "")
    with pytest.raises(Refused, match="second person"):
        a.ops.confirm("D1", gates(), typed="D1")
    assert [e.action for e in a.journal.local_entries] == ["local.start"]


def test_quitting_in_local_mode_and_restarting_disconnected_resumes_it(rig):
    a = rig.open_a()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    a.ops.note("first life")
    a.close()
    a2 = rig.open_a()  # still locked out
    assert a2.journal.local_mode is not None
    assert "(resumed from its file)" in a2.journal.link()
    assert [e.note for e in a2.journal.local_entries][1:] == ["first life"]
    a2.ops.note("second life")
    rig.let_a_back()
    wait_for(lambda: merged(a2), "A to merge")
    notes = [e.note for e in a2.journal.entries if e.action == "note"]
    assert notes == ["first life", "second life"]


def test_a_tampered_local_journal_is_not_merged_and_kept(rig):
    a = rig.open_a()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    a.ops.note("genuine")
    a.close()
    path = local_path(rig.copy_a)
    data = path.read_bytes().replace(b"genuine", b"forgery")
    path.write_bytes(data)
    rig.let_a_back()
    a2 = rig.open_a()
    why = a2.journal.readonly_reason
    assert "does not verify" in why and "NOT merged" in why and "\n" not in why
    assert a2.journal.link().startswith("LOCAL MODE journal NOT merged")
    with pytest.raises(Refused, match="NOT merged"):
        a2.ops.note("anything")
    assert path.read_bytes() == data  # nothing lost, nothing repaired
    assert b"forgery" not in table_lines(rig.db) and b"genuine" not in table_lines(rig.db)


def test_two_cockpits_in_local_mode_are_merged_one_after_the_other(rig, tmp_path):
    a = rig.open_a()
    # A second locked-out cockpit on the same role: C, with its own copy and login name.
    c = open_session(rig.plan_a, tmp_path / "a" / "copy-c.jsonl", "lead2")
    rig.sessions.append(c)
    wait_for(lambda: c.journal.link() is None, "C to connect")
    rig.cut_a(a)
    wait_for(lambda: c.journal.link() is not None, "C to notice")
    a.ops.go_local("KNOWN_ISSUE", "A is cut off")
    c.ops.go_local("KNOWN_ISSUE", "C is cut off")
    a.ops.confirm("S1", gates())
    c.ops.confirm("S1", gates())
    c.ops.note("from C")
    rig.let_a_back()
    wait_for(lambda: merged(a) and merged(c), "both to merge")
    wait_for(lambda: a.journal.head == c.journal.head, "both to see both merges")
    entries = a.journal.entries
    assert [e.action for e in entries].count("local.merge") == 2
    assert [e.action for e in entries].count("local.end") == 2
    confirms = [e for e in entries if e.action == "step.confirm"]
    assert len(confirms) == 2 and all("local" in e.data for e in confirms)
    assert sum(1 for e in confirms if "conflict" in e.data["local"]) == 1  # the later merge
    assert a.ops.state.to_json() == c.ops.state.to_json()
    assert len(a.ops.state.local_merges) == 2
    assert a.journal.path.read_bytes() == c.journal.path.read_bytes() == table_lines(rig.db)


def test_local_mode_needs_the_role_permission(rig):
    a = rig.open_a("dba1")
    rig.cut_a(a)
    why = a.ops.can_go_local()
    assert why is not None and "local_mode" in why
    with pytest.raises(Refused, match="local_mode"):
        a.ops.go_local("KNOWN_ISSUE", "not mine to decide")
    assert not local_path(rig.copy_a).exists()


def _merging_child(plan_path: str, copy_path: str, operator: str) -> None:
    """A cockpit process that resumes a local journal and merges it (the test kills it)."""
    import time
    from pathlib import Path

    from cockpit.config import load_plan

    plan, _ = load_plan(Path(plan_path), for_run=False)
    session = open_session(plan, copy_path, operator)
    while session.journal.local_mode is not None:
        time.sleep(0.05)
    session.close()


@pytest.mark.parametrize("commit_survives", [True, False], ids=["committed", "rolled-back"])
def test_a_cockpit_killed_mid_merge_merges_once_after_restart(rig, commit_survives):
    import multiprocessing
    import os
    import signal

    a = rig.open_a()
    a.ops.note("shared before")
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    for k in range(3):
        a.ops.note(f"local {k}")
    a.close()
    # A deferred trigger holds the merge's COMMIT, so the process is killed during it.
    rig.db.execute("CREATE FUNCTION slow_merge() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN IF NEW.line LIKE '%\"local.merge\"%' THEN PERFORM pg_sleep(3); END IF; "
                   "RETURN NULL; END $$")
    rig.db.execute(f"CREATE CONSTRAINT TRIGGER slow_merge AFTER INSERT ON {TABLE} "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_merge()")
    rig.let_a_back()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_merging_child,
                        args=(str(rig.tmp / "a" / "plan.yaml"), str(rig.copy_a), "lead1"))
    child.start()
    sleeping: list = []

    def committing() -> bool:
        sleeping[:] = rig.db.execute("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
        return bool(sleeping)

    try:
        wait_for(committing, "the merge's COMMIT to start")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    if not commit_survives:
        rig.db.execute("SELECT pg_terminate_backend(%s)", (sleeping[0][0],))
    wait_for(lambda: not rig.db.execute("SELECT 1 FROM pg_stat_activity WHERE "
                                        "wait_event = 'PgSleep'"), "the COMMIT to end")
    in_table = table_lines(rig.db).count(b'"local.merge"')
    assert in_table == (1 if commit_survives else 0)
    assert local_path(rig.copy_a).exists()  # never removed before the merge is known committed
    rig.db.execute(f"DROP TRIGGER slow_merge ON {TABLE}")
    a2 = rig.open_a()
    wait_for(lambda: merged(a2), "the restarted cockpit to merge (or find its merge)")
    exported = table_lines(rig.db)
    assert exported.count(b'"local.merge"') == 1 and exported.count(b'"local.end"') == 1
    notes = [e.note for e in a2.journal.entries if e.action == "note"]
    assert notes == ["shared before", "local 0", "local 1", "local 2"]  # each exactly once
    assert not local_path(rig.copy_a).exists()
    seq = next(e.seq for e in a2.journal.entries if e.action == "local.merge")
    assert merged_path(rig.copy_a, seq).exists()
    wait_for(lambda: a2.journal.path.read_bytes() == table_lines(rig.db), "the local copy")
    assert _audit(a2.journal.path) is not None


def _waits_for_the_journal_lock(journal) -> bool:
    """The follower thread stands at a ``with self._lock`` line (blocked: the write has it)."""
    import linecache
    import sys

    thread = journal._thread
    frame = sys._current_frames().get(thread.ident) if thread is not None else None
    if frame is None or frame.f_code.co_name not in ("_follow", "_connect"):
        return False
    return "with self._lock" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)


def _paused_in(monkeypatch, owner, name: str, thread_name: str):
    """``owner.name`` called on the thread named ``thread_name`` stops until released: the
    (reached, release) events. The one way to pause a real action at one point; everything
    around it is real."""
    import threading

    reached, release = threading.Event(), threading.Event()
    real = getattr(owner, name)

    def held(*args, **kwargs):
        if threading.current_thread().name == thread_name:
            reached.set()
            release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return reached, release


def _on_thread(name: str, action) -> tuple:
    """``action()`` started on a thread named ``name``: (the thread, the list its result goes to)."""
    import threading

    result: list = []
    t = threading.Thread(target=lambda: result.append(action()), name=name)
    t.start()
    return t, result


def test_a_local_write_in_flight_when_the_connection_returns_is_merged_once(rig, monkeypatch):
    """The local write holds the journal while its fsync runs; the reconnecting follower waits
    for it (seen standing at the journal's lock), and the merge takes it. The fsync is held by
    an event (``_paused_in``); the write itself is real."""
    import cockpit.journal.file as file_mod

    a = rig.open_a()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    # The follower is in its reconnect loop (its old connections dropped) before the write
    # takes the journal's lock, so what waits for the write below is the reconnect itself.
    wait_for(lambda: a.journal._tries >= 2, "A's follower to have failed a reconnect")
    holding, release = _paused_in(monkeypatch, file_mod, "_fsync", "in-flight")
    t, result = _on_thread("in-flight", lambda: a.ops.note("in flight"))
    wait_for(holding.is_set, "the local write to be in its fsync")
    rig.let_a_back()
    wait_for(lambda: _waits_for_the_journal_lock(a.journal),
             "A's follower, reconnecting, to wait for the write's lock")
    assert a.journal.local_mode is not None  # the merge waits for the write
    release.set()
    t.join(60)
    assert result and result[0].note == "in flight" and result[0].seq == 2  # the local seq
    wait_for(lambda: merged(a), "A to merge")
    assert table_lines(rig.db).count(b"in flight") == 1


def test_an_action_checked_in_local_mode_is_recorded_in_local_mode(rig, monkeypatch):
    """The follower may not merge (end local mode) between an action's check against the
    local state and its append: the action would then go to the shared journal, checked
    against a state that is not the shared one. The check is held by an event (``_paused_in``);
    the reconnect and the merge are real."""
    from cockpit.runbook.operations import Operations

    a = rig.open_a()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    wait_for(lambda: a.journal._tries >= 2, "A's follower to have failed a reconnect")
    checking, release = _paused_in(monkeypatch, Operations, "_workable", "checking")
    t, result = _on_thread("checking", lambda: a.ops.confirm("S1", gates()))
    wait_for(checking.is_set, "the confirm to be in its check")
    rig.let_a_back()
    wait_for(lambda: _waits_for_the_journal_lock(a.journal) or a.journal.local_mode is None,
             "A's follower, reconnecting, to wait for the action (or to merge: the bug)")
    assert a.journal.local_mode is not None  # the merge waits for the action
    release.set()
    t.join(60)
    assert result and result[0].seq == 2 and "local" not in (result[0].data or {})  # local seq
    wait_for(lambda: merged(a), "A to merge")
    [confirm] = [e for e in a.journal.entries if e.action == "step.confirm"]
    assert confirm.data["local"]["seq"] == 2 and "conflict" not in confirm.data["local"]


def test_status_names_a_pending_local_journal_and_journal_show_marks_the_merge(rig):
    from cockpit.journal.shared import local_copy_path
    from tests.test_cli_robustness import cockpit

    copy = local_copy_path(rig.plan_a, "lead1")  # where `cockpit run` keeps it
    a = open_session(rig.plan_a, copy, "lead1")
    rig.sessions.append(a)
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    a.ops.note("while away")
    a.close()  # quit in local mode: the local journal waits
    rig.let_a_back()
    plan_a = str(rig.tmp / "a" / "plan.yaml")
    out = cockpit("status", plan_a)
    assert out.returncode == 0, out.stderr
    assert "warning: a local-mode journal waits to be merged into the shared journal" in out.stdout
    a2 = open_session(rig.plan_a, copy, "lead1")
    rig.sessions.append(a2)
    wait_for(lambda: merged(a2), "the restarted cockpit to merge")
    out = cockpit("status", plan_a)
    assert "local-mode journal waits" not in out.stdout
    shown = cockpit("journal", "show", plan_a)
    assert shown.returncode == 0, shown.stderr
    marked = [ln for ln in shown.stdout.splitlines() if "<LOCAL" in ln]
    assert len(marked) == 2  # the merge, and the note made locally
    assert "local.merge" in marked[0] and "<LOCAL MODE: 1 merged>" in marked[0]
    assert "while away" in marked[1] and "<LOCAL #2 " in marked[1]
    verified = cockpit("journal", "verify", plan_a)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    kept = next((rig.tmp / "a").glob("journal.lead1.jsonl.local.jsonl.merged-*"))
    assert cockpit("journal", "verify", str(kept)).returncode == 0


def test_an_action_right_after_a_reconnect_is_recorded_after_the_merge_not_refused(rig):
    """Whichever comes first, the follower's merge or the action (which then merges under the
    same lock and is checked again against the merged state), the action is recorded after
    the local entries, once."""
    a = rig.open_a()
    rig.cut_a(a)
    a.ops.go_local("KNOWN_ISSUE", "db down")
    a.ops.confirm("S1", gates())
    a.close()
    rig.let_a_back()
    a2 = rig.open_a()
    wait_for(lambda: a2.journal.link() is None or "LOCAL MODE ending" in a2.journal.link(),
             "A to reconnect")
    a2.ops.confirm("S2", gates())
    actions = [e.action for e in a2.journal.entries]
    assert actions.count("local.merge") == 1 and actions[-1] == "step.confirm"
    assert actions.index("local.merge") < actions.index("local.end") < len(actions) - 1
    confirms = [e.subject for e in a2.journal.entries if e.action == "step.confirm"]
    assert confirms == ["S1", "S2"]
    assert merged(a2)


def test_a_second_outage_is_a_second_local_journal_merged_on_its_own(rig):
    a, b = rig.open_a(), rig.open_b()
    for k in range(2):
        rig.cut_a(a)
        a.ops.go_local("KNOWN_ISSUE", f"outage {k}")
        a.ops.note(f"during outage {k}")
        rig.let_a_back()
        wait_for(lambda: merged(a), f"merge {k}")
    wait_for(lambda: b.journal.head == a.journal.head, "B to follow")
    merges = [e for e in a.journal.entries if e.action == "local.merge"]
    assert [m.note for m in merges] == ["outage 0", "outage 1"]
    assert merges[0].data["local_start"] != merges[1].data["local_start"]
    assert sorted(p.name for p in (rig.tmp / "a").glob("copy.jsonl.local.jsonl.merged-*")) == \
        sorted(f"copy.jsonl.local.jsonl.merged-{m.seq}" for m in merges)
    assert [x.note for x in b.ops.state.local_merges] == ["outage 0", "outage 1"]
