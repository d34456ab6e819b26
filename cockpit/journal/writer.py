"""One thread for every journal write a cockpit session makes.

``Journal.append`` returns only after ``fsync``; on a slow disk that is seconds, and on the UI
loop it would freeze every key. So the view hands each write to this one thread: one thread
keeps the journal's order exactly the order the writes were handed over (a gate change, then
the operator's confirm, then ``session.end``), and the loop only awaits the result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class JournalWriter:
    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="journal-writer")
        self._lock = threading.Lock()
        self._last: concurrent.futures.Future | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Queue ``fn(*args)`` behind every write handed over before it."""
        with self._lock:
            future = self._pool.submit(fn, *args)
            self._last = future
        return future

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the writer thread; its result or its exception. Cancelling the
        caller does not take back a write already handed over: the operator asked for it."""
        return await asyncio.shield(asyncio.wrap_future(self.submit(fn, *args)))

    def fire(self, what: str, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future | None:
        """Fire and forget: a failure is logged (one line), never raised at the caller."""
        try:
            future = self.submit(fn, *args)
        except RuntimeError:  # shut down: the session is over
            log.warning("%s not journalled: the session's writer is shut down", what)
            return None
        future.add_done_callback(lambda f: _log_failure(what, f))
        return future

    @property
    def busy(self) -> bool:
        last = self._last
        return last is not None and not last.done()

    async def settled(self) -> None:
        """Until every write handed over so far (and any handed over meanwhile) has returned."""
        while (last := self._last) is not None and not last.done():
            await asyncio.wait([asyncio.wrap_future(last)])

    def drain(self) -> None:
        """Blocking form of :meth:`settled`, for callers without a loop (before/after the app)."""
        while (last := self._last) is not None and not last.done():
            concurrent.futures.wait([last])

    def shutdown(self, *, wait: bool = True) -> None:
        """Queued writes still run; later ones are refused (``fire`` logs them)."""
        self._pool.shutdown(wait=wait)


def _log_failure(what: str, future: concurrent.futures.Future) -> None:
    if future.cancelled():
        log.warning("%s not journalled: cancelled", what)
        return
    exc = future.exception()
    if exc is not None:
        log.warning("%s not journalled: %s", what, exc)
