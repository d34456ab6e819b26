"""Run one ``Operations`` call on the journal's writer thread, and say how it went.

Every operator action ends here: the call goes to the session's one ordered writer thread
(validate, append with fsync, or raise ``Refused``); meanwhile every writing key is greyed
out (``pending``) and, past ``RECORDING_NOTICE_S``, the header says "recording…". Back on the
loop the view re-reads ``operations.state`` and refreshes; a refusal is said in one line and
changes nothing. Nothing on screen says "done" before the append returned, and the loop never
waits on the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cockpit.runbook import Refused
from cockpit.tui.safe import shown

RECORDING_NOTICE_S = 0.3  # a write slower than this says so in the header
GROUP = "journal"  # the workers whose writes ``settled()`` waits for


class Writes:
    """The app's writes in flight. ``refresh()`` redraws the view (and its bindings)."""

    def __init__(self, app, writer, refresh: Callable[[], None]):
        self.app = app
        self.writer = writer
        self.refresh = refresh
        self.pending = 0  # calls handed to the writer, not yet returned
        self.recording_shown = False
        self._timer = None

    def do(self, what: str, call: Callable[[], Any], then: Callable[[], None] | None = None,
           *, on_done: Callable[[], None] | None = None) -> None:
        """Hand ``call`` to the writer; once the journal has it, refresh and run ``then()``;
        on refusal say why and change nothing. ``on_done()`` runs after the entry is on disk
        (the view moves its selection there). Returns at once."""
        self.begin()
        self.app.run_worker(self._do(what, call, then, on_done), group=GROUP,
                            name=f"journal: {what}", exit_on_error=False)

    async def _do(self, what, call, then, on_done) -> None:
        if await self.record(what, call, begun=True, on_done=on_done) and then is not None:
            then()

    async def record(self, what: str, call: Callable[[], Any], *, begun: bool = False,
                     on_done: Callable[[], None] | None = None) -> bool:
        """``call()`` on the writer thread; True once it returned (the entry is on disk)."""
        try:
            await self.journalled(call, begun=begun)
        except Refused as exc:
            self.app.notify(shown(str(exc), 300), title=f"{what}: refused",
                            severity="error", markup=False, timeout=8)
            self.refresh()
            return False
        if on_done is not None:
            on_done()
        self.refresh()
        return True

    async def journalled(self, call: Callable[..., Any], *args, begun: bool = False):
        """``call(*args)`` on the writer thread, counted as a pending write meanwhile."""
        if not begun:
            self.begin()
        try:
            return await self.writer.run(call, *args)
        finally:
            self.end()

    def begin(self) -> None:
        self.pending += 1
        if self._timer is None:
            self._timer = self.app.set_timer(RECORDING_NOTICE_S, self._show_recording)
        self.refresh()

    def end(self) -> None:
        self.pending -= 1
        if self.pending == 0:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self.recording_shown = False
        self.refresh()

    def _show_recording(self) -> None:
        self._timer = None
        if self.pending:
            self.recording_shown = True
            self.refresh()

    async def settled(self) -> None:
        """Until every write handed over (by the view, or the session's engine) has returned
        and the view has caught up with it; for tests and quitting, never a sleep."""
        while True:
            pending = [w for w in self.app.workers if w.group == GROUP and not w.is_finished]
            if pending:
                done, _ = await asyncio.wait([asyncio.ensure_future(w.wait()) for w in pending])
                for task in done:  # a failed or cancelled worker has said so already
                    task.cancelled() or task.exception()
            elif self.pending or self.writer.busy:
                await self.writer.settled()
                await asyncio.sleep(0)  # let the awaiting worker resume and finish
            else:
                return
