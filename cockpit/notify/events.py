"""Journal entries into the facts a command channel is told: one :class:`Message` per event.

Only what the entry says, never more: the cutover, the event, who, when, the journal ``seq``
and hash (so anyone can find the entry), a short title built from ids the plan defines and,
for some events, the operator's note. Entries hold no patient values, and of a reconciliation
run only its counts are taken (never a finding, a key or a sample). Every text is cleaned to
one line here; escaping for a target's markup is :mod:`cockpit.notify.format`'s job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cockpit.config.plan import Plan
from cockpit.journal import Entry
from cockpit.text import clean

CLINICAL = "needs_clinical_approval"
NOTE_LIMIT = 200
TITLE_LIMIT = 200


@dataclass(frozen=True)
class Message:
    """One event as it is stored in the outbox and rendered for each target."""

    cutover: str  # the cutover id
    name: str  # the cutover's name
    event: str  # a name of cockpit.config.notify.EVENTS
    seq: int
    hash: str  # the entry's hash: its prefix shows, a journal.head message gives it whole
    wall: float
    who: str
    title: str
    note: str | None = None
    gate: str | None = None  # gate.change: the gate and the state it turned to (dwell, only)
    state: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Message:
        fields: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__}
        return cls(**fields)


def _t(value: Any, limit: int = TITLE_LIMIT) -> str:
    return clean("" if value is None else value, limit, single_line=True)


def _note(value: Any) -> str | None:
    text = _t(value, NOTE_LIMIT)
    return text or None


def messages_of(plan: Plan, e: Entry) -> list[Message]:
    """The events of one journal entry (often none; a completing approval is two: the step
    and the approval). ``journal.head`` is per target (``every``): the outbox adds it."""
    data = e.data if isinstance(e.data, dict) else {}
    subject = _t(e.subject, 64)
    out: list[tuple[str, str, str | None]] = []  # (event, title, note)
    gate = state = None
    if e.action == "gate.change":
        gate, state = subject, _t(data.get("state"), 16)
        old = _t(data.get("old_state"), 16) or "?"
        flapping = data.get("flapping")
        title = f"gate {subject}: {old} -> {state}"
        if isinstance(flapping, dict):
            title += f" (flapping: {_t(flapping.get('changes'), 8)} changes)"
        out.append(("gate.change", title, None))
        lost = _unreadable(data.get("status"))
        if state == "UNKNOWN" and lost:
            out.append(("source.lost", f"gate {subject} is UNKNOWN: no reading of "
                        + ", ".join(lost), None))
    elif e.action in ("step.confirm", "step.skip", "step.fail"):
        verb = {"step.confirm": "confirmed", "step.skip": "skipped", "step.fail": "failed"}
        title = f"step {subject} {verb[e.action]}"
        title += f" ({_t(e.reason_code, 40)})" if e.reason_code else ""
        out.append((e.action, title, _note(e.note)))
        _approval(data, title, out)
        rollback = plan.runbook.rollback_steps()
        if e.action != "step.fail" and rollback and rollback[-1].id == e.subject:
            out.append(("rollback.finish", f"rollback finished: last step {subject} "
                        f"{verb[e.action]}", None))
    elif e.action == "decision.record":
        out.append(("decision", f"decision at {subject}: {_t(data.get('call'), 8)}", _note(e.note)))
    elif e.action == "gate.override":
        out.append(("override", f"gate {subject} overridden for step "
                    f"{_t(data.get('step'), 64)} ({_t(e.reason_code, 40)})", _note(e.note)))
    elif e.action == "approval.request":
        kind = _t(data.get("kind"), 16)
        what = "starting the rollback" if kind == "rollback" else f"{kind} of step {subject}"
        out.append(("approval.request", f"{what} waits for a second person", None))
    elif e.action == "approval.reject":
        out.append(("approval", f"request for {subject} rejected", _note(e.note)))
    elif e.action == "rollback.start":
        out.append(("rollback.start", f"rollback started ({_t(e.reason_code, 40)})", _note(e.note)))
        _approval(data, "rollback started", out)
    elif e.action == "recon.run":
        out.append(("recon.finished", _recon_title(data), None))
    elif e.action in ("exception.open", "exception.triage") and data.get("category") == CLINICAL:
        out.append(("exception.clinical", f"exception {subject} needs clinical approval", None))
    return [Message(e.cutover, plan.cutover.name, event, e.seq, e.hash, e.wall,
                    _t(e.actor.operator, 64), title, note, gate, state)
            for event, title, note in out]


def head_message(plan: Plan, e: Entry) -> Message:
    return Message(e.cutover, plan.cutover.name, "journal.head", e.seq, e.hash, e.wall,
                   _t(e.actor.operator, 64), f"journal head at seq {e.seq}: {e.hash}")


def probe_message(plan: Plan, wall: float, who: str) -> Message:
    """What ``cockpit notify test`` sends: no entry behind it (seq 0)."""
    return Message(plan.cutover.id, plan.cutover.name, "test", 0, "", wall, _t(who, 64),
                   "test message from the cockpit (no action needed)")


def _approval(data: dict, title: str, out: list) -> None:
    approval = data.get("approval")
    if isinstance(approval, dict):
        out.append(("approval", f"approved: {title} (requested by "
                    f"{_t(approval.get('requested_by'), 64)})", None))


def _unreadable(status: Any) -> list[str]:
    readings = status.get("readings") if isinstance(status, dict) else None
    if not isinstance(readings, dict):
        return []
    return sorted(_t(name, 128) for name, r in readings.items()
                  if isinstance(r, dict) and (r.get("error") or r.get("value") is None))[:10]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _recon_title(data: dict) -> str:
    opened, closed = data.get("opened"), data.get("closed")
    opened = opened if isinstance(opened, list) else []
    closed = closed if isinstance(closed, list) else []
    words = (f"reconciliation finished: {_count(data.get('mismatched_rows'))} mismatched rows, "
             f"{_count(data.get('failed_checks'))} failed checks, {len(opened)} exceptions opened, "
             f"{len(closed)} closed")
    return words + (" (cancelled)" if data.get("cancelled") else "")
