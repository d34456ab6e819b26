"""PostgreSQL source: read-only sessions toward clinical databases, and the three probes.

Sessions are autocommit with ``default_transaction_read_only``, ``statement_timeout``,
``lock_timeout`` and ``idle_in_transaction_session_timeout`` set at connect, so no transaction is
ever held between polls. At most ``max_concurrent`` connections per source, each running one
query at a time, reused between polls. After a connection failure the session is dropped and
reconnects with exponential backoff measured on the injected clock; while waiting, reads answer
at once with "reconnecting in Ns after: <reason>" instead of hammering a struggling server.

Network waits (client-side timeouts, heartbeat retries) are real seconds: a real server does
not answer faster because a rehearsal runs at 10x.

The heartbeat probe is the only write the cockpit ever makes: on its own session (not
read-only) to its own table on the source, only for signals that configure it. It reads the
row back on another postgres source, ``heartbeat.target``, which it finds in ``peers``:
whoever builds the clients (the engine) calls :func:`link_peers` once they all exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TypeVar

import psycopg
from psycopg.pq import TransactionStatus

from cockpit import dsn
from cockpit.clock import Clock
from cockpit.config.sources import Signal
from cockpit.signals import pg_probes
from cockpit.signals.base import SourceClient
from cockpit.signals.pg_probes import ProbeError
from cockpit.signals.reading import Reading
from cockpit.signals.wording import seconds, timed_out

T = TypeVar("T")
Op = Callable[[psycopg.AsyncConnection], Awaitable[T]]

# Share of the signal's timeout spent waiting for an answer; what is left covers cancelling the
# query on the server, so our own error arrives before the engine gives up on us.
ANSWER_SHARE = 0.8
CANCEL_SHARE = 0.15


# libpq's words when its own connect_timeout ends a connection attempt.
_LIBPQ_TIMEOUT = "timeout expired"

_QUOTED = re.compile(r""""[^"]*"|'[^']*'""")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate[:2] in ("22", "23"):
        # Data and constraint errors quote the offending value, which may be a patient's.
        line = _QUOTED.sub('"…"', line)
    return line


def link_peers(sources: Mapping[str, SourceClient]) -> None:
    """Let every postgres client find the others by source name (heartbeat targets)."""
    peers = {name: src for name, src in sources.items() if isinstance(src, PostgresSource)}
    for src in peers.values():
        src.peers = peers


