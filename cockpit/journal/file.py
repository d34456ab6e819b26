"""The journal file: one locked writer, durable appends, torn-tail quarantine, read-only watchers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.journal import lines
from cockpit.journal.entry import ACTIONS, GENESIS, Actor, Entry, build
from cockpit.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalReadOnly,
    JournalWriteFailed,
)
from cockpit.journal.guard import find_secret

# The two calls that make an append durable; tests that cannot make the kernel fail (a failing
# fsync) replace these, and say so.
_write = os.write
_fsync = os.fsync


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


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
        self.entries: list[Entry] = []
        self.readonly = True
        self.readonly_reason: str | None = None
        self.damage: lines.Damage | None = None
        self.quarantined: Path | None = None
        self.warnings: list[str] = []

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike, *, cutover_id: str, readonly: bool = False,
             clock: Any = None) -> Journal:
        """Open for writing (taking the lock), or ``readonly`` to watch.

        Raises :class:`JournalLocked` when another cockpit writes to it and
        :class:`JournalWriteFailed` when it cannot be created or opened for writing.
        A damaged journal opens read-only with ``readonly_reason`` naming the bad seq.
        """
        j = cls(Path(path), cutover_id, clock)
        if readonly:
            j.readonly_reason = "opened read-only"
            j._load_readonly()
        else:
            j._open_writer()
        return j

    def _read_all(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except IsADirectoryError:
            raise JournalError(f"{self.path} is a directory, not a journal") from None
        except OSError as exc:
            raise JournalError(f"cannot read journal {self.path}: {_why(exc)}") from None

    def _load_readonly(self) -> None:
        if not self.path.exists():
            self.warnings.append(f"no journal yet at {self.path}: nothing has been done")
            return
        parsed = lines.parse(self._read_all(), cutover=self.cutover_id)
        self._take(parsed)
        if parsed.torn:
            self.warnings.append(
                f"last line of {self.path} is incomplete ({len(parsed.torn)} bytes, never "
                "acknowledged): a writer crashed or is writing; the next writer quarantines it")

    def _take(self, parsed: lines.Parsed) -> None:
        self.entries = parsed.entries
        self._size = parsed.good_bytes
        if parsed.damage is not None:
            self.damage = parsed.damage
            self.readonly = True
            self.readonly_reason = (f"journal damaged at {parsed.damage}; opened read-only, "
                                    "nothing was repaired (run: cockpit journal verify)")

    def _open_writer(self) -> None:
        parent = self.path.parent
        try:
            if not parent.exists():
                parent.mkdir(parents=True, exist_ok=True)
                _fsync_dir(parent.parent)
            existed = self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise JournalWriteFailed(
                f"cannot open journal {self.path} for writing: {_why(exc)} "
                "(open it read-only to watch)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalLocked(
                f"journal {self.path} is in use by another cockpit (it holds the write lock); "
                "open it read-only to watch") from None
        self._fd = fd
        try:
            if not existed:
                _fsync_dir(parent)
            parsed = lines.parse(self._read_all(), cutover=self.cutover_id)
        except (OSError, JournalError) as exc:
            self.close()
            msg = str(exc) if isinstance(exc, JournalError) else _why(exc)
            raise JournalWriteFailed(f"cannot open journal {self.path}: {msg}") from None
        self._take(parsed)
        if self.damage is not None:
            self.close()  # never write after damage; another opener will see the same
            return
        if parsed.torn:
            try:
                self._quarantine(parsed.torn, parsed.good_bytes)
            except OSError as exc:
                self.close()
                self.readonly_reason = (f"the incomplete last line could not be moved aside "
                                        f"({_why(exc)}); opened read-only")
                self.warnings.append(self.readonly_reason)
                return
        self.readonly = False
        self.readonly_reason = None

    def _quarantine(self, torn: bytes, good: int) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        n = 0
        while True:
            target = self.path.with_name(f"{self.path.name}.broken-{stamp}" + (f"-{n}" if n else ""))
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
        self.warnings.append(
            f"the last line was cut short by a crash ({len(torn)} bytes, never acknowledged); "
            f"moved to {target}; the journal continues from entry {len(self.entries)}")

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, str]:
        if not self.entries:
            return (0, GENESIS)
        last = self.entries[-1]
        return (last.seq, last.hash)

    def refresh(self) -> list[Entry]:
        """New complete entries another process appended (read-only watchers)."""
        if self._fd is not None or self.damage is not None:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                if size < self._size:
                    self._mark_damaged(lines.Damage(self.head[0], len(self.entries),
                                                    "the journal got shorter: entries were cut"))
                    return []
                f.seek(self._size)
                data = f.read()
        except FileNotFoundError:
            if self.entries:
                self._mark_damaged(lines.Damage(1, 1, "the journal file disappeared"))
            return []
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        return self._continue(data[:end])  # only complete lines, chained onto our head

    def _continue(self, chunk: bytes) -> list[Entry]:
        parsed = lines.parse(chunk, cutover=self.cutover_id, after=self.head,
                             first_line=len(self.entries) + 1)
        self.entries.extend(parsed.entries)
        self._size += parsed.good_bytes
        if parsed.damage is not None:
            self._mark_damaged(parsed.damage)
        return parsed.entries

    def _mark_damaged(self, damage: lines.Damage) -> None:
        self.damage = damage
        self.readonly_reason = f"journal damaged at {damage}; nothing was repaired"

    # -- writing ---------------------------------------------------------------------------

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
        journal for tens of seconds. Either every entry is acknowledged or none is (a crash
        mid-write leaves at most a torn last line, quarantined on the next open).
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
        for item in items:
            if item["action"] not in ACTIONS:
                raise JournalError(f"unknown journal action {item['action']!r}")
            secret = find_secret([item.get("subject"), item.get("reason_code"), item.get("note"),
                                  item.get("data")])
            if secret:
                raise JournalError(f"refused to record {item['action']}: it looks like it holds "
                                   f"{secret}; the journal never stores secrets")
        wall = self._clock.now() if self._clock is not None else time.time()
        seq, prev = self.head
        batch: list[Entry] = []
        # Compare as recorded (millisecond timestamps), as the original single append did.
        probe = build(seq + 1, wall, self.cutover_id, actor, "clock.warning", subject=None,
                      reason_code=None, note=None, data=None, prev=prev)
        if self.entries and probe.wall < self.entries[-1].wall:
            last = self.entries[-1]
            warning = build(seq + 1, wall, self.cutover_id, Actor.system(), "clock.warning",
                            subject=None, reason_code=None,
                            note="wall clock went backwards; entries stay in journal order",
                            data={"previous_ts": last.ts, "ts": probe.ts,
                                  "behind_s": round(last.wall - probe.wall, 3)}, prev=prev)
            batch.append(warning)
            seq, prev = warning.seq, warning.hash
        for item in items:
            entry = build(seq + 1, wall, self.cutover_id, actor, item["action"],
                          subject=item.get("subject"), reason_code=item.get("reason_code"),
                          note=item.get("note"), data=item.get("data"), prev=prev)
            batch.append(entry)
            seq, prev = entry.seq, entry.hash
        self._write(batch)
        return batch[-len(items):]

    def _write(self, batch: list[Entry]) -> None:
        assert self._fd is not None
        line = b"".join(entry.line() for entry in batch)
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
                "NOT recorded; restart the cockpit to quarantine the partial line")
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

    def _withdraw(self) -> bool:
        """Cut the file back to the last acknowledged entry; True when that is durable."""
        try:
            os.ftruncate(self._fd, self._size)
            _fsync(self._fd)
        except OSError:
            return False
        return True

    def _after_failed_write(self) -> None:
        # write(2) either writes or fails with nothing written; if the file grew anyway a
        # partial line may be on disk, which only the next open may quarantine.
        try:
            grown = os.fstat(self._fd).st_size != self._size
        except OSError:
            grown = True
        if grown:
            self._go_readonly("a failed write may have left a partial line")

    def _go_readonly(self, why: str) -> None:
        self.readonly = True
        self.readonly_reason = f"{why}: the journal is read-only for this cockpit"

    def close(self) -> None:
        if self._fd is not None:
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

