"""The recorder fills the history beside the journal through a real session (real HTTP sources
on loopback, the real engine, a manual clock); a read-only watcher writes none; a history that
cannot be opened or written never stops the cockpit; a rehearsal records on its own clock."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from cockpit.clock import ManualClock
from cockpit.commands.rehearse import prepare
from cockpit.gates import GateState
from cockpit.history.store import History, history_path
from cockpit.journal import Journal
from cockpit.session import open_session
from tests.fixtures.httpserver import Reply
from tests.scenario_support import plan_copy
from tests.test_cli_newcomer import _demo, _demo_journal, launched  # noqa: F401 - a fixture
from tests.test_hostile_readings import http_plan, until
from tests.test_rehearse_journal import _args, _start

T0 = 1_800_000_000.0


async def _wait_for(condition, deadline_s: float = 60.0) -> None:
    """Until ``condition()`` holds (the history thread writes in real time); the deadline only
    turns a hang into a failure."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        await asyncio.sleep(0.01)


async def _polled(engine, t: float) -> None:
    """Until every signal has made the polls due by ``t`` seconds of the session clock: the
    first at 0, then every 10 s after its phase (``Engine.phase``)."""
    for name in ("p95_ms", "tickets"):
        offset = engine.phase(name, 10.0)
        due = 1 + (int((t - offset) // 10) if t >= 10 + offset else 0)
        await until(engine, lambda name=name, due=due: len(engine.history(name)) >= due)


def _stored(path) -> History | None:
    try:
        return History.open(path, readonly=True)
    except Exception:  # noqa: BLE001 - not there yet
        return None


async def test_a_cockpit_session_fills_the_history_beside_its_journal(tmp_path, http_server):
    p95 = itertools.cycle([100, 250, 900, 120, 700, 80])
    http_server.route("/m", lambda req: Reply.json({"p95_ms": next(p95)}))
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json({"count": 3}))
    plan = http_plan(tmp_path, http_server.url)
    clock = ManualClock(start=T0)
    session = open_session(plan, plan.journal_path, "lead1", clock=clock)
    assert session.recorder is not None and session.warnings == []
    engine = session.engine
    await engine.start()
    try:
        await _polled(engine, 0)
        for t in range(1, 126):  # two minutes of polls every 10 s, a second at a time
            await clock.advance(1)
            await _polled(engine, t)
        # Flushed on the session clock (every 30 s), before any close: another reader sees it.
        hp = history_path(plan.journal_path)
        await _wait_for(lambda: (h := _stored(hp)) is not None and len(h.series("p95_ms")) >= 2)
        readings = list(engine.history("p95_ms"))
        tickets = list(engine.history("tickets"))
    finally:
        await engine.stop()
        await session.writes_settled()
        session.session("session.end", {"reason": "quit"})
        session.close()
    h = History.open(hp, readonly=True)
    assert set(h.signals()) == {"p95_ms", "tickets"}
    buckets = h.series("p95_ms")
    by_minute: dict[float, list] = {}
    for r in readings:
        by_minute.setdefault(r.ts // 60 * 60, []).append(float(r.value))
    assert [b.start for b in buckets] == sorted(by_minute)
    for b in buckets:
        values = by_minute[b.start]
        assert (b.lo, b.hi, b.last, b.count, b.errors) == (
            min(values), max(values), values[-1], len(values), 0)
    assert sum(b.count for b in h.series("tickets")) == len(tickets) >= 12
    # Every gate change the journal recorded is in the history, in the same order, at the
    # session clock's time the engine saw it (the journal's entry is stamped when written,
    # on the writer thread: never earlier).
    journalled = [(e.subject, e.data["state"], e.wall) for e in Journal.open(
        plan.journal_path, cutover_id=plan.cutover.id, readonly=True).entries
        if e.action == "gate.change"]
    assert any(state == "NO-GO" for _, state, _ in journalled)
    changes = h.gate_changes()
    at = 0
    for gate, state, wall in journalled:
        while (changes[at].gate, changes[at].status) != (gate, state):
            at += 1
        assert changes[at].wall <= wall
        at += 1
    assert all(T0 <= c.wall <= T0 + 130 for c in h.gate_changes())


async def test_a_read_only_watcher_writes_no_history(tmp_path, http_server):
    http_server.route("/m", lambda req: Reply.json({"p95_ms": 100}))
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json({"count": 3}))
    plan = http_plan(tmp_path, http_server.url)
    holder = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
    try:
        for mode in ("watch", "readonly"):
            clock = ManualClock(start=T0)
            session = open_session(plan, plan.journal_path, "lead1", mode=mode, clock=clock)
            assert session.readonly and session.recorder is None
            await session.engine.poll_once()
            for _ in range(40):
                await clock.advance(1)
            session.close()
    finally:
        holder.close()
    assert not history_path(plan.journal_path).exists()


async def test_a_history_that_cannot_be_opened_is_one_warning_and_the_cockpit_goes_on(
        tmp_path, http_server):
    http_server.route("/m", lambda req: Reply.json({"p95_ms": 100}))
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json({"count": 3}))
    plan = http_plan(tmp_path, http_server.url)
    history_path(plan.journal_path).mkdir()  # not a file: as unopenable as a full disk
    session = open_session(plan, plan.journal_path, "lead1", clock=ManualClock(start=T0))
    try:
        assert session.recorder is None
        assert len(session.warnings) == 1
        assert session.warnings[0].startswith("signal history not recorded: history ")
        assert "not a regular file" in session.warnings[0]
        gates = await session.engine.poll_once()
        assert gates["fast"].state is GateState.GO
        session.ops.note("still working")
    finally:
        session.close()


