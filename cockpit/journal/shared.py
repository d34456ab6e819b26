"""The shared journal: a table in PostgreSQL is the journal of record, a file its local copy.

Every cockpit on a plan with ``cutover.shared_journal`` writes and follows the one table
(:mod:`cockpit.journal.table`), and keeps what it received in a file journal of its own (the
local copy, :func:`local_copy_path`), so it opens fast and the table's head has a witness.

- The commit point is the database's COMMIT: an entry is recorded once the row is committed
  (``synchronous_commit`` on), then written to the local copy (one write, one fsync) and
  shown. Entries are built by the file journal's own rules (``Journal.build_batch``: secrets
  refused, depth, size, clock warning, read-back), so a row is exactly a local-copy line.
- The database keeps the chain; the loser of a race (23505, or the chain trigger's CJ001) has
  recorded nothing: it rolls back, reads what the others wrote and raises
  :class:`JournalConflict`, so ``Operations`` checks the action again against the new state.
- A COMMIT that fails is ambiguous: the action may or may not be recorded. The cockpit says
  so, and what the table holds is what it shows once reconnected.
- While the database cannot be reached the journal is read-only (``link()`` says since when):
  actions are refused, never queued. A follower thread LISTENs on the table's channel (the
  notification carries only a seq; entries are read from the table), polls every few seconds
  as a safety net, and reconnects with exponential backoff and jitter; after reconnecting it
  checks the witness and catches up before the journal is writable again.
- The witness: at open and at every reconnect, the table's hash at the local head's seq must
  be the local head's hash. A table shorter than the local copy, or a different hash, is
  damage (one line); the journal stays read-only and nothing is repaired.
- Local mode (:mod:`cockpit.journal.local`): while disconnected, ``go_local`` lets this
  cockpit journal to ``<local copy>.local.jsonl``; appends go there (fsynced) and
  ``local_entries`` holds them for ``Operations`` to replay on top of the shared state. Once
  reconnected, the follower merges them in one transaction (``local.merge``, each entry again
  flagged ``data.local``, ``local.end``) with the conflict rule ``Operations`` registered
  (``set_merge_rule``). An append that comes first merges under the same lock, then raises
  ``JournalConflict`` so the action is checked again against the merged state. A local
  journal left by a cockpit that quit is resumed at open, and merged once connected.
- Rows read from the table are untrusted: each must be one canonical entry line continuing
  the chain, by the one reader rule (:func:`cockpit.journal.lines.parse`); the first bad row
  is damage, reported in one line, and nothing after it is taken.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import select
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from psycopg import sql as pgsql

from cockpit.journal import lines, quarantine, table
from cockpit.journal.entry import Actor, Entry, head_of
from cockpit.journal.errors import (
    JournalConflict,
    JournalCorrupt,
    JournalError,
    JournalReadOnly,
    JournalWriteFailed,
)
from cockpit.journal.file import Journal
from cockpit.journal.local import LocalJournal
from cockpit.journal.pgconn import JournalDbError, connect, describe
from cockpit.journal.quarantine import QUARANTINE_ACK, Quarantine
from cockpit.text import clean

log = logging.getLogger(__name__)

POLL_S = 3.0  # the safety net under LISTEN: a notification lost with a connection is not waited for
BACKOFF_START_S = 0.2
BACKOFF_CAP_S = 5.0
JOIN_S = 20.0  # a connect or a statement in progress ends within its own timeouts
RACE_SQLSTATES = frozenset({"23505", table.CHAIN_SQLSTATE})
MERGE_RETRIES = 20  # races lost while merging a local journal, before the next loop tries again

# Why each entry of a local journal no longer applies to the shared state (None: it applies):
# ``rule(shared_entries, local_entries)``, registered by Operations (the runbook's rules).
MergeRule = Callable[[Sequence[Entry], list[Entry]], list[str | None]]


class _Down(Exception):
    """Internal: the database could not be used; ``str`` is one line."""


def local_copy_path(plan: Any, os_user: str) -> Path:
    """Where this OS user's cockpits keep the local copy of the plan's journal:
    ``cutover.journal`` with the user inserted before the suffix (``journal/ehr.jsonl`` ->
    ``journal/ehr.<os_user>.jsonl``), so two people on one host never share a lock. A plan
    without ``shared_journal`` journals to ``cutover.journal`` itself."""
    path = Path(plan.journal_path)
    if plan.cutover.shared_journal is None:
        return path
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", os_user).strip(".") or "_"
    return path.with_name(f"{path.stem}.{user}{path.suffix}")


def open_plan_journal(plan: Any, path: str | os.PathLike, *, readonly: bool = False,
                      clock: Any = None, holder: Actor | None = None) -> Journal | SharedJournal:
    """The journal a plan names: a file :class:`Journal` at ``path``, or, with
    ``cutover.shared_journal``, a :class:`SharedJournal` whose local copy is ``path``.
    Raises what ``Journal.open`` raises (for the local copy); an unreachable database never
    raises: the shared journal opens read-only from its local copy and keeps reconnecting."""
    if plan.cutover.shared_journal is None:
        return Journal.open(path, cutover_id=plan.cutover.id, readonly=readonly, clock=clock,
                            holder=holder)
    return SharedJournal.open(plan, path, readonly=readonly, clock=clock, holder=holder)


class SharedJournal:
    """The journal of record in a PostgreSQL table, with the file journal's surface.
    Build it with :meth:`open`; ``readonly=True`` follows the table without inserting."""

    shared = True

    def __init__(self, plan: Any, local: Journal, clock: Any, *, follow_only: bool):
        # One lock for the entries, the local copy and the connections' use: an append (build,
        # INSERT, COMMIT, local copy) and a catch-up never interleave.
        self._lock = threading.RLock()
        self._plan = plan
        self._table = plan.cutover.shared_journal.table
        self._local = local
        self._clock = clock
        self._follow_only = follow_only
        self.path = local.path
        self.cutover_id = local.cutover_id
        self.entries = local.entries.copy()
        self.damage: lines.Damage | None = None
        self._damage_reason: str | None = None
        self.quarantined = local.quarantined
        self.warnings: list[str] = list(local.warnings)
        self._fixed_reason: str | None = None
        if follow_only:
            self._fixed_reason = "opened read-only (following the shared journal)"
        elif local.readonly:
            self._fixed_reason = local.readonly_reason or "the local copy is read-only"
        if local.damage is not None:
            self._mark_damaged(local.damage, f"the local copy {local.path}")
        self._read: psycopg.Connection | None = None  # reads, and inserts unless following only
        self._listen: psycopg.Connection | None = None  # LISTEN only, so no notification is eaten
        self._down_since: float | None = None
        self._down_why = ""
        self._tries = 0
        self._broken = False  # an appender's connection failed: the follower reconnects
        self._closed = False
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread: threading.Thread | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._refreshed = len(self.entries)
        self._unnotified: list[Entry] = []
        self._holder: Actor | None = None
        self._localmode: LocalJournal | None = None
        self._local_problem: str | None = None  # a local journal that may not be merged
        self._merge_rule: MergeRule | None = None
        self.merged: list[Path] = []  # local journals this process merged (kept as .merged-<seq>)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, plan: Any, path: str | os.PathLike, *, readonly: bool = False, clock: Any = None,
             holder: Actor | None = None) -> SharedJournal:
        """Open the local copy (a writer takes its lock; raises what ``Journal.open`` raises),
        connect, check the witness, catch up, and follow. When the database cannot be reached
        it opens read-only from the local copy and keeps trying."""
        local = Journal.open(path, cutover_id=plan.cutover.id, readonly=readonly, clock=clock,
                             holder=holder)
        j = cls(plan, local, clock, follow_only=readonly)
        j._holder = holder
        try:
            j._resume_local()
            j._start()
        except BaseException:
            j.close()
            raise
        return j

    def _resume_local(self) -> None:
        """A local journal left beside the local copy (a cockpit quit or was killed in local
        mode): resumed, and merged once connected. A watcher only reports it."""
        if self._follow_only or self.damage is not None:
            return
        try:
            lm = LocalJournal.resume(self.path, cutover_id=self.cutover_id, clock=self._clock,
                                     holder=self._holder)
        except JournalError as exc:
            self._local_problem = clean(f"the local-mode journal cannot be opened: {exc}; it is "
                                        "NOT merged and is kept as it is", 300, single_line=True)
            return
        if lm is None:
            return
        if lm.problem is not None:
            self._local_problem = lm.problem
            lm.close()
            return
        self._localmode = lm

    def _start(self) -> None:
        if self.damage is not None:  # a damaged local copy witnesses nothing
            self.warnings.append(self.readonly_reason or "")
            return
        try:
            self._connect()
        except _Down as exc:
            self._went_down(str(exc))
            self._tries = 1
        if self.damage is not None:
            self.warnings.append(self.readonly_reason or "")
            self._drop_connections()
            return
        self._thread = threading.Thread(target=self._follow, daemon=True,
                                        name=f"shared-journal {self.cutover_id}")
        self._thread.start()

    def _connect(self) -> list[Entry]:
        """Connect both connections, LISTEN, check the witness and catch up; the entries read."""
        made: list[psycopg.Connection] = []
        try:
            listen = connect(self._plan, autocommit=True)
            made.append(listen)
            listen.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(table.channel(self._table))))
            reader = connect(self._plan, autocommit=self._follow_only)
            made.append(reader)
        except JournalDbError as exc:
            _close_all(made)
            raise _Down(str(exc)) from None
        except psycopg.Error as exc:
            _close_all(made)
            raise _Down(self._describe(exc)) from None
        with self._lock:
            self._drop_connections()
            self._listen, self._read = listen, reader
            try:
                self._witness(reader)
                new = self._catch_up(reader) if self.damage is None else []
            except psycopg.Error as exc:
                self._drop_connections()
                raise _Down(self._describe(exc)) from None
            if self.damage is not None:
                self._drop_connections()
                return new
            self._down_since = None
            self._tries = 0
            self._broken = False
            return new

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        return head_of(self.entries)

    @property
    def readonly(self) -> bool:
        if self._closed or self.damage is not None or self._fixed_reason is not None:
            return True
        if self._local_problem is not None:
            return True
        if self._localmode is None:
            return self._down_since is not None
        # Local mode: writable locally while disconnected; once connected, an append merges
        # the local journal first (so writable as soon as the merge rule is known).
        return self._down_since is None and self._merge_rule is None

    @property
    def readonly_reason(self) -> str | None:
        if self.damage is not None:
            return self._damage_reason
        if self._closed:
            return "journal is closed"
        if self._fixed_reason is not None:
            return self._fixed_reason
        if self._local_problem is not None:
            return self._local_problem
        if self._localmode is not None:
            return self.link() if self.readonly else None
        return self.link()

    def link(self) -> str | None:
        """None while connected; else one line for the header saying since when it is not
        (or that this cockpit works in local mode, or that a local journal is being merged)."""
        since = self._down_since
        if self.damage is not None or self._closed:
            return None
        if self._local_problem is not None:
            return f"LOCAL MODE journal NOT merged: {self._local_problem}"
        lm = self._localmode
        if lm is not None:
            start = lm.start_entry
            n = len(lm.actions)
            who = clean(start.actor.operator, 40, single_line=True)
            code = clean(start.reason_code or "", 40, single_line=True)
            count = f"{n} entr{'y' if n == 1 else 'ies'}"
            if since is None:
                return f"LOCAL MODE ending: merging {count} made locally into the shared journal"
            resumed = " (resumed from its file)" if lm.resumed else ""
            return (f"LOCAL MODE since {start.ts[11:16]}Z{resumed}, {who}: {code}; {count} "
                    "journalled locally, merged into the shared journal when it is back")
        if since is None:
            return None
        at = datetime.fromtimestamp(since, UTC).strftime("%H:%MZ")
        why = f" ({self._down_why})" if self._down_why else ""
        return (f"shared journal DISCONNECTED since {at}{why}, reconnecting "
                f"(try {max(self._tries, 1)}): actions are refused")

    # -- local mode ------------------------------------------------------------------------

    @property
    def local_mode(self) -> LocalJournal | None:
        """This cockpit's local journal while in local mode (until its merge is committed)."""
        return self._localmode

    @property
    def local_entries(self) -> Sequence[Entry]:
        """The entries of the local journal (``local.start`` first), to replay on top of
        ``entries``; empty when not in local mode. Never waits for a lock."""
        lm = self._localmode
        return lm.journal.entries if lm is not None else []

    def can_go_local(self) -> str | None:
        """Why this cockpit cannot switch to local mode now, or None."""
        if self._localmode is not None:
            return f"already in local mode since {self._localmode.start_entry.ts[11:16]}Z"
        if self._local_problem is not None:
            return self._local_problem
        if self._closed or self.damage is not None or self._fixed_reason is not None:
            return f"the journal is read-only: {self.readonly_reason}"
        if self._down_since is None:
            return ("the shared journal is connected: local mode is only for while it cannot "
                    "be reached")
        if self._local.head != self.head:
            return "the local copy is behind the shared journal; restart the cockpit"
        return None

    def go_local(self, actor: Actor, reason_code: str | None, note: str | None) -> Entry:
        """Start local mode: ``local.start`` fsynced in ``<local copy>.local.jsonl``; from now
        on appends go there until the merge. Raises ``JournalError`` (one line) when not now."""
        with self._lock:
            why = self.can_go_local()
            if why:
                raise JournalReadOnly(f"cannot work locally: {why}")
            lm = LocalJournal.start(self.path, cutover_id=self.cutover_id, clock=self._clock,
                                    actor=actor, reason_code=reason_code, note=note,
                                    shared_head=self.head)
            self._localmode = lm
            log.warning("shared journal unreachable: local mode started by %s", actor.operator)
            return lm.start_entry

    @property
    def action_lock(self) -> threading.RLock:
        """Held by an action from its check to its append (``Operations``): a local journal is
        never merged between the two."""
        return self._lock

    def set_merge_rule(self, rule: MergeRule) -> None:
        """How a local journal's entries are checked against the shared state at the merge
        (``Operations`` registers the runbook's rule); a pending merge starts now."""
        self._merge_rule = rule
        self._wake()

    def _merge_due(self) -> bool:
        return (self._localmode is not None and self._merge_rule is not None
                and self._down_since is None and self.damage is None and not self._closed
                and self._read is not None)

    def _merge_locked(self) -> list[Entry]:
        """Merge the local journal in one transaction (or find it already merged: a cockpit
        killed after the COMMIT), then keep its file as ``.merged-<seq>``. The new entries."""
        lm = self._localmode
        rule = self._merge_rule
        assert lm is not None and rule is not None
        sh_seq, sh_hash = lm.shared_head
        if sh_seq > len(self.entries) or (sh_seq and self.entries[sh_seq - 1].hash != sh_hash):
            self._local_problem = (f"the local-mode journal {lm.path.name} started from shared "
                                   f"entry #{sh_seq}, which the shared journal does not hold: it "
                                   "is NOT merged; the file is kept as it is")
            return []
        written: list[Entry] = []
        done = lm.merged_in(self.entries)
        tries = 0
        while done is None:
            tries += 1
            try:
                conflicts = rule(self.entries, list(lm.actions))
            except Exception as exc:  # noqa: BLE001 - one line, and nothing merged
                log.exception("shared journal: the merge rule failed")
                self._local_problem = clean(f"merging the local-mode journal failed "
                                            f"({type(exc).__name__}): it is NOT merged; the file "
                                            "is kept as it is", 300, single_line=True)
                return []
            try:
                written = self._insert_locked(Actor.system(), lm.merge_items(conflicts))
            except JournalConflict:
                if tries >= MERGE_RETRIES:
                    return []  # the follower's next loop tries again
                continue
            except JournalError as exc:
                if not self._broken:  # refused for good (not a lost connection)
                    self._local_problem = clean(f"the shared journal refused the local-mode "
                                                f"merge ({exc}): the file is kept as it is",
                                                300, single_line=True)
                return []
            done = next(e.seq for e in written if e.action == "local.merge")
        self._localmode = None
        try:
            self.merged.append(lm.finish(done))
        except OSError as exc:  # merged all the same: a restart finds the merge and renames it
            self.warnings.append(clean(f"the local-mode journal was merged at #{done} but could "
                                       f"not be renamed ({exc.strerror or exc}); it is kept as "
                                       f"{lm.path.name}", 300, single_line=True))
        log.warning("local-mode journal merged into the shared journal at #%d", done)
        return written

    def on_entries(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback()`` after entries other cockpits wrote were added to ``entries`` (from the
        follower thread, or from an append that lost a race); returns the unsubscribe."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def refresh(self) -> list[Entry]:
        """The entries added since the last call (the follower thread reads the table: this
        never waits, not even for an append in progress)."""
        new = self.entries[self._refreshed:]
        self._refreshed += len(new)
        return new

    def _query(self, conn: psycopg.Connection, template: str, params: tuple) -> list[tuple]:
        try:
            rows = conn.execute(table.sql(template, self._table), params).fetchall()
        finally:
            if not conn.autocommit and not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()  # never idle in a transaction
        return rows

    def _witness(self, conn: psycopg.Connection) -> None:
        seq, digest = self.head
        if seq == 0:
            return
        try:
            rows = self._query(conn, table.HASH_AT_SQL, (self.cutover_id, seq))
        except (UnicodeError, ValueError):
            rows = [("?",)]
        if not rows:
            self._mark_damaged(lines.Damage(seq, len(self.entries), (
                f"the shared journal table has no entry {seq}, which the local copy holds "
                f"(head #{seq} {digest[:16]}): the table is shorter than the local copy")), "")
        elif rows[0][0] != digest:
            self._mark_damaged(lines.Damage(seq, len(self.entries), (
                f"the shared journal table's entry {seq} is not the local copy's "
                f"(head #{seq} {digest[:16]}): one of them was rewritten")), "")

    def _catch_up(self, conn: psycopg.Connection) -> list[Entry]:
        """Read the rows after the head, take the entries that pass the reader rule."""
        seq, _ = self.head
        try:
            rows = self._query(conn, table.AFTER_SQL, (self.cutover_id, seq))
        except (UnicodeError, ValueError):  # a row that is no text at all (a hostile server)
            self._mark_damaged(lines.Damage(seq + 1, len(self.entries) + 1,
                                            "a row of the table cannot be read as text"), "")
            return []
        if not rows:
            return []
        chunks: list[bytes] = []
        problem: lines.Damage | None = None
        for i, row in enumerate(rows):
            expect = seq + 1 + i
            at = len(self.entries) + 1 + i
            row_seq, line = row[0], row[1]
            if type(row_seq) is not int or row_seq != expect:
                problem = lines.Damage(expect, at, f"the table's row for seq {expect} is missing "
                                                   "(rows out of order or cut)")
                break
            raw = line.encode("utf-8", "surrogatepass") if type(line) is str else None
            if raw is None or b"\n" in raw:
                problem = lines.Damage(expect, at, "the table's row is not one entry line")
                break
            chunks.append(raw + b"\n")
        blob = b"".join(chunks)
        parsed = lines.parse(blob, cutover=self.cutover_id, after=self.head,
                             first_line=len(self.entries) + 1)
        if parsed.entries:
            self._add(parsed.entries, blob[:parsed.good_bytes])
        damage = parsed.damage or problem
        if damage is not None:
            self._mark_damaged(damage, "")
        return parsed.entries

    def _add(self, entries: list[Entry], blob: bytes) -> None:
        """Entries the table holds: into the local copy (when this cockpit writes it) and shown."""
        local = self._local
        if not local.readonly and local.head == self.head:
            try:
                local.append_verified(entries, blob)
            except JournalError as exc:
                self._fixed_reason = (f"the local copy {self.path} cannot be written "
                                      f"({clean(str(exc), 200, single_line=True)}): actions are "
                                      "refused; restart the cockpit")
        self.entries.extend(entries)

    def _mark_damaged(self, damage: lines.Damage, where: str) -> None:
        damage = lines.Damage(damage.seq, damage.line, clean(damage.problem, 200, single_line=True))
        self.damage = damage
        what = where or "the shared journal"
        self._damage_reason = (f"{what} is damaged at {damage}; opened read-only, nothing was "
                               "repaired (run: cockpit journal verify)")

    # -- writing ---------------------------------------------------------------------------

    def append(self, action: str, *, actor: Actor, subject: str | None = None,
               reason_code: str | None = None, note: str | None = None, data: Any = None) -> Entry:
        """Record one entry; it returns once committed in the table and in the local copy."""
        return self.append_many(actor, [dict(action=action, subject=subject,
                                             reason_code=reason_code, note=note, data=data)])[-1]

    def append_many(self, actor: Actor, items: list[dict[str, Any]]) -> list[Entry]:
        """Record entries in one transaction (a batch, as the file journal writes one).

        Raises :class:`JournalConflict` when another cockpit appended first (nothing recorded;
        ``entries`` already hold the others'), :class:`JournalReadOnly` while disconnected or
        read-only, :class:`JournalWriteFailed` when the database failed (saying whether the
        entries may be recorded), :class:`JournalError` for what the journal refuses."""
        try:
            with self._lock:
                return self._append_locked(actor, items)
        finally:
            with self._lock:  # what a lost race read, told outside the lock
                new, self._unnotified = self._unnotified, []
            self._notify(new)

    def _append_locked(self, actor: Actor, items: list[dict[str, Any]]) -> list[Entry]:
        first = items[0]["action"] if items else "nothing"
        if self._merge_due():
            # Reconnected with a local journal not merged yet: merge it now (this lock is the
            # follower's too), then have the action checked again against the merged state,
            # as after a lost race.
            self._unnotified.extend(self._merge_locked())
            if self._localmode is None:
                raise JournalConflict(f"the entries made in local mode were merged first; "
                                      f"{first} was not recorded")
        self._writable(first)
        if not items:
            return []
        lm = self._localmode
        if lm is not None and self._down_since is not None:  # disconnected in local mode
            return lm.journal.append_many(actor, items)
        if lm is not None:  # connected, and the merge did not go through yet
            raise JournalReadOnly(f"cannot record {first}: the entries made in local mode are "
                                  "being merged into the shared journal; try again")
        return self._insert_locked(actor, items)

    def _insert_locked(self, actor: Actor, items: list[dict[str, Any]]) -> list[Entry]:
        first = items[0]["action"]
        if self._local.head != self.head:
            raise JournalReadOnly(f"cannot record {first}: the local copy is behind the shared "
                                  "journal; restart the cockpit")
        written, blob = self._local.build_batch(actor, items)
        texts = blob.decode("utf-8").split("\n")[:-1]
        rows = [(self.cutover_id, e.seq, e.prev, e.hash, text)
                for e, text in zip(written, texts, strict=True)]
        what = "action was" if len(items) == 1 else f"{len(items)} entries were"
        conn = self._read
        if conn is None:  # writable implies connected; never insert without a link
            raise JournalReadOnly(f"cannot record {first}: the shared journal is not connected")
        try:
            with conn.cursor() as cur:
                cur.executemany(table.sql(table.INSERT_SQL, self._table), rows)
        except psycopg.Error as exc:
            self._after_refused_insert(conn, exc, first, what)
        try:
            conn.commit()
        except psycopg.Error as exc:
            self._lost(self._describe(exc))
            raise JournalWriteFailed(
                f"shared journal commit failed ({self._describe(exc)}): the {what} may or may "
                "not be recorded; the screen shows what the shared journal holds once it is "
                "reconnected") from None
        self._add(written, blob)
        return written[-len(items):]

    def _after_refused_insert(self, conn: psycopg.Connection, exc: psycopg.Error, first: str,
                              what: str) -> NoReturn:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        why = self._describe(exc)
        if getattr(exc, "sqlstate", None) in RACE_SQLSTATES and not conn.closed:
            before = len(self.entries)
            try:
                new = self._catch_up(conn)
            except psycopg.Error as read_exc:
                self._lost(self._describe(read_exc))
                raise JournalConflict(f"another cockpit may have appended first; {first} was not "
                                      "recorded") from None
            if new or self.damage is not None or len(self.entries) != before:
                self._unnotified.extend(new)
                raise JournalConflict(f"another cockpit appended to the shared journal first; "
                                      f"{first} was not recorded") from None
            # Nothing new: not a race but a row the database refuses (is our head its head?).
            with contextlib.suppress(psycopg.Error, UnicodeError, ValueError):
                self._witness(conn)
            raise JournalWriteFailed(f"the shared journal refused the entry ({why}); the {what} "
                                     "NOT recorded") from None
        if isinstance(exc, psycopg.OperationalError) or conn.closed or conn.broken:
            self._lost(why)
        raise JournalWriteFailed(f"shared journal write failed ({why}); the {what} NOT recorded") from None

    def _writable(self, first: str) -> None:
        if self.readonly:
            why = self.readonly_reason or "journal is closed"
            if self.damage is not None:
                raise JournalCorrupt(f"cannot record {first}: {why}")
            raise JournalReadOnly(f"cannot record {first}: {why}")
        if self._local.head != self.head:
            raise JournalReadOnly(f"cannot record {first}: the local copy is behind the shared "
                                  "journal; restart the cockpit")

    # -- quarantine files (of the local copy) ----------------------------------------------

    def quarantines(self) -> list[Quarantine]:
        """Every ``<local copy>.broken-*`` file (see ``Journal.quarantines``)."""
        return self._local.quarantines()

    def unacknowledged_quarantines(self) -> list[Quarantine]:
        return [q for q in self.quarantines() if not q.acknowledged]

    def acknowledge_quarantine(self, q: Quarantine, *, actor: Actor, note: str | None = None) -> Entry:
        """Record (in the shared journal) that an operator saw ``q``."""
        return self.append(QUARANTINE_ACK, actor=actor, note=note,
                           **quarantine.ack_fields(q, self.path))

    # -- following -------------------------------------------------------------------------

    def _follow(self) -> None:
        delay = BACKOFF_START_S
        while not self._stop.is_set():
            if self._listen is None or self._broken:
                with self._lock:
                    self._drop_connections()
                if self._tries > 0:
                    self._stop.wait(delay * random.uniform(0.5, 1.5))
                    delay = min(delay * 2, BACKOFF_CAP_S)
                    if self._stop.is_set():
                        break
                self._tries += 1
                try:
                    new = self._connect()
                except _Down as exc:
                    self._went_down(str(exc))
                    continue
                except Exception:  # noqa: BLE001 - the follower must not die silently
                    log.exception("shared journal: reconnecting failed")
                    self._went_down("internal error while reconnecting")
                    continue
                delay = BACKOFF_START_S
                self._notify(new)
                if self.damage is not None:
                    break
                continue
            try:
                if self._merge_due():
                    with self._lock:
                        merged = self._merge_locked() if self._merge_due() else []
                        new, self._unnotified = self._unnotified, []
                    self._notify(new + merged)
                    if self._localmode is not None and self._local_problem is None:
                        self._stop.wait(BACKOFF_START_S)  # lost races: try again shortly
                        continue
                self._wait_for_notification(POLL_S)
                if self._stop.is_set() or self._broken:
                    continue
                with self._lock:
                    conn = self._read
                    new = self._catch_up(conn) if conn is not None and self.damage is None else []
            except (psycopg.Error, OSError, ValueError) as exc:
                self._lost(self._describe(exc) if isinstance(exc, psycopg.Error)
                           else "connection lost")
                continue
            except Exception:  # noqa: BLE001 - the follower must not die silently
                log.exception("shared journal: following failed")
                self._lost("internal error while following")
                continue
            self._notify(new)
            if self.damage is not None:
                break
        with self._lock:
            self._drop_connections()

    def _wait_for_notification(self, timeout: float) -> None:
        conn = self._listen
        assert conn is not None
        fd = conn.fileno()
        ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                while os.read(self._wake_r, 512):
                    pass
        if fd in ready:
            pg = conn.pgconn
            pg.consume_input()  # raises OperationalError when the server went away
            while pg.notifies() is not None:
                pass
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            raise psycopg.OperationalError("connection lost")

    def _notify(self, new: list[Entry]) -> None:
        if not new:
            return
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001 - a view's bug must not stop the follower
                log.exception("shared journal: on_entries callback failed")

    def _went_down(self, why: str) -> None:
        self._down_why = clean(why, 160, single_line=True)
        if self._down_since is None:
            self._down_since = self._now()
            log.warning("shared journal unreachable: %s", why)

    def _lost(self, why: str) -> None:
        """The connection failed: read-only until reconnected (the follower reconnects)."""
        self._down_why = clean(why, 160, single_line=True)
        if self._down_since is None:
            self._down_since = self._now()
            self._tries = 0
            log.warning("shared journal connection lost: %s", why)
        self._broken = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _now(self) -> float:
        return self._clock.now() if self._clock is not None else time.time()

    def _describe(self, exc: BaseException) -> str:
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate == "42P01":
            return f"table {self._table} does not exist (create it: cockpit journal init CONFIG)"
        if sqlstate == "42501":
            return f"no permission on table {self._table} (it needs SELECT and INSERT)"
        return describe(exc, self._plan)

    def _drop_connections(self) -> None:
        conns = [c for c in (self._listen, self._read) if c is not None]
        self._listen = self._read = None
        _close_all(conns)

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the follower, close both connections and the local copy."""
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_S)
            if thread.is_alive():
                log.warning("shared journal follower did not stop within %.0fs", JOIN_S)
        with self._lock:
            self._drop_connections()
            self._closed = True
            self._local.close()
            if self._localmode is not None:
                self._localmode.close()
        if thread is None or not thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_r = self._wake_w = -1

    def __enter__(self) -> SharedJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_all(conns: list[psycopg.Connection]) -> None:
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.close()
