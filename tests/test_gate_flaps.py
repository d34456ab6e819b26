"""Flapping gates: the journal gets the first turns, then one summary per minute, then the
state it settled in; no turn is lost from the count, and the last state recorded is the
gate's real state. Unit (Damper, property-based) and through a real session and journal."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.flaps import LIMIT, WINDOW_S, Damper
from tests.test_tui_support import make_cockpit, plan_variant

STATES = ["GO", "HOLD", "NO-GO", "UNKNOWN"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 120.0), st.sampled_from(STATES)), max_size=200))
def test_every_turn_is_counted_and_the_last_state_is_recorded(turns):
    damper = Damper()
    now, written, counted, last_recorded, last = 0.0, 0, 0, None, None
    entries_at: list[float] = []
    for gap, state in turns:
        now += gap
        for s in damper.due(now):
            counted += s.changes
            last_recorded = s.status
            entries_at.append(now)
        if damper.change("g", state, state, now):
            written += 1
            last_recorded = state
            entries_at.append(now)
        last = state
    for s in damper.due(now + WINDOW_S + 1):  # quiet for a window: the settled summary
        counted += s.changes
        last_recorded = s.status
        assert s.settled
        entries_at.append(now + WINDOW_S + 1)
    assert written + counted == len(turns)  # nothing lost from the count
    assert last_recorded == last  # the journal ends in the gate's real state
    # Never a flood: within any window, at most LIMIT + 1 turns written one by one, plus
    # the summaries (one per window, and the settled one).
    for t in entries_at:
        in_window = [x for x in entries_at if t <= x < t + WINDOW_S]
        assert len(in_window) <= LIMIT + 3


def test_a_gate_that_turns_rarely_is_journalled_turn_by_turn():
    damper = Damper()
    assert all(damper.change("g", s, s, t * 30.0) for t, s in enumerate(["NO-GO", "GO"] * 20))
    assert damper.due(10_000.0) == []


async def test_a_hovering_signal_floods_nothing_through_the_real_session(tmp_path):
    """The demo plan through the real engine, session and journal: replication lag hovering
    at its 5 s threshold for ten minutes, polled every 2 s (about 300 evaluations)."""
    # settle 0s: the plan's settle would keep the gate from flapping at all.
    plan = plan_variant(tmp_path, {"expr: replication_lag_s < 5\n": "expr: replication_lag_s < 5\n    settle: 0s\n"})
    cockpit = make_cockpit(tmp_path, plan)
    sim = cockpit.engine.sources["sim"]
    gate = "replication_caught_up"

    def changes():
        return [e for e in cockpit.journal.entries
                if e.action == "gate.change" and e.subject == gate]

    before = len(changes())
    for i in range(300):
        sim.set_override("replication_lag_s", value=6.0 if i % 2 else 1.0)
        await cockpit.engine.poll_once()
        await cockpit.writes_settled()
        await cockpit.clock.advance(2)
    sim.set_override("replication_lag_s", value=9.0)
    for _ in range(40):  # quiet (NO-GO) for over a minute: the settled summary
        await cockpit.engine.poll_once()
        await cockpit.writes_settled()
        await cockpit.clock.advance(2)
    await cockpit.engine.poll_once()
    await cockpit.writes_settled()
    written = changes()[before:]
    summaries = [e for e in written if "flapping" in e.data]
    assert len(written) <= LIMIT + 1 + 12  # ten minutes: a summary a minute, not 300 lines
    assert summaries and summaries[-1].data["flapping"]["settled"] is True
    assert written[-1].data["state"] == "NO-GO"
    assert cockpit.engine.gates[gate].state.value == "NO-GO"
    turns = sum(1 for _ in written if "flapping" not in _.data)
    turns += sum(e.data["flapping"]["changes"] for e in summaries)
    assert turns >= 250  # every turn is in the count
    cockpit.close()
