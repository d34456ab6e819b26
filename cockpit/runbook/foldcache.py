"""The folds of a journal saved beside it, so that a cockpit opening a night's journal resumes
them instead of reading 100,000 entries again.

``<journal>.folds`` holds one JSON document: the key (the plan and the code that folded:
a plan edited or a cockpit upgraded since means another fold), up to which entry (``seq``, and
``head``: that entry's hash) and what the folds gathered by then: the runbook replay
(``Replayer``), the span fold behind the finish forecast (``SpanFold``) and the gate states
the journal last recorded (the session's). A session writes it when it closes (atomically: a
new file renamed over the old), from the folds it kept up with the journal.

What it promises: resumed only when the journal's entry ``seq`` has the hash ``head`` (the
chain makes that hash name every entry before it) and the key is the running code's and
plan's (only what the folds read of it: ``_plan_shape``); then the state is the one folding
those entries again gives (tests/test_foldcache.py: a property over arbitrary journals). Anything else (missing, unreadable, not a regular file,
too large, malformed, another plan or code, a head the journal does not hold) means folding
from the first entry: never an error, never trusted.

What it does not promise: it is not a signature. Whoever can write the journal's folder can
write a fold matching the head; against that, as for the checkpoint beside it
(``cockpit.journal.checkpoint``), the defences are ``cockpit journal verify`` (never reads
this file), the witness and the evidence pack, which fold the entries themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pydantic
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from cockpit.config.plan import Plan
from cockpit.journal import Entry, disk
from cockpit.recon.evidence import Measurement, ReconEvidence
from cockpit.runbook.replay import Replayer
from cockpit.runbook.spans import SpanFold
from cockpit.runbook.state import (
    ApprovalEnd,
    ApprovalRequest,
    ExceptionState,
    LocalMerge,
    NoteRecord,
    Override,
    StepState,
)

SUFFIX = ".folds"
VERSION = 1
MAX_BYTES = 256 * 1024 * 1024  # a night's folds are a few MB; anything larger is not one
# Every module whose code decides what a fold gathers: a change to any of them is another fold.
_FOLD_MODULES = ("cockpit.runbook.foldcache", "cockpit.runbook.replay", "cockpit.runbook.spans",
                 "cockpit.runbook.state", "cockpit.recon.evidence", "cockpit.journal.entry",
                 "cockpit.session")


@dataclass
class _Replay:
    steps: dict[str, StepState]
    rollback_active: bool
    rollback_reason: str | None
    rollback_at: float | None
    rollback_by: str | None
    clock_started_at: float | None
    overrides: list[Override]
    exceptions: dict[str, ExceptionState]
    notes: list[NoteRecord]
    last_recon: tuple[float, dict] | None
    recon_evidence: ReconEvidence
    last: Entry | None
    last_step_entry: Entry | None
    approvals: dict[int, ApprovalRequest]
    ended: dict[int, ApprovalEnd]
    merges: list[LocalMerge]


@dataclass
class _Saved:
    v: int
    key: str
    seq: int
    head: str
    replay: _Replay
    started: dict[str, float]
    first: bool
    gates: dict[str, Any]


_ADAPTER = TypeAdapter(_Saved)
Captured = _Saved  # what ``capture`` takes and ``write`` writes


@dataclass(frozen=True)
class Resumed:
    """Folds to continue from: of the journal's first ``seq`` entries."""

    seq: int
    _saved: _Saved = field(repr=False)  # a night's state: far too long to print

    def replayer(self, plan: Plan) -> tuple[int, Replayer]:
        """(seq, a fold of its own) for ``Operations(resume=...)``."""
        return self.seq, Replayer.resumed(plan, _replay_fields(self._saved.replay))

    def span_fold(self, plan: Plan) -> tuple[int, SpanFold]:
        """(seq, a fold of its own) for ``Forecaster(resume=...)``."""
        s = self._saved
        return self.seq, SpanFold.resumed(plan, _replay_fields(s.replay), s.started, s.first)

    def gates(self) -> dict[str, Any]:
        """The gate states the journal last recorded, by gate (a copy)."""
        return dict(self._saved.gates)


def folds_path(journal: Path) -> Path:
    return journal.with_name(journal.name + SUFFIX)


def load(journal: Path, plan: Plan, entries: Sequence[Entry]) -> Resumed | None:
    """The folds saved beside ``journal`` when they are of ``entries``' first ``seq`` entries,
    this plan and this code; None for anything else (never raises)."""
    raw = disk.read_beside(folds_path(journal), MAX_BYTES)
    if raw is None:
        return None
    try:
        saved = _ADAPTER.validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        return None
    if saved.v != VERSION or saved.key != key(plan) or not 0 < saved.seq <= len(entries):
        return None
    try:
        at = entries[saved.seq - 1]
    except (ValueError, KeyError, TypeError):  # a line its checkpoint vouched for, yet unreadable
        return None
    if at.seq != saved.seq or at.hash != saved.head:
        return None
    out = Resumed(saved.seq, saved)
    try:  # both folds must take it, or neither does
        out.replayer(plan)
        out.span_fold(plan)
    except (ValueError, TypeError, KeyError):
        return None
    return out


