"""Read-only recon sessions against a real PostgreSQL (a database in the shared test cluster)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from cockpit.recon.session import (
    ReconDbError,
    describe_error,
    is_statement_timeout,
    open_readonly,
    snapshot,
)
from tests.fixtures.pg import free_port


async def test_session_is_read_only_with_pinned_settings(pg_db):
    # Database defaults that would change a row's text form must not leak into the session.
    pg_db.execute(f"ALTER DATABASE \"{pg_db.name}\" SET TimeZone = 'America/New_York'")
    pg_db.execute(f"ALTER DATABASE \"{pg_db.name}\" SET DateStyle = 'SQL, DMY'")
    pg_db.execute(f'ALTER DATABASE "{pg_db.name}" SET extra_float_digits = 0')
    pg_db.execute(f"ALTER DATABASE \"{pg_db.name}\" SET bytea_output = 'escape'")
    pg_db.execute("CREATE TABLE t (id int primary key)")
    conn = await open_readonly(pg_db.dsn, statement_timeout_s=7)
    try:
        async with conn.cursor() as cur:
            values = {}
            for name in (
                "TimeZone",
                "DateStyle",
                "IntervalStyle",
                "extra_float_digits",
                "bytea_output",
                "statement_timeout",
                "lock_timeout",
                "default_transaction_read_only",
                "application_name",
            ):
                await cur.execute(f"SHOW {name}")
                values[name] = (await cur.fetchone())[0]
            assert values == {
                "TimeZone": "UTC",
                "DateStyle": "ISO, YMD",
                "IntervalStyle": "postgres",
                "extra_float_digits": "3",
                "bytea_output": "hex",
                "statement_timeout": "7s",
                "lock_timeout": "5s",
                "default_transaction_read_only": "on",
                "application_name": "cutover-cockpit-recon",
            }
            await cur.execute("SELECT '2026-01-02 03:04:05+02'::timestamptz::text")
            assert (await cur.fetchone())[0] == "2026-01-02 01:04:05+00"
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                await cur.execute("INSERT INTO t VALUES (1)")
        assert conn.info.transaction_status == TransactionStatus.IDLE
    finally:
        await conn.close()
    assert pg_db.scalar("SELECT count(*) FROM t") == 0


async def test_statement_timeout_cancels_the_query(pg_db):
    conn = await open_readonly(pg_db.dsn, statement_timeout_s=0.2)
    try:
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            await conn.execute("SELECT pg_sleep(5)")
        assert is_statement_timeout(info.value)
        assert "statement timeout" in describe_error(info.value)
    finally:
        await conn.close()


async def test_snapshot_is_repeatable_read_and_always_ends(pg_db):
    pg_db.execute("CREATE TABLE t (id int primary key)")
    pg_db.execute("INSERT INTO t VALUES (1)")
    conn = await open_readonly(pg_db.dsn, statement_timeout_s=5)
    try:
        async with snapshot(conn):
            assert conn.info.transaction_status == TransactionStatus.INTRANS
            cur = await conn.execute("SHOW transaction_isolation")
            assert (await cur.fetchone())[0] == "repeatable read"
            cur = await conn.execute("SELECT count(*) FROM t")
            assert (await cur.fetchone())[0] == 1
            pg_db.execute("INSERT INTO t VALUES (2)")  # another session commits meanwhile
            cur = await conn.execute("SELECT count(*) FROM t")
            assert (await cur.fetchone())[0] == 1  # same snapshot
        assert conn.info.transaction_status == TransactionStatus.IDLE

        with pytest.raises(psycopg.errors.UndefinedTable):
            async with snapshot(conn):
                await conn.execute("SELECT * FROM no_such_table")
        assert conn.info.transaction_status == TransactionStatus.IDLE
        cur = await conn.execute("SELECT count(*) FROM t")
        assert (await cur.fetchone())[0] == 2
    finally:
        await conn.close()


async def test_connect_failure_is_one_line_without_password(pg_shared):
    dsn = f"host=127.0.0.1 port={free_port()} dbname=x user=u password=Sekr1tPassw0rd"
    with pytest.raises(ReconDbError) as info:
        await open_readonly(dsn, statement_timeout_s=1, connect_timeout_s=2)
    message = str(info.value)
    assert message.startswith("cannot connect:")
    assert "Sekr1tPassw0rd" not in message and "\n" not in message


async def test_wrong_password_error_is_redacted(pg_db):
    # Trust auth accepts any password, so the failure here is an unknown database.
    dsn = pg_db.cluster.dsn("no_such_db", password="Sekr1tPassw0rd")
    with pytest.raises(ReconDbError) as info:
        await open_readonly(dsn, statement_timeout_s=1)
    assert "no_such_db" in str(info.value)
    assert "Sekr1tPassw0rd" not in str(info.value)


async def test_describe_error_never_quotes_data_values(pg_db):
    conn = await open_readonly(pg_db.dsn, statement_timeout_s=5)
    try:
        with pytest.raises(psycopg.Error) as info:
            await conn.execute("SELECT 'Zebulon Quackenbush'::int")
    finally:
        await conn.close()
    assert "Zebulon" in str(info.value)  # the server does quote it; describe_error must not
    text = describe_error(info.value)
    assert "Zebulon" not in text and "22P02" in text


def test_describe_error_redacts_dsn_and_passwords():
    dsn = "postgresql://alice:Sekr1t@db.example:5432/ehr"
    err = RuntimeError(f"could not use {dsn} (password=hunter2)")
    text = describe_error(err, dsn)
    assert "Sekr1t" not in text and "hunter2" not in text and "\n" not in text


async def test_fetch_runs_one_statement_only_inside_a_snapshot(pg_db):
    from cockpit.recon.session import fetch

    pg_db.execute("CREATE TABLE t (id int primary key)")
    conn = await open_readonly(pg_db.dsn, statement_timeout_s=5)
    try:
        with pytest.raises(ReconDbError, match="outside its read-only snapshot"):
            await fetch(conn, "SELECT 1")
        async with snapshot(conn):
            assert await fetch(conn, "SELECT 1") == [(1,)]
            with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
                await fetch(conn, "SELECT 1; COMMIT; SET default_transaction_read_only = off")
        async with snapshot(conn):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                await fetch(conn, "WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM i")
        assert not conn.closed
    finally:
        await conn.close()
    assert pg_db.scalar("SELECT count(*) FROM t") == 0


async def test_snapshot_end_releases_advisory_locks_and_drops_a_changed_session(pg_db):
    from cockpit.recon.session import fetch

    conn = await open_readonly(pg_db.dsn, statement_timeout_s=5)
    try:
        async with snapshot(conn):
            await fetch(conn, "SELECT pg_advisory_lock(42)")
        assert not conn.closed
        async with conn.cursor() as cur:
            await cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                              "AND pid = pg_backend_pid()")
            assert (await cur.fetchone())[0] == 0
        # A setting changed outside any snapshot (not possible through fetch): not trusted.
        await conn.execute("SET statement_timeout = 0")
        async with snapshot(conn):
            pass
        assert conn.closed
    finally:
        await conn.close()
