"""The SQL behind each PostgreSQL probe, and what its answer means.

Each probe is an ``async`` function of one open connection that returns ``(value, detail)`` or
raises :class:`ProbeError` with a one-line reason. They only read: the session they get is
read-only; the heartbeat write lives in :mod:`cockpit.signals.postgres`, on its own session.

Replication lag is measured from whichever side the DSN points at, decided on every poll (a
promotion during the cutover flips a standby into a primary, and the probe must follow):

1. in recovery -> **streaming standby**;
2. else a subscription exists -> **logical subscriber** (the inbound data is what a cutover
   target cares about, even if it also has standbys of its own);
3. else a physical walsender is streaming -> **primary** with standbys;
4. else a logical slot exists -> **logical publisher**;
5. else an inactive physical slot -> error "no standby connected";
6. else error "no replication found from this side".

``standby:`` in the signal names what to read (a standby's or subscription's
``application_name``, a subscription name or a slot name) and skips the ordering above. Without
it the worst of all is reported, and one that cannot be measured makes the whole reading an
error: the worst of "unknown" and "2 s" is unknown, and stale is not green.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql


class ProbeError(Exception):
    """A one-line reason a reading failed (shown to the operator, so no secrets)."""


Result = tuple[float | bool, tuple[str, ...]]

# -- side detection -------------------------------------------------------------------------

# Walsenders of logical slots are the publisher side; everything else streaming is physical.
_PHYSICAL_WALSENDER = """
    not exists (select 1 from pg_replication_slots s
                where s.active_pid = r.pid and s.slot_type = 'logical')
"""
# Table-sync slots come and go during a subscription's initial copy; temporary slots belong to
# one-off tools. Neither is a replication path to watch.
_WATCHED_LOGICAL_SLOT = r"""
    s.slot_type = 'logical' and not s.temporary and s.slot_name not like 'pg\_%\_sync\_%'
"""

DETECT = f"""
select pg_is_in_recovery(),
       exists (select 1 from pg_stat_subscription),
       exists (select 1 from pg_stat_replication r
               where r.state in ('streaming', 'catchup') and {_PHYSICAL_WALSENDER}),
       exists (select 1 from pg_stat_replication r where r.state is null),
       exists (select 1 from pg_replication_slots s where {_WATCHED_LOGICAL_SLOT}),
       (select string_agg(slot_name, ', ' order by slot_name) from pg_replication_slots
         where slot_type = 'physical' and not active)
"""

STANDBY = """
select pg_last_wal_receive_lsn() is not null,
       greatest(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                         pg_last_wal_replay_lsn()), 0), 0)::float8,
       extract(epoch from now() - pg_last_xact_replay_timestamp())::float8,
       pg_get_wal_replay_pause_state(),
       (select pid from pg_stat_wal_receiver) is not null
"""

PRIMARY = f"""
select r.application_name,
       extract(epoch from r.replay_lag)::float8,
       greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), 0)::float8,
       r.replay_lsn >= pg_current_wal_lsn()
  from pg_stat_replication r
 where r.state in ('streaming', 'catchup') and {_PHYSICAL_WALSENDER}
 order by r.application_name
"""

PUBLISHER = f"""
select s.slot_name, s.active, r.application_name,
       greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::float8,
       extract(epoch from r.replay_lag)::float8,
       s.confirmed_flush_lsn >= pg_current_wal_lsn()
  from pg_replication_slots s
  left join pg_stat_replication r on r.pid = s.active_pid
 where {_WATCHED_LOGICAL_SLOT}
 order by s.slot_name
"""


def _subscriber_sql(server_version: int) -> str:
    # One row per subscription: its apply worker (relid is null), not table-sync workers, and
    # from PostgreSQL 16 not the parallel apply helpers either.
    leader = " and leader_pid is null" if server_version >= 160000 else ""
    return f"""
select subname, pid is not null,
       received_lsn is not null and received_lsn = latest_end_lsn
         and last_msg_send_time = latest_end_time,
       greatest(extract(epoch from now() - last_msg_send_time), 0)::float8
  from pg_stat_subscription
 where relid is null{leader}
 order by subname
