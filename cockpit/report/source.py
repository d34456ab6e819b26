"""The journal as the pack reads it: every entry the one rule accepts (verified), and, after
damage, what can still be read of the lines past it, each entry kept and marked unverified.

A damaged journal still gives a report: hiding what follows the damage would hide what may be
the very thing an auditor needs to see; showing it as if it were evidence would be worse. So
the lines after the damage are decoded leniently (``json.loads`` and the entry shape, no chain,
no hash check) and every figure any of them touches is marked unverified in the facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cockpit.journal import Entry, lines
from cockpit.journal.verify import VerifyResult


@dataclass(frozen=True)
class Read:
    entries: list[Entry]  # verified ones first, then the leniently read ones
    verified: int  # how many of ``entries`` are verified
    unreadable: int  # lines after the damage that could not be read at all


def verified_count(result: VerifyResult, intact_entries: int) -> int:
    """How many leading entries the verification vouches for."""
    if result.ok or result.intact:
        return intact_entries
    if result.bad_seq is not None:
        return max(0, min(intact_entries, result.bad_seq - 1))
    return 0  # a recorded head that is nowhere in the journal: none of it is vouched for


def read(data: bytes, result: VerifyResult) -> Read:
    parsed = lines.parse(data)
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
            if not isinstance(e.seq, int) or not isinstance(e.action, str):
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
