"""What a scripted signal answers at scenario time ``t``: a pure function of (scenario,
signal, t), so a rehearsal replayed at any speed, or resumed, reads the same night.

Precedence at one moment: a hanging source (no answer at all), then garbage (an answer no
reading accepts), then a scripted gap (the source is down: an error), then the curve with the
value faults applied (a lag spike, a login drop, a help-desk surge), clamped and rounded.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cockpit.config.plan import Plan
from cockpit.rehearsal.scenario import (
    HelpdeskSurge,
    LagSpike,
    LoginDrop,
    Scenario,
    Script,
    SourceGarbage,
    SourceHang,
    fault_signals,
)


@dataclass(frozen=True)
class Answer:
    """One scripted answer: ``hang``, ``garbage`` text, an ``error``, or a ``value``."""

    value: float | bool | None = None
    error: str | None = None
    garbage: str | None = None
    hang: bool = False
    titles: tuple[str, ...] = ()


def curve(script: Script, t: float) -> float | bool:
    """The script's curve alone (no noise, faults or gaps)."""
    if script.constant is not None:
        return script.constant
    if script.ramp is not None:
        r = script.ramp
        if t <= r.start:
            return r.from_
        if t >= r.end:
            return r.to
        return r.from_ + (r.to - r.from_) * (t - r.start) / (r.end - r.start)
    assert script.step  # the model holds exactly one curve
    value = script.step[0].value
    for step in script.step:
        if step.at <= t:
            value = step.value
    return value


def _noise(script: Script, signal: str, t: float) -> float:
    if script.noise is None or script.noise.amplitude == 0:
        return 0.0
    rng = random.Random(f"{script.noise.seed}:{signal}:{t:.3f}")
    return script.noise.amplitude * rng.uniform(-1.0, 1.0)


def _spike_share(f: LagSpike, t: float) -> float:
    """How far toward its peak a lag spike is at ``t`` (0..1), its fall included."""
    if t < f.at:
        return 0.0
    end = f.end
    if end is not None and t >= end:
        if f.fall <= 0 or t >= end + f.fall:
            return 0.0
        return 1.0 - (t - end) / f.fall
    if f.rise <= 0:
        return 1.0
    return min(1.0, (t - f.at) / f.rise)


def _acting(f, t: float) -> bool:
    if isinstance(f, LagSpike):
        return _spike_share(f, t) > 0
    return f.active(t)


def answer(scenario: Scenario, plan: Plan, signal: str, t: float) -> Answer:
    """What ``signal`` answers at scenario time ``t`` (seconds since the rehearsal began)."""
    script = scenario.script_for(signal)
    faults = [f for f in scenario.faults if signal in fault_signals(f, plan) and _acting(f, t)]
    for f in faults:
        if isinstance(f, SourceHang):
            return Answer(hang=True)
    for f in faults:
        if isinstance(f, SourceGarbage):
            return Answer(garbage=f.answer)
    if script is None:
        return Answer(error="the scenario scripts no value for this signal")
    for gap in script.gaps:
        if gap.active(t):
            return Answer(error=gap.error)
    value = curve(script, t)
    titles = tuple(script.titles)
    if isinstance(value, bool):
        return Answer(value=value, titles=titles)
    value = float(value) + _noise(script, signal, t)
    for f in faults:
        if isinstance(f, LagSpike):
            value += max(0.0, f.peak - value) * _spike_share(f, t)
        elif isinstance(f, LoginDrop):
            value = f.value
        elif isinstance(f, HelpdeskSurge):
            share = 1.0 if f.rise <= 0 else min(1.0, (t - f.at) / f.rise)
            value += round(f.count * share)
            titles = (*f.titles, *titles)
    if script.minimum is not None:
        value = max(script.minimum, value)
    if script.maximum is not None:
        value = min(script.maximum, value)
    if not math.isfinite(value):  # huge scripted numbers can overflow: an error, never inf
        return Answer(error="the scripted value is not a finite number")
    value = round(value, script.decimals)
    if script.decimals == 0:
        value = int(value)
    return Answer(value=value, titles=titles[:20])