"""


async def _rows(conn: psycopg.AsyncConnection, query: str, params: Sequence[Any] | None = None):
    async with conn.cursor() as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def _worst(items: list[tuple[str, float | None, str]], what: str) -> Result:
    """``items`` are (name, value or None, why-not); the largest value, or an error."""
    if not items:
        raise ProbeError(f"no {what} to measure")
    missing = [f"{name}: {why}" for name, value, why in items if value is None]
    if missing:
        raise ProbeError("; ".join(missing))
    name, value, _ = max(items, key=lambda item: item[1])  # type: ignore[arg-type, return-value]
    return float(value), (f"{what} {name}",)  # type: ignore[arg-type]


def _pick(items: list[tuple[str, float | None, str]], standby: str | None, what: str) -> Result:
    if standby is not None:
        items = [item for item in items if item[0] == standby]
        if not items:
            raise ProbeError(f"{what} {standby!r} not found")
    return _worst(items, what)


async def replication_lag(conn: psycopg.AsyncConnection, measure: str,
                          standby: str | None) -> Result:
    (in_recovery, subscriber, walsenders, hidden, logical,
     idle_physical) = (await _rows(conn, DETECT))[0]
    if in_recovery:
        return await _standby_side(conn, measure)
    if standby is not None:
        # Named explicitly: whichever side knows that name answers.
        for side in (_subscriber_side, _primary_side, _publisher_side):
            try:
                return await side(conn, measure, standby)
            except _NotHere:
                continue
        raise ProbeError(f"no standby, subscription or slot named {standby!r} on this server")
    if subscriber:
        return await _subscriber_side(conn, measure, None)
    if hidden and not walsenders:
        raise ProbeError("cannot see pg_stat_replication details: grant pg_monitor to this role")
    if walsenders:
        return await _primary_side(conn, measure, None)
    if logical:
        return await _publisher_side(conn, measure, None)
    if idle_physical:
        raise ProbeError(f"no standby connected (physical slot {idle_physical} inactive)")
    raise ProbeError("no replication found from this side")


class _NotHere(ProbeError):
    """The named standby/subscription/slot is not on this side; try the next."""


async def _standby_side(conn: psycopg.AsyncConnection, measure: str) -> Result:
    """Bytes received but not replayed; seconds since the last replayed commit, but 0 once
    everything received is replayed: an idle, caught-up standby is not lagging."""
    for attempt in (1, 2):
        streaming, behind, since_commit, pause, receiver = (await _rows(conn, STANDBY))[0]
        if not streaming or not receiver:
            raise ProbeError("standby is not streaming from a primary (no WAL receiver running)")
        # "Received, not yet replayed" also happens for a millisecond on every commit; taken at
        # that instant, "now - last replayed commit" on a quiet standby would be the time since
        # the previous commit. Look once more before believing it (unless replay is paused).
        if behind == 0 or pause != "not paused" or attempt == 2:
            break
    paused = (f"replay {pause}",) if pause != "not paused" else ()
    if measure == "bytes":
        return behind, paused
    if behind == 0:
        return 0.0, paused
    if since_commit is None:
        raise ProbeError("standby is behind but has replayed no transaction yet")
    return max(0.0, since_commit), paused


async def _primary_side(conn: psycopg.AsyncConnection, measure: str,
                        standby: str | None) -> Result:
    rows = await _rows(conn, PRIMARY)
    if standby is not None and not any(r[0] == standby for r in rows):
        raise _NotHere(standby)
    items: list[tuple[str, float | None, str]] = []
    for name, replay_lag, behind, caught_up in rows:
        if measure == "bytes":
            items.append((name, behind, ""))
        elif replay_lag is not None:
            items.append((name, replay_lag, ""))
        else:
            # replay_lag goes NULL a little after a standby has caught up and WAL stops flowing.
            items.append((name, 0.0 if caught_up else None, "replay lag not measured yet"))
    return _pick(items, standby, "standby")


async def _subscriber_side(conn: psycopg.AsyncConnection, measure: str,
                           standby: str | None) -> Result:
    """Seconds: 0 when the newest message from the publisher was a keepalive (its send time is
    ``latest_end_time``), which the walsender sends once it has nothing more to send: the apply
    worker reads a message only after applying the one before, so everything sent is applied.
    Otherwise the newest message is data, still being applied or just applied: the lag is how
    long ago the publisher sent it, which grows while the apply worker is stuck (a lock, a slow
    disk) and stays at milliseconds while data streams and is applied.

    Limits, from this side: a publisher that is slow to *decode* its WAL is invisible here (its
    slot shows it), and the figure compares the publisher's clock with ours.

    Bytes are not knowable here (the subscriber never learns the publisher's current WAL
    position while it is behind); measure them on the publisher, from its slot."""
    rows = await _rows(conn, _subscriber_sql(conn.info.server_version))
    if standby is not None and not any(r[0] == standby for r in rows):
        raise _NotHere(standby)
    if measure == "bytes":
        raise ProbeError("bytes behind cannot be measured on a logical subscriber: "
                         "read them on the publisher (its replication slot)")
    items: list[tuple[str, float | None, str]] = []
    for name, running, caught_up, since_send in rows:
        if not running:
            items.append((name, None, "apply worker not running (subscription disabled or failing)"))
        elif caught_up:
            items.append((name, 0.0, ""))
        else:
            items.append((name, since_send, "nothing received from the publisher yet"))
    return _pick(items, standby, "subscription")


async def _publisher_side(conn: psycopg.AsyncConnection, measure: str,
                          standby: str | None) -> Result:
    """Bytes: WAL written but not confirmed by the subscriber (its slot's confirmed_flush_lsn).
    Seconds: the walsender's replay_lag. An inactive slot is an error for both: on a quiet
    publisher a dead subscriber would otherwise read 0 bytes behind."""
    rows = await _rows(conn, PUBLISHER)
    if standby is not None and not any(standby in (r[0], r[2]) for r in rows):
        raise _NotHere(standby)
    items: list[tuple[str, float | None, str]] = []
    for slot, active, app, behind, replay_lag, caught_up in rows:
        if standby is not None and standby not in (slot, app):
            continue  # matched by the walsender's application_name, reported by slot name
        if not active:
            items.append((slot, None, f"slot inactive (no subscriber connected, "
                                      f"{_size(behind)} of WAL retained)"))
        elif measure == "bytes":
            items.append((slot, behind, ""))
        elif replay_lag is not None:
            items.append((slot, replay_lag, ""))
        else:
            items.append((slot, 0.0 if caught_up else None, "replay lag not measured yet"))
    return _worst(items, "slot")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


# -- sql ------------------------------------------------------------------------------------


async def scalar(conn: psycopg.AsyncConnection, query: str) -> Result:
    """One row, one column, a number or a boolean.

    The query runs in a transaction that is always rolled back, on the extended protocol (one
    statement only): ``set transaction_read_only = off; insert ...`` can neither run nor leave
    a writable session behind.
    """
    async with conn.transaction(force_rollback=True), conn.cursor() as cur:
        # binary=True forces the extended protocol, which refuses several statements.
        await cur.execute(query, binary=True)
        if cur.description is None:
            raise ProbeError("query returned no result (it must be a SELECT)")
        if len(cur.description) != 1:
            raise ProbeError(f"query returned {len(cur.description)} columns, expected one")
        rows = await cur.fetchmany(2)
    if not rows:
        raise ProbeError("query returned no rows")
    if len(rows) > 1:
        raise ProbeError("query returned several rows, expected one")
    return _number(rows[0][0]), ()


def _number(value: Any) -> float | bool:
    if value is None:
        raise ProbeError("query returned NULL")
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number):
            raise ProbeError("query returned NaN")
        return number
    if isinstance(value, str):
        raise ProbeError("query returned text, not a number")
    if isinstance(value, timedelta):
        raise ProbeError("query returned an interval, not a number: use extract(epoch from ...)")
    raise ProbeError(f"query returned {type(value).__name__}, not a number")


# -- heartbeat ------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def table_name(name: str) -> sql.Composable:
    """``table`` or ``schema.table`` as a quoted identifier; anything else is refused."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENT.fullmatch(p) for p in parts):
        raise ProbeError(f"heartbeat table {name!r} is not a valid name: "
                         "use letters, digits and '_' (optionally schema.table)")
    return sql.Identifier(*parts)


def heartbeat_create(table: sql.Composable) -> sql.Composed:
    return sql.SQL("create table if not exists {} (id int primary key, ts timestamptz not null)"
                   ).format(table)


def heartbeat_write(table: sql.Composable) -> sql.Composed:
    # clock_timestamp(), not now(): the moment the row is written, as close to commit as we get.
    return sql.SQL("insert into {} (id, ts) values (1, clock_timestamp()) "
                   "on conflict (id) do update set ts = excluded.ts returning ts").format(table)


def heartbeat_read(table: sql.Composable) -> sql.Composed:
    return sql.SQL("select ts from {} where id = 1").format(table)


