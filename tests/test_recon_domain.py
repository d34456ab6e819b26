"""Domain checks on a real source/target pair: each clinical defect seeded once, found exactly.

The seed is shared with the runner and CLI tests (``seed_pair``); its patient names are fake
and distinctive so a test can prove they never leave the databases.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config.recon import DomainCheck, Reconciliation, ReconTable
from cockpit.recon import domain as domain_module
from cockpit.recon.domain import CheckError, run_check, sides_of
from cockpit.recon.findings import hash_key
from cockpit.recon.session import open_readonly, snapshot

FAKE_NAMES = ("Quillfeather", "Zebulon", "Marchbanks-Ostrowe", "Thaddeus")
SALT = "cutover-test"

_TABLES = """
CREATE TABLE {s}.patients (patient_id int PRIMARY KEY, mrn text, family_name text, given_name text,
                           dob date);
CREATE TABLE {s}.medication_orders (order_id int PRIMARY KEY, patient_id int, drug text,
                                    facility_id text, updated_at timestamptz);
CREATE TABLE {s}.allergies (patient_id int, allergen_code text, severity text,
                            PRIMARY KEY (patient_id, allergen_code));
CREATE TABLE {s}.documents (document_id int PRIMARY KEY, title text);
CREATE TABLE {s}.attachments (attachment_id int PRIMARY KEY, document_id int, filename text);
INSERT INTO {s}.patients
  SELECT i, 'MRN-' || lpad(i::text, 4, '0'),
         (ARRAY['Quillfeather','Marchbanks-Ostrowe','Smith'])[1 + i % 3],
         (ARRAY['Zebulon','Thaddeus','Ann'])[1 + i % 3], DATE '1950-01-01' + i * 300
  FROM generate_series(1, 20) i;
INSERT INTO {s}.medication_orders
  SELECT i, 1 + i % 20, 'drug for Quillfeather ' || i, 'FAC-' || i % 3, TIMESTAMPTZ '2026-11-01 00:00Z' + i * interval '1h'
  FROM generate_series(1, 100) i;
