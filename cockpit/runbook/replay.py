"""``replay(plan, entries)``: the runbook state is a pure fold over the journal.

Replay records what the journal says happened; it does not judge it (that is
:class:`~cockpit.runbook.operations.Operations`' job before an entry is written). The rules it
derives from those facts:

- A step is done (``step.confirm`` or a GO decision), skipped, failed (``step.fail`` or a NO-GO
  decision) or otherwise pending; a pending step is shown ``active`` when it can be worked now.
- The first phase is open from the start; a later phase opens when the one before it is
  complete (every step done or skipped) or a decision step in it recorded GO.
- Inside an open phase a step waits for every earlier step not marked ``parallel``; a
  ``parallel`` step may be worked any time while its phase is open.
- After ``rollback.start`` only the rollback runbook is worked, under the same rules.
- ``gate.change``, ``session.*`` and ``clock.warning`` are evidence; they change no step.
- Two-person requests: an ``approval.request`` is pending until the entry that completes it
  (``step.confirm`` / ``step.skip`` / ``rollback.start`` with ``data.approval.request`` =
  its seq), an ``approval.reject`` or ``approval.withdraw`` naming it (``data.request``), a
  newer request for the same subject, or the step being finished anyway (a rollback started
  ends the requests of main-runbook steps). Expiry is the request's wall time plus its
  ``expires_s``: derived from time by the reader (``ApprovalRequest.expired(now)``), never
  journalled, so replay stays pure.
- Local mode (``cockpit.journal.local``): an entry merged from a local journal carries
  ``data.local = {seq, hash, ts}``; it is replayed at its local time (``ts``: when it was
  done), and one flagged ``data.local.conflict`` (it no longer applied to the shared state
  that moved meanwhile, :func:`local_conflicts`) is evidence only: recorded, never applied,
  so nothing is counted twice. ``local.merge`` is listed in ``RunbookState.local_merges``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from cockpit.config.plan import Plan
from cockpit.journal import GENESIS, Entry
from cockpit.journal.entry import parse_ts
from cockpit.recon.evidence import ReconEvidence
from cockpit.runbook.state import (
    ApprovalEnd,
    ApprovalRequest,
    ExceptionState,
    LocalMerge,
    NoteRecord,
    Override,
    RunbookState,
    StepState,
    StepStatus,
)

_STEP_ACTIONS = frozenset({"step.confirm", "step.skip", "step.fail", "step.run", "decision.record"})
_FINISHED = (StepStatus.DONE, StepStatus.SKIPPED)
KINDS = ("confirm", "skip", "rollback")
ROLLBACK = "rollback"  # the subject of a request to start the rollback
# How long a request waits when its entry does not say (the plan's default).
DEFAULT_EXPIRES_S = 600.0


class Replayer:
    """The fold, one entry at a time (``Operations`` keeps one live; ``replay`` runs one fresh)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        rb = plan.runbook
        self._main = [(p.id, p.steps) for p in rb.phases]
        self._rollback = [(p.id, p.steps) for p in rb.rollback.phases]
        clock_phase = rb.clock_phase()
        self._clock_steps = {s.id for s in clock_phase.steps} if clock_phase else set()
        self._steps: dict[str, StepState] = {
            s.id: StepState(s.id, StepStatus.PENDING) for s in rb.all_steps() + rb.rollback_steps()
        }
        self._rollback_active = False
        self._rollback_reason: str | None = None
        self._rollback_at: float | None = None
        self._rollback_by: str | None = None
        self._clock_started_at: float | None = None
        self._overrides: list[Override] = []
        self._exceptions: dict[str, ExceptionState] = {}
        self._notes: list[NoteRecord] = []
        self._last_recon: tuple[float, dict] | None = None
        self._recon_evidence = ReconEvidence.for_plan(plan)
        self._last: Entry | None = None  # the head is the last entry applied
        self._last_step_entry: Entry | None = None
        self._approvals: dict[int, ApprovalRequest] = {}
        self._ended: dict[int, ApprovalEnd] = {}
        self._cached: RunbookState | None = None
        self._merges: list[LocalMerge] = []

    # What the fold has gathered, by name: all a saved fold needs (cockpit.runbook.foldcache);
    # the rest of a Replayer follows from the plan.
    SAVED = ("steps", "rollback_active", "rollback_reason", "rollback_at", "rollback_by",
             "clock_started_at", "overrides", "exceptions", "notes", "last_recon",
             "recon_evidence", "last", "last_step_entry", "approvals", "ended", "merges")

    def saved(self) -> dict[str, Any]:
        """The fold's gathered values by name (``SAVED``), shared, not copied: read only."""
        return {name: getattr(self, "_" + name) for name in self.SAVED}

    @classmethod
    def resumed(cls, plan: Plan, saved: dict[str, Any]) -> Replayer:
        """A fold of ``plan`` continuing from ``saved`` (what ``saved()`` gave, or a copy of
        it): the same fold as the one that gathered it. Raises ValueError when ``saved`` does
        not fit the plan's steps."""
        r = cls(plan)
        if saved.keys() != set(cls.SAVED) or saved["steps"].keys() != r._steps.keys():
            raise ValueError("the saved fold is not of this plan's steps")
        for name in cls.SAVED:
            value = saved[name]
            # Its own containers: the fold grows them in place, and two folds may resume
            # from one saved state.
            if isinstance(value, (dict, list)):
                value = type(value)(value)
            setattr(r, "_" + name, value)
        return r

    def apply(self, e: Entry) -> None:
        self._cached = None
        self._last = e
        if type(e.data) is dict and "local" in e.data:
            local = e.data["local"]
            if not isinstance(local, dict) or local.get("conflict"):
                return  # no longer applied when merged: evidence only, never counted twice
            e = _at_local_time(e, local.get("ts"))
        # Most of a night's entries (gate changes, notes, session markers) change little or
        # nothing: one lookup finds what an action does, instead of a test per kind.
        handler = _BY_ACTION.get(e.action)
        if handler is not None:
            handler(self, e)

    def _merge_entry(self, e: Entry) -> None:
        d = e.data if isinstance(e.data, dict) else {}

        def count(key: str) -> int:
            v = d.get(key)
            return v if type(v) is int and v >= 0 else 0

        def ts(key: str) -> str:
            v = d.get(key)
            return v if isinstance(v, str) and len(v) >= 16 else e.ts

        who = d.get("who")
        self._merges.append(LocalMerge(e.seq, e.wall, who if isinstance(who, str) else "?",
                                       e.reason_code, e.note, ts("since"), ts("until"),
                                       count("count"), count("conflicts")))

    def _override_entry(self, e: Entry) -> None:
        data = e.data if isinstance(e.data, dict) else {}
        self._overrides.append(Override(e.subject or "", str(data.get("step")), e.actor.operator,
                                        e.wall, e.reason_code, e.note, data.get("gate")))

    def _completing_step_entry(self, e: Entry) -> None:
        self._end_requests(e)
        self._step_entry(e)

    def _completing_rollback_entry(self, e: Entry) -> None:
        self._end_requests(e)
        self._rollback_entry(e)

    def _rollback_entry(self, e: Entry) -> None:
        if not self._rollback_active:
            self._rollback_active = True
            self._rollback_reason = e.reason_code
            self._rollback_at = e.wall
            self._rollback_by = e.actor.operator

    def _recon_entry(self, e: Entry) -> None:
        self._last_recon = (e.wall, e.data if isinstance(e.data, dict) else {})
        self._recon_evidence = self._recon_evidence.fold(*self._last_recon)

    def _note_entry(self, e: Entry) -> None:
        self._notes.append(NoteRecord(e.wall, e.actor.operator, e.note or "", e.subject))

    def _step_entry(self, e: Entry) -> None:
        old = self._steps.get(e.subject or "")
        if old is None:
            return  # a step the plan no longer has: the entry stays evidence
        self._last_step_entry = e
        if self._clock_started_at is None and old.step_id in self._clock_steps:
            self._clock_started_at = e.wall
        data = e.data if isinstance(e.data, dict) else {}
        who, at = e.actor.operator, e.wall
        a = e.action
        if a == "step.run":
            new = StepState(old.step_id, old.status, old.actor, old.at, old.reason_code, old.note,
                            old.gate_snapshot, data, old.decision)
        elif a == "step.confirm":
            new = StepState(old.step_id, StepStatus.DONE, who, at, e.reason_code, e.note,
                            data.get("gates"), old.run, old.decision)
        elif a == "step.skip":
            new = StepState(old.step_id, StepStatus.SKIPPED, who, at, e.reason_code, e.note,
                            None, old.run, old.decision)
        elif a == "step.fail":
            new = StepState(old.step_id, StepStatus.FAILED, who, at, e.reason_code, e.note,
                            None, old.run, old.decision)
        else:  # decision.record
            call = data.get("call")
            status = StepStatus.DONE if call == "GO" else StepStatus.FAILED
            new = StepState(old.step_id, status, who, at, e.reason_code, e.note,
                            data.get("gates"), old.run, call)
        self._steps[old.step_id] = new

    def _approval_entry(self, e: Entry) -> None:
        data = e.data if isinstance(e.data, dict) else {}
        subject = e.subject or ""
        if e.action == "approval.request":
            kind = data.get("kind")
            known = subject == ROLLBACK if kind == ROLLBACK else subject in self._steps
            if kind not in KINDS or not known:
                return  # not a request this plan can answer: the entry stays evidence
            expires = data.get("expires_s")
            if isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires < 0:
                expires = DEFAULT_EXPIRES_S
            for seq in [s for s, r in self._approvals.items() if r.subject == subject]:
                del self._approvals[seq]  # replaced (the older one had expired)
            gates = data.get("gates")
            self._approvals[e.seq] = ApprovalRequest(
                e.seq, subject, kind, e.actor, e.wall, e.wall + float(expires),
                gates if isinstance(gates, dict) else {},
                _str_or_none(data.get("reason_code")), _str_or_none(data.get("note")))
        elif e.action in ("approval.reject", "approval.withdraw"):
            self._end(data.get("request"), e)

    def _end_requests(self, e: Entry) -> None:
        """A completing entry ends the request it names, and any other request it makes moot."""
        data = e.data if isinstance(e.data, dict) else {}
        approval = data.get("approval")
        if isinstance(approval, dict):
            self._end(approval.get("request"), e)
        if e.action == "rollback.start":
            moot = [s for s, r in self._approvals.items()
                    if r.subject == ROLLBACK or r.subject not in self._rollback_ids()]
        else:
            moot = [s for s, r in self._approvals.items() if r.subject == e.subject]
        for seq in moot:
            self._end(seq, e)

    def _rollback_ids(self) -> set[str]:
        return {s.id for _, steps in self._rollback for s in steps}

    def _end(self, seq, e: Entry) -> None:
        if isinstance(seq, int) and not isinstance(seq, bool) and seq in self._approvals:
            del self._approvals[seq]
            self._ended[seq] = ApprovalEnd(e.action, e.actor.operator, e.wall)

    def _exception_entry(self, e: Entry) -> None:
        eid = e.subject or ""
        data = e.data if isinstance(e.data, dict) else {}
        old = self._exceptions.get(eid)
        if e.action == "exception.open":
            self._exceptions[eid] = ExceptionState(
                eid, data.get("layer"), data.get("table"), data.get("keys"), data.get("kind"),
                data.get("severity"), data.get("category"), "open",
                old.triage if old else None, data.get("title"))
        elif old is None:
            return
        elif e.action == "exception.close":
            self._exceptions[eid] = _replace_exc(old, status="closed")
        elif e.action == "exception.triage":
            triage = {"category": data.get("category"), "reason_code": e.reason_code,
                      "note": e.note, "actor": e.actor.operator, "at": e.wall}
            self._exceptions[eid] = _replace_exc(old, category=data.get("category"), triage=triage)

    # -- derived ---------------------------------------------------------------------------

    def _open(self, phases) -> list[int]:
        """Indexes of the open phases: a prefix of ``phases``."""
        steps = self._steps
        out = [0]
        for i in range(1, len(phases)):
            before = phases[i - 1][1]
            complete = all(steps[s.id].status in _FINISHED for s in before)
            go = any(s.kind == "decision" and steps[s.id].decision == "GO"
                     and steps[s.id].status is StepStatus.DONE for s in before)
            if not (complete or go):
                break
            out.append(i)
        return out

    def _actionable(self, phase_steps) -> list[str]:
        """Steps of an open phase that may be worked now, in order."""
        steps = self._steps
        out: list[str] = []
        blocked = False
        for s in phase_steps:
            st = steps[s.id].status
            if st in _FINISHED:
                continue
            if s.parallel or not blocked:
                out.append(s.id)
            if not s.parallel:
                blocked = True
        return out

    def state(self) -> RunbookState:
        if self._cached is not None:
            return self._cached
        phases = self._rollback if self._rollback_active else self._main
        open_idx = self._open(phases)
        current = open_idx[-1]
        actionable_by_phase = [self._actionable(phases[i][1]) for i in open_idx]
        steps = dict(self._steps)
        for ids in actionable_by_phase:
            for sid in ids:
                if steps[sid].status is StepStatus.PENDING:
                    s = steps[sid]
                    steps[sid] = StepState(sid, StepStatus.ACTIVE, s.actor, s.at, s.reason_code,
                                           s.note, s.gate_snapshot, s.run, s.decision)
        candidates = actionable_by_phase[-1] or next((ids for ids in actionable_by_phase if ids), [])
        self._cached = RunbookState(
            steps=steps,
            phase=phases[current][0],
            rollback_active=self._rollback_active,
            rollback_reason=self._rollback_reason,
            rollback_at=self._rollback_at,
            next_step=candidates[0] if candidates else None,
            clock_started_at=self._clock_started_at,
            overrides=tuple(self._overrides),
            exceptions=dict(self._exceptions),
            notes=tuple(self._notes),
            last_recon=self._last_recon,
            head=(0, GENESIS) if self._last is None else (self._last.seq, self._last.hash),
            last_step_entry=self._last_step_entry,
            open_phases=tuple(phases[i][0] for i in open_idx),
            rollback_by=self._rollback_by,
            recon_evidence=self._recon_evidence,
            approvals=dict(self._approvals),
            approvals_ended=dict(self._ended),
            local_merges=tuple(self._merges),
        )
        return self._cached


