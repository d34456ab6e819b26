"""The journal as the pack reads it: every entry the one rule accepts (verified), and, after
damage, what can still be read of the lines past it, each entry kept and marked unverified.

A damaged journal still gives a report: hiding what follows the damage would hide what may be
the very thing an auditor needs to see; showing it as if it were evidence would be worse. So
the lines after the damage are decoded leniently (``json.loads`` and the entry shape, no chain,
no hash check) and every figure any of them touches is marked unverified in the facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from cockpit.journal import Entry, lines, quarantine
from cockpit.journal.verify import VerifyResult, check_parsed, parse_expect_head


@dataclass(frozen=True)
class Read:
    entries: list[Entry]  # verified ones first, then the leniently read ones
    verified: int  # how many of ``entries`` are verified
    unreadable: int  # lines after the damage that could not be read at all


_OPTIONAL_TEXT = ("subject", "reason_code", "note")
_ACTOR_TEXT = ("operator", "os_user", "host", "session")


def _shaped(e: Entry) -> bool:
    """The types every reader of an entry relies on (the one rule checks them for the verified
    entries; a leniently read one must have them too, or it is counted unreadable)."""
    if type(e.seq) is not int or not isinstance(e.action, str) or not isinstance(e.ts, str):
        return False
    if not isinstance(e.cutover, str) or not isinstance(e.prev, str) or not isinstance(e.hash, str):
        return False
    if any(getattr(e, f) is not None and not isinstance(getattr(e, f), str)
           for f in _OPTIONAL_TEXT):
        return False
    a = e.actor
    return (all(isinstance(getattr(a, f), str) for f in _ACTOR_TEXT)
            and (a.ssh_client is None or isinstance(a.ssh_client, str)) and type(a.pid) is int)


def verified_count(result: VerifyResult, intact_entries: int) -> int:
    """How many leading entries the verification vouches for."""
    if result.ok or result.intact:
        return intact_entries
    if result.bad_seq is not None:
        return max(0, min(intact_entries, result.bad_seq - 1))
    return 0  # a recorded head that is nowhere in the journal: none of it is vouched for


def verify_and_read(data: bytes, expect_head: str | None,
                    path: Path | None = None) -> tuple[VerifyResult, Read]:
    """The verification of ``cockpit journal verify`` (``cockpit.journal.verify``: the byte
    rule, the recorded head, and for a file the quarantine files beside it) and the entries,
    from ONE parse of the bytes: a 100,000-entry journal is parsed once, not twice.
    ``ValueError`` for a badly written ``expect_head``; ``JournalError`` when the folder
    cannot be listed."""
    want = parse_expect_head(expect_head) if expect_head else None
    parsed = lines.parse(data)
    result = check_parsed(parsed, want)  # verify()'s and verify_data()'s own check of the bytes
    if path is not None:
        found = tuple(quarantine.find(path, parsed.entries))
        waiting = [q for q in found if not q.acknowledged]
        if result.ok and waiting:
            names = ", ".join(q.name for q in waiting[:3]) + (", ..." if len(waiting) > 3 else "")
            result = replace(result, ok=False, intact=True, quarantines=found, problem=(
                f"{len(waiting)} quarantine file{'s' if len(waiting) > 1 else ''} beside the "
                f"journal not acknowledged ({names}): what was set aside must be looked at and "
                "acknowledged (journal.quarantine_ack)"))
        else:
            result = replace(result, intact=result.ok, quarantines=found)
    return result, read(data, result, parsed)


def read(data: bytes, result: VerifyResult, parsed: lines.Parsed | None = None) -> Read:
    parsed = parsed if parsed is not None else lines.parse(data)
    good = parsed.entries
    n = verified_count(result, len(good))
    rest: list[Entry] = list(good[n:])
    unreadable = 0
    tail = data[parsed.good_bytes:]
    actors: dict[tuple, object] = {}
    last_seq = rest[-1].seq if rest else (good[n - 1].seq if n else 0)
    for raw in tail.splitlines():
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
            e = Entry.from_json(doc, actors)  # type: ignore[arg-type]
            if not _shaped(e):
                raise ValueError("not an entry")
        except Exception:  # anything at all: a damaged line is counted, never fatal
            unreadable += 1
            continue
        if e.seq <= last_seq:
            unreadable += 1  # a repeated or reordered seq: shown nowhere as if in order
            continue
        last_seq = e.seq
        rest.append(e)
    return Read(list(good[:n]) + rest, n, unreadable)
