"""Schema layer against two real databases: missing/extra columns, type changes, renames."""

from __future__ import annotations

import psycopg
import pytest

from cockpit.config.recon import ReconTable
from cockpit.recon.schema import (
    BadName,
    Relation,
    compare_schema,
    compatible,
    normal_type,
    primary_key_of,
    resolve_relation,
    split_name,
)


@pytest.fixture
def pair(pg_shared):
    names = [pg_shared.create_database(), pg_shared.create_database()]
    yield [(pg_shared, n) for n in names]
    for n in names:
        pg_shared.drop_database(n)


SRC = """
CREATE TABLE patients (patient_id int PRIMARY KEY, family_name varchar(80), dob text,
                       legacy_flag char(1), weight numeric(6,2), note varchar(40));
CREATE SCHEMA "Odd"; CREATE TABLE "Odd"."Mixed Case" (id int);
"""
DST = """
CREATE SCHEMA ehr;
CREATE TABLE ehr.patients (patient_id bigint PRIMARY KEY, surname text, dob date,
                           weight numeric(8,2), note varchar(20), created_at timestamptz);
"""


async def test_missing_extra_and_type_mismatch_with_rename(pair) -> None:
    (cl, src), (_, dst) = pair
    cl.execute(SRC, dbname=src)
    cl.execute(DST, dbname=dst)
    async with await psycopg.AsyncConnection.connect(cl.dsn(src)) as s, \
            await psycopg.AsyncConnection.connect(cl.dsn(dst)) as d:
        srel = await resolve_relation(s, "patients")
        drel = await resolve_relation(d, "ehr.patients")
        assert srel == Relation("public", "patients") and drel == Relation("ehr", "patients")
        assert await resolve_relation(d, "patients") is None
        assert await resolve_relation(s, '"Odd"."Mixed Case"') == Relation("Odd", "Mixed Case")
        assert await primary_key_of(s, srel) == ["patient_id"]
        table = ReconTable(name="patients", rename={"family_name": "surname"}, types={"dob": "date"})
        found = await compare_schema(s, d, table, srel, drel)
    got = {(f.kind, f.keys) for f in found}
    assert got == {
        ("column_missing", ("legacy_flag",)),   # not on target
        ("column_extra", ("created_at",)),      # not on source
        ("type_mismatch", ("note",)),           # varchar(40) -> varchar(20) narrows
    }
    note = next(f for f in found if f.kind == "type_mismatch")
    assert note.detail == "source character varying(40), target character varying(20)"
    assert all(f.layer == "schema" and f.table == "patients" and f.severity == "major" for f in found)


async def test_configured_type_must_match_exactly(pair) -> None:
    (cl, src), (_, dst) = pair
    cl.execute("CREATE TABLE t (id int, dob text)", dbname=src)
    cl.execute("CREATE TABLE t (id int, dob timestamp)", dbname=dst)
    async with await psycopg.AsyncConnection.connect(cl.dsn(src)) as s, \
            await psycopg.AsyncConnection.connect(cl.dsn(dst)) as d:
        rel = Relation("public", "t")
        table = ReconTable(name="t", types={"dob": "date"}, exclude=[], severity={"schema": "critical"})
        found = await compare_schema(s, d, table, rel, rel)
        assert [(f.kind, f.detail, f.severity) for f in found] == [
            ("type_mismatch", "source text, target timestamp without time zone, configured date", "critical")]
        ok = ReconTable(name="t", types={"dob": "timestamp"})
        assert await compare_schema(s, d, ok, rel, rel) == []
        only = ReconTable(name="t", columns=["id"], exclude=["dob"])
        assert await compare_schema(s, d, only, rel, rel) == []


def test_widening_is_compatible_narrowing_is_not() -> None:
    assert compatible("integer", "bigint") and not compatible("bigint", "integer")
    assert compatible("character varying(10)", "text") and compatible("character varying(10)", "varchar(12)")
    assert not compatible("text", "character varying(10)")
    assert compatible("numeric(6,2)", "numeric(8,2)") and compatible("numeric(6,2)", "numeric")
    assert not compatible("numeric(6,2)", "numeric(6,1)") and not compatible("numeric", "numeric(10,2)")
    assert not compatible("timestamp without time zone", "timestamp with time zone")
    assert normal_type("TIMESTAMPTZ") == "timestamp with time zone"
    assert normal_type("varchar( 10 )") == "character varying(10)"


def test_split_name() -> None:
    assert split_name("Public.Patients") == ("public", "patients")
    assert split_name('"A b"."x""y"') == ("A b", 'x"y')
    for bad in ("a.b.c", "a;drop", "", "a."):
        with pytest.raises(BadName):
            split_name(bad)
