"""The process groups of step commands: how they are killed and reaped, and the pipe their
output comes through. See :mod:`cockpit.runbook.commands` for the rules.

Every group still running is in ``_live``; ``kill_all`` SIGKILLs them from any thread (and at
interpreter exit). While any runs, the cockpit is a child subreaper (Linux): a killed
command's orphaned grandchildren become its children and are reaped here, rather than left as
zombies under an init that may never reap them (a container without one, as in CI), where
they would keep the group existing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections import deque
from typing import cast

PIPE_HIGH = 1 << 20  # bytes read ahead of the saving thread before the pipe is paused

_live: set[int] = set()
_live_lock = threading.Lock()


def kill_all() -> None:
    """SIGKILL every command group still running. Synchronous and safe from any thread."""
    with _live_lock:
        groups = list(_live)
    for pgid in groups:
        killpg(pgid)


atexit.register(kill_all)


def killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_present(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal (it changed its user): still there
        return True
    return True


def reap_children(pgid: int) -> None:
    """Reap the group's members that are our children (orphans we adopted as subreaper).
    Only after the shell itself was reaped by asyncio, which waits for it by its pid."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass


_PR_SET_CHILD_SUBREAPER = 36


def subreaper(on: bool) -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def register(pgid: int) -> None:
    with _live_lock:
        _live.add(pgid)


def unregister(pgid: int) -> None:
    with _live_lock:
        _live.discard(pgid)
        last = not _live
    if last:
        subreaper(False)


class Pipe(asyncio.SubprocessProtocol):
    """The command's one output pipe and its exit, as they come (asyncio's public protocol):
    chunks wait here, at most ``PIPE_HIGH`` bytes before reading pauses, until taken."""

    def __init__(self) -> None:
        self.transport: asyncio.SubprocessTransport | None = None
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()  # end of the output (every writer closed the pipe)
        self.error: Exception | None = None
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._paused = False
        self._ready = asyncio.Event()

    @property
    def held(self) -> int:
        return self._held

    def connection_made(self, transport) -> None:
        self.transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._chunks.append(data)
        self._held += len(data)
        self._ready.set()
        if self._held >= PIPE_HIGH and not self._paused:
            self._pipe_reading(False)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.error = exc
            self.closed.set()
            self._ready.set()

    def process_exited(self) -> None:
        self.exited.set()

    async def read(self) -> bytes:
        """What has come since the last read; b"" at the end of the output."""
        while not self._chunks and not self.closed.is_set():
            self._ready.clear()
            await self._ready.wait()
        if not self._chunks and self.error is not None:
            raise OSError(f"reading the output: {self.error}")
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._held = 0
        if self._paused:
            self._pipe_reading(True)
        return data

    def _pipe_reading(self, on: bool) -> None:
        pipe = self.transport.get_pipe_transport(1) if self.transport else None
        if pipe is not None:
            reader = cast(asyncio.ReadTransport, pipe)  # fd 1: the child's stdout, a read pipe
            with contextlib.suppress(RuntimeError, AttributeError):
                reader.resume_reading() if on else reader.pause_reading()
        self._paused = not on
