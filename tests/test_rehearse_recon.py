"""The scripted reconciliation R runs in a rehearsal: scripted time on the rehearsal clock
with progress, a report of the shape a real run gives, and the recon_mismatch fault's
findings (synthetic keys only), which record_run journals as exceptions opened while the
fault acts and closed once it no longer reproduces."""

from __future__ import annotations

import asyncio
import re

import pytest

from cockpit.clock import ManualClock
from cockpit.journal import Actor
from cockpit.recon.queue import record_run, titles_from
from cockpit.recon.runner import ReconInputError
from cockpit.rehearsal.plan import load_rehearsal_plan
from cockpit.rehearsal.recon import simulate_reconciliation
from cockpit.rehearsal.running import Rehearsal
from cockpit.rehearsal.scenario import load_scenario
from cockpit.runbook import builtin_readings
from cockpit.session import open_session
from tests.scenario_support import SCENARIOS, plan_copy

ALL = ["legacy_db", "cloud_db", "prometheus", "helpdesk", "clinical_portal"]


def _setup(tmp_path, name="recon-mismatch.yaml"):
    plan, _ = load_rehearsal_plan(plan_copy(tmp_path), ALL, env={})
    return plan, load_scenario(SCENARIOS / name, plan).scenario


async def _drive(clock: ManualClock, coro, step: float = 1.0):
    task = asyncio.ensure_future(coro)
    while not task.done():
        await clock.advance(step)
    return task.result()


async def test_the_mismatch_opens_exceptions_while_it_acts_and_closes_them_after(tmp_path):
    plan, scenario = _setup(tmp_path)
    clock = ManualClock()
    session = open_session(plan, plan.journal_path, "m.okafor", clock=clock, sources={})
    system = Actor.system()
    titles = titles_from(plan.reconciliation)
    progress = []

    async def run_at(t):
        report = await _drive(clock, simulate_reconciliation(plan, scenario, clock, t=t,
                                                             progress=progress.append, cancel=None))
        opened, closed = record_run(session.journal, system, report, session.ops.state, titles=titles)
        return report, opened, closed

    try:
        report, opened, closed = await run_at(10 * 60)  # before the fault: clean
        assert report.clean and report.mismatched_rows == 0 and report.failed_checks == 0
        assert (opened, closed) == ([], [])
        # Scripted time on the rehearsal clock (3m), one progress call per unit.
        assert report.duration_s == pytest.approx(180, abs=0.01)
        units = len(report.units)
        assert units == 5 * 3 + 5 + 1  # tables x (schema, counts, content) + domain checks + storage
        assert [p.units_done for p in progress] == list(range(1, units + 1))
        assert progress[-1].units_total == units and progress[-1].rows_done == progress[-1].rows_total

        report, opened, closed = await run_at(30 * 60)  # the mismatch acts (20m .. 1h30m)
        kinds = sorted((f.layer, f.table, f.kind, f.severity, f.category) for f in report.findings)
        assert kinds == sorted(
            [("content", "medication_orders", "changed", "critical", "needs_clinical_approval")] * 3
            + [("content", "allergies", "missing", "critical", "needs_clinical_approval"),
               ("domain", "ehr.patients", "duplicates", "critical", "needs_clinical_approval")])
        assert all(len(f.keys) == 1 and re.fullmatch(r"SIM-mismatch-\d{4}", f.keys[0]) for f in report.findings)
        assert all("simulated" in f.detail for f in report.findings)
        assert report.mismatched_rows == 4 and report.failed_checks == 1
        assert report.tables["allergies"].target_rows == report.tables["allergies"].source_rows - 1
        assert sorted(opened) == sorted(f.id for f in report.findings) and closed == []
        state = session.ops.state
        assert {eid for eid, e in state.exceptions.items() if e.status == "open"} == set(opened)
        readings = builtin_readings(state, clock)
        assert readings["exceptions.open_critical"].value == 5
        assert readings["recon.mismatched_rows"].value == 4

        again, reopened, reclosed = await run_at(40 * 60)  # still there: nothing new, nothing closed
        assert (reopened, reclosed) == ([], []) and len(again.findings) == 5

        _, _, closed = await run_at(2 * 3600)  # gone: every one closes
        assert sorted(closed) == sorted(opened)
        readings = builtin_readings(session.ops.state, clock)
        assert readings["exceptions.open_critical"].value == 0
        assert readings["recon.mismatched_rows"].value == 0
        runs = [e for e in session.journal.entries if e.action == "recon.run"]
        assert len(runs) == 4 and all(e.actor.operator == "system" for e in runs)
    finally:
        session.close()


async def test_a_cancelled_scripted_run_checks_nothing_and_closes_nothing(tmp_path):
    plan, scenario = _setup(tmp_path)
    clock = ManualClock()
    cancel = asyncio.Event()
    cancel.set()
    report = await _drive(clock, simulate_reconciliation(plan, scenario, clock, t=30 * 60, cancel=cancel))
    assert report.cancelled and not report.checked and report.mismatched_rows is None
    assert not report.clean


async def test_a_scenario_without_a_reconciliation_says_so_in_one_line(tmp_path):
    plan, scenario = _setup(tmp_path, "lag-crisis-lab.yaml")
    clock = ManualClock()
    r = Rehearsal(scenario, "0" * 64, 10.0, clock, origin=clock.now())
    assert r.recon is None
    with pytest.raises(ReconInputError, match="scripts no reconciliation"):
        await r.reconcile(plan)


async def test_the_rehearsal_object_runs_the_script_at_the_current_scenario_time(tmp_path):
    plan, scenario = _setup(tmp_path)
    clock = ManualClock()
    r = Rehearsal(scenario, "0" * 64, 10.0, clock, origin=clock.now())
    await clock.advance(25 * 60)
    assert r.scenario_time() == 25 * 60
    assert [f.id for f in r.active_faults()] == ["mismatch"]
    report = await _drive(clock, r.reconcile(plan))
    assert len(report.findings) == 5
