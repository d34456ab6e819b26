"""Logical replication of the clinical tables, legacy -> cloud (publication/subscription).

The subscription copies the legacy rows at creation (the initial table sync), then streams
every change. Pausing disables the subscription: its apply worker stops, the publisher's slot
goes inactive and keeps the WAL, and lag, catch-up and drift are then real.
"""

from __future__ import annotations

import time

import psycopg

from cockpit.lab.clusters import HOST, SUPERUSER
from cockpit.lab.ehr import HEARTBEAT_TABLE, SCHEMA, TABLES
from cockpit.lab.state import LabError

PUBLICATION = "lab_pub"
SUBSCRIPTION = "lab_sub"
SYNC_TIMEOUT = 120.0

REPLICATED = (*(f"{SCHEMA}.{t}" for t in TABLES), HEARTBEAT_TABLE)


def superuser_dsn(port: int, dbname: str = "ehr") -> str:
    return f"host={HOST} port={port} dbname={dbname} user={SUPERUSER} connect_timeout=10"


def connect(port: int, dbname: str = "ehr") -> psycopg.Connection:
    """The lab's own session (superuser, writable): setup and faults only, never the cockpit's."""
    try:
        return psycopg.connect(superuser_dsn(port, dbname), autocommit=True)
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or ["connection failed"])[0]
        raise LabError(f"cannot connect to the lab database on port {port}: {first}") from None


def publish(legacy: psycopg.Connection) -> None:
    legacy.execute(f"create publication {PUBLICATION} for table {', '.join(REPLICATED)}")


def subscribe(cloud: psycopg.Connection, legacy_port: int) -> None:
    conninfo = f"host={HOST} port={legacy_port} dbname=ehr user={SUPERUSER}"
    cloud.execute(f"create subscription {SUBSCRIPTION} connection '{conninfo}' "
                  f"publication {PUBLICATION}")


def wait_synced(cloud: psycopg.Connection, timeout: float = SYNC_TIMEOUT) -> None:
    """Until every table finished its initial copy and the apply worker streams."""
    deadline = time.monotonic() + timeout
    query = ("select count(*) filter (where r.srsubstate <> 'r'), count(*), "
             "(select count(*) from pg_stat_subscription where subname = %s and pid is not null "
             "and relid is null) from pg_subscription_rel r")
    while True:
        pending, total, workers = cloud.execute(query, (SUBSCRIPTION,)).fetchone() or (1, 0, 0)
        if total and not pending and workers:
            return
        if time.monotonic() >= deadline:
            raise LabError(f"replication did not finish its initial copy in {timeout:.0f}s "
                           f"({pending} of {total} tables pending)")
        time.sleep(0.05)


def pause(cloud: psycopg.Connection) -> None:
    cloud.execute(f"alter subscription {SUBSCRIPTION} disable")


def resume(cloud: psycopg.Connection) -> None:
    cloud.execute(f"alter subscription {SUBSCRIPTION} enable")


def enabled(cloud: psycopg.Connection) -> bool:
    row = cloud.execute("select subenabled from pg_subscription where subname = %s",
                        (SUBSCRIPTION,)).fetchone()
    return bool(row and row[0])


def describe(legacy_port: int, cloud_port: int) -> str:
    """One line on the replication's state, for ``lab status``."""
    try:
        with connect(cloud_port) as cloud:
            row = cloud.execute(
                "select s.subenabled, st.pid is not null, st.latest_end_time "
                "from pg_subscription s left join pg_stat_subscription st "
                "on st.subid = s.oid and st.relid is null where s.subname = %s",
                (SUBSCRIPTION,)).fetchone()
        with connect(legacy_port) as legacy:
            slot = legacy.execute(
                "select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                "from pg_replication_slots where slot_name = %s", (SUBSCRIPTION,)).fetchone()
    except (LabError, psycopg.Error) as exc:
        return f"unknown ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if row is None:
        return "no subscription"
    is_enabled, worker, _ = row
    state = "streaming" if is_enabled and worker else ("paused" if not is_enabled else "starting")
    behind = f", {slot[1]} bytes behind" if slot is not None and slot[1] is not None else ""
    active = "" if slot is None else (", slot active" if slot[0] else ", slot inactive")
    return f"{state} ({SUBSCRIPTION}{active}{behind})"
