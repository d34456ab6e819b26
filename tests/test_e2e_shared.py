"""Two people, two terminals, one shared journal: `cockpit run` twice in tmux at 80x24 against
one real PostgreSQL. The second sees the first's request within a second or so, only the two
together complete the two-person step, and `cockpit journal verify CONFIG` verifies the table.

Both cockpits run as this test's OS user, each from its own copy of the plan (two hosts in
real life): the plan maps no logins, so the two people are told apart by name and session
(tests/test_two_person.py covers the login rule)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from cockpit.journal import table
from tests.test_e2e_tmux import COCKPIT, tmux, wait_for

pytestmark = pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode
                                or not COCKPIT.exists(),
                                reason="needs tmux and the installed cockpit script")

PLAN = """\
cutover:
  id: e2e-shared
  name: Shared journal end to end
  journal: journal.jsonl
  window: {start: 2026-11-28T22:00:00Z, end: 2036-11-29T06:00:00Z}
  shared_journal: {source: jdb, table: cockpit_journal}
operators:
  roles:
    lead: {confirm: ["*"], approve_critical: true, rollback: true}
  people:
    - {name: ann, role: lead}
    - {name: bob, role: lead}
sources:
  jdb: {type: postgres, dsn: "${JOURNAL_DSN}", connect_timeout: 2s}
runbook:
  phases:
    - id: before
      title: Before
      steps:
        - {id: B1, title: Freeze the legacy EHR, owner: lead, planned: 5m, critical: true, two_person: true}
        - {id: B2, title: Announce, owner: lead, planned: 5m}
  rollback:
    phases:
      - id: back
        title: Back
        steps:
          - {id: R1, title: Switch back, owner: lead, planned: 10m}
"""


@pytest.fixture
def sessions():
    names = [f"cockpit-shared-{os.getpid()}-{i}" for i in (1, 2)]
    yield names
    for name in names:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def type_into(session: str, text: str, placeholder: str) -> None:
    """Type into the focused field once it has focus: until its placeholder has gone."""
    deadline = time.monotonic() + 15
    while placeholder in tmux("capture-pane", "-p", "-t", session):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never reached the field in {session}")
        tmux("send-keys", "-t", session, "BSpace", "BSpace")
        tmux("send-keys", "-t", session, "-l", text)
        time.sleep(0.3)


def _start(session: str, folder: Path, dsn: str, operator: str) -> None:
    command = (f"cd {folder} && env TERM=xterm-256color JOURNAL_DSN='{dsn}' COCKPIT_OPERATOR= "
               f"{COCKPIT} run plan.yaml --operator {operator}; echo EXITED $?; sleep 60")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    tmux("set-option", "-s", "escape-time", "10")


def test_two_people_complete_a_two_person_step_together(pg_factory, tmp_path, sessions):
    cluster = pg_factory.create()
    with cluster.connect() as conn:
        conn.autocommit = True
        for stmt in table.create_sql("cockpit_journal"):
            conn.execute(stmt)
    dsn = cluster.dsn()
    ann_dir, bob_dir = tmp_path / "ann", tmp_path / "bob"
    for folder in (ann_dir, bob_dir):
        folder.mkdir()
        (folder / "plan.yaml").write_text(PLAN)
    ann, bob = sessions
    _start(ann, ann_dir, dsn, "ann")
    _start(bob, bob_dir, dsn, "bob")
    wait_for(ann, "B1", 30)
    wait_for(bob, "B1", 30)

    tmux("send-keys", "-t", ann, "Enter")
    wait_for(ann, "type B1 to confirm")
    type_into(ann, "B1", "type B1 to confirm")
    tmux("send-keys", "-t", ann, "Enter")
    wait_for(ann, "AWAITING APPROVAL", 10)
    pane = wait_for(bob, "AWAITING APPROVAL", 10)
    assert "Traceback" not in pane

    tmux("send-keys", "-t", bob, "a")
    wait_for(bob, "asks to confirm B1")
    tmux("send-keys", "-t", bob, "Tab")
    type_into(bob, "B1", "type the step id (or ROLLBACK) to approve")
    tmux("send-keys", "-t", bob, "Enter")
    try:
        pane = wait_for(ann, "B1 confirmed by bob", 10)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nbob's pane:\n{tmux('capture-pane', '-p', '-t', bob)}") from None
    assert "AWAITING APPROVAL" not in pane.splitlines()[0]

    for session in (ann, bob):
        tmux("send-keys", "-t", session, "q")
        wait_for(session, "EXITED 0", 20)
    env = {**os.environ, "JOURNAL_DSN": dsn}
    verify = subprocess.run([str(COCKPIT), "journal", "verify", str(ann_dir / "plan.yaml")],
                            capture_output=True, text=True, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with cluster.connect() as conn:
        rows = [r[0] for r in conn.execute(
            "SELECT line FROM cockpit_journal WHERE cutover = 'e2e-shared' ORDER BY seq")]
    actions = [(line.split('"action":"')[1].split('"')[0]) for line in rows]
    assert "approval.request" in actions and actions.count("step.confirm") == 1
    # Each local copy is the table as far as it saw it (ann quit first: bob's session.end came
    # after), byte for byte; bob's, the last to close, is all of it.
    export = "".join(line + "\n" for line in rows).encode()
    [ann_copy] = ann_dir.glob("journal.*.jsonl")
    [bob_copy] = bob_dir.glob("journal.*.jsonl")
    assert bob_copy.read_bytes() == export
    assert export.startswith(ann_copy.read_bytes()) and b"approval.request" in ann_copy.read_bytes()
