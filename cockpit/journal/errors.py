"""Journal errors: each carries a one-line message an operator can act on."""

from __future__ import annotations

from pathlib import Path


class JournalError(Exception):
    """Base class; ``str(exc)`` is one line, fit to show as-is."""


class JournalLocked(JournalError):
    """Another cockpit holds the write lock on this journal. ``holder``: who (one line:
    pid, operator, user@host, since), or None when that was not recorded; ``path``."""

    holder: str | None = None
    path: Path | None = None


class JournalReadOnly(JournalError):
    """The journal was opened read-only (asked for, damaged, or after a failed write)."""


class JournalCorrupt(JournalReadOnly):
    """An entry before the tail is damaged: the journal is never repaired silently."""


class JournalWriteFailed(JournalError):
    """The line could not be made durable; the action did not happen."""


class JournalNotAFile(JournalError):
    """The journal path is a link, a FIFO, a device or a directory: refused, never followed."""


class JournalConflict(JournalError):
    """Another cockpit appended to the shared journal first: nothing of this append was
    recorded, and the journal has already read what the other one wrote. The caller checks
    its action again against the new state (``Operations`` does) and appends or refuses."""
