"""``cockpit demo [--journal PATH] [--new] [--readonly]``: a rehearsal of the built-in plan
(``builtin/demo.yaml``) playing the built-in scenario (``builtin/demo-scenario.yaml``) at real
speed, no services needed: every panel moves within the first minute.

Without ``--journal`` the demo keeps one journal, ``$XDG_STATE_HOME/cutover-cockpit/
demo-journal.jsonl``, and resumes it when run again (as ``cockpit run`` resumes a plan's
journal), the scenario going on at the time the journal ended, saying so in one line;
``--new`` sets the old one aside (renamed, never deleted), and so does a demo journal that is
not a rehearsal of today's demo scenario (written by an older version). A journal named with
``--journal`` follows the rehearsal rules instead: one that is not a rehearsal of this
scenario is refused in one line.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cockpit.commands.common import emit, fail, load_or_report
from cockpit.commands.rehearse import assemble, begin, summarise
from cockpit.commands.run import launch, refusal
from cockpit.history.store import history_path
from cockpit.journal import Actor, JournalError, JournalLocked, checkpoint, lines, read_journal
from cockpit.journal.file import read_holder
from cockpit.rehearsal.journal import refuse_for_rehearsal
from cockpit.rehearsal.plan import on_rehearsal_clock
from cockpit.rehearsal.scenario import ScenarioError, check_against, read_scenario

DEMO_PLAN = Path(__file__).resolve().parent.parent / "builtin" / "demo.yaml"
DEMO_SCENARIO = DEMO_PLAN.with_name("demo-scenario.yaml")
DEMO_OPERATOR = "demo.lead"

# A reconciliation run on the demo plan, for tests and benchmarks that want the recon panel and
# the triage queue filled from the start (the demo itself plays its scenario's scripted runs).
# Keys are synthetic ids, as in production: never patient values.
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
    """Give a brand-new journal on the demo plan a reconciliation run (tests, benchmarks)."""
    if cockpit.journal.entries.with_action("recon.run"):  # found without decoding the rest
        return
    system = Actor.system()
    for exc_id, data in DEMO_EXCEPTIONS:
        cockpit.journal.append("exception.open", actor=system, subject=exc_id, data=data)
    cockpit.journal.append("recon.run", actor=system, data=DEMO_RECON)


def demo_plan(now: datetime | None = None):
    """The built-in plan, its window moved to "tonight": opening 15 minutes from now (the
    built-in scenario's ``window_opens``), six hours long, so the header's countdown means
    something. (The file keeps a fixed window so tests and snapshots stay deterministic.)"""
    plan = load_or_report(str(DEMO_PLAN), verb="demo", for_run=True)
    if plan is None:
        return None
    try:
        opens = read_scenario(DEMO_SCENARIO).scenario.window_opens
    except ScenarioError:
        opens = 0.0  # main() says the built-in scenario is unusable
    return on_rehearsal_clock(plan, (now or datetime.now(UTC)).timestamp(), opens, NIGHT_S)


NIGHT_S = 6 * 3600  # the demo night's window (the file's spans years, for tests)


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
    # The checkpoint vouched for the journal now renamed; without it the kept one is still read
    # in full, and nothing is left beside the new one.
    checkpoint.checkpoint_path(path).unlink(missing_ok=True)
    # The signal history goes with its journal, so the new one starts with none of it.
    if history_path(path).exists():
        history_path(path).rename(history_path(old))
    return old


def main(args) -> int:
    try:
        loaded = read_scenario(DEMO_SCENARIO)
    except ScenarioError as exc:  # a broken install: the built-in file is ours
        return fail("demo", f"the built-in scenario is unusable: {exc.lines[0]}")
    operator = args.operator or DEMO_OPERATOR
    plan = demo_plan()
    if plan is None:
        return 2
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
        why = refuse_for_rehearsal(journal, loaded.sha256, loaded.scenario.name)
        if why:
            return fail("demo", why)
    elif (stable := default_journal()) is None:
        journal = Path(tempfile.mkdtemp(prefix="cockpit-demo-")) / DEMO_JOURNAL
        resume = f"cockpit demo --journal {shlex.quote(str(journal))}"
        emit(f"cockpit demo: no $XDG_STATE_HOME or $HOME: a new demo journal in {journal}", err=True)
    else:
        journal = stable
        count = _entries(journal)
        older = bool(count) and refuse_for_rehearsal(journal, loaded.sha256,
                                                     loaded.scenario.name) is not None
        if older and readonly:
            return fail("demo", f"the demo journal {journal} was written by an older demo; "
                                "run cockpit demo once to start a new one")
        if (args.new or older) and count is not None and not readonly:
            try:
                old = _set_aside(journal, datetime.now(UTC))
            except JournalLocked as exc:
                return fail("demo", f"the demo journal {journal} is in use by another cockpit "
                                    f"({exc.holder or 'who is not recorded'}): --new needs it closed")
            except OSError as exc:
                return fail("demo", f"cannot set the old demo journal {journal} aside: "
                                    f"{exc.strerror or type(exc).__name__}")
            why_new = "" if args.new else " (it was written by an older demo)"
            emit(f"cockpit demo: new demo journal {journal}; the previous one is kept as "
                 f"{old.name}{why_new}", err=True)
        elif count:
            emit(f"cockpit demo: resuming demo journal {journal} ({count} entries), the "
                 "scenario where it ended; --new for a fresh one", err=True)
        else:
            emit(f"cockpit demo: new demo journal {journal}", err=True)
    prepared = _prepare(loaded, journal, operator)
    if isinstance(prepared, int):
        return prepared
    watch = f"{resume} --readonly, or: cockpit status {shlex.quote(str(journal))}"
    r = prepared.rehearsal
    return launch("demo", prepared.plan, journal, operator, layout=args.layout,
                  before_start=lambda cockpit: begin(cockpit, prepared), readonly=readonly,
                  resume=resume + (" --readonly" if readonly else ""), watch=watch,
                  clock=prepared.clock, sources=prepared.sources, rehearsal=r,
                  before_end=lambda cockpit: summarise(cockpit, prepared))


def _prepare(loaded, journal: Path, operator: str):
    """The demo's rehearsal (its window "tonight" from the rehearsal's own start: the
    journal's first entry on a resumed demo, so a restart shows the same night)."""
    plan = demo_plan()
    if plan is None:
        return 2
    problems = check_against(loaded.scenario, plan)
    if problems:  # a broken install: the two built-in files disagree
        return fail("demo", f"the built-in scenario does not fit the built-in plan: "
                            f"{problems[0].message}")
    plan_sha = hashlib.sha256(DEMO_PLAN.read_bytes()).hexdigest()
    return assemble(plan, loaded, journal, 1.0, operator, plan_sha)
