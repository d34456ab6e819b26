"""A cockpit process killed (SIGKILL) while it retries a message, then started again, delivers
that message exactly once: the outbox beside the journal kept it owed, and the restarted
process neither loses it nor derives it twice. Real processes, a real loopback server; the
child runs the delivery thread on a clock 200 times faster than real time (its backoff)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from cockpit.notify import outbox_path
from tests.fixtures.httpserver import Reply
from tests.notify_support import TOKEN, Recorder, hook_target, wait_for
from tests.test_runbook_rules import PLAN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent("""
    import sys, time
    from cockpit.clock import ScaledClock
    from cockpit.config.loader import load_plan
    from cockpit.journal import Actor, Journal
    from cockpit.notify import Notifier

    plan, _ = load_plan(sys.argv[1])
    clock = ScaledClock(200.0)
    journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id, clock=clock)
    notifier = Notifier(plan, journal, clock)
    if sys.argv[2] == "append":
        journal.append("step.fail", actor=Actor.current("dba1"), subject="S1", note="disk full")
    notifier.start()
    print("ready", flush=True)
    while True:
        time.sleep(1)
""")


def _child(plan, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(plan), mode], cwd=ROOT,
                            env={**os.environ, "HOOK_CHAT": os.environ["HOOK_CHAT"]},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _state(plan_dir) -> str | None:
    path = outbox_path(plan_dir / "journal.jsonl")
    if not path.exists():
        return None
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT state FROM message").fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return None if row is None else row[0]


def test_a_cockpit_killed_mid_retry_and_restarted_delivers_once(tmp_path, http_server, monkeypatch):
    recorder = Recorder(then=Reply(500))
    http_server.route(f"/hook/{TOKEN}", recorder)
    monkeypatch.setenv("HOOK_CHAT", f"{http_server.url}/hook/{TOKEN}")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN + "notify:\n  targets:\n" + hook_target(
        events="[step.fail]", extra="      max_attempts: 100\n"))
    first = _child(plan, "append")
    try:
        wait_for(lambda: len(recorder.requests) >= 3, 60, "the first process to retry")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert recorder.accepted == [] and _state(tmp_path) == "pending"
    recorder.then = Reply(200, b"ok")
    second = _child(plan, "resume")
    try:
        wait_for(lambda: _state(tmp_path) == "sent", 60, "the restarted process to deliver")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert len(recorder.accepted) == 1
    assert {r.headers["idempotency-key"] for r in recorder.requests} == {"t-cut:1:chat"}
