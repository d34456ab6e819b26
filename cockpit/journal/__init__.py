'''The audit journal: append-only, hash-chained, one JSON entry per line, fsynced before use.

It is the evidence (who, what, when, from where) and the only store of runbook progress:
the runbook state is rebuilt by replaying it (``cockpit.runbook.replay``).

The byte rule
-------------
Each line is the canonical JSON of one entry followed by ``"\\n"``, where canonical means
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")``.
An entry has exactly the keys ``seq`` (1, 2, 3 ... no gaps), ``ts`` (UTC, ISO-8601 with
milliseconds, ``Z``), ``cutover``, ``actor`` (``operator``, ``os_user``, ``host``, ``ssh_client``,
``pid``, ``session``), ``action``, ``subject``, ``reason_code``, ``note``, ``data``, ``prev`` and
``hash``; an entry written in a batch of ``n > 1`` entries (one write, one fsync: a
reconciliation run, or an append the clock made into a ``clock.warning`` plus the action) also
has ``batch`` = ``[i, n]`` (1-based), covered by the hash like every other field; a single
append has no ``batch`` key. ``prev`` is the previous entry's ``hash`` (64 zeros for the first
entry) and::

    hash = sha256(prev.encode("ascii") + b"\\n" + canonical(entry without "hash")).hexdigest()

An auditor re-verifies with nothing but Python::

    import hashlib, json, sys
    prev, n = "0" * 64, 0
    for n, line in enumerate(open(sys.argv[1], "rb"), 1):
        e = json.loads(line); h = e.pop("hash")
        body = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert e["seq"] == n and e["prev"] == prev, f"line {n}: chain broken"
        assert hashlib.sha256(prev.encode() + b"\\n" + body).hexdigest() == h, f"line {n}: altered"
        prev = h
    print(f"OK: {n} entries, head #{n} {prev}")  # compare with the head recorded elsewhere

A chain catches edits, reordering and deletions but not a cut tail or a wholesale rewrite;
that is why the head (seq and hash) is also printed by ``verify``, shown by the TUI and written
into notifications and the evidence pack. ``verify --expect-head`` wants at least 16 hex digits
of it (64 bits): 8 can be matched by grinding a free field in minutes.

One rule for every reader
-------------------------
The writer's open, read-only opens, ``refresh``, ``verify`` and ``show`` apply the same rule
(``cockpit.journal.lines``): a line is exactly ``canonical(json.loads(line)) + "\\n"`` of an
entry of the shape above that continues the seq and the chain with a matching hash. Anything
else (other spacing, a duplicate key, NaN, a lone surrogate, non-UTF-8 or NUL bytes, a line past
16 MiB, a 400-digit seq) is damage reported at that line's seq, never an exception. The writer
runs the same rule over what it is about to write and refuses what would not read back.
The journal is opened only as a regular file and never through a symbolic link (``O_NOFOLLOW``;
a FIFO, a device or a directory is refused at once: :class:`JournalNotAFile`).

Guarantees
----------
- Durable before visible: ``append`` returns only after ``write`` + ``fsync`` of the line (and
  of the directory when the file was created, and of every folder created on the way, each with
  its parent). Any failure raises :class:`JournalWriteFailed`
  and leaves ``entries``/``head`` unchanged; after a failed ``fsync`` (or a write that may have
  left a partial line) the journal is read-only for the rest of the process: never retried.
- One writer: ``flock(LOCK_EX | LOCK_NB)`` on the journal file; a second writer gets
  :class:`JournalLocked` and may open with ``readonly=True`` (and ``refresh()`` to follow).
- The newline is the commit mark: an append is one ``write(2)`` of whole lines, newline last,
  then ``fsync``, and returns only after both, so an acknowledged entry always has its newline.
  A last line without it was never acknowledged, whatever it holds (even a whole entry whose
  newline was deleted).
- A batch is atomic: its entries count only once all ``n`` are in the file. A batch cut short
  at the end (a process killed mid-write: Linux stops a write at a page boundary) was never
  acknowledged, like a torn line; an unfinished or malformed batch anywhere else is damage.
- Unacknowledged tail: the next writer copies it to ``<journal>.broken-<UTC time>`` (fsynced),
  truncates it away and reports it in ``warnings``/``quarantined``; read-only opens and
  ``verify`` report it (exit 1) without touching it. Damage anywhere else opens the journal
  read-only, ``readonly_reason``/``damage`` naming the bad seq; nothing is ever repaired.
- Never silently: ``Journal.quarantines()`` (or ``quarantines(path)`` without opening) lists
  every ``<journal>.broken-*`` file with its size, sha256 and, when its bytes hold complete
  entries chaining onto the journal, which (seq, action, subject, hash) were set aside. A
  quarantine file is acknowledged once an intact ``journal.quarantine_ack`` entry names it
  (``data``: name, size, sha256; ``Journal.acknowledge_quarantine``); until then
  ``unacknowledged_quarantines()`` returns it and ``verify`` fails (exit 1).
- Clock sanity: when the wall clock goes backwards, a ``clock.warning`` entry (data:
  ``previous_ts``, ``ts``, ``behind_s``) is appended just before the action's entry; entries are
  never reordered and keep their true timestamps.
- No secrets: ``append`` refuses a subject, note, reason code or data that looks like it holds a
  password, a password in a URL, or a bearer/basic/API token (``guard.find_secret``).
'''

from cockpit.journal.disk import read_journal
from cockpit.journal.entry import ACTIONS, GENESIS, Actor, Entry, canonical, chain_hash
from cockpit.journal.errors import (
    JournalConflict,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalNotAFile,
    JournalReadOnly,
    JournalWriteFailed,
)
from cockpit.journal.file import Journal
from cockpit.journal.lines import Damage
from cockpit.journal.quarantine import (
    QUARANTINE_ACK,
    Quarantine,
    SetAside,
    quarantines,
    unacknowledged_quarantines,
)
from cockpit.journal.verify import VerifyResult, parse_expect_head, verify

__all__ = [
    "ACTIONS",
    "GENESIS",
    "Actor",
    "Damage",
    "Entry",
    "Journal",
    "JournalConflict",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalNotAFile",
    "JournalReadOnly",
    "JournalWriteFailed",
    "QUARANTINE_ACK",
    "Quarantine",
    "SetAside",
    "VerifyResult",
    "canonical",
    "chain_hash",
    "parse_expect_head",
    "quarantines",
    "read_journal",
    "unacknowledged_quarantines",
    "verify",
]
