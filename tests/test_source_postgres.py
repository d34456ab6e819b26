"""The postgres source client on real servers: sessions, the sql probe, timeouts, failures."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
import pytest

from cockpit.clock import ManualClock, RealClock
from cockpit.config.sources import PostgresSource as PostgresConfig
from cockpit.config.sources import Signal
from cockpit.signals.loaders import make_source
from cockpit.signals.postgres import PostgresSource
from tests.fixtures.pg import PgCluster, PgDatabase, free_port


def config(dsn: str, **extra) -> PostgresConfig:
    return PostgresConfig.model_validate({"type": "postgres", "dsn": dsn, **extra})


def sql_signal(query: str, **extra) -> Signal:
    return Signal.model_validate({"source": "db", "probe": "sql", "query": query, **extra})


def app_name() -> str:
    return f"cockpit-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def db_source(pg_db: PgDatabase):
    app = app_name()
    src = make_source("db", config(pg_db.dsn, application_name=app), RealClock())
    src.app = app
    yield src
    await src.close()


async def read_sql(src: PostgresSource, query: str, **extra):
    return await src.read("s", sql_signal(query, **extra))


def backends(cluster: PgCluster, app: str) -> list[tuple]:
    return cluster.execute(
        "select pid, state, query from pg_stat_activity where application_name = %s", (app,))


async def test_make_source_builds_the_postgres_client(pg_db: PgDatabase) -> None:
    src = make_source("db", config(pg_db.dsn), RealClock())
    try:
        assert isinstance(src, PostgresSource)
    finally:
        await src.close()


async def test_sql_numbers_and_booleans(db_source: PostgresSource, pg_db: PgDatabase) -> None:
    pg_db.execute("create table backlog (status text); "
                  "insert into backlog values ('pending'), ('pending'), ('sent')")
    r = await read_sql(db_source, "select count(*) from backlog where status = 'pending'")
    assert (r.value, r.error, r.signal) == (2.0, None, "s")
    assert r.latency_ms is not None and r.latency_ms >= 0
    assert (await read_sql(db_source, "select 1.25::numeric")).value == 1.25
    assert (await read_sql(db_source, "select 10 % 3")).value == 1.0  # a literal % is no placeholder
    truth = await read_sql(db_source, "select exists (select 1 from backlog where status = 'sent')")
    assert truth.value is True and truth.ok
    assert (await read_sql(db_source, "select false")).value is False


@pytest.mark.parametrize(("query", "error"), [
    ("select null::int", "query returned NULL"),
    ("select 'twelve'", "query returned text, not a number"),
    ("select generate_series(1, 3)", "query returned several rows, expected one"),
    ("select 1 where false", "query returned no rows"),
    ("select 1, 2", "query returned 2 columns, expected one"),
    ("select interval '5 minutes'", "query returned an interval, not a number: use extract(epoch from ...)"),
    ("select 'NaN'::float8", "query returned NaN"),
])
async def test_sql_result_must_be_one_scalar(db_source: PostgresSource, query: str,
                                             error: str) -> None:
    r = await read_sql(db_source, query)
    assert r.value is None
    assert r.error == error


async def test_sql_errors_are_one_line(db_source: PostgresSource) -> None:
    r = await read_sql(db_source, "select count(*) from no_such_table")
    assert r.error == 'relation "no_such_table" does not exist'
    r = await read_sql(db_source, "selec 1")
    assert r.error is not None and "\n" not in r.error and r.error.startswith("syntax error")


async def test_writes_are_refused_and_leave_nothing(db_source: PostgresSource,
                                                    pg_db: PgDatabase) -> None:
    pg_db.execute("create table orders (id int)")
    r = await read_sql(db_source, "insert into orders values (1) returning id")
    assert r.error == "cannot execute INSERT in a read-only transaction"
    # Several statements are refused outright, so a query cannot switch the session writable.
    r = await read_sql(db_source, "set transaction_read_only = off; insert into orders values (2)")
    assert r.error == "cannot insert multiple commands into a prepared statement"
    # A setting changed from inside a query is rolled back with the query's transaction.
    r = await read_sql(db_source,
                       "select set_config('default_transaction_read_only', 'off', false) = 'off'")
    assert r.value is True
    r = await read_sql(db_source, "select current_setting('default_transaction_read_only') = 'on'")
    assert r.value is True
    assert pg_db.scalar("select count(*) from orders") == 0


async def test_session_is_read_only_reused_and_idle_between_polls(
        db_source: PostgresSource, pg_shared: PgCluster) -> None:
    settings = ("select current_setting('default_transaction_read_only') = 'on' "
                "and current_setting('statement_timeout') = '10s' "
                "and current_setting('lock_timeout') = '2s' "
                "and current_setting('application_name') = %s")
    r = await read_sql(db_source, settings.replace("%s", f"'{db_source.app}'"))
    assert r.value is True
    first = await read_sql(db_source, "select pg_backend_pid()")
    second = await read_sql(db_source, "select pg_backend_pid()")
    assert first.value == second.value
    rows = backends(pg_shared, db_source.app)
    assert [(pid, state) for pid, state, _ in rows] == [(int(first.value), "idle")]


async def test_never_more_sessions_than_max_concurrent(pg_db: PgDatabase,
                                                       pg_shared: PgCluster) -> None:
    app = app_name()
    src = PostgresSource("db", config(pg_db.dsn, application_name=app, max_concurrent=2),
                         RealClock())
    seen: list[int] = []
    stop = asyncio.Event()

    async def sample() -> None:
        async with await psycopg.AsyncConnection.connect(pg_shared.dsn(), autocommit=True) as c:
            while not stop.is_set():
                cur = await c.execute("select count(*) from pg_stat_activity "
                                      "where application_name = %s and state = 'active'", (app,))
                seen.append((await cur.fetchone())[0])
                await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        readings = await asyncio.gather(
            *(read_sql(src, "select 1 from pg_sleep(0.3)") for _ in range(5)))
    finally:
        stop.set()
        await sampler
        await src.close()
    assert [r.value for r in readings] == [1.0] * 5
    assert max(seen) == 2
    assert src._readers.connects == 2


async def test_statement_timeout_cuts_a_hung_query(pg_db: PgDatabase) -> None:
    src = PostgresSource("db", config(pg_db.dsn, statement_timeout="1s"), RealClock())
    try:
        t0 = time.monotonic()
        r = await read_sql(src, "select 1 from pg_sleep(10)", timeout="8s")
        assert time.monotonic() - t0 < 3
        assert r.error == "canceling statement due to statement timeout"
        assert (await read_sql(src, "select 7")).value == 7.0
        assert src._readers.connects == 1
    finally:
        await src.close()


async def test_client_timeout_cancels_the_query_on_the_server(pg_db: PgDatabase,
                                                               pg_shared: PgCluster) -> None:
    app = app_name()
    src = PostgresSource("db", config(pg_db.dsn, statement_timeout="60s", application_name=app),
                         RealClock())
    try:
        t0 = time.monotonic()
        r = await read_sql(src, "select 1 from pg_sleep(30)", timeout="1s")
        assert time.monotonic() - t0 < 1.5
        assert r.error == "timed out after 1s (timeout: 1s; query cancelled)"
        assert [state for _, state, _ in backends(pg_shared, app)] == ["idle"]
        assert (await read_sql(src, "select 8")).value == 8.0
        assert src._readers.connects == 1
    finally:
        await src.close()


def _require_password(cluster: PgCluster, role: str, password: str) -> None:
    cluster.execute(f"create role {role} login password '{password}'")
    hba = cluster.datadir / "pg_hba.conf"
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    cluster.execute("select pg_reload_conf()")


async def test_the_dsn_password_never_reaches_an_error(pg_cluster: PgCluster) -> None:
    _require_password(pg_cluster, "cockpit_ro", "Right-Pass-4821")
    good = pg_cluster.dsn(user="cockpit_ro", password="Right-Pass-4821")
    src = PostgresSource("db", config(good), RealClock())
    try:
        assert (await read_sql(src, "select 1")).value == 1.0
    finally:
        await src.close()

    wrong = "Wr0ng-Secret-9917"
    src = PostgresSource("db", config(pg_cluster.dsn(user="cockpit_ro", password=wrong)),
                         RealClock())
    r = await read_sql(src, "select 1")
    assert 'password authentication failed for user "cockpit_ro"' in r.error
    assert wrong not in r.error and "Right-Pass" not in r.error

    # libpq quotes pieces of a DSN it cannot parse; an unquoted password with a space would leak.
    bad = f"host=127.0.0.1 port={pg_cluster.port} user=cockpit_ro password=Sp4ce Leak-77"
    src = PostgresSource("db", config(bad), RealClock(), redact=lambda s: s)
    r = await read_sql(src, "select 1")
    assert r.error.startswith("invalid dsn: check its key=value syntax and quoting")

    # An error text that happens to contain the password is scrubbed too.
    src = PostgresSource("db", config(pg_cluster.dsn(user="cockpit_ro", password=wrong)),
                         RealClock())
    assert wrong not in src.error("s", f"echo {wrong}", 0.0).error


async def test_connection_refused_is_an_error_at_once() -> None:
    port = free_port()
    src = PostgresSource("db", config(f"host=127.0.0.1 port={port} user=postgres",
                                      connect_timeout="10s"), RealClock())
    t0 = time.monotonic()
    r = await read_sql(src, "select 1")
    assert time.monotonic() - t0 < 1.0
    assert "Connection refused" in r.error and r.value is None


async def test_reconnect_backs_off_on_the_injected_clock(pg_cluster: PgCluster) -> None:
    clock = ManualClock()
    src = PostgresSource("db", config(pg_cluster.dsn()), clock, backoff_initial=1.0,
                         backoff_max=4.0)
    try:
        assert (await read_sql(src, "select 1")).value == 1.0
        pg_cluster.stop()
        # The idle session died with the server: one fresh try, refused, then backoff.
        r = await read_sql(src, "select 1")
        assert "Connection refused" in r.error
        connects = src._readers.connects
        t0 = time.monotonic()
        r = await read_sql(src, "select 1")
        assert time.monotonic() - t0 < 0.2
        assert r.error.startswith("reconnecting in 1s after: connection failed:")
        assert "Connection refused" in r.error
        await clock.advance(1.0)
        assert "Connection refused" in (await read_sql(src, "select 1")).error
        assert (await read_sql(src, "select 1")).error.startswith("reconnecting in 2s after:")
        await clock.advance(2.0)
        await read_sql(src, "select 1")
        assert (await read_sql(src, "select 1")).error.startswith("reconnecting in 4s after:")
        await clock.advance(4.0)
        await read_sql(src, "select 1")
        assert (await read_sql(src, "select 1")).error.startswith("reconnecting in 4s after:")

        pg_cluster.start()
        assert (await read_sql(src, "select 1")).error.startswith("reconnecting in ")
        await clock.advance(4.0)
        assert (await read_sql(src, "select 2")).value == 2.0
        assert src._readers.connects == connects + 1
        assert src._readers.failures == 0
    finally:
        await src.close()


async def test_a_session_the_server_killed_is_replaced_without_an_error(
        db_source: PostgresSource, pg_shared: PgCluster) -> None:
    pid = (await read_sql(db_source, "select pg_backend_pid()")).value
    pg_shared.execute("select pg_terminate_backend(%s)", (int(pid),))
    r = await read_sql(db_source, "select pg_backend_pid()")
    assert r.ok and r.value != pid


async def test_close_ends_the_sessions(pg_db: PgDatabase, pg_shared: PgCluster) -> None:
    app = app_name()
    src = PostgresSource("db", config(pg_db.dsn, application_name=app), RealClock())
    assert (await read_sql(src, "select 1")).ok
    await src.close()
    assert (await read_sql(src, "select 1")).error == "source closed"
    deadline = time.monotonic() + 5
    while backends(pg_shared, app) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert backends(pg_shared, app) == []


async def test_data_values_are_withheld_from_errors(db_source: PostgresSource,
                                                    pg_db: PgDatabase) -> None:
    pg_db.execute("create table patients (mrn text); insert into patients values ('Jane Doe 991')")
    r = await read_sql(db_source, "select sum(mrn::int) from patients")
    assert r.error == 'invalid input syntax for type integer: "…"'


async def test_a_read_cancelled_by_its_caller_cancels_and_closes_its_session(
        pg_db: PgDatabase, pg_shared: PgCluster) -> None:
    app = app_name()
    src = PostgresSource("db", config(pg_db.dsn, statement_timeout="60s", application_name=app),
                         RealClock())
    try:
        with pytest.raises(TimeoutError):
            # What the engine does when a source overruns its own timeout.
            await asyncio.wait_for(read_sql(src, "select 1 from pg_sleep(30)", timeout="30s"), 0.5)
        deadline = time.monotonic() + 5
        while backends(pg_shared, app) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert backends(pg_shared, app) == []
        assert (await read_sql(src, "select 3")).value == 3.0
        assert src._readers.connects == 2
    finally:
        await src.close()


async def test_concurrent_reads_during_an_outage_back_off_one_step() -> None:
    clock = ManualClock()
    port = free_port()
    src = PostgresSource("db", config(f"host=127.0.0.1 port={port} user=postgres",
                                      max_concurrent=2), clock)
    readings = await asyncio.gather(*(read_sql(src, "select 1") for _ in range(6)))
    errors = [r.error for r in readings]
    assert all("Connection refused" in e or e.startswith("reconnecting in 1s after:")
               for e in errors), errors
    assert src._readers.failures == 1
    assert src._readers.connects == 0
