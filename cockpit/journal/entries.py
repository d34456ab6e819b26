"""A journal's entries as one sequence: a verified prefix kept as its lines, each line decoded
when it is first read, then the entries read or appended after that prefix.

Why: a night's journal is 100,000 lines (63 MB) and decoding every one is most of a second,
while the first screen needs the newest few and the folds saved beside the journal
(``cockpit.runbook.foldcache``). The prefix's lines are those a checkpoint vouches for: byte
for byte what the one rule accepted (``lines.parse_verified``), so a line is decoded without
being checked again, into the entry the full rule built from it.

It reads like the list it replaces (``len``, indexes, slices, iteration, ``append``,
``extend``, equality with a list); a reader that iterates it all decodes it all, once.
One writer appends (the journal's, under its lock) while other threads read: every entry
is decoded the same whichever thread decodes it first, so readers never need a lock.
"""

from __future__ import annotations

import contextlib
import gc
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

from cockpit.journal.entry import Entry, canonical

# decode(data, line ends, start, stop) -> the entries of those lines (lines.decoder)
Decoder = Callable[[bytes, Sequence[int], int, int], list[Entry]]
_RUN = 4096  # lines an iteration decodes together, the cyclic collector kept out (no_gc)


class Entries(Sequence[Entry]):
    __slots__ = ("_data", "_ends", "_done", "_upto", "_tail", "_decode")

    def __init__(self, entries: Iterable[Entry] = ()):
        self._data = b""  # the prefix's bytes (or more: only its lines are read)
        self._ends = array("q")  # where each of its lines ends (its newline's offset)
        self._done: list[Entry | None] = []  # its entries, as they are decoded
        self._upto = 0  # every one of its lines before this one is decoded
        self._tail: list[Entry] = list(entries)
        self._decode: Decoder | None = None

    @classmethod
    def of_lines(cls, data: bytes, size: int, decode: Decoder) -> Entries:
        """Entries of the verified lines in ``data[:size]`` (whole lines), decoded by
        ``decode`` (``lines.decoder``) as they are first read."""
        out = cls()
        ends = out._ends
        # One search per line, never a copy of a line (63 MB in 100,000 small objects costs
        # more to allocate than the search).
        find, append = data.find, ends.append
        pos = find(b"\n", 0, size)
        while pos >= 0:
            append(pos)
            pos = find(b"\n", pos + 1, size)
        out._data = data
        out._done = [None] * len(ends)
        out._decode = decode
        return out

    def copy(self) -> Entries:
        """Another sequence of the same entries that grows on its own (the prefix, which never
        changes, is shared: a line decoded through either is decoded for both)."""
        out = Entries(self._tail)
        out._data, out._ends, out._done, out._decode = self._data, self._ends, self._done, self._decode
        out._upto = self._upto
        return out

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._done) + len(self._tail)

    @overload
    def __getitem__(self, i: int) -> Entry: ...

    @overload
    def __getitem__(self, i: slice) -> list[Entry]: ...

    def __getitem__(self, i: int | slice) -> Entry | list[Entry]:
        n = len(self._done)
        if isinstance(i, slice):
            start, stop, step = i.indices(n + len(self._tail))
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            if start >= n:
                return self._tail[start - n:stop - n]
            return self._decoded(start, min(stop, n)) + self._tail[:max(0, stop - n)]
        if i < 0:
            i += n + len(self._tail)
            if i < 0:
                raise IndexError("journal entry index out of range")
        if i < n:
            return self._done[i] or self._decode_at(i)
        return self._tail[i - n]

    def __iter__(self) -> Iterator[Entry]:
        n = len(self._done)
        for start in range(0, n, _RUN):
            yield from self._decoded(start, min(start + _RUN, n))
        yield from self._tail

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Entries, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it stands for

    def __repr__(self) -> str:
        return f"Entries({len(self)} entries, {self.undecoded()} not decoded yet)"

    def with_action(self, action: str) -> list[Entry]:
        """The entries of one action, in order, decoding only theirs: a verified line is
        canonical JSON with sorted keys, so it starts with its action (``{"action":"...",``),
        and a line of any other action cannot start with those bytes (a quote inside a
        string is always escaped)."""
        start = b'{"action":' + canonical(action) + b","
        data, ends = self._data, self._ends
        lines: list[int] = []
        if ends:
            if data.startswith(start):
                lines.append(0)
            # One search through the prefix in C, not a test per line: a match is a newline
            # (the end of line k - 1) followed by line k's first bytes, all inside the prefix.
            find, after = data.find, b"\n" + start
            pos = find(after, 0, ends[-1])
            while pos >= 0:
                lines.append(bisect_left(ends, pos) + 1)
                pos = find(after, pos + 1, ends[-1])
        out = [self[k] for k in lines]
        out.extend(e for e in self._tail if e.action == action)
        return out

    def undecoded(self) -> int:
        """How many of the prefix's lines were never read (tests, benchmarks)."""
        return self._done.count(None)

    # -- growing ---------------------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        self._tail.append(entry)

    def extend(self, entries: Iterable[Entry]) -> None:
        self._tail.extend(entries)

    # -- decoding --------------------------------------------------------------------------

    def _decode_at(self, i: int) -> Entry:
        assert self._decode is not None  # a prefix always has its decoder
        # Decoded twice at worst, when two threads read it first at once: the same entry.
        e = self._done[i] = self._decode(self._data, self._ends, i, i + 1)[0]
        return e

    def _decoded(self, start: int, stop: int) -> list[Entry]:
        done = self._done
        if stop > self._upto:
            assert self._decode is not None  # a prefix always has its decoder
            with no_gc():
                k = start
                while k < stop:  # each run of lines not decoded yet, in one call
                    if done[k] is not None:
                        k += 1
                        continue
                    end = k + 1
                    while end < stop and done[end] is None:
                        end += 1
                    done[k:end] = self._decode(self._data, self._ends, k, end)
                    k = end
            if start <= self._upto:
                self._upto = stop
        return done[start:stop]  # type: ignore[return-value]


@contextlib.contextmanager
def no_gc():
    """The cyclic collector kept out of a run of decoding: each entry is about ten containers
    and none form cycles, and chasing them through 100,000 entries costs more than decoding."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
