"""``verify``: is the journal file intact, does it hold the head recorded elsewhere, and has every
quarantine file beside it been acknowledged?"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.journal import disk, lines, quarantine
from cockpit.journal.errors import JournalError
from cockpit.journal.quarantine import Quarantine

# 16 hex digits (64 bits) at least: someone able to rewrite the file can grind a free field
# (a note) until an entry's hash starts with a given 8 digits (32 bits) in minutes on a laptop.
MIN_HEAD_HEX = 16
_HEAD = re.compile(r"(?:#?([0-9]{1,18})(?::|\s+))?([0-9a-fA-F]+)")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool  # intact, and no quarantine file beside it waits for an acknowledgement
    count: int  # intact entries read
    head_seq: int
    head_hash: str | None
    bad_seq: int | None = None
    problem: str | None = None
    line: int | None = None
    intact: bool | None = None  # the file alone: every line an entry, whole, the head matched
    quarantines: tuple[Quarantine, ...] = field(default=())

    @property
    def unacknowledged(self) -> list[Quarantine]:
        return [q for q in self.quarantines if not q.acknowledged]

    def to_json(self) -> dict:
        return {"ok": self.ok, "count": self.count, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "bad_seq": self.bad_seq, "problem": self.problem,
                "line": self.line, "intact": self.intact,
                "quarantines": [q.to_json() for q in self.quarantines],
                "unacknowledged": len(self.unacknowledged)}


def parse_expect_head(text: str) -> tuple[int | None, str]:
    """``HASH``, ``SEQ:HASH`` or the cockpit header's ``#SEQ HASH``; at least 16 hex digits."""
    m = _HEAD.fullmatch(text.strip())
    if not m:
        raise ValueError(f"--expect-head {text.strip()[:80]!r} is not a hash, SEQ:HASH or "
                         "'#SEQ HASH'")
    digits = m.group(2)
    if len(digits) < MIN_HEAD_HEX:
        raise ValueError(f"--expect-head has {len(digits)} hex digits; give at least "
                         f"{MIN_HEAD_HEX} (64 bits): a shorter prefix can be matched by whoever "
                         "can rewrite the journal, by trying values of a free field")
    if len(digits) > 64:
        raise ValueError(f"--expect-head has {len(digits)} hex digits; a SHA-256 hash has 64")
    return (int(m.group(1)) if m.group(1) else None, digits.lower())


def verify(path: str | Path, expect_head: str | None = None) -> VerifyResult:
    """Check every entry by the one rule (the same as every open), the recorded head, and the
    quarantine files beside the journal. Every line, always: the verified checkpoint an open
    may trust (``cockpit.journal.checkpoint``) is never read here.

    Raises :class:`JournalError` if the file cannot be read (or is not a regular file) and
    ``ValueError`` for a badly written ``expect_head``. A recorded head passes when the journal
    holds that very entry (the journal may have grown since it was recorded); a journal cut or
    rewritten below it fails.
    """
    want = parse_expect_head(expect_head) if expect_head else None
    p = Path(path)
    data = disk.read_journal(p)
    if data is None:
        raise JournalError(f"cannot read {p}: No such file or directory")
    parsed = lines.parse(data)
    entries = parsed.entries
    found = tuple(quarantine.find(p, entries))
    intact = check_parsed(parsed, want)
    waiting = [q for q in found if not q.acknowledged]
    if not intact.ok or not waiting:
        return VerifyResult(intact.ok and not waiting, intact.count, intact.head_seq,
                            intact.head_hash, intact.bad_seq, intact.problem, intact.line,
                            intact.ok, found)
    names = ", ".join(q.name for q in waiting[:3]) + (", ..." if len(waiting) > 3 else "")
    problem = (f"{len(waiting)} quarantine file{'s' if len(waiting) > 1 else ''} beside the journal "
               f"not acknowledged ({names}): what was set aside must be looked at and "
               "acknowledged (journal.quarantine_ack)")
    return VerifyResult(False, intact.count, intact.head_seq, intact.head_hash, None, problem,
                        None, True, found)


def verify_data(data: bytes, expect_head: str | None = None) -> VerifyResult:
    """:func:`verify` of journal bytes that come from elsewhere than a file (the shared
    journal's table: its lines, each with its newline): the same rule and the same recorded-head
    check; there is no folder, so no quarantine file. ``ValueError`` for a bad ``expect_head``."""
    want = parse_expect_head(expect_head) if expect_head else None
    return check_parsed(lines.parse(data), want)


def check_parsed(parsed: lines.Parsed, want: tuple[int | None, str] | None) -> VerifyResult:
    """The verdict on parsed journal bytes: damage, a torn tail, the head
    recorded elsewhere (``want``). verify(), verify_data() and the evidence pack share it."""
    entries = parsed.entries
    head_seq = entries[-1].seq if entries else 0
    head_hash = entries[-1].hash if entries else None
    n = len(entries)

    def failed(seq: int | None, problem: str, line: int | None) -> VerifyResult:
        return VerifyResult(False, n, head_seq, head_hash, seq, problem, line)

    if parsed.damage is not None:
        d = parsed.damage
        return failed(d.seq, d.problem, d.line)
    if parsed.torn:
        return failed(n + 1, f"{parsed.tail_problem()}; the next cockpit to open the journal for "
                             "writing quarantines it", n + 1)
    if not entries and not want:
        return VerifyResult(True, 0, 0, None)
    if want:
        seq, prefix = want
        if seq is not None:
            if seq > n:
                return failed(n + 1, f"the recorded head is #{seq} but the journal ends at #{n}: "
                                     "entries were cut from the end", n + 1)
            if seq < 1 or not entries[seq - 1].hash.startswith(prefix):
                return failed(seq, f"entry #{seq} does not have the recorded head hash {prefix}: "
                                   "the journal was rewritten", seq)
        elif not any(e.hash.startswith(prefix) for e in reversed(entries)):
            return failed(None, f"the recorded head {prefix} is not in the journal: entries were "
                                "cut from the end or the journal was rewritten", None)
    return VerifyResult(True, n, head_seq, head_hash)