def _at_local_time(e: Entry, ts) -> Entry:
    """A merged entry as of when it was done in local mode (its ``data.local.ts``)."""
    try:
        wall = parse_ts(ts) if isinstance(ts, str) else None
    except ValueError:
        wall = None
    return e if wall is None else dataclasses.replace(e, wall=wall)


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


# What each action does to the fold; any other action (gate.change, session.*, clock.warning,
# another exception.* ...) is evidence only.
_BY_ACTION = {
    **dict.fromkeys(_STEP_ACTIONS, Replayer._step_entry),
    **dict.fromkeys(("step.confirm", "step.skip"), Replayer._completing_step_entry),
    **dict.fromkeys(("approval.request", "approval.reject", "approval.withdraw"),
                    Replayer._approval_entry),
    **dict.fromkeys(("exception.open", "exception.close", "exception.triage"),
                    Replayer._exception_entry),
    "gate.override": Replayer._override_entry,
    "rollback.start": Replayer._completing_rollback_entry,
    "recon.run": Replayer._recon_entry,
    "note": Replayer._note_entry,
    "local.merge": Replayer._merge_entry,
}


def _replace_exc(old: ExceptionState, **changes) -> ExceptionState:
    d = {f: getattr(old, f) for f in ExceptionState.__dataclass_fields__}
    d.update(changes)
    return ExceptionState(**d)


