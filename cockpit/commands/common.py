"""Helpers every verb shares: loading a plan the same way, printing errors the same way."""

from __future__ import annotations

import sys

from cockpit.config import Plan, PlanError, load_plan


def load_or_report(path: str, *, for_run: bool = True) -> Plan | None:
    """The plan, or None after printing every problem to stderr (the caller exits 2)."""
    try:
        plan, warnings = load_plan(path, for_run=for_run)
    except PlanError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return None
    for line in warnings:
        print(line, file=sys.stderr)
    return plan


def fail(verb: str, message: str) -> int:
    print(f"cockpit {verb}: {message}", file=sys.stderr)
    return 2
