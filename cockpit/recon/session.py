"""Read-only database sessions for reconciliation, and errors that are safe to show.

Every session toward a clinical database is opened here, so the safety rules live in one place:
read-only by default, a ``statement_timeout``, a short ``lock_timeout`` (a plain ``SELECT``
never needs to wait long for a lock; waiting behind a migration's DDL would stall the cutover),
and an ``idle_in_transaction_session_timeout`` so a crashed cockpit never pins a snapshot.

The settings that decide a value's text form are pinned too (``TimeZone``, ``DateStyle``,
``IntervalStyle``, ``extra_float_digits``, ``bytea_output``): the content layer compares text
forms computed on two different servers, and a server default of ``TimeZone=Europe/Berlin`` on
one side would otherwise make every timestamp differ.

The connection runs in autocommit; ``snapshot`` opens the one explicit transaction a table's
queries share and always ends it.

Plan text (custom check SQL, ``where`` filters) reaches these sessions spliced into our own
statements, so every recon statement goes through :func:`fetch`, which holds the rules that
make such text harmless:

- the extended query protocol (one statement: ``...; COMMIT; SET default_transaction_read_only
  = off; UPDATE ...`` is refused by the server before anything runs);
- only inside a ``snapshot`` (a READ ONLY transaction, always rolled back), so a write is
  refused and anything the text changes in the session (``set_config``) is undone;
  ``transaction_read_only`` cannot be turned off once the transaction has run a query;
- a client-side deadline of the session's ``statement_timeout`` (plus a little), so text that
  sets ``statement_timeout`` to 0 for the statements after it still cannot run long;
- after every snapshot, session advisory locks are released (``pg_advisory_lock`` is the one
  lock that outlives a rollback) and the safety settings are read back; a session that does not
  match is closed, never reused.

What this cannot stop is a function the database role may call that acts outside the
transaction (``dblink``, ``pg_terminate_backend``, server file writes): give the cockpit a role
that holds no such privileges (``pg_read_all_data`` and nothing else).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from cockpit import dsn as dsn_rules
from cockpit.redact import redact
from cockpit.text import clean

__all__ = [
    "ReconDbError", "describe_error", "fetch", "fetch_described", "open_readonly", "snapshot",
    "stream", "PINNED_SETTINGS", "Query",
]

# What psycopg runs: a statement built with psycopg.sql (never a string formatted by hand), or
# one of our own constant strings.
Query = sql.SQL | sql.Composed | str

APPLICATION_NAME = "cutover-cockpit-recon"
LOCK_TIMEOUT_S = 5.0
# The client gives the server this long past statement_timeout to cancel a query itself.
CLIENT_GRACE_S = 2.0

# Settings that change how a row renders as text; identical on both sides by construction.
PINNED_SETTINGS: dict[str, str] = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
}

# SQLSTATE classes whose messages may quote data values (22 data exception, 23 integrity
# violation): only the condition name is shown for them, never the server's message.
_VALUE_BEARING_CLASSES = ("22", "23")


class ReconDbError(Exception):
    """A database step failed; the message is one line without DSN, password or data values."""


# What ``open_readonly`` set on each session: the deadline and the settings read back after
# every snapshot.
_GUARDS: weakref.WeakKeyDictionary[psycopg.AsyncConnection, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)
_CHECKED = ("default_transaction_read_only", "statement_timeout", "lock_timeout",
            "idle_in_transaction_session_timeout")


_CURSOR_NAMES = itertools.count(1)


def _ms(seconds: float) -> int:
    return max(1, int(round(seconds * 1000)))


def _secrets_of(dsn: str | None) -> list[str]:
    if not dsn:
        return []
    secrets = [dsn]
    with contextlib.suppress(dsn_rules.DsnError):
        secrets.extend(dsn_rules.secrets(dsn_rules.parse(dsn)))
    return secrets


def describe_error(exc: BaseException, dsn: str | None = None) -> str:
    """One redacted line describing a psycopg (or other) error.

    Server messages in the data-exception and integrity classes are dropped, since they can
    quote the offending value ("invalid input syntax for type date: ..."); connection errors
    keep host and port (useful on call) but lose the DSN and any password.
    """
    if isinstance(exc, TimeoutError):
        return "timed out"
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    name = type(exc).__name__
    if sqlstate and sqlstate[:2] in _VALUE_BEARING_CLASSES:
        text = f"{name} (SQLSTATE {sqlstate})"
    elif sqlstate:
        text = f"{primary or name} (SQLSTATE {sqlstate})"
    else:
        text = str(exc) or name
    for secret in _secrets_of(dsn):
        text = text.replace(secret, "***")
    return clean(redact(text), 300, single_line=True)


def is_statement_timeout(exc: BaseException) -> bool:
    diag = getattr(exc, "diag", None)
    primary = (getattr(diag, "message_primary", None) or "") if diag is not None else ""
    return isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in primary


async def open_readonly(
    dsn: str,
    *,
    statement_timeout_s: float,
    connect_timeout_s: float = 10,
    application_name: str = APPLICATION_NAME,
) -> psycopg.AsyncConnection:
    """A read-only autocommit session with timeouts and pinned text-form settings.

    Raises ``ReconDbError`` (one redacted line) when the server cannot be reached or refuses.
    The settings are applied with ``set_config`` after connecting rather than as startup
    ``options``, because connection poolers in front of clinical databases often reject those.
    """
    settings = dict(PINNED_SETTINGS)
    settings.update(
        {
            "default_transaction_read_only": "on",
            "statement_timeout": str(_ms(statement_timeout_s)),
            "lock_timeout": str(_ms(min(LOCK_TIMEOUT_S, statement_timeout_s))),
            # Longer than any gap between a table's queries, short enough to free a snapshot
            # a crashed client left behind.
            "idle_in_transaction_session_timeout": str(_ms(max(60.0, statement_timeout_s))),
            "application_name": clean(application_name, 60, single_line=True),
        }
    )
    try:
        # Parsed by us, so that libpq never describes (and so quotes) the DSN.
        params = dsn_rules.parse(dsn)
    except dsn_rules.DsnError as exc:
        raise ReconDbError(f"cannot connect: {exc}") from None
    try:
        conn = await psycopg.AsyncConnection.connect(
            dsn_rules.conninfo(params), autocommit=True,
            connect_timeout=max(1, int(round(connect_timeout_s))))
    except (psycopg.Error, OSError) as exc:
        raise ReconDbError(f"cannot connect: {describe_error(exc, dsn)}") from None
    try:
        async with conn.cursor() as cur:
            # One statement (bound parameters: the extended protocol) for all of them.
            await cur.execute(
                "SELECT " + ", ".join("pg_catalog.set_config(%s, %s, false)" for _ in settings),
                [x for pair in settings.items() for x in pair])
        async with conn.cursor() as cur:
            await cur.execute(
                sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                    sql.SQL("pg_catalog.current_setting({})").format(sql.Literal(n))
                    for n in _CHECKED)))
            expected = dict(zip(_CHECKED, await cur.fetchone() or (), strict=True))
    except psycopg.Error as exc:
        await conn.close()
        raise ReconDbError(f"cannot prepare session: {describe_error(exc, dsn)}") from None
    _GUARDS[conn] = {"deadline_s": statement_timeout_s + CLIENT_GRACE_S, "settings": expected}
    return conn


async def fetch(
    conn: psycopg.AsyncConnection, query: Query, params: Sequence[Any] | None = None
) -> list[tuple]:
    """Every row of one statement, run by the rules in the module docstring."""
    return (await fetch_described(conn, query, params))[1]


async def fetch_described(
    conn: psycopg.AsyncConnection, query: Query, params: Sequence[Any] | None = None
) -> tuple[tuple[str, ...], list[tuple]]:
    """``(column names, rows)`` of one statement (see :func:`fetch`). Results come in binary
    (which is what forces the extended protocol): cast to text in SQL what must be text."""
    guard = _guard(conn)
    async with asyncio.timeout(guard["deadline_s"]), conn.cursor(binary=True) as cur:
        await cur.execute(query, params)
        names = tuple(d.name for d in cur.description or ())
        rows = await cur.fetchall() if cur.description is not None else []
    return names, rows


def _guard(conn: psycopg.AsyncConnection) -> dict[str, Any]:
    if conn.info.transaction_status != TransactionStatus.INTRANS:
        # Outside the read-only snapshot a set_config() would stay in force: never.
        raise ReconDbError("internal error: a reconciliation query outside its read-only snapshot")
    guard = _GUARDS.get(conn)
    if guard is None:
        raise ReconDbError("internal error: a session not opened by open_readonly")
    return guard


class Stream:
    """The rows of one statement, a batch at a time, through a server-side cursor (``DECLARE``
    goes on the extended protocol too), with the next batch fetched while the caller works on
    this one. Each ``FETCH`` has the client deadline. Use through :func:`stream`."""

    def __init__(self, conn: psycopg.AsyncConnection, size: int) -> None:
        self.conn = conn
        self.size = size
        self.deadline_s = _guard(conn)["deadline_s"]
        self.cursor = conn.cursor(name=f"cockpit_recon_{next(_CURSOR_NAMES)}", binary=True)
        self._next: asyncio.Task | None = None
        self.done = False

    async def _fetch(self) -> list[tuple]:
        async with asyncio.timeout(self.deadline_s):
            return await self.cursor.fetchmany(self.size)

    async def start(self, query: Query) -> None:
        async with asyncio.timeout(self.deadline_s):
            await self.cursor.execute(query)
        self._next = asyncio.ensure_future(self._fetch())

    async def batch(self) -> list[tuple]:
        """The next rows, or [] once there are no more."""
        if self.done or self._next is None:
            return []
        rows = await self._next
        self._next = None
        if len(rows) < self.size:
            self.done = True
        else:
            self._next = asyncio.ensure_future(self._fetch())
        return rows

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            with contextlib.suppress(BaseException):
                await self._next
        # The snapshot's ROLLBACK closes the portal in any case; close it now when we can.
        if not self.conn.closed and self.conn.info.transaction_status == TransactionStatus.INTRANS:
            with contextlib.suppress(psycopg.Error, OSError):
                await self.cursor.close()


class Counted:
    """A :class:`Stream` whose rows are added to ``result.rows_transferred`` (what a layer
    reports it brought over from the databases)."""

    def __init__(self, inner, result) -> None:
        self.inner, self.result = inner, result

    async def batch(self) -> list[tuple]:
        rows = await self.inner.batch()
        self.result.rows_transferred += len(rows)
        return rows


@contextlib.asynccontextmanager
async def stream(conn: psycopg.AsyncConnection, query: Query,
                 size: int = 20_000) -> AsyncIterator[Stream]:
    """:class:`Stream` of ``query``'s rows, by the rules of :func:`fetch`."""
    reader = Stream(conn, size)
    try:
        await reader.start(query)
        yield reader
    finally:
        await reader.close()


