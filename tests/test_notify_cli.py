"""``cockpit notify test CONFIG [--target NAME]`` as a user runs it (a subprocess): one line per
target, exit 0 only if every target accepted, 1 if any did not, 2 for bad input; the webhook
URL (a secret) never printed, whatever the target answered."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.httpserver import Reply
from tests.notify_support import TOKEN, Recorder, hook_target
from tests.test_runbook_rules import PLAN


def _cockpit(*args, env: dict[str, str]):
    return subprocess.run([sys.executable, "-m", "cockpit.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def _plan(tmp_path, targets: str):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN + "notify:\n  targets:\n" + targets)
    return path


def test_every_target_delivered_is_exit_0_with_one_line_each(tmp_path, http_server):
    ok, also = Recorder(), Recorder()
    http_server.route(f"/a/{TOKEN}", ok)
    http_server.route(f"/b/{TOKEN}", also)
    plan = _plan(tmp_path, hook_target("chat", "slack") + hook_target("ops", "mattermost"))
    env = {"HOOK_CHAT": f"{http_server.url}/a/{TOKEN}", "HOOK_OPS": f"{http_server.url}/b/{TOKEN}"}
    proc = _cockpit("notify", "test", str(plan), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["chat (slack): delivered", "ops (mattermost): delivered"]
    assert len(ok.accepted) == len(also.accepted) == 1
    assert "test message" in ok.accepted[0].json()["text"]
    assert ok.accepted[0].headers["idempotency-key"].startswith("t-cut:test-")
    proc = _cockpit("notify", "test", str(plan), "--target", "ops", env=env)
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["ops (mattermost): delivered"]
    assert len(ok.accepted) == 1 and len(also.accepted) == 2


def test_a_target_that_fails_is_exit_1_and_its_url_is_never_printed(tmp_path, http_server, refused_url):
    http_server.route(f"/a/{TOKEN}", Recorder(then=Reply(403)))
    plan = _plan(tmp_path, hook_target("chat", "teams") + hook_target("ops", "webhook"))
    env = {"HOOK_CHAT": f"{http_server.url}/a/{TOKEN}", "HOOK_OPS": f"{refused_url}/b/{TOKEN}"}
    proc = _cockpit("notify", "test", str(plan), env=env)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "chat (teams): refused: HTTP 403: refused (not retried)"
    assert lines[1].startswith("ops (webhook): failed: ConnectError") and len(lines) == 2
    assert TOKEN not in proc.stdout + proc.stderr and refused_url not in proc.stdout + proc.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path, http_server):
    plan = _plan(tmp_path, hook_target("chat"))
    env = {"HOOK_CHAT": f"{http_server.url}/a/{TOKEN}"}
    proc = _cockpit("notify", "test", str(plan), "--target", "nope", env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "cockpit notify test: no target 'nope' in notify.targets (targets: chat)\n"
    bare = tmp_path / "bare.yaml"
    bare.write_text(PLAN)
    proc = _cockpit("notify", "test", str(bare), env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "has no notify section" in proc.stderr
    proc = _cockpit("notify", "test", str(plan), env={})  # ${HOOK_CHAT} unset
    assert proc.returncode == 2 and "environment variable HOOK_CHAT is not set" in proc.stderr
    proc = _cockpit("notify", env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert http_server.requests == []
