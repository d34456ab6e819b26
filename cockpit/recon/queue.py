"""The exception queue across runs: every finding is an exception until a later run no longer
reproduces it. Its whole history (open, triage, close, re-open) lives in the journal.

Closing is the dangerous direction, so it fails closed: an open exception is closed only when
this run fully examined its scope (its layer and table, and its domain check when known) and the
finding is gone. An exception on a table that was skipped, errored, timed out or was cut short
stays open.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from cockpit.config.recon import Reconciliation
from cockpit.recon.findings import Finding

CLOSE_REASON = "no longer reproduces"


def _get(state: Any, name: str) -> Any:
    if isinstance(state, Mapping):
        return state.get(name)
    return getattr(state, name, None)


def _is_open(state: Any) -> bool:
    return (_get(state, "status") or "open") == "open"


def _scopes(state: Any) -> list[tuple[str, str, str | None]]:
    layer, table, check = _get(state, "layer"), _get(state, "table"), _get(state, "check")
    if not isinstance(layer, str) or not isinstance(table, str):
        return []
    return [(layer, table, check if isinstance(check, str) else None)]


def plan_exception_changes(
    open_exceptions: Mapping[str, Any],
    findings: Collection[Finding],
    *,
    checked: Collection[tuple[str, str, str | None]],
) -> tuple[list[Finding], list[str]]:
    """``(new findings to open, ids to close)``. Pure.

    ``open_exceptions`` maps id to an ``ExceptionState`` or its dict (entries whose status is
    not "open" are ignored, so a closed one that reproduces is opened again); ``checked`` is
    the set of scopes this run fully examined (``ReconReport.checked``).
    """
    current = {f.id: f for f in findings}
    still_open = {eid: st for eid, st in open_exceptions.items() if _is_open(st)}
    new = [f for fid, f in current.items() if fid not in still_open]
    checked_set = set(checked)
    closed = sorted(
        eid
        for eid, st in still_open.items()
        if eid not in current and any(s in checked_set for s in _scopes(st))
    )
    return new, closed


def suggest_category(f: Finding) -> Finding:
    """The triage category a content finding starts with: a missing or changed row on a table
    whose plan calls that critical needs a clinician; extra rows need a look. Only hashes are
    compared, so whitespace-only changes cannot be told apart and are never auto_correct_safe."""
    if f.layer != "content":
        return f
    if f.kind in ("missing", "changed") and f.severity == "critical":
        category = "needs_clinical_approval"
    elif f.kind in ("missing", "changed", "extra"):
        category = "manual_review"
    else:
        return f
    return replace(f, category=category) if category != f.category else f


def exception_data(finding: Finding, title: str | None = None) -> dict:
    data = finding.to_json()
    del data["id"]
    data["title"] = title or _title(finding)
    return data


def _title(f: Finding) -> str:
    words = f.kind.replace("_", " ")
    return f"{f.layer} {words} in {f.table}" + (f" ({f.check})" if f.check else "")


def titles_from(recon: Reconciliation | None) -> dict[str, str]:
    """Domain check titles from the plan, by check id."""
    return {c.id: c.title for c in (recon.domain if recon is not None else ()) if c.title}


def record_run(
    journal, actor, report, state, *, titles: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """Append ``exception.open`` per new finding, ``exception.close`` per id no longer found,
    then one ``recon.run``, all in one durable batch (one fsync, however many findings).
    Returns ``(opened, closed)`` ids. On failure the journal's error is raised and nothing of
    the run is acknowledged."""
    titles = titles or {}
    new, closed = plan_exception_changes(state.exceptions, report.findings, checked=report.checked)
    opened = [f.id for f in new]
    items: list[dict] = [
        {"action": "exception.open", "subject": f.id,
         "data": exception_data(f, titles.get(f.check or ""))}
        for f in new
    ]
    items += [{"action": "exception.close", "subject": eid, "data": {"reason": CLOSE_REASON}}
              for eid in closed]
    items.append({"action": "recon.run", "data": report.to_journal_data(opened, closed)})
    journal.append_many(actor, items)
    return opened, closed
