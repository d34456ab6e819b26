"""Runbook state: what replaying the journal says about every step, exception and override.

Treat these objects as read-only; a new state is built after every journal entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from cockpit.journal import GENESIS, Actor, Entry
from cockpit.recon.evidence import ReconEvidence


class StepStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"  # actionable now: its phase is open and every step it waits for is finished
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"  # a step.fail, or a NO-GO decision; may be retried, skipped or re-decided

    @property
    def finished(self) -> bool:
        return self in (StepStatus.DONE, StepStatus.SKIPPED)


@dataclass(frozen=True)
class StepState:
    step_id: str
    status: StepStatus
    actor: str | None = None  # operator name of the last entry that changed the status
    at: float | None = None  # its wall time
    reason_code: str | None = None
    note: str | None = None
    # Values taken from an entry's data are typed as what a journal may hold (Any): a hostile
    # or older journal holds anything there, and the saved folds keep exactly that.
    gate_snapshot: Any = None  # {gate: GateStatus.to_json()} at confirmation/decision
    run: dict | None = None  # the last step.run data: exit_code, sha256, output_path, duration_s
    decision: Any = None  # "GO" / "NO-GO" for decision steps (data.call)


@dataclass(frozen=True)
class ExceptionState:
    id: str
    # From the entry's data, as the journal holds them (strings or None when it was written
    # by the cockpit; anything in a hostile journal).
    layer: Any
    table: Any
    keys: Any
    kind: Any
    severity: Any
    category: Any
    status: str  # "open" / "closed"
    triage: dict | None  # the last triage: category, reason_code, note, actor, at
    title: Any


@dataclass(frozen=True)
class Override:
    gate: str
    step: str
    actor: str
    at: float
    reason_code: str | None
    note: str | None
    snapshot: Any  # the gate's status when it was overridden (data.gate, as the journal holds it)


@dataclass(frozen=True)
class NoteRecord:
    at: float
    actor: str
    text: str
    subject: str | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    """A two-person request waiting for a second person: an ``approval.request`` entry not yet
    ended by its completing entry, a reject or a withdraw. Expiry is time, not an entry:
    ``expired(now)``."""

    seq: int  # the approval.request entry's seq: the request's id
    subject: str  # the step id, or "rollback"
    kind: str  # "confirm" | "skip" | "rollback"
    requester: Actor
    at: float  # wall time of the request
    expires_at: float
    gates: dict  # {gate: GateStatus.to_json() | None} as the requester saw them
    reason_code: str | None = None  # skip and rollback carry what their completing entry needs
    note: str | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def to_json(self) -> dict:
        return {"seq": self.seq, "subject": self.subject, "kind": self.kind,
                "requester": self.requester.to_json(), "at": self.at,
                "expires_at": self.expires_at, "gates": self.gates,
                "reason_code": self.reason_code, "note": self.note}


@dataclass(frozen=True)
class ApprovalEnd:
    """How a request ended: the completing entry (``step.confirm``/``step.skip``/
    ``rollback.start``), ``approval.reject`` or ``approval.withdraw``; by whom and when."""

    action: str
    by: str  # operator name
    at: float


@dataclass(frozen=True)
class LocalMerge:
    """A local-mode journal merged into the shared journal (its ``local.merge`` entry)."""

    seq: int
    at: float  # when the merge was recorded
    who: str  # who switched that cockpit to local mode
    reason_code: str | None
    note: str | None
    since: str  # ts of its local.start
    until: str  # ts of its last entry
    count: int
    conflicts: int

    def words(self) -> str:
        """"merged 4 entries made in LOCAL MODE by j.doe 22:14-22:31Z: db_outage; 1 conflict"."""
        n, k = self.count, self.conflicts
        reason = ": ".join(x for x in (self.reason_code, self.note) if x)
        line = (f"merged {n} entr{'y' if n == 1 else 'ies'} made in LOCAL MODE by {self.who} "
                f"{self.since[11:16]}-{self.until[11:16]}Z")
        if reason:
            line += f": {reason}"
        if k:
            line += f"; {k} conflict{'s' if k > 1 else ''}"
        return line


@dataclass(frozen=True)
class RunbookState:
    steps: dict[str, StepState]  # every step, main runbook then rollback, in plan order
    phase: str | None  # the current phase id (a rollback phase id once rollback is active)
    rollback_active: bool
    rollback_reason: str | None
    rollback_at: float | None
    next_step: str | None  # what the operator should do next in the active runbook
    clock_started_at: float | None
    overrides: tuple[Override, ...]
    exceptions: dict[str, ExceptionState]
    notes: tuple[NoteRecord, ...]
    last_recon: tuple[float, dict] | None  # (wall ts, data) of the newest recon.run
    head: tuple[int, str] = (0, GENESIS)
    last_step_entry: Entry | None = None  # the newest step.* or decision.record entry
    open_phases: tuple[str, ...] = ()  # extension: every phase whose steps may be worked now
    rollback_by: str | None = None  # extension: who started the rollback
    # Per reconciliation unit, its latest measurement over every recon.run (not just the last).
    recon_evidence: ReconEvidence | None = None
    # Two-person requests not ended, by request seq (at most one per subject: a newer request
    # for the same subject, possible once the older expired, replaces it); expired ones stay
    # here until ended or replaced (``pending(now)`` leaves them out).
    approvals: dict[int, ApprovalRequest] = field(default_factory=dict)
    approvals_ended: dict[int, ApprovalEnd] = field(default_factory=dict)
    local_merges: tuple[LocalMerge, ...] = ()  # local-mode journals merged, oldest first

    def pending(self, now: float) -> list[ApprovalRequest]:
        """The requests a second person may still answer, oldest first."""
        return [r for r in self.approvals.values() if not r.expired(now)]

    def request_for(self, subject: str) -> ApprovalRequest | None:
        """The open request (expired or not) for a step id or "rollback"."""
        return next((r for r in self.approvals.values() if r.subject == subject), None)

    def step(self, step_id: str) -> StepState | None:
        return self.steps.get(step_id)

    def open_exceptions(self) -> list[ExceptionState]:
        return [e for e in self.exceptions.values() if e.status == "open"]

    def to_json(self) -> dict:
        """Plain JSON (for ``cockpit status --json`` and for comparing states across processes)."""
        return {
            "head": {"seq": self.head[0], "hash": self.head[1]},
            "phase": self.phase,
            "open_phases": list(self.open_phases),
            "next_step": self.next_step,
            "rollback": {"active": self.rollback_active, "reason_code": self.rollback_reason,
                         "at": self.rollback_at, "by": self.rollback_by},
            "clock_started_at": self.clock_started_at,
            "steps": {sid: {**asdict(s), "status": s.status.value} for sid, s in self.steps.items()},
            "overrides": [asdict(o) for o in self.overrides],
            "exceptions": {k: asdict(e) for k, e in self.exceptions.items()},
            "notes": [asdict(n) for n in self.notes],
            "last_recon": None if self.last_recon is None
            else {"at": self.last_recon[0], "data": self.last_recon[1]},
            "last_step_entry": None if self.last_step_entry is None else self.last_step_entry.to_json(),
            "approvals": {str(k): r.to_json() for k, r in self.approvals.items()},
        }
