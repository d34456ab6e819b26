"""The outbox: what each target is owed, derived from the journal, kept beside it.

``<journal>.outbox.sqlite`` (0600, ``synchronous=FULL``) holds the watermark (the last journal
``seq`` scanned) and one row per message: its idempotency key ``cutover:seq:target``, the
message, its state (``pending``, ``sent``, ``dead``, ``dismissed``, ``superseded``), attempts,
when it is due and the last error. Scanning entries and moving the watermark is one
transaction, so after a crash an entry is either scanned with its messages or not at all
(scanned again): nothing is lost, nothing is owed twice. A message is marked ``sent`` as soon
as the target acknowledged it; only a crash between the acknowledgement and that commit sends
it again, with the same key (a target that honours ``Idempotency-Key`` drops it).

A new outbox starts at the journal's head: events from the moment the targets are configured,
not the whole history of a journal the cockpit reopens.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.config.notify import Notify
from cockpit.config.plan import Plan
from cockpit.journal import Entry
from cockpit.notify.events import Message, head_message, messages_of

OUTBOX_SUFFIX = ".outbox.sqlite"
STATES = ("pending", "sent", "dead", "dismissed", "superseded")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS message (
    key TEXT PRIMARY KEY, target TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
    body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    due REAL NOT NULL, error TEXT, last_at REAL, gate TEXT);
CREATE INDEX IF NOT EXISTS message_state ON message (state, due);
"""


def outbox_path(journal_path: str | os.PathLike) -> Path:
    p = Path(journal_path)
    return p.with_name(p.name + OUTBOX_SUFFIX)


def message_key(cutover: str, seq: int, target: str) -> str:
    return f"{cutover}:{seq}:{target}"


class OutboxError(Exception):
    """One line: the outbox cannot be opened or written."""


@dataclass(frozen=True)
class DeadLetter:
    key: str
    target: str
    seq: int
    event: str
    error: str
    attempts: int
    last_at: float | None


@dataclass(frozen=True)
class Due:
    key: str
    target: str
    message: Message
    attempts: int


