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
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cockpit.text import clean

__all__ = ["ReconDbError", "describe_error", "open_readonly", "snapshot", "PINNED_SETTINGS"]

APPLICATION_NAME = "cutover-cockpit-recon"
LOCK_TIMEOUT_S = 5.0

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
_PASSWORDISH = re.compile(r"(password|passwd|pwd)\s*=\s*('[^']*'|\S+)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")


class ReconDbError(Exception):
    """A database step failed; the message is one line without DSN, password or data values."""


def _ms(seconds: float) -> int:
    return max(1, int(round(seconds * 1000)))


def _secrets_of(dsn: str | None) -> list[str]:
    if not dsn:
        return []
    secrets = [dsn]
    with contextlib.suppress(Exception):
        password = conninfo_to_dict(dsn).get("password")
        if password:
            secrets.append(str(password))
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
    text = _PASSWORDISH.sub(r"\1=***", text)
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return clean(text, 300, single_line=True)


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
        conn = await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=max(1, int(round(connect_timeout_s)))
        )
    except (psycopg.Error, OSError) as exc:
        raise ReconDbError(f"cannot connect: {describe_error(exc, dsn)}") from None
    try:
        async with conn.cursor() as cur:
            for name, value in settings.items():
                await cur.execute("SELECT set_config(%s, %s, false)", (name, value))
    except psycopg.Error as exc:
        await conn.close()
        raise ReconDbError(f"cannot prepare session: {describe_error(exc, dsn)}") from None
    return conn


@contextlib.asynccontextmanager
async def snapshot(conn: psycopg.AsyncConnection) -> AsyncIterator[psycopg.AsyncConnection]:
    """One REPEATABLE READ READ ONLY transaction; always ended (rolled back: nothing to keep).

    A rollback that fails means the connection is broken; it is closed so nobody reuses a
    session whose transaction state is unknown.
    """
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield conn
    finally:
        try:
            await conn.execute("ROLLBACK")
        except (psycopg.Error, OSError):
            await conn.close()
