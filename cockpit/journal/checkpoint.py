"""The verified checkpoint beside a journal: its first bytes were checked by the one rule.

``<journal>.verified`` holds one JSON object: the cutover, ``size`` (bytes), ``seq`` and
``head`` (the hash of entry ``seq``, the last one in those bytes), ``sha256`` (of those
``size`` bytes) and the orjson version that decoded them. Only the journal's writer writes it
(it holds the lock), atomically (a new file renamed over the old), after the full rule accepted
those bytes: at its open, and as its own acknowledged appends extend them.

What it promises: when the journal's first ``size`` bytes still hash to ``sha256`` (and end at
``head``), they are byte for byte what :func:`cockpit.journal.lines.parse` accepted, so an
open reads their entries without checking the rule again (:func:`lines.parse_verified`, each
decoded when first read) and applies the full rule to the rest only. A prefix hash runs at
about 1 GB/s, far faster than the canonical JSON and chain hash of every line.

What it does not promise: it is not a signature. Whoever can write the journal's folder can
write a checkpoint matching any bytes, as they can rewrite the whole chain with the auditor's
script; against that the defence is the head recorded elsewhere (the witness, notifications,
the evidence pack) and ``cockpit journal verify``, which always checks every line and never
reads this file. A checkpoint that is missing, unreadable, not a regular file (a symbolic link
is never followed), too large, malformed, for another cutover or orjson version, or that does
not match the journal's bytes means the full check, never an error and never trust.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from cockpit.journal import disk, lines
from cockpit.journal.entries import Entries
from cockpit.journal.entry import Entry

SUFFIX = ".verified"
MAX_BYTES = 4096  # a checkpoint is about 300 bytes; anything longer is not one
_KEYS = frozenset({"v", "cutover", "size", "seq", "head", "sha256", "orjson"})
_HEX = frozenset("0123456789abcdef")


def checkpoint_path(journal: Path) -> Path:
    return journal.with_name(journal.name + SUFFIX)


@dataclass(frozen=True)
class Checkpoint:
    cutover: str
    size: int
    seq: int
    head: str
    sha256: str

    def to_json(self) -> bytes:
        return orjson.dumps({"v": 1, "cutover": self.cutover, "size": self.size, "seq": self.seq,
                             "head": self.head, "sha256": self.sha256,
                             "orjson": orjson.__version__}, option=orjson.OPT_SORT_KEYS)


def _hex64(v: object) -> bool:
    return type(v) is str and len(v) == 64 and set(v) <= _HEX


def load(journal: Path) -> Checkpoint | None:
    """The checkpoint beside ``journal`` as written, or None for anything else (never raises)."""
    raw = disk.read_beside(checkpoint_path(journal), MAX_BYTES)
    if raw is None:
        return None
    try:
        d = orjson.loads(raw)
    except ValueError:
        return None
    if type(d) is not dict or d.keys() != _KEYS or d["v"] != 1 or d["orjson"] != orjson.__version__:
        return None
    size, seq = d["size"], d["seq"]
    if not (type(d["cutover"]) is str and type(size) is int and type(seq) is int
            and 0 < seq <= size < 2**62 and _hex64(d["head"]) and _hex64(d["sha256"])):
        return None
    return Checkpoint(d["cutover"], size, seq, d["head"], d["sha256"])


def trusted(journal: Path, data: bytes, cutover: str) -> tuple[Entries, int, hashlib._Hash] | None:
    """(entries, size, sha256 state) of the prefix of ``data`` the checkpoint vouches for,
    or None: then every byte is checked by the full rule."""
    cp = load(journal)
    if cp is None or cp.cutover != cutover or cp.size > len(data):
        return None
    digest = hashlib.sha256(memoryview(data)[:cp.size])
    if digest.hexdigest() != cp.sha256:
        return None
    entries = lines.parse_verified(data, cp.size, cutover=cutover, head=(cp.seq, cp.head))
    if entries is None:
        return None
    return entries, cp.size, digest


def save(journal: Path, cutover: str, entries: Sequence[Entry], size: int,
         digest: hashlib._Hash) -> bool:
    """Write the checkpoint for the first ``size`` bytes (``digest``: their sha256 state),
    which the full rule accepted as ``entries``. Best effort: False when it could not be
    written (a stale or missing checkpoint only costs the next open a longer check)."""
    if not entries:
        return False
    last = entries[-1]
    doc = Checkpoint(cutover, size, last.seq, last.hash, digest.hexdigest()).to_json()
    return disk.write_beside(checkpoint_path(journal), doc)
