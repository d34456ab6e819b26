"""The plan of a rehearsal: a source the scenario replaces is never contacted, so the
``${VAR}``s only it uses are not demanded (a game day runs on a laptop without the night's
secrets); every other variable is demanded as ``cockpit run`` would."""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.config.loader import load_plan
from cockpit.config.plan import Plan, Window

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _vars(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_VAR.findall(value))
    if isinstance(value, dict):
        return set().union(*(_vars(k) | _vars(v) for k, v in value.items())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_vars(v) for v in value)) if value else set()
    return set()


def replaced_only_vars(plan: Plan, replaces: Iterable[str]) -> set[str]:
    """Variables left unset (still written ``${VAR}``) that only replaced sources use."""
    data = plan.model_dump(by_alias=True)
    sources = data.pop("sources", {}) or {}
    replaced = set(replaces)
    inside = set().union(*(_vars(cfg) for n, cfg in sources.items() if n in replaced)) if sources else set()
    outside = _vars(data) | (set().union(*(_vars(cfg) for n, cfg in sources.items() if n not in replaced))
                             if sources else set())
    return inside - outside


def load_rehearsal_plan(path: str | os.PathLike, replaces: Iterable[str],
                        env: Mapping[str, str] | None = None, *,
                        unchecked: Plan | None = None) -> tuple[Plan, list[str]]:
    """``load_plan(for_run=True)``, except for the variables of replaced sources (filled
    with an empty value: never sent anywhere). Raises ``PlanError`` like ``load_plan``.
    ``unchecked``: the plan already loaded with ``for_run=False`` (saves reading it twice)."""
    env = os.environ if env is None else env
    first = unchecked if unchecked is not None else load_plan(path, for_run=False, env=env)[0]
    fill = replaced_only_vars(first, replaces)
    return load_plan(path, for_run=True, env=ChainMap(dict.fromkeys(fill, ""), dict(env)))


def on_rehearsal_clock(plan: Plan, origin: float, opens_at: float = 0.0,
                       length_s: float | None = None) -> Plan:
    """The plan with its cutover window moved (same length, or ``length_s``) to open
    ``opens_at`` seconds of scenario time after ``origin`` (the rehearsal's start, the wall
    time of its ``rehearsal.start``; the same on every resume, so a restart shows the same
    night)."""
    w = plan.cutover.window
    start = datetime.fromtimestamp(origin + opens_at, UTC).replace(microsecond=0)
    length = w.end - w.start if length_s is None else timedelta(seconds=length_s)
    window = Window(start=start, end=start + length)
    # model_copy keeps the private attributes: the plan's path and its secrets. A rehearsal
    # journals to its own file, never into the night's shared journal (its table).
    return plan.model_copy(update={"cutover": plan.cutover.model_copy(
        update={"window": window, "shared_journal": None})})
