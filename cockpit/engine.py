"""The headless engine: polls every signal, keeps bounded history, evaluates gates.

Each signal has its own poll loop on its own interval, measured with the injected clock. Every
read is raced against ``signal.timeout`` on that same clock, so a hung source becomes an error
reading ("timed out after 3s (timeout: 3s)") and never delays another signal. The next poll of a signal is
armed only after its previous read finished, so polls never pile up. History is a deque per
signal with ``maxlen=signal.history``: memory stays flat however long the cutover runs.

No exception ends a poll or tick loop: a failure inside one round becomes an error reading (or
that gate's UNKNOWN, see ``GateBook``) and the loop goes on. Should a loop end anyway, its
gates do not keep their last state: a dead poll loop leaves its signal an error reading, a dead
tick loop (nothing would ever turn stale data UNKNOWN again) makes every gate UNKNOWN for good,
and ``failures`` says why, for the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from cockpit.clock import Clock
from cockpit.config.plan import Plan
from cockpit.config.sources import Signal
from cockpit.gates import GateBook, GateStatus
from cockpit.signals.base import SourceClient
from cockpit.signals.reading import Reading
from cockpit.signals.wording import timed_out
from cockpit.text import clean

log = logging.getLogger(__name__)

GateChange = Callable[[GateStatus, GateStatus | None], None]
Builtin = Callable[[], Mapping[str, Reading]]

# Staleness must turn gates UNKNOWN even when no reading arrives: re-evaluate on this tick.
TICK_S = 1.0


class Engine:
    def __init__(self, plan: Plan, clock: Clock, *, sources: dict[str, SourceClient] | None = None,
                 builtin: Builtin | None = None, on_gate_change: GateChange | None = None,
                 tick: float = TICK_S, spread: bool = True):
        self.plan = plan
        self.clock = clock
        self.builtin = builtin
        self.on_gate_change = on_gate_change
        self.tick = tick
        self.spread = spread
        self.book = GateBook(plan, clock)
        self.latest: dict[str, Reading] = {}
        self._history: dict[str, deque[Reading]] = {
            name: deque(maxlen=sig.history) for name, sig in plan.signals.items()}
        self._subscribers: list[Callable[[], None]] = []
        self._reading_listeners: list[Callable[[Reading], None]] = []
        # Largest delay of a poll's start behind its planned time, per signal (diagnostics).
        self.lateness: dict[str, float] = {}
        self._tasks: list[asyncio.Task] = []
        # Loops that ended on their own (a bug): what a view shows, and why gates are UNKNOWN.
        self.failures: dict[str, str] = {}
        self._halted: str | None = None
        self._owned: list[SourceClient] = []
        self._no_client: dict[str, str] = {}  # source name -> why it has no client
        if sources is None:
            # Late: the table imports every client (httpx, psycopg), which an engine handed
            # its sources (tests, benchmarks) never needs.
            from cockpit.signals.loaders import make_source

            sources = {}
            used = {sig.source for sig in plan.signals.values()}
            # A heartbeat reads its target through that source's own read-only sessions.
            used |= {sig.heartbeat.target for sig in plan.signals.values() if sig.heartbeat}
            for name, cfg in plan.sources.items():
                if name not in used:
                    continue
                try:
                    sources[name] = make_source(name, cfg, clock, plan.redact)
                except ValueError as exc:  # e.g. a source type whose client is not installed
                    self._no_client[name] = str(exc)
                    continue
                self._owned.append(sources[name])
        self.sources = sources
        from cockpit.signals.postgres import link_peers  # heartbeats need their target's client

        link_peers(self.sources)
        # Gates that read a builtin (recon.*, exceptions.*) signal: only they need ``builtin()``.
        self._builtin_gates = {g for name, gs in self.book.by_signal.items()
                               if name not in plan.signals for g in gs}

    # -- what the views read -------------------------------------------------------------
    @property
    def gates(self) -> dict[str, GateStatus]:
        return self.book.statuses

    def history(self, name: str) -> Sequence[Reading]:
        """Oldest first; a copy, so a view can iterate while polls go on."""
        return tuple(self._history.get(name, ()))

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback()`` (no arguments) runs after every new reading and every tick.

        Returns a function that unsubscribes it.
        """
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def on_reading(self, callback: Callable[[Reading], None]) -> Callable[[], None]:
        """``callback(reading)`` for each reading as it is stored (the signal history takes
        each one this way, instead of walking ``latest`` after every notification). Returns
        a function that unsubscribes it; a failing callback is logged and never costs a poll."""
        self._reading_listeners.append(callback)
        return lambda: (self._reading_listeners.remove(callback)
                        if callback in self._reading_listeners else None)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        self.evaluate()
        t0 = self.clock.monotonic()  # every schedule is anchored here, not at first task run
        for name, sig in self.plan.signals.items():
            self._spawn(self._poll_loop(name, sig, t0), f"poll:{name}")
        self._spawn(self._tick_loop(), "gates:tick")

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._loop_ended)
        self._tasks.append(task)

    def _loop_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task not in self._tasks:
            return  # stopped on purpose
        exc = task.exception()
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "ended"
        name = task.get_name()
        log.error("engine loop %s stopped: %s", name, why)
        self.failures[name] = clean(self.plan.redact(why), 200, single_line=True)
        if name.startswith("poll:"):
            signal = name.removeprefix("poll:")
            self._store(self._error(signal, f"polling stopped: {self.failures[name]}",
                                    self.clock.monotonic()))
            self.evaluate(self.book.by_signal.get(signal, ()))
        else:
            self._halted = f"gate evaluation stopped ({self.failures[name]}): restart the cockpit"
            self.evaluate()
        self._notify()

    def adopt(self, clients: Iterable[SourceClient]) -> None:
        """Close these handed-in clients at :meth:`stop`, as the ones the engine made itself
        (a rehearsal hands in the real clients of the sources it does not replace)."""
        self._owned.extend(c for c in clients if c not in self._owned)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        owned, self._owned = self._owned, []
        for source in owned:
            with contextlib.suppress(Exception):
                await source.close()

    async def poll_once(self, names: Iterable[str] | None = None) -> dict[str, GateStatus]:
        """Read each signal (default: all) once, concurrently; then evaluate every gate.

        Takes at most the longest ``timeout`` among the signals read.
        """
        wanted = [n for n in (self.plan.signals if names is None else names) if n in self.plan.signals]
        readings = await asyncio.gather(*(self.read(n, self.plan.signals[n]) for n in wanted))
        if self._halted is not None:
            return self.gates
        for reading in readings:
            self._store(reading)
        self.evaluate()
        self._notify()
        return self.gates

    # -- the work ----------------------------------------------------------------------
    async def read(self, name: str, signal: Signal) -> Reading:
        """One reading of ``name``, never raising and never taking longer than its timeout."""
        started = self.clock.monotonic()
        source = self.sources.get(signal.source)
        if source is None:
            why = self._no_client.get(signal.source, f"source {signal.source!r} is not configured")
            return self._error(name, why, started)
        read = asyncio.ensure_future(source.read(name, signal))
        timer = asyncio.ensure_future(self.clock.sleep(signal.timeout))
        try:
            done, _ = await asyncio.wait({read, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            read.cancel()
            timer.cancel()
            raise
        if read not in done:
            read.cancel()
            # A source that ignores cancellation must not leave an unretrieved exception behind.
            read.add_done_callback(_swallow)
            return self._error(name, timed_out(signal.timeout, "timeout"), started)
        timer.cancel()
        try:
            reading = read.result()
        except Exception as exc:  # noqa: BLE001 - the source broke its contract; contain it
            return self._error(name, f"{type(exc).__name__}: {exc}", started)
        return (_checked(reading, name, self.clock.monotonic())
                or self._error(name, "source returned a bad reading", started))

    def evaluate(self, gates: Iterable[str] | None = None) -> list[tuple[GateStatus, GateStatus | None]]:
        """Re-evaluate ``gates`` (default all); report changes to ``on_gate_change``."""
        if self._halted is not None:
            return self._report(self.book.halt(self._halted))
        latest: Mapping[str, Reading] = self.latest
        wanted = None if gates is None else list(gates)
        if self.builtin is not None and (wanted is None or self._builtin_gates.intersection(wanted)):
            try:
                extra = self.builtin()
            except Exception:  # noqa: BLE001 - the journal view failing must not stop polling
                log.exception("builtin readings failed")
                extra = {}
            if extra:
                latest = {**self.latest, **extra}
        return self._report(self.book.update(latest, wanted))

    def _report(self, changes: list[tuple[GateStatus, GateStatus | None]]):
        if self.on_gate_change is not None:
            for new, old in changes:
                try:
                    self.on_gate_change(new, old)
                except Exception:  # noqa: BLE001 - a view's bug must not stop the engine
                    log.exception("on_gate_change failed for %s", new.gate)
        return changes

    def _store(self, reading: Reading) -> None:
        self.latest[reading.signal] = reading
        history = self._history.get(reading.signal)
        if history is not None:
            history.append(reading)
        for callback in list(self._reading_listeners):
            try:
                callback(reading)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the engine
                log.exception("reading listener failed")

    def _accept(self, reading: Reading) -> None:
        self._store(reading)
        self.evaluate(self.book.by_signal.get(reading.signal, ()))
        self._notify()

    def _notify(self) -> None:
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception:  # noqa: BLE001
                log.exception("subscriber failed")

    def phase(self, name: str, every: float) -> float:
        """Offset of a signal's polls after the first one, stable per name, in [0, every).

        Every signal polls at start; after that the polls are spread over the interval, so 200
        signals at 1 s do not all fire (and all parse) in the same instant each second, which
        would stall the event loop the screen runs on.
        """
        return (zlib.crc32(name.encode()) / 2**32) * every if self.spread else 0.0

    async def _poll_loop(self, name: str, signal: Signal, due: float) -> None:
        offset = self.phase(name, signal.every)
        while True:
            started = self.clock.monotonic()
            self.lateness[name] = max(started - due, self.lateness.get(name, 0.0))
            try:
                self._accept(await self.read(name, signal))
            except Exception as exc:  # noqa: BLE001 - a round's failure is a reading, not the end
                log.exception("poll of %s failed", name)
                self._accept(self._error(name, f"poll failed: {type(exc).__name__}: {exc}",
                                         started))
            due += signal.every + offset
            offset = 0.0
            now = self.clock.monotonic()
            if due < now:
                # The read overran its slot (a timeout): wait a full interval from now rather
                # than firing again at once, so a hung source is not hammered.
                due = now + signal.every
            await self.clock.sleep(due - now)

    async def _tick_loop(self) -> None:
        while True:
            await self.clock.sleep(self.tick)
            try:
                self.evaluate()
            except Exception:  # noqa: BLE001 - GateBook contains gate failures; a backstop
                log.exception("gate evaluation failed")
            self._notify()

    def _error(self, name: str, message: str, started: float) -> Reading:
        return Reading(signal=name, ts=self.clock.now(), mono=self.clock.monotonic(),
                       error=clean(self.plan.redact(message), 300, single_line=True) or "error",
                       latency_ms=(self.clock.monotonic() - started) * 1000.0)


def _checked(reading: object, name: str, mono: float) -> Reading | None:
    """The source's reading if it is one, for this signal, and not from the future: a reading
    stamped later than now would look fresher than it is. (``Reading`` itself guarantees the
    value is true/false, an exact integer or a finite float.)"""
    if not isinstance(reading, Reading) or reading.signal != name:
        return None
    if not (math.isfinite(reading.mono) and math.isfinite(reading.ts)) or reading.mono > mono:
        return None
    return reading


def _swallow(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()
