"""Property (hypothesis, real PostgreSQL): whatever a cockpit does in local mode, while another
cockpit goes on in the shared journal, the merge records each local entry exactly once, in
order, flagged with its local seq and hash; the table verifies by the auditor's rule; and both
cockpits replay the same state."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.journal import table
from cockpit.runbook import Refused
from cockpit.session import open_session
from tests.test_journal_properties import _audit
from tests.test_journal_shared import table_lines, wait_for
from tests.test_local_mode import Db, local_plan_text
from tests.test_runbook_rules import gates

STEPS = ("S1", "S2", "S3", "S4", "D1", "D2", "D3", "A1")
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
ACTION = st.one_of(
    st.tuples(st.just("note"), TEXT),
    st.tuples(st.just("confirm"), st.sampled_from(STEPS)),
    st.tuples(st.just("skip"), st.sampled_from(STEPS)),
    st.tuples(st.just("fail"), st.sampled_from(STEPS)),
    st.tuples(st.just("decide"), st.sampled_from(("S4",))),
)
# (who, action): "a" in local mode, "b" in the shared journal meanwhile
SCRIPT = st.lists(st.tuples(st.sampled_from("ab"), ACTION), max_size=12)

_tables = itertools.count()


def _do(session, action) -> None:
    kind, arg = action
    ops = session.ops
    try:
        if kind == "note":
            ops.note(arg)
        elif kind == "confirm":
            ops.confirm(arg, gates(), typed=arg)
        elif kind == "skip":
            ops.skip(arg, "NOT_APPLICABLE", "skipped", gates=gates(), typed=arg)
        elif kind == "fail":
            ops.fail(arg, "it failed")
        else:
            ops.decide(arg, "GO", gates(), typed=arg)
    except Refused:
        pass  # refused is fine: it is not journalled, and the property is about what is


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=SCRIPT)
def test_every_local_entry_is_merged_exactly_once_and_the_table_verifies(pg_cluster, tmp_path,
                                                                         script):
    db_name = pg_cluster.create_database()
    db = Db(pg_cluster, db_name)
    name = f"lm_{next(_tables)}"
    for stmt in table.create_sql(name):
        db.execute(stmt)
    db.execute("DO $$ BEGIN CREATE ROLE cockpit_p LOGIN; EXCEPTION WHEN duplicate_object "
               "THEN ALTER ROLE cockpit_p LOGIN; END $$")
    db.execute(f"GRANT SELECT, INSERT ON {name} TO cockpit_p")
    from cockpit.config import load_plan

    folder = tmp_path / name
    sessions = []
    try:
        plans = []
        for who, dsn in (("a", pg_cluster.dsn(db_name, user="cockpit_p")), ("b", pg_cluster.dsn(db_name))):
            (folder / who).mkdir(parents=True)
            path = folder / who / "plan.yaml"
            path.write_text(local_plan_text(dsn).replace("table: cockpit_journal", f"table: {name}"))
            plans.append(load_plan(path, for_run=False)[0])
        a = open_session(plans[0], folder / "a" / "copy.jsonl", "lead1")
        sessions.append(a)
        b = open_session(plans[1], folder / "b" / "copy.jsonl", "lead2")
        sessions.append(b)
        db.execute("ALTER ROLE cockpit_p NOLOGIN")
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'cockpit_p'")
        wait_for(lambda: a.journal.link() is not None, "A to notice")
        a.ops.go_local("KNOWN_ISSUE", "property")
        for who, action in script:
            _do(a if who == "a" else b, action)
        made = list(a.journal.local_entries[1:])
        db.execute("ALTER ROLE cockpit_p LOGIN")
        wait_for(lambda: a.journal.local_mode is None and a.journal.link() is None, "the merge")
        wait_for(lambda: b.journal.head == a.journal.head, "B to follow")
        flagged = [e for e in a.journal.entries
                   if isinstance(e.data, dict) and isinstance(e.data.get("local"), dict)]
        assert [(e.data["local"]["seq"], e.data["local"]["hash"]) for e in flagged] == \
            [(e.seq, e.hash) for e in made]  # each exactly once, in order
        for merged, original in zip(flagged, made, strict=True):
            assert (merged.action, merged.actor, merged.subject, merged.note) == \
                (original.action, original.actor, original.subject, original.note)
        exported = table_lines(db, table_name=name)
        assert a.journal.path.read_bytes() == exported
        assert _audit(a.journal.path) is not None
        assert a.ops.state.to_json() == b.ops.state.to_json()
    finally:
        for s in sessions:
            s.close()
        db.execute("ALTER ROLE cockpit_p LOGIN")
