"""``cockpit journal init`` and the verbs that read the shared journal (``journal verify``,
``journal show``, ``status``), against a real cluster.

init is run as a role that only has CREATE (and USAGE) on one schema, never a superuser; a
second run, or a run on a tampered table, must leave the catalogs exactly as they were. The
auditor's ten-line script (quoted in ``cockpit.journal``'s docstring), run on a ``psql -At``
export of the table, must print the head ``cockpit journal verify PLAN`` prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

import cockpit.journal as journal_pkg
from cockpit.cli import main
from cockpit.journal import Actor, Journal, table
from tests.fixtures.pg import free_port

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")
CUTOVER = "shared-1"
TABLE = "cj.journal"
OWNER = "cj_owner"
COCKPIT_ROLE = "cj_cockpit"


def plan_doc(dsn_text: str, *, shared: bool = True, table_name: str = TABLE) -> dict:
    cutover: dict = {"id": CUTOVER, "name": "Shared journal é", "journal": "journal.jsonl",
                     "window": {"start": "2026-11-28T22:00:00Z", "end": "2026-11-29T06:00:00Z"}}
    if shared:
        cutover["shared_journal"] = {"source": "journaldb", "table": table_name}
    return {
        "cutover": cutover,
        "operators": {"roles": {"lead": {"confirm": ["*"]}},
                      "people": [{"name": "ann", "role": "lead"}]},
        "sources": {"sim": {"type": "simulated"},
                    "journaldb": {"type": "postgres", "dsn": dsn_text, "connect_timeout": "3s"}},
        "signals": {"lag_s": {"source": "sim", "simulate": {"base": 1}}},
        "gates": {"lag_ok": {"expr": "lag_s < 5"}},
        "runbook": {
            "phases": [{"id": "before", "title": "Before", "steps": [
                {"id": "B1", "title": "Prepare the transfer", "owner": "lead", "planned": "5m"},
                {"id": "B2", "title": "Freeze writes", "owner": "lead", "planned": "5m"}]}],
            "rollback": {"phases": [{"id": "back", "title": "Back", "steps": [
                {"id": "R1", "title": "Switch back", "owner": "lead", "planned": "10m"}]}]},
        },
    }


def write_plan(folder: Path, dsn_text: str, **kw) -> Path:
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan_doc(dsn_text, **kw), allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def db(pg_db):
    """The database with an unprivileged owner role that may only create in schema cj, and a
    cockpit role that has nothing yet."""
    with pg_db.connect(autocommit=True) as c:
        for role in (OWNER, COCKPIT_ROLE):
            if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                c.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        c.execute("CREATE SCHEMA cj")
        c.execute(f"GRANT USAGE, CREATE ON SCHEMA cj TO {OWNER}")
        c.execute(f"REVOKE CREATE ON SCHEMA public FROM {OWNER}")
    yield pg_db
    with pg_db.connect(autocommit=True) as c:
        c.execute("DROP SCHEMA cj CASCADE")
        for role in (OWNER, COCKPIT_ROLE):
            c.execute(f"DROP OWNED BY {role}")


def owner_plan(tmp_path: Path, db, **kw) -> Path:
    return write_plan(tmp_path, db.cluster.dsn(db.name, user=OWNER), **kw)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def catalog_state(db) -> list[tuple]:
    """Everything init could change, with each row's xmin (a rewrite changes it)."""
    with db.connect() as c:
        oid = c.execute("SELECT to_regclass(%s)::oid", (table.qualified(TABLE),)).fetchone()[0]
        rows = c.execute(
            "SELECT 'class', c.relname::text, c.xmin::text, c.relacl::text FROM pg_class c "
            "  WHERE c.relnamespace = 'cj'::regnamespace "
            "UNION ALL SELECT 'trigger', t.tgname::text, t.xmin::text, t.tgenabled::text "
            "  FROM pg_trigger t WHERE t.tgrelid = %s "
            "UNION ALL SELECT 'proc', p.proname::text, p.xmin::text, md5(p.prosrc) FROM pg_proc p "
            "  WHERE p.pronamespace = 'cj'::regnamespace "
            "UNION ALL SELECT 'constraint', k.conname::text, k.xmin::text, k.contype::text "
            "  FROM pg_constraint k WHERE k.conrelid = %s "
            "UNION ALL SELECT 'attribute', a.attname::text, a.xmin::text, a.atttypid::text "
            "  FROM pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 ORDER BY 1, 2",
            (oid, oid, oid)).fetchall()
        return rows


