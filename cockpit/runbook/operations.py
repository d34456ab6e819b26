"""The operator actions: validate against the replayed state, then append to the journal.

Every refusal raises :class:`Refused` with one line saying why; journal failures (locked,
read-only, disk full, failed fsync) are refusals too (``Refused.__cause__`` holds the
``JournalError``), so a view needs to catch only ``Refused``. Nothing changes unless the entry is
on disk.

Rules (see also :mod:`cockpit.runbook.replay` for how phases open):

- Permissions come from ``plan.operators``: an operator's role may confirm, skip or fail steps
  it owns or lists in ``confirm`` (``"*"`` = any); critical steps also need ``approve_critical``
  (for a ``two_person`` step it is enough that either person's role has it);
  decisions need ``decide``, overrides ``override``, rollback ``rollback``, triage ``triage``;
  triaging an exception that waits for clinical approval (``needs_clinical_approval``) also
  needs ``approve_clinical``. A name not in ``operators.people`` is refused, unless the plan
  lists no people at all (demo and rehearsal plans), in which case every action is allowed to
  anyone. When identities are checked (a person lists ``logins``), the actor's login must be
  one of its person's (``cockpit.identity``). ``authority`` asks all this without journalling;
  a refusal for lack of a permission is journalled as ``access.refused`` (``refuse``).
  Retrying or dismissing a notification's dead letter (``notify.retry`` / ``notify.dismiss``)
  takes any operator of the plan and a note: it changes what the channel is told, not the
  cutover.
- Critical steps (and critical decisions) need ``typed`` equal to the step id.
- ``two_person`` steps (and the rollback when ``runbook.rollback.two_person``) take two
  people, each from their own cockpit: the first's confirm / skip / start_rollback, with
  everything it needs checked, writes an ``approval.request`` (the gate snapshot it was made
  under, ``operators.approval_expires``); a different person (:meth:`Operations.same_person`)
  answers it with :meth:`~Operations.approve` (which writes the completing entry as the
  approver, ``data.approval = {request, requested_by}``) or :meth:`~Operations.reject`; the
  requester may :meth:`~Operations.withdraw` it. One open request per subject. An expired
  request cannot be approved; a request whose required gates are no longer GO cannot be
  approved until those gates are overridden for the step (the override path). The approver
  must be an operator of the plan who may work the step or approve critical steps (the
  rollback: whose role has ``rollback``); a critical step needs ``approve_critical`` of one of
  the two; the approver always types the step id (the rollback: ROLLBACK).
- Skipping a step takes what confirming it takes: a critical step needs its id typed and the
  same authority (``approve_critical``; for a ``two_person`` step, either person's, and the
  second person's approval); a step whose required gates are
  not GO can be skipped only after those gates were overridden for it (the override path,
  journalled with its own reason), so a skip never passes a gate that confirming could not.
- Skip, override, rollback and triage need a reason code from ``plan.cutover.reason_codes``;
  fail needs a note; override needs a note.
- A step that ``requires`` gates is confirmed (or decided GO) only when every required gate
  passes (only GO passes; a gate missing from ``gates`` is refused) or has a journalled
  override for that step. The entry carries the snapshot of every required gate.
- A NO-GO decision records the call and the gate snapshot; the step shows ``failed`` and the
  next phase stays closed until a later GO (a decision may be re-recorded until it is GO) or a
  rollback.
- Rollback may start any time (once); afterwards only rollback steps are confirmed or skipped,
  in order.
- Local mode (``cockpit.journal.local``): while the shared journal cannot be reached, an
  operator whose role has ``local_mode`` (anyone, in a plan without people) may switch this
  cockpit to local mode with a reason code and a note (:meth:`Operations.go_local`); its
  actions are then journalled in a local file and replayed on top of the shared state, and
  merged, flagged, on reconnect (conflicts by :func:`cockpit.runbook.replay.local_conflicts`).
  A cockpit in local mode cannot reach a second person: every two-person action (request,
  approve, reject, withdraw) is refused locally, and says so.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cockpit import identity
from cockpit.clock import Clock, RealClock
from cockpit.config.plan import Plan
from cockpit.durations import format_duration
from cockpit.gates import GateStatus
from cockpit.journal import Actor, Entry, Journal, JournalConflict, JournalError
from cockpit.redact import find_secret, redact
from cockpit.runbook.replay import ROLLBACK, Replayer, local_conflicts
from cockpit.runbook.state import ApprovalRequest, RunbookState, StepStatus
from cockpit.text import clean

CLINICAL = "needs_clinical_approval"
TRIAGE_CATEGORIES = ("manual_review", "auto_correct_safe", "needs_clinical_approval", "defer")
CALLS = ("GO", "NO-GO")
NOTE_LIMIT = 2000

# The role permission each journal action needs beyond being this plan's operator (the step
# actions need the step's owner, ``confirm``, and ``approve_critical`` for critical steps).
ACTION_PERMISSIONS = {"decision.record": "decide", "gate.override": "override",
                      "rollback.start": "rollback", "exception.triage": "triage",
                      "local.start": "local_mode"}
PERMISSION_WORDS = {"decide": "record decisions", "override": "override gates",
                    "rollback": "start the rollback", "triage": "triage exceptions",
                    "local_mode": "switch to local mode"}
# Said when a two-person action is tried in local mode.
LOCAL_TWO_PERSON = ("this cockpit is in LOCAL MODE: a two-person action needs a second person, "
                    "whom a cockpit cut off from the shared journal cannot reach; it waits until "
                    "the shared journal is back")
# The journal action a refusal for lack of a permission is recorded under (``access.refused``).
PERMISSION_ACTIONS = {**{p: a for a, p in ACTION_PERMISSIONS.items()},
                      "approve_clinical": "exception.triage"}

log = logging.getLogger(__name__)


class Refused(Exception):
    """The action was not taken; ``str(exc)`` is one line saying why."""


# How many times an action is checked again after another cockpit appended to the shared
# journal first; each retry sees every entry the others wrote, so losing this often means the
# journal is busier than any operator could be.
CONFLICT_RETRIES = 20
# After each lost race a random pause, doubling up to the cap (at most about 1.4 s in all):
# cockpits that lost together do not all come back at the same instant and lose again.
CONFLICT_BACKOFF_S = 0.002
CONFLICT_BACKOFF_CAP_S = 0.1


class _Conflict(Exception):
    """Internal: another cockpit appended first (a ``JournalConflict``); check again."""


def _serialized(method):
    """One action at a time, validation and append together (the view may run actions on a
    writer thread). Reading ``state`` takes only the short replay lock, so a slow fsync in an
    action never blocks a view that is drawing.

    On a shared journal another cockpit may append between this one's check and its append;
    the database refuses the append (``JournalConflict``) and the journal reads what the other
    wrote. The whole action then runs again against the new state: it is recorded after all,
    or refused with why it no longer applies ("B07 was confirmed by j.lindqvist 2s ago").

    A journal with an ``action_lock`` (the shared one) is held from the check to the append:
    its follower cannot end local mode in between (merge the local journal), so an action
    checked against the local state is recorded in the local journal, never in the shared one
    against a state it was not checked against."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        held = getattr(self.journal, "action_lock", None) or contextlib.nullcontext()
        with self._write_lock:
            for lost in range(CONFLICT_RETRIES):
                try:
                    with held:
                        return method(self, *args, **kwargs)
                except _Conflict:
                    if lost + 1 < CONFLICT_RETRIES:
                        cap = min(CONFLICT_BACKOFF_S * 2 ** lost, CONFLICT_BACKOFF_CAP_S)
                        time.sleep(random.uniform(0, cap))
            raise Refused(f"not recorded: other cockpits kept appending to the shared journal "
                          f"first ({CONFLICT_RETRIES} tries); try again")

    return wrapper


