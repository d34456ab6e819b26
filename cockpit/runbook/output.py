"""A step command's output on its way out: redacted line by line, saved whole to a private
file, and cut into short clean lines for the screen.

Command output is untrusted and may hold patient data or a secret the command printed. The
saved file is local evidence (the journal keeps only its sha256, size and path); what the
screen shows is a bounded tail of cleaned, redacted, capped lines.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from cockpit.text import clean

LINE_CHARS = 1000  # a shown line is at most this long
HOLD_BYTES = 1 << 20  # a line longer than this is redacted and saved in pieces
WINDOW = 4096  # secrets are taken to be shorter than this (characters) when a long line is cut
FILE_LIMIT = 1 << 30  # bytes of output saved; past it a note says the rest was not
NOTE = "[cockpit] "  # the cockpit's own lines in a saved output start with this

_SURROGATES = re.compile("[\ud800-\udfff]")
# A Log would split a line at these; clean() turns VT, FF, NEL and U+2028/9 into newlines.
_LINE_SEPARATORS = re.compile("[\n\u2028\u2029]")


class OutputError(Exception):
    """The output cannot be saved (one line, for the operator)."""


def _decode(raw: bytes | bytearray) -> str:
    # surrogateescape: bytes that are not UTF-8 survive redaction and are saved as they came.
    return bytes(raw).decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a redactor that returned a lone surrogate of its own
        return text.encode("utf-8", "replace")


class Transcript:
    """Output bytes in, as they come; out: the bytes to save and the lines to show.

    Saved: the output with every line (up to and including its ``\\n``) passed through
    ``redact`` as text, whole (the complete lines of one ``feed`` together); bytes that are
    not UTF-8 are kept as they came. A line longer than ``hold_bytes`` is redacted in
    pieces, cut only where ``redact`` changes nothing within
    ``window`` characters either side (so no secret shorter than that straddles the cut); a
    piece with no such place anywhere is withheld, and a note line says how many bytes were.
    The cockpit's own lines (``note``) start on a line of their own.

    Shown: per line, the text after its last carriage return (what a terminal would leave),
    undecodable bytes as U+FFFD, cleaned by :func:`cockpit.text.clean`, redacted again
    (cleaning can join what an escape sequence split), at most ``line_chars`` long; only the
    first piece of a line cut for its length is shown. Nothing here raises on any input.
    """

    def __init__(self, redact: Callable[[str], str], *, line_chars: int = LINE_CHARS,
                 hold_bytes: int = HOLD_BYTES, window: int = WINDOW,
                 show_last: int | None = None):
        self._redact = redact
        self.line_chars = line_chars
        # A held line is cut at least ``window`` characters in from either end, and a
        # character is at most four bytes.
        self.hold_bytes = max(hold_bytes, 4 * (2 * window + 1))
        self.window = window
        # Of the lines one ``feed`` completes, only the last ``show_last`` are made into shown
        # lines (a view keeping a tail of that length sees the same); None: all of them.
        self.show_last = show_last
        self.lines_seen = 0  # lines of output (and notes) so far, shown or not
        self._pending = bytearray()
        self._cut = False  # the line being read was cut for its length: its first piece shown
        self._at_line_start = True  # of what was handed out to save
        self.withheld = 0  # bytes withheld from the saved output (see above)

    @property
    def held(self) -> int:
        """Bytes of output held here, waiting for the end of their line."""
        return len(self._pending)

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        saved: list[bytes] = []
        shown: list[str] = []
        pending = self._pending
        scan = len(pending)  # what was held has no newline: look only at the new
        pending += data
        end = pending.rfind(b"\n", scan)
        if end != -1:
            self._lines(_decode(pending[:end + 1]), saved, shown)
            del pending[:end + 1]
        while len(self._pending) > self.hold_bytes:
            self._cut_long_line(saved, shown)
        return self._out(saved), shown

    def flush(self) -> tuple[bytes, list[str]]:
        """The end of a command's output: a last line without its newline goes out too."""
        saved: list[bytes] = []
        shown: list[str] = []
        if self._pending:
            self._piece(_decode(self._pending), True, saved, shown)
            self._pending.clear()
        self._cut = False
        return self._out(saved), shown

    def note(self, text: str) -> tuple[bytes, list[str]]:
        """One line of the cockpit's own (a command, an outcome), after any pending output."""
        out, shown = self.flush()
        lead = b"" if self._at_line_start else b"\n"
        saved: list[bytes] = []
        self._piece(text.replace("\n", " ") + "\n", True, saved, shown)
        return out + lead + self._out(saved), shown

    # -- inside ----------------------------------------------------------------------------
    def _out(self, saved: list[bytes]) -> bytes:
        data = b"".join(saved)
        if data:
            self._at_line_start = data.endswith(b"\n")
        return data

    def _lines(self, text: str, saved: list[bytes], shown: list[str]) -> None:
        """Complete lines (``text`` ends with a newline), redacted together: a secret has no
        newline in it, so none straddles what is cut here."""
        saved.append(_encode(self._redact(text)))
        lines = text.split("\n")[:-1]
        self.lines_seen += len(lines) - self._cut  # a cut line was counted at its first piece
        first = 1 if self._cut else 0
        if self.show_last is not None:
            first = max(first, len(lines) - self.show_last)
        shown.extend(self.show(self._redact(line)) for line in lines[first:])
        self._cut = False

    def _piece(self, text: str, complete: bool, saved: list[bytes], shown: list[str]) -> None:
        redacted = self._redact(text)
        saved.append(_encode(redacted))
        if not self._cut:
            self.lines_seen += 1
            shown.append(self.show(redacted))
        self._cut = not complete

    def _cut_long_line(self, saved: list[bytes], shown: list[str]) -> None:
        text = _decode(self._pending)
        w = self.window
        cut = len(text) - w
        while cut > w:
            around = text[cut - w:cut + w]
            if self._redact(around) == around:
                self._piece(text[:cut], False, saved, shown)
                break
            cut -= w
        else:
            cut = len(text) - w
            withheld = len(_encode(text[:cut]))
            self.withheld += withheld
            at_start = saved[-1].endswith(b"\n") if saved else self._at_line_start
            lead = b"" if at_start else b"\n"
            saved.append(lead + f"{NOTE}{withheld} bytes withheld: no place to cut this long "
                                 "line without splitting a secret\n".encode())
            if not self._cut:
                self.lines_seen += 1
                shown.append(self.show(self._redact(text[:cut])))
            self._cut = True
        self._pending = bytearray(_encode(text[cut:]))

    def show(self, text: str) -> str:
        """One line as the screen may show it (see the class)."""
        text = _SURROGATES.sub("\ufffd", text).rstrip("\r\n")
        text = text.rsplit("\r", 1)[-1]
        text = _LINE_SEPARATORS.sub(" ", clean(text, len(text) + 1))
        return clean(self._redact(text), self.line_chars)


