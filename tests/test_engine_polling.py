"""The engine with the simulated source under a manual clock: schedules, timeouts, history."""

from __future__ import annotations

import asyncio

import pytest

from cockpit.clock import ManualClock
from cockpit.engine import Engine
from cockpit.gates import GateState
from cockpit.signals.reading import Reading
from cockpit.signals.simulated import SimulatedSource
from tests.test_gates_semantics import load


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


SIGNALS = {
    "lag": {"every": "1s", "timeout": "3s", "history": 10,
            "simulate": {"base": 1.0, "noise": 0.5, "minimum": 0}},
    "rate": {"every": "1s", "timeout": "3s", "simulate": {"base": 0.99}},
    "tickets": {"every": "2s", "timeout": "1s", "simulate": {"base": 3}},
}
GATES = {
    "caught_up": {"expr": "lag < 5", "hold_for": "10s", "max_staleness": "5s"},
    "clinical": {"expr": "rate >= 0.98 and tickets < 5", "max_staleness": "10s"},
}


async def started(engine: Engine, clock: ManualClock) -> Engine:
    await engine.start()
    await clock.advance(0)  # let the first polls run at t=0
    return engine


async def test_hung_signal_times_out_without_delaying_the_others(tmp_path, clock):
    engine = Engine(load(tmp_path, SIGNALS, GATES), clock, spread=False)
    sim = engine.sources["sim"]
    assert isinstance(sim, SimulatedSource)
    sim.set_override("lag", hang=True)
    await started(engine, clock)
    for _ in range(20):
        await clock.advance(1)

    rate_times = [r.mono for r in engine.history("rate")]
    assert rate_times == [float(t) for t in range(21)]
    assert [r.mono for r in engine.history("tickets")] == [float(t) for t in range(0, 21, 2)]
    assert all(r.ok for r in engine.history("rate"))

    lag = engine.history("lag")
    # Each hung read ends at its timeout; the next one is armed a full interval later.
    assert [r.mono for r in lag] == [3.0, 7.0, 11.0, 15.0, 19.0]
    assert all(r.error == "timed out after 3s (timeout: 3s)" for r in lag)
    assert lag[0].latency_ms == pytest.approx(3000)
    assert engine.gates["caught_up"].state is GateState.UNKNOWN
    assert engine.gates["caught_up"].reason == "lag: timed out after 3s (timeout: 3s)"
    assert engine.gates["clinical"].state is GateState.GO
    assert max(engine.lateness.values()) == 0.0
    await engine.stop()


async def test_polls_after_the_first_are_spread_over_the_interval(tmp_path, clock):
    signals = {f"s{i}": {"every": "10s", "timeout": "3s", "simulate": {"base": i}}
               for i in range(20)}
    engine = Engine(load(tmp_path, signals, {}), clock)
    engine.sources["sim"].set_override("s0", hang=True)
    await started(engine, clock)
    for _ in range(60):
        await clock.advance(0.5)
    phases = set()
    for i in range(1, 20):
        name = f"s{i}"
        phase = engine.phase(name, 10.0)
        assert 0 <= phase < 10
        phases.add(round(phase, 3))
        times = [r.mono for r in engine.history(name)]
        assert times == [0.0, 10 + phase, 20 + phase]  # everyone reads at start, then on phase
    assert len(phases) == 19
    assert max(engine.lateness[f"s{i}"] for i in range(1, 20)) == 0.0
    assert engine.phase("s1", 10.0) == Engine(engine.plan, clock).phase("s1", 10.0)  # stable
    await engine.stop()


async def test_hang_recovers_when_the_source_answers_again(tmp_path, clock):
    engine = Engine(load(tmp_path, SIGNALS, GATES), clock, spread=False)
    engine.sources["sim"].set_override("lag", hang=True)
    await started(engine, clock)
    await clock.advance(3.5)  # the read started at 0 timed out at 3; the next is due at 4
    engine.sources["sim"].clear_override("lag")
    await clock.advance(4.5)
    assert [r.mono for r in engine.history("lag")] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert engine.gates["caught_up"].label() == "HOLD 4s/10s"
    await clock.advance(5)
    assert engine.gates["caught_up"].label() == "HOLD 9s/10s"
    await clock.advance(1)
    assert engine.gates["caught_up"].state is GateState.GO
    await engine.stop()


