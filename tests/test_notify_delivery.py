"""Delivery to a real HTTP server on 127.0.0.1 (tests/fixtures/httpserver.py): accepts, fails a
few times then accepts (one delivery), 429 with Retry-After (measured on a ManualClock), hangs
(the timeout costs an attempt, never the thread, and an action completes meanwhile), refuses
for good (a dead letter, retried or dismissed by a journalled entry), a flapping gate within its
dwell, the journal head every N entries, and a notifier reopened on the same outbox. Schedules
are checked with ``Notifier.step()`` on the manual clock (exact), the thread with a deadline."""

from __future__ import annotations

import json
import logging
import random
import threading
import time

from cockpit.clock import ManualClock
from cockpit.journal import Actor
from cockpit.notify import Notifier, outbox_path
from cockpit.session import open_session
from tests.fixtures.httpserver import HttpTestServer, Reply
from tests.notify_support import TOKEN, Recorder, hook_target, notify_plan, wait_for
from tests.test_runbook_rules import Cockpit


def _setup(tmp_path, http_server: HttpTestServer, recorder: Recorder, targets: str | None = None,
           env_name: str = "HOOK_CHAT"):
    http_server.route(f"/hook/{TOKEN}", recorder)
    plan = notify_plan(tmp_path, targets or hook_target(), {env_name: f"{http_server.url}/hook/{TOKEN}"})
    cockpit = Cockpit(plan)
    return plan, cockpit, Notifier(plan, cockpit.journal, cockpit.clock, rng=random.Random(7))


def test_an_accepted_message_is_sent_once_with_its_idempotency_key(tmp_path, http_server):
    recorder = Recorder()
    plan, c, notifier = _setup(tmp_path, http_server, recorder)
    e = c("dba1").confirm("S1", {})
    assert notifier.step() == 1
    assert recorder.keys() == [f"t-cut:{e.seq}:chat"]
    body = recorder.accepted[0].json()
    assert body["idempotency_key"] == f"t-cut:{e.seq}:chat"
    assert (body["event"], body["who"], body["seq"], body["hash"]) == ("step.confirm", "dba1", e.seq, e.hash)
    assert body["name"] == "test cutover" and body["when"].endswith("UTC")
    c.clock.advance_sync(3600)
    assert notifier.step() == 0  # nothing acknowledged is sent again
    assert notifier.counts()["sent"] == 1


def test_a_target_failing_a_few_times_then_accepting_gets_one_delivery(tmp_path, http_server):
    recorder = Recorder([Reply(500), Reply(502), Reply(503, headers={"Connection": "close"})])
    plan, c, notifier = _setup(tmp_path, http_server, recorder)
    c("dba1").confirm("S1", {})
    waits = []
    for _ in range(10):
        notifier.step()
        if recorder.accepted:
            break
        due = notifier._outbox.next_due()
        waits.append(due - c.clock.now())
        c.clock.advance_sync(due - c.clock.now())
    assert len(recorder.requests) == 4 and len(recorder.accepted) == 1
    # Backoff grows (2s, 4s, 8s bases, each with jitter between half and all of it).
    assert [1.0 <= waits[0] <= 2.0, 2.0 <= waits[1] <= 4.0, 4.0 <= waits[2] <= 8.0] == [True] * 3
    c.clock.advance_sync(3600)
    assert notifier.step() == 0 and len(recorder.accepted) == 1


def test_retry_after_is_honoured_on_the_session_clock(tmp_path, http_server):
    from email.utils import formatdate

    # An HTTP date is taken against the answer's own Date (the server's clock, real time).
    later = formatdate(time.time() + 31, usegmt=True)
    recorder = Recorder([Reply(429, headers={"Retry-After": "120"}),
                         Reply(503, headers={"Retry-After": later})])
    plan, c, notifier = _setup(tmp_path, http_server, recorder)
    c("dba1").confirm("S1", {})
    assert notifier.step() == 1
    c.clock.advance_sync(119.5)
    assert notifier.step() == 0  # not before the 120 s it asked for
    c.clock.advance_sync(0.5)
    assert notifier.step() == 1  # 503 with an HTTP date about 30 s after its Date
    c.clock.advance_sync(25)
    assert notifier.step() == 0
    c.clock.advance_sync(7)
    assert notifier.step() == 1
    assert len(recorder.accepted) == 1 and len(recorder.requests) == 3


