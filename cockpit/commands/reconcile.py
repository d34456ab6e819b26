"""``cockpit reconcile CONFIG [--table T] [--layer L] [--json] [--no-journal]``.

Runs the reconciliation layers and prints a table per layer (keys, column names and counts
only: no patient values), or the report as JSON with ``--json``. The run is journalled
(``exception.open``/``exception.close`` per change, then ``recon.run``) unless ``--no-journal``
or a running cockpit holds the journal (a one-line warning then).

Exit codes: 0 clean; 1 differences found, or a check that could not be made (an unreachable
database, a timed-out query: "not checked" is never clean, the error is shown); 2 bad input
(bad plan, no reconciliation section, unknown --table/--layer).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import cast

from cockpit.clock import RealClock
from cockpit.commands.common import fail, json_text, load_or_report, one_line, warn_quarantines
from cockpit.durations import format_duration
from cockpit.journal import Actor, Journal, JournalError, JournalLocked
from cockpit.journal.entry import _os_user
from cockpit.journal.shared import local_copy_path, open_plan_journal
from cockpit.recon.progress import progress_parts
from cockpit.recon.queue import titles_from
from cockpit.recon.runner import (
    ReconInputError,
    ReconReport,
    RunProgress,
    run_reconciliation,
    select,
)
from cockpit.runbook import Operations, Refused
from cockpit.text import clean

VERB = "reconcile"
MAX_ROWS_PER_LAYER = 25


def main(args) -> int:
    plan = load_or_report(args.config, verb=VERB, for_run=True)
    if plan is None:
        return 2
    recon = plan.reconciliation
    if recon is None:
        return fail(VERB, f"{plan.path.name} has no reconciliation section: nothing to compare")
    try:
        select(recon, args.table, args.layer)
    except ReconInputError as exc:
        return fail(VERB, str(exc))

    progress = _ProgressLine() if sys.stderr.isatty() else None
    try:
        report = asyncio.run(run_reconciliation(plan, tables=args.table, layers=args.layer,
                                                progress=progress))
    except ReconInputError as exc:
        return fail(VERB, str(exc))
    finally:
        if progress is not None:
            progress.clear()

    opened: list[str] = []
    closed: list[str] = []
    recorded = "not recorded (--no-journal)"
    if not args.no_journal:
        recorded, opened, closed = _journal(plan, report)
    if args.json:
        out = report.to_json()
        out.update(opened=opened, closed=closed, journal=recorded)
        print(json_text(out, sort_keys=True))
    else:
        print(render(plan, report, opened, closed, recorded))
    return 0 if report.clean else 1


def _journal(plan, report: ReconReport) -> tuple[str, list[str], list[str]]:
    operator = os.environ.get("COCKPIT_OPERATOR")
    actor = Actor.current(operator) if operator else Actor.system()
    try:
        journal = open_plan_journal(plan, local_copy_path(plan, _os_user()), clock=RealClock(),
                                    holder=actor)
    except JournalLocked as exc:
        who = f" ({one_line(exc.holder, 300)})" if exc.holder else ""
        print(f"cockpit {VERB}: warning: the journal is in use by a running cockpit{who}; this run was "
              "not recorded (record it from the cockpit, or rerun when it is closed)", file=sys.stderr)
        return "not recorded (journal locked)", [], []
    except JournalError as exc:
        print(f"cockpit {VERB}: warning: run not recorded: {clean(str(exc), 300, single_line=True)}",
              file=sys.stderr)
        return "not recorded (journal error)", [], []
    try:
        warn_quarantines(VERB, journal)
        if journal.readonly:
            print(f"cockpit {VERB}: warning: run not recorded: "
                  f"{clean(journal.readonly_reason or 'journal is read-only', 300, single_line=True)}",
                  file=sys.stderr)
            return "not recorded (journal read-only)", [], []
        # The one way a run is recorded: planned against the state as the batch is written
        # (on a shared journal, again after another cockpit appended first).
        ops = Operations(plan, cast(Journal, journal), actor)
        opened, closed = ops.record_recon(report, titles=titles_from(plan.reconciliation), actor=actor)
        where = "the shared journal" if journal.shared else str(plan.journal_path)
        return f"recorded in {where}", opened, closed
    except (JournalError, Refused) as exc:
        print(f"cockpit {VERB}: warning: run not fully recorded: {clean(str(exc), 300, single_line=True)}",
              file=sys.stderr)
        return "not fully recorded (journal error)", [], []
    finally:
        journal.close()


class _ProgressLine:
    """One self-overwriting stderr line: checks done, rows compared of the estimate, ETA."""

    def __init__(self) -> None:
        self.last = 0.0
        self.width = 0

    def __call__(self, p: RunProgress) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and p.units_done < p.units_total:
            return
        self.last = now
        parts = ["reconcile:", *progress_parts(p)]
        line = "  ".join(parts)[:100]
        sys.stderr.write("\r" + line.ljust(self.width))
        sys.stderr.flush()
        self.width = len(line)

    def clear(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def _keys(keys: tuple[str, ...]) -> str:
    shown = ", ".join(one_line(k, 40) for k in keys[:4])
    return shown + (f" +{len(keys) - 4}" if len(keys) > 4 else "")


def _unchecked_tables(report: ReconReport, layer: str) -> list[str]:
    """Tables this table layer was meant to compare but did not (another layer's error, a
    cancel): the runner records every comparison it completed in ``report.checked``."""
    if layer not in ("schema", "counts", "content"):
        return []
    return [name for name in report.tables if (layer, name, None) not in report.checked]


def render(plan, report: ReconReport, opened: list[str], closed: list[str], recorded: str) -> str:
    recon = plan.reconciliation
    lines = [f"reconcile {plan.cutover.id}: {recon.source} -> {recon.target}   "
             f"{format_duration(report.duration_s) if report.duration_s >= 1 else f'{report.duration_s:.2f}s'}, "
             f"{report.queries} queries" + ("   (partial: selected tables/layers)" if report.partial else "")]
    by_layer: dict[str, list] = {}
    for f in report.findings:
        by_layer.setdefault(f.layer, []).append(f)
    for layer, summary in report.layers.items():
        found = by_layer.get(layer, [])
        lines.append("")
        if summary.checks == 0:
            lines.append(f"{layer.upper()}  not configured")
            continue
        unchecked = _unchecked_tables(report, layer)
        if found or summary.errors:
            state = f"{summary.findings} finding(s), {summary.errors} error(s)"
        elif unchecked:  # stale is not green: a layer that never ran is not "clean"
            state = f"not checked for {len(unchecked)} table(s): {_keys(tuple(unchecked))}"
        else:
            state = "clean"
        lines.append(f"{layer.upper()}  {summary.checks} check(s): {state}")
        if layer == "content" and report.tables:
            lines.append(f"  {'TABLE':<22}{'SOURCE':>10}{'TARGET':>10}{'MISSING':>9}{'EXTRA':>7}{'CHANGED':>9}")
            for name, t in report.tables.items():
                lines.append(f"  {one_line(name, 21):<22}{_n(t.source_rows):>10}{_n(t.target_rows):>10}"
                             f"{_n(t.missing):>9}{_n(t.extra):>7}{_n(t.changed):>9}"
                             + (f"  error: {one_line(t.error, 80)}" if t.error else ""))
        if found:
            lines.append(f"  {'SEV':<9}{'KIND':<21}{'TABLE/CHECK':<22}{'KEYS':<20}DETAIL")
            for f in found[:MAX_ROWS_PER_LAYER]:
                detail = f.detail or ("columns: " + ", ".join(f.columns) if f.columns else "")
                lines.append(f"  {f.severity:<9}{one_line(f.kind, 20):<21}{one_line(f.check or f.table, 21):<22}"
                             f"{_keys(f.keys):<20}{one_line(detail, 100)}")
            if len(found) > MAX_ROWS_PER_LAYER:
                lines.append(f"  ... and {len(found) - MAX_ROWS_PER_LAYER} more (see --json)")
    lines.append("")
    if report.clean:
        verdict = "CLEAN"
    elif report.cancelled:
        verdict = "CANCELLED"
    elif len(report.errors) == len(report.findings):
        verdict = "NOT CHECKED"
    else:
        verdict = "DIFFERENCES"
    lines.append(f"{verdict}: {len(report.findings)} finding(s), {len(report.errors)} not checked, "
                 f"mismatched rows {_n(report.mismatched_rows)}, failed checks {report.failed_checks}")
    lines.append(f"exceptions: {len(opened)} opened, {len(closed)} closed; {recorded}")
    return "\n".join(lines)
