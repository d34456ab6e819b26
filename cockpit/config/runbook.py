"""The runbook: phases of steps, and the separate rollback runbook."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cockpit.config.base import Duration, Ident, Strict


class Step(Strict):
    id: Ident
    title: str
    owner: str
    description: str = ""
    run: list[str] = []
    run_timeout: Duration = 900.0
    requires: list[str] = []
    planned: Duration
    critical: bool = False
    kind: Literal["task", "decision"] = "task"
    parallel: bool = False
    second_operator: bool = False


class Phase(Strict):
    id: Ident
    title: str
    steps: list[Step] = Field(min_length=1)
    starts_clock: bool = False


class Rollback(Strict):
    phases: list[Phase] = Field(min_length=1)


class Runbook(Strict):
    phases: list[Phase] = Field(min_length=1)
    rollback: Rollback

    def all_steps(self) -> list[Step]:
        return [s for p in self.phases for s in p.steps]

    def rollback_steps(self) -> list[Step]:
        return [s for p in self.rollback.phases for s in p.steps]

    def step(self, step_id: str) -> Step | None:
        for s in self.all_steps() + self.rollback_steps():
            if s.id == step_id:
                return s
        return None

    def phase_of(self, step_id: str) -> Phase | None:
        for p in self.phases + self.rollback.phases:
            if any(s.id == step_id for s in p.steps):
                return p
        return None

    def clock_phase(self) -> Phase | None:
        """The phase whose first step starts the cutover clock (``starts_clock`` or ``during``)."""
        marked = [p for p in self.phases if p.starts_clock]
        if marked:
            return marked[0]
        return next((p for p in self.phases if p.id == "during"), None)
