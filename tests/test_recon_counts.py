"""Counts layer on two real databases: totals, per-group counts and the plan's filters."""

from __future__ import annotations

import pytest

from cockpit.config.recon import ReconTable
from cockpit.recon.counts import compare_counts
from cockpit.recon.schema import Relation
from cockpit.recon.session import open_readonly, snapshot


@pytest.fixture
def pair(pg_shared):
    names = [pg_shared.create_database(), pg_shared.create_database()]
    yield pg_shared, names
    for n in names:
        pg_shared.drop_database(n)


SEED = """
CREATE TABLE encounters (encounter_id int PRIMARY KEY, facility_id text, at date);
INSERT INTO encounters SELECT i, CASE WHEN i % 3 = 0 THEN 'FAC-A' WHEN i % 3 = 1 THEN 'FAC-B' END,
    DATE '2026-01-01' + i FROM generate_series(1, 300) i;
"""


async def _run(cl, names, table, drop_sql=None):
    for n in names:
        cl.execute("DROP TABLE IF EXISTS encounters; " + SEED, dbname=n)
    if drop_sql:
        cl.execute(drop_sql, dbname=names[1])
    s = await open_readonly(cl.dsn(names[0]), statement_timeout_s=10)
    d = await open_readonly(cl.dsn(names[1]), statement_timeout_s=10)
    try:
        async with snapshot(s), snapshot(d):
            rel = Relation("public", "encounters")
            return await compare_counts(s, d, table, rel, rel)
    finally:
        await s.close()
        await d.close()


async def test_equal_counts_give_no_finding(pair) -> None:
    res = await _run(*pair, ReconTable(name="encounters", group_by="facility_id"))
    assert res.findings == [] and res.source_rows == res.target_rows == 300 and res.queries == 2


async def test_per_group_mismatch_names_the_group_only(pair) -> None:
    res = await _run(*pair, ReconTable(name="encounters", group_by="facility_id"),
                     "DELETE FROM encounters WHERE encounter_id IN (3, 6); "
                     "UPDATE encounters SET facility_id = NULL WHERE encounter_id = 4")
    got = {(f.kind, f.keys, f.detail) for f in res.findings}
    assert got == {
        ("count_mismatch", (), "source 300, target 298"),
        ("group_count_mismatch", ("FAC-A",), "facility_id=FAC-A: source 100, target 98"),
        ("group_count_mismatch", ("FAC-B",), "facility_id=FAC-B: source 100, target 99"),
        ("group_count_mismatch", ("(null)",), "facility_id=(null): source 100, target 101"),
    }


async def test_filters_apply_per_side(pair) -> None:
    # The target lacks rows the filter excludes anyway: no finding. The source-only filter
    # then removes one more row from the source side: a finding.
    table = ReconTable(name="encounters", where="at < DATE '2026-06-01' OR false")
    res = await _run(*pair, table, "DELETE FROM encounters WHERE at >= DATE '2026-06-01'")
    assert res.findings == [] and res.source_rows == 150
    table = ReconTable(name="encounters", where="at < DATE '2026-06-01'", source_where="encounter_id <> 1")
    res = await _run(*pair, table, "DELETE FROM encounters WHERE at >= DATE '2026-06-01'")
    assert [(f.kind, f.detail) for f in res.findings] == [("count_mismatch", "source 149, target 150")]
