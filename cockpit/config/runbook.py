"""The runbook: phases of steps, and the separate rollback runbook."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from cockpit.config.base import Duration, Ident, Strict, within

# What every step command gets without asking (cockpit.runbook.commands builds it); nothing in
# it is a credential. A plan may not declare these in ``env``: they are given anyway, and a
# declared value is redacted from the output as a secret (a home folder never is one).
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
            "TERM")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name: letters, digits "
                         "and '_', not starting with a digit")
    if value in BASE_ENV:
        raise ValueError(f"{value!r} is always given to step commands: do not declare it in env")
    return value


def _distinct(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{name!r} is declared twice")
        seen.add(name)
    return names


EnvName = Annotated[str, AfterValidator(_env_name)]
# The variables passed through from the cockpit's environment to a step's commands; nothing
# else of it is. Their values count as secrets (redacted from the output and the screen).
EnvNames = Annotated[list[EnvName], AfterValidator(_distinct)]


class Step(Strict):
    id: Ident
    title: str
    owner: str
    description: str = ""
    run: list[str] = []
    run_timeout: Annotated[Duration, within("1s", "24h")] = 900.0
    """The whole of the step's commands, after which the group is killed: 1s to 24h."""
    env: EnvNames = []
    requires: list[str] = []
    planned: Duration
    critical: bool = False
    kind: Literal["task", "decision"] = "task"
    parallel: bool = False
    two_person: bool = False
    """A second person approves the step (confirm or skip) from their own cockpit."""

    @model_validator(mode="after")
    def _two_person_is_for_tasks(self) -> Step:
        # A decision is recorded by one person with the decide permission; a flag the cockpit
        # would not enforce must not be written as if it were.
        if self.two_person and self.kind == "decision":
            raise ValueError(f"{self.id}: two_person applies to task steps; a decision is "
                             "recorded by one person whose role may decide")
        return self


class Phase(Strict):
    id: Ident
    title: str
    steps: list[Step] = Field(min_length=1)
    starts_clock: bool = False


class RollbackPhase(Phase):
    """A rollback phase; ``part`` says which half of the rollback drill it times (``cockpit
    timings``): ``transport`` (switching traffic and services back) or ``data`` (bringing the
    data back). Unset, it is ``data`` when the phase id contains "data", else ``transport``."""

    part: Literal["transport", "data"] | None = None

    @property
    def drill_part(self) -> Literal["transport", "data"]:
        if self.part is not None:
            return self.part
        return "data" if "data" in self.id.lower() else "transport"


class Rollback(Strict):
    phases: list[RollbackPhase] = Field(min_length=1)
    two_person: bool = False
    """Starting the rollback needs a second person's approval, from their own cockpit."""


class Runbook(Strict):
    phases: list[Phase] = Field(min_length=1)
    rollback: Rollback
    env: EnvNames = []  # passed to every step's commands (rollback steps too)

    def all_steps(self) -> list[Step]:
        return [s for p in self.phases for s in p.steps]

    def rollback_steps(self) -> list[Step]:
        return [s for p in self.rollback.phases for s in p.steps]

    def step(self, step_id: str) -> Step | None:
        for s in self.all_steps() + self.rollback_steps():
            if s.id == step_id:
                return s
        return None

    def env_for(self, step: Step) -> list[str]:
        """The variables ``step``'s commands get from the cockpit's environment."""
        return list(dict.fromkeys([*self.env, *step.env]))

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


def env_declarations(data: Any) -> Iterator[tuple[tuple, str]]:
    """(YAML path, name) of every well-formed variable name an ``env`` list in the raw plan
    data declares: the loader takes their values as secrets, as it does ``${VAR}``."""
    runbook = data.get("runbook") if isinstance(data, dict) else None
    if not isinstance(runbook, dict):
        return
    yield from _names(runbook.get("env"), ("runbook", "env"))
    books: list[tuple[tuple[str, ...], dict]] = [(("runbook",), runbook)]
    if isinstance(runbook.get("rollback"), dict):
        books.append((("runbook", "rollback"), runbook["rollback"]))
    for where, book in books:
        phases = book.get("phases")
        for i, phase in enumerate(phases if isinstance(phases, list) else []):
            steps = phase.get("steps") if isinstance(phase, dict) else None
            for j, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict):
                    yield from _names(step.get("env"), (*where, "phases", i, "steps", j, "env"))


def _names(value: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    for k, name in enumerate(value if isinstance(value, list) else []):
        if isinstance(name, str) and _ENV_NAME.match(name) and name not in BASE_ENV:
            yield (*path, k), name
