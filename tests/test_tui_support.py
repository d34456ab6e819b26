"""Shared wiring for the TUI tests: the demo plan (or a variant of it), a real journal in a
temp folder, a ManualClock, a fixed Actor, and the real engine with the real simulated source
whose values the tests pin with ``set_override``."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.clock import ManualClock
from cockpit.commands.demo import DEMO_PLAN, seed
from cockpit.config import load_plan
from cockpit.journal import Actor
from cockpit.session import open_cockpit

START = 1_800_000_000.0
ACTOR = Actor("demo.lead", "tester", "testhost", None, 4242, "session0000")

ALL_GO = {
    "replication_lag_s": 1.0, "interface_backlog": 0, "login_success_rate": 0.999,
    "chart_open_ms": 500.0, "order_error_rate": 0.1, "helpdesk_open": 4,
    "chart_access_tickets": 0, "rollback_snapshot_age_s": 3600.0,
}


def plan_variant(tmp_path: Path, replace: dict[str, str] | None = None):
    text = DEMO_PLAN.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    plan, _ = load_plan(path)
    return plan


def make_cockpit(tmp_path: Path, plan=None, *, seeded: bool = True, journal: Path | None = None):
    plan = plan or load_plan(DEMO_PLAN)[0]
    clock = ManualClock(start=START)
    cockpit = open_cockpit(plan, journal or tmp_path / "journal.jsonl", ACTOR.operator,
                           clock=clock, actor=ACTOR)
    if seeded:
        seed(cockpit)
    return cockpit


async def settle(cockpit, values: dict | None = None) -> None:
    """Pin every simulated signal and let the hold windows fill: the gates reach their state."""
    sim = cockpit.engine.sources["sim"]
    for name, value in {**ALL_GO, **(values or {})}.items():
        if isinstance(value, dict):
            sim.set_override(name, **value)
        else:
            sim.set_override(name, value=value)
    # The gate changes are journalled on the writer thread: wait for them before the clock
    # moves, so their timestamps (and the journal's hashes) are the same on every run.
    # A window is met only by readings that cover it: poll every 2 s (less than any demo
    # signal's every + timeout) through 200 s, waiting out each round's journal writes.
    for _ in range(101):
        await cockpit.engine.poll_once()
        await cockpit.writes_settled()
        await cockpit.clock.advance(2)
    await cockpit.engine.poll_once()
    await cockpit.writes_settled()


async def written(app, pilot) -> None:
    """After a key that writes: until the journal returned (the writer thread) and the view
    has redrawn from it. The cockpit never waits on the disk itself; tests wait here."""
    await app.writes_settled()
    await pilot.pause()


async def until(pilot, predicate, what: str, deadline_s: float = 10.0) -> None:
    """Poll the app (``pilot.pause``) until ``predicate()`` holds, or fail after a deadline."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def actions(cockpit) -> list[tuple[str, str | None]]:
    return [(e.action, e.subject) for e in cockpit.journal.entries]


def operator_entries(cockpit) -> list:
    """Entries an operator made (gate changes and the demo seed are the system's)."""
    return [e for e in cockpit.journal.entries if e.actor.operator != "system"]


def plain(widget) -> str:
    """What a panel shows, as plain text."""
    content = getattr(widget, "content", None)
    if content is None or content == "":
        content = widget.render()
    return getattr(content, "plain", str(content))
