"""The simulated source: deterministic curves from the clock, and injectable faults."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.clock import ManualClock
from cockpit.signals.loaders import make_source
from cockpit.signals.simulated import SimulatedSource
from tests.test_gates_semantics import load

SIGNALS = {
    "lag": {"simulate": {"base": 2.0, "noise": 1.0, "minimum": 0, "maximum": 2.5}},
    "drift": {"simulate": {"base": 10.0, "drift_per_min": 2.0}},
    "up": {"simulate": {"base": 1.0, "boolean": True}},
    "down": {"simulate": {"base": 0.2, "boolean": True}},
    "tickets": {"simulate": {"base": 4, "titles": ["Cannot open chart\x1b[2J",
                                                                  "Slow login", "Third"]}},
    "flat": {},
}


def source(tmp_path, clock, seed=7, redact=lambda s: s):
    plan = load(tmp_path, SIGNALS, {})
    src = make_source("sim", plan.sources["sim"].model_copy(update={"seed": seed}), clock, redact)
    assert isinstance(src, SimulatedSource)
    return plan, src


async def values(src, plan, name, clock, steps=20, every=5.0):
    out = []
    for _ in range(steps):
        out.append((await src.read(name, plan.signals[name])).value)
        clock.advance_sync(every)
    return out


async def test_same_seed_same_curve_other_seed_other_curve(tmp_path):
    plan, a = source(tmp_path, ManualClock())
    _, b = source(tmp_path, ManualClock())
    _, c = source(tmp_path, ManualClock(), seed=8)
    va = await values(a, plan, "lag", a.clock)
    assert va == await values(b, plan, "lag", b.clock)
    assert va != await values(c, plan, "lag", c.clock)
    assert len(set(va)) > 5  # it is noisy, not constant
    assert all(0 <= v <= 2.5 for v in va)  # clamped
    assert max(va) == 2.5


async def test_value_depends_on_time_not_on_how_often_it_is_read(tmp_path):
    clock = ManualClock()
    plan, src = source(tmp_path, clock)
    clock.advance_sync(30)
    first = (await src.read("lag", plan.signals["lag"])).value
    assert (await src.read("lag", plan.signals["lag"])).value == first


async def test_drift_boolean_titles_and_default(tmp_path):
    clock = ManualClock()
    plan, src = source(tmp_path, clock)
    clock.advance_sync(90)
    assert (await src.read("drift", plan.signals["drift"])).value == pytest.approx(13.0)
    assert (await src.read("up", plan.signals["up"])).value is True
    assert (await src.read("down", plan.signals["down"])).value is False
    tickets = await src.read("tickets", plan.signals["tickets"])
    assert tickets.value == 4 and tickets.detail == ("Cannot open chart", "Slow login", "Third")
    flat = await src.read("flat", plan.signals["flat"])
    assert flat.value == 0 and flat.ok
    assert tickets.ts == clock.now() and tickets.mono == 90


async def test_overrides_value_error_delay_and_clear(tmp_path):
    clock = ManualClock()
    plan, src = source(tmp_path, clock, redact=lambda s: s.replace("hunter2", "***"))
    src.set_override("lag", value=7.2)
    assert (await src.read("lag", plan.signals["lag"])).value == 7.2
    src.set_override("lag", error="connection refused password=hunter2\nretry")
    reading = await src.read("lag", plan.signals["lag"])
    assert not reading.ok and reading.error == "connection refused password=*** retry"
    src.set_override("up", value=False, delay=2.0)
    task = asyncio.create_task(src.read("up", plan.signals["up"]))
    await clock.advance(0)
    await clock.advance(1.5)
    assert not task.done()
    await clock.advance(0.5)
    reading = await task
    assert reading.value is False and reading.latency_ms == pytest.approx(2000)
    src.clear_override("lag")
    assert (await src.read("lag", plan.signals["lag"])).ok
    src.set_override("drift", value=1)
    src.clear_override()
    assert src.overrides == {}


async def test_hang_never_answers_until_cancelled(tmp_path):
    clock = ManualClock()
    plan, src = source(tmp_path, clock)
    src.set_override("lag", hang=True)
    task = asyncio.create_task(src.read("lag", plan.signals["lag"]))
    await clock.advance(0)
    await clock.advance(3600)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