def replay(plan: Plan, entries: Iterable[Entry]) -> RunbookState:
    """The runbook state after ``entries`` (pure: same plan and entries, same state)."""
    r = Replayer(plan)
    for e in entries:
        r.apply(e)
    return r.state()


def _hhmmss(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%H:%M:%SZ")


def _no_longer(state: RunbookState, plan: Plan, e: Entry) -> str | None:
    """Why ``e``, done in local mode, no longer applies to ``state`` (someone else did the
    same meanwhile), or None. Only what would count twice or contradict: notes, runs, gate
    changes and refusals always apply."""
    data = e.data if isinstance(e.data, dict) else {}
    subject = e.subject or ""
    if e.action in ("step.confirm", "step.skip", "step.fail", "decision.record"):
        st = state.steps.get(subject)
        if st is None:
            return None
        if st.status in _FINISHED:
            by = f" by {st.actor}" if st.actor else ""
            at = f" at {_hhmmss(st.at)}" if st.at is not None else ""
            word = "decided" if st.decision is not None else st.status.value
            return f"{subject} was already {word}{by}{at} in the shared journal"
        is_rollback = subject in {s.id for s in plan.runbook.rollback_steps()}
        if state.rollback_active and not is_rollback:
            return f"the rollback was started meanwhile: {subject} is not a rollback step"
        return None
    if e.action == "gate.override":
        step = str(data.get("step"))
        if any(o.gate == subject and o.step == step for o in state.overrides):
            return f"gate {subject} was already overridden for {step} in the shared journal"
        return None
    if e.action == "rollback.start" and state.rollback_active:
        by = f" by {state.rollback_by}" if state.rollback_by else ""
        return f"the rollback was already started{by} in the shared journal"
    if e.action == "exception.triage":
        exc = state.exceptions.get(subject)
        if exc is None or exc.status != "open":
            return f"exception {subject} is no longer open in the shared journal"
    return None


def local_conflicts(plan: Plan, shared: Sequence[Entry], local: Iterable[Entry], *,
                    start: tuple[int, Replayer] | None = None) -> list[str | None]:
    """For each entry made in local mode (in order), why it no longer applies to the shared
    state with the entries before it merged (one line), or None: the merge rule
    (``SharedJournal.set_merge_rule``). ``start``: (n, a fold of ``shared``'s first n entries)
    to continue from, copied (it is not moved): only the entries after it are read. Pure,
    like ``replay``."""
    n, r = (0, Replayer(plan)) if start is None else (start[0], Replayer.resumed(plan, start[1].saved()))
    for e in shared[n:]:
        r.apply(e)
    out: list[str | None] = []
    for e in local:
        why = _no_longer(r.state(), plan, e)
        out.append(why)
        if why is None:
            r.apply(e)
    return out
