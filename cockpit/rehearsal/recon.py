"""The scripted reconciliation ``R`` runs in a rehearsal, in place of ``run_reconciliation``.

It takes scripted time on the rehearsal clock (``ReconScript.duration`` of scenario time,
shared among its units, with a progress call after each) and returns a ``ReconReport`` of
the same shape a real run gives: the plan's tables and domain checks (or the scenario's
tables when the plan has none), every unit measured, and the findings of the
``recon_mismatch`` faults acting at scenario time ``t`` when the run started. So
``cockpit.recon.queue.record_run`` opens an exception per new finding and closes those no
longer found, and the panel, the findings and the triage queue work as on a real night.

Findings carry synthetic keys only (``SIM-<fault id>-<n>``), never a value from anywhere; their
``detail`` says they are simulated.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.clock import Clock
from cockpit.config.plan import Plan
from cockpit.recon import evidence
from cockpit.recon.domain import table_label
from cockpit.recon.findings import Finding
from cockpit.recon.queue import suggest_category
from cockpit.recon.runner import (
    STORAGE_SCOPE,
    LayerSummary,
    ReconInputError,
    ReconReport,
    RunProgress,
    TableSummary,
    UnitResult,
)
from cockpit.rehearsal.scenario import ReconMismatch, Scenario, recon_tables
from cockpit.text import clean

ProgressFn = Callable[[RunProgress], None]
DEFAULT_ROWS = 10_000
TABLE_LAYERS = ("schema", "counts", "content")


def scripted_findings(plan: Plan, scenario: Scenario, t: float) -> list[Finding]:
    """The findings the scenario scripts at scenario time ``t`` (pure)."""
    recon = plan.reconciliation
    tables = {tb.name: tb for tb in recon.tables} if recon is not None else {}
    checks = {c.id: c for c in recon.domain} if recon is not None else {}
    note = f"simulated by rehearsal scenario {scenario.name}"
    out: list[Finding] = []
    for fault in scenario.faults:
        if not isinstance(fault, ReconMismatch) or not fault.active(t):
            continue
        n = 0
        for sf in fault.findings:
            for _ in range(sf.count):
                n += 1
                keys = (f"SIM-{fault.id}-{n:04d}",)
                if sf.check is not None:
                    c = checks.get(sf.check)
                    if c is None:
                        continue
                    out.append(Finding(layer="domain", table=table_label(c), kind=c.check,
                                       keys=keys, columns=tuple(sf.columns or c.columns),
                                       severity=c.severity, category=c.category, check=c.id,
                                       detail=note))
                else:
                    assert sf.table is not None
                    tb = tables.get(sf.table)
                    severity = getattr(tb.severity, sf.kind) if tb is not None else "major"
                    out.append(suggest_category(Finding(
                        layer="content", table=sf.table, kind=sf.kind, keys=keys,
                        columns=tuple(sf.columns), severity=severity, detail=note)))
    return out


async def simulate_reconciliation(plan: Plan, scenario: Scenario, clock: Clock, *,
                                  progress: ProgressFn | None = None, cancel=None,
                                  t: float = 0.0) -> ReconReport:
    """A scripted run started at scenario time ``t``; ``cancel`` (an event, ``is_set()``)
    stops it between units: what was not measured stays unchecked, as in a real run."""
    script = scenario.reconciliation
    if script is None:
        raise ReconInputError(f"rehearsal scenario {clean(scenario.name, 64)} scripts no reconciliation")
    recon = plan.reconciliation
    names = recon_tables(scenario, plan)
    checks = list(recon.domain) if recon is not None else []
    storage = recon.storage if recon is not None else None
    findings = scripted_findings(plan, scenario, t)
    report = ReconReport(layers={name: LayerSummary() for name in evidence.LAYERS},
                         simulated={"scenario": scenario.name, "t_s": round(t, 3)})
    units: list[tuple[str, str, str | None]] = [(layer, name, None) for name in names
                                                for layer in TABLE_LAYERS]
    units += [("domain", table_label(c), c.id) for c in checks]
    if storage is not None:
        units.append(("storage", clean(storage.manifest, 200, single_line=True), None))
    if not units:
        raise ReconInputError("nothing to reconcile: no tables in the plan or the scenario")
    for name in names:
        report.tables[name] = TableSummary()
    share = script.duration / len(units)
    started = clock.monotonic()
    rows_total = sum(_rows(scenario, n) for n in names)
    rows_done = 0
    for done, (layer, table, check) in enumerate(units):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        await clock.sleep(share)
        found = [f for f in findings if f.layer == layer and f.table == table
                 and (check is None or f.check == check)]
        _measure(report, scenario, layer, table, check, found, findings)
        if layer == "content":
            rows_done += _rows(scenario, table)
        if progress is not None:
            progress(RunProgress(done + 1, len(units), rows_done, rows_total or None,
                                 clock.monotonic() - started, check or table))
    labels = {table_label(c) for c in checks}
    for label in labels:
        if all(("domain", label, c.id) in report.checked for c in checks if table_label(c) == label):
            report.checked.add(("domain", label, None))
    report.failed_checks = sum(1 for u in report.units.values() if u.failed or u.error)
    if not report.cancelled and names:
        report.mismatched_rows = sum((s.missing or 0) + (s.extra or 0) + (s.changed or 0)
                                     for s in report.tables.values())
    report.findings.sort(key=lambda f: (evidence.LAYERS.index(f.layer), f.table, f.check or "",
                                        f.kind, f.keys))
    report.duration_s = clock.monotonic() - started
    return report


def _rows(scenario: Scenario, table: str) -> int:
    script = scenario.reconciliation
    rows = script.tables.get(table) if script is not None else None
    return rows.rows if rows is not None else DEFAULT_ROWS


def _measure(report: ReconReport, scenario: Scenario, layer: str, table: str, check: str | None,
             found: list[Finding], every: list[Finding]) -> None:
    report.findings.extend(found)
    report.layers[layer].checks += 1
    report.layers[layer].findings += len(found)
    uid = evidence.unit_id(layer, table, check)
    if layer in TABLE_LAYERS:
        summary = report.tables[table]
        rows = _rows(scenario, table)
        # The row counts as the table's scripted content findings leave them.
        content = [f for f in every if f.layer == "content" and f.table == table]
        missing = sum(1 for f in content if f.kind == "missing")
        extra = sum(1 for f in content if f.kind == "extra")
        target = max(0, rows - missing + extra)
        values: dict = {}
        if layer == "counts":
            values = {"source_rows": rows, "target_rows": target}
            summary.source_rows, summary.target_rows = rows, target
        if layer == "content":
            changed = sum(1 for f in content if f.kind == "changed")
            summary.missing, summary.extra, summary.changed = missing, extra, changed
            summary.source_rows, summary.target_rows = rows, target
            values = {"missing": missing, "extra": extra, "changed": changed,
                      "source_rows": rows, "target_rows": target}
            report.rows_transferred += rows
        report.units[uid] = UnitResult(layer, table, None, findings=len(found), values=values)
        report.checked.add((layer, table, None))
    elif layer == "domain":
        report.units[uid] = UnitResult("domain", table, check, failed=bool(found), findings=len(found))
        report.checked.add(("domain", table, check))
    else:
        report.units[uid] = UnitResult("storage", table, None)
        report.checked.add((STORAGE_SCOPE, table, None))
