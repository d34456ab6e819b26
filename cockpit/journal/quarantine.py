"""Quarantine files beside a journal: what was set aside, and whether someone acknowledged it.

A writer opening a journal whose tail was never acknowledged (a last line without its newline,
a batch cut short) moves those bytes to ``<journal>.broken-<UTC time>`` and truncates them away.
That is right (they were never acknowledged) but must never be silent: the bytes may hold a
whole entry, say a confirmed step whose final newline was deleted, and the operator has to be
told exactly which action was set aside so it can be redone. A quarantine file stays
"unacknowledged" until an intact ``journal.quarantine_ack`` entry names it (name and sha256 of
its content); ``cockpit journal verify`` fails while any is unacknowledged.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from cockpit.journal import disk, lines
from cockpit.journal.entry import GENESIS, Entry
from cockpit.journal.errors import JournalError
from cockpit.text import clean

QUARANTINE_ACK = "journal.quarantine_ack"
_PARSE_LIMIT = 64 * 1024 * 1024  # larger quarantine files are hashed, not read for entries


def quarantine_prefix(journal: Path) -> str:
    return f"{journal.name}.broken-"


@dataclass(frozen=True)
class SetAside:
    """A complete entry found in a quarantine file, chaining onto the journal's entry before it."""

    seq: int
    action: str
    subject: str | None
    hash: str
    ts: str
    operator: str

    def to_json(self) -> dict:
        return {"seq": self.seq, "action": self.action, "subject": self.subject, "hash": self.hash,
                "ts": self.ts, "operator": self.operator}


@dataclass(frozen=True)
class Quarantine:
    """One ``<journal>.broken-*`` file. ``size``/``sha256`` are None when it cannot be read."""

    path: Path
    size: int | None
    sha256: str | None
    set_aside: tuple[SetAside, ...] = ()
    acknowledged: bool = False
    problem: str | None = None  # why it could not be read (a link, a FIFO, no permission)
    _anchored: bool = field(default=True, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.name

    def ack_data(self) -> dict:
        """The ``data`` of the ``journal.quarantine_ack`` entry that acknowledges this file."""
        if self.sha256 is None:
            raise JournalError(f"{clean(self.name, 120, single_line=True)} cannot be read "
                               f"({self.problem}); remove it instead of acknowledging it")
        return {"name": self.name, "size": self.size, "sha256": self.sha256}

    def what(self) -> str:
        """What it holds, in words (cleaned: it comes from the file)."""
        if self.problem:
            return f"cannot be read: {self.problem}"
        if not self.set_aside:
            return "no complete entry (bytes of a write cut short)"
        first, last = self.set_aside[0], self.set_aside[-1]
        if len(self.set_aside) == 1:
            subject = f" {clean(first.subject, 80, single_line=True)}" if first.subject else ""
            return (f"entry #{first.seq} {clean(first.action, 40, single_line=True)}{subject} by "
                    f"{clean(first.operator, 40, single_line=True)} at {first.ts}, hash "
                    f"{first.hash[:16]}, never acknowledged: redo it if it is still needed")
        counts = Counter(e.action for e in self.set_aside)
        kinds = ", ".join(f"{n} {clean(a, 40, single_line=True)}" for a, n in counts.most_common(3))
        more = ", ..." if len(counts) > 3 else ""
        return (f"entries #{first.seq}-#{last.seq} ({kinds}{more}) of an unfinished batch, never "
                f"acknowledged: redo what is still needed")

    def describe(self) -> str:
        """One line for an operator: which file, how big, what it holds, acknowledged or not."""
        size = f"{self.size} bytes" if self.size is not None else "unreadable"
        state = "acknowledged" if self.acknowledged else "NOT acknowledged"
        return f"{clean(self.name, 120, single_line=True)} ({size}, {state}): {self.what()}"

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "size": self.size,
                "sha256": self.sha256, "acknowledged": self.acknowledged, "problem": self.problem,
                "set_aside": [e.to_json() for e in self.set_aside]}


def _set_aside(data: bytes, entries: Sequence[Entry]) -> tuple[tuple[SetAside, ...], bool]:
    """The complete entries in ``data`` that chain onto the kept entry before the first of them,
    and whether that entry was there to check against."""
    text = data if data.endswith(b"\n") else data + b"\n"  # a last line may have lost only that
    try:
        first = orjson.loads(text[:text.index(b"\n")])
        seq = first["seq"]
    except (ValueError, TypeError, KeyError):
        return (), True
    if type(seq) is not int or seq < 1:
        return (), True
    if seq - 1 > len(entries):
        return (), False
    anchor = (seq - 1, entries[seq - 2].hash if seq > 1 else GENESIS)
    parsed = lines.parse(text, after=anchor)
    found = parsed.entries + parsed.pending
    return tuple(SetAside(e.seq, e.action, e.subject, e.hash, e.ts, e.actor.operator)
                 for e in found), True