class _Sessions:
    """Up to ``size`` connections to one server, one query each at a time, with backoff."""

    def __init__(self, conninfo: str, *, size: int, setup: str, clock: Clock,
                 connect_timeout: float, backoff_initial: float, backoff_max: float):
        self.conninfo = conninfo
        self.setup = setup
        self.clock = clock
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection] = []
        self._busy: set[psycopg.AsyncConnection] = set()
        self._orphans: set[asyncio.Future] = set()  # referenced until done (no GC mid-flight)
        self._abandoned: set[psycopg.AsyncConnection] = set()
        self.failures = 0
        self.retry_at: float | None = None  # clock.monotonic() when a reconnect may be tried
        self.last_failure = ""
        self.closed = False
        self.connects = 0  # how many connections were opened (tests and diagnostics)

    # -- backoff ------------------------------------------------------------------------------
    def waiting(self) -> str | None:
        if self.retry_at is None:
            return None
        remaining = self.retry_at - self.clock.monotonic()
        if remaining <= 0:
            return None
        return f"reconnecting in {max(1, math.ceil(remaining))}s after: {self.last_failure}"

    def _failed(self, reason: str) -> ProbeError:
        self.last_failure = reason
        if self.retry_at is not None and self.retry_at > self.clock.monotonic():
            # Reads that were already under way when the first one failed: one outage, one step.
            return ProbeError(reason)
        self.failures += 1
        delay = min(self.backoff_max, self.backoff_initial * 2 ** (self.failures - 1))
        self.retry_at = self.clock.monotonic() + delay
        return ProbeError(reason)

    # -- running a query ---------------------------------------------------------------------
    async def run(self, op: Op[T], timeout: float) -> T:
        """``op`` on a session within ``timeout`` real seconds; failures as ProbeError."""
        if self.closed:
            raise ProbeError("source closed")
        if (why := self.waiting()) is not None:
            raise ProbeError(why)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout * ANSWER_SHARE
        grace = timeout * CANCEL_SHARE
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout * ANSWER_SHARE)
        except TimeoutError:
            raise ProbeError(timed_out(timeout, "timeout", what="no free session",
                                       also="every max_concurrent session is busy")) from None
        try:
            if (why := self.waiting()) is not None:
                raise ProbeError(why)  # the read ahead of us in the queue just failed
            for attempt in (1, 2):
                conn, reused = await self._checkout(deadline, timeout)
                self._busy.add(conn)
                keep = False
                try:
                    result = await self._answer(conn, op, deadline, grace, timeout)
                    keep = True
                    return result
                except ProbeError:
                    keep = True
                    raise
                except psycopg.Error as exc:
                    if not (conn.closed or conn.broken):
                        keep = True
                        raise ProbeError(_one_line(exc)) from None
                    if reused and attempt == 1:
                        continue  # an idle session the server dropped: one fresh try, no error
                    raise self._failed(_one_line(exc)) from None
                finally:
                    self._busy.discard(conn)
                    self._checkin(conn, keep)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._slots.release()

    async def _checkout(self, deadline: float, timeout: float) -> tuple[psycopg.AsyncConnection, bool]:
        while self._idle:
            conn = self._idle.pop()
            if not (conn.closed or conn.broken):
                return conn, True
            await conn.close()
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        limit = min(remaining, self.connect_timeout)
        try:
            conn = await asyncio.wait_for(self._connect(), limit)
        except TimeoutError:
            raise self._failed(self._no_connect(limit, timeout)) from None
        except psycopg.Error as exc:
            # libpq's own connect_timeout (whole seconds, at least 2) may fire first: the same
            # event, said in the plan's words rather than libpq's.
            if _LIBPQ_TIMEOUT in str(exc):
                raise self._failed(self._no_connect(limit, timeout)) from None
            raise self._failed(_one_line(exc)) from None
        self.failures = 0
        self.retry_at = None
        self.connects += 1
        return conn, False

    def _no_connect(self, limit: float, timeout: float) -> str:
        """A connect that did not finish in time, said by the setting that bounded it: the
        source's ``connect_timeout``, or what was left of the signal's ``timeout``."""
        if limit >= self.connect_timeout:
            return timed_out(self.connect_timeout, "connect_timeout", what="could not connect")
        return timed_out(limit, "timeout", timeout, what="could not connect",
                         also=f"connect_timeout: {seconds(self.connect_timeout)}")

    async def _connect(self) -> psycopg.AsyncConnection:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            await conn.execute(self.setup)
        except BaseException:
            await conn.close()
            raise
        return conn

    def _checkin(self, conn: psycopg.AsyncConnection, keep: bool) -> None:
        healthy = (keep and not self.closed and not (conn.closed or conn.broken)
                   and conn.info.transaction_status == TransactionStatus.IDLE)
        if healthy:
            self._idle.append(conn)
        else:
            self._dispose(conn)

    def _dispose(self, conn: psycopg.AsyncConnection) -> None:
        if conn.closed or conn in self._abandoned:
            return  # an abandoned query task still owns it; _abandon closes it afterwards
        self._track(asyncio.ensure_future(conn.close()))

    def _track(self, fut: asyncio.Future) -> None:
        self._orphans.add(fut)
        fut.add_done_callback(self._orphans.discard)
        fut.add_done_callback(_swallow)

    def _abandon(self, task: asyncio.Future, conn: psycopg.AsyncConnection) -> None:
        """Stop waiting for ``task``; close its session once psycopg's own cleanup (cancel on
        the server, bounded wait) lets the task end."""
        self._abandoned.add(conn)
        task.cancel()
        self._track(task)

        def closed(_: asyncio.Future) -> None:
            self._abandoned.discard(conn)
            self._track(asyncio.ensure_future(conn.close()))

        task.add_done_callback(closed)

    async def _answer(self, conn: psycopg.AsyncConnection, op: Op[T], deadline: float,
                      grace: float, timeout: float) -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(op(conn))
        try:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            self._abandon(task, conn)  # psycopg cancels the query on the server itself
            raise
        if done:
            return task.result()
        # Ask the server to stop: the query then fails with QueryCanceled and the session stays
        # usable; the backend does not go on running a query nobody waits for.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.cancel_safe(timeout=grace), grace)
        done, _ = await asyncio.wait({task}, timeout=grace)
        if done:
            with contextlib.suppress(Exception):
                task.result()
            raise ProbeError(timed_out(timeout, "timeout", also="query cancelled"))
        # The server does not answer even a cancel: abandon the session (psycopg bounds the
        # abandoned task's own cleanup) and back off.
        self._abandon(task, conn)
        raise self._failed(timed_out(timeout, "timeout", also="the server did not answer a cancel"))

    async def close(self) -> None:
        self.closed = True
        conns, self._idle = self._idle, []
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.close()
        for conn in list(self._busy):
            with contextlib.suppress(Exception):
                await conn.cancel_safe(timeout=1.0)


