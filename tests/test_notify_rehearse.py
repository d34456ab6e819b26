"""Done-when of issue 14, end to end: ``cockpit rehearse`` (the real verb, in tmux) on the
sample plan with a loopback webhook target posts each event of the rehearsal exactly once:
every gate turn, the lost sources and the journal head every 5 entries, each with the key
``cutover:seq:target`` of its entry, none twice, none missing once the cockpit has quit."""

from __future__ import annotations

import json
import os
import shutil
import time

from cockpit.config.loader import load_plan
from cockpit.journal import Entry
from cockpit.notify.events import messages_of
from tests.notify_support import TOKEN, Recorder, wait_for
from tests.test_e2e_tmux import COCKPIT, ROOT, pytestmark, session, tmux  # noqa: F401
from tests.test_e2e_tmux import wait_for as wait_for_pane

SCENARIO = ROOT / "sample_configs" / "scenarios" / "lag-crisis.yaml"
SAMPLE = ROOT / "sample_configs" / "ehr-cutover.yaml"
SECTION = """
notify:
  targets:
    bridge:
      type: webhook
      url: "${BRIDGE_HOOK}"
      events: [gate.change, source.lost, step.confirm, step.fail, decision, {journal.head: {every: 5}}]
"""


def _expected(plan, entries: list[Entry]) -> set[str]:
    target = plan.notify.targets["bridge"]
    keys = set()
    for e in entries:
        wanted = [m for m in messages_of(plan, e) if target.wants(m.event)]
        if wanted or e.seq % 5 == 0:
            keys.add(f"{e.cutover}:{e.seq}:bridge")
    return keys


def test_a_rehearsal_posts_each_event_to_a_loopback_webhook_exactly_once(tmp_path, session,  # noqa: F811
                                                                         http_server):
    recorder = Recorder()
    http_server.route(f"/bridge/{TOKEN}", recorder)
    plan_path = tmp_path / "ehr-cutover.yaml"
    shutil.copy(SAMPLE, plan_path)
    with open(plan_path, "a") as f:
        f.write(SECTION)
    hook = f"{http_server.url}/bridge/{TOKEN}"
    journal = tmp_path / "rehearsal.jsonl"
    command = (f"cd {tmp_path} && env TERM=xterm-256color BRIDGE_HOOK={hook} {COCKPIT} rehearse "
               f"{plan_path} --scenario {SCENARIO} --speed 120 --journal {journal} "
               f"--operator m.okafor; echo EXITED $?; sleep 60")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    tmux("set-option", "-s", "escape-time", "10")
    wait_for_pane(session, "REHEARSAL 120x", 30)
    wait_for_pane(session, "NO-GO   replication_caught_up", 90)
    wait_for(lambda: any("replication_caught_up" in r.body.decode() for r in recorder.accepted),
             60, "the NO-GO to reach the bridge")
    tmux("send-keys", "-t", session, "q")
    wait_for_pane(session, "EXITED 0", 60)
    plan, _ = load_plan(plan_path, for_run=False, env={**os.environ, "BRIDGE_HOOK": hook})
    entries = [Entry.from_json(json.loads(line)) for line in journal.read_text().splitlines()]
    expected = _expected(plan, entries)
    assert len(expected) >= 3  # session entries' heads, the gate turns, the lost sources
    deadline = time.monotonic() + 5
    while set(recorder.keys()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)  # the last message may still be on its way when the pane says EXITED
    keys = recorder.keys()
    assert sorted(keys) == sorted(set(keys)), "a message was posted twice"
    assert set(keys) == expected
    assert any(json.loads(r.body)["event"].startswith("gate.change") for r in recorder.accepted)
    for r in recorder.accepted:
        assert TOKEN not in r.body.decode()
