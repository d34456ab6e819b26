"""Shared pieces of the notify tests: a plan with a notify section, a target that records what
it accepted (by idempotency key), and waiting for the delivery thread with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cockpit.config.loader import load_plan
from tests.fixtures.httpserver import Reply, Request
from tests.test_runbook_rules import PLAN

TOKEN = "T0KEN-sup3r-s3cret-hook-9f8e7d"


def notify_plan(tmp_path, targets: str, env: dict[str, str], text: str = PLAN,
                name: str = "plan.yaml"):
    path = tmp_path / name
    path.write_text(text + "notify:\n  targets:\n" + targets)
    plan, _ = load_plan(path, env=env)
    return plan


def hook_target(name: str = "chat", kind: str = "webhook", events: str = "[step.confirm, step.fail]",
                extra: str = "") -> str:
    return (f"    {name}:\n      type: {kind}\n      url: \"${{HOOK_{name.upper()}}}\"\n"
            f"      events: {events}\n{extra}")


class Recorder:
    """A webhook target: ``answers`` is consumed one per request (then ``then``); it records
    each request and each accepted delivery."""

    def __init__(self, answers: list[Reply] | None = None, then: Reply | None = None):
        self.answers = list(answers or [])
        self.then = then or Reply(200, b"ok")
        self.requests: list[Request] = []
        self.accepted: list[Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            reply = self.answers.pop(0) if self.answers else self.then
            if 200 <= reply.status < 300 and not reply.hang:
                self.accepted.append(request)
            return reply

    def keys(self) -> list[str]:
        with self.lock:
            return [r.headers.get("idempotency-key", "") for r in self.accepted]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll a condition of another thread (the delivery thread) with a generous deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or condition}")
