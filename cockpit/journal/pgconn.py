"""Connections to the shared journal's database: the one way they are opened, and their errors.

The journal's session is the cockpit's one writing session toward PostgreSQL that the plan
asks for (``cutover.shared_journal``): it only ever inserts into and reads the journal table.
So that it can never stall the database it lives in, it has a short ``lock_timeout`` and
``statement_timeout``, an ``idle_in_transaction_session_timeout``, and ``synchronous_commit``
forced on (an entry is acknowledged only once the server has flushed its commit).

Connections are made from the DSN parsed by :mod:`cockpit.dsn` (libpq never gets to quote
it), and every error is told in one line that names the source, never the DSN, a password,
or any value the server quotes.
"""

from __future__ import annotations

from typing import Any

import psycopg

from cockpit import dsn as dsn_rules
from cockpit.text import clean

APPLICATION_NAME = "cutover-cockpit-journal"
LOCK_TIMEOUT_S = 2.0
STATEMENT_TIMEOUT_S = 10.0
IDLE_IN_TRANSACTION_S = 30.0


class JournalDbError(Exception):
    """The shared journal's database cannot be used; ``str(exc)`` is one line."""


def source_of(plan: Any):
    """(source name, postgres source model) of the plan's ``cutover.shared_journal``."""
    shared = plan.cutover.shared_journal
    if shared is None:
        raise JournalDbError("the plan has no cutover.shared_journal")
    return shared.source, plan.sources[shared.source]


def conninfo(plan: Any) -> str:
    """The connection string of the plan's shared journal source, with the journal's settings."""
    name, source = source_of(plan)
    try:
        params = dsn_rules.parse(source.dsn)
    except dsn_rules.DsnError as exc:
        raise JournalDbError(f"shared journal source '{name}': {exc}") from None
    options = (f"-c lock_timeout={int(LOCK_TIMEOUT_S * 1000)} "
               f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)} "
               f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_S * 1000)} "
               "-c synchronous_commit=on -c default_transaction_read_only=off "
               "-c client_encoding=UTF8")
    return dsn_rules.conninfo(params, application_name=APPLICATION_NAME,
                              connect_timeout=max(1, round(source.connect_timeout)),
                              options=options)


def connect(plan: Any, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection to the shared journal's database; raises :class:`JournalDbError`."""
    name, _ = source_of(plan)
    try:
        return psycopg.connect(conninfo(plan), autocommit=autocommit)
    except psycopg.Error as exc:
        raise JournalDbError(f"shared journal source '{name}' is unreachable: "
                             f"{describe(exc, plan)}") from None


def describe(exc: BaseException, plan: Any = None) -> str:
    """One line about a database error: its condition, never the server's quoted values or
    anything that came from the environment (the plan redacts those)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.OperationalError) and not sqlstate:
        text = "connection failed or lost"
        first = str(exc).strip().splitlines()[-1:] if str(exc).strip() else []
        if first and ("refused" in first[0] or "timeout" in first[0] or "closed" in first[0]):
            text = "connection refused, timed out or closed"
    else:
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        # The journal's own triggers say what they refused; other classes may quote values.
        text = primary if primary and primary.startswith("cockpit journal:") else (
            f"{type(exc).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else ""))
    if plan is not None:
        text = plan.redact(text)
    return clean(text, 200, single_line=True)
