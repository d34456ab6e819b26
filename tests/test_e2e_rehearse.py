"""A game day end to end in a real terminal: `cockpit rehearse` on the sample plan with the
lag-crisis scenario at 120x speed inside tmux at 80x24. The header says REHEARSAL, the lag
spike (25m of scenario time, about 13 s here) turns the replication gate NO-GO on screen, the
operator answers with a note, and quitting prints the timing report with the time to detect;
the journal verifies and ends with rehearsal.summary then session.end."""

from __future__ import annotations

import json
import subprocess
import time

from tests.test_e2e_tmux import COCKPIT, ROOT, pytestmark, session, tmux, wait_for  # noqa: F401

SCENARIO = ROOT / "sample_configs" / "scenarios" / "lag-crisis.yaml"
PLAN = ROOT / "sample_configs" / "ehr-cutover.yaml"


def test_a_rehearsal_in_tmux_ends_with_its_timing_report(tmp_path, session):  # noqa: F811
    journal = tmp_path / "rehearsal.jsonl"
    command = (f"cd {tmp_path} && env TERM=xterm-256color {COCKPIT} rehearse {PLAN} "
               f"--scenario {SCENARIO} --speed 120 --journal {journal} --operator m.okafor; "
               f"echo EXITED $?; sleep 60")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    tmux("set-option", "-s", "escape-time", "10")
    wait_for(session, "REHEARSAL 120x", 30)
    # The spike begins at 25m of scenario time and rises over 10m: NO-GO within about 30 s here.
    wait_for(session, "✖ NO-GO   replication_caught_up", 90)
    tmux("send-keys", "-t", session, "n")
    wait_for(session, "Note to the journal")
    tmux("send-keys", "-t", session, "-l", "replication lag seen, paging the DBA")
    tmux("send-keys", "-t", session, "Enter")
    # Until the note is in the journal (the pane's header counts entries; the file is the proof).
    deadline = time.monotonic() + 30
    while '"action":"note"' not in journal.read_text():
        assert time.monotonic() < deadline, "the note never reached the journal"
        time.sleep(0.05)
    tmux("send-keys", "-t", session, "q")
    wait_for(session, "EXITED 0", 30)
    history = tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session)
    assert "timings of" in history and "rehearsal lag-crisis at speed x120" in history
    lag = next(line for line in history.splitlines() if line.startswith("lag-spike"))
    assert "note" in lag and "not answered" in lag  # detected by the note, never decided
    verify = subprocess.run([str(COCKPIT), "journal", "verify", str(journal)], capture_output=True,
                            text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert entries[0]["action"] == "rehearsal.start" and entries[0]["subject"] == "lag-crisis"
    assert [e["action"] for e in entries[-2:]] == ["rehearsal.summary", "session.end"]
    faults = [f for f in entries[-2]["data"]["faults"] if f["id"] == "lag-spike"]
    assert faults and faults[0]["detected_by"]["action"] == "note" and faults[0]["detect_s"] > 0
