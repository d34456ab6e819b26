"""replication_lag on real clusters: a primary with a streaming standby, and a logical pair.

Polling with a deadline (``poll_until``), never a fixed sleep: replication reports arrive on
the servers' own schedule (wal_receiver_status_interval is 1 s in the fixture).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from cockpit.clock import Clock, ManualClock, RealClock
from cockpit.config import load_plan
from cockpit.config.sources import PostgresSource as PostgresConfig
from cockpit.config.sources import Signal
from cockpit.gates import GateBook, GateState
from cockpit.signals.postgres import PostgresSource
from cockpit.signals.reading import Reading
from tests.fixtures.pg import PgCluster, PgFactory, wait_until


def source(cluster: PgCluster, clock: Clock | None = None, **kw) -> PostgresSource:
    cfg = PostgresConfig.model_validate({"type": "postgres", "dsn": cluster.dsn()})
    return PostgresSource(cluster.name, cfg, clock or RealClock(), **kw)


def lag(measure: str = "seconds", **extra) -> Signal:
    return Signal.model_validate({"source": "db", "probe": "replication_lag", "measure": measure,
                                  **extra})


SECONDS, BYTES = lag("seconds"), lag("bytes")


async def poll_until(src: PostgresSource, signal: Signal, ok, what: str, timeout: float = 20.0,
                     between=None) -> Reading:
    deadline = time.monotonic() + timeout
    while True:
        if between is not None:
            between()
        reading = await src.read("lag", signal)
        if ok(reading):
            return reading
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last reading {reading}")
        await asyncio.sleep(0.05)


def zero(r: Reading) -> bool:
    return r.error is None and r.value == 0.0


@pytest.fixture
async def physical(pg_factory: PgFactory):
    primary, standby = pg_factory.primary_with_standby()
    primary.execute("create table ticks (n int)")
    standby.wait_caught_up()
    on_primary, on_standby = source(primary), source(standby)
    yield primary, standby, on_primary, on_standby
    await on_primary.close()
    await on_standby.close()


async def test_caught_up_reads_zero_on_both_sides(physical) -> None:
    _, _, on_primary, on_standby = physical
    for src in (on_standby, on_primary):
        for signal in (SECONDS, BYTES):
            await poll_until(src, signal, zero, f"{src.name} {signal.measure} to read 0")
    # Still 0 while nothing happens: idle is not "time since the last commit".
    primary_s = await on_primary.read("lag", SECONDS)
    assert zero(primary_s) and primary_s.detail == ("standby standby",)
    assert zero(await on_standby.read("lag", SECONDS))


async def test_lag_grows_while_replay_is_paused_and_returns_to_zero(physical) -> None:
    primary, standby, on_primary, on_standby = physical
    standby.pause_replay()
    n = iter(range(1_000_000))

    def write() -> None:
        primary.execute("insert into ticks values (%s)", (next(n),))

    first = await poll_until(on_standby, SECONDS, lambda r: r.ok and r.value > 0,
                             "standby lag above 0", between=write)
    assert first.detail == ("replay paused",)
    later = await poll_until(on_standby, SECONDS, lambda r: r.ok and r.value > first.value + 1,
                             "standby lag to keep growing", between=write)
    assert later.value > 1
    behind = await poll_until(on_standby, BYTES, lambda r: r.ok and r.value > 0,
                              "standby bytes behind", between=write)
    more = await poll_until(on_standby, BYTES, lambda r: r.ok and r.value > behind.value,
                            "standby bytes to grow", between=write)
    assert more.value > behind.value
    await poll_until(on_primary, SECONDS, lambda r: r.ok and r.value > 1,
                     "primary-side replay lag above 1 s", between=write)
    await poll_until(on_primary, BYTES, lambda r: r.ok and r.value > 0,
                     "primary-side bytes behind", between=write)

    standby.resume_replay()
    for src in (on_standby, on_primary):
        for signal in (SECONDS, BYTES):
            await poll_until(src, signal, zero, f"{src.name} {signal.measure} back to 0")


def gate_plan(tmp_path: Path, primary: PgCluster, standby: PgCluster):
    plan = {
        "version": 1,
        "cutover": {"id": "lag-test", "name": "Lag test", "journal": "journal.jsonl",
                    "window": {"start": "2026-11-28T22:00:00Z", "end": "2026-11-29T06:00:00Z"}},
        "operators": {"roles": {"lead": {"confirm": ["*"]}},
                      "people": [{"name": "t.lead", "role": "lead"}]},
        "sources": {"standby_db": {"type": "postgres", "dsn": standby.dsn()}},
        "signals": {"replication_lag_s": {"source": "standby_db", "probe": "replication_lag",
                                          "measure": "seconds", "every": "5s"}},
        "gates": {"caught_up": {"expr": "replication_lag_s < 5", "hold_for": "0s",
                                "max_staleness": "30s"}},
        "runbook": {
            "phases": [{"id": "before", "title": "Before", "steps": [
                {"id": "B01", "title": "Do it", "owner": "lead", "planned": "5m"}]}],
            "rollback": {"phases": [{"id": "rb", "title": "Back", "steps": [
                {"id": "R01", "title": "Undo", "owner": "lead", "planned": "5m"}]}]},
        },
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return load_plan(path, for_run=True)[0]


async def test_stopped_standby_is_an_error_and_unknown_gate_then_recovers(
        physical, tmp_path: Path) -> None:
    primary, standby, on_primary, _ = physical
    clock = ManualClock()
    plan = gate_plan(tmp_path, primary, standby)
    on_standby = PostgresSource("standby_db", plan.sources["standby_db"], clock,
                                plan.redact, backoff_initial=2.0)
    signal = plan.signals["replication_lag_s"]
    book = GateBook(plan, clock)
    try:
        await poll_until(on_standby, signal, zero, "standby at 0")
        book.update({"replication_lag_s": await on_standby.read("replication_lag_s", signal)})
        assert book.statuses["caught_up"].state is GateState.GO

        standby.stop()
        down = await on_standby.read("replication_lag_s", signal)
        assert down.error is not None and "Connection refused" in down.error
        book.update({"replication_lag_s": down})
        assert book.statuses["caught_up"].state is GateState.UNKNOWN
        assert (await on_standby.read("replication_lag_s", signal)).error.startswith(
            "reconnecting in 2s after:")
        gone = await poll_until(on_primary, SECONDS, lambda r: r.error is not None,
                                "primary side to notice")
        assert gone.error.startswith("no standby connected (physical slot standby_")
        assert gone.error.endswith(" inactive)")

        standby.start()
        primary.wait_streaming(standby)
        await clock.advance(2.0)
        back = await poll_until(on_standby, signal, zero, "standby back at 0")
        book.update({"replication_lag_s": back})
        assert book.statuses["caught_up"].state is GateState.GO
        await poll_until(on_primary, BYTES, zero, "primary side back at 0 bytes")
    finally:
        await on_standby.close()


async def test_standby_named_and_unknown_name(physical) -> None:
    _, _, on_primary, _ = physical
    await poll_until(on_primary, lag("bytes", standby="standby"), zero, "named standby at 0")
    r = await on_primary.read("lag", lag("bytes", standby="nope"))
    assert r.error == "no standby, subscription or slot named 'nope' on this server"


async def test_without_pg_monitor_the_primary_side_says_so(physical) -> None:
    primary, _, _, _ = physical
    primary.execute("create role watcher login")
    cfg = PostgresConfig.model_validate({"type": "postgres", "dsn": primary.dsn(user="watcher")})
    src = PostgresSource("p", cfg, RealClock())
    try:
        r = await src.read("lag", BYTES)
        assert r.error == "cannot see pg_stat_replication details: grant pg_monitor to this role"
        primary.execute("grant pg_monitor to watcher")
        await poll_until(src, BYTES, zero, "lag visible with pg_monitor")
    finally:
        await src.close()


async def test_no_replication_from_this_side(pg_cluster: PgCluster) -> None:
    src = source(pg_cluster)
    try:
        r = await src.read("lag", SECONDS)
        assert r.error == "no replication found from this side"
    finally:
        await src.close()


# -- logical ---------------------------------------------------------------------------------


@pytest.fixture
async def logical(pg_factory: PgFactory):
    pub, sub = pg_factory.create("pub"), pg_factory.create("sub")
    for cluster in (pub, sub):
        cluster.execute("create table orders (id int primary key, note text)")
    pub.execute("insert into orders select g, 'x' from generate_series(1, 10) g")
    pub.execute("create publication orders_pub for table orders")
    sub.execute(f"create subscription orders_sub connection '{pub.dsn()}' "
                "publication orders_pub")
    wait_until(lambda: sub.scalar("select count(*) from orders") == 10, 20, "initial copy")
    on_pub, on_sub = source(pub), source(sub)
    yield pub, sub, on_pub, on_sub
    await on_pub.close()
    await on_sub.close()
    sub.execute("drop subscription if exists orders_sub")


async def test_logical_pair_reports_lag_on_both_sides(logical) -> None:
    pub, sub, on_pub, on_sub = logical
    caught = await poll_until(on_sub, SECONDS, zero, "subscriber at 0")
    assert caught.detail == ("subscription orders_sub",)
    await poll_until(on_pub, BYTES, zero, "publisher slot at 0 bytes")
    slot = await poll_until(on_pub, SECONDS, zero, "publisher slot at 0 s")
    assert slot.detail == ("slot orders_sub",)
    r = await on_sub.read("lag", BYTES)
    assert r.error.startswith("bytes behind cannot be measured on a logical subscriber")

    # Hold the subscriber's apply worker on a lock while the publisher keeps writing.
    n = iter(range(100, 1_000_000))
    with psycopg.connect(sub.dsn()) as blocker:
        blocker.execute("lock table orders in access exclusive mode")

        def write() -> None:
            pub.execute("insert into orders values (%s, 'y')", (next(n),))

        await poll_until(on_sub, SECONDS, lambda r: r.ok and r.value > 1,
                         "subscriber lag above 1 s", between=write)
        await poll_until(on_pub, BYTES, lambda r: r.ok and r.value > 0,
                         "publisher bytes behind", between=write)
        blocker.rollback()
    await poll_until(on_sub, SECONDS, zero, "subscriber back at 0")
    await poll_until(on_pub, BYTES, zero, "publisher back at 0 bytes")
    assert sub.scalar("select count(*) from orders") == pub.scalar("select count(*) from orders")


async def test_stopped_subscription_is_an_error_on_both_sides(logical) -> None:
    pub, sub, on_pub, on_sub = logical
    await poll_until(on_sub, SECONDS, zero, "subscriber at 0")
    sub.execute("alter subscription orders_sub disable")
    r = await poll_until(on_sub, SECONDS, lambda r: r.error is not None, "subscriber error")
    assert r.error == ("orders_sub: apply worker not running "
                       "(subscription disabled or failing)")
    r = await poll_until(on_pub, BYTES, lambda r: r.error is not None, "publisher error")
    assert r.error.startswith("orders_sub: slot inactive (no subscriber connected, ")
    named = await on_pub.read("lag", lag("bytes", standby="orders_sub"))
    assert named.error == r.error
