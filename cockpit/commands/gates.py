"""``cockpit gates CONFIG [--json] [--watch] [--no-journal]``: every gate with its state and why.

One-shot (default): every signal a gate reads is polled once, concurrently, each bounded by its
own timeout; then every gate is printed. A gate with ``hold_for`` can only be HOLD here: one
poll cannot observe a window, and saying GO would be a guess. Use ``--watch`` to see it turn.

``--watch`` keeps polling and prints each state change with its UTC time until Ctrl-C, and
records each change in the journal (``gate.change``) unless ``--no-journal``.

Exit: 0 only if every gate is GO (at the end, for ``--watch``), 1 otherwise, 2 bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from datetime import UTC, datetime

from cockpit.clock import Clock, RealClock
from cockpit.commands.common import broken_pipe, json_text, load_or_report
from cockpit.engine import Engine
from cockpit.gates import GateState, GateStatus

ONE_SHOT_NOTE = ("note: one poll cannot observe a hold_for window, so such gates show HOLD; "
                 "use --watch to see them reach GO")
_COLOURS = {GateState.GO: "32", GateState.HOLD: "33", GateState.NO_GO: "31", GateState.UNKNOWN: "35"}
# How often --watch re-reads the journal for recon.* / exceptions.* written by others.
JOURNAL_REFRESH_S = 5.0


def main(args) -> int:
    plan = load_or_report(args.config, for_run=True)
    if plan is None:
        return 2
    if args.watch:
        return asyncio.run(_watch(plan, args))
    return asyncio.run(_once(plan, args))


class JournalView:
    """The plan's journal, if there is one: builtin readings, and (optionally) gate changes.

    Everything here is best effort: a missing, locked or damaged journal costs the builtin
    signals or the journalling (with a one-line warning), never the gate view itself.
    """

    def __init__(self, plan, clock: Clock, *, write: bool):
        self.plan, self.clock = plan, clock
        self.journal = None
        self.ops = None
        self.writing = False
        self._refreshed = clock.monotonic()
        try:
            from cockpit.journal import Actor, Journal, JournalError
            from cockpit.runbook import Operations, builtin_readings
        except ImportError:
            if write:
                _warn("journal support is not installed; gate changes are not recorded")
            return
        self._builtin_readings = builtin_readings
        path = plan.journal_path
        if write:
            try:
                self.journal = Journal.open(path, cutover_id=plan.cutover.id, clock=clock)
                self.writing = not self.journal.readonly
                if not self.writing:
                    _warn(f"gate changes are not recorded: {self.journal.readonly_reason}")
            except JournalError as exc:
                _warn(f"gate changes are not recorded: {exc}")
        if self.journal is None and path.exists():
            try:
                self.journal = Journal.open(path, cutover_id=plan.cutover.id, readonly=True,
                                            clock=clock)
            except JournalError as exc:
                _warn(f"recon.* and exceptions.* signals unavailable: {exc}")
        if self.journal is not None and self.journal.damage is not None:
            # Stale is not green: state replayed from a journal cut short at the damage (or one
            # from another cutover) could say "0 open critical exceptions" and pass a gate.
            _warn(f"recon.* and exceptions.* signals unavailable: journal {path} is damaged at "
                  f"{self.journal.damage} (run: cockpit journal verify)")
            self.close()
            self.journal, self.writing = None, False
        if self.journal is not None:
            self.ops = Operations(plan, self.journal, Actor.system())

    def builtin(self):
        if self.ops is None:
            return {}
        if self.journal.readonly and self.clock.monotonic() - self._refreshed >= JOURNAL_REFRESH_S:
            self._refreshed = self.clock.monotonic()
            with contextlib.suppress(Exception):
                self.journal.refresh()
        return self._builtin_readings(self.ops.state, self.clock)

    def record(self, new: GateStatus, old: GateStatus | None) -> None:
        if not self.writing or old is None:  # the first evaluation at start is not a change
            return
        try:
            self.ops.record_gate_change(new, old)
        except Exception as exc:  # noqa: BLE001 - Refused, JournalWriteFailed: warn, go on
            self.writing = False
            _warn(f"gate changes are no longer recorded: {exc}")

    def close(self) -> None:
        if self.journal is not None:
            with contextlib.suppress(Exception):
                self.journal.close()


async def _once(plan, args) -> int:
    clock = RealClock()
    view = JournalView(plan, clock, write=False)
    engine = Engine(plan, clock, builtin=view.builtin)
    try:
        needed = [n for n in engine.book.signal_names if n in plan.signals]
        gates = await engine.poll_once(needed)
    finally:
        await engine.stop()
        view.close()
    statuses = list(gates.values())
    if args.json:
        print(json_text([_json(plan, s) for s in statuses], indent=2))
    else:
        print(table(statuses, colour=_colour_wanted()))
        if any(s.state is GateState.HOLD and s.hold_for_s > 0 for s in statuses):
            print(ONE_SHOT_NOTE)
    return 0 if all(s.passes() for s in statuses) else 1


async def _watch(plan, args) -> int:
    clock = RealClock()
    view = JournalView(plan, clock, write=not args.no_journal)
    colour = _colour_wanted()

    stop = asyncio.Event()
    reader_gone = False

    def on_change(new: GateStatus, old: GateStatus | None) -> None:
        nonlocal reader_gone
        view.record(new, old)
        if reader_gone:
            return
        try:
            print(_change_json(new, old) if args.json else change_line(new, old, colour), flush=True)
        except BrokenPipeError:  # `gates --watch | head -1`: the reader left, so stop watching
            reader_gone = True
            stop.set()

    engine = Engine(plan, clock, builtin=view.builtin, on_gate_change=on_change)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
        await stop.wait()
    finally:
        await engine.stop()
        view.close()
    if reader_gone:
        return broken_pipe()
    statuses = list(engine.gates.values())
    go = sum(1 for s in statuses if s.passes())
    print(f"stopped: {go} of {len(statuses)} gates GO", file=sys.stderr)
    return 0 if go == len(statuses) else 1


def table(statuses: list[GateStatus], *, colour: bool = False) -> str:
    """One line per gate: symbol and state word, gate id, reason (readable without colour)."""
    if not statuses:
        return "no gates in this plan"
    width = max(len(s.label()) for s in statuses)
    gate_w = max(len(s.gate) for s in statuses)
    lines = []
    for s in statuses:
        state = f"{s.symbol} {s.label():<{width}}"
        lines.append(f"{_paint(state, s.state, colour)}  {s.gate:<{gate_w}}  {s.reason}")
    go = sum(1 for s in statuses if s.passes())
    lines.append(f"{go} of {len(statuses)} gates GO")
    return "\n".join(lines)


def change_line(new: GateStatus, old: GateStatus | None, colour: bool = False) -> str:
    when = _utc(new.since)
    state = f"{new.symbol} {new.label()}"
    was = "" if old is None else f" (was {old.label()})"
    return f"{when}  {new.gate}  {_paint(state, new.state, colour)}{was}  {new.reason}"


def _change_json(new: GateStatus, old: GateStatus | None) -> str:
    doc = {"time": _utc(new.since), "gate": new.gate, "state": new.state.value,
           "old_state": None if old is None else old.state.value, "reason": new.reason}
    return json_text(doc)


def _json(plan, status: GateStatus) -> dict:
    doc = status.to_json()
    doc["title"] = plan.gates[status.gate].title
    return doc


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _colour_wanted() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _paint(text: str, state: GateState, colour: bool) -> str:
    return f"\x1b[{_COLOURS[state]}m{text}\x1b[0m" if colour else text


def _warn(message: str) -> None:
    print(f"cockpit gates: warning: {message}", file=sys.stderr)
