"""``cockpit notify test CONFIG [--target NAME]``: one test message to each comms target of the
plan (``notify.targets``), one line per target saying what happened. Nothing is journalled and
no outbox is touched: the test message has no journal entry (seq 0) and its own idempotency key
``CUTOVER:test-EPOCH:TARGET``. Exit 0 only if every target asked accepted it, 1 if any did not,
2 when the input is wrong (the plan, no notify section, an unknown ``--target``). A webhook URL
is never printed: a target is named by its plan name, and every error is redacted.
"""

from __future__ import annotations

import getpass
import os
import time

from cockpit.commands.common import emit, fail, load_or_report, one_line
from cockpit.notify.deliver import send
from cockpit.notify.events import probe_message

VERB = "notify test"


def main(args) -> int:
    if getattr(args, "notify_verb", None) != "test":
        return fail("notify", "say test (see cockpit notify --help)")
    plan = load_or_report(args.config, verb=VERB)
    if plan is None:
        return 2
    if plan.notify is None:
        return fail(VERB, f"{one_line(args.config, 300)} has no notify section (notify.targets)")
    names = list(plan.notify.targets)
    if args.target is not None:
        if args.target not in plan.notify.targets:
            return fail(VERB, f"no target '{one_line(args.target, 64)}' in notify.targets "
                        f"(targets: {', '.join(names)})")
        names = [args.target]
    who = os.environ.get("COCKPIT_OPERATOR") or _login()
    now = time.time()
    message = probe_message(plan, now, who)
    failed = 0
    for name in names:
        key = f"{plan.cutover.id}:test-{int(now)}:{name}"
        kind = plan.notify.targets[name].type
        outcome = send(plan, name, message, key)
        if outcome.delivered:
            emit(f"{name} ({kind}): delivered")
        else:
            failed += 1
            why = "refused" if outcome.permanent else "failed"
            emit(f"{name} ({kind}): {why}: {one_line(plan.redact(outcome.error), 300)}")
    return 1 if failed else 0


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name: still a test message
        return "unknown"