class OutputFile:
    """The whole output, kept as evidence that may hold patient data.

    Created new (``O_EXCL | O_NOFOLLOW``, so never through a planted link or over an old
    file) with the journal's permissions: the file 0640 or stricter, in a folder made 0750 or
    stricter (tightened if it is looser and ours; refused if it cannot be). Hashed as it is
    written; at most ``limit`` bytes, then one note; fsynced with its folder on ``close``.
    Not thread-safe: one thread writes it.
    """

    def __init__(self, folder: Path, name: str, *, limit: int = FILE_LIMIT):
        self.limit = limit
        self.size = 0
        self.truncated = 0  # bytes not saved past the limit
        self._hash = hashlib.sha256()
        self._dir = _open_folder(Path(folder))
        try:
            self.path, self._fd = _create(self._dir, Path(folder), name)
        except BaseException:
            os.close(self._dir)
            raise

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if not data or self._fd < 0:
            return
        room = self.limit - self.size
        if len(data) > room:
            first = not self.truncated
            self.truncated += len(data) - max(room, 0)
            if not first:
                return
            data = data[:max(room, 0)] + (f"\n{NOTE}the output passed {self.limit} bytes: "
                                          "the rest was not saved\n").encode()
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        finally:
            self._hash.update(data[:len(data) - len(view)])
            self.size += len(data) - len(view)

    def close(self) -> None:
        """Durable, or :class:`OutputError`; the descriptors are closed either way."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
            os.fsync(self._dir)
        except OSError as exc:
            raise OutputError(f"cannot save {self.path}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
            os.close(self._dir)


def _open_folder(folder: Path) -> int:
    created = False
    try:
        folder.mkdir(mode=0o750)
        created = True
    except FileExistsError:
        pass
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise OutputError(f"cannot open {folder}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o027:
            if st.st_uid != os.geteuid():
                raise OutputError(f"{folder} is open to others (mode {mode:o}) and not ours "
                                  "to tighten: command output may hold patient data")
            os.fchmod(fd, mode & ~0o027)
        if created:
            parent = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(parent)
            finally:
                os.close(parent)
    except OSError as exc:
        os.close(fd)
        raise OutputError(f"cannot prepare {folder}: {exc.strerror or exc}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _create(dir_fd: int, folder: Path, name: str) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    stem, dot, ext = name.rpartition(".")
    for n in range(100):
        candidate = name if n == 0 else (f"{stem}-{n}.{ext}" if dot else f"{name}-{n}")
        try:
            return folder / candidate, os.open(candidate, flags, 0o640, dir_fd=dir_fd)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot create {folder / candidate}: {exc.strerror or exc}") from None
    raise OutputError(f"cannot create {folder / name}: 100 files of that name exist")
