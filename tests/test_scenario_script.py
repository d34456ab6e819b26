"""Scripted values are a pure function of (scenario, signal, scenario time): curves, seeded
noise, gaps, and the faults layered on them, clamped and rounded; never anything but a
number, true/false, an error, garbage text or a hang."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config.loader import load_plan
from cockpit.rehearsal.scenario import Scenario
from cockpit.rehearsal.script import answer
from cockpit.signals.reading import Reading
from tests.scenario_support import SAMPLE_PLAN

PLAN, _ = load_plan(SAMPLE_PLAN, for_run=False)


def scenario(signals: dict, faults: list | None = None) -> Scenario:
    return Scenario.model_validate({"name": "s", "replaces": list(PLAN.sources), "default": {"constant": 0},
                                    "signals": signals, "faults": faults or []})


def values(sc: Scenario, signal: str, times) -> list:
    return [answer(sc, PLAN, signal, t).value for t in times]


def test_ramp_step_and_constant_follow_their_definitions():
    sc = scenario({"replication_lag_s": {"ramp": {"from": 10, "to": 0, "start": "1m", "end": "3m"}},
                   "helpdesk_open": {"step": [{"at": "0s", "value": 3}, {"at": "10m", "value": 8}],
                                     "decimals": 0},
                   "chart_open_ok": {"constant": True}})
    assert values(sc, "replication_lag_s", [0, 60, 120, 180, 999]) == [10, 10, 5, 0, 0]
    assert values(sc, "helpdesk_open", [0, 599.9, 600, 7200]) == [3, 3, 8, 8]
    assert all(isinstance(v, int) for v in values(sc, "helpdesk_open", [0, 600]))
    assert values(sc, "chart_open_ok", [0, 5000]) == [True, True]


def test_noise_is_seeded_deterministic_and_clamped():
    def sc(seed):
        return scenario({"replication_lag_s": {"constant": 1, "noise": {"amplitude": 2, "seed": seed},
                                               "minimum": 0, "maximum": 2.5}})
    times = [i * 5.0 for i in range(50)]
    a, b, c = values(sc(1), "replication_lag_s", times), values(sc(1), "replication_lag_s", times), \
        values(sc(2), "replication_lag_s", times)
    assert a == b and a != c and len(set(a)) > 10
    assert all(0 <= v <= 2.5 for v in a) and 0 in a and 2.5 in a


def test_faults_shape_the_curve_and_gaps_and_source_faults_win():
    sc = scenario(
        {"replication_lag_s": {"constant": 1, "gaps": [{"at": "30m", "for": "1m", "error": "down"}]},
         "chart_access_tickets": {"constant": 1, "titles": ["old"], "decimals": 0},
         "login_success_rate": {"constant": 0.99}},
        [{"id": "spike", "kind": "replication_lag_spike", "at": "10m", "until": "20m",
          "signals": ["replication_lag_s"], "peak": 41, "rise": "2m", "fall": "4m"},
         {"id": "surge", "kind": "helpdesk_surge", "at": "5m", "for": "5m", "signals": ["chart_access_tickets"],
          "count": 10, "rise": "2m", "titles": ["new"]},
         {"id": "drop", "kind": "login_drop", "at": "1m", "for": "1m", "signals": ["login_success_rate"],
          "value": 0.8},
         {"id": "hang", "kind": "source_hang", "at": "40m", "for": "1m", "source": "cloud_db"},
         {"id": "junk", "kind": "source_garbage", "at": "50m", "for": "1m", "signals": ["replication_lag_s"]}])
    lag = values(sc, "replication_lag_s", [599, 600, 660, 720, 1199, 1200, 1320, 1440, 1500])
    assert lag == [1, 1, 21, 41, 41, 41, 21, 1, 1]  # rise over 2m, hold, fall over 4m
    assert answer(sc, PLAN, "replication_lag_s", 1830).error == "down"
    assert answer(sc, PLAN, "replication_lag_s", 2430).hang
    assert answer(sc, PLAN, "replication_lag_s", 3030).garbage and answer(sc, PLAN, "replication_lag_s", 3030).value is None
    assert values(sc, "chart_access_tickets", [299, 300, 360, 420, 599, 600]) == [1, 1, 6, 11, 11, 1]
    assert answer(sc, PLAN, "chart_access_tickets", 420).titles == ("new", "old")
    assert values(sc, "login_success_rate", [59, 60, 119, 120]) == [0.99, 0.8, 0.8, 0.99]


@settings(max_examples=200, deadline=None)
@given(t=st.floats(min_value=0, max_value=30 * 86400), base=st.floats(-1e6, 1e6),
       amp=st.floats(0, 1e6), seed=st.integers(-10**6, 10**6))
def test_every_answer_is_a_reading_value_an_error_garbage_or_a_hang(t, base, amp, seed):
    sc = scenario({"replication_lag_s": {"constant": base, "noise": {"amplitude": amp, "seed": seed}}},
                  [{"id": "spike", "kind": "replication_lag_spike", "at": "1h", "for": "1h",
                    "signals": ["replication_lag_s"], "peak": 50}])
    a = answer(sc, PLAN, "replication_lag_s", t)
    assert a == answer(sc, PLAN, "replication_lag_s", t)  # pure
    assert a.value is not None
    assert Reading("replication_lag_s", 0.0, 0.0, value=a.value).ok


def test_an_overflowing_script_is_an_error_reading_never_infinity():
    sc = scenario({"replication_lag_s": {"constant": 1.7e308, "noise": {"amplitude": 1.7e308, "seed": 3},
                                         "decimals": 0}})
    said = [answer(sc, PLAN, "replication_lag_s", t) for t in range(0, 200, 5)]
    assert any(a.error == "the scripted value is not a finite number" for a in said)
    # Whatever is left is a number a reading takes, or one it refuses as out of range (an
    # error reading): never infinity, never an exception.
    for a in said:
        if a.value is not None:
            rd = Reading("replication_lag_s", 0.0, 0.0, value=a.value)
            assert rd.value == a.value or rd.error == "number out of range"
