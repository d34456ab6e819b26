"""Opening and reading journal files the one way: never through a link, only regular files.

Whoever can write the journal's folder could otherwise choose where the evidence goes (a
symbolic link, even a dangling one, is followed by a plain ``open``), hang every verb in
``open(2)`` (a FIFO) or have a reader read forever (``/dev/zero``). So the last path component
is opened with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a FIFO opens at once instead of waiting for a
peer), ``fstat`` must say "regular file", and only then is ``O_NONBLOCK`` cleared.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

from cockpit.journal.errors import JournalError, JournalNotAFile

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def refused(path: Path, kind: str) -> JournalNotAFile:
    if kind == "a directory":
        return JournalNotAFile(f"{path} is a directory, not a journal")
    return JournalNotAFile(f"{path} is {kind}, not a regular file: refused (a journal is never "
                           "read or written through a link, a FIFO or a device)")


def _lstat_kind(path: Path) -> str:
    try:
        return _kind(os.lstat(path).st_mode)
    except OSError:
        return "not a regular file"


def open_regular(path: Path, flags: int, mode: int = 0o640) -> int:
    """A descriptor on the regular file at ``path`` (``flags`` as for ``os.open``).

    Raises :class:`JournalNotAFile` for anything else, ``OSError`` (for the caller to word) when
    the file cannot be opened at all.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENODEV, errno.EOPNOTSUPP):
            raise refused(path, "a directory" if exc.errno == errno.EISDIR else _lstat_kind(path)) \
                from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refused(path, _kind(st.st_mode))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(fd: int, offset: int = 0) -> bytes:
    """Everything in the file from ``offset``, however far it has grown meanwhile."""
    size = os.fstat(fd).st_size
    chunks = []
    want = max(size - offset, 1 << 16)
    while True:
        chunk = os.pread(fd, want, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        want = 1 << 20
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_journal(path: str | os.PathLike) -> bytes | None:
    """The bytes of the journal at ``path``, or None when there is no file there.

    Raises :class:`JournalNotAFile` (a link, FIFO, device or directory) or
    :class:`JournalError` when it cannot be read; both say so in one line.
    """
    p = Path(path)
    try:
        fd = open_regular(p, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalError(f"cannot read journal {p}: {exc.strerror or type(exc).__name__}") from None
    try:
        return read_fd(fd)
    except OSError as exc:
        raise JournalError(f"cannot read journal {p}: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)


# -- the shortcut files beside a journal (checkpoint, saved folds) ------------------------------


def read_beside(path: Path, limit: int) -> bytes | None:
    """The bytes of a file beside a journal that only speeds things up, or None for anything
    but a regular file of at most ``limit`` bytes that can be read now (never follows a link,
    never blocks on a FIFO, never raises): then the caller does the long way."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return None
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def write_beside(target: Path, blob: bytes) -> bool:
    """Replace such a file with ``blob`` atomically (a new file renamed over the old, never
    through a link); False when it could not be. No fsync: after a crash an old, empty or
    missing shortcut only means the long way, never trust in what it did not cover."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
                     | os.O_NONBLOCK, 0o640)
    except OSError:
        return False
    try:
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True
