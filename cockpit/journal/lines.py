"""Reading journal bytes back into entries: one rule for every reader, checked on every line.

The rule (the writer's open, read-only opens, ``refresh``, ``verify``, ``show`` and the
quarantine listing all apply it, through :func:`parse`):

- a line is exactly ``canonical(json.loads(line))`` (so no other spacing, key order, escape,
  number spelling or duplicate key), holds one entry of the documented shape, continues the seq
  and the chain, and its hash is the digest of its body;
- entries written in one batch (``"batch": [i, n]``) count only once all ``n`` are there: a
  batch cut short at the end of the file was never acknowledged (like a last line without its
  newline); anywhere else it is damage;
- anything else is damage at that line, reported, never an exception.

orjson decodes (about five times faster than the standard library), but only ``json.dumps``
decides what is canonical: a line orjson reads differently (an integer past 64 bits, which it
turns into a float) is decoded again by the standard library before it is judged.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from cockpit.journal.entries import Decoder, Entries, no_gc
from cockpit.journal.entry import (
    ACTOR_FIELDS,
    BATCH,
    FIELDS,
    GENESIS,
    Actor,
    Entry,
    canonical,
    chain_hash,
    parse_ts,
)

MAX_LINE = 16 * 1024 * 1024  # longer lines are damage, never decoded; the writer refuses them
MAX_BATCH = 2**31 - 1
_BIG = 2**63  # seq and pid are below this (a pid_t, and far more entries than a night makes)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z").fullmatch


@dataclass(frozen=True)
class Damage:
    seq: int  # the seq the bad line holds, or the seq expected there when it cannot be read
    line: int  # 1-based line number in the file
    problem: str

    def __str__(self) -> str:
        return f"seq {self.seq} (line {self.line}): {self.problem}"


@dataclass
class Parsed:
    entries: list[Entry]  # every acknowledged entry: single ones and whole batches
    good_bytes: int  # length of the prefix holding exactly those entries
    damage: Damage | None
    # The unacknowledged tail after ``good_bytes`` when there is no damage: the lines of a
    # batch cut short and/or a last line without its newline; b"" when there is none.
    torn: bytes
    pending: list[Entry] = field(default_factory=list)  # intact entries of that unfinished batch
    batch_size: int | None = None  # its n
    # Every entry was taken on the common path (orjson's value is the canonical one): only then
    # may :func:`parse_verified` stand in for this parse of the same bytes (a checkpoint).
    fast: bool = True

    def tail_problem(self) -> str | None:
        """What the unacknowledged tail is, in one line, or None when there is none."""
        if not self.torn:
            return None
        if not self.pending:
            return f"incomplete last line ({len(self.torn)} bytes, a torn write, never acknowledged)"
        cut = "" if self.torn.endswith(b"\n") else " and a cut line"
        return (f"unfinished batch at seq {self.pending[0].seq}: {len(self.pending)} of "
                f"{self.batch_size} entries{cut} ({len(self.torn)} bytes, never acknowledged)")


_KEYS = frozenset(FIELDS)
_KEYS_BATCH = _KEYS | {BATCH}
_ACTOR_KEYS = frozenset(ACTOR_FIELDS)


_ENTRY_SLOTS = ("seq", "ts", "cutover", "actor", "action", "subject", "reason_code", "note", "data",
                "prev", "hash", "wall", "batch")


def _entry_maker():
    """``Entry(...)`` without the frozen dataclass's ``__init__`` (13 ``object.__setattr__``
    calls, as costly as decoding the line): the same slots set through their descriptors.
    Only while Entry is a frozen slots dataclass of exactly these fields, in this order, with
    no ``__post_init__``; otherwise Entry itself."""
    names = tuple(f.name for f in dataclasses.fields(Entry))
    if (names != _ENTRY_SLOTS or getattr(Entry, "__slots__", None) != names
            or hasattr(Entry, "__post_init__")):
        return Entry
    (s_seq, s_ts, s_cut, s_actor, s_action, s_subject, s_reason, s_note, s_data, s_prev, s_hash,
     s_wall, s_batch) = (getattr(Entry, name).__set__ for name in names)
    new = object.__new__

    def make(seq, ts, cutover, actor, action, subject, reason_code, note, data, prev, hash_, wall,
             batch):
        e = new(Entry)
        s_seq(e, seq)
        s_ts(e, ts)
        s_cut(e, cutover)
        s_actor(e, actor)
        s_action(e, action)
        s_subject(e, subject)
        s_reason(e, reason_code)
        s_note(e, note)
        s_data(e, data)
        s_prev(e, prev)
        s_hash(e, hash_)
        s_wall(e, wall)
        s_batch(e, batch)
        return e

    return make


_entry = _entry_maker()


def _is_opt_str(v: object) -> bool:
    return v is None or type(v) is str


def _shape(d: object) -> str | None:
    if type(d) is not dict:
        return "not a JSON object"
    keys = d.keys()
    a = d.get("actor")
    if (keys in (_KEYS, _KEYS_BATCH) and type(d["seq"]) is int and 0 < d["seq"] < _BIG
            and type(d["ts"]) is str and _TS(d["ts"]) and type(d["cutover"]) is str
            and type(d["action"]) is str
            # hex-ness is left to the chain check: a non-hex hash never equals a digest
            and type(d["prev"]) is str and len(d["prev"]) == 64
            and type(d["hash"]) is str and len(d["hash"]) == 64
            and _is_opt_str(d["subject"]) and _is_opt_str(d["reason_code"])
            and _is_opt_str(d["note"])
            and type(a) is dict and a.keys() == _ACTOR_KEYS and type(a["operator"]) is str
            and type(a["os_user"]) is str and type(a["host"]) is str
            and type(a["session"]) is str and _is_opt_str(a["ssh_client"])
            and type(a["pid"]) is int and 0 <= a["pid"] < _BIG
            and (BATCH not in d or _batch_shape(d[BATCH]) is None)):
        return None  # the common case, checked in one go; below says what is wrong
    missing = [f for f in FIELDS if f not in d]
    if missing:
        return f"missing field '{missing[0]}'"
    extra = sorted(set(d) - _KEYS_BATCH)
    if extra:
        return f"unexpected field '{_short(extra[0])}'"
    if type(d["seq"]) is not int or not 0 < d["seq"] < _BIG:
        return "field 'seq' is not a sequence number"
    for f in ("ts", "cutover", "action"):
        if type(d[f]) is not str:
            return f"field '{f}' is not a string"
    if not _TS(d["ts"]):
        return "field 'ts' is not a UTC timestamp with milliseconds"
    for f in ("subject", "reason_code", "note"):
        if not _is_opt_str(d[f]):
            return f"field '{f}' is not a string"
    for f in ("prev", "hash"):
        if type(d[f]) is not str or not _HEX64.fullmatch(d[f]):
            return f"field '{f}' is not a SHA-256 hex digest"
    if type(a) is not dict or a.keys() != _ACTOR_KEYS:
        return "field 'actor' is not an actor"
    for f in ("operator", "os_user", "host", "session"):
        if type(a[f]) is not str:
            return f"field 'actor.{f}' is not a string"
    if not _is_opt_str(a["ssh_client"]):
        return "field 'actor.ssh_client' is not a string"
    if type(a["pid"]) is not int or not 0 <= a["pid"] < _BIG:
        return "field 'actor.pid' is not a process id"
    if BATCH in d:
        return _batch_shape(d[BATCH])
    return "malformed entry"  # unreachable while the two checks above agree


def _batch_shape(b: object) -> str | None:
    if (type(b) is list and len(b) == 2 and type(b[0]) is int and type(b[1]) is int
            and 2 <= b[1] <= MAX_BATCH and 1 <= b[0] <= b[1]):
        return None
    return "field 'batch' is not [i, n] with 1 <= i <= n and n >= 2"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


class _Unreadable:
    """Stands for a line that is not one JSON value (kept apart from any decoded value)."""


_BAD = _Unreadable()


def _strict_decode(raw: bytes) -> object:
    """The reference decoding: strict UTF-8, the standard library's parser, no NaN/Infinity."""
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _BAD