def append_entries(tmp_path: Path, n: int) -> list[bytes]:
    """n entries as a file journal writes them (notes with non-ASCII text), inserted in the table."""
    j = Journal.open(tmp_path / "writer.jsonl", cutover_id=CUTOVER)
    try:
        j.append_many(Actor.system(), [{"action": "note", "note": f"note {i} é 🚑 \u0000"}
                                       for i in range(n - 1)])
        j.append("step.confirm", actor=Actor.current("ann"), subject="B1")
    finally:
        j.close()
    return (tmp_path / "writer.jsonl").read_bytes().splitlines()


def insert_lines(db, lines: list[bytes]) -> None:
    with db.connect() as c, c.transaction():
        for raw in lines:
            d = json.loads(raw)
            c.execute(table.sql(table.INSERT_SQL, TABLE),
                      (d["cutover"], d["seq"], d["prev"], d["hash"], raw.decode("utf-8")))


# -- journal init --------------------------------------------------------------------------------

def test_init_as_an_unprivileged_role_creates_the_table_prints_its_sql_and_the_grant(
        tmp_path, db, capsys):
    plan = owner_plan(tmp_path, db)
    with db.connect() as c:
        assert not c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone()[0]
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 0, err
    for stmt in table.create_sql(TABLE):  # each statement printed, as it ran
        assert stmt + ";" in out
    assert out.index(table.create_sql(TABLE)[0]) < out.index(table.create_sql(TABLE)[-1])
    assert 'GRANT SELECT, INSERT ON "cj"."journal" TO <cockpit_role>;' in out
    assert 'GRANT USAGE ON SCHEMA "cj" TO <cockpit_role>;' in out
    assert "drop or disable the triggers" in out and f"({OWNER})" in out
    with db.connect() as c:
        assert table.differences(c, TABLE) == []
        owner = c.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s::regclass",
                          (TABLE,)).fetchone()[0]
        assert owner == OWNER


def test_the_printed_grant_is_enough_for_a_cockpit_and_keeps_it_from_dropping_the_triggers(
        tmp_path, db, capsys):
    plan = owner_plan(tmp_path, db)
    code, out, _ = run(capsys, "journal", "init", str(plan))
    assert code == 0
    with db.connect(autocommit=True) as c:
        for stmt in re.findall(r"^GRANT .*;$", out, re.M):
            c.execute(stmt.replace("<cockpit_role>", COCKPIT_ROLE))
    lines = append_entries(tmp_path, 3)
    with psycopg.connect(db.cluster.dsn(db.name, user=COCKPIT_ROLE), autocommit=True) as c:
        with c.transaction():  # a batch goes in whole, in one transaction
            for raw in lines:
                d = json.loads(raw)
                c.execute(table.sql(table.INSERT_SQL, TABLE),
                          (d["cutover"], d["seq"], d["prev"], d["hash"], raw.decode()))
        assert len(table.read_lines(c, TABLE, CUTOVER)) == 3
        for stmt in (f"DROP TRIGGER journal_chain ON {TABLE}",
                     f"ALTER TABLE {TABLE} DISABLE TRIGGER journal_no_change",
                     f"DELETE FROM {TABLE}"):
            with pytest.raises(psycopg.Error) as exc:
                c.execute(stmt)
            assert exc.value.sqlstate == "42501", stmt  # insufficient_privilege


def test_init_twice_the_second_run_checks_and_changes_nothing(tmp_path, db, capsys):
    plan = owner_plan(tmp_path, db)
    assert run(capsys, "journal", "init", str(plan))[0] == 0
    insert_lines(db, append_entries(tmp_path, 2))
    before = catalog_state(db)
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 0, err
    assert "table cj.journal: already set up, unchanged" in out
    assert "CREATE" not in out and not err
    assert catalog_state(db) == before
    with db.connect() as c:
        assert len(table.read_lines(c, TABLE, CUTOVER)) == 2


