"""``cockpit timings JOURNAL [--baseline JOURNAL] [--plan CONFIG] [--json]``: exit 0 with the
report; 2 with one line for a journal that is unreadable or does not verify, and when no plan
is known; a changed plan is one warning line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.cli import main as cli
from cockpit.clock import ManualClock
from cockpit.journal import Actor, Journal
from cockpit.timings import timings_report
from tests.timings_night import PLAN, T0, load, rehearse, write_plan


def _run(capsys, *argv):
    code = cli([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def night(tmp_path):
    plan_path = write_plan(tmp_path)
    rehearse(plan_path, tmp_path / "night.jsonl")
    rehearse(plan_path, tmp_path / "base.jsonl", p2=1200.0, r2=600.0)
    return tmp_path


def test_text_report_from_the_plan_the_journal_names(night, capsys):
    code, out, err = _run(capsys, "timings", night / "night.jsonl")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"timings of {night / 'night.jsonl'}"
    assert lines[1] == "rehearsal lag-crisis at speed x10, 16 entries"
    assert lines[2] == "planned 51m on the critical path; actual 1h09m, rolled back"
    assert any(line.startswith("P2 ") and "25m" in line and "+5m over" in line for line in lines)
    assert "critical path, planned (51m): P2 G1 A1" in lines
    assert any(line.startswith("lag-spike") and "30s note" in line and "2m fail" in line
               for line in lines)
    assert any(line.startswith("hang") and line.count("not answered") == 2 for line in lines)
    assert "rollback drill: 39m of 35m planned +4m over" in lines
    assert all(len(line) <= 80 for line in lines[1:])


def test_json_round_trips_and_baseline_deltas(night, capsys):
    code, out, err = _run(capsys, "timings", night / "night.jsonl", "--baseline",
                          night / "base.jsonl", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    plan = load(night / "plan.yaml")
    night_entries = Journal.open(night / "night.jsonl", cutover_id="t-cut", readonly=True).entries
    base_entries = Journal.open(night / "base.jsonl", cutover_id="t-cut", readonly=True).entries
    assert report == timings_report(plan, night_entries, baseline_entries=base_entries)
    assert report["baseline"]["total"]["delta_s"] == 600.0
    code, out, _ = _run(capsys, "timings", night / "night.jsonl", "--baseline", night / "base.jsonl")
    assert code == 0 and "against the baseline (lag-crisis): total +10m slower" in out


def test_a_tampered_journal_is_not_evidence(night, capsys):
    path = night / "night.jsonl"
    data = bytearray(path.read_bytes())
    i = data.index(b'"P3"')
    data[i + 2] = ord("4")  # one byte: P3 becomes P4 in an entry's subject
    path.write_bytes(bytes(data))
    code, out, err = _run(capsys, "timings", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "does not verify" in err
    assert "timings from a damaged journal are not evidence" in err
    # The same for a baseline, and nothing is written either way.
    before = path.read_bytes()
    code, out, err = _run(capsys, "timings", night / "base.jsonl", "--baseline", path)
    assert code == 2 and err.count("\n") == 1 and "baseline" in err and "not evidence" in err
    assert path.read_bytes() == before


def test_a_torn_tail_does_not_verify(night, capsys):
    path = night / "night.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"seq": 17')
    code, _, err = _run(capsys, "timings", path)
    assert code == 2 and err.count("\n") == 1 and "not evidence" in err


@pytest.mark.parametrize("what", ["missing", "directory", "fifo"])
def test_an_unreadable_journal(night, capsys, what):
    path = night / "nope.jsonl"
    if what == "directory":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    code, out, err = _run(capsys, "timings", path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("cockpit timings: journal ") and "cannot be read" in err


def test_no_plan_known_says_give_plan(tmp_path, capsys):
    plan_path = write_plan(tmp_path)
    plan = load(plan_path)
    j = Journal.open(tmp_path / "j.jsonl", cutover_id=plan.cutover.id, clock=ManualClock(T0))
    j.append("session.start", actor=Actor.system(), data={"layout": "wide"})
    j.close()
    code, out, err = _run(capsys, "timings", tmp_path / "j.jsonl")
    assert code == 2 and out == "" and err.count("\n") == 1 and "--plan CONFIG" in err
    code, out, err = _run(capsys, "timings", tmp_path / "j.jsonl", "--plan", plan_path)
    assert code == 0 and err == "" and "not finished" in out


def test_session_start_may_name_the_plan(tmp_path, capsys):
    plan_path = write_plan(tmp_path)
    plan = load(plan_path)
    j = Journal.open(tmp_path / "j.jsonl", cutover_id=plan.cutover.id, clock=ManualClock(T0))
    j.append("session.start", actor=Actor.system(), data={"plan": "plan.yaml"})  # beside it
    j.close()
    code, out, err = _run(capsys, "timings", tmp_path / "j.jsonl", "--json")
    assert code == 0 and err == "" and json.loads(out)["rehearsal"] is None


def test_a_changed_plan_is_one_warning(night, capsys):
    (night / "plan.yaml").write_text(PLAN.replace("planned: 30m", "planned: 40m"))
    code, out, err = _run(capsys, "timings", night / "night.jsonl", "--json")
    assert code == 0 and err.count("\n") == 1 and "has changed since the journal was written" in err
    assert json.loads(out)["critical_path"]["planned_s"] == 3660.0  # the plan as it is now


def test_a_bad_plan_is_the_loaders_lines(night, capsys):
    bad = night / "bad.yaml"
    bad.write_text("version: 1\ncutover: [\n")
    code, out, err = _run(capsys, "timings", night / "night.jsonl", "--plan", bad)
    assert code == 2 and out == "" and f"cockpit timings: {bad}:" in err


_NIGHT: dict[str, bytes] = {}


def _night_bytes() -> tuple[bytes, bytes]:
    if not _NIGHT:
        with tempfile.TemporaryDirectory() as tmp:
            plan_path = write_plan(Path(tmp))
            rehearse(plan_path, Path(tmp) / "night.jsonl")
            _NIGHT["journal"] = (Path(tmp) / "night.jsonl").read_bytes()
            _NIGHT["plan"] = plan_path.read_bytes()
    return _NIGHT["journal"], _NIGHT["plan"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_bytes_are_a_report_or_one_line(data):
    """Whatever the journal file holds: exit 0 with a report, or 2 with one line; no
    traceback, and the file is left as it was."""
    journal, plan_text = _night_bytes()
    how = data.draw(st.sampled_from(["flip", "cut", "insert", "garbage"]))
    if how == "garbage":
        raw = data.draw(st.binary(max_size=300))
    else:
        i = data.draw(st.integers(0, len(journal) - 1))
        if how == "flip":
            raw = journal[:i] + bytes([journal[i] ^ data.draw(st.integers(1, 255))]) + journal[i + 1:]
        elif how == "cut":
            raw = journal[:i]
        else:
            raw = journal[:i] + data.draw(st.binary(min_size=1, max_size=20)) + journal[i:]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "plan.yaml").write_bytes(plan_text)
        path = Path(tmp) / "j.jsonl"
        path.write_bytes(raw)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli(["timings", str(path), "--plan", str(Path(tmp) / "plan.yaml")])
        assert path.read_bytes() == raw
        assert "Traceback" not in err.getvalue()
        if code == 0:
            assert out.getvalue().startswith("timings of ")
        else:
            assert code == 2 and out.getvalue() == ""
            assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("cockpit timings: ")


def test_a_set_aside_line_is_one_warning(night, capsys):
    (night / "night.jsonl.broken-20261128T230000Z").write_bytes(b'{"seq": 17, "torn')
    code, out, err = _run(capsys, "timings", night / "night.jsonl")
    assert code == 0 and out.startswith("timings of ")
    assert err.count("\n") == 1 and "set-aside journal line not acknowledged" in err


def test_the_plan_the_rehearsal_marker_records_is_found(tmp_path, capsys):
    """``cockpit rehearse``'s own rehearsal.start (cockpit.rehearsal.journal) names the plan
    the report is read against."""
    import hashlib

    from cockpit.rehearsal.journal import start_data, write_start

    plan_path = write_plan(tmp_path)
    plan = load(plan_path)
    j = Journal.open(tmp_path / "r.jsonl", cutover_id=plan.cutover.id, clock=ManualClock(T0))
    write_start(j, "clean", start_data("clean", "ab" * 32, 60.0, plan.path,
                                       hashlib.sha256(plan_path.read_bytes()).hexdigest()))
    j.close()
    code, out, err = _run(capsys, "timings", tmp_path / "r.jsonl", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["rehearsal"] == {"scenario": "clean", "speed": 60.0}
