"""Gate semantics under a controlled clock: windows, staleness, errors, reasons."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from cockpit.clock import ManualClock
from cockpit.config import load_plan
from cockpit.gates import GateBook, GateState
from cockpit.signals.reading import Reading


def plan_dict(signals: dict, gates: dict, *, seed: int = 7) -> dict:
    """A complete, valid plan whose signals all come from one simulated source."""
    return {
        "version": 1,
        "cutover": {"id": "sim-test", "name": "Simulated test", "journal": "journal.jsonl",
                    "window": {"start": "2026-11-28T22:00:00Z", "end": "2026-11-29T06:00:00Z"}},
        "operators": {"roles": {"lead": {"confirm": ["*"]}},
                      "people": [{"name": "t.lead", "role": "lead"}]},
        "sources": {"sim": {"type": "simulated", "seed": seed}},
        "signals": {name: {"source": "sim", **spec} for name, spec in signals.items()},
        "gates": gates,
        "runbook": {
            "phases": [{"id": "before", "title": "Before",
                        "steps": [{"id": "B01", "title": "Do it", "owner": "lead", "planned": "5m"}]}],
            "rollback": {"phases": [{"id": "rb", "title": "Back",
                                     "steps": [{"id": "R01", "title": "Undo", "owner": "lead",
                                                "planned": "5m"}]}]},
        },
    }


def write_plan(tmp_path: Path, signals: dict, gates: dict, **kw) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan_dict(signals, gates, **kw), sort_keys=False))
    return path


def load(tmp_path: Path, signals: dict, gates: dict):
    plan, _ = load_plan(write_plan(tmp_path, signals, gates), for_run=True)
    return plan


SIG = {"replication_lag_s": {"every": "10s"}, "login_success_rate": {"every": "15s"},
       "ok": {"every": "10s"}, "tickets": {"every": "60s"}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class Feed:
    """Readings as a source would produce them, taken at the clock's current time."""

    def __init__(self, clock: ManualClock):
        self.clock = clock
        self.latest: dict[str, Reading] = {}

    def value(self, name: str, value) -> None:
        self.latest[name] = Reading(name, self.clock.now(), self.clock.monotonic(), value=value,
                                    latency_ms=1.0)

    def error(self, name: str, message: str) -> None:
        self.latest[name] = Reading(name, self.clock.now(), self.clock.monotonic(), error=message)


def book_for(tmp_path, clock, gates: dict) -> GateBook:
    return GateBook(load(tmp_path, SIG, gates), clock)


def test_hold_progress_then_go_after_the_window(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "hold_for": "10m", "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 1.5)
    changes = book.update(feed.latest)
    status = book.statuses["caught_up"]
    assert [(n.state, o) for n, o in changes] == [(GateState.HOLD, None)]
    assert status.label() == "HOLD 0s/10m"
    assert status.hold_for_s == 600
    hold_since = status.since

    # Fresh true readings every 10 s for 6 minutes: still HOLD, progress grows, no "change".
    for _ in range(36):
        clock.advance_sync(10)
        feed.value("replication_lag_s", 1.2)
        assert book.update(feed.latest) == []
    status = book.statuses["caught_up"]
    assert status.state is GateState.HOLD
    assert status.held_s == pytest.approx(360)
    assert status.label() == "HOLD 6m/10m"
    assert status.since == hold_since
    assert "replication_lag_s 1.2s, needs < 5s" in status.reason
    assert not status.passes()

    for _ in range(23):
        clock.advance_sync(10)
        feed.value("replication_lag_s", 1.2)
        assert book.update(feed.latest) == []
    assert book.statuses["caught_up"].label() == "HOLD 9m50s/10m"

    clock.advance_sync(10)
    feed.value("replication_lag_s", 1.1)
    changes = book.update(feed.latest)
    new, old = changes[0]
    assert (new.state, old.state) == (GateState.GO, GateState.HOLD)
    assert new.passes() and new.label() == "GO"
    assert new.reason == "replication_lag_s 1.1s, needs < 5s"
    assert new.since == clock.now()
    assert new.held_s == pytest.approx(600)


def test_first_false_reading_is_no_go_and_restarts_the_window(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5", "settle": "0s",
                                                    "hold_for": "1m", "max_staleness": "30s"}})
    feed = Feed(clock)
    for _ in range(7):
        feed.value("replication_lag_s", 0.5)
        book.update(feed.latest)
        clock.advance_sync(10)
    assert book.statuses["caught_up"].state is GateState.GO

    feed.value("replication_lag_s", 7.2)
    (new, old), = book.update(feed.latest)
    assert (new.state, old.state) == (GateState.NO_GO, GateState.GO)
    assert new.reason == "replication_lag_s 7.2s, needs < 5s"
    assert new.label() == "NO-GO"

    # True again: the window starts over from this reading, not from the earlier GO.
    clock.advance_sync(10)
    feed.value("replication_lag_s", 0.4)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.HOLD and new.held_s == 0
    for _ in range(5):
        clock.advance_sync(10)
        feed.value("replication_lag_s", 0.4)
        book.update(feed.latest)
    assert book.statuses["caught_up"].label() == "HOLD 50s/1m"
    clock.advance_sync(10)
    feed.value("replication_lag_s", 0.4)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.GO