def test_a_hanging_target_costs_a_timeout_and_an_action_completes_meanwhile(tmp_path, http_server):
    hanging = threading.Event()

    class HangOnce(Recorder):
        def __call__(self, request):
            reply = super().__call__(request)
            if reply.hang:
                hanging.set()
            return reply

    recorder = HangOnce([Reply(hang=True)])
    targets = hook_target(extra="      timeout: 2s\n")
    http_server.route(f"/hook/{TOKEN}", recorder)
    plan = notify_plan(tmp_path, targets, {"HOOK_CHAT": f"{http_server.url}/hook/{TOKEN}"})
    clock = ManualClock()
    session = open_session(plan, plan.journal_path, "dba1", clock=clock)
    try:
        assert session.notifier is not None
        first = session.ops.confirm("S1", {})
        assert hanging.wait(30), "the target never saw the first message"
        second = session.ops.confirm("S2", {})  # while the delivery thread waits on the hang
        assert session.journal.entries[-1] == second
        assert _row(session, first.seq).attempts == 0  # the attempt was still hanging
        wait_for(lambda: _row(session, first.seq).attempts >= 1, what="the attempt to time out")
        assert "Timeout" in _row(session, first.seq).error
        clock.advance_sync(600)  # past any backoff
        wait_for(lambda: session.notifier.counts()["sent"] == 2, what="both delivered")
        assert sorted(recorder.keys()) == sorted([f"t-cut:{first.seq}:chat", f"t-cut:{second.seq}:chat"])
    finally:
        session.close()


class _Row:
    def __init__(self, attempts, error):
        self.attempts, self.error = attempts, error or ""


def _row(session, seq):
    import sqlite3

    db = sqlite3.connect(outbox_path(session.journal.path))
    try:
        row = db.execute("SELECT attempts, error FROM message WHERE seq=?", (seq,)).fetchone()
    finally:
        db.close()
    return _Row(*row) if row else _Row(0, "")


def test_a_permanent_refusal_is_a_dead_letter_that_an_operator_retries_or_dismisses(tmp_path, http_server):
    recorder = Recorder([Reply(403), Reply(404)])
    plan, c, notifier = _setup(tmp_path, http_server, recorder)
    changes = []
    unsubscribe = notifier.on_change(lambda: changes.append(len(notifier.dead_letters())))
    e1 = c("dba1").confirm("S1", {})
    e2 = c("dba1").confirm("S2", {})
    assert notifier.step() == 2
    dead = notifier.dead_letters()
    assert [(d.key, d.target, d.seq, d.event, d.attempts) for d in dead] == [
        (f"t-cut:{e1.seq}:chat", "chat", e1.seq, "step.confirm", 1),
        (f"t-cut:{e2.seq}:chat", "chat", e2.seq, "step.confirm", 1)]
    assert dead[0].error.startswith("HTTP 403") and dead[0].last_at == c.clock.now()
    assert changes and changes[-1] == 2
    c.clock.advance_sync(3600)
    assert notifier.step() == 0  # a dead letter is not retried by itself
    retry = c("dba1").notify_retry(dead[0].key, "target fixed")
    dismiss = c("lead1").notify_dismiss(dead[1].key, "posted by hand in the bridge")
    assert (retry.action, retry.subject, retry.note) == ("notify.retry", dead[0].key, "target fixed")
    assert (dismiss.action, dismiss.subject) == ("notify.dismiss", dead[1].key)
    assert notifier.step() == 1
    assert recorder.keys() == [dead[0].key]
    assert notifier.dead_letters() == [] and notifier.counts()["dismissed"] == 1
    unsubscribe()
    before = len(changes)
    c("dba1").fail("S3", "disk full")
    notifier.step()
    assert len(changes) == before


def test_retry_and_dismiss_refuse_a_key_that_is_not_this_plans(tmp_path, http_server):
    import pytest

    from cockpit.runbook import Refused

    plan, c, notifier = _setup(tmp_path, http_server, Recorder())
    for key in ("other:1:chat", "t-cut:x:chat", "t-cut:1:nope", "t-cut:1"):
        with pytest.raises(Refused, match="not a message key"):
            c("dba1").notify_retry(key, "why")
    with pytest.raises(Refused, match="needs a note"):
        c("dba1").notify_dismiss("t-cut:1:chat", "  ")
    assert c.journal.entries == []


