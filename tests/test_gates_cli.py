"""``cockpit gates`` end to end on plans that use only the simulated source."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.commands.gates import ONE_SHOT_NOTE
from tests.test_gates_semantics import write_plan

ROOT = Path(__file__).resolve().parent.parent

SIGNALS = {
    "lag": {"every": "1s", "timeout": "2s", "simulate": {"base": 1.0, "noise": 0.2}},
    "ok": {"every": "1s", "simulate": {"base": 1.0, "boolean": True}},
    "backlog": {"every": "1s", "simulate": {"base": 12}},
}
ALL_GO = {
    "caught_up": {"expr": "lag < 5", "max_staleness": "30s"},
    "healthy": {"expr": "ok", "max_staleness": "30s"},
}


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_all_go_exits_0_and_prints_symbol_word_gate_and_reason(tmp_path, capsys):
    path = write_plan(tmp_path, SIGNALS, ALL_GO)
    code, out, err = run(["gates", str(path)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    # The CLI reads on the real clock, so the simulated noise (base 1.0 +/- 0.2) is not pinned:
    # the value is one decimal (the threshold 5 has none), the rule in words.
    assert lines[0].startswith("✔ GO") and "caught_up" in lines[0]
    assert re.search(r"lag (0\.[89]|1\.[0-2]), needs < 5$", lines[0]), lines[0]
    assert lines[1].split() == ["✔", "GO", "healthy", "ok", "is", "true"]
    assert lines[-1] == "2 of 2 gates GO"
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert not (tmp_path / "journal.jsonl").exists()  # one-shot never journals


def test_no_go_and_hold_exit_1(tmp_path, capsys):
    gates = {**ALL_GO,
             "drained": {"expr": "backlog == 0", "max_staleness": "1m"},
             "steady": {"expr": "lag < 5", "hold_for": "10m", "max_staleness": "30s"}}
    code, out, _ = run(["gates", str(write_plan(tmp_path, SIGNALS, gates))], capsys)
    assert code == 1
    by_gate = {line.split()[2]: line for line in out.splitlines()[:4]}
    assert by_gate["drained"].startswith("✖ NO-GO") and "backlog 12, needs = 0" in by_gate["drained"]
    assert "◐ HOLD 0s/10m" in out and "holding 0s of 10m: lag " in out
    assert "2 of 4 gates GO" in out
    assert ONE_SHOT_NOTE in out


def test_json_one_object_per_gate_with_the_readings_used(tmp_path, capsys):
    gates = {**ALL_GO, "drained": {"expr": "backlog == 0 and ok", "max_staleness": "1m"}}
    code, out, _ = run(["gates", str(write_plan(tmp_path, SIGNALS, gates)), "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert [d["gate"] for d in doc] == ["caught_up", "healthy", "drained"]
    assert [d["state"] for d in doc] == ["GO", "GO", "NO-GO"]
    drained = doc[2]
    assert drained["reason"] == "backlog 12, needs = 0"
    assert set(drained["readings"]) == {"backlog", "ok"}
    reading = drained["readings"]["backlog"]
    assert set(reading) == {"value", "error", "ts", "age_s", "latency_ms"}
    assert reading["value"] == 12 and reading["error"] is None
    assert abs(reading["ts"] - time.time()) < 60 and reading["age_s"] >= 0
    assert drained["readings"]["ok"]["value"] is True


def test_signal_naming_an_unknown_source_is_bad_input(tmp_path, capsys):
    bad = write_plan(tmp_path, {"lag": {"source": "nowhere", "every": "1s"}}, {})
    code, out, err = run(["gates", str(bad)], capsys)
    assert code == 2 and out == "" and "nowhere" in err


@pytest.mark.parametrize("content, expect", [
    (None, "no such file"),
    ("cutover: [unclosed\n", "plan.yaml:"),
])
def test_bad_config_exits_2_with_one_line_errors(tmp_path, capsys, content, expect):
    path = tmp_path / "plan.yaml"
    if content is not None:
        path.write_text(content)
    code, out, err = run(["gates", str(path)], capsys)
    assert code == 2 and out == ""
    assert expect in err and "Traceback" not in err


def test_missing_environment_variable_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COCKPIT_TEST_UNSET_TOKEN", raising=False)
    path = write_plan(tmp_path, SIGNALS, ALL_GO)
    path.write_text(path.read_text().replace(
        "type: simulated", "type: simulated\n    description: ${COCKPIT_TEST_UNSET_TOKEN}"))
    code, _, err = run(["gates", str(path)], capsys)
    assert code == 2 and "COCKPIT_TEST_UNSET_TOKEN" in err


def test_builtin_recon_signals_come_from_the_journal(tmp_path, capsys):
    from cockpit.journal import Actor, Journal

    gates = {"recon_clean": {"expr": "recon.mismatched_rows == 0 and exceptions.open_critical == 0",
                             "max_staleness": "30m"}}
    path = write_plan(tmp_path, SIGNALS, gates)
    code, out, _ = run(["gates", str(path)], capsys)
    assert code == 1 and "recon.mismatched_rows: no reading yet" in out  # no journal yet

    journal = Journal.open(tmp_path / "journal.jsonl", cutover_id="sim-test")
    journal.append("recon.run", actor=Actor.system(),
                   data={"tables": {}, "mismatched_rows": 0, "failed_checks": 0, "layers": [],
                         "duration_s": 1.0, "opened": [], "closed": []})
    # The running cockpit holds the write lock; a one-shot `gates` only reads.
    code, out, err = run(["gates", str(path), "--json"], capsys)
    journal.close()
    assert code == 0, (out, err)
    doc = json.loads(out)
    assert doc[0]["state"] == "GO"
    assert doc[0]["reason"] == "recon.mismatched_rows 0, needs = 0; exceptions.open_critical 0, needs = 0"


class Watch:
    """``cockpit gates --watch`` in a subprocess, its stdout read line by line."""

    def __init__(self, plan: Path, *extra: str):
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit.cli", "gates", str(plan), "--watch", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, deadline_s: float = 20.0) -> str:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {deadline_s}s: {self.seen}")

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code, self.proc.stderr.read()


def journal_changes(path: Path) -> list[tuple[str, str, str | None]]:
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [(e["subject"], e["data"]["state"], e["data"]["old_state"])
            for e in entries if e["action"] == "gate.change"]


def test_watch_prints_changes_with_time_and_journals_them(tmp_path):
    gates = {"steady": {"expr": "lag < 5", "hold_for": "2s", "max_staleness": "30s"}}
    watch = Watch(write_plan(tmp_path, SIGNALS, gates))
    first = watch.wait_for("steady")
    assert "? UNKNOWN" in first and "lag: no reading yet" in first
    hold = watch.wait_for("HOLD")
    assert "(was UNKNOWN)" in hold and "holding 0s of 2s" in hold
    go = watch.wait_for("✔ GO")
    assert "(was HOLD" in go
    stamp = go.split()[0]
    assert stamp.endswith("Z") and stamp[:4].isdigit() and "T" in stamp
    code, err = watch.interrupt()
    assert code == 0, err
    assert "stopped: 1 of 1 gates GO" in err
    assert journal_changes(tmp_path / "journal.jsonl") == [
        ("steady", "HOLD", "UNKNOWN"), ("steady", "GO", "HOLD")]


def test_watch_no_journal_and_exit_1_when_not_all_go(tmp_path):
    gates = {"drained": {"expr": "backlog == 0", "max_staleness": "30s"}}
    watch = Watch(write_plan(tmp_path, SIGNALS, gates), "--no-journal", "--json")
    change = json.loads(watch.wait_for('"NO-GO"'))
    assert change["gate"] == "drained" and change["old_state"] == "UNKNOWN"
    assert change["reason"] == "backlog 12, needs = 0" and change["time"].endswith("Z")
    code, err = watch.interrupt()
    assert code == 1 and "stopped: 0 of 1 gates GO" in err
    assert not (tmp_path / "journal.jsonl").exists()


def test_watch_goes_on_without_journalling_when_the_journal_is_locked(tmp_path):
    from cockpit.journal import Journal

    journal = Journal.open(tmp_path / "journal.jsonl", cutover_id="sim-test")
    try:
        watch = Watch(write_plan(tmp_path, SIGNALS, ALL_GO))
        watch.wait_for("(was UNKNOWN)")
        code, err = watch.interrupt()
    finally:
        journal.close()
    assert code == 0
    assert "warning: gate changes are not recorded" in err and "in use by another cockpit" in err
    assert journal_changes(tmp_path / "journal.jsonl") == []
