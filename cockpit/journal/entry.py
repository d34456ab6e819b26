"""Journal entries, who made them, and the one byte rule that chains them.

The byte rule (the auditor re-verifies with it; see the package docstring for a script):

- ``canonical(obj) = json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")``
- ``hash = sha256(prev.encode("ascii") + b"\\n" + canonical(entry without "hash")).hexdigest()``
- the first entry's ``prev`` is 64 zeros (:data:`GENESIS`);
- the line on disk is ``canonical(entry with "hash") + b"\\n"``.

An entry written in a batch of ``n > 1`` entries (one write, one fsync) also carries
``"batch": [i, n]`` (1-based), inside the hashed body; a single append has no such key.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "cutover", "actor", "action", "subject", "reason_code", "note", "data", "prev", "hash")
BATCH = "batch"  # the optional field of an entry written in a batch: [i, n], 1-based
ACTOR_FIELDS = ("operator", "os_user", "host", "ssh_client", "pid", "session")

ACTIONS = frozenset({
    "session.start", "session.end", "step.confirm", "step.skip", "step.fail", "step.run",
    "decision.record", "gate.override", "gate.change", "rollback.start", "exception.open",
    "exception.close", "exception.triage", "recon.run", "note", "clock.warning",
    "journal.quarantine_ack", "rehearsal.start", "rehearsal.fault", "rehearsal.summary",
    "approval.request", "approval.reject", "approval.withdraw", "access.refused",
    "notify.retry", "notify.dismiss",
    "local.start", "local.end", "local.merge",
})


def head_of(entries: Sequence[Entry]) -> tuple[int, str]:
    """(seq, hash) of the last entry; (0, GENESIS) for none: the head every journal shows."""
    if not entries:
        return (0, GENESIS)
    last = entries[-1]
    return (last.seq, last.hash)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev: str, body: bytes) -> str:
    """``body`` is the canonical JSON of the entry without its ``hash``."""
    return hashlib.sha256(prev.encode("ascii") + b"\n" + body).hexdigest()


def format_ts(wall: float) -> str:
    """UTC, ISO-8601, milliseconds, ``Z``: ``2026-11-28T22:00:00.123Z``."""
    dt = datetime.fromtimestamp(round(wall, 3), tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def jsonable(value: Any) -> Any:
    """A copy that survives a JSON round trip unchanged (so live state equals replayed state).

    Tuples become lists, keys become strings, non-finite floats become None (JSON has no NaN),
    anything else unknown becomes its ``str``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_json"):
        return jsonable(value.to_json())
    return str(value)


_SESSION: dict[int, str] = {}


def _session_id() -> str:
    # One id per process (a forked child is a new session).
    pid = os.getpid()
    if pid not in _SESSION:
        _SESSION[pid] = uuid.uuid4().hex[:12]
    return _SESSION[pid]


def _os_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        pass
    try:
        return getpass.getuser()
    except Exception:  # getpass raises OSError or KeyError depending on version
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _ssh_client() -> str | None:
    for var in ("SSH_CLIENT", "SSH_CONNECTION"):
        parts = os.environ.get(var, "").split()
        if parts:
            return parts[0][:64]
    return None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it, from where: the HIPAA "who" and "from where"."""

    operator: str
    os_user: str
    host: str
    ssh_client: str | None
    pid: int
    session: str

    @classmethod
    def current(cls, operator: str) -> Actor:
        try:
            host = socket.gethostname()
        except OSError:
            host = "unknown"
        return cls(operator, _os_user(), host, _ssh_client(), os.getpid(), _session_id())

    @classmethod
    def system(cls) -> Actor:
        return cls.current("system")

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ACTOR_FIELDS}


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    ts: str
    cutover: str
    actor: Actor
    action: str
    subject: str | None
    reason_code: str | None
    note: str | None
    data: Any
    prev: str
    hash: str
    wall: float = field(default=0.0, compare=False, repr=False)  # ts as Unix seconds
    batch: tuple[int, int] | None = None  # (i, n) when written as entry i of a batch of n > 1

    def body(self) -> dict:
        """The entry without ``hash``: what the hash covers."""
        d = {
            "seq": self.seq, "ts": self.ts, "cutover": self.cutover, "actor": self.actor.to_json(),
            "action": self.action, "subject": self.subject, "reason_code": self.reason_code,
            "note": self.note, "data": self.data, "prev": self.prev,
        }
        if self.batch is not None:
            d[BATCH] = list(self.batch)
        return d

    def to_json(self) -> dict:
        d = self.body()
        d["hash"] = self.hash
        return d

    def line(self) -> bytes:
        return canonical(self.to_json()) + b"\n"

    @classmethod
    def from_json(cls, d: dict, actors: dict[tuple, Actor] | None = None) -> Entry:
        """``actors`` (optional) shares one Actor object among entries by the same actor."""
        a = d["actor"]
        if actors is None:
            actor = Actor(**a)
        else:
            key = (a["operator"], a["os_user"], a["host"], a["ssh_client"], a["pid"], a["session"])
            shared = actors.get(key)
            if shared is None:
                shared = actors[key] = Actor(**a)
            actor = shared
        batch = d.get(BATCH)
        return cls(
            d["seq"], d["ts"], d["cutover"], actor, d["action"],
            d.get("subject"), d.get("reason_code"), d.get("note"), d.get("data"), d["prev"],
            d["hash"], parse_ts(d["ts"]), None if batch is None else (batch[0], batch[1]),
        )


def build(seq: int, wall: float, cutover: str, actor: Actor, action: str, *, subject: str | None,
          reason_code: str | None, note: str | None, data: Any, prev: str,
          batch: tuple[int, int] | None = None) -> Entry:
    ts = format_ts(wall)
    body = {
        "seq": seq, "ts": ts, "cutover": cutover, "actor": actor.to_json(), "action": action,
        "subject": subject, "reason_code": reason_code, "note": note, "data": jsonable(data),
        "prev": prev,
    }
    if batch is not None:
        body[BATCH] = list(batch)
    return Entry(seq, ts, cutover, actor, action, subject, reason_code, note, body["data"], prev,
                 chain_hash(prev, canonical(body)), parse_ts(ts), batch)