class Operations:
    def __init__(self, plan: Plan, journal: Journal, actor: Actor, clock: Clock | None = None, *,
                 resume: tuple[int, Replayer] | None = None):
        """``resume``: (n, the fold of the journal's first n entries) to continue from
        (``cockpit.runbook.foldcache``) instead of replaying them again."""
        self._write_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self.plan = plan
        self.journal = journal
        self.actor = actor
        # The clock the journal stamps entries with (request times and expiry are compared
        # with it); a journal opened without one stamps real time.
        self.clock: Clock = clock or getattr(journal, "_clock", None) or RealClock()
        self._applied, self._replayer = resume if resume is not None else (0, Replayer(plan))
        self._origin: Operations | None = None
        # Local mode: the shared state with this cockpit's local entries on top, keyed by the
        # local journal's first hash (a new local journal, or none, starts it again).
        self._overlay: tuple[str, int, Replayer] | None = None
        set_rule = getattr(journal, "set_merge_rule", None)
        if set_rule is not None:
            set_rule(self.merge_conflicts)

    def acting_as(self, actor: Actor) -> Operations:
        """The same operations (one journal, one replayed state, one write lock) as ``actor``:
        how a cockpit that holds the journal records an approval another person made from
        their own cockpit (``cockpit.runbook.approvals``), checked as that person."""
        other = copy.copy(self)
        other.actor = actor
        other._origin = self._origin or self
        return other

    def now(self) -> float:
        return self.clock.now()

    def saved(self) -> tuple[int, Replayer]:
        """(n, the fold of the journal's first n entries), with every entry folded in: to save.
        Read only; the live fold goes on growing."""
        if self._origin is not None:
            return self._origin.saved()
        with self._state_lock:
            self.state  # noqa: B018 - folds in what is new
            return self._applied, self._replayer

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> RunbookState:
        """The replayed state, including entries others appended to the same journal object."""
        if self._origin is not None:
            return self._origin.state
        with self._state_lock:
            # Counted from the slice taken: an entry the writer thread appends meanwhile is
            # folded in next time, never skipped.
            new = self.journal.entries[self._applied:]
            for e in new:
                self._replayer.apply(e)
            self._applied += len(new)
            local = getattr(self.journal, "local_entries", None)
            if not local:
                self._overlay = None
                return self._replayer.state()
            return self._local_state(local)

    def _local_state(self, local: list[Entry]) -> RunbookState:
        """The shared state with the local journal's entries replayed on top. The shared
        entries do not move while in local mode (disconnected); the overlay starts as a copy
        of the live fold (never the live fold itself, which must not see local entries; a copy,
        not a fold of every shared entry again: a second at 100,000) and is extended."""
        key = local[0].hash
        if self._overlay is None or self._overlay[0] != key:
            r = Replayer.resumed(self.plan, self._replayer.saved())
            self._overlay = (key, 0, r)
        _, done, r = self._overlay
        new = local[done:]
        for e in new:
            r.apply(e)
        self._overlay = (key, done + len(new), r)
        return r.state()

    # -- local mode ------------------------------------------------------------------------

    def in_local_mode(self) -> bool:
        return getattr(self.journal, "local_mode", None) is not None

    def can_go_local(self) -> str | None:
        """Why this operator cannot switch this cockpit to local mode now, or None (the view
        greys the action with it)."""
        can = getattr(self.journal, "can_go_local", None)
        if can is None:
            return "local mode is for a shared journal: this cockpit journals to a file"
        return self._lacks("local_mode", PERMISSION_WORDS["local_mode"]) or can()

    @_serialized
    def go_local(self, reason_code: str, note: str) -> Entry:
        """Switch this disconnected cockpit to local mode: ``local.start`` (reason code, note,
        the last shared head seen) fsynced in the local journal before this returns."""
        can = getattr(self.journal, "can_go_local", None)
        if can is None:
            raise Refused("local mode is for a shared journal: this cockpit journals to a file")
        self._need("local_mode", PERMISSION_WORDS["local_mode"])
        why = can()
        if why:
            raise Refused(f"cannot work locally: {why}")
        code = self._reason(reason_code, "local mode")
        text = self._text(note, "local mode", required=True)
        try:
            entry = self.journal.go_local(self.actor, code, text)  # type: ignore[attr-defined]
        except JournalError as exc:
            raise Refused(str(exc)) from exc
        self.state  # noqa: B018 -- fold it in now
        return entry

    def merge_conflicts(self, shared: Sequence[Entry], local: list[Entry]) -> list[str | None]:
        """The merge rule: the shared journal's follower asks it (holding the journal) which
        local entries no longer apply. It starts from the live fold of the shared entries,
        copied, so only what came after it is read (not 100,000 entries decoded and folded
        again while every action waits for the journal)."""
        with self._state_lock:  # local_conflicts copies the live fold; it is not moved
            return local_conflicts(self.plan, shared, local, start=(self._applied, self._replayer))

    def _not_local(self) -> None:
        if self.in_local_mode():
            raise Refused(LOCAL_TWO_PERSON)

    # -- checks ----------------------------------------------------------------------------

    def _role(self, name: str | None = None):
        """(role name, Role) of an operator; (None, None) when the plan lists no people. For
        this session's own operator, when identities are checked, its login must be one of
        that person's (``cockpit.identity.standing``)."""
        name = self.actor.operator if name is None else name
        if not self.plan.operators.people:
            return None, None
        if name == self.actor.operator:
            me = identity.standing(self.plan, name, self.actor.os_user)
            if not me.may_write:
                raise Refused(me.why or "this session may not act")
        role_name = self.plan.role_of(name)
        if role_name is None:
            raise Refused(f"'{clean(name, 64, single_line=True)}' is not an operator of this plan "
                          "(operators.people)")
        return role_name, self.plan.operators.roles.get(role_name)

    def _lacks(self, permission: str, what: str) -> str | None:
        """Why this operator may not ``what`` (its role lacks ``permission``), or None."""
        try:
            role_name, role = self._role()
        except Refused as exc:
            return str(exc)
        if role_name is not None and not (role is not None and getattr(role, permission)):
            return (f"{self.actor.operator} ({role_name}) may not {what}: the role lacks "
                    f"'{permission}'")
        return None

    def _need(self, permission: str, what: str, target: str | None = None) -> None:
        """Raise (and journal, ``refuse``) when this operator lacks ``permission``."""
        why = self._lacks(permission, what)
        if why:
            raise self.refuse(PERMISSION_ACTIONS.get(permission, permission), target, why)

    def _may_work(self, step) -> str | None:
        role_name, role = self._role()
        if role_name is None:
            return None
        confirm = role.confirm if role is not None else []
        if role_name == step.owner or "*" in confirm or step.owner in confirm:
            return None
        return f"{self.actor.operator} ({role_name}) may not work {step.id}: it is owned by {step.owner}"

    def _approves_critical(self, name: str) -> bool:
        role_name, role = self._role(name)
        return role_name is None or (role is not None and role.approve_critical)

    def authority(self, action: str, target: str | None = None) -> str | None:
        """Why this operator may not do ``action`` (a journal action name: ``step.confirm``,
        ``decision.record``, ``gate.override``, ``rollback.start``, ``exception.triage``, ...)
        on ``target`` (a step id for the step actions), by authority alone: who this session
        is (listed person, login) and what the role permits; None if it may. Order, phases,
        gates and state are not asked (they are "not now", this is "not you"). Never journals:
        the view asks it on every redraw; ``refuse`` records a refusal when one is pressed."""
        permission = ACTION_PERMISSIONS.get(action)
        if permission is not None:
            return self._lacks(permission, PERMISSION_WORDS[permission])
        try:
            step = self.plan.runbook.step(target) if target and action.startswith("step.") else None
            if step is None:
                self._role()
                return None
            why = self._may_work(step)
            if why:
                return why
            if (action in ("step.confirm", "step.skip") and step.critical and not step.two_person
                    and not self._approves_critical(self.actor.operator)):
                verb = "skip" if action == "step.skip" else "approve"
                return (f"{step.id} is critical: {self.actor.operator}'s role may not {verb} "
                        "critical steps")
            return None
        except Refused as exc:
            return str(exc)

    def refuse(self, action: str, target: str | None, why: str) -> Refused:
        """Journal a refusal of authority (``access.refused``: actor = who tried, subject =
        the action, data.target, note = the one-line reason) and return the ``Refused`` to
        raise. Only for authority (role, login), never for "not possible now"; once per
        attempt (a key pressed, an action called), never from a check the view redraws.
        A read-only or failing journal cannot record it: the refusal stands all the same."""
        refused = Refused(why)
        if self.journal.readonly:
            return refused
        note = clean(self.plan.redact(why), NOTE_LIMIT, single_line=True)
        data = {"target": None if target is None else clean(target, 64, single_line=True)}
        try:
            self._record_refusal(clean(action, 64, single_line=True), note, data)
        except Refused as exc:
            log.warning("access.refused not journalled: %s", exc)
        return refused

    @_serialized
    def _record_refusal(self, action: str, note: str, data: dict) -> None:
        self._append("access.refused", subject=action, note=note, data=data)

    def _reason(self, code: str | None, what: str) -> str:
        if not code:
            raise Refused(f"{what} needs a reason code")
        if code not in self.plan.cutover.reason_codes:
            known = ", ".join(sorted(self.plan.cutover.reason_codes))
            raise Refused(f"unknown reason code '{clean(code, 40, single_line=True)}' (use one of: {known})")
        return code

    def _text(self, text: str | None, what: str, *, required: bool) -> str | None:
        text = clean(self.plan.redact(text or ""), NOTE_LIMIT).strip()
        if not text:
            if required:
                raise Refused(f"{what} needs a note")
            return None
        secret = find_secret(text)
        if secret:
            raise Refused(f"the note looks like it holds {secret}: the journal never stores secrets")
        return text

    def _step(self, step_id: str):
        step = self.plan.runbook.step(step_id)
        if step is None:
            raise Refused(f"no step '{clean(step_id, 64, single_line=True)}' in this runbook")
        return step

    def _workable(self, step, state: RunbookState) -> str | None:
        """Why ``step`` cannot be worked now (runbook, phase, order, status), or None."""
        is_rollback = any(s.id == step.id for s in self.plan.runbook.rollback_steps())
        if state.rollback_active and not is_rollback:
            return f"rollback is active: {step.id} is not a rollback step"
        if is_rollback and not state.rollback_active:
            return f"{step.id} is a rollback step: start the rollback first"
        st = state.steps[step.id].status
        if st.finished:
            return self.finished_words(step.id, state)
        phase = self.plan.runbook.phase_of(step.id)
        assert phase is not None  # the step was found in this runbook (_step)
        if phase.id not in state.open_phases:
            return (f"phase '{phase.id}' is not open yet: finish '{state.phase}' first "
                    "(or record GO on its decision)")
        if st is StepStatus.PENDING and not step.parallel:
            for s in phase.steps:
                if s.id == step.id:
                    break
                if not s.parallel and not state.steps[s.id].status.finished:
                    return f"do {s.id} first: the steps of '{phase.id}' go in order"
        return None

    def finished_words(self, step_id: str, state: RunbookState) -> str:
        """"B07 was confirmed by j.lindqvist 2s ago": said when an action no longer applies
        because someone (maybe another cockpit) finished the step first."""
        st = state.steps[step_id]
        word = {StepStatus.DONE: "confirmed", StepStatus.SKIPPED: "skipped"}.get(st.status,
                                                                                st.status.value)
        if st.decision is not None:
            word = f"decided {st.decision}"
        if st.actor is None or st.at is None:
            return f"{step_id} is already {st.status.value}"
        ago = format_duration(max(0.0, self.now() - st.at))
        return (f"{step_id} is already {st.status.value}: it was {word} by "
                f"{clean(st.actor, 64, single_line=True)} {ago} ago")

    def _gate_check(self, step, gates: Mapping[str, GateStatus], state: RunbookState) -> tuple[str | None, dict, list]:
        overridden = {o.gate for o in state.overrides if o.step == step.id}
        snapshot: dict = {}
        used: list[str] = []
        problem = None
        for g in step.requires:
            status = gates.get(g)
            snapshot[g] = status.to_json() if status is not None else None
            if g in overridden:
                if status is None or not status.passes():
                    used.append(g)
                continue
            if problem is None:
                if status is None:
                    problem = f"gate {g} has no status yet (UNKNOWN)"
                elif not status.passes():
                    why = clean(status.reason, 120, single_line=True)
                    problem = f"gate {g} is {status.label()}" + (f": {why}" if why else "")
        return problem, snapshot, used

    def blocking_gates(self, step, gates: Mapping[str, GateStatus]) -> list[str]:
        """The gates ``step`` requires that neither pass now nor are overridden for it."""
        if step is None:
            return []
        overridden = {o.gate for o in self.state.overrides if o.step == step.id}
        return [g for g in step.requires
                if g not in overridden and not (gates.get(g) is not None and gates[g].passes())]

    def can_confirm(self, step_id: str, gates: Mapping[str, GateStatus]) -> str | None:
        """Why confirming would be refused now (typed id aside), or None. For a two-person
        step, confirming asks for the second person's approval."""
        try:
            step = self._step(step_id)
            state = self.state
            if self.journal.readonly:
                return f"the journal is read-only: {self.journal.readonly_reason}"
            if step.kind == "decision":
                return f"{step.id} is a decision: record GO or NO-GO"
            why = self._workable(step, state) or self._may_work(step)
            if why:
                return why
            if step.critical and not step.two_person and not self._approves_critical(self.actor.operator):
                return f"{step.id} is critical: {self.actor.operator}'s role may not approve critical steps"
            if step.two_person and self.in_local_mode():
                return LOCAL_TWO_PERSON
            return self._gate_check(step, gates, state)[0] or self._already_asked(step.id, state)
        except Refused as exc:
            return str(exc)

    def can_run(self, step_id: str) -> str | None:
        """Extension: why running the step's commands would be refused now, or None."""
        try:
            step = self._step(step_id)
            if self.journal.readonly:
                return f"the journal is read-only: {self.journal.readonly_reason}"
            return self._workable(step, self.state) or self._may_work(step)
        except Refused as exc:
            return str(exc)

    # -- writing ---------------------------------------------------------------------------

    def _append(self, action: str, *, actor: Actor | None = None, **fields) -> Entry:
        try:
            entry = self.journal.append(action, actor=actor or self.actor, **fields)
        except JournalConflict as exc:
            raise _Conflict() from exc
        except JournalError as exc:
            raise Refused(str(exc)) from exc
        except (UnicodeError, ValueError, TypeError, RecursionError) as exc:
            # Cleaned text is always encodable (cockpit.text); this is the backstop that keeps
            # a text that is not from reaching the view as anything but a refusal.
            raise Refused(f"cannot record {action}: it holds something the journal cannot "
                          f"store ({type(exc).__name__}); nothing was recorded") from exc
        self.state  # noqa: B018 -- fold the new entry in now
        return entry

    # -- actions ---------------------------------------------------------------------------

    def can_skip(self, step_id: str, gates: Mapping[str, GateStatus]) -> str | None:
        """Why skipping would be refused now (typed id and reason aside)."""
        try:
            step = self._step(step_id)
            if self.journal.readonly:
                return f"the journal is read-only: {self.journal.readonly_reason}"
            state = self.state
            why = self._workable(step, state) or self._may_work(step)
            if why:
                return why
            if step.critical and not step.two_person and not self._approves_critical(self.actor.operator):
                return f"{step.id} is critical: {self.actor.operator}'s role may not skip critical steps"
            problem = self._gate_check(step, gates, state)[0]
            if problem:
                return (f"cannot skip {step.id}: {problem}; skipping past a gate is an override: "
                        "override the gate first")
            if step.two_person and self.in_local_mode():
                return LOCAL_TWO_PERSON
            return self._already_asked(step.id, state)
        except Refused as exc:
            return str(exc)

    def _signed(self, step, typed: str | None, what: str) -> None:
        """The typed id that ``what`` (confirm, skip) of a critical ``step`` needs."""
        if step.critical and typed != step.id:
            raise Refused(f"{step.id} is critical: type its id ({step.id}) to {what}")

    @_serialized
    def confirm(self, step_id: str, gates: Mapping[str, GateStatus],
                typed: str | None = None) -> Entry:
        """Confirm the step; a two-person step gets an ``approval.request`` instead (the step
        waits for a second person's :meth:`approve`)."""
        why = self.authority("step.confirm", step_id)
        if why:
            raise self.refuse("step.confirm", step_id, why)
        why = self.can_confirm(step_id, gates)
        if why:
            raise Refused(why)
        step = self._step(step_id)
        self._signed(step, typed, "confirm")
        _, snapshot, used = self._gate_check(step, gates, self.state)
        data = {"gates": snapshot, "overrides": used, "typed": bool(step.critical)}
        if step.two_person:
            return self._request(step.id, "confirm", data)
        return self._append("step.confirm", subject=step.id, data=self._redacted(data))

    @_serialized
    def skip(self, step_id: str, reason_code: str, note: str = "",
             gates: Mapping[str, GateStatus] | None = None, typed: str | None = None) -> Entry:
        """Skip with a reason code. ``gates`` are the gate states the operator saw (a step that
        requires gates is refused without them); see the module docstring for the rules. A
        two-person step gets an ``approval.request`` instead."""
        step = self._step(step_id)
        self._writable()
        why = self.authority("step.skip", step_id)
        if why:
            raise self.refuse("step.skip", step_id, why)
        why = self.can_skip(step_id, gates or {})
        if why:
            raise Refused(why)
        self._signed(step, typed, "skip it")
        code = self._reason(reason_code, f"skipping {step.id}")
        text = self._text(note, "skip", required=False)
        data = None
        if step.requires or step.critical or step.two_person:
            _, snapshot, used = self._gate_check(step, gates or {}, self.state)
            data = {"gates": snapshot, "overrides": used, "typed": bool(step.critical)}
        if step.two_person:
            return self._request(step.id, "skip", {**(data or {}), "reason_code": code,
                                                   "note": text})
        return self._append("step.skip", subject=step.id, reason_code=code, note=text,
                            data=None if data is None else self._redacted(data))

    # -- two people --------------------------------------------------------------------

    def identities_checked(self) -> bool:
        """Whether the plan ties people to OS logins (``cockpit.identity.mode``)."""
        return identity.mode(self.plan) == "checked"

    def same_person(self, a: Actor, b: Actor) -> bool:
        """The two-person rule's "same person": the same name always; when the plan ties
        people to logins, also the same OS user (one login cannot be two people); otherwise
        the same cockpit session (names are not proven, but one session is one person)."""
        if a.operator == b.operator:
            return True
        if self.identities_checked():
            return a.os_user == b.os_user
        return a.session == b.session

    def _already_asked(self, subject: str, state: RunbookState) -> str | None:
        req = state.request_for(subject)
        if req is None or req.expired(self.now()):
            return None
        what = "starting the rollback" if subject == ROLLBACK else subject
        return (f"{what} already waits for a second person's approval (requested by "
                f"{clean(req.requester.operator, 64, single_line=True)} "
                f"{format_duration(max(0.0, self.now() - req.at))} ago, request #{req.seq})")

    def _request(self, subject: str, kind: str, data: dict) -> Entry:
        """The first person's half: everything checked, an ``approval.request``."""
        self._not_local()
        why = self._already_asked(subject, self.state)
        if why:
            raise Refused(why)
        body = {**data, "kind": kind, "expires_s": float(self.plan.operators.approval_expires)}
        return self._append("approval.request", subject=subject, data=self._redacted(body))

    def _pending(self, request_seq: int, state: RunbookState) -> ApprovalRequest:
        req = state.approvals.get(request_seq) if isinstance(request_seq, int) else None
        if req is not None:
            return req
        ended = state.approvals_ended.get(request_seq) if isinstance(request_seq, int) else None
        if ended is not None:
            word = {"approval.reject": "rejected", "approval.withdraw": "withdrawn"}.get(
                ended.action, "answered")
            if ended.action in ("step.confirm", "step.skip", "rollback.start"):
                word = {"step.confirm": "approved (confirmed)", "step.skip": "approved (skipped)",
                        "rollback.start": "ended by the rollback start"}[ended.action]
            ago = format_duration(max(0.0, self.now() - ended.at))
            raise Refused(f"request #{request_seq} was already {word} by "
                          f"{clean(ended.by, 64, single_line=True)} {ago} ago")
        raise Refused(f"no pending request #{clean(str(request_seq), 20, single_line=True)}")

    def _answerable(self, req: ApprovalRequest) -> None:
        """Anyone answering ``req`` must be an operator of the plan, in a writable journal
        connected to the others (never in local mode)."""
        self._not_local()
        self._writable()
        self._role()

    @_serialized
    def approve(self, request_seq: int, gates: Mapping[str, GateStatus],
                typed: str | None = None) -> Entry:
        """The second person's half: re-check the request against the state and the gates as
        the approver sees them now, then write its completing entry as the approver."""
        state = self.state
        req = self._pending(request_seq, state)
        self._answerable(req)
        if self.same_person(req.requester, self.actor):
            raise Refused(f"you cannot approve your own request for {req.subject}: a second "
                          "person approves it from their own cockpit")
        now = self.now()
        if req.expired(now):
            raise Refused(f"the request for {req.subject} expired "
                          f"{format_duration(now - req.expires_at)} ago: ask again")
        approval = {"request": req.seq, "requested_by": req.requester.to_json()}
        if req.kind == "rollback":
            return self._approve_rollback(req, typed, approval, state)
        step = self._step(req.subject)
        why = self._workable(step, state)
        if why:
            raise Refused(why)
        why = self._may_work(step)
        if why and not self._approves_critical(self.actor.operator):
            raise Refused(f"{why} (nor approve critical steps)")
        if step.critical and not (self._approves_critical(req.requester.operator)
                                  or self._approves_critical(self.actor.operator)):
            raise Refused(f"{step.id} is critical: neither {req.requester.operator}'s nor "
                          f"{self.actor.operator}'s role may approve critical steps")
        if typed != step.id:
            raise Refused(f"type {step.id} to approve it: an approval is always typed")
        problem, snapshot, used = self._gate_check(step, gates, state)
        if problem:
            raise Refused(f"cannot approve {step.id}: {problem} (it was not when asked): "
                          f"override the gate for {step.id} first, or reject the request")
        data = {"gates": snapshot, "overrides": used, "typed": bool(step.critical),
                "approval": approval}
        if req.kind == "skip":
            return self._append("step.skip", subject=step.id, reason_code=req.reason_code,
                                note=req.note, data=self._redacted(data))
        return self._append("step.confirm", subject=step.id, data=self._redacted(data))

    def _approve_rollback(self, req: ApprovalRequest, typed: str | None, approval: dict,
                          state: RunbookState) -> Entry:
        self._need("rollback", "approve starting the rollback")
        if state.rollback_active:
            raise Refused("rollback is already active")
        if typed != "ROLLBACK":
            raise Refused("type ROLLBACK to approve starting the rollback")
        data = {"phase": state.phase, "next_step": state.next_step, "approval": approval}
        return self._append("rollback.start", reason_code=req.reason_code, note=req.note,
                            data=data)

    @_serialized
    def reject(self, request_seq: int, note: str) -> Entry:
        """A second person says no, with why; the step stays as it was."""
        req = self._pending(request_seq, self.state)
        self._answerable(req)
        if self.same_person(req.requester, self.actor):
            raise Refused(f"this is your own request for {req.subject}: withdraw it instead")
        text = self._text(note, "rejecting a request", required=True)
        return self._append("approval.reject", subject=req.subject, note=text,
                            data={"request": req.seq})

    @_serialized
    def withdraw(self, request_seq: int, note: str = "") -> Entry:
        """The requester takes their request back."""
        req = self._pending(request_seq, self.state)
        self._answerable(req)
        if not self.same_person(req.requester, self.actor):
            raise Refused(f"only {clean(req.requester.operator, 64, single_line=True)}, who "
                          f"asked, may withdraw the request for {req.subject}: reject it instead")
        text = self._text(note, "withdrawing a request", required=False)
        return self._append("approval.withdraw", subject=req.subject, note=text,
                            data={"request": req.seq})

    @_serialized
    def fail(self, step_id: str, note: str, reason_code: str | None = None) -> Entry:
        step = self._step(step_id)
        self._writable()
        why = self._workable(step, self.state) or self._may_work(step)
        if why:
            raise Refused(why)
        text = self._text(note, f"failing {step.id}", required=True)
        code = self._reason(reason_code, "fail") if reason_code else None
        return self._append("step.fail", subject=step.id, reason_code=code, note=text)

    @_serialized
    def decide(self, step_id: str, call: str, gates: Mapping[str, GateStatus], note: str = "",
               typed: str | None = None, reason_code: str | None = None) -> Entry:
        """Record GO or NO-GO. Extension: ``typed`` (critical decisions need the step id typed)
        and an optional ``reason_code``."""
        step = self._step(step_id)
        self._writable()
        if step.kind != "decision":
            raise Refused(f"{step.id} is not a decision step: confirm it instead")
        if call not in CALLS:
            raise Refused(f"a decision is GO or NO-GO, not '{clean(call, 20, single_line=True)}'")
        self._need("decide", f"record the decision {step.id}", step.id)
        state = self.state
        why = self._workable(step, state)
        if why:
            raise Refused(why)
        problem, snapshot, used = self._gate_check(step, gates, state)
        if call == "GO" and problem:
            raise Refused(f"cannot record GO on {step.id}: {problem}")
        if step.critical and typed != step.id:
            raise Refused(f"{step.id} is critical: type its id ({step.id}) to record the decision")
        code = self._reason(reason_code, "decision") if reason_code else None
        data = {"call": call, "gates": snapshot, "overrides": used if call == "GO" else []}
        return self._append("decision.record", subject=step.id, reason_code=code,
                            note=self._text(note, "decision", required=False), data=self._redacted(data))

    @_serialized
    def override(self, gate_id: str, step_id: str, reason_code: str, note: str,
                 gates: Mapping[str, GateStatus]) -> Entry:
        step = self._step(step_id)
        self._writable()
        if gate_id not in self.plan.gates:
            raise Refused(f"no gate '{clean(gate_id, 64, single_line=True)}' in this plan")
        if gate_id not in step.requires:
            raise Refused(f"{step.id} does not require gate {gate_id}")
        self._need("override", f"override gate {gate_id}", gate_id)
        state = self.state
        if state.steps[step.id].status.finished:
            raise Refused(self.finished_words(step.id, state))
        if any(o.gate == gate_id and o.step == step.id for o in state.overrides):
            raise Refused(f"gate {gate_id} is already overridden for {step.id}")
        status = gates.get(gate_id)
        if status is not None and status.passes():
            raise Refused(f"gate {gate_id} is GO: there is nothing to override")
        code = self._reason(reason_code, "an override")
        text = self._text(note, "an override", required=True)
        data = {"step": step.id, "gate": status.to_json() if status is not None else None}
        return self._append("gate.override", subject=gate_id, reason_code=code, note=text,
                            data=self._redacted(data))

    @_serialized
    def start_rollback(self, reason_code: str, note: str = "") -> Entry:
        """Start the rollback; with ``runbook.rollback.two_person`` an ``approval.request``
        (subject "rollback") instead, which a second person approves."""
        self._writable()
        self._need("rollback", "start the rollback")
        state = self.state
        if state.rollback_active:
            by = f" by {clean(state.rollback_by, 64, single_line=True)}" if state.rollback_by else ""
            ago = (f" {format_duration(max(0.0, self.now() - state.rollback_at))} ago"
                   if state.rollback_at is not None else "")
            raise Refused(f"rollback is already active: it was started{by}{ago}")
        code = self._reason(reason_code, "rollback")
        text = self._text(note, "rollback", required=False)
        if self.plan.runbook.rollback.two_person:
            return self._request(ROLLBACK, "rollback", {"reason_code": code, "note": text,
                                                        "gates": {}})
        data = {"phase": state.phase, "next_step": state.next_step}
        return self._append("rollback.start", reason_code=code, note=text, data=data)

    @_serialized
    def triage(self, exception_id: str, category: str, reason_code: str, note: str = "") -> Entry:
        self._writable()
        self._need("triage", "triage exceptions")
        if category not in TRIAGE_CATEGORIES:
            raise Refused(f"unknown category '{clean(category, 40, single_line=True)}' "
                          f"(use one of: {', '.join(TRIAGE_CATEGORIES)})")
        exc = self.state.exceptions.get(exception_id)
        if exc is None or exc.status != "open":
            raise Refused(f"no open exception '{clean(exception_id, 64, single_line=True)}'")
        if exc.category == CLINICAL:  # its sign-off is the clinical role's
            self._need("approve_clinical", f"triage {exc.id}, which waits for clinical approval",
                       exc.id)
        code = self._reason(reason_code, "triage")
        return self._append("exception.triage", subject=exception_id, reason_code=code,
                            note=self._text(note, "triage", required=False),
                            data={"category": category})

    @_serialized
    def note(self, text: str, subject: str | None = None) -> Entry:
        """A free note (extension: an optional step/gate/exception id as ``subject``)."""
        self._writable()
        self._role()
        if subject is not None and not (self.plan.runbook.step(subject) is not None
                                        or subject in self.plan.gates
                                        or subject in self.state.exceptions):
            raise Refused(f"a note's subject is a step, gate or exception id; "
                          f"'{clean(subject, 64, single_line=True)}' is none of these")
        body = self._text(text, "a note", required=True)
        return self._append("note", subject=subject, note=body)

    @_serialized
    def record_run(self, step_id: str, exit_code: int | None, sha256: str | None,
                   output_path: str | None, duration_s: float | None,
                   size: int | None = None) -> Entry:
        step = self._step(step_id)
        self._writable()
        why = self._may_work(step)
        if why:
            raise Refused(why)
        data = {"exit_code": exit_code, "sha256": sha256,
                "output_path": None if output_path is None else str(output_path),
                "duration_s": None if duration_s is None else round(float(duration_s), 3)}
        if size is not None:  # bytes of the saved output (the output itself stays on disk)
            data["size"] = int(size)
        return self._append("step.run", subject=step.id, data=self._redacted(data))

    @_serialized
    def record_recon(self, report, *, titles: Mapping[str, str] | None = None,
                     actor: Actor | None = None) -> tuple[list[str], list[str]]:
        """A reconciliation run, its exceptions opened and closed (``recon.queue.record_run``:
        one batch), planned against the state as it is when the batch is written. Raises the
        journal's error (``JournalError``) when it is not recorded."""
        from cockpit.recon.queue import record_run

        try:
            result = record_run(self.journal, actor or self.actor, report, self.state, titles=titles)
        except JournalConflict as exc:
            raise _Conflict() from exc
        self.state  # noqa: B018 -- fold the new entries in now
        return result

    @_serialized
    def record_gate_change(self, new: GateStatus, old: GateStatus | None, *,
                           flapping: dict | None = None, old_state: str | None = None) -> Entry:
        """One ``gate.change``; with ``flapping`` ({changes, states, over_s, settled}) it is the
        summary of a flapping gate's changes (``cockpit.flaps``), ``old_state`` the state the
        journal last recorded for it."""
        data = {"state": new.state.value,
                "old_state": old_state if old is None else old.state.value,
                "status": new.to_json()}
        if flapping is not None:
            data["flapping"] = flapping
        return self._append("gate.change", actor=Actor.system(), subject=new.gate,
                            data=self._redacted(data))

    @_serialized
    def acknowledge_quarantines(self, note: str) -> list[Entry]:
        """Record that the operator saw every journal line set aside (quarantined) and not yet
        acknowledged: one ``journal.quarantine_ack`` each, naming the file, its size and sha256,
        with the operator's note (what was redone, or why nothing needs to be)."""
        self._writable()
        self._role()
        text = self._text(note, "acknowledging set-aside journal lines", required=True)
        pending = self.journal.unacknowledged_quarantines()
        if not pending:
            raise Refused("no set-aside journal lines wait for an acknowledgement")
        unreadable = [q for q in pending if q.sha256 is None]
        if unreadable:
            raise Refused(f"{clean(unreadable[0].name, 120, single_line=True)} cannot be read "
                          f"({clean(unreadable[0].problem or 'unreadable', 120, single_line=True)}):"
                          " remove or repair it by hand first")
        entries = []
        for q in pending:
            try:
                entries.append(self.journal.acknowledge_quarantine(q, actor=self.actor, note=text))
            except JournalError as exc:
                raise Refused(str(exc)) from exc
        self.state  # noqa: B018 -- fold the new entries in now
        return entries

    @_serialized
    def record_clock_step(self, step_s: float) -> Entry:
        """The wall clock stepped (forwards or back) against the monotonic clock; entries keep
        their true timestamps and their order, and ages are measured on the monotonic clock."""
        direction = "backwards" if step_s < 0 else "forwards"
        return self._append("clock.warning", actor=Actor.system(),
                            note=f"wall clock stepped {direction} by {abs(step_s):.1f}s",
                            data={"step_s": round(float(step_s), 3)})

    @_serialized
    def notify_retry(self, key: str, note: str) -> Entry:
        """Send a dead letter again (``notify.retry``, subject = its key, note = why): any
        operator of the plan may, with a note; the outbox re-queues it when it reads the entry."""
        return self._notify("notify.retry", key, note)

    @_serialized
    def notify_dismiss(self, key: str, note: str) -> Entry:
        """Give up on a dead letter (``notify.dismiss``, subject = its key, note = why): any
        operator of the plan may, with a note; the outbox ends it when it reads the entry."""
        return self._notify("notify.dismiss", key, note)

    def _notify(self, action: str, key: str, note: str) -> Entry:
        self._writable()
        self._role()
        targets = self.plan.notify.targets if self.plan.notify is not None else {}
        cutover, _, rest = str(key).partition(":")
        seq, _, target = rest.partition(":")
        if cutover != self.plan.cutover.id or not seq.isdigit() or target not in targets:
            raise Refused(f"'{clean(key, 120, single_line=True)}' is not a message key of this "
                          "plan (cutover:seq:target)")
        text = self._text(note, "retrying or dismissing a message", required=True)
        return self._append(action, subject=f"{cutover}:{int(seq)}:{target}", note=text)

    # -- helpers ---------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.journal.readonly:
            raise Refused(f"the journal is read-only: {self.journal.readonly_reason}")

    def _redacted(self, data: Any) -> Any:
        """System-made data (gate snapshots, readings): secrets redacted, never refused."""
        return redact(data, self.plan.redact)

