"""One cockpit session: plan + journal + operations + engine + the one journal writer thread.

Every verb that watches gates opens its session here, the one way: ``cockpit run`` and
``cockpit demo`` (mode ``write``, or ``readonly`` to watch), ``cockpit gates --watch`` (mode
``watch``: it records gate changes when it can take the journal, and follows it read-only when
another cockpit holds it), the benchmarks and the tests. So two rules hold everywhere:

- Gate changes are journalled by one rule: each turn of a gate once, compared with what the
  journal last recorded for that gate (also across restarts), skipping the UNKNOWN of a fresh
  start before anything was read; a flapping gate's turns are summarised (``cockpit.flaps``).
- A damaged journal feeds no built-in signal: ``recon.*`` and ``exceptions.*`` replayed from a
  journal cut short at the damage could say "0 open critical exceptions" and pass a gate, so
  from the moment damage is found (at open, or later while following another writer) they have
  no reading and every gate over them is UNKNOWN.

On a plan with ``cutover.shared_journal`` the journal is a ``SharedJournal`` (the table is
the journal of record, ``journal_path`` the local copy; ``cockpit.journal.shared``): while its
database is unreachable it is read-only and every action is refused, and the session is
writable again once it has reconnected and caught up.

Every journal write of the session (operator actions from the app, gate changes from the
engine, the session markers) goes through ``Session.writer``, so a slow ``fsync`` never blocks
the UI loop and the journal keeps the order the writes were made in.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

from cockpit.clock import Clock, RealClock
from cockpit.config.plan import Plan
from cockpit.engine import TICK_S, Engine
from cockpit.flaps import Damper, Summary
from cockpit.gates import GateStatus
from cockpit.history.recorder import Recorder, start_recorder
from cockpit.journal import Actor, Entry, Journal, JournalError, JournalLocked
from cockpit.journal.file import FREEZE_AT
from cockpit.journal.shared import SharedJournal, open_plan_journal
from cockpit.journal.writer import JournalWriter
from cockpit.notify import Notifier, OutboxError
from cockpit.notify.lease import SharedDelivery
from cockpit.runbook import Operations, Refused, builtin_readings, foldcache
from cockpit.runbook.ages import Ages
from cockpit.runbook.builtin import forecast_readings
from cockpit.runbook.forecast import Forecaster

log = logging.getLogger(__name__)

MODES = ("write", "watch", "readonly")
# A wall clock that moves this far against the monotonic clock has stepped (NTP, a resumed VM).
CLOCK_STEP_S = 2.0
# How often a session that follows another writer re-reads the journal, on the session clock.
FOLLOW_S = 1.0
# At session.end, how long (real seconds) messages already due may still be delivered.
NOTIFY_DRAIN_S = 3.0

# The saved folds (cockpit.runbook.foldcache) are written again this often (session clock
# seconds) while at least this many entries came since: a restart after a crash folds at most
# that much of the journal.
FOLDS_EVERY_S = 600.0
FOLDS_MIN_NEW = 1000

GateListener = Callable[[GateStatus, GateStatus | None], None]


@dataclass
class Session:
    plan: object
    journal: Journal
    ops: Operations
    engine: Engine
    clock: Clock
    readonly: bool
    writer: JournalWriter = field(default_factory=JournalWriter)
    # Why the journal is not being written, when the mode wanted it to be (watch mode).
    warnings: list[str] = field(default_factory=list)
    listeners: list[GateListener] = field(default_factory=list)
    # The one finish forecast of the session: the built-in runbook.* signals and the view
    # read it, so the journal is folded into spans once, not once per reader.
    forecaster: Forecaster | None = None
    # The signal history beside the journal, for a session that writes it (cockpit.history).
    recorder: Recorder | None = None
    # Comms (plan ``notify``): a session that writes the journal delivers its events.
    notifier: Notifier | None = None
    # (n, the gate states the journal's first n entries recorded), for the saved folds.
    recorded_gates: Callable[[], tuple[int, dict]] | None = None

    def listen(self, listener: GateListener) -> None:
        """``listener(new, old)`` on each gate change, on the engine's loop (``gates --watch``
        prints them); a failing listener is logged and never costs the journal entry."""
        self.listeners.append(listener)

    def session(self, action: str, data: dict | None = None) -> None:
        """session.start / session.end: best effort (a read-only watcher writes nothing; a
        failure is logged). Queued behind every write handed over before it, so session.end
        is last. Without a running loop (before and after the app) it returns once written,
        so the caller may close the journal; on a loop it never blocks. After session.end the
        writer thread is shut down: nothing of this session is written after it."""
        if not (self.readonly or self.journal.readonly):
            self.writer.fire(action, partial(self.journal.append, action, actor=self.ops.actor,
                                             data=data or {}))
        if not _on_loop():
            self.writer.drain()
        if action == "session.end":
            self.writer.shutdown(wait=not _on_loop())
            if self.notifier is not None:  # what is due still goes out, for a moment
                self.notifier.stop(drain=NOTIFY_DRAIN_S, wait=not _on_loop())
            self._close_history()

    async def writes_settled(self) -> None:
        """Until every journal write handed to the writer so far has returned (tests)."""
        await self.writer.settled()

    def close(self) -> None:
        self.writer.shutdown(wait=not _on_loop())
        if self.notifier is not None:
            self.notifier.stop(wait=not _on_loop())
        self._close_history()
        self.journal.close()
        self.save_folds()

    def capture_folds(self) -> foldcache.Captured | None:
        """The session's folds as of now, to ``foldcache.write`` from another thread, or None
        (a read-only session, no entries, or entries another cockpit appended meanwhile moved
        the folds apart: tried a few times). On the thread that folds (the loop, in the TUI)."""
        entries = self.journal.entries
        if (self.readonly or self.forecaster is None or self.recorded_gates is None
                or not len(entries)):
            return None
        for _ in range(3):
            spans = self.forecaster.saved(entries)
            replay = self.ops.saved()
            gates = self.recorded_gates()
            if spans[0] == replay[0] == gates[0]:
                return foldcache.capture(cast(Plan, self.plan), entries, replay, spans, gates)
        return None

    def save_folds(self) -> bool:
        """Save the session's folds beside the journal for the next open (best effort: False
        when they were not saved). Only a session that writes the journal writes beside it (a
        read-only reader changes no file)."""
        doc = self.capture_folds()
        return doc is not None and foldcache.write(self.journal.path, doc)

    def _close_history(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


def fold_gate_changes(recorded: dict, entries: Iterable[Entry]) -> None:
    """The gate states ``entries`` record, folded into ``recorded`` (gate -> state): what the
    session compares a gate's turn with before journalling it."""
    for e in entries:
        if e.action == "gate.change":
            recorded[e.subject] = e.data.get("state") if isinstance(e.data, dict) else None