INSERT INTO {s}.allergies SELECT i, 'A' || j, 'mild' FROM generate_series(1, 20) i, generate_series(1, 2) j;
INSERT INTO {s}.documents SELECT i, 'Discharge letter Zebulon Quillfeather ' || i FROM generate_series(1, 10) i;
INSERT INTO {s}.attachments SELECT i, 1 + i % 10, 'scan-' || i || '.pdf' FROM generate_series(1, 30) i;
"""

# One of each defect, on the target only.
DEFECTS = """
UPDATE ehr.patients SET mrn = 'MRN-0007' WHERE patient_id = 8;             -- duplicate MRN: 7, 8
DELETE FROM ehr.documents WHERE document_id = 3;                          -- orphans: 2, 12, 22
DELETE FROM ehr.medication_orders WHERE order_id = 25;                    -- patient 6: 5 vs 4
UPDATE ehr.allergies SET severity = NULL WHERE patient_id = 3 AND allergen_code = 'A2';
UPDATE ehr.patients SET dob = DATE '2099-01-01' WHERE patient_id = 11;    -- custom check
"""

RECON_TABLES = [
    ReconTable(name="patients", source_table="public.patients", target_table="ehr.patients",
               key=["patient_id"]),
    ReconTable(name="medication_orders", source_table="public.medication_orders",
               target_table="ehr.medication_orders", key=["order_id"]),
    ReconTable(name="allergies", source_table="public.allergies", target_table="ehr.allergies",
               key=["patient_id", "allergen_code"]),
]

CHECKS = [
    DomainCheck(id="duplicate_mrn", check="duplicates", table="ehr.patients", columns=["mrn"],
                severity="critical", category="needs_clinical_approval"),
    DomainCheck(id="orphan_attachments", check="orphans", table="ehr.attachments",
                column="document_id", parent_table="ehr.documents", parent_key="document_id"),
    DomainCheck(id="allergy_required", check="required", table="ehr.allergies",
                columns=["severity", "allergen_code"]),
    DomainCheck(id="meds_per_patient", check="per_parent_count", table="medication_orders",
                parent_key="patient_id", severity="critical", category="needs_clinical_approval"),
    DomainCheck(id="future_dob", check="sql", table="ehr.patients", keys=["patient_id"],
                sql="SELECT patient_id FROM ehr.patients WHERE dob > DATE '2030-01-01';"),
]

# (check id, kind, keys) exactly as the seeded defects should come back.
EXPECTED = {
    ("duplicate_mrn", "duplicate", ("7", "8")),
    ("orphan_attachments", "orphan", ("2",)),
    ("orphan_attachments", "orphan", ("12",)),
    ("orphan_attachments", "orphan", ("22",)),
    ("allergy_required", "required_null", ("3", "A2")),
    ("meds_per_patient", "count_mismatch", ("6",)),
    ("future_dob", "offending_row", ("11",)),
}


def seed_pair(cluster, src_db: str, dst_db: str, *, defects: bool = True) -> None:
    cluster.execute(_TABLES.format(s="public"), dbname=src_db)
    cluster.execute("CREATE SCHEMA ehr;" + _TABLES.format(s="ehr"), dbname=dst_db)
    if defects:
        cluster.execute(DEFECTS, dbname=dst_db)


@pytest.fixture
def pair(pg_shared):
    names = [pg_shared.create_database(), pg_shared.create_database()]
    seed_pair(pg_shared, *names)
    yield pg_shared, names
    for n in names:
        pg_shared.drop_database(n)


def recon_for(checks, tables=RECON_TABLES, **kw) -> Reconciliation:
    return Reconciliation(source="legacy", target="cloud", tables=tables, domain=checks, **kw)


async def _run(pair, check, recon=None, timeout=10.0):
    cl, (src, dst) = pair
    recon = recon or recon_for([check])
    conns = {"source": await open_readonly(cl.dsn(src), statement_timeout_s=timeout),
             "target": await open_readonly(cl.dsn(dst), statement_timeout_s=timeout)}
    try:
        async with snapshot(conns["source"]), snapshot(conns["target"]):
            return await run_check(check, {s: conns[s] for s in sides_of(check)}, recon, SALT)
    finally:
        for c in conns.values():
            await c.close()


async def test_every_seeded_defect_found_exactly(pair) -> None:
    got = set()
    for check in CHECKS:
        res = await _run(pair, check)
        assert not res.truncated
        for f in res.findings:
            assert f.layer == "domain" and f.check == check.id
            assert f.severity == check.severity and f.category == check.category
            got.add((f.check, f.kind, f.keys))
    assert got == EXPECTED


async def test_duplicate_value_shown_only_as_hash(pair) -> None:
    (f,) = (await _run(pair, CHECKS[0])).findings
    assert f.table == "ehr.patients" and f.columns == ("mrn",)
    assert "MRN-0007" not in repr(f.to_json())
    assert hash_key("MRN-0007", SALT) in f.detail and f.detail.startswith("2 rows share one mrn value")


async def test_per_parent_count_detail_and_identifying_keys_hashed(pair) -> None:
    (f,) = (await _run(pair, CHECKS[3])).findings
    assert f.detail == "source 5, target 4" and f.columns == ("patient_id",)
    tables = [t.model_copy(update={"identifying_key": True}) if t.name == "patients" else t
              for t in RECON_TABLES]
    (f,) = (await _run(pair, CHECKS[3], recon_for([CHECKS[3]], tables))).findings
    assert f.keys == (hash_key("6", SALT),)


async def test_side_both_merges_findings_seen_on_both_sides(pair) -> None:
    cl, (src, _dst) = pair
    cl.execute("DELETE FROM documents WHERE document_id = 3", dbname=src)
    check = CHECKS[1].model_copy(update={"side": "both", "table": "attachments",
                                         "parent_table": "documents"})
    cl.execute("CREATE VIEW attachments AS SELECT * FROM ehr.attachments;"
               "CREATE VIEW documents AS SELECT * FROM ehr.documents", dbname=pair[1][1])
    res = await _run(pair, check.model_copy(update={"key": ["attachment_id"]}))
    assert {(f.keys, f.detail.rsplit("(", 1)[1]) for f in res.findings} == {
        (("2",), "on source and target)"), (("12",), "on source and target)"),
        (("22",), "on source and target)")}


async def test_table_without_key_is_an_error_not_a_pass(pair) -> None:
    cl, (_src, dst) = pair
    cl.execute("CREATE TABLE ehr.notes (patient_id int, body text)", dbname=dst)
    check = DomainCheck(id="dups", check="duplicates", table="ehr.notes", columns=["patient_id"])
    with pytest.raises(CheckError, match="no primary key"):
        await _run(pair, check)
    with pytest.raises(CheckError, match="no table ehr.nope on the target"):
        await _run(pair, check.model_copy(update={"table": "ehr.nope"}))


async def test_cap_marks_result_truncated(pair, monkeypatch) -> None:
    from cockpit.recon import domain

    monkeypatch.setattr(domain, "MAX_FINDINGS_PER_CHECK", 2)
    res = await _run(pair, CHECKS[1])
    assert res.truncated and len(res.findings) == 2


# -- sql checks: only declared keys leave the database ---------------------------------------

NAMES_SQL = ("SELECT patient_id, given_name, family_name, mrn FROM ehr.patients "
             "WHERE dob > DATE '2030-01-01' OR patient_id IN (1, 2)")


async def test_sql_check_shows_only_its_declared_keys(pair) -> None:
    check = DomainCheck(id="names", check="sql", table="ehr.patients", sql=NAMES_SQL,
                        keys=["patient_id"])
    res = await _run(pair, check)
    assert {f.keys for f in res.findings} == {("1",), ("2",), ("11",)}
    text = repr([f.to_json() for f in res.findings])
    for value in (*FAKE_NAMES, "Smith", "Ann", "MRN-0001", "MRN-0011"):
        assert value not in text
    assert all(f.columns == ("patient_id", "given_name", "family_name", "mrn") for f in res.findings)
    assert all(f.detail == "returned by the check's query (3 row(s) in all)" for f in res.findings)
    assert res.rows_transferred == 3


async def test_sql_check_keys_of_identifying_tables_are_hashed(pair) -> None:
    check = DomainCheck(id="names", check="sql", table="ehr.patients", sql=NAMES_SQL,
                        keys=["mrn"], identifying_key=True)
    res = await _run(pair, check)
    assert {f.keys for f in res.findings} == {(hash_key(f"MRN-{i:04d}", SALT),) for i in (1, 2, 11)}
    tables = [t.model_copy(update={"identifying_key": True}) if t.name == "patients" else t
              for t in RECON_TABLES]
    plain = check.model_copy(update={"identifying_key": False, "keys": ["patient_id"]})
    res = await _run(pair, plain, recon_for([plain], tables))
    assert {f.keys for f in res.findings} == {(hash_key(str(i), SALT),) for i in (1, 2, 11)}


async def test_sql_check_declared_key_not_returned_is_an_error(pair) -> None:
    check = DomainCheck(id="names", check="sql", table="ehr.patients", sql=NAMES_SQL,
                        keys=["patient_id", "encounter_id"])
    with pytest.raises(CheckError, match="declared key column.s. encounter_id not returned"):
        await _run(pair, check)


async def test_sql_check_without_keys_is_counted_only(pair) -> None:
    check = DomainCheck(id="names", check="sql", table="ehr.patients", sql=NAMES_SQL)
    (f,) = (await _run(pair, check)).findings
    assert f.keys == () and f.detail == "3 row(s) returned by the check's query (no keys declared)"
    empty = check.model_copy(update={"sql": "SELECT * FROM ehr.patients WHERE false"})
    assert (await _run(pair, empty)).findings == []


def test_keys_belong_to_sql_checks_only() -> None:
    with pytest.raises(ValueError, match="'keys' names a sql check's result columns"):
        DomainCheck(id="d", check="duplicates", table="t", columns=["mrn"], keys=["id"])
    with pytest.raises(ValueError, match="lists a column twice"):
        DomainCheck(id="d", check="sql", sql="SELECT 1 AS id", keys=["id", "id"])


# -- per_parent_count: compared in the databases ---------------------------------------------

PPC = DomainCheck(id="enc_per_patient", check="per_parent_count", table="enc",
                  parent_key="patient_id")
PPC_RECON = Reconciliation(source="a", target="b", domain=[PPC])


async def _ppc(pair_dbs, check=PPC, recon=PPC_RECON):
    cl, (src, dst) = pair_dbs
    conns = {"source": await open_readonly(cl.dsn(src), statement_timeout_s=30),
             "target": await open_readonly(cl.dsn(dst), statement_timeout_s=30)}
    try:
        async with snapshot(conns["source"]), snapshot(conns["target"]):
            return await run_check(check, conns, recon, SALT)
    finally:
        for c in conns.values():
            await c.close()


async def test_per_parent_count_transfers_buckets_not_parents(pair) -> None:
    cl, (src, dst) = pair
    for db in (src, dst):
        cl.execute("CREATE TABLE enc (id int PRIMARY KEY, patient_id int);"
                   "INSERT INTO enc SELECT g, 1 + g % 15000 FROM generate_series(1, 20000) g;"
                   "ANALYZE enc", dbname=db)
    assert (await _ppc(pair)).findings == []
    cl.execute("UPDATE enc SET patient_id = 77 WHERE id = 4000", dbname=dst)  # was 4001
    res = await _ppc(pair)
    assert {(f.keys, f.detail) for f in res.findings} == {
        (("4001",), "source 2, target 1"), (("77",), "source 2, target 3")}
    # 100 bucket sums per side, then the parents of two buckets: not 15,000 parents a side.
    assert res.rows_transferred < 2 * (100 + 2 * 200), res.rows_transferred


PARENTS = st.one_of(st.none(), st.integers(1, 12))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(children=st.lists(PARENTS, max_size=40),
       edits=st.lists(st.tuples(st.sampled_from(["move", "delete", "add"]), st.integers(0, 99),
                                PARENTS), max_size=6),
       per_bucket=st.sampled_from([1, 3, 200]), batch=st.sampled_from([1, 4, 50_000]))
def test_per_parent_count_finds_exactly_the_parents_that_differ(pair, monkeypatch, children,
                                                                 edits, per_bucket, batch):
    from cockpit.recon import segments

    monkeypatch.setattr(segments, "ROWS_PER_BUCKET", per_bucket)
    monkeypatch.setattr(domain_module, "PARENT_BATCH", batch)
    target = list(children)
    for op, i, parent in edits:
        if op == "add" or not target:
            target.append(parent)
        elif op == "move":
            target[i % len(target)] = parent
        else:
            del target[i % len(target)]
    cl, (src, dst) = pair
    for db, rows in ((src, children), (dst, target)):
        cl.execute("DROP TABLE IF EXISTS enc; CREATE TABLE enc (id int, patient_id int)", dbname=db)
        if rows:
            cl.execute("INSERT INTO enc SELECT i, p FROM unnest(%s::int[]) WITH ORDINALITY u(p, i)",
                       (rows,), dbname=db)
    res = asyncio.run(_ppc(pair))

    def counts(rows):
        out: dict = {}
        for p in rows:
            out[p] = out.get(p, 0) + 1
        return out

    a, b = counts(children), counts(target)
    want = {(("(null)" if p is None else str(p),), f"source {a.get(p, 0)}, target {b.get(p, 0)}")
            for p in a.keys() | b.keys() if a.get(p, 0) != b.get(p, 0)}
    assert {(f.keys, f.detail) for f in res.findings} == want