def _is_canonical(obj: object, raw: bytes) -> bool:
    try:
        return canonical(obj) == raw
    except (ValueError, TypeError, RecursionError):  # a lone surrogate cannot be UTF-8
        return False


def _judge(raw: bytes, fast: object) -> tuple[object, str | None]:
    """``(value, None)`` when ``raw`` is exactly the canonical JSON of a value, else a problem."""
    if len(raw) > MAX_LINE:
        return None, f"line too long ({len(raw)} bytes; an entry is at most {MAX_LINE})"
    if fast is not _BAD and _is_canonical(fast, raw):
        return fast, None
    obj = _strict_decode(raw)
    if obj is _BAD:
        return None, "unparsable line (not a JSON entry)"
    if not _is_canonical(obj, raw):
        return None, "line is not in canonical form (altered)"
    return obj, None


def _decode_each(lines: list[bytes]) -> list:
    loads = orjson.loads
    out: list = []
    append = out.append
    for raw in lines:
        if len(raw) > MAX_LINE:
            append(_BAD)
            continue
        try:
            append(loads(raw))
        except ValueError:  # orjson.JSONDecodeError; _judge retries with the standard library
            append(_BAD)
    return out


_CHUNK = 256  # lines per json.dumps call: one call per line costs more, one for all thrashes


