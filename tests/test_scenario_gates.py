"""A scenario at high speed drives the real engine's gates through HOLD, GO, NO-GO and UNKNOWN
at the scripted times (ManualClock: no real-time sleeping), and journals each fault once,
also across a reopen of the journal."""

from __future__ import annotations

from cockpit.clock import ManualClock
from cockpit.rehearsal.faults import record_faults
from cockpit.rehearsal.journal import start_data, write_start
from cockpit.rehearsal.plan import load_rehearsal_plan
from cockpit.rehearsal.running import Rehearsal
from cockpit.rehearsal.scenario import load_scenario
from cockpit.rehearsal.source import scripted_sources
from cockpit.session import open_session
from tests.scenario_support import ALL_SOURCES, plan_copy, write

SCENARIO = f"""\
    name: gate-walk
    duration: 1h
    replaces: {ALL_SOURCES}
    default: {{constant: 0}}
    reconciliation: {{duration: 1m}}
    signals:
      replication_lag_s:
        constant: 1.0
        gaps: [{{at: 25m, until: 30m, error: "connection refused (scripted)"}}]
      chart_open_ok: {{constant: true}}
    faults:
      - {{id: lag-spike, kind: replication_lag_spike, at: 15m, until: 20m,
          signals: [replication_lag_s], peak: 30, rise: 0s, fall: 0s}}
      - {{id: tickets, kind: helpdesk_surge, at: 5m, for: 10m, signals: [chart_access_tickets],
          count: 7, titles: ["Chart access denied \\x1b[31m(4 West)"]}}
"""


def _setup(tmp_path, env=None):
    plan_path = plan_copy(tmp_path)
    scenario_path = write(tmp_path, "gate-walk.yaml", SCENARIO)
    # No secrets in the environment: every source is replaced, so none is demanded.
    plan, _ = load_rehearsal_plan(plan_path, ["legacy_db", "cloud_db", "prometheus", "helpdesk",
                                              "clinical_portal"], env=env or {})
    return plan, load_scenario(scenario_path, plan)


def _open(plan, loaded, clock, origin):
    r = Rehearsal(loaded.scenario, loaded.sha256, 60.0, clock, loaded.path, origin=origin)
    sources = scripted_sources(plan, loaded.scenario, clock, r.scenario_time, real=False)
    session = open_session(plan, plan.journal_path, "m.okafor", clock=clock, sources=sources)
    return r, session


async def test_a_scenario_drives_a_gate_through_every_state_at_the_scripted_times(tmp_path):
    plan, loaded = _setup(tmp_path)
    clock = ManualClock(start=1_800_000_000.0)
    r, session = _open(plan, loaded, clock, clock.now())
    write_start(session.journal, r.name, start_data(r.name, r.sha256, r.speed, plan.path, "x" * 64))
    r.origin = session.journal.entries[0].wall
    record_faults(session, loaded.scenario, r.scenario_time)
    turns: list[tuple[float, str]] = []
    session.listen(lambda new, old: turns.append((r.scenario_time(), new.state.value))
                   if new.gate == "replication_caught_up" else None)
    engine = session.engine
    await engine.start()
    try:
        await clock.advance(0)  # the first polls, at scenario time 0
        for _ in range(45 * 12):  # 45 minutes of scenario time, 5 s at a time
            await clock.advance(5)
        await session.writes_settled()
    finally:
        await engine.stop()
    states = [s for _, s in turns]
    # UNKNOWN before anything was read; then the script's story, each turn within a poll
    # interval (5 s) and the gate's 1 s tick of its scripted time.
    assert states == ["UNKNOWN", "HOLD", "GO", "NO-GO", "HOLD", "UNKNOWN", "HOLD", "GO"], turns
    times = [t for t, _ in turns]
    expected = [0, 0, 600, 900, 1200, 1500, 1800, 2400]
    assert all(e <= t <= e + 15 for t, e in zip(times, expected, strict=True)), turns
    # The gap's reading is an error, never a value; the journal says why the gate turned.
    lag = engine.history("replication_lag_s")
    assert any(rd.error == "connection refused (scripted)" for rd in lag)
    # The surge's ticket titles came through as cleaned detail lines (no escape sequence).
    tickets = [rd for rd in engine.history("chart_access_tickets") if rd.ok and rd.value == 7]
    assert tickets and "\x1b" not in tickets[0].detail[0] and "Chart access denied" in tickets[0].detail[0]
    faults = [e for e in session.journal.entries if e.action == "rehearsal.fault"]
    assert [(e.subject, e.data["kind"], e.data["at_s"], e.data["until_s"]) for e in faults] == [
        ("tickets", "helpdesk_surge", 300.0, 900.0), ("lag-spike", "replication_lag_spike", 900.0, 1200.0)]
    assert faults[1].data["signals"] == ["replication_lag_s"]
    assert all(e.actor.operator == "system" for e in faults)
    # Each fault entry was written once scenario time passed its `at`, never before.
    origin = session.journal.entries[0].wall
    assert all(e.wall - origin >= e.data["at_s"] for e in faults)
    last = session.journal.entries[-1].wall
    session.close()

    # Reopened (a restart): scenario time continues; nothing already journalled is written again.
    clock2 = ManualClock(start=last)
    r2, again = _open(plan, loaded, clock2, origin)
    record_faults(again, loaded.scenario, r2.scenario_time)
    await again.engine.start()
    try:
        for _ in range(12):
            await clock2.advance(5)
        await again.writes_settled()
    finally:
        await again.engine.stop()
    faults = [e.subject for e in again.journal.entries if e.action == "rehearsal.fault"]
    assert faults == ["tickets", "lag-spike"]
    # Scenario time went on from the journal's last entry, not from zero.
    assert abs(r2.scenario_time() - ((last - origin) + 60)) < 1e-6
    assert r2.scenario_time() > 2400
    again.close()


async def test_a_hanging_source_is_caught_by_the_engine_timeout_and_garbage_is_never_a_value(tmp_path):
    scenario = f"""\
        name: hang-and-junk
        replaces: {ALL_SOURCES}
        default: {{constant: 0}}
        reconciliation: {{duration: 1m}}
        signals:
          replication_lag_s: {{constant: 1.0}}
          login_success_rate: {{constant: 0.99}}
        faults:
          - {{id: hang, kind: source_hang, at: 1m, for: 1m, source: cloud_db}}
          - {{id: junk, kind: source_garbage, at: 1m, for: 1m, signals: [login_success_rate], answer: "0.99"}}
    """
    plan, _ = _setup(tmp_path)
    loaded = load_scenario(write(tmp_path, "hang.yaml", scenario), plan)
    clock = ManualClock()
    r, session = _open(plan, loaded, clock, clock.now())
    engine = session.engine
    await engine.start()
    try:
        for _ in range(18):
            await clock.advance(5)
    finally:
        await engine.stop()
        session.close()
    lag = [rd for rd in engine.history("replication_lag_s") if 60 <= rd.ts - r.origin < 120]
    assert lag and all(rd.value is None and "timed out after 3s (timeout: 3s)" in (rd.error or "")
                       for rd in lag)
    login = [rd for rd in engine.history("login_success_rate") if 60 <= rd.ts - r.origin < 120]
    # Text that looks like a number is still text: an error reading, never 0.99.
    assert login and all(rd.value is None and rd.error == "value is a string, not a number"
                         for rd in login)
    before = [rd for rd in engine.history("login_success_rate") if rd.ts - r.origin < 60]
    assert before and all(rd.value == 0.99 for rd in before)
