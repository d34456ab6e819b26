"""Scenario files: every sample loads against the sample plan; each kind of bad file is one
line on stderr and exit 2 through the command line, before anything is started (no journal),
whatever YAML text or structure it holds."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.config.loader import load_plan
from cockpit.rehearsal.scenario import load_scenario
from tests.scenario_support import ALL_SOURCES, SAMPLE_PLAN, SCENARIOS, plan_copy, write

GOOD = f"""\
name: base
duration: 2h
replaces: {ALL_SOURCES}
default: {{constant: 0}}
reconciliation: {{duration: 1m}}
signals:
  replication_lag_s: {{constant: 1.0}}
faults:
  - {{id: spike, kind: replication_lag_spike, at: 10m, for: 5m, signals: [replication_lag_s], peak: 40}}
"""


def test_every_sample_scenario_loads_against_the_sample_plan():
    plan, _ = load_plan(SAMPLE_PLAN, for_run=False)
    names = sorted(p.name for p in SCENARIOS.glob("*.yaml"))
    assert {"clean.yaml", "lag-crisis.yaml", "recon-mismatch.yaml"} <= set(names)
    for path in SCENARIOS.glob("*.yaml"):
        loaded = load_scenario(path, plan)
        assert loaded.scenario.name == path.stem
        assert re.fullmatch(r"[0-9a-f]{64}", loaded.sha256)
    crisis = load_scenario(SCENARIOS / "lag-crisis.yaml", plan).scenario
    assert set(crisis.replaces) == set(plan.sources)  # runs anywhere, no services
    assert any(f.kind == "replication_lag_spike" and f.end is None for f in crisis.faults)
    mismatch = load_scenario(SCENARIOS / "recon-mismatch.yaml", plan).scenario
    assert any(f.kind == "recon_mismatch" for f in mismatch.faults)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _rehearse(tmp_path, text: str, *extra: str) -> tuple[int, str]:
    plan = plan_copy(tmp_path)
    scenario = write(tmp_path, "bad.yaml", text) if text is not None else tmp_path / "missing.yaml"
    code, _, err = _run("rehearse", str(plan), "--scenario", str(scenario), "--operator", "m.okafor",
                        *extra)
    assert not list((tmp_path / "journal").glob("*")) if (tmp_path / "journal").exists() else True
    return code, err


# (what is wrong, the scenario text, where the line points, words it must hold)
BAD = [
    ("malformed YAML", "name: [x\n", ":2:1: ", "malformed YAML"),
    ("empty file", "# nothing\n", ":1:1: ", "a scenario needs at least 'name'"),
    ("not a mapping", "- a\n- b\n", ":1:1: ", "a scenario is a mapping"),
    ("duplicate key", GOOD + "name: again\n", ":10:1: ", "duplicate key 'name'"),
    ("unknown key", GOOD + "replace: [x]\n", ":10:1: ", "unknown key 'replace' (did you mean 'replaces'?)"),
    ("missing name", GOOD.replace("name: base\n", ""), ":1:1: ", "missing required key 'name'"),
    ("bad duration", GOOD.replace("duration: 2h", "duration: soon"), ":2:11: ", "bad duration 'soon'"),
    ("bare number duration", GOOD.replace("at: 10m", "at: 600"), ":9:", "needs a unit"),
    ("unknown fault kind", GOOD.replace("replication_lag_spike", "meteor"), ":9:", "unknown fault kind 'meteor'"),
    ("unknown source", GOOD.replace("legacy_db,", "legacy_dbx,"), ":3:", "the plan has no source 'legacy_dbx' (did you mean 'legacy_db'?)"),
    ("unknown signal", GOOD.replace("  replication_lag_s: {", "  replication_lag: {"), ":7:3: ", "the plan has no signal 'replication_lag'"),
    ("replaced source without scripts",
     GOOD.replace("default: {constant: 0}\n", "").replace(ALL_SOURCES, "[cloud_db, prometheus]"),
     ":3:22: ", "source 'prometheus' is replaced, but its signals login_success_rate, order_error_rate, "
                "pharmacy_queue_depth have no script"),
    ("script for a source not replaced",
     GOOD.replace(ALL_SOURCES, "[legacy_db, prometheus, helpdesk, clinical_portal]").split("faults:")[0],
     ":7:3: ", "which 'replaces' does not list"),
    ("time outside the scenario", GOOD.replace("at: 10m", "at: 3h"), ":9:", "after the end of the scenario"),
    ("until before at", GOOD.replace("for: 5m", "until: 5m"), ":9:", "'until' must come after 'at'"),
    ("until and for", GOOD.replace("for: 5m", "for: 5m, until: 20m"), ":9:", "give 'until' or 'for', not both"),
    ("overlapping faults", GOOD + "  - {id: spike2, kind: replication_lag_spike, at: 12m, for: 5m, "
                                  "signals: [replication_lag_s], peak: 10}\n",
     ":10:", "overlaps fault 'spike' on signal 'replication_lag_s'"),
    ("duplicate fault id", GOOD + "  - {id: spike, kind: login_drop, at: 1h, for: 1m, "
                                  "signals: [login_success_rate], value: 0.5}\n", ":10:", "fault id 'spike' is used twice"),
    ("two curves", GOOD.replace("{constant: 1.0}", "{constant: 1.0, ramp: {from: 0, to: 1, end: 1m}}"),
     ":7:", "exactly one of 'constant', 'ramp' or 'step'"),
    ("fault missing its parameter", GOOD.replace(", peak: 40", ""), ":9:", "missing required key 'peak'"),
    ("recon source replaced without a script", GOOD.replace("reconciliation: {duration: 1m}\n", ""),
     ":3:", "scripts no reconciliation"),
    ("unknown recon table", GOOD + "  - {id: mm, kind: recon_mismatch, at: 20m, findings: [{table: nurses, count: 2}]}\n",
     ":10:", "no reconciliation table 'nurses'"),
    ("number where text", GOOD.replace("name: base", "name: [1, 2]"), ":1:7: ", "expected text"),
    ("steps out of order", GOOD.replace("{constant: 1.0}", "{step: [{at: 5m, value: 1}, {at: 1m, value: 2}]}"),
     ":7:", "'step' times must be in increasing order"),
    ("hang of a source not replaced", GOOD.replace(ALL_SOURCES, "[legacy_db, cloud_db, helpdesk, clinical_portal]")
     + "  - {id: h, kind: source_hang, at: 1h, for: 1m, source: prometheus}\n", ":10:", "source 'prometheus' is not replaced"),
    ("binary file", "name: a\x00b\n", ":1:8: ", "looks like a binary file, not a YAML scenario"),
]


@pytest.mark.parametrize(("what", "text", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_scenario_is_one_line_and_exit_2(tmp_path, what, text, where, words):
    code, err = _rehearse(tmp_path, text)
    assert code == 2, err
    assert err.count("\n") == 1, err  # one line: the one problem, never a traceback
    assert err.startswith("cockpit rehearse: ") and "bad.yaml" + where in err, err
    assert words in err, err
    assert "Traceback" not in err


def test_there_are_at_least_fifteen_kinds_of_bad_scenario():
    assert len({b[0] for b in BAD}) >= 15


def test_a_missing_scenario_file_and_a_directory_are_one_line(tmp_path):
    plan = plan_copy(tmp_path)
    for target, words in ((tmp_path / "nope.yaml", "no such file"), (tmp_path, "is a directory, not a scenario file")):
        code, _, err = _run("rehearse", str(plan), "--scenario", str(target))
        assert code == 2 and err.count("\n") == 1 and words in err, err


@pytest.mark.parametrize("speed", ["0", "-1", "0.05", "1001", "nan", "inf"])
def test_a_speed_outside_the_sane_range_is_one_line(tmp_path, speed):
    code, err = _rehearse(tmp_path, GOOD, "--speed", speed)
    assert code == 2 and err.count("\n") == 1 and "--speed" in err, err


def test_a_good_scenario_gets_as_far_as_the_terminal_check_and_demands_no_secret(tmp_path, monkeypatch):
    for var in ("LEGACY_DB_PASSWORD", "CLOUD_DB_PASSWORD", "PROM_TOKEN", "JIRA_BASIC_AUTH", "SYNTHETIC_USER_KEY"):
        monkeypatch.delenv(var, raising=False)
    code, err = _rehearse(tmp_path, GOOD)
    assert code == 2
    assert err.strip().splitlines()[-1] == "cockpit rehearse: needs a terminal (stdin and stdout must be a tty)"
    assert "environment variable" not in err
    assert not (tmp_path / "journal").exists()  # refused before any journal was made


# -- hostile input: arbitrary text and structures ----------------------------------------

WORDS = ["name", "replaces", "signals", "faults", "default", "duration", "reconciliation", "kind",
         "at", "until", "for", "constant", "ramp", "step", "gaps", "noise", "peak", "signals",
         "replication_lag_s", "cloud_db", "source_hang", "recon_mismatch", "10m", "-1s", "from", "to"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(WORDS))
trees = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=6), kids, max_size=5)),
    max_leaves=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees)
def test_any_structure_is_refused_in_lines_never_a_traceback_and_starts_nothing(tmp_path_factory, tree):
    folder = tmp_path_factory.mktemp("hostile")
    code, err = _rehearse(folder, yaml.safe_dump({"name": "x", "replaces": ["cloud_db"], **tree}
                                                 if isinstance(tree, dict) else tree))
    assert code == 2
    assert err and "Traceback" not in err and "internal error" not in err, err
    assert all(line.startswith("cockpit rehearse: ") for line in err.splitlines())
    assert not (folder / "journal").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200) | st.binary(max_size=120).map(lambda b: b.decode("latin-1")))
def test_any_text_is_refused_in_lines_never_a_traceback(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("hostile")
    code, err = _rehearse(folder, text)
    assert code == 2
    assert err and "Traceback" not in err and "internal error" not in err, err
    assert all(line.startswith("cockpit rehearse: ") for line in err.splitlines())
    assert not (folder / "journal").exists()
