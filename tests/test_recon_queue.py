"""Exception queue: pure planning rules, then persistence across real runs in a real journal."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.journal import Actor, Journal
from cockpit.recon.findings import Finding
from cockpit.recon.queue import CLOSE_REASON, exception_data, plan_exception_changes, record_run
from cockpit.recon.runner import run_reconciliation
from cockpit.runbook import ExceptionState, replay
from tests.test_recon_domain import FAKE_NAMES
from tests.test_recon_runner import dbs, load, write_plan  # noqa: F401 - fixture

CHANGED = Finding(layer="content", table="patients", kind="changed", keys=("8",), columns=("mrn",))
ORPHAN = Finding(layer="domain", table="ehr.attachments", kind="orphan", keys=("2",),
                 check="orphan_attachments")


def _state(f: Finding, status: str = "open", **kw) -> ExceptionState:
    return ExceptionState(f.id, f.layer, f.table, list(f.keys), f.kind, f.severity, f.category,
                          status, None, None, **kw)


def test_new_findings_open_and_gone_ones_close_only_where_checked() -> None:
    gone = Finding(layer="content", table="patients", kind="missing", keys=("9",))
    unseen = Finding(layer="content", table="allergies", kind="missing", keys=("1", "A1"))
    open_ = {f.id: _state(f) for f in (CHANGED, gone, unseen)}
    new, closed = plan_exception_changes(open_, [CHANGED, ORPHAN],
                                         checked={("content", "patients", None)})
    assert [f.id for f in new] == [ORPHAN.id]
    assert closed == [gone.id]  # allergies was not checked: its exception stays open


def test_domain_exceptions_close_per_check_or_per_fully_checked_table() -> None:
    as_dict = {**exception_data(ORPHAN), "status": "open"}
    assert as_dict["check"] == "orphan_attachments" and "id" not in as_dict
    assert plan_exception_changes({ORPHAN.id: as_dict}, [],
                                  checked={("domain", "ehr.attachments", "orphan_attachments")})[1] == [ORPHAN.id]
    # Replayed state has no check id: only a table whose every check completed closes it.
    state = {ORPHAN.id: _state(ORPHAN)}
    assert plan_exception_changes(state, [], checked={("domain", "ehr.attachments", "orphan_attachments")})[1] == []
    assert plan_exception_changes(state, [], checked={("domain", "ehr.attachments", None)})[1] == [ORPHAN.id]


def test_closed_exception_that_reproduces_is_opened_again() -> None:
    new, closed = plan_exception_changes({CHANGED.id: _state(CHANGED, "closed")}, [CHANGED],
                                         checked={("content", "patients", None)})
    assert [f.id for f in new] == [CHANGED.id] and closed == []


@dataclass
class _Report:
    findings: list
    checked: set

    def to_journal_data(self, opened=(), closed=()):
        return {"tables": {}, "mismatched_rows": 0, "failed_checks": 0, "layers": {},
                "duration_s": 0.0, "opened": list(opened), "closed": list(closed)}


async def test_exceptions_persist_across_runs_in_the_journal(dbs, tmp_path) -> None:  # noqa: F811
    cl, (src, dst) = dbs
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst)))
    actor = Actor.current("r.haddad")

    async def run_and_record():
        report = await run_reconciliation(plan)
        journal = Journal.open(plan.journal_path, cutover_id=plan.cutover.id)
        try:
            opened, closed = record_run(journal, actor, report, replay(plan, journal.entries),
                                        titles={"duplicate_mrn": "Two patients share one MRN"})
            return report, opened, closed, replay(plan, journal.entries), list(journal.entries)
        finally:
            journal.close()

    first, opened1, closed1, state1, entries1 = await run_and_record()
    assert sorted(opened1) == sorted(f.id for f in first.findings) and closed1 == []
    assert len(opened1) == len(first.findings) > 10
    assert {e.status for e in state1.exceptions.values()} == {"open"}
    dup = next(f for f in first.findings if f.check == "duplicate_mrn")
    assert state1.exceptions[dup.id].title == "Two patients share one MRN"
    assert state1.exceptions[dup.id].severity == "critical"
    assert entries1[-1].action == "recon.run" and entries1[-1].data["opened"] == opened1

    # Fix the duplicate MRN (content finding for patient 8 and the domain finding go away),
    # add a new orphan; everything else stays as it was.
    cl.execute("UPDATE ehr.patients SET mrn = 'MRN-0008' WHERE patient_id = 8;"
               "DELETE FROM ehr.documents WHERE document_id = 5", dbname=dst)
    second, opened2, closed2, state2, entries2 = await run_and_record()
    fixed = {f.id for f in first.findings} - {f.id for f in second.findings}
    added = {f.id for f in second.findings} - {f.id for f in first.findings}
    assert sorted(closed2) == sorted(fixed) and len(fixed) == 2
    assert sorted(opened2) == sorted(added) and len(added) == 4  # orphans 4, 14, 24; document 5 missing
    assert {state2.exceptions[i].status for i in fixed} == {"closed"}
    kept = {f.id for f in first.findings} & {f.id for f in second.findings}
    assert {state2.exceptions[i].status for i in kept} == {"open"}
    new_entries = entries2[len(entries1):]
    assert [e.data for e in new_entries if e.action == "exception.close"] == [{"reason": CLOSE_REASON}] * 2
    # Nothing reopened: kept exceptions got no second exception.open.
    assert not {e.subject for e in new_entries if e.action == "exception.open"} & kept
    run = new_entries[-1]
    assert run.action == "recon.run" and sorted(run.data["closed"]) == sorted(fixed)
    assert run.data["tables"]["patients"]["changed"] == 1
    text = plan.journal_path.read_text()
    for name in FAKE_NAMES:
        assert name not in text


def test_record_run_appends_in_order(tmp_path) -> None:
    journal = Journal.open(tmp_path / "j.jsonl", cutover_id="c1")
    try:
        report = _Report([CHANGED], set())
        opened, closed = record_run(journal, Actor.system(), report, replay_state({}))
        assert opened == [CHANGED.id] and closed == []
        assert [e.action for e in journal.entries] == ["exception.open", "recon.run"]
        assert journal.entries[0].data["keys"] == ["8"] and journal.entries[0].subject == CHANGED.id
    finally:
        journal.close()


def replay_state(exceptions):
    @dataclass
    class S:
        exceptions: dict

    return S(exceptions)
