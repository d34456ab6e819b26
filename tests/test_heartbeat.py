"""The heartbeat probe end to end through real physical streaming replication."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from cockpit.clock import RealClock
from cockpit.config.sources import PostgresSource as PostgresConfig
from cockpit.config.sources import Signal
from cockpit.signals.postgres import PostgresSource, link_peers
from cockpit.signals.reading import Reading
from tests.fixtures.pg import PgCluster, PgDatabase, PgFactory


def source(name: str, cluster: PgCluster | PgDatabase, app: str) -> PostgresSource:
    dsn = cluster.dsn if isinstance(cluster, PgDatabase) else cluster.dsn()
    cfg = PostgresConfig.model_validate({"type": "postgres", "dsn": dsn, "application_name": app})
    return PostgresSource(name, cfg, RealClock())


def heartbeat(target: str = "standby_db", table: str = "cockpit_heartbeat", **extra) -> Signal:
    return Signal.model_validate({"source": "primary_db", "probe": "heartbeat",
                                  "heartbeat": {"target": target, "table": table}, **extra})


async def poll_until(src: PostgresSource, signal: Signal, ok, what: str,
                     timeout: float = 20.0) -> Reading:
    deadline = time.monotonic() + timeout
    while True:
        reading = await src.read("hb", signal)
        if ok(reading):
            return reading
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last reading {reading}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def streaming(pg_factory: PgFactory):
    primary, standby = pg_factory.primary_with_standby()
    writer = source("primary_db", primary, "hb-primary")
    reader = source("standby_db", standby, "hb-standby")
    link_peers({"primary_db": writer, "standby_db": reader, "other": object()})
    yield primary, standby, writer, reader
    await writer.close()
    await reader.close()


@pytest.fixture
async def plain(pg_db: PgDatabase):
    """Writer and target on one database: enough for what never gets as far as replication."""
    app = f"hb-{uuid.uuid4().hex[:8]}"
    writer, reader = source("primary_db", pg_db, app), source("standby_db", pg_db, app + "-ro")
    link_peers({"primary_db": writer, "standby_db": reader, "other": object()})
    yield pg_db, writer, app
    await writer.close()
    await reader.close()


async def test_heartbeat_measures_end_to_end_lag(streaming) -> None:
    primary, standby, writer, reader = streaming
    first = await writer.read("hb", heartbeat())
    assert first.error is None, first
    assert 0 <= first.value < 1.0 and first.detail == ()
    # The row went in on the primary, through the heartbeat session only.
    assert primary.execute("select id from cockpit_heartbeat") == [(1,)]
    apps = {app for (app,) in primary.execute(
        "select application_name from pg_stat_activity where application_name like 'hb-%'")}
    assert apps == {"hb-primary-heartbeat"}
    second = await writer.read("hb", heartbeat())
    assert second.ok and second.value < 1.0
    assert standby.scalar("select ts from cockpit_heartbeat") == \
        primary.scalar("select ts from cockpit_heartbeat")


async def test_heartbeat_lag_grows_while_replay_is_paused(streaming) -> None:
    primary, standby, writer, _ = streaming
    signal = heartbeat(timeout="1s")
    await poll_until(writer, signal, lambda r: r.ok and r.value < 0.5, "heartbeat seen")
    standby.pause_replay()
    stuck = await writer.read("hb", signal)
    assert stuck.ok and stuck.value >= 0.75
    assert stuck.detail[0].startswith("this write not visible on standby_db after 0.")
    later = await writer.read("hb", signal)
    # An upper bound that keeps growing with the time between the two readings (measured,
    # not assumed: on a loaded machine the reads take longer).
    assert later.value >= stuck.value + (later.mono - stuck.mono) - 0.05
    standby.resume_replay()
    await poll_until(writer, signal, lambda r: r.ok and r.value < 0.5, "heartbeat caught up")


async def test_heartbeat_table_can_be_schema_qualified(streaming) -> None:
    primary, _, writer, _ = streaming
    primary.execute("create schema ops")
    r = await poll_until(writer, heartbeat(table="ops.cockpit_hb"), lambda r: r.ok,
                         "schema-qualified heartbeat")
    assert r.value < 1.0
    assert primary.scalar("select count(*) from ops.cockpit_hb") == 1


@pytest.mark.parametrize(("signal", "error"), [
    (heartbeat(table="hb; drop table x"),
     "heartbeat table 'hb; drop table x' is not a valid name: use letters, digits and '_' "
     "(optionally schema.table)"),
    (heartbeat(table="a.b.c"), "heartbeat table 'a.b.c' is not a valid name: use letters, "
     "digits and '_' (optionally schema.table)"),
    (heartbeat(target="nowhere"), "heartbeat target 'nowhere' is not a known postgres source"),
    (heartbeat(target="other"), "heartbeat target 'other' is not a known postgres source"),
    (heartbeat(measure="bytes"), "a heartbeat measures seconds"),
])
async def test_heartbeat_refuses_bad_configuration(plain, signal: Signal, error: str) -> None:
    db, writer, _ = plain
    r = await writer.read("hb", signal)
    assert r.error == error
    assert writer._writer is None  # refused before any write session was opened
    assert db.scalar("select count(*) from pg_tables where tablename like '%hb%'") == 0


async def test_no_write_session_without_a_heartbeat_signal(plain, pg_shared: PgCluster) -> None:
    _, writer, app = plain
    lag = Signal.model_validate({"source": "primary_db", "probe": "replication_lag"})
    assert (await writer.read("lag", lag)).error == "no replication found from this side"
    sql = Signal.model_validate({"source": "primary_db", "probe": "sql", "query": "select 1"})
    assert (await writer.read("one", sql)).value == 1.0
    assert writer._writer is None
    assert pg_shared.scalar("select count(*) from pg_stat_activity "
                            "where application_name = %s", (app + "-heartbeat",)) == 0
    assert pg_shared.scalar("select count(*) from pg_stat_activity "
                            "where application_name = %s", (app,)) == 1


async def test_heartbeat_into_a_read_only_server_is_an_error(streaming) -> None:
    _, _, writer, reader = streaming
    # Pointing the heartbeat at a standby as its source: the write is refused by the server.
    link_peers({"primary_db": writer, "standby_db": reader})
    r = await reader.read("hb", heartbeat(target="primary_db"))
    assert r.error == "cannot execute CREATE TABLE in a read-only transaction"


async def test_heartbeat_target_down_is_an_error(streaming) -> None:
    _, standby, writer, _ = streaming
    await poll_until(writer, heartbeat(), lambda r: r.ok, "heartbeat seen")
    standby.stop()
    r = await writer.read("hb", heartbeat())
    assert r.error is not None and "Connection refused" in r.error
