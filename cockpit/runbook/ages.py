"""The age of evidence that carries only a wall timestamp, measured on the monotonic clock.

A reconciliation run is a journal entry with a wall time (``ts``). Its age must not be
``now - ts`` on the wall clock: after the wall clock steps back (NTP correcting, a VM resumed)
an hour-old run would read as age 0 and its gate would go from UNKNOWN back to GO. So each
timestamp is anchored once, when this process first sees it: its monotonic time is taken as
"monotonic now minus its wall age now", and from then on it ages with the monotonic clock
whatever the wall clock does. A timestamp already in the future when first seen (the wall
clock stepped back after it was written, more than ``FUTURE_TOLERANCE_S`` ago) has no age we
can trust: it is reported as such, so gates over it are UNKNOWN, never fresher than the truth.
"""

from __future__ import annotations

from cockpit.clock import Clock

FUTURE_TOLERANCE_S = 2.0
# Anchors kept; older ones are dropped first (evidence superseded long ago).
MAX_ANCHORS = 4096


class Ages:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._anchors: dict[float, float | None] = {}

    def mono_of(self, ts: float) -> float | None:
        """The monotonic time of the wall timestamp ``ts``; None when it cannot be trusted."""
        if ts not in self._anchors:
            if len(self._anchors) >= MAX_ANCHORS:
                self._anchors.pop(next(iter(self._anchors)))
            wall_age = self.clock.now() - ts
            self._anchors[ts] = (None if wall_age < -FUTURE_TOLERANCE_S
                                 else self.clock.monotonic() - max(0.0, wall_age))
        return self._anchors[ts]

    def age_of(self, ts: float) -> float | None:
        mono = self.mono_of(ts)
        return None if mono is None else max(0.0, self.clock.monotonic() - mono)
