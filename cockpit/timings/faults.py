"""How soon the operators answered each injected fault (``rehearsal.fault`` entries).

- An *operator entry* is one whose actor is not the system actor (``Actor.system()``), other
  than session markers, ``gate.change``, ``clock.warning`` and ``rehearsal.*`` (evidence that
  the cockpit writes, not something someone did).
- *Time to detect*: from the fault's entry to the first operator entry after it, whatever it
  is (a note is someone noticing).
- *Time to decide*: to the first operator entry after it that decides something:
  ``decision.record``, ``rollback.start``, ``gate.override``, ``exception.triage`` or
  ``step.fail``.

Both are wall-time differences of journal entries (rehearsal time in a rehearsal), never
negative: a clock stepped back between the two counts as no time at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cockpit.journal import Entry
from cockpit.text import clean

SYSTEM = "system"  # Actor.system()'s operator name
DECISIONS = frozenset({"decision.record", "rollback.start", "gate.override", "exception.triage",
                       "step.fail"})
_NOT_ACTIONS = frozenset({"gate.change", "clock.warning"})
KINDS = frozenset({"replication_lag_spike", "recon_mismatch", "helpdesk_surge", "login_drop",
                   "source_hang", "source_garbage"})
NOT_ANSWERED = "not answered"
ID_LIMIT = 64
NAME_LIMIT = 40


def is_operator_entry(e: Entry) -> bool:
    a = e.action
    return (e.actor.operator != SYSTEM and a not in _NOT_ACTIONS
            and not a.startswith("session.") and not a.startswith("rehearsal."))


def _answer(e: Entry, fault: Entry) -> dict[str, Any]:
    return {"seq": e.seq, "action": clean(e.action, NAME_LIMIT, single_line=True),
            "operator": clean(e.actor.operator, NAME_LIMIT, single_line=True),
            "after_s": max(0.0, e.wall - fault.wall)}


def fault_answers(entries: Sequence[Entry], anchor: float | None) -> list[dict[str, Any]]:
    """One dict per ``rehearsal.fault`` entry, in journal order (one pass over ``entries``)."""
    out: list[dict[str, Any]] = []
    waiting_detect: list[tuple[Entry, dict]] = []
    waiting_decide: list[tuple[Entry, dict]] = []
    for e in entries:
        if e.action == "rehearsal.fault":
            data = e.data if isinstance(e.data, dict) else {}
            kind = data.get("kind")
            item: dict[str, Any] = {
                "id": clean(e.subject or "", ID_LIMIT, single_line=True),
                "kind": kind if isinstance(kind, str) and kind in KINDS else "unknown",
                "seq": e.seq,
                "at_s": None if anchor is None else max(0.0, e.wall - anchor),
                "detect_s": None, "decide_s": None, "detected_by": None, "decided_by": None,
                "outcome": NOT_ANSWERED,
            }
            out.append(item)
            waiting_detect.append((e, item))
            waiting_decide.append((e, item))
        elif (waiting_detect or waiting_decide) and is_operator_entry(e):
            for fault, item in waiting_detect:
                item["detected_by"] = _answer(e, fault)
                item["detect_s"] = item["detected_by"]["after_s"]
                item["outcome"] = "detected, not decided"
            waiting_detect = []
            if e.action in DECISIONS:
                for fault, item in waiting_decide:
                    item["decided_by"] = _answer(e, fault)
                    item["decide_s"] = item["decided_by"]["after_s"]
                    item["outcome"] = "decided"
                waiting_decide = []
    return out
