"""A dropped SSH connection, for real: `cockpit demo` in a tmux pane, then the pane's terminal
goes away. The process must notice, end (not spin) within seconds, and leave a journal whose last
entry is session.end and which `cockpit journal verify` accepts.

Two ways a terminal is lost:
- the whole pty closes (`tmux kill-session`): the kernel sends SIGHUP;
- only stdin hangs up (its pty's other side closes, no signal): the app's 1 Hz poll sees HUP.
  The cockpit reads a second pty this test holds the master of, while it draws into tmux.
"""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import time
import uuid

import pytest

from tests.fixtures.pg import pid_alive
from tests.test_e2e_tmux import COCKPIT, ROOT, tmux, wait_for
from tests.test_e2e_tmux import pytestmark as needs_tmux

pytestmark = needs_tmux
# The app winds down in well under a second; if Textual wedges closing a dead terminal, the
# run watchdog (commands/run.py, 3 s grace) ends the session and the process.
EXIT_DEADLINE_S = 8.0


@pytest.fixture
def session():
    """A uniquely named tmux session, killed by name at teardown; any cockpit it started and
    that is still alive then (a failed test) is killed by its pid."""
    name = f"cockpit-hup-{uuid.uuid4().hex[:8]}"
    started: list[int] = []
    yield name, started
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    for pid in started:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_demo(tmp_path, session, stdin: str | None = None) -> tuple[int, object]:
    name, started = session
    journal = tmp_path / "demo.jsonl"
    pidfile = tmp_path / "cockpit.pid"
    redirect = f" < {stdin}" if stdin else ""
    # exec: the pid written is the cockpit's own, so the test can watch that process end.
    inner = (f"echo $$ > {pidfile}; exec env TERM=xterm-256color COCKPIT_OPERATOR= "
             f"{COCKPIT} demo --journal {journal}{redirect}")
    command = f"cd {ROOT} && sh -c '{inner}'"
    tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", command)
    wait_for(name, "Gates")
    wait_for(name, "▶ B01")  # the screen is up and the first refresh has drawn the runbook
    pid = int(pidfile.read_text().strip())
    started.append(pid)
    assert pid_alive(pid)
    return pid, journal


def assert_gone_and_journal_closed(pid: int, journal) -> None:
    deadline = time.monotonic() + EXIT_DEADLINE_S
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"cockpit {pid} still running {EXIT_DEADLINE_S}s after the hangup"
        time.sleep(0.05)
    lines = journal.read_text().splitlines()
    assert '"action":"session.start"' in "".join(lines)
    assert '"action":"session.end"' in lines[-1], lines[-1]
    assert '"terminal lost"' in lines[-1]
    verify = subprocess.run([str(COCKPIT), "journal", "verify", str(journal)],
                            capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_killed_tmux_session_sighup_ends_the_cockpit_cleanly(tmp_path, session):
    pid, journal = start_demo(tmp_path, session)
    tmux("kill-session", "-t", session[0])  # the pty closes: the cockpit gets SIGHUP
    assert_gone_and_journal_closed(pid, journal)


def test_hung_up_stdin_alone_ends_the_cockpit_cleanly(tmp_path, session):
    master, slave = pty.openpty()
    try:
        path = os.ttyname(slave)
        os.close(slave)
        pid, journal = start_demo(tmp_path, session, stdin=path)
    finally:
        os.close(master)  # stdin hangs up; no signal is sent (not its controlling terminal)
    assert_gone_and_journal_closed(pid, journal)
