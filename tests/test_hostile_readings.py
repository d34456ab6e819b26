"""Source answers are a trust boundary: whatever a source says, no false GO and no dead loop.

Every test here goes through real sources on loopback HTTP servers (or the engine's own loops
under a manual clock), so a wrong type, an overflowing number or a crash inside one round is
met where it happens in production.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.engine import Engine
from cockpit.gates import GateBook, GateState
from cockpit.signals.reading import Reading
from tests.fixtures.httpserver import HttpTestServer, Reply
from tests.test_gates_semantics import load


def http_plan(tmp_path: Path, url: str, *, gate: str = "p95_ms < 500") -> object:
    doc = {
        "version": 1,
        "cutover": {"id": "hostile", "name": "Hostile sources", "journal": "journal.jsonl",
                    "window": {"start": "2026-11-28T22:00:00Z", "end": "2026-11-29T06:00:00Z"}},
        "operators": {"roles": {"lead": {"confirm": ["*"]}}},
        "sources": {
            "portal": {"type": "http", "url": url, "timeout": "2s"},
            "desk": {"type": "helpdesk", "preset": "zendesk", "url": url, "timeout": "2s"},
        },
        "signals": {
            "p95_ms": {"source": "portal", "path": "/m", "json_path": "$.p95_ms",
                       "every": "10s", "timeout": "3s"},
            "tickets": {"source": "desk", "query": "type:ticket status:open",
                        "every": "10s", "timeout": "3s"},
        },
        "gates": {"fast": {"expr": gate, "max_staleness": "1m"},
                  "quiet": {"expr": "tickets < 25", "max_staleness": "1m"}},
        "runbook": {
            "phases": [{"id": "p", "title": "P", "steps": [
                {"id": "S1", "title": "Step", "owner": "lead", "planned": "5m"}]}],
            "rollback": {"phases": [{"id": "rb", "title": "Back", "steps": [
                {"id": "R1", "title": "Undo", "owner": "lead", "planned": "5m"}]}]},
        },
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan, _ = load_plan(path, for_run=True)
    return plan


async def until(engine: Engine, ready) -> None:
    """Until ``ready()`` holds after some engine update (real HTTP reads finish in real time
    while the manual clock stands still). The bound only turns a hang into a failure."""
    if ready():
        return
    event = asyncio.Event()
    stop = engine.subscribe(lambda: ready() and event.set())
    try:
        await asyncio.wait_for(event.wait(), 60)
    finally:
        stop()


def raw_json(server: HttpTestServer, path: str, body: str) -> None:
    server.route(path, Reply(200, body.encode(), {"Content-Type": "application/json"}))


@pytest.mark.parametrize("body, why", [
    ('{"p95_ms": false}', "expected a number, got false"),
    ('{"p95_ms": true}', "expected a number, got true"),
    ('{"p95_ms": "12"}', "is a string, not a number"),
    ('{"p95_ms": null}', "null, not a number"),
    ('{"p95_ms": [1]}', "a list, not a number"),
    ('{"p95_ms": NaN}', "not a finite number"),
    ('{"p95_ms": -Infinity}', "not a finite number"),
    ('{"p95_ms": 1e400}', "not a finite number"),
    ('{"p95_ms": -' + "9" * 400 + "}", "not a finite number"),
])
async def test_a_reading_of_the_wrong_type_is_unknown_never_a_value(tmp_path, http_server,
                                                                     body, why):
    raw_json(http_server, "/m", body)
    engine = Engine(http_plan(tmp_path, http_server.url), ManualClock())
    try:
        gates = await engine.poll_once(["p95_ms"])
    finally:
        await engine.stop()
    assert gates["fast"].state is GateState.UNKNOWN
    assert why in gates["fast"].reason and "\n" not in gates["fast"].reason


async def test_a_400_digit_ticket_count_is_an_error_and_the_loops_go_on(tmp_path, http_server):
    # Before: OverflowError inside the comparison killed the poll and tick loops, so the gates
    # kept their last state forever.
    counts = iter([3, 10**400, 10**400, 4])
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json({"count": next(counts)}))
    raw_json(http_server, "/m", '{"p95_ms": 100}')
    clock = ManualClock()
    engine = Engine(http_plan(tmp_path, http_server.url), clock, spread=False)
    reads = lambda: len(engine.history("tickets"))  # noqa: E731
    await engine.start()
    try:
        await until(engine, lambda: reads() == 1)
        assert engine.gates["quiet"].state is GateState.GO
        await clock.advance(10)
        await until(engine, lambda: reads() == 2)
        assert engine.gates["quiet"].state is GateState.UNKNOWN
        assert "out of range" in engine.gates["quiet"].reason
        for n in (3, 4):
            await clock.advance(10)
            await until(engine, lambda n=n: reads() == n)
        assert engine.gates["quiet"].state is GateState.GO  # the loop survived and read again
        assert not engine.failures
        # The tick still turns stale data UNKNOWN when the source stops answering.
        http_server.hang("/api/v2/search/count.json")
        for _ in range(70):
            await clock.advance(1)
        assert engine.gates["quiet"].state is GateState.UNKNOWN
    finally:
        await engine.stop()


async def test_a_failure_evaluating_one_gate_makes_only_that_gate_unknown(tmp_path, monkeypatch):
    # Fault injection: no reading can make the evaluator fail any more (Reading refuses bad
    # values), so a bug is simulated by making the evaluator raise for one gate.
    from cockpit import expr

    real = expr.evaluate

    def broken(node, values, units=None):
        if "tickets" in values:
            raise OverflowError("int too large to convert to float")
        return real(node, values, units)

    monkeypatch.setattr(expr, "evaluate", broken)
    plan = load(tmp_path, {"lag": {"every": "1s", "simulate": {"base": 1}},
                           "tickets": {"every": "1s", "simulate": {"base": 1}}},
                {"a": {"expr": "lag < 5"}, "b": {"expr": "tickets < 5"}})
    engine = Engine(plan, ManualClock())
    gates = await engine.poll_once()
    await engine.stop()
    assert gates["a"].state is GateState.GO
    assert gates["b"].state is GateState.UNKNOWN
    assert gates["b"].reason == ("gate could not be evaluated: OverflowError: int too large to "
                                 "convert to float")


class FailingClock(ManualClock):
    """A clock whose sleep breaks for one loop (by task name) after a number of sleeps: the
    only way left for an engine loop to end."""

    def __init__(self, loop: str, fail_after: int):
        super().__init__()
        self.loop, self.fail_after, self.calls = loop, fail_after, 0

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name() == self.loop:
            self.calls += 1
            if self.calls > self.fail_after:
                raise RuntimeError("clock broke")
        await super().sleep(seconds)


async def test_a_dead_tick_loop_turns_every_gate_unknown_and_says_why(tmp_path):
    plan = load(tmp_path, {"lag": {"every": "1m", "simulate": {"base": 1}}},
                {"a": {"expr": "lag < 5", "max_staleness": "2m"}})
    clock = FailingClock("gates:tick", fail_after=1)  # the tick runs once, then its sleep raises
    engine = Engine(plan, clock, spread=False)
    seen: list[tuple[str, str | None]] = []
    engine.on_gate_change = lambda new, old: seen.append((new.state.value, old and old.state.value))
    await engine.start()
    await clock.advance(0)
    assert engine.gates["a"].state is GateState.GO
    await clock.advance(1)  # the tick wakes, runs, and its next sleep raises
    await engine.stop()
    assert engine.gates["a"].state is GateState.UNKNOWN
    assert "gate evaluation stopped" in engine.gates["a"].reason
    assert "RuntimeError: clock broke" in engine.failures["gates:tick"]
    assert ("UNKNOWN", "GO") in seen
    # Nothing can bring it back to GO: a later poll is not evaluated into GO.
    await engine.poll_once()
    assert engine.gates["a"].state is GateState.UNKNOWN


async def test_a_dead_poll_loop_leaves_its_signal_an_error(tmp_path):
    plan = load(tmp_path, {"lag": {"every": "1m", "simulate": {"base": 1}}},
                {"a": {"expr": "lag < 5", "max_staleness": "10m"}})
    clock = FailingClock("poll:lag", fail_after=0)  # the poll loop's first sleep raises
    engine = Engine(plan, clock, spread=False, tick=3600)
    await engine.start()
    await clock.advance(0)
    await engine.stop()
    assert engine.gates["a"].state is GateState.UNKNOWN
    assert "polling stopped: RuntimeError: clock broke" in engine.gates["a"].reason


async def test_an_exception_escaping_a_read_is_one_reading_not_the_end(tmp_path, monkeypatch):
    plan = load(tmp_path, {"lag": {"every": "1s", "simulate": {"base": 1}}},
                {"a": {"expr": "lag < 5", "max_staleness": "10s"}})
    clock = ManualClock()
    engine = Engine(plan, clock, spread=False)
    real = engine.read
    calls = {"n": 0}

    async def flaky(name, signal):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("bug in a round")
        return await real(name, signal)

    monkeypatch.setattr(engine, "read", flaky)
    await engine.start()
    await clock.advance(0)
    await clock.advance(1)
    assert "poll failed: ValueError: bug in a round" in engine.gates["a"].reason
    await clock.advance(1)
    await engine.stop()
    assert engine.gates["a"].state is GateState.GO and not engine.failures


# -- windows are met by readings, not by the clock ------------------------------------------

async def test_hold_for_is_not_met_by_a_single_observation(tmp_path):
    # Before: one reading at t=0 made a `hold_for: 1m` gate GO at t=60s though nothing was
    # observed during the window (here the second read hangs until its timeout).
    plan = load(tmp_path, {"lag": {"every": "1m", "timeout": "30s", "simulate": {"base": 1}}},
                {"a": {"expr": "lag < 5", "hold_for": "1m", "max_staleness": "3m"}})
    clock = ManualClock()
    engine = Engine(plan, clock, spread=False)
    await engine.start()
    try:
        await clock.advance(0)
        engine.sources["sim"].set_override("lag", hang=True)
        for _ in range(89):
            await clock.advance(1)
            assert engine.gates["a"].state is GateState.HOLD, clock.monotonic()
        await clock.advance(1)  # the hung read times out: an error, not evidence
        assert engine.gates["a"].state is GateState.UNKNOWN
        engine.sources["sim"].set_override("lag", value=1)
        for _ in range(89):  # the next reading, at 120 s, opens a new window...
            await clock.advance(1)
            if clock.monotonic() >= 120:
                assert engine.gates["a"].state is GateState.HOLD, clock.monotonic()
        await clock.advance(1)  # ...and the one at 180 s, a minute later, meets it
        assert engine.gates["a"].state is GateState.GO
    finally:
        await engine.stop()


def test_a_gap_between_readings_restarts_the_window(tmp_path):
    plan = load(tmp_path, {"lag": {"every": "10s", "timeout": "5s"}},
                {"a": {"expr": "lag < 5", "hold_for": "30s", "max_staleness": "1m"}})
    clock = ManualClock()
    book = GateBook(plan, clock)
    latest: dict[str, Reading] = {}

    def read_at(dt: float) -> GateState:
        clock.advance_sync(dt)
        latest["lag"] = Reading("lag", clock.now(), clock.monotonic(), 1.0)
        book.update(latest)
        return book.statuses["a"].state

    assert read_at(0) is GateState.HOLD
    assert read_at(10) is GateState.HOLD
    assert read_at(20) is GateState.HOLD  # 16 s unobserved (> every + timeout): starts again
    assert book.statuses["a"].held_s == 0
    assert read_at(15) is GateState.HOLD
    assert read_at(15) is GateState.GO


# -- the property: no reading sequence makes a false GO --------------------------------------

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**500, max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)


def _expected(doc: object) -> bool:
    """Whether ``p95_ms < 500`` may be GO for this answer: a real, finite number below 500."""
    if not isinstance(doc, dict) or "p95_ms" not in doc:
        return False
    v = doc["p95_ms"]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, int) and abs(v) > 2**53:
        return False
    return math.isfinite(v) and v < 500


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=st.one_of(json_value, st.fixed_dictionaries({"p95_ms": json_value})))
async def test_any_json_answer_is_go_only_for_a_real_number_below_the_threshold(tmp_path, doc):
    with HttpTestServer() as server:
        try:
            body = json.dumps(doc)
        except (ValueError, OverflowError):
            return
        raw_json(server, "/m", body)
        engine = Engine(http_plan(tmp_path, server.url), ManualClock())
        try:
            gates = await engine.poll_once(["p95_ms"])
        finally:
            await engine.stop()
    status = gates["fast"]
    assert status.passes() == _expected(doc), (body[:200], status.reason)
    if not status.passes():
        assert status.state in (GateState.NO_GO, GateState.UNKNOWN)
    assert "\n" not in status.reason and "\x1b" not in status.reason


reading_value = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                          st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(min_value=0, max_value=10), st.text(max_size=3))
event = st.tuples(st.floats(min_value=0, max_value=40), st.booleans(), reading_value)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, max_size=40))
def test_go_only_with_fresh_valid_readings_covering_the_window(tmp_path, events):
    """Soundness of GateBook: whenever it says GO for ``lag < 5`` held 30s (every 10s, timeout
    5s, max_staleness 20s), the readings it saw justify it: a chain of valid, true readings,
    gaps of at most 15 s, spanning at least 30 s, the newest one fresh."""
    plan = load(tmp_path, {"lag": {"every": "10s", "timeout": "5s"}},
                {"a": {"expr": "lag < 5", "hold_for": "30s", "max_staleness": "20s"}})
    clock = ManualClock()
    book = GateBook(plan, clock)
    latest: dict[str, Reading] = {}
    history: list[Reading] = []
    for dt, is_reading, value in events:
        clock.advance_sync(dt)
        if is_reading:
            latest["lag"] = Reading("lag", clock.now(), clock.monotonic(), value)
            history.append(latest["lag"])
        book.update(latest)
        if book.statuses["a"].state is not GateState.GO:
            continue
        now = clock.monotonic()
        assert history and now - history[-1].mono <= 20
        chain_end = history[-1].mono
        span = 0.0
        previous = None
        for r in reversed(history):
            good = (r.error is None and not isinstance(r.value, bool)
                    and isinstance(r.value, (int, float)) and r.value < 5)
            if not good or (previous is not None and previous - r.mono > 15):
                break
            span = chain_end - r.mono
            previous = r.mono
        assert span >= 30, (span, [(r.mono, r.value) for r in history])