def _canonical_runs(objs: list, lines: list[bytes]) -> list[bool]:
    """For each run of ``_CHUNK`` lines: is every line the canonical JSON of its own value?

    Each value was decoded from its own line, so one serialisation of the run's list equals
    the run's lines joined by commas exactly when every line equals its value's serialisation
    (a JSON value is never a proper prefix of another followed by a comma). A run that fails
    is judged line by line.
    """
    dumps = json.dumps
    out = []
    for start in range(0, len(lines), _CHUNK):
        part = objs[start:start + _CHUNK]
        ok = not any(o is _BAD for o in part)
        if ok:
            try:
                text = dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                ok = text.encode("utf-8") == b"[" + b",".join(lines[start:start + _CHUNK]) + b"]"
            except (ValueError, TypeError, RecursionError):
                ok = False
        out.append(ok)
    return out


def _body_bytes(raw: bytes, d: dict) -> bytes:
    """The canonical bytes of the entry without its hash (``raw`` is already canonical).

    A canonical line minus its top-level ``,"hash":"..."`` *is* the canonical body (keys are
    sorted and ``hash`` is never first); when the same text also occurs inside ``data`` the body
    is serialised again instead.
    """
    needle = b',"hash":"' + d["hash"].encode("utf-8") + b'"'
    if raw.count(needle) != 1:
        body = dict(d)
        del body["hash"]
        return canonical(body)
    return raw.replace(needle, b"", 1)


def _link(d: dict, expect: int, prev: str) -> str | None:
    seq = d["seq"]
    if seq != expect:
        if seq == expect - 1:
            return f"duplicate seq {seq} (expected {expect})"
        if seq < expect:
            return f"seq {seq} out of order (expected {expect}): entries reordered"
        return f"gap in seq: expected {expect}, found {seq} (entries missing or reordered)"
    if d["prev"] != prev:
        if expect > 1:
            return f"broken chain: 'prev' is not the hash of entry {expect - 1}"
        return "broken chain: the first entry's 'prev' is not the genesis value"
    return None


def _batch_order(b: list | None, pending: list[Entry], n: int | None) -> str | None:
    if pending:
        first = pending[0].seq
        if b is None:
            return (f"the batch begun at seq {first} stops after {len(pending)} of {n} entries: "
                    "entries of the batch are missing")
        if b[1] != n or b[0] != len(pending) + 1:
            return (f"entry {b[0]} of a batch of {b[1]} where entry {len(pending) + 1} of {n} "
                    f"(the batch begun at seq {first}) was due")
        return None
    if b is not None and b[0] != 1:
        return f"entry {b[0]} of a batch of {b[1]} whose first entries are missing"
    return None


def parse(data: bytes, *, cutover: str | None = None, after: tuple[int, str] = (0, GENESIS),
          first_line: int = 1) -> Parsed:
    """Every acknowledged entry up to the first damaged line.

    The unacknowledged tail (``torn``) is what a crash mid-append leaves: a last line without its
    trailing newline (an append is one ``write`` of whole lines, newline last, and returns only
    after ``fsync``) and the lines of a batch not all there. Anything else wrong is ``damage`` at
    the first bad line, and nothing after it is read. ``after`` is the (seq, hash) the data
    continues from (a watcher reading only what was appended).
    """
    with no_gc():
        return _parse(data, cutover, after, first_line)


