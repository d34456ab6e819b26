"""End to end in a real terminal: `cockpit demo` inside tmux at 80x24, keys sent as a person
would type them, the pane read back, then the journal verified by the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = Path(sys.executable).parent / "cockpit"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or not COCKPIT.exists(),
                                reason="needs tmux and the installed cockpit script")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def wait_for(session: str, text: str, deadline_s: float = 15.0) -> str:
    deadline = time.monotonic() + deadline_s
    pane = ""
    while time.monotonic() < deadline:
        pane = tmux("capture-pane", "-p", "-t", session)
        if text in pane:
            return pane
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear; the pane shows:\n{pane}")


@pytest.fixture
def session():
    name = f"cockpit-e2e-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


@pytest.mark.parametrize("env", [{"TERM": "xterm-256color"}, {"TERM": "xterm", "NO_COLOR": "1"}],
                         ids=["256color", "xterm-nocolor"])
def test_demo_confirm_first_step_and_verify(tmp_path, session, env):
    journal = tmp_path / "demo.jsonl"
    extra = " ".join(f"{k}={v}" for k, v in env.items())
    command = (f"cd {ROOT} && env {extra} COCKPIT_OPERATOR= {COCKPIT} demo --journal {journal}; "
               f"echo EXITED $?; sleep 60")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    tmux("set-option", "-s", "escape-time", "10")
    pane = wait_for(session, "Gates")
    pane = wait_for(session, "▶ B01")
    assert "UNKNOWN" in pane or "GO" in pane
    tmux("send-keys", "-t", session, "Enter")
    wait_for(session, "Confirm step")
    tmux("send-keys", "-t", session, "y")
    pane = wait_for(session, "✔ B01")
    assert "demo.lead" in pane and "▶ B02" in pane
    tmux("send-keys", "-t", session, "q")
    pane = wait_for(session, "EXITED 0")
    assert str(journal) in pane.replace("\n", "")
    verify = subprocess.run([str(COCKPIT), "journal", "verify", str(journal)],
                            capture_output=True, text=True, env={**os.environ})
    assert verify.returncode == 0, verify.stdout + verify.stderr
    lines = journal.read_text().splitlines()
    assert any('"action":"step.confirm"' in line and '"subject":"B01"' in line for line in lines)
    assert '"action":"session.end"' in lines[-1]


def test_run_on_a_locked_journal_says_so_in_one_line(tmp_path, session):
    from cockpit.commands.demo import DEMO_PLAN
    from cockpit.journal import Journal

    plan = tmp_path / "plan.yaml"
    plan.write_text(DEMO_PLAN.read_text())
    held = Journal.open(tmp_path / "demo-journal.jsonl", cutover_id="demo-cutover")
    try:
        command = (f"cd {tmp_path} && TERM=xterm {COCKPIT} run plan.yaml --operator demo.lead; "
                   f"echo EXITED $?; sleep 60")
        tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "120", "-y", "24", command)
        pane = wait_for(session, "EXITED")
        assert "EXITED 2" in pane and "--readonly" in pane
        assert "Traceback" not in pane
    finally:
        held.close()
