"""The runner over a real source/target pair: all layers, failures isolated, bounds kept.

``write_plan`` is shared with the CLI and queue tests: a real plan file the real loader reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

import pytest
import yaml

from cockpit.config import load_plan
from cockpit.recon.runner import ReconInputError, run_reconciliation
from tests.fixtures.pg import free_port
from tests.test_recon_domain import FAKE_NAMES, seed_pair

BASE_PLAN = yaml.safe_load((Path(__file__).parent / "plans" / "valid_minimal.yaml").read_text())

DOMAIN = [
    {"id": "duplicate_mrn", "check": "duplicates", "table": "ehr.patients", "columns": ["mrn"],
     "severity": "critical", "category": "needs_clinical_approval", "title": "Two patients share one MRN"},
    {"id": "orphan_attachments", "check": "orphans", "table": "ehr.attachments", "column": "document_id",
     "parent_table": "ehr.documents", "parent_key": "document_id"},
    {"id": "allergy_required", "check": "required", "table": "ehr.allergies", "columns": ["severity"]},
    {"id": "meds_per_patient", "check": "per_parent_count", "table": "medication_orders",
     "parent_key": "patient_id", "severity": "critical"},
    {"id": "future_dob", "check": "sql", "table": "ehr.patients", "keys": ["patient_id"],
     "sql": "SELECT patient_id FROM ehr.patients WHERE dob > DATE '2030-01-01'"},
]
TABLES = [
    {"name": "patients", "source_table": "public.patients", "target_table": "ehr.patients",
     "key": ["patient_id"]},
    {"name": "medication_orders", "source_table": "public.medication_orders",
     "target_table": "ehr.medication_orders", "key": ["order_id"], "group_by": "facility_id"},
    {"name": "allergies", "source_table": "public.allergies", "target_table": "ehr.allergies",
     "key": ["patient_id", "allergen_code"]},
    {"name": "documents", "source_table": "public.documents", "target_table": "ehr.documents",
     "key": ["document_id"], "severity": {"count": "critical"}},
]


def write_plan(tmp_path: Path, src_dsn: str, dst_dsn: str, **recon) -> Path:
    plan = dict(BASE_PLAN)
    plan["sources"] = {**plan["sources"],
                       "legacy": {"type": "postgres", "dsn": src_dsn, "connect_timeout": "2s"},
                       "cloud": {"type": "postgres", "dsn": dst_dsn, "connect_timeout": "2s"}}
    section = {"source": "legacy", "target": "cloud", "statement_timeout": "10s",
               "tables": TABLES, "domain": DOMAIN}
    section.update(recon)
    plan["reconciliation"] = section
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def load(path: Path, env: dict | None = None):
    plan, _warnings = load_plan(path, for_run=True, env=env or {})
    return plan


@pytest.fixture
def dbs(pg_shared):
    names = [pg_shared.create_database(), pg_shared.create_database()]
    seed_pair(pg_shared, *names)
    yield pg_shared, names
    for n in names:
        pg_shared.drop_database(n)


def exports(tmp_path: Path) -> None:
    d = tmp_path / "exports"
    d.mkdir()
    files = {"patients.csv": b"1,x\n", "orders.csv": b"2,y\n", "docs.csv": b"3,z\n"}
    lines = [f"{hashlib.sha256(v).hexdigest()}  {k}" for k, v in files.items()]
    (d / "manifest.sha256").write_text("\n".join(lines) + "\n")
    (d / "patients.csv").write_bytes(files["patients.csv"])
    (d / "orders.csv").write_bytes(b"2,Y\n")            # modified
    (d / "stray.csv").write_bytes(b"")                   # extra; docs.csv missing


NO_CONTENT = ["storage", "schema", "counts", "domain"]

EXPECTED = {
    ("storage", "exports/manifest.sha256", "file_missing", ("docs.csv",)),
    ("storage", "exports/manifest.sha256", "file_modified", ("orders.csv",)),
    ("storage", "exports/manifest.sha256", "file_extra", ("stray.csv",)),
    ("counts", "medication_orders", "count_mismatch", ()),
    ("counts", "medication_orders", "group_count_mismatch", ("FAC-1",)),
    ("counts", "documents", "count_mismatch", ()),
    ("domain", "ehr.patients", "duplicate", ("7", "8")),
    ("domain", "ehr.attachments", "orphan", ("2",)),
    ("domain", "ehr.attachments", "orphan", ("12",)),
    ("domain", "ehr.attachments", "orphan", ("22",)),
    ("domain", "ehr.allergies", "required_null", ("3", "A2")),
    ("domain", "medication_orders", "count_mismatch", ("6",)),
    ("domain", "ehr.patients", "offending_row", ("11",)),
}


def _got(report) -> set:
    return {(f.layer, f.table, f.kind, f.keys) for f in report.findings}


async def test_all_layers_find_exactly_the_seeded_differences(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    exports(tmp_path)
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst),
                           storage={"manifest": "exports/manifest.sha256", "dir": "exports"}))
    report = await run_reconciliation(plan, layers=NO_CONTENT)
    got = _got(report)
    assert {g for g in got if g[2] != "group_count_mismatch"} == {e for e in EXPECTED if e[2] != "group_count_mismatch"}
    assert ("counts", "medication_orders", "group_count_mismatch", ("FAC-1",)) in got
    assert sum(1 for g in got if g[2] == "group_count_mismatch") == 1
    docs = next(f for f in report.findings if f.table == "documents")
    assert docs.detail == "source 10, target 9" and docs.severity == "critical"
    assert report.tables["medication_orders"].to_json() == {
        "missing": None, "extra": None, "changed": None, "source_rows": 100, "target_rows": 99, "error": None}
    assert report.mismatched_rows is None  # content not run: not measured, never 0
    assert report.failed_checks == 6  # 5 domain checks with offenders + storage
    assert report.layers["domain"].to_json() == {"checks": 5, "findings": 7, "errors": 0}
    assert ("schema", "patients", None) in report.checked
    assert ("domain", "ehr.patients", None) in report.checked
    assert report.queries > 10 and report.duration_s > 0 and not report.clean
    text = repr(report.to_json())
    for name in FAKE_NAMES:
        assert name not in text


async def test_clean_pair_is_clean(pg_shared, tmp_path) -> None:
    names = [pg_shared.create_database(), pg_shared.create_database()]
    try:
        seed_pair(pg_shared, *names, defects=False)
        plan = load(write_plan(tmp_path, pg_shared.dsn(names[0]), pg_shared.dsn(names[1])))
        report = await run_reconciliation(plan, layers=["schema", "counts", "domain"])
        assert report.findings == [] and report.clean and report.failed_checks == 0
    finally:
        for n in names:
            pg_shared.drop_database(n)


async def test_missing_table_schema_findings_and_timeout_leave_others_going(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    cl.execute("CREATE TABLE encounters (encounter_id int PRIMARY KEY, facility_id text)", dbname=src)
    cl.execute("ALTER TABLE ehr.patients ADD COLUMN created_at timestamptz;"
               "ALTER TABLE ehr.patients RENAME COLUMN given_name TO first_name;"
               "ALTER TABLE ehr.allergies ALTER COLUMN severity TYPE varchar(4)", dbname=dst)
    tables = [*TABLES, {"name": "encounters", "key": ["encounter_id"]}]
    tables[0] = {**tables[0], "rename": {"given_name": "first_name"}}
    domain = [*DOMAIN, {"id": "slow", "check": "sql", "table": "ehr.patients",
                        "sql": "SELECT patient_id FROM ehr.patients WHERE pg_sleep(5) IS NULL"}]
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst), tables=tables, domain=domain,
                           statement_timeout="500ms"))
    started = time.monotonic()
    report = await run_reconciliation(plan, layers=["schema", "domain"])
    assert time.monotonic() - started < 4.5  # the sleeping query was cancelled by the server
    got = _got(report)
    assert got == {
        ("schema", "patients", "column_extra", ("created_at",)),
        ("schema", "allergies", "type_mismatch", ("severity",)),
        ("schema", "encounters", "table_missing", ()),
        ("domain", "ehr.patients", "error", ()),
        *{e for e in EXPECTED if e[0] == "domain"},
    }
    err = next(f for f in report.findings if f.kind == "error")
    assert err.check == "slow" and "timed out after 0.5s" in err.detail
    assert report.tables["encounters"].error == "no such table on the target"
    # A domain table with one failed check is not fully checked: its exceptions stay open.
    assert ("domain", "ehr.patients", "slow") not in report.checked
    assert ("domain", "ehr.patients", None) not in report.checked
    assert ("domain", "ehr.patients", "duplicate_mrn") in report.checked
    assert ("schema", "encounters", None) not in report.checked


async def test_unreachable_database_is_an_error_for_every_unit(dbs, tmp_path) -> None:
    cl, (src, _dst) = dbs
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=postgres password=${{RECON_PW}}"
    plan = load(write_plan(tmp_path, cl.dsn(src), dead), {"RECON_PW": "s3cretpw"})
    report = await run_reconciliation(plan, layers=["counts", "domain"])
    assert {f.kind for f in report.findings} == {"error"}
    assert len(report.findings) == len(TABLES) + len(DOMAIN)
    assert all("target database: cannot connect" in f.detail for f in report.findings)
    assert "s3cretpw" not in repr(report.to_json())
    assert report.checked == set() and not report.clean
    assert all(t.error for t in report.tables.values())


async def test_at_most_max_concurrent_sessions_per_database(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    slow = [{"id": f"slow{i}", "check": "sql", "table": "ehr.patients",
             "sql": "SELECT x AS patient_id FROM (SELECT 1 AS x, pg_sleep(0.3) AS s) q WHERE s IS NULL"} for i in range(5)]
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst), domain=slow, max_concurrent=2))
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            n = cl.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                          "AND application_name = 'cutover-cockpit-recon'", (dst,))
            peak[0] = max(peak[0], n)
            stop.wait(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        started = time.monotonic()
        report = await run_reconciliation(plan, layers=["domain"])
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        watcher.join()
    assert report.findings == [], report.findings
    assert peak[0] == 2, (peak, elapsed)
    assert elapsed >= 0.9  # five 0.3 s queries, two at a time: at least three rounds


async def test_selection_and_bad_names(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst)))
    report = await run_reconciliation(plan, tables=["medication_orders"], layers=["counts", "domain"])
    assert set(report.tables) == {"medication_orders"}
    assert {f.check for f in report.findings if f.layer == "domain"} == {"meds_per_patient"}
    assert report.partial
    with pytest.raises(ReconInputError, match="valid tables: patients, medication_orders"):
        await run_reconciliation(plan, tables=["nope"])
    with pytest.raises(ReconInputError, match="valid layers: storage, schema"):
        await run_reconciliation(plan, layers=["contents"])


async def test_cancel_before_start_checks_nothing(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst)))
    cancel = asyncio.Event()
    cancel.set()
    report = await run_reconciliation(plan, layers=["counts", "domain"], cancel=cancel)
    assert report.cancelled and report.checked == set() and not report.clean


async def test_content_layer_in_the_run_gives_mismatched_rows(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    tables = [{**t, "severity": {"missing": "critical", "changed": "critical"}} if t["name"] == "patients" else t
              for t in TABLES]
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst), tables=tables))
    seen = []
    report = await run_reconciliation(plan, progress=seen.append)
    content = {(f.table, f.kind, f.keys, f.columns, f.category) for f in report.findings if f.layer == "content"}
    assert content == {
        ("patients", "changed", ("8",), ("mrn",), "needs_clinical_approval"),
        ("patients", "changed", ("11",), ("dob",), "needs_clinical_approval"),
        ("medication_orders", "missing", ("25",), (), "needs_clinical_approval"),  # missing: critical by default
        ("allergies", "changed", ("3", "A2"), ("severity",), "manual_review"),  # changed: major by default
        ("documents", "missing", ("3",), (), "needs_clinical_approval"),
    }
    assert report.mismatched_rows == 5
    assert report.tables["patients"].to_json() == {
        "missing": 0, "extra": 0, "changed": 2, "source_rows": 20, "target_rows": 20, "error": None}
    assert seen[-1].units_done == seen[-1].units_total == len(TABLES) + len(DOMAIN)
    assert seen[-1].rows_total == seen[-1].rows_done == 170
    assert [p.units_done for p in seen] == sorted(p.units_done for p in seen)
    # Same run twice: same findings, same ids, same order.
    again = await run_reconciliation(plan)
    assert [f.id for f in again.findings] == [f.id for f in report.findings]


async def test_timed_out_table_filter_is_an_error_for_that_table_only(dbs, tmp_path) -> None:
    cl, (src, dst) = dbs
    tables = [{**TABLES[0], "where": "pg_sleep(0.2) IS NOT NULL"}, TABLES[3]]
    plan = load(write_plan(tmp_path, cl.dsn(src), cl.dsn(dst), tables=tables, statement_timeout="500ms"))
    report = await run_reconciliation(plan, layers=["counts"])
    assert _got(report) == {("counts", "patients", "error", ()), ("counts", "documents", "count_mismatch", ())}
    assert report.tables["patients"].error == "query timed out after 0.5s (statement_timeout)"
    assert report.tables["patients"].source_rows is None
    assert report.tables["documents"].to_json()["target_rows"] == 9
    assert report.checked == {("counts", "documents", None)}
    assert report.failed_checks == 1 and report.layers["counts"].to_json() == {"checks": 2, "findings": 1, "errors": 1}