class Outbox:
    def __init__(self, path: Path, plan: Plan):
        self.path, self.plan = path, plan
        assert plan.notify is not None
        self.notify: Notify = plan.notify
        try:
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            # WAL: one fsync per commit (a delete-mode journal costs several).
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the outbox {path.name}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # -- the watermark ---------------------------------------------------------------------

    def watermark(self) -> int | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'watermark'").fetchone()
        return None if row is None else int(row[0])

    def start_at(self, seq: int, digest: str) -> None:
        """A new outbox begins at the journal's head (see the module docstring)."""
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('watermark', ?)", (str(seq),))
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('watermark_hash', ?)", (digest,))

    def watermark_hash(self) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'watermark_hash'").fetchone()
        return None if row is None else row[0]

    def belongs_to(self, entries: Sequence[Entry]) -> bool:
        """Whether the journal still holds the entry the watermark names (same seq, same
        hash): a journal replaced at the same path (``demo --new``) is another journal."""
        mark, digest = self.watermark(), self.watermark_hash()
        if not mark:
            return True
        e = entries[mark - 1] if len(entries) >= mark else None
        if e is None or e.seq != mark:
            e = next((x for x in entries if x.seq == mark), None)
        return e is not None and (digest is None or e.hash == digest)

    def restart_at(self, seq: int, digest: str) -> int:
        """For another journal at the same path: the old one's messages are dropped (their
        entries are not this journal's, and their keys would be this journal's keys), and
        scanning starts at this journal's head. Returns how many were still owed."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute("SELECT count(*) FROM message WHERE state IN ('pending', 'dead')")
        dropped = cur.fetchone()[0]
        cur.execute("DELETE FROM message")
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('watermark', ?)", (str(seq),))
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('watermark_hash', ?)", (digest,))
        cur.execute("COMMIT")
        return dropped

    def scan(self, entries: list[Entry], now: float) -> int:
        """Derive the messages of ``entries`` (those after the watermark, in order) and act on
        ``notify.retry`` / ``notify.dismiss`` entries: one transaction. Returns rows changed."""
        mark = self.watermark() or 0
        todo = [e for e in entries if e.seq > mark]
        if not todo:
            return 0
        changed = 0
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for e in todo:
                changed += self._scan_one(cur, e, now)
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('watermark', ?)", (str(todo[-1].seq),))
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('watermark_hash', ?)", (todo[-1].hash,))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return changed

    def _scan_one(self, cur: sqlite3.Cursor, e: Entry, now: float) -> int:
        if e.action in ("notify.retry", "notify.dismiss") and e.subject:
            if e.action == "notify.retry":
                cur.execute("UPDATE message SET state='pending', attempts=0, due=?, error=NULL "
                            "WHERE key=? AND state='dead'", (now, e.subject))
            else:
                cur.execute("UPDATE message SET state='dismissed' WHERE key=? AND state IN "
                            "('dead', 'pending')", (e.subject, ))
            return cur.rowcount
        events = messages_of(self.plan, e)
        changed = 0
        for name, target in self.notify.targets.items():
            if e.action == "gate.change" and e.subject:
                # A turn undone before its dwell ran out is never announced (a flapping gate).
                cur.execute("UPDATE message SET state='superseded' WHERE target=? AND gate=? "
                            "AND state='pending' AND attempts=0 AND due>?",
                            (name, e.subject, e.wall))
                changed += cur.rowcount
            parts, due = [], e.wall
            for m in events:
                sub = target.wants(m.event)
                if sub is None:
                    continue
                if m.event == "gate.change" and sub.gate is not None:
                    if m.state not in sub.gate.only:
                        continue
                    due = max(due, e.wall + sub.gate.dwell)
                parts.append(m)
            head = target.wants("journal.head")
            if head is not None and head.head is not None and e.seq % head.head.every == 0:
                parts.append(head_message(self.plan, e))
            if not parts:
                continue
            msg = _merged(parts)
            key = message_key(e.cutover, e.seq, name)
            cur.execute("INSERT OR IGNORE INTO message (key, target, seq, event, body, state, "
                        "due, gate) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (key, name, e.seq, msg.event, json.dumps(msg.to_json()), due,
                         msg.gate if msg.event == "gate.change" else None))
            changed += cur.rowcount
        return changed

    # -- delivery --------------------------------------------------------------------------

    def due(self, now: float) -> list[Due]:
        rows = self.db.execute("SELECT key, target, body, attempts FROM message WHERE "
                               "state='pending' AND due<=? ORDER BY due, seq, target",
                               (now,)).fetchall()
        return [Due(k, t, Message.from_json(json.loads(b)), a) for k, t, b, a in rows]

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT min(due) FROM message WHERE state='pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def sent(self, key: str, now: float) -> None:
        self.db.execute("UPDATE message SET state='sent', attempts=attempts+1, last_at=?, "
                        "error=NULL WHERE key=? AND state='pending'", (now, key))

    def failed(self, key: str, now: float, error: str, *, retry_at: float | None) -> None:
        """``retry_at`` None: a dead letter now (permanent, or the last attempt)."""
        if retry_at is None:
            self.db.execute("UPDATE message SET state='dead', attempts=attempts+1, last_at=?, "
                            "error=? WHERE key=? AND state='pending'", (now, error, key))
        else:
            self.db.execute("UPDATE message SET attempts=attempts+1, last_at=?, error=?, due=? "
                            "WHERE key=? AND state='pending'", (now, error, retry_at, key))

    def dead_letters(self) -> list[DeadLetter]:
        rows = self.db.execute("SELECT key, target, seq, event, error, attempts, last_at FROM "
                               "message WHERE state='dead' ORDER BY seq, target").fetchall()
        return [DeadLetter(k, t, s, ev, err or "", a, la) for k, t, s, ev, err, a, la in rows]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, count(*) FROM message GROUP BY state"):
            out[state] = n
        return out

    def state_of(self, key: str) -> str | None:
        row = self.db.execute("SELECT state FROM message WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]


def _merged(parts: list[Message]) -> Message:
    """Several events of one entry for one target are one message (one key per entry and
    target): ``step.confirm+approval``."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    notes = [m.note for m in parts if m.note]
    return Message(first.cutover, first.name, "+".join(m.event for m in parts), first.seq,
                   first.hash, first.wall, first.who, "; ".join(m.title for m in parts),
                   notes[0] if notes else None, first.gate, first.state)
