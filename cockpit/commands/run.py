"""``cockpit run CONFIG [--operator NAME] [--layout NAME] [--readonly]``: the cockpit on a plan."""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
import threading
from pathlib import Path

from cockpit.commands.common import emit, fail, load_or_report
from cockpit.journal import JournalError, JournalLocked
from cockpit.journal.entry import _os_user


def main(args) -> int:
    plan = load_or_report(args.config, verb="run", for_run=True)
    if plan is None:
        return 2
    operator = args.operator or os.environ.get("COCKPIT_OPERATOR") or _os_user()
    from cockpit.rehearsal.journal import refuse_for_run

    why = refuse_for_run(plan.journal_path)
    if why:
        return fail("run", why)
    config = shlex.quote(args.config)
    from cockpit.journal.shared import local_copy_path

    # With a shared journal the table is the record and this is the login's local copy.
    return launch("run", plan, local_copy_path(plan, _os_user()), operator, layout=args.layout,
                  readonly=bool(args.readonly),
                  resume=f"cockpit run {config}" + (" --readonly" if args.readonly else ""),
                  watch=f"cockpit run {config} --readonly, or: cockpit status {config}")


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
           readonly: bool = False, before_start=None, resume: str | None = None,
           watch: str | None = None, clock=None, sources=None, rehearsal=None,
           before_end=None) -> int:
    """Open the journal, run the app, journal session.start/end. Returns the exit code.

    ``resume``: the command that opens this journal again (printed on the way out);
    ``watch``: the commands that watch it without writing (advised when it is locked).
    A rehearsal (``cockpit rehearse``) passes its ``clock``, its ``sources`` (scripted ones for
    the replaced sources) and the ``rehearsal`` object the view reads
    (``cockpit.rehearsal.running.Rehearsal``); ``before_end(session)`` runs when the app has
    ended, before ``session.end`` (the rehearsal's summary)."""
    why = refusal(plan, operator, layout)
    if why:
        return fail(verb, why)
    resume = resume or f"cockpit {verb}"
    watch = watch or f"cockpit status {shlex.quote(str(journal_path))}"
    from cockpit.session import open_cockpit
    from cockpit.tui.app import CockpitApp

    try:
        cockpit = open_cockpit(plan, journal_path, operator, readonly=readonly, clock=clock,
                               sources=sources)
    except JournalLocked as exc:
        who = exc.holder or "it holds the write lock; who is not recorded"
        return fail(verb, f"journal {journal_path} is in use by another cockpit ({who}); "
                          f"to watch it without writing: {watch}")
    except JournalError as exc:
        return fail(verb, str(exc))
    try:
        if before_start is not None and not cockpit.readonly:
            try:
                before_start(cockpit)
            except JournalError as exc:  # e.g. another rehearsal wrote the journal first
                return fail(verb, str(exc))
        cockpit.session("session.start", {"layout": layout, "readonly": cockpit.readonly,
                                          "plan": plan_record(plan)})
        app = CockpitApp.of(cockpit, layout=layout, rehearsal=rehearsal)
        ending = _SessionEnd(cockpit)
        app.on_terminal_lost = ending.arm_watchdog
        app.run()
        code = app.return_code or 0
        # An abnormal end is journalled as what it was, never as "quit".
        reason = {0: "quit", 129: "terminal lost"}.get(code, "internal error")
        if before_end is not None and not cockpit.readonly:
            before_end(cockpit)  # queued on the writer, so session.end stays the last entry
        ending.end(reason)
        seq, digest = cockpit.journal.head
    finally:
        cockpit.journal.close()
    emit(f"journal {journal_path}  head #{seq} {digest}", f"resume with: {resume}")
    return 0 if reason == "quit" else (129 if code == 129 else 1)


def plan_record(plan) -> dict:
    """Which plan a session ran (``session.start``'s ``plan``): ``cockpit timings`` finds it
    from the journal alone, and says so when the file has changed since."""
    path = Path(plan.path).resolve()
    try:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        sha = None
    return {"path": str(path), "sha256": sha}


# After a lost terminal, how long the app may take to wind down before the watchdog ends
# the session itself.
TERMINAL_LOST_GRACE_S = 3.0


class _SessionEnd:
    """Writes session.end exactly once, and makes sure a lost terminal ends the process.

    Textual can wedge while closing its output to a terminal that is gone (its output queue
    waits on a pty nobody reads). The cockpit must not linger: the watchdog journals
    session.end, closes the journal and exits with 129, as a hang-up would.
    """

    def __init__(self, cockpit):
        self.cockpit = cockpit
        self.lock = threading.Lock()
        self.done = False
        self.finished = threading.Event()

    def end(self, reason: str) -> None:
        self.finished.set()
        with self.lock:
            if not self.done:
                self.done = True
                self.cockpit.session("session.end", {"reason": reason})

    def arm_watchdog(self) -> None:
        threading.Thread(target=self._watch, name="terminal-lost-watchdog", daemon=True).start()

    def _watch(self) -> None:
        if self.finished.wait(TERMINAL_LOST_GRACE_S):
            return
        self.end("terminal lost")
        self.cockpit.journal.close()
        os._exit(129)
