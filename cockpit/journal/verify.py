"""``verify``: is the journal file intact, and does it hold the head recorded elsewhere?"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from cockpit.journal import lines
from cockpit.journal.errors import JournalError

_HEAD = re.compile(r"^(?:#?(\d+):)?([0-9a-fA-F]{8,64})$")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # intact entries read
    head_seq: int
    head_hash: str | None
    bad_seq: int | None = None
    problem: str | None = None
    line: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def parse_expect_head(text: str) -> tuple[int | None, str]:
    """``HASH``, ``SEQ:HASH`` (a hash prefix of at least 8 hex digits will do)."""
    m = _HEAD.match(text.strip())
    if not m:
        raise ValueError(f"--expect-head {text!r} is not a hash or SEQ:HASH (at least 8 hex digits)")
    return (int(m.group(1)) if m.group(1) else None, m.group(2).lower())


def verify(path: str | Path, expect_head: str | None = None) -> VerifyResult:
    """Check every entry strictly (canonical form, seq, chain, hash) and the recorded head.

    Raises :class:`JournalError` if the file cannot be read and ``ValueError`` for a badly
    written ``expect_head``. A recorded head passes when the journal holds that very entry
    (the journal may have grown since it was recorded); a journal cut or rewritten below it fails.
    """
    want = parse_expect_head(expect_head) if expect_head else None
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise JournalError(f"{p} is a directory, not a journal") from None
    except OSError as exc:
        raise JournalError(f"cannot read {p}: {exc.strerror or exc}") from None
    parsed = lines.parse(data, strict=True)
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
        return failed(n + 1, f"incomplete last line ({len(parsed.torn)} bytes, a torn write; a "
                             "cockpit opening the journal quarantines it)", n + 1)
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
