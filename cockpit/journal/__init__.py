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
``hash``. ``prev`` is the previous entry's ``hash`` (64 zeros for the first entry) and::

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
into notifications and the evidence pack.

Guarantees
----------
- Durable before visible: ``append`` returns only after ``write`` + ``fsync`` of the line (and
  of the directory when the file was created). Any failure raises :class:`JournalWriteFailed`
  and leaves ``entries``/``head`` unchanged; after a failed ``fsync`` (or a write that may have
  left a partial line) the journal is read-only for the rest of the process: never retried.
- One writer: ``flock(LOCK_EX | LOCK_NB)`` on the journal file; a second writer gets
  :class:`JournalLocked` and may open with ``readonly=True`` (and ``refresh()`` to follow).
- Torn tail: a last line without its newline was never acknowledged (the newline is the last
  byte of the single write); the writer copies it to ``<journal>.broken-<UTC time>``
  (fsynced), truncates it away and reports it in ``warnings``/``quarantined``. Damage anywhere
  else opens the journal read-only, ``readonly_reason``/``damage`` naming the bad seq; nothing is
  ever repaired.
- Clock sanity: when the wall clock goes backwards, a ``clock.warning`` entry (data:
  ``previous_ts``, ``ts``, ``behind_s``) is appended just before the action's entry; entries are
  never reordered and keep their true timestamps.
- No secrets: ``append`` refuses a subject, note, reason code or data that looks like it holds a
  password, a password in a URL, or a bearer/basic/API token (``guard.find_secret``).
'''

from cockpit.journal.entry import ACTIONS, GENESIS, Actor, Entry, canonical, chain_hash
from cockpit.journal.errors import (
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalReadOnly,
    JournalWriteFailed,
)
from cockpit.journal.file import Journal
from cockpit.journal.lines import Damage
from cockpit.journal.verify import VerifyResult, parse_expect_head, verify

__all__ = [
    "ACTIONS",
    "GENESIS",
    "Actor",
    "Damage",
    "Entry",
    "Journal",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalReadOnly",
    "JournalWriteFailed",
    "VerifyResult",
    "canonical",
    "chain_hash",
    "parse_expect_head",
    "verify",
]
