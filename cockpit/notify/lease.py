"""One deliverer for a shared journal: several cockpits write it, only one tells the channel.

Every cockpit of a shared journal derives the same messages from the same entries into its own
outbox, so without a rule each would post each message: one ping per cockpit on the bridge.
The rule, in the journal's own database (the cockpits' database, never a clinical one):

- **The lease.** A cockpit delivers only while it holds a session-level advisory lock keyed by
  the journal table (``pg_try_advisory_lock``, on a connection of its own). The lock goes with
  the connection: a cockpit that quits, crashes or loses the database gives it up, and the next
  cockpit's turn takes it. Until then the others derive and wait; their messages stay pending.
- **The acknowledgements.** Each delivered key is inserted into ``<table>_notified`` (created by
  ``cockpit journal init``, inserts only). Before it sends, the holder asks the table which of
  its due keys are already acknowledged, and marks those sent without sending: a cockpit that
  takes the lease over never posts again what the previous holder delivered.

What can still repeat is what one cockpit alone can repeat: an acknowledgement lost between
the target's 2xx and its insert (a crash, the database gone at that instant), sent again with
the same idempotency key. An acknowledgement the holder could not insert is kept and inserted
once the database is back, before anything else is sent.

The holder's dead letters are its own (the header of the delivering cockpit counts them); a
retry or dismissal is a journal entry, so it can be made from any cockpit.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import psycopg

from cockpit.journal import table
from cockpit.journal.pgconn import JournalDbError, connect, describe

log = logging.getLogger(__name__)

# Advisory locks are (int4, int4): the first names the use, the second the journal table.
LOCK_CLASS = 0x636B7074  # "ckpt"
# How often a cockpit without the lease (or without the database) asks again, in real time.
RETRY_S = 3.0


class SharedDelivery:
    """The lease and the acknowledgements of a plan's shared journal (see the module)."""

    def __init__(self, plan: Any, *, retry_s: float = RETRY_S):
        self.plan = plan
        self.name = plan.cutover.shared_journal.table
        self.acks = table.qualified(table.notified_name(self.name))
        self.retry_s = retry_s
        self._conn: psycopg.Connection | None = None
        self._held = False
        self._next_try = 0.0
        self._unsaved: list[tuple[str, str]] = []  # delivered, not yet acknowledged in the table
        self.why: str | None = None  # why this cockpit does not deliver now, in one line

    # -- the lease ------------------------------------------------------------------------

    def held(self) -> bool:
        """Whether this cockpit delivers now; asks the database at most every ``retry_s``
        while it does not (a held lease costs nothing to ask about)."""
        if self._held and self._conn is not None and not self._conn.closed:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_s
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.plan, autocommit=True)
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                            (LOCK_CLASS, f"{self.plan.cutover.id}:{self.name}"))
                row = cur.fetchone()
            self._held = bool(row and row[0])
            self.why = None if self._held else "another cockpit delivers the notifications"
            if self._held:
                log.info("notify: this cockpit delivers the notifications (lease taken)")
                self._save_unsaved()
        except (JournalDbError, psycopg.Error) as exc:
            self._lost(exc)
        return self._held

    def _lost(self, exc: BaseException) -> None:
        why = str(exc) if isinstance(exc, JournalDbError) else describe(exc, self.plan)
        self.why = f"notifications wait for the shared journal's database: {why}"
        if self._held:
            log.warning("notify: lease lost: %s", why)
        self._held = False
        self.close_connection()

    # -- acknowledgements -----------------------------------------------------------------

    def acknowledged(self, keys: list[str]) -> set[str] | None:
        """Which of ``keys`` some cockpit already delivered; None if the table cannot be
        asked (then nothing is sent this turn: the lease is given up until it answers)."""
        if not keys:
            return set()
        if not self._save_unsaved():
            return None
        try:
            assert self._conn is not None
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT key FROM {self.acks} WHERE key = ANY(%s)", (keys,))
                return {str(r[0]) for r in cur.fetchall()}
        except (psycopg.Error, AssertionError) as exc:
            self._lost(exc)
            return None

    def acknowledge(self, key: str, target: str) -> None:
        """Record a delivery for every cockpit; kept and retried if the table is away."""
        self._unsaved.append((key, target))
        self._save_unsaved()

    def _save_unsaved(self) -> bool:
        if not self._unsaved:
            return True
        if self._conn is None or self._conn.closed:
            return False
        try:
            with self._conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.acks} (key, target) VALUES (%s, %s) "
                                "ON CONFLICT (key) DO NOTHING", self._unsaved)
            self._unsaved.clear()
            return True
        except psycopg.Error as exc:
            self._lost(exc)
            return False

    def close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()  # the lease goes with the connection

    def close(self) -> None:
        self._save_unsaved()
        self.close_connection()
