"""``cockpit report JOURNAL|CONFIG --out DIR [--expect-head HASH]``: the evidence pack.

The journal is named as every verb names it (``cockpit.commands.journal_source``): a journal
file, or a plan whose shared journal table (``cutover.shared_journal``) or else whose
``cutover.journal`` is read. With a journal file, the plan is the one the journal names
(``rehearsal.start``/``session.start``); when it cannot be loaded the pack is still written,
without planned durations (one warning line). The signal history is
``<journal>.history.sqlite`` beside the journal (for a shared journal, beside the plan's
local copy), when present.

Exit codes (PRODUCT.md): 0 the pack is written and the journal verifies; 1 the pack is written
but the journal does NOT verify (damage, a cut tail, a recorded head not matched, a set-aside
line not acknowledged): the failure is the first thing in every file of the pack; 2 bad input
(unreadable journal, bad plan, bad flags, an ``--out`` that is not new, empty or a previous
pack), one line, nothing written.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

from cockpit.commands import journal_source
from cockpit.commands.common import emit, fail, one_line
from cockpit.commands.timings import recorded_plan
from cockpit.config import PlanError, load_plan
from cockpit.history.store import History, HistoryError, history_path
from cockpit.journal import JournalError, read_journal
from cockpit.journal.entry import _os_user
from cockpit.journal.shared import local_copy_path
from cockpit.journal.verify import parse_expect_head
from cockpit.report import render, source
from cockpit.report.pack import OutError, check_out

VERB = "report"


def _plan_for(entries, journal: Path, warnings: list[str]):
    path, _sha = recorded_plan(entries)
    if path is None:
        warnings.append("the journal does not name its plan: planned durations, step titles "
                        "and gate thresholds are not shown (give the plan instead of the journal)")
        return None
    p = Path(path)
    p = p if p.is_absolute() else journal.parent / p
    try:
        plan, _ = load_plan(p, for_run=False)
    except PlanError as exc:
        warnings.append(f"the plan the journal names cannot be loaded "
                        f"({one_line(exc.lines[0] if exc.lines else exc, 200)}): planned "
                        "durations are not shown")
        return None
    return plan


def _baseline(plan, warnings: list[str]) -> dict[str, float]:
    if plan is None or not plan.cutover.baseline:
        return {}
    if plan.rehearsed:
        return dict(plan.rehearsed)
    from cockpit.runbook import baseline

    try:
        return dict(baseline.read(plan).durations)
    except PlanError as exc:
        warnings.append(f"baseline not used: {one_line(exc.lines[0] if exc.lines else exc, 300)}")
        return {}


def _history(journal_path: Path | None, warnings: list[str]) -> History | None:
    if journal_path is None:
        return None
    path = history_path(journal_path)
    if not path.exists():
        return None
    try:
        return History.open(path, readonly=True)
    except HistoryError as exc:
        warnings.append(f"signal history not used: {one_line(exc, 300)}")
        return None


def main(args) -> int:
    out = Path(args.out)
    expect = getattr(args, "expect_head", None)
    try:
        if expect is not None:
            parse_expect_head(expect)
        check_out(out)
    except (ValueError, OutError) as exc:
        return fail(VERB, one_line(exc, 500))
    named = journal_source.name(args.source, VERB)
    if named is None:
        return 2
    warnings: list[str] = []
    try:
        if named.table is not None and named.plan is not None:
            data = journal_source.read_table(named.plan)
            # The history is beside the local copy (``journal.path``): this login's.
            beside, path = local_copy_path(named.plan, _os_user()), None
        else:
            assert named.path is not None
            raw = read_journal(named.path)
            if raw is None:
                return fail(VERB, f"cannot read {one_line(named.path, 300)}: no such file")
            data, beside, path = raw, named.path, named.path
        result, read = source.verify_and_read(data, expect, path)
    except (JournalError, ValueError, journal_source.SourceError) as exc:
        return fail(VERB, one_line(exc, 500))
    plan = named.plan
    if plan is None:
        plan = _plan_for(read.entries, Path(beside), warnings)
    rehearsed = _baseline(plan, warnings)
    history = _history(Path(beside), warnings)
    gc.disable()  # 100,000 entries make millions of small objects and no cycles: no GC passes
    now = time.time()
    try:
        try:
            files, facts = render.pack(read, result, data, plan=plan, history=history,
                                       baseline=rehearsed, journal_label=named.label,
                                       expect_head=expect, generated=now, warnings=warnings)
        except HistoryError as exc:  # damage found while reading it: the pack goes without
            warnings.append(f"signal history not used: {one_line(exc, 300)}")
            files, facts = render.pack(read, result, data, plan=plan, history=None,
                                       baseline=rehearsed, journal_label=named.label,
                                       expect_head=expect, generated=now, warnings=warnings)
    finally:
        gc.enable()
        if history is not None:
            history.close()
    try:
        render.write(out, files)
    except OutError as exc:
        return fail(VERB, one_line(exc, 500))
    except OSError as exc:
        return fail(VERB, f"cannot write the pack into {one_line(out, 300)}: "
                          f"{one_line(exc.strerror or exc, 200)} (nothing was left half written)")
    for w in warnings:
        emit(f"cockpit {VERB}: warning: {one_line(w, 500)}", err=True)
    v = facts.summary.verification
    emit(f"wrote {len(files) + 1} files to {one_line(out, 300)}: "
         f"{'journal verifies' if v.ok else 'JOURNAL DOES NOT VERIFY'}, {v.entries} entries, "
         f"head #{v.head_seq} {v.head_hash or ''}".rstrip())
    if not v.ok:
        emit(f"cockpit {VERB}: {one_line(v.words, 600)}", err=True)
    return 0 if v.ok else 1


if __name__ == "__main__":
    sys.exit(main(None))