def open_session(plan: Plan, journal_path: str | Path, operator: str, *, mode: str = "write",
                 clock: Clock | None = None, actor: Actor | None = None, sources=None,
                 tick: float | None = None, record_gate_changes: bool = True) -> Session:
    """Open the journal in ``mode`` and wire the engine to it.

    ``write`` raises ``JournalLocked`` when another cockpit writes the journal and
    ``JournalError`` when it cannot be opened; ``readonly`` follows it; ``watch`` writes gate
    changes when it can and otherwise follows (or, with no journal at all, runs without one),
    saying why in ``warnings``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    clock = clock or RealClock()
    warnings: list[str] = []
    actor = actor or Actor.current(operator)
    if mode == "watch":
        journal = _open_for_watching(plan, Path(journal_path), clock, warnings,
                                     write=record_gate_changes, holder=actor)
    else:
        journal = open_plan_journal(plan, journal_path, readonly=mode == "readonly", clock=clock,
                                    holder=actor)
    # A shared journal has the file journal's surface (cockpit.journal.shared).
    # A long journal's folds resume from those saved beside it at the last close: reading
    # 100,000 entries again is most of a second (cockpit.runbook.foldcache).
    resumed = foldcache.load(journal.path, plan, journal.entries)
    ops = Operations(plan, cast(Journal, journal), actor,
                     resume=resumed.replayer(plan) if resumed is not None else None)
    writer = JournalWriter()
    recorded: dict = resumed.gates() if resumed is not None else {}
    folded = [resumed.seq if resumed is not None else 0]  # journal entries folded into ``recorded``

    def fold_recorded() -> None:
        # Other cockpits on a shared journal record gate changes too: compare with the
        # journal, not only with this session's own writes.
        new = journal.entries[folded[0]:]
        folded[0] += len(new)
        fold_gate_changes(recorded, new)

    fold_recorded()

    def recorded_fold() -> tuple[int, dict]:
        fold_recorded()
        return folded[0], recorded

    listeners: list[GateListener] = []  # the session's, filled by Session.listen

    def record(new, old, state: str) -> None:
        # On the writer thread only, as is every use of ``recorded``: the order the engine
        # saw the turns is the order they are compared and written in.
        fold_recorded()
        if journal.readonly or recorded.get(new.gate) == state:
            return
        try:
            ops.record_gate_change(new, old)
        except Refused as exc:
            log.warning("gate change not journalled: %s", exc)
            return
        recorded[new.gate] = state

    def record_flaps(summary: Summary) -> None:
        fold_recorded()
        if journal.readonly:
            return
        flapping = {"changes": summary.changes, "states": summary.states,
                    "over_s": summary.over_s, "settled": summary.settled}
        try:
            ops.record_gate_change(summary.status, None, flapping=flapping,
                                   old_state=recorded.get(summary.gate))
        except Refused as exc:
            log.warning("flapping gate summary not journalled: %s", exc)
            return
        recorded[summary.gate] = summary.status.state.value

    damper = Damper()

    def gate_changed(new, old) -> None:
        # Called by the engine on its loop: hand the write over, never wait for it.
        for listener in list(listeners):
            try:
                listener(new, old)
            except Exception:  # noqa: BLE001 - a view's bug must not cost the journal entry
                log.exception("gate listener failed")
        if not record_gate_changes:
            return
        state = new.state.value
        if old is None and state == "UNKNOWN" and not new.readings:
            return
        if damper.change(new.gate, state, new, clock.monotonic()):
            writer.fire(f"gate change {new.gate}", record, new, old, state)

    def summarise_flaps() -> None:
        if record_gate_changes:
            for summary in damper.due(clock.monotonic()):
                writer.fire(f"gate flapping {summary.gate}", record_flaps, summary)

    forecaster = Forecaster(plan, resume=resumed.span_fold(plan) if resumed is not None else None)
    # A long journal with no folds to resume: folded (and saved, below) at the open.
    fold_all = resumed is None and len(journal.entries) >= FREEZE_AT
    if fold_all:
        # Every entry decoded now, while little else is alive, then kept out of the cyclic
        # collector's walks (as Journal._take does for entries it decoded): each walk of
        # 100,000 entries' containers costs a tenth of a second. Then folded.
        journal.entries[:]  # noqa: B018 - decodes them
        gc.freeze()
        ops.state  # noqa: B018 - folds the journal
        forecaster.follow(journal.entries)
    follow = _Follower(journal, clock, available=journal.readonly_reason != UNREADABLE,
                       forecaster=forecaster)
    engine = Engine(plan, clock, sources=sources, builtin=lambda: follow.builtin(ops),
                    on_gate_change=gate_changed, tick=TICK_S if tick is None else tick)

    def clock_stepped(jump: float) -> None:
        if journal.readonly:
            return
        try:
            ops.record_clock_step(jump)
        except Refused as exc:
            log.warning("clock step not journalled: %s", exc)

    def watch_the_clock() -> None:
        jump = follow.clock_step()
        if jump is not None:
            log.warning("the wall clock stepped by %+.1f s", jump)
            writer.fire("clock step", clock_stepped, jump)

    engine.subscribe(watch_the_clock)
    engine.subscribe(summarise_flaps)
    # A shared journal that is only disconnected becomes writable again once reconnected: the
    # session is not read-only for it (each action asks the journal).
    readonly = mode == "readonly" or (journal.readonly and journal.link() is None)
    notifier = _notifier(plan, journal, clock, warnings) if mode == "write" and not readonly else None
    session = Session(plan, cast(Journal, journal), ops, engine, clock, readonly,
                      writer, warnings, listeners, forecaster, notifier=notifier,
                      recorded_gates=recorded_fold)
    if fold_all:
        session.save_folds()  # the next open resumes them, even if this session never closes
    if not readonly:
        engine.subscribe(_folds_saver(session, writer, clock))
        session.recorder = start_recorder(journal.path, engine, clock, warnings.append)
        if session.recorder is not None:
            session.listen(session.recorder.gate_changed)
    return session


def _folds_saver(session: Session, writer: JournalWriter, clock: Clock) -> Callable[[], None]:
    """A subscriber that saves the folds every FOLDS_EVERY_S of session time once at least
    FOLDS_MIN_NEW entries came since the last save, so a cockpit killed at hour seven reopens
    from minutes ago, not from the start of the night. Taken on the engine's loop (where the
    forecast folds), written on the writer thread."""
    journal = session.journal
    last = [clock.monotonic(), len(journal.entries)]

    def maybe_save() -> None:
        now, n = clock.monotonic(), len(journal.entries)
        if now - last[0] < FOLDS_EVERY_S or n - last[1] < FOLDS_MIN_NEW:
            return
        last[:] = [now, n]
        doc = session.capture_folds()
        if doc is not None:
            writer.fire("saved folds", foldcache.write, journal.path, doc)

    return maybe_save


def _notifier(plan: Plan, journal, clock: Clock, warnings: list[str]) -> Notifier | None:
    if plan.notify is None:
        return None
    try:
        # A shared journal is written by several cockpits: one of them delivers at a time.
        lease = SharedDelivery(plan) if journal.shared else None
        return Notifier(plan, journal, clock, lease=lease).start()
    except OutboxError as exc:
        warnings.append(f"notifications are not sent: {exc}")
        return None


def open_cockpit(plan: Plan, journal_path: str | Path, operator: str, *, clock: Clock | None = None,
                 readonly: bool = False, actor: Actor | None = None, sources=None,
                 tick: float | None = None) -> Session:
    """``open_session`` for the cockpit itself: ``write``, or ``readonly`` to watch."""
    return open_session(plan, journal_path, operator, mode="readonly" if readonly else "write",
                        clock=clock, actor=actor, sources=sources, tick=tick)


def _open_for_watching(plan: Plan, path: str | Path, clock: Clock, warnings: list[str], *,
                       write: bool, holder: Actor | None = None) -> Journal | SharedJournal:
    if write:
        try:
            journal = open_plan_journal(plan, path, clock=clock, holder=holder)
            if journal.readonly:
                warnings.append(f"gate changes are not recorded: {journal.readonly_reason}")
            return journal
        except JournalLocked as exc:
            warnings.append(f"gate changes are not recorded: {exc} (following it read-only)")
        except JournalError as exc:
            warnings.append(f"gate changes are not recorded: {exc}")
    try:
        return open_plan_journal(plan, path, readonly=True, clock=clock)
    except JournalError as exc:
        warnings.append(f"recon.* and exceptions.* signals unavailable: {exc}")
        # No journal to read: an empty one that nothing writes, and no built-in readings
        # (an empty state would count zero open exceptions).
        journal = Journal(Path(path), plan.cutover.id, clock)
        journal.readonly_reason = UNREADABLE
        return journal


UNREADABLE = "the journal cannot be read"


class _Follower:
    """The built-in readings, and (for a read-only journal) keeping up with its writer.

    Their ages are measured on the monotonic clock (``cockpit.runbook.ages``): a wall clock
    stepping back cannot make a reconciliation run look fresher. A step of the wall clock
    against the monotonic one is reported once (``clock_step``), to be journalled."""

    def __init__(self, journal: Journal | SharedJournal, clock: Clock, *, available: bool,
                 forecaster: Forecaster):
        self.journal, self.clock, self.available = journal, clock, available
        self.ages = Ages(clock)
        self.forecaster = forecaster
        self._followed = clock.monotonic()
        self._offset = clock.now() - clock.monotonic()

    def clock_step(self) -> float | None:
        """How far the wall clock stepped since the last step reported, once per step."""
        step = (self.clock.now() - self.clock.monotonic()) - self._offset
        if abs(step) <= CLOCK_STEP_S:
            return None
        self._offset += step
        return step

    def builtin(self, ops: Operations) -> dict:
        if not self.available:
            return {}
        j = self.journal
        if j.readonly and j.damage is None and self.clock.monotonic() - self._followed >= FOLLOW_S:
            self._followed = self.clock.monotonic()
            try:
                j.refresh()
            except Exception:  # noqa: BLE001 - an unreadable journal is no readings, below
                log.exception("journal refresh failed")
                return {}
        if j.damage is not None:
            return {}
        return {**builtin_readings(ops.state, self.clock, self.ages),
                **forecast_readings(self.forecaster.forecast(j.entries, self.clock.now()),
                                    self.clock)}


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
