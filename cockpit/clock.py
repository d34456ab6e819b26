"""One clock object drives polling, windows and timers (PRODUCT: time is injected).

``RealClock`` for operations, ``ManualClock`` for deterministic tests, ``ScaledClock`` for
rehearsals run faster than real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    """Wall time (``now``, Unix seconds) and interval time (``monotonic``), plus ``sleep``."""

    def now(self) -> float:
        raise NotImplementedError

    def monotonic(self) -> float:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)


class RealClock(Clock):
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock(Clock):
    """Runs ``speed`` times faster than real time from a chosen start (rehearsals)."""

    def __init__(self, speed: float = 1.0, start: float | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._real0 = time.monotonic()
        self._wall0 = time.time() if start is None else start

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def now(self) -> float:
        return self._wall0 + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock(Clock):
    """Time moves only when a test calls :meth:`advance`; sleepers wake in deadline order."""

    def __init__(self, start: float = 1_800_000_000.0):
        self._now = float(start)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._counter = 0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def set_wall(self, wall: float) -> None:
        """Move only the wall clock (e.g. backwards, to test clock-sanity warnings)."""
        self._now = float(wall)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        self._counter += 1
        self._sleepers.append((self._mono + seconds, self._counter, fut))
        self._sleepers.sort(key=lambda s: (s[0], s[1]))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passes, in order."""
        target = self._mono + seconds
        while True:
            due = [s for s in self._sleepers if s[0] <= target and not s[2].done()]
            if not due:
                break
            deadline, _, fut = due[0]
            self._sleepers.remove(due[0])
            step = deadline - self._mono
            self._mono = deadline
            self._now += step
            fut.set_result(None)
            # Let woken tasks run (and schedule their next sleep) before time moves on.
            for _ in range(5):
                await asyncio.sleep(0)
        self._sleepers = [s for s in self._sleepers if not s[2].done()]
        self._now += target - self._mono
        self._mono = target
        for _ in range(5):
            await asyncio.sleep(0)

    def advance_sync(self, seconds: float) -> None:
        """For code without sleepers (pure gate evaluation tests)."""
        self._mono += seconds
        self._now += seconds