def _inspect(path: Path, entries: Sequence[Entry]) -> Quarantine:
    try:
        fd = disk.open_regular(path, os.O_RDONLY)
    except JournalError as exc:
        return Quarantine(path, None, None, problem=_why(exc))
    except OSError as exc:
        return Quarantine(path, None, None, problem=exc.strerror or type(exc).__name__)
    try:
        digest = hashlib.sha256()
        size = 0
        keep: list[bytes] | None = []
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if keep is not None:
                if size <= _PARSE_LIMIT:
                    keep.append(chunk)
                else:
                    keep = None
    except OSError as exc:
        return Quarantine(path, None, None, problem=exc.strerror or type(exc).__name__)
    finally:
        os.close(fd)
    set_aside, anchored = _set_aside(b"".join(keep), entries) if keep is not None else ((), True)
    return Quarantine(path, size, digest.hexdigest(), set_aside, _anchored=anchored)


def _why(exc: JournalError) -> str:
    text = str(exc)
    return "not a regular file" if "not a regular file" in text else text


def acknowledged_keys(entries: Iterable[Entry]) -> set[tuple[str, str]]:
    """(name, sha256) of every quarantine file an intact ``journal.quarantine_ack`` names."""
    keys = set()
    for e in entries:
        if e.action == QUARANTINE_ACK and isinstance(e.data, dict):
            name, sha = e.data.get("name"), e.data.get("sha256")
            if isinstance(name, str) and isinstance(sha, str):
                keys.add((name, sha))
    return keys


def _stat_key(entry: os.DirEntry) -> tuple | None:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def find(journal: Path, entries: Sequence[Entry], acks: set[tuple[str, str]] | None = None,
         cache: dict | None = None) -> list[Quarantine]:
    """Every quarantine file beside ``journal``, oldest name first, each marked acknowledged or not.

    ``entries`` are the journal's intact entries (from seq 1). ``cache`` (a dict the caller
    keeps) spares re-reading files that did not change.
    """
    prefix = quarantine_prefix(journal)
    if acks is None:
        acks = acknowledged_keys(entries)
    try:
        with os.scandir(journal.parent) as it:
            found = sorted((e for e in it if e.name.startswith(prefix)), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalError(f"cannot list the folder of {journal} for quarantine files: "
                           f"{exc.strerror or type(exc).__name__}") from None
    out = []
    for e in found:
        key = _stat_key(e)
        q = cache.get(e.name) if cache is not None else None
        if q is None or q[0] != key or key is None or not q[1]._anchored:
            q = (key, _inspect(Path(e.path), entries))
            if cache is not None:
                cache[e.name] = q
        info = q[1]
        ok = info.sha256 is not None and (info.name, info.sha256) in acks
        out.append(Quarantine(info.path, info.size, info.sha256, info.set_aside, ok, info.problem,
                              info._anchored))
    return out


def quarantines(journal: str | os.PathLike, *, cutover_id: str | None = None) -> list[Quarantine]:
    """The quarantine files beside the journal at ``journal``, without opening it for writing.

    Acknowledgements are read from the journal's intact entries (up to any damage).
    """
    path = Path(journal)
    data = disk.read_journal(path)
    entries = lines.parse(data, cutover=cutover_id).entries if data else []
    return find(path, entries)


def unacknowledged_quarantines(journal: str | os.PathLike, *,
                               cutover_id: str | None = None) -> list[Quarantine]:
    """Those of :func:`quarantines` no intact ``journal.quarantine_ack`` entry acknowledges."""
    return [q for q in quarantines(journal, cutover_id=cutover_id) if not q.acknowledged]


def ack_fields(q: Quarantine, journal: Path) -> dict:
    """The ``journal.quarantine_ack`` entry's subject and data for ``q`` (as listed: its name,
    size and sha256); ``JournalError`` when ``q`` is not a quarantine file of ``journal``."""
    if q.path.parent != journal.parent or not q.name.startswith(quarantine_prefix(journal)):
        raise JournalError(f"{q.path} is not a quarantine file of {journal}")
    return {"subject": q.name, "data": q.ack_data()}
