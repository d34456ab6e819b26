"""A rehearsal in progress: what the cockpit's view reads (the header's "REHEARSAL 10x", the
scenario's time, the scripted reconciliation ``R`` runs) and what starts its fault journal.

Scenario time ``t`` is the wall time of the rehearsal clock minus the wall time of the
journal's ``rehearsal.start`` entry (``origin``); a resumed rehearsal's clock starts at the wall
time of the journal's last entry, so ``t`` continues where the journal ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.clock import Clock
from cockpit.recon.runner import ReconReport
from cockpit.rehearsal.recon import ProgressFn, simulate_reconciliation
from cockpit.rehearsal.scenario import ReconScript, Scenario


@dataclass
class Rehearsal:
    scenario: Scenario
    sha256: str  # of the scenario file's bytes
    speed: float
    clock: Clock
    path: Path | None = None  # the scenario file
    # Wall time of the journal's rehearsal.start; None until it is written (a new journal).
    origin: float | None = None
    resumed: bool = False

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def marker(self) -> str:
        """What the header shows at all times: ``REHEARSAL 10x``."""
        return f"REHEARSAL {self.speed:g}x"

    @property
    def recon(self) -> ReconScript | None:
        """The scripted reconciliation, or None: the scenario scripts none."""
        return self.scenario.reconciliation

    def scenario_time(self) -> float:
        """Seconds of scenario time now (0 before ``rehearsal.start`` is written)."""
        if self.origin is None:
            return 0.0
        return max(0.0, self.clock.now() - self.origin)

    @property
    def ended(self) -> bool:
        """Scenario time has passed the scenario's ``duration`` (never, without one): the
        scripts hold their last values from then on."""
        d = self.scenario.duration
        return d is not None and self.scenario_time() >= d

    def active_faults(self, t: float | None = None) -> list:
        """Faults acting at ``t`` (default now), in the scenario's order."""
        t = self.scenario_time() if t is None else t
        return [f for f in self.scenario.faults if f.active(t)]

    async def reconcile(self, plan, *, progress: ProgressFn | None = None, cancel=None) -> ReconReport:
        """The scripted reconciliation at the current scenario time (``R`` in a rehearsal);
        ``ReconInputError`` when the scenario scripts none."""
        return await simulate_reconciliation(plan, self.scenario, self.clock, progress=progress,
                                             cancel=cancel, t=self.scenario_time())