def _swallow(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


class PostgresSource(SourceClient):
    """A postgres source; see the module docstring for sessions and pg_probes for probes."""

    def __init__(self, name: str, config, clock: Clock, redact: Callable[[str], str] = lambda s: s, *,
                 backoff_initial: float = 1.0, backoff_max: float = 30.0):
        self._dsn_secrets: tuple[str, ...] = ()
        self._dsn_problem: str | None = None
        try:
            params = dsn.parse(config.dsn)
        except dsn.DsnError as exc:
            params = {}
            self._dsn_problem = str(exc)
        self._dsn_secrets = dsn.secrets(params)
        outer = redact
        super().__init__(name, config, clock, lambda s: self._scrub(outer(s)))
        self.peers: Mapping[str, SourceClient] = {}
        self._params = params
        self._backoff = (backoff_initial, backoff_max)
        self._readers = self._sessions(read_only=True, size=config.max_concurrent)
        self._writer: _Sessions | None = None  # heartbeat only, opened on first use
        self._heartbeat_tables: set[str] = set()  # created (or found) on this source

    def _scrub(self, text: str) -> str:
        for secret in self._dsn_secrets:
            text = text.replace(secret, "***")
        return text

    def _sessions(self, *, read_only: bool, size: int) -> _Sessions:
        cfg = self.config
        app = cfg.application_name if read_only else f"{cfg.application_name}-heartbeat"
        conninfo = "" if self._dsn_problem else dsn.conninfo(
            self._params, application_name=app[:63],
            connect_timeout=max(2, math.ceil(cfg.connect_timeout)))
        statement_ms = max(1, round(cfg.statement_timeout * 1000))
        settings = {
            "statement_timeout": statement_ms,
            # A DDL waiting behind us queues clinical writes behind it; do not wait long.
            "lock_timeout": min(statement_ms, 2000),
            # Belt and braces: the server ends a session somehow left inside a transaction.
            "idle_in_transaction_session_timeout": statement_ms + 5000,
        }
        setup = "".join(f"set {k} = {v};" for k, v in settings.items())
        if read_only:
            setup = "set default_transaction_read_only = on;" + setup
        return _Sessions(conninfo, size=size, setup=setup, clock=self.clock,
                         connect_timeout=cfg.connect_timeout, backoff_initial=self._backoff[0],
                         backoff_max=self._backoff[1])

    async def _read(self, signal_name: str, signal: Signal) -> Reading:
        started = self.clock.monotonic()
        try:
            if self._dsn_problem:
                raise ProbeError(self._dsn_problem)
            value, detail = await self._probe(signal)
        except ProbeError as exc:
            return self.error(signal_name, str(exc), started)
        return self.value(signal_name, value, started, detail)

    async def _probe(self, signal: Signal) -> pg_probes.Result:
        if signal.probe == "sql":
            if not signal.query:
                raise ProbeError("probe 'sql' needs a query")
            query = signal.query
            return await self.query(lambda c: pg_probes.scalar(c, query), signal.timeout)
        if signal.probe == "replication_lag":
            measure = signal.measure or "seconds"
            if measure not in ("seconds", "bytes"):
                raise ProbeError(f"replication_lag measures seconds or bytes, not {measure}")
            return await self.query(
                lambda c: pg_probes.replication_lag(c, measure, signal.standby), signal.timeout)
        if signal.probe == "heartbeat":
            return await self._heartbeat(signal)
        raise ProbeError(f"a postgres signal needs a probe (replication_lag, heartbeat or sql), "
                         f"not {signal.probe!r}")

    async def query(self, op: Op[T], timeout: float) -> T:
        """Run ``op`` on one of this source's read-only sessions (also used by heartbeat peers)."""
        return await self._readers.run(op, timeout)

    # -- heartbeat ----------------------------------------------------------------------------
    async def _heartbeat(self, signal: Signal) -> pg_probes.Result:
        """End-to-end lag: write now() here, see how long until ``target`` shows it.

        Every figure is a difference of two source timestamps or a local elapsed time, so clock
        skew between the hosts does not enter. Seen within the timeout: the elapsed time from
        our write until the first read that showed it (an upper bound, to the retry interval).
        Not seen: (our write - the newest heartbeat the target shows) + time waited, which is
        an upper bound too; stale is not green, so the pessimistic figure is the right one.
        """
        hb = signal.heartbeat
        if hb is None:
            raise ProbeError("probe 'heartbeat' needs 'heartbeat: {target: SOURCE}'")
        if (signal.measure or "seconds") != "seconds":
            raise ProbeError("a heartbeat measures seconds")
        target = self.peers.get(hb.target)
        if not isinstance(target, PostgresSource):
            raise ProbeError(f"heartbeat target {hb.target!r} is not a known postgres source")
        table = pg_probes.table_name(hb.table)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + signal.timeout * ANSWER_SHARE
        written = await self._write_heartbeat(hb.table, table, signal.timeout)
        wrote_at = loop.time()
        read = pg_probes.heartbeat_read(table)

        missing = f"heartbeat table {hb.table!r} not on target {hb.target!r} (is it replicated?)"

        async def seen(conn: psycopg.AsyncConnection) -> datetime | str | None:
            async with conn.cursor() as cur:
                try:
                    await cur.execute(read)
                except psycopg.errors.UndefinedTable:
                    return missing  # right after the first write it may still be on its way
                row = await cur.fetchone()
            return row[0] if row else None

        pause = 0.01
        while True:
            remaining = deadline - loop.time()
            ts = await target.query(seen, max(remaining, 0.1) / ANSWER_SHARE)
            waited = loop.time() - wrote_at
            if isinstance(ts, datetime) and ts >= written:
                return max(0.0, waited), ()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.25)
        if isinstance(ts, str):
            raise ProbeError(ts)
        if ts is None:
            raise ProbeError(f"no heartbeat row on target {hb.target!r} yet")
        behind = (written - ts).total_seconds() + waited
        return behind, (f"this write not visible on {hb.target} after {waited:.1f}s",)

    async def _write_heartbeat(self, name: str, table, timeout: float) -> datetime:
        if self._writer is None:
            self._writer = self._sessions(read_only=False, size=1)
        create = name not in self._heartbeat_tables

        async def write(conn: psycopg.AsyncConnection) -> datetime:
            async with conn.cursor() as cur:
                if create:
                    await cur.execute(pg_probes.heartbeat_create(table))
                try:
                    await cur.execute(pg_probes.heartbeat_write(table))
                except psycopg.errors.UndefinedTable:
                    self._heartbeat_tables.discard(name)  # dropped behind our back: recreate
                    raise ProbeError(f"heartbeat table {name!r} disappeared; recreating it "
                                     "on the next poll") from None
                row = await cur.fetchone()
            assert row is not None
            return row[0]

        written = await self._writer.run(write, timeout)
        self._heartbeat_tables.add(name)
        return written

    async def close(self) -> None:
        await self._readers.close()
        if self._writer is not None:
            await self._writer.close()