def test_init_without_shared_journal_or_on_a_database_that_is_not_utf8_refuses(tmp_path, db, capsys):
    plan = write_plan(tmp_path, db.cluster.dsn(db.name, user=OWNER), shared=False)
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 2 and not out
    assert err.count("\n") == 1 and "no cutover.shared_journal" in err
    latin = db.cluster.create_database()
    try:
        db.cluster.execute(f"DROP DATABASE {latin}")
        db.cluster.execute(f"CREATE DATABASE {latin} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                           "TEMPLATE template0")
        plan = write_plan(tmp_path, db.cluster.dsn(latin))
        code, out, err = run(capsys, "journal", "init", str(plan))
        assert code == 2 and not out
        assert err.count("\n") == 1 and "encoding is LATIN1" in err and "UTF8" in err
        with psycopg.connect(db.cluster.dsn(latin)) as c:
            assert c.execute("SELECT to_regclass('cj.journal')").fetchone()[0] is None
    finally:
        db.cluster.drop_database(latin)


TAMPERINGS = [
    ("DROP TRIGGER journal_no_change ON cj.journal", "trigger journal_no_change is missing"),
    ("ALTER TABLE cj.journal DISABLE TRIGGER journal_chain", "trigger journal_chain is disabled"),
    ("CREATE OR REPLACE FUNCTION cj.journal_chain() RETURNS trigger LANGUAGE plpgsql AS "
     "$$BEGIN RETURN NEW; END$$", 'function "cj"."journal_chain"() has another body'),
    ("ALTER TABLE cj.journal ALTER COLUMN seq TYPE numeric", "column seq is numeric"),
]


@pytest.mark.parametrize(("tamper", "said"), TAMPERINGS, ids=["dropped", "disabled", "body", "type"])
def test_init_on_a_tampered_table_names_what_differs_and_changes_nothing(
        tmp_path, db, capsys, tamper, said):
    plan = owner_plan(tmp_path, db)
    assert run(capsys, "journal", "init", str(plan))[0] == 0
    with psycopg.connect(db.cluster.dsn(db.name, user=OWNER), autocommit=True) as c:
        c.execute(tamper)  # the owner can: that is why the cockpits must not be it
    before = catalog_state(db)
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 1 and not out
    assert err.count("\n") == 1 and said in err and "nothing was changed" in err, err
    assert catalog_state(db) == before


def test_init_without_create_on_the_schema_is_one_line_and_leaves_nothing(tmp_path, db, capsys):
    plan = write_plan(tmp_path, db.cluster.dsn(db.name, user=COCKPIT_ROLE))
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 2
    assert err.count("\n") == 1 and "permission denied" in err and "nothing was changed" in err
    with db.connect() as c:
        assert c.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'cj'::regnamespace"
                         ).fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'cj'::regnamespace"
                         ).fetchone()[0] == 0


# -- an unreachable database ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["journal", "init"], ["journal", "verify"], ["journal", "show"],
                                  ["status"]])