def test_a_flapping_gate_within_its_dwell_is_not_announced(tmp_path, http_server):
    recorder = Recorder()
    targets = hook_target(events="\n        - gate.change: {only: [NO-GO, UNKNOWN], dwell: 2m}\n")
    plan, c, notifier = _setup(tmp_path, http_server, recorder, targets)
    system = Actor.system()

    def turn(state, old):
        return c.journal.append("gate.change", actor=system, subject="g1",
                                data={"state": state, "old_state": old})

    turn("NO-GO", "GO")
    c.clock.advance_sync(30)
    turn("GO", "NO-GO")  # back within the dwell: never announced
    assert notifier.step() == 0
    c.clock.advance_sync(600)
    assert notifier.step() == 0 and notifier.counts()["superseded"] == 1
    e = turn("UNKNOWN", "GO")
    c.clock.advance_sync(119)
    assert notifier.step() == 0
    c.clock.advance_sync(1)
    assert notifier.step() == 1
    assert recorder.keys() == [f"t-cut:{e.seq}:chat"]
    assert recorder.accepted[0].json()["title"] == "gate g1: GO -> UNKNOWN"


def test_the_journal_head_goes_every_n_entries_to_the_targets_that_ask(tmp_path, http_server):
    recorder = Recorder()
    targets = hook_target(events="\n        - journal.head: {every: 3}\n")
    plan, c, notifier = _setup(tmp_path, http_server, recorder, targets)
    entries = [c("dba1").note(f"note {i}") for i in range(7)]
    assert notifier.step() == 2
    bodies = [r.json() for r in recorder.accepted]
    assert [(b["event"], b["seq"]) for b in bodies] == [("journal.head", 3), ("journal.head", 6)]
    assert entries[5].hash in bodies[1]["title"]  # the whole hash: a witness outside the host


def test_a_notifier_reopened_on_its_outbox_resumes_without_resending(tmp_path, http_server):
    recorder = Recorder()
    plan, c, first = _setup(tmp_path, http_server, recorder)
    e1 = c("dba1").confirm("S1", {})
    assert first.step() == 1
    recorder.answers = [Reply(500)]
    e2 = c("dba1").confirm("S2", {})
    assert first.step() == 1  # failed: still owed
    first.stop()
    e3 = c("dba1").fail("S3", "disk full")
    second = Notifier(plan, c.journal, c.clock)
    c.clock.advance_sync(600)
    assert second.step() == 2
    assert recorder.keys() == [f"t-cut:{e.seq}:chat" for e in (e1, e2, e3)]
    second.stop()


