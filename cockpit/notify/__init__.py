"""Comms: the outbox derived from the journal, delivery to the command channel's targets
(webhooks, email), retries and dead letters. Never blocks the screen or an action.

The journal append is the commit point; a :class:`Notifier` (one per writing session, started
by ``cockpit.session``) follows the journal on its own thread, derives each target's messages
into the outbox (:mod:`cockpit.notify.outbox`) and delivers them (:mod:`cockpit.notify.deliver`).
Its schedule (backoff, ``Retry-After``, ``dwell``) is on the session clock: the thread reads
``clock.now()`` and checks again at least every ``POLL_S`` of real time, so a ``ManualClock``
moved by a test is seen within that. An operator's ``notify.retry`` / ``notify.dismiss``
entry (``Operations.notify_retry`` / ``notify_dismiss``, from any cockpit of a shared journal)
is acted on when the thread reads it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.clock import Clock
from cockpit.config.plan import Plan
from cockpit.journal import Journal
from cockpit.notify.deliver import Clients, Outcome, backoff, send
from cockpit.notify.lease import SharedDelivery
from cockpit.notify.outbox import (
    OUTBOX_SUFFIX,
    DeadLetter,
    Outbox,
    OutboxError,
    message_key,
    outbox_path,
)

__all__ = ["DeadLetter", "Notifier", "OutboxError", "OUTBOX_SUFFIX", "message_key", "outbox_path"]

log = logging.getLogger(__name__)

POLL_S = 0.05


class Notifier:
    def __init__(self, plan: Plan, journal: Journal, clock: Clock, *,
                 path: Path | None = None, rng: random.Random | None = None,
                 lease: SharedDelivery | None = None):
        if plan.notify is None:
            raise ValueError("the plan has no notify section")
        self.plan, self.journal, self.clock = plan, journal, clock
        self.path = path or outbox_path(journal.path)
        self._outbox = Outbox(self.path, plan)  # OutboxError: one line
        entries = self.journal.entries
        head = (entries[-1].seq, entries[-1].hash) if entries else (0, "0" * 64)
        self._outbox.start_at(*head)
        if not self._outbox.belongs_to(entries):
            dropped = self._outbox.restart_at(*head)
            log.warning("notify: %s was kept for another journal at this path; starting at "
                        "this journal's head (%d messages of the other one dropped)",
                        self.path.name, dropped)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._dead: list[DeadLetter] = self._outbox.dead_letters()
        self._counts: dict[str, int] = self._outbox.counts()
        self._listeners: list[Callable[[], None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.attempts = 0  # delivery attempts made by this notifier (tests, bench)
        self._drain_until = 0.0
        self._closed = False
        self._index: int | None = None  # journal entries already handed to the outbox
        self._clients = Clients()
        # A shared journal: only the holder of its lease delivers (cockpit.notify.lease).
        self.lease = lease

    # -- the API of the view ---------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._dead)

    def counts(self) -> dict[str, int]:
        """Messages per state (``pending``, ``sent``, ``dead``, ``dismissed``, ``superseded``)."""
        with self._lock:
            return dict(self._counts)

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback()`` (from the delivery thread) whenever the outbox changed; returns the
        function that unsubscribes it."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def kick(self) -> None:
        """Look at the journal and the schedule now (after an append, a clock move)."""
        self._wake.set()

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> Notifier:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, drain: float = 0.0, wait: bool = True) -> None:
        """Stop the thread: messages already due may still go out for ``drain`` seconds (real
        time), then it ends after the attempt in flight (bounded by its target's timeout).
        ``wait`` joins it. Idempotent."""
        self._drain_until = time.monotonic() + drain
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            self._close()
            return
        if wait:
            longest = max(t.timeout for t in self.plan.notify.targets.values())  # type: ignore[union-attr]
            thread.join(longest + drain + 5.0)

    def _stopping(self) -> bool:
        return self._stop.is_set() and time.monotonic() >= self._drain_until

    def _close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._outbox.close()
                self._clients.close()
                if self.lease is not None:
                    self.lease.close()

    def _run(self) -> None:
        try:
            while not self._stopping():
                try:
                    made = self.step()
                except Exception:  # noqa: BLE001 - the thread must outlive one bad turn
                    log.exception("notify: delivery turn failed")
                    made = 0
                if self._stop.is_set() and not made:
                    break  # draining, and nothing more was due
                self._wake.wait(POLL_S)
                self._wake.clear()
        finally:
            self._close()

    def step(self) -> int:
        """One turn: read new journal entries into the outbox, then attempt what is due.
        Returns the attempts made (the thread calls it; tests may call it directly)."""
        new, upto = self._new_entries()
        changed = self._outbox.scan(new, self.clock.now())
        self._index = upto  # only once scanned: a failed scan is tried again next turn
        made = 0
        due_now, done = self._outbox.due(self.clock.now()), 0
        if self.lease is not None and due_now:
            due_now, done = self._not_delivered_elsewhere(due_now)
            changed += done
        for due in due_now:
            if self._stopping():
                break
            outcome = send(self.plan, due.target, due.message, due.key, self._clients)
            made += 1
            self.attempts += 1
            if outcome.delivered and self.lease is not None:
                self.lease.acknowledge(due.key, due.target)
            self._record(due.key, due.target, due.attempts + 1, outcome)
            changed += 1
        if changed:
            self._refresh()
        return made

    def _not_delivered_elsewhere(self, due: list) -> tuple[list, int]:
        """A shared journal's due messages this cockpit may send now: none without the lease;
        with it, those no cockpit acknowledged yet (the others are marked sent, unsent)."""
        assert self.lease is not None
        if not self.lease.held():
            return [], 0
        done = self.lease.acknowledged([d.key for d in due])
        if done is None:
            return [], 0
        now = self.clock.now()
        for d in due:
            if d.key in done:
                self._outbox.sent(d.key, now)
        return [d for d in due if d.key not in done], len(done)

    def _new_entries(self) -> tuple[list, int]:
        """The entries after the watermark, found without walking the journal on every turn
        (a long journal is 100,000 entries; the thread turns 20 times a second)."""
        entries = self.journal.entries
        n = len(entries)
        if self._index is None or self._index > n:
            mark = self._outbox.watermark() or 0
            self._index = next((i for i in range(min(mark, n), -1, -1)
                                if i == 0 or entries[i - 1].seq <= mark), 0)
        return entries[self._index:n], n

    def _record(self, key: str, target: str, attempts: int, outcome: Outcome) -> None:
        now = self.clock.now()
        if outcome.delivered:
            self._outbox.sent(key, now)
            return
        limit = self.plan.notify.targets[target].max_attempts  # type: ignore[union-attr]
        if outcome.permanent or attempts >= limit:
            log.warning("notify: %s is a dead letter after %d attempts: %s", key, attempts,
                        outcome.error)
            self._outbox.failed(key, now, outcome.error, retry_at=None)
            return
        delay = outcome.retry_after if outcome.retry_after is not None else backoff(attempts, self._rng)
        self._outbox.failed(key, now, outcome.error, retry_at=now + delay)

    def _refresh(self) -> None:
        dead, counts = self._outbox.dead_letters(), self._outbox.counts()
        with self._lock:
            self._dead, self._counts = dead, counts
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a view's bug must not stop delivery
                log.exception("notify: change listener failed")