async def test_history_is_bounded_and_oldest_first(tmp_path, clock):
    engine = await started(Engine(load(tmp_path, SIGNALS, GATES), clock, spread=False), clock)
    for _ in range(50):
        await clock.advance(1)
    lag = engine.history("lag")
    assert len(lag) == 10
    assert [r.mono for r in lag] == [float(t) for t in range(41, 51)]
    assert len(engine.history("rate")) == 51  # default history (720) not reached
    assert engine.history("nope") == ()
    # Nothing else grows with time: one task per signal plus the tick.
    assert len(engine._tasks) == len(SIGNALS) + 1
    await engine.stop()
    assert all(t.done() for t in asyncio.all_tasks() if t.get_name().startswith("poll:"))


async def test_gate_change_reported_once_per_change_and_subscribers_called(tmp_path, clock):
    changes: list[tuple[str, str, str | None]] = []
    engine = Engine(load(tmp_path, SIGNALS, GATES), clock, spread=False,
                    on_gate_change=lambda new, old: changes.append(
                        (new.gate, new.label(), old.label() if old else None)))
    calls = []
    unsubscribe = engine.subscribe(lambda: calls.append(clock.monotonic()))
    await started(engine, clock)
    for _ in range(12):
        await clock.advance(1)
    assert changes == [
        ("caught_up", "UNKNOWN", None),
        ("clinical", "UNKNOWN", None),
        ("caught_up", "HOLD 0s/10s", "UNKNOWN"),
        ("clinical", "GO", "UNKNOWN"),
        ("caught_up", "GO", "HOLD 9s/10s"),
    ]
    engine.sources["sim"].set_override("lag", value=7.2)
    await clock.advance(1)
    assert changes[-1] == ("caught_up", "NO-GO", "GO")
    assert engine.gates["caught_up"].reason == "lag 7.2, needs < 5"
    await clock.advance(3)
    assert len(changes) == 6  # NO-GO -> NO-GO is no change

    # One call per reading (3 at t=0, then 2 or 3 per second) plus one per tick.
    assert calls.count(0.0) == 3
    assert calls.count(2.0) == 3 + 1
    assert calls.count(3.0) == 2 + 1
    unsubscribe()
    before = len(calls)
    await clock.advance(2)
    assert len(calls) == before
    await engine.stop()


async def test_tick_turns_gates_unknown_when_a_source_stops_answering(tmp_path, clock):
    signals = {"lag": {"every": "10s", "timeout": "1m", "simulate": {"base": 1.0}}}
    gates = {"caught_up": {"expr": "lag < 5", "max_staleness": "15s"}}
    engine = await started(Engine(load(tmp_path, signals, gates), clock), clock)
    assert engine.gates["caught_up"].state is GateState.GO
    engine.sources["sim"].set_override("lag", hang=True)
    await clock.advance(15)
    assert engine.gates["caught_up"].state is GateState.GO  # the t=0 reading is 15 s old
    await clock.advance(1)
    status = engine.gates["caught_up"]
    assert status.state is GateState.UNKNOWN and status.reason == "lag stale for 16s"
    await engine.stop()


async def test_poll_once_reads_concurrently_bounded_by_the_longest_timeout(tmp_path, clock):
    engine = Engine(load(tmp_path, SIGNALS, GATES), clock, spread=False)
    engine.sources["sim"].set_override("lag", hang=True)
    engine.sources["sim"].set_override("tickets", delay=0.5, value=2)
    task = asyncio.create_task(engine.poll_once())
    await clock.advance(0)
    await clock.advance(2.9)
    assert not task.done()
    assert engine.latest == {}  # readings are stored together, after the slowest
    await clock.advance(0.1)
    gates = await asyncio.wait_for(task, 5)
    assert engine.latest["lag"].error == "timed out after 3s (timeout: 3s)"
    assert engine.latest["rate"].mono == 0.0
    assert engine.latest["tickets"].mono == 0.5 and engine.latest["tickets"].value == 2
    assert gates["clinical"].state is GateState.GO
    assert gates["caught_up"].state is GateState.UNKNOWN
    await engine.stop()


