"""Units and the one way values are written: seconds as durations, one precision per signal,
the plan's ``unit:`` checked in one line."""

from __future__ import annotations

import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit import expr, units
from cockpit.config.sources import Signal
from cockpit.tui.panels.values import fmt


@pytest.mark.parametrize(("name", "unit"), [
    ("replication_lag_s", "s"), ("chart_open_ms", "ms"), ("disk_used_pct", "%"),
    ("lag_bytes", "B"), ("ticket_count", "count"), ("login_success_rate", ""),
    ("recon.patients.missing", ""), ("exceptions.open_s", "s"),
])
def test_unit_is_inferred_from_the_name_suffix(name, unit):
    assert units.infer_unit(name) == unit
    assert units.unit_of(name, "") == unit
    assert units.unit_of(name, "count") == "count"  # declared wins


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (5456.48, "s", "1h30m"), (9.3792, "s", "9.4s"), (45.2, "s", "45s"), (0.6, "s", "0.6s"),
    (820.33, "ms", "820ms"), (99.44, "%", "99.4%"), (6.7, "count", "7"),
    (1536, "B", "1.5 kB"), (0.99412, "", "0.99"), (12.0, "", "12"), (True, "", "true"),
    (None, "s", "—"),
])
def test_values_are_written_in_human_units(value, unit, shown):
    assert units.format_value(value, unit) == shown
    assert fmt(value, unit) == shown  # the panels use the same home


def test_thresholds_stay_exact_in_their_unit():
    assert units.format_value(21600.0, "s", threshold=True) == "6h"
    assert units.format_value(5.0, "s", threshold=True) == "5s"
    assert units.format_value(0.98, "", threshold=True) == "0.98"


def test_one_precision_per_signal_from_its_finest_threshold():
    assert units.decimals_for("rate", [0.98]) == 3
    assert units.decimals_for("errors", [1]) == 1
    assert units.decimals_for("x", []) == units.DEFAULT_DECIMALS
    assert units.thresholds_in("rate", ["rate >= 0.98 and other < 1", "rate < 2"]) == [0.98, 2.0]
    # the same signal keeps its decimals whatever its magnitude
    assert [units.format_value(v, "", 3) for v in (0.99412, 12.5)] == ["0.994", "12.500"]


def test_declared_units_are_the_ones_the_cockpit_can_write():
    allowed = typing.get_args(Signal.model_fields["unit"].annotation)
    assert set(allowed) == {"", *units.UNITS}


def test_a_unit_it_cannot_write_is_one_line_at_its_place(tmp_path):
    from cockpit.commands.demo import DEMO_PLAN
    from cockpit.config import load_plan
    from cockpit.config.problems import PlanError

    bad = tmp_path / "plan.yaml"
    bad.write_text(DEMO_PLAN.read_text().replace("unit: ms", "unit: msec"))
    with pytest.raises(PlanError) as exc:
        load_plan(bad)
    [line] = exc.value.lines
    assert "signals.chart_open_ms.unit" in line and "'msec'" in line and "\n" not in line
    assert line.startswith(f"{bad}:")


@pytest.mark.parametrize(("text", "values", "reasons"), [
    ("replication_lag_s < 5", {"replication_lag_s": 9.3792}, ["replication_lag_s 9.4s, needs < 5s"]),
    ("rollback_snapshot_age_s < 21600", {"rollback_snapshot_age_s": 5456.48},
     ["rollback_snapshot_age_s 1h30m, needs < 6h"]),
    ("login_success_rate >= 0.98", {"login_success_rate": 0.99412},
     ["login_success_rate 0.994, needs >= 0.98"]),
    ("backlog == 0", {"backlog": 3}, ["backlog 3, needs = 0"]),
    ("5 > lag", {"lag": 7.25}, ["lag 7.2, needs < 5"]),
    ("not paused", {"paused": True}, ["paused is true"]),
])
def test_reasons_say_the_value_and_the_plain_rule(text, values, reasons):
    assert expr.evaluate(expr.parse(text), values)[1] == reasons


def test_reasons_use_a_declared_unit():
    ok, reasons = expr.evaluate(expr.parse("lag < 5"), {"lag": 9.38}, units={"lag": "s"})
    assert reasons == ["lag 9.4s, needs < 5s"]


# Source answers reach the screen through these: any value a Reading accepts (true/false, an
# integer within 2^53, a finite float), in any unit, at any precision the plan can ask for.

reading_values = st.one_of(st.booleans(), st.integers(-(2**53), 2**53),
                           st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=500, deadline=None)
@given(value=reading_values, unit=st.sampled_from(("", *units.UNITS)),
       decimals=st.one_of(st.none(), st.integers(0, 6)))
def test_any_reading_value_formats_to_one_short_plain_line(value, unit, decimals):
    text = units.format_value(value, unit, decimals)
    assert isinstance(text, str) and text
    assert text.isprintable() and len(text) <= 40, text


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.integers(-(2**53), 2**53),
                       st.floats(allow_nan=False, allow_infinity=False)),
       unit=st.sampled_from(("", *units.UNITS)))
def test_a_gate_reason_over_any_value_is_words_never_an_error(value, unit):
    truth, reasons = expr.evaluate(expr.parse("lag < 5"), {"lag": value}, {"lag": unit})
    assert truth == (value < 5)
    assert len(reasons) == 1 and reasons[0].startswith("lag ") and "needs < 5" in reasons[0]
