"""``cockpit run CONFIG [--operator NAME] [--layout NAME] [--readonly]``: the cockpit on a plan.

Who the session acts as comes from the session (``cockpit.identity``): ``launch`` resolves it
once from the OS login (``session_login``) and ``--operator``; nothing in the running cockpit
changes it."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import sys
import threading
from pathlib import Path

from cockpit.commands.common import emit, fail, load_or_report
from cockpit.identity import Identity, resolve
from cockpit.journal import Actor, JournalError, JournalLocked
from cockpit.journal.entry import _os_user


def main(args) -> int:
    plan = load_or_report(args.config, verb="run", for_run=True)
    if plan is None:
        return 2
    from cockpit.rehearsal.journal import refuse_for_run

    why = refuse_for_run(plan.journal_path)
    if why:
        return fail("run", why)
    config = shlex.quote(args.config)
    from cockpit.journal.shared import local_copy_path

    # With a shared journal the table is the record and this is the login's local copy.
    return launch("run", plan, local_copy_path(plan, session_login()), args.operator,
                  layout=args.layout,
                  readonly=bool(args.readonly),
                  resume=f"cockpit run {config}" + (" --readonly" if args.readonly else ""),
                  watch=f"cockpit run {config} --readonly, or: cockpit status {config}")


def session_login() -> str:
    """The session's OS login: the real uid's user name, never ``$USER``/``$LOGNAME`` (anyone
    can set those). The one place the cockpit verbs take it from, so a test can give a
    session another login in-process (no second OS user is created)."""
    return _os_user()


def identity_of(plan, requested: str | None) -> Identity:
    """Who this session is on ``plan`` (``cockpit.identity.resolve``): ``requested`` is
    ``--operator`` (None: ``$COCKPIT_OPERATOR``, else the person the login maps to)."""
    return resolve(plan, requested, session_login(), os.environ)


def check_layout(layout: str | None) -> str | None:
    from cockpit.tui.layout import available

    names = available()
    if layout and names and layout not in names:
        return f"no layout '{layout}' (have: {', '.join(sorted(names))})"
    return None


def refusal(plan, operator: str | None, layout: str | None) -> str | None:
    """Why the cockpit cannot start here (checked before anything is created), or None;
    ``operator`` as asked (``--operator``, or None: see ``identity_of``)."""
    why = identity_of(plan, operator).refusal or check_layout(layout)
    if why:
        return why
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "needs a terminal (stdin and stdout must be a tty)"
    return None


def launch(verb: str, plan, journal_path: Path, operator: str | None, *,
           layout: str | None = None,
           readonly: bool = False, before_start=None, resume: str | None = None,
           watch: str | None = None, clock=None, sources=None, rehearsal=None,
           before_end=None) -> int:
    """Open the journal, run the app, journal session.start/end. Returns the exit code.

    ``resume``: the command that opens this journal again (printed on the way out);
    ``watch``: the commands that watch it without writing (advised when it is locked).
    A rehearsal (``cockpit rehearse``) passes its ``clock``, its ``sources`` (scripted ones for
    the replaced sources) and the ``rehearsal`` object the view reads
    (``cockpit.rehearsal.running.Rehearsal``); ``before_end(session)`` runs when the app has
    ended, before ``session.end`` (the rehearsal's summary).

    ``operator``: the name asked for (``--operator``; None: ``$COCKPIT_OPERATOR``, else the
    person the login maps to); the session acts as ``identity_of`` decides, once: a login
    mapped to nobody gets a read-only cockpit, told why in one line here and in the header."""
    why = refusal(plan, operator, layout)
    if why:
        return fail(verb, why)
    me = identity_of(plan, operator)
    if not me.may_write:
        readonly = True
        emit(f"cockpit {verb}: read-only: {me.why}", err=True)
    resume = resume or f"cockpit {verb}"
    watch = watch or f"cockpit status {shlex.quote(str(journal_path))}"
    from cockpit.session import open_cockpit
    from cockpit.tui.app import CockpitApp

    actor = dataclasses.replace(Actor.current(me.operator), os_user=me.login)
    try:
        cockpit = open_cockpit(plan, journal_path, me.operator, readonly=readonly, clock=clock,
                               sources=sources, actor=actor)
    except JournalLocked as exc:
        who = exc.holder or "it holds the write lock; who is not recorded"
        return fail(verb, f"journal {journal_path} is in use by another cockpit ({who}); "
                          f"to watch it without writing: {watch}")
    except JournalError as exc:
        return fail(verb, str(exc))
    if not me.may_write:  # what every refused action says
        cockpit.journal.readonly_reason = me.why
    try:
        if before_start is not None and not cockpit.readonly:
            try:
                before_start(cockpit)
            except JournalError as exc:  # e.g. another rehearsal wrote the journal first
                return fail(verb, str(exc))
        cockpit.session("session.start", {"layout": layout, "readonly": cockpit.readonly,
                                          "plan": plan_record(plan), "identity": me.mode})
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
