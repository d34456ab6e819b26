"""Fills the signal history from a running session: every reading and every gate change.

The session (``cockpit.session.open_session``) starts one for a session that writes its
journal (``cockpit run``, ``cockpit demo``, ``cockpit rehearse``, ``cockpit gates --watch``
holding the journal); a read-only watcher records nothing. Times are the session clock's
wall time (a reading's ``ts``; ``clock.now()`` for a gate change), so a rehearsal's
accelerated clock is what the history shows.

On the engine's loop the recorder only notes what is new (each reading as the engine stores
it, ``Engine.on_reading``; a gate change from ``Session.listen``); every ``FLUSH_S`` seconds of the
session clock it hands the batch to its one thread, which records it and flushes it in one
transaction, so SQLite's fsync never stalls the screen. While a flush is still being written
the next batch waits for the following turn: a rehearsal clock 1000 times faster flushes as
often as the thread keeps up with, not 1000 times as often. Should the
history fail (disk full, permission), the recorder says so once through ``warn`` and stops;
the cockpit goes on, the journal does not depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Protocol

from cockpit.clock import Clock
from cockpit.gates import GateStatus
from cockpit.history.store import History, HistoryError, history_path
from cockpit.signals.reading import Reading

log = logging.getLogger(__name__)

FLUSH_S = 30.0
# A history thread stuck on a hung disk must not grow memory without end: past this many
# waiting readings, new ones are counted and dropped until it catches up.
MAX_WAITING = 200_000
CLOSE_WAIT_S = 10.0

_Reading = tuple[str, float, object, bool]


class Readings(Protocol):
    """What the recorder needs of ``cockpit.engine.Engine`` (a sibling layer: not imported)."""

    def on_reading(self, callback: Callable[[Reading], None]) -> Callable[[], None]: ...

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]: ...


_Gate = tuple[str, float, str, str]


class Recorder:
    def __init__(self, history: History, engine: Readings, clock: Clock, *,
                 warn: Callable[[str], None], flush_s: float = FLUSH_S):
        self.history, self.engine, self.clock, self.warn = history, engine, clock, warn
        self.flush_s = flush_s
        self._readings: list[_Reading] = []
        self._gates: list[_Gate] = []
        self._last_flush = clock.monotonic()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._pending: Future | None = None
        self._failed: str | None = None
        self._stopped = False
        self.dropped = 0
        self._unsubscribe_readings = engine.on_reading(self._reading)
        self._unsubscribe_ticks = engine.subscribe(self._update)

    # -- on the engine's loop ------------------------------------------------------------
    def gate_changed(self, new: GateStatus, old: GateStatus | None) -> None:
        """A ``Session.listen`` listener."""
        if not self._stopped:
            self._gates.append((new.gate, self.clock.now(), new.state.value, new.reason))

    def _reading(self, reading: Reading) -> None:
        if self._stopped:
            return
        if len(self._readings) >= MAX_WAITING:
            self.dropped += 1
            return
        self._readings.append((reading.signal, reading.ts, reading.value,
                               reading.error is not None or reading.value is None))

    def _update(self) -> None:
        """After every reading and every tick: the flush, when one is due."""
        if self._stopped:
            return
        if self._failed is not None:
            self._stop(self._failed)
            return
        if self.clock.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Hand what was noted since the last flush to the history thread (unless the previous
        flush is still being written: then it waits for the next turn)."""
        if self._stopped or (self._pending is not None and not self._pending.done()):
            return
        self._last_flush = self.clock.monotonic()
        readings, self._readings = self._readings, []
        gates, self._gates = self._gates, []
        self._pending = self._thread.submit(self._write, readings, gates)

    def close(self) -> None:
        """The last batch written and the history closed (waiting at most ``CLOSE_WAIT_S``)."""
        if self._stopped:
            return
        self._stopped = True
        self._unsubscribe_readings()
        self._unsubscribe_ticks()
        readings, gates = self._readings, self._gates
        self._readings, self._gates = [], []
        done = self._thread.submit(self._write, readings, gates, close=True)
        self._thread.shutdown(wait=False)
        try:
            done.result(timeout=CLOSE_WAIT_S)
        except FutureTimeout:
            log.warning("signal history still writing at close: its last %d s may be lost",
                        int(self.flush_s))
        if self._failed is not None:
            self._say(self._failed)

    def _stop(self, why: str) -> None:
        self._stopped = True
        self._unsubscribe_readings()
        self._unsubscribe_ticks()
        self._readings, self._gates = [], []
        self._thread.submit(self._close_quietly)
        self._thread.shutdown(wait=False)
        self._say(why)

    def _say(self, why: str) -> None:
        log.warning("%s", why)
        self.warn(why)

    # -- on the history thread -----------------------------------------------------------
    def _write(self, readings: list[_Reading], gates: list[_Gate], *, close: bool = False) -> None:
        if self._failed is not None:
            return
        h = self.history
        try:
            for gate, wall, status, reason in gates:
                h.record_gate(gate, wall, status, reason)
            for signal, wall, value, error in readings:
                h.record_reading(signal, wall, value, error)
            if close:
                h.close()
            else:
                h.flush()
        except HistoryError as exc:
            self._failed = f"signal history stopped: {exc}"
        except Exception as exc:  # noqa: BLE001 - evidence's helper: never the cockpit's end
            log.exception("signal history failed")
            self._failed = f"signal history stopped: {type(exc).__name__}"
        if self._failed is not None:
            self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self.history.close()
        except Exception:  # noqa: BLE001 - closing after a failure: nothing more to say
            log.debug("history close after failure", exc_info=True)


def start_recorder(journal_path: str | Path, engine: Readings, clock: Clock,
                   warn: Callable[[str], None]) -> Recorder | None:
    """A recorder into the history beside ``journal_path``; None (and one ``warn``) when the
    history cannot be opened, for the session to go on without it."""
    path = history_path(journal_path)
    try:
        history = History.open(path)
    except HistoryError as exc:
        why = f"signal history not recorded: {exc}"
        log.warning("%s", why)
        warn(why)
        return None
    return Recorder(history, engine, clock, warn=warn)