def test_zero_hold_for_is_go_at_once(tmp_path, clock):
    book = book_for(tmp_path, clock, {"quiet": {"expr": "tickets < 5", "max_staleness": "5m"}})
    feed = Feed(clock)
    feed.value("tickets", 3.0)
    (new, old), = book.update(feed.latest)
    assert new.state is GateState.GO and old is None
    assert new.reason == "tickets 3, needs < 5"


def test_unknown_after_max_staleness_with_age_in_words(tmp_path, clock):
    book = book_for(tmp_path, clock, {"clinical": {"expr": "login_success_rate >= 0.98",
                                                   "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("login_success_rate", 0.995)
    book.update(feed.latest)
    assert book.statuses["clinical"].state is GateState.GO
    clock.advance_sync(30)
    assert book.update(feed.latest) == []  # exactly max_staleness old is still fresh
    clock.advance_sync(15)
    (new, old), = book.update(feed.latest)
    assert (new.state, old.state) == (GateState.UNKNOWN, GateState.GO)
    assert new.reason == "login_success_rate stale for 45s"
    assert new.label() == "UNKNOWN" and not new.passes()


def test_stale_true_data_never_counts_towards_the_window(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "hold_for": "1m", "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 1.0)
    book.update(feed.latest)
    clock.advance_sync(40)  # the source stopped answering: UNKNOWN, window reset
    assert book.update(feed.latest)[0][0].state is GateState.UNKNOWN
    clock.advance_sync(5)
    feed.value("replication_lag_s", 1.0)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.HOLD and new.held_s == 0


def test_window_opens_at_the_reading_that_made_it_true(tmp_path, clock):
    book = book_for(tmp_path, clock, {"healthy": {"expr": "ok and tickets < 5", "hold_for": "1m",
                                                  "settle": "0s", "max_staleness": "2m"}})
    feed = Feed(clock)
    feed.value("ok", True)
    feed.value("tickets", 9.0)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.NO_GO and new.reason == "tickets 9, needs < 5"
    clock.advance_sync(10)
    feed.value("ok", True)
    feed.value("tickets", 2.0)
    clock.advance_sync(5)  # evaluated later than the reading (e.g. on the tick)
    (new, _), = book.update(feed.latest)
    # The condition is known true since the reading at 10 s, not since the evaluation at 15 s,
    # and nothing has been observed after that reading yet.
    assert new.state is GateState.HOLD and new.held_s == 0
    clock.advance_sync(5)
    feed.value("ok", True)
    feed.value("tickets", 2.0)
    clock.advance_sync(5)
    book.update(feed.latest)
    # Held from the reading at 10 s up to the newest readings at 20 s: 10 s of the window.
    assert book.statuses["healthy"].held_s == pytest.approx(10)


def test_boolean_signal_reasons(tmp_path, clock):
    book = book_for(tmp_path, clock, {"healthy": {"expr": "ok and tickets < 5", "settle": "0s",
                                                  "max_staleness": "2m"}})
    feed = Feed(clock)
    feed.value("ok", False)
    feed.value("tickets", 1.0)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.NO_GO and new.reason == "ok is false"
    feed.value("ok", True)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.GO and new.reason == "ok is true; tickets 1, needs < 5"


def test_unknown_on_error_missing_and_non_numbers(tmp_path, clock):
    book = book_for(tmp_path, clock, {"healthy": {"expr": "ok and tickets < 5",
                                                  "max_staleness": "2m"}})
    feed = Feed(clock)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.UNKNOWN
    assert new.reason == "ok: no reading yet; tickets: no reading yet"
    feed.value("ok", True)
    feed.error("tickets", "HTTP 503 from helpdesk")
    book.update(feed.latest)
    status = book.statuses["healthy"]
    assert status.state is GateState.UNKNOWN and status.reason == "tickets: HTTP 503 from helpdesk"
    feed.value("tickets", math.nan)
    book.update(feed.latest)
    assert book.statuses["healthy"].reason == "tickets: value is not a finite number"


def test_error_turns_go_to_unknown_and_resets_the_window(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "hold_for": "20s", "max_staleness": "30s"}})
    feed = Feed(clock)
    for _ in range(3):
        feed.value("replication_lag_s", 1.0)
        book.update(feed.latest)
        clock.advance_sync(10)
    assert book.statuses["caught_up"].state is GateState.GO
    feed.error("replication_lag_s", "timed out after 3s")
    (new, old), = book.update(feed.latest)
    assert (new.state, old.state) == (GateState.UNKNOWN, GateState.GO)
    assert new.reason == "replication_lag_s: timed out after 3s"
    clock.advance_sync(10)
    feed.value("replication_lag_s", 1.0)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.HOLD


def test_same_state_keeps_since_but_updates_reason(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 9.0)
    book.update(feed.latest)
    since = book.statuses["caught_up"].since
    clock.advance_sync(10)
    feed.value("replication_lag_s", 8.0)
    assert book.update(feed.latest) == []
    status = book.statuses["caught_up"]
    assert status.since == since and status.reason == "replication_lag_s 8.0s, needs < 5s"


def test_only_named_gates_are_re_evaluated(tmp_path, clock):
    book = book_for(tmp_path, clock, {
        "a": {"expr": "tickets < 5", "max_staleness": "5m"},
        "b": {"expr": "ok", "max_staleness": "5m"},
    })
    feed = Feed(clock)
    book.update(feed.latest)
    feed.value("tickets", 1.0)
    feed.value("ok", True)
    changes = book.update(feed.latest, ["a"])
    assert [n.gate for n, _ in changes] == ["a"]
    assert book.statuses["b"].state is GateState.UNKNOWN
    assert book.by_signal == {"tickets": ["a"], "ok": ["b"]}
    assert book.signals_of("b") == ("ok",)


def test_json_shape_and_snapshot(tmp_path, clock):
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "hold_for": "10m", "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 1.25)
    book.update(feed.latest)
    clock.advance_sync(4)
    feed.value("replication_lag_s", 1.25)
    book.update(feed.latest)
    doc = book.statuses["caught_up"].to_json()
    assert doc["gate"] == "caught_up" and doc["state"] == "HOLD"
    assert doc["hold_for_s"] == 600 and doc["held_s"] == pytest.approx(4)
    assert doc["readings"] == {"replication_lag_s": {
        "value": 1.25, "error": None, "ts": clock.now(), "age_s": 0.0, "latency_ms": 1.0}}
    snap = json.loads(json.dumps(book.snapshot()))
    assert snap["caught_up"]["state"] == "HOLD"
    assert str(GateState.NO_GO) == "NO-GO"


def test_reason_text_is_cleaned(tmp_path, clock):
    book = book_for(tmp_path, clock, {"b": {"expr": "ok", "max_staleness": "5m"}})
    feed = Feed(clock)
    feed.error("ok", "bad\x1b[31m red\nline")
    book.update(feed.latest)
    assert book.statuses["b"].reason == "ok: bad red line"


def test_after_a_no_go_the_gate_stays_no_go_until_the_condition_held_for_settle(tmp_path, clock):
    """A signal hovering at its threshold (true, false, true every poll) keeps the gate NO-GO:
    no HOLD/NO-GO flip per reading. Worse shows at once; better needs ``settle`` of evidence."""
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "settle": "30s", "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 1.0)
    (new, _), = book.update(feed.latest)
    assert new.state is GateState.GO  # no NO-GO seen yet: nothing to settle
    changes = []
    for i in range(30):  # 4.9, 5.1, 4.9, ... every 2s for a minute
        clock.advance_sync(2)
        feed.value("replication_lag_s", 5.1 if i % 2 == 0 else 4.9)
        changes += book.update(feed.latest)
    assert [(n.state, o.state) for n, o in changes] == [(GateState.NO_GO, GateState.GO)]
    assert "settling after NO-GO" in book.statuses["caught_up"].reason
    # Held true again: NO-GO until 30s of covering readings, then GO (hold_for is 0).
    states = []
    for _ in range(20):
        clock.advance_sync(2)
        feed.value("replication_lag_s", 4.0)
        book.update(feed.latest)
        states.append(book.statuses["caught_up"].state)
    first_go = states.index(GateState.GO)
    assert set(states[:first_go]) == {GateState.NO_GO}
    # The last 4.9 of the hovering opened the window: 15 readings later it has held 30s.
    assert first_go == 14
    assert set(states[first_go:]) == {GateState.GO}


def test_settle_survives_an_unknown_between(tmp_path, clock):
    """NO-GO, then the source errs (UNKNOWN), then true: still settling, the UNKNOWN is no
    shortcut to HOLD."""
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "settle": "20s", "hold_for": "0s",
                                                    "max_staleness": "30s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 9.0)
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.NO_GO
    clock.advance_sync(2)
    feed.error("replication_lag_s", "connection refused")
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.UNKNOWN  # worse-or-unknown at once
    clock.advance_sync(2)
    feed.value("replication_lag_s", 1.0)
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.NO_GO
    for _ in range(10):
        clock.advance_sync(2)
        feed.value("replication_lag_s", 1.0)
        book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.GO


def test_settle_never_delays_stale_or_no_go(tmp_path, clock):
    """A GO gate whose data goes stale is UNKNOWN at once, and a false condition NO-GO at once,
    whatever ``settle`` says."""
    book = book_for(tmp_path, clock, {"caught_up": {"expr": "replication_lag_s < 5",
                                                    "settle": "1h", "max_staleness": "10s"}})
    feed = Feed(clock)
    feed.value("replication_lag_s", 1.0)
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.GO
    clock.advance_sync(11)
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.UNKNOWN
    feed.value("replication_lag_s", 6.0)
    book.update(feed.latest)
    assert book.statuses["caught_up"].state is GateState.NO_GO