def _parse(data: bytes, cutover: str | None, after: tuple[int, str], first_line: int) -> Parsed:
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: b"" or a cut line, part of the tail either way
    objs = _decode_each(lines)
    runs = _canonical_runs(objs, lines)
    entries: list[Entry] = []
    pending: list[Entry] = []
    batch_size: int | None = None
    base, prev = after
    offset = pending_bytes = 0
    actors: dict = {}
    fast = True
    for i, raw in enumerate(lines):
        expect = base + len(entries) + len(pending) + 1
        d = objs[i]
        checked = runs[i // _CHUNK]
        entry = _fast(d, raw, expect, prev, cutover, actors, len(pending), batch_size) \
            if checked else None
        if entry is None:
            entry, problem = _slow(d, raw, expect, prev, cutover, actors, pending, batch_size,
                                   checked)
            if problem is not None:
                seq = d["seq"] if type(d) is dict and type(d.get("seq")) is int \
                    and 0 < d["seq"] < _BIG else expect
                return Parsed(entries, offset, Damage(seq, first_line + i, problem), b"", pending,
                              batch_size, False)
            assert entry is not None  # _slow gives an entry or a problem
            fast = False
        prev = entry.hash
        if entry.batch is None:
            entries.append(entry)
            offset += len(raw) + 1
            continue
        if entry.batch[0] == 1:
            batch_size = entry.batch[1]
        pending.append(entry)
        pending_bytes += len(raw) + 1
        if entry.batch[0] == entry.batch[1]:
            entries.extend(pending)
            offset += pending_bytes
            pending, pending_bytes = [], 0
    return Parsed(entries, offset, None, data[offset:], pending, batch_size if pending else None,
                  fast)


def parse_verified(data: bytes, size: int, *, cutover: str, head: tuple[int, str]) -> Entries | None:
    """The entries of ``data[:size]``, bytes :func:`parse` read before with nothing wrong, on
    its common path (``Parsed.fast``) and for the same ``cutover``, ending at ``head``: exactly
    the entries it returned, without checking the rule again (no canonical form, no chain), each decoded when
    first read (:class:`~cockpit.journal.entries.Entries`).

    Only for bytes known to be those (a checkpoint's digest matched). Anything that does not
    fit (not whole lines, another number of lines, a last line of another seq, head or
    cutover) gives None, never an exception: the caller then applies :func:`parse` as to any
    other bytes.
    """
    if not 0 < size <= len(data) or data[size - 1] != 0x0A:  # whole lines only
        return None
    entries = Entries.of_lines(data, size, decoder(cutover))
    if len(entries) != head[0]:
        return None
    try:
        last = entries[-1]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            RecursionError):
        return None
    if last.seq != head[0] or last.hash != head[1] or last.cutover != cutover:
        return None
    return entries


def decoder(cutover: str) -> Decoder:
    """``decode(data, ends, start, stop) -> [Entry]``: the entries of lines ``start`` to
    ``stop`` of ``data`` (line ``k`` ends at ``ends[k]``, its newline), lines :func:`parse`
    accepted on its common path for ``cutover``: the entries it built from them, without
    checking the rule again. Actors and minutes seen before are reused (one object for each,
    as the full rule's read gives). One call decodes a whole run: a call per line would cost
    a fifth more."""
    loads = orjson.loads
    make = _entry
    actors: dict = {}
    minutes: dict = {}

    def decode(data: bytes, ends: Sequence[int], start: int, stop: int) -> list[Entry]:
        view = memoryview(data)
        out: list[Entry] = []
        append = out.append
        begin = ends[start - 1] + 1 if start else 0
        for k in range(start, stop):
            end = ends[k]
            d = loads(view[begin:end])
            begin = end + 1
            a = d["actor"]
            # Keyed by its values in the line's (sorted) key order: one call, not six lookups.
            actor = actors.get(key := tuple(a.values()))
            if actor is None:
                actor = actors[key] = Actor(a["operator"], a["os_user"], a["host"],
                                            a["ssh_client"], a["pid"], a["session"])
            ts = d["ts"]
            minute = minutes.get(ts[:16])
            if minute is None:
                minute = minutes[ts[:16]] = _minute(ts)
            b = d.get(BATCH)
            cut = d["cutover"]
            append(make(d["seq"], ts, cutover if cut == cutover else cut, actor, d["action"],
                        d["subject"], d["reason_code"], d["note"], d["data"], d["prev"],
                        d["hash"], _wall(ts, minute), None if b is None else (b[0], b[1])))
        return out

    return decode