def test_an_unreachable_database_is_one_line_exit_2_never_the_dsn_or_password(tmp_path, argv):
    secret = "pw-Sup3r-s3cret"
    port = free_port()
    plan = write_plan(tmp_path, "${JOURNAL_DSN}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT_")}
    env["JOURNAL_DSN"] = f"host=127.0.0.1 port={port} dbname=cj user=cockpit password={secret}"
    proc = subprocess.run([COCKPIT, *argv, str(plan)], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    both = proc.stdout + proc.stderr
    assert proc.returncode == 2, both
    assert "Traceback" not in both and not proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "unreachable" in proc.stderr and "journaldb" in proc.stderr
    assert secret not in both and str(port) not in both and "password" not in both


# -- reading the table: verify, show, status ----------------------------------------------------

@pytest.fixture
def filled(tmp_path, db, capsys):
    """A set-up table holding 6 entries (a batch of 5 and a step start) of the plan's cutover,
    and two of another cutover."""
    plan = owner_plan(tmp_path, db)
    assert run(capsys, "journal", "init", str(plan))[0] == 0
    lines = append_entries(tmp_path, 6)
    insert_lines(db, lines)
    other = tmp_path / "other"
    other.mkdir()
    j = Journal.open(other / "o.jsonl", cutover_id="other-cutover")
    j.append("note", actor=Actor.system(), note="not ours")
    j.append("note", actor=Actor.system(), note="not ours either")
    j.close()
    insert_lines(db, (other / "o.jsonl").read_bytes().splitlines())
    return plan, lines


def _auditor_script() -> str:
    doc = journal_pkg.__doc__ or ""
    block = doc.split("An auditor re-verifies with nothing but Python::", 1)[1]
    body = block.split("\n\n", 2)[1]  # the indented block after the blank line
    lines = [ln[4:] for ln in body.splitlines()]
    assert len(lines) == 9 and lines[0].startswith("import hashlib"), lines
    return "\n".join(lines) + "\n"


def test_a_psql_export_verified_by_the_auditors_script_gives_the_head_journal_verify_gives(
        tmp_path, db, filled, capsys, pg_bindir):
    plan, lines = filled
    script = tmp_path / "audit.py"
    script.write_text(_auditor_script(), encoding="utf-8")
    export = tmp_path / "export.jsonl"
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    with open(export, "wb") as f:
        subprocess.run([str(pg_bindir / "psql"), db.cluster.dsn(db.name, user=OWNER), "-At", "-c",
                        f"SELECT line FROM cj.journal WHERE cutover = '{CUTOVER}' ORDER BY seq"],
                       stdout=f, check=True, timeout=60, env=env)
    assert export.read_bytes() == b"".join(ln + b"\n" for ln in lines)
    audit = subprocess.run([sys.executable, str(script), str(export)], capture_output=True,
                           text=True, timeout=60, check=True)
    code, out, err = run(capsys, "journal", "verify", str(plan))
    assert code == 0, err
    assert audit.stdout == out == f"OK: 6 entries, head #6 {json.loads(lines[-1])['hash']}\n"


def test_verify_with_expect_head_on_the_table_works_as_on_a_file(tmp_path, db, filled, capsys):
    plan, lines = filled
    head = json.loads(lines[-1])["hash"]
    assert run(capsys, "journal", "verify", str(plan), "--expect-head", f"6:{head}")[:2] == (
        0, f"OK: 6 entries, head #6 {head}\n")
    assert run(capsys, "journal", "verify", str(plan), "--expect-head", head[:16])[0] == 0
    code, out, _ = run(capsys, "journal", "verify", str(plan), "--expect-head", f"7:{head}")
    assert code == 1 and "entries were cut from the end" in out
    code, out, err = run(capsys, "journal", "verify", str(plan), "--expect-head", "abc")
    assert code == 2 and "at least 16" in err
    code, out, _ = run(capsys, "journal", "verify", str(plan), "--json")
    assert code == 0 and '"head_seq":6' in out.replace(" ", "")


def test_show_and_status_read_the_table_when_the_plan_shares_its_journal(tmp_path, db, filled, capsys):
    plan, lines = filled
    code, out, err = run(capsys, "journal", "show", str(plan))
    assert code == 0, err
    shown = out.splitlines()
    assert len(shown) == 6 and "note 0 é 🚑" in shown[0] and "step.confirm" in shown[-1]
    assert "not ours" not in out
    code, out, _ = run(capsys, "journal", "show", str(plan), "--json")
    assert code == 0 and len(out.splitlines()) == 6
    code, out, err = run(capsys, "status", str(plan))
    assert code == 0, err
    assert "journal shared journal table cj.journal  head #6" in out
    assert re.search(r"\[x\] B1 +done", out), out
    code, out, _ = run(capsys, "status", str(plan), "--json")
    assert code == 0 and '"table": "cj.journal"' in out
    assert not (tmp_path / "journal.jsonl").exists()  # the file journal was never touched


def test_a_plan_without_shared_journal_reads_its_journal_file(tmp_path, capsys):
    plan = write_plan(tmp_path, "host=127.0.0.1 port=1 dbname=x", shared=False)
    j = Journal.open(tmp_path / "journal.jsonl", cutover_id=CUTOVER)
    e = j.append("step.confirm", actor=Actor.current("ann"), subject="B2")
    j.close()
    code, out, _ = run(capsys, "journal", "verify", str(plan))
    assert code == 0 and out == f"OK: 1 entries, head #1 {e.hash}\n"
    code, out, _ = run(capsys, "journal", "show", str(plan))
    assert code == 0 and "step.confirm" in out and "B2" in out
    code, out, _ = run(capsys, "status", str(plan))
    assert code == 0 and re.search(r"\[x\] B2 +done", out)


def test_a_shared_journal_table_that_is_not_there_is_one_line_saying_how_to_create_it(
        tmp_path, db, capsys):
    plan = owner_plan(tmp_path, db)
    for argv in (["journal", "verify"], ["journal", "show"], ["status"]):
        code, out, err = run(capsys, *argv, str(plan))
        assert code == 2 and not out
        assert err.count("\n") == 1 and "cockpit journal init" in err, err


def test_a_row_the_owner_rewrote_behind_the_triggers_is_damage_to_verify_show_and_status(
        tmp_path, db, filled, capsys):
    plan, lines = filled
    with psycopg.connect(db.cluster.dsn(db.name, user=OWNER), autocommit=True) as c:
        c.execute("ALTER TABLE cj.journal DISABLE TRIGGER journal_no_change")
        c.execute("UPDATE cj.journal SET line = replace(line, 'note 2', 'note X') "
                  "WHERE cutover = %s AND seq = 3", (CUTOVER,))
    code, out, _ = run(capsys, "journal", "verify", str(plan))
    assert code == 1 and out.startswith("FAILED at seq 3 (line 3): hash mismatch")
    code, out, err = run(capsys, "journal", "show", str(plan))
    assert code == 1 and len(out.splitlines()) == 2 and "damaged at seq 3" in err
    code, out, err = run(capsys, "status", str(plan))
    assert code == 2 and not out and "damaged at seq 3" in err
    code, out, err = run(capsys, "journal", "init", str(plan))
    assert code == 1 and "trigger journal_no_change is disabled" in err