def test_no_secret_reaches_the_outbox_the_journal_or_the_logs(tmp_path, refused_url, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"{refused_url}/hook/{TOKEN}"
    plan = notify_plan(tmp_path, hook_target(extra="      max_attempts: 2\n"), {"HOOK_CHAT": url})
    c = Cockpit(plan)
    notifier = Notifier(plan, c.journal, c.clock)
    c("dba1").confirm("S1", {})
    notifier.step()
    c.clock.advance_sync(600)
    notifier.step()
    dead = notifier.dead_letters()
    assert len(dead) == 1 and dead[0].attempts == 2 and "ConnectError" in dead[0].error
    notifier.stop()
    for blob in (outbox_path(plan.journal_path).read_bytes(), plan.journal_path.read_bytes(),
                 caplog.text.encode(), dead[0].error.encode(), json.dumps(notifier.counts()).encode()):
        assert TOKEN.encode() not in blob and url.encode() not in blob


def test_the_outbox_file_is_private_like_the_journal(tmp_path, http_server):
    plan, c, notifier = _setup(tmp_path, http_server, Recorder())
    notifier.stop()
    assert outbox_path(plan.journal_path).stat().st_mode & 0o777 == 0o600


PATIENT = "Ingrid Vasquez-Holm"


def test_no_message_holds_a_patient_name_a_plan_token_or_live_markup(tmp_path, http_server):
    """Hostile titles and notes, a fake patient name in reconciliation data and a token of the
    plan's environment: what reaches Slack and Mattermost targets holds none of them live."""
    slack, mm = Recorder(), Recorder()
    http_server.route(f"/s/{TOKEN}", slack)
    http_server.route(f"/m/{TOKEN}", mm)
    events = "[step.fail, recon.finished, exception.clinical, gate.change, source.lost]"
    plan = notify_plan(tmp_path, hook_target("chat", "slack", events) + hook_target("mm", "mattermost", events),
                       {"HOOK_CHAT": f"{http_server.url}/s/{TOKEN}", "HOOK_MM": f"{http_server.url}/m/{TOKEN}"})
    c = Cockpit(plan)
    notifier = Notifier(plan, c.journal, c.clock)
    system = Actor.system()
    hostile = "@channel <!here> [click](http://evil.example) *now* <@U0123>"
    c("dba1").fail("S1", f"{hostile} pasted {TOKEN}")
    c.journal.append("exception.open", actor=system, subject="X-1", data={
        "category": "needs_clinical_approval", "title": f"{hostile} {PATIENT}",
        "sample": {"patient_name": PATIENT, "mrn": "000123"}})
    c.journal.append("recon.run", actor=system, data={
        "mismatched_rows": 3, "failed_checks": 1, "opened": ["X-1"], "closed": [],
        "tables": {"patients": {"sample": [PATIENT]}}, "units": {"u": {"note": PATIENT}}})
    c.journal.append("gate.change", actor=system, subject="g1", data={
        "state": "UNKNOWN", "old_state": "GO", "status": {"readings": {
            "lag_s": {"value": None, "error": f"connection refused for {PATIENT}"}}}})
    assert notifier.step() == 8
    bodies = [r.body.decode() for r in slack.accepted + mm.accepted]
    texts = [json.loads(b)["text"] for b in bodies]
    for body in bodies:
        assert PATIENT not in body and TOKEN not in body and "000123" not in body
    for text in texts:
        assert "@" not in text and "<" not in text
    # Slack shows [text](url) as typed; Mattermost renders Markdown: there it is escaped.
    assert all("](" not in json.loads(r.body)["text"] for r in mm.accepted)
    assert any("\\[click\\]\\(http" in json.loads(r.body)["text"] for r in mm.accepted)
    assert any("reconciliation finished: 3 mismatched rows, 1 failed checks, 1 exceptions opened"
               in t for t in texts)
    assert any("source.lost" in t and "lag_s" in t for t in texts)


def test_a_journal_replaced_at_the_same_path_gets_its_own_messages(tmp_path, http_server, caplog):
    recorder = Recorder(then=Reply(500))
    plan, c, first = _setup(tmp_path, http_server, recorder)
    for step in ("S1", "S2"):
        c("dba1").confirm(step, {})
    first.step()
    first.stop()
    c.journal.close()
    plan.journal_path.rename(tmp_path / "journal.old.jsonl")  # as `demo --new` keeps the old one
    recorder.then = Reply(200, b"ok")
    fresh = Cockpit(plan)
    second = Notifier(plan, fresh.journal, fresh.clock)
    assert "kept for another journal" in caplog.text and "(2 messages" in caplog.text
    assert second.counts()["pending"] == 0
    e = fresh("dba1").confirm("S1", {})  # seq 1 again, in another journal: not skipped
    assert second.step() == 1
    assert recorder.keys() == [f"t-cut:{e.seq}:chat"]
    second.stop()


def test_a_writing_session_delivers_and_a_watching_one_does_not(tmp_path, http_server):
    recorder = Recorder()
    http_server.route(f"/hook/{TOKEN}", recorder)
    plan = notify_plan(tmp_path, hook_target(), {"HOOK_CHAT": f"{http_server.url}/hook/{TOKEN}"})
    session = open_session(plan, plan.journal_path, "dba1", clock=ManualClock())
    watcher = None
    try:
        watcher = open_session(plan, plan.journal_path, "dba1", mode="readonly")
        assert watcher.notifier is None and session.notifier is not None
        e = session.ops.confirm("S1", {})
        wait_for(lambda: recorder.keys() == [f"t-cut:{e.seq}:chat"], what="the delivery")
        session.session("session.end", {"reason": "quit"})
        assert not session.notifier._thread.is_alive()  # stopped at session.end
    finally:
        if watcher is not None:
            watcher.close()
        session.close()