@contextlib.asynccontextmanager
async def snapshot(conn: psycopg.AsyncConnection) -> AsyncIterator[psycopg.AsyncConnection]:
    """One REPEATABLE READ READ ONLY transaction; always ended (rolled back: nothing to keep).

    A rollback that fails means the connection is broken, and a session whose settings no
    longer match is not trusted: either is closed, so nobody reuses it.
    """
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield conn
    finally:
        try:
            await conn.execute("ROLLBACK")
            await _still_safe(conn)
        except asyncio.CancelledError:
            await conn.close()
            raise
        except (psycopg.Error, OSError, ReconDbError):
            await conn.close()


async def _still_safe(conn: psycopg.AsyncConnection) -> None:
    """Release session advisory locks and read the safety settings back; ReconDbError if they
    are not what ``open_readonly`` set (the caller closes the session)."""
    guard = _GUARDS.get(conn)
    query = sql.SQL("SELECT pg_catalog.pg_advisory_unlock_all(), {}").format(
        sql.SQL(", ").join(
            sql.SQL("pg_catalog.current_setting({})").format(sql.Literal(n)) for n in _CHECKED))
    async with conn.cursor(binary=True) as cur:
        await cur.execute(query)
        row = await cur.fetchone()
    if guard is not None and dict(zip(_CHECKED, (row or ())[1:], strict=True)) != guard["settings"]:
        raise ReconDbError("session settings changed; session closed")
