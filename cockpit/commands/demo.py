"""``cockpit demo [--journal PATH] [--new] [--readonly]``: the cockpit on the built-in plan,
simulated signals only.

Without ``--journal`` the demo keeps one journal, ``$XDG_STATE_HOME/cutover-cockpit/
demo-journal.jsonl``, and resumes it when run again (as ``cockpit run`` resumes a plan's
journal), saying so in one line; ``--new`` sets the old one aside (renamed, never deleted).
"""

from __future__ import annotations

import fcntl
import os
import shlex
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.commands.common import emit, fail, load_or_report
from cockpit.commands.run import launch, refusal
from cockpit.config.plan import Window
from cockpit.journal import Actor, JournalError, JournalLocked, lines, read_journal
from cockpit.journal.file import read_holder

DEMO_PLAN = Path(__file__).resolve().parent.parent / "builtin" / "demo.yaml"
DEMO_OPERATOR = "demo.lead"

# A reconciliation the demo "already ran", so the recon panel and the triage queue have
# something real to show. Keys are synthetic ids, as in production: never patient values.
DEMO_RECON = {
    "tables": {
        "patients": {"source_rows": 48210, "target_rows": 48210, "missing": 0, "extra": 0, "changed": 0},
        "medication_orders": {"source_rows": 912044, "target_rows": 912044, "missing": 0, "extra": 0, "changed": 0},
        "allergies": {"source_rows": 30115, "target_rows": 30115, "missing": 0, "extra": 0, "changed": 0},
        "encounters": {"source_rows": 220871, "target_rows": 220871, "missing": 0, "extra": 0, "changed": 0},
    },
    "mismatched_rows": 0, "failed_checks": 0, "layers": ["counts", "content", "domain"],
    "duration_s": 412.5, "opened": ["demo-orphan-1", "demo-allergy-1"], "closed": [],
}
DEMO_EXCEPTIONS = [
    ("demo-orphan-1", {"layer": "domain", "table": "attachments", "keys": {"document_id": "D-77120"},
                       "kind": "orphan", "severity": "major", "category": "manual_review",
                       "columns": ["document_id"], "title": "Attachment refers to a missing document"}),
    ("demo-allergy-1", {"layer": "domain", "table": "allergies", "keys": {"allergy_id": "AL-40211"},
                        "kind": "required", "severity": "minor", "category": "needs_clinical_approval",
                        "columns": ["severity"], "title": "Allergy without a reaction severity"}),
]


def seed(cockpit) -> None:
    """Give a brand-new demo journal its simulated reconciliation run."""
    if cockpit.journal.entries:
        return
    system = Actor.system()
    for exc_id, data in DEMO_EXCEPTIONS:
        cockpit.journal.append("exception.open", actor=system, subject=exc_id, data=data)
    cockpit.journal.append("recon.run", actor=system, data=DEMO_RECON)


def demo_plan(now: datetime | None = None):
    """The built-in plan, its window moved to "tonight": opening 15 minutes from now, six
    hours long, so the header's countdown means something. (The file keeps a fixed window so
    tests and snapshots stay deterministic.)"""
    plan = load_or_report(str(DEMO_PLAN), verb="demo", for_run=True)
    if plan is None:
        return None
    start = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(minutes=15)
    window = Window(start=start, end=start + timedelta(hours=6))
    return plan.model_copy(update={"cutover": plan.cutover.model_copy(update={"window": window})})


def default_journal() -> Path | None:
    """Where the demo keeps its journal between runs: ``$XDG_STATE_HOME/cutover-cockpit/``
    (default ``~/.local/state/cutover-cockpit/``), or None without a usable home."""
    state = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state):  # the XDG rule: a relative value is ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        state = os.path.join(home, ".local", "state")
    return Path(state) / "cutover-cockpit" / DEMO_JOURNAL


DEMO_JOURNAL = "demo-journal.jsonl"


def _entries(path: Path) -> int | None:
    """How many entries the journal at ``path`` holds (None: there is none, or unreadable)."""
    try:
        raw = read_journal(path)
    except JournalError:
        return None
    return None if raw is None else len(lines.parse(raw).entries)


def _set_aside(path: Path, now: datetime) -> Path:
    """Rename the old demo journal (never deleted: it is a journal) for ``--new``; under its
    lock, so a demo still writing it is never pulled from under (``JournalLocked``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            exc = JournalLocked(f"journal {path} is in use by another cockpit")
            exc.holder = read_holder(path)
            raise exc from None
        return _rename_aside(path, now)
    finally:
        os.close(fd)


def _rename_aside(path: Path, now: datetime) -> Path:
    old = path.with_name(f"demo-journal-{now:%Y%m%dT%H%M%SZ}.jsonl")
    n = 1
    while old.exists():
        n += 1
        old = path.with_name(f"demo-journal-{now:%Y%m%dT%H%M%SZ}-{n}.jsonl")
    path.rename(old)
    return old


def main(args) -> int:
    plan = demo_plan()
    if plan is None:
        return 2
    operator = args.operator or DEMO_OPERATOR
    why = refusal(plan, operator, args.layout)
    if why:  # before any folder is made: a refused demo leaves nothing behind
        return fail("demo", why)
    if args.journal and args.new:
        return fail("demo", "--new starts a fresh default demo journal; with --journal PATH, "
                            "name a file that does not exist yet")
    readonly = bool(getattr(args, "readonly", False))
    resume = "cockpit demo"
    if args.journal:
        journal = Path(args.journal)
        resume = f"cockpit demo --journal {shlex.quote(args.journal)}"
    elif (stable := default_journal()) is None:
        journal = Path(tempfile.mkdtemp(prefix="cockpit-demo-")) / DEMO_JOURNAL
        resume = f"cockpit demo --journal {shlex.quote(str(journal))}"
        emit(f"cockpit demo: no $XDG_STATE_HOME or $HOME: a new demo journal in {journal}", err=True)
    else:
        journal = stable
        count = _entries(journal)
        if args.new and count is not None and not readonly:
            try:
                old = _set_aside(journal, datetime.now(UTC))
            except JournalLocked as exc:
                return fail("demo", f"the demo journal {journal} is in use by another cockpit "
                                    f"({exc.holder or 'who is not recorded'}): --new needs it closed")
            except OSError as exc:
                return fail("demo", f"cannot set the old demo journal {journal} aside: "
                                    f"{exc.strerror or type(exc).__name__}")
            emit(f"cockpit demo: new demo journal {journal} (the previous one kept as {old.name})",
                 err=True)
        elif count:
            emit(f"cockpit demo: resuming demo journal {journal} ({count} entries); "
                 "--new for a fresh one", err=True)
        else:
            emit(f"cockpit demo: new demo journal {journal}", err=True)
    watch = f"{resume} --readonly, or: cockpit status {shlex.quote(str(journal))}"
    return launch("demo", plan, journal, operator, layout=args.layout, before_start=seed,
                  readonly=readonly, resume=resume + (" --readonly" if readonly else ""),
                  watch=watch)
