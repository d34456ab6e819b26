"""``cockpit run CONFIG [--operator NAME] [--layout NAME] [--readonly]``: the cockpit on a plan."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cockpit.commands.common import fail, load_or_report
from cockpit.journal import JournalError, JournalLocked
from cockpit.journal.entry import _os_user


def main(args) -> int:
    plan = load_or_report(args.config, for_run=True)
    if plan is None:
        return 2
    operator = args.operator or os.environ.get("COCKPIT_OPERATOR") or _os_user()
    return launch("run", plan, plan.journal_path, operator, layout=args.layout,
                  readonly=bool(args.readonly))


def check_operator(plan, operator: str) -> str | None:
    if plan.operators.people and plan.role_of(operator) is None:
        names = ", ".join(p.name for p in plan.operators.people)
        return (f"operator '{operator}' is not in this plan's operators.people ({names}); "
                "use --operator NAME or $COCKPIT_OPERATOR")
    return None


def check_layout(layout: str | None) -> str | None:
    from cockpit.tui.layout import available

    names = available()
    if layout and names and layout not in names:
        return f"no layout '{layout}' (have: {', '.join(sorted(names))})"
    return None


def refusal(plan, operator: str, layout: str | None) -> str | None:
    """Why the cockpit cannot start here (checked before anything is created), or None."""
    why = check_operator(plan, operator) or check_layout(layout)
    if why:
        return why
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "needs a terminal (stdin and stdout must be a tty)"
    return None


def launch(verb: str, plan, journal_path: Path, operator: str, *, layout: str | None = None,
           readonly: bool = False, before_start=None) -> int:
    """Open the journal, run the app, journal session.start/end. Returns the exit code."""
    why = refusal(plan, operator, layout)
    if why:
        return fail(verb, why)
    from cockpit.tui.session import open_cockpit

    try:
        cockpit = open_cockpit(plan, journal_path, operator, readonly=readonly)
    except JournalLocked as exc:
        return fail(verb, f"{exc}; to watch without writing, add --readonly")
    except JournalError as exc:
        return fail(verb, str(exc))
    try:
        if before_start is not None and not cockpit.readonly:
            before_start(cockpit)
        cockpit.session("session.start", {"layout": layout, "readonly": cockpit.readonly})
        app = cockpit.app(layout=layout)
        app.run()
        lost = app.return_code == 129
        cockpit.session("session.end", {"reason": "terminal lost" if lost else "quit"})
        seq, digest = cockpit.journal.head
    finally:
        cockpit.journal.close()
    print(f"journal {journal_path}  head #{seq} {digest}")
    return 0
