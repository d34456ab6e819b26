"""The journal file: one locked writer, durable appends, torn-tail quarantine, read-only watchers."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.journal import checkpoint, disk, lines, quarantine
from cockpit.journal.entries import Entries
from cockpit.journal.entry import ACTIONS, Actor, Entry, build, head_of, jsonable
from cockpit.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalNotAFile,
    JournalReadOnly,
    JournalWriteFailed,
)
from cockpit.journal.quarantine import QUARANTINE_ACK, Quarantine
from cockpit.redact import find_secret

# From this many entries an open takes them (and whatever else is alive) out of the cyclic
# garbage collector's generations: see Journal._take.
FREEZE_AT = 10_000
MAX_DEPTH = 64  # nesting of an entry's data; far more than any record, far less than recursion

# The two calls that make an append durable; tests that cannot make the kernel fail (a failing
# fsync) replace these, and say so.
_write = os.write
_fsync = os.fsync


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(folder: Path) -> None:
    """Create the missing folders of ``folder``, each durable: a new folder's entry lives in
    its parent, so every new level and the existing folder above them is fsynced."""
    missing = []
    level = folder
    while not level.exists() and level.parent != level:
        missing.append(level)
        level = level.parent
    if not missing:
        return
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile: still make it durable
            os.mkdir(new)
    for new in missing:
        _fsync_dir(new)
    _fsync_dir(missing[-1].parent)


def _open_for_append(path: Path) -> tuple[int, bool]:
    """(fd, created): read-write (the lock and every read are on this very file), appending."""
    flags = os.O_RDWR | os.O_APPEND
    for _ in range(3):
        try:
            return disk.open_regular(path, flags | os.O_CREAT | os.O_EXCL), True
        except FileExistsError:
            pass
        try:
            return disk.open_regular(path, flags), False
        except FileNotFoundError:  # removed between the two opens: create it after all
            continue
    raise FileNotFoundError(2, "the journal keeps appearing and disappearing")


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        inner: Iterable[Any]
        if isinstance(v, dict):
            inner = v.values()
        elif isinstance(v, (list, tuple)):
            inner = v
        else:
            continue
        if depth > limit:
            return True
        stack.extend((x, depth + 1) for x in inner)
    return False


# Beside the journal while a writer holds its lock: who that is (pid, operator, OS user, host,
# since), so a second cockpit's refusal can say who to talk to. Best effort: the lock itself is
# flock(2) on the journal, and a holder file left by a crash is overwritten by the next writer.
HOLDER_SUFFIX = ".holder"
HOLDER_MAX = 4096


def holder_path(path: Path) -> Path:
    return path.with_name(path.name + HOLDER_SUFFIX)


def _write_holder(path: Path, actor: Actor | None, clock: Any) -> bool:
    import json

    actor = actor or Actor.current("?")
    wall = clock.now() if clock is not None else time.time()
    doc = {"pid": os.getpid(), "operator": actor.operator, "os_user": actor.os_user,
           "host": actor.host, "since": datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        fd = os.open(holder_path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                     | os.O_CLOEXEC | os.O_NONBLOCK, 0o640)
    except OSError:
        return False
    try:
        os.write(fd, json.dumps(doc).encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def read_holder(path: Path) -> str | None:
    """Who holds the write lock on the journal at ``path``, as one line, or None if unrecorded."""
    import json

    from cockpit.text import clean

    try:
        fd = os.open(holder_path(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            doc = json.loads(os.read(fd, HOLDER_MAX))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None

    def f(key: str) -> str:
        return clean(str(doc.get(key, "?")), 64, single_line=True)

    return f"pid {f('pid')}, operator {f('operator')}, {f('os_user')}@{f('host')}, since {f('since')}"


class Journal:
    """Append-only, hash-chained, one JSON entry per line. Build it with :meth:`open`."""

    def __init__(self, path: Path, cutover_id: str, clock: Any):
        # Appends may come from a writer thread (the cockpit keeps its screen live during a
        # slow fsync) while the view reads; one appender at a time, entries only ever extended.
        self._lock = threading.RLock()
        self.path = path
        self.cutover_id = cutover_id
        self._clock = clock
        self._fd: int | None = None
        self._size = 0
        self.entries = Entries()
        self.readonly = True
        self.readonly_reason: str | None = None
        self.damage: lines.Damage | None = None
        self.quarantined: Path | None = None  # the file this open moved an unacknowledged tail to
        self.warnings: list[str] = []
        self._qcache: dict = {}
        self._acks: tuple[int, set] = (-1, set())
        self._holder_written = False
        self._callbacks: list[Callable[[], None]] = []
        # The writer's verified prefix: sha256 state of its bytes, their length, and the length
        # the checkpoint on disk last said (see cockpit.journal.checkpoint). None: not kept.
        self._verified: hashlib._Hash | None = None
        self._verified_size = 0
        self._saved_size = 0

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, *, cutover_id: str, readonly: bool = False,
             clock: Any = None, holder: Actor | None = None) -> Journal:
        """Open for writing (taking the lock), or ``readonly`` to watch.

        A writer records ``holder`` (who opens it; default this process as operator "?") beside
        the journal (``<journal>.holder``) while it holds the lock.
        Raises :class:`JournalLocked` (``holder`` attribute: who has it, or None when not
        recorded) when another cockpit writes to it and
        :class:`JournalWriteFailed` when it cannot be created or opened for writing.
        A damaged journal opens read-only with ``readonly_reason`` naming the bad seq.
        A writer keeps the verified checkpoint ``<journal>.verified`` (``checkpoint``) up with
        what it verified and wrote; any open reads the bytes that still hash to it without
        checking them again, and the rest by the full rule: the same entries and damage.
        """
        j = cls(Path(path), cutover_id, clock)
        if readonly:
            j.readonly_reason = "opened read-only"
            j._load_readonly()
        else:
            j._open_writer(holder)
        return j

    def _load_readonly(self) -> None:
        data = disk.read_journal(self.path)
        if data is None:
            self.warnings.append(f"no journal yet at {self.path}: nothing has been done")
            return
        entries, parsed, _ = self._parse(data)
        self._take(entries, parsed)
        if parsed.torn:
            self.warnings.append(
                f"the end of {self.path} was never acknowledged ({parsed.tail_problem()}): a writer "
                "crashed or is writing; the next writer quarantines it")

    def _parse(self, data: bytes) -> tuple[Entries, lines.Parsed, tuple[int, hashlib._Hash] | None]:
        """The one rule over the journal's bytes, except over the prefix the checkpoint vouches
        for (byte for byte what the rule accepted before: its lines decoded when first read,
        never checked again). The entries; what the rule found (its ``good_bytes`` and damage
        counted over the whole journal; its ``entries`` only those after the prefix); the
        (size, sha256 state) of that prefix, or None when there was no usable checkpoint."""
        known = checkpoint.trusted(self.path, data, self.cutover_id)
        if known is None:
            parsed = lines.parse(data, cutover=self.cutover_id)
            return Entries(parsed.entries), parsed, None
        entries, size, digest = known
        last = entries[-1]
        tail = lines.parse(data[size:], cutover=self.cutover_id, after=(last.seq, last.hash),
                           first_line=len(entries) + 1)
        entries.extend(tail.entries)
        tail.good_bytes += size
        return entries, tail, (size, digest)

    def _take(self, entries: Entries, parsed: lines.Parsed) -> None:
        self.entries = entries
        self._size = parsed.good_bytes
        if len(entries) - entries.undecoded() >= FREEZE_AT:
            # The entries live as long as the journal and hold no reference cycles, yet every
            # full collection of the cyclic GC would walk their millions of containers (about
            # half a second at 100,000 entries, first paid by the replay that follows): moved
            # out of its reach. Garbage is still freed by reference counting.
            gc.freeze()
        if parsed.damage is not None:
            self.damage = parsed.damage
            self.readonly = True
            self.readonly_reason = (f"journal damaged at {parsed.damage}; opened read-only, "
                                    "nothing was repaired (run: cockpit journal verify)")

    def _open_writer(self, holder: Actor | None = None) -> None:
        parent = self.path.parent
        try:
            _make_dirs(parent)
            fd, created = _open_for_append(self.path)
        except JournalNotAFile as exc:
            raise JournalNotAFile(f"cannot open journal for writing: {exc}") from None
        except OSError as exc:
            raise JournalWriteFailed(
                f"cannot open journal {self.path} for writing: {_why(exc)} "
                "(open it read-only to watch)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            who = read_holder(self.path)
            locked = JournalLocked(
                f"journal {self.path} is in use by another cockpit "
                f"({who or 'it holds the write lock; who is not recorded'}); open it read-only to watch")
            locked.path, locked.holder = self.path, who
            raise locked from None
        self._fd = fd
        self._holder_written = _write_holder(self.path, holder, self._clock)
        try:
            self._load_writer(created)
        except BaseException as exc:
            self.close()  # never leave the lock (or the descriptor) behind
            if isinstance(exc, OSError):
                raise JournalWriteFailed(f"cannot open journal {self.path}: {_why(exc)}") from None
            raise

    def _load_writer(self, created: bool) -> None:
        if created:
            _fsync_dir(self.path.parent)
        assert self._fd is not None  # just opened by _open_writer
        data = disk.read_fd(self._fd)
        entries, parsed, known = self._parse(data)
        self._take(entries, parsed)
        if self.damage is not None:
            self.close()  # never write after damage; another opener will see the same
            return
        if parsed.torn:
            try:
                self._quarantine(parsed)
            except OSError as exc:
                self.close()
                self.readonly_reason = (f"the unacknowledged end of the journal could not be moved "
                                        f"aside ({_why(exc)}); opened read-only")
                self.warnings.append(self.readonly_reason)
                return
        self.readonly = False
        self.readonly_reason = None
        if parsed.fast:
            size, digest = known if known is not None else (0, hashlib.sha256())
            digest.update(memoryview(data)[size:parsed.good_bytes])
            self._verified, self._verified_size = digest, parsed.good_bytes
            self._saved_size = size
            self._save_checkpoint()

    # How far the writer's own appends may run ahead of the checkpoint on disk before it is
    # written again: a restart after a crash checks at most this much with the full rule.
    CHECKPOINT_EVERY = 256 * 1024

    def _checkpoint_extend(self, blob: bytes, head: tuple[int, str]) -> None:
        """After ``blob`` (whole lines continuing from ``head``) was written and fsynced: the
        verified prefix grows by it when the rule reads it on its common path (it was read
        back before it was written; the few microseconds again keep the checkpoint's promise
        to this module), and the checkpoint is written again every CHECKPOINT_EVERY bytes."""
        if self._verified is None:
            return
        try:
            parsed = lines.parse(blob, cutover=self.cutover_id, after=head)
            if parsed.damage is not None or parsed.torn or not parsed.fast:
                self._verified = None  # stop here: the next open checks from the last checkpoint
                return
            self._verified.update(blob)
            self._verified_size += len(blob)
            if self._verified_size - self._saved_size >= self.CHECKPOINT_EVERY:
                self._save_checkpoint()
        except Exception:  # noqa: BLE001 - the entry is recorded; a checkpoint is only a shortcut
            self._verified = None

    def _save_checkpoint(self) -> None:
        if self._verified is None or self._verified_size <= self._saved_size or self.readonly:
            return
        if checkpoint.save(self.path, self.cutover_id, self.entries, self._verified_size,
                           self._verified):
            self._saved_size = self._verified_size

    def _quarantine(self, parsed: lines.Parsed) -> None:
        torn, good = parsed.torn, parsed.good_bytes
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        n = 0
        while True:
            name = quarantine.quarantine_prefix(self.path) + stamp + (f"-{n}" if n else "")
            target = self.path.with_name(name)
            try:
                qfd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
                break
            except FileExistsError:
                n += 1
        try:
            view = memoryview(torn)
            while view:
                view = view[os.write(qfd, view):]
            _fsync(qfd)
        finally:
            os.close(qfd)
        _fsync_dir(self.path.parent)
        assert self._fd is not None
        os.ftruncate(self._fd, good)
        _fsync(self._fd)
        self.quarantined = target
        held = quarantine._inspect(target, self.entries)
        self.warnings.append(
            f"the end of the journal was never acknowledged ({parsed.tail_problem()}): cut short "
            f"by a crash or an edit; moved to {target}, which holds {held.what()}; the journal "
            f"continues from entry {len(self.entries)}")

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        return head_of(self.entries)

    def refresh(self) -> list[Entry]:
        """New whole entries (single ones, complete batches) another process appended."""
        if self._fd is not None or self.damage is not None:
            return []
        try:
            fd = disk.open_regular(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if self.entries:
                self._mark_damaged(lines.Damage(1, 1, "the journal file disappeared"))
            return []
        except JournalNotAFile as exc:
            self._mark_damaged(lines.Damage(self.head[0] + 1, len(self.entries) + 1, str(exc)))
            return []
        except OSError:
            return []
        try:
            size = os.fstat(fd).st_size
            if size < self._size:
                self._mark_damaged(lines.Damage(self.head[0], len(self.entries),
                                                "the journal got shorter: entries were cut"))
                return []
            data = disk.read_fd(fd, self._size)
        except OSError:
            return []
        finally:
            os.close(fd)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        return self._continue(data[:end])  # only complete lines, chained onto our head

    def _continue(self, chunk: bytes) -> list[Entry]:
        # An unfinished batch at the end of the chunk is left for a later refresh.
        parsed = lines.parse(chunk, cutover=self.cutover_id, after=self.head,
                             first_line=len(self.entries) + 1)
        self.entries.extend(parsed.entries)
        self._size += parsed.good_bytes
        if parsed.damage is not None:
            self._mark_damaged(parsed.damage)
        if parsed.entries:
            for callback in list(self._callbacks):
                callback()
        return parsed.entries

    def on_entries(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback()`` after ``refresh`` added entries another process appended (the
        same hook a shared journal has); returns the unsubscribe."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def _mark_damaged(self, damage: lines.Damage) -> None:
        self.damage = damage
        self.readonly_reason = f"journal damaged at {damage}; nothing was repaired"

    # -- writing ---------------------------------------------------------------------------

    shared = False  # this file is the journal of record (cockpit.journal.shared: a table is)

    def link(self) -> str | None:
        """Why the journal of record cannot be reached, for the header; a file has no link."""
        return None

    def append(self, action: str, *, actor: Actor, subject: str | None = None,
               reason_code: str | None = None, note: str | None = None, data: Any = None) -> Entry:
        """Write one entry and return it only once it is on disk (write + fsync)."""
        return self.append_many(actor, [dict(action=action, subject=subject,
                                             reason_code=reason_code, note=note, data=data)])[-1]

    def append_many(self, actor: Actor, items: list[dict[str, Any]]) -> list[Entry]:
        with self._lock:
            return self._append_many(actor, items)

    def _append_many(self, actor: Actor, items: list[dict[str, Any]]) -> list[Entry]:
        """Write several entries in one write and one fsync; return them once all are on disk.

        Thread-safe: one appender at a time.

        A reconciliation run can open thousands of exceptions; one fsync each would hold the
        journal for tens of seconds. Either every entry is acknowledged or none is: entries
        written together carry ``"batch": [i, n]``, and a batch a crash cut short (Linux stops a
        write at a page boundary when the process is killed) is never read as acknowledged;
        the next writer quarantines it like a torn line.
        Each item holds ``action`` and optionally ``subject``, ``reason_code``, ``note``, ``data``.
        """
        first = items[0]["action"] if items else "nothing"
        if self._fd is None or self.readonly:
            why = self.readonly_reason or "journal is closed"
            if self.damage is not None:
                raise JournalCorrupt(f"cannot record {first}: {why}")
            raise JournalReadOnly(f"cannot record {first}: {why}")
        if not items:
            return []
        written, blob = self.build_batch(actor, items)
        self._write(blob, written)
        return written[-len(items):]

    def build_batch(self, actor: Actor, items: list[dict[str, Any]]) -> tuple[list[Entry], bytes]:
        """The entries ``items`` make after the head, as every reader will read them, and their
        lines: every rule of an append (known action, depth, size, no secrets, the clock
        warning, the read-back) but nothing written. A shared journal builds its rows here.

        The result may hold one entry more than ``items``: a ``clock.warning`` first."""
        first = items[0]["action"] if items else "nothing"
        prepared = [self._prepare(item) for item in items]
        wall = self._clock.now() if self._clock is not None else time.time()
        seq, prev = self.head
        try:
            # Compare as recorded (millisecond timestamps), as the original single append did.
            probe = build(seq + 1, wall, self.cutover_id, actor, "clock.warning", subject=None,
                          reason_code=None, note=None, data=None, prev=prev)
        except (ValueError, OverflowError, OSError) as exc:
            raise JournalError(f"refused to record {first}: the clock gave no usable time "
                               f"({type(exc).__name__})") from None
        if self.entries and probe.wall < self.entries[-1].wall:
            last = self.entries[-1]
            prepared.insert(0, dict(
                action="clock.warning", actor=Actor.system(), subject=None, reason_code=None,
                note="wall clock went backwards; entries stay in journal order",
                data={"previous_ts": last.ts, "ts": probe.ts,
                      "behind_s": round(last.wall - probe.wall, 3)}))
        n = len(prepared)
        batch: list[Entry] = []
        for i, item in enumerate(prepared, 1):
            try:
                entry = build(seq + 1, wall, self.cutover_id, item.get("actor", actor),
                              item["action"], subject=item["subject"],
                              reason_code=item["reason_code"], note=item["note"],
                              data=item["data"], prev=prev, batch=(i, n) if n > 1 else None)
            except (ValueError, TypeError, RecursionError) as exc:
                raise JournalError(f"refused to record {item['action']}: it cannot be written as "
                                   f"JSON text ({type(exc).__name__})") from None
            batch.append(entry)
            seq, prev = entry.seq, entry.hash
        encoded = [entry.line() for entry in batch]
        for entry, line in zip(batch, encoded, strict=True):
            if len(line) > lines.MAX_LINE + 1:
                raise JournalError(f"refused to record {entry.action}: the entry would be "
                                   f"{len(line)} bytes, more than the {lines.MAX_LINE} a line may hold")
        self._refuse_secrets(prepared)
        blob = b"".join(encoded)
        return self._read_back(blob, batch, first), blob

    def append_verified(self, entries: list[Entry], blob: bytes) -> None:
        """Append entries already built and verified elsewhere (a shared journal's rows, read
        back by :func:`lines.parse` after this head), ``blob`` being exactly their lines: one
        write, one fsync, as every append. Raises :class:`JournalWriteFailed` like ``append``."""
        with self._lock:
            if self._fd is None or self.readonly:
                raise JournalReadOnly(f"cannot copy entries: {self.readonly_reason or 'journal is closed'}")
            if not entries:
                return
            seq, prev = self.head
            if entries[0].seq != seq + 1 or entries[0].prev != prev or blob.count(b"\n") != len(entries):
                raise JournalError(f"entries from seq {entries[0].seq} do not continue the head #{seq}")
            self._write(blob, entries)

    def _prepare(self, item: dict[str, Any]) -> dict[str, Any]:
        action = item["action"]
        if action not in ACTIONS:
            raise JournalError(f"unknown journal action {action!r}")
        try:
            data = jsonable(item.get("data"))
        except RecursionError:
            data = None
            deep = True
        else:
            deep = _too_deep(data, MAX_DEPTH)
        if deep:
            raise JournalError(f"refused to record {action}: its data nests deeper than "
                               f"{MAX_DEPTH} levels")
        fields = {f: item.get(f) for f in ("subject", "reason_code", "note")}
        if item.get("actor") is not None:  # a batch of several people's entries (a local-mode merge)
            fields["actor"] = item["actor"]
        return dict(action=action, data=data, **fields)

    @staticmethod
    def _refuse_secrets(prepared: list[dict[str, Any]]) -> None:
        for item in prepared:
            # Checked as it will be written (objects are recorded through their to_json()).
            secret = find_secret([item["subject"], item["reason_code"], item["note"], item["data"]])
            if secret:
                raise JournalError(f"refused to record {item['action']}: it looks like it holds "
                                   f"{secret}; the journal never stores secrets")

    def _read_back(self, blob: bytes, batch: list[Entry], first: str) -> list[Entry]:
        """The entries as every reader will read them; refuse what would not read back whole.

        The writer applies the readers' own rule before writing, so nothing it acknowledges can
        later be damage or be dropped (a subject that is not a string, a line past the limit).
        """
        parsed = lines.parse(blob, cutover=self.cutover_id, after=self.head,
                             first_line=len(self.entries) + 1)
        if parsed.damage is not None or parsed.torn or len(parsed.entries) != len(batch):
            why = parsed.damage.problem if parsed.damage is not None else "it does not read back whole"
            raise JournalError(f"refused to record {first}: {why}")
        if [e.hash for e in parsed.entries] != [e.hash for e in batch]:
            raise JournalError(f"refused to record {first}: it does not read back as written")
        return parsed.entries

    def _write(self, line: bytes, batch: list[Entry]) -> None:
        assert self._fd is not None
        what = "action was" if len(batch) == 1 else f"{len(batch)} entries were"
        try:
            n = _write(self._fd, line)
        except OSError as exc:
            self._after_failed_write()
            raise JournalWriteFailed(
                f"journal write failed: {_why(exc)} ({self.path}); the {what} NOT recorded") from None
        if n != len(line):
            self._go_readonly(f"a write was cut short ({n} of {len(line)} bytes; disk full?)")
            raise JournalWriteFailed(
                f"journal write cut short ({n} of {len(line)} bytes) in {self.path}; the {what} "
                "NOT recorded; restart the cockpit to quarantine the partial write")
        try:
            _fsync(self._fd)
        except OSError as exc:
            self._go_readonly(f"fsync failed ({_why(exc)}); never retried")
            # The line reached the page cache; without this a restart would replay an action
            # the operator was told was not recorded. Take it back; if even that fails, say so.
            if self._withdraw():
                raise JournalWriteFailed(
                    f"journal fsync failed: {_why(exc)} ({self.path}); the {what} NOT recorded "
                    "and the journal is read-only for this cockpit (restart it to re-check the "
                    "journal)") from None
            raise JournalWriteFailed(
                f"journal fsync failed: {_why(exc)} ({self.path}); the {what} may or may not be "
                "on disk: restart the cockpit to see what the journal holds") from None
        self._size += n
        self.entries.extend(batch)
        self._checkpoint_extend(line, (batch[0].seq - 1, batch[0].prev))

    def _withdraw(self) -> bool:
        """Cut the file back to the last acknowledged entry; True when that is durable."""
        assert self._fd is not None  # only after a write, which needs it open
        try:
            os.ftruncate(self._fd, self._size)
            _fsync(self._fd)
        except OSError:
            return False
        return True

    def _after_failed_write(self) -> None:
        # write(2) either writes or fails with nothing written; if the file grew anyway a
        # partial line may be on disk, which only the next open may quarantine.
        assert self._fd is not None  # only after a write, which needs it open
        try:
            grown = os.fstat(self._fd).st_size != self._size
        except OSError:
            grown = True
        if grown:
            self._go_readonly("a failed write may have left a partial line")

    def _go_readonly(self, why: str) -> None:
        self.readonly = True
        self.readonly_reason = f"{why}: the journal is read-only for this cockpit"

    # -- quarantine files ------------------------------------------------------------------

    def quarantines(self) -> list[Quarantine]:
        """Every ``<journal>.broken-*`` file beside the journal, acknowledged or not.

        Works for writers and read-only opens alike; files that did not change are not read
        again. Never waits for a write in progress.
        """
        entries = self.entries
        n = len(entries)
        if self._acks[0] != n:
            self._acks = (n, quarantine.acknowledged_keys(entries.with_action(QUARANTINE_ACK)))
        return quarantine.find(self.path, entries, self._acks[1], self._qcache)

    def unacknowledged_quarantines(self) -> list[Quarantine]:
        """The quarantine files no intact ``journal.quarantine_ack`` entry names (with sha256)."""
        return [q for q in self.quarantines() if not q.acknowledged]

    def acknowledge_quarantine(self, q: Quarantine, *, actor: Actor, note: str | None = None) -> Entry:
        """Record that an operator saw ``q`` (as listed: its name, size and sha256)."""
        return self.append(QUARANTINE_ACK, actor=actor, note=note,
                           **quarantine.ack_fields(q, self.path))

    def close(self) -> None:
        if self._fd is not None:
            self._save_checkpoint()  # while the lock is still held
            if self._holder_written:  # still ours: we hold the lock until just below
                self._holder_written = False
                with contextlib.suppress(OSError):
                    os.unlink(holder_path(self.path))
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if not self.readonly:
            self.readonly = True
            self.readonly_reason = "journal is closed"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

