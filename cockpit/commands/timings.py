"""``cockpit timings JOURNAL [--baseline JOURNAL] [--plan CONFIG] [--json]``: the timing report
of a (rehearsal) journal, see ``cockpit.timings``.

The journal is read by the one rule every reader applies (``cockpit.journal.lines``) and must
verify whole: timings from a damaged journal are not evidence, so damage or an unacknowledged
torn tail is one line and exit 2 (as is an unreadable file), and so for the baseline. The plan
is ``--plan``, else the one the journal names: ``rehearsal.start``'s ``data.plan.path``, or a
``session.start``'s ``data.plan`` (a path, or ``{"path", "sha256"}``). A plan file whose
SHA-256 is not the recorded one is still used, with one warning line on stderr.
Exit 0 with the report; 2 when the input is wrong.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from cockpit.commands.common import emit, fail, json_text, load_or_report, one_line
from cockpit.journal import Entry, JournalError, lines, quarantine, read_journal
from cockpit.timings import timings_report
from cockpit.timings.text import render

VERB = "timings"
NOT_EVIDENCE = "timings from a damaged journal are not evidence"


class Unusable(Exception):
    """One line for the user; the verb exits 2."""


def read_verified(path: Path, what: str = "journal") -> list[Entry]:
    """Every entry of the journal at ``path``, which must verify whole; else :class:`Unusable`."""
    shown = one_line(path, 300)
    try:
        raw = read_journal(path)
    except JournalError as exc:
        raise Unusable(f"{what} {shown} cannot be read: {one_line(exc, 300)}") from None
    if raw is None:
        raise Unusable(f"{what} {shown} cannot be read: no such file")
    parsed = lines.parse(raw)
    if parsed.damage is not None:
        raise Unusable(f"{what} {shown} does not verify at {one_line(parsed.damage, 300)}: "
                       f"{NOT_EVIDENCE} (see: cockpit journal verify)")
    if parsed.torn:
        raise Unusable(f"{what} {shown} does not verify: {one_line(parsed.tail_problem(), 200)}: "
                       f"{NOT_EVIDENCE} (see: cockpit journal verify)")
    try:
        waiting = [q for q in quarantine.find(path, parsed.entries) if not q.acknowledged]
    except JournalError as exc:
        emit(f"cockpit {VERB}: warning: {one_line(exc, 300)}", err=True)
        waiting = []
    for q in waiting:
        emit(f"cockpit {VERB}: warning: set-aside journal line not acknowledged: {q.describe()}",
             err=True)
    return parsed.entries


def recorded_plan(entries: list[Entry]) -> tuple[str | None, str | None]:
    """(path, sha256) of the plan the journal names, each None when it names none."""
    for e in entries:
        data = e.data if isinstance(e.data, dict) else {}
        if e.action == "rehearsal.start" or (e.action == "session.start" and "plan" in data):
            plan = data.get("plan")
            if isinstance(plan, str) and plan:
                return plan, None
            if isinstance(plan, dict) and isinstance(plan.get("path"), str) and plan["path"]:
                sha = plan.get("sha256")
                return plan["path"], sha if isinstance(sha, str) else None
    return None, None


def _plan_path(args, entries: list[Entry], journal: Path) -> tuple[Path, str | None]:
    recorded, sha = recorded_plan(entries)
    if getattr(args, "plan", None):
        return Path(args.plan), sha
    if recorded is None:
        raise Unusable(f"journal {one_line(journal, 300)} does not say which plan it ran: "
                       "give it with --plan CONFIG")
    path = Path(recorded)
    return (path if path.is_absolute() else journal.parent / path), sha


def _check_sha(path: Path, sha: str | None) -> None:
    if sha is None:
        return
    try:
        now = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return  # the plan loader says why it cannot read it
    if now != sha.lower():
        emit(f"cockpit {VERB}: warning: plan {one_line(path, 300)} has changed since the journal "
             f"was written (sha256 {now[:12]}, recorded {one_line(sha, 64)[:12]}): "
             "timings are against the plan as it is now", err=True)


def _check_cutover(entries: list[Entry], cutover: str, what: str, path: Path) -> None:
    if entries and entries[0].cutover != cutover:
        emit(f"cockpit {VERB}: warning: {what} {one_line(path, 300)} is of cutover "
             f"{one_line(entries[0].cutover, 64)}, the plan is {one_line(cutover, 64)}", err=True)


def main(args) -> int:
    journal = Path(args.journal)
    try:
        entries = read_verified(journal)
        baseline = Path(args.baseline) if getattr(args, "baseline", None) else None
        base_entries = read_verified(baseline, "baseline") if baseline is not None else None
        plan_path, sha = _plan_path(args, entries, journal)
    except Unusable as exc:
        return fail(VERB, str(exc))
    _check_sha(plan_path, sha)
    plan = load_or_report(str(plan_path), verb=VERB, for_run=False)
    if plan is None:
        return 2
    _check_cutover(entries, plan.cutover.id, "journal", journal)
    if baseline is not None and base_entries is not None:
        _check_cutover(base_entries, plan.cutover.id, "baseline", baseline)
    report: dict[str, Any] = timings_report(plan, entries, baseline_entries=base_entries)
    if getattr(args, "json", False):
        print(json_text(report))
        return 0
    emit(*render(plan, report, str(journal)))
    return 0


if __name__ == "__main__":
    sys.exit(main(None))
