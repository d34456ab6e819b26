"""Reading journal bytes back into entries, checking every link of the chain on the way."""

from __future__ import annotations

import contextlib
import gc
import json
import re
from dataclasses import dataclass

import orjson

from cockpit.journal.entry import ACTOR_FIELDS, FIELDS, GENESIS, Entry, canonical, chain_hash

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Damage:
    seq: int  # the seq the bad line holds, or the seq expected there when it cannot be read
    line: int  # 1-based line number in the file
    problem: str

    def __str__(self) -> str:
        return f"seq {self.seq} (line {self.line}): {self.problem}"


@dataclass
class Parsed:
    entries: list[Entry]
    good_bytes: int  # length of the prefix holding only complete, intact entries
    damage: Damage | None
    torn: bytes  # a last line without its newline (never acknowledged), else b""


_FIELDSET = frozenset(FIELDS)
_ACTORSET = frozenset(ACTOR_FIELDS)


def _shape(d: object) -> str | None:
    if type(d) is not dict:
        return "not a JSON object"
    if (d.keys() == _FIELDSET and type(d["seq"]) is int and type(d["ts"]) is str
            and type(d["cutover"]) is str and type(d["action"]) is str
            and type(d["actor"]) is dict and d["actor"].keys() == _ACTORSET
            # hex-ness is left to the chain check: a non-hex hash can never match a digest
            and type(d["prev"]) is str and len(d["prev"]) == 64 and type(d["hash"]) is str
            and len(d["hash"]) == 64
            and (d["subject"] is None or type(d["subject"]) is str)
            and (d["reason_code"] is None or type(d["reason_code"]) is str)
            and (d["note"] is None or type(d["note"]) is str)):
        return None  # the common case, checked in one go; below says what is wrong
    missing = [f for f in FIELDS if f not in d]
    if missing:
        return f"missing field '{missing[0]}'"
    extra = sorted(set(d) - set(FIELDS))
    if extra:
        return f"unexpected field '{extra[0]}'"
    if type(d["seq"]) is not int:
        return "field 'seq' is not an integer"
    for f in ("ts", "cutover", "action"):
        if not isinstance(d[f], str):
            return f"field '{f}' is not a string"
    for f in ("subject", "reason_code", "note"):
        if d[f] is not None and not isinstance(d[f], str):
            return f"field '{f}' is not a string"
    for f in ("prev", "hash"):
        if not isinstance(d[f], str) or not _HEX64.match(d[f]):
            return f"field '{f}' is not a SHA-256 hex digest"
    actor = d["actor"]
    if not isinstance(actor, dict) or set(actor) != set(ACTOR_FIELDS):
        return "field 'actor' is not an actor"
    return None


def _body_bytes(raw: bytes, h: str, d: dict, strict: bool) -> bytes | None:
    """The canonical bytes of the entry without its hash, or None if ``raw`` is not canonical.

    Fast path: a canonical line minus its top-level ``,"hash":"..."`` *is* the canonical body
    (keys are sorted and ``hash`` is never first). ``strict`` also proves the line canonical by
    re-serialising it, which is what an auditor's script does.
    """
    if strict and canonical(d) != raw:
        return None
    needle = b',"hash":"' + h.encode("ascii") + b'"'
    if raw.count(needle) != 1:
        body = dict(d)
        del body["hash"]
        return canonical(body)
    return raw.replace(needle, b"", 1)


def _bulk(lines: list[bytes]) -> list | None:
    """Every line decoded in one call (much faster than one call per line), or None when some
    line is not exactly one JSON value; the caller then decodes line by line to find it.

    orjson decodes about five times faster than the standard library, which is most of the
    time a restarted cockpit takes to be back on screen. It only decodes: the bytes that are
    hashed are always produced by ``json.dumps`` (see ``entry.canonical``). Anything orjson
    refuses (a NaN literal, an integer past 64 bits) is retried with the standard library.
    """
    if not lines:
        return []
    blob = b"[" + b",".join(lines) + b"]"
    try:
        objs = orjson.loads(blob)
    except orjson.JSONDecodeError:
        try:
            objs = json.loads(blob)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
    return objs if len(objs) == len(lines) else None


@contextlib.contextmanager
def _no_gc():
    # Decoding builds ~10 containers per entry and none of them form cycles; letting the cyclic
    # collector chase them through 100,000 entries costs more than the decoding itself.
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse(data: bytes, *, strict: bool = False, cutover: str | None = None,
          after: tuple[int, str] = (0, GENESIS), first_line: int = 1) -> Parsed:
    """Every intact entry up to the first damaged one.

    A last line without its trailing newline is ``torn`` (a write cut short: appends are one
    ``write`` of the whole line, newline last, and return only after ``fsync``). Anything else
    wrong is ``damage`` at the first bad line, and nothing after it is read. ``after`` is the
    (seq, hash) the data continues from (a watcher reading only what was appended).
    """
    with _no_gc():
        return _parse(data, strict, cutover, after, first_line)


def _parse(data: bytes, strict: bool, cutover: str | None, after: tuple[int, str],
           first_line: int) -> Parsed:
    lines = data.split(b"\n")
    torn = lines.pop()
    entries: list[Entry] = []
    base, prev = after
    offset = 0
    objs = _bulk(lines)
    actors: dict = {}
    for i, raw in enumerate(lines):
        expect = base + len(entries) + 1
        problem = None
        d = None
        if objs is not None:
            d = objs[i]
        else:
            try:
                d = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                problem = "unparsable line (not a JSON entry)"
        if problem is None:
            problem = _shape(d)
        if problem is None:
            seq = d["seq"]
            if seq != expect:
                if seq == expect - 1:
                    problem = f"duplicate seq {seq} (expected {expect})"
                elif seq < expect:
                    problem = f"seq {seq} out of order (expected {expect}): entries reordered"
                else:
                    problem = f"gap in seq: expected {expect}, found {seq} (entries missing or reordered)"
            elif d["prev"] != prev:
                problem = f"broken chain: 'prev' is not the hash of entry {expect - 1}" if expect > 1 \
                    else "broken chain: the first entry's 'prev' is not the genesis value"
            elif cutover is not None and d["cutover"] != cutover:
                problem = f"entry belongs to cutover '{d['cutover']}', not '{cutover}'"
            else:
                body = _body_bytes(raw, d["hash"], d, strict)
                if body is None:
                    problem = "line is not in canonical form (altered)"
                elif chain_hash(prev, body) != d["hash"]:
                    problem = "hash mismatch: the entry was altered"
        if problem is None:
            try:
                entry = Entry.from_json(d, actors)
            except (ValueError, TypeError, KeyError):
                problem = "field 'ts' is not an ISO-8601 timestamp"
        if problem is not None:
            seq = d["seq"] if isinstance(d, dict) and type(d.get("seq")) is int else expect
            return Parsed(entries, offset, Damage(seq, first_line + i, problem), b"")
        entries.append(entry)
        prev = entry.hash
        offset += len(raw) + 1
    return Parsed(entries, offset, None, torn)