async def test_builtin_readings_are_merged_at_each_evaluation(tmp_path, clock):
    signals = {"rate": {"every": "1s", "simulate": {"base": 0.99}}}
    gates = {"recon_clean": {"expr": "recon.mismatched_rows == 0", "max_staleness": "30m",
                             "settle": "0s"},
             "clinical": {"expr": "rate >= 0.98", "max_staleness": "10s"}}
    mismatched = {"n": 3.0}

    def builtin():
        return {"recon.mismatched_rows": Reading("recon.mismatched_rows", clock.now(),
                                                 clock.monotonic(), value=mismatched["n"])}

    engine = await started(Engine(load(tmp_path, signals, gates), clock, builtin=builtin), clock)
    assert engine.gates["recon_clean"].reason == "recon.mismatched_rows 3, needs = 0"
    mismatched["n"] = 0.0
    await clock.advance(1)
    assert engine.gates["recon_clean"].state is GateState.GO
    assert "recon.mismatched_rows" not in engine.latest  # builtins are not polled signals
    await engine.stop()


async def test_a_source_that_breaks_its_contract_is_contained(tmp_path, clock):
    class Broken(SimulatedSource):
        async def read(self, signal_name, signal):  # skips the base class's guard on purpose
            if signal_name == "rate":
                raise RuntimeError("boom")
            if signal_name == "tickets":
                return "not a reading"
            return await super().read(signal_name, signal)

    plan = load(tmp_path, SIGNALS, GATES)
    engine = Engine(plan, clock, sources={"sim": Broken("sim", plan.sources["sim"], clock)})
    await engine.poll_once()
    assert engine.latest["rate"].error == "RuntimeError: boom"
    assert engine.latest["tickets"].error == "source returned a bad reading"
    assert engine.latest["lag"].ok
    await engine.stop()


async def test_signal_whose_source_has_no_client_reads_as_an_error(tmp_path, clock):
    plan = load(tmp_path, SIGNALS, GATES)
    engine = Engine(plan, clock, sources={})
    await engine.poll_once(["rate"])
    assert engine.latest == {"rate": engine.latest["rate"]}
    assert engine.latest["rate"].error == "source 'sim' is not configured"


async def test_failing_callbacks_do_not_stop_polling(tmp_path, clock):
    def bad_change(new, old):
        raise ValueError("view bug")

    engine = Engine(load(tmp_path, SIGNALS, GATES), clock, on_gate_change=bad_change, spread=False)
    engine.subscribe(lambda: 1 / 0)
    await started(engine, clock)
    await clock.advance(3)
    assert engine.latest["rate"].mono == 3.0
    await engine.stop()


async def test_memory_stays_flat_over_a_simulated_day(tmp_path, clock):
    import gc

    signals = {"lag": {"every": "10s", "timeout": "3s", "history": 50, "simulate": {"base": 1}},
               "hung": {"every": "30s", "timeout": "3s", "simulate": {"base": 1}}}
    gates = {"caught_up": {"expr": "lag < 5 and hung < 5", "max_staleness": "1m"}}
    engine = Engine(load(tmp_path, signals, gates), clock, tick=60.0)
    engine.sources["sim"].set_override("hung", hang=True)
    await started(engine, clock)

    async def hours(n: int) -> None:
        for _ in range(n * 60):
            await clock.advance(60)

    def live() -> dict[str, int]:
        # Count the kinds of objects a leak would pile up, not every object in the process:
        # other tests' leftovers (server threads, caches) must not make this flaky.
        gc.collect()
        counts = {"readings": 0, "futures": 0, "tasks": 0}
        for obj in gc.get_objects():
            if isinstance(obj, Reading):
                counts["readings"] += 1
            elif isinstance(obj, asyncio.Task):
                counts["tasks"] += 1
            elif isinstance(obj, asyncio.Future):
                counts["futures"] += 1
        return counts

    await hours(8)  # every history is full by now (the hung one after about 6.6 h)
    at_8h = live()
    await hours(16)
    at_24h = live()
    assert len(engine.history("lag")) == 50 and engine.history("lag")[-1].mono > 86400 - 10
    assert len(engine.history("hung")) == 720  # its default bound
    for kind, count in at_24h.items():
        assert count <= at_8h[kind] + 5, f"{kind}: {at_8h[kind]} at 8h, {count} at 24h"
    assert len(clock._sleepers) <= 4
    await engine.stop()
