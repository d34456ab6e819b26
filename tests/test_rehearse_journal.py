"""The rehearsal marker rules, through the command line and the rehearse preparation:
a new rehearsal journal starts with rehearsal.start (seq 1, before session.start); a
rehearsal refuses a real journal and one of another scenario file; `cockpit run` refuses a
rehearsal journal; a resumed rehearsal continues scenario time where its journal ended."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.commands.rehearse import Prepared, begin, default_journal, prepare
from cockpit.journal import Actor, Journal
from cockpit.rehearsal.journal import first_entry, refuse_for_run
from cockpit.rehearsal.source import ScriptedSource
from cockpit.session import open_cockpit
from tests.scenario_support import SCENARIOS, plan_copy


def _run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def _args(plan, scenario="lag-crisis.yaml", **kw):
    ns = dict(config=str(plan), scenario=str(SCENARIOS / scenario), speed=10.0, journal=None,
              operator="m.okafor", layout=None)
    ns.update(kw)
    return argparse.Namespace(**ns)


def _start(prepared: Prepared):
    cockpit = open_cockpit(prepared.plan, prepared.journal, prepared.operator,
                           clock=prepared.clock, sources=prepared.sources)
    begin(cockpit, prepared)
    cockpit.session("session.start", {"layout": None, "readonly": False})
    return cockpit


SECRETS = ("LEGACY_DB_PASSWORD", "CLOUD_DB_PASSWORD", "PROM_TOKEN", "JIRA_BASIC_AUTH", "SYNTHETIC_USER_KEY")


def test_a_new_rehearsal_journal_starts_with_rehearsal_start_then_session_start(tmp_path, monkeypatch):
    plan = plan_copy(tmp_path)
    prepared = prepare(_args(plan), env={})  # no secrets at all: every source is replaced
    assert isinstance(prepared, Prepared)
    assert prepared.journal == tmp_path / "journal" / "ehr-core-2026-11.rehearsal-lag-crisis.jsonl"
    assert prepared.journal == default_journal(prepared.plan, "lag-crisis")
    assert all(isinstance(s, ScriptedSource) for s in prepared.sources.values())
    assert set(prepared.sources) == set(prepared.plan.sources)
    cockpit = _start(prepared)
    try:
        entries = cockpit.journal.entries
        assert [e.action for e in entries[:2]] == ["rehearsal.start", "session.start"]
        start = entries[0]
        assert start.seq == 1 and start.subject == "lag-crisis" and start.actor.operator == "system"
        scenario_bytes = (SCENARIOS / "lag-crisis.yaml").read_bytes()
        assert start.data == {
            "scenario": "lag-crisis", "sha256": hashlib.sha256(scenario_bytes).hexdigest(),
            "speed": 10.0,
            "plan": {"path": str(plan.resolve()), "sha256": hashlib.sha256(plan.read_bytes()).hexdigest()}}
        r = prepared.rehearsal
        assert r.origin == start.wall and r.marker == "REHEARSAL 10x" and r.name == "lag-crisis"
        assert r.recon is not None and not r.resumed
    finally:
        cockpit.session("session.end", {"reason": "quit"})
        cockpit.close()

    # `cockpit run` on a plan whose journal is this rehearsal journal: refused, one line.
    rehearsal_journal = prepared.journal
    plan.write_text(plan.read_text().replace("journal: journal/ehr-core-2026-11.jsonl",
                                             f"journal: {rehearsal_journal}"))
    before = rehearsal_journal.read_bytes()
    for i, var in enumerate(SECRETS):  # the real night has its secrets
        monkeypatch.setenv(var, f"secret-value-{i}-xyz")
    code, err = _run("run", str(plan), "--operator", "m.okafor")
    assert code == 2 and err.count("\n") == 1, err
    assert "is a rehearsal journal (scenario lag-crisis)" in err and "cockpit rehearse" in err
    assert rehearsal_journal.read_bytes() == before  # nothing changed
    assert refuse_for_run(rehearsal_journal) is not None


def test_a_resumed_rehearsal_continues_scenario_time_where_the_journal_ended(tmp_path):
    plan = plan_copy(tmp_path)
    first = prepare(_args(plan), env={})
    assert isinstance(first, Prepared)
    cockpit = _start(first)
    origin = cockpit.journal.entries[0].wall
    # Scenario time passed in the first sitting: a note far into the night.
    cockpit.journal.append("note", actor=Actor.current("m.okafor"), note="half way")
    cockpit.session("session.end", {"reason": "quit"})
    last = cockpit.journal.entries[-1].wall
    cockpit.close()
    again = prepare(_args(plan, speed=20.0), env={})
    assert isinstance(again, Prepared)
    r = again.rehearsal
    assert r.resumed and r.origin == origin and r.speed == 20.0
    assert last - origin - 0.01 <= r.scenario_time() <= last - origin + 5
    cockpit = _start(again)
    try:
        actions = [e.action for e in cockpit.journal.entries]
        assert actions.count("rehearsal.start") == 1 and actions[0] == "rehearsal.start"
    finally:
        cockpit.close()


def test_a_rehearsal_refuses_a_real_journal_and_another_scenarios_journal(tmp_path):
    plan = plan_copy(tmp_path)
    # A real night's journal (its first entry is not rehearsal.start).
    real = tmp_path / "journal" / "real.jsonl"
    with Journal.open(real, cutover_id="ehr-core-2026-11") as j:
        j.append("session.start", actor=Actor.current("m.okafor"), data={})
    before = real.read_bytes()
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "clean.yaml"),
                     "--journal", str(real), "--operator", "m.okafor")
    assert code == 2 and err.count("\n") == 1, err
    assert "is not a rehearsal journal (its first entry is session.start)" in err
    assert real.read_bytes() == before

    # A rehearsal journal of the clean scenario, then the crisis pointed at it.
    prepared = prepare(_args(plan, scenario="clean.yaml"), env={})
    assert isinstance(prepared, Prepared)
    _start(prepared).close()
    before = prepared.journal.read_bytes()
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "lag-crisis.yaml"),
                     "--journal", str(prepared.journal), "--operator", "m.okafor")
    assert code == 2 and err.count("\n") == 1, err
    assert "rehearses another scenario file (clean" in err and "start a new one with --journal" in err
    assert prepared.journal.read_bytes() == before
    # The same scenario file resumes it (as far as the terminal check).
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "clean.yaml"),
                     "--journal", str(prepared.journal), "--operator", "m.okafor")
    assert code == 2 and err == "cockpit rehearse: needs a terminal (stdin and stdout must be a tty)\n"
    assert prepared.journal.read_bytes() == before
    resumed = prepare(_args(plan, scenario="clean.yaml", journal=str(prepared.journal)), env={})
    assert isinstance(resumed, Prepared) and resumed.rehearsal.resumed


def test_a_lab_scenario_leaves_the_real_sources_real_and_demands_their_secrets(tmp_path):
    plan = plan_copy(tmp_path)
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "lag-crisis-lab.yaml"),
                     "--operator", "m.okafor")
    assert code == 2 and "LEGACY_DB_PASSWORD is not set" in err and "PROM_TOKEN" not in err
    env = {"LEGACY_DB_PASSWORD": "pw-legacy-123", "CLOUD_DB_PASSWORD": "pw-cloud-456"}
    prepared = prepare(_args(plan, scenario="lag-crisis-lab.yaml"), env=env)
    assert isinstance(prepared, Prepared)
    scripted = {n for n, s in prepared.sources.items() if isinstance(s, ScriptedSource)}
    assert scripted == {"prometheus", "helpdesk", "clinical_portal"}
    assert {"legacy_db", "cloud_db"} <= set(prepared.sources) - scripted  # the real clients
    assert not prepared.journal.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_journal_bytes_never_traceback_and_are_never_changed(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("j")
    plan = plan_copy(folder)
    journal = folder / "j.jsonl"
    journal.write_bytes(data)
    first_entry(journal)
    refuse_for_run(journal)
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "clean.yaml"),
                     "--journal", str(journal), "--operator", "m.okafor")
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err
    assert journal.read_bytes() == data


def test_a_journal_without_a_readable_first_entry_is_refused_not_opened(tmp_path):
    plan = plan_copy(tmp_path)
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b'{"seq": 1, "this is": "not an entry"}\n')
    code, err = _run("rehearse", str(plan), "--scenario", str(SCENARIOS / "clean.yaml"),
                     "--journal", str(junk), "--operator", "m.okafor")
    assert code == 2 and err.count("\n") == 1, err
    assert "has no readable first entry" in err and "cockpit journal verify" in err
    assert junk.read_bytes() == b'{"seq": 1, "this is": "not an entry"}\n'


def test_the_plans_window_moves_onto_the_rehearsal_clock_and_stays_there(tmp_path):
    plan = plan_copy(tmp_path)
    text = (SCENARIOS / "clean.yaml").read_text()
    (tmp_path / "s.yaml").write_text(text.replace("\nreplaces:", "\nwindow_opens: 30m\nreplaces:", 1))
    t0 = 1_900_000_000.0
    prepared = prepare(_args(plan, scenario=str(tmp_path / "s.yaml")), env={}, now=t0)
    assert isinstance(prepared, Prepared)
    w = prepared.plan.cutover.window
    assert w.start.timestamp() == t0 + 1800 and (w.end - w.start).total_seconds() == 8 * 3600
    cockpit = _start(prepared)
    cockpit.close()
    # Resumed a day later: the same night, opening 30 minutes after the rehearsal began.
    again = prepare(_args(plan, scenario=str(tmp_path / "s.yaml"), journal=str(prepared.journal)),
                    env={}, now=t0 + 86400)
    assert isinstance(again, Prepared)
    assert again.plan.cutover.window == prepared.plan.cutover.window
    assert again.rehearsal.origin == cockpit.journal.entries[0].wall