def _minute(ts: str) -> int:
    return int(parse_ts(ts[:16] + ":00.000Z"))


def _wall(ts: str, minute: int) -> float:
    """``parse_ts(ts)`` of a timestamp the rule accepted, given its minute's (``_minute``).

    ``datetime.timestamp()`` of an aware time is its microseconds since the epoch divided by
    10**6 (one correctly rounded division of integers); this is the same division.
    """
    s = int(ts[17:19])
    if s > 59:
        return parse_ts(ts)  # whatever the rule said of it
    return ((minute + s) * 1_000_000 + int(ts[20:23]) * 1000) / 1_000_000


def _fast(d, raw: bytes, expect: int, prev: str, cutover: str | None, actors: dict,
          pending: int, batch_size: int | None) -> Entry | None:
    """The entry on the common path, or None to let :func:`_slow` decide and say why.

    Sound, not complete: every condition is at least as strict as the slow path's (it only
    skips work: an actor seen before is not checked again), so whatever it accepts the slow
    path would accept too.
    """
    if type(d) is not dict:
        return None
    keys = d.keys()
    if keys == _KEYS:
        b = None
        if pending:
            return None
    elif keys == _KEYS_BATCH:
        b = d[BATCH]
        if not (type(b) is list and len(b) == 2 and type(b[0]) is int and type(b[1]) is int):
            return None
        if pending:
            if b[0] != pending + 1 or b[1] != batch_size:
                return None
        elif b[0] != 1 or not 2 <= b[1] <= MAX_BATCH:
            return None
        b = (b[0], b[1])
    else:
        return None
    seq, ts, h, a = d["seq"], d["ts"], d["hash"], d["actor"]
    # prev equal to ours implies a 64-digit hex string; the hash equal to the digest, likewise.
    if not (type(seq) is int and seq == expect and d["prev"] == prev and type(ts) is str
            and _TS(ts) and type(d["cutover"]) is str
            and (cutover is None or d["cutover"] == cutover) and type(d["action"]) is str
            and _is_opt_str(d["subject"]) and _is_opt_str(d["reason_code"])
            and _is_opt_str(d["note"]) and type(h) is str and type(a) is dict
            and a.keys() == _ACTOR_KEYS and type(a["pid"]) is int):
        return None
    key = (a["operator"], a["os_user"], a["host"], a["ssh_client"], a["pid"], a["session"])
    try:
        actor = actors.get(key)
    except TypeError:  # an unhashable value: not an actor
        return None
    if actor is None:
        if (type(a["operator"]) is not str or type(a["os_user"]) is not str
                or type(a["host"]) is not str or type(a["session"]) is not str
                or not _is_opt_str(a["ssh_client"]) or not 0 <= a["pid"] < _BIG):
            return None
        actor = actors[key] = Actor(*key)
    if chain_hash(prev, _body_bytes(raw, d)) != h:
        return None
    try:
        wall = parse_ts(ts)
    except (ValueError, OverflowError):
        return None
    return _entry(seq, ts, d["cutover"], actor, d["action"], d["subject"], d["reason_code"],
                  d["note"], d["data"], prev, h, wall, b)


def _slow(d, raw: bytes, expect: int, prev: str, cutover: str | None, actors: dict,
          pending: list[Entry], batch_size: int | None, checked: bool) -> tuple[Entry | None, str | None]:
    """Every check in turn: ``(entry, None)``, or ``(None, what is wrong)``."""
    problem = None
    if not checked:
        d, problem = _judge(raw, d)
    if problem is None:
        problem = _shape(d)
    if problem is None:
        problem = _link(d, expect, prev)
    if problem is None and chain_hash(prev, _body_bytes(raw, d)) != d["hash"]:
        problem = "hash mismatch: the entry was altered"
    if problem is None and cutover is not None and d["cutover"] != cutover:
        # After the hash: an altered cutover field is tampering, said the same by every reader.
        problem = f"entry belongs to cutover '{_short(d['cutover'])}', not '{cutover}'"
    if problem is None:
        problem = _batch_order(d.get(BATCH), pending, batch_size)
    if problem is None:
        try:
            return Entry.from_json(d, actors), None
        except (ValueError, TypeError, KeyError, OverflowError):
            problem = "field 'ts' is not a valid UTC timestamp"
    return None, problem