def save(journal: Path, plan: Plan, entries: Sequence[Entry], replay: tuple[int, Replayer],
         spans: tuple[int, SpanFold], gates: tuple[int, Mapping[str, Any]]) -> bool:
    """Write the folds of ``entries``' first n entries: the replay, the span fold and the
    recorded gate states, each (n, fold), all of the same n. Best effort: False when they are
    not of one n, cannot be written as JSON, or the file cannot be written (a missing or
    older fold only costs the next open a longer fold)."""
    doc = capture(plan, entries, replay, spans, gates)
    return doc is not None and write(journal, doc)


def capture(plan: Plan, entries: Sequence[Entry], replay: tuple[int, Replayer],
            spans: tuple[int, SpanFold], gates: tuple[int, Mapping[str, Any]]) -> Captured | None:
    """What ``save`` writes, taken now (its containers copied: the live folds go on growing),
    on the thread that folds; ``write`` it from any thread. None when the folds are not of
    one n."""
    (n, replayer), (n2, fold), (n3, recorded) = replay, spans, gates
    if not (0 < n == n2 == n3 <= len(entries)):
        return None
    replay_saved, started, first = fold.saved()
    if replay_saved != replayer.saved():  # the same entries fold to the same state
        return None
    if not all(type(k) is str for k in recorded):
        return None  # a gate.change without a subject: JSON has no such key
    fields: dict[str, Any] = {k: type(v)(v) if isinstance(v, (dict, list)) else v
                              for k, v in replay_saved.items()}
    return _Saved(VERSION, key(plan), n, entries[n - 1].hash, _Replay(**fields), dict(started),
                  first, dict(recorded))


def write(journal: Path, doc: Captured) -> bool:
    """Write what ``capture`` took beside ``journal`` (False when it could not be)."""
    try:
        blob = _ADAPTER.dump_json(doc, fallback=_plain, warnings=False)
        if _ADAPTER.validate_json(blob) != doc:  # only what reads back as it is
            return False
    except (PydanticSerializationError, ValidationError, ValueError, TypeError,
            RecursionError):
        return False
    return disk.write_beside(folds_path(journal), blob)


def key(plan: Plan) -> str:
    """The digest of the folding code and of what the folds read of the plan: what a saved
    fold must have been made by."""
    shape = orjson.dumps(_plan_shape(plan))
    return hashlib.sha256(_code_digest().encode() + b"\n" + shape).hexdigest()


def _plan_shape(plan: Plan) -> dict[str, Any]:
    """All the folds read of the plan (``Replayer``, ``SpanFold``, ``ReconEvidence.for_plan``):
    its phases and steps in order, their kinds and ``parallel``, the clock phase, the
    reconciliation units and tables. Only these: a plan also holds values from the
    environment (passwords in DSNs), and a digest of them must never be written down."""
    rb = plan.runbook

    def phases(ps) -> list:
        return [[p.id, [[s.id, s.kind, bool(s.parallel)] for s in p.steps]] for p in ps]

    clock = rb.clock_phase()
    evidence = ReconEvidence.for_plan(plan)
    return {"main": phases(rb.phases), "rollback": phases(rb.rollback.phases),
            "clock": clock.id if clock is not None else None,
            "recon": [list(evidence.configured), list(evidence.tables)]}


def _source_digest() -> str:
    h = hashlib.sha256(f"{VERSION} pydantic {pydantic.VERSION}\n".encode())
    for name in _FOLD_MODULES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        h.update(name.encode() + b"\n")
        if origin is not None:
            with contextlib.suppress(OSError):
                h.update(Path(origin).read_bytes())
    return h.hexdigest()


# Read as the folding code is imported (a cockpit upgraded while it runs keeps the digest of
# the code it runs, not of the files on disk). A list, so a test can stand in another.
_CODE: list[str] = [_source_digest()]


def _code_digest() -> str:
    return _CODE[0]


def _replay_fields(r: _Replay) -> dict[str, Any]:
    fields = {name: getattr(r, name) for name in Replayer.SAVED}
    ev = fields["recon_evidence"]
    # Read-only mappings, as the fold made them (JSON gave dicts).
    fields["recon_evidence"] = ReconEvidence(
        MappingProxyType({k: Measurement(m.ts, m.failed, m.error, MappingProxyType(dict(m.values)))
                          for k, m in ev.units.items()}),
        ev.configured, ev.tables, ev.legacy_failed, ev.legacy_last)
    return fields


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not saved: {type(value).__name__}")