async def test_a_history_that_fills_up_stops_with_one_warning_and_the_cockpit_goes_on(
        tmp_path, http_server):
    http_server.route("/m", lambda req: Reply.json({"p95_ms": 100}))
    http_server.route("/api/v2/search/count.json", lambda req: Reply.json({"count": 3}))
    plan = http_plan(tmp_path, http_server.url)
    clock = ManualClock(start=T0)
    session = open_session(plan, plan.journal_path, "lead1", clock=clock)
    recorder = session.recorder
    assert recorder is not None
    # A real SQLITE_FULL ("database or disk is full"): the file may not grow by a page more
    # (root ignores permissions, and the test cannot fill a real disk).
    conn = recorder.history._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    engine = session.engine
    await engine.start()
    try:
        for i in range(200):  # enough new names and readings to need another page
            recorder.gate_changed(engine.gates["fast"], None)
            recorder._gates[-1] = (f"gate-{i}" * 50, T0, "GO", "x" * 500)
        await clock.advance(31)
        await _wait_for(lambda: recorder._failed is not None)
        await clock.advance(1)
        assert len([w for w in session.warnings if "signal history stopped" in w]) == 1
        assert "full" in session.warnings[-1]
        assert recorder._stopped
        await clock.advance(60)
        assert engine.gates["fast"].state is GateState.GO  # the cockpit goes on
    finally:
        await engine.stop()
        session.close()
    assert len([w for w in session.warnings if "signal history stopped" in w]) == 1


async def test_a_rehearsal_records_on_its_accelerated_clock(tmp_path):
    plan = plan_copy(tmp_path)
    prepared = prepare(_args(plan, speed=200.0), env={}, now=T0)
    cockpit = _start(prepared)
    try:
        assert cockpit.recorder is not None
        await cockpit.engine.start()
        # 200 times faster: a minute of rehearsal clock passes in 0.3 s of real time.
        await _wait_for(lambda: prepared.clock.now() > T0 + 150)
    finally:
        await cockpit.engine.stop()
        await cockpit.writes_settled()
        cockpit.session("session.end", {"reason": "quit"})
        cockpit.close()
    h = History.open(history_path(prepared.journal), readonly=True)
    assert h.signals()
    span = h.span()
    assert span is not None and span[0] >= T0 - 1 and span[1] >= T0 + 60
    assert max(len(h.series(s)) for s in h.signals()) >= 2  # minutes of the rehearsal clock


@pytest.mark.usefixtures("launched")  # `cockpit demo` up to its launch (test_cli_newcomer)
def test_demo_new_sets_the_history_aside_with_its_journal(tmp_path):
    stable = tmp_path / "state" / "cutover-cockpit" / "demo-journal.jsonl"
    stable.parent.mkdir(parents=True)
    _demo_journal(stable)
    h = History.open(history_path(stable))
    h.record_reading("lag", T0, 1.5, False)
    h.close()
    assert _demo("--new") == 0
    assert not history_path(stable).exists()  # the new demo journal starts with no history
    (kept,) = [p for p in stable.parent.iterdir() if p.name.endswith(".jsonl") and p != stable]
    assert History.open(history_path(kept), readonly=True).series("lag")[0].last == 1.5
