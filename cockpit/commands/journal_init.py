"""``cockpit journal init CONFIG``: create the shared journal's table, or check the one there.

The table, its trigger functions and its four triggers are created by the statements of
``cockpit.journal.table.create_sql``, each printed before it runs, all in one transaction (a
failure leaves nothing behind). It needs no superuser: CREATE on the table's schema is enough.
Afterwards it prints the GRANT the cockpits' own role should get: SELECT and INSERT only, since
whoever owns the table can drop or disable its triggers.

Run again on an existing table it only reads the catalogs and compares them with what it would
create (columns, primary key, checks, the four triggers enabled, the functions' bodies): exit 0
"already set up, unchanged", or exit 1 with one line naming what differs; nothing is changed.
Exit 2 for a bad plan, a plan without ``cutover.shared_journal``, a database that cannot be
reached or used (one line, never the DSN).
"""

from __future__ import annotations

import sys

import psycopg

from cockpit.commands.common import emit, fail, load_or_report, one_line
from cockpit.journal import pgconn, table

VERB = "journal init"


def main(args) -> int:
    plan = load_or_report(args.config, verb=VERB, for_run=False)
    if plan is None:
        return 2
    shared = plan.cutover.shared_journal
    if shared is None:
        return fail(VERB, "the plan has no cutover.shared_journal: write 'shared_journal: "
                          "{source: <a postgres source>, table: cockpit_journal}' under cutover")
    name = shared.table
    try:
        conn = pgconn.connect(plan)
    except pgconn.JournalDbError as exc:
        return fail(VERB, one_line(exc, 300))
    try:
        return _init(conn, plan, name)
    except psycopg.Error as exc:
        return fail(VERB, f"table {name}: {_why(exc, plan)}; nothing was changed")
    finally:
        conn.close()


def _init(conn: psycopg.Connection, plan, name: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SHOW server_encoding")
        row = cur.fetchone()
        encoding = str(row[0]) if row else "?"
        cur.execute("SELECT current_user")
        row = cur.fetchone()
        role = str(row[0]) if row else "?"
    if encoding.upper() not in ("UTF8", "UTF-8"):
        conn.rollback()
        return fail(VERB, f"the database's encoding is {one_line(encoding, 40)}: the shared "
                          "journal needs a UTF8 database (its lines are UTF-8 text)")
    if table.exists(conn, name):
        problems = table.differences(conn, name)
        conn.rollback()  # read only the catalogs: nothing to keep
        if problems:
            emit(f"cockpit {VERB}: table {name} exists but differs from what journal init "
                 f"creates: {'; '.join(problems)}; nothing was changed", err=True)
            return 1
        emit(f"table {name}: already set up, unchanged")
        _advise(name, role, owner=_owner(conn, name))
        conn.rollback()
        return 0
    for stmt in table.create_sql(name):
        # Printed exactly (not through emit, which makes one line of each argument): our own
        # SQL, the table's name checked by the plan loader, to be read or run by hand.
        print(stmt + ";", flush=True)
        with conn.cursor() as cur:
            cur.execute(stmt)  # our own DDL, no parameters
    problems = table.differences(conn, name)
    if problems:  # what was just created must pass the check a re-run makes
        conn.rollback()
        return fail(VERB, f"table {name}: created but it does not check ({'; '.join(problems)}); "
                          "rolled back, nothing was changed")
    conn.commit()
    emit(f"table {name}: created ({len(table.create_sql(name))} statements, one transaction)")
    _advise(name, role, owner=role)
    return 0


def _owner(conn: psycopg.Connection, name: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)",
                    (table.qualified(name),))
        row = cur.fetchone()
        return str(row[0]) if row else None


def _advise(name: str, role: str, *, owner: str | None) -> None:
    emit("grant the cockpits' own role reading and appending only; it must not be the table's "
         f"owner ({one_line(owner, 64)}), who can drop or disable the triggers that keep the "
         "journal append-only and chained:")
    emit(*(stmt + ";" for stmt in table.grant_sql(name)))
    if owner is not None and owner == role:
        emit(f"note: this plan connects as {one_line(role, 64)}, the owner: run the cockpits "
             "with a DSN for the granted role")


def _why(exc: psycopg.Error, plan) -> str:
    if exc.sqlstate == "42501":
        return "permission denied: the role needs CREATE on the table's schema"
    if exc.sqlstate in ("42P07", "42723"):
        return ("a table or function of that name already exists (left from an earlier table?): "
                + pgconn.describe(exc, plan))
    return pgconn.describe(exc, plan)


if __name__ == "__main__":
    sys.exit(main(None))
