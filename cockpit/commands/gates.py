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
import os
import select
import signal
import sys
from datetime import UTC, datetime

from cockpit.clock import RealClock
from cockpit.commands.common import (
    broken_pipe,
    emit,
    json_text,
    load_or_report,
    warn_quarantines,
)
from cockpit.gates import GateState, GateStatus
from cockpit.gates import as_of as gates_as_of

ONE_SHOT_NOTE = ("note: one poll cannot observe a hold_for window, so such gates show HOLD; "
                 "use --watch to see them reach GO")
_COLOURS = {GateState.GO: "32", GateState.HOLD: "33", GateState.NO_GO: "31", GateState.UNKNOWN: "35"}


def main(args) -> int:
    plan = load_or_report(args.config, verb="gates", for_run=True)
    if plan is None:
        return 2
    if args.watch:
        return asyncio.run(_watch(plan, args))
    return asyncio.run(_once(plan, args))


def _open(plan, args, *, record: bool):
    """The one session (``cockpit.session``) in watch mode: gate changes recorded when asked
    and the journal can be taken, built-in signals from the journal while it is intact."""
    from cockpit.journal.entry import _os_user
    from cockpit.journal.shared import local_copy_path
    from cockpit.session import open_session

    session = open_session(plan, local_copy_path(plan, _os_user()), "system", mode="watch",
                           clock=RealClock(), record_gate_changes=record)
    for warning in session.warnings:
        _warn(warning)
    _warn_damage(session)
    warn_quarantines("gates", session.journal)
    return session


def _warn_damage(session) -> bool:
    damage = session.journal.damage
    if damage is not None:
        # Stale is not green: state replayed from a journal cut short at the damage (or one
        # from another cutover) could say "0 open critical exceptions" and pass a gate.
        _warn(f"recon.* and exceptions.* signals unavailable: journal {session.journal.path} "
              f"is damaged at {damage} (run: cockpit journal verify)")
    return damage is not None


async def _once(plan, args) -> int:
    session = _open(plan, args, record=False)
    engine = session.engine
    try:
        needed = [n for n in engine.book.signal_names if n in plan.signals]
        gates = await engine.poll_once(needed)
    finally:
        await engine.stop()
        session.close()
    statuses = list(gates.values())
    if args.json:
        print(json_text([_json(plan, s) for s in statuses], indent=2))
    else:
        print(table(statuses, colour=_colour_wanted()))
        if any(s.state is GateState.HOLD and s.hold_for_s > 0 for s in statuses):
            print(ONE_SHOT_NOTE)
    return 0 if all(s.passes() for s in statuses) else 1


async def _watch(plan, args) -> int:
    session = _open(plan, args, record=not args.no_journal)
    engine = session.engine
    colour = _colour_wanted()
    stop = asyncio.Event()
    reader_gone = False
    damage_told = session.journal.damage is not None

    def on_change(new: GateStatus, old: GateStatus | None) -> None:
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            print(_change_json(new, old) if args.json else change_line(new, old, colour), flush=True)
        except BrokenPipeError:  # `gates --watch | head -1`: the reader left, so stop watching
            reader_gone = True
            stop.set()

    def on_update() -> None:
        nonlocal damage_told, reader_gone
        if not damage_told and session.journal.damage is not None:
            damage_told = _warn_damage(session)
        if not reader_gone and _reader_left(sys.stdout):
            # Noticed on the tick, not only when the next change fails to print: a watch
            # whose gates never change again must still end when its reader leaves.
            reader_gone = True
            stop.set()

    session.listen(on_change)
    unsubscribe = engine.subscribe(on_update)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
        await stop.wait()
    finally:
        unsubscribe()
        await engine.stop()
        await session.writes_settled()
        session.close()
    if reader_gone:
        return broken_pipe()
    statuses = list(gates_as_of(plan, engine.gates, engine.clock.monotonic()).values())
    go = sum(1 for s in statuses if s.passes())
    emit(f"stopped: {go} of {len(statuses)} gates GO", err=True)
    return 0 if go == len(statuses) else 1


def _reader_left(stream) -> bool:
    """True when ``stream`` is a pipe whose reading end was closed (``| head -1`` exited)."""
    try:
        fd = stream.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):
        return False
    return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in events)


def table(statuses: list[GateStatus], *, colour: bool = False) -> str:
    """One line per gate: symbol and state word, gate id, reason (readable without colour).

    Printed as is, because the colour codes are ours: gate ids are plan ids (single tokens)
    and reasons are cleaned when the gate is evaluated (``GateStatus.reason``)."""
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
    emit(f"cockpit gates: warning: {message}", err=True)
